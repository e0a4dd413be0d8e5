/* Unit tests for smtp_reply: a table of server outputs with the replies
 * expected (code, enhanced code, text, or the error), each fed whole, cut
 * at every split point into two pieces, and one byte at a time, in an
 * exactly-sized heap copy; and a table of EHLO replies. */
#include <stdlib.h>

#include "smtp/smtp_reply.h"
#include "test.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *in;
	const char *want; /* replies as "CODE|ENH|TEXT" joined by " // ", or "ERR:text" after them */
} cases[] = {
    {"220 mx.example ESMTP\r\n", "220||mx.example ESMTP"},
    {"250 2.1.0 Ok\r\n", "250|2.1.0|2.1.0 Ok"},
    {"550 5.1.1 <bob@b.test>: Recipient address rejected\r\n",
     "550|5.1.1|5.1.1 <bob@b.test>: Recipient address rejected"},
    {"250-mx.b.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n", "250||mx.b.test\nPIPELINING\n8BITMIME"},
    {"354\r\n", "354||"},
    {"250 \r\n", "250||"},
    {"250-\r\n250 x\r\n", "250||\nx"},
    {"250 ok\n", "250||ok"}, /* bare LF */
    {"250-a\n250 b\r\n", "250||a\nb"},
    {"451 4.7.1 try later\r\n250 ok\r\n", "451|4.7.1|4.7.1 try later // 250||ok"},
    {"250 2.0.0\r\n", "250|2.0.0|2.0.0"},
    {"250 5.0.0 wrong class\r\n", "250||5.0.0 wrong class"}, /* enh of another class is text */
    {"550 5.1.1234 x\r\n", "550||5.1.1234 x"},
    {"550 5.1 x\r\n", "550||5.1 x"},
    {"550 5.10.10 x\r\n", "550|5.10.10|5.10.10 x"},
    {"250 a\tb\x01"
     "c\r\n",
     "250||a\tb?c"},
    {"250 partial", ""}, /* incomplete: nothing yet */
    {"250-first\r\n", ""},
    {"abc\r\n", "ERR:malformed reply: a line does not start with a reply code"},
    {"25\r\n", "ERR:malformed reply: a line does not start with a reply code"},
    {"650 x\r\n", "ERR:malformed reply: a line does not start with a reply code"},
    {"260 x\r\n", "ERR:malformed reply: a line does not start with a reply code"},
    {"250x\r\n", "ERR:malformed reply: no space or hyphen after the reply code"},
    {"250-a\r\n251 b\r\n", "ERR:malformed reply: lines of one reply have different codes"},
    {"\r\n", "ERR:malformed reply: a line does not start with a reply code"},
    {"220 hi\r\n550 no\r\nxyz\r\n",
     "220||hi // 550||no // ERR:malformed reply: a line does not start with a reply code"},
};

/* Runs the parser over in, cut into pieces of `piece` bytes (0 = one
 * piece, or the two pieces [0,split) and [split,len) when split > 0). */
static const char *run(const char *in, size_t len, size_t piece, size_t split, struct buf *out)
{
	struct smtp_reply_parser *p = malloc(sizeof(*p));
	smtp_reply_parser_init(p);
	buf_reset(out);
	char *copy = malloc(len ? len : 1);
	memcpy(copy, in, len);
	size_t pos = 0;
	while (pos < len) {
		size_t end = len;
		if (piece > 0)
			end = pos + piece < len ? pos + piece : len;
		else if (split > 0 && pos < split)
			end = split;
		/* The caller hands over exactly [pos, end) in a fresh allocation. */
		size_t n = end - pos;
		char *chunk = malloc(n);
		memcpy(chunk, copy + pos, n);
		size_t used = 0;
		const char *error = NULL;
		int r = smtp_reply_parse(p, chunk, n, &used, &error);
		free(chunk);
		if (r < 0) {
			if (out->len)
				buf_puts(out, " // ");
			buf_printf(out, "ERR:%s", error);
			break;
		}
		if (r == 1) {
			if (out->len)
				buf_puts(out, " // ");
			buf_printf(out, "%u|%s|%s", p->reply.code, p->reply.enh, p->reply.text);
		}
		pos += used;
		if (r == 0 && used != n) {
			buf_puts(out, " // BUG: need-more without consuming all");
			break;
		}
	}
	free(copy);
	free(p);
	return buf_cstr(out);
}

TEST(table)
{
	struct buf out;
	buf_init(&out, 1 << 20);
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		size_t len = strlen(cases[i].in);
		CHECK_STR(run(cases[i].in, len, 0, 0, &out), cases[i].want);
		CHECK_STR(run(cases[i].in, len, 1, 0, &out), cases[i].want);
		for (size_t split = 1; split < len; split++)
			CHECK_STR(run(cases[i].in, len, 0, split, &out), cases[i].want);
	}
	buf_free(&out);
}

