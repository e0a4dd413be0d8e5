/* Unit tests for src/mime: header iteration, RFC 2047, parameters and RFC
 * 2231, addresses, the part tree, section lookup, HEADER.FIELDS, decoding,
 * the summary and text extraction; and golden files: every
 * tests/unit/mime/NAME.eml against NAME.envelope, NAME.body and
 * NAME.bodystructure (checked against Dovecot 2.3.19; see the README
 * there), plus every message truncated at every byte under the
 * invariants of the tree.
 *
 * POSTHORN_UPDATE_GOLDEN=1 rewrites the golden files from our output;
 * MIME_TEST_DIR overrides tests/unit/mime. */
#include <dirent.h>
#include <stdlib.h>

#include "mime/address.h"
#include "mime/header.h"
#include "mime/mime.h"
#include "mime/params.h"
#include "mime/rfc2047.h"
#include "test.h"
#include "util/charset.h"

/* ---- helpers -------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		(void)buf_append(&b, tmp, n);
	fclose(f);
	return buf_steal(&b, len_r);
}

static const char *test_dir(void)
{
	const char *d = getenv("MIME_TEST_DIR");
	return d ? d : "tests/unit/mime";
}

static struct mime_message *parse_str(const char *s)
{
	return mime_parse(s, strlen(s));
}

/* ---- header --------------------------------------------------------------- */

TEST(header_iter)
{
	const char *h = "From: a@b\r\nSubject: folded\r\n  line\r\n\tagain\r\nno colon line\r\n"
			"X-Empty:\r\nX-Spaces :   v  \r\n  continued\nBare: lf\n\r\nBody: not a header\r\n";
	struct mime_header_iter it;
	struct mime_header_field f;
	static const struct {
		const char *name, *value;
	} want[] = {
	    {"From", "a@b"}, {"Subject", "folded\r\n  line\r\n\tagain"},
	    {"X-Empty", ""}, {"X-Spaces", "v  \r\n  continued"},
	    {"Bare", "lf"},
	};
	mime_header_iter_init(&it, h, strlen(h));
	size_t i = 0;
	while (mime_header_iter_next(&it, &f) > 0 && i < 5) {
		CHECK_MEM(f.name, f.name_len, want[i].name);
		CHECK_MEM(f.value, f.value_len, want[i].value);
		i++;
	}
	CHECK_INT(i, 5);
	CHECK_INT(mime_header_iter_next(&it, &f), 0);

	struct buf b;
	buf_init(&b, 100);
	CHECK_INT(mime_header_unfold("a\r\n b\n\tc\0d", 10, &b), 0);
	CHECK_STR(buf_cstr(&b), "a b\tc\xEF\xBF\xBD"
				"d");
	buf_free(&b);

	size_t blank;
	CHECK_INT(mime_header_block_size("A: b\r\n\r\nbody", 12, &blank), 8);
	CHECK_INT(blank, 2);
	CHECK_INT(mime_header_block_size("A: b\n\nbody", 10, &blank), 6);
	CHECK_INT(blank, 1);
	CHECK_INT(mime_header_block_size("A: b\r\n", 6, &blank), 6);
	CHECK_INT(blank, 0);
	CHECK_INT(mime_header_block_size("\r\nbody", 6, &blank), 2);

	/* a continuation at the very start and a header without any line end */
	mime_header_iter_init(&it, " cont\r\nA: 1", 11);
	CHECK_INT(mime_header_iter_next(&it, &f), 1);
	CHECK_MEM(f.name, f.name_len, "A");
	CHECK_MEM(f.value, f.value_len, "1");
	CHECK_INT(mime_header_iter_next(&it, &f), 0);
}

/* ---- RFC 2047 -------------------------------------------------------------- */

TEST(rfc2047_decode)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"plain", "plain"},
	    {"=?utf-8?q?caf=C3=A9?=", "caf\xC3\xA9"},
	    {"=?UTF-8?Q?caf=C3=A9?=", "caf\xC3\xA9"},
	    {"=?iso-8859-1?q?J=F8rn?=", "J\xC3\xB8rn"},
	    {"=?utf-8?b?Y2Fmw6k=?=", "caf\xC3\xA9"},
	    {"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"},
	    {"=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab"},
	    {"=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"},
	    {"x =?utf-8?q?a_b?= y", "x a b y"},
	    {"=?utf-8?q?split_=E2=82?= =?utf-8?q?=AC?=", "split \xE2\x82\xAC"},
	    {"=?utf-8?b?4oI=?= =?utf-8?b?rA==?=", "\xE2\x82\xAC"},
	    {"=?utf-8?q?a?= =?iso-8859-1?q?=E9?=", "a\xC3\xA9"},
	    {"=?utf-8*fr?q?langue?=", "langue"},
	    {"=?utf-8?x?broken?=", "=?utf-8?x?broken?="},
	    {"=?utf-8?q?no end", "=?utf-8?q?no end"},
	    {"=?utf-8?q?sp ace?=", "=?utf-8?q?sp ace?="},
	    {"=??q?empty?=", "=??q?empty?="},
	    {"glued=?utf-8?q?word?=text", "gluedwordtext"},
	    {"raw utf-8 caf\xC3\xA9", "raw utf-8 caf\xC3\xA9"},
	    {"raw latin1 caf\xE9", "raw latin1 caf\xC3\xA9"},
	    {"=?unknown-cs?q?caf=E9?=", "caf\xC3\xA9"},
	    {"folded\r\n line", "folded line"},
	    {"a =?utf-8?q?"
	     "?= b",
	     "a  b"},
	    {"=", "="},
	    {"=?", "=?"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 1000);
		CHECK_INT(rfc2047_decode(cases[i].in, strlen(cases[i].in), &b), 0);
		CHECK_STR(buf_cstr(&b), cases[i].want);
		buf_free(&b);
	}
	/* capped output */
	char *s = rfc2047_decode_dup("=?utf-8?q?=E2=82=AC=E2=82=AC?=", 30, 4);
	CHECK_STR(s, "\xE2\x82\xAC");
	free(s);
}

