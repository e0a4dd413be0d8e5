/* Content-Type / Content-Disposition parameters with RFC 2231 (see
 * params.h).
 *
 * The tokenizer follows RFC 2045 (tokens exclude tspecials; comments and
 * folding are skipped) but forgives: a broken parameter is skipped up to
 * the next ';', and "name==?utf-8?b?...?=" keeps its encoded-word. The
 * RFC 2231 merge mirrors Dovecot 2.3: plain parameters first, in order,
 * then the merged continuations sorted by name; when a piece is missing
 * the pieces stay as they are ("name*0", "name*2"). */
#include "mime/params.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "mime/rfc2047.h"
#include "util/buf.h"
#include "util/charset.h"
#include "util/mem.h"
#include "util/strnum.h"

struct pcur {
	const char *s;
	size_t n, pos;
};

static void skip_lwsp(struct pcur *c)
{
	while (c->pos < c->n) {
		char ch = c->s[c->pos];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			c->pos++;
			continue;
		}
		if (ch != '(')
			return;
		int depth = 0;
		while (c->pos < c->n) {
			ch = c->s[c->pos++];
			if (ch == '\\' && c->pos < c->n)
				c->pos++;
			else if (ch == '(')
				depth++;
			else if (ch == ')' && --depth == 0)
				break;
		}
	}
}

