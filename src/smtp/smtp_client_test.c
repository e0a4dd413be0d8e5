/* Unit tests for smtp_client against a scripted server on loopback (in
 * the same event loop): each scenario is the server's script, a list of
 * (line the client must send, reply), and the outcome the client must
 * report: per-recipient results, the reason the connection ended, and the
 * exact bytes of the message as the server received them (dot-stuffing).
 * Covers PIPELINING and not, mixed RCPT results, RSET after a transaction
 * that failed, connection reuse, HELO fallback, 421, lost connections,
 * timeouts and refused connections. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdlib.h>

#include "smtp/smtp_client.h"
#include "test.h"
#include "util/buf.h"
#include "util/log.h"

struct step {
	const char
	    *expect; /* prefix of the client's line; "" = on connect; "." = the message, up to the dot */
	const char *reply; /* sent back (CRLF added per line "\n"); "<close>" closes; NULL = no answer */
};

struct scenario {
	const char *name;
	const struct step *script;
	bool pipelining_expected; /* the client sent several commands before a reply */
};

struct srv {
	struct event_base *base;
	const struct step *script;
	size_t pos;
	struct bufferevent *bev;
	struct buf body;
	bool in_data;
	struct buf log; /* what the client sent, lines joined with "|" */
	bool script_error;
	bool closing;
};

static void srv_event(struct bufferevent *bev, short what, void *arg);

/* Closes once what was written has gone out. */
static void srv_drained(struct bufferevent *bev, void *arg)
{
	struct srv *s = arg;
	bufferevent_free(s->bev);
	s->bev = NULL;
}

static void srv_reply(struct srv *s, const char *reply)
{
	if (reply == NULL)
		return;
	if (strcmp(reply, "<close>") == 0) {
		struct bufferevent *bev = s->bev;
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
			bufferevent_free(bev);
			s->bev = NULL;
		} else {
			bufferevent_disable(bev, EV_READ);
			bufferevent_setcb(bev, NULL, srv_drained, srv_event, s);
			s->closing = true;
		}
		return;
	}
	struct evbuffer *out = bufferevent_get_output(s->bev);
	for (const char *p = reply; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		evbuffer_add(out, p, n);
		evbuffer_add(out, "\r\n", 2);
		p += n + (nl ? 1 : 0);
	}
}

static void srv_read(struct bufferevent *bev, void *arg)
{
	struct srv *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (s->bev != NULL && !s->closing) {
		if (s->in_data) {
			struct evbuffer_ptr end = evbuffer_search(in, "\r\n.\r\n", 5, NULL);
			if (end.pos < 0)
				return;
			size_t n = (size_t)end.pos + 2;
			char *p = malloc(n);
			evbuffer_remove(in, p, n);
			buf_append(&s->body, p, n);
			free(p);
			evbuffer_drain(in, 3);
			s->in_data = false;
			srv_reply(s, s->script[s->pos++].reply);
			continue;
		}
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF_STRICT);
		if (line == NULL)
			return;
		buf_printf(&s->log, "%s%s", s->log.len ? "|" : "", line);
		const struct step *st = &s->script[s->pos];
		if (st->expect == NULL || strncmp(line, st->expect, strlen(st->expect)) != 0) {
			printf("script: got \"%s\", want \"%s\"\n", line, st->expect ? st->expect : "(end)");
			s->script_error = true;
			free(line);
			bufferevent_free(s->bev);
			s->bev = NULL;
			return;
		}
		free(line);
		s->pos++;
		if (s->script[s->pos].expect != NULL && strcmp(s->script[s->pos].expect, ".") == 0 &&
		    st->reply != NULL && strncmp(st->reply, "354", 3) == 0)
			s->in_data = true;
		srv_reply(s, st->reply);
	}
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
	struct srv *s = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *a, int len, void *arg)
{
	struct srv *s = arg;
	s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->bev, srv_read, NULL, srv_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	/* Step 0 is the greeting. */
	srv_reply(s, s->script[s->pos++].reply);
}

/* ---- the client side ---- */

struct run {
	struct event_base *base;
	struct smtp_client *cl;
	struct smtp_client_txn txns[2];
	struct smtp_client_rcpt rcpts[2][4];
	size_t ntxn, sent;
	struct buf results; /* "txn: rcpt=STATUS/enh ...; " and "closed: ..." */
	bool closed;
	struct smtp_client_end end;
};

