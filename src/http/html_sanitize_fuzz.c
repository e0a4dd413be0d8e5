/* libFuzzer target for html_sanitize: byte 0 selects options (remote
 * images, a cid resolver, a small output buffer); the rest is an HTML
 * body, in a heap block of exactly its size. Checked: the output is
 * sanitized again to itself (idempotence: nothing the first pass let
 * through would be judged differently), it contains no '<' that does not
 * start an allowed tag, no event handler, script, style or frame, links
 * and images only with the schemes allowed, and without remote images every src is a data:
 * image; the style filter's output is idempotent too. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/html_sanitize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cid(void *ctx, const char *id, size_t len, struct buf *out)
{
	(void)ctx;
	if (len > 0 && id[0] == 'a')
		return buf_puts(out, "data:image/png;base64,AAAA");
	if (len > 0 && id[0] == 'b')
		return buf_puts(out, "data:text/html;base64,AAAA"); /* must be refused */
	return -1;
}

static bool has_ci(const char *s, const char *needle)
{
	size_t n = strlen(needle);
	for (; *s; s++)
		if (strncasecmp(s, needle, n) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	char *in = malloc(size ? size : 1);
	memcpy(in, data, size);
	struct html_sanitize_opts o = {.allow_remote_images = sel & 1, .cid_resolve = (sel & 2) ? cid : NULL};
	size_t max = (sel & 4) ? (size_t)(sel >> 3) * 8 : 8 * size + 4096;
	struct buf out;
	buf_init(&out, max);
	int r = html_sanitize(in, size, &o, &out, NULL);
	const char *s = buf_cstr(&out);
	if (out.len > max || strlen(s) != out.len)
		abort();
	static const char *const bad[] = {"<script", "<style",	  "<iframe", "<svg",  "<math",
					  "<object", "<embed",	  "<form",   "<meta", "<base",
					  "<link",   "<textarea", "<title"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (has_ci(s, bad[i]))
			abort();
	/* Walk the tags we wrote: every attribute value is quoted, and no
	 * attribute name starts with "on" (event handlers). */
	for (const char *p = s; (p = strchr(p, '<')) != NULL;) {
		p++;
		if (*p == '/')
			continue;
		while (*p && *p != ' ' && *p != '>')
			p++;
		while (*p == ' ') {
			p++;
			if ((p[0] == 'o' || p[0] == 'O') && (p[1] == 'n' || p[1] == 'N'))
				abort();
			const char *name = p;
			while (*p && *p != '=' && *p != ' ' && *p != '>')
				p++;
			if (*p == '=') {
				if (p[1] != '"')
					abort();
				const char *q = strchr(p + 2, '"');
				if (q == NULL || memchr(p + 2, '<', (size_t)(q - (p + 2))) != NULL)
					abort();
				/* URLs: only the schemes we allow. */
				if ((strncmp(name, "href=", 5) == 0 &&
				     strncasecmp(p + 2, "http://", 7) != 0 &&
				     strncasecmp(p + 2, "https://", 8) != 0 &&
				     strncasecmp(p + 2, "mailto:", 7) != 0) ||
				    (strncmp(name, "src=", 4) == 0 &&
				     strncasecmp(p + 2, "data:image/", 11) != 0 &&
				     (!o.allow_remote_images || (strncasecmp(p + 2, "http://", 7) != 0 &&
								 strncasecmp(p + 2, "https://", 8) != 0))))
					abort();
				p = q + 1;
			}
		}
		if (*p != '>')
			abort();
	}
	if (r == 0) {
		struct buf again;
		buf_init(&again, 8 * out.len + 4096);
		if (html_sanitize(s, out.len, &o, &again, NULL) != 0 || strcmp(buf_cstr(&again), s) != 0)
			abort();
		buf_free(&again);
	}
	buf_free(&out);

	struct buf st1, st2;
	buf_init(&st1, 4 * size + 64);
	buf_init(&st2, 4 * size + 64);
	if (html_sanitize_style(in, size, &st1) == 0) {
		if (html_sanitize_style(buf_cstr(&st1), st1.len, &st2) != 0 ||
		    strcmp(buf_cstr(&st1), buf_cstr(&st2)) != 0)
			abort();
		if (has_ci(buf_cstr(&st1), "url(") || has_ci(buf_cstr(&st1), "expression"))
			abort();
	}
	buf_free(&st1);
	buf_free(&st2);
	free(in);
	return 0;
}
