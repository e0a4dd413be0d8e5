/* Unit tests for src/auth: hash, scram, sasl, throttle, verify_pool.
 *
 * yescrypt is slow on purpose: only a handful of default-cost hashes are
 * computed; the verify-pool tests use cost-1 yescrypt, bcrypt cost 4 and
 * sha512-crypt with 1000 rounds. */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/auth_login.h"
#include "auth/auth_name.h"
#include "auth/hash.h"
#include "auth/sasl.h"
#include "auth/scram.h"
#include "auth/throttle.h"
#include "auth/verify_pool.h"
#include "test.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/mem.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- hash ---------------------------------------------------------------- */

TEST(hash_default_yescrypt)
{
	char *h = NULL;
	const char *err = NULL;
	CHECK_INT(hash_password_create("correct horse", &h, &err), 0);
	CHECK(h != NULL && strncmp(h, "$y$", 3) == 0);
	CHECK(hash_password_is_supported(h));
	CHECK_INT(hash_password_verify("correct horse", h, &err), 1);
	CHECK_INT(hash_password_verify("correct horsf", h, &err), 0);
	char *h2 = NULL;
	CHECK_INT(hash_password_create("correct horse", &h2, &err), 0);
	CHECK(h2 != NULL && strcmp(h, h2) != 0); /* fresh salt each time */
	free(h);
	free(h2);
}

TEST(hash_schemes)
{
	static const struct {
		const char *prefix;
		unsigned long cost;
	} cases[] = {{"$y$", 1}, {"$2b$", 4}, {"$2y$", 4}, {"$2a$", 4}, {"$6$", 1000}, {"$6$", 0}};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char *h = NULL;
		const char *err = NULL;
		CHECK_INT(hash_password_create_scheme("pässword 1", cases[i].prefix, cases[i].cost, &h, &err),
			  0);
		if (h == NULL)
			continue;
		CHECK(strncmp(h, cases[i].prefix, strlen(cases[i].prefix)) == 0);
		CHECK(hash_password_is_supported(h));
		CHECK_INT(hash_password_verify("pässword 1", h, &err), 1);
		CHECK_INT(hash_password_verify("pässword 2", h, &err), 0);
		CHECK_INT(hash_password_verify("", h, &err), 0);
		free(h);
	}
}

TEST(hash_foreign_vectors)
{
	const char *err = NULL;
	/* openssl passwd -6 -salt saltsalt 'correct horse' (an independent implementation). */
	const char *sha = "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfA"
			  "qxL5Vvwp2scFtv/uamSo5z0";
	CHECK_INT(hash_password_verify("correct horse", sha, &err), 1);
	CHECK_INT(hash_password_verify("Correct horse", sha, &err), 0);
	/* The classic bcrypt test vector "U*U". */
	const char *bf = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
	CHECK_INT(hash_password_verify("U*U", bf, &err), 1);
	CHECK_INT(hash_password_verify("U*V", bf, &err), 0);
}

TEST(hash_is_supported)
{
	static const struct {
		const char *hash;
		bool ok;
	} cases[] = {
	    {"$y$j9T$VoSTO9hjSA4AWn.D30jA10$VzTdCdVnMhhgcbGjyWqsR9SJdzNa3lXLRMcLpP7G2YA", true},
	    {"$y$j75$1NSNXJrF//NNL2nhalW1Q0$O99gbHqISMupTHuY70YNcHEB2ONowQuMyCmo/D1uiU4", true},
	    /* digest one character short / long, salt missing, bad characters */
	    {"$y$j9T$VoSTO9hjSA4AWn.D30jA10$VzTdCdVnMhhgcbGjyWqsR9SJdzNa3lXLRMcLpP7G2Y", false},
	    {"$y$j9T$VoSTO9hjSA4AWn.D30jA10$VzTdCdVnMhhgcbGjyWqsR9SJdzNa3lXLRMcLpP7G2YAx", false},
	    {"$y$j9T$$VzTdCdVnMhhgcbGjyWqsR9SJdzNa3lXLRMcLpP7G2YA", false},
	    {"$y$j9T$VoSTO9hjSA4AWn.D30jA10$VzTdCdVnMhhgcbGjyWqsR9SJdzNa3lXLRMcLpP7G2Y!", false},
	    /* N = 2^31 (index 'y' = 60 > 47: multi-character, refused), and 2^25 * r=32 */
	    {"$y$jyT$VoSTO9hjSA4AWn.D30jA10$VzTdCdVnMhhgcbGjyWqsR9SJdzNa3lXLRMcLpP7G2YA", false},
	    {"$y$jNT$VoSTO9hjSA4AWn.D30jA10$VzTdCdVnMhhgcbGjyWqsR9SJdzNa3lXLRMcLpP7G2YA", false},
	    /* extra parameters (p, t, ...) */
	    {"$y$j9T5$VoSTO9hjSA4AWn.D30jA10$VzTdCdVnMhhgcbGjyWqsR9SJdzNa3lXLRMcLpP7G2YA", false},
	    {"$2b$05$nRlZAUv7gk8O8duhYh7cv.i/TlsjHcpuQVLaf39s8N/k6ba048Qoa", true},
	    {"$2y$05$nRlZAUv7gk8O8duhYh7cv.i/TlsjHcpuQVLaf39s8N/k6ba048Qoa", true},
	    {"$2x$05$nRlZAUv7gk8O8duhYh7cv.i/TlsjHcpuQVLaf39s8N/k6ba048Qoa", false},
	    {"$2b$31$nRlZAUv7gk8O8duhYh7cv.i/TlsjHcpuQVLaf39s8N/k6ba048Qoa", false},
	    {"$2b$03$nRlZAUv7gk8O8duhYh7cv.i/TlsjHcpuQVLaf39s8N/k6ba048Qoa", false},
	    {"$2b$05$nRlZAUv7gk8O8duhYh7cv.i/TlsjHcpuQVLaf39s8N/k6ba048Qo", false},
	    {"$2b$5$nRlZAUv7gk8O8duhYh7cv.i/TlsjHcpuQVLaf39s8N/k6ba048Qoa0", false},
	    {"$6$hXGMDkfRbYQAM2j1$pLnIWhL/QzrAGugRoyLcR5IxEeMul6Tg16v/bik2hrbaZ2qK9ptBUUEyHF0oq6MpOGZQcab"
	     "unAHc2W1mrQ2vq0",
	     true},
	    {"$6$rounds=1000$abc$yxe0KSjmoHd8rpohJgwvF5lnIQ/9t.klcz24a1cca3nWm.PLUmhXgcGgKWCoRFHRHYxXj4S"
	     "VEtjCnCAwaFY0V0",
	     true},
	    {"$6$rounds=999999999$abc$yxe0KSjmoHd8rpohJgwvF5lnIQ/9t.klcz24a1cca3nWm.PLUmhXgcGgKWCoRFHRHY"
	     "xXj4SVEtjCnCAwaFY0V0",
	     false},
	    {"$6$rounds=01000$abc$yxe0KSjmoHd8rpohJgwvF5lnIQ/9t.klcz24a1cca3nWm.PLUmhXgcGgKWCoRFHRHYxXj4"
	     "SVEtjCnCAwaFY0V0",
	     false},
	    {"$6$rounds=$abc$yxe0KSjmoHd8rpohJgwvF5lnIQ/9t.klcz24a1cca3nWm.PLUmhXgcGgKWCoRFHRHYxXj4SVEtj"
	     "CnCAwaFY0V0",
	     false},
	    {"$6$abcdefghijklmnopq$yxe0KSjmoHd8rpohJgwvF5lnIQ/9t.klcz24a1cca3nWm.PLUmhXgcGgKWCoRFHRHYxXj"
	     "4SVEtjCnCAwaFY0V0",
	     false},
	    {"$6$abc$short", false},
	    {"$5$abc$2dEhyXCW0VTYtSw9QuojxVqZT2PnKB8Gk5D2Z5dsqW7", false},
	    {"$1$abc$Kb85XxsXB.VXinPhbS4431", false},
	    {"gaxDyoamrjlO6", false}, /* DES: libcrypt would accept it */
	    {"", false},
	    {"$", false},
	    {"$y$", false},
	    {"$2b$", false},
	    {"$6$", false},
	    {"*", false},
	    {"!", false},
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		if (hash_password_is_supported(cases[i].hash) != cases[i].ok) {
			test_failures++;
			printf("FAIL hash_is_supported: case %zu \"%s\": want %d\n", i, cases[i].hash,
			       cases[i].ok);
		}
		test_checks++;
	}
	CHECK(!hash_password_is_supported(NULL));
	char big[HASH_STRING_MAX + 10];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "$6$", 3);
	CHECK(!hash_password_is_supported(big));
}

