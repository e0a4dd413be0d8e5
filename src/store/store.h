/* store: the one durable home of accounts, mail and the outbound queue.
 *
 * This header is all that protocol engines and the CLI see. No engine
 * touches SQL or files; the store knows no protocol. The implementation is
 * chosen by name behind struct store_ops (store_private.h); "sqlite" is the
 * only backend today (store_sqlite.c), a PostgreSQL one can be added without
 * touching any caller.
 *
 * Threads and durability
 * - A struct store is used from one thread (the event loop, or the CLI).
 * - Synchronous calls run on that thread. Reads are fast (page cache, WAL
 *   readers never block). Synchronous writes (flags, expunge, copy, mailbox
 *   and account changes) are atomic and crash-consistent; on the daemon's
 *   event-loop store they are not fsynced one by one but become durable with
 *   the next group commit (kill -9 loses nothing that returned; only a power
 *   failure could lose the last few flag changes, as with Dovecot).
 * - New mail (SMTP delivery, IMAP APPEND, queue hand-off) goes through
 *   store_deliver_async(): a writer thread commits every pending delivery in
 *   one transaction with one fsync (group commit) and only then calls each
 *   completion on the event loop. Reply 250 / OK from that callback, never
 *   earlier. store_deliver() is the synchronous, fsynced form (CLI, tests).
 * - The writer thread also builds the full-text index in the background
 *   (see store_search) and checkpoints the write-ahead log, so that no
 *   slow work runs on the event loop. Its transactions are short (one
 *   batch of deliveries, or a few dozen messages indexed); a synchronous
 *   write on the loop may wait for one of them, never for long. Another
 *   process (the CLI) holding the database is waited for (up to 10 s).
 *
 * Errors: functions return 0 (or a count, or 1 = found) on success and -1 on
 * failure with a human message in *error_r (static or owned by the store,
 * valid until the next call on that store). "Not found" is 0 where the
 * function says so, not an error.
 *
 * Memory: every structure a function fills is released with the matching
 * *_free function; strings inside belong to that structure. */
#ifndef POSTHORN_STORE_STORE_H
#define POSTHORN_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct store;

/* ---- Opening ---------------------------------------------------------- */

struct store_options {
	const char *backend;  /* "sqlite" (NULL = "sqlite") */
	const char *data_dir; /* the data folder: the sqlite backend keeps data_dir/posthorn.db */
	bool read_only;
};

/* Opens (creating and migrating on first use) the store. NULL on failure. */
struct store *store_open(const struct store_options *opts, const char **error_r);
/* Waits for pending asynchronous deliveries, stops the writer thread,
 * closes everything and sets *st to NULL. */
void store_close(struct store **st);

/* Daemon only: attaches the event loop that receives async completions and
 * change notifications, and starts the writer thread. The writer thread
 * also checkpoints the write-ahead log when the loop's connection has
 * written, so the event loop never does that slow work itself. */
int store_attach_loop(struct store *st, struct event_base *base, const char **error_r);

/* ---- Addresses -------------------------------------------------------- */

/* Canonical form of an address for lookups: the domain lower-cased (ASCII;
 * UTF-8 kept as is), the local part lower-cased (ASCII letters only: local
 * parts are case-insensitive here, as users expect). Returns a new string,
 * or NULL when addr is not local@domain. */
char *store_address_canon(const char *addr);

/* ---- Domains ---------------------------------------------------------- */

int store_domain_add(struct store *st, const char *domain, const char **error_r);
/* Refuses while the domain still has users or aliases. */
int store_domain_remove(struct store *st, const char *domain, const char **error_r);
/* 1 local, 0 not local, -1 error. */
int store_domain_exists(struct store *st, const char *domain, const char **error_r);
/* Fills a NULL-terminated array of domains, sorted; free with store_strv_free. */
int store_domain_list(struct store *st, char ***domains_r, const char **error_r);
void store_strv_free(char ***strv);

/* ---- Users ------------------------------------------------------------ */

