/* Line-atomic logging to stderr or a file (see log.h). */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static char *log_path;
static enum log_level log_min = LOG_LEVEL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_open(const char *path, enum log_level level)
{
	log_min = level;
	if (path == NULL || strcmp(path, "-") == 0) {
		log_fd = 2;
		free(log_path);
		log_path = NULL;
		return 0;
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	if (log_path != path) {
		free(log_path);
		log_path = strdup(path);
	}
	return 0;
}

int log_reopen(void)
{
	if (log_path == NULL)
		return 0;
	return log_open(log_path, log_min);
}

int log_get_fd(void)
{
	return log_fd;
}

void log_set_fd(int fd)
{
	if (log_fd > 2 && log_fd != fd)
		close(log_fd);
	log_fd = fd;
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

enum log_level log_level_from_name(const char *name, int *ok_r)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*ok_r = 1;
			return (enum log_level)i;
		}
	}
	*ok_r = 0;
	return LOG_LEVEL_INFO;
}

static void log_emit(enum log_level level, int with_errno, int err, const char *prefix, const char *fmt,
		     va_list ap) __attribute__((format(printf, 5, 0)));

static void log_emit(enum log_level level, int with_errno, int err, const char *prefix, const char *fmt,
		     va_list ap)
{
	if (level < log_min)
		return;
	char line[4096];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	int r = snprintf(line + n, sizeof(line) - n, ".%03dZ %s %s", (int)(tv.tv_usec / 1000),
			 level_names[level], prefix ? prefix : "");
	if (r > 0)
		n += (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n = n + (size_t)r < sizeof(line) ? n + (size_t)r : sizeof(line) - 1;
	if (with_errno && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
		if (r > 0)
			n = n + (size_t)r < sizeof(line) ? n + (size_t)r : sizeof(line) - 1;
	}
	/* Control characters from the network never reach the log raw. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(log_fd, line, n);
	(void)w;
}

#define LOG_FN(name, level, with_errno)                                  \
	void name(const char *fmt, ...)                                  \
	{                                                                \
		int err = errno;                                         \
		va_list ap;                                              \
		va_start(ap, fmt);                                       \
		log_emit(level, with_errno, err, NULL, fmt, ap);         \
		va_end(ap);                                              \
		errno = err;                                             \
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 0)

static void log_session_level(enum log_level level, uint64_t id, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void log_session_level(enum log_level level, uint64_t id, const char *fmt, va_list ap)
{
	char prefix[24];
	snprintf(prefix, sizeof(prefix), "%016llx ", (unsigned long long)id);
	log_emit(level, 0, 0, prefix, fmt, ap);
}

void log_session(uint64_t id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_session_level(LOG_LEVEL_INFO, id, fmt, ap);
	va_end(ap);
}

void log_session_debug(uint64_t id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_session_level(LOG_LEVEL_DEBUG, id, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, 1, err, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, 0, 0, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
