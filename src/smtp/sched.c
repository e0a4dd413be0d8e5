/* sched: the outbound queue manager (see sched.h).
 *
 * Objects, all owned by struct sched and living on the loop thread:
 *   entry    a queue entry being worked on: its recipients as loaded, the
 *            message bytes (and a 7-bit copy when a server needs one), the
 *            count of its jobs still out; hashed by queue id, so an entry is
 *            never taken twice;
 *   job      the due recipients of one entry for one destination: one SMTP
 *            transaction; waits in its destination's FIFO, then belongs to
 *            a session;
 *   dest     a destination domain (or the relay host): its FIFO of jobs and
 *            its sessions;
 *   session  one delivery connection: MX lookup, then each address in
 *            turn until one talks to us, then jobs until the FIFO is empty.
 * An entry is finished when its last job is: then the bounce (for the
 * recipients that failed for good) or a delay notice goes out, and an entry
 * without pending recipients is removed from the queue.
 *
 * Every outcome is written to the store before anything else happens with
 * it (STYLE 2.9); the in-memory objects are only the work in progress. */
#include "smtp/sched.h"

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/server.h"
#include "dns/dns.h"
#include "dns/dns_mx.h"
#include "smtp/downgrade.h"
#include "smtp/dsn.h"
#include "smtp/queue.h"
#include "smtp/smtp_client.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#define ENTRY_BUCKETS 4096
#define DEST_BUCKETS 1024
#define SCAN_BATCH 256
#define SCAN_BATCHES 16
#define RELAY_DEST "[relay]"

struct sched;
struct dest;

struct entry {
	int64_t id;
	struct store_queue_entry e;
	char *data;
	size_t len;
	struct buf data7; /* the 7-bit copy, made when first needed */
	bool have7;
	const char *down_error; /* the 7-bit copy cannot be made */
	bool body8, utf8;
	size_t jobs; /* jobs not yet complete */
	struct entry *hnext;
};

struct job {
	struct entry *en;
	struct dest *dest;
	size_t *idx; /* recipients: indexes into en->e.rcpts */
	size_t n;
	struct smtp_client_rcpt *cr;
	struct smtp_client_txn txn;
	struct job *next;
};

enum sess_state { SESS_RESOLVING, SESS_CONNECTING, SESS_BUSY };

struct session {
	struct sched *s;
	struct dest *d;
	uint64_t id;
	enum sess_state state;
	struct dns_mx_req *mx;
	struct dns_mx_host *hosts;
	size_t nhosts, host_i, addr_i;
	bool no_tls; /* this address failed TLS: try again in clear */
	bool retrying_clear;
	struct smtp_client *cl;
	struct job *job;
	char last_error[600];
	char last_enh[16];
	struct session *prev, *next;
};

struct dest {
	char *name;
	bool relay;
	bool tls_required;
	struct job *head, **tail;
	size_t queued;
	struct session *sessions;
	size_t nsessions, waiting; /* all, and those not yet talking */
	struct dest *hnext;
	struct dest *prev, *next; /* all destinations */
};

struct sched {
	struct server *srv;
	struct store *st;
	const struct config *cfg;
	struct dns *dns;
	SSL_CTX *tls;
	uint64_t *retry;
	size_t retry_count;
	char relay_host[256];
	uint16_t relay_port;
	bool relay;
	struct event *poll_ev, *kick_ev;
	struct entry *entries[ENTRY_BUCKETS];
	size_t active;
	unsigned long long active_bytes;
	struct dest *dest_hash[DEST_BUCKETS];
	struct dest *dests;
	size_t conns;
	int64_t cursor;
	bool more;
	bool stopping;
	uint64_t next_id;
};

static void session_next(struct session *ss);
static void dest_kick(struct sched *s, struct dest *d);
static void entry_finish(struct sched *s, struct entry *en);
static void session_end(struct session *ss);
static void sched_mx_cb(void *ctx, const struct dns_mx_result *r);

/* ---- Entries ------------------------------------------------------------------ */

static struct entry **entry_slot(struct sched *s, int64_t id)
{
	struct entry **p = &s->entries[(uint64_t)id % ENTRY_BUCKETS];
	while (*p != NULL && (*p)->id != id)
		p = &(*p)->hnext;
	return p;
}

static bool has_capacity(const struct sched *s)
{
	return s->active < SCHED_ACTIVE_MAX && s->active_bytes < SCHED_ACTIVE_BYTES;
}

static void entry_release(struct sched *s, struct entry *en)
{
	struct entry **p = entry_slot(s, en->id);
	if (*p == en)
		*p = en->hnext;
	s->active--;
	s->active_bytes -= en->len;
	store_queue_entry_clear(&en->e);
	free(en->data);
	buf_free(&en->data7);
	free(en);
	if (s->more && !s->stopping && has_capacity(s))
		event_active(s->kick_ev, 0, 0);
}

/* ---- Outcomes ------------------------------------------------------------------ */

