/* cmd_search: SEARCH (with ESEARCH RFC 4731, SEARCHRES RFC 5182, CONDSTORE
 * MODSEQ, IMAP4rev2's ESEARCH replies, and CONTEXT=SEARCH RFC 5267: the
 * return options CONTEXT, UPDATE and PARTIAL, and CANCELUPDATE), SORT (RFC
 * 5256, with SORT=DISPLAY RFC 5957) and THREAD (RFC 5256), and their UID
 * forms. The search itself is imap_search.c; threading is imap_thread.c;
 * results kept up to date are imap_update.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/server.h"
#include "imap/imap_search.h"
#include "imap/imap_thread.h"
#include "mime/address.h"
#include "mime/mime.h"
#include "mime/rfc2047.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

/* ---- SEARCH ------------------------------------------------------------- */

enum {
	RET_MIN = 1 << 0,
	RET_MAX = 1 << 1,
	RET_ALL = 1 << 2,
	RET_COUNT = 1 << 3,
	RET_SAVE = 1 << 4,
	RET_UPDATE = 1 << 5,  /* CONTEXT=SEARCH, RFC 5267 */
	RET_PARTIAL = 1 << 6, /* RFC 5267 4.4 */
};

static void write_ids(struct imap_session *s, struct buf *b, const uint32_t *uids, size_t n, bool uid)
{
	if (uid) {
		imap_seqset_write(b, uids, n);
		return;
	}
	uint32_t *seqs = xcalloc(n + 1, sizeof(*seqs));
	for (size_t i = 0; i < n; i++)
		seqs[i] = imap_seq_of(s->sel, uids[i]);
	imap_seqset_write(b, seqs, n);
	free(seqs);
}

static uint32_t id_of(struct imap_session *s, uint32_t uid, bool use_uid)
{
	return use_uid ? uid : imap_seq_of(s->sel, uid);
}

static void save_result(struct imap_session *s, const uint32_t *uids, size_t n)
{
	free(s->sel->saved);
	s->sel->saved = n ? xmemdup(uids, n * sizeof(*uids)) : NULL;
	s->sel->saved_count = n;
}

/* RETURN options of SEARCH (RFC 4731, RFC 5182, RFC 5267). */
struct search_return {
	unsigned ret;		       /* RET_* */
	uint32_t partial1, partial2;   /* PARTIAL range, partial1 <= partial2; 0 = none */
	struct imap_fetch_atts *fetch; /* UPDATE (fetch-att ...), RFC 5465 7 */
};

/* PARTIAL's range (RFC 5267 4.4). */
static int parse_partial(const struct imap_arg *a, struct search_return *r)
{
	if (a == NULL || a->type != IMAP_ARG_ATOM)
		return -1;
	return imap_partial_parse(a->str, a->len, &r->partial1, &r->partial2);
}

/* Parses "RETURN (...)" when args start with it: sets *used_r to the
 * arguments taken (0 or 2). Returns 0, or -1 with *error_r (BAD). */
