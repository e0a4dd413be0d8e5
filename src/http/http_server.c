/* http_server: the webmail's HTTP/1.1 engine (see http_server.h, and
 * http_api.h for the contract with the API handlers).
 *
 * A connection is a small state machine (enum hc_state). READ feeds the
 * bytes that arrive to the incremental parser (http_parse.h); once the
 * headers are in, the route is known, so its body limit applies before any
 * body byte is buffered; once the request is complete it is checked
 * (session, CSRF, Origin, JSON) and handed to its handler. While a handler
 * waits (a password check, the store's group commit) the connection is
 * WAIT and suspended: pipelined requests stay in the input buffer. Replies
 * larger than a few hundred KB are WRITE: written in pieces as the
 * socket drains. The server-push stream is STREAM until the client goes.
 *
 * Sessions live in this process (web_session.h); static files are the
 * embedded web/ (web_assets.h), compressed once at first use and served
 * under a path that carries their content hash, so browsers cache them for
 * good while every change reaches them at once. */
#include "http/http_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "core/server.h"
#include "http/http_api.h"
#include "http/web_assets.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

/* Pieces of a big reply are written while less than this is pending. */
#define WRITE_CHUNK (256 * 1024)
/* A stream whose client stopped reading is dropped past this. */
#define STREAM_MAX_PENDING (1024 * 1024)
/* JSON replies smaller than this are not worth compressing. */
#define GZIP_MIN 1024
#define JSON_MAX_BODY (4 * 1024 * 1024)

/* The policy of the app shell (index.html and its files): only our own
 * scripts, styles and images; frames only from us (the message view). */
static const char shell_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";
static const char api_csp[] = "default-src 'none'; frame-ancestors 'none'; sandbox";

enum hc_state {
	HC_READ,   /* reading (and handling synchronous) requests */
	HC_WAIT,   /* a handler answers later */
	HC_WRITE,  /* a big reply goes out piece by piece */
	HC_STREAM, /* server-push */
	HC_LINGER, /* an error was answered: input is discarded, then close */
};

/* After an error reply, input is read and dropped for up to this long
 * (or this much) before closing, so that the client reads the reply
 * instead of a reset caused by the bytes it was still sending. */
#define LINGER_SECONDS 2
#define LINGER_MAX (4 * 1024 * 1024)

struct http_conn {
	struct conn *c;
	struct server *srv;
	enum hc_state state;
	struct http_parser parser;
	const struct route *route; /* of the request being read */
	struct http_ctx *x;	   /* the request being handled */
	bool keep_alive;	   /* of the current request */
	bool shutting_down;
	bool gone;   /* the conn was freed while a reply was pending */
	bool linger; /* close through HC_LINGER */
	struct event *linger_ev;
	size_t lingered;
	/* HC_WRITE */
	char *out;
	size_t out_len, out_off;
	/* HC_STREAM */
	void (*stream_stop)(void *state);
	void *stream_state;
	struct http_conn *stream_next, *stream_prev;
	uint64_t stream_session;
	/* Header lines for the next reply (Set-Cookie). */
	struct buf extra;
	/* Decoded query parameters of the current request. */
	struct buf query_tmp[4];
	size_t query_used;
};

/* ---- process-wide state ------------------------------------------------ */

struct static_file {
	const char *path; /* "static/app.js" */
	const char *type;
	const char *data;
	size_t len;
	char *gz; /* gzip of data, or NULL when it does not help */
	size_t gz_len;
	char *owned; /* index.html with the asset prefix filled in */
};

static struct {
	struct server *srv;
	struct web_sessions *sessions;
	struct static_file *files;
	size_t file_count;
	char hash[17]; /* of all assets: names their URL prefix */
	struct http_conn *streams;
	char date[40];
	time_t date_at;
} g;

static void init_globals(struct server *srv);

struct web_sessions *http_sessions(struct server *srv)
{
	init_globals(srv);
	return g.sessions;
}

/* ---- small helpers --------------------------------------------------------- */

static const char *http_date(void)
{
	time_t now = time(NULL);
	if (now != g.date_at) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(g.date, sizeof(g.date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		g.date_at = now;
	}
	return g.date;
}

/* gzip (RFC 1952) of (p, n) into a new buffer, or NULL. */
static char *gzip_data(const char *p, size_t n, int level, size_t *len_r)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	uLong bound = deflateBound(&z, (uLong)n) + 32;
	char *out = xmalloc(bound);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)bound;
	int r = deflate(&z, Z_FINISH);
	*len_r = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

