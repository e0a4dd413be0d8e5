/* conn: the life of one client connection, shared by every protocol engine.
 *
 * core accepts the socket, enforces the connection limits (total and per
 * client address), wraps implicit-TLS listeners in TLS, gives the session an
 * id, and then drives the engine through struct conn_handler. The engine
 * only parses what arrives in conn_input() and writes replies with
 * conn_write()/conn_printf(); it never touches sockets, TLS or timers.
 *
 * Rules for engines
 * - Every callback may call conn_close(); the conn is freed later, from the
 *   event loop, never inside a callback (handler->free runs then).
 * - A command waiting for something slow (the store's group commit, a
 *   password check) calls conn_suspend(); input stays buffered (up to the
 *   read high-watermark, then the socket is no longer read) until
 *   conn_resume(), which calls handler->read again if input is waiting.
 * - conn_starttls(): write the "go ahead" reply first; conn sends it in
 *   clear, discards any input the client pipelined after the command
 *   (RFC 3207 5, CVE-2011-0411), and starts the handshake. The engine resets
 *   its own state to what RFC requires after STARTTLS. */
#ifndef POSTHORN_CORE_CONN_H
#define POSTHORN_CORE_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/config.h"

struct conn;
struct server;
struct evbuffer;

struct conn_handler {
	const char *name; /* "smtp", "imap"… for logs */
	/* Creates the engine's session and writes the greeting. NULL = refuse
	 * (the engine already wrote why); the conn is then closed. */
	void *(*open)(struct conn *c);
	/* Bytes are waiting in conn_input(c). Consume what can be handled now. */
	void (*read)(struct conn *c, void *session);
	/* The output buffer drained (for engines that stream big replies). Optional. */
	void (*drained)(struct conn *c, void *session);
	/* No input for the idle timeout: write the goodbye; conn closes after. */
	void (*timeout)(struct conn *c, void *session);
	/* The server is stopping: close now if idle (with the protocol's
	 * goodbye), otherwise finish the transaction in progress and close
	 * after its reply. Connections still open after shutdown_grace are
	 * closed by conn without further notice. */
	void (*shutdown)(struct conn *c, void *session);
	/* The connection ended (EOF, error, after conn_close): release the
	 * session. No I/O possible here. */
	void (*free)(struct conn *c, void *session);
	/* Sent when the connection is refused because of connection limits. */
	const char *busy_reply;
};

struct conn {
	uint64_t id;                     /* session id, first on every log line */
	struct server *server;
	enum listener_kind kind;
	const struct conn_handler *handler;
	void *session;                   /* the engine's state */
	char peer_ip[INET6_ADDRSTRLEN];  /* text form of the client address */
	uint16_t peer_port;
	struct sockaddr_storage peer;
	struct sockaddr_storage local;
	bool loopback;                   /* the client is 127.0.0.0/8 or ::1 */
	bool tls;                        /* TLS is established */
	char tls_info[160];              /* tls_describe() once established */
	/* Private to conn.c: */
	struct conn_private *priv;
};

struct evbuffer *conn_input(struct conn *c);
void conn_write(struct conn *c, const void *data, size_t len);
void conn_puts(struct conn *c, const char *s);
void conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes written but not yet sent (engines streaming big replies keep this
 * bounded and continue in handler->drained). */
size_t conn_output_pending(struct conn *c);
/* Flushes what was written, then closes. Safe inside any callback. */
void conn_close(struct conn *c);
bool conn_closing(struct conn *c);
void conn_suspend(struct conn *c);
void conn_resume(struct conn *c);
/* Idle timeout in seconds for this connection (0 = none). */
void conn_set_timeout(struct conn *c, unsigned seconds);
/* Starts TLS on a plain connection (see above). -1 if already TLS or no
 * certificate is loaded (the engine replies with an error then). */
int conn_starttls(struct conn *c);
/* Is TLS available on this server at all (a certificate is loaded)? */
bool conn_tls_available(struct conn *c);

/* For protocol layers that stack a filter on the connection (IMAP
 * COMPRESS=DEFLATE): the current bufferevent, and replacing it with a
 * filter bufferevent built on top of it (which must own the old one:
 * BEV_OPT_CLOSE_ON_FREE). conn then reads and writes through the filter. */
struct bufferevent *conn_bufferevent(struct conn *c);
void conn_replace_bufferevent(struct conn *c, struct bufferevent *filter);

/* ---- for core/daemon.c ---- */

/* Accepts fd (already accepted, non-blocking) from a listener of kind. */
void conn_accept(struct server *srv, int fd, const struct sockaddr *peer, socklen_t peer_len,
		 enum listener_kind kind, const struct conn_handler *handler);
/* Calls handler->shutdown on every connection. */
void conn_shutdown_all(struct server *srv);
/* Closes every connection at once (end of the shutdown grace). */
void conn_abort_all(struct server *srv);
size_t conn_count(struct server *srv);

#endif
