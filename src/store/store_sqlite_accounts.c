/* store_sqlite_accounts: domains, users and aliases in SQLite.
 *
 * Arguments arrive canonical (store.c). A new user gets the standard
 * mailboxes in the same transaction as its row; removing a user removes its
 * mailboxes and messages (dropping content references) but leaves aliases
 * that name it, which then resolve to nobody, as the administrator may
 * point them elsewhere. */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/mem.h"

static const struct {
	const char *name;
	enum store_special_use use;
} default_mailboxes[] = {
    {"INBOX", STORE_SPECIAL_NONE},  {"Sent", STORE_SPECIAL_SENT}, {"Drafts", STORE_SPECIAL_DRAFTS},
    {"Trash", STORE_SPECIAL_TRASH}, {"Junk", STORE_SPECIAL_JUNK}, {"Archive", STORE_SPECIAL_ARCHIVE},
};

/* ---- Domains ---------------------------------------------------------- */

static int domain_id(struct sdb *db, const char *domain, int64_t *id_r)
{
	return sdb_i64(db, id_r, "SELECT id FROM domains WHERE name = ?", "s", domain);
}

int sq_domain_add(struct store *st, const char *domain, const char **error_r)
{
	struct sq_store *s = sq(st);
	int64_t id;
	if (sdb_begin(&s->db) < 0)
		return sq_fail(s, error_r, "domain add");
	int r = domain_id(&s->db, domain, &id);
	if (r > 0) {
		sdb_rollback(&s->db);
		return store_error(st, error_r, "domain %s already exists", domain);
	}
	if (r < 0 ||
	    sdb_do(&s->db, "INSERT INTO domains(name, created) VALUES(?, ?)", "si", domain,
		   (int64_t)time(NULL)) < 0 ||
	    sq_commit(s) < 0) {
		sdb_rollback(&s->db);
		return sq_fail(s, error_r, "domain add");
	}
	return 0;
}

int sq_domain_remove(struct store *st, const char *domain, const char **error_r)
{
	struct sq_store *s = sq(st);
	int64_t id, n;
	if (sdb_begin(&s->db) < 0)
		return sq_fail(s, error_r, "domain remove");
	int r = domain_id(&s->db, domain, &id);
	if (r == 0) {
		sdb_rollback(&s->db);
		return store_error(st, error_r, "no such domain: %s", domain);
	}
	if (r < 0 || sdb_i64(&s->db, &n, "SELECT count(*) FROM users WHERE domain_id = ?", "i", id) < 0)
		goto fail;
	if (n > 0) {
		sdb_rollback(&s->db);
		return store_error(st, error_r, "domain %s still has %lld user(s): remove them first", domain,
				   (long long)n);
	}
	if (sdb_i64(&s->db, &n, "SELECT count(*) FROM aliases WHERE domain_id = ?", "i", id) < 0)
		goto fail;
	if (n > 0) {
		sdb_rollback(&s->db);
		return store_error(st, error_r, "domain %s still has %lld alias(es): remove them first",
				   domain, (long long)n);
	}
	if (sdb_do(&s->db, "DELETE FROM domains WHERE id = ?", "i", id) < 0 || sq_commit(s) < 0)
		goto fail;
	return 0;
fail:
	sdb_rollback(&s->db);
	return sq_fail(s, error_r, "domain remove");
}

int sq_domain_exists(struct store *st, const char *domain, const char **error_r)
{
	struct sq_store *s = sq(st);
	int64_t id;
	int r = domain_id(&s->db, domain, &id);
	if (r < 0)
		return sq_fail(s, error_r, "domain lookup");
	return r;
}

/* Collects the first text column of every row into a NULL-terminated array. */
static int collect_strv(struct sq_store *s, sqlite3_stmt *q, char ***strv_r)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = sdb_step(&s->db, q)) == 1) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 8;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = sdb_text(q, 0);
	}
	if (v == NULL)
		v = xcalloc(1, sizeof(*v));
	v[n] = NULL;
	if (r < 0) {
		store_strv_free(&v);
		return -1;
	}
	*strv_r = v;
	return 0;
}

int sq_domain_list(struct store *st, char ***domains_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = sdb_q(&s->db, "SELECT name FROM domains ORDER BY name", "");
	if (q == NULL || collect_strv(s, q, domains_r) < 0)
		return sq_fail(s, error_r, "domain list");
	return 0;
}

/* ---- Users ------------------------------------------------------------ */

