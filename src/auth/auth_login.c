/* Login decisions for the protocol engines (see auth_login.h).
 *
 * A request lives from auth_login_password()/auth_login_report() until its
 * callback ran or it was cancelled. Every outcome, even an immediate one
 * (blocked address, storage error), goes through the request's own timer,
 * so callbacks are never synchronous; failures use the throttle's delay as
 * the timer's timeout, which is how "the next reply is delayed" happens
 * without holding anything but a timer. Live requests sit on a list so that
 * auth_login_ctx_free() can drop them. */
#include "auth/auth_login.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth/throttle.h"
#include "auth/verify_pool.h"
#include "util/log.h"
#include "util/mem.h"

struct auth_login_ctx {
	struct event_base *base;
	struct verify_pool *pool;
	struct throttle *throttle;
	auth_login_lookup_fn *lookup;
	void *lookup_ctx;
	struct auth_login_req *reqs;
};

struct auth_login_req {
	struct auth_login_ctx *ctx;
	struct sockaddr_storage addr;
	bool has_addr;
	char *canonical;
	char *username; /* as given, for the log */
	struct verify_job *job;
	struct event *timer;
	enum auth_login_result result;
	auth_login_callback_t *cb;
	void *context;
	struct auth_login_req *prev, *next;
};

struct auth_login_ctx *auth_login_ctx_new(struct event_base *base, struct verify_pool *pool,
					  struct throttle *throttle, auth_login_lookup_fn *lookup,
					  void *lookup_ctx)
{
	struct auth_login_ctx *ctx = xmalloc(sizeof(*ctx));
	ctx->base = base;
	ctx->pool = pool;
	ctx->throttle = throttle;
	ctx->lookup = lookup;
	ctx->lookup_ctx = lookup_ctx;
	return ctx;
}

static void req_free(struct auth_login_req *req)
{
	struct auth_login_ctx *ctx = req->ctx;
	if (req->prev)
		req->prev->next = req->next;
	else
		ctx->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	verify_pool_cancel(ctx->pool, &req->job);
	event_free(req->timer);
	free(req->canonical);
	free(req->username);
	free(req);
}

void auth_login_ctx_free(struct auth_login_ctx **ctxp)
{
	struct auth_login_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	while (ctx->reqs != NULL)
		req_free(ctx->reqs);
	free(ctx);
	*ctxp = NULL;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct auth_login_req *req = arg;
	auth_login_callback_t *cb = req->cb;
	void *context = req->context;
	enum auth_login_result result = req->result;
	/* The callback may free the session and with it anything else; keep
	 * only what it needs, and free the request first. */
	char *user = NULL;
	if (result == AUTH_LOGIN_OK) {
		user = req->canonical;
		req->canonical = NULL;
	}
	req_free(req);
	cb(result, user, context);
	free(user);
}

static struct auth_login_req *req_new(struct auth_login_ctx *ctx, const struct sockaddr *addr,
				      auth_login_callback_t *cb, void *context)
{
	struct auth_login_req *req = xmalloc(sizeof(*req));
	req->ctx = ctx;
	req->cb = cb;
	req->context = context;
	if (addr != NULL && addr->sa_family == AF_INET) {
		memcpy(&req->addr, addr, sizeof(struct sockaddr_in));
		req->has_addr = true;
	} else if (addr != NULL && addr->sa_family == AF_INET6) {
		memcpy(&req->addr, addr, sizeof(struct sockaddr_in6));
		req->has_addr = true;
	}
	req->timer = evtimer_new(ctx->base, on_timer, req);
	if (req->timer == NULL)
		fatalx("auth_login: evtimer_new failed");
	req->next = ctx->reqs;
	if (ctx->reqs)
		ctx->reqs->prev = req;
	ctx->reqs = req;
	return req;
}

static void finish_later(struct auth_login_req *req, enum auth_login_result result, uint64_t delay_ms)
{
	struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
	req->result = result;
	evtimer_add(req->timer, &tv);
}

