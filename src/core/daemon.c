/* daemon: `posthorn serve`, a root parent and one unprivileged worker.
 *
 * The parent reads the config, binds every listener, reads the TLS
 * certificate and key, and forks the worker, which drops to run_user before
 * it reads a byte from the network. The parent never parses network input;
 * it stays behind to (1) re-read the certificate and key on SIGHUP and pass
 * them to the worker, which swaps contexts without dropping connections,
 * (2) reopen the log file on SIGHUP, (3) forward SIGTERM and exit with the
 * worker, and (4) restart the worker if it ever dies unexpectedly.
 *
 * We fork rather than re-execute ourselves (as OpenSMTPD does): the worker
 * inherits the already-validated config and the bound sockets without a
 * second parse, and the parent, which holds nothing the network can reach,
 * gains nothing from a fresh address-space layout. */
#include "core/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_login.h"
#include "auth/auth_login_store.h"
#include "auth/throttle.h"
#include "auth/verify_pool.h"
#include "core/conn.h"
#include "core/ipc.h"
#include "core/listen.h"
#include "core/privsep.h"
#include "core/server.h"
#include "core/tls.h"
#include "dkim/dkim.h"
#include "http/http_server.h"
#include "imap/imap_server.h"
#include "pop3/pop3_server.h"
#include "smtp/sched.h"
#include "smtp/smtp_server.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

const struct conn_handler *daemon_handler_for(enum listener_kind kind)
{
	switch (kind) {
	case LISTENER_SMTP:
	case LISTENER_SUBMISSION:
	case LISTENER_SUBMISSIONS:
		return &smtp_handler;
	case LISTENER_IMAP:
	case LISTENER_IMAPS:
		return &imap_handler;
	case LISTENER_POP3:
	case LISTENER_POP3S:
		return &pop3_handler;
	case LISTENER_HTTP:
	case LISTENER_HTTPS:
		return &http_handler;
	default:
		return NULL;
	}
}

int daemon_check_engines(const struct config *cfg, char *err, size_t err_size)
{
	for (size_t i = 0; i < cfg->listener_count; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		if (daemon_handler_for(l->kind) == NULL) {
			snprintf(err, err_size, "%s:%d: listen %s: this version of posthorn has no %s service yet; remove the line",
				 cfg->path, l->line, listener_kind_name(l->kind), listener_kind_name(l->kind));
			return -1;
		}
	}
	return 0;
}

/* ---- the worker ------------------------------------------------------- */

struct worker {
	struct server srv;
	int ipc;
	struct event *ipc_ev;
	struct event *sig_term, *sig_int;
	struct event *shutdown_timer;
	struct evconnlistener **listeners;
	struct listener_ctx *listener_ctx;
	size_t listener_count;
	time_t shutdown_started;
	bool aborted;
};

struct listener_ctx {
	struct worker *w;
	enum listener_kind kind;
	const struct conn_handler *handler;
};

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr, int len, void *arg)
{
	struct listener_ctx *lc = arg;
	conn_accept(&lc->w->srv, fd, addr, (socklen_t)len, lc->kind, lc->handler);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	/* EMFILE and friends: log, keep listening (libevent retries). */
	log_warn("accept");
}

static int apply_tls(struct worker *w, const struct buf *payload)
{
	uint32_t cert_len;
	if (payload->len < sizeof(cert_len))
		fatalx("ipc: short TLS message");
	memcpy(&cert_len, payload->data, sizeof(cert_len));
	if (cert_len > payload->len - sizeof(cert_len))
		fatalx("ipc: bad TLS message");
	const char *cert = payload->data + sizeof(cert_len);
	const char *key = cert + cert_len;
	size_t key_len = payload->len - sizeof(cert_len) - cert_len;
	const char *error;
	SSL_CTX *ctx = tls_ctx_new(cert, cert_len, key, key_len, &error);
	if (ctx == NULL) {
		log_warnx("tls: keeping the previous certificate: %s", error);
		return -1;
	}
	/* Open connections hold their own reference (SSL objects up-ref the ctx). */
	if (w->srv.tls != NULL)
		SSL_CTX_free(w->srv.tls);
	w->srv.tls = ctx;
	return 0;
}

static void worker_finish(struct worker *w)
{
	event_base_loopexit(w->srv.base, NULL);
}

