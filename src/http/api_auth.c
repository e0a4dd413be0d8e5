/* api_auth: logging in and out of the webmail (docs/webmail-api.md,
 * "Session").
 *
 * A login goes through auth_login like every other protocol's: the
 * throttle per client address, the password check off the event loop,
 * and the growing delay before a failure is answered. Success creates a
 * session (web_session.h) whose id is set as an HttpOnly, SameSite=Strict
 * cookie (Secure and __Host- prefixed over HTTPS); the reply carries the
 * CSRF token the page sends back with every change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_login.h"
#include "auth/hash.h"
#include "core/conn.h"
#include "core/server.h"
#include "http/http_api.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

struct login_state {
	struct http_ctx *x;
	struct auth_login_req *req;
	char *username;
};

static json_t *session_json(struct http_ctx *x, struct web_session *s)
{
	struct store_user u = {0};
	const char *err;
	const char *name = "";
	if (store_user_get_by_id(x->srv->store, s->user_id, &u, &err) == 1 && u.display_name)
		name = u.display_name;
	json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "user", s->address, "name", name, "csrf", s->csrf,
			      "idle_timeout", (json_int_t)x->srv->cfg->http_session_idle);
	store_user_clear(&u);
	return o;
}

static void set_cookie(struct http_ctx *x, const char *value, bool clear)
{
	char line[256];
	bool tls = http_is_tls(x);
	snprintf(line, sizeof(line), "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict%s%s\r\n",
		 tls ? "__Host-posthorn_sid" : "posthorn_sid", value, tls ? "; Secure" : "",
		 clear ? "; Max-Age=0" : "");
	http_set_header_lines(x, line);
}

static void login_free(struct login_state *st)
{
	if (st->username)
		explicit_bzero(st->username, strlen(st->username));
	free(st->username);
	free(st);
}

static void login_cancel(void *state)
{
	struct login_state *st = state;
	auth_login_cancel(&st->req);
	login_free(st);
}

static void login_cb(enum auth_login_result result, const char *user, void *ctx)
{
	struct login_state *st = ctx;
	struct http_ctx *x = st->x;
	st->req = NULL;
	uint64_t cid = x->c->id;
	struct store_user u = {0};
	const char *err;
	if (result == AUTH_LOGIN_OK && (user == NULL || store_user_get(x->srv->store, user, &u, &err) != 1))
		result = AUTH_LOGIN_TEMPFAIL;
	switch (result) {
	case AUTH_LOGIN_OK: {
		struct web_session *s =
		    web_session_create(http_sessions(x->srv), u.id, u.address, time(NULL));
		s->tls = http_is_tls(x);
		log_session(cid, "http login user=%s result=ok", u.address);
		set_cookie(x, s->id, false);
		http_reply_json(x, 200, session_json(x, s));
		break;
	}
	case AUTH_LOGIN_FAILED:
		log_session(cid, "http login user=%s result=failed", st->username);
		http_reply_error(x, 401, "wrong address or password");
		break;
	case AUTH_LOGIN_BLOCKED:
		log_session(cid, "http login user=%s result=blocked", st->username);
		http_reply_error(x, 429, "too many failed logins from your address; try again later");
		break;
	case AUTH_LOGIN_TEMPFAIL:
		http_reply_error(x, 503, "temporary failure; try again later");
		break;
	}
	store_user_clear(&u);
	login_free(st);
}

void api_login(struct http_ctx *x)
{
	const char *user, *pass;
	if (json_opt_str(x, x->body, "username", 320, &user) < 0 ||
	    json_opt_str(x, x->body, "password", HASH_PASSWORD_MAX, &pass) < 0)
		return;
	if (user == NULL || pass == NULL || user[0] == '\0' || pass[0] == '\0') {
		http_reply_error(x, 400, "username and password are required");
		return;
	}
	/* A new login replaces the session this browser had. */
	if (x->session != NULL) {
		http_close_streams(x->session->serial);
		web_session_destroy(http_sessions(x->srv), x->session);
		x->session = NULL;
	}
	struct login_state *st = xmalloc(sizeof(*st));
	st->x = x;
	st->username = xstrdup(user);
	http_async_begin(x, login_cancel, st);
	st->req = auth_login_password(x->srv->login, http_peer(x), user, pass, login_cb, st);
}

void api_logout(struct http_ctx *x)
{
	log_session(x->c->id, "http logout user=%s", x->session->address);
	http_close_streams(x->session->serial);
	web_session_destroy(http_sessions(x->srv), x->session);
	x->session = NULL;
	set_cookie(x, "", true);
	http_reply_empty(x);
}

void api_session(struct http_ctx *x)
{
	if (x->session == NULL) {
		http_reply_error(x, 401, "not logged in");
		return;
	}
	http_reply_json(x, 200, session_json(x, x->session));
}
