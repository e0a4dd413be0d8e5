/* imap_private: what the files of the IMAP engine share (imap_server.c,
 * imap_sync.c, imap_fetch.c, imap_search.c, cmd_*.c). Not for other modules:
 * they see imap_server.h only.
 *
 * A session (struct imap_session) lives from the greeting to the
 * disconnect. A command is parsed whole by imap_parse (literals included),
 * then dispatched through the table in imap_server.c to a handler
 * `void cmd_x(struct imap_session *, struct imap_cmd *)`. A handler writes
 * its untagged responses and ends with imap_done() (OK/NO: untagged updates
 * of the selected mailbox are sent first) or imap_bad(). A handler that
 * waits (password check, APPEND's group commit, IDLE, a FETCH streaming more
 * than fits in the output buffer) calls imap_wait() and finishes later with
 * imap_done() from its callback; the session reads no input meanwhile, so
 * pipelined commands keep their order.
 *
 * Memory: the per-session state is small (the parser, flags, the selected
 * mailbox's UID map); everything a command needs is allocated for it and
 * freed when it ends. */
#ifndef POSTHORN_IMAP_IMAP_PRIVATE_H
#define POSTHORN_IMAP_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conn.h"
#include "imap/imap_parse.h"
#include "imap/imap_util.h"
#include "store/store.h"
#include "util/buf.h"

struct server;
struct imap_search;
struct imap_notify;
struct imap_fetch_atts;
struct sasl;
struct auth_login_req;

