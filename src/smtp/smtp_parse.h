/* smtp_parse: the syntax of SMTP commands (RFC 5321), with the bits of
 * SIZE (1870), 8BITMIME (6152), SMTPUTF8 (6531), AUTH (4954), CHUNKING and
 * BINARYMIME (3030) and DSN (3461) that show up on command lines.
 *
 * Pure syntax: no I/O, no storage, no session state. The server reads a
 * command line (without its CRLF, length-capped), calls
 * smtp_parse_command() to split it, then the parser of the verb's argument.
 * Every function here works on a whole line; none is incremental.
 *
 * Memory: struct smtp_command holds views into the caller's line (valid as
 * long as the line is). Everything else (struct smtp_path, smtp_mail,
 * smtp_rcpt, smtp_helo) owns its strings in fixed arrays sized by the RFC
 * limits: no allocation, nothing to free, copy them with `=`. All strings
 * are NUL-terminated and cannot contain a NUL (the grammar excludes it).
 *
 * Errors: on failure a function returns -1 and fills struct smtp_error with
 * the reply the server should send: "<code> <enh> <text>", e.g.
 * "501 5.1.7 Bad sender address syntax: missing closing >". The text is
 * printable ASCII and never echoes raw client bytes except an ESMTP keyword
 * (which the grammar limits to letters, digits and "-"). */
#ifndef POSTHORN_SMTP_SMTP_PARSE_H
#define POSTHORN_SMTP_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* RFC 5321 4.5.3.1 limits, in octets. The path limit includes the angle
 * brackets and any source route, so an address is at most 254 octets. */
#define SMTP_LOCALPART_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256
#define SMTP_ENVID_MAX 100       /* RFC 3461 4.4, xtext-encoded form */
#define SMTP_ORCPT_MAX 500       /* RFC 3461 4.2, xtext-encoded form */
#define SMTP_ORCPT_TYPE_MAX 32   /* "rfc822", "utf-8": no registered type is longer */
#define SMTP_AUTH_PARAM_MAX 256  /* decoded AUTH= mailbox (a path's worth) */

struct smtp_error {
	unsigned code;   /* 500, 501, 553 or 555 */
	const char *enh; /* enhanced status code, e.g. "5.1.7" (static) */
	char text[160];  /* human text, no code, no CRLF */
};

/* ---- Command line ------------------------------------------------------ */

enum smtp_cmd {
	SMTP_CMD_UNKNOWN,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
};

struct smtp_command {
	enum smtp_cmd cmd;
	const char *verb; /* the verb as sent (view into the line) */
	size_t verb_len;
	const char *arg;  /* the argument, leading and trailing blanks removed; */
	size_t arg_len;   /* points at the line's end ("" view) when there is none */
};

/* Splits a command line (without CRLF) into verb and argument. The verb
 * ends at the first space or tab and is matched case-insensitively; any
 * number of blanks may separate it from the argument (RFC says exactly one
 * SP: we are liberal), and trailing blanks are dropped.
 *
 * Returns 0 with cmd_r filled, also for an unknown verb (cmd =
 * SMTP_CMD_UNKNOWN: reply 500 5.5.2 and count it as the server sees fit).
 * Returns -1 with err_r filled when:
 *   - the line contains a NUL, CR or LF (500 5.5.2): such bytes have no
 *     business in a command and are a smuggling tool;
 *   - a known verb's argument is missing or forbidden (501 5.5.4): DATA,
 *     RSET, QUIT and STARTTLS take none; HELO, EHLO, MAIL, RCPT, BDAT,
 *     VRFY, EXPN and AUTH need one; NOOP and HELP may have one.
 * cmd_r is filled in both cases (cmd is known on the -1 path too, so the
 * server can log it); the argument is not otherwise checked. */
int smtp_parse_command(const char *line, size_t len, struct smtp_command *cmd_r,
		       struct smtp_error *err_r);

/* Name of a verb in upper case ("UNKNOWN" for SMTP_CMD_UNKNOWN). */
const char *smtp_cmd_name(enum smtp_cmd cmd);

/* ---- Paths (MAIL FROM, RCPT TO) ----------------------------------------- */

/* What the caller allows; a bitwise OR of these. SIZE, BODY=7BIT and
 * BODY=8BITMIME are always accepted. A parameter of an extension whose flag
 * is missing is "unknown" (555 5.5.4), as RFC 5321 asks for parameters of
 * extensions that were not advertised. */
