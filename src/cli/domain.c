/* posthorn domain add|list|remove: the domains we receive mail for. */
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: posthorn domain add DOMAIN      receive mail for DOMAIN\n"
	"       posthorn domain list            the local domains\n"
	"       posthorn domain remove DOMAIN   stop (refused while it has users or aliases)\n"
	"options: -c FILE  the config file (default ./posthorn.conf, then /etc/posthorn/posthorn.conf)\n";

int cli_main_domain(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	if (help != 0 || argc < 2) {
		fputs(usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	const char *verb = argv[1];
	bool known = strcmp(verb, "add") == 0 || strcmp(verb, "list") == 0 || strcmp(verb, "remove") == 0;
	if (!known || (strcmp(verb, "list") == 0 ? argc != 2 : argc != 3)) {
		if (!known)
			cli_error("unknown command \"domain %s\"", verb);
		fputs(usage, stderr);
		return 2;
	}
	if (cli_open(&cli, true) < 0)
		return 1;
	const char *error;
	int rc = 0;
	if (strcmp(verb, "add") == 0) {
		if (store_domain_add(cli.store, argv[2], &error) < 0) {
			cli_error("domain add %s: %s", argv[2], error);
			rc = 1;
		} else
			printf("domain %s added\n", argv[2]);
	} else if (strcmp(verb, "remove") == 0) {
		if (store_domain_remove(cli.store, argv[2], &error) < 0) {
			cli_error("domain remove %s: %s", argv[2], error);
			rc = 1;
		} else
			printf("domain %s removed\n", argv[2]);
	} else {
		char **domains;
		if (store_domain_list(cli.store, &domains, &error) < 0) {
			cli_error("domain list: %s", error);
			rc = 1;
		} else {
			for (char **d = domains; *d; d++)
				printf("%s\n", *d);
			store_strv_free(&domains);
		}
	}
	cli_close(&cli);
	return rc;
}
