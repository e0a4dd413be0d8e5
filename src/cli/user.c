/* posthorn user add|passwd|list|remove|quota: mail accounts. */
#include <stdlib.h>
#include <string.h>

#include "auth/hash.h"
#include "auth/scram.h"
#include "cli/cli.h"
#include "util/strnum.h"

static const char usage[] =
	"usage: posthorn user add ADDRESS [--random] [--hash HASH] [--quota SIZE]\n"
	"       posthorn user passwd ADDRESS [--random] [--hash HASH]\n"
	"       posthorn user quota ADDRESS SIZE        0 = unlimited; K, M, G suffixes\n"
	"       posthorn user list [DOMAIN]\n"
	"       posthorn user remove ADDRESS            deletes the account and all its mail\n"
	"The password is asked twice on a terminal, or read from the first line of\n"
	"standard input (echo secret | posthorn user add a@example.org). It is never\n"
	"taken from the command line.\n"
	"  --random      generate a password and print it once\n"
	"  --hash HASH   use an existing crypt(3) hash ($y$ yescrypt, $2b$ bcrypt, $6$\n"
	"                sha512-crypt) to migrate an account; SCRAM-SHA-256 then works\n"
	"                only after the next password change\n"
	"options: -c FILE  the config file\n";

/* Turns the chosen password source into a hash (and SCRAM secrets). */
static int make_credentials(bool random, const char *given_hash, char **hash_r, char **scram_r)
{
	const char *error;
	*hash_r = NULL;
	*scram_r = NULL;
	if (given_hash != NULL) {
		if (!hash_password_is_supported(given_hash)) {
			cli_error("--hash: not a supported crypt(3) hash (expected $y$, $2b$, $2y$, $2a$ or $6$)");
			return -1;
		}
		*hash_r = strdup(given_hash);
		return 0;
	}
	char *pw = random ? cli_random_password() : cli_read_password(true);
	if (pw == NULL)
		return -1;
	int r = 0;
	if (hash_password_create(pw, hash_r, &error) < 0 ||
	    scram_secrets_create(pw, SCRAM_ITERATIONS_DEFAULT, scram_r, &error) < 0) {
		cli_error("hashing the password: %s", error);
		r = -1;
	} else if (random)
		printf("password: %s\n", pw);
	cli_password_free(&pw);
	return r;
}

int cli_main_user(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	if (help != 0 || argc < 2) {
		fputs(usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	const char *verb = argv[1];
	bool random = false;
	const char *hash = NULL, *quota_text = NULL;
	const char *pos[3] = {NULL, NULL, NULL};
	int npos = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--random") == 0)
			random = true;
		else if (strcmp(argv[i], "--hash") == 0 && i + 1 < argc)
			hash = argv[++i];
		else if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc)
			quota_text = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1] == '-') {
			cli_error("unknown option %s", argv[i]);
			fputs(usage, stderr);
			return 2;
		} else if (npos < 3)
			pos[npos++] = argv[i];
		else {
			fputs(usage, stderr);
			return 2;
		}
	}
	uint64_t quota = 0;
	if (strcmp(verb, "quota") == 0 && npos == 2)
		quota_text = pos[1];
	if (quota_text != NULL && str_to_size(quota_text, &quota) < 0) {
		cli_error("bad size \"%s\": a number with an optional K, M or G suffix", quota_text);
		return 2;
	}
	bool ok = ((strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0 || strcmp(verb, "remove") == 0) &&
		   npos == 1) ||
		  (strcmp(verb, "list") == 0 && npos <= 1) || (strcmp(verb, "quota") == 0 && npos == 2);
	if (!ok) {
		fputs(usage, stderr);
		return 2;
	}
	if (cli_open(&cli, true) < 0)
		return 1;
	const char *error;
	int rc = 0;
	if (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0) {
		bool add = strcmp(verb, "add") == 0;
		struct store_user u = {0};
		int found = store_user_get(cli.store, pos[0], &u, &error);
		store_user_clear(&u);
		if (found < 0) {
			cli_error("%s", error);
			rc = 1;
		} else if (add && found == 1) {
			cli_error("user %s already exists (use `posthorn user passwd` to change the password)", pos[0]);
			rc = 1;
		} else if (!add && found == 0) {
			cli_error("no user %s", pos[0]);
			rc = 1;
		} else {
			char *h, *scram;
			if (make_credentials(random, hash, &h, &scram) < 0)
				rc = 1;
			else if (add && store_user_add(cli.store, pos[0], h, scram, &error) < 0) {
				cli_error("user add %s: %s", pos[0], error);
				rc = 1;
			} else if (!add && store_user_set_password(cli.store, pos[0], h, scram, &error) < 0) {
				cli_error("user passwd %s: %s", pos[0], error);
				rc = 1;
			} else {
				uint64_t q = quota_text ? quota : cli.cfg->default_quota;
				if (add && q > 0 && store_user_set_quota(cli.store, pos[0], q, &error) < 0) {
					cli_error("user add %s: quota: %s", pos[0], error);
					rc = 1;
				} else
					printf("user %s %s\n", pos[0], add ? "added" : "password changed");
			}
			free(h);
			free(scram);
		}
	} else if (strcmp(verb, "quota") == 0) {
		if (store_user_set_quota(cli.store, pos[0], quota, &error) < 0) {
			cli_error("user quota %s: %s", pos[0], error);
			rc = 1;
		} else
			printf("user %s quota %s\n", pos[0], quota ? pos[1] : "unlimited");
	} else if (strcmp(verb, "remove") == 0) {
		if (store_user_remove(cli.store, pos[0], &error) < 0) {
			cli_error("user remove %s: %s", pos[0], error);
			rc = 1;
		} else
			printf("user %s removed\n", pos[0]);
	} else {
		struct store_user *users;
		size_t n;
		if (store_user_list(cli.store, pos[0], &users, &n, &error) < 0) {
			cli_error("user list: %s", error);
			rc = 1;
		} else {
			for (size_t i = 0; i < n; i++) {
				printf("%s", users[i].address);
				if (users[i].quota_bytes)
					printf("  used %llu of %llu bytes", (unsigned long long)users[i].used_bytes,
					       (unsigned long long)users[i].quota_bytes);
				else
					printf("  used %llu bytes", (unsigned long long)users[i].used_bytes);
				putchar('\n');
			}
			store_user_list_free(&users, n);
		}
	}
	cli_close(&cli);
	return rc;
}
