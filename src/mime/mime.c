/* The MIME parser: a tree of parts over the caller's bytes (see mime.h).
 *
 * One recursive descent over the message, with the open multipart
 * boundaries on a stack. Every line start is looked at once for "--"; a
 * boundary line ends the innermost part and every part up to the multipart
 * whose boundary it is, as Dovecot does (the longest boundary that is a
 * prefix of the line wins, so nested "=_a" and "=_ab" work). The line end
 * before a boundary line belongs to the boundary, not to the part.
 *
 * Line and bare-LF counts are computed once per byte: a container's counts
 * are its children's plus the gaps between them. Caps (depth, parts,
 * header bytes parsed) make the work linear and the memory bounded on any
 * input; a multipart or message past a cap becomes a leaf marked
 * MIME_PART_TRUNCATED.
 *
 * Also here: IMAP section lookup, HEADER.FIELDS selection and body
 * decoding. ENVELOPE and BODYSTRUCTURE are in imap_struct.c, the summary
 * and text extraction in summary.c. */
#include "mime/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/header.h"
#include "mime/params.h"
#include "util/base64.h"
#include "util/mem.h"
#include "util/qp.h"

#define BOUNDARY_MAX 80 /* longer boundaries are cut, as Dovecot does */

struct boundary {
	const char *s;
	size_t len;
};

struct parser {
	const char *d;
	size_t len;
	struct boundary stack[MIME_MAX_DEPTH + 1];
	size_t nb;
	size_t parts;
	bool overflow;	 /* part cap reached: boundaries are no longer looked for */
	bool header_cut; /* the entity just parsed ended inside its header */
};

struct counts {
	size_t lines, bare;
};

/* Counts LFs and bare LFs (no CR before) in [a, b). */
static void count_range(const char *d, size_t a, size_t b, struct counts *c)
{
	size_t pos = a;
	while (pos < b) {
		const char *lf = memchr(d + pos, '\n', b - pos);
		if (lf == NULL)
			break;
		size_t i = (size_t)(lf - d);
		c->lines++;
		if (i == 0 || d[i - 1] != '\r')
			c->bare++;
		pos = i + 1;
	}
}

static char *lower_dup(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return r;
}

/* ---- Boundaries ---------------------------------------------------------- */

/* Is the line at pos a boundary line of an open multipart? Returns the
 * stack index or -1; *closing_r is set for "--boundary--". */
static int boundary_at(const struct parser *p, size_t pos, bool *closing_r)
{
	const char *d = p->d;
	if (p->nb == 0 || p->overflow || pos + 2 > p->len || d[pos] != '-' || d[pos + 1] != '-')
		return -1;
	const char *s = d + pos + 2;
	size_t avail = p->len - pos - 2;
	const char *lf = memchr(s, '\n', avail < BOUNDARY_MAX + 4 ? avail : BOUNDARY_MAX + 4);
	size_t find = lf ? (size_t)(lf - s) : (avail < BOUNDARY_MAX + 4 ? avail : BOUNDARY_MAX + 4);
	if (lf && find > 0 && s[find - 1] == '\r')
		find--;
	bool dashes = find > 2 && s[find - 1] == '-' && s[find - 2] == '-';
	int best = -1;
	for (int i = (int)p->nb - 1; i >= 0; i--) {
		const struct boundary *b = &p->stack[i];
		if (b->len <= find && memcmp(b->s, s, b->len) == 0 &&
		    (best < 0 || p->stack[best].len < b->len)) {
			best = i;
			if (b->len == find || (dashes && b->len + 2 == find))
				break;
		}
	}
	if (best >= 0) {
		size_t bl = p->stack[best].len;
		*closing_r = avail >= bl + 2 && s[bl] == '-' && s[bl + 1] == '-';
	}
	return best;
}

/* Walks the lines from pos (a line start) to the first boundary line of an
 * open multipart: returns its position and sets *bi_r, or returns len with
 * *bi_r = -1. The LFs before that position are added to *c (if not NULL),
 * in the same pass. */
