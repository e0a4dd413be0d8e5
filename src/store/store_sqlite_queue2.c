/* store_sqlite_queue2: what the outbound scheduler needs beyond the queue
 * basics of store_sqlite_queue.c: a cursor over the due entries (so that
 * a scheduler with many entries in flight still finds the others), and
 * per-entry flags (a delay notice was sent). */
#include "store/store_sqlite.h"

#include <stdlib.h>

#include "util/mem.h"

int sq_queue_due_ids(struct store *st, time_t now, int64_t after_id, size_t limit, int64_t **ids_r,
		     size_t *count_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q =
	    sdb_q(&s->db,
		  "SELECT DISTINCT queue_id FROM queue_rcpts WHERE state = 0 AND next_attempt <= ?"
		  " AND queue_id > ? ORDER BY queue_id LIMIT ?",
		  "iii", (int64_t)now, after_id, (int64_t)(limit > INT64_MAX ? INT64_MAX : limit));
	int64_t *v = NULL;
	size_t n = 0, cap = 0;
	int r = q ? 1 : -1;
	while (r == 1 && (r = sdb_step(&s->db, q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = sqlite3_column_int64(q, 0);
	}
	if (r < 0) {
		free(v);
		return sq_fail(s, error_r, "queue due");
	}
	*ids_r = v;
	*count_r = n;
	return 0;
}

int sq_queue_flags(struct store *st, int64_t queue_id, uint32_t *flags_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	int64_t f = 0;
	int r = sdb_i64(&s->db, &f, "SELECT flags FROM queue WHERE id = ?", "i", queue_id);
	if (r < 0)
		return sq_fail(s, error_r, "queue flags");
	if (r == 1)
		*flags_r = (uint32_t)f;
	return r;
}

int sq_queue_set_flags(struct store *st, int64_t queue_id, uint32_t flags, const char **error_r)
{
	struct sq_store *s = sq(st);
	int r =
	    sdb_do(&s->db, "UPDATE queue SET flags = flags | ? WHERE id = ?", "ii", (int64_t)flags, queue_id);
	if (r < 0)
		return sq_fail(s, error_r, "queue flags");
	if (r == 0)
		return store_error(st, error_r, "no such queue entry: %lld", (long long)queue_id);
	return 0;
}

int sq_queue_mark_bounced(struct store *st, int64_t queue_id, const char **error_r)
{
	struct sq_store *s = sq(st);
	if (sdb_do(&s->db,
		   "UPDATE queue_rcpts SET next_attempt = 1 WHERE queue_id = ? AND state = 2 AND "
		   "next_attempt = 0",
		   "i", queue_id) < 0)
		return sq_fail(s, error_r, "queue bounce mark");
	return 0;
}
