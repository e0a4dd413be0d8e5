/* api_settings: the user's display name and signature, password changes,
 * and address completion (docs/webmail-api.md, "Settings").
 *
 * A password change proves the current password through auth_login (so
 * it is throttled like a login), then hashes the new one (yescrypt and
 * SCRAM secrets, tens of milliseconds) on a thread of its own, never on
 * the event loop, stores it, and ends the user's other webmail sessions. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "auth/auth_login.h"
#include "auth/hash.h"
#include "auth/scram.h"
#include "core/conn.h"
#include "core/server.h"
#include "http/http_api.h"
#include "store/store.h"
#include "util/charset.h"
#include "util/log.h"
#include "util/mem.h"

#define DISPLAY_NAME_MAX 200
#define SIGNATURE_MAX 10000
#define PASSWORD_MIN 8

void api_settings_get(struct http_ctx *x)
{
	struct store_user u = {0};
	const char *err;
	char *sig = NULL;
	if (store_user_get_by_id(x->srv->store, x->session->user_id, &u, &err) != 1 ||
	    store_user_setting_get(x->srv->store, u.id, "signature", &sig, &err) < 0) {
		store_user_clear(&u);
		http_reply_error(x, 500, "storage error");
		return;
	}
	json_t *o = json_pack("{s:s, s:s, s:s}", "address", u.address, "name",
			      u.display_name ? u.display_name : "", "signature", sig ? sig : "");
	free(sig);
	store_user_clear(&u);
	http_reply_json(x, o ? 200 : 500, o ? o : json_pack("{s:s}", "error", "settings are not valid text"));
}

void api_settings_put(struct http_ctx *x)
{
	const char *name, *sig;
	if (json_opt_str(x, x->body, "name", DISPLAY_NAME_MAX, &name) < 0 ||
	    json_opt_str(x, x->body, "signature", SIGNATURE_MAX, &sig) < 0)
		return;
	if (name != NULL && strpbrk(name, "\r\n\t") != NULL) {
		http_reply_error(x, 400, "the name must be one line");
		return;
	}
	const char *err;
	struct store *st = x->srv->store;
	if ((name != NULL && store_user_set_display_name(st, x->session->user_id, name, &err) < 0) ||
	    (sig != NULL && store_user_setting_set(st, x->session->user_id, "signature", sig, &err) < 0)) {
		http_reply_error(x, 400, err);
		return;
	}
	api_settings_get(x);
}

void api_contacts(struct http_ctx *x)
{
	const char *q = http_query(x, "q");
	uint64_t limit;
	if (http_query_u64(x, "limit", 1, 50, 10, &limit) < 0)
		return;
	if (q == NULL)
		q = "";
	if (strlen(q) > 200 || !utf8_valid(q, strlen(q))) {
		http_reply_error(x, 400, "invalid search");
		return;
	}
	struct store_contact *c;
	size_t n;
	const char *err;
	if (store_contact_search(x->srv->store, x->session->user_id, q, (size_t)limit, &c, &n, &err) < 0) {
		http_reply_error(x, 500, "storage error");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s}", "name", c[i].name, "address", c[i].address);
		if (o)
			json_array_append_new(arr, o);
	}
	store_contact_list_free(&c, n);
	http_reply_json(x, 200, json_pack("{s:o}", "contacts", arr));
}

/* ---- password ------------------------------------------------------------ */

struct pw_change {
	struct http_ctx *x;
	struct server *srv;
	struct auth_login_req *login;
	char *address;
	int64_t user_id;
	uint64_t session_serial;
	char *new_password;
	/* The hashing thread. */
	pthread_t thread;
	int pipe[2];
	struct event *done_ev;
	char *hash, *scram;
	const char *error;
	bool cancelled; /* the client left: free when the thread is done */
	bool hashing;
};

