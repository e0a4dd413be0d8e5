/* api_mailbox: the folder list with counts, and creating, renaming,
 * deleting and emptying folders (docs/webmail-api.md, "Mailboxes").
 *
 * Mailboxes are named by their id in URLs; one that does not exist or
 * belongs to someone else is a 404 either way. Counts come from the
 * store's counters (O(1) per mailbox). */
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "core/server.h"
#include "http/http_api.h"
#include "store/store.h"
#include "util/log.h"

static const char *role_name(const struct store_mailbox *mb)
{
	if (strcmp(mb->name, "INBOX") == 0)
		return "inbox";
	switch (mb->special_use) {
	case STORE_SPECIAL_SENT:
		return "sent";
	case STORE_SPECIAL_DRAFTS:
		return "drafts";
	case STORE_SPECIAL_TRASH:
		return "trash";
	case STORE_SPECIAL_JUNK:
		return "junk";
	case STORE_SPECIAL_ARCHIVE:
		return "archive";
	case STORE_SPECIAL_ALL:
		return "all";
	case STORE_SPECIAL_FLAGGED:
		return "flagged";
	default:
		return NULL;
	}
}

int api_mailbox_load(struct http_ctx *x, int64_t id, struct store_mailbox *mb)
{
	const char *err;
	memset(mb, 0, sizeof(*mb));
	int r = store_mailbox_get_by_id(x->srv->store, id, mb, &err);
	if (r < 0) {
		log_warnx("http: mailbox %lld: %s", (long long)id, err);
		http_reply_error(x, 500, "storage error");
		return -1;
	}
	if (r == 0 || mb->user_id != x->session->user_id) {
		store_mailbox_clear(mb);
		http_reply_error(x, 404, "no such mailbox");
		return 0;
	}
	return 1;
}

static json_t *mailbox_json(const struct store_mailbox *mb)
{
	const char *role = role_name(mb);
	return json_pack("{s:I, s:s, s:o, s:I, s:I, s:I}", "id", (json_int_t)mb->id, "name", mb->name, "role",
			 role ? json_string(role) : json_null(), "messages", (json_int_t)mb->messages,
			 "unseen", (json_int_t)mb->unseen, "size", (json_int_t)mb->size);
}

void api_mailboxes_list(struct http_ctx *x)
{
	struct store_mailbox *boxes;
	size_t n;
	const char *err;
	if (store_mailbox_list(x->srv->store, x->session->user_id, &boxes, &n, &err) < 0) {
		log_warnx("http: mailbox list: %s", err);
		http_reply_error(x, 500, "storage error");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, mailbox_json(&boxes[i]));
	store_mailbox_list_free(&boxes, n);
	http_reply_json(x, 200, json_pack("{s:o, s:s}", "mailboxes", arr, "separator", "/"));
}

/* The store's message for a bad or conflicting name: 409 when it exists. */
static void name_error(struct http_ctx *x, const char *err)
{
	bool exists = err != NULL && (strstr(err, "exists") != NULL || strstr(err, "UNIQUE") != NULL);
	http_reply_error(x, exists ? 409 : 400, err ? err : "invalid mailbox name");
}

void api_mailbox_create(struct http_ctx *x)
{
	const char *name;
	if (json_opt_str(x, x->body, "name", 1000, &name) < 0)
		return;
	if (name == NULL || name[0] == '\0') {
		http_reply_error(x, 400, "name is required");
		return;
	}
	const char *err;
	struct store *st = x->srv->store;
	struct store_mailbox mb = {0};
	if (store_mailbox_get(st, x->session->user_id, name, &mb, &err) == 1) {
		store_mailbox_clear(&mb);
		http_reply_error(x, 409, "a mailbox of that name exists");
		return;
	}
	if (store_mailbox_create(st, x->session->user_id, name, STORE_SPECIAL_NONE, &err) < 0) {
		name_error(x, err);
		return;
	}
	if (store_mailbox_get(st, x->session->user_id, name, &mb, &err) != 1) {
		http_reply_error(x, 500, "storage error");
		return;
	}
	log_session(x->c->id, "http mailbox create user=%s name=%s", x->session->address, mb.name);
	http_reply_json(x, 201, mailbox_json(&mb));
	store_mailbox_clear(&mb);
}

void api_mailbox_rename(struct http_ctx *x)
{
	const char *name;
	if (json_opt_str(x, x->body, "name", 1000, &name) < 0)
		return;
	if (name == NULL || name[0] == '\0') {
		http_reply_error(x, 400, "name is required");
		return;
	}
	struct store_mailbox mb;
	if (api_mailbox_load(x, x->num[0], &mb) != 1)
		return;
	const char *err;
	struct store *st = x->srv->store;
	struct store_mailbox other = {0};
	if (store_mailbox_get(st, x->session->user_id, name, &other, &err) == 1) {
		store_mailbox_clear(&other);
		store_mailbox_clear(&mb);
		http_reply_error(x, 409, "a mailbox of that name exists");
		return;
	}
	if (store_mailbox_rename(st, x->session->user_id, mb.name, name, &err) < 0) {
		store_mailbox_clear(&mb);
		name_error(x, err);
		return;
	}
	store_mailbox_clear(&mb);
	/* Renaming INBOX makes a new mailbox; answer with the one of the new name. */
	if (store_mailbox_get(st, x->session->user_id, name, &mb, &err) != 1) {
		http_reply_error(x, 500, "storage error");
		return;
	}
	http_reply_json(x, 200, mailbox_json(&mb));
	store_mailbox_clear(&mb);
}

void api_mailbox_delete(struct http_ctx *x)
{
	struct store_mailbox mb;
	if (api_mailbox_load(x, x->num[0], &mb) != 1)
		return;
	const char *err;
	if (strcmp(mb.name, "INBOX") == 0 || mb.special_use != STORE_SPECIAL_NONE) {
		store_mailbox_clear(&mb);
		http_reply_error(x, 409, "INBOX and the special folders cannot be deleted");
		return;
	}
	if (store_mailbox_delete(x->srv->store, x->session->user_id, mb.name, &err) < 0) {
		store_mailbox_clear(&mb);
		http_reply_error(x, 409, err);
		return;
	}
	log_session(x->c->id, "http mailbox delete user=%s name=%s", x->session->address, mb.name);
	store_mailbox_clear(&mb);
	http_reply_empty(x);
}

void api_mailbox_empty(struct http_ctx *x)
{
	struct store_mailbox mb;
	if (api_mailbox_load(x, x->num[0], &mb) != 1)
		return;
	uint32_t *uids;
	size_t n;
	const char *err;
	struct store *st = x->srv->store;
	int r = store_mailbox_uids(st, mb.id, &uids, &n, &err);
	int removed = 0;
	if (r == 0 && n > 0)
		removed = store_msg_expunge(st, mb.id, uids, n, &err);
	if (r == 0)
		free(uids);
	store_mailbox_clear(&mb);
	if (r < 0 || removed < 0) {
		http_reply_error(x, 500, "storage error");
		return;
	}
	http_reply_json(x, 200, json_pack("{s:i}", "deleted", removed));
}
