/* posthorn export: a user's mail as mbox (mboxrd), for backups, migration
 * and scripts. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: posthorn export ADDRESS [--mailbox NAME]\n"
	"Writes the messages of one mailbox (default INBOX) of ADDRESS to standard\n"
	"output in mboxrd format (\"From \" lines quoted with >), oldest first.\n"
	"options: -c FILE  the config file\n";

/* One message in mboxrd: a From_ line, the message with LF line ends and
 * ">"-quoted From_ lines, and a blank line. */
static void write_mboxrd(FILE *out, const char *sender, time_t when, const char *data, size_t len)
{
	char date[64];
	struct tm tm;
	gmtime_r(&when, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	fprintf(out, "From %s %s\n", sender, date);
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && data[end] != '\n')
			end++;
		size_t n = end - i;
		if (n > 0 && data[i + n - 1] == '\r')
			n--;
		size_t q = i;
		while (q < i + n && data[q] == '>')
			q++;
		if (i + n - q >= 5 && memcmp(data + q, "From ", 5) == 0)
			fputc('>', out);
		fwrite(data + i, 1, n, out);
		fputc('\n', out);
		i = end + 1;
	}
	fputc('\n', out);
}

int cli_main_export(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	const char *address = NULL, *mailbox = "INBOX";
	for (int i = 1; i < argc && help == 0; i++) {
		if (strcmp(argv[i], "--mailbox") == 0 && i + 1 < argc)
			mailbox = argv[++i];
		else if (address == NULL && argv[i][0] != '-')
			address = argv[i];
		else
			help = -1;
	}
	if (help != 0 || address == NULL) {
		fputs(usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	if (cli_open(&cli, true) < 0)
		return 1;
	const char *error;
	int rc = 1;
	struct store_user u = {0};
	struct store_mailbox mb = {0};
	int found = store_user_get(cli.store, address, &u, &error);
	if (found <= 0) {
		cli_error("%s", found == 0 ? "no such user" : error);
		goto out;
	}
	found = store_mailbox_get(cli.store, u.id, mailbox, &mb, &error);
	if (found <= 0) {
		cli_error("mailbox %s: %s", mailbox, found == 0 ? "no such mailbox" : error);
		goto out;
	}
	struct store_msg_iter *it = store_msg_iter_new(cli.store, mb.id, 1, UINT32_MAX, STORE_FIELD_BASIC);
	struct store_msg m;
	rc = 0;
	while (store_msg_iter_next(it, &m) == 1) {
		char *data;
		size_t len;
		if (store_msg_read(cli.store, m.id, &data, &len, &error) < 0) {
			cli_error("message %u: %s", m.uid, error);
			rc = 1;
			break;
		}
		write_mboxrd(stdout, "MAILER-DAEMON", m.internaldate, data, len);
		free(data);
	}
	if (store_msg_iter_free(&it, &error) < 0) {
		cli_error("%s", error);
		rc = 1;
	}
out:
	store_mailbox_clear(&mb);
	store_user_clear(&u);
	cli_close(&cli);
	return rc;
}
