/* Login-failure throttling per client address (see throttle.h).
 *
 * A chained hash table indexed by SipHash-2-4 of the address key (with a
 * random key per table, so nobody outside can aim at one bucket), plus a
 * doubly linked LRU list ordered by last failure. The table never holds more
 * than max_entries addresses: inserting into a full table evicts the least
 * recently failed one. Each call also drops a few expired entries from the
 * cold end of the list, so the table shrinks back when attacks stop. */
#include "auth/throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/log.h"
#include "util/mem.h"

#define KEY_LEN 16	 /* family tag, then the (truncated) address, zero-padded */
#define SWEEP_PER_CALL 4 /* expired entries dropped per call, at most */

struct entry {
	uint8_t key[KEY_LEN];
	uint32_t failures;	     /* in the current window */
	uint64_t window_start;	     /* time of the window's first failure */
	uint64_t blocked_until;	     /* 0 = not blocked */
	struct entry *hnext;	     /* bucket chain */
	struct entry *newer, *older; /* LRU list */
};

struct throttle {
	struct throttle_settings set;
	pthread_mutex_t mu;
	struct entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	struct entry *newest, *oldest;
	uint64_t k0, k1; /* SipHash key */
};

void throttle_settings_default(struct throttle_settings *set)
{
	set->max_failures = 10;
	set->window_ms = 10 * 60 * 1000;
	set->block_ms = 10 * 60 * 1000;
	set->delay_first_ms = 500;
	set->delay_max_ms = 8000;
	set->max_entries = 65536;
}

uint64_t throttle_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- SipHash-2-4 (Aumasson & Bernstein) on a 16-byte input -------------- */

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3)                                                                             \
	do {                                                                                                 \
		v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);                                    \
		v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                                                       \
		v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                                                       \
		v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);                                    \
	} while (0)

static uint64_t siphash16(uint64_t k0, uint64_t k1, const uint8_t in[KEY_LEN])
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	for (int i = 0; i < KEY_LEN; i += 8) {
		uint64_t m = load_le64(in + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* Final block: no tail bytes, the length (16) in the top byte. */
	uint64_t b = (uint64_t)KEY_LEN << 56;
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- Keys --------------------------------------------------------------- */

/* Fills key for sa; returns false for families we do not throttle. */
static bool make_key(const struct sockaddr *sa, uint8_t key[KEY_LEN])
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	memset(key, 0, KEY_LEN);
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *a = sin6->sin6_addr.s6_addr;
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a, 8); /* the /64 prefix */
		}
		return true;
	}
	return false;
}

/* ---- Table -------------------------------------------------------------- */

struct throttle *throttle_new(const struct throttle_settings *set)
{
	struct throttle *t = xmalloc(sizeof(*t));
	if (set != NULL)
		t->set = *set;
	else
		throttle_settings_default(&t->set);
	if (t->set.max_entries == 0)
		t->set.max_entries = 1;
	t->nbuckets = 16;
	while (t->nbuckets < t->set.max_entries && t->nbuckets < ((size_t)1 << 24))
		t->nbuckets *= 2;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	uint64_t k[2];
	if (RAND_bytes((unsigned char *)k, sizeof(k)) != 1)
		fatalx("throttle: no randomness for the hash key");
	t->k0 = k[0];
	t->k1 = k[1];
	if (pthread_mutex_init(&t->mu, NULL) != 0)
		fatalx("throttle: pthread_mutex_init failed");
	return t;
}

void throttle_free(struct throttle **tp)
{
	struct throttle *t = *tp;
	if (t == NULL)
		return;
	struct entry *e = t->newest;
	while (e != NULL) {
		struct entry *next = e->older;
		free(e);
		e = next;
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->mu);
	free(t);
	*tp = NULL;
}

static struct entry **bucket_of(struct throttle *t, const uint8_t key[KEY_LEN])
{
	return &t->buckets[siphash16(t->k0, t->k1, key) & (t->nbuckets - 1)];
}