enum smtp_parse_flags {
	/* Accept "MAIL FROM:a@b" without <>; the path then ends at the first
	 * blank. Many scripts and old clients do this. */
	SMTP_PARSE_NO_BRACKETS = 1 << 0,
	/* Unquoted local parts may break the dot rules ("a..b", "a.", ".a",
	 * seen from some Japanese mobile carriers) and exceed 64 octets (long
	 * SRS and VERP addresses); the path limit still applies. */
	SMTP_PARSE_LAX_LOCALPART = 1 << 1,
	/* RCPT only: the transaction is SMTPUTF8 (its MAIL had the SMTPUTF8
	 * parameter), so the forward-path may contain UTF-8. */
	SMTP_PARSE_UTF8 = 1 << 2,
	/* Advertised extensions: */
	SMTP_PARSE_EXT_SMTPUTF8 = 1 << 3,   /* MAIL ... SMTPUTF8 */
	SMTP_PARSE_EXT_BINARYMIME = 1 << 4, /* MAIL ... BODY=BINARYMIME */
	SMTP_PARSE_EXT_DSN = 1 << 5,        /* RET, ENVID, NOTIFY, ORCPT */
	SMTP_PARSE_EXT_AUTH = 1 << 6,       /* MAIL ... AUTH= */
};

/* A reverse-path or forward-path. A source route ("<@a,@b:u@d>") is checked
 * for syntax and dropped (RFC 5321 4.1.1.3 and appendix C).
 * Address syntax follows RFC 5321 4.1.2 with RFC 6531's UTF-8 additions
 * (well-formed UTF-8 only, no IDNA checks), and these liberties:
 * underscores are accepted in domain labels (real host names have them).
 * Nothing is case-folded: the caller compares domains case-insensitively
 * and treats local parts as its policy says. */
struct smtp_path {
	bool null;  /* "<>" (MAIL only): all strings are "" */
	bool utf8;  /* the address contains non-ASCII bytes (valid UTF-8) */
	/* The local part, decoded: quotes and backslashes of a quoted local
	 * part removed ("a b"@x gives `a b`). May contain any printable
	 * character, "@" and spaces included. */
	char localpart[SMTP_PATH_MAX + 1];
	/* The domain as sent, or an address literal with its brackets
	 * ("[192.0.2.1]", "[IPv6:2001:db8::1]"); "" for <> and for RCPT
	 * TO:<postmaster>. */
	char domain[SMTP_DOMAIN_MAX + 1];
	/* The address as sent, local part still quoted, without brackets or
	 * source route: what goes into a log line or a relayed envelope. */
	char addr[SMTP_PATH_MAX + 1];
};

enum smtp_body { SMTP_BODY_UNSPEC, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_UNSPEC, SMTP_RET_FULL, SMTP_RET_HDRS };
enum smtp_auth_param {
	SMTP_AUTH_PARAM_NONE,    /* no AUTH= */
	SMTP_AUTH_PARAM_NULL,    /* AUTH=<> */
	SMTP_AUTH_PARAM_MAILBOX, /* AUTH=mailbox (in auth_mailbox) */
};

struct smtp_mail {
	struct smtp_path path;
	bool size_set;
	uint64_t size;         /* SIZE=; UINT64_MAX when the number overflows */
	enum smtp_body body;   /* BODY= */
	bool smtputf8;         /* SMTPUTF8 */
	enum smtp_ret ret;     /* RET= */
	bool envid_set;
	char envid[SMTP_ENVID_MAX + 1];  /* ENVID=, xtext-decoded, printable ASCII */
	enum smtp_auth_param auth;
	/* AUTH=, xtext-decoded, printable ASCII; not checked to be a mailbox:
	 * RFC 4954 5 lets the server trust or ignore it, which is policy. */
	char auth_mailbox[SMTP_AUTH_PARAM_MAX + 1];
};

#define SMTP_NOTIFY_NEVER 0x1u
#define SMTP_NOTIFY_SUCCESS 0x2u
#define SMTP_NOTIFY_FAILURE 0x4u
#define SMTP_NOTIFY_DELAY 0x8u

