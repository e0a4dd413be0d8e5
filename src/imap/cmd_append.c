/* cmd_append: APPEND (RFC 3501 6.3.11) with several messages in one
 * command (MULTIAPPEND, RFC 3502), literal8 (BINARY, RFC 3516), the UTF8
 * data item (RFC 6855), APPENDUID (UIDPLUS, RFC 4315) and APPENDLIMIT
 * (RFC 7889; the literal itself was checked against it before "+").
 *
 * The whole command is parsed (every literal read) before anything is
 * stored, so a syntax error anywhere in a MULTIAPPEND stores nothing. The
 * messages then go to the store's writer thread as one delivery group
 * (store_deliver_group_async): stored all together in one transaction, with
 * consecutive UIDs, or not at all (RFC 3502), whatever fails (quota in sum,
 * the mailbox deleted meanwhile, a storage error). The tagged OK, with
 * APPENDUID for every message, is sent from the completion callback, when
 * they are on disk; a single APPEND is a group of one. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/server.h"
#include "imap/imap_private.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "util/base64.h"
#include "util/date.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strnum.h"

struct append_msg {
	struct store_delivery d;
	struct store_delivery_rcpt rcpt;
	char *keywords;
	char *converted; /* the message as stored, when it differs from the literal */
};

/* ---- binary parts (RFC 3516 4.4) ------------------------------------------ */

struct edit {
	size_t offset, len; /* replaced range of the original */
	const struct mime_part *part;
	size_t cte_offset, cte_size; /* the Content-Transfer-Encoding field (absolute) */
};

static void collect_binary(const struct mime_message *msg, const struct mime_part *p, struct edit **v,
			   size_t *n)
{
	for (; p != NULL; p = p->next) {
		if (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) {
			collect_binary(msg, p->children, v, n);
			continue;
		}
		if (p->encoding == NULL || strcmp(p->encoding, "binary") != 0)
			continue;
		struct mime_header_iter it;
		struct mime_header_field f;
		mime_header_iter_init(&it, msg->data + p->header_offset, p->header_size);
		while (mime_header_iter_next(&it, &f) == 1) {
			if (mime_header_name_is(&f, "Content-Transfer-Encoding")) {
				*v = xreallocarray(*v, *n + 1, sizeof(**v));
				(*v)[*n].part = p;
				(*v)[*n].cte_offset = p->header_offset + f.offset;
				(*v)[*n].cte_size = f.size;
				(*n)++;
				break;
			}
		}
	}
}

/* A message appended as literal8 may hold parts in binary transfer
 * encoding, which IMAP cannot show as BODY[...]: such parts are stored in
 * base64 (BINARY[...] still gives their bytes). Returns a new message, or
 * NULL when nothing had to change. */
static char *convert_binary(const char *data, size_t len, size_t *len_r)
{
	struct mime_message *msg = mime_parse(data, len);
	struct edit *v = NULL;
	size_t n = 0;
	collect_binary(msg, msg->root, &v, &n);
	if (n == 0) {
		mime_free(&msg);
		return NULL;
	}
	struct buf out, tmp;
	buf_init(&out, len * 2 + 4096);
	buf_init(&tmp, len * 2 + 4096);
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		const struct mime_part *p = v[i].part;
		buf_append(&out, data + pos, v[i].cte_offset - pos);
		buf_puts(&out, "Content-Transfer-Encoding: base64\r\n");
		pos = v[i].cte_offset + v[i].cte_size;
		buf_append(&out, data + pos, p->body_offset - pos);
		buf_reset(&tmp);
		base64_encode(&tmp, data + p->body_offset, p->body_size);
		for (size_t k = 0; k < tmp.len; k += 76) {
			buf_append(&out, tmp.data + k, tmp.len - k < 76 ? tmp.len - k : 76);
			buf_puts(&out, "\r\n");
		}
		pos = p->body_offset + p->body_size;
	}
	buf_append(&out, data + pos, len - pos);
	buf_free(&tmp);
	free(v);
	mime_free(&msg);
	return buf_steal(&out, len_r);
}

