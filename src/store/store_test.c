/* Unit tests for src/store: the SQLite backend through the public API, in
 * temporary data folders under /tmp (removed at the end). Covers accounts,
 * address rules and resolution, mailboxes, sync and async delivery, delivery
 * groups (all or nothing), flags,
 * expunge and changes, copy/move, quota, queue, search, watches, a second
 * connection as the CLI would open it, and a kill -9 crash test. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- Fixtures ---------------------------------------------------------- */

static char *dirs[64];
static size_t ndirs;

static const char *tmpdir_new(void)
{
	char tmpl[] = "/tmp/posthorn-store-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	if (d == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	dirs[ndirs] = xstrdup(d);
	return dirs[ndirs++];
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void tmpdirs_remove(void)
{
	for (size_t i = 0; i < ndirs; i++) {
		nftw(dirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(dirs[i]);
	}
	ndirs = 0;
}

static struct store *open_at(const char *dir)
{
	struct store_options o = {.data_dir = dir};
	const char *err = NULL;
	struct store *st = store_open(&o, &err);
	if (st == NULL) {
		printf("store_open %s: %s\n", dir, err);
		exit(2);
	}
	return st;
}

/* A store with example.test, alice and bob. */
static struct store *fixture(const char **dir_r)
{
	const char *dir = tmpdir_new();
	struct store *st = open_at(dir);
	const char *err;
	if (store_domain_add(st, "example.test", &err) < 0 ||
	    store_user_add(st, "alice@example.test", "$y$hash", NULL, &err) < 0 ||
	    store_user_add(st, "bob@example.test", "$y$hash", NULL, &err) < 0) {
		printf("fixture: %s\n", err);
		exit(2);
	}
	if (dir_r)
		*dir_r = dir;
	return st;
}

static int64_t user_id(struct store *st, const char *addr)
{
	struct store_user u;
	const char *err;
	if (store_user_get(st, addr, &u, &err) != 1)
		return -1;
	int64_t id = u.id;
	store_user_clear(&u);
	return id;
}

static int64_t mailbox_id(struct store *st, int64_t uid, const char *name)
{
	struct store_mailbox mb;
	const char *err;
	if (store_mailbox_get(st, uid, name, &mb, &err) != 1)
		return -1;
	int64_t id = mb.id;
	store_mailbox_clear(&mb);
	return id;
}

static void make_msg(struct buf *b, int n, const char *subject, const char *body)
{
	buf_init(b, 1024 * 1024);
	buf_printf(b,
		   "From: Sender Name <sender@remote.test>\r\n"
		   "To: Alice <alice@example.test>\r\n"
		   "Cc: carol@example.test\r\n"
		   "Subject: %s\r\n"
		   "Date: Thu, 26 Nov 2026 14:%02d:00 +0000\r\n"
		   "Message-ID: <m%d@remote.test>\r\n"
		   "X-Id: %d\r\n"
		   "\r\n"
		   "%s\r\n",
		   subject, n % 60, n, n, body);
}

/* Delivers one message to a user's mailbox (0 = INBOX); returns its UID. */
static uint32_t deliver1(struct store *st, int64_t user, int64_t box, const char *prefix, const char *data,
			 uint32_t flags)
{
	struct store_delivery_rcpt rc = {
	    .user_id = user, .mailbox_id = box, .prefix = prefix, .flags = flags};
	struct store_delivery d = {.data = data, .len = strlen(data), .rcpts = &rc, .rcpt_count = 1};
	const char *err = NULL;
	if (store_deliver(st, &d, &err) < 0 || rc.result != 0) {
		printf("deliver1: %s / %s\n", err ? err : "", rc.error ? rc.error : "");
		return 0;
	}
	return rc.uid;
}

static void check_integrity(struct store *st)
{
	const char *err = NULL;
	int r = store_integrity_check(st, &err);
	if (r != 0)
		printf("  integrity: %s\n", err);
	CHECK_INT(r, 0);
}

/* ---- Addresses ----------------------------------------------------------- */

TEST(address_canon)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"alice@example.test", "alice@example.test"},
	    {"Alice@Example.TEST", "alice@example.test"},
	    {"ALICE+Tag@EXAMPLE.test", "alice+tag@example.test"},
	    {"jörg@Exämple.test", "jörg@exämple.test"},
	    {"ÄBC@example.test", "Äbc@example.test"},
	    {"a@b@example.test", NULL},
	    {"@example.test", NULL},
	    {"alice@", NULL},
	    {"alice", NULL},
	    {"", NULL},
	    {"al ice@example.test", NULL},
	    {"<alice@example.test>", NULL},
	    {"alice@exa mple.test", NULL},
	    {"alice@.example.test", NULL},
	    {"alice@example..test", NULL},
	    {"alice@example.test.", NULL},
	    {"alice@[127.0.0.1]", "alice@[127.0.0.1]"},
	    {"alice@[IPv6:::1]", "alice@[ipv6:::1]"},
	    {"bad\xff@example.test", NULL},
	    {"bad\xc3@example.test", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = store_address_canon(cases[i].in);
		CHECK_STR(got, cases[i].want);
		free(got);
	}
}

TEST(accounts)
{
	struct store *st = fixture(NULL);
	const char *err;
	char **v;
	CHECK_INT(store_domain_add(st, "Example.TEST", &err), -1);
	CHECK_INT(store_domain_add(st, "other.test", &err), 0);
	CHECK_INT(store_domain_add(st, "bad domain", &err), -1);
	CHECK_INT(store_domain_exists(st, "EXAMPLE.test", &err), 1);
	CHECK_INT(store_domain_exists(st, "nowhere.test", &err), 0);
	CHECK_INT(store_domain_list(st, &v, &err), 0);
	CHECK_STR(v[0], "example.test");
	CHECK_STR(v[1], "other.test");
	CHECK_STR(v[2], NULL);
	store_strv_free(&v);
	CHECK(v == NULL);

	CHECK_INT(store_user_add(st, "alice@example.test", "$y$x", NULL, &err), -1);
	CHECK_INT(store_user_add(st, "carol@nowhere.test", "$y$x", NULL, &err), -1);
	CHECK_INT(store_user_add(st, "Carol@Other.test", "$y$c", "scram", &err), 0);
	struct store_user u;
	CHECK_INT(store_user_get(st, "CAROL@other.TEST", &u, &err), 1);
	CHECK_STR(u.address, "carol@other.test");
	CHECK_STR(u.password_hash, "$y$c");
	CHECK_STR(u.scram_sha256, "scram");
	CHECK_STR(u.display_name, "");
	CHECK_INT(u.quota_bytes, 0);
	CHECK_INT(u.used_bytes, 0);
	CHECK(u.created > 0);
	int64_t carol = u.id;
	store_user_clear(&u);
	CHECK_INT(store_user_get(st, "nobody@other.test", &u, &err), 0);
	CHECK_INT(store_user_set_password(st, "carol@other.test", "$6$new", NULL, &err), 0);
	CHECK_INT(store_user_set_password(st, "nobody@other.test", "$6$new", NULL, &err), -1);
	CHECK_INT(store_user_set_quota(st, "carol@other.test", 1000, &err), 0);
	CHECK_INT(store_user_set_display_name(st, carol, "Carol Ç", &err), 0);
	CHECK_INT(store_user_get_by_id(st, carol, &u, &err), 1);
	CHECK_STR(u.password_hash, "$6$new");
	CHECK_STR(u.scram_sha256, NULL);
	CHECK_STR(u.display_name, "Carol Ç");
	CHECK_INT(u.quota_bytes, 1000);
	store_user_clear(&u);

	struct store_user *users;
	size_t n;
	CHECK_INT(store_user_list(st, NULL, &users, &n, &err), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(users[0].address, "alice@example.test");
		CHECK_STR(users[2].address, "carol@other.test");
	}
	store_user_list_free(&users, n);
	CHECK_INT(store_user_list(st, "example.test", &users, &n, &err), 0);
	CHECK_INT(n, 2);
	store_user_list_free(&users, n);

	/* Domains with users or aliases cannot go. */
	CHECK_INT(store_domain_remove(st, "other.test", &err), -1);
	CHECK_INT(store_alias_add(st, "x@other.test", "carol@other.test", &err), 0);
	CHECK_INT(store_user_remove(st, "carol@other.test", &err), 0);
	CHECK_INT(store_user_get_by_id(st, carol, &u, &err), 0);
	CHECK_INT(store_domain_remove(st, "other.test", &err), -1);
	CHECK_INT(store_alias_remove(st, "x@other.test", NULL, &err), 0);
	CHECK_INT(store_alias_remove(st, "x@other.test", NULL, &err), -1);
	CHECK_INT(store_domain_remove(st, "other.test", &err), 0);
	CHECK_INT(store_domain_remove(st, "other.test", &err), -1);
	check_integrity(st);
	store_close(&st);
	CHECK(st == NULL);
}

