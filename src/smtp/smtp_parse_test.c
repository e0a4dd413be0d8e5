/* Unit tests for smtp_parse: tables of command lines and arguments with the
 * expected result written out as one string (the parsed fields, or the
 * exact reply for an error), length limits at and past every RFC bound,
 * and every table input cut at every length into an exactly-sized heap
 * copy, so AddressSanitizer catches any read past the end. */
#include <stdlib.h>

#include "smtp/smtp_parse.h"
#include "test.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static struct buf fmt_out;

static const char *fmt_error(const struct smtp_error *err)
{
	buf_reset(&fmt_out);
	buf_printf(&fmt_out, "%u %s %s", err->code, err->enh, err->text);
	return buf_cstr(&fmt_out);
}

static void fmt_path(const struct smtp_path *p)
{
	if (p->null) {
		buf_puts(&fmt_out, "<>");
		return;
	}
	buf_printf(&fmt_out, "<%s> lp=%s dom=%s", p->addr, p->localpart, p->domain);
	if (p->utf8)
		buf_puts(&fmt_out, " utf8");
}

static const char *fmt_mail(const char *arg, size_t len, unsigned flags)
{
	struct smtp_mail m;
	struct smtp_error err;
	static const char *bodies[] = {"", "7BIT", "8BITMIME", "BINARYMIME"};
	static const char *rets[] = {"", "FULL", "HDRS"};

	if (smtp_parse_mail(arg, len, flags, &m, &err) < 0)
		return fmt_error(&err);
	buf_reset(&fmt_out);
	fmt_path(&m.path);
	if (m.size_set)
		buf_printf(&fmt_out, " size=%llu", (unsigned long long)m.size);
	if (m.body != SMTP_BODY_UNSPEC)
		buf_printf(&fmt_out, " body=%s", bodies[m.body]);
	if (m.smtputf8)
		buf_puts(&fmt_out, " smtputf8");
	if (m.ret != SMTP_RET_UNSPEC)
		buf_printf(&fmt_out, " ret=%s", rets[m.ret]);
	if (m.envid_set)
		buf_printf(&fmt_out, " envid=%s", m.envid);
	if (m.auth == SMTP_AUTH_PARAM_NULL)
		buf_puts(&fmt_out, " auth=<>");
	else if (m.auth == SMTP_AUTH_PARAM_MAILBOX)
		buf_printf(&fmt_out, " auth=%s", m.auth_mailbox);
	return buf_cstr(&fmt_out);
}

static const char *fmt_rcpt(const char *arg, size_t len, unsigned flags)
{
	struct smtp_rcpt r;
	struct smtp_error err;

	if (smtp_parse_rcpt(arg, len, flags, &r, &err) < 0)
		return fmt_error(&err);
	buf_reset(&fmt_out);
	fmt_path(&r.path);
	if (r.notify) {
		buf_puts(&fmt_out, " notify=");
		if (r.notify & SMTP_NOTIFY_NEVER)
			buf_puts(&fmt_out, "N");
		if (r.notify & SMTP_NOTIFY_SUCCESS)
			buf_puts(&fmt_out, "S");
		if (r.notify & SMTP_NOTIFY_FAILURE)
			buf_puts(&fmt_out, "F");
		if (r.notify & SMTP_NOTIFY_DELAY)
			buf_puts(&fmt_out, "D");
	}
	if (r.orcpt_set)
		buf_printf(&fmt_out, " orcpt=%s;%s", r.orcpt_type, r.orcpt);
	return buf_cstr(&fmt_out);
}

static const char *fmt_command(const char *line, size_t len)
{
	struct smtp_command cmd;
	struct smtp_error err;
	int r = smtp_parse_command(line, len, &cmd, &err);
	buf_reset(&fmt_out);
	buf_printf(&fmt_out, "%s [%.*s] [%.*s]", smtp_cmd_name(cmd.cmd), (int)cmd.verb_len, cmd.verb,
		   (int)cmd.arg_len, cmd.arg);
	if (r < 0)
		buf_printf(&fmt_out, " %u %s %s", err.code, err.enh, err.text);
	return buf_cstr(&fmt_out);
}

static const char *fmt_helo(const char *arg, size_t len)
{
	struct smtp_helo h;
	struct smtp_error err;
	if (smtp_parse_helo(arg, len, &h, &err) < 0)
		return fmt_error(&err);
	buf_reset(&fmt_out);
	buf_printf(&fmt_out, "%s%s%s", h.name, h.valid ? " valid" : "", h.literal ? " literal" : "");
	return buf_cstr(&fmt_out);
}

/* A table row: input (with an explicit length when it holds a NUL), flags,
 * expected formatted result. */
struct row {
	const char *in;
	size_t len; /* 0: strlen(in) */
	unsigned flags;
	const char *want;
};

#define ROWLEN(r) ((r)->len ? (r)->len : strlen((r)->in))

enum {
	NB = SMTP_PARSE_NO_BRACKETS,
	LAX = SMTP_PARSE_LAX_LOCALPART,
	U8 = SMTP_PARSE_UTF8,
	XU8 = SMTP_PARSE_EXT_SMTPUTF8,
	XBIN = SMTP_PARSE_EXT_BINARYMIME,
	XDSN = SMTP_PARSE_EXT_DSN,
	XAUTH = SMTP_PARSE_EXT_AUTH,
};

#define BADS "501 5.1.7 Bad sender address syntax: "
#define BADR "501 5.1.3 Bad recipient address syntax: "
#define MSYN "501 5.5.4 Syntax: MAIL FROM:<address>"
#define MSYNP "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]"

