/* store_sqlite_mailbox: mailboxes and subscriptions in SQLite.
 *
 * A mailbox row carries its counters (messages, unseen, recent, deleted,
 * size) and uidnext / highestmodseq, which every message change updates in
 * the same transaction, so status is one row read. Names are compared as
 * stored (UTF-8, case-sensitive) except INBOX, which store.c spells
 * "INBOX". Hierarchy is only in the names: renaming "a" renames "a/..."
 * too, deleting "a" leaves "a/b" alone (it then has a non-existent parent,
 * as IMAP allows). Subscriptions follow a rename. SQLite's substr() and
 * length() count characters, so every prefix test on names is done in SQL
 * with both sides measured the same way. */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

#define MB_COLS                                                                                              \
	"id, user_id, name, special_use, uidvalidity, uidnext, highestmodseq, first_recent_uid,"             \
	" messages, unseen, recent, deleted, size, keywords,"                                                \
	" EXISTS(SELECT 1 FROM subscriptions s WHERE s.user_id = mailboxes.user_id"                          \
	" AND s.name = mailboxes.name)"

static void mb_row(sqlite3_stmt *q, struct store_mailbox *mb)
{
	mb->id = sqlite3_column_int64(q, 0);
	mb->user_id = sqlite3_column_int64(q, 1);
	mb->name = sdb_text(q, 2);
	mb->special_use = (enum store_special_use)sqlite3_column_int(q, 3);
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(q, 4);
	mb->uidnext = (uint32_t)sqlite3_column_int64(q, 5);
	mb->highestmodseq = (uint64_t)sqlite3_column_int64(q, 6);
	mb->first_recent_uid = (uint32_t)sqlite3_column_int64(q, 7);
	mb->messages = (uint32_t)sqlite3_column_int64(q, 8);
	mb->unseen = (uint32_t)sqlite3_column_int64(q, 9);
	mb->recent = (uint32_t)sqlite3_column_int64(q, 10);
	mb->deleted = (uint32_t)sqlite3_column_int64(q, 11);
	mb->size = (uint64_t)sqlite3_column_int64(q, 12);
	mb->keywords = sdb_text(q, 13);
	if (mb->keywords == NULL)
		mb->keywords = xstrdup("");
	mb->subscribed = sqlite3_column_int(q, 14) != 0;
}

static int mb_one(struct sq_store *s, sqlite3_stmt *q, struct store_mailbox *mb, const char **error_r)
{
	if (q == NULL)
		return sq_fail(s, error_r, "mailbox lookup");
	int r = sdb_step(&s->db, q);
	if (r < 0)
		return sq_fail(s, error_r, "mailbox lookup");
	if (r == 1) {
		mb_row(q, mb);
		sqlite3_reset(q);
	}
	return r;
}

int sq_mailbox_list(struct store *st, int64_t user_id, struct store_mailbox **boxes_r, size_t *count_r,
		    const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = sdb_q(&s->db,
				"SELECT " MB_COLS " FROM mailboxes WHERE user_id = ?"
				" ORDER BY name <> 'INBOX', name",
				"i", user_id);
	if (q == NULL)
		return sq_fail(s, error_r, "mailbox list");
	struct store_mailbox *v = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = sdb_step(&s->db, q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		mb_row(q, &v[n++]);
	}
	if (r < 0) {
		store_mailbox_list_free(&v, n);
		return sq_fail(s, error_r, "mailbox list");
	}
	*boxes_r = v;
	*count_r = n;
	return 0;
}

int sq_mailbox_get(struct store *st, int64_t user_id, const char *name, struct store_mailbox *mb,
		   const char **error_r)
{
	struct sq_store *s = sq(st);
	return mb_one(s,
		      sdb_q(&s->db, "SELECT " MB_COLS " FROM mailboxes WHERE user_id = ? AND name = ?", "is",
			    user_id, name),
		      mb, error_r);
}

int sq_mailbox_get_by_id(struct store *st, int64_t mailbox_id, struct store_mailbox *mb, const char **error_r)
{
	struct sq_store *s = sq(st);
	return mb_one(s, sdb_q(&s->db, "SELECT " MB_COLS " FROM mailboxes WHERE id = ?", "i", mailbox_id), mb,
		      error_r);
}

int sq_mailbox_get_special(struct store *st, int64_t user_id, enum store_special_use use,
			   struct store_mailbox *mb, const char **error_r)
{
	struct sq_store *s = sq(st);
	return mb_one(s,
		      sdb_q(&s->db,
			    "SELECT " MB_COLS " FROM mailboxes WHERE user_id = ? AND special_use = ?"
			    " ORDER BY id LIMIT 1",
			    "ii", user_id, (int64_t)use),
		      mb, error_r);
}

