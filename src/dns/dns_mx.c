/* dns_mx: MX resolution for the SMTP client (see dns_mx.h). One request
 * runs one MX lookup, then two address lookups per exchange, all at once,
 * and assembles the answer when the last one is back. */
#include "dns/dns_mx.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "util/log.h"
#include "util/mem.h"

struct dns_mx_req;

struct addr_lookup {
	struct dns_mx_req *req;
	size_t host;
	bool v6;
	struct dns_query *q;
	enum dns_status status;
	enum dns_sec sec;
	struct sockaddr_storage addrs[DNS_MX_ADDRS_MAX];
	size_t count;
};

struct dns_mx_req {
	struct dns *d;
	char *domain;
	uint16_t port;
	unsigned flags;
	dns_mx_cb *cb;
	void *ctx;
	struct dns_query *mx_q;
	struct dns_mx_result res;
	struct dns_mx_host hosts[DNS_MX_HOSTS_MAX];
	struct addr_lookup *lookups; /* 2 per host */
	size_t outstanding;
	struct event *now_ev; /* reports literals and early results */
	char error[320];
};

const char *dns_mx_status_name(enum dns_mx_status s)
{
	switch (s) {
	case DNS_MX_OK:
		return "ok";
	case DNS_MX_NULL:
		return "null-mx";
	case DNS_MX_NXDOMAIN:
		return "nxdomain";
	case DNS_MX_NOHOST:
		return "no-host";
	case DNS_MX_TEMPFAIL:
		return "tempfail";
	}
	return "?";
}

static uint32_t default_rnd(void *ctx)
{
	static uint64_t state;
	if (state == 0) {
		if (getrandom(&state, sizeof(state), 0) != sizeof(state))
			state = (uint64_t)time(NULL) | 1;
		state |= 1;
	}
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (uint32_t)(state >> 32);
}

void dns_mx_order(struct dns_mx_host *hosts, size_t n, uint32_t (*rnd)(void *), void *rnd_ctx)
{
	/* Insertion sort by preference (n is small), stable. */
	for (size_t i = 1; i < n; i++) {
		struct dns_mx_host tmp = hosts[i];
		size_t j = i;
		while (j > 0 && hosts[j - 1].pref > tmp.pref) {
			hosts[j] = hosts[j - 1];
			j--;
		}
		hosts[j] = tmp;
	}
	/* Fisher-Yates within each run of equal preference. */
	for (size_t start = 0; start < n;) {
		size_t end = start + 1;
		while (end < n && hosts[end].pref == hosts[start].pref)
			end++;
		for (size_t i = end - 1; i > start; i--) {
			size_t j = start + rnd(rnd_ctx) % (i - start + 1);
			if (j != i) {
				struct dns_mx_host tmp = hosts[i];
				hosts[i] = hosts[j];
				hosts[j] = tmp;
			}
		}
		start = end;
	}
}

int dns_mx_literal(const char *s, uint16_t port, bool bare, struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN + 8];
	size_t n = strlen(s);
	memset(ss, 0, sizeof(*ss));
	const char *a = s;
	size_t an = n;
	bool v6only = false;
	if (n > 0 && s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return -1;
		a = s + 1;
		an = n - 2;
		if (an > 5 && strncasecmp(a, "IPv6:", 5) == 0) {
			a += 5;
			an -= 5;
			v6only = true;
		}
	} else if (!bare)
		return 0;
	if (an == 0 || an >= sizeof(text))
		return bare && s[0] != '[' ? 0 : -1;
	memcpy(text, a, an);
	text[an] = '\0';
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (!v6only && inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return 1;
	}
	/* RFC 5321 4.1.3: IPv6 literals carry the "IPv6:" tag; a bare IPv6
	 * address is accepted only in settings (bare). */
	if ((v6only || (bare && s[0] != '[')) && inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return 1;
	}
	return bare && s[0] != '[' ? 0 : -1;
}

static void req_free(struct dns_mx_req *r)
{
	if (r->mx_q)
		dns_cancel(&r->mx_q);
	size_t nl = r->res.host_count * 2;
	for (size_t i = 0; r->lookups && i < nl; i++)
		if (r->lookups[i].q)
			dns_cancel(&r->lookups[i].q);
	free(r->lookups);
	if (r->now_ev)
		event_free(r->now_ev);
	free(r->domain);
	free(r);
}

