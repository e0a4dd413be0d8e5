/* mime: RFC 5322 messages and their MIME tree, as clients need them.
 *
 * mime_parse() builds a tree of parts over the caller's bytes (offsets, no
 * copies of bodies), with bounded work and memory on any input: nesting,
 * part count and header size are capped, and a broken message still parses
 * (missing boundaries end at the end of the enclosing part, as Dovecot and
 * Thunderbird do). From the tree come the IMAP ENVELOPE and BODYSTRUCTURE
 * (cached by the store at delivery), a decoded summary for lists and SORT,
 * and the text for the full-text index.
 *
 * Line ends: CRLF and bare LF are both accepted. Offsets are into the
 * caller's buffer, which must outlive the tree. A boundary line ends every
 * open part up to the multipart it belongs to (the longest matching open
 * boundary wins, even inside a part's header); the line end before it
 * belongs to the boundary. Outside a multipart, Content-* fields count only
 * when the header has MIME-Version or Content-Type (RFC 2045 4). Results
 * were checked byte for byte against Dovecot 2.3 (tests/unit/mime/README).
 *
 * Strings in the tree are unfolded (CR and LF removed), NUL bytes read as
 * U+FFFD. A tree is read-only once built: any number of threads may read
 * it at once. */
#ifndef POSTHORN_MIME_MIME_H
#define POSTHORN_MIME_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

#define MIME_MAX_DEPTH 50 /* nesting of multiparts and message/rfc822 */
#define MIME_MAX_PARTS 10000
#define MIME_MAX_HEADER (1024 * 1024) /* bytes of one header block that are parsed */

struct mime_param {
	char *name;	  /* lower-cased */
	char *value;	  /* RFC 2231 continuations joined; raw (charset'lang' kept) */
	char *value_utf8; /* RFC 2231 / RFC 2047 decoded to UTF-8 */
	char *raw_name;	  /* as written; "name*" when merged from extended
			     RFC 2231 pieces (what BODYSTRUCTURE shows) */
};

/* mime_part.flags */
#define MIME_PART_MULTIPART (1u << 0) /* multipart/x: children are its parts */
#define MIME_PART_MESSAGE (1u << 1)   /* message/rfc822 or message/global, parsed */
#define MIME_PART_TEXT (1u << 2)      /* text/x (or defaulted to text/plain) */
#define MIME_PART_TRUNCATED                                                                                  \
	(1u << 3) /* a multipart or message that was not                                                     \
		     parsed because a cap was reached; shown                                                 \
		     as application/octet-stream */

struct mime_part {
	/* Offsets into the message buffer. */
	size_t header_offset; /* start of this part's header */
	size_t header_size;   /* header including the blank line that ends it
				 (there is none when a boundary line or the
				 end of the data ends the header) */
	size_t body_offset;
	size_t body_size;
	uint32_t header_lines;
	uint32_t body_lines;
	/* Content-Type, lower-cased; defaults per RFC 2045 / 2046 (text/plain,
	 * or message/rfc822 inside multipart/digest). */
	char *type;
	char *subtype;
	struct mime_param *params;
	size_t param_count;
	char *id;	   /* Content-ID, raw, or NULL */
	char *description; /* Content-Description, raw, or NULL */
	char *encoding;	   /* Content-Transfer-Encoding, lower-cased, or NULL (7bit) */
	char *md5;
	char *disposition; /* lower-cased, or NULL */
	struct mime_param *disposition_params;
	size_t disposition_param_count;
	char *language; /* Content-Language, raw, or NULL */
	char *location; /* Content-Location, raw, or NULL */
	struct mime_part *parent;
	struct mime_part *children; /* multipart: the parts; message/rfc822: the one encapsulated message */
	struct mime_part *next;	    /* sibling */

	/* As written in the message, for BODYSTRUCTURE (Dovecot shows them so);
	 * NULL when absent or defaulted. */
	char *type_raw;
	char *subtype_raw;
	char *encoding_raw;
	char *disposition_raw;
	char **languages; /* Content-Language tags, or NULL */
	size_t language_count;
	/* Sizes with every bare LF counted as CRLF: what IMAP clients see
	 * (BODYSTRUCTURE sizes, RFC822.SIZE of the root, partial fetches). */
	size_t header_vsize;
	size_t body_vsize;
	uint32_t flags; /* MIME_PART_* */
	uint32_t child_count;
};

struct mime_message {
	const char *data;
	size_t len;
	struct mime_part *root;
};

struct mime_message *mime_parse(const char *data, size_t len);
void mime_free(struct mime_message **msg);

/* The value of the first header field `name` (case-insensitive) in the
 * header block of part, unfolded (CRLF + WSP -> WSP), raw (not decoded).
 * Returns a new string or NULL. */
char *mime_header_get(const struct mime_message *msg, const struct mime_part *part, const char *name);

