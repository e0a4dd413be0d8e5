/* smtp_client: the client side of one SMTP connection (see smtp_client.h).
 *
 * A state machine in the manner of OpenSMTPD's mta_session: cl_enter()
 * changes and logs the state and arms the state's timeout; on_reply()
 * handles each complete server reply according to the state. Within a
 * transaction the commands are numbered (0 = MAIL, 1..n = RCPT, n+1 =
 * DATA); with PIPELINING they are written at once and the replies taken in
 * order, without it each is written after the previous reply.
 *
 * Lifetime: every entry from libevent holds cl->busy; smtp_client_free()
 * inside a callback only marks the client, and the last exit frees it. */
#include "smtp/smtp_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/mem.h"

enum cl_state {
	CL_CONNECTING,
	CL_GREETING,
	CL_EHLO,
	CL_HELO,
	CL_STARTTLS,
	CL_HANDSHAKE,
	CL_READY,
	CL_TXN,	      /* waiting for replies to MAIL, RCPT, DATA */
	CL_DATA_BODY, /* the message is sent, waiting for the final reply */
	CL_RSET,
	CL_QUIT,
	CL_DEAD,
};

static const char *const state_names[] = {"connecting", "greeting", "ehlo", "helo", "starttls", "handshake",
					  "ready",	"txn",	    "data", "rset", "quit",	"dead"};

/* What the conversation was doing, for "lost connection ... while X". */
static const char *const state_doing[] = {"connecting",
					  "receiving the initial greeting",
					  "performing the EHLO handshake",
					  "performing the HELO handshake",
					  "sending STARTTLS",
					  "setting up TLS",
					  "idle",
					  "sending the envelope",
					  "sending the message",
					  "sending RSET",
					  "sending QUIT",
					  "closed"};

#define PEER_MAX (255 + INET6_ADDRSTRLEN + 3)

#define RFC_GREETING 300
#define RFC_COMMAND 300
#define RFC_DATA 120
#define RFC_BLOCK 180
#define RFC_DOT 600

struct smtp_client {
	struct event_base *base;
	struct smtp_client_settings set;
	char *helo;
	char *peer_name;
	struct smtp_client_cb cb;
	void *ctx;
	struct bufferevent *bev;
	enum cl_state state;
	struct smtp_reply_parser parser;
	struct smtp_ehlo ehlo;
	bool tls;
	char tls_info[160];
	char peer[PEER_MAX];
	struct event *later; /* deferred failure (connect error at once) */
	char later_reason[256];
	/* The transaction. */
	struct smtp_client_txn *txn;
	size_t cmds_total, cmds_sent, replies;
	bool *accepted; /* per recipient: 250 to RCPT, waiting for DATA */
	size_t accepted_count;
	bool mail_failed;
	bool dummy_data; /* 354 without accepted recipients: "." only */
	unsigned mail_code;
	char mail_enh[16];
	char mail_reply[600];
	/* Lifetime. */
	unsigned busy;
	bool freed;
	bool ended; /* closed was reported (or must not be) */
};

