/* smtp_parse: SMTP command syntax (see smtp_parse.h for the contract).
 *
 * Everything here is a small recursive-descent scanner over a (ptr, len)
 * cursor, written from the ABNF of RFC 5321 4.1.2 and the extension RFCs.
 * Scanners stop at the first byte that cannot continue what they scan and
 * leave the decision about that byte to their caller, which knows the
 * context (">" ends a path, a blank ends an unbracketed one, "," and ":" a
 * source-route domain). Errors carry a short static detail that the
 * command-level functions turn into a reply with the right code. Paths are
 * copied into the fixed arrays of struct smtp_path only after every length
 * check has passed, so no write can overrun. */
#include "smtp/smtp_parse.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/strnum.h"

struct cur {
	const unsigned char *p;
	size_t len;
	size_t pos;
};

static int peek(const struct cur *c)
{
	return c->pos < c->len ? c->p[c->pos] : -1;
}

static int set_error(struct smtp_error *err, unsigned code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_error(struct smtp_error *err, unsigned code, const char *enh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	/* Our texts are short; should one ever be cut, it is still a reply. */
	if (n < 0)
		err->text[0] = '\0';
	err->code = code;
	err->enh = enh;
	return -1;
}

/* ---- Character classes ---------------------------------------------------- */

static bool is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

/* RFC 5322 atext. */
static bool is_atext(int c)
{
	if (is_alnum(c))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
	case '|': case '}': case '~':
		return true;
	default:
		return false;
	}
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF) of a non-ASCII character starting at
 * p, or 0 when there is none. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];
	unsigned lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c == 0xe0)
		n = 3, lo = 0xa0;
	else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
		n = 3;
	else if (c == 0xed)
		n = 3, hi = 0x9f;
	else if (c == 0xf0)
		n = 4, lo = 0x90;
	else if (c >= 0xf1 && c <= 0xf3)
		n = 4;
	else if (c == 0xf4)
		n = 4, hi = 0x8f;
	else
		return 0;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static bool ci_equal(const unsigned char *p, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len == n && strncasecmp((const char *)p, word, n) == 0;
}

/* ---- Domains ------------------------------------------------------------ */

/* Scans a domain name: dot-separated labels of letters, digits and "-"
 * (not first or last), "_" when lax, UTF-8 when utf8 (and then sets
 * *utf8_seen). Stops at the first byte that cannot continue it. */
static int scan_domain_name(struct cur *c, bool lax, bool utf8, bool *utf8_seen, const char **detail)
{
	size_t start = c->pos, label = c->pos;

	for (;;) {
		if (c->pos - start > SMTP_DOMAIN_MAX) {
			*detail = "domain longer than 255 octets";
			return -1;
		}
		int ch = peek(c);
		bool end_label = ch == '.' || !(ch >= 0x80 || is_alnum(ch) || ch == '-' || (lax && ch == '_'));
		if (end_label) {
			size_t n = c->pos - label;
			if (n == 0) {
				if (c->pos == start)
					*detail = ch == '.' ? "domain begins with a dot" : "missing domain";
				else
					*detail = ch == '.' ? "empty label in domain" : "domain ends with a dot";
				return -1;
			}
			if (n > 63) {
				*detail = "domain label longer than 63 octets";
				return -1;
			}
			if (c->p[label] == '-' || c->p[c->pos - 1] == '-') {
				*detail = "domain label begins or ends with a hyphen";
				return -1;
			}
			if (ch != '.')
				break;
			c->pos++;
			label = c->pos;
			continue;
		}
		if (ch >= 0x80) {
			size_t n = utf8_len(c->p + c->pos, c->len - c->pos);
			if (n == 0) {
				*detail = "malformed UTF-8 in domain";
				return -1;
			}
			if (!utf8) {
				*detail = "non-ASCII character in domain";
				return -1;
			}
			*utf8_seen = true;
			c->pos += n;
		} else {
			c->pos++;
		}
	}
	return 0;
}

