/* libFuzzer target for smtp_data: decodes the input as a DATA stream (or
 * as BDAT chunks) three ways and checks they agree byte for byte: in one
 * call with a large output buffer, in pseudo-random pieces through a tiny
 * output buffer, and with a straightforward reference decoder written
 * from the rules in smtp_data.h (find the first CRLF.CRLF, split lines on
 * CRLF, drop a leading dot, turn every LF left inside a line into CRLF).
 *
 * Input layout: byte 0 = mode (bit 0: BDAT, bit 1: BINARY), byte 1 = size
 * limit selector, byte 2 = output buffer size, byte 3 = seed of the piece
 * sizes; the rest is the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_data.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIG ((size_t)1 << 22)

struct outcome {
	struct buf out;
	size_t consumed;
	bool done, bare_lf, bare_cr, eightbit, nul, too_big;
	size_t longest;
	uint64_t size;
};

static uint32_t rnd(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

/* Decodes in[0..len) with pieces of at most max_piece bytes (random sizes
 * when seed != 0) and an output buffer of out_max bytes. For BDAT the
 * chunk sizes come from chunks[]. */
static void run(const uint8_t *in, size_t len, bool bdat, unsigned flags, uint64_t max, size_t out_max,
		uint32_t seed, const size_t *chunks, size_t n_chunks, struct outcome *o)
{
	struct smtp_data d;
	struct buf out;
	size_t chunk = 0;

	buf_init(&o->out, BIG);
	buf_init(&out, out_max);
	o->consumed = 0;
	if (bdat) {
		smtp_data_bdat_init(&d, max, flags);
		smtp_data_bdat_chunk(&d, chunks[0], n_chunks == 1);
	} else {
		smtp_data_init(&d, max);
	}
	while (!d.done && o->consumed <= len) {
		size_t avail = len - o->consumed;
		if (seed != 0 && avail > 0)
			avail = 1 + rnd(&seed) % (avail < 17 ? avail : 17);
		size_t used = 0;
		int r = smtp_data_parse(&d, in + o->consumed, avail, &used, &out);
		o->consumed += used;
		if (out.len && buf_append(&o->out, out.data, out.len) < 0)
			abort();
		bool progress = used > 0 || out.len > 0;
		buf_reset(&out);
		if (r == 1 && bdat && !d.done) {
			if (++chunk == n_chunks)
				abort(); /* the last chunk is LAST */
			smtp_data_bdat_chunk(&d, chunks[chunk], chunk + 1 == n_chunks);
			continue;
		}
		if (r == 0 && !progress && avail > 0)
			abort(); /* stuck with input and an empty out */
		if (r == 0 && o->consumed == len)
			break;
	}
	o->done = d.done;
	o->bare_lf = d.bare_lf;
	o->bare_cr = d.bare_cr;
	o->eightbit = d.eightbit;
	o->nul = d.nul;
	o->too_big = d.too_big;
	o->longest = d.longest_line;
	o->size = d.size;
	buf_free(&out);
}

static void same(const struct outcome *a, const struct outcome *b)
{
	if (a->out.len != b->out.len || (a->out.len && memcmp(a->out.data, b->out.data, a->out.len) != 0) ||
	    a->consumed != b->consumed || a->done != b->done || a->bare_lf != b->bare_lf ||
	    a->bare_cr != b->bare_cr || a->eightbit != b->eightbit || a->nul != b->nul ||
	    a->too_big != b->too_big || a->longest != b->longest || a->size != b->size) {
		fprintf(stderr, "mismatch: len %zu/%zu consumed %zu/%zu done %d/%d size %llu/%llu longest %zu/%zu\n",
			a->out.len, b->out.len, a->consumed, b->consumed, a->done, b->done,
			(unsigned long long)a->size, (unsigned long long)b->size, a->longest, b->longest);
		abort();
	}
}

/* Reference for a finished DATA message or a whole BDAT body: appends a
 * stored line (content without line end) and its CRLF when eol. */
static void ref_line(struct outcome *o, const uint8_t *p, size_t n, bool eol, size_t *line_len)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x80)
			o->eightbit = true;
		if (p[i] == 0)
			o->nul = true;
	}
	if (buf_append(&o->out, p, n) < 0)
		abort();
	*line_len += n;
	if (eol) {
		if (buf_append(&o->out, "\r\n", 2) < 0)
			abort();
		if (*line_len > o->longest)
			o->longest = *line_len;
		*line_len = 0;
	}
}

/* Stores an SMTP line's content (no dot handling): every LF inside it was
 * a bare one; every CR inside it a bare one. */
