/* pop3_bench: Posthorn's POP3 server against Dovecot's, same mailbox, same
 * client, one run (bench/pop3/run.sh drives it; see there).
 *
 *   pop3_bench fill DATA_DIR MAILDIR N
 *     Makes N messages (deterministic; sizes like a real inbox: mostly
 *     text of a few KB, some HTML of tens of KB, a few with attachments of
 *     hundreds of KB; some lines start with "."), delivers them into the
 *     INBOX of bench@example.test in the Posthorn store at DATA_DIR (group
 *     commit, as SMTP would) with CRLF line ends, and writes the same
 *     messages into the maildir MAILDIR (cur/) as Dovecot's LDA would: LF
 *     line ends, file names with S= (file size) and W= (CRLF size).
 *
 *   pop3_bench run NAME HOST PORT USER PASS [ROUNDS]
 *     A client on plain blocking sockets, written for this bench:
 *       latency  a fresh session: time to the first reply line of STAT,
 *                of LIST and of UIDL (and to their last line), and login;
 *       download UIDL, then RETR of every message one at a time (as
 *                fetchmail or Outlook do), then QUIT, timed apart;
 *       pipelined the same with 16 RETR in flight (both servers announce
 *                PIPELINING).
 *     Every message is dot-unstuffed and hashed: the printed digest must
 *     be the same for both servers (same bytes on the wire). ROUNDS
 *     (default 3) sessions of each; the best and the median are printed,
 *     then one machine-readable line "RESULT NAME key=value...".
 * Nothing is asserted; run by hand. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strnum.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "pop3_bench: %s: %s\n", what, err ? err : "?");
	exit(1);
}

/* ---- the messages ------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static unsigned rnd(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rng >> 33);
}

static const char *const words[] = {"the",	"report",   "meeting",	"quarterly", "figures",
				    "please",	"review",   "attached", "thanks",    "regards",
				    "project",	"posthorn", "server",	"delivery",  "mailbox",
				    "tomorrow", "budget",   "invoice",	"shipping",  "schedule"};

static void text_lines(struct buf *b, size_t bytes)
{
	size_t end = b->len + bytes;
	int col = 0;
	while (b->len < end) {
		if (col == 0 && rnd() % 40 == 0)
			buf_putc(b, '.'); /* a line that must be dot-stuffed */
		const char *w = words[rnd() % (sizeof(words) / sizeof(words[0]))];
		buf_puts(b, w);
		buf_putc(b, ' ');
		col += (int)strlen(w) + 1;
		if (col > 66) {
			buf_puts(b, "\r\n");
			col = 0;
		}
	}
	buf_puts(b, "\r\n");
}