static bool parse_ipv4(const unsigned char *p, size_t len)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || p[i] != '.')
				return false;
			i++;
		}
		unsigned v = 0;
		size_t digits = 0;
		while (i < len && is_digit(p[i]) && digits < 3) {
			v = v * 10 + (unsigned)(p[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return false;
	}
	return i == len;
}

/* Scans an address literal, "[" ... "]", at the cursor. IPv4 and IPv6 are
 * checked; general literals (RFC 5321 4.1.3 "tag:content") have no
 * registered tag besides IPv6 and are refused. */
static int scan_address_literal(struct cur *c, const char **detail)
{
	size_t open = c->pos++;
	size_t close = c->pos;
	for (;; close++) {
		if (close >= c->len) {
			*detail = "missing ] after address literal";
			return -1;
		}
		int ch = c->p[close];
		if (ch == ']')
			break;
		/* dcontent: %d33-90 / %d94-126 */
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\') {
			*detail = "invalid character in address literal";
			return -1;
		}
		if (close - open > 64) {
			*detail = "address literal too long";
			return -1;
		}
	}
	const unsigned char *in = c->p + open + 1;
	size_t n = close - open - 1;
	if (n >= 5 && strncasecmp((const char *)in, "IPv6:", 5) == 0) {
		char tmp[64];
		struct in6_addr a6;
		if (n - 5 >= sizeof(tmp)) {
			*detail = "invalid IPv6 address literal";
			return -1;
		}
		memcpy(tmp, in + 5, n - 5);
		tmp[n - 5] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1) {
			*detail = "invalid IPv6 address literal";
			return -1;
		}
	} else if (memchr(in, ':', n) != NULL) {
		*detail = "unsupported address literal";
		return -1;
	} else if (!parse_ipv4(in, n)) {
		*detail = "invalid IPv4 address literal";
		return -1;
	}
	c->pos = close + 1;
	return 0;
}

int smtp_domain_check(const char *s, size_t len, bool utf8, bool allow_literal, const char **error_r)
{
	struct cur c = {(const unsigned char *)s, len, 0};
	bool seen = false;
	const char *detail = "invalid domain";
	int r;

	if (len > 0 && s[0] == '[') {
		if (!allow_literal) {
			*error_r = "address literal not allowed";
			return -1;
		}
		r = scan_address_literal(&c, &detail);
	} else {
		r = scan_domain_name(&c, true, utf8, &seen, &detail);
	}
	if (r == 0 && c.pos != len) {
		detail = "invalid character in domain";
		r = -1;
	}
	if (r < 0)
		*error_r = detail;
	return r;
}

/* ---- Paths ---------------------------------------------------------------- */

/* Whether taking n more bytes would make the local part longer than any
 * path may be. The decoded form is never longer than the wire form, so
 * this check before every write keeps out within its bounds. */
static bool too_long(const struct cur *c, size_t start, size_t n, const char **detail)
{
	if (c->pos + n - start > SMTP_PATH_MAX) {
		*detail = "address longer than 256 octets";
		return true;
	}
	return false;
}

/* Scans a local part (dot-string or quoted string) and writes its decoded
 * form to out (capacity SMTP_PATH_MAX + 1). Wire lengths beyond the path
 * limit stop the scan, so the decoded form always fits. */
