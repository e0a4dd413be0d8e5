/* store_sqlite_msgs: reading and changing the messages of a mailbox.
 *
 * Reads of the cheap fields stay in msgs (clustered by mailbox and UID);
 * the cached ENVELOPE/BODYSTRUCTURE/summary come from contents only when
 * asked for. Writes (flags, expunge, copy, move) run in one transaction
 * each: first the affected rows are loaded into memory (point lookups for a
 * few UIDs, one range scan for many), then changed, then the mailbox
 * counters, highestmodseq and the user's used_bytes are updated by the
 * summed differences, so they stay exact. One command gets one new modseq
 * per mailbox (RFC 7162 allows that: it only asks that each STORE gets a
 * different one). */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define MSG_BASIC                                                                                            \
	"m.id, m.mailbox_id, m.uid, m.modseq, m.flags, m.keywords, m.internaldate, m.size, m.sent_date"
#define MSG_CACHE                                                                                            \
	", c.envelope, c.body, c.bodystructure, c.subject, c.from_disp, c.from_addr, c.to_disp, c.to_addr,"  \
	" c.cc, c.message_id, c.in_reply_to, c.refs_hdr, c.snippet, c.has_attachments"
#define MSG_FROM_BASIC " FROM msgs m"
#define MSG_FROM_CACHE " FROM msgs m JOIN contents c ON c.id = m.content_id"

static void msg_row(sqlite3_stmt *q, unsigned fields, struct store_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(q, 0);
	m->mailbox_id = sqlite3_column_int64(q, 1);
	m->uid = (uint32_t)sqlite3_column_int64(q, 2);
	m->modseq = (uint64_t)sqlite3_column_int64(q, 3);
	m->flags = (uint32_t)sqlite3_column_int64(q, 4);
	m->keywords = sdb_text(q, 5);
	m->internaldate = (time_t)sqlite3_column_int64(q, 6);
	m->size = (uint64_t)sqlite3_column_int64(q, 7);
	m->sent_date = (time_t)sqlite3_column_int64(q, 8);
	if (fields & STORE_FIELD_ENVELOPE)
		m->envelope = sdb_text(q, 9);
	if (fields & STORE_FIELD_STRUCTURE) {
		m->body = sdb_text(q, 10);
		m->bodystructure = sdb_text(q, 11);
	}
	if (fields & STORE_FIELD_SUMMARY) {
		m->subject = sdb_text(q, 12);
		m->from = sdb_text(q, 13);
		m->from_addr = sdb_text(q, 14);
		m->to = sdb_text(q, 15);
		m->to_addr = sdb_text(q, 16);
		m->cc = sdb_text(q, 17);
		m->message_id = sdb_text(q, 18);
		m->in_reply_to = sdb_text(q, 19);
		m->references = sdb_text(q, 20);
		m->snippet = sdb_text(q, 21);
		m->has_attachments = sqlite3_column_int(q, 22) != 0;
	}
}

/* ---- Reading ----------------------------------------------------------- */

