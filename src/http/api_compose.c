/* api_compose: writing mail: attachment uploads, sending, drafts
 * (docs/webmail-api.md, "Writing").
 *
 * The webmail builds the RFC 5322 message itself (UTF-8 text as
 * quoted-printable, attachments as base64 in multipart/mixed, RFC 2047
 * headers, RFC 2231 file names) and hands it to the store exactly as SMTP
 * submission does: local recipients get their copy, remote ones go to the
 * outbound queue, and the sender's copy lands in Sent, all in one durable
 * group commit; the reply is sent from the store's callback, so "sent"
 * means "on disk". Replies and forwards carry In-Reply-To and References
 * and mark the original \Answered or $Forwarded; a draft is stored in
 * Drafts (\Draft \Seen) and replaces the previous version of itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/conn.h"
#include "core/server.h"
#include "dkim/dkim.h"
#include "http/http_api.h"
#include "mime/address.h"
#include "mime/mime.h"
#include "mime/params.h"
#include "mime/rfc2047.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/charset.h"
#include "util/date.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/qp.h"

#define SUBJECT_MAX 900
#define NAME_MAX_LEN 255
#define JSON_MAX_TEXT (4 * 1024 * 1024)

/* ---- uploads ------------------------------------------------------------ */

/* "type/subtype" from a Content-Type, lower-cased, parameters dropped;
 * anything odd is application/octet-stream. */
static void clean_media_type(const char *in, char *out, size_t size)
{
	snprintf(out, size, "application/octet-stream");
	if (in == NULL)
		return;
	size_t n = strcspn(in, ";");
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	const char *slash = memchr(in, '/', n);
	if (n == 0 || n >= size || slash == NULL || slash == in || slash == in + n - 1)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (c != '\0' && strchr("!#$&-^_.+/", c) != NULL);
		if (!ok || (c == '/' && in + i != slash))
			return;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
	out[n] = '\0';
}

/* A file name offered by the client: UTF-8, no controls or separators. */
static char *clean_name(const char *in, const char *def)
{
	if (in == NULL || in[0] == '\0' || !utf8_valid(in, strlen(in)))
		return xstrdup(def);
	struct buf b;
	buf_init(&b, NAME_MAX_LEN + 4);
	for (const char *c = in; *c && b.len < NAME_MAX_LEN; c++)
		buf_putc(&b, ((unsigned char)*c < 32 || *c == 127 || *c == '/' || *c == '\\') ? '_' : *c);
	b.len = utf8_truncate(b.data, b.len);
	b.data[b.len] = '\0';
	return buf_steal(&b, NULL);
}

void api_upload_create(struct http_ctx *x)
{
	char type[128];
	clean_media_type(http_header_get(x->req, "content-type"), type, sizeof(type));
	char *name = clean_name(http_query(x, "name"), "attachment");
	size_t len;
	char *data = http_take_body(x, &len);
	const char *err;
	struct web_upload *u =
	    web_upload_add(x->session, name, type, data, len, (size_t)x->srv->cfg->max_message_size, &err);
	free(name);
	if (u == NULL) {
		http_reply_error(x, 413, err);
		return;
	}
	http_reply_json(x, 201,
			json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)u->id, "name", u->name, "type",
				  u->type, "size", (json_int_t)u->len));
}

void api_upload_delete(struct http_ctx *x)
{
	if (x->num[0] > UINT32_MAX || !web_upload_remove(x->session, (uint32_t)x->num[0])) {
		http_reply_error(x, 404, "no such upload");
		return;
	}
	http_reply_empty(x);
}

/* ---- building the message ---------------------------------------------- */

struct rcpt {
	char *name; /* UTF-8 or NULL */
	char *spec; /* local@domain */
	int kind;   /* 0 To, 1 Cc, 2 Bcc */
};

struct msgref {
	int64_t mailbox;
	uint32_t uid;
};

struct compose {
	struct http_ctx *x;
	struct server *srv;
	int64_t user_id;
	uint64_t session_serial;
	char *user_address;
	bool draft;
	struct rcpt *rcpts;
	size_t rcpt_count;
	struct buf msg;
	size_t received_len; /* our Received header at the start of msg */
	char message_id[160];
	char *from_addr;
	struct msgref reply, forward, replace;
	uint32_t *uploads;
	size_t upload_count;
	/* The delivery. */
	struct store_delivery d;
	struct store_delivery_rcpt *drcpts;
	char **prefixes;    /* per local delivery */
	char **local_addrs; /* per local delivery: the user's address */
	size_t local_count;
	const char **remote; /* views into rcpts or remote_owned */
	char **remote_owned; /* remote targets of forwarding aliases */
	size_t remote_owned_count;
	int64_t target_mailbox; /* Drafts, or Sent (0: none) */
	uint64_t conn_id;
};

