/* posthorn queue list|show|flush|remove: the outbound queue, while the
 * daemon runs (the store takes care of concurrent access). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "util/strnum.h"

static const char usage[] =
	"usage: posthorn queue list             messages waiting for delivery\n"
	"       posthorn queue show ID          one message: envelope, state of each recipient, and its text\n"
	"       posthorn queue flush [ID]       retry now (one message, or all)\n"
	"       posthorn queue remove ID        delete a message from the queue without a bounce\n"
	"options: -c FILE  the config file\n";

static const char *state_name(enum store_queue_state s)
{
	switch (s) {
	case STORE_QUEUE_PENDING:
		return "pending";
	case STORE_QUEUE_DELIVERED:
		return "delivered";
	case STORE_QUEUE_FAILED:
		return "failed";
	}
	return "?";
}

static void print_time(const char *label, time_t t)
{
	char when[64];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("%s%s", label, when);
}

static void print_entry(const struct store_queue_entry *e, bool details)
{
	printf("%lld  %llu bytes  from <%s>  ", (long long)e->id, (unsigned long long)e->size, e->mail_from);
	print_time("queued ", e->created);
	putchar('\n');
	for (size_t i = 0; i < e->rcpt_count; i++) {
		const struct store_queue_rcpt *r = &e->rcpts[i];
		if (!details && r->state != STORE_QUEUE_PENDING)
			continue;
		printf("    to <%s>  %s, %d attempt%s", r->address, state_name(r->state), r->attempts,
		       r->attempts == 1 ? "" : "s");
		if (r->state == STORE_QUEUE_PENDING)
			print_time(", next ", r->next_attempt);
		if (r->last_error)
			printf("\n      last: %s", r->last_error);
		putchar('\n');
	}
}

static int parse_id(const char *s, int64_t *id)
{
	uint64_t v;
	if (str_to_u64(s, &v) < 0 || v == 0 || v > INT64_MAX) {
		cli_error("bad queue id \"%s\": expected the number shown by `posthorn queue list`", s);
		return -1;
	}
	*id = (int64_t)v;
	return 0;
}

int cli_main_queue(int argc, char **argv)
{
	struct cli cli = {0};
	int help = cli_common_opts(&argc, argv, &cli);
	if (help != 0 || argc < 2) {
		fputs(usage, help == 1 ? stdout : stderr);
		return help == 1 ? 0 : 2;
	}
	const char *verb = argv[1];
	bool ok = (strcmp(verb, "list") == 0 && argc == 2) || (strcmp(verb, "show") == 0 && argc == 3) ||
		  (strcmp(verb, "flush") == 0 && argc <= 3) || (strcmp(verb, "remove") == 0 && argc == 3);
	if (!ok) {
		fputs(usage, stderr);
		return 2;
	}
	int64_t id = 0;
	if (argc == 3 && parse_id(argv[2], &id) < 0)
		return 2;
	if (cli_open(&cli, true) < 0)
		return 1;
	const char *error;
	int rc = 0;
	if (strcmp(verb, "list") == 0) {
		struct store_queue_entry *entries;
		size_t n;
		if (store_queue_list(cli.store, &entries, &n, &error) < 0) {
			cli_error("queue list: %s", error);
			rc = 1;
		} else {
			for (size_t i = 0; i < n; i++)
				print_entry(&entries[i], false);
			if (n == 0)
				printf("the queue is empty\n");
			store_queue_list_free(&entries, n);
		}
	} else if (strcmp(verb, "show") == 0) {
		struct store_queue_entry e = {0};
		int found = store_queue_get(cli.store, id, &e, &error);
		if (found <= 0) {
			cli_error("queue show %lld: %s", (long long)id, found == 0 ? "no such message" : error);
			rc = 1;
		} else {
			print_entry(&e, true);
			char *data;
			size_t len;
			if (store_queue_read(cli.store, id, &data, &len, &error) == 0) {
				putchar('\n');
				fwrite(data, 1, len, stdout);
				free(data);
			}
			store_queue_entry_clear(&e);
		}
	} else if (strcmp(verb, "flush") == 0) {
		if (store_queue_flush(cli.store, id, &error) < 0) {
			cli_error("queue flush: %s", error);
			rc = 1;
		} else
			printf("queued mail is due now; the server retries it within seconds\n");
	} else {
		if (store_queue_remove(cli.store, id, &error) < 0) {
			cli_error("queue remove %lld: %s", (long long)id, error);
			rc = 1;
		} else
			printf("removed %lld\n", (long long)id);
	}
	cli_close(&cli);
	return rc;
}
