/* imap_search: search programs (see imap_search.h).
 *
 * A program becomes a tree of keys; the children of every AND are ordered
 * by cost (flags, numbers and dates first; headers, then bodies last) so
 * that the stored bytes of a message are read only when the cheap keys
 * have not already decided. Message data is loaded lazily, once per
 * message: the stored bytes, the MIME tree, the decoded and case-folded
 * header and body text for TEXT/BODY/HEADER.
 *
 * String keys compare MIME-decoded (RFC 2047, charsets, transfer
 * encodings), case- and accent-folded text (charset_fold), as substrings.
 * In big mailboxes TEXT and BODY first ask the full-text index for
 * candidates (see IMAP_SEARCH_SCAN_MAX); every candidate is then checked. */
#include "imap/imap_search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server.h"
#include "mime/address.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "mime/rfc2047.h"
#include "util/charset.h"
#include "util/date.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

#define SEARCH_MAX_DEPTH 100
#define SEARCH_MAX_KEYS 10000

enum skey_type {
	SK_ALL,
	SK_AND,
	SK_OR,
	SK_NOT,
	SK_SEQSET,
	SK_UIDSET,
	SK_SAVED,
	SK_FLAG, /* flag bit set */
	SK_KEYWORD,
	SK_RECENT,
	SK_NEW,
	SK_BEFORE,
	SK_ON,
	SK_SINCE,
	SK_SENTBEFORE,
	SK_SENTON,
	SK_SENTSINCE,
	SK_LARGER,
	SK_SMALLER,
	SK_HEADER,
	SK_BODY,
	SK_TEXT,
	SK_MODSEQ,
};

struct skey {
	enum skey_type type;
	struct skey *kids;
	size_t nkids;
	uint32_t flag;
	char *str;    /* keyword, header field name */
	char *value;  /* folded search string */
	uint64_t num; /* size, modseq, day number */
	struct imap_seqset set;
	int cost;
};

struct imap_search {
	struct skey root; /* SK_AND */
	size_t nkeys;
	bool modseq_used;
	const char *charset;
};

/* ---- parsing ----------------------------------------------------------- */

static int fold_string(struct imap_search *q, const struct imap_arg *a, char **out, const char **error_r)
{
	const char *raw = imap_astring(a);
	if (raw == NULL) {
		*error_r = "Invalid search string";
		return -1;
	}
	struct buf utf8, folded;
	buf_init(&utf8, 1 << 20);
	buf_init(&folded, 4 << 20);
	const char *src = raw;
	size_t len = strlen(raw);
	if (q->charset != NULL && strcasecmp(q->charset, "UTF-8") != 0 &&
	    strcasecmp(q->charset, "US-ASCII") != 0) {
		charset_to_utf8(q->charset, raw, len, &utf8);
		src = buf_cstr(&utf8);
		len = utf8.len;
	}
	charset_fold(src, len, &folded);
	*out = folded.len ? buf_steal(&folded, NULL) : xstrdup("");
	buf_free(&folded);
	buf_free(&utf8);
	return 0;
}

static int parse_key(struct imap_session *s, struct imap_search *q, const struct imap_arg *args, size_t argc,
		     size_t *i, struct skey *k, unsigned depth, const char **error_r);

static int parse_date(const struct imap_arg *a, uint64_t *day_r)
{
	const char *str = imap_astring(a);
	time_t t;
	if (str == NULL || date_parse_imap_date(str, strlen(str), &t) < 0)
		return -1;
	*day_r = (uint64_t)(t / 86400 + (1LL << 40)); /* offset: keeps pre-1970 dates positive */
	return 0;
}

static int need(size_t i, size_t argc, const char **error_r)
{
	if (i >= argc) {
		*error_r = "Missing search argument";
		return -1;
	}
	return 0;
}

static int key_cost(const struct skey *k)
{
	switch (k->type) {
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		return 1;
	case SK_HEADER:
		return 2;
	case SK_BODY:
	case SK_TEXT:
		return 3;
	case SK_AND:
	case SK_OR:
	case SK_NOT: {
		int c = 0;
		for (size_t i = 0; i < k->nkids; i++)
			if (k->kids[i].cost > c)
				c = k->kids[i].cost;
		return c;
	}
	default:
		return 0;
	}
}

static int cost_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;
	return x->cost - y->cost;
}

