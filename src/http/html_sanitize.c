/* html_sanitize: the allow-list HTML sanitizer of the webmail (see
 * html_sanitize.h for what survives and why).
 *
 * A single pass over the input follows the HTML5 tokenizer where it
 * matters for safety: where a tag, an attribute value, a comment or a
 * raw-text element (script, style, textarea, title...) begins and ends, and
 * how character references decode. Each token is then judged against the
 * tables below and written out anew, so the output is as simple to parse
 * as it looks: the browser and we cannot disagree on it.
 *
 * Element kinds:
 *   KEEP     written with its allowed attributes
 *   VOID     KEEP without content or end tag (br, hr, img, col, wbr)
 *   UNWRAP   tag dropped, content kept (unknown elements, html, body, font
 *            faces of forms such as form, label, button...)
 *   RAW      tag and its raw text dropped up to the matching end tag
 *            (script, style, textarea, title, iframe, xmp, noscript...)
 *   SUBTREE  tag and everything inside dropped, nesting counted (svg,
 *            math, template, object, select, video...)
 *   DROP     void and dropped (meta, link, base, input, embed...) */
#include "http/html_sanitize.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/charset.h"

enum el_kind { EL_UNWRAP = 0, EL_KEEP, EL_VOID, EL_RAW, EL_SUBTREE, EL_DROP };

struct el_rule {
	const char *name;
	enum el_kind kind;
};

/* Sorted by name (binary search). */
static const struct el_rule elements[] = {
    {"a", EL_KEEP},	     {"abbr", EL_KEEP},	       {"acronym", EL_KEEP},	 {"address", EL_KEEP},
    {"applet", EL_SUBTREE},  {"area", EL_DROP},	       {"article", EL_KEEP},	 {"aside", EL_KEEP},
    {"audio", EL_SUBTREE},   {"b", EL_KEEP},	       {"base", EL_DROP},	 {"basefont", EL_DROP},
    {"bdi", EL_KEEP},	     {"bdo", EL_KEEP},	       {"bgsound", EL_DROP},	 {"big", EL_KEEP},
    {"blockquote", EL_KEEP}, {"br", EL_VOID},	       {"canvas", EL_SUBTREE},	 {"caption", EL_KEEP},
    {"center", EL_KEEP},     {"cite", EL_KEEP},	       {"code", EL_KEEP},	 {"col", EL_VOID},
    {"colgroup", EL_KEEP},   {"datalist", EL_SUBTREE}, {"dd", EL_KEEP},		 {"del", EL_KEEP},
    {"details", EL_KEEP},    {"dfn", EL_KEEP},	       {"dialog", EL_SUBTREE},	 {"div", EL_KEEP},
    {"dl", EL_KEEP},	     {"dt", EL_KEEP},	       {"em", EL_KEEP},		 {"embed", EL_DROP},
    {"figcaption", EL_KEEP}, {"figure", EL_KEEP},      {"font", EL_KEEP},	 {"footer", EL_KEEP},
    {"frame", EL_DROP},	     {"frameset", EL_SUBTREE}, {"h1", EL_KEEP},		 {"h2", EL_KEEP},
    {"h3", EL_KEEP},	     {"h4", EL_KEEP},	       {"h5", EL_KEEP},		 {"h6", EL_KEEP},
    {"header", EL_KEEP},     {"hr", EL_VOID},	       {"i", EL_KEEP},		 {"iframe", EL_RAW},
    {"image", EL_DROP},	     {"img", EL_VOID},	       {"input", EL_DROP},	 {"ins", EL_KEEP},
    {"isindex", EL_DROP},    {"kbd", EL_KEEP},	       {"keygen", EL_DROP},	 {"li", EL_KEEP},
    {"link", EL_DROP},	     {"main", EL_KEEP},	       {"map", EL_SUBTREE},	 {"mark", EL_KEEP},
    {"math", EL_SUBTREE},    {"meta", EL_DROP},	       {"nav", EL_KEEP},	 {"noembed", EL_RAW},
    {"noframes", EL_RAW},    {"noscript", EL_RAW},     {"object", EL_SUBTREE},	 {"ol", EL_KEEP},
    {"option", EL_SUBTREE},  {"p", EL_KEEP},	       {"param", EL_DROP},	 {"picture", EL_SUBTREE},
    {"plaintext", EL_RAW},   {"portal", EL_SUBTREE},   {"pre", EL_KEEP},	 {"q", EL_KEEP},
    {"rp", EL_KEEP},	     {"rt", EL_KEEP},	       {"ruby", EL_KEEP},	 {"s", EL_KEEP},
    {"samp", EL_KEEP},	     {"script", EL_RAW},       {"section", EL_KEEP},	 {"select", EL_SUBTREE},
    {"slot", EL_SUBTREE},    {"small", EL_KEEP},       {"source", EL_DROP},	 {"span", EL_KEEP},
    {"strike", EL_KEEP},     {"strong", EL_KEEP},      {"style", EL_RAW},	 {"sub", EL_KEEP},
    {"summary", EL_KEEP},    {"sup", EL_KEEP},	       {"svg", EL_SUBTREE},	 {"table", EL_KEEP},
    {"tbody", EL_KEEP},	     {"td", EL_KEEP},	       {"template", EL_SUBTREE}, {"textarea", EL_RAW},
    {"tfoot", EL_KEEP},	     {"th", EL_KEEP},	       {"thead", EL_KEEP},	 {"time", EL_KEEP},
    {"title", EL_RAW},	     {"tr", EL_KEEP},	       {"track", EL_DROP},	 {"tt", EL_KEEP},
    {"u", EL_KEEP},	     {"ul", EL_KEEP},	       {"var", EL_KEEP},	 {"video", EL_SUBTREE},
    {"wbr", EL_VOID},	     {"xmp", EL_RAW},
};

