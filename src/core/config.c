/* config: parsing and validating posthorn.conf (see config.h).
 *
 * The key table below is the single source of truth: the parser, the
 * defaults and the reference printed by `posthorn check --reference` all
 * come from it, so the documentation cannot drift from the code. */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/dns.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strnum.h"

static const char *const kind_names[LISTENER_KIND_COUNT] = {
	"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http", "https",
};

const char *listener_kind_name(enum listener_kind kind)
{
	return kind < LISTENER_KIND_COUNT ? kind_names[kind] : "?";
}

bool listener_kind_implicit_tls(enum listener_kind kind)
{
	return kind == LISTENER_SUBMISSIONS || kind == LISTENER_IMAPS || kind == LISTENER_POP3S ||
	       kind == LISTENER_HTTPS;
}

enum key_type { KEY_STRING, KEY_PATH, KEY_SIZE, KEY_SECONDS, KEY_COUNT, KEY_BOOL, KEY_LOGLEVEL };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *def;     /* default as text; NULL = none */
	const char *doc;
};

#define K(name, type, field, def, doc) {name, type, offsetof(struct config, field), def, doc}

static const struct key keys[] = {
	K("hostname", KEY_STRING, hostname, NULL,
	  "Name of this mail server, used in greetings, Received headers and bounces. Default: the system host name."),
	K("data_dir", KEY_PATH, data_dir, "data",
	  "Folder of accounts, mailboxes, mail and the outbound queue (owned by run_user)."),
	K("run_user", KEY_STRING, run_user, "posthorn",
	  "Unprivileged user the server switches to after binding its ports when started as root."),
	K("log_file", KEY_PATH, log_file, "-", "Where log lines go; \"-\" is standard error."),
	K("log_level", KEY_LOGLEVEL, log_level, "info", "debug, info, warn or error."),
	K("tls_cert", KEY_PATH, tls_cert, NULL,
	  "PEM certificate chain (leaf first). Required when any listener uses TLS. Reloaded on SIGHUP."),
	K("tls_key", KEY_PATH, tls_key, NULL, "PEM private key of tls_cert. Reloaded on SIGHUP."),
	K("max_connections", KEY_COUNT, max_connections, "2000", "Connections open at once, all services together."),
	K("max_connections_per_ip", KEY_COUNT, max_connections_per_ip, "50",
	  "Connections open at once from one client address (IPv6: one /64)."),
	K("shutdown_grace", KEY_SECONDS, shutdown_grace, "10s",
	  "On SIGTERM, how long transactions in progress may take to finish before they are aborted."),
	K("smtp_timeout", KEY_SECONDS, smtp_timeout, "5m", "Idle time after which an SMTP session is closed (RFC 5321 4.5.3.2)."),
	K("smtp_max_line", KEY_SIZE, smtp_max_line, "4096", "Longest SMTP command line accepted (RFC 5321 minimum: 512)."),
	K("max_message_size", KEY_SIZE, max_message_size, "50M", "Largest message accepted (advertised as SIZE)."),
	K("max_recipients", KEY_COUNT, max_recipients, "1000", "Recipients per message (RFC 5321 minimum: 100)."),
	K("max_errors", KEY_COUNT, max_errors, "20", "Protocol errors per session before it is closed."),
	K("smtp_greeting_delay", KEY_SECONDS, smtp_greeting_delay, "0s",
	  "Pause before the SMTP greeting on port 25; clients that talk first are refused (a spam trap)."),
	K("imap_timeout", KEY_SECONDS, imap_timeout, "30m", "Idle time after which an IMAP session is closed (RFC 9051: at least 30m)."),
	K("imap_max_line", KEY_SIZE, imap_max_line, "64K", "Longest IMAP command line (literals not counted)."),
	K("pop3_timeout", KEY_SECONDS, pop3_timeout, "10m", "Idle time after which a POP3 session is closed (RFC 1939: at least 10m)."),
	K("http_timeout", KEY_SECONDS, http_timeout, "2m", "Idle time after which a webmail connection is closed."),
	K("http_session_idle", KEY_SECONDS, http_session_idle, "30m",
	  "Webmail: a login session ends after this long without a request."),
	K("http_session_lifetime", KEY_SECONDS, http_session_lifetime, "7d",
	  "Webmail: a login session ends after this long, however active."),
	K("allow_plaintext_loopback", KEY_BOOL, allow_plaintext_loopback, "no",
	  "Allow passwords without TLS from 127.0.0.0/8 and ::1 (scripts on the same machine)."),
	K("auth_max_failures", KEY_COUNT, auth_max_failures, "10",
	  "Failed logins from one address within auth_failure_window before it is refused."),
	K("auth_failure_window", KEY_SECONDS, auth_failure_window, "10m", "Window in which failed logins are counted."),
	K("auth_lockout", KEY_SECONDS, auth_lockout, "10m", "How long an address that failed too often is refused."),
	K("auth_workers", KEY_COUNT, auth_workers, "0", "Threads that check password hashes; 0 = one per CPU."),
	K("default_quota", KEY_SIZE, default_quota, "0", "Storage quota of new users; 0 = unlimited."),
	K("dns_resolver", KEY_STRING, dns_resolver, "system",
	  "DNS for outbound mail: \"system\" (the servers of /etc/resolv.conf), or forwarders ADDRESS[:PORT] "
	  "separated by spaces ([IPv6]:PORT)."),
	K("dns_trust_anchor", KEY_STRING, dns_trust_anchor, "auto",
	  "DNSSEC validation: \"auto\" (the root key of Debian's dns-root-data when installed), \"none\", or the "
	  "path of a trust-anchor file."),
	K("queue_retry", KEY_STRING, queue_retry, "5m 10m 20m 40m 1h 2h 3h 4h",
	  "Waits between delivery attempts of a deferred recipient; the last one repeats."),
	K("queue_lifetime", KEY_SECONDS, queue_lifetime, "5d",
	  "How long undeliverable mail is retried before it is bounced to its sender."),
	K("queue_delay_notice", KEY_SECONDS, queue_delay_notice, "4h",
	  "After this long in the queue the sender gets a delay notice (once); 0 = never."),
	K("outbound_max_connections", KEY_COUNT, outbound_max_connections, "100",
	  "Outbound SMTP connections open at once, all destinations together."),
	K("outbound_max_per_domain", KEY_COUNT, outbound_max_per_domain, "20",
	  "Outbound SMTP connections open at once to one destination domain."),
	K("outbound_connect_timeout", KEY_SECONDS, outbound_connect_timeout, "30s",
	  "How long to wait for a remote server to accept a connection."),
	K("outbound_tls", KEY_BOOL, outbound_tls, "yes",
	  "Use STARTTLS when the remote server offers it (opportunistic; certificates are not verified)."),
	K("outbound_tls_required", KEY_STRING, outbound_tls_required, NULL,
	  "Domains (space-separated) to which mail goes only over TLS; without STARTTLS it waits in the queue."),
	K("relay_host", KEY_STRING, relay_host, NULL,
	  "Send all outbound mail through this server (HOST[:PORT], [IP]:PORT) instead of looking up MX records."),
	K("dkim_dir", KEY_PATH, dkim_dir, NULL,
	  "Folder of DKIM keys (DOMAIN/SELECTOR.pem, made by `posthorn dkim keygen`). Default: data_dir/dkim."),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char listen_doc[] =
	"listen KIND ADDRESS:PORT — a listener; repeat for each. KIND is smtp, submission, submissions, imap, imaps, "
	"pop3, pop3s, http or https. ADDRESS is an IPv4 address, [IPv6], or * for all addresses of both families.";

void config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type == KEY_STRING || keys[i].type == KEY_PATH)
			free(*(char **)((char *)cfg + keys[i].offset));
	}
	for (size_t i = 0; i < cfg->listener_count; i++)
		free(cfg->listeners[i].text);
	free(cfg->listeners);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
	*cfgp = NULL;
}

