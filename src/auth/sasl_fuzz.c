/* libFuzzer target for the SASL parsers: the PLAIN message splitter, the
 * SCRAM client messages, and whole SASL exchanges through the state machine.
 *
 * Input: one mode byte, then
 *   mode 0: a raw PLAIN message for sasl_plain_parse();
 *   mode 1: a raw SCRAM client-first, NUL, a raw client-final (NUL cannot
 *           occur inside either, the parser refuses it), run against the
 *           RFC 7677 secrets with the RFC's server nonce, so a seed with the
 *           RFC exchange reaches the proof check;
 *   mode 2: a whole exchange: flags byte (bits 0-1 mechanism, bit 2 initial
 *           response, bit 3 unknown SCRAM user), then client lines separated
 *           by '\n'. Each line is base64-encoded before it is fed, so the
 *           fuzzer works on the decoded messages, unless it starts with '~',
 *           in which case the rest is fed as is (bad base64, "*").
 * Seeds: tests/fuzz/sasl/. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/sasl.h"
#include "auth/scram.h"
#include "util/base64.h"
#include "util/buf.h"

#define R7677_SECRETS                                                                                        \
	"4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"                        \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define R7677_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_plain(const uint8_t *p, size_t n)
{
	struct sasl_plain pl;
	const char *err;
	if (sasl_plain_parse(p, n, &pl, &err) == 0) {
		/* The views must lie inside the input. */
		if (pl.authcid < (const char *)p || pl.passwd + pl.passwd_len > (const char *)p + n)
			__builtin_trap();
	}
}

static void fuzz_scram(const uint8_t *p, size_t n)
{
	const uint8_t *nul = memchr(p, '\0', n);
	size_t first_len = nul ? (size_t)(nul - p) : n;
	struct scram_server *s = scram_server_new();
	scram_server_set_nonce(s, R7677_SNONCE);
	const char *err;
	struct buf out;
	buf_init(&out, 8192);
	if (scram_server_client_first(s, p, first_len, &err) == 0) {
		struct scram_secrets sec;
		if (scram_secrets_parse(R7677_SECRETS, &sec, &err) < 0)
			__builtin_trap();
		if (scram_server_first(s, &sec, &out, &err) < 0)
			__builtin_trap();
		if (nul != NULL) {
			buf_reset(&out);
			(void)scram_server_client_final(s, nul + 1, n - first_len - 1, &out, &err);
		}
	}
	buf_free(&out);
	scram_server_free(&s);
}

static void fuzz_exchange(const uint8_t *p, size_t n)
{
	if (n < 1)
		return;
	uint8_t flags = p[0];
	p++, n--;
	static const enum sasl_mech mechs[] = {SASL_MECH_PLAIN, SASL_MECH_LOGIN, SASL_MECH_SCRAM_SHA_256,
					       SASL_MECH_SCRAM_SHA_256};
	struct sasl *s = sasl_new(mechs[flags & 3]);
	sasl_scram_set_nonce(s, R7677_SNONCE);
	const char *ch = NULL, *err = NULL;
	enum sasl_status st;
	bool started = false;
	struct buf line;
	buf_init(&line, 4 * SASL_LINE_MAX);
	if (!(flags & 4)) {
		st = sasl_start(s, NULL, 0, &ch, &err);
		started = true;
	} else {
		st = SASL_STATUS_CHALLENGE;
	}
	size_t pos = 0;
	while (pos <= n) {
		if (st == SASL_STATUS_NEED_SCRAM_SECRETS) {
			st = sasl_scram_secrets(s, (flags & 8) ? NULL : R7677_SECRETS, &ch, &err);
			continue;
		}
		if (st != SASL_STATUS_CHALLENGE)
			break;
		const uint8_t *nl = memchr(p + pos, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - (p + pos)) : n - pos;
		buf_reset(&line);
		if (len > 0 && p[pos] == '~') {
			if (buf_append(&line, p + pos + 1, len - 1) < 0)
				break;
		} else if (base64_encode(&line, p + pos, len) < 0) {
			break;
		}
		if (started)
			st = sasl_continue(s, buf_cstr(&line), line.len, &ch, &err);
		else
			st = sasl_start(s, buf_cstr(&line), line.len, &ch, &err);
		started = true;
		pos += len + 1;
	}
	if (st == SASL_STATUS_CHECK_PASSWORD && sasl_username(s)[0] == '\0')
		__builtin_trap(); /* a password check always comes with a user name */
	buf_free(&line);
	sasl_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_plain(data + 1, size - 1);
		break;
	case 1:
		fuzz_scram(data + 1, size - 1);
		break;
	default:
		fuzz_exchange(data + 1, size - 1);
		break;
	}
	return 0;
}
