/* dsn: delivery status notifications (RFC 3464, RFC 3462 multipart/report),
 * the bounces and delay notices the queue sends to a message's envelope
 * sender. Pure formatting: the queue decides when and to whom.
 *
 * A DSN has three parts: a human explanation (text/plain, UTF-8 only when an
 * address needs it, then quoted-printable), the machine-readable report
 * (message/delivery-status; message/global-delivery-status per RFC 6533
 * when an address is not ASCII) and the header of the original message
 * (text/rfc822-headers, or message/global-headers when it has 8-bit
 * bytes), never its body. It is marked Auto-Submitted: auto-replied
 * (RFC 3834) and must be sent with the null sender <>: a DSN is never sent
 * about a DSN, so bounce loops cannot happen. */
#ifndef POSTHORN_SMTP_DSN_H
#define POSTHORN_SMTP_DSN_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

enum dsn_action {
	DSN_FAILED,  /* permanent: a bounce */
	DSN_DELAYED, /* still being retried: a delay notice */
};

struct dsn_rcpt {
	const char *address; /* the recipient, as queued */
	enum dsn_action action;
	const char *status;	 /* enhanced status "5.1.1", "4.4.1" */
	const char *remote_mta;	 /* host name of the server that answered, or NULL */
	const char *diagnostic;	 /* that server's reply "550 5.1.1 ...", or NULL */
	const char *reason;	 /* human text for the first part (never NULL) */
	time_t last_attempt;	 /* 0 = none */
	time_t will_retry_until; /* DSN_DELAYED: when the queue gives up */
};

struct dsn_info {
	const char *reporting_mta; /* our host name */
	const char *to;		   /* the original envelope sender (not "") */
	const char *queue_id;	   /* for the report and Message-ID */
	time_t arrival;		   /* when the message was queued */
	time_t now;		   /* Date: and the boundary */
	const char *message;	   /* the original message: its header is included */
	size_t message_len;
	const struct dsn_rcpt *rcpts;
	size_t rcpt_count; /* at least 1, all of one action */
};

/* Appends the whole DSN message (header and body, CRLF line ends) to out.
 * The result depends only on info (no clock, no randomness), so it can be
 * compared with golden files. Returns 0, or -1 when out is full. */
int dsn_build(const struct dsn_info *info, struct buf *out);

/* The header block of the original is cut at this size (whole lines). */
#define DSN_HEADERS_MAX (64 * 1024)

#endif