static size_t scan(const struct parser *p, size_t pos, struct counts *c, int *bi_r, bool *closing_r)
{
	const char *d = p->d;
	*bi_r = -1;
	if (p->nb == 0 || p->overflow) {
		if (c)
			count_range(d, pos, p->len, c);
		return p->len;
	}
	while (pos < p->len) {
		if (d[pos] == '-') {
			int bi = boundary_at(p, pos, closing_r);
			if (bi >= 0) {
				*bi_r = bi;
				return pos;
			}
		}
		const char *lf = memchr(d + pos, '\n', p->len - pos);
		if (lf == NULL)
			break;
		size_t i = (size_t)(lf - d);
		if (c) {
			c->lines++;
			if (i == 0 || d[i - 1] != '\r')
				c->bare++;
		}
		pos = i + 1;
	}
	return p->len;
}

static size_t next_boundary(const struct parser *p, size_t pos, int *bi_r, bool *closing_r)
{
	return scan(p, pos, NULL, bi_r, closing_r);
}

/* Start of the line after the one at pos. */
static size_t next_line(const struct parser *p, size_t pos)
{
	const char *lf = memchr(p->d + pos, '\n', p->len - pos);
	return lf ? (size_t)(lf - p->d) + 1 : p->len;
}

/* Position of the line end before line start pos (> from), so that a part
 * ending at the boundary line at pos ends before that line end. */
static size_t before_eol(const struct parser *p, size_t from, size_t pos)
{
	if (pos <= from)
		return from;
	size_t e = pos - 1; /* d[pos - 1] is the LF */
	if (e > from && p->d[e - 1] == '\r')
		e--;
	return e;
}

/* ---- Content headers ----------------------------------------------------- */

static void parse_language(struct mime_part *part, const char *v, size_t n)
{
	/* 1#Language-tag, atoms separated by commas */
	size_t i = 0;
	while (i < n && part->language_count < 64) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n' &&
		       v[i] != '(' && v[i] != ';')
			i++;
		if (i == s)
			break;
		part->languages = xreallocarray(part->languages, part->language_count + 1, sizeof(char *));
		part->languages[part->language_count++] = xmemdup(v + s, i - s);
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
			i++;
		if (i >= n || v[i] != ',')
			break;
		i++;
	}
}

static void parse_encoding(struct mime_part *part, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
		i++;
	size_t s = i;
	while (i < n && v[i] > ' ' && v[i] != 0x7f && strchr("()<>@,;:\\\"/[]?=", v[i]) == NULL)
		i++;
	size_t e = i;
	/* then only blanks and comments */
	int depth = 0;
	for (; i < n; i++) {
		char c = v[i];
		if (depth > 0) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '(')
			depth = 1;
		else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
	}
	if (e == s || i != n)
		return; /* Dovecot ignores a Content-Transfer-Encoding with junk after it */
	part->encoding_raw = xmemdup(v + s, e - s);
	part->encoding = lower_dup(part->encoding_raw);
}

