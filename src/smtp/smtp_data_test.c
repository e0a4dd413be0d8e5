/* Unit tests for smtp_data: DATA and BDAT streams with the stored result
 * expected byte for byte, each fed whole, cut at every point into two and
 * three pieces, one byte at a time, and through an output buffer of 2 and
 * 3 bytes; pipelined input after the end must stay unconsumed. Covers dot
 * stuffing, the empty message, every SMTP-smuggling end-marker variant of
 * the December 2023 research (with and without NUL bytes), bare LF / CR
 * normalisation and the size limit. */
#include <stdlib.h>

#include "smtp/smtp_data.h"
#include "test.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define S(s) s, sizeof(s) - 1

enum { F_LF = 1, F_CR = 2, F_8BIT = 4, F_NUL = 8, F_BIG = 16 };

struct result {
	char out[512];
	size_t out_len;
	size_t consumed;
	bool done;
	unsigned flags;
	size_t longest;
	uint64_t size;
	bool stuck; /* the decoder made no progress with input and an empty out */
};

/* An arrival schedule: pieces[0..n) bytes, then step bytes at a time. */
struct schedule {
	size_t pieces[2];
	size_t n;
	size_t step;
	size_t out_max;
};

/* Feeds in[0..len) to d as a server would: bytes arrive per schedule, the
 * decoder is called on everything arrived but not consumed, out is
 * emptied after every call. For BDAT, chunks[] gives the chunk sizes; a
 * new chunk starts whenever the previous one is complete. */
static void feed(struct smtp_data *d, const char *in, size_t len, const struct schedule *s,
		 const size_t *chunks, size_t n_chunks, struct result *r)
{
	struct buf out;
	size_t arrived = 0, arrivals = 0, chunk = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&out, s->out_max);
	if (chunks != NULL)
		smtp_data_bdat_chunk(d, chunks[0], n_chunks == 1);
	while (!d->done) {
		if (r->consumed == arrived) {
			if (arrived == len)
				break;
			size_t n = arrivals < s->n ? s->pieces[arrivals] : s->step;
			arrivals++;
			arrived += n < len - arrived ? n : len - arrived;
		}
		size_t used = 0;
		int ret = smtp_data_parse(d, in + r->consumed, arrived - r->consumed, &used, &out);
		r->consumed += used;
		if (out.len > 0 && r->out_len + out.len <= sizeof(r->out)) {
			memcpy(r->out + r->out_len, out.data, out.len);
			r->out_len += out.len;
		}
		bool progress = used > 0 || out.len > 0;
		buf_reset(&out);
		if (ret == 1 && chunks != NULL && !d->done) {
			if (++chunk == n_chunks)
				break;
			smtp_data_bdat_chunk(d, chunks[chunk], chunk + 1 == n_chunks);
			continue;
		}
		if (ret == 0 && !progress && arrived > r->consumed) {
			r->stuck = true;
			break;
		}
	}
	r->done = d->done;
	r->flags = (d->bare_lf ? F_LF : 0) | (d->bare_cr ? F_CR : 0) | (d->eightbit ? F_8BIT : 0) |
		   (d->nul ? F_NUL : 0) | (d->too_big ? F_BIG : 0);
	r->longest = d->longest_line;
	r->size = d->size;
	buf_free(&out);
}

