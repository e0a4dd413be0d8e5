/* http_parse: the incremental HTTP/1.1 request parser and its helpers (see
 * http_parse.h for what is accepted and why).
 *
 * The parser assembles one line at a time in p->line (capped: the request
 * line at max_line, each header line at what is left of max_header_bytes),
 * so a line split over many reads costs nothing more than one that arrives
 * whole. The body is counted, never searched. */
#include "http/http_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"
#include "util/strnum.h"

void http_limits_default(struct http_limits *lim)
{
	lim->max_line = 8192;
	lim->max_header_bytes = 64 * 1024;
	lim->max_headers = 100;
	lim->max_body = 1024 * 1024;
}

static void request_clear(struct http_request *r)
{
	free(r->target);
	for (size_t i = 0; i < r->header_count; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	buf_free(&r->body);
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 1);
}

/* A line is either the request line (max_line, plus a CR) or a header
 * line (within max_header_bytes); the exact checks are in http_parse. */
static size_t line_max(const struct http_parser *p)
{
	return p->limits.max_line + 1 + p->limits.max_header_bytes;
}

void http_parser_init(struct http_parser *p, const struct http_limits *lim)
{
	memset(p, 0, sizeof(*p));
	if (lim != NULL)
		p->limits = *lim;
	else
		http_limits_default(&p->limits);
	buf_init(&p->req.body, 1);
	buf_init(&p->line, line_max(p));
	p->state = HTTP_PS_START;
}

void http_parser_reset(struct http_parser *p)
{
	request_clear(&p->req);
	buf_free(&p->line);
	buf_init(&p->line, line_max(p));
	p->header_bytes = 0;
	p->saw_host = p->saw_length = false;
	p->status = 0;
	p->state = HTTP_PS_START;
}

void http_parser_deinit(struct http_parser *p)
{
	request_clear(&p->req);
	buf_free(&p->req.body);
	buf_free(&p->line);
}

static enum http_parse_result fail(struct http_parser *p, int status, const char *why, const char **error_r)
{
	p->state = HTTP_PS_ERROR;
	p->status = status;
	if (error_r != NULL)
		*error_r = why;
	return HTTP_PARSE_ERROR;
}

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Characters allowed in an origin-form target: RFC 3986 pchar, '/', '?',
 * and '%'; everything else (spaces, quotes, '<', '#', controls, 8-bit) is
 * refused, as a browser always escapes them. */
static bool is_target_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("-._~!$&'()*+,;=:@/?%[]", c) != NULL;
}

static const struct {
	const char *name;
	enum http_method method;
} methods[] = {
    {"GET", HTTP_GET},	   {"HEAD", HTTP_HEAD},	    {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
    {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
};

static enum http_parse_result request_line(struct http_parser *p, const char *s, size_t n,
					   const char **error_r)
{
	struct http_request *r = &p->req;
	const char *sp1 = memchr(s, ' ', n);
	if (sp1 == NULL || sp1 == s)
		return fail(p, 400, "malformed request line", error_r);
	size_t mlen = (size_t)(sp1 - s);
	if (mlen > HTTP_METHOD_MAX)
		return fail(p, 501, "method too long", error_r);
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)s[i]))
			return fail(p, 400, "malformed method", error_r);
	memcpy(r->method_name, s, mlen);
	r->method_name[mlen] = '\0';
	r->method = HTTP_METHOD_OTHER;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, r->method_name) == 0)
			r->method = methods[i].method;

	const char *t = sp1 + 1;
	const char *end = s + n;
	const char *sp2 = memchr(t, ' ', (size_t)(end - t));
	if (sp2 == NULL || sp2 == t)
		return fail(p, 400, "malformed request line", error_r);
	size_t tlen = (size_t)(sp2 - t);
	for (size_t i = 0; i < tlen; i++)
		if (!is_target_char((unsigned char)t[i]))
			return fail(p, 400, "invalid character in the request target", error_r);
	bool star = tlen == 1 && t[0] == '*';
	if (!(t[0] == '/' || (star && r->method == HTTP_OPTIONS)))
		return fail(p, 400, "the request target must be a path", error_r);

	const char *v = sp2 + 1;
	size_t vlen = (size_t)(end - v);
	if (vlen < 5 || memcmp(v, "HTTP/", 5) != 0)
		return fail(p, 400, "malformed HTTP version", error_r);
	if (vlen != 8 || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return fail(p, 400, "malformed HTTP version", error_r);
	if (v[5] != '1')
		return fail(p, 505, "only HTTP/1.x is supported", error_r);
	r->version_minor = (unsigned)(v[7] - '0');
	r->keep_alive = r->version_minor >= 1;

	r->target = xstrndup(t, tlen);
	const char *q = memchr(r->target, '?', tlen);
	r->path = r->target;
	r->path_len = q ? (size_t)(q - r->target) : tlen;
	if (q != NULL) {
		r->query = q + 1;
		r->query_len = tlen - r->path_len - 1;
	}
	return HTTP_PARSE_MORE;
}

