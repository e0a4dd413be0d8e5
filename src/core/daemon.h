/* daemon: `posthorn serve` (see daemon.c for the process layout). */
#ifndef POSTHORN_CORE_DAEMON_H
#define POSTHORN_CORE_DAEMON_H

#include <stddef.h>

#include "core/config.h"
#include "core/conn.h"

/* Runs the server in the foreground until SIGTERM/SIGINT. Returns the exit code. */
int daemon_serve(const char *config_path);
/* The engine serving a listener kind, or NULL when this build has none. */
const struct conn_handler *daemon_handler_for(enum listener_kind kind);
/* Fails (with a message naming the config line) on listeners without an engine. */
int daemon_check_engines(const struct config *cfg, char *err, size_t err_size);

#endif
