/* imap_fetch: FETCH and UID FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5), with
 * BINARY (RFC 3516), CONDSTORE's MODSEQ and CHANGEDSINCE, and QRESYNC's
 * VANISHED (RFC 7162).
 *
 * The attributes are parsed once into a list of items. Messages are then
 * read from the store in batches (one iterator per batch, with only the
 * cached fields the items need: ENVELOPE and BODYSTRUCTURE are cached at
 * delivery) and the stored bytes are read only for body sections. When the
 * client is slow to read a big reply, the command waits for the output
 * buffer to drain and goes on from the next message, so the memory a FETCH
 * holds stays bounded whatever it asks for.
 *
 * A non-PEEK body fetch sets \Seen (in one store call before the output)
 * and the FLAGS then go with the message's response. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "mime/mime.h"
#include "util/date.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

#define FETCH_BATCH 500
#define FETCH_OUTPUT_HIGH (1024 * 1024) /* wait for the client past this */

enum fetch_kind {
	F_FLAGS,
	F_INTERNALDATE,
	F_RFC822_SIZE,
	F_ENVELOPE,
	F_BODY,
	F_BODYSTRUCTURE,
	F_UID,
	F_MODSEQ,
	F_RFC822,
	F_RFC822_HEADER,
	F_RFC822_TEXT,
	F_SECTION,     /* BODY[...] */
	F_BINARY,      /* BINARY[...] */
	F_BINARY_SIZE, /* BINARY.SIZE[...] */
};

enum fetch_sec { SEC_ALL, SEC_HEADER, SEC_FIELDS, SEC_FIELDS_NOT, SEC_TEXT, SEC_MIME };

struct fetch_item {
	enum fetch_kind kind;
	bool peek;
	char *part; /* "1.2" or NULL */
	enum fetch_sec sec;
	char **fields;
	size_t nfields;
	bool partial;
	uint64_t offset, count;
	char *name; /* the response name, without <partial> */
};

struct fetch_ctx {
	struct fetch_item *items;
	size_t nitems;
	unsigned store_fields;
	bool need_data; /* body sections: read the stored bytes */
	bool need_mime; /* parse them */
	bool sets_seen;
	bool want_uid;
	bool want_modseq;
	bool want_flags;
	uint64_t changedsince;
	bool vanished;
	/* The messages: sorted UIDs, and how far we got. */
	uint32_t *uids;
	size_t count, pos;
	uint32_t *seen; /* UIDs that got \Seen now */
	size_t seen_count;
	size_t found; /* messages answered */
	bool missing; /* some requested message was gone */
};

static void fetch_ctx_free(void *p)
{
	struct fetch_ctx *f = p;
	for (size_t i = 0; i < f->nitems; i++) {
		free(f->items[i].part);
		for (size_t k = 0; k < f->items[i].nfields; k++)
			free(f->items[i].fields[k]);
		free(f->items[i].fields);
		free(f->items[i].name);
	}
	free(f->items);
	free(f->uids);
	free(f->seen);
	free(f);
}

/* ---- parsing the attributes ----------------------------------------------- */

