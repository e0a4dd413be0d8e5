/* smtp_reply: the incremental parser of SMTP replies and the EHLO keyword
 * reader (see smtp_reply.h). A line is collected up to its LF (bounded),
 * then checked and added to the reply; the reply is complete at its first
 * line without a "-" after the code. */
#include "smtp/smtp_reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/strnum.h"

void smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "X.Y.Z" at the start of text, X being the reply's class, Y and Z of one
 * to three digits, followed by a space or the end. Copies it to enh. */
static void parse_enh(const char *t, size_t n, unsigned cls, char enh[16])
{
	size_t i = 0;
	enh[0] = '\0';
	if (n < 5 || t[0] != (char)('0' + cls) || t[1] != '.')
		return;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < n && is_digit(t[i]) && i - start < 4)
			i++;
		if (i == start || i - start > 3)
			return;
		if (part == 0) {
			if (i >= n || t[i] != '.')
				return;
			i++;
		}
	}
	if (i < n && t[i] != ' ')
		return;
	memcpy(enh, t, i);
	enh[i] = '\0';
}

static void add_text(struct smtp_reply *r, const char *t, size_t n)
{
	if (r->lines > 0) {
		if (r->text_len < SMTP_REPLY_TEXT_MAX)
			r->text[r->text_len++] = '\n';
		else
			r->truncated = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (r->text_len >= SMTP_REPLY_TEXT_MAX) {
			r->truncated = true;
			break;
		}
		unsigned char c = (unsigned char)t[i];
		r->text[r->text_len++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	r->text[r->text_len] = '\0';
}

/* One complete line (without its line end). 1 = last line of the reply,
 * 0 = more lines follow, -1 = not a reply line. */
static int take_line(struct smtp_reply_parser *p, const char *l, size_t n, const char **error_r)
{
	struct smtp_reply *r = &p->reply;
	if (n < 3 || !is_digit(l[0]) || !is_digit(l[1]) || !is_digit(l[2]) || l[0] < '2' || l[0] > '5' ||
	    l[1] > '5') {
		*error_r = "malformed reply: a line does not start with a reply code";
		return -1;
	}
	if (n > 3 && l[3] != ' ' && l[3] != '-') {
		*error_r = "malformed reply: no space or hyphen after the reply code";
		return -1;
	}
	unsigned code = (unsigned)(l[0] - '0') * 100 + (unsigned)(l[1] - '0') * 10 + (unsigned)(l[2] - '0');
	if (r->lines == 0) {
		r->code = code;
		parse_enh(l + (n > 3 ? 4 : 3), n > 3 ? n - 4 : 0, code / 100, r->enh);
	} else if (code != r->code) {
		*error_r = "malformed reply: lines of one reply have different codes";
		return -1;
	}
	if (r->lines >= SMTP_REPLY_LINES_MAX) {
		*error_r = "reply has too many lines";
		return -1;
	}
	add_text(r, l + (n > 3 ? 4 : 3), n > 3 ? n - 4 : 0);
	r->lines++;
	return n == 3 || l[3] == ' ' ? 1 : 0;
}

int smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len, size_t *used_r,
		     const char **error_r)
{
	size_t pos = 0;
	if (p->done) {
		memset(&p->reply, 0, sizeof(p->reply));
		p->done = false;
	}
	while (pos < len) {
		const char *lf = memchr(data + pos, '\n', len - pos);
		size_t take = lf ? (size_t)(lf - (data + pos)) : len - pos;
		if (p->line_len + take > SMTP_REPLY_LINE_MAX + 1) {
			*used_r = pos;
			*error_r = "reply line too long";
			return -1;
		}
		memcpy(p->line + p->line_len, data + pos, take);
		p->line_len += take;
		pos += take;
		if (lf == NULL)
			break;
		pos++; /* the LF */
		size_t n = p->line_len;
		if (n > 0 && p->line[n - 1] == '\r')
			n--;
		else if (n > SMTP_REPLY_LINE_MAX) {
			*used_r = pos;
			*error_r = "reply line too long";
			return -1;
		}
		p->line_len = 0;
		int r = take_line(p, p->line, n, error_r);
		if (r < 0) {
			*used_r = pos;
			return -1;
		}
		if (r == 1) {
			*used_r = pos;
			/* The next call starts a new reply; until then this one stays readable. */
			p->done = true;
			return 1;
		}
	}
	*used_r = pos;
	return 0;
}

void smtp_reply_format(const struct smtp_reply *r, char *out, size_t out_size)
{
	if (out_size == 0)
		return;
	int n = snprintf(out, out_size, "%u", r->code);
	size_t o = n > 0 ? (size_t)n : 0;
	if (o >= out_size)
		o = out_size - 1;
	if (r->text_len > 0 && o + 1 < out_size)
		out[o++] = ' ';
	for (size_t i = 0; i < r->text_len && o + 1 < out_size; i++)
		out[o++] = r->text[i] == '\n' ? ' ' : r->text[i];
	out[o] = '\0';
}

static bool keyword_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e)
{
	memset(e, 0, sizeof(*e));
	const char *t = r->text, *end = r->text + r->text_len;
	/* Skip the first line: the server's name and greeting. */
	const char *nl = memchr(t, '\n', (size_t)(end - t));
	t = nl ? nl + 1 : end;
	while (t < end) {
		nl = memchr(t, '\n', (size_t)(end - t));
		const char *le = nl ? nl : end;
		const char *w = t;
		while (w < le && (*w == ' ' || *w == '\t'))
			w++;
		const char *we = w;
		while (we < le && *we != ' ' && *we != '\t' && *we != '=')
			we++;
		size_t wn = (size_t)(we - w);
		if (keyword_is(w, wn, "PIPELINING"))
			e->pipelining = true;
		else if (keyword_is(w, wn, "STARTTLS"))
			e->starttls = true;
		else if (keyword_is(w, wn, "8BITMIME"))
			e->eightbitmime = true;
		else if (keyword_is(w, wn, "SMTPUTF8"))
			e->smtputf8 = true;
		else if (keyword_is(w, wn, "CHUNKING"))
			e->chunking = true;
		else if (keyword_is(w, wn, "ENHANCEDSTATUSCODES"))
			e->enhancedstatuscodes = true;
		else if (keyword_is(w, wn, "DSN"))
			e->dsn = true;
		else if (keyword_is(w, wn, "SIZE")) {
			e->size_set = true;
			e->size = 0;
			const char *v = we;
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = v;
			while (ve < le && is_digit(*ve))
				ve++;
			uint64_t size;
			if (ve > v && strn_to_u64(v, (size_t)(ve - v), &size) == 0)
				e->size = size;
		}
		t = nl ? nl + 1 : end;
	}
}
