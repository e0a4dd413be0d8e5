/* login: "is this user name and password right?" for every engine, with
 * the store lookup, the password check off the event loop (verify_pool.h)
 * and login throttling (throttle.h) glued together in one place.
 *
 * The callback is always called later, from the event loop, exactly once,
 * unless the login is cancelled first (the session went away). A failure
 * is reported only after the throttle delay, so a guessing client waits.
 * Unknown users cost the same hash check as known ones, so response times
 * do not tell which accounts exist. */
#ifndef POSTHORN_AUTH_LOGIN_H
#define POSTHORN_AUTH_LOGIN_H

#include <stdbool.h>
#include <sys/socket.h>

#include "store/store.h"

struct server;
struct auth_login;

enum auth_login_result {
	AUTH_LOGIN_OK,
	AUTH_LOGIN_FAILED,   /* wrong user name or password */
	AUTH_LOGIN_BLOCKED,  /* too many failures from this address: refused without checking */
	AUTH_LOGIN_TEMPFAIL, /* storage or hashing trouble: try again later */
};

/* user is the account (valid during the callback only) when result is OK. */
typedef void auth_login_cb(void *ctx, enum auth_login_result result, const struct store_user *user);

struct auth_login *auth_login_password(struct server *srv, const struct sockaddr *peer, const char *username,
				       const char *password, auth_login_cb *cb, void *ctx);

/* SCRAM-SHA-256: the stored secrets of username (malloc'd), or NULL when
 * the user is unknown or has none. Synchronous (a store read). */
char *auth_login_scram_secrets(struct server *srv, const char *username);
/* After an exchange the engine verified itself (SCRAM): records the
 * outcome for throttling and reports it like auth_login_password. */
struct auth_login *auth_login_finish(struct server *srv, const struct sockaddr *peer, const char *username,
				     bool ok, auth_login_cb *cb, void *ctx);

/* Whether the address is blocked right now (engines may refuse early). */
bool auth_login_blocked(struct server *srv, const struct sockaddr *peer);

/* The session is going away: the callback will not be called. Sets *l to
 * NULL; NULL is fine. */
void auth_login_cancel(struct auth_login **l);

#endif