TEST(resolve)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test"), bob = user_id(st, "bob@example.test");
	static const char *const aliases[][2] = {
	    {"team@example.test", "alice@example.test"},  {"team@example.test", "Bob@Example.test"},
	    {"info@example.test", "team@example.test"},	  {"info@example.test", "alice@example.test"},
	    {"fwd@example.test", "Someone@Remote.TEST"},  {"mixed@example.test", "alice@example.test"},
	    {"mixed@example.test", "x@remote.test"},	  {"loop1@example.test", "loop2@example.test"},
	    {"loop2@example.test", "loop1@example.test"}, {"dead@example.test", "nobody@example.test"},
	    {"half@example.test", "nobody@example.test"}, {"half@example.test", "bob@example.test"},
	    {"@other.test", "alice@example.test"},	  {"@third.test", "nobody@third.test"},
	    {"d0@example.test", "d1@example.test"},	  {"d1@example.test", "d2@example.test"},
	    {"d2@example.test", "d3@example.test"},	  {"d3@example.test", "d4@example.test"},
	    {"d4@example.test", "d5@example.test"},	  {"d5@example.test", "d6@example.test"},
	    {"d6@example.test", "d7@example.test"},	  {"d7@example.test", "d8@example.test"},
	    {"d8@example.test", "d9@example.test"},	  {"d9@example.test", "d10@example.test"},
	    {"d10@example.test", "d11@example.test"},	  {"d11@example.test", "alice@example.test"},
	    {"d5b@example.test", "d6@example.test"},
	};
	CHECK_INT(store_domain_add(st, "other.test", &err), 0);
	CHECK_INT(store_domain_add(st, "third.test", &err), 0);
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		CHECK_INT(store_alias_add(st, aliases[i][0], aliases[i][1], &err), 0);
	CHECK_INT(store_alias_add(st, "team@example.test", "alice@example.test", &err), -1); /* duplicate */
	CHECK_INT(store_alias_add(st, "alice@example.test", "bob@example.test", &err), -1);  /* a user */
	CHECK_INT(store_alias_add(st, "x@nowhere.test", "bob@example.test", &err), -1);	     /* not local */
	CHECK_INT(store_alias_add(st, "me@example.test", "ME@example.test", &err), -1);	     /* itself */
	CHECK_INT(store_alias_add(st, "bad", "bob@example.test", &err), -1);

	static const struct {
		const char *addr;
		enum store_resolve_status status;
		const char *targets; /* "u:<user>" or "r:<remote>" joined by spaces */
	} cases[] = {
	    {"alice@example.test", STORE_RESOLVE_OK, "u:alice@example.test"},
	    {"ALICE@Example.Test", STORE_RESOLVE_OK, "u:alice@example.test"},
	    {"alice+news@example.test", STORE_RESOLVE_OK, "u:alice@example.test"},
	    {"alice+a+b@example.test", STORE_RESOLVE_OK, "u:alice@example.test"},
	    {"team@example.test", STORE_RESOLVE_OK, "u:alice@example.test u:bob@example.test"},
	    {"team+x@example.test", STORE_RESOLVE_OK, "u:alice@example.test u:bob@example.test"},
	    {"info@example.test", STORE_RESOLVE_OK, "u:alice@example.test u:bob@example.test"},
	    {"fwd@example.test", STORE_RESOLVE_OK, "r:Someone@remote.test"},
	    {"mixed@example.test", STORE_RESOLVE_OK, "u:alice@example.test r:x@remote.test"},
	    {"loop1@example.test", STORE_RESOLVE_LOOP, ""},
	    {"dead@example.test", STORE_RESOLVE_UNKNOWN_USER, ""},
	    {"half@example.test", STORE_RESOLVE_OK, "u:bob@example.test"},
	    {"nobody@example.test", STORE_RESOLVE_UNKNOWN_USER, ""},
	    {"anything@other.test", STORE_RESOLVE_OK, "u:alice@example.test"},
	    {"x+y@other.test", STORE_RESOLVE_OK, "u:alice@example.test"},
	    {"anything@third.test", STORE_RESOLVE_LOOP, ""},
	    {"someone@remote.test", STORE_RESOLVE_NOT_LOCAL, ""},
	    {"d2@example.test", STORE_RESOLVE_OK, "u:alice@example.test"},
	    {"d0@example.test", STORE_RESOLVE_LOOP, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_resolution res;
		CHECK_INT(store_resolve(st, cases[i].addr, &res, &err), 0);
		CHECK_INT(res.status, cases[i].status);
		struct buf got;
		buf_init(&got, 4096);
		for (size_t k = 0; k < res.count; k++)
			buf_printf(&got, "%s%s:%s", k ? " " : "", res.targets[k].user_id ? "u" : "r",
				   res.targets[k].address);
		if (strcmp(buf_cstr(&got), cases[i].targets) != 0)
			printf("  (resolving %s)\n", cases[i].addr);
		CHECK_STR(buf_cstr(&got), cases[i].targets);
		for (size_t k = 0; k < res.count; k++)
			if (res.targets[k].user_id)
				CHECK(res.targets[k].user_id == alice || res.targets[k].user_id == bob);
		buf_free(&got);
		store_resolution_clear(&res);
	}
	struct store_resolution res;
	CHECK_INT(store_resolve(st, "not an address", &res, &err), -1);

	static const struct {
		const char *addr;
		const char *user;
		int want;
	} owned[] = {
	    {"alice@example.test", "alice@example.test", 1},
	    {"Alice+x@example.test", "alice@example.test", 1},
	    {"team@example.test", "alice@example.test", 1},
	    {"team@example.test", "bob@example.test", 1},
	    {"info@example.test", "bob@example.test", 1},
	    {"alice@example.test", "bob@example.test", 0},
	    {"anything@other.test", "alice@example.test", 0}, /* catch-all does not count */
	    {"x@remote.test", "alice@example.test", 0},
	    {"junk", "alice@example.test", 0},
	};
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		CHECK_INT(store_address_owned_by(st, owned[i].addr, user_id(st, owned[i].user), &err),
			  owned[i].want);

	struct store_alias *al;
	size_t n;
	CHECK_INT(store_alias_list(st, "other.test", &al, &n, &err), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(al[0].source, "@other.test");
		CHECK_STR(al[0].target, "alice@example.test");
	}
	store_alias_list_free(&al, n);
	CHECK_INT(store_alias_remove(st, "team@example.test", "bob@example.test", &err), 0);
	CHECK_INT(store_resolve(st, "team@example.test", &res, &err), 0);
	CHECK_INT(res.count, 1);
	store_resolution_clear(&res);
	check_integrity(st);
	store_close(&st);
}

/* ---- Mailboxes ------------------------------------------------------------- */

TEST(mailbox_names)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"INBOX", "INBOX"},
	    {"inbox", "INBOX"},
	    {"InBoX/sub", "INBOX/sub"},
	    {"inboxes", "inboxes"},
	    {"a/b/c", "a/b/c"},
	    {"Entwürfe", "Entwürfe"},
	    {"", NULL},
	    {"/a", NULL},
	    {"a/", NULL},
	    {"a//b", NULL},
	    {"a*", NULL},
	    {"a%b", NULL},
	    {"a\tb", NULL},
	    {"bad\xff", NULL},
	};
	/* Through the public API: create, then get by the name given. */
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].want == NULL) {
			CHECK_INT(store_mailbox_create(st, alice, cases[i].in, STORE_SPECIAL_NONE, &err), -1);
			continue;
		}
		if (strcmp(cases[i].want, "INBOX") != 0)
			store_mailbox_create(st, alice, cases[i].in, STORE_SPECIAL_NONE, &err);
		struct store_mailbox mb;
		CHECK_INT(store_mailbox_get(st, alice, cases[i].in, &mb, &err), 1);
		CHECK_STR(mb.name, cases[i].want);
		store_mailbox_clear(&mb);
	}
	check_integrity(st);
	store_close(&st);
}

TEST(mailboxes)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test"), bob = user_id(st, "bob@example.test");
	struct store_mailbox *boxes;
	size_t n;
	CHECK_INT(store_mailbox_list(st, alice, &boxes, &n, &err), 0);
	CHECK_INT(n, 6);
	static const char *const names[] = {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"};
	static const enum store_special_use uses[] = {STORE_SPECIAL_NONE,   STORE_SPECIAL_ARCHIVE,
						      STORE_SPECIAL_DRAFTS, STORE_SPECIAL_JUNK,
						      STORE_SPECIAL_SENT,   STORE_SPECIAL_TRASH};
	uint32_t uv_max = 0;
	for (size_t i = 0; i < n && i < 6; i++) {
		CHECK_STR(boxes[i].name, names[i]);
		CHECK_INT(boxes[i].special_use, uses[i]);
		CHECK(boxes[i].subscribed);
		CHECK_INT(boxes[i].uidnext, 1);
		CHECK_INT(boxes[i].messages, 0);
		CHECK(boxes[i].uidvalidity > 0);
		if (boxes[i].uidvalidity > uv_max)
			uv_max = boxes[i].uidvalidity;
	}
	store_mailbox_list_free(&boxes, n);
	struct store_mailbox mb;
	CHECK_INT(store_mailbox_get_special(st, alice, STORE_SPECIAL_TRASH, &mb, &err), 1);
	CHECK_STR(mb.name, "Trash");
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_get_special(st, alice, STORE_SPECIAL_FLAGGED, &mb, &err), 0);

	/* Create with parents; duplicates fail; other users are separate. */
	CHECK_INT(store_mailbox_create(st, alice, "Lists/posthorn/dev", STORE_SPECIAL_NONE, &err), 0);
	CHECK_INT(store_mailbox_get(st, alice, "Lists", &mb, &err), 1);
	CHECK(!mb.subscribed);
	CHECK(mb.uidvalidity > uv_max);
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_get(st, alice, "Lists/posthorn", &mb, &err), 1);
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_create(st, alice, "Lists/posthorn", STORE_SPECIAL_NONE, &err), -1);
	CHECK_INT(store_mailbox_create(st, alice, "INBOX", STORE_SPECIAL_NONE, &err), -1);
	CHECK_INT(store_mailbox_get(st, bob, "Lists", &mb, &err), 0);
	CHECK_INT(store_mailbox_subscribe(st, alice, "Lists/posthorn", true, &err), 0);
	CHECK_INT(store_mailbox_subscribe(st, alice, "Ghost", true, &err), 0);

	/* Rename with children; subscriptions follow. */
	CHECK_INT(store_mailbox_rename(st, alice, "Lists", "Old/Lists", &err), 0);
	CHECK_INT(store_mailbox_get(st, alice, "Lists", &mb, &err), 0);
	CHECK_INT(store_mailbox_get(st, alice, "Old", &mb, &err), 1);
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_get(st, alice, "Old/Lists/posthorn/dev", &mb, &err), 1);
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_get(st, alice, "Old/Lists/posthorn", &mb, &err), 1);
	CHECK(mb.subscribed);
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_rename(st, alice, "Old", "Old/x", &err), -1);
	CHECK_INT(store_mailbox_rename(st, alice, "Nope", "Nope2", &err), -1);
	CHECK_INT(store_mailbox_rename(st, alice, "Sent", "Trash", &err), -1);
	CHECK_INT(store_mailbox_rename(st, alice, "Sent", "INBOX", &err), -1);
	char **subs;
	CHECK_INT(store_mailbox_subscriptions(st, alice, &subs, &err), 0);
	static const char *const want_subs[] = {
	    "Archive", "Drafts", "Ghost", "INBOX", "Junk", "Old/Lists/posthorn", "Sent", "Trash", NULL};
	for (size_t i = 0; want_subs[i]; i++)
		CHECK_STR(subs[i], want_subs[i]);
	store_strv_free(&subs);

	/* Rename INBOX: the messages move, INBOX stays, empty. */
	struct buf m;
	make_msg(&m, 1, "hello", "body one");
	uint32_t u1 = deliver1(st, alice, 0, NULL, m.data, 0);
	uint32_t u2 = deliver1(st, alice, 0, NULL, m.data, STORE_FLAG_SEEN);
	CHECK_INT(u1, 1);
	CHECK_INT(u2, 2);
	int64_t inbox = mailbox_id(st, alice, "INBOX");
	struct store_mailbox before;
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &before, &err), 1);
	CHECK_INT(store_mailbox_rename(st, alice, "inbox", "Saved", &err), 0);
	CHECK_INT(store_mailbox_get(st, alice, "INBOX", &mb, &err), 1);
	CHECK_INT(mb.messages, 0);
	CHECK_INT(mb.uidnext, 3);
	CHECK_INT(mb.uidvalidity, before.uidvalidity);
	CHECK(mb.highestmodseq > before.highestmodseq);
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_get(st, alice, "Saved", &mb, &err), 1);
	CHECK_INT(mb.messages, 2);
	CHECK_INT(mb.unseen, 1);
	CHECK_INT(mb.uidnext, 3);
	CHECK(mb.uidvalidity != before.uidvalidity);
	int64_t saved = mb.id;
	store_mailbox_clear(&mb);
	store_mailbox_clear(&before);
	uint32_t *uids;
	CHECK_INT(store_mailbox_uids(st, saved, &uids, &n, &err), 0);
	CHECK_INT(n, 2);
	free(uids);
	struct store_changes ch;
	CHECK_INT(store_changes_since(st, inbox, 1, &ch, &err), 0);
	CHECK_INT(ch.expunged_count, 2);
	store_changes_clear(&ch);

	/* Delete: messages and quota go; INBOX cannot; the name gets a new
	 * UIDVALIDITY when created again. */
	struct store_user u;
	store_user_get_by_id(st, alice, &u, &err);
	CHECK_INT(u.used_bytes, 2 * m.len);
	store_user_clear(&u);
	CHECK_INT(store_mailbox_get(st, alice, "Saved", &mb, &err), 1);
	uint32_t old_uv = mb.uidvalidity;
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_delete(st, alice, "Saved", &err), 0);
	CHECK_INT(store_mailbox_delete(st, alice, "Saved", &err), -1);
	CHECK_INT(store_mailbox_delete(st, alice, "INBOX", &err), -1);
	CHECK_INT(store_mailbox_delete(st, alice, "Old/Lists", &err), 0);
	CHECK_INT(store_mailbox_get(st, alice, "Old/Lists/posthorn", &mb, &err), 1);
	store_mailbox_clear(&mb);
	store_user_get_by_id(st, alice, &u, &err);
	CHECK_INT(u.used_bytes, 0);
	store_user_clear(&u);
	CHECK_INT(store_mailbox_create(st, alice, "Saved", STORE_SPECIAL_NONE, &err), 0);
	CHECK_INT(store_mailbox_get(st, alice, "Saved", &mb, &err), 1);
	CHECK(mb.uidvalidity > old_uv);
	store_mailbox_clear(&mb);

	/* \Recent */
	int64_t sent = mailbox_id(st, alice, "Sent");
	deliver1(st, alice, sent, NULL, m.data, 0);
	uint32_t first;
	CHECK_INT(store_mailbox_get_by_id(st, sent, &mb, &err), 1);
	CHECK_INT(mb.recent, 1);
	store_mailbox_clear(&mb);
	uint32_t next;
	CHECK_INT(store_mailbox_take_recent(st, sent, &first, &next, &err), 0);
	CHECK_INT(first, 1);
	CHECK_INT(next, 2);
	CHECK_INT(store_mailbox_take_recent(st, sent, &first, NULL, &err), 0);
	CHECK_INT(first, 2);
	CHECK_INT(store_mailbox_get_by_id(st, sent, &mb, &err), 1);
	CHECK_INT(mb.recent, 0);
	store_mailbox_clear(&mb);
	buf_free(&m);
	check_integrity(st);
	store_close(&st);
}

