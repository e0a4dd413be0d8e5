/* pop3_parse: POP3 command syntax and the multi-line reply encoder (see
 * pop3_parse.h for the contract).
 *
 * The command parser collects one line at a time in its own buffer: it
 * searches each piece of input for the line end with memchr, appends what
 * belongs to the line (capped), and parses the line only once it is
 * complete, so parsing proper is a plain function of one line
 * (pop3_parse_line) and the incremental part is only framing. The line may
 * hold a password (PASS, a SASL response): the buffer is wiped when the
 * line is done and whenever it grows, which is why it is grown here by hand
 * rather than through buf_append (whose realloc would leave a copy behind).
 *
 * The encoder is written as a copy loop over runs between line feeds: a
 * message stored with CRLF and no line starting with "." is copied in one
 * memcpy per output chunk. */
#include "pop3/pop3_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"
#include "util/strnum.h"

static const char *const cmd_names[POP3_CMD_COUNT] = {
    [POP3_CMD_UNKNOWN] = "",	   [POP3_CMD_USER] = "USER", [POP3_CMD_PASS] = "PASS",
    [POP3_CMD_AUTH] = "AUTH",	   [POP3_CMD_CAPA] = "CAPA", [POP3_CMD_STLS] = "STLS",
    [POP3_CMD_STAT] = "STAT",	   [POP3_CMD_LIST] = "LIST", [POP3_CMD_RETR] = "RETR",
    [POP3_CMD_DELE] = "DELE",	   [POP3_CMD_NOOP] = "NOOP", [POP3_CMD_RSET] = "RSET",
    [POP3_CMD_QUIT] = "QUIT",	   [POP3_CMD_TOP] = "TOP",   [POP3_CMD_UIDL] = "UIDL",
    [POP3_CMD_SASL_RESPONSE] = "",
};

const char *pop3_cmd_name(enum pop3_cmd cmd)
{
	return (unsigned)cmd < POP3_CMD_COUNT ? cmd_names[cmd] : "";
}

/* ---- one line --------------------------------------------------------- */

/* The shapes of argument lists. */
enum args { ARGS_NONE, ARGS_OPT_MSG, ARGS_MSG, ARGS_TOP, ARGS_USER, ARGS_PASS, ARGS_AUTH };

static const enum args cmd_args[POP3_CMD_COUNT] = {
    [POP3_CMD_USER] = ARGS_USER,    [POP3_CMD_PASS] = ARGS_PASS,    [POP3_CMD_AUTH] = ARGS_AUTH,
    [POP3_CMD_CAPA] = ARGS_NONE,    [POP3_CMD_STLS] = ARGS_NONE,    [POP3_CMD_STAT] = ARGS_NONE,
    [POP3_CMD_LIST] = ARGS_OPT_MSG, [POP3_CMD_RETR] = ARGS_MSG,	    [POP3_CMD_DELE] = ARGS_MSG,
    [POP3_CMD_NOOP] = ARGS_NONE,    [POP3_CMD_RSET] = ARGS_NONE,    [POP3_CMD_QUIT] = ARGS_NONE,
    [POP3_CMD_TOP] = ARGS_TOP,	    [POP3_CMD_UIDL] = ARGS_OPT_MSG,
};

static int fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

/* Splits s[0..len) at runs of spaces into at most max tokens; returns the
 * count, or max + 1 when there are more. */
static size_t tokens(const char *s, size_t len, const char **tok, size_t *tok_len, size_t max)
{
	size_t n = 0, i = 0;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			return n;
		if (n == max)
			return max + 1;
		size_t start = i;
		while (i < len && s[i] != ' ')
			i++;
		tok[n] = s + start;
		tok_len[n] = i - start;
		n++;
	}
}

