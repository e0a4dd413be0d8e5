/* store: the backend-independent half of the store (see store.h).
 *
 * Public functions check and canonicalise their arguments here (addresses,
 * domains, mailbox names), then call the backend through st->ops, so every
 * backend sees the same clean input. Also here: recipient resolution (the
 * alias walk needs only "is this a user" and "what does this alias point
 * to" from the backend), and the registry of change watchers, whose
 * notices are collected during a store call and delivered later from the
 * event loop through one deferred event. */
#include "store/store_private.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

#define ADDRESS_MAX 512 /* bytes of an address we accept at all */
#define MAILBOX_NAME_MAX 1024

static const struct store_ops *const backends[] = {&store_sqlite_ops};

int store_error(struct store *st, const char **error_r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(st->error, sizeof(st->error), fmt, ap);
	va_end(ap);
	if (n < 0)
		snprintf(st->error, sizeof(st->error), "store error");
	if (error_r)
		*error_r = st->error;
	return -1;
}

/* Errors found before an op is called, with a static message. */
static int fail(const char **error_r, const char *msg)
{
	if (error_r)
		*error_r = msg;
	return -1;
}

/* ---- Opening ---------------------------------------------------------- */

struct store *store_open(const struct store_options *opts, const char **error_r)
{
	const char *name = opts->backend ? opts->backend : "sqlite";
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (strcmp(backends[i]->name, name) != 0)
			continue;
		if (opts->data_dir == NULL || opts->data_dir[0] == '\0') {
			fail(error_r, "no data folder given");
			return NULL;
		}
		struct store *st = backends[i]->open(opts, error_r);
		if (st == NULL)
			return NULL;
		st->ops = backends[i];
		st->read_only = opts->read_only;
		return st;
	}
	fail(error_r, "unknown store backend (known: sqlite)");
	return NULL;
}

static void notice_cb(evutil_socket_t fd, short what, void *arg);

int store_attach_loop(struct store *st, struct event_base *base, const char **error_r)
{
	if (st->base != NULL)
		return fail(error_r, "the store already has an event loop");
	if (st->read_only)
		return fail(error_r, "a read-only store cannot take deliveries");
	st->notice_ev = event_new(base, -1, 0, notice_cb, st);
	if (st->notice_ev == NULL)
		return fail(error_r, "cannot create the notification event");
	st->base = base;
	if (st->ops->attach_loop(st, base, error_r) < 0) {
		event_free(st->notice_ev);
		st->notice_ev = NULL;
		st->base = NULL;
		return -1;
	}
	return 0;
}

struct store_watch {
	struct store_watch *next;
	int64_t user_id;
	store_watch_cb *cb;
	void *ctx;
	bool dead;
};

void store_close(struct store **stp)
{
	struct store *st = *stp;
	if (st == NULL)
		return;
	*stp = NULL;
	/* The backend runs pending completions, which may still post notices;
	 * then it releases its own resources, but not the memory of st. */
	st->ops->close(st);
	struct store_watch *w = st->watches;
	while (w) {
		struct store_watch *next = w->next;
		free(w);
		w = next;
	}
	if (st->notice_ev)
		event_free(st->notice_ev);
	free(st->notices);
	free(st);
}

/* ---- Text helpers ----------------------------------------------------- */

int store_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		unsigned c = p[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned min;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static void ascii_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* A domain: dot-separated labels of letters, digits, '-', '_' or UTF-8,
 * or an address literal in brackets. */
static int domain_valid(const char *d, size_t len)
{
	if (len == 0 || len > 255 || !store_utf8_valid(d, len))
		return 0;
	if (d[0] == '[') {
		if (len < 3 || d[len - 1] != ']')
			return 0;
		for (size_t i = 1; i < len - 1; i++) {
			char c = d[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      c == '.' || c == ':'))
				return 0;
		}
		return 1;
	}
	if (d[0] == '.' || d[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (d[i + 1] == '.')
				return 0;
			continue;
		}
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-' || c == '_' || c >= 0x80))
			return 0;
	}
	return 1;
}

/* A local part: printable, no spaces, no angle brackets, no '@'... as
 * received (quoted forms are the engine's business), UTF-8 allowed. */
static int local_valid(const char *l, size_t len)
{
	if (len == 0 || len > 255 || !store_utf8_valid(l, len))
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)l[i];
		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '@' || c == ',' || c == ';')
			return 0;
	}
	return 1;
}

static char *domain_canon(const char *domain)
{
	size_t len = strlen(domain);
	if (!domain_valid(domain, len))
		return NULL;
	char *d = xstrdup(domain);
	ascii_lower(d);
	return d;
}

char *store_address_canon(const char *addr)
{
	if (addr == NULL)
		return NULL;
	size_t len = strlen(addr);
	const char *at = memrchr(addr, '@', len);
	if (at == NULL || len > ADDRESS_MAX)
		return NULL;
	size_t llen = (size_t)(at - addr);
	if (!local_valid(addr, llen) || !domain_valid(at + 1, len - llen - 1))
		return NULL;
	char *a = xstrdup(addr);
	ascii_lower(a);
	return a;
}

/* An alias source: local@domain, or @domain (catch-all). */
static char *source_canon(const char *source, char **domain_r)
{
	if (source == NULL)
		return NULL;
	char *c;
	if (source[0] == '@') {
		c = domain_canon(source + 1);
		if (c == NULL)
			return NULL;
		char *s = xmalloc(strlen(c) + 2);
		s[0] = '@';
		memcpy(s + 1, c, strlen(c) + 1);
		*domain_r = c;
		return s;
	}
	c = store_address_canon(source);
	if (c == NULL)
		return NULL;
	*domain_r = xstrdup(strrchr(c, '@') + 1);
	return c;
}