static int parse_search_return(const struct imap_arg *args, size_t argc, struct search_return *r,
			       size_t *used_r, const char **error_r)
{
	memset(r, 0, sizeof(*r));
	*used_r = 0;
	if (argc < 2 || !imap_arg_atom_is(&args[0], "RETURN") || args[1].type != IMAP_ARG_LIST)
		return 0;
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"MIN", RET_MIN},	{"MAX", RET_MAX},	{"ALL", RET_ALL}, {"COUNT", RET_COUNT},
	    {"SAVE", RET_SAVE}, {"UPDATE", RET_UPDATE}, {"CONTEXT", 0},	  {"PARTIAL", RET_PARTIAL},
	};
	const struct imap_arg *l = &args[1];
	for (size_t k = 0; k < l->count; k++) {
		const struct imap_arg *a = &l->list[k];
		size_t j = 0;
		while (j < sizeof(names) / sizeof(names[0]) && !imap_arg_atom_is(a, names[j].name))
			j++;
		if (j == sizeof(names) / sizeof(names[0])) {
			*error_r = "Unknown RETURN option";
			return -1;
		}
		if ((names[j].bit & (RET_UPDATE | RET_PARTIAL)) && (r->ret & names[j].bit)) {
			*error_r = "RETURN option given twice";
			return -1;
		}
		if (names[j].bit == RET_PARTIAL &&
		    (k + 1 >= l->count || parse_partial(&l->list[++k], r) < 0)) {
			*error_r = "Invalid PARTIAL range";
			return -1;
		}
		if (names[j].bit == RET_UPDATE && k + 1 < l->count && l->list[k + 1].type == IMAP_ARG_LIST) {
			r->fetch = imap_fetch_atts_parse(&l->list[++k], error_r);
			if (r->fetch == NULL)
				return -1;
		}
		r->ret |= names[j].bit;
	}
	if ((r->ret & RET_PARTIAL) && (r->ret & RET_ALL)) {
		imap_fetch_atts_free(&r->fetch);
		*error_r = "PARTIAL conflicts with ALL";
		return -1;
	}
	/* Nothing asked (or only CONTEXT): the whole result (RFC 4731 3.1).
	 * UPDATE alone returns nothing now, only the updates later. */
	if (r->ret == 0)
		r->ret = RET_ALL;
	*used_r = 2;
	return 0;
}

/* Appends " PARTIAL (lo:hi ids)" or "... NIL)": the matches at positions
 * partial1..partial2 (1-based) of the result. */
static void write_partial(struct imap_session *s, struct buf *b, const struct search_return *r,
			  const uint32_t *uids, size_t n, bool uid)
{
	buf_printf(b, " PARTIAL (%u:%u ", r->partial1, r->partial2);
	size_t first = r->partial1 - 1;
	if (first >= n) {
		buf_puts(b, "NIL)");
		return;
	}
	size_t last = r->partial2 - 1 < n ? r->partial2 - 1 : n - 1;
	write_ids(s, b, uids + first, last - first + 1, uid);
	buf_putc(b, ')');
}

void cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	struct search_return rs;
	size_t i;
	if (parse_search_return(cmd->args, cmd->argc, &rs, &i, &error) < 0) {
		imap_fetch_atts_free(&rs.fetch);
		imap_bad(s, cmd, "%s", error);
		return;
	}
	unsigned ret = rs.ret;
	bool esearch = s->rev2 || i > 0;
	if (esearch && ret == 0)
		ret = RET_ALL;
	if ((ret & RET_UPDATE) && imap_update_find(s->sel, cmd->tag) != NULL) {
		imap_fetch_atts_free(&rs.fetch);
		imap_bad(s, cmd, "Duplicate search update tag");
		return;
	}
	if (i >= cmd->argc) {
		imap_fetch_atts_free(&rs.fetch);
		imap_bad(s, cmd, "Missing search keys");
		return;
	}
	bool badcharset;
	struct imap_search *q = imap_search_parse(s, cmd->args + i, cmd->argc - i, NULL, &error, &badcharset);
	if (q == NULL) {
		imap_fetch_atts_free(&rs.fetch);
		if (ret & RET_SAVE)
			save_result(s, NULL, 0);
		if (badcharset)
			imap_done(s, cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] %s", error);
		else
			imap_bad(s, cmd, "%s", error);
		return;
	}
	struct imap_search_result res;
	if (imap_search_run(s, q, &res, &error) < 0) {
		imap_search_free(&q);
		imap_fetch_atts_free(&rs.fetch);
		if (ret & RET_SAVE)
			save_result(s, NULL, 0);
		log_session(s->c->id, "imap search failed: %s", error);
		imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		return;
	}
	if (res.modseq_used)
		imap_enable_condstore(s);
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	if (!esearch) {
		buf_puts(&b, "* SEARCH");
		for (size_t k = 0; k < res.count; k++)
			buf_printf(&b, " %u", id_of(s, res.uids[k], cmd->uid));
		if (res.modseq_used && res.count > 0)
			buf_printf(&b, " (MODSEQ %llu)", (unsigned long long)res.highestmodseq);
		buf_puts(&b, "\r\n");
	} else if (ret != RET_SAVE) {
		buf_printf(&b, "* ESEARCH (TAG \"%s\")", cmd->tag);
		if (cmd->uid)
			buf_puts(&b, " UID");
		if ((ret & RET_MIN) && res.count > 0)
			buf_printf(&b, " MIN %u", id_of(s, res.uids[0], cmd->uid));
		if ((ret & RET_MAX) && res.count > 0)
			buf_printf(&b, " MAX %u", id_of(s, res.uids[res.count - 1], cmd->uid));
		if (ret & RET_COUNT)
			buf_printf(&b, " COUNT %zu", res.count);
		if ((ret & RET_ALL) && res.count > 0) {
			buf_puts(&b, " ALL ");
			write_ids(s, &b, res.uids, res.count, cmd->uid);
		}
		if (ret & RET_PARTIAL)
			write_partial(s, &b, &rs, res.uids, res.count, cmd->uid);
		if (res.modseq_used && res.count > 0) {
			/* RFC 4731 3.2: the highest MODSEQ of what was returned. */
			uint64_t ms = res.highestmodseq;
			if (!(ret & (RET_ALL | RET_COUNT))) {
				ms = 0;
				if ((ret & RET_MIN) && res.modseqs[0] > ms)
					ms = res.modseqs[0];
				if ((ret & RET_MAX) && res.modseqs[res.count - 1] > ms)
					ms = res.modseqs[res.count - 1];
				if (ret & RET_PARTIAL)
					for (size_t k = rs.partial1 - 1; k < res.count && k < rs.partial2;
					     k++)
						if (res.modseqs[k] > ms)
							ms = res.modseqs[k];
			}
			if (ms > 0)
				buf_printf(&b, " MODSEQ %llu", (unsigned long long)ms);
		}
		buf_puts(&b, "\r\n");
	}
	if (ret & RET_SAVE) {
		/* With MIN, MAX or PARTIAL (and not ALL or COUNT), only what
		 * they return is saved. */
		if ((ret & (RET_MIN | RET_MAX | RET_PARTIAL)) && !(ret & (RET_ALL | RET_COUNT)) &&
		    res.count > 0) {
			uint32_t *v = xcalloc(res.count, sizeof(*v));
			size_t n = 0;
			for (size_t k = 0; k < res.count; k++) {
				bool take =
				    ((ret & RET_MIN) && k == 0) || ((ret & RET_MAX) && k == res.count - 1) ||
				    ((ret & RET_PARTIAL) && k + 1 >= rs.partial1 && k + 1 <= rs.partial2);
				if (take)
					v[n++] = res.uids[k];
			}
			save_result(s, v, n);
			free(v);
		} else
			save_result(s, res.uids, res.count);
	}
	imap_write_buf(s, &b);
	buf_free(&b);
	if (ret & RET_UPDATE) {
		/* RFC 5267 4.3: updates cover the whole result, whatever the
		 * other options (PARTIAL included). A context we will not keep
		 * is refused with an untagged NO [NOUPDATE] (4.3.1); the search
		 * itself succeeded. */
		if (imap_update_add(s, cmd->tag, cmd->uid, q, rs.fetch, res.uids, res.count) < 0) {
			q = NULL; /* freed by imap_update_add */
			imap_printf(s, "* NO [NOUPDATE \"%s\"] Too many search updates (at most %d).\r\n",
				    cmd->tag, IMAP_UPDATE_MAX);
		} else
			q = NULL; /* kept by the context */
		rs.fetch = NULL;
	}
	imap_fetch_atts_free(&rs.fetch);
	imap_search_result_clear(&res);
	imap_search_free(&q);
	imap_done(s, cmd, "OK", "Search completed.");
}

/* CANCELUPDATE "tag" ... (RFC 5267 4.3): ends update contexts. Every tag
 * must name one, or nothing is cancelled. */
void cmd_cancelupdate(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc == 0) {
		imap_bad(s, cmd, "CANCELUPDATE needs tags");
		return;
	}
	for (size_t k = 0; k < cmd->argc; k++) {
		const struct imap_arg *a = &cmd->args[k];
		if (a->type != IMAP_ARG_QUOTED) {
			imap_bad(s, cmd, "CANCELUPDATE takes quoted tags");
			return;
		}
	}
	for (size_t k = 0; k < cmd->argc; k++) {
		if (imap_update_find(s->sel, cmd->args[k].str) == NULL) {
			imap_done(s, cmd, "NO", "Unknown search update tag.");
			return;
		}
	}
	for (size_t k = 0; k < cmd->argc; k++)
		imap_update_cancel(s->sel, cmd->args[k].str);
	imap_done(s, cmd, "OK", "Updates cancelled.");
}

