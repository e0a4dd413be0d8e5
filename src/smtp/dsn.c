/* dsn: building bounces and delay notices (see dsn.h). The texts follow
 * the layout mail users know from Postfix: who we are, what happened to
 * each recipient with the remote server's own words, then the report and
 * the original header. */
#include "smtp/dsn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mime/header.h"
#include "util/date.h"
#include "util/qp.h"

static bool has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

static bool str_8bit(const char *s)
{
	return s != NULL && has_8bit(s, strlen(s));
}

/* A field value for the report: printable, no line breaks, capped. */
static int put_value(struct buf *out, const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n] != '\0' && n < max; n++) {
		unsigned char c = (unsigned char)s[n];
		if (buf_putc(out, c < 0x20 || c == 0x7f ? ' ' : (char)c) < 0)
			return -1;
	}
	return 0;
}

/* FNV-1a over the inputs: a boundary that is stable for equal input and
 * cannot occur in the original header (we check and add a counter). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int put_date(struct buf *out, const char *name, time_t t)
{
	if (buf_printf(out, "%s: ", name) < 0 || date_format_rfc5322(t, 0, out) < 0)
		return -1;
	return buf_puts(out, "\r\n");
}

static int human_part(const struct dsn_info *info, bool failed, bool utf8, struct buf *out)
{
	struct buf text;
	buf_init(&text, out->max);
	int r = 0;
	r |= buf_printf(&text, "This is the mail system at host %s.\r\n\r\n", info->reporting_mta);
	if (failed)
		r |= buf_puts(&text, "I'm sorry to have to inform you that your message could not\r\n"
				     "be delivered to one or more recipients. It's attached below.\r\n\r\n"
				     "For further assistance, please send mail to postmaster.\r\n\r\n"
				     "If you do so, please include this problem report. You can\r\n"
				     "delete your own text from the attached returned message.\r\n\r\n");
	else {
		r |= buf_puts(&text,
			      "####################################################################\r\n"
			      "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
			      "####################################################################\r\n\r\n"
			      "Your message could not be delivered yet to the recipients below.\r\n"
			      "It will be retried until ");
		r |= date_format_rfc5322(info->rcpts[0].will_retry_until, 0, &text);
		r |= buf_puts(&text, ";\r\nyou will be told if it cannot be delivered by then.\r\n\r\n");
	}
	r |= buf_printf(&text, "                   The mail system\r\n");
	for (size_t i = 0; i < info->rcpt_count; i++) {
		const struct dsn_rcpt *rc = &info->rcpts[i];
		r |= buf_printf(&text, "\r\n<%s>: ", rc->address);
		r |= put_value(&text, rc->reason, 2000);
		r |= buf_puts(&text, "\r\n");
	}
	r |= buf_puts(out, "Content-Description: Notification\r\n");
	if (utf8) {
		r |= buf_puts(out, "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
		r |= qp_encode(out, text.data, text.len, QP_TEXT); /* ends with CRLF, as text does */
	} else {
		r |= buf_puts(out, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
		r |= buf_append(out, text.data, text.len);
	}
	buf_free(&text);
	return r ? -1 : 0;
}

