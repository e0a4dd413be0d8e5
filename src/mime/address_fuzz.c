/* libFuzzer target: RFC 5322 address lists, their addr-specs, and RFC 2047
 * decoding of the display names. Seeds: tests/fuzz/address/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/address.h"
#include "mime/rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	if (size)
		memcpy(copy, data, size);
	struct mime_address *list;
	size_t n = mime_address_parse(copy, size, &list);
	struct buf b;
	buf_init(&b, 1024 * 1024);
	for (size_t i = 0; i < n; i++) {
		(void)mime_address_append_spec(&list[i], &b);
		if (list[i].name)
			(void)rfc2047_decode(list[i].name, strlen(list[i].name), &b);
	}
	buf_free(&b);
	mime_address_list_free(&list, n);
	char **specs = mime_address_specs(copy, size, NULL);
	mime_address_specs_free(&specs);
	free(copy);
	return 0;
}
