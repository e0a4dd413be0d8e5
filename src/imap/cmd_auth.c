/* cmd_auth: the commands of any state and of the not-authenticated state:
 * CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), STARTTLS, LOGIN, AUTHENTICATE
 * (with SASL-IR, RFC 4959), and, once authenticated, ENABLE (RFC 5161)
 * and NAMESPACE (RFC 2342).
 *
 * Passwords are checked off the loop by auth_login (throttled, failures
 * delayed); the session waits meanwhile. LOGIN and AUTHENTICATE need TLS,
 * except from loopback when allow_plaintext_loopback is set. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_login.h"
#include "auth/sasl.h"
#include "core/server.h"
#include "imap/imap_private.h"
#include "util/log.h"
#include "util/mem.h"

void cmd_capability(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf b;
	buf_init(&b, 4096);
	buf_puts(&b, "* CAPABILITY ");
	imap_capabilities(s, &b);
	buf_puts(&b, "\r\n");
	imap_write_buf(s, &b);
	buf_free(&b);
	imap_done(s, cmd, "OK", "Capability completed.");
}

void cmd_noop(struct imap_session *s, struct imap_cmd *cmd)
{
	if (s->sel != NULL)
		imap_sync(s, IMAP_SYNC_EXPUNGE | IMAP_SYNC_FORCE);
	imap_done(s, cmd, "OK", "NOOP completed.");
}

void cmd_check(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_sync(s, IMAP_SYNC_EXPUNGE | IMAP_SYNC_FORCE);
	imap_done(s, cmd, "OK", "Check completed.");
}

void cmd_logout(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_printf(s, "* BYE Logging out\r\n");
	imap_printf(s, "%s OK Logout completed.\r\n", cmd->tag);
	log_session(s->c->id, "imap logout user=%s", s->user ? s->user : "-");
	s->state = IMAP_STATE_LOGOUT;
	conn_close(s->c);
}

/* ID: the client's list is only logged (a few printable fields). */
void cmd_id(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc != 1 || (cmd->args[0].type != IMAP_ARG_LIST && !imap_arg_is_nil(&cmd->args[0]))) {
		imap_bad(s, cmd, "Invalid ID arguments");
		return;
	}
	const struct imap_arg *l = &cmd->args[0];
	if (l->type == IMAP_ARG_LIST) {
		if (l->count % 2 != 0 || l->count > 60) {
			imap_bad(s, cmd, "Invalid ID arguments");
			return;
		}
		for (size_t i = 0; i + 1 < l->count; i += 2) {
			const char *k = imap_astring(&l->list[i]), *v = imap_astring(&l->list[i + 1]);
			if (k == NULL || (v == NULL && !imap_arg_is_nil(&l->list[i + 1]))) {
				imap_bad(s, cmd, "Invalid ID arguments");
				return;
			}
			if ((strcasecmp(k, "name") == 0 || strcasecmp(k, "version") == 0) && v != NULL) {
				char clean[64];
				size_t n = 0;
				for (const char *p = v; *p && n < sizeof(clean) - 1; p++)
					clean[n++] = (*p > 0x20 && *p < 0x7f) ? *p : '_';
				clean[n] = '\0';
				log_session(s->c->id, "imap id %s=%s",
					    strcasecmp(k, "name") == 0 ? "name" : "version", clean);
			}
		}
	}
	imap_printf(s, "* ID (\"name\" \"Posthorn\")\r\n");
	imap_done(s, cmd, "OK", "ID completed.");
}

void cmd_starttls(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap_bad(s, cmd, "STARTTLS takes no arguments");
		return;
	}
	if (s->c->tls) {
		imap_bad(s, cmd, "TLS is already active");
		return;
	}
	if (!conn_tls_available(s->c)) {
		imap_done(s, cmd, "NO", "TLS is not available");
		return;
	}
	imap_printf(s, "%s OK Begin TLS negotiation now.\r\n", cmd->tag);
	/* conn_starttls() drops anything pipelined after the command. */
	imap_finish(s);
	if (conn_starttls(s->c) < 0) {
		s->state = IMAP_STATE_LOGOUT;
		conn_close(s->c);
	}
}

