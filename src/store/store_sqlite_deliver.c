/* store_sqlite_deliver: new mail into SQLite, and the writer thread.
 *
 * A delivery is stored per local recipient as prefix + data (recipients
 * with the same prefix share one stored content), with what mime computes
 * from those bytes (ENVELOPE, BODY, BODYSTRUCTURE, the decoded summary),
 * plus an outbound queue entry for its remote recipients, all in one
 * transaction. The full-text index follows in the background: a new
 * content is put in fts_pending (store_sqlite_fts.c).
 *
 * Group commit: store_deliver_async() appends a job to a list and wakes the
 * writer thread, which takes every pending job at once, parses them (CPU
 * work off the event loop, before the transaction starts), then stores them
 * in ONE transaction on its own connection (synchronous=FULL: one fsync for
 * the batch), each job inside its own savepoint so that one failing
 * delivery does not fail the others. The finished jobs go to a done list
 * and an eventfd wakes the event loop, which runs the callbacks there, so
 * nothing is acknowledged before the COMMIT has returned. When no delivery
 * waits, the writer indexes pending contents (IX_BATCH per transaction,
 * so a delivery never waits long), and when idle it checkpoints the WAL
 * after writes of the loop's connection (whose own automatic checkpoints
 * are turned off), keeping that fsync off the event loop.
 *
 * Failures: a local recipient may fail on its own (no such mailbox, over
 * quota: checked before anything is written); any storage error fails the
 * whole job (its savepoint is rolled back).
 *
 * Groups (store_deliver_group_async, all or nothing): the jobs of a group
 * are queued together, one after the other, and the first one carries the
 * group's size and callback. The batch stores them inside one more
 * savepoint around their own; the first job not stored in full rolls the
 * whole group back (UIDNEXT and used_bytes included), and the group's
 * callback runs once, after the notices of all its jobs. Since each job
 * sees what the ones before it wrote in the transaction, the quota check
 * counts the group's earlier messages, and UIDs within a mailbox follow
 * each other. */
#include "store/store_sqlite.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mime/mime.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#define IDLE_CHECKPOINT_SEC 1
#define IX_BATCH 32 /* contents indexed per transaction (~10 ms in the write lock) */

/* What mime computed for the copy of one recipient (or shared with the
 * first recipient that has the same prefix: same_as). */
struct sq_prep {
	size_t same_as;
	char *envelope, *body, *bodystructure;
	struct mime_summary sum;
	bool have_sum;
	time_t sent_date;
	int64_t content_id; /* stored in this transaction, 0 = not yet */
};

struct sq_job {
	struct sq_job *next;
	struct store_delivery *d;
	store_delivery_cb *cb;
	void *ctx;
	time_t internaldate;
	size_t rcpt_count;	/* d may be gone after the callback */
	struct sq_prep *preps;	/* one per rcpt */
	int64_t *users, *boxes; /* where each rcpt went, for notices */
	int result;
	bool prepared;
	/* The first job of a group: the number of jobs in it (this one
	 * included, the others follow in the list) and its callback. 0 for
	 * every other job. */
	size_t group;
	store_group_cb *group_cb;
	char error[640]; /* > "storage error: " + sizeof(sdb.err) */
};

/* ---- Preparation (no database) ---------------------------------------- */

static char *steal_or_free(struct buf *b, int r)
{
	if (r < 0 || b->data == NULL) {
		buf_free(b);
		return NULL;
	}
	return buf_steal(b, NULL);
}

static void prep_parse(struct sq_prep *p, const char *prefix, const char *data, size_t len,
		       time_t internaldate)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	char *joined = NULL;
	const char *msg = data;
	size_t mlen = len;
	if (plen) {
		joined = xmalloc(plen + len + 1);
		memcpy(joined, prefix, plen);
		memcpy(joined + plen, data, len);
		msg = joined;
		mlen = plen + len;
	}
	struct mime_message *mm = mime_parse(msg, mlen);
	if (mm != NULL) {
		struct buf b;
		buf_init(&b, BUF_MAX_DEFAULT);
		p->envelope = steal_or_free(&b, mime_envelope(mm, mm->root, &b));
		buf_init(&b, BUF_MAX_DEFAULT);
		p->body = steal_or_free(&b, mime_bodystructure(mm, mm->root, false, &b));
		buf_init(&b, BUF_MAX_DEFAULT);
		p->bodystructure = steal_or_free(&b, mime_bodystructure(mm, mm->root, true, &b));
		mime_summary_build(mm, &p->sum);
		p->have_sum = true;
		mime_free(&mm);
	}
	p->sent_date = p->have_sum && p->sum.date ? p->sum.date : internaldate;
	free(joined);
}

