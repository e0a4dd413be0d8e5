/* api_message: message lists (paged, sorted, searched), one message
 * (headers, text, attachments), its sanitized HTML, its raw source, its
 * parts, and flags, moves and deletes (docs/webmail-api.md, "Messages").
 *
 * A message is (mailbox id, UID); the mailbox must be the user's (404
 * otherwise). Lists come from the store's cached summaries and never open
 * a message; opening one parses it once (mime_parse) and picks what a
 * reader shows: the text/plain parts, the text/html part, and the rest as
 * attachments, named by their IMAP section ("2", "1.2"). HTML is never
 * sent as is: /html runs it through html_sanitize with the message's cid:
 * images inlined as data: URLs, and serves it under a Content-Security-
 * Policy that forbids scripts and outside requests (but the images the
 * user allowed with ?images=1) and sandboxes the document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/conn.h"
#include "core/server.h"
#include "http/html_sanitize.h"
#include "http/http_api.h"
#include "mime/address.h"
#include "mime/mime.h"
#include "mime/params.h"
#include "mime/rfc2047.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/charset.h"
#include "util/log.h"
#include "util/mem.h"

#define PAGE_MAX 200
#define TEXT_MAX (2 * 1024 * 1024)	     /* text shown in the reader */
#define INLINE_IMAGES_MAX (20 * 1024 * 1024) /* cid: images inlined into one HTML view */
#define UIDS_MAX 100000			     /* messages in one flags/move/delete request */

/* ---- JSON of messages ----------------------------------------------------- */

/* A JSON string that is always valid UTF-8 (jansson refuses anything else). */
static json_t *jstr(const char *s)
{
	if (s == NULL)
		return json_string("");
	size_t n = strlen(s);
	if (utf8_valid(s, n))
		return json_stringn(s, n);
	struct buf b;
	buf_init(&b, 3 * n + 16);
	utf8_sanitize(s, n, &b);
	json_t *j = json_stringn(buf_cstr(&b), b.len);
	buf_free(&b);
	return j;
}

static json_t *jstrn(const char *s, size_t n)
{
	if (utf8_valid(s, n) && memchr(s, '\0', n) == NULL)
		return json_stringn(s, n);
	char *copy = xmemdup(s, n);
	for (size_t i = 0; i < n; i++) /* NULs would end the string */
		if (copy[i] == '\0')
			copy[i] = ' ';
	struct buf b;
	buf_init(&b, 3 * n + 16);
	utf8_sanitize(copy, n, &b);
	free(copy);
	json_t *j = json_stringn(buf_cstr(&b), b.len);
	buf_free(&b);
	return j;
}

static const struct {
	const char *name;
	uint32_t flag;
} flag_names[] = {
    {"seen", STORE_FLAG_SEEN},	     {"answered", STORE_FLAG_ANSWERED}, {"flagged", STORE_FLAG_FLAGGED},
    {"deleted", STORE_FLAG_DELETED}, {"draft", STORE_FLAG_DRAFT},	{"forwarded", STORE_FLAG_FORWARDED},
    {"junk", STORE_FLAG_JUNK},	     {"notjunk", STORE_FLAG_NOTJUNK},
};

static json_t *flags_json(uint32_t flags)
{
	json_t *o = json_object();
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		json_object_set_new(o, flag_names[i].name, json_boolean(flags & flag_names[i].flag));
	return o;
}

static json_t *summary_json(const struct store_msg *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "uid", json_integer(m->uid));
	json_object_set_new(o, "from", jstr(m->from));
	json_object_set_new(o, "from_addr", jstr(m->from_addr));
	json_object_set_new(o, "to", jstr(m->to));
	json_object_set_new(o, "subject", jstr(m->subject));
	json_object_set_new(o, "snippet", jstr(m->snippet));
	json_object_set_new(o, "date", json_integer((json_int_t)m->sent_date));
	json_object_set_new(o, "received", json_integer((json_int_t)m->internaldate));
	json_object_set_new(o, "size", json_integer((json_int_t)m->size));
	json_object_set_new(o, "attachments", json_boolean(m->has_attachments));
	json_object_set_new(o, "flags", flags_json(m->flags));
	return o;
}

/* ---- lists ---------------------------------------------------------------- */

