/* Unit tests for util/charset: conversion, validation, fold. */
#include "test.h"
#include "util/charset.h"

TEST(convert)
{
	static const struct {
		const char *charset, *in, *want;
	} cases[] = {
	    {"utf-8", "caf\xC3\xA9", "caf\xC3\xA9"},
	    {"UTF8", "caf\xC3\xA9", "caf\xC3\xA9"},
	    {"utf-8", "bad \xC3 x", "bad \xEF\xBF\xBD x"},
	    {"utf-8", "\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
	    {"utf-8", "\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},		       /* overlong */
	    {"iso-8859-1", "caf\xE9", "caf\xC3\xA9"},
	    {"ISO-8859-1", "\x93q\x94", "\xE2\x80\x9Cq\xE2\x80\x9D"}, /* read as windows-1252 */
	    {"latin1", "\xFF", "\xC3\xBF"},
	    {"windows-1252", "\x80", "\xE2\x82\xAC"},
	    {"iso-8859-15", "\xA4", "\xE2\x82\xAC"},
	    {"koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"},
	    {"us-ascii", "plain", "plain"},
	    {"us-ascii", "caf\xC3\xA9", "caf\xC3\xA9"}, /* mislabelled UTF-8 */
	    {"us-ascii", "caf\xE9", "caf\xC3\xA9"},	/* mislabelled Latin-1 */
	    {NULL, "caf\xE9", "caf\xC3\xA9"},
	    {"", "x", "x"},
	    {"x-unknown-charset", "caf\xC3\xA9", "caf\xC3\xA9"},
	    {"x-unknown-charset", "caf\xE9", "caf\xC3\xA9"},
	    {"../../etc/passwd", "caf\xE9", "caf\xC3\xA9"},
	    {"utf-8//TRANSLIT", "x", "x"},
	    {"\"utf-8\"", "caf\xC3\xA9", "caf\xC3\xA9"},
	    {"shift_jis", "\x82\xA0", "\xE3\x81\x82"},
	    {"gb2312", "\xC4\xE3", "\xE4\xBD\xA0"},
	    {"ks_c_5601-1987", "\xB0\xA1", "\xEA\xB0\x80"},
	    {"iso-2022-jp", "\x1B$B$\"\x1B(B", "\xE3\x81\x82"},
	    {"utf-7", "+AOk-", "\xC3\xA9"},
	    {"euc-jp", "\xA4\xA2\xFF", "\xE3\x81\x82\xEF\xBF\xBD"}, /* invalid byte */
	    {"utf-16le", "a\0b\0c", "ab\xEF\xBF\xBD"},		    /* truncated */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 1000);
		size_t n = strlen(cases[i].in);
		if (i == sizeof(cases) / sizeof(cases[0]) - 1)
			n = 5;
		CHECK_INT(charset_to_utf8(cases[i].charset, cases[i].in, n, &b), 0);
		CHECK_STR(buf_cstr(&b), cases[i].want);
		CHECK(utf8_valid(b.data ? b.data : "", b.len));
		buf_free(&b);
	}
	CHECK(charset_is_known("UTF-8"));
	CHECK(charset_is_known("iso-8859-2"));
	CHECK(charset_is_known("gb2312"));
	CHECK(!charset_is_known("x-nope"));
	CHECK(!charset_is_known("a/b"));
	/* a full buffer cuts at a character boundary */
	struct buf b;
	buf_init(&b, 4);
	CHECK_INT(charset_to_utf8("iso-8859-1", "\xE9\xE9\xE9", 3, &b), -1);
	CHECK_INT(b.len, 4);
	CHECK(utf8_valid(b.data, b.len));
	buf_free(&b);
	buf_init(&b, 5);
	CHECK_INT(charset_to_utf8("koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4", 6, &b), -1);
	CHECK(utf8_valid(b.data ? b.data : "", b.len));
	buf_free(&b);
}

TEST(utf8)
{
	CHECK(utf8_valid("", 0));
	CHECK(utf8_valid("\xF0\x9F\x98\x80", 4));
	CHECK(!utf8_valid("\xF0\x9F\x98", 3));
	CHECK(!utf8_valid("\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!utf8_valid("\xFF", 1));
	CHECK_INT(utf8_seq_len("\xE2\x82\xAC", 3), 3);
	CHECK_INT(utf8_seq_len("\xE2\x82", 2), 0);
	CHECK_INT(utf8_truncate("ab\xE2\x82\xAC", 5), 5);
	CHECK_INT(utf8_truncate("ab\xE2\x82\xAC", 4), 2);
	CHECK_INT(utf8_truncate("ab\xE2\x82\xAC", 3), 2);
	CHECK_INT(utf8_truncate("ab", 2), 2);
	struct buf b;
	buf_init(&b, 100);
	CHECK_INT(utf8_sanitize("a\xFF"
				"b\xC3\xA9",
				5, &b),
		  0);
	CHECK_STR(buf_cstr(&b), "a\xEF\xBF\xBD"
				"b\xC3\xA9");
	buf_free(&b);
}

TEST(fold)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"Hello World", "hello world"},
	    {"Caf\xC3\xA9 CR\xC3\x88"
	     "ME",
	     "cafe creme"},
	    {"Stra\xC3\x9F"
	     "e",
	     "strasse"},
	    {"\xC3\x86sir", "aesir"},
	    {"\xC5\x81\xC3\xB3"
	     "d\xC5\xBA",
	     "lodz"},
	    {"\xC5\x92uvre", "oeuvre"},
	    {"\xCE\xA3\xCE\xBF\xCF\x82", "\xCF\x83\xCE\xBF\xCF\x83"},
	    {"\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0",
	     "\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0"},
	    {"\xD0\x81", "\xD1\x91"},
	    {"x\xFFy", "x\xEF\xBF\xBDy"},
	    {"\xE6\x97\xA5\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC"},
	    {"a\xC3\x97"
	     "b",
	     "a\xC3\x97"
	     "b"}, /* multiplication sign kept */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 1000);
		CHECK_INT(charset_fold(cases[i].in, strlen(cases[i].in), &b), 0);
		CHECK_STR(buf_cstr(&b), cases[i].want);
		buf_free(&b);
	}
}

int main(void)
{
	RUN(convert);
	RUN(utf8);
	RUN(fold);
	return test_done();
}
