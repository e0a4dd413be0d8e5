/* imap_parse: incremental IMAP command parser (see imap_parse.h).
 *
 * A byte-at-a-time state machine in the style of nginx's mail parser: the
 * state and the token being read live in struct imap_parser, so input may
 * be cut anywhere. Arguments are built into a tree as they complete; the
 * innermost open list is the only one that grows, so pointers to the open
 * lists on the stack stay valid while children are appended. */
#include "imap/imap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

enum {
	S_TAG,
	S_NAME,
	S_ARG_START, /* where an argument may begin */
	S_AFTER_ARG, /* after a quoted string, literal or list */
	S_ATOM,
	S_ATOM_BRACKET,
	S_QUOTED,
	S_QUOTED_ESC,
	S_TILDE, /* "~" read, "{" must follow */
	S_LIT_SIZE,
	S_LIT_PLUS, /* "+" read, "}" must follow */
	S_LIT_CR,   /* "}" read, CRLF must follow */
	S_LIT_LF,
	S_LIT_WAIT, /* LITERAL returned; waiting for accept/discard */
	S_LIT_DATA,
	S_END_LF, /* CR at the end of the command read */
	S_DONE,
	S_SKIP, /* after an error: skip to the end of the line */
};

#define LITERAL_MAX ((uint64_t)1 << 40)

void imap_parser_init(struct imap_parser *p, size_t max_line)
{
	memset(p, 0, sizeof(*p));
	p->max_line = max_line;
	p->args.type = IMAP_ARG_LIST;
	buf_init(&p->tok, max_line);
	buf_init(&p->literal, 0);
	p->state = S_TAG;
}

static void arg_free(struct imap_arg *a)
{
	if (a->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < a->count; i++)
			arg_free(&a->list[i]);
		free(a->list);
	} else
		free(a->str);
	a->list = NULL;
	a->str = NULL;
	a->count = a->len = 0;
}

void imap_parser_reset(struct imap_parser *p)
{
	arg_free(&p->args);
	p->args.type = IMAP_ARG_LIST;
	free(p->name);
	p->name = NULL;
	p->tag[0] = '\0';
	p->error = NULL;
	p->too_long = false;
	p->literal_size = p->literal_left = 0;
	p->literal_sync = p->literal8 = p->literal_discard = false;
	p->line_bytes = 0;
	p->arg_count = 0;
	p->depth = 0;
	p->saw_cr = false;
	buf_free(&p->tok);
	buf_init(&p->tok, p->max_line);
	buf_free(&p->literal);
	buf_init(&p->literal, 0);
	p->state = S_TAG;
}

void imap_parser_deinit(struct imap_parser *p)
{
	imap_parser_reset(p);
	buf_free(&p->tok);
}

bool imap_parser_busy(const struct imap_parser *p)
{
	return p->state != S_TAG || p->tok.len > 0;
}

/* ---- building the tree ------------------------------------------------ */

static struct imap_arg *cur_list(struct imap_parser *p)
{
	return p->depth == 0 ? &p->args : p->stack[p->depth];
}