static void shutdown_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	if (conn_count(&w->srv) == 0) {
		worker_finish(w);
		return;
	}
	if (!w->aborted && time(NULL) - w->shutdown_started >= (time_t)w->srv.cfg->shutdown_grace) {
		log_info("shutdown: grace period over, closing %zu connections", conn_count(&w->srv));
		w->aborted = true;
		conn_abort_all(&w->srv);
	}
}

static void worker_shutdown(struct worker *w)
{
	if (w->srv.shutting_down)
		return;
	w->srv.shutting_down = true;
	w->shutdown_started = time(NULL);
	log_info("shutdown: no longer accepting; %zu connections open", conn_count(&w->srv));
	for (size_t i = 0; i < w->listener_count; i++) {
		evconnlistener_free(w->listeners[i]);
		w->listeners[i] = NULL;
	}
	conn_shutdown_all(&w->srv);
	sched_shutdown(w->srv.sched);
	struct timeval tv = {0, 100 * 1000};
	w->shutdown_timer = event_new(w->srv.base, -1, EV_PERSIST, shutdown_tick, w);
	event_add(w->shutdown_timer, &tv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	worker_shutdown(arg);
}

static void ipc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct buf payload;
	buf_init(&payload, IPC_MAX_PAYLOAD);
	enum ipc_type type;
	int passed_fd;
	if (ipc_recv(w->ipc, &type, &payload, &passed_fd) == 0) {
		log_warnx("parent process is gone: shutting down");
		event_del(w->ipc_ev);
		worker_shutdown(w);
		buf_free(&payload);
		return;
	}
	switch (type) {
	case IPC_TLS:
		if (apply_tls(w, &payload) == 0)
			log_info("tls: certificate reloaded");
		break;
	case IPC_LOG_FD:
		if (passed_fd >= 0)
			log_set_fd(passed_fd);
		break;
	default:
		fatalx("ipc: unexpected message %d", (int)type);
	}
	explicit_bzero(payload.data ? payload.data : (char *)&payload, payload.data ? payload.len : 0);
	buf_free(&payload);
}