static void prep_clear(struct sq_prep *p)
{
	free(p->envelope);
	free(p->body);
	free(p->bodystructure);
	if (p->have_sum)
		mime_summary_clear(&p->sum);
	memset(p, 0, sizeof(*p));
}

static void job_prepare(struct sq_job *job)
{
	struct store_delivery *d = job->d;
	if (job->prepared)
		return;
	job->prepared = true;
	for (size_t i = 0; i < d->rcpt_count; i++) {
		struct sq_prep *p = &job->preps[i];
		const char *pi = d->rcpts[i].prefix ? d->rcpts[i].prefix : "";
		p->same_as = i;
		for (size_t j = 0; j < i; j++) {
			const char *pj = d->rcpts[j].prefix ? d->rcpts[j].prefix : "";
			if (strcmp(pi, pj) == 0) {
				p->same_as = j;
				break;
			}
		}
		if (p->same_as == i)
			prep_parse(p, pi, d->data, d->len, job->internaldate);
	}
}

static struct sq_job *job_new(struct store_delivery *d, store_delivery_cb *cb, void *ctx)
{
	struct sq_job *job = xmalloc(sizeof(*job));
	job->d = d;
	job->cb = cb;
	job->ctx = ctx;
	job->internaldate = d->internaldate ? d->internaldate : time(NULL);
	job->rcpt_count = d->rcpt_count;
	job->preps = xcalloc(d->rcpt_count ? d->rcpt_count : 1, sizeof(*job->preps));
	job->users = xcalloc(d->rcpt_count ? d->rcpt_count : 1, sizeof(*job->users));
	job->boxes = xcalloc(d->rcpt_count ? d->rcpt_count : 1, sizeof(*job->boxes));
	job->result = -1;
	return job;
}

/* The jobs of a group, linked in order; *last_r gets the last one. */
static struct sq_job *group_new(struct store_delivery *const *ds, size_t count, store_group_cb *cb, void *ctx,
				struct sq_job **last_r)
{
	struct sq_job *first = NULL, **tail = &first, *last = NULL;
	for (size_t i = 0; i < count; i++) {
		last = job_new(ds[i], NULL, NULL);
		*tail = last;
		tail = &last->next;
	}
	first->group = count;
	first->group_cb = cb;
	first->ctx = ctx;
	*last_r = last;
	return first;
}

static void job_free(struct sq_job *job)
{
	for (size_t i = 0; i < job->rcpt_count; i++)
		prep_clear(&job->preps[i]);
	free(job->preps);
	free(job->users);
	free(job->boxes);
	free(job);
}

/* ---- Storing (inside the caller's transaction) ------------------------ */

static int store_content(struct sdb *db, const struct sq_prep *p, const char *prefix, const char *data,
			 size_t len, int64_t *content_id_r)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	const struct mime_summary *sm = p->have_sum ? &p->sum : NULL;
	if (sdb_do(db,
		   "INSERT INTO contents(refs, size, envelope, body, bodystructure, subject, from_disp, "
		   "from_addr,"
		   " to_disp, to_addr, cc, message_id, in_reply_to, refs_hdr, snippet, has_attachments)"
		   " VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		   "isssssssssssssi", (int64_t)(plen + len), p->envelope, p->body, p->bodystructure,
		   sm ? sm->subject : NULL, sm ? sm->from : NULL, sm ? sm->from_addr : NULL,
		   sm ? sm->to : NULL, sm ? sm->to_addr : NULL, sm ? sm->cc : NULL,
		   sm ? sm->message_id : NULL, sm ? sm->in_reply_to : NULL, sm ? sm->references : NULL,
		   sm ? sm->snippet : NULL, (int64_t)(sm && sm->has_attachments)) < 0)
		return -1;
	int64_t cid = sqlite3_last_insert_rowid(db->h);
	if (plen == 0) {
		if (sdb_do(db, "INSERT INTO blobs(id, data) VALUES(?, ?)", "ib", cid, (const void *)data,
			   len) < 0)
			return -1;
	} else {
		/* prefix + data without joining them in memory once more. */
		sqlite3_blob *bl = NULL;
		if (sdb_do(db, "INSERT INTO blobs(id, data) VALUES(?, ?)", "iz", cid, (int64_t)(plen + len)) <
		    0)
			return -1;
		if (sqlite3_blob_open(db->h, "main", "blobs", "data", cid, 1, &bl) != SQLITE_OK ||
		    sqlite3_blob_write(bl, prefix, (int)plen, 0) != SQLITE_OK ||
		    (len > 0 && sqlite3_blob_write(bl, data, (int)len, (int)plen) != SQLITE_OK)) {
			sdb_errf(db, "writing the message: %s", sqlite3_errmsg(db->h));
			sqlite3_blob_close(bl);
			return -1;
		}
		if (sqlite3_blob_close(bl) != SQLITE_OK) {
			sdb_errf(db, "writing the message: %s", sqlite3_errmsg(db->h));
			return -1;
		}
	}
	if (sdb_do(db, "INSERT INTO fts_pending(content_id) VALUES(?)", "i", cid) < 0)
		return -1;
	*content_id_r = cid;
	return 0;
}