TEST(rfc2047_encode)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"plain ascii", "plain ascii"},
	    {"caf\xC3\xA9", "=?UTF-8?B?Y2Fmw6k=?="},
	    {"Reunion du lundi \xC3\xA9t\xC3\xA9", "=?UTF-8?Q?Reunion_du_lundi_=C3=A9t=C3=A9?="},
	    {"a b\xC3\xA9", "=?UTF-8?B?YSBiw6k=?="},
	    {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "=?UTF-8?B?5pel5pys6Kqe?="},
	    {"=?fake?= and more text", "=?UTF-8?Q?=3D=3Ffake=3F=3D_and_more_text?="},
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 1000);
		CHECK_INT(rfc2047_encode(cases[i].in, strlen(cases[i].in), &b), 0);
		CHECK_STR(buf_cstr(&b), cases[i].want);
		buf_free(&b);
	}
	/* long text: words of at most 75 characters that decode back, never
	 * splitting a character */
	struct buf in, enc, dec;
	buf_init(&in, 10000);
	buf_init(&enc, 10000);
	buf_init(&dec, 10000);
	for (int i = 0; i < 60; i++)
		(void)buf_puts(&in, i % 3 ? "\xC3\xA9t\xC3\xA9 " : "\xE2\x82\xAC");
	CHECK_INT(rfc2047_encode(in.data, in.len, &enc), 0);
	const char *p = enc.data;
	while (p) {
		const char *e = strstr(p, "\r\n ");
		size_t wl = e ? (size_t)(e - p) : strlen(p);
		CHECK(wl <= 75);
		p = e ? e + 3 : NULL;
	}
	CHECK_INT(rfc2047_decode(enc.data, enc.len, &dec), 0);
	CHECK_STR(buf_cstr(&dec), buf_cstr(&in));
	buf_free(&in);
	buf_free(&enc);
	buf_free(&dec);
}

/* ---- parameters -------------------------------------------------------------- */

TEST(params)
{
	char *t, *st;
	struct mime_param *p = NULL;
	size_t n = 0;
	const char *ct = "Text/Plain; Charset=\"UTF-8\"; format=flowed (c); x=\"a\\\"b\"";
	CHECK_INT(mime_params_parse_content_type(ct, strlen(ct), &t, &st, &p, &n), 0);
	CHECK_STR(t, "Text");
	CHECK_STR(st, "Plain");
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(p[0].name, "charset");
		CHECK_STR(p[0].raw_name, "Charset");
		CHECK_STR(p[0].value, "UTF-8");
		CHECK_STR(p[1].value, "flowed");
		CHECK_STR(p[2].value, "a\"b");
	}
	CHECK_STR(mime_param_get(p, n, "charset"), "UTF-8");
	CHECK(mime_param_get(p, n, "nope") == NULL);
	free(t);
	free(st);
	mime_params_free(&p, n);

	/* RFC 2231: continuations, charset, percent-encoding, order */
	n = 0;
	const char *cd = "attachment; filename*1*=%20rates.txt; filename*0*=utf-8'en'%E2%82%AC;"
			 " name*0=\"a\"; name*1=\"b c\"; title*=iso-8859-1''caf%E9; gap*0=x; gap*2=z";
	CHECK_INT(mime_params_parse_disposition(cd, strlen(cd), &t, &p, &n), 0);
	CHECK_STR(t, "attachment");
	CHECK_INT(n, 5);
	CHECK_STR(mime_param_get(p, n, "filename"), "utf-8'en'%E2%82%AC%20rates.txt");
	CHECK_STR(mime_param_get_utf8(p, n, "filename"), "\xE2\x82\xAC rates.txt");
	CHECK_STR(mime_param_get(p, n, "name"), "ab c");
	CHECK_STR(mime_param_get_utf8(p, n, "title"), "caf\xC3\xA9");
	CHECK_STR(mime_param_get(p, n, "gap*0"), "x");
	CHECK_STR(mime_param_get(p, n, "gap*2"), "z");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(p[i].name, "filename") == 0)
			CHECK_STR(p[i].raw_name, "filename*");
		if (strcmp(p[i].name, "name") == 0)
			CHECK_STR(p[i].raw_name, "name");
	}
	free(t);
	mime_params_free(&p, n);

	/* mixed extended and plain pieces: the plain ones are %-escaped */
	n = 0;
	const char *mx = "; f*0=\"50%\"; f*1*=%41";
	mime_params_parse(mx, strlen(mx), &p, &n);
	CHECK_INT(n, 1);
	CHECK_STR(mime_param_get(p, n, "f"), "''50%25%41");
	CHECK_STR(mime_param_get_utf8(p, n, "f"), "50%A");
	mime_params_free(&p, n);

	/* RFC 2047 in a parameter (against the rules, common) and junk */
	n = 0;
	const char *ew = "; name=\"=?utf-8?q?h=C3=A9.txt?=\"; junk; =novalue; name2==?utf-8?q?x?= ;z=1";
	mime_params_parse(ew, strlen(ew), &p, &n);
	CHECK_INT(n, 3);
	CHECK_STR(mime_param_get_utf8(p, n, "name"), "h\xC3\xA9.txt");
	CHECK_STR(mime_param_get(p, n, "name2"), "=?utf-8?q?x?=");
	CHECK_STR(mime_param_get(p, n, "z"), "1");
	mime_params_free(&p, n);

	/* invalid types */
	static const char *const bad[] = {"text", "text/", "/plain", "text/plain junk", "", ";a=b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 0;
		p = NULL;
		CHECK_INT(mime_params_parse_content_type(bad[i], strlen(bad[i]), &t, &st, &p, &n), -1);
		CHECK(t == NULL && st == NULL && n == 0);
	}
}

