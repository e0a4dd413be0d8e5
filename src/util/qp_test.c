/* Unit tests for util/qp: lenient decoding, Q words, encoding. */
#include <stdlib.h>

#include "test.h"
#include "util/qp.h"

TEST(decode)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"", ""},
	    {"plain text", "plain text"},
	    {"caf=C3=A9", "caf\xC3\xA9"},
	    {"caf=c3=a9", "caf\xC3\xA9"},
	    {"soft=\r\nbreak", "softbreak"},
	    {"soft=\nbreak", "softbreak"},
	    {"soft= \t\r\nbreak", "softbreak"},
	    {"hard\r\nbreak", "hard\r\nbreak"},
	    {"bare\nlf", "bare\nlf"},
	    {"trailing   \r\nspace\t\n", "trailing\r\nspace\n"},
	    {"a=3D=3d", "a=="},
	    {"bad=ZZescape", "bad=ZZescape"},
	    {"bad=4", "bad=4"},
	    {"end=", "end"},
	    {"=", ""},
	    {"x==41", "x=A"},
	    {"tab\there", "tab\there"},
	    {"8bit \xC3\xA9 raw", "8bit \xC3\xA9 raw"},
	    {"line=\r\n", "line"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 1000);
		CHECK_INT(qp_decode(&b, cases[i].in, strlen(cases[i].in)), 0);
		CHECK_STR(buf_cstr(&b), cases[i].want);
		buf_free(&b);
	}
	/* full output */
	struct buf b;
	buf_init(&b, 3);
	CHECK_INT(qp_decode(&b, "abcdef", 6), -1);
	buf_free(&b);
}

TEST(decode_q)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"Keld_J=F8rn", "Keld J\xF8rn"}, {"a_b__c", "a b  c"}, {"=3F=", "?="}, {"=Z1", "=Z1"}, {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 1000);
		CHECK_INT(qp_decode_q(&b, cases[i].in, strlen(cases[i].in)), 0);
		CHECK_STR(buf_cstr(&b), cases[i].want);
		buf_free(&b);
	}
}

static int max_line(const char *s)
{
	int max = 0, cur = 0;
	for (; *s; s++) {
		if (*s == '\n') {
			cur = 0;
			continue;
		}
		if (*s != '\r' && ++cur > max)
			max = cur;
	}
	return max;
}

TEST(encode)
{
	static const struct {
		const char *in, *want;
		int flags;
	} cases[] = {
	    {"", "", QP_TEXT},
	    {"hello", "hello", QP_TEXT},
	    {"caf\xC3\xA9", "caf=C3=A9", QP_TEXT},
	    {"a=b", "a=3Db", QP_TEXT},
	    {"line\nnext", "line\r\nnext", QP_TEXT},
	    {"line\r\nnext", "line\r\nnext", QP_TEXT},
	    {"trailing \nspace\t", "trailing=20\r\nspace=09", QP_TEXT},
	    {".dot\n.x", "=2Edot\r\n=2Ex", QP_TEXT},
	    {"From me\nFrom you", "=46rom me\r\n=46rom you", QP_TEXT},
	    {"a\r\nb", "a=0D=0Ab", QP_BINARY},
	    {"lone\rcr", "lone=0Dcr", QP_TEXT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 1000);
		CHECK_INT(qp_encode(&b, cases[i].in, strlen(cases[i].in), cases[i].flags), 0);
		CHECK_STR(buf_cstr(&b), cases[i].want);
		buf_free(&b);
	}
	/* long lines: soft breaks keep every line at 76 or less, and decoding
	 * gives the input back */
	char in[1000];
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		in[i] = (char)("ab=\xE9 cd"[i % 7]);
	in[sizeof(in) - 1] = '\0';
	struct buf e, d;
	buf_init(&e, 10000);
	buf_init(&d, 10000);
	CHECK_INT(qp_encode(&e, in, strlen(in), QP_TEXT), 0);
	CHECK(max_line(buf_cstr(&e)) <= 76);
	CHECK_INT(qp_decode(&d, e.data, e.len), 0);
	CHECK_STR(buf_cstr(&d), in);
	buf_free(&e);
	buf_free(&d);
	/* binary round trip of every byte value */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	buf_init(&e, 10000);
	buf_init(&d, 10000);
	CHECK_INT(qp_encode(&e, all, sizeof(all), QP_BINARY), 0);
	CHECK(max_line(buf_cstr(&e)) <= 76);
	CHECK_INT(qp_decode(&d, e.data, e.len), 0);
	CHECK_INT(d.len, 256);
	CHECK(memcmp(d.data, all, 256) == 0);
	buf_free(&e);
	buf_free(&d);
	/* full output leaves it unchanged */
	buf_init(&e, 5);
	CHECK_INT(qp_encode(&e, "abc\xE9", 4, QP_TEXT), -1);
	CHECK_INT(e.len, 0);
	buf_free(&e);
}

/* Decoding any prefix never reads past it. */
TEST(prefixes)
{
	const char *s = "a=C3=A9 b =\r\nc=4";
	size_t n = strlen(s);
	for (size_t i = 0; i <= n; i++) {
		char *p = malloc(i ? i : 1);
		memcpy(p, s, i);
		struct buf b;
		buf_init(&b, 100);
		CHECK_INT(qp_decode(&b, p, i), 0);
		buf_reset(&b);
		CHECK_INT(qp_decode_q(&b, p, i), 0);
		buf_free(&b);
		free(p);
	}
}

int main(void)
{
	RUN(decode);
	RUN(decode_q);
	RUN(encode);
	RUN(prefixes);
	return test_done();
}