/* Parses keys until the end of args (or of a list) into the AND k. */
static int parse_list(struct imap_session *s, struct imap_search *q, const struct imap_arg *args, size_t argc,
		      struct skey *k, unsigned depth, const char **error_r)
{
	k->type = SK_AND;
	size_t i = 0;
	if (argc == 0) {
		*error_r = "Empty search program";
		return -1;
	}
	while (i < argc) {
		k->kids = xreallocarray(k->kids, k->nkids + 1, sizeof(*k->kids));
		struct skey *kid = &k->kids[k->nkids++];
		memset(kid, 0, sizeof(*kid));
		if (parse_key(s, q, args, argc, &i, kid, depth + 1, error_r) < 0)
			return -1;
	}
	/* A stable order would be nicer; results do not depend on it. */
	qsort(k->kids, k->nkids, sizeof(*k->kids), cost_cmp);
	k->cost = key_cost(k);
	return 0;
}

static int parse_key(struct imap_session *s, struct imap_search *q, const struct imap_arg *args, size_t argc,
		     size_t *ip, struct skey *k, unsigned depth, const char **error_r)
{
	size_t i = *ip;
	const struct imap_arg *a = &args[i++];
	if (depth > SEARCH_MAX_DEPTH || ++q->nkeys > SEARCH_MAX_KEYS) {
		*error_r = "Search program too complex";
		return -1;
	}
	if (a->type == IMAP_ARG_LIST) {
		if (parse_list(s, q, a->list, a->count, k, depth, error_r) < 0)
			return -1;
		*ip = i;
		return 0;
	}
	if (a->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid search key";
		return -1;
	}
	const char *w = a->str;
	static const struct {
		const char *name;
		uint32_t flag;
		bool negate;
	} flags[] = {
	    {"ANSWERED", STORE_FLAG_ANSWERED, false}, {"DELETED", STORE_FLAG_DELETED, false},
	    {"DRAFT", STORE_FLAG_DRAFT, false},	      {"FLAGGED", STORE_FLAG_FLAGGED, false},
	    {"SEEN", STORE_FLAG_SEEN, false},	      {"UNANSWERED", STORE_FLAG_ANSWERED, true},
	    {"UNDELETED", STORE_FLAG_DELETED, true},  {"UNDRAFT", STORE_FLAG_DRAFT, true},
	    {"UNFLAGGED", STORE_FLAG_FLAGGED, true},  {"UNSEEN", STORE_FLAG_SEEN, true},
	};
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		if (strcasecmp(w, flags[f].name) == 0) {
			if (flags[f].negate) {
				k->type = SK_NOT;
				k->kids = xcalloc(1, sizeof(*k->kids));
				k->nkids = 1;
				k->kids[0].type = SK_FLAG;
				k->kids[0].flag = flags[f].flag;
			} else {
				k->type = SK_FLAG;
				k->flag = flags[f].flag;
			}
			*ip = i;
			return 0;
		}
	}
	if (strcasecmp(w, "ALL") == 0)
		k->type = SK_ALL;
	else if (strcasecmp(w, "RECENT") == 0)
		k->type = SK_RECENT;
	else if (strcasecmp(w, "NEW") == 0)
		k->type = SK_NEW;
	else if (strcasecmp(w, "OLD") == 0) {
		k->type = SK_NOT;
		k->kids = xcalloc(1, sizeof(*k->kids));
		k->nkids = 1;
		k->kids[0].type = SK_RECENT;
	} else if (strcasecmp(w, "NOT") == 0) {
		if (need(i, argc, error_r) < 0)
			return -1;
		k->type = SK_NOT;
		k->kids = xcalloc(1, sizeof(*k->kids));
		k->nkids = 1;
		if (parse_key(s, q, args, argc, &i, &k->kids[0], depth + 1, error_r) < 0)
			return -1;
	} else if (strcasecmp(w, "OR") == 0) {
		k->type = SK_OR;
		k->kids = xcalloc(2, sizeof(*k->kids));
		k->nkids = 2;
		if (need(i, argc, error_r) < 0 ||
		    parse_key(s, q, args, argc, &i, &k->kids[0], depth + 1, error_r) < 0 ||
		    need(i, argc, error_r) < 0 ||
		    parse_key(s, q, args, argc, &i, &k->kids[1], depth + 1, error_r) < 0)
			return -1;
	} else if (strcasecmp(w, "KEYWORD") == 0 || strcasecmp(w, "UNKEYWORD") == 0) {
		if (need(i, argc, error_r) < 0 || args[i].type != IMAP_ARG_ATOM) {
			*error_r = "Invalid keyword";
			return -1;
		}
		struct skey *t = k;
		if (strcasecmp(w, "UNKEYWORD") == 0) {
			k->type = SK_NOT;
			k->kids = xcalloc(1, sizeof(*k->kids));
			k->nkids = 1;
			t = &k->kids[0];
		}
		t->type = SK_KEYWORD;
		t->str = xstrdup(args[i].str);
		/* Our flag bits that IMAP spells as keywords. */
		if (strcasecmp(t->str, "$Forwarded") == 0)
			t->flag = STORE_FLAG_FORWARDED;
		else if (strcasecmp(t->str, "$Junk") == 0)
			t->flag = STORE_FLAG_JUNK;
		else if (strcasecmp(t->str, "$NotJunk") == 0)
			t->flag = STORE_FLAG_NOTJUNK;
		i++;
	} else if (strcasecmp(w, "BEFORE") == 0 || strcasecmp(w, "ON") == 0 || strcasecmp(w, "SINCE") == 0 ||
		   strcasecmp(w, "SENTBEFORE") == 0 || strcasecmp(w, "SENTON") == 0 ||
		   strcasecmp(w, "SENTSINCE") == 0) {
		if (need(i, argc, error_r) < 0 || parse_date(&args[i], &k->num) < 0) {
			*error_r = "Invalid search date";
			return -1;
		}
		i++;
		bool sent = strncasecmp(w, "SENT", 4) == 0;
		const char *base = sent ? w + 4 : w;
		if (strcasecmp(base, "BEFORE") == 0)
			k->type = sent ? SK_SENTBEFORE : SK_BEFORE;
		else if (strcasecmp(base, "ON") == 0)
			k->type = sent ? SK_SENTON : SK_ON;
		else
			k->type = sent ? SK_SENTSINCE : SK_SINCE;
	} else if (strcasecmp(w, "LARGER") == 0 || strcasecmp(w, "SMALLER") == 0) {
		if (need(i, argc, error_r) < 0 || args[i].type != IMAP_ARG_ATOM ||
		    str_to_u64(args[i].str, &k->num) < 0) {
			*error_r = "Invalid search size";
			return -1;
		}
		i++;
		k->type = strcasecmp(w, "LARGER") == 0 ? SK_LARGER : SK_SMALLER;
	} else if (strcasecmp(w, "UID") == 0) {
		if (need(i, argc, error_r) < 0 || args[i].type != IMAP_ARG_ATOM) {
			*error_r = "Invalid UID set";
			return -1;
		}
		if (strcmp(args[i].str, "$") == 0)
			k->type = SK_SAVED;
		else {
			k->type = SK_UIDSET;
			if (imap_seqset_parse(args[i].str, args[i].len, &k->set, error_r) < 0)
				return -1;
			const struct imap_selected *sel = s->sel;
			imap_seqset_resolve(&k->set, sel->count ? sel->uids[sel->count - 1] : 0);
		}
		i++;
	} else if (strcasecmp(w, "MODSEQ") == 0) {
		/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer */
		if (i + 2 < argc + 0 && imap_arg_is_string(&args[i]) && args[i + 1].type == IMAP_ARG_ATOM)
			i += 2;
		if (need(i, argc, error_r) < 0 || args[i].type != IMAP_ARG_ATOM ||
		    str_to_u64(args[i].str, &k->num) < 0) {
			*error_r = "Invalid MODSEQ";
			return -1;
		}
		i++;
		k->type = SK_MODSEQ;
		q->modseq_used = true;
	} else if (strcasecmp(w, "HEADER") == 0) {
		if (need(i + 1, argc, error_r) < 0 || imap_astring(&args[i]) == NULL) {
			*error_r = "Invalid HEADER search";
			return -1;
		}
		k->type = SK_HEADER;
		k->str = xstrdup(args[i].str);
		if (fold_string(q, &args[i + 1], &k->value, error_r) < 0)
			return -1;
		i += 2;
	} else if (strcasecmp(w, "BCC") == 0 || strcasecmp(w, "CC") == 0 || strcasecmp(w, "FROM") == 0 ||
		   strcasecmp(w, "TO") == 0 || strcasecmp(w, "SUBJECT") == 0) {
		if (need(i, argc, error_r) < 0)
			return -1;
		k->type = SK_HEADER;
		k->str = xstrdup(w);
		if (fold_string(q, &args[i], &k->value, error_r) < 0)
			return -1;
		i++;
	} else if (strcasecmp(w, "BODY") == 0 || strcasecmp(w, "TEXT") == 0) {
		if (need(i, argc, error_r) < 0)
			return -1;
		k->type = strcasecmp(w, "BODY") == 0 ? SK_BODY : SK_TEXT;
		if (fold_string(q, &args[i], &k->value, error_r) < 0)
			return -1;
		/* Keep the original words for the full-text index. */
		k->str = xstrdup(imap_astring(&args[i]));
		i++;
	} else if (strcmp(w, "$") == 0)
		k->type = SK_SAVED;
	else if ((w[0] >= '0' && w[0] <= '9') || w[0] == '*') {
		k->type = SK_SEQSET;
		if (imap_seqset_parse(w, a->len, &k->set, error_r) < 0)
			return -1;
		imap_seqset_resolve(&k->set, (uint32_t)s->sel->count);
	} else {
		*error_r = "Unknown search key";
		return -1;
	}
	k->cost = key_cost(k);
	*ip = i;
	return 0;
}