static void worker_main(struct config *cfg, int *fds, int ipc, bool drop, uid_t uid, gid_t gid)
{
	if (drop) {
		privsep_drop(uid, gid);
		/* Cleared by the credential change above, so set it after. */
		prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	struct worker *w = xmalloc(sizeof(*w));
	w->ipc = ipc;
	w->srv.cfg = cfg;
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) * 2654435761u;
	w->srv.next_session = seed;

	/* The first message is the certificate, sent before we were scheduled. */
	struct buf payload;
	buf_init(&payload, IPC_MAX_PAYLOAD);
	enum ipc_type type;
	int passed_fd;
	if (ipc_recv(ipc, &type, &payload, &passed_fd) != 1 || type != IPC_TLS)
		fatalx("worker: expected the TLS certificate from the parent");
	if (payload.len > sizeof(uint32_t) && apply_tls(w, &payload) < 0)
		fatalx("worker: the certificate cannot be used");
	explicit_bzero(payload.data, payload.len);
	buf_free(&payload);

	w->srv.base = event_base_new();
	if (w->srv.base == NULL)
		fatalx("event_base_new failed");
	const char *error;
	struct store_options so = {.backend = "sqlite", .data_dir = cfg->data_dir};
	w->srv.store = store_open(&so, &error);
	if (w->srv.store == NULL)
		fatalx("store: %s", error);
	if (store_attach_loop(w->srv.store, w->srv.base, &error) < 0)
		fatalx("store: %s", error);
	struct throttle_settings ts;
	throttle_settings_default(&ts);
	ts.max_failures = (uint32_t)cfg->auth_max_failures;
	ts.window_ms = cfg->auth_failure_window * 1000;
	ts.block_ms = cfg->auth_lockout * 1000;
	w->srv.throttle = throttle_new(&ts);
	struct verify_pool_settings vs = {.threads = (unsigned)cfg->auth_workers};
	w->srv.verify = verify_pool_new(w->srv.base, &vs, &error);
	if (w->srv.verify == NULL)
		fatalx("auth: %s", error);
	w->srv.login = auth_login_ctx_new(w->srv.base, w->srv.verify, w->srv.throttle, auth_login_store_lookup,
					  w->srv.store);
	w->srv.sched = sched_new(&w->srv, &error);
	if (w->srv.sched == NULL)
		fatalx("queue: %s", error);
	char dkim_dir[4096];
	if (cfg->dkim_dir != NULL)
		snprintf(dkim_dir, sizeof(dkim_dir), "%s", cfg->dkim_dir);
	else if (snprintf(dkim_dir, sizeof(dkim_dir), "%s/dkim", cfg->data_dir) >= (int)sizeof(dkim_dir))
		fatalx("data_dir too long");
	w->srv.dkim = dkim_signer_new(dkim_dir);

	w->listener_count = cfg->listener_count;
	w->listeners = xcalloc(cfg->listener_count ? cfg->listener_count : 1, sizeof(*w->listeners));
	w->listener_ctx = xcalloc(cfg->listener_count ? cfg->listener_count : 1, sizeof(*w->listener_ctx));
	for (size_t i = 0; i < cfg->listener_count; i++) {
		struct listener_ctx *lc = &w->listener_ctx[i];
		lc->w = w;
		lc->kind = cfg->listeners[i].kind;
		lc->handler = daemon_handler_for(lc->kind);
		w->listeners[i] = evconnlistener_new(w->srv.base, accept_cb, lc, LEV_OPT_CLOSE_ON_FREE, -1, fds[i]);
		if (w->listeners[i] == NULL)
			fatalx("evconnlistener_new failed");
		evconnlistener_set_error_cb(w->listeners[i], accept_error_cb);
		log_info("listening: %s on %s", listener_kind_name(lc->kind), cfg->listeners[i].text);
	}
	w->sig_term = evsignal_new(w->srv.base, SIGTERM, signal_cb, w);
	w->sig_int = evsignal_new(w->srv.base, SIGINT, signal_cb, w);
	evsignal_add(w->sig_term, NULL);
	evsignal_add(w->sig_int, NULL);
	w->ipc_ev = event_new(w->srv.base, ipc, EV_READ | EV_PERSIST, ipc_cb, w);
	event_add(w->ipc_ev, NULL);
	ipc_send(ipc, IPC_READY, NULL, 0, -1);
	log_info("serving as uid %d, hostname %s, data in %s", (int)getuid(), cfg->hostname, cfg->data_dir);

	event_base_dispatch(w->srv.base);

	/* Every connection is gone; pending deliveries are committed by store_close. */
	sched_free(&w->srv.sched);
	dkim_signer_free(&w->srv.dkim);
	store_close(&w->srv.store);
	auth_login_ctx_free(&w->srv.login);
	verify_pool_free(&w->srv.verify);
	throttle_free(&w->srv.throttle);
	/* Release everything, so that leak checkers see real leaks only. */
	for (size_t i = 0; i < w->listener_count; i++)
		if (w->listeners[i] != NULL)
			evconnlistener_free(w->listeners[i]);
	free(w->listeners);
	free(w->listener_ctx);
	event_free(w->sig_term);
	event_free(w->sig_int);
	event_free(w->ipc_ev);
	if (w->shutdown_timer != NULL)
		event_free(w->shutdown_timer);
	if (w->srv.tls != NULL)
		SSL_CTX_free(w->srv.tls);
	free(w->srv.ipcount);
	event_base_free(w->srv.base);
	close(w->ipc);
	free(w);
	free(fds);
	config_free(&cfg);
	log_info("shutdown complete");
	exit(0);
}

/* ---- the parent ------------------------------------------------------- */

static int send_tls(const struct config *cfg, int ipc)
{
	struct buf cert, key, msg;
	buf_init(&cert, 1);
	buf_init(&key, 1);
	buf_init(&msg, IPC_MAX_PAYLOAD);
	int r = 0;
	if (cfg->tls_cert != NULL && cfg->tls_key != NULL) {
		const char *error;
		if (tls_read_files(cfg->tls_cert, cfg->tls_key, &cert, &key, &error) < 0) {
			log_warnx("tls: %s", error);
			r = -1;
		} else {
			uint32_t cl = (uint32_t)cert.len;
			if (buf_append(&msg, &cl, sizeof(cl)) < 0 || buf_append(&msg, cert.data, cert.len) < 0 ||
			    buf_append(&msg, key.data, key.len) < 0)
				r = -1;
		}
	}
	if (r == 0 && ipc_send(ipc, IPC_TLS, msg.data ? msg.data : "", msg.len, -1) < 0)
		r = -1;
	if (key.data)
		explicit_bzero(key.data, key.len);
	if (msg.data)
		explicit_bzero(msg.data, msg.len);
	buf_free(&cert);
	buf_free(&key);
	buf_free(&msg);
	return r;
}

