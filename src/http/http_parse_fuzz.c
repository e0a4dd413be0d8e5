/* libFuzzer target for http_parse: byte 0 picks the piece size (1..256,
 * or all at once) and byte 1 tight or default limits; the rest is a stream
 * of requests, parsed as a keep-alive connection would (reset after each
 * request). Every piece lives in a heap block of exactly its size, so ASan
 * sees any read past the end. Checked: used never exceeds what was given,
 * MORE consumes everything, errors carry one of the documented statuses, a
 * complete request has a path starting with '/' (or "*"), a body of exactly
 * Content-Length bytes, lower-case header names, and every limit held. The
 * helpers (query parameters, cookies, Accept-Encoding, percent-decoding)
 * run on the parsed values. */
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const struct http_parser *p)
{
	const struct http_request *r = &p->req;
	if (r->target == NULL || r->path == NULL)
		abort();
	if (!(r->path[0] == '/' || strcmp(r->target, "*") == 0))
		abort();
	if (r->path_len > p->limits.max_line || r->body.len != r->content_length)
		abort();
	if (r->content_length > p->limits.max_body || r->header_count > p->limits.max_headers)
		abort();
	for (size_t i = 0; i < r->header_count; i++)
		for (const char *c = r->headers[i].name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
	struct buf out;
	buf_init(&out, 4096);
	if (r->query != NULL) {
		(void)http_query_param(r->query, r->query_len, "q", &out);
		buf_reset(&out);
		(void)http_query_param(r->query, r->query_len, "", &out);
	}
	buf_reset(&out);
	(void)http_url_decode(r->path, r->path_len, false, &out);
	if (out.len > r->path_len || memchr(buf_cstr(&out), '\0', out.len) != NULL)
		abort();
	buf_free(&out);
	const char *v;
	size_t n;
	const char *cookie = http_header_get(r, "cookie");
	if (http_cookie_get(cookie, "posthorn_sid", &v, &n) == 1 &&
	    (v < cookie || v + n > cookie + strlen(cookie)))
		abort();
	(void)http_accepts_gzip(http_header_get(r, "accept-encoding"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t step = data[0] == 255 ? (size_t)-1 : (size_t)data[0] + 1;
	struct http_limits lim;
	http_limits_default(&lim);
	if (data[1] & 1) {
		lim.max_line = 64;
		lim.max_header_bytes = 256;
		lim.max_headers = 4;
		lim.max_body = 32;
	}
	data += 2;
	size -= 2;
	struct http_parser p;
	http_parser_init(&p, &lim);
	size_t pos = 0;
	while (pos < size) {
		size_t piece = size - pos < step ? size - pos : step;
		char *copy = malloc(piece);
		memcpy(copy, data + pos, piece);
		size_t used;
		const char *err = NULL;
		enum http_parse_result r = http_parse(&p, copy, piece, &used, &err);
		free(copy);
		if (used > piece)
			abort();
		pos += used;
		if (r == HTTP_PARSE_ERROR) {
			int s = p.status;
			if (s != 400 && s != 413 && s != 414 && s != 417 && s != 431 && s != 501 && s != 505)
				abort();
			if (err == NULL || http_status_text(s)[0] == '\0')
				abort();
			break;
		}
		if (r == HTTP_PARSE_MORE && used != piece)
			abort();
		if (r == HTTP_PARSE_DONE) {
			check_request(&p);
			http_parser_reset(&p);
		}
	}
	http_parser_deinit(&p);
	return 0;
}
