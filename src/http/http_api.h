/* http_api: what the webmail's API handlers (api_<area>.c) get from the
 * HTTP engine (http_server.c), and what each area provides.
 *
 * The engine parses a request, finds its route, and checks before the
 * handler runs: the session (routes marked AUTH: 401 without one), the
 * CSRF token and the Origin (every POST, PUT, PATCH and DELETE: 403), the
 * body's size (413) and, for routes marked JSON, that the body is a JSON
 * object sent as application/json (415, 400). The handler then validates
 * its own input, acts through the store, and answers exactly once with one
 * of the http_reply_* functions, either at once or later:
 *
 *   synchronous:   handler(x) { ...; http_reply_json(x, 200, obj); }
 *   asynchronous:  handler(x) { http_async_begin(x, cancel_fn, state); start work; }
 *                  ... work_done(state) { http_reply_json(state->x, 200, obj); }
 *
 * While an answer is pending the connection reads nothing more. If the
 * client goes away meanwhile, the engine calls cancel_fn (when given; it
 * must stop the work and free its state: no reply follows), or else keeps
 * the request alive until the reply, which is then dropped: work that
 * cannot be cancelled (a store delivery) finishes anyway.
 *
 * Errors: http_reply_error(x, status, message) sends {"error": message}.
 * Handlers use 400 for malformed input, 404 for ids that do not exist or
 * belong to another user (never 403: that would confirm they exist), 409
 * for conflicts, 413 for sizes, 500/503 for store failures. */
#ifndef POSTHORN_HTTP_HTTP_API_H
#define POSTHORN_HTTP_HTTP_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/http_parse.h"
#include "http/web_session.h"

struct conn;
struct server;
struct http_conn;

#define HTTP_MAX_CAPTURES 4

struct http_ctx {
	struct server *srv;
	struct conn *c;
	const struct http_request *req;
	struct web_session *session;	/* NULL on routes without AUTH when not logged in */
	json_t *body;			/* the parsed JSON object on JSON routes (owned by the engine) */
	int64_t num[HTTP_MAX_CAPTURES]; /* the '#' segments of the route, in order */
	char *str[HTTP_MAX_CAPTURES];	/* the '*' segments, percent-decoded */
	/* Reply options a handler may set before replying. */
	const char *csp;	/* Content-Security-Policy instead of the API's */
	bool frame_same_origin; /* X-Frame-Options: SAMEORIGIN (the message view) */
	bool has_cache_control; /* the extra headers carry Cache-Control */
	bool may_gzip;		/* compress the body when the client takes gzip */
	/* Private to http_server.c */
	struct timespec started; /* for Server-Timing */
	struct http_conn *hc;
	bool replied;
	bool async;
	void (*cancel)(void *state);
	void *cancel_state;
};

/* ---- answering ---------------------------------------------------------- */

/* Sends obj (reference stolen) as JSON; gzip when the client takes it and
 * it is worth it. */
void http_reply_json(struct http_ctx *x, int status, json_t *obj);
/* {"error": message}. */
void http_reply_error(struct http_ctx *x, int status, const char *message);
/* 204 No Content. */
void http_reply_empty(struct http_ctx *x);
/* Any body (copied) with its type; extra_headers are full CRLF-terminated
 * lines or NULL. */
void http_reply(struct http_ctx *x, int status, const char *content_type, const void *body, size_t len,
		const char *extra_headers);
/* The same, taking over body (malloc'd), for big ones (streamed). */
void http_reply_take(struct http_ctx *x, int status, const char *content_type, char *body, size_t len,
		     const char *extra_headers);
/* Sets cookies (whole "Set-Cookie: ..." lines) to go with the reply. */
void http_set_header_lines(struct http_ctx *x, const char *lines);

/* Marks the request as answered later; cancel (may be NULL) is called
 * with state if the connection goes away first. */
void http_async_begin(struct http_ctx *x, void (*cancel)(void *state), void *state);

/* ---- reading the request ---------------------------------------------- */

