/* imap_thread: base subjects and THREAD (see imap_thread.h).
 *
 * REFERENCES follows RFC 5256 section 4 (Jamie Zawinski's algorithm):
 * containers for every message-id, parent links from References (or the
 * first In-Reply-To id) without loops, dummies pruned, threads sorted by
 * date, then threads with the same base subject merged, then children
 * sorted by date. Message-ids go through a small open-addressing hash
 * table; everything is arrays indexed by container number. */
#include "imap/imap_thread.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

/* ---- base subject -------------------------------------------------------- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Length of a subj-blob "[...]" *WSP at p, or 0. */
static size_t blob_len(const char *p)
{
	if (*p != '[')
		return 0;
	size_t i = 1;
	while (p[i] && p[i] != '[' && p[i] != ']')
		i++;
	if (p[i] != ']')
		return 0;
	i++;
	while (is_wsp(p[i]))
		i++;
	return i;
}

/* Length of a subj-refwd ("re" / "fw" / "fwd") *WSP [blob] ":" at p, or 0. */
static size_t refwd_len(const char *p)
{
	size_t i;
	if (strncasecmp(p, "re", 2) == 0)
		i = 2;
	else if (strncasecmp(p, "fwd", 3) == 0)
		i = 3;
	else if (strncasecmp(p, "fw", 2) == 0)
		i = 2;
	else
		return 0;
	while (is_wsp(p[i]))
		i++;
	i += blob_len(p + i);
	if (p[i] != ':')
		return 0;
	return i + 1;
}

char *imap_base_subject(const char *subject, bool *reply_r)
{
	bool reply = false;
	/* (1) Collapse whitespace runs into one space. */
	size_t n = subject ? strlen(subject) : 0;
	char *s = xmalloc(n + 1);
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_wsp(subject[i])) {
			if (len > 0 && s[len - 1] != ' ')
				s[len++] = ' ';
		} else
			s[len++] = subject[i];
	}
	s[len] = '\0';
	char *start = s;
	for (;;) {
		/* (2) Trailing "(fwd)" and whitespace. */
		for (;;) {
			while (len > 0 && start[len - 1] == ' ')
				start[--len] = '\0';
			if (len >= 5 && strncasecmp(start + len - 5, "(fwd)", 5) == 0) {
				len -= 5;
				start[len] = '\0';
				reply = true;
				continue;
			}
			break;
		}
		/* (3)+(4) Leading subj-leader and blobs. */
		for (;;) {
			bool changed = false;
			for (;;) {
				/* subj-leader = (*subj-blob subj-refwd) / WSP */
				if (*start == ' ') {
					start++;
					len--;
					changed = true;
					continue;
				}
				size_t b = 0, k;
				while ((k = blob_len(start + b)) > 0)
					b += k;
				size_t r = refwd_len(start + b);
				if (r > 0) {
					start += b + r;
					len -= b + r;
					reply = true;
					changed = true;
					continue;
				}
				break;
			}
			size_t b = blob_len(start);
			if (b > 0 && start[b] != '\0') {
				start += b;
				len -= b;
				changed = true;
			}
			if (!changed)
				break;
		}
		/* (5) "[fwd:" ... "]" */
		if (len >= 6 && strncasecmp(start, "[fwd:", 5) == 0 && start[len - 1] == ']') {
			start += 5;
			len -= 6;
			start[len] = '\0';
			reply = true;
			continue;
		}
		break;
	}
	char *r = xstrndup(start, len);
	free(s);
	if (reply_r != NULL)
		*reply_r = reply;
	return r;
}

/* ---- shared ------------------------------------------------------------- */

struct node {
	int msg; /* index into msgs, or -1 for a dummy */
	int parent;
	int first, last; /* children */
	int next;	 /* sibling */
	time_t date;	 /* for sorting: own date, or of the first child for dummies */
	uint32_t seq;
};

struct forest {
	struct node *v;
	size_t n, cap;
};

static int node_new(struct forest *f, int msg)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->v = xreallocarray(f->v, f->cap, sizeof(*f->v));
	}
	struct node *x = &f->v[f->n];
	memset(x, 0, sizeof(*x));
	x->msg = msg;
	x->parent = x->first = x->last = x->next = -1;
	return (int)f->n++;
}

