/* imap_sync: the selected mailbox as this session told the client about it,
 * and bringing the client up to date.
 *
 * The session keeps the sequence-number map (the UIDs the client knows, in
 * order), the highest MODSEQ it has reported and the keywords it announced
 * in FLAGS. imap_sync() asks the store what changed since that MODSEQ
 * (store_changes_since: changed or new messages, expunged UIDs) and sends
 * EXPUNGE (VANISHED with QRESYNC), EXISTS, RECENT, FLAGS and FETCH FLAGS.
 * It runs before the tagged reply of every command, but only asks the store
 * when a change notification arrived (store_watch) or the command wants a
 * full check (NOOP, CHECK, IDLE). EXPUNGE responses are held back while a
 * FETCH, STORE or SEARCH by sequence number runs (RFC 3501 7.4.1) and sent
 * at the next chance; until then the expunged message keeps its number.
 *
 * Update contexts of CONTEXT=SEARCH (imap_update.c) are told about the
 * same changes: REMOVEFROM before the EXPUNGE of a message in a result,
 * ADDTO/REMOVEFROM after EXISTS and FETCH FLAGS.
 *
 * Flag changes this session made itself were already answered with FETCH
 * responses; they are remembered as (uid, modseq) pairs for the next sync so
 * that they are not reported twice. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "util/log.h"
#include "util/mem.h"

/* ---- the map ------------------------------------------------------------ */

uint32_t imap_seq_of(const struct imap_selected *sel, uint32_t uid)
{
	size_t lo = 0, hi = sel->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (sel->uids[mid] < uid)
			lo = mid + 1;
		else if (sel->uids[mid] > uid)
			hi = mid;
		else
			return (uint32_t)(mid + 1);
	}
	return 0;
}

void imap_seq_remove(struct imap_selected *sel, uint32_t seq)
{
	if (seq == 0 || seq > sel->count)
		return;
	memmove(&sel->uids[seq - 1], &sel->uids[seq], (sel->count - seq) * sizeof(*sel->uids));
	sel->count--;
}

static void map_append(struct imap_selected *sel, uint32_t uid)
{
	if (sel->count == sel->cap) {
		sel->cap = sel->cap ? sel->cap * 2 : 64;
		sel->uids = xreallocarray(sel->uids, sel->cap, sizeof(*sel->uids));
	}
	sel->uids[sel->count++] = uid;
}

bool imap_is_recent(const struct imap_selected *sel, uint32_t uid)
{
	for (size_t i = 0; i < sel->recent_count; i++)
		if (uid >= sel->recent[i].lo && uid <= sel->recent[i].hi)
			return true;
	return false;
}

uint32_t imap_recent_count(const struct imap_selected *sel)
{
	uint32_t n = 0;
	for (size_t i = 0; i < sel->recent_count; i++) {
		/* UIDs are sorted: count those in [lo, hi] by binary search. */
		size_t a = 0, b = sel->count;
		while (a < b) {
			size_t mid = (a + b) / 2;
			if (sel->uids[mid] < sel->recent[i].lo)
				a = mid + 1;
			else
				b = mid;
		}
		size_t first = a;
		b = sel->count;
		while (a < b) {
			size_t mid = (a + b) / 2;
			if (sel->uids[mid] <= sel->recent[i].hi)
				a = mid + 1;
			else
				b = mid;
		}
		n += (uint32_t)(a - first);
	}
	return n;
}

static void recent_add(struct imap_selected *sel, uint32_t lo, uint32_t hi)
{
	if (lo > hi)
		return;
	/* Takes are monotonic: merge with the last range when they touch. */
	if (sel->recent_count > 0 && lo <= sel->recent[sel->recent_count - 1].hi + 1) {
		if (hi > sel->recent[sel->recent_count - 1].hi)
			sel->recent[sel->recent_count - 1].hi = hi;
		return;
	}
	sel->recent = xreallocarray(sel->recent, sel->recent_count + 1, sizeof(*sel->recent));
	sel->recent[sel->recent_count].lo = lo;
	sel->recent[sel->recent_count].hi = hi;
	sel->recent[sel->recent_count].star = 0;
	sel->recent_count++;
}

