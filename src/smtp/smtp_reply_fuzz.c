/* libFuzzer target for smtp_reply: parses the input as a server's output
 * twice, in one piece and in pseudo-random small pieces (seeded by the
 * first byte), and checks both give the same replies and the same error;
 * every complete reply is also run through smtp_reply_format and
 * smtp_ehlo_parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_reply.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const char *in, size_t len, unsigned seed, struct buf *out)
{
	static struct smtp_reply_parser p;
	smtp_reply_parser_init(&p);
	size_t pos = 0;
	while (pos < len) {
		size_t n = len - pos;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			size_t k = 1 + (seed >> 8) % 13;
			n = k < n ? k : n;
		}
		size_t used = 0;
		const char *error = NULL;
		int r = smtp_reply_parse(&p, in + pos, n, &used, &error);
		if (used > n)
			abort();
		if (r < 0) {
			buf_printf(out, "E%s;", error);
			return;
		}
		if (r == 1) {
			char f[SMTP_REPLY_TEXT_MAX + 32];
			smtp_reply_format(&p.reply, f, sizeof(f));
			struct smtp_ehlo e;
			smtp_ehlo_parse(&p.reply, &e);
			if (strlen(p.reply.text) != p.reply.text_len || p.reply.code < 200 ||
			    p.reply.code > 559)
				abort();
			buf_printf(out, "R%u|%s|%zu|", p.reply.code, p.reply.enh, p.reply.text_len);
			buf_append(out, p.reply.text, p.reply.text_len);
			buf_putc(out, ';');
		} else if (used != n)
			abort();
		pos += used;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned seed = data[0] | 1u;
	const char *in = (const char *)data + 1;
	size--;
	struct buf a, b;
	buf_init(&a, 1 << 24);
	buf_init(&b, 1 << 24);
	run(in, size, 0, &a);
	run(in, size, seed, &b);
	if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	buf_free(&a);
	buf_free(&b);
	return 0;
}
