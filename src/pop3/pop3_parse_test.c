/* Unit tests for pop3_parse: tables of command lines with the expected
 * result written out as one string (the parsed fields, or the exact error
 * text), the line limits at and past their bounds, whole input streams fed
 * at every split point and one byte at a time (each piece an exactly-sized
 * heap copy, so AddressSanitizer catches any read past the end), and the
 * RETR/TOP encoder on tables of messages, also at every split point of the
 * input and with every output size down to the minimum. */
#include <stdlib.h>

#include "pop3/pop3_parse.h"
#include "test.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* "VERB fields" for a command, "ERR text" for an error. */
static void fmt_result(struct buf *out, int r, const struct pop3_command *c, const char *error)
{
	if (r < 0) {
		buf_printf(out, "ERR %s|", error);
		return;
	}
	if (c->cmd == POP3_CMD_UNKNOWN)
		buf_printf(out, "? %.*s", (int)c->verb_len, c->verb);
	else if (c->cmd == POP3_CMD_SASL_RESPONSE)
		buf_puts(out, "SASL");
	else
		buf_puts(out, pop3_cmd_name(c->cmd));
	if (c->has_msg)
		buf_printf(out, " msg=%u", c->msg);
	if (c->cmd == POP3_CMD_TOP)
		buf_printf(out, " lines=%u", c->lines);
	if (c->arg != NULL)
		buf_printf(out, " arg=[%.*s]", (int)c->arg_len, c->arg);
	if (c->ir != NULL)
		buf_printf(out, " ir=[%.*s]", (int)c->ir_len, c->ir);
	buf_puts(out, "|");
}

static const char *parse_one(const char *line)
{
	static struct buf out;
	buf_free(&out);
	buf_init(&out, 1 << 20);
	size_t len = strlen(line);
	char *copy = malloc(len ? len : 1); /* exactly sized: ASan sees overreads */
	memcpy(copy, line, len);
	struct pop3_command c;
	const char *error = NULL;
	int r = pop3_parse_line(copy, len, &c, &error);
	fmt_result(&out, r, &c, error);
	free(copy);
	buf_truncate(&out, out.len - 1); /* the final '|' */
	return buf_cstr(&out);
}

