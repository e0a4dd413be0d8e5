/* Quoted-printable (RFC 2045 6.7): lenient decoding for MIME bodies and
 * RFC 2047 "Q" words, and encoding with 76-character lines (used to turn
 * 8-bit mail into 7-bit for a server without 8BITMIME). */
#ifndef POSTHORN_UTIL_QP_H
#define POSTHORN_UTIL_QP_H

#include <stddef.h>

#include "util/buf.h"

/* Decodes a quoted-printable body and appends the bytes to out.
 * Lenient, as mail clients are: "=XY" with hex digits in either case is
 * the byte; "=" followed by optional spaces/tabs and a line end is a soft
 * break (removed); any other "=" is kept as is; spaces and tabs before a
 * line end are removed (RFC 2045 rule 3); line ends (CRLF or bare LF) are
 * kept as in the input. Returns 0, or -1 when out is full. */
int qp_decode(struct buf *out, const char *s, size_t n);

/* Decodes the text of an RFC 2047 "Q" encoded word: as qp_decode, plus
 * "_" is a space; there are no line ends. Returns 0 or -1 (out full). */
int qp_decode_q(struct buf *out, const char *s, size_t n);

enum qp_flags {
	QP_TEXT = 0,	   /* line ends (CRLF or LF) are hard line breaks, written as CRLF */
	QP_BINARY = 1 << 0 /* CR and LF are data: encoded as =0D =0A */
};

/* Encodes (p, n) as quoted-printable with lines of at most 76 characters
 * (soft breaks "=" CRLF), CRLF line ends, "=", controls and 8-bit bytes
 * encoded, and spaces or tabs before a line end encoded. A leading "." or
 * "From " on a line is encoded too, so the result survives SMTP and mbox.
 * Returns 0, or -1 when out is full. */
int qp_encode(struct buf *out, const void *p, size_t n, int flags);

#endif
