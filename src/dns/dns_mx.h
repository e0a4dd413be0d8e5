/* dns_mx: where mail for a domain goes (RFC 5321 5.1, RFC 7505).
 *
 * dns_mx_resolve() looks up the MX records of a domain and the addresses
 * (AAAA and A, in parallel) of every exchange, and reports once, with the
 * hosts in the order to try them: by preference, equal preferences in
 * random order, each host's addresses IPv6 first then IPv4, alternating.
 *   - no MX records (NODATA): the domain itself is the one host (implicit MX);
 *   - a null MX ("0 ."), alone: DNS_MX_NULL, the domain takes no mail
 *     (bounce with 556 5.1.10); a null MX next to real ones is ignored;
 *   - NXDOMAIN: DNS_MX_NXDOMAIN (bounce);
 *   - SERVFAIL, timeouts, bogus DNSSEC: DNS_MX_TEMPFAIL (try later);
 *   - hosts without addresses are left out; if none is left, the result
 *     is DNS_MX_TEMPFAIL when a lookup failed temporarily, else DNS_MX_NOHOST.
 * An address literal "[192.0.2.1]" or "[IPv6:2001:db8::1]" is one host
 * without any lookup, and so is an IP address given with DNS_MX_HOST_ONLY
 * (the relay host setting). */
#ifndef POSTHORN_DNS_DNS_MX_H
#define POSTHORN_DNS_DNS_MX_H

#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"

#define DNS_MX_HOSTS_MAX 16 /* exchanges considered (by preference) */
#define DNS_MX_ADDRS_MAX 16 /* addresses per exchange */

struct dns_mx_host {
	char name[DNS_NAME_MAX + 1];
	uint16_t pref;
	enum dns_sec sec; /* of its address answers (the weakest of A and AAAA) */
	struct sockaddr_storage addrs[DNS_MX_ADDRS_MAX];
	size_t addr_count;
};

enum dns_mx_status {
	DNS_MX_OK,
	DNS_MX_NULL,	 /* RFC 7505 null MX: permanent */
	DNS_MX_NXDOMAIN, /* the domain does not exist: permanent */
	DNS_MX_NOHOST,	 /* no exchange has an address: permanent */
	DNS_MX_TEMPFAIL,
};

struct dns_mx_result {
	enum dns_mx_status status;
	enum dns_sec sec;  /* of the MX answer */
	bool implicit;	   /* no MX: the domain itself */
	const char *error; /* human text for everything but DNS_MX_OK */
	struct dns_mx_host *hosts;
	size_t host_count;
};

/* Called once, on the loop; the result is valid during the call only. */
typedef void dns_mx_cb(void *ctx, const struct dns_mx_result *r);

enum dns_mx_flags {
	DNS_MX_HOST_ONLY = 1 << 0, /* no MX lookup: `domain` is a host name or an IP address */
};

struct dns_mx_req;
/* port goes into every address. Returns the request, valid until its
 * callback runs or dns_mx_cancel(). */
struct dns_mx_req *dns_mx_resolve(struct dns *d, const char *domain, uint16_t port, unsigned flags,
				  dns_mx_cb *cb, void *ctx);
void dns_mx_cancel(struct dns_mx_req **r);

const char *dns_mx_status_name(enum dns_mx_status s);

/* Pure pieces, for tests. */
/* Sorts hosts by preference; hosts of equal preference are shuffled with
 * rnd (a source of random numbers). */
void dns_mx_order(struct dns_mx_host *hosts, size_t n, uint32_t (*rnd)(void *), void *rnd_ctx);
/* "[192.0.2.1]", "[IPv6:2001:db8::1]" (with brackets) or, with bare, a
 * plain IP address: fills *ss with port and returns 1; 0 when s is not an
 * address literal; -1 when it is bracketed but malformed. */
int dns_mx_literal(const char *s, uint16_t port, bool bare, struct sockaddr_storage *ss);

#endif
