/* web_session: the table of webmail sessions (see web_session.h).
 *
 * A small hash table keyed by the id's first bytes (the id is random, so
 * its bytes are a fine hash); chains are short. Expired sessions are
 * removed when they are looked up and, all of them, whenever a session is
 * created, so the table never holds more than the live ones plus those
 * expired since the last login. */
#include "http/web_session.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/log.h"
#include "util/mem.h"

#define BUCKETS 1024
#define MAX_UPLOADS 100

struct web_sessions {
	struct web_session *buckets[BUCKETS];
	size_t count;
	uint64_t idle, lifetime;
	size_t max_sessions, max_per_user;
	uint64_t next_serial;
};

void web_random_token(char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
		if (r <= 0)
			fatal("getrandom");
		got += (size_t)r;
	}
	/* 43 characters of 6 bits: 258 bits drawn from 264 random ones. */
	for (size_t i = 0, bit = 0; i < WEB_SESSION_ID_LEN; i++, bit += 6) {
		unsigned v = ((unsigned)raw[bit / 8] << 8 | raw[bit / 8 + 1]) >> (10 - bit % 8);
		out[i] = alphabet[v & 63];
	}
	out[WEB_SESSION_ID_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
}

static size_t bucket_of(const char *id)
{
	return ((unsigned char)id[0] * 64u + (unsigned char)id[1] * 8u + (unsigned char)id[2]) % BUCKETS;
}

struct web_sessions *web_sessions_new(uint64_t idle, uint64_t lifetime, size_t max_sessions,
				      size_t max_per_user)
{
	struct web_sessions *ws = xmalloc(sizeof(*ws));
	ws->idle = idle;
	ws->lifetime = lifetime;
	ws->max_sessions = max_sessions ? max_sessions : 1;
	ws->max_per_user = max_per_user ? max_per_user : 1;
	ws->next_serial = 1;
	return ws;
}

static void uploads_free(struct web_session *s)
{
	while (s->uploads != NULL) {
		struct web_upload *u = s->uploads;
		s->uploads = u->next;
		free(u->name);
		free(u->type);
		free(u->data);
		free(u);
	}
	s->upload_bytes = 0;
}

static void session_free(struct web_session *s)
{
	uploads_free(s);
	free(s->address);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void web_sessions_free(struct web_sessions **wsp)
{
	struct web_sessions *ws = *wsp;
	if (ws == NULL)
		return;
	for (size_t b = 0; b < BUCKETS; b++)
		while (ws->buckets[b] != NULL) {
			struct web_session *s = ws->buckets[b];
			ws->buckets[b] = s->next;
			session_free(s);
		}
	free(ws);
	*wsp = NULL;
}

static bool expired(const struct web_sessions *ws, const struct web_session *s, time_t now)
{
	return now - s->last_seen >= (time_t)ws->idle || now - s->created >= (time_t)ws->lifetime;
}

static void unlink_session(struct web_sessions *ws, struct web_session *s)
{
	struct web_session **pp = &ws->buckets[bucket_of(s->id)];
	while (*pp != NULL && *pp != s)
		pp = &(*pp)->next;
	if (*pp == s) {
		*pp = s->next;
		ws->count--;
	}
}

void web_session_destroy(struct web_sessions *ws, struct web_session *s)
{
	unlink_session(ws, s);
	session_free(s);
}

/* Drops expired sessions; then, while over max (or over the user's max),
 * the least recently used one. */
static void make_room(struct web_sessions *ws, int64_t user_id, time_t now)
{
	size_t user_count = 0;
	for (size_t b = 0; b < BUCKETS; b++) {
		struct web_session **pp = &ws->buckets[b];
		while (*pp != NULL) {
			struct web_session *s = *pp;
			if (expired(ws, s, now)) {
				*pp = s->next;
				ws->count--;
				session_free(s);
				continue;
			}
			user_count += s->user_id == user_id;
			pp = &s->next;
		}
	}
	while (ws->count > 0 && (ws->count >= ws->max_sessions || user_count >= ws->max_per_user)) {
		bool per_user = user_count >= ws->max_per_user;
		struct web_session *oldest = NULL;
		for (size_t b = 0; b < BUCKETS; b++)
			for (struct web_session *s = ws->buckets[b]; s != NULL; s = s->next)
				if ((!per_user || s->user_id == user_id) &&
				    (oldest == NULL || s->last_seen < oldest->last_seen))
					oldest = s;
		if (oldest == NULL)
			break;
		if (oldest->user_id == user_id)
			user_count--;
		log_info("webmail session dropped to make room user=%s", oldest->address);
		web_session_destroy(ws, oldest);
	}
}

struct web_session *web_session_create(struct web_sessions *ws, int64_t user_id, const char *address,
				       time_t now)
{
	make_room(ws, user_id, now);
	struct web_session *s = xmalloc(sizeof(*s));
	web_random_token(s->id);
	web_random_token(s->csrf);
	s->serial = ws->next_serial++;
	s->user_id = user_id;
	s->address = xstrdup(address);
	s->created = s->last_seen = now;
	s->next_upload = 1;
	size_t b = bucket_of(s->id);
	s->next = ws->buckets[b];
	ws->buckets[b] = s;
	ws->count++;
	return s;
}

struct web_session *web_session_find(struct web_sessions *ws, const char *id, size_t len, time_t now,
				     bool touch)
{
	if (len != WEB_SESSION_ID_LEN)
		return NULL;
	for (struct web_session *s = ws->buckets[bucket_of(id)]; s != NULL; s = s->next) {
		if (CRYPTO_memcmp(s->id, id, WEB_SESSION_ID_LEN) != 0)
			continue;
		if (expired(ws, s, now)) {
			web_session_destroy(ws, s);
			return NULL;
		}
		if (touch)
			s->last_seen = now;
		return s;
	}
	return NULL;
}

struct web_session *web_session_by_serial(struct web_sessions *ws, uint64_t serial, time_t now)
{
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct web_session *s = ws->buckets[b]; s != NULL; s = s->next)
			if (s->serial == serial)
				return expired(ws, s, now) ? NULL : s;
	return NULL;
}