char *store_mailbox_name_norm(const char *name, const char **error_r)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0) {
		*error_r = "empty mailbox name";
		return NULL;
	}
	if (len > MAILBOX_NAME_MAX) {
		*error_r = "mailbox name too long";
		return NULL;
	}
	if (!store_utf8_valid(name, len)) {
		*error_r = "mailbox name is not valid UTF-8";
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%') {
			*error_r = "mailbox name contains a forbidden character";
			return NULL;
		}
		if (c == STORE_MAILBOX_SEP && (i == 0 || i == len - 1 || name[i + 1] == STORE_MAILBOX_SEP)) {
			*error_r = "mailbox name has an empty level";
			return NULL;
		}
	}
	char *n = xstrdup(name);
	if (strncasecmp(n, "INBOX", 5) == 0 && (n[5] == '\0' || n[5] == STORE_MAILBOX_SEP))
		memcpy(n, "INBOX", 5);
	return n;
}

/* Keyword lists --------------------------------------------------------- */

static bool kw_has(const char *list, const char *kw, size_t kwlen)
{
	const char *p = list;
	while (p && *p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n == kwlen && n > 0 && strncasecmp(p, kw, n) == 0)
			return true;
		p += n;
	}
	return false;
}

static void kw_add_missing(struct buf *out, const char *list)
{
	const char *p = list;
	while (p && *p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 0 && !kw_has(out->data, p, n)) {
			if (out->len)
				buf_putc(out, ' ');
			buf_append(out, p, n);
		}
		p += n;
	}
}

char *store_keywords_union(const char *a, const char *b)
{
	struct buf out;
	buf_init(&out, BUF_MAX_DEFAULT);
	kw_add_missing(&out, a);
	kw_add_missing(&out, b);
	return out.len ? buf_steal(&out, NULL) : (buf_free(&out), NULL);
}

char *store_keywords_minus(const char *a, const char *b)
{
	struct buf out;
	buf_init(&out, BUF_MAX_DEFAULT);
	const char *p = a;
	while (p && *p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 0 && !kw_has(b, p, n) && !kw_has(out.data, p, n)) {
			if (out.len)
				buf_putc(&out, ' ');
			buf_append(&out, p, n);
		}
		p += n;
	}
	return out.len ? buf_steal(&out, NULL) : (buf_free(&out), NULL);
}

static bool kw_subset(const char *a, const char *b)
{
	const char *p = a;
	while (p && *p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 0 && !kw_has(b, p, n))
			return false;
		p += n;
	}
	return true;
}

bool store_keywords_equal(const char *a, const char *b)
{
	return kw_subset(a, b) && kw_subset(b, a);
}

/* Keywords from callers: atoms separated by spaces. */
static int keywords_valid(const char *kw)
{
	if (kw == NULL)
		return 1;
	for (const unsigned char *p = (const unsigned char *)kw; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '(' || *p == ')' || *p == '{' || *p == '"' ||
		    *p == '\\' || *p == ']' || *p == '%' || *p == '*')
			return 0;
	return 1;
}

/* ---- Domains ---------------------------------------------------------- */

#define CANON_DOMAIN(var, domain)                                                                            \
	char *var = domain_canon(domain);                                                                    \
	if (var == NULL)                                                                                     \
		return fail(error_r, "invalid domain name");

static int writable(struct store *st, const char **error_r)
{
	if (st->read_only)
		return fail(error_r, "the store is open read-only");
	return 0;
}

int store_domain_add(struct store *st, const char *domain, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	CANON_DOMAIN(d, domain);
	if (d[0] == '[') {
		free(d);
		return fail(error_r, "an address literal cannot be a local domain");
	}
	int r = st->ops->domain_add(st, d, error_r);
	free(d);
	return r;
}

int store_domain_remove(struct store *st, const char *domain, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	CANON_DOMAIN(d, domain);
	int r = st->ops->domain_remove(st, d, error_r);
	free(d);
	return r;
}

int store_domain_exists(struct store *st, const char *domain, const char **error_r)
{
	char *d = domain_canon(domain);
	if (d == NULL)
		return 0;
	int r = st->ops->domain_exists(st, d, error_r);
	free(d);
	return r;
}

int store_domain_list(struct store *st, char ***domains_r, const char **error_r)
{
	*domains_r = NULL;
	return st->ops->domain_list(st, domains_r, error_r);
}

void store_strv_free(char ***strv)
{
	if (*strv == NULL)
		return;
	for (char **p = *strv; *p; p++)
		free(*p);
	free(*strv);
	*strv = NULL;
}

/* ---- Users ------------------------------------------------------------ */

#define CANON_ADDR(var, addr)                                                                                \
	char *var = store_address_canon(addr);                                                               \
	if (var == NULL)                                                                                     \
		return fail(error_r, "invalid address (want local@domain)");

int store_user_add(struct store *st, const char *address, const char *password_hash, const char *scram_sha256,
		   const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	if (password_hash == NULL)
		return fail(error_r, "no password hash");
	CANON_ADDR(a, address);
	const char *domain = strrchr(a, '@') + 1;
	int r = st->ops->user_add(st, a, domain, password_hash, scram_sha256, error_r);
	free(a);
	return r;
}

int store_user_remove(struct store *st, const char *address, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	CANON_ADDR(a, address);
	int64_t id = 0;
	int r = st->ops->user_remove(st, a, &id, error_r);
	free(a);
	if (r == 0)
		store_notify(st, id, 0);
	return r;
}

int store_user_set_password(struct store *st, const char *address, const char *password_hash,
			    const char *scram_sha256, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	if (password_hash == NULL)
		return fail(error_r, "no password hash");
	CANON_ADDR(a, address);
	int r = st->ops->user_set_password(st, a, password_hash, scram_sha256, error_r);
	free(a);
	return r;
}

