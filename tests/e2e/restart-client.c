// SPDX-License-Identifier: GPL-2.0
/*
 * Test device for tests/e2e/restart.sh: a device whose session outlives the
 * process, as a real device's outlives a gateway restart. `auth` writes the
 * session (token, cipher, key, next seq) to a state file; `publish` sends
 * CON publishes with it, retransmitting like RFC 7252 (the gateway may be
 * down for a while), and moves the state's next seq on.
 *
 *   restart-client PORT STATE auth PK DN SECRET [CIPHER]
 *   restart-client PORT STATE publish PK DN COUNT PREFIX [INTERVAL_MS [SEQ]]
 *
 * publish prints one line per message, "publish SEQ PAYLOAD: 2.05 id N"
 * (or the code it got, or "no answer"), and exits 0 when every message got
 * 2.05. SEQ sends the first message with that seq instead of the next one
 * (a replay). The state file holds a session key: test use only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coap_proto.h"

/* RFC 7252 4.8: ACK_TIMEOUT 2 s; more retransmissions than its 4, since
 * the gateway may be restarting (emulated, slowly) meanwhile.
 */
#define ACK_TIMEOUT_MS		1000
#define MAX_RETRANSMIT		7

struct state {
	char token[65];
	enum coap_cipher cipher;
	uint8_t key[COAP_PROTO_KEY_LEN];
	unsigned long long next_seq;
};

static int sock(void)
{
	/* Not connected: an ICMP error while the gateway is down is ignored. */
	return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static struct sockaddr_in gateway;

/*
 * Send pkt and wait for the answer with its Message ID, retransmitting
 * with doubling timeouts; the answer in *msg (its bytes in buf).
 */
static bool exchange(int fd, const uint8_t *pkt, size_t len, uint8_t *buf,
		     size_t cap, struct coap_msg *msg)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint16_t mid = pkt[2] << 8 | pkt[3];
	int tries, timeout = ACK_TIMEOUT_MS;
	ssize_t n;

	for (tries = 0; tries <= MAX_RETRANSMIT; tries++, timeout *= 2) {
		if (sendto(fd, pkt, len, 0, (struct sockaddr *)&gateway,
			   sizeof(gateway)) != (ssize_t)len)
			return false;
		while (poll(&pfd, 1, timeout) == 1) {
			n = recv(fd, buf, cap, MSG_DONTWAIT);
			if (n < 0 || coap_parse(buf, n, msg))
				continue;
			if (msg->message_id == mid && msg->type == COAP_TYPE_ACK)
				return true;
		}
	}
	return false;
}

static int state_read(const char *path, struct state *s)
{
	char key[2 * COAP_PROTO_KEY_LEN + 1];
	unsigned int cipher, b;
	FILE *f = fopen(path, "r");
	int i, ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%64s %u %32s %llu", s->token, &cipher, key,
		    &s->next_seq) == 4 && strlen(key) == 32;
	fclose(f);
	for (i = 0; ok && i < COAP_PROTO_KEY_LEN; i++) {
		ok = sscanf(key + 2 * i, "%2x", &b) == 1;
		s->key[i] = b;
	}
	s->cipher = cipher;
	return ok ? 0 : -1;
}

static int state_write(const char *path, const struct state *s)
{
	FILE *f = fopen(path, "w");
	int i;

	if (!f)
		return -1;
	fprintf(f, "%s %u ", s->token, s->cipher);
	for (i = 0; i < COAP_PROTO_KEY_LEN; i++)
		fprintf(f, "%02x", s->key[i]);
	fprintf(f, " %llu\n", s->next_seq);
	return fclose(f) ? -1 : 0;
}