static const struct row command_rows[] = {
	{"MAIL FROM:<a@b>", 0, 0, "MAIL [MAIL] [FROM:<a@b>]"},
	{"mail FROM:<a@b>", 0, 0, "MAIL [mail] [FROM:<a@b>]"},
	{"Mail  FROM:<a@b>  ", 0, 0, "MAIL [Mail] [FROM:<a@b>]"},
	{"MAIL\tFROM:<a@b>\t", 0, 0, "MAIL [MAIL] [FROM:<a@b>]"},
	{"RCPT TO:<a@b> NOTIFY=NEVER", 0, 0, "RCPT [RCPT] [TO:<a@b> NOTIFY=NEVER]"},
	{"EHLO client.example", 0, 0, "EHLO [EHLO] [client.example]"},
	{"helo x", 0, 0, "HELO [helo] [x]"},
	{"EHLO", 0, 0, "EHLO [EHLO] [] 501 5.5.4 Syntax: EHLO hostname"},
	{"EHLO   ", 0, 0, "EHLO [EHLO] [] 501 5.5.4 Syntax: EHLO hostname"},
	{"HELO", 0, 0, "HELO [HELO] [] 501 5.5.4 Syntax: HELO hostname"},
	{"MAIL", 0, 0, "MAIL [MAIL] [] 501 5.5.4 Syntax: MAIL FROM:<address> [parameters]"},
	{"RCPT", 0, 0, "RCPT [RCPT] [] 501 5.5.4 Syntax: RCPT TO:<address> [parameters]"},
	{"DATA", 0, 0, "DATA [DATA] []"},
	{"data ", 0, 0, "DATA [data] []"},
	{"DATA x", 0, 0, "DATA [DATA] [x] 501 5.5.4 Syntax: DATA"},
	{"BDAT 100 LAST", 0, 0, "BDAT [BDAT] [100 LAST]"},
	{"BDAT", 0, 0, "BDAT [BDAT] [] 501 5.5.4 Syntax: BDAT size [LAST]"},
	{"RSET", 0, 0, "RSET [RSET] []"},
	{"RSET now", 0, 0, "RSET [RSET] [now] 501 5.5.4 Syntax: RSET"},
	{"NOOP", 0, 0, "NOOP [NOOP] []"},
	{"NOOP hello there", 0, 0, "NOOP [NOOP] [hello there]"},
	{"QUIT", 0, 0, "QUIT [QUIT] []"},
	{"QUIT x", 0, 0, "QUIT [QUIT] [x] 501 5.5.4 Syntax: QUIT"},
	{"VRFY bob", 0, 0, "VRFY [VRFY] [bob]"},
	{"VRFY", 0, 0, "VRFY [VRFY] [] 501 5.5.4 Syntax: VRFY address"},
	{"EXPN staff", 0, 0, "EXPN [EXPN] [staff]"},
	{"EXPN", 0, 0, "EXPN [EXPN] [] 501 5.5.4 Syntax: EXPN list"},
	{"HELP", 0, 0, "HELP [HELP] []"},
	{"HELP MAIL", 0, 0, "HELP [HELP] [MAIL]"},
	{"STARTTLS", 0, 0, "STARTTLS [STARTTLS] []"},
	{"starttls", 0, 0, "STARTTLS [starttls] []"},
	{"STARTTLS x", 0, 0, "STARTTLS [STARTTLS] [x] 501 5.5.4 Syntax: STARTTLS"},
	{"AUTH PLAIN AGFsaWNlAHNlY3JldA==", 0, 0, "AUTH [AUTH] [PLAIN AGFsaWNlAHNlY3JldA==]"},
	{"AUTH", 0, 0, "AUTH [AUTH] [] 501 5.5.4 Syntax: AUTH mechanism [initial-response]"},
	{"", 0, 0, "UNKNOWN [] []"},
	{"   ", 0, 0, "UNKNOWN [] []"},
	{"XYZZY plugh", 0, 0, "UNKNOWN [XYZZY] [plugh]"},
	{"MAILFROM:<a@b>", 0, 0, "UNKNOWN [MAILFROM:<a@b>] []"},
	{"DAT", 0, 0, "UNKNOWN [DAT] []"},
	{"DATAX", 0, 0, "UNKNOWN [DATAX] []"},
	{"GET / HTTP/1.1", 0, 0, "UNKNOWN [GET] [/ HTTP/1.1]"},
	{"NOOP \0x", 7, 0, "NOOP [NOOP] [] 500 5.5.2 Invalid character (NUL, CR or LF) in command"},
	{"NOOP a\rb", 0, 0, "NOOP [NOOP] [a\rb] 500 5.5.2 Invalid character (NUL, CR or LF) in command"},
	{"NOOP a\nb", 0, 0, "NOOP [NOOP] [a\nb] 500 5.5.2 Invalid character (NUL, CR or LF) in command"},
	{"DATA\r", 0, 0, "UNKNOWN [DATA\r] [] 500 5.5.2 Invalid character (NUL, CR or LF) in command"},
};