/* Appends a new argument to the innermost open list; NULL past the limit. */
static struct imap_arg *new_arg(struct imap_parser *p, enum imap_arg_type type)
{
	if (p->arg_count >= IMAP_PARSE_MAX_ARGS)
		return NULL;
	p->arg_count++;
	struct imap_arg *l = cur_list(p);
	/* Grow by doubling: count is a power of two exactly when full. */
	if (l->count == 0 || (l->count >= 4 && (l->count & (l->count - 1)) == 0))
		l->list = xreallocarray(l->list, l->count == 0 ? 4 : l->count * 2, sizeof(*l->list));
	struct imap_arg *a = &l->list[l->count++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

static int fail(struct imap_parser *p, const char *error)
{
	p->error = error;
	p->state = S_SKIP;
	return IMAP_PARSE_ERROR;
}

/* An error found at the LF that ends the line: nothing is left to skip,
 * the next byte starts a new command. */
static int fail_at_eol(struct imap_parser *p, const char *error)
{
	char tag[IMAP_TAG_MAX + 1];
	memcpy(tag, p->tag, sizeof(tag));
	imap_parser_reset(p);
	memcpy(p->tag, tag, sizeof(tag));
	p->error = error;
	return IMAP_PARSE_ERROR;
}

/* The token in tok becomes an argument of type. */
static int finish_token(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *a = new_arg(p, type);
	if (a == NULL)
		return fail(p, "Too many arguments");
	size_t len;
	if (p->tok.len == 0) {
		a->str = xstrdup("");
		len = 0;
	} else
		a->str = buf_steal(&p->tok, &len);
	buf_init(&p->tok, p->max_line);
	a->len = len;
	return 0;
}

static bool is_atom_char(unsigned char c)
{
	if (c < 0x20 || c == 0x7f)
		return false;
	switch (c) {
	case '(':
	case ')':
	case ' ':
	case '"':
		return false;
	default:
		return true;
	}
}

static bool is_tag_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(':
	case ')':
	case '{':
	case '%':
	case '*':
	case '"':
	case '\\':
	case '+':
		return false;
	default:
		return true;
	}
}

/* A fetch attribute whose "[section]" may hold spaces and parentheses:
 * tok holds the atom so far, ending with the '['. */
static bool bracket_atom(const struct buf *tok)
{
	static const char *const names[] = {"BODY[", "BODY.PEEK[", "BINARY[", "BINARY.PEEK[", "BINARY.SIZE["};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (tok->len == strlen(names[i]) && strncasecmp(tok->data, names[i], tok->len) == 0)
			return true;
	return false;
}

/* End of the command line (its LF was read): lists must be closed. */
static int end_of_line(struct imap_parser *p)
{
	if (p->depth > 0)
		return fail_at_eol(p, "Missing ')'");
	p->state = S_DONE;
	return IMAP_PARSE_DONE;
}

static int open_list(struct imap_parser *p)
{
	if (p->depth >= IMAP_PARSE_MAX_DEPTH)
		return fail(p, "Lists nested too deeply");
	struct imap_arg *a = new_arg(p, IMAP_ARG_LIST);
	if (a == NULL)
		return fail(p, "Too many arguments");
	p->stack[++p->depth] = a;
	return 0;
}

static int close_list(struct imap_parser *p)
{
	if (p->depth == 0)
		return fail(p, "Unexpected ')'");
	p->depth--;
	p->state = S_AFTER_ARG;
	return 0;
}

/* ---- the state machine ------------------------------------------------ */

int imap_parser_feed(struct imap_parser *p, const char *data, size_t len, size_t *consumed_r)
{
	size_t i = 0;
	int r = IMAP_PARSE_MORE;
	*consumed_r = 0;
	if (p->state == S_LIT_WAIT || p->state == S_DONE)
		abort(); /* the caller must accept/discard the literal or reset first */
	while (i < len) {
		unsigned char c = (unsigned char)data[i];
		if (p->state == S_LIT_DATA) {
			size_t n = len - i;
			if (n > p->literal_left)
				n = (size_t)p->literal_left;
			if (!p->literal_discard && buf_append(&p->literal, data + i, n) < 0)
				abort(); /* sized for the announced length */
			i += n;
			p->literal_left -= n;
			if (p->literal_left == 0) {
				struct imap_arg *a = new_arg(p, IMAP_ARG_LITERAL);
				if (a == NULL) {
					r = fail(p, "Too many arguments");
					goto out;
				}
				a->literal8 = p->literal8;
				if (p->literal.len == 0) {
					a->str = xstrdup("");
					buf_free(&p->literal);
				} else
					a->str = buf_steal(&p->literal, &a->len);
				buf_init(&p->literal, 0);
				p->state = S_AFTER_ARG;
			}
			continue;
		}
		if (p->state == S_SKIP) {
			i++;
			if (c == '\n') {
				imap_parser_reset(p);
				/* Report the error once; the caller already did. */
			}
			continue;
		}
		/* Every other state reads the command line itself. */
		if (++p->line_bytes > p->max_line && c != '\n' && c != '\r') {
			p->too_long = true;
			r = fail(p, "Command line too long");
			i++;
			goto out;
		}
		i++;
		switch (p->state) {
		case S_TAG:
			if (c == ' ') {
				if (p->tok.len == 0) {
					r = fail(p, "Missing tag");
					goto out;
				}
				memcpy(p->tag, p->tok.data, p->tok.len);
				p->tag[p->tok.len] = '\0';
				buf_reset(&p->tok);
				p->state = S_NAME;
			} else if (c == '\r' || c == '\n') {
				if (p->tok.len == 0) {
					if (c == '\n')
						imap_parser_reset(p); /* an empty line: ignored */
					else
						p->saw_cr = true;
					break;
				}
				memcpy(p->tag, p->tok.data, p->tok.len);
				p->tag[p->tok.len] = '\0';
				r = c == '\n' ? fail_at_eol(p, "Missing command")
					      : fail(p, "Missing command");
				goto out;
			} else if (p->saw_cr) {
				r = fail(p, "CR without LF");
				goto out;
			} else if (!is_tag_char(c) || p->tok.len >= IMAP_TAG_MAX) {
				r = fail(p, "Invalid tag");
				goto out;
			} else
				buf_putc(&p->tok, (char)c);
			break;
		case S_NAME:
			if (c == ' ' || c == '\r' || c == '\n') {
				if (p->tok.len == 0) {
					r = c == '\n' ? fail_at_eol(p, "Missing command")
						      : fail(p, "Missing command");
					goto out;
				}
				for (size_t k = 0; k < p->tok.len; k++)
					if (p->tok.data[k] >= 'a' && p->tok.data[k] <= 'z')
						p->tok.data[k] = (char)(p->tok.data[k] - 'a' + 'A');
				p->name = buf_steal(&p->tok, NULL);
				buf_init(&p->tok, p->max_line);
				if (c == ' ')
					p->state = S_ARG_START;
				else if (c == '\r')
					p->state = S_END_LF;
				else {
					r = end_of_line(p);
					goto out;
				}
			} else if (!is_atom_char(c) || c == '{' || c == '[' || c == ']') {
				r = fail(p, "Invalid command name");
				goto out;
			} else
				buf_putc(&p->tok, (char)c);
			break;
		case S_ARG_START:
		case S_AFTER_ARG:
			if (c == '\r') {
				p->state = S_END_LF;
				break;
			}
			if (c == '\n') {
				r = end_of_line(p);
				goto out;
			}
			if (c == ' ') {
				p->state = S_ARG_START;
				break;
			}
			if (c == ')') {
				if (close_list(p) < 0) {
					r = IMAP_PARSE_ERROR;
					goto out;
				}
				break;
			}
			if (p->state == S_AFTER_ARG) {
				r = fail(p, "Missing space between arguments");
				goto out;
			}
			switch (c) {
			case '(':
				if (open_list(p) < 0) {
					r = IMAP_PARSE_ERROR;
					goto out;
				}
				break;
			case '"':
				p->state = S_QUOTED;
				break;
			case '{':
				p->literal8 = false;
				p->literal_size = 0;
				p->lit_digits = 0;
				p->state = S_LIT_SIZE;
				break;
			case '~':
				p->state = S_TILDE;
				break;
			default:
				if (!is_atom_char(c)) {
					r = fail(p, "Invalid characters in atom");
					goto out;
				}
				buf_putc(&p->tok, (char)c);
				p->state = S_ATOM;
				break;
			}
			break;
		case S_TILDE:
			if (c == '{') {
				p->literal8 = true;
				p->literal_size = 0;
				p->lit_digits = 0;
				p->state = S_LIT_SIZE;
				break;
			}
			/* "~" starting an atom. */
			buf_putc(&p->tok, '~');
			p->state = S_ATOM;
			i--;
			p->line_bytes--;
			break;
		case S_ATOM:
			if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
				if (finish_token(p, IMAP_ARG_ATOM) < 0) {
					r = IMAP_PARSE_ERROR;
					goto out;
				}
				p->state = S_AFTER_ARG;
				i--;
				p->line_bytes--;
				break;
			}
			if (!is_atom_char(c)) {
				r = fail(p, "Invalid characters in atom");
				goto out;
			}
			if (buf_putc(&p->tok, (char)c) < 0) {
				r = fail(p, "Command line too long");
				goto out;
			}
			if (c == '[' && bracket_atom(&p->tok))
				p->state = S_ATOM_BRACKET;
			break;
		case S_ATOM_BRACKET:
			if (c == '\r' || c == '\n' || c < 0x20 || c == 0x7f) {
				r = fail(p, "Missing ']'");
				goto out;
			}
			if (buf_putc(&p->tok, (char)c) < 0) {
				r = fail(p, "Command line too long");
				goto out;
			}
			if (c == ']')
				p->state = S_ATOM;
			break;
		case S_QUOTED:
			if (c == '"') {
				if (finish_token(p, IMAP_ARG_QUOTED) < 0) {
					r = IMAP_PARSE_ERROR;
					goto out;
				}
				p->state = S_AFTER_ARG;
			} else if (c == '\\')
				p->state = S_QUOTED_ESC;
			else if (c == '\r' || c == '\n') {
				r = c == '\n' ? fail_at_eol(p, "Missing '\"'") : fail(p, "Missing '\"'");
				goto out;
			} else if (c == 0) {
				r = fail(p, "NUL in quoted string");
				goto out;
			} else if (buf_putc(&p->tok, (char)c) < 0) {
				r = fail(p, "Command line too long");
				goto out;
			}
			break;
		case S_QUOTED_ESC:
			if (c != '\\' && c != '"') {
				r = fail(p, "Invalid escape in quoted string");
				goto out;
			}
			if (buf_putc(&p->tok, (char)c) < 0) {
				r = fail(p, "Command line too long");
				goto out;
			}
			p->state = S_QUOTED;
			break;
		case S_LIT_SIZE:
			if (c >= '0' && c <= '9') {
				if (p->lit_digits >= 20 || p->literal_size > (LITERAL_MAX - (c - '0')) / 10) {
					r = fail(p, "Literal too large");
					goto out;
				}
				p->literal_size = p->literal_size * 10 + (uint64_t)(c - '0');
				p->lit_digits++;
			} else if ((c == '+' || c == '}') && p->lit_digits > 0) {
				p->literal_sync = c == '}';
				p->state = c == '+' ? S_LIT_PLUS : S_LIT_CR;
			} else {
				r = fail(p, "Invalid literal size");
				goto out;
			}
			break;
		case S_LIT_PLUS:
			if (c != '}') {
				r = fail(p, "Invalid literal size");
				goto out;
			}
			p->state = S_LIT_CR;
			break;
		case S_LIT_CR:
			if (c == '\r') {
				p->state = S_LIT_LF;
				break;
			}
			if (c != '\n') {
				r = fail(p, "Missing CRLF after literal size");
				goto out;
			}
			/* fall through */
		case S_LIT_LF:
			if (c != '\n') {
				r = fail(p, "Missing CRLF after literal size");
				goto out;
			}
			p->state = S_LIT_WAIT;
			r = IMAP_PARSE_LITERAL;
			goto out;
		case S_END_LF:
			if (c != '\n') {
				r = fail(p, "CR without LF");
				goto out;
			}
			r = end_of_line(p);
			goto out;
		default:
			abort();
		}
	}
out:
	*consumed_r = i;
	return r;
}

void imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != S_LIT_WAIT)
		abort();
	p->literal_left = p->literal_size;
	p->literal_discard = false;
	buf_free(&p->literal);
	buf_init(&p->literal, p->literal_size);
	p->state = S_LIT_DATA;
	if (p->literal_left == 0) {
		/* An empty literal: nothing to wait for. */
		struct imap_arg *a = new_arg(p, IMAP_ARG_LITERAL);
		if (a == NULL) {
			fail(p, "Too many arguments");
			return;
		}
		a->literal8 = p->literal8;
		a->str = xstrdup("");
		p->state = S_AFTER_ARG;
	}
}

void imap_parser_literal_discard(struct imap_parser *p)
{
	imap_parser_literal_accept(p);
	p->literal_discard = true;
}

/* ---- helpers ---------------------------------------------------------- */

bool imap_arg_is_nil(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM && a->len == 3 && strcasecmp(a->str, "NIL") == 0;
}

bool imap_arg_is_astring(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL;
}

bool imap_arg_is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL;
}

bool imap_arg_atom_is(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && a->len == strlen(word) && strcasecmp(a->str, word) == 0;
}
