/* pop3_server: the POP3 engine for the pop3 (110, STLS) and pop3s (995,
 * implicit TLS) listeners: RFC 1939 with RFC 2449 CAPA and response codes,
 * RFC 2595 STLS, RFC 5034 SASL (PLAIN, LOGIN, SCRAM-SHA-256).
 *
 * The maildrop is the user's INBOX. Its message list (UIDs, sizes) is read
 * once at login and fixed for the session; UIDL is "UIDVALIDITY.UID",
 * unique and stable for as long as the message exists. DELE only marks;
 * QUIT applies the marks in one store transaction (an expunge that IMAP
 * and webmail sessions see at once) and sets \Seen on retrieved messages;
 * any other end of the session (drop, timeout, shutdown, crash) changes
 * nothing. One POP3 session per mailbox at a time, within the daemon: a
 * second login gets -ERR [IN-USE]. Passwords only over TLS, unless
 * allow_plaintext_loopback and the client is on loopback. */
#ifndef POSTHORN_POP3_POP3_SERVER_H
#define POSTHORN_POP3_POP3_SERVER_H

#include "core/conn.h"

extern const struct conn_handler pop3_handler;

#endif