static void record(struct sched *s, struct entry *en, size_t i, const struct smtp_client_rcpt *cr, time_t now)
{
	struct store_queue_rcpt *r = &en->e.rcpts[i];
	const char *error;
	char text[700];
	enum store_queue_state state;
	time_t next = 0;
	const char *what;
	queue_error_make(text, sizeof(text), cr->enh[0] ? cr->enh : "4.0.0", cr->reply);
	if (cr->status == SMTP_CLIENT_OK) {
		state = STORE_QUEUE_DELIVERED;
		what = "sent";
	} else if (cr->status == SMTP_CLIENT_PERM) {
		state = STORE_QUEUE_FAILED;
		what = "bounced";
	} else if (queue_expired(now, en->e.created, s->cfg->queue_lifetime)) {
		state = STORE_QUEUE_FAILED;
		what = "expired";
		char enh[16];
		snprintf(enh, sizeof(enh), "%s", cr->enh[0] ? cr->enh : "4.4.7");
		char longer[700];
		snprintf(longer, sizeof(longer), "%s; delivery time expired", cr->reply);
		queue_error_make(text, sizeof(text), enh, longer);
	} else {
		state = STORE_QUEUE_PENDING;
		what = "deferred";
		next = queue_next_attempt(s->retry, s->retry_count, r->attempts + 1, now, en->e.created,
					  s->cfg->queue_lifetime);
	}
	log_info("queue=%lld to=<%s> status=%s attempts=%d delay=%llds retry_in=%llds reply=\"%s\"",
		 (long long)en->id, r->address, what, r->attempts + 1, (long long)(now - en->e.created),
		 (long long)(next ? next - now : 0), cr->reply);
	if (store_queue_rcpt_update(s->st, r->id, state, next, text, &error) < 0) {
		/* Removed with `posthorn queue remove` meanwhile, or a store error. */
		log_warnx("queue=%lld to=<%s>: not recorded: %s", (long long)en->id, r->address, error);
		return;
	}
	r->state = state;
	r->attempts++;
	r->next_attempt = next;
	free(r->last_error);
	r->last_error = xstrdup(text);
}

static void job_free(struct job *j)
{
	free(j->idx);
	free(j->cr);
	free(j);
}

/* The job's recipients have their outcome in j->cr: write it down. */
static void job_complete(struct sched *s, struct job *j)
{
	struct entry *en = j->en;
	time_t now = time(NULL);
	for (size_t i = 0; i < j->n; i++)
		record(s, en, j->idx[i], &j->cr[i], now);
	job_free(j);
	if (--en->jobs == 0)
		entry_finish(s, en);
}

/* Every recipient of j gets the same outcome (no server was reached, or
 * the message cannot go to this server). */
static void job_fail(struct sched *s, struct job *j, bool permanent, const char *enh, const char *reason)
{
	for (size_t i = 0; i < j->n; i++) {
		struct smtp_client_rcpt *cr = &j->cr[i];
		cr->status = permanent ? SMTP_CLIENT_PERM : SMTP_CLIENT_TEMP;
		cr->code = 0;
		snprintf(cr->enh, sizeof(cr->enh), "%s", enh);
		snprintf(cr->reply, sizeof(cr->reply), "%s", reason);
	}
	job_complete(s, j);
}

/* Drops a job without an outcome (shutdown): its recipients stay pending. */
static void job_drop(struct sched *s, struct job *j)
{
	struct entry *en = j->en;
	job_free(j);
	if (--en->jobs == 0)
		entry_release(s, en);
}

/* ---- Bounces and delay notices ------------------------------------------------------ */

struct dsn_ctx {
	struct store *st; /* not the sched: the store may call back after sched_free */
	int64_t queue_id;
	bool mark_bounced;
	bool remove;
	bool set_delay_flag;
	struct buf msg;
	struct store_delivery d;
	struct store_delivery_rcpt *rcpts;
	char **prefixes;
	size_t nlocal;
	const char **remote;
	char *remote_addr;
	struct store_resolution res;
};

/* What follows a stored (or impossible) DSN. */
static void dsn_followup(struct store *st, int64_t id, bool mark_bounced, bool remove, bool set_delay_flag)
{
	const char *error;
	if (mark_bounced && store_queue_mark_bounced(st, id, &error) < 0)
		log_warnx("queue=%lld: %s", (long long)id, error);
	if (set_delay_flag && store_queue_set_flags(st, id, STORE_QUEUE_DELAY_NOTIFIED, &error) < 0)
		log_warnx("queue=%lld: %s", (long long)id, error);
	if (remove) {
		if (store_queue_remove(st, id, &error) < 0)
			log_warnx("queue=%lld: not removed: %s", (long long)id, error);
		else
			log_info("queue=%lld removed", (long long)id);
	}
}

static void dsn_ctx_free(struct dsn_ctx *c)
{
	buf_free(&c->msg);
	for (size_t i = 0; i < c->nlocal; i++)
		free(c->prefixes[i]);
	free(c->prefixes);
	free(c->rcpts);
	free(c->remote);
	free(c->remote_addr);
	store_resolution_clear(&c->res);
	free(c);
}

