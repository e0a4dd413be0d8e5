/* smtp_server: SMTP sessions on the smtp, submission and submissions
 * listeners (see smtp_server.h).
 *
 * The session is a state machine (enum smtp_state, smtp_enter_state) fed
 * with command lines by smtp_read(); each verb has a handler found through
 * a table that also says where the verb is allowed. Syntax comes from
 * smtp_parse / smtp_data; mail goes to the store, whose group commit calls
 * us back once the message is on disk: only then do we say 250. While the
 * session waits (for the store or for a password check) it is suspended
 * and pipelined commands stay buffered, so replies keep their order.
 *
 * Line ends: commands may end in CRLF or a bare LF (liberal, as Postfix);
 * message data follows smtp_data.h (only CRLF.CRLF ends it; bare LF is
 * stored as CRLF). */
#include "smtp/smtp_server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/auth_login.h"
#include "auth/sasl.h"
#include "core/server.h"
#include "dkim/dkim.h"
#include "mime/address.h"
#include "mime/header.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parse.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/date.h"
#include "util/lineio.h"
#include "util/log.h"
#include "util/mem.h"

enum smtp_state {
	SMTP_STATE_GREETING, /* greeting delay: the client must not talk yet */
	SMTP_STATE_INIT,     /* before HELO/EHLO */
	SMTP_STATE_HELO,     /* after HELO/EHLO, no transaction */
	SMTP_STATE_MAIL,     /* MAIL accepted, no recipient yet */
	SMTP_STATE_RCPT,     /* at least one recipient */
	SMTP_STATE_DATA,     /* reading the DATA body */
	SMTP_STATE_BDAT,     /* reading a BDAT chunk */
	SMTP_STATE_AUTH,     /* in a SASL exchange */
	SMTP_STATE_WAIT,     /* waiting for the store or a password check */
	SMTP_STATE_QUIT,
};

static const char *const state_names[] = {"greeting", "init", "helo", "mail", "rcpt",
					  "data",     "bdat", "auth", "wait", "quit"};

struct smtp_rcpt_entry {
	char *address; /* as given, for the Received "for" clause and logs */
	struct store_resolution res;
};

/* Per-transaction state, cleared by txn_reset(). */
struct smtp_txn {
	struct smtp_mail mail;
	bool have_mail;
	struct smtp_rcpt_entry *rcpts;
	size_t rcpt_count;
	struct buf data;   /* our Received header, then the message */
	size_t header_len; /* length of that Received header */
	struct smtp_data decoder;
	bool bdat_started;
	uint64_t discard_left; /* BDAT refused: chunk bytes still to skip */
	bool bdat_discard_last;
	struct store_delivery delivery;
	struct store_delivery_rcpt *drcpts;
	char **prefixes;
	size_t prefix_count;
	const char **remote;
};

struct smtp_session {
	struct conn *c;
	struct server *srv;
	enum smtp_state state;
	bool submission; /* submission or submissions listener */
	bool esmtp;
	char helo[SMTP_DOMAIN_MAX + 1];
	unsigned errors;
	unsigned logged_replies; /* error replies logged (SMTP_LOG_REPLIES_MAX) */
	unsigned txn_number;
	bool shutdown;	    /* close after the current transaction */
	bool skipping_line; /* discarding the rest of an over-long line */
	/* Authentication. */
	int64_t user_id;
	char *user_address;
	struct sasl *sasl;
	struct auth_login_req *login;
	char *scram_user; /* canonical address found for a SCRAM exchange */
	struct event *greeting_timer;
	struct smtp_txn txn;
	bool freed; /* the conn is gone; free when the store answers */
	bool waiting_store;
};

/* Replies waiting to be sent beyond this stop the reading of commands until
 * the client reads them (smtp_drained): a client that pipelines without
 * reading cannot make the session buffer replies without end. Input then
 * stays in conn's buffer, whose high-watermark stops reading the socket. */
#define SMTP_OUTPUT_HIGH (64 * 1024)

/* Error replies logged per session: some (452 too many recipients, 552
 * at MAIL, 454 for STARTTLS) do not count toward max_errors, and a client
 * repeating them must not fill the disk with log lines. */
#define SMTP_LOG_REPLIES_MAX 100

/* Command lines are handled one at a time on the loop thread, so one
 * buffer serves every session (no per-session line memory). */
static char line_buf[SASL_LINE_MAX + 65536 + 2];

static void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void smtp_enter_state(struct smtp_session *s, enum smtp_state state)
{
	if (s->state != state)
		log_session_debug(s->c->id, "smtp state %s -> %s", state_names[s->state], state_names[state]);
	s->state = state;
}

static void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	if (line[0] >= '4' && s->logged_replies < SMTP_LOG_REPLIES_MAX) {
		if (++s->logged_replies == SMTP_LOG_REPLIES_MAX)
			log_session(s->c->id, "smtp reply \"%.*s\" (further error replies not logged)", n,
				    line);
		else
			log_session(s->c->id, "smtp reply \"%.*s\"", n, line);
	}
	line[n++] = '\r';
	line[n++] = '\n';
	conn_write(s->c, line, (size_t)n);
}

static void smtp_close(struct smtp_session *s)
{
	smtp_enter_state(s, SMTP_STATE_QUIT);
	conn_close(s->c);
}

/* Counts a client mistake; past max_errors the session ends. Returns true
 * when it did. */
static bool smtp_count_error(struct smtp_session *s)
{
	if (++s->errors < s->srv->cfg->max_errors)
		return false;
	smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection", s->srv->cfg->hostname);
	log_session(s->c->id, "smtp too many errors (%u)", s->errors);
	smtp_close(s);
	return true;
}

/* ---- transactions ----------------------------------------------------- */

