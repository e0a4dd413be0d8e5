/* http_parse: HTTP/1.1 requests (RFC 9110, RFC 9112) from untrusted bytes,
 * incrementally, with hard limits, and the small syntax helpers the
 * webmail needs (percent-decoding, query parameters, cookies,
 * Accept-Encoding).
 *
 * The parser does no I/O. Bytes arrive in pieces of any size; each call
 * consumes what it can and says where it stands:
 *
 *   struct http_parser p;
 *   http_parser_init(&p, &limits);
 *   for each piece (data, len):
 *     r = http_parse(&p, data, len, &used, &error);   (then drop `used` bytes)
 *     r == HTTP_PARSE_HEADERS: request line and headers are complete and a
 *          body of p.req.content_length bytes follows; the caller may lower
 *          p.limits.max_body for this request (or refuse it) and call again
 *     r == HTTP_PARSE_DONE: p.req is the complete request; bytes after it
 *          (a pipelined request) are not consumed. Handle it, then
 *          http_parser_reset() before the next one.
 *     r == HTTP_PARSE_MORE: everything was consumed; feed more
 *     r == HTTP_PARSE_ERROR: p.status is the reply (400, 413, 414, 431,
 *          501, 505) and *error_r a short reason; the connection must be
 *          closed after that reply (the framing is lost)
 *   http_parser_deinit(&p);
 *
 * What is accepted, on purpose strictly (request smuggling lives in the
 * lenient corners): lines end in CRLF or a bare LF (RFC 9112 2.2), a bare
 * CR anywhere is an error; empty lines before the request line are skipped;
 * the request line is exactly METHOD SP TARGET SP HTTP/1.x with an
 * origin-form target ("/..."), or "*" for OPTIONS; header names are tokens
 * (lower-cased here), values have optional whitespace trimmed and no
 * control characters but HTAB; obsolete line folding is refused; HTTP/1.1
 * requests need exactly one Host; Content-Length must be digits, and
 * several must agree; any Transfer-Encoding is refused with 501 (browsers
 * never send chunked requests). Memory is bounded by the limits: nothing is
 * allocated from what the client announces, only from what arrives. */
#ifndef POSTHORN_HTTP_HTTP_PARSE_H
#define POSTHORN_HTTP_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum http_parse_result {
	HTTP_PARSE_ERROR = -1,
	HTTP_PARSE_MORE = 0,
	HTTP_PARSE_DONE = 1,
	HTTP_PARSE_HEADERS = 2,
};

enum http_method {
	HTTP_METHOD_OTHER = 0, /* a valid token we do not know */
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
};

#define HTTP_METHOD_MAX 16 /* longest method name accepted */

struct http_limits {
	size_t max_line;	 /* request line, bytes without the line end (414) */
	size_t max_header_bytes; /* all header lines together (431) */
	size_t max_headers;	 /* number of header fields (431) */
	uint64_t max_body;	 /* Content-Length (413) */
};

/* Defaults: 8 KiB request line, 64 KiB of headers, 100 fields, 1 MiB body. */
void http_limits_default(struct http_limits *lim);

struct http_header {
	char *name;  /* lower-cased token */
	char *value; /* trimmed; may be "" */
};

struct http_request {
	enum http_method method;
	char method_name[HTTP_METHOD_MAX + 1];
	char *target;	  /* the request-target as sent, NUL-terminated */
	const char *path; /* view into target: up to '?' or the end */
	size_t path_len;
	const char *query; /* view into target after '?', NULL when none */
	size_t query_len;
	unsigned version_minor; /* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
	struct http_header *headers;
	size_t header_count;
	uint64_t content_length; /* 0 when absent */
	bool keep_alive;	 /* from the version and Connection */
	bool expect_continue;	 /* Expect: 100-continue */
	struct buf body;	 /* exactly content_length bytes once DONE */
};

enum http_parse_state {
	HTTP_PS_START, /* before the request line (skipping empty lines) */
	HTTP_PS_HEADERS,
	HTTP_PS_BODY,
	HTTP_PS_DONE,
	HTTP_PS_ERROR,
};

struct http_parser {
	struct http_limits limits; /* may be changed between calls (max_body) */
	enum http_parse_state state;
	struct http_request req; /* per request: cleared by http_parser_reset */
	struct buf line;	 /* the line being assembled */
	size_t header_bytes;
	bool saw_host, saw_length;
	int status; /* the error reply on HTTP_PARSE_ERROR */
};

void http_parser_init(struct http_parser *p, const struct http_limits *lim);
/* Forgets the request (after handling it), keeps the limits. */
void http_parser_reset(struct http_parser *p);
void http_parser_deinit(struct http_parser *p);

/* Consumes bytes of (data, len); *used_r gets how many. See the top. */
enum http_parse_result http_parse(struct http_parser *p, const char *data, size_t len, size_t *used_r,
				  const char **error_r);

/* The value of the first header named lname (lower case), or NULL. */
const char *http_header_get(const struct http_request *r, const char *lname);

/* ---- helpers ------------------------------------------------------------ */

/* Appends (s, n) percent-decoded ("%41" -> "A"; with form true, "+" is a
 * space, as in query strings). Returns 0, or -1 on a malformed escape, an
 * encoded NUL, or out full (out then holds a prefix). */
int http_url_decode(const char *s, size_t n, bool form, struct buf *out);

/* Finds parameter name in a query string (a=1&b=2) and appends its decoded
 * value to out. Returns 1 found, 0 absent, -1 malformed escape. A name
 * without '=' has the value "". */
int http_query_param(const char *query, size_t len, const char *name, struct buf *out);

/* Finds cookie name in a Cookie header value ("a=1; b=2"). Returns 1 and a
 * view of its value (quotes kept as sent), or 0. */
int http_cookie_get(const char *header, const char *name, const char **value_r, size_t *len_r);

/* true when an Accept-Encoding value allows gzip (q > 0; "*" counts). */
bool http_accepts_gzip(const char *accept_encoding);

/* The reason phrase of a status code ("Not Found"), "" when unknown. */
const char *http_status_text(int status);

#endif
