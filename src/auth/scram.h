/* scram: SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, with OpenSSL.
 *
 * Stored secrets. At password-set time scram_secrets_create() derives
 *   SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i)
 *   StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key"))
 *   ServerKey = HMAC(SaltedPassword, "Server Key")
 * and formats them as one printable string for users.scram_sha256:
 *   "<i>,<base64 salt>,<base64 StoredKey>,<base64 ServerKey>"
 * e.g.
 * "4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
 * The password itself cannot be recovered from it, but like any SCRAM
 * secret it allows an offline dictionary attack (at PBKDF2 cost) and
 * impersonating the server: store it like a password hash.
 *
 * Passwords are not SASLprep'ed (XXX): ASCII passwords are unchanged by
 * SASLprep anyway; other passwords are used as their UTF-8 bytes, which
 * matches clients that skip SASLprep and those whose password is already
 * in normal form without mapped characters.
 *
 * The exchange (all messages are raw bytes here; sasl.h does base64):
 *   C: client-first   -> scram_server_client_first(): gs2 header "n,," or
 *                        "y,," (optionally with "a=" authzid); "p=" channel
 *                        binding is refused (we never offer -PLUS)
 *   S: server-first   <- scram_server_first(), once the caller has looked up
 *                        the user's secrets (or has none: see below)
 *   C: client-final   -> scram_server_client_final(): checks the channel
 *                        binding echo, the nonce and the proof
 *   S: server-final   <- "v=<ServerSignature>", produced by client_final
 * Unknown users: scram_server_first() with NULL secrets answers with a
 * made-up but stable salt, so that a client cannot tell unknown users from
 * wrong passwords; client_final then always fails. */
#ifndef POSTHORN_AUTH_SCRAM_H
#define POSTHORN_AUTH_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SCRAM_KEY_LEN 32	      /* SHA-256 */
#define SCRAM_SALT_LEN 16	      /* salt length of new secrets */
#define SCRAM_SALT_MAX 64	      /* longest salt accepted in stored secrets */
#define SCRAM_ITERATIONS_DEFAULT 4096 /* RFC 7677's minimum; what Dovecot uses */
#define SCRAM_ITERATIONS_MAX 10000000
#define SCRAM_MESSAGE_MAX 4096 /* longest client message accepted */

struct scram_secrets {
	uint32_t iterations;
	size_t salt_len;
	uint8_t salt[SCRAM_SALT_MAX];
	uint8_t stored_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
};

/* Derives secrets from password with the given salt and iteration count
 * (1..SCRAM_ITERATIONS_MAX; salt_len 1..SCRAM_SALT_MAX). Returns 0, or -1
 * with *error_r. Takes time proportional to iterations. */
int scram_secrets_derive(const char *password, const uint8_t *salt, size_t salt_len, uint32_t iterations,
			 struct scram_secrets *out, const char **error_r);

/* Derives secrets with a random salt and formats them as the stored string
 * (see above). iterations 0 means SCRAM_ITERATIONS_DEFAULT. On success
 * *secrets_r is a new string (free() it). Returns 0, or -1 with *error_r
 * (empty or over-long password, bad iteration count). */
int scram_secrets_create(const char *password, uint32_t iterations, char **secrets_r, const char **error_r);

/* Formats secrets as the stored string, appended to out. Returns 0, or -1
 * when out is full. */
int scram_secrets_format(const struct scram_secrets *sec, struct buf *out);

/* Parses a stored string. Returns 0, or -1 with *error_r when it is
 * malformed (wrong field count, bad base64, wrong key length, iterations
 * out of range). */
int scram_secrets_parse(const char *s, struct scram_secrets *out, const char **error_r);

/* ---- Server side of one exchange --------------------------------------- */

struct scram_server;

struct scram_server *scram_server_new(void);
/* Wipes and frees the exchange state, sets *s to NULL. NULL is fine. */
void scram_server_free(struct scram_server **s);

/* For tests and the fuzzer only: use this server nonce part instead of a
 * random one. Call before scram_server_first(). nonce must be printable
 * ASCII without ','. */
void scram_server_set_nonce(struct scram_server *s, const char *nonce);

/* Parses client-first-message (len bytes at msg). Returns 0 on success, -1
 * with *error_r when it is malformed or asks for something we do not do
 * (channel binding, mandatory extensions). After success the username
 * (decoded from its =2C/=3D escapes, an auth_name_valid() name) and the
 * authzid ("" when absent) are available below. */
int scram_server_client_first(struct scram_server *s, const uint8_t *msg, size_t len, const char **error_r);
/* Valid after a successful scram_server_client_first(), until free. */
const char *scram_server_username(const struct scram_server *s);
const char *scram_server_authzid(const struct scram_server *s);

/* Builds server-first-message for the user's secrets, or for an unknown
 * user when sec is NULL (then the exchange will fail at client-final).
 * Appends it to out. Returns 0, or -1 with *error_r when called out of turn
 * or out is full. */
int scram_server_first(struct scram_server *s, const struct scram_secrets *sec, struct buf *out,
		       const char **error_r);

/* Parses and verifies client-final-message. Returns 1 when the proof is
 * right and appends server-final-message ("v=...") to out; 0 when the
 * message is well-formed but authentication failed (wrong password, unknown
 * user); -1 when it is malformed (bad channel-binding echo, nonce mismatch,
 * syntax), with *error_r set in both failure cases. */
int scram_server_client_final(struct scram_server *s, const uint8_t *msg, size_t len, struct buf *out,
			      const char **error_r);

#endif