static void txn_reset(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	for (size_t i = 0; i < t->rcpt_count; i++) {
		free(t->rcpts[i].address);
		store_resolution_clear(&t->rcpts[i].res);
	}
	free(t->rcpts);
	buf_free(&t->data);
	for (size_t i = 0; i < t->prefix_count; i++)
		free(t->prefixes[i]);
	free(t->prefixes);
	free(t->drcpts);
	free(t->remote);
	memset(t, 0, sizeof(*t));
	buf_init(&t->data, 1);
}

/* Back to waiting for commands after a reply that ends what the server
 * stopped for (a message, a password check); the server may have begun to
 * shut down meanwhile. */
static void smtp_idle(struct smtp_session *s)
{
	smtp_enter_state(s, s->helo[0] ? SMTP_STATE_HELO : SMTP_STATE_INIT);
	if (s->shutdown) {
		smtp_reply(s, "421 4.3.2 %s Service shutting down, closing connection",
			   s->srv->cfg->hostname);
		smtp_close(s);
	}
}

/* Back to "no transaction" after a reply that ends one. */
static void txn_end(struct smtp_session *s)
{
	txn_reset(s);
	smtp_idle(s);
}

static const char *received_protocol(const struct smtp_session *s)
{
	bool tls = s->c->tls, auth = s->user_id > 0;
	if (!s->esmtp)
		return "SMTP";
	if (s->txn.mail.smtputf8)
		return tls ? (auth ? "UTF8SMTPSA" : "UTF8SMTPS") : (auth ? "UTF8SMTPA" : "UTF8SMTP");
	return tls ? (auth ? "ESMTPSA" : "ESMTPS") : (auth ? "ESMTPA" : "ESMTP");
}

/* Starts the message buffer with our Received header (RFC 5321 4.4); the
 * body decoder then appends the message after it. */
static void txn_start_data(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	const struct config *cfg = s->srv->cfg;
	buf_free(&t->data);
	buf_init(&t->data, cfg->max_message_size + 64 * 1024);
	struct buf *d = &t->data;
	s->txn_number++;
	buf_printf(d, "Received: from %s ([%s])\r\n\tby %s (Posthorn) with %s id %016llx.%u",
		   s->helo[0] ? s->helo : "unknown", s->c->peer_ip, cfg->hostname, received_protocol(s),
		   (unsigned long long)s->c->id, s->txn_number);
	if (s->c->tls)
		buf_printf(d, "\r\n\t(%s)", s->c->tls_info);
	if (t->rcpt_count == 1)
		buf_printf(d, "\r\n\tfor <%s>", t->rcpts[0].address);
	buf_puts(d, "; ");
	date_format_rfc5322(time(NULL), 0, d);
	buf_puts(d, "\r\n");
	t->header_len = d->len;
}

/* Submission: the From: (and Sender:) header must name addresses the user
 * owns, or any user could forge any sender. NULL when fine, else the reply. */
static const char *check_from_header(struct smtp_session *s)
{
	const char *msg = s->txn.data.data + s->txn.header_len;
	size_t len = s->txn.data.len - s->txn.header_len;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, msg, mime_header_block_size(msg, len, NULL));
	int from_count = 0;
	const char *reply = NULL;
	while (reply == NULL && mime_header_iter_next(&it, &f) == 1) {
		bool from = mime_header_name_is(&f, "From");
		if (!from && !mime_header_name_is(&f, "Sender"))
			continue;
		from_count += from;
		size_t n;
		char **specs = mime_address_specs(f.value, f.value_len, &n);
		if (n == 0 && from)
			reply = "550 5.6.0 The From: header has no valid address";
		for (size_t i = 0; i < n && reply == NULL; i++) {
			const char *error;
			int owned = store_address_owned_by(s->srv->store, specs[i], s->user_id, &error);
			if (owned < 0)
				reply = "451 4.3.0 Temporary failure checking the From: header, try again";
			else if (owned == 0) {
				log_session(s->c->id, "smtp rejected header-from=<%s> user=%s", specs[i],
					    s->user_address);
				reply = "550 5.7.1 The From: header names an address that is not yours";
			}
		}
		mime_address_specs_free(&specs);
	}
	if (reply == NULL && from_count == 0)
		reply = "550 5.6.0 The message has no From: header";
	return reply;
}

/* Submission: adds Date: and Message-ID: when the client left them out
 * (RFC 6409 8.2, 8.3), after our Received header. */
static void add_missing_headers(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	const char *msg = t->data.data + t->header_len;
	size_t len = t->data.len - t->header_len;
	struct mime_header_iter it;
	struct mime_header_field f;
	bool date = false, msgid = false;
	mime_header_iter_init(&it, msg, mime_header_block_size(msg, len, NULL));
	while (mime_header_iter_next(&it, &f) == 1) {
		date = date || mime_header_name_is(&f, "Date");
		msgid = msgid || mime_header_name_is(&f, "Message-ID");
	}
	if (date && msgid)
		return;
	struct buf out;
	buf_init(&out, t->data.max + 4096);
	buf_append(&out, t->data.data, t->header_len);
	if (!date) {
		buf_puts(&out, "Date: ");
		date_format_rfc5322(time(NULL), 0, &out);
		buf_puts(&out, "\r\n");
	}
	if (!msgid)
		buf_printf(&out, "Message-ID: <%016llx.%u.%lld@%s>\r\n", (unsigned long long)s->c->id,
			   s->txn_number, (long long)time(NULL), s->srv->cfg->hostname);
	buf_append(&out, msg, len);
	buf_free(&t->data);
	t->data = out;
}

static void stored_cb(void *ctx, struct store_delivery *d, int result);

