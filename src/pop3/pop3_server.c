/* pop3_server: POP3 sessions on the pop3 and pop3s listeners (see
 * pop3_server.h).
 *
 * The session is a state machine (enum pop3_state, pop3_enter_state) fed
 * by pop3_read() with commands from the incremental parser (pop3_parse.h);
 * each command has a handler found through a table that also says in which
 * RFC 1939 state it is allowed. While a password is checked (off the loop,
 * auth_login.h) the connection is suspended and pipelined commands stay
 * buffered, so replies keep their order.
 *
 * Multi-line replies (LIST, UIDL, RETR, TOP) are produced in chunks by
 * pop3_pump(): it fills the output up to OUT_HIGH, and continues from
 * handler->drained once the output has gone to the kernel, so neither a
 * big message nor the list of a big mailbox is ever formatted whole into
 * memory. Commands are not read while a reply is being streamed; pipelined
 * ones wait in the input buffer (bounded by conn's read watermark).
 *
 * Sizes in STAT and LIST are the stored sizes, which are the octets RETR
 * sends for every message stored with CRLF line ends (all SMTP deliveries:
 * the SMTP engine stores a bare LF as CRLF). XXX A message stored with bare
 * LFs (an IMAP APPEND from a sloppy client) is sent with CRLF, a few octets
 * more than listed; computing exact sizes would mean reading every message
 * at login. */
#include "pop3/pop3_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_login.h"
#include "auth/sasl.h"
#include "core/server.h"
#include "pop3/pop3_parse.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

/* Output buffered beyond this pauses a streamed reply (and the reading of
 * further pipelined commands) until it has drained. */
#define OUT_HIGH (256 * 1024)
/* One piece of a streamed reply. */
#define CHUNK_SIZE (64 * 1024)
/* Longest user name kept from USER (auth_name.h caps it further). */
#define USER_MAX 512

enum pop3_state {
	POP3_STATE_AUTHORIZATION, /* RFC 1939 AUTHORIZATION */
	POP3_STATE_SASL,	  /* in an AUTH exchange: the next line is a SASL response */
	POP3_STATE_WAIT,	  /* a password check is running */
	POP3_STATE_TRANSACTION,	  /* RFC 1939 TRANSACTION */
	POP3_STATE_SENDING,	  /* streaming a multi-line reply */
	POP3_STATE_UPDATE,	  /* RFC 1939 UPDATE: applying DELE marks */
	POP3_STATE_QUIT,
};

static const char *const state_names[] = {"authorization", "sasl",   "wait", "transaction",
					  "sending",	   "update", "quit"};

struct pop3_msg {
	int64_t id;    /* store_msg.id */
	uint64_t size; /* stored octets */
	uint32_t uid;
	bool deleted;	/* DELE: expunged at QUIT */
	bool retrieved; /* RETR: \Seen at QUIT */
	bool seen;	/* had \Seen at login */
};

enum pop3_send_kind { SEND_NONE, SEND_LIST, SEND_UIDL, SEND_MESSAGE };

/* A multi-line reply being streamed; cleared when it is done. */
struct pop3_send {
	enum pop3_send_kind kind;
	uint32_t next; /* LIST, UIDL: next message index */
	char *data;    /* RETR, TOP: the stored message */
	size_t len, off;
	struct pop3_encoder enc;
};

struct pop3_session {
	struct conn *c;
	struct server *srv;
	enum pop3_state state;
	struct pop3_parser parser;
	unsigned errors;
	bool shutdown; /* close once the current reply is done */
	/* Authorization. */
	char *user_name; /* from USER, until PASS */
	struct sasl *sasl;
	struct auth_login_req *login;
	char *scram_user;
	/* Transaction (the maildrop, fixed at login). */
	int64_t user_id;
	char *user_address;
	bool locked; /* holds the maildrop lock of user_id */
	int64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	uint32_t count;
	uint32_t live_count; /* not marked deleted */
	uint64_t live_size;
	struct pop3_send send;
};

static char chunk_buf[CHUNK_SIZE];