int store_user_set_quota(struct store *st, const char *address, uint64_t quota_bytes, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	if (quota_bytes > INT64_MAX)
		return fail(error_r, "quota too large");
	CANON_ADDR(a, address);
	int r = st->ops->user_set_quota(st, a, quota_bytes, error_r);
	free(a);
	return r;
}

int store_user_set_display_name(struct store *st, int64_t user_id, const char *name, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	if (name == NULL)
		name = "";
	if (!store_utf8_valid(name, strlen(name)))
		return fail(error_r, "display name is not valid UTF-8");
	return st->ops->user_set_display_name(st, user_id, name, error_r);
}

int store_user_get(struct store *st, const char *address, struct store_user *u, const char **error_r)
{
	memset(u, 0, sizeof(*u));
	char *a = store_address_canon(address);
	if (a == NULL)
		return 0;
	int r = st->ops->user_get(st, a, u, error_r);
	free(a);
	return r;
}

int store_user_get_by_id(struct store *st, int64_t id, struct store_user *u, const char **error_r)
{
	memset(u, 0, sizeof(*u));
	return st->ops->user_get_by_id(st, id, u, error_r);
}

void store_user_clear(struct store_user *u)
{
	free(u->address);
	free(u->password_hash);
	if (u->scram_sha256)
		explicit_bzero(u->scram_sha256, strlen(u->scram_sha256));
	free(u->scram_sha256);
	free(u->display_name);
	memset(u, 0, sizeof(*u));
}

int store_user_list(struct store *st, const char *domain, struct store_user **users_r, size_t *count_r,
		    const char **error_r)
{
	*users_r = NULL;
	*count_r = 0;
	if (domain == NULL)
		return st->ops->user_list(st, NULL, users_r, count_r, error_r);
	CANON_DOMAIN(d, domain);
	int r = st->ops->user_list(st, d, users_r, count_r, error_r);
	free(d);
	return r;
}

void store_user_list_free(struct store_user **users, size_t count)
{
	if (*users == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		store_user_clear(&(*users)[i]);
	XFREE(users);
}

/* ---- Aliases ---------------------------------------------------------- */

int store_alias_add(struct store *st, const char *source, const char *target, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	char *domain = NULL;
	char *s = source_canon(source, &domain);
	if (s == NULL)
		return fail(error_r, "invalid alias source (want local@domain or @domain)");
	/* Targets keep the case of a remote local part, which only the remote
	 * server may interpret; local targets are canonicalised on lookup. */
	size_t tlen = target ? strlen(target) : 0;
	const char *at = target ? memrchr(target, '@', tlen) : NULL;
	int r;
	if (at == NULL || !local_valid(target, (size_t)(at - target)) ||
	    !domain_valid(at + 1, tlen - (size_t)(at - target) - 1)) {
		r = fail(error_r, "invalid alias target (want local@domain)");
	} else {
		char *t = xstrdup(target);
		ascii_lower(t + (at - target));
		/* A local target is looked up canonically: store it so. */
		r = st->ops->domain_exists(st, t + (at - target) + 1, error_r);
		if (r > 0) {
			free(t);
			t = store_address_canon(target);
		}
		if (r >= 0)
			r = st->ops->alias_add(st, s, domain, t, error_r);
		free(t);
	}
	free(s);
	free(domain);
	return r;
}

int store_alias_remove(struct store *st, const char *source, const char *target, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	char *domain = NULL;
	char *s = source_canon(source, &domain);
	if (s == NULL)
		return fail(error_r, "invalid alias source (want local@domain or @domain)");
	char *t = NULL;
	if (target) {
		t = xstrdup(target);
		char *at = strrchr(t, '@');
		if (at)
			ascii_lower(at);
	}
	int r = st->ops->alias_remove(st, s, t, error_r);
	free(t);
	free(s);
	free(domain);
	return r;
}

int store_alias_list(struct store *st, const char *domain, struct store_alias **aliases_r, size_t *count_r,
		     const char **error_r)
{
	*aliases_r = NULL;
	*count_r = 0;
	if (domain == NULL)
		return st->ops->alias_list(st, NULL, aliases_r, count_r, error_r);
	CANON_DOMAIN(d, domain);
	int r = st->ops->alias_list(st, d, aliases_r, count_r, error_r);
	free(d);
	return r;
}

void store_alias_list_free(struct store_alias **aliases, size_t count)
{
	if (*aliases == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*aliases)[i].source);
		free((*aliases)[i].target);
	}
	XFREE(aliases);
}

/* ---- Recipient resolution --------------------------------------------- */

struct resolver {
	struct store *st;
	const char **error_r;
	bool use_catchall;
	struct store_resolution *res;
	size_t cap;
	const char *path[STORE_ALIAS_DEPTH + 1]; /* addresses on the current chain */
	size_t depth;
	bool loop;
};

static void add_target(struct resolver *rv, int64_t user_id, const char *address)
{
	struct store_resolution *res = rv->res;
	for (size_t i = 0; i < res->count; i++) {
		if (user_id > 0
			? res->targets[i].user_id == user_id
			: (res->targets[i].user_id == 0 && strcmp(res->targets[i].address, address) == 0))
			return;
	}
	if (res->count == rv->cap) {
		rv->cap = rv->cap ? rv->cap * 2 : 4;
		res->targets = xreallocarray(res->targets, rv->cap, sizeof(*res->targets));
	}
	res->targets[res->count].user_id = user_id;
	res->targets[res->count].address = xstrdup(address);
	res->count++;
}

static int expand(struct resolver *rv, const char *canon);

/* Expands the targets of one alias; returns 1 when at least one target
 * delivered somewhere, 0 when none did, -1 on error. */
