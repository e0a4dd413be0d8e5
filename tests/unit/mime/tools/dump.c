/* Writes our ENVELOPE, BODY and BODYSTRUCTURE of each FILE.eml to
 * OUTDIR/FILE.envelope etc. (the golden-file format), for comparison with
 * dovecot_fetch.py. Build: cc -std=c11 -D_GNU_SOURCE -Isrc -o dump
 * tests/unit/mime/tools/dump.c build/<you>/libposthorn.a
 * usage: dump OUTDIR FILE.eml... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mime/mime.h"
int main(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == NULL)
			continue;
		static char data[64 << 20];
		size_t n = fread(data, 1, sizeof(data), f);
		fclose(f);
		struct mime_message *m = mime_parse(data, n);
		struct buf b;
		buf_init(&b, BUF_MAX_DEFAULT);
		char path[4096];
		const char *base = strrchr(argv[i], '/');
		base = base ? base + 1 : argv[i];
		size_t bl = strlen(base) - 4;
		const char *kinds[3] = {"envelope", "body", "bodystructure"};
		for (int k = 0; k < 3; k++) {
			buf_reset(&b);
			if (k == 0)
				mime_envelope(m, NULL, &b);
			else
				mime_bodystructure(m, NULL, k == 2, &b);
			snprintf(path, sizeof(path), "%s/%.*s.%s", argv[1], (int)bl, base, kinds[k]);
			FILE *o = fopen(path, "wb");
			fwrite(b.data, 1, b.len, o);
			fputc('\n', o);
			fclose(o);
		}
		buf_free(&b);
		mime_free(&m);
	}
	return 0;
}