static const struct row mail_rows[] = {
	/* plain, and the liberties real clients need */
	{"FROM:<a@example.com>", 0, 0, "<a@example.com> lp=a dom=example.com"},
	{"from:<a@example.com>", 0, 0, "<a@example.com> lp=a dom=example.com"},
	{"From:<A.B-c+d@Example.COM>", 0, 0, "<A.B-c+d@Example.COM> lp=A.B-c+d dom=Example.COM"},
	{"FROM: <a@example.com>", 0, 0, "<a@example.com> lp=a dom=example.com"},
	{"FROM:\t <a@example.com>", 0, 0, "<a@example.com> lp=a dom=example.com"},
	{"FROM:<a@example.com>  ", 0, 0, "<a@example.com> lp=a dom=example.com"},
	{"FROM:<a@b>", 0, 0, "<a@b> lp=a dom=b"},
	{"FROM:<a@ex_ample.com>", 0, 0, "<a@ex_ample.com> lp=a dom=ex_ample.com"},
	{"FROM:<a@123.example>", 0, 0, "<a@123.example> lp=a dom=123.example"},
	{"FROM:<!#$%&'*+-/=?^_`{|}~@x.y>", 0, 0, "<!#$%&'*+-/=?^_`{|}~@x.y> lp=!#$%&'*+-/=?^_`{|}~ dom=x.y"},
	{"FROM:<>", 0, 0, "<>"},
	{"FROM: <>", 0, 0, "<>"},
	{"FROM:<> SIZE=100", 0, 0, "<> size=100"},
	{"FROM:a@example.com", 0, 0, BADS "address must be enclosed in <>"},
	{"FROM:a@example.com", 0, NB, "<a@example.com> lp=a dom=example.com"},
	{"FROM: a@example.com SIZE=10", 0, NB, "<a@example.com> lp=a dom=example.com size=10"},
	{"FROM:\"a b\"@example.com BODY=8BITMIME", 0, NB, "<\"a b\"@example.com> lp=a b dom=example.com body=8BITMIME"},
	{"FROM:<a@example.com>", 0, NB, "<a@example.com> lp=a dom=example.com"},
	{"FROM:a@example.com>", 0, NB, BADS "invalid character in domain"},
	{"FROM:a", 0, NB, BADS "missing @domain"},
	/* source routes: checked, dropped */
	{"FROM:<@r1.example,@r2.example:a@example.com>", 0, 0, "<a@example.com> lp=a dom=example.com"},
	{"FROM:<@r1.example:a@example.com>", 0, 0, "<a@example.com> lp=a dom=example.com"},
	{"FROM:<@r1.example,r2.example:a@example.com>", 0, 0, BADS "invalid source route"},
	{"FROM:<@r1.example a@example.com>", 0, 0, BADS "invalid source route"},
	{"FROM:<@example.com>", 0, 0, BADS "invalid source route"},
	{"FROM:<@:a@example.com>", 0, 0, BADS "missing domain"},
	{"FROM:<@r1..example:a@example.com>", 0, 0, BADS "empty label in domain"},
	/* quoted local parts */
	{"FROM:<\"john doe\"@example.com>", 0, 0, "<\"john doe\"@example.com> lp=john doe dom=example.com"},
	{"FROM:<\"a\\\"b\"@example.com>", 0, 0, "<\"a\\\"b\"@example.com> lp=a\"b dom=example.com"},
	{"FROM:<\"a\\\\b\"@example.com>", 0, 0, "<\"a\\\\b\"@example.com> lp=a\\b dom=example.com"},
	{"FROM:<\"a@b>\"@example.com>", 0, 0, "<\"a@b>\"@example.com> lp=a@b> dom=example.com"},
	{"FROM:<\"\"@example.com>", 0, 0, "<\"\"@example.com> lp= dom=example.com"},
	{"FROM:<\"a\tb\"@example.com>", 0, 0, BADS "invalid character in quoted local part"},
	{"FROM:<\"a\\\tb\"@example.com>", 0, 0, BADS "invalid quoted pair in local part"},
	{"FROM:<\"abc@example.com>", 0, 0, BADS "missing closing quote in local part"},
	{"FROM:<\"a\"b@example.com>", 0, 0, BADS "junk after quoted local part"},
	{"FROM:<\"a\">", 0, 0, BADS "missing @domain"},
	/* address literals */
	{"FROM:<a@[192.0.2.1]>", 0, 0, "<a@[192.0.2.1]> lp=a dom=[192.0.2.1]"},
	{"FROM:<a@[0.0.0.0]>", 0, 0, "<a@[0.0.0.0]> lp=a dom=[0.0.0.0]"},
	{"FROM:<a@[255.255.255.255]>", 0, 0, "<a@[255.255.255.255]> lp=a dom=[255.255.255.255]"},
	{"FROM:<a@[IPv6:2001:db8::1]>", 0, 0, "<a@[IPv6:2001:db8::1]> lp=a dom=[IPv6:2001:db8::1]"},
	{"FROM:<a@[ipv6:::1]>", 0, 0, "<a@[ipv6:::1]> lp=a dom=[ipv6:::1]"},
	{"FROM:<a@[IPv6:::ffff:192.0.2.1]>", 0, 0, "<a@[IPv6:::ffff:192.0.2.1]> lp=a dom=[IPv6:::ffff:192.0.2.1]"},
	{"FROM:<a@[IPv6:2001:db8::g]>", 0, 0, BADS "invalid IPv6 address literal"},
	{"FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, 0, BADS "invalid IPv6 address literal"},
	{"FROM:<a@[IPv6:]>", 0, 0, BADS "invalid IPv6 address literal"},
	{"FROM:<a@[2001:db8::1]>", 0, 0, BADS "unsupported address literal"},
	{"FROM:<a@[x-tag:stuff]>", 0, 0, BADS "unsupported address literal"},
	{"FROM:<a@[256.0.0.1]>", 0, 0, BADS "invalid IPv4 address literal"},
	{"FROM:<a@[1.2.3]>", 0, 0, BADS "invalid IPv4 address literal"},
	{"FROM:<a@[1.2.3.4.5]>", 0, 0, BADS "invalid IPv4 address literal"},
	{"FROM:<a@[1.2.3.0004]>", 0, 0, BADS "invalid IPv4 address literal"},
	{"FROM:<a@[]>", 0, 0, BADS "invalid IPv4 address literal"},
	{"FROM:<a@[1.2.3.4]x>", 0, 0, BADS "invalid character in domain"},
	{"FROM:<a@[1.2.3.4>", 0, 0, BADS "missing ] after address literal"},
	{"FROM:<a@[1.2.3.4", 0, 0, BADS "missing ] after address literal"},
	{"FROM:<a@[1.2 .3.4]>", 0, 0, BADS "invalid character in address literal"},
	/* junk */
	{"FROM:", 0, 0, MSYN},
	{"FROM:   ", 0, 0, MSYN},
	{"FROM", 0, 0, MSYN},
	{"FROM <a@b>", 0, 0, MSYN},
	{"FROM :<a@b>", 0, 0, MSYN},
	{"TO:<a@b>", 0, 0, MSYN},
	{"", 0, 0, MSYN},
	{"FROM:<a@example.com", 0, 0, BADS "missing closing >"},
	{"FROM:<a@example.com>x", 0, 0, MSYNP},
	{"FROM:<a@example.com>SIZE=1", 0, 0, MSYNP},
	{"FROM:<<a@example.com>>", 0, 0, BADS "missing local part"},
	{"FROM:< a@example.com>", 0, 0, BADS "missing local part"},
	{"FROM:<a@example.com >", 0, 0, BADS "invalid character in domain"},
	{"FROM:<a>", 0, 0, BADS "missing @domain"},
	{"FROM:<postmaster>", 0, 0, BADS "missing @domain"},
	{"FROM:<a@>", 0, 0, BADS "missing domain"},
	{"FROM:<@>", 0, 0, BADS "missing domain"},
	{"FROM:<a@@b>", 0, 0, BADS "missing domain"},
	{"FROM:<a@b@c>", 0, 0, BADS "invalid character in domain"},
	{"FROM:<a b@example.com>", 0, 0, BADS "invalid character in local part"},
	{"FROM:<a", 0, 0, BADS "missing @domain"},
	{"FROM:a>", 0, NB, BADS "invalid character in local part"},
	{"FROM:\"a b\"", 0, NB, BADS "missing @domain"},
	{"FROM:<a,b@example.com>", 0, 0, BADS "invalid character in local part"},
	{"FROM:<a(c)@example.com>", 0, 0, BADS "invalid character in local part"},
	{"FROM:<a@exa mple.com>", 0, 0, BADS "invalid character in domain"},
	{"FROM:<a@example..com>", 0, 0, BADS "empty label in domain"},
	{"FROM:<a@.example.com>", 0, 0, BADS "domain begins with a dot"},
	{"FROM:<a@example.com.>", 0, 0, BADS "domain ends with a dot"},
	{"FROM:<a@-example.com>", 0, 0, BADS "domain label begins or ends with a hyphen"},
	{"FROM:<a@example-.com>", 0, 0, BADS "domain label begins or ends with a hyphen"},
	{"FROM:<a@ex!ample.com>", 0, 0, BADS "invalid character in domain"},
	/* dots in the local part */
	{"FROM:<a..b@example.com>", 0, 0, BADS "misplaced dot in local part"},
	{"FROM:<.a@example.com>", 0, 0, BADS "misplaced dot in local part"},
	{"FROM:<a.@example.com>", 0, 0, BADS "misplaced dot in local part"},
	{"FROM:<a..b@example.com>", 0, LAX, "<a..b@example.com> lp=a..b dom=example.com"},
	{"FROM:<.a.@example.com>", 0, LAX, "<.a.@example.com> lp=.a. dom=example.com"},
	/* SMTPUTF8 */
	{"FROM:<j\xc3\xb6ran@example.com> SMTPUTF8", 0, XU8,
	 "<j\xc3\xb6ran@example.com> lp=j\xc3\xb6ran dom=example.com utf8 smtputf8"},
	{"FROM:<a@b\xc3\xbc" "cher.example> smtputf8", 0, XU8,
	 "<a@b\xc3\xbc" "cher.example> lp=a dom=b\xc3\xbc" "cher.example utf8 smtputf8"},
	{"FROM:<\"j\xc3\xb6 r\"@example.com> SMTPUTF8", 0, XU8,
	 "<\"j\xc3\xb6 r\"@example.com> lp=j\xc3\xb6 r dom=example.com utf8 smtputf8"},
	{"FROM:<\xe7\x94\xb0\xe4\xb8\xad@\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88> SMTPUTF8", 0, XU8,
	 "<\xe7\x94\xb0\xe4\xb8\xad@\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88> lp=\xe7\x94\xb0\xe4\xb8\xad"
	 " dom=\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88 utf8 smtputf8"},
	{"FROM:<\xf0\x9f\x93\xae@example.com> SMTPUTF8", 0, XU8,
	 "<\xf0\x9f\x93\xae@example.com> lp=\xf0\x9f\x93\xae dom=example.com utf8 smtputf8"},
	{"FROM:<a@example.com> SMTPUTF8", 0, XU8, "<a@example.com> lp=a dom=example.com smtputf8"},
	{"FROM:<j\xc3\xb6ran@example.com>", 0, XU8, "553 5.6.7 Non-ASCII sender address requires SMTPUTF8"},
	{"FROM:<j\xc3\xb6ran@example.com>", 0, 0, "553 5.6.7 Non-ASCII sender address requires SMTPUTF8"},
	{"FROM:<j\xc3\xb6ran@example.com> SMTPUTF8", 0, 0, "555 5.5.4 Unsupported parameter SMTPUTF8"},
	{"FROM:<\xff@example.com> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in local part"},
	{"FROM:<\xc3@example.com> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in local part"},
	{"FROM:<\xc0\xaf@example.com> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in local part"},
	{"FROM:<\xe0\x80\xaf@example.com> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in local part"},
	{"FROM:<\xed\xa0\x80@example.com> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in local part"},
	{"FROM:<\xf4\x90\x80\x80@example.com> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in local part"},
	{"FROM:<\xf0\x9f\x93@example.com> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in local part"},
	{"FROM:<a@b\xc3> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in domain"},
	{"FROM:<\"\x80\"@b> SMTPUTF8", 0, XU8, BADS "malformed UTF-8 in local part"},
	{"FROM:<a\0b@example.com>", 22, 0, BADS "invalid character in local part"},
	/* parameters */
	{"FROM:<a@b> SIZE=1000", 0, 0, "<a@b> lp=a dom=b size=1000"},
	{"FROM:<a@b> size=0", 0, 0, "<a@b> lp=a dom=b size=0"},
	{"FROM:<a@b> SIZE=000123", 0, 0, "<a@b> lp=a dom=b size=123"},
	{"FROM:<a@b> SIZE=18446744073709551615", 0, 0, "<a@b> lp=a dom=b size=18446744073709551615"},
	{"FROM:<a@b> SIZE=18446744073709551616", 0, 0, "<a@b> lp=a dom=b size=18446744073709551615"},
	{"FROM:<a@b> SIZE=99999999999999999999999999999", 0, 0, "<a@b> lp=a dom=b size=18446744073709551615"},
	{"FROM:<a@b> SIZE=-1", 0, 0, "501 5.5.4 Invalid SIZE value"},
	{"FROM:<a@b> SIZE=+1", 0, 0, "501 5.5.4 Invalid SIZE value"},
	{"FROM:<a@b> SIZE=1k", 0, 0, "501 5.5.4 Invalid SIZE value"},
	{"FROM:<a@b> SIZE=", 0, 0, "501 5.5.4 SIZE parameter requires a value"},
	{"FROM:<a@b> SIZE", 0, 0, "501 5.5.4 SIZE parameter requires a value"},
	{"FROM:<a@b> SIZE=1=2", 0, 0, "501 5.5.4 Invalid character in SIZE parameter value"},
	{"FROM:<a@b> SIZE=10 SIZE=10", 0, 0, "555 5.5.4 Duplicate SIZE parameter"},
	{"FROM:<a@b> SIZE=10 size=11", 0, 0, "555 5.5.4 Duplicate SIZE parameter"},
	{"FROM:<a@b>  SIZE=10 \t BODY=8BITMIME  ", 0, 0, "<a@b> lp=a dom=b size=10 body=8BITMIME"},
	{"FROM:<a@b> BODY=7BIT", 0, 0, "<a@b> lp=a dom=b body=7BIT"},
	{"FROM:<a@b> body=8bitmime", 0, 0, "<a@b> lp=a dom=b body=8BITMIME"},
	{"FROM:<a@b> BODY=BINARYMIME", 0, 0, "555 5.5.4 BODY=BINARYMIME not supported"},
	{"FROM:<a@b> BODY=BINARYMIME", 0, XBIN, "<a@b> lp=a dom=b body=BINARYMIME"},
	{"FROM:<a@b> BODY=9BIT", 0, 0, "501 5.5.4 Invalid BODY value"},
	{"FROM:<a@b> BODY", 0, 0, "501 5.5.4 BODY parameter requires a value"},
	{"FROM:<a@b> SMTPUTF8=yes", 0, XU8, "501 5.5.4 SMTPUTF8 parameter takes no value"},
	{"FROM:<a@b> SMTPUTF8 SMTPUTF8", 0, XU8, "555 5.5.4 Duplicate SMTPUTF8 parameter"},
	{"FROM:<a@b> AUTH=<>", 0, XAUTH, "<a@b> lp=a dom=b auth=<>"},
	{"FROM:<a@b> AUTH=alice+40example.com", 0, XAUTH, "<a@b> lp=a dom=b auth=alice@example.com"},
	{"FROM:<a@b> AUTH=alice@example.com", 0, XAUTH, "<a@b> lp=a dom=b auth=alice@example.com"},
	{"FROM:<a@b> AUTH=a+2Bb+3d", 0, XAUTH, "<a@b> lp=a dom=b auth=a+b="},
	{"FROM:<a@b> AUTH=a+2", 0, XAUTH, "501 5.5.4 Invalid AUTH value: invalid xtext escape"},
	{"FROM:<a@b> AUTH=a+0A", 0, XAUTH, "501 5.5.4 Invalid AUTH value: control or non-ASCII character"},
	{"FROM:<a@b> AUTH=a+C3+A9", 0, XAUTH, "501 5.5.4 Invalid AUTH value: control or non-ASCII character"},
	{"FROM:<a@b> AUTH=<>", 0, 0, "555 5.5.4 Unsupported parameter AUTH"},
	{"FROM:<a@b> RET=HDRS ENVID=QQ314159", 0, XDSN, "<a@b> lp=a dom=b ret=HDRS envid=QQ314159"},
	{"FROM:<a@b> ret=full", 0, XDSN, "<a@b> lp=a dom=b ret=FULL"},
	{"FROM:<a@b> RET=ALL", 0, XDSN, "501 5.5.4 Invalid RET value"},
	{"FROM:<a@b> RET=HDRS", 0, 0, "555 5.5.4 Unsupported parameter RET"},
	{"FROM:<a@b> ENVID=a+2Bb+20c", 0, XDSN, "<a@b> lp=a dom=b envid=a+b c"},
	{"FROM:<a@b> ENVID=a+00", 0, XDSN, "501 5.5.4 Invalid ENVID value: control or non-ASCII character"},
	{"FROM:<a@b> NOTIFY=NEVER", 0, XDSN, "555 5.5.4 Unsupported parameter NOTIFY"},
	{"FROM:<a@b> FOO=bar", 0, 0, "555 5.5.4 Unsupported parameter FOO"},
	{"FROM:<a@b> X-Foo", 0, 0, "555 5.5.4 Unsupported parameter X-Foo"},
	{"FROM:<a@b> XVERYLONGKEYWORDXXXXXXXXXXXXXXXX=1", 0, 0, "555 5.5.4 Unsupported parameter XVERYLONGKEYWORDXXXX"},
	{"FROM:<a@b> -X=1", 0, 0, "501 5.5.4 Invalid parameter keyword"},
	{"FROM:<a@b> =1", 0, 0, "501 5.5.4 Invalid parameter keyword"},
	{"FROM:<a@b> SI_ZE=1", 0, 0, "501 5.5.4 Invalid parameter keyword"},
	{"FROM:<a@b> SIZE=1\x01", 0, 0, "501 5.5.4 Invalid character in SIZE parameter value"},
	{"FROM:<a@b> SIZE=\xc3\xa9", 0, 0, "501 5.5.4 Invalid character in SIZE parameter value"},
	{"FROM:<a@b> BODY=8BITMIME SIZE=5 SMTPUTF8 AUTH=<> RET=FULL ENVID=x", 0, XU8 | XAUTH | XDSN,
	 "<a@b> lp=a dom=b size=5 body=8BITMIME smtputf8 ret=FULL envid=x auth=<>"},
};

static const struct row rcpt_rows[] = {
	{"TO:<b@example.com>", 0, 0, "<b@example.com> lp=b dom=example.com"},
	{"to: <b@example.com>", 0, 0, "<b@example.com> lp=b dom=example.com"},
	{"TO:<postmaster>", 0, 0, "<postmaster> lp=postmaster dom="},
	{"TO:<PostMaster>", 0, 0, "<PostMaster> lp=PostMaster dom="},
	{"TO: <postmaster> NOTIFY=NEVER", 0, XDSN, "<postmaster> lp=postmaster dom= notify=N"},
	{"TO:postmaster", 0, NB, "<postmaster> lp=postmaster dom="},
	{"TO:postmaster NOTIFY=DELAY", 0, NB | XDSN, "<postmaster> lp=postmaster dom= notify=D"},
	{"TO:<postmaster@example.com>", 0, 0, "<postmaster@example.com> lp=postmaster dom=example.com"},
	{"TO:<@relay.example:b@example.com>", 0, 0, "<b@example.com> lp=b dom=example.com"},
	{"TO:<\"postmaster\">", 0, 0, BADR "missing @domain"},
	{"TO:<postmistress>", 0, 0, BADR "missing @domain"},
	{"TO:<postmaster.x>", 0, 0, BADR "missing @domain"},
	{"TO:<>", 0, 0, BADR "empty address"},
	{"TO:<b>", 0, 0, BADR "missing @domain"},
	{"TO:<b@example.com", 0, 0, BADR "missing closing >"},
	{"TO:b@example.com", 0, 0, BADR "address must be enclosed in <>"},
	{"TO:", 0, 0, "501 5.5.4 Syntax: RCPT TO:<address>"},
	{"FROM:<b@example.com>", 0, 0, "501 5.5.4 Syntax: RCPT TO:<address>"},
	{"TO:<b@example.com>x", 0, 0, "501 5.5.4 Syntax: RCPT TO:<address> [parameters]"},
	{"TO:<j\xc3\xb6@example.com>", 0, 0, "553 5.6.7 Non-ASCII recipient address requires SMTPUTF8"},
	{"TO:<j\xc3\xb6@example.com>", 0, U8, "<j\xc3\xb6@example.com> lp=j\xc3\xb6 dom=example.com utf8"},
	{"TO:<b@b\xc3\xbc" "cher.example>", 0, U8, "<b@b\xc3\xbc" "cher.example> lp=b dom=b\xc3\xbc" "cher.example utf8"},
	{"TO:<b@example.com> SMTPUTF8", 0, XU8, "555 5.5.4 Unsupported parameter SMTPUTF8"},
	{"TO:<b@example.com> SIZE=10", 0, 0, "555 5.5.4 Unsupported parameter SIZE"},
	{"TO:<b@example.com> NOTIFY=SUCCESS,FAILURE", 0, 0, "555 5.5.4 Unsupported parameter NOTIFY"},
	{"TO:<b@example.com> NOTIFY=SUCCESS,FAILURE", 0, XDSN, "<b@example.com> lp=b dom=example.com notify=SF"},
	{"TO:<b@example.com> notify=delay,Success,FAILURE", 0, XDSN, "<b@example.com> lp=b dom=example.com notify=SFD"},
	{"TO:<b@example.com> NOTIFY=NEVER", 0, XDSN, "<b@example.com> lp=b dom=example.com notify=N"},
	{"TO:<b@example.com> NOTIFY=NEVER,SUCCESS", 0, XDSN, "501 5.5.4 NOTIFY=NEVER cannot be combined with other values"},
	{"TO:<b@example.com> NOTIFY=SUCCESS,", 0, XDSN, "501 5.5.4 Invalid NOTIFY value"},
	{"TO:<b@example.com> NOTIFY=,SUCCESS", 0, XDSN, "501 5.5.4 Invalid NOTIFY value"},
	{"TO:<b@example.com> NOTIFY=SUCCESS,,DELAY", 0, XDSN, "501 5.5.4 Invalid NOTIFY value"},
	{"TO:<b@example.com> NOTIFY=ALWAYS", 0, XDSN, "501 5.5.4 Invalid NOTIFY value"},
	{"TO:<b@example.com> NOTIFY=", 0, XDSN, "501 5.5.4 NOTIFY parameter requires a value"},
	{"TO:<b@example.com> NOTIFY=NEVER NOTIFY=NEVER", 0, XDSN, "555 5.5.4 Duplicate NOTIFY parameter"},
	{"TO:<b@example.com> ORCPT=rfc822;bob+40example.com", 0, XDSN,
	 "<b@example.com> lp=b dom=example.com orcpt=rfc822;bob@example.com"},
	{"TO:<b@example.com> ORCPT=rfc822;", 0, XDSN, "<b@example.com> lp=b dom=example.com orcpt=rfc822;"},
	{"TO:<b@example.com> ORCPT=rfc822", 0, XDSN, "501 5.5.4 Invalid ORCPT value: missing or bad address type"},
	{"TO:<b@example.com> ORCPT=;b@c", 0, XDSN, "501 5.5.4 Invalid ORCPT value: missing or bad address type"},
	{"TO:<b@example.com> ORCPT=r(fc;b@c", 0, XDSN, "501 5.5.4 Invalid ORCPT value: missing or bad address type"},
	{"TO:<b@example.com> ORCPT=rfc822;a+ZZ", 0, XDSN, "501 5.5.4 Invalid ORCPT value: invalid xtext escape"},
	{"TO:<b@example.com> ORCPT=rfc822;a;b", 0, XDSN, "<b@example.com> lp=b dom=example.com orcpt=rfc822;a;b"},
	{"TO:<b@example.com> NOTIFY=FAILURE ORCPT=rfc822;b+40example.com", 0, XDSN,
	 "<b@example.com> lp=b dom=example.com notify=F orcpt=rfc822;b@example.com"},
};

static const struct row helo_rows[] = {
	{"mail.example.com", 0, 0, "mail.example.com valid"},
	{"localhost", 0, 0, "localhost valid"},
	{"[192.0.2.1]", 0, 0, "[192.0.2.1] valid literal"},
	{"[IPv6:2001:db8::1]", 0, 0, "[IPv6:2001:db8::1] valid literal"},
	{"[192.0.2.256]", 0, 0, "[192.0.2.256] literal"},
	{"[192.0.2.1", 0, 0, "[192.0.2.1 literal"},
	{"192.0.2.1", 0, 0, "192.0.2.1 valid"},
	{"my_host.example", 0, 0, "my_host.example"},
	{"mail.example.com.", 0, 0, "mail.example.com."},
	{"-bad.example", 0, 0, "-bad.example"},
	{"host name with spaces", 0, 0, "host name with spaces"},
	{"{ outlook junk }", 0, 0, "{ outlook junk }"},
	{"b\xc3\xbc" "cher.example", 0, 0, "b\xc3\xbc" "cher.example"},
	{"", 0, 0, "501 5.5.4 Syntax: EHLO hostname"},
	{"a\x01", 0, 0, "501 5.5.4 Invalid character in host name"},
	{"a\x7f", 0, 0, "501 5.5.4 Invalid character in host name"},
	{"a\tb", 0, 0, "501 5.5.4 Invalid character in host name"},
	{"a\0b", 3, 0, "501 5.5.4 Invalid character in host name"},
	{"b\xc3.example", 0, 0, "501 5.5.4 Malformed UTF-8 in host name"},
};

TEST(command)
{
	for (size_t i = 0; i < N_ELEMENTS(command_rows); i++) {
		const struct row *r = &command_rows[i];
		CHECK_STR(fmt_command(r->in, ROWLEN(r)), r->want);
	}
	CHECK_STR(smtp_cmd_name(SMTP_CMD_STARTTLS), "STARTTLS");
	CHECK_STR(smtp_cmd_name(SMTP_CMD_UNKNOWN), "UNKNOWN");
}

TEST(mail)
{
	for (size_t i = 0; i < N_ELEMENTS(mail_rows); i++) {
		const struct row *r = &mail_rows[i];
		CHECK_STR(fmt_mail(r->in, ROWLEN(r), r->flags), r->want);
	}
}

TEST(rcpt)
{
	for (size_t i = 0; i < N_ELEMENTS(rcpt_rows); i++) {
		const struct row *r = &rcpt_rows[i];
		CHECK_STR(fmt_rcpt(r->in, ROWLEN(r), r->flags), r->want);
	}
}

TEST(helo)
{
	for (size_t i = 0; i < N_ELEMENTS(helo_rows); i++) {
		const struct row *r = &helo_rows[i];
		CHECK_STR(fmt_helo(r->in, ROWLEN(r)), r->want);
	}
	char name[300];
	memset(name, 'a', sizeof(name));
	for (size_t i = 63; i < 255; i += 64)
		name[i] = '.';
	CHECK_STR(fmt_helo(name, 255) + 250, "aaaaa valid");
	CHECK_STR(fmt_helo(name, 256), "501 5.5.4 Host name longer than 255 octets");
}

/* Builds "FROM:<" + a local part of lp_len 'l's + "@" + a domain of
 * dom_len octets + ">" (or "TO:" ... without brackets) into out. */
static size_t make_path(char *out, const char *prefix, size_t lp_len, size_t dom_len, bool brackets)
{
	size_t o = 0;
	memcpy(out, prefix, strlen(prefix));
	o += strlen(prefix);
	if (brackets)
		out[o++] = '<';
	memset(out + o, 'l', lp_len);
	o += lp_len;
	out[o++] = '@';
	for (size_t i = 0; i < dom_len; i++)
		out[o++] = (i % 50 == 49 && i + 1 < dom_len) ? '.' : 'd';
	if (brackets)
		out[o++] = '>';
	return o;
}

TEST(limits)
{
	static const struct {
		size_t lp, dom;
		bool brackets;
		unsigned flags;
		const char *want; /* NULL: success */
	} cases[] = {
		{64, 10, true, 0, NULL},
		{65, 10, true, 0, BADS "local part longer than 64 octets"},
		{65, 10, true, LAX, NULL},
		{64, 189, true, 0, NULL},                 /* path of 256 octets */
		{64, 190, true, 0, BADS "address longer than 256 octets"},
		{64, 189, false, NB, NULL},               /* counted as if bracketed */
		{64, 190, false, NB, BADS "address longer than 256 octets"},
		{200, 53, true, LAX, NULL},               /* 256 */
		{200, 54, true, LAX, BADS "address longer than 256 octets"},
		{252, 1, true, LAX, NULL},                /* 256 */
		{253, 1, true, LAX, BADS "address longer than 256 octets"},
		{254, 1, true, LAX, BADS "address longer than 256 octets"},
		{600, 1, true, LAX, BADS "address longer than 256 octets"},
		{1, 300, true, 0, BADS "domain longer than 255 octets"},
	};
	char line[1024];
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		size_t n = make_path(line, "FROM:", cases[i].lp, cases[i].dom, cases[i].brackets);
		const char *got = fmt_mail(line, n, cases[i].flags);
		if (cases[i].want == NULL)
			CHECK(got[0] == '<');
		else
			CHECK_STR(got, cases[i].want);
	}

	/* A quoted local part and a source route count too. */
	size_t n = 0;
	memcpy(line, "TO:<\"", 5);
	n = 5;
	memset(line + n, 'q', 300);
	n += 300;
	memcpy(line + n, "\"@d>", 4);
	n += 4;
	CHECK_STR(fmt_rcpt(line, n, LAX), BADR "address longer than 256 octets");
	n = 0;
	memcpy(line, "TO:<@", 5);
	n = 5;
	memset(line + n, 'r', 60);
	n += 60;
	for (int k = 0; k < 4; k++) {
		memcpy(line + n, ",@", 2);
		n += 2;
		memset(line + n, 'r', 60);
		n += 60;
	}
	memcpy(line + n, ":b@example.com>", 15);
	n += 15;
	CHECK_STR(fmt_rcpt(line, n, 0), BADR "address longer than 256 octets");

	/* Domain labels: 63 octets fine, 64 not. */
	memcpy(line, "TO:<l@", 6);
	n = 6;
	memset(line + n, 'x', 63);
	n += 63;
	memcpy(line + n, ".example>", 9);
	n += 9;
	CHECK(fmt_rcpt(line, n, 0)[0] == '<');
	memmove(line + 7, line + 6, n - 6);
	n++;
	CHECK_STR(fmt_rcpt(line, n, 0), BADR "domain label longer than 63 octets");

	/* ORCPT: 500 characters fine, 501 not. */
	memcpy(line, "TO:<b@c> ORCPT=rfc822;", 22);
	memset(line + 22, 'o', 493);
	CHECK(fmt_rcpt(line, 22 + 493, XDSN)[0] == '<');
	line[22 + 493] = 'o';
	CHECK_STR(fmt_rcpt(line, 22 + 494, XDSN), "501 5.5.4 ORCPT value longer than 500 characters");

	/* ENVID: 100 characters fine, 101 not. */
	memcpy(line, "FROM:<a@b> ENVID=", 17);
	memset(line + 17, 'e', 101);
	CHECK(fmt_mail(line, 17 + 100, XDSN)[0] == '<');
	CHECK_STR(fmt_mail(line, 17 + 101, XDSN), "501 5.5.4 ENVID value longer than 100 characters");

	/* AUTH=: 256 decoded octets fine, 257 not. */
	memcpy(line, "FROM:<a@b> AUTH=", 16);
	memset(line + 16, 'm', 257);
	CHECK(fmt_mail(line, 16 + 256, XAUTH)[0] == '<');
	CHECK_STR(fmt_mail(line, 16 + 257, XAUTH), "501 5.5.4 Invalid AUTH value: value too long");
}