/* Sets one key from text. Returns 0 or -1 with *error_r. */
static int set_key(struct config *cfg, const struct key *k, const char *value, const char **error_r)
{
	void *field = (char *)cfg + k->offset;
	uint64_t v;
	switch (k->type) {
	case KEY_STRING:
	case KEY_PATH:
		if (*value == '\0') {
			*error_r = "empty value";
			return -1;
		}
		free(*(char **)field);
		if (k->type == KEY_PATH && value[0] != '/' && strcmp(value, "-") != 0 && cfg->dir != NULL) {
			struct buf b;
			buf_init(&b, 8192);
			if (buf_printf(&b, "%s/%s", cfg->dir, value) < 0) {
				buf_free(&b);
				*error_r = "path too long";
				return -1;
			}
			*(char **)field = buf_steal(&b, NULL);
		} else
			*(char **)field = xstrdup(value);
		return 0;
	case KEY_SIZE:
		if (str_to_size(value, &v) < 0) {
			*error_r = "expected a size: a number with an optional K, M or G suffix (50M)";
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	case KEY_SECONDS:
		if (str_to_seconds(value, &v) < 0) {
			*error_r = "expected a duration: a number with an optional s, m, h or d suffix (5m)";
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	case KEY_COUNT:
		if (str_to_u64(value, &v) < 0) {
			*error_r = "expected a whole number";
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	case KEY_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "on") == 0)
			*(bool *)field = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "off") == 0)
			*(bool *)field = false;
		else {
			*error_r = "expected yes or no";
			return -1;
		}
		return 0;
	case KEY_LOGLEVEL: {
		int ok;
		enum log_level l = log_level_from_name(value, &ok);
		if (!ok) {
			*error_r = "expected debug, info, warn or error";
			return -1;
		}
		*(enum log_level *)field = l;
		return 0;
	}
	}
	*error_r = "internal: bad key type";
	return -1;
}

