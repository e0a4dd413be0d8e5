/* Mail date formats (see date.h).
 *
 * No locale, no TZ database, no timegm(): civil dates are converted with
 * the days-from-civil algorithm, so results are the same on every machine
 * and in every thread. The RFC 5322 parser is a small tokenizer (atoms,
 * numbers, punctuation, comments skipped) followed by a fixed grammar. */
#include "util/date.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char wdays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};

long long date_days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y_r, unsigned *m_r, unsigned *d_r)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long y = yoe + era * 400;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	*d_r = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m_r = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = y + (*m_r <= 2);
}

static bool is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(long long y, unsigned m)
{
	static const unsigned char md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

static int month_from_name(const char *s, size_t n)
{
	if (n != 3)
		return -1;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(s, months[i], 3) == 0)
			return i + 1;
	}
	return -1;
}

static int make_time(long long y, unsigned mon, unsigned d, unsigned h, unsigned mi, unsigned sec, int tz_min,
		     time_t *t_r)
{
	if (y < 0 || y > 9999 || mon < 1 || mon > 12 || d < 1 || d > month_days(y, mon) || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	if (sec == 60)
		sec = 59; /* leap second: time_t cannot say it */
	long long t =
	    date_days_from_civil(y, mon, d) * 86400LL + h * 3600LL + mi * 60LL + sec - tz_min * 60LL;
	if ((long long)(time_t)t != t)
		return -1;
	*t_r = (time_t)t;
	return 0;
}

/* ---- RFC 5322 ------------------------------------------------------------ */

enum tok_type { TOK_END, TOK_NUM, TOK_WORD, TOK_CHAR };

struct tok {
	enum tok_type type;
	const char *p;
	size_t n;
};

struct lexer {
	const char *s;
	size_t len, pos;
	bool bad;
};

static void skip_cfws(struct lexer *lx)
{
	int depth = 0;
	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos];
		if (depth > 0) {
			if (c == '\\' && lx->pos + 1 < lx->len)
				lx->pos++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			lx->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->pos++;
		} else if (c == '(') {
			depth = 1;
			lx->pos++;
		} else
			break;
	}
}

static struct tok next_tok(struct lexer *lx)
{
	struct tok t = {TOK_END, NULL, 0};
	skip_cfws(lx);
	if (lx->pos >= lx->len)
		return t;
	const char *p = lx->s + lx->pos;
	size_t n = 0, left = lx->len - lx->pos;
	char c = p[0];
	if (c >= '0' && c <= '9') {
		while (n < left && p[n] >= '0' && p[n] <= '9')
			n++;
		t.type = TOK_NUM;
	} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
		while (n < left && ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z')))
			n++;
		t.type = TOK_WORD;
	} else {
		n = 1;
		t.type = TOK_CHAR;
	}
	t.p = p;
	t.n = n;
	lx->pos += n;
	return t;
}

static bool tok_num(const struct tok *t, size_t minlen, size_t maxlen, unsigned *v)
{
	if (t->type != TOK_NUM || t->n < minlen || t->n > maxlen)
		return false;
	unsigned x = 0;
	for (size_t i = 0; i < t->n; i++)
		x = x * 10 + (unsigned)(t->p[i] - '0');
	*v = x;
	return true;
}

static bool tok_is(const struct tok *t, char c)
{
	return t->type == TOK_CHAR && t->p[0] == c;
}

static bool obs_zone(const char *p, size_t n, int *tz)
{
	static const struct {
		const char *name;
		int min;
	} zones[] = {
	    {"UT", 0},	      {"UTC", 0},	{"GMT", 0},	  {"Z", 0},
	    {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
	    {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60},
	};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == n && strncasecmp(zones[i].name, p, n) == 0) {
			*tz = zones[i].min;
			return true;
		}
	}
	if (n == 1 && ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')) && p[0] != 'j' &&
	    p[0] != 'J') {
		/* RFC 5322 4.3: military zones are unreliable, take them as -0000 */
		*tz = 0;
		return true;
	}
	return false;
}