static void pop3_reply(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pop3_read(struct conn *c, void *session);

static void pop3_enter_state(struct pop3_session *s, enum pop3_state state)
{
	if (s->state != state)
		log_session_debug(s->c->id, "pop3 state %s -> %s", state_names[s->state], state_names[state]);
	s->state = state;
}

/* One status line; "-ERR" ones are logged. */
static void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	if (line[0] == '-')
		log_session(s->c->id, "pop3 reply \"%.*s\"", n, line);
	line[n++] = '\r';
	line[n++] = '\n';
	conn_write(s->c, line, (size_t)n);
}

static void pop3_close(struct pop3_session *s)
{
	pop3_enter_state(s, POP3_STATE_QUIT);
	conn_close(s->c);
}

/* Counts a client mistake; past max_errors the session ends (without
 * applying DELE marks). Returns true when it did. */
static bool pop3_count_error(struct pop3_session *s)
{
	if (++s->errors < s->srv->cfg->max_errors)
		return false;
	pop3_reply(s, "-ERR Too many errors, closing connection.");
	log_session(s->c->id, "pop3 too many errors (%u)", s->errors);
	pop3_close(s);
	return true;
}

static bool auth_allowed(const struct pop3_session *s)
{
	return s->c->tls || (s->c->loopback && s->srv->cfg->allow_plaintext_loopback);
}

/* ---- the maildrop lock ------------------------------------------------ */

/* One POP3 session per mailbox (RFC 1939 8: an exclusive-access lock).
 * The daemon's worker is one process with one event loop, so a table in
 * memory is enough; a crash of the worker releases every lock with it. */
#define LOCK_BUCKETS 256

struct pop3_lock {
	struct pop3_lock *next;
	int64_t user_id;
};

static struct pop3_lock *locks[LOCK_BUCKETS];

static struct pop3_lock **lock_slot(int64_t user_id)
{
	struct pop3_lock **slot = &locks[(uint64_t)user_id % LOCK_BUCKETS];
	while (*slot != NULL && (*slot)->user_id != user_id)
		slot = &(*slot)->next;
	return slot;
}

/* true when the lock was free and is now ours. */
static bool lock_take(int64_t user_id)
{
	struct pop3_lock **slot = lock_slot(user_id);
	if (*slot != NULL)
		return false;
	*slot = xmalloc(sizeof(**slot));
	(*slot)->user_id = user_id;
	return true;
}

static void lock_release(int64_t user_id)
{
	struct pop3_lock **slot = lock_slot(user_id);
	struct pop3_lock *l = *slot;
	if (l == NULL)
		return;
	*slot = l->next;
	free(l);
}

/* ---- login ------------------------------------------------------------ */

static void maildrop_clear(struct pop3_session *s)
{
	free(s->msgs);
	s->msgs = NULL;
	s->count = s->live_count = 0;
	s->live_size = 0;
	if (s->locked)
		lock_release(s->user_id);
	s->locked = false;
}

/* Reads the INBOX list: the maildrop of this session. 0, or -1 with the
 * reply already sent. */
static int maildrop_open(struct pop3_session *s)
{
	const char *error;
	struct store *st = s->srv->store;
	struct store_mailbox mb = {0};
	int r = store_mailbox_get(st, s->user_id, "INBOX", &mb, &error);
	if (r <= 0) {
		log_session(s->c->id, "pop3 cannot open INBOX of %s: %s", s->user_address,
			    r < 0 ? error : "missing");
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the mailbox, try again later.");
		return -1;
	}
	s->mailbox_id = mb.id;
	s->uidvalidity = mb.uidvalidity;
	size_t cap = mb.messages > 0 ? mb.messages : 16;
	store_mailbox_clear(&mb);
	s->msgs = xcalloc(cap, sizeof(*s->msgs));
	s->count = 0;
	/* XXX one synchronous scan on the loop: a few ms per 10,000 messages. */
	struct store_msg_iter *it = store_msg_iter_new(st, s->mailbox_id, 1, UINT32_MAX, STORE_FIELD_BASIC);
	struct store_msg m;
	while (store_msg_iter_next(it, &m) == 1) {
		if (s->count == cap) {
			cap *= 2;
			s->msgs = xreallocarray(s->msgs, cap, sizeof(*s->msgs));
		}
		if (s->count == UINT32_MAX)
			break;
		struct pop3_msg *pm = &s->msgs[s->count++];
		memset(pm, 0, sizeof(*pm));
		pm->id = m.id;
		pm->uid = m.uid;
		pm->size = m.size;
		pm->seen = (m.flags & STORE_FLAG_SEEN) != 0;
		s->live_size += m.size;
	}
	if (store_msg_iter_free(&it, &error) < 0) {
		log_session(s->c->id, "pop3 cannot list INBOX of %s: %s", s->user_address, error);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot read the mailbox, try again later.");
		free(s->msgs);
		s->msgs = NULL;
		s->count = 0;
		s->live_size = 0;
		return -1;
	}
	s->live_count = s->count;
	return 0;
}

