/* Unit tests of web_session: tokens, lookup, idle and lifetime expiry,
 * room making, per-user destruction, CSRF checks, uploads. */
#include <stdlib.h>
#include <string.h>

#include "http/web_session.h"
#include "test.h"

TEST(tokens)
{
	char a[WEB_SESSION_ID_LEN + 1], b[WEB_SESSION_ID_LEN + 1];
	web_random_token(a);
	web_random_token(b);
	CHECK_INT(strlen(a), WEB_SESSION_ID_LEN);
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		  WEB_SESSION_ID_LEN);
}

TEST(lifecycle)
{
	struct web_sessions *ws = web_sessions_new(60, 600, 100, 10);
	struct web_session *s = web_session_create(ws, 7, "alice@example.test", 1000);
	CHECK_STR(s->address, "alice@example.test");
	CHECK(web_session_find(ws, s->id, strlen(s->id), 1000, true) == s);
	/* Wrong length, one character changed: not found. */
	CHECK(web_session_find(ws, s->id, 10, 1000, true) == NULL);
	char other[WEB_SESSION_ID_LEN + 1];
	memcpy(other, s->id, sizeof(other));
	other[5] = other[5] == 'A' ? 'B' : 'A';
	CHECK(web_session_find(ws, other, WEB_SESSION_ID_LEN, 1000, true) == NULL);
	/* Idle: touched at 1050, alive at 1109, gone at 1110. */
	CHECK(web_session_find(ws, s->id, WEB_SESSION_ID_LEN, 1050, true) == s);
	CHECK(web_session_find(ws, s->id, WEB_SESSION_ID_LEN, 1109, false) == s);
	uint64_t serial = s->serial;
	CHECK(web_session_by_serial(ws, serial, 1109) == s);
	CHECK(web_session_by_serial(ws, serial, 1110) == NULL);
	char id[WEB_SESSION_ID_LEN + 1];
	memcpy(id, s->id, sizeof(id));
	CHECK(web_session_find(ws, id, WEB_SESSION_ID_LEN, 1110, true) == NULL);
	CHECK_INT(web_session_count(ws), 0);
	/* Lifetime, however active. */
	s = web_session_create(ws, 7, "alice@example.test", 2000);
	memcpy(id, s->id, sizeof(id));
	for (time_t t = 2000; t < 2600; t += 30)
		CHECK(web_session_find(ws, id, WEB_SESSION_ID_LEN, t, true) != NULL);
	CHECK(web_session_find(ws, id, WEB_SESSION_ID_LEN, 2600, true) == NULL);
	web_sessions_free(&ws);
	CHECK(ws == NULL);
}

TEST(room_and_users)
{
	struct web_sessions *ws = web_sessions_new(3600, 86400, 5, 3);
	struct web_session *a[4];
	for (int i = 0; i < 4; i++)
		a[i] = web_session_create(ws, 1, "a@x", 100 + i);
	/* Per-user cap 3: the least recently used went. */
	CHECK_INT(web_session_count(ws), 3);
	char id3[WEB_SESSION_ID_LEN + 1];
	memcpy(id3, a[3]->id, sizeof(id3));
	struct web_session *b1 = web_session_create(ws, 2, "b@x", 200);
	struct web_session *b2 = web_session_create(ws, 2, "b@x", 201);
	CHECK_INT(web_session_count(ws), 5);
	web_session_create(ws, 3, "c@x", 202); /* table full: oldest overall goes */
	CHECK_INT(web_session_count(ws), 5);
	CHECK(web_session_find(ws, id3, WEB_SESSION_ID_LEN, 203, false) != NULL);
	CHECK_INT(web_session_destroy_user(ws, 2, b2), 1);
	CHECK(web_session_find(ws, b2->id, WEB_SESSION_ID_LEN, 203, false) == b2);
	(void)b1;
	CHECK_INT(web_session_destroy_user(ws, 1, NULL), 2);
	CHECK_INT(web_session_count(ws), 2);
	web_sessions_free(&ws);
}

TEST(csrf)
{
	struct web_sessions *ws = web_sessions_new(60, 600, 10, 10);
	struct web_session *s = web_session_create(ws, 1, "a@x", 1);
	CHECK(web_session_csrf_ok(s, s->csrf));
	CHECK(!web_session_csrf_ok(s, s->id));
	CHECK(!web_session_csrf_ok(s, NULL));
	CHECK(!web_session_csrf_ok(s, ""));
	char t[WEB_SESSION_ID_LEN + 2];
	memcpy(t, s->csrf, WEB_SESSION_ID_LEN);
	t[WEB_SESSION_ID_LEN] = 'x';
	t[WEB_SESSION_ID_LEN + 1] = '\0';
	CHECK(!web_session_csrf_ok(s, t));
	web_sessions_free(&ws);
}

TEST(uploads)
{
	struct web_sessions *ws = web_sessions_new(60, 600, 10, 10);
	struct web_session *s = web_session_create(ws, 1, "a@x", 1);
	const char *err;
	struct web_upload *u1 = web_upload_add(s, "a.txt", "text/plain", strdup("hello"), 5, 10, &err);
	CHECK(u1 != NULL);
	CHECK(web_upload_add(s, "b.bin", "application/octet-stream", strdup("123456"), 6, 10, &err) == NULL);
	struct web_upload *u2 =
	    web_upload_add(s, "c.bin", "application/octet-stream", strdup("12345"), 5, 10, &err);
	CHECK(u2 != NULL && u2->id != u1->id);
	CHECK_INT(s->upload_bytes, 10);
	CHECK(web_upload_find(s, u1->id) == u1);
	uint32_t id1 = u1->id;
	CHECK(web_upload_remove(s, id1));
	CHECK(!web_upload_remove(s, id1));
	CHECK(web_upload_find(s, id1) == NULL);
	CHECK_INT(s->upload_bytes, 5);
	web_sessions_free(&ws); /* frees the remaining upload */
}

int main(void)
{
	RUN(tokens);
	RUN(lifecycle);
	RUN(room_and_users);
	RUN(csrf);
	RUN(uploads);
	return test_done();
}
