// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for tests/e2e/restart.sh: widens the moment right after a
 * daemon binds its IPv4 UDP port, so that a test can send into it.
 *
 * After a successful bind() of an AF_INET datagram socket to port
 * $BIND_DELAY_PORT, it creates the file $BIND_DELAY_MARK (so the test knows
 * the port is bound) and sleeps $BIND_DELAY_MS before returning. Any other
 * bind() is passed through untouched. Test use only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t);
	const char *port = getenv("BIND_DELAY_PORT");
	const char *mark = getenv("BIND_DELAY_MARK");
	const char *ms = getenv("BIND_DELAY_MS");
	const struct sockaddr_in *a4 = (const void *)sa;
	struct timespec ts;
	int ret, type = 0, saved, mfd;
	socklen_t tlen = sizeof(type);
	long delay;

	real = (int (*)(int, const struct sockaddr *, socklen_t))
		dlsym(RTLD_NEXT, "bind");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	ret = real(fd, sa, len);
	if (ret || !port || !sa || sa->sa_family != AF_INET ||
	    len < sizeof(*a4) || ntohs(a4->sin_port) != atoi(port) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) ||
	    type != SOCK_DGRAM)
		return ret;
	saved = errno;
	if (mark) {
		mfd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (mfd >= 0)
			close(mfd);
	}
	delay = ms ? atol(ms) : 0;
	ts.tv_sec = delay / 1000;
	ts.tv_nsec = delay % 1000 * 1000000L;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	errno = saved;
	return ret;
}