static void auth_done(struct pop3_session *s)
{
	sasl_free(&s->sasl);
	XFREE(&s->user_name);
	XFREE(&s->scram_user);
}

static void login_cb(enum auth_login_result result, const char *user, void *ctx)
{
	struct pop3_session *s = ctx;
	s->login = NULL;
	const char *name = s->sasl ? sasl_username(s->sasl) : (s->user_name ? s->user_name : "");
	struct store_user u = {0};
	const char *error;
	if (result == AUTH_LOGIN_OK && (user == NULL || store_user_get(s->srv->store, user, &u, &error) != 1))
		result = AUTH_LOGIN_TEMPFAIL;
	pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
	switch (result) {
	case AUTH_LOGIN_OK:
		if (!lock_take(u.id)) {
			log_session(s->c->id, "pop3 login user=%s result=in-use", u.address);
			pop3_reply(s, "-ERR [IN-USE] Mailbox is locked by another POP3 session.");
			break;
		}
		s->user_id = u.id;
		s->locked = true;
		s->user_address = xstrdup(u.address);
		if (maildrop_open(s) < 0) {
			maildrop_clear(s);
			XFREE(&s->user_address);
			s->user_id = 0;
			break;
		}
		log_session(s->c->id, "pop3 login user=%s messages=%u bytes=%llu", u.address, s->count,
			    (unsigned long long)s->live_size);
		pop3_enter_state(s, POP3_STATE_TRANSACTION);
		pop3_reply(s, "+OK Logged in, %u messages (%llu octets).", s->count,
			   (unsigned long long)s->live_size);
		break;
	case AUTH_LOGIN_FAILED:
		log_session(s->c->id, "pop3 auth user=%s result=failed", name);
		pop3_reply(s, "-ERR [AUTH] Authentication failed.");
		break;
	case AUTH_LOGIN_BLOCKED:
		log_session(s->c->id, "pop3 auth user=%s result=blocked address=%s", name, s->c->peer_ip);
		pop3_reply(s, "-ERR [AUTH] Too many failed logins from your address, try again later.");
		store_user_clear(&u);
		auth_done(s);
		pop3_close(s);
		conn_resume(s->c);
		return;
	case AUTH_LOGIN_TEMPFAIL:
		pop3_reply(s, "-ERR [SYS/TEMP] Temporary authentication failure, try again later.");
		break;
	}
	store_user_clear(&u);
	auth_done(s);
	if (result == AUTH_LOGIN_FAILED)
		pop3_count_error(s);
	if (s->shutdown && !conn_closing(s->c)) {
		/* Not a QUIT: nothing is deleted. */
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down.");
		pop3_close(s);
	}
	conn_resume(s->c);
}