static void skey_free(struct skey *k)
{
	for (size_t i = 0; i < k->nkids; i++)
		skey_free(&k->kids[i]);
	free(k->kids);
	free(k->str);
	free(k->value);
	imap_seqset_free(&k->set);
}

void imap_search_free(struct imap_search **qp)
{
	struct imap_search *q = *qp;
	if (q == NULL)
		return;
	skey_free(&q->root);
	free(q);
	*qp = NULL;
}

int imap_search_set_charset(const char *charset, const char **error_r)
{
	if (strcasecmp(charset, "UTF-8") == 0 || strcasecmp(charset, "US-ASCII") == 0 ||
	    charset_is_known(charset))
		return 0;
	*error_r = "Unknown charset";
	return -1;
}

struct imap_search *imap_search_parse(struct imap_session *s, const struct imap_arg *args, size_t argc,
				      const char *charset, const char **error_r, bool *badcharset_r)
{
	*badcharset_r = false;
	struct imap_search *q = xmalloc(sizeof(*q));
	q->charset = charset;
	if (charset == NULL && argc >= 2 && imap_arg_atom_is(&args[0], "CHARSET")) {
		const char *cs = imap_astring(&args[1]);
		if (cs == NULL || imap_search_set_charset(cs, error_r) < 0) {
			*badcharset_r = cs != NULL;
			*error_r = cs ? "Unknown charset" : "Invalid charset";
			free(q);
			return NULL;
		}
		q->charset = cs;
		args += 2;
		argc -= 2;
	}
	if (parse_list(s, q, args, argc, &q->root, 0, error_r) < 0) {
		imap_search_free(&q);
		return NULL;
	}
	return q;
}