int sq_mailbox_uids(struct store *st, int64_t mailbox_id, uint32_t **uids_r, size_t *count_r,
		    const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t n;
	/* One snapshot for the count and the list. */
	if (sdb_read_begin(db) < 0)
		return sq_fail(s, error_r, "mailbox uids");
	int r = sdb_i64(db, &n, "SELECT messages FROM mailboxes WHERE id = ?", "i", mailbox_id);
	if (r == 0) {
		sdb_read_end(db);
		return store_error(st, error_r, "no such mailbox");
	}
	sqlite3_stmt *q =
	    r < 0 ? NULL
		  : sdb_q(db, "SELECT uid FROM msgs WHERE mailbox_id = ? ORDER BY uid", "i", mailbox_id);
	if (q == NULL) {
		sdb_read_end(db);
		return sq_fail(s, error_r, "mailbox uids");
	}
	size_t cap = n > 0 ? (size_t)n : 1, count = 0;
	uint32_t *v = xcalloc(cap, sizeof(*v));
	while ((r = sdb_step(db, q)) == 1) {
		if (count == cap) {
			cap *= 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[count++] = (uint32_t)sqlite3_column_int64(q, 0);
	}
	sdb_read_end(db);
	if (r < 0) {
		free(v);
		return sq_fail(s, error_r, "mailbox uids");
	}
	*uids_r = v;
	*count_r = count;
	return 0;
}

struct sq_iter {
	struct store_msg_iter base;
	struct sdb *conn; /* its own connection (see struct sq_store) */
	sqlite3_stmt *q;
	unsigned fields;
	struct store_msg *last; /* the caller's struct we filled last */
	bool failed;
};

struct store_msg_iter *sq_msg_iter_new(struct store *st, int64_t mailbox_id, uint32_t uid_min,
				       uint32_t uid_max, unsigned fields)
{
	struct sq_store *s = sq(st);
	struct sq_iter *it = xmalloc(sizeof(*it));
	it->fields = fields;
	if (s->iconn_count > 0) {
		it->conn = s->iconn[--s->iconn_count];
	} else {
		it->conn = xmalloc(sizeof(*it->conn));
		if (sdb_open(it->conn, s->path, st->read_only, false) < 0) {
			sdb_errf(&s->db, "%s", it->conn->err);
			free(it->conn);
			it->conn = NULL;
			it->failed = true;
			return &it->base;
		}
	}
	const char *sql = fields == STORE_FIELD_BASIC
			      ? "SELECT " MSG_BASIC MSG_FROM_BASIC
				" WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid"
			      : "SELECT " MSG_BASIC MSG_CACHE MSG_FROM_CACHE
				" WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid";
	/* Cached on the pooled connection: an IMAP FETCH opens an iterator per
	 * batch, and preparing the statement each time was 7% of the loop's
	 * time under load (bench/imap). Reset, never finalized, after use. */
	it->q = sdb_q(it->conn, sql, "iii", mailbox_id, (int64_t)uid_min, (int64_t)uid_max);
	if (it->q == NULL) {
		sdb_errf(&s->db, "%s", it->conn->err);
		it->failed = true;
	}
	return &it->base;
}

int sq_msg_iter_next(struct store_msg_iter *base, struct store_msg *m)
{
	struct sq_iter *it = (struct sq_iter *)base;
	struct sq_store *s = sq(base->st);
	if (it->last) {
		store_msg_clear(it->last);
		it->last = NULL;
	}
	memset(m, 0, sizeof(*m));
	if (it->failed || it->q == NULL)
		return -1;
	int r = sdb_step(it->conn, it->q);
	if (r < 0) {
		sdb_errf(&s->db, "%s", it->conn->err);
		it->failed = true;
		return -1;
	}
	if (r == 0) {
		it->q = NULL; /* sdb_step reset it */
		return 0;
	}
	msg_row(it->q, it->fields, m);
	it->last = m;
	return 1;
}

int sq_msg_iter_free(struct store_msg_iter *base, const char **error_r)
{
	struct sq_iter *it = (struct sq_iter *)base;
	struct sq_store *s = sq(base->st);
	if (it->last)
		store_msg_clear(it->last);
	if (it->q)
		sqlite3_reset(it->q); /* ends the read snapshot; the statement stays cached */
	if (it->conn && s->iconn_count < SQ_ICONN_KEEP) {
		s->iconn[s->iconn_count++] = it->conn;
	} else if (it->conn) {
		sdb_close(it->conn);
		free(it->conn);
	}
	bool failed = it->failed;
	free(it);
	if (failed)
		return sq_fail(s, error_r, "message list");
	return 0;
}

int sq_msg_get(struct store *st, int64_t mailbox_id, uint32_t uid, unsigned fields, struct store_msg *m,
	       const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q =
	    fields == STORE_FIELD_BASIC
		? sdb_q(&s->db, "SELECT " MSG_BASIC MSG_FROM_BASIC " WHERE m.mailbox_id = ? AND m.uid = ?",
			"ii", mailbox_id, (int64_t)uid)
		: sdb_q(&s->db,
			"SELECT " MSG_BASIC MSG_CACHE MSG_FROM_CACHE " WHERE m.mailbox_id = ? AND m.uid = ?",
			"ii", mailbox_id, (int64_t)uid);
	if (q == NULL)
		return sq_fail(s, error_r, "message lookup");
	int r = sdb_step(&s->db, q);
	if (r < 0)
		return sq_fail(s, error_r, "message lookup");
	if (r == 1) {
		msg_row(q, fields, m);
		sqlite3_reset(q);
	}
	return r;
}

int sq_msg_read(struct store *st, int64_t msg_id, char **data_r, size_t *len_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q =
	    sdb_q(&s->db, "SELECT b.data FROM msgs m JOIN blobs b ON b.id = m.content_id WHERE m.id = ?", "i",
		  msg_id);
	if (q == NULL)
		return sq_fail(s, error_r, "message read");
	int r = sdb_step(&s->db, q);
	if (r < 0)
		return sq_fail(s, error_r, "message read");
	if (r == 1) {
		const void *p = sqlite3_column_blob(q, 0);
		size_t n = (size_t)sqlite3_column_bytes(q, 0);
		*data_r = xmemdup(p ? p : "", n);
		*len_r = n;
		sqlite3_reset(q);
	}
	return r;
}

int sq_msg_page(struct store *st, int64_t mailbox_id, bool ascending, size_t offset, size_t limit,
		struct store_msg **msgs_r, size_t *count_r, uint32_t *total_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t total;
	if (sdb_read_begin(db) < 0)
		return sq_fail(s, error_r, "message page");
	int r = sdb_i64(db, &total, "SELECT messages FROM mailboxes WHERE id = ?", "i", mailbox_id);
	if (r == 0) {
		sdb_read_end(db);
		return store_error(st, error_r, "no such mailbox");
	}
	/* The rows skipped by OFFSET are walked on the (mailbox_id, sent_date,
	 * uid) index alone; only the page's rows are joined. */
	sqlite3_stmt *q = NULL;
	if (r > 0)
		q = ascending
			? sdb_q(db,
				"SELECT " MSG_BASIC MSG_CACHE
				" FROM (SELECT uid FROM msgs WHERE mailbox_id = ?1"
				" ORDER BY sent_date, uid LIMIT ?2 OFFSET ?3) p"
				" JOIN msgs m ON m.mailbox_id = ?1 AND m.uid = p.uid"
				" JOIN contents c ON c.id = m.content_id ORDER BY m.sent_date, m.uid",
				"iii", mailbox_id, (int64_t)limit, (int64_t)offset)
			: sdb_q(
			      db,
			      "SELECT " MSG_BASIC MSG_CACHE
			      " FROM (SELECT uid FROM msgs WHERE mailbox_id = ?1"
			      " ORDER BY sent_date DESC, uid DESC LIMIT ?2 OFFSET ?3) p"
			      " JOIN msgs m ON m.mailbox_id = ?1 AND m.uid = p.uid"
			      " JOIN contents c ON c.id = m.content_id ORDER BY m.sent_date DESC, m.uid DESC",
			      "iii", mailbox_id, (int64_t)limit, (int64_t)offset);
	if (q == NULL) {
		sdb_read_end(db);
		return sq_fail(s, error_r, "message page");
	}
	struct store_msg *v = xcalloc(limit ? limit : 1, sizeof(*v));
	size_t n = 0;
	while (n < limit && (r = sdb_step(db, q)) == 1)
		msg_row(q, STORE_FIELD_SUMMARY, &v[n++]);
	sqlite3_reset(q);
	sdb_read_end(db);
	if (r < 0) {
		store_msg_list_free(&v, n);
		return sq_fail(s, error_r, "message page");
	}
	*msgs_r = v;
	*count_r = n;
	*total_r = (uint32_t)total;
	return 0;
}

int sq_changes_since(struct store *st, int64_t mailbox_id, uint64_t since, struct store_changes *ch,
		     const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	int64_t hms;
	if (since > INT64_MAX)
		since = INT64_MAX;
	if (sdb_read_begin(db) < 0)
		return sq_fail(s, error_r, "changes");
	int64_t messages = 0, changed = 0;
	sqlite3_stmt *q =
	    sdb_q(db, "SELECT highestmodseq, messages FROM mailboxes WHERE id = ?", "i", mailbox_id);
	int r = q ? sdb_step(db, q) : -1;
	if (r == 0) {
		sdb_read_end(db);
		return store_error(st, error_r, "no such mailbox");
	}
	if (r > 0) {
		hms = sqlite3_column_int64(q, 0);
		messages = sqlite3_column_int64(q, 1);
		sqlite3_reset(q);
		/* Counting on the index alone is cheap. A few changes: find them
		 * through the index (left alone, SQLite walks the whole mailbox
		 * in UID order to spare itself a sort); many: walk the mailbox. */
		r = sdb_i64(
		    db, &changed,
		    "SELECT count(*) FROM msgs INDEXED BY msgs_modseq WHERE mailbox_id = ? AND modseq > ?",
		    "ii", mailbox_id, (int64_t)since);
	}
	q = NULL;
	if (r > 0)
		q = changed * 8 < messages
			? sdb_q(db,
				"SELECT " MSG_BASIC " FROM msgs m INDEXED BY msgs_modseq"
				" WHERE m.mailbox_id = ? AND m.modseq > ? ORDER BY m.uid",
				"ii", mailbox_id, (int64_t)since)
			: sdb_q(db,
				"SELECT " MSG_BASIC MSG_FROM_BASIC " WHERE m.mailbox_id = ? AND m.modseq > ?"
				" ORDER BY m.uid",
				"ii", mailbox_id, (int64_t)since);
	size_t cap = 0;
	if (q != NULL) {
		while ((r = sdb_step(db, q)) == 1) {
			if (ch->changed_count == cap) {
				cap = cap ? cap * 2 : 16;
				ch->changed = xreallocarray(ch->changed, cap, sizeof(*ch->changed));
			}
			msg_row(q, STORE_FIELD_BASIC, &ch->changed[ch->changed_count++]);
		}
		q = r < 0 ? NULL
			  : sdb_q(db,
				  "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
				  "ii", mailbox_id, (int64_t)since);
	}
	cap = 0;
	if (q != NULL) {
		while ((r = sdb_step(db, q)) == 1) {
			if (ch->expunged_count == cap) {
				cap = cap ? cap * 2 : 16;
				ch->expunged = xreallocarray(ch->expunged, cap, sizeof(*ch->expunged));
			}
			ch->expunged[ch->expunged_count++] = (uint32_t)sqlite3_column_int64(q, 0);
		}
	}
	sdb_read_end(db);
	if (q == NULL || r < 0) {
		store_changes_clear(ch);
		return sq_fail(s, error_r, "changes");
	}
	ch->highestmodseq = (uint64_t)hms;
	return 0;
}

/* ---- Loading rows for a change ---------------------------------------- */

struct row {
	int64_t id, modseq, internaldate, size, sent_date, content_id;
	uint32_t uid, flags;
	char *keywords;
};

#define ROW_COLS "id, uid, modseq, flags, keywords, internaldate, size, sent_date, content_id"

static void row_read(sqlite3_stmt *q, struct row *r)
{
	r->id = sqlite3_column_int64(q, 0);
	r->uid = (uint32_t)sqlite3_column_int64(q, 1);
	r->modseq = sqlite3_column_int64(q, 2);
	r->flags = (uint32_t)sqlite3_column_int64(q, 3);
	r->keywords = sdb_text(q, 4);
	r->internaldate = sqlite3_column_int64(q, 5);
	r->size = sqlite3_column_int64(q, 6);
	r->sent_date = sqlite3_column_int64(q, 7);
	r->content_id = sqlite3_column_int64(q, 8);
}

static void rows_free(struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].keywords);
	free(rows);
}

