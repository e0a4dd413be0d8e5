/* dkim: signing, canonicalization and keys (see dkim.h).
 *
 * The signature covers the canonical body (its SHA-256 goes into bh=) and
 * the canonical forms of the signed header fields, followed by the
 * DKIM-Signature field itself with an empty b= (RFC 6376 3.7). For
 * ed25519-sha256 the signed data is the SHA-256 of all that, signed with
 * PureEdDSA (RFC 8463 3); for rsa-sha256, PKCS#1 v1.5 over SHA-256. */
#include "dkim/dkim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mime/address.h"
#include "mime/header.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/mem.h"

/* ---- Canonicalization ----------------------------------------------------- */

void dkim_body_init(struct dkim_body *b, struct buf *out)
{
	memset(b, 0, sizeof(*b));
	b->out = out;
	if (out == NULL) {
		b->md = EVP_MD_CTX_new();
		if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
			fatalx("dkim: cannot start SHA-256");
	}
}

static void emit(struct dkim_body *b, const char *p, size_t n)
{
	if (b->out != NULL)
		buf_append(b->out, p, n);
	else
		EVP_DigestUpdate(b->md, p, n);
}

/* A byte that is neither whitespace nor part of a line end. */
static void content(struct dkim_body *b, const char *p, size_t n)
{
	while (b->crlf > 0) {
		emit(b, "\r\n", 2);
		b->crlf--;
	}
	if (b->wsp) {
		emit(b, " ", 1);
		b->wsp = false;
	}
	emit(b, p, n);
	b->any = true;
}

void dkim_body_update(struct dkim_body *b, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		char c = p[i];
		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				/* A line end: trailing whitespace of the line is dropped;
				 * the CRLF waits (empty lines at the end vanish). */
				b->wsp = false;
				b->crlf++;
				i++;
				continue;
			}
			content(b, "\r", 1);
		}
		if (c == '\r') {
			b->cr = true;
			i++;
		} else if (c == ' ' || c == '\t') {
			b->wsp = true;
			i++;
		} else {
			/* A run of plain bytes in one go. */
			size_t j = i + 1;
			while (j < n && p[j] != '\r' && p[j] != ' ' && p[j] != '\t')
				j++;
			content(b, p + i, j - i);
			i = j;
		}
	}
}

void dkim_body_final(struct dkim_body *b, uint8_t hash[32])
{
	if (b->cr)
		content(b, "\r", 1);
	/* Whitespace on a last line without CRLF is not "at the end of a
	 * line": it stays (as python3-dkim and our golden cases have it; our
	 * own stored messages always end with CRLF). */
	if (b->wsp)
		content(b, "", 0);
	/* A non-empty body ends with exactly one CRLF. */
	if (b->any)
		emit(b, "\r\n", 2);
	if (b->md != NULL) {
		unsigned len = 32;
		EVP_DigestFinal_ex(b->md, hash, &len);
		EVP_MD_CTX_free(b->md);
		b->md = NULL;
	}
}

