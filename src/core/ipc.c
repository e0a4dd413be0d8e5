/* ipc: framing {u32 type, u32 length, payload} over a stream socketpair,
 * with SCM_RIGHTS for passing descriptors. */
#include "core/ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

static int write_all(int sock, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = send(sock, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int ipc_send(int sock, enum ipc_type type, const void *payload, size_t len, int fd)
{
	uint32_t hdr[2] = {(uint32_t)type, (uint32_t)len};
	if (len > IPC_MAX_PAYLOAD)
		return -1;
	struct iovec iov = {hdr, sizeof(hdr)};
	struct msghdr msg = {0};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	if (fd >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	ssize_t w;
	do
		w = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	if ((size_t)w < sizeof(hdr) && write_all(sock, (char *)hdr + w, sizeof(hdr) - (size_t)w) < 0)
		return -1;
	return len ? write_all(sock, payload, len) : 0;
}

static int read_all(int sock, void *p, size_t n)
{
	char *s = p;
	while (n > 0) {
		ssize_t r = read(sock, s, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		s += r;
		n -= (size_t)r;
	}
	return 0;
}

int ipc_recv(int sock, enum ipc_type *type_r, struct buf *payload, int *fd_r)
{
	uint32_t hdr[2];
	struct iovec iov = {hdr, sizeof(hdr)};
	struct msghdr msg = {0};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	*fd_r = -1;
	ssize_t r;
	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(fd_r, CMSG_DATA(cm), sizeof(int));
	if ((size_t)r < sizeof(hdr) && read_all(sock, (char *)hdr + r, sizeof(hdr) - (size_t)r) < 0)
		return 0;
	if (hdr[0] < IPC_TLS || hdr[0] > IPC_READY || hdr[1] > IPC_MAX_PAYLOAD)
		fatalx("ipc: malformed message type=%u length=%u", hdr[0], hdr[1]);
	buf_reset(payload);
	payload->max = IPC_MAX_PAYLOAD;
	char chunk[16384];
	size_t left = hdr[1];
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
		if (read_all(sock, chunk, n) < 0)
			return 0;
		if (buf_append(payload, chunk, n) < 0)
			fatalx("ipc: payload too large");
		left -= n;
	}
	*type_r = (enum ipc_type)hdr[0];
	return 1;
}
