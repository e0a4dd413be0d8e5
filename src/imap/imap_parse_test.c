/* Unit tests for imap_parse: a table of inputs (one or more command lines)
 * and the expected transcript of what the parser reported, written as one
 * string. Every input is then fed again cut at every split point, and one
 * byte at a time, and must give the same transcript; every piece is an
 * exactly-sized heap copy so AddressSanitizer sees any read past it. */
#include <stdlib.h>

#include "imap/imap_parse.h"
#include "test.h"
#include "util/buf.h"
#include "util/mem.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static void fmt_arg(struct buf *out, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		buf_printf(out, "%s", a->str);
		break;
	case IMAP_ARG_QUOTED:
		buf_printf(out, "\"%s\"", a->str);
		break;
	case IMAP_ARG_LITERAL:
		buf_printf(out, "%s{%zu}", a->literal8 ? "~" : "", a->len);
		buf_append(out, a->str, a->len);
		break;
	case IMAP_ARG_LIST:
		buf_putc(out, '(');
		for (size_t i = 0; i < a->count; i++) {
			if (i)
				buf_putc(out, ' ');
			fmt_arg(out, &a->list[i]);
		}
		buf_putc(out, ')');
		break;
	}
}

/* Literal policy of the test driver: literals up to 100 bytes are read,
 * bigger synchronizing ones refused, bigger non-synchronizing discarded. */
struct driver {
	struct imap_parser p;
	struct buf out;
	bool discarding;
};

static void drive(struct driver *d, const char *data, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		size_t used;
		int r = imap_parser_feed(&d->p, data + pos, len - pos, &used);
		pos += used;
		switch (r) {
		case IMAP_PARSE_MORE:
			if (used == 0 && pos < len)
				buf_puts(&d->out, "[STUCK]");
			break;
		case IMAP_PARSE_ERROR:
			buf_printf(&d->out, "[ERR %s %s%s]", d->p.tag[0] ? d->p.tag : "*", d->p.error,
				   d->p.too_long ? " toolong" : "");
			break;
		case IMAP_PARSE_LITERAL:
			buf_printf(&d->out, "[LIT %llu%s]", (unsigned long long)d->p.literal_size,
				   d->p.literal_sync ? "" : "+");
			if (d->p.literal_size <= 100)
				imap_parser_literal_accept(&d->p);
			else if (d->p.literal_sync) {
				buf_printf(&d->out, "[NO %s]", d->p.tag);
				imap_parser_reset(&d->p);
			} else {
				imap_parser_literal_discard(&d->p);
				d->discarding = true;
			}
			break;
		case IMAP_PARSE_DONE:
			buf_printf(&d->out, "[%s %s", d->p.tag, d->p.name);
			for (size_t i = 0; i < d->p.args.count; i++) {
				buf_putc(&d->out, ' ');
				fmt_arg(&d->out, &d->p.args.list[i]);
			}
			buf_puts(&d->out, d->discarding ? " TOOBIG]" : "]");
			d->discarding = false;
			imap_parser_reset(&d->p);
			break;
		}
	}
}

static const char *run_split(const char *input, size_t len, size_t max_line, size_t split, bool bytewise,
			     struct buf *out)
{
	struct driver d;
	imap_parser_init(&d.p, max_line);
	d.out = *out;
	d.discarding = false;
	buf_reset(&d.out);
	if (bytewise) {
		for (size_t i = 0; i < len; i++) {
			char *one = xmemdup(input + i, 1);
			drive(&d, one, 1);
			free(one);
		}
	} else {
		char *a = xmemdup(input, split), *b = xmemdup(input + split, len - split);
		drive(&d, a, split);
		drive(&d, b, len - split);
		free(a);
		free(b);
	}
	if (imap_parser_busy(&d.p))
		buf_puts(&d.out, "[PARTIAL]");
	imap_parser_deinit(&d.p);
	*out = d.out;
	return buf_cstr(out);
}

struct parse_case {
	const char *in;
	size_t in_len;
	const char *want;
	size_t want_len;
};

