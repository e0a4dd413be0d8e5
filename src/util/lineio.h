/* Bounded line reading from a libevent input buffer.
 *
 * libevent's evbuffer_readln() has no length cap and its CRLF mode also
 * accepts a bare LF; this reader takes a line only when its end is in the
 * buffer, and reports "too long" as soon as more than max bytes are buffered
 * without an end, so a client can never make us buffer an endless line. */
#ifndef POSTHORN_UTIL_LINEIO_H
#define POSTHORN_UTIL_LINEIO_H

#include <stddef.h>

struct evbuffer;

enum lineio_eol {
	LINEIO_EOL_CRLF,     /* only CRLF ends a line (a bare LF is data) */
	LINEIO_EOL_LF_OR_CRLF /* LF ends a line; a CR before it is removed */
};

enum lineio_result {
	LINEIO_LINE = 1,    /* *line_r holds the line without its end */
	LINEIO_NEED_MORE = 0,
	LINEIO_TOO_LONG = -1 /* no end within max bytes; nothing was consumed */
};

/* Looks for one line of at most max bytes (without the EOL) at the start of
 * in. On LINEIO_LINE, copies it into line (capacity line_size must be
 * > max), NUL-terminates it, sets *len_r, and drains the line and its EOL
 * from in. The line may contain NUL bytes; use *len_r. */
enum lineio_result lineio_get(struct evbuffer *in, size_t max, enum lineio_eol eol, char *line,
			      size_t line_size, size_t *len_r);

/* Drains input up to and including the next LF, if there is one; returns 1
 * when it found and drained the end of a line, 0 when it drained everything
 * (the line continues). Used to skip the rest of an over-long line. */
int lineio_skip_line(struct evbuffer *in);

#endif
