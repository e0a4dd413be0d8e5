/* Base64 (RFC 4648) encoding and strict decoding. */
#ifndef POSTHORN_UTIL_BASE64_H
#define POSTHORN_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Appends the encoding of (p, n) to out. Returns 0, or -1 if out is full. */
int base64_encode(struct buf *out, const void *p, size_t n);
/* Decodes (s, n), which must be canonical base64 with padding (no spaces,
 * no line breaks); "=" alone decodes to nothing (SASL's empty response).
 * Appends the bytes to out. Returns 0, or -1 on bad input or a full out. */
int base64_decode(struct buf *out, const char *s, size_t n);
/* The same, but skipping whitespace and line breaks (MIME bodies). */
int base64_decode_lenient(struct buf *out, const char *s, size_t n);

#endif