static void sasl_step(struct pop3_session *s, enum sasl_status st, const char *challenge, const char *error)
{
	for (;;) {
		switch (st) {
		case SASL_STATUS_CHALLENGE:
			pop3_reply(s, "+ %s", challenge);
			pop3_parser_expect_sasl(&s->parser);
			pop3_enter_state(s, POP3_STATE_SASL);
			return;
		case SASL_STATUS_NEED_SCRAM_SECRETS: {
			char *secrets = NULL, *canonical = NULL;
			const char *lookup_error;
			if (auth_login_scram_lookup(s->srv->login, sasl_username(s->sasl), &secrets,
						    &canonical, &lookup_error) < 0) {
				auth_done(s);
				pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
				pop3_reply(
				    s, "-ERR [SYS/TEMP] Temporary authentication failure, try again later.");
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
			pop3_enter_state(s, POP3_STATE_WAIT);
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
			pop3_reply(s, "-ERR %s.", error ? error : "Malformed authentication data");
			break;
		case SASL_STATUS_CANCELLED:
			pop3_reply(s, "-ERR Authentication cancelled.");
			break;
		}
		auth_done(s);
		pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
		pop3_count_error(s);
		return;
	}
}

/* ---- commands in AUTHORIZATION ---------------------------------------- */

static bool need_auth_allowed(struct pop3_session *s)
{
	if (auth_allowed(s))
		return true;
	pop3_reply(
	    s, "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first.");
	pop3_count_error(s);
	return false;
}

static void cmd_user(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!need_auth_allowed(s))
		return;
	if (cmd->arg_len > USER_MAX) {
		pop3_reply(s, "-ERR User name too long.");
		pop3_count_error(s);
		return;
	}
	free(s->user_name);
	s->user_name = xstrndup(cmd->arg, cmd->arg_len);
	/* Never say whether the user exists. */
	pop3_reply(s, "+OK");
}

static void cmd_pass(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!need_auth_allowed(s))
		return;
	if (s->user_name == NULL) {
		pop3_reply(s, "-ERR No user name given: send USER first.");
		pop3_count_error(s);
		return;
	}
	/* The password stays in the parser's line, which is wiped on its next
	 * call; auth_login copies what it needs. */
	char *password = xstrndup(cmd->arg, cmd->arg_len);
	pop3_enter_state(s, POP3_STATE_WAIT);
	conn_suspend(s->c);
	s->login = auth_login_password(s->srv->login, (struct sockaddr *)&s->c->peer, s->user_name, password,
				       login_cb, s);
	explicit_bzero(password, cmd->arg_len);
	free(password);
}

static const char sasl_mechs[] = "PLAIN LOGIN SCRAM-SHA-256";

static void cmd_auth(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (cmd->arg == NULL) {
		/* The pre-RFC 5034 form that some clients still send first. */
		conn_puts(s->c, "+OK\r\nPLAIN\r\nLOGIN\r\nSCRAM-SHA-256\r\n.\r\n");
		return;
	}
	if (!need_auth_allowed(s))
		return;
	char name[32];
	snprintf(name, sizeof(name), "%.*s",
		 (int)(cmd->arg_len < sizeof(name) ? cmd->arg_len : sizeof(name) - 1), cmd->arg);
	enum sasl_mech mech;
	if (cmd->arg_len >= sizeof(name) || sasl_mech_parse(name, &mech) < 0) {
		pop3_reply(s, "-ERR Unsupported authentication mechanism.");
		pop3_count_error(s);
		return;
	}
	if (auth_login_blocked(s->srv->login, (struct sockaddr *)&s->c->peer, NULL)) {
		pop3_reply(s, "-ERR [AUTH] Too many failed logins from your address, try again later.");
		pop3_close(s);
		return;
	}
	XFREE(&s->user_name);
	s->sasl = sasl_new(mech);
	const char *challenge = NULL, *error = NULL;
	enum sasl_status st = sasl_start(s->sasl, cmd->ir, cmd->ir_len, &challenge, &error);
	sasl_step(s, st, challenge, error);
}

static void sasl_response(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *challenge = NULL, *error = NULL;
	enum sasl_status st = sasl_continue(s->sasl, cmd->arg, cmd->arg_len, &challenge, &error);
	sasl_step(s, st, challenge, error);
}