static int scan_localpart(struct cur *c, bool lax, bool *utf8_seen, bool *quoted_r, char *out,
			  const char **detail)
{
	size_t start = c->pos, o = 0;

	*quoted_r = peek(c) == '"';
	if (*quoted_r) {
		c->pos++;
		for (;;) {
			int ch = peek(c);
			if (ch < 0) {
				*detail = "missing closing quote in local part";
				return -1;
			}
			if (ch == '"') {
				c->pos++;
				break;
			}
			if (too_long(c, start, ch == '\\' ? 2 : 1, detail))
				return -1;
			if (ch == '\\') {
				/* quoted-pairSMTP: %d92 %d32-126 */
				int next = c->pos + 1 < c->len ? c->p[c->pos + 1] : -1;
				if (next < 32 || next > 126) {
					*detail = "invalid quoted pair in local part";
					return -1;
				}
				out[o++] = (char)next;
				c->pos += 2;
			} else if (ch >= 0x80) {
				size_t n = utf8_len(c->p + c->pos, c->len - c->pos);
				if (n == 0) {
					*detail = "malformed UTF-8 in local part";
					return -1;
				}
				if (too_long(c, start, n, detail))
					return -1;
				memcpy(out + o, c->p + c->pos, n);
				o += n;
				c->pos += n;
				*utf8_seen = true;
			} else if (ch >= 32 && ch <= 126) {
				/* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
				out[o++] = (char)ch;
				c->pos++;
			} else {
				*detail = "invalid character in quoted local part";
				return -1;
			}
		}
		out[o] = '\0';
		return 0;
	}

	int prev = '.'; /* a dot-string may not start with a dot */
	bool bad_dots = false;
	for (;;) {
		int ch = peek(c);
		if ((ch == '.' || is_atext(ch)) && too_long(c, start, 1, detail))
			return -1;
		if (ch == '.') {
			if (prev == '.')
				bad_dots = true;
			out[o++] = '.';
			c->pos++;
		} else if (ch >= 0x80) {
			size_t n = utf8_len(c->p + c->pos, c->len - c->pos);
			if (n == 0) {
				*detail = "malformed UTF-8 in local part";
				return -1;
			}
			if (too_long(c, start, n, detail))
				return -1;
			memcpy(out + o, c->p + c->pos, n);
			o += n;
			c->pos += n;
			*utf8_seen = true;
		} else if (is_atext(ch)) {
			out[o++] = (char)ch;
			c->pos++;
		} else {
			break;
		}
		prev = ch;
	}
	out[o] = '\0';
	if (o == 0) {
		*detail = "missing local part";
		return -1;
	}
	if (prev == '.')
		bad_dots = true;
	if (bad_dots && !lax) {
		*detail = "misplaced dot in local part";
		return -1;
	}
	return 0;
}

/* Scans a reverse-path (is_rcpt false) or forward-path at the cursor into
 * path. Leaves the cursor after the path. */
static int scan_path(struct cur *c, bool is_rcpt, unsigned flags, struct smtp_path *path,
		     struct smtp_error *err)
{
	const char *enh = is_rcpt ? "5.1.3" : "5.1.7";
	const char *what = is_rcpt ? "recipient" : "sender";
	const char *detail = NULL;
	bool lax = (flags & SMTP_PARSE_LAX_LOCALPART) != 0;
	size_t start = c->pos;
	bool brackets = peek(c) == '<';
	bool quoted = false;

	memset(path, 0, sizeof(*path));
	if (peek(c) < 0 || is_blank(peek(c)))
		return set_error(err, 501, "5.5.4", "Syntax: %s", is_rcpt ? "RCPT TO:<address>" : "MAIL FROM:<address>");
	if (!brackets && !(flags & SMTP_PARSE_NO_BRACKETS)) {
		detail = "address must be enclosed in <>";
		goto bad;
	}
	if (brackets) {
		c->pos++;
		if (peek(c) == '>') {
			c->pos++;
			if (is_rcpt) {
				detail = "empty address";
				goto bad;
			}
			path->null = true;
			return 0;
		}
	}
	if (peek(c) == '@') {
		/* A-d-l ":" — a source route, checked and forgotten. */
		for (;;) {
			c->pos++;
			if (scan_domain_name(c, true, true, &path->utf8, &detail) < 0)
				goto bad;
			if (peek(c) == ':')
				break;
			if (peek(c) != ',' || c->pos + 1 >= c->len || c->p[c->pos + 1] != '@') {
				detail = "invalid source route";
				goto bad;
			}
			c->pos++;
		}
		c->pos++;
	}

	size_t addr_start = c->pos;
	if (scan_localpart(c, lax, &path->utf8, &quoted, path->localpart, &detail) < 0)
		goto bad;
	size_t lp_len = c->pos - addr_start;
	size_t dom_start = c->pos, dom_len = 0;
	int ch = peek(c);
	bool path_end = brackets ? (ch < 0 || ch == '>') : (ch < 0 || is_blank(ch));
	if (ch == '@') {
		c->pos++;
		dom_start = c->pos;
		int r = peek(c) == '['
				? scan_address_literal(c, &detail)
				: scan_domain_name(c, true, true, &path->utf8, &detail);
		if (r < 0)
			goto bad;
		dom_len = c->pos - dom_start;
	} else if (path_end && is_rcpt && !quoted && ci_equal(c->p + addr_start, lp_len, "postmaster")) {
		/* RFC 5321 4.1.1.3: <postmaster> is a valid forward-path. */
	} else if (path_end) {
		detail = "missing @domain";
		goto bad;
	} else {
		detail = quoted ? "junk after quoted local part" : "invalid character in local part";
		goto bad;
	}
	size_t addr_end = c->pos;

	ch = peek(c);
	if (brackets) {
		if (ch != '>') {
			detail = ch < 0 ? "missing closing >" : dom_len ? "invalid character in domain" : "invalid character in address";
			goto bad;
		}
		c->pos++;
	} else if (ch >= 0 && !is_blank(ch)) {
		detail = dom_len ? "invalid character in domain" : "invalid character in address";
		goto bad;
	}
	if (c->pos - start + (brackets ? 0 : 2) > SMTP_PATH_MAX) {
		detail = "address longer than 256 octets";
		goto bad;
	}
	if (lp_len > SMTP_LOCALPART_MAX && !lax) {
		detail = "local part longer than 64 octets";
		goto bad;
	}
	/* All lengths are now within the arrays. */
	memcpy(path->domain, c->p + dom_start, dom_len);
	path->domain[dom_len] = '\0';
	memcpy(path->addr, c->p + addr_start, addr_end - addr_start);
	path->addr[addr_end - addr_start] = '\0';
	return 0;
bad:
	/* Keep nothing half-parsed that a caller might mistake for an address. */
	path->localpart[0] = path->domain[0] = path->addr[0] = '\0';
	return set_error(err, 501, enh, "Bad %s address syntax: %s", what, detail);
}

/* ---- ESMTP parameters ------------------------------------------------------ */

/* Decodes xtext into dst (capacity dst_size), refusing decoded bytes that
 * are not printable ASCII or space. */
static int xtext_to_array(const unsigned char *s, size_t len, char *dst, size_t dst_size,
			  const char **detail)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int v = s[i];
		if (v == '+') {
			int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
			if (lo < 0) {
				*detail = "invalid xtext escape";
				return -1;
			}
			v = hi * 16 + lo;
			i += 2;
			if (v < 32 || v > 126) {
				*detail = "control or non-ASCII character";
				return -1;
			}
		} else if (v < 33 || v > 126 || v == '=') {
			*detail = "invalid xtext character";
			return -1;
		}
		if (o + 1 >= dst_size) {
			*detail = "value too long";
			return -1;
		}
		dst[o++] = (char)v;
	}
	dst[o] = '\0';
	return 0;
}

struct param_value {
	const unsigned char *p; /* NULL when the keyword had no "=" */
	size_t len;
	unsigned flags;
};

typedef int param_fn(void *target, const struct param_value *v, struct smtp_error *err);

static int need_value(const struct param_value *v, const char *name, struct smtp_error *err)
{
	if (v->p == NULL)
		return set_error(err, 501, "5.5.4", "%s parameter requires a value", name);
	return 0;
}

static int param_size(void *target, const struct param_value *v, struct smtp_error *err)
{
	struct smtp_mail *m = target;
	if (need_value(v, "SIZE", err) < 0)
		return -1;
	for (size_t i = 0; i < v->len; i++)
		if (!is_digit(v->p[i]))
			return set_error(err, 501, "5.5.4", "Invalid SIZE value");
	/* Digits only: a failure can only be an overflow, which is a size too
	 * large for anyone. Saturate so the server answers 552, not 501. */
	if (strn_to_u64((const char *)v->p, v->len, &m->size) < 0)
		m->size = UINT64_MAX;
	m->size_set = true;
	return 0;
}

static int param_body(void *target, const struct param_value *v, struct smtp_error *err)
{
	struct smtp_mail *m = target;
	if (need_value(v, "BODY", err) < 0)
		return -1;
	if (ci_equal(v->p, v->len, "7BIT"))
		m->body = SMTP_BODY_7BIT;
	else if (ci_equal(v->p, v->len, "8BITMIME"))
		m->body = SMTP_BODY_8BITMIME;
	else if (ci_equal(v->p, v->len, "BINARYMIME")) {
		if (!(v->flags & SMTP_PARSE_EXT_BINARYMIME))
			return set_error(err, 555, "5.5.4", "BODY=BINARYMIME not supported");
		m->body = SMTP_BODY_BINARYMIME;
	} else
		return set_error(err, 501, "5.5.4", "Invalid BODY value");
	return 0;
}

static int param_smtputf8(void *target, const struct param_value *v, struct smtp_error *err)
{
	struct smtp_mail *m = target;
	if (v->p != NULL)
		return set_error(err, 501, "5.5.4", "SMTPUTF8 parameter takes no value");
	m->smtputf8 = true;
	return 0;
}

static int param_auth(void *target, const struct param_value *v, struct smtp_error *err)
{
	struct smtp_mail *m = target;
	const char *detail;
	if (need_value(v, "AUTH", err) < 0)
		return -1;
	if (xtext_to_array(v->p, v->len, m->auth_mailbox, sizeof(m->auth_mailbox), &detail) < 0)
		return set_error(err, 501, "5.5.4", "Invalid AUTH value: %s", detail);
	if (strcmp(m->auth_mailbox, "<>") == 0) {
		m->auth = SMTP_AUTH_PARAM_NULL;
		m->auth_mailbox[0] = '\0';
	} else {
		m->auth = SMTP_AUTH_PARAM_MAILBOX;
	}
	return 0;
}

static int param_ret(void *target, const struct param_value *v, struct smtp_error *err)
{
	struct smtp_mail *m = target;
	if (need_value(v, "RET", err) < 0)
		return -1;
	if (ci_equal(v->p, v->len, "FULL"))
		m->ret = SMTP_RET_FULL;
	else if (ci_equal(v->p, v->len, "HDRS"))
		m->ret = SMTP_RET_HDRS;
	else
		return set_error(err, 501, "5.5.4", "Invalid RET value");
	return 0;
}

static int param_envid(void *target, const struct param_value *v, struct smtp_error *err)
{
	struct smtp_mail *m = target;
	const char *detail;
	if (need_value(v, "ENVID", err) < 0)
		return -1;
	if (v->len > SMTP_ENVID_MAX)
		return set_error(err, 501, "5.5.4", "ENVID value longer than 100 characters");
	if (xtext_to_array(v->p, v->len, m->envid, sizeof(m->envid), &detail) < 0)
		return set_error(err, 501, "5.5.4", "Invalid ENVID value: %s", detail);
	m->envid_set = true;
	return 0;
}

static int param_notify(void *target, const struct param_value *v, struct smtp_error *err)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {
		{"NEVER", SMTP_NOTIFY_NEVER},
		{"SUCCESS", SMTP_NOTIFY_SUCCESS},
		{"FAILURE", SMTP_NOTIFY_FAILURE},
		{"DELAY", SMTP_NOTIFY_DELAY},
	};
	struct smtp_rcpt *r = target;
	unsigned bits = 0;
	if (need_value(v, "NOTIFY", err) < 0)
		return -1;
	for (size_t i = 0; i <= v->len;) {
		const unsigned char *comma = memchr(v->p + i, ',', v->len - i);
		size_t n = comma ? (size_t)(comma - (v->p + i)) : v->len - i;
		size_t w;
		for (w = 0; w < sizeof(words) / sizeof(words[0]); w++)
			if (ci_equal(v->p + i, n, words[w].name))
				break;
		if (w == sizeof(words) / sizeof(words[0]))
			return set_error(err, 501, "5.5.4", "Invalid NOTIFY value");
		bits |= words[w].bit;
		i += n + 1;
	}
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return set_error(err, 501, "5.5.4", "NOTIFY=NEVER cannot be combined with other values");
	r->notify = bits;
	return 0;
}

