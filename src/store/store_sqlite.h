/* store_sqlite: what the files of the SQLite backend share. Internal to
 * src/store (the ops table is the only thing others see, via
 * store_private.h).
 *
 * Files: store_sqlite.c (connections, schema and migrations, statement
 * cache, helpers, the ops table), store_sqlite_accounts.c (domains, users,
 * aliases), store_sqlite_mailbox.c, store_sqlite_msgs.c (reading, flags,
 * expunge, copy, changes), store_sqlite_fts.c (the full-text index and
 * search), store_sqlite_deliver.c (delivery, the writer thread and group
 * commit), store_sqlite_queue.c, store_sqlite_check.c (integrity check),
 * store_sqlite_imap.c (queries for the IMAP engine).
 *
 * Connections: `db` belongs to the thread that owns the struct store (the
 * event loop, or the CLI), and so do those of message iterators (one per
 * open iterator); the writer thread opens its own. Each has its own cache of
 * prepared statements, keyed by the address of the SQL text (every
 * statement is a string literal). */
#ifndef POSTHORN_STORE_STORE_SQLITE_H
#define POSTHORN_STORE_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>

#include "store/store_private.h"

#define SDB_SLOTS 512
#define SDB_BUSY_MS 10000 /* how long a writer waits for another (the CLI) */
#define SQ_ICONN_KEEP 4	  /* idle iterator connections kept open */

struct sdb {
	sqlite3 *h;
	struct sdb_slot {
		const char *sql;
		sqlite3_stmt *stmt;
	} slots[SDB_SLOTS];
	bool full_sync; /* synchronous=FULL right now */
	char err[512];	/* the last error of this connection */
};

struct sq_job;

struct sq_store {
	struct store st; /* first: store.c frees st */
	char *path;
	struct sdb db; /* the owner thread's connection */
	/* Each open iterator reads on a connection of its own, so that its
	 * snapshot never gets in the way of a write on db (which could not
	 * start from an old snapshot), never ends with one of db's
	 * transactions, and is not shared by a newer iterator. Connections
	 * are kept for reuse in this free list. */
	struct sdb *iconn[SQ_ICONN_KEEP];
	size_t iconn_count;
	/* The writer thread (started by attach_loop). */
	bool writer_started;
	pthread_t writer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sq_job *pending, **pending_tail; /* submitted, not yet taken (mu) */
	struct sq_job *done, **done_tail;	/* committed, callback not yet run (mu) */
	bool stop;				/* (mu) */
	bool loop_wrote;			/* (mu) db wrote since the writer's last checkpoint */
	int wake_fd;				/* eventfd: the writer -> the loop */
	struct event *wake_ev;
};

/* Connections --------------------------------------------------------------- */

int sdb_open(struct sdb *db, const char *path, bool read_only, bool full_sync);
void sdb_close(struct sdb *db);
int sdb_set_full_sync(struct sdb *db, bool full);

/* Returns the cached statement for sql, reset and with bindings cleared, or
 * NULL (db->err set). */
sqlite3_stmt *sdb_prep(struct sdb *db, const char *sql);
/* Prepares and binds. fmt has one letter per parameter: 'i' int64_t,
 * 's' const char * (NULL binds NULL), 'b' const void * + size_t (a blob,
 * not copied: keep it alive until the statement is reset), 'z' int64_t
 * (a zeroblob of that size). */
sqlite3_stmt *sdb_q(struct sdb *db, const char *sql, const char *fmt, ...);
sqlite3_stmt *sdb_vq(struct sdb *db, const char *sql, const char *fmt, va_list ap);
/* 1 row, 0 done (statement reset), -1 error (db->err, statement reset). */
int sdb_step(struct sdb *db, sqlite3_stmt *s);
/* Runs a statement to the end: the number of changed rows, or -1. */
int sdb_do(struct sdb *db, const char *sql, const char *fmt, ...);
/* The first column of the first row: 1 found, 0 no row, -1 error. */
int sdb_i64(struct sdb *db, int64_t *out, const char *sql, const char *fmt, ...);
/* Plain SQL without parameters (schema, PRAGMA, transactions). */
int sdb_exec(struct sdb *db, const char *sql);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (the latter never fails loudly). */
int sdb_begin(struct sdb *db);
int sdb_commit(struct sdb *db);
void sdb_rollback(struct sdb *db);
/* A read transaction (one snapshot for several statements), ended by
 * COMMIT, which unlike ROLLBACK never aborts other statements. */
