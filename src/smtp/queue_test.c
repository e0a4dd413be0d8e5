/* Unit tests for queue: retry arithmetic at and around the schedule's end
 * and the expiry, last-error strings (making, splitting, reading a
 * server's reply back out of them), domains and message scanning. */
#include "smtp/queue.h"
#include "test.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

TEST(next_attempt)
{
	static const uint64_t retry[] = {60, 300, 3600};
	static const struct {
		int attempts;
		time_t now, created;
		uint64_t lifetime;
		time_t want;
	} cases[] = {
	    {1, 1000, 1000, 86400, 1060}, /* first retry after the first wait */
	    {2, 1000, 1000, 86400, 1300},
	    {3, 1000, 1000, 86400, 4600},
	    {4, 1000, 1000, 86400, 4600}, /* the last wait repeats */
	    {99, 1000, 1000, 86400, 4600},
	    {0, 1000, 1000, 86400, 1060}, /* no attempt counted yet: as the first */
	    {3, 1000, 1000, 2000, 3000},  /* never past the expiry: last attempt then */
	    {3, 5000, 1000, 2000, 5000},  /* already expired: now */
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		CHECK_INT(queue_next_attempt(retry, N_ELEMENTS(retry), cases[i].attempts, cases[i].now,
					     cases[i].created, cases[i].lifetime),
			  cases[i].want);
	CHECK(!queue_expired(1999, 1000, 1000));
	CHECK(queue_expired(2000, 1000, 1000));
}

TEST(errors)
{
	char out[64], enh[16];
	const char *text;
	queue_error_make(out, sizeof(out), "5.1.1", "mx said: no");
	CHECK_STR(out, "5.1.1 mx said: no");
	queue_error_split(out, false, enh, &text);
	CHECK_STR(enh, "5.1.1");
	CHECK_STR(text, "mx said: no");
	static const struct {
		const char *in;
		bool perm;
		const char *enh, *text;
	} cases[] = {
	    {"4.4.1 connect to x: refused", false, "4.4.1", "connect to x: refused"},
	    {"5.1.10 null MX", true, "5.1.10", "null MX"},
	    {"no code here", false, "4.0.0", "no code here"},
	    {"no code here", true, "5.0.0", "no code here"},
	    {"3.1.1 wrong class", false, "4.0.0", "3.1.1 wrong class"},
	    {"5.1111.1 too long", false, "4.0.0", "5.1111.1 too long"},
	    {"5.1. x", false, "4.0.0", "5.1. x"},
	    {"", false, "4.0.0", ""},
	    {NULL, true, "5.0.0", ""},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		queue_error_split(cases[i].in, cases[i].perm, enh, &text);
		CHECK_STR(enh, cases[i].enh);
		CHECK_STR(text, cases[i].text);
	}
	queue_error_make(out, 10, "5.1.1", "a long text that is cut");
	CHECK_STR(out, "5.1.1 a l");
}

TEST(smtp_reply_in_error)
{
	char mta[256], diag[600];
	CHECK(
	    queue_error_smtp("mx.b.test[127.0.0.3] said: 550 5.1.1 <x@b.test>: unknown (in reply to RCPT TO)",
			     mta, sizeof(mta), diag, sizeof(diag)));
	CHECK_STR(mta, "mx.b.test");
	CHECK_STR(diag, "550 5.1.1 <x@b.test>: unknown");
	CHECK(queue_error_smtp("h said: 451 x", mta, sizeof(mta), diag, sizeof(diag)));
	CHECK_STR(mta, "h");
	CHECK_STR(diag, "451 x");
	CHECK(!queue_error_smtp("connect to mx.b.test[127.0.0.3]:25: Connection refused", mta, sizeof(mta),
				diag, sizeof(diag)));
	CHECK(!queue_error_smtp(" said: x", mta, sizeof(mta), diag, sizeof(diag)));
	CHECK(queue_error_smtp("m said: 550 long", mta, sizeof(mta), diag, 5));
	CHECK_STR(diag, "550 ");
}

TEST(domains)
{
	char d[16];
	CHECK_INT(queue_domain("bob@B.Test", d, sizeof(d)), 0);
	CHECK_STR(d, "b.test");
	CHECK_INT(queue_domain("\"a@b\"@c.test", d, sizeof(d)), 0);
	CHECK_STR(d, "c.test");
	CHECK_INT(queue_domain("nodomain", d, sizeof(d)), -1);
	CHECK_INT(queue_domain("x@", d, sizeof(d)), -1);
	CHECK_INT(queue_domain("x@a-very-long-domain.test", d, sizeof(d)), -1);
}

TEST(scan)
{
	bool body, header;
	const char *m = "Subject: x\r\n\r\nplain\r\n";
	queue_msg_scan(m, strlen(m), &body, &header);
	CHECK(!body && !header);
	m = "Subject: x\r\n\r\nGr\xc3\xbc\xc3\x9f"
	    "e\r\n";
	queue_msg_scan(m, strlen(m), &body, &header);
	CHECK(body && !header);
	m = "Subject: Gr\xc3\xbc\xc3\x9f"
	    "e\r\n\r\nplain\r\n";
	queue_msg_scan(m, strlen(m), &body, &header);
	CHECK(!body && header);
	m = "Subject: no body";
	queue_msg_scan(m, strlen(m), &body, &header);
	CHECK(!body && !header);
	CHECK(queue_str_8bit("j\xc3\xb6rg@x.test"));
	CHECK(!queue_str_8bit("jorg@x.test"));
	CHECK(!queue_str_8bit(NULL));
}

int main(void)
{
	RUN(next_attempt);
	RUN(errors);
	RUN(smtp_reply_in_error);
	RUN(domains);
	RUN(scan);
	return test_done();
}