static void cl_fail(struct smtp_client *cl, const struct smtp_reply *r, bool tls_failed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats human text that may be cut: reasons and replies are capped on
 * purpose (the server's text can be long). */
static void textf(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void textf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(out, size, fmt, ap) < 0 && size > 0)
		out[0] = '\0';
	va_end(ap);
}

static void really_free(struct smtp_client *cl)
{
	if (cl->bev)
		bufferevent_free(cl->bev);
	if (cl->later)
		event_free(cl->later);
	free(cl->accepted);
	free(cl->helo);
	free(cl->peer_name);
	free(cl);
}

static void cl_enter(struct smtp_client *cl)
{
	cl->busy++;
}

/* Returns true when the client is gone: the caller must not touch it. */
static bool cl_leave(struct smtp_client *cl)
{
	if (--cl->busy == 0 && cl->freed) {
		really_free(cl);
		return true;
	}
	return false;
}

void smtp_client_free(struct smtp_client **clp)
{
	struct smtp_client *cl = *clp;
	*clp = NULL;
	if (cl == NULL)
		return;
	cl->ended = true;
	if (cl->busy > 0) {
		cl->freed = true;
		if (cl->bev)
			bufferevent_disable(cl->bev, EV_READ | EV_WRITE);
		return;
	}
	really_free(cl);
}

bool smtp_client_ready(const struct smtp_client *cl)
{
	return cl->state == CL_READY && !cl->ended && !cl->freed && cl->txn == NULL;
}

const struct smtp_ehlo *smtp_client_ehlo(const struct smtp_client *cl)
{
	return &cl->ehlo;
}

const char *smtp_client_tls_info(const struct smtp_client *cl)
{
	return cl->tls ? cl->tls_info : "";
}

const char *smtp_client_peer(const struct smtp_client *cl)
{
	return cl->peer;
}

static void set_timeout(struct smtp_client *cl, unsigned read_s, unsigned write_s)
{
	struct timeval r = {read_s, 0}, w = {write_s, 0};
	bufferevent_set_timeouts(cl->bev, read_s ? &r : NULL, write_s ? &w : NULL);
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static void set_state(struct smtp_client *cl, enum cl_state st)
{
	if (cl->state != st)
		log_session_debug(cl->set.id, "smtp-out state %s -> %s", state_names[cl->state],
				  state_names[st]);
	cl->state = st;
	if (cl->bev == NULL)
		return;
	switch (st) {
	case CL_GREETING:
		set_timeout(cl, or_default(cl->set.greeting_timeout, RFC_GREETING), 0);
		break;
	case CL_TXN:
	case CL_EHLO:
	case CL_HELO:
	case CL_STARTTLS:
	case CL_RSET:
	case CL_QUIT:
	case CL_READY:
		set_timeout(cl, or_default(cl->set.command_timeout, RFC_COMMAND),
			    or_default(cl->set.command_timeout, RFC_COMMAND));
		break;
	case CL_HANDSHAKE:
		set_timeout(cl, or_default(cl->set.greeting_timeout, RFC_GREETING),
			    or_default(cl->set.greeting_timeout, RFC_GREETING));
		break;
	case CL_DATA_BODY:
		set_timeout(cl, or_default(cl->set.dot_timeout, RFC_DOT),
			    or_default(cl->set.block_timeout, RFC_BLOCK));
		break;
	case CL_CONNECTING:
	case CL_DEAD:
		break;
	}
}

static void cl_printf(struct smtp_client *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cl_printf(struct smtp_client *cl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(cl->bev), fmt, ap);
	va_end(ap);
}

/* "5.0.0" from the class when the server gave no enhanced code. */
static void enh_of(const struct smtp_reply *r, char enh[16])
{
	if (r->enh[0])
		textf(enh, 16, "%s", r->enh);
	else
		textf(enh, 16, "%u.0.0", smtp_reply_class(r) == 2 ? 2 : smtp_reply_class(r) == 5 ? 5 : 4);
}

static void describe(struct smtp_client *cl, const struct smtp_reply *r, const char *what, char *out,
		     size_t size)
{
	char text[520];
	smtp_reply_format(r, text, sizeof(text));
	textf(out, size, "%s said: %s (in reply to %s)", cl->peer, text, what);
}

/* ---- Ending ---------------------------------------------------------------- */

/* Reports the end of the transaction in progress (if any): recipients
 * without a final answer get `reason` as a temporary failure. */
static void txn_abort(struct smtp_client *cl, const char *reason)
{
	struct smtp_client_txn *t = cl->txn;
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->rcpt_count; i++) {
		struct smtp_client_rcpt *rc = &t->rcpts[i];
		if (rc->code != 0 && !cl->accepted[i])
			continue; /* a final 4xx/5xx from RCPT */
		rc->status = SMTP_CLIENT_TEMP;
		rc->code = 0;
		textf(rc->enh, sizeof(rc->enh), "4.4.2");
		textf(rc->reply, sizeof(rc->reply), "%s", reason);
	}
	cl->txn = NULL;
	cl->cb.done(cl->ctx, cl, t);
}

static void cl_end(struct smtp_client *cl, struct smtp_client_end *end)
{
	if (cl->ended)
		return;
	set_state(cl, CL_DEAD);
	if (cl->txn != NULL) {
		txn_abort(cl, end->reason);
		if (cl->freed)
			return;
	}
	cl->ended = true;
	if (cl->bev)
		bufferevent_disable(cl->bev, EV_READ | EV_WRITE);
	cl->cb.closed(cl->ctx, cl, end);
}

static bool reached_ready(const struct smtp_client *cl)
{
	return cl->state >= CL_READY;
}

static void cl_fail(struct smtp_client *cl, const struct smtp_reply *r, bool tls_failed, const char *fmt, ...)
{
	struct smtp_client_end end = {.was_ready = reached_ready(cl), .tls_failed = tls_failed};
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(end.reason, sizeof(end.reason), fmt, ap) < 0)
		end.reason[0] = '\0';
	va_end(ap);
	if (r != NULL) {
		end.code = r->code;
		enh_of(r, end.enh);
	}
	log_session(cl->set.id, "smtp-out failed peer=%s reason=\"%s\"", cl->peer, end.reason);
	cl_end(cl, &end);
}