static const char *type_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".json", "application/json"},
	    {".webmanifest", "application/manifest+json"},
	    {".woff2", "font/woff2"},
	    {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static void init_globals(struct server *srv)
{
	if (g.srv == srv)
		return;
	g.srv = srv;
	const struct config *cfg = srv->cfg;
	g.sessions = web_sessions_new(cfg->http_session_idle, cfg->http_session_lifetime, 100000, 50);

	/* One hash over every file names the URL prefix of the assets. */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	for (size_t i = 0; i < web_asset_count; i++) {
		EVP_DigestUpdate(m, web_assets[i].path, strlen(web_assets[i].path) + 1);
		EVP_DigestUpdate(m, web_assets[i].data, web_assets[i].len);
	}
	EVP_DigestFinal_ex(m, md, &mdlen);
	EVP_MD_CTX_free(m);
	for (int i = 0; i < 8; i++)
		snprintf(g.hash + 2 * i, 3, "%02x", md[i]);

	g.files = xcalloc(web_asset_count ? web_asset_count : 1, sizeof(*g.files));
	g.file_count = web_asset_count;
	for (size_t i = 0; i < web_asset_count; i++) {
		struct static_file *f = &g.files[i];
		f->path = web_assets[i].path;
		f->type = type_of(f->path);
		f->data = web_assets[i].data;
		f->len = web_assets[i].len;
		if (strcmp(f->path, "index.html") == 0) {
			/* "%STATIC%" in the page becomes /static/<hash>. */
			struct buf b;
			buf_init(&b, 2 * f->len + 1024);
			const char *p = f->data, *end = f->data + f->len, *hit;
			while ((hit = memmem(p, (size_t)(end - p), "%STATIC%", 8)) != NULL) {
				buf_append(&b, p, (size_t)(hit - p));
				buf_printf(&b, "/static/%s", g.hash);
				p = hit + 8;
			}
			buf_append(&b, p, (size_t)(end - p));
			f->owned = buf_steal(&b, &f->len);
			f->data = f->owned;
		}
		if (strncmp(f->type, "text/", 5) == 0 || strstr(f->type, "svg") || strstr(f->type, "json")) {
			f->gz = gzip_data(f->data, f->len, 9, &f->gz_len);
			if (f->gz != NULL && f->gz_len >= f->len) {
				free(f->gz);
				f->gz = NULL;
			}
		}
	}
}

/* ---- replies ----------------------------------------------------------- */

static void conn_end_request(struct http_conn *hc);
static void hc_destroy(struct http_conn *hc);

static void ctx_free(struct http_ctx *x)
{
	if (x == NULL)
		return;
	json_decref(x->body);
	for (int i = 0; i < HTTP_MAX_CAPTURES; i++)
		free(x->str[i]);
	free(x);
}

/* Writes the status line and headers. body_len is the Content-Length. */
#define NO_LENGTH ((size_t)-1)

static void write_head(struct http_conn *hc, struct http_ctx *x, int status, const char *type,
		       size_t body_len, bool gzip, const char *extra)
{
	struct buf h;
	buf_init(&h, 64 * 1024);
	buf_printf(&h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, http_status_text(status), http_date());
	if (type != NULL)
		buf_printf(&h, "Content-Type: %s\r\n", type);
	if (status != 204 && status != 304 && body_len != NO_LENGTH)
		buf_printf(&h, "Content-Length: %zu\r\n", body_len);
	if (gzip)
		buf_puts(&h, "Content-Encoding: gzip\r\n");
	const char *csp = x && x->csp ? x->csp : api_csp;
	buf_printf(&h,
		   "X-Content-Type-Options: nosniff\r\n"
		   "Referrer-Policy: no-referrer\r\n"
		   "Cross-Origin-Opener-Policy: same-origin\r\n"
		   "Cross-Origin-Resource-Policy: same-origin\r\n"
		   "Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=(), usb=()\r\n"
		   "X-Frame-Options: %s\r\n"
		   "Content-Security-Policy: %s\r\n",
		   x && x->frame_same_origin ? "SAMEORIGIN" : "DENY", csp);
	if (hc->c->tls)
		buf_puts(&h, "Strict-Transport-Security: max-age=31536000\r\n");
	if (x != NULL && x->started.tv_sec != 0) {
		/* The time the server spent on the request (bench/webmail reads it). */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double ms = (double)(now.tv_sec - x->started.tv_sec) * 1e3 +
			    (double)(now.tv_nsec - x->started.tv_nsec) / 1e6;
		buf_printf(&h, "Server-Timing: app;dur=%.2f\r\n", ms);
	}
	if (extra != NULL)
		buf_puts(&h, extra);
	if (x == NULL || !x->has_cache_control)
		buf_puts(&h, "Cache-Control: no-store\r\n");
	if (hc->extra.len > 0) {
		buf_append(&h, hc->extra.data, hc->extra.len);
		buf_reset(&hc->extra);
	}
	if (!hc->keep_alive)
		buf_puts(&h, "Connection: close\r\n");
	else if (hc->parser.req.version_minor == 0)
		buf_puts(&h, "Connection: keep-alive\r\n");
	buf_puts(&h, "\r\n");
	conn_write(hc->c, h.data, h.len);
	buf_free(&h);
}

/* Queues (head already written) a body, taking it over. */
static void write_body(struct http_conn *hc, char *body, size_t len)
{
	if (len <= WRITE_CHUNK) {
		if (len > 0)
			conn_write(hc->c, body, len);
		free(body);
		return;
	}
	hc->out = body;
	hc->out_len = len;
	hc->out_off = 0;
	hc->state = HC_WRITE;
	conn_suspend(hc->c);
	size_t n = WRITE_CHUNK;
	conn_write(hc->c, body, n);
	hc->out_off = n;
}

static void reply_common(struct http_ctx *x, int status, const char *type, char *body, size_t len,
			 const char *extra)
{
	struct http_conn *hc = x->hc;
	if (x->replied) {
		log_warnx("http: a second reply to one request (bug)");
		free(body);
		return;
	}
	x->replied = true;
	if (hc->gone) {
		free(body);
		hc->x = NULL;
		ctx_free(x);
		hc_destroy(hc);
		return;
	}
	bool head = hc->parser.req.method == HTTP_HEAD;
	bool gz = false;
	if (!head && body != NULL && len >= GZIP_MIN && x->may_gzip && type != NULL &&
	    (strncmp(type, "application/json", 16) == 0 || strncmp(type, "text/", 5) == 0) &&
	    http_accepts_gzip(http_header_get(&hc->parser.req, "accept-encoding"))) {
		size_t zl;
		char *z = gzip_data(body, len, 4, &zl);
		if (z != NULL && zl < len) {
			free(body);
			body = z;
			len = zl;
			gz = true;
		} else
			free(z);
	}
	if (status >= 400)
		log_session(hc->c->id, "http %s %s status=%d", hc->parser.req.method_name,
			    hc->parser.req.path ? hc->parser.req.path : "", status);
	else
		log_session_debug(hc->c->id, "http %s %s status=%d bytes=%zu", hc->parser.req.method_name,
				  hc->parser.req.path ? hc->parser.req.path : "", status, len);
	struct buf ex;
	buf_init(&ex, 16 * 1024);
	if (extra)
		buf_puts(&ex, extra);
	if (gz || (x->may_gzip && len >= GZIP_MIN))
		buf_puts(&ex, "Vary: Accept-Encoding\r\n");
	write_head(hc, x, status, type, len, gz, ex.len ? ex.data : NULL);
	buf_free(&ex);
	if (head) {
		free(body);
		body = NULL;
		len = 0;
	}
	bool wait = hc->state == HC_WAIT;
	hc->x = NULL;
	ctx_free(x);
	write_body(hc, body, len);
	if (hc->state == HC_WRITE)
		return;
	hc->state = HC_READ;
	conn_end_request(hc);
	if (wait)
		conn_resume(hc->c);
}

void http_reply_take(struct http_ctx *x, int status, const char *content_type, char *body, size_t len,
		     const char *extra_headers)
{
	reply_common(x, status, content_type, body, len, extra_headers);
}

void http_reply(struct http_ctx *x, int status, const char *content_type, const void *body, size_t len,
		const char *extra_headers)
{
	reply_common(x, status, content_type, len ? xmemdup(body, len) : NULL, len, extra_headers);
}

void http_reply_json(struct http_ctx *x, int status, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL) {
		reply_common(x, 500, "application/json", xstrdup("{\"error\":\"internal error\"}"), 26, NULL);
		return;
	}
	x->may_gzip = true;
	reply_common(x, status, "application/json", s, strlen(s), NULL);
}