/* The part of IMAP section number (section, len), "1", "2.3" (digits and
 * dots only, no HEADER/TEXT/MIME suffix), per RFC 3501 6.4.5: part 1 of
 * a single-part message is the root itself, and below a message/rfc822
 * part the numbers go into the encapsulated message's parts ("1.1" of a
 * message/rfc822 part "1" holding a single-part message is that message).
 * NULL when there is no such part. */
const struct mime_part *mime_part_find(const struct mime_message *msg, const char *section, size_t len);
/* The message whose header HEADER / HEADER.FIELDS / TEXT refer to: the root
 * for part NULL, the encapsulated message for a message/rfc822 part, else
 * NULL (HEADER of a non-message part is an error). */
const struct mime_part *mime_part_message(const struct mime_message *msg, const struct mime_part *part);

/* BODY[...HEADER.FIELDS (names)] (not = false) or .NOT (not = true): the
 * fields of the header block at (hdr_offset, hdr_size) whose names are
 * (not) among names (case-insensitive), each as in the message with folds
 * kept, bare LFs turned into CRLF, followed by the blank line CRLF that
 * IMAP requires. Returns 0, or -1 when out is full (out unchanged). */
int mime_header_fields(const struct mime_message *msg, size_t hdr_offset, size_t hdr_size,
		       const char *const *names, size_t count, bool not, struct buf *out);

/* Appends the body of part with its Content-Transfer-Encoding undone
 * (base64 and quoted-printable, leniently; 7bit/8bit/binary as is) for IMAP
 * BINARY and the webmail. Returns 0, or -1 with *error_r: an unknown
 * encoding (IMAP's UNKNOWN-CTE) or out full; out is then unchanged. */
int mime_part_decode(const struct mime_message *msg, const struct mime_part *part, struct buf *out,
		     const char **error_r);

/* IMAP ENVELOPE (RFC 3501 7.4.2 / RFC 9051) of the message (part NULL or
 * the root: the root's own header, even when the root is itself of type
 * message/rfc822), or of the encapsulated message under a message/rfc822
 * part.
 * Appends the whole parenthesized value, "(date subject ... message-id)",
 * ready to follow "ENVELOPE ". Strings that cannot be quoted are literals
 * ({n} CRLF bytes). Returns 0, or -1 when out is full (out unchanged). */
int mime_envelope(const struct mime_message *msg, const struct mime_part *part, struct buf *out);
/* IMAP BODY (extended = false) or BODYSTRUCTURE (extended = true) of the
 * message (part NULL) or of a part, parenthesized, ready to follow
 * "BODYSTRUCTURE ". Returns 0, or -1 when out is full (out unchanged). */
int mime_bodystructure(const struct mime_message *msg, const struct mime_part *part, bool extended,
		       struct buf *out);

/* The decoded summary the store caches for lists, SORT and the webmail.
 * Every string is UTF-8 (RFC 2047 decoded, charsets converted), never NULL. */
struct mime_summary {
	char *subject;
	char *from;	 /* display form of the first From: "Name <addr>" or "addr" */
	char *from_addr; /* addr-spec of the first From, or "" */
	char *to;	 /* display form of all To addresses, comma-separated */
	char *to_addr;	 /* addr-spec of the first To, or "" */
	char *cc;
	char *message_id; /* raw msg-id with <>, or "" */
	char *in_reply_to;
	char *references;
	time_t date;   /* Date: in UTC, or 0 when absent or invalid */
	char *snippet; /* first ~200 characters of the first text part, whitespace collapsed */
	bool has_attachments;
};
void mime_summary_build(const struct mime_message *msg, struct mime_summary *s);
void mime_summary_clear(struct mime_summary *s);

/* Text for the full-text index, decoded to UTF-8: header_text gets the
 * Subject, From, To, Cc (names and addresses); body_text the decoded text of
 * every text/plain and text/html part (tags removed), attachment names.
 * Each output is capped at its buffer's max. */
int mime_extract_text(const struct mime_message *msg, struct buf *header_text, struct buf *body_text);

/* Appends the text of an HTML document (UTF-8 in, UTF-8 out): tags removed,
 * <script> and <style> skipped, entities decoded, block elements turned
 * into line breaks, whitespace runs collapsed. Returns 0, or -1 when out is
 * full (out then holds a prefix cut at a character boundary). */
int mime_html_to_text(const char *s, size_t n, struct buf *out);

/* Appends the body of a text part decoded (transfer encoding undone) and
 * converted from its charset to UTF-8; text/html is turned into text.
 * Reads at most max_input bytes of the body (0 = all). Returns 0, or -1
 * when out is full (out holds a prefix). */
int mime_part_text(const struct mime_message *msg, const struct mime_part *part, size_t max_input,
		   struct buf *out);

#endif
