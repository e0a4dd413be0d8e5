/* login: store lookup + off-loop password check + throttling (see login.h). */
#include "auth/login.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "auth/hash.h"
#include "auth/throttle.h"
#include "auth/verify_pool.h"
#include "core/server.h"
#include "util/log.h"
#include "util/mem.h"

struct auth_login {
	struct server *srv;
	struct sockaddr_storage peer;
	struct store_user user;
	bool known;
	enum auth_login_result result;
	struct verify_job *job;
	struct event *timer;
	auth_login_cb *cb;
	void *ctx;
};

/* A real yescrypt hash of a random password, checked for unknown users so
 * that they cost the same time as known ones. */
static char *dummy_hash;

static const char *get_dummy_hash(void)
{
	if (dummy_hash == NULL) {
		const char *error;
		char pw[] = "posthorn-no-such-user-password";
		if (hash_password_create(pw, &dummy_hash, &error) < 0)
			dummy_hash = xstrdup("$y$j9T$invalidinvalidinva$invalidinvalidinvalidinvalidinvalidinvalid0");
	}
	return dummy_hash;
}

static void login_free(struct auth_login *l)
{
	if (l->timer)
		event_free(l->timer);
	store_user_clear(&l->user);
	free(l);
}

static void deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_login *l = arg;
	l->cb(l->ctx, l->result, l->result == AUTH_LOGIN_OK ? &l->user : NULL);
	login_free(l);
}

/* Reports the result after delay_ms (0: at the next loop turn). */
static void finish(struct auth_login *l, enum auth_login_result result, uint64_t delay_ms)
{
	l->result = result;
	l->timer = evtimer_new(l->srv->base, deliver_cb, l);
	struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)((delay_ms % 1000) * 1000)};
	evtimer_add(l->timer, &tv);
}

static void record(struct auth_login *l, bool ok)
{
	if (ok) {
		throttle_success(l->srv->throttle, (struct sockaddr *)&l->peer);
		finish(l, AUTH_LOGIN_OK, 0);
		return;
	}
	uint64_t delay = throttle_failure(l->srv->throttle, (struct sockaddr *)&l->peer, throttle_now_ms());
	finish(l, AUTH_LOGIN_FAILED, delay);
}

static void verified_cb(int result, const char *error, void *context)
{
	struct auth_login *l = context;
	l->job = NULL;
	if (result < 0) {
		log_warnx("auth: user %s: stored password hash unusable: %s", l->user.address, error);
		finish(l, AUTH_LOGIN_TEMPFAIL, 0);
		return;
	}
	record(l, result == 1 && l->known);
}

static struct auth_login *login_new(struct server *srv, const struct sockaddr *peer, auth_login_cb *cb, void *ctx)
{
	struct auth_login *l = xmalloc(sizeof(*l));
	l->srv = srv;
	if (peer->sa_family == AF_INET6)
		memcpy(&l->peer, peer, sizeof(struct sockaddr_in6));
	else if (peer->sa_family == AF_INET)
		memcpy(&l->peer, peer, sizeof(struct sockaddr_in));
	else
		l->peer.ss_family = peer->sa_family;
	l->cb = cb;
	l->ctx = ctx;
	return l;
}

bool auth_login_blocked(struct server *srv, const struct sockaddr *peer)
{
	return throttle_check(srv->throttle, peer, throttle_now_ms(), NULL) < 0;
}

struct auth_login *auth_login_password(struct server *srv, const struct sockaddr *peer, const char *username,
				       const char *password, auth_login_cb *cb, void *ctx)
{
	struct auth_login *l = login_new(srv, peer, cb, ctx);
	if (auth_login_blocked(srv, peer)) {
		finish(l, AUTH_LOGIN_BLOCKED, 0);
		return l;
	}
	const char *error;
	int found = store_user_get(srv->store, username, &l->user, &error);
	if (found < 0) {
		log_warnx("auth: looking up a user: %s", error);
		finish(l, AUTH_LOGIN_TEMPFAIL, 0);
		return l;
	}
	l->known = found == 1;
	const char *hash = l->known ? l->user.password_hash : get_dummy_hash();
	l->job = verify_pool_submit(srv->verify, password, hash, verified_cb, l, &error);
	if (l->job == NULL) {
		log_warnx("auth: %s", error);
		finish(l, AUTH_LOGIN_TEMPFAIL, 0);
	}
	return l;
}

char *auth_login_scram_secrets(struct server *srv, const char *username)
{
	struct store_user u = {0};
	const char *error;
	char *secrets = NULL;
	if (store_user_get(srv->store, username, &u, &error) == 1 && u.scram_sha256 != NULL)
		secrets = xstrdup(u.scram_sha256);
	store_user_clear(&u);
	return secrets;
}

struct auth_login *auth_login_finish(struct server *srv, const struct sockaddr *peer, const char *username,
				     bool ok, auth_login_cb *cb, void *ctx)
{
	struct auth_login *l = login_new(srv, peer, cb, ctx);
	const char *error;
	if (ok && store_user_get(srv->store, username, &l->user, &error) != 1) {
		finish(l, AUTH_LOGIN_TEMPFAIL, 0);
		return l;
	}
	l->known = ok;
	record(l, ok);
	return l;
}

void auth_login_cancel(struct auth_login **lp)
{
	struct auth_login *l = *lp;
	if (l == NULL)
		return;
	if (l->job != NULL)
		verify_pool_cancel(l->srv->verify, &l->job);
	login_free(l);
	*lp = NULL;
}