/* Where one recipient's copy goes, read in one statement. */
struct rcpt_box {
	int64_t id, user, uid, modseq;
	uint32_t uidvalidity;
	char *keywords;
};

#define RCPT_BOX_COLS                                                                                        \
	"SELECT m.id, m.user_id, m.uidnext, m.highestmodseq, m.uidvalidity, m.keywords, u.quota_bytes,"      \
	" u.used_bytes FROM mailboxes m JOIN users u ON u.id = m.user_id"

/* Checks one recipient: 1 deliverable (*b filled), 0 refused (rcpt error
 * set), -1 storage error. */
static int rcpt_check(struct sdb *db, struct store_delivery_rcpt *rc, uint64_t size, struct rcpt_box *b)
{
	sqlite3_stmt *q;
	if (rc->mailbox_id > 0)
		q = sdb_q(db, RCPT_BOX_COLS " WHERE m.id = ?", "i", rc->mailbox_id);
	else if (rc->user_id > 0)
		q = sdb_q(db, RCPT_BOX_COLS " WHERE m.user_id = ? AND m.name = 'INBOX'", "i", rc->user_id);
	else
		q = NULL;
	int r = q ? sdb_step(db, q) : 0;
	if (r < 0)
		return -1;
	if (r == 0 || (rc->user_id > 0 && sqlite3_column_int64(q, 1) != rc->user_id)) {
		rc->error = rc->mailbox_id > 0 ? "no such mailbox" : "no such user";
		rc->no_mailbox = true;
		if (r == 1)
			sqlite3_reset(q);
		return 0;
	}
	b->id = sqlite3_column_int64(q, 0);
	b->user = sqlite3_column_int64(q, 1);
	b->uid = sqlite3_column_int64(q, 2);
	b->modseq = sqlite3_column_int64(q, 3) + 1;
	b->uidvalidity = (uint32_t)sqlite3_column_int64(q, 4);
	uint64_t quota = (uint64_t)sqlite3_column_int64(q, 6), used = (uint64_t)sqlite3_column_int64(q, 7);
	b->keywords = rc->keywords ? sdb_text(q, 5) : NULL;
	sqlite3_reset(q);
	uint64_t limit = quota;
	if (rc->quota_grace && used < quota)
		limit = quota + quota / 10;
	if (quota > 0 && (size > limit || used > limit - size)) {
		rc->error = "quota exceeded";
		rc->over_quota = true;
		return 0;
	}
	if (b->uid >= UINT32_MAX) {
		rc->error = "the mailbox has used up its UIDs";
		return 0;
	}
	return 1;
}

