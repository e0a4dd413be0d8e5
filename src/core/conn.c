/* conn: connection lifecycle for every engine (see conn.h).
 *
 * Each connection is a libevent bufferevent: a socket one, or an OpenSSL
 * one for implicit TLS, or an OpenSSL filter stacked on the socket one after
 * STARTTLS. All freeing and all re-entry into the engine after a resume go
 * through one deferred event per connection, so an engine callback never
 * sees its connection disappear under it. */
#include "core/conn.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/server.h"
#include "core/tls.h"
#include "util/log.h"
#include "util/mem.h"

/* Input buffered beyond this stops reading from the socket until the engine
 * consumes it: a client cannot make a slow or suspended session grow. */
#define CONN_READ_HIGH (256 * 1024)
/* libevent writes at most 16 KB per call by default; big replies (RETR,
 * FETCH) go out in fewer, larger writes. */
#define CONN_MAX_WRITE (256 * 1024)

struct conn_ipcount {
	struct conn_ipcount *next;
	char key[INET6_ADDRSTRLEN];
	size_t count;
};

struct conn_private {
	struct conn *c;
	struct conn_private *prev, *next; /* registry */
	struct bufferevent *bev;
	struct event *defer;
	time_t started;
	unsigned timeout;
	bool opened;      /* handler->open has run */
	bool closing;     /* conn_close: free once output is flushed */
	bool dead;        /* free at the next deferred run */
	bool suspended;
	bool peer_gone;   /* EOF or error while suspended */
	bool read_eof;    /* EOF with input the engine held back: finish it, then close */
	bool shutdown_sent;
	const char *reason;
	struct event *flush_timer; /* closing a TLS filter: waiting for the socket */
	unsigned flush_waits;
};

static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);

/* ---- per-address connection counts ----------------------------------- */

/* IPv4: the address; IPv6: its /64, since one client usually owns a /64. */
static void ip_key(const struct sockaddr_storage *ss, char *out, size_t out_size)
{
	if (ss->ss_family == AF_INET6) {
		struct in6_addr a = ((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a)) {
			inet_ntop(AF_INET, &a.s6_addr[12], out, (socklen_t)out_size);
			return;
		}
		memset(&a.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a, out, (socklen_t)out_size);
		return;
	}
	inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)out_size);
}

static struct conn_ipcount **ip_slot(struct server *srv, const char *key)
{
	if (srv->ipcount == NULL) {
		srv->ipcount_buckets = 1024;
		srv->ipcount = xcalloc(srv->ipcount_buckets, sizeof(*srv->ipcount));
	}
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	struct conn_ipcount **slot = &srv->ipcount[h % srv->ipcount_buckets];
	while (*slot != NULL && strcmp((*slot)->key, key) != 0)
		slot = &(*slot)->next;
	return slot;
}

static size_t ip_count(struct server *srv, const char *key)
{
	struct conn_ipcount **slot = ip_slot(srv, key);
	return *slot ? (*slot)->count : 0;
}

static void ip_add(struct server *srv, const char *key, int delta)
{
	struct conn_ipcount **slot = ip_slot(srv, key);
	if (*slot == NULL) {
		if (delta < 0)
			return;
		*slot = xmalloc(sizeof(**slot));
		snprintf((*slot)->key, sizeof((*slot)->key), "%s", key);
	}
	if (delta < 0 && (*slot)->count > 0)
		(*slot)->count--;
	else if (delta > 0)
		(*slot)->count++;
	if ((*slot)->count == 0) {
		struct conn_ipcount *dead = *slot;
		*slot = dead->next;
		free(dead);
	}
}

/* ---- lifecycle -------------------------------------------------------- */

static void conn_free_now(struct conn *c)
{
	struct conn_private *p = c->priv;
	struct server *srv = c->server;
	if (c->session != NULL && c->handler->free != NULL)
		c->handler->free(c, c->session);
	c->session = NULL;
	log_session(c->id, "%s disconnect reason=%s duration=%lds", c->handler->name,
		    p->reason ? p->reason : "closed", (long)(time(NULL) - p->started));
	if (p->prev)
		p->prev->next = p->next;
	else
		srv->conns = p->next;
	if (p->next)
		p->next->prev = p->prev;
	srv->conn_total--;
	char key[INET6_ADDRSTRLEN];
	ip_key(&c->peer, key, sizeof(key));
	ip_add(srv, key, -1);
	if (p->bev != NULL)
		bufferevent_free(p->bev);
	if (p->flush_timer != NULL)
		event_free(p->flush_timer);
	event_free(p->defer);
	free(p);
	free(c);
}