/* ---- Delivery -------------------------------------------------------------- */

TEST(deliver_sync)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test"), bob = user_id(st, "bob@example.test");
	struct buf m;
	make_msg(&m, 7, "=?utf-8?q?Gr=C3=BC=C3=9Fe?= from the store",
		 "Hello Alice,\r\nthe quarterly figures.");
	struct store_delivery_rcpt rc[3] = {
	    {.user_id = alice, .prefix = "Delivered-To: alice@example.test\r\n"},
	    {.user_id = bob, .prefix = "Delivered-To: bob@example.test\r\n"},
	    {.user_id = bob, .mailbox_id = mailbox_id(st, alice, "Sent")}, /* not bob's */
	};
	struct store_delivery d = {
	    .data = m.data, .len = m.len, .rcpts = rc, .rcpt_count = 3, .internaldate = 1000};
	CHECK_INT(store_deliver(st, &d, &err), 0);
	CHECK_INT(rc[0].result, 0);
	CHECK_INT(rc[1].result, 0);
	CHECK_INT(rc[2].result, -1);
	CHECK_STR(rc[2].error, "no such mailbox");
	CHECK_INT(rc[0].uid, 1);
	CHECK_INT(rc[1].uid, 1);
	CHECK(rc[0].uidvalidity > 0);
	CHECK(rc[0].msg_id > 0 && rc[1].msg_id > 0 && rc[0].msg_id != rc[1].msg_id);

	char *data;
	size_t len;
	CHECK_INT(store_msg_read(st, rc[0].msg_id, &data, &len, &err), 1);
	struct buf want;
	buf_init(&want, 1 << 20);
	buf_puts(&want, rc[0].prefix);
	buf_append(&want, m.data, m.len);
	CHECK_MEM(data, len, want.data);
	free(data);
	CHECK_INT(store_msg_read(st, 999999, &data, &len, &err), 0);

	int64_t inbox = mailbox_id(st, alice, "INBOX");
	struct store_msg msg;
	CHECK_INT(store_msg_get(st, inbox, 1,
				STORE_FIELD_ENVELOPE | STORE_FIELD_STRUCTURE | STORE_FIELD_SUMMARY, &msg,
				&err),
		  1);
	CHECK_INT(msg.size, want.len);
	CHECK_INT(msg.internaldate, 1000);
	CHECK_INT(msg.flags, 0);
	CHECK(msg.envelope != NULL && strstr(msg.envelope, "remote.test") != NULL);
	CHECK(msg.bodystructure != NULL && strcasestr(msg.bodystructure, "plain") != NULL);
	CHECK(msg.body != NULL);
	CHECK_STR(msg.subject, "Grüße from the store");
	CHECK_STR(msg.from_addr, "sender@remote.test");
	CHECK_STR(msg.message_id, "<m7@remote.test>");
	CHECK(msg.sent_date > 1000);
	store_msg_clear(&msg);
	CHECK_INT(store_msg_get(st, inbox, 2, STORE_FIELD_BASIC, &msg, &err), 0);

	struct store_mailbox mb;
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.messages, 1);
	CHECK_INT(mb.unseen, 1);
	CHECK_INT(mb.recent, 1);
	CHECK_INT(mb.size, want.len);
	CHECK_INT(mb.uidnext, 2);
	store_mailbox_clear(&mb);
	struct store_user u;
	store_user_get_by_id(st, alice, &u, &err);
	CHECK_INT(u.used_bytes, want.len);
	store_user_clear(&u);

	/* Same prefix: one stored content for two mailboxes. APPEND flags. */
	struct store_delivery_rcpt rc2[2] = {
	    {.user_id = alice, .flags = STORE_FLAG_SEEN | STORE_FLAG_DRAFT, .keywords = "$Label1 work"},
	    {.user_id = alice, .mailbox_id = mailbox_id(st, alice, "Archive")},
	};
	struct store_delivery d2 = {.data = m.data, .len = m.len, .rcpts = rc2, .rcpt_count = 2};
	CHECK_INT(store_deliver(st, &d2, &err), 0);
	CHECK_INT(rc2[0].uid, 2);
	CHECK_INT(rc2[1].uid, 1);
	CHECK_INT(store_msg_get(st, inbox, 2, STORE_FIELD_BASIC, &msg, &err), 1);
	CHECK_INT(msg.flags, STORE_FLAG_SEEN | STORE_FLAG_DRAFT);
	CHECK_STR(msg.keywords, "$Label1 work");
	store_msg_clear(&msg);
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.unseen, 1);
	CHECK_STR(mb.keywords, "$Label1 work");
	store_mailbox_clear(&mb);

	/* Nothing deliverable: the whole delivery fails. */
	struct store_delivery_rcpt bad = {.user_id = 424242};
	struct store_delivery d3 = {.data = m.data, .len = m.len, .rcpts = &bad, .rcpt_count = 1};
	CHECK_INT(store_deliver(st, &d3, &err), -1);
	CHECK(d3.error != NULL);
	CHECK_INT(bad.result, -1);
	struct store_delivery d4 = {.data = m.data, .len = m.len};
	CHECK_INT(store_deliver(st, &d4, &err), -1);
	buf_free(&want);
	buf_free(&m);
	check_integrity(st);
	store_close(&st);
}

struct async_ctx {
	int done, ok;
	int watch_calls;
	bool in_call;
	bool watch_inline;
	struct event_base *base;
};

static void async_cb(void *ctx, struct store_delivery *d, int result)
{
	struct async_ctx *a = ctx;
	a->done++;
	if (result == 0)
		a->ok++;
}

static void watch_cb(void *ctx, int64_t user_id, int64_t mailbox_id)
{
	struct async_ctx *a = ctx;
	if (a->in_call)
		a->watch_inline = true;
	a->watch_calls++;
}