enum attr_kind {
	AT_TEXT,   /* any text, escaped */
	AT_HREF,   /* <a href> */
	AT_SRC,	   /* <img src> */
	AT_STYLE,  /* a CSS declaration list */
	AT_LENGTH, /* 100, 50%, 10px */
	AT_COLOR,  /* #fff, red */
	AT_FONT,   /* font face names */
	AT_WORD,   /* a keyword: letters, digits, '-' */
	AT_BOOL,   /* no value needed */
};

struct attr_rule {
	const char *name;
	enum attr_kind kind;
	const char *elements; /* " a img " style list, or NULL for every element */
};

static const struct attr_rule attributes[] = {
    {"abbr", AT_TEXT, " td th "},
    {"align", AT_WORD, NULL},
    {"alt", AT_TEXT, " img "},
    {"bgcolor", AT_COLOR, NULL},
    {"border", AT_LENGTH, " table img "},
    {"cellpadding", AT_LENGTH, " table "},
    {"cellspacing", AT_LENGTH, " table "},
    {"clear", AT_WORD, " br "},
    {"color", AT_COLOR, " font hr "},
    {"colspan", AT_LENGTH, " td th "},
    {"datetime", AT_TEXT, " del ins time "},
    {"dir", AT_WORD, NULL},
    {"face", AT_FONT, " font "},
    {"headers", AT_TEXT, " td th "},
    {"height", AT_LENGTH, NULL},
    {"href", AT_HREF, " a "},
    {"hspace", AT_LENGTH, " img "},
    {"lang", AT_WORD, NULL},
    {"noshade", AT_BOOL, " hr "},
    {"nowrap", AT_BOOL, " td th "},
    {"open", AT_BOOL, " details "},
    {"reversed", AT_BOOL, " ol "},
    {"rowspan", AT_LENGTH, " td th "},
    {"scope", AT_WORD, " td th "},
    {"size", AT_LENGTH, " font hr "},
    {"span", AT_LENGTH, " col colgroup "},
    {"src", AT_SRC, " img "},
    {"start", AT_LENGTH, " ol "},
    {"style", AT_STYLE, NULL},
    {"summary", AT_TEXT, " table "},
    {"title", AT_TEXT, NULL},
    {"type", AT_WORD, " ol ul li "},
    {"valign", AT_WORD, NULL},
    {"value", AT_LENGTH, " li "},
    {"vspace", AT_LENGTH, " img "},
    {"width", AT_LENGTH, NULL},
};

/* CSS properties kept in style attributes (sorted). */
static const char *const css_properties[] = {
    "background-color",
    "border",
    "border-bottom",
    "border-bottom-color",
    "border-bottom-left-radius",
    "border-bottom-right-radius",
    "border-bottom-style",
    "border-bottom-width",
    "border-collapse",
    "border-color",
    "border-left",
    "border-left-color",
    "border-left-style",
    "border-left-width",
    "border-radius",
    "border-right",
    "border-right-color",
    "border-right-style",
    "border-right-width",
    "border-spacing",
    "border-style",
    "border-top",
    "border-top-color",
    "border-top-left-radius",
    "border-top-right-radius",
    "border-top-style",
    "border-top-width",
    "border-width",
    "box-sizing",
    "caption-side",
    "clear",
    "color",
    "direction",
    "display",
    "float",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-variant",
    "font-weight",
    "height",
    "letter-spacing",
    "line-height",
    "list-style-position",
    "list-style-type",
    "margin",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "margin-top",
    "max-height",
    "max-width",
    "min-height",
    "min-width",
    "opacity",
    "overflow",
    "overflow-wrap",
    "overflow-x",
    "overflow-y",
    "padding",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "padding-top",
    "table-layout",
    "text-align",
    "text-decoration",
    "text-decoration-color",
    "text-decoration-line",
    "text-decoration-style",
    "text-indent",
    "text-overflow",
    "text-transform",
    "unicode-bidi",
    "vertical-align",
    "visibility",
    "white-space",
    "width",
    "word-break",
    "word-spacing",
    "word-wrap",
};

/* ---- small helpers -------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int html_escape(const char *s, size_t n, struct buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			continue;
		}
		if (buf_append(out, s + start, i - start) < 0 || buf_puts(out, rep) < 0)
			return -1;
		start = i + 1;
	}
	return buf_append(out, s + start, n - start);
}

static int put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

/* ---- character references ------------------------------------------------- */