static int param_orcpt(void *target, const struct param_value *v, struct smtp_error *err)
{
	struct smtp_rcpt *r = target;
	const char *detail;
	if (need_value(v, "ORCPT", err) < 0)
		return -1;
	if (v->len > SMTP_ORCPT_MAX)
		return set_error(err, 501, "5.5.4", "ORCPT value longer than 500 characters");
	const unsigned char *semi = memchr(v->p, ';', v->len);
	size_t tlen = semi ? (size_t)(semi - v->p) : 0;
	if (tlen == 0 || tlen > SMTP_ORCPT_TYPE_MAX)
		return set_error(err, 501, "5.5.4", "Invalid ORCPT value: missing or bad address type");
	for (size_t i = 0; i < tlen; i++)
		if (!is_atext(v->p[i]))
			return set_error(err, 501, "5.5.4", "Invalid ORCPT value: missing or bad address type");
	memcpy(r->orcpt_type, v->p, tlen);
	r->orcpt_type[tlen] = '\0';
	if (xtext_to_array(semi + 1, v->len - tlen - 1, r->orcpt, sizeof(r->orcpt), &detail) < 0)
		return set_error(err, 501, "5.5.4", "Invalid ORCPT value: %s", detail);
	r->orcpt_set = true;
	return 0;
}