int dkim_canon_header(const char *name, size_t name_len, const char *value, size_t value_len, bool crlf,
		      struct buf *out)
{
	int r = 0;
	while (name_len > 0 && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
		name_len--;
	for (size_t i = 0; i < name_len; i++) {
		char c = name[i];
		r |= buf_putc(out, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
	}
	r |= buf_putc(out, ':');
	bool wsp = false, started = false;
	for (size_t i = 0; i < value_len; i++) {
		char c = value[i];
		if (c == '\r' || c == '\n')
			continue; /* unfolding */
		if (c == ' ' || c == '\t') {
			wsp = true;
			continue;
		}
		if (wsp && started)
			r |= buf_putc(out, ' ');
		wsp = false;
		started = true;
		r |= buf_putc(out, c);
	}
	if (crlf)
		r |= buf_puts(out, "\r\n");
	return r ? -1 : 0;
}

/* ---- Keys ------------------------------------------------------------------- */

const char *dkim_alg_name(enum dkim_alg alg)
{
	return alg == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256";
}

bool dkim_selector_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

void dkim_key_clear(struct dkim_key *k)
{
	free(k->domain);
	free(k->selector);
	if (k->pkey)
		EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

int dkim_key_load(const char *path, const char *domain, const char *selector, struct dkim_key *k,
		  const char **error_r)
{
	memset(k, 0, sizeof(*k));
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		*error_r = "cannot open the key file";
		return -1;
	}
	EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL) {
		*error_r = "the key file holds no PEM private key";
		return -1;
	}
	int id = EVP_PKEY_get_base_id(pkey);
	if (id == EVP_PKEY_RSA) {
		if (EVP_PKEY_get_bits(pkey) < 1024) {
			EVP_PKEY_free(pkey);
			*error_r = "RSA keys need at least 1024 bits (verifiers ignore shorter ones)";
			return -1;
		}
		k->alg = DKIM_RSA_SHA256;
	} else if (id == EVP_PKEY_ED25519) {
		k->alg = DKIM_ED25519_SHA256;
	} else {
		EVP_PKEY_free(pkey);
		*error_r = "the key is neither RSA nor Ed25519";
		return -1;
	}
	k->pkey = pkey;
	k->domain = xstrdup(domain);
	k->selector = xstrdup(selector);
	return 0;
}

int dkim_key_generate(enum dkim_alg alg, const char *path, const char **error_r)
{
	EVP_PKEY *pkey = alg == DKIM_RSA_SHA256 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
						: EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL) {
		*error_r = "key generation failed";
		return -1;
	}
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		EVP_PKEY_free(pkey);
		*error_r = "path too long";
		return -1;
	}
	if (access(path, F_OK) == 0) {
		EVP_PKEY_free(pkey);
		*error_r = "a key with this selector exists already";
		return -1;
	}
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		EVP_PKEY_free(pkey);
		*error_r = "cannot create the key file";
		return -1;
	}
	int ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1;
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	EVP_PKEY_free(pkey);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		*error_r = "cannot write the key file";
		return -1;
	}
	return 0;
}

int dkim_key_record(const struct dkim_key *k, struct buf *out)
{
	int r = 0;
	if (k->alg == DKIM_RSA_SHA256) {
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(k->pkey, &der);
		if (n <= 0)
			return -1;
		r |= buf_puts(out, "v=DKIM1; k=rsa; p=");
		r |= base64_encode(out, der, (size_t)n);
		OPENSSL_free(der);
	} else {
		unsigned char raw[32];
		size_t n = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &n) != 1)
			return -1;
		r |= buf_puts(out, "v=DKIM1; k=ed25519; p=");
		r |= base64_encode(out, raw, n);
	}
	return r ? -1 : 0;
}

static int key_order(const void *a, const void *b)
{
	const struct dkim_key *x = a, *y = b;
	if (x->alg != y->alg)
		return x->alg == DKIM_RSA_SHA256 ? -1 : 1;
	return strcmp(x->selector, y->selector);
}

void dkim_keys_free(struct dkim_key **keys, size_t count)
{
	for (size_t i = 0; *keys != NULL && i < count; i++)
		dkim_key_clear(&(*keys)[i]);
	free(*keys);
	*keys = NULL;
}

int dkim_keys_load(const char *dir, const char *domain, struct dkim_key **keys_r, const char **error_r)
{
	*keys_r = NULL;
	struct buf path;
	buf_init(&path, 8192);
	if (buf_printf(&path, "%s/%s", dir, domain) < 0) {
		buf_free(&path);
		*error_r = "path too long";
		return -1;
	}
	DIR *d = opendir(path.data);
	if (d == NULL) {
		buf_free(&path);
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		*error_r = "cannot read the DKIM key folder";
		return -1;
	}
	struct dkim_key *v = NULL;
	size_t n = 0;
	struct dirent *e;
	size_t base = path.len;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len <= 4 || strcmp(e->d_name + len - 4, ".pem") != 0)
			continue;
		char sel[64];
		if (len - 4 >= sizeof(sel))
			continue;
		memcpy(sel, e->d_name, len - 4);
		sel[len - 4] = '\0';
		if (!dkim_selector_valid(sel))
			continue;
		buf_truncate(&path, base);
		if (buf_printf(&path, "/%s", e->d_name) < 0)
			continue;
		struct dkim_key k;
		const char *error;
		if (dkim_key_load(path.data, domain, sel, &k, &error) < 0) {
			log_warnx("dkim: %s: %s", path.data, error);
			continue;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = k;
	}
	closedir(d);
	buf_free(&path);
	if (n > 1)
		qsort(v, n, sizeof(*v), key_order);
	*keys_r = v;
	return (int)n;
}

