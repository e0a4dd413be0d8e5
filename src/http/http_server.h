/* http_server: the webmail engine on the http and https listeners: the
 * HTTP/1.1 connection (keep-alive, pipelining, limits, streaming), the
 * routes of the JSON API (http_api.h, docs/webmail-api.md), the login
 * session checks (cookie, CSRF, Origin), the server-push stream, and the
 * front end's files (web/, embedded in the binary at build time, served
 * compressed and cached). */
#ifndef POSTHORN_HTTP_HTTP_SERVER_H
#define POSTHORN_HTTP_HTTP_SERVER_H

#include "core/conn.h"

extern const struct conn_handler http_handler;

#endif