/* Latin-1 names, code points 160..255 in order (HTML 4 / HTML5). */
static const char *const latin1_names[96] = {
    "nbsp",   "iexcl",	"cent",	  "pound",  "curren", "yen",	"brvbar", "sect",   "uml",    "copy",
    "ordf",   "laquo",	"not",	  "shy",    "reg",    "macr",	"deg",	  "plusmn", "sup2",   "sup3",
    "acute",  "micro",	"para",	  "middot", "cedil",  "sup1",	"ordm",	  "raquo",  "frac14", "frac12",
    "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde", "Auml",	  "Aring",  "AElig",  "Ccedil",
    "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave", "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde",
    "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",   "times",	"Oslash", "Ugrave", "Uacute", "Ucirc",
    "Uuml",   "Yacute", "THORN",  "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",
    "aelig",  "ccedil", "egrave", "eacute", "ecirc",  "euml",	"igrave", "iacute", "icirc",  "iuml",
    "eth",    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",	  "divide", "oslash", "ugrave",
    "uacute", "ucirc",	"uuml",	  "yacute", "thorn",  "yuml",
};

static const struct {
	const char *name;
	uint32_t cp;
} other_entities[] = {
    {"amp", '&'},	{"lt", '<'},	    {"gt", '>'},	{"quot", '"'},	    {"apos", '\''},
    {"OElig", 0x152},	{"oelig", 0x153},   {"Scaron", 0x160},	{"scaron", 0x161},  {"Yuml", 0x178},
    {"fnof", 0x192},	{"circ", 0x2c6},    {"tilde", 0x2dc},	{"ensp", 0x2002},   {"emsp", 0x2003},
    {"thinsp", 0x2009}, {"zwnj", 0x200c},   {"zwj", 0x200d},	{"lrm", 0x200e},    {"rlm", 0x200f},
    {"ndash", 0x2013},	{"mdash", 0x2014},  {"lsquo", 0x2018},	{"rsquo", 0x2019},  {"sbquo", 0x201a},
    {"ldquo", 0x201c},	{"rdquo", 0x201d},  {"bdquo", 0x201e},	{"dagger", 0x2020}, {"Dagger", 0x2021},
    {"bull", 0x2022},	{"hellip", 0x2026}, {"permil", 0x2030}, {"prime", 0x2032},  {"Prime", 0x2033},
    {"lsaquo", 0x2039}, {"rsaquo", 0x203a}, {"oline", 0x203e},	{"euro", 0x20ac},   {"trade", 0x2122},
    {"larr", 0x2190},	{"uarr", 0x2191},   {"rarr", 0x2192},	{"darr", 0x2193},   {"harr", 0x2194},
    {"minus", 0x2212},	{"infin", 0x221e},  {"ne", 0x2260},	{"le", 0x2264},	    {"ge", 0x2265},
    {"spades", 0x2660}, {"clubs", 0x2663},  {"hearts", 0x2665}, {"diams", 0x2666},  {"check", 0x2713},
    {"Alpha", 0x391},	{"Beta", 0x392},    {"Gamma", 0x393},	{"Delta", 0x394},   {"Omega", 0x3a9},
    {"alpha", 0x3b1},	{"beta", 0x3b2},    {"gamma", 0x3b3},	{"delta", 0x3b4},   {"pi", 0x3c0},
    {"mu", 0x3bc},	{"sigma", 0x3c3},   {"omega", 0x3c9},	{"lambda", 0x3bb},  {"NewLine", '\n'},
    {"Tab", '\t'},
};

static bool name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(s, name, n) == 0;
}

/* Decodes the character reference at s[0] == '&'. Returns the bytes it
 * spans (0 when it is no reference: the '&' is then literal) and sets *cp.
 * Named references need their ';' except the legacy Latin-1 ones and
 * amp/lt/gt/quot (as browsers do, outside attribute values). */
static size_t char_ref(const char *s, size_t n, bool in_attr, uint32_t *cp)
{
	if (n < 2)
		return 0;
	if (s[1] == '#') {
		size_t i = 2;
		bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
		if (hex)
			i++;
		size_t digits_start = i;
		uint32_t v = 0;
		bool big = false;
		while (i < n) {
			int d;
			char c = s[i];
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (hex && c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				break;
			if (v > 0x10ffff)
				big = true;
			else
				v = v * (hex ? 16 : 10) + (uint32_t)d;
			i++;
		}
		if (i == digits_start)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		if (big || v > 0x10ffff || v == 0 || (v >= 0xd800 && v <= 0xdfff) ||
		    (v < 0x20 && v != '\t' && v != '\n') || (v >= 0x7f && v <= 0x9f))
			v = 0xfffd;
		*cp = v;
		return i;
	}
	size_t i = 1;
	while (i < n && i < 40 && is_alnum(s[i]))
		i++;
	size_t len = i - 1;
	if (len == 0)
		return 0;
	bool semi = i < n && s[i] == ';';
	const char *name = s + 1;
	for (size_t k = 0; k < sizeof(other_entities) / sizeof(other_entities[0]); k++)
		if (name_is(name, len, other_entities[k].name)) {
			bool legacy = k < 4; /* amp lt gt quot */
			if (!semi && (!legacy || in_attr))
				return 0;
			*cp = other_entities[k].cp;
			return i + (semi ? 1 : 0);
		}
	for (size_t k = 0; k < 96; k++)
		if (name_is(name, len, latin1_names[k])) {
			if (!semi && in_attr)
				return 0;
			*cp = 160 + (uint32_t)k;
			return i + (semi ? 1 : 0);
		}
	return 0;
}

/* Appends (s, n) with character references decoded, NULs dropped and
 * invalid UTF-8 replaced: the value the browser would see. */
static int decode_refs(const char *s, size_t n, bool in_attr, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '&' && s[j] != '\0' && (unsigned char)s[j] < 0x80)
			j++;
		if (j > i && buf_append(out, s + i, j - i) < 0)
			return -1;
		i = j;
		if (i >= n)
			break;
		if (s[i] == '\0') {
			i++;
			continue;
		}
		if ((unsigned char)s[i] >= 0x80) {
			size_t l = utf8_seq_len(s + i, n - i);
			if (l == 0) {
				if (put_utf8(out, 0xfffd) < 0)
					return -1;
				i++;
			} else {
				if (buf_append(out, s + i, l) < 0)
					return -1;
				i += l;
			}
			continue;
		}
		uint32_t cp;
		size_t used = char_ref(s + i, n - i, in_attr, &cp);
		if (used == 0) {
			if (buf_putc(out, '&') < 0)
				return -1;
			i++;
			continue;
		}
		if (put_utf8(out, cp) < 0)
			return -1;
		i += used;
	}
	return 0;
}