static void dsn_stored(void *ctx, struct store_delivery *d, int result)
{
	struct dsn_ctx *c = ctx;
	if (result < 0) {
		/* XXX: the entry stays as it is and its bounce is not retried
		 * until the next restart; a store that cannot write has bigger
		 * problems. */
		log_error("queue=%lld: the delivery status notification could not be stored: %s",
			  (long long)c->queue_id, d->error ? d->error : "error");
	} else {
		log_info("queue=%lld dsn stored local=%zu remote=%zu dsn_queue=%lld", (long long)c->queue_id,
			 d->rcpt_count, d->remote_count, (long long)d->queue_id);
		dsn_followup(c->st, c->queue_id, c->mark_bounced, c->remove, c->set_delay_flag);
	}
	dsn_ctx_free(c);
}

/* Builds a DSN about the recipients of e selected by action and hands it to
 * the store for the envelope sender; the follow-up runs once it is stored. */
static void dsn_send(struct sched *s, const struct store_queue_entry *e, const char *data, size_t len,
		     enum dsn_action action, bool mark_bounced, bool remove, bool set_delay_flag)
{
	time_t now = time(NULL);
	struct dsn_rcpt *dr = xcalloc(e->rcpt_count, sizeof(*dr));
	char(*enh)[16] = xcalloc(e->rcpt_count, sizeof(*enh));
	char(*mta)[256] = xcalloc(e->rcpt_count, sizeof(*mta));
	char(*diag)[600] = xcalloc(e->rcpt_count, sizeof(*diag));
	size_t n = 0;
	for (size_t i = 0; i < e->rcpt_count; i++) {
		const struct store_queue_rcpt *r = &e->rcpts[i];
		bool take = action == DSN_FAILED ? r->state == STORE_QUEUE_FAILED && r->next_attempt == 0
						 : r->state == STORE_QUEUE_PENDING && r->attempts > 0;
		if (!take)
			continue;
		struct dsn_rcpt *d = &dr[n];
		const char *text;
		queue_error_split(r->last_error, action == DSN_FAILED, enh[n], &text);
		if (action == DSN_FAILED && enh[n][0] == '4')
			enh[n][0] = '5'; /* expired: the last temporary error, now final */
		d->address = r->address;
		d->action = action;
		d->status = enh[n];
		d->reason = text[0] ? text : "delivery failed";
		if (queue_error_smtp(text, mta[n], sizeof(mta[n]), diag[n], sizeof(diag[n]))) {
			d->remote_mta = mta[n];
			d->diagnostic = diag[n];
		}
		d->last_attempt = r->attempts > 0 ? now : 0;
		d->will_retry_until = e->created + (time_t)s->cfg->queue_lifetime;
		n++;
	}
	struct dsn_ctx *c = xmalloc(sizeof(*c));
	c->st = s->st;
	c->queue_id = e->id;
	c->mark_bounced = mark_bounced;
	c->remove = remove;
	c->set_delay_flag = set_delay_flag;
	buf_init(&c->msg, 2 * DSN_HEADERS_MAX + 1024 * 1024);
	char qid[32];
	snprintf(qid, sizeof(qid), "%lld", (long long)e->id);
	struct dsn_info info = {.reporting_mta = s->cfg->hostname,
				.to = e->mail_from,
				.queue_id = qid,
				.arrival = e->created,
				.now = now,
				.message = data,
				.message_len = len,
				.rcpts = dr,
				.rcpt_count = n};
	int built = n > 0 ? dsn_build(&info, &c->msg) : -1;
	free(dr);
	free(enh);
	free(mta);
	free(diag);
	const char *error = NULL;
	int r = built < 0 ? -1 : store_resolve(s->st, e->mail_from, &c->res, &error);
	if (built < 0 || r < 0 || c->res.status == STORE_RESOLVE_UNKNOWN_USER ||
	    c->res.status == STORE_RESOLVE_LOOP) {
		log_warnx("queue=%lld: no %s to <%s>: %s", (long long)e->id,
			  action == DSN_FAILED ? "bounce" : "delay notice", e->mail_from,
			  built < 0 ? "nothing to report"
			  : r < 0   ? error
				    : "the sender's address is unknown here");
		dsn_ctx_free(c);
		dsn_followup(s->st, e->id, mark_bounced, remove, set_delay_flag);
		return;
	}
	size_t cnt = c->res.status == STORE_RESOLVE_OK ? c->res.count : 1;
	c->rcpts = xcalloc(cnt, sizeof(*c->rcpts));
	c->prefixes = xcalloc(cnt, sizeof(*c->prefixes));
	c->remote = xcalloc(cnt, sizeof(*c->remote));
	size_t nremote = 0;
	if (c->res.status == STORE_RESOLVE_OK) {
		for (size_t i = 0; i < c->res.count; i++) {
			const struct store_target *t = &c->res.targets[i];
			if (t->user_id > 0) {
				struct buf p;
				buf_init(&p, 4096);
				buf_printf(&p, "Return-Path: <>\r\nDelivered-To: %s\r\n", t->address);
				c->prefixes[c->nlocal] = buf_steal(&p, NULL);
				c->rcpts[c->nlocal].user_id = t->user_id;
				c->rcpts[c->nlocal].prefix = c->prefixes[c->nlocal];
				c->nlocal++;
			} else
				c->remote[nremote++] = t->address;
		}
	} else {
		c->remote_addr = xstrdup(e->mail_from);
		c->remote[nremote++] = c->remote_addr;
	}
	c->d.data = c->msg.data;
	c->d.len = c->msg.len;
	c->d.internaldate = now;
	c->d.mail_from = ""; /* a DSN is sent from <>, so no DSN is ever about a DSN */
	c->d.remote_rcpts = c->remote;
	c->d.remote_count = nremote;
	c->d.rcpts = c->rcpts;
	c->d.rcpt_count = c->nlocal;
	store_deliver_async(s->st, &c->d, dsn_stored, c);
}

