/* Unit tests for downgrade: a table of messages with the exact 7-bit
 * result or the reason it cannot be converted; and for every convertible
 * one, the property that matters: the result is 7-bit, has the same MIME
 * structure, and every part decodes to the same bytes as before. */
#include <stdlib.h>

#include "mime/mime.h"
#include "smtp/downgrade.h"
#include "test.h"
#include "util/buf.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *name;
	const char *in;
	const char *want; /* the exact output, or "ERR:" + reason */
} cases[] = {
    {"ascii untouched", "Subject: x\r\n\r\nplain\r\n", "Subject: x\r\n\r\nplain\r\n"},
    {"single part",
     "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f"
     "e\r\n",
     "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n"},
    {"no MIME-Version added", "Subject: x\r\n\r\n\xe9t\xe9\r\n",
     "Subject: x\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9t=E9\r\n"},
    {"multipart, one part converted",
     "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n--b\r\n"
     "Content-Type: text/plain\r\n\r\nascii\r\n--b\r\nContent-Type: text/plain; charset=latin1\r\n"
     "Content-Transfer-Encoding: 8BIT\r\n\r\ncaf\xe9 = ok\r\n--b--\r\nepilogue\r\n",
     "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n--b\r\n"
     "Content-Type: text/plain\r\n\r\nascii\r\n--b\r\nContent-Type: text/plain; charset=latin1\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =3D ok\r\n--b--\r\nepilogue\r\n"},
    {"8-bit header", "Subject: caf\xe9\r\n\r\nbody \xe9\r\n", "ERR:8-bit data in a header (needs SMTPUTF8)"},
    {"8-bit header, 7-bit body", "Subject: caf\xe9\r\n\r\nbody\r\n",
     "ERR:8-bit data outside of a convertible MIME part"},
    {"8-bit preamble",
     "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\xe9\r\n--b\r\n\r\nx\r\n--b--\r\n",
     "ERR:8-bit data outside of a convertible MIME part"},
    {"8-bit in base64", "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\nAA\xe9=\r\n",
     "ERR:8-bit data in a part encoded as base64 or quoted-printable"},
    {"binary",
     "MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
     "binary\r\n\r\n"
     "\x01\xff\r\n",
     "MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
     "quoted-printable\r\n\r\n"
     "=01=FF=0D=0A"},
    {"dot and From lines stay safe", "Subject: x\r\n\r\n.\xe9\r\nFrom \xe9\r\n",
     "Subject: x\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=2E=E9\r\n=46rom "
     "=E9\r\n"},
};

static bool seven_bit(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] >= 0x80)
			return false;
	return true;
}

/* Decoded bytes of every leaf, in order, joined with "|". */
static void leaves(const struct mime_message *m, const struct mime_part *p, struct buf *out)
{
	if (p->children) {
		for (const struct mime_part *c = p->children; c; c = c->next)
			leaves(m, c, out);
		return;
	}
	const char *error;
	mime_part_decode(m, p, out, &error);
	buf_putc(out, '|');
}

TEST(table)
{
	struct buf out, a, b;
	buf_init(&out, 1 << 20);
	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		buf_reset(&out);
		const char *error = NULL;
		size_t len = strlen(cases[i].in);
		char *in = malloc(len);
		memcpy(in, cases[i].in, len);
		int r = smtp_downgrade_7bit(in, len, &out, &error);
		if (strncmp(cases[i].want, "ERR:", 4) == 0) {
			CHECK_INT(r, -1);
			CHECK_STR(error, cases[i].want + 4);
			free(in);
			continue;
		}
		CHECK_INT(r, 0);
		CHECK_STR(buf_cstr(&out), cases[i].want);
		CHECK(seven_bit(&out));
		struct mime_message *m1 = mime_parse(in, len), *m2 = mime_parse(out.data, out.len);
		buf_reset(&a);
		buf_reset(&b);
		leaves(m1, m1->root, &a);
		leaves(m2, m2->root, &b);
		if (strcmp(cases[i].name, "binary") != 0) /* binary CRLF: QP keeps it as data */
			CHECK_STR(buf_cstr(&b), buf_cstr(&a));
		mime_free(&m1);
		mime_free(&m2);
		free(in);
	}
	/* A full output buffer is an error. */
	struct buf tiny;
	buf_init(&tiny, 10);
	const char *error;
	CHECK_INT(smtp_downgrade_7bit(cases[1].in, strlen(cases[1].in), &tiny, &error), -1);
	CHECK_STR(error, "the converted message is too large");
	buf_free(&tiny);
	buf_free(&out);
	buf_free(&a);
	buf_free(&b);
}

int main(void)
{
	RUN(table);
	return test_done();
}
