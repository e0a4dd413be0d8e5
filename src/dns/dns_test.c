/* Unit tests for the pure parts of dns and dns_mx: record-data decoders on
 * well-formed and malformed wire data (every truncation of each valid
 * record must fail cleanly, in an exactly-sized heap copy), resolver
 * settings, address literals and MX ordering. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "dns/dns.h"
#include "dns/dns_mx.h"
#include "test.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

struct rd {
	const char *bytes;
	size_t len;
};
#define RD(s)                                                                                                \
	{                                                                                                    \
		s, sizeof(s) - 1                                                                             \
	}

static void rd_free(struct dns_rdata *rd)
{
	void *p;
	memcpy(&p, &rd->data, sizeof(p)); /* ours: allocated by heap() */
	free(p);
}

static struct dns_rdata heap(const char *b, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	memcpy(p, b, len);
	return (struct dns_rdata){p, len};
}

static const struct {
	struct rd in;
	const char *want; /* "pref host" or "ERR" */
} mx_cases[] = {
    {RD("\x00\x0a\x02mx\x01"
	"b\x04test\x00"),
     "10 mx.b.test"},
    {RD("\x00\x00\x00"), "0 "},				 /* null MX */
    {RD("\xff\xff\x02MX\x04Test\x00"), "65535 mx.test"}, /* lower-cased */
    {RD("\x00\x0a\x03_a-\x00"), "10 _a-"},
    {RD("\x00\x0a\x02mx\xc0\x0c"), "ERR"}, /* compression pointer */
    {RD("\x00\x0a\x02m x\x00"), "ERR"},	   /* wrong length / junk */
    {RD("\x00\x0a\x03m.x\x00"), "ERR"},	   /* dot inside a label */
    {RD("\x00\x0a\x02mx\x00\x00"), "ERR"}, /* trailing bytes */
    {RD("\x00\x0a\x40"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x00"),
     "ERR"}, /* label of 64 */
    {RD("\x00"), "ERR"},
};

TEST(mx)
{
	char out[300];
	for (size_t i = 0; i < N_ELEMENTS(mx_cases); i++) {
		struct dns_rdata rd = heap(mx_cases[i].in.bytes, mx_cases[i].in.len);
		uint16_t pref;
		char host[DNS_NAME_MAX + 1];
		if (dns_rdata_mx(&rd, &pref, host, sizeof(host)) < 0)
			snprintf(out, sizeof(out), "ERR");
		else
			snprintf(out, sizeof(out), "%u %s", pref, host);
		CHECK_STR(out, mx_cases[i].want);
		rd_free(&rd);
		/* Every truncation of a valid record fails. */
		if (strcmp(mx_cases[i].want, "ERR") != 0) {
			for (size_t cut = 0; cut < mx_cases[i].in.len; cut++) {
				rd = heap(mx_cases[i].in.bytes, cut);
				CHECK_INT(dns_rdata_mx(&rd, &pref, host, sizeof(host)), -1);
				rd_free(&rd);
			}
		}
	}
}

TEST(name_limits)
{
	/* 4 labels of 63 = 255 characters with dots: the maximum. */
	uint8_t wire[300];
	size_t w = 0;
	for (int l = 0; l < 4; l++) {
		size_t len = l < 3 ? 63 : 63;
		wire[w++] = (uint8_t)len;
		memset(wire + w, 'a', len);
		w += len;
	}
	wire[w++] = 0;
	char out[DNS_NAME_MAX + 1];
	size_t pos = 0;
	/* 63*4 + 3 dots = 255: fits. */
	CHECK_INT(dns_name_from_wire(wire, w, &pos, out, sizeof(out)), 0);
	CHECK_INT(strlen(out), 255);
	CHECK_INT(pos, w);
	/* One more label is too long. */
	wire[w - 1] = 1;
	wire[w++] = 'b';
	wire[w++] = 0;
	pos = 0;
	CHECK_INT(dns_name_from_wire(wire, w, &pos, out, sizeof(out)), -1);
	CHECK_INT(dns_name_from_wire(wire, w, &pos, out, 10), -1);
}

TEST(txt)
{
	struct buf out;
	buf_init(&out, 1000);
	struct dns_rdata rd = heap("\x07v=spf1 \x04-all", 13);
	CHECK_INT(dns_rdata_txt(&rd, &out), 0);
	CHECK_STR(buf_cstr(&out), "v=spf1 -all");
	for (size_t cut = 1; cut < rd.len; cut++) {
		if (cut == 8)
			continue; /* a complete first string is a valid TXT */
		struct dns_rdata t = heap((const char *)rd.data, cut);
		buf_reset(&out);
		CHECK_INT(dns_rdata_txt(&t, &out), -1);
		rd_free(&t);
	}
	rd_free(&rd);
	rd = heap("\x00", 1);
	buf_reset(&out);
	CHECK_INT(dns_rdata_txt(&rd, &out), 0);
	CHECK_STR(buf_cstr(&out), "");
	rd_free(&rd);
	struct buf small;
	buf_init(&small, 3);
	rd = heap("\x05"
		  "abcde",
		  6);
	CHECK_INT(dns_rdata_txt(&rd, &small), -1);
	rd_free(&rd);
	buf_free(&small);
	buf_free(&out);
}

TEST(addresses)
{
	struct dns_rdata rd = heap("\x7f\x00\x00\x02", 4);
	struct in_addr a;
	CHECK_INT(dns_rdata_a(&rd, &a), 0);
	char text[64];
	inet_ntop(AF_INET, &a, text, sizeof(text));
	CHECK_STR(text, "127.0.0.2");
	rd_free(&rd);
	rd = heap("\x7f\x00\x00", 3);
	CHECK_INT(dns_rdata_a(&rd, &a), -1);
	rd_free(&rd);
	struct in6_addr a6;
	rd = heap("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	CHECK_INT(dns_rdata_aaaa(&rd, &a6), 0);
	inet_ntop(AF_INET6, &a6, text, sizeof(text));
	CHECK_STR(text, "2001:db8::1");
	rd_free(&rd);
	rd = heap("\x20\x01", 2);
	CHECK_INT(dns_rdata_aaaa(&rd, &a6), -1);
	rd_free(&rd);
}

TEST(tlsa_srv)
{
	struct dns_rdata rd = heap("\x03\x01\x01\xaa\xbb", 5);
	uint8_t u, s, m;
	const uint8_t *assoc;
	size_t alen;
	CHECK_INT(dns_rdata_tlsa(&rd, &u, &s, &m, &assoc, &alen), 0);
	CHECK(u == 3 && s == 1 && m == 1 && alen == 2 && assoc[0] == 0xaa);
	rd_free(&rd);
	rd = heap("\x03\x01\x01", 3);
	CHECK_INT(dns_rdata_tlsa(&rd, &u, &s, &m, &assoc, &alen), -1);
	rd_free(&rd);
	static const char srv[] = "\x00\x00\x00\x01\x02\x4b\x04mail\x07"
				  "example\x03org\x00";
	rd = heap(srv, sizeof(srv) - 1);
	uint16_t prio, weight, port;
	char target[DNS_NAME_MAX + 1];
	CHECK_INT(dns_rdata_srv(&rd, &prio, &weight, &port, target, sizeof(target)), 0);
	CHECK(prio == 0 && weight == 1 && port == 587);
	CHECK_STR(target, "mail.example.org");
	rd_free(&rd);
	for (size_t cut = 0; cut < sizeof(srv) - 1; cut++) {
		rd = heap(srv, cut);
		CHECK_INT(dns_rdata_srv(&rd, &prio, &weight, &port, target, sizeof(target)), -1);
		rd_free(&rd);
	}
}

static const struct {
	const char *in;
	const char *want; /* "" = fine, else the error */
} resolver_cases[] = {
    {"system", ""},
    {"127.0.0.1", ""},
    {"127.0.0.1:5353", ""},
    {"127.0.0.1:5353 [::1]:53, ::1", ""},
    {"[::1]", ""},
    {"127.0.0.1:0", "bad DNS forwarder port: expected 1-65535"},
    {"127.0.0.1:99999", "bad DNS forwarder port: expected 1-65535"},
    {"127.0.0.1:x", "bad DNS forwarder port: expected ADDRESS:PORT"},
    {"[::1]x", "bad DNS forwarder port: expected [ADDRESS]:PORT"},
    {"[::1", "bad DNS forwarder: missing ] after an IPv6 address"},
    {"dns.google", "bad DNS forwarder: expected an IP address (\"system\" for /etc/resolv.conf)"},
    {" , ", "no DNS forwarder given"},
};

TEST(resolver_setting)
{
	for (size_t i = 0; i < N_ELEMENTS(resolver_cases); i++) {
		const char *error = "";
		if (dns_check_resolver(resolver_cases[i].in, &error) == 0)
			error = "";
		CHECK_STR(error, resolver_cases[i].want);
	}
}

static const struct {
	const char *in;
	bool bare;
	const char *want; /* address, "no", or "ERR" */
} literal_cases[] = {
    {"[192.0.2.1]", false, "192.0.2.1"},
    {"[IPv6:2001:db8::1]", false, "2001:db8::1"},
    {"[ipv6:::1]", false, "::1"},
    {"[2001:db8::1]", false, "ERR"},
    {"[IPv6:192.0.2.1]", false, "ERR"},
    {"[]", false, "ERR"},
    {"[192.0.2.1", false, "ERR"},
    {"example.org", false, "no"},
    {"192.0.2.1", false, "no"},
    {"192.0.2.1", true, "192.0.2.1"},
    {"::1", true, "::1"},
    {"relay.example.org", true, "no"},
};

TEST(literals)
{
	for (size_t i = 0; i < N_ELEMENTS(literal_cases); i++) {
		struct sockaddr_storage ss;
		int r = dns_mx_literal(literal_cases[i].in, 25, literal_cases[i].bare, &ss);
		char text[INET6_ADDRSTRLEN] = "";
		if (r == 1) {
			if (ss.ss_family == AF_INET) {
				inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text,
					  sizeof(text));
				CHECK_INT(ntohs(((struct sockaddr_in *)&ss)->sin_port), 25);
			} else
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text,
					  sizeof(text));
		}
		CHECK_STR(r == 1 ? text : r == 0 ? "no" : "ERR", literal_cases[i].want);
	}
}