/* ---- addresses ------------------------------------------------------------------ */

struct addr_want {
	int kind;
	const char *name, *route, *mailbox, *domain;
};

static void check_addrs(const char *in, const struct addr_want *want, size_t nwant)
{
	struct mime_address *l;
	size_t n = mime_address_parse(in, strlen(in), &l);
	CHECK_INT(n, nwant);
	for (size_t i = 0; i < n && i < nwant; i++) {
		CHECK_INT(l[i].kind, want[i].kind);
		CHECK_STR(l[i].name, want[i].name);
		CHECK_STR(l[i].route, want[i].route);
		CHECK_STR(l[i].mailbox, want[i].mailbox);
		CHECK_STR(l[i].domain, want[i].domain);
	}
	mime_address_list_free(&l, n);
}

#define M MIME_ADDRESS_MAILBOX
#define GS MIME_ADDRESS_GROUP_START
#define GE MIME_ADDRESS_GROUP_END
#define CHECK_ADDRS(in, ...)                                                                                 \
	do {                                                                                                 \
		static const struct addr_want w_[] = {__VA_ARGS__};                                          \
		check_addrs(in, w_, sizeof(w_) / sizeof(w_[0]));                                             \
	} while (0)

TEST(addresses)
{
	CHECK_ADDRS("joe@example.com", {M, NULL, NULL, "joe", "example.com"});
	CHECK_ADDRS("Joe Q. Public <john.q.public@example.com>",
		    {M, "Joe Q. Public", NULL, "john.q.public", "example.com"});
	CHECK_ADDRS("\"Last, First\" <lf@x.org>, b@y.org", {M, "Last, First", NULL, "lf", "x.org"},
		    {M, NULL, NULL, "b", "y.org"});
	CHECK_ADDRS("\"quoted local\"@example.com", {M, NULL, NULL, "quoted local", "example.com"});
	CHECK_ADDRS("joe@example.com (Joe Bloggs)", {M, "Joe Bloggs", NULL, "joe", "example.com"});
	CHECK_ADDRS("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
		    {M, "Pete", NULL, "pete", "silly.test"});
	CHECK_ADDRS("<@a.example,@b.example:joe@c.example>",
		    {M, NULL, "@a.example,@b.example", "joe", "c.example"});
	CHECK_ADDRS("undisclosed-recipients:;", {GS, NULL, NULL, "undisclosed-recipients", NULL},
		    {GE, NULL, NULL, NULL, NULL});
	CHECK_ADDRS("A Group: a@x.org, \"B\" <b@y.org>; c@z.org", {GS, NULL, NULL, "A Group", NULL},
		    {M, NULL, NULL, "a", "x.org"}, {M, "B", NULL, "b", "y.org"}, {GE, NULL, NULL, NULL, NULL},
		    {M, NULL, NULL, "c", "z.org"});
	CHECK_ADDRS("user", {M, NULL, NULL, "user", NULL});
	CHECK_ADDRS("Joe Bloggs", {M, "Joe Bloggs", NULL, NULL, NULL});
	CHECK_ADDRS("@missing.local", {M, NULL, NULL, NULL, "missing.local"});
	CHECK_ADDRS("<>", {M, NULL, NULL, NULL, NULL});
	CHECK_ADDRS("a@x.org, , ,b@y.org,", {M, NULL, NULL, "a", "x.org"}, {M, NULL, NULL, "b", "y.org"});
	CHECK_ADDRS("<a@x.org> junk, b@y.org", {M, NULL, NULL, "a", "x.org"}, {M, NULL, NULL, "b", "y.org"});
	CHECK_ADDRS("=?utf-8?q?J=C3=B6?= <jo@x.org>", {M, "=?utf-8?q?J=C3=B6?=", NULL, "jo", "x.org"});
	CHECK_ADDRS("J\xC3\xB6rg <j@x.de>", {M, "J\xC3\xB6rg", NULL, "j", "x.de"});
	CHECK_ADDRS("joe@[192.0.2.1]", {M, NULL, NULL, "joe", "[192.0.2.1]"});
	CHECK_ADDRS("Unterminated <a@x.org", {M, "Unterminated", NULL, "a", "x.org"});
	CHECK_ADDRS("\"unterminated quote <a@x.org>", {M, "unterminated quote <a@x.org>", NULL, NULL, NULL});
	CHECK_ADDRS("\"just a name\", user", {M, "just a name", NULL, NULL, NULL},
		    {M, NULL, NULL, "user", NULL});
	CHECK_ADDRS("");
	CHECK_ADDRS("  \r\n ");

	size_t n;
	const char *sl = "A <a@x.org>, \"q l\"@y.org, G: c@z.org;, bad, \"x\\\"y\"@w.org";
	char **specs = mime_address_specs(sl, strlen(sl), &n);
	CHECK_INT(n, 4);
	CHECK_STR(specs[0], "a@x.org");
	CHECK_STR(specs[1], "\"q l\"@y.org");
	CHECK_STR(specs[2], "c@z.org");
	CHECK_STR(specs[3], "\"x\\\"y\"@w.org");
	CHECK(specs[4] == NULL);
	mime_address_specs_free(&specs);
	CHECK(specs == NULL);

	static const struct {
		const char *name, *want;
	} disp[] = {
	    {NULL, "a@x.org"},
	    {"", "a@x.org"},
	    {"Joe Bloggs", "Joe Bloggs <a@x.org>"},
	    {"Bloggs, Joe", "\"Bloggs, Joe\" <a@x.org>"},
	    {"Joe \"JB\" B.", "\"Joe \\\"JB\\\" B.\" <a@x.org>"},
	    {"Andr\xC3\xA9", "=?UTF-8?B?QW5kcsOp?= <a@x.org>"},
	    {"=?utf-8?q?x?=", "\"=?utf-8?q?x?=\" <a@x.org>"},
	};
	for (size_t i = 0; i < sizeof(disp) / sizeof(disp[0]); i++) {
		struct buf b;
		buf_init(&b, 200);
		CHECK_INT(mime_address_append_display(disp[i].name, "a@x.org", &b), 0);
		CHECK_STR(buf_cstr(&b), disp[i].want);
		/* what we write parses back to the same name and address */
		struct mime_address *l;
		size_t ln = mime_address_parse(b.data, b.len, &l);
		CHECK_INT(ln, 1);
		if (ln == 1 && disp[i].name && *disp[i].name) {
			char *dn = rfc2047_decode_dup(l[0].name, strlen(l[0].name), 200);
			CHECK_STR(dn, strstr(disp[i].name, "=?") ? "x" : disp[i].name);
			free(dn);
		}
		mime_address_list_free(&l, ln);
		buf_free(&b);
	}
}

