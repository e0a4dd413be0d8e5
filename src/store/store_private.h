/* store_private: what a storage backend implements, and what store.c offers
 * every backend. Not for protocol engines (they include store.h only).
 *
 * A backend is a const struct store_ops, found by name in store_open(). Its
 * open() returns a struct store embedded at the start of its own state
 * (container_of style) with st->ops set; store.c then fills the common part.
 * store.c validates and canonicalises arguments (addresses, domains, mailbox
 * names) before calling an op, so ops receive canonical text; it also
 * implements recipient resolution on top of user_lookup/alias_targets and
 * the registry of change watchers.
 *
 * Every op returns what the public function of the same name returns and
 * reports errors with store_error() (a message owned by the store). */
#ifndef POSTHORN_STORE_STORE_PRIVATE_H
#define POSTHORN_STORE_STORE_PRIVATE_H

#include "store/store.h"

struct event;

struct store_notice {
	int64_t user_id;
	int64_t mailbox_id;
};

/* The part common to every backend. */
struct store {
	const struct store_ops *ops;
	struct event_base *base; /* NULL until store_attach_loop */
	bool read_only;
	char error[512]; /* the last error message */
	/* Change watchers and the notices waiting for the deferred event. */
	struct store_watch *watches;
	unsigned dispatching; /* > 0 while watchers are being called */
	bool watches_dead;    /* a watch was removed during dispatch */
	struct store_notice *notices;
	size_t notice_count, notice_cap;
	struct event *notice_ev;
	/* The queue watcher (store_queue_watch). */
	store_queue_cb *queue_cb;
	void *queue_ctx;
};

struct store_msg_iter {
	struct store *st; /* the backend allocates the rest */
};

struct store_ops {
	const char *name;
	struct store *(*open)(const struct store_options *opts, const char **error_r);
	/* Stops the writer, runs pending completions and frees the backend's
	 * resources; store.c then frees the common part and st itself (the
	 * backend allocates its state with malloc, struct store first). */
	void (*close)(struct store *st);
	int (*attach_loop)(struct store *st, struct event_base *base, const char **error_r);

	int (*domain_add)(struct store *st, const char *domain, const char **error_r);
	int (*domain_remove)(struct store *st, const char *domain, const char **error_r);
	int (*domain_exists)(struct store *st, const char *domain, const char **error_r);
	int (*domain_list)(struct store *st, char ***domains_r, const char **error_r);

	int (*user_add)(struct store *st, const char *address, const char *domain, const char *password_hash,
			const char *scram, const char **error_r);
	int (*user_remove)(struct store *st, const char *address, int64_t *user_id_r, const char **error_r);
	int (*user_set_password)(struct store *st, const char *address, const char *password_hash,
				 const char *scram, const char **error_r);
	int (*user_set_quota)(struct store *st, const char *address, uint64_t quota, const char **error_r);
	int (*user_set_display_name)(struct store *st, int64_t user_id, const char *name,
				     const char **error_r);
	int (*user_get)(struct store *st, const char *address, struct store_user *u, const char **error_r);
	int (*user_get_by_id)(struct store *st, int64_t id, struct store_user *u, const char **error_r);
	int (*user_list)(struct store *st, const char *domain, struct store_user **users_r, size_t *count_r,
			 const char **error_r);
	/* 1 and *id_r when a user has exactly this canonical address, 0 not, -1 error. */
	int (*user_lookup)(struct store *st, const char *address, int64_t *id_r, const char **error_r);

	int (*alias_add)(struct store *st, const char *source, const char *domain, const char *target,
			 const char **error_r);
	int (*alias_remove)(struct store *st, const char *source, const char *target, const char **error_r);
	int (*alias_list)(struct store *st, const char *domain, struct store_alias **aliases_r,
			  size_t *count_r, const char **error_r);
	/* The targets of a canonical source (NULL-terminated, store_strv_free),
	 * or NULL in *targets_r when source is no alias. 0 or -1. */
	int (*alias_targets)(struct store *st, const char *source, char ***targets_r, const char **error_r);