static const struct param_def {
	const char *name;
	bool rcpt;      /* a RCPT parameter (else MAIL) */
	unsigned ext;   /* the SMTP_PARSE_EXT_* flag it needs, 0 for none */
	param_fn *fn;
} param_defs[] = {
	{"SIZE", false, 0, param_size},
	{"BODY", false, 0, param_body},
	{"SMTPUTF8", false, SMTP_PARSE_EXT_SMTPUTF8, param_smtputf8},
	{"AUTH", false, SMTP_PARSE_EXT_AUTH, param_auth},
	{"RET", false, SMTP_PARSE_EXT_DSN, param_ret},
	{"ENVID", false, SMTP_PARSE_EXT_DSN, param_envid},
	{"NOTIFY", true, SMTP_PARSE_EXT_DSN, param_notify},
	{"ORCPT", true, SMTP_PARSE_EXT_DSN, param_orcpt},
};

/* Parses " keyword[=value]" ... up to the end of the cursor. */
static int parse_params(struct cur *c, bool is_rcpt, unsigned flags, void *target, struct smtp_error *err)
{
	unsigned seen = 0;
	const char *syntax = is_rcpt ? "Syntax: RCPT TO:<address> [parameters]"
				     : "Syntax: MAIL FROM:<address> [parameters]";

	if (peek(c) >= 0 && !is_blank(peek(c)))
		return set_error(err, 501, "5.5.4", "%s", syntax);
	for (;;) {
		while (is_blank(peek(c)))
			c->pos++;
		if (peek(c) < 0)
			return 0;
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		size_t k = c->pos;
		while (peek(c) >= 0 && !is_blank(peek(c)) && peek(c) != '=')
			c->pos++;
		size_t klen = c->pos - k;
		bool ok = klen > 0 && is_alnum(c->p[k]);
		for (size_t i = k; ok && i < c->pos; i++)
			ok = is_alnum(c->p[i]) || c->p[i] == '-';
		if (!ok)
			return set_error(err, 501, "5.5.4", "Invalid parameter keyword");
		struct param_value v = {NULL, 0, flags};
		if (peek(c) == '=') {
			c->pos++;
			v.p = c->p + c->pos;
			/* esmtp-value = 1*(%d33-60 / %d62-126) */
			while (peek(c) >= 33 && peek(c) <= 126 && peek(c) != '=')
				c->pos++;
			v.len = (size_t)(c->p + c->pos - v.p);
			if (peek(c) >= 0 && !is_blank(peek(c)))
				return set_error(err, 501, "5.5.4", "Invalid character in %.*s parameter value",
						 klen > 20 ? 20 : (int)klen, (const char *)c->p + k);
			if (v.len == 0)
				return set_error(err, 501, "5.5.4", "%.*s parameter requires a value",
						 klen > 20 ? 20 : (int)klen, (const char *)c->p + k);
		}
		size_t i;
		for (i = 0; i < sizeof(param_defs) / sizeof(param_defs[0]); i++) {
			const struct param_def *d = &param_defs[i];
			if (d->rcpt == is_rcpt && (d->ext == 0 || (flags & d->ext)) &&
			    ci_equal(c->p + k, klen, d->name))
				break;
		}
		if (i == sizeof(param_defs) / sizeof(param_defs[0]))
			return set_error(err, 555, "5.5.4", "Unsupported parameter %.*s",
					 klen > 20 ? 20 : (int)klen, (const char *)c->p + k);
		if (seen & (1u << i))
			return set_error(err, 555, "5.5.4", "Duplicate %s parameter", param_defs[i].name);
		seen |= 1u << i;
		if (param_defs[i].fn(target, &v, err) < 0)
			return -1;
	}
}

