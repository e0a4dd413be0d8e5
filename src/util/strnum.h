/* Numbers from untrusted text: digits only (no sign, no spaces, no junk),
 * overflow rejected. Return 0 on success, -1 otherwise (*out untouched). */
#ifndef POSTHORN_UTIL_STRNUM_H
#define POSTHORN_UTIL_STRNUM_H

#include <stddef.h>
#include <stdint.h>

int str_to_u64(const char *s, uint64_t *out) __attribute__((warn_unused_result));
int str_to_u32(const char *s, uint32_t *out) __attribute__((warn_unused_result));
/* The same for a (ptr, len) view. */
int strn_to_u64(const char *s, size_t len, uint64_t *out) __attribute__((warn_unused_result));
int strn_to_u32(const char *s, size_t len, uint32_t *out) __attribute__((warn_unused_result));
/* A size with an optional K, M or G suffix (powers of 1024): "50M". */
int str_to_size(const char *s, uint64_t *out) __attribute__((warn_unused_result));
/* A duration with an optional s, m, h or d suffix, in seconds: "5m". */
int str_to_seconds(const char *s, uint64_t *out) __attribute__((warn_unused_result));
/* The value of one hexadecimal digit (either case), or -1 for any other
 * byte (a plain char above 127 arrives negative and gets -1 too). */
int hex_digit(int c);

#endif
