/* dns: asynchronous DNS lookups for the event loop, on libunbound.
 *
 * One struct dns per worker. Lookups run on libunbound's own thread; their
 * answers come back through a descriptor watched by the event loop, and
 * each callback runs on the loop thread, never inside dns_lookup(). Every
 * answer carries its DNSSEC status (secure, insecure, bogus): DANE needs
 * it. Without a trust anchor, every answer is insecure.
 *
 * The resolver is the system's (/etc/resolv.conf, as forwarders) or a list
 * of forwarders "ADDR[:PORT]" ("[V6]:PORT" for IPv6), so that tests can
 * point it at a DNS server on loopback. libunbound follows CNAMEs itself;
 * the answer's canonname says where it ended.
 *
 * Record data is handed over in wire format (uncompressed, as libunbound
 * gives it) and read with the dns_rdata_* decoders, which check every
 * length: the bytes come from the network. */
#ifndef POSTHORN_DNS_DNS_H
#define POSTHORN_DNS_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct event_base;
struct dns;
struct dns_query;

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_TLSA = 52,
};

enum dns_status {
	DNS_OK,	      /* records found (count > 0) */
	DNS_NODATA,   /* the name exists, without records of this type */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_TEMPFAIL, /* SERVFAIL, REFUSED, timeout, bogus DNSSEC, local error: try later */
};

enum dns_sec {
	DNS_SEC_INSECURE, /* not validated (no trust anchor, or an unsigned zone) */
	DNS_SEC_SECURE,	  /* validated by DNSSEC */
	DNS_SEC_BOGUS,	  /* validation failed: status is DNS_TEMPFAIL */
};

struct dns_rdata {
	const uint8_t *data;
	size_t len;
};

struct dns_result {
	enum dns_status status;
	enum dns_sec sec;
	const char *error;     /* for DNS_TEMPFAIL: why (never NULL then), else NULL */
	const char *qname;     /* the name asked for */
	const char *canonname; /* where CNAMEs led (= qname when there were none) */
	enum dns_type type;
	const struct dns_rdata *rr; /* count records of type, wire-format rdata */
	size_t count;
	uint32_t ttl;
};

/* Called on the loop thread; the result and everything in it is valid
 * during the call only. The query is finished: do not cancel it. */
typedef void dns_cb(void *ctx, const struct dns_result *r);

struct dns_options {
	const char *resolver;	  /* NULL or "system": /etc/resolv.conf; else
				     forwarders "ADDR[:PORT]" separated by spaces or commas */
	const char *trust_anchor; /* NULL or "none": no DNSSEC validation; "auto": the
				     root key of Debian's dns-root-data when installed;
				     else the path of a trust-anchor file */
	unsigned timeout_ms;	  /* per lookup; 0 = 30 s */
};

/* Checks a resolver setting without creating anything (config check).
 * Returns 0 or -1 with a static message. */
int dns_check_resolver(const char *resolver, const char **error_r);

/* NULL with *error_r (static text) when libunbound refuses the settings. */
struct dns *dns_new(struct event_base *base, const struct dns_options *opts, const char **error_r);
/* Cancels every pending lookup (no callbacks) and frees; sets *d to NULL.
 * Never from inside a dns callback. */
void dns_free(struct dns **d);

/* Starts a lookup of (name, type). The callback always comes later, from
 * the loop, also for errors found at once (a malformed name). Returns the
 * query, valid until its callback runs or dns_cancel(). */
struct dns_query *dns_lookup(struct dns *d, const char *name, enum dns_type type, dns_cb *cb, void *ctx);
/* Stops a pending lookup: its callback is never called. Sets *q to NULL. */
void dns_cancel(struct dns_query **q);
/* The event loop the context reports to. */
struct event_base *dns_base(const struct dns *d);
/* Lookups in flight (for tests and shutdown). */
size_t dns_pending(const struct dns *d);

const char *dns_status_name(enum dns_status s);
const char *dns_sec_name(enum dns_sec s);

/* ---- Record data decoders (pure) ------------------------------------------ */

#define DNS_NAME_MAX 255 /* text form without the final dot */

/* Reads an uncompressed wire-format name at data[*pos], advancing *pos,
 * into out as text without the final dot ("" for the root), lower-cased.
 * Only letters, digits, '-' and '_' are accepted in labels (host names,
 * also _service labels); anything else, a compression pointer, or a name
 * running past len is -1. out_size must be > DNS_NAME_MAX. */
int dns_name_from_wire(const uint8_t *data, size_t len, size_t *pos, char *out, size_t out_size);
/* MX: preference and exchange host ("" for the root: a null MX). 0 or -1. */
int dns_rdata_mx(const struct dns_rdata *rd, uint16_t *pref_r, char *host, size_t host_size);
/* TXT: the character-strings concatenated (RFC 7208 3.3, RFC 6376 3.6.2.2)
 * and appended to out. 0, or -1 when malformed or out is full. */
int dns_rdata_txt(const struct dns_rdata *rd, struct buf *out);
/* A / AAAA: 0 or -1 (wrong length). */
int dns_rdata_a(const struct dns_rdata *rd, struct in_addr *a);
int dns_rdata_aaaa(const struct dns_rdata *rd, struct in6_addr *a);
/* TLSA (RFC 6698): usage, selector, matching type and the association
 * data (pointing into rd). 0 or -1. */
int dns_rdata_tlsa(const struct dns_rdata *rd, uint8_t *usage, uint8_t *selector, uint8_t *mtype,
		   const uint8_t **assoc_r, size_t *assoc_len_r);
/* SRV: priority, weight, port, target. 0 or -1. */
int dns_rdata_srv(const struct dns_rdata *rd, uint16_t *prio, uint16_t *weight, uint16_t *port, char *target,
		  size_t target_size);

#endif