/* The entry's last job is done: bounce, notify, remove, release. */
static void entry_finish(struct sched *s, struct entry *en)
{
	const char *error;
	struct store_queue_entry fresh = {0};
	int found = store_queue_get(s->st, en->id, &fresh, &error);
	if (found <= 0) {
		if (found < 0)
			log_warnx("queue=%lld: %s", (long long)en->id, error);
		entry_release(s, en);
		return;
	}
	size_t pending = 0, unbounced = 0, deferred = 0;
	for (size_t i = 0; i < fresh.rcpt_count; i++) {
		const struct store_queue_rcpt *r = &fresh.rcpts[i];
		pending += r->state == STORE_QUEUE_PENDING;
		deferred += r->state == STORE_QUEUE_PENDING && r->attempts > 0;
		unbounced += r->state == STORE_QUEUE_FAILED && r->next_attempt == 0;
	}
	bool null_sender = fresh.mail_from[0] == '\0';
	time_t now = time(NULL);
	if (unbounced > 0 && !null_sender) {
		dsn_send(s, &fresh, en->data, en->len, DSN_FAILED, true, pending == 0, false);
	} else if (unbounced > 0) {
		log_info("queue=%lld: no bounce for mail from <>", (long long)en->id);
		dsn_followup(s->st, en->id, true, pending == 0, false);
	} else if (pending == 0) {
		dsn_followup(s->st, en->id, false, true, false);
	}
	uint32_t flags = 0;
	if (pending > 0 && deferred > 0 && !null_sender && s->cfg->queue_delay_notice > 0 &&
	    now - fresh.created >= (time_t)s->cfg->queue_delay_notice &&
	    store_queue_flags(s->st, en->id, &flags, &error) == 1 && !(flags & STORE_QUEUE_DELAY_NOTIFIED))
		dsn_send(s, &fresh, en->data, en->len, DSN_DELAYED, false, false, true);
	store_queue_entry_clear(&fresh);
	entry_release(s, en);
}

/* ---- Destinations ---------------------------------------------------------------------- */

static uint64_t str_hash(const char *p)
{
	uint64_t h = 1469598103934665603ull;
	for (; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ull;
	}
	return h;
}

static bool tls_required(const struct sched *s, const char *domain)
{
	const char *list = s->cfg->outbound_tls_required;
	size_t dn = strlen(domain);
	while (list != NULL && *list) {
		list += strspn(list, " \t,");
		size_t n = strcspn(list, " \t,");
		if (n == dn && strncasecmp(list, domain, n) == 0)
			return true;
		list += n;
	}
	return false;
}

static struct dest *dest_get(struct sched *s, const char *name)
{
	struct dest **p = &s->dest_hash[str_hash(name) % DEST_BUCKETS];
	for (struct dest *d = *p; d != NULL; d = d->hnext)
		if (strcmp(d->name, name) == 0)
			return d;
	struct dest *d = xmalloc(sizeof(*d));
	d->name = xstrdup(name);
	d->relay = strcmp(name, RELAY_DEST) == 0;
	d->tls_required = tls_required(s, d->relay ? s->relay_host : name);
	d->tail = &d->head;
	d->hnext = *p;
	*p = d;
	d->next = s->dests;
	if (s->dests)
		s->dests->prev = d;
	s->dests = d;
	return d;
}

static void dest_maybe_free(struct sched *s, struct dest *d)
{
	if (d->queued > 0 || d->nsessions > 0)
		return;
	struct dest **p = &s->dest_hash[str_hash(d->name) % DEST_BUCKETS];
	while (*p != d)
		p = &(*p)->hnext;
	*p = d->hnext;
	if (d->prev)
		d->prev->next = d->next;
	else
		s->dests = d->next;
	if (d->next)
		d->next->prev = d->prev;
	free(d->name);
	free(d);
}

