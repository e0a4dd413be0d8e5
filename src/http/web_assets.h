/* web_assets: the files of web/, embedded into the binary at build time by
 * scripts/webembed.c (the Makefile writes $(BUILD)/gen/web_assets.c), so
 * that the one binary serves its own front end with nothing installed
 * beside it. Paths are relative to web/ ("index.html", "static/app.js"). */
#ifndef POSTHORN_HTTP_WEB_ASSETS_H
#define POSTHORN_HTTP_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path;
	const char *data;
	size_t len;
};

extern const struct web_asset web_assets[];
extern const size_t web_asset_count;

#endif