static bool plaintext_allowed(struct imap_session *s)
{
	return s->c->tls || (s->c->loopback && s->srv->cfg->allow_plaintext_loopback);
}

/* ---- LOGIN and AUTHENTICATE --------------------------------------------- */

static void login_cb(enum auth_login_result result, const char *user, void *ctx)
{
	struct imap_session *s = ctx;
	s->login = NULL;
	const char *name = s->sasl ? sasl_username(s->sasl) : "";
	const char *error = NULL;
	struct imap_cmd *cmd = &s->cur;
	if (result == AUTH_LOGIN_OK && (user == NULL || imap_login_as(s, user, &error) < 0))
		result = AUTH_LOGIN_TEMPFAIL;
	sasl_free(&s->sasl);
	switch (result) {
	case AUTH_LOGIN_OK: {
		log_session(s->c->id, "imap login user=%s result=ok", s->user);
		struct buf b;
		buf_init(&b, 4096);
		imap_capabilities(s, &b);
		imap_done(s, cmd, "OK", "[CAPABILITY %s] Logged in", buf_cstr(&b));
		buf_free(&b);
		return;
	}
	case AUTH_LOGIN_FAILED:
		log_session(s->c->id, "imap login user=%s result=failed", name);
		imap_done(s, cmd, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	case AUTH_LOGIN_BLOCKED:
		log_session(s->c->id, "imap login user=%s result=blocked address=%s", name, s->c->peer_ip);
		imap_done(s, cmd, "NO",
			  "[UNAVAILABLE] Too many failed logins from your address, try again later.");
		return;
	case AUTH_LOGIN_TEMPFAIL:
		if (error != NULL)
			log_session(s->c->id, "imap login temporary failure: %s", error);
		imap_done(s, cmd, "NO", "[UNAVAILABLE] Temporary authentication failure, try again later.");
		return;
	}
}

void cmd_login(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc != 2 || imap_astring(&cmd->args[0]) == NULL || imap_astring(&cmd->args[1]) == NULL) {
		imap_bad(s, cmd, "LOGIN needs a user name and a password");
		return;
	}
	if (!plaintext_allowed(s)) {
		imap_done(s, cmd, "NO",
			  "[PRIVACYREQUIRED] Plaintext authentication is disabled, use STARTTLS first.");
		return;
	}
	const char *user = cmd->args[0].str, *pass = cmd->args[1].str;
	/* Reuse the SASL PLAIN checks on names and passwords. */
	if (strlen(user) == 0 || strlen(user) > 320 || strlen(pass) == 0 || strlen(pass) > 1024) {
		imap_done(s, cmd, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	}
	imap_wait(s, IMAP_WAIT_LOGIN);
	s->login =
	    auth_login_password(s->srv->login, (struct sockaddr *)&s->c->peer, user, pass, login_cb, s);
	/* The parser's copy of the password goes with the command. */
	explicit_bzero(cmd->args[1].str, strlen(pass));
}

static void sasl_step(struct imap_session *s, enum sasl_status st, const char *challenge, const char *error)
{
	struct imap_cmd *cmd = &s->cur;
	for (;;) {
		switch (st) {
		case SASL_STATUS_CHALLENGE:
			imap_printf(s, "+ %s\r\n", challenge);
			s->wait = IMAP_WAIT_SASL;
			return;
		case SASL_STATUS_NEED_SCRAM_SECRETS: {
			char *secrets = NULL, *canonical = NULL;
			const char *lookup_error;
			if (auth_login_scram_lookup(s->srv->login, sasl_username(s->sasl), &secrets,
						    &canonical, &lookup_error) < 0) {
				sasl_free(&s->sasl);
				imap_done(s, cmd, "NO",
					  "[UNAVAILABLE] Temporary authentication failure, try again later.");
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
			imap_wait(s, IMAP_WAIT_LOGIN);
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
			sasl_free(&s->sasl);
			imap_bad(s, cmd, "%s", error ? error : "Malformed authentication data");
			return;
		case SASL_STATUS_CANCELLED:
			sasl_free(&s->sasl);
			imap_bad(s, cmd, "Authentication cancelled");
			return;
		}
	}
}

void cmd_authenticate(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc < 1 || cmd->argc > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->argc == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
		imap_bad(s, cmd, "AUTHENTICATE needs a mechanism");
		return;
	}
	enum sasl_mech mech;
	if (sasl_mech_parse(cmd->args[0].str, &mech) < 0) {
		imap_done(s, cmd, "NO", "Unsupported authentication mechanism.");
		return;
	}
	if (!plaintext_allowed(s)) {
		imap_done(s, cmd, "NO",
			  "[PRIVACYREQUIRED] Authentication is disabled without TLS, use STARTTLS first.");
		return;
	}
	if (auth_login_blocked(s->srv->login, (struct sockaddr *)&s->c->peer, NULL)) {
		imap_done(s, cmd, "NO",
			  "[UNAVAILABLE] Too many failed logins from your address, try again later.");
		return;
	}
	s->sasl = sasl_new(mech);
	const char *challenge = NULL, *error = NULL;
	const char *ir = cmd->argc == 2 ? cmd->args[1].str : NULL;
	size_t ir_len = cmd->argc == 2 ? cmd->args[1].len : 0;
	enum sasl_status st = sasl_start(s->sasl, ir, ir_len, &challenge, &error);
	if (cmd->argc == 2)
		explicit_bzero(cmd->args[1].str, cmd->args[1].len);
	sasl_step(s, st, challenge, error);
}

void imap_sasl_line(struct imap_session *s, const char *line, size_t len)
{
	const char *challenge = NULL, *error = NULL;
	enum sasl_status st = sasl_continue(s->sasl, line, len, &challenge, &error);
	sasl_step(s, st, challenge, error);
}

/* ---- ENABLE, NAMESPACE --------------------------------------------------- */

void cmd_enable(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc == 0) {
		imap_bad(s, cmd, "ENABLE needs capability names");
		return;
	}
	struct buf b;
	buf_init(&b, 1024);
	for (size_t i = 0; i < cmd->argc; i++) {
		const struct imap_arg *a = &cmd->args[i];
		if (a->type != IMAP_ARG_ATOM) {
			buf_free(&b);
			imap_bad(s, cmd, "Invalid ENABLE arguments");
			return;
		}
		const char *name = NULL;
		if (strcasecmp(a->str, "CONDSTORE") == 0 && !s->condstore) {
			s->condstore = true;
			name = "CONDSTORE";
		} else if (strcasecmp(a->str, "QRESYNC") == 0 && !s->qresync) {
			s->qresync = s->condstore = true;
			name = "QRESYNC";
		} else if (strcasecmp(a->str, "UTF8=ACCEPT") == 0 && !s->utf8) {
			s->utf8 = true;
			name = "UTF8=ACCEPT";
		} else if (strcasecmp(a->str, "IMAP4rev2") == 0 && !s->rev2) {
			s->rev2 = s->utf8 = true;
			name = "IMAP4rev2";
		}
		if (name != NULL)
			buf_printf(&b, " %s", name);
	}
	if (s->sel != NULL && s->condstore)
		s->sel->dirty = true;
	imap_printf(s, "* ENABLED%s\r\n", buf_cstr(&b));
	buf_free(&b);
	imap_done(s, cmd, "OK", "Enabled.");
}

void cmd_namespace(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_printf(s, "* NAMESPACE ((\"\" \"%c\")) NIL NIL\r\n", STORE_MAILBOX_SEP);
	imap_done(s, cmd, "OK", "Namespace completed.");
}
