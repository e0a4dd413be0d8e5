/* store_sqlite_check: store_integrity_check() for SQLite.
 *
 * Beyond SQLite's own checks (b-trees, foreign keys, the FTS5 index's
 * internal structure) this recomputes everything the store keeps as a
 * running figure and compares: mailbox counters, uidnext and highestmodseq
 * against the messages, content reference counts, users' used_bytes, and
 * the bookkeeping of the full-text index (every content is either indexed
 * or pending, and the index holds exactly the indexed ones). It reads the
 * whole database: for tests and `posthorn check`, not for the daemon. */
#include "store/store_sqlite.h"

#include <string.h>

/* Each query returns a row describing the first problem it finds, or no
 * row at all. */
static const struct {
	const char *what;
	const char *sql;
} checks[] = {
    {"foreign key",
     "SELECT \"table\" || ' row ' || rowid || ' -> ' || parent FROM pragma_foreign_key_check LIMIT 1"},
    {"mailbox counters",
     "SELECT b.id FROM mailboxes b LEFT JOIN (SELECT mailbox_id, count(*) AS n,"
     " sum((flags & 1) = 0) AS unseen, sum((flags & 8) <> 0) AS deleted, sum(size) AS size,"
     " max(uid) AS maxuid, max(modseq) AS maxmod FROM msgs GROUP BY mailbox_id) m ON m.mailbox_id = b.id"
     " WHERE b.messages <> coalesce(m.n, 0) OR b.unseen <> coalesce(m.unseen, 0)"
     " OR b.deleted <> coalesce(m.deleted, 0) OR b.size <> coalesce(m.size, 0)"
     " OR b.uidnext <= coalesce(m.maxuid, 0) OR b.highestmodseq < coalesce(m.maxmod, 0) LIMIT 1"},
    {"recent counter",
     "SELECT b.id FROM mailboxes b WHERE b.recent <>"
     " (SELECT count(*) FROM msgs m WHERE m.mailbox_id = b.id AND m.uid >= b.first_recent_uid) LIMIT 1"},
    {"expunge log", "SELECT e.mailbox_id FROM expunged e JOIN mailboxes b ON b.id = e.mailbox_id"
		    " WHERE e.modseq > b.highestmodseq OR e.uid >= b.uidnext LIMIT 1"},
    {"used_bytes",
     "SELECT u.id FROM users u WHERE u.used_bytes <> (SELECT coalesce(sum(m.size), 0) FROM msgs m"
     " JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = u.id) LIMIT 1"},
    {"content references",
     "SELECT c.id FROM contents c WHERE c.refs <> (SELECT count(*) FROM msgs m WHERE m.content_id = c.id)"
     " OR c.refs <= 0 LIMIT 1"},
    {"message sizes",
     "SELECT m.id FROM msgs m JOIN contents c ON c.id = m.content_id JOIN blobs b ON b.id = c.id"
     " WHERE m.size <> c.size OR length(b.data) <> c.size LIMIT 1"},
    {"stored bytes",
     "SELECT c.id FROM contents c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = c.id)"
     " UNION ALL SELECT b.id FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM contents c WHERE c.id = b.id)"
     " LIMIT 1"},
    {"index bookkeeping",
     "SELECT c.id FROM contents c WHERE (EXISTS (SELECT 1 FROM fts_text t WHERE t.id = c.id))"
     " = (EXISTS (SELECT 1 FROM fts_pending p WHERE p.content_id = c.id)) LIMIT 1"},
    {"index rows",
     "SELECT d.id FROM fts_docsize d WHERE NOT EXISTS (SELECT 1 FROM fts_text t WHERE t.id = d.id)"
     " UNION ALL SELECT t.id FROM fts_text t WHERE NOT EXISTS (SELECT 1 FROM fts_docsize d"
     " WHERE d.id = t.id) LIMIT 1"},
    {"message ids",
     "SELECT value FROM meta WHERE key = 'msg_id' AND value < (SELECT coalesce(max(id), 0) FROM msgs)"},
};

int sq_integrity_check(struct store *st, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	sqlite3_stmt *q = sdb_q(db, "PRAGMA integrity_check", "");
	int r = q ? sdb_step(db, q) : -1;
	if (r < 0)
		return sq_fail(s, error_r, "integrity check");
	if (r == 1) {
		const char *t = (const char *)sqlite3_column_text(q, 0);
		if (t == NULL || strcmp(t, "ok") != 0) {
			store_error(st, error_r, "database damaged: %s", t ? t : "?");
			sqlite3_reset(q);
			return -1;
		}
		sqlite3_reset(q);
	}
	if (sdb_do(db, "INSERT INTO fts(fts) VALUES('integrity-check')", "") < 0)
		return sq_fail(s, error_r, "full-text index damaged");
	if (sdb_read_begin(db) < 0)
		return sq_fail(s, error_r, "integrity check");
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		q = sdb_q(db, checks[i].sql, "");
		r = q ? sdb_step(db, q) : -1;
		if (r != 0) {
			sdb_read_end(db);
			if (r < 0)
				return sq_fail(s, error_r, checks[i].what);
			const char *t = (const char *)sqlite3_column_text(q, 0);
			store_error(st, error_r, "%s disagree with the data (at %s)", checks[i].what,
				    t ? t : "?");
			sqlite3_reset(q);
			return -1;
		}
	}
	sdb_read_end(db);
	return 0;
}
