/* dns: the libunbound glue and the record-data decoders (see dns.h).
 *
 * libunbound runs in threaded mode (ub_ctx_async(ctx, 1): a thread, not a
 * forked process, so nothing survives our privilege drop by surprise) and
 * signals finished lookups on ub_fd(), which one persistent event watches;
 * ub_process() then runs our callback per answer on the loop thread. Each
 * query also has a timer of its own: libunbound's retries against a dead
 * server can take minutes, and the queue would rather try again later. */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>
#include <unistd.h>

#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

#define DNS_DEFAULT_TIMEOUT_MS 30000
#define DNS_ROOT_KEY "/usr/share/dns/root.key"

struct dns_query {
	struct dns *d;
	struct dns_query *prev, *next;
	int async_id;
	bool started; /* libunbound has it (async_id valid) */
	char *name;
	enum dns_type type;
	dns_cb *cb;
	void *ctx;
	struct event *timer; /* timeout, or an immediate error report */
	const char *early_error;
};

struct dns {
	struct event_base *base;
	struct ub_ctx *ub;
	struct event *ub_ev;
	struct dns_query *queries;
	size_t pending;
	unsigned timeout_ms;
};

const char *dns_status_name(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_NODATA:
		return "nodata";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_TEMPFAIL:
		return "tempfail";
	}
	return "?";
}

const char *dns_sec_name(enum dns_sec s)
{
	switch (s) {
	case DNS_SEC_INSECURE:
		return "insecure";
	case DNS_SEC_SECURE:
		return "secure";
	case DNS_SEC_BOGUS:
		return "bogus";
	}
	return "?";
}

/* ---- Resolver settings -------------------------------------------------- */

/* Parses one forwarder "ADDR", "ADDR:PORT", "[V6]:PORT" or "V6" into
 * libunbound's "ADDR@PORT" form. */
static int parse_forwarder(const char *s, size_t n, char *out, size_t out_size, const char **error_r)
{
	char host[INET6_ADDRSTRLEN + 1];
	uint32_t port = 53;
	const char *h = s;
	size_t hn = n;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close == NULL) {
			*error_r = "bad DNS forwarder: missing ] after an IPv6 address";
			return -1;
		}
		h = s + 1;
		hn = (size_t)(close - h);
		size_t rest = n - (size_t)(close + 1 - s);
		if (rest > 0) {
			if (close[1] != ':' || rest < 2 || strn_to_u32(close + 2, rest - 1, &port) < 0) {
				*error_r = "bad DNS forwarder port: expected [ADDRESS]:PORT";
				return -1;
			}
		}
	} else {
		const char *colon = memchr(s, ':', n);
		/* One colon: IPv4 with a port; more: a bare IPv6 address. */
		if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) == NULL) {
			hn = (size_t)(colon - s);
			if (strn_to_u32(colon + 1, n - hn - 1, &port) < 0) {
				*error_r = "bad DNS forwarder port: expected ADDRESS:PORT";
				return -1;
			}
		}
	}
	if (port == 0 || port > 65535) {
		*error_r = "bad DNS forwarder port: expected 1-65535";
		return -1;
	}
	if (hn == 0 || hn >= sizeof(host)) {
		*error_r = "bad DNS forwarder address";
		return -1;
	}
	memcpy(host, h, hn);
	host[hn] = '\0';
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) != 1 && inet_pton(AF_INET6, host, &a6) != 1) {
		*error_r = "bad DNS forwarder: expected an IP address (\"system\" for /etc/resolv.conf)";
		return -1;
	}
	int w = snprintf(out, out_size, "%s@%u", host, port);
	if (w < 0 || (size_t)w >= out_size) {
		*error_r = "bad DNS forwarder address";
		return -1;
	}
	return 0;
}