/* After an EOF that left input unread (read_eof): the client closed only
 * its sending side, and the engine, which holds input back while its
 * replies wait (handler->drained), goes on as they drain. Close (after the
 * last replies) once it can make no more progress: no input left, or none
 * of its replies waiting to go out that would let it go on. */
static void conn_check_eof(struct conn *c)
{
	struct conn_private *p = c->priv;
	if (!p->read_eof || p->dead || p->closing || p->suspended)
		return;
	if (evbuffer_get_length(conn_input(c)) == 0 || conn_output_pending(c) == 0)
		conn_close(c);
}

static void conn_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct conn_private *p = c->priv;
	if (p->dead) {
		conn_free_now(c);
		return;
	}
	if (!p->suspended && !p->closing && p->opened && evbuffer_get_length(conn_input(c)) > 0)
		c->handler->read(c, c->session);
	p = c->priv;
	conn_check_eof(c);
	if (p->peer_gone && !p->suspended)
		p->dead = true;
	if (p->dead)
		event_active(p->defer, 0, 0);
}

static void conn_kill(struct conn *c, const char *reason)
{
	struct conn_private *p = c->priv;
	if (p->dead)
		return;
	if (reason != NULL && p->reason == NULL)
		p->reason = reason;
	p->dead = true;
	bufferevent_disable(p->bev, EV_READ | EV_WRITE);
	event_active(p->defer, 0, 0);
}

static void conn_setup_bev(struct conn *c, struct bufferevent *bev)
{
	struct conn_private *p = c->priv;
	p->bev = bev;
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(bev, EV_READ, 0, CONN_READ_HIGH);
	bufferevent_set_max_single_write(bev, CONN_MAX_WRITE);
	/* A filter (TLS after STARTTLS, COMPRESS) passes its output down only
	 * while the bufferevent under it holds less than this; the rest waits
	 * in the filter, where conn_output_pending() and handler->drained see
	 * it. Without it a client that stops reading makes the lower buffer
	 * grow with every reply, unseen by the engine. */
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under != NULL)
		bufferevent_setwatermark(under, EV_WRITE, 0, CONN_MAX_WRITE);
	conn_set_timeout(c, p->timeout);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void conn_open_session(struct conn *c)
{
	struct conn_private *p = c->priv;
	p->opened = true;
	c->session = c->handler->open(c);
	if (c->session == NULL)
		conn_close(c);
}

void conn_accept(struct server *srv, int fd, const struct sockaddr *peer, socklen_t peer_len,
		 enum listener_kind kind, const struct conn_handler *handler)
{
	char key[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, peer, peer_len < sizeof(ss) ? peer_len : sizeof(ss));
	ip_key(&ss, key, sizeof(key));

	const char *refuse = NULL;
	if (srv->shutting_down)
		refuse = "shutting down";
	else if (srv->conn_total >= srv->cfg->max_connections)
		refuse = "max_connections reached";
	else if (ip_count(srv, key) >= srv->cfg->max_connections_per_ip)
		refuse = "max_connections_per_ip reached";
	else if (listener_kind_implicit_tls(kind) && srv->tls == NULL)
		refuse = "no TLS certificate loaded";
	if (refuse != NULL) {
		log_warnx("%s refused connection from %s: %s", handler->name, key, refuse);
		if (!listener_kind_implicit_tls(kind) && handler->busy_reply != NULL) {
			ssize_t w = send(fd, handler->busy_reply, strlen(handler->busy_reply), MSG_DONTWAIT | MSG_NOSIGNAL);
			(void)w;
		}
		close(fd);
		return;
	}

