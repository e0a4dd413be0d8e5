/* sasl: the server side of SASL for every protocol engine: PLAIN (RFC 4616),
 * LOGIN (the de-facto "Username:"/"Password:" exchange) and SCRAM-SHA-256
 * (RFC 5802/7677, see scram.h).
 *
 * Base64 text in, base64 text out. SMTP (334), IMAP ("+ ") and POP3 ("+ ")
 * carry SASL data the same way, so this module takes the client's line as
 * the engine read it (base64, or "*" to cancel) and hands back challenges
 * as base64 text; the engine only adds its prefix ("334 ", "+ ") and CRLF.
 * An initial response (SMTP "AUTH PLAIN xxx", IMAP SASL-IR, POP3 "AUTH
 * PLAIN xxx") goes to sasl_start(); "=" there means an empty response.
 *
 * The state machine never looks up users. It stops and tells the caller
 * what it needs:
 *   SASL_STATUS_CHECK_PASSWORD (PLAIN, LOGIN): sasl_username() and
 *     sasl_password() are ready; the engine checks them (throttle.h,
 *     store_user_get, verify_pool.h) and replies itself. The exchange is over.
 *   SASL_STATUS_NEED_SCRAM_SECRETS (SCRAM): sasl_username() is ready; the
 *     engine looks up the user's users.scram_sha256 string and passes it to
 *     sasl_scram_secrets() (NULL when the user is unknown or has no SCRAM
 *     secrets: the exchange then goes on and fails at the end, so that the
 *     client cannot probe for accounts).
 *
 * A typical engine loop:
 *   st = sasl_start(s, ir, ir_len, &ch, &err);   (ir NULL: no initial response)
 *   while st == SASL_STATUS_CHALLENGE: send "334 " ch; read line;
 *       st = sasl_continue(s, line, len, &ch, &err);
 *   NEED_SCRAM_SECRETS -> st = sasl_scram_secrets(s, secrets, &ch, &err), loop on
 *   CHECK_PASSWORD -> verify; SUCCESS -> 235 / OK; FAILED -> 535 / NO;
 *   MALFORMED -> 501 / BAD; CANCELLED -> 501 / BAD / -ERR.
 * Every status but CHALLENGE and NEED_SCRAM_SECRETS ends the exchange; the
 * engine then frees the struct sasl. Calling a function out of turn is a bug
 * in the engine and aborts.
 *
 * SCRAM ends with a challenge carrying server-final ("v=..."); the client
 * answers with an empty line and only then is SASL_STATUS_SUCCESS returned
 * (none of our protocols sends data with the success reply).
 *
 * Limits: a client line (or initial response) longer than SASL_LINE_MAX
 * bytes of base64 is MALFORMED; user names follow auth_name.h (UTF-8, no
 * controls, at most AUTH_NAME_MAX bytes), passwords are 1..HASH_PASSWORD_MAX
 * bytes without NUL. Passwords and decoded responses are wiped with
 * explicit_bzero; error strings never contain client data and are safe to
 * log. */
#ifndef POSTHORN_AUTH_SASL_H
#define POSTHORN_AUTH_SASL_H

#include <stddef.h>
#include <stdint.h>

/* Longest client line accepted, in base64 characters. */
#define SASL_LINE_MAX 8192

enum sasl_mech { SASL_MECH_PLAIN, SASL_MECH_LOGIN, SASL_MECH_SCRAM_SHA_256 };

enum sasl_status {
	SASL_STATUS_CHALLENGE,		/* send *challenge_r, feed the answer to sasl_continue() */
	SASL_STATUS_CHECK_PASSWORD,	/* verify sasl_username() + sasl_password() */
	SASL_STATUS_NEED_SCRAM_SECRETS, /* look up sasl_username(), call sasl_scram_secrets() */
	SASL_STATUS_SUCCESS,		/* SCRAM: authenticated as sasl_username() */
	SASL_STATUS_FAILED,		/* wrong credentials, authzid refused */
	SASL_STATUS_MALFORMED,		/* bad base64, bad message syntax, too long */
	SASL_STATUS_CANCELLED		/* the client sent "*" */
};

/* Mechanism from its name ("PLAIN", "LOGIN", "SCRAM-SHA-256"; ASCII
 * case-insensitive). Returns 0, or -1 for an unknown name. */
int sasl_mech_parse(const char *name, enum sasl_mech *mech_r);
/* Upper-case name of a mechanism. */
const char *sasl_mech_name(enum sasl_mech mech);

struct sasl;

struct sasl *sasl_new(enum sasl_mech mech);
/* Wipes (passwords, SCRAM state) and frees; sets *s to NULL. NULL is fine. */
void sasl_free(struct sasl **s);

/* Starts the exchange. ir is the initial response as sent (base64, "=" for
 * empty), or NULL when the client sent none. Returns the next status; on
 * SASL_STATUS_CHALLENGE *challenge_r is the base64 text to send (possibly
 * "", valid until the next call on s); on FAILED/MALFORMED *error_r says
 * why. */
enum sasl_status sasl_start(struct sasl *s, const char *ir, size_t ir_len, const char **challenge_r,
			    const char **error_r);

/* Feeds the client's answer to the last challenge: one line without its
 * CRLF, base64 text or "*". Same results as sasl_start(). */
enum sasl_status sasl_continue(struct sasl *s, const char *line, size_t len, const char **challenge_r,
			       const char **error_r);

/* After SASL_STATUS_NEED_SCRAM_SECRETS: the user's stored SCRAM secrets
 * (scram.h format), or NULL for an unknown user or one without secrets. A
 * malformed string is treated like NULL (the CLI validates what it
 * stores). Returns SASL_STATUS_CHALLENGE with server-first. */
enum sasl_status sasl_scram_secrets(struct sasl *s, const char *secrets, const char **challenge_r,
				    const char **error_r);

/* The authentication identity, once known (CHECK_PASSWORD,
 * NEED_SCRAM_SECRETS, SUCCESS, and FAILED after SCRAM's first message);
 * "" before. Valid until sasl_free(). */
const char *sasl_username(const struct sasl *s);
/* After SASL_STATUS_CHECK_PASSWORD: the password (NUL-terminated, no NUL
 * inside); "" otherwise. Valid until sasl_free(), which wipes it. */
const char *sasl_password(const struct sasl *s);

/* Tests and fuzzing: fixed SCRAM server nonce (see scram_server_set_nonce). */
void sasl_scram_set_nonce(struct sasl *s, const char *nonce);

/* ---- The PLAIN message, for tests and the fuzzer ------------------------ */

/* message = [authzid] NUL authcid NUL passwd (RFC 4616). Views into the
 * parsed message. */
struct sasl_plain {
	const char *authzid, *authcid, *passwd;
	size_t authzid_len, authcid_len, passwd_len;
};

/* Splits a decoded PLAIN message. Returns 0 when it has exactly two NULs,
 * an authcid that is a valid name, an authzid that is empty or a valid
 * name, and a password of 1..HASH_PASSWORD_MAX bytes; otherwise -1 with
 * *error_r. Does not compare authzid with authcid (the state machine does). */
int sasl_plain_parse(const uint8_t *msg, size_t len, struct sasl_plain *out, const char **error_r);

#endif