static int search_field(const char *in, enum store_search_field *f)
{
	static const struct {
		const char *name;
		enum store_search_field field;
	} fields[] = {{"text", STORE_SEARCH_TEXT},
		      {"body", STORE_SEARCH_BODY},
		      {"subject", STORE_SEARCH_SUBJECT},
		      {"from", STORE_SEARCH_FROM},
		      {"to", STORE_SEARCH_TO}};
	if (in == NULL) {
		*f = STORE_SEARCH_TEXT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(in, fields[i].name) == 0) {
			*f = fields[i].field;
			return 0;
		}
	return -1;
}

void api_messages_list(struct http_ctx *x)
{
	struct store_mailbox mb;
	uint64_t offset, limit;
	if (http_query_u64(x, "offset", 0, UINT32_MAX, 0, &offset) < 0 ||
	    http_query_u64(x, "limit", 1, PAGE_MAX, 50, &limit) < 0)
		return;
	const char *order = http_query(x, "order");
	if (order != NULL && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
		http_reply_error(x, 400, "order must be asc or desc");
		return;
	}
	bool ascending = order != NULL && strcmp(order, "asc") == 0;
	const char *q = http_query(x, "q");
	enum store_search_field field;
	if (search_field(http_query(x, "in"), &field) < 0) {
		http_reply_error(x, 400, "in must be text, body, subject, from or to");
		return;
	}
	if (q != NULL && (strlen(q) > 1000 || !utf8_valid(q, strlen(q)))) {
		http_reply_error(x, 400, "invalid search");
		return;
	}
	if (api_mailbox_load(x, x->num[0], &mb) != 1)
		return;
	struct store *st = x->srv->store;
	const char *err;
	json_t *arr = json_array();
	uint32_t total = 0;
	int fail = 0;
	if (q == NULL || q[0] == '\0') {
		struct store_msg *msgs;
		size_t n;
		if (store_msg_page(st, mb.id, ascending, (size_t)offset, (size_t)limit, &msgs, &n, &total,
				   &err) < 0)
			fail = 1;
		else {
			for (size_t i = 0; i < n; i++)
				json_array_append_new(arr, summary_json(&msgs[i]));
			store_msg_list_free(&msgs, n);
		}
	} else {
		/* Search results: newest arrival (highest UID) first, or oldest. */
		uint32_t *uids;
		size_t n;
		if (store_search(st, mb.id, field, q, &uids, &n, &err) < 0)
			fail = 1;
		else {
			total = (uint32_t)n;
			for (size_t i = (size_t)offset; i < n && i < offset + limit; i++) {
				uint32_t uid = ascending ? uids[i] : uids[n - 1 - i];
				struct store_msg m = {0};
				int r = store_msg_get(st, mb.id, uid, STORE_FIELD_SUMMARY, &m, &err);
				if (r == 1)
					json_array_append_new(arr, summary_json(&m));
				store_msg_clear(&m);
				if (r < 0) {
					fail = 1;
					break;
				}
			}
			free(uids);
		}
	}
	if (fail) {
		log_warnx("http: message list: %s", err);
		json_decref(arr);
		store_mailbox_clear(&mb);
		http_reply_error(x, 500, "storage error");
		return;
	}
	json_t *o =
	    json_pack("{s:I, s:I, s:I, s:I, s:o}", "mailbox", (json_int_t)mb.id, "total", (json_int_t)total,
		      "offset", (json_int_t)offset, "unseen", (json_int_t)mb.unseen, "messages", arr);
	store_mailbox_clear(&mb);
	http_reply_json(x, 200, o);
}

/* ---- one message ----------------------------------------------------------- */

struct loaded {
	struct store_mailbox mb;
	struct store_msg m;
	char *data;
	size_t len;
	struct mime_message *mime;
};

static void loaded_free(struct loaded *l)
{
	mime_free(&l->mime);
	free(l->data);
	store_msg_clear(&l->m);
	store_mailbox_clear(&l->mb);
}