void http_reply_error(struct http_ctx *x, int status, const char *message)
{
	http_reply_json(x, status, json_pack("{s:s}", "error", message));
}

void http_reply_empty(struct http_ctx *x)
{
	reply_common(x, 204, NULL, NULL, 0, NULL);
}

void http_set_header_lines(struct http_ctx *x, const char *lines)
{
	buf_puts(&x->hc->extra, lines);
}

void http_async_begin(struct http_ctx *x, void (*cancel)(void *state), void *state)
{
	struct http_conn *hc = x->hc;
	x->async = true;
	x->cancel = cancel;
	x->cancel_state = state;
	hc->state = HC_WAIT;
	conn_suspend(hc->c);
}

/* A plain error before any handler ran (and before a ctx exists). */
static void reply_early(struct http_conn *hc, int status, const char *message, bool close)
{
	struct http_ctx *x = xmalloc(sizeof(*x));
	x->hc = hc;
	x->srv = hc->srv;
	x->c = hc->c;
	x->req = &hc->parser.req;
	hc->x = x;
	if (close)
		hc->keep_alive = false;
	http_reply_error(x, status, message);
}

/* ---- request helpers ------------------------------------------------------ */

const char *http_query(struct http_ctx *x, const char *name)
{
	struct http_conn *hc = x->hc;
	const struct http_request *r = &hc->parser.req;
	if (r->query == NULL || hc->query_used >= sizeof(hc->query_tmp) / sizeof(hc->query_tmp[0]))
		return NULL;
	struct buf *b = &hc->query_tmp[hc->query_used];
	buf_free(b);
	buf_init(b, 8192);
	if (http_query_param(r->query, r->query_len, name, b) != 1)
		return NULL;
	hc->query_used++;
	return buf_cstr(b);
}