static void loop_until(struct event_base *base, int *counter, int want)
{
	time_t end = time(NULL) + 20;
	while (*counter < want && time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
}

TEST(deliver_async)
{
	struct store *st = fixture(NULL);
	const char *err;
	struct event_base *base = event_base_new();
	struct store_delivery_rcpt rc0 = {.user_id = 1};
	struct store_delivery d0 = {.data = "x", .len = 1, .rcpts = &rc0, .rcpt_count = 1};
	struct async_ctx a = {.base = base};
	store_deliver_async(st, &d0, async_cb, &a); /* no loop: fails at once */
	CHECK_INT(a.done, 1);
	CHECK_INT(a.ok, 0);
	a.done = 0;
	CHECK_INT(store_attach_loop(st, base, &err), 0);
	CHECK_INT(store_attach_loop(st, base, &err), -1);
	int64_t alice = user_id(st, "alice@example.test");
	struct store_watch *w = store_watch_add(st, alice, watch_cb, &a);
	/* A storage error in one job of the batch (a trigger refuses a blob
	 * of exactly 1234 bytes) must not fail the others. */
	struct buf path;
	buf_init(&path, 4096);
	buf_printf(&path, "%s/posthorn.db", dirs[ndirs - 1]);
	sqlite3 *raw;
	CHECK_INT(sqlite3_open(path.data, &raw), SQLITE_OK);
	CHECK_INT(sqlite3_exec(raw,
			       "CREATE TRIGGER boom BEFORE INSERT ON blobs WHEN length(NEW.data) = 1234"
			       " BEGIN SELECT RAISE(ABORT, 'boom'); END",
			       NULL, NULL, NULL),
		  SQLITE_OK);
	sqlite3_close(raw);
	enum { N = 40 };
	struct buf msgs[N];
	struct store_delivery_rcpt rc[N];
	struct store_delivery d[N];
	a.in_call = true;
	for (int i = 0; i < N; i++) {
		make_msg(&msgs[i], i, "async", "group commit");
		while (i == 7 && msgs[i].len < 1234)
			buf_putc(&msgs[i], 'x');
		rc[i] = (struct store_delivery_rcpt){.user_id = i == 5 ? 999 : alice};
		d[i] = (struct store_delivery){
		    .data = msgs[i].data, .len = msgs[i].len, .rcpts = &rc[i], .rcpt_count = 1};
		store_deliver_async(st, &d[i], async_cb, &a);
	}
	/* A bad delivery also completes through the loop. */
	struct store_delivery bad = {.data = NULL};
	store_deliver_async(st, &bad, async_cb, &a);
	a.in_call = false;
	CHECK_INT(a.done, 0);
	loop_until(base, &a.done, N + 1);
	CHECK_INT(a.done, N + 1);
	CHECK_INT(a.ok, N - 2);
	CHECK_INT(rc[5].result, -1);
	CHECK_INT(rc[7].result, -1);
	CHECK(bad.error != NULL);
	/* UIDs are dense and in submission order. */
	uint32_t expect = 1;
	for (int i = 0; i < N; i++) {
		if (i == 5 || i == 7)
			continue;
		CHECK_INT(rc[i].result, 0);
		CHECK_INT(rc[i].uid, expect);
		expect++;
	}
	for (int k = 0; k < 5 && a.watch_calls == 0; k++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(a.watch_calls > 0);
	CHECK(!a.watch_inline);

	/* The index follows in the background: messages not indexed yet are
	 * candidates; after a flush the answer is exact. */
	int64_t inbox = mailbox_id(st, alice, "INBOX");
	uint32_t *found;
	size_t nfound;
	CHECK_INT(store_search(st, inbox, STORE_SEARCH_SUBJECT, "async", &found, &nfound, &err), 0);
	CHECK_INT(nfound, N - 2);
	free(found);
	CHECK_INT(store_search(st, inbox, STORE_SEARCH_TEXT, "giraffe", &found, &nfound, &err), 0);
	CHECK(nfound <= N - 2);
	free(found);
	CHECK(store_search_index_flush(st, &err) >= 0);
	CHECK_INT(store_search_index_flush(st, &err), 0);
	CHECK_INT(store_search(st, inbox, STORE_SEARCH_TEXT, "giraffe", &found, &nfound, &err), 0);
	CHECK_INT(nfound, 0);
	free(found);
	CHECK_INT(store_search(st, inbox, STORE_SEARCH_BODY, "group commit", &found, &nfound, &err), 0);
	CHECK_INT(nfound, N - 2);
	free(found);

	/* Synchronous changes notify later, from the loop, never inline. */
	a.watch_calls = 0;
	uint32_t one = 1;
	a.in_call = true;
	CHECK_INT(store_msg_set_flags(st, inbox, &one, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL,
				      NULL, &err),
		  1);
	CHECK_INT(store_mailbox_create(st, alice, "New", STORE_SPECIAL_NONE, &err), 0);
	a.in_call = false;
	CHECK_INT(a.watch_calls, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(a.watch_calls, 2);
	CHECK(!a.watch_inline);
	/* A removed watch is not called. */
	store_watch_remove(st, &w);
	CHECK(w == NULL);
	CHECK_INT(store_msg_set_flags(st, inbox, &one, 1, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, NULL, 0, NULL,
				      NULL, &err),
		  1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(a.watch_calls, 2);

	/* store_close runs the callbacks of deliveries still pending. */
	CHECK_INT(sqlite3_open(path.data, &raw), SQLITE_OK);
	CHECK_INT(sqlite3_exec(raw, "DROP TRIGGER boom", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	buf_free(&path);
	a.done = 0;
	for (int i = 0; i < 10; i++) {
		rc[i] = (struct store_delivery_rcpt){.user_id = alice};
		store_deliver_async(st, &d[i], async_cb, &a);
	}
	check_integrity(st);
	store_close(&st);
	CHECK_INT(a.done, 10);
	CHECK_INT(a.ok, N - 2 + 10);
	st = open_at(dirs[ndirs - 1]);
	struct store_mailbox mb;
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.messages, N - 2 + 10);
	store_mailbox_clear(&mb);
	check_integrity(st);
	store_close(&st);
	for (int i = 0; i < N; i++)
		buf_free(&msgs[i]);
	event_base_free(base);
}

/* ---- Groups: all or nothing (MULTIAPPEND) -------------------------------- */

struct group_fix {
	struct buf msg[4];
	struct store_delivery_rcpt rc[4];
	struct store_delivery d[4];
	struct store_delivery *ds[4];
	int result; /* set by group_cb */
	int *done;  /* incremented by group_cb */
};

/* Up to 4 messages of `extra` bytes more each, to one mailbox (0 = the
 * user's INBOX) each. */
static void group_fix_init(struct group_fix *g, size_t n, int64_t user, const int64_t *boxes, size_t extra,
			   int first_id)
{
	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < n; i++) {
		make_msg(&g->msg[i], first_id + (int)i, "group", "all or nothing");
		for (size_t k = 0; k < extra; k++)
			buf_putc(&g->msg[i], 'x');
		g->rc[i] = (struct store_delivery_rcpt){.user_id = user, .mailbox_id = boxes ? boxes[i] : 0};
		g->d[i] = (struct store_delivery){
		    .data = g->msg[i].data, .len = g->msg[i].len, .rcpts = &g->rc[i], .rcpt_count = 1};
		g->ds[i] = &g->d[i];
	}
}

static void group_fix_free(struct group_fix *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_free(&g->msg[i]);
}

static void box_state(struct store *st, int64_t box, uint32_t *messages_r, uint32_t *uidnext_r)
{
	struct store_mailbox mb = {0};
	const char *err;
	CHECK_INT(store_mailbox_get_by_id(st, box, &mb, &err), 1);
	*messages_r = mb.messages;
	*uidnext_r = mb.uidnext;
	store_mailbox_clear(&mb);
}

static uint64_t used_bytes(struct store *st, int64_t user)
{
	struct store_user u = {0};
	const char *err;
	CHECK_INT(store_user_get_by_id(st, user, &u, &err), 1);
	uint64_t used = u.used_bytes;
	store_user_clear(&u);
	return used;
}

TEST(deliver_group)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	int64_t inbox = mailbox_id(st, alice, "INBOX"), archive = mailbox_id(st, alice, "Archive");
	CHECK(deliver1(st, alice, 0, NULL, "Subject: before\r\n\r\nx\r\n", 0) == 1);
	uint32_t msgs0, next0, msgs, next;
	box_state(st, inbox, &msgs0, &next0);
	uint64_t used0 = used_bytes(st, alice);

	/* The last one fails (its mailbox is gone): nothing is stored, no UID used. */
	struct {
		const char *name;
		int64_t box2;	 /* the third message's mailbox */
		uint64_t quota;	 /* set before (0 = none) */
		bool no_mailbox; /* the third fails so */
		bool over_quota; /* the third fails so */
	} fails[] = {
	    {"mailbox gone", 999999, 0, true, false},
	    {"over quota in sum", 0, 1, false, true}, /* quota: see below */
	};
	for (size_t t = 0; t < sizeof(fails) / sizeof(fails[0]); t++) {
		struct group_fix g;
		int64_t boxes[3] = {0, archive, fails[t].box2};
		group_fix_init(&g, 3, alice, boxes, 500, 10);
		if (fails[t].quota)
			/* Each message fits alone, and two of them; three do not. */
			CHECK_INT(store_user_set_quota(st, "alice@example.test",
						       used0 + 2 * g.msg[0].len + g.msg[0].len / 2, &err),
				  0);
		CHECK_INT(store_deliver_group(st, g.ds, 3, &err), -1);
		printf("  %s: %s\n", fails[t].name, err);
		for (size_t i = 0; i < 3; i++) {
			CHECK_INT(g.rc[i].result, -1);
			CHECK_INT(g.rc[i].uid, 0);
		}
		CHECK_STR(g.rc[0].error, STORE_GROUP_ABORTED);
		CHECK_STR(g.rc[1].error, STORE_GROUP_ABORTED);
		CHECK_INT(g.rc[2].no_mailbox, fails[t].no_mailbox);
		CHECK_INT(g.rc[2].over_quota, fails[t].over_quota);
		CHECK(!g.rc[0].over_quota && !g.rc[0].no_mailbox);
		box_state(st, inbox, &msgs, &next);
		CHECK_INT(msgs, msgs0);
		CHECK_INT(next, next0);
		box_state(st, archive, &msgs, &next);
		CHECK_INT(msgs, 0);
		CHECK_INT(next, 1);
		CHECK_INT(used_bytes(st, alice), used0);
		check_integrity(st);
		/* Two of the same fit even under that quota. */
		if (fails[t].quota) {
			CHECK_INT(store_deliver_group(st, g.ds, 2, &err), 0);
			CHECK_INT(g.rc[0].uid, next0);
			CHECK_INT(g.rc[1].uid, 1);
			CHECK_INT(used_bytes(st, alice), used0 + g.msg[0].len + g.msg[1].len);
			CHECK_INT(store_user_set_quota(st, "alice@example.test", 0, &err), 0);
			next0++;
			msgs0++;
			used0 = used_bytes(st, alice);
		}
		group_fix_free(&g, 3);
	}

	/* A group that fits is stored whole, with consecutive UIDs. */
	struct group_fix g;
	group_fix_init(&g, 4, alice, NULL, 0, 20);
	g.rc[1].flags = STORE_FLAG_SEEN;
	g.rc[2].keywords = "$Important";
	CHECK_INT(store_deliver_group(st, g.ds, 4, &err), 0);
	for (size_t i = 0; i < 4; i++) {
		CHECK_INT(g.rc[i].result, 0);
		CHECK_INT(g.rc[i].uid, next0 + i);
		CHECK(g.rc[i].msg_id > 0);
		CHECK(g.d[i].error == NULL);
	}
	box_state(st, inbox, &msgs, &next);
	CHECK_INT(msgs, msgs0 + 4);
	CHECK_INT(next, next0 + 4);
	struct store_msg m = {0};
	CHECK_INT(store_msg_get(st, inbox, next0 + 2, STORE_FIELD_BASIC, &m, &err), 1);
	CHECK_STR(m.keywords, "$Important");
	store_msg_clear(&m);

	/* Bad groups fail before anything is tried. */
	CHECK_INT(store_deliver_group(st, g.ds, 0, &err), -1);
	const char *remote[] = {"someone@remote.test"};
	g.d[1].remote_rcpts = remote;
	g.d[1].remote_count = 1;
	g.d[1].mail_from = "";
	CHECK_INT(store_deliver_group(st, g.ds, 2, &err), -1);
	CHECK(g.d[1].error != NULL);
	g.d[1].remote_count = 0;
	g.d[0].data = NULL;
	CHECK_INT(store_deliver_group(st, g.ds, 2, &err), -1);
	box_state(st, inbox, &msgs, &next);
	CHECK_INT(msgs, msgs0 + 4);
	group_fix_free(&g, 4);
	check_integrity(st);
	store_close(&st);
}

static void group_cb(void *ctx, int result)
{
	struct group_fix *g = ctx;
	g->result = result;
	(*g->done)++;
}

/* Hands a group to the writer; its callback sets g->result. */
static void group_submit(struct store *st, struct group_fix *g, size_t n, int *done)
{
	g->result = 1;
	g->done = done;
	store_deliver_group_async(st, g->ds, n, group_cb, g);
}

TEST(deliver_group_async)
{
	struct store *st = fixture(NULL);
	const char *err;
	struct event_base *base = event_base_new();
	int64_t alice = user_id(st, "alice@example.test"), bob = user_id(st, "bob@example.test");
	int64_t inbox = mailbox_id(st, alice, "INBOX");
	int done = 0;
	struct group_fix nolp;
	group_fix_init(&nolp, 1, alice, NULL, 0, 1);
	group_submit(st, &nolp, 1, &done); /* no loop: fails at once */
	CHECK_INT(done, 1);
	CHECK_INT(nolp.result, -1);
	group_fix_free(&nolp, 1);
	done = 0;
	CHECK_INT(store_attach_loop(st, base, &err), 0);
	struct async_ctx a = {.base = base};
	struct store_watch *w = store_watch_add(st, alice, watch_cb, &a);

	/* Groups and single deliveries, submitted together (so that most share
	 * a transaction), some groups failing: each group is whole or absent,
	 * its UIDs consecutive, the single deliveries unaffected. */
	enum { G = 24 };
	struct group_fix *gs = xcalloc(G, sizeof(*gs));
	struct buf single[G];
	struct store_delivery_rcpt src[G];
	struct store_delivery sd[G];
	int64_t bad_box[3] = {0, 0, 999999};
	a.in_call = true;
	for (int i = 0; i < G; i++) {
		bool fails = i % 4 == 3;
		group_fix_init(&gs[i], 3, i % 3 == 2 ? bob : alice, fails ? bad_box : NULL, 0, 100 + 3 * i);
		group_submit(st, &gs[i], 3, &done);
		make_msg(&single[i], 1000 + i, "single", "between groups");
		src[i] = (struct store_delivery_rcpt){.user_id = alice};
		sd[i] = (struct store_delivery){
		    .data = single[i].data, .len = single[i].len, .rcpts = &src[i], .rcpt_count = 1};
		store_deliver_async(st, &sd[i], async_cb, &a);
	}
	/* A bad group also completes through the loop. */
	struct group_fix badg;
	group_fix_init(&badg, 2, alice, NULL, 0, 500);
	badg.d[1].data = NULL;
	group_submit(st, &badg, 2, &done);
	a.in_call = false;
	CHECK_INT(done, 0);
	loop_until(base, &done, G + 1);
	loop_until(base, &a.done, G);
	CHECK_INT(done, G + 1);
	CHECK_INT(a.ok, G);
	CHECK_INT(badg.result, -1);
	CHECK(badg.d[1].error != NULL);
	CHECK_INT(badg.rc[0].result, -1);
	uint32_t seen[3 * G + G] = {0};
	size_t nseen = 0;
	for (int i = 0; i < G; i++) {
		bool fails = i % 4 == 3;
		CHECK_INT(gs[i].result, fails ? -1 : 0);
		for (size_t k = 0; k < 3; k++) {
			CHECK_INT(gs[i].rc[k].result, fails ? -1 : 0);
			if (!fails && k > 0)
				CHECK_INT(gs[i].rc[k].uid, gs[i].rc[0].uid + k);
			if (!fails && i % 3 != 2)
				seen[nseen++] = gs[i].rc[k].uid;
		}
		if (fails)
			CHECK(gs[i].rc[2].no_mailbox);
		seen[nseen++] = src[i].uid;
	}
	/* Alice's UIDs: all different, none lost (no failed group used any). */
	uint32_t msgs, next;
	box_state(st, inbox, &msgs, &next);
	CHECK_INT(msgs, nseen);
	CHECK_INT(next, nseen + 1);
	for (size_t i = 0; i < nseen; i++)
		for (size_t j = i + 1; j < nseen; j++)
			CHECK(seen[i] != seen[j]);
	for (int k = 0; k < 5 && a.watch_calls == 0; k++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(a.watch_calls > 0);
	CHECK(!a.watch_inline);
	check_integrity(st);

	/* Over quota in sum, asynchronously: NO for the group, the others go on. */
	CHECK_INT(
	    store_user_set_quota(st, "alice@example.test", used_bytes(st, alice) + 2 * single[0].len, &err),
	    0);
	group_fix_free(&gs[0], 3);
	group_fix_init(&gs[0], 3, alice, NULL, 0, 900);
	done = 0;
	group_submit(st, &gs[0], 3, &done);
	loop_until(base, &done, 1);
	CHECK_INT(gs[0].result, -1);
	CHECK(gs[0].rc[2].over_quota);
	group_submit(st, &gs[0], 2, &done); /* two fit */
	loop_until(base, &done, 2);
	CHECK_INT(gs[0].result, 0);
	CHECK_INT(gs[0].rc[0].result, 0);
	CHECK_INT(gs[0].rc[1].uid, gs[0].rc[0].uid + 1);
	box_state(st, inbox, &msgs, &next);
	CHECK_INT(msgs, nseen + 2);

	/* store_close runs the callbacks of groups still pending. */
	CHECK_INT(store_user_set_quota(st, "alice@example.test", 0, &err), 0);
	done = 0;
	group_submit(st, &gs[1], 3, &done);
	store_watch_remove(st, &w);
	check_integrity(st);
	store_close(&st);
	CHECK_INT(done, 1);
	CHECK_INT(gs[1].result, 0);
	st = open_at(dirs[ndirs - 1]);
	box_state(st, inbox, &msgs, &next);
	CHECK_INT(msgs, nseen + 5);
	check_integrity(st);
	store_close(&st);
	for (int i = 0; i < G; i++) {
		group_fix_free(&gs[i], 3);
		buf_free(&single[i]);
	}
	free(gs);
	group_fix_free(&badg, 2);
	event_base_free(base);
}

/* Watchers that remove themselves or others while being called. */
struct wctx {
	struct store *st;
	struct store_watch **self, **other;
	int calls;
};

static void self_removing_cb(void *ctx, int64_t user_id, int64_t mailbox_id)
{
	struct wctx *c = ctx;
	c->calls++;
	store_watch_remove(c->st, c->other);
	store_watch_remove(c->st, c->self);
}

TEST(watches)
{
	struct store *st = fixture(NULL);
	const char *err;
	struct event_base *base = event_base_new();
	CHECK_INT(store_attach_loop(st, base, &err), 0);
	int64_t alice = user_id(st, "alice@example.test"), bob = user_id(st, "bob@example.test");
	struct store_watch *w1, *w2, *wb;
	struct wctx c1 = {.st = st, .self = &w1, .other = &w2}, c2 = {.st = st, .self = &w2, .other = &w1};
	struct async_ctx b = {0};
	w1 = store_watch_add(st, alice, self_removing_cb, &c1);
	w2 = store_watch_add(st, alice, self_removing_cb, &c2);
	wb = store_watch_add(st, bob, watch_cb, &b);
	CHECK_INT(store_mailbox_create(st, alice, "X", STORE_SPECIAL_NONE, &err), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(c1.calls + c2.calls, 1);
	CHECK_INT(b.watch_calls, 0);
	CHECK_INT(store_mailbox_create(st, alice, "Y", STORE_SPECIAL_NONE, &err), 0);
	CHECK_INT(store_mailbox_create(st, bob, "Y", STORE_SPECIAL_NONE, &err), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(c1.calls + c2.calls, 1);
	CHECK_INT(b.watch_calls, 1);
	store_watch_remove(st, &wb);
	check_integrity(st);
	store_close(&st);
	event_base_free(base);
}

/* ---- Flags, expunge, changes, copy ------------------------------------------ */

static int64_t fill_inbox(struct store *st, int64_t user, int count)
{
	for (int i = 1; i <= count; i++) {
		struct buf m;
		make_msg(&m, i, "fill", "text");
		deliver1(st, user, 0, NULL, m.data, 0);
		buf_free(&m);
	}
	return mailbox_id(st, user, "INBOX");
}

TEST(flags)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	int64_t inbox = fill_inbox(st, alice, 100);
	struct store_mailbox mb;
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	uint64_t m0 = mb.highestmodseq;
	CHECK_INT(mb.unseen, 100);
	store_mailbox_clear(&mb);

	/* Table of STORE commands and the state they leave on UID 3. */
	static const struct {
		enum store_flag_mode mode;
		uint32_t flags;
		const char *kw;
		uint32_t want_flags;
		const char *want_kw;
		int changed;
	} cases[] = {
	    {STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, STORE_FLAG_SEEN, NULL, 1},
	    {STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, STORE_FLAG_SEEN, NULL, 0},
	    {STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, "Work $label1", STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
	     "Work $label1", 1},
	    {STORE_FLAGS_ADD, 0, "work", STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, "Work $label1", 0},
	    {STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, "WORK", STORE_FLAG_FLAGGED, "$label1", 1},
	    {STORE_FLAGS_SET, STORE_FLAG_DELETED, "a b", STORE_FLAG_DELETED, "a b", 1},
	    {STORE_FLAGS_SET, STORE_FLAG_DELETED, "b a", STORE_FLAG_DELETED, "a b", 0},
	    {STORE_FLAGS_SET, 0, NULL, 0, NULL, 1},
	};
	uint32_t three = 3;
	uint64_t last = m0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(store_msg_set_flags(st, inbox, &three, 1, cases[i].mode, cases[i].flags,
					      cases[i].kw, 0, NULL, NULL, &err),
			  cases[i].changed);
		struct store_msg m;
		CHECK_INT(store_msg_get(st, inbox, 3, STORE_FIELD_BASIC, &m, &err), 1);
		CHECK_INT(m.flags, cases[i].want_flags);
		CHECK_STR(m.keywords, cases[i].want_kw);
		if (cases[i].changed)
			CHECK(m.modseq > last);
		else
			CHECK_INT(m.modseq, last);
		last = m.modseq;
		store_msg_clear(&m);
	}
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.highestmodseq, last);
	CHECK_STR(mb.keywords, "Work $label1 a b");
	CHECK_INT(mb.deleted, 0);
	store_mailbox_clear(&mb);

	/* Many UIDs at once (the range-scan path), with missing ones. */
	uint32_t uids[90];
	for (int i = 0; i < 90; i++)
		uids[i] = (uint32_t)(i * 2 + 1); /* 1, 3, ..., 179: 50 exist */
	CHECK_INT(store_msg_set_flags(st, inbox, uids, 90, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL,
				      NULL, &err),
		  50);
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.unseen, 50);
	uint64_t m1 = mb.highestmodseq;
	store_mailbox_clear(&mb);

	/* CONDSTORE: UNCHANGEDSINCE below a message's modseq fails it. */
	uint32_t two_four[] = {2, 4, 6};
	CHECK_INT(store_msg_set_flags(st, inbox, two_four, 1, STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, NULL, 0,
				      NULL, NULL, &err),
		  1); /* uid 2 now has modseq m1 + 1 */
	uint32_t *failed;
	size_t nfailed;
	CHECK_INT(store_msg_set_flags(st, inbox, two_four, 3, STORE_FLAGS_ADD, STORE_FLAG_DELETED, NULL, m1,
				      &failed, &nfailed, &err),
		  2);
	CHECK_INT(nfailed, 1);
	if (nfailed == 1)
		CHECK_INT(failed[0], 2);
	free(failed);
	CHECK_INT(store_msg_set_flags(st, inbox, two_four, 2, STORE_FLAGS_ADD, STORE_FLAG_DELETED, NULL, 0,
				      NULL, NULL, &err),
		  1);
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.deleted, 3);
	store_mailbox_clear(&mb);
	uint32_t bad[] = {4, 2};
	CHECK_INT(store_msg_set_flags(st, inbox, bad, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL,
				      NULL, &err),
		  -1);

	/* Iteration sees what the counters say. */
	struct store_msg_iter *it = store_msg_iter_new(st, inbox, 1, UINT32_MAX, STORE_FIELD_BASIC);
	struct store_msg m;
	uint32_t count = 0, seen = 0;
	while (store_msg_iter_next(it, &m) == 1) {
		count++;
		if (m.flags & STORE_FLAG_SEEN)
			seen++;
	}
	CHECK_INT(store_msg_iter_free(&it, &err), 0);
	CHECK_INT(count, 100);
	CHECK_INT(seen, 50);
	it = store_msg_iter_new(st, inbox, 10, 12, STORE_FIELD_SUMMARY);
	count = 0;
	while (store_msg_iter_next(it, &m) == 1) {
		CHECK_INT(m.uid, 10 + count);
		CHECK_STR(m.subject, "fill");
		count++;
		if (count == 2)
			break; /* freeing early clears m */
	}
	CHECK_INT(store_msg_iter_free(&it, &err), 0);
	check_integrity(st);
	store_close(&st);
}

/* store_mailbox_uids_by_flag: set and unset bits, limits. */
TEST(uids_by_flag)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	int64_t inbox = fill_inbox(st, alice, 10);
	static const uint32_t seen[] = {1, 2, 3, 5}, del[] = {2, 9};
	CHECK_INT(store_msg_set_flags(st, inbox, seen, 4, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL, NULL, &err), 4);
	CHECK_INT(store_msg_set_flags(st, inbox, del, 2, STORE_FLAGS_ADD, STORE_FLAG_DELETED | STORE_FLAG_SEEN, NULL, 0,
				      NULL, NULL, &err),
		  2);
	static const struct {
		uint32_t flags;
		bool set;
		size_t limit;
		const char *want;
	} cases[] = {
	    {STORE_FLAG_SEEN, false, 1, "4"},
	    {STORE_FLAG_SEEN, false, 0, "4 6 7 8 10"},
	    {STORE_FLAG_SEEN, true, 0, "1 2 3 5 9"},
	    {STORE_FLAG_DELETED, true, 0, "2 9"},
	    {STORE_FLAG_DELETED | STORE_FLAG_SEEN, true, 0, "2 9"},
	    {STORE_FLAG_DELETED | STORE_FLAG_SEEN, false, 2, "4 6"},
	    {STORE_FLAG_FLAGGED, true, 0, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t *v;
		size_t n;
		CHECK_INT(store_mailbox_uids_by_flag(st, inbox, cases[i].flags, cases[i].set, cases[i].limit, &v, &n, &err),
			  0);
		char got[256] = "";
		size_t len = 0;
		for (size_t k = 0; k < n && len < sizeof(got) - 12; k++)
			len += (size_t)snprintf(got + len, sizeof(got) - len, k ? " %u" : "%u", v[k]);
		CHECK_STR(got, cases[i].want);
		free(v);
	}
	store_close(&st);
}

TEST(expunge_changes)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	int64_t inbox = fill_inbox(st, alice, 10);
	struct store_mailbox mb;
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	uint64_t m0 = mb.highestmodseq;
	uint64_t size0 = mb.size;
	store_mailbox_clear(&mb);
	uint32_t seen[] = {1, 2};
	store_msg_set_flags(st, inbox, seen, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN | STORE_FLAG_DELETED, NULL,
			    0, NULL, NULL, &err);
	uint32_t gone[] = {2, 3, 11};
	CHECK_INT(store_msg_expunge(st, inbox, gone, 3, &err), 2);
	CHECK_INT(store_msg_expunge(st, inbox, gone, 3, &err), 0);
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.messages, 8);
	CHECK_INT(mb.unseen, 7);
	CHECK_INT(mb.deleted, 1);
	CHECK_INT(mb.uidnext, 11);
	CHECK(mb.size < size0);
	uint64_t m2 = mb.highestmodseq;
	CHECK_INT(m2, m0 + 2);
	store_mailbox_clear(&mb);

	struct store_changes ch;
	CHECK_INT(store_changes_since(st, inbox, m0, &ch, &err), 0);
	CHECK_INT(ch.changed_count, 1); /* uid 1 (2 is gone) */
	if (ch.changed_count == 1)
		CHECK_INT(ch.changed[0].uid, 1);
	CHECK_INT(ch.expunged_count, 2);
	if (ch.expunged_count == 2) {
		CHECK_INT(ch.expunged[0], 2);
		CHECK_INT(ch.expunged[1], 3);
	}
	CHECK_INT(ch.highestmodseq, m2);
	store_changes_clear(&ch);
	CHECK_INT(store_changes_since(st, inbox, m2, &ch, &err), 0);
	CHECK_INT(ch.changed_count + ch.expunged_count, 0);
	store_changes_clear(&ch);
	CHECK_INT(store_changes_since(st, inbox, 0, &ch, &err), 0);
	CHECK_INT(ch.changed_count, 8);
	store_changes_clear(&ch);
	CHECK_INT(store_changes_since(st, 424242, 0, &ch, &err), -1);

	uint32_t *uids;
	size_t n;
	CHECK_INT(store_mailbox_uids(st, inbox, &uids, &n, &err), 0);
	CHECK_INT(n, 8);
	if (n == 8) {
		CHECK_INT(uids[0], 1);
		CHECK_INT(uids[1], 4);
		CHECK_INT(uids[7], 10);
	}
	free(uids);

	/* Expunging many UIDs at once. */
	uint32_t all[10];
	for (int i = 0; i < 10; i++)
		all[i] = (uint32_t)i + 1;
	CHECK_INT(store_msg_expunge(st, inbox, all, 10, &err), 8);
	struct store_user u;
	store_user_get_by_id(st, alice, &u, &err);
	CHECK_INT(u.used_bytes, 0);
	store_user_clear(&u);
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.messages + mb.unseen + mb.deleted + mb.size + mb.recent, 0);
	store_mailbox_clear(&mb);
	check_integrity(st);
	store_close(&st);
}

