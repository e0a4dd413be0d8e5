/* IMAP ENVELOPE and BODY/BODYSTRUCTURE strings (RFC 3501 7.4.2, RFC 9051).
 *
 * Dovecot's output is the reference, byte for byte where it matters to
 * clients: types and parameters as written in the message, "charset"
 * "us-ascii" added to text parts without one, sizes counting bare LFs as
 * CRLF, the last Date/Subject/Message-ID/In-Reply-To field winning and
 * address fields merged, "MISSING_MAILBOX"/"MISSING_DOMAIN" for broken
 * addresses, and the same choice between quoted strings and literals (a
 * literal for CR, LF, 8-bit or more than four quoted-specials; subjects and
 * display names with whitespace collapsed). Strings are written as for a
 * client without UTF8=ACCEPT, so the cached result suits every client. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/address.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "util/mem.h"

#define QUOTED_MAX_ESCAPES 4

static int append_literal(struct buf *out, const char *s, size_t n)
{
	if (buf_printf(out, "{%zu}\r\n", n) < 0)
		return -1;
	return buf_append(out, s, n);
}

/* An IMAP string: quoted when it can be, else a literal. */
static int append_string(struct buf *out, const char *s, size_t n)
{
	unsigned escapes = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			if (++escapes > QUOTED_MAX_ESCAPES)
				return append_literal(out, s, n);
		} else if (c == '\r' || c == '\n' || c >= 0x80 || c == 0) {
			return append_literal(out, s, n);
		}
	}
	if (buf_putc(out, '"') < 0)
		return -1;
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		if (buf_append(out, s + start, i - start) < 0 || buf_putc(out, '\\') < 0)
			return -1;
		start = i;
	}
	if (buf_append(out, s + start, n - start) < 0)
		return -1;
	return buf_putc(out, '"');
}

static int append_cstring(struct buf *out, const char *s)
{
	return append_string(out, s, strlen(s));
}

static int append_nstring(struct buf *out, const char *s)
{
	return s == NULL ? buf_puts(out, "NIL") : append_cstring(out, s);
}

/* nstring with line ends removed: a CR or LF before a blank or at the end
 * is dropped, one before anything else becomes a space. */
static int append_nstring_nolf(struct buf *out, const char *s, size_t n)
{
	if (s == NULL)
		return buf_puts(out, "NIL");
	if (memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL && memchr(s, '\0', n) == NULL)
		return append_string(out, s, n);
	struct buf t;
	buf_init(&t, n * 3 + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0') {
			(void)buf_puts(&t, "\xEF\xBF\xBD"); /* as Dovecot: U+FFFD */
			continue;
		}
		if (s[i] != '\r' && s[i] != '\n') {
			(void)buf_putc(&t, s[i]);
			continue;
		}
		char nx = i + 1 < n ? s[i + 1] : '\0';
		if (nx != ' ' && nx != '\t' && nx != '\r' && nx != '\n' && nx != '\0')
			(void)buf_putc(&t, ' ');
	}
	int r = append_string(out, buf_cstr(&t), t.len);
	buf_free(&t);
	return r;
}

/* Subjects and display names: whitespace runs collapsed to one space,
 * leading and trailing whitespace removed, NUL shown as 0x80; quoted when
 * nothing had to change, else a literal (Dovecot's "for humans"). */
static int append_for_humans(struct buf *out, const char *s, size_t n)
{
	bool modify = false, last_lwsp = true, prefix = true;
	size_t remove = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case 0:
			last_lwsp = false;
			modify = true;
			break;
		case '\r':
		case '\n':
		case '\t':
			modify = true;
			/* fall through */
		case ' ':
			if (last_lwsp) {
				modify = true;
				remove++;
			}
			last_lwsp = true;
			break;
		case '"':
		case '\\':
			modify = true;
			last_lwsp = false;
			break;
		default:
			if (c >= 0x80)
				modify = true;
			last_lwsp = false;
			break;
		}
		if (!last_lwsp)
			prefix = false;
	}
	if (last_lwsp && n > 0 && !prefix) {
		modify = true;
		remove++;
	}
	if (!modify) {
		if (buf_putc(out, '"') < 0 || buf_append(out, s, n) < 0)
			return -1;
		return buf_putc(out, '"');
	}
	if (remove == n)
		return buf_puts(out, "\"\"");
	if (buf_printf(out, "{%zu}\r\n", n - remove) < 0)
		return -1;
	size_t pos = out->len;
	last_lwsp = true;
	prefix = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int r = 0;
		switch (c) {
		case 0:
			r = buf_putc(out, (char)0x80);
			last_lwsp = false;
			break;
		case '\r':
		case '\n':
		case '\t':
		case ' ':
			if (!last_lwsp)
				r = buf_putc(out, ' ');
			last_lwsp = true;
			break;
		default:
			last_lwsp = false;
			r = buf_putc(out, (char)c);
			break;
		}
		if (r < 0)
			return -1;
		if (!last_lwsp)
			prefix = false;
	}
	if (last_lwsp && n > 0 && !prefix)
		buf_truncate(out, out->len - 1);
	return out->len - pos == n - remove ? 0 : -1;
}

