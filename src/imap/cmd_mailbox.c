/* cmd_mailbox: commands on mailbox names: CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE, LIST (with LIST-EXTENDED RFC 5258, LIST-STATUS
 * RFC 5819, SPECIAL-USE RFC 6154, CHILDREN RFC 3348), LSUB and STATUS
 * (with STATUS=SIZE RFC 8438, CONDSTORE's HIGHESTMODSEQ).
 *
 * LIST matches patterns against names in the client's form (modified
 * UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT / IMAP4rev2), so wildcards work
 * the same in both. Mailboxes whose parent was deleted keep their place in
 * the hierarchy: the parent is shown as \NonExistent \Noselect to a "%"
 * listing. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "util/log.h"
#include "util/mem.h"

#define SEP STORE_MAILBOX_SEP

/* ---- pattern matching ---------------------------------------------------- */

/* IMAP LIST wildcards: '*' matches anything, '%' anything but the
 * separator. Dynamic programming over pattern positions: no backtracking
 * blowup on patterns like "*a*a*a*b". */
static bool pattern_match(const char *pat, size_t plen, const char *name, size_t nlen)
{
	bool stack_buf[256];
	bool *cur = plen + 1 <= 128 ? stack_buf : xcalloc(2 * (plen + 1), sizeof(bool));
	bool *next = cur + plen + 1;
	memset(cur, 0, (plen + 1) * sizeof(bool));
	cur[0] = true;
	/* Wildcards may match the empty string. */
	for (size_t j = 0; j < plen && cur[j] && (pat[j] == '*' || pat[j] == '%'); j++)
		cur[j + 1] = true;
	for (size_t i = 0; i < nlen; i++) {
		memset(next, 0, (plen + 1) * sizeof(bool));
		char c = name[i];
		for (size_t j = 0; j < plen; j++) {
			if (!cur[j])
				continue;
			if (pat[j] == '*' || (pat[j] == '%' && c != SEP))
				next[j] = true;
			else if (pat[j] == c)
				next[j + 1] = true;
		}
		for (size_t j = 0; j < plen; j++)
			if (next[j] && (pat[j] == '*' || pat[j] == '%'))
				next[j + 1] = true;
		bool *t = cur;
		cur = next;
		next = t;
	}
	bool r = cur[plen];
	if (cur != stack_buf && next != stack_buf)
		free(cur < next ? cur : next);
	return r;
}

/* Client form of a stored name ("" on failure). */
static char *name_client(struct imap_session *s, const char *name)
{
	struct buf b;
	buf_init(&b, strlen(name) * 4 + 16);
	if (s->utf8)
		buf_puts(&b, name);
	else if (imap_utf7_encode(name, strlen(name), &b) < 0)
		buf_reset(&b);
	char *r = buf_steal(&b, NULL);
	return r ? r : xstrdup("");
}

