/* Bounded line reader on evbuffers (see lineio.h). */
#include "util/lineio.h"

#include <event2/buffer.h>
#include <string.h>

enum lineio_result lineio_get(struct evbuffer *in, size_t max, enum lineio_eol eol, char *line,
			      size_t line_size, size_t *len_r)
{
	size_t avail = evbuffer_get_length(in);
	if (avail == 0)
		return LINEIO_NEED_MORE;
	/* Look only at the first max + 2 bytes: a later end means too long. */
	size_t window = max + 2 < avail ? max + 2 : avail;
	struct evbuffer_ptr stop;
	evbuffer_ptr_set(in, &stop, window, EVBUFFER_PTR_SET);
	const char *what = eol == LINEIO_EOL_CRLF ? "\r\n" : "\n";
	size_t what_len = strlen(what);
	struct evbuffer_ptr end = evbuffer_search_range(in, what, what_len, NULL, &stop);
	if (end.pos < 0)
		return avail > max + 1 ? LINEIO_TOO_LONG : LINEIO_NEED_MORE;
	size_t len = (size_t)end.pos;
	size_t eol_len = what_len;
	if (eol == LINEIO_EOL_LF_OR_CRLF && len > 0) {
		char cr;
		struct evbuffer_ptr p;
		evbuffer_ptr_set(in, &p, len - 1, EVBUFFER_PTR_SET);
		if (evbuffer_copyout_from(in, &p, &cr, 1) == 1 && cr == '\r') {
			len--;
			eol_len++;
		}
	}
	if (len > max || len >= line_size)
		return LINEIO_TOO_LONG;
	evbuffer_remove(in, line, len);
	line[len] = '\0';
	evbuffer_drain(in, eol_len);
	*len_r = len;
	return LINEIO_LINE;
}

int lineio_skip_line(struct evbuffer *in)
{
	struct evbuffer_ptr end = evbuffer_search(in, "\n", 1, NULL);
	if (end.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return 0;
	}
	evbuffer_drain(in, (size_t)end.pos + 1);
	return 1;
}
