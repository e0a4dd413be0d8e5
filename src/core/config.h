/* config: the configuration file, how the server runs.
 *
 * Format: one setting per line, "key value", '#' starts a comment, blank
 * lines ignored. "listen KIND ADDRESS:PORT" may repeat. Relative paths are
 * relative to the directory of the config file. Every key, its type, default
 * and documentation live in one table (config.c), from which both the parser
 * and `posthorn check --reference` (the README's reference) are made.
 *
 * Accounts, domains, aliases and mail are not here: they live in the data
 * folder, managed by the CLI. */
#ifndef POSTHORN_CORE_CONFIG_H
#define POSTHORN_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "util/log.h"

enum listener_kind {
	LISTENER_SMTP,        /* port 25: mail from the internet, STARTTLS offered */
	LISTENER_SUBMISSION,  /* port 587: users' clients, STARTTLS then AUTH */
	LISTENER_SUBMISSIONS, /* port 465: implicit TLS */
	LISTENER_IMAP,        /* 143, STARTTLS */
	LISTENER_IMAPS,       /* 993, implicit TLS */
	LISTENER_POP3,        /* 110, STLS */
	LISTENER_POP3S,       /* 995, implicit TLS */
	LISTENER_HTTP,        /* webmail */
	LISTENER_HTTPS,       /* webmail, TLS */
	LISTENER_KIND_COUNT
};

const char *listener_kind_name(enum listener_kind kind);
bool listener_kind_implicit_tls(enum listener_kind kind);

struct config_listener {
	enum listener_kind kind;
	char *text;                    /* as written: "127.0.0.1:2525" */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int line;
};

struct config {
	char *path;                    /* the file read */
	char *dir;                     /* its directory: base of relative paths */

	char *hostname;
	char *data_dir;
	char *run_user;
	char *log_file;
	enum log_level log_level;
	char *tls_cert;
	char *tls_key;

	struct config_listener *listeners;
	size_t listener_count;

	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	uint64_t shutdown_grace;

	uint64_t smtp_timeout;
	uint64_t smtp_max_line;
	uint64_t max_message_size;
	uint64_t max_recipients;
	uint64_t max_errors;
	uint64_t smtp_greeting_delay;

	uint64_t imap_timeout;
	uint64_t imap_max_line;
	uint64_t pop3_timeout;
	uint64_t http_timeout;
	uint64_t http_session_idle;
	uint64_t http_session_lifetime;
	bool allow_plaintext_loopback;

	uint64_t auth_max_failures;
	uint64_t auth_failure_window;
	uint64_t auth_lockout;
	uint64_t auth_workers;

	uint64_t default_quota;

	/* Outbound delivery (smtp/sched.c, dns/, dkim/). */
	char *dns_resolver;
	char *dns_trust_anchor;
	char *queue_retry;              /* durations, see config_retry_schedule() */
	uint64_t queue_lifetime;
	uint64_t queue_delay_notice;
	uint64_t outbound_max_connections;
	uint64_t outbound_max_per_domain;
	uint64_t outbound_connect_timeout;
	bool outbound_tls;
	char *outbound_tls_required;    /* domains, space-separated, or NULL */
	char *relay_host;               /* HOST[:PORT], or NULL: MX lookups */
	char *dkim_dir;                 /* NULL: data_dir/dkim */
};

/* Reads and validates path. On error returns NULL and fills err (a message
 * naming the file, the line and what to fix). */
struct config *config_load(const char *path, char *err, size_t err_size);
/* Checks that the files the config names can be read (serve, check). */
int config_check_files(const struct config *cfg, char *err, size_t err_size);
/* The defaults, with no listeners (tests and `init`). */
struct config *config_defaults(void);
void config_free(struct config **cfg);

/* Finds the config file: the given path, else ./posthorn.conf, else
 * /etc/posthorn/posthorn.conf. Returns the path to use (static or path). */
const char *config_locate(const char *given);

/* Parses a list of durations ("1m 5m 1h", also comma-separated) into a
 * malloc'd array of seconds (each at least 1). Returns the count (>= 1) or
 * -1 with a static message. */
int config_retry_schedule(const char *text, uint64_t **secs_r, const char **error_r);

/* Splits relay_host ("HOST", "HOST:PORT", "[IP]:PORT", "[IPv6:...]") into a
 * host (brackets removed, "IPv6:" kept out) and a port (default 25).
 * Returns 0 or -1 with a static message. */
int config_relay_host(const char *text, char *host, size_t host_size, uint16_t *port_r, const char **error_r);

/* Writes the reference of every key (Markdown table) to out. */
void config_write_reference(FILE *out);

/* Resolves "HOST:PORT", "[V6]:PORT" or "*:PORT" into addresses; "*" gives
 * both 0.0.0.0 and [::]. Returns the number of addresses (1 or 2) or -1. */
int config_parse_address(const char *text, struct sockaddr_storage out[2], socklen_t out_len[2],
			 const char **error_r);

#endif
