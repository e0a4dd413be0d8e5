/* ipc: typed, length-checked messages between the root parent and the
 * worker over a socketpair. A malformed message is fatal: its sender must
 * be compromised or broken (STYLE.md 2.8). */
#ifndef POSTHORN_CORE_IPC_H
#define POSTHORN_CORE_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum ipc_type {
	IPC_TLS = 1,    /* parent -> worker: u32 cert length, cert PEM, key PEM */
	IPC_LOG_FD = 2, /* parent -> worker: a reopened log file descriptor (no payload) */
	IPC_READY = 3,  /* worker -> parent: serving */
};

#define IPC_MAX_PAYLOAD (4 * 1024 * 1024)

/* Sends one message, optionally passing fd (-1 for none). 0 or -1. */
int ipc_send(int sock, enum ipc_type type, const void *payload, size_t len, int fd);
/* Receives one message (blocking). Returns 1, 0 on EOF (the peer is gone),
 * and aborts on a malformed message. *fd_r is -1 when none was passed. */
int ipc_recv(int sock, enum ipc_type *type_r, struct buf *payload, int *fd_r);

#endif