/* The existing messages among uids (ascending), in UID order. */
static int rows_load(struct sdb *db, int64_t mailbox_id, const uint32_t *uids, size_t count,
		     struct row **rows_r, size_t *n_r)
{
	struct row *rows = xcalloc(count, sizeof(*rows));
	size_t n = 0;
	int r = 0;
	if (count < 64) {
		for (size_t i = 0; i < count && r >= 0; i++) {
			sqlite3_stmt *q =
			    sdb_q(db, "SELECT " ROW_COLS " FROM msgs WHERE mailbox_id = ? AND uid = ?", "ii",
				  mailbox_id, (int64_t)uids[i]);
			r = q ? sdb_step(db, q) : -1;
			if (r == 1) {
				row_read(q, &rows[n++]);
				sqlite3_reset(q);
			}
		}
	} else {
		/* Many UIDs: one scan of their range, merged with the list. */
		sqlite3_stmt *q =
		    sdb_q(db,
			  "SELECT " ROW_COLS " FROM msgs WHERE mailbox_id = ? AND uid BETWEEN ? AND ?"
			  " ORDER BY uid",
			  "iii", mailbox_id, (int64_t)uids[0], (int64_t)uids[count - 1]);
		size_t i = 0;
		r = q ? 1 : -1;
		while (r == 1 && (r = sdb_step(db, q)) == 1) {
			uint32_t uid = (uint32_t)sqlite3_column_int64(q, 1);
			while (i < count && uids[i] < uid)
				i++;
			if (i == count) {
				sqlite3_reset(q);
				r = 0;
				break;
			}
			if (uids[i] == uid)
				row_read(q, &rows[n++]);
		}
	}
	if (r < 0) {
		rows_free(rows, n);
		return -1;
	}
	*rows_r = rows;
	*n_r = n;
	return 0;
}