static uint32_t counter_rnd(void *ctx)
{
	uint32_t *c = ctx;
	return (*c)++ * 2654435761u;
}

TEST(order)
{
	static const uint16_t prefs[] = {20, 10, 30, 10, 20, 10};
	struct dns_mx_host hosts[N_ELEMENTS(prefs)];
	bool first_seen[N_ELEMENTS(prefs)] = {false};
	uint32_t seed = 1;
	for (int round = 0; round < 200; round++) {
		memset(hosts, 0, sizeof(hosts));
		for (size_t i = 0; i < N_ELEMENTS(prefs); i++) {
			hosts[i].pref = prefs[i];
			snprintf(hosts[i].name, sizeof(hosts[i].name), "h%zu", i);
		}
		dns_mx_order(hosts, N_ELEMENTS(prefs), counter_rnd, &seed);
		for (size_t i = 1; i < N_ELEMENTS(prefs); i++)
			CHECK(hosts[i - 1].pref <= hosts[i].pref);
		first_seen[hosts[0].name[1] - '0'] = true;
	}
	/* Each of the three preference-10 hosts came first at some point. */
	CHECK(first_seen[1] && first_seen[3] && first_seen[5]);
	CHECK(!first_seen[0] && !first_seen[2] && !first_seen[4]);
}

int main(void)
{
	RUN(mx);
	RUN(name_limits);
	RUN(txt);
	RUN(addresses);
	RUN(tlsa_srv);
	RUN(resolver_setting);
	RUN(literals);
	RUN(order);
	return test_done();
}
