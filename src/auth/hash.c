/* Password hashing and verification with libcrypt (see hash.h).
 *
 * libcrypt does the cryptography; this file decides which schemes are
 * acceptable, checks their syntax and cost before handing them to crypt_rn
 * (a stored hash with an absurd cost would otherwise make one login burn
 * minutes of CPU or gigabytes of memory), compares results in constant time,
 * and wipes the 32 KiB struct crypt_data, which holds the password and
 * intermediate state, after every use. */
#include "auth/hash.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* Limits on the cost of hashes we agree to compute. */
#define BCRYPT_COST_MAX 17
#define SHA512_ROUNDS_MIN 1000
#define SHA512_ROUNDS_MAX 2000000
#define YESCRYPT_MEMORY_MAX ((uint64_t)1 << 30)

/* Index of c in crypt's "./0-9A-Za-z" alphabet, or -1. */
static int itoa64_index(unsigned char c)
{
	if (c == '.')
		return 0;
	if (c == '/')
		return 1;
	if (c >= '0' && c <= '9')
		return c - '0' + 2;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 12;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 38;
	return -1;
}

/* Length of the run of crypt-alphabet characters at s. */
static size_t itoa64_span(const char *s)
{
	size_t n = 0;
	while (s[n] != '\0' && itoa64_index((unsigned char)s[n]) >= 0)
		n++;
	return n;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "$2b$NN$" + 22 salt + 31 digest characters. */
static bool bcrypt_ok(const char *h)
{
	if (strlen(h) != 60 || h[3] != '$' || !is_digit(h[4]) || !is_digit(h[5]) || h[6] != '$')
		return false;
	int cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < 4 || cost > BCRYPT_COST_MAX)
		return false;
	return itoa64_span(h + 7) == 53;
}

/* "$6$" ["rounds=N$"] salt(1..16) "$" digest(86). */
static bool sha512_ok(const char *h)
{
	const char *p = h + 3;
	static const char rounds[] = "rounds=";
	if (strncmp(p, rounds, sizeof(rounds) - 1) == 0) {
		p += sizeof(rounds) - 1;
		uint64_t n = 0;
		size_t digits = 0;
		while (is_digit(p[digits]) && digits < 10) {
			n = n * 10 + (uint64_t)(p[digits] - '0');
			digits++;
		}
		/* A leading zero would make crypt's output differ from the stored string. */
		if (digits == 0 || p[digits] != '$' || p[0] == '0')
			return false;
		if (n < SHA512_ROUNDS_MIN || n > SHA512_ROUNDS_MAX)
			return false;
		p += digits + 1;
	}
	size_t salt = itoa64_span(p);
	if (salt < 1 || salt > 16 || p[salt] != '$')
		return false;
	p += salt + 1;
	return itoa64_span(p) == 86 && p[86] == '\0';
}

/* "$y$" flavor N r "$" salt "$" digest(43), every parameter one character
 * (libcrypt's crypt_gensalt writes exactly that). The optional extra
 * parameters (p, t, g, ROM) are refused: no tool we migrate from writes them,
 * and t would raise the cost beyond the memory check. */
static bool yescrypt_ok(const char *h)
{
	const char *p = h + 3;
	int flavor = itoa64_index((unsigned char)p[0]);
	int n = flavor >= 0 ? itoa64_index((unsigned char)p[1]) : -1;
	int r = n >= 0 ? itoa64_index((unsigned char)p[2]) : -1;
	/* Index 47 ('j') is the largest value encoded in a single character. */
	if (flavor < 0 || flavor > 47 || n < 0 || n > 47 || r < 0 || r > 47 || p[3] != '$')
		return false;
	uint64_t n_log2 = (uint64_t)n + 1, rr = (uint64_t)r + 1;
	if (n_log2 > 30 || ((uint64_t)128 * rr << n_log2) > YESCRYPT_MEMORY_MAX)
		return false;
	p += 4;
	size_t salt = itoa64_span(p);
	if (salt < 1 || salt > 86 || p[salt] != '$')
		return false;
	p += salt + 1;
	return itoa64_span(p) == 43 && p[43] == '\0';
}

bool hash_password_is_supported(const char *hash)
{
	if (hash == NULL || strnlen(hash, HASH_STRING_MAX + 1) > HASH_STRING_MAX)
		return false;
	if (strncmp(hash, "$y$", 3) == 0)
		return yescrypt_ok(hash);
	if (strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$2a$", 4) == 0)
		return bcrypt_ok(hash);
	if (strncmp(hash, "$6$", 3) == 0)
		return sha512_ok(hash);
	return false;
}

static bool prefix_allowed(const char *prefix)
{
	static const char *const allowed[] = {"$y$", "$2b$", "$2y$", "$2a$", "$6$"};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (strcmp(prefix, allowed[i]) == 0)
			return true;
	}
	return false;
}

int hash_password_create_scheme(const char *password, const char *prefix, unsigned long cost, char **hash_r,
				const char **error_r)
{
	*hash_r = NULL;
	if (!prefix_allowed(prefix)) {
		*error_r = "unsupported password hash scheme";
		return -1;
	}
	size_t len = strnlen(password, HASH_PASSWORD_MAX + 1);
	if (len == 0) {
		*error_r = "empty password";
		return -1;
	}
	if (len > HASH_PASSWORD_MAX) {
		*error_r = "password too long";
		return -1;
	}
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	/* NULL random bytes: libcrypt reads them from the kernel (getrandom). */
	if (crypt_gensalt_rn(prefix, cost, NULL, 0, setting, (int)sizeof(setting)) == NULL) {
		*error_r = errno == EINVAL ? "invalid cost for this hash scheme"
					   : "crypt_gensalt failed (no randomness?)";
		return -1;
	}
	struct crypt_data *cd = xmalloc(sizeof(*cd));
	const char *out = crypt_rn(password, setting, cd, (int)sizeof(*cd));
	int ret = -1;
	if (out == NULL || out[0] == '*') {
		*error_r = "crypt failed";
	} else if (!hash_password_is_supported(out)) {
		/* Our own syntax check must accept what we generate. */
		*error_r = "crypt produced a hash outside the supported syntax";
	} else {
		*hash_r = xstrdup(out);
		ret = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ret;
}

int hash_password_create(const char *password, char **hash_r, const char **error_r)
{
	return hash_password_create_scheme(password, "$y$", 0, hash_r, error_r);
}

int hash_password_verify(const char *password, const char *hash, const char **error_r)
{
	if (!hash_password_is_supported(hash)) {
		*error_r = "unsupported or malformed password hash";
		return -1;
	}
	size_t len = strnlen(password, HASH_PASSWORD_MAX + 1);
	if (len == 0 || len > HASH_PASSWORD_MAX)
		return 0;
	struct crypt_data *cd = xmalloc(sizeof(*cd));
	const char *out = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	int ret;
	if (out == NULL || out[0] == '*') {
		*error_r = "crypt failed on the stored hash";
		ret = -1;
	} else {
		size_t hlen = strlen(hash);
		/* Lengths are not secret (same scheme, same salt); contents are. */
		ret = strlen(out) == hlen && CRYPTO_memcmp(out, hash, hlen) == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ret;
}
