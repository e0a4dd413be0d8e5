/* Unit tests for dsn: golden files (tests/unit/dsn/NAME.ref) for a bounce,
 * a delay notice and a bounce that needs RFC 6533 (UTF-8 addresses and an
 * 8-bit original header); a header block longer than the cap is cut at a
 * line; and every output parses back as the three-part multipart/report
 * mail clients expect (checked with our MIME parser).
 *
 * POSTHORN_UPDATE_GOLDEN=1 rewrites the golden files from our output. */
#include <stdio.h>
#include <stdlib.h>

#include "mime/mime.h"
#include "smtp/dsn.h"
#include "test.h"
#include "util/buf.h"

static const char original[] =
    "Received: from client ([192.0.2.1])\r\n\tby mx.a.test (Posthorn) with ESMTPSA; Thu, 26 Nov 2026 "
    "10:00:00 +0000\r\n"
    "From: Alice <alice@a.test>\r\nTo: bob@b.test, carol@c.test\r\nSubject: Lunch?\r\n"
    "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <lunch@a.test>\r\n\r\n"
    "Shall we?\r\n";

static const char original8[] = "From: J\xc3\xb6rg <j\xc3\xb6rg@a.test>\r\nSubject: Gr\xc3\xbc\xc3\x9f"
				"e\r\n\r\nHallo\r\n";

static void check_golden(const char *name, const struct buf *out)
{
	char path[256];
	snprintf(path, sizeof(path), "tests/unit/dsn/%s.ref", name);
	if (getenv("POSTHORN_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "wb");
		fwrite(out->data, 1, out->len, f);
		fclose(f);
	}
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	struct buf want;
	buf_init(&want, 1 << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&want, chunk, n);
	fclose(f);
	CHECK_STR(buf_cstr(out), buf_cstr(&want));
	buf_free(&want);
}

/* The structure clients rely on: multipart/report with three parts. */
static void check_structure(const struct buf *out, const char *report_type, const char *headers_type)
{
	struct mime_message *m = mime_parse(out->data, out->len);
	const struct mime_part *root = m->root;
	CHECK_STR(root->type, "multipart");
	CHECK_STR(root->subtype, "report");
	CHECK_INT(root->child_count, 3);
	const struct mime_part *p = root->children;
	CHECK(p && strcmp(p->type, "text") == 0 && strcmp(p->subtype, "plain") == 0);
	p = p ? p->next : NULL;
	CHECK(p && strcmp(p->subtype, report_type) == 0);
	p = p ? p->next : NULL;
	char *ct = p ? mime_header_get(m, p, "Content-Type") : NULL;
	CHECK_STR(ct, headers_type);
	free(ct);
	mime_free(&m);
}

TEST(bounce)
{
	struct dsn_rcpt rcpts[] = {
	    {.address = "bob@b.test",
	     .action = DSN_FAILED,
	     .status = "5.1.1",
	     .remote_mta = "mx.b.test",
	     .diagnostic = "550 5.1.1 <bob@b.test>: Recipient address rejected",
	     .reason = "mx.b.test[192.0.2.3] said: 550 5.1.1 <bob@b.test>: Recipient address rejected (in "
		       "reply to RCPT TO)",
	     .last_attempt = 1795600000},
	    {.address = "carol@c.test",
	     .action = DSN_FAILED,
	     .status = "5.1.10",
	     .reason = "c.test does not accept mail (null MX, RFC 7505)"},
	};
	struct dsn_info info = {.reporting_mta = "mx.a.test",
				.to = "alice@a.test",
				.queue_id = "42",
				.arrival = 1795599000,
				.now = 1795600001,
				.message = original,
				.message_len = sizeof(original) - 1,
				.rcpts = rcpts,
				.rcpt_count = 2};
	struct buf out;
	buf_init(&out, 1 << 20);
	CHECK_INT(dsn_build(&info, &out), 0);
	check_golden("bounce", &out);
	check_structure(&out, "delivery-status", "text/rfc822-headers");
	CHECK(strstr(out.data, "Shall we?") == NULL); /* never the body */
	buf_free(&out);
}

TEST(delay)
{
	struct dsn_rcpt rcpts[] = {
	    {.address = "bob@b.test",
	     .action = DSN_DELAYED,
	     .status = "4.4.1",
	     .reason = "connect to mx.b.test[192.0.2.3]:25: Connection refused",
	     .last_attempt = 1795614400,
	     .will_retry_until = 1796031000},
	};
	struct dsn_info info = {.reporting_mta = "mx.a.test",
				.to = "alice@a.test",
				.queue_id = "43",
				.arrival = 1795599000,
				.now = 1795614401,
				.message = original,
				.message_len = sizeof(original) - 1,
				.rcpts = rcpts,
				.rcpt_count = 1};
	struct buf out;
	buf_init(&out, 1 << 20);
	CHECK_INT(dsn_build(&info, &out), 0);
	check_golden("delay", &out);
	check_structure(&out, "delivery-status", "text/rfc822-headers");
	buf_free(&out);
}

TEST(utf8)
{
	struct dsn_rcpt rcpts[] = {
	    {.address = "d\xc3\xbcrer@b.test",
	     .action = DSN_FAILED,
	     .status = "5.6.7",
	     .reason = "mx.b.test[192.0.2.3] does not support SMTPUTF8"},
	};
	struct dsn_info info = {.reporting_mta = "mx.a.test",
				.to = "j\xc3\xb6rg@a.test",
				.queue_id = "44",
				.arrival = 1795599000,
				.now = 1795600002,
				.message = original8,
				.message_len = sizeof(original8) - 1,
				.rcpts = rcpts,
				.rcpt_count = 1};
	struct buf out;
	buf_init(&out, 1 << 20);
	CHECK_INT(dsn_build(&info, &out), 0);
	check_golden("utf8", &out);
	check_structure(&out, "global-delivery-status", "message/global-headers");
	CHECK(strstr(out.data, "Final-Recipient: utf-8; d\xc3\xbcrer@b.test") != NULL);
	buf_free(&out);
}

TEST(limits)
{
	/* A huge original header is cut at a line end below the cap. */
	struct buf big;
	buf_init(&big, 1 << 22);
	while (big.len < DSN_HEADERS_MAX + 10000)
		buf_puts(&big, "X-Filler: 0123456789012345678901234567890123456789\r\n");
	buf_puts(&big, "\r\nbody\r\n");
	struct dsn_rcpt r = {.address = "b@b.test", .action = DSN_FAILED, .status = "5.0.0", .reason = "no"};
	struct dsn_info info = {.reporting_mta = "h",
				.to = "a@a.test",
				.queue_id = "1",
				.message = big.data,
				.message_len = big.len,
				.rcpts = &r,
				.rcpt_count = 1};
	struct buf out;
	buf_init(&out, 1 << 22);
	CHECK_INT(dsn_build(&info, &out), 0);
	CHECK(out.len < DSN_HEADERS_MAX + 8192);
	CHECK(strstr(out.data, "X-Filler: 0123456789012345678901234567890123456789\r\n\r\n--") != NULL);
	/* A full output buffer is an error, not a crash. */
	struct buf tiny;
	buf_init(&tiny, 100);
	CHECK_INT(dsn_build(&info, &tiny), -1);
	buf_free(&tiny);
	buf_free(&out);
	buf_free(&big);
}

int main(void)
{
	RUN(bounce);
	RUN(delay);
	RUN(utf8);
	RUN(limits);
	return test_done();
}