int sdb_read_begin(struct sdb *db);
void sdb_read_end(struct sdb *db);
/* The text of column i as a new string, NULL for NULL. */
char *sdb_text(sqlite3_stmt *s, int i);
/* Sets db->err to a message of ours (the SQL was fine, the data not). */
void sdb_errf(struct sdb *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The store ------------------------------------------------------------------ */

static inline struct sq_store *sq(struct store *st)
{
	return (struct sq_store *)st;
}

/* store_error() with "what: <db->err>". Returns -1. */
int sq_fail(struct sq_store *s, const char **error_r, const char *what);
/* Commits the loop connection's transaction; on failure rolls back and
 * returns -1 with db.err set. */
int sq_commit(struct sq_store *s);
/* A new UIDVALIDITY for a mailbox of user_id: greater than every earlier
 * one of that user, and normally the current time. */
int sq_new_uidvalidity(struct sdb *db, int64_t user_id, uint32_t *uv_r);
/* Inserts a mailbox row (the caller holds a transaction). */
int sq_mailbox_insert(struct sdb *db, int64_t user_id, const char *name, enum store_special_use use,
		      int64_t *id_r);
/* Drops one reference to a stored content; the last one deletes the bytes,
 * the cache and the index entry. */
int sq_content_unref(struct sdb *db, int64_t content_id);
/* Expunges every message of a mailbox (the caller holds a transaction and
 * deletes the mailbox row afterwards): contents, counters, used_bytes. */
int sq_mailbox_purge(struct sdb *db, int64_t mailbox_id, int64_t user_id);
/* The next value of the message-id counter. */
int sq_next_msg_id(struct sdb *db, int64_t *id_r);

/* Ops implemented in each file (listed in store_sqlite.c's table). */
int sq_domain_add(struct store *st, const char *domain, const char **error_r);
int sq_domain_remove(struct store *st, const char *domain, const char **error_r);
int sq_domain_exists(struct store *st, const char *domain, const char **error_r);
int sq_domain_list(struct store *st, char ***domains_r, const char **error_r);
int sq_user_add(struct store *st, const char *address, const char *domain, const char *password_hash,
		const char *scram, const char **error_r);
int sq_user_remove(struct store *st, const char *address, int64_t *user_id_r, const char **error_r);
int sq_user_set_password(struct store *st, const char *address, const char *password_hash, const char *scram,
			 const char **error_r);
int sq_user_set_quota(struct store *st, const char *address, uint64_t quota, const char **error_r);
int sq_user_set_display_name(struct store *st, int64_t user_id, const char *name, const char **error_r);
int sq_user_get(struct store *st, const char *address, struct store_user *u, const char **error_r);
int sq_user_get_by_id(struct store *st, int64_t id, struct store_user *u, const char **error_r);
int sq_user_list(struct store *st, const char *domain, struct store_user **users_r, size_t *count_r,
		 const char **error_r);
int sq_user_lookup(struct store *st, const char *address, int64_t *id_r, const char **error_r);
int sq_alias_add(struct store *st, const char *source, const char *domain, const char *target,
		 const char **error_r);
int sq_alias_remove(struct store *st, const char *source, const char *target, const char **error_r);
int sq_alias_list(struct store *st, const char *domain, struct store_alias **aliases_r, size_t *count_r,
		  const char **error_r);
int sq_alias_targets(struct store *st, const char *source, char ***targets_r, const char **error_r);

int sq_mailbox_list(struct store *st, int64_t user_id, struct store_mailbox **boxes_r, size_t *count_r,
		    const char **error_r);
int sq_mailbox_get(struct store *st, int64_t user_id, const char *name, struct store_mailbox *mb,
		   const char **error_r);
int sq_mailbox_get_by_id(struct store *st, int64_t mailbox_id, struct store_mailbox *mb,
			 const char **error_r);
int sq_mailbox_get_special(struct store *st, int64_t user_id, enum store_special_use use,
			   struct store_mailbox *mb, const char **error_r);
int sq_mailbox_create(struct store *st, int64_t user_id, const char *name, enum store_special_use use,
		      const char **error_r);
int sq_mailbox_delete(struct store *st, int64_t user_id, const char *name, const char **error_r);
int sq_mailbox_rename(struct store *st, int64_t user_id, const char *from, const char *to,
		      const char **error_r);
int sq_mailbox_subscribe(struct store *st, int64_t user_id, const char *name, bool subscribe,
			 const char **error_r);
int sq_mailbox_subscriptions(struct store *st, int64_t user_id, char ***names_r, const char **error_r);
int sq_mailbox_take_recent(struct store *st, int64_t mailbox_id, uint32_t *first_recent_uid_r, uint32_t *next_uid_r,
			   const char **error_r);

int sq_mailbox_uids(struct store *st, int64_t mailbox_id, uint32_t **uids_r, size_t *count_r,
		    const char **error_r);
struct store_msg_iter *sq_msg_iter_new(struct store *st, int64_t mailbox_id, uint32_t uid_min,
				       uint32_t uid_max, unsigned fields);
int sq_msg_iter_next(struct store_msg_iter *it, struct store_msg *m);
int sq_msg_iter_free(struct store_msg_iter *it, const char **error_r);
int sq_msg_get(struct store *st, int64_t mailbox_id, uint32_t uid, unsigned fields, struct store_msg *m,
	       const char **error_r);
int sq_msg_read(struct store *st, int64_t msg_id, char **data_r, size_t *len_r, const char **error_r);
int sq_msg_page(struct store *st, int64_t mailbox_id, bool ascending, size_t offset, size_t limit,
		struct store_msg **msgs_r, size_t *count_r, uint32_t *total_r, const char **error_r);
int sq_changes_since(struct store *st, int64_t mailbox_id, uint64_t since, struct store_changes *ch,
		     const char **error_r);
int sq_msg_set_flags(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
		     enum store_flag_mode mode, uint32_t flags, const char *keywords, uint64_t unchangedsince,
		     uint32_t **failed_r, size_t *failed_count_r, const char **error_r);
int sq_msg_expunge(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
		   const char **error_r);
int sq_msg_copy(struct store *st, int64_t src_mailbox_id, const uint32_t *uids, size_t count,
		int64_t dst_mailbox_id, bool move, uint32_t **src_uids_r, uint32_t **new_uids_r,
		const char **error_r);
int sq_quota_exceeded(struct store *st, int64_t user_id, uint64_t add, const char **error_r);
int sq_search(struct store *st, int64_t mailbox_id, enum store_search_field field, const char *query,
	      uint32_t **uids_r, size_t *count_r, const char **error_r);
int sq_search_index_flush(struct store *st, const char **error_r);
int sq_integrity_check(struct store *st, const char **error_r);
/* Registers the SQL functions the FTS source view needs (every connection). */
int sq_fts_register(sqlite3 *h);
/* Removes a content's postings and text from the index (if it was indexed);
 * call before its contents row goes. */
int sq_fts_remove(struct sdb *db, int64_t content_id);
/* Indexes up to max contents waiting in fts_pending, in one transaction of
 * its own: the number indexed (0 = none waiting), or -1. */
int sq_index_some(struct sdb *db, size_t max);

int sq_attach_loop(struct store *st, struct event_base *base, const char **error_r);
void sq_writer_stop(struct sq_store *s);
void sq_deliver_async(struct store *st, struct store_delivery *d, store_delivery_cb *cb, void *ctx);
int sq_deliver(struct store *st, struct store_delivery *d, const char **error_r);
void sq_deliver_group_async(struct store *st, struct store_delivery *const *ds, size_t count,
			    store_group_cb *cb, void *ctx);
int sq_deliver_group(struct store *st, struct store_delivery *const *ds, size_t count, const char **error_r);

int sq_queue_list(struct store *st, struct store_queue_entry **entries_r, size_t *count_r,
		  const char **error_r);
int sq_queue_due(struct store *st, time_t now, size_t limit, struct store_queue_entry **entries_r,
		 size_t *count_r, const char **error_r);
int sq_queue_next_attempt(struct store *st, time_t *when_r, const char **error_r);
int sq_queue_get(struct store *st, int64_t queue_id, struct store_queue_entry *e, const char **error_r);
int sq_queue_read(struct store *st, int64_t queue_id, char **data_r, size_t *len_r, const char **error_r);
int sq_queue_remove(struct store *st, int64_t queue_id, const char **error_r);
int sq_queue_flush(struct store *st, int64_t queue_id, const char **error_r);
int sq_queue_rcpt_update(struct store *st, int64_t rcpt_id, enum store_queue_state state, time_t next_attempt,
			 const char *last_error, const char **error_r);
int sq_queue_due_ids(struct store *st, time_t now, int64_t after_id, size_t limit, int64_t **ids_r,
		     size_t *count_r, const char **error_r);
int sq_queue_flags(struct store *st, int64_t queue_id, uint32_t *flags_r, const char **error_r);
int sq_queue_set_flags(struct store *st, int64_t queue_id, uint32_t flags, const char **error_r);
int sq_queue_mark_bounced(struct store *st, int64_t queue_id, const char **error_r);

/* store_sqlite_imap.c */
int sq_mailbox_uids_by_flag(struct store *st, int64_t mailbox_id, uint32_t flags, bool set, size_t limit,
			    uint32_t **uids_r, size_t *count_r, const char **error_r);

/* store_sqlite_web.c */
int sq_user_setting_get(struct store *st, int64_t user_id, const char *key, char **value_r,
			const char **error_r);
int sq_user_setting_set(struct store *st, int64_t user_id, const char *key, const char *value,
			const char **error_r);
int sq_contact_note(struct store *st, int64_t user_id, const char *address, const char *name,
		    const char **error_r);
int sq_contact_search(struct store *st, int64_t user_id, const char *prefix, size_t limit,
		      struct store_contact **contacts_r, size_t *count_r, const char **error_r);

#endif