/* ---- matching ------------------------------------------------------------ */

struct smsg {
	struct imap_session *s;
	const struct store_msg *m;
	uint32_t seq;
	int loaded; /* 0 not yet, 1 yes, -1 failed */
	char *data;
	size_t len;
	struct mime_message *mime;
	bool hdr_done, body_done;
	struct buf hdr;	 /* decoded, folded header text */
	struct buf body; /* decoded, folded body text */
	bool sent_done;
	long long sent_day;
};

static int smsg_load(struct smsg *sm)
{
	if (sm->loaded != 0)
		return sm->loaded;
	const char *error;
	if (store_msg_read(sm->s->srv->store, sm->m->id, &sm->data, &sm->len, &error) != 1) {
		sm->loaded = -1;
		return -1;
	}
	sm->mime = mime_parse(sm->data, sm->len);
	sm->loaded = 1;
	return 1;
}

static void smsg_free(struct smsg *sm)
{
	mime_free(&sm->mime);
	free(sm->data);
	buf_free(&sm->hdr);
	buf_free(&sm->body);
}

/* Appends the decoded, folded value of a header field. */
static void fold_value(const struct mime_header_field *f, struct buf *out)
{
	struct buf dec;
	buf_init(&dec, 1 << 20);
	rfc2047_decode(f->value, f->value_len, &dec);
	charset_fold(dec.data ? dec.data : "", dec.len, out);
	buf_free(&dec);
}

static bool contains(const char *hay, size_t hlen, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return true;
	return hlen >= n && memmem(hay, hlen, needle, n) != NULL;
}