static void session_destroy(struct smtp_session *s)
{
	txn_reset(s);
	buf_free(&s->txn.data);
	sasl_free(&s->sasl);
	auth_login_cancel(&s->login);
	if (s->greeting_timer)
		event_free(s->greeting_timer);
	free(s->user_address);
	free(s->scram_user);
	free(s);
}

/* The message is complete: check it, then hand it to the store. */
static void txn_deliver(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	const struct config *cfg = s->srv->cfg;
	if (t->decoder.too_big) {
		smtp_reply(s, "552 5.3.4 Message size exceeds the limit of %llu bytes",
			   (unsigned long long)cfg->max_message_size);
		txn_end(s);
		return;
	}
	if (s->submission) {
		const char *reply = check_from_header(s);
		if (reply != NULL) {
			smtp_reply(s, "%s", reply);
			txn_end(s);
			return;
		}
		add_missing_headers(s);
		/* DKIM: mail from our domains is signed before it is stored or
		 * queued (the signatures go after our Received header).
		 * XXX: hashing a large message and an RSA signature (~1 ms) run
		 * on the event loop. */
		if (s->srv->dkim != NULL) {
			struct buf sig;
			buf_init(&sig, 64 * 1024);
			const char *msg = t->data.data + t->header_len, *error;
			size_t len = t->data.len - t->header_len;
			int r = dkim_signer_sign(s->srv->dkim, msg, len, time(NULL), &sig, &error);
			if (r < 0)
				log_session(s->c->id, "smtp dkim not signed: %s", error);
			if (r > 0) {
				struct buf out;
				buf_init(&out, t->data.max + sig.len);
				if (buf_append(&out, t->data.data, t->header_len) == 0 &&
				    buf_append(&out, sig.data, sig.len) == 0 &&
				    buf_append(&out, msg, len) == 0) {
					buf_free(&t->data);
					t->data = out;
				} else
					buf_free(&out);
			}
			buf_free(&sig);
		}
	}

	/* Targets: each local user once, each remote address once. */
	size_t max = 0;
	for (size_t i = 0; i < t->rcpt_count; i++)
		max += t->rcpts[i].res.count;
	t->drcpts = xcalloc(max ? max : 1, sizeof(*t->drcpts));
	t->prefixes = xcalloc(max ? max : 1, sizeof(*t->prefixes));
	t->remote = xcalloc(max ? max : 1, sizeof(*t->remote));
	size_t nlocal = 0, nremote = 0;
	const char *from = t->mail.path.null ? "" : t->mail.path.addr;
	for (size_t i = 0; i < t->rcpt_count; i++) {
		for (size_t j = 0; j < t->rcpts[i].res.count; j++) {
			const struct store_target *tg = &t->rcpts[i].res.targets[j];
			bool dup = false;
			if (tg->user_id > 0) {
				for (size_t k = 0; k < nlocal && !dup; k++)
					dup = t->drcpts[k].user_id == tg->user_id;
				if (dup)
					continue;
				struct buf p;
				buf_init(&p, 4096);
				buf_printf(&p, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", from,
					   tg->address);
				t->prefixes[nlocal] = buf_steal(&p, NULL);
				t->drcpts[nlocal].user_id = tg->user_id;
				t->drcpts[nlocal].prefix = t->prefixes[nlocal];
				t->drcpts[nlocal].quota_grace = true; /* checked at RCPT */
				nlocal++;
			} else {
				for (size_t k = 0; k < nremote && !dup; k++)
					dup = strcmp(t->remote[k], tg->address) == 0;
				if (!dup)
					t->remote[nremote++] = tg->address;
			}
		}
	}
	t->prefix_count = nlocal;
	struct store_delivery *d = &t->delivery;
	d->data = t->data.data;
	d->len = t->data.len;
	d->internaldate = time(NULL);
	d->mail_from = from;
	d->remote_rcpts = t->remote;
	d->remote_count = nremote;
	d->queue_user_id = s->user_id;
	d->rcpts = t->drcpts;
	d->rcpt_count = nlocal;
	s->waiting_store = true;
	smtp_enter_state(s, SMTP_STATE_WAIT);
	conn_suspend(s->c);
	store_deliver_async(s->srv->store, d, stored_cb, s);
}

static void stored_cb(void *ctx, struct store_delivery *d, int result)
{
	struct smtp_session *s = ctx;
	s->waiting_store = false;
	if (s->freed) {
		/* The client left before our answer: the mail is stored (or not)
		 * all the same; the sender will retry if it did not see 250. */
		session_destroy(s);
		return;
	}
	bool ok = result == 0;
	for (size_t i = 0; ok && i < d->rcpt_count; i++)
		ok = d->rcpts[i].result == 0;
	if (ok) {
		log_session(s->c->id, "smtp stored from=<%s> bytes=%zu local=%zu remote=%zu queue=%lld",
			    d->mail_from, d->len, d->rcpt_count, d->remote_count, (long long)d->queue_id);
		smtp_reply(s, "250 2.0.0 Ok: queued as %016llx.%u", (unsigned long long)s->c->id,
			   s->txn_number);
	} else {
		/* Only quota stood in the way: say so (4.2.2), the sender retries. */
		bool quota = d->rcpt_count > 0;
		for (size_t i = 0; i < d->rcpt_count; i++)
			quota = quota && (d->rcpts[i].result == 0 || d->rcpts[i].over_quota);
		log_session(s->c->id, "smtp store failed: %s", d->error ? d->error : "recipient not stored");
		if (quota)
			smtp_reply(s, "452 4.2.2 Mailbox full, try again later");
		else
			smtp_reply(s, "451 4.3.0 Error: could not store the message, try again later");
	}
	txn_end(s);
	conn_resume(s->c);
}

/* ---- commands --------------------------------------------------------- */