/* Reads the Content-* fields of the part's header and sets its type. */
static void parse_content(struct parser *p, struct mime_part *part, bool in_multipart, bool digest,
			  char **boundary_r)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	size_t hsize = part->header_size < MIME_MAX_HEADER ? part->header_size : MIME_MAX_HEADER;
	bool is_mime = in_multipart, have_type = false;

	*boundary_r = NULL;
	mime_header_iter_init(&it, p->d + part->header_offset, hsize);
	while (mime_header_iter_next(&it, &f) > 0) {
		if (f.name_len == 12 && strncasecmp(f.name, "MIME-Version", 12) == 0) {
			is_mime = true;
			continue;
		}
		if (f.name_len < 9 || strncasecmp(f.name, "Content-", 8) != 0)
			continue;
		const char *n = f.name + 8;
		size_t nl = f.name_len - 8;
#define IS(lit) (nl == sizeof(lit) - 1 && strncasecmp(n, lit, nl) == 0)
		if (IS("Type")) {
			if (have_type)
				continue;
			have_type = true;
			is_mime = true;
			char *t, *st;
			if (mime_params_parse_content_type(f.value, f.value_len, &t, &st, &part->params,
							   &part->param_count) == 0) {
				part->type_raw = t;
				part->subtype_raw = st;
			}
		} else if (IS("Transfer-Encoding")) {
			if (part->encoding_raw == NULL)
				parse_encoding(part, f.value, f.value_len);
		} else if (IS("ID")) {
			if (part->id == NULL)
				part->id = mime_header_value_dup(&f);
		} else if (IS("Description")) {
			if (part->description == NULL)
				part->description = mime_header_value_dup(&f);
		} else if (IS("MD5")) {
			if (part->md5 == NULL)
				part->md5 = mime_header_value_dup(&f);
		} else if (IS("Disposition")) {
			if (part->disposition_raw == NULL) {
				char *tok;
				if (mime_params_parse_disposition(f.value, f.value_len, &tok,
								  &part->disposition_params,
								  &part->disposition_param_count) == 0) {
					part->disposition_raw = tok;
					part->disposition = lower_dup(tok);
				}
			}
		} else if (IS("Language")) {
			if (part->languages == NULL)
				parse_language(part, f.value, f.value_len);
			if (part->language == NULL)
				part->language = mime_header_value_dup(&f);
		} else if (IS("Location")) {
			if (part->location == NULL)
				part->location = mime_header_value_dup(&f);
		}
#undef IS
	}

	if (!is_mime) {
		/* no MIME-Version and no Content-Type: the Content-* fields
		 * mean nothing (RFC 2045 4); Dovecot ignores them too */
		XFREE(&part->encoding);
		XFREE(&part->encoding_raw);
		XFREE(&part->id);
		XFREE(&part->description);
		XFREE(&part->md5);
		XFREE(&part->disposition);
		XFREE(&part->disposition_raw);
		mime_params_free(&part->disposition_params, part->disposition_param_count);
		part->disposition_param_count = 0;
		for (size_t i = 0; i < part->language_count; i++)
			free(part->languages[i]);
		XFREE(&part->languages);
		part->language_count = 0;
		XFREE(&part->language);
		XFREE(&part->location);
	}

	if (part->type_raw != NULL) {
		part->type = lower_dup(part->type_raw);
		part->subtype = lower_dup(part->subtype_raw);
	} else if (digest) {
		part->type = xstrdup("message");
		part->subtype = xstrdup("rfc822");
	} else {
		part->type = xstrdup("text");
		part->subtype = xstrdup("plain");
	}
	if (strcmp(part->type, "multipart") == 0) {
		part->flags |= MIME_PART_MULTIPART;
		const char *b = mime_param_get(part->params, part->param_count, "boundary");
		if (b != NULL && *b != '\0')
			*boundary_r = xstrndup(b, BOUNDARY_MAX);
	} else if (strcmp(part->type, "message") == 0 &&
		   (strcmp(part->subtype, "rfc822") == 0 || strcmp(part->subtype, "global") == 0)) {
		part->flags |= MIME_PART_MESSAGE;
	} else if (strcmp(part->type, "text") == 0) {
		part->flags |= MIME_PART_TEXT;
	}
}

/* ---- The tree ------------------------------------------------------------ */

static struct mime_part *new_part(struct parser *p, struct mime_part *parent)
{
	struct mime_part *part = xcalloc(1, sizeof(*part));
	part->parent = parent;
	p->parts++;
	return part;
}

static void set_body(struct mime_part *part, size_t body_end, const struct counts *c)
{
	part->body_size = body_end - part->body_offset;
	part->body_lines = (uint32_t)c->lines;
	part->body_vsize = part->body_size + c->bare;
}

/* Parses the entity (header and body) that starts at pos, a line start.
 * Returns where it ends: the start of the boundary line that ended it
 * (*bi_r its stack index, *closing_r whether it closes), or len (*bi_r =
 * -1). */
