/* queue: retry arithmetic, last-error strings and message scanning for the
 * outbound queue (see queue.h). */
#include "smtp/queue.h"

#include <stdio.h>
#include <string.h>

#include "mime/header.h"

void queue_error_make(char *out, size_t size, const char *enh, const char *text)
{
	if (size == 0)
		return;
	int n = snprintf(out, size, "%s %s", enh, text);
	if (n < 0)
		out[0] = '\0';
}

static bool is_enh(const char *s, size_t n)
{
	/* class "." 1-3 digits "." 1-3 digits */
	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return false;
	size_t i = 2, dots = 0, run = 0;
	for (; i < n; i++) {
		if (s[i] == '.') {
			if (run == 0 || ++dots > 1)
				return false;
			run = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			if (++run > 3)
				return false;
		} else
			return false;
	}
	return dots == 1 && run > 0;
}

void queue_error_split(const char *err, bool permanent, char enh[16], const char **text_r)
{
	const char *sp = err ? strchr(err, ' ') : NULL;
	if (err != NULL && sp != NULL && (size_t)(sp - err) < 16 && is_enh(err, (size_t)(sp - err))) {
		memcpy(enh, err, (size_t)(sp - err));
		enh[sp - err] = '\0';
		*text_r = sp + 1;
		return;
	}
	snprintf(enh, 16, "%s", permanent ? "5.0.0" : "4.0.0");
	*text_r = err ? err : "";
}

bool queue_error_smtp(const char *text, char *mta, size_t mta_size, char *diag, size_t diag_size)
{
	const char *said = strstr(text, " said: ");
	if (said == NULL)
		return false;
	const char *br = memchr(text, '[', (size_t)(said - text));
	size_t hn = (size_t)((br ? br : said) - text);
	if (hn == 0 || hn >= mta_size)
		return false;
	memcpy(mta, text, hn);
	mta[hn] = '\0';
	const char *d = said + 7;
	const char *end = strstr(d, " (in reply to ");
	size_t dn = end ? (size_t)(end - d) : strlen(d);
	if (dn >= diag_size)
		dn = diag_size - 1;
	memcpy(diag, d, dn);
	diag[dn] = '\0';
	return true;
}

time_t queue_next_attempt(const uint64_t *retry, size_t n, int attempts, time_t now, time_t created,
			  uint64_t lifetime)
{
	size_t i = attempts < 1 ? 0 : (size_t)attempts - 1;
	if (i >= n)
		i = n - 1;
	time_t next = now + (time_t)retry[i];
	time_t expiry = created + (time_t)lifetime;
	if (next > expiry)
		next = expiry > now ? expiry : now;
	return next;
}

bool queue_expired(time_t now, time_t created, uint64_t lifetime)
{
	return now - created >= (time_t)lifetime;
}

int queue_domain(const char *address, char *out, size_t size)
{
	const char *at = strrchr(address, '@');
	if (at == NULL || at[1] == '\0')
		return -1;
	size_t n = strlen(at + 1);
	if (n >= size)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		char c = at[1 + i];
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	return 0;
}

bool queue_str_8bit(const char *s)
{
	for (; s != NULL && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

void queue_msg_scan(const char *data, size_t len, bool *body_8bit_r, bool *header_8bit_r)
{
	size_t h = mime_header_block_size(data, len, NULL);
	bool hb = false, bb = false;
	for (size_t i = 0; i < h && !hb; i++)
		hb = (unsigned char)data[i] >= 0x80;
	for (size_t i = h; i < len && !bb; i++)
		bb = (unsigned char)data[i] >= 0x80;
	*body_8bit_r = bb;
	*header_8bit_r = hb;
}
