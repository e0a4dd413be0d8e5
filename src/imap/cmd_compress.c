/* cmd_compress: COMPRESS=DEFLATE (RFC 4978). After the tagged OK (sent in
 * clear) a libevent filter bufferevent is stacked on the connection: raw
 * deflate (no zlib header) both ways. Every output batch ends with a sync
 * flush, so the client sees each reply at once.
 *
 * Memory: inflate must accept the client's full 32 KB window; our deflate
 * uses a 4 KB window and a small hash (memLevel 5), about 32 KB, instead of
 * zlib's default 256 KB per connection. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "imap/imap_private.h"
#include "util/log.h"
#include "util/mem.h"

#define DEFLATE_WINDOW_BITS 12
#define DEFLATE_MEM_LEVEL 5

struct zfilter {
	z_stream in;  /* inflate */
	z_stream out; /* deflate */
	bool in_error;
};

static void zfilter_free(void *ctx)
{
	struct zfilter *z = ctx;
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

/* Runs a zlib stream over every chunk of src into dst. */
static enum bufferevent_filter_result run(z_stream *zs, bool deflating, struct evbuffer *src,
					  struct evbuffer *dst, int flush_mode)
{
	unsigned char outbuf[16384];
	for (;;) {
		struct evbuffer_iovec v;
		int have = evbuffer_peek(src, -1, NULL, &v, 1);
		bool last = have < 1 || v.iov_len == 0;
		zs->next_in = last ? NULL : v.iov_base;
		zs->avail_in = last ? 0 : (uInt)(v.iov_len > (1u << 30) ? (1u << 30) : v.iov_len);
		uInt given = zs->avail_in;
		int r;
		do {
			zs->next_out = outbuf;
			zs->avail_out = sizeof(outbuf);
			r = deflating ? deflate(zs, last ? flush_mode : Z_NO_FLUSH) : inflate(zs, Z_NO_FLUSH);
			if (r == Z_STREAM_ERROR || r == Z_DATA_ERROR || r == Z_MEM_ERROR || r == Z_NEED_DICT)
				return BEV_ERROR;
			size_t produced = sizeof(outbuf) - zs->avail_out;
			if (produced > 0 && evbuffer_add(dst, outbuf, produced) < 0)
				return BEV_ERROR;
			if (r == Z_STREAM_END)
				return BEV_ERROR; /* the client must not end the stream */
		} while (zs->avail_out == 0);
		evbuffer_drain(src, given - zs->avail_in);
		if (last)
			return BEV_OK;
		if (zs->avail_in > 0)
			return BEV_OK; /* cannot happen: output was fully drained */
	}
}

static enum bufferevent_filter_result input_filter(struct evbuffer *src, struct evbuffer *dst,
						   ev_ssize_t limit, enum bufferevent_flush_mode mode,
						   void *ctx)
{
	struct zfilter *z = ctx;
	if (z->in_error)
		return BEV_ERROR;
	if (evbuffer_get_length(src) == 0)
		return BEV_NEED_MORE;
	enum bufferevent_filter_result r = run(&z->in, false, src, dst, Z_NO_FLUSH);
	if (r == BEV_ERROR)
		z->in_error = true;
	return r;
}

static enum bufferevent_filter_result output_filter(struct evbuffer *src, struct evbuffer *dst,
						    ev_ssize_t limit, enum bufferevent_flush_mode mode,
						    void *ctx)
{
	struct zfilter *z = ctx;
	if (evbuffer_get_length(src) == 0 && mode == BEV_NORMAL)
		return BEV_NEED_MORE;
	return run(&z->out, true, src, dst, mode == BEV_FINISHED ? Z_FINISH : Z_SYNC_FLUSH);
}

int imap_compress_start(struct imap_session *s, const char **error_r)
{
	struct zfilter *z = xmalloc(sizeof(*z));
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		*error_r = "inflateInit2 failed";
		return -1;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -DEFLATE_WINDOW_BITS, DEFLATE_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		*error_r = "deflateInit2 failed";
		return -1;
	}
	struct bufferevent *under = conn_bufferevent(s->c);
	struct bufferevent *f =
	    bufferevent_filter_new(under, input_filter, output_filter,
				   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, zfilter_free, z);
	if (f == NULL) {
		zfilter_free(z);
		*error_r = "bufferevent_filter_new failed";
		return -1;
	}
	conn_replace_bufferevent(s->c, f);
	s->compressed = true;
	return 0;
}

void cmd_compress(struct imap_session *s, struct imap_cmd *cmd)
{
	const char *error;
	if (cmd->argc != 1 || !imap_arg_atom_is(&cmd->args[0], "DEFLATE")) {
		imap_bad(s, cmd, "Unknown compression mechanism");
		return;
	}
	if (s->compressed) {
		imap_done(s, cmd, "NO", "[COMPRESSIONACTIVE] Compression is already active.");
		return;
	}
	/* The OK goes out in clear, before the filter is stacked. */
	imap_printf(s, "%s OK DEFLATE active\r\n", cmd->tag);
	imap_finish(s);
	if (imap_compress_start(s, &error) < 0) {
		log_session(s->c->id, "imap compress failed: %s", error);
		s->state = IMAP_STATE_LOGOUT;
		conn_close(s->c);
		return;
	}
	log_session(s->c->id, "imap compression active");
}
