// SPDX-License-Identifier: GPL-2.0
/*
 * A first measurement of the fast path (the full benchmark is issue 7):
 *  - kernel memory per session: Slab + percpu from /proc/meminfo before and
 *    after pushing N sessions (both suites);
 *  - publishes per second through the fast path: one device socket keeps a
 *    window of publishes in flight over S sessions, a consumer drains the
 *    delivered messages, answers are counted.
 * Runs as root with coap_offload.ko loaded (e.g. in the test VM):
 *   fastpath-first [SESSIONS [PUBLISHES]]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coap_nl.h"
#include "coap_proto.h"

#define WINDOW		32
#define RATE_SESSIONS	64

static const uint8_t key[16] = "bench-key-012345";

static long meminfo_kb(const char *field)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)) &&
		    line[strlen(field)] == ':')
			v = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

static long kernel_kb(void)
{
	return meminfo_kb("Slab") + meminfo_kb("Percpu");
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int session_cmd(struct coap_nl *c, uint8_t cmd, const char *token,
		       uint32_t cipher)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh = coap_nl_request(c, buf, cmd, 0);
	struct nlattr *nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);

	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	if (cmd == COAP_OFFLOAD_CMD_SESSION_NEW) {
		mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY,
				  "benchPK");
		mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME,
				  token);
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_CIPHER, cipher);
		mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_KEY, sizeof(key), key);
		mnl_attr_put_u64(nlh, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET, 0);
	}
	mnl_attr_nest_end(nlh, nest);
	return coap_nl_talk(c, nlh, NULL, NULL);
}

static void memory_per_session(struct coap_nl *c, int n, uint32_t cipher)
{
	char token[32];
	long before, after;
	int i;

	before = kernel_kb();
	for (i = 0; i < n; i++) {
		snprintf(token, sizeof(token), "mem-%d", i);
		if (session_cmd(c, COAP_OFFLOAD_CMD_SESSION_NEW, token, cipher)) {
			fprintf(stderr, "session %d: %s\n", i, c->error);
			exit(1);
		}
	}
	after = kernel_kb();
	printf("%-12s %7d sessions: %6ld KiB kernel memory, %5ld bytes/session\n",
	       cipher == COAP_OFFLOAD_CIPHER_AES_128_CBC ? "aes-128-cbc" :
	       "aes-128-ctr", n, after - before, (after - before) * 1024 / n);
	for (i = 0; i < n; i++) {
		snprintf(token, sizeof(token), "mem-%d", i);
		session_cmd(c, COAP_OFFLOAD_CMD_SESSION_DEL, token, 0);
	}
}

static volatile int consumer_stop;

static void *consume(void *arg)
{
	struct coap_nl *c = arg;
	char buf[COAP_NL_BUF_SIZE];
	struct pollfd pfd = { .fd = mnl_socket_get_fd(c->nl), .events = POLLIN };

	while (!consumer_stop)
		if (poll(&pfd, 1, 100) == 1)
			recv(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT);
	return NULL;
}

static void publish_rate(struct coap_nl *c, int total, uint32_t cipher)
{
	struct sockaddr_in gw_addr = { .sin_family = AF_INET,
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(gw_addr);
	uint64_t seq[RATE_SESSIONS] = { 0 };
	char tokens[RATE_SESSIONS][32], buf[COAP_NL_BUF_SIZE];
	int gw, dev, i, sent = 0, answered = 0, ok = 0, in_flight = 0;
	struct coap_nl consumer;
	struct nlmsghdr *nlh;
	pthread_t thread;
	uint8_t pkt[1400], ans[256];
	double t0, t;

	gw = socket(AF_INET, SOCK_DGRAM, 0);
	dev = socket(AF_INET, SOCK_DGRAM, 0);
	if (gw < 0 || dev < 0 || bind(gw, (void *)&gw_addr, len) ||
	    getsockname(gw, (void *)&gw_addr, &len) ||
	    connect(dev, (void *)&gw_addr, len) ||
	    coap_nl_open(&consumer)) {
		perror("setup");
		exit(1);
	}
	nlh = coap_nl_request(c, buf, COAP_OFFLOAD_CMD_SOCKET_ATTACH, 0);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_SOCKET_FD, gw);
	if (coap_nl_talk(c, nlh, NULL, NULL) ||
	    coap_nl_talk(&consumer, coap_nl_request(&consumer, buf,
			 COAP_OFFLOAD_CMD_CONSUMER_REGISTER, 0), NULL, NULL)) {
		fprintf(stderr, "attach/consumer: %s\n", c->error);
		exit(1);
	}
	for (i = 0; i < RATE_SESSIONS; i++) {
		snprintf(tokens[i], sizeof(tokens[i]), "rate-%d", i);
		session_cmd(c, COAP_OFFLOAD_CMD_SESSION_NEW, tokens[i], cipher);
	}
	consumer_stop = 0;
	pthread_create(&thread, NULL, consume, &consumer);

	t0 = now();
	while (answered < total) {
		while (in_flight < WINDOW && sent < total) {
			char dn[48];
			struct coap_proto_publish p = {
				.type = COAP_TYPE_CON,
				.message_id = (uint16_t)sent,
				.topic = dn,
				.auth_token = tokens[sent % RATE_SESSIONS],
				.cipher = cipher, .key = key,
				.seq = seq[sent % RATE_SESSIONS]++,
				.payload = (const uint8_t *)"{\"temp\":21.5,\"hum\":40}",
				.payload_len = 22,
			};
			int n;

			snprintf(dn, sizeof(dn), "/benchPK/%s/user/update",
				 tokens[sent % RATE_SESSIONS]);
			n = coap_proto_build_publish(&p, pkt, sizeof(pkt));
			if (n < 0 || send(dev, pkt, n, 0) != n)
				break;
			sent++;
			in_flight++;
		}
		struct pollfd pfd = { .fd = dev, .events = POLLIN };

		if (poll(&pfd, 1, 1000) != 1) {
			/* Lost (no consumer room): give up on the window. */
			answered += in_flight;
			in_flight = 0;
			continue;
		}
		if (recv(dev, ans, sizeof(ans), 0) >= 2) {
			answered++;
			in_flight--;
			ok += ans[1] == COAP_CODE_CONTENT;
		}
	}
	t = now() - t0;
	printf("%-12s %7d publishes over %d sessions: %8.0f publishes/s, %d answered 2.05\n",
	       cipher == COAP_OFFLOAD_CIPHER_AES_128_CBC ? "aes-128-cbc" :
	       "aes-128-ctr", total, RATE_SESSIONS, total / t, ok);
	consumer_stop = 1;
	pthread_join(thread, NULL);
	for (i = 0; i < RATE_SESSIONS; i++)
		session_cmd(c, COAP_OFFLOAD_CMD_SESSION_DEL, tokens[i], 0);
	coap_nl_close(&consumer);
	close(dev);
	close(gw);
}

int main(int argc, char **argv)
{
	int sessions = argc > 1 ? atoi(argv[1]) : 10000;
	int publishes = argc > 2 ? atoi(argv[2]) : 20000;
	struct coap_nl c;

	if (coap_nl_open(&c)) {
		fprintf(stderr, "coap_offload family not found: load the module\n");
		return 1;
	}
	memory_per_session(&c, sessions, COAP_OFFLOAD_CIPHER_AES_128_CBC);
	memory_per_session(&c, sessions, COAP_OFFLOAD_CIPHER_AES_128_CTR);
	publish_rate(&c, publishes, COAP_OFFLOAD_CIPHER_AES_128_CBC);
	publish_rate(&c, publishes, COAP_OFFLOAD_CIPHER_AES_128_CTR);
	coap_nl_close(&c);
	return 0;
}
