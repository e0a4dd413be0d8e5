/* Asynchronous password verification (see verify_pool.h).
 *
 * Two kinds of objects. A "work" is one hashing task: a copy of the password
 * and the stored hash, handed to a worker thread. A "job" is one caller's
 * request; several jobs can hang on one work (identical requests in
 * flight are coalesced) and a job answered from the cache has no work.
 *
 * Threads: workers only touch the todo and done queues, under mu, and the
 * work they took. Everything else (jobs, the in-flight list, the cache,
 * libevent) belongs to the loop thread. A worker that finishes pushes its
 * work on the done queue and, if no wake-up is pending yet, writes one byte
 * to a pipe; the loop's read event drains the pipe, takes the whole done
 * queue, and calls the callbacks. Cache hits go on a loop-only ready list
 * and are delivered by activating the same event, so callbacks are always
 * asynchronous and always on the loop thread. */
#include "auth/verify_pool.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <crypt.h>

#include "auth/hash.h"
#include "util/log.h"
#include "util/mem.h"

#define MAC_LEN 32
#define CACHE_WAYS 4
#define THREADS_MAX 64

struct verify_job;

struct work {
	uint8_t mac[MAC_LEN];
	bool cacheable; /* false for "no such user" */
	char *password;
	size_t password_len;
	char *hash; /* NULL: use the pool's dummy hash */
	int result;
	const char *error;
	struct work *qnext;			    /* todo or done queue (under mu) */
	struct work *inflight_prev, *inflight_next; /* loop thread */
	struct verify_job *jobs;		    /* loop thread */
};

struct verify_job {
	verify_pool_callback_t *cb;
	void *context;
	bool cancelled;
	struct verify_job *next; /* in work->jobs or the ready list */
};

struct cache_entry {
	uint8_t mac[MAC_LEN];
	uint64_t expires; /* 0 = empty */
};

struct verify_pool {
	struct verify_pool_settings set;
	struct event_base *base;
	struct event *ev;
	int pipe_r, pipe_w;
	pthread_t *threads;
	unsigned nthreads;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct work *todo_head, *todo_tail; /* mu */
	struct work *done_head, *done_tail; /* mu */
	bool notified;			    /* mu: a wake-up byte is on its way */
	bool stopping;			    /* mu */
	uint64_t hashed;		    /* mu */

	/* Loop thread only. */
	struct work *inflight;
	struct verify_job *ready_head, *ready_tail;
	size_t pending;
	uint64_t cache_hits, coalesced, completed;
	struct cache_entry *cache;
	size_t cache_sets;
	uint8_t key[32];
	char dummy_hash[HASH_STRING_MAX + 1];
};

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ms(const struct verify_pool *p)
{
	return p->set.clock_ms ? p->set.clock_ms() : monotonic_ms();
}

/* ---- Cache -------------------------------------------------------------- */

static void compute_mac(const struct verify_pool *p, const char *password, const char *hash,
			uint8_t mac[MAC_LEN])
{
	size_t pw_len = strlen(password), h_len = strlen(hash);
	uint8_t len_be[4] = {(uint8_t)(pw_len >> 24), (uint8_t)(pw_len >> 16), (uint8_t)(pw_len >> 8),
			     (uint8_t)pw_len};
	unsigned int out_len = MAC_LEN;
	/* HMAC over len(password) || password || hash, so the split is unambiguous. */
	size_t total = sizeof(len_be) + pw_len + h_len;
	uint8_t *msg = xmalloc(total);
	memcpy(msg, len_be, sizeof(len_be));
	memcpy(msg + sizeof(len_be), password, pw_len);
	memcpy(msg + sizeof(len_be) + pw_len, hash, h_len);
	if (HMAC(EVP_sha256(), p->key, sizeof(p->key), msg, total, mac, &out_len) == NULL ||
	    out_len != MAC_LEN)
		fatalx("verify_pool: HMAC-SHA-256 failed");
	explicit_bzero(msg, total);
	free(msg);
}

