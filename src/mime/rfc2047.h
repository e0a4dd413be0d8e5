/* rfc2047: encoded-words in header values ("=?utf-8?q?caf=C3=A9?=").
 *
 * Decoding turns a raw header value into UTF-8 for display, the summary and
 * the search index; encoding turns a UTF-8 phrase into 7-bit text for a
 * header that we write (the webmail, DSNs). */
#ifndef POSTHORN_MIME_RFC2047_H
#define POSTHORN_MIME_RFC2047_H

#include <stddef.h>

#include "util/buf.h"

/* Appends the decoded value of (s, n) to out as UTF-8:
 * - encoded-words (B and Q, any case, "charset*lang" accepted) are decoded
 *   and converted; adjacent encoded-words are joined and the whitespace
 *   between them dropped, and the bytes of adjacent words in one charset
 *   are converted together (so a character split over two words survives);
 * - a broken encoded-word is left as it is;
 * - the rest is taken as UTF-8 when valid, else as Windows-1252 (raw 8-bit
 *   headers); CR and LF are removed (unfolding), NULs dropped.
 * Returns 0, or -1 when out is full (out then holds a prefix). */
int rfc2047_decode(const char *s, size_t n, struct buf *out);

/* Returns a new UTF-8 string: rfc2047_decode() of (s, n), capped at max
 * bytes (cut at a character boundary). */
char *rfc2047_decode_dup(const char *s, size_t n, size_t max);

/* Appends (s, n), UTF-8, encoded for a header: as it is when it is
 * printable ASCII without "=?"; otherwise as UTF-8 encoded-words of at most
 * 75 characters (Q or B, whichever is shorter; Q uses only characters
 * allowed in a phrase), separated by CRLF SP so that the header stays
 * folded. Returns 0, or -1 when out is full. */
int rfc2047_encode(const char *s, size_t n, struct buf *out);

#endif
