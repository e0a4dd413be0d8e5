/* cmd_notify: NOTIFY (RFC 5465): the client says which events it wants to
 * hear about, for the selected mailbox and for others, and the server then
 * sends them as they happen, without the client asking (not only in IDLE).
 *
 * Events come from the store's change watcher, which already sees every
 * mailbox of the user (a mailbox id, or 0 for the mailbox list: create,
 * delete, rename, subscribe). For mailboxes other than the selected one
 * the session keeps a snapshot of the user's mailboxes (id, name,
 * subscription, counters) while NOTIFY is set, and a notice is turned into
 * what changed by comparing with it: STATUS for message events
 * (MessageNew, MessageExpunge, FlagChange), LIST for MailboxName (with
 * OLDNAME for renames, \NonExistent for deletions) and SubscriptionChange.
 * The selected mailbox goes through imap_sync as always; with a SELECTED
 * filter its changes are sent at once (SELECTED-DELAYED: EXPUNGE waits for
 * a command that allows it), with MessageNew's FETCH attributes for new
 * messages (not for those this connection added), FETCH FLAGS with UID
 * for FlagChange and none without it. Without a SELECTED filter (or with
 * NONE) the client asked for no events of the selected mailbox (RFC 5465
 * 3.1): it keeps its view, except that its own APPEND/COPY into it, MOVE,
 * EXPUNGE and NOTIFY (an implicit NOOP) report what accumulated. The
 * client's own changes to other mailboxes are not echoed back (5: SHOULD).
 *
 * Notifications go out at once when no command runs (or during IDLE), and
 * otherwise before the tagged reply of the running command, never inside
 * another response. AnnotationChange, MailboxMetadataChange and
 * ServerMetadataChange are answered NO [BADEVENT] (no ANNOTATE, no
 * METADATA); unknown events too. XXX: MessageNew, MessageExpunge and
 * FlagChange may come alone for filters other than SELECTED (RFC 5465 5
 * says BAD; Dovecot and its imaptest accept them, as STATUS counters).
 * Limits: NOTIFY_MAX_GROUPS event groups and NOTIFY_MAX_NAMES mailbox names
 * per NOTIFY SET (NO [LIMIT]). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "util/log.h"
#include "util/mem.h"

#define NOTIFY_MAX_GROUPS 20
#define NOTIFY_MAX_NAMES 100
#define NOTIFY_MAX_DIRTY 64 /* mailboxes noted before a full rescan */

enum {
	NE_NEW = 1u << 0,
	NE_EXPUNGE = 1u << 1,
	NE_FLAGS = 1u << 2,
	NE_ANNOTATION = 1u << 3,
	NE_NAME = 1u << 4,
	NE_SUBSCRIPTION = 1u << 5,
	NE_MAILBOX_METADATA = 1u << 6,
	NE_SERVER_METADATA = 1u << 7,
	NE_UNKNOWN = 1u << 8,
};
#define NE_MESSAGE (NE_NEW | NE_EXPUNGE | NE_FLAGS | NE_ANNOTATION)
#define NE_UNSUPPORTED (NE_ANNOTATION | NE_MAILBOX_METADATA | NE_SERVER_METADATA | NE_UNKNOWN)
#define NE_SUPPORTED_TEXT "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)"

static const struct {
	const char *name;
	unsigned bit;
} event_names[] = {
    {"MessageNew", NE_NEW},
    {"MessageExpunge", NE_EXPUNGE},
    {"FlagChange", NE_FLAGS},
    {"AnnotationChange", NE_ANNOTATION},
    {"MailboxName", NE_NAME},
    {"SubscriptionChange", NE_SUBSCRIPTION},
    {"MailboxMetadataChange", NE_MAILBOX_METADATA},
    {"ServerMetadataChange", NE_SERVER_METADATA},
};

enum notify_filter { NF_INBOXES, NF_PERSONAL, NF_SUBSCRIBED, NF_SUBTREE, NF_MAILBOXES };