static struct job *dest_pop(struct dest *d)
{
	struct job *j = d->head;
	if (j == NULL)
		return NULL;
	d->head = j->next;
	if (d->head == NULL)
		d->tail = &d->head;
	d->queued--;
	j->next = NULL;
	return j;
}

static bool dest_has_busy(const struct dest *d, const struct session *except)
{
	for (const struct session *x = d->sessions; x != NULL; x = x->next)
		if (x != except && x->state == SESS_BUSY)
			return true;
	return false;
}

/* No address of the destination answered (or DNS said there is none):
 * the jobs waiting for it share that fate. A temporary failure is not
 * applied while another connection to it is working. */
static void dest_fail_queued(struct sched *s, struct dest *d, struct session *from, bool permanent,
			     const char *enh, const char *reason)
{
	if (!permanent && dest_has_busy(d, from))
		return;
	struct job *j;
	while ((j = dest_pop(d)) != NULL)
		job_fail(s, j, permanent, enh, reason);
}

/* Starts connections while jobs wait and limits allow. */
static void dest_kick(struct sched *s, struct dest *d)
{
	while (!s->stopping && d->queued > d->waiting && d->nsessions < s->cfg->outbound_max_per_domain &&
	       s->conns < s->cfg->outbound_max_connections) {
		struct session *ss = xmalloc(sizeof(*ss));
		ss->s = s;
		ss->d = d;
		ss->id = s->next_id++;
		ss->state = SESS_RESOLVING;
		ss->next = d->sessions;
		if (d->sessions)
			d->sessions->prev = ss;
		d->sessions = ss;
		d->nsessions++;
		d->waiting++;
		s->conns++;
		snprintf(ss->last_enh, sizeof(ss->last_enh), "4.4.1");
		snprintf(ss->last_error, sizeof(ss->last_error), "no mail server of %s answered", d->name);
		if (d->relay)
			ss->mx = dns_mx_resolve(s->dns, s->relay_host, s->relay_port, DNS_MX_HOST_ONLY,
						sched_mx_cb, ss);
		else
			ss->mx = dns_mx_resolve(s->dns, d->name, 25, 0, sched_mx_cb, ss);
	}
}

/* Global capacity came free: other destinations may start connections. */
static void kick_all(struct sched *s)
{
	for (struct dest *d = s->dests; d != NULL && s->conns < s->cfg->outbound_max_connections; d = d->next)
		if (d->queued > d->waiting)
			dest_kick(s, d);
}

/* ---- Sessions ------------------------------------------------------------------------ */

static void session_end(struct session *ss)
{
	struct sched *s = ss->s;
	struct dest *d = ss->d;
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		d->sessions = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	d->nsessions--;
	if (ss->state != SESS_BUSY)
		d->waiting--;
	s->conns--;
	dns_mx_cancel(&ss->mx);
	smtp_client_free(&ss->cl);
	if (ss->job != NULL) {
		/* Only when freeing everything: the outcome is unknown. */
		job_drop(s, ss->job);
	}
	free(ss->hosts);
	free(ss);
	if (!s->stopping) {
		dest_kick(s, d);
		kick_all(s);
	}
	dest_maybe_free(s, d);
}

static void cl_ready(void *ctx, struct smtp_client *cl);
static void cl_done(void *ctx, struct smtp_client *cl, struct smtp_client_txn *txn);
static void cl_closed(void *ctx, struct smtp_client *cl, const struct smtp_client_end *end);
static const struct smtp_client_cb client_cb = {cl_ready, cl_done, cl_closed};

/* Connects to the next address, or gives up on the destination. */
static void session_connect(struct session *ss)
{
	struct sched *s = ss->s;
	while (ss->host_i < ss->nhosts && ss->addr_i >= ss->hosts[ss->host_i].addr_count) {
		ss->host_i++;
		ss->addr_i = 0;
	}
	if (ss->host_i >= ss->nhosts || s->stopping) {
		if (!s->stopping)
			dest_fail_queued(s, ss->d, ss, false, ss->last_enh, ss->last_error);
		session_end(ss);
		return;
	}
	const struct dns_mx_host *h = &ss->hosts[ss->host_i];
	const struct sockaddr_storage *addr = &h->addrs[ss->addr_i];
	if (!ss->retrying_clear)
		ss->no_tls = false;
	ss->retrying_clear = false;
	ss->addr_i++;
	struct smtp_client_settings set = {
	    .id = ss->id,
	    .helo = s->cfg->hostname,
	    .peer_name = h->name,
	    .tls_ctx = s->tls,
	    .connect_timeout = (unsigned)s->cfg->outbound_connect_timeout,
	};
	if (ss->d->tls_required)
		set.tls = SMTP_CLIENT_TLS_REQUIRE;
	else if (s->cfg->outbound_tls && !ss->no_tls)
		set.tls = SMTP_CLIENT_TLS_MAY;
	else
		set.tls = SMTP_CLIENT_TLS_NONE;
	ss->state = SESS_CONNECTING;
	ss->cl = smtp_client_new(s->srv->base, (const struct sockaddr *)addr,
				 addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							     : sizeof(struct sockaddr_in),
				 &set, &client_cb, ss);
}