/* The pattern in client form with a leading "inbox" (any case) as "INBOX". */
static char *pattern_norm(const char *ref, const char *pat)
{
	struct buf b;
	buf_init(&b, strlen(ref) + strlen(pat) + 2);
	buf_puts(&b, ref);
	buf_puts(&b, pat);
	char *p = buf_steal(&b, NULL);
	if (p == NULL)
		return xstrdup("");
	if (strncasecmp(p, "INBOX", 5) == 0 && (p[5] == '\0' || p[5] == SEP))
		memcpy(p, "INBOX", 5);
	return p;
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE ----------------------------------- */

static bool store_says_exists(const char *error)
{
	return error != NULL && strstr(error, "already exists") != NULL;
}

void cmd_create(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	if (cmd->argc != 1) {
		imap_bad(s, cmd, "CREATE needs a mailbox name");
		return;
	}
	char *name = imap_name_in(s, &cmd->args[0], &error);
	if (name == NULL) {
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	/* A trailing separator declares the intent to create children. */
	size_t len = strlen(name);
	while (len > 1 && name[len - 1] == SEP)
		name[--len] = '\0';
	if (strcmp(name, "INBOX") == 0) {
		free(name);
		imap_done(s, cmd, "NO", "[ALREADYEXISTS] Mailbox already exists.");
		return;
	}
	if (store_mailbox_create(s->srv->store, s->user_id, name, STORE_SPECIAL_NONE, &error) < 0) {
		free(name);
		if (store_says_exists(error))
			imap_done(s, cmd, "NO", "[ALREADYEXISTS] Mailbox already exists.");
		else
			imap_done(s, cmd, "NO", "[CANNOT] %s", error);
		return;
	}
	free(name);
	imap_done(s, cmd, "OK", "Create completed.");
}

void cmd_delete(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	if (cmd->argc != 1) {
		imap_bad(s, cmd, "DELETE needs a mailbox name");
		return;
	}
	char *name = imap_name_in(s, &cmd->args[0], &error);
	if (name == NULL) {
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		free(name);
		imap_done(s, cmd, "NO", "[CANNOT] INBOX can't be deleted.");
		return;
	}
	struct store_mailbox mb = {0};
	int r = store_mailbox_get(s->srv->store, s->user_id, name, &mb, &error);
	if (r == 0) {
		free(name);
		imap_done(s, cmd, "NO", "[NONEXISTENT] Mailbox doesn't exist.");
		return;
	}
	bool selected = r > 0 && s->sel != NULL && s->sel->id == mb.id;
	store_mailbox_clear(&mb);
	if (r < 0 || store_mailbox_delete(s->srv->store, s->user_id, name, &error) < 0) {
		free(name);
		imap_done(s, cmd, "NO", "[SERVERBUG] %s", error);
		return;
	}
	free(name);
	if (selected)
		imap_unselect(s);
	imap_done(s, cmd, "OK", "Delete completed.");
}

void cmd_rename(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	if (cmd->argc != 2) {
		imap_bad(s, cmd, "RENAME needs two mailbox names");
		return;
	}
	char *from = imap_name_in(s, &cmd->args[0], &error);
	char *to = from ? imap_name_in(s, &cmd->args[1], &error) : NULL;
	if (to == NULL) {
		free(from);
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	size_t len = strlen(to);
	while (len > 1 && to[len - 1] == SEP)
		to[--len] = '\0';
	struct store_mailbox mb = {0};
	int r = store_mailbox_get(s->srv->store, s->user_id, from, &mb, &error);
	if (r == 0) {
		imap_done(s, cmd, "NO", "[NONEXISTENT] Mailbox doesn't exist.");
		goto out;
	}
	struct store_mailbox target = {0};
	int exists = r > 0 ? store_mailbox_get(s->srv->store, s->user_id, to, &target, &error) : 0;
	store_mailbox_clear(&target);
	if (strcmp(to, "INBOX") == 0 || exists > 0) {
		imap_done(s, cmd, "NO", "[ALREADYEXISTS] Target mailbox already exists.");
		goto out;
	}
	if (r < 0 || store_mailbox_rename(s->srv->store, s->user_id, from, to, &error) < 0) {
		if (store_says_exists(error))
			imap_done(s, cmd, "NO", "[ALREADYEXISTS] Target mailbox already exists.");
		else
			imap_done(s, cmd, "NO", "[CANNOT] %s", error);
		goto out;
	}
	if (s->sel != NULL && strcmp(s->sel->name, from) != 0) {
		/* A renamed parent renames the selected child too. */
		size_t fl = strlen(from);
		if (strncmp(s->sel->name, from, fl) == 0 && s->sel->name[fl] == SEP) {
			struct buf b;
			buf_init(&b, strlen(to) + strlen(s->sel->name) + 1);
			buf_puts(&b, to);
			buf_puts(&b, s->sel->name + fl);
			free(s->sel->name);
			s->sel->name = buf_steal(&b, NULL);
		}
	} else if (s->sel != NULL && strcmp(from, "INBOX") != 0) {
		free(s->sel->name);
		s->sel->name = xstrdup(to);
	}
	imap_done(s, cmd, "OK", "Rename completed.");
out:
	store_mailbox_clear(&mb);
	free(from);
	free(to);
}

static void subscribe(struct imap_session *s, struct imap_cmd *cmd, bool on)
{
	const char *error;
	if (cmd->argc != 1) {
		imap_bad(s, cmd, "Missing mailbox name");
		return;
	}
	char *name = imap_name_in(s, &cmd->args[0], &error);
	if (name == NULL) {
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	size_t len = strlen(name);
	while (len > 1 && name[len - 1] == SEP)
		name[--len] = '\0';
	int r = store_mailbox_subscribe(s->srv->store, s->user_id, name, on, &error);
	free(name);
	if (r < 0)
		imap_done(s, cmd, "NO", "[SERVERBUG] %s", error);
	else
		imap_done(s, cmd, "OK", "%s completed.", on ? "Subscribe" : "Unsubscribe");
}

void cmd_subscribe(struct imap_session *s, struct imap_cmd *cmd)
{
	subscribe(s, cmd, true);
}

void cmd_unsubscribe(struct imap_session *s, struct imap_cmd *cmd)
{
	subscribe(s, cmd, false);
}

/* ---- STATUS --------------------------------------------------------------- */

enum {
	ST_MESSAGES = 1 << 0,
	ST_RECENT = 1 << 1,
	ST_UIDNEXT = 1 << 2,
	ST_UIDVALIDITY = 1 << 3,
	ST_UNSEEN = 1 << 4,
	ST_DELETED = 1 << 5,
	ST_SIZE = 1 << 6,
	ST_HIGHESTMODSEQ = 1 << 7,
	ST_APPENDLIMIT = 1 << 8,
};

static int parse_status_items(const struct imap_arg *l, unsigned *items_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"MESSAGES", ST_MESSAGES},
	    {"RECENT", ST_RECENT},
	    {"UIDNEXT", ST_UIDNEXT},
	    {"UIDVALIDITY", ST_UIDVALIDITY},
	    {"UNSEEN", ST_UNSEEN},
	    {"DELETED", ST_DELETED},
	    {"SIZE", ST_SIZE},
	    {"HIGHESTMODSEQ", ST_HIGHESTMODSEQ},
	    {"APPENDLIMIT", ST_APPENDLIMIT},
	};
	if (l->type != IMAP_ARG_LIST || l->count == 0)
		return -1;
	*items_r = 0;
	for (size_t i = 0; i < l->count; i++) {
		bool found = false;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !found; k++) {
			if (imap_arg_atom_is(&l->list[i], names[k].name)) {
				*items_r |= names[k].bit;
				found = true;
			}
		}
		if (!found)
			return -1;
	}
	return 0;
}

static void write_status(struct imap_session *s, const struct store_mailbox *mb, unsigned items,
			 struct buf *b)
{
	buf_puts(b, "* STATUS ");
	imap_name_out(s, mb->name, b);
	buf_puts(b, " (");
	size_t start = b->len;
#define SP() (b->len > start ? " " : "")
	if (items & ST_MESSAGES)
		buf_printf(b, "%sMESSAGES %u", SP(), mb->messages);
	if (items & ST_RECENT)
		buf_printf(b, "%sRECENT %u", SP(), mb->recent);
	if (items & ST_UIDNEXT)
		buf_printf(b, "%sUIDNEXT %u", SP(), mb->uidnext);
	if (items & ST_UIDVALIDITY)
		buf_printf(b, "%sUIDVALIDITY %u", SP(), mb->uidvalidity);
	if (items & ST_UNSEEN)
		buf_printf(b, "%sUNSEEN %u", SP(), mb->unseen);
	if (items & ST_DELETED)
		buf_printf(b, "%sDELETED %u", SP(), mb->deleted);
	if (items & ST_SIZE)
		buf_printf(b, "%sSIZE %llu", SP(), (unsigned long long)mb->size);
	if (items & ST_HIGHESTMODSEQ)
		buf_printf(b, "%sHIGHESTMODSEQ %llu", SP(), (unsigned long long)mb->highestmodseq);
	if (items & ST_APPENDLIMIT)
		buf_printf(b, "%sAPPENDLIMIT %llu", SP(), (unsigned long long)s->srv->cfg->max_message_size);
#undef SP
	buf_puts(b, ")\r\n");
}

void cmd_status(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	unsigned items;
	if (cmd->argc != 2 || parse_status_items(&cmd->args[1], &items) < 0) {
		imap_bad(s, cmd, "Invalid STATUS arguments");
		return;
	}
	char *name = imap_name_in(s, &cmd->args[0], &error);
	if (name == NULL) {
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	struct store_mailbox mb = {0};
	int r = store_mailbox_get(s->srv->store, s->user_id, name, &mb, &error);
	free(name);
	if (r <= 0) {
		imap_done(s, cmd, "NO",
			  r == 0 ? "[NONEXISTENT] Mailbox doesn't exist." : "[SERVERBUG] Internal error.");
		return;
	}
	if (items & ST_HIGHESTMODSEQ)
		imap_enable_condstore(s); /* RFC 7162 3.1: a CONDSTORE enabling command */
	struct buf b;
	buf_init(&b, 16384);
	write_status(s, &mb, items, &b);
	imap_write_buf(s, &b);
	buf_free(&b);
	store_mailbox_clear(&mb);
	imap_done(s, cmd, "OK", "Status completed.");
}

/* ---- LIST and LSUB ------------------------------------------------------ */

enum {
	SEL_SUBSCRIBED = 1 << 0,
	SEL_REMOTE = 1 << 1,
	SEL_RECURSIVE = 1 << 2,
	SEL_SPECIAL_USE = 1 << 3,
	RET_SUBSCRIBED = 1 << 4,
	RET_CHILDREN = 1 << 5,
	RET_STATUS = 1 << 6,
	RET_SPECIAL_USE = 1 << 7,
};

/* One name of the hierarchy: a mailbox, a subscription, or a parent. */
struct list_node {
	char *name;			/* stored form (UTF-8) */
	char *client;			/* client form */
	const struct store_mailbox *mb; /* NULL: no such mailbox */
	bool subscribed;
	bool has_children;     /* some existing mailbox below */
	bool child_subscribed; /* some subscribed name below */
};

static int node_cmp(const void *a, const void *b)
{
	const struct list_node *x = a, *y = b;
	/* INBOX first, then by name. */
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct list_tree {
	struct list_node *v;
	size_t n, cap;
};

static struct list_node *tree_find(struct list_tree *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->v[i].name) == len && strncmp(t->v[i].name, name, len) == 0)
			return &t->v[i];
	return NULL;
}

static struct list_node *tree_add(struct list_tree *t, const char *name, size_t len)
{
	struct list_node *n = tree_find(t, name, len);
	if (n != NULL)
		return n;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	n = &t->v[t->n++];
	memset(n, 0, sizeof(*n));
	n->name = xstrndup(name, len);
	return n;
}

static void tree_free(struct list_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].client);
	}
	free(t->v);
}