static struct fetch_item *add_item(struct fetch_ctx *f, enum fetch_kind kind)
{
	f->items = xreallocarray(f->items, f->nitems + 1, sizeof(*f->items));
	struct fetch_item *it = &f->items[f->nitems++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	return it;
}

/* Parses "[section]<partial>" at p (after the item name). */
static int parse_section(struct fetch_item *it, const char *p, const char *prefix, const char **error_r)
{
	if (*p != '[') {
		*error_r = "Missing [section]";
		return -1;
	}
	p++;
	const char *end = strchr(p, ']');
	if (end == NULL) {
		*error_r = "Missing ']'";
		return -1;
	}
	struct buf name;
	buf_init(&name, 64 * 1024);
	buf_printf(&name, "%s[", prefix);
	/* Part number: digits and dots, each number non-zero. */
	const char *q = p;
	while (q < end && ((*q >= '0' && *q <= '9') || *q == '.')) {
		const char *numstart = q;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
		if (q == numstart || *numstart == '0')
			break;
		if (q < end && *q == '.' && q + 1 < end && q[1] >= '0' && q[1] <= '9') {
			q++;
			continue;
		}
		break;
	}
	/* q is past the last number (or at a '.' before a word). */
	if (q > p) {
		size_t plen = (size_t)(q - p);
		if (p[plen - 1] == '.')
			plen--;
		it->part = xstrndup(p, plen);
		buf_append(&name, p, plen);
		if (q < end && *q == '.')
			q++;
		else if (q < end) {
			buf_free(&name);
			*error_r = "Invalid section";
			return -1;
		}
	}
	size_t rest = (size_t)(end - q);
	const char *spec = q;
	if (rest == 0)
		it->sec = SEC_ALL;
	else if (rest == 6 && strncasecmp(spec, "HEADER", 6) == 0)
		it->sec = SEC_HEADER;
	else if (rest == 4 && strncasecmp(spec, "TEXT", 4) == 0)
		it->sec = SEC_TEXT;
	else if (rest == 4 && strncasecmp(spec, "MIME", 4) == 0 && it->part != NULL)
		it->sec = SEC_MIME;
	else if (rest > 13 && strncasecmp(spec, "HEADER.FIELDS", 13) == 0) {
		const char *f = spec + 13;
		it->sec = SEC_FIELDS;
		if (rest > 17 && strncasecmp(f, ".NOT", 4) == 0) {
			it->sec = SEC_FIELDS_NOT;
			f += 4;
		}
		while (f < end && *f == ' ')
			f++;
		if (f >= end || *f != '(') {
			buf_free(&name);
			*error_r = "Invalid HEADER.FIELDS";
			return -1;
		}
		f++;
		for (;;) {
			while (f < end && *f == ' ')
				f++;
			if (f < end && *f == ')')
				break;
			const char *w = f;
			bool quoted = f < end && *f == '"';
			if (quoted) {
				w = ++f;
				while (f < end && *f != '"')
					f++;
			} else {
				while (f < end && *f != ' ' && *f != ')')
					f++;
			}
			if (f >= end || f == w) {
				buf_free(&name);
				*error_r = "Invalid HEADER.FIELDS";
				return -1;
			}
			for (const char *c = w; c < f; c++) {
				if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == ':') {
					buf_free(&name);
					*error_r = "Invalid header field name";
					return -1;
				}
			}
			it->fields = xreallocarray(it->fields, it->nfields + 1, sizeof(*it->fields));
			it->fields[it->nfields++] = xstrndup(w, (size_t)(f - w));
			if (quoted)
				f++;
			if (it->nfields > 1000) {
				buf_free(&name);
				*error_r = "Too many header fields";
				return -1;
			}
		}
		if (it->nfields == 0 || f + 1 != end) {
			buf_free(&name);
			*error_r = "Invalid HEADER.FIELDS";
			return -1;
		}
	} else {
		buf_free(&name);
		*error_r = "Invalid section";
		return -1;
	}
	if (rest > 0) {
		if (it->part != NULL)
			buf_putc(&name, '.');
		switch (it->sec) {
		case SEC_HEADER:
			buf_puts(&name, "HEADER");
			break;
		case SEC_TEXT:
			buf_puts(&name, "TEXT");
			break;
		case SEC_MIME:
			buf_puts(&name, "MIME");
			break;
		default:
			buf_puts(&name, it->sec == SEC_FIELDS ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
			for (size_t k = 0; k < it->nfields; k++) {
				if (k)
					buf_putc(&name, ' ');
				for (const char *c = it->fields[k]; *c; c++)
					buf_putc(&name,
						 (*c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A') : *c);
			}
			buf_putc(&name, ')');
			break;
		}
	}
	buf_putc(&name, ']');
	it->name = buf_steal(&name, NULL);
	p = end + 1;
	if (*p == '<') {
		const char *dot = strchr(p, '.'), *gt = strchr(p, '>');
		if (dot == NULL || gt == NULL || dot > gt || gt[1] != '\0' ||
		    strn_to_u64(p + 1, (size_t)(dot - p - 1), &it->offset) < 0 ||
		    strn_to_u64(dot + 1, (size_t)(gt - dot - 1), &it->count) < 0 || it->count == 0 ||
		    it->offset > UINT32_MAX || it->count > UINT32_MAX) {
			*error_r = "Invalid partial";
			return -1;
		}
		it->partial = true;
	} else if (*p != '\0') {
		*error_r = "Junk after section";
		return -1;
	}
	return 0;
}

static int parse_item(struct fetch_ctx *f, const struct imap_arg *a, const char **error_r)
{
	static const struct {
		const char *name;
		enum fetch_kind kind;
	} simple[] = {
	    {"FLAGS", F_FLAGS},
	    {"INTERNALDATE", F_INTERNALDATE},
	    {"RFC822.SIZE", F_RFC822_SIZE},
	    {"ENVELOPE", F_ENVELOPE},
	    {"BODY", F_BODY},
	    {"BODYSTRUCTURE", F_BODYSTRUCTURE},
	    {"UID", F_UID},
	    {"MODSEQ", F_MODSEQ},
	    {"RFC822", F_RFC822},
	    {"RFC822.HEADER", F_RFC822_HEADER},
	    {"RFC822.TEXT", F_RFC822_TEXT},
	};
	if (a->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid fetch attribute";
		return -1;
	}
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (strcasecmp(a->str, simple[i].name) == 0) {
			add_item(f, simple[i].kind);
			return 0;
		}
	}
	const char *s = a->str;
	struct {
		const char *prefix;
		enum fetch_kind kind;
		bool peek;
		const char *name;
	} sec[] = {
	    {"BODY.PEEK", F_SECTION, true, "BODY"},    {"BODY", F_SECTION, false, "BODY"},
	    {"BINARY.PEEK", F_BINARY, true, "BINARY"}, {"BINARY.SIZE", F_BINARY_SIZE, true, "BINARY.SIZE"},
	    {"BINARY", F_BINARY, false, "BINARY"},
	};
	for (size_t i = 0; i < sizeof(sec) / sizeof(sec[0]); i++) {
		size_t l = strlen(sec[i].prefix);
		if (strncasecmp(s, sec[i].prefix, l) == 0 && s[l] == '[') {
			struct fetch_item *it = add_item(f, sec[i].kind);
			it->peek = sec[i].peek;
			if (parse_section(it, s + l, sec[i].name, error_r) < 0)
				return -1;
			if (it->kind != F_SECTION && it->sec != SEC_ALL) {
				*error_r = "BINARY takes only a part number";
				return -1;
			}
			if (it->kind == F_BINARY_SIZE && it->partial) {
				*error_r = "BINARY.SIZE takes no partial";
				return -1;
			}
			return 0;
		}
	}
	*error_r = "Unknown fetch attribute";
	return -1;
}

static int parse_attrs(struct fetch_ctx *f, const struct imap_arg *a, const char **error_r)
{
	if (a->type == IMAP_ARG_ATOM) {
		if (strcasecmp(a->str, "ALL") == 0 || strcasecmp(a->str, "FAST") == 0 ||
		    strcasecmp(a->str, "FULL") == 0) {
			add_item(f, F_FLAGS);
			add_item(f, F_INTERNALDATE);
			add_item(f, F_RFC822_SIZE);
			if (strcasecmp(a->str, "FAST") != 0)
				add_item(f, F_ENVELOPE);
			if (strcasecmp(a->str, "FULL") == 0)
				add_item(f, F_BODY);
			return 0;
		}
		return parse_item(f, a, error_r);
	}
	if (a->type != IMAP_ARG_LIST || a->count == 0) {
		*error_r = "Invalid fetch attributes";
		return -1;
	}
	for (size_t i = 0; i < a->count; i++)
		if (parse_item(f, &a->list[i], error_r) < 0)
			return -1;
	return 0;
}

static int parse_modifiers(struct imap_session *s, struct fetch_ctx *f, const struct imap_arg *a, bool uid,
			   const char **error_r)
{
	if (a->type != IMAP_ARG_LIST) {
		*error_r = "Invalid FETCH modifiers";
		return -1;
	}
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *m = &a->list[i];
		if (imap_arg_atom_is(m, "CHANGEDSINCE") && i + 1 < a->count &&
		    a->list[i + 1].type == IMAP_ARG_ATOM &&
		    str_to_u64(a->list[i + 1].str, &f->changedsince) == 0) {
			i++;
			continue;
		}
		if (imap_arg_atom_is(m, "VANISHED")) {
			if (!uid || !s->qresync) {
				*error_r = "VANISHED needs UID FETCH and QRESYNC";
				return -1;
			}
			f->vanished = true;
			continue;
		}
		*error_r = "Unknown FETCH modifier";
		return -1;
	}
	if (f->vanished && f->changedsince == 0) {
		*error_r = "VANISHED needs CHANGEDSINCE";
		return -1;
	}
	return 0;
}

/* ---- one message ------------------------------------------------------------ */

/* Decimal without printf: FETCH 1:* (FLAGS) writes a few per message. */
static void put_u64(struct buf *out, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	buf_append(out, tmp + i, sizeof(tmp) - i);
}

static void write_literal(struct buf *out, const char *data, size_t len, bool binary)
{
	bool nul = binary && memchr(data, '\0', len) != NULL;
	buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len);
	buf_append(out, data, len);
}