/* Matches "FROM:" / "TO:" and the blanks after it. */
static int expect_prefix(struct cur *c, const char *prefix, const char *syntax, struct smtp_error *err)
{
	size_t n = strlen(prefix);
	if (c->len < n || strncasecmp((const char *)c->p, prefix, n) != 0)
		return set_error(err, 501, "5.5.4", "Syntax: %s", syntax);
	c->pos = n;
	while (is_blank(peek(c)))
		c->pos++;
	return 0;
}

int smtp_parse_mail(const char *arg, size_t len, unsigned flags, struct smtp_mail *mail_r,
		    struct smtp_error *err_r)
{
	struct cur c = {(const unsigned char *)arg, len, 0};

	memset(mail_r, 0, sizeof(*mail_r));
	if (expect_prefix(&c, "FROM:", "MAIL FROM:<address>", err_r) < 0 ||
	    scan_path(&c, false, flags, &mail_r->path, err_r) < 0 ||
	    parse_params(&c, false, flags, mail_r, err_r) < 0)
		return -1;
	if (mail_r->path.utf8 && !mail_r->smtputf8)
		return set_error(err_r, 553, "5.6.7", "Non-ASCII sender address requires SMTPUTF8");
	return 0;
}

int smtp_parse_rcpt(const char *arg, size_t len, unsigned flags, struct smtp_rcpt *rcpt_r,
		    struct smtp_error *err_r)
{
	struct cur c = {(const unsigned char *)arg, len, 0};