TEST(lines)
{
	static const struct {
		const char *in, *want;
	} t[] = {
	    {"STAT", "STAT"},
	    {"stat", "STAT"},
	    {"StAt", "STAT"},
	    {"STAT ", "STAT"},
	    {"STAT 1", "ERR Unexpected argument"},
	    {"NOOP", "NOOP"},
	    {"RSET", "RSET"},
	    {"QUIT", "QUIT"},
	    {"CAPA", "CAPA"},
	    {"STLS", "STLS"},
	    {"LIST", "LIST"},
	    {"LIST 1", "LIST msg=1"},
	    {"LIST  7", "LIST msg=7"},
	    {"LIST 0", "LIST msg=0"},
	    {"LIST 007", "LIST msg=7"},
	    {"LIST 4294967295", "LIST msg=4294967295"},
	    {"LIST 4294967296", "ERR Invalid message number"},
	    {"LIST -1", "ERR Invalid message number"},
	    {"LIST +1", "ERR Invalid message number"},
	    {"LIST 1x", "ERR Invalid message number"},
	    {"LIST 1 2", "ERR Too many arguments"},
	    {"UIDL", "UIDL"},
	    {"UIDL 12", "UIDL msg=12"},
	    {"RETR 1", "RETR msg=1"},
	    {"RETR", "ERR Missing message number"},
	    {"RETR ", "ERR Missing message number"},
	    {"RETR a", "ERR Invalid message number"},
	    {"DELE 3", "DELE msg=3"},
	    {"DELE 3 4", "ERR Too many arguments"},
	    {"TOP 1 0", "TOP msg=1 lines=0"},
	    {"top 2 10", "TOP msg=2 lines=10"},
	    {"TOP 1", "ERR Missing number of lines"},
	    {"TOP", "ERR Missing message number"},
	    {"TOP 1 x", "ERR Invalid number of lines"},
	    {"TOP x 1", "ERR Invalid message number"},
	    {"TOP 1 2 3", "ERR Too many arguments"},
	    {"USER alice@example.test", "USER arg=[alice@example.test]"},
	    {"USER alice@example.test  ", "USER arg=[alice@example.test]"},
	    {"USER", "ERR Missing user name"},
	    {"USER ", "ERR Missing user name"},
	    {"user J\xc3\xb6rg@example.test", "USER arg=[J\xc3\xb6rg@example.test]"},
	    {"PASS secret", "PASS arg=[secret]"},
	    {"PASS  two spaces ", "PASS arg=[ two spaces ]"},
	    {"PASS", "ERR Missing password"},
	    {"PASS ", "ERR Missing password"},
	    {"AUTH", "AUTH"},
	    {"AUTH PLAIN", "AUTH arg=[PLAIN]"},
	    {"AUTH PLAIN AGFsaWNlAHNlY3JldA==", "AUTH arg=[PLAIN] ir=[AGFsaWNlAHNlY3JldA==]"},
	    {"AUTH PLAIN =", "AUTH arg=[PLAIN] ir=[=]"},
	    {"AUTH PLAIN a b", "ERR Too many arguments"},
	    {"APOP alice 0123456789abcdef", "? APOP"},
	    {"XTND XMIT", "? XTND"},
	    {"", "? "},
	    {" STAT", "? "},
	    {"STATS", "? STATS"},
	    {"STA", "? STA"},
	    {"GET / HTTP/1.1", "? GET"},
	    {"ST\rAT", "ERR Invalid characters in command"},
	};
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		const char *got = parse_one(t[i].in);
		if (strcmp(got, t[i].want) != 0)
			printf("  case %zu: \"%s\"\n", i, t[i].in);
		CHECK_STR(got, t[i].want);
	}
	/* A NUL inside a line. */
	struct pop3_command c;
	const char *error;
	CHECK_INT(pop3_parse_line("STAT\0x", 6, &c, &error), -1);
	CHECK_STR(error, "Invalid characters in command");
	CHECK_INT(pop3_parse_line("PASS a\0b", 8, &c, &error), -1);
}

/* Feeds the whole stream in pieces cut at the given points; expect_sasl
 * after each "+"-marked command (AUTH). Returns the results joined. */
static void feed(struct buf *out, const char *data, size_t len, const size_t *cuts, size_t ncuts)
{
	struct pop3_parser p;
	pop3_parser_init(&p);
	size_t start = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		size_t plen = end - start;
		char *piece = malloc(plen ? plen : 1);
		memcpy(piece, data + start, plen);
		size_t off = 0;
		while (off < plen) {
			struct pop3_command c;
			const char *error = NULL;
			size_t used = 0;
			int r = pop3_parse(&p, piece + off, plen - off, &used, &c, &error);
			if (used == 0 && r == 0)
				break;
			off += used;
			if (r != 0) {
				fmt_result(out, r, &c, error);
				/* AUTH with a mechanism and no initial response: a challenge follows. */
				if (r == 1 && c.cmd == POP3_CMD_AUTH && c.arg != NULL && c.ir == NULL)
					pop3_parser_expect_sasl(&p);
			}
		}
		free(piece);
		start = end;
	}
	pop3_parser_deinit(&p);
}