	struct conn *c = xmalloc(sizeof(*c));
	struct conn_private *p = xmalloc(sizeof(*p));
	c->priv = p;
	p->c = c;
	c->server = srv;
	c->kind = kind;
	c->handler = handler;
	c->id = srv->next_session++;
	c->peer = ss;
	p->started = time(NULL);
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], c->peer_ip, sizeof(c->peer_ip));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, c->peer_ip, sizeof(c->peer_ip));
		c->peer_port = ntohs(s6->sin6_port);
		c->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
			      (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, c->peer_ip, sizeof(c->peer_ip));
		c->peer_port = ntohs(s4->sin_port);
		c->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	socklen_t llen = sizeof(c->local);
	getsockname(fd, (struct sockaddr *)&c->local, &llen);
	/* Every protocol here is request/response: a reply must leave at once,
	 * whole, not wait for the client's delayed ACK (Nagle: 40 ms). */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	p->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = p;
	srv->conns = p;
	srv->conn_total++;
	ip_add(srv, key, 1);
	p->defer = event_new(srv->base, -1, 0, conn_defer_cb, c);

	switch (kind) {
	case LISTENER_SMTP:
	case LISTENER_SUBMISSION:
	case LISTENER_SUBMISSIONS:
		p->timeout = (unsigned)srv->cfg->smtp_timeout;
		break;
	case LISTENER_IMAP:
	case LISTENER_IMAPS:
		p->timeout = (unsigned)srv->cfg->imap_timeout;
		break;
	case LISTENER_POP3:
	case LISTENER_POP3S:
		p->timeout = (unsigned)srv->cfg->pop3_timeout;
		break;
	default:
		p->timeout = (unsigned)srv->cfg->http_timeout;
		break;
	}
	log_session(c->id, "%s connect address=%s port=%u listener=%s", handler->name, c->peer_ip, c->peer_port,
		    listener_kind_name(kind));

	struct bufferevent *bev;
	if (listener_kind_implicit_tls(kind)) {
		SSL *ssl = SSL_new(srv->tls);
		bev = ssl ? bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
							  BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
			  : NULL;
		if (bev == NULL) {
			if (ssl)
				SSL_free(ssl);
			close(fd);
			p->reason = "tls setup failed";
			p->dead = true;
			event_active(p->defer, 0, 0);
			return;
		}
		conn_setup_bev(c, bev);
		/* The engine starts once the handshake is done (conn_event_cb). */
		return;
	}
	bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	conn_setup_bev(c, bev);
	conn_open_session(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct conn_private *p = c->priv;
	if (p->suspended || p->closing || p->dead || !p->opened)
		return;
	c->handler->read(c, c->session);
}

/* A TLS filter hands its output to the socket bufferevent under it: the
 * last reply is only gone when that one is empty too. */
static bool output_flushed(struct conn_private *p)
{
	if (evbuffer_get_length(bufferevent_get_output(p->bev)) > 0)
		return false;
	struct bufferevent *under = bufferevent_get_underlying(p->bev);
	return under == NULL || evbuffer_get_length(bufferevent_get_output(under)) == 0;
}

static void flush_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct conn_private *p = c->priv;
	/* Up to 30 s for a client that stopped reading. */
	if (output_flushed(p) || ++p->flush_waits > 3000) {
		conn_kill(c, NULL);
		return;
	}
	struct timeval tv = {0, 10 * 1000};
	evtimer_add(p->flush_timer, &tv);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct conn_private *p = c->priv;
	if (p->dead)
		return;
	if (p->closing) {
		if (!output_flushed(p)) {
			if (p->flush_timer == NULL)
				p->flush_timer = evtimer_new(c->server->base, flush_timer_cb, c);
			flush_timer_cb(-1, 0, c);
			return;
		}
		conn_kill(c, NULL);
		return;
	}
	if (c->handler->drained != NULL && p->opened)
		c->handler->drained(c, c->session);
	conn_check_eof(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct conn_private *p = c->priv;
	if (p->dead)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (ssl != NULL) {
			c->tls = true;
			tls_describe(ssl, c->tls_info, sizeof(c->tls_info));
			log_session(c->id, "%s tls established %s", c->handler->name, c->tls_info);
		}
		if (!p->opened)
			conn_open_session(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (p->closing) { /* the client stopped reading our last words */
			conn_kill(c, "timeout");
			return;
		}
		log_session(c->id, "%s timeout after %us idle", c->handler->name, p->timeout);
		p->reason = "timeout";
		if (p->opened && !p->closing && c->handler->timeout != NULL)
			c->handler->timeout(c, c->session);
		if (!p->closing)
			conn_close(c);
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		const char *reason = (what & BEV_EVENT_EOF) ? "eof" : "error";
		if (what & BEV_EVENT_ERROR) {
			unsigned long e = bufferevent_get_openssl_error(bev);
			if (e != 0) {
				static char msg[200];
				char err[160];
				ERR_error_string_n(e, err, sizeof(err));
				snprintf(msg, sizeof(msg), "tls-error (%s)", err);
				reason = msg;
				if (!c->tls)
					log_session(c->id, "%s tls handshake failed: %s", c->handler->name, err);
			} else if (errno == ECONNRESET || errno == EPIPE)
				reason = "reset";
		}
		if (p->reason == NULL)
			p->reason = reason;
		if (p->suspended) {
			/* An engine waiting for the store keeps its session until it resumes. */
			p->peer_gone = true;
			bufferevent_disable(bev, EV_READ | EV_WRITE);
			return;
		}
		/* Let the engine see input that arrived together with the EOF
		 * (a pipelined QUIT) before the session goes. */
		if (!p->closing && p->opened && evbuffer_get_length(conn_input(c)) > 0)
			c->handler->read(c, c->session);
		if (c->priv->suspended) {
			c->priv->peer_gone = true;
			return;
		}
		if ((what & BEV_EVENT_EOF) && !p->closing && p->opened && c->handler->drained != NULL &&
		    evbuffer_get_length(conn_input(c)) > 0) {
			p->read_eof = true;
			conn_check_eof(c);
			return;
		}
		conn_kill(c, NULL);
	}
}

