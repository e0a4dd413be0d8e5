/* Server-side SASL state machine (see sasl.h).
 *
 * One struct sasl per AUTH/AUTHENTICATE command. Each mechanism is a short
 * chain of states; sasl_start() and sasl_continue() decode the client's
 * base64 line into a wiped-on-free buffer and dispatch on the state. The
 * exchange ends at the first status other than CHALLENGE or
 * NEED_SCRAM_SECRETS: the state becomes SASL_STATE_DONE and any further call
 * is an engine bug. */
#include "auth/sasl.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_name.h"
#include "auth/hash.h"
#include "auth/scram.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

enum sasl_state {
	SASL_STATE_NEW,
	SASL_STATE_PLAIN_RESPONSE, /* empty challenge sent, waiting for the message */
	SASL_STATE_LOGIN_USERNAME, /* "Username:" sent */
	SASL_STATE_LOGIN_PASSWORD, /* "Password:" sent */
	SASL_STATE_SCRAM_FIRST,	   /* empty challenge sent, waiting for client-first */
	SASL_STATE_SCRAM_SECRETS,  /* waiting for the engine's sasl_scram_secrets() */
	SASL_STATE_SCRAM_FINAL,	   /* server-first sent, waiting for client-final */
	SASL_STATE_SCRAM_ACK,	   /* server-final sent, waiting for an empty line */
	SASL_STATE_DONE
};

struct sasl {
	enum sasl_mech mech;
	enum sasl_state state;
	struct buf username;
	struct buf password;
	struct buf decoded;   /* the current client message, decoded */
	struct buf challenge; /* base64 text handed to the engine */
	struct scram_server *scram;
};

/* Base64 of the LOGIN prompts. */
#define LOGIN_USERNAME_B64 "VXNlcm5hbWU6" /* "Username:" */
#define LOGIN_PASSWORD_B64 "UGFzc3dvcmQ6" /* "Password:" */

static const struct {
	enum sasl_mech mech;
	const char *name;
} mechs[] = {
    {SASL_MECH_PLAIN, "PLAIN"},
    {SASL_MECH_LOGIN, "LOGIN"},
    {SASL_MECH_SCRAM_SHA_256, "SCRAM-SHA-256"},
};

int sasl_mech_parse(const char *name, enum sasl_mech *mech_r)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (strcasecmp(name, mechs[i].name) == 0) {
			*mech_r = mechs[i].mech;
			return 0;
		}
	}
	return -1;
}

const char *sasl_mech_name(enum sasl_mech mech)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (mechs[i].mech == mech)
			return mechs[i].name;
	}
	return "?";
}

/* ---- PLAIN message ------------------------------------------------------ */

int sasl_plain_parse(const uint8_t *msg, size_t len, struct sasl_plain *out, const char **error_r)
{
	const uint8_t *nul1 = memchr(msg, '\0', len);
	const uint8_t *nul2 = nul1 ? memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg)) : NULL;
	if (nul2 == NULL || memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - msg)) != NULL) {
		*error_r = "PLAIN: expected authzid NUL authcid NUL password";
		return -1;
	}
	out->authzid = (const char *)msg;
	out->authzid_len = (size_t)(nul1 - msg);
	out->authcid = (const char *)nul1 + 1;
	out->authcid_len = (size_t)(nul2 - nul1 - 1);
	out->passwd = (const char *)nul2 + 1;
	out->passwd_len = len - (size_t)(nul2 + 1 - msg);
	if (!auth_name_valid(out->authcid, out->authcid_len)) {
		*error_r = "PLAIN: empty or invalid user name";
		return -1;
	}
	if (out->authzid_len > 0 && !auth_name_valid(out->authzid, out->authzid_len)) {
		*error_r = "PLAIN: invalid authorization identity";
		return -1;
	}
	if (out->passwd_len == 0 || out->passwd_len > HASH_PASSWORD_MAX) {
		*error_r = "PLAIN: empty or over-long password";
		return -1;
	}
	return 0;
}