static void pw_free(struct pw_change *p)
{
	if (p->new_password) {
		explicit_bzero(p->new_password, strlen(p->new_password));
		free(p->new_password);
	}
	free(p->address);
	free(p->hash);
	free(p->scram);
	if (p->done_ev)
		event_free(p->done_ev);
	if (p->hashing) {
		close(p->pipe[0]);
		close(p->pipe[1]);
	}
	free(p);
}

static void *pw_thread(void *arg)
{
	struct pw_change *p = arg;
	const char *err = NULL;
	if (hash_password_create(p->new_password, &p->hash, &err) < 0 ||
	    scram_secrets_create(p->new_password, SCRAM_ITERATIONS_DEFAULT, &p->scram, &err) < 0)
		p->error = err ? err : "hashing failed";
	char one = 1;
	ssize_t w = write(p->pipe[1], &one, 1);
	(void)w;
	return NULL;
}

static void pw_hashed(evutil_socket_t fd, short what, void *arg)
{
	struct pw_change *p = arg;
	pthread_join(p->thread, NULL);
	if (p->cancelled) {
		pw_free(p);
		return;
	}
	struct http_ctx *x = p->x;
	const char *err;
	if (p->error != NULL ||
	    store_user_set_password(p->srv->store, p->address, p->hash, p->scram, &err) < 0) {
		log_warnx("http: password change for %s failed: %s", p->address, p->error ? p->error : err);
		http_reply_error(x, 500, "the password could not be changed");
		pw_free(p);
		return;
	}
	struct web_sessions *ws = http_sessions(p->srv);
	struct web_session *keep = web_session_by_serial(ws, p->session_serial, time(NULL));
	size_t ended = web_session_destroy_user(ws, p->user_id, keep);
	log_info("http password changed user=%s other_sessions_ended=%zu", p->address, ended);
	http_reply_empty(x);
	pw_free(p);
}

static void pw_cancel(void *state)
{
	struct pw_change *p = state;
	if (p->hashing) {
		p->cancelled = true; /* pw_hashed frees it */
		return;
	}
	auth_login_cancel(&p->login);
	pw_free(p);
}

static void pw_checked(enum auth_login_result result, const char *user, void *ctx)
{
	struct pw_change *p = ctx;
	p->login = NULL;
	struct http_ctx *x = p->x;
	if (result != AUTH_LOGIN_OK) {
		http_reply_error(x,
				 result == AUTH_LOGIN_FAILED	? 403
				 : result == AUTH_LOGIN_BLOCKED ? 429
								: 503,
				 result == AUTH_LOGIN_FAILED ? "the current password is wrong"
							     : "try again later");
		pw_free(p);
		return;
	}
	if (pipe(p->pipe) < 0) {
		http_reply_error(x, 503, "try again later");
		pw_free(p);
		return;
	}
	p->hashing = true;
	p->done_ev = event_new(p->srv->base, p->pipe[0], EV_READ, pw_hashed, p);
	event_add(p->done_ev, NULL);
	if (pthread_create(&p->thread, NULL, pw_thread, p) != 0) {
		http_reply_error(x, 503, "try again later");
		pw_free(p);
	}
}

void api_password(struct http_ctx *x)
{
	const char *cur, *npw;
	if (json_opt_str(x, x->body, "current", HASH_PASSWORD_MAX, &cur) < 0 ||
	    json_opt_str(x, x->body, "new", HASH_PASSWORD_MAX, &npw) < 0)
		return;
	if (cur == NULL || npw == NULL || cur[0] == '\0') {
		http_reply_error(x, 400, "current and new are required");
		return;
	}
	if (strlen(npw) < PASSWORD_MIN) {
		http_reply_error(x, 400, "the new password must have at least 8 characters");
		return;
	}
	struct pw_change *p = xmalloc(sizeof(*p));
	p->x = x;
	p->srv = x->srv;
	p->address = xstrdup(x->session->address);
	p->user_id = x->session->user_id;
	p->session_serial = x->session->serial;
	p->new_password = xstrdup(npw);
	http_async_begin(x, pw_cancel, p);
	p->login = auth_login_password(x->srv->login, http_peer(x), p->address, cur, pw_checked, p);
}
