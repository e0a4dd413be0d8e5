/* Unit tests of http_parse: tables of good and bad requests, each fed whole,
 * at every split point in two pieces, and one byte at a time; pipelining;
 * the limits; the helpers. */
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"
#include "test.h"

/* Feeds (s, n) in pieces of `step` bytes (0 = whole, or split once at
 * `split` when step is -1 via split_at). Returns the final result and the
 * total consumed. HEADERS is answered by continuing. */
static enum http_parse_result feed(struct http_parser *p, const char *s, size_t n, size_t split, size_t step,
				   size_t *used_total, int *headers_seen)
{
	size_t pos = 0;
	*used_total = 0;
	*headers_seen = 0;
	enum http_parse_result r = HTTP_PARSE_MORE;
	while (pos < n || r == HTTP_PARSE_HEADERS) {
		size_t piece;
		if (step > 0)
			piece = n - pos < step ? n - pos : step;
		else if (split > 0 && pos < split)
			piece = split - pos;
		else
			piece = n - pos;
		size_t used;
		const char *err;
		char *copy = malloc(piece ? piece : 1); /* exact size: ASan sees over-reads */
		memcpy(copy, s + pos, piece);
		r = http_parse(p, copy, piece, &used, &err);
		free(copy);
		if (used > piece)
			return HTTP_PARSE_ERROR;
		pos += used;
		*used_total = pos;
		if (r == HTTP_PARSE_HEADERS) {
			(*headers_seen)++;
			continue;
		}
		if (r != HTTP_PARSE_MORE)
			return r;
		if (used < piece) /* MORE must consume everything */
			return HTTP_PARSE_ERROR;
	}
	return r;
}

struct good {
	const char *name;
	const char *in;
	enum http_method method;
	const char *target, *path, *query; /* query NULL when none */
	size_t headers;
	const char *host;
	const char *body;
	bool keep_alive;
};