/* The bytes of a BODY[...] section: a view into data, or into tmp. Returns
 * false when the section does not exist. */
static bool section_bytes(const struct fetch_item *it, const struct mime_message *msg, const char *data,
			  size_t len, struct buf *tmp, const char **p_r, size_t *n_r)
{
	const struct mime_part *part = NULL;
	if (it->part != NULL) {
		part = mime_part_find(msg, it->part, strlen(it->part));
		if (part == NULL)
			return false;
	}
	if (it->sec == SEC_ALL) {
		if (part == NULL) {
			*p_r = data;
			*n_r = len;
		} else {
			*p_r = data + part->body_offset;
			*n_r = part->body_size;
		}
		return true;
	}
	if (it->sec == SEC_MIME) {
		*p_r = data + part->header_offset;
		*n_r = part->header_size;
		return true;
	}
	const struct mime_part *m = mime_part_message(msg, part);
	if (m == NULL)
		return false;
	switch (it->sec) {
	case SEC_HEADER:
		*p_r = data + m->header_offset;
		*n_r = m->header_size;
		return true;
	case SEC_TEXT:
		*p_r = data + m->body_offset;
		*n_r = m->body_size;
		return true;
	default:
		mime_header_fields(msg, m->header_offset, m->header_size, (const char *const *)it->fields,
				   it->nfields, it->sec == SEC_FIELDS_NOT, tmp);
		*p_r = tmp->data ? tmp->data : "";
		*n_r = tmp->len;
		return true;
	}
}

