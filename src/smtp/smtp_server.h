/* smtp_server: the SMTP engine for the smtp (25), submission (587) and
 * submissions (465) listeners: RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING, STARTTLS and AUTH.
 *
 * Port 25 accepts mail for local domains only and never relays. The
 * submission ports accept mail only after AUTH (itself only after TLS),
 * from addresses the user owns, for anyone: local recipients are delivered
 * at once, the others go to the outbound queue, in one durable commit. */
#ifndef POSTHORN_SMTP_SMTP_SERVER_H
#define POSTHORN_SMTP_SMTP_SERVER_H

#include "core/conn.h"

extern const struct conn_handler smtp_handler;

#endif
