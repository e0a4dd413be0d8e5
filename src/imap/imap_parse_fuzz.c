/* libFuzzer target for imap_parse: the input after its first byte is fed
 * to the command parser in chunks whose sizes come from the first byte
 * (1..256 bytes, cycling), with a literal policy that exercises every path:
 * literals up to 4096 bytes are read, bigger synchronizing ones refused
 * (parser reset), bigger non-synchronizing ones discarded. Checks that the
 * parser never consumes more than it was given, always makes progress, and
 * that every finished command has a tag and a name. Seeds: tests/fuzz/imap_parse/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "imap/imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct imap_arg *a, unsigned depth)
{
	if (depth > IMAP_PARSE_MAX_DEPTH + 1)
		__builtin_trap();
	if (a->type == IMAP_ARG_LIST) {
		for (size_t i = 0; i < a->count; i++)
			walk(&a->list[i], depth + 1);
	} else if (a->str == NULL || a->str[a->len] != '\0')
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned step = (unsigned)data[0] + 1;
	const char *in = (const char *)data + 1;
	size_t len = size - 1, pos = 0;
	struct imap_parser p;
	imap_parser_init(&p, 1024);
	while (pos < len) {
		size_t chunk = len - pos < step ? len - pos : step;
		size_t off = 0;
		while (off < chunk) {
			size_t used;
			int r = imap_parser_feed(&p, in + pos + off, chunk - off, &used);
			if (used > chunk - off)
				__builtin_trap();
			off += used;
			if (r == IMAP_PARSE_LITERAL) {
				if (p.literal_size <= 4096)
					imap_parser_literal_accept(&p);
				else if (p.literal_sync)
					imap_parser_reset(&p);
				else
					imap_parser_literal_discard(&p);
			} else if (r == IMAP_PARSE_DONE) {
				if (p.tag[0] == '\0' || p.name == NULL || p.name[0] == '\0')
					__builtin_trap();
				walk(&p.args, 0);
				imap_parser_reset(&p);
			} else if (r == IMAP_PARSE_ERROR) {
				if (p.error == NULL)
					__builtin_trap();
			} else if (used == 0)
				__builtin_trap(); /* MORE must consume everything */
		}
		pos += chunk;
		step = step % 256 + 1;
	}
	imap_parser_deinit(&p);
	return 0;
}
