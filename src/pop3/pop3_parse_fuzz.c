/* libFuzzer target for pop3_parse: the command parser and the RETR/TOP
 * encoder.
 *
 * Input: one mode byte, one size byte, then the data.
 *   mode even: the data is a client stream, fed to the parser in pieces of
 *     (size byte % 32) + 1 bytes; after an AUTH with a mechanism and no
 *     initial response the next line is taken as a SASL response, as the
 *     server does. Checks: progress on every call, every view inside the
 *     parser's line, message numbers only where they belong, and the same
 *     results as the whole stream in one piece.
 *   mode odd: the data is a stored message, encoded for RETR (size byte
 *     bit 7 clear) or TOP with (size byte & 0x7f) lines, into output chunks
 *     of (mode >> 1) + 3 bytes; compared with a plain byte-at-a-time
 *     reference encoder written here from the RFC.
 * Seeds: tests/fuzz/pop3_parse/. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_parse.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                             \
	do {                                                                                                 \
		if (!(x))                                                                                    \
			__builtin_trap();                                                                    \
	} while (0)

static bool inside(const struct pop3_parser *p, const char *v, size_t n)
{
	return v >= p->line.data && v + n <= p->line.data + p->line.len;
}

/* Runs the stream through a parser in pieces of `piece` bytes; appends a
 * digest of every result to out. */
static void run_parser(const char *in, size_t len, size_t piece, struct buf *out)
{
	struct pop3_parser p;
	pop3_parser_init(&p);
	size_t off = 0;
	while (off < len) {
		size_t plen = len - off < piece ? len - off : piece;
		size_t used_here = 0;
		while (used_here < plen) {
			struct pop3_command c;
			const char *error = NULL;
			size_t used = 0;
			int r = pop3_parse(&p, in + off + used_here, plen - used_here, &used, &c, &error);
			CHECK(used <= plen - used_here);
			CHECK(r != 0 || used == plen - used_here);
			used_here += used;
			if (r < 0) {
				CHECK(error != NULL);
				buf_printf(out, "E%s|", error);
				continue;
			}
			if (r == 0)
				break;
			CHECK(c.cmd < POP3_CMD_COUNT);
			CHECK(c.verb == NULL || inside(&p, c.verb, c.verb_len));
			CHECK(c.arg == NULL || inside(&p, c.arg, c.arg_len));
			CHECK(c.ir == NULL || (c.arg != NULL && inside(&p, c.ir, c.ir_len)));
			CHECK(!c.has_msg || c.cmd == POP3_CMD_LIST || c.cmd == POP3_CMD_UIDL ||
			      c.cmd == POP3_CMD_RETR || c.cmd == POP3_CMD_DELE || c.cmd == POP3_CMD_TOP);
			CHECK(p.line.len <= POP3_SASL_LINE_MAX);
			buf_printf(out, "%d:%u:%u:%zu:%zu|", (int)c.cmd, c.msg, c.lines, c.arg_len, c.ir_len);
			if (c.arg != NULL)
				buf_append(out, c.arg, c.arg_len);
			if (c.cmd == POP3_CMD_AUTH && c.arg != NULL && c.ir == NULL)
				pop3_parser_expect_sasl(&p);
		}
		off += plen;
	}
	pop3_parser_deinit(&p);
}

/* The reference: byte at a time, straight from the rules. */
static void reference_encode(const char *in, size_t len, bool top, uint32_t lines, struct buf *out)
{
	bool bol = true, in_body = false;
	size_t line_start = 0;
	uint32_t left = lines;
	bool done = false;
	for (size_t i = 0; i < len && !done; i++) {
		char c = in[i];
		if (bol && c == '.')
			buf_putc(out, '.');
		bol = false;
		if (c == '\n') {
			bool cr = i > line_start && in[i - 1] == '\r';
			if (!cr)
				buf_putc(out, '\r');
			buf_putc(out, '\n');
			size_t n = i - line_start;
			bool empty = n == 0 || (n == 1 && cr);
			bol = true;
			line_start = i + 1;
			if (top) {
				if (!in_body) {
					if (empty) {
						in_body = true;
						done = left == 0;
					}
				} else if (--left == 0) {
					done = true;
				}
			}
			continue;
		}
		buf_putc(out, c);
	}
	if (!bol)
		buf_puts(out, "\r\n");
	buf_puts(out, ".\r\n");
}

static void run_encoder(const char *in, size_t len, bool top, uint32_t lines, size_t chunk_size,
			struct buf *out)
{
	struct pop3_encoder e;
	pop3_encoder_init(&e, top, lines);
	char *chunk = malloc(chunk_size < POP3_ENCODE_END_MAX ? POP3_ENCODE_END_MAX : chunk_size);
	size_t off = 0;
	while (off < len) {
		size_t used;
		size_t n = pop3_encode(&e, in + off, len - off, &used, chunk, chunk_size);
		CHECK(n <= chunk_size);
		CHECK(n > 0 || used > 0);
		buf_append(out, chunk, n);
		off += used;
	}
	buf_append(out, chunk, pop3_encode_end(&e, chunk, POP3_ENCODE_END_MAX));
	CHECK(e.out_total == out->len);
	free(chunk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t mode = data[0], arg = data[1];
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	struct buf a, b;
	buf_init(&a, 1 << 26);
	buf_init(&b, 1 << 26);
	if ((mode & 1) == 0) {
		run_parser(in, len, (size_t)(arg % 32) + 1, &a);
		run_parser(in, len, len ? len : 1, &b);
	} else {
		bool top = (arg & 0x80) != 0;
		uint32_t lines = arg & 0x7f;
		run_encoder(in, len, top, lines, (size_t)(mode >> 1) + 3, &a);
		reference_encode(in, len, top, lines, &b);
	}
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	buf_free(&a);
	buf_free(&b);
	return 0;
}