TEST(domain_check)
{
	static const struct {
		const char *in;
		bool utf8, literal;
		const char *want; /* NULL: valid */
	} cases[] = {
		{"example.com", false, false, NULL},
		{"EXAMPLE.com", false, false, NULL},
		{"a", false, false, NULL},
		{"x_y.example", false, false, NULL},
		{"xn--bcher-kva.example", false, false, NULL},
		{"", false, false, "missing domain"},
		{".", false, false, "domain begins with a dot"},
		{"a.", false, false, "domain ends with a dot"},
		{"a..b", false, false, "empty label in domain"},
		{"a-.b", false, false, "domain label begins or ends with a hyphen"},
		{"a b", false, false, "invalid character in domain"},
		{"b\xc3\xbc" "cher.example", false, false, "non-ASCII character in domain"},
		{"b\xc3\xbc" "cher.example", true, false, NULL},
		{"b\xc3" "cher.example", true, false, "malformed UTF-8 in domain"},
		{"[192.0.2.1]", false, false, "address literal not allowed"},
		{"[192.0.2.1]", false, true, NULL},
		{"[192.0.2.1]x", false, true, "invalid character in domain"},
		{"[IPv6:::]", false, true, NULL},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const char *error = NULL;
		int r = smtp_domain_check(cases[i].in, strlen(cases[i].in), cases[i].utf8, cases[i].literal, &error);
		CHECK_INT(r, cases[i].want ? -1 : 0);
		CHECK_STR(r < 0 ? error : NULL, cases[i].want);
	}
	char dom[300];
	for (size_t i = 0; i < sizeof(dom); i++)
		dom[i] = i % 64 == 63 ? '.' : 'd';
	const char *error = NULL;
	CHECK_INT(smtp_domain_check(dom, 255, false, false, &error), 0);
	CHECK_INT(smtp_domain_check(dom, 256, false, false, &error), -1);
	CHECK_STR(error, "domain longer than 255 octets");
}