struct append_ctx {
	struct imap_session *s;
	struct append_msg *msgs;
	struct store_delivery **ds; /* &msgs[i].d, for the store */
	size_t count;
	int64_t mailbox_id;
};

static void append_ctx_free(void *p)
{
	struct append_ctx *ctx = p;
	for (size_t i = 0; i < ctx->count; i++) {
		free(ctx->msgs[i].keywords);
		free(ctx->msgs[i].converted);
	}
	free(ctx->msgs);
	free(ctx->ds);
	free(ctx);
}

static void stored_cb(void *arg, int result)
{
	struct append_ctx *ctx = arg;
	struct imap_session *s = ctx->s;
	if (s->freed) {
		/* The client left; the messages are stored (or not) all the same. */
		s->cmd_ctx = NULL;
		append_ctx_free(ctx);
		imap_session_destroy(s);
		return;
	}
	struct imap_cmd *cmd = &s->cur;
	if (result < 0) {
		/* Nothing was stored; the message that failed says why (the
		 * others read STORE_GROUP_ABORTED). */
		bool quota = false, gone = false;
		const char *error = NULL;
		for (size_t i = 0; i < ctx->count; i++) {
			const struct store_delivery_rcpt *r = &ctx->msgs[i].rcpt;
			quota |= r->over_quota;
			gone |= r->no_mailbox;
			if (error == NULL || strcmp(error, STORE_GROUP_ABORTED) == 0)
				error = ctx->msgs[i].d.error ? ctx->msgs[i].d.error : r->error;
		}
		log_session(s->c->id, "imap append failed messages=%zu: %s", ctx->count,
			    error ? error : "unknown error");
		if (quota)
			imap_done(s, cmd, "NO", "[OVERQUOTA] Quota exceeded (mailbox for user is full)");
		else if (gone)
			imap_done(s, cmd, "NO", "[TRYCREATE] Mailbox doesn't exist.");
		else
			imap_done(s, cmd, "NO", "[SERVERBUG] Could not store the message.");
		return;
	}
	if (s->sel != NULL && s->sel->id == ctx->mailbox_id)
		s->sel->dirty = true;
	struct buf b;
	buf_init(&b, 64 * 1024);
	uint32_t *uids = xcalloc(ctx->count, sizeof(*uids));
	bool sorted = true;
	for (size_t i = 0; i < ctx->count; i++) {
		uids[i] = ctx->msgs[i].rcpt.uid;
		sorted = sorted && (i == 0 || uids[i] > uids[i - 1]);
	}
	if (sorted)
		imap_seqset_write(&b, uids, ctx->count);
	else
		for (size_t i = 0; i < ctx->count; i++)
			buf_printf(&b, "%s%u", i ? "," : "", uids[i]);
	free(uids);
	log_session(s->c->id, "imap append messages=%zu uids=%s", ctx->count, buf_cstr(&b));
	imap_done(s, cmd, "OK", "[APPENDUID %u %s] Append completed.", ctx->msgs[0].rcpt.uidvalidity,
		  buf_cstr(&b));
	buf_free(&b);
}

/* ---- CATENATE (RFC 4469) ---------------------------------------------------- */

/* Percent-decodes (s, n) into a new string (NULL on a bad escape or NUL). */
static char *pct_decode(const char *s, size_t n)
{
	struct buf b;
	buf_init(&b, n + 1);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int a = i + 1 < n ? hex_digit(s[i + 1]) : -1, d = i + 2 < n ? hex_digit(s[i + 2]) : -1;
			if (a < 0 || d < 0 || a * 16 + d == 0) {
				buf_free(&b);
				return NULL;
			}
			c = (char)(a * 16 + d);
			i += 2;
		}
		buf_putc(&b, c);
	}
	char *r = buf_steal(&b, NULL);
	return r ? r : xstrdup("");
}

/* The value of ";KEY=" at *p (case-insensitive), up to the next '/' or
 * ';'. Advances *p past it. */
