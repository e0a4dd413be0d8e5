/* cmd_store: changing messages of the selected mailbox: STORE (with
 * CONDSTORE's UNCHANGEDSINCE, RFC 7162), COPY (COPYUID, RFC 4315) and
 * MOVE (RFC 6851), and their UID forms.
 *
 * Own flag changes are answered with FETCH responses at once and recorded
 * (imap_own_change) so that the sync after the command does not repeat
 * them; the sync then runs at once (sel->dirty) rather than when the
 * store's notification arrives. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

void cmd_store(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	size_t i = 1;
	uint64_t unchangedsince = 0;
	bool have_unchangedsince = false;
	if (cmd->argc >= 2 && cmd->args[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *l = &cmd->args[1];
		if (l->count != 2 || !imap_arg_atom_is(&l->list[0], "UNCHANGEDSINCE") ||
		    l->list[1].type != IMAP_ARG_ATOM || str_to_u64(l->list[1].str, &unchangedsince) < 0) {
			imap_bad(s, cmd, "Invalid STORE modifiers");
			return;
		}
		have_unchangedsince = true;
		i = 2;
	}
	if (cmd->argc < i + 2 || cmd->args[i].type != IMAP_ARG_ATOM) {
		imap_bad(s, cmd, "STORE needs a sequence set, an action and flags");
		return;
	}
	const char *action = cmd->args[i].str;
	enum store_flag_mode mode;
	if (*action == '+') {
		mode = STORE_FLAGS_ADD;
		action++;
	} else if (*action == '-') {
		mode = STORE_FLAGS_REMOVE;
		action++;
	} else
		mode = STORE_FLAGS_SET;
	bool silent;
	if (strcasecmp(action, "FLAGS") == 0)
		silent = false;
	else if (strcasecmp(action, "FLAGS.SILENT") == 0)
		silent = true;
	else {
		imap_bad(s, cmd, "Invalid STORE action");
		return;
	}
	/* The flags: one list, or several atoms. */
	uint32_t flags = 0;
	struct buf kw;
	buf_init(&kw, 64 * 1024);
	if (cmd->argc == i + 2) {
		if (imap_parse_flags(&cmd->args[i + 1], &flags, &kw, &error) < 0) {
			buf_free(&kw);
			imap_bad(s, cmd, "%s", error);
			return;
		}
	} else {
		if (imap_parse_flag_args(&cmd->args[i + 1], cmd->argc - i - 1, &flags, &kw, &error) < 0) {
			buf_free(&kw);
			imap_bad(s, cmd, "%s", error);
			return;
		}
	}
	uint32_t *uids;
	size_t n;
	if (imap_set_to_uids(s, &cmd->args[0], cmd->uid, &uids, &n, &error) < 0) {
		buf_free(&kw);
		imap_bad(s, cmd, "%s", error);
		return;
	}
	if (have_unchangedsince)
		imap_enable_condstore(s);
	if (s->sel->readonly) {
		free(uids);
		buf_free(&kw);
		imap_done(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only.");
		return;
	}
	uint32_t *failed = NULL;
	size_t nfailed = 0;
	int r = 0;
	if (have_unchangedsince && unchangedsince == 0 && n > 0) {
		/* Every message has a MODSEQ above 0: all fail (RFC 7162 3.1.3);
		 * the store reads 0 as "no condition". */
		failed = xmemdup(uids, n * sizeof(*uids));
		nfailed = n;
	} else if (n > 0)
		r = store_msg_set_flags(s->srv->store, s->sel->id, uids, n, mode, flags,
					kw.len ? kw.data : NULL, unchangedsince, &failed, &nfailed, &error);
	buf_free(&kw);
	if (r < 0) {
		free(uids);
		free(failed);
		log_session(s->c->id, "imap store failed: %s", error);
		imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		return;
	}
	/* The new keywords must be announced before they are used. */
	struct store_mailbox mb = {0};
	if (store_mailbox_get_by_id(s->srv->store, s->sel->id, &mb, &error) == 1 &&
	    strcmp(mb.keywords ? mb.keywords : "", s->sel->keywords) != 0) {
		free(s->sel->keywords);
		s->sel->keywords = xstrdup(mb.keywords ? mb.keywords : "");
		imap_send_flags(s, s->sel->keywords);
	}
	store_mailbox_clear(&mb);
	/* The answer: the flags of every message of the set. */
	struct buf out;
	buf_init(&out, BUF_MAX_DEFAULT);
	if (n > 0) {
		struct store_msg_iter *it =
		    store_msg_iter_new(s->srv->store, s->sel->id, uids[0], uids[n - 1], STORE_FIELD_BASIC);
		struct store_msg m;
		while (store_msg_iter_next(it, &m) == 1) {
			if (!imap_u32_contains(uids, n, m.uid) ||
			    (nfailed > 0 && imap_u32_contains(failed, nfailed, m.uid)))
				continue;
			uint32_t seq = imap_seq_of(s->sel, m.uid);
			if (seq == 0)
				continue;
			imap_own_change(s->sel, m.uid, m.modseq);
			if (silent && !s->condstore)
				continue;
			imap_check_keywords(s, m.keywords, &out);
			buf_printf(&out, "* %u FETCH (", seq);
			size_t start = out.len;
			if (cmd->uid || s->qresync)
				buf_printf(&out, "UID %u", m.uid);
			if (!silent) {
				buf_printf(&out, "%sFLAGS ", out.len > start ? " " : "");
				imap_write_flags(s, &out, m.uid, m.flags, m.keywords);
			}
			if (s->condstore)
				buf_printf(&out, "%sMODSEQ (%llu)", out.len > start ? " " : "",
					   (unsigned long long)m.modseq);
			buf_puts(&out, ")\r\n");
			if (out.len > 256 * 1024) {
				imap_write_buf(s, &out);
				buf_reset(&out);
			}
		}
		store_msg_iter_free(&it, &error);
	}
	imap_write_buf(s, &out);
	buf_free(&out);
	s->sel->dirty = true;
	free(uids);
	if (nfailed > 0) {
		struct buf b;
		buf_init(&b, BUF_MAX_DEFAULT);
		if (cmd->uid)
			imap_seqset_write(&b, failed, nfailed);
		else {
			uint32_t *seqs = xcalloc(nfailed, sizeof(*seqs));
			size_t k = 0;
			for (size_t j = 0; j < nfailed; j++) {
				uint32_t seq = imap_seq_of(s->sel, failed[j]);
				if (seq)
					seqs[k++] = seq;
			}
			imap_seqset_write(&b, seqs, k);
			free(seqs);
		}
		free(failed);
		imap_done(s, cmd, "OK", "[MODIFIED %s] Conditional STORE failed.", buf_cstr(&b));
		buf_free(&b);
		return;
	}
	free(failed);
	imap_done(s, cmd, "OK", "Store completed.");
}