static void compose_free(struct compose *m)
{
	for (size_t i = 0; i < m->rcpt_count; i++) {
		free(m->rcpts[i].name);
		free(m->rcpts[i].spec);
	}
	free(m->rcpts);
	buf_free(&m->msg);
	free(m->from_addr);
	free(m->user_address);
	free(m->uploads);
	free(m->drcpts);
	for (size_t i = 0; i < m->local_count; i++) {
		free(m->prefixes[i]);
		free(m->local_addrs[i]);
	}
	free(m->prefixes);
	free(m->local_addrs);
	for (size_t i = 0; i < m->remote_owned_count; i++)
		free(m->remote_owned[i]);
	free(m->remote_owned);
	free(m->remote);
	free(m);
}

/* Appends the recipients of body[key] (a string or an array of strings,
 * each "Name <a@b>, c@d"). -1 after a 400 reply. */
static int parse_rcpts(struct compose *m, const char *key, int kind)
{
	struct http_ctx *x = m->x;
	const json_t *v = json_object_get(x->body, key);
	if (v == NULL || json_is_null(v))
		return 0;
	char msg[300];
	if (!json_is_string(v) && !json_is_array(v)) {
		snprintf(msg, sizeof(msg), "%s must be a string or an array of strings", key);
		http_reply_error(x, 400, msg);
		return -1;
	}
	size_t count = json_is_string(v) ? 1 : json_array_size(v);
	for (size_t i = 0; i < count; i++) {
		const json_t *e = json_is_string(v) ? v : json_array_get(v, i);
		if (!json_is_string(e) || json_string_length(e) > 64 * 1024) {
			snprintf(msg, sizeof(msg), "%s must hold strings", key);
			http_reply_error(x, 400, msg);
			return -1;
		}
		const char *s = json_string_value(e);
		struct mime_address *list;
		size_t n = mime_address_parse(s, json_string_length(e), &list);
		int bad = 0;
		for (size_t k = 0; k < n && !bad; k++) {
			if (list[k].kind != MIME_ADDRESS_MAILBOX)
				continue;
			struct buf spec;
			buf_init(&spec, 400);
			if (list[k].mailbox == NULL || list[k].domain == NULL || list[k].invalid ||
			    mime_address_append_spec(&list[k], &spec) < 0 || spec.len > 254 ||
			    strpbrk(buf_cstr(&spec), " \t\r\n<>,;") != NULL) {
				snprintf(msg, sizeof(msg), "not a valid address in %s: %.200s", key, s);
				bad = 1;
			} else {
				char *canon = store_address_canon(buf_cstr(&spec));
				if (canon == NULL) {
					snprintf(msg, sizeof(msg), "not a valid address in %s: %.200s", key,
						 buf_cstr(&spec));
					bad = 1;
				}
				free(canon);
			}
			if (!bad) {
				bool dup = false;
				for (size_t j = 0; j < m->rcpt_count && !dup; j++)
					dup = strcasecmp(m->rcpts[j].spec, buf_cstr(&spec)) == 0;
				if (!dup) {
					m->rcpts =
					    xreallocarray(m->rcpts, m->rcpt_count + 1, sizeof(*m->rcpts));
					struct rcpt *r = &m->rcpts[m->rcpt_count++];
					r->spec = buf_steal(&spec, NULL);
					r->name = list[k].name ? clean_name(list[k].name, "") : NULL;
					r->kind = kind;
				}
			}
			buf_free(&spec);
		}
		if (n == 0 && strspn(s, " \t,") != strlen(s)) {
			snprintf(msg, sizeof(msg), "not a valid address in %s: %.200s", key, s);
			bad = 1;
		}
		mime_address_list_free(&list, n);
		if (bad) {
			http_reply_error(x, 400, msg);
			return -1;
		}
	}
	return 0;
}

