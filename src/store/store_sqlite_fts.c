/* store_sqlite_fts: the full-text index (FTS5) and search.
 *
 * Indexing is taken out of the delivery transaction: FTS5 insertion costs
 * about as much as everything else a delivery does, several times over, so
 * a delivery only records its new content in fts_pending (same
 * transaction), and the writer thread indexes pending contents in small
 * transactions of their own whenever no delivery is waiting (Dovecot
 * indexes lazily too). Until a content is indexed, store_search returns
 * its messages as candidates, which the contract allows: callers confirm
 * candidates anyway. Without a writer thread (the CLI) store_deliver
 * indexes at once, and store_search_index_flush() catches up on demand.
 *
 * The index: one row per stored content (rowid = contents.id, so copies
 * share it), columns subj, sender (From), rcpt (To and Cc) and body (the
 * decoded text parts, at most STORE_FTS_MAX_BODY bytes), tokenized by
 * unicode61 with diacritics removed. It is an external-content FTS5 table:
 * its source, the view fts_src, takes the header columns from contents and
 * the body text from fts_text, zlib-compressed (a normal FTS5 table would
 * keep a plain copy of all text, as big as the mail itself). Rows are
 * indexed from that view and their postings deleted with values read from
 * the same view, so the two always agree, as FTS5 requires. Queries are
 * built here from the user's words, each a quoted prefix phrase, so no
 * FTS5 syntax passes through. */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mime/mime.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* The index's own tokenizer, to tell which words of a query it would keep:
 * a word it turns into no token at all ("—", "***") must be left out, as
 * an empty phrase would match nothing and fail the whole AND. */
struct query_tok {
	fts5_tokenizer api;
	Fts5Tokenizer *tok;
};

static fts5_api *fts5_api_of(sqlite3 *h)
{
	fts5_api *api = NULL;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(h, "SELECT fts5(?1)", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
		sqlite3_step(s);
	}
	sqlite3_finalize(s);
	return api;
}

static int query_tok_init(struct query_tok *qt, sqlite3 *h)
{
	const char *args[] = {"remove_diacritics", "2"};
	void *ud = NULL;
	fts5_api *api = fts5_api_of(h);
	memset(qt, 0, sizeof(*qt));
	if (api == NULL || api->xFindTokenizer(api, "unicode61", &ud, &qt->api) != SQLITE_OK ||
	    qt->api.xCreate(ud, args, 2, &qt->tok) != SQLITE_OK) {
		qt->tok = NULL;
		return -1;
	}
	return 0;
}

static int count_token(void *ctx, int flags, const char *token, int n, int start, int end)
{
	(*(int *)ctx)++;
	return SQLITE_OK;
}

static bool query_tok_has_token(struct query_tok *qt, const char *word, size_t n)
{
	int count = 0;
	if (qt->tok == NULL)
		return true; /* cannot tell: keep it */
	qt->api.xTokenize(qt->tok, &count, FTS5_TOKENIZE_QUERY, word, (int)n, count_token);
	return count > 0;
}

static void query_tok_deinit(struct query_tok *qt)
{
	if (qt->tok)
		qt->api.xDelete(qt->tok);
	qt->tok = NULL;
}

/* Turns the words of query into an FTS5 expression: each word a quoted
 * prefix phrase, restricted to the field's column, all of them required.
 * Returns the number of words (0: nothing to look for, everything matches). */
static int fts_query(struct query_tok *qt, const char *query, enum store_search_field field, struct buf *out)
{
	static const char *const cols[] = {
	    [STORE_SEARCH_TEXT] = NULL,	    [STORE_SEARCH_BODY] = "body", [STORE_SEARCH_SUBJECT] = "subj",
	    [STORE_SEARCH_FROM] = "sender", [STORE_SEARCH_TO] = "rcpt",
	};
	const char *col = (unsigned)field < sizeof(cols) / sizeof(cols[0]) ? cols[field] : NULL;
	int words = 0;
	const char *p = query;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		size_t n = strcspn(p, " \t\r\n");
		if (n == 0)
			break;
		if (query_tok_has_token(qt, p, n)) {
			if (words++ > 0)
				buf_puts(out, " AND ");
			if (col)
				buf_printf(out, "%s : ", col);
			buf_putc(out, '"');
			for (size_t i = 0; i < n; i++) {
				if (p[i] == '"')
					buf_putc(out, '"');
				buf_putc(out, p[i]);
			}
			buf_puts(out, "\"*");
		}
		p += n;
	}
	return words;
}

