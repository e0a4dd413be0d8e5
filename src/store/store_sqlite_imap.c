/* store_sqlite_imap: queries the IMAP engine needs beyond the common ones
 * (see store.h): UIDs selected by flags, without building a struct
 * store_msg per message. */
#include "store/store_sqlite.h"

#include <stdlib.h>

#include "util/mem.h"

int sq_mailbox_uids_by_flag(struct store *st, int64_t mailbox_id, uint32_t flags, bool set, size_t limit,
			    uint32_t **uids_r, size_t *count_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	sqlite3_stmt *q = sdb_q(db,
				"SELECT uid FROM msgs WHERE mailbox_id = ? AND (flags & ?) = ?"
				" ORDER BY uid LIMIT ?",
				"iiii", mailbox_id, (int64_t)flags, set ? (int64_t)flags : (int64_t)0,
				limit ? (int64_t)limit : (int64_t)-1);
	if (q == NULL)
		return sq_fail(s, error_r, "uids by flag");
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = sdb_step(db, q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(q, 0);
	}
	if (r < 0) {
		free(v);
		return sq_fail(s, error_r, "uids by flag");
	}
	*uids_r = v;
	*count_r = n;
	return 0;
}