static void write_partial(struct buf *out, const struct fetch_item *it, const char *p, size_t n, bool binary)
{
	if (it->partial) {
		size_t off = it->offset < n ? (size_t)it->offset : n;
		size_t cnt = n - off < it->count ? n - off : (size_t)it->count;
		buf_printf(out, "<%llu> ", (unsigned long long)it->offset);
		write_literal(out, p + off, cnt, binary);
	} else {
		buf_putc(out, ' ');
		write_literal(out, p, n, binary);
	}
}

/* Appends the FETCH response of one message. Returns false (nothing
 * written) on a store error. *unknown_cte_r is set for BINARY of a part in
 * an encoding we do not know. */
static void fetch_one(struct imap_session *s, struct fetch_ctx *f, const struct store_msg *m, bool seen_now,
		      struct buf *out, bool *unknown_cte_r)
{
	uint32_t seq = imap_seq_of(s->sel, m->uid);
	char *data = NULL;
	size_t len = 0;
	struct mime_message *msg = NULL;
	const char *error = "message not found";
	if (f->need_data) {
		if (store_msg_read(s->srv->store, m->id, &data, &len, &error) != 1) {
			log_session(s->c->id, "imap fetch: cannot read uid %u: %s", m->uid, error);
			data = xstrdup("");
			len = 0;
		}
		if (f->need_mime)
			msg = mime_parse(data, len);
	}
	if (f->want_flags || seen_now)
		imap_check_keywords(s, m->keywords, out);
	buf_puts(out, "* ");
	put_u64(out, seq);
	buf_puts(out, " FETCH (");
	size_t start = out->len;
#define SP() (out->len > start ? " " : "")
	if (f->want_uid) {
		buf_puts(out, "UID ");
		put_u64(out, m->uid);
	}
	if (f->want_flags || seen_now) {
		buf_puts(out, SP());
		buf_puts(out, "FLAGS ");
		imap_write_flags(s, out, m->uid, m->flags, m->keywords);
	}
	if (f->want_modseq) {
		buf_puts(out, SP());
		buf_puts(out, "MODSEQ (");
		put_u64(out, m->modseq);
		buf_putc(out, ')');
	}
	struct buf tmp;
	buf_init(&tmp, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < f->nitems; i++) {
		const struct fetch_item *it = &f->items[i];
		switch (it->kind) {
		case F_FLAGS:
		case F_UID:
		case F_MODSEQ:
			break;
		case F_INTERNALDATE:
			buf_printf(out, "%sINTERNALDATE \"", SP());
			date_format_imap(m->internaldate, 0, out);
			buf_putc(out, '"');
			break;
		case F_RFC822_SIZE:
			buf_puts(out, SP());
			buf_puts(out, "RFC822.SIZE ");
			put_u64(out, m->size);
			break;
		case F_ENVELOPE:
			buf_puts(out, SP());
			buf_puts(out, "ENVELOPE ");
			buf_puts(out, m->envelope ? m->envelope : "NIL");
			break;
		case F_BODY:
			buf_puts(out, SP());
			buf_puts(out, "BODY ");
			buf_puts(out, m->body ? m->body : "NIL");
			break;
		case F_BODYSTRUCTURE:
			buf_puts(out, SP());
			buf_puts(out, "BODYSTRUCTURE ");
			buf_puts(out, m->bodystructure ? m->bodystructure : "NIL");
			break;
		case F_RFC822:
			buf_printf(out, "%sRFC822 ", SP());
			write_literal(out, data, len, false);
			break;
		case F_RFC822_HEADER:
			buf_printf(out, "%sRFC822.HEADER ", SP());
			write_literal(out, data + msg->root->header_offset, msg->root->header_size, false);
			break;
		case F_RFC822_TEXT:
			buf_printf(out, "%sRFC822.TEXT ", SP());
			write_literal(out, data + msg->root->body_offset, msg->root->body_size, false);
			break;
		case F_SECTION: {
			const char *p;
			size_t n;
			buf_reset(&tmp);
			buf_printf(out, "%s%s", SP(), it->name);
			if (!section_bytes(it, msg, data, len, &tmp, &p, &n)) {
				/* A part that does not exist is empty (as Dovecot). */
				p = "";
				n = 0;
			}
			write_partial(out, it, p, n, false);
			break;
		}
		case F_BINARY:
		case F_BINARY_SIZE: {
			const struct mime_part *part =
			    it->part ? mime_part_find(msg, it->part, strlen(it->part)) : NULL;
			const char *p = data;
			size_t n = len;
			buf_reset(&tmp);
			if (it->part != NULL) {
				if (part == NULL) {
					p = "";
					n = 0;
				} else if (part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) {
					p = data + part->body_offset;
					n = part->body_size;
				} else if (mime_part_decode(msg, part, &tmp, &error) < 0) {
					*unknown_cte_r = true;
					p = "";
					n = 0;
				} else {
					p = tmp.data ? tmp.data : "";
					n = tmp.len;
				}
			}
			if (it->kind == F_BINARY_SIZE)
				buf_printf(out, "%s%s %zu", SP(), it->name, n);
			else {
				buf_printf(out, "%s%s", SP(), it->name);
				write_partial(out, it, p, n, true);
			}
			break;
		}
		}
	}
#undef SP
	buf_puts(out, ")\r\n");
	buf_free(&tmp);
	mime_free(&msg);
	free(data);
}