/* Loads /api/mailboxes/{num[0]}/messages/{num[1]}: 1, or 0 after a reply. */
static int load_message(struct http_ctx *x, struct loaded *l, bool parse)
{
	memset(l, 0, sizeof(*l));
	if (api_mailbox_load(x, x->num[0], &l->mb) != 1)
		return 0;
	const char *err;
	struct store *st = x->srv->store;
	int r = x->num[1] > 0 && x->num[1] <= UINT32_MAX
		    ? store_msg_get(st, l->mb.id, (uint32_t)x->num[1], STORE_FIELD_SUMMARY, &l->m, &err)
		    : 0;
	if (r == 1 && store_msg_read(st, l->m.id, &l->data, &l->len, &err) < 0)
		r = -1;
	if (r != 1) {
		if (r < 0)
			log_warnx("http: message read: %s", err);
		loaded_free(l);
		http_reply_error(x, r < 0 ? 500 : 404, r < 0 ? "storage error" : "no such message");
		return 0;
	}
	if (parse)
		l->mime = mime_parse(l->data, l->len);
	return 1;
}

/* What a reader shows of a message. */
struct view_part {
	const struct mime_part *part;
	char section[64];
};

struct view {
	struct view_part *texts; /* text/plain bodies, in order */
	size_t text_count;
	struct view_part html;	/* the HTML body, part NULL when none */
	struct view_part *atts; /* everything else that is not a container */
	size_t att_count;
};

static bool is_type(const struct mime_part *p, const char *type, const char *subtype)
{
	return strcmp(p->type, type) == 0 && (subtype == NULL || strcmp(p->subtype, subtype) == 0);
}

static bool is_attachment(const struct mime_part *p)
{
	return p->disposition != NULL && strcmp(p->disposition, "attachment") == 0;
}

static void add_part(struct view_part **arr, size_t *n, const struct mime_part *p, const char *section)
{
	*arr = xreallocarray(*arr, *n + 1, sizeof(**arr));
	(*arr)[*n].part = p;
	snprintf((*arr)[*n].section, sizeof((*arr)[*n].section), "%s", section);
	(*n)++;
}

static void walk(struct view *v, const struct mime_part *p, const char *section, int depth);

/* multipart/alternative: the richest version we can show, plus the plain
 * one for the text view. */
static void walk_alternative(struct view *v, const struct mime_part *p, const char *section, int depth)
{
	const struct mime_part *plain = NULL, *rich = NULL;
	char plain_sec[64] = "", rich_sec[64] = "";
	int i = 1;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next, i++) {
		char sec[64];
		snprintf(sec, sizeof(sec), "%s%s%d", section, section[0] ? "." : "", i);
		if (is_type(c, "text", "plain") && !is_attachment(c)) {
			plain = c;
			snprintf(plain_sec, sizeof(plain_sec), "%s", sec);
		} else if ((is_type(c, "text", "html") && !is_attachment(c)) ||
			   (c->flags & MIME_PART_MULTIPART)) {
			rich = c;
			snprintf(rich_sec, sizeof(rich_sec), "%s", sec);
		}
	}
	if (plain != NULL)
		add_part(&v->texts, &v->text_count, plain, plain_sec);
	if (rich != NULL) {
		if (rich->flags & MIME_PART_MULTIPART)
			walk(v, rich, rich_sec, depth + 1);
		else if (v->html.part == NULL) {
			v->html.part = rich;
			snprintf(v->html.section, sizeof(v->html.section), "%s", rich_sec);
		}
	}
}

static void walk(struct view *v, const struct mime_part *p, const char *section, int depth)
{
	if (depth > 20)
		return;
	if (p->flags & MIME_PART_MULTIPART) {
		if (strcmp(p->subtype, "alternative") == 0) {
			walk_alternative(v, p, section, depth);
			return;
		}
		int i = 1;
		for (const struct mime_part *c = p->children; c != NULL; c = c->next, i++) {
			char sec[64];
			snprintf(sec, sizeof(sec), "%s%s%d", section, section[0] ? "." : "", i);
			walk(v, c, sec, depth + 1);
		}
		return;
	}
	const char *sec = section[0] ? section : "1";
	if (!is_attachment(p) && !(p->flags & MIME_PART_MESSAGE)) {
		if (is_type(p, "text", "plain")) {
			add_part(&v->texts, &v->text_count, p, sec);
			return;
		}
		if (is_type(p, "text", "html") && v->html.part == NULL) {
			v->html.part = p;
			snprintf(v->html.section, sizeof(v->html.section), "%s", sec);
			return;
		}
	}
	add_part(&v->atts, &v->att_count, p, sec);
}

static void view_build(struct view *v, const struct mime_message *msg)
{
	memset(v, 0, sizeof(*v));
	walk(v, msg->root, "", 0);
}