int date_parse_rfc5322(const char *s, size_t len, time_t *t_r, int *tz_r)
{
	struct lexer lx = {s, len, 0, false};
	struct tok t = next_tok(&lx);
	unsigned day, year, h, mi, sec = 0;
	int mon, tz = 0;

	/* [day-of-week [","]] */
	if (t.type == TOK_WORD && month_from_name(t.p, t.n) < 0) {
		t = next_tok(&lx);
		if (tok_is(&t, ','))
			t = next_tok(&lx);
	}
	if (!tok_num(&t, 1, 2, &day))
		return -1;
	t = next_tok(&lx);
	if (tok_is(&t, '-')) /* "1-Feb-1994" style seen in the wild */
		t = next_tok(&lx);
	if (t.type != TOK_WORD || (mon = month_from_name(t.p, t.n)) < 0)
		return -1;
	t = next_tok(&lx);
	if (tok_is(&t, '-'))
		t = next_tok(&lx);
	if (!tok_num(&t, 2, 4, &year))
		return -1;
	if (t.n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (t.n == 3)
		year += 1900;
	t = next_tok(&lx);
	if (!tok_num(&t, 1, 2, &h))
		return -1;
	t = next_tok(&lx);
	if (!tok_is(&t, ':'))
		return -1;
	t = next_tok(&lx);
	if (!tok_num(&t, 1, 2, &mi))
		return -1;
	t = next_tok(&lx);
	if (tok_is(&t, ':')) {
		t = next_tok(&lx);
		if (!tok_num(&t, 1, 2, &sec))
			return -1;
		t = next_tok(&lx);
	}
	if (t.type == TOK_CHAR && (t.p[0] == '+' || t.p[0] == '-')) {
		int sign = t.p[0] == '-' ? -1 : 1;
		unsigned z;
		t = next_tok(&lx);
		if (!tok_num(&t, 4, 4, &z) || z % 100 > 59)
			return -1;
		tz = sign * (int)((z / 100) * 60 + z % 100);
		t = next_tok(&lx);
		if (t.type == TOK_WORD && t.n <= 5) /* "+0100 CET" without parentheses */
			t = next_tok(&lx);
	} else if (t.type == TOK_WORD) {
		if (!obs_zone(t.p, t.n, &tz))
			return -1;
		t = next_tok(&lx);
	}
	if (t.type != TOK_END)
		return -1;
	time_t when;
	if (make_time(year, (unsigned)mon, day, h, mi, sec, tz, &when) < 0)
		return -1;
	*t_r = when;
	if (tz_r)
		*tz_r = tz;
	return 0;
}

/* ---- Formatting -------------------------------------------------------- */

struct civil {
	long long y;
	unsigned mon, d, h, mi, s, wday;
};

static int to_civil(time_t t, int tz_min, struct civil *c)
{
	long long lt = (long long)t + tz_min * 60LL;
	long long days = lt >= 0 ? lt / 86400 : -((-lt + 86399) / 86400);
	long long secs = lt - days * 86400;
	civil_from_days(days, &c->y, &c->mon, &c->d);
	if (c->y < 0 || c->y > 9999)
		return -1;
	c->h = (unsigned)(secs / 3600);
	c->mi = (unsigned)(secs / 60 % 60);
	c->s = (unsigned)(secs % 60);
	c->wday = (unsigned)(((days % 7) + 7) % 7);
	return 0;
}

static int put_zone(struct buf *out, int tz_min)
{
	int a = tz_min < 0 ? -tz_min : tz_min;
	if (a > 99 * 60 + 59)
		return -1;
	return buf_printf(out, "%c%02d%02d", tz_min < 0 ? '-' : '+', a / 60, a % 60);
}

int date_format_rfc5322(time_t t, int tz_min, struct buf *out)
{
	struct civil c;
	size_t old = out->len;
	if (to_civil(t, tz_min, &c) < 0)
		return -1;
	if (buf_printf(out, "%s, %u %s %04lld %02u:%02u:%02u ", wdays[c.wday], c.d, months[c.mon - 1], c.y,
		       c.h, c.mi, c.s) < 0 ||
	    put_zone(out, tz_min) < 0) {
		buf_truncate(out, old);
		return -1;
	}
	return 0;
}

int date_format_imap(time_t t, int tz_min, struct buf *out)
{
	struct civil c;
	size_t old = out->len;
	if (to_civil(t, tz_min, &c) < 0)
		return -1;
	if (buf_printf(out, "%2u-%s-%04lld %02u:%02u:%02u ", c.d, months[c.mon - 1], c.y, c.h, c.mi, c.s) <
		0 ||
	    put_zone(out, tz_min) < 0) {
		buf_truncate(out, old);
		return -1;
	}
	return 0;
}

int date_local_offset(time_t t)
{
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

/* ---- IMAP ------------------------------------------------------------------ */

static bool digits(const char *s, size_t n, unsigned *v)
{
	unsigned x = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*v = x;
	return true;
}

/* "d-Mon-yyyy" at s; returns bytes used or 0. */
static size_t imap_date_part(const char *s, size_t len, unsigned *d, int *mon, unsigned *y)
{
	size_t i = 0;
	if (len > 0 && s[0] == ' ')
		i = 1; /* date-day-fixed */
	size_t ds = i;
	while (i < len && i - ds < 3 && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i - ds < 1 || i - ds > 2 || (ds == 1 && i - ds != 1) || !digits(s + ds, i - ds, d))
		return 0;
	if (i + 9 > len || s[i] != '-' || s[i + 4] != '-')
		return 0;
	if ((*mon = month_from_name(s + i + 1, 3)) < 0)
		return 0;
	if (!digits(s + i + 5, 4, y))
		return 0;
	return i + 9;
}

int date_parse_imap_date(const char *s, size_t len, time_t *t_r)
{
	unsigned d, y;
	int mon;
	size_t n = imap_date_part(s, len, &d, &mon, &y);
	if (n == 0 || n != len || s[0] == ' ')
		return -1;
	return make_time(y, (unsigned)mon, d, 0, 0, 0, 0, t_r);
}

int date_parse_imap_datetime(const char *s, size_t len, time_t *t_r, int *tz_r)
{
	unsigned d, y, h, mi, sec, z;
	int mon;
	size_t n = imap_date_part(s, len, &d, &mon, &y);
	/* " hh:mm:ss +zzzz" */
	if (n == 0 || len - n != 15)
		return -1;
	const char *p = s + n;
	if (p[0] != ' ' || p[3] != ':' || p[6] != ':' || p[9] != ' ' || (p[10] != '+' && p[10] != '-'))
		return -1;
	if (!digits(p + 1, 2, &h) || !digits(p + 4, 2, &mi) || !digits(p + 7, 2, &sec) ||
	    !digits(p + 11, 4, &z) || z % 100 > 59)
		return -1;
	int tz = (int)((z / 100) * 60 + z % 100) * (p[10] == '-' ? -1 : 1);
	if (make_time(y, (unsigned)mon, d, h, mi, sec, tz, t_r) < 0)
		return -1;
	*tz_r = tz;
	return 0;
}