	memset(rcpt_r, 0, sizeof(*rcpt_r));
	if (expect_prefix(&c, "TO:", "RCPT TO:<address>", err_r) < 0 ||
	    scan_path(&c, true, flags, &rcpt_r->path, err_r) < 0)
		return -1;
	if (rcpt_r->path.utf8 && !(flags & SMTP_PARSE_UTF8))
		return set_error(err_r, 553, "5.6.7", "Non-ASCII recipient address requires SMTPUTF8");
	return parse_params(&c, true, flags, rcpt_r, err_r);
}

/* ---- Command line ----------------------------------------------------------- */

enum arg_rule { ARG_NONE, ARG_OPTIONAL, ARG_REQUIRED };

static const struct verb_def {
	const char *name;
	enum smtp_cmd cmd;
	enum arg_rule arg;
	const char *syntax;
} verb_defs[] = {
	{"HELO", SMTP_CMD_HELO, ARG_REQUIRED, "HELO hostname"},
	{"EHLO", SMTP_CMD_EHLO, ARG_REQUIRED, "EHLO hostname"},
	{"MAIL", SMTP_CMD_MAIL, ARG_REQUIRED, "MAIL FROM:<address> [parameters]"},
	{"RCPT", SMTP_CMD_RCPT, ARG_REQUIRED, "RCPT TO:<address> [parameters]"},
	{"DATA", SMTP_CMD_DATA, ARG_NONE, "DATA"},
	{"BDAT", SMTP_CMD_BDAT, ARG_REQUIRED, "BDAT size [LAST]"},
	{"RSET", SMTP_CMD_RSET, ARG_NONE, "RSET"},
	{"NOOP", SMTP_CMD_NOOP, ARG_OPTIONAL, "NOOP"},
	{"QUIT", SMTP_CMD_QUIT, ARG_NONE, "QUIT"},
	{"VRFY", SMTP_CMD_VRFY, ARG_REQUIRED, "VRFY address"},
	{"EXPN", SMTP_CMD_EXPN, ARG_REQUIRED, "EXPN list"},
	{"HELP", SMTP_CMD_HELP, ARG_OPTIONAL, "HELP"},
	{"STARTTLS", SMTP_CMD_STARTTLS, ARG_NONE, "STARTTLS"},
	{"AUTH", SMTP_CMD_AUTH, ARG_REQUIRED, "AUTH mechanism [initial-response]"},
};

const char *smtp_cmd_name(enum smtp_cmd cmd)
{
	for (size_t i = 0; i < sizeof(verb_defs) / sizeof(verb_defs[0]); i++)
		if (verb_defs[i].cmd == cmd)
			return verb_defs[i].name;
	return "UNKNOWN";
}

int smtp_parse_command(const char *line, size_t len, struct smtp_command *cmd_r, struct smtp_error *err_r)
{
	size_t i = 0;

	cmd_r->cmd = SMTP_CMD_UNKNOWN;
	cmd_r->verb = line;
	while (i < len && !is_blank(line[i]))
		i++;
	cmd_r->verb_len = i;
	while (i < len && is_blank(line[i]))
		i++;
	size_t end = len;
	while (end > i && is_blank(line[end - 1]))
		end--;
	cmd_r->arg = line + i;
	cmd_r->arg_len = end - i;

	const struct verb_def *d = NULL;
	for (size_t v = 0; v < sizeof(verb_defs) / sizeof(verb_defs[0]); v++) {
		if (ci_equal((const unsigned char *)line, cmd_r->verb_len, verb_defs[v].name)) {
			d = &verb_defs[v];
			cmd_r->cmd = d->cmd;
			break;
		}
	}
	if (memchr(line, '\0', len) || memchr(line, '\r', len) || memchr(line, '\n', len))
		return set_error(err_r, 500, "5.5.2", "Invalid character (NUL, CR or LF) in command");
	if (d != NULL && ((d->arg == ARG_NONE && cmd_r->arg_len > 0) ||
			  (d->arg == ARG_REQUIRED && cmd_r->arg_len == 0)))
		return set_error(err_r, 501, "5.5.4", "Syntax: %s", d->syntax);
	return 0;
}