/* Does a comma-separated list (Connection) contain token, any case? */
static bool list_has(const char *list, const char *token)
{
	size_t tl = strlen(token);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *e = p;
		while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - start) == tl && strncasecmp(start, token, tl) == 0)
			return true;
	}
	return false;
}

static enum http_parse_result header_line(struct http_parser *p, const char *s, size_t n,
					  const char **error_r)
{
	struct http_request *r = &p->req;
	if (s[0] == ' ' || s[0] == '\t')
		return fail(p, 400, "obsolete line folding", error_r);
	const char *colon = memchr(s, ':', n);
	if (colon == NULL || colon == s)
		return fail(p, 400, "malformed header field", error_r);
	size_t nlen = (size_t)(colon - s);
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)s[i]))
			return fail(p, 400, "malformed header name", error_r);
	const char *v = colon + 1, *ve = s + n;
	for (const char *c = v; c < ve; c++) {
		unsigned char ch = (unsigned char)*c;
		if ((ch < 32 && ch != '\t') || ch == 127)
			return fail(p, 400, "control character in a header value", error_r);
	}
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	if (r->header_count >= p->limits.max_headers)
		return fail(p, 431, "too many header fields", error_r);
	r->headers = xreallocarray(r->headers, r->header_count + 1, sizeof(*r->headers));
	struct http_header *h = &r->headers[r->header_count++];
	h->name = xstrndup(s, nlen);
	for (char *c = h->name; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	h->value = xstrndup(v, (size_t)(ve - v));

	if (strcmp(h->name, "host") == 0) {
		if (p->saw_host)
			return fail(p, 400, "more than one Host header", error_r);
		p->saw_host = true;
	} else if (strcmp(h->name, "content-length") == 0) {
		uint64_t len;
		if (h->value[0] == '\0' || str_to_u64(h->value, &len) < 0)
			return fail(p, 400, "malformed Content-Length", error_r);
		if (p->saw_length && len != r->content_length)
			return fail(p, 400, "conflicting Content-Length headers", error_r);
		p->saw_length = true;
		r->content_length = len;
	} else if (strcmp(h->name, "transfer-encoding") == 0) {
		return fail(p, 501, "Transfer-Encoding is not supported in requests", error_r);
	} else if (strcmp(h->name, "connection") == 0) {
		if (list_has(h->value, "close"))
			r->keep_alive = false;
		else if (list_has(h->value, "keep-alive") && r->version_minor == 0)
			r->keep_alive = true;
	} else if (strcmp(h->name, "expect") == 0) {
		if (strcasecmp(h->value, "100-continue") != 0)
			return fail(p, 417, "unsupported expectation", error_r);
		r->expect_continue = true;
	}
	return HTTP_PARSE_MORE;
}

/* The header section ended: checks what needs all of it. */
static enum http_parse_result headers_done(struct http_parser *p, const char **error_r)
{
	struct http_request *r = &p->req;
	if (r->version_minor >= 1 && !p->saw_host)
		return fail(p, 400, "missing Host header", error_r);
	if (r->content_length > p->limits.max_body)
		return fail(p, 413, "request body too large", error_r);
	if (r->content_length == 0) {
		p->state = HTTP_PS_DONE;
		return HTTP_PARSE_DONE;
	}
	buf_free(&r->body);
	buf_init(&r->body, (size_t)r->content_length);
	p->state = HTTP_PS_BODY;
	return HTTP_PARSE_HEADERS;
}

