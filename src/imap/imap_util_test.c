/* Unit tests for imap_util: sequence sets, modified UTF-7 (RFC 3501 5.1.3
 * examples and malformed names) and response strings. */
#include <stdlib.h>

#include "imap/imap_util.h"
#include "test.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static struct buf out;

static const char *fmt_set(const char *in, uint32_t star)
{
	struct imap_seqset set;
	const char *error;
	buf_reset(&out);
	if (imap_seqset_parse(in, strlen(in), &set, &error) < 0) {
		buf_printf(&out, "ERR %s", error);
		return buf_cstr(&out);
	}
	imap_seqset_resolve(&set, star);
	for (size_t i = 0; i < set.count; i++)
		buf_printf(&out, "%s%u-%u", i ? "," : "", set.r[i].lo, set.r[i].hi);
	imap_seqset_free(&set);
	return buf_cstr(&out);
}

TEST(seqset)
{
	static const struct {
		const char *in;
		uint32_t star;
		const char *want;
	} cases[] = {
	    {"1", 10, "1-1"},
	    {"1:3", 10, "1-3"},
	    {"3:1", 10, "1-3"},
	    {"1:*", 10, "1-10"},
	    {"*", 10, "10-10"},
	    {"*:4", 10, "4-10"},
	    {"*", 0, "0-0"},
	    {"5,1:2,3,9:7,4", 10, "1-5,7-9"},
	    {"1,1,1", 10, "1-1"},
	    {"4294967294", 10, "4294967294-4294967294"},
	    {"1:4294967294,*", 4294967294u, "1-4294967294"},
	    {"", 10, "ERR Empty sequence set"},
	    {"0", 10, "ERR Invalid sequence set"},
	    {"01", 10, "ERR Invalid sequence set"},
	    {"1:", 10, "ERR Invalid sequence set"},
	    {"1,", 10, "ERR Invalid sequence set"},
	    {",1", 10, "ERR Invalid sequence set"},
	    {"1::2", 10, "ERR Invalid sequence set"},
	    {"a", 10, "ERR Invalid sequence set"},
	    {"4294967295", 10, "4294967295-4294967295"},
	    {"1:4294967295", 10, "1-4294967295"},
	    {"4294967296", 10, "ERR Invalid sequence set"},
	    {"99999999999", 10, "ERR Invalid sequence set"},
	    {"$", 10, "ERR Invalid sequence set"},
	    {"1 2", 10, "ERR Invalid sequence set"},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		CHECK_STR(fmt_set(cases[i].in, cases[i].star), cases[i].want);

	struct imap_seqset set;
	const char *error;
	CHECK_INT(imap_seqset_parse("2:4,8,10:*", 10, &set, &error), 0);
	imap_seqset_resolve(&set, 12);
	CHECK(!imap_seqset_contains(&set, 1));
	CHECK(imap_seqset_contains(&set, 2));
	CHECK(imap_seqset_contains(&set, 4));
	CHECK(!imap_seqset_contains(&set, 5));
	CHECK(imap_seqset_contains(&set, 8));
	CHECK(!imap_seqset_contains(&set, 9));
	CHECK(imap_seqset_contains(&set, 12));
	CHECK(!imap_seqset_contains(&set, 13));
	imap_seqset_free(&set);

	static const uint32_t v[] = {1, 2, 3, 5, 7, 8, 10};
	buf_reset(&out);
	imap_seqset_write(&out, v, N_ELEMENTS(v));
	CHECK_STR(buf_cstr(&out), "1:3,5,7:8,10");
	buf_reset(&out);
	imap_seqset_write(&out, v, 0);
	CHECK_STR(buf_cstr(&out), "");
}

TEST(utf7)
{
	static const struct {
		const char *utf8, *utf7;
	} ok[] = {
	    {"INBOX", "INBOX"},
	    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	     "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	    {"A&B", "A&-B"},
	    {"&", "&-"},
	    {"caf\xc3\xa9", "caf&AOk-"},
	    {"\xc3\xa9t\xc3\xa9", "&AOk-t&AOk-"},
	    {"\xf0\x9f\x98\x80", "&2D3eAA-"}, /* U+1F600, a surrogate pair */
	    {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
	    {"", ""},
	};
	for (size_t i = 0; i < N_ELEMENTS(ok); i++) {
		buf_reset(&out);
		CHECK_INT(imap_utf7_encode(ok[i].utf8, strlen(ok[i].utf8), &out), 0);
		CHECK_STR(buf_cstr(&out), ok[i].utf7);
		buf_reset(&out);
		CHECK_INT(imap_utf7_decode(ok[i].utf7, strlen(ok[i].utf7), &out), 0);
		CHECK_STR(buf_cstr(&out), ok[i].utf8);
	}
	static const char *const bad_utf7[] = {
	    "&",	   /* unterminated */
	    "&AOk",	   /* unterminated */
	    "&AGE-",	   /* printable ASCII "a" in base64 */
	    "&AOl-",	   /* non-zero padding bits */
	    "&2D0-",	   /* lone high surrogate */
	    "&3gA-",	   /* lone low surrogate */
	    "&*-",	   /* not base64 */
	    "caf\xc3\xa9", /* 8-bit */
	    "a\tb",	   /* control */
	    "&-&",
	};
	for (size_t i = 0; i < N_ELEMENTS(bad_utf7); i++) {
		buf_reset(&out);
		buf_puts(&out, "x");
		CHECK_INT(imap_utf7_decode(bad_utf7[i], strlen(bad_utf7[i]), &out), -1);
		CHECK_STR(buf_cstr(&out), "x");
	}
	buf_reset(&out);
	CHECK_INT(imap_utf7_encode("\xff", 1, &out), -1);
	CHECK_INT(imap_utf7_encode("a\xc3", 2, &out), -1);
	CHECK_STR(buf_cstr(&out), "");
}

TEST(strings)
{
	static const struct {
		const char *in;
		bool utf8;
		const char *want;
	} cases[] = {
	    {"abc", false, "\"abc\""},
	    {"", false, "\"\""},
	    {"a\"b\\c", false, "\"a\\\"b\\\\c\""},
	    {"caf\xc3\xa9", false, "{5}\r\ncaf\xc3\xa9"},
	    {"caf\xc3\xa9", true, "\"caf\xc3\xa9\""},
	    {"a\r\nb", true, "{4}\r\na\r\nb"},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		buf_reset(&out);
		imap_append_string(&out, cases[i].in, strlen(cases[i].in), cases[i].utf8);
		CHECK_STR(buf_cstr(&out), cases[i].want);
	}
	static const struct {
		const char *in, *want;
	} astr[] = {
	    {"INBOX", "INBOX"}, {"a b", "\"a b\""}, {"NIL", "\"NIL\""},
	    {"", "\"\""},	{"a*", "\"a*\""},   {"a]", "a]"},
	};
	for (size_t i = 0; i < N_ELEMENTS(astr); i++) {
		buf_reset(&out);
		imap_append_astring(&out, astr[i].in, strlen(astr[i].in), false);
		CHECK_STR(buf_cstr(&out), astr[i].want);
	}
	buf_reset(&out);
	imap_append_nstring(&out, NULL, false);
	CHECK_STR(buf_cstr(&out), "NIL");
}

TEST(partial)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t lo, hi;
	} cases[] = {
	    {"1:1", 0, 1, 1},
	    {"2:4", 0, 2, 4},
	    {"4:2", 0, 2, 4},
	    {"1:4294967295", 0, 1, 4294967295u},
	    {"4294967295:1", 0, 1, 4294967295u},
	    {"1", -1, 0, 0},
	    {"1:", -1, 0, 0},
	    {":1", -1, 0, 0},
	    {"0:3", -1, 0, 0},
	    {"3:0", -1, 0, 0},
	    {"1:*", -1, 0, 0},
	    {"*:1", -1, 0, 0},
	    {"-1:-5", -1, 0, 0},
	    {"1:2:3", -1, 0, 0},
	    {"1:4294967296", -1, 0, 0},
	    {"+1:2", -1, 0, 0},
	    {"", -1, 0, 0},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		uint32_t lo = 0, hi = 0;
		int r = imap_partial_parse(cases[i].in, strlen(cases[i].in), &lo, &hi);
		CHECK_INT(r, cases[i].ret);
		if (r == 0 && cases[i].ret == 0) {
			CHECK_INT(lo, cases[i].lo);
			CHECK_INT(hi, cases[i].hi);
		}
	}
	/* Every split of a valid range is a view of its own: no reading past len. */
	const char *s = "12:34";
	for (size_t n = 0; n <= strlen(s); n++) {
		uint32_t lo, hi;
		CHECK_INT(imap_partial_parse(s, n, &lo, &hi), n == 4 || n == 5 ? 0 : -1);
	}
}

