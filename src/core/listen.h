/* listen: binding the configured listeners (as root, before privileges are
 * dropped). */
#ifndef POSTHORN_CORE_LISTEN_H
#define POSTHORN_CORE_LISTEN_H

#include <stddef.h>

#include "core/config.h"

/* Binds every listener of cfg; fds_r[i] belongs to cfg->listeners[i].
 * Returns 0, or -1 with a message naming the listener, its config line and
 * the reason (closing what was opened). */
int listen_open_all(const struct config *cfg, int **fds_r, char *err, size_t err_size);
void listen_close_all(int *fds, size_t count);

#endif
