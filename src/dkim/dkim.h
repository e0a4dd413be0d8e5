/* dkim: DomainKeys Identified Mail signatures (RFC 6376) for mail that
 * leaves from our domains: relaxed/relaxed canonicalization, rsa-sha256
 * (2048-bit keys) and ed25519-sha256 (RFC 8463), key generation and the
 * DNS records that publish the public keys.
 *
 * Keys live in a folder (config dkim_dir, by default data_dir/dkim), one
 * PEM file per selector: DIR/DOMAIN/SELECTOR.pem, made by `posthorn dkim
 * keygen`. A message is signed with every key of its From: domain, RSA
 * signatures first (so the topmost DKIM-Signature is one that every
 * verifier understands). The signer notices new or removed keys by the
 * domain folder's modification time, so keys can change while the daemon
 * runs.
 *
 * Canonicalization is exposed for tests: the body canonicalizer is
 * incremental (any split of the input gives the same result). */
#ifndef POSTHORN_DKIM_DKIM_H
#define POSTHORN_DKIM_DKIM_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

/* ---- Canonicalization (RFC 6376 3.4.3, 3.4.4) --------------------------- */

struct dkim_body {
	EVP_MD_CTX *md;	 /* SHA-256 of the canonical body, or NULL */
	struct buf *out; /* or the canonical body itself (tests) */
	size_t crlf;	 /* line ends seen but not yet emitted (trailing empty lines vanish) */
	bool wsp;	 /* whitespace seen but not yet emitted (trailing whitespace vanishes) */
	bool cr;	 /* a CR that may start a CRLF */
	bool any;	 /* something was emitted: the body ends with one CRLF */
};

/* Starts a relaxed body canonicalization into a SHA-256 (out NULL) or
 * into out. */
void dkim_body_init(struct dkim_body *b, struct buf *out);
void dkim_body_update(struct dkim_body *b, const char *p, size_t n);
/* Ends it; with a hash, writes the 32 bytes to hash and frees the context. */
void dkim_body_final(struct dkim_body *b, uint8_t hash[32]);

/* Appends the relaxed form of one header field "name:value" with CRLF
 * (crlf false: without, as for the DKIM-Signature field itself).
 * Returns 0, or -1 when out is full. */
int dkim_canon_header(const char *name, size_t name_len, const char *value, size_t value_len, bool crlf,
		      struct buf *out);

/* ---- Keys --------------------------------------------------------------- */

struct dkim_key {
	char *domain;
	char *selector;
	enum dkim_alg alg;
	EVP_PKEY *pkey;
};

/* true when s is a usable selector: 1-63 characters of a-z, 0-9, '-' and
 * '_', not starting with '-' (one DNS label; dots would put the key
 * elsewhere). */
bool dkim_selector_valid(const char *s);
/* Reads a private key (PEM, PKCS#8 or traditional) and works out its
 * algorithm (RSA of at least 1024 bits, or Ed25519). 0, or -1 with a
 * static message. */
int dkim_key_load(const char *path, const char *domain, const char *selector, struct dkim_key *k,
		  const char **error_r);
void dkim_key_clear(struct dkim_key *k);
/* Creates a new key (RSA 2048 or Ed25519) in a new file, mode 0600; never
 * overwrites. 0, or -1 with a static message. */
int dkim_key_generate(enum dkim_alg alg, const char *path, const char **error_r);
/* Appends the TXT record data that publishes k: "v=DKIM1; k=rsa; p=...". */
int dkim_key_record(const struct dkim_key *k, struct buf *out);
/* "rsa-sha256", "ed25519-sha256" */
const char *dkim_alg_name(enum dkim_alg alg);

/* Loads every key of domain from dir (DIR/DOMAIN/SELECTOR.pem), RSA first, then
 * by selector. *keys_r is malloc'd (free with dkim_keys_free). Returns the
 * count (0 when there is no folder), or -1 with a message (static). */
int dkim_keys_load(const char *dir, const char *domain, struct dkim_key **keys_r, const char **error_r);
void dkim_keys_free(struct dkim_key **keys, size_t count);

/* ---- Signing ------------------------------------------------------------ */

/* The DKIM-Signature header fields for msg (a complete message, header
 * and body) signed with each key at time now, appended to out, CRLF
 * terminated, to be put in front of the message. Signed header fields:
 * those of the usual set that the message has, each once more than it
 * appears (so none can be added without breaking the signature).
 * Returns 0, or -1 with a static message. */
int dkim_sign(const struct dkim_key *keys, size_t count, const char *msg, size_t len, time_t now,
	      struct buf *out, const char **error_r);

/* The domain of the first address of the message's From: field, lower-
 * cased, into out. 0, or -1 when there is none. */
int dkim_from_domain(const char *msg, size_t len, char *out, size_t out_size);

/* Keys of every domain, loaded on first use and reloaded when a domain's
 * folder changes. */
struct dkim_signer;
struct dkim_signer *dkim_signer_new(const char *dir);
void dkim_signer_free(struct dkim_signer **s);
/* Signs msg with the keys of its From: domain: 1 signed (headers appended
 * to out), 0 nothing to sign with (no From: domain, or no keys for it),
 * -1 error (*error_r static or owned by the signer). */
int dkim_signer_sign(struct dkim_signer *s, const char *msg, size_t len, time_t now, struct buf *out,
		     const char **error_r);

#endif