TEST(copy_move)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test"), bob = user_id(st, "bob@example.test");
	int64_t inbox = fill_inbox(st, alice, 5);
	int64_t archive = mailbox_id(st, alice, "Archive"), trash = mailbox_id(st, alice, "Trash");
	uint32_t uids[] = {2, 4, 9};
	uint32_t *src, *dst;
	store_msg_set_flags(st, inbox, uids, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, "tag", 0, NULL, NULL,
			    &err);
	CHECK_INT(store_msg_copy(st, inbox, uids, 3, archive, false, &src, &dst, &err), 2);
	CHECK_INT(src[0], 2);
	CHECK_INT(src[1], 4);
	CHECK_INT(dst[0], 1);
	CHECK_INT(dst[1], 2);
	free(src);
	free(dst);
	struct store_msg m, orig;
	CHECK_INT(store_msg_get(st, archive, 1, STORE_FIELD_SUMMARY, &m, &err), 1);
	CHECK_INT(store_msg_get(st, inbox, 2, STORE_FIELD_BASIC, &orig, &err), 1);
	CHECK_INT(m.flags, STORE_FLAG_FLAGGED);
	CHECK_STR(m.keywords, "tag");
	CHECK_INT(m.internaldate, orig.internaldate);
	CHECK(m.id != orig.id);
	CHECK_STR(m.subject, "fill");
	int64_t copy_id = m.id, orig_id = orig.id;
	store_msg_clear(&m);
	store_msg_clear(&orig);
	struct store_user u;
	store_user_get_by_id(st, alice, &u, &err);
	uint64_t used = u.used_bytes;
	store_user_clear(&u);
	/* The copy survives the original's expunge (shared bytes). */
	uint32_t two = 2;
	CHECK_INT(store_msg_expunge(st, inbox, &two, 1, &err), 1);
	char *data;
	size_t len;
	CHECK_INT(store_msg_read(st, copy_id, &data, &len, &err), 1);
	CHECK(len > 0 && strstr(data, "X-Id: 2\r\n") != NULL);
	free(data);
	CHECK_INT(store_msg_read(st, orig_id, &data, &len, &err), 0);
	uint32_t *found;
	size_t nfound;
	CHECK_INT(store_search(st, archive, STORE_SEARCH_SUBJECT, "fill", &found, &nfound, &err), 0);
	CHECK_INT(nfound, 2);
	free(found);

	/* Move keeps the message id, logs the source as expunged. */
	struct store_mailbox mb;
	store_mailbox_get_by_id(st, inbox, &mb, &err);
	uint64_t before = mb.highestmodseq;
	store_mailbox_clear(&mb);
	uint32_t mv[] = {3, 4};
	CHECK_INT(store_msg_get(st, inbox, 3, STORE_FIELD_BASIC, &orig, &err), 1);
	CHECK_INT(store_msg_copy(st, inbox, mv, 2, trash, true, &src, &dst, &err), 2);
	CHECK_INT(dst[0], 1);
	CHECK_INT(dst[1], 2);
	free(src);
	free(dst);
	CHECK_INT(store_msg_get(st, trash, 1, STORE_FIELD_BASIC, &m, &err), 1);
	CHECK_INT(m.id, orig.id);
	store_msg_clear(&m);
	store_msg_clear(&orig);
	struct store_changes ch;
	CHECK_INT(store_changes_since(st, inbox, before, &ch, &err), 0);
	CHECK_INT(ch.expunged_count, 2);
	store_changes_clear(&ch);
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.messages, 2);
	store_mailbox_clear(&mb);
	CHECK_INT(store_mailbox_get_by_id(st, trash, &mb, &err), 1);
	CHECK_INT(mb.messages, 2);
	CHECK_INT(mb.uidnext, 3);
	store_mailbox_clear(&mb);
	store_user_get_by_id(st, alice, &u, &err);
	CHECK(u.used_bytes < used); /* expunge of uid 2 only; the move is free */
	store_user_clear(&u);

	/* Within one mailbox; across users refused. */
	uint32_t one = 1;
	CHECK_INT(store_msg_copy(st, trash, &one, 1, trash, true, &src, &dst, &err), 1);
	CHECK_INT(dst[0], 3);
	free(src);
	free(dst);
	CHECK_INT(store_msg_copy(st, trash, &one, 1, mailbox_id(st, bob, "INBOX"), false, &src, &dst, &err),
		  -1);
	check_integrity(st);
	store_close(&st);
}