int http_query_u64(struct http_ctx *x, const char *name, uint64_t min, uint64_t max, uint64_t def,
		   uint64_t *out)
{
	const char *v = http_query(x, name);
	if (v == NULL) {
		*out = def;
		return 0;
	}
	uint64_t n;
	if (str_to_u64(v, &n) < 0 || n < min || n > max) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s must be a number from %llu to %llu", name,
			 (unsigned long long)min, (unsigned long long)max);
		http_reply_error(x, 400, msg);
		return -1;
	}
	*out = n;
	return 0;
}

char *http_take_body(struct http_ctx *x, size_t *len_r)
{
	struct buf *b = &x->hc->parser.req.body;
	char *data = buf_steal(b, len_r);
	return data ? data : xstrdup("");
}

const struct sockaddr *http_peer(struct http_ctx *x)
{
	return (const struct sockaddr *)&x->c->peer;
}

bool http_is_tls(struct http_ctx *x)
{
	return x->c->tls;
}

const char *json_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int json_opt_str(struct http_ctx *x, const json_t *obj, const char *key, size_t max_len, const char **out)
{
	const json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	char msg[128];
	if (!json_is_string(v)) {
		snprintf(msg, sizeof(msg), "%s must be a string", key);
		http_reply_error(x, 400, msg);
		return -1;
	}
	if (json_string_length(v) > max_len || memchr(json_string_value(v), '\0', json_string_length(v))) {
		snprintf(msg, sizeof(msg), "%s is too long or contains NUL", key);
		http_reply_error(x, 400, msg);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int json_uid_list(struct http_ctx *x, const json_t *obj, const char *key, size_t max, uint32_t **uids_r,
		  size_t *count_r)
{
	const json_t *a = json_object_get(obj, key);
	char msg[128];
	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > max) {
		snprintf(msg, sizeof(msg), "%s must be an array of 1 to %zu message uids", key, max);
		http_reply_error(x, 400, msg);
		return -1;
	}
	size_t n = json_array_size(a);
	uint32_t *u = xcalloc(n, sizeof(*u));
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(a, i);
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > UINT32_MAX) {
			free(u);
			snprintf(msg, sizeof(msg), "%s must hold message uids (1 to 4294967295)", key);
			http_reply_error(x, 400, msg);
			return -1;
		}
		u[i] = (uint32_t)json_integer_value(v);
	}
	qsort(u, n, sizeof(*u), cmp_u32);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || u[k - 1] != u[i])
			u[k++] = u[i];
	*uids_r = u;
	*count_r = k;
	return 0;
}

/* ---- streams -------------------------------------------------------------- */

void http_stream_start(struct http_ctx *x, const char *content_type, void (*stop)(void *state), void *state)
{
	struct http_conn *hc = x->hc;
	x->replied = true;
	x->has_cache_control = true;
	hc->keep_alive = false;
	write_head(hc, x, 200, content_type, NO_LENGTH, false,
		   "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n");
	hc->stream_stop = stop;
	hc->stream_state = state;
	hc->stream_session = x->session ? x->session->serial : 0;
	hc->state = HC_STREAM;
	hc->x = NULL;
	ctx_free(x);
	hc->stream_next = g.streams;
	if (g.streams)
		g.streams->stream_prev = hc;
	g.streams = hc;
	conn_set_timeout(hc->c, 0); /* the stream sends keep-alive comments itself */
}

bool http_stream_write(struct conn *c, const char *data, size_t len)
{
	if (conn_closing(c))
		return false;
	if (conn_output_pending(c) > STREAM_MAX_PENDING) {
		conn_close(c);
		return false;
	}
	conn_write(c, data, len);
	return true;
}

static void stream_unlink(struct http_conn *hc)
{
	if (hc->stream_prev)
		hc->stream_prev->stream_next = hc->stream_next;
	else if (g.streams == hc)
		g.streams = hc->stream_next;
	if (hc->stream_next)
		hc->stream_next->stream_prev = hc->stream_prev;
	hc->stream_next = hc->stream_prev = NULL;
}

void http_close_streams(uint64_t session_serial)
{
	static const char bye[] = "event: logout\ndata: {}\n\n";
	for (struct http_conn *hc = g.streams; hc != NULL; hc = hc->stream_next)
		if (hc->stream_session == session_serial) {
			http_stream_write(hc->c, bye, sizeof(bye) - 1);
			conn_close(hc->c);
		}
}

/* ---- static files ------------------------------------------------------------ */