void imap_own_change(struct imap_selected *sel, uint32_t uid, uint64_t modseq)
{
	if (sel->own_count == sel->own_cap) {
		sel->own_cap = sel->own_cap ? sel->own_cap * 2 : 16;
		sel->own = xreallocarray(sel->own, sel->own_cap, sizeof(*sel->own));
	}
	sel->own[sel->own_count].uid = uid;
	sel->own[sel->own_count].modseq = modseq;
	sel->own_count++;
}

static bool is_own(const struct imap_selected *sel, uint32_t uid, uint64_t modseq)
{
	/* Appended in ascending UID order by STORE; small in practice. */
	size_t lo = 0, hi = sel->own_count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (sel->own[mid].uid < uid)
			lo = mid + 1;
		else if (sel->own[mid].uid > uid)
			hi = mid;
		else
			return sel->own[mid].modseq == modseq;
	}
	return false;
}

void imap_selected_free(struct imap_selected **selp)
{
	struct imap_selected *sel = *selp;
	if (sel == NULL)
		return;
	free(sel->name);
	free(sel->uids);
	free(sel->keywords);
	free(sel->recent);
	free(sel->pending);
	free(sel->own);
	free(sel->saved);
	imap_update_free_all(sel);
	free(sel);
	*selp = NULL;
}

/* ---- flags ------------------------------------------------------------- */

static const struct {
	uint32_t bit;
	const char *name;
} flag_names[] = {
    {STORE_FLAG_ANSWERED, "\\Answered"}, {STORE_FLAG_FLAGGED, "\\Flagged"},
    {STORE_FLAG_DELETED, "\\Deleted"},	 {STORE_FLAG_SEEN, "\\Seen"},
    {STORE_FLAG_DRAFT, "\\Draft"},	 {STORE_FLAG_FORWARDED, "$Forwarded"},
    {STORE_FLAG_JUNK, "$Junk"},		 {STORE_FLAG_NOTJUNK, "$NotJunk"},
};
#define N_FLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

void imap_write_flags(struct imap_session *s, struct buf *out, uint32_t uid, uint32_t flags,
		      const char *keywords)
{
	buf_putc(out, '(');
	size_t start = out->len;
	for (size_t i = 0; i < N_FLAGS; i++) {
		if (flags & flag_names[i].bit) {
			if (out->len > start)
				buf_putc(out, ' ');
			buf_puts(out, flag_names[i].name);
		}
	}
	if (keywords != NULL && keywords[0] != '\0') {
		if (out->len > start)
			buf_putc(out, ' ');
		buf_puts(out, keywords);
	}
	if (!s->rev2 && s->sel != NULL && imap_is_recent(s->sel, uid)) {
		if (out->len > start)
			buf_putc(out, ' ');
		buf_puts(out, "\\Recent");
	}
	buf_putc(out, ')');
}

static void flags_lines(struct imap_session *s, const char *keywords, struct buf *b)
{
	buf_puts(b, "* FLAGS (");
	for (size_t i = 0; i < N_FLAGS; i++)
		buf_printf(b, "%s%s", i ? " " : "", flag_names[i].name);
	if (keywords != NULL && keywords[0] != '\0') {
		buf_putc(b, ' ');
		buf_puts(b, keywords);
	}
	buf_puts(b, ")\r\n");
	if (s->sel != NULL && s->sel->readonly)
		buf_puts(b, "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
	else {
		buf_puts(b, "* OK [PERMANENTFLAGS (");
		for (size_t i = 0; i < N_FLAGS; i++)
			buf_printf(b, "%s ", flag_names[i].name);
		if (keywords != NULL && keywords[0] != '\0') {
			buf_puts(b, keywords);
			buf_putc(b, ' ');
		}
		buf_puts(b, "\\*)] Flags permitted.\r\n");
	}
}

void imap_send_flags(struct imap_session *s, const char *keywords)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	flags_lines(s, keywords, &b);
	imap_write_buf(s, &b);
	buf_free(&b);
}

