/* store_sqlite: the SQLite backend of the store, its connections and schema.
 *
 * One database file, data_dir/posthorn.db, in WAL mode with foreign keys on.
 * The schema is versioned (table schema_version) and built by a list of
 * migrations, applied in order from the version found; a database newer
 * than this program is refused. Messages are split three ways so that each
 * kind of access touches only what it needs:
 *   msgs      one narrow row per message in a mailbox, clustered by
 *             (mailbox_id, uid) (WITHOUT ROWID): UID maps, flag scans,
 *             CONDSTORE and sorting read nothing else;
 *   contents  what mime computed once at delivery (ENVELOPE, BODY,
 *             BODYSTRUCTURE, the decoded summary), shared by copies;
 *   blobs     the stored bytes, byte-exact, same id as the content;
 *   fts       the FTS5 index of the decoded text, rowid = content id,
 *             filled shortly after delivery; its text is kept compressed
 *             in fts_text (store_sqlite_fts.c).
 * A content is reference-counted: IMAP COPY adds a msgs row pointing to the
 * same content, and the last expunge deletes bytes, cache and index entry.
 *
 * Durability: the loop's connection runs synchronous=NORMAL (a commit is in
 * the WAL, safe from a process crash; it reaches the disk with the writer's
 * next fsynced commit or checkpoint), the writer thread's runs FULL; a
 * connection without a loop (the CLI, tests) runs FULL. Every connection
 * waits up to SDB_BUSY_MS for a lock held by another. */
#include "store/store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* ---- Schema ------------------------------------------------------------ */

