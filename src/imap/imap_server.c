/* imap_server: IMAP sessions on the imap and imaps listeners (see
 * imap_server.h and imap_private.h).
 *
 * Input goes through the incremental parser (imap_parse) straight from the
 * connection's input buffer, chunk by chunk, so nothing but the command
 * being parsed is held; literals are checked against the limits before the
 * "+" continuation is sent. A whole command is dispatched through the table
 * below, which says in which states it is allowed and whether it has a UID
 * form. While a command waits (password check, APPEND's commit, IDLE, a
 * long FETCH) the session reads nothing more: pipelined commands stay in
 * the input buffer and keep their order; so do they while a client that
 * does not read has more than IMAP_OUTPUT_HIGH of answers waiting. Lines
 * that are not commands (SASL
 * responses, IDLE's DONE) are read with the bounded line reader. */
#include "imap/imap_server.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_login.h"
#include "auth/sasl.h"
#include "core/server.h"
#include "imap/imap_private.h"
#include "util/charset.h"
#include "util/lineio.h"
#include "util/log.h"
#include "util/mem.h"

/* Answers waiting to be sent beyond which no further command is read
 * (IMAP_WAIT_READER): a client that pipelines commands without reading
 * their answers must not grow the server. One streaming command keeps its
 * own output bounded (imap_fetch). */
#define IMAP_OUTPUT_HIGH (256 * 1024)

/* Before authentication everything is much tighter. */
/* ID may carry 30 pairs of 1024-octet values (RFC 2971 3.3). */
#define IMAP_PREAUTH_LINE 40960
#define IMAP_PREAUTH_LITERAL 16384
#define IMAP_IDLE_LINE 1024

static const char *const state_names[] = {"noauth", "auth", "selected", "logout"};

/* Lines outside commands (SASL, IDLE) are handled one at a time on the
 * loop thread, so one buffer serves every session. */
static char line_buf[SASL_LINE_MAX + 2];

/* ---- output ----------------------------------------------------------- */

void imap_write(struct imap_session *s, const void *data, size_t len)
{
	conn_write(s->c, data, len);
}

void imap_write_buf(struct imap_session *s, const struct buf *b)
{
	if (b->len > 0)
		conn_write(s->c, b->data, b->len);
}

void imap_printf(struct imap_session *s, const char *fmt, ...)
{
	char small[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		conn_write(s->c, small, (size_t)n);
		return;
	}
	struct buf b;
	buf_init(&b, (size_t)n + 1);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	imap_write_buf(s, &b);
	buf_free(&b);
}

static void enter_state(struct imap_session *s, enum imap_state state)
{
	if (s->state != state)
		log_session_debug(s->c->id, "imap state %s -> %s", state_names[s->state], state_names[state]);
	s->state = state;
}

static void imap_close(struct imap_session *s)
{
	enter_state(s, IMAP_STATE_LOGOUT);
	conn_close(s->c);
}

/* Counts a client mistake; past max_errors the session ends. */
static bool count_error(struct imap_session *s)
{
	if (++s->errors < s->srv->cfg->max_errors)
		return false;
	imap_printf(s, "* BYE Too many invalid commands.\r\n");
	log_session(s->c->id, "imap too many errors (%u)", s->errors);
	imap_close(s);
	return true;
}

/* The command is over: forget it and read on. */
static void command_end(struct imap_session *s)
{
	if (s->cmd_ctx_free != NULL && s->cmd_ctx != NULL)
		s->cmd_ctx_free(s->cmd_ctx);
	s->cmd_ctx = NULL;
	s->cmd_ctx_free = NULL;
	s->drained = NULL;
	s->literal_refused = false;
	s->literal_error = NULL;
	s->literal_total = 0;
	memset(&s->cur, 0, sizeof(s->cur));
	s->parser.max_line = s->state == IMAP_STATE_NOAUTH ? IMAP_PREAUTH_LINE : s->srv->cfg->imap_max_line;
	imap_parser_reset(&s->parser);
	bool waited = s->wait != IMAP_WAIT_NONE;
	s->wait = IMAP_WAIT_NONE;
	if (s->shutdown && s->state != IMAP_STATE_LOGOUT) {
		imap_printf(s, "* BYE Server shutting down.\r\n");
		imap_close(s);
	}
	if (waited)
		conn_resume(s->c);
}