/* Lengths from sizeof, so inputs and transcripts may hold NUL bytes. */
#define C(in, want)                                                                                          \
	{                                                                                                    \
		in, sizeof(in) - 1, want, sizeof(want) - 1                                                   \
	}

static const struct parse_case cases[] = {
    C("a1 NOOP\r\n", "[a1 NOOP]"),
    C("a1 noop\n", "[a1 NOOP]"),
    C("a1 LOGIN alice \"pass word\"\r\n", "[a1 LOGIN alice \"pass word\"]"),
    C("a1 LOGIN \"a\\\"b\\\\c\" x\r\n", "[a1 LOGIN \"a\"b\\c\" x]"),
    C("a1 SELECT INBOX (CONDSTORE)\r\n", "[a1 SELECT INBOX (CONDSTORE)]"),
    C("a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n",
      "[a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)]"),
    C("a1 FETCH 1 BODY[]\r\n", "[a1 FETCH 1 BODY[]]"),
    C("a1 X ((a b) (c (d)) ())\r\n", "[a1 X ((a b) (c (d)) ())]"),
    C("a1 X  a   b \r\n", "[a1 X a b]"),
    C("a1 APPEND INBOX {5}\r\nhello\r\n", "[LIT 5][a1 APPEND INBOX {5}hello]"),
    C("a1 APPEND INBOX (\\Seen) {5+}\r\nhel\r\n\r\n", "[LIT 5+][a1 APPEND INBOX (\\Seen) {5}hel\r\n]"),
    C("a1 APPEND INBOX ~{3}\r\na\0b\r\n", "[LIT 3][a1 APPEND INBOX ~{3}a\0b]"),
    C("a1 X {0}\r\n\r\n", "[LIT 0][a1 X {0}]"),
    C("a1 X {2}\r\nab {1}\r\nc\r\n", "[LIT 2][LIT 1][a1 X {2}ab {1}c]"),
    C("a1 X ({2}\r\nab)\r\n", "[LIT 2][a1 X ({2}ab)]"),
    C("a1 X ~abc\r\n", "[a1 X ~abc]"),
    C("a1 X \"\"\r\n", "[a1 X \"\"]"),
    C("a1 X \"caf\xc3\xa9\"\r\n", "[a1 X \"caf\xc3\xa9\"]"),
    /* Two commands in one buffer, and empty lines between. */
    C("a NOOP\r\nb NOOP\r\n\r\nc NOOP\r\n", "[a NOOP][b NOOP][c NOOP]"),
    /* Errors: the rest of the line is skipped, the next line parsed. */
    C("\r\n", ""),
    C("a1\r\nb NOOP\r\n", "[ERR a1 Missing command][b NOOP]"),
    C("a1\nb NOOP\r\n", "[ERR a1 Missing command][b NOOP]"),
    C(" NOOP\r\nb NOOP\r\n", "[ERR * Missing tag][b NOOP]"),
    C("a+b NOOP\r\nb NOOP\r\n", "[ERR * Invalid tag][b NOOP]"),
    C("a1 X (a\r\nb NOOP\r\n", "[ERR a1 Missing ')'][b NOOP]"),
    C("a1 X a)\r\nb NOOP\r\n", "[ERR a1 Unexpected ')'][b NOOP]"),
    C("a1 X \"abc\r\nb NOOP\r\n", "[ERR a1 Missing '\"'][b NOOP]"),
    C("a1 X \"abc\nb NOOP\r\n", "[ERR a1 Missing '\"'][b NOOP]"),
    C("a1 X \"a\\bc\" d\r\nb NOOP\r\n", "[ERR a1 Invalid escape in quoted string][b NOOP]"),
    C("a1 X \"a\"b\r\nb NOOP\r\n", "[ERR a1 Missing space between arguments][b NOOP]"),
    C("a1 X {abc}\r\nb NOOP\r\n", "[ERR a1 Invalid literal size][b NOOP]"),
    C("a1 X {5}x\r\nb NOOP\r\n", "[ERR a1 Missing CRLF after literal size][b NOOP]"),
    C("a1 X {99999999999999999999999}\r\nb NOOP\r\n", "[ERR a1 Literal too large][b NOOP]"),
    C("a1 X a\rb\r\nb NOOP\r\n", "[ERR a1 CR without LF][b NOOP]"),
    C("a1 X a\x7f\r\nb NOOP\r\n", "[ERR a1 Invalid characters in atom][b NOOP]"),
    C("a1 X a\r b\r\nb NOOP\r\n", "[ERR a1 CR without LF][b NOOP]"),
    C("a1 X BODY[1\r\nb NOOP\r\n", "[ERR a1 Missing ']'][b NOOP]"),
    C("a1 X BODY.peek[1 x\r\nb NOOP\r\n", "[ERR a1 Missing ']'][b NOOP]"),
    C("a1 SELECT a[b c]\r\n", "[a1 SELECT a[b c]]"),
    C("a1 SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}\r\n", "[a1 SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}]"),
    C("a1 X\x01 y\r\nb NOOP\r\n", "[ERR a1 Invalid command name][b NOOP]"),
    /* Literal policy: a refused synchronizing literal ends the command;
     * a discarded non-synchronizing one is read and the command finishes. */
    C("a1 APPEND INBOX {200}\r\nb NOOP\r\n", "[LIT 200][NO a1][b NOOP]"),
    C("a1 X {101+}\r\n"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      " y\r\nb NOOP\r\n",
      "[LIT 101+][a1 X {0} y TOOBIG][b NOOP]"),
    /* A literal's bytes may hold anything, CRLF and parentheses included. */
    C("a1 X {4}\r\n)\r\n(\r\n", "[LIT 4][a1 X {4})\r\n(]"),
};