/* ---- Transactions ---------------------------------------------------------- */

static void write_command(struct smtp_client *cl, size_t idx)
{
	struct smtp_client_txn *t = cl->txn;
	if (idx == 0) {
		cl_printf(cl, "MAIL FROM:<%s>", t->mail_from);
		if (t->size)
			cl_printf(cl, " SIZE=%zu", t->len);
		if (t->body_8bitmime)
			cl_printf(cl, " BODY=8BITMIME");
		if (t->smtputf8)
			cl_printf(cl, " SMTPUTF8");
		cl_printf(cl, "\r\n");
	} else if (idx <= t->rcpt_count) {
		cl_printf(cl, "RCPT TO:<%s>\r\n", t->rcpts[idx - 1].address);
	} else {
		cl_printf(cl, "DATA\r\n");
	}
}

/* Writes what may be written now: everything with PIPELINING, else the
 * next command once the previous one is answered. */
static void txn_push(struct smtp_client *cl)
{
	if (cl->ehlo.pipelining) {
		while (cl->cmds_sent < cl->cmds_total)
			write_command(cl, cl->cmds_sent++);
	} else if (cl->cmds_sent == cl->replies && cl->cmds_sent < cl->cmds_total) {
		write_command(cl, cl->cmds_sent++);
	}
}

/* Appends the message dot-stuffed (RFC 5321 4.5.2), then the end marker. */
static void write_body(struct smtp_client *cl)
{
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	const char *p = cl->txn->data, *end = p + cl->txn->len;
	if (!cl->dummy_data) {
		while (p < end) {
			const char *lf = memchr(p, '\n', (size_t)(end - p));
			const char *le = lf ? lf + 1 : end;
			if (*p == '.')
				evbuffer_add(out, ".", 1);
			evbuffer_add(out, p, (size_t)(le - p));
			p = le;
		}
		if (cl->txn->len > 0 && cl->txn->data[cl->txn->len - 1] != '\n')
			evbuffer_add(out, "\r\n", 2);
	}
	evbuffer_add(out, ".\r\n", 3);
}

static void txn_finish(struct smtp_client *cl)
{
	struct smtp_client_txn *t = cl->txn;
	cl->txn = NULL;
	set_state(cl, CL_READY);
	cl->cb.done(cl->ctx, cl, t);
}

static void rset(struct smtp_client *cl)
{
	set_state(cl, CL_RSET);
	cl_printf(cl, "RSET\r\n");
}