/* For CATENATE's URLs: the bytes of BODY[section] (section as in a URL:
 * "", "1.2", "HEADER", "1.MIME"...). Returns 0 and a view into data (or
 * tmp), or -1 for a bad section or a part that does not exist. */
int imap_section_bytes(const char *data, size_t len, const char *section, struct buf *tmp, const char **p_r,
		       size_t *n_r)
{
	struct fetch_item it = {0};
	struct buf spec;
	buf_init(&spec, 64 * 1024);
	buf_printf(&spec, "[%s]", section);
	const char *error;
	int r = -1;
	if (spec.len < 64 * 1024 - 1 && parse_section(&it, buf_cstr(&spec), "BODY", &error) == 0) {
		struct mime_message *msg = mime_parse(data, len);
		if (section_bytes(&it, msg, data, len, tmp, p_r, n_r)) {
			/* Views into msg's data stay valid: they point into data. */
			r = 0;
		}
		mime_free(&msg);
	}
	buf_free(&spec);
	free(it.part);
	for (size_t k = 0; k < it.nfields; k++)
		free(it.fields[k]);
	free(it.fields);
	free(it.name);
	return r;
}

/* ---- the loop --------------------------------------------------------------- */

/* What the items need from the store, and what they imply. */
static void fetch_plan(struct fetch_ctx *f)
{
	for (size_t i = 0; i < f->nitems; i++) {
		const struct fetch_item *it = &f->items[i];
		switch (it->kind) {
		case F_UID:
			f->want_uid = true;
			break;
		case F_FLAGS:
			f->want_flags = true;
			break;
		case F_MODSEQ:
			f->want_modseq = true;
			break;
		case F_ENVELOPE:
			f->store_fields |= STORE_FIELD_ENVELOPE;
			break;
		case F_BODY:
		case F_BODYSTRUCTURE:
			f->store_fields |= STORE_FIELD_STRUCTURE;
			break;
		case F_RFC822:
			f->need_data = true;
			f->sets_seen = true;
			break;
		case F_RFC822_TEXT:
			f->sets_seen = true;
			/* fall through */
		case F_RFC822_HEADER:
			f->need_data = f->need_mime = true;
			break;
		case F_SECTION:
		case F_BINARY:
		case F_BINARY_SIZE:
			f->need_data = true;
			f->need_mime =
			    f->need_mime || it->part != NULL || it->sec != SEC_ALL || it->kind != F_SECTION;
			f->sets_seen = f->sets_seen || !it->peek;
			break;
		default:
			break;
		}
	}
}