static void tagged_line(struct imap_session *s, const char *tag, const char *status, const char *fmt,
			va_list ap) __attribute__((format(printf, 4, 0)));

static void tagged_line(struct imap_session *s, const char *tag, const char *status, const char *fmt,
			va_list ap)
{
	char text[1024];
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		text[0] = '\0';
	imap_printf(s, "%s %s %s\r\n", tag, status, text);
	if (strcmp(status, "OK") != 0)
		log_session_debug(s->c->id, "imap reply %s %s %s", tag, status, text);
}

void imap_done(struct imap_session *s, struct imap_cmd *cmd, const char *status, const char *fmt, ...)
{
	unsigned own = s->notify != NULL ? imap_notify_command_begin(s, cmd) : 0;
	if (s->sel != NULL && s->state == IMAP_STATE_SELECTED)
		imap_sync(s, ((cmd->flags & IMAP_CMD_NO_EXPUNGE) && !cmd->uid ? 0 : IMAP_SYNC_EXPUNGE) | own);
	if (s->notify != NULL)
		imap_notify_command_end(s);
	va_list ap;
	va_start(ap, fmt);
	tagged_line(s, cmd->tag, status, fmt, ap);
	va_end(ap);
	command_end(s);
}

void imap_bad(struct imap_session *s, struct imap_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tagged_line(s, cmd->tag, "BAD", fmt, ap);
	va_end(ap);
	command_end(s);
	count_error(s);
}

void imap_finish(struct imap_session *s)
{
	command_end(s);
}

void imap_wait(struct imap_session *s, enum imap_wait what)
{
	s->wait = what;
	if (what != IMAP_WAIT_SASL && what != IMAP_WAIT_IDLE)
		conn_suspend(s->c);
}

/* ---- capabilities ------------------------------------------------------ */

void imap_capabilities(struct imap_session *s, struct buf *out)
{
	const struct config *cfg = s->srv->cfg;
	buf_puts(out, "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE");
	if (s->state == IMAP_STATE_NOAUTH) {
		if (!s->c->tls && conn_tls_available(s->c))
			buf_puts(out, " STARTTLS");
		if (s->c->tls || (s->c->loopback && cfg->allow_plaintext_loopback))
			buf_puts(out, " AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256");
		else
			buf_puts(out, " LOGINDISABLED");
		return;
	}
	buf_puts(out, " NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS"
		      " STATUS=SIZE ESEARCH SEARCHRES CONTEXT=SEARCH SORT SORT=DISPLAY ESORT"
		      " THREAD=REFERENCES THREAD=ORDEREDSUBJECT CONDSTORE QRESYNC BINARY MULTIAPPEND CATENATE"
		      " QUOTA QUOTA=RES-STORAGE UTF8=ACCEPT NOTIFY");
	buf_printf(out, " APPENDLIMIT=%llu", (unsigned long long)cfg->max_message_size);
	if (!s->compressed)
		buf_puts(out, " COMPRESS=DEFLATE");
}

/* ---- names ------------------------------------------------------------- */

const char *imap_astring(const struct imap_arg *a)
{
	if (a == NULL || !imap_arg_is_astring(a))
		return NULL;
	if (a->type == IMAP_ARG_LITERAL && memchr(a->str, '\0', a->len) != NULL)
		return NULL;
	return a->str;
}