struct store_user {
	int64_t id;
	char *address;	      /* canonical local@domain */
	char *password_hash;  /* crypt(3) string: $y$ yescrypt, $2b$ bcrypt, $6$ sha512-crypt */
	char *scram_sha256;   /* SCRAM-SHA-256 secrets (auth/scram.h format) or NULL */
	char *display_name;   /* may be "" */
	uint64_t quota_bytes; /* 0 = unlimited */
	uint64_t used_bytes;  /* sum of the sizes of all stored messages */
	time_t created;
};

/* Creates the user with INBOX, Sent, Drafts, Trash, Junk and Archive (with
 * their special-use attributes), all subscribed. The domain must exist. */
int store_user_add(struct store *st, const char *address, const char *password_hash, const char *scram_sha256,
		   const char **error_r);
/* Deletes the user, their mailboxes and messages. */
int store_user_remove(struct store *st, const char *address, const char **error_r);
int store_user_set_password(struct store *st, const char *address, const char *password_hash,
			    const char *scram_sha256, const char **error_r);
int store_user_set_quota(struct store *st, const char *address, uint64_t quota_bytes, const char **error_r);
int store_user_set_display_name(struct store *st, int64_t user_id, const char *name, const char **error_r);
/* 1 found (fills *u), 0 no such user, -1 error. address is canonicalised. */
int store_user_get(struct store *st, const char *address, struct store_user *u, const char **error_r);
int store_user_get_by_id(struct store *st, int64_t id, struct store_user *u, const char **error_r);
void store_user_clear(struct store_user *u);
/* Users of one domain (or all when domain is NULL), sorted by address. */
int store_user_list(struct store *st, const char *domain, struct store_user **users_r, size_t *count_r,
		    const char **error_r);
void store_user_list_free(struct store_user **users, size_t count);

/* ---- Aliases ---------------------------------------------------------- */

/* source is local@domain, or @domain for a catch-all; target is any address
 * (local user, another alias, or a remote address: then mail is forwarded
 * through the outbound queue). One source may have many targets. */
int store_alias_add(struct store *st, const char *source, const char *target, const char **error_r);
/* target NULL removes every target of source. 0 when nothing matched is an
 * error ("no such alias"). */
int store_alias_remove(struct store *st, const char *source, const char *target, const char **error_r);
struct store_alias {
	char *source;
	char *target;
};
int store_alias_list(struct store *st, const char *domain, struct store_alias **aliases_r, size_t *count_r,
		     const char **error_r);
void store_alias_list_free(struct store_alias **aliases, size_t count);

/* ---- Recipient resolution --------------------------------------------- */

enum store_resolve_status {
	STORE_RESOLVE_OK,	    /* targets filled */
	STORE_RESOLVE_NOT_LOCAL,    /* domain is not ours: relay question */
	STORE_RESOLVE_UNKNOWN_USER, /* our domain, nobody there */
	STORE_RESOLVE_LOOP,	    /* alias chain too deep or circular */
};

struct store_target {
	int64_t user_id; /* > 0: local user; 0: remote address */
	char *address;	 /* the user's canonical address, or the remote address */
};

struct store_resolution {
	enum store_resolve_status status;
	struct store_target *targets; /* deduplicated */
	size_t count;
};

/* Resolves an envelope recipient: exact user, then exact alias, then with
 * "+tag" removed from the local part (user+tag@d delivers to user@d), then
 * the catch-all @domain. Aliases expand recursively (depth limit 10); a
 * local target that resolves to nobody is skipped (UNKNOWN_USER only when
 * no target is left); a chain that comes back to an address already on it
 * is a LOOP. Returns 0 (see res->status) or -1 on a storage error or when
 * address is not local@domain. */
#define STORE_ALIAS_DEPTH 10
int store_resolve(struct store *st, const char *address, struct store_resolution *res, const char **error_r);
void store_resolution_clear(struct store_resolution *res);
/* 1 when address may be used as a sender by user_id: the user's own address
 * (with or without +tag) or an alias whose expansion includes the user. A
 * catch-all does not count (it would hand out every address of the domain).
 * 0 when not, -1 on error. */
int store_address_owned_by(struct store *st, const char *address, int64_t user_id, const char **error_r);