static struct cache_entry *cache_set(struct verify_pool *p, const uint8_t mac[MAC_LEN])
{
	uint64_t idx = 0;
	for (int i = 0; i < 8; i++)
		idx = (idx << 8) | mac[i];
	return &p->cache[(idx % p->cache_sets) * CACHE_WAYS];
}

static bool cache_lookup(struct verify_pool *p, const uint8_t mac[MAC_LEN], uint64_t now)
{
	if (p->cache == NULL)
		return false;
	struct cache_entry *set = cache_set(p, mac);
	for (int i = 0; i < CACHE_WAYS; i++) {
		if (set[i].expires > now && CRYPTO_memcmp(set[i].mac, mac, MAC_LEN) == 0)
			return true;
	}
	return false;
}

static void cache_insert(struct verify_pool *p, const uint8_t mac[MAC_LEN], uint64_t now)
{
	if (p->cache == NULL)
		return;
	struct cache_entry *set = cache_set(p, mac), *victim = &set[0];
	for (int i = 0; i < CACHE_WAYS; i++) {
		if (set[i].expires > now && CRYPTO_memcmp(set[i].mac, mac, MAC_LEN) == 0) {
			victim = &set[i]; /* refresh */
			break;
		}
		/* Otherwise the entry closest to expiry (empty and expired ones first). */
		if (set[i].expires < victim->expires)
			victim = &set[i];
	}
	memcpy(victim->mac, mac, MAC_LEN);
	victim->expires = now + p->set.cache_ttl_ms;
}

/* ---- Works and jobs ----------------------------------------------------- */

static void work_free(struct work *w)
{
	if (w->password != NULL) {
		explicit_bzero(w->password, w->password_len);
		free(w->password);
	}
	free(w->hash);
	explicit_bzero(w, sizeof(*w));
	free(w);
}

static void inflight_remove(struct verify_pool *p, struct work *w)
{
	if (w->inflight_prev)
		w->inflight_prev->inflight_next = w->inflight_next;
	else
		p->inflight = w->inflight_next;
	if (w->inflight_next)
		w->inflight_next->inflight_prev = w->inflight_prev;
	w->inflight_prev = w->inflight_next = NULL;
}

/* Calls the callback of every job in the list (unless cancelled) and frees
 * them. A callback may submit or cancel other jobs: each job's cancelled
 * flag is read just before its turn. */
static void deliver_jobs(struct verify_pool *p, struct verify_job *list, int result, const char *error)
{
	while (list != NULL) {
		struct verify_job *j = list;
		list = j->next;
		p->pending--;
		if (!j->cancelled) {
			p->completed++;
			j->cb(result, error, j->context);
		}
		free(j);
	}
}

/* ---- Worker threads ----------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct verify_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && p->todo_head == NULL)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->stopping)
			break;
		struct work *w = p->todo_head;
		p->todo_head = w->qnext;
		if (p->todo_head == NULL)
			p->todo_tail = NULL;
		w->qnext = NULL;
		pthread_mutex_unlock(&p->mu);

		const char *err = NULL;
		int r = hash_password_verify(w->password, w->hash ? w->hash : p->dummy_hash, &err);
		if (w->hash == NULL) {
			r = 0; /* unknown user: the time is spent, the answer is no */
			err = NULL;
		}
		w->result = r;
		w->error = r < 0 ? err : NULL;
		explicit_bzero(w->password, w->password_len);

		pthread_mutex_lock(&p->mu);
		p->hashed++;
		if (p->done_tail)
			p->done_tail->qnext = w;
		else
			p->done_head = w;
		p->done_tail = w;
		bool wake = !p->notified;
		p->notified = true;
		if (wake) {
			/* Written under mu so that free() cannot close the pipe under us. */
			char c = 1;
			ssize_t n;
			do
				n = write(p->pipe_w, &c, 1);
			while (n < 0 && errno == EINTR);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- Loop side ---------------------------------------------------------- */

static void on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	struct verify_pool *p = arg;
	char drain[64];
	/* Drain first, then take the queue: a byte written after this read is
	 * for work pushed after we took the queue, never lost. */
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->mu);
	struct work *done = p->done_head;
	p->done_head = p->done_tail = NULL;
	p->notified = false;
	pthread_mutex_unlock(&p->mu);

	uint64_t now = now_ms(p);
	while (done != NULL) {
		struct work *w = done;
		done = w->qnext;
		inflight_remove(p, w);
		if (w->result == 1 && w->cacheable)
			cache_insert(p, w->mac, now);
		struct verify_job *jobs = w->jobs;
		w->jobs = NULL;
		deliver_jobs(p, jobs, w->result, w->error);
		work_free(w);
	}

	struct verify_job *ready = p->ready_head;
	p->ready_head = p->ready_tail = NULL;
	deliver_jobs(p, ready, 1, NULL);
}