/* ---- ENVELOPE -------------------------------------------------------------- */

enum env_field {
	ENV_DATE,
	ENV_SUBJECT,
	ENV_FROM,
	ENV_SENDER,
	ENV_REPLY_TO,
	ENV_TO,
	ENV_CC,
	ENV_BCC,
	ENV_IN_REPLY_TO,
	ENV_MESSAGE_ID,
	ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
    "Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID",
};

struct env_addrs {
	struct mime_address *v;
	size_t count, cap;
};

static void addrs_merge(struct env_addrs *a, const char *s, size_t n)
{
	struct mime_address *list;
	size_t count = mime_address_parse(s, n, &list);
	if (count == 0)
		return;
	if (a->count + count > MIME_ADDRESS_MAX) {
		mime_address_list_free(&list, count);
		return;
	}
	if (a->count + count > a->cap) {
		a->cap = (a->count + count) * 2;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	memcpy(a->v + a->count, list, count * sizeof(*list));
	a->count += count;
	free(list);
}

static int append_addrs(struct buf *out, const struct env_addrs *a)
{
	if (a->count == 0)
		return buf_puts(out, "NIL");
	if (buf_putc(out, '(') < 0)
		return -1;
	for (size_t i = 0; i < a->count; i++) {
		const struct mime_address *x = &a->v[i];
		int r = buf_putc(out, '(');
		if (r == 0)
			r = x->name ? append_for_humans(out, x->name, strlen(x->name)) : buf_puts(out, "NIL");
		if (r == 0)
			r = buf_putc(out, ' ');
		if (r == 0)
			r = append_nstring(out, x->route);
		if (r == 0)
			r = buf_putc(out, ' ');
		if (x->kind == MIME_ADDRESS_MAILBOX) {
			if (r == 0)
				r = append_cstring(out, x->mailbox ? x->mailbox : "MISSING_MAILBOX");
			if (r == 0)
				r = buf_putc(out, ' ');
			if (r == 0)
				r = append_cstring(out,
						   x->domain && *x->domain ? x->domain : "MISSING_DOMAIN");
		} else {
			if (r == 0)
				r = append_nstring(out,
						   x->kind == MIME_ADDRESS_GROUP_START ? x->mailbox : NULL);
			if (r == 0)
				r = buf_puts(out, " NIL");
		}
		if (r == 0)
			r = buf_putc(out, ')');
		if (r < 0)
			return -1;
	}
	return buf_putc(out, ')');
}

static int write_envelope(const struct mime_message *msg, const struct mime_part *m, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	const char *sv[ENV_COUNT] = {0};
	size_t sl[ENV_COUNT] = {0};
	struct env_addrs addrs[ENV_COUNT];
	memset(addrs, 0, sizeof(addrs));

	size_t hsize = m->header_size < MIME_MAX_HEADER ? m->header_size : MIME_MAX_HEADER;
	mime_header_iter_init(&it, msg->data + m->header_offset, hsize);
	while (mime_header_iter_next(&it, &f) > 0) {
		for (int i = 0; i < ENV_COUNT; i++) {
			if (!mime_header_name_is(&f, env_names[i]))
				continue;
			if (i == ENV_DATE || i == ENV_SUBJECT || i == ENV_IN_REPLY_TO ||
			    i == ENV_MESSAGE_ID) {
				sv[i] = f.value; /* the last one wins, as in Dovecot */
				sl[i] = f.value_len;
			} else
				addrs_merge(&addrs[i], f.value, f.value_len);
			break;
		}
	}

	int r = buf_putc(out, '(');
	if (r == 0)
		r = append_nstring_nolf(out, sv[ENV_DATE], sl[ENV_DATE]);
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0 && sv[ENV_SUBJECT] != NULL && memchr(sv[ENV_SUBJECT], '\0', sl[ENV_SUBJECT])) {
		/* Dovecot reads NUL as U+FFFD before collapsing whitespace */
		struct buf t;
		buf_init(&t, sl[ENV_SUBJECT] * 3 + 1);
		for (size_t i = 0; i < sl[ENV_SUBJECT]; i++) {
			if (sv[ENV_SUBJECT][i] == '\0')
				(void)buf_puts(&t, "\xEF\xBF\xBD");
			else
				(void)buf_putc(&t, sv[ENV_SUBJECT][i]);
		}
		r = append_for_humans(out, t.data, t.len);
		buf_free(&t);
	} else if (r == 0)
		r = sv[ENV_SUBJECT] ? append_for_humans(out, sv[ENV_SUBJECT], sl[ENV_SUBJECT])
				    : buf_puts(out, "NIL");
	for (int i = ENV_FROM; i <= ENV_BCC && r == 0; i++) {
		const struct env_addrs *a = &addrs[i];
		if ((i == ENV_SENDER || i == ENV_REPLY_TO) && a->count == 0)
			a = &addrs[ENV_FROM];
		r = buf_putc(out, ' ');
		if (r == 0)
			r = append_addrs(out, a);
	}
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0)
		r = append_nstring_nolf(out, sv[ENV_IN_REPLY_TO], sl[ENV_IN_REPLY_TO]);
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0)
		r = append_nstring_nolf(out, sv[ENV_MESSAGE_ID], sl[ENV_MESSAGE_ID]);
	if (r == 0)
		r = buf_putc(out, ')');
	for (int i = 0; i < ENV_COUNT; i++)
		mime_address_list_free(&addrs[i].v, addrs[i].count);
	return r;
}

