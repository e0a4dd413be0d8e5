/* auth_name: what we accept as a user name (authentication or authorization
 * identity) coming out of a SASL exchange, shared by sasl.c and scram.c.
 *
 * A name is 1..AUTH_NAME_MAX bytes of valid UTF-8 (shortest form, no
 * surrogates) without control characters (C0, DEL, C1). Whether it names an
 * account is the store's business, not ours. */
#ifndef POSTHORN_AUTH_AUTH_NAME_H
#define POSTHORN_AUTH_AUTH_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* An address is at most 64 + 1 + 255 bytes. */
#define AUTH_NAME_MAX 320

/* True when (s, len) is an acceptable name (see above). */
bool auth_name_valid(const char *s, size_t len);

/* True when (s, len) is valid UTF-8 (any code point but surrogates,
 * shortest encoding only). Control characters are allowed here. */
bool auth_utf8_valid(const char *s, size_t len);

#endif
