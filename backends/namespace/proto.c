#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int zb_ns_send(int sock, const json_t *msg, const int *fds, size_t n_fds)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	int r = zb_ns_send_raw(sock, text, strlen(text), fds, n_fds);
	free(text);
	return r;
}

int zb_ns_send_raw(int sock, const char *text, size_t len, const int *fds, size_t n_fds)
{
	struct iovec iov = {.iov_base = (void *)text, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * ZB_NS_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n_fds > ZB_NS_MAX_FDS)
		return -EINVAL;
	if (n_fds > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int zb_ns_recv(int sock, json_t **ret_msg, int *fds, size_t max_fds, size_t *ret_n_fds)
{
	static char buf[ZB_NS_MAX_PACKET];
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	*ret_n_fds = 0;
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *in = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < k; i++) {
			if (*ret_n_fds < max_fds)
				fds[(*ret_n_fds)++] = in[i];
			else
				close(in[i]);
		}
	}
	if (n == 0)
		return -EPIPE;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		goto bad;
	json_t *msg = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (!msg || !json_is_object(msg)) {
		json_decref(msg);
		goto bad;
	}
	*ret_msg = msg;
	return 0;
bad:
	for (size_t i = 0; i < *ret_n_fds; i++)
		close(fds[i]);
	*ret_n_fds = 0;
	return -EBADMSG;
}