static void sched_mx_cb(void *ctx, const struct dns_mx_result *r)
{
	struct session *ss = ctx;
	struct sched *s = ss->s;
	ss->mx = NULL;
	bool perm = !ss->d->relay;
	switch (r->status) {
	case DNS_MX_OK:
		ss->hosts = xcalloc(r->host_count, sizeof(*ss->hosts));
		memcpy(ss->hosts, r->hosts, r->host_count * sizeof(*ss->hosts));
		ss->nhosts = r->host_count;
		log_session_debug(ss->id, "smtp-out mx domain=%s hosts=%zu first=%s dnssec=%s", ss->d->name,
				  r->host_count, r->hosts[0].name, dns_sec_name(r->sec));
		session_connect(ss);
		return;
	case DNS_MX_NULL:
		dest_fail_queued(s, ss->d, ss, perm, perm ? "5.1.10" : "4.4.4", r->error);
		break;
	case DNS_MX_NXDOMAIN:
		dest_fail_queued(s, ss->d, ss, perm, perm ? "5.1.2" : "4.4.4", r->error);
		break;
	case DNS_MX_NOHOST:
		dest_fail_queued(s, ss->d, ss, perm, perm ? "5.4.4" : "4.4.4", r->error);
		break;
	case DNS_MX_TEMPFAIL:
		dest_fail_queued(s, ss->d, ss, false, "4.4.3", r->error);
		break;
	}
	session_end(ss);
}

/* Checks what the message needs against what the server offers and sends
 * it; false when it cannot go to this server (the job is then complete). */
static bool job_send(struct session *ss, struct job *j)
{
	struct sched *s = ss->s;
	struct entry *en = j->en;
	const struct smtp_ehlo *eh = smtp_client_ehlo(ss->cl);
	const char *peer = smtp_client_peer(ss->cl);
	const char *data = en->data;
	size_t len = en->len;
	char why[600];
	const char *enh = NULL;
	if (en->utf8 && !eh->smtputf8) {
		enh = "5.6.7";
		snprintf(why, sizeof(why),
			 "%s does not support SMTPUTF8, which this message needs (international "
			 "addresses or headers)",
			 peer);
	} else if (en->body8 && !eh->eightbitmime) {
		if (!en->have7 && en->down_error == NULL) {
			buf_init(&en->data7, en->len * 3 + 65536);
			if (smtp_downgrade_7bit(en->data, en->len, &en->data7, &en->down_error) == 0)
				en->have7 = true;
			else
				buf_free(&en->data7);
		}
		if (en->have7) {
			data = en->data7.data;
			len = en->data7.len;
			log_session(ss->id, "smtp-out queue=%lld converted to 7 bit for %s",
				    (long long)en->id, peer);
		} else {
			enh = "5.6.3";
			snprintf(why, sizeof(why),
				 "%s does not support 8BITMIME and the message cannot be converted: %s", peer,
				 en->down_error);
		}
	}
	if (enh == NULL && eh->size_set && eh->size > 0 && len > eh->size) {
		enh = "5.3.4";
		snprintf(why, sizeof(why), "message too big for %s (%zu bytes, limit %llu)", peer, len,
			 (unsigned long long)eh->size);
	}
	if (enh != NULL) {
		ss->job = NULL;
		job_fail(s, j, true, enh, why);
		return false;
	}
	j->txn.mail_from = en->e.mail_from;
	j->txn.rcpts = j->cr;
	j->txn.rcpt_count = j->n;
	j->txn.data = data;
	j->txn.len = len;
	j->txn.body_8bitmime = en->body8 && eh->eightbitmime;
	j->txn.smtputf8 = en->utf8;
	j->txn.size = eh->size_set;
	smtp_client_send(ss->cl, &j->txn);
	return true;
}

/* The connection is free: the next job of the destination, or QUIT. */
static void session_next(struct session *ss)
{
	struct sched *s = ss->s;
	while (!s->stopping) {
		struct job *j = dest_pop(ss->d);
		if (j == NULL)
			break;
		ss->job = j;
		if (job_send(ss, j))
			return;
	}
	ss->job = NULL;
	smtp_client_quit(ss->cl);
}

static void cl_ready(void *ctx, struct smtp_client *cl)
{
	struct session *ss = ctx;
	ss->state = SESS_BUSY;
	ss->d->waiting--;
	session_next(ss);
}

static void cl_done(void *ctx, struct smtp_client *cl, struct smtp_client_txn *txn)
{
	struct session *ss = ctx;
	struct job *j = ss->job;
	ss->job = NULL;
	if (j != NULL)
		job_complete(ss->s, j);
	/* After a lost connection `closed` follows; else the next job. */
	if (ss->cl != NULL && smtp_client_ready(ss->cl))
		session_next(ss);
}