static void add_child(struct forest *f, int parent, int child)
{
	f->v[child].parent = parent;
	f->v[child].next = -1;
	if (f->v[parent].last < 0)
		f->v[parent].first = child;
	else
		f->v[f->v[parent].last].next = child;
	f->v[parent].last = child;
}

static void unlink_child(struct forest *f, int child)
{
	int p = f->v[child].parent;
	if (p < 0)
		return;
	int prev = -1;
	for (int c = f->v[p].first; c >= 0; prev = c, c = f->v[c].next) {
		if (c != child)
			continue;
		if (prev < 0)
			f->v[p].first = f->v[c].next;
		else
			f->v[prev].next = f->v[c].next;
		if (f->v[p].last == c)
			f->v[p].last = prev;
		break;
	}
	f->v[child].parent = -1;
	f->v[child].next = -1;
}

/* Is a an ancestor of b (or b itself)? */
static bool is_ancestor(const struct forest *f, int a, int b)
{
	for (int x = b; x >= 0; x = f->v[x].parent)
		if (x == a)
			return true;
	return false;
}

static int date_cmp(const struct forest *f, int a, int b)
{
	if (f->v[a].date != f->v[b].date)
		return f->v[a].date < f->v[b].date ? -1 : 1;
	return f->v[a].seq < f->v[b].seq ? -1 : f->v[a].seq > f->v[b].seq;
}

static const struct forest *sort_forest;
static int sort_cmp(const void *a, const void *b)
{
	return date_cmp(sort_forest, *(const int *)a, *(const int *)b);
}

/* Sorts a sibling list (by date, then sequence). */
static int sort_siblings(struct forest *f, int first)
{
	size_t n = 0;
	for (int c = first; c >= 0; c = f->v[c].next)
		n++;
	if (n < 2)
		return first;
	int *v = xcalloc(n, sizeof(*v));
	size_t i = 0;
	for (int c = first; c >= 0; c = f->v[c].next)
		v[i++] = c;
	sort_forest = f;
	qsort(v, n, sizeof(*v), sort_cmp);
	for (i = 0; i + 1 < n; i++)
		f->v[v[i]].next = v[i + 1];
	f->v[v[n - 1]].next = -1;
	int r = v[0];
	free(v);
	return r;
}

static void sort_children(struct forest *f, int x)
{
	/* Iterative over the tree: depth can be large. */
	int *stack = xcalloc(f->n + 1, sizeof(*stack));
	size_t sp = 0;
	stack[sp++] = x;
	while (sp > 0) {
		int y = stack[--sp];
		if (f->v[y].first < 0)
			continue;
		f->v[y].first = sort_siblings(f, f->v[y].first);
		int last = -1;
		for (int c = f->v[y].first; c >= 0; c = f->v[c].next) {
			last = c;
			stack[sp++] = c;
		}
		f->v[y].last = last;
	}
	free(stack);
}

/* Writes a thread: "(a b (c)(d))". */
static void write_thread(const struct forest *f, const struct imap_thread_msg *msgs, int x, struct buf *out)
{
	/* Non-recursive: a chain of single children stays one list. */
	struct frame {
		int node;
		bool open;
	};
	struct frame *stack = xcalloc(f->n * 2 + 2, sizeof(*stack));
	size_t sp = 0;
	stack[sp++] = (struct frame){x, true};
	while (sp > 0) {
		struct frame fr = stack[--sp];
		if (fr.node < 0) {
			buf_putc(out, ')');
			continue;
		}
		if (fr.open)
			buf_putc(out, '(');
		int y = fr.node;
		bool wrote = false;
		if (f->v[y].msg >= 0) {
			if (out->data[out->len - 1] != '(')
				buf_putc(out, ' ');
			buf_printf(out, "%u", msgs[f->v[y].msg].id);
			wrote = true;
		}
		/* Close this list after the children. */
		if (fr.open)
			stack[sp++] = (struct frame){-1, false};
		int c = f->v[y].first;
		if (c >= 0 && f->v[c].next < 0 && wrote) {
			/* One child: continues the same list. */
			stack[sp++] = (struct frame){c, false};
		} else if (c >= 0) {
			if (wrote)
				buf_putc(out, ' ');
			/* Several children: each its own list, pushed in reverse. */
			size_t k = 0;
			for (int d = c; d >= 0; d = f->v[d].next)
				k++;
			int *kids = xcalloc(k, sizeof(*kids));
			size_t i = 0;
			for (int d = c; d >= 0; d = f->v[d].next)
				kids[i++] = d;
			while (i-- > 0)
				stack[sp++] = (struct frame){kids[i], true};
			free(kids);
		}
	}
	free(stack);
}

