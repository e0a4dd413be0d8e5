/* Unit tests for src/util: buf, strnum, base64, lineio. */
#include <event2/buffer.h>
#include <stdlib.h>

#include "test.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/lineio.h"
#include "util/strnum.h"

TEST(buf_limits)
{
	struct buf b;
	buf_init(&b, 8);
	CHECK_STR(buf_cstr(&b), "");
	CHECK_INT(buf_puts(&b, "12345"), 0);
	CHECK_INT(buf_puts(&b, "6789"), -1);
	CHECK_STR(buf_cstr(&b), "12345");
	CHECK_INT(buf_printf(&b, "%d", 678), 0);
	CHECK_STR(buf_cstr(&b), "12345678");
	CHECK_INT(buf_putc(&b, 'x'), -1);
	buf_consume(&b, 3);
	CHECK_STR(buf_cstr(&b), "45678");
	buf_free(&b);
	buf_init(&b, 100000);
	CHECK_INT(buf_printf(&b, "%0300d", 7), 0);
	CHECK_INT(b.len, 300);
	buf_free(&b);
}

TEST(strnum)
{
	static const struct {
		const char *in;
		int ok;
		uint64_t want;
	} cases[] = {
		{"0", 1, 0}, {"42", 1, 42}, {"18446744073709551615", 1, UINT64_MAX},
		{"18446744073709551616", 0, 0}, {"", 0, 0}, {"-1", 0, 0}, {"+1", 0, 0},
		{" 1", 0, 0}, {"1 ", 0, 0}, {"1x", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;
		int r = str_to_u64(cases[i].in, &v);
		CHECK_INT(r == 0, cases[i].ok);
		if (cases[i].ok)
			CHECK_INT(v, cases[i].want);
	}
	uint32_t v32;
	CHECK_INT(str_to_u32("4294967296", &v32), -1);
	uint64_t v;
	CHECK_INT(str_to_size("50M", &v), 0);
	CHECK_INT(v, 50 * 1024 * 1024);
	CHECK_INT(str_to_seconds("5m", &v), 0);
	CHECK_INT(v, 300);
	CHECK_INT(str_to_seconds("m", &v), -1);
	/* hex_digit over every byte, as char (maybe negative) and as int. */
	for (int c = -128; c < 256; c++) {
		int want = c >= '0' && c <= '9' ? c - '0'
			   : c >= 'a' && c <= 'f' ? c - 'a' + 10
			   : c >= 'A' && c <= 'F' ? c - 'A' + 10
						  : -1;
		CHECK_INT(hex_digit(c), want);
	}
	CHECK_INT(hex_digit((char)0xe9), -1);
}

TEST(base64)
{
	static const struct {
		const char *plain, *enc;
	} cases[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 100);
		CHECK_INT(base64_encode(&b, cases[i].plain, strlen(cases[i].plain)), 0);
		CHECK_STR(buf_cstr(&b), cases[i].enc);
		buf_reset(&b);
		CHECK_INT(base64_decode(&b, cases[i].enc, strlen(cases[i].enc)), 0);
		CHECK_STR(buf_cstr(&b), cases[i].plain);
		buf_free(&b);
	}
	struct buf b;
	buf_init(&b, 100);
	CHECK_INT(base64_decode(&b, "Zm9", 3), -1);
	CHECK_INT(base64_decode(&b, "Zm 9v", 5), -1);
	buf_reset(&b);
	CHECK_INT(base64_decode(&b, "=", 1), 0);
	CHECK_INT(b.len, 0);
	CHECK_INT(base64_decode_lenient(&b, "Zm9v\r\nYmFy\r\n", 12), 0);
	CHECK_STR(buf_cstr(&b), "foobar");
	buf_free(&b);
}

/* Feeds the input at every split point and checks the same lines come out. */
TEST(lineio_splits)
{
	const char *input = "HELO a\r\nbare\nlf\r\n\r\nlast";
	for (size_t split = 0; split <= strlen(input); split++) {
		struct evbuffer *in = evbuffer_new();
		char line[64];
		size_t len;
		int got = 0;
		const char *want[] = {"HELO a", "bare\nlf", ""};
		evbuffer_add(in, input, split);
		while (lineio_get(in, 32, LINEIO_EOL_CRLF, line, sizeof(line), &len) == LINEIO_LINE)
			CHECK_STR(line, want[got++]);
		evbuffer_add(in, input + split, strlen(input) - split);
		while (lineio_get(in, 32, LINEIO_EOL_CRLF, line, sizeof(line), &len) == LINEIO_LINE)
			CHECK_STR(line, want[got++]);
		CHECK_INT(got, 3);
		CHECK_INT(evbuffer_get_length(in), 4);
		evbuffer_free(in);
	}
}

TEST(lineio_limits)
{
	struct evbuffer *in = evbuffer_new();
	char line[16];
	size_t len;
	evbuffer_add(in, "0123456789", 10);
	CHECK_INT(lineio_get(in, 10, LINEIO_EOL_CRLF, line, sizeof(line), &len), LINEIO_NEED_MORE);
	evbuffer_add(in, "\r", 1);
	CHECK_INT(lineio_get(in, 10, LINEIO_EOL_CRLF, line, sizeof(line), &len), LINEIO_NEED_MORE);
	evbuffer_add(in, "\n", 1);
	CHECK_INT(lineio_get(in, 10, LINEIO_EOL_CRLF, line, sizeof(line), &len), LINEIO_LINE);
	CHECK_INT(len, 10);
	evbuffer_add(in, "0123456789ab", 12);
	CHECK_INT(lineio_get(in, 10, LINEIO_EOL_CRLF, line, sizeof(line), &len), LINEIO_TOO_LONG);
	CHECK_INT(lineio_skip_line(in), 0);
	evbuffer_add(in, "xx\nA\n", 5);
	CHECK_INT(lineio_skip_line(in), 1);
	CHECK_INT(lineio_get(in, 10, LINEIO_EOL_LF_OR_CRLF, line, sizeof(line), &len), LINEIO_LINE);
	CHECK_STR(line, "A");
	evbuffer_free(in);
}

int main(void)
{
	RUN(buf_limits);
	RUN(strnum);
	RUN(base64);
	RUN(lineio_splits);
	RUN(lineio_limits);
	return test_done();
}
