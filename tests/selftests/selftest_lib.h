/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kselftest programs in this directory: sockets and
 * time, ip(8), and the coap_offload generic netlink commands they issue
 * (userspace/lib/coap_nl.h) and the answers and messages they read back
 * (userspace/lib/coap_proto.h). Include after defining _GNU_SOURCE. The
 * helpers are static inline so that a program uses only the ones it needs;
 * each program keeps its own constants (product key, device name, tokens,
 * session keys) and passes them in.
 */
#ifndef COAP_SELFTEST_LIB_H
#define COAP_SELFTEST_LIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coap_nl.h"
#include "coap_proto.h"

/* ---- sockets, time and ip(8) ---------------------------------------- */

/* Wait up to ms for a datagram; its length, or -1 on timeout. */
static inline ssize_t recv_wait(int fd, void *buf, size_t cap, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

/* Sleep ms milliseconds, resuming after a signal. */
static inline void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ip:port of family into *ss and *len; 0, or -1 when ip does not parse. */
static inline int make_addr(int family, const char *ip, uint16_t port,
			    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return inet_pton(AF_INET, ip, &a4->sin_addr) == 1 ? 0 : -1;
	}
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	*len = sizeof(*a6);
	return inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1 ? 0 : -1;
}

/* A UDP socket bound to addr (retried 5 s while IPv6 DAD holds it back). */
static inline int bind_retry(int family, const struct sockaddr_storage *addr,
			     socklen_t len)
{
	int fd, i;

	for (i = 0; i < 100; i++) {
		fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (!bind(fd, (const struct sockaddr *)addr, len))
			return fd;
		close(fd);
		if (errno != EADDRNOTAVAIL)
			return -1;
		sleep_ms(50);
	}
	return -1;
}

/* Bring up the loopback of the current namespace. */
static inline int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = -1;

	if (fd < 0)
		return -1;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		err = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return err;
}

/* Run ip(8) commands, one a line, in one "ip -batch -"; 0, or -1 (logged). */
static inline int __attribute__((format(printf, 1, 2)))
ip_batch(const char *fmt, ...)
{
	char cmds[2048];
	va_list ap;
	FILE *ip;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmds, sizeof(cmds), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	ip = popen("ip -batch -", "w");
	if (!ip)
		return -1;
	fputs(cmds, ip);
	st = pclose(ip);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "# ip -batch failed (status %d):\n%s", st, cmds);
		return -1;
	}
	return 0;
}

/* ---- netlink commands ------------------------------------------------ */

/* A command without attributes (STATS_RESET, SESSION_FLUSH, ...). */
static inline int simple_cmd(struct coap_nl *c, uint8_t cmd)
{
	char buf[COAP_NL_BUF_SIZE];

	return coap_nl_talk(c, coap_nl_request(c, buf, cmd, 0), NULL, NULL);
}

/* Register c as its namespace's consumer of delivered messages. */
static inline int consumer_register(struct coap_nl *c)
{
	return coap_nl_consumer_register(c, false);
}

/* SOCKET_ATTACH or SOCKET_DETACH of the UDP socket fd. */
static inline int socket_cmd(struct coap_nl *c, uint8_t cmd, int fd)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh = coap_nl_request(c, buf, cmd, 0);

	mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_SOCKET_FD, fd);
	return coap_nl_talk(c, nlh, NULL, NULL);
}

/*
 * The fixtures' gateway on loopback: *gw, a UDP socket of family bound to
 * an ephemeral port (its address in *addr, *len) and attached to the module
 * through nl, and *dev, a device socket connected to it. 0, or -1 (what was
 * opened is closed).
 */
static inline int loopback_gateway(struct coap_nl *nl, int family, int *gw,
				   int *dev, struct sockaddr_storage *addr,
				   socklen_t *len)
{
	if (make_addr(family, family == AF_INET ? "127.0.0.1" : "::1", 0,
		      addr, len))
		return -1;
	*gw = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*gw < 0)
		return -1;
	*dev = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*dev < 0)
		goto err_gw;
	if (bind(*gw, (struct sockaddr *)addr, *len) ||
	    getsockname(*gw, (struct sockaddr *)addr, len) ||
	    socket_cmd(nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH, *gw) ||
	    connect(*dev, (struct sockaddr *)addr, *len))
		goto err_dev;
	return 0;