/* ---- CSS -------------------------------------------------------------------- */

static bool css_property_allowed(const char *p, size_t n)
{
	size_t lo = 0, hi = sizeof(css_properties) / sizeof(css_properties[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *c = css_properties[mid];
		size_t cl = strlen(c);
		int r = memcmp(p, c, n < cl ? n : cl);
		if (r == 0)
			r = n < cl ? -1 : (n > cl ? 1 : 0);
		if (r == 0)
			return true;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* A declaration value is kept when it is made of plain characters, every
 * function in it is a colour or calc(), and quoted strings hold only font
 * names. Everything that can fetch or run something (url(), image-set(),
 * expression(), -moz-binding, escapes that could spell those) fails. */
static bool css_value_ok(const char *v, size_t n)
{
	if (n == 0 || n > 512)
		return false;
	bool quote = false;
	char qc = 0;
	int depth = 0; /* parentheses must balance */
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == ')' && !quote && --depth < 0)
			return false;
		if (quote) {
			if (c == qc)
				quote = false;
			else if (!(is_alnum(c) || c == ' ' || c == '-' || c == '_' || c == ',' || c == '.'))
				return false;
			continue;
		}
		if (c == '"' || c == '\'') {
			quote = true;
			qc = c;
			continue;
		}
		if (c == '(') {
			size_t s = i;
			while (s > 0 && (is_alpha(v[s - 1]) || v[s - 1] == '-'))
				s--;
			size_t fl = i - s;
			char fn[8];
			if (fl == 0 || fl >= sizeof(fn))
				return false;
			for (size_t k = 0; k < fl; k++)
				fn[k] = lower(v[s + k]);
			fn[fl] = '\0';
			if (strcmp(fn, "rgb") != 0 && strcmp(fn, "rgba") != 0 && strcmp(fn, "hsl") != 0 &&
			    strcmp(fn, "hsla") != 0 && strcmp(fn, "calc") != 0)
				return false;
			depth++;
			continue;
		}
		if (is_alnum(c) || c == ' ' || c == '\t' || c == '#' || c == '%' || c == '.' || c == ',' ||
		    c == ')' || c == '-' || c == '+' || c == '!' || c == '_')
			continue;
		if (c == '/' && (i + 1 >= n || v[i + 1] != '*') && (i == 0 || v[i - 1] != '*'))
			continue; /* font: 12px/1.5 — but never a comment */
		if ((c == '*') && (i == 0 || v[i - 1] != '/') && (i + 1 >= n || v[i + 1] != '/'))
			continue; /* calc(2 * 3) */
		return false;
	}
	if (quote || depth != 0)
		return false;
	/* Words that must never appear, whatever the characters around them. */
	static const char *const banned[] = {"expression", "javascript", "vbscript", "behavior", "binding",
					     "url",	   "image",	 "attr",     "var("};
	for (size_t b = 0; b < sizeof(banned) / sizeof(banned[0]); b++) {
		size_t bl = strlen(banned[b]);
		for (size_t i = 0; i + bl <= n; i++) {
			size_t k = 0;
			while (k < bl && lower(v[i + k]) == banned[b][k])
				k++;
			if (k == bl)
				return false;
		}
	}
	return true;
}

int html_sanitize_style(const char *in, size_t n, struct buf *out)
{
	size_t i = 0;
	/* A comment or an escape anywhere taints the whole list: both can hide
	 * where a declaration really ends. */
	for (size_t k = 0; k < n; k++)
		if (in[k] == '\\' || in[k] == '<' || in[k] == '@' || in[k] == '{' || in[k] == '}' ||
		    (in[k] == '/' && k + 1 < n && in[k + 1] == '*'))
			return 0;
	while (i < n) {
		/* One declaration, up to a ';' outside quotes and parentheses. */
		size_t start = i;
		int depth = 0;
		char q = 0;
		while (i < n) {
			char c = in[i];
			if (q) {
				if (c == q)
					q = 0;
			} else if (c == '"' || c == '\'')
				q = c;
			else if (c == '(')
				depth++;
			else if (c == ')' && depth > 0)
				depth--;
			else if (c == ';' && depth == 0)
				break;
			i++;
		}
		size_t end = i;
		if (i < n)
			i++; /* the ';' */
		const char *colon = memchr(in + start, ':', end - start);
		if (colon == NULL)
			continue;
		const char *p = in + start, *pe = colon;
		while (p < pe && is_space(*p))
			p++;
		while (pe > p && is_space(pe[-1]))
			pe--;
		const char *v = colon + 1, *ve = in + end;
		while (v < ve && is_space(*v))
			v++;
		while (ve > v && is_space(ve[-1]))
			ve--;
		char prop[40];
		size_t pl = (size_t)(pe - p);
		if (pl == 0 || pl >= sizeof(prop))
			continue;
		bool ok = true;
		for (size_t k = 0; k < pl; k++) {
			prop[k] = lower(p[k]);
			if (!(is_alpha(prop[k]) || prop[k] == '-'))
				ok = false;
		}
		prop[pl] = '\0';
		if (!ok || !css_property_allowed(prop, pl) || !css_value_ok(v, (size_t)(ve - v)))
			continue;
		if (buf_append(out, prop, pl) < 0 || buf_puts(out, ": ") < 0 ||
		    buf_append(out, v, (size_t)(ve - v)) < 0 || buf_puts(out, "; ") < 0)
			return -1;
	}
	return 0;
}

/* ---- the sanitizer ------------------------------------------------------- */

struct sanitizer {
	const char *in;
	size_t n, pos;
	const struct html_sanitize_opts *opts;
	struct html_sanitize_stats *stats;
	struct buf *out;
	bool full;
	/* Open KEEP elements, innermost last. */
	const struct el_rule *stack[HTML_SANITIZE_MAX_DEPTH];
	size_t depth;
	/* Inside a SUBTREE element: its name and nesting. */
	const struct el_rule *skip;
	size_t skip_depth;
	struct buf tmp; /* scratch for attribute values */
	struct buf val;
};

#define MAX_ATTRS 64

struct tag {
	char name[24]; /* lower-cased; "" when longer (then unknown) */
	bool end;
	bool self_closing;
	size_t attr_count;
	struct {
		char name[24];
		size_t value_off, value_len; /* raw (undecoded) value in the input */
		bool has_value;
	} attrs[MAX_ATTRS];
};

static const struct el_rule *element_find(const char *name)
{
	size_t lo = 0, hi = sizeof(elements) / sizeof(elements[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(name, elements[mid].name);
		if (r == 0)
			return &elements[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static const struct attr_rule *attr_find(const char *el, const char *name)
{
	for (size_t i = 0; i < sizeof(attributes) / sizeof(attributes[0]); i++) {
		const struct attr_rule *a = &attributes[i];
		if (strcmp(a->name, name) != 0)
			continue;
		if (a->elements == NULL)
			return a;
		char key[32];
		int k = snprintf(key, sizeof(key), " %s ", el);
		if (k > 0 && (size_t)k < sizeof(key) && strstr(a->elements, key) != NULL)
			return a;
		return NULL;
	}
	return NULL;
}

/* Room kept at the end of out for the end tags of the open elements
 * ("</blockquote>" is the longest), so a truncated result is still closed. */
static size_t reserve(const struct sanitizer *s)
{
	return s->depth * 14;
}

static void emit(struct sanitizer *s, const char *p, size_t n)
{
	if (s->full)
		return;
	if (s->out->len + n + reserve(s) > s->out->max || buf_append(s->out, p, n) < 0)
		s->full = true;
}

static void emits(struct sanitizer *s, const char *p)
{
	emit(s, p, strlen(p));
}

static void emit_escaped(struct sanitizer *s, const char *p, size_t n)
{
	if (s->full)
		return;
	size_t mark = s->out->len;
	if (html_escape(p, n, s->out) < 0 || s->out->len + reserve(s) > s->out->max) {
		buf_truncate(s->out, mark);
		s->full = true;
	}
}

/* Text between tags: references decoded, then escaped anew. */
static void emit_text(struct sanitizer *s, const char *p, size_t n)
{
	if (s->skip != NULL || n == 0)
		return;
	buf_reset(&s->tmp);
	if (decode_refs(p, n, false, &s->tmp) < 0) {
		s->full = true;
		return;
	}
	emit_escaped(s, s->tmp.data ? s->tmp.data : "", s->tmp.len);
}

/* Skips past the next '>' from pos (bogus comments, <!doctype>, <?...>). */
static void skip_to_gt(struct sanitizer *s)
{
	const char *gt = memchr(s->in + s->pos, '>', s->n - s->pos);
	s->pos = gt ? (size_t)(gt - s->in) + 1 : s->n;
}

static void skip_comment(struct sanitizer *s)
{
	/* s->pos is just after "<!--". "<!-->" and "<!--->" end at once. */
	size_t p = s->pos;
	if (p < s->n && s->in[p] == '>') {
		s->pos = p + 1;
		return;
	}
	if (p + 1 < s->n && s->in[p] == '-' && s->in[p + 1] == '>') {
		s->pos = p + 2;
		return;
	}
	while (p + 2 < s->n) {
		const char *dash = memchr(s->in + p, '-', s->n - p);
		if (dash == NULL)
			break;
		p = (size_t)(dash - s->in);
		if (p + 2 < s->n && s->in[p + 1] == '-' && s->in[p + 2] == '>') {
			s->pos = p + 3;
			return;
		}
		if (p + 3 < s->n && s->in[p + 1] == '-' && s->in[p + 2] == '!' && s->in[p + 3] == '>') {
			s->pos = p + 4;
			return;
		}
		p++;
	}
	s->pos = s->n;
}

/* Raw text of script, style...: skips to the matching end tag (not consumed). */
static void skip_raw(struct sanitizer *s, const char *name)
{
	size_t nl = strlen(name);
	size_t p = s->pos;
	for (;;) {
		const char *lt = memchr(s->in + p, '<', s->n - p);
		if (lt == NULL) {
			s->pos = s->n;
			return;
		}
		p = (size_t)(lt - s->in);
		if (p + 2 + nl <= s->n && s->in[p + 1] == '/' && strncasecmp(s->in + p + 2, name, nl) == 0 &&
		    (p + 2 + nl == s->n || is_space(s->in[p + 2 + nl]) || s->in[p + 2 + nl] == '/' ||
		     s->in[p + 2 + nl] == '>')) {
			s->pos = p;
			return;
		}
		p++;
	}
}

/* Parses a tag at s->pos (just after '<' or "</"). Returns false at the end
 * of the input inside the tag (the tag is then dropped, as HTML5 does). */
static bool parse_tag(struct sanitizer *s, struct tag *t)
{
	size_t p = s->pos, n = s->n;
	const char *in = s->in;
	size_t nl = 0;
	bool too_long = false;
	while (p < n && !is_space(in[p]) && in[p] != '/' && in[p] != '>') {
		if (nl < sizeof(t->name) - 1)
			t->name[nl++] = lower(in[p]);
		else
			too_long = true;
		p++;
	}
	t->name[too_long ? 0 : nl] = '\0';
	for (;;) {
		while (p < n && (is_space(in[p]) || in[p] == '/')) {
			if (in[p] == '/' && p + 1 < n && in[p + 1] == '>')
				t->self_closing = true;
			p++;
		}
		if (p >= n)
			return false;
		if (in[p] == '>') {
			s->pos = p + 1;
			return true;
		}
		/* An attribute name (a leading '=' belongs to it, per HTML5). */
		size_t an = p;
		p++;
		while (p < n && !is_space(in[p]) && in[p] != '/' && in[p] != '>' && in[p] != '=')
			p++;
		size_t an_len = p - an;
		while (p < n && is_space(in[p]))
			p++;
		size_t voff = 0, vlen = 0;
		bool has_value = false;
		if (p < n && in[p] == '=') {
			p++;
			while (p < n && is_space(in[p]))
				p++;
			if (p >= n)
				return false;
			has_value = true;
			if (in[p] == '"' || in[p] == '\'') {
				char q = in[p++];
				const char *e = memchr(in + p, q, n - p);
				if (e == NULL)
					return false;
				voff = p;
				vlen = (size_t)(e - (in + p));
				p = (size_t)(e - in) + 1;
			} else {
				voff = p;
				while (p < n && !is_space(in[p]) && in[p] != '>')
					p++;
				vlen = p - voff;
			}
		}
		if (t->attr_count >= MAX_ATTRS || an_len >= sizeof(t->attrs[0].name))
			continue;
		char name[sizeof(t->attrs[0].name)];
		for (size_t k = 0; k < an_len; k++)
			name[k] = lower(in[an + k]);
		name[an_len] = '\0';
		bool dup = false; /* the first of duplicate attributes wins */
		for (size_t k = 0; k < t->attr_count && !dup; k++)
			dup = strcmp(t->attrs[k].name, name) == 0;
		if (dup)
			continue;
		memcpy(t->attrs[t->attr_count].name, name, an_len + 1);
		t->attrs[t->attr_count].value_off = voff;
		t->attrs[t->attr_count].value_len = vlen;
		t->attrs[t->attr_count].has_value = has_value;
		t->attr_count++;
	}
}

/* Removes what browsers ignore inside URLs (tab, LF, CR anywhere; controls
 * and spaces at both ends) and reports the lower-cased scheme check. */
static void url_clean(const char *v, size_t n, struct buf *out)
{
	size_t a = 0, b = n;
	while (a < b && ((unsigned char)v[a] <= 0x20))
		a++;
	while (b > a && ((unsigned char)v[b - 1] <= 0x20))
		b--;
	for (size_t i = a; i < b; i++)
		if (v[i] != '\t' && v[i] != '\n' && v[i] != '\r')
			buf_putc(out, v[i]);
}

static bool has_prefix_ci(const char *s, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (n < pl)
		return false;
	for (size_t i = 0; i < pl; i++)
		if (lower(s[i]) != prefix[i])
			return false;
	return true;
}

static bool data_image_ok(const char *u, size_t n)
{
	static const char *const kinds[] = {"data:image/png;base64,", "data:image/jpeg;base64,",
					    "data:image/jpg;base64,", "data:image/gif;base64,",
					    "data:image/webp;base64,"};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t kl = strlen(kinds[k]);
		if (!has_prefix_ci(u, n, kinds[k]))
			continue;
		for (size_t i = kl; i < n; i++)
			if (!(is_alnum(u[i]) || u[i] == '+' || u[i] == '/' || u[i] == '='))
				return false;
		return n > kl;
	}
	return false;
}

static bool value_chars(const char *v, size_t n, const char *extra)
{
	if (n == 0 || n > 200)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(v[i]) && strchr(extra, v[i]) == NULL)
			return false;
	return true;
}

static int cid_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n) {
			char h[3] = {s[i + 1], s[i + 2], 0};
			int hi =
			    h[0] >= '0' && h[0] <= '9'
				? h[0] - '0'
				: (lower(h[0]) >= 'a' && lower(h[0]) <= 'f' ? lower(h[0]) - 'a' + 10 : -1);
			int lo =
			    h[1] >= '0' && h[1] <= '9'
				? h[1] - '0'
				: (lower(h[1]) >= 'a' && lower(h[1]) <= 'f' ? lower(h[1]) - 'a' + 10 : -1);
			if (hi >= 0 && lo >= 0 && (hi || lo)) {
				if (buf_putc(out, (char)(hi * 16 + lo)) < 0)
					return -1;
				i += 2;
				continue;
			}
		}
		if (buf_putc(out, s[i]) < 0)
			return -1;
	}
	return 0;
}