/* ---- ORDEREDSUBJECT ------------------------------------------------------ */

struct os_item {
	char *base;
	size_t idx;
};

static const struct imap_thread_msg *os_msgs;
static int os_cmp(const void *a, const void *b)
{
	const struct os_item *x = a, *y = b;
	int c = strcasecmp(x->base, y->base);
	if (c != 0)
		return c;
	const struct imap_thread_msg *mx = &os_msgs[x->idx], *my = &os_msgs[y->idx];
	if (mx->date != my->date)
		return mx->date < my->date ? -1 : 1;
	return mx->seq < my->seq ? -1 : mx->seq > my->seq;
}

void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t n, struct buf *out)
{
	if (n == 0)
		return;
	struct os_item *v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].base = imap_base_subject(msgs[i].subject, NULL);
		v[i].idx = i;
	}
	os_msgs = msgs;
	qsort(v, n, sizeof(*v), os_cmp);
	struct forest f = {0};
	int *roots = xcalloc(n, sizeof(*roots));
	size_t nroots = 0;
	for (size_t i = 0; i < n; i++) {
		int x = node_new(&f, (int)v[i].idx);
		f.v[x].date = msgs[v[i].idx].date;
		f.v[x].seq = msgs[v[i].idx].seq;
		if (i > 0 && strcasecmp(v[i].base, v[i - 1].base) == 0)
			add_child(&f, roots[nroots - 1], x);
		else
			roots[nroots++] = x;
	}
	sort_forest = &f;
	qsort(roots, nroots, sizeof(*roots), sort_cmp);
	for (size_t i = 0; i < nroots; i++)
		write_thread(&f, msgs, roots[i], out);
	for (size_t i = 0; i < n; i++)
		free(v[i].base);
	free(v);
	free(roots);
	free(f.v);
}

/* ---- REFERENCES ---------------------------------------------------------- */