/* ---- Helpers ------------------------------------------------------------ */

static void buf_wipe(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_reset(b);
}

static void buf_wipe_free(struct buf *b)
{
	buf_wipe(b);
	buf_free(b);
}

static __attribute__((noreturn)) void sasl_bug(const struct sasl *s, const char *what)
{
	log_error("sasl: %s called in state %d (mechanism %s): engine bug", what, (int)s->state,
		  sasl_mech_name(s->mech));
	abort();
}

struct sasl *sasl_new(enum sasl_mech mech)
{
	struct sasl *s = xmalloc(sizeof(*s));
	s->mech = mech;
	s->state = SASL_STATE_NEW;
	buf_init(&s->username, AUTH_NAME_MAX);
	buf_init(&s->password, HASH_PASSWORD_MAX);
	/* Base64 decodes 4 characters into at most 3 bytes. */
	buf_init(&s->decoded, SASL_LINE_MAX / 4 * 3);
	buf_init(&s->challenge, 2 * SCRAM_MESSAGE_MAX);
	return s;
}

void sasl_free(struct sasl **sp)
{
	struct sasl *s = *sp;
	if (s == NULL)
		return;
	buf_wipe_free(&s->username);
	buf_wipe_free(&s->password);
	buf_wipe_free(&s->decoded);
	buf_wipe_free(&s->challenge);
	scram_server_free(&s->scram);
	free(s);
	*sp = NULL;
}

const char *sasl_username(const struct sasl *s)
{
	return buf_cstr(&s->username);
}

const char *sasl_password(const struct sasl *s)
{
	return buf_cstr(&s->password);
}

void sasl_scram_set_nonce(struct sasl *s, const char *nonce)
{
	if (s->scram == NULL)
		s->scram = scram_server_new();
	scram_server_set_nonce(s->scram, nonce);
}

/* Ends the exchange with status st. */
static enum sasl_status finish(struct sasl *s, enum sasl_status st, const char **error_r, const char *error)
{
	s->state = SASL_STATE_DONE;
	buf_wipe(&s->decoded);
	if (st != SASL_STATUS_CHECK_PASSWORD)
		buf_wipe(&s->password);
	if (error != NULL)
		*error_r = error;
	return st;
}

static enum sasl_status challenge(struct sasl *s, enum sasl_state next, const char *b64,
				  const char **challenge_r)
{
	buf_reset(&s->challenge);
	if (buf_puts(&s->challenge, b64) < 0)
		fatalx("sasl: challenge exceeds its bound"); /* our own constants */
	s->state = next;
	*challenge_r = buf_cstr(&s->challenge);
	return SASL_STATUS_CHALLENGE;
}

/* Challenge with raw bytes, base64-encoded here. */
static enum sasl_status challenge_raw(struct sasl *s, enum sasl_state next, const void *p, size_t n,
				      const char **challenge_r)
{
	buf_reset(&s->challenge);
	if (base64_encode(&s->challenge, p, n) < 0)
		fatalx("sasl: challenge exceeds its bound"); /* scram output is capped */
	s->state = next;
	*challenge_r = buf_cstr(&s->challenge);
	return SASL_STATUS_CHALLENGE;
}

/* Decodes a client line into s->decoded. The buffer is grown to its final
 * size before decoding, so that no partial copy of a password is left
 * behind in memory freed by a realloc. */
static int decode(struct sasl *s, const char *text, size_t len)
{
	buf_wipe(&s->decoded);
	if (len > SASL_LINE_MAX)
		return -1;
	static const char zeros[SASL_LINE_MAX / 4 * 3];
	size_t need = len / 4 * 3 + 3;
	if (need > sizeof(zeros))
		need = sizeof(zeros);
	if (buf_append(&s->decoded, zeros, need) < 0)
		return -1;
	buf_reset(&s->decoded);
	if (base64_decode(&s->decoded, text, len) < 0) {
		buf_wipe(&s->decoded);
		return -1;
	}
	return 0;
}

