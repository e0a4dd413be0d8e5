/* cmd_quota: QUOTA (RFC 9208) over the store's per-user storage quota.
 * One quota root, "", covers every mailbox of the user; a user without a
 * quota has no quota root. SETQUOTA is for the administrator (the CLI). */
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "util/mem.h"

static int user_quota(struct imap_session *s, uint64_t *used_r, uint64_t *limit_r)
{
	struct store_user u = {0};
	const char *error;
	if (store_user_get_by_id(s->srv->store, s->user_id, &u, &error) != 1)
		return -1;
	*used_r = u.used_bytes;
	*limit_r = u.quota_bytes;
	store_user_clear(&u);
	return 0;
}

static void write_quota(struct imap_session *s, uint64_t used, uint64_t limit)
{
	imap_printf(s, "* QUOTA \"\" (STORAGE %llu %llu)\r\n", (unsigned long long)((used + 1023) / 1024),
		    (unsigned long long)(limit / 1024));
}

void cmd_getquotaroot(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	if (cmd->argc != 1) {
		imap_bad(s, cmd, "GETQUOTAROOT needs a mailbox name");
		return;
	}
	char *name = imap_name_in(s, &cmd->args[0], &error);
	if (name == NULL) {
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	struct store_mailbox mb = {0};
	int r = store_mailbox_get(s->srv->store, s->user_id, name, &mb, &error);
	store_mailbox_clear(&mb);
	uint64_t used, limit;
	if (r <= 0 || user_quota(s, &used, &limit) < 0) {
		free(name);
		imap_done(s, cmd, "NO",
			  r == 0 ? "[NONEXISTENT] Mailbox doesn't exist." : "[SERVERBUG] Internal error.");
		return;
	}
	struct buf b;
	buf_init(&b, 8192);
	buf_puts(&b, "* QUOTAROOT ");
	imap_name_out(s, name, &b);
	if (limit > 0)
		buf_puts(&b, " \"\"");
	buf_puts(&b, "\r\n");
	imap_write_buf(s, &b);
	buf_free(&b);
	free(name);
	if (limit > 0)
		write_quota(s, used, limit);
	imap_done(s, cmd, "OK", "Getquotaroot completed.");
}

void cmd_getquota(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *root = cmd->argc == 1 ? imap_astring(&cmd->args[0]) : NULL;
	if (root == NULL) {
		imap_bad(s, cmd, "GETQUOTA needs a quota root");
		return;
	}
	uint64_t used, limit;
	if (user_quota(s, &used, &limit) < 0) {
		imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		return;
	}
	if (root[0] != '\0' || limit == 0) {
		imap_done(s, cmd, "NO", "[NONEXISTENT] Quota root doesn't exist.");
		return;
	}
	write_quota(s, used, limit);
	imap_done(s, cmd, "OK", "Getquota completed.");
}

void cmd_setquota(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc != 2 || imap_astring(&cmd->args[0]) == NULL || cmd->args[1].type != IMAP_ARG_LIST) {
		imap_bad(s, cmd, "Invalid SETQUOTA arguments");
		return;
	}
	imap_done(s, cmd, "NO", "[NOPERM] Quotas are set by the administrator.");
}
