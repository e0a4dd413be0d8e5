/* RFC 5322 address-list parsing (see address.h).
 *
 * A small recursive-descent parser over a cursor: CFWS is skipped between
 * tokens (the text of the last comment is kept, since "user@host (Name)"
 * names its owner that way), words are atoms or quoted strings, and every
 * loop consumes at least one byte, so any input ends in linear time. What
 * does not parse is skipped up to the next top-level comma. */
#include "mime/address.h"

#include <stdlib.h>
#include <string.h>

#include "mime/rfc2047.h"
#include "util/mem.h"

struct cur {
	const char *s;
	size_t n, pos;
	const char *comment; /* last comment seen by skip_cfws, without parens */
	size_t comment_len;
};

static bool at_end(const struct cur *c)
{
	return c->pos >= c->n;
}

static char peek(const struct cur *c)
{
	return c->pos < c->n ? c->s[c->pos] : '\0';
}

static void skip_cfws(struct cur *c)
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
		size_t start = c->pos + 1;
		while (c->pos < c->n) {
			ch = c->s[c->pos];
			if (ch == '\\' && c->pos + 1 < c->n)
				c->pos++;
			else if (ch == '(')
				depth++;
			else if (ch == ')' && --depth == 0)
				break;
			c->pos++;
		}
		size_t end = c->pos;
		if (c->pos < c->n)
			c->pos++; /* the ')' */
		c->comment = c->s + start;
		c->comment_len = end > start ? end - start : 0;
	}
}