/* Strips controls (a header value must stay on its line). */
static char *one_line(const char *s, size_t max)
{
	struct buf b;
	buf_init(&b, max + 8);
	for (const char *c = s; *c && b.len < max; c++)
		buf_putc(&b, ((unsigned char)*c < 32 || *c == 127) ? ' ' : *c);
	b.len = utf8_truncate(b.data ? b.data : "", b.len);
	if (b.data)
		b.data[b.len] = '\0';
	return buf_steal(&b, NULL);
}

static void put_phrase(struct buf *b, const char *name)
{
	bool ascii = true, special = false;
	for (const char *c = name; *c; c++) {
		if ((unsigned char)*c >= 127 || (unsigned char)*c < 32)
			ascii = false;
		else if (strchr("()<>[]:;@\\,.\"", *c))
			special = true;
	}
	if (!ascii || strstr(name, "=?") != NULL) {
		rfc2047_encode(name, strlen(name), b);
		return;
	}
	if (!special) {
		buf_puts(b, name);
		return;
	}
	buf_putc(b, '"');
	for (const char *c = name; *c; c++) {
		if (*c == '"' || *c == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *c);
	}
	buf_putc(b, '"');
}

static void put_address(struct buf *b, const char *name, const char *spec)
{
	if (name != NULL && name[0] != '\0') {
		put_phrase(b, name);
		buf_printf(b, " <%s>", spec);
	} else
		buf_puts(b, spec);
}

static void put_rcpt_header(struct buf *b, const struct compose *m, const char *header, int kind)
{
	bool first = true;
	for (size_t i = 0; i < m->rcpt_count; i++) {
		if (m->rcpts[i].kind != kind)
			continue;
		buf_puts(b, first ? header : ",\r\n ");
		if (first)
			buf_puts(b, ": ");
		put_address(b, m->rcpts[i].name, m->rcpts[i].spec);
		first = false;
	}
	if (!first)
		buf_puts(b, "\r\n");
}

/* A header of message ids, folded between ids. */
static void put_ids(struct buf *b, const char *header, const char *ids)
{
	buf_printf(b, "%s:", header);
	size_t col = strlen(header) + 1;
	const char *p = ids;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		size_t n = strcspn(p, " \t\r\n");
		if (n == 0)
			break;
		if (col + n + 1 > 76 && col > strlen(header) + 1) {
			buf_puts(b, "\r\n");
			col = 0;
		}
		buf_putc(b, ' ');
		buf_append(b, p, n);
		col += n + 1;
		p += n;
	}
	buf_puts(b, "\r\n");
}

/* Content-Disposition / name parameters for a file name (RFC 2231 when
 * it is not plain ASCII). */
static void put_filename(struct buf *b, const char *param, const char *name)
{
	bool plain = true;
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 32 || (unsigned char)*c >= 127 || *c == '"' || *c == '\\')
			plain = false;
	if (plain) {
		buf_printf(b, ";\r\n\t%s=\"%s\"", param, name);
		return;
	}
	buf_printf(b, ";\r\n\t%s*=utf-8''", param);
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    strchr("-._~", *c))
			buf_putc(b, (char)*c);
		else
			buf_printf(b, "%%%02X", *c);
	}
}

static int put_base64(struct buf *b, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i += 57)
		if (base64_encode(b, data + i, len - i < 57 ? len - i : 57) < 0 || buf_puts(b, "\r\n") < 0)
			return -1;
	return 0;
}

/* Every writer into the message returns -1 once the buffer is full (the
 * message is then too large); callers check after each part. */
static int put_attachment(struct buf *b, const char *boundary, const char *type, const char *name,
			  const char *data, size_t len)
{
	buf_printf(b, "--%s\r\nContent-Type: %s", boundary, type);
	put_filename(b, "name", name);
	buf_puts(b, "\r\nContent-Disposition: attachment");
	put_filename(b, "filename", name);
	if (buf_puts(b, "\r\nContent-Transfer-Encoding: base64\r\n\r\n") < 0)
		return -1;
	return put_base64(b, data, len);
}