err_dev:
	close(*dev);
err_gw:
	close(*gw);
	*gw = *dev = -1;
	return -1;
}

/* A session to push: key is COAP_OFFLOAD_KEY_LEN bytes. */
struct session_spec {
	const char *token, *pk, *dn;
	uint32_t cipher;
	uint64_t seq_offset;
	const uint8_t *key;
	uint32_t lifetime, idle_timeout;	/* 0: not sent */
	uint8_t ack_mode;			/* 0: not sent */
};

/* SESSION_NEW or SESSION_REPLACE of the session sp describes. */
static inline int session_push(struct coap_nl *c, uint8_t cmd,
			       const struct session_spec *sp)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = coap_nl_request(c, buf, cmd, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(sp->token),
		     sp->token);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, sp->pk);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, sp->dn);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_CIPHER, sp->cipher);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_KEY, COAP_OFFLOAD_KEY_LEN,
		     sp->key);
	mnl_attr_put_u64(nlh, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET,
			 sp->seq_offset);
	if (sp->lifetime)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_LIFETIME,
				 sp->lifetime);
	if (sp->idle_timeout)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT,
				 sp->idle_timeout);
	if (sp->ack_mode)
		mnl_attr_put_u8(nlh, COAP_OFFLOAD_SESSION_A_ACK_MODE,
				sp->ack_mode);
	mnl_attr_nest_end(nlh, nest);
	return coap_nl_talk(c, nlh, NULL, NULL);
}

/* SESSION_NEW without lifetime or idle timeout. */
static inline int session_new(struct coap_nl *c, const char *token,
			      const char *pk, const char *dn, uint32_t cipher,
			      uint64_t seq_offset, const uint8_t *key)
{
	struct session_spec sp = {
		.token = token, .pk = pk, .dn = dn, .cipher = cipher,
		.seq_offset = seq_offset, .key = key,
	};

	return session_push(c, COAP_OFFLOAD_CMD_SESSION_NEW, &sp);
}

/* A session command naming a token only (GET, DEL); replies go to cb. */
static inline int session_token_cmd(struct coap_nl *c, uint8_t cmd,
				    const char *token, mnl_cb_t cb, void *data)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = coap_nl_request(c, buf, cmd, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	mnl_attr_nest_end(nlh, nest);
	return coap_nl_talk(c, nlh, cb, data);
}

/* One counter of the namespace (COAP_OFFLOAD_STAT_*), or -1. */
static inline int64_t stat_get(struct coap_nl *c, int which)
{
	uint64_t stats[COAP_OFFLOAD_STAT_MAX + 1];

	if (coap_nl_stats_get(c, stats) || stats[which] == COAP_NL_STAT_ABSENT)
		return -1;
	return stats[which];
}

/* ---- what comes back: delivered messages, answers -------------------- */

/* The consumer's view of delivered messages: how many, and the last one. */
struct delivered {
	int count;
	uint64_t id, seq;
	char topic[256], pk[80], dn[80];
	uint8_t payload[1400];
	size_t payload_len;
	struct sockaddr_storage peer;
	size_t peer_len;
	/* COAP_OFFLOAD_MESSAGE_A_TOKEN, token_len 0 when absent. */
	char token[COAP_OFFLOAD_TOKEN_MAX + 1];
	size_t token_len;
};