static void make_msg(struct buf *b, int i)
{
	buf_reset(b);
	unsigned kind = rnd() % 100;
	buf_printf(b,
		   "Received: from mx.remote.test (mx.remote.test [192.0.2.1])\r\n"
		   "\tby mail.example.test (Posthorn) with ESMTPS id %08x for <bench@example.test>;\r\n"
		   "\tThu, %d Nov 2026 %02d:%02d:00 +0000\r\n"
		   "From: Sender %d <sender%d@remote.test>\r\n"
		   "To: Bench <bench@example.test>\r\n"
		   "Subject: Message number %d about the %s\r\n"
		   "Date: Thu, %d Nov 2026 %02d:%02d:00 +0000\r\n"
		   "Message-ID: <pop3bench%d@remote.test>\r\n"
		   "MIME-Version: 1.0\r\n",
		   rnd(), 1 + i % 28, (i / 28) % 24, i % 60, i % 300, i % 300, i,
		   words[rnd() % (sizeof(words) / sizeof(words[0]))], 1 + i % 28, (i / 28) % 24, i % 60, i);
	if (kind < 70) {
		buf_puts(b, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
		text_lines(b, 1500 + rnd() % 6000);
	} else if (kind < 95) {
		buf_puts(b, "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
		text_lines(b, 3000 + rnd() % 5000);
		buf_puts(b, "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>\r\n");
		text_lines(b, 8000 + rnd() % 20000);
		buf_puts(b, "</p></body></html>\r\n--b1--\r\n");
	} else {
		buf_puts(b, "Content-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n--b2\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
		text_lines(b, 1000 + rnd() % 2000);
		buf_puts(b, "--b2\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n"
			    "Content-Transfer-Encoding: base64\r\n\r\n");
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t n = 100000 + rnd() % 300000;
		for (size_t k = 0; k < n; k += 76) {
			char line[78];
			for (int j = 0; j < 76; j++)
				line[j] = b64[rnd() % 64];
			line[76] = '\r';
			line[77] = '\n';
			buf_append(b, line, 78);
		}
		buf_puts(b, "--b2--\r\n");
	}
}

/* ---- fill -------------------------------------------------------------- */

#define PENDING 64

struct filler {
	struct store *st;
	int64_t user;
	const char *maildir;
	int next, total, done;
	struct slot {
		struct buf msg;
		struct store_delivery_rcpt rc;
		struct store_delivery d;
		bool busy;
	} slots[PENDING];
	uint64_t bytes;
};

static void delivered(void *ctx, struct store_delivery *d, int result)
{
	struct filler *f = ctx;
	struct slot *s = (struct slot *)((char *)d - offsetof(struct slot, d));
	if (result < 0 || s->rc.result < 0)
		die("delivery", d->error ? d->error : s->rc.error);
	s->busy = false;
	f->done++;
}

/* The same message for Dovecot: LF line ends, as its LDA stores them. */
static void write_maildir(struct filler *f, int i, const struct buf *msg)
{
	char *lf = xmalloc(msg->len + 1);
	size_t n = 0, lines = 0;
	for (size_t k = 0; k < msg->len; k++) {
		if (msg->data[k] == '\r' && k + 1 < msg->len && msg->data[k + 1] == '\n') {
			lines++;
			continue;
		}
		lf[n++] = msg->data[k];
	}
	char path[4096];
	/* Sortable names: Dovecot lists new mail in name order. */
	int r = snprintf(path, sizeof(path), "%s/cur/%010d.M%06dP1.bench,S=%zu,W=%zu:2,", f->maildir,
			 1700000000 + i, i, n, msg->len);
	if (r < 0 || (size_t)r >= sizeof(path))
		die("maildir", "path too long");
	FILE *fp = fopen(path, "w");
	if (fp == NULL || fwrite(lf, 1, n, fp) != n || fclose(fp) != 0)
		die(path, strerror(errno));
	free(lf);
	(void)lines;
}

static void submit(struct filler *f)
{
	for (int k = 0; k < PENDING && f->next < f->total; k++) {
		struct slot *s = &f->slots[k];
		if (s->busy)
			continue;
		int i = f->next++;
		make_msg(&s->msg, i);
		f->bytes += s->msg.len;
		write_maildir(f, i, &s->msg);
		s->rc = (struct store_delivery_rcpt){.user_id = f->user};
		s->d = (struct store_delivery){.data = s->msg.data,
					       .len = s->msg.len,
					       .internaldate = 1700000000 + i,
					       .rcpts = &s->rc,
					       .rcpt_count = 1};
		s->busy = true;
		store_deliver_async(f->st, &s->d, delivered, f);
	}
}

static int cmd_fill(int argc, char **argv)
{
	uint32_t count;
	if (argc != 5 || str_to_u32(argv[4], &count) < 0)
		die("usage", "pop3_bench fill DATA_DIR MAILDIR N");
	const char *err;
	struct store_options o = {.data_dir = argv[2]};
	struct store *st = store_open(&o, &err);
	if (st == NULL)
		die("open", err);
	struct event_base *base = event_base_new();
	if (store_attach_loop(st, base, &err) < 0)
		die("attach", err);
	struct store_user u;
	if (store_user_get(st, "bench@example.test", &u, &err) != 1)
		die("user bench@example.test", "not found (posthorn user add first)");
	char path[4096];
	const char *sub[] = {"", "/cur", "/new", "/tmp"};
	for (int k = 0; k < 4; k++) {
		snprintf(path, sizeof(path), "%s%s", argv[3], sub[k]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			die(path, strerror(errno));
	}
	struct filler *f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->user = u.id;
	f->maildir = argv[3];
	f->total = (int)count;
	for (int k = 0; k < PENDING; k++)
		buf_init(&f->slots[k].msg, 16 << 20);
	double t0 = now_ms();
	while (f->done < f->total) {
		submit(f);
		event_base_loop(base, EVLOOP_ONCE);
	}
	printf("filled %d messages, %.1f MB, in %.1f s\n", f->total, (double)f->bytes / 1e6,
	       (now_ms() - t0) / 1e3);
	store_user_clear(&u);
	store_close(&st);
	event_base_free(base);
	return 0;
}

/* ---- the client -------------------------------------------------------- */

struct client {
	int fd;
	char *buf;
	size_t start, end, cap;
	uint64_t bytes;	 /* message bytes after unstuffing */
	uint64_t digest; /* sum of per-message FNV-1a hashes */
};

static void c_fill(struct client *c)
{
	if (c->start > 0 && c->start == c->end)
		c->start = c->end = 0;
	if (c->end == c->cap) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
		if (c->end == c->cap)
			die("read", "line longer than the buffer");
	}
	ssize_t n = read(c->fd, c->buf + c->end, c->cap - c->end);
	if (n <= 0)
		die("read", n == 0 ? "connection closed" : strerror(errno));
	c->end += (size_t)n;
}

/* One line without CRLF, valid until the next call. */
static char *c_line(struct client *c, size_t *len_r)
{
	for (;;) {
		char *p = c->buf + c->start;
		char *lf = memchr(p, '\n', c->end - c->start);
		if (lf != NULL) {
			size_t len = (size_t)(lf - p);
			c->start += len + 1;
			if (len > 0 && p[len - 1] == '\r')
				len--;
			p[len] = '\0';
			*len_r = len;
			return p;
		}
		c_fill(c);
	}
}

static void c_send(struct client *c, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(c->fd, s, n);
		if (w <= 0)
			die("write", strerror(errno));
		s += w;
		n -= (size_t)w;
	}
}

static char *c_status(struct client *c, const char *what)
{
	size_t len;
	char *l = c_line(c, &len);
	if (strncmp(l, "+OK", 3) != 0) {
		fprintf(stderr, "pop3_bench: %s: %s\n", what, l);
		exit(1);
	}
	return l;
}

/* Reads a multi-line body; returns its line count. hash: unstuff and hash. */
static size_t c_multi(struct client *c, bool hash)
{
	size_t lines = 0;
	uint64_t h = 1469598103934665603ULL;
	for (;;) {
		size_t len;
		char *l = c_line(c, &len);
		if (len == 1 && l[0] == '.')
			break;
		if (l[0] == '.') {
			l++;
			len--;
		}
		lines++;
		if (hash) {
			for (size_t k = 0; k < len; k++)
				h = (h ^ (unsigned char)l[k]) * 1099511628211ULL;
			h = (h ^ '\r') * 1099511628211ULL;
			h = (h ^ '\n') * 1099511628211ULL;
			c->bytes += len + 2;
		}
	}
	if (hash)
		c->digest += h;
	return lines;
}

static struct client *c_connect(const char *host, int port, const char *user, const char *pass,
				double *login_ms)
{
	struct client *c = xcalloc(1, sizeof(*c));
	c->cap = 4 << 20;
	c->buf = xmalloc(c->cap);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect", strerror(errno));
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c_status(c, "greeting");
	char line[512];
	double t0 = now_ms();
	snprintf(line, sizeof(line), "USER %s\r\n", user);
	c_send(c, line);
	c_status(c, "USER");
	snprintf(line, sizeof(line), "PASS %s\r\n", pass);
	c_send(c, line);
	c_status(c, "PASS");
	if (login_ms)
		*login_ms = now_ms() - t0;
	return c;
}

static void c_quit(struct client *c, double *quit_ms)
{
	double t0 = now_ms();
	c_send(c, "QUIT\r\n");
	c_status(c, "QUIT");
	if (quit_ms)
		*quit_ms = now_ms() - t0;
	close(c->fd);
	free(c->buf);
	free(c);
}

struct figures {
	double login, stat_first, list_first, list_all, uidl_first, uidl_all;
	double download, quit, pipelined;
	unsigned count;
	uint64_t bytes, digest;
};

static void latency(const char *host, int port, const char *user, const char *pass, struct figures *f)
{
	struct client *c = c_connect(host, port, user, pass, &f->login);
	double t0 = now_ms();
	c_send(c, "STAT\r\n");
	char *l = c_status(c, "STAT");
	f->stat_first = now_ms() - t0;
	f->count = (unsigned)strtoul(l + 4, NULL, 10);
	t0 = now_ms();
	c_send(c, "LIST\r\n");
	c_status(c, "LIST");
	f->list_first = now_ms() - t0;
	c_multi(c, false);
	f->list_all = now_ms() - t0;
	t0 = now_ms();
	c_send(c, "UIDL\r\n");
	c_status(c, "UIDL");
	f->uidl_first = now_ms() - t0;
	c_multi(c, false);
	f->uidl_all = now_ms() - t0;
	c_quit(c, NULL);
}

static void download(const char *host, int port, const char *user, const char *pass, unsigned window,
		     struct figures *f)
{
	struct client *c = c_connect(host, port, user, pass, NULL);
	double t0 = now_ms();
	c_send(c, "UIDL\r\n");
	c_status(c, "UIDL");
	size_t n = c_multi(c, false);
	unsigned sent = 0, got = 0;
	char line[64];
	while (got < n) {
		while (sent < n && sent - got < window) {
			snprintf(line, sizeof(line), "RETR %u\r\n", ++sent);
			c_send(c, line);
		}
		c_status(c, "RETR");
		c_multi(c, true);
		got++;
	}
	double t = now_ms() - t0;
	if (window == 1)
		f->download = t;
	else
		f->pipelined = t;
	f->bytes = c->bytes;
	f->digest = c->digest;
	f->count = (unsigned)n;
	c_quit(c, window == 1 ? &f->quit : NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double best(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[0];
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int cmd_run(int argc, char **argv)
{
	uint32_t port, rounds = 3;
	if ((argc != 7 && argc != 8) || str_to_u32(argv[4], &port) < 0 ||
	    (argc == 8 && str_to_u32(argv[7], &rounds) < 0) || rounds == 0 || rounds > 50)
		die("usage", "pop3_bench run NAME HOST PORT USER PASS [ROUNDS]");
	const char *name = argv[2], *host = argv[3], *user = argv[5], *pass = argv[6];
	struct figures *f = xcalloc(rounds, sizeof(*f));
	double v[9][50];
	/* The first session after the start: indexes and caches cold. */
	struct figures cold = {0};
	latency(host, (int)port, user, pass, &cold);
	for (uint32_t r = 0; r < rounds; r++) {
		download(host, (int)port, user, pass, 1, &f[r]);
		download(host, (int)port, user, pass, 16, &f[r]);
		latency(host, (int)port, user, pass, &f[r]);
		v[0][r] = f[r].download;
		v[1][r] = f[r].pipelined;
		v[2][r] = f[r].quit;
		v[3][r] = f[r].login;
		v[4][r] = f[r].stat_first;
		v[5][r] = f[r].list_first;
		v[6][r] = f[r].list_all;
		v[7][r] = f[r].uidl_first;
		v[8][r] = f[r].uidl_all;
		if (f[r].digest != f[0].digest)
			die(name, "different bytes from one session to the next");
	}
	int n = (int)rounds;
	double quit0 = v[2][0];
	double dl_best = best(v[0], n), dl_med = median(v[0], n), pl_best = best(v[1], n);
	printf("%s: %u messages, %.1f MB, digest %016llx\n", name, f[0].count, (double)f[0].bytes / 1e6,
	       (unsigned long long)f[0].digest);
	printf("  download UIDL + RETR one by one   best %8.1f ms  median %8.1f ms  %8.0f msg/s %7.1f MB/s\n",
	       dl_best, dl_med, f[0].count / (dl_best / 1e3), (double)f[0].bytes / 1e6 / (dl_best / 1e3));
	printf(
	    "  download, 16 RETR pipelined       best %8.1f ms                    %8.0f msg/s %7.1f MB/s\n",
	    pl_best, f[0].count / (pl_best / 1e3), (double)f[0].bytes / 1e6 / (pl_best / 1e3));
	const char *names[] = {NULL,
			       NULL,
			       "QUIT after the download",
			       "login (USER+PASS)",
			       "STAT first reply",
			       "LIST first line",
			       "LIST complete",
			       "UIDL first line",
			       "UIDL complete"};
	printf("  first session after start: login %.2f ms, STAT %.2f ms, LIST first line %.2f ms, UIDL "
	       "first line %.2f ms\n",
	       cold.login, cold.stat_first, cold.list_first, cold.uidl_first);
	printf("  first QUIT after a full download (sets \\Seen on every message): %.2f ms\n", quit0);
	double b[9], m[9];
	for (int k = 2; k < 9; k++) {
		b[k] = best(v[k], n);
		m[k] = median(v[k], n);
		printf("  %-33s best %8.2f ms  median %8.2f ms\n", names[k], b[k], m[k]);
	}
	printf(
	    "RESULT %s count=%u bytes=%llu digest=%016llx download_ms=%.2f pipelined_ms=%.2f quit_ms=%.2f "
	    "login_ms=%.2f "
	    "stat_ms=%.2f list_first_ms=%.2f list_ms=%.2f uidl_first_ms=%.2f uidl_ms=%.2f first_quit_ms=%.2f "
	    "cold_stat_ms=%.2f\n",
	    name, f[0].count, (unsigned long long)f[0].bytes, (unsigned long long)f[0].digest, dl_best,
	    pl_best, m[2], m[3], m[4], m[5], m[6], m[7], m[8], quit0, cold.stat_first);
	free(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc, argv);
	die("usage", "pop3_bench fill DATA_DIR MAILDIR N | run NAME HOST PORT USER PASS [ROUNDS]");
}