int sq_user_add(struct store *st, const char *address, const char *domain, const char *password_hash,
		const char *scram, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t did, uid;
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "user add");
	int r = domain_id(db, domain, &did);
	if (r == 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "%s is not a local domain: add it first", domain);
	}
	if (r < 0)
		goto fail;
	r = sdb_i64(db, &uid, "SELECT id FROM users WHERE address = ?", "s", address);
	if (r > 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "user %s already exists", address);
	}
	if (r < 0)
		goto fail;
	r = sdb_i64(db, &uid, "SELECT id FROM aliases WHERE source = ?", "s", address);
	if (r > 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "%s is an alias: remove the alias first", address);
	}
	if (r < 0 || sdb_do(db,
			    "INSERT INTO users(domain_id, address, password_hash, scram, created)"
			    " VALUES(?, ?, ?, ?, ?)",
			    "isssi", did, address, password_hash, scram, (int64_t)time(NULL)) < 0)
		goto fail;
	uid = sqlite3_last_insert_rowid(db->h);
	for (size_t i = 0; i < sizeof(default_mailboxes) / sizeof(default_mailboxes[0]); i++) {
		if (sq_mailbox_insert(db, uid, default_mailboxes[i].name, default_mailboxes[i].use, NULL) <
			0 ||
		    sdb_do(db, "INSERT INTO subscriptions(user_id, name) VALUES(?, ?)", "is", uid,
			   default_mailboxes[i].name) < 0)
			goto fail;
	}
	if (sq_commit(s) < 0)
		goto fail;
	return 0;
fail:
	sdb_rollback(db);
	return sq_fail(s, error_r, "user add");
}

int sq_user_remove(struct store *st, const char *address, int64_t *user_id_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t uid;
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "user remove");
	int r = sdb_i64(db, &uid, "SELECT id FROM users WHERE address = ?", "s", address);
	if (r == 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "no such user: %s", address);
	}
	if (r < 0)
		goto fail;
	sqlite3_stmt *q = sdb_q(db, "SELECT id FROM mailboxes WHERE user_id = ?", "i", uid);
	if (q == NULL)
		goto fail;
	int64_t *boxes = NULL;
	size_t n = 0, cap = 0;
	while ((r = sdb_step(db, q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			boxes = xreallocarray(boxes, cap, sizeof(*boxes));
		}
		boxes[n++] = sqlite3_column_int64(q, 0);
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		if (sq_mailbox_purge(db, boxes[i], uid) < 0)
			r = -1;
	free(boxes);
	if (r < 0 || sdb_do(db, "DELETE FROM mailboxes WHERE user_id = ?", "i", uid) < 0 ||
	    sdb_do(db, "DELETE FROM subscriptions WHERE user_id = ?", "i", uid) < 0 ||
	    sdb_do(db, "DELETE FROM users WHERE id = ?", "i", uid) < 0 || sq_commit(s) < 0)
		goto fail;
	*user_id_r = uid;
	return 0;
fail:
	sdb_rollback(db);
	return sq_fail(s, error_r, "user remove");
}

static int user_update(struct sq_store *s, int r, const char *who, const char **error_r)
{
	if (r < 0)
		return sq_fail(s, error_r, "user update");
	if (r == 0)
		return store_error(&s->st, error_r, "no such user: %s", who);
	return 0;
}

int sq_user_set_password(struct store *st, const char *address, const char *password_hash, const char *scram,
			 const char **error_r)
{
	struct sq_store *s = sq(st);
	int r = sdb_do(&s->db, "UPDATE users SET password_hash = ?, scram = ? WHERE address = ?", "sss",
		       password_hash, scram, address);
	return user_update(s, r, address, error_r);
}

int sq_user_set_quota(struct store *st, const char *address, uint64_t quota, const char **error_r)
{
	struct sq_store *s = sq(st);
	int r = sdb_do(&s->db, "UPDATE users SET quota_bytes = ? WHERE address = ?", "is", (int64_t)quota,
		       address);
	return user_update(s, r, address, error_r);
}

int sq_user_set_display_name(struct store *st, int64_t user_id, const char *name, const char **error_r)
{
	struct sq_store *s = sq(st);
	int r = sdb_do(&s->db, "UPDATE users SET display_name = ? WHERE id = ?", "si", name, user_id);
	return user_update(s, r, "(id)", error_r);
}

#define USER_COLS "id, address, password_hash, scram, display_name, quota_bytes, used_bytes, created"

static void user_row(sqlite3_stmt *q, struct store_user *u)
{
	u->id = sqlite3_column_int64(q, 0);
	u->address = sdb_text(q, 1);
	u->password_hash = sdb_text(q, 2);
	u->scram_sha256 = sdb_text(q, 3);
	u->display_name = sdb_text(q, 4);
	if (u->display_name == NULL)
		u->display_name = xstrdup("");
	u->quota_bytes = (uint64_t)sqlite3_column_int64(q, 5);
	u->used_bytes = (uint64_t)sqlite3_column_int64(q, 6);
	u->created = (time_t)sqlite3_column_int64(q, 7);
}

static int user_one(struct sq_store *s, sqlite3_stmt *q, struct store_user *u, const char **error_r)
{
	if (q == NULL)
		return sq_fail(s, error_r, "user lookup");
	int r = sdb_step(&s->db, q);
	if (r < 0)
		return sq_fail(s, error_r, "user lookup");
	if (r == 1) {
		user_row(q, u);
		sqlite3_reset(q);
	}
	return r;
}

int sq_user_get(struct store *st, const char *address, struct store_user *u, const char **error_r)
{
	struct sq_store *s = sq(st);
	return user_one(s, sdb_q(&s->db, "SELECT " USER_COLS " FROM users WHERE address = ?", "s", address),
			u, error_r);
}

int sq_user_get_by_id(struct store *st, int64_t id, struct store_user *u, const char **error_r)
{
	struct sq_store *s = sq(st);
	return user_one(s, sdb_q(&s->db, "SELECT " USER_COLS " FROM users WHERE id = ?", "i", id), u,
			error_r);
}

int sq_user_list(struct store *st, const char *domain, struct store_user **users_r, size_t *count_r,
		 const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = domain ? sdb_q(&s->db,
					 "SELECT " USER_COLS " FROM users WHERE domain_id ="
					 " (SELECT id FROM domains WHERE name = ?) ORDER BY address",
					 "s", domain)
				 : sdb_q(&s->db, "SELECT " USER_COLS " FROM users ORDER BY address", "");
	if (q == NULL)
		return sq_fail(s, error_r, "user list");
	struct store_user *v = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = sdb_step(&s->db, q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		user_row(q, &v[n++]);
	}
	if (r < 0) {
		store_user_list_free(&v, n);
		return sq_fail(s, error_r, "user list");
	}
	*users_r = v;
	*count_r = n;
	return 0;
}

int sq_user_lookup(struct store *st, const char *address, int64_t *id_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	int r = sdb_i64(&s->db, id_r, "SELECT id FROM users WHERE address = ?", "s", address);
	if (r < 0)
		return sq_fail(s, error_r, "user lookup");
	return r;
}

/* ---- Aliases ---------------------------------------------------------- */

int sq_alias_add(struct store *st, const char *source, const char *domain, const char *target,
		 const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t did, x;
	if (strcasecmp(source, target) == 0)
		return store_error(st, error_r, "an alias cannot point to itself");
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "alias add");
	int r = domain_id(db, domain, &did);
	if (r == 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "%s is not a local domain: add it first", domain);
	}
	if (r < 0)
		goto fail;
	r = sdb_i64(db, &x, "SELECT id FROM users WHERE address = ?", "s", source);
	if (r > 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "%s is a user: an alias cannot have a user's address",
				   source);
	}
	if (r < 0)
		goto fail;
	r = sdb_i64(db, &x, "SELECT id FROM aliases WHERE source = ? AND target = ? COLLATE NOCASE", "ss",
		    source, target);
	if (r > 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "alias %s -> %s already exists", source, target);
	}
	if (r < 0 ||
	    sdb_do(db, "INSERT INTO aliases(domain_id, source, target) VALUES(?, ?, ?)", "iss", did, source,
		   target) < 0 ||
	    sq_commit(s) < 0)
		goto fail;
	return 0;