static int put_text(struct buf *b, const char *text)
{
	/* CRLF, CR and LF are all line ends; qp_encode writes them as CRLF. */
	struct buf norm;
	buf_init(&norm, strlen(text) + 16);
	for (const char *c = text; *c; c++) {
		if (*c == '\r') {
			buf_putc(&norm, '\n');
			if (c[1] == '\n')
				c++;
		} else
			buf_putc(&norm, *c);
	}
	if (norm.len == 0 || norm.data[norm.len - 1] != '\n')
		buf_putc(&norm, '\n');
	int r = buf_puts(
	    b,
	    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	if (r == 0)
		r = qp_encode(b, norm.data, norm.len, QP_TEXT);
	buf_free(&norm);
	return r;
}

static int ref_parse(struct http_ctx *x, const char *key, struct msgref *ref)
{
	const json_t *v = json_object_get(x->body, key);
	memset(ref, 0, sizeof(*ref));
	if (v == NULL || json_is_null(v))
		return 0;
	const json_t *mb = json_object_get(v, "mailbox"), *uid = json_object_get(v, "uid");
	if (!json_is_object(v) || !json_is_integer(mb) || !json_is_integer(uid) ||
	    json_integer_value(mb) < 1 || json_integer_value(uid) < 1 ||
	    json_integer_value(uid) > UINT32_MAX) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s must be {\"mailbox\": id, \"uid\": uid}", key);
		http_reply_error(x, 400, msg);
		return -1;
	}
	ref->mailbox = json_integer_value(mb);
	ref->uid = (uint32_t)json_integer_value(uid);
	return 0;
}

/* Loads a referenced message of the user: 1, 0 (after a 404), -1 (500). */
static int ref_load(struct http_ctx *x, const struct msgref *ref, unsigned fields, struct store_msg *m)
{
	struct store_mailbox mb;
	int r = api_mailbox_load(x, ref->mailbox, &mb);
	if (r != 1)
		return r;
	const char *err;
	r = store_msg_get(x->srv->store, mb.id, ref->uid, fields, m, &err);
	store_mailbox_clear(&mb);
	if (r == 0)
		http_reply_error(x, 404, "no such message");
	else if (r < 0)
		http_reply_error(x, 500, "storage error");
	return r;
}

static void random_hex(char *out, size_t bytes)
{
	char tok[WEB_SESSION_ID_LEN + 1];
	web_random_token(tok);
	size_t n = bytes < WEB_SESSION_ID_LEN ? bytes : WEB_SESSION_ID_LEN;
	for (size_t i = 0; i < n; i++)
		out[i] = (tok[i] == '-' || tok[i] == '_') ? 'x' : tok[i];
	out[n] = '\0';
}

/* Forwarded parts of an original message: appends them. 0, or -1 after a reply. */
static int put_forwarded_parts(struct compose *m, struct buf *b, const char *boundary)
{
	struct http_ctx *x = m->x;
	const json_t *parts = json_object_get(json_object_get(x->body, "forward"), "parts");
	if (parts == NULL || json_array_size(parts) == 0)
		return 0;
	if (!json_is_array(parts) || json_array_size(parts) > 100) {
		http_reply_error(x, 400, "forward.parts must be an array of part numbers");
		return -1;
	}
	struct store_msg orig = {0};
	if (ref_load(x, &m->forward, STORE_FIELD_BASIC, &orig) != 1)
		return -1;
	char *data;
	size_t len;
	const char *err;
	if (store_msg_read(x->srv->store, orig.id, &data, &len, &err) < 0) {
		store_msg_clear(&orig);
		http_reply_error(x, 500, "storage error");
		return -1;
	}
	store_msg_clear(&orig);
	struct mime_message *mm = mime_parse(data, len);
	int r = 0;
	for (size_t i = 0; i < json_array_size(parts) && r == 0; i++) {
		const char *sec = json_string_value(json_array_get(parts, i));
		const struct mime_part *p = sec ? mime_part_find(mm, sec, strlen(sec)) : NULL;
		if (p == NULL || (p->flags & MIME_PART_MULTIPART)) {
			http_reply_error(x, 404, "no such part to forward");
			r = -1;
			break;
		}
		struct buf body;
		buf_init(&body, p->body_size + 16);
		if ((p->flags & MIME_PART_MESSAGE) || mime_part_decode(mm, p, &body, &err) < 0)
			buf_append(&body, data + p->body_offset, p->body_size);
		const char *fname =
		    mime_param_get_utf8(p->disposition_params, p->disposition_param_count, "filename");
		if (fname == NULL)
			fname = mime_param_get_utf8(p->params, p->param_count, "name");
		char *name = clean_name(fname, (p->flags & MIME_PART_MESSAGE) ? "message.eml" : "attachment");
		char type[128];
		snprintf(type, sizeof(type), "%s/%s", p->type, p->subtype);
		if (p->flags & MIME_PART_MESSAGE)
			snprintf(type, sizeof(type), "application/octet-stream");
		char clean[128];
		clean_media_type(type, clean, sizeof(clean));
		if (put_attachment(b, boundary, clean, name, buf_cstr(&body), body.len) < 0) {
			http_reply_error(x, 413, "the message is larger than the server accepts");
			r = -1;
		}
		free(name);
		buf_free(&body);
	}
	mime_free(&mm);
	free(data);
	return r;
}