static void serve_file(struct http_ctx *x, const struct static_file *f, bool immutable)
{
	struct http_conn *hc = x->hc;
	/* The ETag is the prefix hash (the same for every file of a build)
	 * plus the file's name length: cheap, and right. */
	char etag[64];
	snprintf(etag, sizeof(etag), "\"%s-%zu\"", g.hash, f->len);
	const char *inm = http_header_get(&hc->parser.req, "if-none-match");
	char extra[512];
	snprintf(extra, sizeof(extra), "ETag: %s\r\nCache-Control: %s\r\n%s", etag,
		 immutable ? "public, max-age=31536000, immutable" : "no-cache",
		 f->gz ? "Vary: Accept-Encoding\r\n" : "");
	x->has_cache_control = true;
	x->csp = shell_csp;
	if (inm != NULL && strstr(inm, etag) != NULL) {
		reply_common(x, 304, NULL, NULL, 0, extra);
		return;
	}
	bool gz = f->gz != NULL && http_accepts_gzip(http_header_get(&hc->parser.req, "accept-encoding"));
	const char *data = gz ? f->gz : f->data;
	size_t len = gz ? f->gz_len : f->len;
	if (gz) {
		/* reply_common would compress again: write directly. */
		size_t l = strlen(extra);
		snprintf(extra + l, sizeof(extra) - l, "Content-Encoding: gzip\r\n");
	}
	reply_common(x, 200, f->type, len ? xmemdup(data, len) : NULL, len, extra);
}

static const struct static_file *file_find(const char *path, size_t n)
{
	for (size_t i = 0; i < g.file_count; i++)
		if (strlen(g.files[i].path) == n && memcmp(g.files[i].path, path, n) == 0)
			return &g.files[i];
	return NULL;
}

/* GET / and GET /static/<hash>/<file>. true when answered. */
static bool serve_static(struct http_ctx *x)
{
	const struct http_request *r = x->req;
	if (r->method != HTTP_GET && r->method != HTTP_HEAD)
		return false;
	const char *p = r->path;
	size_t n = r->path_len;
	if ((n == 1 && p[0] == '/') || (n == 11 && memcmp(p, "/index.html", 11) == 0)) {
		const struct static_file *f = file_find("index.html", 10);
		if (f == NULL)
			return false;
		serve_file(x, f, false);
		return true;
	}
	if (n > 8 + 16 + 1 && memcmp(p, "/static/", 8) == 0) {
		if (memcmp(p + 8, g.hash, 16) != 0 || p[24] != '/')
			return false; /* an old build's file: 404 */
		char name[256];
		int k = snprintf(name, sizeof(name), "static/%.*s", (int)(n - 25), p + 25);
		if (k < 0 || (size_t)k >= sizeof(name))
			return false;
		const struct static_file *f = file_find(name, (size_t)k);
		if (f == NULL)
			return false;
		serve_file(x, f, true);
		return true;
	}
	return false;
}

/* ---- routes ------------------------------------------------------------------ */

#define R_AUTH 1u   /* needs a session */
#define R_JSON 2u   /* body: a JSON object */
#define R_NOCSRF 4u /* state-changing without a session (login): Origin checked only */
#define R_UPLOAD 8u /* body: raw bytes up to max_message_size */

struct route {
	enum http_method method;
	const char *pattern; /* '#' a number, '*' any segment */
	unsigned flags;
	void (*handler)(struct http_ctx *x);
};

static const struct route routes[] = {
    {HTTP_GET, "/api/session", 0, api_session},
    {HTTP_POST, "/api/login", R_JSON | R_NOCSRF, api_login},
    {HTTP_POST, "/api/logout", R_AUTH, api_logout},
    {HTTP_GET, "/api/mailboxes", R_AUTH, api_mailboxes_list},
    {HTTP_POST, "/api/mailboxes", R_AUTH | R_JSON, api_mailbox_create},
    {HTTP_PATCH, "/api/mailboxes/#", R_AUTH | R_JSON, api_mailbox_rename},
    {HTTP_DELETE, "/api/mailboxes/#", R_AUTH, api_mailbox_delete},
    {HTTP_POST, "/api/mailboxes/#/empty", R_AUTH, api_mailbox_empty},
    {HTTP_GET, "/api/mailboxes/#/messages", R_AUTH, api_messages_list},
    {HTTP_POST, "/api/mailboxes/#/messages/flags", R_AUTH | R_JSON, api_messages_flags},
    {HTTP_POST, "/api/mailboxes/#/messages/move", R_AUTH | R_JSON, api_messages_move},
    {HTTP_POST, "/api/mailboxes/#/messages/delete", R_AUTH | R_JSON, api_messages_delete},
    {HTTP_GET, "/api/mailboxes/#/messages/#", R_AUTH, api_message_get},
    {HTTP_GET, "/api/mailboxes/#/messages/#/html", R_AUTH, api_message_html},
    {HTTP_GET, "/api/mailboxes/#/messages/#/raw", R_AUTH, api_message_raw},
    {HTTP_GET, "/api/mailboxes/#/messages/#/parts/*", R_AUTH, api_message_part},
    {HTTP_POST, "/api/uploads", R_AUTH | R_UPLOAD, api_upload_create},
    {HTTP_DELETE, "/api/uploads/#", R_AUTH, api_upload_delete},
    {HTTP_POST, "/api/send", R_AUTH | R_JSON, api_send},
    {HTTP_POST, "/api/drafts", R_AUTH | R_JSON, api_draft_save},
    {HTTP_GET, "/api/settings", R_AUTH, api_settings_get},
    {HTTP_PUT, "/api/settings", R_AUTH | R_JSON, api_settings_put},
    {HTTP_POST, "/api/password", R_AUTH | R_JSON, api_password},
    {HTTP_GET, "/api/contacts", R_AUTH, api_contacts},
    {HTTP_GET, "/api/events", R_AUTH, api_events},
};