TEST(hash_errors)
{
	char *h = NULL;
	const char *err = NULL;
	CHECK_INT(hash_password_create("", &h, &err), -1);
	CHECK(h == NULL);
	char longpw[HASH_PASSWORD_MAX + 2];
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	CHECK_INT(hash_password_create(longpw, &h, &err), -1);
	CHECK_STR(err, "password too long");
	CHECK_INT(hash_password_create_scheme("pw", "$1$", 0, &h, &err), -1);
	CHECK_INT(hash_password_create_scheme("pw", "$5$", 0, &h, &err), -1);
	CHECK_INT(hash_password_create_scheme("pw", "$2b$", 99, &h, &err), -1);
	CHECK(h == NULL);
	err = NULL;
	CHECK_INT(hash_password_verify("pw", "gaxDyoamrjlO6", &err), -1);
	CHECK(err != NULL);
	CHECK_INT(hash_password_verify("pw", "", &err), -1);
	CHECK_INT(hash_password_verify("pw", "$1$abc$Kb85XxsXB.VXinPhbS4431", &err), -1);
	/* Over-long passwords never match (bcrypt would otherwise truncate them). */
	const char *bf = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
	CHECK_INT(hash_password_verify(longpw, bf, &err), 0);
}

TEST(auth_names)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"alice@example.test", true},
	    {"jörg@example.test", true},
	    {"日本@例え.jp", true},
	    {"", false},
	    {"a\tb", false},
	    {"a\x7f", false},
	    {"a\xc2\x85z", false} /* NEL */,
	    {"\xc3\x28", false},
	    {"\xc0\xaf", false} /* overlong */,
	    {"\xed\xa0\x80", false},
	    {"\xf4\x90\x80\x80", false},
	    {"a\xe2\x82", false},
	    {"\xff", false},
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		test_checks++;
		if (auth_name_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok) {
			test_failures++;
			printf("FAIL auth_names: case %zu\n", i);
		}
	}
	char big[AUTH_NAME_MAX + 1];
	memset(big, 'a', sizeof(big));
	CHECK(auth_name_valid(big, AUTH_NAME_MAX));
	CHECK(!auth_name_valid(big, AUTH_NAME_MAX + 1));
	CHECK(!auth_name_valid("a\0b", 3));
}

/* ---- scram --------------------------------------------------------------- */

/* RFC 7677, section 3. */
#define R7677_SECRETS                                                                                        \
	"4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"                        \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define R7677_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define R7677_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define R7677_SERVER_FIRST                                                                                   \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define R7677_CLIENT_FINAL                                                                                   \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                                       \
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define R7677_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

TEST(scram_secrets)
{
	struct buf b;
	buf_init(&b, 1024);
	struct scram_secrets sec;
	const char *err = NULL;
	struct buf salt;
	buf_init(&salt, 64);
	CHECK_INT(base64_decode(&salt, "W22ZaJ0SNY7soEsUEjb6gQ==", 24), 0);
	CHECK_INT(scram_secrets_derive("pencil", (const uint8_t *)salt.data, salt.len, 4096, &sec, &err), 0);
	CHECK_INT(scram_secrets_format(&sec, &b), 0);
	CHECK_STR(buf_cstr(&b), R7677_SECRETS);
	buf_free(&salt);

	struct scram_secrets back;
	CHECK_INT(scram_secrets_parse(R7677_SECRETS, &back, &err), 0);
	CHECK(memcmp(&back, &sec, sizeof(sec)) == 0);

	char *s = NULL;
	CHECK_INT(scram_secrets_create("pencil", 0, &s, &err), 0);
	CHECK(s != NULL && strncmp(s, "4096,", 5) == 0);
	CHECK_INT(scram_secrets_parse(s, &back, &err), 0);
	CHECK_INT(back.salt_len, SCRAM_SALT_LEN);
	free(s);
	CHECK_INT(scram_secrets_create("", 0, &s, &err), -1);
	CHECK_INT(scram_secrets_create("pw", SCRAM_ITERATIONS_MAX + 1, &s, &err), -1);

	static const char *const bad[] = {
	    "",
	    "4096",
	    "4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
	    R7677_SECRETS ",x",
	    "0,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "-1,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "4096,,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "4096,W22ZaJ0SNY7soEsUEjb6gQ=,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT,"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=AAAA",
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		test_checks++;
		if (scram_secrets_parse(bad[i], &back, &err) != -1) {
			test_failures++;
			printf("FAIL scram_secrets: bad case %zu parsed\n", i);
		}
	}
	buf_free(&b);
}

/* Runs client-first with a fixed nonce and server-first; returns the server. */
static struct scram_server *scram_begin(const char *client_first, const char *secrets, struct buf *out)
{
	struct scram_server *s = scram_server_new();
	scram_server_set_nonce(s, R7677_SNONCE);
	const char *err = NULL;
	if (scram_server_client_first(s, (const uint8_t *)client_first, strlen(client_first), &err) < 0) {
		scram_server_free(&s);
		return NULL;
	}
	struct scram_secrets sec;
	if (secrets != NULL)
		CHECK_INT(scram_secrets_parse(secrets, &sec, &err), 0);
	CHECK_INT(scram_server_first(s, secrets ? &sec : NULL, out, &err), 0);
	return s;
}

TEST(scram_rfc7677)
{
	struct buf out;
	buf_init(&out, 4096);
	struct scram_server *s = scram_begin(R7677_CLIENT_FIRST, R7677_SECRETS, &out);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK_STR(scram_server_username(s), "user");
	CHECK_STR(scram_server_authzid(s), "");
	CHECK_STR(buf_cstr(&out), R7677_SERVER_FIRST);
	buf_reset(&out);
	const char *err = NULL;
	CHECK_INT(scram_server_client_final(s, (const uint8_t *)R7677_CLIENT_FINAL,
					    strlen(R7677_CLIENT_FINAL), &out, &err),
		  1);
	CHECK_STR(buf_cstr(&out), R7677_SERVER_FINAL);
	/* Out of turn now. */
	CHECK_INT(scram_server_client_final(s, (const uint8_t *)R7677_CLIENT_FINAL,
					    strlen(R7677_CLIENT_FINAL), &out, &err),
		  -1);
	scram_server_free(&s);
	CHECK(s == NULL);
	buf_free(&out);
}