/* ---- Mailboxes -------------------------------------------------------- */

/* Hierarchy separator of mailbox names (UTF-8). "INBOX" is case-insensitive. */
#define STORE_MAILBOX_SEP '/'

enum store_special_use {
	STORE_SPECIAL_NONE = 0,
	STORE_SPECIAL_SENT,
	STORE_SPECIAL_DRAFTS,
	STORE_SPECIAL_TRASH,
	STORE_SPECIAL_JUNK,
	STORE_SPECIAL_ARCHIVE,
	STORE_SPECIAL_ALL,
	STORE_SPECIAL_FLAGGED,
};

struct store_mailbox {
	int64_t id;
	int64_t user_id;
	char *name; /* "INBOX", "Sent", "Lists/posthorn" */
	enum store_special_use special_use;
	bool subscribed;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen; /* messages without \Seen */
	uint32_t recent; /* uid >= first_recent_uid */
	uint32_t first_recent_uid;
	uint32_t deleted; /* messages with \Deleted */
	uint64_t size;	  /* sum of message sizes */
	char *keywords;	  /* every keyword ever set in the mailbox,
			   * space-separated, "" if none (IMAP FLAGS) */
};

/* The counts above are maintained on every change, so these are O(1) per
 * mailbox (IMAP STATUS, LIST-STATUS, the webmail folder list). */
int store_mailbox_list(struct store *st, int64_t user_id, struct store_mailbox **boxes_r, size_t *count_r,
		       const char **error_r);
void store_mailbox_list_free(struct store_mailbox **boxes, size_t count);
/* 1 found, 0 not found, -1 error. */
int store_mailbox_get(struct store *st, int64_t user_id, const char *name, struct store_mailbox *mb,
		      const char **error_r);
int store_mailbox_get_by_id(struct store *st, int64_t mailbox_id, struct store_mailbox *mb,
			    const char **error_r);
int store_mailbox_get_special(struct store *st, int64_t user_id, enum store_special_use use,
			      struct store_mailbox *mb, const char **error_r);
void store_mailbox_clear(struct store_mailbox *mb);
/* Creates name (and missing parents, as in IMAP CREATE). Fails if it exists. */
int store_mailbox_create(struct store *st, int64_t user_id, const char *name, enum store_special_use use,
			 const char **error_r);
/* Deletes a mailbox and its messages; INBOX cannot be deleted. */
int store_mailbox_delete(struct store *st, int64_t user_id, const char *name, const char **error_r);
/* Renames a mailbox and its children. Renaming INBOX moves all its messages
 * into a new mailbox of the new name and leaves INBOX empty (RFC 3501). */
int store_mailbox_rename(struct store *st, int64_t user_id, const char *from, const char *to,
			 const char **error_r);
/* Subscriptions are names, and may name mailboxes that do not exist. */
int store_mailbox_subscribe(struct store *st, int64_t user_id, const char *name, bool subscribe,
			    const char **error_r);
int store_mailbox_subscriptions(struct store *st, int64_t user_id, char ***names_r, const char **error_r);
/* \Recent for IMAP4rev1: returns the first UID not yet seen by any session
 * that takes recent (SELECT, not EXAMINE) and moves the mark to UIDNEXT,
 * in one transaction; *next_uid_r (if not NULL) gets that UIDNEXT. The
 * caller's recent messages are exactly [*first_recent_uid_r, *next_uid_r):
 * no other caller gets any of them. */
int store_mailbox_take_recent(struct store *st, int64_t mailbox_id, uint32_t *first_recent_uid_r,
			      uint32_t *next_uid_r, const char **error_r);

/* ---- Messages --------------------------------------------------------- */

enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
	STORE_FLAG_FORWARDED = 1 << 5, /* $Forwarded */
	STORE_FLAG_JUNK = 1 << 6,      /* $Junk */
	STORE_FLAG_NOTJUNK = 1 << 7,   /* $NotJunk */
};

