/* The decoded summary of a message (lists, SORT, the webmail) and its text
 * for the full-text index (see mime.h).
 *
 * Everything here is UTF-8 and bounded: headers are decoded with RFC 2047
 * and charset conversion, bodies with their transfer encoding and charset,
 * HTML is reduced to text by a small tag scanner (no DOM, linear). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/address.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "mime/params.h"
#include "mime/rfc2047.h"
#include "util/base64.h"
#include "util/charset.h"
#include "util/date.h"
#include "util/mem.h"
#include "util/qp.h"

#define SUMMARY_FIELD_MAX (64 * 1024) /* bytes kept of one decoded header */
#define SNIPPET_CHARS 200
#define SNIPPET_INPUT (64 * 1024) /* body bytes read for the snippet */

/* ---- HTML -------------------------------------------------------------------- */

struct entity {
	const char *name;
	unsigned cp;
};

static const struct entity entities[] = {
    {"amp", '&'},      {"lt", '<'},	  {"gt", '>'},	     {"quot", '"'},	{"apos", '\''},
    {"nbsp", 0xA0},    {"copy", 0xA9},	  {"reg", 0xAE},     {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},
    {"rdquo", 0x201D}, {"euro", 0x20AC},  {"laquo", 0xAB},   {"raquo", 0xBB},	{"bull", 0x2022},
    {"middot", 0xB7},  {"eacute", 0xE9},  {"egrave", 0xE8},  {"ecirc", 0xEA},	{"agrave", 0xE0},
    {"aacute", 0xE1},  {"acirc", 0xE2},	  {"ccedil", 0xE7},  {"uuml", 0xFC},	{"ouml", 0xF6},
    {"auml", 0xE4},    {"Uuml", 0xDC},	  {"Ouml", 0xD6},    {"Auml", 0xC4},	{"szlig", 0xDF},
    {"iacute", 0xED},  {"oacute", 0xF3},  {"uacute", 0xFA},  {"ntilde", 0xF1},	{"deg", 0xB0},
    {"times", 0xD7},   {"shy", 0xAD},	  {"zwnj", 0x200C},  {"zwj", 0x200D},
};

static int put_cp(struct buf *out, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(out, u, n);
}

/* Whitespace-collapsing writer. */
struct textout {
	struct buf *out;
	bool space;   /* a space is pending */
	bool newline; /* a line break is pending */
	bool any;
};

static int text_flush_ws(struct textout *t)
{
	int r = 0;
	if (t->any && t->newline)
		r = buf_putc(t->out, '\n');
	else if (t->any && t->space)
		r = buf_putc(t->out, ' ');
	t->space = t->newline = false;
	return r;
}

static int text_put(struct textout *t, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (text_flush_ws(t) < 0)
		return -1;
	t->any = true;
	return buf_append(t->out, s, n);
}

static int text_cp(struct textout *t, unsigned cp)
{
	if (cp == 0xA0 || cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n') {
		t->space = true;
		return 0;
	}
	if (text_flush_ws(t) < 0)
		return -1;
	t->any = true;
	return put_cp(t->out, cp);
}

static bool tag_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static bool is_block_tag(const char *name, size_t n)
{
	static const char *const blocks[] = {"br",  "p",  "div", "tr",	  "li", "h1", "h2",	    "h3",
					     "h4",  "h5", "h6",	 "table", "ul", "ol", "blockquote", "hr",
					     "pre", "td", "th",	 "title", "dt", "dd"};
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		if (tag_is(name, n, blocks[i]))
			return true;
	return false;
}

/* Finds "</name" (case-insensitive) from pos; returns its index or n. */
static size_t find_close(const char *s, size_t n, size_t pos, const char *name)
{
	size_t nl = strlen(name);
	while (pos + 2 + nl <= n) {
		const char *lt = memchr(s + pos, '<', n - pos);
		if (lt == NULL)
			return n;
		size_t i = (size_t)(lt - s);
		if (i + 2 + nl <= n && s[i + 1] == '/' && strncasecmp(s + i + 2, name, nl) == 0)
			return i;
		pos = i + 1;
	}
	return n;
}