TEST(limits)
{
	struct buf in, out;
	buf_init(&in, 1 << 22);
	buf_init(&out, 1 << 22);
	/* A line of exactly the maximum is fine, one more byte is not. */
	buf_puts(&in, "250 ");
	while (in.len < SMTP_REPLY_LINE_MAX)
		buf_putc(&in, 'x');
	buf_puts(&in, "\r\n");
	const char *got = run(in.data, in.len, 0, 0, &out);
	CHECK(strncmp(got, "250||xxx", 8) == 0);
	buf_reset(&in);
	buf_puts(&in, "250 ");
	while (in.len < SMTP_REPLY_LINE_MAX + 1)
		buf_putc(&in, 'x');
	buf_puts(&in, "\r\n");
	CHECK_STR(run(in.data, in.len, 0, 0, &out), "ERR:reply line too long");
	CHECK_STR(run(in.data, in.len, 7, 0, &out), "ERR:reply line too long");
	/* Too many lines. */
	buf_reset(&in);
	for (int i = 0; i <= SMTP_REPLY_LINES_MAX; i++)
		buf_puts(&in, "250-x\r\n");
	CHECK_STR(run(in.data, in.len, 0, 0, &out), "ERR:reply has too many lines");
	/* Text is capped but the reply still completes. */
	buf_reset(&in);
	for (int i = 0; i < 100; i++) {
		buf_puts(&in, "250-");
		for (int j = 0; j < 100; j++)
			buf_putc(&in, 'y');
		buf_puts(&in, "\r\n");
	}
	buf_puts(&in, "250 end\r\n");
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p);
	size_t used;
	const char *error;
	CHECK_INT(smtp_reply_parse(&p, in.data, in.len, &used, &error), 1);
	CHECK_INT(used, in.len);
	CHECK(p.reply.truncated);
	CHECK_INT(p.reply.text_len, SMTP_REPLY_TEXT_MAX);
	CHECK_INT(strlen(p.reply.text), SMTP_REPLY_TEXT_MAX);
	buf_free(&in);
	buf_free(&out);
}

TEST(format)
{
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p);
	const char *in = "550-5.1.1 first\r\n550 5.1.1 second\r\n";
	size_t used;
	const char *error;
	CHECK_INT(smtp_reply_parse(&p, in, strlen(in), &used, &error), 1);
	char out[64];
	smtp_reply_format(&p.reply, out, sizeof(out));
	CHECK_STR(out, "550 5.1.1 first 5.1.1 second");
	smtp_reply_format(&p.reply, out, 10);
	CHECK_STR(out, "550 5.1.1");
	smtp_reply_format(&p.reply, out, 3);
	CHECK_STR(out, "55");
}

static const struct {
	const char *in;
	const char *want;
} ehlo_cases[] = {
    {"250-mx.b.test Hello\r\n250-PIPELINING\r\n250-SIZE "
     "10240000\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
     "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250 CHUNKING\r\n",
     "pipelining starttls 8bitmime smtputf8 chunking enh dsn size=10240000"},
    {"250 mx.b.test\r\n", ""},
    {"250-PIPELINING\r\n250 8BITMIME\r\n", "8bitmime"}, /* the first line is the greeting */
    {"250-x\r\n250-size\r\n250 pipelining\r\n", "pipelining size=0"},
    {"250-x\r\n250-SIZE abc\r\n250 SIZEX\r\n", "size=0"},
    {"250-x\r\n250-SIZE=100\r\n250 AUTH=LOGIN PLAIN\r\n", "size=0"},
    {"250-x\r\n250-  STARTTLS  \r\n250 SIZE 99999999999999999999999\r\n", "starttls size=0"},
};

TEST(ehlo)
{
	struct buf out;
	buf_init(&out, 4096);
	for (size_t i = 0; i < N_ELEMENTS(ehlo_cases); i++) {
		struct smtp_reply_parser p;
		smtp_reply_parser_init(&p);
		size_t used;
		const char *error;
		CHECK_INT(smtp_reply_parse(&p, ehlo_cases[i].in, strlen(ehlo_cases[i].in), &used, &error), 1);
		struct smtp_ehlo e;
		smtp_ehlo_parse(&p.reply, &e);
		buf_reset(&out);
		if (e.pipelining)
			buf_puts(&out, "pipelining ");
		if (e.starttls)
			buf_puts(&out, "starttls ");
		if (e.eightbitmime)
			buf_puts(&out, "8bitmime ");
		if (e.smtputf8)
			buf_puts(&out, "smtputf8 ");
		if (e.chunking)
			buf_puts(&out, "chunking ");
		if (e.enhancedstatuscodes)
			buf_puts(&out, "enh ");
		if (e.dsn)
			buf_puts(&out, "dsn ");
		if (e.size_set)
			buf_printf(&out, "size=%llu ", (unsigned long long)e.size);
		if (out.len)
			buf_truncate(&out, out.len - 1);
		CHECK_STR(buf_cstr(&out), ehlo_cases[i].want);
	}
	buf_free(&out);
}

int main(void)
{
	RUN(table);
	RUN(limits);
	RUN(format);
	RUN(ehlo);
	return test_done();
}