/* ---- SORT ---------------------------------------------------------------- */

enum sort_key {
	SORT_ARRIVAL,
	SORT_CC,
	SORT_DATE,
	SORT_FROM,
	SORT_SIZE,
	SORT_SUBJECT,
	SORT_TO,
	SORT_DISPLAYFROM,
	SORT_DISPLAYTO
};

struct sort_crit {
	enum sort_key key;
	bool reverse;
};

struct sort_row {
	uint32_t uid, seq;
	time_t arrival, date;
	uint64_t size;
	char *keys[5]; /* cc, from, subject, to, display: as needed */
};

enum { K_CC, K_FROM, K_SUBJECT, K_TO, K_DISPLAY };

static const struct sort_crit *sort_crits;
static size_t sort_ncrit;

/* i;ascii-casemap (RFC 4790): ASCII letters upper-cased, then octets. */
static int str_cmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)(a ? a : ""),
			    *y = (const unsigned char *)(b ? b : "");
	for (;; x++, y++) {
		unsigned cx = *x >= 'a' && *x <= 'z' ? *x - 32u : *x;
		unsigned cy = *y >= 'a' && *y <= 'z' ? *y - 32u : *y;
		if (cx != cy)
			return cx < cy ? -1 : 1;
		if (cx == 0)
			return 0;
	}
}