static size_t entity(const char *s, size_t n, size_t i, unsigned *cp)
{
	/* s[i] == '&'; returns the length consumed, 0 if not an entity */
	size_t j = i + 1;
	if (j < n && s[j] == '#') {
		j++;
		unsigned v = 0;
		bool hex = j < n && (s[j] == 'x' || s[j] == 'X');
		if (hex)
			j++;
		size_t ds = j;
		while (j < n && j - ds < 8) {
			char c = s[j];
			int d = (c >= '0' && c <= '9')	      ? c - '0'
				: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
				: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
							      : -1;
			if (d < 0)
				break;
			v = v * (hex ? 16 : 10) + (unsigned)d;
			j++;
		}
		if (j == ds)
			return 0;
		if (j < n && s[j] == ';')
			j++;
		*cp = v;
		return j - i;
	}
	size_t ns = j;
	while (j < n && j - ns < 10 &&
	       ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9')))
		j++;
	if (j == ns)
		return 0;
	for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
		if (strlen(entities[k].name) == j - ns && memcmp(entities[k].name, s + ns, j - ns) == 0) {
			*cp = entities[k].cp;
			if (j < n && s[j] == ';')
				j++;
			return j - i;
		}
	}
	return 0;
}

int mime_html_to_text(const char *s, size_t n, struct buf *out)
{
	struct textout t = {out, false, false, false};
	size_t old = out->len;
	size_t i = 0, run = 0;
	int r = 0;
	while (i < n && r == 0) {
		char c = s[i];
		if (c != '<' && c != '&' && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			i++;
			continue;
		}
		if (i > run)
			r = text_put(&t, s + run, i - run);
		if (r < 0)
			break;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			t.space = true;
			i++;
		} else if (c == '&') {
			unsigned cp;
			size_t l = entity(s, n, i, &cp);
			if (l == 0) {
				r = text_put(&t, "&", 1);
				i++;
			} else {
				r = text_cp(&t, cp);
				i += l;
			}
		} else if (i + 3 < n && memcmp(s + i, "<!--", 4) == 0) {
			const char *e = memmem(s + i + 4, n - i - 4, "-->", 3);
			i = e ? (size_t)(e - s) + 3 : n;
		} else {
			/* a tag: its name, then skip to '>' (quotes respected) */
			size_t j = i + 1;
			bool closing = j < n && s[j] == '/';
			if (closing)
				j++;
			size_t ns = j;
			while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
					 (s[j] >= '0' && s[j] <= '9')))
				j++;
			size_t nl = j - ns;
			if (nl == 0 && !(j < n && (s[j] == '!' || s[j] == '?'))) {
				r = text_put(&t, "<", 1); /* a lone '<' is text */
				i++;
				run = i;
				continue;
			}
			char q = 0;
			while (j < n && (q || s[j] != '>')) {
				if (q && s[j] == q)
					q = 0;
				else if (!q && (s[j] == '"' || s[j] == '\''))
					q = s[j];
				j++;
			}
			i = j < n ? j + 1 : n;
			if (!closing && (tag_is(s + ns, nl, "script") || tag_is(s + ns, nl, "style"))) {
				char name[8];
				memcpy(name, s + ns, nl);
				name[nl] = '\0';
				size_t e = find_close(s, n, i, name);
				const char *gt = e < n ? memchr(s + e, '>', n - e) : NULL;
				i = gt ? (size_t)(gt - s) + 1 : n;
			} else if (is_block_tag(s + ns, nl)) {
				t.newline = true;
			}
		}
		run = i;
	}
	if (r == 0 && i > run && run < n)
		r = text_put(&t, s + run, (i < n ? i : n) - run);
	if (r < 0 && out->len > old)
		buf_truncate(out, old + utf8_truncate(out->data + old, out->len - old));
	return r;
}