static void fetch_continue(struct imap_session *s);

static void fetch_finish(struct imap_session *s, struct fetch_ctx *f, bool unknown_cte)
{
	struct imap_cmd *cmd = &s->cur;
	if (unknown_cte)
		imap_done(s, cmd, "NO", "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding.");
	else if (f->missing && !cmd->uid)
		imap_done(s, cmd, "NO", "[EXPUNGEISSUED] Some of the requested messages no longer exist.");
	else
		imap_done(s, cmd, "OK", "Fetch completed.");
}

/* Answers messages from f->pos on, until done or the client is behind. */
static void fetch_continue(struct imap_session *s)
{
	struct fetch_ctx *f = s->cmd_ctx;
	struct buf out;
	buf_init(&out, BUF_MAX_DEFAULT);
	bool unknown_cte = false;
	while (f->pos < f->count) {
		size_t end = f->pos + FETCH_BATCH < f->count ? f->pos + FETCH_BATCH : f->count;
		uint32_t lo = f->uids[f->pos], hi = f->uids[end - 1];
		struct store_msg_iter *it =
		    store_msg_iter_new(s->srv->store, s->sel->id, lo, hi, f->store_fields);
		struct store_msg m;
		size_t k = f->pos;
		bool behind = false;
		while (k < end && store_msg_iter_next(it, &m) == 1) {
			while (k < end && f->uids[k] < m.uid) {
				f->missing = true;
				k++;
			}
			if (k == end)
				break;
			if (f->uids[k] != m.uid)
				continue;
			k++;
			if (f->changedsince && m.modseq <= f->changedsince)
				continue;
			bool seen_now = f->seen_count > 0 && imap_u32_contains(f->seen, f->seen_count, m.uid);
			if (seen_now)
				imap_own_change(s->sel, m.uid, m.modseq);
			fetch_one(s, f, &m, seen_now, &out, &unknown_cte);
			f->found++;
			if (out.len > 64 * 1024) {
				imap_write_buf(s, &out);
				buf_reset(&out);
				if (conn_output_pending(s->c) > FETCH_OUTPUT_HIGH) {
					behind = true;
					break;
				}
			}
		}
		if (!behind && k < end) {
			/* The iterator ended early: the rest is gone. */
			f->missing = true;
			k = end;
		}
		const char *error;
		if (store_msg_iter_free(&it, &error) < 0)
			log_session(s->c->id, "imap fetch: %s", error);
		f->pos = k;
		if (behind && f->pos < f->count) {
			imap_write_buf(s, &out);
			buf_free(&out);
			s->drained = fetch_continue;
			if (s->wait != IMAP_WAIT_OUTPUT)
				imap_wait(s, IMAP_WAIT_OUTPUT);
			return;
		}
	}
	imap_write_buf(s, &out);
	buf_free(&out);
	fetch_finish(s, f, unknown_cte);
}