struct parent {
	struct config *cfg;
	int *fds;
	bool drop;
	uid_t uid;
	gid_t gid;
	pid_t worker;
	int ipc;
};

static void start_worker(struct parent *p)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fatal("socketpair");
	pid_t pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		worker_main(p->cfg, p->fds, sv[1], p->drop, p->uid, p->gid);
	}
	close(sv[1]);
	p->worker = pid;
	p->ipc = sv[0];
	if (send_tls(p->cfg, p->ipc) < 0)
		log_warnx("tls: could not send the certificate to the worker");
}

int daemon_serve(const char *config_path)
{
	char err[1024];
	struct config *cfg = config_load(config_path, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	if (daemon_check_engines(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	if (log_open(cfg->log_file, cfg->log_level) < 0) {
		fprintf(stderr, "posthorn: log_file %s: %s\n", cfg->log_file, strerror(errno));
		return 1;
	}
	struct parent p = {.cfg = cfg, .ipc = -1};
	if (geteuid() == 0) {
		if (privsep_lookup(cfg->run_user, &p.uid, &p.gid, err, sizeof(err)) < 0 ||
		    privsep_own_dir(cfg->data_dir, p.uid, p.gid, err, sizeof(err)) < 0) {
			fprintf(stderr, "posthorn: %s\n", err);
			return 1;
		}
		p.drop = true;
	} else {
		if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "posthorn: data_dir %s: %s\n", cfg->data_dir, strerror(errno));
			return 1;
		}
		log_info("not started as root: running as uid %d without changing user", (int)getuid());
	}
	/* Fail early, in the foreground, on what would make the worker fail. */
	const char *error;
	struct buf cert, key;
	buf_init(&cert, 1);
	buf_init(&key, 1);
	if (cfg->tls_cert && tls_read_files(cfg->tls_cert, cfg->tls_key, &cert, &key, &error) == 0) {
		SSL_CTX *ctx = tls_ctx_new(cert.data, cert.len, key.data, key.len, &error);
		if (ctx == NULL) {
			fprintf(stderr, "posthorn: %s\n", error);
			return 1;
		}
		SSL_CTX_free(ctx);
	} else if (cfg->tls_cert) {
		fprintf(stderr, "posthorn: %s\n", error);
		return 1;
	}
	if (key.data)
		explicit_bzero(key.data, key.len);
	buf_free(&cert);
	buf_free(&key);
	if (listen_open_all(cfg, &p.fds, err, sizeof(err)) < 0) {
		fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	start_worker(&p);
	bool stopping = false;
	time_t last_start = time(NULL);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: reloading certificate and reopening the log");
			if (log_reopen() < 0)
				log_warn("log_file %s", cfg->log_file);
			if (send_tls(cfg, p.ipc) < 0)
				log_warnx("tls: certificate not reloaded");
			if (cfg->log_file != NULL && strcmp(cfg->log_file, "-") != 0)
				ipc_send(p.ipc, IPC_LOG_FD, NULL, 0, log_get_fd());
		} else if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping)
				log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			stopping = true;
			kill(p.worker, SIGTERM);
		} else if (sig == SIGCHLD) {
			int status;
			pid_t pid;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (pid != p.worker)
					continue;
				close(p.ipc);
				if (stopping) {
					int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
					log_info("stopped");
					listen_close_all(p.fds, cfg->listener_count);
					free(p.fds);
					config_free(&cfg);
					return code;
				}
				if (WIFSIGNALED(status))
					log_error("worker killed by signal %d; restarting", WTERMSIG(status));
				else
					log_error("worker exited with status %d; restarting", WEXITSTATUS(status));
				/* Never restart in a tight loop. */
				if (time(NULL) - last_start < 5)
					sleep(2);
				last_start = time(NULL);
				start_worker(&p);
			}
		}
	}
}
