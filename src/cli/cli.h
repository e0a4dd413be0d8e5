/* cli: what the subcommands share (config and store opening, password
 * input, messages). Each subcommand group lives in its own file and is
 * dispatched from src/main.c. */
#ifndef POSTHORN_CLI_CLI_H
#define POSTHORN_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "core/config.h"
#include "store/store.h"

struct cli {
	const char *config_path; /* from -c, or located */
	struct config *cfg;
	struct store *store;
};

/* Loads the config (-c or the default places). When run as root, opens
 * the data folder as run_user so files it creates stay the daemon's.
 * Prints the problem and returns -1 on failure. */
int cli_open(struct cli *cli, bool with_store);
void cli_close(struct cli *cli);

/* Reads a password: prompted twice without echo on a terminal, else the
 * first line of standard input. Returns a malloc'd string or NULL. */
char *cli_read_password(bool confirm);
/* A random password of 20 letters and digits (for demo accounts). */
char *cli_random_password(void);
/* Wipes and frees. */
void cli_password_free(char **pw);

/* Error helpers: print "posthorn: ..." to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cli_main_init(int argc, char **argv);
int cli_main_check(int argc, char **argv);
int cli_main_serve(int argc, char **argv);
int cli_main_domain(int argc, char **argv);
int cli_main_user(int argc, char **argv);
int cli_main_alias(int argc, char **argv);
int cli_main_queue(int argc, char **argv);
int cli_main_dkim(int argc, char **argv);
int cli_main_dns(int argc, char **argv);

/* DKIM helpers shared by `dkim` and `dns` (cli/dkim.c): the key folder,
 * and the TXT records of a domain's keys printed in zone-file form
 * (returns the number of keys, or -1 after printing the problem). */
void cli_dkim_dir(const struct config *cfg, char *out, size_t size);
void cli_print_txt(FILE *out, const char *text);
int cli_dkim_records(const struct config *cfg, const char *domain, FILE *out);
int cli_main_export(int argc, char **argv);

/* Parses the common options (-c FILE, --config FILE, -h, --help) out of
 * argv in place; returns 1 if help was asked, 0 otherwise, -1 on error. */
int cli_common_opts(int *argc, char **argv, struct cli *cli);

#endif