/* What store_msg_iter fills (the cheap fields are always filled). */
enum store_msg_field {
	STORE_FIELD_BASIC = 0,		/* uid, modseq, flags, keywords, internaldate, size, id */
	STORE_FIELD_ENVELOPE = 1 << 0,	/* cached IMAP ENVELOPE text */
	STORE_FIELD_STRUCTURE = 1 << 1, /* cached IMAP BODY and BODYSTRUCTURE text */
	STORE_FIELD_SUMMARY = 1 << 2,	/* decoded header summary + snippet */
};

struct store_msg {
	int64_t id; /* the message's row: stable while the message exists */
	int64_t mailbox_id;
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags; /* enum store_flag */
	char *keywords; /* other keywords, space-separated, or NULL */
	time_t internaldate;
	uint64_t size; /* octets of the stored message */
	/* STORE_FIELD_ENVELOPE / STRUCTURE: produced by mime at delivery. */
	char *envelope;
	char *body; /* BODY (non-extensible) */
	char *bodystructure;
	/* STORE_FIELD_SUMMARY: decoded to UTF-8, for lists, SORT and the webmail. */
	char *subject;
	char *from;	 /* "Name <addr>" of the first From, display form */
	char *from_addr; /* addr-spec of the first From (SORT FROM uses it) */
	char *to;	 /* display form of To */
	char *to_addr;
	char *cc;
	char *message_id;
	char *in_reply_to;
	char *references;
	time_t sent_date; /* Date: header, or internaldate when absent/invalid */
	char *snippet;	  /* the first ~200 characters of text */
	bool has_attachments;
};
void store_msg_clear(struct store_msg *m);

/* All UIDs of a mailbox, ascending: IMAP's sequence-number map. Free with free(). */
int store_mailbox_uids(struct store *st, int64_t mailbox_id, uint32_t **uids_r, size_t *count_r,
		       const char **error_r);

/* UIDs (ascending) of the messages of a mailbox whose flags have every bit
 * of `flags` set (set = true) or none of them set (set = false), at most
 * limit of them (0 = all): IMAP's first unseen message, EXPUNGE's
 * \Deleted messages, flag-only searches. Free with free(). */
int store_mailbox_uids_by_flag(struct store *st, int64_t mailbox_id, uint32_t flags, bool set, size_t limit,
			       uint32_t **uids_r, size_t *count_r, const char **error_r);

/* Iterates the messages with uid_min <= uid <= uid_max, ascending by UID.
 * An iterator reads from a snapshot of its own, taken at its first next:
 * the store may be used meanwhile, writes included (they do not show in
 * the iteration). Finish it within one turn of the event loop (a snapshot
 * kept open stops WAL checkpoints) and free it before store_close().
 * store_msg_iter_new never returns NULL; errors show in next and free.
 *   struct store_msg_iter *it = store_msg_iter_new(st, mbox, 1, UINT32_MAX, STORE_FIELD_BASIC);
 *   struct store_msg m;
 *   while (store_msg_iter_next(it, &m) == 1) { ...; }   (m is cleared on each next)
 *   if (store_msg_iter_free(&it, &error) < 0) ...
 * The struct filled by next belongs to the iterator until the next call. */
struct store_msg_iter;
struct store_msg_iter *store_msg_iter_new(struct store *st, int64_t mailbox_id, uint32_t uid_min,
					  uint32_t uid_max, unsigned fields);
int store_msg_iter_next(struct store_msg_iter *it, struct store_msg *m);
int store_msg_iter_free(struct store_msg_iter **it, const char **error_r);

/* One message by UID: 1 found, 0 not found (expunged), -1 error. */
int store_msg_get(struct store *st, int64_t mailbox_id, uint32_t uid, unsigned fields, struct store_msg *m,
		  const char **error_r);
/* The stored bytes of a message (by store_msg.id), exactly as delivered.
 * *data_r is malloc'd (free() it), NUL-terminated for convenience.
 * 1 found, 0 no such message (expunged), -1 error. */
int store_msg_read(struct store *st, int64_t msg_id, char **data_r, size_t *len_r, const char **error_r);