enum http_parse_result http_parse(struct http_parser *p, const char *data, size_t len, size_t *used_r,
				  const char **error_r)
{
	size_t i = 0;
	*used_r = 0;
	for (;;) {
		switch (p->state) {
		case HTTP_PS_DONE:
			*used_r = i;
			return HTTP_PARSE_DONE;
		case HTTP_PS_ERROR:
			*used_r = i;
			if (error_r != NULL)
				*error_r = "the request could not be parsed";
			return HTTP_PARSE_ERROR;
		case HTTP_PS_BODY: {
			if (p->req.body.len >= p->req.content_length) {
				p->state = HTTP_PS_DONE;
				continue;
			}
			/* The limit may have been lowered after HEADERS. */
			if (p->req.content_length > p->limits.max_body) {
				*used_r = i;
				return fail(p, 413, "request body too large", error_r);
			}
			size_t want = (size_t)(p->req.content_length - p->req.body.len);
			size_t take = len - i < want ? len - i : want;
			if (take > 0 && buf_append(&p->req.body, data + i, take) < 0) {
				*used_r = i;
				return fail(p, 413, "request body too large", error_r);
			}
			i += take;
			if (p->req.body.len < p->req.content_length) {
				*used_r = i;
				return HTTP_PARSE_MORE;
			}
			p->state = HTTP_PS_DONE;
			continue;
		}
		case HTTP_PS_START:
		case HTTP_PS_HEADERS:
			break;
		}

		/* Assemble one line. */
		if (i >= len) {
			*used_r = i;
			return HTTP_PARSE_MORE;
		}
		const char *lf = memchr(data + i, '\n', len - i);
		size_t chunk = lf ? (size_t)(lf - (data + i)) : len - i;
		bool start = p->state == HTTP_PS_START;
		size_t room = start ? p->limits.max_line + 1 /* a CR may follow */
				    : p->limits.max_header_bytes - p->header_bytes;
		if (p->line.len + chunk > room) {
			*used_r = i;
			return start ? fail(p, 414, "request line too long", error_r)
				     : fail(p, 431, "request header fields too large", error_r);
		}
		if (chunk > 0 && buf_append(&p->line, data + i, chunk) < 0) {
			*used_r = i;
			return fail(p, start ? 414 : 431, "line too long", error_r);
		}
		i += chunk;
		if (lf == NULL) {
			*used_r = i;
			return HTTP_PARSE_MORE;
		}
		i++; /* the LF */
		size_t n = p->line.len;
		const char *s = p->line.data ? p->line.data : "";
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (memchr(s, '\r', n) != NULL) {
			*used_r = i;
			return fail(p, 400, "bare CR in the request", error_r);
		}
		if (memchr(s, '\0', n) != NULL) {
			*used_r = i;
			return fail(p, 400, "NUL in the request", error_r);
		}
		enum http_parse_result r = HTTP_PARSE_MORE;
		if (start) {
			if (n > p->limits.max_line) {
				*used_r = i;
				return fail(p, 414, "request line too long", error_r);
			}
			if (n > 0) { /* empty lines before a request are skipped */
				r = request_line(p, s, n, error_r);
				p->state = HTTP_PS_HEADERS;
			}
		} else {
			p->header_bytes += p->line.len + 1;
			if (n == 0)
				r = headers_done(p, error_r);
			else
				r = header_line(p, s, n, error_r);
		}
		buf_reset(&p->line);
		if (r == HTTP_PARSE_ERROR || r == HTTP_PARSE_HEADERS) {
			*used_r = i;
			return r;
		}
	}
}

const char *http_header_get(const struct http_request *r, const char *lname)
{
	for (size_t i = 0; i < r->header_count; i++)
		if (strcmp(r->headers[i].name, lname) == 0)
			return r->headers[i].value;
	return NULL;
}

