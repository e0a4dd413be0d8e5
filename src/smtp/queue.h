/* queue: the rules of the outbound queue, as pure functions (sched.c does
 * the work): when to try again, when to give up, how a recipient's last
 * error is written down so that a bounce can be made from it, and what a
 * message needs from the next server (8BITMIME, SMTPUTF8).
 *
 * A recipient's last_error in the store is "<enhanced status> <text>", e.g.
 * "5.1.1 mx.b.test[127.0.0.3] said: 550 5.1.1 <bob@b.test>: no such user
 * (in reply to RCPT TO)": readable in `posthorn queue show`, and enough to
 * rebuild the DSN fields (Status, Remote-MTA, Diagnostic-Code) later, even
 * after a restart. */
#ifndef POSTHORN_SMTP_QUEUE_H
#define POSTHORN_SMTP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Writes "<enh> <text>" into out (cut to size). */
void queue_error_make(char *out, size_t size, const char *enh, const char *text);
/* Splits a stored last_error: the enhanced status (default "4.0.0" when
 * missing, or "5.0.0" when permanent is set) and the text after it. */
void queue_error_split(const char *err, bool permanent, char enh[16], const char **text_r);
/* From a text "HOST[IP] said: CODE ... (in reply to X)" takes the remote
 * host name and the server's reply "CODE ...". Returns false when the
 * text is not a server's reply (a connection or DNS problem). */
bool queue_error_smtp(const char *text, char *mta, size_t mta_size, char *diag, size_t diag_size);

/* The time of the next attempt after `attempts` attempts (>= 1) made at
 * `now`: now + retry[min(attempts, n) - 1], but never past the expiry
 * (created + lifetime), so that the last attempt happens then. */
time_t queue_next_attempt(const uint64_t *retry, size_t n, int attempts, time_t now, time_t created,
			  uint64_t lifetime);
/* true when the message has been queued for lifetime seconds or more. */
bool queue_expired(time_t now, time_t created, uint64_t lifetime);

/* The domain of an address (after the last '@'), lower-cased (ASCII), or
 * -1 when there is none or it does not fit. */
int queue_domain(const char *address, char *out, size_t size);

/* What a message needs from the receiving server: 8-bit bytes in the body
 * (BODY=8BITMIME, or conversion), 8-bit bytes in the header (RFC 6532:
 * SMTPUTF8). */
void queue_msg_scan(const char *data, size_t len, bool *body_8bit_r, bool *header_8bit_r);
/* true when s has a byte >= 0x80. */
bool queue_str_8bit(const char *s);

#endif