int pop3_parse_line(const char *line, size_t len, struct pop3_command *cmd, const char **error_r)
{
	memset(cmd, 0, sizeof(*cmd));
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL)
		return fail(error_r, "Invalid characters in command");
	size_t v = 0;
	while (v < len && line[v] != ' ')
		v++;
	cmd->verb = line;
	cmd->verb_len = v;
	cmd->cmd = POP3_CMD_UNKNOWN;
	for (int i = POP3_CMD_USER; i <= POP3_CMD_UIDL; i++) {
		size_t n = strlen(cmd_names[i]);
		if (n == v && strncasecmp(line, cmd_names[i], n) == 0) {
			cmd->cmd = (enum pop3_cmd)i;
			break;
		}
	}
	if (cmd->cmd == POP3_CMD_UNKNOWN)
		return 1;
	/* rest: everything after the single space that ends the keyword. */
	bool has_rest = v < len;
	const char *rest = has_rest ? line + v + 1 : line + len;
	size_t rest_len = has_rest ? len - v - 1 : 0;
	const char *tok[3];
	size_t tok_len[3];
	size_t n;
	switch (cmd_args[cmd->cmd]) {
	case ARGS_NONE:
		if (tokens(rest, rest_len, tok, tok_len, 0) != 0)
			return fail(error_r, "Unexpected argument");
		return 1;
	case ARGS_OPT_MSG:
	case ARGS_MSG:
		n = tokens(rest, rest_len, tok, tok_len, 1);
		if (n > 1)
			return fail(error_r, "Too many arguments");
		if (n == 0) {
			if (cmd_args[cmd->cmd] == ARGS_MSG)
				return fail(error_r, "Missing message number");
			return 1;
		}
		if (strn_to_u32(tok[0], tok_len[0], &cmd->msg) < 0)
			return fail(error_r, "Invalid message number");
		cmd->has_msg = true;
		return 1;
	case ARGS_TOP:
		n = tokens(rest, rest_len, tok, tok_len, 2);
		if (n > 2)
			return fail(error_r, "Too many arguments");
		if (n < 2)
			return fail(error_r, n == 0 ? "Missing message number" : "Missing number of lines");
		if (strn_to_u32(tok[0], tok_len[0], &cmd->msg) < 0)
			return fail(error_r, "Invalid message number");
		if (strn_to_u32(tok[1], tok_len[1], &cmd->lines) < 0)
			return fail(error_r, "Invalid number of lines");
		cmd->has_msg = true;
		return 1;
	case ARGS_USER:
		while (rest_len > 0 && rest[rest_len - 1] == ' ')
			rest_len--;
		if (rest_len == 0)
			return fail(error_r, "Missing user name");
		cmd->arg = rest;
		cmd->arg_len = rest_len;
		return 1;
	case ARGS_PASS:
		if (rest_len == 0)
			return fail(error_r, "Missing password");
		cmd->arg = rest;
		cmd->arg_len = rest_len;
		return 1;
	case ARGS_AUTH:
		n = tokens(rest, rest_len, tok, tok_len, 2);
		if (n > 2)
			return fail(error_r, "Too many arguments");
		if (n >= 1) {
			cmd->arg = tok[0];
			cmd->arg_len = tok_len[0];
		}
		if (n == 2) {
			cmd->ir = tok[1];
			cmd->ir_len = tok_len[1];
		}
		return 1;
	}
	return 1;
}

/* ---- framing ---------------------------------------------------------- */

/* Capacity that any line fits in, plus a CR and the NUL. */
#define LINE_CAP_MAX (POP3_SASL_LINE_MAX + 2)

void pop3_parser_init(struct pop3_parser *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, LINE_CAP_MAX - 1);
}

static void line_wipe(struct pop3_parser *p)
{
	if (p->line.data != NULL)
		explicit_bzero(p->line.data, p->line.cap);
	p->line.len = 0;
	if (p->line.data != NULL)
		p->line.data[0] = '\0';
}

void pop3_parser_deinit(struct pop3_parser *p)
{
	line_wipe(p);
	buf_free(&p->line);
	p->skipping = false;
	p->sasl_next = false;
	p->complete = false;
}

void pop3_parser_expect_sasl(struct pop3_parser *p)
{
	p->sasl_next = true;
}

/* Appends n bytes; the caller has checked the limit. Grows by doubling and
 * wipes the old memory. */
static void line_append(struct pop3_parser *p, const char *d, size_t n)
{
	struct buf *b = &p->line;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > LINE_CAP_MAX)
			cap = LINE_CAP_MAX;
		char *mem = xmalloc(cap);
		if (b->len > 0)
			memcpy(mem, b->data, b->len);
		if (b->data != NULL) {
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
		b->data = mem;
		b->cap = cap;
	}
	memcpy(b->data + b->len, d, n);
	b->len += n;
	b->data[b->len] = '\0';
}

