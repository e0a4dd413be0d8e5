/* posthorn dkim keygen|list: DKIM keys of local domains, kept in dkim_dir
 * (default data_dir/dkim) as DOMAIN/SELECTOR.pem, and the TXT records that
 * publish them. The daemon picks up new keys without a restart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "dkim/dkim.h"
#include "util/buf.h"

static const char usage[] =
    "usage: posthorn dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519|both]\n"
    "                               new signing keys (default: both, RSA 2048 and Ed25519)\n"
    "       posthorn dkim list [DOMAIN]  the keys and their DNS records\n"
    "options: -c FILE  the config file\n"
    "Mail from DOMAIN is signed with every key of DOMAIN; publish the records first\n"
    "(`posthorn dns DOMAIN` prints them with the others the domain needs).\n";

void cli_dkim_dir(const struct config *cfg, char *out, size_t size)
{
	if (cfg->dkim_dir != NULL)
		snprintf(out, size, "%s", cfg->dkim_dir);
	else if (snprintf(out, size, "%s/dkim", cfg->data_dir) >= (int)size)
		out[0] = '\0';
}

/* A TXT record's data as quoted strings of at most 255 bytes (RFC 1035
 * character-strings), on one line. */
void cli_print_txt(FILE *out, const char *text)
{
	size_t n = strlen(text);
	for (size_t i = 0; i < n || i == 0; i += 255) {
		size_t k = n - i < 255 ? n - i : 255;
		fprintf(out, "%s\"%.*s\"", i ? " " : "", (int)k, text + i);
		if (n == 0)
			break;
	}
}

int cli_dkim_records(const struct config *cfg, const char *domain, FILE *out)
{
	char dir[4096];
	cli_dkim_dir(cfg, dir, sizeof(dir));
	struct dkim_key *keys;
	const char *error;
	int n = dkim_keys_load(dir, domain, &keys, &error);
	if (n < 0) {
		cli_error("dkim keys of %s: %s", domain, error);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct buf rec;
		buf_init(&rec, 8192);
		dkim_key_record(&keys[i], &rec);
		char name[512];
		snprintf(name, sizeof(name), "%s._domainkey.%s.", keys[i].selector, domain);
		fprintf(out, "%-40s 3600 IN TXT   ", name);
		cli_print_txt(out, buf_cstr(&rec));
		fprintf(out, "\n");
		buf_free(&rec);
	}
	dkim_keys_free(&keys, (size_t)n);
	return n;
}

static int keygen(struct cli *cli, const char *domain, const char *selector, const char *algorithm)
{
	const char *error;
	int local = store_domain_exists(cli->store, domain, &error);
	if (local <= 0) {
		cli_error("%s is not a local domain%s%s (add it with `posthorn domain add %s`)", domain,
			  local < 0 ? ": " : "", local < 0 ? error : "", domain);
		return 1;
	}
	char dir[4096], ddir[4400];
	cli_dkim_dir(cli->cfg, dir, sizeof(dir));
	snprintf(ddir, sizeof(ddir), "%s/%s", dir, domain);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || (mkdir(ddir, 0700) < 0 && errno != EEXIST)) {
		cli_error("cannot create %s: %s", ddir, strerror(errno));
		return 1;
	}
	bool rsa = strcmp(algorithm, "rsa") == 0 || strcmp(algorithm, "both") == 0;
	bool ed = strcmp(algorithm, "ed25519") == 0 || strcmp(algorithm, "both") == 0;
	if (!rsa && !ed) {
		cli_error("unknown algorithm \"%s\": expected rsa, ed25519 or both", algorithm);
		return 2;
	}
	if (selector != NULL && rsa && ed) {
		cli_error("--selector names one key: give --algorithm rsa or ed25519 with it");
		return 2;
	}
	if (selector != NULL && !dkim_selector_valid(selector)) {
		cli_error("bad selector \"%s\": use 1-63 lower-case letters, digits, - and _", selector);
		return 2;
	}
	char day[16];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	for (int a = 0; a < 2; a++) {
		if ((a == 0 && !rsa) || (a == 1 && !ed))
			continue;
		enum dkim_alg alg = a == 0 ? DKIM_RSA_SHA256 : DKIM_ED25519_SHA256;
		char sel[64], path[4600];
		for (int k = 1; k < 100; k++) {
			if (selector != NULL)
				snprintf(sel, sizeof(sel), "%s", selector);
			else if (k == 1)
				snprintf(sel, sizeof(sel), "%s-%s", a == 0 ? "rsa" : "ed25519", day);
			else
				snprintf(sel, sizeof(sel), "%s-%s-%d", a == 0 ? "rsa" : "ed25519", day, k);
			snprintf(path, sizeof(path), "%s/%s.pem", ddir, sel);
			struct stat st;
			if (selector != NULL || stat(path, &st) < 0)
				break;
		}
		if (dkim_key_generate(alg, path, &error) < 0) {
			cli_error("%s: %s", path, error);
			return 1;
		}
		printf("new %s key for %s, selector %s: %s\n",
		       alg == DKIM_RSA_SHA256 ? "RSA 2048" : "Ed25519", domain, sel, path);
	}
	printf("\nPublish these records in the DNS of %s (mail is signed with every key from now on):\n\n",
	       domain);
	return cli_dkim_records(cli->cfg, domain, stdout) < 0 ? 1 : 0;
}

int cli_main_dkim(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	if (help != 0 || argc < 2) {
		fputs(usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	const char *verb = argv[1];
	const char *selector = NULL, *algorithm = "both", *domain = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc)
			selector = argv[++i];
		else if (strcmp(argv[i], "--algorithm") == 0 && i + 1 < argc)
			algorithm = argv[++i];
		else if (argv[i][0] != '-' && domain == NULL)
			domain = argv[i];
		else {
			cli_error("unexpected argument \"%s\"", argv[i]);
			fputs(usage, stderr);
			return 2;
		}
	}
	bool is_keygen = strcmp(verb, "keygen") == 0, is_list = strcmp(verb, "list") == 0;
	if ((!is_keygen && !is_list) || (is_keygen && domain == NULL) ||
	    (is_list && (selector || argc > 3))) {
		if (!is_keygen && !is_list)
			cli_error("unknown command \"dkim %s\"", verb);
		fputs(usage, stderr);
		return 2;
	}
	if (cli_open(&cli, true) < 0)
		return 1;
	int rc = 0;
	if (is_keygen) {
		rc = keygen(&cli, domain, selector, algorithm);
	} else {
		const char *error;
		char **domains = NULL;
		if (domain == NULL && store_domain_list(cli.store, &domains, &error) < 0) {
			cli_error("domain list: %s", error);
			rc = 1;
		}
		int total = 0;
		for (size_t i = 0; rc == 0 && (domain ? i < 1 : domains[i] != NULL); i++) {
			int n = cli_dkim_records(cli.cfg, domain ? domain : domains[i], stdout);
			if (n < 0)
				rc = 1;
			else
				total += n;
		}
		if (rc == 0 && total == 0)
			printf("no DKIM keys (make some with `posthorn dkim keygen DOMAIN`)\n");
		if (domains)
			store_strv_free(&domains);
	}
	cli_close(&cli);
	return rc;
}