static const char *const schema_v1[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO meta(key, value) VALUES('msg_id', 0)",
    "CREATE TABLE domains("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " created INTEGER NOT NULL)",
    "CREATE TABLE users("
    " id INTEGER PRIMARY KEY,"
    " domain_id INTEGER NOT NULL REFERENCES domains(id),"
    " address TEXT NOT NULL UNIQUE,"
    " password_hash TEXT NOT NULL,"
    " scram TEXT,"
    " display_name TEXT NOT NULL DEFAULT '',"
    " quota_bytes INTEGER NOT NULL DEFAULT 0,"
    " used_bytes INTEGER NOT NULL DEFAULT 0,"
    " last_uidvalidity INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL)",
    "CREATE INDEX users_domain ON users(domain_id)",
    "CREATE TABLE aliases("
    " id INTEGER PRIMARY KEY,"
    " domain_id INTEGER NOT NULL REFERENCES domains(id),"
    " source TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " UNIQUE(source, target))",
    "CREATE INDEX aliases_domain ON aliases(domain_id)",
    "CREATE TABLE mailboxes("
    " id INTEGER PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id),"
    " name TEXT NOT NULL,"
    " special_use INTEGER NOT NULL DEFAULT 0,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL DEFAULT 1,"
    " highestmodseq INTEGER NOT NULL DEFAULT 1,"
    " first_recent_uid INTEGER NOT NULL DEFAULT 1,"
    " messages INTEGER NOT NULL DEFAULT 0,"
    " unseen INTEGER NOT NULL DEFAULT 0,"
    " recent INTEGER NOT NULL DEFAULT 0,"
    " deleted INTEGER NOT NULL DEFAULT 0,"
    " size INTEGER NOT NULL DEFAULT 0,"
    " keywords TEXT NOT NULL DEFAULT '',"
    " UNIQUE(user_id, name))",
    "CREATE TABLE subscriptions("
    " user_id INTEGER NOT NULL REFERENCES users(id),"
    " name TEXT NOT NULL,"
    " PRIMARY KEY(user_id, name)) WITHOUT ROWID",
    "CREATE TABLE contents("
    " id INTEGER PRIMARY KEY,"
    " refs INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " envelope TEXT, body TEXT, bodystructure TEXT,"
    " subject TEXT, from_disp TEXT, from_addr TEXT, to_disp TEXT, to_addr TEXT, cc TEXT,"
    " message_id TEXT, in_reply_to TEXT, refs_hdr TEXT, snippet TEXT,"
    " has_attachments INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE blobs("
    " id INTEGER PRIMARY KEY REFERENCES contents(id),"
    " data BLOB NOT NULL)",
    "CREATE TABLE msgs("
    " mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
    " uid INTEGER NOT NULL,"
    " id INTEGER NOT NULL UNIQUE,"
    " modseq INTEGER NOT NULL,"
    " flags INTEGER NOT NULL,"
    " keywords TEXT,"
    " internaldate INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " sent_date INTEGER NOT NULL,"
    " content_id INTEGER NOT NULL REFERENCES contents(id),"
    " PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID",
    "CREATE INDEX msgs_date ON msgs(mailbox_id, sent_date)",
    "CREATE INDEX msgs_modseq ON msgs(mailbox_id, modseq)",
    "CREATE INDEX msgs_content ON msgs(content_id)",
    "CREATE TABLE expunged("
    " mailbox_id INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " PRIMARY KEY(mailbox_id, modseq, uid)) WITHOUT ROWID",
    /* The index keeps no copy of the text: its source is this view over
     * the cached headers and the zlib-compressed body text (a third of
     * the size), read again only to delete a row's postings. */
    "CREATE TABLE fts_text("
    " id INTEGER PRIMARY KEY REFERENCES contents(id),"
    " body_len INTEGER NOT NULL,"
    " body_z BLOB NOT NULL)",
    "CREATE VIEW fts_src AS SELECT c.id AS id, coalesce(c.subject, '') AS subj,"
    " coalesce(c.from_disp, '') AS sender, coalesce(c.to_disp, '') || ' ' || coalesce(c.cc, '') AS rcpt,"
    " posthorn_unz(t.body_z, t.body_len) AS body FROM contents c JOIN fts_text t ON t.id = c.id",
    "CREATE VIRTUAL TABLE fts USING fts5(subj, sender, rcpt, body, content = 'fts_src', content_rowid = 'id',"
    " tokenize = 'unicode61 remove_diacritics 2')",
    /* Fewer, larger merges: +20-40% insert speed, queries as fast. */
    "INSERT INTO fts(fts, rank) VALUES('automerge', 8)",
    "CREATE TABLE fts_pending(content_id INTEGER PRIMARY KEY REFERENCES contents(id))",
    "CREATE TABLE queue("
    " id INTEGER PRIMARY KEY,"
    " mail_from TEXT NOT NULL,"
    " user_id INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL,"
    " size INTEGER NOT NULL)",
    "CREATE TABLE queue_data("
    " id INTEGER PRIMARY KEY REFERENCES queue(id),"
    " data BLOB NOT NULL)",
    "CREATE TABLE queue_rcpts("
    " id INTEGER PRIMARY KEY,"
    " queue_id INTEGER NOT NULL REFERENCES queue(id),"
    " address TEXT NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt INTEGER NOT NULL,"
    " last_error TEXT)",
    "CREATE INDEX queue_rcpts_queue ON queue_rcpts(queue_id)",
    "CREATE INDEX queue_rcpts_due ON queue_rcpts(state, next_attempt)",
    NULL,
};

/* v2: per-entry flags of the outbound queue (a delay notice was sent). */
static const char *const schema_v2[] = {
    "ALTER TABLE queue ADD COLUMN flags INTEGER NOT NULL DEFAULT 0",
    NULL,
};

/* migrations[v - 1] brings a database from version v - 1 to v. */
/* The webmail's settings and correspondents (store_sqlite_web.c). */
static const char *const schema_v3[] = {
    "CREATE TABLE user_settings("
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " PRIMARY KEY(user_id, key)) WITHOUT ROWID",
    "CREATE TABLE contacts("
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " address TEXT NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " uses INTEGER NOT NULL DEFAULT 0,"
    " last_used INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(user_id, address)) WITHOUT ROWID",
    NULL,
};
static const char *const *const migrations[] = {schema_v1, schema_v2, schema_v3};
#define SCHEMA_VERSION ((int64_t)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- Connections ------------------------------------------------------- */

void sdb_errf(struct sdb *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
	if (n < 0)
		snprintf(db->err, sizeof(db->err), "error");
}

static void sdb_sqlerr(struct sdb *db, const char *where)
{
	sdb_errf(db, "%s (%s)", sqlite3_errmsg(db->h), where);
}