/* DKIM: mail from our domains is signed before it is stored or queued, as
 * submission does (the signatures go after our Received header). */
static void dkim_add(struct compose *m)
{
	if (m->srv->dkim == NULL)
		return;
	struct buf *b = &m->msg;
	struct buf sig;
	buf_init(&sig, 64 * 1024);
	const char *error;
	int r = dkim_signer_sign(m->srv->dkim, b->data + m->received_len, b->len - m->received_len,
				 time(NULL), &sig, &error);
	if (r < 0)
		log_session(m->conn_id, "http dkim not signed: %s", error);
	if (r > 0) {
		struct buf out;
		buf_init(&out, b->max + sig.len);
		if (buf_append(&out, b->data, m->received_len) == 0 &&
		    buf_append(&out, sig.data, sig.len) == 0 &&
		    buf_append(&out, b->data + m->received_len, b->len - m->received_len) == 0) {
			buf_free(b);
			*b = out;
		} else
			buf_free(&out);
	}
	buf_free(&sig);
}

/* Builds m->msg from the request. 0, or -1 after an error reply. */
static int build_message(struct compose *m)
{
	struct http_ctx *x = m->x;
	const json_t *body = x->body;
	const char *subject, *text, *from;
	if (json_opt_str(x, body, "subject", 64 * 1024, &subject) < 0 ||
	    json_opt_str(x, body, "text", JSON_MAX_TEXT, &text) < 0 ||
	    json_opt_str(x, body, "from", 320, &from) < 0)
		return -1;
	if (parse_rcpts(m, "to", 0) < 0 || parse_rcpts(m, "cc", 1) < 0 || parse_rcpts(m, "bcc", 2) < 0 ||
	    ref_parse(x, "in_reply_to", &m->reply) < 0 || ref_parse(x, "forward", &m->forward) < 0 ||
	    ref_parse(x, "replace", &m->replace) < 0)
		return -1;
	const json_t *att = json_object_get(body, "attachments");
	if (att != NULL && !json_is_null(att)) {
		if (!json_is_array(att) || json_array_size(att) > 100) {
			http_reply_error(x, 400, "attachments must be an array of upload ids");
			return -1;
		}
		m->uploads = xcalloc(json_array_size(att) + 1, sizeof(*m->uploads));
		for (size_t i = 0; i < json_array_size(att); i++) {
			const json_t *id = json_array_get(att, i);
			if (!json_is_integer(id) || json_integer_value(id) < 1 ||
			    json_integer_value(id) > UINT32_MAX ||
			    web_upload_find(x->session, (uint32_t)json_integer_value(id)) == NULL) {
				http_reply_error(x, 404, "no such upload");
				return -1;
			}
			m->uploads[m->upload_count++] = (uint32_t)json_integer_value(id);
		}
	}
	const struct config *cfg = x->srv->cfg;
	if (!m->draft && m->rcpt_count == 0) {
		http_reply_error(x, 400, "no recipients");
		return -1;
	}
	if (m->rcpt_count > cfg->max_recipients) {
		http_reply_error(x, 400, "too many recipients");
		return -1;
	}

	/* The sender: the user's address, or an address of theirs (an alias). */
	const char *err;
	if (from != NULL && from[0] != '\0') {
		char *canon = store_address_canon(from);
		int owned = canon ? store_address_owned_by(x->srv->store, canon, m->user_id, &err) : 0;
		if (owned != 1) {
			free(canon);
			http_reply_error(x, owned < 0 ? 500 : 400, "you cannot send from that address");
			return -1;
		}
		m->from_addr = canon;
	} else
		m->from_addr = xstrdup(m->user_address);
	struct store_user u = {0};
	store_user_get_by_id(x->srv->store, m->user_id, &u, &err);

	struct buf *b = &m->msg;
	buf_init(b, cfg->max_message_size + 1024 * 1024);
	char rnd[40];
	random_hex(rnd, 24);
	snprintf(m->message_id, sizeof(m->message_id), "<%s.%lld@%s>", rnd, (long long)time(NULL),
		 cfg->hostname);
	if (!m->draft) {
		buf_printf(b, "Received: from [%s] by %s (Posthorn webmail) with %s id %016llx; ",
			   x->c->peer_ip, cfg->hostname, x->c->tls ? "HTTPSA" : "HTTPA",
			   (unsigned long long)x->c->id);
		date_format_rfc5322(time(NULL), 0, b);
		buf_puts(b, "\r\n");
	}
	m->received_len = b->len;
	buf_puts(b, "Date: ");
	date_format_rfc5322(time(NULL), 0, b);
	buf_puts(b, "\r\nFrom: ");
	char *dn = u.display_name ? one_line(u.display_name, 200) : NULL;
	put_address(b, dn, m->from_addr);
	free(dn);
	store_user_clear(&u);
	buf_puts(b, "\r\n");
	put_rcpt_header(b, m, "To", 0);
	put_rcpt_header(b, m, "Cc", 1);
	if (m->draft)
		put_rcpt_header(b, m, "Bcc", 2); /* kept in drafts only */
	char *subj = one_line(subject ? subject : "", SUBJECT_MAX);
	buf_puts(b, "Subject: ");
	rfc2047_encode(subj, strlen(subj), b);
	buf_puts(b, "\r\n");
	free(subj);
	buf_printf(b, "Message-ID: %s\r\n", m->message_id);
	if (m->reply.mailbox != 0) {
		struct store_msg orig = {0};
		if (ref_load(x, &m->reply, STORE_FIELD_SUMMARY, &orig) != 1)
			return -1;
		if (orig.message_id && orig.message_id[0] == '<' && strlen(orig.message_id) < 1000) {
			buf_printf(b, "In-Reply-To: %s\r\n", orig.message_id);
			struct buf refs;
			buf_init(&refs, 8192);
			if (orig.references && strlen(orig.references) < 6000)
				buf_printf(&refs, "%s ", orig.references);
			else if (orig.in_reply_to && strlen(orig.in_reply_to) < 1000)
				buf_printf(&refs, "%s ", orig.in_reply_to);
			buf_puts(&refs, orig.message_id);
			char *clean = one_line(buf_cstr(&refs), 8000);
			put_ids(b, "References", clean);
			free(clean);
			buf_free(&refs);
		}
		store_msg_clear(&orig);
	}
	buf_puts(b, "MIME-Version: 1.0\r\nUser-Agent: Posthorn Webmail\r\n");
	bool multipart = m->upload_count > 0 ||
			 json_array_size(json_object_get(json_object_get(body, "forward"), "parts")) > 0;
	int full = 0;
	if (!multipart) {
		full = put_text(b, text ? text : "");
	} else {
		char boundary[64];
		random_hex(rnd, 24);
		snprintf(boundary, sizeof(boundary), "=_posthorn_%s", rnd);
		buf_printf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary);
		buf_puts(b, "This is a multi-part message in MIME format.\r\n");
		buf_printf(b, "--%s\r\n", boundary);
		full = put_text(b, text ? text : "");
		for (size_t i = 0; i < m->upload_count && full == 0; i++) {
			const struct web_upload *up = web_upload_find(x->session, m->uploads[i]);
			full = put_attachment(b, boundary, up->type, up->name, up->data, up->len);
		}
		if (full == 0 && m->forward.mailbox != 0 && put_forwarded_parts(m, b, boundary) < 0)
			return -1;
		if (full == 0)
			full = buf_printf(b, "--%s--\r\n", boundary);
	}
	if (full < 0 || b->len > cfg->max_message_size) {
		http_reply_error(x, 413, "the message is larger than the server accepts");
		return -1;
	}
	if (!m->draft)
		dkim_add(m);
	return 0;
}

