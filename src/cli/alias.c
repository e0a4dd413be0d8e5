/* posthorn alias add|list|remove: addresses that deliver to others. */
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: posthorn alias add SOURCE TARGET [TARGET...]   SOURCE delivers to each TARGET\n"
	"       posthorn alias list [DOMAIN]\n"
	"       posthorn alias remove SOURCE [TARGET]          one target, or all of them\n"
	"SOURCE is local@domain, or @domain for a catch-all of a local domain.\n"
	"TARGET is a local user, another alias, or a remote address (mail is forwarded).\n"
	"options: -c FILE  the config file\n";

int cli_main_alias(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	if (help != 0 || argc < 2) {
		fputs(usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	const char *verb = argv[1];
	bool ok = (strcmp(verb, "add") == 0 && argc >= 4) || (strcmp(verb, "list") == 0 && argc <= 3) ||
		  (strcmp(verb, "remove") == 0 && (argc == 3 || argc == 4));
	if (!ok) {
		fputs(usage, stderr);
		return 2;
	}
	if (cli_open(&cli, true) < 0)
		return 1;
	const char *error;
	int rc = 0;
	if (strcmp(verb, "add") == 0) {
		for (int i = 3; i < argc; i++) {
			if (store_alias_add(cli.store, argv[2], argv[i], &error) < 0) {
				cli_error("alias add %s %s: %s", argv[2], argv[i], error);
				rc = 1;
			} else
				printf("alias %s -> %s added\n", argv[2], argv[i]);
		}
	} else if (strcmp(verb, "remove") == 0) {
		if (store_alias_remove(cli.store, argv[2], argc == 4 ? argv[3] : NULL, &error) < 0) {
			cli_error("alias remove %s: %s", argv[2], error);
			rc = 1;
		} else
			printf("alias %s%s%s removed\n", argv[2], argc == 4 ? " -> " : "", argc == 4 ? argv[3] : "");
	} else {
		struct store_alias *aliases;
		size_t n;
		if (store_alias_list(cli.store, argc == 3 ? argv[2] : NULL, &aliases, &n, &error) < 0) {
			cli_error("alias list: %s", error);
			rc = 1;
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%s -> %s\n", aliases[i].source, aliases[i].target);
			store_alias_list_free(&aliases, n);
		}
	}
	cli_close(&cli);
	return rc;
}
