/* html_sanitize: HTML mail made safe to show, by an allow-list.
 *
 * The input (an HTML message body, UTF-8) is tokenized the way an HTML5
 * browser would, and a new document fragment is written from the tokens:
 * only allowed elements, only allowed attributes with checked values, all
 * text and attribute values re-escaped, every element closed. Nothing else
 * survives: scripts, styles sheets, event handlers, forms, frames, objects,
 * SVG and MathML (with their content), comments, doctype, meta, base and
 * link are dropped; elements we do not know lose their tags but keep their
 * text. The output never contains a raw-text or foreign-content element,
 * so a browser parses it exactly as we wrote it.
 *
 * URLs: links (<a href>) keep http, https and mailto only, and get
 * target="_blank" rel="noopener noreferrer". Images (<img src>) keep
 * data:image/png|jpeg|gif|webp;base64 (checked), cid: references resolved
 * by the caller into such data: URLs (so no request is ever made to us
 * from the sandboxed frame), and http/https only when the caller allows
 * remote images; blocked ones are counted (the UI then offers "show
 * images"). Style attributes keep an allow-list of properties whose values
 * contain no url(), expression(), escapes, comments or other functions
 * than rgb/rgba/hsl/hsla/calc.
 *
 * This is one defence of two: the webmail also shows the result in a
 * sandboxed iframe under a Content-Security-Policy that forbids scripts
 * and every outside resource but the images the user allowed.
 *
 * The whole body is in memory (mail bodies are bounded by
 * max_message_size), so this is one call over a buffer, not an
 * incremental parser; work is linear in the input. */
#ifndef POSTHORN_HTTP_HTML_SANITIZE_H
#define POSTHORN_HTTP_HTML_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Appends a data: URL for the image with Content-ID cid (without "<>",
 * percent-decoded) to out. Returns 0, or -1 when there is no such image
 * (the <img> is then dropped). */
typedef int html_cid_resolve_fn(void *ctx, const char *cid, size_t len, struct buf *out);

struct html_sanitize_opts {
	bool allow_remote_images;
	html_cid_resolve_fn *cid_resolve; /* NULL: cid: images are dropped */
	void *cid_ctx;
};

struct html_sanitize_stats {
	unsigned remote_blocked; /* http(s) images left out */
	unsigned cid_images;	 /* cid: images resolved */
};

#define HTML_SANITIZE_MAX_DEPTH 256 /* deeper elements lose their tags */

/* Appends the sanitized fragment of (in, n) to out. in should be UTF-8
 * (invalid bytes are replaced by U+FFFD). stats may be NULL. Returns 0, or
 * -1 when out is full (out then holds a truncated but still safe prefix,
 * with its elements closed when room allowed). */
int html_sanitize(const char *in, size_t n, const struct html_sanitize_opts *opts, struct buf *out,
		  struct html_sanitize_stats *stats);

/* Appends the allowed declarations of a CSS declaration list (a style
 * attribute's value, entities already decoded) as "prop: value; ..."; the
 * rest is dropped. Returns 0, or -1 when out is full. */
int html_sanitize_style(const char *in, size_t n, struct buf *out);

/* Appends (s, n) escaped for HTML text and attribute values (& < > " ').
 * Returns 0 or -1 (out full). */
int html_escape(const char *s, size_t n, struct buf *out);

#endif