TEST(bdat)
{
	static const struct {
		const char *in;
		int r;
		uint64_t size;
		bool last;
	} cases[] = {
		{"100", 0, 100, false},
		{"0", 0, 0, false},
		{"0 LAST", 0, 0, true},
		{"100 last", 0, 100, true},
		{"100  LAST", 0, 100, true},
		{"100 ", 0, 100, false},
		{"18446744073709551615 LAST", 0, UINT64_MAX, true},
		{"18446744073709551616", -1, 0, false},
		{"", -1, 0, false},
		{"LAST", -1, 0, false},
		{"-1", -1, 0, false},
		{"100LAST", -1, 0, false},
		{"100 LAST x", -1, 0, false},
		{"100 LASTx", -1, 0, false},
		{"1e3", -1, 0, false},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		uint64_t size = 12345;
		bool last = false;
		struct smtp_error err;
		int r = smtp_parse_bdat(cases[i].in, strlen(cases[i].in), &size, &last, &err);
		CHECK_INT(r, cases[i].r);
		if (r == 0) {
			CHECK_INT(size == cases[i].size, 1);
			CHECK_INT(last, cases[i].last);
		} else {
			CHECK_STR(fmt_error(&err), "501 5.5.4 Syntax: BDAT size [LAST]");
		}
	}
}