static bool is_address_field(const char *name)
{
	static const char *const names[] = {"From", "To", "Cc", "Bcc", "Sender", "Reply-To"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

/* Address fields are also searched in a normalized form, "Name
 * <local@domain>" per address and "group:" per group, so that comments
 * and odd spacing inside addresses do not hide them (as Dovecot does). */
static void fold_addresses(const struct mime_header_field *f, struct buf *out)
{
	struct mime_address *list = NULL;
	size_t n = mime_address_parse(f->value, f->value_len, &list);
	struct buf t;
	buf_init(&t, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		const struct mime_address *a = &list[i];
		if (a->kind == MIME_ADDRESS_GROUP_END)
			continue;
		if (a->name != NULL) {
			rfc2047_decode(a->name, strlen(a->name), &t);
			buf_putc(&t, ' ');
		}
		if (a->kind == MIME_ADDRESS_GROUP_START) {
			buf_puts(&t, ":\n");
			continue;
		}
		buf_putc(&t, '<');
		if (a->mailbox != NULL)
			buf_puts(&t, a->mailbox);
		if (a->domain != NULL) {
			buf_putc(&t, '@');
			buf_puts(&t, a->domain);
		}
		buf_puts(&t, ">\n");
	}
	charset_fold(t.data ? t.data : "", t.len, out);
	buf_free(&t);
	mime_address_list_free(&list, n);
}

static bool match_header(struct smsg *sm, const struct skey *k)
{
	if (smsg_load(sm) < 0)
		return false;
	const struct mime_part *root = sm->mime->root;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, sm->data + root->header_offset, root->header_size);
	bool found = false;
	struct buf v;
	buf_init(&v, 4 << 20);
	while (!found && mime_header_iter_next(&it, &f) == 1) {
		if (!mime_header_name_is(&f, k->str))
			continue;
		if (k->value[0] == '\0')
			found = true;
		else {
			buf_reset(&v);
			fold_value(&f, &v);
			found = contains(v.data ? v.data : "", v.len, k->value);
			if (!found && is_address_field(k->str)) {
				buf_reset(&v);
				fold_addresses(&f, &v);
				found = contains(v.data ? v.data : "", v.len, k->value);
			}
		}
	}
	buf_free(&v);
	return found;
}

static void load_hdr_text(struct smsg *sm)
{
	if (sm->hdr_done)
		return;
	sm->hdr_done = true;
	buf_init(&sm->hdr, 8 << 20);
	const struct mime_part *root = sm->mime->root;
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, sm->data + root->header_offset, root->header_size);
	while (mime_header_iter_next(&it, &f) == 1) {
		charset_fold(f.name, f.name_len, &sm->hdr);
		buf_puts(&sm->hdr, ": ");
		fold_value(&f, &sm->hdr);
		buf_putc(&sm->hdr, '\n');
	}
}