/* Matches path against pattern; fills captures when x is not NULL.
 * Returns 1 match, 0 no match, -1 a capture is malformed. */
static int route_match(const char *pattern, const char *path, size_t n, struct http_ctx *x)
{
	const char *p = pattern;
	size_t i = 0;
	int nnum = 0, nstr = 0;
	while (*p) {
		if (i >= n || path[i] != '/' || *p != '/')
			return 0;
		p++;
		i++;
		size_t seg = i;
		while (i < n && path[i] != '/')
			i++;
		size_t sl = i - seg;
		const char *pe = strchr(p, '/');
		size_t pl = pe ? (size_t)(pe - p) : strlen(p);
		if (pl == 1 && *p == '#') {
			uint64_t v;
			if (sl == 0 || sl > 18 || strn_to_u64(path + seg, sl, &v) < 0)
				return 0;
			if (x && nnum < HTTP_MAX_CAPTURES)
				x->num[nnum] = (int64_t)v;
			nnum++;
		} else if (pl == 1 && *p == '*') {
			if (sl == 0)
				return 0;
			if (x && nstr < HTTP_MAX_CAPTURES) {
				struct buf b;
				buf_init(&b, 1024);
				if (http_url_decode(path + seg, sl, false, &b) < 0) {
					buf_free(&b);
					return -1;
				}
				x->str[nstr] = buf_steal(&b, NULL);
			}
			nstr++;
		} else if (pl != sl || memcmp(p, path + seg, sl) != 0)
			return 0;
		p += pl;
	}
	return i == n ? 1 : 0;
}

/* The route for (method, path): *allowed_r is true when the path matched
 * a route of another method (405). Numeric segments that do not parse
 * still match here (the handler's captures then fail with 404). */
static const struct route *route_find(const struct http_request *r, bool *path_known_r)
{
	*path_known_r = false;
	enum http_method m = r->method == HTTP_HEAD ? HTTP_GET : r->method;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (route_match(routes[i].pattern, r->path, r->path_len, NULL) == 0)
			continue;
		*path_known_r = true;
		if (routes[i].method == m)
			return &routes[i];
	}
	return NULL;
}

/* ---- the request ----------------------------------------------------------- */

static const char *session_cookie_name(const struct conn *c)
{
	/* Over TLS the __Host- prefix binds the cookie to this host, path /
	 * and Secure (RFC 6265bis 4.1.3.2). */
	return c->tls ? "__Host-posthorn_sid" : "posthorn_sid";
}

static struct web_session *find_session(struct http_conn *hc)
{
	const char *cookie = http_header_get(&hc->parser.req, "cookie");
	const char *v;
	size_t n;
	if (http_cookie_get(cookie, session_cookie_name(hc->c), &v, &n) != 1)
		return NULL;
	struct web_session *s = web_session_find(g.sessions, v, n, time(NULL), true);
	/* A session made over TLS never works over plain HTTP (and the other
	 * way round): a cookie that leaked cannot cross over. */
	return s != NULL && s->tls == hc->c->tls ? s : NULL;
}

/* Same origin: the Origin header, when sent, names this host (scheme and
 * Host header); and the browser does not say the request is cross-site. */
static bool same_origin(struct http_conn *hc)
{
	const struct http_request *r = &hc->parser.req;
	const char *site = http_header_get(r, "sec-fetch-site");
	if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return false;
	const char *origin = http_header_get(r, "origin");
	if (origin == NULL)
		return true;
	const char *host = http_header_get(r, "host");
	if (host == NULL)
		return false;
	char want[600];
	int k = snprintf(want, sizeof(want), "%s://%s", hc->c->tls ? "https" : "http", host);
	return k > 0 && (size_t)k < sizeof(want) && strcasecmp(origin, want) == 0;
}