enum imap_state {
	IMAP_STATE_NOAUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* What a waiting session waits for. */
enum imap_wait {
	IMAP_WAIT_NONE,
	IMAP_WAIT_LOGIN,  /* a password check (auth_login) */
	IMAP_WAIT_SASL,	  /* the client's next SASL line */
	IMAP_WAIT_STORE,  /* APPEND's group commit */
	IMAP_WAIT_IDLE,	  /* IDLE: the client's DONE */
	IMAP_WAIT_OUTPUT, /* a streaming command: the output buffer to drain */
	IMAP_WAIT_READER, /* between commands: the client to read what waits */
};

/* CONTEXT=SEARCH (RFC 5267): a SEARCH RETURN (UPDATE) kept up to date
 * with ESEARCH ADDTO / REMOVEFROM responses (imap_update.c). At most
 * IMAP_UPDATE_MAX per session; they end with CANCELUPDATE or when the
 * mailbox is closed. */
#define IMAP_UPDATE_MAX 10

struct imap_update {
	char *tag;	       /* of the SEARCH that made it */
	bool uid;	       /* UID SEARCH: updates name UIDs */
	struct imap_search *q; /* pinned (imap_search_pin) */
	/* RFC 5465 7 (NOTIFY): UPDATE (fetch-att ...): FETCH for new
	 * messages that join the result, or NULL. */
	struct imap_fetch_atts *fetch;
	uint32_t *uids; /* the result as the client knows it, ascending */
	size_t count;
};

/* The selected mailbox as this session has told the client about it. */
struct imap_selected {
	int64_t id;
	char *name;    /* UTF-8 */
	bool readonly; /* EXAMINE */
	uint32_t uidvalidity;
	/* The sequence-number map: uids[seq - 1]. */
	uint32_t *uids;
	size_t count, cap;
	uint32_t uidnext; /* every UID below this was reported (or expunged) */
	uint64_t modseq;  /* changes with modseq <= this were reported */
	char *keywords;	  /* the mailbox keywords last sent in FLAGS */
	/* \Recent UIDs of this session (IMAP4rev1), as ranges. */
	struct imap_range *recent;
	size_t recent_count;
	/* Expunges seen while EXPUNGE responses were not allowed. */
	uint32_t *pending;
	size_t pending_count;
	/* Flag changes this session made itself and already reported. */
	struct imap_own {
		uint32_t uid;
		uint64_t modseq;
	} * own;
	size_t own_count, own_cap;
	/* SEARCHRES: UIDs saved by SEARCH RETURN (SAVE), "$". */
	uint32_t *saved;
	size_t saved_count;
	/* CONTEXT=SEARCH update contexts. */
	struct imap_update *updates;
	size_t update_count;
	bool dirty; /* a change notification arrived */
};

/* A command as dispatched. Views into the parser's results, valid until
 * imap_done()/imap_bad(). */
struct imap_cmd {
	const char *tag;
	const char *name; /* upper-case; "FETCH" for "UID FETCH" */
	bool uid;	  /* prefixed with UID */
	const struct imap_arg *args;
	size_t argc;
	unsigned flags; /* of the command table entry */
};

struct imap_session {
	struct conn *c;
	struct server *srv;
	enum imap_state state;
	struct imap_parser parser;
	unsigned errors;
	/* After authentication. */
	int64_t user_id;
	char *user;
	struct store_watch *watch;
	struct imap_selected *sel;
	struct imap_notify *notify; /* NOTIFY SET in force (cmd_notify.c), or NULL */
	/* ENABLEd extensions and modes. */
	bool rev2; /* IMAP4rev2 */
	bool utf8; /* UTF8=ACCEPT (or rev2): names in UTF-8 */
	bool condstore;
	bool qresync;
	bool compressed;
	/* The command in progress. */
	struct imap_cmd cur;
	enum imap_wait wait;
	uint64_t literal_total;			 /* literal bytes of the current command */
	void (*drained)(struct imap_session *s); /* IMAP_WAIT_OUTPUT: continue */
	void *cmd_ctx;				 /* the waiting command's state */
	void (*cmd_ctx_free)(void *ctx);
	bool literal_refused; /* a non-synchronizing literal was discarded */
	const char *literal_error;
	bool skip_line; /* skipping the rest of an over-long SASL/IDLE line */
	/* Authentication in progress. */
	struct sasl *sasl;
	struct auth_login_req *login;
	char *scram_user;
	/* Lifetime. */
	bool freed;    /* the conn is gone; free when the store answers */
	bool shutdown; /* close after the command in progress */
};

/* Command flags. */
#define IMAP_CMD_NOAUTH (1u << 0)     /* only before authentication */
#define IMAP_CMD_AUTH (1u << 1)	      /* authenticated or selected */
#define IMAP_CMD_SELECTED (1u << 2)   /* selected only */
#define IMAP_CMD_UID (1u << 3)	      /* has a UID form */
#define IMAP_CMD_NO_EXPUNGE (1u << 4) /* no EXPUNGE responses while it runs (FETCH, STORE, SEARCH by seq) */

typedef void imap_cmd_fn(struct imap_session *s, struct imap_cmd *cmd);

/* ---- imap_server.c ---------------------------------------------------- */

/* Writes to the client. */
void imap_write(struct imap_session *s, const void *data, size_t len);
void imap_printf(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_write_buf(struct imap_session *s, const struct buf *b);
/* Ends the command: for OK and NO, sends untagged updates of the selected
 * mailbox first (without EXPUNGE for NO_EXPUNGE commands), then the tagged
 * reply "<tag> <status> <text>". Resumes reading when the command waited. */
void imap_done(struct imap_session *s, struct imap_cmd *cmd, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Ends the command with "<tag> BAD <text>" and counts a client error. */
void imap_bad(struct imap_session *s, struct imap_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends the command after the handler wrote its own tagged line (STARTTLS,
 * COMPRESS: the reply must precede a change of the connection). */
void imap_finish(struct imap_session *s);
/* The command will finish later (from a callback): stop reading input. */
void imap_wait(struct imap_session *s, enum imap_wait what);
/* The capability list for the current state (no "CAPABILITY" word). */
void imap_capabilities(struct imap_session *s, struct buf *out);
/* Names: client form (mUTF-7 or UTF-8) <-> storage form (UTF-8).
 * imap_name_in returns a new string or NULL (*error_r set). */
char *imap_name_in(struct imap_session *s, const struct imap_arg *a, const char **error_r);
int imap_name_out(struct imap_session *s, const char *name, struct buf *out);
/* Argument as a C string: astring (atom, quoted, literal) or NULL. */
const char *imap_astring(const struct imap_arg *a);
/* Leaves the selected mailbox (if any): back to the authenticated state. */
void imap_unselect(struct imap_session *s);
/* CONDSTORE becomes enabled (ENABLE, or a command that uses MODSEQ): the
 * first time, while a mailbox is selected, the client is told its
 * HIGHESTMODSEQ (RFC 7162 3.1). */
void imap_enable_condstore(struct imap_session *s);
/* Frees a session whose connection is gone (the store answered late). */
void imap_session_destroy(struct imap_session *s);
/* Authentication succeeded as user (canonical address): state AUTH. */
int imap_login_as(struct imap_session *s, const char *user, const char **error_r);

/* ---- imap_sync.c ------------------------------------------------------ */

#define IMAP_SYNC_EXPUNGE (1u << 0) /* EXPUNGE/VANISHED responses allowed */
#define IMAP_SYNC_FORCE (1u << 1)   /* look even without a change notification */
/* The command changed the mailbox itself: report even when NOTIFY asked
 * for no events of the selected mailbox. */
#define IMAP_SYNC_OWN (1u << 2)

/* Sends what changed in the selected mailbox since the client last heard:
 * EXPUNGE (or VANISHED), EXISTS, RECENT, FLAGS, FETCH FLAGS. */
void imap_sync(struct imap_session *s, unsigned flags);
/* Loads the selected mailbox state for SELECT/EXAMINE. Returns 0, or -1
 * with *error_r. */
int imap_sync_open(struct imap_session *s, struct imap_selected *sel, const struct store_mailbox *mb,
		   const char **error_r);
void imap_selected_free(struct imap_selected **sel);
/* seq (1-based) of uid, or 0. */
uint32_t imap_seq_of(const struct imap_selected *sel, uint32_t uid);
/* Removes uid from the map (the session reported its expunge). */
void imap_seq_remove(struct imap_selected *sel, uint32_t seq);
bool imap_is_recent(const struct imap_selected *sel, uint32_t uid);
uint32_t imap_recent_count(const struct imap_selected *sel);
/* Records a flag change this session reported itself. */
void imap_own_change(struct imap_selected *sel, uint32_t uid, uint64_t modseq);
/* Appends "(\Seen \Answered kw ...)" of a message (with \Recent when it is). */
void imap_write_flags(struct imap_session *s, struct buf *out, uint32_t uid, uint32_t flags,
		      const char *keywords);
/* Sends "* FLAGS" and "* OK [PERMANENTFLAGS" for the mailbox keywords. */
void imap_send_flags(struct imap_session *s, const char *keywords);
/* Before a response that shows keywords (space-separated, or NULL): when
 * one of them was not announced in FLAGS yet, appends the new FLAGS and
 * PERMANENTFLAGS lines to out (clients must know a keyword first). */
void imap_check_keywords(struct imap_session *s, const char *keywords, struct buf *out);
/* Flags from a list argument ("(\Seen kw)") or a single atom. Returns 0,
 * or -1 (bad flag). imap_parse_flag_args does the same for count
 * arguments in a row (STORE's flags without parentheses). */
int imap_parse_flags(const struct imap_arg *list, uint32_t *flags_r, struct buf *keywords,
		     const char **error_r);
int imap_parse_flag_args(const struct imap_arg *v, size_t n, uint32_t *flags_r, struct buf *keywords,
			 const char **error_r);

/* Turns a sequence-set argument (or "$") into the sorted UIDs of messages
 * in the map. uid: the set names UIDs, else sequence numbers. Returns 0,
 * or -1 with *error_r (bad syntax, or a sequence number past the end). */
int imap_set_to_uids(struct imap_session *s, const struct imap_arg *a, bool uid, uint32_t **uids_r,
		     size_t *count_r, const char **error_r);

/* ---- imap_update.c ---------------------------------------------------- */

/* The update context of tag, or NULL. */
struct imap_update *imap_update_find(struct imap_selected *sel, const char *tag);
/* Keeps the search q (taken, pinned here) and its result uids[0..n)
 * (copied) up to date for the client; fetch (taken, may be NULL): UPDATE's
 * FETCH attributes. Returns 0, or -1 when the session has IMAP_UPDATE_MAX
 * already (q and fetch are then freed). */
int imap_update_add(struct imap_session *s, const char *tag, bool uid, struct imap_search *q,
		    struct imap_fetch_atts *fetch, const uint32_t *uids, size_t n);
/* Ends the update context of tag (which must exist). */
void imap_update_cancel(struct imap_selected *sel, const char *tag);
void imap_update_free_all(struct imap_selected *sel);
/* From imap_sync, while the map still holds them: the expunged UIDs
 * v[0..n) (ascending) are about to be reported; sends REMOVEFROM for those
 * in a result first (their sequence numbers are still valid). */
void imap_update_expunged(struct imap_session *s, const uint32_t *v, size_t n);
/* From imap_sync, after EXISTS and FETCH FLAGS: messages that changed or
 * arrived (ascending UIDs, BASIC fields; those from new_uid on are new)
 * are searched again; sends ADDTO and REMOVEFROM for the results that
 * changed, each ADDTO after the FETCH its context asked for new messages. */
void imap_update_changed(struct imap_session *s, const struct store_msg *m, size_t n, uint32_t new_uid);

/* ---- imap_fetch.c ------------------------------------------------------- */

/* The bytes of BODY[section] of a message ("" = all, "1.2", "HEADER",
 * "1.MIME", "TEXT"...). 0 with a view into data (or tmp), or -1 for a bad
 * section or a missing part. */
int imap_section_bytes(const char *data, size_t len, const char *section, struct buf *tmp, const char **p_r,
		       size_t *n_r);

/* NOTIFY's MessageNew attributes: parsed once (a FETCH attribute list or
 * macro; attributes that would set \Seen are refused), written for new
 * messages of the selected mailbox (UIDs ascending, all in the map). */
struct imap_fetch_atts *imap_fetch_atts_parse(const struct imap_arg *a, const char **error_r);
void imap_fetch_atts_free(struct imap_fetch_atts **fa);
void imap_fetch_atts_write(struct imap_session *s, struct imap_fetch_atts *fa, const uint32_t *uids,
			   size_t n);

/* ---- cmd_notify.c ------------------------------------------------------ */

/* A change notification for the user's mailbox (0: the mailbox list).
 * Sends what NOTIFY asked for at once when no command runs (or IDLE),
 * else at the end of the command (imap_notify_command_end). */
void imap_notify_watch(struct imap_session *s, int64_t mailbox_id);
/* Around the final sync of a command (imap_done): _begin notes whether
 * the command changes mail or mailboxes itself, and returns IMAP_SYNC_OWN
 * when it changed the selected mailbox (APPEND or COPY into it, MOVE,
 * EXPUNGE, NOTIFY's implicit NOOP), else 0; messages it added get no
 * MessageNew FETCH. _end sends pending notifications, then takes in the
 * command's own changes silently (RFC 5465 5: the client is not told
 * about what it did itself). */
unsigned imap_notify_command_begin(struct imap_session *s, const struct imap_cmd *cmd);
void imap_notify_command_end(struct imap_session *s);
/* For imap_sync. _quiet: NOTIFY is set without SELECTED events, so no
 * message events of the selected mailbox are sent (RFC 5465 3.1) unless
 * the session's own command needs them. _wants_flags: FETCH FLAGS for
 * other sessions' flag changes are wanted (*uid_r: with UID, as NOTIFY's
 * FlagChange requires). _new_messages: MessageNew's FETCH. */
bool imap_notify_selected_quiet(struct imap_session *s);
bool imap_notify_wants_flags(struct imap_session *s, bool *uid_r);
void imap_notify_new_messages(struct imap_session *s, const uint32_t *uids, size_t n);
void imap_notify_free(struct imap_notify **n);

/* ---- commands ---------------------------------------------------------- */

imap_cmd_fn cmd_capability, cmd_noop, cmd_logout, cmd_starttls, cmd_login, cmd_authenticate, cmd_id,
    cmd_enable, cmd_namespace, cmd_compress;
imap_cmd_fn cmd_select, cmd_examine, cmd_close, cmd_unselect, cmd_expunge, cmd_check, cmd_idle;
imap_cmd_fn cmd_create, cmd_delete, cmd_rename, cmd_subscribe, cmd_unsubscribe, cmd_list, cmd_lsub,
    cmd_status;
imap_cmd_fn cmd_append;
imap_cmd_fn cmd_fetch, cmd_store, cmd_copy, cmd_move;
imap_cmd_fn cmd_search, cmd_sort, cmd_thread, cmd_cancelupdate;
imap_cmd_fn cmd_getquota, cmd_getquotaroot, cmd_setquota;
imap_cmd_fn cmd_notify;

/* cmd_auth.c: SASL lines while IMAP_WAIT_SASL. */
void imap_sasl_line(struct imap_session *s, const char *line, size_t len);
/* cmd_idle.c: a line while IMAP_WAIT_IDLE; a change notification. */
void imap_idle_line(struct imap_session *s, const char *line, size_t len);
void imap_idle_notify(struct imap_session *s);
/* cmd_compress.c */
int imap_compress_start(struct imap_session *s, const char **error_r);

#endif