static void show(const char *what, const char *p, size_t n)
{
	printf("  %s: \"", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c < 32 || c >= 127 || c == '"' || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

/* Compares a result with the expected one; on a mismatch, says which case
 * and which schedule. */
static void check_result(const char *name, const char *how, const struct result *r, const char *want,
			 size_t want_len, long end, unsigned flags, size_t longest, uint64_t size)
{
	bool ok = !r->stuck && r->out_len == want_len && memcmp(r->out, want, want_len) == 0 &&
		  r->done == (end >= 0) && (end < 0 || r->consumed == (size_t)end) && r->flags == flags &&
		  r->longest == longest && r->size == size;
	CHECK(ok);
	if (!ok) {
		printf("  case %s, %s: done %d consumed %zu flags %u longest %zu size %llu stuck %d\n", name, how,
		       r->done, r->consumed, r->flags, r->longest, (unsigned long long)r->size, r->stuck);
		printf("  want: done %d consumed %ld flags %u longest %zu size %llu\n", end >= 0, end, flags,
		       longest, (unsigned long long)size);
		show("got ", r->out, r->out_len);
		show("want", want, want_len);
	}
}

struct data_case {
	const char *name;
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
	long end;         /* input consumed when done; -1: not done; ALL: all of it */
	unsigned flags;   /* F_* */
	size_t longest;
	uint64_t max;     /* 0: no limit */
	uint64_t size;    /* when F_BIG (else out_len) */
};

#define ALL (-2) /* the whole input */

static const struct data_case data_cases[] = {
	{"simple", S("Hello\r\n.\r\n"), S("Hello\r\n"), ALL, 0, 5, 0, 0},
	{"empty message", S(".\r\n"), S(""), ALL, 0, 0, 0, 0},
	{"one empty line", S("\r\n.\r\n"), S("\r\n"), ALL, 0, 0, 0, 0},
	{"header and body", S("Subject: x\r\n\r\nbody\r\n.\r\n"), S("Subject: x\r\n\r\nbody\r\n"), ALL, 0, 10, 0, 0},
	{"stuffed dot", S("..\r\n.\r\n"), S(".\r\n"), ALL, 0, 1, 0, 0},
	{"stuffed dots", S("...\r\n.\r\n"), S("..\r\n"), ALL, 0, 2, 0, 0},
	{"stuffed text", S("a\r\n..b\r\n.\r\n"), S("a\r\n.b\r\n"), ALL, 0, 2, 0, 0},
	{"unstuffed dot line", S("a\r\n.b\r\n.\r\n"), S("a\r\nb\r\n"), ALL, 0, 1, 0, 0},
	{"dot space line", S("a\r\n. \r\n.\r\n"), S("a\r\n \r\n"), ALL, 0, 1, 0, 0},
	{"dot inside line", S("a.b\r\n.\r\n"), S("a.b\r\n"), ALL, 0, 3, 0, 0},
	{"dot at end of line", S("a.\r\n.\r\n"), S("a.\r\n"), ALL, 0, 2, 0, 0},
	{"not ended", S("a\r\n"), S("a\r\n"), -1, 0, 1, 0, 0},
	{"not ended after dot", S("a\r\n."), S("a\r\n"), -1, 0, 1, 0, 0},
	{"not ended after dot cr", S("a\r\n.\r"), S("a\r\n"), -1, 0, 1, 0, 0},
	{"nothing", S(""), S(""), -1, 0, 0, 0, 0},
	{"pipelined command", S("a\r\n.\r\nQUIT\r\n"), S("a\r\n"), 6, 0, 1, 0, 0},
	{"pipelined dot", S(".\r\n.\r\n"), S(""), 3, 0, 0, 0, 0},
	{"8bit", S("caf\xc3\xa9\r\n.\r\n"), S("caf\xc3\xa9\r\n"), ALL, F_8BIT, 5, 0, 0},
	{"nul", S("a\0b\r\n.\r\n"), S("a\0b\r\n"), ALL, F_NUL, 3, 0, 0},
	{"longest line", S("abc\r\nabcdef\r\nab\r\n.\r\n"), S("abc\r\nabcdef\r\nab\r\n"), ALL, 0, 6, 0, 0},
	{"bare cr in line", S("ab\rcd\r\n.\r\n"), S("ab\rcd\r\n"), ALL, F_CR, 5, 0, 0},
	{"bare lf in line", S("ab\ncd\r\n.\r\n"), S("ab\r\ncd\r\n"), ALL, F_LF, 2, 0, 0},
	{"cr cr lf", S("a\r\r\n.\r\n"), S("a\r\r\n"), ALL, F_CR, 2, 0, 0},
	{"lf cr lf", S("a\n\r\n.\r\n"), S("a\r\n\r\n"), ALL, F_LF, 1, 0, 0},
	{"lf-only client never ends", S("a\nb\n.\n"), S("a\r\nb\r\n.\r\n"), -1, F_LF, 1, 0, 0},
	{"initial bare lf", S("\n.\r\n.\r\n"), S("\r\n.\r\n"), ALL, F_LF, 1, 0, 0},
	{"initial dot lf", S(".\n.\r\n.\r\n"), S("\r\n.\r\n"), ALL, F_LF, 1, 0, 0},
	{"initial bare cr", S("\r.\r\n.\r\n"), S("\r.\r\n"), ALL, F_CR, 2, 0, 0},
	/* SMTP smuggling: none of these ends the message early. */
	{"<LF>.<LF>", S("a\n.\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), ALL, F_LF, 1, 0, 0},
	{"<LF>.<CR><LF>", S("a\n.\r\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), ALL, F_LF, 1, 0, 0},
	{"<CR><LF>.<LF>", S("a\r\n.\nb\r\n.\r\n"), S("a\r\n\r\nb\r\n"), ALL, F_LF, 1, 0, 0},
	{"<CR>.<CR>", S("a\r.\rb\r\n.\r\n"), S("a\r.\rb\r\n"), ALL, F_CR, 5, 0, 0},
	{"<CR><LF>.<CR>", S("a\r\n.\rb\r\n.\r\n"), S("a\r\n\rb\r\n"), ALL, F_CR, 2, 0, 0},
	{"<LF>.<CR>", S("a\n.\rb\r\n.\r\n"), S("a\r\n.\rb\r\n"), ALL, F_LF | F_CR, 3, 0, 0},
	{"<CR>.<LF>", S("a\r.\nb\r\n.\r\n"), S("a\r.\r\nb\r\n"), ALL, F_LF | F_CR, 3, 0, 0},
	{"<CR>.<CR><LF>", S("a\r.\r\nb\r\n.\r\n"), S("a\r.\r\nb\r\n"), ALL, F_CR, 3, 0, 0},
	{"<CR><LF>.<CR><CR><LF>", S("a\r\n.\r\r\nb\r\n.\r\n"), S("a\r\n\r\r\nb\r\n"), ALL, F_CR, 1, 0, 0},
	{"<LF><LF>.<LF><LF>", S("a\n\n.\n\nb\r\n.\r\n"), S("a\r\n\r\n.\r\n\r\nb\r\n"), ALL, F_LF, 1, 0, 0},
	{"<CR><LF><NUL>.<CR><LF>", S("a\r\n\0.\r\nb\r\n.\r\n"), S("a\r\n\0.\r\nb\r\n"), ALL, F_NUL, 2, 0, 0},
	{"<CR><LF>.<NUL><CR><LF>", S("a\r\n.\0\r\nb\r\n.\r\n"), S("a\r\n\0\r\nb\r\n"), ALL, F_NUL, 1, 0, 0},
	{"<CR><LF>.<CR><NUL><LF>", S("a\r\n.\r\0\nb\r\n.\r\n"), S("a\r\n\r\0\r\nb\r\n"), ALL, F_LF | F_CR | F_NUL, 2, 0, 0},
	{"<CR><NUL><LF>.<CR><LF>", S("a\r\0\n.\r\nb\r\n.\r\n"), S("a\r\0\r\n.\r\nb\r\n"), ALL, F_LF | F_CR | F_NUL, 3, 0, 0},
	{"<NUL><CR><LF>.<CR><LF> ends", S("a\0\r\n.\r\nb"), S("a\0\r\n"), 7, F_NUL, 2, 0, 0},
	{"smuggled command stays content", S("a\n.\nMAIL FROM:<x@y>\r\n.\r\n"),
	 S("a\r\n.\r\nMAIL FROM:<x@y>\r\n"), ALL, F_LF, 15, 0, 0},
	/* size limit */
	{"too big", S("Hello world\r\n.\r\nQUIT"), S("Hello"), 16, F_BIG, 11, 5, 13},
	{"exactly max", S("Hello\r\n.\r\n"), S("Hello\r\n"), ALL, 0, 5, 7, 0},
	{"one over max", S("Hello\r\n.\r\n"), S("Hello\r"), ALL, F_BIG, 5, 6, 7},
	{"max 1 empty", S(".\r\n"), S(""), ALL, 0, 0, 1, 0},
	{"max 1", S("abc\r\n.\r\n"), S("a"), ALL, F_BIG, 3, 1, 5},
	{"too big bare lf", S("ab\ncd\r\n.\r\n"), S("ab\r"), ALL, F_LF | F_BIG, 2, 3, 8},
	{"too big not ended", S("abcdef"), S("abc"), -1, F_BIG, 0, 3, 6},
};

/* Re-encodes a stored message for the wire (dot-stuffing, end marker). */
static size_t encode(const char *msg, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '.' && (i == 0 || (i >= 2 && msg[i - 1] == '\n' && msg[i - 2] == '\r')))
			out[o++] = '.';
		out[o++] = msg[i];
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

TEST(data)
{
	for (size_t c = 0; c < N_ELEMENTS(data_cases); c++) {
		const struct data_case *dc = &data_cases[c];
		uint64_t max = dc->max ? dc->max : UINT64_MAX;
		uint64_t size = (dc->flags & F_BIG) ? dc->size : dc->out_len;
		size_t len = dc->in_len;
		long end = dc->end == ALL ? (long)len : dc->end;
		struct smtp_data d;
		struct result r;
		char how[64];

		/* whole, then every two- and three-piece split */
		for (size_t i = 0; i <= len; i++) {
			for (size_t j = i; j <= len; j++) {
				struct schedule s = {{i, j - i}, 2, len, 1 << 16};
				smtp_data_init(&d, max);
				feed(&d, dc->in, len, &s, NULL, 0, &r);
				snprintf(how, sizeof(how), "split %zu+%zu", i, j - i);
				check_result(dc->name, how, &r, dc->out, dc->out_len, end, dc->flags,
					     dc->longest, size);
			}
		}
		/* one byte at a time, and tiny output buffers */
		for (size_t out_max = 2; out_max <= 4; out_max++) {
			for (int k = 0; k < 2; k++) {
				size_t step = k == 0 ? 1 : len + 1;
				struct schedule s = {{0, 0}, 0, step, out_max};
				smtp_data_init(&d, max);
				feed(&d, dc->in, len, &s, NULL, 0, &r);
				snprintf(how, sizeof(how), "step %zu out %zu", step, out_max);
				check_result(dc->name, how, &r, dc->out, dc->out_len, end, dc->flags,
					     dc->longest, size);
			}
		}
		/* pipelined bytes after the end are never consumed */
		if (end >= 0) {
			char more[600];
			memcpy(more, dc->in, len);
			memcpy(more + len, "RSET\r\n", 6);
			struct schedule s = {{0, 0}, 0, 1, 1 << 16};
			smtp_data_init(&d, max);
			feed(&d, more, len + 6, &s, NULL, 0, &r);
			check_result(dc->name, "pipelined", &r, dc->out, dc->out_len, end, dc->flags,
				     dc->longest, size);
		}
		/* a finished message re-encoded for the wire decodes to itself */
		if (end >= 0 && !(dc->flags & F_BIG)) {
			char wire[1200];
			size_t n = encode(dc->out, dc->out_len, wire);
			struct schedule s = {{0, 0}, 0, n, 1 << 16};
			smtp_data_init(&d, UINT64_MAX);
			feed(&d, wire, n, &s, NULL, 0, &r);
			check_result(dc->name, "re-encoded", &r, dc->out, dc->out_len, (long)n,
				     dc->flags & ~(unsigned)F_LF, dc->longest, dc->out_len);
		}
	}
}

/* A big message through a small output buffer, against a one-shot decode. */
TEST(data_large)
{
	static char in[70000], want[80000];
	size_t n = 0, w = 0, longest = 0;
	for (int line = 0; n < sizeof(in) - 1300; line++) {
		int len = (line * 37) % 1200;
		if (line % 5 == 0) {
			in[n++] = '.';
			in[n++] = '.';
			want[w++] = '.';
		}
		for (int k = 0; k < len; k++) {
			char ch = (char)('a' + (k + line) % 26);
			in[n++] = ch;
			want[w++] = ch;
		}
		size_t stored = (size_t)len + (line % 5 == 0);
		longest = stored > longest ? stored : longest;
		memcpy(in + n, "\r\n", 2);
		memcpy(want + w, "\r\n", 2);
		n += 2;
		w += 2;
	}
	memcpy(in + n, ".\r\n", 3);
	n += 3;

	struct smtp_data d;
	struct buf out, acc;
	buf_init(&out, 7);
	buf_init(&acc, sizeof(want));
	smtp_data_init(&d, UINT64_MAX);
	size_t pos = 0;
	int ret = 0, calls = 0;
	while (ret == 0 && pos < n && calls < 1000000) {
		size_t used;
		size_t avail = n - pos < 4096 ? n - pos : 4096;
		ret = smtp_data_parse(&d, in + pos, avail, &used, &out);
		pos += used;
		CHECK_INT(buf_append(&acc, out.data ? out.data : "", out.len), 0);
		buf_reset(&out);
		calls++;
	}
	CHECK_INT(ret, 1);
	CHECK_INT(pos, n);
	CHECK_INT(acc.len, w);
	CHECK(acc.len == w && memcmp(acc.data, want, w) == 0);
	CHECK_INT(d.size, w);
	CHECK_INT(d.longest_line, longest);
	CHECK(longest > 1000);
	CHECK_INT(d.bare_lf || d.bare_cr || d.eightbit || d.nul || d.too_big, 0);
	buf_free(&out);
	buf_free(&acc);
}

struct piece {
	const char *p;
	size_t n;
};
#define C(s) {s, sizeof(s) - 1}

struct bdat_case {
	const char *name;
	struct piece chunks[4];
	size_t n_chunks;
	unsigned data_flags;
	const char *out;
	size_t out_len;
	unsigned flags;
	size_t longest;
	uint64_t max;
	uint64_t size; /* when F_BIG */
};

static const struct bdat_case bdat_cases[] = {
	{"two chunks", {C("abc\r\n"), C("def\r\n")}, 2, 0, S("abc\r\ndef\r\n"), 0, 3, 0, 0},
	{"bare lf", {C("abc\r\n"), C("def\n")}, 2, 0, S("abc\r\ndef\r\n"), F_LF, 3, 0, 0},
	{"crlf across chunks", {C("abc\r"), C("\ndef")}, 2, 0, S("abc\r\ndef"), 0, 3, 0, 0},
	{"cr at the very end", {C("abc\r")}, 1, 0, S("abc\r"), F_CR, 4, 0, 0},
	{"cr then text", {C("abc\r"), C("x")}, 2, 0, S("abc\rx"), F_CR, 5, 0, 0},
	{"cr cr lf across chunks", {C("a\r"), C("\r"), C("\n")}, 3, 0, S("a\r\r\n"), F_CR, 2, 0, 0},
	{"empty last chunk", {C("abc"), C(""), C("")}, 3, 0, S("abc"), 0, 3, 0, 0},
	{"only an empty chunk", {C("")}, 1, 0, S(""), 0, 0, 0, 0},
	{"lf lf", {C("\n\n")}, 1, 0, S("\r\n\r\n"), F_LF, 0, 0, 0},
	{"no dot handling", {C(".\r\n"), C(".\r\n")}, 2, 0, S(".\r\n.\r\n"), 0, 1, 0, 0},
	{"8bit and nul", {C("\xc3\xa9\0")}, 1, 0, S("\xc3\xa9\0"), F_8BIT | F_NUL, 3, 0, 0},
	{"binary", {C("a\nb\r"), C("\n\r")}, 2, SMTP_DATA_BINARY, S("a\nb\r\n\r"), 0, 0, 0, 0},
	{"binary 8bit", {C("\xff\0\n")}, 1, SMTP_DATA_BINARY, S("\xff\0\n"), F_8BIT | F_NUL, 0, 0, 0},
	{"too big", {C("abc"), C("def")}, 2, 0, S("abcd"), F_BIG, 6, 4, 6},
	{"too big bare lf", {C("ab\n"), C("cd")}, 2, 0, S("ab\r"), F_LF | F_BIG, 2, 3, 6},
	{"exactly max", {C("abc"), C("def")}, 2, 0, S("abcdef"), 0, 6, 6, 0},
};

TEST(bdat)
{
	for (size_t c = 0; c < N_ELEMENTS(bdat_cases); c++) {
		const struct bdat_case *bc = &bdat_cases[c];
		uint64_t max = bc->max ? bc->max : UINT64_MAX;
		uint64_t size = (bc->flags & F_BIG) ? bc->size : bc->out_len;
		char in[256];
		size_t chunks[4], len = 0;
		for (size_t k = 0; k < bc->n_chunks; k++) {
			chunks[k] = bc->chunks[k].n;
			memcpy(in + len, bc->chunks[k].p, chunks[k]);
			len += chunks[k];
		}
		/* Whatever follows the last chunk is the next command. */
		memcpy(in + len, "QUIT\r\n", 6);
		struct smtp_data d;
		struct result r;
		char how[64];
		for (size_t i = 0; i <= len + 6; i++) {
			struct schedule s = {{i, 0}, 1, len + 6, 1 << 16};
			smtp_data_bdat_init(&d, max, bc->data_flags);
			feed(&d, in, len + 6, &s, chunks, bc->n_chunks, &r);
			snprintf(how, sizeof(how), "split %zu", i);
			check_result(bc->name, how, &r, bc->out, bc->out_len, (long)len, bc->flags, bc->longest,
				     size);
		}
		for (size_t out_max = 2; out_max <= 3; out_max++) {
			struct schedule s = {{0, 0}, 0, 1, out_max};
			smtp_data_bdat_init(&d, max, bc->data_flags);
			feed(&d, in, len + 6, &s, chunks, bc->n_chunks, &r);
			snprintf(how, sizeof(how), "bytewise out %zu", out_max);
			check_result(bc->name, how, &r, bc->out, bc->out_len, (long)len, bc->flags, bc->longest,
				     size);
		}
	}
}

/* A chunk size far beyond the input: the decoder takes what there is. */
TEST(bdat_partial)
{
	struct smtp_data d;
	struct buf out;
	size_t used;
	buf_init(&out, 100);
	smtp_data_bdat_init(&d, 10, 0);
	smtp_data_bdat_chunk(&d, 1000000, true);
	CHECK_INT(smtp_data_parse(&d, "0123456789abc", 13, &used, &out), 0);
	CHECK_INT(used, 13);
	CHECK_STR(buf_cstr(&out), "0123456789");
	CHECK(d.too_big);
	CHECK_INT(d.size, 13);
	CHECK_INT(d.chunk_left, 1000000 - 13);
	CHECK(!d.done);
	buf_free(&out);
}

int main(void)
{
	RUN(data);
	RUN(data_large);
	RUN(bdat);
	RUN(bdat_partial);
	return test_done();
}
