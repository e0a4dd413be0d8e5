/* cmd_select: entering and leaving the selected state: SELECT and EXAMINE
 * (with CONDSTORE and QRESYNC parameters, RFC 7162), CLOSE, UNSELECT
 * (RFC 3691), and EXPUNGE / UID EXPUNGE (UIDPLUS, RFC 4315). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

/* QRESYNC parameters of SELECT. */
struct qresync_param {
	bool given;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known; /* resolved; count 0 = all */
};

static int parse_select_params(struct imap_session *s, struct imap_cmd *cmd, bool *condstore,
			       struct qresync_param *q, const char **error_r)
{
	*condstore = false;
	if (cmd->argc == 1)
		return 0;
	if (cmd->argc != 2 || cmd->args[1].type != IMAP_ARG_LIST) {
		*error_r = "Invalid SELECT parameters";
		return -1;
	}
	const struct imap_arg *l = &cmd->args[1];
	for (size_t i = 0; i < l->count; i++) {
		const struct imap_arg *a = &l->list[i];
		if (imap_arg_atom_is(a, "CONDSTORE")) {
			*condstore = true;
			continue;
		}
		if (imap_arg_atom_is(a, "QRESYNC") && i + 1 < l->count &&
		    l->list[i + 1].type == IMAP_ARG_LIST) {
			if (!s->qresync) {
				*error_r = "QRESYNC is not enabled";
				return -1;
			}
			const struct imap_arg *p = &l->list[++i];
			if (p->count < 2 || p->count > 4 || p->list[0].type != IMAP_ARG_ATOM ||
			    p->list[1].type != IMAP_ARG_ATOM ||
			    str_to_u32(p->list[0].str, &q->uidvalidity) < 0 || q->uidvalidity == 0 ||
			    str_to_u64(p->list[1].str, &q->modseq) < 0 || q->modseq == 0) {
				*error_r = "Invalid QRESYNC parameters";
				return -1;
			}
			if (p->count >= 3) {
				if (p->list[2].type == IMAP_ARG_LIST) {
					/* (known-uids omitted, seq-match-data given): fine */
				} else if (p->list[2].type != IMAP_ARG_ATOM ||
					   imap_seqset_parse(p->list[2].str, p->list[2].len, &q->known,
							     error_r) < 0) {
					*error_r = "Invalid QRESYNC known-uids";
					return -1;
				} else
					imap_seqset_resolve(&q->known, UINT32_MAX);
			}
			if (p->count == 4 && p->list[3].type != IMAP_ARG_LIST) {
				imap_seqset_free(&q->known);
				*error_r = "Invalid QRESYNC seq-match-data";
				return -1;
			}
			q->given = true;
			continue;
		}
		*error_r = "Unknown SELECT parameter";
		return -1;
	}
	return 0;
}

/* QRESYNC: what changed since the client's last known MODSEQ. */
static void qresync_report(struct imap_session *s, const struct qresync_param *q)
{
	struct imap_selected *sel = s->sel;
	struct store_changes ch = {0};
	const char *error;
	if (store_changes_since(s->srv->store, sel->id, q->modseq, &ch, &error) < 0) {
		log_session(s->c->id, "imap qresync failed: %s", error);
		return;
	}
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	uint32_t *v = xcalloc(ch.expunged_count + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < ch.expunged_count; i++) {
		uint32_t uid = ch.expunged[i];
		if (q->known.count > 0 && !imap_seqset_contains(&q->known, uid))
			continue;
		if (imap_seq_of(sel, uid) == 0 && (n == 0 || v[n - 1] != uid))
			v[n++] = uid;
	}
	if (n > 0) {
		buf_puts(&b, "* VANISHED (EARLIER) ");
		imap_seqset_write(&b, v, n);
		buf_puts(&b, "\r\n");
	}
	free(v);
	for (size_t i = 0; i < ch.changed_count; i++) {
		const struct store_msg *m = &ch.changed[i];
		uint32_t seq = imap_seq_of(sel, m->uid);
		if (seq == 0)
			continue;
		imap_check_keywords(s, m->keywords, &b);
		buf_printf(&b, "* %u FETCH (UID %u FLAGS ", seq, m->uid);
		imap_write_flags(s, &b, m->uid, m->flags, m->keywords);
		buf_printf(&b, " MODSEQ (%llu))\r\n", (unsigned long long)m->modseq);
		if (b.len > 256 * 1024) {
			imap_write_buf(s, &b);
			buf_reset(&b);
		}
	}
	imap_write_buf(s, &b);
	buf_free(&b);
	store_changes_clear(&ch);
}

/* The sequence number of the first message without \Seen, or 0. */
static uint32_t first_unseen(struct imap_session *s, const struct imap_selected *sel)
{
	uint32_t *v = NULL;
	size_t n = 0;
	const char *error;
	if (store_mailbox_uids_by_flag(s->srv->store, sel->id, STORE_FLAG_SEEN, false, 1, &v, &n, &error) < 0)
		return 0;
	uint32_t seq = n > 0 ? imap_seq_of(sel, v[0]) : 0;
	free(v);
	return seq;
}

