/* libFuzzer target: the MIME parser and everything built on its tree
 * (ENVELOPE, BODY, BODYSTRUCTURE, summary, full-text extraction, section
 * lookup, HEADER.FIELDS, decoding). Seeds: tests/fuzz/mime/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so that a read past the end is caught */
	char *copy = malloc(size ? size : 1);
	if (size)
		memcpy(copy, data, size);
	struct mime_message *msg = mime_parse(copy, size);
	struct buf b, h;
	buf_init(&b, 16 * 1024 * 1024);
	buf_init(&h, 64 * 1024);
	(void)mime_envelope(msg, NULL, &b);
	(void)mime_bodystructure(msg, NULL, false, &b);
	(void)mime_bodystructure(msg, NULL, true, &b);
	struct mime_summary s;
	mime_summary_build(msg, &s);
	mime_summary_clear(&s);
	buf_reset(&b);
	(void)mime_extract_text(msg, &h, &b);
	static const char *const sections[] = {"1", "2", "1.1", "1.2", "2.1", "1.1.1", "3.2.1"};
	static const char *const names[] = {"subject", "from", "content-type"};
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct mime_part *p = mime_part_find(msg, sections[i], strlen(sections[i]));
		if (p == NULL)
			continue;
		const char *err;
		buf_reset(&b);
		(void)mime_part_decode(msg, p, &b, &err);
		buf_reset(&b);
		(void)mime_header_fields(msg, p->header_offset, p->header_size, names, 3, i % 2, &b);
		const struct mime_part *m = mime_part_message(msg, p);
		if (m != NULL) {
			buf_reset(&b);
			(void)mime_envelope(msg, p, &b);
		}
	}
	buf_free(&b);
	buf_free(&h);
	mime_free(&msg);
	free(copy);
	return 0;
}