static size_t parse_entity(struct parser *p, struct mime_part *part, size_t pos, size_t depth, int *bi_r,
			   bool *closing_r)
{
	const char *d = p->d;
	struct counts hc = {0, 0};
	int bi = -1;
	bool closing = false;

	/* Header: up to a blank line, or a boundary line of an open multipart
	 * (a truncated part), or the end. */
	part->header_offset = pos;
	size_t line = pos, hend = p->len, stop = p->len;
	while (line < p->len) {
		if (d[line] == '\n' || (d[line] == '\r' && line + 1 < p->len && d[line + 1] == '\n')) {
			hend = line + (d[line] == '\n' ? 1 : 2);
			break;
		}
		if (d[line] == '-' && (bi = boundary_at(p, line, &closing)) >= 0) {
			hend = before_eol(p, pos, line);
			stop = line;
			break;
		}
		line = next_line(p, line);
	}
	part->header_size = hend - pos;
	count_range(d, pos, hend, &hc);
	part->header_lines = (uint32_t)hc.lines;
	part->header_vsize = part->header_size + hc.bare;
	part->body_offset = hend;

	bool in_multipart = part->parent && (part->parent->flags & MIME_PART_MULTIPART);
	bool digest = in_multipart && strcmp(part->parent->subtype, "digest") == 0;
	char *boundary;
	parse_content(p, part, in_multipart, digest, &boundary);

	if (bi >= 0) {
		/* a boundary inside the header: no body, and the line end before
		 * the boundary goes to our parent's body (Dovecot's accounting) */
		struct counts none = {0, 0};
		set_body(part, hend, &none);
		p->header_cut = true;
		if (part->flags & MIME_PART_MESSAGE) {
			/* keep the promise that a message part has its message:
			 * an empty one, as Dovecot has */
			if (depth + 1 < MIME_MAX_DEPTH && p->parts < MIME_MAX_PARTS) {
				struct mime_part *child = new_part(p, part);
				child->header_offset = child->body_offset = hend;
				child->type = xstrdup("text");
				child->subtype = xstrdup("plain");
				child->flags = MIME_PART_TEXT;
				part->children = child;
				part->child_count = 1;
			} else {
				part->flags &= ~MIME_PART_MESSAGE;
				part->flags |= MIME_PART_TRUNCATED;
			}
		}
		free(boundary);
		*bi_r = bi;
		*closing_r = closing;
		return stop;
	}

	bool room = depth + 1 < MIME_MAX_DEPTH && p->parts < MIME_MAX_PARTS;
	if ((part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) && !room) {
		part->flags &= ~(MIME_PART_MULTIPART | MIME_PART_MESSAGE);
		part->flags |= MIME_PART_TRUNCATED;
	}

	struct counts bc = {0, 0};
	size_t end;
	if ((part->flags & MIME_PART_MESSAGE)) {
		struct mime_part *child = new_part(p, part);
		part->children = child;
		part->child_count = 1;
		end = parse_entity(p, child, hend, depth + 1, &bi, &closing);
		size_t body_end = child->body_offset + child->body_size;
		/* the child ends where we end; our counts are its counts */
		bc.lines = child->header_lines + child->body_lines;
		bc.bare = (child->header_vsize - child->header_size) + (child->body_vsize - child->body_size);
		if (p->header_cut) {
			p->header_cut = false;
			count_range(d, body_end, end, &bc);
			body_end = end;
		}
		set_body(part, body_end, &bc);
	} else if ((part->flags & MIME_PART_MULTIPART) && boundary != NULL) {
		size_t me = p->nb;
		p->stack[p->nb].s = boundary;
		p->stack[p->nb].len = strlen(boundary);
		p->nb++;
		struct mime_part **tail = &part->children;
		size_t gap_start = hend; /* counted region not covered by children */
		size_t cur = hend;
		end = p->len;
		bi = -1;
		for (;;) {
			size_t at = next_boundary(p, cur, &bi, &closing);
			if (bi < 0) {
				end = p->len;
				count_range(d, gap_start, end, &bc);
				set_body(part, end, &bc);
				break;
			}
			if ((size_t)bi != me) {
				/* a parent's boundary: we end before its line */
				end = at;
				size_t body_end = before_eol(p, hend, at);
				count_range(d, gap_start, body_end, &bc);
				set_body(part, body_end, &bc);
				break;
			}
			if (closing) {
				/* epilogue: up to a parent's boundary or the end */
				p->nb = me;
				size_t after = next_line(p, at);
				end = next_boundary(p, after, &bi, &closing);
				/* as in Dovecot, a parent boundary right after our closing
				 * line leaves that line's end in our body */
				size_t body_end = bi >= 0 ? before_eol(p, after, end) : end;
				count_range(d, gap_start, body_end, &bc);
				set_body(part, body_end, &bc);
				break;
			}
			if (p->parts >= MIME_MAX_PARTS) {
				/* Dovecot's rule: stop looking for boundaries at all; the
				 * rest of the message belongs to this part */
				p->overflow = true;
				end = p->len;
				count_range(d, gap_start, end, &bc);
				set_body(part, end, &bc);
				bi = -1;
				break;
			}
			size_t cstart = next_line(p, at);
			count_range(d, gap_start, cstart, &bc);
			struct mime_part *child = new_part(p, part);
			*tail = child;
			tail = &child->next;
			part->child_count++;
			size_t cend = parse_entity(p, child, cstart, depth + 1, &bi, &closing);
			bool cut = p->header_cut;
			p->header_cut = false;
			bc.lines += child->header_lines + child->body_lines;
			bc.bare += (child->header_vsize - child->header_size) +
				   (child->body_vsize - child->body_size);
			gap_start = child->body_offset + child->body_size;
			if (bi < 0) {
				end = p->len;
				count_range(d, gap_start, end, &bc);
				set_body(part, end, &bc);
				break;
			}
			if ((size_t)bi != me) {
				/* a parent's boundary ended the child, and us with it */
				end = cend;
				if (cut) {
					count_range(d, gap_start, cend, &bc);
					gap_start = cend;
				}
				set_body(part, gap_start, &bc);
				break;
			}
			cur = cend; /* our boundary: the loop finds it at cur */
		}
		p->nb = me;
	} else {
		end = scan(p, hend, &bc, &bi, &closing);
		size_t body_end = end;
		if (bi >= 0 && end > hend) {
			/* the line end before the boundary line is the boundary's */
			body_end = before_eol(p, hend, end);
			bc.lines--;
			if (end - 1 == 0 || d[end - 2] != '\r')
				bc.bare--;
		}
		set_body(part, body_end, &bc);
	}
	free(boundary);
	*bi_r = bi;
	*closing_r = closing;
	return end;
}