static void cmd_stls(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (s->c->tls) {
		pop3_reply(s, "-ERR TLS is already active.");
		pop3_count_error(s);
		return;
	}
	if (!conn_tls_available(s->c)) {
		pop3_reply(s, "-ERR [SYS/TEMP] TLS is not available.");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation now.");
	if (conn_starttls(s->c) < 0) {
		pop3_close(s);
		return;
	}
	/* RFC 2595 4: forget what was learnt in clear; conn dropped any
	 * input pipelined after STLS, the parser drops its partial line. */
	XFREE(&s->user_name);
	pop3_parser_deinit(&s->parser);
	pop3_parser_init(&s->parser);
}

/* ---- commands in any state -------------------------------------------- */

static void cmd_capa(struct pop3_session *s, const struct pop3_command *cmd)
{
	bool authz = s->state == POP3_STATE_AUTHORIZATION;
	char text[512];
	snprintf(text, sizeof(text),
		 "+OK Capability list "
		 "follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n%s%s%s%s"
		 "IMPLEMENTATION Posthorn\r\n.\r\n",
		 authz && auth_allowed(s) ? "USER\r\nSASL " : "", authz && auth_allowed(s) ? sasl_mechs : "",
		 authz && auth_allowed(s) ? "\r\n" : "",
		 authz && !s->c->tls && conn_tls_available(s->c) ? "STLS\r\n" : "");
	conn_puts(s->c, text);
}

static void cmd_quit_authz(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_reply(s, "+OK Bye.");
	pop3_close(s);
}

/* ---- commands in TRANSACTION ------------------------------------------ */

/* The message a command names: NULL (reply sent) when there is none. */
static struct pop3_msg *msg_arg(struct pop3_session *s, uint32_t n)
{
	if (n == 0 || n > s->count) {
		pop3_reply(s, "-ERR There is no message %u.", n);
		pop3_count_error(s);
		return NULL;
	}
	struct pop3_msg *m = &s->msgs[n - 1];
	if (m->deleted) {
		pop3_reply(s, "-ERR Message %u is marked as deleted.", n);
		return NULL;
	}
	return m;
}

static void send_clear(struct pop3_session *s)
{
	free(s->send.data);
	memset(&s->send, 0, sizeof(s->send));
}

/* Produces the next piece of the reply being streamed. Returns true when
 * the reply is complete. */
static bool send_fill(struct pop3_session *s)
{
	struct pop3_send *sd = &s->send;
	if (sd->kind == SEND_MESSAGE) {
		size_t used;
		/* Room is kept for the end of the reply. */
		size_t n = pop3_encode(&sd->enc, sd->data + sd->off, sd->len - sd->off, &used, chunk_buf,
				       sizeof(chunk_buf) - POP3_ENCODE_END_MAX);
		sd->off += used;
		if (sd->off == sd->len)
			n += pop3_encode_end(&sd->enc, chunk_buf + n, POP3_ENCODE_END_MAX);
		conn_write(s->c, chunk_buf, n);
		return sd->off == sd->len;
	}
	/* LIST, UIDL: whole lines, as many as fit. */
	size_t o = 0;
	while (sd->next < s->count && sizeof(chunk_buf) - o > 64) {
		const struct pop3_msg *m = &s->msgs[sd->next++];
		if (m->deleted)
			continue;
		int n =
		    sd->kind == SEND_LIST
			? snprintf(chunk_buf + o, 64, "%u %llu\r\n", sd->next, (unsigned long long)m->size)
			: snprintf(chunk_buf + o, 64, "%u %u.%u\r\n", sd->next, s->uidvalidity, m->uid);
		o += (size_t)n;
	}
	bool done = sd->next >= s->count;
	if (done) {
		memcpy(chunk_buf + o, ".\r\n", 3);
		o += 3;
	}
	conn_write(s->c, chunk_buf, o);
	return done;
}

/* Streams the current reply until the output is full or the reply is done;
 * then back to TRANSACTION. */
static void pop3_pump(struct pop3_session *s)
{
	while (s->state == POP3_STATE_SENDING && !conn_closing(s->c)) {
		if (conn_output_pending(s->c) >= OUT_HIGH)
			return; /* handler->drained continues */
		if (send_fill(s)) {
			send_clear(s);
			pop3_enter_state(s, POP3_STATE_TRANSACTION);
			if (s->shutdown) {
				pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down.");
				pop3_close(s);
			}
		}
	}
}

static void start_send(struct pop3_session *s, enum pop3_send_kind kind)
{
	s->send.kind = kind;
	pop3_enter_state(s, POP3_STATE_SENDING);
	pop3_pump(s);
}

static void cmd_stat(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_reply(s, "+OK %u %llu", s->live_count, (unsigned long long)s->live_size);
}

static void cmd_list(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (cmd->has_msg) {
		struct pop3_msg *m = msg_arg(s, cmd->msg);
		if (m != NULL)
			pop3_reply(s, "+OK %u %llu", cmd->msg, (unsigned long long)m->size);
		return;
	}
	pop3_reply(s, "+OK %u messages (%llu octets)", s->live_count, (unsigned long long)s->live_size);
	start_send(s, SEND_LIST);
}

static void cmd_uidl(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (cmd->has_msg) {
		struct pop3_msg *m = msg_arg(s, cmd->msg);
		if (m != NULL)
			pop3_reply(s, "+OK %u %u.%u", cmd->msg, s->uidvalidity, m->uid);
		return;
	}
	pop3_reply(s, "+OK Unique-ID listing follows");
	start_send(s, SEND_UIDL);
}

static void send_message(struct pop3_session *s, const struct pop3_command *cmd, bool top)
{
	struct pop3_msg *m = msg_arg(s, cmd->msg);
	if (m == NULL)
		return;
	char *data;
	size_t len;
	const char *error;
	int r = store_msg_read(s->srv->store, m->id, &data, &len, &error);
	if (r < 0) {
		log_session(s->c->id, "pop3 cannot read message uid=%u: %s", m->uid, error);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot read the message, try again later.");
		return;
	}
	if (r == 0) {
		/* Expunged through IMAP or the webmail during this session. */
		pop3_reply(s, "-ERR Message %u was removed by another session.", cmd->msg);
		return;
	}
	if (top)
		pop3_reply(s, "+OK");
	else
		pop3_reply(s, "+OK %llu octets", (unsigned long long)m->size);
	if (!top)
		m->retrieved = true;
	s->send.data = data;
	s->send.len = len;
	pop3_encoder_init(&s->send.enc, top, cmd->lines);
	start_send(s, SEND_MESSAGE);
}

static void cmd_retr(struct pop3_session *s, const struct pop3_command *cmd)
{
	send_message(s, cmd, false);
}

static void cmd_top(struct pop3_session *s, const struct pop3_command *cmd)
{
	send_message(s, cmd, true);
}

static void cmd_dele(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct pop3_msg *m = msg_arg(s, cmd->msg);
	if (m == NULL)
		return;
	m->deleted = true;
	s->live_count--;
	s->live_size -= m->size;
	pop3_reply(s, "+OK Message %u marked as deleted.", cmd->msg);
}

static void cmd_noop(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_reply(s, "+OK");
}

static void cmd_rset(struct pop3_session *s, const struct pop3_command *cmd)
{
	s->live_count = s->count;
	s->live_size = 0;
	for (uint32_t i = 0; i < s->count; i++) {
		s->msgs[i].deleted = false;
		s->live_size += s->msgs[i].size;
	}
	pop3_reply(s, "+OK %u messages (%llu octets).", s->live_count, (unsigned long long)s->live_size);
}

/* UPDATE (RFC 1939 6): \Seen for what was retrieved, then every DELE mark
 * in one expunge, which IMAP and webmail sessions see at once. */
static void cmd_quit_update(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_enter_state(s, POP3_STATE_UPDATE);
	uint32_t *seen = xcalloc(s->count ? s->count : 1, sizeof(*seen));
	uint32_t *dele = xcalloc(s->count ? s->count : 1, sizeof(*dele));
	size_t nseen = 0, ndele = 0;
	for (uint32_t i = 0; i < s->count; i++) {
		if (s->msgs[i].deleted)
			dele[ndele++] = s->msgs[i].uid;
		else if (s->msgs[i].retrieved && !s->msgs[i].seen)
			seen[nseen++] = s->msgs[i].uid;
	}
	const char *error;
	struct store *st = s->srv->store;
	if (nseen > 0 && store_msg_set_flags(st, s->mailbox_id, seen, nseen, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
					     NULL, 0, NULL, NULL, &error) < 0)
		log_session(s->c->id, "pop3 cannot set \\Seen: %s", error);
	int expunged = ndele > 0 ? store_msg_expunge(st, s->mailbox_id, dele, ndele, &error) : 0;
	if (expunged < 0) {
		log_session(s->c->id, "pop3 quit user=%s expunge failed: %s", s->user_address, error);
		pop3_reply(s, "-ERR [SYS/TEMP] Deleted messages were not removed, try again.");
	} else {
		log_session(s->c->id, "pop3 quit user=%s deleted=%d newly-seen=%zu", s->user_address,
			    expunged, nseen);
		pop3_reply(s, expunged > 0 ? "+OK Logging out, messages deleted." : "+OK Logging out.");
	}
	free(seen);
	free(dele);
	pop3_close(s);
}

/* ---- dispatch --------------------------------------------------------- */

#define IN_AUTHZ (1u << POP3_STATE_AUTHORIZATION)
#define IN_TRANS (1u << POP3_STATE_TRANSACTION)

struct pop3_cmd_entry {
	enum pop3_cmd cmd;
	unsigned states;
	void (*handler)(struct pop3_session *s, const struct pop3_command *cmd);
};

/* QUIT appears twice: its meaning depends on the state. */
static const struct pop3_cmd_entry commands[] = {
    {POP3_CMD_CAPA, IN_AUTHZ | IN_TRANS, cmd_capa},
    {POP3_CMD_USER, IN_AUTHZ, cmd_user},
    {POP3_CMD_PASS, IN_AUTHZ, cmd_pass},
    {POP3_CMD_AUTH, IN_AUTHZ, cmd_auth},
    {POP3_CMD_STLS, IN_AUTHZ, cmd_stls},
    {POP3_CMD_QUIT, IN_AUTHZ, cmd_quit_authz},
    {POP3_CMD_STAT, IN_TRANS, cmd_stat},
    {POP3_CMD_LIST, IN_TRANS, cmd_list},
    {POP3_CMD_UIDL, IN_TRANS, cmd_uidl},
    {POP3_CMD_RETR, IN_TRANS, cmd_retr},
    {POP3_CMD_TOP, IN_TRANS, cmd_top},
    {POP3_CMD_DELE, IN_TRANS, cmd_dele},
    {POP3_CMD_NOOP, IN_TRANS, cmd_noop},
    {POP3_CMD_RSET, IN_TRANS, cmd_rset},
    {POP3_CMD_QUIT, IN_TRANS, cmd_quit_update},
};

static void dispatch(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (cmd->cmd == POP3_CMD_SASL_RESPONSE) {
		sasl_response(s, cmd);
		return;
	}
	if (cmd->cmd == POP3_CMD_PASS || cmd->cmd == POP3_CMD_AUTH)
		log_session_debug(s->c->id, "pop3 command %s ****", pop3_cmd_name(cmd->cmd));
	else if (cmd->cmd == POP3_CMD_UNKNOWN)
		log_session_debug(s->c->id, "pop3 command %.*s (unknown)",
				  (int)(cmd->verb_len > 16 ? 16 : cmd->verb_len), cmd->verb);
	else if (cmd->cmd == POP3_CMD_USER)
		log_session_debug(s->c->id, "pop3 command USER %.*s", (int)cmd->arg_len, cmd->arg);
	else
		log_session_debug(s->c->id, "pop3 command %s %u %u", pop3_cmd_name(cmd->cmd), cmd->msg,
				  cmd->lines);
	if (cmd->cmd == POP3_CMD_UNKNOWN) {
		/* A web browser or proxy on the mail port: not a mail client. */
		static const char *const http[] = {"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS"};
		for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++) {
			if (cmd->verb_len == strlen(http[i]) &&
			    strncasecmp(cmd->verb, http[i], cmd->verb_len) == 0) {
				log_session(s->c->id, "pop3 %s command from a non-POP3 client, closing",
					    http[i]);
				pop3_close(s);
				return;
			}
		}
		pop3_reply(s, "-ERR Unknown command.");
		pop3_count_error(s);
		return;
	}
	bool known_elsewhere = false;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].cmd != cmd->cmd)
			continue;
		if (commands[i].states & (1u << s->state)) {
			commands[i].handler(s, cmd);
			return;
		}
		known_elsewhere = true;
	}
	if (known_elsewhere && s->state == POP3_STATE_AUTHORIZATION)
		pop3_reply(s, "-ERR Not logged in.");
	else if (known_elsewhere)
		pop3_reply(s, "-ERR Already logged in.");
	else
		pop3_reply(s, "-ERR Unknown command.");
	pop3_count_error(s);
}