static void view_free(struct view *v)
{
	free(v->texts);
	free(v->atts);
}

static char *part_filename(const struct mime_part *p, const struct mime_message *msg)
{
	const char *name = mime_param_get_utf8(p->disposition_params, p->disposition_param_count, "filename");
	if (name == NULL || name[0] == '\0')
		name = mime_param_get_utf8(p->params, p->param_count, "name");
	if (name != NULL && name[0] != '\0') {
		/* No path separators or controls in a name offered for saving. */
		char *s = xstrdup(name);
		for (char *c = s; *c; c++)
			if (*c == '/' || *c == '\\' || (unsigned char)*c < 32)
				*c = '_';
		return s;
	}
	if (p->flags & MIME_PART_MESSAGE && p->children != NULL) {
		char *subj = mime_header_get(msg, p->children, "Subject");
		char *dec = subj ? rfc2047_decode_dup(subj, strlen(subj), 100) : NULL;
		free(subj);
		struct buf b;
		buf_init(&b, 256);
		for (const char *c = dec && dec[0] ? dec : "message"; *c; c++)
			buf_putc(&b, (*c == '/' || *c == '\\' || (unsigned char)*c < 32) ? '_' : *c);
		buf_puts(&b, ".eml");
		free(dec);
		return buf_steal(&b, NULL);
	}
	struct buf b;
	buf_init(&b, 256);
	buf_printf(&b, "attachment.%s", strcmp(p->subtype, "plain") == 0 ? "txt" : p->subtype);
	return buf_steal(&b, NULL);
}

static json_t *addresses_json(const struct mime_message *msg, const char *header)
{
	json_t *arr = json_array();
	char *v = mime_header_get(msg, msg->root, header);
	if (v == NULL)
		return arr;
	struct mime_address *list;
	size_t n = mime_address_parse(v, strlen(v), &list);
	for (size_t i = 0; i < n && i < 1000; i++) {
		if (list[i].kind != MIME_ADDRESS_MAILBOX || list[i].mailbox == NULL)
			continue;
		struct buf spec;
		buf_init(&spec, 1024);
		mime_address_append_spec(&list[i], &spec);
		char *name =
		    list[i].name ? rfc2047_decode_dup(list[i].name, strlen(list[i].name), 512) : NULL;
		json_t *o = json_object();
		json_object_set_new(o, "name", jstr(name ? name : ""));
		json_object_set_new(o, "address", jstr(buf_cstr(&spec)));
		json_array_append_new(arr, o);
		free(name);
		buf_free(&spec);
	}
	mime_address_list_free(&list, n);
	free(v);
	return arr;
}

static json_t *header_json(const struct mime_message *msg, const char *name, size_t max)
{
	char *v = mime_header_get(msg, msg->root, name);
	if (v == NULL)
		return json_null();
	char *d = rfc2047_decode_dup(v, strlen(v), max);
	json_t *j = jstr(d);
	free(d);
	free(v);
	return j;
}

/* cid: images for the sanitizer: the part whose Content-ID matches,
 * when it is a raster image, as a data: URL. */
struct cid_ctx {
	const struct mime_message *msg;
	size_t budget;
};

static const struct mime_part *find_cid(const struct mime_part *p, const char *cid, size_t len, int depth)
{
	if (depth > 30)
		return NULL;
	if (p->id != NULL) {
		const char *s = p->id;
		while (*s == ' ' || *s == '<')
			s++;
		size_t n = strcspn(s, ">");
		while (n > 0 && s[n - 1] == ' ')
			n--;
		if (n == len && strncasecmp(s, cid, len) == 0)
			return p;
	}
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		const struct mime_part *f = find_cid(c, cid, len, depth + 1);
		if (f)
			return f;
	}
	return NULL;
}

static const char *raster_type(const struct mime_part *p)
{
	if (strcmp(p->type, "image") != 0)
		return NULL;
	if (strcmp(p->subtype, "png") == 0 || strcmp(p->subtype, "gif") == 0 ||
	    strcmp(p->subtype, "webp") == 0)
		return p->subtype;
	if (strcmp(p->subtype, "jpeg") == 0 || strcmp(p->subtype, "jpg") == 0 ||
	    strcmp(p->subtype, "pjpeg") == 0)
		return "jpeg";
	return NULL;
}

