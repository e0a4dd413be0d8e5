/* Logging: one line per event, written with a single write(2) so that lines
 * from threads and processes never interleave.
 *
 * Line format:  2026-11-26T14:50:00.123Z info 1f3a9c0d2e4b5a60 smtp connected address=192.0.2.1
 * Session events put the 16-hex-digit session id first (log_session), then
 * key=value pairs. Never log a password or an AUTH payload. */
#ifndef POSTHORN_UTIL_LOG_H
#define POSTHORN_UTIL_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* path NULL or "-" logs to stderr. Returns 0, or -1 with errno set. */
int log_open(const char *path, enum log_level level);
/* Reopens the same path (after log rotation, on SIGHUP). */
int log_reopen(void);
void log_set_level(enum log_level level);
/* The descriptor log lines go to, and replacing it (a worker receiving the
 * parent's reopened log file). */
int log_get_fd(void);
void log_set_fd(int fd);
enum log_level log_level_from_name(const char *name, int *ok_r);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Session event: "<id> <message>" at info level (debug with _debug). */
void log_session(uint64_t id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_session_debug(uint64_t id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log and exit(1); fatal appends strerror(errno). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