/* atext (RFC 5322 3.2.3) plus 8-bit bytes (RFC 6532) */
static bool is_atext(unsigned char ch)
{
	if (ch >= 0x80)
		return true;
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* Appends a quoted string's content (escapes and line ends removed). */
static void quoted_string(struct cur *c, struct buf *out)
{
	c->pos++; /* '"' */
	while (c->pos < c->n) {
		char ch = c->s[c->pos++];
		if (ch == '"')
			return;
		if (ch == '\\' && c->pos < c->n)
			ch = c->s[c->pos++];
		else if (ch == '\r' || ch == '\n')
			continue;
		if (ch == '\0')
			(void)buf_puts(out, "\xEF\xBF\xBD");
		else
			(void)buf_putc(out, ch);
	}
}

/* One word: atom or quoted string. Returns false when there is none. */
static bool word(struct cur *c, struct buf *out)
{
	if (peek(c) == '"') {
		quoted_string(c, out);
		return true;
	}
	size_t start = c->pos;
	while (c->pos < c->n && is_atext((unsigned char)c->s[c->pos]))
		c->pos++;
	if (c->pos == start)
		return false;
	(void)buf_append(out, c->s + start, c->pos - start);
	return true;
}

/* phrase / obs-phrase: words separated by CFWS, dots allowed inside atoms
 * (as Dovecot does: "Joe Q. Public"); the words are joined by one space.
 * Returns false when no word was read. */
static bool phrase(struct cur *c, struct buf *out)
{
	bool any = false;
	for (;;) {
		skip_cfws(c);
		if (!any && peek(c) == '.')
			return false;
		size_t before = out->len;
		if (any)
			(void)buf_putc(out, ' ');
		if (peek(c) == '"') {
			quoted_string(c, out);
		} else {
			size_t start = c->pos;
			while (c->pos < c->n &&
			       (is_atext((unsigned char)c->s[c->pos]) || c->s[c->pos] == '.'))
				c->pos++;
			if (c->pos == start) {
				buf_truncate(out, before);
				return any;
			}
			(void)buf_append(out, c->s + start, c->pos - start);
		}
		any = true;
	}
}

/* local-part: words joined by dots, lenient about stray dots. */
static bool local_part(struct cur *c, struct buf *out)
{
	bool any = false;
	for (;;) {
		skip_cfws(c);
		if (peek(c) == '.') {
			(void)buf_putc(out, '.');
			c->pos++;
			any = true;
			continue;
		}
		if (any && out->len > 0 && out->data[out->len - 1] != '.')
			return true; /* two words without a dot: the local part ended */
		if (!word(c, out))
			return any;
		any = true;
	}
}

/* domain: dot-atom or domain-literal "[...]". */
static bool domain(struct cur *c, struct buf *out)
{
	skip_cfws(c);
	if (peek(c) == '[') {
		size_t start = c->pos;
		while (c->pos < c->n && c->s[c->pos] != ']') {
			if (c->s[c->pos] == '\\' && c->pos + 1 < c->n)
				c->pos++;
			c->pos++;
		}
		if (c->pos < c->n)
			c->pos++;
		for (size_t i = start; i < c->pos; i++) {
			if (c->s[i] != '\r' && c->s[i] != '\n')
				(void)buf_putc(out, c->s[i]);
		}
		return true;
	}
	bool any = false;
	for (;;) {
		skip_cfws(c);
		if (peek(c) == '.') {
			(void)buf_putc(out, '.');
			c->pos++;
			continue;
		}
		if (any && out->len > 0 && out->data[out->len - 1] != '.')
			return true;
		size_t start = c->pos;
		while (c->pos < c->n && is_atext((unsigned char)c->s[c->pos]))
			c->pos++;
		if (c->pos == start)
			return any;
		(void)buf_append(out, c->s + start, c->pos - start);
		any = true;
	}
}

struct list {
	struct mime_address *v;
	size_t count, cap;
};

static struct mime_address *add(struct list *l, enum mime_address_kind kind)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	struct mime_address *a = &l->v[l->count++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static char *take(struct buf *b)
{
	char *s = b->data ? xmemdup(b->data, b->len) : xstrdup("");
	buf_reset(b);
	return s;
}

/* Skips to the next top-level ',' (or ';' ending a group, or the end). */
static void skip_garbage(struct cur *c, bool in_group)
{
	while (c->pos < c->n) {
		char ch = c->s[c->pos];
		if (ch == ',' || (in_group && ch == ';'))
			return;
		if (ch == '"') {
			struct buf tmp;
			buf_init(&tmp, 0); /* max 0: appends fail, nothing kept */
			quoted_string(c, &tmp);
			continue;
		}
		if (ch == '(') {
			skip_cfws(c);
			continue;
		}
		c->pos++;
	}
}

/* "<" [route ":"] [local-part ["@" domain]] ">" ; the cursor is on "<". */
static void angle_addr(struct cur *c, struct mime_address *a, struct buf *tmp, bool in_group)
{
	c->pos++;
	skip_cfws(c);
	if (peek(c) == '@') {
		/* obs-route: "@a,@b:" */
		while (peek(c) == '@' || peek(c) == ',') {
			if (peek(c) == ',') {
				c->pos++;
				skip_cfws(c);
				continue;
			}
			if (tmp->len > 0)
				(void)buf_putc(tmp, ',');
			(void)buf_putc(tmp, '@');
			c->pos++;
			size_t before = tmp->len;
			if (!domain(c, tmp) || tmp->len == before)
				break;
			skip_cfws(c);
		}
		a->route = take(tmp);
		if (peek(c) == ':')
			c->pos++;
		else
			a->invalid = true;
		skip_cfws(c);
	}
	if (peek(c) != '>') {
		if (local_part(c, tmp) && tmp->len > 0)
			a->mailbox = take(tmp);
		else
			buf_reset(tmp);
		skip_cfws(c);
		if (peek(c) == '@') {
			c->pos++;
			if (domain(c, tmp) && tmp->len > 0)
				a->domain = take(tmp);
			else
				buf_reset(tmp);
		}
		skip_cfws(c);
	}
	if (peek(c) == '>')
		c->pos++;
	else {
		a->invalid = true;
		skip_garbage(c, in_group);
	}
	skip_cfws(c);
}

/* mailbox = name-addr / addr-spec, lenient. */
static void mailbox(struct cur *c, struct list *l, struct buf *tmp, bool in_group)
{
	struct mime_address *a = add(l, MIME_ADDRESS_MAILBOX);
	size_t start = c->pos;

	/* name-addr: [phrase] "<" ... ">" */
	buf_reset(tmp);
	bool has_phrase = phrase(c, tmp);
	skip_cfws(c);
	if (peek(c) == '<') {
		if (has_phrase && tmp->len > 0)
			a->name = take(tmp);
		buf_reset(tmp);
		angle_addr(c, a, tmp, in_group);
		goto out;
	}

	/* addr-spec: local-part ["@" domain], then maybe "(Name)" */
	c->pos = start;
	c->comment = NULL;
	skip_cfws(c);
	bool quoted = peek(c) == '"';
	buf_reset(tmp);
	if (local_part(c, tmp) && tmp->len > 0)
		a->mailbox = take(tmp);
	buf_reset(tmp);
	skip_cfws(c);
	if (peek(c) == '@') {
		c->pos++;
		if (domain(c, tmp) && tmp->len > 0)
			a->domain = take(tmp);
		buf_reset(tmp);
	} else {
		a->invalid = true;
	}
	skip_cfws(c);
	if (c->comment != NULL && c->comment_len > 0 && a->name == NULL)
		a->name = xmemdup(c->comment, c->comment_len);
	if (a->domain == NULL && !at_end(c) && peek(c) != ',' && !(in_group && peek(c) == ';')) {
		/* "Joe Bloggs": words without an address are a display name */
		c->pos = start;
		buf_reset(tmp);
		phrase(c, tmp);
		if (tmp->len > 0) {
			free(a->name);
			free(a->mailbox);
			a->mailbox = NULL;
			a->name = take(tmp);
		}
		buf_reset(tmp);
		skip_cfws(c);
	} else if (a->domain == NULL && quoted && a->name == NULL) {
		/* a lone "quoted string" is a display name without an address
		 * (Dovecot reads it so too); a lone word is a local part */
		a->name = a->mailbox;
		a->mailbox = NULL;
	}
out:
	if (!at_end(c) && peek(c) != ',' && !(in_group && peek(c) == ';')) {
		a->invalid = true;
		skip_garbage(c, in_group);
	}
	if (a->mailbox == NULL || a->domain == NULL)
		a->invalid = true;
}

size_t mime_address_parse(const char *s, size_t n, struct mime_address **list_r)
{
	struct cur c = {s, n, 0, NULL, 0};
	struct list l = {NULL, 0, 0};
	struct buf tmp;
	buf_init(&tmp, n * 3 + 16); /* a NUL becomes U+FFFD */

	while (!at_end(&c) && l.count < MIME_ADDRESS_MAX) {
		skip_cfws(&c);
		if (at_end(&c))
			break;
		if (peek(&c) == ',' || peek(&c) == ';') {
			c.pos++;
			continue;
		}
		size_t start = c.pos;
		/* group: phrase ":" [mailbox-list] ";" */
		buf_reset(&tmp);
		if (phrase(&c, &tmp)) {
			skip_cfws(&c);
			if (peek(&c) == ':') {
				c.pos++;
				struct mime_address *g = add(&l, MIME_ADDRESS_GROUP_START);
				g->mailbox = take(&tmp);
				for (;;) {
					skip_cfws(&c);
					if (at_end(&c) || peek(&c) == ';' || l.count >= MIME_ADDRESS_MAX)
						break;
					if (peek(&c) == ',') {
						c.pos++;
						continue;
					}
					size_t before = c.pos;
					mailbox(&c, &l, &tmp, true);
					if (c.pos == before)
						c.pos++; /* cannot happen; never loop */
				}
				if (peek(&c) == ';')
					c.pos++;
				struct mime_address *e = add(&l, MIME_ADDRESS_GROUP_END);
				if (at_end(&c) && (c.pos == 0 || c.s[c.pos - 1] != ';'))
					e->invalid = true;
				continue;
			}
		}
		c.pos = start;
		mailbox(&c, &l, &tmp, false);
		if (c.pos == start)
			c.pos++; /* never loop */
	}
	buf_free(&tmp);
	*list_r = l.v;
	return l.count;
}

void mime_address_list_free(struct mime_address **list, size_t count)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*list)[i].name);
		free((*list)[i].route);
		free((*list)[i].mailbox);
		free((*list)[i].domain);
	}
	XFREE(list);
}

