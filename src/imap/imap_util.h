/* imap_util: small pieces of IMAP syntax shared by the commands: sequence
 * sets, modified UTF-7 mailbox names (RFC 3501 5.1.3), and writing strings
 * as quoted strings or literals. Pure functions, no I/O. */
#ifndef POSTHORN_IMAP_IMAP_UTIL_H
#define POSTHORN_IMAP_IMAP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* ---- Sequence sets ---------------------------------------------------- */

struct imap_range {
	uint32_t lo, hi; /* lo <= hi once resolved */
	uint8_t star;	 /* before resolving: IMAP_STAR_LO / IMAP_STAR_HI */
};

/* A parsed sequence set ("1:3,5,7:*"). '*' is marked in range.star until
 * imap_seqset_resolve() replaces it. Ranges are as written, not yet sorted
 * or merged. */
#define IMAP_STAR_LO 1
#define IMAP_STAR_HI 2
#define IMAP_SEQSET_MAX_RANGES 100000

struct imap_seqset {
	struct imap_range *r;
	size_t count;
};

/* Parses (s, len). 0 is invalid as a number; "$" is not handled here.
 * Returns 0, or -1 with *error_r (static text) on bad syntax. */
int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set, const char **error_r);
/* Replaces '*' with star (the largest number in use: the message count, or
 * the highest UID; 0 for an empty mailbox), swaps reversed ranges, sorts
 * and merges. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);
/* true when n is in the (resolved) set. Binary search. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
void imap_seqset_free(struct imap_seqset *set);
/* Appends a sorted array of numbers as a compact set ("1:3,5"); nothing
 * for an empty array. Returns 0 or -1 (out full). */
int imap_seqset_write(struct buf *out, const uint32_t *v, size_t n);

/* CONTEXT=SEARCH's partial-range (RFC 5267 4.4): "n:m", two non-zero
 * numbers in either order, no "*". Sets *lo_r <= *hi_r. Returns 0, or -1
 * (bad syntax). */
int imap_partial_parse(const char *s, size_t len, uint32_t *lo_r, uint32_t *hi_r);

/* ---- Sorted UID and sequence-number arrays ------------------------------ */

/* true when x is in v[0..n), sorted ascending. Binary search. */
bool imap_u32_contains(const uint32_t *v, size_t n, uint32_t x);
/* Sorts v[0..n) ascending. */
void imap_u32_sort(uint32_t *v, size_t n);

/* ---- Modified UTF-7 (mailbox names) ------------------------------------ */

/* Appends the modified UTF-7 form of a UTF-8 name. Returns 0, or -1 when
 * name is not valid UTF-8 or out is full. */
int imap_utf7_encode(const char *name, size_t len, struct buf *out);
/* Appends the UTF-8 form of a modified UTF-7 name. Returns 0, or -1 when
 * it is not valid modified UTF-7 (8-bit bytes, bad base64, a "&-" pair
 * spelled in base64, non-canonical padding, an unpaired surrogate), or out
 * is full. */
int imap_utf7_decode(const char *name, size_t len, struct buf *out);

/* ---- Strings in responses ---------------------------------------------- */

/* Appends s as an IMAP string: a quoted string when it can be one (no CR,
 * LF or NUL, no 8-bit bytes unless utf8 is true, at most 1024 bytes),
 * escaping '"' and '\\', otherwise a literal "{n}\r\n" + bytes. */
int imap_append_string(struct buf *out, const char *s, size_t len, bool utf8);
/* The same, but NIL for a NULL s. */
int imap_append_nstring(struct buf *out, const char *s, bool utf8);
/* Appends s as an astring: an atom when every byte is an ASTRING-CHAR and it
 * is not "NIL", otherwise as imap_append_string(). */
int imap_append_astring(struct buf *out, const char *s, size_t len, bool utf8);

#endif