/* Same bytes, ASCII case-insensitive (addresses are compared that way). */
static bool same_name(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* ---- Mechanisms --------------------------------------------------------- */

static enum sasl_status plain_message(struct sasl *s, const char **error_r)
{
	struct sasl_plain pl;
	const char *err;
	if (sasl_plain_parse((const uint8_t *)s->decoded.data, s->decoded.len, &pl, &err) < 0)
		return finish(s, SASL_STATUS_MALFORMED, error_r, err);
	if (buf_append(&s->username, pl.authcid, pl.authcid_len) < 0 ||
	    buf_append(&s->password, pl.passwd, pl.passwd_len) < 0)
		return finish(s, SASL_STATUS_MALFORMED, error_r, "PLAIN: field too long");
	if (pl.authzid_len > 0 && !same_name(pl.authzid, pl.authzid_len, pl.authcid, pl.authcid_len))
		return finish(s, SASL_STATUS_FAILED, error_r,
			      "PLAIN: authorization identity differs from the user name");
	return finish(s, SASL_STATUS_CHECK_PASSWORD, error_r, NULL);
}

static enum sasl_status login_username(struct sasl *s, const char **challenge_r, const char **error_r)
{
	if (!auth_name_valid(s->decoded.data, s->decoded.len) ||
	    buf_append(&s->username, s->decoded.data, s->decoded.len) < 0)
		return finish(s, SASL_STATUS_MALFORMED, error_r, "LOGIN: empty or invalid user name");
	buf_wipe(&s->decoded);
	return challenge(s, SASL_STATE_LOGIN_PASSWORD, LOGIN_PASSWORD_B64, challenge_r);
}

static enum sasl_status login_password(struct sasl *s, const char **error_r)
{
	if (s->decoded.len == 0 || memchr(s->decoded.data, '\0', s->decoded.len) != NULL ||
	    buf_append(&s->password, s->decoded.data, s->decoded.len) < 0)
		return finish(s, SASL_STATUS_MALFORMED, error_r,
			      "LOGIN: empty, over-long or binary password");
	return finish(s, SASL_STATUS_CHECK_PASSWORD, error_r, NULL);
}

static enum sasl_status scram_first(struct sasl *s, const char **error_r)
{
	const char *err;
	if (s->scram == NULL)
		s->scram = scram_server_new();
	if (scram_server_client_first(s->scram, (const uint8_t *)s->decoded.data, s->decoded.len, &err) < 0)
		return finish(s, SASL_STATUS_MALFORMED, error_r, err);
	const char *user = scram_server_username(s->scram);
	const char *authz = scram_server_authzid(s->scram);
	if (buf_puts(&s->username, user) < 0)
		return finish(s, SASL_STATUS_MALFORMED, error_r, "SCRAM: user name too long");
	if (authz[0] != '\0' && !same_name(authz, strlen(authz), user, strlen(user)))
		return finish(s, SASL_STATUS_FAILED, error_r,
			      "SCRAM: authorization identity differs from the user name");
	buf_wipe(&s->decoded);
	s->state = SASL_STATE_SCRAM_SECRETS;
	return SASL_STATUS_NEED_SCRAM_SECRETS;
}

static enum sasl_status scram_final(struct sasl *s, const char **challenge_r, const char **error_r)
{
	const char *err;
	struct buf out;
	buf_init(&out, SCRAM_MESSAGE_MAX);
	int r =
	    scram_server_client_final(s->scram, (const uint8_t *)s->decoded.data, s->decoded.len, &out, &err);
	enum sasl_status st;
	if (r < 0)
		st = finish(s, SASL_STATUS_MALFORMED, error_r, err);
	else if (r == 0)
		st = finish(s, SASL_STATUS_FAILED, error_r, err);
	else
		st = challenge_raw(s, SASL_STATE_SCRAM_ACK, out.data, out.len, challenge_r);
	buf_free(&out);
	buf_wipe(&s->decoded);
	return st;
}

/* Dispatches a decoded client message on the current state. */
static enum sasl_status step(struct sasl *s, const char **challenge_r, const char **error_r)
{
	switch (s->state) {
	case SASL_STATE_PLAIN_RESPONSE:
		return plain_message(s, error_r);
	case SASL_STATE_LOGIN_USERNAME:
		return login_username(s, challenge_r, error_r);
	case SASL_STATE_LOGIN_PASSWORD:
		return login_password(s, error_r);
	case SASL_STATE_SCRAM_FIRST:
		return scram_first(s, error_r);
	case SASL_STATE_SCRAM_FINAL:
		return scram_final(s, challenge_r, error_r);
	case SASL_STATE_SCRAM_ACK:
		if (s->decoded.len != 0)
			return finish(s, SASL_STATUS_MALFORMED, error_r,
				      "SCRAM: expected an empty response after server-final");
		return finish(s, SASL_STATUS_SUCCESS, error_r, NULL);
	case SASL_STATE_NEW:
	case SASL_STATE_SCRAM_SECRETS:
	case SASL_STATE_DONE:
		break;
	}
	sasl_bug(s, "step");
}

enum sasl_status sasl_start(struct sasl *s, const char *ir, size_t ir_len, const char **challenge_r,
			    const char **error_r)
{
	if (s->state != SASL_STATE_NEW)
		sasl_bug(s, "sasl_start");
	enum sasl_state first;
	switch (s->mech) {
	case SASL_MECH_PLAIN:
		first = SASL_STATE_PLAIN_RESPONSE;
		break;
	case SASL_MECH_LOGIN:
		first = SASL_STATE_LOGIN_USERNAME;
		break;
	case SASL_MECH_SCRAM_SHA_256:
		first = SASL_STATE_SCRAM_FIRST;
		break;
	default:
		sasl_bug(s, "sasl_start (unknown mechanism)");
	}
	if (ir == NULL) {
		/* LOGIN prompts for the user name; the others send an empty challenge. */
		return challenge(s, first, first == SASL_STATE_LOGIN_USERNAME ? LOGIN_USERNAME_B64 : "",
				 challenge_r);
	}
	s->state = first;
	/* No cancel here: "*" as an initial response is just bad base64. */
	if (decode(s, ir, ir_len) < 0)
		return finish(s, SASL_STATUS_MALFORMED, error_r,
			      ir_len > SASL_LINE_MAX ? "initial response too long"
						     : "initial response is not valid base64");
	return step(s, challenge_r, error_r);
}

enum sasl_status sasl_continue(struct sasl *s, const char *line, size_t len, const char **challenge_r,
			       const char **error_r)
{
	if (s->state == SASL_STATE_NEW || s->state == SASL_STATE_SCRAM_SECRETS || s->state == SASL_STATE_DONE)
		sasl_bug(s, "sasl_continue");
	if (len == 1 && line[0] == '*')
		return finish(s, SASL_STATUS_CANCELLED, error_r, "authentication cancelled by the client");
	if (decode(s, line, len) < 0)
		return finish(s, SASL_STATUS_MALFORMED, error_r,
			      len > SASL_LINE_MAX ? "response too long" : "response is not valid base64");
	return step(s, challenge_r, error_r);
}

enum sasl_status sasl_scram_secrets(struct sasl *s, const char *secrets, const char **challenge_r,
				    const char **error_r)
{
	if (s->state != SASL_STATE_SCRAM_SECRETS)
		sasl_bug(s, "sasl_scram_secrets");
	struct scram_secrets sec;
	const char *err;
	bool have = secrets != NULL && scram_secrets_parse(secrets, &sec, &err) == 0;
	struct buf out;
	buf_init(&out, SCRAM_MESSAGE_MAX);
	enum sasl_status st;
	if (scram_server_first(s->scram, have ? &sec : NULL, &out, &err) < 0)
		st = finish(s, SASL_STATUS_FAILED, error_r, err);
	else
		st = challenge_raw(s, SASL_STATE_SCRAM_FINAL, out.data, out.len, challenge_r);
	explicit_bzero(&sec, sizeof(sec));
	buf_free(&out);
	return st;
}
