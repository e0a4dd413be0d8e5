/* cmd_idle: IDLE (RFC 2177). The session stays in the command until the
 * client's DONE; meanwhile every change notification for the selected
 * mailbox is turned into untagged responses at once (store_watch fires on
 * the loop right after the change is committed, so new mail is seen within
 * the same loop turn as its delivery). */
#include <strings.h>

#include "imap/imap_private.h"

void cmd_idle(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap_bad(s, cmd, "IDLE takes no arguments");
		return;
	}
	imap_printf(s, "+ idling\r\n");
	imap_wait(s, IMAP_WAIT_IDLE);
	if (s->sel != NULL)
		imap_sync(s, IMAP_SYNC_EXPUNGE | IMAP_SYNC_FORCE);
}

void imap_idle_notify(struct imap_session *s)
{
	imap_sync(s, IMAP_SYNC_EXPUNGE);
}

void imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	struct imap_cmd *cmd = &s->cur;
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		imap_done(s, cmd, "OK", "Idle completed.");
	else
		imap_bad(s, cmd, "Expected DONE.");
}