/* ---- Signing -------------------------------------------------------------------- */

/* The header fields we sign when present, each once more than present. */
static const char *const sign_names[] = {
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "to",
    "cc",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "resent-date",
    "resent-from",
    "resent-to",
    "resent-cc",
    "resent-message-id",
};
#define N_SIGN (sizeof(sign_names) / sizeof(sign_names[0]))
#define MAX_SIGNED_FIELDS 200

struct field {
	size_t name_idx;
	const char *name, *value;
	size_t name_len, value_len;
};

static bool name_eq(const char *p, size_t n, const char *lower)
{
	if (strlen(lower) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if ((c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c) != lower[i])
			return false;
	}
	return true;
}

static int sign_one(const struct dkim_key *k, const struct field *fields, size_t nf, const size_t *counts,
		    const uint8_t bh[32], time_t now, struct buf *out, const char **error_r)
{
	struct buf value, data, sigb64;
	buf_init(&value, 64 * 1024);
	buf_init(&data, 4 * 1024 * 1024);
	buf_init(&sigb64, 8192);
	int r = 0;
	/* h=: each present name count+1 times. */
	r |= buf_printf(&value,
			"v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;\r\n\tt=%lld; h=", dkim_alg_name(k->alg),
			k->domain, k->selector, (long long)now);
	bool first = true;
	for (size_t i = 0; i < N_SIGN; i++) {
		for (size_t c = 0; counts[i] > 0 && c <= counts[i]; c++) {
			r |= buf_printf(&value, "%s%s", first ? "" : ":", sign_names[i]);
			first = false;
		}
	}
	r |= buf_puts(&value, ";\r\n\tbh=");
	r |= base64_encode(&value, bh, 32);
	r |= buf_puts(&value, ";\r\n\tb=");
	/* The signed data: the fields bottom-up per name, then our own field. */
	for (size_t i = 0; i < N_SIGN; i++) {
		if (counts[i] == 0)
			continue;
		for (size_t f = nf; f-- > 0;) {
			if (fields[f].name_idx != i)
				continue;
			r |= dkim_canon_header(fields[f].name, fields[f].name_len, fields[f].value,
					       fields[f].value_len, true, &data);
		}
	}
	r |= dkim_canon_header("DKIM-Signature", 14, value.data, value.len, false, &data);
	if (r != 0) {
		*error_r = "the header is too large to sign";
		goto fail;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	int ok;
	if (k->alg == DKIM_RSA_SHA256) {
		ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		     EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data.data, data.len) == 1;
	} else {
		unsigned char digest[32];
		unsigned dlen = 32;
		ok = EVP_Digest(data.data, data.len, digest, &dlen, EVP_sha256(), NULL) == 1 && ctx != NULL &&
		     EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestSign(ctx, sig, &siglen, digest, sizeof(digest)) == 1;
	}
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		*error_r = "signing failed";
		goto fail;
	}
	r |= base64_encode(&sigb64, sig, siglen);
	r |= buf_puts(out, "DKIM-Signature: ");
	r |= buf_append(out, value.data, value.len);
	/* The signature folded in lines of 72 characters. */
	for (size_t i = 0; i < sigb64.len; i += 72) {
		if (i > 0)
			r |= buf_puts(out, "\r\n\t ");
		r |= buf_append(out, sigb64.data + i, sigb64.len - i < 72 ? sigb64.len - i : 72);
	}
	r |= buf_puts(out, "\r\n");
	if (r != 0) {
		*error_r = "no room for the signature";
		goto fail;
	}
	buf_free(&value);
	buf_free(&data);
	buf_free(&sigb64);
	return 0;
fail:
	buf_free(&value);
	buf_free(&data);
	buf_free(&sigb64);
	return -1;
}