static void set_rcpt(struct smtp_client *cl, size_t i, const struct smtp_reply *r, const char *what)
{
	struct smtp_client_rcpt *rc = &cl->txn->rcpts[i];
	rc->code = r->code;
	enh_of(r, rc->enh);
	rc->status = smtp_reply_class(r) == 2	? SMTP_CLIENT_OK
		     : smtp_reply_class(r) == 5 ? SMTP_CLIENT_PERM
						: SMTP_CLIENT_TEMP;
	describe(cl, r, what, rc->reply, sizeof(rc->reply));
}

static void on_txn_reply(struct smtp_client *cl, const struct smtp_reply *r)
{
	struct smtp_client_txn *t = cl->txn;
	size_t idx = cl->replies++;
	if (idx == 0) {
		if (smtp_reply_class(r) != 2) {
			cl->mail_failed = true;
			cl->mail_code = r->code;
			enh_of(r, cl->mail_enh);
			describe(cl, r, "MAIL FROM", cl->mail_reply, sizeof(cl->mail_reply));
			for (size_t i = 0; i < t->rcpt_count; i++)
				set_rcpt(cl, i, r, "MAIL FROM");
		}
	} else if (idx <= t->rcpt_count) {
		size_t i = idx - 1;
		if (!cl->mail_failed) {
			set_rcpt(cl, i, r, "RCPT TO");
			if (smtp_reply_class(r) == 2) {
				cl->accepted[i] = true;
				cl->accepted_count++;
				t->rcpts[i].status = SMTP_CLIENT_TEMP; /* not final before DATA */
			}
		}
	} else {
		/* The reply to DATA. */
		if (r->code == 354) {
			cl->dummy_data = cl->mail_failed || cl->accepted_count == 0;
			set_state(cl, CL_DATA_BODY);
			write_body(cl);
			return;
		}
		for (size_t i = 0; i < t->rcpt_count; i++) {
			if (cl->accepted[i]) {
				set_rcpt(cl, i, r, "DATA");
				if (t->rcpts[i].status == SMTP_CLIENT_OK)
					t->rcpts[i].status = SMTP_CLIENT_TEMP; /* a 2xx to DATA is nonsense */
				cl->accepted[i] = false;
			}
		}
		rset(cl);
		return;
	}
	/* Without PIPELINING, stop early when nothing can succeed. */
	if (!cl->ehlo.pipelining) {
		bool nobody =
		    cl->mail_failed || (cl->replies == t->rcpt_count + 1 && cl->accepted_count == 0);
		if (nobody) {
			rset(cl);
			return;
		}
	}
	txn_push(cl);
}

static void on_data_reply(struct smtp_client *cl, const struct smtp_reply *r)
{
	struct smtp_client_txn *t = cl->txn;
	if (cl->dummy_data) {
		rset(cl);
		return;
	}
	for (size_t i = 0; i < t->rcpt_count; i++) {
		if (!cl->accepted[i])
			continue;
		set_rcpt(cl, i, r, "end of DATA");
		cl->accepted[i] = false;
	}
	if (smtp_reply_class(r) == 2)
		log_session(cl->set.id, "smtp-out sent peer=%s bytes=%zu rcpts=%zu reply=\"%u %s\"", cl->peer,
			    t->len, cl->accepted_count, r->code, r->enh);
	txn_finish(cl);
}

void smtp_client_send(struct smtp_client *cl, struct smtp_client_txn *txn)
{
	if (cl->state != CL_READY || cl->txn != NULL || txn->rcpt_count == 0)
		fatalx("smtp_client_send: not ready (state %s)", state_names[cl->state]);
	cl->txn = txn;
	free(cl->accepted);
	cl->accepted = xcalloc(txn->rcpt_count, sizeof(bool));
	cl->accepted_count = 0;
	cl->mail_failed = false;
	cl->dummy_data = false;
	cl->cmds_total = txn->rcpt_count + 2;
	cl->cmds_sent = cl->replies = 0;
	for (size_t i = 0; i < txn->rcpt_count; i++) {
		txn->rcpts[i].status = SMTP_CLIENT_TEMP;
		txn->rcpts[i].code = 0;
		txn->rcpts[i].enh[0] = '\0';
		txn->rcpts[i].reply[0] = '\0';
	}
	set_state(cl, CL_TXN);
	txn_push(cl);
}

