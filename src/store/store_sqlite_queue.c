/* store_sqlite_queue: the outbound queue in SQLite.
 *
 * An entry (envelope sender, authenticated user, size) with its message in
 * queue_data and one row per remote recipient carrying that recipient's
 * state, attempt count, next attempt time and last error. Entries are
 * created by a delivery (store_sqlite_deliver.c, in the same transaction
 * as the local copies) and removed only by store_queue_remove(). The
 * scheduler finds due work through the (state, next_attempt) index. */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/mem.h"

#define Q_COLS "q.id, q.mail_from, q.user_id, q.created, q.size"

static int rcpts_load(struct sdb *db, struct store_queue_entry *e)
{
	sqlite3_stmt *q =
	    sdb_q(db,
		  "SELECT id, address, state, attempts, next_attempt, last_error FROM queue_rcpts"
		  " WHERE queue_id = ? ORDER BY id",
		  "i", e->id);
	if (q == NULL)
		return -1;
	size_t cap = 0;
	int r;
	while ((r = sdb_step(db, q)) == 1) {
		if (e->rcpt_count == cap) {
			cap = cap ? cap * 2 : 4;
			e->rcpts = xreallocarray(e->rcpts, cap, sizeof(*e->rcpts));
		}
		struct store_queue_rcpt *rc = &e->rcpts[e->rcpt_count++];
		rc->id = sqlite3_column_int64(q, 0);
		rc->address = sdb_text(q, 1);
		rc->state = (enum store_queue_state)sqlite3_column_int(q, 2);
		rc->attempts = sqlite3_column_int(q, 3);
		rc->next_attempt = (time_t)sqlite3_column_int64(q, 4);
		rc->last_error = sdb_text(q, 5);
	}
	return r;
}

static void entry_row(sqlite3_stmt *q, struct store_queue_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(q, 0);
	e->mail_from = sdb_text(q, 1);
	if (e->mail_from == NULL)
		e->mail_from = xstrdup("");
	e->user_id = sqlite3_column_int64(q, 2);
	e->created = (time_t)sqlite3_column_int64(q, 3);
	e->size = (uint64_t)sqlite3_column_int64(q, 4);
}

