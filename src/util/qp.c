/* Quoted-printable decoding and encoding (see qp.h).
 *
 * The decoder never fails on bad input: mail in the wild has "=" signs that
 * are not escapes and lines with trailing blanks, and a reader would rather
 * see them than an error. It works a line at a time so that the trailing
 * whitespace rule is linear. */
#include "util/qp.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/strnum.h"

/* Decodes one line (no line end in it). *soft_r is set when it ends with a
 * soft break. */
static int decode_line(struct buf *out, const char *s, size_t n, bool *soft_r)
{
	/* rule 3: trailing blanks are not part of the data */
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*soft_r = false;
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c != '=')
			continue;
		if (i > start && buf_append(out, s + start, i - start) < 0)
			return -1;
		start = i + 1;
		if (i + 1 == n) {
			*soft_r = true;
			return 0;
		}
		int hi = hex_digit((unsigned char)s[i + 1]);
		int lo = i + 2 < n ? hex_digit((unsigned char)s[i + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			if (buf_putc(out, (char)(hi * 16 + lo)) < 0)
				return -1;
			i += 2;
			start = i + 1;
		} else {
			/* not an escape: keep the "=" */
			if (buf_putc(out, '=') < 0)
				return -1;
		}
	}
	if (n > start && buf_append(out, s + start, n - start) < 0)
		return -1;
	return 0;
}

int qp_decode(struct buf *out, const char *s, size_t n)
{
	size_t pos = 0;
	while (pos < n) {
		const char *lf = memchr(s + pos, '\n', n - pos);
		size_t end = lf ? (size_t)(lf - s) : n;
		size_t line_end = end;
		if (lf && line_end > pos && s[line_end - 1] == '\r')
			line_end--;
		bool soft;
		if (decode_line(out, s + pos, line_end - pos, &soft) < 0)
			return -1;
		if (lf) {
			if (!soft && buf_append(out, s + line_end, end + 1 - line_end) < 0)
				return -1;
			pos = end + 1;
		} else
			pos = n;
	}
	return 0;
}

int qp_decode_q(struct buf *out, const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c != '=' && c != '_')
			continue;
		if (i > start && buf_append(out, s + start, i - start) < 0)
			return -1;
		start = i + 1;
		int r;
		if (c == '_')
			r = buf_putc(out, ' ');
		else if (i + 2 < n && hex_digit((unsigned char)s[i + 1]) >= 0 &&
			 hex_digit((unsigned char)s[i + 2]) >= 0) {
			r = buf_putc(out, (char)(hex_digit((unsigned char)s[i + 1]) * 16 +
						 hex_digit((unsigned char)s[i + 2])));
			i += 2;
			start = i + 1;
		} else
			r = buf_putc(out, '=');
		if (r < 0)
			return -1;
	}
	if (n > start && buf_append(out, s + start, n - start) < 0)
		return -1;
	return 0;
}

/* ---- Encoding ----------------------------------------------------------- */

struct enc {
	struct buf *out;
	size_t col; /* characters on the current output line */
};

static int put_soft_break(struct enc *e)
{
	e->col = 0;
	return buf_append(e->out, "=\r\n", 3);
}

/* Writes one unit (a literal byte or a 3-character escape), breaking the
 * line first when it would pass 75 characters plus the "=" of a soft break. */
static int put_unit(struct enc *e, const char *u, size_t n)
{
	if (e->col + n > 75 && put_soft_break(e) < 0)
		return -1;
	e->col += n;
	return buf_append(e->out, u, n);
}

static int put_escape(struct enc *e, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char u[3] = {'=', hex[c >> 4], hex[c & 15]};
	return put_unit(e, u, 3);
}

int qp_encode(struct buf *out, const void *p, size_t n, int flags)
{
	const unsigned char *s = p;
	struct enc e = {out, 0};
	size_t old = out->len;
	bool binary = (flags & QP_BINARY) != 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		int r;
		if (!binary && (c == '\n' || (c == '\r' && i + 1 < n && s[i + 1] == '\n'))) {
			if (c == '\r')
				i++;
			e.col = 0;
			r = buf_append(out, "\r\n", 2);
		} else if (c == ' ' || c == '\t') {
			/* blanks before a line end (or the end) must be encoded */
			bool at_eol =
			    i + 1 == n || (!binary && (s[i + 1] == '\n' ||
						       (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n')));
			if (at_eol)
				r = put_escape(&e, c);
			else {
				char ch = (char)c;
				r = put_unit(&e, &ch, 1);
			}
		} else if (c == '=' || c < 32 || c > 126) {
			r = put_escape(&e, c);
		} else if (e.col == 0 &&
			   (c == '.' || (c == 'F' && n - i >= 5 && memcmp(s + i, "From ", 5) == 0))) {
			r = put_escape(&e, c);
		} else {
			char ch = (char)c;
			r = put_unit(&e, &ch, 1);
		}
		if (r < 0) {
			buf_truncate(out, old);
			return -1;
		}
	}
	return 0;
}