static bool keywords_known(const char *known, const char *kws);

void imap_check_keywords(struct imap_session *s, const char *keywords, struct buf *out)
{
	struct imap_selected *sel = s->sel;
	if (sel == NULL || keywords_known(sel->keywords, keywords))
		return;
	struct store_mailbox mb = {0};
	const char *error;
	if (store_mailbox_get_by_id(s->srv->store, sel->id, &mb, &error) == 1) {
		free(sel->keywords);
		sel->keywords = xstrdup(mb.keywords ? mb.keywords : "");
		flags_lines(s, sel->keywords, out);
	}
	store_mailbox_clear(&mb);
}

/* A keyword is an atom without the flag characters IMAP reserves. */
static bool keyword_valid(const char *k, size_t n)
{
	if (n == 0 || n > 200)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

int imap_parse_flags(const struct imap_arg *list, uint32_t *flags_r, struct buf *keywords,
		     const char **error_r)
{
	if (list->type == IMAP_ARG_LIST)
		return imap_parse_flag_args(list->list, list->count, flags_r, keywords, error_r);
	return imap_parse_flag_args(list, 1, flags_r, keywords, error_r);
}

int imap_parse_flag_args(const struct imap_arg *v, size_t n, uint32_t *flags_r, struct buf *keywords,
			 const char **error_r)
{
	*flags_r = 0;
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &v[i];
		if (a->type != IMAP_ARG_ATOM) {
			*error_r = "Invalid flag";
			return -1;
		}
		bool found = false;
		for (size_t k = 0; k < N_FLAGS && !found; k++) {
			if (strcasecmp(a->str, flag_names[k].name) == 0) {
				*flags_r |= flag_names[k].bit;
				found = true;
			}
		}
		if (found)
			continue;
		if (a->str[0] == '\\') {
			/* \Recent cannot be set; other system flags do not exist. */
			if (strcasecmp(a->str, "\\Recent") == 0)
				continue;
			*error_r = "Invalid system flag";
			return -1;
		}
		if (!keyword_valid(a->str, a->len)) {
			*error_r = "Invalid keyword";
			return -1;
		}
		if (keywords->len > 0 && buf_putc(keywords, ' ') < 0) {
			*error_r = "Too many keywords";
			return -1;
		}
		if (buf_append(keywords, a->str, a->len) < 0) {
			*error_r = "Too many keywords";
			return -1;
		}
	}
	return 0;
}

/* true when every keyword in kws is in known (space-separated lists). */
static bool keywords_known(const char *known, const char *kws)
{
	if (kws == NULL)
		return true;
	const char *p = kws;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if (e > p) {
			bool found = false;
			size_t n = (size_t)(e - p);
			const char *q = known ? known : "";
			while (*q && !found) {
				while (*q == ' ')
					q++;
				const char *qe = q;
				while (*qe && *qe != ' ')
					qe++;
				found = (size_t)(qe - q) == n && strncasecmp(q, p, n) == 0;
				q = qe;
			}
			if (!found)
				return false;
		}
		p = e;
	}
	return true;
}

/* ---- opening ------------------------------------------------------------ */

