/* charset: text in a named character set to UTF-8, UTF-8 checks, and a
 * fold for case- and accent-insensitive search.
 *
 * Conversion never fails on bad input: mail is full of mislabelled and
 * broken text, and a reader wants to see it. Invalid sequences become
 * U+FFFD; an unknown charset is read as UTF-8 when the bytes are valid
 * UTF-8 and as Windows-1252 (a superset of Latin-1) otherwise. */
#ifndef POSTHORN_UTIL_CHARSET_H
#define POSTHORN_UTIL_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Converts (s, n), in charset (any case, aliases accepted; NULL or "" =
 * us-ascii), to UTF-8 and appends it to out. Returns 0, or -1 when out is
 * full (out then holds a prefix of the conversion, cut at a character
 * boundary). */
int charset_to_utf8(const char *charset, const char *s, size_t n, struct buf *out);

/* true when iconv knows the charset (after alias mapping) or it is one of
 * the UTF-8 / ASCII names handled without iconv. */
bool charset_is_known(const char *charset);

/* true when (s, n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool utf8_valid(const char *s, size_t n);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid or
 * truncated within n. */
size_t utf8_seq_len(const char *s, size_t n);

/* Appends (s, n) with invalid sequences replaced by U+FFFD. Returns 0 or -1. */
int utf8_sanitize(const char *s, size_t n, struct buf *out);

/* Largest length <= n that does not cut a UTF-8 sequence in (s, n). */
size_t utf8_truncate(const char *s, size_t n);

/* Appends a folded copy of UTF-8 text for search comparisons: letters
 * lower-cased (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic), accents
 * removed from Latin letters ("É" -> "e", "ß" -> "ss", "æ" -> "ae"),
 * invalid bytes as U+FFFD. Returns 0 or -1 (out full). */
int charset_fold(const char *s, size_t n, struct buf *out);

#endif
