/* libFuzzer target for DKIM canonicalization and signing input handling:
 * the relaxed body canonicalizer is fed the input whole and in
 * pseudo-random pieces, and both must equal a reference written from the
 * rules as python3-dkim applies them (remove whitespace before CRLF, turn
 * whitespace runs into one space, drop trailing CRLFs, end a non-empty
 * body with CRLF); the header canonicalizer and the From: domain reader
 * run over the input as a header block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"
#include "mime/header.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reference(const char *in, size_t n, struct buf *out)
{
	struct buf a;
	buf_init(&a, n + 16);
	/* 1. whitespace runs before CRLF go away */
	for (size_t i = 0; i < n;) {
		if (in[i] == ' ' || in[i] == '\t') {
			size_t j = i;
			while (j < n && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (!(j + 1 < n && in[j] == '\r' && in[j + 1] == '\n'))
				buf_append(&a, in + i, j - i);
			i = j;
		} else
			buf_putc(&a, in[i++]);
	}
	/* 2. the remaining runs become one space */
	struct buf b;
	buf_init(&b, a.len + 16);
	for (size_t i = 0; i < a.len;) {
		if (a.data[i] == ' ' || a.data[i] == '\t') {
			while (i < a.len && (a.data[i] == ' ' || a.data[i] == '\t'))
				i++;
			buf_putc(&b, ' ');
		} else
			buf_putc(&b, a.data[i++]);
	}
	/* 3. trailing CRLFs go, 4. a non-empty body ends with CRLF */
	size_t len = b.len;
	while (len >= 2 && b.data[len - 2] == '\r' && b.data[len - 1] == '\n')
		len -= 2;
	buf_append(out, b.data, len);
	if (len > 0)
		buf_puts(out, "\r\n");
	buf_free(&a);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned seed = data[0] | 1u;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	struct buf whole, pieces, ref;
	buf_init(&whole, 2 * n + 16);
	buf_init(&pieces, 2 * n + 16);
	buf_init(&ref, 2 * n + 16);
	struct dkim_body b;
	uint8_t h[32];
	dkim_body_init(&b, &whole);
	dkim_body_update(&b, in, n);
	dkim_body_final(&b, h);
	dkim_body_init(&b, &pieces);
	for (size_t pos = 0; pos < n;) {
		seed = seed * 1103515245u + 12345u;
		size_t k = 1 + (seed >> 8) % 9;
		if (k > n - pos)
			k = n - pos;
		dkim_body_update(&b, in + pos, k);
		pos += k;
	}
	dkim_body_final(&b, h);
	reference(in, n, &ref);
	if (whole.len != pieces.len ||
	    memcmp(whole.data ? whole.data : "", pieces.data ? pieces.data : "", whole.len))
		abort();
	if (whole.len != ref.len || memcmp(whole.data ? whole.data : "", ref.data ? ref.data : "", ref.len))
		abort();
	/* Headers: canonical values have no CR, LF or tab, and no double space
	 * (names are kept as they are, lower-cased). */
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, in, mime_header_block_size(in, n, NULL));
	while (mime_header_iter_next(&it, &f) == 1) {
		struct buf c;
		buf_init(&c, 2 * (f.name_len + f.value_len) + 16);
		dkim_canon_header(f.name, f.name_len, f.value, f.value_len, false, &c);
		for (size_t i = f.name_len + 1; i < c.len; i++)
			if (c.data[i] == '\r' || c.data[i] == '\n' || c.data[i] == '\t' ||
			    (i > 0 && c.data[i] == ' ' && c.data[i - 1] == ' '))
				abort();
		buf_free(&c);
	}
	char dom[256];
	if (dkim_from_domain(in, n, dom, sizeof(dom)) == 0 && strlen(dom) >= sizeof(dom))
		abort();
	buf_free(&whole);
	buf_free(&pieces);
	buf_free(&ref);
	return 0;
}