static void ref_text(struct outcome *o, const uint8_t *p, size_t n, bool eol, size_t *line_len)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r')
			o->bare_cr = true;
		if (p[i] == '\n') {
			o->bare_lf = true;
			ref_line(o, p + start, i - start, true, line_len);
			start = i + 1;
		}
	}
	ref_line(o, p + start, n - start, eol, line_len);
}

static const uint8_t *find(const uint8_t *p, size_t len, const char *what, size_t n)
{
	return memmem(p, len, what, n);
}

static void reference_data(const uint8_t *in, size_t len, struct outcome *o)
{
	/* The data starts at the start of a line: look in "\r\n" + in. */
	uint8_t *pre = malloc(len + 2);
	size_t line_len = 0;
	memcpy(pre, "\r\n", 2);
	memcpy(pre + 2, in, len);
	const uint8_t *m = find(pre, len + 2, "\r\n.\r\n", 5);
	buf_init(&o->out, BIG);
	o->done = m != NULL;
	if (m != NULL) {
		size_t k = (size_t)(m - pre); /* content is in[0..k) */
		o->consumed = k + 3;
		size_t pos = 0;
		while (pos < k) {
			const uint8_t *crlf = find(in + pos, k - pos, "\r\n", 2);
			size_t end = (size_t)(crlf - in);
			size_t s = pos + (in[pos] == '.');
			if (s > end)
				s = end;
			ref_text(o, in + s, end - s, true, &line_len);
			pos = end + 2;
		}
	}
	o->size = o->out.len;
	free(pre);
}

static void reference_bdat(const uint8_t *in, size_t len, bool binary, struct outcome *o)
{
	size_t line_len = 0, start = 0;
	buf_init(&o->out, BIG);
	o->done = true;
	o->consumed = len;
	if (binary) {
		for (size_t i = 0; i < len; i++) {
			o->eightbit |= in[i] >= 0x80;
			o->nul |= in[i] == 0;
		}
		if (buf_append(&o->out, in, len) < 0)
			abort();
		o->size = len;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') {
			ref_text(o, in + start, i - start, true, &line_len);
			start = i + 2;
			i++;
		}
	}
	ref_text(o, in + start, len - start, false, &line_len);
	if (line_len > o->longest)
		o->longest = line_len;
	o->size = o->out.len;
}

/* Cuts the stored form down to what a size limit keeps. */
static void apply_limit(struct outcome *o, uint64_t max)
{
	if (o->size > max) {
		o->too_big = true;
		buf_truncate(&o->out, (size_t)max);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t limits[] = {UINT64_MAX, 0, 1, 2, 3, 5, 8, 16, 64, 1000};
	if (size < 4 || size > 65536)
		return 0;
	bool bdat = data[0] & 1;
	unsigned flags = (data[0] & 2) ? SMTP_DATA_BINARY : 0;
	uint64_t max = limits[data[1] % (sizeof(limits) / sizeof(limits[0]))];
	size_t out_max = 2 + data[2] % 8;
	uint32_t seed = data[3] | 1u;
	const uint8_t *in = data + 4;
	size_t len = size - 4;

	/* BDAT: chunk sizes from the seed, covering all of in, LAST at the end. */
	size_t chunks[64], n_chunks = 0, left = len;
	uint32_t cs = seed;
	while (n_chunks < 63 && left > 0) {
		size_t c = rnd(&cs) % (left + 1);
		chunks[n_chunks++] = c;
		left -= c;
	}
	chunks[n_chunks++] = left;

	struct outcome whole, pieces, ref;
	memset(&whole, 0, sizeof(whole));
	memset(&pieces, 0, sizeof(pieces));
	memset(&ref, 0, sizeof(ref));
	run(in, len, bdat, flags, max, BIG, 0, chunks, n_chunks, &whole);
	run(in, len, bdat, flags, max, out_max, seed, chunks, n_chunks, &pieces);
	same(&whole, &pieces);

	if (bdat) {
		reference_bdat(in, len, flags != 0, &ref);
		if (flags != 0) {
			ref.longest = whole.longest;
			ref.bare_lf = ref.bare_cr = false;
		}
		apply_limit(&ref, max);
		same(&whole, &ref);
	} else {
		reference_data(in, len, &ref);
		if (ref.done != whole.done)
			abort();
		if (ref.done) {
			apply_limit(&ref, max);
			same(&whole, &ref);
		} else if (whole.consumed != len) {
			abort();
		}
	}
	buf_free(&whole.out);
	buf_free(&pieces.out);
	buf_free(&ref.out);
	return 0;
}