static const struct good goods[] = {
    {"get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_GET, "/", "/", NULL, 1, "a", "", true},
    {"query", "GET /api/x?a=1&b=%20 HTTP/1.1\r\nHost: a:8080\r\n\r\n", HTTP_GET, "/api/x?a=1&b=%20", "/api/x",
     "a=1&b=%20", 1, "a:8080", "", true},
    {"empty query", "GET /x? HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_GET, "/x?", "/x", "", 1, "a", "", true},
    {"bare lf", "GET / HTTP/1.1\nHost: a\n\n", HTTP_GET, "/", "/", NULL, 1, "a", "", true},
    {"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_GET, "/", "/", NULL, 1, "a", "",
     true},
    {"post body", "POST /api/login HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: x\r\n\r\nhello",
     HTTP_POST, "/api/login", "/api/login", NULL, 3, "a", "hello", true},
    {"same lengths", "PUT /s HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok",
     HTTP_PUT, "/s", "/s", NULL, 3, "a", "ok", true},
    {"zero length", "DELETE /m/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", HTTP_DELETE, "/m/1",
     "/m/1", NULL, 2, "a", "", true},
    {"ows trimmed", "GET / HTTP/1.1\r\nHost: \t a \t\r\nX-Empty:\r\n\r\n", HTTP_GET, "/", "/", NULL, 2, "a",
     "", true},
    {"connection close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", HTTP_GET, "/", "/",
     NULL, 2, "a", "", false},
    {"http/1.0", "GET / HTTP/1.0\r\n\r\n", HTTP_GET, "/", "/", NULL, 0, NULL, "", false},
    {"http/1.0 keep-alive", "HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", HTTP_HEAD, "/", "/", NULL, 1,
     NULL, "", true},
    {"options star", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OPTIONS, "*", "*", NULL, 1, "a", "", true},
    {"other method", "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_METHOD_OTHER, "/pot", "/pot", NULL, 1, "a",
     "", true},
    {"obs-text value", "GET / HTTP/1.1\r\nHost: a\r\nX-N: caf\xc3\xa9\r\n\r\n", HTTP_GET, "/", "/", NULL, 2,
     "a", "", true},
    {"binary body", "PATCH /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n\r\n\0\n", HTTP_PATCH, "/b",
     "/b", NULL, 2, "a", "\r\n", true},
};

static void check_good(const struct good *g, size_t split, size_t step)
{
	struct http_parser p;
	http_parser_init(&p, NULL);
	size_t n = strlen(g->in);
	if (strcmp(g->name, "binary body") == 0)
		n = strlen(g->in) + 2; /* the body holds a NUL */
	size_t used;
	int headers;
	enum http_parse_result r = feed(&p, g->in, n, split, step, &used, &headers);
	test_current = g->name;
	CHECK_INT(r, HTTP_PARSE_DONE);
	CHECK_INT(used, n);
	if (r == HTTP_PARSE_DONE) {
		CHECK_INT(p.req.method, g->method);
		CHECK_STR(p.req.target, g->target);
		CHECK_MEM(p.req.path, p.req.path_len, g->path);
		if (g->query == NULL)
			CHECK(p.req.query == NULL);
		else
			CHECK_MEM(p.req.query, p.req.query_len, g->query);
		CHECK_INT(p.req.header_count, g->headers);
		CHECK_STR(http_header_get(&p.req, "host"), g->host);
		CHECK_INT(p.req.keep_alive, g->keep_alive);
		if (strcmp(g->name, "binary body") == 0) {
			CHECK_INT(p.req.body.len, 4);
			CHECK(memcmp(p.req.body.data, "\r\n\0\n", 4) == 0);
		} else
			CHECK_MEM(p.req.body.data ? p.req.body.data : "", p.req.body.len, g->body);
		CHECK_INT(headers, p.req.content_length > 0 ? 1 : 0);
	}
	http_parser_deinit(&p);
}

TEST(good_requests)
{
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		size_t n = strlen(g->in) + (strcmp(g->name, "binary body") == 0 ? 2 : 0);
		check_good(g, 0, 0);
		check_good(g, 0, 1);
		for (size_t s = 1; s < n; s++)
			check_good(g, s, 0);
	}
}

TEST(header_names_lowercased)
{
	struct http_parser p;
	http_parser_init(&p, NULL);
	const char *in = "GET / HTTP/1.1\r\nHOST: x\r\nX-CSRF-Token: abc\r\nCookie: a=1; b=2\r\n\r\n";
	size_t used;
	const char *err;
	CHECK_INT(http_parse(&p, in, strlen(in), &used, &err), HTTP_PARSE_DONE);
	CHECK_STR(http_header_get(&p.req, "x-csrf-token"), "abc");
	CHECK_STR(p.req.headers[0].name, "host");
	CHECK(http_header_get(&p.req, "X-CSRF-Token") == NULL);
	http_parser_deinit(&p);
}

struct bad {
	const char *name;
	const char *in;
	int status;
};

static const struct bad bads[] = {
    {"no version", "GET /\r\n\r\n", 400},
    {"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {"absolute form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"star not options", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"http/2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"http/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
    {"lowercase http", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
    {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"8bit target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"long method", "ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    {"no host", "GET / HTTP/1.1\r\n\r\n", 400},
    {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"obs fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},
    {"empty name", "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400},
    {"bare cr", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
    {"bare cr request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"ctl in value", "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400},
    {"del in value", "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400},
    {"te chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
    {"te and cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     501},
    {"cl sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400},
    {"cl list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
    {"cl empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
    {"cl conflict", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
    {"cl overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
    {"cl too big", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413},
    {"expect other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n", 417},
};

static void check_bad(const struct bad *b, size_t split, size_t step)
{
	struct http_parser p;
	http_parser_init(&p, NULL);
	size_t used;
	int headers;
	enum http_parse_result r = feed(&p, b->in, strlen(b->in), split, step, &used, &headers);
	test_current = b->name;
	CHECK_INT(r, HTTP_PARSE_ERROR);
	CHECK_INT(p.status, b->status);
	http_parser_deinit(&p);
}

TEST(bad_requests)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		check_bad(&bads[i], 0, 0);
		check_bad(&bads[i], 0, 1);
		for (size_t s = 1; s < strlen(bads[i].in); s++)
			check_bad(&bads[i], s, 0);
	}
}

TEST(pipelined)
{
	const char *in =
	    "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
	    "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *want[] = {"/a", "/b", "/c"};
	struct http_parser p;
	http_parser_init(&p, NULL);
	size_t n = strlen(in), pos = 0;
	for (int k = 0; k < 3; k++) {
		enum http_parse_result r;
		size_t used;
		const char *err;
		do {
			r = http_parse(&p, in + pos, n - pos, &used, &err);
			pos += used;
		} while (r == HTTP_PARSE_HEADERS);
		CHECK_INT(r, HTTP_PARSE_DONE);
		CHECK_STR(p.req.target, want[k]);
		if (k == 1)
			CHECK_MEM(p.req.body.data, p.req.body.len, "xyz");
		/* DONE again without reset: nothing more is consumed. */
		CHECK_INT(http_parse(&p, in + pos, n - pos, &used, &err), HTTP_PARSE_DONE);
		CHECK_INT(used, 0);
		http_parser_reset(&p);
	}
	CHECK_INT(pos, n);
	http_parser_deinit(&p);
}

TEST(limits)
{
	struct http_limits lim = {.max_line = 20, .max_header_bytes = 40, .max_headers = 2, .max_body = 10};
	struct http_parser p;
	size_t used;
	const char *err;
	struct {
		const char *in;
		int status;
	} cases[] = {
	    {"GET /0123456789abcdef HTTP/1.1\r\n", 414},	/* 31 > 20 */
	    {"GET /0123456789abcdefghijklmnopqrstuvwxyz", 414}, /* no end yet, already too long */
	    {"GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789012345678901234567890\r\n", 431},
	    {"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 431},
	    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_parser_init(&p, &lim);
		enum http_parse_result r = http_parse(&p, cases[i].in, strlen(cases[i].in), &used, &err);
		CHECK_INT(r, HTTP_PARSE_ERROR);
		CHECK_INT(p.status, cases[i].status);
		http_parser_deinit(&p);
	}
	/* Exactly at the line limit is fine. */
	http_parser_init(&p, &lim);
	const char *ok = "GET /234567 HTTP/1.1\r\nHost: a\r\n\r\n"; /* request line: 20 bytes */
	CHECK_INT(http_parse(&p, ok, strlen(ok), &used, &err), HTTP_PARSE_DONE);
	http_parser_deinit(&p);

	/* The caller lowers the body limit once it knows the route. */
	http_parser_init(&p, NULL);
	const char *in = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc";
	CHECK_INT(http_parse(&p, in, strlen(in), &used, &err), HTTP_PARSE_HEADERS);
	CHECK_INT(p.req.content_length, 100);
	p.limits.max_body = 50;
	CHECK_INT(http_parse(&p, in + used, strlen(in) - used, &used, &err), HTTP_PARSE_ERROR);
	CHECK_INT(p.status, 413);
	http_parser_deinit(&p);

	/* A body is never allocated from the announced length alone. */
	struct http_limits big = {
	    .max_line = 100, .max_header_bytes = 1000, .max_headers = 10, .max_body = (uint64_t)1 << 40};
	http_parser_init(&p, &big);
	in = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000\r\n\r\nab";
	CHECK_INT(http_parse(&p, in, strlen(in), &used, &err), HTTP_PARSE_HEADERS);
	CHECK_INT(http_parse(&p, in + used, strlen(in) - used, &used, &err), HTTP_PARSE_MORE);
	CHECK(p.req.body.cap < 4096);
	http_parser_deinit(&p);
}

TEST(expect_continue)
{
	struct http_parser p;
	http_parser_init(&p, NULL);
	const char *in = "POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n";
	size_t used;
	const char *err;
	CHECK_INT(http_parse(&p, in, strlen(in), &used, &err), HTTP_PARSE_HEADERS);
	CHECK(p.req.expect_continue);
	CHECK_INT(http_parse(&p, "hi", 2, &used, &err), HTTP_PARSE_DONE);
	http_parser_deinit(&p);
}

TEST(url_decode)
{
	struct {
		const char *in;
		bool form;
		const char *want; /* NULL = error */
	} cases[] = {
	    {"abc", false, "abc"},
	    {"a%20b", false, "a b"},
	    {"a+b", false, "a+b"},
	    {"a+b", true, "a b"},
	    {"%C3%A9%c3%a9", false, "\xc3\xa9\xc3\xa9"},
	    {"%2F", false, "/"},
	    {"%", false, NULL},
	    {"%4", false, NULL},
	    {"%4g", false, NULL},
	    {"%00", false, NULL},
	    {"x%", true, NULL},
	    {"", false, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out;
		buf_init(&out, 100);
		int r = http_url_decode(cases[i].in, strlen(cases[i].in), cases[i].form, &out);
		if (cases[i].want == NULL)
			CHECK_INT(r, -1);
		else {
			CHECK_INT(r, 0);
			CHECK_STR(buf_cstr(&out), cases[i].want);
		}
		buf_free(&out);
	}
}

TEST(query_param)
{
	struct {
		const char *query, *name;
		int result;
		const char *want;
	} cases[] = {
	    {"a=1&b=2", "a", 1, "1"},
	    {"a=1&b=2", "b", 1, "2"},
	    {"a=1&b=2", "c", 0, ""},
	    {"q=hello+world%21", "q", 1, "hello world!"},
	    {"flag&x=1", "flag", 1, ""},
	    {"x=&y=2", "x", 1, ""},
	    {"aa=1&a=2", "a", 1, "2"},
	    {"a=%zz", "a", -1, ""},
	    {"", "a", 0, ""},
	    {"&&a=1&", "a", 1, "1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out;
		buf_init(&out, 100);
		int r = http_query_param(cases[i].query, strlen(cases[i].query), cases[i].name, &out);
		CHECK_INT(r, cases[i].result);
		if (r == 1)
			CHECK_STR(buf_cstr(&out), cases[i].want);
		buf_free(&out);
	}
	struct buf out;
	buf_init(&out, 10);
	CHECK_INT(http_query_param(NULL, 0, "a", &out), 0);
	buf_free(&out);
}

TEST(cookies)
{
	struct {
		const char *header, *name;
		const char *want; /* NULL = absent */
	} cases[] = {
	    {"a=1; b=2", "a", "1"},  {"a=1; b=2", "b", "2"}, {"a=1;b=2 ", "b", "2"},
	    {"ab=1; b=2", "b", "2"}, {"b", "b", NULL},	     {"x=\"q\"", "x", "\"q\""},
	    {"", "a", NULL},	     {"a=", "a", ""},	     {"__Host-sid=abc; sid=def", "sid", "def"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *v;
		size_t n;
		int r = http_cookie_get(cases[i].header, cases[i].name, &v, &n);
		if (cases[i].want == NULL)
			CHECK_INT(r, 0);
		else {
			CHECK_INT(r, 1);
			if (r == 1)
				CHECK_MEM(v, n, cases[i].want);
		}
	}
}

TEST(accept_gzip)
{
	struct {
		const char *in;
		bool want;
	} cases[] = {
	    {"gzip, deflate, br", true},
	    {"deflate", false},
	    {"gzip;q=0", false},
	    {"gzip; q=0.000", false},
	    {"gzip;q=0.5", true},
	    {"*", true},
	    {"*;q=0", false},
	    {"gzip;q=0, *", false},
	    {"br, *;q=0.1", true},
	    {"GZIP", true},
	    {"", false},
	    {"x-gzip", true},
	    {"gzipx", false},
	    {"identity;q=1, gzip;q=1.0", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_current = cases[i].in;
		CHECK_INT(http_accepts_gzip(cases[i].in), cases[i].want);
	}
	CHECK_INT(http_accepts_gzip(NULL), false);
}

int main(void)
{
	RUN(good_requests);
	RUN(header_names_lowercased);
	RUN(bad_requests);
	RUN(pipelined);
	RUN(limits);
	RUN(expect_continue);
	RUN(url_decode);
	RUN(query_param);
	RUN(cookies);
	RUN(accept_gzip);
	return test_done();
}
