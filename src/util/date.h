/* date: the date formats of mail, parsed and formatted without locale or
 * time-zone database: RFC 5322 date-time (Date:, Received:) and IMAP's date
 * ("1-Feb-1994") and date-time ("26-Nov-2026 14:50:00 +0000").
 *
 * Times are time_t in UTC; a zone is an offset in minutes east of UTC
 * (-0130 -> -90). Parsers take a (ptr, len) view, need no NUL and never read
 * past len. */
#ifndef POSTHORN_UTIL_DATE_H
#define POSTHORN_UTIL_DATE_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

/* Parses an RFC 5322 date-time, liberally: optional day-of-week (with or
 * without its comma), comments (CFWS) anywhere, optional seconds, 2-digit
 * years (< 50 -> 20xx, else 19xx) and 3-digit years (+1900), obsolete zones
 * (UT, GMT, EST/EDT/CST/CDT/MST/MDT/PST/PDT, military letters = +0000),
 * a missing zone (= +0000), month names in any case. Junk, out-of-range
 * fields and trailing words that are not comments give -1.
 * On success returns 0 and sets *t_r (UTC) and, if tz_r, *tz_r. */
int date_parse_rfc5322(const char *s, size_t len, time_t *t_r, int *tz_r);

/* Appends "Thu, 26 Nov 2026 14:50:00 +0000": t shown in zone tz_min.
 * Returns 0, or -1 when out is full or the year is out of 0..9999. */
int date_format_rfc5322(time_t t, int tz_min, struct buf *out);

/* Appends IMAP date-time "26-Nov-2026 14:50:00 +0000" (day padded with a
 * space to two characters as RFC 3501 date-day-fixed wants: " 1-Feb-1994"),
 * without the surrounding quotes. Returns 0 or -1 as above. */
int date_format_imap(time_t t, int tz_min, struct buf *out);

/* Parses IMAP date "1-Feb-1994" / "01-Feb-1994" (SEARCH BEFORE/ON/SINCE)
 * to midnight UTC of that day. Returns 0 or -1. */
int date_parse_imap_date(const char *s, size_t len, time_t *t_r);

/* Parses IMAP date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (APPEND); the day may
 * be " 1", "1" or "01". Returns 0 or -1; sets *t_r (UTC) and *tz_r. */
int date_parse_imap_datetime(const char *s, size_t len, time_t *t_r, int *tz_r);

/* The local zone's offset from UTC at time t, in minutes east (for
 * Received: and Date: fields we write). */
int date_local_offset(time_t t);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
long long date_days_from_civil(long long y, unsigned m, unsigned d);

#endif
