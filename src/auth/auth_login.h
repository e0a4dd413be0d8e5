/* auth_login: the glue every protocol engine needs between a SASL exchange
 * (or POP3 USER/PASS, IMAP LOGIN, the webmail form) and a decision:
 * throttle check, user lookup, password verification off the loop, the
 * throttle's bookkeeping, and the delay before a failure reply.
 *
 *   password logins (PLAIN, LOGIN, USER/PASS, IMAP LOGIN, webmail):
 *     req = auth_login_password(ctx, client_addr, user, password, cb, session);
 *     ... cb(AUTH_LOGIN_OK, canonical_address, session) or FAILED/BLOCKED/TEMPFAIL
 *   SCRAM-SHA-256 (the exchange itself checks the proof):
 *     auth_login_blocked() before starting; on NEED_SCRAM_SECRETS
 *     auth_login_scram_lookup(); at the end auth_login_report(ok) and
 *     reply from its callback (failures are delayed like password ones).
 *
 * Users are found through a lookup function; auth_login_store.h provides
 * the one on top of store_user_get(). Unknown users cost a dummy hash (see
 * verify_pool.h) and get the same answer, after the same delay, as wrong
 * passwords.
 *
 * Callbacks always run later from the event loop, never inside the call that
 * started the request; after the callback the request handle is dead. All
 * functions run on the loop thread. */
#ifndef POSTHORN_AUTH_AUTH_LOGIN_H
#define POSTHORN_AUTH_AUTH_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct sockaddr;
struct throttle;
struct verify_pool;

enum auth_login_result {
	AUTH_LOGIN_OK,	    /* authenticated as the given canonical address */
	AUTH_LOGIN_FAILED,  /* wrong user or password (reply came after the throttle delay):
			     * SMTP 535 5.7.8, IMAP NO [AUTHENTICATIONFAILED], POP3 -ERR [AUTH] */
	AUTH_LOGIN_BLOCKED, /* too many failures from this address, credentials not checked:
			     * SMTP 454 4.7.0, IMAP NO [UNAVAILABLE], POP3 -ERR [AUTH] */
	AUTH_LOGIN_TEMPFAIL /* store error or verification queue full:
			     * SMTP 454 4.7.0, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP] */
};

/* Finds a user. Returns 1 and sets *canonical_r (the address the session
 * runs as), *password_hash_r and *scram_r (NULL when the user has none) to
 * new strings the caller frees; 0 when there is no such user; -1 with
 * *error_r on a storage error. */
typedef int auth_login_lookup_fn(void *lookup_ctx, const char *username, char **canonical_r,
				 char **password_hash_r, char **scram_r, const char **error_r);

/* user is the canonical address on AUTH_LOGIN_OK, NULL otherwise. */
typedef void auth_login_callback_t(enum auth_login_result result, const char *user, void *context);

struct auth_login_ctx;
struct auth_login_req;

/* One per daemon (per event loop). Borrows base, pool and throttle (which
 * must outlive it); throttle may be NULL (no throttling). */
struct auth_login_ctx *auth_login_ctx_new(struct event_base *base, struct verify_pool *pool,
					  struct throttle *throttle, auth_login_lookup_fn *lookup,
					  void *lookup_ctx);
/* Requests still pending are dropped without callbacks. Sets *ctx to NULL. */
void auth_login_ctx_free(struct auth_login_ctx **ctx);

/* Checks username/password for a client at addr (NULL or AF_UNIX: no
 * throttling). Copies what it needs; the caller may wipe password at once.
 * Never NULL. */
struct auth_login_req *auth_login_password(struct auth_login_ctx *ctx, const struct sockaddr *addr,
					   const char *username, const char *password,
					   auth_login_callback_t *cb, void *context);

/* SCRAM: true (with *retry_after_ms_r if not NULL) when addr is blocked
 * right now; the engine then fails the command without starting SASL. */
bool auth_login_blocked(struct auth_login_ctx *ctx, const struct sockaddr *addr, uint64_t *retry_after_ms_r);

/* SCRAM: looks up username and returns its stored SCRAM secrets (a new
 * string, free() it) in *secrets_r, or NULL for an unknown user or one
 * without secrets; *canonical_r likewise gets the canonical address or
 * NULL. Returns 0, or -1 with *error_r on a storage error (reply TEMPFAIL). */
int auth_login_scram_lookup(struct auth_login_ctx *ctx, const char *username, char **secrets_r,
			    char **canonical_r, const char **error_r);

/* SCRAM (or any mechanism checked elsewhere): records the outcome for addr
 * and calls cb with AUTH_LOGIN_OK (user = canonical, may be NULL) at once,
 * asynchronously, or with AUTH_LOGIN_FAILED after the throttle delay.
 * Never NULL. */
struct auth_login_req *auth_login_report(struct auth_login_ctx *ctx, const struct sockaddr *addr, bool ok,
					 const char *canonical, auth_login_callback_t *cb, void *context);

/* Cancels a request whose callback has not run (the session is closing).
 * Sets *req to NULL; NULL is fine. */
void auth_login_cancel(struct auth_login_req **req);

#endif