static int row_cmp(const void *pa, const void *pb)
{
	const struct sort_row *a = pa, *b = pb;
	for (size_t i = 0; i < sort_ncrit; i++) {
		int c = 0;
		switch (sort_crits[i].key) {
		case SORT_ARRIVAL:
			c = a->arrival < b->arrival ? -1 : a->arrival > b->arrival;
			break;
		case SORT_DATE:
			c = a->date < b->date ? -1 : a->date > b->date;
			break;
		case SORT_SIZE:
			c = a->size < b->size ? -1 : a->size > b->size;
			break;
		case SORT_CC:
			c = str_cmp(a->keys[K_CC], b->keys[K_CC]);
			break;
		case SORT_FROM:
			c = str_cmp(a->keys[K_FROM], b->keys[K_FROM]);
			break;
		case SORT_TO:
			c = str_cmp(a->keys[K_TO], b->keys[K_TO]);
			break;
		case SORT_SUBJECT:
			c = str_cmp(a->keys[K_SUBJECT], b->keys[K_SUBJECT]);
			break;
		case SORT_DISPLAYFROM:
		case SORT_DISPLAYTO:
			c = str_cmp(a->keys[K_DISPLAY], b->keys[K_DISPLAY]);
			break;
		}
		if (c != 0)
			return sort_crits[i].reverse ? -c : c;
	}
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The first mailbox of an address header: its local part (addr-mailbox,
 * RFC 5256) or its display name (RFC 5957: the decoded name, else the
 * address). */
static char *first_address(const struct mime_message *msg, const char *field, bool display)
{
	char *v = mime_header_get(msg, msg->root, field);
	if (v == NULL)
		return xstrdup("");
	struct mime_address *list = NULL;
	size_t n = mime_address_parse(v, strlen(v), &list);
	char *r = NULL;
	for (size_t i = 0; i < n && r == NULL; i++) {
		const struct mime_address *a = &list[i];
		/* A group counts with its name, as in the ENVELOPE (NIL NIL "name" NIL). */
		if (a->kind == MIME_ADDRESS_GROUP_END)
			continue;
		if (a->kind == MIME_ADDRESS_GROUP_START) {
			r = xstrdup(a->mailbox ? a->mailbox : "");
			continue;
		}
		if (display && a->name != NULL && a->name[0] != '\0')
			r = rfc2047_decode_dup(a->name, strlen(a->name), 4096);
		else if (display) {
			struct buf b;
			buf_init(&b, 4096);
			mime_address_append_spec(a, &b);
			r = b.len ? buf_steal(&b, NULL) : xstrdup("");
			buf_free(&b);
		} else
			r = xstrdup(a->mailbox ? a->mailbox : "");
	}
	mime_address_list_free(&list, n);
	free(v);
	return r ? r : xstrdup("");
}

static int parse_charset_arg(struct imap_session *s, struct imap_cmd *cmd, size_t i, const char **cs_r)
{
	const char *error;
	const char *cs = i < cmd->argc ? imap_astring(&cmd->args[i]) : NULL;
	if (cs == NULL) {
		imap_bad(s, cmd, "Missing charset");
		return -1;
	}
	if (imap_search_set_charset(cs, &error) < 0) {
		imap_done(s, cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unknown charset.");
		return -1;
	}
	*cs_r = cs;
	return 0;
}

/* Runs the search part of SORT/THREAD (args from index i). */
static int search_part(struct imap_session *s, struct imap_cmd *cmd, size_t i, const char *charset,
		       struct imap_search_result *res)
{
	const char *error;
	bool badcharset;
	if (i >= cmd->argc) {
		imap_bad(s, cmd, "Missing search keys");
		return -1;
	}
	struct imap_search *q =
	    imap_search_parse(s, cmd->args + i, cmd->argc - i, charset, &error, &badcharset);
	if (q == NULL) {
		imap_bad(s, cmd, "%s", error);
		return -1;
	}
	int r = imap_search_run(s, q, res, &error);
	imap_search_free(&q);
	if (r < 0) {
		log_session(s->c->id, "imap search failed: %s", error);
		imap_done(s, cmd, "NO", "[SERVERBUG] Internal error.");
		return -1;
	}
	return 0;
}

void cmd_sort(struct imap_session *s, struct imap_cmd *cmd)
{
	static const struct {
		const char *name;
		enum sort_key key;
	} names[] = {
	    {"ARRIVAL", SORT_ARRIVAL},
	    {"CC", SORT_CC},
	    {"DATE", SORT_DATE},
	    {"FROM", SORT_FROM},
	    {"SIZE", SORT_SIZE},
	    {"SUBJECT", SORT_SUBJECT},
	    {"TO", SORT_TO},
	    {"DISPLAYFROM", SORT_DISPLAYFROM},
	    {"DISPLAYTO", SORT_DISPLAYTO},
	};
	/* ESORT (RFC 5267): SORT RETURN (...) criteria charset keys. */
	unsigned ret = 0;
	size_t base = 0;
	if (cmd->argc >= 2 && imap_arg_atom_is(&cmd->args[0], "RETURN") &&
	    cmd->args[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *rl = &cmd->args[1];
		for (size_t k = 0; k < rl->count; k++) {
			if (imap_arg_atom_is(&rl->list[k], "MIN"))
				ret |= RET_MIN;
			else if (imap_arg_atom_is(&rl->list[k], "MAX"))
				ret |= RET_MAX;
			else if (imap_arg_atom_is(&rl->list[k], "ALL"))
				ret |= RET_ALL;
			else if (imap_arg_atom_is(&rl->list[k], "COUNT"))
				ret |= RET_COUNT;
			else {
				imap_bad(s, cmd, "Unknown RETURN option");
				return;
			}
		}
		if (ret == 0)
			ret = RET_ALL;
		base = 2;
	}
	if (cmd->argc < base + 3 || cmd->args[base].type != IMAP_ARG_LIST || cmd->args[base].count == 0) {
		imap_bad(s, cmd, "SORT needs criteria, a charset and search keys");
		return;
	}
	const struct imap_arg *l = &cmd->args[base];
	struct sort_crit *crit = xcalloc(l->count, sizeof(*crit));
	size_t ncrit = 0;
	bool reverse = false, need_hdr = false, need_summary = false;
	for (size_t k = 0; k < l->count; k++) {
		if (imap_arg_atom_is(&l->list[k], "REVERSE") && !reverse) {
			reverse = true;
			continue;
		}
		bool found = false;
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]) && !found; j++) {
			if (imap_arg_atom_is(&l->list[k], names[j].name)) {
				crit[ncrit].key = names[j].key;
				crit[ncrit].reverse = reverse;
				ncrit++;
				found = true;
			}
		}
		if (!found) {
			free(crit);
			imap_bad(s, cmd, "Unknown sort criterion");
			return;
		}
		reverse = false;
		enum sort_key key = crit[ncrit - 1].key;
		need_hdr |= key == SORT_CC || key == SORT_FROM || key == SORT_TO || key == SORT_DISPLAYFROM ||
			    key == SORT_DISPLAYTO;
		need_summary |= key == SORT_DATE || key == SORT_SUBJECT;
	}
	if (reverse || ncrit == 0) {
		free(crit);
		imap_bad(s, cmd, "Invalid sort criteria");
		return;
	}
	const char *charset;
	if (parse_charset_arg(s, cmd, base + 1, &charset) < 0) {
		free(crit);
		return;
	}
	struct imap_search_result res;
	if (search_part(s, cmd, base + 2, charset, &res) < 0) {
		free(crit);
		return;
	}
	struct sort_row *rows = xcalloc(res.count + 1, sizeof(*rows));
	size_t nrows = 0;
	if (res.count > 0) {
		struct store_msg_iter *it =
		    store_msg_iter_new(s->srv->store, s->sel->id, res.uids[0], res.uids[res.count - 1],
				       need_summary ? STORE_FIELD_SUMMARY : STORE_FIELD_BASIC);
		struct store_msg m;
		size_t pos = 0;
		const char *error;
		while (store_msg_iter_next(it, &m) == 1) {
			while (pos < res.count && res.uids[pos] < m.uid)
				pos++;
			if (pos == res.count)
				break;
			if (res.uids[pos] != m.uid)
				continue;
			struct sort_row *r = &rows[nrows++];
			r->uid = m.uid;
			r->seq = imap_seq_of(s->sel, m.uid);
			r->arrival = m.internaldate;
			r->date = m.sent_date ? m.sent_date : m.internaldate;
			r->size = m.size;
			if (need_summary)
				r->keys[K_SUBJECT] = imap_base_subject(m.subject, NULL);
			if (need_hdr) {
				char *data = NULL;
				size_t len = 0;
				if (store_msg_read(s->srv->store, m.id, &data, &len, &error) == 1) {
					struct mime_message *msg = mime_parse(data, len);
					for (size_t k = 0; k < ncrit; k++) {
						switch (crit[k].key) {
						case SORT_CC:
							r->keys[K_CC] = first_address(msg, "Cc", false);
							break;
						case SORT_FROM:
							r->keys[K_FROM] = first_address(msg, "From", false);
							break;
						case SORT_TO:
							r->keys[K_TO] = first_address(msg, "To", false);
							break;
						case SORT_DISPLAYFROM:
							r->keys[K_DISPLAY] = first_address(msg, "From", true);
							break;
						case SORT_DISPLAYTO:
							r->keys[K_DISPLAY] = first_address(msg, "To", true);
							break;
						default:
							break;
						}
					}
					mime_free(&msg);
					free(data);
				}
			}
		}
		store_msg_iter_free(&it, &error);
	}
	sort_crits = crit;
	sort_ncrit = ncrit;
	qsort(rows, nrows, sizeof(*rows), row_cmp);
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	if (ret != 0) {
		/* RFC 5267 3.2: MIN and MAX are the first and last in sort
		 * order; ALL keeps the sort order (ranges only where it ascends). */
		buf_printf(&b, "* ESEARCH (TAG \"%s\")%s", cmd->tag, cmd->uid ? " UID" : "");
		if ((ret & RET_MIN) && nrows > 0)
			buf_printf(&b, " MIN %u", cmd->uid ? rows[0].uid : rows[0].seq);
		if ((ret & RET_MAX) && nrows > 0)
			buf_printf(&b, " MAX %u", cmd->uid ? rows[nrows - 1].uid : rows[nrows - 1].seq);
		if (ret & RET_COUNT)
			buf_printf(&b, " COUNT %zu", nrows);
		if ((ret & RET_ALL) && nrows > 0) {
			buf_puts(&b, " ALL ");
			for (size_t k = 0; k < nrows;) {
				size_t j = k;
				uint32_t first = cmd->uid ? rows[k].uid : rows[k].seq;
				while (j + 1 < nrows && (cmd->uid ? rows[j + 1].uid : rows[j + 1].seq) ==
							    (cmd->uid ? rows[j].uid : rows[j].seq) + 1)
					j++;
				buf_printf(&b, k ? ",%u" : "%u", first);
				if (j > k)
					buf_printf(&b, ":%u", cmd->uid ? rows[j].uid : rows[j].seq);
				k = j + 1;
			}
		}
		buf_puts(&b, "\r\n");
	} else {
		buf_puts(&b, "* SORT");
		for (size_t k = 0; k < nrows; k++)
			buf_printf(&b, " %u", cmd->uid ? rows[k].uid : rows[k].seq);
		if (res.modseq_used && nrows > 0)
			buf_printf(&b, " (MODSEQ %llu)", (unsigned long long)res.highestmodseq);
		buf_puts(&b, "\r\n");
	}
	imap_write_buf(s, &b);
	buf_free(&b);
	for (size_t k = 0; k < nrows; k++)
		for (size_t j = 0; j < 5; j++)
			free(rows[k].keys[j]);
	free(rows);
	free(crit);
	imap_search_result_clear(&res);
	imap_done(s, cmd, "OK", "Sort completed.");
}

