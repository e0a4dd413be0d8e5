/* imap_server: the IMAP engine for the imap (143, STARTTLS) and imaps (993,
 * implicit TLS) listeners: IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) on
 * the same port, with the extensions modern clients use (see the
 * CAPABILITY list in imap_server.c). */
#ifndef POSTHORN_IMAP_IMAP_SERVER_H
#define POSTHORN_IMAP_IMAP_SERVER_H

#include "core/conn.h"

extern const struct conn_handler imap_handler;

#endif