void smtp_client_quit(struct smtp_client *cl)
{
	if (cl->ended)
		return;
	if (cl->state == CL_READY) {
		set_state(cl, CL_QUIT);
		cl_printf(cl, "QUIT\r\n");
		return;
	}
	struct smtp_client_end end = {.clean = true, .was_ready = reached_ready(cl)};
	textf(end.reason, sizeof(end.reason), "closed by us");
	cl_end(cl, &end);
}

/* ---- Session setup ---------------------------------------------------------- */

static void start_tls(struct smtp_client *cl);

static void send_ehlo(struct smtp_client *cl)
{
	set_state(cl, CL_EHLO);
	cl_printf(cl, "EHLO %s\r\n", cl->helo);
}

static void after_ehlo(struct smtp_client *cl)
{
	bool want = cl->set.tls != SMTP_CLIENT_TLS_NONE && cl->set.tls_ctx != NULL && !cl->tls;
	if (want && cl->ehlo.starttls) {
		set_state(cl, CL_STARTTLS);
		cl_printf(cl, "STARTTLS\r\n");
		return;
	}
	if (cl->set.tls == SMTP_CLIENT_TLS_REQUIRE && !cl->tls) {
		cl_fail(cl, NULL, false,
			"%s: TLS is required for this destination but the server does not offer STARTTLS",
			cl->peer);
		return;
	}
	set_state(cl, CL_READY);
	log_session(cl->set.id, "smtp-out ready peer=%s%s%s pipelining=%s 8bitmime=%s smtputf8=%s", cl->peer,
		    cl->tls ? " tls=" : "", cl->tls ? "yes" : "", cl->ehlo.pipelining ? "yes" : "no",
		    cl->ehlo.eightbitmime ? "yes" : "no", cl->ehlo.smtputf8 ? "yes" : "no");
	cl->cb.ready(cl->ctx, cl);
}

static void on_reply(struct smtp_client *cl, const struct smtp_reply *r)
{
	/* 421 means the server is closing, whatever we were doing. */
	if (r->code == 421 && cl->state != CL_QUIT) {
		char why[600];
		describe(cl, r, state_doing[cl->state], why, sizeof(why));
		cl_fail(cl, r, false, "%s", why);
		return;
	}
	switch (cl->state) {
	case CL_GREETING:
		if (smtp_reply_class(r) != 2) {
			char why[600];
			describe(cl, r, "the initial greeting", why, sizeof(why));
			cl_fail(cl, r, false, "%s", why);
			return;
		}
		send_ehlo(cl);
		return;
	case CL_EHLO:
		if (smtp_reply_class(r) == 2) {
			smtp_ehlo_parse(r, &cl->ehlo);
			after_ehlo(cl);
			return;
		}
		if (cl->tls || smtp_reply_class(r) == 4) {
			char why[600];
			describe(cl, r, "EHLO", why, sizeof(why));
			cl_fail(cl, r, false, "%s", why);
			return;
		}
		/* An old server: HELO, without extensions. */
		set_state(cl, CL_HELO);
		cl_printf(cl, "HELO %s\r\n", cl->helo);
		return;
	case CL_HELO:
		if (smtp_reply_class(r) != 2) {
			char why[600];
			describe(cl, r, "HELO", why, sizeof(why));
			cl_fail(cl, r, false, "%s", why);
			return;
		}
		memset(&cl->ehlo, 0, sizeof(cl->ehlo));
		after_ehlo(cl);
		return;
	case CL_STARTTLS:
		if (r->code == 220) {
			start_tls(cl);
			return;
		}
		if (cl->set.tls == SMTP_CLIENT_TLS_REQUIRE) {
			char why[600];
			describe(cl, r, "STARTTLS", why, sizeof(why));
			cl_fail(cl, r, false, "%s", why);
			return;
		}
		set_state(cl, CL_READY);
		cl->cb.ready(cl->ctx, cl);
		return;
	case CL_TXN:
		on_txn_reply(cl, r);
		return;
	case CL_DATA_BODY:
		on_data_reply(cl, r);
		return;
	case CL_RSET:
		if (smtp_reply_class(r) != 2) {
			char why[600];
			describe(cl, r, "RSET", why, sizeof(why));
			cl_fail(cl, r, false, "%s", why);
			return;
		}
		txn_finish(cl);
		return;
	case CL_QUIT: {
		struct smtp_client_end end = {.clean = true, .was_ready = true};
		textf(end.reason, sizeof(end.reason), "QUIT");
		cl_end(cl, &end);
		return;
	}
	case CL_READY: {
		char why[600];
		describe(cl, r, "nothing (an unexpected reply)", why, sizeof(why));
		cl_fail(cl, r, false, "%s", why);
		return;
	}
	case CL_CONNECTING:
	case CL_HANDSHAKE:
	case CL_DEAD:
		return;
	}
}