/* Writes one allowed attribute (name="value") of element el, or nothing. */
static void emit_attr(struct sanitizer *s, const char *el, const char *name, const char *v, size_t n,
		      bool has_value, bool *img_ok)
{
	const struct attr_rule *a = attr_find(el, name);
	if (a == NULL)
		return;
	struct buf *val = &s->val;
	buf_reset(val);
	switch (a->kind) {
	case AT_BOOL:
		emits(s, " ");
		emits(s, name);
		return;
	case AT_TEXT:
		if (!has_value)
			return;
		buf_append(val, v, n);
		break;
	case AT_LENGTH:
		if (!value_chars(v, n, "%.- "))
			return;
		buf_append(val, v, n);
		break;
	case AT_COLOR:
		if (!value_chars(v, n, "#"))
			return;
		buf_append(val, v, n);
		break;
	case AT_WORD:
		if (!value_chars(v, n, "-_"))
			return;
		buf_append(val, v, n);
		break;
	case AT_FONT:
		if (!value_chars(v, n, " ,-_\"'"))
			return;
		buf_append(val, v, n);
		break;
	case AT_STYLE:
		if (html_sanitize_style(v, n, val) < 0 || val->len == 0)
			return;
		break;
	case AT_HREF: {
		struct buf u;
		buf_init(&u, n + 1);
		url_clean(v, n, &u);
		const char *us = buf_cstr(&u);
		bool ok = has_prefix_ci(us, u.len, "http://") || has_prefix_ci(us, u.len, "https://") ||
			  has_prefix_ci(us, u.len, "mailto:");
		if (ok)
			buf_append(val, us, u.len);
		buf_free(&u);
		if (!ok)
			return;
		break;
	}
	case AT_SRC: {
		struct buf u;
		buf_init(&u, n + 1);
		url_clean(v, n, &u);
		const char *us = buf_cstr(&u);
		if (has_prefix_ci(us, u.len, "cid:")) {
			struct buf cid;
			buf_init(&cid, 1024);
			bool ok = cid_decode(us + 4, u.len - 4, &cid) == 0 && s->opts->cid_resolve != NULL &&
				  s->opts->cid_resolve(s->opts->cid_ctx, buf_cstr(&cid), cid.len, val) == 0 &&
				  data_image_ok(buf_cstr(val), val->len);
			buf_free(&cid);
			if (ok && s->stats)
				s->stats->cid_images++;
			if (!ok)
				buf_reset(val);
		} else if (has_prefix_ci(us, u.len, "http://") || has_prefix_ci(us, u.len, "https://")) {
			if (s->opts->allow_remote_images)
				buf_append(val, us, u.len);
			else if (s->stats)
				s->stats->remote_blocked++;
		} else if (data_image_ok(us, u.len))
			buf_append(val, us, u.len);
		buf_free(&u);
		if (val->len == 0)
			return;
		*img_ok = true;
		break;
	}
	}
	emits(s, " ");
	emits(s, name);
	emits(s, "=\"");
	emit_escaped(s, val->data ? val->data : "", val->len);
	emits(s, "\"");
}