int mime_envelope(const struct mime_message *msg, const struct mime_part *part, struct buf *out)
{
	/* the root's envelope is its own header, even when the root is a
	 * message/rfc822 entity; a message/rfc822 part's is its child's */
	const struct mime_part *m = part == NULL ? msg->root : part;
	if (m != msg->root && (m->flags & MIME_PART_MESSAGE))
		m = m->children;
	size_t old = out->len;
	if (write_envelope(msg, m, out) < 0) {
		buf_truncate(out, old);
		return -1;
	}
	return 0;
}

/* ---- BODYSTRUCTURE --------------------------------------------------------- */

static int append_params(struct buf *out, const struct mime_param *params, size_t count, bool default_charset)
{
	bool seen_charset = false;
	if (!default_charset && count == 0)
		return buf_puts(out, "NIL");
	if (buf_putc(out, '(') < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (default_charset && strcasecmp(params[i].raw_name, "charset") == 0)
			seen_charset = true;
		if ((i > 0 && buf_putc(out, ' ') < 0) || append_cstring(out, params[i].raw_name) < 0 ||
		    buf_putc(out, ' ') < 0 || append_cstring(out, params[i].value) < 0)
			return -1;
	}
	if (default_charset && !seen_charset) {
		if ((count > 0 && buf_putc(out, ' ') < 0) || buf_puts(out, "\"charset\" \"us-ascii\"") < 0)
			return -1;
	}
	return buf_putc(out, ')');
}

static int append_nolf_c(struct buf *out, const char *s)
{
	return append_nstring_nolf(out, s, s ? strlen(s) : 0);
}

/* disposition, language, location */
static int append_common(struct buf *out, const struct mime_part *p)
{
	int r = buf_putc(out, ' ');
	if (r == 0 && p->disposition_raw == NULL)
		r = buf_puts(out, "NIL");
	else if (r == 0) {
		r = buf_putc(out, '(');
		if (r == 0)
			r = append_cstring(out, p->disposition_raw);
		if (r == 0)
			r = buf_putc(out, ' ');
		if (r == 0)
			r = append_params(out, p->disposition_params, p->disposition_param_count, false);
		if (r == 0)
			r = buf_putc(out, ')');
	}
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0 && p->language_count == 0)
		r = buf_puts(out, "NIL");
	else if (r == 0) {
		r = buf_putc(out, '(');
		for (size_t i = 0; i < p->language_count && r == 0; i++) {
			if (i > 0)
				r = buf_putc(out, ' ');
			if (r == 0)
				r = append_cstring(out, p->languages[i]);
		}
		if (r == 0)
			r = buf_putc(out, ')');
	}
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0)
		r = append_nolf_c(out, p->location);
	return r;
}

static int write_part(const struct mime_message *msg, const struct mime_part *p, bool ext, struct buf *out);

