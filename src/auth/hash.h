/* hash: password hashes in crypt(3) format, through libcrypt (libxcrypt).
 *
 * New hashes are yescrypt ("$y$", libcrypt's default cost). Verification
 * accepts yescrypt, bcrypt ("$2b$", "$2y$", "$2a$") and sha512-crypt ("$6$"),
 * the hashes of /etc/shadow and Dovecot, so accounts can be migrated as they
 * are. Every other crypt scheme (DES, MD5, "$5$", ...) is refused: libcrypt
 * would happily verify "garbage" as a DES hash.
 *
 * Cost: hash_password_create() and hash_password_verify() take tens of
 * milliseconds on purpose (yescrypt default: ~25 ms and 16 MiB). Never call
 * them on the event loop: the daemon goes through verify_pool.h. Both are
 * thread-safe (crypt_rn with a private struct crypt_data, wiped after use).
 *
 * Passwords are NUL-terminated strings of at most HASH_PASSWORD_MAX bytes
 * (libcrypt's own limit). Note that bcrypt uses only the first 72 bytes. */
#ifndef POSTHORN_AUTH_HASH_H
#define POSTHORN_AUTH_HASH_H

#include <stdbool.h>

/* Longest password accepted, in bytes (CRYPT_MAX_PASSPHRASE_SIZE - 1). */
#define HASH_PASSWORD_MAX 511
/* Longest hash string hash_password_is_supported() accepts. */
#define HASH_STRING_MAX 256

/* Hashes password with yescrypt at the default cost. On success returns 0
 * and sets *hash_r to a new string (free() it). Returns -1 with *error_r
 * set when the password is empty or too long, or libcrypt fails. */
int hash_password_create(const char *password, char **hash_r, const char **error_r);

/* The same with an explicit scheme: prefix is "$y$", "$2b$", "$2y$", "$2a$"
 * or "$6$"; cost 0 is libcrypt's default for that scheme, otherwise it is
 * passed to crypt_gensalt (yescrypt 1..11, bcrypt 4..31 (log2 rounds),
 * sha512-crypt 1000..999999999 rounds). For tests and `posthorn user` options;
 * other prefixes are refused. */
int hash_password_create_scheme(const char *password, const char *prefix, unsigned long cost, char **hash_r,
				const char **error_r);

/* Checks password against hash. Returns 1 when it matches, 0 when it does
 * not (including an empty or over-long password), -1 with *error_r set when
 * hash is not a supported, well-formed hash (see hash_password_is_supported)
 * or libcrypt fails. The final comparison is constant-time. */
int hash_password_verify(const char *password, const char *hash, const char **error_r);

/* True when hash is a well-formed hash of a supported scheme, with sane cost
 * parameters: yescrypt ("$y$j" + N + r parameters, at most 1 GiB of memory),
 * bcrypt ($2a$/$2b$/$2y$, cost 4..17, 60 characters), sha512-crypt ($6$,
 * optional rounds=1000..2000000, salt of 1..16 characters, 86-character
 * digest). A syntax check only: cheap, no hashing. The CLI uses it before
 * importing hashes; hash_password_verify() applies it too. */
bool hash_password_is_supported(const char *hash);

#endif