static void body_walk(struct smsg *sm, const struct mime_part *p, struct buf *text)
{
	for (; p != NULL; p = p->next) {
		if (p->flags & MIME_PART_MULTIPART)
			body_walk(sm, p->children, text);
		else if (p->flags & MIME_PART_MESSAGE) {
			/* The encapsulated message: its header and its body. */
			const struct mime_part *m = p->children;
			if (m != NULL) {
				struct mime_header_iter it;
				struct mime_header_field f;
				mime_header_iter_init(&it, sm->data + m->header_offset, m->header_size);
				struct buf dec;
				buf_init(&dec, 1 << 20);
				while (mime_header_iter_next(&it, &f) == 1) {
					buf_reset(&dec);
					rfc2047_decode(f.value, f.value_len, &dec);
					buf_append(text, f.name, f.name_len);
					buf_puts(text, ": ");
					buf_append(text, dec.data ? dec.data : "", dec.len);
					buf_putc(text, '\n');
				}
				buf_free(&dec);
				if (m->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
					body_walk(sm, m->children, text);
				else
					mime_part_text(sm->mime, m, 0, text);
			}
		} else if (p->flags & MIME_PART_TEXT)
			mime_part_text(sm->mime, p, 0, text);
		buf_putc(text, '\n');
	}
}

static void load_body_text(struct smsg *sm)
{
	if (sm->body_done)
		return;
	sm->body_done = true;
	struct buf text;
	buf_init(&text, 16 << 20);
	const struct mime_part *root = sm->mime->root;
	if (root->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
		body_walk(sm, root->children, &text);
	else
		mime_part_text(sm->mime, root, 0, &text);
	buf_init(&sm->body, 32 << 20);
	charset_fold(text.data ? text.data : "", text.len, &sm->body);
	buf_free(&text);
}

static bool match_text(struct smsg *sm, const struct skey *k)
{
	if (smsg_load(sm) < 0)
		return false;
	if (k->type == SK_TEXT) {
		load_hdr_text(sm);
		if (contains(sm->hdr.data ? sm->hdr.data : "", sm->hdr.len, k->value))
			return true;
	}
	load_body_text(sm);
	return contains(sm->body.data ? sm->body.data : "", sm->body.len, k->value);
}

#define DAY_OFFSET (1LL << 40)

/* The day (as parse_date numbers it) of the Date: header in its own zone,
 * as RFC 3501 wants for SENT*: "disregarding time and timezone". */
static long long sent_day(struct smsg *sm, long long boundary)
{
	if (sm->sent_done)
		return sm->sent_day;
	time_t t = sm->m->sent_date;
	/* Far from the boundary, the zone cannot matter (zones are -12..+14 h). */
	long long lo = ((long long)t - 12 * 3600) / 86400 + DAY_OFFSET;
	long long hi = ((long long)t + 14 * 3600) / 86400 + DAY_OFFSET;
	if (t != 0 && (hi < boundary || lo > boundary))
		return (lo + hi) / 2;
	sm->sent_done = true;
	sm->sent_day = (long long)(t / 86400) + DAY_OFFSET;
	if (smsg_load(sm) < 0)
		return sm->sent_day;
	char *date = mime_header_get(sm->mime, sm->mime->root, "Date");
	int tz;
	time_t dt;
	if (date != NULL && date_parse_rfc5322(date, strlen(date), &dt, &tz) == 0)
		sm->sent_day = ((long long)dt + tz * 60LL) / 86400 + DAY_OFFSET;
	else if (date == NULL || t == 0)
		sm->sent_day = (long long)(sm->m->internaldate / 86400) + DAY_OFFSET;
	free(date);
	return sm->sent_day;
}

static bool has_keyword(const char *list, const char *kw)
{
	if (list == NULL)
		return false;
	size_t n = strlen(kw);
	const char *p = list;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if ((size_t)(e - p) == n && strncasecmp(p, kw, n) == 0)
			return true;
		p = e;
	}
	return false;
}

static bool eval(struct smsg *sm, const struct skey *k)
{
	const struct store_msg *m = sm->m;
	const struct imap_selected *sel = sm->s->sel;
	switch (k->type) {
	case SK_ALL:
		return true;
	case SK_AND:
		for (size_t i = 0; i < k->nkids; i++)
			if (!eval(sm, &k->kids[i]))
				return false;
		return true;
	case SK_OR:
		return eval(sm, &k->kids[0]) || eval(sm, &k->kids[1]);
	case SK_NOT:
		return !eval(sm, &k->kids[0]);
	case SK_SEQSET:
		return imap_seqset_contains(&k->set, sm->seq);
	case SK_UIDSET:
		return imap_seqset_contains(&k->set, m->uid);
	case SK_SAVED: {
		size_t lo = 0, hi = sel->saved_count;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (sel->saved[mid] < m->uid)
				lo = mid + 1;
			else if (sel->saved[mid] > m->uid)
				hi = mid;
			else
				return true;
		}
		return false;
	}
	case SK_FLAG:
		return (m->flags & k->flag) != 0;
	case SK_KEYWORD:
		return k->flag ? (m->flags & k->flag) != 0 : has_keyword(m->keywords, k->str);
	case SK_RECENT:
		return !sm->s->rev2 && imap_is_recent(sel, m->uid);
	case SK_NEW:
		return !sm->s->rev2 && imap_is_recent(sel, m->uid) && !(m->flags & STORE_FLAG_SEEN);
	case SK_BEFORE:
		return (long long)(m->internaldate / 86400) + DAY_OFFSET < (long long)k->num;
	case SK_ON:
		return (long long)(m->internaldate / 86400) + DAY_OFFSET == (long long)k->num;
	case SK_SINCE:
		return (long long)(m->internaldate / 86400) + DAY_OFFSET >= (long long)k->num;
	case SK_SENTBEFORE:
		return sent_day(sm, (long long)k->num) < (long long)k->num;
	case SK_SENTON:
		return sent_day(sm, (long long)k->num) == (long long)k->num;
	case SK_SENTSINCE:
		return sent_day(sm, (long long)k->num) >= (long long)k->num;
	case SK_LARGER:
		return m->size > k->num;
	case SK_SMALLER:
		return m->size < k->num;
	case SK_HEADER:
		return match_header(sm, k);
	case SK_BODY:
	case SK_TEXT:
		return match_text(sm, k);
	case SK_MODSEQ:
		return m->modseq >= k->num;
	}
	return false;
}