static int write_multipart(const struct mime_message *msg, const struct mime_part *p, bool ext,
			   struct buf *out)
{
	int r = 0;
	if (p->children == NULL) {
		/* a multipart without parts is not allowed: show one empty
		 * text/plain part, as Dovecot does */
		r = buf_puts(out, ext ? "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
					"\"7bit\" 0 0 NIL NIL NIL NIL)"
				      : "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
					"\"7bit\" 0 0)");
	}
	for (const struct mime_part *c = p->children; c != NULL && r == 0; c = c->next) {
		r = buf_putc(out, '(');
		if (r == 0)
			r = write_part(msg, c, ext, out);
		if (r == 0)
			r = buf_putc(out, ')');
	}
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0)
		r = append_cstring(out, p->subtype_raw ? p->subtype_raw : p->subtype);
	if (r < 0 || !ext)
		return r;
	r = buf_putc(out, ' ');
	if (r == 0)
		r = append_params(out, p->params, p->param_count, false);
	if (r == 0)
		r = append_common(out, p);
	return r;
}

static int write_leaf(const struct mime_message *msg, const struct mime_part *p, bool ext, struct buf *out)
{
	bool text = false;
	int r;
	if (p->flags & MIME_PART_MESSAGE) {
		r = buf_printf(out, "\"message\" \"%s\"",
			       strcmp(p->subtype, "global") == 0 ? "global" : "rfc822");
	} else if (p->flags & MIME_PART_TRUNCATED) {
		r = buf_puts(out, "\"application\" \"octet-stream\"");
	} else if (p->type_raw == NULL) {
		text = true;
		r = buf_puts(out, "\"text\" \"plain\"");
	} else {
		text = (p->flags & MIME_PART_TEXT) != 0;
		r = append_cstring(out, p->type_raw);
		if (r == 0)
			r = buf_putc(out, ' ');
		if (r == 0)
			r = append_cstring(out, p->subtype_raw);
	}
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0)
		r = append_params(out, p->params, p->param_count, text);
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0)
		r = append_nolf_c(out, p->id);
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0)
		r = append_nolf_c(out, p->description);
	if (r == 0)
		r = buf_putc(out, ' ');
	if (r == 0)
		r = p->encoding_raw ? append_cstring(out, p->encoding_raw) : buf_puts(out, "\"7bit\"");
	if (r == 0)
		r = buf_printf(out, " %zu", p->body_vsize);
	if (r == 0 && text)
		r = buf_printf(out, " %u", p->body_lines);
	else if (r == 0 && (p->flags & MIME_PART_MESSAGE)) {
		r = buf_putc(out, ' ');
		if (r == 0)
			r = write_envelope(msg, p->children, out);
		if (r == 0)
			r = buf_puts(out, " (");
		if (r == 0)
			r = write_part(msg, p->children, ext, out);
		if (r == 0)
			r = buf_printf(out, ") %u", p->body_lines);
	}
	if (r < 0 || !ext)
		return r;
	r = buf_putc(out, ' ');
	if (r == 0)
		r = append_nolf_c(out, p->md5);
	if (r == 0)
		r = append_common(out, p);
	return r;
}

static int write_part(const struct mime_message *msg, const struct mime_part *p, bool ext, struct buf *out)
{
	if (p->flags & MIME_PART_MULTIPART)
		return write_multipart(msg, p, ext, out);
	return write_leaf(msg, p, ext, out);
}

/* Dovecot keeps no BODYSTRUCTURE for a message that is plain 7-bit
 * US-ASCII text and writes the default one, in lower case, whatever the
 * case of its Content-Type: the same test, so the same bytes. */
static bool is_plain_7bit(const struct mime_part *p)
{
	if (p->parent != NULL || !(p->flags & MIME_PART_TEXT) || p->children != NULL ||
	    strcmp(p->subtype, "plain") != 0)
		return false;
	if (p->param_count > 1 ||
	    (p->param_count == 1 && (strcasecmp(p->params[0].raw_name, "charset") != 0 ||
				     strcasecmp(p->params[0].value, "us-ascii") != 0)))
		return false;
	if (p->id || p->description || (p->encoding && strcmp(p->encoding, "7bit") != 0))
		return false;
	return !p->md5 && !p->disposition_raw && !p->languages && !p->location;
}

int mime_bodystructure(const struct mime_message *msg, const struct mime_part *part, bool extended,
		       struct buf *out)
{
	const struct mime_part *p = part == NULL ? msg->root : part;
	size_t old = out->len;
	if (is_plain_7bit(p)) {
		if (buf_printf(out,
			       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" %zu %u%s)",
			       p->body_vsize, p->body_lines, extended ? " NIL NIL NIL NIL" : "") < 0) {
			buf_truncate(out, old);
			return -1;
		}
		return 0;
	}
	if (buf_putc(out, '(') < 0 || write_part(msg, p, extended, out) < 0 || buf_putc(out, ')') < 0) {
		buf_truncate(out, old);
		return -1;
	}
	return 0;
}