int sq_search(struct store *st, int64_t mailbox_id, enum store_search_field field, const char *query,
	      uint32_t **uids_r, size_t *count_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	struct buf expr;
	struct query_tok qt;
	buf_init(&expr, 64 * 1024);
	if (query_tok_init(&qt, s->db.h) < 0)
		log_warnx("store search: no FTS5 tokenizer API; every word is kept");
	int words = fts_query(&qt, query, field, &expr);
	query_tok_deinit(&qt);
	if (words == 0) {
		buf_free(&expr);
		return sq_mailbox_uids(st, mailbox_id, uids_r, count_r, error_r);
	}
	/* CROSS JOIN keeps the index lookup outermost: SQLite would otherwise
	 * scan the mailbox and run the MATCH once per message. */
	sqlite3_stmt *q =
	    sdb_q(&s->db,
		  "SELECT m.uid FROM fts CROSS JOIN msgs m ON m.content_id = fts.rowid"
		  " WHERE fts MATCH ?1 AND m.mailbox_id = ?2"
		  " UNION SELECT m.uid FROM fts_pending p CROSS JOIN msgs m ON m.content_id = p.content_id"
		  " WHERE m.mailbox_id = ?2 ORDER BY 1",
		  "si", buf_cstr(&expr), mailbox_id);
	if (q == NULL) {
		buf_free(&expr);
		return sq_fail(s, error_r, "search");
	}
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int r;
	while ((r = sdb_step(&s->db, q)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(q, 0);
	}
	buf_free(&expr);
	if (r < 0) {
		free(v);
		return sq_fail(s, error_r, "search");
	}
	*uids_r = v;
	*count_r = n;
	return 0;
}

/* ---- Compressed text ------------------------------------------------------- */

/* posthorn_unz(body_z, body_len): the text stored by index_some(). */
static void unz_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const void *z = sqlite3_value_blob(argv[0]);
	int zlen = sqlite3_value_bytes(argv[0]);
	sqlite3_int64 len = sqlite3_value_int64(argv[1]);
	if (len < 0 || (uint64_t)len > STORE_FTS_MAX_BODY) {
		sqlite3_result_error(ctx, "posthorn_unz: bad length", -1);
		return;
	}
	char *out = sqlite3_malloc64((sqlite3_uint64)len + 1);
	if (out == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	uLongf outlen = (uLongf)len;
	if (len > 0 && (z == NULL || uncompress((Bytef *)out, &outlen, z, (uLong)zlen) != Z_OK ||
			outlen != (uLongf)len)) {
		sqlite3_free(out);
		sqlite3_result_error(ctx, "posthorn_unz: corrupt text", -1);
		return;
	}
	sqlite3_result_text64(ctx, out, (sqlite3_uint64)len, sqlite3_free, SQLITE_UTF8);
}

int sq_fts_register(sqlite3 *h)
{
	return sqlite3_create_function_v2(h, "posthorn_unz", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
					  unz_func, NULL, NULL, NULL) == SQLITE_OK
		   ? 0
		   : -1;
}

int sq_fts_remove(struct sdb *db, int64_t content_id)
{
	if (sdb_do(db,
		   "INSERT INTO fts(fts, rowid, subj, sender, rcpt, body)"
		   " SELECT 'delete', id, subj, sender, rcpt, body FROM fts_src WHERE id = ?",
		   "i", content_id) < 0 ||
	    sdb_do(db, "DELETE FROM fts_text WHERE id = ?", "i", content_id) < 0)
		return -1;
	return 0;
}

/* ---- Indexing ------------------------------------------------------------- */

struct ix_doc {
	int64_t id;
	char *text; /* the body text */
	size_t len;
	void *z; /* compressed */
	size_t zlen;
};

/* Indexes one content whose text is in fts_text now. The header columns
 * come through the view, computed exactly as a later delete will compute
 * them; the body is the text just compressed, which the view would give
 * back byte for byte (INSERT ... SELECT from the view is 2-3 times slower
 * in SQLite 3.40). */
static int index_one(struct sdb *db, const struct ix_doc *d)
{
	sqlite3_stmt *q = sdb_q(db, "SELECT subj, sender, rcpt FROM fts_src WHERE id = ?", "i", d->id);
	int r = q ? sdb_step(db, q) : -1;
	if (r <= 0) {
		if (r == 0)
			sdb_errf(db, "content %lld vanished while indexing", (long long)d->id);
		return -1;
	}
	char *subj = sdb_text(q, 0), *sender = sdb_text(q, 1), *rcpt = sdb_text(q, 2);
	sqlite3_reset(q);
	q = sdb_q(db, "INSERT INTO fts(rowid, subj, sender, rcpt, body) VALUES(?, ?, ?, ?, ?)", "issss",
		  d->id, subj, sender, rcpt, d->text);
	r = q ? sdb_step(db, q) : -1;
	free(subj);
	free(sender);
	free(rcpt);
	return r < 0 ? -1 : 0;
}

int sq_index_some(struct sdb *db, size_t max)
{
	/* Read and extract first, outside the write transaction. */
	sqlite3_stmt *q =
	    sdb_q(db,
		  "SELECT p.content_id, b.data FROM fts_pending p JOIN blobs b ON b.id = p.content_id"
		  " ORDER BY p.content_id LIMIT ?",
		  "i", (int64_t)max);
	if (q == NULL)
		return -1;
	struct ix_doc *docs = xcalloc(max ? max : 1, sizeof(*docs));
	size_t n = 0;
	int r = 0;
	/* One deflate state for the batch: setting one up costs more than
	 * compressing a typical message's text. */
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit(&zs, 1) != Z_OK)
		fatalx("store: zlib deflateInit failed");
	while (n < max && (r = sdb_step(db, q)) == 1) {
		struct ix_doc *d = &docs[n++];
		d->id = sqlite3_column_int64(q, 0);
		const char *data = sqlite3_column_blob(q, 1);
		size_t len = (size_t)sqlite3_column_bytes(q, 1);
		struct mime_message *mm = mime_parse(data ? data : "", len);
		struct buf head, text;
		buf_init(&head, 64 * 1024);
		buf_init(&text, STORE_FTS_MAX_BODY);
		/* A full buffer only means the index sees the first part. */
		if (mm != NULL)
			(void)mime_extract_text(mm, &head, &text);
		mime_free(&mm);
		buf_free(&head);
		d->text = text.data ? buf_steal(&text, NULL) : xstrdup("");
		/* Bound as a C string below: the stored copy must be the same. */
		d->len = strlen(d->text);
		uLong zlen = deflateBound(&zs, (uLong)d->len);
		d->z = xmalloc(zlen);
		deflateReset(&zs);
		zs.next_in = (Bytef *)d->text;
		zs.avail_in = (uInt)d->len;
		zs.next_out = d->z;
		zs.avail_out = (uInt)zlen;
		if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
			fatalx("store: zlib deflate failed");
		d->zlen = zlen - zs.avail_out;
	}
	deflateEnd(&zs);
	if (n == max || r < 0)
		sqlite3_reset(q);
	int result = r < 0 ? -1 : (int)n;
	if (result > 0) {
		if (sdb_begin(db) < 0) {
			result = -1;
		} else {
			for (size_t i = 0; i < n && result > 0; i++) {
				/* Still pending? (Expunged meanwhile, or indexed by
				 * another process.) */
				int k = sdb_do(db, "DELETE FROM fts_pending WHERE content_id = ?", "i",
					       docs[i].id);
				if (k > 0)
					k = sdb_do(
					    db, "INSERT INTO fts_text(id, body_len, body_z) VALUES(?, ?, ?)",
					    "iib", docs[i].id, (int64_t)docs[i].len, (const void *)docs[i].z,
					    docs[i].zlen);
				if (k > 0)
					k = index_one(db, &docs[i]);
				if (k < 0)
					result = -1;
			}
			if (result < 0 || sdb_commit(db) < 0) {
				sdb_rollback(db);
				result = -1;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(docs[i].text);
		free(docs[i].z);
	}
	free(docs);
	return result;
}

int sq_search_index_flush(struct store *st, const char **error_r)
{
	struct sq_store *s = sq(st);
	int total = 0, n;
	while ((n = sq_index_some(&s->db, 256)) > 0)
		total += n;
	if (n < 0)
		return sq_fail(s, error_r, "indexing");
	return total;
}