static int cid_resolve(void *ctx, const char *cid, size_t len, struct buf *out)
{
	struct cid_ctx *cc = ctx;
	const struct mime_part *p = find_cid(cc->msg->root, cid, len, 0);
	const char *type = p ? raster_type(p) : NULL;
	if (type == NULL || p->body_size > cc->budget)
		return -1;
	struct buf raw;
	buf_init(&raw, p->body_size + 16);
	const char *err;
	int r = mime_part_decode(cc->msg, p, &raw, &err);
	if (r == 0 && raw.len > 0) {
		size_t before = out->len;
		if (buf_printf(out, "data:image/%s;base64,", type) < 0 ||
		    base64_encode(out, raw.data, raw.len) < 0) {
			buf_truncate(out, before);
			r = -1;
		} else
			cc->budget -= p->body_size;
	} else
		r = -1;
	buf_free(&raw);
	return r;
}

/* The HTML body, decoded to UTF-8 and sanitized into out. */
static int html_view(const struct mime_message *msg, const struct mime_part *p, bool remote, struct buf *out,
		     struct html_sanitize_stats *stats)
{
	struct buf raw, utf8;
	buf_init(&raw, p->body_size + 16);
	const char *err;
	if (mime_part_decode(msg, p, &raw, &err) < 0)
		buf_append(&raw, msg->data + p->body_offset, p->body_size);
	buf_init(&utf8, 3 * raw.len + 16);
	charset_to_utf8(mime_param_get(p->params, p->param_count, "charset"), buf_cstr(&raw), raw.len, &utf8);
	buf_free(&raw);
	struct cid_ctx cc = {.msg = msg, .budget = INLINE_IMAGES_MAX};
	struct html_sanitize_opts o = {
	    .allow_remote_images = remote, .cid_resolve = cid_resolve, .cid_ctx = &cc};
	int r = html_sanitize(buf_cstr(&utf8), utf8.len, &o, out, stats);
	buf_free(&utf8);
	return r;
}

void api_message_get(struct http_ctx *x)
{
	struct loaded l;
	if (!load_message(x, &l, true))
		return;
	const struct mime_message *msg = l.mime;
	struct view v;
	view_build(&v, msg);

	struct buf text;
	buf_init(&text, TEXT_MAX);
	for (size_t i = 0; i < v.text_count; i++) {
		if (i > 0)
			buf_puts(&text, "\n\n");
		mime_part_text(msg, v.texts[i].part, 0, &text);
	}
	int remote_blocked = 0;
	if (v.html.part != NULL) {
		if (v.text_count == 0)
			mime_part_text(msg, v.html.part, 0, &text); /* html turned into text */
		struct buf scratch;
		struct html_sanitize_stats stats;
		buf_init(&scratch, (size_t)64 * 1024 * 1024);
		html_view(msg, v.html.part, false, &scratch, &stats);
		remote_blocked = (int)stats.remote_blocked;
		buf_free(&scratch);
	}

	json_t *atts = json_array();
	for (size_t i = 0; i < v.att_count; i++) {
		const struct mime_part *p = v.atts[i].part;
		char *name = part_filename(p, msg);
		size_t size = p->body_size;
		if (p->encoding != NULL && strcmp(p->encoding, "base64") == 0)
			size = size / 4 * 3;
		char type[200];
		snprintf(type, sizeof(type), "%s/%s", p->type, p->subtype);
		bool inline_img = p->id != NULL && raster_type(p) != NULL && !is_attachment(p);
		json_t *a =
		    json_pack("{s:s, s:o, s:s, s:I, s:b}", "part", v.atts[i].section, "name", jstr(name),
			      "type", type, "size", (json_int_t)size, "inline", inline_img);
		if (a != NULL)
			json_array_append_new(atts, a);
		free(name);
	}

	json_t *o = json_object();
	json_object_set_new(o, "mailbox", json_integer(l.mb.id));
	json_object_set_new(o, "uid", json_integer(l.m.uid));
	json_object_set_new(o, "flags", flags_json(l.m.flags));
	json_object_set_new(o, "subject", jstr(l.m.subject));
	json_object_set_new(o, "from", addresses_json(msg, "From"));
	json_object_set_new(o, "to", addresses_json(msg, "To"));
	json_object_set_new(o, "cc", addresses_json(msg, "Cc"));
	json_object_set_new(o, "bcc", addresses_json(msg, "Bcc"));
	json_object_set_new(o, "reply_to", addresses_json(msg, "Reply-To"));
	json_object_set_new(o, "date", json_integer((json_int_t)l.m.sent_date));
	json_object_set_new(o, "message_id", jstr(l.m.message_id));
	json_object_set_new(o, "in_reply_to", jstr(l.m.in_reply_to));
	json_object_set_new(o, "references", jstr(l.m.references));
	json_object_set_new(o, "list_unsubscribe", header_json(msg, "List-Unsubscribe", 2000));
	json_object_set_new(o, "size", json_integer((json_int_t)l.m.size));
	/* Line ends as the browser wants them. */
	size_t k = 0;
	for (size_t i = 0; i < text.len; i++)
		if (!(text.data[i] == '\r' && i + 1 < text.len && text.data[i + 1] == '\n'))
			text.data[k++] = text.data[i];
	buf_truncate(&text, k);
	json_object_set_new(o, "text", jstrn(buf_cstr(&text), text.len));
	json_object_set_new(o, "has_html", json_boolean(v.html.part != NULL));
	json_object_set_new(o, "remote_images", json_integer(remote_blocked));
	json_object_set_new(o, "attachments", atts);
	buf_free(&text);
	view_free(&v);
	loaded_free(&l);
	http_reply_json(x, 200, o);
}

