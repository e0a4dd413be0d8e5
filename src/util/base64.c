/* Base64 per RFC 4648 (see base64.h). */
#include "util/base64.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(struct buf *out, const void *p, size_t n)
{
	const uint8_t *s = p;
	char q[4];
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		if (buf_append(out, q, 4) < 0)
			return -1;
	}
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int decode(struct buf *out, const char *s, size_t n, int lenient)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	size_t symbols = 0;
	if (!lenient && n == 1 && s[0] == '=')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			pad++;
			symbols++;
			continue;
		}
		int v = b64_value(c);
		if (v < 0) {
			if (lenient)
				continue;
			return -1;
		}
		if (pad) {
			if (lenient) { /* data after padding: a new run (concatenated encodings) */
				pad = 0;
				acc = 0;
				bits = 0;
			} else
				return -1;
		}
		symbols++;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			char byte = (char)((acc >> bits) & 0xff);
			if (buf_putc(out, byte) < 0)
				return -1;
		}
	}
	if (!lenient && (symbols % 4 != 0 || pad > 2))
		return -1;
	return 0;
}

int base64_decode(struct buf *out, const char *s, size_t n)
{
	return decode(out, s, n, 0);
}

int base64_decode_lenient(struct buf *out, const char *s, size_t n)
{
	return decode(out, s, n, 1);
}