/* Calls fn for each forwarder of a list; -1 at the first bad one. */
static int each_forwarder(const char *list, struct ub_ctx *ub, const char **error_r)
{
	const char *p = list;
	int count = 0;
	while (*p) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, " \t,");
		if (n == 0)
			break;
		char fwd[INET6_ADDRSTRLEN + 16];
		if (parse_forwarder(p, n, fwd, sizeof(fwd), error_r) < 0)
			return -1;
		if (ub != NULL && ub_ctx_set_fwd(ub, fwd) != 0) {
			*error_r = "libunbound refused the DNS forwarder";
			return -1;
		}
		count++;
		p += n;
	}
	if (count == 0) {
		*error_r = "no DNS forwarder given";
		return -1;
	}
	return 0;
}

static bool is_system(const char *resolver)
{
	return resolver == NULL || resolver[0] == '\0' || strcmp(resolver, "system") == 0;
}

int dns_check_resolver(const char *resolver, const char **error_r)
{
	if (is_system(resolver))
		return 0;
	return each_forwarder(resolver, NULL, error_r);
}

/* ---- The context -------------------------------------------------------- */

static void ub_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;
	/* Runs the callbacks of every finished lookup. */
	if (ub_process(d->ub) != 0)
		log_warnx("dns: ub_process failed");
}

struct dns *dns_new(struct event_base *base, const struct dns_options *opts, const char **error_r)
{
	struct ub_ctx *ub = ub_ctx_create();
	if (ub == NULL) {
		*error_r = "libunbound: cannot create a resolver context";
		return NULL;
	}
	const char *error = NULL;
	/* Threads, not a forked process; loopback forwarders allowed (tests,
	 * a local caching resolver); no chroot or files of its own. */
	if (ub_ctx_async(ub, 1) != 0 || ub_ctx_set_option(ub, "do-not-query-localhost:", "no") != 0)
		error = "libunbound refused its basic settings";
	/* Unbound answers some special-use names (RFC 6761) itself; a mail
	 * server asks its resolver, which may serve them (a test zone, a site's
	 * home.arpa). "invalid" and "localhost" keep their fixed answers. */
	if (error == NULL && (ub_ctx_set_option(ub, "local-zone:", "test. transparent") != 0 ||
			      ub_ctx_set_option(ub, "local-zone:", "home.arpa. transparent") != 0))
		error = "libunbound refused its local-zone settings";
	if (error == NULL && is_system(opts->resolver)) {
		int r = ub_ctx_resolvconf(ub, NULL);
		if (r != 0)
			error = "cannot read /etc/resolv.conf (set dns_resolver to an address)";
	} else if (error == NULL && each_forwarder(opts->resolver, ub, &error) < 0) {
		/* error set */
	}
	const char *ta = opts->trust_anchor;
	if (error == NULL && ta != NULL && strcmp(ta, "none") != 0 && ta[0] != '\0') {
		if (strcmp(ta, "auto") == 0)
			ta = access(DNS_ROOT_KEY, R_OK) == 0 ? DNS_ROOT_KEY : NULL;
		if (ta != NULL && ub_ctx_add_ta_file(ub, ta) != 0)
			error = "libunbound cannot read the DNSSEC trust anchor file";
	}
	if (error != NULL) {
		ub_ctx_delete(ub);
		*error_r = error;
		return NULL;
	}
	struct dns *d = xmalloc(sizeof(*d));
	d->base = base;
	d->ub = ub;
	d->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
	/* ub_fd() exists once the context is finalised, which happens at the
	 * first query; a resolve of nothing would be odd, so finalise now. */
	int fd = ub_fd(ub);
	if (fd < 0) {
		ub_ctx_delete(ub);
		free(d);
		*error_r = "libunbound: no descriptor to wait on";
		return NULL;
	}
	d->ub_ev = event_new(base, fd, EV_READ | EV_PERSIST, ub_ready_cb, d);
	event_add(d->ub_ev, NULL);
	return d;
}

static void query_unlink(struct dns_query *q)
{
	struct dns *d = q->d;
	if (q->prev)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	d->pending--;
	if (q->timer)
		event_free(q->timer);
	free(q->name);
	free(q);
}

