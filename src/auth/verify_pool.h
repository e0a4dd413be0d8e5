/* verify_pool: password verification off the event loop, with a cache.
 *
 * yescrypt costs tens of milliseconds on purpose; the event loop must never
 * wait for it. A small pool of worker threads runs hash_password_verify()
 * and posts each result back to the event_base through a pipe watched by
 * an event (libevent's thread support is not needed: only the loop thread
 * touches libevent).
 *
 * Callbacks are ALWAYS asynchronous: verify_pool_submit() never calls the
 * callback itself; it runs later from the event loop, on the loop thread,
 * even for a cache hit (which skips the threads but still goes through the
 * loop). So an engine may submit from anywhere in its command handler.
 *
 * Cache of successes. After a successful verification, the pair
 * (password, stored hash) is remembered for cache_ttl_ms as
 * HMAC-SHA-256(k, len(password) || password || hash), with a random key k
 * made per process and never stored anywhere. A client that logs in 20
 * times a minute (IMAP clients open many connections) costs one yescrypt,
 * not twenty. The cache holds neither passwords nor anything that can be
 * attacked offline without k; the stored hash is part of the MAC, so a
 * password change (new hash, new salt) invalidates old entries by itself.
 * Failures are never cached (throttle.h deals with guessing). Concurrent
 * verifications of the same pair are coalesced: the second waits for the
 * first one's result instead of hashing again.
 *
 * Threading contract: every function here is called from the loop thread
 * that owns base. */
#ifndef POSTHORN_AUTH_VERIFY_POOL_H
#define POSTHORN_AUTH_VERIFY_POOL_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct verify_pool;
struct verify_job;

struct verify_pool_settings {
	unsigned threads;      /* worker threads; 0 = number of online CPUs */
	size_t max_pending;    /* queued + running verifications; default 1024 */
	size_t cache_entries;  /* 0 = default 4096; rounded up to a multiple of 4 */
	uint64_t cache_ttl_ms; /* default 10 min */
	int cache_disabled;    /* non-zero: never cache */
	/* Monotonic milliseconds, for tests; NULL = CLOCK_MONOTONIC. */
	uint64_t (*clock_ms)(void);
};

/* Called on the loop thread with result 1 (password matches), 0 (it does
 * not), or -1 (the stored hash is unsupported or malformed; error says why,
 * a static string safe to log). After the callback returns, the job handle
 * is dead: do not cancel it. */
typedef void verify_pool_callback_t(int result, const char *error, void *context);

/* Starts the workers. set NULL means all defaults. Returns NULL with
 * *error_r when threads, the pipe or the event cannot be created. */
struct verify_pool *verify_pool_new(struct event_base *base, const struct verify_pool_settings *set,
				    const char **error_r);

/* Stops and joins the workers (a running verification finishes first),
 * drops pending jobs WITHOUT calling their callbacks, wipes everything and
 * sets *p to NULL. Engines cancel their jobs before; never call this from
 * a verify callback. */
void verify_pool_free(struct verify_pool **p);

/* Queues a check of password against hash; both are copied (and the copy
 * of the password wiped once hashed). hash NULL means "no such user": a
 * dummy hash is computed anyway, so that unknown users cost as much time
 * as known ones, and the result is 0. Returns the job handle, or NULL with
 * *error_r when max_pending jobs are already waiting (reply with a
 * temporary failure: SMTP 454 4.7.0, IMAP NO [UNAVAILABLE], POP3 -ERR
 * [SYS/TEMP]). The callback runs exactly once, later, unless the job is
 * cancelled first. */
struct verify_job *verify_pool_submit(struct verify_pool *p, const char *password, const char *hash,
				      verify_pool_callback_t *cb, void *context, const char **error_r);

/* Cancels a job whose callback has not run yet (e.g. its session is
 * closing): the callback will never be called. Sets *job to NULL; NULL is
 * fine. The hashing itself may still run to completion in a worker. */
void verify_pool_cancel(struct verify_pool *p, struct verify_job **job);

/* Counters for tests and statistics. */
struct verify_pool_stats {
	uint64_t hashed;     /* verifications computed by the workers */
	uint64_t cache_hits; /* jobs answered from the cache */
	uint64_t coalesced;  /* jobs that waited for an identical one */
	uint64_t completed;  /* callbacks called */
	size_t pending;	     /* jobs not yet delivered */
};
void verify_pool_get_stats(struct verify_pool *p, struct verify_pool_stats *st);

#endif