static bool media_type_is(const char *ct, const char *want)
{
	if (ct == NULL)
		return false;
	size_t n = strlen(want);
	return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Plain HTTP from another machine: to the https listener, same host name. */
static void redirect_https(struct http_ctx *x)
{
	struct http_conn *hc = x->hc;
	const struct config *cfg = hc->srv->cfg;
	const char *host = http_header_get(&hc->parser.req, "host");
	const char *port = NULL;
	for (size_t i = 0; i < cfg->listener_count && port == NULL; i++)
		if (cfg->listeners[i].kind == LISTENER_HTTPS)
			port = strrchr(cfg->listeners[i].text, ':');
	size_t hl = 0;
	if (host != NULL)
		hl = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
	bool host_ok = host != NULL && hl > 0 && hl < 256 &&
		       strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:") ==
			   strlen(host);
	hc->keep_alive = false;
	if (port == NULL || !host_ok) {
		http_reply_error(x, 403, "the webmail is only served over HTTPS");
		return;
	}
	char loc[600];
	snprintf(loc, sizeof(loc), "Location: https://%.*s%s/\r\n", (int)hl, host,
		 strcmp(port, ":443") != 0 ? port : "");
	reply_common(x, 301, "text/plain; charset=utf-8", xstrdup("Use HTTPS.\n"), 11, loc);
}

static void dispatch(struct http_conn *hc)
{
	const struct http_request *r = &hc->parser.req;
	struct http_ctx *x = xmalloc(sizeof(*x));
	clock_gettime(CLOCK_MONOTONIC, &x->started);
	x->hc = hc;
	x->srv = hc->srv;
	x->c = hc->c;
	x->req = r;
	hc->x = x;
	hc->query_used = 0;
	hc->keep_alive = r->keep_alive && !hc->shutting_down;

	/* Passwords and mail never cross the network in clear: plain HTTP is
	 * for this machine only (a browser on it, or a local TLS proxy). */
	if (!hc->c->tls && !hc->c->loopback) {
		redirect_https(x);
		return;
	}

	bool known;
	const struct route *rt = hc->route;
	if (rt == NULL) {
		rt = route_find(r, &known);
		if (rt == NULL) {
			if (serve_static(x))
				return;
			if (known) {
				http_reply_error(x, 405, "method not allowed");
				return;
			}
			bool api = r->path_len >= 4 && memcmp(r->path, "/api", 4) == 0;
			if (api)
				http_reply_error(x, 404, "no such endpoint");
			else {
				x->csp = shell_csp;
				http_reply(x, 404, "text/plain; charset=utf-8", "Not found.\n", 11, NULL);
			}
			return;
		}
	}
	if (route_match(rt->pattern, r->path, r->path_len, x) != 1) {
		http_reply_error(x, 404, "no such object");
		return;
	}
	x->session = find_session(hc);
	if ((rt->flags & R_AUTH) && x->session == NULL) {
		http_reply_error(x, 401, "not logged in");
		return;
	}
	bool changes = r->method != HTTP_GET && r->method != HTTP_HEAD;
	if (changes) {
		if (!same_origin(hc)) {
			http_reply_error(x, 403, "cross-site request refused");
			return;
		}
		if (!(rt->flags & R_NOCSRF) &&
		    (x->session == NULL ||
		     !web_session_csrf_ok(x->session, http_header_get(r, "x-csrf-token")))) {
			http_reply_error(x, 403, "missing or wrong CSRF token");
			return;
		}
	}
	if (rt->flags & R_JSON) {
		if (!media_type_is(http_header_get(r, "content-type"), "application/json")) {
			http_reply_error(x, 415, "the body must be application/json");
			return;
		}
		json_error_t err;
		x->body =
		    json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &err);
		if (x->body == NULL || !json_is_object(x->body)) {
			http_reply_error(x, 400,
					 x->body ? "the body must be a JSON object" : "malformed JSON");
			return;
		}
	}
	rt->handler(x);
	/* x is freed once replied (then hc->x changed): test that first. */
	if (hc->x == x && !x->replied && !x->async) {
		log_warnx("http: %s %s: handler gave no reply (bug)", r->method_name, r->target);
		http_reply_error(x, 500, "internal error");
	}
}

/* The headers are in: choose the body limit from the route. Big bodies
 * are for logged-in users only: without a session the limit is small,
 * so nobody unknown can make us buffer megabytes. */
static bool on_headers(struct http_conn *hc)
{
	const struct http_request *r = &hc->parser.req;
	bool known;
	hc->route = route_find(r, &known);
	uint64_t limit = JSON_MAX_BODY;
	if (hc->route != NULL && (hc->route->flags & R_UPLOAD))
		limit = hc->srv->cfg->max_message_size;
	else if (hc->route == NULL || !(hc->route->flags & (R_JSON | R_UPLOAD)))
		limit = 64 * 1024; /* nothing else takes a body */
	if (limit > 64 * 1024 &&
	    (hc->route == NULL || !(hc->route->flags & R_AUTH) || find_session(hc) == NULL))
		limit = 64 * 1024;
	hc->parser.limits.max_body = limit;
	if (r->content_length > limit)
		return false;
	if (r->expect_continue)
		conn_puts(hc->c, "HTTP/1.1 100 Continue\r\n\r\n");
	return true;
}

static void linger_done(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *hc = arg;
	conn_close(hc->c);
}

/* The parser's own body limit is the largest any route takes; on_headers
 * lowers it for each request once its route is known. */
static uint64_t body_limit_max(const struct http_conn *hc)
{
	uint64_t m = hc->srv->cfg->max_message_size;
	return m > JSON_MAX_BODY ? m : JSON_MAX_BODY;
}

