/* SCRAM-SHA-256, server side (see scram.h).
 *
 * The parsers work on complete messages (SASL frames them), so they are
 * plain left-to-right scans over a (ptr, len) view with a cursor. Every
 * message is capped at SCRAM_MESSAGE_MAX and copied into capped bufs; the
 * three pieces that make up AuthMessage (client-first-bare, server-first,
 * client-final-without-proof) are kept verbatim, as the RFC requires.
 * Key material and intermediate values are wiped with explicit_bzero. */
#include "auth/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_name.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

#define SERVER_NONCE_BYTES 18 /* 24 base64 characters */
#define NONCE_MAX 256	      /* full nonce (client + server part) */

enum scram_state {
	SCRAM_STATE_CLIENT_FIRST, /* waiting for client-first */
	SCRAM_STATE_SERVER_FIRST, /* client-first parsed, secrets awaited */
	SCRAM_STATE_CLIENT_FINAL, /* server-first sent */
	SCRAM_STATE_DONE	  /* finished, successfully or not */
};

struct scram_server {
	enum scram_state state;
	bool unknown_user;
	struct buf gs2_header;	      /* "n,," / "y,a=x," exactly as sent */
	struct buf client_first_bare; /* verbatim */
	struct buf server_first;      /* verbatim */
	struct buf nonce;	      /* client nonce + server nonce */
	struct buf username;	      /* decoded */
	struct buf authzid;	      /* decoded, "" when absent */
	struct buf fixed_nonce;	      /* tests: server nonce part */
	struct scram_secrets sec;
};

/* ---- Small helpers ------------------------------------------------------ */

static void hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
			uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int out_len = SCRAM_KEY_LEN;
	if (HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) == NULL ||
	    out_len != SCRAM_KEY_LEN)
		fatalx("scram: HMAC-SHA-256 failed");
}

/* Wipes a buf's whole allocation (not only len bytes) and frees it. */
static void buf_wipe_free(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

/* printable = %x21-2B / %x2D-7E: printable ASCII but ','. */
static bool nonce_char(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != ',';
}

/* ---- Stored secrets ----------------------------------------------------- */

int scram_secrets_derive(const char *password, const uint8_t *salt, size_t salt_len, uint32_t iterations,
			 struct scram_secrets *out, const char **error_r)
{
	size_t pw_len = strlen(password);
	if (pw_len == 0) {
		*error_r = "empty password";
		return -1;
	}
	if (pw_len > 1024) {
		*error_r = "password too long";
		return -1;
	}
	if (salt_len == 0 || salt_len > SCRAM_SALT_MAX) {
		*error_r = "bad SCRAM salt length";
		return -1;
	}
	if (iterations == 0 || iterations > SCRAM_ITERATIONS_MAX) {
		*error_r = "bad SCRAM iteration count";
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->iterations = iterations;
	out->salt_len = salt_len;
	memcpy(out->salt, salt, salt_len);

	uint8_t salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	if (PKCS5_PBKDF2_HMAC(password, (int)pw_len, salt, (int)salt_len, (int)iterations, EVP_sha256(),
			      SCRAM_KEY_LEN, salted) != 1) {
		*error_r = "PBKDF2 failed";
		return -1;
	}
	hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key);
	SHA256(client_key, sizeof(client_key), out->stored_key);
	hmac_sha256(salted, sizeof(salted), "Server Key", 10, out->server_key);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return 0;
}

int scram_secrets_format(const struct scram_secrets *sec, struct buf *out)
{
	if (buf_printf(out, "%u,", (unsigned)sec->iterations) < 0 ||
	    base64_encode(out, sec->salt, sec->salt_len) < 0 || buf_putc(out, ',') < 0 ||
	    base64_encode(out, sec->stored_key, SCRAM_KEY_LEN) < 0 || buf_putc(out, ',') < 0 ||
	    base64_encode(out, sec->server_key, SCRAM_KEY_LEN) < 0)
		return -1;
	return 0;
}

int scram_secrets_create(const char *password, uint32_t iterations, char **secrets_r, const char **error_r)
{
	*secrets_r = NULL;
	uint8_t salt[SCRAM_SALT_LEN];
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		*error_r = "no randomness for the SCRAM salt";
		return -1;
	}
	struct scram_secrets sec;
	if (scram_secrets_derive(password, salt, sizeof(salt),
				 iterations ? iterations : SCRAM_ITERATIONS_DEFAULT, &sec, error_r) < 0)
		return -1;
	struct buf b;
	buf_init(&b, 512);
	if (scram_secrets_format(&sec, &b) < 0)
		fatalx("scram: secrets do not fit 512 bytes"); /* cannot happen: bounded sizes */
	explicit_bzero(&sec, sizeof(sec));
	*secrets_r = buf_steal(&b, NULL);
	return 0;
}