/* A query parameter, decoded, or NULL when absent (or malformed); the
 * string lives until the request ends. */
const char *http_query(struct http_ctx *x, const char *name);
/* A query parameter as a number in [min, max], def when absent; -1 with a
 * 400 reply sent when present but not a number in range. */
int http_query_u64(struct http_ctx *x, const char *name, uint64_t min, uint64_t max, uint64_t def,
		   uint64_t *out);

/* Takes over the request body (malloc'd, NUL-terminated); *len_r its size. */
char *http_take_body(struct http_ctx *x, size_t *len_r);

/* The client's address (for the login throttle). */
const struct sockaddr *http_peer(struct http_ctx *x);
bool http_is_tls(struct http_ctx *x);

/* ---- session helpers (api_auth.c) --------------------------------------- */

struct web_sessions *http_sessions(struct server *srv);
/* Ends the SSE streams of a session (logout, expiry). */
void http_close_streams(uint64_t session_serial);

/* ---- JSON helpers --------------------------------------------------------- */

/* The string member key of obj, or NULL when absent or not a string. */
const char *json_str(const json_t *obj, const char *key);
/* A member that must be a string when present: 0 (and *out, NULL when
 * absent), or -1 after a 400 reply naming key. max_len in bytes. */
int json_opt_str(struct http_ctx *x, const json_t *obj, const char *key, size_t max_len, const char **out);
/* An array of ascending, unique UIDs from obj[key] (sorted and
 * deduplicated here; at most max): 0 and a malloc'd array, or -1 after a
 * 400 reply. */
int json_uid_list(struct http_ctx *x, const json_t *obj, const char *key, size_t max, uint32_t **uids_r,
		  size_t *count_r);

/* ---- the handlers, by area ---------------------------------------------- */

/* api_auth.c */
void api_login(struct http_ctx *x);
void api_logout(struct http_ctx *x);
void api_session(struct http_ctx *x);
/* api_mailbox.c */
void api_mailboxes_list(struct http_ctx *x);
void api_mailbox_create(struct http_ctx *x);
void api_mailbox_rename(struct http_ctx *x);
void api_mailbox_delete(struct http_ctx *x);
void api_mailbox_empty(struct http_ctx *x);
/* api_message.c */
void api_messages_list(struct http_ctx *x);
void api_message_get(struct http_ctx *x);
void api_message_html(struct http_ctx *x);
void api_message_raw(struct http_ctx *x);
void api_message_part(struct http_ctx *x);
void api_messages_flags(struct http_ctx *x);
void api_messages_move(struct http_ctx *x);
void api_messages_delete(struct http_ctx *x);
/* api_compose.c */
void api_upload_create(struct http_ctx *x);
void api_upload_delete(struct http_ctx *x);
void api_send(struct http_ctx *x);
void api_draft_save(struct http_ctx *x);
/* api_settings.c */
void api_settings_get(struct http_ctx *x);
void api_settings_put(struct http_ctx *x);
void api_password(struct http_ctx *x);
void api_contacts(struct http_ctx *x);
/* api_events.c: starts the server-push stream (the request never ends). */
void api_events(struct http_ctx *x);

/* ---- for api_events.c ------------------------------------------------- */

/* Turns the connection into a stream: writes the reply head (200, no
 * length: the stream ends with the connection) and frees x, which the
 * caller must not use afterwards. http_stream_write() sends more; the
 * engine calls stop(state) when the connection ends. */
void http_stream_start(struct http_ctx *x, const char *content_type, void (*stop)(void *state), void *state);
/* false when the stream is gone or the client stopped reading (then the
 * connection is being closed). */
bool http_stream_write(struct conn *c, const char *data, size_t len);

/* ---- shared message helpers (api_message.c, used by api_compose.c) ----- */

struct store_mailbox;
/* Loads mailbox id for the session's user: 1 found, 0 after a 404 reply,
 * -1 after a 500 reply. */
int api_mailbox_load(struct http_ctx *x, int64_t id, struct store_mailbox *mb);

#endif