static void write_uid_list(struct buf *b, const uint32_t *v, size_t n)
{
	bool sorted = true;
	for (size_t i = 1; i < n && sorted; i++)
		sorted = v[i] > v[i - 1];
	if (sorted) {
		imap_seqset_write(b, v, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s%u", i ? "," : "", v[i]);
}

static void copy_common(struct imap_session *s, struct imap_cmd *cmd, bool move)
{
	const char *error;
	if (cmd->argc != 2) {
		imap_bad(s, cmd, "%s needs a sequence set and a mailbox", move ? "MOVE" : "COPY");
		return;
	}
	uint32_t *uids;
	size_t n;
	if (imap_set_to_uids(s, &cmd->args[0], cmd->uid, &uids, &n, &error) < 0) {
		imap_bad(s, cmd, "%s", error);
		return;
	}
	char *name = imap_name_in(s, &cmd->args[1], &error);
	if (name == NULL) {
		free(uids);
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	struct store_mailbox dst = {0};
	int r = store_mailbox_get(s->srv->store, s->user_id, name, &dst, &error);
	free(name);
	if (r <= 0) {
		free(uids);
		imap_done(s, cmd, "NO",
			  r == 0 ? "[TRYCREATE] Mailbox doesn't exist." : "[SERVERBUG] Internal error.");
		return;
	}
	if (move && s->sel->readonly) {
		free(uids);
		store_mailbox_clear(&dst);
		imap_done(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only.");
		return;
	}
	if (n == 0) {
		free(uids);
		store_mailbox_clear(&dst);
		imap_done(s, cmd, "OK", "No messages found.");
		return;
	}
	uint32_t *src_uids = NULL, *new_uids = NULL;
	int copied =
	    store_msg_copy(s->srv->store, s->sel->id, uids, n, dst.id, move, &src_uids, &new_uids, &error);
	free(uids);
	if (copied < 0) {
		store_mailbox_clear(&dst);
		if (strstr(error, "quota") != NULL)
			imap_done(s, cmd, "NO", "[OVERQUOTA] Quota exceeded (mailbox for user is full)");
		else {
			log_session(s->c->id, "imap %s failed: %s", move ? "move" : "copy", error);
			imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		}
		return;
	}
	if (dst.id == s->sel->id || move)
		s->sel->dirty = true;
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	if (copied > 0) {
		buf_printf(&b, "[COPYUID %u ", dst.uidvalidity);
		write_uid_list(&b, src_uids, (size_t)copied);
		buf_putc(&b, ' ');
		write_uid_list(&b, new_uids, (size_t)copied);
		buf_putc(&b, ']');
	}
	free(src_uids);
	free(new_uids);
	store_mailbox_clear(&dst);
	if (move) {
		if (copied > 0)
			imap_printf(s, "* OK %s Moved UIDs.\r\n", buf_cstr(&b));
		imap_done(s, cmd, "OK", "Move completed.");
	} else if (copied > 0)
		imap_done(s, cmd, "OK", "%s Copy completed.", buf_cstr(&b));
	else
		imap_done(s, cmd, "OK", "No messages found.");
	buf_free(&b);
}

void cmd_copy(struct imap_session *s, struct imap_cmd *cmd)
{
	copy_common(s, cmd, false);
}

void cmd_move(struct imap_session *s, struct imap_cmd *cmd)
{
	copy_common(s, cmd, true);
}
