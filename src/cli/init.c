/* posthorn init: a config that works as it is, a data folder with the
 * domain, and a self-signed certificate, so that
 *   posthorn init --domain D --dir DIR && posthorn user add a@D -c DIR/posthorn.conf
 *   && posthorn serve -c DIR/posthorn.conf
 * is a running server. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/daemon.h"
#include "util/buf.h"

static const char usage[] =
	"usage: posthorn init --domain DOMAIN [--hostname HOST] [--dir DIR] [--public]\n"
	"Writes DIR/posthorn.conf, DIR/data/ (with DOMAIN) and a self-signed certificate\n"
	"in DIR/tls/, then says what to do next. DIR defaults to the current directory.\n"
	"  --hostname HOST  this server's name (default mail.DOMAIN)\n"
	"  --public         standard ports on all addresses (25, 587, 465, ...; needs root\n"
	"                   to serve) instead of the development ports on 127.0.0.1\n";

struct port_plan {
	enum listener_kind kind;
	int dev_port;
	int public_port;
	const char *what;
};

static const struct port_plan ports[] = {
	{LISTENER_SMTP, 2525, 25, "mail from other servers"},
	{LISTENER_SUBMISSION, 2587, 587, "mail from your users' clients (STARTTLS, then AUTH)"},
	{LISTENER_SUBMISSIONS, 2465, 465, "the same with implicit TLS"},
	{LISTENER_IMAP, 2143, 143, "IMAP (STARTTLS)"},
	{LISTENER_IMAPS, 2993, 993, "IMAP with implicit TLS"},
	{LISTENER_POP3, 2110, 110, "POP3 (STLS)"},
	{LISTENER_POP3S, 2995, 995, "POP3 with implicit TLS"},
	{LISTENER_HTTP, 8080, 80, "webmail"},
	{LISTENER_HTTPS, 8443, 443, "webmail over HTTPS"},
};

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wx");
	if (f == NULL) {
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	chmod(path, mode);
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		cli_error("%s: write failed", path);
		return -1;
	}
	return 0;
}

/* A self-signed RSA-2048 certificate for host (and domain) valid ten years. */
static int make_certificate(const char *host, const char *domain, struct buf *cert_pem, struct buf *key_pem)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	int ok = key != NULL && x != NULL;
	if (ok) {
		X509_set_version(x, 2);
		ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
		X509_gmtime_adj(X509_getm_notBefore(x), -3600);
		X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
		X509_set_pubkey(x, key);
		X509_NAME *name = X509_get_subject_name(x);
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)host, -1, -1, 0);
		X509_set_issuer_name(x, name);
		char san[1024];
		snprintf(san, sizeof(san), "DNS:%s,DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host, domain);
		X509V3_CTX v3;
		X509V3_set_ctx_nodb(&v3);
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
		X509_EXTENSION_free(ext);
		ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
	}
	if (ok) {
		BIO *b = BIO_new(BIO_s_mem());
		char *p;
		PEM_write_bio_X509(b, x);
		long n = BIO_get_mem_data(b, &p);
		ok = buf_append(cert_pem, p, (size_t)n) == 0;
		BIO_free(b);
		b = BIO_new(BIO_s_mem());
		PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
		n = BIO_get_mem_data(b, &p);
		ok = ok && buf_append(key_pem, p, (size_t)n) == 0;
		BIO_free(b);
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

static void write_config(struct buf *out, const char *host, bool public)
{
	buf_printf(out,
		   "# Posthorn configuration (written by `posthorn init`).\n"
		   "# Every setting is described in the README and by `posthorn check --reference`.\n"
		   "# Accounts, domains and aliases are not here: manage them with\n"
		   "# `posthorn domain|user|alias ...`; they live in data_dir.\n\n"
		   "hostname   %s\n"
		   "data_dir   data              # relative paths are relative to this file\n"
		   "log_file   -                 # - is standard error\n"
		   "log_level  info\n"
		   "run_user   posthorn          # used when started as root\n\n"
		   "# TLS for every service (STARTTLS and implicit TLS); reloaded on SIGHUP.\n"
		   "# Replace with your real certificate, e.g. from Let's Encrypt.\n"
		   "tls_cert   tls/cert.pem\n"
		   "tls_key    tls/key.pem\n\n",
		   host);
	buf_printf(out, "# Listeners: listen KIND ADDRESS:PORT (IPv6 as [::1]:PORT, * for all addresses).\n");
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		if (daemon_handler_for(ports[i].kind) == NULL)
			continue;
		char addr[64];
		if (public)
			snprintf(addr, sizeof(addr), "*:%d", ports[i].public_port);
		else
			snprintf(addr, sizeof(addr), "127.0.0.1:%d", ports[i].dev_port);
		buf_printf(out, "listen %-12s %-18s # %s\n", listener_kind_name(ports[i].kind), addr, ports[i].what);
	}
	buf_printf(out,
		   "\n# Limits (the defaults are shown; uncomment to change).\n"
		   "#max_connections         2000\n"
		   "#max_connections_per_ip  50\n"
		   "#max_message_size        50M\n"
		   "#max_recipients          1000\n"
		   "#max_errors              20\n"
		   "#smtp_timeout            5m\n"
		   "#auth_max_failures       10\n"
		   "#auth_lockout            10m\n"
		   "#default_quota           0     # 0 = unlimited\n");
}

