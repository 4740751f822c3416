// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for tests/vm/coapctl.sh: the smallest "daemon plus device"
 * there is, so that coapctl has traffic to show. It attaches a loopback UDP
 * socket to coap_offload.ko, registers as the consumer, sends one publish
 * per SEQ for the session (keyed, like coapd does it, from the device
 * secret and the random), and prints each answer's CoAP code:
 *
 *   coapctl-traffic TOKEN PK DN CIPHER SECRET RANDOM SEQ...
 *   -> "SEQ 2.05" per publish ("SEQ none" when nothing came back)
 *
 * Exit 0 when every publish got an answer. Runs as root in the VM. With
 * COAPCTL_TRAFFIC_HOLD set in the environment it then prints
 * "holding ADDR:PORT socket:[INODE]" (its attached socket) and keeps the
 * socket attached until it is killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coap_nl.h"
#include "coap_proto.h"

static int nl_cmd(struct coap_nl *c, uint8_t cmd, int fd)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh = coap_nl_request(c, buf, cmd, 0);

	if (fd >= 0)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_SOCKET_FD, fd);
	return coap_nl_talk(c, nlh, NULL, NULL);
}

int main(int argc, char **argv)
{
	struct sockaddr_in gw = { .sin_family = AF_INET };
	socklen_t gw_len = sizeof(gw);
	uint8_t key[COAP_PROTO_KEY_LEN], pkt[1400];
	struct coap_nl nl, consumer;
	enum coap_cipher cipher;
	char topic[200];
	int gw_fd, dev_fd, i, err, status = 0;

	if (argc < 8) {
		fprintf(stderr, "usage: %s TOKEN PK DN CIPHER SECRET RANDOM SEQ...\n",
			argv[0]);
		return 1;
	}
	if (coap_proto_cipher_parse(argv[4], &cipher) ||
	    coap_proto_session_key(argv[5], argv[6], key)) {
		fprintf(stderr, "bad cipher or secret\n");
		return 1;
	}
	snprintf(topic, sizeof(topic), "/%s/%s/user/update", argv[2], argv[3]);

	if (coap_nl_open(&nl) || coap_nl_open(&consumer) ||
	    nl_cmd(&consumer, COAP_OFFLOAD_CMD_CONSUMER_REGISTER, -1)) {
		fprintf(stderr, "netlink: %s\n", strerror(errno));
		return 1;
	}
	gw.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	gw_fd = socket(AF_INET, SOCK_DGRAM, 0);
	dev_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (gw_fd < 0 || dev_fd < 0 ||
	    bind(gw_fd, (struct sockaddr *)&gw, sizeof(gw)) ||
	    getsockname(gw_fd, (struct sockaddr *)&gw, &gw_len) ||
	    connect(dev_fd, (struct sockaddr *)&gw, sizeof(gw))) {
		perror("socket");
		return 1;
	}
	err = nl_cmd(&nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH, gw_fd);
	if (err) {
		fprintf(stderr, "attach: %s %s\n", strerror(-err), nl.error);
		return 1;
	}

	for (i = 7; i < argc; i++) {
		struct coap_proto_publish p = {
			.type = COAP_TYPE_CON,
			/* A new Message ID per run: not a retransmission. */
			.message_id = (uint16_t)(getpid() * 64 + i),
			.topic = topic,
			.auth_token = argv[1],
			.cipher = cipher,
			.key = key,
			.seq = strtoull(argv[i], NULL, 10),
			.payload = (const uint8_t *)"{\"temp\":21.5}",
			.payload_len = 13,
		};
		struct pollfd pfd = { .fd = dev_fd, .events = POLLIN };
		struct coap_msg msg;
		int len = coap_proto_build_publish(&p, pkt, sizeof(pkt));
		ssize_t n;

		if (len < 0 || send(dev_fd, pkt, len, 0) != len) {
			perror("send");
			return 1;
		}
		if (poll(&pfd, 1, 2000) != 1 ||
		    (n = recv(dev_fd, pkt, sizeof(pkt), 0)) <= 0 ||
		    coap_parse(pkt, n, &msg)) {
			printf("%s none\n", argv[i]);
			status = 1;
			continue;
		}
		printf("%s %d.%02d\n", argv[i], msg.code >> 5, msg.code & 31);
	}
	if (getenv("COAPCTL_TRAFFIC_HOLD")) {
		struct stat st;

		if (fstat(gw_fd, &st)) {
			perror("fstat");
			return 1;
		}
		printf("holding 127.0.0.1:%u socket:[%llu]\n", ntohs(gw.sin_port),
		       (unsigned long long)st.st_ino);
		fflush(stdout);
		for (;;)
			pause();
	}
	/* What the consumer got is not this helper's business: close. */
	nl_cmd(&nl, COAP_OFFLOAD_CMD_SOCKET_DETACH, gw_fd);
	close(dev_fd);
	close(gw_fd);
	coap_nl_close(&consumer);
	coap_nl_close(&nl);
	return status;
}