static int mb_id(struct sdb *db, int64_t user_id, const char *name, int64_t *id_r)
{
	return sdb_i64(db, id_r, "SELECT id FROM mailboxes WHERE user_id = ? AND name = ?", "is", user_id,
		       name);
}

/* Creates every missing parent of name (not name itself). */
static int create_parents(struct sdb *db, int64_t user_id, const char *name)
{
	struct buf b;
	buf_init(&b, strlen(name) + 1);
	int r = 0;
	for (const char *p = strchr(name, STORE_MAILBOX_SEP); p && r == 0;
	     p = strchr(p + 1, STORE_MAILBOX_SEP)) {
		buf_reset(&b);
		buf_append(&b, name, (size_t)(p - name));
		int64_t id;
		r = mb_id(db, user_id, b.data, &id);
		if (r == 0)
			r = sq_mailbox_insert(db, user_id, b.data, STORE_SPECIAL_NONE, NULL);
		else if (r > 0)
			r = 0;
	}
	buf_free(&b);
	return r;
}

int sq_mailbox_create(struct store *st, int64_t user_id, const char *name, enum store_special_use use,
		      const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t id;
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "mailbox create");
	int r = sdb_i64(db, &id, "SELECT id FROM users WHERE id = ?", "i", user_id);
	if (r == 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "no such user");
	}
	if (r > 0)
		r = mb_id(db, user_id, name, &id);
	if (r > 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "mailbox %s already exists", name);
	}
	if (r < 0 || create_parents(db, user_id, name) < 0 ||
	    sq_mailbox_insert(db, user_id, name, use, NULL) < 0 || sq_commit(s) < 0) {
		sdb_rollback(db);
		return sq_fail(s, error_r, "mailbox create");
	}
	return 0;
}

int sq_mailbox_delete(struct store *st, int64_t user_id, const char *name, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t id;
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "mailbox delete");
	int r = mb_id(db, user_id, name, &id);
	if (r == 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "no such mailbox: %s", name);
	}
	if (r < 0 || sq_mailbox_purge(db, id, user_id) < 0 ||
	    sdb_do(db, "DELETE FROM mailboxes WHERE id = ?", "i", id) < 0 || sq_commit(s) < 0) {
		sdb_rollback(db);
		return sq_fail(s, error_r, "mailbox delete");
	}
	return 0;
}

/* RFC 3501 RENAME of INBOX: a new mailbox gets INBOX's messages (with their
 * UIDs, which are fresh there since its UIDVALIDITY is new) and INBOX stays,
 * empty; to its sessions the messages were expunged. */
static int rename_inbox(struct sdb *db, int64_t user_id, int64_t inbox, const char *to)
{
	int64_t nid, modseq;
	if (create_parents(db, user_id, to) < 0 ||
	    sq_mailbox_insert(db, user_id, to, STORE_SPECIAL_NONE, &nid) < 0)
		return -1;
	if (sdb_i64(
		db, &modseq,
		"UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq",
		"i", inbox) <= 0)
		return -1;
	if (sdb_do(db,
		   "UPDATE mailboxes SET (uidnext, highestmodseq, first_recent_uid, messages, unseen, recent,"
		   " deleted, size, keywords) = (SELECT uidnext, highestmodseq, first_recent_uid, messages, "
		   "unseen,"
		   " recent, deleted, size, keywords FROM mailboxes WHERE id = ?) WHERE id = ?",
		   "ii", inbox, nid) < 0 ||
	    sdb_do(db,
		   "INSERT INTO expunged(mailbox_id, modseq, uid) SELECT ?, ?, uid FROM msgs WHERE "
		   "mailbox_id = ?",
		   "iii", inbox, modseq, inbox) < 0 ||
	    sdb_do(db, "UPDATE msgs SET mailbox_id = ? WHERE mailbox_id = ?", "ii", nid, inbox) < 0 ||
	    sdb_do(db,
		   "UPDATE mailboxes SET messages = 0, unseen = 0, recent = 0, deleted = 0, size = 0"
		   " WHERE id = ?",
		   "i", inbox) < 0)
		return -1;
	return 0;
}