void dns_mx_cancel(struct dns_mx_req **rp)
{
	if (*rp != NULL)
		req_free(*rp);
	*rp = NULL;
}

static void finish(struct dns_mx_req *r)
{
	dns_mx_cb *cb = r->cb;
	void *ctx = r->ctx;
	r->res.hosts = r->hosts;
	if (r->res.status != DNS_MX_OK)
		r->res.host_count = 0;
	cb(ctx, &r->res);
	req_free(r);
}

static void now_cb(evutil_socket_t fd, short what, void *arg)
{
	finish(arg);
}

static void finish_later(struct dns_mx_req *r)
{
	r->now_ev = evtimer_new(dns_base(r->d), now_cb, r);
	struct timeval tv = {0, 0};
	evtimer_add(r->now_ev, &tv);
}

static enum dns_sec weaker(enum dns_sec a, enum dns_sec b)
{
	if (a == DNS_SEC_BOGUS || b == DNS_SEC_BOGUS)
		return DNS_SEC_BOGUS;
	if (a == DNS_SEC_INSECURE || b == DNS_SEC_INSECURE)
		return DNS_SEC_INSECURE;
	return DNS_SEC_SECURE;
}

/* Every address lookup is back: keep the hosts that have addresses. */
static void assemble(struct dns_mx_req *r)
{
	size_t kept = 0;
	bool temp = false;
	const char *why = NULL;
	for (size_t h = 0; h < r->res.host_count; h++) {
		struct addr_lookup *l6 = &r->lookups[2 * h], *l4 = &r->lookups[2 * h + 1];
		struct dns_mx_host host = r->hosts[h];
		host.addr_count = 0;
		host.sec = weaker(l6->sec, l4->sec);
		/* Alternate families, IPv6 first. */
		for (size_t i = 0; i < DNS_MX_ADDRS_MAX && host.addr_count < DNS_MX_ADDRS_MAX; i++) {
			if (i < l6->count && host.addr_count < DNS_MX_ADDRS_MAX)
				host.addrs[host.addr_count++] = l6->addrs[i];
			if (i < l4->count && host.addr_count < DNS_MX_ADDRS_MAX)
				host.addrs[host.addr_count++] = l4->addrs[i];
		}
		if (l6->status == DNS_TEMPFAIL || l4->status == DNS_TEMPFAIL)
			temp = true;
		if (host.addr_count == 0) {
			if (why == NULL) {
				snprintf(r->error, sizeof(r->error), "%s: no address for %s%s", r->domain,
					 host.name,
					 l4->status == DNS_TEMPFAIL || l6->status == DNS_TEMPFAIL
					     ? " (lookup failed)"
					     : "");
				why = r->error;
			}
			continue;
		}
		r->hosts[kept++] = host;
	}
	r->res.host_count = kept;
	if (kept == 0) {
		r->res.status = temp ? DNS_MX_TEMPFAIL : DNS_MX_NOHOST;
		r->res.error = why ? why : "no mail host";
	} else
		r->res.status = DNS_MX_OK;
	finish(r);
}