/* ---- Part text ----------------------------------------------------------------- */

int mime_part_text(const struct mime_message *msg, const struct mime_part *part, size_t max_input,
		   struct buf *out)
{
	struct buf raw, utf8;
	const char *s = msg->data + part->body_offset;
	size_t n = part->body_size;
	if (max_input > 0 && n > max_input)
		n = max_input;
	buf_init(&raw, n + 16);
	const char *enc = part->encoding;
	if (enc != NULL && strcmp(enc, "base64") == 0)
		(void)base64_decode_lenient(&raw, s, n);
	else if (enc != NULL && strcmp(enc, "quoted-printable") == 0)
		(void)qp_decode(&raw, s, n);
	else
		(void)buf_append(&raw, s, n);
	const char *charset = mime_param_get(part->params, part->param_count, "charset");
	bool html = strcmp(part->subtype, "html") == 0;
	int r;
	if (!html) {
		r = charset_to_utf8(charset, buf_cstr(&raw), raw.len, out);
	} else {
		buf_init(&utf8, raw.len * 4 + 16);
		(void)charset_to_utf8(charset, buf_cstr(&raw), raw.len, &utf8);
		r = mime_html_to_text(buf_cstr(&utf8), utf8.len, out);
		buf_free(&utf8);
	}
	buf_free(&raw);
	return r;
}

/* ---- Summary ------------------------------------------------------------------- */

/* A new string: (s, n) as valid UTF-8 (raw 8-bit bytes read as UTF-8 when
 * valid, else as Windows-1252), capped. */
static char *utf8_dup(const char *s, size_t n)
{
	struct buf b;
	buf_init(&b, SUMMARY_FIELD_MAX);
	(void)charset_to_utf8(NULL, s, n, &b);
	return buf_steal(&b, NULL);
}

/* Appends "Name <addr>" / "addr" of one mailbox, the name decoded. */
static void display_address(const struct mime_address *a, struct buf *out)
{
	struct buf spec;
	buf_init(&spec, SUMMARY_FIELD_MAX);
	(void)mime_address_append_spec(a, &spec);
	if (a->name != NULL && *a->name) {
		(void)rfc2047_decode(a->name, strlen(a->name), out);
		if (spec.len > 0)
			(void)buf_printf(out, " <%s>", buf_cstr(&spec));
	} else
		(void)buf_append(out, buf_cstr(&spec), spec.len);
	buf_free(&spec);
}

static char *display_list(const struct mime_address *list, size_t count, size_t max_entries)
{
	struct buf b;
	buf_init(&b, SUMMARY_FIELD_MAX);
	size_t shown = 0;
	for (size_t i = 0; i < count && shown < max_entries; i++) {
		if (list[i].kind != MIME_ADDRESS_MAILBOX)
			continue;
		if (list[i].mailbox == NULL && list[i].name == NULL)
			continue;
		if (shown++ > 0)
			(void)buf_puts(&b, ", ");
		display_address(&list[i], &b);
	}
	if (b.len > 0)
		buf_truncate(&b, utf8_truncate(b.data, b.len));
	char *r = utf8_dup(buf_cstr(&b), b.len);
	buf_free(&b);
	return r;
}

static char *first_spec(const struct mime_address *list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (list[i].kind == MIME_ADDRESS_MAILBOX && list[i].mailbox != NULL) {
			struct buf b;
			buf_init(&b, SUMMARY_FIELD_MAX);
			(void)mime_address_append_spec(&list[i], &b);
			char *r = utf8_dup(buf_cstr(&b), b.len);
			buf_free(&b);
			return r;
		}
	}
	return xstrdup("");
}

/* All "<...>" message ids in the value, separated by one space (one pass:
 * a candidate ends at '>', or fails at a blank or another '<'). */