static const struct {
	const char *in, *want;
} streams[] = {
    {"USER alice\r\nPASS secret word\r\nSTAT\r\nQUIT\r\n",
     "USER arg=[alice]|PASS arg=[secret word]|STAT|QUIT|"},
    {"LIST\nRETR 1\n", "LIST|RETR msg=1|"},
    {"RETR 1\r\r\n", "ERR Invalid characters in command|"},
    {"NOOP\r\n\r\nNOOP", "NOOP|? |"},
    {"AUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nSTAT\r\n",
     "AUTH arg=[PLAIN]|SASL arg=[AGFsaWNlAHNlY3JldA==]|STAT|"},
    {"AUTH LOGIN\r\n*\r\nLIST 2\r\n", "AUTH arg=[LOGIN]|SASL arg=[*]|LIST msg=2|"},
    {"AUTH SCRAM-SHA-256\r\n\r\nQUIT\r\n", "AUTH arg=[SCRAM-SHA-256]|SASL arg=[]|QUIT|"},
    {"TOP 1 0\r\nUIDL\r\nDELE 2\r\nRSET\r\n", "TOP msg=1 lines=0|UIDL|DELE msg=2|RSET|"},
};

/* Every stream cut at every single point, at every pair of points, and
 * byte by byte must give the same results as in one piece. */
TEST(split_points)
{
	struct buf got;
	buf_init(&got, 1 << 20);
	for (size_t i = 0; i < N_ELEMENTS(streams); i++) {
		const char *in = streams[i].in;
		size_t len = strlen(in);
		buf_reset(&got);
		feed(&got, in, len, NULL, 0);
		CHECK_STR(buf_cstr(&got), streams[i].want);
		for (size_t a = 0; a <= len; a++) {
			for (size_t b = a; b <= len; b++) {
				size_t cuts[2] = {a, b};
				buf_reset(&got);
				feed(&got, in, len, cuts, 2);
				if (strcmp(buf_cstr(&got), streams[i].want) != 0) {
					printf("  stream %zu cut at %zu,%zu\n", i, a, b);
					CHECK_STR(buf_cstr(&got), streams[i].want);
				}
			}
		}
		size_t *cuts = malloc(len * sizeof(*cuts) + 1);
		for (size_t k = 0; k < len; k++)
			cuts[k] = k + 1;
		buf_reset(&got);
		feed(&got, in, len, cuts, len ? len - 1 : 0);
		CHECK_STR(buf_cstr(&got), streams[i].want);
		free(cuts);
	}
	buf_free(&got);
}

/* Line limits: exactly at the limit is fine, one byte more is an error
 * reported once; the rest of the line is skipped and the next line works. */