/* End tags always fit: reserve() kept room for them. */
static void close_to(struct sanitizer *s, size_t depth)
{
	while (s->depth > depth) {
		const struct el_rule *r = s->stack[--s->depth];
		if (buf_puts(s->out, "</") < 0 || buf_puts(s->out, r->name) < 0 || buf_puts(s->out, ">") < 0)
			s->full = true;
	}
}

static void start_tag(struct sanitizer *s, const struct tag *t, const struct el_rule *r)
{
	if (s->skip != NULL) {
		if (r == s->skip && !t->self_closing)
			s->skip_depth++;
		return;
	}
	enum el_kind kind = r ? r->kind : EL_UNWRAP;
	switch (kind) {
	case EL_UNWRAP:
	case EL_DROP:
		return;
	case EL_RAW:
		skip_raw(s, r->name);
		return;
	case EL_SUBTREE:
		if (!t->self_closing) {
			s->skip = r;
			s->skip_depth = 1;
		}
		return;
	case EL_KEEP:
	case EL_VOID:
		break;
	}
	if (kind == EL_KEEP && s->depth >= HTML_SANITIZE_MAX_DEPTH)
		return;
	size_t mark = s->out->len;
	bool full_before = s->full;
	emits(s, "<");
	emits(s, r->name);
	bool img_ok = false, href = false;
	for (size_t i = 0; i < t->attr_count; i++) {
		struct buf *tmp = &s->tmp;
		buf_reset(tmp);
		if (decode_refs(s->in + t->attrs[i].value_off, t->attrs[i].value_len, true, tmp) < 0) {
			s->full = true;
			break;
		}
		size_t before = s->out->len;
		emit_attr(s, r->name, t->attrs[i].name, buf_cstr(tmp), tmp->len, t->attrs[i].has_value,
			  &img_ok);
		if (strcmp(t->attrs[i].name, "href") == 0 && s->out->len > before)
			href = true;
	}
	if (href)
		emits(s, " target=\"_blank\" rel=\"noopener noreferrer\"");
	emits(s, ">");
	if (kind == EL_KEEP && s->out->len + reserve(s) + 14 > s->out->max)
		s->full = true; /* no room for its own end tag */
	if (s->full) {		/* never leave half a tag behind */
		buf_truncate(s->out, mark);
		return;
	}
	if (strcmp(r->name, "img") == 0 && !img_ok) {
		/* No usable source: keep only the alternative text, if any. */
		buf_truncate(s->out, mark);
		s->full = full_before;
		for (size_t i = 0; i < t->attr_count; i++)
			if (strcmp(t->attrs[i].name, "alt") == 0)
				emit_text(s, s->in + t->attrs[i].value_off, t->attrs[i].value_len);
		return;
	}
	if (kind == EL_KEEP)
		s->stack[s->depth++] = r;
}