static const char *status_name(enum smtp_client_status s)
{
	return s == SMTP_CLIENT_OK ? "ok" : s == SMTP_CLIENT_TEMP ? "temp" : "perm";
}

static void send_next(struct run *r)
{
	if (r->sent < r->ntxn)
		smtp_client_send(r->cl, &r->txns[r->sent++]);
	else
		smtp_client_quit(r->cl);
}

static void on_ready(void *ctx, struct smtp_client *cl)
{
	struct run *r = ctx;
	buf_printf(&r->results, "ready%s; ", smtp_client_ehlo(cl)->pipelining ? " pipelining" : "");
	send_next(r);
}

static void on_done(void *ctx, struct smtp_client *cl, struct smtp_client_txn *t)
{
	struct run *r = ctx;
	buf_puts(&r->results, "txn:");
	for (size_t i = 0; i < t->rcpt_count; i++)
		buf_printf(&r->results, " %s=%s/%s", t->rcpts[i].address, status_name(t->rcpts[i].status),
			   t->rcpts[i].enh);
	buf_puts(&r->results, "; ");
	if (smtp_client_ready(cl))
		send_next(r);
}

static void on_closed(void *ctx, struct smtp_client *cl, const struct smtp_client_end *end)
{
	struct run *r = ctx;
	r->closed = true;
	r->end = *end;
	buf_printf(&r->results, "closed %s%s code=%u", end->clean ? "clean" : "failed",
		   end->was_ready ? " ready" : "", end->code);
	smtp_client_free(&r->cl);
	event_base_loopexit(r->base, NULL);
}

static const struct smtp_client_cb cbs = {on_ready, on_done, on_closed};

struct expect {
	const char *results;
	const char *sent; /* what the server saw, or NULL not to check */
	const char *body; /* the message as received (dot-stuffed), or NULL */
	const char *reason_has;
};

static const char msg1[] = "Subject: x\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n";
static const char msg1_stuffed[] = "Subject: x\r\n\r\n..leading dot\r\n...two\r\n..\r\nend\r\n";

static void run_scenario(const char *name, const struct step *script, const char *const *rcpts1,
			 const char *const *rcpts2, unsigned timeout, const struct expect *want,
			 bool closed_port)
{
	test_current = name;
	struct event_base *base = event_base_new();
	struct srv s = {.base = base, .script = script};
	buf_init(&s.body, 1 << 20);
	buf_init(&s.log, 1 << 20);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct evconnlistener *l =
	    evconnlistener_new_bind(base, srv_accept, &s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
				    (struct sockaddr *)&sin, sizeof(sin));
	socklen_t slen = sizeof(sin);
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &slen);
	if (closed_port) {
		evconnlistener_free(l); /* nothing listens there any more */
		l = NULL;
	}
	struct run r = {.base = base};
	buf_init(&r.results, 1 << 16);
	const char *const *lists[2] = {rcpts1, rcpts2};
	for (size_t t = 0; t < 2 && lists[t] != NULL; t++) {
		size_t n = 0;
		for (; lists[t][n] != NULL; n++)
			r.rcpts[t][n].address = lists[t][n];
		r.txns[t] = (struct smtp_client_txn){.mail_from = "a@a.test",
						     .rcpts = r.rcpts[t],
						     .rcpt_count = n,
						     .data = msg1,
						     .len = sizeof(msg1) - 1,
						     .size = t == 1};
		r.ntxn++;
	}
	struct smtp_client_settings set = {.id = 1,
					   .helo = "mx.a.test",
					   .peer_name = "mx.b.test",
					   .connect_timeout = 5,
					   .command_timeout = timeout,
					   .greeting_timeout = timeout};
	r.cl = smtp_client_new(base, (struct sockaddr *)&sin, sizeof(sin), &set, &cbs, &r);
	struct timeval guard = {20, 0};
	event_base_loopexit(base, &guard);
	event_base_dispatch(base);
	CHECK(r.closed);
	CHECK(!s.script_error);
	CHECK_STR(buf_cstr(&r.results), want->results);
	if (want->sent)
		CHECK_STR(buf_cstr(&s.log), want->sent);
	if (want->body)
		CHECK_STR(buf_cstr(&s.body), want->body);
	if (want->reason_has && strstr(r.end.reason, want->reason_has) == NULL) {
		test_failures++;
		printf("FAIL %s: reason \"%s\" lacks \"%s\"\n", name, r.end.reason, want->reason_has);
	}
	if (r.cl)
		smtp_client_free(&r.cl);
	if (s.bev)
		bufferevent_free(s.bev);
	if (l)
		evconnlistener_free(l);
	buf_free(&s.body);
	buf_free(&s.log);
	buf_free(&r.results);
	event_base_free(base);
}