static void make_dummy_hash(struct verify_pool *p)
{
	static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	uint8_t rnd[43];
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)) == NULL ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1)
		fatalx("verify_pool: no randomness for the dummy hash");
	char digest[44];
	for (size_t i = 0; i < sizeof(rnd); i++)
		digest[i] = itoa64[rnd[i] & 63];
	digest[43] = '\0';
	int n = snprintf(p->dummy_hash, sizeof(p->dummy_hash), "%s$%s", setting, digest);
	if (n < 0 || (size_t)n >= sizeof(p->dummy_hash) || !hash_password_is_supported(p->dummy_hash))
		fatalx("verify_pool: cannot build the dummy hash");
}

static void stop_threads(struct verify_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
}

struct verify_pool *verify_pool_new(struct event_base *base, const struct verify_pool_settings *set,
				    const char **error_r)
{
	struct verify_pool *p = xmalloc(sizeof(*p));
	if (set != NULL)
		p->set = *set;
	if (p->set.threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		p->set.threads = n > 0 ? (unsigned)n : 1;
	}
	if (p->set.threads > THREADS_MAX)
		p->set.threads = THREADS_MAX;
	if (p->set.max_pending == 0)
		p->set.max_pending = 1024;
	if (p->set.cache_entries == 0)
		p->set.cache_entries = 4096;
	if (p->set.cache_ttl_ms == 0)
		p->set.cache_ttl_ms = 10 * 60 * 1000;
	p->base = base;
	p->pipe_r = p->pipe_w = -1;
	if (!p->set.cache_disabled) {
		p->cache_sets = (p->set.cache_entries + CACHE_WAYS - 1) / CACHE_WAYS;
		p->cache = xcalloc(p->cache_sets * CACHE_WAYS, sizeof(*p->cache));
	}
	if (RAND_bytes(p->key, sizeof(p->key)) != 1) {
		*error_r = "no randomness for the cache key";
		goto fail;
	}
	make_dummy_hash(p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);

	int fds[2];
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		*error_r = "pipe2 failed";
		goto fail_sync;
	}
	p->pipe_r = fds[0];
	p->pipe_w = fds[1];
	p->ev = event_new(base, p->pipe_r, EV_READ | EV_PERSIST, on_wakeup, p);
	if (p->ev == NULL || event_add(p->ev, NULL) < 0) {
		*error_r = "cannot add the wake-up event";
		goto fail_sync;
	}

	/* Workers get no signals: the loop thread handles them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	p->threads = xcalloc(p->set.threads, sizeof(*p->threads));
	for (unsigned i = 0; i < p->set.threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			*error_r = "cannot create verification threads";
			goto fail_threads;
		}
		p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;

fail_threads:
	stop_threads(p);
	free(p->threads);
fail_sync:
	if (p->ev)
		event_free(p->ev);
	if (p->pipe_r >= 0)
		close(p->pipe_r);
	if (p->pipe_w >= 0)
		close(p->pipe_w);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
fail:
	free(p->cache);
	explicit_bzero(p, sizeof(*p));
	free(p);
	return NULL;
}

void verify_pool_free(struct verify_pool **pp)
{
	struct verify_pool *p = *pp;
	if (p == NULL)
		return;
	stop_threads(p);
	free(p->threads);
	/* Every work not yet delivered is on the in-flight list (queued,
	 * running or done): drop it with its jobs, without callbacks. */
	while (p->inflight != NULL) {
		struct work *w = p->inflight;
		inflight_remove(p, w);
		while (w->jobs != NULL) {
			struct verify_job *j = w->jobs;
			w->jobs = j->next;
			free(j);
		}
		work_free(w);
	}
	while (p->ready_head != NULL) {
		struct verify_job *j = p->ready_head;
		p->ready_head = j->next;
		free(j);
	}
	event_free(p->ev);
	close(p->pipe_r);
	close(p->pipe_w);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	if (p->cache != NULL) {
		explicit_bzero(p->cache, p->cache_sets * CACHE_WAYS * sizeof(*p->cache));
		free(p->cache);
	}
	explicit_bzero(p, sizeof(*p));
	free(p);
	*pp = NULL;
}

