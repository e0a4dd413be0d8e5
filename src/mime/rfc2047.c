/* RFC 2047 encoded-words (see rfc2047.h).
 *
 * The decoder is lenient the way mail readers are: words glued to text,
 * lower-case "b"/"q", RFC 2231 language suffixes, and UTF-8 split across
 * words all decode; anything malformed stays visible as typed. */
#include "mime/rfc2047.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/base64.h"
#include "util/charset.h"
#include "util/mem.h"
#include "util/qp.h"

struct word {
	const char *charset; /* not NUL-terminated */
	size_t charset_len;
	char enc; /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len; /* the whole encoded word */
};

/* Recognizes an encoded word at s ("=?" already checked). When the text
 * part was scanned and no "?=" ended it, *text_fail_r gets the offsets
 * (from s) of the text's start and of where the scan stopped: any word
 * starting in between fails the same way, which keeps decoding linear. */
static bool parse_word(const char *s, size_t n, struct word *w, size_t text_fail_r[2])
{
	size_t i = 2;
	size_t cs = i;
	while (i < n && s[i] != '?' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
		i++;
	if (i >= n || s[i] != '?' || i == cs || i - cs > 60)
		return false;
	w->charset = s + cs;
	w->charset_len = i - cs;
	const char *star = memchr(w->charset, '*', w->charset_len); /* RFC 2231 language */
	if (star)
		w->charset_len = (size_t)(star - w->charset);
	i++;
	if (i + 1 >= n || s[i + 1] != '?')
		return false;
	char e = s[i];
	if (e == 'b' || e == 'B')
		w->enc = 'B';
	else if (e == 'q' || e == 'Q')
		w->enc = 'Q';
	else
		return false;
	i += 2;
	size_t ts = i;
	while (i + 1 < n && !(s[i] == '?' && s[i + 1] == '=')) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
			break;
		i++;
	}
	if (i + 1 >= n || s[i] != '?') {
		text_fail_r[0] = ts;
		text_fail_r[1] = i + 1 >= n ? n : i;
		return false;
	}
	w->text = s + ts;
	w->text_len = i - ts;
	w->len = i + 2;
	return true;
}

struct decoder {
	struct buf *out;
	struct buf pending; /* decoded bytes of adjacent words in one charset */
	char charset[64];
	bool has_pending;
};

static int flush_pending(struct decoder *d)
{
	if (!d->has_pending)
		return 0;
	d->has_pending = false;
	int r = charset_to_utf8(d->charset, buf_cstr(&d->pending), d->pending.len, d->out);
	buf_reset(&d->pending);
	return r;
}

/* Raw text between words: unfolded, NULs dropped, UTF-8 or Windows-1252. */
static int put_raw(struct decoder *d, const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '\r' && s[i] != '\n' && s[i] != '\0')
			continue;
		if (i > start && charset_to_utf8(NULL, s + start, i - start, d->out) < 0)
			return -1;
		start = i + 1;
	}
	return 0;
}

static bool only_blanks(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	}
	return true;
}

int rfc2047_decode(const char *s, size_t n, struct buf *out)
{
	struct decoder d;
	int r = 0;
	d.out = out;
	d.has_pending = false;
	d.charset[0] = '\0';
	buf_init(&d.pending, n + 16); /* decoded words are never longer than the input */

	size_t pos = 0, text_start = 0, fail_from = 0, fail_to = 0;
	bool last_was_word = false;
	while (pos + 1 < n) {
		const char *q = memchr(s + pos, '=', n - pos - 1);
		if (q == NULL)
			break;
		pos = (size_t)(q - s);
		if (pos >= fail_from && pos < fail_to) {
			pos = fail_to; /* cannot be a word: see parse_word */
			continue;
		}
		struct word w;
		size_t tf[2] = {0, 0};
		if (s[pos + 1] != '?' || !parse_word(s + pos, n - pos, &w, tf)) {
			if (tf[1] > tf[0]) {
				fail_from = pos + tf[0];
				fail_to = pos + tf[1];
			}
			pos++;
			continue;
		}
		/* text before the word; dropped when it is only whitespace
		 * between two words */
		const char *gap = s + text_start;
		size_t gap_len = pos - text_start;
		if (gap_len > 0 && !(last_was_word && only_blanks(gap, gap_len))) {
			if (flush_pending(&d) < 0 || put_raw(&d, gap, gap_len) < 0)
				goto full;
		}
		char cs[64];
		memcpy(cs, w.charset, w.charset_len);
		cs[w.charset_len] = '\0';
		if (d.has_pending && strcasecmp(cs, d.charset) != 0 && flush_pending(&d) < 0)
			goto full;
		memcpy(d.charset, cs, w.charset_len + 1);
		d.has_pending = true;
		if (w.enc == 'B')
			r = base64_decode_lenient(&d.pending, w.text, w.text_len);
		else
			r = qp_decode_q(&d.pending, w.text, w.text_len);
		if (r < 0)
			goto full;
		pos += w.len;
		text_start = pos;
		last_was_word = true;
	}
	if (flush_pending(&d) < 0 || put_raw(&d, s + text_start, n - text_start) < 0)
		goto full;
	buf_free(&d.pending);
	return 0;
full:
	buf_free(&d.pending);
	return -1;
}