#define EHLO_PIPE "250-mx.b.test\n250-PIPELINING\n250-SIZE 1000000\n250 8BITMIME"

TEST(pipelining_mixed_and_reuse)
{
	static const struct step script[] = {
	    {"", "220 mx.b.test ESMTP"},
	    {"EHLO mx.a.test", EHLO_PIPE},
	    {"MAIL FROM:<a@a.test>", "250 2.1.0 Ok"},
	    {"RCPT TO:<ok@b.test>", "250 2.1.5 Ok"},
	    {"RCPT TO:<no@b.test>", "550 5.1.1 <no@b.test>: unknown"},
	    {"RCPT TO:<later@b.test>", "451 4.2.0 later"},
	    {"DATA", "354 go ahead"},
	    {".", "250 2.0.0 queued"},
	    {"MAIL FROM:<a@a.test> SIZE=43", "250 Ok"}, /* reused: no RSET after success */
	    {"RCPT TO:<two@b.test>", "250 Ok"},
	    {"DATA", "354 go"},
	    {".", "250 ok"},
	    {"QUIT", "221 bye"},
	    {NULL, NULL},
	};
	static const char *const r1[] = {"ok@b.test", "no@b.test", "later@b.test", NULL};
	static const char *const r2[] = {"two@b.test", NULL};
	struct expect want = {
	    .results =
		"ready pipelining; txn: ok@b.test=ok/2.0.0 no@b.test=perm/5.1.1 later@b.test=temp/4.2.0; "
		"txn: two@b.test=ok/2.0.0; closed clean ready code=0",
	    .body = "Subject: x\r\n\r\n..leading dot\r\n...two\r\n..\r\nend\r\n"
		    "Subject: x\r\n\r\n..leading dot\r\n...two\r\n..\r\nend\r\n",
	};
	run_scenario("pipelining_mixed_and_reuse", script, r1, r2, 0, &want, false);
	(void)msg1_stuffed;
}

TEST(no_pipelining_all_rejected)
{
	static const struct step script[] = {
	    {"", "220 mx.b.test ESMTP"},
	    {"EHLO", "250-mx.b.test\n250 8BITMIME"},
	    {"MAIL FROM:<a@a.test>", "250 Ok"},
	    {"RCPT TO:<x@b.test>", "550 5.1.1 no"},
	    {"RCPT TO:<y@b.test>", "553 5.7.1 no"},
	    {"RSET", "250 Ok"}, /* no DATA: nobody to send to */
	    {"QUIT", "221 bye"},
	    {NULL, NULL},
	};
	static const char *const r1[] = {"x@b.test", "y@b.test", NULL};
	struct expect want = {
	    .results = "ready; txn: x@b.test=perm/5.1.1 y@b.test=perm/5.7.1; closed clean ready code=0",
	    .sent = "EHLO mx.a.test|MAIL FROM:<a@a.test>|RCPT TO:<x@b.test>|RCPT TO:<y@b.test>|RSET|QUIT",
	};
	run_scenario("no_pipelining_all_rejected", script, r1, NULL, 0, &want, false);
}

TEST(mail_rejected_pipelined)
{
	static const struct step script[] = {
	    {"", "220 mx.b.test ESMTP"},
	    {"EHLO", EHLO_PIPE},
	    {"MAIL", "452 4.3.1 insufficient storage"},
	    {"RCPT", "503 5.5.1 need MAIL"},
	    {"DATA", "503 5.5.1 no valid recipients"},
	    {"RSET", "250 Ok"},
	    {"QUIT", "221 bye"},
	    {NULL, NULL},
	};
	static const char *const r1[] = {"x@b.test", NULL};
	struct expect want = {.results =
				  "ready pipelining; txn: x@b.test=temp/4.3.1; closed clean ready code=0"};
	run_scenario("mail_rejected_pipelined", script, r1, NULL, 0, &want, false);
}