/* ---- THREAD -------------------------------------------------------------- */

void cmd_thread(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->argc < 3 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_bad(s, cmd, "THREAD needs an algorithm, a charset and search keys");
		return;
	}
	bool refs;
	if (imap_arg_atom_is(&cmd->args[0], "REFERENCES"))
		refs = true;
	else if (imap_arg_atom_is(&cmd->args[0], "ORDEREDSUBJECT"))
		refs = false;
	else {
		imap_bad(s, cmd, "Unknown thread algorithm");
		return;
	}
	const char *charset;
	if (parse_charset_arg(s, cmd, 1, &charset) < 0)
		return;
	struct imap_search_result res;
	if (search_part(s, cmd, 2, charset, &res) < 0)
		return;
	struct store_msg *ms = xcalloc(res.count + 1, sizeof(*ms));
	struct imap_thread_msg *tm = xcalloc(res.count + 1, sizeof(*tm));
	size_t n = 0;
	if (res.count > 0) {
		struct store_msg_iter *it = store_msg_iter_new(s->srv->store, s->sel->id, res.uids[0],
							       res.uids[res.count - 1], STORE_FIELD_SUMMARY);
		struct store_msg m;
		size_t pos = 0;
		const char *error;
		while (store_msg_iter_next(it, &m) == 1) {
			while (pos < res.count && res.uids[pos] < m.uid)
				pos++;
			if (pos == res.count)
				break;
			if (res.uids[pos] != m.uid)
				continue;
			/* Take the strings: the iterator clears m on the next call. */
			ms[n] = m;
			memset(&m, 0, sizeof(m));
			struct imap_thread_msg *t = &tm[n];
			t->id = cmd->uid ? ms[n].uid : imap_seq_of(s->sel, ms[n].uid);
			t->seq = imap_seq_of(s->sel, ms[n].uid);
			t->date = ms[n].sent_date ? ms[n].sent_date : ms[n].internaldate;
			t->subject = ms[n].subject;
			t->message_id = ms[n].message_id;
			t->in_reply_to = ms[n].in_reply_to;
			t->references = ms[n].references;
			n++;
		}
		store_msg_iter_free(&it, &error);
	}
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_puts(&b, "* THREAD ");
	if (refs)
		imap_thread_references(tm, n, &b);
	else
		imap_thread_orderedsubject(tm, n, &b);
	buf_puts(&b, "\r\n");
	imap_write_buf(s, &b);
	buf_free(&b);
	for (size_t k = 0; k < n; k++)
		store_msg_clear(&ms[k]);
	free(ms);
	free(tm);
	imap_search_result_clear(&res);
	imap_done(s, cmd, "OK", "Thread completed.");
}