TEST(limits)
{
	struct buf in, got, want;
	buf_init(&in, 1 << 20);
	buf_init(&got, 1 << 20);
	buf_init(&want, 1 << 20);
	static const struct {
		size_t len;
		const char *eol;
		bool ok;
	} t[] = {
	    {POP3_COMMAND_MAX, "\r\n", true},	   {POP3_COMMAND_MAX, "\n", true},
	    {POP3_COMMAND_MAX + 1, "\r\n", false}, {POP3_COMMAND_MAX + 1, "\n", false},
	    {POP3_COMMAND_MAX + 2, "\r\n", false}, {POP3_COMMAND_MAX * 20, "\r\n", false},
	};
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		buf_reset(&in);
		buf_puts(&in, "USER ");
		while (in.len < t[i].len)
			buf_putc(&in, 'a');
		buf_puts(&in, t[i].eol);
		buf_puts(&in, "NOOP\r\n");
		buf_reset(&want);
		if (t[i].ok) {
			buf_puts(&want, "USER arg=[");
			buf_append(&want, in.data + 5, t[i].len - 5);
			buf_puts(&want, "]|NOOP|");
		} else {
			buf_puts(&want, "ERR Line too long|NOOP|");
		}
		buf_reset(&got);
		feed(&got, in.data, in.len, NULL, 0);
		CHECK_STR(buf_cstr(&got), buf_cstr(&want));
		for (size_t a = 0; a <= in.len; a += 7) {
			size_t cuts[1] = {a};
			buf_reset(&got);
			feed(&got, in.data, in.len, cuts, 1);
			if (strcmp(buf_cstr(&got), buf_cstr(&want)) != 0) {
				printf("  case %zu cut at %zu\n", i, a);
				CHECK_STR(buf_cstr(&got), buf_cstr(&want));
				break;
			}
		}
	}
	/* SASL response lines have their own, larger limit. */
	for (int over = 0; over <= 1; over++) {
		buf_reset(&in);
		buf_puts(&in, "AUTH PLAIN\r\n");
		for (size_t k = 0; k < POP3_SASL_LINE_MAX + (size_t)over; k++)
			buf_putc(&in, 'A');
		buf_puts(&in, "\r\nQUIT\r\n");
		buf_reset(&got);
		feed(&got, in.data, in.len, NULL, 0);
		const char *g = buf_cstr(&got);
		CHECK(strncmp(g, "AUTH arg=[PLAIN]|", 17) == 0);
		if (over)
			CHECK_STR(g + 17, "ERR Line too long|QUIT|");
		else
			CHECK(strncmp(g + 17, "SASL arg=[AAAA", 14) == 0 && strstr(g, "]|QUIT|") != NULL);
	}
	/* An endless line never grows the parser past its cap. */
	struct pop3_parser p;
	pop3_parser_init(&p);
	char junk[4096];
	memset(junk, 'x', sizeof(junk));
	int errors = 0;
	for (int k = 0; k < 1000; k++) {
		struct pop3_command c;
		const char *error;
		size_t used;
		if (pop3_parse(&p, junk, sizeof(junk), &used, &c, &error) < 0)
			errors++;
		CHECK(used == sizeof(junk));
	}
	CHECK_INT(errors, 1);
	CHECK(p.line.cap <= POP3_SASL_LINE_MAX + 2);
	pop3_parser_deinit(&p);
	buf_free(&in);
	buf_free(&got);
	buf_free(&want);
}

/* A password line is wiped once the next call starts. */
TEST(wipe)
{
	struct pop3_parser p;
	pop3_parser_init(&p);
	struct pop3_command c;
	const char *error;
	size_t used;
	CHECK_INT(pop3_parse(&p, "PASS hunter2\r\n", 14, &used, &c, &error), 1);
	CHECK_MEM(c.arg, c.arg_len, "hunter2");
	CHECK_INT(pop3_parse(&p, "", 0, &used, &c, &error), 0);
	CHECK(memmem(p.line.data, p.line.cap, "hunter2", 7) == NULL);
	pop3_parser_deinit(&p);
}

/* ---- the encoder ------------------------------------------------------- */

static void encode(struct buf *out, const char *msg, size_t len, bool top, uint32_t lines, size_t cut,
		   size_t out_size)
{
	struct pop3_encoder e;
	pop3_encoder_init(&e, top, lines);
	char *chunk = malloc(out_size > POP3_ENCODE_END_MAX ? out_size : POP3_ENCODE_END_MAX);
	size_t pieces[2][2] = {{0, cut}, {cut, len}};
	for (int k = 0; k < 2; k++) {
		size_t plen = pieces[k][1] - pieces[k][0];
		char *piece = malloc(plen ? plen : 1);
		memcpy(piece, msg + pieces[k][0], plen);
		size_t off = 0;
		int guard = 0;
		while (off < plen && guard++ < 100000) {
			size_t used;
			size_t n = pop3_encode(&e, piece + off, plen - off, &used, chunk, out_size);
			buf_append(out, chunk, n);
			off += used;
		}
		free(piece);
	}
	size_t n =
	    pop3_encode_end(&e, chunk, out_size > POP3_ENCODE_END_MAX ? out_size : POP3_ENCODE_END_MAX);
	buf_append(out, chunk, n);
	CHECK(e.out_total == out->len);
	free(chunk);
}