struct verify_job *verify_pool_submit(struct verify_pool *p, const char *password, const char *hash,
				      verify_pool_callback_t *cb, void *context, const char **error_r)
{
	if (p->pending >= p->set.max_pending) {
		*error_r = "too many password verifications pending";
		return NULL;
	}
	struct verify_job *j = xmalloc(sizeof(*j));
	j->cb = cb;
	j->context = context;
	p->pending++;

	uint8_t mac[MAC_LEN];
	bool cacheable = hash != NULL && !p->set.cache_disabled;
	if (cacheable) {
		compute_mac(p, password, hash, mac);
		if (cache_lookup(p, mac, now_ms(p))) {
			p->cache_hits++;
			if (p->ready_tail)
				p->ready_tail->next = j;
			else
				p->ready_head = j;
			p->ready_tail = j;
			event_active(p->ev, EV_READ, 0);
			explicit_bzero(mac, sizeof(mac));
			return j;
		}
		for (struct work *w = p->inflight; w != NULL; w = w->inflight_next) {
			if (w->cacheable && CRYPTO_memcmp(w->mac, mac, MAC_LEN) == 0) {
				p->coalesced++;
				j->next = w->jobs;
				w->jobs = j;
				explicit_bzero(mac, sizeof(mac));
				return j;
			}
		}
	}

	struct work *w = xmalloc(sizeof(*w));
	if (cacheable)
		memcpy(w->mac, mac, MAC_LEN);
	explicit_bzero(mac, sizeof(mac));
	w->cacheable = cacheable;
	w->password_len = strlen(password);
	w->password = xstrndup(password, w->password_len);
	w->hash = hash ? xstrdup(hash) : NULL;
	w->jobs = j;
	w->inflight_next = p->inflight;
	if (p->inflight)
		p->inflight->inflight_prev = w;
	p->inflight = w;

	pthread_mutex_lock(&p->mu);
	if (p->todo_tail)
		p->todo_tail->qnext = w;
	else
		p->todo_head = w;
	p->todo_tail = w;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return j;
}

void verify_pool_cancel(struct verify_pool *p, struct verify_job **job)
{
	if (*job != NULL)
		(*job)->cancelled = true;
	*job = NULL;
}

void verify_pool_get_stats(struct verify_pool *p, struct verify_pool_stats *st)
{
	pthread_mutex_lock(&p->mu);
	st->hashed = p->hashed;
	pthread_mutex_unlock(&p->mu);
	st->cache_hits = p->cache_hits;
	st->coalesced = p->coalesced;
	st->completed = p->completed;
	st->pending = p->pending;
}