int imap_sync_open(struct imap_session *s, struct imap_selected *sel, const struct store_mailbox *mb0,
		   const char **error_r)
{
	struct store *st = s->srv->store;
	uint32_t first_recent = UINT32_MAX, recent_next = 0;
	/* Take \Recent first, then read the mailbox and the UIDs: a message
	 * delivered meanwhile is then in the map, and recent for whoever takes
	 * it next (our range ends at the UIDNEXT the mark moved to). */
	if (!sel->readonly &&
	    store_mailbox_take_recent(st, mb0->id, &first_recent, &recent_next, error_r) < 0)
		return -1;
	struct store_mailbox mb = {0};
	int r = store_mailbox_get_by_id(st, mb0->id, &mb, error_r);
	if (r <= 0) {
		if (r == 0)
			*error_r = "Mailbox does not exist";
		return -1;
	}
	uint32_t *uids = NULL;
	size_t count = 0;
	if (store_mailbox_uids(st, mb.id, &uids, &count, error_r) < 0) {
		store_mailbox_clear(&mb);
		return -1;
	}
	sel->id = mb.id;
	sel->uidvalidity = mb.uidvalidity;
	sel->uids = uids;
	sel->count = sel->cap = count;
	sel->uidnext = mb.uidnext;
	if (count > 0 && uids[count - 1] >= sel->uidnext)
		sel->uidnext = uids[count - 1] + 1;
	sel->modseq = mb.highestmodseq;
	sel->keywords = xstrdup(mb.keywords ? mb.keywords : "");
	/* EXAMINE shows \Recent without taking it. */
	if (sel->readonly) {
		first_recent = mb.first_recent_uid;
		recent_next = sel->uidnext;
	}
	if (first_recent < recent_next)
		recent_add(sel, first_recent, recent_next - 1);
	store_mailbox_clear(&mb);
	return 0;
}

/* ---- syncing ------------------------------------------------------------ */

/* Reports and removes the expunged UIDs in v (sorted, all in the map). */
static void send_expunges(struct imap_session *s, uint32_t *v, size_t n)
{
	struct imap_selected *sel = s->sel;
	if (n == 0)
		return;
	/* CONTEXT=SEARCH: results lose them first, numbered as still known. */
	imap_update_expunged(s, v, n);
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	if (s->qresync) {
		buf_puts(&b, "* VANISHED ");
		imap_seqset_write(&b, v, n);
		buf_puts(&b, "\r\n");
	} else {
		/* Highest first: each number is then still the current one. */
		for (size_t i = n; i-- > 0;)
			buf_printf(&b, "* %u EXPUNGE\r\n", imap_seq_of(sel, v[i]));
	}
	imap_write_buf(s, &b);
	buf_free(&b);
	/* Compact the map once. */
	size_t j = 0, k = 0;
	for (size_t i = 0; i < sel->count; i++) {
		while (k < n && v[k] < sel->uids[i])
			k++;
		if (k < n && v[k] == sel->uids[i])
			continue;
		sel->uids[j++] = sel->uids[i];
	}
	sel->count = j;
}

static void pending_add(struct imap_selected *sel, const uint32_t *v, size_t n)
{
	if (n == 0)
		return;
	sel->pending = xreallocarray(sel->pending, sel->pending_count + n, sizeof(*sel->pending));
	memcpy(sel->pending + sel->pending_count, v, n * sizeof(*v));
	sel->pending_count += n;
	imap_u32_sort(sel->pending, sel->pending_count);
	size_t j = 0;
	for (size_t i = 0; i < sel->pending_count; i++)
		if (j == 0 || sel->pending[j - 1] != sel->pending[i])
			sel->pending[j++] = sel->pending[i];
	sel->pending_count = j;
}