TEST(table)
{
	struct buf out;
	buf_init(&out, 1 << 20);
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		size_t len = cases[i].in_len;
		struct buf wantbuf;
		buf_init(&wantbuf, 4096);
		buf_append(&wantbuf, cases[i].want, cases[i].want_len);
		const char *got = run_split(cases[i].in, len, 1000, len, false, &out);
		test_checks++;
		if (out.len != wantbuf.len || memcmp(got, wantbuf.data, wantbuf.len) != 0) {
			test_failures++;
			printf("FAIL table[%zu]: got \"%s\", want \"%s\"\n", i, got, buf_cstr(&wantbuf));
		}
		for (size_t split = 0; split <= len; split++) {
			run_split(cases[i].in, len, 1000, split, false, &out);
			test_checks++;
			if (out.len != wantbuf.len || memcmp(out.data, wantbuf.data, wantbuf.len) != 0) {
				test_failures++;
				printf("FAIL table[%zu] split %zu: got \"%s\", want \"%s\"\n", i, split,
				       buf_cstr(&out), buf_cstr(&wantbuf));
				break;
			}
		}
		run_split(cases[i].in, len, 1000, 0, true, &out);
		test_checks++;
		if (out.len != wantbuf.len || memcmp(out.data, wantbuf.data, wantbuf.len) != 0) {
			test_failures++;
			printf("FAIL table[%zu] bytewise: got \"%s\", want \"%s\"\n", i, buf_cstr(&out),
			       buf_cstr(&wantbuf));
		}
		buf_free(&wantbuf);
	}
	buf_free(&out);
}

/* max_line caps the bytes outside literals; the rest of an over-long line
 * is skipped without being buffered and the next command is parsed. */