static void greeting(struct smtp_session *s)
{
	smtp_reply(s, "220 %s ESMTP Posthorn", s->srv->cfg->hostname);
	smtp_enter_state(s, SMTP_STATE_INIT);
}

static void cmd_helo(struct smtp_session *s, const struct smtp_command *cmd)
{
	struct smtp_helo helo;
	struct smtp_error err;
	if (smtp_parse_helo(cmd->arg, cmd->arg_len, &helo, &err) < 0) {
		smtp_reply(s, "%u %s %s", err.code, err.enh, err.text);
		smtp_count_error(s);
		return;
	}
	txn_reset(s);
	snprintf(s->helo, sizeof(s->helo), "%s", helo.name);
	s->esmtp = cmd->cmd == SMTP_CMD_EHLO;
	log_session(s->c->id, "smtp %s name=%s", s->esmtp ? "ehlo" : "helo", s->helo);
	smtp_enter_state(s, SMTP_STATE_HELO);
	const struct config *cfg = s->srv->cfg;
	if (!s->esmtp) {
		smtp_reply(s, "250 %s", cfg->hostname);
		return;
	}
	struct buf b;
	buf_init(&b, 4096);
	buf_printf(&b, "250-%s Hello %s [%s]\r\n", cfg->hostname, s->helo, s->c->peer_ip);
	buf_puts(&b, "250-PIPELINING\r\n");
	buf_printf(&b, "250-SIZE %llu\r\n", (unsigned long long)cfg->max_message_size);
	if (!s->c->tls && conn_tls_available(s->c))
		buf_puts(&b, "250-STARTTLS\r\n");
	if (s->submission && (s->c->tls || (s->c->loopback && cfg->allow_plaintext_loopback)) &&
	    s->user_id == 0)
		buf_puts(&b, "250-AUTH PLAIN LOGIN SCRAM-SHA-256\r\n");
	buf_puts(&b, "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

static bool need_helo(struct smtp_session *s)
{
	if (s->state != SMTP_STATE_INIT)
		return false;
	smtp_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	smtp_count_error(s);
	return true;
}

static void cmd_mail(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (need_helo(s))
		return;
	struct smtp_txn *t = &s->txn;
	if (t->have_mail) {
		smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
		smtp_count_error(s);
		return;
	}
	if (s->submission && s->user_id == 0) {
		if (!s->c->tls && !(s->c->loopback && s->srv->cfg->allow_plaintext_loopback))
			smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		else
			smtp_reply(s, "530 5.7.0 Authentication required");
		smtp_count_error(s);
		return;
	}
	struct smtp_error err;
	unsigned flags = SMTP_PARSE_NO_BRACKETS | SMTP_PARSE_LAX_LOCALPART | SMTP_PARSE_EXT_SMTPUTF8;
	if (s->submission)
		flags |= SMTP_PARSE_EXT_AUTH;
	if (smtp_parse_mail(cmd->arg, cmd->arg_len, flags, &t->mail, &err) < 0) {
		smtp_reply(s, "%u %s %s", err.code, err.enh, err.text);
		smtp_count_error(s);
		return;
	}
	const struct config *cfg = s->srv->cfg;
	if (t->mail.size_set && t->mail.size > cfg->max_message_size) {
		smtp_reply(s, "552 5.3.4 Message size exceeds the limit of %llu bytes",
			   (unsigned long long)cfg->max_message_size);
		return;
	}
	if (s->submission) {
		const char *error;
		int owned = t->mail.path.null ? 0
					      : store_address_owned_by(s->srv->store, t->mail.path.addr,
								       s->user_id, &error);
		if (owned < 0) {
			smtp_reply(s, "451 4.3.0 Temporary failure checking the sender, try again");
			return;
		}
		if (owned == 0) {
			log_session(s->c->id, "smtp rejected from=<%s> user=%s", t->mail.path.addr,
				    s->user_address);
			smtp_reply(s, "553 5.7.1 Sender address rejected: not owned by %s", s->user_address);
			smtp_count_error(s);
			return;
		}
	}
	t->have_mail = true;
	log_session(s->c->id, "smtp mail from=<%s>%s", t->mail.path.addr,
		    t->mail.smtputf8 ? " smtputf8" : "");
	smtp_enter_state(s, SMTP_STATE_MAIL);
	smtp_reply(s, "250 2.1.0 Ok");
}

/* Quota (RFC 3463 X.2.2): a message that cannot fit even in an empty
 * mailbox is refused for good; an account that is full now may have room
 * later. Returns the reply, or NULL when it fits. */
static const char *quota_check(struct smtp_session *s, int64_t user_id)
{
	const struct smtp_mail *m = &s->txn.mail;
	uint64_t size = m->size_set ? m->size : 0;
	const char *error;
	int over = store_quota_exceeded(s->srv->store, user_id, size, &error);
	if (over < 0)
		return "451 4.3.0 Temporary failure checking the quota, try again";
	if (over == 0)
		return NULL;
	struct store_user u = {0};
	const char *reply = "452 4.2.2 Mailbox full, try again later";
	if (store_user_get_by_id(s->srv->store, user_id, &u, &error) == 1 && u.quota_bytes > 0 &&
	    size > u.quota_bytes)
		reply = "552 5.2.2 Mailbox full: the message is larger than the recipient's quota";
	store_user_clear(&u);
	return reply;
}

/* RFC 5321 4.1.1.3: <postmaster> without a domain must be accepted: it is
 * the postmaster of the first local domain that has one. */
static int resolve_postmaster(struct smtp_session *s, struct buf *addr, struct store_resolution *res,
			      const char **error_r)
{
	char **domains;
	if (store_domain_list(s->srv->store, &domains, error_r) < 0)
		return -1;
	res->status = STORE_RESOLVE_UNKNOWN_USER;
	int r = 0;
	for (char **d = domains; *d != NULL && r == 0; d++) {
		buf_reset(addr);
		buf_printf(addr, "postmaster@%s", *d);
		store_resolution_clear(res);
		r = store_resolve(s->srv->store, buf_cstr(addr), res, error_r);
		if (r == 0 && res->status == STORE_RESOLVE_OK)
			break;
	}
	store_strv_free(&domains);
	return r;
}

static void cmd_rcpt(struct smtp_session *s, const struct smtp_command *cmd)
{
	struct smtp_txn *t = &s->txn;
	if (!t->have_mail) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		smtp_count_error(s);
		return;
	}
	if (t->bdat_started) {
		/* The first chunk fixed the Received header and the recipients. */
		smtp_reply(s, "503 5.5.1 Error: RCPT after BDAT");
		smtp_count_error(s);
		return;
	}
	const struct config *cfg = s->srv->cfg;
	if (t->rcpt_count >= cfg->max_recipients) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	struct smtp_rcpt rcpt;
	struct smtp_error err;
	unsigned flags = SMTP_PARSE_NO_BRACKETS | SMTP_PARSE_LAX_LOCALPART;
	if (t->mail.smtputf8)
		flags |= SMTP_PARSE_UTF8;
	if (smtp_parse_rcpt(cmd->arg, cmd->arg_len, flags, &rcpt, &err) < 0) {
		smtp_reply(s, "%u %s %s", err.code, err.enh, err.text);
		smtp_count_error(s);
		return;
	}
	struct buf addr;
	buf_init(&addr, 1024);
	struct store_resolution res = {0};
	const char *error;
	int r;
	if (rcpt.path.domain[0] == '\0')
		r = resolve_postmaster(s, &addr, &res, &error);
	else {
		buf_printf(&addr, "%s@%s", rcpt.path.localpart, rcpt.path.domain);
		r = store_resolve(s->srv->store, buf_cstr(&addr), &res, &error);
	}
	if (r < 0) {
		log_session(s->c->id, "smtp resolve failed: %s", error);
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure, try again", rcpt.path.addr);
		buf_free(&addr);
		return;
	}
	const char *reply = NULL;
	switch (res.status) {
	case STORE_RESOLVE_OK:
		for (size_t i = 0; i < res.count && reply == NULL; i++)
			if (res.targets[i].user_id > 0)
				reply = quota_check(s, res.targets[i].user_id);
		break;
	case STORE_RESOLVE_NOT_LOCAL:
		if (!s->submission) {
			reply = "550 5.7.1 Relay access denied";
			break;
		}
		store_resolution_clear(&res);
		res.status = STORE_RESOLVE_OK;
		res.targets = xcalloc(1, sizeof(*res.targets));
		res.targets[0].address = xstrdup(rcpt.path.addr);
		res.count = 1;
		break;
	case STORE_RESOLVE_UNKNOWN_USER:
		reply = "550 5.1.1 Recipient address rejected: User unknown";
		break;
	case STORE_RESOLVE_LOOP:
		reply = "550 5.4.6 Recipient address rejected: alias loop";
		break;
	}
	if (reply != NULL) {
		if (s->logged_replies < SMTP_LOG_REPLIES_MAX)
			log_session(s->c->id, "smtp rcpt to=<%s> rejected: %s", rcpt.path.addr, reply);
		smtp_reply(s, "%.9s <%s>: %s", reply, rcpt.path.addr, reply + 10);
		store_resolution_clear(&res);
		buf_free(&addr);
		if (reply[0] == '5')
			smtp_count_error(s);
		return;
	}
	t->rcpts = xreallocarray(t->rcpts, t->rcpt_count + 1, sizeof(*t->rcpts));
	t->rcpts[t->rcpt_count].address = xstrdup(rcpt.path.addr);
	t->rcpts[t->rcpt_count].res = res;
	t->rcpt_count++;
	buf_free(&addr);
	log_session(s->c->id, "smtp rcpt to=<%s> accepted", rcpt.path.addr);
	smtp_enter_state(s, SMTP_STATE_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
}

static bool need_recipients(struct smtp_session *s)
{
	if (s->txn.rcpt_count > 0)
		return false;
	if (!s->txn.have_mail)
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
	else
		smtp_reply(s, "554 5.5.1 Error: no valid recipients");
	smtp_count_error(s);
	return true;
}

static void cmd_data(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (need_recipients(s))
		return;
	if (s->txn.bdat_started) {
		smtp_reply(s, "503 5.5.1 Error: DATA after BDAT");
		smtp_count_error(s);
		return;
	}
	txn_start_data(s);
	smtp_data_init(&s->txn.decoder, s->srv->cfg->max_message_size);
	smtp_enter_state(s, SMTP_STATE_DATA);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void cmd_bdat(struct smtp_session *s, const struct smtp_command *cmd)
{
	uint64_t size;
	bool last;
	struct smtp_error err;
	if (smtp_parse_bdat(cmd->arg, cmd->arg_len, &size, &last, &err) < 0) {
		/* Without a size we cannot tell where the chunk ends. */
		smtp_reply(s, "%u %s %s", err.code, err.enh, err.text);
		smtp_close(s);
		return;
	}
	struct smtp_txn *t = &s->txn;
	if (t->rcpt_count == 0 || s->state == SMTP_STATE_INIT) {
		/* RFC 3030 2: the chunk is read (and dropped) before the error. */
		t->discard_left = size;
		t->bdat_discard_last = true;
		smtp_enter_state(s, SMTP_STATE_BDAT);
		return;
	}
	if (!t->bdat_started) {
		txn_start_data(s);
		smtp_data_bdat_init(&t->decoder, s->srv->cfg->max_message_size, 0);
		t->bdat_started = true;
	}
	smtp_data_bdat_chunk(&t->decoder, size, last);
	smtp_enter_state(s, SMTP_STATE_BDAT);
}

static void cmd_rset(struct smtp_session *s, const struct smtp_command *cmd)
{
	txn_reset(s);
	smtp_enter_state(s, s->helo[0] ? SMTP_STATE_HELO : SMTP_STATE_INIT);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_close(s);
}

static void cmd_vrfy(struct smtp_session *s, const struct smtp_command *cmd)
{
	/* Never confirm or deny accounts (RFC 5321 3.5.3 allows 252). */
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_reply(s, "502 5.5.1 EXPN not available");
}

static void cmd_help(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH");
}

static void cmd_starttls(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (s->c->tls) {
		smtp_reply(s, "503 5.5.1 Error: TLS already active");
		smtp_count_error(s);
		return;
	}
	if (!conn_tls_available(s->c)) {
		smtp_reply(s, "454 4.7.0 TLS not available");
		return;
	}
	if (s->txn.have_mail) {
		smtp_reply(s, "503 5.5.1 Error: STARTTLS in a mail transaction");
		smtp_count_error(s);
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	if (conn_starttls(s->c) < 0) {
		smtp_close(s);
		return;
	}
	/* RFC 3207 4.2: forget everything learnt before TLS, a login in
	 * clear (allow_plaintext_loopback) included. */
	txn_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	s->user_id = 0;
	free(s->user_address);
	s->user_address = NULL;
	smtp_enter_state(s, SMTP_STATE_INIT);
}

/* ---- AUTH ------------------------------------------------------------- */

static void login_cb(enum auth_login_result result, const char *user, void *ctx)
{
	struct smtp_session *s = ctx;
	s->login = NULL;
	const char *name = sasl_username(s->sasl);
	struct store_user u = {0};
	const char *error;
	if (result == AUTH_LOGIN_OK && (user == NULL || store_user_get(s->srv->store, user, &u, &error) != 1))
		result = AUTH_LOGIN_TEMPFAIL;
	switch (result) {
	case AUTH_LOGIN_OK:
		s->user_id = u.id;
		free(s->user_address);
		s->user_address = xstrdup(u.address);
		log_session(s->c->id, "smtp auth user=%s result=ok", u.address);
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_LOGIN_FAILED:
		log_session(s->c->id, "smtp auth user=%s result=failed", name);
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		break;
	case AUTH_LOGIN_BLOCKED:
		log_session(s->c->id, "smtp auth user=%s result=blocked address=%s", name, s->c->peer_ip);
		smtp_reply(s, "421 4.7.0 %s Too many failed logins from your address, try again later",
			   s->srv->cfg->hostname);
		store_user_clear(&u);
		sasl_free(&s->sasl);
		smtp_close(s);
		conn_resume(s->c);
		return;
	case AUTH_LOGIN_TEMPFAIL:
		smtp_reply(s, "454 4.7.0 Temporary authentication failure, try again later");
		break;
	}
	store_user_clear(&u);
	sasl_free(&s->sasl);
	if (result != AUTH_LOGIN_FAILED || !smtp_count_error(s))
		smtp_idle(s);
	conn_resume(s->c);
}

static void sasl_step(struct smtp_session *s, enum sasl_status st, const char *challenge, const char *error)
{
	for (;;) {
		switch (st) {
		case SASL_STATUS_CHALLENGE:
			smtp_reply(s, "334 %s", challenge);
			smtp_enter_state(s, SMTP_STATE_AUTH);
			return;
		case SASL_STATUS_NEED_SCRAM_SECRETS: {
			char *secrets = NULL, *canonical = NULL;
			const char *lookup_error;
			if (auth_login_scram_lookup(s->srv->login, sasl_username(s->sasl), &secrets,
						    &canonical, &lookup_error) < 0) {
				sasl_free(&s->sasl);
				smtp_enter_state(s, s->helo[0] ? SMTP_STATE_HELO : SMTP_STATE_INIT);
				smtp_reply(s, "454 4.7.0 Temporary authentication failure, try again later");
				return;
			}
			free(s->scram_user);
			s->scram_user = canonical;
			st = sasl_scram_secrets(s->sasl, secrets, &challenge, &error);
			free(secrets);
			continue;
		}
		case SASL_STATUS_CHECK_PASSWORD:
		case SASL_STATUS_SUCCESS:
		case SASL_STATUS_FAILED:
			smtp_enter_state(s, SMTP_STATE_WAIT);
			conn_suspend(s->c);
			if (st == SASL_STATUS_CHECK_PASSWORD)
				s->login = auth_login_password(s->srv->login, (struct sockaddr *)&s->c->peer,
							       sasl_username(s->sasl), sasl_password(s->sasl),
							       login_cb, s);
			else
				s->login =
				    auth_login_report(s->srv->login, (struct sockaddr *)&s->c->peer,
						      st == SASL_STATUS_SUCCESS, s->scram_user, login_cb, s);
			return;
		case SASL_STATUS_MALFORMED:
			smtp_reply(s, "501 5.5.2 Error: %s", error ? error : "malformed authentication data");
			break;
		case SASL_STATUS_CANCELLED:
			smtp_reply(s, "501 5.0.0 Authentication cancelled");
			break;
		}
		sasl_free(&s->sasl);
		smtp_enter_state(s, s->helo[0] ? SMTP_STATE_HELO : SMTP_STATE_INIT);
		smtp_count_error(s);
		return;
	}
}

static void cmd_auth(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (need_helo(s))
		return;
	const struct config *cfg = s->srv->cfg;
	if (!s->submission) {
		smtp_reply(s, "503 5.5.1 Error: authentication not enabled on this port");
		smtp_count_error(s);
		return;
	}
	if (!s->c->tls && !(s->c->loopback && cfg->allow_plaintext_loopback)) {
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		smtp_count_error(s);
		return;
	}
	if (s->user_id != 0) {
		smtp_reply(s, "503 5.5.1 Error: already authenticated");
		smtp_count_error(s);
		return;
	}
	if (s->txn.have_mail) {
		smtp_reply(s, "503 5.5.1 Error: AUTH not allowed in a mail transaction");
		smtp_count_error(s);
		return;
	}
	const char *mech_name, *ir;
	size_t mech_len, ir_len;
	struct smtp_error err;
	if (smtp_parse_auth(cmd->arg, cmd->arg_len, &mech_name, &mech_len, &ir, &ir_len, &err) < 0) {
		smtp_reply(s, "%u %s %s", err.code, err.enh, err.text);
		smtp_count_error(s);
		return;
	}
	char name[32];
	snprintf(name, sizeof(name), "%.*s", (int)mech_len, mech_name);
	enum sasl_mech mech;
	if (sasl_mech_parse(name, &mech) < 0) {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		smtp_count_error(s);
		return;
	}
	if (auth_login_blocked(s->srv->login, (struct sockaddr *)&s->c->peer, NULL)) {
		smtp_reply(s, "421 4.7.0 %s Too many failed logins from your address, try again later",
			   cfg->hostname);
		smtp_close(s);
		return;
	}
	s->sasl = sasl_new(mech);
	const char *challenge = NULL, *error = NULL;
	enum sasl_status st = sasl_start(s->sasl, ir, ir_len, &challenge, &error);
	sasl_step(s, st, challenge, error);
}

static void auth_line(struct smtp_session *s, const char *line, size_t len)
{
	const char *challenge = NULL, *error = NULL;
	enum sasl_status st = sasl_continue(s->sasl, line, len, &challenge, &error);
	explicit_bzero(line_buf, len);
	sasl_step(s, st, challenge, error);
}

/* ---- dispatch --------------------------------------------------------- */

struct smtp_cmd_entry {
	enum smtp_cmd cmd;
	void (*handler)(struct smtp_session *s, const struct smtp_command *cmd);
};

static const struct smtp_cmd_entry commands[] = {
    {SMTP_CMD_HELO, cmd_helo},	       {SMTP_CMD_EHLO, cmd_helo}, {SMTP_CMD_MAIL, cmd_mail},
    {SMTP_CMD_RCPT, cmd_rcpt},	       {SMTP_CMD_DATA, cmd_data}, {SMTP_CMD_BDAT, cmd_bdat},
    {SMTP_CMD_RSET, cmd_rset},	       {SMTP_CMD_NOOP, cmd_noop}, {SMTP_CMD_QUIT, cmd_quit},
    {SMTP_CMD_VRFY, cmd_vrfy},	       {SMTP_CMD_EXPN, cmd_expn}, {SMTP_CMD_HELP, cmd_help},
    {SMTP_CMD_STARTTLS, cmd_starttls}, {SMTP_CMD_AUTH, cmd_auth},
};

static void command_line(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command cmd;
	struct smtp_error err;
	if (smtp_parse_command(line, len, &cmd, &err) < 0) {
		smtp_reply(s, "%u %s %s", err.code, err.enh, err.text);
		smtp_count_error(s);
		return;
	}
	if (cmd.cmd == SMTP_CMD_UNKNOWN) {
		/* A web browser or proxy talking to the mail port: not a mail client. */
		static const char *const http[] = {"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS"};
		for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++) {
			if (cmd.verb_len == strlen(http[i]) &&
			    strncasecmp(cmd.verb, http[i], cmd.verb_len) == 0) {
				log_session(s->c->id, "smtp %s command from a non-SMTP client, closing",
					    http[i]);
				smtp_close(s);
				return;
			}
		}
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		smtp_count_error(s);
		return;
	}
	if (cmd.cmd == SMTP_CMD_AUTH)
		log_session_debug(s->c->id, "smtp command AUTH ****");
	else
		log_session_debug(s->c->id, "smtp command %.*s", (int)len, line);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].cmd == cmd.cmd) {
			commands[i].handler(s, &cmd);
			break;
		}
	}
	if (cmd.cmd == SMTP_CMD_AUTH)
		explicit_bzero(line_buf, sizeof(line_buf)); /* an initial response holds a password */
}