static const struct sockaddr *req_addr(const struct auth_login_req *req)
{
	return req->has_addr ? (const struct sockaddr *)&req->addr : NULL;
}

static void record_failure(struct auth_login_req *req)
{
	uint64_t delay = 0;
	if (req->ctx->throttle != NULL)
		delay = throttle_failure(req->ctx->throttle, req_addr(req), throttle_now_ms());
	finish_later(req, AUTH_LOGIN_FAILED, delay);
}

static void record_success(struct auth_login_req *req)
{
	if (req->ctx->throttle != NULL)
		throttle_success(req->ctx->throttle, req_addr(req));
	finish_later(req, AUTH_LOGIN_OK, 0);
}

static bool is_blocked(struct auth_login_ctx *ctx, const struct sockaddr *addr, uint64_t *retry_r)
{
	return ctx->throttle != NULL && throttle_check(ctx->throttle, addr, throttle_now_ms(), retry_r) < 0;
}

static void on_verified(int result, const char *error, void *arg)
{
	struct auth_login_req *req = arg;
	req->job = NULL;
	if (result == 1) {
		record_success(req);
		return;
	}
	if (result < 0)
		log_warnx("auth: stored password hash unusable user=%s: %s", req->username,
			  error ? error : "?");
	record_failure(req);
}

struct auth_login_req *auth_login_password(struct auth_login_ctx *ctx, const struct sockaddr *addr,
					   const char *username, const char *password,
					   auth_login_callback_t *cb, void *context)
{
	struct auth_login_req *req = req_new(ctx, addr, cb, context);
	req->username = xstrdup(username);
	if (is_blocked(ctx, req_addr(req), NULL)) {
		finish_later(req, AUTH_LOGIN_BLOCKED, 0);
		return req;
	}
	char *hash = NULL, *scram = NULL;
	const char *err = NULL;
	int r = ctx->lookup(ctx->lookup_ctx, username, &req->canonical, &hash, &scram, &err);
	free(scram);
	if (r < 0) {
		log_warnx("auth: user lookup failed user=%s: %s", username, err ? err : "?");
		finish_later(req, AUTH_LOGIN_TEMPFAIL, 0);
		return req;
	}
	/* hash NULL (no such user) still costs a hash: see verify_pool_submit. */
	req->job = verify_pool_submit(ctx->pool, password, r == 1 ? hash : NULL, on_verified, req, &err);
	free(hash);
	if (req->job == NULL) {
		log_warnx("auth: %s", err);
		finish_later(req, AUTH_LOGIN_TEMPFAIL, 0);
	}
	return req;
}

bool auth_login_blocked(struct auth_login_ctx *ctx, const struct sockaddr *addr, uint64_t *retry_after_ms_r)
{
	return is_blocked(ctx, addr, retry_after_ms_r);
}

int auth_login_scram_lookup(struct auth_login_ctx *ctx, const char *username, char **secrets_r,
			    char **canonical_r, const char **error_r)
{
	char *hash = NULL;
	*secrets_r = NULL;
	*canonical_r = NULL;
	int r = ctx->lookup(ctx->lookup_ctx, username, canonical_r, &hash, secrets_r, error_r);
	free(hash);
	if (r != 1) {
		XFREE(secrets_r);
		XFREE(canonical_r);
	}
	return r < 0 ? -1 : 0;
}

struct auth_login_req *auth_login_report(struct auth_login_ctx *ctx, const struct sockaddr *addr, bool ok,
					 const char *canonical, auth_login_callback_t *cb, void *context)
{
	struct auth_login_req *req = req_new(ctx, addr, cb, context);
	req->canonical = canonical ? xstrdup(canonical) : NULL;
	if (ok)
		record_success(req);
	else
		record_failure(req);
	return req;
}

void auth_login_cancel(struct auth_login_req **reqp)
{
	if (*reqp != NULL)
		req_free(*reqp);
	*reqp = NULL;
}
