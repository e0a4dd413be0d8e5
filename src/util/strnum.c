/* Strict number parsing for wire and config input (see strnum.h). */
#include "util/strnum.h"

#include <string.h>

int strn_to_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int strn_to_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t v;
	if (strn_to_u64(s, len, &v) < 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int str_to_u64(const char *s, uint64_t *out)
{
	return strn_to_u64(s, strlen(s), out);
}

int str_to_u32(const char *s, uint32_t *out)
{
	return strn_to_u32(s, strlen(s), out);
}

static int with_suffix(const char *s, const char *suffixes, const uint64_t *mult, uint64_t *out)
{
	size_t len = strlen(s);
	uint64_t m = 1;
	if (len > 0) {
		const char *p = strchr(suffixes, s[len - 1]);
		if (p != NULL && s[len - 1] != '\0') {
			m = mult[p - suffixes];
			len--;
		}
	}
	uint64_t v;
	if (strn_to_u64(s, len, &v) < 0 || (v != 0 && m > UINT64_MAX / v))
		return -1;
	*out = v * m;
	return 0;
}

int str_to_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {1024, 1024, 1024 * 1024, 1024 * 1024, 1024ULL * 1024 * 1024,
					1024ULL * 1024 * 1024};
	return with_suffix(s, "KkMmGg", mult, out);
}

int str_to_seconds(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400};
	return with_suffix(s, "smhd", mult, out);
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
