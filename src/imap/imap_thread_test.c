/* Unit tests for imap_thread: base subjects (RFC 5256 2.1) as a table, and
 * THREAD REFERENCES / ORDEREDSUBJECT on small message sets whose expected
 * output was checked against the RFC's rules and Dovecot's imaptest cases
 * (loops, missing parents, dummies, subject merging). */
#include <stdlib.h>

#include "imap/imap_thread.h"
#include "test.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

TEST(base_subject)
{
	static const struct {
		const char *in, *want;
		bool reply;
	} cases[] = {
	    {"Hello", "Hello", false},
	    {"Re: Hello", "Hello", true},
	    {"RE:Hello", "Hello", true},
	    {"Re: Re: Fwd: Hello", "Hello", true},
	    {"Fw: Hello", "Hello", true},
	    {"Re[2]: Hello", "Hello", true},
	    {"[list] Re: Hello", "Hello", true},
	    {"[list] Hello", "Hello", false},
	    {"[xyz]", "[xyz]", false},
	    {"Hello (fwd)", "Hello", true},
	    {"Hello (fwd)  (FWD) ", "Hello", true},
	    {"[Fwd: Hello]", "Hello", true},
	    {"re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", true},
	    {"[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", true},
	    {"  spaced \t  out  ", "spaced out", false},
	    {"Ad: Re: Ad: x", "Ad: Re: Ad: x", false},
	    {"Re:", "", true},
	    {"", "", false},
	    {NULL, "", false},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		bool reply = !cases[i].reply;
		char *got = imap_base_subject(cases[i].in, &reply);
		CHECK_STR(got, cases[i].want);
		CHECK_INT(reply, cases[i].reply);
		free(got);
	}
}

struct tmsg {
	const char *subject, *message_id, *in_reply_to, *references;
	time_t date;
};

static const char *run(const struct tmsg *v, size_t n, bool refs, struct buf *out)
{
	struct imap_thread_msg m[32];
	for (size_t i = 0; i < n; i++) {
		m[i].id = m[i].seq = (uint32_t)(i + 1);
		m[i].date = v[i].date;
		m[i].subject = v[i].subject;
		m[i].message_id = v[i].message_id;
		m[i].in_reply_to = v[i].in_reply_to;
		m[i].references = v[i].references;
	}
	buf_reset(out);
	if (refs)
		imap_thread_references(m, n, out);
	else
		imap_thread_orderedsubject(m, n, out);
	return buf_cstr(out);
}

TEST(references)
{
	struct buf out;
	buf_init(&out, 1 << 16);
	/* imaptest "thread": a loop between two messages' References. */
	static const struct tmsg loop[] = {
	    {NULL, "<a@b>", NULL, NULL, 1700003000},
	    {NULL, "<b@b>", NULL, "<a@b> <c@b>", 1699995000},
	    {NULL, "<c@b>", NULL, "<b@b>", 1700000000},
	};
	CHECK_STR(run(loop, 3, true, &out), "(3 2)(1)");
	/* A chain, a sibling, an unrelated message. */
	static const struct tmsg chain[] = {
	    {"Plans", "<1@x>", NULL, NULL, 100},
	    {"Re: Plans", "<2@x>", "<1@x>", NULL, 200},
	    {"Re: Plans", "<3@x>", NULL, "<1@x>", 300},
	    {"Other", "<4@x>", NULL, NULL, 150},
	    {"Re: Plans", "<5@x>", NULL, "<1@x> <2@x>", 400},
	};
	CHECK_STR(run(chain, 5, true, &out), "(1 (2 5)(3))(4)");
	/* A missing parent becomes a dummy holding both replies. */
	static const struct tmsg dummy[] = {
	    {"Re: Lost", "<2@x>", NULL, "<1@x>", 200},
	    {"Re: Lost", "<3@x>", NULL, "<1@x>", 100},
	};
	CHECK_STR(run(dummy, 2, true, &out), "((2)(1))");
	/* Same base subject, no references: merged under one dummy (RFC 5256
	 * 4 (5)(C): a later reply joins the dummy that holds the first two). */
	static const struct tmsg subj[] = {
	    {"Topic", "<1@x>", NULL, NULL, 100},
	    {"Topic", "<2@x>", NULL, NULL, 200},
	    {"Re: Topic", "<3@x>", NULL, NULL, 300},
	};
	CHECK_STR(run(subj, 3, true, &out), "((1)(2)(3))");
	/* Duplicate Message-IDs and none at all. */
	static const struct tmsg dup[] = {
	    {"A", "<1@x>", NULL, NULL, 100},
	    {"B", "<1@x>", NULL, NULL, 200},
	    {"C", NULL, NULL, NULL, 300},
	};
	CHECK_STR(run(dup, 3, true, &out), "(1)(2)(3)");
	CHECK_STR(run(dup, 0, true, &out), "");
	buf_free(&out);
}

TEST(orderedsubject)
{
	struct buf out;
	buf_init(&out, 1 << 16);
	static const struct tmsg v[] = {
	    {"a", NULL, NULL, NULL, 100},     {"C", NULL, NULL, NULL, 100},    {"b", NULL, NULL, NULL, 100},
	    {"Re: c", NULL, NULL, NULL, 100}, {"RE: C", NULL, NULL, NULL, 90}, {"x", NULL, NULL, NULL, 50},
	};
	/* c-group: 5 (date 90) is the parent of 2 and 4. */
	CHECK_STR(run(v, 6, false, &out), "(6)(5 (2)(4))(1)(3)");
	static const struct tmsg two[] = {{"z", NULL, NULL, NULL, 1}, {"Re: z", NULL, NULL, NULL, 2}};
	CHECK_STR(run(two, 2, false, &out), "(1 2)");
	buf_free(&out);
}

int main(void)
{
	RUN(base_subject);
	RUN(references);
	RUN(orderedsubject);
	return test_done();
}