/* Feeds message bytes to the decoder (DATA or BDAT). Returns true when the
 * session may go on reading (input left over belongs to the next command). */
static bool read_body(struct smtp_session *s)
{
	struct evbuffer *in = conn_input(s->c);
	struct smtp_txn *t = &s->txn;
	for (;;) {
		if (t->bdat_discard_last) {
			size_t n = evbuffer_get_length(in);
			if (n > t->discard_left)
				n = (size_t)t->discard_left;
			evbuffer_drain(in, n);
			t->discard_left -= n;
			if (t->discard_left > 0)
				return false;
			t->bdat_discard_last = false;
			/* Like DATA without recipients: the MAIL still holds. */
			smtp_enter_state(s, t->have_mail ? SMTP_STATE_MAIL
					    : s->helo[0] ? SMTP_STATE_HELO
							 : SMTP_STATE_INIT);
			smtp_reply(s, t->have_mail ? "554 5.5.1 Error: no valid recipients"
						   : "503 5.5.1 Error: need MAIL command");
			smtp_count_error(s);
			return true;
		}
		/* With no input the decoder still runs once: an empty BDAT chunk
		 * ("BDAT 0 LAST") is complete without a byte. */
		static char nothing[1];
		struct evbuffer_iovec v = {nothing, 0};
		if (evbuffer_get_length(in) > 0 && evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return false;
		size_t consumed = 0;
		int r = smtp_data_parse(&t->decoder, v.iov_base, v.iov_len, &consumed, &t->data);
		evbuffer_drain(in, consumed);
		if (r == 1) {
			if (s->state == SMTP_STATE_BDAT && !t->decoder.done && t->decoder.too_big) {
				/* RFC 3030 2: the chunk is read, the transaction fails;
				 * chunks the client pipelined after it are skipped (503). */
				smtp_reply(s, "552 5.3.4 Message size exceeds the limit of %llu bytes",
					   (unsigned long long)s->srv->cfg->max_message_size);
				txn_end(s);
				return true;
			}
			if (s->state == SMTP_STATE_BDAT && !t->decoder.done) {
				smtp_enter_state(s, SMTP_STATE_RCPT);
				smtp_reply(s, "250 2.0.0 Ok: %llu octets received",
					   (unsigned long long)t->decoder.size);
				return true;
			}
			if (t->decoder.bare_lf)
				log_session(s->c->id, "smtp message had bare LF line ends (stored as CRLF)");
			txn_deliver(s);
			return s->state != SMTP_STATE_WAIT;
		}
		if (consumed == 0)
			return false; /* no input (out is sized for the maximum) */
	}
}

static void smtp_read(struct conn *c, void *session)
{
	struct smtp_session *s = session;
	struct evbuffer *in = conn_input(c);
	const struct config *cfg = s->srv->cfg;
	while (!conn_closing(c) && s->state != SMTP_STATE_WAIT && s->state != SMTP_STATE_QUIT) {
		if (s->state == SMTP_STATE_GREETING) {
			log_session(c->id, "smtp client talked before the greeting, closing");
			smtp_reply(s, "554 5.5.0 %s Error: SMTP protocol synchronization", cfg->hostname);
			smtp_close(s);
			return;
		}
		if (s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT) {
			if (!read_body(s))
				return;
			continue;
		}
		if (conn_output_pending(c) > SMTP_OUTPUT_HIGH)
			return;
		if (s->skipping_line) {
			if (!lineio_skip_line(in))
				return;
			s->skipping_line = false;
			continue;
		}
		size_t max = s->state == SMTP_STATE_AUTH ? SASL_LINE_MAX : cfg->smtp_max_line;
		if (max > sizeof(line_buf) - 2)
			max = sizeof(line_buf) - 2;
		size_t len;
		enum lineio_result r =
		    lineio_get(in, max, LINEIO_EOL_LF_OR_CRLF, line_buf, sizeof(line_buf), &len);
		if (r == LINEIO_NEED_MORE)
			return;
		if (r == LINEIO_TOO_LONG) {
			s->skipping_line = true;
			if (s->state == SMTP_STATE_AUTH) {
				sasl_free(&s->sasl);
				smtp_enter_state(s, s->helo[0] ? SMTP_STATE_HELO : SMTP_STATE_INIT);
				smtp_reply(s, "500 5.5.6 Authentication Exchange line is too long");
			} else
				smtp_reply(s, "500 5.5.2 Error: line too long");
			smtp_count_error(s);
			continue;
		}
		if (s->state == SMTP_STATE_AUTH)
			auth_line(s, line_buf, len);
		else
			command_line(s, line_buf, len);
	}
}

/* ---- the handler ------------------------------------------------------ */

static void greeting_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	if (s->state == SMTP_STATE_GREETING)
		greeting(s);
}