static char *msg_ids(const char *v, size_t n, bool first_only)
{
	struct buf b;
	buf_init(&b, SUMMARY_FIELD_MAX);
	size_t i = 0;
	while (i < n) {
		if (v[i] != '<') {
			i++;
			continue;
		}
		size_t k = i + 1;
		while (k < n && v[k] != '>' && v[k] != '<' && v[k] != ' ' && v[k] != '\t' && v[k] != '\r' &&
		       v[k] != '\n')
			k++;
		if (k < n && v[k] == '>' && k > i + 1) {
			if ((b.len > 0 && buf_putc(&b, ' ') < 0) || buf_append(&b, v + i, k + 1 - i) < 0)
				break;
			if (first_only)
				break;
			i = k + 1;
		} else
			i = k; /* a '<' there starts the next candidate */
	}
	char *r = utf8_dup(buf_cstr(&b), b.len);
	buf_free(&b);
	return r;
}

static char *decoded(const char *v, size_t n)
{
	char *s = rfc2047_decode_dup(v, n, SUMMARY_FIELD_MAX);
	/* collapse whitespace and control characters */
	size_t w = 0;
	bool sp = false;
	for (size_t i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c < 0x20 || c == 0x7f) {
			sp = w > 0;
			continue;
		}
		if (sp)
			s[w++] = ' ';
		sp = false;
		s[w++] = (char)c;
	}
	s[w] = '\0';
	return s;
}

static bool part_is_attachment(const struct mime_part *p)
{
	if (p->flags & MIME_PART_MULTIPART)
		return false;
	if (p->parent == NULL)
		return p->disposition && strcmp(p->disposition, "attachment") == 0;
	if (p->disposition && strcmp(p->disposition, "attachment") == 0)
		return true;
	if (p->flags & MIME_PART_MESSAGE)
		return true;
	bool named = mime_param_get(p->disposition_params, p->disposition_param_count, "filename") ||
		     mime_param_get(p->params, p->param_count, "name");
	if (p->disposition && strcmp(p->disposition, "inline") == 0)
		return named;
	return named && !(p->flags & MIME_PART_TEXT);
}

/* Pre-order walk; the tree depth is capped by the parser. */
static const struct mime_part *after_subtree(const struct mime_part *p)
{
	while (p != NULL) {
		if (p->next)
			return p->next;
		p = p->parent;
	}
	return NULL;
}

static const struct mime_part *next_part(const struct mime_part *p)
{
	return p->children ? p->children : after_subtree(p);
}

/* The first text/plain (else text/html) part that is not an attachment,
 * outside encapsulated messages. */
static const struct mime_part *body_text_part(const struct mime_message *msg)
{
	const struct mime_part *html = NULL;
	const struct mime_part *p = msg->root;
	while (p != NULL) {
		if (p != msg->root && (p->flags & MIME_PART_MESSAGE)) {
			p = after_subtree(p);
			continue;
		}
		if ((p->flags & MIME_PART_TEXT) && !part_is_attachment(p)) {
			if (strcmp(p->subtype, "plain") == 0)
				return p;
			if (html == NULL && strcmp(p->subtype, "html") == 0)
				html = p;
		}
		p = next_part(p);
	}
	return html;
}