static void cl_closed(void *ctx, struct smtp_client *cl, const struct smtp_client_end *end)
{
	struct session *ss = ctx;
	smtp_client_free(&ss->cl);
	if (end->was_ready || ss->state == SESS_BUSY) {
		session_end(ss);
		return;
	}
	/* This address did not work out: remember why, try the next one. */
	snprintf(ss->last_error, sizeof(ss->last_error), "%s", end->reason);
	snprintf(ss->last_enh, sizeof(ss->last_enh), "%s",
		 end->code >= 400 && end->enh[0] ? end->enh
		 : ss->d->tls_required		 ? "4.7.5"
						 : "4.4.1");
	if (end->tls_failed && !ss->no_tls && !ss->d->tls_required) {
		/* Opportunistic TLS failed: the same address once more, in clear. */
		ss->no_tls = true;
		ss->retrying_clear = true;
		ss->addr_i--;
	}
	session_connect(ss);
}

/* ---- Taking work ------------------------------------------------------------------------- */

static struct job *job_new(struct entry *en, struct dest *d, size_t cap)
{
	struct job *j = xmalloc(sizeof(*j));
	j->en = en;
	j->dest = d;
	j->idx = xcalloc(cap, sizeof(*j->idx));
	j->cr = xcalloc(cap, sizeof(*j->cr));
	return j;
}

/* Loads a queue entry and queues a job per destination of its due
 * recipients. Does nothing when the entry is already being worked on. */
static void activate(struct sched *s, int64_t id, time_t now)
{
	struct entry **slot = entry_slot(s, id);
	if (*slot != NULL)
		return;
	const char *error;
	struct entry *en = xmalloc(sizeof(*en));
	en->id = id;
	buf_init(&en->data7, 1);
	int found = store_queue_get(s->st, id, &en->e, &error);
	if (found <= 0 || store_queue_read(s->st, id, &en->data, &en->len, &error) < 0) {
		if (found != 0)
			log_warnx("queue=%lld: cannot load: %s", (long long)id, error);
		store_queue_entry_clear(&en->e);
		free(en);
		return;
	}
	bool header8;
	queue_msg_scan(en->data, en->len, &en->body8, &header8);
	en->utf8 = header8 || queue_str_8bit(en->e.mail_from);
	for (size_t i = 0; i < en->e.rcpt_count; i++)
		en->utf8 = en->utf8 || queue_str_8bit(en->e.rcpts[i].address);
	en->hnext = NULL;
	*slot = en;
	s->active++;
	s->active_bytes += en->len;

	/* Group the due recipients by destination, at most SCHED_RCPTS_PER_TXN a job. */
	struct job **open = xcalloc(en->e.rcpt_count ? en->e.rcpt_count : 1, sizeof(*open));
	size_t nopen = 0;
	struct job **jobs = xcalloc(en->e.rcpt_count ? en->e.rcpt_count : 1, sizeof(*jobs));
	size_t njobs = 0;
	struct job *bad = NULL;
	for (size_t i = 0; i < en->e.rcpt_count; i++) {
		const struct store_queue_rcpt *r = &en->e.rcpts[i];
		if (r->state != STORE_QUEUE_PENDING || r->next_attempt > now)
			continue;
		char domain[256];
		struct job *j = NULL;
		if (queue_domain(r->address, domain, sizeof(domain)) < 0) {
			if (bad == NULL)
				bad = job_new(en, NULL, en->e.rcpt_count);
			j = bad;
		} else {
			/* open[] holds the newest job of each destination; a full
			 * one is replaced by a new one. */
			const char *key = s->relay ? RELAY_DEST : domain;
			size_t k;
			for (k = 0; k < nopen && strcmp(open[k]->dest->name, key) != 0; k++)
				;
			if (k < nopen && open[k]->n < SCHED_RCPTS_PER_TXN) {
				j = open[k];
			} else {
				struct dest *d = dest_get(s, key);
				j = job_new(en, d,
					    en->e.rcpt_count < SCHED_RCPTS_PER_TXN ? en->e.rcpt_count
										   : SCHED_RCPTS_PER_TXN);
				if (k < nopen)
					open[k] = j;
				else
					open[nopen++] = j;
				jobs[njobs++] = j;
			}
		}
		j->idx[j->n] = i;
		j->cr[j->n].address = r->address;
		j->n++;
	}
	free(open);
	en->jobs = njobs + (bad != NULL);
	if (en->jobs == 0) {
		free(jobs);
		entry_release(s, en);
		return;
	}
	if (bad != NULL)
		job_fail(s, bad, true, "5.1.3", "bad recipient address syntax");
	for (size_t k = 0; k < njobs; k++) {
		struct job *j = jobs[k];
		struct dest *d = j->dest;
		*d->tail = j;
		d->tail = &j->next;
		d->queued++;
	}
	for (size_t k = 0; k < njobs; k++)
		dest_kick(s, jobs[k]->dest);
	free(jobs);
}