static void pop3_read(struct conn *c, void *session)
{
	struct pop3_session *s = session;
	while (!conn_closing(c) && (s->state == POP3_STATE_AUTHORIZATION ||
				    s->state == POP3_STATE_TRANSACTION || s->state == POP3_STATE_SASL)) {
		/* A client that pipelines faster than it reads: wait for drained. */
		if (conn_output_pending(c) >= OUT_HIGH)
			return;
		struct evbuffer *in = conn_input(c);
		if (evbuffer_get_length(in) == 0)
			return;
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		struct pop3_command cmd;
		const char *error = NULL;
		size_t used = 0;
		int r = pop3_parse(&s->parser, v.iov_base, v.iov_len, &used, &cmd, &error);
		/* cmd points into the parser, not into the input. */
		evbuffer_drain(in, used);
		if (r == 0)
			continue;
		if (r < 0) {
			if (s->state == POP3_STATE_SASL) {
				auth_done(s);
				pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
			}
			pop3_reply(s, "-ERR %s.", error);
			pop3_count_error(s);
			continue;
		}
		dispatch(s, &cmd);
	}
}

/* ---- the handler ------------------------------------------------------ */

static void *pop3_open(struct conn *c)
{
	struct pop3_session *s = xmalloc(sizeof(*s));
	s->c = c;
	s->srv = c->server;
	s->state = POP3_STATE_AUTHORIZATION;
	pop3_parser_init(&s->parser);
	pop3_reply(s, "+OK %s Posthorn POP3 ready.", s->srv->cfg->hostname);
	return s;
}