/* Decodes base64 (s, len) into exactly want bytes (or 1..want when
 * exact is false); returns the length or -1. */
static long decode_field(const char *s, size_t len, uint8_t *dst, size_t want, bool exact)
{
	struct buf b;
	buf_init(&b, want);
	long ret = -1;
	if (base64_decode(&b, s, len) == 0 && b.len > 0 && (!exact || b.len == want)) {
		memcpy(dst, b.data, b.len);
		ret = (long)b.len;
	}
	buf_wipe_free(&b);
	return ret;
}

int scram_secrets_parse(const char *s, struct scram_secrets *out, const char **error_r)
{
	const char *f[4];
	size_t flen[4];
	const char *p = s;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 4; i++) {
		const char *comma = strchr(p, ',');
		f[i] = p;
		if (i < 3) {
			if (comma == NULL) {
				*error_r = "SCRAM secrets: expected 4 comma-separated fields";
				return -1;
			}
			flen[i] = (size_t)(comma - p);
			p = comma + 1;
		} else {
			if (comma != NULL) {
				*error_r = "SCRAM secrets: expected 4 comma-separated fields";
				return -1;
			}
			flen[i] = strlen(p);
		}
	}
	uint32_t iter;
	if (strn_to_u32(f[0], flen[0], &iter) < 0 || iter == 0 || iter > SCRAM_ITERATIONS_MAX) {
		*error_r = "SCRAM secrets: bad iteration count";
		return -1;
	}
	out->iterations = iter;
	long n = decode_field(f[1], flen[1], out->salt, SCRAM_SALT_MAX, false);
	if (n < 0) {
		*error_r = "SCRAM secrets: bad salt";
		return -1;
	}
	out->salt_len = (size_t)n;
	if (decode_field(f[2], flen[2], out->stored_key, SCRAM_KEY_LEN, true) < 0 ||
	    decode_field(f[3], flen[3], out->server_key, SCRAM_KEY_LEN, true) < 0) {
		explicit_bzero(out, sizeof(*out));
		*error_r = "SCRAM secrets: bad key";
		return -1;
	}
	return 0;
}

/* ---- Unknown users ------------------------------------------------------ */

static uint8_t fake_salt_key[32];
static pthread_once_t fake_salt_once = PTHREAD_ONCE_INIT;

static void fake_salt_init(void)
{
	if (RAND_bytes(fake_salt_key, sizeof(fake_salt_key)) != 1)
		fatalx("scram: no randomness");
}

/* A salt that is stable for a given name within this process, so that
 * asking twice for an unknown user gives the same answer, as for a real one. */
static void fake_salt(const char *username, struct scram_secrets *sec)
{
	uint8_t mac[SCRAM_KEY_LEN];
	pthread_once(&fake_salt_once, fake_salt_init);
	hmac_sha256(fake_salt_key, sizeof(fake_salt_key), username, strlen(username), mac);
	memset(sec, 0, sizeof(*sec));
	sec->iterations = SCRAM_ITERATIONS_DEFAULT;
	sec->salt_len = SCRAM_SALT_LEN;
	memcpy(sec->salt, mac, SCRAM_SALT_LEN);
	/* Keys stay zero: no proof can match, since StoredKey = H(ClientKey)
	 * would need a SHA-256 preimage of zero bytes. unknown_user is also set. */
}

/* ---- The exchange ------------------------------------------------------- */