struct mime_message *mime_parse(const char *data, size_t len)
{
	struct mime_message *msg = xcalloc(1, sizeof(*msg));
	struct parser p;
	memset(&p, 0, sizeof(p));
	p.d = data;
	p.len = len;
	msg->data = data;
	msg->len = len;
	msg->root = new_part(&p, NULL);
	int bi;
	bool closing;
	(void)parse_entity(&p, msg->root, 0, 0, &bi, &closing);
	return msg;
}

static void free_part(struct mime_part *part)
{
	while (part != NULL) {
		struct mime_part *next = part->next;
		free_part(part->children);
		free(part->type);
		free(part->subtype);
		mime_params_free(&part->params, part->param_count);
		free(part->id);
		free(part->description);
		free(part->encoding);
		free(part->md5);
		free(part->disposition);
		mime_params_free(&part->disposition_params, part->disposition_param_count);
		free(part->language);
		free(part->location);
		free(part->type_raw);
		free(part->subtype_raw);
		free(part->encoding_raw);
		free(part->disposition_raw);
		for (size_t i = 0; i < part->language_count; i++)
			free(part->languages[i]);
		free(part->languages);
		free(part);
		part = next;
	}
}

void mime_free(struct mime_message **msg)
{
	if (*msg == NULL)
		return;
	free_part((*msg)->root);
	XFREE(msg);
}

/* ---- Lookups --------------------------------------------------------------- */

char *mime_header_get(const struct mime_message *msg, const struct mime_part *part, const char *name)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	if (part == NULL)
		part = msg->root;
	size_t hsize = part->header_size < MIME_MAX_HEADER ? part->header_size : MIME_MAX_HEADER;
	mime_header_iter_init(&it, msg->data + part->header_offset, hsize);
	while (mime_header_iter_next(&it, &f) > 0) {
		if (mime_header_name_is(&f, name))
			return mime_header_value_dup(&f);
	}
	return NULL;
}