TEST(quota)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	struct buf m;
	make_msg(&m, 1, "quota", "0123456789");
	CHECK_INT(store_quota_exceeded(st, alice, 1u << 30, &err), 0);
	CHECK_INT(store_user_set_quota(st, "alice@example.test", 2 * m.len + 10, &err), 0);
	CHECK_INT(store_quota_exceeded(st, alice, m.len, &err), 0);
	CHECK(deliver1(st, alice, 0, NULL, m.data, 0) == 1);
	CHECK(deliver1(st, alice, 0, NULL, m.data, 0) == 2);
	CHECK_INT(store_quota_exceeded(st, alice, m.len, &err), 1);
	CHECK_INT(store_quota_exceeded(st, alice, 5, &err), 0);
	struct store_delivery_rcpt rc[2] = {{.user_id = alice}, {.user_id = user_id(st, "bob@example.test")}};
	struct store_delivery d = {.data = m.data, .len = m.len, .rcpts = rc, .rcpt_count = 2};
	CHECK_INT(store_deliver(st, &d, &err), 0);
	CHECK_INT(rc[0].result, -1);
	CHECK(rc[0].over_quota);
	CHECK_STR(rc[0].error, "quota exceeded");
	CHECK_INT(rc[1].result, 0);
	uint32_t one = 1;
	uint32_t *src, *dst;
	int64_t inbox = mailbox_id(st, alice, "INBOX");
	CHECK_INT(
	    store_msg_copy(st, inbox, &one, 1, mailbox_id(st, alice, "Archive"), false, &src, &dst, &err),
	    -1);
	CHECK_INT(
	    store_msg_copy(st, inbox, &one, 1, mailbox_id(st, alice, "Archive"), true, &src, &dst, &err), 1);
	free(src);
	free(dst);
	CHECK_INT(store_quota_exceeded(st, 424242, 1, &err), -1);
	buf_free(&m);
	check_integrity(st);
	store_close(&st);
}

/* ---- Queue, search, page ---------------------------------------------------- */

