/* Unit tests for dkim: relaxed canonicalization of bodies (a table, each
 * input fed whole, cut at every split point, and one byte at a time) and of
 * header fields (including RFC 6376 3.4.5's example); the From: domain;
 * signing with fresh RSA and Ed25519 keys, checked by recomputing the
 * signed data independently and verifying with the public key; the key
 * folder and the signer (keys appearing and disappearing while it runs). */
#include <dirent.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dkim/dkim.h"
#include "test.h"
#include "util/base64.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *in;
	const char *want;
} body_cases[] = {
    {"", ""},
    {"\r\n", ""},
    {"\r\n\r\n\r\n", ""},
    {"abc", "abc\r\n"},
    {"abc\r\n", "abc\r\n"},
    {"abc\r\n\r\n\r\n", "abc\r\n"},
    {" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"}, /* RFC 6376 3.4.5 */
    {"a  b\t\tc\r\n", "a b c\r\n"},
    {"  lead\r\n", " lead\r\n"},
    {"trail \t \r\n", "trail\r\n"},
    {"x\r\n \r\n\t\r\ny\r\n", "x\r\n\r\n\r\ny\r\n"},
    {"x\r\n \r\n\t\r\n", "x\r\n"},
    {"a\rb\r\n", "a\rb\r\n"}, /* a bare CR is data */
    {"a\nb\r\n", "a\nb\r\n"}, /* so is a bare LF */
    {"a \r", "a \r\r\n"},     /* whitespace before a bare CR stays (it is not a line end) */
    {"end\r", "end\r\r\n"},
    {"\r\r\n", "\r\r\n"},
    {" ", " \r\n"},
    {"a ", "a \r\n"},
    {"x\r\n ", "x\r\n \r\n"},
    {"\t\r\n\t\r\n", ""},
};

static void canon_body(const char *in, size_t len, size_t piece, size_t split, struct buf *out)
{
	struct dkim_body b;
	buf_reset(out);
	dkim_body_init(&b, out);
	size_t pos = 0;
	while (pos < len) {
		size_t end = len;
		if (piece)
			end = pos + piece < len ? pos + piece : len;
		else if (split && pos < split)
			end = split;
		char *chunk = malloc(end - pos);
		memcpy(chunk, in + pos, end - pos);
		dkim_body_update(&b, chunk, end - pos);
		free(chunk);
		pos = end;
	}
	uint8_t hash[32];
	dkim_body_final(&b, hash);
}

TEST(body)
{
	struct buf out;
	buf_init(&out, 1 << 20);
	for (size_t i = 0; i < N_ELEMENTS(body_cases); i++) {
		size_t len = strlen(body_cases[i].in);
		canon_body(body_cases[i].in, len, 0, 0, &out);
		CHECK_STR(buf_cstr(&out), body_cases[i].want);
		canon_body(body_cases[i].in, len, 1, 0, &out);
		CHECK_STR(buf_cstr(&out), body_cases[i].want);
		for (size_t split = 1; split < len; split++) {
			canon_body(body_cases[i].in, len, 0, split, &out);
			CHECK_STR(buf_cstr(&out), body_cases[i].want);
		}
	}
	buf_free(&out);
}

