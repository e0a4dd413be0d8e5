/* smtp_reply: what an SMTP server says, read by our SMTP client.
 *
 * Pure syntax, no I/O. An incremental parser turns the bytes a server sends
 * into complete replies (RFC 5321 4.2): one or more lines "NNN-text",
 * ended by a line "NNN text" or "NNN", every line with the same code. The
 * bytes arrive in arbitrary pieces; the parser keeps what it needs in its
 * struct and never allocates. Lines end in CRLF; a bare LF is accepted too
 * (liberal, as Postfix's smtp_get), and the CR before it is dropped.
 *
 * Bounds: a line longer than SMTP_REPLY_LINE_MAX or a reply of more than
 * SMTP_REPLY_LINES_MAX lines is an error (a broken or hostile server: the
 * client gives up on the connection). The text kept for logs, bounces and
 * EHLO keywords is capped at SMTP_REPLY_TEXT_MAX bytes; what is beyond is
 * parsed and dropped (`truncated` says so). Control characters other than
 * TAB in the text are replaced with '?', so the text can be logged and put
 * into a bounce as it is.
 *
 * EHLO: smtp_ehlo_parse() reads the extensions we use out of a 250 reply
 * to EHLO. */
#ifndef POSTHORN_SMTP_SMTP_REPLY_H
#define POSTHORN_SMTP_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_MAX 4096 /* RFC 5321 4.5.3.1.5 says 512; be liberal */
#define SMTP_REPLY_LINES_MAX 1000
#define SMTP_REPLY_TEXT_MAX 4096

struct smtp_reply {
	unsigned code;			    /* 200..599 */
	char enh[16];			    /* "5.1.1" when the first line starts with an
					       enhanced status code of the same class (RFC 3463), else "" */
	char text[SMTP_REPLY_TEXT_MAX + 1]; /* the lines' texts (after "NNN-"/"NNN "),
				     joined with '\n', NUL-terminated */
	size_t text_len;
	size_t lines;
	bool truncated; /* text was cut at SMTP_REPLY_TEXT_MAX */
};

struct smtp_reply_parser {
	/* The line being read. */
	char line[SMTP_REPLY_LINE_MAX + 2]; /* with its CR, if any */
	size_t line_len;
	/* The reply being assembled, or the complete one (done). */
	struct smtp_reply reply;
	bool done;
};

void smtp_reply_parser_init(struct smtp_reply_parser *p);

/* Consumes bytes from (data, len) until one reply is complete or the input
 * is used up; *used_r gets the number of bytes consumed.
 * Returns 1: a reply is complete: it is in p->reply, valid until the next
 *            call (which starts a new reply); bytes after it are not consumed.
 *         0: everything consumed, more is needed.
 *        -1: the server's bytes are not a reply (*error_r: static text);
 *            the parser must not be used again before smtp_reply_parser_init. */
int smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len, size_t *used_r,
		     const char **error_r);

/* The class of a reply: 2 (positive), 3 (intermediate), 4 (transient
 * negative), 5 (permanent negative). */
static inline unsigned smtp_reply_class(const struct smtp_reply *r)
{
	return r->code / 100;
}

/* Appends "CODE ENH text" to out (lines joined with spaces), at most
 * out_size - 1 bytes, NUL-terminated. For logs and the queue's last error. */
void smtp_reply_format(const struct smtp_reply *r, char *out, size_t out_size);

/* What a server announced in its EHLO reply. */
struct smtp_ehlo {
	bool pipelining;
	bool starttls;
	bool eightbitmime;
	bool smtputf8;
	bool chunking;
	bool enhancedstatuscodes;
	bool dsn;
	bool size_set;
	uint64_t size; /* SIZE n: 0 = no fixed limit (RFC 1870) */
};

/* Reads the keywords of an EHLO reply (every line after the first;
 * keywords case-insensitive). Unknown keywords are ignored, a SIZE without
 * a valid number counts as SIZE without a limit. */
void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e);

#endif
