/* auth_login_store: the auth_login lookup function on top of the store
 * (store_user_get), kept apart so that code using auth_login with another
 * lookup (tests) does not pull in the store.
 *
 *   ctx = auth_login_ctx_new(base, pool, throttle, auth_login_store_lookup, store);
 */
#ifndef POSTHORN_AUTH_AUTH_LOGIN_STORE_H
#define POSTHORN_AUTH_AUTH_LOGIN_STORE_H

/* An auth_login_lookup_fn; lookup_ctx is the daemon's struct store *. A
 * user name that is not local@domain is an unknown user, not an error. */
int auth_login_store_lookup(void *lookup_ctx, const char *username, char **canonical_r,
			    char **password_hash_r, char **scram_r, const char **error_r);

#endif