static void special_use_attr(enum store_special_use u, struct buf *b)
{
	static const char *const names[] = {NULL,     "\\Sent",	   "\\Drafts", "\\Trash",
					    "\\Junk", "\\Archive", "\\All",    "\\Flagged"};
	if ((size_t)u < sizeof(names) / sizeof(names[0]) && names[u] != NULL)
		buf_printf(b, "%s%s", b->len && b->data[b->len - 1] != '(' ? " " : "", names[u]);
}

static void attr(struct buf *b, const char *a)
{
	buf_printf(b, "%s%s", b->data[b->len - 1] != '(' ? " " : "", a);
}

/* Builds the hierarchy: mailboxes, subscriptions and every parent. */
static int build_tree(struct imap_session *s, struct list_tree *t, struct store_mailbox **boxes_r,
		      size_t *nbox_r, const char **error_r)
{
	struct store_mailbox *boxes = NULL;
	size_t nbox = 0;
	char **subs = NULL;
	if (store_mailbox_list(s->srv->store, s->user_id, &boxes, &nbox, error_r) < 0)
		return -1;
	if (store_mailbox_subscriptions(s->srv->store, s->user_id, &subs, error_r) < 0) {
		store_mailbox_list_free(&boxes, nbox);
		return -1;
	}
	/* Linear lookups in tree_find: mailbox counts per user are small. */
	for (size_t i = 0; i < nbox; i++)
		tree_add(t, boxes[i].name, strlen(boxes[i].name));
	for (size_t i = 0; subs[i] != NULL; i++)
		tree_add(t, subs[i], strlen(subs[i]));
	size_t n0 = t->n;
	for (size_t i = 0; i < n0; i++) {
		const char *name = t->v[i].name;
		for (const char *p = strchr(name, SEP); p != NULL; p = strchr(p + 1, SEP))
			tree_add(t, name, (size_t)(p - name));
	}
	for (size_t i = 0; i < nbox; i++)
		tree_find(t, boxes[i].name, strlen(boxes[i].name))->mb = &boxes[i];
	for (size_t i = 0; subs[i] != NULL; i++)
		tree_find(t, subs[i], strlen(subs[i]))->subscribed = true;
	/* Children flags: every node marks its ancestors. */
	for (size_t i = 0; i < t->n; i++) {
		const char *name = t->v[i].name;
		bool exists = t->v[i].mb != NULL, sub = t->v[i].subscribed;
		char *dup = xstrdup(name);
		for (char *p = strrchr(dup, SEP); p != NULL; p = strrchr(dup, SEP)) {
			*p = '\0';
			struct list_node *parent = tree_find(t, dup, strlen(dup));
			if (parent != NULL) {
				parent->has_children |= exists;
				parent->child_subscribed |= sub;
			}
		}
		free(dup);
	}
	/* tree_find() results above point into t->v, which no longer grows. */
	qsort(t->v, t->n, sizeof(*t->v), node_cmp);
	for (size_t i = 0; i < t->n; i++)
		t->v[i].client = name_client(s, t->v[i].name);
	store_strv_free(&subs);
	*boxes_r = boxes;
	*nbox_r = nbox;
	return 0;
}