static void end_tag(struct sanitizer *s, const struct el_rule *r)
{
	if (s->skip != NULL) {
		if (r == s->skip && --s->skip_depth == 0)
			s->skip = NULL;
		return;
	}
	if (r == NULL || r->kind != EL_KEEP)
		return;
	for (size_t d = s->depth; d > 0; d--)
		if (s->stack[d - 1] == r) {
			close_to(s, d - 1);
			return;
		}
	/* An end tag with nothing to close is ignored. */
}

int html_sanitize(const char *in, size_t n, const struct html_sanitize_opts *opts, struct buf *out,
		  struct html_sanitize_stats *stats)
{
	static const struct html_sanitize_opts defaults = {0};
	struct sanitizer *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	s->in = in;
	s->n = n;
	s->opts = opts ? opts : &defaults;
	s->stats = stats;
	s->out = out;
	/* Decoding can triple a byte (an invalid one becomes U+FFFD); values
	 * may grow into data: URLs of inline images. */
	buf_init(&s->tmp, 3 * n + 16);
	buf_init(&s->val, (size_t)64 * 1024 * 1024);
	if (stats)
		memset(stats, 0, sizeof(*stats));

	while (s->pos < s->n && !s->full) {
		const char *lt = memchr(in + s->pos, '<', n - s->pos);
		size_t text_end = lt ? (size_t)(lt - in) : n;
		emit_text(s, in + s->pos, text_end - s->pos);
		s->pos = text_end;
		if (lt == NULL)
			break;
		size_t p = s->pos + 1;
		if (p < n && in[p] == '!') {
			if (p + 2 < n && in[p + 1] == '-' && in[p + 2] == '-') {
				s->pos = p + 3;
				skip_comment(s);
			} else {
				s->pos = p;
				skip_to_gt(s);
			}
			continue;
		}
		if (p < n && in[p] == '?') {
			s->pos = p;
			skip_to_gt(s);
			continue;
		}
		bool end = p < n && in[p] == '/';
		size_t name_at = end ? p + 1 : p;
		if (name_at >= n || !is_alpha(in[name_at])) {
			if (end) { /* "</>" is ignored, "</ x>" a bogus comment */
				s->pos = name_at;
				if (name_at < n && in[name_at] == '>')
					s->pos++;
				else
					skip_to_gt(s);
			} else {
				emit_text(s, "<", 1);
				s->pos = p;
			}
			continue;
		}
		struct tag *t = calloc(1, sizeof(*t));
		if (t == NULL) {
			s->full = true;
			break;
		}
		t->end = end;
		s->pos = name_at;
		if (!parse_tag(s, t)) {
			free(t);
			s->pos = n;
			break;
		}
		const struct el_rule *r = t->name[0] ? element_find(t->name) : NULL;
		if (end)
			end_tag(s, r);
		else
			start_tag(s, t, r);
		free(t);
	}
	/* Close what is open; room for it is kept even when out filled up. */
	bool full = s->full;
	s->full = false;
	close_to(s, 0);
	full = full || s->full;
	buf_free(&s->tmp);
	buf_free(&s->val);
	free(s);
	return full ? -1 : 0;
}