static int do_auth(int fd, const char *path, const char *pk, const char *dn,
		   const char *secret, const char *cipher_name)
{
	char client_id[160], content[1024], sign[COAP_PROTO_SIGN_HEX_MAX + 1];
	char payload[1024], json[256], random[17], tail;
	uint8_t pkt[COAP_MAX_MESSAGE], buf[COAP_MAX_MESSAGE];
	struct coap_proto_field f[5];
	struct state s = { 0 };
	struct coap_builder b;
	struct coap_msg msg;
	unsigned int offset;
	uint16_t mid;
	size_t n = 0;
	int len;

	s.cipher = COAP_CIPHER_AES_128_CBC;
	if (cipher_name && coap_proto_cipher_parse(cipher_name, &s.cipher))
		return 2;
	snprintf(client_id, sizeof(client_id), "%s.%s", pk, dn);
	f[n++] = (struct coap_proto_field){ "productKey", pk };
	f[n++] = (struct coap_proto_field){ "deviceName", dn };
	f[n++] = (struct coap_proto_field){ "clientId", client_id };
	f[n++] = (struct coap_proto_field){ "seq", "1" };
	if (cipher_name)
		f[n++] = (struct coap_proto_field){ "cipher", cipher_name };
	if (coap_proto_sign_content(f, n, content, sizeof(content)) < 0 ||
	    coap_proto_sign_hex("hmacsha256", secret, content, sign,
				sizeof(sign)))
		return 2;
	snprintf(payload, sizeof(payload),
		 "{\"productKey\":\"%s\",\"deviceName\":\"%s\",\"clientId\":\"%s\",\"seq\":\"1\",%s%s%s\"signmethod\":\"hmacsha256\",\"sign\":\"%s\"}",
		 pk, dn, client_id, cipher_name ? "\"cipher\":\"" : "",
		 cipher_name ? cipher_name : "", cipher_name ? "\"," : "", sign);
	if (getrandom(&mid, sizeof(mid), 0) != sizeof(mid))
		return 2;
	coap_builder_init(&b, pkt, sizeof(pkt), COAP_TYPE_CON, COAP_CODE_POST,
			  mid, (const uint8_t *)"au", 2);
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "auth", 4);
	coap_builder_set_payload(&b, payload, strlen(payload));
	len = coap_builder_finish(&b);
	if (len < 0 || !exchange(fd, pkt, len, buf, sizeof(buf), &msg)) {
		printf("auth: no answer\n");
		return 1;
	}
	if (msg.code != COAP_CODE_CONTENT) {
		printf("auth: %u.%02u\n", COAP_CODE_CLASS(msg.code),
		       COAP_CODE_DETAIL(msg.code));
		return 1;
	}
	if (!msg.payload || msg.payload_len >= sizeof(json))
		return 1;
	memcpy(json, msg.payload, msg.payload_len);
	json[msg.payload_len] = '\0';
	if (sscanf(json, "{\"random\":\"%16[0-9a-f]\",\"seqOffset\":%u,\"token\":\"%64[!#-~]\"%c",
		   random, &offset, s.token, &tail) != 4 || tail != '}' ||
	    coap_proto_session_key(secret, random, s.key)) {
		printf("auth: unexpected 2.05 payload\n");
		return 1;
	}
	s.next_seq = offset;
	if (state_write(path, &s))
		return 2;
	printf("auth: 2.05 token %.6s\u2026 seqOffset %u\n", s.token, offset);
	return 0;
}

static int do_publish(int fd, const char *path, const char *pk,
		      const char *dn, int count, const char *prefix,
		      int interval_ms, unsigned long long first_seq)
{
	uint8_t pkt[COAP_MAX_MESSAGE], buf[COAP_MAX_MESSAGE];
	char topic[256], payload[128];
	struct coap_option opt;
	struct coap_msg msg;
	struct state s;
	unsigned long long seq, id;
	uint16_t mid;
	int i, k, n, failed = 0;

	if (state_read(path, &s))
		return 2;
	snprintf(topic, sizeof(topic), "/%s/%s/user/update", pk, dn);
	if (getrandom(&mid, sizeof(mid), 0) != sizeof(mid))
		return 2;
	for (i = 1; i <= count; i++) {
		struct coap_proto_publish p = {
			.type = COAP_TYPE_CON,
			.message_id = ++mid,
			.coap_token = (const uint8_t *)"pb",
			.coap_token_len = 2,
			.topic = topic,
			.auth_token = s.token,
			.cipher = s.cipher,
			.key = s.key,
			.payload = (const uint8_t *)payload,
		};

		seq = i == 1 && first_seq ? first_seq : s.next_seq++;
		p.seq = seq;
		p.payload_len = snprintf(payload, sizeof(payload), "%s-%d",
					 prefix, i);
		n = coap_proto_build_publish(&p, pkt, sizeof(pkt));
		/* The seq is spent whatever the answer: keep it spent. */
		if (n < 0 || state_write(path, &s))
			return 2;
		if (!exchange(fd, pkt, n, buf, sizeof(buf), &msg)) {
			printf("publish %llu %s: no answer\n", seq, payload);
			failed++;
		} else if (msg.code == COAP_CODE_CONTENT &&
			   coap_find_option(&msg, COAP_OPT_MESSAGE_ID, &opt) &&
			   opt.len == 8) {
			for (id = 0, k = 0; k < 8; k++)
				id = id << 8 | opt.value[k];
			printf("publish %llu %s: 2.05 id %llu\n", seq, payload,
			       id);
		} else {
			printf("publish %llu %s: %u.%02u\n", seq, payload,
			       COAP_CODE_CLASS(msg.code),
			       COAP_CODE_DETAIL(msg.code));
			failed++;
		}
		fflush(stdout);
		if (interval_ms && i < count)
			usleep(interval_ms * 1000);
	}
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc < 4) {
usage:
		fprintf(stderr, "usage: restart-client PORT STATE auth PK DN SECRET [CIPHER]\n"
				"       restart-client PORT STATE publish PK DN COUNT PREFIX [INTERVAL_MS [SEQ]]\n");
		return 2;
	}
	gateway.sin_family = AF_INET;
	gateway.sin_port = htons(atoi(argv[1]));
	gateway.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = sock();
	if (fd < 0) {
		perror("restart-client: socket");
		return 2;
	}
	if (!strcmp(argv[3], "auth") && (argc == 7 || argc == 8))
		return do_auth(fd, argv[2], argv[4], argv[5], argv[6],
			       argc == 8 ? argv[7] : NULL);
	if (!strcmp(argv[3], "publish") && argc >= 8 && argc <= 10)
		return do_publish(fd, argv[2], argv[4], argv[5], atoi(argv[6]),
				  argv[7], argc >= 9 ? atoi(argv[8]) : 0,
				  argc == 10 ? strtoull(argv[9], NULL, 10) : 0);
	goto usage;
}