TEST(body_hash)
{
	/* The empty body hashes as the empty string (RFC 6376 3.4.4 relaxed). */
	struct dkim_body b;
	uint8_t h[32];
	dkim_body_init(&b, NULL);
	dkim_body_final(&b, h);
	struct buf b64;
	buf_init(&b64, 100);
	base64_encode(&b64, h, 32);
	CHECK_STR(buf_cstr(&b64), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	/* And "abc\r\n" as itself. */
	dkim_body_init(&b, NULL);
	dkim_body_update(&b, "abc  \r\n\r\n", 9);
	dkim_body_final(&b, h);
	uint8_t want[32];
	unsigned wl = 32;
	EVP_Digest("abc\r\n", 5, want, &wl, EVP_sha256(), NULL);
	CHECK(memcmp(h, want, 32) == 0);
	buf_free(&b64);
}

static const struct {
	const char *name, *value, *want;
} header_cases[] = {
    {"A", "X", "a:X\r\n"},
    {"B ", "Y\t\r\n\tZ  ", "b:Y Z\r\n"}, /* RFC 6376 3.4.5 */
    {"Subject", "  Hello   world \t", "subject:Hello world\r\n"},
    {"From", "Alice\r\n <a@a.test>", "from:Alice <a@a.test>\r\n"},
    {"X-Empty", "", "x-empty:\r\n"},
    {"To", "\r\n\tbob@b.test", "to:bob@b.test\r\n"},
};

TEST(header)
{
	struct buf out;
	buf_init(&out, 4096);
	for (size_t i = 0; i < N_ELEMENTS(header_cases); i++) {
		buf_reset(&out);
		CHECK_INT(dkim_canon_header(header_cases[i].name, strlen(header_cases[i].name),
					    header_cases[i].value, strlen(header_cases[i].value), true, &out),
			  0);
		CHECK_STR(buf_cstr(&out), header_cases[i].want);
	}
	buf_reset(&out);
	dkim_canon_header("DKIM-Signature", 14, "v=1; b=", 7, false, &out);
	CHECK_STR(buf_cstr(&out), "dkim-signature:v=1; b=");
	buf_free(&out);
}

static const struct {
	const char *msg;
	const char *want;
} from_cases[] = {
    {"From: Alice <alice@A.Test>\r\n\r\nx", "a.test"},
    {"Subject: x\r\nfrom: \"Bob, Jr\" <bob@b.test>, c@c.test\r\n\r\n", "b.test"},
    {"From: =?utf-8?q?Al?= <al@sub.example.org>\r\n\r\n", "sub.example.org"},
    {"From: nobody\r\n\r\n", NULL},
    {"Subject: none\r\n\r\n", NULL},
    {"To: x@y.test\r\n\r\nFrom: a@b.test\r\n", NULL}, /* From: in the body is not a header */
};

TEST(from_domain)
{
	for (size_t i = 0; i < N_ELEMENTS(from_cases); i++) {
		char d[256];
		int r = dkim_from_domain(from_cases[i].msg, strlen(from_cases[i].msg), d, sizeof(d));
		CHECK_STR(r == 0 ? d : NULL, from_cases[i].want);
	}
}

TEST(selectors)
{
	CHECK(dkim_selector_valid("rsa-20261126"));
	CHECK(dkim_selector_valid("a_b"));
	CHECK(!dkim_selector_valid(""));
	CHECK(!dkim_selector_valid("-x"));
	CHECK(!dkim_selector_valid("a.b"));
	CHECK(!dkim_selector_valid("A"));
	CHECK(!dkim_selector_valid("../x"));
	CHECK(!dkim_selector_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

/* Takes "tag=value" out of a DKIM-Signature value (whitespace removed). */
static void tag(const char *sig, const char *name, struct buf *out)
{
	buf_reset(out);
	const char *p = sig;
	size_t nl = strlen(name);
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ';')
			p++;
		if (*p == '\0')
			return;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			for (p += nl + 1; *p && *p != ';'; p++)
				if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
					buf_putc(out, *p);
			return;
		}
		p = strchr(p, ';');
		if (p == NULL)
			return;
	}
}

/* Verifies the first DKIM-Signature of signed (header fields text) for msg
 * the way a verifier does, with our canonicalizers but our own selection of
 * fields: h= read back from the signature. */