/* The webmail's message list: up to `limit` messages of a mailbox, skipping
 * the first `offset`, sorted by sent_date (newest first unless ascending;
 * equal dates by UID), with the BASIC and SUMMARY fields. *total_r gets the
 * number of messages in the mailbox. Fills a malloc'd array (free with
 * store_msg_list_free); 0 on success, -1 on error. */
int store_msg_page(struct store *st, int64_t mailbox_id, bool ascending, size_t offset, size_t limit,
		   struct store_msg **msgs_r, size_t *count_r, uint32_t *total_r, const char **error_r);
void store_msg_list_free(struct store_msg **msgs, size_t count);

/* Messages changed (flags or added) with modseq > since, and UIDs expunged
 * with modseq > since (CONDSTORE / QRESYNC, the webmail's push). */
struct store_changes {
	struct store_msg *changed; /* BASIC fields only, ascending UID */
	size_t changed_count;
	uint32_t *expunged; /* ascending */
	size_t expunged_count;
	uint64_t highestmodseq;
};
int store_changes_since(struct store *st, int64_t mailbox_id, uint64_t since, struct store_changes *ch,
			const char **error_r);
void store_changes_clear(struct store_changes *ch);

enum store_flag_mode { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

/* Changes flags and keywords of the listed UIDs (ascending, missing ones
 * skipped). keywords: space-separated, or NULL. unchangedsince (0 = none)
 * skips messages whose modseq is greater (CONDSTORE); their UIDs go to
 * *failed_r (malloc'd, may be NULL). Messages whose flags really change get
 * a new modseq. Returns the number of messages changed, or -1. */
int store_msg_set_flags(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
			enum store_flag_mode mode, uint32_t flags, const char *keywords,
			uint64_t unchangedsince, uint32_t **failed_r, size_t *failed_count_r,
			const char **error_r);
/* Expunges the listed UIDs (ascending; missing ones skipped). Each expunged
 * UID is logged with the new modseq (store_changes_since). Returns the number
 * expunged or -1. */
int store_msg_expunge(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
		      const char **error_r);
/* Copies (or moves) the listed UIDs (ascending; missing ones skipped) into
 * dst_mailbox_id, keeping flags and internal dates. Fills *new_uids_r
 * (malloc'd, parallel to the copied source UIDs in *src_uids_r) for UIDPLUS
 * COPYUID. Both mailboxes must belong to the same user. A copy counts
 * against the quota (the stored bytes are shared, not duplicated); a copy
 * that would exceed it fails as a whole. A move keeps each message's
 * store_msg.id and logs the source UIDs as expunged. Returns the count
 * copied or -1. */
int store_msg_copy(struct store *st, int64_t src_mailbox_id, const uint32_t *uids, size_t count,
		   int64_t dst_mailbox_id, bool move, uint32_t **src_uids_r, uint32_t **new_uids_r,
		   const char **error_r);

/* ---- New mail: delivery, APPEND, queue hand-off ----------------------- */

struct store_delivery_rcpt {
	int64_t user_id;      /* > 0: local delivery */
	int64_t mailbox_id;   /* 0 = the user's INBOX */
	const char *prefix;   /* header lines prepended for this recipient only
			       * (Delivered-To:), CRLF-terminated, or NULL */
	uint32_t flags;	      /* initial flags (IMAP APPEND), usually 0 */
	const char *keywords; /* initial keywords, or NULL */
	/* The quota was checked when the recipient was accepted (SMTP RCPT):
	 * a user under quota may then go over it by this message, up to 10%
	 * of the quota (Dovecot's quota_grace), rather than the sender learning
	 * of it only after DATA, when one reply covers every recipient. */
	bool quota_grace;
	/* Filled on completion: */
	int result;	   /* 0 stored, -1 failed (see error) */
	const char *error; /* static text when result is -1 */
	bool over_quota;   /* failed because of the user's quota */
	bool no_mailbox;   /* failed because the mailbox (or user) does not exist */
	uint32_t uidvalidity;
	uint32_t uid;
	int64_t msg_id; /* store_msg.id of the new message */
};

struct store_delivery {
	const char *data; /* the message: trace headers already prepended */
	size_t len;
	time_t internaldate; /* 0 = now */
	/* Outbound queue hand-off, in the same transaction as local delivery. */
	const char *mail_from; /* envelope sender, "" for <> */
	const char *const *remote_rcpts;
	size_t remote_count;
	int64_t queue_user_id; /* the authenticated sender, 0 if none */
	struct store_delivery_rcpt *rcpts;
	size_t rcpt_count;
	/* Filled on completion: */
	int64_t queue_id;  /* > 0 when remote recipients were queued */
	const char *error; /* human message when the whole delivery failed */
};

/* Each local recipient is stored on its own (prefix + data, its own UID)
 * and may fail on its own (rcpt.result, rcpt.error: quota, no such mailbox);
 * the queue entry for remote_rcpts is one more part that may fail. The
 * delivery as a whole succeeds (0) when at least one part was stored, and
 * fails (-1, d->error) when nothing was; a delivery with neither local nor
 * remote recipients fails. Over-quota local recipients fail: the engine
 * replies or bounces accordingly.
 *
 * Called on the event loop once the delivery is durable (result 0) or has
 * failed (result -1, d->error set, valid during the call only). d and
 * everything it points to must stay valid, and untouched, until then.
 * store_close() runs the callbacks of deliveries still pending. */
typedef void store_delivery_cb(void *ctx, struct store_delivery *d, int result);

/* Hands the delivery to the writer thread (group commit). Requires
 * store_attach_loop(). */
void store_deliver_async(struct store *st, struct store_delivery *d, store_delivery_cb *cb, void *ctx);
/* Synchronous and fsynced: for the CLI and tests. */
int store_deliver(struct store *st, struct store_delivery *d, const char **error_r);

/* All or nothing (IMAP MULTIAPPEND, RFC 3502): the count deliveries of ds
 * are stored in one transaction, each recipient of each delivery with its
 * own UID, or none of them is. Local recipients only (remote_count must be
 * 0). The deliveries are stored in the order given, so the messages of a
 * group that go to one mailbox get consecutive UIDs, and each quota check
 * counts the messages of the group stored before it (a group over quota in
 * sum fails as a whole; quota_grace applies to each message as usual).
 *
 * On success every recipient of every delivery has result 0, uid, msg_id,
 * and each gets its change notification, as with store_deliver_async().
 * On failure nothing of the group was written and no UID was consumed:
 * UIDNEXT is as before. Every delivery and recipient has result -1; the
 * ones that caused the failure keep their own error (and over_quota or
 * no_mailbox), the others read STORE_GROUP_ABORTED. A delivery that is
 * invalid in itself (no data, no recipients, a bad keyword, remote
 * recipients) fails the group before anything is tried.
 *
 * cb runs once, on the event loop, when the whole group is durable
 * (result 0) or has failed (result -1); d->error of the failed deliveries
 * is valid during the call only. ds, the deliveries and everything they
 * point to must stay valid and untouched until then. count 0 fails.
 * Requires store_attach_loop(); store_close() runs pending callbacks. */
#define STORE_GROUP_ABORTED "not stored: another message of the group failed"
typedef void store_group_cb(void *ctx, int result);
void store_deliver_group_async(struct store *st, struct store_delivery *const *ds, size_t count,
			       store_group_cb *cb, void *ctx);
/* Synchronous and fsynced (the CLI, tests): 0 all stored, -1 none, with
 * the first failure's message in *error_r. */
int store_deliver_group(struct store *st, struct store_delivery *const *ds, size_t count,
			const char **error_r);

/* Quota: 1 when adding `add` bytes would exceed the user's quota, 0 when it
 * fits (or there is none), -1 on error. */
int store_quota_exceeded(struct store *st, int64_t user_id, uint64_t add, const char **error_r);

/* ---- Full-text search ------------------------------------------------- */

enum store_search_field {
	STORE_SEARCH_TEXT, /* headers and body */
	STORE_SEARCH_BODY, /* body text only */
	STORE_SEARCH_SUBJECT,
	STORE_SEARCH_FROM,
	STORE_SEARCH_TO, /* To and Cc */
};
/* UIDs (ascending) of the messages of a mailbox whose decoded text contains
 * every word of query (case-insensitive, accents folded). The index holds
 * MIME-decoded, UTF-8 text of Subject, From, To, Cc and of the text parts
 * (the first STORE_FTS_MAX_BODY bytes of body text). A word matches the
 * words of the text that begin with it ("post" finds "Posthorn"), not
 * substrings inside a word. Results may include messages where the words
 * appear but not as one substring: callers needing IMAP's exact substring
 * semantics confirm each candidate. New mail is indexed by the writer
 * thread shortly after its delivery (not in the delivery's transaction,
 * which it would slow down several times); messages not indexed yet are
 * returned as candidates too. A query without any word character returns
 * every message. Free with free(). */
#define STORE_FTS_MAX_BODY ((size_t)1024 * 1024)
int store_search(struct store *st, int64_t mailbox_id, enum store_search_field field, const char *query,
		 uint32_t **uids_r, size_t *count_r, const char **error_r);

/* Indexes, now and on this thread, every message still waiting for the
 * full-text index. Without an attached loop store_deliver() indexes at
 * once, so this is for a store with a loop (tests, benchmarks) or after
 * the daemon was stopped with a backlog. Returns the number indexed or -1. */
int store_search_index_flush(struct store *st, const char **error_r);

/* ---- Maintenance -------------------------------------------------------- */

/* Checks the store for damage and for running figures (mailbox counters,
 * used_bytes, reference counts, the index's bookkeeping) that disagree with
 * the data they sum up. Reads everything: for tests and `posthorn check`,
 * not for a busy daemon. 0 when all is well, -1 with the first problem. */
int store_integrity_check(struct store *st, const char **error_r);

/* ---- Change notifications --------------------------------------------- */

/* Called on the event loop after a committed change to any mailbox of
 * user_id (new mail, flags, expunge, mailbox created/renamed/deleted), from
 * this process: SMTP delivery, IMAP, POP3, the webmail. mailbox_id is 0 for
 * changes to the mailbox list itself. Never called from inside the store
 * call that made the change (it is deferred to the loop), so a watcher may
 * call the store. */
typedef void store_watch_cb(void *ctx, int64_t user_id, int64_t mailbox_id);
/* Watches fire only on a store with an attached loop. Removing a watch
 * (also from inside any watcher) guarantees it is not called again. */
struct store_watch;
struct store_watch *store_watch_add(struct store *st, int64_t user_id, store_watch_cb *cb, void *ctx);
void store_watch_remove(struct store *st, struct store_watch **w);

/* ---- Outbound queue --------------------------------------------------- */

enum store_queue_state { STORE_QUEUE_PENDING, STORE_QUEUE_DELIVERED, STORE_QUEUE_FAILED };

struct store_queue_rcpt {
	int64_t id;
	char *address;
	enum store_queue_state state;
	int attempts;
	time_t next_attempt;
	char *last_error; /* the last reply or reason, or NULL */
};

struct store_queue_entry {
	int64_t id;
	char *mail_from;
	int64_t user_id; /* authenticated sender or 0 */
	time_t created;
	uint64_t size;
	struct store_queue_rcpt *rcpts;
	size_t rcpt_count;
};

/* Queue entries with at least one pending recipient, oldest first. Entries
 * whose recipients are all delivered or failed stay stored until
 * store_queue_remove() (the queue manager sends any DSN first). */
int store_queue_list(struct store *st, struct store_queue_entry **entries_r, size_t *count_r,
		     const char **error_r);
/* 1 found, 0 not found, -1 error. */
int store_queue_get(struct store *st, int64_t queue_id, struct store_queue_entry *e, const char **error_r);
int store_queue_read(struct store *st, int64_t queue_id, char **data_r, size_t *len_r, const char **error_r);
/* Removes an entry and its message. */
int store_queue_remove(struct store *st, int64_t queue_id, const char **error_r);
/* Makes every pending recipient (of one entry, or all when queue_id is 0) due now. */
int store_queue_flush(struct store *st, int64_t queue_id, const char **error_r);
/* Records the outcome of a delivery attempt for one recipient (attempts
 * is incremented; last_error NULL keeps the previous one). 0, or -1 (also
 * when there is no such recipient). */
int store_queue_rcpt_update(struct store *st, int64_t rcpt_id, enum store_queue_state state,
			    time_t next_attempt, const char *last_error, const char **error_r);
/* The scheduler's work list: at most `limit` entries (oldest first) with a
 * pending recipient whose next_attempt <= now. Every recipient of such an
 * entry is filled; the caller picks the pending, due ones. */
int store_queue_due(struct store *st, time_t now, size_t limit, struct store_queue_entry **entries_r,
		    size_t *count_r, const char **error_r);
/* The earliest next_attempt of any pending recipient: 1 (sets *when_r),
 * 0 when nothing is pending, -1 on error. For the scheduler's timer. */
int store_queue_next_attempt(struct store *st, time_t *when_r, const char **error_r);
void store_queue_entry_clear(struct store_queue_entry *e);
void store_queue_list_free(struct store_queue_entry **entries, size_t count);

/* The scheduler's cursor over due work: ids (ascending) of at most `limit`
 * entries with id > after_id that have a pending recipient whose
 * next_attempt <= now. *ids_r is malloc'd (free()), NULL when none. */
int store_queue_due_ids(struct store *st, time_t now, int64_t after_id, size_t limit, int64_t **ids_r,
			size_t *count_r, const char **error_r);
/* Failed recipients wait for their bounce: a FAILED recipient's
 * next_attempt is 0 until the bounce that names it is stored, then the
 * queue manager sets it to 1 with this (every such recipient of the entry;
 * no attempt is counted). 0 or -1. */
int store_queue_mark_bounced(struct store *st, int64_t queue_id, const char **error_r);
/* Per-entry flags kept by the queue manager. */
#define STORE_QUEUE_DELAY_NOTIFIED 0x1u /* the sender got a delay notice */
/* 1 and *flags_r, 0 no such entry, -1 error. */
int store_queue_flags(struct store *st, int64_t queue_id, uint32_t *flags_r, const char **error_r);
/* Sets the given flags (OR). 0, or -1 (also when there is no such entry). */
int store_queue_set_flags(struct store *st, int64_t queue_id, uint32_t flags, const char **error_r);
/* Called on the event loop after an asynchronous delivery of this process
 * that queued remote recipients was committed (the SMTP server's, a
 * bounce's): the scheduler starts on it at once instead of at its next
 * poll. One watcher per store; NULL removes it. */
typedef void store_queue_cb(void *ctx, int64_t queue_id);
void store_queue_watch(struct store *st, store_queue_cb *cb, void *ctx);

/* ---- Webmail: settings and correspondents ------------------------------ */

/* Small per-user settings (the webmail's signature...), keyed by name.
 * get: 1 and *value_r (a new string), 0 when not set, -1 on error. set:
 * value NULL removes the setting; 0 or -1. */
int store_user_setting_get(struct store *st, int64_t user_id, const char *key, char **value_r,
			   const char **error_r);
int store_user_setting_set(struct store *st, int64_t user_id, const char *key, const char *value,
			   const char **error_r);

/* People a user wrote to, for address completion. */
struct store_contact {
	char *address;
	char *name;    /* display name last used, "" if none */
	uint32_t uses; /* how many messages went to it */
	time_t last_used;
};
/* Records one more message to address (canonical or as written; name may be
 * NULL or "": an earlier name is then kept). 0 or -1. */
int store_contact_note(struct store *st, int64_t user_id, const char *address, const char *name,
		       const char **error_r);
/* Up to limit contacts whose address, or a word of whose name, begins with
 * prefix (ASCII case-insensitive), most used first. Free with
 * store_contact_list_free. 0 or -1. */
int store_contact_search(struct store *st, int64_t user_id, const char *prefix, size_t limit,
			 struct store_contact **contacts_r, size_t *count_r, const char **error_r);
void store_contact_list_free(struct store_contact **contacts, size_t count);

#endif