/* ---- libevent callbacks ------------------------------------------------------ */

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *cl = arg;
	cl_enter(cl);
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!cl->ended && !cl->freed && bev == cl->bev && cl->state != CL_HANDSHAKE) {
		size_t len = evbuffer_get_length(in);
		if (len == 0)
			break;
		const char *p = (const char *)evbuffer_pullup(in, -1);
		size_t used = 0;
		const char *error;
		int r = smtp_reply_parse(&cl->parser, p, len, &used, &error);
		evbuffer_drain(in, used);
		if (r < 0) {
			cl_fail(cl, NULL, false, "%s: %s while %s", cl->peer, error, state_doing[cl->state]);
			break;
		}
		if (r == 0)
			break;
		if (cl->state == CL_CONNECTING || cl->state == CL_DEAD)
			break;
		on_reply(cl, &cl->parser.reply);
		/* After STARTTLS the server must not have sent more (RFC 3207). */
		if (cl->state == CL_HANDSHAKE)
			break;
	}
	cl_leave(cl);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *cl = arg;
	cl_enter(cl);
	if (cl->ended || cl->freed) {
		cl_leave(cl);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		if (cl->state == CL_CONNECTING) {
			set_state(cl, CL_GREETING);
			bufferevent_enable(bev, EV_READ | EV_WRITE);
		} else if (cl->state == CL_HANDSHAKE) {
			cl->tls = true;
			SSL *ssl = bufferevent_openssl_get_ssl(bev);
			textf(cl->tls_info, sizeof(cl->tls_info), "%s with cipher %s", SSL_get_version(ssl),
			      SSL_get_cipher_name(ssl));
			log_session(cl->set.id, "smtp-out tls peer=%s %s", cl->peer, cl->tls_info);
			send_ehlo(cl);
		}
		cl_leave(cl);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (cl->state == CL_CONNECTING)
			cl_fail(cl, NULL, false, "connect to %s: timed out", cl->peer);
		else
			cl_fail(cl, NULL, false, "conversation with %s timed out while %s", cl->peer,
				state_doing[cl->state]);
	} else if (cl->state == CL_HANDSHAKE) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char err[256] = "handshake failed";
		if (e)
			ERR_error_string_n(e, err, sizeof(err));
		cl_fail(cl, NULL, true, "TLS with %s failed: %s", cl->peer, err);
	} else if (cl->state == CL_CONNECTING) {
		int err = EVUTIL_SOCKET_ERROR();
		cl_fail(cl, NULL, false, "connect to %s: %s", cl->peer, err ? strerror(err) : "failed");
	} else if (cl->state == CL_QUIT) {
		struct smtp_client_end end = {.clean = true, .was_ready = true};
		textf(end.reason, sizeof(end.reason), "closed after QUIT");
		cl_end(cl, &end);
	} else {
		int err = (what & BEV_EVENT_ERROR) ? EVUTIL_SOCKET_ERROR() : 0;
		cl_fail(cl, NULL, false, "lost connection with %s while %s%s%s", cl->peer,
			state_doing[cl->state], err ? ": " : "", err ? strerror(err) : "");
	}
	cl_leave(cl);
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *cl = arg;
	cl_enter(cl);
	if (!cl->ended && !cl->freed)
		cl_fail(cl, NULL, false, "%s", cl->later_reason);
	cl_leave(cl);
}