static int store_rcpt(struct sdb *db, struct sq_job *job, size_t i)
{
	struct store_delivery *d = job->d;
	struct store_delivery_rcpt *rc = &d->rcpts[i];
	struct sq_prep *p = &job->preps[job->preps[i].same_as];
	uint64_t size = (rc->prefix ? strlen(rc->prefix) : 0) + d->len;
	struct rcpt_box b = {0};
	int r = rcpt_check(db, rc, size, &b);
	if (r <= 0) {
		free(b.keywords);
		return r;
	}
	int64_t id;
	char *kw = store_keywords_union(rc->keywords, NULL);
	char *boxkw = NULL;
	if (kw) {
		boxkw = store_keywords_union(b.keywords, kw);
		if (store_keywords_equal(boxkw, b.keywords))
			XFREE(&boxkw);
	}
	uint32_t flags = rc->flags;
	if (p->content_id == 0)
		r = store_content(db, p, rc->prefix, d->data, d->len, &p->content_id);
	else
		r = sdb_do(db, "UPDATE contents SET refs = refs + 1 WHERE id = ?", "i", p->content_id);
	if (r >= 0)
		r = sq_next_msg_id(db, &id);
	if (r >= 0)
		r = sdb_do(db,
			   "INSERT INTO msgs(mailbox_id, uid, id, modseq, flags, keywords, internaldate, "
			   "size, sent_date,"
			   " content_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			   "iiiiisiiii", b.id, b.uid, id, b.modseq, (int64_t)flags, kw,
			   (int64_t)job->internaldate, (int64_t)size, (int64_t)p->sent_date, p->content_id);
	if (r >= 0)
		r = sdb_do(
		    db,
		    "UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, messages = messages + 1,"
		    " unseen = unseen + ?, recent = recent + 1, deleted = deleted + ?, size = size + ?,"
		    " keywords = coalesce(?, keywords) WHERE id = ?",
		    "iiiiisi", b.uid + 1, b.modseq, (int64_t) !(flags & STORE_FLAG_SEEN),
		    (int64_t) !!(flags & STORE_FLAG_DELETED), (int64_t)size, boxkw, b.id);
	if (r >= 0)
		r = sdb_do(db, "UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?", "ii",
			   (int64_t)size, b.user);
	free(kw);
	free(boxkw);
	free(b.keywords);
	if (r < 0)
		return -1;
	rc->uid = (uint32_t)b.uid;
	rc->uidvalidity = b.uidvalidity;
	rc->msg_id = id;
	job->users[i] = b.user;
	job->boxes[i] = b.id;
	return 1;
}

static int store_queue_entry(struct sdb *db, struct store_delivery *d)
{
	time_t now = time(NULL);
	if (sdb_do(db, "INSERT INTO queue(mail_from, user_id, created, size) VALUES(?, ?, ?, ?)", "siii",
		   d->mail_from, d->queue_user_id, (int64_t)now, (int64_t)d->len) < 0)
		return -1;
	int64_t qid = sqlite3_last_insert_rowid(db->h);
	if (sdb_do(db, "INSERT INTO queue_data(id, data) VALUES(?, ?)", "ib", qid, (const void *)d->data,
		   d->len) < 0)
		return -1;
	for (size_t i = 0; i < d->remote_count; i++)
		if (sdb_do(db, "INSERT INTO queue_rcpts(queue_id, address, next_attempt) VALUES(?, ?, ?)",
			   "isi", qid, d->remote_rcpts[i], (int64_t)now) < 0)
			return -1;
	d->queue_id = qid;
	return 0;
}

/* Stores one job inside the open transaction, in its own savepoint. */
static void job_store(struct sdb *db, struct sq_job *job)
{
	struct store_delivery *d = job->d;
	if (d->error) {
		snprintf(job->error, sizeof(job->error), "%s", d->error);
		return;
	}
	if (sdb_exec(db, "SAVEPOINT job") < 0) {
		snprintf(job->error, sizeof(job->error), "storage error: %s", db->err);
		return;
	}
	int stored = 0;
	const char *first_error = NULL;
	for (size_t i = 0; i < d->rcpt_count; i++) {
		int r = store_rcpt(db, job, i);
		if (r < 0)
			goto fail;
		d->rcpts[i].result = r > 0 ? 0 : -1;
		if (r > 0)
			stored++;
		else if (first_error == NULL)
			first_error = d->rcpts[i].error;
	}
	if (d->remote_count > 0) {
		if (store_queue_entry(db, d) < 0)
			goto fail;
		stored++;
	}
	if (stored == 0) {
		snprintf(job->error, sizeof(job->error), "%s",
			 first_error ? first_error : "nothing to store");
		sdb_exec(db, "ROLLBACK TO job");
		sdb_exec(db, "RELEASE job");
		return;
	}
	if (sdb_exec(db, "RELEASE job") < 0)
		goto fail;
	job->result = 0;
	return;
fail:
	snprintf(job->error, sizeof(job->error), "storage error: %s", db->err);
	log_warnx("store delivery failed: %s", db->err);
	sdb_exec(db, "ROLLBACK TO job");
	sdb_exec(db, "RELEASE job");
	d->queue_id = 0;
	for (size_t i = 0; i < d->rcpt_count; i++) {
		d->rcpts[i].result = -1;
		d->rcpts[i].uid = d->rcpts[i].uidvalidity = 0;
		d->rcpts[i].msg_id = 0;
		if (d->rcpts[i].error == NULL)
			d->rcpts[i].error = "storage error";
		job->boxes[i] = 0;
	}
}