struct scram_server *scram_server_new(void)
{
	struct scram_server *s = xmalloc(sizeof(*s));
	s->state = SCRAM_STATE_CLIENT_FIRST;
	buf_init(&s->gs2_header, SCRAM_MESSAGE_MAX);
	buf_init(&s->client_first_bare, SCRAM_MESSAGE_MAX);
	buf_init(&s->server_first, SCRAM_MESSAGE_MAX);
	buf_init(&s->nonce, NONCE_MAX);
	buf_init(&s->username, AUTH_NAME_MAX);
	buf_init(&s->authzid, AUTH_NAME_MAX);
	buf_init(&s->fixed_nonce, NONCE_MAX);
	return s;
}

void scram_server_free(struct scram_server **sp)
{
	struct scram_server *s = *sp;
	if (s == NULL)
		return;
	buf_wipe_free(&s->gs2_header);
	buf_wipe_free(&s->client_first_bare);
	buf_wipe_free(&s->server_first);
	buf_wipe_free(&s->nonce);
	buf_wipe_free(&s->username);
	buf_wipe_free(&s->authzid);
	buf_wipe_free(&s->fixed_nonce);
	explicit_bzero(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

void scram_server_set_nonce(struct scram_server *s, const char *nonce)
{
	buf_reset(&s->fixed_nonce);
	(void)buf_puts(&s->fixed_nonce, nonce);
}

const char *scram_server_username(const struct scram_server *s)
{
	return buf_cstr(&s->username);
}

const char *scram_server_authzid(const struct scram_server *s)
{
	return buf_cstr(&s->authzid);
}

/* A cursor over a message. */
struct cursor {
	const char *p;
	size_t len, pos;
};

static bool cur_eof(const struct cursor *c)
{
	return c->pos >= c->len;
}

static bool cur_skip(struct cursor *c, const char *lit)
{
	size_t n = strlen(lit);
	if (c->len - c->pos < n || memcmp(c->p + c->pos, lit, n) != 0)
		return false;
	c->pos += n;
	return true;
}

/* Length of the value that starts at the cursor: up to ',' or the end. */
static size_t cur_value_len(const struct cursor *c)
{
	const char *comma = memchr(c->p + c->pos, ',', c->len - c->pos);
	return comma ? (size_t)(comma - (c->p + c->pos)) : c->len - c->pos;
}

/* saslname = 1*(value-safe-char / "=2C" / "=3D"), decoded into out and
 * checked to be a proper name. */
static int parse_saslname(struct cursor *c, struct buf *out)
{
	size_t n = cur_value_len(c);
	const char *v = c->p + c->pos;
	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		if (ch == '=') {
			if (n - i < 3)
				return -1;
			if (v[i + 1] == '2' && v[i + 2] == 'C')
				ch = ',';
			else if (v[i + 1] == '3' && v[i + 2] == 'D')
				ch = '=';
			else
				return -1;
			i += 2;
		}
		if (buf_putc(out, ch) < 0)
			return -1;
	}
	if (!auth_name_valid(out->data ? out->data : "", out->len))
		return -1;
	c->pos += n;
	return 0;
}

/* attr-val = ALPHA "=" value, value = 1*value-char (anything but ',' and NUL). */
static int skip_extension(struct cursor *c)
{
	if (c->len - c->pos < 3)
		return -1;
	char a = c->p[c->pos];
	if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')) || c->p[c->pos + 1] != '=')
		return -1;
	c->pos += 2;
	size_t n = cur_value_len(c);
	if (n == 0)
		return -1;
	c->pos += n;
	return 0;
}

/* Zero or more ",attr-val" up to the end of the message. */
static int skip_extensions(struct cursor *c)
{
	while (!cur_eof(c)) {
		if (!cur_skip(c, ",") || skip_extension(c) < 0)
			return -1;
	}
	return 0;
}

static int fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

int scram_server_client_first(struct scram_server *s, const uint8_t *msg, size_t len, const char **error_r)
{
	if (s->state != SCRAM_STATE_CLIENT_FIRST)
		return fail(error_r, "SCRAM: client-first-message out of turn");
	s->state = SCRAM_STATE_DONE; /* until it parses */
	if (len > SCRAM_MESSAGE_MAX)
		return fail(error_r, "SCRAM: message too long");
	if (memchr(msg, '\0', len) != NULL)
		return fail(error_r, "SCRAM: NUL byte in message");
	struct cursor c = {(const char *)msg, len, 0};

	/* gs2-header = gs2-cbind-flag "," [ authzid ] "," */
	if (cur_skip(&c, "p="))
		return fail(error_r, "SCRAM: channel binding is not supported");
	if (!cur_skip(&c, "n,") && !cur_skip(&c, "y,"))
		return fail(error_r, "SCRAM: malformed GS2 header");
	buf_reset(&s->authzid);
	if (cur_skip(&c, "a=")) {
		if (parse_saslname(&c, &s->authzid) < 0)
			return fail(error_r, "SCRAM: invalid authorization identity");
	}
	if (!cur_skip(&c, ","))
		return fail(error_r, "SCRAM: malformed GS2 header");
	buf_reset(&s->gs2_header);
	if (buf_append(&s->gs2_header, c.p, c.pos) < 0)
		return fail(error_r, "SCRAM: message too long");
	size_t bare_start = c.pos;

	/* client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions] */
	if (cur_skip(&c, "m="))
		return fail(error_r, "SCRAM: mandatory extension not supported");
	if (!cur_skip(&c, "n=") || parse_saslname(&c, &s->username) < 0)
		return fail(error_r, "SCRAM: missing or invalid user name");
	if (!cur_skip(&c, ",r="))
		return fail(error_r, "SCRAM: missing nonce");
	size_t n = cur_value_len(&c);
	if (n == 0 || n > NONCE_MAX / 2)
		return fail(error_r, "SCRAM: bad nonce length");
	for (size_t i = 0; i < n; i++) {
		if (!nonce_char((unsigned char)c.p[c.pos + i]))
			return fail(error_r, "SCRAM: invalid character in nonce");
	}
	buf_reset(&s->nonce);
	if (buf_append(&s->nonce, c.p + c.pos, n) < 0)
		return fail(error_r, "SCRAM: bad nonce length");
	c.pos += n;
	if (skip_extensions(&c) < 0)
		return fail(error_r, "SCRAM: malformed extension");

	buf_reset(&s->client_first_bare);
	if (buf_append(&s->client_first_bare, c.p + bare_start, len - bare_start) < 0)
		return fail(error_r, "SCRAM: message too long");
	s->state = SCRAM_STATE_SERVER_FIRST;
	return 0;
}

int scram_server_first(struct scram_server *s, const struct scram_secrets *sec, struct buf *out,
		       const char **error_r)
{
	if (s->state != SCRAM_STATE_SERVER_FIRST)
		return fail(error_r, "SCRAM: server-first-message out of turn");
	s->state = SCRAM_STATE_DONE;
	if (sec != NULL) {
		s->sec = *sec;
		s->unknown_user = false;
	} else {
		fake_salt(buf_cstr(&s->username), &s->sec);
		s->unknown_user = true;
	}
	if (s->fixed_nonce.len > 0) {
		if (buf_append(&s->nonce, s->fixed_nonce.data, s->fixed_nonce.len) < 0)
			return fail(error_r, "SCRAM: nonce too long");
	} else {
		uint8_t rnd[SERVER_NONCE_BYTES];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return fail(error_r, "SCRAM: no randomness for the nonce");
		if (base64_encode(&s->nonce, rnd, sizeof(rnd)) < 0)
			return fail(error_r, "SCRAM: nonce too long");
	}
	struct buf *sf = &s->server_first;
	buf_reset(sf);
	if (buf_puts(sf, "r=") < 0 || buf_append(sf, s->nonce.data, s->nonce.len) < 0 ||
	    buf_puts(sf, ",s=") < 0 || base64_encode(sf, s->sec.salt, s->sec.salt_len) < 0 ||
	    buf_printf(sf, ",i=%u", (unsigned)s->sec.iterations) < 0)
		return fail(error_r, "SCRAM: server-first-message too long");
	if (buf_append(out, sf->data, sf->len) < 0)
		return fail(error_r, "SCRAM: output buffer full");
	s->state = SCRAM_STATE_CLIENT_FINAL;
	return 0;
}

int scram_server_client_final(struct scram_server *s, const uint8_t *msg, size_t len, struct buf *out,
			      const char **error_r)
{
	if (s->state != SCRAM_STATE_CLIENT_FINAL)
		return fail(error_r, "SCRAM: client-final-message out of turn");
	s->state = SCRAM_STATE_DONE;
	if (len > SCRAM_MESSAGE_MAX)
		return fail(error_r, "SCRAM: message too long");
	if (memchr(msg, '\0', len) != NULL)
		return fail(error_r, "SCRAM: NUL byte in message");
	struct cursor c = {(const char *)msg, len, 0};

	/* channel-binding = "c=" base64(gs2-header): no cbind-data for "n"/"y". */
	if (!cur_skip(&c, "c="))
		return fail(error_r, "SCRAM: missing channel binding");
	size_t n = cur_value_len(&c);
	struct buf cb;
	buf_init(&cb, SCRAM_MESSAGE_MAX);
	bool cb_ok = base64_decode(&cb, c.p + c.pos, n) == 0 && cb.len == s->gs2_header.len &&
		     memcmp(cb.data, s->gs2_header.data, cb.len) == 0;
	buf_free(&cb);
	if (!cb_ok)
		return fail(error_r, "SCRAM: channel binding does not match the GS2 header");
	c.pos += n;

	if (!cur_skip(&c, ",r="))
		return fail(error_r, "SCRAM: missing nonce");
	n = cur_value_len(&c);
	if (n != s->nonce.len || memcmp(c.p + c.pos, s->nonce.data, n) != 0)
		return fail(error_r, "SCRAM: nonce mismatch");
	c.pos += n;

	/* Extensions, then ",p=" proof, which must come last. */
	size_t without_proof_len;
	for (;;) {
		if (!cur_skip(&c, ","))
			return fail(error_r, "SCRAM: missing proof");
		if (cur_skip(&c, "p=")) {
			without_proof_len = c.pos - 3;
			break;
		}
		if (skip_extension(&c) < 0)
			return fail(error_r, "SCRAM: malformed extension");
	}
	uint8_t proof[SCRAM_KEY_LEN];
	n = cur_value_len(&c);
	if (c.pos + n != len)
		return fail(error_r, "SCRAM: data after the proof");
	if (decode_field(c.p + c.pos, n, proof, SCRAM_KEY_LEN, true) < 0)
		return fail(error_r, "SCRAM: malformed proof");

	if (s->unknown_user) {
		explicit_bzero(proof, sizeof(proof));
		*error_r = "SCRAM: authentication failed";
		return 0;
	}

	/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
	struct buf am;
	buf_init(&am, 3 * SCRAM_MESSAGE_MAX + 2);
	if (buf_append(&am, s->client_first_bare.data, s->client_first_bare.len) < 0 ||
	    buf_putc(&am, ',') < 0 || buf_append(&am, s->server_first.data, s->server_first.len) < 0 ||
	    buf_putc(&am, ',') < 0 || buf_append(&am, msg, without_proof_len) < 0)
		fatalx("scram: AuthMessage exceeds its bound"); /* cannot happen: parts are capped */

	uint8_t sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	hmac_sha256(s->sec.stored_key, SCRAM_KEY_LEN, am.data, am.len, sig);
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	SHA256(client_key, sizeof(client_key), stored);
	bool ok = CRYPTO_memcmp(stored, s->sec.stored_key, SCRAM_KEY_LEN) == 0;
	int ret = 0;
	if (ok) {
		hmac_sha256(s->sec.server_key, SCRAM_KEY_LEN, am.data, am.len, sig);
		if (buf_puts(out, "v=") < 0 || base64_encode(out, sig, sizeof(sig)) < 0)
			ret = fail(error_r, "SCRAM: output buffer full");
		else
			ret = 1;
	} else {
		*error_r = "SCRAM: authentication failed";
	}
	explicit_bzero(proof, sizeof(proof));
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(client_key, sizeof(client_key));
	explicit_bzero(stored, sizeof(stored));
	buf_wipe_free(&am);
	explicit_bzero(&s->sec, sizeof(s->sec));
	return ret;
}