static bool is_token_char(unsigned char ch)
{
	if (ch >= 0x80)
		return true;
	if (ch <= ' ' || ch == 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", ch) == NULL;
}

/* A token (RFC 2045 plus '.'), as a view; the cursor then skips LWSP. */
static size_t token(struct pcur *c, const char **p_r)
{
	size_t start = c->pos;
	while (c->pos < c->n && is_token_char((unsigned char)c->s[c->pos]))
		c->pos++;
	*p_r = c->s + start;
	size_t len = c->pos - start;
	skip_lwsp(c);
	return len;
}

static void quoted(struct pcur *c, struct buf *out)
{
	c->pos++;
	while (c->pos < c->n) {
		char ch = c->s[c->pos++];
		if (ch == '"')
			return;
		if (ch == '\\' && c->pos < c->n && c->s[c->pos] != '\r' && c->s[c->pos] != '\n')
			ch = c->s[c->pos++];
		else if (ch == '\r' || ch == '\n')
			continue;
		if (ch == '\0')
			(void)buf_puts(out, "\xEF\xBF\xBD"); /* as Dovecot */
		else
			(void)buf_putc(out, ch);
	}
}

struct raw_param {
	char *key; /* as written */
	char *value;
	/* RFC 2231 piece: */
	char *base; /* key before '*', lower-cased; NULL when not a piece */
	unsigned idx;
	bool extended;
};

struct raw_list {
	struct raw_param *v;
	size_t count, cap;
};

static void raw_add(struct raw_list *l, const char *k, size_t kn, const char *v, size_t vn)
{
	if (l->count >= MIME_MAX_PARAMS)
		return;
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	struct raw_param *r = &l->v[l->count++];
	memset(r, 0, sizeof(*r));
	r->key = xmemdup(k, kn);
	r->value = xmemdup(v, vn);
	const char *star = memchr(k, '*', kn);
	if (star == NULL)
		return;
	const char *p = star + 1, *end = k + kn;
	unsigned idx = 0;
	bool digits = false;
	while (p < end && *p >= '0' && *p <= '9' && idx < 100000) {
		idx = idx * 10 + (unsigned)(*p - '0');
		p++;
		digits = true;
	}
	bool ext = !digits; /* "name*=": extended, not continued */
	if (digits && p < end && *p == '*') {
		ext = true;
		p++;
	}
	if (p != end)
		return; /* "a*b": not a piece */
	r->base = xmemdup(k, (size_t)(star - k));
	for (char *q = r->base; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q + 32);
	r->idx = idx;
	r->extended = ext;
}

static void parse_raw(struct pcur *c, struct raw_list *l)
{
	struct buf val;
	buf_init(&val, c->n * 3 + 1);
	while (c->pos < c->n) {
		if (c->s[c->pos] != ';') {
			c->pos++; /* junk: skip to the next ';' */
			continue;
		}
		c->pos++;
		skip_lwsp(c);
		const char *k;
		size_t kn = token(c, &k);
		if (kn == 0 || c->pos >= c->n || c->s[c->pos] != '=')
			continue;
		c->pos++;
		skip_lwsp(c);
		buf_reset(&val);
		if (c->pos < c->n && c->s[c->pos] == '"') {
			quoted(c, &val);
		} else if (c->pos < c->n && c->s[c->pos] == '=') {
			/* broken "name==?utf-8?b?...?=" */
			size_t start = c->pos;
			while (c->pos < c->n && c->s[c->pos] != ';' && c->s[c->pos] != ' ' &&
			       c->s[c->pos] != '\t' && c->s[c->pos] != '\r' && c->s[c->pos] != '\n')
				c->pos++;
			(void)buf_append(&val, c->s + start, c->pos - start);
		} else {
			const char *v;
			size_t vn = token(c, &v);
			(void)buf_append(&val, v, vn);
		}
		skip_lwsp(c);
		raw_add(l, k, kn, buf_cstr(&val), val.len);
	}
	buf_free(&val);
}

/* charset'lang'pct-encoded -> UTF-8 */
static char *decode_2231(const char *v)
{
	const char *q1 = strchr(v, '\'');
	const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
	char *charset = NULL;
	const char *text = v;
	if (q2 != NULL) {
		charset = xmemdup(v, (size_t)(q1 - v));
		text = q2 + 1;
	}
	struct buf bytes, out;
	size_t n = strlen(text);
	buf_init(&bytes, n + 1);
	buf_init(&out, n * 4 + 16);
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '%' && i + 2 < n && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
			(void)buf_putc(&bytes, (char)(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
			i += 2;
		} else
			(void)buf_putc(&bytes, text[i]);
	}
	(void)charset_to_utf8(charset && *charset ? charset : NULL, buf_cstr(&bytes), bytes.len, &out);
	free(charset);
	buf_free(&bytes);
	return buf_steal(&out, NULL);
}

static void out_add(struct mime_param **params, size_t *count, char *raw_name, char *value, bool extended)
{
	struct mime_param *p;
	*params = xreallocarray(*params, *count + 1, sizeof(**params));
	p = &(*params)[(*count)++];
	p->raw_name = raw_name;
	p->value = value;
	size_t nl = strlen(raw_name);
	if (extended && nl > 0 && raw_name[nl - 1] == '*')
		nl--;
	p->name = xmemdup(raw_name, nl);
	for (char *q = p->name; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q + 32);
	if (extended)
		p->value_utf8 = decode_2231(value);
	else
		p->value_utf8 = rfc2047_decode_dup(value, strlen(value), strlen(value) * 4 + 16);
}

static int piece_cmp(const void *a, const void *b)
{
	const struct raw_param *x = *(struct raw_param *const *)a;
	const struct raw_param *y = *(struct raw_param *const *)b;
	int r = strcmp(x->base, y->base);
	if (r != 0)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx ? 1 : 0;
}

static void merge(struct raw_list *l, struct mime_param **params, size_t *count)
{
	size_t npieces = 0;
	for (size_t i = 0; i < l->count; i++) {
		struct raw_param *r = &l->v[i];
		if (r->base == NULL) {
			out_add(params, count, r->key, r->value, false);
			r->key = r->value = NULL;
		} else
			npieces++;
	}
	if (npieces > 0) {
		struct raw_param **pv = xcalloc(npieces, sizeof(*pv));
		size_t k = 0;
		for (size_t i = 0; i < l->count; i++)
			if (l->v[i].base != NULL)
				pv[k++] = &l->v[i];
		qsort(pv, npieces, sizeof(*pv), piece_cmp);
		for (size_t i = 0, next; i < npieces; i = next) {
			bool ok = true, ext = false;
			for (next = i; next < npieces && strcmp(pv[next]->base, pv[i]->base) == 0; next++) {
				if (pv[next]->idx != next - i)
					ok = false;
				if (pv[next]->extended)
					ext = true;
			}
			if (!ok) {
				for (size_t j = i; j < next; j++) {
					out_add(params, count, pv[j]->key, pv[j]->value, false);
					pv[j]->key = pv[j]->value = NULL;
				}
				continue;
			}
			struct buf v;
			buf_init(&v, BUF_MAX_DEFAULT);
			if (ext && !pv[i]->extended)
				(void)buf_puts(&v, "''");
			for (size_t j = i; j < next; j++) {
				if (ext && !pv[j]->extended) {
					for (const char *q = pv[j]->value; *q; q++) {
						if (*q == '%')
							(void)buf_puts(&v, "%25");
						else
							(void)buf_putc(&v, *q);
					}
				} else
					(void)buf_puts(&v, pv[j]->value);
			}
			/* the name as written in the first piece, up to its '*' */
			const char *k0 = pv[i]->key;
			size_t bl = strlen(pv[i]->base);
			char *name = xmalloc(bl + 2);
			memcpy(name, k0, bl);
			if (ext)
				name[bl] = '*';
			out_add(params, count, name, buf_steal(&v, NULL), ext);
		}
		free(pv);
	}
	for (size_t i = 0; i < l->count; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
		free(l->v[i].base);
	}
	free(l->v);
}

void mime_params_parse(const char *s, size_t n, struct mime_param **params_r, size_t *count_r)
{
	struct pcur c = {s, n, 0};
	struct raw_list l = {NULL, 0, 0};
	parse_raw(&c, &l);
	merge(&l, params_r, count_r);
}

int mime_params_parse_content_type(const char *s, size_t n, char **type_r, char **subtype_r,
				   struct mime_param **params_r, size_t *count_r)
{
	struct pcur c = {s, n, 0};
	const char *t, *st;
	size_t tn, stn;
	*type_r = *subtype_r = NULL;
	skip_lwsp(&c);
	tn = token(&c, &t);
	if (tn == 0 || c.pos >= c.n || s[c.pos] != '/')
		return -1;
	c.pos++;
	skip_lwsp(&c);
	stn = token(&c, &st);
	if (stn == 0 || (c.pos < c.n && s[c.pos] != ';'))
		return -1;
	*type_r = xmemdup(t, tn);
	*subtype_r = xmemdup(st, stn);
	mime_params_parse(s + c.pos, n - c.pos, params_r, count_r);
	return 0;
}

int mime_params_parse_disposition(const char *s, size_t n, char **token_r, struct mime_param **params_r,
				  size_t *count_r)
{
	struct pcur c = {s, n, 0};
	const char *t;
	*token_r = NULL;
	skip_lwsp(&c);
	size_t tn = token(&c, &t);
	if (tn == 0)
		return -1;
	*token_r = xmemdup(t, tn);
	mime_params_parse(s + c.pos, n - c.pos, params_r, count_r);
	return 0;
}

void mime_params_free(struct mime_param **params, size_t count)
{
	if (*params == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*params)[i].name);
		free((*params)[i].value);
		free((*params)[i].value_utf8);
		free((*params)[i].raw_name);
	}
	XFREE(params);
}

const char *mime_param_get(const struct mime_param *params, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(params[i].name, name) == 0)
			return params[i].value;
	return NULL;
}

const char *mime_param_get_utf8(const struct mime_param *params, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(params[i].name, name) == 0)
			return params[i].value_utf8;
	return NULL;
}