TEST(helo_fallback_and_data_4xx)
{
	static const struct step script[] = {
	    {"", "220 old.b.test"},
	    {"EHLO", "502 5.5.2 what?"},
	    {"HELO mx.a.test", "250 old.b.test"},
	    {"MAIL FROM:<a@a.test>", "250 ok"},
	    {"RCPT", "250 ok"},
	    {"DATA", "354 go"},
	    {".", "452 4.3.1 disk full"},
	    {"QUIT", "221 bye"},
	    {NULL, NULL},
	};
	static const char *const r1[] = {"x@b.test", NULL};
	struct expect want = {.results = "ready; txn: x@b.test=temp/4.3.1; closed clean ready code=0",
			      .body = msg1_stuffed};
	run_scenario("helo_fallback_and_data_4xx", script, r1, NULL, 0, &want, false);
}

TEST(greeting_refused)
{
	static const struct step script[] = {{"", "554 5.7.1 go away"}, {"QUIT", "221 bye"}, {NULL, NULL}};
	static const char *const r1[] = {"x@b.test", NULL};
	struct expect want = {.results = "closed failed code=554",
			      .reason_has = "said: 554 5.7.1 go away (in reply to the initial greeting)"};
	run_scenario("greeting_refused", script, r1, NULL, 0, &want, false);
}

TEST(lost_after_data)
{
	static const struct step script[] = {
	    {"", "220 mx.b.test"},
	    {"EHLO", EHLO_PIPE},
	    {"MAIL", "250 ok"},
	    {"RCPT TO:<x@b.test>", "250 ok"},
	    {"RCPT TO:<y@b.test>", "550 5.1.1 no"},
	    {"DATA", "354 go"},
	    {".", "<close>"},
	    {NULL, NULL},
	};
	static const char *const r1[] = {"x@b.test", "y@b.test", NULL};
	struct expect want = {
	    .results =
		"ready pipelining; txn: x@b.test=temp/4.4.2 y@b.test=perm/5.1.1; closed failed ready code=0",
	    .reason_has = "lost connection with mx.b.test[127.0.0.1] while sending the message"};
	run_scenario("lost_after_data", script, r1, NULL, 0, &want, false);
}

TEST(shutdown_421)
{
	static const struct step script[] = {
	    {"", "220 mx.b.test"}, {"EHLO", "250-mx\n250 PIPELINING"}, {"MAIL", "421 4.3.2 shutting down"},
	    {"RCPT", "<close>"}, /* the pipelined rest arrives as the server closes */
	    {NULL, NULL},
	};
	static const char *const r1[] = {"x@b.test", NULL};
	struct expect want = {.results =
				  "ready pipelining; txn: x@b.test=temp/4.4.2; closed failed ready code=421",
			      .reason_has = "421 4.3.2 shutting down"};
	run_scenario("shutdown_421", script, r1, NULL, 0, &want, false);
}

TEST(timeout)
{
	static const struct step script[] = {
	    {"", "220 mx.b.test"},
	    {"EHLO", "250 mx"},
	    {"MAIL", NULL}, /* never answers */
	    {NULL, NULL},
	};
	static const char *const r1[] = {"x@b.test", NULL};
	struct expect want = {.results = "ready; txn: x@b.test=temp/4.4.2; closed failed ready code=0",
			      .reason_has = "timed out while sending the envelope"};
	run_scenario("timeout", script, r1, NULL, 1, &want, false);
}

TEST(refused)
{
	static const struct step script[] = {{"", "220 never"}, {NULL, NULL}};
	static const char *const r1[] = {"x@b.test", NULL};
	struct expect want = {.results = "closed failed code=0", .reason_has = "Connection refused"};
	run_scenario("refused", script, r1, NULL, 0, &want, true);
}

TEST(garbage_reply)
{
	static const struct step script[] = {{"", "hello there"}, {NULL, NULL}};
	static const char *const r1[] = {"x@b.test", NULL};
	struct expect want = {.results = "closed failed code=0", .reason_has = "malformed reply"};
	run_scenario("garbage_reply", script, r1, NULL, 0, &want, false);
}

int main(void)
{
	log_open("-", LOG_LEVEL_ERROR);
	RUN(pipelining_mixed_and_reuse);
	RUN(no_pipelining_all_rejected);
	RUN(mail_rejected_pipelined);
	RUN(helo_fallback_and_data_4xx);
	RUN(greeting_refused);
	RUN(lost_after_data);
	RUN(shutdown_421);
	RUN(timeout);
	RUN(refused);
	RUN(garbage_reply);
	return test_done();
}