struct config *config_defaults(void)
{
	struct config *cfg = xmalloc(sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		const char *error;
		if (keys[i].def != NULL && set_key(cfg, &keys[i], keys[i].def, &error) < 0)
			fatalx("internal: default of %s: %s", keys[i].name, error);
	}
	char host[256];
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	cfg->hostname = xstrdup(host);
	return cfg;
}

int config_parse_address(const char *text, struct sockaddr_storage out[2], socklen_t out_len[2],
			 const char **error_r)
{
	const char *colon = strrchr(text, ':');
	if (colon == NULL || colon[1] == '\0') {
		*error_r = "expected ADDRESS:PORT, [IPv6]:PORT or *:PORT";
		return -1;
	}
	uint32_t port;
	if (str_to_u32(colon + 1, &port) < 0 || port == 0 || port > 65535) {
		*error_r = "bad port: expected 1-65535";
		return -1;
	}
	size_t hlen = (size_t)(colon - text);
	char host[INET6_ADDRSTRLEN + 2];
	if (hlen == 0 || hlen >= sizeof(host)) {
		*error_r = "bad address";
		return -1;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	memset(out, 0, 2 * sizeof(out[0]));
	if (strcmp(host, "*") == 0) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out[0];
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		out_len[0] = sizeof(*s4);
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out[1];
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_any;
		out_len[1] = sizeof(*s6);
		return 2;
	}
	if (host[0] == '[') {
		if (hlen < 3 || host[hlen - 1] != ']') {
			*error_r = "bad IPv6 address: expected [ADDRESS]:PORT";
			return -1;
		}
		host[hlen - 1] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out[0];
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) {
			*error_r = "bad IPv6 address";
			return -1;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		out_len[0] = sizeof(*s6);
		return 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&out[0];
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
		*error_r = "bad IPv4 address (write IPv6 addresses in brackets: [::1]:25)";
		return -1;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	out_len[0] = sizeof(*s4);
	return 1;
}

static int add_listener(struct config *cfg, const char *kind, const char *addr, int line, const char **error_r)
{
	enum listener_kind k = LISTENER_KIND_COUNT;
	for (int i = 0; i < LISTENER_KIND_COUNT; i++)
		if (strcmp(kind, kind_names[i]) == 0)
			k = (enum listener_kind)i;
	if (k == LISTENER_KIND_COUNT) {
		*error_r = "unknown listener kind: expected smtp, submission, submissions, imap, imaps, pop3, pop3s, "
			   "http or https";
		return -1;
	}
	struct sockaddr_storage ss[2];
	socklen_t len[2];
	int n = config_parse_address(addr, ss, len, error_r);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		for (size_t j = 0; j < cfg->listener_count; j++) {
			if (cfg->listeners[j].addr_len == len[i] && memcmp(&cfg->listeners[j].addr, &ss[i], len[i]) == 0) {
				*error_r = "this address and port is already used by another listen line";
				return -1;
			}
		}
		cfg->listeners = xreallocarray(cfg->listeners, cfg->listener_count + 1, sizeof(*cfg->listeners));
		struct config_listener *l = &cfg->listeners[cfg->listener_count++];
		memset(l, 0, sizeof(*l));
		l->kind = k;
		l->text = xstrdup(addr);
		l->addr = ss[i];
		l->addr_len = len[i];
		l->line = line;
	}
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Suggests the known key nearest to a misspelt one (shares a prefix). */
static const char *suggest(const char *name)
{
	const char *best = NULL;
	size_t best_len = 2;
	for (size_t i = 0; i < NKEYS; i++) {
		size_t n = 0;
		while (name[n] && name[n] == keys[i].name[n])
			n++;
		if (n > best_len) {
			best_len = n;
			best = keys[i].name;
		}
	}
	return best;
}

static int validate(struct config *cfg, char *err, size_t err_size)
{
	/* Every kind of listener offers TLS, by STARTTLS or implicitly. */
	if (cfg->listener_count > 0 && (cfg->tls_cert == NULL || cfg->tls_key == NULL)) {
		snprintf(err, err_size,
			 "%s: listeners are configured but tls_cert and tls_key are not: every service offers TLS "
			 "(create a certificate with `posthorn init`, or set both keys)",
			 cfg->path);
		return -1;
	}
	if (cfg->max_recipients < 1 || cfg->max_connections < 1 || cfg->max_connections_per_ip < 1) {
		snprintf(err, err_size, "%s: max_recipients, max_connections and max_connections_per_ip must be at least 1",
			 cfg->path);
		return -1;
	}
	if (cfg->smtp_max_line < 512) {
		snprintf(err, err_size, "%s: smtp_max_line must be at least 512 (RFC 5321 4.5.3.1.4)", cfg->path);
		return -1;
	}
	if (cfg->imap_max_line < 1024) {
		snprintf(err, err_size, "%s: imap_max_line must be at least 1024", cfg->path);
		return -1;
	}
	const char *error;
	if (dns_check_resolver(cfg->dns_resolver, &error) < 0) {
		snprintf(err, err_size, "%s: dns_resolver %s: %s", cfg->path, cfg->dns_resolver, error);
		return -1;
	}
	uint64_t *retry;
	if (config_retry_schedule(cfg->queue_retry, &retry, &error) < 0) {
		snprintf(err, err_size, "%s: queue_retry %s: %s", cfg->path, cfg->queue_retry, error);
		return -1;
	}
	free(retry);
	char host[256];
	uint16_t port;
	if (cfg->relay_host != NULL && config_relay_host(cfg->relay_host, host, sizeof(host), &port, &error) < 0) {
		snprintf(err, err_size, "%s: relay_host %s: %s", cfg->path, cfg->relay_host, error);
		return -1;
	}
	if (cfg->outbound_max_connections < 1 || cfg->outbound_max_per_domain < 1 || cfg->queue_lifetime < 1) {
		snprintf(err, err_size, "%s: outbound_max_connections, outbound_max_per_domain and queue_lifetime must be "
			 "at least 1", cfg->path);
		return -1;
	}
	return 0;
}

struct config *config_load(const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_size, "%s: %s (create one with `posthorn init --domain YOUR.DOMAIN`)", path,
			 strerror(errno));
		return NULL;
	}
	struct config *cfg = config_defaults();
	cfg->path = xstrdup(path);
	char *slash = strrchr(cfg->path, '/');
	if (slash == NULL)
		cfg->dir = getcwd(NULL, 0);
	else
		cfg->dir = xstrndup(cfg->path, (size_t)(slash - cfg->path == 0 ? 1 : slash - cfg->path));
	if (cfg->dir == NULL)
		cfg->dir = xstrdup(".");
	if (cfg->dir[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		struct buf b;
		buf_init(&b, 8192);
		if (cwd != NULL && buf_printf(&b, "%s/%s", cwd, cfg->dir) == 0) {
			free(cfg->dir);
			cfg->dir = buf_steal(&b, NULL);
		}
		buf_free(&b);
		free(cwd);
	}
	/* Defaults that are paths are relative to the config's directory too. */
	for (size_t i = 0; i < NKEYS; i++) {
		const char *error;
		if (keys[i].type == KEY_PATH && keys[i].def != NULL && set_key(cfg, &keys[i], keys[i].def, &error) < 0)
			fatalx("internal: default of %s: %s", keys[i].name, error);
	}

	char line[4096];
	int lineno = 0;
	bool seen[NKEYS] = {false};
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, err_size, "%s:%d: line too long (more than %zu bytes)", path, lineno,
				 sizeof(line) - 2);
			goto fail;
		}
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		char *s = trim(line);
		if (*s == '\0')
			continue;
		char *value = s + strcspn(s, " \t");
		if (*value != '\0')
			*value++ = '\0';
		value = trim(value);
		const char *error = NULL;
		if (strcmp(s, "listen") == 0) {
			char *addr = value + strcspn(value, " \t");
			if (*addr != '\0')
				*addr++ = '\0';
			addr = trim(addr);
			if (*value == '\0' || *addr == '\0') {
				snprintf(err, err_size, "%s:%d: expected: listen KIND ADDRESS:PORT", path, lineno);
				goto fail;
			}
			if (add_listener(cfg, value, addr, lineno, &error) < 0) {
				snprintf(err, err_size, "%s:%d: listen %s %s: %s", path, lineno, value, addr, error);
				goto fail;
			}
			continue;
		}
		size_t i;
		for (i = 0; i < NKEYS; i++)
			if (strcmp(s, keys[i].name) == 0)
				break;
		if (i == NKEYS) {
			const char *near = suggest(s);
			snprintf(err, err_size, "%s:%d: unknown setting \"%s\"%s%s%s", path, lineno, s,
				 near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
			goto fail;
		}
		if (seen[i]) {
			snprintf(err, err_size, "%s:%d: %s is set twice", path, lineno, s);
			goto fail;
		}
		seen[i] = true;
		if (*value == '\0') {
			snprintf(err, err_size, "%s:%d: %s needs a value", path, lineno, s);
			goto fail;
		}
		if (set_key(cfg, &keys[i], value, &error) < 0) {
			snprintf(err, err_size, "%s:%d: %s %s: %s", path, lineno, s, value, error);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, err_size, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	if (validate(cfg, err, err_size) < 0) {
		config_free(&cfg);
		return NULL;
	}
	return cfg;
fail:
	fclose(f);
	config_free(&cfg);
	return NULL;
}

int config_check_files(const struct config *cfg, char *err, size_t err_size)
{
	const char *files[] = {cfg->tls_cert, cfg->tls_key};
	const char *names[] = {"tls_cert", "tls_key"};
	for (int i = 0; i < 2; i++) {
		if (files[i] != NULL && access(files[i], R_OK) < 0) {
			snprintf(err, err_size, "%s: %s %s: %s", cfg->path, names[i], files[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

int config_retry_schedule(const char *text, uint64_t **secs_r, const char **error_r)
{
	uint64_t *v = NULL;
	size_t n = 0;
	const char *p = text ? text : "";
	*secs_r = NULL;
	while (*p) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, " \t,");
		if (len == 0)
			break;
		char word[32];
		uint64_t secs;
		if (len >= sizeof(word)) {
			free(v);
			*error_r = "expected durations such as \"5m 10m 1h\"";
			return -1;
		}
		memcpy(word, p, len);
		word[len] = '\0';
		if (str_to_seconds(word, &secs) < 0 || secs == 0 || n >= 100) {
			free(v);
			*error_r = "expected up to 100 durations of at least 1s, such as \"5m 10m 1h\"";
			return -1;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = secs;
		p += len;
	}
	if (n == 0) {
		*error_r = "expected at least one duration";
		return -1;
	}
	*secs_r = v;
	return (int)n;
}

int config_relay_host(const char *text, char *host, size_t host_size, uint16_t *port_r, const char **error_r)
{
	const char *h = text, *end = text + strlen(text), *colon = NULL;
	size_t hn;
	uint32_t port = 25;
	if (*h == '[') {
		const char *close = strchr(h, ']');
		if (close == NULL) {
			*error_r = "missing ] after the address";
			return -1;
		}
		h++;
		if (strncasecmp(h, "IPv6:", 5) == 0)
			h += 5;
		hn = (size_t)(close - h);
		if (close[1] == ':')
			colon = close + 1;
		else if (close[1] != '\0') {
			*error_r = "expected [ADDRESS]:PORT";
			return -1;
		}
	} else {
		colon = strrchr(h, ':');
		if (colon != NULL && strchr(h, ':') != colon) {
			*error_r = "write IPv6 addresses in brackets: [2001:db8::1]:25";
			return -1;
		}
		hn = colon ? (size_t)(colon - h) : (size_t)(end - h);
	}
	if (colon != NULL && (str_to_u32(colon + 1, &port) < 0 || port == 0 || port > 65535)) {
		*error_r = "bad port: expected 1-65535";
		return -1;
	}
	if (hn == 0 || hn >= host_size) {
		*error_r = "expected HOST[:PORT] or [ADDRESS]:PORT";
		return -1;
	}
	memcpy(host, h, hn);
	host[hn] = '\0';
	*port_r = (uint16_t)port;
	return 0;
}

const char *config_locate(const char *given)
{
	if (given != NULL)
		return given;
	if (access("posthorn.conf", F_OK) == 0)
		return "posthorn.conf";
	return "/etc/posthorn/posthorn.conf";
}

void config_write_reference(FILE *out)
{
	static const char *const type_names[] = {"text", "path", "size", "duration", "number", "yes/no", "level"};
	fprintf(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
	for (size_t i = 0; i < NKEYS; i++)
		fprintf(out, "| `%s` | %s | %s | %s |\n", keys[i].name, type_names[keys[i].type],
			keys[i].def ? keys[i].def : "—", keys[i].doc);
	fprintf(out, "| `listen` | kind, address | — | %s |\n", listen_doc);
}
