/* buf: the one growing byte string of Posthorn.
 *
 * Binary-safe, always NUL-terminated (data[len] == 0) for convenience, and
 * with a hard maximum fixed at creation: an append that would grow it past
 * max fails with -1 and leaves the buffer unchanged. Use it for everything
 * whose size comes from outside. A zero-initialised struct buf is NOT valid:
 * call buf_init(). */
#ifndef POSTHORN_UTIL_BUF_H
#define POSTHORN_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;  /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;  /* hard limit on len */
};

#define BUF_MAX_DEFAULT ((size_t)64 * 1024 * 1024)

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);           /* releases memory, keeps max */
void buf_reset(struct buf *b);          /* len = 0, keeps memory */
/* Returns 0, or -1 when the result would exceed max (buffer unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Never NULL: "" for an empty buffer. Valid until the next append. */
const char *buf_cstr(const struct buf *b);
/* Hands the memory to the caller (free() it) and re-initialises b. */
char *buf_steal(struct buf *b, size_t *len_r);
/* Removes n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
void buf_truncate(struct buf *b, size_t len);

#endif