static bool matches_any(const char *name, char *const *pats, size_t npat)
{
	for (size_t i = 0; i < npat; i++)
		if (pattern_match(pats[i], strlen(pats[i]), name, strlen(name)))
			return true;
	return false;
}

static bool any_ends_with_percent(char *const *pats, size_t npat)
{
	for (size_t i = 0; i < npat; i++) {
		size_t l = strlen(pats[i]);
		if (l > 0 && pats[i][l - 1] == '%')
			return true;
	}
	return false;
}

/* A subscribed name below parent that none of the patterns match. */
static bool subscribed_child_unmatched(const struct list_tree *t, const char *parent, char *const *pats,
				       size_t npat)
{
	size_t pl = strlen(parent);
	for (size_t i = 0; i < t->n; i++) {
		const struct list_node *c = &t->v[i];
		if (c->subscribed && strncmp(c->name, parent, pl) == 0 && c->name[pl] == SEP &&
		    !matches_any(c->client, pats, npat))
			return true;
	}
	return false;
}

static void list_run(struct imap_session *s, struct imap_cmd *cmd, bool lsub, unsigned opts,
		     unsigned status_items, char **pats, size_t npat)
{
	const char *error;
	struct list_tree t = {0};
	struct store_mailbox *boxes = NULL;
	size_t nbox = 0;
	if (build_tree(s, &t, &boxes, &nbox, &error) < 0) {
		log_session(s->c->id, "imap list failed: %s", error);
		imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		return;
	}
	bool percent = any_ends_with_percent(pats, npat);
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < t.n; i++) {
		const struct list_node *n = &t.v[i];
		if (!matches_any(n->client, pats, npat))
			continue;
		bool childinfo = false;
		if (lsub) {
			if (!n->subscribed && !(percent && n->child_subscribed))
				continue;
		} else if (opts & SEL_SUBSCRIBED) {
			/* RECURSIVEMATCH: a subscribed child the patterns miss. */
			if ((opts & SEL_RECURSIVE) && n->child_subscribed)
				childinfo = subscribed_child_unmatched(&t, n->name, pats, npat);
			if (!n->subscribed && !childinfo)
				continue;
		} else if (n->mb == NULL) {
			/* A parent whose mailbox is gone: only to a level-wise listing. */
			if (!percent || !n->has_children)
				continue;
		}
		if ((opts & SEL_SPECIAL_USE) && (n->mb == NULL || n->mb->special_use == STORE_SPECIAL_NONE))
			continue;
		buf_printf(&b, "* %s (", lsub ? "LSUB" : "LIST");
		if (lsub) {
			if (!n->subscribed)
				attr(&b, "\\Noselect");
			if (n->mb != NULL)
				special_use_attr(n->mb->special_use, &b);
		} else {
			if (n->mb == NULL) {
				if (!(opts & SEL_SUBSCRIBED))
					attr(&b, "\\Noselect");
				attr(&b, "\\NonExistent");
			}
			if (n->subscribed && (opts & (SEL_SUBSCRIBED | RET_SUBSCRIBED)))
				attr(&b, "\\Subscribed");
			if (n->mb != NULL || (opts & RET_CHILDREN))
				attr(&b, n->has_children ? "\\HasChildren" : "\\HasNoChildren");
			if (n->mb != NULL)
				special_use_attr(n->mb->special_use, &b);
		}
		buf_printf(&b, ") \"%c\" ", SEP);
		imap_name_out(s, n->name, &b);
		if (childinfo)
			buf_puts(&b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		buf_puts(&b, "\r\n");
		if ((opts & RET_STATUS) && n->mb != NULL)
			write_status(s, n->mb, status_items, &b);
		if (b.len > 256 * 1024) {
			imap_write_buf(s, &b);
			buf_reset(&b);
		}
	}
	imap_write_buf(s, &b);
	buf_free(&b);
	tree_free(&t);
	store_mailbox_list_free(&boxes, nbox);
	imap_done(s, cmd, "OK", "%s completed.", lsub ? "Lsub" : "List");
}