int sdb_exec(struct sdb *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sdb_errf(db, "%s (%.60s)", msg ? msg : sqlite3_errmsg(db->h), sql);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int sdb_set_full_sync(struct sdb *db, bool full)
{
	if (db->full_sync == full)
		return 0;
	if (sdb_exec(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") < 0)
		return -1;
	db->full_sync = full;
	return 0;
}

int sdb_open(struct sdb *db, const char *path, bool read_only, bool full_sync)
{
	memset(db, 0, sizeof(*db));
	int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
		    SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK) {
		sdb_errf(db, "cannot open %s: %s", path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
		sqlite3_close(db->h);
		db->h = NULL;
		return -1;
	}
	sqlite3_busy_timeout(db->h, SDB_BUSY_MS);
	sqlite3_extended_result_codes(db->h, 1);
	if (sq_fts_register(db->h) < 0) {
		sdb_errf(db, "cannot register SQL functions: %s", sqlite3_errmsg(db->h));
		sqlite3_close(db->h);
		db->h = NULL;
		return -1;
	}
	db->full_sync = !full_sync; /* force the PRAGMA below */
	if ((!read_only && sdb_exec(db, "PRAGMA journal_mode=WAL") < 0) ||
	    sdb_exec(db, "PRAGMA foreign_keys=ON") < 0 || sdb_exec(db, "PRAGMA temp_store=MEMORY") < 0 ||
	    /* No mmap: the database grows with every delivery, and SQLite then
	     * unmaps and remaps it at the next read transaction of every
	     * connection (page faults on the whole map). Measured with imaptest's
	     * load (bench/imap): 22% more IMAP commands per second without it,
	     * and UID FETCH 1:* (FLAGS) on 100,000 messages 125 -> 80 ms. */
	    sdb_exec(db, "PRAGMA cache_size=-32768") < 0 || sdb_exec(db, "PRAGMA mmap_size=0") < 0 ||
	    (!read_only && sdb_exec(db, "PRAGMA journal_size_limit=67108864") < 0) ||
	    (!read_only && sdb_set_full_sync(db, full_sync) < 0)) {
		char err[sizeof(db->err)];
		memcpy(err, db->err, sizeof(err));
		sdb_close(db);
		memcpy(db->err, err, sizeof(err));
		return -1;
	}
	return 0;
}

void sdb_close(struct sdb *db)
{
	for (size_t i = 0; i < SDB_SLOTS; i++) {
		if (db->slots[i].stmt)
			sqlite3_finalize(db->slots[i].stmt);
		db->slots[i].stmt = NULL;
		db->slots[i].sql = NULL;
	}
	if (db->h)
		sqlite3_close(db->h);
	db->h = NULL;
}

sqlite3_stmt *sdb_prep(struct sdb *db, const char *sql)
{
	size_t i = ((uintptr_t)sql >> 3) % SDB_SLOTS;
	for (size_t n = 0; n < SDB_SLOTS; n++, i = (i + 1) % SDB_SLOTS) {
		struct sdb_slot *slot = &db->slots[i];
		if (slot->sql == sql) {
			sqlite3_reset(slot->stmt);
			sqlite3_clear_bindings(slot->stmt);
			return slot->stmt;
		}
		if (slot->sql == NULL) {
			if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->stmt,
					       NULL) != SQLITE_OK) {
				sdb_sqlerr(db, sql);
				slot->stmt = NULL;
				return NULL;
			}
			slot->sql = sql;
			return slot->stmt;
		}
	}
	/* More distinct statements than slots: a programming error. */
	fatalx("store: statement cache full");
}

sqlite3_stmt *sdb_vq(struct sdb *db, const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *s = sdb_prep(db, sql);
	if (s == NULL)
		return NULL;
	int idx = 1;
	for (const char *f = fmt; *f; f++, idx++) {
		int rc;
		switch (*f) {
		case 'i':
			rc = sqlite3_bind_int64(s, idx, va_arg(ap, int64_t));
			break;
		case 's': {
			const char *t = va_arg(ap, const char *);
			rc = t ? sqlite3_bind_text(s, idx, t, -1, SQLITE_STATIC) : sqlite3_bind_null(s, idx);
			break;
		}
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(s, idx, p ? p : "", n, SQLITE_STATIC);
			break;
		}
		case 'z':
			rc = sqlite3_bind_zeroblob64(s, idx, (sqlite3_uint64)va_arg(ap, int64_t));
			break;
		default:
			fatalx("store: bad bind format '%c'", *f);
		}
		if (rc != SQLITE_OK) {
			sdb_sqlerr(db, sql);
			return NULL;
		}
	}
	return s;
}