struct box {
	int64_t user_id, hms, uidnext, first_recent;
};

static int box_load(struct sdb *db, int64_t mailbox_id, struct box *b)
{
	sqlite3_stmt *q =
	    sdb_q(db, "SELECT user_id, highestmodseq, uidnext, first_recent_uid FROM mailboxes WHERE id = ?",
		  "i", mailbox_id);
	int r = q ? sdb_step(db, q) : -1;
	if (r == 1) {
		b->user_id = sqlite3_column_int64(q, 0);
		b->hms = sqlite3_column_int64(q, 1);
		b->uidnext = sqlite3_column_int64(q, 2);
		b->first_recent = sqlite3_column_int64(q, 3);
		sqlite3_reset(q);
	} else if (r == 0) {
		sdb_errf(db, "no such mailbox");
	}
	return r == 1 ? 0 : -1;
}

/* Differences to a mailbox's counters. */
struct delta {
	int64_t messages, unseen, recent, deleted, size;
};

static void delta_add(struct delta *d, const struct box *b, uint32_t uid, uint32_t flags, int64_t size,
		      int sign)
{
	d->messages += sign;
	if (!(flags & STORE_FLAG_SEEN))
		d->unseen += sign;
	if (flags & STORE_FLAG_DELETED)
		d->deleted += sign;
	if ((int64_t)uid >= b->first_recent)
		d->recent += sign;
	d->size += sign * size;
}