/* ---- delivery ------------------------------------------------------------ */

static void after_delivery(struct compose *m, struct store_delivery *d, int result)
{
	struct http_ctx *x = m->x;
	struct store *st = m->srv->store;
	const char *err;
	if (result < 0) {
		log_warnx("http: %s failed for %s: %s", m->draft ? "draft" : "send", m->user_address,
			  d->error ? d->error : "?");
		http_reply_error(x, 503, "the message could not be stored; try again");
		return;
	}
	/* The last rcpt is our own copy (Sent or Drafts) when there is a target. */
	size_t own = m->target_mailbox ? d->rcpt_count - 1 : d->rcpt_count;
	bool copy_ok = m->target_mailbox && d->rcpts[own].result == 0;
	if (m->draft) {
		if (!copy_ok) {
			http_reply_error(x, d->rcpts[own].over_quota ? 507 : 503,
					 "the draft could not be saved");
			return;
		}
	}
	/* A replaced draft goes once the new one is safe (and a sent one too). */
	if (m->replace.mailbox != 0 && (!m->draft || copy_ok)) {
		struct store_mailbox mb = {0};
		if (store_mailbox_get_by_id(st, m->replace.mailbox, &mb, &err) == 1 &&
		    mb.user_id == m->user_id && mb.special_use == STORE_SPECIAL_DRAFTS)
			store_msg_expunge(st, mb.id, &m->replace.uid, 1, &err);
		store_mailbox_clear(&mb);
	}
	if (m->draft) {
		http_reply_json(x, 201,
				json_pack("{s:I, s:i, s:s}", "mailbox", (json_int_t)m->target_mailbox, "uid",
					  (int)d->rcpts[own].uid, "message_id", m->message_id));
		return;
	}
	/* Sent: mark the original, remember the correspondents, drop uploads. */
	struct store_mailbox mb = {0};
	struct msgref *orig = m->reply.mailbox ? &m->reply : m->forward.mailbox ? &m->forward : NULL;
	if (orig != NULL && store_mailbox_get_by_id(st, orig->mailbox, &mb, &err) == 1 &&
	    mb.user_id == m->user_id)
		store_msg_set_flags(st, mb.id, &orig->uid, 1, STORE_FLAGS_ADD,
				    orig == &m->reply ? STORE_FLAG_ANSWERED : STORE_FLAG_FORWARDED, NULL, 0,
				    NULL, NULL, &err);
	store_mailbox_clear(&mb);
	for (size_t i = 0; i < m->rcpt_count; i++)
		store_contact_note(st, m->user_id, m->rcpts[i].spec, m->rcpts[i].name, &err);
	struct web_session *s = web_session_by_serial(http_sessions(m->srv), m->session_serial, time(NULL));
	for (size_t i = 0; s != NULL && i < m->upload_count; i++)
		web_upload_remove(s, m->uploads[i]);
	json_t *failed = json_array();
	size_t delivered = 0;
	for (size_t i = 0; i < own; i++) {
		if (d->rcpts[i].result == 0)
			delivered++;
		else
			json_array_append_new(
			    failed, json_pack("{s:s, s:s}", "address", m->local_addrs[i], "error",
					      d->rcpts[i].over_quota ? "mailbox full" : "not stored"));
	}
	log_session(m->conn_id, "http sent user=%s from=<%s> local=%zu remote=%zu queue=%lld",
		    m->user_address, m->from_addr, own, d->remote_count, (long long)d->queue_id);
	http_reply_json(x, 200,
			json_pack("{s:s, s:I, s:I, s:b, s:o}", "message_id", m->message_id, "delivered",
				  (json_int_t)delivered, "queued", (json_int_t)d->remote_count, "sent_copy",
				  copy_ok, "failed", failed));
}

