/* Unit tests of the webmail's store additions (store_sqlite_web.c):
 * settings and correspondents, per user, removed with the user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"

static char dir[64];

static struct store *fixture(int64_t *alice, int64_t *bob)
{
	snprintf(dir, sizeof(dir), "/tmp/posthorn-storeweb-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return NULL;
	const char *err;
	struct store_options o = {.data_dir = dir};
	struct store *st = store_open(&o, &err);
	if (st == NULL || store_domain_add(st, "example.test", &err) < 0 ||
	    store_user_add(st, "alice@example.test", "$y$h", NULL, &err) < 0 ||
	    store_user_add(st, "bob@example.test", "$y$h", NULL, &err) < 0) {
		printf("fixture: %s\n", err);
		return NULL;
	}
	struct store_user u;
	store_user_get(st, "alice@example.test", &u, &err);
	*alice = u.id;
	store_user_clear(&u);
	store_user_get(st, "bob@example.test", &u, &err);
	*bob = u.id;
	store_user_clear(&u);
	return st;
}

static void cleanup(struct store **st)
{
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("cleanup failed\n");
}

TEST(settings)
{
	int64_t a, b;
	struct store *st = fixture(&a, &b);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	const char *err;
	char *v;
	CHECK_INT(store_user_setting_get(st, a, "signature", &v, &err), 0);
	CHECK(v == NULL);
	CHECK_INT(store_user_setting_set(st, a, "signature", "-- \nAlice", &err), 0);
	CHECK_INT(store_user_setting_get(st, a, "signature", &v, &err), 1);
	CHECK_STR(v, "-- \nAlice");
	free(v);
	CHECK_INT(store_user_setting_set(st, a, "signature", "", &err), 0);
	CHECK_INT(store_user_setting_get(st, a, "signature", &v, &err), 1);
	CHECK_STR(v, "");
	free(v);
	/* Per user. */
	CHECK_INT(store_user_setting_get(st, b, "signature", &v, &err), 0);
	/* Bad input. */
	CHECK_INT(store_user_setting_set(st, a, "", "x", &err), -1);
	CHECK_INT(store_user_setting_set(st, a, "k", "\xff", &err), -1);
	CHECK_INT(store_user_setting_get(st, a, NULL, &v, &err), -1);
	/* Removing. */
	CHECK_INT(store_user_setting_set(st, a, "signature", NULL, &err), 0);
	CHECK_INT(store_user_setting_get(st, a, "signature", &v, &err), 0);
	cleanup(&st);
}

TEST(contacts)
{
	int64_t a, b;
	struct store *st = fixture(&a, &b);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	const char *err;
	CHECK_INT(store_contact_note(st, a, "Carol@Example.ORG", "Carol Jones", &err), 0);
	CHECK_INT(store_contact_note(st, a, "carol@example.org", "", &err), 0); /* name kept */
	CHECK_INT(store_contact_note(st, a, "dave@example.net", "Dave", &err), 0);
	CHECK_INT(store_contact_note(st, a, "percent_x@example.net", NULL, &err), 0);
	CHECK_INT(store_contact_note(st, b, "carl@example.org", "Carl", &err), 0);
	CHECK_INT(store_contact_note(st, a, "no-at-sign", NULL, &err), -1);
	struct {
		const char *prefix;
		const char *want; /* addresses, space-separated, in order */
	} cases[] = {
	    {"car", "carol@example.org"},
	    {"CAR", "carol@example.org"},
	    {"jon", "carol@example.org"},
	    {"d", "dave@example.net"},
	    {"", "carol@example.org dave@example.net percent_x@example.net"},
	    {"percent_", "percent_x@example.net"},
	    {"percent%", ""},
	    {"_", ""},
	    {"zzz", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_contact *c;
		size_t n;
		test_current = cases[i].prefix;
		CHECK_INT(store_contact_search(st, a, cases[i].prefix, 10, &c, &n, &err), 0);
		char got[256] = "";
		for (size_t k = 0; k < n; k++) {
			size_t l = strlen(got);
			snprintf(got + l, sizeof(got) - l, "%s%s", k ? " " : "", c[k].address);
		}
		CHECK_STR(got, cases[i].want);
		if (n > 0 && strcmp(c[0].address, "carol@example.org") == 0) {
			CHECK_STR(c[0].name, "Carol Jones");
			CHECK_INT(c[0].uses, 2);
		}
		store_contact_list_free(&c, n);
	}
	struct store_contact *c;
	size_t n;
	CHECK_INT(store_contact_search(st, a, "", 1, &c, &n, &err), 0);
	CHECK_INT(n, 1);
	store_contact_list_free(&c, n);
	/* Removing a user removes their contacts and settings. */
	CHECK_INT(store_user_setting_set(st, b, "signature", "b", &err), 0);
	CHECK_INT(store_user_remove(st, "bob@example.test", &err), 0);
	CHECK_INT(store_user_add(st, "bob@example.test", "$y$h", NULL, &err), 0);
	struct store_user u;
	store_user_get(st, "bob@example.test", &u, &err);
	CHECK_INT(store_contact_search(st, u.id, "", 10, &c, &n, &err), 0);
	CHECK_INT(n, 0);
	char *v;
	CHECK_INT(store_user_setting_get(st, u.id, "signature", &v, &err), 0);
	store_user_clear(&u);
	cleanup(&st);
}

int main(void)
{
	RUN(settings);
	RUN(contacts);
	return test_done();
}