/* ---- helpers ------------------------------------------------------------ */

int http_url_decode(const char *s, size_t n, bool form, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		/* Copy the run without escapes at once. */
		size_t j = i;
		while (j < n && s[j] != '%' && !(form && s[j] == '+'))
			j++;
		if (j > i && buf_append(out, s + i, j - i) < 0)
			return -1;
		i = j;
		if (i >= n)
			break;
		if (s[i] == '+') {
			if (buf_putc(out, ' ') < 0)
				return -1;
			i++;
			continue;
		}
		if (i + 2 >= n) /* "%" or "%4" at the end */
			return -1;
		int h = hex_digit(s[i + 1]), l = hex_digit(s[i + 2]);
		if (h < 0 || l < 0 || (h == 0 && l == 0))
			return -1;
		if (buf_putc(out, (char)(h * 16 + l)) < 0)
			return -1;
		i += 3;
	}
	return 0;
}

int http_query_param(const char *query, size_t len, const char *name, struct buf *out)
{
	if (query == NULL)
		return 0;
	size_t nl = strlen(name);
	size_t i = 0;
	while (i <= len) {
		const char *amp = memchr(query + i, '&', len - i);
		size_t end = amp ? (size_t)(amp - query) : len;
		const char *pair = query + i;
		size_t plen = end - i;
		const char *eq = memchr(pair, '=', plen);
		size_t klen = eq ? (size_t)(eq - pair) : plen;
		/* Names we look up are plain ASCII, so compare them undecoded. */
		if (klen == nl && memcmp(pair, name, nl) == 0) {
			if (eq == NULL)
				return 1;
			return http_url_decode(eq + 1, plen - klen - 1, true, out) < 0 ? -1 : 1;
		}
		if (amp == NULL)
			break;
		i = end + 1;
	}
	return 0;
}

int http_cookie_get(const char *header, const char *name, const char **value_r, size_t *len_r)
{
	if (header == NULL)
		return 0;
	size_t nl = strlen(name);
	const char *p = header;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *start = p;
		while (*p && *p != ';')
			p++;
		const char *eq = memchr(start, '=', (size_t)(p - start));
		if (eq != NULL && (size_t)(eq - start) == nl && memcmp(start, name, nl) == 0) {
			const char *e = p;
			while (e > eq + 1 && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*value_r = eq + 1;
			*len_r = (size_t)(e - (eq + 1));
			return 1;
		}
	}
	return 0;
}

/* Parses ";q=0.5" style parameters after a coding; returns whether q > 0. */
static bool q_positive(const char *params, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (params[i] == ' ' || params[i] == '\t' || params[i] == ';'))
			i++;
		if (i + 2 <= n && (params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=') {
			i += 2;
			/* q=0, q=0.0, q=0.000 are "not acceptable"; anything else is. */
			bool nonzero = false;
			while (i < n && params[i] != ';' && params[i] != ' ') {
				if (params[i] >= '1' && params[i] <= '9')
					nonzero = true;
				i++;
			}
			return nonzero;
		}
		while (i < n && params[i] != ';')
			i++;
	}
	return true;
}

bool http_accepts_gzip(const char *ae)
{
	if (ae == NULL)
		return false;
	bool gzip = false, star = false, gzip_seen = false;
	const char *p = ae;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *semi = memchr(start, ';', (size_t)(p - start));
		const char *ce = semi ? semi : p;
		while (ce > start && (ce[-1] == ' ' || ce[-1] == '\t'))
			ce--;
		size_t cl = (size_t)(ce - start);
		bool ok = semi ? q_positive(semi, (size_t)(p - semi)) : true;
		if ((cl == 4 && strncasecmp(start, "gzip", 4) == 0) ||
		    (cl == 6 && strncasecmp(start, "x-gzip", 6) == 0)) {
			gzip_seen = true;
			gzip = ok;
		} else if (cl == 1 && *start == '*')
			star = ok;
	}
	return gzip_seen ? gzip : star;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	case 507:
		return "Insufficient Storage";
	default:
		return "";
	}
}