size_t web_session_destroy_user(struct web_sessions *ws, int64_t user_id, const struct web_session *keep)
{
	size_t n = 0;
	for (size_t b = 0; b < BUCKETS; b++) {
		struct web_session **pp = &ws->buckets[b];
		while (*pp != NULL) {
			struct web_session *s = *pp;
			if (s->user_id == user_id && s != keep) {
				*pp = s->next;
				ws->count--;
				session_free(s);
				n++;
				continue;
			}
			pp = &s->next;
		}
	}
	return n;
}

size_t web_session_count(const struct web_sessions *ws)
{
	return ws->count;
}

bool web_session_csrf_ok(const struct web_session *s, const char *token)
{
	if (token == NULL || strlen(token) != WEB_SESSION_ID_LEN)
		return false;
	return CRYPTO_memcmp(s->csrf, token, WEB_SESSION_ID_LEN) == 0;
}

struct web_upload *web_upload_add(struct web_session *s, const char *name, const char *type, char *data,
				  size_t len, size_t max_total, const char **error_r)
{
	size_t n = 0;
	for (struct web_upload *u = s->uploads; u != NULL; u = u->next)
		n++;
	if (n >= MAX_UPLOADS || len > max_total || s->upload_bytes > max_total - len) {
		free(data);
		*error_r =
		    n >= MAX_UPLOADS ? "too many attachments" : "the attachments are too large together";
		return NULL;
	}
	struct web_upload *u = xmalloc(sizeof(*u));
	u->id = s->next_upload++;
	u->name = xstrdup(name);
	u->type = xstrdup(type);
	u->data = data;
	u->len = len;
	u->next = s->uploads;
	s->uploads = u;
	s->upload_bytes += len;
	return u;
}

struct web_upload *web_upload_find(struct web_session *s, uint32_t id)
{
	for (struct web_upload *u = s->uploads; u != NULL; u = u->next)
		if (u->id == id)
			return u;
	return NULL;
}

bool web_upload_remove(struct web_session *s, uint32_t id)
{
	for (struct web_upload **pp = &s->uploads; *pp != NULL; pp = &(*pp)->next) {
		struct web_upload *u = *pp;
		if (u->id != id)
			continue;
		*pp = u->next;
		s->upload_bytes -= u->len;
		free(u->name);
		free(u->type);
		free(u->data);
		free(u);
		return true;
	}
	return false;
}