struct notify_group {
	enum notify_filter filter;
	char **names; /* SUBTREE, MAILBOXES: storage form (UTF-8) */
	size_t nnames;
	unsigned events; /* 0: NONE */
};

/* A mailbox as last told (or known) to the client. */
struct notify_box {
	int64_t id;
	char *name;
	bool subscribed;
	uint32_t messages, uidnext, uidvalidity, unseen;
	uint64_t modseq;
};

struct imap_notify {
	/* The SELECTED / SELECTED-DELAYED filter. */
	bool selected;
	bool delayed;
	unsigned selected_events;
	struct imap_fetch_atts *fetch; /* MessageNew's attributes, or NULL */
	/* The other filters, in the order given. */
	struct notify_group *groups;
	size_t ngroups;
	/* Snapshot of the user's mailboxes, ascending ids (only with groups). */
	struct notify_box *boxes;
	size_t nboxes;
	/* Notices not handled yet. */
	int64_t dirty[NOTIFY_MAX_DIRTY];
	size_t ndirty;
	bool list_dirty;
	bool own_cmd; /* the running command changes mail or mailboxes */
	bool own_new; /* ... and added the new messages of the selected one */
};

/* ---- state -------------------------------------------------------------- */

static void boxes_free(struct notify_box *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void group_clear(struct notify_group *g)
{
	for (size_t i = 0; i < g->nnames; i++)
		free(g->names[i]);
	free(g->names);
	memset(g, 0, sizeof(*g));
}

void imap_notify_free(struct imap_notify **np)
{
	struct imap_notify *n = *np;
	if (n == NULL)
		return;
	imap_fetch_atts_free(&n->fetch);
	for (size_t i = 0; i < n->ngroups; i++)
		group_clear(&n->groups[i]);
	free(n->groups);
	boxes_free(n->boxes, n->nboxes);
	free(n);
	*np = NULL;
}

static int box_cmp(const void *a, const void *b)
{
	const struct notify_box *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void box_from(struct notify_box *b, const struct store_mailbox *mb)
{
	b->id = mb->id;
	b->name = xstrdup(mb->name);
	b->subscribed = mb->subscribed;
	b->messages = mb->messages;
	b->uidnext = mb->uidnext;
	b->uidvalidity = mb->uidvalidity;
	b->unseen = mb->unseen;
	b->modseq = mb->highestmodseq;
}

/* The user's mailboxes now, ascending ids. */
static int load_boxes(struct imap_session *s, struct notify_box **v_r, size_t *n_r, const char **error_r)
{
	struct store_mailbox *list = NULL;
	size_t count = 0;
	if (store_mailbox_list(s->srv->store, s->user_id, &list, &count, error_r) < 0)
		return -1;
	struct notify_box *v = xcalloc(count + 1, sizeof(*v));
	for (size_t i = 0; i < count; i++)
		box_from(&v[i], &list[i]);
	store_mailbox_list_free(&list, count);
	qsort(v, count, sizeof(*v), box_cmp);
	*v_r = v;
	*n_r = count;
	return 0;
}

/* ---- matching ------------------------------------------------------------ */

static bool filter_matches(const struct notify_group *g, const struct notify_box *b)
{
	switch (g->filter) {
	case NF_PERSONAL:
		return true;
	case NF_INBOXES:
		/* Mail is delivered to INBOX only. */
		return strcmp(b->name, "INBOX") == 0;
	case NF_SUBSCRIBED:
		return b->subscribed;
	case NF_SUBTREE:
		for (size_t i = 0; i < g->nnames; i++) {
			size_t l = strlen(g->names[i]);
			if (strncmp(b->name, g->names[i], l) == 0 &&
			    (b->name[l] == '\0' || b->name[l] == STORE_MAILBOX_SEP))
				return true;
		}
		return false;
	case NF_MAILBOXES:
		for (size_t i = 0; i < g->nnames; i++)
			if (strcmp(b->name, g->names[i]) == 0)
				return true;
		return false;
	}
	return false;
}

/* The group that asks for event ev on mailbox b, or NULL. The first group
 * whose filter matches with NONE means no events for it. */
static const struct notify_group *match(const struct imap_notify *n, const struct notify_box *b, unsigned ev)
{
	for (size_t i = 0; i < n->ngroups; i++) {
		const struct notify_group *g = &n->groups[i];
		if (!filter_matches(g, b))
			continue;
		if (g->events == 0)
			return NULL;
		if (g->events & ev)
			return g;
	}
	return NULL;
}

/* ---- responses ------------------------------------------------------------ */

static void write_status(struct imap_session *s, struct buf *out, const struct notify_box *b, bool modseq)
{
	buf_puts(out, "* STATUS ");
	imap_name_out(s, b->name, out);
	buf_printf(out, " (MESSAGES %u UIDNEXT %u UIDVALIDITY %u UNSEEN %u", b->messages, b->uidnext,
		   b->uidvalidity, b->unseen);
	if (modseq)
		buf_printf(out, " HIGHESTMODSEQ %llu", (unsigned long long)b->modseq);
	buf_puts(out, ")\r\n");
}

static void write_list(struct imap_session *s, struct buf *out, const char *attrs, const char *name,
		       const char *oldname)
{
	buf_printf(out, "* LIST (%s) \"%c\" ", attrs, STORE_MAILBOX_SEP);
	imap_name_out(s, name, out);
	if (oldname != NULL) {
		buf_puts(out, " (\"OLDNAME\" (");
		imap_name_out(s, oldname, out);
		buf_puts(out, "))");
	}
	buf_puts(out, "\r\n");
}

/* What changed in a mailbox other than the selected one, as STATUS. */
static void status_changes(struct imap_session *s, struct buf *out, const struct notify_box *old,
			   const struct notify_box *now)
{
	const struct imap_notify *n = s->notify;
	if (s->sel != NULL && now->id == s->sel->id)
		return; /* only through the SELECTED filter */
	bool arrived = now->uidnext > old->uidnext;
	uint64_t added = now->uidnext > old->uidnext ? now->uidnext - old->uidnext : 0;
	bool expunged = (uint64_t)now->messages < (uint64_t)old->messages + added;
	bool flags = now->modseq != old->modseq || now->unseen != old->unseen;
	const struct notify_group *g = NULL;
	if (arrived)
		g = match(n, now, NE_NEW);
	if (g == NULL && expunged)
		g = match(n, now, NE_EXPUNGE);
	if (g == NULL && flags && !arrived && !expunged)
		g = match(n, now, NE_FLAGS);
	if (g != NULL)
		write_status(s, out, now, (g->events & NE_FLAGS) || s->condstore);
}

/* Whether the rename o -> c is inside a rename of one of its parents
 * (RFC 5465 5.4: children move with their parent, without events). */
static bool parent_renamed(const struct notify_box *old, size_t nold, const struct notify_box *now,
			   size_t nnow, const struct notify_box *o, const struct notify_box *c)
{
	for (size_t k = 0; k < nold; k++) {
		const struct notify_box *po = &old[k];
		size_t lo = strlen(po->name);
		if (po == o || strncmp(o->name, po->name, lo) != 0 || o->name[lo] != STORE_MAILBOX_SEP)
			continue;
		struct notify_box key = {.id = po->id};
		const struct notify_box *pc = bsearch(&key, now, nnow, sizeof(*now), box_cmp);
		if (pc == NULL || strcmp(pc->name, po->name) == 0)
			continue;
		size_t ln = strlen(pc->name);
		if (strncmp(c->name, pc->name, ln) == 0 && c->name[ln] == STORE_MAILBOX_SEP)
			return true;
	}
	return false;
}

/* A whole new look at the mailbox list: names, subscriptions, counters.
 * out NULL: take in the changes without telling (the client made them). */
static void rescan(struct imap_session *s, struct buf *out)
{
	struct imap_notify *n = s->notify;
	struct notify_box *now;
	size_t count;
	const char *error;
	if (load_boxes(s, &now, &count, &error) < 0) {
		log_session(s->c->id, "imap notify: %s", error);
		return;
	}
	size_t i = 0, j = 0;
	while (out != NULL && (i < n->nboxes || j < count)) {
		const struct notify_box *o = i < n->nboxes ? &n->boxes[i] : NULL;
		const struct notify_box *c = j < count ? &now[j] : NULL;
		if (c == NULL || (o != NULL && o->id < c->id)) {
			if (match(n, o, NE_NAME) != NULL)
				write_list(s, out, "\\NonExistent", o->name, NULL);
			i++;
			continue;
		}
		if (o == NULL || c->id < o->id) {
			if (match(n, c, NE_NAME) != NULL)
				write_list(s, out, c->subscribed ? "\\Subscribed" : "", c->name, NULL);
			j++;
			continue;
		}
		if (strcmp(o->name, c->name) != 0) {
			if ((match(n, c, NE_NAME) != NULL || match(n, o, NE_NAME) != NULL) &&
			    !parent_renamed(n->boxes, n->nboxes, now, count, o, c))
				write_list(s, out, c->subscribed ? "\\Subscribed" : "", c->name, o->name);
		} else if (o->subscribed != c->subscribed &&
			   match(n, c->subscribed ? c : o, NE_SUBSCRIPTION) != NULL)
			write_list(s, out, c->subscribed ? "\\Subscribed" : "", c->name, NULL);
		status_changes(s, out, o, c);
		i++;
		j++;
	}
	boxes_free(n->boxes, n->nboxes);
	n->boxes = now;
	n->nboxes = count;
}

static struct notify_box *find_box(struct imap_notify *n, int64_t id)
{
	struct notify_box key = {.id = id};
	return bsearch(&key, n->boxes, n->nboxes, sizeof(*n->boxes), box_cmp);
}

/* Sends what the pending notices changed. */
static void notify_flush(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (n == NULL || conn_closing(s->c) || (!n->list_dirty && n->ndirty == 0))
		return;
	struct buf out;
	buf_init(&out, BUF_MAX_DEFAULT);
	if (n->list_dirty)
		rescan(s, &out);
	else {
		for (size_t i = 0; i < n->ndirty; i++) {
			struct notify_box *old = find_box(n, n->dirty[i]);
			struct store_mailbox mb = {0};
			const char *error;
			if (old == NULL ||
			    store_mailbox_get_by_id(s->srv->store, n->dirty[i], &mb, &error) != 1) {
				/* Gone or unknown: the list notice will tell. */
				store_mailbox_clear(&mb);
				continue;
			}
			struct notify_box now;
			box_from(&now, &mb);
			store_mailbox_clear(&mb);
			/* A counter notice does not rename; keep the known name. */
			free(now.name);
			now.name = old->name;
			now.subscribed = old->subscribed;
			status_changes(s, &out, old, &now);
			*old = now;
		}
	}
	n->ndirty = 0;
	n->list_dirty = false;
	imap_write_buf(s, &out);
	buf_free(&out);
}

void imap_notify_watch(struct imap_session *s, int64_t mailbox_id)
{
	struct imap_notify *n = s->notify;
	if (n == NULL || conn_closing(s->c))
		return;
	/* The selected mailbox: at once when no command runs (IDLE does it
	 * itself). */
	if (s->sel != NULL && mailbox_id == s->sel->id && n->selected && n->selected_events != 0 &&
	    s->wait == IMAP_WAIT_NONE && s->state == IMAP_STATE_SELECTED)
		imap_sync(s, n->delayed ? 0 : IMAP_SYNC_EXPUNGE);
	if (n->ngroups > 0) {
		if (mailbox_id == 0 || n->ndirty == NOTIFY_MAX_DIRTY)
			n->list_dirty = true;
		else {
			bool known = false;
			for (size_t i = 0; i < n->ndirty && !known; i++)
				known = n->dirty[i] == mailbox_id;
			if (!known)
				n->dirty[n->ndirty++] = mailbox_id;
		}
	}
	if (s->wait == IMAP_WAIT_NONE || s->wait == IMAP_WAIT_IDLE)
		notify_flush(s);
}

/* Commands that change mail or mailboxes themselves. */
static const char *const own_commands[] = {"APPEND", "COPY",   "MOVE",	    "EXPUNGE",	   "CLOSE", "CREATE",
					   "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "NOTIFY"};

/* Whether the mailbox argument a names the selected mailbox. */
static bool names_selected(struct imap_session *s, const struct imap_arg *a)
{
	const char *error;
	if (s->sel == NULL || a == NULL)
		return false;
	char *name = imap_name_in(s, a, &error);
	bool same = name != NULL && strcmp(name, s->sel->name) == 0;
	free(name);
	return same;
}

unsigned imap_notify_command_begin(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_notify *n = s->notify;
	n->own_cmd = false;
	for (size_t i = 0; i < sizeof(own_commands) / sizeof(own_commands[0]) && !n->own_cmd; i++)
		n->own_cmd = strcmp(cmd->name, own_commands[i]) == 0;
	if (!n->own_cmd)
		return 0;
	/* Changes to the selected mailbox: answered even when quiet. */
	bool append = strcmp(cmd->name, "APPEND") == 0, copy = strcmp(cmd->name, "COPY") == 0;
	bool into_sel = (append && cmd->argc >= 1 && names_selected(s, &cmd->args[0])) ||
			(copy && cmd->argc >= 2 && names_selected(s, &cmd->args[1]));
	/* RFC 5465 5.2: no FETCH for messages this connection added. */
	n->own_new = into_sel;
	if (into_sel || strcmp(cmd->name, "MOVE") == 0 || strcmp(cmd->name, "EXPUNGE") == 0 ||
	    strcmp(cmd->name, "NOTIFY") == 0)
		return IMAP_SYNC_OWN;
	return 0;
}

void imap_notify_command_end(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	n->own_new = false;
	notify_flush(s);
	/* Its notices come later (the store defers them to the loop) and
	 * then find nothing new. XXX: a change by another session that is
	 * committed in the same loop turn is taken in silently too. */
	if (n->own_cmd && n->ngroups > 0 && !conn_closing(s->c))
		rescan(s, NULL);
	n->own_cmd = false;
}

bool imap_notify_selected_quiet(struct imap_session *s)
{
	const struct imap_notify *n = s->notify;
	return n != NULL && n->selected_events == 0;
}

bool imap_notify_wants_flags(struct imap_session *s, bool *uid_r)
{
	const struct imap_notify *n = s->notify;
	*uid_r = n != NULL && n->selected_events != 0;
	return n == NULL || n->selected_events == 0 || (n->selected_events & NE_FLAGS);
}

void imap_notify_new_messages(struct imap_session *s, const uint32_t *uids, size_t count)
{
	const struct imap_notify *n = s->notify;
	if (n == NULL || !n->selected || n->fetch == NULL || n->own_new || count == 0)
		return;
	imap_fetch_atts_write(s, n->fetch, uids, count);
}

/* ---- the command ------------------------------------------------------------ */

/* events: "NONE" or a list. Sets *events_r (NE_UNKNOWN for events we do
 * not know), and *fetch_r for MessageNew's attributes (selected only).
 * Returns 0, or -1 with *error_r (BAD). */
static int parse_events(const struct imap_arg *a, bool selected, unsigned *events_r,
			struct imap_fetch_atts **fetch_r, const char **error_r)
{
	*events_r = 0;
	if (imap_arg_atom_is(a, "NONE"))
		return 0;
	if (a->type != IMAP_ARG_LIST || a->count == 0) {
		*error_r = "Invalid NOTIFY events";
		return -1;
	}
	unsigned ev = 0;
	for (size_t k = 0; k < a->count; k++) {
		const struct imap_arg *e = &a->list[k];
		if (e->type != IMAP_ARG_ATOM) {
			*error_r = "Invalid NOTIFY event";
			return -1;
		}
		unsigned bit = NE_UNKNOWN;
		for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
			if (strcasecmp(e->str, event_names[i].name) == 0)
				bit = event_names[i].bit;
		ev |= bit;
		if (bit == NE_NEW && k + 1 < a->count && a->list[k + 1].type == IMAP_ARG_LIST) {
			if (!selected) {
				*error_r = "MessageNew attributes are for the selected mailbox only";
				return -1;
			}
			if (*fetch_r != NULL) {
				*error_r = "MessageNew given twice";
				return -1;
			}
			*fetch_r = imap_fetch_atts_parse(&a->list[++k], error_r);
			if (*fetch_r == NULL)
				return -1;
		}
	}
	/* RFC 5465 5: for the selected mailbox (whose sequence numbers the
	 * client tracks), MessageNew and MessageExpunge go together, and
	 * FlagChange and AnnotationChange need them. Elsewhere they are
	 * STATUS counters and may come alone (as Dovecot's imaptest wants). */
	if (selected && ((ev & NE_NEW) != 0) != ((ev & NE_EXPUNGE) != 0)) {
		*error_r = "MessageNew and MessageExpunge must be given together";
		return -1;
	}
	if (selected && (ev & (NE_FLAGS | NE_ANNOTATION)) && !(ev & NE_NEW)) {
		*error_r = "FlagChange and AnnotationChange need MessageNew and MessageExpunge";
		return -1;
	}
	if (selected && (ev & ~(unsigned)(NE_MESSAGE | NE_UNKNOWN))) {
		*error_r = "Only message events can be asked for the selected mailbox";
		return -1;
	}
	*events_r = ev;
	return 0;
}

/* one-or-more-mailbox: a name or a list of names. Returns 0, -1 with
 * *error_r (BAD), or -2 past NOTIFY_MAX_NAMES in all. */
static int parse_names(struct imap_session *s, const struct imap_arg *a, struct notify_group *g,
		       size_t *total, const char **error_r)
{
	const struct imap_arg *v = a;
	size_t n = 1;
	if (a->type == IMAP_ARG_LIST) {
		v = a->list;
		n = a->count;
		if (n == 0) {
			*error_r = "Empty mailbox list";
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (++*total > NOTIFY_MAX_NAMES) {
			*error_r = "Too many mailbox names";
			return -2;
		}
		char *name = imap_name_in(s, &v[i], error_r);
		if (name == NULL)
			return -1;
		g->names = xreallocarray(g->names, g->nnames + 1, sizeof(*g->names));
		g->names[g->nnames++] = name;
	}
	return 0;
}

static void send_initial_status(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	struct buf out;
	buf_init(&out, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < n->nboxes; i++) {
		const struct notify_box *b = &n->boxes[i];
		if (s->sel != NULL && b->id == s->sel->id)
			continue;
		const struct notify_group *g = match(n, b, NE_NEW);
		if (g == NULL)
			g = match(n, b, NE_EXPUNGE);
		if (g == NULL)
			g = match(n, b, NE_FLAGS);
		if (g != NULL)
			write_status(s, &out, b, (g->events & NE_FLAGS) || s->condstore);
	}
	imap_write_buf(s, &out);
	buf_free(&out);
}

void cmd_notify(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error = NULL;
	if (cmd->argc == 1 && imap_arg_atom_is(&cmd->args[0], "NONE")) {
		imap_notify_free(&s->notify);
		imap_done(s, cmd, "OK", "NOTIFY completed.");
		return;
	}
	if (cmd->argc < 1 || !imap_arg_atom_is(&cmd->args[0], "SET")) {
		imap_bad(s, cmd, "NOTIFY needs SET or NONE");
		return;
	}
	size_t i = 1;
	bool status = false;
	if (i < cmd->argc && imap_arg_atom_is(&cmd->args[i], "STATUS")) {
		status = true;
		i++;
	}
	if (i >= cmd->argc) {
		imap_bad(s, cmd, "NOTIFY SET needs event groups");
		return;
	}
	struct imap_notify *n = xmalloc(sizeof(*n));
	unsigned all_events = 0;
	size_t names = 0;
	bool limit = false;
	for (; i < cmd->argc && error == NULL; i++) {
		const struct imap_arg *a = &cmd->args[i];
		if (a->type != IMAP_ARG_LIST || a->count < 2 || a->list[0].type != IMAP_ARG_ATOM) {
			error = "Invalid NOTIFY event group";
			break;
		}
		const struct imap_arg *f = &a->list[0];
		bool sel = imap_arg_atom_is(f, "SELECTED"), delayed = imap_arg_atom_is(f, "SELECTED-DELAYED");
		if (sel || delayed) {
			if (a->count != 2) {
				error = "Invalid NOTIFY event group";
			} else if (n->selected) {
				error = "Only one SELECTED or SELECTED-DELAYED filter";
			} else if (parse_events(&a->list[1], true, &n->selected_events, &n->fetch, &error) ==
				   0) {
				n->selected = true;
				n->delayed = delayed;
				all_events |= n->selected_events;
			}
			continue;
		}
		if (n->ngroups == NOTIFY_MAX_GROUPS) {
			limit = true;
			error = "Too many NOTIFY event groups";
			break;
		}
		struct notify_group g = {0};
		size_t ev_at = 1;
		if (imap_arg_atom_is(f, "PERSONAL"))
			g.filter = NF_PERSONAL;
		else if (imap_arg_atom_is(f, "INBOXES"))
			g.filter = NF_INBOXES;
		else if (imap_arg_atom_is(f, "SUBSCRIBED"))
			g.filter = NF_SUBSCRIBED;
		else if (imap_arg_atom_is(f, "SUBTREE") || imap_arg_atom_is(f, "MAILBOXES")) {
			g.filter = imap_arg_atom_is(f, "SUBTREE") ? NF_SUBTREE : NF_MAILBOXES;
			ev_at = 2;
			int r = a->count == 3 ? parse_names(s, &a->list[1], &g, &names, &error) : 0;
			if (r < 0) {
				limit = r == -2;
				group_clear(&g);
				break;
			}
		} else {
			error = "Unknown NOTIFY mailbox filter";
			break;
		}
		if (a->count != ev_at + 1) {
			group_clear(&g);
			error = "Invalid NOTIFY event group";
			break;
		}
		struct imap_fetch_atts *no_fetch = NULL;
		if (parse_events(&a->list[ev_at], false, &g.events, &no_fetch, &error) < 0) {
			group_clear(&g);
			break;
		}
		all_events |= g.events;
		n->groups = xreallocarray(n->groups, n->ngroups + 1, sizeof(*n->groups));
		n->groups[n->ngroups++] = g;
	}
	if (error != NULL && !limit) {
		imap_notify_free(&n);
		imap_bad(s, cmd, "%s", error);
		return;
	}
	if (limit) {
		imap_notify_free(&n);
		imap_done(s, cmd, "NO", "[LIMIT] %s (at most %d groups, %d names).", error, NOTIFY_MAX_GROUPS,
			  NOTIFY_MAX_NAMES);
		return;
	}
	if (all_events & NE_UNSUPPORTED) {
		imap_notify_free(&n);
		imap_done(s, cmd, "NO", "[BADEVENT " NE_SUPPORTED_TEXT "] Unsupported NOTIFY events.");
		return;
	}
	if (n->ngroups > 0 && load_boxes(s, &n->boxes, &n->nboxes, &error) < 0) {
		imap_notify_free(&n);
		log_session(s->c->id, "imap notify failed: %s", error);
		imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		return;
	}
	/* RFC 5465 3.1: an implicit NOOP first (under the old set, but the
	 * client made this happen). */
	if (s->sel != NULL && s->state == IMAP_STATE_SELECTED)
		imap_sync(s, IMAP_SYNC_EXPUNGE | IMAP_SYNC_FORCE | IMAP_SYNC_OWN);
	/* The new set replaces the old one. */
	imap_notify_free(&s->notify);
	s->notify = n;
	if (status)
		send_initial_status(s);
	imap_done(s, cmd, "OK", "NOTIFY completed.");
}