static void *smtp_open(struct conn *c)
{
	struct smtp_session *s = xmalloc(sizeof(*s));
	s->c = c;
	s->srv = c->server;
	s->submission = c->kind == LISTENER_SUBMISSION || c->kind == LISTENER_SUBMISSIONS;
	buf_init(&s->txn.data, 1);
	uint64_t delay = s->srv->cfg->smtp_greeting_delay;
	if (c->kind == LISTENER_SMTP && delay > 0) {
		/* Clients that talk before the greeting are not real MTAs. */
		s->state = SMTP_STATE_GREETING;
		s->greeting_timer = evtimer_new(s->srv->base, greeting_cb, s);
		struct timeval tv = {(time_t)delay, 0};
		evtimer_add(s->greeting_timer, &tv);
		return s;
	}
	greeting(s);
	return s;
}

/* Replies went out: go on with commands held back by SMTP_OUTPUT_HIGH. */
static void smtp_drained(struct conn *c, void *session)
{
	if (evbuffer_get_length(conn_input(c)) > 0)
		smtp_read(c, session);
}

static void smtp_timeout(struct conn *c, void *session)
{
	struct smtp_session *s = session;
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->cfg->hostname);
}

static void smtp_shutdown(struct conn *c, void *session)
{
	struct smtp_session *s = session;
	switch (s->state) {
	case SMTP_STATE_DATA:
	case SMTP_STATE_BDAT:
	case SMTP_STATE_WAIT:
		/* A message is on its way: finish it, then say goodbye. */
		s->shutdown = true;
		break;
	default:
		smtp_reply(s, "421 4.3.2 %s Service shutting down, closing connection",
			   s->srv->cfg->hostname);
		smtp_close(s);
	}
}

static void smtp_free(struct conn *c, void *session)
{
	struct smtp_session *s = session;
	auth_login_cancel(&s->login);
	if (s->waiting_store) {
		s->freed = true; /* stored_cb frees it */
		return;
	}
	session_destroy(s);
}

const struct conn_handler smtp_handler = {
    .name = "smtp",
    .open = smtp_open,
    .read = smtp_read,
    .drained = smtp_drained,
    .timeout = smtp_timeout,
    .shutdown = smtp_shutdown,
    .free = smtp_free,
    .busy_reply = "421 4.7.0 Too many connections, try again later\r\n",
};