	int (*mailbox_list)(struct store *st, int64_t user_id, struct store_mailbox **boxes_r,
			    size_t *count_r, const char **error_r);
	int (*mailbox_get)(struct store *st, int64_t user_id, const char *name, struct store_mailbox *mb,
			   const char **error_r);
	int (*mailbox_get_by_id)(struct store *st, int64_t mailbox_id, struct store_mailbox *mb,
				 const char **error_r);
	int (*mailbox_get_special)(struct store *st, int64_t user_id, enum store_special_use use,
				   struct store_mailbox *mb, const char **error_r);
	int (*mailbox_create)(struct store *st, int64_t user_id, const char *name, enum store_special_use use,
			      const char **error_r);
	int (*mailbox_delete)(struct store *st, int64_t user_id, const char *name, const char **error_r);
	int (*mailbox_rename)(struct store *st, int64_t user_id, const char *from, const char *to,
			      const char **error_r);
	int (*mailbox_subscribe)(struct store *st, int64_t user_id, const char *name, bool subscribe,
				 const char **error_r);
	int (*mailbox_subscriptions)(struct store *st, int64_t user_id, char ***names_r,
				     const char **error_r);
	int (*mailbox_take_recent)(struct store *st, int64_t mailbox_id, uint32_t *first_recent_uid_r, uint32_t *next_uid_r,
				   const char **error_r);
	int (*mailbox_uids)(struct store *st, int64_t mailbox_id, uint32_t **uids_r, size_t *count_r,
			    const char **error_r);
	int (*mailbox_uids_by_flag)(struct store *st, int64_t mailbox_id, uint32_t flags, bool set, size_t limit,
				    uint32_t **uids_r, size_t *count_r, const char **error_r);

	struct store_msg_iter *(*msg_iter_new)(struct store *st, int64_t mailbox_id, uint32_t uid_min,
					       uint32_t uid_max, unsigned fields);
	int (*msg_iter_next)(struct store_msg_iter *it, struct store_msg *m);
	int (*msg_iter_free)(struct store_msg_iter *it, const char **error_r);
	int (*msg_get)(struct store *st, int64_t mailbox_id, uint32_t uid, unsigned fields,
		       struct store_msg *m, const char **error_r);
	int (*msg_read)(struct store *st, int64_t msg_id, char **data_r, size_t *len_r, const char **error_r);
	int (*msg_page)(struct store *st, int64_t mailbox_id, bool ascending, size_t offset, size_t limit,
			struct store_msg **msgs_r, size_t *count_r, uint32_t *total_r, const char **error_r);
	int (*changes_since)(struct store *st, int64_t mailbox_id, uint64_t since, struct store_changes *ch,
			     const char **error_r);
	int (*msg_set_flags)(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
			     enum store_flag_mode mode, uint32_t flags, const char *keywords,
			     uint64_t unchangedsince, uint32_t **failed_r, size_t *failed_count_r,
			     const char **error_r);
	int (*msg_expunge)(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
			   const char **error_r);
	int (*msg_copy)(struct store *st, int64_t src_mailbox_id, const uint32_t *uids, size_t count,
			int64_t dst_mailbox_id, bool move, uint32_t **src_uids_r, uint32_t **new_uids_r,
			const char **error_r);

