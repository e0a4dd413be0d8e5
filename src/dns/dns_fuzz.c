/* libFuzzer target for the DNS record-data decoders: every decoder runs
 * on the input as rdata; names that decode are within the limits and made
 * of the allowed characters; TXT output is never longer than its input. */
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/dns_mx.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s)
{
	size_t n = strlen(s);
	if (n > DNS_NAME_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_' || s[i] == '.'))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	struct dns_rdata rd = {copy, size};
	char name[DNS_NAME_MAX + 1];
	uint16_t a, b, c;
	if (dns_rdata_mx(&rd, &a, name, sizeof(name)) == 0)
		check_name(name);
	if (dns_rdata_srv(&rd, &a, &b, &c, name, sizeof(name)) == 0)
		check_name(name);
	size_t pos = 0;
	while (pos < size && dns_name_from_wire(copy, size, &pos, name, sizeof(name)) == 0)
		check_name(name);
	struct buf txt;
	buf_init(&txt, 1 << 20);
	if (dns_rdata_txt(&rd, &txt) == 0 && txt.len >= size)
		abort();
	buf_free(&txt);
	uint8_t u, s, m;
	const uint8_t *assoc;
	size_t alen;
	if (dns_rdata_tlsa(&rd, &u, &s, &m, &assoc, &alen) == 0 && assoc + alen != copy + size)
		abort();
	struct in_addr a4;
	struct in6_addr a6;
	(void)dns_rdata_a(&rd, &a4);
	(void)dns_rdata_aaaa(&rd, &a6);
	/* Address literals from text. */
	char text[64];
	size_t tn = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, tn);
	text[tn] = '\0';
	struct sockaddr_storage ss;
	(void)dns_mx_literal(text, 25, size & 1, &ss);
	(void)dns_check_resolver(text, &(const char *){NULL});
	free(copy);
	return 0;
}