TEST(u32_arrays)
{
	uint32_t v[] = {9, 1, 4294967295u, 5, 1, 3};
	imap_u32_sort(v, N_ELEMENTS(v));
	static const uint32_t sorted[] = {1, 1, 3, 5, 9, 4294967295u};
	CHECK(memcmp(v, sorted, sizeof(sorted)) == 0);
	static const struct {
		uint32_t x;
		bool in;
	} cases[] = {{0, false}, {1, true},   {2, false},	    {3, true},		{5, true},
		     {9, true},	 {10, false}, {4294967294u, false}, {4294967295u, true}};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		CHECK(imap_u32_contains(v, N_ELEMENTS(v), cases[i].x) == cases[i].in);
	/* Every prefix v[0..n): a value is found exactly when it is in it. */
	for (size_t n = 0; n <= N_ELEMENTS(v); n++)
		for (size_t i = 0; i < N_ELEMENTS(v); i++) {
			bool want = false;
			for (size_t j = 0; j < n; j++)
				want = want || v[j] == v[i];
			CHECK(imap_u32_contains(v, n, v[i]) == want);
		}
	CHECK(!imap_u32_contains(NULL, 0, 1));
	imap_u32_sort(NULL, 0);
}

int main(void)
{
	buf_init(&out, 1 << 20);
	RUN(seqset);
	RUN(utf7);
	RUN(strings);
	RUN(partial);
	RUN(u32_arrays);
	buf_free(&out);
	return test_done();
}