int cli_main_init(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	const char *domain = NULL, *host = NULL, *dir = ".";
	bool public = false;
	for (int i = 1; i < argc && help == 0; i++) {
		if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
			domain = argv[++i];
		else if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc)
			host = argv[++i];
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--public") == 0)
			public = true;
		else {
			cli_error("unexpected argument \"%s\"", argv[i]);
			help = -1;
		}
	}
	if (help != 0 || domain == NULL) {
		if (help == 0)
			cli_error("--domain is required");
		fputs(usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	char hostbuf[300];
	if (host == NULL) {
		snprintf(hostbuf, sizeof(hostbuf), "mail.%s", domain);
		host = hostbuf;
	}
	char path[4096];
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		cli_error("%s: %s", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/posthorn.conf", dir);
	if (access(path, F_OK) == 0) {
		cli_error("%s already exists: not overwriting it", path);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/tls", dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		cli_error("%s: %s", path, strerror(errno));
		return 1;
	}
	struct buf cert, key, conf;
	buf_init(&cert, 1 << 20);
	buf_init(&key, 1 << 20);
	buf_init(&conf, 1 << 20);
	int rc = 1;
	if (make_certificate(host, domain, &cert, &key) < 0) {
		cli_error("could not create a self-signed certificate");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/tls/cert.pem", dir);
	if (write_file(path, cert.data, cert.len, 0644) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/tls/key.pem", dir);
	if (write_file(path, key.data, key.len, 0600) < 0)
		goto out;
	write_config(&conf, host, public);
	snprintf(path, sizeof(path), "%s/posthorn.conf", dir);
	if (write_file(path, conf.data, conf.len, 0644) < 0)
		goto out;
	cli.config_path = path;
	if (cli_open(&cli, true) < 0)
		goto out;
	const char *error;
	if (store_domain_add(cli.store, domain, &error) < 0) {
		cli_error("domain %s: %s", domain, error);
		goto out;
	}
	printf("Wrote %s, a self-signed certificate in %s/tls/, and the data folder %s\n"
	       "with the domain %s. Next:\n"
	       "  posthorn user add you@%s -c %s     (asks for a password)\n"
	       "  posthorn serve -c %s\n",
	       path, dir, cli.cfg->data_dir, domain, domain, path, path);
	rc = 0;
out:
	if (key.data)
		explicit_bzero(key.data, key.len);
	buf_free(&cert);
	buf_free(&key);
	buf_free(&conf);
	cli_close(&cli);
	return rc;
}