static void addr_cb(void *ctx, const struct dns_result *res)
{
	struct addr_lookup *l = ctx;
	struct dns_mx_req *r = l->req;
	l->q = NULL;
	l->status = res->status;
	l->sec = res->sec;
	for (size_t i = 0; res->status == DNS_OK && i < res->count && l->count < DNS_MX_ADDRS_MAX; i++) {
		struct sockaddr_storage *ss = &l->addrs[l->count];
		memset(ss, 0, sizeof(*ss));
		if (l->v6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
			if (dns_rdata_aaaa(&res->rr[i], &s6->sin6_addr) < 0)
				continue;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(r->port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
			if (dns_rdata_a(&res->rr[i], &s4->sin_addr) < 0)
				continue;
			s4->sin_family = AF_INET;
			s4->sin_port = htons(r->port);
		}
		l->count++;
	}
	if (--r->outstanding == 0)
		assemble(r);
}

static void start_addresses(struct dns_mx_req *r)
{
	size_t n = r->res.host_count;
	r->lookups = xcalloc(n * 2, sizeof(*r->lookups));
	r->outstanding = n * 2;
	for (size_t h = 0; h < n; h++) {
		for (int v = 0; v < 2; v++) {
			struct addr_lookup *l = &r->lookups[2 * h + (size_t)v];
			l->req = r;
			l->host = h;
			l->v6 = v == 0;
			l->status = DNS_TEMPFAIL;
		}
	}
	/* Callbacks never come synchronously, so starting all is safe. */
	for (size_t i = 0; i < n * 2; i++) {
		struct addr_lookup *l = &r->lookups[i];
		l->q =
		    dns_lookup(r->d, r->hosts[l->host].name, l->v6 ? DNS_TYPE_AAAA : DNS_TYPE_A, addr_cb, l);
	}
}

static void mx_cb(void *ctx, const struct dns_result *res)
{
	struct dns_mx_req *r = ctx;
	r->mx_q = NULL;
	r->res.sec = res->sec;
	switch (res->status) {
	case DNS_TEMPFAIL:
		snprintf(r->error, sizeof(r->error), "MX lookup of %s: %s", r->domain, res->error);
		r->res.status = DNS_MX_TEMPFAIL;
		r->res.error = r->error;
		finish(r);
		return;
	case DNS_NXDOMAIN:
		snprintf(r->error, sizeof(r->error), "%s: domain not found", r->domain);
		r->res.status = DNS_MX_NXDOMAIN;
		r->res.error = r->error;
		finish(r);
		return;
	case DNS_NODATA:
		r->res.implicit = true;
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", r->domain);
		r->res.host_count = 1;
		start_addresses(r);
		return;
	case DNS_OK:
		break;
	}
	size_t n = 0, nulls = 0, bad = 0;
	for (size_t i = 0; i < res->count; i++) {
		uint16_t pref;
		char host[DNS_NAME_MAX + 1];
		if (dns_rdata_mx(&res->rr[i], &pref, host, sizeof(host)) < 0) {
			bad++;
			continue;
		}
		if (host[0] == '\0') {
			nulls++;
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(r->hosts[j].name, host) == 0;
		if (dup)
			continue;
		size_t slot = n;
		if (n < DNS_MX_HOSTS_MAX) {
			n++;
		} else {
			/* Full: replace the least preferred, if this one is better. */
			slot = 0;
			for (size_t j = 1; j < n; j++)
				if (r->hosts[j].pref > r->hosts[slot].pref)
					slot = j;
			if (r->hosts[slot].pref <= pref)
				continue;
		}
		snprintf(r->hosts[slot].name, sizeof(r->hosts[slot].name), "%s", host);
		r->hosts[slot].pref = pref;
	}
	if (n == 0) {
		if (nulls > 0) {
			snprintf(r->error, sizeof(r->error), "%s does not accept mail (null MX, RFC 7505)",
				 r->domain);
			r->res.status = DNS_MX_NULL;
		} else {
			snprintf(r->error, sizeof(r->error), "MX lookup of %s: %zu malformed records",
				 r->domain, bad);
			r->res.status = DNS_MX_TEMPFAIL;
		}
		r->res.error = r->error;
		finish(r);
		return;
	}
	dns_mx_order(r->hosts, n, default_rnd, NULL);
	r->res.host_count = n;
	start_addresses(r);
}

struct dns_mx_req *dns_mx_resolve(struct dns *d, const char *domain, uint16_t port, unsigned flags,
				  dns_mx_cb *cb, void *ctx)
{
	struct dns_mx_req *r = xmalloc(sizeof(*r));
	r->d = d;
	r->domain = xstrdup(domain);
	r->port = port;
	r->flags = flags;
	r->cb = cb;
	r->ctx = ctx;
	struct sockaddr_storage ss;
	int lit = dns_mx_literal(domain, port, (flags & DNS_MX_HOST_ONLY) != 0, &ss);
	if (lit != 0) {
		if (lit < 0) {
			snprintf(r->error, sizeof(r->error), "%s: malformed address literal", domain);
			r->res.status = DNS_MX_NOHOST;
			r->res.error = r->error;
		} else {
			snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", domain);
			r->hosts[0].addrs[0] = ss;
			r->hosts[0].addr_count = 1;
			r->res.host_count = 1;
			r->res.status = DNS_MX_OK;
		}
		finish_later(r);
		return r;
	}
	if (flags & DNS_MX_HOST_ONLY) {
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", domain);
		r->res.host_count = 1;
		r->res.implicit = true;
		start_addresses(r);
		return r;
	}
	r->mx_q = dns_lookup(d, domain, DNS_TYPE_MX, mx_cb, r);
	return r;
}