	/* Called with a loop attached; when d->error is already set (a bad
	 * delivery), only reports that failure, from the loop. */
	void (*deliver_async)(struct store *st, struct store_delivery *d, store_delivery_cb *cb, void *ctx);
	int (*deliver)(struct store *st, struct store_delivery *d, const char **error_r);
	/* store.c has checked every delivery (d->error set on the bad ones;
	 * then the group only reports its failure, from the loop), count > 0. */
	void (*deliver_group_async)(struct store *st, struct store_delivery *const *ds, size_t count,
				    store_group_cb *cb, void *ctx);
	int (*deliver_group)(struct store *st, struct store_delivery *const *ds, size_t count,
			     const char **error_r);
	int (*quota_exceeded)(struct store *st, int64_t user_id, uint64_t add, const char **error_r);
	int (*search)(struct store *st, int64_t mailbox_id, enum store_search_field field, const char *query,
		      uint32_t **uids_r, size_t *count_r, const char **error_r);
	int (*search_index_flush)(struct store *st, const char **error_r);
	int (*integrity_check)(struct store *st, const char **error_r);

	int (*queue_list)(struct store *st, struct store_queue_entry **entries_r, size_t *count_r,
			  const char **error_r);
	int (*queue_due)(struct store *st, time_t now, size_t limit, struct store_queue_entry **entries_r,
			 size_t *count_r, const char **error_r);
	int (*queue_next_attempt)(struct store *st, time_t *when_r, const char **error_r);
	int (*queue_get)(struct store *st, int64_t queue_id, struct store_queue_entry *e,
			 const char **error_r);
	int (*queue_read)(struct store *st, int64_t queue_id, char **data_r, size_t *len_r,
			  const char **error_r);
	int (*queue_remove)(struct store *st, int64_t queue_id, const char **error_r);
	int (*queue_flush)(struct store *st, int64_t queue_id, const char **error_r);
	int (*queue_rcpt_update)(struct store *st, int64_t rcpt_id, enum store_queue_state state,
				 time_t next_attempt, const char *last_error, const char **error_r);
	int (*queue_due_ids)(struct store *st, time_t now, int64_t after_id, size_t limit, int64_t **ids_r,
			     size_t *count_r, const char **error_r);
	int (*queue_flags)(struct store *st, int64_t queue_id, uint32_t *flags_r, const char **error_r);
	int (*queue_set_flags)(struct store *st, int64_t queue_id, uint32_t flags, const char **error_r);
	int (*queue_mark_bounced)(struct store *st, int64_t queue_id, const char **error_r);
	int (*user_setting_get)(struct store *st, int64_t user_id, const char *key, char **value_r,
				const char **error_r);
	int (*user_setting_set)(struct store *st, int64_t user_id, const char *key, const char *value,
				const char **error_r);
	int (*contact_note)(struct store *st, int64_t user_id, const char *address, const char *name,
			    const char **error_r);
	int (*contact_search)(struct store *st, int64_t user_id, const char *prefix, size_t limit,
			      struct store_contact **contacts_r, size_t *count_r, const char **error_r);
};

extern const struct store_ops store_sqlite_ops;

/* Formats a message into st->error and points *error_r at it (error_r may
 * be NULL). Always returns -1, so `return store_error(...)` reads well. */
int store_error(struct store *st, const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records that a change to (user_id, mailbox_id) was committed; watchers
 * run later from the event loop. Loop thread only; a no-op without a loop. */
void store_notify(struct store *st, int64_t user_id, int64_t mailbox_id);

/* Mailbox names: validates a UTF-8 name (no empty component, no leading or
 * trailing separator, no control characters, no '*' or '%') and spells a
 * first component "inbox" in any case as "INBOX". Returns a new string or
 * NULL with *error_r set (static text). */
char *store_mailbox_name_norm(const char *name, const char **error_r);

/* 1 when s (len bytes) is valid UTF-8 without NUL, else 0. */
int store_utf8_valid(const char *s, size_t len);

/* Keyword lists (space-separated, compared case-insensitively, as IMAP
 * keywords are): the union and difference as new strings (NULL for an
 * empty result), and whether list contains kw. */
char *store_keywords_union(const char *a, const char *b);
char *store_keywords_minus(const char *a, const char *b);
bool store_keywords_equal(const char *a, const char *b);

#endif
