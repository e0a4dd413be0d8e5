/* imap_update: CONTEXT=SEARCH update contexts (RFC 5267 section 4): a
 * SEARCH RETURN (UPDATE ...) whose result the server keeps current by
 * sending untagged "ESEARCH (TAG "t") [UID] ADDTO (0 set)" and
 * "... REMOVEFROM (0 set)" responses as the mailbox changes.
 *
 * The work rides on imap_sync, which already knows what changed: messages
 * that arrived or changed (store_changes_since) are searched again with
 * the kept program and compared with the kept result; expunged messages
 * leave the result with a REMOVEFROM sent just before their EXPUNGE (or
 * VANISHED), so it is held back exactly when EXPUNGE is (during FETCH,
 * STORE and SEARCH by sequence number) and its sequence numbers are the
 * ones the client still knows. ADDTO for new messages follows their
 * EXISTS. Plain SEARCH has no order, so the position is always 0. With
 * NOTIFY, UPDATE may name FETCH attributes (RFC 5465 7): new messages
 * that join a result are fetched just before their ADDTO.
 *
 * The program is pinned when it is kept: sequence numbers and "$" become
 * the UIDs they named at the time of the SEARCH. A session keeps at most
 * IMAP_UPDATE_MAX contexts (beyond that, SEARCH answers NO [NOUPDATE]
 * and runs without updates); they end with CANCELUPDATE, or when the
 * mailbox is closed. */
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "imap/imap_search.h"
#include "util/log.h"
#include "util/mem.h"

struct imap_update *imap_update_find(struct imap_selected *sel, const char *tag)
{
	for (size_t i = 0; i < sel->update_count; i++)
		if (strcmp(sel->updates[i].tag, tag) == 0)
			return &sel->updates[i];
	return NULL;
}

int imap_update_add(struct imap_session *s, const char *tag, bool uid, struct imap_search *q,
		    struct imap_fetch_atts *fetch, const uint32_t *uids, size_t n)
{
	struct imap_selected *sel = s->sel;
	if (sel->update_count >= IMAP_UPDATE_MAX) {
		imap_search_free(&q);
		imap_fetch_atts_free(&fetch);
		return -1;
	}
	imap_search_pin(s, q);
	sel->updates = xreallocarray(sel->updates, sel->update_count + 1, sizeof(*sel->updates));
	struct imap_update *u = &sel->updates[sel->update_count++];
	memset(u, 0, sizeof(*u));
	u->tag = xstrdup(tag);
	u->uid = uid;
	u->q = q;
	u->fetch = fetch;
	u->uids = xcalloc(n + 1, sizeof(*u->uids));
	if (n > 0)
		memcpy(u->uids, uids, n * sizeof(*uids));
	u->count = n;
	return 0;
}

static void update_clear(struct imap_update *u)
{
	free(u->tag);
	imap_search_free(&u->q);
	imap_fetch_atts_free(&u->fetch);
	free(u->uids);
	memset(u, 0, sizeof(*u));
}

void imap_update_cancel(struct imap_selected *sel, const char *tag)
{
	struct imap_update *u = imap_update_find(sel, tag);
	if (u == NULL)
		return;
	update_clear(u);
	size_t i = (size_t)(u - sel->updates);
	memmove(&sel->updates[i], &sel->updates[i + 1], (sel->update_count - i - 1) * sizeof(*u));
	sel->update_count--;
}

void imap_update_free_all(struct imap_selected *sel)
{
	for (size_t i = 0; i < sel->update_count; i++)
		update_clear(&sel->updates[i]);
	free(sel->updates);
	sel->updates = NULL;
	sel->update_count = 0;
}

/* Appends "* ESEARCH (TAG "t") [UID] <what> (0 set)" for the UIDs
 * v[0..n) (ascending), as sequence numbers unless the context is UID. */