sqlite3_stmt *sdb_q(struct sdb *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *s = sdb_vq(db, sql, fmt, ap);
	va_end(ap);
	return s;
}

int sdb_step(struct sdb *db, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	sdb_sqlerr(db, sqlite3_sql(s));
	sqlite3_reset(s);
	return -1;
}

int sdb_do(struct sdb *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *s = sdb_vq(db, sql, fmt, ap);
	va_end(ap);
	if (s == NULL)
		return -1;
	int r;
	while ((r = sdb_step(db, s)) == 1)
		;
	if (r < 0)
		return -1;
	return sqlite3_changes(db->h);
}

int sdb_i64(struct sdb *db, int64_t *out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *s = sdb_vq(db, sql, fmt, ap);
	va_end(ap);
	if (s == NULL)
		return -1;
	int r = sdb_step(db, s);
	if (r == 1) {
		*out = sqlite3_column_int64(s, 0);
		/* Finish the statement (an UPDATE ... RETURNING, or to end the
		 * implicit read transaction). */
		while ((r = sdb_step(db, s)) == 1)
			;
		return r < 0 ? -1 : 1;
	}
	return r;
}

int sdb_begin(struct sdb *db)
{
	return sdb_exec(db, "BEGIN IMMEDIATE");
}

int sdb_commit(struct sdb *db)
{
	return sdb_exec(db, "COMMIT");
}

void sdb_rollback(struct sdb *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int sdb_read_begin(struct sdb *db)
{
	return sdb_exec(db, "BEGIN");
}

void sdb_read_end(struct sdb *db)
{
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
}

char *sdb_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	if (t == NULL)
		return NULL;
	return xmemdup(t, (size_t)sqlite3_column_bytes(s, i));
}

/* ---- Shared helpers ---------------------------------------------------- */

int sq_fail(struct sq_store *s, const char **error_r, const char *what)
{
	log_warnx("store %s: %s", what, s->db.err);
	return store_error(&s->st, error_r, "%s: %s", what, s->db.err);
}

int sq_commit(struct sq_store *s)
{
	if (sdb_commit(&s->db) < 0) {
		sdb_rollback(&s->db);
		return -1;
	}
	return 0;
}

int sq_new_uidvalidity(struct sdb *db, int64_t user_id, uint32_t *uv_r)
{
	int64_t last;
	int r = sdb_i64(db, &last, "SELECT last_uidvalidity FROM users WHERE id = ?", "i", user_id);
	if (r <= 0) {
		if (r == 0)
			sdb_errf(db, "no such user");
		return -1;
	}
	int64_t uv = (int64_t)time(NULL);
	if (uv <= last)
		uv = last + 1;
	if (uv > UINT32_MAX) {
		sdb_errf(db, "UIDVALIDITY exhausted");
		return -1;
	}
	if (sdb_do(db, "UPDATE users SET last_uidvalidity = ? WHERE id = ?", "ii", uv, user_id) < 0)
		return -1;
	*uv_r = (uint32_t)uv;
	return 0;
}

int sq_mailbox_insert(struct sdb *db, int64_t user_id, const char *name, enum store_special_use use,
		      int64_t *id_r)
{
	uint32_t uv;
	if (sq_new_uidvalidity(db, user_id, &uv) < 0)
		return -1;
	if (sdb_do(db, "INSERT INTO mailboxes(user_id, name, special_use, uidvalidity) VALUES(?, ?, ?, ?)",
		   "isii", user_id, name, (int64_t)use, (int64_t)uv) < 0)
		return -1;
	if (id_r)
		*id_r = sqlite3_last_insert_rowid(db->h);
	return 0;
}

int sq_content_unref(struct sdb *db, int64_t content_id)
{
	int64_t refs;
	int r = sdb_i64(db, &refs, "UPDATE contents SET refs = refs - 1 WHERE id = ? RETURNING refs", "i",
			content_id);
	if (r < 0)
		return -1;
	if (r == 0 || refs > 0)
		return 0;
	if (sdb_do(db, "DELETE FROM fts_pending WHERE content_id = ?", "i", content_id) < 0 ||
	    sq_fts_remove(db, content_id) < 0 ||
	    sdb_do(db, "DELETE FROM blobs WHERE id = ?", "i", content_id) < 0 ||
	    sdb_do(db, "DELETE FROM contents WHERE id = ?", "i", content_id) < 0)
		return -1;
	return 0;
}

