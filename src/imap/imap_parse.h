/* imap_parse: the syntax of IMAP commands (RFC 3501 / RFC 9051 section 9),
 * read incrementally: tag, command name and a tree of arguments (atoms,
 * quoted strings, literals, parenthesized lists).
 *
 * The parser does no I/O and knows no command. The server feeds it bytes
 * as they arrive; each call consumes what it can and says whether a whole
 * command is there, more is needed, a literal was announced, or the line is
 * bad. Pure syntax: what an argument means (a sequence set, a mailbox name,
 * a search key) is for the command handlers.
 *
 * Literals ({n}, {n+} for LITERAL+/LITERAL-, ~{n} for BINARY): when the
 * header "{n}" CRLF has been read, imap_parser_feed() returns
 * IMAP_PARSE_LITERAL and stops. The caller looks at literal_size (and the
 * command name) and either accepts the literal with
 * imap_parser_literal_accept() (and, for a synchronizing literal, sends
 * "+ ..."), or, for a synchronizing literal, replies with an error and
 * calls imap_parser_reset() (the client sends nothing more for that
 * command), or, for a non-synchronizing one (whose bytes are on their way
 * anyway), calls imap_parser_literal_discard(): the bytes are read and
 * thrown away, the rest of the command is parsed, and the caller replies
 * with its error once IMAP_PARSE_DONE comes. Nothing is allocated for a
 * literal before its bytes arrive.
 *
 * Limits: max_line caps the bytes of a command outside literals (past it:
 * IMAP_PARSE_ERROR with too_long set); the argument count and the nesting
 * of lists are capped too (IMAP_PARSE_MAX_ARGS, IMAP_PARSE_MAX_DEPTH).
 *
 * Leniency: a bare LF ends a line like CRLF; extra spaces between
 * arguments are ignored. The fetch attributes BODY, BODY.PEEK, BINARY,
 * BINARY.PEEK and BINARY.SIZE may be followed by "[...]" with spaces and
 * parentheses inside, all one atom (BODY[HEADER.FIELDS (From To)]<0.100>);
 * in other atoms '[' is an ordinary character. 8-bit bytes are accepted in atoms and quoted strings
 * (UTF-8 mailbox names); control characters and NUL are not (except in
 * literals).
 *
 * After IMAP_PARSE_ERROR the parser skips input up to the end of the line
 * (on the following calls, which return IMAP_PARSE_MORE while skipping) and
 * then starts on the next command by itself. */
#ifndef POSTHORN_IMAP_IMAP_PARSE_H
#define POSTHORN_IMAP_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define IMAP_PARSE_MAX_ARGS 100000 /* arguments in one command, lists included */
#define IMAP_PARSE_MAX_DEPTH 32	   /* nesting of parenthesized lists */
#define IMAP_TAG_MAX 64

enum imap_arg_type {
	IMAP_ARG_ATOM,	  /* includes NIL: use imap_arg_is_nil() */
	IMAP_ARG_QUOTED,  /* "...", escapes removed */
	IMAP_ARG_LITERAL, /* {n} or ~{n} (literal8) */
	IMAP_ARG_LIST,	  /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8; /* LITERAL announced as ~{n} */
	char *str;     /* ATOM, QUOTED, LITERAL: the bytes, NUL-terminated
			* (a literal may contain NULs: use len) */
	size_t len;
	struct imap_arg *list; /* LIST: the elements */
	size_t count;
};

enum imap_parse_result {
	IMAP_PARSE_ERROR = -1,	/* bad syntax: reply BAD (see error, tag) */
	IMAP_PARSE_MORE = 0,	/* everything given was consumed; feed more */
	IMAP_PARSE_DONE = 1,	/* a whole command: tag, name, args */
	IMAP_PARSE_LITERAL = 2, /* a literal was announced: see literal_size */
};

struct imap_parser {
	/* Configuration (may be changed between commands). */
	size_t max_line;

	/* Results. After DONE: tag, name (upper-cased) and the top-level
	 * arguments. After ERROR: error (static text, safe to send) and tag
	 * when it was read ("" otherwise); too_long when max_line was hit. */
	char tag[IMAP_TAG_MAX + 1];
	char *name;
	struct imap_arg args; /* a LIST holding the arguments */
	const char *error;
	bool too_long;
	/* After LITERAL: */
	uint64_t literal_size;
	bool literal_sync; /* {n}: the client waits for "+" */
	bool literal8;

	/* Private. */
	int state;
	struct buf tok;
	size_t line_bytes;
	uint64_t literal_left;
	bool literal_discard;
	size_t arg_count;
	struct imap_arg *stack[IMAP_PARSE_MAX_DEPTH + 1];
	unsigned depth;
	struct buf literal;
	bool saw_cr;
	unsigned lit_digits;
};

/* Sets up p (no allocation until input arrives). */
void imap_parser_init(struct imap_parser *p, size_t max_line);
/* Frees the current command and everything buffered; p stays usable and
 * expects a new command. */
void imap_parser_reset(struct imap_parser *p);
/* Frees everything; p must be initialised again before use. */
void imap_parser_deinit(struct imap_parser *p);

/* Feeds (data, len). Sets *consumed_r to the bytes used (never more than
 * len; on DONE exactly up to and including the command's final LF, so
 * bytes after it belong to whatever follows: the next command, an IDLE
 * "DONE" line, a SASL response). Returns an enum imap_parse_result. After
 * DONE, call imap_parser_reset() (after using the results) before feeding
 * the next command. */
int imap_parser_feed(struct imap_parser *p, const char *data, size_t len, size_t *consumed_r);

/* After IMAP_PARSE_LITERAL: read the literal into the argument. */
void imap_parser_literal_accept(struct imap_parser *p);
/* After IMAP_PARSE_LITERAL: read and drop the literal's bytes (the
 * argument is an empty literal), then go on with the command. */
void imap_parser_literal_discard(struct imap_parser *p);
/* true while the parser is inside a command (some bytes of it read). */
bool imap_parser_busy(const struct imap_parser *p);

/* ---- Helpers for command handlers ------------------------------------ */

/* An atom spelled NIL (any case). */
bool imap_arg_is_nil(const struct imap_arg *a);
/* ATOM, QUOTED or LITERAL (IMAP's astring). */
bool imap_arg_is_astring(const struct imap_arg *a);
/* QUOTED or LITERAL (IMAP's string). */
bool imap_arg_is_string(const struct imap_arg *a);
/* An atom equal to word (ASCII case-insensitive). */
bool imap_arg_atom_is(const struct imap_arg *a, const char *word);

#endif
