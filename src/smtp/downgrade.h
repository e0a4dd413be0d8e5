/* downgrade: 8-bit mail made 7-bit for a server without 8BITMIME
 * (RFC 6152 3: "convert to 7 bit, or bounce").
 *
 * Every MIME leaf part whose body has 8-bit bytes and is declared 7bit,
 * 8bit or binary (or not declared) is re-encoded as quoted-printable and
 * its Content-Transfer-Encoding header replaced; everything else is copied
 * byte for byte (parts that are already 7-bit, the structure, the
 * boundaries). The decoded content of every part is unchanged. It cannot
 * be done (and the message must bounce) when 8-bit bytes are in a header,
 * in a multipart's preamble, epilogue or boundary lines, in a part that the
 * MIME parser gave up on (limits), or in a body that claims base64 or
 * quoted-printable. A DKIM signature over a converted body no longer
 * verifies: that is the price of the RFC's choice. */
#ifndef POSTHORN_SMTP_DOWNGRADE_H
#define POSTHORN_SMTP_DOWNGRADE_H

#include <stddef.h>

#include "util/buf.h"

/* Appends the 7-bit form of (data, len) to out. Returns 0, or -1 with a
 * static message (conversion impossible, or out full); out may then hold
 * a partial result. */
int smtp_downgrade_7bit(const char *data, size_t len, struct buf *out, const char **error_r);

#endif