static void start_tls(struct smtp_client *cl)
{
	/* Anything the server sent after its 220 is dropped (RFC 3207 4.2). */
	evbuffer_drain(bufferevent_get_input(cl->bev), evbuffer_get_length(bufferevent_get_input(cl->bev)));
	SSL *ssl = SSL_new(cl->set.tls_ctx);
	if (ssl == NULL) {
		cl_fail(cl, NULL, true, "TLS with %s: cannot create a session", cl->peer);
		return;
	}
	if (cl->peer_name[0] && cl->peer_name[0] != '[')
		SSL_set_tlsext_host_name(ssl, cl->peer_name);
	struct bufferevent *f =
	    bufferevent_openssl_filter_new(cl->base, cl->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
					   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (f == NULL) {
		SSL_free(ssl);
		cl_fail(cl, NULL, true, "TLS with %s: cannot start", cl->peer);
		return;
	}
	cl->bev = f;
	smtp_reply_parser_init(&cl->parser);
	memset(&cl->ehlo, 0, sizeof(cl->ehlo));
	bufferevent_setcb(f, read_cb, NULL, event_cb, cl);
	set_state(cl, CL_HANDSHAKE);
	bufferevent_enable(f, EV_READ | EV_WRITE);
}

struct smtp_client *smtp_client_new(struct event_base *base, const struct sockaddr *addr, socklen_t addr_len,
				    const struct smtp_client_settings *settings,
				    const struct smtp_client_cb *cb, void *ctx)
{
	struct smtp_client *cl = xmalloc(sizeof(*cl));
	cl->base = base;
	cl->set = *settings;
	cl->helo = xstrdup(settings->helo);
	cl->peer_name = xstrdup(settings->peer_name ? settings->peer_name : "");
	cl->set.helo = cl->helo;
	cl->set.peer_name = cl->peer_name;
	cl->cb = *cb;
	cl->ctx = ctx;
	smtp_reply_parser_init(&cl->parser);
	char ip[INET6_ADDRSTRLEN] = "?";
	if (addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, ip,
			  sizeof(ip));
	else if (addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, ip,
			  sizeof(ip));
	textf(cl->peer, sizeof(cl->peer), "%s[%s]", cl->peer_name, ip);
	cl->state = CL_CONNECTING;
	cl->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	cl->later = evtimer_new(base, later_cb, cl);
	if (cl->bev == NULL) {
		textf(cl->later_reason, sizeof(cl->later_reason), "connect to %s: out of sockets", cl->peer);
		struct timeval now = {0, 0};
		evtimer_add(cl->later, &now);
		return cl;
	}
	bufferevent_setcb(cl->bev, read_cb, NULL, event_cb, cl);
	unsigned ct = settings->connect_timeout ? settings->connect_timeout : 30;
	set_timeout(cl, ct, ct);
	if (bufferevent_socket_connect(cl->bev, addr, (int)addr_len) < 0) {
		int err = EVUTIL_SOCKET_ERROR();
		textf(cl->later_reason, sizeof(cl->later_reason), "connect to %s: %s", cl->peer,
		      err ? strerror(err) : "failed");
		bufferevent_disable(cl->bev, EV_READ | EV_WRITE);
		struct timeval now = {0, 0};
		evtimer_add(cl->later, &now);
	}
	return cl;
}
