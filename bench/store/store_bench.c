/* store_bench: how fast the store does what the engines need, on one
 * mailbox of N (default 100,000) messages of about 4 KB.
 *
 * Fills the mailbox through store_deliver_async() with 100 deliveries
 * pending at a time (group commit, as the SMTP server would), then times
 * the engines' hot paths on the filled store, each run several times
 * (reporting the best and the median):
 *   select   mailbox status + all UIDs (IMAP SELECT)
 *   iterate  UID/flags/modseq of every message (FETCH 1:* FLAGS, CONDSTORE)
 *   search   a rare word through the FTS index (IMAP SEARCH TEXT)
 *   page     the 50 newest by date with summary fields + total (webmail)
 * and a few more (changes_since, flag all, read one message). Figures are
 * printed with the target each should meet; nothing is asserted. Each
 * figure comes with the CPU time it took (this thread, or the whole
 * process for deliveries), which stays meaningful on a busy machine where
 * wall-clock time does not.
 *
 * Build (from the top of the tree, after building libposthorn.a):
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc -o build/store_bench bench/store/store_bench.c \
 *      build/release/libposthorn.a $(pkg-config --libs libevent sqlite3 zlib) -lpthread -lm
 * Run: build/store_bench [messages] [data-dir]   (default 100000, a new /tmp dir)
 * A data-dir whose INBOX already holds that many messages is reused: only
 * the read figures are taken again (the flag figures change its flags). */
#include <event2/event.h>
#include <ftw.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strnum.h"

#define PENDING 100
#define RUNS 7

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double process_cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void die(const char *what, const char *err) __attribute__((noreturn));
static void die(const char *what, const char *err)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, err ? err : "?");
	exit(1);
}

/* A deterministic pseudo-random word list: "common" words appear in many
 * messages, and each message gets one word of its own ("rare" ones). */
static unsigned long rng = 12345;
static unsigned rnd(void)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rng >> 33);
}

static void word(struct buf *b, unsigned n)
{
	static const char *const syl[] = {"ka", "lo",  "mi", "ne",  "ru",  "ta",
					  "vo", "shi", "en", "dor", "pel", "qua"};
	do {
		buf_puts(b, syl[n % 12]);
		n /= 12;
	} while (n);
}

static void make_msg(struct buf *b, int i)
{
	buf_reset(b);
	int day = 1 + i % 28, hour = (i / 28) % 24, min = (i / 672) % 60;
	buf_printf(b,
		   "Return-Path: <sender%d@remote.test>\r\n"
		   "Received: from mx.remote.test (mx.remote.test [192.0.2.1]) by mail.example.test\r\n"
		   "\twith ESMTPS id %08x for <alice@example.test>; Thu, %d Nov 2026 %02d:%02d:00 +0000\r\n"
		   "From: Sender %d <sender%d@remote.test>\r\n"
		   "To: Alice Example <alice@example.test>\r\n"
		   "Subject: Report ",
		   i % 500, rnd(), day, hour, min, i % 500, i % 500);
	word(b, rnd() % 2000);
	buf_printf(b,
		   " number %d\r\n"
		   "Date: Thu, %d Nov 2026 %02d:%02d:00 +0000\r\n"
		   "Message-ID: <bench%d@remote.test>\r\n"
		   "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=utf-8\r\n"
		   "\r\n",
		   i, day, hour, min, i);
	/* About 4 KB of text: common words, one unique word per message. */
	int col = 0;
	while (b->len < 4000) {
		if (b->len > 2000 && b->len < 2020) {
			buf_puts(b, "zq");
			word(b, (unsigned)i * 7919u);
			buf_putc(b, ' ');
		}
		size_t before = b->len;
		word(b, rnd() % 5000);
		buf_putc(b, ' ');
		col += (int)(b->len - before);
		if (col > 70) {
			buf_puts(b, "\r\n");
			col = 0;
		}
	}
	buf_puts(b, "\r\n");
}

struct filler {
	struct store *st;
	int64_t user;
	int next, total, done, inflight, failed;
	struct slot {
		struct buf msg;
		struct store_delivery_rcpt rc;
		struct store_delivery d;
		bool busy;
	} slots[PENDING];
};

static void submit(struct filler *f);

static void delivered(void *ctx, struct store_delivery *d, int result)
{
	struct filler *f = ctx;
	struct slot *s = (struct slot *)((char *)d - offsetof(struct slot, d));
	if (result < 0) {
		f->failed++;
		fprintf(stderr, "delivery failed: %s\n", d->error);
	}
	s->busy = false;
	f->inflight--;
	f->done++;
}