/* After a failed COMMIT nothing of the batch is stored. */
static void job_undo(struct sq_job *job, const char *why)
{
	struct store_delivery *d = job->d;
	if (job->result == 0)
		snprintf(job->error, sizeof(job->error), "storage error: %s", why);
	job->result = -1;
	d->queue_id = 0;
	for (size_t i = 0; i < d->rcpt_count; i++) {
		if (d->rcpts[i].result == 0)
			d->rcpts[i].error = "storage error";
		d->rcpts[i].result = -1;
		job->boxes[i] = 0;
	}
}

/* A job of a group that failed as a whole: nothing of it is stored. The
 * job or recipients that caused it keep their errors. */
static void group_abort(struct sq_job *job, const char *why)
{
	struct store_delivery *d = job->d;
	if (job->result == 0 || job->error[0] == '\0')
		snprintf(job->error, sizeof(job->error), "%s", why);
	job->result = -1;
	d->queue_id = 0;
	for (size_t i = 0; i < d->rcpt_count; i++) {
		struct store_delivery_rcpt *rc = &d->rcpts[i];
		if (rc->result == 0 || rc->error == NULL)
			rc->error = STORE_GROUP_ABORTED;
		rc->result = -1;
		rc->uid = rc->uidvalidity = 0;
		rc->msg_id = 0;
		job->boxes[i] = 0;
	}
}

/* Stores the group that starts at first, all or nothing, inside the open
 * transaction. Returns the job after the group. */
static struct sq_job *group_store(struct sdb *db, struct sq_job *first)
{
	struct sq_job *end = first;
	for (size_t k = 0; k < first->group; k++)
		end = end->next;
	struct sq_job *bad = NULL;
	const char *why = NULL;
	if (sdb_exec(db, "SAVEPOINT grp") < 0) {
		bad = first;
		snprintf(first->error, sizeof(first->error), "storage error: %s", db->err);
		for (struct sq_job *j = first; j != end; j = j->next)
			group_abort(j, j == bad ? first->error : STORE_GROUP_ABORTED);
		return end;
	}
	for (struct sq_job *j = first; j != end && bad == NULL; j = j->next) {
		job_store(db, j);
		if (j->result < 0) {
			bad = j;
			why = j->error;
		}
		for (size_t i = 0; bad == NULL && i < j->rcpt_count; i++) {
			if (j->d->rcpts[i].result != 0) {
				bad = j;
				why = j->d->rcpts[i].error ? j->d->rcpts[i].error : "not stored";
			}
		}
	}
	if (bad == NULL) {
		if (sdb_exec(db, "RELEASE grp") == 0)
			return end;
		bad = first;
		snprintf(first->error, sizeof(first->error), "storage error: %s", db->err);
		first->result = -1;
		why = first->error;
	}
	sdb_exec(db, "ROLLBACK TO grp");
	sdb_exec(db, "RELEASE grp");
	for (struct sq_job *j = first; j != end; j = j->next)
		group_abort(j, j == bad ? why : STORE_GROUP_ABORTED);
	return end;
}

/* Stores a list of jobs in one transaction. */
static void batch_store(struct sdb *db, struct sq_job *jobs)
{
	for (struct sq_job *j = jobs; j; j = j->next)
		if (j->d->error == NULL)
			job_prepare(j);
	if (sdb_begin(db) < 0) {
		for (struct sq_job *j = jobs; j; j = j->next)
			job_undo(j, db->err);
		return;
	}
	for (struct sq_job *j = jobs; j;) {
		if (j->group > 0) {
			j = group_store(db, j);
		} else {
			job_store(db, j);
			j = j->next;
		}
	}
	if (sdb_commit(db) < 0) {
		log_warnx("store delivery commit failed: %s", db->err);
		sdb_rollback(db);
		for (struct sq_job *j = jobs; j; j = j->next)
			job_undo(j, db->err);
	}
}