TEST(auth)
{
	static const struct {
		const char *in;
		const char *mech, *ir; /* mech NULL: error */
	} cases[] = {
		{"PLAIN", "PLAIN", NULL},
		{"plain", "plain", NULL},
		{"PLAIN AGFsaWNlAHNlY3JldA==", "PLAIN", "AGFsaWNlAHNlY3JldA=="},
		{"PLAIN =", "PLAIN", "="},
		{"SCRAM-SHA-256 biwsbj11c2VyLHI9", "SCRAM-SHA-256", "biwsbj11c2VyLHI9"},
		{"X_MECH  abc", "X_MECH", "abc"},
		{"", NULL, NULL},
		{"PLAIN abc def", NULL, NULL},
		{"PLAIN ab!c", NULL, NULL},
		{"PL@IN", NULL, NULL},
		{"ABCDEFGHIJKLMNOPQRSTU", NULL, NULL},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const char *mech = NULL, *ir = NULL;
		size_t mech_len = 0, ir_len = 0;
		struct smtp_error err;
		int r = smtp_parse_auth(cases[i].in, strlen(cases[i].in), &mech, &mech_len, &ir, &ir_len, &err);
		CHECK_INT(r, cases[i].mech ? 0 : -1);
		if (r == 0) {
			CHECK_MEM(mech, mech_len, cases[i].mech);
			if (cases[i].ir)
				CHECK_MEM(ir, ir_len, cases[i].ir);
			else
				CHECK(ir == NULL);
		} else {
			CHECK_STR(fmt_error(&err), "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		}
	}
}

TEST(xtext)
{
	static const struct {
		const char *in;
		const char *want; /* NULL: error */
		size_t want_len;
	} cases[] = {
		{"", "", 0},
		{"abc", "abc", 3},
		{"a+2Bb", "a+b", 3},
		{"+3D+3d", "==", 2},
		{"+00x", "\0x", 2},
		{"+FF", "\xff", 1},
		{"+", NULL, 0},
		{"+4", NULL, 0},
		{"+4G", NULL, 0},
		{"a=b", NULL, 0},
		{"a b", NULL, 0},
		{"\xc3\xa9", NULL, 0},
	};
	struct buf b;
	buf_init(&b, 100);
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const char *error = NULL;
		buf_reset(&b);
		int r = smtp_xtext_decode(&b, cases[i].in, strlen(cases[i].in), &error);
		CHECK_INT(r, cases[i].want ? 0 : -1);
		if (r == 0) {
			CHECK_INT(b.len, cases[i].want_len);
			CHECK(memcmp(b.data ? b.data : "", cases[i].want, cases[i].want_len) == 0);
		}
	}
	/* Encoding round-trips every byte. */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	struct buf enc, dec;
	buf_init(&enc, 4096);
	buf_init(&dec, 4096);
	const char *error = NULL;
	CHECK_INT(smtp_xtext_encode(&enc, all, sizeof(all)), 0);
	CHECK_INT(smtp_xtext_decode(&dec, enc.data, enc.len, &error), 0);
	CHECK_INT(dec.len, 256);
	CHECK(memcmp(dec.data, all, 256) == 0);
	buf_reset(&enc);
	CHECK_INT(smtp_xtext_encode(&enc, "a+b=c d", 7), 0);
	CHECK_STR(buf_cstr(&enc), "a+2Bb+3Dc+20d");
	struct buf small;
	buf_init(&small, 3);
	CHECK_INT(smtp_xtext_encode(&small, "a+", 2), -1);
	CHECK_INT(smtp_xtext_decode(&small, "abcd", 4, &error), -1);
	CHECK_STR(error, "xtext value too long");
	buf_free(&small);
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&b);
}

