/* Charset conversion to UTF-8 with glibc iconv, UTF-8 validation, and a
 * search fold (see charset.h).
 *
 * Names are checked (letters, digits, ".:_-" only, at most 40 characters)
 * before they reach iconv_open(), which loads modules by name, and a few
 * aliases are mapped the way browsers do (ISO-8859-1 is really
 * Windows-1252, GB2312 is GB18030, ks_c_5601-1987 is CP949). */
#include "util/charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

size_t utf8_seq_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	if (n == 0)
		return 0;
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t min, cp;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		min = 0x80;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		min = 0x800;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		min = 0x10000;
		cp = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

bool utf8_valid(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		/* ASCII runs dominate: skip them fast */
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		size_t l = utf8_seq_len(s + i, n - i);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

int utf8_sanitize(const char *s, size_t n, struct buf *out)
{
	size_t i = 0, start = 0;
	while (i < n) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		size_t l = utf8_seq_len(s + i, n - i);
		if (l > 0) {
			i += l;
			continue;
		}
		if (buf_append(out, s + start, i - start) < 0 || buf_puts(out, replacement) < 0)
			return -1;
		i++;
		start = i;
	}
	return buf_append(out, s + start, i - start);
}

size_t utf8_truncate(const char *s, size_t n)
{
	/* step back over at most 3 continuation bytes to a lead byte */
	size_t i = n, back = 0;
	while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return n;
	unsigned char lead = (unsigned char)s[i - 1];
	if (lead < 0x80)
		return n;
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	if (back + 1 < need)
		return i - 1; /* the sequence is cut: drop it */
	return n;
}

static int put_cp(struct buf *out, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(out, u, n);
}

/* Windows-1252 0x80..0x9F; 0 where undefined (then the C1 control). */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0,	    0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,	    0x017D, 0,	    0,	    0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,	    0x017E, 0x0178,
};

static int cp1252_to_utf8(const char *s, size_t n, struct buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80)
			continue;
		if (buf_append(out, s + start, i - start) < 0)
			return -1;
		uint32_t cp = c;
		if (c < 0xA0 && cp1252_high[c - 0x80])
			cp = cp1252_high[c - 0x80];
		if (put_cp(out, cp) < 0)
			return -1;
		start = i + 1;
	}
	return buf_append(out, s + start, n - start);
}

enum cs_kind { CS_UTF8, CS_ASCII, CS_CP1252, CS_ICONV, CS_UNKNOWN };

static const struct {
	const char *alias;
	const char *name; /* NULL: see kind */
	enum cs_kind kind;
} aliases[] = {
    {"utf-8", NULL, CS_UTF8},
    {"utf8", NULL, CS_UTF8},
    {"unicode-1-1-utf-8", NULL, CS_UTF8},
    {"x-unicode20utf8", NULL, CS_UTF8},
    {"us-ascii", NULL, CS_ASCII},
    {"ascii", NULL, CS_ASCII},
    {"us", NULL, CS_ASCII},
    {"ansi_x3.4-1968", NULL, CS_ASCII},
    {"iso646-us", NULL, CS_ASCII},
    {"iso-8859-1", NULL, CS_CP1252},
    {"iso8859-1", NULL, CS_CP1252},
    {"iso_8859-1", NULL, CS_CP1252},
    {"iso_8859-1:1987", NULL, CS_CP1252},
    {"latin1", NULL, CS_CP1252},
    {"latin-1", NULL, CS_CP1252},
    {"l1", NULL, CS_CP1252},
    {"cp819", NULL, CS_CP1252},
    {"windows-1252", NULL, CS_CP1252},
    {"cp1252", NULL, CS_CP1252},
    {"x-cp1252", NULL, CS_CP1252},
    {"ks_c_5601-1987", "CP949", CS_ICONV},
    {"ks_c_5601", "CP949", CS_ICONV},
    {"euc-kr", "CP949", CS_ICONV},
    {"korean", "CP949", CS_ICONV},
    {"gb2312", "GB18030", CS_ICONV},
    {"gbk", "GB18030", CS_ICONV},
    {"x-gbk", "GB18030", CS_ICONV},
    {"cp936", "GB18030", CS_ICONV},
    {"euc-cn", "GB18030", CS_ICONV},
    {"shift_jis", "CP932", CS_ICONV},
    {"shift-jis", "CP932", CS_ICONV},
    {"sjis", "CP932", CS_ICONV},
    {"x-sjis", "CP932", CS_ICONV},
    {"ms_kanji", "CP932", CS_ICONV},
    {"windows-31j", "CP932", CS_ICONV},
    {"big5", "BIG5-HKSCS", CS_ICONV},
    {"x-mac-roman", "MACINTOSH", CS_ICONV},
    {"unicode-1-1-utf-7", "UTF-7", CS_ICONV},
    {"x-utf-7", "UTF-7", CS_ICONV},
    {"iso-8859-8-i", "ISO-8859-8", CS_ICONV},
    {"tis-620", "CP874", CS_ICONV},
};

/* Normalizes a charset name into name (lower case, trimmed); returns its
 * kind and, for CS_ICONV, the name to give iconv in *iconv_name_r. */
static enum cs_kind classify(const char *charset, char name[48], const char **iconv_name_r)
{
	*iconv_name_r = name;
	if (charset == NULL)
		return CS_ASCII;
	while (*charset == ' ' || *charset == '\t' || *charset == '"')
		charset++;
	size_t n = 0;
	for (const char *p = charset; *p && *p != '"' && *p != ' ' && *p != '\t'; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '-' || c == '_' || c == '.' || c == ':';
		if (!ok || n >= 40)
			return CS_UNKNOWN;
		name[n++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	name[n] = '\0';
	if (n == 0)
		return CS_ASCII;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcmp(aliases[i].alias, name) == 0) {
			if (aliases[i].name)
				*iconv_name_r = aliases[i].name;
			return aliases[i].kind;
		}
	}
	return CS_ICONV;
}