TEST(encoder)
{
	static const struct {
		const char *in;
		bool top;
		uint32_t lines;
		const char *want;
	} t[] = {
	    {"", false, 0, ".\r\n"},
	    {"a\r\n", false, 0, "a\r\n.\r\n"},
	    {"a", false, 0, "a\r\n.\r\n"},
	    {"a\n", false, 0, "a\r\n.\r\n"},
	    {"a\nb\r\nc", false, 0, "a\r\nb\r\nc\r\n.\r\n"},
	    {".\r\n", false, 0, "..\r\n.\r\n"},
	    {"a\r\n.\r\n..b\r\n", false, 0, "a\r\n..\r\n...b\r\n.\r\n"},
	    {"a\n.\n", false, 0, "a\r\n..\r\n.\r\n"},
	    {"a.b\r\n x.\r\n", false, 0, "a.b\r\n x.\r\n.\r\n"},
	    {"a\r.\r\n", false, 0, "a\r.\r\n.\r\n"}, /* a bare CR is no line end */
	    {"a\r", false, 0, "a\r\r\n.\r\n"},
	    {"a\r\r\n", false, 0, "a\r\r\n.\r\n"},
	    {"\r\n\r\n", false, 0, "\r\n\r\n.\r\n"},
	    {"\n\n", false, 0, "\r\n\r\n.\r\n"},
	    {"H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", true, 0, "H: 1\r\nH: 2\r\n\r\n.\r\n"},
	    {"H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", true, 1, "H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n"},
	    {"H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", true, 2, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n"},
	    {"H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", true, 3,
	     "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n.\r\n"},
	    {"H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n", true, 99,
	     "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n.\r\n"},
	    {"H: 1\r\n\r\nb1\r\nb2", true, 5, "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n"},
	    {"H: 1\n\n.b1\nb2\n", true, 1, "H: 1\r\n\r\n..b1\r\n.\r\n"},
	    {"H: 1\r\n\r\n\r\n\r\nx\r\n", true, 2, "H: 1\r\n\r\n\r\n\r\n.\r\n"},
	    {"H: only a header\r\n", true, 0, "H: only a header\r\n.\r\n"},
	    {"H: 1\r\n.\r\n\r\nb\r\n", true, 0, "H: 1\r\n..\r\n\r\n.\r\n"},
	    {"H: 1\r\n\r.\r\n\r\nb\r\n", true, 0, "H: 1\r\n\r.\r\n\r\n.\r\n"},
	};
	struct buf got;
	buf_init(&got, 1 << 20);
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		size_t len = strlen(t[i].in);
		for (size_t cut = 0; cut <= len; cut++) {
			for (size_t out_size = 3; out_size <= 64; out_size++) {
				buf_reset(&got);
				encode(&got, t[i].in, len, t[i].top, t[i].lines, cut, out_size);
				if (strcmp(buf_cstr(&got), t[i].want) != 0) {
					printf("  case %zu cut %zu out %zu\n", i, cut, out_size);
					CHECK_STR(buf_cstr(&got), t[i].want);
					goto next;
				}
			}
		}
	next:;
	}
	buf_free(&got);
}

/* A big message with the fast path: same bytes out, one memcpy per chunk. */
TEST(encoder_large)
{
	struct buf msg, got;
	buf_init(&msg, 1 << 24);
	buf_init(&got, 1 << 25);
	for (int k = 0; k < 20000; k++)
		buf_printf(&msg, "%sline %d of a long message with some text in it\r\n",
			   k % 97 == 0 ? "." : "", k);
	encode(&got, msg.data, msg.len, false, 0, msg.len / 3, 65536);
	size_t dots = (20000 + 96) / 97;
	CHECK_INT(got.len, msg.len + dots + 3);
	CHECK(memcmp(got.data + got.len - 5, "\r\n.\r\n", 5) == 0);
	buf_free(&msg);
	buf_free(&got);
}

int main(void)
{
	RUN(lines);
	RUN(split_points);
	RUN(limits);
	RUN(wipe);
	RUN(encoder);
	RUN(encoder_large);
	return test_done();
}