TEST(queue)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	struct buf m;
	make_msg(&m, 1, "outbound", "to the world");
	const char *remote[] = {"x@remote.test", "y@remote.test"};
	struct store_delivery_rcpt rc = {
	    .user_id = alice, .mailbox_id = mailbox_id(st, alice, "Sent"), .flags = STORE_FLAG_SEEN};
	struct store_delivery d = {.data = m.data,
				   .len = m.len,
				   .mail_from = "alice@example.test",
				   .remote_rcpts = remote,
				   .remote_count = 2,
				   .queue_user_id = alice,
				   .rcpts = &rc,
				   .rcpt_count = 1};
	CHECK_INT(store_deliver(st, &d, &err), 0);
	CHECK(d.queue_id > 0);
	CHECK_INT(rc.result, 0);
	struct store_delivery d2 = {
	    .data = m.data, .len = m.len, .mail_from = "", .remote_rcpts = remote, .remote_count = 1};
	CHECK_INT(store_deliver(st, &d2, &err), 0);
	CHECK(d2.queue_id > d.queue_id);

	struct store_queue_entry *e;
	size_t n;
	CHECK_INT(store_queue_list(st, &e, &n, &err), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(e[0].id, d.queue_id);
		CHECK_STR(e[0].mail_from, "alice@example.test");
		CHECK_INT(e[0].user_id, alice);
		CHECK_INT(e[0].size, m.len);
		CHECK_INT(e[0].rcpt_count, 2);
		CHECK_STR(e[0].rcpts[1].address, "y@remote.test");
		CHECK_INT(e[0].rcpts[0].state, STORE_QUEUE_PENDING);
		CHECK_STR(e[1].mail_from, "");
	}
	int64_t r0 = n == 2 ? e[0].rcpts[0].id : 0, r1 = n == 2 ? e[0].rcpts[1].id : 0;
	store_queue_list_free(&e, n);
	char *data;
	size_t len;
	CHECK_INT(store_queue_read(st, d.queue_id, &data, &len, &err), 0);
	CHECK_MEM(data, len, m.data);
	free(data);

	time_t now = time(NULL);
	CHECK_INT(store_queue_rcpt_update(st, r0, STORE_QUEUE_DELIVERED, 0, "250 ok", &err), 0);
	CHECK_INT(store_queue_rcpt_update(st, r1, STORE_QUEUE_PENDING, now + 600, "451 later", &err), 0);
	CHECK_INT(store_queue_rcpt_update(st, 999999, STORE_QUEUE_PENDING, now, NULL, &err), -1);
	struct store_queue_entry qe;
	CHECK_INT(store_queue_get(st, d.queue_id, &qe, &err), 1);
	CHECK_INT(qe.rcpts[0].state, STORE_QUEUE_DELIVERED);
	CHECK_INT(qe.rcpts[1].attempts, 1);
	CHECK_INT(qe.rcpts[1].next_attempt, now + 600);
	CHECK_STR(qe.rcpts[1].last_error, "451 later");
	store_queue_entry_clear(&qe);
	CHECK_INT(store_queue_get(st, 999999, &qe, &err), 0);

	/* Due: the second entry now, the first only after its retry time. */
	CHECK_INT(store_queue_due(st, now, 10, &e, &n, &err), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_INT(e[0].id, d2.queue_id);
	store_queue_list_free(&e, n);
	CHECK_INT(store_queue_remove(st, d2.queue_id, &err), 0);
	CHECK_INT(store_queue_remove(st, d2.queue_id, &err), -1);
	time_t when;
	CHECK_INT(store_queue_next_attempt(st, &when, &err), 1);
	CHECK_INT(when, now + 600);
	CHECK_INT(store_queue_due(st, now, 10, &e, &n, &err), 0);
	CHECK_INT(n, 0);
	store_queue_list_free(&e, n);
	CHECK_INT(store_queue_flush(st, d.queue_id, &err), 0);
	CHECK_INT(store_queue_flush(st, 999999, &err), -1);
	CHECK_INT(store_queue_due(st, time(NULL), 10, &e, &n, &err), 0);
	CHECK_INT(n, 1);
	store_queue_list_free(&e, n);
	CHECK_INT(store_queue_rcpt_update(st, r1, STORE_QUEUE_FAILED, 0, "550 no", &err), 0);
	CHECK_INT(store_queue_list(st, &e, &n, &err), 0);
	CHECK_INT(n, 0);
	store_queue_list_free(&e, n);
	CHECK_INT(store_queue_next_attempt(st, &when, &err), 0);
	CHECK_INT(store_queue_get(st, d.queue_id, &qe, &err), 1); /* kept until removed */
	store_queue_entry_clear(&qe);
	CHECK_INT(store_queue_flush(st, 0, &err), 0);
	CHECK_INT(store_queue_remove(st, d.queue_id, &err), 0);
	buf_free(&m);
	check_integrity(st);
	store_close(&st);
}

TEST(search)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	static const struct {
		const char *subject, *body;
	} msgs[] = {
	    {"Quarterly report", "The figures for the third quarter are attached."},
	    {"Lunch", "Shall we meet at the café near the station?"},
	    {"=?iso-8859-1?q?R=E9sum=E9?=", "Please find my résumé. Zebra crossing."},
	    {"Hello", "Nothing to see here, just the quarterly numbers"},
	};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct buf m;
		make_msg(&m, (int)i, msgs[i].subject, msgs[i].body);
		deliver1(st, alice, 0, NULL, m.data, 0);
		buf_free(&m);
	}
	int64_t inbox = mailbox_id(st, alice, "INBOX");
	static const struct {
		enum store_search_field field;
		const char *query;
		const char *want; /* UIDs, space-separated */
	} cases[] = {
	    {STORE_SEARCH_TEXT, "quarterly", "1 4"},
	    {STORE_SEARCH_SUBJECT, "quarterly", "1"},
	    {STORE_SEARCH_BODY, "QUARTERLY", "4"},
	    {STORE_SEARCH_TEXT, "cafe", "2"},
	    {STORE_SEARCH_TEXT, "resume", "3"},
	    {STORE_SEARCH_SUBJECT, "résumé", "3"},
	    {STORE_SEARCH_TEXT, "quart", "1 4"},
	    {STORE_SEARCH_TEXT, "quarterly figures", "1"},
	    {STORE_SEARCH_TEXT, "zebra", "3"},
	    {STORE_SEARCH_TEXT, "giraffe", ""},
	    {STORE_SEARCH_FROM, "sender", "1 2 3 4"},
	    {STORE_SEARCH_FROM, "alice", ""},
	    {STORE_SEARCH_TO, "carol", "1 2 3 4"},
	    {STORE_SEARCH_TO, "carol@example.test", "1 2 3 4"},
	    {STORE_SEARCH_TEXT, "\"quoted\" AND OR NOT", ""},
	    {STORE_SEARCH_TEXT, "*** ---", "1 2 3 4"},
	    {STORE_SEARCH_TEXT, "— zebra …", "3"},
	    {STORE_SEARCH_TEXT, "«»", "1 2 3 4"},
	    {STORE_SEARCH_TEXT, "", "1 2 3 4"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t *uids;
		size_t n;
		CHECK_INT(store_search(st, inbox, cases[i].field, cases[i].query, &uids, &n, &err), 0);
		struct buf got;
		buf_init(&got, 1024);
		for (size_t k = 0; k < n; k++)
			buf_printf(&got, "%s%u", k ? " " : "", uids[k]);
		if (strcmp(buf_cstr(&got), cases[i].want) != 0)
			printf("  (searching %s)\n", cases[i].query);
		CHECK_STR(buf_cstr(&got), cases[i].want);
		buf_free(&got);
		free(uids);
	}
	/* Expunged messages leave the index. */
	uint32_t one = 1;
	store_msg_expunge(st, inbox, &one, 1, &err);
	uint32_t *uids;
	size_t n;
	CHECK_INT(store_search(st, inbox, STORE_SEARCH_TEXT, "quarterly", &uids, &n, &err), 0);
	CHECK_INT(n, 1);
	free(uids);
	/* Other users' mail is not found. */
	CHECK_INT(store_search(st, mailbox_id(st, user_id(st, "bob@example.test"), "INBOX"),
			       STORE_SEARCH_TEXT, "zebra", &uids, &n, &err),
		  0);
	CHECK_INT(n, 0);
	free(uids);
	check_integrity(st);
	store_close(&st);
}

TEST(page)
{
	struct store *st = fixture(NULL);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	int64_t inbox = fill_inbox(st, alice, 30); /* Date minute = n % 60: dates ascend with UID */
	struct store_msg *v;
	size_t n;
	uint32_t total;
	CHECK_INT(store_msg_page(st, inbox, false, 0, 10, &v, &n, &total, &err), 0);
	CHECK_INT(n, 10);
	CHECK_INT(total, 30);
	if (n == 10) {
		CHECK_INT(v[0].uid, 30);
		CHECK_INT(v[9].uid, 21);
		CHECK_STR(v[0].subject, "fill");
		CHECK(v[0].sent_date > v[9].sent_date);
	}
	store_msg_list_free(&v, n);
	CHECK_INT(store_msg_page(st, inbox, true, 25, 10, &v, &n, &total, &err), 0);
	CHECK_INT(n, 5);
	if (n == 5)
		CHECK_INT(v[0].uid, 26);
	store_msg_list_free(&v, n);
	CHECK_INT(store_msg_page(st, 424242, true, 0, 10, &v, &n, &total, &err), -1);
	check_integrity(st);
	store_close(&st);
}

/* The integrity check finds what it is meant to find. */
TEST(integrity)
{
	const char *dir;
	struct store *st = fixture(&dir);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	int64_t inbox = fill_inbox(st, alice, 3);
	uint32_t one = 1;
	uint32_t *src, *dst;
	store_msg_copy(st, inbox, &one, 1, mailbox_id(st, alice, "Archive"), false, &src, &dst, &err);
	free(src);
	free(dst);
	check_integrity(st);
	static const struct {
		const char *tamper, *undo;
	} cases[] = {
	    {"UPDATE mailboxes SET unseen = unseen + 1", "UPDATE mailboxes SET unseen = unseen - 1"},
	    {"UPDATE mailboxes SET messages = messages + 1", "UPDATE mailboxes SET messages = messages - 1"},
	    {"UPDATE mailboxes SET recent = recent + 1", "UPDATE mailboxes SET recent = recent - 1"},
	    {"UPDATE mailboxes SET uidnext = 1",
	     "UPDATE mailboxes SET uidnext = (SELECT coalesce(max(uid), 0) + 1"
	     " FROM msgs WHERE mailbox_id = mailboxes.id)"},
	    {"UPDATE users SET used_bytes = used_bytes + 1", "UPDATE users SET used_bytes = used_bytes - 1"},
	    {"UPDATE contents SET refs = refs + 1", "UPDATE contents SET refs = refs - 1"},
	    {"DELETE FROM fts_text WHERE id = (SELECT max(id) FROM fts_text)", NULL},
	};
	struct buf path;
	buf_init(&path, 4096);
	buf_printf(&path, "%s/posthorn.db", dir);
	sqlite3 *raw;
	CHECK_INT(sqlite3_open(path.data, &raw), SQLITE_OK);
	sqlite3_busy_timeout(raw, 5000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(sqlite3_exec(raw, cases[i].tamper, NULL, NULL, NULL), SQLITE_OK);
		CHECK_INT(store_integrity_check(st, &err), -1);
		if (cases[i].undo) {
			CHECK_INT(sqlite3_exec(raw, cases[i].undo, NULL, NULL, NULL), SQLITE_OK);
			check_integrity(st);
		}
	}
	sqlite3_close(raw);
	buf_free(&path);
	store_close(&st);
}