static int delta_apply(struct sdb *db, int64_t mailbox_id, const struct delta *d, int64_t hms,
		       const char *keywords)
{
	return sdb_do(db,
		      "UPDATE mailboxes SET highestmodseq = max(highestmodseq, ?), messages = messages + ?,"
		      " unseen = unseen + ?, recent = recent + ?, deleted = deleted + ?, size = size + ?,"
		      " keywords = coalesce(?, keywords) WHERE id = ?",
		      "iiiiiisi", hms, d->messages, d->unseen, d->recent, d->deleted, d->size, keywords,
		      mailbox_id) < 0
		   ? -1
		   : 0;
}

/* The mailbox's keyword list extended by more (NULL: unchanged). */
static char *box_keywords_plus(struct sdb *db, int64_t mailbox_id, const char *more)
{
	if (more == NULL || *more == '\0')
		return NULL;
	sqlite3_stmt *q = sdb_q(db, "SELECT keywords FROM mailboxes WHERE id = ?", "i", mailbox_id);
	if (q == NULL || sdb_step(db, q) != 1)
		return NULL;
	char *cur = sdb_text(q, 0);
	sqlite3_reset(q);
	char *u = store_keywords_union(cur, more);
	bool same = store_keywords_equal(cur, u);
	free(cur);
	if (same) {
		free(u);
		return NULL;
	}
	return u;
}

/* ---- Flags -------------------------------------------------------------- */

int sq_msg_set_flags(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
		     enum store_flag_mode mode, uint32_t flags, const char *keywords, uint64_t unchangedsince,
		     uint32_t **failed_r, size_t *failed_count_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	struct box b;
	struct row *rows = NULL;
	size_t n = 0, nfailed = 0;
	uint32_t *failed = NULL;
	int changed = 0;
	char *boxkw = NULL;
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "store flags");
	if (box_load(db, mailbox_id, &b) < 0 || rows_load(db, mailbox_id, uids, count, &rows, &n) < 0)
		goto fail;
	int64_t modseq = b.hms + 1;
	struct delta d = {0};
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];
		if (unchangedsince && (uint64_t)r->modseq > unchangedsince) {
			if (failed_r) {
				if (failed == NULL)
					failed = xcalloc(n, sizeof(*failed));
				failed[nfailed++] = r->uid;
			}
			continue;
		}
		uint32_t nf;
		char *nk;
		switch (mode) {
		case STORE_FLAGS_SET:
			nf = flags;
			nk = store_keywords_union(keywords, NULL);
			break;
		case STORE_FLAGS_ADD:
			nf = r->flags | flags;
			nk = store_keywords_union(r->keywords, keywords);
			break;
		default:
			nf = r->flags & ~flags;
			nk = store_keywords_minus(r->keywords, keywords);
			break;
		}
		if (nf == r->flags && store_keywords_equal(nk, r->keywords)) {
			free(nk);
			continue;
		}
		int rc = sdb_do(
		    db,
		    "UPDATE msgs SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
		    "isiii", (int64_t)nf, nk, modseq, mailbox_id, (int64_t)r->uid);
		free(nk);
		if (rc < 0)
			goto fail;
		delta_add(&d, &b, r->uid, r->flags, 0, -1);
		delta_add(&d, &b, r->uid, nf, 0, 1);
		changed++;
	}
	if (changed > 0) {
		if (mode != STORE_FLAGS_REMOVE)
			boxkw = box_keywords_plus(db, mailbox_id, keywords);
		if (delta_apply(db, mailbox_id, &d, modseq, boxkw) < 0)
			goto fail;
	}
	if (sq_commit(s) < 0)
		goto fail;
	rows_free(rows, n);
	free(boxkw);
	if (failed_r) {
		*failed_r = failed;
		*failed_count_r = nfailed;
	}
	if (changed > 0)
		store_notify(st, b.user_id, mailbox_id);
	return changed;