static bool url_param(const char **p, const char *key, const char **v_r, size_t *n_r)
{
	size_t kl = strlen(key);
	if (strncasecmp(*p, key, kl) != 0)
		return false;
	const char *v = *p + kl, *e = v;
	while (*e && *e != '/' && *e != ';')
		e++;
	*v_r = v;
	*n_r = (size_t)(e - v);
	*p = e;
	return true;
}

/* Appends what an IMAP URL of this account names (RFC 5092:
 * [imap://authority]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]). */
static int resolve_url(struct imap_session *s, const char *url, struct buf *out)
{
	const char *p = url, *v, *error;
	size_t n;
	if (strncasecmp(p, "imap://", 7) == 0) {
		p = strchr(p + 7, '/');
		if (p == NULL)
			return -1;
	}
	if (*p != '/')
		return -1;
	p++;
	const char *mstart = p;
	while (*p && *p != ';' && *p != '/')
		p++;
	char *mbox = pct_decode(mstart, (size_t)(p - mstart));
	if (mbox == NULL || mbox[0] == '\0') {
		free(mbox);
		return -1;
	}
	uint32_t uidvalidity = 0, uid = 0;
	uint64_t poff = 0, plen = UINT64_MAX;
	char *section = NULL;
	int r = -1;
	if (url_param(&p, ";UIDVALIDITY=", &v, &n) &&
	    (strn_to_u32(v, n, &uidvalidity) < 0 || uidvalidity == 0))
		goto out;
	if (!url_param(&p, "/;UID=", &v, &n) || strn_to_u32(v, n, &uid) < 0 || uid == 0)
		goto out;
	if (url_param(&p, "/;SECTION=", &v, &n) && (section = pct_decode(v, n)) == NULL)
		goto out;
	if (url_param(&p, "/;PARTIAL=", &v, &n)) {
		const char *dot = memchr(v, '.', n);
		if (strn_to_u64(v, dot ? (size_t)(dot - v) : n, &poff) < 0 ||
		    (dot && strn_to_u64(dot + 1, n - (size_t)(dot - v) - 1, &plen) < 0))
			goto out;
	}
	if (*p != '\0')
		goto out;
	struct imap_arg fake = {.type = IMAP_ARG_ATOM, .str = mbox, .len = strlen(mbox)};
	char *name = imap_name_in(s, &fake, &error);
	if (name == NULL)
		goto out;
	struct store_mailbox mb = {0};
	struct store_msg m = {0};
	char *data = NULL;
	size_t len = 0;
	if (store_mailbox_get(s->srv->store, s->user_id, name, &mb, &error) == 1 &&
	    (uidvalidity == 0 || uidvalidity == mb.uidvalidity) &&
	    store_msg_get(s->srv->store, mb.id, uid, STORE_FIELD_BASIC, &m, &error) == 1 &&
	    store_msg_read(s->srv->store, m.id, &data, &len, &error) == 1) {
		struct buf tmp;
		buf_init(&tmp, BUF_MAX_DEFAULT);
		const char *bytes;
		size_t blen;
		if (imap_section_bytes(data, len, section ? section : "", &tmp, &bytes, &blen) == 0) {
			size_t off = poff < blen ? (size_t)poff : blen;
			size_t cnt = blen - off < plen ? blen - off : (size_t)plen;
			r = buf_append(out, bytes + off, cnt);
		}
		buf_free(&tmp);
	}
	free(data);
	store_msg_clear(&m);
	store_mailbox_clear(&mb);
	free(name);
out:
	free(mbox);
	free(section);
	return r;
}

/* Builds a CATENATE message from its parts. NULL with *bad_url_r (the
 * URL that failed, a view into the args) or *toobig_r. */