static const char html_head[] =
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">"
    "<style>html{color-scheme:light}body{margin:0;padding:16px;font:14px/1.5 system-ui,-apple-system,\"Segoe "
    "UI\",Roboto,sans-serif;color:#1f2328;background:#fff;overflow-wrap:anywhere}img{max-width:100%;height:"
    "auto}"
    "table{max-width:100%}pre{white-space:pre-wrap}blockquote{margin:0 0 0 .8ex;border-left:2px solid "
    "#d0d7de;padding-left:1ex;color:#57606a}a{color:#0b57d0}</style></head><body>";

void api_message_html(struct http_ctx *x)
{
	const char *images = http_query(x, "images");
	bool remote = images != NULL && strcmp(images, "1") == 0;
	struct loaded l;
	if (!load_message(x, &l, true))
		return;
	struct view v;
	view_build(&v, l.mime);
	struct buf out;
	buf_init(&out, (size_t)80 * 1024 * 1024);
	buf_puts(&out, html_head);
	if (v.html.part != NULL)
		html_view(l.mime, v.html.part, remote, &out, NULL);
	else {
		/* A text message: shown as preformatted, escaped text. */
		struct buf text;
		buf_init(&text, TEXT_MAX);
		for (size_t i = 0; i < v.text_count; i++)
			mime_part_text(l.mime, v.texts[i].part, 0, &text);
		buf_puts(&out, "<pre>");
		html_escape(buf_cstr(&text), text.len, &out);
		buf_puts(&out, "</pre>");
		buf_free(&text);
	}
	buf_puts(&out, "</body></html>");
	view_free(&v);
	loaded_free(&l);
	/* The frame's own policy: no script, nothing from outside but the
	 * images the user allowed, a sandbox even if opened on its own. */
	x->csp = remote ? "default-src 'none'; img-src data: https: http:; style-src 'unsafe-inline'; "
			  "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
			  "sandbox allow-popups allow-popups-to-escape-sandbox"
			: "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
			  "form-action 'none'; frame-ancestors 'self'; sandbox allow-popups "
			  "allow-popups-to-escape-sandbox";
	x->frame_same_origin = true;
	x->may_gzip = true;
	size_t len;
	char *body = buf_steal(&out, &len);
	http_reply_take(x, 200, "text/html; charset=utf-8", body, len, NULL);
}

void api_message_raw(struct http_ctx *x)
{
	const char *dl = http_query(x, "download");
	bool download = dl != NULL && strcmp(dl, "1") == 0;
	struct loaded l;
	if (!load_message(x, &l, false))
		return;
	char *data = l.data;
	size_t len = l.len;
	l.data = NULL;
	loaded_free(&l);
	x->may_gzip = true;
	http_reply_take(x, 200, download ? "message/rfc822" : "text/plain; charset=utf-8", data, len,
			download ? "Content-Disposition: attachment; filename=\"message.eml\"\r\n" : NULL);
}

/* Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266). */
static void disposition(struct buf *h, bool inline_view, const char *name)
{
	buf_printf(h, "Content-Disposition: %s; filename=\"", inline_view ? "inline" : "attachment");
	for (const char *c = name; *c; c++)
		buf_putc(h, ((unsigned char)*c < 32 || (unsigned char)*c >= 127 || *c == '"' || *c == '\\')
				? '_'
				: *c);
	buf_puts(h, "\"; filename*=UTF-8''");
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    strchr("!#$&+-.^_`|~", *c))
			buf_putc(h, (char)*c);
		else
			buf_printf(h, "%%%02X", *c);
	}
	buf_puts(h, "\r\n");
}

void api_message_part(struct http_ctx *x)
{
	const char *inl = http_query(x, "inline");
	bool want_inline = inl != NULL && strcmp(inl, "1") == 0;
	struct loaded l;
	if (!load_message(x, &l, true))
		return;
	const char *section = x->str[0];
	const struct mime_part *p = mime_part_find(l.mime, section, strlen(section));
	if (p == NULL || (p->flags & MIME_PART_MULTIPART)) {
		loaded_free(&l);
		http_reply_error(x, 404, "no such part");
		return;
	}
	struct buf body;
	buf_init(&body, p->body_size + 16);
	const char *err;
	if (p->flags & MIME_PART_MESSAGE)
		buf_append(&body, l.data + p->body_offset, p->body_size);
	else if (mime_part_decode(l.mime, p, &body, &err) < 0)
		buf_append(&body, l.data + p->body_offset, p->body_size);
	/* Only types a browser cannot turn into active content are served as
	 * themselves; everything else is a download of octets. */
	const char *raster = raster_type(p);
	char type[128];
	bool is_text = is_type(p, "text", "plain");
	if (raster)
		snprintf(type, sizeof(type), "image/%s", raster);
	else if (is_text)
		snprintf(type, sizeof(type), "text/plain; charset=utf-8");
	else if (p->flags & MIME_PART_MESSAGE)
		snprintf(type, sizeof(type), "message/rfc822");
	else if (is_type(p, "application", "pdf"))
		snprintf(type, sizeof(type), "application/pdf");
	else
		snprintf(type, sizeof(type), "application/octet-stream");
	if (is_text) {
		/* Shown as UTF-8 whatever its charset was. */
		struct buf u;
		buf_init(&u, 3 * body.len + 16);
		charset_to_utf8(mime_param_get(p->params, p->param_count, "charset"), buf_cstr(&body),
				body.len, &u);
		buf_free(&body);
		body = u;
	}
	char *name = part_filename(p, l.mime);
	struct buf h;
	buf_init(&h, 8192);
	disposition(&h, want_inline && (raster || is_text), name);
	buf_puts(&h, "Cache-Control: private, max-age=3600\r\n");
	x->has_cache_control = true;
	free(name);
	loaded_free(&l);
	size_t len;
	char *data = buf_steal(&body, &len);
	http_reply_take(x, 200, type, data, len, buf_cstr(&h));
	buf_free(&h);
}

/* ---- changes ------------------------------------------------------------- */

static int flag_list(struct http_ctx *x, const json_t *arr, const char *key, uint32_t *flags)
{
	*flags = 0;
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr)) {
		char msg[64];
		snprintf(msg, sizeof(msg), "%s must be an array of flag names", key);
		http_reply_error(x, 400, msg);
		return -1;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		size_t k = 0;
		while (s != NULL && k < sizeof(flag_names) / sizeof(flag_names[0]) &&
		       strcmp(s, flag_names[k].name) != 0)
			k++;
		if (s == NULL || k == sizeof(flag_names) / sizeof(flag_names[0])) {
			http_reply_error(x, 400,
					 "unknown flag (seen, answered, flagged, deleted, draft, forwarded, "
					 "junk, notjunk)");
			return -1;
		}
		*flags |= flag_names[k].flag;
	}
	return 0;
}