static void delivered_cb(void *ctx, struct store_delivery *d, int result)
{
	struct compose *m = ctx;
	after_delivery(m, d, result);
	compose_free(m);
}

/* Resolves recipients into local deliveries and the remote list, adds our
 * own copy, and hands everything to the store. */
static void deliver(struct compose *m)
{
	struct http_ctx *x = m->x;
	struct store *st = x->srv->store;
	const char *err;
	size_t max = m->rcpt_count * 4 + 1;
	m->drcpts = xcalloc(max + 1, sizeof(*m->drcpts));
	m->prefixes = xcalloc(max + 1, sizeof(*m->prefixes));
	m->local_addrs = xcalloc(max + 1, sizeof(*m->local_addrs));
	m->remote = xcalloc(max + 1, sizeof(*m->remote));
	m->remote_owned = xcalloc(max + 1, sizeof(*m->remote_owned));
	size_t nlocal = 0, nremote = 0;
	for (size_t i = 0; !m->draft && i < m->rcpt_count; i++) {
		struct store_resolution res;
		if (store_resolve(st, m->rcpts[i].spec, &res, &err) < 0) {
			http_reply_error(x, 400, "invalid recipient address");
			compose_free(m);
			return;
		}
		if (res.status == STORE_RESOLVE_UNKNOWN_USER || res.status == STORE_RESOLVE_LOOP) {
			char msg[400];
			snprintf(msg, sizeof(msg), "%s: %s", m->rcpts[i].spec,
				 res.status == STORE_RESOLVE_LOOP ? "mail loop in its aliases"
								  : "no such user here");
			store_resolution_clear(&res);
			http_reply_error(x, 400, msg);
			compose_free(m);
			return;
		}
		if (res.status == STORE_RESOLVE_NOT_LOCAL) {
			bool dup = false;
			for (size_t k = 0; k < nremote && !dup; k++)
				dup = strcasecmp(m->remote[k], m->rcpts[i].spec) == 0;
			if (!dup)
				m->remote[nremote++] = m->rcpts[i].spec;
		}
		for (size_t j = 0; res.status == STORE_RESOLVE_OK && j < res.count; j++) {
			const struct store_target *t = &res.targets[j];
			bool dup = false;
			if (t->user_id > 0) {
				for (size_t k = 0; k < nlocal && !dup; k++)
					dup = m->drcpts[k].user_id == t->user_id;
				if (dup || nlocal >= max)
					continue;
				struct buf p;
				buf_init(&p, 2048);
				buf_printf(&p, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", m->from_addr,
					   t->address);
				m->prefixes[nlocal] = buf_steal(&p, NULL);
				m->local_addrs[nlocal] = xstrdup(t->address);
				m->drcpts[nlocal].user_id = t->user_id;
				m->drcpts[nlocal].prefix = m->prefixes[nlocal];
				nlocal++;
				m->local_count = nlocal;
			} else {
				for (size_t k = 0; k < nremote && !dup; k++)
					dup = strcasecmp(m->remote[k], t->address) == 0;
				if (!dup && nremote < max) {
					/* A forwarding alias: res owns the address; keep a copy. */
					char *a = xstrdup(t->address);
					m->remote_owned[m->remote_owned_count++] = a;
					m->remote[nremote++] = a;
				}
			}
		}
		store_resolution_clear(&res);
	}
	/* Our own copy: Drafts or Sent. */
	struct store_mailbox own = {0};
	int r = store_mailbox_get_special(st, m->user_id,
					  m->draft ? STORE_SPECIAL_DRAFTS : STORE_SPECIAL_SENT, &own, &err);
	if (r == 1) {
		m->target_mailbox = own.id;
		m->drcpts[nlocal].user_id = m->user_id;
		m->drcpts[nlocal].mailbox_id = own.id;
		m->drcpts[nlocal].flags = STORE_FLAG_SEEN | (m->draft ? STORE_FLAG_DRAFT : 0);
		nlocal++;
	}
	store_mailbox_clear(&own);
	if (m->draft && m->target_mailbox == 0) {
		http_reply_error(x, 409, "there is no Drafts folder");
		compose_free(m);
		return;
	}
	struct store_delivery *d = &m->d;
	d->data = m->msg.data;
	d->len = m->msg.len;
	d->internaldate = time(NULL);
	d->mail_from = m->from_addr;
	d->remote_rcpts = m->remote;
	d->remote_count = nremote;
	d->queue_user_id = m->user_id;
	d->rcpts = m->drcpts;
	d->rcpt_count = nlocal;
	if (nlocal == 0 && nremote == 0) {
		http_reply_error(x, 400, "no recipients");
		compose_free(m);
		return;
	}
	http_async_begin(x, NULL, NULL); /* a delivery cannot be cancelled */
	store_deliver_async(st, d, delivered_cb, m);
}

static void compose_start(struct http_ctx *x, bool draft)
{
	struct compose *m = xmalloc(sizeof(*m));
	m->x = x;
	m->srv = x->srv;
	m->draft = draft;
	m->user_id = x->session->user_id;
	m->session_serial = x->session->serial;
	m->user_address = xstrdup(x->session->address);
	m->conn_id = x->c->id;
	buf_init(&m->msg, 1);
	if (build_message(m) < 0) {
		compose_free(m);
		return;
	}
	deliver(m);
}

void api_send(struct http_ctx *x)
{
	compose_start(x, false);
}

void api_draft_save(struct http_ctx *x)
{
	compose_start(x, true);
}
