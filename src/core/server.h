/* server: what every engine of the worker process shares. One per worker,
 * created by core/daemon.c before the event loop starts. */
#ifndef POSTHORN_CORE_SERVER_H
#define POSTHORN_CORE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "core/config.h"

struct event_base;
struct store;
struct conn;
struct conn_private;

struct server {
	struct config *cfg;
	struct event_base *base;
	struct store *store;
	SSL_CTX *tls;              /* current context; NULL when no certificate */
	struct throttle *throttle;    /* login failures per address, all protocols */
	struct verify_pool *verify;   /* password hashing off the loop */
	struct auth_login_ctx *login; /* user lookup + verify + throttle, for every engine */
	struct sched *sched;          /* outbound delivery (smtp/sched.h) */
	struct dkim_signer *dkim;     /* DKIM keys of local domains (dkim/dkim.h) */
	bool shutting_down;
	/* Private to conn.c: the connection registry and per-address counts. */
	struct conn_private *conns;
	size_t conn_total;
	struct conn_ipcount **ipcount;
	size_t ipcount_buckets;
	uint64_t next_session;
};

#endif
