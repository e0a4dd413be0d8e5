/* imap_util: sequence sets, modified UTF-7 and response strings (see
 * imap_util.h). */
#include "imap/imap_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/charset.h"
#include "util/mem.h"
#include "util/strnum.h"

/* ---- Sequence sets ---------------------------------------------------- */

static int parse_number(const char *s, size_t len, size_t *pos, uint32_t *out, bool *star)
{
	size_t i = *pos;
	*star = false;
	if (i < len && s[i] == '*') {
		*out = 0;
		*star = true;
		*pos = i + 1;
		return 0;
	}
	uint64_t v = 0;
	size_t start = i;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > 0xffffffffULL)
			return -1;
		i++;
	}
	if (i == start || v == 0 || s[start] == '0')
		return -1;
	*out = (uint32_t)v;
	*pos = i;
	return 0;
}

int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set, const char **error_r)
{
	size_t pos = 0, cap = 0;
	set->r = NULL;
	set->count = 0;
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	for (;;) {
		uint32_t a, b;
		bool sa, sb;
		if (parse_number(s, len, &pos, &a, &sa) < 0)
			goto bad;
		b = a;
		sb = sa;
		if (pos < len && s[pos] == ':') {
			pos++;
			if (parse_number(s, len, &pos, &b, &sb) < 0)
				goto bad;
		}
		if (set->count == IMAP_SEQSET_MAX_RANGES) {
			*error_r = "Sequence set too long";
			imap_seqset_free(set);
			return -1;
		}
		if (set->count == cap) {
			cap = cap ? cap * 2 : 4;
			set->r = xreallocarray(set->r, cap, sizeof(*set->r));
		}
		set->r[set->count].lo = a;
		set->r[set->count].hi = b;
		set->r[set->count].star = (uint8_t)((sa ? IMAP_STAR_LO : 0) | (sb ? IMAP_STAR_HI : 0));
		set->count++;
		if (pos == len)
			return 0;
		if (s[pos] != ',')
			goto bad;
		pos++;
	}
bad:
	*error_r = "Invalid sequence set";
	imap_seqset_free(set);
	return -1;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	for (size_t i = 0; i < set->count; i++) {
		struct imap_range *r = &set->r[i];
		uint32_t lo = (r->star & IMAP_STAR_LO) ? star : r->lo;
		uint32_t hi = (r->star & IMAP_STAR_HI) ? star : r->hi;
		r->lo = lo < hi ? lo : hi;
		r->hi = lo < hi ? hi : lo;
		r->star = 0;
	}
	if (set->count > 1)
		qsort(set->r, set->count, sizeof(*set->r), range_cmp);
	size_t n = 0;
	for (size_t i = 0; i < set->count; i++) {
		if (n > 0 && (set->r[i].lo <= set->r[n - 1].hi ||
			      (set->r[n - 1].hi != UINT32_MAX && set->r[i].lo == set->r[n - 1].hi + 1))) {
			if (set->r[i].hi > set->r[n - 1].hi)
				set->r[n - 1].hi = set->r[i].hi;
			continue;
		}
		set->r[n++] = set->r[i];
	}
	set->count = n;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (n < set->r[mid].lo)
			hi = mid;
		else if (n > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool imap_u32_contains(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else if (v[mid] > x)
			hi = mid;
		else
			return true;
	}
	return false;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void imap_u32_sort(uint32_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), u32_cmp);
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->count = 0;
}

int imap_partial_parse(const char *s, size_t len, uint32_t *lo_r, uint32_t *hi_r)
{
	const char *colon = memchr(s, ':', len);
	uint32_t x, y;
	if (colon == NULL || strn_to_u32(s, (size_t)(colon - s), &x) < 0 ||
	    strn_to_u32(colon + 1, len - (size_t)(colon + 1 - s), &y) < 0 || x == 0 || y == 0)
		return -1;
	*lo_r = x < y ? x : y;
	*hi_r = x < y ? y : x;
	return 0;
}

int imap_seqset_write(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (buf_printf(out, i ? ",%u" : "%u", v[i]) < 0)
			return -1;
		if (j > i && buf_printf(out, ":%u", v[j]) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}

/* ---- Modified UTF-7 ---------------------------------------------------- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Decodes one UTF-8 character at s; returns its length (0 when invalid). */
static size_t utf8_decode_char(const char *s, size_t n, uint32_t *cp)
{
	size_t l = utf8_seq_len(s, n);
	const unsigned char *u = (const unsigned char *)s;
	switch (l) {
	case 1:
		*cp = u[0];
		break;
	case 2:
		*cp = ((uint32_t)(u[0] & 0x1f) << 6) | (u[1] & 0x3f);
		break;
	case 3:
		*cp = ((uint32_t)(u[0] & 0x0f) << 12) | ((uint32_t)(u[1] & 0x3f) << 6) | (u[2] & 0x3f);
		break;
	case 4:
		*cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3f) << 12) |
		      ((uint32_t)(u[2] & 0x3f) << 6) | (u[3] & 0x3f);
		break;
	default:
		return 0;
	}
	return l;
}

