/* libFuzzer target for smtp_parse: byte 0 selects the parser flags, the
 * rest is a command line. The line is split with smtp_parse_command and
 * its argument given to the parser of its verb; the whole line also goes
 * to the MAIL and RCPT argument parsers directly, and to the xtext decoder.
 * Every input lives in a heap block of exactly its size, so ASan sees any
 * read past the end. Checked: reply codes are the documented ones, strings
 * are terminated and within the RFC limits, a parsed address re-parses to
 * the same parts, and xtext encoding round-trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_parse.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct smtp_error *err)
{
	if (err->code != 500 && err->code != 501 && err->code != 553 && err->code != 555)
		abort();
	if (memchr(err->text, '\0', sizeof(err->text)) == NULL || err->enh == NULL)
		abort();
	for (const char *p = err->text; *p; p++)
		if (*p < 32 || *p > 126)
			abort();
}

static void check_path(const struct smtp_path *p)
{
	size_t lp = strnlen(p->localpart, sizeof(p->localpart));
	size_t dom = strnlen(p->domain, sizeof(p->domain));
	size_t addr = strnlen(p->addr, sizeof(p->addr));
	if (lp == sizeof(p->localpart) || dom == sizeof(p->domain) || addr > SMTP_PATH_MAX - 2)
		abort();
	if (p->null && (lp || dom || addr))
		abort();
}

/* Parses "FROM:<addr>" / "TO:<addr>" again and expects the same parts. */
static void reparse(const struct smtp_path *p, bool rcpt, unsigned flags)
{
	char line[400];
	int n = snprintf(line, sizeof(line), "%s<%s>%s", rcpt ? "TO:" : "FROM:", p->addr,
			 !rcpt && p->utf8 ? " SMTPUTF8" : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		abort();
	struct smtp_error err;
	const struct smtp_path *q;
	struct smtp_mail m;
	struct smtp_rcpt r;
	if (rcpt) {
		if (smtp_parse_rcpt(line, (size_t)n, flags | SMTP_PARSE_UTF8, &r, &err) < 0)
			abort();
		q = &r.path;
	} else {
		if (smtp_parse_mail(line, (size_t)n, flags | SMTP_PARSE_EXT_SMTPUTF8, &m, &err) < 0)
			abort();
		q = &m.path;
	}
	if (strcmp(q->addr, p->addr) != 0 || strcmp(q->localpart, p->localpart) != 0 ||
	    strcmp(q->domain, p->domain) != 0 || q->utf8 != p->utf8)
		abort();
}

static void parse_mail(const char *arg, size_t len, unsigned flags)
{
	struct smtp_mail m;
	struct smtp_error err;
	if (smtp_parse_mail(arg, len, flags, &m, &err) < 0) {
		check_error(&err);
		return;
	}
	check_path(&m.path);
	if (strnlen(m.envid, sizeof(m.envid)) == sizeof(m.envid) ||
	    strnlen(m.auth_mailbox, sizeof(m.auth_mailbox)) == sizeof(m.auth_mailbox))
		abort();
	if (m.path.utf8 && !m.smtputf8)
		abort();
	if (!m.path.null)
		reparse(&m.path, false, flags);
}

static void parse_rcpt(const char *arg, size_t len, unsigned flags)
{
	struct smtp_rcpt r;
	struct smtp_error err;
	if (smtp_parse_rcpt(arg, len, flags, &r, &err) < 0) {
		check_error(&err);
		return;
	}
	check_path(&r.path);
	if (r.path.null || (r.path.utf8 && !(flags & SMTP_PARSE_UTF8)))
		abort();
	if (r.path.domain[0] == '\0' && strcasecmp(r.path.localpart, "postmaster") != 0)
		abort();
	if ((r.notify & SMTP_NOTIFY_NEVER) && r.notify != SMTP_NOTIFY_NEVER)
		abort();
	reparse(&r.path, true, flags);
}

static void xtext(const char *s, size_t len)
{
	struct buf dec, enc, again;
	const char *error;
	buf_init(&dec, 1 << 16);
	buf_init(&enc, 1 << 18);
	buf_init(&again, 1 << 16);
	if (smtp_xtext_decode(&dec, s, len, &error) == 0) {
		if (smtp_xtext_encode(&enc, dec.data, dec.len) < 0 ||
		    smtp_xtext_decode(&again, enc.data, enc.len, &error) < 0 || again.len != dec.len ||
		    (dec.len && memcmp(again.data, dec.data, dec.len) != 0))
			abort();
	}
	buf_free(&dec);
	buf_free(&enc);
	buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	unsigned flags = data[0];
	size_t len = size - 1;
	char *line = malloc(len ? len : 1);
	memcpy(line, data + 1, len);

	struct smtp_command cmd;
	struct smtp_error err;
	int r = smtp_parse_command(line, len, &cmd, &err);
	if (r < 0)
		check_error(&err);
	if (cmd.verb != line || cmd.verb_len > len || cmd.arg < line || cmd.arg + cmd.arg_len > line + len)
		abort();
	if (r == 0) {
		switch (cmd.cmd) {
		case SMTP_CMD_MAIL:
			parse_mail(cmd.arg, cmd.arg_len, flags);
			break;
		case SMTP_CMD_RCPT:
			parse_rcpt(cmd.arg, cmd.arg_len, flags);
			break;
		case SMTP_CMD_HELO:
		case SMTP_CMD_EHLO: {
			struct smtp_helo h;
			if (smtp_parse_helo(cmd.arg, cmd.arg_len, &h, &err) < 0)
				check_error(&err);
			else if (strlen(h.name) != cmd.arg_len)
				abort();
			break;
		}
		case SMTP_CMD_BDAT: {
			uint64_t n;
			bool last;
			if (smtp_parse_bdat(cmd.arg, cmd.arg_len, &n, &last, &err) < 0)
				check_error(&err);
			break;
		}
		case SMTP_CMD_AUTH: {
			const char *mech, *ir;
			size_t mech_len, ir_len;
			if (smtp_parse_auth(cmd.arg, cmd.arg_len, &mech, &mech_len, &ir, &ir_len, &err) < 0)
				check_error(&err);
			else if (mech_len == 0 || mech_len > 20 || (ir && ir + ir_len > cmd.arg + cmd.arg_len))
				abort();
			break;
		}
		default:
			break;
		}
	}
	/* The raw line as an argument, too: no verb needed to reach the path code. */
	parse_mail(line, len, flags);
	parse_rcpt(line, len, flags);
	xtext(line, len);
	const char *error;
	(void)smtp_domain_check(line, len, flags & 1, flags & 2, &error);
	free(line);
	return 0;
}
