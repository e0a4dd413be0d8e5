/* throttle: login-failure tracking per client address, shared by every
 * protocol of the daemon (SMTP AUTH, IMAP, POP3, webmail).
 *
 * Per address (IPv4 /32; IPv6 grouped by /64, since one host usually owns
 * a whole /64; IPv4-mapped IPv6 counts as IPv4):
 *   - after each failure the failure reply is delayed: delay_first_ms, then
 *     doubling for each further failure in the window, capped at
 *     delay_max_ms (defaults 0.5 s, 1, 2, 4, 8, 8, ... s);
 *   - max_failures failures within window_ms (counted from the first
 *     failure of the window) block the address for block_ms: while blocked,
 *     throttle_check() refuses, and the engine fails the login without
 *     looking at the credentials;
 *   - a success forgets the address.
 * Other address families (AF_UNIX) are never throttled.
 *
 * The table holds at most max_entries addresses; when full, the least
 * recently failed address is forgotten (so an attacker with many addresses
 * can only push out old entries, never grow memory), and expired entries
 * are dropped as calls come in. The hash is keyed with a random secret, so
 * bucket collisions cannot be chosen from outside.
 *
 * Time is an explicit argument (milliseconds of a monotonic clock, see
 * throttle_now_ms()) so tests run on a fake clock. The table has its own
 * lock: any thread may call it, though the daemon uses it from its loop. */
#ifndef POSTHORN_AUTH_THROTTLE_H
#define POSTHORN_AUTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

struct throttle_settings {
	uint32_t max_failures;	 /* failures in window that block; 0 = never block (default 10) */
	uint64_t window_ms;	 /* default 10 min */
	uint64_t block_ms;	 /* default 10 min */
	uint64_t delay_first_ms; /* delay after the first failure; 0 = no delays (default 500) */
	uint64_t delay_max_ms;	 /* cap of the delay (default 8000) */
	size_t max_entries;	 /* table bound (default 65536, at least 1) */
};

/* Fills *set with the defaults above. */
void throttle_settings_default(struct throttle_settings *set);

/* set NULL means the defaults. Never NULL. */
struct throttle *throttle_new(const struct throttle_settings *set);
void throttle_free(struct throttle **t);

/* Before checking credentials. Returns 0 when the address may try, or -1
 * when it is blocked; then *retry_after_ms_r (if not NULL) is the time
 * until the block ends. */
int throttle_check(struct throttle *t, const struct sockaddr *sa, uint64_t now_ms,
		   uint64_t *retry_after_ms_r);

/* Records a failed login from sa. Returns how long to wait before sending
 * the failure reply (0 for addresses that are not throttled). */
uint64_t throttle_failure(struct throttle *t, const struct sockaddr *sa, uint64_t now_ms);

/* Records a successful login: forgets the address. */
void throttle_success(struct throttle *t, const struct sockaddr *sa);

/* Number of addresses currently tracked (tests, statistics). */
size_t throttle_count(struct throttle *t);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t throttle_now_ms(void);

#endif