char *imap_name_in(struct imap_session *s, const struct imap_arg *a, const char **error_r)
{
	const char *raw = imap_astring(a);
	if (raw == NULL) {
		*error_r = "Invalid mailbox name";
		return NULL;
	}
	struct buf b;
	buf_init(&b, 4096);
	if (s->utf8) {
		if (!utf8_valid(raw, strlen(raw)) || buf_puts(&b, raw) < 0) {
			buf_free(&b);
			*error_r = "Mailbox name is not valid UTF-8";
			return NULL;
		}
	} else if (imap_utf7_decode(raw, strlen(raw), &b) < 0) {
		buf_free(&b);
		*error_r = "Mailbox name is not valid modified UTF-7";
		return NULL;
	}
	/* INBOX is case-insensitive (also as the first level of a hierarchy). */
	if (b.len >= 5 && strncasecmp(b.data, "INBOX", 5) == 0 &&
	    (b.len == 5 || b.data[5] == STORE_MAILBOX_SEP))
		memcpy(b.data, "INBOX", 5);
	if (b.len == 0) {
		buf_free(&b);
		*error_r = "Empty mailbox name";
		return NULL;
	}
	return buf_steal(&b, NULL);
}

int imap_name_out(struct imap_session *s, const char *name, struct buf *out)
{
	size_t len = strlen(name);
	if (s->utf8)
		return imap_append_astring(out, name, len, true);
	struct buf b;
	buf_init(&b, len * 4 + 16);
	int r = imap_utf7_encode(name, len, &b);
	if (r == 0)
		r = imap_append_astring(out, b.data ? b.data : "", b.len, false);
	buf_free(&b);
	return r;
}

void imap_enable_condstore(struct imap_session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->sel != NULL)
		imap_printf(s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n", (unsigned long long)s->sel->modseq);
}

void imap_unselect(struct imap_session *s)
{
	imap_selected_free(&s->sel);
	if (s->state == IMAP_STATE_SELECTED)
		enter_state(s, IMAP_STATE_AUTH);
}

/* ---- authentication ----------------------------------------------------- */

/* Change notifications for the user's mailboxes: the selected one is
 * looked at again before the next reply, or at once while IDLE; with
 * NOTIFY, what it asked for goes out at once (cmd_notify.c). */
static void watch_cb(void *ctx, int64_t user_id, int64_t mailbox_id)
{
	struct imap_session *s = ctx;
	if (s->freed)
		return; /* the connection is gone; APPEND's commit still runs */
	if (s->sel != NULL && mailbox_id == s->sel->id) {
		s->sel->dirty = true;
		if (s->wait == IMAP_WAIT_IDLE)
			imap_idle_notify(s);
	}
	/* NOTIFY: other mailboxes, and the selected one outside IDLE. */
	if (s->notify != NULL)
		imap_notify_watch(s, mailbox_id);
}