void mime_summary_build(const struct mime_message *msg, struct mime_summary *s)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	const struct mime_part *root = msg->root;
	bool have_subject = false, have_from = false, have_to = false, have_date = false, have_mid = false,
	     have_irt = false, have_refs = false;
	struct mime_address *cc_all = NULL;
	size_t cc_count = 0;

	memset(s, 0, sizeof(*s));
	size_t hsize = root->header_size < MIME_MAX_HEADER ? root->header_size : MIME_MAX_HEADER;
	mime_header_iter_init(&it, msg->data + root->header_offset, hsize);
	while (mime_header_iter_next(&it, &f) > 0) {
		if (!have_subject && mime_header_name_is(&f, "Subject")) {
			have_subject = true;
			s->subject = decoded(f.value, f.value_len);
		} else if (!have_from && mime_header_name_is(&f, "From")) {
			struct mime_address *l;
			size_t c = mime_address_parse(f.value, f.value_len, &l);
			have_from = true;
			s->from = display_list(l, c, 1);
			s->from_addr = first_spec(l, c);
			mime_address_list_free(&l, c);
		} else if (!have_to && mime_header_name_is(&f, "To")) {
			struct mime_address *l;
			size_t c = mime_address_parse(f.value, f.value_len, &l);
			have_to = true;
			s->to = display_list(l, c, 1000);
			s->to_addr = first_spec(l, c);
			mime_address_list_free(&l, c);
		} else if (cc_all == NULL && mime_header_name_is(&f, "Cc")) {
			cc_count = mime_address_parse(f.value, f.value_len, &cc_all);
			if (cc_all == NULL)
				cc_all = xcalloc(1, sizeof(*cc_all)); /* seen, empty */
		} else if (!have_date && mime_header_name_is(&f, "Date")) {
			time_t t;
			have_date = true;
			if (date_parse_rfc5322(f.value, f.value_len, &t, NULL) == 0)
				s->date = t;
		} else if (!have_mid && mime_header_name_is(&f, "Message-ID")) {
			have_mid = true;
			s->message_id = msg_ids(f.value, f.value_len, true);
		} else if (!have_irt && mime_header_name_is(&f, "In-Reply-To")) {
			have_irt = true;
			s->in_reply_to = msg_ids(f.value, f.value_len, false);
		} else if (!have_refs && mime_header_name_is(&f, "References")) {
			have_refs = true;
			s->references = msg_ids(f.value, f.value_len, false);
		}
	}
	if (cc_all != NULL) {
		s->cc = display_list(cc_all, cc_count, 1000);
		mime_address_list_free(&cc_all, cc_count);
	}
	if (s->subject && !utf8_valid(s->subject, strlen(s->subject))) {
		/* cannot happen: decoding yields UTF-8; keep the promise anyway */
		struct buf b;
		buf_init(&b, SUMMARY_FIELD_MAX * 2);
		(void)utf8_sanitize(s->subject, strlen(s->subject), &b);
		free(s->subject);
		s->subject = buf_steal(&b, NULL);
	}
#define DEFAULT(x)                                                                                           \
	if ((x) == NULL)                                                                                     \
	(x) = xstrdup("")
	DEFAULT(s->subject);
	DEFAULT(s->from);
	DEFAULT(s->from_addr);
	DEFAULT(s->to);
	DEFAULT(s->to_addr);
	DEFAULT(s->cc);
	DEFAULT(s->message_id);
	DEFAULT(s->in_reply_to);
	DEFAULT(s->references);
#undef DEFAULT

	/* snippet */
	const struct mime_part *tp = body_text_part(msg);
	struct buf text, snip;
	buf_init(&snip, SNIPPET_CHARS * 4 + 4);
	if (tp != NULL) {
		buf_init(&text, SNIPPET_INPUT * 4);
		(void)mime_part_text(msg, tp, SNIPPET_INPUT, &text);
		size_t chars = 0;
		bool sp = false;
		for (size_t i = 0; i < text.len && chars < SNIPPET_CHARS;) {
			unsigned char c = (unsigned char)text.data[i];
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c < 0x20) {
				sp = snip.len > 0;
				i++;
				continue;
			}
			size_t l = c < 0x80 ? 1 : utf8_seq_len(text.data + i, text.len - i);
			if (l == 0)
				l = 1;
			if (sp) {
				if (chars + 2 > SNIPPET_CHARS)
					break;
				(void)buf_putc(&snip, ' ');
				chars++;
				sp = false;
			}
			(void)buf_append(&snip, text.data + i, l);
			chars++;
			i += l;
		}
		buf_free(&text);
	}
	s->snippet = buf_steal(&snip, NULL);

	for (const struct mime_part *p = root; p != NULL; p = next_part(p)) {
		if (part_is_attachment(p)) {
			s->has_attachments = true;
			break;
		}
	}
}