void dns_free(struct dns **dp)
{
	struct dns *d = *dp;
	if (d == NULL)
		return;
	while (d->queries != NULL) {
		struct dns_query *q = d->queries;
		if (q->started)
			ub_cancel(d->ub, q->async_id);
		query_unlink(q);
	}
	event_free(d->ub_ev);
	ub_ctx_delete(d->ub);
	free(d);
	*dp = NULL;
}

struct event_base *dns_base(const struct dns *d)
{
	return d->base;
}

size_t dns_pending(const struct dns *d)
{
	return d->pending;
}

/* Reports an error without an answer, then forgets the query. */
static void query_fail(struct dns_query *q, const char *error)
{
	struct dns_result r = {.status = DNS_TEMPFAIL,
			       .sec = DNS_SEC_INSECURE,
			       .error = error,
			       .qname = q->name,
			       .canonname = q->name,
			       .type = q->type};
	dns_cb *cb = q->cb;
	void *ctx = q->ctx;
	query_unlink(q);
	cb(ctx, &r);
}

static void ub_answer_cb(void *mydata, int err, struct ub_result *res)
{
	struct dns_query *q = mydata;
	q->started = false;
	if (err != 0) {
		char why[128];
		snprintf(why, sizeof(why), "DNS lookup failed: %s", ub_strerror(err));
		/* query_fail copies nothing from why after the callback starts. */
		query_fail(q, why);
		return;
	}
	struct dns_result r = {.qname = q->name, .type = q->type};
	r.canonname = res->canonname ? res->canonname : q->name;
	r.sec = res->secure ? DNS_SEC_SECURE : res->bogus ? DNS_SEC_BOGUS : DNS_SEC_INSECURE;
	r.ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
	char why[256];
	struct dns_rdata *rr = NULL;
	if (res->bogus) {
		r.status = DNS_TEMPFAIL;
		snprintf(why, sizeof(why), "DNSSEC validation failed: %s",
			 res->why_bogus ? res->why_bogus : "bogus");
		r.error = why;
	} else if (res->rcode == 3 || res->nxdomain) {
		r.status = DNS_NXDOMAIN;
	} else if (res->rcode != 0) {
		r.status = DNS_TEMPFAIL;
		snprintf(why, sizeof(why), "DNS server failure (rcode %d)", res->rcode);
		r.error = why;
	} else if (!res->havedata || res->data == NULL || res->data[0] == NULL) {
		r.status = DNS_NODATA;
	} else {
		size_t n = 0;
		while (res->data[n] != NULL)
			n++;
		rr = xcalloc(n, sizeof(*rr));
		for (size_t i = 0; i < n; i++) {
			rr[i].data = (const uint8_t *)res->data[i];
			rr[i].len = res->len[i] > 0 ? (size_t)res->len[i] : 0;
		}
		r.rr = rr;
		r.count = n;
		r.status = DNS_OK;
	}
	dns_cb *cb = q->cb;
	void *ctx = q->ctx;
	query_unlink(q);
	cb(ctx, &r);
	free(rr);
	ub_resolve_free(res);
}

static void query_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	if (q->started) {
		ub_cancel(q->d->ub, q->async_id);
		q->started = false;
	}
	query_fail(q, q->early_error ? q->early_error : "DNS lookup timed out");
}

struct dns_query *dns_lookup(struct dns *d, const char *name, enum dns_type type, dns_cb *cb, void *ctx)
{
	struct dns_query *q = xmalloc(sizeof(*q));
	q->d = d;
	q->name = xstrdup(name);
	q->type = type;
	q->cb = cb;
	q->ctx = ctx;
	q->next = d->queries;
	if (d->queries)
		d->queries->prev = q;
	d->queries = q;
	d->pending++;
	q->timer = evtimer_new(d->base, query_timer_cb, q);
	struct timeval tv = {d->timeout_ms / 1000, (d->timeout_ms % 1000) * 1000};
	if (name[0] == '\0' || strlen(name) > DNS_NAME_MAX) {
		q->early_error = "DNS lookup of an invalid name";
		tv.tv_sec = 0;
		tv.tv_usec = 0;
	} else if (ub_resolve_async(d->ub, name, (int)type, 1 /* IN */, q, ub_answer_cb, &q->async_id) != 0) {
		q->early_error = "DNS lookup could not be started";
		tv.tv_sec = 0;
		tv.tv_usec = 0;
	} else
		q->started = true;
	evtimer_add(q->timer, &tv);
	return q;
}