TEST(scram_client_first_table)
{
	static const struct {
		const char *msg;
		int ret;
		const char *user, *authzid, *gs2;
	} cases[] = {
	    {"n,,n=user,r=abc", 0, "user", "", "n,,"},
	    {"y,,n=user,r=abc", 0, "user", "", "y,,"},
	    {"n,a=user,n=user,r=abc", 0, "user", "user", "n,a=user,"},
	    {"n,,n=us=2Cer=3D,r=abc", 0, "us,er=", "", "n,,"},
	    {"n,,n=user,r=abc,x=ext,y=more", 0, "user", "", "n,,"},
	    {"n,,n=j\xc3\xb6rg,r=!\"#$%&'()*+-./~", 0, "j\xc3\xb6rg", "", "n,,"},
	    {"p=tls-unique,,n=user,r=abc", -1, NULL, NULL, NULL},
	    {"p,,n=user,r=abc", -1, NULL, NULL, NULL},
	    {"x,,n=user,r=abc", -1, NULL, NULL, NULL},
	    {"n,n=user,r=abc", -1, NULL, NULL, NULL},
	    {"n,,m=ext,n=user,r=abc", -1, NULL, NULL, NULL},
	    {"n,,n=,r=abc", -1, NULL, NULL, NULL},
	    {"n,,n=us=er,r=abc", -1, NULL, NULL, NULL},
	    {"n,,n=us=2c,r=abc", -1, NULL, NULL, NULL},
	    {"n,,n=user=2,r=abc", -1, NULL, NULL, NULL},
	    {"n,,n=user", -1, NULL, NULL, NULL},
	    {"n,,n=user,", -1, NULL, NULL, NULL},
	    {"n,,n=user,r=", -1, NULL, NULL, NULL},
	    {"n,,n=user,r=a b", -1, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,", -1, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,1=x", -1, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,x=", -1, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,x", -1, NULL, NULL, NULL},
	    {"n,,r=abc,n=user", -1, NULL, NULL, NULL},
	    {"n,,n=us\ter,r=abc", -1, NULL, NULL, NULL},
	    {"n,,n=us\xff,r=abc", -1, NULL, NULL, NULL},
	    {"n,a=,n=user,r=abc", -1, NULL, NULL, NULL},
	    {"", -1, NULL, NULL, NULL},
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct scram_server *s = scram_server_new();
		const char *err = NULL;
		int r =
		    scram_server_client_first(s, (const uint8_t *)cases[i].msg, strlen(cases[i].msg), &err);
		test_checks++;
		if (r != cases[i].ret) {
			test_failures++;
			printf("FAIL scram_client_first_table: case %zu \"%s\": got %d (%s), want %d\n", i,
			       cases[i].msg, r, err ? err : "", cases[i].ret);
		} else if (r == 0) {
			CHECK_STR(scram_server_username(s), cases[i].user);
			CHECK_STR(scram_server_authzid(s), cases[i].authzid);
		} else {
			CHECK(err != NULL);
		}
		scram_server_free(&s);
	}
	/* NUL byte and over-long messages. */
	struct scram_server *s = scram_server_new();
	const char *err = NULL;
	CHECK_INT(scram_server_client_first(s, (const uint8_t *)"n,,n=us\0r,r=abc", 16, &err), -1);
	scram_server_free(&s);
	s = scram_server_new();
	char *big = xmalloc(SCRAM_MESSAGE_MAX + 100);
	memcpy(big, "n,,n=user,r=", 12);
	memset(big + 12, 'a', SCRAM_MESSAGE_MAX + 50);
	CHECK_INT(scram_server_client_first(s, (const uint8_t *)big, SCRAM_MESSAGE_MAX + 62, &err), -1);
	free(big);
	scram_server_free(&s);
	/* The channel binding refusal says so. */
	s = scram_server_new();
	CHECK_INT(scram_server_client_first(s, (const uint8_t *)"p=tls-unique,,n=u,r=a", 21, &err), -1);
	CHECK(err != NULL && strstr(err, "channel binding") != NULL);
	scram_server_free(&s);
}