char *rfc2047_decode_dup(const char *s, size_t n, size_t max)
{
	struct buf b;
	buf_init(&b, max);
	if (rfc2047_decode(s, n, &b) < 0 && b.len > 0)
		buf_truncate(&b, utf8_truncate(b.data, b.len));
	char *r = buf_steal(&b, NULL);
	return r;
}

/* ---- Encoding ---------------------------------------------------------- */

static bool q_safe(unsigned char c)
{
	/* RFC 2047 5(3): allowed in a phrase */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
	       c == '*' || c == '+' || c == '-' || c == '/';
}

static size_t q_len(unsigned char c)
{
	return q_safe(c) || c == ' ' ? 1 : 3;
}

int rfc2047_encode(const char *s, size_t n, struct buf *out)
{
	static const char prefix_q[] = "=?UTF-8?Q?", prefix_b[] = "=?UTF-8?B?";
	static const char hex[] = "0123456789ABCDEF";
	size_t old = out->len;
	bool plain = true;
	for (size_t i = 0; i < n && plain; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c > 0x7e || (c == '=' && i + 1 < n && s[i + 1] == '?'))
			plain = false;
	}
	if (plain)
		return buf_append(out, s, n);

	size_t qn = 0;
	for (size_t i = 0; i < n; i++)
		qn += q_len((unsigned char)s[i]);
	bool use_q = qn <= (n + 2) / 3 * 4;
	/* room for the text of one word: 75 - "=?UTF-8?Q?" - "?=" */
	const size_t room = 75 - 10 - 2;
	size_t i = 0;
	bool first = true;
	while (i < n) {
		/* take whole characters while they fit */
		size_t j = i, used = 0;
		while (j < n) {
			size_t cl = utf8_seq_len(s + j, n - j);
			if (cl == 0)
				cl = 1;
			size_t need = 0;
			if (use_q) {
				for (size_t k = 0; k < cl; k++)
					need += q_len((unsigned char)s[j + k]);
				if (used + need > room)
					break;
			} else if ((j - i + cl + 2) / 3 * 4 > room)
				break;
			used += need;
			j += cl;
		}
		if (j == i)
			j = i + 1; /* cannot happen with room > 12; be safe */
		if ((!first && buf_append(out, "\r\n ", 3) < 0) ||
		    buf_puts(out, use_q ? prefix_q : prefix_b) < 0)
			goto full;
		if (use_q) {
			for (size_t k = i; k < j; k++) {
				unsigned char c = (unsigned char)s[k];
				int r;
				if (c == ' ')
					r = buf_putc(out, '_');
				else if (q_safe(c))
					r = buf_putc(out, (char)c);
				else {
					char e[3] = {'=', hex[c >> 4], hex[c & 15]};
					r = buf_append(out, e, 3);
				}
				if (r < 0)
					goto full;
			}
		} else if (base64_encode(out, s + i, j - i) < 0)
			goto full;
		if (buf_append(out, "?=", 2) < 0)
			goto full;
		first = false;
		i = j;
	}
	return 0;
full:
	buf_truncate(out, old);
	return -1;
}