/* ---- HELO, BDAT, AUTH -------------------------------------------------------- */

int smtp_parse_helo(const char *arg, size_t len, struct smtp_helo *helo_r, struct smtp_error *err_r)
{
	const unsigned char *p = (const unsigned char *)arg;

	memset(helo_r, 0, sizeof(*helo_r));
	if (len == 0)
		return set_error(err_r, 501, "5.5.4", "Syntax: EHLO hostname");
	if (len > SMTP_DOMAIN_MAX)
		return set_error(err_r, 501, "5.5.4", "Host name longer than 255 octets");
	for (size_t i = 0; i < len;) {
		if (p[i] >= 0x80) {
			size_t n = utf8_len(p + i, len - i);
			if (n == 0)
				return set_error(err_r, 501, "5.5.4", "Malformed UTF-8 in host name");
			i += n;
		} else if (p[i] < 32 || p[i] == 127) {
			return set_error(err_r, 501, "5.5.4", "Invalid character in host name");
		} else {
			i++;
		}
	}
	memcpy(helo_r->name, arg, len);
	helo_r->name[len] = '\0';
	helo_r->literal = p[0] == '[';

	struct cur c = {p, len, 0};
	const char *detail;
	bool seen = false;
	int r = helo_r->literal ? scan_address_literal(&c, &detail)
				: scan_domain_name(&c, false, false, &seen, &detail);
	helo_r->valid = r == 0 && c.pos == len;
	return 0;
}

int smtp_parse_bdat(const char *arg, size_t len, uint64_t *size_r, bool *last_r, struct smtp_error *err_r)
{
	size_t i = 0;

	while (i < len && is_digit(arg[i]))
		i++;
	if (strn_to_u64(arg, i, size_r) < 0)
		return set_error(err_r, 501, "5.5.4", "Syntax: BDAT size [LAST]");
	size_t j = i;
	while (j < len && is_blank(arg[j]))
		j++;
	*last_r = false;
	if (j == len)
		return 0;
	if (j > i && ci_equal((const unsigned char *)arg + j, len - j, "LAST")) {
		*last_r = true;
		return 0;
	}
	return set_error(err_r, 501, "5.5.4", "Syntax: BDAT size [LAST]");
}

int smtp_parse_auth(const char *arg, size_t len, const char **mech_r, size_t *mech_len_r, const char **ir_r,
		    size_t *ir_len_r, struct smtp_error *err_r)
{
	size_t i = 0;

	while (i < len && (is_alnum(arg[i]) || arg[i] == '-' || arg[i] == '_'))
		i++;
	if (i == 0 || i > 20 || (i < len && !is_blank(arg[i])))
		return set_error(err_r, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
	*mech_r = arg;
	*mech_len_r = i;
	*ir_r = NULL;
	*ir_len_r = 0;
	while (i < len && is_blank(arg[i]))
		i++;
	if (i == len)
		return 0;
	for (size_t j = i; j < len; j++) {
		char ch = arg[j];
		if (!(is_alnum(ch) || ch == '+' || ch == '/' || ch == '='))
			return set_error(err_r, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
	}
	*ir_r = arg + i;
	*ir_len_r = len - i;
	return 0;
}

/* ---- xtext ------------------------------------------------------------------- */

int smtp_xtext_decode(struct buf *out, const char *s, size_t len, const char **error_r)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len; i++) {
		int v = p[i];
		if (v == '+') {
			int hi = i + 2 < len ? hex_digit(p[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(p[i + 2]) : -1;
			if (lo < 0) {
				*error_r = "invalid xtext escape";
				return -1;
			}
			v = hi * 16 + lo;
			i += 2;
		} else if (v < 33 || v > 126 || v == '=') {
			*error_r = "invalid xtext character";
			return -1;
		}
		if (buf_putc(out, (char)v) < 0) {
			*error_r = "xtext value too long";
			return -1;
		}
	}
	return 0;
}

int smtp_xtext_encode(struct buf *out, const void *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 33 && s[i] <= 126 && s[i] != '+' && s[i] != '=') {
			if (buf_putc(out, (char)s[i]) < 0)
				return -1;
		} else {
			char esc[3] = {'+', hex[s[i] >> 4], hex[s[i] & 15]};
			if (buf_append(out, esc, 3) < 0)
				return -1;
		}
	}
	return 0;
}