TEST(scram_client_final_table)
{
	static const struct {
		const char *msg;
		int ret;
	} cases[] = {
	    {R7677_CLIENT_FINAL, 1},
	    /* an extension before the proof is fine */
	    {"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=y,"
	     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	     0 /* well-formed, but the proof covers the message without x=y */},
	    {"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	     "p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	     0},
	    {"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	     -1 /* "y,," echoed for "n,," */},
	    {"c=,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	     -1},
	    {"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", -1},
	    {"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", -1},
	    {"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=", -1},
	    {"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapW", -1},
	    {"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=y",
	     -1},
	    {"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,"
	     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	     -1},
	    {"", -1},
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct buf out;
		buf_init(&out, 4096);
		struct scram_server *s = scram_begin(R7677_CLIENT_FIRST, R7677_SECRETS, &out);
		buf_reset(&out);
		const char *err = NULL;
		int r = scram_server_client_final(s, (const uint8_t *)cases[i].msg, strlen(cases[i].msg),
						  &out, &err);
		test_checks++;
		if (r != cases[i].ret) {
			test_failures++;
			printf("FAIL scram_client_final_table: case %zu: got %d (%s), want %d\n", i, r,
			       err ? err : "", cases[i].ret);
		}
		if (r != 1)
			CHECK_INT(out.len, 0);
		scram_server_free(&s);
		buf_free(&out);
	}
}

/* Every strict prefix of a valid client-final is rejected, and every single
 * byte change of it fails (malformed or wrong proof), never succeeds. */
TEST(scram_client_final_prefixes_and_mutations)
{
	const char *msg = R7677_CLIENT_FINAL;
	size_t len = strlen(msg);
	for (size_t cut = 0; cut < len; cut++) {
		struct buf out;
		buf_init(&out, 4096);
		struct scram_server *s = scram_begin(R7677_CLIENT_FIRST, R7677_SECRETS, &out);
		const char *err = NULL;
		int r = scram_server_client_final(s, (const uint8_t *)msg, cut, &out, &err);
		test_checks++;
		if (r == 1) {
			test_failures++;
			printf("FAIL prefix %zu accepted\n", cut);
		}
		scram_server_free(&s);
		buf_free(&out);
	}
	char *m = xstrdup(msg);
	for (size_t i = 0; i < len; i++) {
		char orig = m[i];
		m[i] = (char)(orig ^ 0x01);
		struct buf out;
		buf_init(&out, 4096);
		struct scram_server *s = scram_begin(R7677_CLIENT_FIRST, R7677_SECRETS, &out);
		const char *err = NULL;
		int r = scram_server_client_final(s, (const uint8_t *)m, len, &out, &err);
		test_checks++;
		/* Flipping the low bit of the last proof character before '=' can
		 * land in the ignored padding bits; any other change must fail. */
		if (r == 1 && i != len - 2) {
			test_failures++;
			printf("FAIL mutation at %zu accepted\n", i);
		}
		scram_server_free(&s);
		buf_free(&out);
		m[i] = orig;
	}
	free(m);
	/* Every prefix of client-first: parse result is 0 or -1, never a crash;
	 * the full message parses. */
	const char *cf = R7677_CLIENT_FIRST;
	for (size_t cut = 0; cut <= strlen(cf); cut++) {
		struct scram_server *s = scram_server_new();
		const char *err = NULL;
		int r = scram_server_client_first(s, (const uint8_t *)cf, cut, &err);
		CHECK(r == 0 || r == -1);
		if (cut < strlen("n,,n=user,r=") + 1)
			CHECK_INT(r, -1);
		scram_server_free(&s);
	}
}

TEST(scram_unknown_user)
{
	struct buf out1, out2;
	buf_init(&out1, 4096);
	buf_init(&out2, 4096);
	struct scram_server *s1 = scram_begin("n,,n=nobody,r=abc", NULL, &out1);
	struct scram_server *s2 = scram_begin("n,,n=nobody,r=abc", NULL, &out2);
	CHECK(s1 != NULL && s2 != NULL);
	/* Same made-up salt both times, default iterations. */
	CHECK_STR(buf_cstr(&out1), buf_cstr(&out2));
	CHECK(strstr(buf_cstr(&out1), ",i=4096") != NULL);
	CHECK(strncmp(buf_cstr(&out1), "r=abc" R7677_SNONCE ",s=", 5 + strlen(R7677_SNONCE) + 3) == 0);
	buf_reset(&out1);
	const char *err = NULL;
	const char *fin = "c=biws,r=abc" R7677_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	CHECK_INT(scram_server_client_final(s1, (const uint8_t *)fin, strlen(fin), &out1, &err), 0);
	CHECK_INT(out1.len, 0);
	scram_server_free(&s1);
	scram_server_free(&s2);
	buf_free(&out1);
	buf_free(&out2);
}

TEST(scram_random_nonce)
{
	struct scram_server *s = scram_server_new();
	const char *err = NULL;
	struct buf out;
	buf_init(&out, 4096);
	CHECK_INT(scram_server_client_first(s, (const uint8_t *)"n,,n=u,r=cn", 11, &err), 0);
	struct scram_secrets sec;
	CHECK_INT(scram_secrets_parse(R7677_SECRETS, &sec, &err), 0);
	CHECK_INT(scram_server_first(s, &sec, &out, &err), 0);
	/* "r=cn" + 24 characters of server nonce + ",s=..." */
	CHECK(strncmp(buf_cstr(&out), "r=cn", 4) == 0);
	const char *comma = strchr(buf_cstr(&out), ',');
	CHECK(comma != NULL && comma - buf_cstr(&out) == 4 + 24);
	CHECK_INT(scram_server_first(s, &sec, &out, &err), -1); /* out of turn */
	scram_server_free(&s);
	buf_free(&out);
}

/* ---- sasl ---------------------------------------------------------------- */

static char *b64(const void *p, size_t n)
{
	struct buf b;
	buf_init(&b, 65536);
	CHECK_INT(base64_encode(&b, p, n), 0);
	return buf_steal(&b, NULL);
}

#define B64S(s) b64((s), sizeof(s) - 1)

TEST(sasl_mech_names)
{
	enum sasl_mech m;
	CHECK_INT(sasl_mech_parse("PLAIN", &m), 0);
	CHECK_INT(m, SASL_MECH_PLAIN);
	CHECK_INT(sasl_mech_parse("login", &m), 0);
	CHECK_INT(m, SASL_MECH_LOGIN);
	CHECK_INT(sasl_mech_parse("Scram-Sha-256", &m), 0);
	CHECK_INT(m, SASL_MECH_SCRAM_SHA_256);
	CHECK_INT(sasl_mech_parse("SCRAM-SHA-1", &m), -1);
	CHECK_INT(sasl_mech_parse("CRAM-MD5", &m), -1);
	CHECK_INT(sasl_mech_parse("", &m), -1);
	CHECK_STR(sasl_mech_name(SASL_MECH_SCRAM_SHA_256), "SCRAM-SHA-256");
	CHECK_STR(sasl_mech_name(SASL_MECH_LOGIN), "LOGIN");
}

TEST(sasl_plain_table)
{
	static const struct {
		const char *msg;
		size_t len;
		int ret;
		const char *authzid, *authcid, *passwd;
	} cases[] = {
#define C(s) s, sizeof(s) - 1
	    {C("\0user\0pencil"), 0, "", "user", "pencil"},
	    {C("user\0user\0pencil"), 0, "user", "user", "pencil"},
	    {C("admin\0user\0p w"), 0, "admin", "user", "p w"},
	    {C("\0j\xc3\xb6rg\0p\xc3\xa4ss"), 0, "", "j\xc3\xb6rg", "p\xc3\xa4ss"},
	    {C("\0user\0"), -1, NULL, NULL, NULL},
	    {C("\0\0pencil"), -1, NULL, NULL, NULL},
	    {C("\0user"), -1, NULL, NULL, NULL},
	    {C("userpencil"), -1, NULL, NULL, NULL},
	    {C("\0user\0pen\0cil"), -1, NULL, NULL, NULL},
	    {C("\0us\ter\0pencil"), -1, NULL, NULL, NULL},
	    {C("a\x01\0user\0pencil"), -1, NULL, NULL, NULL},
	    {C("\0\xff\0pencil"), -1, NULL, NULL, NULL},
	    {C(""), -1, NULL, NULL, NULL},
#undef C
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sasl_plain pl;
		const char *err = NULL;
		int r = sasl_plain_parse((const uint8_t *)cases[i].msg, cases[i].len, &pl, &err);
		test_checks++;
		if (r != cases[i].ret) {
			test_failures++;
			printf("FAIL sasl_plain_table: case %zu: got %d, want %d\n", i, r, cases[i].ret);
			continue;
		}
		if (r == 0) {
			CHECK_MEM(pl.authzid, pl.authzid_len, cases[i].authzid);
			CHECK_MEM(pl.authcid, pl.authcid_len, cases[i].authcid);
			CHECK_MEM(pl.passwd, pl.passwd_len, cases[i].passwd);
		} else {
			CHECK(err != NULL);
		}
	}
	/* Password length bound. */
	char msg[2 + 4 + HASH_PASSWORD_MAX + 1];
	memcpy(msg, "\0user\0", 6);
	memset(msg + 6, 'p', sizeof(msg) - 6);
	struct sasl_plain pl;
	const char *err;
	CHECK_INT(sasl_plain_parse((const uint8_t *)msg, 6 + HASH_PASSWORD_MAX, &pl, &err), 0);
	CHECK_INT(sasl_plain_parse((const uint8_t *)msg, 6 + HASH_PASSWORD_MAX + 1, &pl, &err), -1);
}

/* Runs PLAIN both ways (initial response, and empty challenge + response)
 * on a raw message; checks the final status (and the pair on success). */
static void plain_both_ways(const char *msg, size_t len, enum sasl_status want, const char *user,
			    const char *pass)
{
	char *enc = b64(msg, len);
	for (int with_ir = 0; with_ir < 2; with_ir++) {
		struct sasl *s = sasl_new(SASL_MECH_PLAIN);
		const char *ch = NULL, *err = NULL;
		enum sasl_status st;
		if (with_ir) {
			st = sasl_start(s, enc, strlen(enc), &ch, &err);
		} else {
			st = sasl_start(s, NULL, 0, &ch, &err);
			CHECK_INT(st, SASL_STATUS_CHALLENGE);
			CHECK_STR(ch, "");
			st = sasl_continue(s, enc, strlen(enc), &ch, &err);
		}
		CHECK_INT(st, want);
		if (st == SASL_STATUS_CHECK_PASSWORD) {
			CHECK_STR(sasl_username(s), user);
			CHECK_STR(sasl_password(s), pass);
		} else {
			CHECK(err != NULL);
			CHECK_STR(sasl_password(s), "");
		}
		sasl_free(&s);
		CHECK(s == NULL);
	}
	free(enc);
}

TEST(sasl_plain_flows)
{
	plain_both_ways("\0alice@example.test\0secret", 26, SASL_STATUS_CHECK_PASSWORD, "alice@example.test",
			"secret");
	plain_both_ways("alice@example.test\0alice@example.test\0secret", 44, SASL_STATUS_CHECK_PASSWORD,
			"alice@example.test", "secret");
	plain_both_ways("Alice@Example.TEST\0alice@example.test\0secret", 44, SASL_STATUS_CHECK_PASSWORD,
			"alice@example.test", "secret");
	plain_both_ways("bob@example.test\0alice@example.test\0secret", 42, SASL_STATUS_FAILED, NULL, NULL);
	plain_both_ways("\0alice\0", 7, SASL_STATUS_MALFORMED, NULL, NULL);
	plain_both_ways("alice", 5, SASL_STATUS_MALFORMED, NULL, NULL);
	plain_both_ways("", 0, SASL_STATUS_MALFORMED, NULL, NULL);

	struct sasl *s;
	const char *ch, *err;
	/* "=" as initial response: empty, hence malformed for PLAIN. */
	s = sasl_new(SASL_MECH_PLAIN);
	CHECK_INT(sasl_start(s, "=", 1, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	/* Bad base64 in both places. */
	s = sasl_new(SASL_MECH_PLAIN);
	CHECK_INT(sasl_start(s, "AGFsaWNl!GVzdA==", 16, &ch, &err), SASL_STATUS_MALFORMED);
	CHECK_STR(err, "initial response is not valid base64");
	sasl_free(&s);
	s = sasl_new(SASL_MECH_PLAIN);
	CHECK_INT(sasl_start(s, NULL, 0, &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, "AGFsaWNl", 7, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	/* "*" cancels a continuation; as an initial response it is bad base64. */
	s = sasl_new(SASL_MECH_PLAIN);
	CHECK_INT(sasl_start(s, NULL, 0, &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, "*", 1, &ch, &err), SASL_STATUS_CANCELLED);
	sasl_free(&s);
	s = sasl_new(SASL_MECH_PLAIN);
	CHECK_INT(sasl_start(s, "*", 1, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	/* Oversize lines. */
	char *big = xmalloc(SASL_LINE_MAX + 5);
	memset(big, 'A', SASL_LINE_MAX + 4);
	s = sasl_new(SASL_MECH_PLAIN);
	CHECK_INT(sasl_start(s, big, SASL_LINE_MAX + 4, &ch, &err), SASL_STATUS_MALFORMED);
	CHECK_STR(err, "initial response too long");
	sasl_free(&s);
	s = sasl_new(SASL_MECH_PLAIN);
	CHECK_INT(sasl_start(s, NULL, 0, &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, big, SASL_LINE_MAX + 4, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	/* A maximal line is decoded (and is malformed PLAIN: no NULs). */
	s = sasl_new(SASL_MECH_PLAIN);
	CHECK_INT(sasl_start(s, big, SASL_LINE_MAX, &ch, &err), SASL_STATUS_MALFORMED);
	CHECK(strncmp(err, "PLAIN:", 6) == 0);
	sasl_free(&s);
	free(big);
}

TEST(sasl_login_flows)
{
	struct sasl *s;
	const char *ch = NULL, *err = NULL;
	char *user = B64S("alice@example.test"), *pass = B64S("pass word");

	s = sasl_new(SASL_MECH_LOGIN);
	CHECK_INT(sasl_start(s, NULL, 0, &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_STR(ch, "VXNlcm5hbWU6");
	CHECK_INT(sasl_continue(s, user, strlen(user), &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_STR(ch, "UGFzc3dvcmQ6");
	CHECK_INT(sasl_continue(s, pass, strlen(pass), &ch, &err), SASL_STATUS_CHECK_PASSWORD);
	CHECK_STR(sasl_username(s), "alice@example.test");
	CHECK_STR(sasl_password(s), "pass word");
	sasl_free(&s);

	/* Initial response carries the user name. */
	s = sasl_new(SASL_MECH_LOGIN);
	CHECK_INT(sasl_start(s, user, strlen(user), &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_STR(ch, "UGFzc3dvcmQ6");
	CHECK_INT(sasl_continue(s, pass, strlen(pass), &ch, &err), SASL_STATUS_CHECK_PASSWORD);
	CHECK_STR(sasl_password(s), "pass word");
	sasl_free(&s);

	/* Cancel at the password prompt. */
	s = sasl_new(SASL_MECH_LOGIN);
	CHECK_INT(sasl_start(s, user, strlen(user), &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, "*", 1, &ch, &err), SASL_STATUS_CANCELLED);
	sasl_free(&s);

	/* Empty user name, empty password, NUL in the password, bad base64. */
	s = sasl_new(SASL_MECH_LOGIN);
	CHECK_INT(sasl_start(s, "=", 1, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	s = sasl_new(SASL_MECH_LOGIN);
	CHECK_INT(sasl_start(s, user, strlen(user), &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, "", 0, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	char *nulpw = b64("pa\0ss", 5);
	s = sasl_new(SASL_MECH_LOGIN);
	CHECK_INT(sasl_start(s, user, strlen(user), &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, nulpw, strlen(nulpw), &ch, &err), SASL_STATUS_MALFORMED);
	CHECK_STR(sasl_password(s), "");
	sasl_free(&s);
	s = sasl_new(SASL_MECH_LOGIN);
	CHECK_INT(sasl_start(s, NULL, 0, &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, "YWxp Y2U=", 9, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	/* A user name with a control character. */
	char *ctl = B64S("ali\rce");
	s = sasl_new(SASL_MECH_LOGIN);
	CHECK_INT(sasl_start(s, ctl, strlen(ctl), &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	free(ctl);
	free(nulpw);
	free(user);
	free(pass);
}

/* The RFC 7677 exchange through sasl, base64 on the wire. */
static void scram_flow(bool with_ir, const char *secrets, const char *client_final,
		       enum sasl_status want_final, const char *ack, enum sasl_status want_end)
{
	struct sasl *s = sasl_new(SASL_MECH_SCRAM_SHA_256);
	sasl_scram_set_nonce(s, R7677_SNONCE);
	const char *ch = NULL, *err = NULL;
	char *cf = B64S(R7677_CLIENT_FIRST);
	enum sasl_status st;
	if (with_ir) {
		st = sasl_start(s, cf, strlen(cf), &ch, &err);
	} else {
		CHECK_INT(sasl_start(s, NULL, 0, &ch, &err), SASL_STATUS_CHALLENGE);
		CHECK_STR(ch, "");
		st = sasl_continue(s, cf, strlen(cf), &ch, &err);
	}
	CHECK_INT(st, SASL_STATUS_NEED_SCRAM_SECRETS);
	CHECK_STR(sasl_username(s), "user");
	CHECK_INT(sasl_scram_secrets(s, secrets, &ch, &err), SASL_STATUS_CHALLENGE);
	if (secrets != NULL && strcmp(secrets, R7677_SECRETS) == 0) {
		char *sf = B64S(R7677_SERVER_FIRST);
		CHECK_STR(ch, sf);
		free(sf);
	}
	char *fin = b64(client_final, strlen(client_final));
	st = sasl_continue(s, fin, strlen(fin), &ch, &err);
	CHECK_INT(st, want_final);
	if (st == SASL_STATUS_CHALLENGE) {
		char *sfin = B64S(R7677_SERVER_FINAL);
		CHECK_STR(ch, sfin);
		free(sfin);
		CHECK_INT(sasl_continue(s, ack, strlen(ack), &ch, &err), want_end);
	}
	free(fin);
	free(cf);
	sasl_free(&s);
}

TEST(sasl_scram_flows)
{
	scram_flow(true, R7677_SECRETS, R7677_CLIENT_FINAL, SASL_STATUS_CHALLENGE, "", SASL_STATUS_SUCCESS);
	scram_flow(false, R7677_SECRETS, R7677_CLIENT_FINAL, SASL_STATUS_CHALLENGE, "=", SASL_STATUS_SUCCESS);
	scram_flow(false, R7677_SECRETS, R7677_CLIENT_FINAL, SASL_STATUS_CHALLENGE, "*",
		   SASL_STATUS_CANCELLED);
	scram_flow(false, R7677_SECRETS, R7677_CLIENT_FINAL, SASL_STATUS_CHALLENGE,
		   "eA==", SASL_STATUS_MALFORMED);
	/* Wrong password: the proof of another password. */
	const char *wrong = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			    "p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	scram_flow(true, R7677_SECRETS, wrong, SASL_STATUS_FAILED, "", SASL_STATUS_FAILED);
	/* Unknown user, malformed stored secrets: the exchange goes on, then fails. */
	scram_flow(true, NULL, R7677_CLIENT_FINAL, SASL_STATUS_FAILED, "", SASL_STATUS_FAILED);
	scram_flow(true, "4096,broken", R7677_CLIENT_FINAL, SASL_STATUS_FAILED, "", SASL_STATUS_FAILED);
	/* Secrets of another password. */
	char *other = NULL;
	const char *err;
	CHECK_INT(scram_secrets_create("not pencil", 4096, &other, &err), 0);
	scram_flow(true, other, R7677_CLIENT_FINAL, SASL_STATUS_FAILED, "", SASL_STATUS_FAILED);
	free(other);

	struct sasl *s;
	const char *ch;
	/* Channel binding asked: malformed (we never offer -PLUS). */
	char *cb = B64S("p=tls-server-end-point,,n=user,r=abc");
	s = sasl_new(SASL_MECH_SCRAM_SHA_256);
	CHECK_INT(sasl_start(s, cb, strlen(cb), &ch, &err), SASL_STATUS_MALFORMED);
	CHECK(strstr(err, "channel binding") != NULL);
	sasl_free(&s);
	free(cb);
	/* authzid other than the user: refused. */
	char *az = B64S("n,a=admin,n=user,r=abc");
	s = sasl_new(SASL_MECH_SCRAM_SHA_256);
	CHECK_INT(sasl_start(s, az, strlen(az), &ch, &err), SASL_STATUS_FAILED);
	sasl_free(&s);
	free(az);
	char *az2 = B64S("n,a=user,n=user,r=abc");
	s = sasl_new(SASL_MECH_SCRAM_SHA_256);
	CHECK_INT(sasl_start(s, az2, strlen(az2), &ch, &err), SASL_STATUS_NEED_SCRAM_SECRETS);
	sasl_free(&s); /* freeing mid-exchange is fine */
	free(az2);
	/* Bad base64 and cancel at client-final. */
	s = sasl_new(SASL_MECH_SCRAM_SHA_256);
	char *cf = B64S(R7677_CLIENT_FIRST);
	CHECK_INT(sasl_start(s, cf, strlen(cf), &ch, &err), SASL_STATUS_NEED_SCRAM_SECRETS);
	CHECK_INT(sasl_scram_secrets(s, R7677_SECRETS, &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, "*", 1, &ch, &err), SASL_STATUS_CANCELLED);
	sasl_free(&s);
	s = sasl_new(SASL_MECH_SCRAM_SHA_256);
	CHECK_INT(sasl_start(s, cf, strlen(cf), &ch, &err), SASL_STATUS_NEED_SCRAM_SECRETS);
	CHECK_INT(sasl_scram_secrets(s, R7677_SECRETS, &ch, &err), SASL_STATUS_CHALLENGE);
	CHECK_INT(sasl_continue(s, "Yz1i%XdzLA==", 12, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	/* Empty client-first. */
	s = sasl_new(SASL_MECH_SCRAM_SHA_256);
	CHECK_INT(sasl_start(s, "=", 1, &ch, &err), SASL_STATUS_MALFORMED);
	sasl_free(&s);
	free(cf);
}

/* ---- throttle ------------------------------------------------------------ */

static struct sockaddr_storage addr4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	sin->sin_family = AF_INET;
	CHECK_INT(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage addr6(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	sin6->sin6_family = AF_INET6;
	CHECK_INT(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

TEST(throttle_delays_and_block)
{
	struct throttle *t = throttle_new(NULL);
	struct sockaddr_storage a = addr4("192.0.2.1"), b = addr4("192.0.2.2");
	uint64_t now = 1000000, retry = 0;
	static const uint64_t want[] = {500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000};
	for (size_t i = 0; i < N_ELEMS(want); i++) {
		CHECK_INT(throttle_check(t, SA(a), now, &retry), 0);
		CHECK_INT(throttle_failure(t, SA(a), now), want[i]);
		now += 1000;
	}
	/* The tenth failure within 10 minutes blocks for 10 minutes. */
	CHECK_INT(throttle_failure(t, SA(a), now), 8000);
	CHECK_INT(throttle_check(t, SA(a), now, &retry), -1);
	CHECK_INT(retry, 600000);
	CHECK_INT(throttle_check(t, SA(a), now + 599999, &retry), -1);
	CHECK_INT(retry, 1);
	/* Other addresses are unaffected. */
	CHECK_INT(throttle_check(t, SA(b), now, &retry), 0);
	/* After the block, a fresh start. */
	CHECK_INT(throttle_check(t, SA(a), now + 600000, &retry), 0);
	CHECK_INT(throttle_failure(t, SA(a), now + 600000), 500);
	throttle_free(&t);
	CHECK(t == NULL);
}

TEST(throttle_window_and_success)
{
	struct throttle_settings set;
	throttle_settings_default(&set);
	set.max_failures = 3;
	set.window_ms = 60000;
	set.block_ms = 5000;
	struct throttle *t = throttle_new(&set);
	struct sockaddr_storage a = addr4("198.51.100.7");
	uint64_t retry;
	/* Two failures, then the window passes: the count starts over. */
	CHECK_INT(throttle_failure(t, SA(a), 0), 500);
	CHECK_INT(throttle_failure(t, SA(a), 1000), 1000);
	CHECK_INT(throttle_failure(t, SA(a), 61000), 500);
	CHECK_INT(throttle_failure(t, SA(a), 62000), 1000);
	CHECK_INT(throttle_check(t, SA(a), 62000, &retry), 0);
	/* A success forgets everything. */
	throttle_success(t, SA(a));
	CHECK_INT(throttle_count(t), 0);
	CHECK_INT(throttle_failure(t, SA(a), 63000), 500);
	CHECK_INT(throttle_failure(t, SA(a), 63001), 1000);
	CHECK_INT(throttle_failure(t, SA(a), 63002), 2000);
	CHECK_INT(throttle_check(t, SA(a), 63002, &retry), -1);
	CHECK_INT(retry, 5000);
	CHECK_INT(throttle_check(t, SA(a), 68002, &retry), 0);
	throttle_free(&t);

	/* max_failures 0: never blocks; delay_first 0: no delays. */
	set.max_failures = 0;
	set.delay_first_ms = 0;
	t = throttle_new(&set);
	for (int i = 0; i < 100; i++)
		CHECK_INT(throttle_failure(t, SA(a), (uint64_t)i), 0);
	CHECK_INT(throttle_check(t, SA(a), 100, &retry), 0);
	throttle_free(&t);
}

TEST(throttle_address_grouping)
{
	struct throttle *t = throttle_new(NULL);
	uint64_t retry;
	struct sockaddr_storage x1 = addr6("2001:db8:1:2::1"), x2 = addr6("2001:db8:1:2:ffff::9"),
				y = addr6("2001:db8:1:3::1");
	for (int i = 0; i < 10; i++)
		(void)throttle_failure(t, i % 2 ? SA(x1) : SA(x2), 10);
	/* Same /64: blocked together; the next /64 is not. */
	CHECK_INT(throttle_check(t, SA(x1), 10, &retry), -1);
	CHECK_INT(throttle_check(t, SA(x2), 10, &retry), -1);
	CHECK_INT(throttle_check(t, SA(y), 10, &retry), 0);
	CHECK_INT(throttle_count(t), 1);
	/* IPv4-mapped IPv6 is the IPv4 address, not the ::ffff:0:0/64 prefix. */
	struct sockaddr_storage v4 = addr4("203.0.113.5"), mapped = addr6("::ffff:203.0.113.5"),
				mapped_other = addr6("::ffff:203.0.113.6");
	CHECK_INT(throttle_failure(t, SA(v4), 10), 500);
	CHECK_INT(throttle_failure(t, SA(mapped), 10), 1000);
	CHECK_INT(throttle_failure(t, SA(mapped_other), 10), 500);
	/* AF_UNIX is never throttled. */
	struct sockaddr_un un;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	CHECK_INT(throttle_failure(t, (const struct sockaddr *)&un, 10), 0);
	CHECK_INT(throttle_check(t, (const struct sockaddr *)&un, 10, &retry), 0);
	CHECK_INT(throttle_failure(t, NULL, 10), 0);
	throttle_success(t, (const struct sockaddr *)&un);
	CHECK_INT(throttle_count(t), 3);
	throttle_free(&t);
}

TEST(throttle_bounded)
{
	struct throttle_settings set;
	throttle_settings_default(&set);
	set.max_entries = 100;
	struct throttle *t = throttle_new(&set);
	uint64_t retry;
	/* One address blocked, then an attacker with 5000 addresses. */
	struct sockaddr_storage victim = addr4("10.0.0.1");
	for (int i = 0; i < 10; i++)
		(void)throttle_failure(t, SA(victim), 0);
	CHECK_INT(throttle_check(t, SA(victim), 0, &retry), -1);
	for (int i = 0; i < 5000; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
		struct sockaddr_storage a = addr4(ip);
		(void)throttle_failure(t, SA(a), 1);
		test_checks++;
		if (throttle_count(t) > 100) {
			test_failures++;
			printf("FAIL throttle_bounded: %zu entries\n", throttle_count(t));
			break;
		}
	}
	CHECK_INT(throttle_count(t), 100);
	/* The most recent addresses are still tracked: the 4999th got its 2nd failure. */
	struct sockaddr_storage last = addr4("10.1.19.135");
	CHECK_INT(throttle_failure(t, SA(last), 2), 1000);
	/* Oldest evicted first: the victim's entry is gone (a known trade-off). */
	CHECK_INT(throttle_check(t, SA(victim), 2, &retry), 0);
	/* Once everything expires, calls sweep the table empty. */
	for (int i = 0; i < 100; i++)
		(void)throttle_check(t, SA(victim), 10000000, &retry);
	CHECK_INT(throttle_count(t), 0);
	throttle_free(&t);
}

/* ---- verify_pool --------------------------------------------------------- */

struct vp_case {
	int want;
	int got;
	int calls;
	pthread_t thread;
	const char *error;
};

static pthread_t main_thread;
static int vp_outstanding;
static struct event_base *vp_base;

static void vp_cb(int result, const char *error, void *ctx)
{
	struct vp_case *c = ctx;
	c->got = result;
	c->error = error;
	c->calls++;
	c->thread = pthread_self();
	if (--vp_outstanding == 0)
		event_base_loopbreak(vp_base);
}

static void vp_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	event_base_loopbreak(vp_base);
}

/* Runs the loop until every outstanding callback ran (or 20 s passed). */
static void vp_run(void)
{
	int timed_out = 0;
	struct event *tev = evtimer_new(vp_base, vp_timeout, &timed_out);
	struct timeval tv = {20, 0};
	evtimer_add(tev, &tv);
	while (vp_outstanding > 0 && !timed_out)
		event_base_loop(vp_base, EVLOOP_ONCE);
	event_free(tev);
	CHECK(!timed_out);
}

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
	return fake_now;
}

TEST(verify_pool_concurrent)
{
	main_thread = pthread_self();
	vp_base = event_base_new();
	struct verify_pool_settings set = {.threads = 2, .clock_ms = fake_clock};
	const char *err = NULL;
	struct verify_pool *p = verify_pool_new(vp_base, &set, &err);
	CHECK(p != NULL);
	if (p == NULL)
		return;

	/* Eight users with cheap hashes of three schemes. */
	enum { USERS = 8, JOBS = 48 };
	char pw[USERS][32];
	char *hash[USERS];
	static const char *const prefixes[] = {"$y$", "$2b$", "$6$"};
	static const unsigned long costs[] = {1, 4, 1000};
	for (int u = 0; u < USERS; u++) {
		snprintf(pw[u], sizeof(pw[u]), "password-%d", u);
		CHECK_INT(hash_password_create_scheme(pw[u], prefixes[u % 3], costs[u % 3], &hash[u], &err),
			  0);
	}
	/* Many concurrent jobs: right and wrong passwords, every user. */
	struct vp_case cases[JOBS];
	memset(cases, 0, sizeof(cases));
	for (int i = 0; i < JOBS; i++) {
		int u = i % USERS;
		bool right = (i / USERS) % 2 == 0;
		cases[i].want = right ? 1 : 0;
		struct verify_job *j =
		    verify_pool_submit(p, right ? pw[u] : "wrong", hash[u], vp_cb, &cases[i], &err);
		CHECK(j != NULL);
		vp_outstanding++;
	}
	/* Never synchronous, even when it could be. */
	for (int i = 0; i < JOBS; i++)
		CHECK_INT(cases[i].calls, 0);
	vp_run();
	for (int i = 0; i < JOBS; i++) {
		CHECK_INT(cases[i].calls, 1);
		CHECK_INT(cases[i].got, cases[i].want);
		CHECK(pthread_equal(cases[i].thread, main_thread));
	}
	struct verify_pool_stats st;
	verify_pool_get_stats(p, &st);
	CHECK_INT(st.completed, JOBS);
	CHECK_INT(st.pending, 0);
	/* Identical requests in flight were coalesced: at most one hash per
	 * distinct (password, hash) pair that was not yet cached. */
	CHECK_INT(st.hashed + st.coalesced + st.cache_hits, JOBS);
	CHECK(st.hashed <= JOBS);
	uint64_t hashed_before = st.hashed;

	/* Cache hit: no hashing, still asynchronous, on the loop thread. */
	struct vp_case hit = {.want = 1};
	CHECK(verify_pool_submit(p, pw[0], hash[0], vp_cb, &hit, &err) != NULL);
	vp_outstanding++;
	CHECK_INT(hit.calls, 0);
	vp_run();
	CHECK_INT(hit.calls, 1);
	CHECK_INT(hit.got, 1);
	CHECK(pthread_equal(hit.thread, main_thread));
	verify_pool_get_stats(p, &st);
	CHECK_INT(st.hashed, hashed_before);
	CHECK(st.cache_hits >= 1);

	/* Wrong passwords are never cached. */
	struct vp_case w1 = {.want = 0}, w2 = {.want = 0};
	CHECK(verify_pool_submit(p, "wrong", hash[0], vp_cb, &w1, &err) != NULL);
	vp_outstanding++;
	vp_run();
	CHECK(verify_pool_submit(p, "wrong", hash[0], vp_cb, &w2, &err) != NULL);
	vp_outstanding++;
	vp_run();
	CHECK_INT(w1.got, 0);
	CHECK_INT(w2.got, 0);
	verify_pool_get_stats(p, &st);
	CHECK_INT(st.hashed, hashed_before + 2);

	/* Expiry: after the TTL the pair is hashed again. */
	fake_now += 10 * 60 * 1000 + 1;
	struct vp_case exp = {.want = 1};
	CHECK(verify_pool_submit(p, pw[0], hash[0], vp_cb, &exp, &err) != NULL);
	vp_outstanding++;
	vp_run();
	CHECK_INT(exp.got, 1);
	verify_pool_get_stats(p, &st);
	CHECK_INT(st.hashed, hashed_before + 3);

	/* Password change: a new hash of another password; the old password
	 * no longer matches, the cache notwithstanding. */
	char *newhash = NULL;
	CHECK_INT(hash_password_create_scheme("new password", "$y$", 1, &newhash, &err), 0);
	struct vp_case old = {.want = 0}, neu = {.want = 1};
	CHECK(verify_pool_submit(p, pw[0], newhash, vp_cb, &old, &err) != NULL);
	CHECK(verify_pool_submit(p, "new password", newhash, vp_cb, &neu, &err) != NULL);
	vp_outstanding += 2;
	vp_run();
	CHECK_INT(old.got, 0);
	CHECK_INT(neu.got, 1);
	free(newhash);

	/* Unknown user (NULL hash): 0 after a real hash computation. */
	struct vp_case nouser = {.want = 0};
	verify_pool_get_stats(p, &st);
	uint64_t h0 = st.hashed;
	CHECK(verify_pool_submit(p, "anything", NULL, vp_cb, &nouser, &err) != NULL);
	vp_outstanding++;
	vp_run();
	CHECK_INT(nouser.got, 0);
	CHECK(nouser.error == NULL);
	verify_pool_get_stats(p, &st);
	CHECK_INT(st.hashed, h0 + 1);

	/* Malformed stored hash: -1 with a reason. */
	struct vp_case bad = {.want = -1};
	CHECK(verify_pool_submit(p, "pw", "gaxDyoamrjlO6", vp_cb, &bad, &err) != NULL);
	vp_outstanding++;
	vp_run();
	CHECK_INT(bad.got, -1);
	CHECK(bad.error != NULL);

	/* Cancel: the callback never runs, other jobs still do. */
	struct vp_case c1 = {0}, c2 = {.want = 1}, c3 = {0};
	struct verify_job *j1 = verify_pool_submit(p, "x1", hash[1], vp_cb, &c1, &err);
	struct verify_job *j3 = verify_pool_submit(p, pw[0], hash[0], vp_cb, &c3, &err);
	CHECK(verify_pool_submit(p, pw[1], hash[1], vp_cb, &c2, &err) != NULL);
	verify_pool_cancel(p, &j1);
	verify_pool_cancel(p, &j3); /* a cache hit, cancelled before delivery */
	CHECK(j1 == NULL && j3 == NULL);
	verify_pool_cancel(p, &j1); /* NULL is fine */
	vp_outstanding++;
	vp_run();
	/* Let the cancelled work finish too. */
	for (int i = 0; i < 200; i++) {
		verify_pool_get_stats(p, &st);
		if (st.pending == 0)
			break;
		event_base_loop(vp_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(5000);
	}
	CHECK_INT(c1.calls, 0);
	CHECK_INT(c3.calls, 0);
	CHECK_INT(c2.calls, 1);
	CHECK_INT(st.pending, 0);

	for (int u = 0; u < USERS; u++)
		free(hash[u]);
	verify_pool_free(&p);
	CHECK(p == NULL);
	event_base_free(vp_base);
}

TEST(verify_pool_limits_and_free)
{
	vp_base = event_base_new();
	struct verify_pool_settings set = {.threads = 1, .max_pending = 2, .cache_disabled = 1};
	const char *err = NULL;
	struct verify_pool *p = verify_pool_new(vp_base, &set, &err);
	CHECK(p != NULL);
	char *h = NULL;
	CHECK_INT(hash_password_create_scheme("pw", "$y$", 1, &h, &err), 0);
	struct vp_case a = {0}, b = {0}, c = {0};
	CHECK(verify_pool_submit(p, "pw", h, vp_cb, &a, &err) != NULL);
	CHECK(verify_pool_submit(p, "pw", h, vp_cb, &b, &err) != NULL);
	err = NULL;
	CHECK(verify_pool_submit(p, "pw", h, vp_cb, &c, &err) == NULL);
	CHECK(err != NULL);
	/* Without a cache nothing is coalesced either: two hashes. */
	vp_outstanding = 2;
	vp_run();
	CHECK_INT(a.got, 1);
	CHECK_INT(b.got, 1);
	struct verify_pool_stats st;
	verify_pool_get_stats(p, &st);
	CHECK_INT(st.hashed, 2);
	CHECK_INT(st.cache_hits, 0);
	/* Freed with jobs pending: no callback, no leak (ASan checks). */
	struct vp_case d = {0}, e = {0};
	CHECK(verify_pool_submit(p, "pw", h, vp_cb, &d, &err) != NULL);
	CHECK(verify_pool_submit(p, "other", h, vp_cb, &e, &err) != NULL);
	verify_pool_free(&p);
	CHECK_INT(d.calls, 0);
	CHECK_INT(e.calls, 0);
	free(h);
	event_base_free(vp_base);
	vp_outstanding = 0;
}

/* ---- auth_login ---------------------------------------------------------- */

static char *al_hash_alice;
static int al_lookup_fail;

static int al_lookup(void *lctx, const char *username, char **canonical_r, char **hash_r, char **scram_r,
		     const char **error_r)
{
	(void)lctx;
	*canonical_r = *hash_r = *scram_r = NULL;
	if (al_lookup_fail) {
		*error_r = "database is locked";
		return -1;
	}
	if (strcmp(username, "alice@example.test") != 0 && strcmp(username, "Alice@Example.test") != 0)
		return 0;
	*canonical_r = xstrdup("alice@example.test");
	*hash_r = xstrdup(al_hash_alice);
	*scram_r = xstrdup(R7677_SECRETS);
	return 1;
}

struct al_case {
	int calls;
	enum auth_login_result result;
	char user[64];
};

static void al_cb(enum auth_login_result result, const char *user, void *context)
{
	struct al_case *c = context;
	c->calls++;
	c->result = result;
	snprintf(c->user, sizeof(c->user), "%s", user ? user : "(null)");
	if (--vp_outstanding == 0)
		event_base_loopbreak(vp_base);
}

TEST(auth_login_flows)
{
	vp_base = event_base_new();
	const char *err = NULL;
	struct verify_pool_settings vset = {.threads = 2};
	struct verify_pool *pool = verify_pool_new(vp_base, &vset, &err);
	struct throttle_settings tset;
	throttle_settings_default(&tset);
	tset.max_failures = 3;
	tset.delay_first_ms = 1; /* keep the test fast */
	struct throttle *thr = throttle_new(&tset);
	CHECK_INT(hash_password_create_scheme("secret", "$y$", 1, &al_hash_alice, &err), 0);
	struct auth_login_ctx *ctx = auth_login_ctx_new(vp_base, pool, thr, al_lookup, NULL);
	struct sockaddr_storage a = addr4("192.0.2.10"), b = addr4("192.0.2.11");

	/* Success, asynchronously, with the canonical address. */
	struct al_case ok = {0};
	CHECK(auth_login_password(ctx, SA(a), "Alice@Example.test", "secret", al_cb, &ok) != NULL);
	CHECK_INT(ok.calls, 0);
	vp_outstanding = 1;
	vp_run();
	CHECK_INT(ok.calls, 1);
	CHECK_INT(ok.result, AUTH_LOGIN_OK);
	CHECK_STR(ok.user, "alice@example.test");

	/* Wrong password, unknown user: both FAILED, no user; the third failure blocks. */
	struct al_case f1 = {0}, f2 = {0}, f3 = {0}, blocked = {0}, other = {0};
	auth_login_password(ctx, SA(a), "alice@example.test", "wrong", al_cb, &f1);
	vp_outstanding = 1;
	vp_run();
	auth_login_password(ctx, SA(a), "nobody@example.test", "secret", al_cb, &f2);
	vp_outstanding = 1;
	vp_run();
	auth_login_password(ctx, SA(a), "not an address", "x", al_cb, &f3);
	vp_outstanding = 1;
	vp_run();
	CHECK_INT(f1.result, AUTH_LOGIN_FAILED);
	CHECK_STR(f1.user, "(null)");
	CHECK_INT(f2.result, AUTH_LOGIN_FAILED);
	CHECK_INT(f3.result, AUTH_LOGIN_FAILED);
	uint64_t retry = 0;
	CHECK(auth_login_blocked(ctx, SA(a), &retry));
	CHECK(retry > 0);
	/* Blocked: refused even with the right password; others unaffected. */
	auth_login_password(ctx, SA(a), "alice@example.test", "secret", al_cb, &blocked);
	auth_login_password(ctx, SA(b), "alice@example.test", "secret", al_cb, &other);
	CHECK_INT(blocked.calls + other.calls, 0);
	vp_outstanding = 2;
	vp_run();
	CHECK_INT(blocked.result, AUTH_LOGIN_BLOCKED);
	CHECK_INT(other.result, AUTH_LOGIN_OK);

	/* Storage error: TEMPFAIL. */
	struct al_case tf = {0};
	al_lookup_fail = 1;
	auth_login_password(ctx, SA(b), "alice@example.test", "secret", al_cb, &tf);
	vp_outstanding = 1;
	vp_run();
	al_lookup_fail = 0;
	CHECK_INT(tf.result, AUTH_LOGIN_TEMPFAIL);

	/* SCRAM helpers. */
	char *secrets = NULL, *canon = NULL;
	CHECK_INT(auth_login_scram_lookup(ctx, "alice@example.test", &secrets, &canon, &err), 0);
	CHECK_STR(secrets, R7677_SECRETS);
	CHECK_STR(canon, "alice@example.test");
	free(secrets);
	free(canon);
	CHECK_INT(auth_login_scram_lookup(ctx, "nobody@example.test", &secrets, &canon, &err), 0);
	CHECK(secrets == NULL && canon == NULL);
	struct al_case r1 = {0}, r2 = {0};
	auth_login_report(ctx, SA(b), true, "alice@example.test", al_cb, &r1);
	auth_login_report(ctx, SA(b), false, NULL, al_cb, &r2);
	CHECK_INT(r1.calls + r2.calls, 0);
	vp_outstanding = 2;
	vp_run();
	CHECK_INT(r1.result, AUTH_LOGIN_OK);
	CHECK_STR(r1.user, "alice@example.test");
	CHECK_INT(r2.result, AUTH_LOGIN_FAILED);

	/* Cancel: pending verification and pending delayed failure. */
	struct al_case c1 = {0}, c2 = {0};
	struct auth_login_req *q1 =
	    auth_login_password(ctx, SA(b), "alice@example.test", "secret", al_cb, &c1);
	struct auth_login_req *q2 = auth_login_report(ctx, SA(b), false, NULL, al_cb, &c2);
	auth_login_cancel(&q1);
	auth_login_cancel(&q2);
	CHECK(q1 == NULL && q2 == NULL);
	/* Freed with requests pending: no callbacks. */
	struct al_case d1 = {0};
	auth_login_password(ctx, SA(b), "alice@example.test", "secret", al_cb, &d1);
	auth_login_ctx_free(&ctx);
	CHECK(ctx == NULL);
	for (int i = 0; i < 20; i++) {
		event_base_loop(vp_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(2000);
	}
	CHECK_INT(c1.calls + c2.calls + d1.calls, 0);

	verify_pool_free(&pool);
	throttle_free(&thr);
	free(al_hash_alice);
	event_base_free(vp_base);
	vp_outstanding = 0;
}

int main(void)
{
	RUN(hash_default_yescrypt);
	RUN(hash_schemes);
	RUN(hash_foreign_vectors);
	RUN(hash_is_supported);
	RUN(hash_errors);
	RUN(auth_names);
	RUN(scram_secrets);
	RUN(scram_rfc7677);
	RUN(scram_client_first_table);
	RUN(scram_client_final_table);
	RUN(scram_client_final_prefixes_and_mutations);
	RUN(scram_unknown_user);
	RUN(scram_random_nonce);
	RUN(sasl_mech_names);
	RUN(sasl_plain_table);
	RUN(sasl_plain_flows);
	RUN(sasl_login_flows);
	RUN(sasl_scram_flows);
	RUN(throttle_delays_and_block);
	RUN(throttle_window_and_success);
	RUN(throttle_address_grouping);
	RUN(throttle_bounded);
	RUN(verify_pool_concurrent);
	RUN(verify_pool_limits_and_free);
	RUN(auth_login_flows);
	return test_done();
}
