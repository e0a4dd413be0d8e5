/* Header block iteration (see header.h).
 *
 * Works on views: a field is located with memchr over its lines, so a
 * block is walked once, in linear time, however it is folded. */
#include "mime/header.h"

#include <string.h>
#include <strings.h>

#include "util/mem.h"

void mime_header_iter_init(struct mime_header_iter *it, const char *hdr, size_t len)
{
	it->p = hdr;
	it->len = len;
	it->pos = 0;
	it->all_lines = false;
}

static int junk_line(struct mime_header_iter *it, size_t start, size_t end, struct mime_header_field *f)
{
	if (!it->all_lines)
		return 0;
	size_t ve = end;
	if (ve > start && it->p[ve - 1] == '\n')
		ve--;
	if (ve > start && it->p[ve - 1] == '\r')
		ve--;
	f->name = it->p + start;
	f->name_len = 0;
	f->value = it->p + start;
	f->value_len = ve - start;
	f->offset = start;
	f->size = end - start;
	return 1;
}

/* End of the line starting at pos (index after its LF, or len). */
static size_t line_end(const char *p, size_t len, size_t pos)
{
	const char *lf = memchr(p + pos, '\n', len - pos);
	return lf ? (size_t)(lf - p) + 1 : len;
}

static bool is_blank_line(const char *p, size_t len, size_t pos)
{
	return p[pos] == '\n' || (p[pos] == '\r' && pos + 1 < len && p[pos + 1] == '\n') ||
	       (p[pos] == '\r' && pos + 1 == len);
}

int mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *f)
{
	const char *p = it->p;
	size_t len = it->len;

	while (it->pos < len) {
		size_t start = it->pos;
		if (is_blank_line(p, len, start)) {
			it->pos = len;
			return 0;
		}
		/* the field: this line and every following line that starts with
		 * a blank */
		size_t end = line_end(p, len, start);
		while (end < len && (p[end] == ' ' || p[end] == '\t'))
			end = line_end(p, len, end);
		it->pos = end;
		if (p[start] == ' ' || p[start] == '\t') {
			/* continuation with nothing to continue */
			if (junk_line(it, start, end, f))
				return 1;
			continue;
		}
		const char *colon = memchr(p + start, ':', end - start);
		const char *lf = colon ? memchr(p + start, '\n', (size_t)(colon - p) - start) : NULL;
		size_t c = colon ? (size_t)(colon - p) : 0;
		size_t nl = c > start ? c - start : 0;
		while (nl > 0 && (p[start + nl - 1] == ' ' || p[start + nl - 1] == '\t'))
			nl--;
		if (colon == NULL || lf != NULL || nl == 0) {
			/* no colon on the first line: not a field */
			if (junk_line(it, start, end, f))
				return 1;
			continue;
		}
		size_t vs = c + 1, ve = end;
		if (ve > vs && p[ve - 1] == '\n')
			ve--;
		if (ve > vs && p[ve - 1] == '\r')
			ve--;
		while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
			vs++;
		f->name = p + start;
		f->name_len = nl;
		f->value = p + vs;
		f->value_len = ve - vs;
		f->offset = start;
		f->size = end - start;
		return 1;
	}
	return 0;
}

bool mime_header_name_is(const struct mime_header_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

int mime_header_unfold(const char *v, size_t n, struct buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] != '\r' && v[i] != '\n' && v[i] != '\0')
			continue;
		if (buf_append(out, v + start, i - start) < 0)
			return -1;
		if (v[i] == '\0' && buf_puts(out, "\xEF\xBF\xBD") < 0)
			return -1;
		start = i + 1;
	}
	return buf_append(out, v + start, n - start);
}

char *mime_header_value_dup(const struct mime_header_field *f)
{
	struct buf b;
	buf_init(&b, f->value_len * 3 + 1);
	/* cannot fail: at most 3 bytes (U+FFFD for a NUL) per input byte */
	(void)mime_header_unfold(f->value, f->value_len, &b);
	while (b.len > 0 && (b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t'))
		b.len--;
	char *s = b.data ? xmemdup(b.data, b.len) : xstrdup("");
	buf_free(&b);
	return s;
}

size_t mime_header_block_size(const char *data, size_t len, size_t *blank_r)
{
	size_t pos = 0;
	if (blank_r)
		*blank_r = 0;
	while (pos < len) {
		if (data[pos] == '\n' || (data[pos] == '\r' && pos + 1 < len && data[pos + 1] == '\n')) {
			size_t b = data[pos] == '\n' ? 1 : 2;
			if (blank_r)
				*blank_r = b;
			return pos + b;
		}
		pos = line_end(data, len, pos);
	}
	return len;
}