struct smtp_rcpt {
	struct smtp_path path;
	unsigned notify; /* SMTP_NOTIFY_* bits; 0 when NOTIFY= is absent */
	bool orcpt_set;
	/* ORCPT=type;value: the address type as sent ("rfc822") and the
	 * xtext-decoded value (printable ASCII or space). XXX: RFC 6533's
	 * "utf-8" type has its own \x{..} escapes inside the xtext; they are
	 * kept as they are, undecoded. */
	char orcpt_type[SMTP_ORCPT_TYPE_MAX + 1];
	char orcpt[SMTP_ORCPT_MAX + 1];
};

/* Parses the argument of MAIL ("FROM:<path> [params]", as given by
 * smtp_parse_command). "FROM:" is case-insensitive and may be followed by
 * blanks. Returns 0, or -1 with err_r:
 *   501 5.5.4  no "FROM:", nothing after it, junk after the path, bad
 *              parameter syntax or value
 *   501 5.1.7  bad reverse-path syntax or length
 *   553 5.6.7  non-ASCII reverse-path without the SMTPUTF8 parameter
 *   555 5.5.4  unknown, unadvertised or repeated parameter
 * On -1, mail_r holds whatever was parsed so far (the server may log the
 * address); do not act on it. */
int smtp_parse_mail(const char *arg, size_t len, unsigned flags, struct smtp_mail *mail_r,
		    struct smtp_error *err_r);

/* Parses the argument of RCPT ("TO:<path> [params]"), the same way.
 * <postmaster> (any case) without a domain is accepted; <> is not.
 * Errors as for MAIL, with 5.1.3 for a bad forward-path, and 553 5.6.7 for
 * a non-ASCII one without SMTP_PARSE_UTF8. */
int smtp_parse_rcpt(const char *arg, size_t len, unsigned flags, struct smtp_rcpt *rcpt_r,
		    struct smtp_error *err_r);

/* ---- Other arguments ------------------------------------------------------ */

struct smtp_helo {
	char name[SMTP_DOMAIN_MAX + 1]; /* the argument as sent */
	bool valid;   /* an RFC 5321 Domain or address-literal (ASCII, no "_") */
	bool literal; /* it starts with "[" */
};

/* Parses a HELO or EHLO argument, liberally: anything made of printable
 * ASCII, spaces or well-formed UTF-8 up to 255 octets is accepted, and
 * `valid` says whether it is what the RFC asks for (a policy may then
 * refuse it). Returns -1 (501 5.5.4) when it is empty, too long, or has
 * control characters or malformed UTF-8. */
int smtp_parse_helo(const char *arg, size_t len, struct smtp_helo *helo_r, struct smtp_error *err_r);

/* Parses the argument of BDAT: "<size> [LAST]" (LAST in any case). A
 * size that is not a plain number or overflows 64 bits is an error
 * (501 5.5.4); the server then cannot know where the chunk ends and should
 * close the session after replying. */
int smtp_parse_bdat(const char *arg, size_t len, uint64_t *size_r, bool *last_r,
		    struct smtp_error *err_r);

/* Splits the argument of AUTH: "<mechanism> [initial-response]". The
 * mechanism (1-20 letters, digits, "-" or "_", any case) and the response
 * are views into arg; ir is NULL when absent. The response is checked only
 * to be base64 characters or "=" (decoding it is SASL's job).
 * Returns -1 with 501 5.5.4 on bad syntax. */
int smtp_parse_auth(const char *arg, size_t len, const char **mech_r, size_t *mech_len_r,
		    const char **ir_r, size_t *ir_len_r, struct smtp_error *err_r);

/* Checks that (s, len) is a domain (or, with allow_literal, an address
 * literal). utf8 allows U-labels (UTF-8, not IDNA-checked). Underscores
 * are accepted. Returns 0, or -1 with a message in *error_r (static). */
int smtp_domain_check(const char *s, size_t len, bool utf8, bool allow_literal,
		      const char **error_r);

/* ---- xtext (RFC 3461 4) ---------------------------------------------------- */

/* Decodes xtext (s, len): "+" followed by two hex digits (either case) is
 * that byte, "!".."~" except "+" and "=" stand for themselves. Appends to
 * out. Returns 0, or -1 with *error_r on bad syntax or a full out (out is
 * then partly written). The decoded bytes may be anything, NUL included. */
int smtp_xtext_decode(struct buf *out, const char *s, size_t len, const char **error_r);
/* Appends the xtext encoding of (p, n) to out. Returns 0, or -1 if out is
 * full. */
int smtp_xtext_encode(struct buf *out, const void *p, size_t n);

#endif