static int iconv_convert(iconv_t cd, const char *s, size_t n, struct buf *out)
{
	char tmp[4096];
	char *in = (char *)(uintptr_t)s; /* iconv's prototype lacks const */
	size_t inleft = n;
	while (inleft > 0) {
		char *o = tmp;
		size_t oleft = sizeof(tmp);
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);
		int err = errno;
		if (buf_append(out, tmp, sizeof(tmp) - oleft) < 0)
			return -1;
		if (r != (size_t)-1)
			break;
		if (err == E2BIG)
			continue;
		/* EILSEQ or EINVAL (truncated at the end): replace one byte */
		if (buf_puts(out, replacement) < 0)
			return -1;
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	/* flush shift states (ISO-2022-JP, UTF-7) */
	char *o = tmp;
	size_t oleft = sizeof(tmp);
	iconv(cd, NULL, NULL, &o, &oleft);
	return buf_append(out, tmp, sizeof(tmp) - oleft);
}

bool charset_is_known(const char *charset)
{
	char name[48];
	const char *iname;
	enum cs_kind k = classify(charset, name, &iname);
	if (k == CS_UNKNOWN)
		return false;
	if (k != CS_ICONV)
		return true;
	iconv_t cd = iconv_open("UTF-8", iname);
	if (cd == (iconv_t)-1)
		return false;
	iconv_close(cd);
	return true;
}

static int convert(const char *charset, const char *s, size_t n, struct buf *out)
{
	char name[48];
	const char *iname;
	enum cs_kind k = classify(charset, name, &iname);
	int r;

	if (k == CS_ICONV) {
		iconv_t cd = iconv_open("UTF-8", iname);
		if (cd != (iconv_t)-1) {
			r = iconv_convert(cd, s, n, out);
			iconv_close(cd);
			goto done;
		}
		k = CS_UNKNOWN;
	}
	switch (k) {
	case CS_UTF8:
		r = utf8_sanitize(s, n, out);
		break;
	case CS_CP1252:
		r = cp1252_to_utf8(s, n, out);
		break;
	default: /* ASCII and unknown: often mislabelled 8-bit text */
		r = utf8_valid(s, n) ? buf_append(out, s, n) : cp1252_to_utf8(s, n, out);
		break;
	}
done:
	return r;
}

int charset_to_utf8(const char *charset, const char *s, size_t n, struct buf *out)
{
	size_t old = out->len;
	int r = convert(charset, s, n, out);
	if (r < 0) {
		/* out is full: convert into a scratch buffer and keep what fits,
		 * cut at a character boundary */
		buf_truncate(out, old);
		struct buf tmp;
		buf_init(&tmp, n * 16 + 64);
		if (convert(charset, s, n, &tmp) == 0) {
			size_t room = out->max - out->len;
			const char *t = tmp.data ? tmp.data : "";
			(void)buf_append(out, t, utf8_truncate(t, tmp.len < room ? tmp.len : room));
		}
		buf_free(&tmp);
	}
	return r;
}

/* ---- Fold ---------------------------------------------------------------- */

/* U+00C0..U+00FF, lower-case ASCII without accents; "" = keep as is */
static const char *const latin1_fold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",	 "i",
    "d", "n", "o", "o", "o", "o", "o",	"",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",	 "i",
    "d", "n", "o", "o", "o", "o", "o",	"",  "o", "u", "u", "u", "u", "y", "th", "y",
};

/* U+0100..U+017F: base letter; '*' = two letters (ij, oe) */
static const char latin_ext_a[129] = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii**jjkkk"
				     "llllllllllnnnnnnnnnoooooo**rrrrrrsssssssstttttt"
				     "uuuuuuuuuuuuwwyyyzzzzzzs";

static uint32_t decode_cp(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	if (len == 1)
		return p[0];
	uint32_t cp = p[0] & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
	for (size_t i = 1; i < len; i++)
		cp = (cp << 6) | (p[i] & 0x3F);
	return cp;
}

int charset_fold(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			if (buf_putc(out, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c)) < 0)
				return -1;
			i++;
			continue;
		}
		size_t l = utf8_seq_len(s + i, n - i);
		if (l == 0) {
			if (buf_puts(out, replacement) < 0)
				return -1;
			i++;
			continue;
		}
		uint32_t cp = decode_cp(s + i, l);
		int r;
		if (cp >= 0xC0 && cp <= 0xFF && latin1_fold[cp - 0xC0][0])
			r = buf_puts(out, latin1_fold[cp - 0xC0]);
		else if (cp >= 0x100 && cp <= 0x17F) {
			char b = latin_ext_a[cp - 0x100];
			if (b == '*')
				r = buf_puts(out, cp < 0x140 ? "ij" : "oe");
			else
				r = buf_putc(out, b);
		} else if ((cp >= 0x391 && cp <= 0x3A9) || (cp >= 0x410 && cp <= 0x42F))
			r = put_cp(out, cp + 0x20);
		else if (cp == 0x3C2)
			r = put_cp(out, 0x3C3);
		else if (cp >= 0x400 && cp <= 0x40F)
			r = put_cp(out, cp + 0x50);
		else
			r = buf_append(out, s + i, l);
		if (r < 0)
			return -1;
		i += l;
	}
	return 0;
}