static bool needs_summary(const struct skey *k)
{
	if (k->type == SK_SENTBEFORE || k->type == SK_SENTON || k->type == SK_SENTSINCE)
		return true;
	for (size_t i = 0; i < k->nkids; i++)
		if (needs_summary(&k->kids[i]))
			return true;
	return false;
}

/* The full-text field that can give candidates for key k, or -1. */
static int fts_field(const struct skey *k, const char **query_r)
{
	if ((k->type == SK_TEXT || k->type == SK_BODY) && k->str != NULL && k->str[0] != '\0') {
		*query_r = k->str;
		return k->type == SK_BODY ? STORE_SEARCH_BODY : STORE_SEARCH_TEXT;
	}
	if (k->type == SK_HEADER && k->value != NULL && k->value[0] != '\0') {
		*query_r = k->value;
		if (strcasecmp(k->str, "Subject") == 0)
			return STORE_SEARCH_SUBJECT;
		if (strcasecmp(k->str, "From") == 0)
			return STORE_SEARCH_FROM;
		if (strcasecmp(k->str, "To") == 0 || strcasecmp(k->str, "Cc") == 0)
			return STORE_SEARCH_TO;
	}
	return -1;
}

/* A key every match must satisfy (a child of the top AND) that the
 * full-text index can answer: TEXT, BODY, SUBJECT, FROM, TO, CC. */
static const struct skey *fts_key(const struct skey *root, int *field_r, const char **query_r)
{
	for (size_t i = 0; i < root->nkids; i++) {
		const struct skey *k = &root->kids[i];
		int f = fts_field(k, query_r);
		if (f >= 0) {
			*field_r = f;
			return k;
		}
		if (k->type == SK_AND) {
			const struct skey *r = fts_key(k, field_r, query_r);
			if (r != NULL)
				return r;
		}
	}
	return NULL;
}

static void result_add(struct imap_search_result *res, size_t *cap, const struct store_msg *m)
{
	if (res->count == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		res->uids = xreallocarray(res->uids, *cap, sizeof(*res->uids));
		res->modseqs = xreallocarray(res->modseqs, *cap, sizeof(*res->modseqs));
	}
	res->modseqs[res->count] = m->modseq;
	res->uids[res->count++] = m->uid;
	if (m->modseq > res->highestmodseq)
		res->highestmodseq = m->modseq;
}