/* ---- Completions on the loop ------------------------------------------- */

/* Sets d->error and queues the change notices of what the job stored. */
static void job_notify(struct store *st, struct sq_job *job)
{
	struct store_delivery *d = job->d;
	d->error = job->result < 0 ? job->error : NULL;
	for (size_t i = 0; i < d->rcpt_count; i++)
		if (d->rcpts[i].result == 0 && job->boxes[i])
			store_notify(st, job->users[i], job->boxes[i]);
}

/* Completes one job, or the group that starts with it; returns the job
 * after it (or after the group). */
static struct sq_job *job_complete(struct sq_store *s, struct sq_job *job)
{
	if (job->group == 0) {
		struct sq_job *next = job->next;
		job_notify(&s->st, job);
		job->cb(job->ctx, job->d, job->result);
		job_free(job);
		return next;
	}
	struct sq_job *end = job;
	for (size_t k = 0; k < job->group; k++) {
		job_notify(&s->st, end);
		end = end->next;
	}
	job->group_cb(job->ctx, job->result);
	while (job != end) {
		struct sq_job *next = job->next;
		job_free(job);
		job = next;
	}
	return end;
}

static void run_done(struct sq_store *s)
{
	pthread_mutex_lock(&s->mu);
	struct sq_job *jobs = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->mu);
	while (jobs)
		jobs = job_complete(s, jobs);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sq_store *s = arg;
	uint64_t v;
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	run_done(s);
}