static void submit(struct filler *f)
{
	for (int k = 0; k < PENDING && f->next < f->total; k++) {
		struct slot *s = &f->slots[k];
		if (s->busy)
			continue;
		make_msg(&s->msg, f->next++);
		s->rc = (struct store_delivery_rcpt){.user_id = f->user,
						     .prefix = "Delivered-To: alice@example.test\r\n"};
		s->d = (struct store_delivery){
		    .data = s->msg.data, .len = s->msg.len, .rcpts = &s->rc, .rcpt_count = 1};
		s->busy = true;
		f->inflight++;
		store_deliver_async(f->st, &s->d, delivered, f);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double cpu[RUNS]; /* thread CPU time of each run, filled by the callers */

static void report(const char *name, double *t, int n, const char *target)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	qsort(cpu, (size_t)n, sizeof(*cpu), cmp_double);
	printf("  %-34s best %8.2f ms  median %8.2f ms  cpu %8.2f ms  (target %s)\n", name, t[0], t[n / 2],
	       cpu[n / 2], target);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	uint32_t count = 100000;
	if (argc > 1 && str_to_u32(argv[1], &count) < 0)
		die("usage", "store_bench [messages] [data-dir]");
	char tmpl[] = "/tmp/posthorn-store-bench-XXXXXX";
	const char *dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
	bool own_dir = argc <= 2;
	if (dir == NULL)
		die("mkdtemp", "failed");
	const char *err;
	struct store_options o = {.data_dir = dir};
	struct store *st = store_open(&o, &err);
	if (st == NULL)
		die("open", err);
	struct event_base *base = event_base_new();
	if (store_attach_loop(st, base, &err) < 0)
		die("attach", err);
	struct store_user u;
	bool reuse = false;
	if (store_user_get(st, "alice@example.test", &u, &err) == 1) {
		struct store_mailbox mb0;
		reuse = store_mailbox_get(st, u.id, "INBOX", &mb0, &err) == 1 && mb0.messages == count;
		store_mailbox_clear(&mb0);
		if (!reuse)
			die("setup", "the data folder holds another store; give an empty one");
	} else if (store_domain_add(st, "example.test", &err) < 0 ||
		   store_user_add(st, "alice@example.test", "$y$x", NULL, &err) < 0 ||
		   store_user_get(st, "alice@example.test", &u, &err) != 1) {
		die("setup", err);
	}

	struct filler *f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->user = u.id;
	f->total = (int)count;
	for (int k = 0; k < PENDING; k++)
		buf_init(&f->slots[k].msg, 1 << 20);
	printf("store_bench: %u messages of ~4 KB into %s/posthorn.db, %d pending at a time\n", count, dir,
	       PENDING);
	/* Message generation in this loop is measured too: subtract it. */
	double gen0 = thread_cpu_ms();
	for (int k = 0; k < 2000; k++)
		make_msg(&f->slots[0].msg, k);
	double gen_ms = (thread_cpu_ms() - gen0) / 2000;
	double t0 = now_ms(), c0 = process_cpu_ms();
	if (reuse)
		f->done = f->total;
	while (f->done < f->total) {
		submit(f);
		event_base_loop(base, EVLOOP_ONCE);
	}
	double fill = now_ms() - t0, fill_cpu = process_cpu_ms() - c0 - gen_ms * count;
	if (!reuse)
		printf("  group-committed deliveries          %8.0f messages/s  (%u in %.1f s, %d failed), "
		       "cpu %.3f ms/message\n",
		       count / (fill / 1e3), count, fill / 1e3, f->failed, fill_cpu / count);
	/* The writer indexes in the background; finish that before timing. */
	t0 = now_ms();
	c0 = thread_cpu_ms();
	int indexed = store_search_index_flush(st, &err);
	double ix = now_ms() - t0, ix_cpu = thread_cpu_ms() - c0;
	if (indexed < 0)
		die("index", err);
	if (!reuse) {
		printf("  full-text index backlog             %8d messages indexed in %.1f s after the fill, "
		       "cpu %.3f ms/message\n",
		       indexed, ix / 1e3, indexed ? ix_cpu / indexed : 0.0);
		printf("  deliveries + index, end to end      %8.0f messages/s\n",
		       count / ((fill + ix) / 1e3));
	}

	struct store_mailbox mb;
	if (store_mailbox_get(st, u.id, "INBOX", &mb, &err) != 1)
		die("inbox", err);
	int64_t inbox = mb.id;
	store_mailbox_clear(&mb);
	double t[RUNS];

	for (int r = 0; r < RUNS; r++) {
		double a = now_ms(), ca = thread_cpu_ms();
		uint32_t *uids;
		size_t n;
		if (store_mailbox_get(st, u.id, "INBOX", &mb, &err) != 1 ||
		    store_mailbox_uids(st, inbox, &uids, &n, &err) < 0 || n != count)
			die("select", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		free(uids);
		store_mailbox_clear(&mb);
	}
	report("select (status + all UIDs)", t, RUNS, "<= 50 ms");

	for (int r = 0; r < RUNS; r++) {
		double a = now_ms(), ca = thread_cpu_ms();
		struct store_msg_iter *it = store_msg_iter_new(st, inbox, 1, UINT32_MAX, STORE_FIELD_BASIC);
		struct store_msg m;
		uint32_t n = 0, seen = 0;
		while (store_msg_iter_next(it, &m) == 1) {
			n++;
			seen += (m.flags & STORE_FLAG_SEEN) != 0;
		}
		if (store_msg_iter_free(&it, &err) < 0 || n != count || seen > n)
			die("iterate", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
	}
	report("iterate UID/flags of all", t, RUNS, "<= 200 ms");

	struct buf rare;
	buf_init(&rare, 256);
	for (int r = 0; r < RUNS; r++) {
		buf_reset(&rare);
		buf_puts(&rare, "zq");
		word(&rare, (unsigned)((count / RUNS) * (uint32_t)r + 17) * 7919u);
		double a = now_ms(), ca = thread_cpu_ms();
		uint32_t *uids;
		size_t n;
		if (store_search(st, inbox, STORE_SEARCH_TEXT, rare.data, &uids, &n, &err) < 0)
			die("search", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		if (n < 1)
			fprintf(stderr, "search: %s found nothing\n", rare.data);
		free(uids);
	}
	report("search a rare word", t, RUNS, "<= 100 ms");

	for (int r = 0; r < RUNS; r++) {
		double a = now_ms(), ca = thread_cpu_ms();
		uint32_t *uids;
		size_t n;
		if (store_search(st, inbox, STORE_SEARCH_SUBJECT, "number 777", &uids, &n, &err) < 0)
			die("search", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		free(uids);
	}
	report("search subject, common+rare word", t, RUNS, "-");

	for (int r = 0; r < RUNS; r++) {
		double a = now_ms(), ca = thread_cpu_ms();
		struct store_msg *v;
		size_t n;
		uint32_t total;
		if (store_msg_page(st, inbox, false, 0, 50, &v, &n, &total, &err) < 0 || n != 50 ||
		    total != count)
			die("page", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		store_msg_list_free(&v, n);
	}
	report("webmail page (50 newest + total)", t, RUNS, "<= 50 ms");

	for (int r = 0; r < RUNS; r++) {
		double a = now_ms(), ca = thread_cpu_ms();
		struct store_msg *v;
		size_t n;
		uint32_t total;
		if (store_msg_page(st, inbox, false, count / 2, 50, &v, &n, &total, &err) < 0 || n != 50)
			die("page", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		store_msg_list_free(&v, n);
	}
	report("webmail page in the middle", t, RUNS, "-");

	for (int r = 0; r < RUNS; r++) {
		double a = now_ms(), ca = thread_cpu_ms();
		struct store_msg m;
		char *data = NULL;
		size_t len;
		if (store_msg_get(st, inbox, (uint32_t)(1 + rnd() % count),
				  STORE_FIELD_ENVELOPE | STORE_FIELD_STRUCTURE, &m, &err) != 1 ||
		    store_msg_read(st, m.id, &data, &len, &err) != 1)
			die("read", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		free(data);
		store_msg_clear(&m);
	}
	report("one message: cache + bytes", t, RUNS, "-");

	uint32_t *all;
	size_t nall;
	store_mailbox_uids(st, inbox, &all, &nall, &err);
	if (reuse)
		store_msg_set_flags(st, inbox, all, nall, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, NULL, 0, NULL,
				    NULL, &err);
	double a = now_ms();
	int changed = store_msg_set_flags(st, inbox, all, nall, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
					  NULL, NULL, &err);
	double flag_all = now_ms() - a;
	if (changed != (int)count)
		die("flags", err);
	printf("  %-34s      %8.2f ms\n", "STORE 1:* +FLAGS (\\Seen), once", flag_all);
	store_mailbox_get(st, u.id, "INBOX", &mb, &err);
	uint64_t hms = mb.highestmodseq;
	store_mailbox_clear(&mb);
	for (int r = 0; r < RUNS; r++) {
		uint32_t one = all[rnd() % nall];
		store_msg_set_flags(st, inbox, &one, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, 0, NULL,
				    NULL, &err);
	}
	for (int r = 0; r < RUNS; r++) {
		a = now_ms();
		double ca = thread_cpu_ms();
		struct store_changes ch;
		if (store_changes_since(st, inbox, hms, &ch, &err) < 0)
			die("changes", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		store_changes_clear(&ch);
	}
	report("changes_since (a few changed)", t, RUNS, "-");
	for (int r = 0; r < RUNS; r++) {
		a = now_ms();
		double ca = thread_cpu_ms();
		struct store_changes ch;
		if (store_changes_since(st, inbox, 0, &ch, &err) < 0 || ch.changed_count != count)
			die("changes", err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		store_changes_clear(&ch);
	}
	report("changes_since(0): every message", t, RUNS, "-");
	for (int r = 0; r < RUNS; r++) {
		uint32_t one = all[rnd() % nall];
		a = now_ms();
		double ca = thread_cpu_ms();
		store_msg_set_flags(st, inbox, &one, 1, STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, NULL, 0, NULL,
				    NULL, &err);
		t[r] = now_ms() - a;
		cpu[r] = thread_cpu_ms() - ca;
		cpu[r] = thread_cpu_ms() - ca;
	}
	report("STORE one message", t, RUNS, "-");
	free(all);

	store_close(&st);
	event_base_free(base);
	for (int k = 0; k < PENDING; k++)
		buf_free(&f->slots[k].msg);
	free(f);
	buf_free(&rare);
	store_user_clear(&u);
	if (own_dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
