/* listen: non-blocking listening sockets for every configured address. */
#include "core/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/mem.h"

static int open_one(const struct config_listener *l, const char **error_r)
{
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0) {
		int e = errno;
		close(fd);
		*error_r = e == EACCES ? "permission denied (ports below 1024 need root)"
		           : e == EADDRINUSE ? "address already in use (another server is listening there)"
					     : strerror(e);
		return -1;
	}
	if (listen(fd, 511) < 0) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

int listen_open_all(const struct config *cfg, int **fds_r, char *err, size_t err_size)
{
	int *fds = xcalloc(cfg->listener_count ? cfg->listener_count : 1, sizeof(int));
	for (size_t i = 0; i < cfg->listener_count; i++) {
		const char *error;
		fds[i] = open_one(&cfg->listeners[i], &error);
		if (fds[i] < 0) {
			snprintf(err, err_size, "%s:%d: listen %s %s: %s", cfg->path, cfg->listeners[i].line,
				 listener_kind_name(cfg->listeners[i].kind), cfg->listeners[i].text, error);
			listen_close_all(fds, i);
			free(fds);
			return -1;
		}
	}
	*fds_r = fds;
	return 0;
}

void listen_close_all(int *fds, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
