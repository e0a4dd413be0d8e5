/* libFuzzer target for the 8BITMIME downgrade: whatever the input, a
 * successful conversion gives 7-bit output, and converting that output
 * again changes nothing (it has no 8-bit part left). */
#include <stdlib.h>
#include <string.h>

#include "smtp/downgrade.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out, again;
	buf_init(&out, 4 * size + 65536);
	buf_init(&again, 4 * size + 65536);
	const char *error;
	if (smtp_downgrade_7bit((const char *)data, size, &out, &error) == 0) {
		for (size_t i = 0; i < out.len; i++)
			if ((unsigned char)out.data[i] >= 0x80)
				abort();
		if (smtp_downgrade_7bit(out.data ? out.data : "", out.len, &again, &error) != 0 ||
		    again.len != out.len || (out.len && memcmp(again.data, out.data, out.len) != 0))
			abort();
	}
	buf_free(&out);
	buf_free(&again);
	return 0;
}