static void conn_end_request(struct http_conn *hc)
{
	http_parser_reset(&hc->parser);
	hc->parser.limits.max_body = body_limit_max(hc);
	hc->route = NULL;
	for (size_t i = 0; i < sizeof(hc->query_tmp) / sizeof(hc->query_tmp[0]); i++)
		buf_free(&hc->query_tmp[i]);
	hc->query_used = 0;
	if (hc->linger && hc->linger_ev == NULL) {
		hc->state = HC_LINGER;
		hc->linger_ev = evtimer_new(hc->srv->base, linger_done, hc);
		struct timeval tv = {LINGER_SECONDS, 0};
		evtimer_add(hc->linger_ev, &tv);
		struct evbuffer *in = conn_input(hc->c);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (!hc->keep_alive || hc->shutting_down)
		conn_close(hc->c);
}

static void http_read(struct conn *c, void *session)
{
	struct http_conn *hc = session;
	struct evbuffer *in = conn_input(c);
	if (hc->state == HC_LINGER) {
		hc->lingered += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (hc->lingered > LINGER_MAX)
			conn_close(c);
		return;
	}
	while (hc->state == HC_READ && !conn_closing(c) && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used;
		const char *err;
		enum http_parse_result r = http_parse(&hc->parser, v.iov_base, v.iov_len, &used, &err);
		evbuffer_drain(in, used);
		switch (r) {
		case HTTP_PARSE_MORE:
			break;
		case HTTP_PARSE_ERROR:
			log_session(c->id, "http bad request: %s", err);
			hc->linger = true;
			reply_early(hc, hc->parser.status, err, true);
			return;
		case HTTP_PARSE_HEADERS:
			if (!on_headers(hc)) {
				hc->linger = true;
				reply_early(hc, 413, "request body too large", true);
				return;
			}
			break;
		case HTTP_PARSE_DONE:
			dispatch(hc);
			break;
		}
	}
}

static void http_drained(struct conn *c, void *session)
{
	struct http_conn *hc = session;
	if (hc->state != HC_WRITE)
		return;
	while (hc->out_off < hc->out_len && conn_output_pending(c) < WRITE_CHUNK) {
		size_t n = hc->out_len - hc->out_off;
		if (n > WRITE_CHUNK)
			n = WRITE_CHUNK;
		conn_write(c, hc->out + hc->out_off, n);
		hc->out_off += n;
	}
	if (hc->out_off < hc->out_len)
		return;
	XFREE(&hc->out);
	hc->state = HC_READ;
	conn_end_request(hc);
	conn_resume(c);
}

/* ---- the connection ------------------------------------------------------- */

static void *http_open(struct conn *c)
{
	init_globals(c->server);
	struct http_conn *hc = xmalloc(sizeof(*hc));
	hc->c = c;
	hc->srv = c->server;
	hc->state = HC_READ;
	struct http_limits lim;
	http_limits_default(&lim);
	lim.max_body = body_limit_max(hc);
	http_parser_init(&hc->parser, &lim);
	buf_init(&hc->extra, 16 * 1024);
	for (size_t i = 0; i < sizeof(hc->query_tmp) / sizeof(hc->query_tmp[0]); i++)
		buf_init(&hc->query_tmp[i], 1);
	return hc;
}

static void hc_destroy(struct http_conn *hc)
{
	if (hc->linger_ev)
		event_free(hc->linger_ev);
	http_parser_deinit(&hc->parser);
	buf_free(&hc->extra);
	for (size_t i = 0; i < sizeof(hc->query_tmp) / sizeof(hc->query_tmp[0]); i++)
		buf_free(&hc->query_tmp[i]);
	free(hc->out);
	free(hc);
}

static void http_timeout(struct conn *c, void *session)
{
	(void)c;
	(void)session; /* idle keep-alive connections just close */
}

static void http_shutdown(struct conn *c, void *session)
{
	struct http_conn *hc = session;
	hc->shutting_down = true;
	if (hc->state == HC_STREAM || hc->state == HC_LINGER ||
	    (hc->state == HC_READ && hc->parser.state == HTTP_PS_START && hc->parser.line.len == 0))
		conn_close(c);
	/* Otherwise the request in progress finishes, then the connection closes. */
}

static void http_free(struct conn *c, void *session)
{
	struct http_conn *hc = session;
	if (hc->state == HC_STREAM) {
		stream_unlink(hc);
		if (hc->stream_stop)
			hc->stream_stop(hc->stream_state);
	}
	struct http_ctx *x = hc->x;
	if (x != NULL && x->async && !x->replied) {
		if (x->cancel != NULL) {
			x->cancel(x->cancel_state);
		} else {
			/* The reply will come and find us gone. */
			hc->gone = true;
			return;
		}
	}
	hc->x = NULL;
	ctx_free(x);
	hc_destroy(hc);
}

const struct conn_handler http_handler = {
    .name = "http",
    .open = http_open,
    .read = http_read,
    .drained = http_drained,
    .timeout = http_timeout,
    .shutdown = http_shutdown,
    .free = http_free,
    .busy_reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: "
		  "close\r\nRetry-After: 5\r\n\r\n",
};
