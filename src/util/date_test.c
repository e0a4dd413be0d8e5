/* Unit tests for util/date: RFC 5322 and IMAP dates, parsed and formatted. */
#include <stdlib.h>

#include "test.h"
#include "util/date.h"

TEST(rfc5322_parse)
{
	static const struct {
		const char *in;
		int ok;
		long long t;
		int tz;
	} cases[] = {
	    {"Thu, 26 Nov 2026 14:50:00 +0000", 1, 1795704600LL, 0},
	    {"26 Nov 2026 14:50:00 +0000", 1, 1795704600LL, 0},
	    {"Thu 26 Nov 2026 14:50:00 +0000", 1, 1795704600LL, 0},
	    {"Thu, 26 Nov 2026 15:50:00 +0100", 1, 1795704600LL, 60},
	    {"Thu, 26 Nov 2026 09:20 -0530", 1, 1795704600LL, -330},
	    {"thu, 26 nov 2026 14:50:00 GMT", 1, 1795704600LL, 0},
	    {"Thu, 26 Nov 2026 14:50:00 UT", 1, 1795704600LL, 0},
	    {"Thu, 26 Nov 2026 09:50:00 EST", 1, 1795704600LL, -300},
	    {"Thu, 26 Nov 2026 07:50:00 PDT", 1, 1795704600LL, -420},
	    {"Thu, 26 Nov 2026 14:50:00 Z", 1, 1795704600LL, 0},
	    {"Thu, 26 Nov 2026 14:50:00 A", 1, 1795704600LL, 0},
	    {"Thu, 26 Nov 2026 14:50:00", 1, 1795704600LL, 0},
	    {"Thu, 26 Nov 2026 14:50:00 +0000 (UTC)", 1, 1795704600LL, 0},
	    {"(comment) Thu, (c) 26 (c) Nov 2026 14:50:00 +0000", 1, 1795704600LL, 0},
	    {"Thu, 26 Nov 2026 15:50:00 +0100 CET", 1, 1795704600LL, 60},
	    {"Thu,\r\n 26 Nov 2026\r\n 14:50:00 +0000", 1, 1795704600LL, 0},
	    {"1 Jan 24 10:00 EST", 1, 1704121200LL, -300},
	    {"1 Jan 70 00:00:00 +0000", 1, 0, 0},
	    {"1 Jan 49 00:00:00 +0000", 1, 2493072000LL, 0},
	    {"1 Jan 50 00:00:00 +0000", 1, -631152000LL, 0},
	    {"1 Jan 101 00:00:00 +0000", 1, 978307200LL, 0},
	    {"29 Feb 2024 12:00:00 +0000", 1, 1709208000LL, 0},
	    {"31 Dec 2026 23:59:60 +0000", 1, 1798761599LL, 0},
	    {"1-Feb-1994 10:00:00 +0000", 1, 760096800LL, 0},
	    {"", 0, 0, 0},
	    {"garbage", 0, 0, 0},
	    {"Thu, 26 Nov 2026", 0, 0, 0},
	    {"Thu, 26 Foo 2026 14:50:00 +0000", 0, 0, 0},
	    {"Thu, 32 Nov 2026 14:50:00 +0000", 0, 0, 0},
	    {"29 Feb 2023 12:00:00 +0000", 0, 0, 0},
	    {"Thu, 26 Nov 2026 24:00:00 +0000", 0, 0, 0},
	    {"Thu, 26 Nov 2026 14:60:00 +0000", 0, 0, 0},
	    {"Thu, 26 Nov 2026 14:50:00 +0060", 0, 0, 0},
	    {"Thu, 26 Nov 2026 14:50:00 +00", 0, 0, 0},
	    {"Thu, 26 Nov 2026 14:50:00 XYZZY", 0, 0, 0},
	    {"Thu, 26 Nov 2026 14:50:00 +0000 junk junk", 0, 0, 0},
	    {"Thu, 26 Nov 12026 14:50:00 +0000", 0, 0, 0},
	    {"Thu, 26 Nov 2026 14:50:00 +0000 (unterminated", 1, 1795704600LL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = 12345;
		int tz = 999;
		int r = date_parse_rfc5322(cases[i].in, strlen(cases[i].in), &t, &tz);
		if ((r == 0) != cases[i].ok)
			printf("case %zu: %s\n", i, cases[i].in);
		CHECK_INT(r == 0, cases[i].ok);
		if (cases[i].ok && r == 0) {
			CHECK_INT(t, cases[i].t);
			CHECK_INT(tz, cases[i].tz);
		}
	}
}

/* Every prefix of a valid date is parsed without reading past its end
 * (ASan checks the reads: each prefix is a fresh heap copy). */
TEST(rfc5322_prefixes)
{
	const char *s = "Thu, 26 Nov 2026 14:50:00 +0000 (UTC)";
	size_t n = strlen(s);
	for (size_t i = 0; i <= n; i++) {
		char *p = malloc(i ? i : 1);
		memcpy(p, s, i);
		time_t t;
		int tz;
		int r = date_parse_rfc5322(p, i, &t, &tz);
		/* "... 14:50" is already a date (no seconds, no zone) */
		CHECK(r == 0 || r == -1);
		free(p);
	}
}

TEST(format)
{
	struct buf b;
	buf_init(&b, 100);
	CHECK_INT(date_format_rfc5322(1795704600LL, 0, &b), 0);
	CHECK_STR(buf_cstr(&b), "Thu, 26 Nov 2026 14:50:00 +0000");
	buf_reset(&b);
	CHECK_INT(date_format_rfc5322(1795704600LL, -330, &b), 0);
	CHECK_STR(buf_cstr(&b), "Thu, 26 Nov 2026 09:20:00 -0530");
	buf_reset(&b);
	CHECK_INT(date_format_rfc5322(0, 60, &b), 0);
	CHECK_STR(buf_cstr(&b), "Thu, 1 Jan 1970 01:00:00 +0100");
	buf_reset(&b);
	CHECK_INT(date_format_rfc5322(-1, 0, &b), 0);
	CHECK_STR(buf_cstr(&b), "Wed, 31 Dec 1969 23:59:59 +0000");
	buf_reset(&b);
	CHECK_INT(date_format_imap(1795704600LL, 0, &b), 0);
	CHECK_STR(buf_cstr(&b), "26-Nov-2026 14:50:00 +0000");
	buf_reset(&b);
	CHECK_INT(date_format_imap(760096800LL, 0, &b), 0);
	CHECK_STR(buf_cstr(&b), " 1-Feb-1994 10:00:00 +0000");
	buf_reset(&b);
	CHECK_INT(date_format_imap(760096800LL, 120, &b), 0);
	CHECK_STR(buf_cstr(&b), " 1-Feb-1994 12:00:00 +0200");
	buf_free(&b);
	/* the local offset is whole minutes within a day */
	int off = date_local_offset(1795704600LL);
	CHECK(off > -24 * 60 && off < 24 * 60);
	/* a full buffer leaves it unchanged */
	buf_init(&b, 10);
	CHECK_INT(date_format_imap(760096800LL, 0, &b), -1);
	CHECK_INT(b.len, 0);
	buf_free(&b);
	/* round trips */
	for (long long t = -86400LL * 400; t < 86400LL * 365 * 80; t += 86400LL * 37 + 3671) {
		buf_init(&b, 100);
		time_t back;
		int tz;
		CHECK_INT(date_format_rfc5322((time_t)t, 90, &b), 0);
		CHECK_INT(date_parse_rfc5322(b.data, b.len, &back, &tz), 0);
		CHECK_INT(back, t);
		CHECK_INT(tz, 90);
		buf_reset(&b);
		CHECK_INT(date_format_imap((time_t)t, -600, &b), 0);
		CHECK_INT(date_parse_imap_datetime(b.data, b.len, &back, &tz), 0);
		CHECK_INT(back, t);
		CHECK_INT(tz, -600);
		buf_free(&b);
	}
}

TEST(imap_parse)
{
	static const struct {
		const char *in;
		int ok;
		long long t;
	} dates[] = {
	    {"1-Feb-1994", 1, 760060800LL}, {"01-Feb-1994", 1, 760060800LL},
	    {"1-feb-1994", 1, 760060800LL}, {"31-Dec-2026", 1, 1798675200LL},
	    {" 1-Feb-1994", 0, 0},	    {"1-Feb-94", 0, 0},
	    {"1 Feb 1994", 0, 0},	    {"31-Feb-1994", 0, 0},
	    {"1-Feb-1994x", 0, 0},	    {"", 0, 0},
	    {"123-Feb-1994", 0, 0},	    {"1-Fe-1994", 0, 0},
	};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		time_t t = 0;
		int r = date_parse_imap_date(dates[i].in, strlen(dates[i].in), &t);
		CHECK_INT(r == 0, dates[i].ok);
		if (dates[i].ok)
			CHECK_INT(t, dates[i].t);
	}
	static const struct {
		const char *in;
		int ok;
		long long t;
		int tz;
	} dts[] = {
	    {"17-Jul-1996 02:44:25 -0700", 1, 837596665LL, -420},
	    {" 7-Jul-1996 02:44:25 -0700", 1, 836732665LL, -420},
	    {"7-Jul-1996 02:44:25 -0700", 1, 836732665LL, -420},
	    {"17-Jul-1996 02:44:25 -0760", 0, 0, 0},
	    {"17-Jul-1996 02:44:25", 0, 0, 0},
	    {"17-Jul-1996 2:44:25 -0700", 0, 0, 0},
	    {"17-Jul-1996 02:44:25 -0700 ", 0, 0, 0},
	    {"17-Jul-1996 25:44:25 -0700", 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(dts) / sizeof(dts[0]); i++) {
		time_t t = 0;
		int tz = 0;
		int r = date_parse_imap_datetime(dts[i].in, strlen(dts[i].in), &t, &tz);
		CHECK_INT(r == 0, dts[i].ok);
		if (dts[i].ok) {
			CHECK_INT(t, dts[i].t);
			CHECK_INT(tz, dts[i].tz);
		}
	}
}

int main(void)
{
	RUN(rfc5322_parse);
	RUN(rfc5322_prefixes);
	RUN(format);
	RUN(imap_parse);
	return test_done();
}