fail:
	sdb_rollback(db);
	return sq_fail(s, error_r, "alias add");
}

int sq_alias_remove(struct store *st, const char *source, const char *target, const char **error_r)
{
	struct sq_store *s = sq(st);
	/* Targets match without regard to case, as people type them. */
	int r = target ? sdb_do(&s->db, "DELETE FROM aliases WHERE source = ? AND target = ? COLLATE NOCASE",
				"ss", source, target)
		       : sdb_do(&s->db, "DELETE FROM aliases WHERE source = ?", "s", source);
	if (r < 0)
		return sq_fail(s, error_r, "alias remove");
	if (r == 0)
		return store_error(st, error_r, "no such alias: %s%s%s", source, target ? " -> " : "",
				   target ? target : "");
	return 0;
}

int sq_alias_list(struct store *st, const char *domain, struct store_alias **aliases_r, size_t *count_r,
		  const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q =
	    domain ? sdb_q(&s->db,
			   "SELECT source, target FROM aliases WHERE domain_id ="
			   " (SELECT id FROM domains WHERE name = ?) ORDER BY source, target",
			   "s", domain)
		   : sdb_q(&s->db, "SELECT source, target FROM aliases ORDER BY source, target", "");
	if (q == NULL)
		return sq_fail(s, error_r, "alias list");
	struct store_alias *v = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = sdb_step(&s->db, q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].source = sdb_text(q, 0);
		v[n].target = sdb_text(q, 1);
		n++;
	}
	if (r < 0) {
		store_alias_list_free(&v, n);
		return sq_fail(s, error_r, "alias list");
	}
	*aliases_r = v;
	*count_r = n;
	return 0;
}

int sq_alias_targets(struct store *st, const char *source, char ***targets_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	*targets_r = NULL;
	sqlite3_stmt *q =
	    sdb_q(&s->db, "SELECT target FROM aliases WHERE source = ? ORDER BY id", "s", source);
	char **v;
	if (q == NULL || collect_strv(s, q, &v) < 0)
		return sq_fail(s, error_r, "alias lookup");
	if (v[0] == NULL)
		store_strv_free(&v);
	*targets_r = v;
	return 0;
}