fail:
	sdb_rollback(db);
	rows_free(rows, n);
	free(failed);
	free(boxkw);
	return sq_fail(s, error_r, "store flags");
}

/* ---- Expunge ------------------------------------------------------------ */

int sq_msg_expunge(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
		   const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	struct box b;
	struct row *rows = NULL;
	size_t n = 0;
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, "expunge");
	if (box_load(db, mailbox_id, &b) < 0 || rows_load(db, mailbox_id, uids, count, &rows, &n) < 0)
		goto fail;
	int64_t modseq = b.hms + 1;
	struct delta d = {0};
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];
		if (sdb_do(db, "DELETE FROM msgs WHERE mailbox_id = ? AND uid = ?", "ii", mailbox_id,
			   (int64_t)r->uid) < 0 ||
		    sdb_do(db, "INSERT INTO expunged(mailbox_id, modseq, uid) VALUES(?, ?, ?)", "iii",
			   mailbox_id, modseq, (int64_t)r->uid) < 0 ||
		    sq_content_unref(db, r->content_id) < 0)
			goto fail;
		delta_add(&d, &b, r->uid, r->flags, r->size, -1);
	}
	if (n > 0 && (delta_apply(db, mailbox_id, &d, modseq, NULL) < 0 ||
		      sdb_do(db, "UPDATE users SET used_bytes = max(0, used_bytes + ?) WHERE id = ?", "ii",
			     d.size, b.user_id) < 0))
		goto fail;
	if (sq_commit(s) < 0)
		goto fail;
	rows_free(rows, n);
	if (n > 0)
		store_notify(st, b.user_id, mailbox_id);
	return (int)n;
fail:
	sdb_rollback(db);
	rows_free(rows, n);
	return sq_fail(s, error_r, "expunge");
}

/* ---- Copy and move ------------------------------------------------------- */

