/* smtp_data: DATA and BDAT body decoding (see smtp_data.h for the contract
 * and the stored-form policy).
 *
 * One byte-level state machine serves both. DATA uses all five states;
 * BDAT only TEXT and CR, since it has no dots and no end marker. A CR is
 * stored as soon as it is read ("eager CR"), and an LF that follows it just
 * completes the line end; so nothing is ever held back except in the DOT_CR
 * state, where ".<CR>" at the start of a line may be the end marker and the
 * CR must not be stored if an LF follows. That keeps the end of a BDAT
 * message free of pending output. Runs of ordinary bytes are appended in
 * one go. Before each step the decoder makes sure out has room for the
 * most a step can store (2 bytes: a bare LF becomes CRLF), so an append
 * can never fail and a full out only pauses the decoder. */
#include "smtp/smtp_data.h"

#include <string.h>

#include "util/log.h"

enum {
	ST_BOL,    /* DATA: at the start of an SMTP line (after CRLF, or at the start) */
	ST_DOT,    /* DATA: "." at the start of a line, not stored (yet) */
	ST_DOT_CR, /* DATA: ".<CR>" at the start of a line, neither stored (yet) */
	ST_TEXT,   /* inside a line, or after a bare LF */
	ST_CR,     /* the last byte was a CR (already stored) */
};

void smtp_data_init(struct smtp_data *d, uint64_t max_size)
{
	memset(d, 0, sizeof(*d));
	d->max_size = max_size;
	d->state = ST_BOL;
}

void smtp_data_bdat_init(struct smtp_data *d, uint64_t max_size, unsigned flags)
{
	memset(d, 0, sizeof(*d));
	d->max_size = max_size;
	d->flags = flags;
	d->bdat = true;
	d->state = ST_TEXT;
}

void smtp_data_bdat_chunk(struct smtp_data *d, uint64_t size, bool last)
{
	if (!d->bdat || d->done || d->chunk_left != 0)
		fatalx("smtp_data_bdat_chunk: previous chunk unfinished or message done");
	d->chunk_left = size;
	d->chunk_last = last;
}

/* Counts n bytes and appends what fits under max_size, so that out always
 * receives exactly the first max_size bytes of the message, however the
 * input was split. */
static void store(struct smtp_data *d, struct buf *out, const void *p, size_t n)
{
	uint64_t before = d->size;
	d->size = before > UINT64_MAX - n ? UINT64_MAX : before + n;
	if (d->too_big)
		return;
	if (d->size > d->max_size) {
		d->too_big = true;
		n = (size_t)(d->max_size - before);
	}
	if (buf_append(out, p, n) < 0)
		fatalx("smtp_data: output buffer overrun"); /* the room check rules it out */
}

static void store_text(struct smtp_data *d, struct buf *out, const void *p, size_t n)
{
	d->line_len += n;
	store(d, out, p, n);
}

static void end_line(struct smtp_data *d)
{
	if (d->line_len > d->longest_line)
		d->longest_line = d->line_len;
	d->line_len = 0;
}

/* Length of the run of ordinary bytes at p (all of them when binary),
 * noting 8-bit and NUL bytes. */
static size_t text_run(struct smtp_data *d, const unsigned char *p, size_t n, bool binary)
{
	size_t i;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '\r' || c == '\n') {
			if (!binary)
				break;
		} else if (c >= 0x80) {
			d->eightbit = true;
		} else if (c == '\0') {
			d->nul = true;
		}
	}
	return i;
}

/* Runs the state machine over p[0..len), returns how many bytes it used.
 * Stops early at the end marker (d->done) or when out is full. */
static size_t decode(struct smtp_data *d, const unsigned char *p, size_t len, struct buf *out)
{
	bool binary = (d->flags & SMTP_DATA_BINARY) != 0;
	size_t i = 0;

	while (i < len && !d->done) {
		size_t room = d->too_big ? SIZE_MAX : out->max - out->len;
		if (room < 2)
			break;
		unsigned char ch = p[i];
		switch (d->state) {
		case ST_BOL:
			if (ch == '.') {
				d->state = ST_DOT;
				i++;
			} else {
				d->state = ST_TEXT;
			}
			break;
		case ST_DOT:
			/* The dot is never stored: it starts either the end marker
			 * or a stuffed line, whose first dot goes. */
			if (ch == '\r') {
				d->state = ST_DOT_CR;
				i++;
			} else {
				d->state = ST_TEXT;
			}
			break;
		case ST_DOT_CR:
			if (ch == '\n') {
				d->done = true;
				i++;
				break;
			}
			/* ".<CR>x" with x not LF: a stuffed line starting with a bare CR. */
			d->bare_cr = true;
			store_text(d, out, "\r", 1);
			d->state = ST_TEXT;
			break;
		case ST_CR:
			if (ch == '\n') {
				/* CRLF: the CR stored already was the line end, not text. */
				d->line_len--;
				store(d, out, "\n", 1);
				end_line(d);
				d->state = d->bdat ? ST_TEXT : ST_BOL;
				i++;
			} else {
				d->bare_cr = true;
				d->state = ST_TEXT;
			}
			break;
		case ST_TEXT:
			if (binary || (ch != '\r' && ch != '\n')) {
				size_t n = text_run(d, p + i, len - i < room ? len - i : room, binary);
				store_text(d, out, p + i, n);
				i += n;
			} else if (ch == '\r') {
				store_text(d, out, "\r", 1);
				d->state = ST_CR;
				i++;
			} else {
				/* A bare LF: stored as CRLF; what follows is not an SMTP line. */
				d->bare_lf = true;
				store(d, out, "\r\n", 2);
				end_line(d);
				i++;
			}
			break;
		default:
			fatalx("smtp_data: bad state %d", d->state);
		}
	}
	return i;
}

int smtp_data_parse(struct smtp_data *d, const void *in, size_t len, size_t *consumed_r, struct buf *out)
{
	if (d->done)
		fatalx("smtp_data_parse called after the end of the message");
	if (!d->bdat) {
		*consumed_r = decode(d, in, len, out);
		return d->done ? 1 : 0;
	}

	size_t avail = (uint64_t)len < d->chunk_left ? len : (size_t)d->chunk_left;
	size_t used = decode(d, in, avail, out);
	d->chunk_left -= used;
	*consumed_r = used;
	if (d->chunk_left > 0)
		return 0;
	if (d->chunk_last) {
		if (!(d->flags & SMTP_DATA_BINARY)) {
			/* A CR at the very end was never followed by an LF. */
			if (d->state == ST_CR)
				d->bare_cr = true;
			end_line(d);
		}
		d->done = true;
	}
	return 1;
}