int pop3_parse(struct pop3_parser *p, const char *data, size_t len, size_t *consumed_r,
	       struct pop3_command *cmd, const char **error_r)
{
	/* The previous line (maybe a password) is no longer needed. */
	if (p->complete) {
		line_wipe(p);
		p->complete = false;
	}
	size_t i = 0;
	if (p->skipping) {
		const char *lf = memchr(data, '\n', len);
		if (lf == NULL) {
			*consumed_r = len;
			return 0;
		}
		i = (size_t)(lf - data) + 1;
		p->skipping = false;
	}
	bool sasl = p->sasl_next;
	size_t max = sasl ? POP3_SASL_LINE_MAX : POP3_COMMAND_MAX;
	const char *lf = memchr(data + i, '\n', len - i);
	size_t end = lf != NULL ? (size_t)(lf - data) : len;
	size_t chunk = end - i;
	size_t have = p->line.len + chunk; /* may still include a final CR */
	if (lf == NULL) {
		/* One byte more than max may be the CR of a CRLF. */
		if (have > max + 1) {
			line_wipe(p);
			p->skipping = true;
			p->sasl_next = false;
			*consumed_r = len;
			return fail(error_r, "Line too long");
		}
		line_append(p, data + i, chunk);
		*consumed_r = len;
		return 0;
	}
	*consumed_r = end + 1;
	p->complete = true;
	bool cr =
	    chunk > 0 ? data[end - 1] == '\r' : (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r');
	if (have - cr > max) {
		line_wipe(p);
		p->sasl_next = false;
		return fail(error_r, "Line too long");
	}
	line_append(p, data + i, chunk);
	p->line.len -= cr;
	p->line.data[p->line.len] = '\0';
	p->sasl_next = false;
	if (sasl) {
		memset(cmd, 0, sizeof(*cmd));
		cmd->cmd = POP3_CMD_SASL_RESPONSE;
		cmd->arg = p->line.data;
		cmd->arg_len = p->line.len;
		return 1;
	}
	return pop3_parse_line(p->line.data, p->line.len, cmd, error_r);
}

/* ---- multi-line replies ----------------------------------------------- */

void pop3_encoder_init(struct pop3_encoder *e, bool top, uint32_t lines)
{
	memset(e, 0, sizeof(*e));
	e->bol = true;
	e->top = top;
	e->lines_left = lines;
}

/* A line ended (its LF was just handled): header/body bookkeeping for TOP. */
static void line_ended(struct pop3_encoder *e, bool empty)
{
	e->bol = true;
	e->line_bytes = 0;
	if (!e->top)
		return;
	if (!e->in_body) {
		if (empty) {
			e->in_body = true;
			e->done = e->lines_left == 0;
		}
		return;
	}
	if (--e->lines_left == 0)
		e->done = true;
}

size_t pop3_encode(struct pop3_encoder *e, const char *in, size_t in_len, size_t *consumed_r, char *out,
		   size_t out_size)
{
	size_t i = 0, o = 0;
	while (i < in_len && !e->done) {
		if (out_size - o < 3)
			break;
		char c = in[i];
		if (e->bol && c == '.') {
			out[o++] = '.';
			out[o++] = '.';
			i++;
			e->bol = false;
			e->cr = false;
			e->line_bytes++;
			continue;
		}
		if (c == '\n') {
			/* A CR before it makes it CRLF; otherwise a bare LF gets one. */
			bool empty = e->line_bytes == 0 || (e->line_bytes == 1 && e->cr);
			if (!e->cr)
				out[o++] = '\r';
			out[o++] = '\n';
			i++;
			e->cr = false;
			line_ended(e, empty);
			continue;
		}
		/* A run of bytes up to the next LF, as much as fits (keeping
		 * room for the CRLF that may follow). */
		size_t room = out_size - o - 2;
		size_t n = in_len - i < room ? in_len - i : room;
		const char *lf = memchr(in + i, '\n', n);
		if (lf != NULL)
			n = (size_t)(lf - (in + i));
		memcpy(out + o, in + i, n);
		o += n;
		i += n;
		e->line_bytes += n;
		e->cr = in[i - 1] == '\r';
		e->bol = false;
	}
	if (e->done)
		i = in_len; /* TOP: the rest of the message is not sent */
	e->in_total += i;
	e->out_total += o;
	*consumed_r = i;
	return o;
}

size_t pop3_encode_end(struct pop3_encoder *e, char *out, size_t out_size)
{
	size_t o = 0;
	if (!e->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	o += 3;
	e->out_total += o;
	return o;
}
