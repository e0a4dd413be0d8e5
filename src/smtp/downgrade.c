/* downgrade: quoted-printable conversion of 8-bit MIME leaves (see
 * downgrade.h). The MIME parser gives the parts as offsets; converted
 * leaves replace their byte range [header start, body end) and the bytes
 * between them are copied after a check that they are 7-bit. */
#include "smtp/downgrade.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mime/header.h"
#include "mime/mime.h"
#include "util/mem.h"
#include "util/qp.h"

struct range {
	const struct mime_part *part;
	size_t start, end;
};

struct walk {
	const struct mime_message *msg;
	struct range *r;
	size_t n, cap;
	const char *error;
};

static bool has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

static void visit(struct walk *w, const struct mime_part *p)
{
	if (w->error != NULL)
		return;
	const char *data = w->msg->data;
	if (p->children != NULL) {
		for (const struct mime_part *c = p->children; c != NULL; c = c->next)
			visit(w, c);
		return;
	}
	if (!has_8bit(data + p->body_offset, p->body_size))
		return;
	if (p->flags & MIME_PART_TRUNCATED) {
		w->error = "8-bit data in a MIME part too deeply nested to convert";
		return;
	}
	if (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) {
		w->error = "8-bit data in a malformed multipart or message part";
		return;
	}
	if (p->encoding != NULL && strcmp(p->encoding, "7bit") != 0 && strcmp(p->encoding, "8bit") != 0 &&
	    strcmp(p->encoding, "binary") != 0) {
		w->error = "8-bit data in a part encoded as base64 or quoted-printable";
		return;
	}
	if (has_8bit(data + p->header_offset, p->header_size)) {
		w->error = "8-bit data in a header (needs SMTPUTF8)";
		return;
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 8;
		w->r = xreallocarray(w->r, w->cap, sizeof(*w->r));
	}
	w->r[w->n++] = (struct range){p, p->header_offset, p->body_offset + p->body_size};
}

/* The leaf's header without its Content-Transfer-Encoding, then ours. */
static int convert(const struct mime_message *msg, const struct range *r, bool root, struct buf *out)
{
	const struct mime_part *p = r->part;
	const char *hdr = msg->data + p->header_offset;
	struct mime_header_iter it;
	struct mime_header_field f;
	bool mime_version = false;
	int rc = 0;
	mime_header_iter_init(&it, hdr, p->header_size);
	while (mime_header_iter_next(&it, &f) == 1) {
		if (mime_header_name_is(&f, "Content-Transfer-Encoding"))
			continue;
		mime_version = mime_version || mime_header_name_is(&f, "MIME-Version");
		rc |= buf_append(out, hdr + f.offset, f.size);
		if (f.size > 0 && hdr[f.offset + f.size - 1] != '\n')
			rc |= buf_puts(out, "\r\n");
	}
	if (root && !mime_version)
		rc |= buf_puts(out, "MIME-Version: 1.0\r\n");
	rc |= buf_puts(out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	bool binary = p->encoding != NULL && strcmp(p->encoding, "binary") == 0;
	rc |= qp_encode(out, msg->data + p->body_offset, p->body_size, binary ? QP_BINARY : QP_TEXT);
	return rc ? -1 : 0;
}

int smtp_downgrade_7bit(const char *data, size_t len, struct buf *out, const char **error_r)
{
	struct mime_message *msg = mime_parse(data, len);
	struct walk w = {.msg = msg};
	visit(&w, msg->root);
	size_t pos = 0;
	int rc = 0;
	for (size_t i = 0; w.error == NULL && i <= w.n; i++) {
		size_t until = i < w.n ? w.r[i].start : len;
		if (until < pos) {
			w.error = "overlapping MIME parts";
			break;
		}
		if (has_8bit(data + pos, until - pos)) {
			w.error = "8-bit data outside of a convertible MIME part";
			break;
		}
		rc |= buf_append(out, data + pos, until - pos);
		if (i < w.n) {
			rc |= convert(msg, &w.r[i], w.r[i].part == msg->root, out);
			pos = w.r[i].end;
		}
	}
	if (w.error == NULL && rc != 0)
		w.error = "the converted message is too large";
	free(w.r);
	mime_free(&msg);
	if (w.error != NULL) {
		*error_r = w.error;
		return -1;
	}
	return 0;
}
