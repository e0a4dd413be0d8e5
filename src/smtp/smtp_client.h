/* smtp_client: one outbound SMTP connection to one address.
 *
 * The client connects, reads the greeting, says EHLO (HELO when EHLO is
 * refused), starts TLS when the server offers it and the settings allow,
 * and then reports `ready`. The owner sends one transaction at a time with
 * smtp_client_send(): MAIL, every RCPT and DATA pipelined when the server
 * announces PIPELINING (RFC 2920), one by one otherwise; the message is
 * dot-stuffed on the way out. `done` reports each recipient's outcome
 * (accepted, 4xx, 5xx, with the server's reply); the connection is then
 * ready for the next transaction (reuse) or smtp_client_quit(). A failed
 * transaction is cleaned up with RSET before `done`.
 *
 * `closed` is called exactly once, at the very end: after QUIT, or when the
 * connection failed or was lost (a transaction in progress then gets its
 * `done` first, every recipient without a final answer marked temporary).
 * smtp_client_free() may be called from any callback; the memory is
 * released once the callback returns.
 *
 * Timeouts are those of RFC 5321 4.5.3.2 (greeting 5 min, MAIL 5, RCPT 5,
 * DATA 2, each data block 3, the final dot 10); the connect timeout is a
 * setting. The client never decides policy: what to do with SIZE, 8BITMIME
 * and SMTPUTF8 (smtp_client_ehlo()) is the caller's business, before send. */
#ifndef POSTHORN_SMTP_SMTP_CLIENT_H
#define POSTHORN_SMTP_SMTP_CLIENT_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "smtp/smtp_reply.h"

struct event_base;
struct smtp_client;

enum smtp_client_tls {
	SMTP_CLIENT_TLS_NONE,	 /* never STARTTLS */
	SMTP_CLIENT_TLS_MAY,	 /* STARTTLS when offered (opportunistic) */
	SMTP_CLIENT_TLS_REQUIRE, /* no TLS, no mail (the certificate is not verified) */
};

struct smtp_client_settings {
	uint64_t id;	       /* session id, first on every log line */
	const char *helo;      /* our host name for EHLO */
	const char *peer_name; /* the host name connected to (SNI, logs) */
	SSL_CTX *tls_ctx;      /* a client context; NULL = no TLS */
	enum smtp_client_tls tls;
	unsigned connect_timeout; /* seconds */
	/* RFC 5321 4.5.3.2; 0 = the RFC's value. Tests may shorten them. */
	unsigned greeting_timeout, command_timeout, data_timeout, block_timeout, dot_timeout;
};

enum smtp_client_status {
	SMTP_CLIENT_OK,	  /* accepted (after the final reply to DATA) */
	SMTP_CLIENT_TEMP, /* 4xx, or no final answer: try later */
	SMTP_CLIENT_PERM, /* 5xx: bounce */
};

struct smtp_client_rcpt {
	const char *address;		/* in */
	enum smtp_client_status status; /* out */
	unsigned code;			/* out: the reply code, 0 when there was none */
	char enh[16];			/* out: enhanced code, derived from the code when absent */
	char reply[600];		/* out: "host said: CODE text (in reply to X)" or why */
};

struct smtp_client_txn {
	const char *mail_from; /* "" for <> */
	struct smtp_client_rcpt *rcpts;
	size_t rcpt_count; /* at least 1 */
	const char *data;  /* the message, CRLF line ends, not dot-stuffed */
	size_t len;
	bool body_8bitmime; /* add BODY=8BITMIME */
	bool smtputf8;	    /* add SMTPUTF8 */
	bool size;	    /* add SIZE=len */
};

struct smtp_client_end {
	bool clean;	 /* ended by our QUIT */
	bool was_ready;	 /* the connection got as far as `ready` */
	bool tls_failed; /* the TLS handshake failed (retry without TLS?) */
	unsigned code;	 /* the reply that ended it (greeting, EHLO, 421…), or 0 */
	char enh[16];
	char reason[600]; /* human text for logs and the queue */
};

struct smtp_client_cb {
	void (*ready)(void *ctx, struct smtp_client *cl);
	void (*done)(void *ctx, struct smtp_client *cl, struct smtp_client_txn *txn);
	void (*closed)(void *ctx, struct smtp_client *cl, const struct smtp_client_end *end);
};

/* Starts connecting to addr (with its port). Never calls back from here. */
struct smtp_client *smtp_client_new(struct event_base *base, const struct sockaddr *addr, socklen_t addr_len,
				    const struct smtp_client_settings *settings,
				    const struct smtp_client_cb *cb, void *ctx);
/* Only after `ready` or `done`, one at a time: txn and what it points to
 * must stay valid until `done`. */
void smtp_client_send(struct smtp_client *cl, struct smtp_client_txn *txn);
/* Sends QUIT (when ready) and closes; `closed` follows. */
void smtp_client_quit(struct smtp_client *cl);
/* Ends at once, without QUIT and without callbacks. */
void smtp_client_free(struct smtp_client **cl);

/* true between `ready`/`done` and the next send or quit: a transaction
 * may be sent now (false inside a `done` that precedes `closed`). */
bool smtp_client_ready(const struct smtp_client *cl);
/* What the server announced (valid after `ready`). */
const struct smtp_ehlo *smtp_client_ehlo(const struct smtp_client *cl);
/* "TLSv1.3 with cipher ..." once TLS is up, else "". */
const char *smtp_client_tls_info(const struct smtp_client *cl);
/* "mx.example.org[192.0.2.1]" */
const char *smtp_client_peer(const struct smtp_client *cl);

#endif