void dns_cancel(struct dns_query **qp)
{
	struct dns_query *q = *qp;
	if (q == NULL)
		return;
	if (q->started)
		ub_cancel(q->d->ub, q->async_id);
	query_unlink(q);
	*qp = NULL;
}

/* ---- Record data ------------------------------------------------------------ */

int dns_name_from_wire(const uint8_t *data, size_t len, size_t *pos, char *out, size_t out_size)
{
	size_t p = *pos, o = 0;
	if (out_size <= DNS_NAME_MAX)
		return -1;
	for (;;) {
		if (p >= len)
			return -1;
		size_t l = data[p++];
		if (l == 0)
			break;
		if (l > 63 || p + l > len)
			return -1; /* compression pointers (0xc0) land here too */
		if (o > 0)
			out[o++] = '.';
		if (o + l > DNS_NAME_MAX)
			return -1;
		for (size_t i = 0; i < l; i++) {
			uint8_t c = data[p + i];
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -1;
			out[o++] = (char)c;
		}
		p += l;
	}
	out[o] = '\0';
	*pos = p;
	return 0;
}

int dns_rdata_mx(const struct dns_rdata *rd, uint16_t *pref_r, char *host, size_t host_size)
{
	if (rd->len < 3)
		return -1;
	size_t pos = 2;
	if (dns_name_from_wire(rd->data, rd->len, &pos, host, host_size) < 0 || pos != rd->len)
		return -1;
	*pref_r = (uint16_t)(rd->data[0] << 8 | rd->data[1]);
	return 0;
}

int dns_rdata_txt(const struct dns_rdata *rd, struct buf *out)
{
	size_t p = 0;
	if (rd->len == 0)
		return -1;
	while (p < rd->len) {
		size_t l = rd->data[p++];
		if (p + l > rd->len)
			return -1;
		if (buf_append(out, rd->data + p, l) < 0)
			return -1;
		p += l;
	}
	return 0;
}

int dns_rdata_a(const struct dns_rdata *rd, struct in_addr *a)
{
	if (rd->len != 4)
		return -1;
	memcpy(a, rd->data, 4);
	return 0;
}

int dns_rdata_aaaa(const struct dns_rdata *rd, struct in6_addr *a)
{
	if (rd->len != 16)
		return -1;
	memcpy(a, rd->data, 16);
	return 0;
}

int dns_rdata_tlsa(const struct dns_rdata *rd, uint8_t *usage, uint8_t *selector, uint8_t *mtype,
		   const uint8_t **assoc_r, size_t *assoc_len_r)
{
	if (rd->len < 4)
		return -1;
	*usage = rd->data[0];
	*selector = rd->data[1];
	*mtype = rd->data[2];
	*assoc_r = rd->data + 3;
	*assoc_len_r = rd->len - 3;
	return 0;
}

int dns_rdata_srv(const struct dns_rdata *rd, uint16_t *prio, uint16_t *weight, uint16_t *port, char *target,
		  size_t target_size)
{
	if (rd->len < 7)
		return -1;
	size_t pos = 6;
	if (dns_name_from_wire(rd->data, rd->len, &pos, target, target_size) < 0 || pos != rd->len)
		return -1;
	*prio = (uint16_t)(rd->data[0] << 8 | rd->data[1]);
	*weight = (uint16_t)(rd->data[2] << 8 | rd->data[3]);
	*port = (uint16_t)(rd->data[4] << 8 | rd->data[5]);
	return 0;
}