void imap_sync(struct imap_session *s, unsigned flags)
{
	struct imap_selected *sel = s->sel;
	if (sel == NULL)
		return;
	bool expunge_ok = (flags & IMAP_SYNC_EXPUNGE) != 0;
	if (!(flags & IMAP_SYNC_OWN) && imap_notify_selected_quiet(s)) {
		/* NOTIFY without SELECTED: the client keeps its snapshot. */
		sel->own_count = 0;
		return;
	}
	if (!(flags & IMAP_SYNC_FORCE) && !sel->dirty && !(expunge_ok && sel->pending_count > 0)) {
		sel->own_count = 0;
		return;
	}
	sel->dirty = false;
	struct store_changes ch = {0};
	const char *error;
	if (store_changes_since(s->srv->store, sel->id, sel->modseq, &ch, &error) < 0) {
		struct store_mailbox mb = {0};
		if (store_mailbox_get_by_id(s->srv->store, sel->id, &mb, &error) == 0) {
			/* Deleted by another session: nothing sensible to show. */
			imap_printf(s, "* BYE Selected mailbox was deleted, have to disconnect.\r\n");
			s->state = IMAP_STATE_LOGOUT;
			conn_close(s->c);
		} else
			log_session(s->c->id, "imap sync failed: %s", error);
		store_mailbox_clear(&mb);
		sel->own_count = 0;
		return;
	}

	/* 1. Expunges. */
	uint32_t *gone = NULL;
	size_t ngone = 0;
	if (ch.expunged_count > 0 || (expunge_ok && sel->pending_count > 0)) {
		gone = xcalloc(ch.expunged_count + sel->pending_count + 1, sizeof(*gone));
		for (size_t i = 0; i < ch.expunged_count; i++)
			if (ch.expunged[i] < sel->uidnext && imap_seq_of(sel, ch.expunged[i]) != 0)
				gone[ngone++] = ch.expunged[i];
		if (expunge_ok) {
			for (size_t i = 0; i < sel->pending_count; i++)
				if (imap_seq_of(sel, sel->pending[i]) != 0)
					gone[ngone++] = sel->pending[i];
			free(sel->pending);
			sel->pending = NULL;
			sel->pending_count = 0;
			imap_u32_sort(gone, ngone);
			size_t j = 0;
			for (size_t i = 0; i < ngone; i++)
				if (j == 0 || gone[j - 1] != gone[i])
					gone[j++] = gone[i];
			ngone = j;
			send_expunges(s, gone, ngone);
		} else
			pending_add(sel, gone, ngone);
	}
	free(gone);

	/* 2. New keywords must be announced before they are used. */
	bool kw_new = false;
	for (size_t i = 0; i < ch.changed_count && !kw_new; i++)
		kw_new = !keywords_known(sel->keywords, ch.changed[i].keywords);
	if (kw_new) {
		struct store_mailbox mb = {0};
		if (store_mailbox_get_by_id(s->srv->store, sel->id, &mb, &error) == 1) {
			free(sel->keywords);
			sel->keywords = xstrdup(mb.keywords ? mb.keywords : "");
			imap_send_flags(s, sel->keywords);
		}
		store_mailbox_clear(&mb);
	}

	/* 3. New messages. */
	uint32_t old_next = sel->uidnext;
	size_t added = 0;
	for (size_t i = 0; i < ch.changed_count; i++) {
		uint32_t uid = ch.changed[i].uid;
		if (uid >= sel->uidnext) {
			map_append(sel, uid);
			sel->uidnext = uid + 1;
			added++;
		}
	}
	if (added > 0) {
		uint32_t first = UINT32_MAX, next = sel->uidnext;
		if (!sel->readonly) {
			if (store_mailbox_take_recent(s->srv->store, sel->id, &first, &next, &error) < 0)
				first = UINT32_MAX;
		} else {
			struct store_mailbox mb = {0};
			if (store_mailbox_get_by_id(s->srv->store, sel->id, &mb, &error) == 1)
				first = mb.first_recent_uid;
			store_mailbox_clear(&mb);
		}
		/* What this take claimed; UIDs not in the map yet become recent
		 * when they arrive. */
		if (first != UINT32_MAX && next > 0)
			recent_add(sel, first > old_next ? first : old_next, next - 1);
		imap_printf(s, "* %zu EXISTS\r\n", sel->count);
		if (!s->rev2)
			imap_printf(s, "* %u RECENT\r\n", imap_recent_count(sel));
	}

	/* 4. Flag changes by others (unless NOTIFY's selected filter has no
	 * FlagChange). */
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	bool flag_uid = false;
	bool flags_wanted = imap_notify_wants_flags(s, &flag_uid);
	for (size_t i = 0; i < ch.changed_count && flags_wanted; i++) {
		const struct store_msg *m = &ch.changed[i];
		if (m->uid >= old_next || is_own(sel, m->uid, m->modseq))
			continue;
		uint32_t seq = imap_seq_of(sel, m->uid);
		if (seq == 0)
			continue;
		buf_printf(&b, "* %u FETCH (", seq);
		if (s->qresync || flag_uid)
			buf_printf(&b, "UID %u ", m->uid);
		buf_puts(&b, "FLAGS ");
		imap_write_flags(s, &b, m->uid, m->flags, m->keywords);
		if (s->condstore)
			buf_printf(&b, " MODSEQ (%llu)", (unsigned long long)m->modseq);
		buf_puts(&b, ")\r\n");
		if (b.len > 256 * 1024) {
			imap_write_buf(s, &b);
			buf_reset(&b);
		}
	}
	imap_write_buf(s, &b);
	buf_free(&b);
	/* 5. CONTEXT=SEARCH: results that changed with them. */
	imap_update_changed(s, ch.changed, ch.changed_count, old_next);
	/* 6. NOTIFY's MessageNew attributes, after EXISTS and any ADDTO
	 * (RFC 5465 5.2). */
	if (added > 0)
		imap_notify_new_messages(s, sel->uids + sel->count - added, added);
	if (ch.highestmodseq > sel->modseq)
		sel->modseq = ch.highestmodseq;
	sel->own_count = 0;
	store_changes_clear(&ch);
}

