/* address: RFC 5322 address lists (From, To, Cc, ...), for the IMAP
 * ENVELOPE, the summary, SMTP and the webmail.
 *
 * The parser is lenient and never fails: display names, quoted strings,
 * comments, groups, obsolete source routes, missing domains and garbage
 * between commas all give a best-effort list, with `invalid` set on the
 * entries that were not well-formed. Strings are copies, raw (RFC 2047
 * encoded-words are NOT decoded; quotes and escapes are removed). */
#ifndef POSTHORN_MIME_ADDRESS_H
#define POSTHORN_MIME_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define MIME_ADDRESS_MAX 10000 /* entries parsed from one list */

enum mime_address_kind {
	MIME_ADDRESS_MAILBOX,
	MIME_ADDRESS_GROUP_START, /* mailbox = the group's display name */
	MIME_ADDRESS_GROUP_END
};

struct mime_address {
	enum mime_address_kind kind;
	char *name;    /* display name (words joined by one space), or NULL */
	char *route;   /* obsolete route "@a,@b", or NULL */
	char *mailbox; /* local part, or NULL when missing */
	char *domain;  /* domain, or NULL when missing */
	bool invalid;
};

/* Parses the address list in (s, n) (a raw header value, folded or not).
 * Returns the number of entries (0 for an empty list) and sets *list_r
 * (NULL when 0); free with mime_address_list_free(). */
size_t mime_address_parse(const char *s, size_t n, struct mime_address **list_r);
void mime_address_list_free(struct mime_address **list, size_t count);

/* Appends the addr-spec of a mailbox entry: local@domain, the local part
 * quoted when it is not a dot-atom; "local" alone when the domain is
 * missing; nothing when the mailbox is missing. Returns 0 or -1 (full). */
int mime_address_append_spec(const struct mime_address *a, struct buf *out);

/* Appends a mailbox for a header we write (webmail, DSN): "spec" alone
 * when name_utf8 is NULL or empty, else "Name <spec>" with the name as an
 * atom phrase, a quoted string, or RFC 2047 encoded-words when it is not
 * ASCII. Returns 0, or -1 when out is full (out unchanged). */
int mime_address_append_display(const char *name_utf8, const char *spec, struct buf *out);

/* The addr-specs of all mailboxes in (s, n) with a local part and a domain,
 * in order, as a NULL-terminated array of new strings (never NULL itself);
 * *count_r gets the count if not NULL. Free with mime_address_specs_free. */
char **mime_address_specs(const char *s, size_t n, size_t *count_r);
void mime_address_specs_free(char ***specs);

#endif