static char *catenate(struct imap_session *s, const struct imap_arg *l, size_t *len_r, const char **bad_url_r,
		      bool *toobig_r)
{
	struct buf out;
	buf_init(&out, s->srv->cfg->max_message_size);
	for (size_t i = 0; i + 1 < l->count; i += 2) {
		const struct imap_arg *kind = &l->list[i], *val = &l->list[i + 1];
		int r;
		if (imap_arg_atom_is(kind, "TEXT") && val->type == IMAP_ARG_LITERAL)
			r = buf_append(&out, val->str, val->len);
		else if (imap_arg_atom_is(kind, "URL") && imap_astring(val) != NULL) {
			size_t before = out.len;
			r = resolve_url(s, val->str, &out);
			if (r < 0 && out.len == before) {
				*bad_url_r = val->str;
				buf_free(&out);
				return NULL;
			}
		} else {
			*bad_url_r = "";
			buf_free(&out);
			return NULL;
		}
		if (r < 0) {
			*toobig_r = true;
			buf_free(&out);
			return NULL;
		}
	}
	if (l->count % 2 != 0 || l->count == 0) {
		*bad_url_r = "";
		buf_free(&out);
		return NULL;
	}
	char *msg = buf_steal(&out, len_r);
	return msg ? msg : xstrdup("");
}