static bool is_dot_atom(const char *s)
{
	if (*s == '\0' || *s == '.')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (p[1] == '.' || p[1] == '\0')
				return false;
		} else if (!is_atext((unsigned char)*p))
			return false;
	}
	return true;
}

int mime_address_append_spec(const struct mime_address *a, struct buf *out)
{
	size_t old = out->len;
	if (a->kind != MIME_ADDRESS_MAILBOX || a->mailbox == NULL)
		return 0;
	int r = 0;
	if (is_dot_atom(a->mailbox))
		r = buf_puts(out, a->mailbox);
	else {
		r = buf_putc(out, '"');
		for (const char *p = a->mailbox; *p && r == 0; p++) {
			if (*p == '"' || *p == '\\')
				r = buf_putc(out, '\\');
			if (r == 0)
				r = buf_putc(out, *p);
		}
		if (r == 0)
			r = buf_putc(out, '"');
	}
	if (r == 0 && a->domain != NULL)
		r = buf_printf(out, "@%s", a->domain);
	if (r < 0)
		buf_truncate(out, old);
	return r;
}

int mime_address_append_display(const char *name_utf8, const char *spec, struct buf *out)
{
	size_t old = out->len;
	int r = 0;
	if (name_utf8 != NULL && *name_utf8 != '\0') {
		bool ascii = true, atoms = true;
		for (const unsigned char *p = (const unsigned char *)name_utf8; *p; p++) {
			if (*p >= 0x80 || *p < 0x20 || *p == 0x7f)
				ascii = false;
			else if (*p != ' ' && !is_atext(*p))
				atoms = false;
		}
		if (ascii && (strstr(name_utf8, "=?") != NULL))
			atoms = false;
		if (!ascii) {
			r = rfc2047_encode(name_utf8, strlen(name_utf8), out);
		} else if (atoms) {
			r = buf_puts(out, name_utf8);
		} else {
			r = buf_putc(out, '"');
			for (const char *p = name_utf8; *p && r == 0; p++) {
				if (*p == '"' || *p == '\\')
					r = buf_putc(out, '\\');
				if (r == 0)
					r = buf_putc(out, *p);
			}
			if (r == 0)
				r = buf_putc(out, '"');
		}
		if (r == 0)
			r = buf_printf(out, " <%s>", spec);
	} else
		r = buf_puts(out, spec);
	if (r < 0)
		buf_truncate(out, old);
	return r;
}

char **mime_address_specs(const char *s, size_t n, size_t *count_r)
{
	struct mime_address *list;
	size_t count = mime_address_parse(s, n, &list);
	char **v = xcalloc(count + 1, sizeof(*v));
	size_t k = 0;
	struct buf b;
	buf_init(&b, n * 3 + 16);
	for (size_t i = 0; i < count; i++) {
		if (list[i].kind != MIME_ADDRESS_MAILBOX || list[i].mailbox == NULL || list[i].domain == NULL)
			continue;
		buf_reset(&b);
		if (mime_address_append_spec(&list[i], &b) == 0)
			v[k++] = xmemdup(buf_cstr(&b), b.len);
	}
	buf_free(&b);
	mime_address_list_free(&list, count);
	if (count_r)
		*count_r = k;
	return v;
}

void mime_address_specs_free(char ***specs)
{
	if (*specs == NULL)
		return;
	for (char **p = *specs; *p; p++)
		free(*p);
	XFREE(specs);
}