static void select_common(struct imap_session *s, struct imap_cmd *cmd, bool readonly)
{
	const char *error;
	if (cmd->argc < 1) {
		imap_bad(s, cmd, "Missing mailbox name");
		return;
	}
	bool condstore;
	struct qresync_param q = {0};
	if (parse_select_params(s, cmd, &condstore, &q, &error) < 0) {
		imap_bad(s, cmd, "%s", error);
		return;
	}
	char *name = imap_name_in(s, &cmd->args[0], &error);
	if (name == NULL) {
		imap_seqset_free(&q.known);
		imap_unselect(s);
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	/* Leaving the old mailbox first (RFC 3501 6.3.1: even if this fails). */
	bool had = s->sel != NULL;
	imap_unselect(s);
	if (had && (s->qresync || s->rev2))
		imap_printf(s, "* OK [CLOSED] Previous mailbox closed.\r\n");
	struct store_mailbox mb = {0};
	int r = store_mailbox_get(s->srv->store, s->user_id, name, &mb, &error);
	if (r <= 0) {
		free(name);
		imap_seqset_free(&q.known);
		if (r < 0)
			log_session(s->c->id, "imap select failed: %s", error);
		imap_done(s, cmd, "NO",
			  r == 0 ? "[NONEXISTENT] Mailbox doesn't exist." : "[SERVERBUG] Internal error.");
		return;
	}
	if (condstore && !s->condstore) {
		imap_enable_condstore(s);
	}
	struct imap_selected *sel = xmalloc(sizeof(*sel));
	sel->readonly = readonly;
	sel->name = name;
	if (imap_sync_open(s, sel, &mb, &error) < 0) {
		store_mailbox_clear(&mb);
		imap_selected_free(&sel);
		imap_seqset_free(&q.known);
		log_session(s->c->id, "imap select failed: %s", error);
		imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		return;
	}
	store_mailbox_clear(&mb);
	s->sel = sel;
	s->state = IMAP_STATE_SELECTED;
	imap_send_flags(s, sel->keywords);
	imap_printf(s, "* %zu EXISTS\r\n", sel->count);
	if (!s->rev2) {
		imap_printf(s, "* %u RECENT\r\n", imap_recent_count(sel));
		uint32_t unseen = first_unseen(s, sel);
		if (unseen > 0)
			imap_printf(s, "* OK [UNSEEN %u] First unseen.\r\n", unseen);
	}
	imap_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n", sel->uidvalidity);
	imap_printf(s, "* OK [UIDNEXT %u] Predicted next UID\r\n", sel->uidnext);
	imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n", (unsigned long long)sel->modseq);
	if (s->rev2) {
		struct buf b;
		buf_init(&b, 8192);
		buf_printf(&b, "* LIST () \"%c\" ", STORE_MAILBOX_SEP);
		imap_name_out(s, sel->name, &b);
		buf_puts(&b, "\r\n");
		imap_write_buf(s, &b);
		buf_free(&b);
	}
	if (q.given && q.uidvalidity == sel->uidvalidity)
		qresync_report(s, &q);
	imap_seqset_free(&q.known);
	imap_done(s, cmd, "OK", "[%s] %s completed.", readonly ? "READ-ONLY" : "READ-WRITE",
		  readonly ? "Examine" : "Select");
}

void cmd_select(struct imap_session *s, struct imap_cmd *cmd)
{
	select_common(s, cmd, false);
}

void cmd_examine(struct imap_session *s, struct imap_cmd *cmd)
{
	select_common(s, cmd, true);
}

/* UIDs of \Deleted messages (of the set when given), ascending. */
static int deleted_uids(struct imap_session *s, const uint32_t *only, size_t only_count, uint32_t **uids_r,
			size_t *count_r, const char **error_r)
{
	uint32_t *v;
	size_t n;
	if (store_mailbox_uids_by_flag(s->srv->store, s->sel->id, STORE_FLAG_DELETED, true, 0, &v, &n,
				       error_r) < 0)
		return -1;
	if (only != NULL) {
		size_t j = 0, k = 0;
		for (size_t i = 0; i < n; i++) {
			while (k < only_count && only[k] < v[i])
				k++;
			if (k < only_count && only[k] == v[i])
				v[j++] = v[i];
		}
		n = j;
	}
	*uids_r = v;
	*count_r = n;
	return 0;
}

static int expunge_deleted(struct imap_session *s, const uint32_t *only, size_t only_count,
			   const char **error_r)
{
	uint32_t *v;
	size_t n;
	if (deleted_uids(s, only, only_count, &v, &n, error_r) < 0)
		return -1;
	int r = n > 0 ? store_msg_expunge(s->srv->store, s->sel->id, v, n, error_r) : 0;
	free(v);
	if (r > 0)
		s->sel->dirty = true;
	return r < 0 ? -1 : 0;
}

void cmd_close(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	if (cmd->argc != 0) {
		imap_bad(s, cmd, "CLOSE takes no arguments");
		return;
	}
	if (!s->sel->readonly && expunge_deleted(s, NULL, 0, &error) < 0)
		log_session(s->c->id, "imap close: expunge failed: %s", error);
	imap_unselect(s);
	imap_done(s, cmd, "OK", "Close completed.");
}

void cmd_unselect(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap_bad(s, cmd, "UNSELECT takes no arguments");
		return;
	}
	imap_unselect(s);
	imap_done(s, cmd, "OK", "Unselect completed.");
}

void cmd_expunge(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	uint32_t *only = NULL;
	size_t only_count = 0;
	if (cmd->argc != (cmd->uid ? 1u : 0u)) {
		imap_bad(s, cmd, "Invalid EXPUNGE arguments");
		return;
	}
	if (cmd->uid && imap_set_to_uids(s, &cmd->args[0], true, &only, &only_count, &error) < 0) {
		imap_bad(s, cmd, "%s", error);
		return;
	}
	if (s->sel->readonly) {
		free(only);
		imap_done(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only.");
		return;
	}
	int r = 0;
	if (!cmd->uid || only_count > 0)
		r = expunge_deleted(s, cmd->uid ? only : NULL, only_count, &error);
	free(only);
	if (r < 0) {
		log_session(s->c->id, "imap expunge failed: %s", error);
		imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		return;
	}
	imap_done(s, cmd, "OK", "Expunge completed.");
}