static struct entry *lookup(struct throttle *t, const uint8_t key[KEY_LEN])
{
	for (struct entry *e = *bucket_of(t, key); e != NULL; e = e->hnext) {
		if (memcmp(e->key, key, KEY_LEN) == 0)
			return e;
	}
	return NULL;
}

static void lru_unlink(struct throttle *t, struct entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push_newest(struct throttle *t, struct entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest)
		t->newest->newer = e;
	t->newest = e;
	if (t->oldest == NULL)
		t->oldest = e;
}

static void remove_entry(struct throttle *t, struct entry *e)
{
	struct entry **pp = bucket_of(t, e->key);
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(t, e);
	t->count--;
	free(e);
}

/* True when e carries no information any more at time now. */
static bool expired(const struct throttle *t, const struct entry *e, uint64_t now)
{
	if (e->blocked_until != 0)
		return now >= e->blocked_until;
	return now - e->window_start >= t->set.window_ms;
}

static void sweep(struct throttle *t, uint64_t now)
{
	for (int i = 0; i < SWEEP_PER_CALL && t->oldest != NULL; i++) {
		if (!expired(t, t->oldest, now))
			break;
		remove_entry(t, t->oldest);
	}
}

static uint64_t delay_for(const struct throttle_settings *set, uint32_t failures)
{
	uint64_t d = set->delay_first_ms;
	for (uint32_t i = 1; i < failures && d < set->delay_max_ms; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	return d < set->delay_max_ms ? d : set->delay_max_ms;
}

int throttle_check(struct throttle *t, const struct sockaddr *sa, uint64_t now_ms, uint64_t *retry_after_ms_r)
{
	uint8_t key[KEY_LEN];
	if (!make_key(sa, key))
		return 0;
	int ret = 0;
	pthread_mutex_lock(&t->mu);
	sweep(t, now_ms);
	struct entry *e = lookup(t, key);
	if (e != NULL && expired(t, e, now_ms)) {
		remove_entry(t, e);
	} else if (e != NULL && e->blocked_until != 0) {
		if (retry_after_ms_r != NULL)
			*retry_after_ms_r = e->blocked_until - now_ms;
		ret = -1;
	}
	pthread_mutex_unlock(&t->mu);
	return ret;
}

uint64_t throttle_failure(struct throttle *t, const struct sockaddr *sa, uint64_t now_ms)
{
	uint8_t key[KEY_LEN];
	if (!make_key(sa, key))
		return 0;
	pthread_mutex_lock(&t->mu);
	sweep(t, now_ms);
	struct entry *e = lookup(t, key);
	if (e != NULL && expired(t, e, now_ms)) {
		remove_entry(t, e);
		e = NULL;
	}
	if (e == NULL) {
		if (t->count >= t->set.max_entries)
			remove_entry(t, t->oldest);
		e = xmalloc(sizeof(*e));
		memcpy(e->key, key, KEY_LEN);
		e->window_start = now_ms;
		struct entry **b = bucket_of(t, key);
		e->hnext = *b;
		*b = e;
		t->count++;
	} else {
		lru_unlink(t, e);
	}
	lru_push_newest(t, e);
	if (e->failures < UINT32_MAX)
		e->failures++;
	if (t->set.max_failures != 0 && e->failures >= t->set.max_failures && e->blocked_until == 0)
		e->blocked_until = now_ms + t->set.block_ms;
	uint64_t delay = delay_for(&t->set, e->failures);
	pthread_mutex_unlock(&t->mu);
	return delay;
}

void throttle_success(struct throttle *t, const struct sockaddr *sa)
{
	uint8_t key[KEY_LEN];
	if (!make_key(sa, key))
		return;
	pthread_mutex_lock(&t->mu);
	struct entry *e = lookup(t, key);
	if (e != NULL)
		remove_entry(t, e);
	pthread_mutex_unlock(&t->mu);
}

size_t throttle_count(struct throttle *t)
{
	pthread_mutex_lock(&t->mu);
	size_t n = t->count;
	pthread_mutex_unlock(&t->mu);
	return n;
}