void mime_summary_clear(struct mime_summary *s)
{
	free(s->subject);
	free(s->from);
	free(s->from_addr);
	free(s->to);
	free(s->to_addr);
	free(s->cc);
	free(s->message_id);
	free(s->in_reply_to);
	free(s->references);
	free(s->snippet);
	memset(s, 0, sizeof(*s));
}

/* ---- Full-text ---------------------------------------------------------------- */

/* Appends, separated by a line break; a full buffer is not an error here
 * (the outputs are capped by design): returns -1 only to stop early. */
static int add_text(struct buf *out, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (!utf8_valid(s, n)) {
		struct buf tmp;
		buf_init(&tmp, n * 3 + 16);
		(void)charset_to_utf8(NULL, s, n, &tmp);
		int r = add_text(out, buf_cstr(&tmp), tmp.len);
		buf_free(&tmp);
		return r;
	}
	if (out->len > 0 && buf_putc(out, '\n') < 0)
		return -1;
	size_t room = out->max - out->len;
	if (n > room) {
		n = utf8_truncate(s, room);
		(void)buf_append(out, s, n);
		return -1;
	}
	return buf_append(out, s, n);
}

static int add_addresses(struct buf *out, const char *v, size_t n)
{
	struct mime_address *l;
	size_t c = mime_address_parse(v, n, &l);
	struct buf b;
	buf_init(&b, SUMMARY_FIELD_MAX);
	for (size_t i = 0; i < c; i++) {
		if (l[i].name) {
			(void)rfc2047_decode(l[i].name, strlen(l[i].name), &b);
			(void)buf_putc(&b, ' ');
		}
		if (l[i].kind == MIME_ADDRESS_MAILBOX) {
			(void)mime_address_append_spec(&l[i], &b);
			(void)buf_putc(&b, ' ');
		}
	}
	mime_address_list_free(&l, c);
	int r = add_text(out, buf_cstr(&b), b.len);
	buf_free(&b);
	return r;
}

int mime_extract_text(const struct mime_message *msg, struct buf *header_text, struct buf *body_text)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	const struct mime_part *root = msg->root;
	size_t hsize = root->header_size < MIME_MAX_HEADER ? root->header_size : MIME_MAX_HEADER;

	mime_header_iter_init(&it, msg->data + root->header_offset, hsize);
	while (mime_header_iter_next(&it, &f) > 0) {
		int r = 0;
		if (mime_header_name_is(&f, "Subject")) {
			char *d = decoded(f.value, f.value_len);
			r = add_text(header_text, d, strlen(d));
			free(d);
		} else if (mime_header_name_is(&f, "From") || mime_header_name_is(&f, "To") ||
			   mime_header_name_is(&f, "Cc")) {
			r = add_addresses(header_text, f.value, f.value_len);
		}
		if (r < 0)
			break;
	}

	struct buf tmp;
	buf_init(&tmp, body_text->max);
	for (const struct mime_part *p = root; p != NULL; p = next_part(p)) {
		int r = 0;
		const char *name =
		    mime_param_get_utf8(p->disposition_params, p->disposition_param_count, "filename");
		if (name == NULL)
			name = mime_param_get_utf8(p->params, p->param_count, "name");
		if (name != NULL)
			r = add_text(body_text, name, strlen(name));
		if (r == 0 && (p->flags & MIME_PART_TEXT) &&
		    (strcmp(p->subtype, "plain") == 0 || strcmp(p->subtype, "html") == 0)) {
			/* read no more of the part than can fill what is left of
			 * the output (HTML shrinks a lot when its tags go) */
			size_t room = body_text->max - body_text->len;
			bool html = strcmp(p->subtype, "html") == 0;
			size_t max_input = room > SIZE_MAX / 64 ? 0 : (room + 16) * (html ? 16 : 4);
			buf_reset(&tmp);
			(void)mime_part_text(msg, p, max_input, &tmp);
			r = add_text(body_text, buf_cstr(&tmp), tmp.len);
		}
		if (r < 0)
			break;
	}
	buf_free(&tmp);
	return 0;
}
