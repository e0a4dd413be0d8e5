/* posthorn: one binary, subcommands like git. Each group lives in src/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef POSTHORN_VERSION
#define POSTHORN_VERSION "0.1.0"
#endif

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"serve", cli_main_serve, "run every configured service (foreground)"},
	{"init", cli_main_init, "write a config, a data folder and a self-signed certificate"},
	{"check", cli_main_check, "validate a config file"},
	{"domain", cli_main_domain, "add, list or remove local domains"},
	{"user", cli_main_user, "add, list or remove accounts; change passwords and quotas"},
	{"alias", cli_main_alias, "add, list or remove aliases and catch-alls"},
	{"queue", cli_main_queue, "list, show, flush or remove outbound mail"},
	{"dkim", cli_main_dkim, "make DKIM signing keys, list them with their DNS records"},
	{"dns", cli_main_dns, "print the DNS records a domain needs (MX, SPF, DKIM, DMARC, SRV)"},
	{"export", cli_main_export, "write a mailbox as mbox"},
};

static void usage(FILE *out)
{
	fprintf(out, "Posthorn %s, a complete mail server in one binary.\n\n"
		     "usage: posthorn COMMAND [-c FILE] [ARGS]\n\ncommands:\n", POSTHORN_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nEvery command takes -c FILE (default ./posthorn.conf, then /etc/posthorn/posthorn.conf)\n"
		     "and --help.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("posthorn %s\n", POSTHORN_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "posthorn: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