static int utf8_put(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

int imap_utf7_encode(const char *name, size_t len, struct buf *out)
{
	size_t start_len = out->len;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 0x20 && c < 0x7f) {
			if (buf_putc(out, (char)c) < 0 || (c == '&' && buf_putc(out, '-') < 0))
				goto fail;
			i++;
			continue;
		}
		/* A run of non-printable-ASCII characters, as UTF-16 in base64. */
		if (buf_putc(out, '&') < 0)
			goto fail;
		uint32_t bits = 0;
		int nbits = 0;
		while (i < len && !((unsigned char)name[i] >= 0x20 && (unsigned char)name[i] < 0x7f)) {
			uint32_t cp;
			size_t l = utf8_decode_char(name + i, len - i, &cp);
			if (l == 0)
				goto fail;
			i += l;
			uint16_t units[2];
			int nu = 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = (uint16_t)(0xd800 | (cp >> 10));
				units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nu = 2;
			} else
				units[0] = (uint16_t)cp;
			for (int k = 0; k < nu; k++) {
				bits = (bits << 16) | units[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					if (buf_putc(out, b64chars[(bits >> nbits) & 0x3f]) < 0)
						goto fail;
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0 && buf_putc(out, b64chars[(bits << (6 - nbits)) & 0x3f]) < 0)
			goto fail;
		if (buf_putc(out, '-') < 0)
			goto fail;
	}
	return 0;
fail:
	buf_truncate(out, start_len);
	return -1;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

int imap_utf7_decode(const char *name, size_t len, struct buf *out)
{
	size_t start_len = out->len;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c >= 0x7f)
			goto fail;
		if (c != '&') {
			if (buf_putc(out, (char)c) < 0)
				goto fail;
			i++;
			continue;
		}
		i++;
		if (i < len && name[i] == '-') {
			if (buf_putc(out, '&') < 0)
				goto fail;
			i++;
			continue;
		}
		uint32_t bits = 0;
		int nbits = 0;
		uint32_t high = 0; /* a pending high surrogate */
		size_t chars = 0;
		while (i < len && name[i] != '-') {
			int v = b64val((unsigned char)name[i]);
			if (v < 0)
				goto fail;
			i++;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits >= 16) {
				nbits -= 16;
				uint32_t u = (bits >> nbits) & 0xffff;
				bits &= (1u << nbits) - 1;
				if (u >= 0xd800 && u < 0xdc00) {
					if (high)
						goto fail;
					high = u;
					continue;
				}
				uint32_t cp = u;
				if (u >= 0xdc00 && u < 0xe000) {
					if (!high)
						goto fail;
					cp = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
					high = 0;
				} else if (high)
					goto fail;
				/* Printable ASCII must not be base64-encoded. */
				if (cp >= 0x20 && cp < 0x7f)
					goto fail;
				if (utf8_put(out, cp) < 0)
					goto fail;
				chars++;
			}
		}
		if (i >= len || high || chars == 0 || nbits >= 6 || bits != 0)
			goto fail;
		i++; /* '-' */
	}
	return 0;
fail:
	buf_truncate(out, start_len);
	return -1;
}

/* ---- Strings in responses ---------------------------------------------- */

int imap_append_string(struct buf *out, const char *s, size_t len, bool utf8)
{
	bool quotable = len <= 1024;
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == 0 || (c >= 0x80 && !utf8))
			quotable = false;
	}
	if (!quotable) {
		if (buf_printf(out, "{%zu}\r\n", len) < 0 || buf_append(out, s, len) < 0)
			return -1;
		return 0;
	}
	if (buf_putc(out, '"') < 0)
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			if (buf_append(out, s + run, i - run) < 0 || buf_putc(out, '\\') < 0)
				return -1;
			run = i;
		}
	}
	if (buf_append(out, s + run, len - run) < 0 || buf_putc(out, '"') < 0)
		return -1;
	return 0;
}

int imap_append_nstring(struct buf *out, const char *s, bool utf8)
{
	if (s == NULL)
		return buf_puts(out, "NIL");
	return imap_append_string(out, s, strlen(s), utf8);
}

int imap_append_astring(struct buf *out, const char *s, size_t len, bool utf8)
{
	bool atom = len > 0 && !(len == 3 && strncasecmp(s, "NIL", 3) == 0);
	for (size_t i = 0; i < len && atom; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\", c) != NULL)
			atom = false;
	}
	if (atom)
		return buf_append(out, s, len);
	return imap_append_string(out, s, len, utf8);
}
