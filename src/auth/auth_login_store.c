/* User lookup for auth_login through the store (see auth_login_store.h). */
#include "auth/auth_login_store.h"

#include <stdlib.h>

#include "auth/auth_login.h"
#include "store/store.h"
#include "util/mem.h"

int auth_login_store_lookup(void *lookup_ctx, const char *username, char **canonical_r,
			    char **password_hash_r, char **scram_r, const char **error_r)
{
	struct store *st = lookup_ctx;
	*canonical_r = *password_hash_r = *scram_r = NULL;
	char *canon = store_address_canon(username);
	if (canon == NULL)
		return 0;
	struct store_user u;
	int r = store_user_get(st, canon, &u, error_r);
	free(canon);
	if (r != 1)
		return r < 0 ? -1 : 0;
	*canonical_r = xstrdup(u.address);
	*password_hash_r = u.password_hash ? xstrdup(u.password_hash) : NULL;
	*scram_r = u.scram_sha256 ? xstrdup(u.scram_sha256) : NULL;
	store_user_clear(&u);
	return 1;
}

/* The compiler checks that the signature matches the contract. */
static auth_login_lookup_fn *const lookup_type_check __attribute__((unused)) = auth_login_store_lookup;