const struct mime_part *mime_part_find(const struct mime_message *msg, const char *section, size_t len)
{
	const struct mime_part *part = msg->root;
	size_t i = 0;
	bool first = true;
	if (len == 0)
		return NULL;
	while (i < len) {
		uint32_t n = 0;
		size_t s = i;
		while (i < len && section[i] >= '0' && section[i] <= '9' && i - s < 9)
			n = n * 10 + (uint32_t)(section[i++] - '0');
		if (i == s || n == 0 || (i < len && section[i] != '.'))
			return NULL;
		if (i < len && ++i == len)
			return NULL; /* trailing dot */
		/* RFC 3501 6.4.5: below a message/rfc822 part, numbers refer to
		 * the encapsulated message's parts; a single-part message has
		 * only part 1, itself */
		bool fresh = first;
		if (!first && (part->flags & MIME_PART_MESSAGE)) {
			part = part->children;
			fresh = true;
		}
		first = false;
		if (part->flags & MIME_PART_MULTIPART) {
			const struct mime_part *c = part->children;
			for (uint32_t k = 1; c != NULL && k < n; k++)
				c = c->next;
			if (c == NULL)
				return NULL;
			part = c;
		} else if (n != 1 || !fresh)
			return NULL;
	}
	return part;
}

const struct mime_part *mime_part_message(const struct mime_message *msg, const struct mime_part *part)
{
	if (part == NULL)
		return msg->root;
	if (part->flags & MIME_PART_MESSAGE)
		return part->children;
	return NULL;
}

static bool names_contain(const char *const *names, size_t count, const char *name, size_t len)
{
	for (size_t i = 0; i < count; i++) {
		if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
			return true;
	}
	return false;
}

static int append_crlf(struct buf *out, const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\n' || (i > 0 && s[i - 1] == '\r'))
			continue;
		if (buf_append(out, s + start, i - start) < 0 || buf_putc(out, '\r') < 0)
			return -1;
		start = i;
	}
	return buf_append(out, s + start, n - start);
}

int mime_header_fields(const struct mime_message *msg, size_t hdr_offset, size_t hdr_size,
		       const char *const *names, size_t count, bool not, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	size_t old = out->len;
	mime_header_iter_init(&it, msg->data + hdr_offset, hdr_size);
	it.all_lines = not ; /* lines that are not fields are "not" any name */
	while (mime_header_iter_next(&it, &f) > 0) {
		if (f.name_len > 0 && names_contain(names, count, f.name, f.name_len) == not )
			continue;
		const char *s = msg->data + hdr_offset + f.offset;
		size_t n = f.size;
		if (append_crlf(out, s, n) < 0)
			goto full;
		if (n == 0 || s[n - 1] != '\n') {
			/* the last field of a header without a blank line */
			if (buf_append(out, "\r\n", 2) < 0)
				goto full;
		}
	}
	if (buf_append(out, "\r\n", 2) < 0)
		goto full;
	return 0;
full:
	buf_truncate(out, old);
	return -1;
}

int mime_part_decode(const struct mime_message *msg, const struct mime_part *part, struct buf *out,
		     const char **error_r)
{
	const char *s = msg->data + part->body_offset;
	size_t n = part->body_size;
	const char *enc = part->encoding;
	size_t old = out->len;
	int r;
	if (enc == NULL || strcmp(enc, "7bit") == 0 || strcmp(enc, "8bit") == 0 || strcmp(enc, "binary") == 0)
		r = buf_append(out, s, n);
	else if (strcmp(enc, "base64") == 0)
		r = base64_decode_lenient(out, s, n);
	else if (strcmp(enc, "quoted-printable") == 0)
		r = qp_decode(out, s, n);
	else {
		*error_r = "unknown Content-Transfer-Encoding";
		return -1;
	}
	if (r < 0) {
		buf_truncate(out, old);
		*error_r = "decoded part too large";
		return -1;
	}
	return 0;
}