/* ---- Two connections, as the CLI opens the daemon's database ---------------- */

struct holder {
	const char *path;
	int held_ms;
};

static void *hold_lock(void *arg)
{
	struct holder *h = arg;
	sqlite3 *db;
	sqlite3_open(h->path, &db);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	usleep((useconds_t)h->held_ms * 1000);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return NULL;
}

TEST(concurrent)
{
	const char *dir;
	struct store *st = fixture(&dir);
	const char *err;
	struct event_base *base = event_base_new();
	CHECK_INT(store_attach_loop(st, base, &err), 0);
	struct store *cli = open_at(dir);
	CHECK_INT(store_user_add(cli, "dave@example.test", "$y$d", NULL, &err), 0);
	CHECK(user_id(st, "dave@example.test") > 0);
	int64_t dave = user_id(st, "dave@example.test");
	struct buf m;
	make_msg(&m, 1, "both", "ways");
	CHECK_INT(deliver1(cli, dave, 0, NULL, m.data, 0), 1);
	struct store_mailbox mb;
	CHECK_INT(store_mailbox_get(st, dave, "INBOX", &mb, &err), 1);
	CHECK_INT(mb.messages, 1);
	store_mailbox_clear(&mb);

	/* Another process holds the write lock for a while: writers wait. */
	struct buf path;
	buf_init(&path, 4096);
	buf_printf(&path, "%s/posthorn.db", dir);
	struct holder h = {.path = path.data, .held_ms = 300};
	pthread_t t;
	pthread_create(&t, NULL, hold_lock, &h);
	usleep(50 * 1000);
	CHECK_INT(store_mailbox_create(st, dave, "Waited", STORE_SPECIAL_NONE, &err), 0);
	struct async_ctx a = {0};
	struct store_delivery_rcpt rc = {.user_id = dave};
	struct store_delivery d = {.data = m.data, .len = m.len, .rcpts = &rc, .rcpt_count = 1};
	pthread_join(t, NULL);
	pthread_create(&t, NULL, hold_lock, &h);
	usleep(50 * 1000);
	store_deliver_async(st, &d, async_cb, &a);
	loop_until(base, &a.done, 1);
	CHECK_INT(a.ok, 1);
	pthread_join(t, NULL);
	CHECK_INT(store_mailbox_get(cli, dave, "INBOX", &mb, &err), 1);
	CHECK_INT(mb.messages, 2);
	store_mailbox_clear(&mb);

	/* An open iterator must not get in the way: another connection
	 * commits, then this store writes and reads, and the iteration goes
	 * on from its own snapshot. */
	int64_t dbox = mailbox_id(st, dave, "INBOX");
	struct store_msg_iter *it = store_msg_iter_new(st, dbox, 1, UINT32_MAX, STORE_FIELD_SUMMARY);
	struct store_msg im;
	CHECK_INT(store_msg_iter_next(it, &im), 1);
	CHECK_INT(deliver1(cli, dave, 0, NULL, m.data, 0), 3);
	uint32_t first = 1;
	CHECK_INT(store_msg_set_flags(st, dbox, &first, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL,
				      NULL, &err),
		  1);
	uint32_t *uids;
	size_t nuids;
	CHECK_INT(store_mailbox_uids(st, dbox, &uids, &nuids, &err), 0);
	CHECK_INT(nuids, 3);
	free(uids);
	struct store_msg_iter *it2 = store_msg_iter_new(st, dbox, 1, UINT32_MAX, STORE_FIELD_BASIC);
	struct store_msg im2;
	int n2 = 0;
	while (store_msg_iter_next(it2, &im2) == 1)
		n2++;
	CHECK_INT(store_msg_iter_free(&it2, &err), 0);
	CHECK_INT(n2, 3);
	CHECK_INT(store_msg_iter_next(it, &im), 1);
	CHECK_STR(im.subject, "both");
	CHECK_INT(store_msg_iter_next(it, &im), 0); /* its snapshot: 2 messages */
	CHECK_INT(store_msg_iter_free(&it, &err), 0);

	/* A read-only open sees the same data and refuses writes. */
	struct store_options ro = {.data_dir = dir, .read_only = true};
	struct store *rst = store_open(&ro, &err);
	CHECK(rst != NULL);
	if (rst) {
		CHECK(user_id(rst, "dave@example.test") == dave);
		CHECK_INT(store_domain_add(rst, "ro.test", &err), -1);
		store_close(&rst);
	}
	struct store_options nodir = {.data_dir = "/nonexistent/posthorn"};
	CHECK(store_open(&nodir, &err) == NULL);
	struct store_options nobackend = {.data_dir = dir, .backend = "ldap"};
	CHECK(store_open(&nobackend, &err) == NULL);
	buf_free(&path);
	buf_free(&m);
	store_close(&cli);
	check_integrity(st);
	store_close(&st);
	event_base_free(base);
}

/* ---- kill -9 during async deliveries ---------------------------------------- */

struct crash_child {
	int fd;
	int next;
	int inflight;
	struct store *st;
	int64_t user;
};

struct crash_job {
	struct crash_child *c;
	int id;
	struct buf msg;
	struct store_delivery_rcpt rc;
	struct store_delivery d;
};

static void crash_submit(struct crash_child *c);

static void crash_cb(void *ctx, struct store_delivery *d, int result)
{
	struct crash_job *j = ctx;
	if (result == 0) {
		char line[32];
		int n = snprintf(line, sizeof(line), "%d\n", j->id);
		if (write(j->c->fd, line, (size_t)n) != n)
			_exit(3);
	}
	j->c->inflight--;
	buf_free(&j->msg);
	free(j);
}

static void crash_msg(struct buf *b, int id)
{
	buf_init(b, 1 << 20);
	buf_printf(b, "From: <crash@remote.test>\r\nSubject: crash %d\r\nX-Id: %d\r\n\r\n", id, id);
	for (int k = 0; k < 40; k++)
		buf_printf(b, "line %d of message %d, filler filler filler filler filler filler\r\n", k, id);
}

static void crash_submit(struct crash_child *c)
{
	while (c->inflight < 50) {
		struct crash_job *j = xmalloc(sizeof(*j));
		j->c = c;
		j->id = c->next++;
		crash_msg(&j->msg, j->id);
		j->rc = (struct store_delivery_rcpt){.user_id = c->user};
		j->d = (struct store_delivery){
		    .data = j->msg.data, .len = j->msg.len, .rcpts = &j->rc, .rcpt_count = 1};
		c->inflight++;
		store_deliver_async(c->st, &j->d, crash_cb, j);
	}
}

static void crash_child_run(const char *dir, int fd, int first_id)
{
	struct event_base *base = event_base_new();
	struct crash_child c = {.fd = fd, .next = first_id};
	const char *err;
	c.st = open_at(dir);
	if (store_attach_loop(c.st, base, &err) < 0)
		_exit(2);
	c.user = user_id(c.st, "alice@example.test");
	for (;;) {
		crash_submit(&c);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

TEST(crash)
{
	const char *dir;
	struct store *st = fixture(&dir);
	check_integrity(st);
	store_close(&st);
	int *acked = xcalloc(1000000, sizeof(int));
	int nacked = 0;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int round = 0; round < 6; round++) {
		int p[2];
		if (pipe(p) < 0)
			return;
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			crash_child_run(dir, p[1], (round + 1) * 100000);
		}
		close(p[1]);
		usleep((useconds_t)(100 + rand() % 400) * 1000);
		kill(pid, SIGKILL);
		/* Everything written before the kill is in the pipe. */
		char buf[65536];
		size_t have = 0;
		ssize_t r;
		while ((r = read(p[0], buf + have, sizeof(buf) - 1 - have)) > 0) {
			have += (size_t)r;
			buf[have] = '\0';
			char *nl;
			char *start = buf;
			while ((nl = strchr(start, '\n')) != NULL) {
				*nl = '\0';
				int v = 0;
				for (char *q = start; *q; q++)
					v = v * 10 + (*q - '0');
				if (nacked < 1000000)
					acked[nacked++] = v;
				start = nl + 1;
			}
			have -= (size_t)(start - buf);
			memmove(buf, start, have);
		}
		close(p[0]);
		int status;
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status));
	}
	CHECK(nacked > 0);
	printf("  crash: %d acknowledged deliveries over 6 kills\n", nacked);

	/* Every acknowledged delivery is there, byte-exact. */
	st = open_at(dir);
	const char *err;
	int64_t alice = user_id(st, "alice@example.test");
	int64_t inbox = mailbox_id(st, alice, "INBOX");
	char *present = xcalloc(700000, 1);
	struct store_msg_iter *it = store_msg_iter_new(st, inbox, 1, UINT32_MAX, STORE_FIELD_BASIC);
	struct store_msg m;
	int bad = 0, stored = 0;
	while (store_msg_iter_next(it, &m) == 1) {
		char *data;
		size_t len;
		if (store_msg_read(st, m.id, &data, &len, &err) != 1) {
			bad++;
			continue;
		}
		const char *x = strstr(data, "X-Id: ");
		int id = 0;
		for (x = x ? x + 6 : ""; *x >= '0' && *x <= '9'; x++)
			id = id * 10 + (*x - '0');
		struct buf want;
		crash_msg(&want, id);
		if (id <= 0 || id >= 700000 || len != want.len || memcmp(data, want.data, len) != 0)
			bad++;
		else
			present[id] = 1;
		stored++;
		buf_free(&want);
		free(data);
	}
	CHECK_INT(store_msg_iter_free(&it, &err), 0);
	CHECK_INT(bad, 0);
	int missing = 0;
	for (int i = 0; i < nacked; i++)
		if (acked[i] <= 0 || acked[i] >= 700000 || !present[acked[i]])
			missing++;
	CHECK_INT(missing, 0);
	CHECK(stored >= nacked);
	struct store_mailbox mb;
	CHECK_INT(store_mailbox_get_by_id(st, inbox, &mb, &err), 1);
	CHECK_INT(mb.messages, stored);
	store_mailbox_clear(&mb);
	check_integrity(st);
	store_close(&st);

	struct buf path;
	buf_init(&path, 4096);
	buf_printf(&path, "%s/posthorn.db", dir);
	sqlite3 *db;
	CHECK_INT(sqlite3_open(path.data, &db), SQLITE_OK);
	sqlite3_stmt *q;
	CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_step(q), SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	CHECK_INT(sqlite3_prepare_v2(db, "INSERT INTO fts(fts) VALUES('integrity-check')", -1, &q, NULL),
		  SQLITE_OK);
	CHECK_INT(sqlite3_step(q), SQLITE_DONE);
	sqlite3_finalize(q);
	sqlite3_close(db);
	buf_free(&path);
	free(present);
	free(acked);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(address_canon);
	RUN(accounts);
	RUN(resolve);
	RUN(mailbox_names);
	RUN(mailboxes);
	RUN(deliver_sync);
	RUN(deliver_async);
	RUN(deliver_group);
	RUN(deliver_group_async);
	RUN(watches);
	RUN(flags);
	RUN(uids_by_flag);
	RUN(expunge_changes);
	RUN(copy_move);
	RUN(quota);
	RUN(queue);
	RUN(search);
	RUN(page);
	RUN(integrity);
	RUN(concurrent);
	RUN(crash);
	tmpdirs_remove();
	return test_done();
}
