/* store_sqlite_web: what the webmail keeps besides mail, in SQLite: small
 * per-user settings (the signature...) and the correspondents a user wrote
 * to, for address completion. Both tables belong to the user (ON DELETE
 * CASCADE) and are written on the loop's connection (synchronous, small). */
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/mem.h"

int sq_user_setting_get(struct store *st, int64_t user_id, const char *key, char **value_r,
			const char **error_r)
{
	struct sq_store *s = sq(st);
	*value_r = NULL;
	sqlite3_stmt *q = sdb_q(&s->db, "SELECT value FROM user_settings WHERE user_id = ? AND key = ?", "is",
				user_id, key);
	if (q == NULL)
		return sq_fail(s, error_r, "reading a setting");
	int r = sdb_step(&s->db, q);
	if (r < 0)
		return sq_fail(s, error_r, "reading a setting");
	if (r == 0)
		return 0;
	*value_r = sdb_text(q, 0);
	sqlite3_reset(q);
	if (*value_r == NULL)
		*value_r = xstrdup("");
	return 1;
}

int sq_user_setting_set(struct store *st, int64_t user_id, const char *key, const char *value,
			const char **error_r)
{
	struct sq_store *s = sq(st);
	int r;
	if (value == NULL)
		r = sdb_do(&s->db, "DELETE FROM user_settings WHERE user_id = ? AND key = ?", "is", user_id,
			   key);
	else
		r = sdb_do(&s->db,
			   "INSERT INTO user_settings(user_id, key, value) VALUES(?, ?, ?)"
			   " ON CONFLICT(user_id, key) DO UPDATE SET value = excluded.value",
			   "iss", user_id, key, value);
	return r < 0 ? sq_fail(s, error_r, "saving a setting") : 0;
}

int sq_contact_note(struct store *st, int64_t user_id, const char *address, const char *name,
		    const char **error_r)
{
	struct sq_store *s = sq(st);
	int r = sdb_do(
	    &s->db,
	    "INSERT INTO contacts(user_id, address, name, uses, last_used) VALUES(?, ?, ?, 1, ?)"
	    " ON CONFLICT(user_id, address) DO UPDATE SET uses = uses + 1, last_used = excluded.last_used,"
	    " name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END",
	    "issi", user_id, address, name ? name : "", (int64_t)time(NULL));
	return r < 0 ? sq_fail(s, error_r, "saving a contact") : 0;
}

/* LIKE pattern for "starts with prefix": %, _ and the escape escaped. */
static void like_prefix(struct buf *b, const char *lead, const char *prefix)
{
	buf_puts(b, lead);
	for (const char *p = prefix; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
	buf_putc(b, '%');
}

int sq_contact_search(struct store *st, int64_t user_id, const char *prefix, size_t limit,
		      struct store_contact **contacts_r, size_t *count_r, const char **error_r)
{
	struct sq_store *s = sq(st);
	*contacts_r = NULL;
	*count_r = 0;
	struct buf start, word;
	buf_init(&start, 1024);
	buf_init(&word, 1024);
	like_prefix(&start, "", prefix);
	like_prefix(&word, "% ", prefix);
	sqlite3_stmt *q =
	    sdb_q(&s->db,
		  "SELECT address, name, uses, last_used FROM contacts WHERE user_id = ?"
		  " AND (address LIKE ?2 ESCAPE '\\' OR name LIKE ?2 ESCAPE '\\' OR name LIKE ?3 ESCAPE '\\')"
		  " ORDER BY uses DESC, last_used DESC, address LIMIT ?4",
		  "issi", user_id, buf_cstr(&start), buf_cstr(&word), (int64_t)limit);
	int r = q ? 1 : -1;
	size_t cap = 0;
	while (q != NULL && (r = sdb_step(&s->db, q)) == 1) {
		if (*count_r == cap) {
			cap = cap ? cap * 2 : 8;
			*contacts_r = xreallocarray(*contacts_r, cap, sizeof(**contacts_r));
		}
		struct store_contact *c = &(*contacts_r)[(*count_r)++];
		c->address = sdb_text(q, 0);
		c->name = sdb_text(q, 1);
		if (c->name == NULL)
			c->name = xstrdup("");
		c->uses = (uint32_t)sqlite3_column_int64(q, 2);
		c->last_used = (time_t)sqlite3_column_int64(q, 3);
	}
	buf_free(&start);
	buf_free(&word);
	if (r < 0) {
		store_contact_list_free(contacts_r, *count_r);
		*count_r = 0;
		return sq_fail(s, error_r, "searching contacts");
	}
	return 0;
}