int sq_mailbox_purge(struct sdb *db, int64_t mailbox_id, int64_t user_id)
{
	sqlite3_stmt *s = sdb_q(db, "SELECT content_id FROM msgs WHERE mailbox_id = ?", "i", mailbox_id);
	if (s == NULL)
		return -1;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = sdb_step(db, s)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	if (r == 0 && sdb_do(db, "DELETE FROM msgs WHERE mailbox_id = ?", "i", mailbox_id) < 0)
		r = -1;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (sq_content_unref(db, ids[i]) < 0)
			r = -1;
	free(ids);
	if (r < 0)
		return -1;
	if (sdb_do(db,
		   "UPDATE users SET used_bytes = max(0, used_bytes -"
		   " (SELECT size FROM mailboxes WHERE id = ?)) WHERE id = ?",
		   "ii", mailbox_id, user_id) < 0 ||
	    sdb_do(db,
		   "UPDATE mailboxes SET messages = 0, unseen = 0, recent = 0, deleted = 0, size = 0"
		   " WHERE id = ?",
		   "i", mailbox_id) < 0 ||
	    sdb_do(db, "DELETE FROM expunged WHERE mailbox_id = ?", "i", mailbox_id) < 0)
		return -1;
	return 0;
}

int sq_next_msg_id(struct sdb *db, int64_t *id_r)
{
	int r =
	    sdb_i64(db, id_r, "UPDATE meta SET value = value + 1 WHERE key = 'msg_id' RETURNING value", "");
	if (r == 0)
		sdb_errf(db, "message id counter missing");
	return r > 0 ? 0 : -1;
}

/* ---- Opening and migrations -------------------------------------------- */

static int migrate(struct sdb *db, bool read_only)
{
	int64_t version = 0;
	if (read_only) {
		int r = sdb_i64(db, &version, "SELECT version FROM schema_version", "");
		if (r < 0 || version != SCHEMA_VERSION) {
			sdb_errf(db, "the database is not initialised for this version (read-only open)");
			return -1;
		}
		return 0;
	}
	if (sdb_begin(db) < 0)
		return -1;
	if (sdb_exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)") < 0)
		goto fail;
	int r = sdb_i64(db, &version, "SELECT version FROM schema_version", "");
	if (r < 0)
		goto fail;
	if (version > SCHEMA_VERSION) {
		sdb_errf(db, "the database has schema version %lld, newer than this program's %lld",
			 (long long)version, (long long)SCHEMA_VERSION);
		goto fail;
	}
	if (version == SCHEMA_VERSION) {
		sdb_rollback(db);
		return 0;
	}
	for (int64_t v = version + 1; v <= SCHEMA_VERSION; v++) {
		for (const char *const *sql = migrations[v - 1]; *sql; sql++)
			if (sdb_exec(db, *sql) < 0)
				goto fail;
		log_info("store migrated schema_version=%lld", (long long)v);
	}
	if (sdb_exec(db, "DELETE FROM schema_version") < 0 ||
	    sdb_do(db, "INSERT INTO schema_version(version) VALUES(?)", "i", SCHEMA_VERSION) < 0 ||
	    sdb_commit(db) < 0)
		goto fail;
	return 0;
fail:
	sdb_rollback(db);
	return -1;
}

static struct store *sq_open(const struct store_options *opts, const char **error_r)
{
	struct sq_store *s = xmalloc(sizeof(*s));
	s->wake_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->pending_tail = &s->pending;
	s->done_tail = &s->done;
	struct buf path;
	buf_init(&path, 4096);
	if (buf_printf(&path, "%s/posthorn.db", opts->data_dir) < 0) {
		buf_free(&path);
		store_error(&s->st, error_r, "data folder path too long");
		goto fail;
	}
	s->path = buf_steal(&path, NULL);