static void pop3_drained(struct conn *c, void *session)
{
	struct pop3_session *s = session;
	if (s->state == POP3_STATE_SENDING)
		pop3_pump(s);
	if (s->state != POP3_STATE_SENDING)
		pop3_read(c, s);
}

static void pop3_timeout(struct conn *c, void *session)
{
	struct pop3_session *s = session;
	/* RFC 1939 3: an inactivity timeout does not enter UPDATE. */
	pop3_reply(s, "-ERR Disconnected for inactivity.");
	pop3_enter_state(s, POP3_STATE_QUIT);
}

static void pop3_shutdown(struct conn *c, void *session)
{
	struct pop3_session *s = session;
	switch (s->state) {
	case POP3_STATE_SENDING:
	case POP3_STATE_WAIT:
		/* Finish the reply (or the login), then say goodbye. */
		s->shutdown = true;
		break;
	default:
		/* Not a QUIT: DELE marks are not applied. */
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down.");
		pop3_close(s);
	}
}

static void pop3_free(struct conn *c, void *session)
{
	struct pop3_session *s = session;
	if (s->state == POP3_STATE_TRANSACTION || s->state == POP3_STATE_SENDING)
		log_session(c->id, "pop3 session of %s ended without QUIT, nothing deleted", s->user_address);
	auth_login_cancel(&s->login);
	auth_done(s);
	send_clear(s);
	maildrop_clear(s);
	free(s->user_address);
	pop3_parser_deinit(&s->parser);
	free(s);
}

const struct conn_handler pop3_handler = {
    .name = "pop3",
    .open = pop3_open,
    .read = pop3_read,
    .drained = pop3_drained,
    .timeout = pop3_timeout,
    .shutdown = pop3_shutdown,
    .free = pop3_free,
    .busy_reply = "-ERR [SYS/TEMP] Too many connections, try again later.\r\n",
};