static int report_part(const struct dsn_info *info, bool utf8, struct buf *out)
{
	int r = 0;
	r |= buf_printf(
	    out, "Content-Description: Delivery report\r\nContent-Type: message/%sdelivery-status\r\n\r\n",
	    utf8 ? "global-" : "");
	r |= buf_printf(out, "Reporting-MTA: dns; %s\r\n", info->reporting_mta);
	r |= buf_printf(out, "X-Posthorn-Queue-ID: %s\r\n", info->queue_id);
	r |= put_date(out, "Arrival-Date", info->arrival);
	for (size_t i = 0; i < info->rcpt_count; i++) {
		const struct dsn_rcpt *rc = &info->rcpts[i];
		r |= buf_printf(out, "\r\nFinal-Recipient: %s; ", str_8bit(rc->address) ? "utf-8" : "rfc822");
		r |= put_value(out, rc->address, 512);
		r |= buf_printf(
		    out, "\r\nAction: %s\r\nStatus: ", rc->action == DSN_FAILED ? "failed" : "delayed");
		r |= put_value(out, rc->status, 15);
		r |= buf_puts(out, "\r\n");
		if (rc->remote_mta != NULL) {
			r |= buf_puts(out, "Remote-MTA: dns; ");
			r |= put_value(out, rc->remote_mta, 255);
			r |= buf_puts(out, "\r\n");
		}
		if (rc->diagnostic != NULL) {
			r |= buf_puts(out, "Diagnostic-Code: smtp; ");
			r |= put_value(out, rc->diagnostic, 900);
			r |= buf_puts(out, "\r\n");
		}
		if (rc->last_attempt)
			r |= put_date(out, "Last-Attempt-Date", rc->last_attempt);
		if (rc->action == DSN_DELAYED)
			r |= put_date(out, "Will-Retry-Until", rc->will_retry_until);
	}
	return r ? -1 : 0;
}

static int headers_part(const struct dsn_info *info, struct buf *out)
{
	size_t blank = 0;
	size_t hlen = mime_header_block_size(info->message, info->message_len, &blank);
	size_t n = hlen - blank;
	if (n > DSN_HEADERS_MAX) {
		/* Cut after the last whole line that fits. */
		n = DSN_HEADERS_MAX;
		while (n > 0 && info->message[n - 1] != '\n')
			n--;
	}
	bool eight = has_8bit(info->message, n);
	int r = 0;
	r |= buf_printf(out, "Content-Description: Undelivered Message Headers\r\nContent-Type: %s\r\n\r\n",
			eight ? "message/global-headers" : "text/rfc822-headers");
	r |= buf_append(out, info->message, n);
	if (n > 0 && info->message[n - 1] != '\n')
		r |= buf_puts(out, "\r\n");
	return r ? -1 : 0;
}

int dsn_build(const struct dsn_info *info, struct buf *out)
{
	bool failed = false, utf8 = str_8bit(info->to);
	for (size_t i = 0; i < info->rcpt_count; i++) {
		failed = failed || info->rcpts[i].action == DSN_FAILED;
		utf8 = utf8 || str_8bit(info->rcpts[i].address);
	}
	uint64_t h = fnv(1469598103934665603ull, info->queue_id, strlen(info->queue_id));
	h = fnv(h, &info->now, sizeof(info->now));
	char boundary[64];
	for (unsigned k = 0;; k++) {
		snprintf(boundary, sizeof(boundary), "=_posthorn_dsn_%016llx_%u", (unsigned long long)h, k);
		if (memmem(info->message,
			   info->message_len > DSN_HEADERS_MAX ? DSN_HEADERS_MAX : info->message_len,
			   boundary, strlen(boundary)) == NULL)
			break;
	}
	int r = 0;
	r |= buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", info->reporting_mta);
	r |= buf_puts(out, "To: <");
	r |= put_value(out, info->to, 512);
	r |= buf_puts(out, ">\r\n");
	r |=
	    buf_printf(out, "Subject: %s\r\n",
		       failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)");
	r |= put_date(out, "Date", info->now);
	r |= buf_printf(out, "Message-ID: <dsn.%s.%lld@%s>\r\n", info->queue_id, (long long)info->now,
			info->reporting_mta);
	r |= buf_puts(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	r |= buf_printf(
	    out, "Content-Type: multipart/report; report-type=%sdelivery-status;\r\n\tboundary=\"%s\"\r\n",
	    utf8 ? "global-" : "", boundary);
	r |= buf_puts(out, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");
	r |= buf_printf(out, "--%s\r\n", boundary);
	r |= human_part(info, failed, utf8, out);
	r |= buf_printf(out, "\r\n--%s\r\n", boundary);
	r |= report_part(info, utf8, out);
	r |= buf_printf(out, "\r\n--%s\r\n", boundary);
	r |= headers_part(info, out);
	r |= buf_printf(out, "\r\n--%s--\r\n", boundary);
	return r ? -1 : 0;
}