static void post_done(struct sq_store *s, struct sq_job *jobs)
{
	if (jobs == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	*s->done_tail = jobs;
	while (jobs->next)
		jobs = jobs->next;
	s->done_tail = &jobs->next;
	pthread_mutex_unlock(&s->mu);
	uint64_t one = 1;
	while (write(s->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* ---- The writer thread ------------------------------------------------- */

static void *writer_main(void *arg)
{
	struct sq_store *s = arg;
	struct sdb db;
	bool db_ok = sdb_open(&db, s->path, false, true) == 0;
	if (!db_ok)
		log_error("store writer cannot open the database: %s", db.err);
	bool backlog = db_ok; /* contents may wait for the index */
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->pending == NULL && !s->stop) {
			if (backlog) {
				pthread_mutex_unlock(&s->mu);
				/* Index transactions need no fsync of their own: a
				 * crash loses nothing but work, redone later. */
				int n = sdb_set_full_sync(&db, false) < 0 ? -1 : sq_index_some(&db, IX_BATCH);
				if (n < 0)
					log_warnx("store indexing: %s", db.err);
				if (sdb_set_full_sync(&db, true) < 0)
					log_warnx("store writer: %s", db.err);
				backlog = n == IX_BATCH;
				pthread_mutex_lock(&s->mu);
				continue;
			}
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += IDLE_CHECKPOINT_SEC;
			int rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
			if (rc == ETIMEDOUT && s->loop_wrote && db_ok) {
				s->loop_wrote = false;
				pthread_mutex_unlock(&s->mu);
				/* Also makes the loop's unsynced commits durable. */
				if (sdb_exec(&db, "PRAGMA wal_checkpoint(PASSIVE)") < 0)
					log_warnx("store checkpoint: %s", db.err);
				pthread_mutex_lock(&s->mu);
			}
		}
		if (s->pending == NULL)
			break; /* stop, and nothing left */
		struct sq_job *jobs = s->pending;
		s->pending = NULL;
		s->pending_tail = &s->pending;
		pthread_mutex_unlock(&s->mu);
		if (db_ok) {
			batch_store(&db, jobs);
			backlog = true;
		} else {
			for (struct sq_job *j = jobs; j; j = j->next)
				job_undo(j, db.err);
		}
		post_done(s, jobs);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	if (db_ok)
		sdb_close(&db);
	return NULL;
}

/* After every commit of the loop's connection (replacing SQLite's own
 * automatic checkpoint, which would run on the loop). */
static int loop_wal_hook(void *arg, sqlite3 *h, const char *name, int pages)
{
	struct sq_store *s = arg;
	pthread_mutex_lock(&s->mu);
	s->loop_wrote = true;
	pthread_mutex_unlock(&s->mu);
	return SQLITE_OK;
}

int sq_attach_loop(struct store *st, struct event_base *base, const char **error_r)
{
	struct sq_store *s = sq(st);
	/* The writer thread checkpoints; the loop's commits need no fsync. */
	if (sdb_set_full_sync(&s->db, false) < 0)
		return sq_fail(s, error_r, "attach");
	sqlite3_wal_hook(s->db.h, loop_wal_hook, s);
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0)
		return store_error(st, error_r, "eventfd: %s", strerror(errno));
	s->wake_ev = event_new(base, s->wake_fd, EV_READ | EV_PERSIST, wake_cb, s);
	if (s->wake_ev == NULL || event_add(s->wake_ev, NULL) < 0)
		goto fail;
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
		goto fail;
	s->writer_started = true;
	return 0;
fail:
	if (s->wake_ev)
		event_free(s->wake_ev);
	s->wake_ev = NULL;
	close(s->wake_fd);
	s->wake_fd = -1;
	return store_error(st, error_r, "cannot start the writer thread");
}

void sq_writer_stop(struct sq_store *s)
{
	if (!s->writer_started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->writer, NULL);
	s->writer_started = false;
	run_done(s);
	event_free(s->wake_ev);
	s->wake_ev = NULL;
	close(s->wake_fd);
	s->wake_fd = -1;
}

void sq_deliver_async(struct store *st, struct store_delivery *d, store_delivery_cb *cb, void *ctx)
{
	struct sq_store *s = sq(st);
	struct sq_job *job = job_new(d, cb, ctx);
	if (d->error) {
		snprintf(job->error, sizeof(job->error), "%s", d->error);
		post_done(s, job);
		return;
	}
	pthread_mutex_lock(&s->mu);
	*s->pending_tail = job;
	s->pending_tail = &job->next;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void sq_deliver_group_async(struct store *st, struct store_delivery *const *ds, size_t count,
			    store_group_cb *cb, void *ctx)
{
	struct sq_store *s = sq(st);
	struct sq_job *last;
	struct sq_job *first = group_new(ds, count, cb, ctx, &last);
	bool bad = false;
	for (struct sq_job *j = first; j; j = j->next)
		bad = bad || j->d->error != NULL;
	if (bad) {
		/* Nothing to try: report from the loop, like any completion. */
		for (struct sq_job *j = first; j; j = j->next)
			group_abort(j, j->d->error ? j->d->error : STORE_GROUP_ABORTED);
		post_done(s, first);
		return;
	}
	pthread_mutex_lock(&s->mu);
	*s->pending_tail = first;
	s->pending_tail = &last->next;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Stores jobs (one job, or one group) now, on the loop's connection, with
 * an fsync. Returns the first job's result; the jobs are freed. */
static int deliver_now(struct sq_store *s, struct sq_job *jobs, const char **error_r)
{
	struct store *st = &s->st;
	/* On the loop's connection commits are not synced: this one is. */
	bool was_full = s->db.full_sync;
	int result = -1;
	if (sdb_set_full_sync(&s->db, true) < 0) {
		sq_fail(s, error_r, "delivery");
		goto out;
	}
	batch_store(&s->db, jobs);
	if (!was_full)
		sdb_set_full_sync(&s->db, false);
	result = jobs->result;
	/* Without a writer thread nobody would index later. */
	if (result == 0 && !s->writer_started) {
		int n;
		while ((n = sq_index_some(&s->db, IX_BATCH)) == IX_BATCH)
			;
		if (n < 0)
			log_warnx("store indexing: %s", s->db.err);
	}
	const char *why = NULL;
	for (struct sq_job *j = jobs; j; j = j->next) {
		job_notify(st, j);
		if (j->result < 0 && (why == NULL || strcmp(why, STORE_GROUP_ABORTED) == 0))
			why = j->error;
	}
	if (result < 0) {
		store_error(st, error_r, "%s", why ? why : "not stored");
		for (struct sq_job *j = jobs; j; j = j->next)
			j->d->error = st->error;
	}
out:
	while (jobs) {
		struct sq_job *next = jobs->next;
		job_free(jobs);
		jobs = next;
	}
	return result;
}

int sq_deliver(struct store *st, struct store_delivery *d, const char **error_r)
{
	return deliver_now(sq(st), job_new(d, NULL, NULL), error_r);
}

int sq_deliver_group(struct store *st, struct store_delivery *const *ds, size_t count, const char **error_r)
{
	struct sq_job *last;
	return deliver_now(sq(st), group_new(ds, count, NULL, NULL, &last), error_r);
}