static bool verify(const struct dkim_key *k, const char *sighdr, const char *msg)
{
	struct buf t, data, sig;
	buf_init(&t, 1 << 16);
	buf_init(&data, 1 << 20);
	buf_init(&sig, 1 << 12);
	const char *value = sighdr + strlen("DKIM-Signature: ");
	size_t vlen = strlen(value);
	while (vlen > 0 && (value[vlen - 1] == '\n' || value[vlen - 1] == '\r'))
		vlen--;
	/* h= fields, bottom-up per name. */
	tag(value, "h", &t);
	char *h = strdup(buf_cstr(&t));
	const char *hdr_end = strstr(msg, "\r\n\r\n");
	size_t hlen = (size_t)(hdr_end - msg) + 2;
	struct {
		char name[64];
		int used;
	} used[32];
	size_t nused = 0;
	for (char *save = NULL, *name = strtok_r(h, ":", &save); name; name = strtok_r(NULL, ":", &save)) {
		size_t u;
		for (u = 0; u < nused && strcmp(used[u].name, name) != 0; u++)
			;
		if (u == nused) {
			snprintf(used[nused].name, sizeof(used[nused].name), "%s", name);
			used[nused++].used = 0;
		}
		/* Find instance number (count - 1 - used) of name. */
		const char *lines[64];
		size_t lens[64], nl = 0;
		const char *p = msg;
		while (p < msg + hlen) {
			const char *e = p;
			do {
				e = strstr(e, "\r\n") + 2;
			} while (e < msg + hlen && (*e == ' ' || *e == '\t'));
			const char *colon = memchr(p, ':', (size_t)(e - p));
			if (colon && (size_t)(colon - p) == strlen(name) &&
			    strncasecmp(p, name, strlen(name)) == 0 && nl < 64) {
				lines[nl] = p;
				lens[nl++] = (size_t)(e - p);
			}
			p = e;
		}
		int idx = (int)nl - 1 - used[u].used++;
		if (idx >= 0) {
			const char *colon = memchr(lines[idx], ':', lens[idx]);
			const char *v = colon + 1;
			while (*v == ' ')
				v++;
			dkim_canon_header(lines[idx], (size_t)(colon - lines[idx]), v,
					  lens[idx] - (size_t)(v - lines[idx]) - 2, true, &data);
		}
	}
	free(h);
	/* The signature field with b= emptied. */
	const char *b = strstr(value, "b=");
	while (b != NULL && b > value && b[-1] == 'b')
		b = strstr(b + 2, "b="); /* skip bh= */
	dkim_canon_header("DKIM-Signature", 14, value, (size_t)(b + 2 - value), false, &data);
	tag(value, "b", &t);
	base64_decode(&sig, t.data, t.len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;
	if (k->alg == DKIM_RSA_SHA256) {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		     EVP_DigestVerify(ctx, (const unsigned char *)sig.data, sig.len,
				      (const unsigned char *)data.data, data.len) == 1;
	} else {
		unsigned char d[32];
		unsigned dl = 32;
		EVP_Digest(data.data, data.len, d, &dl, EVP_sha256(), NULL);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestVerify(ctx, (const unsigned char *)sig.data, sig.len, d, 32) == 1;
	}
	EVP_MD_CTX_free(ctx);
	/* bh= */
	tag(value, "bh", &t);
	struct buf bh;
	buf_init(&bh, 100);
	uint8_t hash[32];
	struct dkim_body body;
	dkim_body_init(&body, NULL);
	dkim_body_update(&body, msg + hlen + 2, strlen(msg) - hlen - 2);
	dkim_body_final(&body, hash);
	base64_encode(&bh, hash, 32);
	ok = ok && strcmp(buf_cstr(&bh), buf_cstr(&t)) == 0;
	buf_free(&bh);
	buf_free(&t);
	buf_free(&data);
	buf_free(&sig);
	return ok;
}

static char tmpdir[] = "/tmp/posthorn-dkim-test-XXXXXX";

TEST(sign_and_verify)
{
	CHECK(mkdtemp(tmpdir) != NULL);
	char dir[256], path[300];
	snprintf(dir, sizeof(dir), "%s/a.test", tmpdir);
	CHECK_INT(mkdir(dir, 0700), 0);
	const char *error;
	snprintf(path, sizeof(path), "%s/rsa1.pem", dir);
	CHECK_INT(dkim_key_generate(DKIM_RSA_SHA256, path, &error), 0);
	CHECK_INT(dkim_key_generate(DKIM_RSA_SHA256, path, &error), -1); /* never overwrites */
	snprintf(path, sizeof(path), "%s/ed1.pem", dir);
	CHECK_INT(dkim_key_generate(DKIM_ED25519_SHA256, path, &error), 0);
	struct dkim_key *keys;
	int n = dkim_keys_load(tmpdir, "a.test", &keys, &error);
	CHECK_INT(n, 2);
	CHECK(n == 2 && keys[0].alg == DKIM_RSA_SHA256 && keys[1].alg == DKIM_ED25519_SHA256);
	struct dkim_key *none = NULL;
	CHECK_INT(dkim_keys_load(tmpdir, "other.test", &none, &error), 0); /* no folder: no keys */
	struct buf rec;
	buf_init(&rec, 4096);
	dkim_key_record(&keys[1], &rec);
	CHECK(strncmp(buf_cstr(&rec), "v=DKIM1; k=ed25519; p=", 22) == 0 && rec.len == 22 + 44);
	buf_reset(&rec);
	dkim_key_record(&keys[0], &rec);
	CHECK(strncmp(buf_cstr(&rec), "v=DKIM1; k=rsa; p=MIIBIjAN", 26) == 0);

	const char *msg =
	    "Received: from x\r\nFrom: Alice <alice@a.test>\r\nTo: bob@b.test\r\nTo: second@b.test\r\n"
	    "Subject:  Hello\r\n\tworld \r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n"
	    "Hi  Bob,\r\n\r\nbye \r\n\r\n\r\n";
	struct buf out;
	buf_init(&out, 1 << 16);
	CHECK_INT(dkim_sign(keys, 2, msg, strlen(msg), 1795000000, &out, &error), 0);
	const char *second = strstr(out.data + 1, "DKIM-Signature: ");
	CHECK(second != NULL);
	char *first = strndup(out.data, (size_t)(second - out.data));
	CHECK(strstr(first, "a=rsa-sha256; c=relaxed/relaxed; d=a.test; s=rsa1;") != NULL);
	CHECK(strstr(first, "t=1795000000; h=from:from:subject:subject:date:date:to:to:to;") != NULL);
	CHECK(strstr(second, "a=ed25519-sha256;") != NULL);
	CHECK(verify(&keys[0], first, msg));
	CHECK(verify(&keys[1], second, msg));
	/* Any change breaks them. */
	char *changed = strdup(msg);
	changed[strlen(changed) - 8] = 'B';
	CHECK(!verify(&keys[0], first, changed));
	free(first);
	free(changed);
	dkim_keys_free(&keys, (size_t)n);
	buf_free(&out);
	buf_free(&rec);
}

TEST(signer)
{
	struct dkim_signer *s = dkim_signer_new(tmpdir);
	struct buf out;
	buf_init(&out, 1 << 16);
	const char *error;
	const char *msg = "From: a@a.test\r\n\r\nx\r\n";
	CHECK_INT(dkim_signer_sign(s, msg, strlen(msg), 1, &out, &error), 1);
	CHECK(strstr(out.data, "s=rsa1;") != NULL && strstr(out.data, "s=ed1;") != NULL);
	buf_reset(&out);
	const char *other = "From: a@other.test\r\n\r\nx\r\n";
	CHECK_INT(dkim_signer_sign(s, other, strlen(other), 1, &out, &error), 0);
	CHECK_INT(out.len, 0);
	const char *none = "Subject: no from\r\n\r\nx\r\n";
	CHECK_INT(dkim_signer_sign(s, none, strlen(none), 1, &out, &error), 0);
	/* Keys removed while running: no longer used. */
	char path[300];
	snprintf(path, sizeof(path), "%s/a.test/rsa1.pem", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a.test/ed1.pem", tmpdir);
	unlink(path);
	CHECK_INT(dkim_signer_sign(s, msg, strlen(msg), 1, &out, &error), 0);
	snprintf(path, sizeof(path), "%s/a.test", tmpdir);
	rmdir(path);
	rmdir(tmpdir);
	dkim_signer_free(&s);
	CHECK(s == NULL);
	buf_free(&out);
}

int main(void)
{
	RUN(body);
	RUN(body_hash);
	RUN(header);
	RUN(from_domain);
	RUN(selectors);
	RUN(sign_and_verify);
	RUN(signer);
	return test_done();
}