static void write_update(struct imap_session *s, struct buf *b, const struct imap_update *u, const char *what,
			 const uint32_t *v, size_t n)
{
	if (n == 0)
		return;
	buf_printf(b, "* ESEARCH (TAG \"%s\")%s %s (0 ", u->tag, u->uid ? " UID" : "", what);
	if (u->uid)
		imap_seqset_write(b, v, n);
	else {
		uint32_t *seqs = xcalloc(n, sizeof(*seqs));
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t seq = imap_seq_of(s->sel, v[i]);
			if (seq != 0)
				seqs[k++] = seq;
		}
		/* Ascending UIDs have ascending numbers. */
		imap_seqset_write(b, seqs, k);
		free(seqs);
	}
	buf_puts(b, ")\r\n");
}

/* u->uids without the ascending UIDs in del, plus those in add. */
static void result_edit(struct imap_update *u, const uint32_t *del, size_t ndel, const uint32_t *add,
			size_t nadd)
{
	size_t j = 0;
	for (size_t i = 0; i < u->count; i++)
		if (!imap_u32_contains(del, ndel, u->uids[i]))
			u->uids[j++] = u->uids[i];
	u->count = j;
	if (nadd == 0)
		return;
	u->uids = xreallocarray(u->uids, u->count + nadd + 1, sizeof(*u->uids));
	memcpy(u->uids + u->count, add, nadd * sizeof(*add));
	u->count += nadd;
	imap_u32_sort(u->uids, u->count);
}

void imap_update_expunged(struct imap_session *s, const uint32_t *v, size_t n)
{
	struct imap_selected *sel = s->sel;
	if (sel == NULL || sel->update_count == 0 || n == 0)
		return;
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	uint32_t *gone = xcalloc(n, sizeof(*gone));
	for (size_t i = 0; i < sel->update_count; i++) {
		struct imap_update *u = &sel->updates[i];
		size_t k = 0;
		for (size_t j = 0; j < n; j++)
			if (imap_u32_contains(u->uids, u->count, v[j]))
				gone[k++] = v[j];
		write_update(s, &b, u, "REMOVEFROM", gone, k);
		result_edit(u, gone, k, NULL, 0);
	}
	free(gone);
	imap_write_buf(s, &b);
	buf_free(&b);
}

void imap_update_changed(struct imap_session *s, const struct store_msg *m, size_t n, uint32_t new_uid)
{
	struct imap_selected *sel = s->sel;
	if (sel == NULL || sel->update_count == 0 || n == 0)
		return;
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	uint32_t *add = xcalloc(n, sizeof(*add));
	uint32_t *del = xcalloc(n, sizeof(*del));
	for (size_t i = 0; i < sel->update_count; i++) {
		struct imap_update *u = &sel->updates[i];
		size_t nadd = 0, ndel = 0;
		for (size_t j = 0; j < n; j++) {
			uint32_t seq = imap_seq_of(sel, m[j].uid);
			if (seq == 0)
				continue; /* gone, or not told to the client */
			const char *error;
			int r = imap_search_match(s, u->q, &m[j], seq, &error);
			if (r < 0) {
				log_session(s->c->id, "imap search update: uid %u: %s", m[j].uid, error);
				continue;
			}
			bool was = imap_u32_contains(u->uids, u->count, m[j].uid);
			if (r == 1 && !was)
				add[nadd++] = m[j].uid;
			else if (r == 0 && was)
				del[ndel++] = m[j].uid;
		}
		write_update(s, &b, u, "REMOVEFROM", del, ndel);
		if (u->fetch != NULL && nadd > 0 && add[nadd - 1] >= new_uid) {
			/* RFC 5465 7: new messages' FETCH, then the ADDTO. */
			size_t k = 0;
			while (add[k] < new_uid)
				k++;
			imap_write_buf(s, &b);
			buf_reset(&b);
			imap_fetch_atts_write(s, u->fetch, add + k, nadd - k);
		}
		write_update(s, &b, u, "ADDTO", add, nadd);
		result_edit(u, del, ndel, add, nadd);
		if (b.len > 256 * 1024) {
			imap_write_buf(s, &b);
			buf_reset(&b);
		}
	}
	free(add);
	free(del);
	imap_write_buf(s, &b);
	buf_free(&b);
}