int dkim_sign(const struct dkim_key *keys, size_t count, const char *msg, size_t len, time_t now,
	      struct buf *out, const char **error_r)
{
	size_t blank = 0;
	size_t hlen = mime_header_block_size(msg, len, &blank);
	struct field *fields = xcalloc(MAX_SIGNED_FIELDS, sizeof(*fields));
	size_t nf = 0, counts[N_SIGN] = {0};
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, msg, hlen);
	while (mime_header_iter_next(&it, &f) == 1) {
		for (size_t i = 0; i < N_SIGN; i++) {
			if (!name_eq(f.name, f.name_len, sign_names[i]))
				continue;
			if (nf == MAX_SIGNED_FIELDS)
				break;
			/* The value as written, up to (not including) its line end. */
			fields[nf++] = (struct field){i, f.name, f.value, f.name_len, f.value_len};
			counts[i]++;
			break;
		}
	}
	uint8_t bh[32];
	struct dkim_body b;
	dkim_body_init(&b, NULL);
	dkim_body_update(&b, msg + hlen, len - hlen);
	dkim_body_final(&b, bh);
	size_t old = out->len;
	int r = 0;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = sign_one(&keys[i], fields, nf, counts, bh, now, out, error_r);
	free(fields);
	if (r < 0)
		buf_truncate(out, old);
	return r;
}

int dkim_from_domain(const char *msg, size_t len, char *out, size_t out_size)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, msg, mime_header_block_size(msg, len, NULL));
	while (mime_header_iter_next(&it, &f) == 1) {
		if (!mime_header_name_is(&f, "From"))
			continue;
		size_t n;
		char **specs = mime_address_specs(f.value, f.value_len, &n);
		int r = -1;
		const char *at = n > 0 ? strrchr(specs[0], '@') : NULL;
		if (at != NULL && at[1] != '\0' && strlen(at + 1) < out_size) {
			size_t i = 0;
			for (const char *p = at + 1; *p; p++)
				out[i++] = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
			out[i] = '\0';
			r = 0;
		}
		mime_address_specs_free(&specs);
		return r;
	}
	return -1;
}

/* ---- The signer ---------------------------------------------------------------- */

struct signer_domain {
	char *domain;
	struct timespec mtime;
	bool exists;
	struct dkim_key *keys;
	size_t count;
};

struct dkim_signer {
	char *dir;
	struct signer_domain *domains;
	size_t count;
};

struct dkim_signer *dkim_signer_new(const char *dir)
{
	struct dkim_signer *s = xmalloc(sizeof(*s));
	s->dir = xstrdup(dir);
	return s;
}

void dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->count; i++) {
		dkim_keys_free(&s->domains[i].keys, s->domains[i].count);
		free(s->domains[i].domain);
	}
	free(s->domains);
	free(s->dir);
	free(s);
	*sp = NULL;
}

int dkim_signer_sign(struct dkim_signer *s, const char *msg, size_t len, time_t now, struct buf *out,
		     const char **error_r)
{
	char domain[256];
	if (dkim_from_domain(msg, len, domain, sizeof(domain)) < 0 || strchr(domain, '/') != NULL ||
	    domain[0] == '.')
		return 0;
	struct signer_domain *sd = NULL;
	for (size_t i = 0; i < s->count && sd == NULL; i++)
		if (strcmp(s->domains[i].domain, domain) == 0)
			sd = &s->domains[i];
	if (sd == NULL) {
		s->domains = xreallocarray(s->domains, s->count + 1, sizeof(*s->domains));
		sd = &s->domains[s->count++];
		memset(sd, 0, sizeof(*sd));
		sd->domain = xstrdup(domain);
		sd->mtime.tv_sec = -1;
	}
	/* One stat per message: keys made or removed meanwhile take effect. */
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", s->dir, domain);
	bool exists = stat(path, &st) == 0;
	if (exists != sd->exists ||
	    (exists && (st.st_mtim.tv_sec != sd->mtime.tv_sec || st.st_mtim.tv_nsec != sd->mtime.tv_nsec))) {
		dkim_keys_free(&sd->keys, sd->count);
		sd->count = 0;
		sd->exists = exists;
		sd->mtime = exists ? st.st_mtim : (struct timespec){0, 0};
		if (exists) {
			int n = dkim_keys_load(s->dir, domain, &sd->keys, error_r);
			if (n < 0)
				return -1;
			sd->count = (size_t)n;
			log_info("dkim: %zu key%s for %s", sd->count, sd->count == 1 ? "" : "s", domain);
		}
	}
	if (sd->count == 0)
		return 0;
	return dkim_sign(sd->keys, sd->count, msg, len, now, out, error_r) < 0 ? -1 : 1;
}