void cmd_fetch(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	if (cmd->argc < 2 || cmd->argc > 3) {
		imap_bad(s, cmd, "FETCH needs a sequence set and attributes");
		return;
	}
	struct fetch_ctx *f = xmalloc(sizeof(*f));
	if (parse_attrs(f, &cmd->args[1], &error) < 0 ||
	    (cmd->argc == 3 && parse_modifiers(s, f, &cmd->args[2], cmd->uid, &error) < 0)) {
		fetch_ctx_free(f);
		imap_bad(s, cmd, "%s", error);
		return;
	}
	if (imap_set_to_uids(s, &cmd->args[0], cmd->uid, &f->uids, &f->count, &error) < 0) {
		fetch_ctx_free(f);
		imap_bad(s, cmd, "%s", error);
		return;
	}
	f->want_uid = cmd->uid;
	fetch_plan(f);
	if (f->want_modseq || f->changedsince)
		imap_enable_condstore(s);
	if (f->changedsince)
		f->want_modseq = true;
	if (s->sel->readonly)
		f->sets_seen = false;
	s->cmd_ctx = f;
	s->cmd_ctx_free = fetch_ctx_free;

	/* QRESYNC: expunged messages of the set since CHANGEDSINCE. */
	if (f->vanished) {
		struct store_changes ch = {0};
		if (store_changes_since(s->srv->store, s->sel->id, f->changedsince, &ch, &error) == 0) {
			struct imap_seqset set;
			if (imap_seqset_parse(cmd->args[0].str, cmd->args[0].len, &set, &error) == 0) {
				imap_seqset_resolve(&set, s->sel->uidnext > 0 ? s->sel->uidnext - 1 : 0);
				uint32_t *v = xcalloc(ch.expunged_count + 1, sizeof(*v));
				size_t n = 0;
				for (size_t i = 0; i < ch.expunged_count; i++)
					if (imap_seqset_contains(&set, ch.expunged[i]) &&
					    imap_seq_of(s->sel, ch.expunged[i]) == 0 &&
					    (n == 0 || v[n - 1] != ch.expunged[i]))
						v[n++] = ch.expunged[i];
				if (n > 0) {
					struct buf b;
					buf_init(&b, BUF_MAX_DEFAULT);
					buf_puts(&b, "* VANISHED (EARLIER) ");
					imap_seqset_write(&b, v, n);
					buf_puts(&b, "\r\n");
					imap_write_buf(s, &b);
					buf_free(&b);
				}
				free(v);
				imap_seqset_free(&set);
			}
			store_changes_clear(&ch);
		}
	}

	/* \Seen first, so that the responses carry the new flags. */
	if (f->sets_seen && f->count > 0) {
		struct store_msg_iter *it = store_msg_iter_new(s->srv->store, s->sel->id, f->uids[0],
							       f->uids[f->count - 1], STORE_FIELD_BASIC);
		struct store_msg m;
		size_t cap = 0;
		while (store_msg_iter_next(it, &m) == 1) {
			if ((m.flags & STORE_FLAG_SEEN) || !imap_u32_contains(f->uids, f->count, m.uid))
				continue;
			if (f->seen_count == cap) {
				cap = cap ? cap * 2 : 16;
				f->seen = xreallocarray(f->seen, cap, sizeof(*f->seen));
			}
			f->seen[f->seen_count++] = m.uid;
		}
		store_msg_iter_free(&it, &error);
		if (f->seen_count > 0 &&
		    store_msg_set_flags(s->srv->store, s->sel->id, f->seen, f->seen_count, STORE_FLAGS_ADD,
					STORE_FLAG_SEEN, NULL, 0, NULL, NULL, &error) < 0) {
			log_session(s->c->id, "imap fetch: setting \\Seen failed: %s", error);
			f->seen_count = 0;
		}
		if (f->seen_count > 0)
			s->sel->dirty = true;
	}
	fetch_continue(s);
}

