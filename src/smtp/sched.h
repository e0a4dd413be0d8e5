/* sched: the outbound queue manager of the worker: it takes due recipients
 * from the store's queue, delivers them hop by hop over SMTP, records each
 * outcome, retries with back-off, and sends bounces and delay notices.
 *
 * Work arrives three ways: at once when this process queues mail (the
 * store's queue watcher), at each poll of the queue (every
 * SCHED_POLL_SECONDS: retries that came due, and `posthorn queue flush`,
 * which only writes the database), and at start (everything left from
 * before a crash or restart). The store's per-recipient state is the only
 * truth: kill -9 at any moment loses nothing; a message accepted by the
 * next server just before the crash, whose outcome was not yet written,
 * is delivered a second time after the restart (never zero times).
 *
 * Recipients of one entry are grouped by destination domain (or all go to
 * relay_host) into jobs of at most SCHED_RCPTS_PER_TXN recipients: one
 * SMTP transaction each. A destination has a FIFO of jobs and up to
 * outbound_max_per_domain connections (outbound_max_connections in all);
 * a connection that finished a job takes the next one of its destination
 * (connection reuse) and quits when there is none. When no address of a
 * destination can be reached, every job waiting for it is deferred at
 * once rather than trying the same dead hosts again for each message. */
#ifndef POSTHORN_SMTP_SCHED_H
#define POSTHORN_SMTP_SCHED_H

struct server;
struct sched;

#define SCHED_POLL_SECONDS 2
#define SCHED_RCPTS_PER_TXN 100 /* RFC 5321 4.5.3.1.8: servers take at least 100 */
#define SCHED_ACTIVE_MAX 2000	/* queue entries held in memory at once */
#define SCHED_ACTIVE_BYTES ((unsigned long long)256 << 20)

/* Starts the scheduler on srv's loop and store (after store_attach_loop):
 * creates the resolver and the TLS client context, registers the queue
 * watcher and schedules the first scan. NULL with *error_r on failure. */
struct sched *sched_new(struct server *srv, const char **error_r);
/* The worker is stopping: no new deliveries; idle connections quit. */
void sched_shutdown(struct sched *s);
/* Drops everything at once (connections closed without QUIT, lookups
 * cancelled); recipients in flight stay pending in the store. Sets *s to
 * NULL. Call before store_close(). */
void sched_free(struct sched **s);

#endif
