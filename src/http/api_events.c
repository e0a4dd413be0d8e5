/* api_events: the server-push stream (Server-Sent Events) that tells an
 * open webmail what changed, so new mail, flags set over IMAP and moves
 * made elsewhere show up without a reload (docs/webmail-api.md, "Events").
 *
 * One stream per open page: a store watch on the user sends
 * "event: change" with the mailbox id (0: the folder list itself) after
 * every committed change, from any protocol; a timer sends a comment every
 * 25 s to keep proxies and NATs from dropping the connection, and ends the
 * stream when the session has ended (logout elsewhere, expiry). */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/conn.h"
#include "core/server.h"
#include "http/http_api.h"
#include "store/store.h"
#include "util/mem.h"

#define KEEPALIVE_SECONDS 25

struct events {
	struct conn *c;
	struct server *srv;
	struct store_watch *watch;
	struct event *timer;
	uint64_t session_serial;
};

static void on_change(void *ctx, int64_t user_id, int64_t mailbox_id)
{
	struct events *ev = ctx;
	char line[96];
	int n = snprintf(line, sizeof(line), "event: change\ndata: {\"mailbox\":%lld}\n\n",
			 (long long)mailbox_id);
	if (n > 0 && (size_t)n < sizeof(line))
		http_stream_write(ev->c, line, (size_t)n);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct events *ev = arg;
	if (web_session_by_serial(http_sessions(ev->srv), ev->session_serial, time(NULL)) == NULL) {
		static const char bye[] = "event: logout\ndata: {}\n\n";
		http_stream_write(ev->c, bye, sizeof(bye) - 1);
		conn_close(ev->c);
		return;
	}
	static const char ping[] = ": keep-alive\n\n";
	http_stream_write(ev->c, ping, sizeof(ping) - 1);
}

static void events_stop(void *state)
{
	struct events *ev = state;
	store_watch_remove(ev->srv->store, &ev->watch);
	if (ev->timer)
		event_free(ev->timer);
	free(ev);
}

void api_events(struct http_ctx *x)
{
	struct events *ev = xmalloc(sizeof(*ev));
	ev->c = x->c;
	ev->srv = x->srv;
	ev->session_serial = x->session->serial;
	int64_t user_id = x->session->user_id;
	http_stream_start(x, "text/event-stream; charset=utf-8", events_stop, ev); /* x is gone now */
	static const char hello[] = "retry: 3000\n\nevent: hello\ndata: {}\n\n";
	http_stream_write(ev->c, hello, sizeof(hello) - 1);
	ev->watch = store_watch_add(ev->srv->store, user_id, on_change, ev);
	ev->timer = event_new(ev->srv->base, -1, EV_PERSIST, tick, ev);
	struct timeval tv = {KEEPALIVE_SECONDS, 0};
	event_add(ev->timer, &tv);
}