/* ---- NOTIFY's MessageNew attributes ---------------------------------------- */

struct imap_fetch_atts {
	struct fetch_ctx *f;
};

struct imap_fetch_atts *imap_fetch_atts_parse(const struct imap_arg *a, const char **error_r)
{
	struct fetch_ctx *f = xmalloc(sizeof(*f));
	if (parse_attrs(f, a, error_r) < 0) {
		fetch_ctx_free(f);
		return NULL;
	}
	fetch_plan(f);
	if (f->sets_seen) {
		fetch_ctx_free(f);
		*error_r = "Attributes that set \\Seen are not allowed here";
		return NULL;
	}
	struct imap_fetch_atts *fa = xmalloc(sizeof(*fa));
	fa->f = f;
	return fa;
}

void imap_fetch_atts_free(struct imap_fetch_atts **fap)
{
	if (*fap == NULL)
		return;
	fetch_ctx_free((*fap)->f);
	free(*fap);
	*fap = NULL;
}

void imap_fetch_atts_write(struct imap_session *s, struct imap_fetch_atts *fa, const uint32_t *uids, size_t n)
{
	struct fetch_ctx *f = fa->f;
	if (n == 0)
		return;
	bool want_uid = f->want_uid;
	f->want_uid = want_uid || s->qresync; /* RFC 7162 3.2.4 */
	if (f->want_modseq)
		imap_enable_condstore(s);
	struct buf out;
	buf_init(&out, BUF_MAX_DEFAULT);
	bool unknown_cte = false;
	struct store_msg_iter *it =
	    store_msg_iter_new(s->srv->store, s->sel->id, uids[0], uids[n - 1], f->store_fields);
	struct store_msg m;
	while (store_msg_iter_next(it, &m) == 1) {
		if (!imap_u32_contains(uids, n, m.uid) || imap_seq_of(s->sel, m.uid) == 0)
			continue;
		fetch_one(s, f, &m, false, &out, &unknown_cte);
		if (out.len > 64 * 1024) {
			imap_write_buf(s, &out);
			buf_reset(&out);
		}
	}
	const char *error;
	if (store_msg_iter_free(&it, &error) < 0)
		log_session(s->c->id, "imap notify fetch: %s", error);
	imap_write_buf(s, &out);
	buf_free(&out);
	f->want_uid = want_uid;
}
