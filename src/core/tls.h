/* tls: OpenSSL server contexts for every listener kind.
 *
 * The root parent reads the certificate and key files (tls_read_files) and
 * hands their PEM text to the worker, which builds an SSL_CTX from memory
 * (tls_ctx_new). On SIGHUP the parent re-reads the files and the worker
 * swaps in a new context for new connections; connections already open keep
 * a reference to the old one (SSL_CTX is reference-counted), so nothing is
 * dropped. TLS 1.2 is the minimum. */
#ifndef POSTHORN_CORE_TLS_H
#define POSTHORN_CORE_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

#include "util/buf.h"

/* Reads both files whole (at most 1 MB each). Returns 0 or -1 with a
 * message naming the file. */
int tls_read_files(const char *cert_path, const char *key_path, struct buf *cert_pem, struct buf *key_pem,
		   const char **error_r);

/* A server context from PEM text: the chain (leaf first) and the key, which
 * must match. Returns NULL with a message on error. */
SSL_CTX *tls_ctx_new(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
		     const char **error_r);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", for Received
 * headers and logs. Writes "" when ssl is NULL. */
void tls_describe(SSL *ssl, char *out, size_t out_size);

/* The last OpenSSL error as text (for logs). */
const char *tls_last_error(void);

#endif
