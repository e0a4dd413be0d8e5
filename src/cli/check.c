/* posthorn check and posthorn serve: validating and running a config. */
#include <string.h>

#include "cli/cli.h"
#include "core/daemon.h"

static const char check_usage[] =
	"usage: posthorn check [-c FILE] [--reference]\n"
	"Validates the config file and says exactly what is wrong (file, line, what to do).\n"
	"  --reference   print the reference of every setting (Markdown)\n";

int cli_main_check(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	if (help != 0) {
		fputs(check_usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	if (argc == 2 && strcmp(argv[1], "--reference") == 0) {
		config_write_reference(stdout);
		return 0;
	}
	if (argc != 1) {
		fputs(check_usage, stderr);
		return 2;
	}
	if (cli_open(&cli, false) < 0)
		return 1;
	char err[1024];
	int rc = 0;
	if (config_check_files(cli.cfg, err, sizeof(err)) < 0 || daemon_check_engines(cli.cfg, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		rc = 1;
	} else {
		printf("%s: ok (%zu listeners, data in %s)\n", cli.config_path, cli.cfg->listener_count,
		       cli.cfg->data_dir);
	}
	cli_close(&cli);
	return rc;
}

static const char serve_usage[] =
	"usage: posthorn serve [-c FILE]\n"
	"Runs every configured service in the foreground until SIGTERM or SIGINT.\n"
	"Started as root it binds its ports, reads its certificate, then runs as run_user.\n"
	"SIGHUP reloads the TLS certificate and key and reopens the log file.\n";

int cli_main_serve(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	if (help != 0 || argc != 1) {
		fputs(serve_usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	return daemon_serve(config_locate(cli.config_path));
}