int sq_msg_copy(struct store *st, int64_t src_mailbox_id, const uint32_t *uids, size_t count,
		int64_t dst_mailbox_id, bool move, uint32_t **src_uids_r, uint32_t **new_uids_r,
		const char **error_r)
{
	struct sq_store *s = sq(st);
	struct sdb *db = &s->db;
	struct box sb, dbx;
	struct row *rows = NULL;
	size_t n = 0;
	uint32_t *su = NULL, *nu = NULL;
	char *kw = NULL, *boxkw = NULL;
	const char *what = move ? "move" : "copy";
	if (sdb_begin(db) < 0)
		return sq_fail(s, error_r, what);
	if (box_load(db, src_mailbox_id, &sb) < 0 || box_load(db, dst_mailbox_id, &dbx) < 0)
		goto fail;
	if (sb.user_id != dbx.user_id) {
		sdb_rollback(db);
		return store_error(st, error_r, "the mailboxes belong to different users");
	}
	if (rows_load(db, src_mailbox_id, uids, count, &rows, &n) < 0)
		goto fail;
	if (n == 0) {
		sdb_rollback(db);
		free(rows);
		return 0;
	}
	int64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += rows[i].size;
	if (!move) {
		int64_t quota = 0, used = 0;
		sqlite3_stmt *q =
		    sdb_q(db, "SELECT quota_bytes, used_bytes FROM users WHERE id = ?", "i", sb.user_id);
		if (q == NULL || sdb_step(db, q) != 1)
			goto fail;
		quota = sqlite3_column_int64(q, 0);
		used = sqlite3_column_int64(q, 1);
		sqlite3_reset(q);
		if (quota > 0 && used + total > quota) {
			sdb_rollback(db);
			rows_free(rows, n);
			return store_error(st, error_r, "quota exceeded");
		}
	}
	if (dbx.uidnext + (int64_t)n > UINT32_MAX) {
		sdb_errf(db, "UIDs of the destination are exhausted");
		goto fail;
	}
	su = xcalloc(n, sizeof(*su));
	nu = xcalloc(n, sizeof(*nu));
	int64_t dmodseq = dbx.hms + 1, smodseq = sb.hms + 1;
	if (src_mailbox_id == dst_mailbox_id)
		smodseq = dmodseq;
	int64_t uid = dbx.uidnext;
	struct delta dd = {0}, sd = {0};
	for (size_t i = 0; i < n; i++, uid++) {
		struct row *r = &rows[i];
		if (move) {
			if (sdb_do(db,
				   "UPDATE msgs SET mailbox_id = ?, uid = ?, modseq = ? WHERE mailbox_id = ? "
				   "AND uid = ?",
				   "iiiii", dst_mailbox_id, uid, dmodseq, src_mailbox_id,
				   (int64_t)r->uid) < 0 ||
			    sdb_do(db, "INSERT INTO expunged(mailbox_id, modseq, uid) VALUES(?, ?, ?)", "iii",
				   src_mailbox_id, smodseq, (int64_t)r->uid) < 0)
				goto fail;
			delta_add(&sd, &sb, r->uid, r->flags, r->size, -1);
		} else {
			int64_t id;
			if (sq_next_msg_id(db, &id) < 0 ||
			    sdb_do(db,
				   "INSERT INTO msgs(mailbox_id, uid, id, modseq, flags, keywords, "
				   "internaldate, size,"
				   " sent_date, content_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				   "iiiiisiiii", dst_mailbox_id, uid, id, dmodseq, (int64_t)r->flags,
				   r->keywords, r->internaldate, r->size, r->sent_date, r->content_id) < 0 ||
			    sdb_do(db, "UPDATE contents SET refs = refs + 1 WHERE id = ?", "i",
				   r->content_id) < 0)
				goto fail;
		}
		delta_add(&dd, &dbx, (uint32_t)uid, r->flags, r->size, 1);
		if (r->keywords) {
			char *u = store_keywords_union(kw, r->keywords);
			free(kw);
			kw = u;
		}
		su[i] = r->uid;
		nu[i] = (uint32_t)uid;
	}
	boxkw = box_keywords_plus(db, dst_mailbox_id, kw);
	if (sdb_do(db, "UPDATE mailboxes SET uidnext = ? WHERE id = ?", "ii", uid, dst_mailbox_id) < 0 ||
	    delta_apply(db, dst_mailbox_id, &dd, dmodseq, boxkw) < 0 ||
	    (move && delta_apply(db, src_mailbox_id, &sd, smodseq, NULL) < 0) ||
	    (!move && sdb_do(db, "UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?", "ii", total,
			     sb.user_id) < 0) ||
	    sq_commit(s) < 0)
		goto fail;
	rows_free(rows, n);
	free(kw);
	free(boxkw);
	*src_uids_r = su;
	*new_uids_r = nu;
	store_notify(st, dbx.user_id, dst_mailbox_id);
	if (move)
		store_notify(st, sb.user_id, src_mailbox_id);
	return (int)n;
fail:
	sdb_rollback(db);
	rows_free(rows, n);
	free(su);
	free(nu);
	free(kw);
	free(boxkw);
	return sq_fail(s, error_r, what);
}

/* ---- Quota ------------------------------------------------------------------ */

int sq_quota_exceeded(struct store *st, int64_t user_id, uint64_t add, const char **error_r)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *q =
	    sdb_q(&s->db, "SELECT quota_bytes, used_bytes FROM users WHERE id = ?", "i", user_id);
	int r = q ? sdb_step(&s->db, q) : -1;
	if (r < 0)
		return sq_fail(s, error_r, "quota");
	if (r == 0)
		return store_error(st, error_r, "no such user");
	uint64_t quota = (uint64_t)sqlite3_column_int64(q, 0);
	uint64_t used = (uint64_t)sqlite3_column_int64(q, 1);
	sqlite3_reset(q);
	return quota > 0 && (add > quota || used > quota - add);
}
