/* libFuzzer target for a whole SMTP session: the real engine (smtp_server)
 * behind the real connection layer (core/conn), over a socketpair, with a
 * real store in a temporary folder (/dev/shm when there is one), the real
 * password check (verify pool, throttle, auth_login) and DKIM signing of
 * submitted mail.
 *
 * The input is what a client sends. Byte 0 chooses the setting:
 *   bit 0  the submission listener (else smtp)
 *   bit 1  a TLS certificate is loaded (STARTTLS is offered; whatever
 *          follows it is a failed handshake)
 *   bit 2  allow_plaintext_loopback (AUTH without TLS from loopback)
 *   bit 3  tight limits (10 KB messages, 3 recipients, 512-byte lines,
 *          5 errors)
 *   bit 4  the client is not on loopback
 *   bits 5-6  how the rest is cut into writes: whole, two halves, pieces
 *          of 1-64 bytes, or 1-3 bytes for the first 512 then the rest
 *   bit 7  the server starts shutting down after the first piece
 * Every piece is written and the loop run; then the client half-closes and
 * the loop runs until the session is gone. A session that never ends
 * aborts (a hang is a bug), and LeakSanitizer checks that nothing stays.
 *
 * Users: alice (password "secret", SCRAM secrets too), bob, small (1 KB
 * quota), aliases team -> alice, bob and postmaster -> alice, all
 * @example.test. Passwords are sha512-crypt with 1000 rounds, and unknown
 * users check against such a hash too, so that AUTH costs well under a
 * millisecond instead of yescrypt's tens. The store is made afresh every
 * STORE_RESET inputs so that it does not grow through a long run. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth_login.h"
#include "auth/auth_login_store.h"
#include "auth/hash.h"
#include "auth/scram.h"
#include "auth/throttle.h"
#include "auth/verify_pool.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/server.h"
#include "core/tls.h"
#include "dkim/dkim.h"
#include "smtp/smtp_server.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STORE_RESET 256
#define DOMAIN "example.test"
#define PASSWORD "secret"

static struct {
	bool ready;
	char dir[256];
	struct config *cfg;
	struct server srv;
	SSL_CTX *tls;
	char *user_hash;    /* sha512-crypt of PASSWORD */
	char *unknown_hash; /* sha512-crypt of a random password */
	char *scram;	    /* SCRAM secrets of PASSWORD */
	unsigned inputs;
	/* Per input: */
	int client;
	struct event *client_ev;
	struct event *watchdog;
	unsigned ticks;
} F;

static void die(const char *what, const char *error)
{
	fprintf(stderr, "smtp_session_fuzz: %s: %s\n", what, error ? error : "?");
	abort();
}

/* auth_login lookup: the store's, but unknown users get a cheap hash that
 * nothing matches instead of the verify pool's yescrypt dummy. */
static int fuzz_lookup(void *ctx, const char *username, char **canonical_r, char **hash_r, char **scram_r,
		       const char **error_r)
{
	int r = auth_login_store_lookup(ctx, username, canonical_r, hash_r, scram_r, error_r);
	if (r != 0)
		return r;
	*canonical_r = NULL;
	*scram_r = NULL;
	*hash_r = xstrdup(F.unknown_hash);
	return 1;
}