TEST(line_limit)
{
	struct buf out, in;
	buf_init(&out, 1 << 20);
	buf_init(&in, 1 << 20);
	buf_puts(&in, "a1 X ");
	for (int i = 0; i < 1000; i++)
		buf_puts(&in, "abcdefgh ");
	buf_puts(&in, "\r\nb NOOP\r\n");
	CHECK_STR(run_split(in.data, in.len, 64, in.len, false, &out),
		  "[ERR a1 Command line too long toolong][b NOOP]");
	CHECK_STR(run_split(in.data, in.len, 64, 0, true, &out),
		  "[ERR a1 Command line too long toolong][b NOOP]");
	/* Exactly at the limit is fine: "a1 X " + 57 bytes + CRLF. */
	buf_reset(&in);
	buf_puts(&in, "a1 X ");
	for (int i = 0; i < 59; i++)
		buf_putc(&in, 'y');
	buf_puts(&in, "\r\n");
	const char *got = run_split(in.data, in.len, 64, in.len, false, &out);
	CHECK(strncmp(got, "[a1 X yyy", 9) == 0);
	buf_reset(&in);
	buf_puts(&in, "a1 X ");
	for (int i = 0; i < 60; i++)
		buf_putc(&in, 'y');
	buf_puts(&in, "\r\n");
	CHECK_STR(run_split(in.data, in.len, 64, in.len, false, &out),
		  "[ERR a1 Command line too long toolong]");
	/* Literal bytes do not count against the line. */
	buf_reset(&in);
	buf_puts(&in, "a1 X {90}\r\n");
	for (int i = 0; i < 90; i++)
		buf_putc(&in, 'z');
	buf_puts(&in, "\r\n");
	got = run_split(in.data, in.len, 64, in.len, false, &out);
	CHECK(strncmp(got, "[LIT 90][a1 X {90}zzz", 21) == 0);
	buf_free(&in);
	buf_free(&out);
}

TEST(limits)
{
	struct buf out, in;
	buf_init(&out, 64 << 20);
	buf_init(&in, 64 << 20);
	/* Nesting. */
	buf_puts(&in, "a1 X ");
	for (int i = 0; i < IMAP_PARSE_MAX_DEPTH + 1; i++)
		buf_putc(&in, '(');
	buf_puts(&in, "\r\nb NOOP\r\n");
	CHECK_STR(run_split(in.data, in.len, 1 << 20, in.len, false, &out),
		  "[ERR a1 Lists nested too deeply][b NOOP]");
	/* Argument count. */
	buf_reset(&in);
	buf_puts(&in, "a1 X");
	for (int i = 0; i < IMAP_PARSE_MAX_ARGS + 1; i++)
		buf_puts(&in, " a");
	buf_puts(&in, "\r\nb NOOP\r\n");
	CHECK_STR(run_split(in.data, in.len, 1 << 22, in.len, false, &out),
		  "[ERR a1 Too many arguments][b NOOP]");
	buf_free(&in);
	buf_free(&out);
}

TEST(helpers)
{
	struct imap_parser p;
	imap_parser_init(&p, 1000);
	const char *in = "t X NIL nil \"NIL\" {3}\r\nabc atom\r\n";
	size_t used, pos = 0, len = strlen(in);
	int r;
	while ((r = imap_parser_feed(&p, in + pos, len - pos, &used)) == IMAP_PARSE_LITERAL) {
		pos += used;
		imap_parser_literal_accept(&p);
	}
	pos += used;
	CHECK_INT(r, IMAP_PARSE_DONE);
	CHECK_INT(pos, len);
	CHECK_INT(p.args.count, 5);
	CHECK(imap_arg_is_nil(&p.args.list[0]));
	CHECK(imap_arg_is_nil(&p.args.list[1]));
	CHECK(!imap_arg_is_nil(&p.args.list[2]));
	CHECK(imap_arg_is_string(&p.args.list[2]));
	CHECK(imap_arg_is_string(&p.args.list[3]));
	CHECK(imap_arg_is_astring(&p.args.list[4]));
	CHECK(!imap_arg_is_string(&p.args.list[4]));
	CHECK(imap_arg_atom_is(&p.args.list[4], "ATOM"));
	CHECK(!imap_arg_atom_is(&p.args.list[3], "abc"));
	imap_parser_deinit(&p);
}

int main(void)
{
	RUN(table);
	RUN(line_limit);
	RUN(limits);
	RUN(helpers);
	return test_done();
}