static void list_common(struct imap_session *s, struct imap_cmd *cmd, bool lsub)
{
	size_t i = 0;
	unsigned opts = 0, status_items = 0;
	bool extended = false;
	if (!lsub && i < cmd->argc && cmd->args[i].type == IMAP_ARG_LIST) {
		const struct imap_arg *l = &cmd->args[i++];
		extended = true;
		for (size_t k = 0; k < l->count; k++) {
			const struct imap_arg *a = &l->list[k];
			if (imap_arg_atom_is(a, "SUBSCRIBED"))
				opts |= SEL_SUBSCRIBED;
			else if (imap_arg_atom_is(a, "REMOTE"))
				opts |= SEL_REMOTE;
			else if (imap_arg_atom_is(a, "RECURSIVEMATCH"))
				opts |= SEL_RECURSIVE;
			else if (imap_arg_atom_is(a, "SPECIAL-USE"))
				opts |= SEL_SPECIAL_USE;
			else {
				imap_bad(s, cmd, "Unknown LIST selection option");
				return;
			}
		}
		/* RECURSIVEMATCH needs another option that is not REMOTE. */
		if ((opts & SEL_RECURSIVE) && !(opts & (SEL_SUBSCRIBED | SEL_SPECIAL_USE))) {
			imap_bad(s, cmd, "RECURSIVEMATCH needs SUBSCRIBED");
			return;
		}
	}
	if (cmd->argc < i + 2) {
		imap_bad(s, cmd, "LIST needs a reference and a pattern");
		return;
	}
	const char *ref = imap_astring(&cmd->args[i]);
	const struct imap_arg *patarg = &cmd->args[i + 1];
	i += 2;
	if (ref == NULL) {
		imap_bad(s, cmd, "Invalid reference");
		return;
	}
	if (!lsub && i < cmd->argc) {
		if (!imap_arg_atom_is(&cmd->args[i], "RETURN") || i + 1 >= cmd->argc ||
		    cmd->args[i + 1].type != IMAP_ARG_LIST || i + 2 != cmd->argc) {
			imap_bad(s, cmd, "Invalid LIST arguments");
			return;
		}
		const struct imap_arg *l = &cmd->args[i + 1];
		extended = true;
		for (size_t k = 0; k < l->count; k++) {
			const struct imap_arg *a = &l->list[k];
			if (imap_arg_atom_is(a, "SUBSCRIBED"))
				opts |= RET_SUBSCRIBED;
			else if (imap_arg_atom_is(a, "CHILDREN"))
				opts |= RET_CHILDREN;
			else if (imap_arg_atom_is(a, "SPECIAL-USE"))
				opts |= RET_SPECIAL_USE;
			else if (imap_arg_atom_is(a, "STATUS") && k + 1 < l->count &&
				 parse_status_items(&l->list[k + 1], &status_items) == 0) {
				opts |= RET_STATUS;
				k++;
			} else {
				imap_bad(s, cmd, "Unknown LIST return option");
				return;
			}
		}
	} else if (i != cmd->argc) {
		imap_bad(s, cmd, "Invalid LIST arguments");
		return;
	}
	/* The patterns. */
	const struct imap_arg *pv = patarg;
	size_t npv = 1;
	if (patarg->type == IMAP_ARG_LIST) {
		if (lsub || patarg->count == 0) {
			imap_bad(s, cmd, "Invalid pattern");
			return;
		}
		pv = patarg->list;
		npv = patarg->count;
		extended = true;
	}
	for (size_t k = 0; k < npv; k++) {
		if (imap_astring(&pv[k]) == NULL) {
			imap_bad(s, cmd, "Invalid pattern");
			return;
		}
	}
	if (!extended && !lsub && pv[0].str[0] == '\0') {
		/* LIST "" "": the hierarchy separator and root. */
		imap_printf(s, "* LIST (\\Noselect) \"%c\" \"\"\r\n", SEP);
		imap_done(s, cmd, "OK", "List completed.");
		return;
	}
	char **pats = xcalloc(npv, sizeof(*pats));
	for (size_t k = 0; k < npv; k++)
		pats[k] = pattern_norm(ref, pv[k].str);
	list_run(s, cmd, lsub, opts, status_items, pats, npv);
	for (size_t k = 0; k < npv; k++)
		free(pats[k]);
	free(pats);
}

void cmd_list(struct imap_session *s, struct imap_cmd *cmd)
{
	list_common(s, cmd, false);
}

void cmd_lsub(struct imap_session *s, struct imap_cmd *cmd)
{
	list_common(s, cmd, true);
}