static int expand_alias(struct resolver *rv, char **targets)
{
	int any = 0;
	for (char **t = targets; *t; t++) {
		const char *at = strrchr(*t, '@');
		if (at == NULL)
			continue;
		int local = rv->st->ops->domain_exists(rv->st, at + 1, rv->error_r);
		if (local < 0)
			return -1;
		if (!local) {
			add_target(rv, 0, *t);
			any = 1;
			continue;
		}
		char *c = store_address_canon(*t);
		if (c == NULL)
			continue;
		int r = expand(rv, c);
		free(c);
		if (r < 0)
			return -1;
		if (r > 0)
			any = 1;
		if (rv->loop)
			return 0;
	}
	return any;
}

/* Looks up one exact canonical key (address or @domain) as user, then as
 * alias: 1 delivered somewhere, 0 no such key, -1 error, -2 the key is an
 * alias whose targets all lead nowhere. */
static int lookup_key(struct resolver *rv, const char *key)
{
	int64_t id;
	if (key[0] != '@') {
		int r = rv->st->ops->user_lookup(rv->st, key, &id, rv->error_r);
		if (r != 0) {
			if (r > 0)
				add_target(rv, id, key);
			return r;
		}
	}
	char **targets = NULL;
	if (rv->st->ops->alias_targets(rv->st, key, &targets, rv->error_r) < 0)
		return -1;
	if (targets == NULL)
		return 0;
	int r = expand_alias(rv, targets);
	store_strv_free(&targets);
	return r < 0 ? -1 : r > 0 ? 1 : -2;
}

/* Returns 1 when canon delivered somewhere, 0 when nowhere, -1 on error;
 * rv->loop is set on a loop. */
static int expand(struct resolver *rv, const char *canon)
{
	for (size_t i = 0; i < rv->depth; i++) {
		if (strcmp(rv->path[i], canon) == 0) {
			rv->loop = true;
			return 0;
		}
	}
	/* The path holds the address asked for plus one per alias hop. */
	if (rv->depth > STORE_ALIAS_DEPTH) {
		rv->loop = true;
		return 0;
	}
	rv->path[rv->depth++] = canon;
	int r = lookup_key(rv, canon);
	if (r == 0 && !rv->loop) {
		/* user+tag@d: the same lookups without the tag. */
		const char *at = strrchr(canon, '@');
		const char *plus = memchr(canon, '+', (size_t)(at - canon));
		if (plus && plus > canon) {
			struct buf b;
			buf_init(&b, ADDRESS_MAX + 1);
			buf_append(&b, canon, (size_t)(plus - canon));
			buf_puts(&b, at);
			r = lookup_key(rv, b.data);
			buf_free(&b);
		}
		if (r == 0 && !rv->loop && rv->use_catchall)
			r = lookup_key(rv, at);
	}
	rv->depth--;
	if (r == -2)
		r = 0;
	return r;
}

static int resolve(struct store *st, const char *address, bool use_catchall, struct store_resolution *res,
		   const char **error_r)
{
	memset(res, 0, sizeof(*res));
	char *c = store_address_canon(address);
	if (c == NULL)
		return fail(error_r, "invalid address (want local@domain)");
	int local = st->ops->domain_exists(st, strrchr(c, '@') + 1, error_r);
	if (local <= 0) {
		free(c);
		res->status = STORE_RESOLVE_NOT_LOCAL;
		return local < 0 ? -1 : 0;
	}
	struct resolver rv = {.st = st, .error_r = error_r, .use_catchall = use_catchall, .res = res};
	int r = expand(&rv, c);
	free(c);
	if (r < 0) {
		store_resolution_clear(res);
		return -1;
	}
	if (rv.loop || r == 0) {
		store_resolution_clear(res);
		res->status = rv.loop ? STORE_RESOLVE_LOOP : STORE_RESOLVE_UNKNOWN_USER;
		return 0;
	}
	res->status = STORE_RESOLVE_OK;
	return 0;
}

int store_resolve(struct store *st, const char *address, struct store_resolution *res, const char **error_r)
{
	return resolve(st, address, true, res, error_r);
}

void store_resolution_clear(struct store_resolution *res)
{
	for (size_t i = 0; i < res->count; i++)
		free(res->targets[i].address);
	free(res->targets);
	res->targets = NULL;
	res->count = 0;
}

int store_address_owned_by(struct store *st, const char *address, int64_t user_id, const char **error_r)
{
	struct store_resolution res;
	char *c = store_address_canon(address);
	if (c == NULL)
		return 0;
	free(c);
	if (resolve(st, address, false, &res, error_r) < 0)
		return -1;
	int owned = 0;
	for (size_t i = 0; i < res.count; i++)
		if (res.targets[i].user_id == user_id)
			owned = 1;
	store_resolution_clear(&res);
	return owned;
}

/* ---- Mailboxes -------------------------------------------------------- */

#define NORM_NAME(var, name)                                                                                 \
	const char *norm_err_;                                                                               \
	char *var = store_mailbox_name_norm(name, &norm_err_);                                               \
	if (var == NULL)                                                                                     \
		return fail(error_r, norm_err_);

int store_mailbox_list(struct store *st, int64_t user_id, struct store_mailbox **boxes_r, size_t *count_r,
		       const char **error_r)
{
	*boxes_r = NULL;
	*count_r = 0;
	return st->ops->mailbox_list(st, user_id, boxes_r, count_r, error_r);
}