/* ---- the tree ------------------------------------------------------------------------ */

TEST(tree)
{
	const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n"
			"Content-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\n\r\n--b--\r\nepi\r\n";
	struct mime_message *msg = parse_str(m);
	const struct mime_part *r = msg->root;
	CHECK(r->flags & MIME_PART_MULTIPART);
	CHECK_INT(r->child_count, 2);
	CHECK_STR(r->type, "multipart");
	CHECK_STR(r->subtype, "mixed");
	CHECK_INT(r->header_size, 45);
	CHECK_INT(r->body_offset, 45);
	CHECK_INT(r->body_size, strlen(m) - 45);
	const struct mime_part *c1 = r->children, *c2 = c1->next;
	CHECK_MEM(m + c1->header_offset, c1->header_size, "Content-Type: text/plain\r\n\r\n");
	CHECK_MEM(m + c1->body_offset, c1->body_size, "one");
	CHECK_INT(c1->body_lines, 0);
	CHECK_MEM(m + c2->header_offset, c2->header_size, "\r\n");
	CHECK_MEM(m + c2->body_offset, c2->body_size, "two\r\n");
	CHECK_INT(c2->body_lines, 1);
	CHECK_STR(c2->type, "text");
	CHECK(c2->type_raw == NULL);
	CHECK(c2->parent == r);
	mime_free(&msg);
	CHECK(msg == NULL);

	/* bare LF: virtual sizes count CRLF */
	msg = parse_str("Subject: x\n\nline\nline\n");
	CHECK_INT(msg->root->header_size, 12);
	CHECK_INT(msg->root->header_vsize, 14);
	CHECK_INT(msg->root->body_size, 10);
	CHECK_INT(msg->root->body_vsize, 12);
	CHECK_INT(msg->root->body_lines, 2);
	CHECK_INT(msg->root->header_lines, 2);
	mime_free(&msg);

	/* digest defaults, message/rfc822 encapsulation */
	msg = parse_str("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: in\n\nbody\n--d--\n");
	c1 = msg->root->children;
	CHECK_STR(c1->type, "message");
	CHECK(c1->flags & MIME_PART_MESSAGE);
	CHECK(c1->children != NULL && c1->children->next == NULL);
	char *subj = mime_header_get(msg, c1->children, "subject");
	CHECK_STR(subj, "in");
	free(subj);
	CHECK(mime_header_get(msg, NULL, "X-None") == NULL);
	mime_free(&msg);

	/* a message/rfc822 part cut by a boundary inside its header still has
	 * its (empty) message */
	msg = parse_str("Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
			"Content-Type: message/rfc822\r\n--q--\r\n");
	c1 = msg->root->children;
	CHECK(c1 != NULL && (c1->flags & MIME_PART_MESSAGE) && c1->children != NULL);
	CHECK(mime_part_find(msg, "1.1", 3) == c1->children);
	struct buf eb;
	buf_init(&eb, 1000);
	CHECK_INT(mime_bodystructure(msg, NULL, false, &eb), 0);
	CHECK_STR(buf_cstr(&eb), "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 "
				 "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
				 "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0) \"mixed\")");
	buf_free(&eb);
	mime_free(&msg);

	/* the root's envelope is its own header, whatever its type */
	msg = parse_str("Subject: outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nx");
	buf_init(&eb, 1000);
	CHECK_INT(mime_envelope(msg, msg->root, &eb), 0);
	CHECK_STR(buf_cstr(&eb), "(NIL \"outer\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_reset(&eb);
	CHECK_INT(mime_envelope(msg, NULL, &eb), 0);
	CHECK_STR(buf_cstr(&eb), "(NIL \"outer\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_reset(&eb);
	CHECK_INT(mime_envelope(msg, msg->root->children, &eb), 0);
	CHECK_STR(buf_cstr(&eb), "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_free(&eb);
	mime_free(&msg);

	/* empty input */
	msg = mime_parse("", 0);
	CHECK_INT(msg->root->header_size, 0);
	CHECK_INT(msg->root->body_size, 0);
	struct buf b;
	buf_init(&b, 1000);
	CHECK_INT(mime_bodystructure(msg, NULL, true, &b), 0);
	CHECK_STR(buf_cstr(&b),
		  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
	buf_reset(&b);
	CHECK_INT(mime_envelope(msg, NULL, &b), 0);
	CHECK_STR(buf_cstr(&b), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_free(&b);
	mime_free(&msg);
}

/* 10,000 parts and more: capped, linear, and the rest kept as a body */
TEST(caps)
{
	struct buf m;
	buf_init(&m, BUF_MAX_DEFAULT);
	(void)buf_puts(&m, "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (int i = 0; i < MIME_MAX_PARTS + 50; i++)
		(void)buf_puts(&m, "--x\r\n\r\np\r\n");
	(void)buf_puts(&m, "--x--\r\n");
	struct mime_message *msg = mime_parse(m.data, m.len);
	CHECK_INT(msg->root->child_count, MIME_MAX_PARTS - 1);
	CHECK_INT(msg->root->body_offset + msg->root->body_size, m.len);
	mime_free(&msg);
	buf_free(&m);

	/* nesting past the cap: the deepest container becomes a leaf */
	buf_init(&m, BUF_MAX_DEFAULT);
	for (int i = 0; i < MIME_MAX_DEPTH + 10; i++)
		(void)buf_printf(&m, "Content-Type: message/rfc822\r\n\r\n");
	(void)buf_puts(&m, "Subject: deep\r\n\r\nbody\r\n");
	msg = mime_parse(m.data, m.len);
	const struct mime_part *p = msg->root;
	int depth = 0;
	while (p->children) {
		p = p->children;
		depth++;
	}
	CHECK_INT(depth, MIME_MAX_DEPTH - 1);
	CHECK(p->flags & MIME_PART_TRUNCATED);
	struct buf bs;
	buf_init(&bs, BUF_MAX_DEFAULT);
	CHECK_INT(mime_bodystructure(msg, NULL, true, &bs), 0);
	CHECK(strstr(bs.data, "\"application\" \"octet-stream\"") != NULL);
	buf_free(&bs);
	mime_free(&msg);
	buf_free(&m);

	/* a huge header: only MIME_MAX_HEADER bytes are parsed, all is counted */
	buf_init(&m, BUF_MAX_DEFAULT);
	(void)buf_puts(&m, "Subject: big\r\n");
	while (m.len < MIME_MAX_HEADER + 1000)
		(void)buf_puts(&m, "X-Filler: 0123456789012345678901234567890123456789\r\n");
	(void)buf_puts(&m, "Content-Type: text/html\r\n\r\nbody\r\n");
	msg = mime_parse(m.data, m.len);
	CHECK_STR(msg->root->subtype, "plain"); /* the late Content-Type is past the cap */
	CHECK_INT(msg->root->body_size, 6);
	mime_free(&msg);
	buf_free(&m);
}

TEST(sections)
{
	const char *m =
	    "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
	    "--o\r\nContent-Type: text/plain\r\n\r\nt1\r\n"
	    "--o\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
	    "--i\r\n\r\nalt1\r\n--i\r\n\r\nalt2\r\n--i--\r\n"
	    "--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: single\r\n\r\nsingle body\r\n"
	    "--o\r\nContent-Type: multipart/mixed; boundary=n\r\n\r\n--n\r\n\r\nnested\r\n--n--\r\n"
	    "--o--\r\n";
	struct mime_message *msg = parse_str(m);
	static const struct {
		const char *section, *body;
	} cases[] = {
	    {"1", "t1"},       {"2.1", "alt1"}, {"2.2", "alt2"}, {"3.1", "single body"},
	    {"4.1", "nested"}, {"1.1", NULL},	{"2.3", NULL},	 {"3.2", NULL},
	    {"5", NULL},       {"0", NULL},	{"", NULL},	 {"1.", NULL},
	    {".1", NULL},      {"1..1", NULL},	{"x", NULL},	 {"99999999999", NULL},
	    {"4.1.1", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mime_part *p = mime_part_find(msg, cases[i].section, strlen(cases[i].section));
		if (cases[i].body == NULL)
			CHECK(p == NULL);
		else {
			CHECK(p != NULL);
			if (p)
				CHECK_MEM(msg->data + p->body_offset, p->body_size, cases[i].body);
		}
	}
	/* "2" is the message/rfc822 part; its HEADER is the inner header */
	const struct mime_part *p2 = mime_part_find(msg, "2", 1);
	CHECK(p2 && (p2->flags & MIME_PART_MESSAGE));
	const struct mime_part *inner = mime_part_message(msg, p2);
	CHECK(inner != NULL && inner->parent == p2);
	CHECK(mime_part_message(msg, mime_part_find(msg, "1", 1)) == NULL);
	CHECK(mime_part_message(msg, NULL) == msg->root);

	struct buf b;
	buf_init(&b, 1000);
	const char *names[] = {"SUBJECT"};
	CHECK_INT(mime_header_fields(msg, inner->header_offset, inner->header_size, names, 1, false, &b), 0);
	CHECK_STR(buf_cstr(&b), "Subject: inner\r\n\r\n");
	buf_reset(&b);
	CHECK_INT(mime_envelope(msg, p2, &b), 0);
	CHECK_STR(buf_cstr(&b), "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_free(&b);
	mime_free(&msg);

	/* single-part message: "1" is the root, "1.1" does not exist */
	msg = parse_str("Subject: s\r\n\r\nbody");
	CHECK(mime_part_find(msg, "1", 1) == msg->root);
	CHECK(mime_part_find(msg, "1.1", 3) == NULL);
	CHECK(mime_part_find(msg, "2", 1) == NULL);
	mime_free(&msg);
}

TEST(header_fields)
{
	const char *m = "From: a@b\r\nSubject: one\r\n two\r\nTo: c@d\nsubject: again\r\nX-Last: z";
	struct mime_message *msg = parse_str(m);
	struct buf b;
	buf_init(&b, 1000);
	const char *names[] = {"subject", "X-LAST"};
	CHECK_INT(mime_header_fields(msg, 0, msg->root->header_size, names, 2, false, &b), 0);
	CHECK_STR(buf_cstr(&b), "Subject: one\r\n two\r\nsubject: again\r\nX-Last: z\r\n\r\n");
	buf_reset(&b);
	CHECK_INT(mime_header_fields(msg, 0, msg->root->header_size, names, 2, true, &b), 0);
	CHECK_STR(buf_cstr(&b), "From: a@b\r\nTo: c@d\r\n\r\n");
	buf_reset(&b);
	const char *none[] = {"X-None"};
	CHECK_INT(mime_header_fields(msg, 0, msg->root->header_size, none, 1, false, &b), 0);
	CHECK_STR(buf_cstr(&b), "\r\n");
	buf_free(&b);
	mime_free(&msg);

	/* lines that are not fields are kept by .NOT (as Dovecot does) */
	m = " lead\r\nA: 1\r\nno colon\r\n  cont\r\n: empty name\r\nB: 2\r\n\r\nbody";
	msg = parse_str(m);
	buf_init(&b, 1000);
	const char *a_only[] = {"a"};
	CHECK_INT(mime_header_fields(msg, 0, msg->root->header_size, a_only, 1, true, &b), 0);
	CHECK_STR(buf_cstr(&b), " lead\r\nno colon\r\n  cont\r\n: empty name\r\nB: 2\r\n\r\n");
	buf_reset(&b);
	CHECK_INT(mime_header_fields(msg, 0, msg->root->header_size, a_only, 1, false, &b), 0);
	CHECK_STR(buf_cstr(&b), "A: 1\r\n\r\n");
	buf_free(&b);
	mime_free(&msg);
	msg = parse_str("From: a@b\r\nSubject: one\r\n two\r\nTo: c@d\nsubject: again\r\nX-Last: z");
	buf_init(&b, 5);
	CHECK_INT(mime_header_fields(msg, 0, msg->root->header_size, names, 2, false, &b), -1);
	CHECK_INT(b.len, 0);
	buf_free(&b);
	mime_free(&msg);
}

TEST(decode)
{
	const char *m = "Content-Type: multipart/mixed; boundary=z\r\n\r\n"
			"--z\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n"
			"--z\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\ncaf=C3=A9=\r\n!\r\n"
			"--z\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
			"--z\r\nContent-Transfer-Encoding: 8bit\r\n\r\nraw\xC3\xA9\r\n--z--\r\n";
	struct mime_message *msg = parse_str(m);
	static const struct {
		const char *section, *want;
	} cases[] = {{"1", "hello"}, {"2", "caf\xC3\xA9!"}, {"3", NULL}, {"4", "raw\xC3\xA9"}};
	for (size_t i = 0; i < 4; i++) {
		struct buf b;
		buf_init(&b, 100);
		const char *err = NULL;
		const struct mime_part *p = mime_part_find(msg, cases[i].section, 1);
		int r = mime_part_decode(msg, p, &b, &err);
		if (cases[i].want) {
			CHECK_INT(r, 0);
			CHECK_STR(buf_cstr(&b), cases[i].want);
		} else {
			CHECK_INT(r, -1);
			CHECK_STR(err, "unknown Content-Transfer-Encoding");
		}
		buf_free(&b);
	}
	mime_free(&msg);
}

/* ---- summary and text ---------------------------------------------------------------- */

TEST(summary)
{
	const char *m =
	    "From: =?utf-8?q?Andr=C3=A9?= <andre@example.com>, other@example.com\r\n"
	    "To: \"Bob\" <bob@example.org>, carol@example.net\r\nCc: G: d@x.org;\r\n"
	    "Subject: =?utf-8?q?R=C3=A9union?=\r\n  folded\r\nDate: Thu, 26 Nov 2026 15:50:00 +0100\r\n"
	    "Message-ID: <id1@example.com>\r\nIn-Reply-To: <p@x> (comment)\r\n"
	    "References: <a@x>\r\n <b@x>  <c@x>\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n"
	    "--s\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<p>Caf\xE9</p><style>x</style>\r\n"
	    "--s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "ICBIZWxsbywKCiAgd29ybGQgIQ==\r\n"
	    "--s\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\nPDF\r\n--s--\r\n";
	struct mime_message *msg = parse_str(m);
	struct mime_summary s;
	mime_summary_build(msg, &s);
	CHECK_STR(s.subject, "R\xC3\xA9union folded");
	CHECK_STR(s.from, "Andr\xC3\xA9 <andre@example.com>");
	CHECK_STR(s.from_addr, "andre@example.com");
	CHECK_STR(s.to, "Bob <bob@example.org>, carol@example.net");
	CHECK_STR(s.to_addr, "bob@example.org");
	CHECK_STR(s.cc, "d@x.org");
	CHECK_STR(s.message_id, "<id1@example.com>");
	CHECK_STR(s.in_reply_to, "<p@x>");
	CHECK_STR(s.references, "<a@x> <b@x> <c@x>");
	CHECK_INT(s.date, 1795704600LL);
	CHECK_STR(s.snippet, "Hello, world !");
	CHECK(s.has_attachments);
	mime_summary_clear(&s);
	CHECK(s.subject == NULL);
	mime_free(&msg);

	msg = parse_str("Subject: bare\r\n\r\n");
	mime_summary_build(msg, &s);
	CHECK_STR(s.subject, "bare");
	CHECK_STR(s.from, "");
	CHECK_STR(s.to_addr, "");
	CHECK_STR(s.snippet, "");
	CHECK_INT(s.date, 0);
	CHECK(!s.has_attachments);
	mime_summary_clear(&s);
	mime_free(&msg);

	/* a long body: the snippet stops at 200 characters, whole ones */
	struct buf big;
	buf_init(&big, 100000);
	(void)buf_puts(&big, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	for (int i = 0; i < 500; i++)
		(void)buf_puts(&big, "\xC3\xA9 ");
	msg = mime_parse(big.data, big.len);
	mime_summary_build(msg, &s);
	CHECK(utf8_valid(s.snippet, strlen(s.snippet)));
	CHECK_INT(strlen(s.snippet), 299); /* 100 "é" + 99 spaces */
	mime_summary_clear(&s);
	mime_free(&msg);
	buf_free(&big);
}

TEST(extract_text)
{
	const char *m = "From: =?utf-8?q?Andr=C3=A9?= <andre@example.com>\r\nTo: bob@example.org\r\n"
			"Subject: Hello\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n"
			"--s\r\nContent-Type: text/html\r\n\r\n<b>bold</b> &amp; <script>no</script>done\r\n"
			"--s\r\nContent-Type: image/png; name*=utf-8''%C3%A9.png\r\n\r\nPNG\r\n"
			"--s\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xE9\r\n--s--\r\n";
	struct mime_message *msg = parse_str(m);
	struct buf h, b;
	buf_init(&h, 1000);
	buf_init(&b, 1000);
	CHECK_INT(mime_extract_text(msg, &h, &b), 0);
	CHECK_STR(buf_cstr(&h), "Andr\xC3\xA9 andre@example.com \nbob@example.org \nHello");
	CHECK_STR(buf_cstr(&b), "bold & done\n\xC3\xA9.png\ncaf\xC3\xA9");
	buf_free(&h);
	buf_free(&b);
	/* capped outputs */
	buf_init(&h, 5);
	buf_init(&b, 7);
	CHECK_INT(mime_extract_text(msg, &h, &b), 0);
	CHECK_INT(h.len, 4); /* "Andr", the "é" does not fit */
	CHECK(b.len <= 7);
	CHECK(utf8_valid(b.data ? b.data : "", b.len));
	buf_free(&h);
	buf_free(&b);
	mime_free(&msg);
}

TEST(html)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"<p>Hello</p><p>World</p>", "Hello\nWorld"},
	    {"a <b>bold</b>  text", "a bold text"},
	    {"&lt;tag&gt; &amp;&amp; &quot;q&quot; &#65;&#x42;&nbsp;x", "<tag> && \"q\" AB x"},
	    {"&unknown; &amp", "&unknown; &"},
	    {"<script>alert('<p>')</script>after", "after"},
	    {"<STYLE type=text/css>p{}</STYLE>x", "x"},
	    {"<!-- comment <p> -->visible", "visible"},
	    {"<a href=\"x>y\">link</a>", "link"},
	    {"1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
	    {"line<br>break<br/>again", "line\nbreak\nagain"},
	    {"<unterminated", ""},
	    {"<script>never closed", ""},
	    {"&#0; &#xD800;", "\xEF\xBF\xBD \xEF\xBF\xBD"},
	    {"caf&eacute;", "caf\xC3\xA9"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 1000);
		CHECK_INT(mime_html_to_text(cases[i].in, strlen(cases[i].in), &b), 0);
		CHECK_STR(buf_cstr(&b), cases[i].want);
		buf_free(&b);
	}
}

/* ---- golden files and truncation ----------------------------------------------------- */

static void check_tree(const struct mime_message *msg, const struct mime_part *p, size_t depth, size_t *count)
{
	(*count)++;
	CHECK(depth < MIME_MAX_DEPTH);
	CHECK(p->header_offset + p->header_size == p->body_offset);
	CHECK(p->body_offset + p->body_size <= msg->len);
	CHECK(p->header_vsize >= p->header_size && p->body_vsize >= p->body_size);
	CHECK(p->type != NULL && p->subtype != NULL);
	uint32_t n = 0;
	for (const struct mime_part *c = p->children; c; c = c->next) {
		n++;
		CHECK(c->parent == p);
		CHECK(c->header_offset >= p->body_offset);
		CHECK(c->body_offset + c->body_size <= p->body_offset + p->body_size);
		check_tree(msg, c, depth + 1, count);
	}
	CHECK_INT(n, p->child_count);
}

static void exercise(const char *data, size_t len)
{
	struct mime_message *msg = mime_parse(data, len);
	size_t count = 0;
	check_tree(msg, msg->root, 0, &count);
	CHECK(count <= MIME_MAX_PARTS);
	struct buf b, h;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_init(&h, 65536);
	CHECK_INT(mime_envelope(msg, NULL, &b), 0);
	CHECK_INT(mime_bodystructure(msg, NULL, true, &b), 0);
	CHECK_INT(mime_bodystructure(msg, NULL, false, &b), 0);
	struct mime_summary s;
	mime_summary_build(msg, &s);
	CHECK(utf8_valid(s.subject, strlen(s.subject)) && utf8_valid(s.from, strlen(s.from)) &&
	      utf8_valid(s.snippet, strlen(s.snippet)) && utf8_valid(s.to, strlen(s.to)));
	mime_summary_clear(&s);
	buf_reset(&b);
	CHECK_INT(mime_extract_text(msg, &h, &b), 0);
	CHECK(utf8_valid(buf_cstr(&h), h.len));
	buf_free(&b);
	buf_free(&h);
	mime_free(&msg);
}

/* Inputs that a quadratic algorithm would choke on (no timing here: a
 * regression shows as a test that takes minutes). */
TEST(adversarial)
{
	struct buf m;
	buf_init(&m, BUF_MAX_DEFAULT);
	(void)buf_puts(&m, "Subject: ");
	while (m.len < 900000)
		(void)buf_puts(&m, "=?a?q?x");
	(void)buf_puts(&m, "\r\nMessage-ID: ");
	while (m.len < 1800000)
		(void)buf_puts(&m, "<<<<<<<<<<<<<<<<<<<<x>");
	(void)buf_puts(&m, "\r\nTo: ");
	while (m.len < 2700000)
		(void)buf_puts(&m, "a a a a <b <c \"d ");
	(void)buf_puts(&m, "\r\nCc: ");
	while (m.len < 3600000)
		(void)buf_puts(&m, "x@y,");
	(void)buf_puts(&m, "\r\nContent-Type: text/html\r\n\r\n");
	while (m.len < 4500000)
		(void)buf_puts(&m, "<a <b \"<!-- &#x&amp<script");
	exercise(m.data, m.len);
	buf_free(&m);

	/* many To: fields: the envelope merges them */
	buf_init(&m, BUF_MAX_DEFAULT);
	for (int i = 0; i < 20000; i++)
		(void)buf_puts(&m, "To: a@b\r\n");
	(void)buf_puts(&m, "\r\n");
	exercise(m.data, m.len);
	buf_free(&m);

	/* a long run of boundary-like lines */
	buf_init(&m, BUF_MAX_DEFAULT);
	(void)buf_puts(&m, "Content-Type: multipart/mixed; boundary=abc\r\n\r\n");
	while (m.len < 2000000)
		(void)buf_puts(&m, "--ab\r\n--abd\r\n-\r\n--\r\n");
	exercise(m.data, m.len);
	buf_free(&m);
}

static void golden_one(const char *dir, const char *name, bool update)
{
	char path[1024];
	size_t len;
	snprintf(path, sizeof(path), "%s/%s.eml", dir, name);
	char *data = read_file(path, &len);
	CHECK(data != NULL);
	if (data == NULL)
		return;
	struct mime_message *msg = mime_parse(data, len);
	static const char *const kinds[] = {"envelope", "body", "bodystructure"};
	for (int k = 0; k < 3; k++) {
		struct buf b;
		buf_init(&b, BUF_MAX_DEFAULT);
		if (k == 0)
			CHECK_INT(mime_envelope(msg, NULL, &b), 0);
		else
			CHECK_INT(mime_bodystructure(msg, NULL, k == 2, &b), 0);
		(void)buf_putc(&b, '\n');
		snprintf(path, sizeof(path), "%s/%s.%s", dir, name, kinds[k]);
		if (update) {
			FILE *f = fopen(path, "wb");
			CHECK(f != NULL);
			if (f) {
				fwrite(b.data, 1, b.len, f);
				fclose(f);
			}
		} else {
			size_t glen;
			char *want = read_file(path, &glen);
			CHECK(want != NULL);
			if (want && (glen != b.len || memcmp(want, b.data, glen) != 0)) {
				test_failures++;
				printf("FAIL golden %s.%s:\n got  %s want %s", name, kinds[k], b.data, want);
			}
			free(want);
		}
		buf_free(&b);
	}
	mime_free(&msg);

	/* every truncation, each in an exact-size heap copy so that ASan sees
	 * any read past the end */
	size_t step = len <= 20000 ? 1 : len / 2000;
	for (size_t i = 0; i <= len; i += step) {
		char *copy = malloc(i ? i : 1);
		memcpy(copy, data, i);
		exercise(copy, i);
		free(copy);
	}
	free(data);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(golden)
{
	const char *dir = test_dir();
	bool update = getenv("POSTHORN_UPDATE_GOLDEN") != NULL;
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 256) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".eml") == 0)
			names[n++] = strndup(e->d_name, l - 4);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	CHECK(n >= 25);
	for (size_t i = 0; i < n; i++) {
		golden_one(dir, names[i], update);
		free(names[i]);
	}
}

int main(void)
{
	RUN(header_iter);
	RUN(rfc2047_decode);
	RUN(rfc2047_encode);
	RUN(params);
	RUN(addresses);
	RUN(tree);
	RUN(caps);
	RUN(sections);
	RUN(header_fields);
	RUN(decode);
	RUN(summary);
	RUN(extract_text);
	RUN(html);
	RUN(adversarial);
	RUN(golden);
	return test_done();
}