void api_messages_flags(struct http_ctx *x)
{
	uint32_t add, del, *uids;
	size_t n;
	if (flag_list(x, json_object_get(x->body, "add"), "add", &add) < 0 ||
	    flag_list(x, json_object_get(x->body, "remove"), "remove", &del) < 0)
		return;
	if ((add | del) == 0) {
		http_reply_error(x, 400, "add or remove some flags");
		return;
	}
	if (json_uid_list(x, x->body, "uids", UIDS_MAX, &uids, &n) < 0)
		return;
	struct store_mailbox mb;
	if (api_mailbox_load(x, x->num[0], &mb) != 1) {
		free(uids);
		return;
	}
	const char *err;
	int changed = 0, r = 0;
	struct store *st = x->srv->store;
	if (add != 0)
		r = store_msg_set_flags(st, mb.id, uids, n, STORE_FLAGS_ADD, add, NULL, 0, NULL, NULL, &err);
	if (r >= 0)
		changed += r;
	if (r >= 0 && del != 0) {
		r = store_msg_set_flags(st, mb.id, uids, n, STORE_FLAGS_REMOVE, del, NULL, 0, NULL, NULL,
					&err);
		if (r >= 0)
			changed += r;
	}
	free(uids);
	store_mailbox_clear(&mb);
	if (r < 0) {
		http_reply_error(x, 500, "storage error");
		return;
	}
	http_reply_json(x, 200, json_pack("{s:i}", "changed", changed));
}

void api_messages_move(struct http_ctx *x)
{
	const json_t *to = json_object_get(x->body, "to");
	if (!json_is_integer(to) || json_integer_value(to) < 1) {
		http_reply_error(x, 400, "to must be a mailbox id");
		return;
	}
	uint32_t *uids;
	size_t n;
	if (json_uid_list(x, x->body, "uids", UIDS_MAX, &uids, &n) < 0)
		return;
	struct store_mailbox src, dst;
	if (api_mailbox_load(x, x->num[0], &src) != 1) {
		free(uids);
		return;
	}
	if (api_mailbox_load(x, json_integer_value(to), &dst) != 1) {
		store_mailbox_clear(&src);
		free(uids);
		return;
	}
	const char *err;
	int r = 0;
	if (src.id != dst.id) {
		uint32_t *s_uids = NULL, *d_uids = NULL;
		r = store_msg_copy(x->srv->store, src.id, uids, n, dst.id, true, &s_uids, &d_uids, &err);
		free(s_uids);
		free(d_uids);
	}
	free(uids);
	store_mailbox_clear(&src);
	store_mailbox_clear(&dst);
	if (r < 0) {
		http_reply_error(x, strstr(err, "quota") ? 507 : 500, err);
		return;
	}
	http_reply_json(x, 200, json_pack("{s:i}", "moved", r));
}

void api_messages_delete(struct http_ctx *x)
{
	const json_t *perm = json_object_get(x->body, "permanent");
	if (perm != NULL && !json_is_boolean(perm)) {
		http_reply_error(x, 400, "permanent must be true or false");
		return;
	}
	uint32_t *uids;
	size_t n;
	if (json_uid_list(x, x->body, "uids", UIDS_MAX, &uids, &n) < 0)
		return;
	struct store_mailbox mb, trash = {0};
	if (api_mailbox_load(x, x->num[0], &mb) != 1) {
		free(uids);
		return;
	}
	struct store *st = x->srv->store;
	const char *err = "storage error";
	bool expunge = json_is_true(perm) || mb.special_use == STORE_SPECIAL_TRASH ||
		       mb.special_use == STORE_SPECIAL_JUNK;
	int r, found = 0;
	if (!expunge) {
		found = store_mailbox_get_special(st, x->session->user_id, STORE_SPECIAL_TRASH, &trash, &err);
		if (found == 0)
			expunge = true; /* no Trash: delete for good */
	}
	json_t *o = NULL;
	if (found < 0)
		r = -1;
	else if (expunge) {
		r = store_msg_expunge(st, mb.id, uids, n, &err);
		o = json_pack("{s:i, s:n}", "deleted", r, "moved_to");
	} else {
		uint32_t *s_uids = NULL, *d_uids = NULL;
		r = store_msg_copy(st, mb.id, uids, n, trash.id, true, &s_uids, &d_uids, &err);
		free(s_uids);
		free(d_uids);
		o = json_pack("{s:i, s:I}", "deleted", r, "moved_to", (json_int_t)trash.id);
	}
	free(uids);
	store_mailbox_clear(&mb);
	store_mailbox_clear(&trash);
	if (r < 0) {
		json_decref(o);
		http_reply_error(x, 500, err);
		return;
	}
	http_reply_json(x, 200, o);
}