/* ---- engine API ------------------------------------------------------- */

struct evbuffer *conn_input(struct conn *c)
{
	return bufferevent_get_input(c->priv->bev);
}

void conn_write(struct conn *c, const void *data, size_t len)
{
	struct conn_private *p = c->priv;
	if (p->dead || p->peer_gone)
		return;
	bufferevent_write(p->bev, data, len);
}

void conn_puts(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
	struct conn_private *p = c->priv;
	if (p->dead || p->peer_gone)
		return;
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(p->bev), fmt, ap);
	va_end(ap);
}

size_t conn_output_pending(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->priv->bev));
}

void conn_close(struct conn *c)
{
	struct conn_private *p = c->priv;
	if (p->closing || p->dead)
		return;
	p->closing = true;
	bufferevent_disable(p->bev, EV_READ);
	if (p->peer_gone || output_flushed(p)) {
		conn_kill(c, NULL);
		return;
	}
	/* conn_write_cb frees once the output is flushed; the write timeout
	 * bounds how long a client that stopped reading can hold us. */
	struct timeval tv = {30, 0};
	bufferevent_set_timeouts(p->bev, NULL, &tv);
}

bool conn_closing(struct conn *c)
{
	return c->priv->closing || c->priv->dead;
}

void conn_suspend(struct conn *c)
{
	c->priv->suspended = true;
}

void conn_resume(struct conn *c)
{
	struct conn_private *p = c->priv;
	if (!p->suspended)
		return;
	p->suspended = false;
	event_active(p->defer, 0, 0);
}

void conn_set_timeout(struct conn *c, unsigned seconds)
{
	struct conn_private *p = c->priv;
	p->timeout = seconds;
	if (p->bev == NULL)
		return;
	struct timeval tv = {(time_t)seconds, 0};
	bufferevent_set_timeouts(p->bev, seconds ? &tv : NULL, seconds ? &tv : NULL);
}

bool conn_tls_available(struct conn *c)
{
	return c->server->tls != NULL;
}

int conn_starttls(struct conn *c)
{
	struct conn_private *p = c->priv;
	if (c->tls || c->server->tls == NULL || p->dead)
		return -1;
	/* Anything the client sent after STARTTLS is discarded: it was sent in
	 * clear and must not be taken as if it came over TLS. */
	struct evbuffer *in = bufferevent_get_input(p->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	SSL *ssl = SSL_new(c->server->tls);
	if (ssl == NULL)
		return -1;
	struct bufferevent *filter = bufferevent_openssl_filter_new(
		c->server->base, p->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (filter == NULL) {
		SSL_free(ssl);
		return -1;
	}
	conn_setup_bev(c, filter);
	return 0;
}

struct bufferevent *conn_bufferevent(struct conn *c)
{
	return c->priv->bev;
}

void conn_replace_bufferevent(struct conn *c, struct bufferevent *filter)
{
	conn_setup_bev(c, filter);
}

/* ---- daemon API ------------------------------------------------------- */

void conn_shutdown_all(struct server *srv)
{
	struct conn_private *p = srv->conns;
	while (p != NULL) {
		struct conn_private *next = p->next;
		struct conn *c = p->c;
		if (!p->dead && !p->shutdown_sent) {
			p->shutdown_sent = true;
			if (p->opened && !p->closing && c->handler->shutdown != NULL)
				c->handler->shutdown(c, c->session);
			else if (!p->opened)
				conn_kill(c, "shutdown");
		}
		p = next;
	}
}

void conn_abort_all(struct server *srv)
{
	for (struct conn_private *p = srv->conns; p != NULL; p = p->next) {
		if (p->suspended) {
			/* Waiting for the store: its completion will resume and free it. */
			p->peer_gone = true;
			continue;
		}
		conn_kill(p->c, "shutdown");
	}
}

size_t conn_count(struct server *srv)
{
	return srv->conn_total;
}