void cmd_append(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	if (cmd->argc < 2) {
		imap_bad(s, cmd, "APPEND needs a mailbox and a message");
		return;
	}
	/* First pass: syntax and count. */
	struct append_ctx *ctx = xmalloc(sizeof(*ctx));
	ctx->s = s;
	/* The mailbox first: a missing one is [TRYCREATE] before anything else. */
	char *name = imap_name_in(s, &cmd->args[0], &error);
	if (name == NULL) {
		append_ctx_free(ctx);
		imap_done(s, cmd, "NO", "%s", error);
		return;
	}
	struct store_mailbox mb = {0};
	int r = store_mailbox_get(s->srv->store, s->user_id, name, &mb, &error);
	free(name);
	if (r <= 0) {
		append_ctx_free(ctx);
		imap_done(s, cmd, "NO",
			  r == 0 ? "[TRYCREATE] Mailbox doesn't exist." : "[SERVERBUG] Internal error.");
		return;
	}
	ctx->mailbox_id = mb.id;
	store_mailbox_clear(&mb);
	size_t i = 1;
	size_t cap = 0;
	while (i < cmd->argc) {
		uint32_t flags = 0;
		struct buf kw;
		buf_init(&kw, 64 * 1024);
		time_t date = 0;
		if (cmd->args[i].type == IMAP_ARG_LIST) {
			if (imap_parse_flags(&cmd->args[i], &flags, &kw, &error) < 0) {
				buf_free(&kw);
				append_ctx_free(ctx);
				imap_bad(s, cmd, "%s", error);
				return;
			}
			i++;
		}
		if (i < cmd->argc && cmd->args[i].type == IMAP_ARG_QUOTED) {
			int tz;
			if (date_parse_imap_datetime(cmd->args[i].str, cmd->args[i].len, &date, &tz) < 0) {
				buf_free(&kw);
				append_ctx_free(ctx);
				imap_bad(s, cmd, "Invalid date-time");
				return;
			}
			i++;
		}
		const struct imap_arg *lit = i < cmd->argc ? &cmd->args[i] : NULL;
		if (lit != NULL && imap_arg_atom_is(lit, "CATENATE") && i + 1 < cmd->argc &&
		    cmd->args[i + 1].type == IMAP_ARG_LIST) {
			const char *bad_url = NULL;
			bool toobig = false;
			size_t clen = 0;
			char *msg = catenate(s, &cmd->args[i + 1], &clen, &bad_url, &toobig);
			if (msg == NULL) {
				buf_free(&kw);
				append_ctx_free(ctx);
				if (toobig)
					imap_done(s, cmd, "NO", "[TOOBIG] Message too large.");
				else if (bad_url[0] == '\0')
					imap_bad(s, cmd, "Invalid CATENATE parts");
				else {
					struct buf u;
					buf_init(&u, 8192);
					imap_append_string(
					    &u, bad_url, strlen(bad_url) < 4000 ? strlen(bad_url) : 0, false);
					imap_done(s, cmd, "NO", "[BADURL %s] Invalid or unknown URL.",
						  buf_cstr(&u));
					buf_free(&u);
				}
				return;
			}
			i += 2;
			if (ctx->count == cap) {
				cap = cap ? cap * 2 : 1;
				ctx->msgs = xreallocarray(ctx->msgs, cap, sizeof(*ctx->msgs));
			}
			struct append_msg *m = &ctx->msgs[ctx->count++];
			memset(m, 0, sizeof(*m));
			m->keywords = kw.len ? buf_steal(&kw, NULL) : NULL;
			buf_free(&kw);
			m->converted = msg;
			m->rcpt.user_id = s->user_id;
			m->rcpt.flags = flags;
			m->rcpt.keywords = m->keywords;
			m->d.data = msg;
			m->d.len = clen;
			m->d.internaldate = date ? date : time(NULL);
			m->d.mail_from = "";
			m->d.rcpts = &m->rcpt;
			m->d.rcpt_count = 1;
			continue;
		}
		/* RFC 6855: UTF8 (~{n}...) */
		if (lit != NULL && imap_arg_atom_is(lit, "UTF8") && i + 1 < cmd->argc &&
		    cmd->args[i + 1].type == IMAP_ARG_LIST && cmd->args[i + 1].count == 1) {
			lit = &cmd->args[i + 1].list[0];
			i++;
		}
		if (lit == NULL || lit->type != IMAP_ARG_LITERAL) {
			buf_free(&kw);
			append_ctx_free(ctx);
			imap_bad(s, cmd, "APPEND needs the message as a literal");
			return;
		}
		i++;
		if (ctx->count == cap) {
			cap = cap ? cap * 2 : 1;
			ctx->msgs = xreallocarray(ctx->msgs, cap, sizeof(*ctx->msgs));
		}
		struct append_msg *m = &ctx->msgs[ctx->count++];
		memset(m, 0, sizeof(*m));
		m->keywords = kw.len ? buf_steal(&kw, NULL) : NULL;
		buf_free(&kw);
		m->rcpt.user_id = s->user_id;
		m->rcpt.flags = flags;
		m->rcpt.keywords = m->keywords;
		m->d.data = lit->str;
		m->d.len = lit->len;
		if (lit->literal8) {
			size_t clen;
			m->converted = convert_binary(lit->str, lit->len, &clen);
			if (m->converted != NULL) {
				m->d.data = m->converted;
				m->d.len = clen;
			}
		}
		m->d.internaldate = date ? date : time(NULL);
		m->d.mail_from = "";
		m->d.rcpts = &m->rcpt;
		m->d.rcpt_count = 1;
	}
	/* Checked for every message before any is handed over: all or nothing. */
	ctx->ds = xcalloc(ctx->count ? ctx->count : 1, sizeof(*ctx->ds));
	for (size_t k = 0; k < ctx->count; k++) {
		if (ctx->msgs[k].d.len == 0) {
			append_ctx_free(ctx);
			imap_done(s, cmd, "NO", "Can't save a zero byte message.");
			return;
		}
		/* literal8's binary parts grow when stored in base64. */
		if (ctx->msgs[k].d.len > s->srv->cfg->max_message_size) {
			append_ctx_free(ctx);
			imap_done(s, cmd, "NO", "[TOOBIG] Message too large.");
			return;
		}
		ctx->msgs[k].rcpt.mailbox_id = ctx->mailbox_id;
		/* The array grew while parsing: point into its final place. */
		ctx->msgs[k].d.rcpts = &ctx->msgs[k].rcpt;
		ctx->ds[k] = &ctx->msgs[k].d;
	}
	s->cmd_ctx = ctx;
	s->cmd_ctx_free = append_ctx_free;
	imap_wait(s, IMAP_WAIT_STORE);
	store_deliver_group_async(s->srv->store, ctx->ds, ctx->count, stored_cb, ctx);
}