	struct stat sb;
	errno = 0;
	if (stat(opts->data_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		store_error(&s->st, error_r, "data folder %s: %s", opts->data_dir,
			    errno ? strerror(errno) : "not a folder");
		goto fail;
	}
	if (!opts->read_only) {
		/* Mail is private: create the file 0600 before SQLite does
		 * (its -wal and -shm files take the same mode). */
		int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			store_error(&s->st, error_r, "cannot create %s: %s", s->path, strerror(errno));
			goto fail;
		}
		close(fd);
	}
	if (sdb_open(&s->db, s->path, opts->read_only, true) < 0 || migrate(&s->db, opts->read_only) < 0) {
		store_error(&s->st, error_r, "%s", s->db.err);
		goto fail;
	}
	return &s->st;
fail:
	/* The message lives in s->st.error: copy it out before freeing. */
	{
		static __thread char err[sizeof(s->st.error)];
		memcpy(err, s->st.error, sizeof(err));
		if (error_r)
			*error_r = err;
	}
	sdb_close(&s->db);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->path);
	free(s);
	return NULL;
}

static void sq_close(struct store *st)
{
	struct sq_store *s = sq(st);
	sq_writer_stop(s);
	for (size_t i = 0; i < s->iconn_count; i++) {
		sdb_close(s->iconn[i]);
		free(s->iconn[i]);
	}
	sdb_close(&s->db);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->path);
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .attach_loop = sq_attach_loop,
    .domain_add = sq_domain_add,
    .domain_remove = sq_domain_remove,
    .domain_exists = sq_domain_exists,
    .domain_list = sq_domain_list,
    .user_add = sq_user_add,
    .user_remove = sq_user_remove,
    .user_set_password = sq_user_set_password,
    .user_set_quota = sq_user_set_quota,
    .user_set_display_name = sq_user_set_display_name,
    .user_get = sq_user_get,
    .user_get_by_id = sq_user_get_by_id,
    .user_list = sq_user_list,
    .user_lookup = sq_user_lookup,
    .alias_add = sq_alias_add,
    .alias_remove = sq_alias_remove,
    .alias_list = sq_alias_list,
    .alias_targets = sq_alias_targets,
    .mailbox_list = sq_mailbox_list,
    .mailbox_get = sq_mailbox_get,
    .mailbox_get_by_id = sq_mailbox_get_by_id,
    .mailbox_get_special = sq_mailbox_get_special,
    .mailbox_create = sq_mailbox_create,
    .mailbox_delete = sq_mailbox_delete,
    .mailbox_rename = sq_mailbox_rename,
    .mailbox_subscribe = sq_mailbox_subscribe,
    .mailbox_subscriptions = sq_mailbox_subscriptions,
    .mailbox_take_recent = sq_mailbox_take_recent,
    .mailbox_uids_by_flag = sq_mailbox_uids_by_flag,
    .mailbox_uids = sq_mailbox_uids,
    .msg_iter_new = sq_msg_iter_new,
    .msg_iter_next = sq_msg_iter_next,
    .msg_iter_free = sq_msg_iter_free,
    .msg_get = sq_msg_get,
    .msg_read = sq_msg_read,
    .msg_page = sq_msg_page,
    .changes_since = sq_changes_since,
    .msg_set_flags = sq_msg_set_flags,
    .msg_expunge = sq_msg_expunge,
    .msg_copy = sq_msg_copy,
    .deliver_async = sq_deliver_async,
    .deliver = sq_deliver,
    .deliver_group_async = sq_deliver_group_async,
    .deliver_group = sq_deliver_group,
    .quota_exceeded = sq_quota_exceeded,
    .search = sq_search,
    .search_index_flush = sq_search_index_flush,
    .integrity_check = sq_integrity_check,
    .queue_list = sq_queue_list,
    .queue_due = sq_queue_due,
    .queue_next_attempt = sq_queue_next_attempt,
    .queue_get = sq_queue_get,
    .queue_read = sq_queue_read,
    .queue_remove = sq_queue_remove,
    .queue_flush = sq_queue_flush,
    .queue_rcpt_update = sq_queue_rcpt_update,
    .queue_due_ids = sq_queue_due_ids,
    .queue_flags = sq_queue_flags,
    .queue_set_flags = sq_queue_set_flags,
    .queue_mark_bounced = sq_queue_mark_bounced,
    .user_setting_get = sq_user_setting_get,
    .user_setting_set = sq_user_setting_set,
    .contact_note = sq_contact_note,
    .contact_search = sq_contact_search,
};