int sq_mailbox_rename(struct store *st, int64_t user_id, const char *from, const char *to,
		      const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t id, x;
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "mailbox rename");
	int r = mb_id(db, user_id, from, &id);
	if (r == 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "no such mailbox: %s", from);
	}
	if (r < 0)
		goto fail;
	r = mb_id(db, user_id, to, &x);
	if (r > 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "mailbox %s already exists", to);
	}
	if (r < 0)
		goto fail;
	if (strcmp(from, "INBOX") == 0) {
		if (rename_inbox(db, user_id, id, to) < 0 || sq_commit(s) < 0)
			goto fail;
		return 0;
	}
	/* Would a renamed child collide with an existing mailbox? */
	r = sdb_i64(db, &x,
		    "SELECT b.name FROM mailboxes a JOIN mailboxes b ON b.user_id = a.user_id"
		    " AND b.name = ?3 || substr(a.name, length(?2) + 1)"
		    " WHERE a.user_id = ?1 AND substr(a.name, 1, length(?2) + 1) = ?2 || '/'",
		    "iss", user_id, from, to);
	if (r > 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "a mailbox under %s already exists", to);
	}
	if (r < 0 || create_parents(db, user_id, to) < 0)
		goto fail;
	if (sdb_do(db,
		   "UPDATE mailboxes SET name = ?3 || substr(name, length(?2) + 1)"
		   " WHERE user_id = ?1 AND (name = ?2 OR substr(name, 1, length(?2) + 1) = ?2 || '/')",
		   "iss", user_id, from, to) < 0 ||
	    sdb_do(db,
		   "DELETE FROM subscriptions WHERE user_id = ?1 AND name IN (SELECT ?3 || substr(name, "
		   "length(?2) + 1)"
		   " FROM subscriptions WHERE user_id = ?1 AND (name = ?2 OR substr(name, 1, length(?2) + 1) "
		   "= ?2 || '/'))",
		   "iss", user_id, from, to) < 0 ||
	    sdb_do(db,
		   "UPDATE subscriptions SET name = ?3 || substr(name, length(?2) + 1)"
		   " WHERE user_id = ?1 AND (name = ?2 OR substr(name, 1, length(?2) + 1) = ?2 || '/')",
		   "iss", user_id, from, to) < 0 ||
	    sq_commit(s) < 0)
		goto fail;
	return 0;
fail:
	sdb_rollback(db);
	return sq_fail(s, error_r, "mailbox rename");
}

int sq_mailbox_subscribe(struct store *st, int64_t user_id, const char *name, bool subscribe,
			 const char **error_r)
{
	struct sq_store *s = sq(st);
	int r = subscribe ? sdb_do(&s->db, "INSERT OR IGNORE INTO subscriptions(user_id, name) VALUES(?, ?)",
				   "is", user_id, name)
			  : sdb_do(&s->db, "DELETE FROM subscriptions WHERE user_id = ? AND name = ?", "is",
				   user_id, name);
	if (r < 0)
		return sq_fail(s, error_r, "subscribe");
	return 0;
}

int sq_mailbox_subscriptions(struct store *st, int64_t user_id, char ***names_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q =
	    sdb_q(&s->db, "SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name", "i", user_id);
	if (q == NULL)
		return sq_fail(s, error_r, "subscriptions");
	char **v = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = sdb_step(&s->db, q)) == 1) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = sdb_text(q, 0);
	}
	if (v == NULL)
		v = xcalloc(1, sizeof(*v));
	v[n] = NULL;
	if (r < 0) {
		store_strv_free(&v);
		return sq_fail(s, error_r, "subscriptions");
	}
	*names_r = v;
	return 0;
}

int sq_mailbox_take_recent(struct store *st, int64_t mailbox_id, uint32_t *first_recent_uid_r, uint32_t *next_uid_r,
			   const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t first, next = 0;
	/* Usually nothing is recent (every SELECT takes it): answer from a
	 * read, without taking the write lock that the writer thread may hold
	 * through a group commit's fsync. */
	sqlite3_stmt *q = sdb_q(db, "SELECT first_recent_uid, uidnext FROM mailboxes WHERE id = ?", "i", mailbox_id);
	int r = q ? sdb_step(db, q) : -1;
	if (r < 0)
		return sq_fail(s, error_r, "take recent");
	if (r == 0)
		return store_error(st, error_r, "no such mailbox");
	first = sqlite3_column_int64(q, 0);
	next = sqlite3_column_int64(q, 1);
	sqlite3_reset(q);
	if (first >= next) {
		*first_recent_uid_r = (uint32_t)next;
		*next_uid_r = (uint32_t)next;
		return 0;
	}
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "take recent");
	r = sdb_i64(db, &first, "SELECT first_recent_uid FROM mailboxes WHERE id = ?", "i", mailbox_id);
	if (r == 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "no such mailbox");
	}
	if (r < 0 ||
	    sdb_do(db, "UPDATE mailboxes SET first_recent_uid = uidnext, recent = 0 WHERE id = ?", "i",
		   mailbox_id) < 0 ||
	    sdb_i64(db, &next, "SELECT uidnext FROM mailboxes WHERE id = ?", "i", mailbox_id) <= 0 ||
	    sq_commit(s) < 0) {
		sdb_rollback(db);
		return sq_fail(s, error_r, "take recent");
	}
	*first_recent_uid_r = (uint32_t)first;
	*next_uid_r = (uint32_t)next;
	return 0;
}