int imap_login_as(struct imap_session *s, const char *user, const char **error_r)
{
	struct store_user u = {0};
	int r = store_user_get(s->srv->store, user, &u, error_r);
	if (r <= 0) {
		if (r == 0)
			*error_r = "user vanished";
		return -1;
	}
	s->user_id = u.id;
	free(s->user);
	s->user = xstrdup(u.address);
	store_user_clear(&u);
	s->watch = store_watch_add(s->srv->store, s->user_id, watch_cb, s);
	enter_state(s, IMAP_STATE_AUTH);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

struct imap_command {
	const char *name;
	imap_cmd_fn *fn;
	unsigned flags;
};

#define ANY 0
#define NOAUTH IMAP_CMD_NOAUTH
#define AUTH IMAP_CMD_AUTH
#define SEL (IMAP_CMD_AUTH | IMAP_CMD_SELECTED)
#define UID IMAP_CMD_UID
#define NOEXP IMAP_CMD_NO_EXPUNGE

static const struct imap_command commands[] = {
    {"CAPABILITY", cmd_capability, ANY},
    {"NOOP", cmd_noop, ANY},
    {"LOGOUT", cmd_logout, ANY},
    {"ID", cmd_id, ANY},
    {"STARTTLS", cmd_starttls, NOAUTH},
    {"LOGIN", cmd_login, NOAUTH},
    {"AUTHENTICATE", cmd_authenticate, NOAUTH},
    {"ENABLE", cmd_enable, AUTH},
    {"NAMESPACE", cmd_namespace, AUTH},
    {"COMPRESS", cmd_compress, AUTH},
    {"SELECT", cmd_select, AUTH},
    {"EXAMINE", cmd_examine, AUTH},
    {"CREATE", cmd_create, AUTH},
    {"DELETE", cmd_delete, AUTH},
    {"RENAME", cmd_rename, AUTH},
    {"SUBSCRIBE", cmd_subscribe, AUTH},
    {"UNSUBSCRIBE", cmd_unsubscribe, AUTH},
    {"LIST", cmd_list, AUTH},
    {"LSUB", cmd_lsub, AUTH},
    {"STATUS", cmd_status, AUTH},
    {"APPEND", cmd_append, AUTH},
    {"IDLE", cmd_idle, AUTH},
    {"GETQUOTA", cmd_getquota, AUTH},
    {"GETQUOTAROOT", cmd_getquotaroot, AUTH},
    {"SETQUOTA", cmd_setquota, AUTH},
    {"NOTIFY", cmd_notify, AUTH},
    {"CHECK", cmd_check, SEL},
    {"CLOSE", cmd_close, SEL},
    {"UNSELECT", cmd_unselect, SEL},
    {"EXPUNGE", cmd_expunge, SEL | UID},
    {"FETCH", cmd_fetch, SEL | UID | NOEXP},
    {"STORE", cmd_store, SEL | UID | NOEXP},
    {"SEARCH", cmd_search, SEL | UID | NOEXP},
    {"SORT", cmd_sort, SEL | UID | NOEXP},
    {"THREAD", cmd_thread, SEL | UID | NOEXP},
    {"CANCELUPDATE", cmd_cancelupdate, SEL},
    {"COPY", cmd_copy, SEL | UID | NOEXP},
    {"MOVE", cmd_move, SEL | UID},
};

static void dispatch(struct imap_session *s)
{
	struct imap_parser *p = &s->parser;
	struct imap_cmd *cmd = &s->cur;
	memset(cmd, 0, sizeof(*cmd));
	cmd->tag = p->tag;
	cmd->name = p->name;
	cmd->args = p->args.list;
	cmd->argc = p->args.count;
	if (strcmp(cmd->name, "LOGIN") == 0 || strcmp(cmd->name, "AUTHENTICATE") == 0)
		log_session_debug(s->c->id, "imap command %s %s ****", cmd->tag, cmd->name);
	else
		log_session_debug(s->c->id, "imap command %s %s", cmd->tag, cmd->name);
	if (s->literal_refused) {
		if (strcmp(cmd->name, "APPEND") == 0)
			imap_done(s, cmd, "NO", "[TOOBIG] %s", s->literal_error);
		else
			imap_bad(s, cmd, "[TOOBIG] %s", s->literal_error);
		return;
	}
	if (strcmp(cmd->name, "UID") == 0) {
		if (cmd->argc == 0 || cmd->args[0].type != IMAP_ARG_ATOM) {
			imap_bad(s, cmd, "UID needs a command");
			return;
		}
		char *sub = cmd->args[0].str;
		for (char *q = sub; *q; q++)
			if (*q >= 'a' && *q <= 'z')
				*q = (char)(*q - 'a' + 'A');
		cmd->name = sub;
		cmd->uid = true;
		cmd->args++;
		cmd->argc--;
	}
	const struct imap_command *def = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd->name) == 0) {
			def = &commands[i];
			break;
		}
	}
	if (def == NULL || (cmd->uid && !(def->flags & IMAP_CMD_UID))) {
		imap_bad(s, cmd, "Unknown command %s%s", cmd->uid ? "UID " : "",
			 strlen(cmd->name) < 40 ? cmd->name : "");
		return;
	}
	cmd->flags = def->flags;
	if ((def->flags & IMAP_CMD_NOAUTH) && s->state != IMAP_STATE_NOAUTH) {
		imap_bad(s, cmd, "Already authenticated");
		return;
	}
	if ((def->flags & IMAP_CMD_AUTH) && s->state == IMAP_STATE_NOAUTH) {
		imap_bad(s, cmd, "Not authenticated yet");
		return;
	}
	if ((def->flags & IMAP_CMD_SELECTED) && s->state != IMAP_STATE_SELECTED) {
		imap_bad(s, cmd, "No mailbox selected");
		return;
	}
	def->fn(s, cmd);
}

