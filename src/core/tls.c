/* tls: server SSL_CTX construction from PEM in memory (see tls.h). */
#include "core/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TLS_FILE_MAX (1024 * 1024)

static int read_file(const char *path, struct buf *out, const char **error_r)
{
	static char msg[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		*error_r = msg;
		return -1;
	}
	buf_reset(out);
	out->max = TLS_FILE_MAX;
	char chunk[8192];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_append(out, chunk, (size_t)n) < 0) {
			snprintf(msg, sizeof(msg), "%s: larger than 1 MB, not a PEM file?", path);
			*error_r = msg;
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (n < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
		*error_r = msg;
		return -1;
	}
	return 0;
}

int tls_read_files(const char *cert_path, const char *key_path, struct buf *cert_pem, struct buf *key_pem,
		   const char **error_r)
{
	if (read_file(cert_path, cert_pem, error_r) < 0)
		return -1;
	return read_file(key_path, key_pem, error_r);
}

const char *tls_last_error(void)
{
	static char msg[256];
	unsigned long e = ERR_peek_last_error();
	if (e == 0)
		return "unknown TLS error";
	ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	return msg;
}

SSL_CTX *tls_ctx_new(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
		     const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = tls_last_error();
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* TLS 1.2: forward-secret AEAD ciphers only. */
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20");

	BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
	X509 *leaf = bio ? PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL) : NULL;
	if (leaf == NULL || SSL_CTX_use_certificate(ctx, leaf) != 1) {
		*error_r = "tls_cert: no usable PEM certificate";
		goto fail;
	}
	X509 *extra;
	while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
			X509_free(extra);
			*error_r = "tls_cert: bad chain certificate";
			goto fail;
		}
	}
	ERR_clear_error(); /* the loop ends with a "no start line" error */
	BIO_free(bio);
	bio = BIO_new_mem_buf(key_pem, (int)key_len);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (key == NULL || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		EVP_PKEY_free(key);
		*error_r = "tls_key: no usable PEM private key";
		goto fail;
	}
	EVP_PKEY_free(key);
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = "tls_key does not match the certificate in tls_cert";
		goto fail;
	}
	X509_free(leaf);
	BIO_free(bio);
	return ctx;
fail:
	X509_free(leaf);
	BIO_free(bio);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

void tls_describe(SSL *ssl, char *out, size_t out_size)
{
	if (ssl == NULL) {
		if (out_size)
			out[0] = '\0';
		return;
	}
	int alg_bits = 0;
	int bits = SSL_get_cipher_bits(ssl, &alg_bits);
	snprintf(out, out_size, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
		 bits, alg_bits);
}