/* ---- sets --------------------------------------------------------------- */

int imap_set_to_uids(struct imap_session *s, const struct imap_arg *a, bool uid, uint32_t **uids_r,
		     size_t *count_r, const char **error_r)
{
	struct imap_selected *sel = s->sel;
	*uids_r = NULL;
	*count_r = 0;
	if (a == NULL || a->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (strcmp(a->str, "$") == 0) {
		/* SEARCHRES: the saved UIDs still in the mailbox. */
		uint32_t *v = xcalloc(sel->saved_count + 1, sizeof(*v));
		size_t n = 0;
		for (size_t i = 0; i < sel->saved_count; i++)
			if (imap_seq_of(sel, sel->saved[i]) != 0)
				v[n++] = sel->saved[i];
		*uids_r = v;
		*count_r = n;
		return 0;
	}
	struct imap_seqset set;
	if (imap_seqset_parse(a->str, a->len, &set, error_r) < 0)
		return -1;
	bool star = false;
	for (size_t i = 0; i < set.count; i++)
		star = star || set.r[i].star != 0;
	if (uid)
		imap_seqset_resolve(&set, sel->count ? sel->uids[sel->count - 1] : 0);
	else {
		imap_seqset_resolve(&set, (uint32_t)sel->count);
		if (set.count > 0 && set.r[set.count - 1].hi > sel->count && !(star && sel->count == 0)) {
			imap_seqset_free(&set);
			*error_r = "Invalid messageset";
			return -1;
		}
	}
	size_t cap = 0, n = 0;
	uint32_t *v = NULL;
	for (size_t i = 0; i < set.count; i++) {
		const struct imap_range *r = &set.r[i];
		if (uid) {
			/* First map index with uid >= lo. */
			size_t lo = 0, hi = sel->count;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (sel->uids[mid] < r->lo)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (size_t k = lo; k < sel->count && sel->uids[k] <= r->hi; k++) {
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					v = xreallocarray(v, cap, sizeof(*v));
				}
				v[n++] = sel->uids[k];
			}
		} else {
			for (uint64_t q = r->lo; q <= r->hi && q <= sel->count; q++) {
				if (q == 0)
					continue;
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					v = xreallocarray(v, cap, sizeof(*v));
				}
				v[n++] = sel->uids[q - 1];
			}
		}
	}
	imap_seqset_free(&set);
	*uids_r = v;
	*count_r = n;
	return 0;
}
