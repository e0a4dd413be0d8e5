/* cli: shared pieces of the subcommands (see cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "core/privsep.h"
#include "util/log.h"
#include "util/mem.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("posthorn: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int cli_common_opts(int *argc, char **argv, struct cli *cli)
{
	int out = 1;
	int help = 0;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= *argc) {
				cli_error("%s needs a file name", a);
				return -1;
			}
			cli->config_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			cli->config_path = a + 9;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	*argc = out;
	return help;
}

int cli_open(struct cli *cli, bool with_store)
{
	char err[1024];
	cli->config_path = config_locate(cli->config_path);
	cli->cfg = config_load(cli->config_path, err, sizeof(err));
	if (cli->cfg == NULL) {
		cli_error("%s", err);
		return -1;
	}
	log_open("-", LOG_LEVEL_WARN);
	if (!with_store)
		return 0;
	if (geteuid() == 0) {
		/* Files the store creates must belong to the daemon's user. */
		uid_t uid;
		gid_t gid;
		if (privsep_lookup(cli->cfg->run_user, &uid, &gid, err, sizeof(err)) == 0) {
			if (privsep_own_dir(cli->cfg->data_dir, uid, gid, err, sizeof(err)) < 0) {
				cli_error("%s", err);
				return -1;
			}
			if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
				cli_error("cannot switch to run_user %s: %s", cli->cfg->run_user, strerror(errno));
				return -1;
			}
		}
	}
	if (mkdir(cli->cfg->data_dir, 0700) < 0 && errno != EEXIST) {
		cli_error("cannot create the data folder %s: %s", cli->cfg->data_dir, strerror(errno));
		return -1;
	}
	const char *error;
	struct store_options so = {.backend = "sqlite", .data_dir = cli->cfg->data_dir};
	cli->store = store_open(&so, &error);
	if (cli->store == NULL) {
		cli_error("cannot open the data folder %s: %s", cli->cfg->data_dir, error);
		return -1;
	}
	return 0;
}

void cli_close(struct cli *cli)
{
	if (cli->store != NULL)
		store_close(&cli->store);
	config_free(&cli->cfg);
}

static char *read_line(FILE *in)
{
	char line[1024];
	if (fgets(line, sizeof(line), in) == NULL)
		return NULL;
	size_t n = strcspn(line, "\r\n");
	line[n] = '\0';
	char *pw = xstrdup(line);
	explicit_bzero(line, sizeof(line));
	return pw;
}

static char *prompt_noecho(const char *prompt)
{
	struct termios old, noecho;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(0, &old) < 0)
		return read_line(stdin);
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(0, TCSAFLUSH, &noecho);
	char *pw = read_line(stdin);
	tcsetattr(0, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return pw;
}

char *cli_read_password(bool confirm)
{
	if (!isatty(0)) {
		char *pw = read_line(stdin);
		if (pw == NULL || pw[0] == '\0') {
			cli_error("no password on standard input");
			cli_password_free(&pw);
			return NULL;
		}
		return pw;
	}
	char *pw = prompt_noecho("Password: ");
	if (pw == NULL || pw[0] == '\0') {
		cli_error("empty password");
		cli_password_free(&pw);
		return NULL;
	}
	if (confirm) {
		char *again = prompt_noecho("Again: ");
		bool same = again != NULL && strcmp(pw, again) == 0;
		cli_password_free(&again);
		if (!same) {
			cli_error("the passwords differ");
			cli_password_free(&pw);
			return NULL;
		}
	}
	return pw;
}

char *cli_random_password(void)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	uint8_t rnd[20];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		fatal("getrandom");
	char *pw = xmalloc(sizeof(rnd) + 1);
	for (size_t i = 0; i < sizeof(rnd); i++)
		pw[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	explicit_bzero(rnd, sizeof(rnd));
	return pw;
}

void cli_password_free(char **pw)
{
	if (*pw != NULL) {
		explicit_bzero(*pw, strlen(*pw));
		free(*pw);
		*pw = NULL;
	}
}
