/* params: Content-Type and Content-Disposition values: "type/subtype" or
 * a disposition token, then ";" attribute "=" value parameters, with RFC
 * 2231 continuations (name*0*=...; name*1=...), charsets and languages
 * (charset'lang'percent-encoded), quoted strings and comments.
 *
 * Continuations are merged as Dovecot does, so that BODYSTRUCTURE shows
 * the same parameters: when any piece is extended, the merged parameter is
 * named "name*" and its value keeps the charset'lang' prefix and the
 * percent-encoding; value_utf8 holds the decoded text. */
#ifndef POSTHORN_MIME_PARAMS_H
#define POSTHORN_MIME_PARAMS_H

#include <stddef.h>

struct mime_param;

#define MIME_MAX_PARAMS 256 /* parameters kept from one header */

/* Parses "type/subtype *(; param)". *type_r and *subtype_r get new strings
 * as written (NULL when the value is not type/subtype; then no parameters
 * are parsed). The parameters are appended to *params_r / *count_r (start
 * with NULL / 0). Returns 0, or -1 when the type was invalid. */
int mime_params_parse_content_type(const char *s, size_t n, char **type_r, char **subtype_r,
				   struct mime_param **params_r, size_t *count_r);

/* Parses "token *(; param)" (Content-Disposition). *token_r gets the token
 * as written, or NULL when there is none (then -1). */
int mime_params_parse_disposition(const char *s, size_t n, char **token_r, struct mime_param **params_r,
				  size_t *count_r);

/* Parses only "*(; param)" starting at s (which should start with ';'). */
void mime_params_parse(const char *s, size_t n, struct mime_param **params_r, size_t *count_r);

void mime_params_free(struct mime_param **params, size_t count);

/* The value of parameter `name` (lower case, without "*"), or NULL:
 * raw (as in BODYSTRUCTURE) or decoded to UTF-8. */
const char *mime_param_get(const struct mime_param *params, size_t count, const char *name);
const char *mime_param_get_utf8(const struct mime_param *params, size_t count, const char *name);

#endif