static void scan(struct sched *s)
{
	if (s->stopping)
		return;
	time_t now = time(NULL);
	s->more = false;
	for (int b = 0; b < SCAN_BATCHES; b++) {
		int64_t *ids;
		size_t n;
		const char *error;
		if (store_queue_due_ids(s->st, now, s->cursor, SCAN_BATCH, &ids, &n, &error) < 0) {
			log_warnx("queue scan: %s", error);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			if (!has_capacity(s)) {
				s->more = true;
				s->cursor = ids[i] - 1;
				free(ids);
				return;
			}
			activate(s, ids[i], now);
		}
		bool last = n < SCAN_BATCH;
		s->cursor = last ? 0 : ids[n - 1];
		free(ids);
		if (last)
			return;
	}
	s->more = true;
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	scan(arg);
}

static void queued_cb(void *ctx, int64_t queue_id)
{
	struct sched *s = ctx;
	if (s->stopping)
		return;
	if (has_capacity(s))
		activate(s, queue_id, time(NULL));
	else
		s->more = true;
}

/* ---- Life cycle ---------------------------------------------------------------------- */

struct sched *sched_new(struct server *srv, const char **error_r)
{
	const struct config *cfg = srv->cfg;
	struct sched *s = xmalloc(sizeof(*s));
	s->srv = srv;
	s->st = srv->store;
	s->cfg = cfg;
	s->next_id = srv->next_session ^ 0x5c4ed00000000000ull;
	int n = config_retry_schedule(cfg->queue_retry, &s->retry, error_r);
	if (n < 0) {
		free(s);
		return NULL;
	}
	s->retry_count = (size_t)n;
	if (cfg->relay_host != NULL) {
		if (config_relay_host(cfg->relay_host, s->relay_host, sizeof(s->relay_host), &s->relay_port,
				      error_r) < 0) {
			free(s->retry);
			free(s);
			return NULL;
		}
		s->relay = true;
	}
	struct dns_options dopts = {.resolver = cfg->dns_resolver, .trust_anchor = cfg->dns_trust_anchor};
	s->dns = dns_new(srv->base, &dopts, error_r);
	if (s->dns == NULL) {
		free(s->retry);
		free(s);
		return NULL;
	}
	s->tls = SSL_CTX_new(TLS_client_method());
	if (s->tls != NULL) {
		/* Opportunistic: any certificate will do (RFC 7435); DANE and
		 * MTA-STS would verify. */
		SSL_CTX_set_verify(s->tls, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_mode(s->tls, SSL_MODE_RELEASE_BUFFERS);
	}
	s->poll_ev = event_new(srv->base, -1, EV_PERSIST, poll_cb, s);
	struct timeval tv = {SCHED_POLL_SECONDS, 0};
	event_add(s->poll_ev, &tv);
	s->kick_ev = event_new(srv->base, -1, 0, poll_cb, s);
	event_active(s->kick_ev, 0, 0);
	store_queue_watch(s->st, queued_cb, s);
	log_info("queue: scheduler started (resolver %s%s%s)", cfg->dns_resolver, s->relay ? ", relay " : "",
		 s->relay ? cfg->relay_host : "");
	return s;
}

void sched_shutdown(struct sched *s)
{
	if (s == NULL || s->stopping)
		return;
	s->stopping = true;
	event_del(s->poll_ev);
	event_del(s->kick_ev);
	/* Waiting jobs stay pending in the store; connections that are not
	 * delivering end now, the others after their transaction. */
	for (struct dest *d = s->dests, *dn; d != NULL; d = dn) {
		dn = d->next;
		struct job *j;
		while ((j = dest_pop(d)) != NULL)
			job_drop(s, j);
		for (struct session *ss = d->sessions, *sn; ss != NULL; ss = sn) {
			sn = ss->next;
			if (ss->state != SESS_BUSY || ss->job == NULL) {
				if (ss->state == SESS_BUSY && ss->cl != NULL)
					smtp_client_quit(ss->cl);
				else
					session_end(ss);
			}
		}
	}
}

void sched_free(struct sched **sp)
{
	struct sched *s = *sp;
	if (s == NULL)
		return;
	s->stopping = true;
	store_queue_watch(s->st, NULL, NULL);
	while (s->dests != NULL) {
		struct dest *d = s->dests;
		struct job *j;
		while ((j = dest_pop(d)) != NULL)
			job_drop(s, j);
		if (d->sessions != NULL)
			session_end(d->sessions); /* the last one frees d */
		else
			dest_maybe_free(s, d);
	}
	for (size_t b = 0; b < ENTRY_BUCKETS; b++)
		while (s->entries[b] != NULL)
			entry_release(s, s->entries[b]);
	dns_free(&s->dns);
	if (s->tls)
		SSL_CTX_free(s->tls);
	event_free(s->poll_ev);
	event_free(s->kick_ev);
	free(s->retry);
	free(s);
	*sp = NULL;
}
