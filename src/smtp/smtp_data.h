/* smtp_data: the message body decoders for DATA (RFC 5321 4.1.1.4, 4.5.2)
 * and BDAT (RFC 3030). Pure syntax: bytes in, message bytes out, no I/O.
 *
 * Input arrives in arbitrary pieces; the decoder keeps its state in
 * struct smtp_data and appends the decoded message to a capped struct buf
 * given by the caller at each call (the caller writes it out and empties it
 * as it likes: the decoder never looks at what is already in it).
 *
 * DATA: what ends the message, and what we store
 * - Only <CRLF>.<CRLF> ends the message. The data starts right after the
 *   354 reply, so the decoder starts "at the start of a line": a first
 *   line "." ends an empty message.
 * - A line that starts with "." after a CRLF (or at the very start) loses
 *   that dot (dot-unstuffing), whatever follows it: ".." stores ".",
 *   ".<LF>" stores an empty line (see bare LF below), ".<CR>x" stores
 *   "<CR>x".
 * - SMTP smuggling: a bare LF (not after a CR) or a bare CR (not before an
 *   LF) never takes part in ending the message, in any combination
 *   (<LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF>, <CR>.<CR>, <CRLF>.<CR>,
 *   <LF>.<CR>, with or without NUL bytes around): those bytes are content.
 *   A client that ends its data with a bare LF is never answered, and
 *   times out, like Postfix's smtpd_forbid_bare_newline.
 * - Stored form: a bare LF is stored as CRLF (LF-only clients still produce
 *   a proper message); a line that begins with "." after a bare LF is not an
 *   SMTP line, so it is NOT unstuffed and keeps its dot (the stored message
 *   may therefore contain a line "."; our SMTP client dot-stuffs on the way
 *   out, as it must anyway); a bare CR is kept as a data byte. NUL bytes
 *   are kept. The stored message is empty or ends with CRLF.
 * - The decoder consumes input only up to the end of the terminating
 *   ".<CRLF>" and says how much it consumed, so pipelined commands after
 *   it stay in the caller's input.
 *
 * BDAT: each chunk is exactly n bytes, no dot handling, no end marker. Bare
 * LF is stored as CRLF across chunk boundaries (a CR ending one chunk and
 * an LF starting the next are one CRLF), unless SMTP_DATA_BINARY is given
 * (BODY=BINARYMIME: bytes are stored untouched, and bare_lf, bare_cr and
 * longest_line are not computed). A CR at the very end of the LAST chunk
 * counts as a bare CR, and a last line without CRLF counts for
 * longest_line.
 *
 * Both: size is counted in stored (decoded) bytes. Once it exceeds the
 * caller's maximum, nothing more is appended to out but the input is still
 * consumed up to the end of the message (or chunk), so the session stays in
 * step and the server can answer 552 5.3.4 at the end; `too_big` says so,
 * and out has then received exactly the first max_size bytes of the
 * message (to be discarded), however the input was split. The report
 * fields (bare_lf, bare_cr, eightbit, nul, longest_line, size) describe the
 * whole message, also the part past the maximum. */
#ifndef POSTHORN_SMTP_SMTP_DATA_H
#define POSTHORN_SMTP_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum smtp_data_flags {
	/* BDAT only: no bare-LF normalisation (BODY=BINARYMIME). */
	SMTP_DATA_BINARY = 1 << 0,
};

struct smtp_data {
	/* --- results: valid at any time, final once done --- */
	uint64_t size;         /* stored bytes so far (saturates at UINT64_MAX) */
	bool too_big;          /* size went past max_size */
	bool bare_lf;          /* an LF without CR before it was seen (and stored as CRLF) */
	bool bare_cr;          /* a CR without LF after it was seen (and stored as is) */
	bool eightbit;         /* a byte >= 0x80 was seen */
	bool nul;              /* a NUL byte was seen */
	size_t longest_line;   /* longest stored line in octets, without its CRLF */
	bool done;             /* DATA: end marker consumed; BDAT: LAST chunk consumed */

	/* --- private --- */
	uint64_t max_size;
	unsigned flags;
	bool bdat;
	int state;
	size_t line_len;
	uint64_t chunk_left;   /* BDAT: bytes of the current chunk still to read */
	bool chunk_last;       /* BDAT: the current chunk is the LAST one */
};

/* Prepares d for one DATA message. max_size is the most octets to store
 * (UINT64_MAX: no limit but out's own). */
void smtp_data_init(struct smtp_data *d, uint64_t max_size);

/* Prepares d for one message sent with BDAT chunks (flags:
 * SMTP_DATA_BINARY or 0). Then call smtp_data_bdat_chunk() for each BDAT
 * command. */
void smtp_data_bdat_init(struct smtp_data *d, uint64_t max_size, unsigned flags);
/* Starts the next chunk of size octets (LAST when last). The previous chunk
 * must have been read completely (smtp_data_parse returned 1), and no chunk
 * may follow a LAST one. */
void smtp_data_bdat_chunk(struct smtp_data *d, uint64_t size, bool last);

/* Decodes up to len bytes of in, appending the message to out, and sets
 * *consumed_r to the number of bytes of in it used. Returns
 *   1  DATA: the terminating ".<CRLF>" was consumed, d->done is set;
 *      BDAT: the current chunk is complete (d->done if it was LAST);
 *      the bytes of in after *consumed_r are not part of the message;
 *   0  all of in was consumed and more is needed, or out is full (then
 *      *consumed_r < len: empty out, and call again with the rest).
 * It never fails: every byte sequence is a valid message body. out must
 * have room for at least 2 more bytes whenever it is empty (its max >= 2).
 * Must not be called once d->done is set. */
int smtp_data_parse(struct smtp_data *d, const void *in, size_t len, size_t *consumed_r, struct buf *out);

#endif
