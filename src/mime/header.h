/* header: RFC 5322 header blocks as views into the message.
 *
 * An iterator walks the fields of a header block (CRLF or bare LF line
 * ends, folded lines kept together), never reading past the block and never
 * copying; unfolding and comparison are separate helpers. Lines without a
 * colon are skipped, as are continuation lines at the very start. */
#ifndef POSTHORN_MIME_HEADER_H
#define POSTHORN_MIME_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct mime_header_field {
	const char *name; /* the field name, trailing blanks removed */
	size_t name_len;
	const char *value; /* after ":" and leading blanks; folds (line ends)
			      kept; without the final line end */
	size_t value_len;
	size_t offset; /* of the field's first byte in the block */
	size_t size;   /* the whole field including its final line end */
};

struct mime_header_iter {
	const char *p;
	size_t len, pos;
	bool all_lines; /* also yield lines that are not fields (no colon, or a
			   continuation at the start), with name_len 0 and
			   value the whole line: HEADER.FIELDS.NOT keeps them */
};

/* (hdr, len) is a header block; a blank line in it ends the iteration.
 * all_lines starts false. */
void mime_header_iter_init(struct mime_header_iter *it, const char *hdr, size_t len);
/* Returns 1 and fills *f with the next field, or 0 at the end. */
int mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *f);

/* Case-insensitive name comparison with a C string. */
bool mime_header_name_is(const struct mime_header_field *f, const char *name);

/* Appends the value unfolded: every CR and LF removed (RFC 5322 2.2.3),
 * NUL bytes replaced by U+FFFD (as Dovecot does). Returns 0, or -1 when out is full. */
int mime_header_unfold(const char *v, size_t n, struct buf *out);

/* Returns a new NUL-terminated unfolded copy of the value with trailing
 * blanks removed. */
char *mime_header_value_dup(const struct mime_header_field *f);

/* Length of the header block at the start of (data, len): up to and
 * including the blank line that ends it, or len when there is none.
 * *blank_r (if not NULL) gets the size of that blank line (0, 1 or 2). */
size_t mime_header_block_size(const char *data, size_t len, size_t *blank_r);

#endif