/* A literal was announced: accept it (with "+" when the client waits) or
 * refuse it, without allocating anything for it. */
static void literal_check(struct imap_session *s)
{
	struct imap_parser *p = &s->parser;
	const struct config *cfg = s->srv->cfg;
	bool append = p->name != NULL && strcmp(p->name, "APPEND") == 0;
	uint64_t max = s->state == IMAP_STATE_NOAUTH ? IMAP_PREAUTH_LITERAL
		       : append			     ? cfg->max_message_size
						     : cfg->imap_max_line;
	/* MULTIAPPEND: several messages, but not without end. */
	uint64_t total_max = append ? 4 * cfg->max_message_size : cfg->imap_max_line;
	const char *error = NULL;
	if (p->literal_size > max)
		error = append ? "Message too large" : "Literal too large";
	else if (s->literal_total + p->literal_size > total_max)
		error = "Command too large";
	if (error == NULL && !s->literal_refused) {
		s->literal_total += p->literal_size;
		imap_parser_literal_accept(p);
		if (p->literal_sync)
			imap_printf(s, "+ OK\r\n");
		return;
	}
	if (error == NULL)
		error = s->literal_error;
	if (p->literal_sync) {
		/* The client sends nothing more of this command. */
		if (append)
			imap_printf(s, "%s NO [TOOBIG] %s\r\n", p->tag, error);
		else
			imap_printf(s, "%s BAD [TOOBIG] %s\r\n", p->tag, error);
		log_session(s->c->id, "imap refused literal of %llu bytes",
			    (unsigned long long)p->literal_size);
		command_end(s);
		if (!append)
			count_error(s);
		return;
	}
	/* Its bytes are on the way: drop them, then reply to the command. */
	imap_parser_literal_discard(p);
	s->literal_refused = true;
	s->literal_error = error;
}

static void read_line_mode(struct imap_session *s, struct evbuffer *in, bool *stop)
{
	size_t max = s->wait == IMAP_WAIT_SASL ? SASL_LINE_MAX : IMAP_IDLE_LINE;
	size_t len;
	*stop = false;
	if (s->skip_line) {
		if (!lineio_skip_line(in)) {
			*stop = true;
			return;
		}
		s->skip_line = false;
		/* Treat the over-long line as garbage. */
		if (s->wait == IMAP_WAIT_SASL)
			imap_sasl_line(s, "\x01", 1);
		else
			imap_idle_line(s, "\x01", 1);
		return;
	}
	enum lineio_result r = lineio_get(in, max, LINEIO_EOL_LF_OR_CRLF, line_buf, sizeof(line_buf), &len);
	if (r == LINEIO_NEED_MORE) {
		*stop = true;
		return;
	}
	if (r == LINEIO_TOO_LONG) {
		s->skip_line = true;
		return;
	}
	if (s->wait == IMAP_WAIT_SASL) {
		imap_sasl_line(s, line_buf, len);
		explicit_bzero(line_buf, len);
	} else
		imap_idle_line(s, line_buf, len);
}

