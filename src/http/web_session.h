/* web_session: the webmail's login sessions, in the worker's memory.
 *
 * A session is created at login and named by a random 256-bit id (43
 * characters of base64url), which travels only in an HttpOnly cookie,
 * never in a URL. Each session has its own random CSRF token, which the
 * page reads from the login or session reply and sends back in the
 * X-CSRF-Token header of every state-changing request. Sessions end at
 * logout, after `idle` seconds without a request, after `lifetime` seconds
 * in all, or when the worker restarts (users then log in again: nothing is
 * lost, and no session secret is ever written to disk). A password change
 * ends the user's other sessions.
 *
 * Uploaded attachments wait in the session until the message that uses
 * them is sent or the session ends; their total per session is capped.
 *
 * Lookups compare ids in constant time. Not thread-safe: the event loop
 * owns the table. */
#ifndef POSTHORN_HTTP_WEB_SESSION_H
#define POSTHORN_HTTP_WEB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WEB_SESSION_ID_LEN 43 /* base64url of 32 random bytes, no padding */

struct web_upload {
	uint32_t id;
	char *name; /* file name, UTF-8 */
	char *type; /* media type "type/subtype", checked */
	char *data;
	size_t len;
	struct web_upload *next;
};

struct web_session {
	char id[WEB_SESSION_ID_LEN + 1];
	char csrf[WEB_SESSION_ID_LEN + 1];
	uint64_t serial; /* unique in this process, never reused */
	int64_t user_id;
	char *address; /* canonical address of the user */
	time_t created, last_seen;
	bool tls; /* created over TLS: valid over TLS only */
	struct web_upload *uploads;
	size_t upload_bytes;
	uint32_t next_upload;
	/* Private to web_session.c */
	struct web_session *next;
};

struct web_sessions;

/* idle and lifetime in seconds; max_sessions caps the table (the oldest
 * session is dropped to make room), max_per_user the sessions of one user. */
struct web_sessions *web_sessions_new(uint64_t idle, uint64_t lifetime, size_t max_sessions,
				      size_t max_per_user);
void web_sessions_free(struct web_sessions **ws);

/* A new session for the user (address is copied). Never NULL. */
struct web_session *web_session_create(struct web_sessions *ws, int64_t user_id, const char *address,
				       time_t now);
/* The live session named (id, len), or NULL (unknown, or expired: then it
 * is destroyed). touch: counts as activity (resets the idle clock). */
struct web_session *web_session_find(struct web_sessions *ws, const char *id, size_t len, time_t now,
				     bool touch);
/* The session with this serial if it is still live (for streams that
 * outlive a request), without touching it; NULL otherwise. */
struct web_session *web_session_by_serial(struct web_sessions *ws, uint64_t serial, time_t now);
void web_session_destroy(struct web_sessions *ws, struct web_session *s);
/* Destroys every session of user_id except `keep` (may be NULL); returns
 * how many went. */
size_t web_session_destroy_user(struct web_sessions *ws, int64_t user_id, const struct web_session *keep);
size_t web_session_count(const struct web_sessions *ws);

/* true when token is the session's CSRF token (constant time). */
bool web_session_csrf_ok(const struct web_session *s, const char *token);

/* Adds an upload (data is taken over, also on failure). Returns it, or NULL
 * with *error_r when the session's uploads would exceed max_total bytes or
 * 100 files. */
struct web_upload *web_upload_add(struct web_session *s, const char *name, const char *type, char *data,
				  size_t len, size_t max_total, const char **error_r);
struct web_upload *web_upload_find(struct web_session *s, uint32_t id);
/* true when it existed. */
bool web_upload_remove(struct web_session *s, uint32_t id);

/* Fills out (WEB_SESSION_ID_LEN + 1 bytes) with a new random token. */
void web_random_token(char *out);

#endif