void store_mailbox_list_free(struct store_mailbox **boxes, size_t count)
{
	if (*boxes == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		store_mailbox_clear(&(*boxes)[i]);
	XFREE(boxes);
}

int store_mailbox_get(struct store *st, int64_t user_id, const char *name, struct store_mailbox *mb,
		      const char **error_r)
{
	memset(mb, 0, sizeof(*mb));
	const char *e;
	char *n = store_mailbox_name_norm(name, &e);
	if (n == NULL)
		return 0;
	int r = st->ops->mailbox_get(st, user_id, n, mb, error_r);
	free(n);
	return r;
}

int store_mailbox_get_by_id(struct store *st, int64_t mailbox_id, struct store_mailbox *mb,
			    const char **error_r)
{
	memset(mb, 0, sizeof(*mb));
	return st->ops->mailbox_get_by_id(st, mailbox_id, mb, error_r);
}

int store_mailbox_get_special(struct store *st, int64_t user_id, enum store_special_use use,
			      struct store_mailbox *mb, const char **error_r)
{
	memset(mb, 0, sizeof(*mb));
	if (use == STORE_SPECIAL_NONE)
		return 0;
	return st->ops->mailbox_get_special(st, user_id, use, mb, error_r);
}

void store_mailbox_clear(struct store_mailbox *mb)
{
	free(mb->name);
	free(mb->keywords);
	memset(mb, 0, sizeof(*mb));
}

int store_mailbox_create(struct store *st, int64_t user_id, const char *name, enum store_special_use use,
			 const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	if ((unsigned)use > STORE_SPECIAL_FLAGGED)
		return fail(error_r, "unknown special-use attribute");
	NORM_NAME(n, name);
	int r = st->ops->mailbox_create(st, user_id, n, use, error_r);
	free(n);
	if (r == 0)
		store_notify(st, user_id, 0);
	return r;
}

int store_mailbox_delete(struct store *st, int64_t user_id, const char *name, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	NORM_NAME(n, name);
	int r;
	if (strcmp(n, "INBOX") == 0)
		r = fail(error_r, "INBOX cannot be deleted");
	else
		r = st->ops->mailbox_delete(st, user_id, n, error_r);
	free(n);
	if (r == 0)
		store_notify(st, user_id, 0);
	return r;
}

int store_mailbox_rename(struct store *st, int64_t user_id, const char *from, const char *to,
			 const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	NORM_NAME(f, from);
	const char *e;
	char *t = store_mailbox_name_norm(to, &e);
	if (t == NULL) {
		free(f);
		return fail(error_r, e);
	}
	int r;
	size_t flen = strlen(f);
	if (strcmp(t, "INBOX") == 0)
		r = fail(error_r, "INBOX already exists");
	else if (strcmp(f, t) == 0)
		r = fail(error_r, "a mailbox cannot be renamed to itself");
	else if (strcmp(f, "INBOX") != 0 && strncmp(t, f, flen) == 0 && t[flen] == STORE_MAILBOX_SEP)
		r = fail(error_r, "a mailbox cannot be moved under itself");
	else
		r = st->ops->mailbox_rename(st, user_id, f, t, error_r);
	free(f);
	free(t);
	if (r == 0)
		store_notify(st, user_id, 0);
	return r;
}

int store_mailbox_subscribe(struct store *st, int64_t user_id, const char *name, bool subscribe,
			    const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	NORM_NAME(n, name);
	int r = st->ops->mailbox_subscribe(st, user_id, n, subscribe, error_r);
	free(n);
	if (r == 0)
		store_notify(st, user_id, 0);
	return r;
}

int store_mailbox_subscriptions(struct store *st, int64_t user_id, char ***names_r, const char **error_r)
{
	*names_r = NULL;
	return st->ops->mailbox_subscriptions(st, user_id, names_r, error_r);
}

int store_mailbox_take_recent(struct store *st, int64_t mailbox_id, uint32_t *first_recent_uid_r,
			      uint32_t *next_uid_r, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	uint32_t next;
	return st->ops->mailbox_take_recent(st, mailbox_id, first_recent_uid_r, next_uid_r ? next_uid_r : &next,
					    error_r);
}

/* ---- Messages --------------------------------------------------------- */

void store_msg_clear(struct store_msg *m)
{
	free(m->keywords);
	free(m->envelope);
	free(m->body);
	free(m->bodystructure);
	free(m->subject);
	free(m->from);
	free(m->from_addr);
	free(m->to);
	free(m->to_addr);
	free(m->cc);
	free(m->message_id);
	free(m->in_reply_to);
	free(m->references);
	free(m->snippet);
	memset(m, 0, sizeof(*m));
}

int store_mailbox_uids(struct store *st, int64_t mailbox_id, uint32_t **uids_r, size_t *count_r,
		       const char **error_r)
{
	*uids_r = NULL;
	*count_r = 0;
	return st->ops->mailbox_uids(st, mailbox_id, uids_r, count_r, error_r);
}

int store_mailbox_uids_by_flag(struct store *st, int64_t mailbox_id, uint32_t flags, bool set, size_t limit,
			       uint32_t **uids_r, size_t *count_r, const char **error_r)
{
	*uids_r = NULL;
	*count_r = 0;
	return st->ops->mailbox_uids_by_flag(st, mailbox_id, flags, set, limit, uids_r, count_r, error_r);
}

struct store_msg_iter *store_msg_iter_new(struct store *st, int64_t mailbox_id, uint32_t uid_min,
					  uint32_t uid_max, unsigned fields)
{
	struct store_msg_iter *it = st->ops->msg_iter_new(st, mailbox_id, uid_min, uid_max, fields);
	it->st = st;
	return it;
}

int store_msg_iter_next(struct store_msg_iter *it, struct store_msg *m)
{
	return it->st->ops->msg_iter_next(it, m);
}

int store_msg_iter_free(struct store_msg_iter **itp, const char **error_r)
{
	struct store_msg_iter *it = *itp;
	if (it == NULL)
		return 0;
	*itp = NULL;
	return it->st->ops->msg_iter_free(it, error_r);
}

int store_msg_get(struct store *st, int64_t mailbox_id, uint32_t uid, unsigned fields, struct store_msg *m,
		  const char **error_r)
{
	memset(m, 0, sizeof(*m));
	return st->ops->msg_get(st, mailbox_id, uid, fields, m, error_r);
}

int store_msg_read(struct store *st, int64_t msg_id, char **data_r, size_t *len_r, const char **error_r)
{
	*data_r = NULL;
	*len_r = 0;
	return st->ops->msg_read(st, msg_id, data_r, len_r, error_r);
}

int store_msg_page(struct store *st, int64_t mailbox_id, bool ascending, size_t offset, size_t limit,
		   struct store_msg **msgs_r, size_t *count_r, uint32_t *total_r, const char **error_r)
{
	*msgs_r = NULL;
	*count_r = 0;
	*total_r = 0;
	if (limit > 10000)
		limit = 10000;
	return st->ops->msg_page(st, mailbox_id, ascending, offset, limit, msgs_r, count_r, total_r, error_r);
}

void store_msg_list_free(struct store_msg **msgs, size_t count)
{
	if (*msgs == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		store_msg_clear(&(*msgs)[i]);
	XFREE(msgs);
}

int store_changes_since(struct store *st, int64_t mailbox_id, uint64_t since, struct store_changes *ch,
			const char **error_r)
{
	memset(ch, 0, sizeof(*ch));
	return st->ops->changes_since(st, mailbox_id, since, ch, error_r);
}

void store_changes_clear(struct store_changes *ch)
{
	for (size_t i = 0; i < ch->changed_count; i++)
		store_msg_clear(&ch->changed[i]);
	free(ch->changed);
	free(ch->expunged);
	memset(ch, 0, sizeof(*ch));
}

static int uids_ascending(const uint32_t *uids, size_t count, const char **error_r)
{
	for (size_t i = 0; i < count; i++)
		if (uids[i] == 0 || (i > 0 && uids[i] <= uids[i - 1]))
			return fail(error_r, "UIDs must be ascending and non-zero");
	return 0;
}

int store_msg_set_flags(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
			enum store_flag_mode mode, uint32_t flags, const char *keywords,
			uint64_t unchangedsince, uint32_t **failed_r, size_t *failed_count_r,
			const char **error_r)
{
	if (failed_r)
		*failed_r = NULL;
	if (failed_count_r)
		*failed_count_r = 0;
	if (writable(st, error_r) < 0 || uids_ascending(uids, count, error_r) < 0)
		return -1;
	if (!keywords_valid(keywords))
		return fail(error_r, "invalid keyword");
	if (mode != STORE_FLAGS_SET && mode != STORE_FLAGS_ADD && mode != STORE_FLAGS_REMOVE)
		return fail(error_r, "invalid flag mode");
	if (count == 0)
		return 0;
	return st->ops->msg_set_flags(st, mailbox_id, uids, count, mode, flags, keywords, unchangedsince,
				      failed_r, failed_count_r, error_r);
}

int store_msg_expunge(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t count,
		      const char **error_r)
{
	if (writable(st, error_r) < 0 || uids_ascending(uids, count, error_r) < 0)
		return -1;
	if (count == 0)
		return 0;
	return st->ops->msg_expunge(st, mailbox_id, uids, count, error_r);
}

int store_msg_copy(struct store *st, int64_t src_mailbox_id, const uint32_t *uids, size_t count,
		   int64_t dst_mailbox_id, bool move, uint32_t **src_uids_r, uint32_t **new_uids_r,
		   const char **error_r)
{
	*src_uids_r = NULL;
	*new_uids_r = NULL;
	if (writable(st, error_r) < 0 || uids_ascending(uids, count, error_r) < 0)
		return -1;
	if (count == 0)
		return 0;
	return st->ops->msg_copy(st, src_mailbox_id, uids, count, dst_mailbox_id, move, src_uids_r,
				 new_uids_r, error_r);
}

/* ---- New mail --------------------------------------------------------- */

static int delivery_check(struct store *st, struct store_delivery *d)
{
	d->queue_id = 0;
	d->error = NULL;
	for (size_t i = 0; i < d->rcpt_count; i++) {
		d->rcpts[i].result = -1;
		d->rcpts[i].error = NULL;
		d->rcpts[i].over_quota = false;
		d->rcpts[i].no_mailbox = false;
		d->rcpts[i].uid = d->rcpts[i].uidvalidity = 0;
		d->rcpts[i].msg_id = 0;
	}
	if (st->read_only)
		d->error = "the store is open read-only";
	else if (d->data == NULL)
		d->error = "no message";
	else if (d->rcpt_count == 0 && d->remote_count == 0)
		d->error = "no recipients";
	else if (d->remote_count > 0 && d->mail_from == NULL)
		d->error = "queued mail needs an envelope sender";
	for (size_t i = 0; d->error == NULL && i < d->rcpt_count; i++)
		if (!keywords_valid(d->rcpts[i].keywords))
			d->error = "invalid keyword";
	return d->error ? -1 : 0;
}

/* Runs the caller's completion, then tells the queue watcher about a new
 * queue entry (d may be gone after the caller's callback). */
struct queue_hook {
	struct store *st;
	store_delivery_cb *cb;
	void *ctx;
};

static void queue_hook_cb(void *ctx, struct store_delivery *d, int result)
{
	struct queue_hook h = *(struct queue_hook *)ctx;
	free(ctx);
	int64_t queue_id = result == 0 ? d->queue_id : 0;
	h.cb(h.ctx, d, result);
	if (queue_id > 0 && h.st->queue_cb != NULL)
		h.st->queue_cb(h.st->queue_ctx, queue_id);
}

void store_queue_watch(struct store *st, store_queue_cb *cb, void *ctx)
{
	st->queue_cb = cb;
	st->queue_ctx = ctx;
}

void store_deliver_async(struct store *st, struct store_delivery *d, store_delivery_cb *cb, void *ctx)
{
	if (st->base == NULL) {
		/* A caller bug: there is no loop to report through later. */
		delivery_check(st, d);
		d->error = "store_deliver_async needs store_attach_loop";
		cb(ctx, d, -1);
		return;
	}
	/* On a bad delivery d->error is set and the backend reports the
	 * failure from the loop like any other completion. */
	delivery_check(st, d);
	if (d->remote_count > 0 && st->queue_cb != NULL) {
		struct queue_hook *h = xmalloc(sizeof(*h));
		h->st = st;
		h->cb = cb;
		h->ctx = ctx;
		cb = queue_hook_cb;
		ctx = h;
	}
	st->ops->deliver_async(st, d, cb, ctx);
}

int store_deliver(struct store *st, struct store_delivery *d, const char **error_r)
{
	if (delivery_check(st, d) < 0)
		return fail(error_r, d->error);
	return st->ops->deliver(st, d, error_r);
}

/* Checks every delivery of a group; -1 when one is bad (its d->error set)
 * or the group is empty. */
static int group_check(struct store *st, struct store_delivery *const *ds, size_t count)
{
	int r = count > 0 ? 0 : -1;
	for (size_t i = 0; i < count; i++) {
		if (delivery_check(st, ds[i]) == 0 && ds[i]->remote_count > 0)
			ds[i]->error = "a delivery group cannot queue remote mail";
		if (ds[i]->error)
			r = -1;
	}
	return r;
}

void store_deliver_group_async(struct store *st, struct store_delivery *const *ds, size_t count,
			       store_group_cb *cb, void *ctx)
{
	group_check(st, ds, count);
	if (st->base == NULL || count == 0) {
		/* A caller bug: there is no loop (or nothing) to report through later. */
		for (size_t i = 0; i < count; i++)
			ds[i]->error = "store_deliver_group_async needs store_attach_loop";
		cb(ctx, -1);
		return;
	}
	st->ops->deliver_group_async(st, ds, count, cb, ctx);
}

int store_deliver_group(struct store *st, struct store_delivery *const *ds, size_t count,
			const char **error_r)
{
	if (group_check(st, ds, count) < 0) {
		for (size_t i = 0; i < count; i++)
			if (ds[i]->error)
				return fail(error_r, ds[i]->error);
		return fail(error_r, "an empty delivery group");
	}
	return st->ops->deliver_group(st, ds, count, error_r);
}

int store_quota_exceeded(struct store *st, int64_t user_id, uint64_t add, const char **error_r)
{
	return st->ops->quota_exceeded(st, user_id, add, error_r);
}

int store_search(struct store *st, int64_t mailbox_id, enum store_search_field field, const char *query,
		 uint32_t **uids_r, size_t *count_r, const char **error_r)
{
	*uids_r = NULL;
	*count_r = 0;
	if (query == NULL)
		query = "";
	if (!store_utf8_valid(query, strlen(query)))
		return fail(error_r, "search text is not valid UTF-8");
	return st->ops->search(st, mailbox_id, field, query, uids_r, count_r, error_r);
}

int store_search_index_flush(struct store *st, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	return st->ops->search_index_flush(st, error_r);
}

int store_integrity_check(struct store *st, const char **error_r)
{
	return st->ops->integrity_check(st, error_r);
}

/* ---- Change notifications --------------------------------------------- */

struct store_watch *store_watch_add(struct store *st, int64_t user_id, store_watch_cb *cb, void *ctx)
{
	struct store_watch *w = xmalloc(sizeof(*w));
	w->user_id = user_id;
	w->cb = cb;
	w->ctx = ctx;
	w->next = st->watches;
	st->watches = w;
	return w;
}

static void watches_sweep(struct store *st)
{
	struct store_watch **pp = &st->watches;
	while (*pp) {
		struct store_watch *w = *pp;
		if (w->dead) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
	st->watches_dead = false;
}

void store_watch_remove(struct store *st, struct store_watch **wp)
{
	struct store_watch *w = *wp;
	if (w == NULL)
		return;
	*wp = NULL;
	w->dead = true;
	st->watches_dead = true;
	if (st->dispatching == 0)
		watches_sweep(st);
}

void store_notify(struct store *st, int64_t user_id, int64_t mailbox_id)
{
	if (st->notice_ev == NULL || st->watches == NULL)
		return;
	for (size_t i = 0; i < st->notice_count; i++)
		if (st->notices[i].user_id == user_id && st->notices[i].mailbox_id == mailbox_id)
			return;
	if (st->notice_count == st->notice_cap) {
		st->notice_cap = st->notice_cap ? st->notice_cap * 2 : 8;
		st->notices = xreallocarray(st->notices, st->notice_cap, sizeof(*st->notices));
	}
	st->notices[st->notice_count++] = (struct store_notice){user_id, mailbox_id};
	if (st->notice_count == 1)
		event_active(st->notice_ev, EV_TIMEOUT, 0);
}

static void notice_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;
	/* Take the batch: watchers may cause new notices (a new event). */
	struct store_notice *notices = st->notices;
	size_t count = st->notice_count;
	st->notices = NULL;
	st->notice_count = st->notice_cap = 0;
	st->dispatching++;
	for (size_t i = 0; i < count; i++) {
		for (struct store_watch *w = st->watches; w; w = w->next) {
			if (w->dead)
				continue;
			if (w->user_id == notices[i].user_id)
				w->cb(w->ctx, notices[i].user_id, notices[i].mailbox_id);
		}
	}
	st->dispatching--;
	if (st->dispatching == 0 && st->watches_dead)
		watches_sweep(st);
	free(notices);
}

/* ---- Outbound queue --------------------------------------------------- */

int store_queue_list(struct store *st, struct store_queue_entry **entries_r, size_t *count_r,
		     const char **error_r)
{
	*entries_r = NULL;
	*count_r = 0;
	return st->ops->queue_list(st, entries_r, count_r, error_r);
}

int store_queue_due(struct store *st, time_t now, size_t limit, struct store_queue_entry **entries_r,
		    size_t *count_r, const char **error_r)
{
	*entries_r = NULL;
	*count_r = 0;
	if (limit == 0)
		return 0;
	return st->ops->queue_due(st, now, limit, entries_r, count_r, error_r);
}

int store_queue_next_attempt(struct store *st, time_t *when_r, const char **error_r)
{
	*when_r = 0;
	return st->ops->queue_next_attempt(st, when_r, error_r);
}

int store_queue_get(struct store *st, int64_t queue_id, struct store_queue_entry *e, const char **error_r)
{
	memset(e, 0, sizeof(*e));
	return st->ops->queue_get(st, queue_id, e, error_r);
}

int store_queue_read(struct store *st, int64_t queue_id, char **data_r, size_t *len_r, const char **error_r)
{
	*data_r = NULL;
	*len_r = 0;
	return st->ops->queue_read(st, queue_id, data_r, len_r, error_r);
}

int store_queue_remove(struct store *st, int64_t queue_id, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	return st->ops->queue_remove(st, queue_id, error_r);
}

int store_queue_flush(struct store *st, int64_t queue_id, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	return st->ops->queue_flush(st, queue_id, error_r);
}

int store_queue_rcpt_update(struct store *st, int64_t rcpt_id, enum store_queue_state state,
			    time_t next_attempt, const char *last_error, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	if (state != STORE_QUEUE_PENDING && state != STORE_QUEUE_DELIVERED && state != STORE_QUEUE_FAILED)
		return fail(error_r, "invalid queue state");
	return st->ops->queue_rcpt_update(st, rcpt_id, state, next_attempt, last_error, error_r);
}

int store_queue_due_ids(struct store *st, time_t now, int64_t after_id, size_t limit, int64_t **ids_r,
			size_t *count_r, const char **error_r)
{
	*ids_r = NULL;
	*count_r = 0;
	return st->ops->queue_due_ids(st, now, after_id, limit, ids_r, count_r, error_r);
}

int store_queue_flags(struct store *st, int64_t queue_id, uint32_t *flags_r, const char **error_r)
{
	*flags_r = 0;
	return st->ops->queue_flags(st, queue_id, flags_r, error_r);
}

int store_queue_set_flags(struct store *st, int64_t queue_id, uint32_t flags, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	return st->ops->queue_set_flags(st, queue_id, flags, error_r);
}

int store_queue_mark_bounced(struct store *st, int64_t queue_id, const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	return st->ops->queue_mark_bounced(st, queue_id, error_r);
}

void store_queue_entry_clear(struct store_queue_entry *e)
{
	free(e->mail_from);
	for (size_t i = 0; i < e->rcpt_count; i++) {
		free(e->rcpts[i].address);
		free(e->rcpts[i].last_error);
	}
	free(e->rcpts);
	memset(e, 0, sizeof(*e));
}

void store_queue_list_free(struct store_queue_entry **entries, size_t count)
{
	if (*entries == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		store_queue_entry_clear(&(*entries)[i]);
	XFREE(entries);
}

/* ---- Webmail: settings and correspondents ------------------------------ */

static int setting_key_ok(struct store *st, const char *key, const char **error_r)
{
	if (key == NULL || key[0] == '\0' || strlen(key) > 64)
		return store_error(st, error_r, "invalid setting name");
	return 0;
}

int store_user_setting_get(struct store *st, int64_t user_id, const char *key, char **value_r,
			   const char **error_r)
{
	*value_r = NULL;
	if (setting_key_ok(st, key, error_r) < 0)
		return -1;
	return st->ops->user_setting_get(st, user_id, key, value_r, error_r);
}

int store_user_setting_set(struct store *st, int64_t user_id, const char *key, const char *value,
			   const char **error_r)
{
	if (writable(st, error_r) < 0 || setting_key_ok(st, key, error_r) < 0)
		return -1;
	if (value != NULL && !store_utf8_valid(value, strlen(value)))
		return store_error(st, error_r, "a setting must be UTF-8 text");
	return st->ops->user_setting_set(st, user_id, key, value, error_r);
}

int store_contact_note(struct store *st, int64_t user_id, const char *address, const char *name,
		       const char **error_r)
{
	if (writable(st, error_r) < 0)
		return -1;
	if (address == NULL || !store_utf8_valid(address, strlen(address)) || strchr(address, '@') == NULL ||
	    (name != NULL && !store_utf8_valid(name, strlen(name))))
		return store_error(st, error_r, "invalid contact");
	char *canon = store_address_canon(address);
	if (canon == NULL)
		return store_error(st, error_r, "invalid contact address");
	int r = st->ops->contact_note(st, user_id, canon, name, error_r);
	free(canon);
	return r;
}

int store_contact_search(struct store *st, int64_t user_id, const char *prefix, size_t limit,
			 struct store_contact **contacts_r, size_t *count_r, const char **error_r)
{
	*contacts_r = NULL;
	*count_r = 0;
	if (prefix == NULL || !store_utf8_valid(prefix, strlen(prefix)))
		return store_error(st, error_r, "invalid search text");
	if (limit == 0)
		return 0;
	return st->ops->contact_search(st, user_id, prefix, limit, contacts_r, count_r, error_r);
}

void store_contact_list_free(struct store_contact **contacts, size_t count)
{
	if (*contacts == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		free((*contacts)[i].address);
		free((*contacts)[i].name);
	}
	free(*contacts);
	*contacts = NULL;
}