struct idmap {
	char **keys;
	int *vals;
	size_t cap, count;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int *idmap_slot(struct idmap *m, const char *key, bool *found)
{
	if (m->count * 2 >= m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		char **nk = xcalloc(ncap, sizeof(*nk));
		int *nv = xcalloc(ncap, sizeof(*nv));
		for (size_t i = 0; i < m->cap; i++) {
			if (m->keys[i] == NULL)
				continue;
			size_t j = hash_str(m->keys[i]) & (ncap - 1);
			while (nk[j] != NULL)
				j = (j + 1) & (ncap - 1);
			nk[j] = m->keys[i];
			nv[j] = m->vals[i];
		}
		free(m->keys);
		free(m->vals);
		m->keys = nk;
		m->vals = nv;
		m->cap = ncap;
	}
	size_t j = hash_str(key) & (m->cap - 1);
	while (m->keys[j] != NULL && strcmp(m->keys[j], key) != 0)
		j = (j + 1) & (m->cap - 1);
	*found = m->keys[j] != NULL;
	if (!*found) {
		m->keys[j] = xstrdup(key);
		m->count++;
	}
	return &m->vals[j];
}

static void idmap_free(struct idmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
}

/* The msg-ids "<...>" in a header value, in order (at most max). */
static size_t msgids(const char *s, char **out, size_t max)
{
	size_t n = 0;
	if (s == NULL)
		return 0;
	while (*s && n < max) {
		const char *lt = strchr(s, '<');
		if (lt == NULL)
			break;
		const char *gt = strchr(lt + 1, '>');
		if (gt == NULL)
			break;
		/* A msg-id has no spaces and an '@' (lenient: any non-empty). */
		bool ok = gt > lt + 1;
		for (const char *p = lt + 1; p < gt && ok; p++)
			ok = !is_wsp(*p) && *p != '<';
		if (ok)
			out[n++] = xstrndup(lt, (size_t)(gt - lt + 1));
		s = ok ? gt + 1 : lt + 1;
	}
	return n;
}

static int container(struct forest *f, struct idmap *ids, const char *id)
{
	bool found;
	int *slot = idmap_slot(ids, id, &found);
	if (found)
		return *slot;
	int x = node_new(f, -1);
	/* node_new may move f->v but not the idmap: slot is still valid. */
	*slot = x;
	return x;
}

#define MAX_REFS 1000

void imap_thread_references(const struct imap_thread_msg *msgs, size_t n, struct buf *out)
{
	if (n == 0)
		return;
	struct forest f = {0};
	struct idmap ids = {0};
	char **refs = xcalloc(MAX_REFS, sizeof(*refs));
	/* (1) Containers and links. */
	for (size_t i = 0; i < n; i++) {
		char *mid[1];
		int x = -1;
		if (msgids(msgs[i].message_id, mid, 1) == 1) {
			x = container(&f, &ids, mid[0]);
			free(mid[0]);
			if (f.v[x].msg >= 0)
				x = -1; /* a duplicate id: the message gets its own container */
		}
		if (x < 0)
			x = node_new(&f, -1);
		f.v[x].msg = (int)i;
		size_t nr = msgids(msgs[i].references, refs, MAX_REFS);
		if (nr == 0)
			nr = msgids(msgs[i].in_reply_to, refs, 1);
		int prev = -1;
		for (size_t k = 0; k < nr; k++) {
			int r = container(&f, &ids, refs[k]);
			free(refs[k]);
			/* (1A) link consecutive references unless linked or a loop. */
			if (prev >= 0 && f.v[r].parent < 0 && !is_ancestor(&f, r, prev))
				add_child(&f, prev, r);
			prev = r;
		}
		/* (1B) the last reference is the parent; an old parent goes. */
		if (prev == x)
			prev = -1;
		if (f.v[x].parent >= 0)
			unlink_child(&f, x);
		if (prev >= 0 && !is_ancestor(&f, x, prev))
			add_child(&f, prev, x);
	}
	/* (2) The root set. */
	int root = node_new(&f, -1);
	for (size_t i = 0; i + 1 < f.n; i++)
		if (f.v[i].parent < 0)
			add_child(&f, root, (int)i);
	/* (3) Prune dummies, bottom-up (post-order with an explicit stack). */
	{
		int *order = xcalloc(f.n + 1, sizeof(*order));
		size_t no = 0;
		int *stack = xcalloc(f.n + 1, sizeof(*stack));
		size_t sp = 0;
		stack[sp++] = root;
		while (sp > 0) {
			int y = stack[--sp];
			order[no++] = y;
			for (int c = f.v[y].first; c >= 0; c = f.v[c].next)
				stack[sp++] = c;
		}
		for (size_t k = no; k-- > 0;) {
			int y = order[k];
			if (y == root || f.v[y].msg >= 0)
				continue;
			int p = f.v[y].parent;
			if (f.v[y].first < 0) {
				unlink_child(&f, y);
				continue;
			}
			/* Promote the children unless that would put several at the root. */
			if (p != root || f.v[y].first == f.v[y].last) {
				unlink_child(&f, y);
				int c = f.v[y].first;
				while (c >= 0) {
					int next = f.v[c].next;
					f.v[c].parent = -1;
					add_child(&f, p, c);
					c = next;
				}
				f.v[y].first = f.v[y].last = -1;
			}
		}
		free(order);
		free(stack);
	}
	/* Dates: messages their own; dummies that of their earliest child. */
	for (size_t i = 0; i < f.n; i++) {
		if (f.v[i].msg >= 0) {
			f.v[i].date = msgs[f.v[i].msg].date;
			f.v[i].seq = msgs[f.v[i].msg].seq;
		}
	}
	for (int c = f.v[root].first; c >= 0; c = f.v[c].next) {
		if (f.v[c].msg >= 0)
			continue;
		sort_children(&f, c);
		int fc = f.v[c].first;
		f.v[c].date = f.v[fc].date;
		f.v[c].seq = f.v[fc].seq;
	}
	/* (4) Sort the root set. */
	f.v[root].first = sort_siblings(&f, f.v[root].first);
	/* (5) Merge threads with the same base subject. */
	{
		struct idmap subj = {0};
		size_t nr = 0;
		for (int c = f.v[root].first; c >= 0; c = f.v[c].next)
			nr++;
		int *rv = xcalloc(nr + 1, sizeof(*rv));
		char **base = xcalloc(nr + 1, sizeof(*base));
		bool *reply = xcalloc(nr + 1, sizeof(*reply));
		size_t i = 0;
		for (int c = f.v[root].first; c >= 0; c = f.v[c].next, i++) {
			rv[i] = c;
			int m = f.v[c].msg >= 0 ? f.v[c].msg : f.v[f.v[c].first].msg;
			base[i] = m >= 0 ? imap_base_subject(msgs[m].subject, &reply[i]) : xstrdup("");
			for (char *p = base[i]; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
		}
		for (i = 0; i < nr; i++) {
			if (base[i][0] == '\0')
				continue;
			bool found;
			int *slot = idmap_slot(&subj, base[i], &found);
			if (!found) {
				*slot = (int)i;
				continue;
			}
			size_t old = (size_t)*slot;
			bool cur_dummy = f.v[rv[i]].msg < 0, old_dummy = f.v[rv[old]].msg < 0;
			if ((cur_dummy && !old_dummy) || (reply[old] && !reply[i] && !old_dummy))
				*slot = (int)i;
		}
		bool *gone = xcalloc(nr + 1, sizeof(*gone));
		for (i = 0; i < nr; i++) {
			if (base[i][0] == '\0')
				continue;
			bool found;
			int *slot = idmap_slot(&subj, base[i], &found);
			size_t t = (size_t)*slot;
			if (t == i || gone[i])
				continue;
			int a = rv[t], b = rv[i];
			bool a_dummy = f.v[a].msg < 0, b_dummy = f.v[b].msg < 0;
			unlink_child(&f, b);
			gone[i] = true;
			if (a_dummy && b_dummy) {
				int c = f.v[b].first;
				while (c >= 0) {
					int next = f.v[c].next;
					f.v[c].parent = -1;
					add_child(&f, a, c);
					c = next;
				}
			} else if (a_dummy || (reply[i] && !reply[t])) {
				add_child(&f, a, b);
			} else {
				/* A new dummy holds both, in a's place. */
				int d = node_new(&f, -1);
				int prev = -1;
				for (int c = f.v[root].first; c >= 0; prev = c, c = f.v[c].next) {
					if (c != a)
						continue;
					f.v[d].parent = root;
					f.v[d].next = f.v[a].next;
					if (prev < 0)
						f.v[root].first = d;
					else
						f.v[prev].next = d;
					if (f.v[root].last == a)
						f.v[root].last = d;
					break;
				}
				f.v[a].parent = -1;
				f.v[a].next = -1;
				add_child(&f, d, a);
				add_child(&f, d, b);
				f.v[d].date = f.v[a].date;
				f.v[d].seq = f.v[a].seq;
				rv[t] = d;
			}
		}
		for (i = 0; i < nr; i++)
			free(base[i]);
		free(base);
		free(reply);
		free(gone);
		free(rv);
		idmap_free(&subj);
	}
	/* (6) Sort every level below the root. */
	for (int c = f.v[root].first; c >= 0; c = f.v[c].next)
		sort_children(&f, c);
	for (int c = f.v[root].first; c >= 0; c = f.v[c].next)
		write_thread(&f, msgs, c, out);
	free(refs);
	idmap_free(&ids);
	free(f.v);
}
