/* pop3_parse: POP3 syntax, both directions, with no I/O and no storage.
 *
 * In: an incremental command parser. Bytes arrive in pieces of any size;
 * each call returns one complete command (1), says it needs more (0), or
 * reports a bad line (-1) with the text for the "-ERR" reply, after which
 * it goes on with the next line. Lines end in CRLF or a bare LF (a CR
 * before the LF is removed). The parser keeps the line being assembled in
 * a buffer that grows as bytes really arrive, never past the line limit: a
 * command line longer than POP3_COMMAND_MAX (a SASL response line: longer
 * than POP3_SASL_LINE_MAX) is reported as soon as the limit is passed, and
 * the rest of that line is skipped without being stored.
 *
 * Command syntax (RFC 1939, 2449, 2595, 5034): a keyword, case-insensitive,
 * then arguments separated by single spaces. Per keyword:
 *   STAT NOOP RSET QUIT CAPA STLS       no argument
 *   LIST UIDL [msg]                     optional message number
 *   RETR DELE msg                       message number
 *   TOP msg n                           message number, line count
 *   USER name                           the rest of the line, trailing spaces removed
 *   PASS password                       the rest of the line, exactly (spaces kept)
 *   AUTH [mechanism [initial-response]] (no argument: list mechanisms)
 *   APOP and anything else              POP3_CMD_UNKNOWN (the server says so)
 * Numbers are decimal digits only, within uint32_t (a message number of 0
 * parses; the server replies "no such message"). Command lines may not
 * contain NUL or a bare CR.
 *
 * After the server sends a SASL challenge ("+ ..."), the next line is the
 * client's answer, not a command: pop3_parser_expect_sasl() makes the
 * parser return that line whole as POP3_CMD_SASL_RESPONSE.
 *
 * Out: the encoder for multi-line replies (RETR, TOP): CRLF line ends (a
 * bare LF in the stored message is sent as CRLF; a bare CR is message data
 * and kept), a "." doubled at the start of every line, the last line ended
 * if the message did not end with a line end, then ".\r\n". For TOP it
 * stops after the header, the empty line and n lines of the body. */
#ifndef POSTHORN_POP3_POP3_PARSE_H
#define POSTHORN_POP3_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Longest command line without its line end. RFC 2449 4 caps command lines
 * at 255 octets with CRLF; we accept a little more from sloppy clients. */
#define POP3_COMMAND_MAX 510
/* Longest SASL response line (base64), as sasl.h accepts. */
#define POP3_SASL_LINE_MAX 8192

enum pop3_cmd {
	POP3_CMD_UNKNOWN,
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_AUTH,
	POP3_CMD_CAPA,
	POP3_CMD_STLS,
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_QUIT,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_SASL_RESPONSE, /* a line after a SASL challenge */
	POP3_CMD_COUNT
};

/* Upper-case keyword of a command ("" for UNKNOWN and SASL_RESPONSE). */
const char *pop3_cmd_name(enum pop3_cmd cmd);

struct pop3_command {
	enum pop3_cmd cmd;
	const char *verb; /* the keyword as sent (UNKNOWN: for logs) */
	size_t verb_len;
	bool has_msg;	 /* LIST, UIDL: a message number was given */
	uint32_t msg;	 /* LIST UIDL RETR DELE TOP */
	uint32_t lines;	 /* TOP */
	const char *arg; /* USER name, PASS password, AUTH mechanism, SASL line */
	size_t arg_len;
	const char *ir; /* AUTH initial response, or NULL */
	size_t ir_len;
};

struct pop3_parser {
	/* Session-long. */
	bool sasl_next; /* the next line is a SASL response */
	/* Per line, cleared after each line. */
	struct buf line; /* the line so far, without its end */
	bool complete;	 /* line holds a finished line: wiped on the next call */
	bool skipping;	 /* discarding the rest of an over-long line */
};

void pop3_parser_init(struct pop3_parser *p);
/* Wipes the buffer (it may hold a password) and frees it. */
void pop3_parser_deinit(struct pop3_parser *p);
/* The next line is the answer to a SASL challenge. */
void pop3_parser_expect_sasl(struct pop3_parser *p);

/* Feeds data[0..len). Returns
 *   1  a complete line: *cmd is filled (its views point into the parser and
 *      stay valid until the next call on p), *consumed_r bytes were used;
 *   0  every byte was used (*consumed_r == len), the line is not complete;
 *  -1  a bad line: *error_r is the text for "-ERR <text>" (static, never
 *      holding client data), *consumed_r bytes were used. For a line that
 *      is too long this is reported once, when the limit is passed; the
 *      rest of that line is then skipped silently.
 * Call again with the data left after *consumed_r. A password in the line
 * stays in the parser until the next call or pop3_parser_deinit(), which
 * wipe it. */
int pop3_parse(struct pop3_parser *p, const char *data, size_t len, size_t *consumed_r,
	       struct pop3_command *cmd, const char **error_r);

/* Parses one complete command line (no line end) without a parser: the
 * same syntax and results (1 or -1). Views point into line. */
int pop3_parse_line(const char *line, size_t len, struct pop3_command *cmd, const char **error_r);

/* ---- multi-line replies ----------------------------------------------- */

struct pop3_encoder {
	bool bol;	     /* at the start of a line */
	bool cr;	     /* the last byte of the message was a CR */
	size_t line_bytes;   /* bytes of the current line so far */
	bool top;	     /* TOP: a line limit applies */
	bool in_body;	     /* past the empty line after the header */
	uint32_t lines_left; /* TOP: body lines still to send */
	bool done;	     /* TOP: the limit is reached, the rest is skipped */
	uint64_t in_total;   /* message bytes consumed */
	uint64_t out_total;  /* bytes produced */
};

/* For RETR (top false) or TOP (top true, lines of the body). */
void pop3_encoder_init(struct pop3_encoder *e, bool top, uint32_t lines);
/* Encodes message bytes in[0..in_len) into out[0..out_size). Returns the
 * bytes written and sets *consumed_r; stops when out has fewer than 3 bytes
 * left. out_size must be at least 3. */
size_t pop3_encode(struct pop3_encoder *e, const char *in, size_t in_len, size_t *consumed_r, char *out,
		   size_t out_size);
/* The end of the reply: CRLF when the last line was not ended, then
 * ".\r\n". out_size must be at least POP3_ENCODE_END_MAX. */
#define POP3_ENCODE_END_MAX 5
size_t pop3_encode_end(struct pop3_encoder *e, char *out, size_t out_size);

#endif