/* A valid parse must survive a re-parse of the address it produced:
 * addr is what the server relays in its own MAIL FROM / RCPT TO. */
TEST(addr_roundtrip)
{
	for (size_t i = 0; i < N_ELEMENTS(mail_rows); i++) {
		const struct row *r = &mail_rows[i];
		struct smtp_mail m, m2;
		struct smtp_error err;
		if (smtp_parse_mail(r->in, ROWLEN(r), r->flags, &m, &err) < 0 || m.path.null)
			continue;
		char line[400];
		int n = snprintf(line, sizeof(line), "FROM:<%s>%s", m.path.addr, m.path.utf8 ? " SMTPUTF8" : "");
		CHECK(n > 0 && (size_t)n < sizeof(line));
		CHECK_INT(smtp_parse_mail(line, (size_t)n, r->flags | XU8, &m2, &err), 0);
		CHECK_STR(m2.path.addr, m.path.addr);
		CHECK_STR(m2.path.localpart, m.path.localpart);
		CHECK_STR(m2.path.domain, m.path.domain);
	}
}

/* Every input, cut at every length, copied into a buffer of exactly that
 * size: results must be sane and no read may pass the end (ASan). */
static void check_prefixes(const struct row *rows, size_t n_rows, int kind)
{
	for (size_t i = 0; i < n_rows; i++) {
		size_t len = ROWLEN(&rows[i]);
		for (size_t k = 0; k <= len; k++) {
			char *copy = malloc(k ? k : 1);
			memcpy(copy, rows[i].in, k);
			struct smtp_error err = {0, "", ""};
			int r;
			if (kind == 0) {
				struct smtp_mail m;
				r = smtp_parse_mail(copy, k, rows[i].flags, &m, &err);
			} else if (kind == 1) {
				struct smtp_rcpt rc;
				r = smtp_parse_rcpt(copy, k, rows[i].flags, &rc, &err);
			} else if (kind == 2) {
				struct smtp_command cmd;
				r = smtp_parse_command(copy, k, &cmd, &err);
			} else {
				struct smtp_helo h;
				r = smtp_parse_helo(copy, k, &h, &err);
			}
			CHECK(r == 0 || (r == -1 && (err.code == 500 || err.code == 501 || err.code == 553 ||
						     err.code == 555)));
			free(copy);
		}
	}
}

TEST(prefixes)
{
	check_prefixes(mail_rows, N_ELEMENTS(mail_rows), 0);
	check_prefixes(rcpt_rows, N_ELEMENTS(rcpt_rows), 1);
	check_prefixes(command_rows, N_ELEMENTS(command_rows), 2);
	check_prefixes(helo_rows, N_ELEMENTS(helo_rows), 3);
}

int main(void)
{
	buf_init(&fmt_out, 4096);
	RUN(command);
	RUN(mail);
	RUN(rcpt);
	RUN(helo);
	RUN(limits);
	RUN(domain_check);
	RUN(bdat);
	RUN(auth);
	RUN(xtext);
	RUN(addr_roundtrip);
	RUN(prefixes);
	buf_free(&fmt_out);
	return test_done();
}