/* Runs a query of entries, then loads each one's recipients. */
static int entries_load(struct sq_store *s, sqlite3_stmt *q, struct store_queue_entry **entries_r,
			size_t *count_r, const char **error_r)
{
	struct sdb *db = &s->db;
	struct store_queue_entry *v = NULL;
	size_t n = 0, cap = 0;
	int r = q ? 1 : -1;
	while (r == 1 && (r = sdb_step(db, q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		entry_row(q, &v[n++]);
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		r = rcpts_load(db, &v[i]);
	sdb_read_end(db);
	if (r < 0) {
		store_queue_list_free(&v, n);
		return sq_fail(s, error_r, "queue list");
	}
	*entries_r = v;
	*count_r = n;
	return 0;
}

int sq_queue_list(struct store *st, struct store_queue_entry **entries_r, size_t *count_r,
		  const char **error_r)
{
	struct sq_store *s = sq(st);
	if (sdb_read_begin(&s->db) < 0)
		return sq_fail(s, error_r, "queue list");
	sqlite3_stmt *q = sdb_q(&s->db,
				"SELECT " Q_COLS " FROM queue q WHERE EXISTS (SELECT 1 FROM queue_rcpts r"
				" WHERE r.queue_id = q.id AND r.state = 0) ORDER BY q.created, q.id",
				"");
	return entries_load(s, q, entries_r, count_r, error_r);
}

int sq_queue_due(struct store *st, time_t now, size_t limit, struct store_queue_entry **entries_r,
		 size_t *count_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	if (sdb_read_begin(&s->db) < 0)
		return sq_fail(s, error_r, "queue list");
	sqlite3_stmt *q =
	    sdb_q(&s->db,
		  "SELECT " Q_COLS " FROM queue q WHERE q.id IN (SELECT queue_id FROM queue_rcpts"
		  " WHERE state = 0 AND next_attempt <= ?) ORDER BY q.created, q.id LIMIT ?",
		  "ii", (int64_t)now, (int64_t)(limit > INT64_MAX ? INT64_MAX : limit));
	return entries_load(s, q, entries_r, count_r, error_r);
}

int sq_queue_next_attempt(struct store *st, time_t *when_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = sdb_q(&s->db, "SELECT min(next_attempt) FROM queue_rcpts WHERE state = 0", "");
	int r = q ? sdb_step(&s->db, q) : -1;
	if (r < 0)
		return sq_fail(s, error_r, "queue");
	int found = r == 1 && sqlite3_column_type(q, 0) != SQLITE_NULL;
	if (found)
		*when_r = (time_t)sqlite3_column_int64(q, 0);
	if (r == 1)
		sqlite3_reset(q);
	return found;
}

int sq_queue_get(struct store *st, int64_t queue_id, struct store_queue_entry *e, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	if (sdb_read_begin(db) < 0)
		return sq_fail(s, error_r, "queue");
	sqlite3_stmt *q = sdb_q(db, "SELECT " Q_COLS " FROM queue q WHERE q.id = ?", "i", queue_id);
	int r = q ? sdb_step(db, q) : -1;
	if (r == 1) {
		entry_row(q, e);
		sqlite3_reset(q);
		r = rcpts_load(db, e) < 0 ? -1 : 1;
	}
	sdb_read_end(db);
	if (r < 0) {
		store_queue_entry_clear(e);
		return sq_fail(s, error_r, "queue");
	}
	return r;
}

int sq_queue_read(struct store *st, int64_t queue_id, char **data_r, size_t *len_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q = sdb_q(&s->db, "SELECT data FROM queue_data WHERE id = ?", "i", queue_id);
	int r = q ? sdb_step(&s->db, q) : -1;
	if (r < 0)
		return sq_fail(s, error_r, "queue read");
	if (r == 0)
		return store_error(st, error_r, "no such queue entry: %lld", (long long)queue_id);
	const void *p = sqlite3_column_blob(q, 0);
	size_t n = (size_t)sqlite3_column_bytes(q, 0);
	*data_r = xmemdup(p ? p : "", n);
	*len_r = n;
	sqlite3_reset(q);
	return 0;
}

int sq_queue_remove(struct store *st, int64_t queue_id, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "queue remove");
	int r = sdb_do(db, "DELETE FROM queue_rcpts WHERE queue_id = ?", "i", queue_id);
	if (r >= 0)
		r = sdb_do(db, "DELETE FROM queue_data WHERE id = ?", "i", queue_id);
	if (r >= 0)
		r = sdb_do(db, "DELETE FROM queue WHERE id = ?", "i", queue_id);
	if (r == 0) {
		sdb_rollback(db);
		return store_error(st, error_r, "no such queue entry: %lld", (long long)queue_id);
	}
	if (r < 0 || sq_commit(s) < 0) {
		sdb_rollback(db);
		return sq_fail(s, error_r, "queue remove");
	}
	return 0;
}

int sq_queue_flush(struct store *st, int64_t queue_id, const char **error_r)
{
	struct sq_store *s = sq(st);
	int64_t now = (int64_t)time(NULL);
	int r = queue_id
		    ? sdb_do(&s->db,
			     "UPDATE queue_rcpts SET next_attempt = ? WHERE state = 0 AND queue_id = ?"
			     " AND next_attempt > ?",
			     "iii", now, queue_id, now)
		    : sdb_do(&s->db,
			     "UPDATE queue_rcpts SET next_attempt = ? WHERE state = 0 AND next_attempt > ?",
			     "ii", now, now);
	if (r < 0)
		return sq_fail(s, error_r, "queue flush");
	if (queue_id && r == 0) {
		int64_t x;
		r = sdb_i64(&s->db, &x, "SELECT id FROM queue WHERE id = ?", "i", queue_id);
		if (r < 0)
			return sq_fail(s, error_r, "queue flush");
		if (r == 0)
			return store_error(st, error_r, "no such queue entry: %lld", (long long)queue_id);
	}
	return 0;
}

int sq_queue_rcpt_update(struct store *st, int64_t rcpt_id, enum store_queue_state state, time_t next_attempt,
			 const char *last_error, const char **error_r)
{
	struct sq_store *s = sq(st);
	int r = sdb_do(&s->db,
		       "UPDATE queue_rcpts SET state = ?, next_attempt = ?, attempts = attempts + 1,"
		       " last_error = coalesce(?, last_error) WHERE id = ?",
		       "iisi", (int64_t)state, (int64_t)next_attempt, last_error, rcpt_id);
	if (r < 0)
		return sq_fail(s, error_r, "queue update");
	if (r == 0)
		return store_error(st, error_r, "no such queue recipient: %lld", (long long)rcpt_id);
	return 0;
}