int imap_search_run(struct imap_session *s, struct imap_search *q, struct imap_search_result *res,
		    const char **error_r)
{
	struct imap_selected *sel = s->sel;
	memset(res, 0, sizeof(*res));
	res->modseq_used = q->modseq_used;
	size_t cap = 0;
	if (sel->count == 0)
		return 0;
	/* A lone flag key (SEEN, UNSEEN, DELETED...): one indexed query. */
	const struct skey *only = q->root.nkids == 1 ? &q->root.kids[0] : NULL;
	bool negate = only != NULL && only->type == SK_NOT && only->kids[0].type == SK_FLAG;
	if (only != NULL && (only->type == SK_FLAG || negate)) {
		uint32_t flag = negate ? only->kids[0].flag : only->flag;
		uint32_t *v;
		size_t n;
		if (store_mailbox_uids_by_flag(s->srv->store, sel->id, flag, !negate, 0, &v, &n, error_r) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (imap_seq_of(sel, v[i]) == 0)
				continue;
			struct store_msg fake = {.uid = v[i]};
			result_add(res, &cap, &fake);
		}
		free(v);
		return 0;
	}
	unsigned fields = needs_summary(&q->root) ? STORE_FIELD_SUMMARY : STORE_FIELD_BASIC;
	int ffield = 0;
	const char *fquery = NULL;
	const struct skey *fk = sel->count > IMAP_SEARCH_SCAN_MAX ? fts_key(&q->root, &ffield, &fquery) : NULL;
	if (fk != NULL) {
		/* Candidates from the full-text index, each one checked. */
		uint32_t *cand = NULL;
		size_t ncand = 0;
		if (store_search(s->srv->store, sel->id,
				 (enum store_search_field)ffield, fquery, &cand,
				 &ncand, error_r) < 0)
			return -1;
		for (size_t i = 0; i < ncand; i++) {
			uint32_t seq = imap_seq_of(sel, cand[i]);
			if (seq == 0)
				continue;
			struct store_msg m = {0};
			if (store_msg_get(s->srv->store, sel->id, cand[i], fields, &m, error_r) != 1) {
				store_msg_clear(&m);
				continue;
			}
			struct smsg sm = {.s = s, .m = &m, .seq = seq};
			if (eval(&sm, &q->root))
				result_add(res, &cap, &m);
			smsg_free(&sm);
			store_msg_clear(&m);
		}
		free(cand);
		return 0;
	}
	struct store_msg_iter *it =
	    store_msg_iter_new(s->srv->store, sel->id, sel->uids[0], sel->uids[sel->count - 1], fields);
	struct store_msg m;
	size_t pos = 0;
	while (store_msg_iter_next(it, &m) == 1) {
		/* Only messages the client knows, numbered as it knows them. */
		while (pos < sel->count && sel->uids[pos] < m.uid)
			pos++;
		if (pos == sel->count)
			break;
		if (sel->uids[pos] != m.uid)
			continue;
		struct smsg sm = {.s = s, .m = &m, .seq = (uint32_t)(pos + 1)};
		if (eval(&sm, &q->root))
			result_add(res, &cap, &m);
		smsg_free(&sm);
	}
	if (store_msg_iter_free(&it, error_r) < 0) {
		imap_search_result_clear(res);
		return -1;
	}
	return 0;
}

void imap_search_result_clear(struct imap_search_result *res)
{
	free(res->uids);
	free(res->modseqs);
	memset(res, 0, sizeof(*res));
}

/* ---- programs kept for updates -------------------------------------------- */

/* The sorted UIDs v as a resolved set of ranges. */
static void set_from_uids(struct imap_seqset *set, const uint32_t *v, size_t n)
{
	imap_seqset_free(set);
	set->r = xcalloc(n + 1, sizeof(*set->r));
	set->count = 0;
	for (size_t i = 0; i < n; i++) {
		if (set->count > 0 && v[i] <= set->r[set->count - 1].hi + 1) {
			if (v[i] > set->r[set->count - 1].hi)
				set->r[set->count - 1].hi = v[i];
			continue;
		}
		set->r[set->count].lo = set->r[set->count].hi = v[i];
		set->count++;
	}
}

static void pin_key(struct imap_session *s, struct skey *k)
{
	const struct imap_selected *sel = s->sel;
	for (size_t i = 0; i < k->nkids; i++)
		pin_key(s, &k->kids[i]);
	if (k->type == SK_SEQSET) {
		uint32_t *v = xcalloc(sel->count + 1, sizeof(*v));
		size_t n = 0;
		for (size_t i = 0; i < k->set.count; i++)
			for (uint64_t q = k->set.r[i].lo; q <= k->set.r[i].hi && q <= sel->count; q++)
				if (q > 0 && (n == 0 || v[n - 1] < sel->uids[q - 1]))
					v[n++] = sel->uids[q - 1];
		set_from_uids(&k->set, v, n);
		free(v);
		k->type = SK_UIDSET;
	} else if (k->type == SK_SAVED) {
		set_from_uids(&k->set, sel->saved, sel->saved_count);
		k->type = SK_UIDSET;
	}
}

void imap_search_pin(struct imap_session *s, struct imap_search *q)
{
	pin_key(s, &q->root);
	q->charset = NULL;
}

int imap_search_match(struct imap_session *s, struct imap_search *q, const struct store_msg *m,
		      uint32_t seq, const char **error_r)
{
	struct store_msg full = {0};
	if (needs_summary(&q->root)) {
		int r = store_msg_get(s->srv->store, s->sel->id, m->uid, STORE_FIELD_SUMMARY, &full, error_r);
		if (r != 1) {
			store_msg_clear(&full);
			if (r == 0)
				*error_r = "message vanished";
			return -1;
		}
		m = &full;
	}
	struct smsg sm = {.s = s, .m = m, .seq = seq};
	int r = eval(&sm, &q->root) ? 1 : 0;
	smsg_free(&sm);
	store_msg_clear(&full);
	return r;
}