static SSL_CTX *make_tls(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (key == NULL || x == NULL)
		die("tls", "key");
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mx." DOMAIN, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	if (X509_sign(x, key, EVP_sha256()) == 0)
		die("tls", "sign");
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(cb, x);
	PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL);
	char *cert_pem, *key_pem;
	long cert_len = BIO_get_mem_data(cb, &cert_pem), key_len = BIO_get_mem_data(kb, &key_pem);
	const char *error;
	SSL_CTX *ctx = tls_ctx_new(cert_pem, (size_t)cert_len, key_pem, (size_t)key_len, &error);
	if (ctx == NULL)
		die("tls", error);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static void store_setup(void)
{
	const char *error;
	char path[512];
	snprintf(path, sizeof(path), "%s/posthorn.db", F.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/posthorn.db-wal", F.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/posthorn.db-shm", F.dir);
	unlink(path);
	struct store_options so = {.backend = "sqlite", .data_dir = F.dir};
	struct store *st = store_open(&so, &error);
	if (st == NULL || store_attach_loop(st, F.srv.base, &error) < 0)
		die("store", error);
	if (store_domain_add(st, DOMAIN, &error) < 0 ||
	    store_user_add(st, "alice@" DOMAIN, F.user_hash, F.scram, &error) < 0 ||
	    store_user_add(st, "bob@" DOMAIN, F.user_hash, NULL, &error) < 0 ||
	    store_user_add(st, "small@" DOMAIN, F.user_hash, NULL, &error) < 0 ||
	    store_user_set_quota(st, "small@" DOMAIN, 1024, &error) < 0 ||
	    store_alias_add(st, "team@" DOMAIN, "alice@" DOMAIN, &error) < 0 ||
	    store_alias_add(st, "team@" DOMAIN, "bob@" DOMAIN, &error) < 0 ||
	    store_alias_add(st, "postmaster@" DOMAIN, "alice@" DOMAIN, &error) < 0)
		die("store setup", error);
	F.srv.store = st;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void cleanup(void)
{
	if (F.srv.store != NULL)
		store_close(&F.srv.store);
	nftw(F.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	const char *error;
	/* POSTHORN_FUZZ_LOG=1: every session event on stderr, to see what a
	 * seed or a finding does. */
	const char *verbose = getenv("POSTHORN_FUZZ_LOG");
	log_open(NULL, verbose != NULL && verbose[0] == '1' ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(F.dir, sizeof(F.dir), "%s/posthorn-smtp-fuzz-XXXXXX", base);
	if (mkdtemp(F.dir) == NULL)
		die("mkdtemp", strerror(errno));

	F.cfg = config_defaults();
	free(F.cfg->hostname);
	F.cfg->hostname = xstrdup("mx." DOMAIN);
	free(F.cfg->data_dir);
	F.cfg->data_dir = xstrdup(F.dir);
	F.srv.cfg = F.cfg;
	F.srv.next_session = 1;
	F.srv.base = event_base_new();
	if (F.srv.base == NULL)
		die("event_base_new", NULL);

	if (hash_password_create_scheme(PASSWORD, "$6$", 1000, &F.user_hash, &error) < 0 ||
	    hash_password_create_scheme("7bd3c0f1e2a94d5b8c6e0f1a2b3c4d5e", "$6$", 1000, &F.unknown_hash,
					&error) < 0 ||
	    scram_secrets_create(PASSWORD, 4096, &F.scram, &error) < 0)
		die("hash", error);
	store_setup();

	struct verify_pool_settings vs = {.threads = 1};
	F.srv.verify = verify_pool_new(F.srv.base, &vs, &error);
	if (F.srv.verify == NULL)
		die("verify_pool", error);
	F.tls = make_tls();

	char path[512];
	snprintf(path, sizeof(path), "%s/dkim", F.dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/dkim/" DOMAIN, F.dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/dkim/" DOMAIN "/fuzz.pem", F.dir);
	if (dkim_key_generate(DKIM_ED25519_SHA256, path, &error) < 0)
		die("dkim", error);
	snprintf(path, sizeof(path), "%s/dkim", F.dir);
	F.srv.dkim = dkim_signer_new(path);
	atexit(cleanup);
	F.ready = true;
}

static void client_cb(evutil_socket_t fd, short what, void *arg)
{
	static char sink[65536];
	for (;;) {
		ssize_t n = read(fd, sink, sizeof(sink));
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		event_del(F.client_ev); /* EOF or error: the server closed */
		return;
	}
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	/* 8 s without the session ending: it hangs. */
	if (++F.ticks > 160) {
		fprintf(stderr, "smtp_session_fuzz: the session did not end after the client left\n");
		abort();
	}
}

static bool shutdown_after_write;

/* Writes all of p, running the loop whenever the socket is full. */
static void client_write(const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(F.client, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return; /* the server closed: the rest is lost, as on a network */
		event_base_loop(F.srv.base, EVLOOP_ONCE);
	}
	event_base_loop(F.srv.base, EVLOOP_NONBLOCK);
	if (shutdown_after_write) {
		shutdown_after_write = false;
		F.srv.shutting_down = true;
		conn_shutdown_all(&F.srv);
		event_base_loop(F.srv.base, EVLOOP_NONBLOCK);
	}
}

static uint32_t rnd(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!F.ready)
		setup();
	if (++F.inputs % STORE_RESET == 0) {
		store_close(&F.srv.store);
		store_setup();
	}
	uint8_t mode = data[0];
	data++;
	size--;

	struct config *cfg = F.cfg;
	bool tight = (mode & 8) != 0;
	cfg->max_message_size = tight ? 10 * 1024 : 50 * 1024 * 1024;
	cfg->max_recipients = tight ? 3 : 1000;
	cfg->smtp_max_line = tight ? 512 : 4096;
	cfg->max_errors = tight ? 5 : 20;
	cfg->allow_plaintext_loopback = (mode & 4) != 0;
	F.srv.tls = (mode & 2) ? F.tls : NULL;

	/* Fresh login state, so that a run does not depend on earlier inputs. */
	struct throttle_settings ts;
	throttle_settings_default(&ts);
	ts.max_failures = 3;
	ts.delay_first_ms = 0;
	F.srv.throttle = throttle_new(&ts);
	F.srv.login = auth_login_ctx_new(F.srv.base, F.srv.verify, F.srv.throttle, fuzz_lookup, F.srv.store);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", strerror(errno));
	F.client = sv[1];
	F.client_ev = event_new(F.srv.base, F.client, EV_READ | EV_PERSIST, client_cb, NULL);
	event_add(F.client_ev, NULL);
	F.ticks = 0;
	F.watchdog = event_new(F.srv.base, -1, EV_PERSIST, watchdog_cb, NULL);
	struct timeval tick = {0, 50 * 1000};
	event_add(F.watchdog, &tick);

	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
	peer.sin_addr.s_addr = htonl((mode & 16) ? 0xC0000201 /* 192.0.2.1 */ : 0x7F000001);
	conn_accept(&F.srv, sv[0], (struct sockaddr *)&peer, sizeof(peer),
		    (mode & 1) ? LISTENER_SUBMISSION : LISTENER_SMTP, &smtp_handler);
	event_base_loop(F.srv.base, EVLOOP_NONBLOCK);

	shutdown_after_write = (mode & 128) != 0;
	uint32_t seed = (uint32_t)size * 2654435761u;
	switch ((mode >> 5) & 3) {
	case 0:
		client_write(data, size);
		break;
	case 1:
		client_write(data, size / 2);
		client_write(data + size / 2, size - size / 2);
		break;
	case 2:
		for (size_t off = 0; off < size;) {
			size_t n = 1 + rnd(&seed) % 64;
			n = n < size - off ? n : size - off;
			client_write(data + off, n);
			off += n;
		}
		break;
	default: {
		size_t off = 0;
		while (off < size && off < 512) {
			size_t n = 1 + rnd(&seed) % 3;
			n = n < size - off ? n : size - off;
			client_write(data + off, n);
			off += n;
		}
		client_write(data + off, size - off);
		break;
	}
	}

	/* The client is done: the session must end by itself. */
	shutdown(F.client, SHUT_WR);
	while (conn_count(&F.srv) > 0)
		event_base_loop(F.srv.base, EVLOOP_ONCE);

	F.srv.shutting_down = false;
	event_free(F.watchdog);
	event_free(F.client_ev);
	close(F.client);
	auth_login_ctx_free(&F.srv.login);
	throttle_free(&F.srv.throttle);
	return 0;
}