/* One delivered message into data (struct delivered); every field required. */
static inline int message_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_MESSAGE_A_MAX + 1];
	const struct nlattr *nest;
	struct delivered *d = data;

	nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_MESSAGE);
	if (!nest)
		return MNL_CB_ERROR;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_MESSAGE_A_MAX);
	if (!tb[COAP_OFFLOAD_MESSAGE_A_ID] || !tb[COAP_OFFLOAD_MESSAGE_A_TOPIC] ||
	    !tb[COAP_OFFLOAD_MESSAGE_A_PAYLOAD] || !tb[COAP_OFFLOAD_MESSAGE_A_PEER] ||
	    !tb[COAP_OFFLOAD_MESSAGE_A_SEQ] ||
	    !tb[COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY] ||
	    !tb[COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME])
		return MNL_CB_ERROR;
	d->count++;
	d->id = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_ID]);
	d->seq = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_SEQ]);
	snprintf(d->topic, sizeof(d->topic), "%s",
		 mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_TOPIC]));
	snprintf(d->pk, sizeof(d->pk), "%s",
		 mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY]));
	snprintf(d->dn, sizeof(d->dn), "%s",
		 mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME]));
	d->payload_len = mnl_attr_get_payload_len(tb[COAP_OFFLOAD_MESSAGE_A_PAYLOAD]);
	if (d->payload_len > sizeof(d->payload))
		return MNL_CB_ERROR;
	memcpy(d->payload, mnl_attr_get_payload(tb[COAP_OFFLOAD_MESSAGE_A_PAYLOAD]),
	       d->payload_len);
	d->peer_len = mnl_attr_get_payload_len(tb[COAP_OFFLOAD_MESSAGE_A_PEER]);
	memset(&d->peer, 0, sizeof(d->peer));
	memcpy(&d->peer, mnl_attr_get_payload(tb[COAP_OFFLOAD_MESSAGE_A_PEER]),
	       d->peer_len < sizeof(d->peer) ? d->peer_len : sizeof(d->peer));
	memset(d->token, 0, sizeof(d->token));
	d->token_len = 0;
	if (tb[COAP_OFFLOAD_MESSAGE_A_TOKEN]) {
		d->token_len = mnl_attr_get_payload_len(tb[COAP_OFFLOAD_MESSAGE_A_TOKEN]);
		if (d->token_len > COAP_OFFLOAD_TOKEN_MAX)
			return MNL_CB_ERROR;
		memcpy(d->token,
		       mnl_attr_get_payload(tb[COAP_OFFLOAD_MESSAGE_A_TOKEN]),
		       d->token_len);
	}
	return MNL_CB_OK;
}

/* Read every message queued to the consumer within ms; the last one in d. */
static inline int drain_consumer(struct coap_nl *consumer, struct delivered *d,
				 int ms)
{
	char buf[COAP_NL_BUF_SIZE];
	int fd = mnl_socket_get_fd(consumer->nl);
	ssize_t n;

	memset(d, 0, sizeof(*d));
	while ((n = recv_wait(fd, buf, sizeof(buf), ms)) > 0) {
		if (mnl_cb_run(buf, n, 0, 0, message_cb, d) < 0)
			return -1;
		ms = 50;
	}
	return d->count;
}

/* The gateway's answer to a device, parsed. */
struct answer {
	int got;
	struct coap_msg msg;
	uint8_t buf[1400];
	uint64_t message_id;	/* option 2090, 0 when absent */
	int id_len;
};

/* Wait for the gateway's answer on a device socket: 1, 0 (none) or -1. */
static inline int get_answer(int fd, struct answer *a, int ms)
{
	struct coap_option opt;
	ssize_t n;
	int i;

	memset(a, 0, sizeof(*a));
	n = recv_wait(fd, a->buf, sizeof(a->buf), ms);
	if (n < 0)
		return 0;
	if (coap_parse(a->buf, n, &a->msg))
		return -1;
	a->got = 1;
	if (coap_find_option(&a->msg, COAP_OPT_MESSAGE_ID, &opt)) {
		a->id_len = opt.len;
		for (i = 0; i < opt.len; i++)
			a->message_id = a->message_id << 8 | opt.value[i];
	}
	return 1;
}

#endif /* COAP_SELFTEST_LIB_H */