static void imap_read(struct conn *c, void *session)
{
	struct imap_session *s = session;
	struct evbuffer *in = conn_input(c);
	while (!conn_closing(c) && s->state != IMAP_STATE_LOGOUT) {
		if (s->wait == IMAP_WAIT_SASL || s->wait == IMAP_WAIT_IDLE) {
			bool stop;
			read_line_mode(s, in, &stop);
			if (stop)
				return;
			continue;
		}
		if (s->wait != IMAP_WAIT_NONE)
			return;
		if (conn_output_pending(c) > IMAP_OUTPUT_HIGH) {
			imap_wait(s, IMAP_WAIT_READER);
			return;
		}
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return;
		size_t used = 0;
		int r = imap_parser_feed(&s->parser, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		switch (r) {
		case IMAP_PARSE_MORE:
			break;
		case IMAP_PARSE_ERROR: {
			struct imap_parser *p = &s->parser;
			if (p->too_long)
				log_session(c->id, "imap command line too long");
			imap_printf(s, "%s BAD %s\r\n", p->tag[0] ? p->tag : "*", p->error);
			s->literal_refused = false;
			s->literal_total = 0;
			count_error(s);
			break;
		}
		case IMAP_PARSE_LITERAL:
			literal_check(s);
			break;
		case IMAP_PARSE_DONE:
			dispatch(s);
			break;
		}
	}
}

/* ---- the handler ------------------------------------------------------ */

static void *imap_open(struct conn *c)
{
	struct imap_session *s = xmalloc(sizeof(*s));
	s->c = c;
	s->srv = c->server;
	s->state = IMAP_STATE_NOAUTH;
	imap_parser_init(&s->parser, IMAP_PREAUTH_LINE);
	struct buf b;
	buf_init(&b, 4096);
	buf_puts(&b, "* OK [CAPABILITY ");
	imap_capabilities(s, &b);
	buf_puts(&b, "] Posthorn IMAP ready.\r\n");
	imap_write_buf(s, &b);
	buf_free(&b);
	return s;
}

static void session_destroy(struct imap_session *s)
{
	if (s->cmd_ctx_free != NULL && s->cmd_ctx != NULL)
		s->cmd_ctx_free(s->cmd_ctx);
	imap_parser_deinit(&s->parser);
	imap_selected_free(&s->sel);
	imap_notify_free(&s->notify);
	if (s->watch != NULL)
		store_watch_remove(s->srv->store, &s->watch);
	sasl_free(&s->sasl);
	auth_login_cancel(&s->login);
	free(s->user);
	free(s->scram_user);
	free(s);
}

static void imap_drained(struct conn *c, void *session)
{
	struct imap_session *s = session;
	if (s->wait == IMAP_WAIT_OUTPUT && s->drained != NULL)
		s->drained(s);
	else if (s->wait == IMAP_WAIT_READER) {
		s->wait = IMAP_WAIT_NONE;
		conn_resume(c); /* reads on from what is buffered */
	}
}

static void imap_timeout(struct conn *c, void *session)
{
	struct imap_session *s = session;
	imap_printf(s, "* BYE Disconnected for inactivity.\r\n");
}

static void imap_shutdown(struct conn *c, void *session)
{
	struct imap_session *s = session;
	if (s->wait == IMAP_WAIT_STORE || s->wait == IMAP_WAIT_LOGIN || s->wait == IMAP_WAIT_OUTPUT) {
		s->shutdown = true; /* finish the command, then say goodbye */
		return;
	}
	imap_printf(s, "* BYE Server shutting down.\r\n");
	imap_close(s);
}

static void imap_free(struct conn *c, void *session)
{
	struct imap_session *s = session;
	auth_login_cancel(&s->login);
	if (s->wait == IMAP_WAIT_STORE) {
		s->freed = true; /* the store's callback frees it */
		return;
	}
	session_destroy(s);
}

void imap_session_destroy(struct imap_session *s)
{
	session_destroy(s);
}

const struct conn_handler imap_handler = {
    .name = "imap",
    .open = imap_open,
    .read = imap_read,
    .drained = imap_drained,
    .timeout = imap_timeout,
    .shutdown = imap_shutdown,
    .free = imap_free,
    .busy_reply = "* BYE Too many connections, try again later.\r\n",
};
