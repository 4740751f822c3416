// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end device of ackMode 1 (tests/e2e/ackmode.sh), on a raw UDP socket
 * so that it can watch each datagram and choose not to answer:
 *
 *   ackmode-device FAMILY PORT PK DN SECRET MODE ACK_TIMEOUT_MS MAX_RETRANSMIT
 *                  EXPECTED_FILE [GO_FILE]
 *
 * /auth with "ackMode":1, one CON publish: it must get an empty ACK (exact
 * bytes) at once, then coapd's separate CON 2.05 with the request's token
 * and option 2090. The publish sent again gets the empty ACK again and no
 * second separate response. Then MODE:
 *   ack     ACK it: coapd must not send it again;
 *   rst     reset it: likewise;
 *   silent  never answer: coapd must retransmit it MAX_RETRANSMIT times with
 *           doubling intervals (the first in [ACK_TIMEOUT, 1.5 ACK_TIMEOUT]),
 *           then give up (nothing more comes);
 *   held    as ack, but the separate response may take up to HELD_WAIT_MS
 *           (the script stops coapd meanwhile, and kills it: the module
 *           redelivers the message to the next coapd, which must answer;
 *           or terminates it: it drains its messages and answers).
 * With GO_FILE, the publish waits after /auth until that file exists (the
 * script stops coapd in between; "# authenticated" says when), and the
 * publish is sent again only once the file is gone (a coapd runs again).
 * Prints "ok - ..."/"not ok - ..." lines (ACKMODE_DEVICE_TESTS of them, the
 * script numbers them) and appends "id<TAB>topic<TAB>hex(payload)" for the
 * delivered message to EXPECTED_FILE.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "coap_proto.h"
#include "e2e_tap.h"

#define WAIT_MS		5000	/* an answer at once, in an emulated VM */
#define HELD_WAIT_MS	120000	/* a coapd killed and started again */
#define TOPIC_SUB	"/user/ackmode"
#define PAYLOAD		"{\"ackMode\":1}"


static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct dgram {
	uint8_t buf[COAP_MAX_MESSAGE];
	ssize_t len;
	struct coap_msg msg;
	int64_t when;
};

/* The next CoAP datagram within ms: true, or false on timeout. */
static bool next_dgram(int fd, struct dgram *g, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t end = now_ms() + ms;

	for (;;) {
		int left = (int)(end - now_ms());

		if (left < 0 || poll(&pfd, 1, left) != 1)
			return false;
		g->len = recv(fd, g->buf, sizeof(g->buf), MSG_DONTWAIT);
		g->when = now_ms();
		if (g->len > 0 && !coap_parse(g->buf, g->len, &g->msg))
			return true;
		diag("skipped an unparsable datagram");
	}
}

static int dev_socket(int family, uint16_t port)
{
	struct sockaddr_in6 a6 = {
		.sin6_family = AF_INET6, .sin6_port = htons(port),
		.sin6_addr = IN6ADDR_LOOPBACK_INIT,
	};
	struct sockaddr_in a4 = {
		.sin_family = AF_INET, .sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(family, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (family == AF_INET ? connect(fd, (void *)&a4, sizeof(a4)) :
				connect(fd, (void *)&a6, sizeof(a6))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct session {
	char token[65];
	unsigned int seq_offset;
	uint8_t key[COAP_PROTO_KEY_LEN];
};

/* /auth with "ackMode":1 (a number, as the SDKs send it); fills *s. */
static bool auth(int fd, const char *pk, const char *dn, const char *secret,
		 struct session *s)
{
	char client_id[160], content[512], payload[768];
	char sign[COAP_PROTO_SIGN_HEX_MAX + 1];
	struct coap_proto_field f[] = {
		{ "ackMode", "1" }, { "clientId", client_id },
		{ "deviceName", dn }, { "productKey", pk }, { "seq", "77" },
	};
	static const uint8_t token[] = { 0xa0, 0x7e };
	struct json_object *o = NULL, *v;
	uint8_t pkt[COAP_MAX_MESSAGE];
	struct coap_builder b;
	struct dgram g;
	const char *random = NULL;
	bool ok = false;
	int len;

	snprintf(client_id, sizeof(client_id), "%s.%s", pk, dn);
	if (coap_proto_sign_content(f, 5, content, sizeof(content)) < 0 ||
	    coap_proto_sign_hex("hmacsha256", secret, content, sign,
				sizeof(sign)))
		return false;
	snprintf(payload, sizeof(payload),
		 "{\"productKey\":\"%s\",\"deviceName\":\"%s\",\"clientId\":\"%s\",\"seq\":\"77\",\"ackMode\":1,\"signmethod\":\"hmacsha256\",\"sign\":\"%s\"}",
		 pk, dn, client_id, sign);
	coap_builder_init(&b, pkt, sizeof(pkt), COAP_TYPE_CON, COAP_CODE_POST,
			  0x3100, token, sizeof(token));
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "auth", 4);
	coap_builder_set_payload(&b, payload, strlen(payload));
	len = coap_builder_finish(&b);
	if (len < 0 || send(fd, pkt, len, 0) != len)
		return false;
	if (!next_dgram(fd, &g, WAIT_MS) || g.msg.type != COAP_TYPE_ACK ||
	    g.msg.code != COAP_CODE_CONTENT || !g.msg.payload_len) {
		diag("/auth: no piggy-backed 2.05");
		return false;
	}
	memcpy(payload, g.msg.payload, g.msg.payload_len);
	payload[g.msg.payload_len] = '\0';
	o = json_tokener_parse(payload);
	if (o && json_object_object_get_ex(o, "token", &v) &&
	    json_object_get_string_len(v) < (int)sizeof(s->token)) {
		strcpy(s->token, json_object_get_string(v));
		if (json_object_object_get_ex(o, "random", &v))
			random = json_object_get_string(v);
		if (json_object_object_get_ex(o, "seqOffset", &v))
			s->seq_offset = json_object_get_int(v);
		ok = random && s->seq_offset &&
		     !coap_proto_session_key(secret, random, s->key);
	}
	json_object_put(o);
	explicit_bzero(payload, sizeof(payload));
	return ok;
}

/* An empty ACK (or RST) of message id mid: exactly 4 bytes. */
static void empty(uint8_t type, uint16_t mid, uint8_t out[4])
{
	out[0] = 0x40 | type << 4;
	out[1] = COAP_CODE_EMPTY;
	out[2] = mid >> 8;
	out[3] = mid & 0xff;
}

/* coapd's separate response: CON 2.05, our token, option 2090 (8 bytes). */
static bool is_separate(const struct dgram *g, const uint8_t *token,
			size_t token_len, uint64_t *id)
{
	struct coap_option opt;
	int i;

	if (g->msg.type != COAP_TYPE_CON || g->msg.code != COAP_CODE_CONTENT ||
	    g->msg.token_len != token_len ||
	    memcmp(g->msg.token, token, token_len) ||
	    !coap_find_option(&g->msg, COAP_OPT_MESSAGE_ID, &opt) ||
	    opt.len != 8)
		return false;
	*id = 0;
	for (i = 0; i < 8; i++)
		*id = *id << 8 | opt.value[i];
	return true;
}

/*
 * How long to wait for one more copy of the separate response after copies
 * (at least 1) came: the next retransmission is due at most 1.5 ACK_TIMEOUT
 * doubled copies - 1 times after the last; twice that plus a second, for a
 * loaded emulated VM. After the last expected copy, a coapd that did not
 * give up would retransmit after about twice the last interval.
 */
static int copy_wait(int64_t ack_timeout, const int64_t *times,
		     unsigned int copies, unsigned int last)
{
	if (copies >= last && copies >= 2)
		return (int)((times[copies - 1] - times[copies - 2]) * 5 / 2) + 500;
	return (int)((ack_timeout * 3) << (copies - 1)) + 1000;
}

int main(int argc, char **argv)
{
	static const uint8_t coap_token[] = { 0x5e, 0x9a, 0x7e, 0x01 };
	uint8_t pkt[COAP_MAX_MESSAGE], want[4];
	int64_t times[16], ack_timeout;
	unsigned int max_retransmit, copies, i;
	char topic[256], hex[2 * sizeof(PAYLOAD)];
	const char *pk, *dn, *secret, *mode;
	struct session s = { 0 };
	struct dgram g, sep;
	bool got_empty = false, got_sep = false, held, ok;
	uint64_t id = 0, id2;
	uint16_t mid = 0x3200;
	FILE *expected;
	int fd, len;

	if (argc != 10 && argc != 11) {
		fprintf(stderr, "usage: ackmode-device FAMILY PORT PK DN SECRET ack|rst|silent|held ACK_TIMEOUT_MS MAX_RETRANSMIT EXPECTED [GO_FILE]\n");
		return 2;
	}
	pk = argv[3];
	dn = argv[4];
	secret = argv[5];
	mode = argv[6];
	held = !strcmp(mode, "held");
	ack_timeout = atoi(argv[7]);
	max_retransmit = atoi(argv[8]);
	if (max_retransmit + 1 > sizeof(times) / sizeof(times[0]))
		return 2;
	expected = fopen(argv[9], "a");
	fd = dev_socket(!strcmp(argv[1], "6") ? AF_INET6 : AF_INET,
			atoi(argv[2]));
	if (!expected || fd < 0) {
		perror("ackmode-device");
		return 2;
	}

	check(auth(fd, pk, dn, secret, &s), "%s: /auth with ackMode 1 -> 2.05, piggy-backed",
	      mode);
	if (argc == 11) {
		diag("authenticated; waiting for %s", argv[10]);
		for (i = 0; i < HELD_WAIT_MS / 100 && access(argv[10], F_OK); i++)
			usleep(100 * 1000);
	}

	snprintf(topic, sizeof(topic), "/%s/%s" TOPIC_SUB, pk, dn);
	{
		struct coap_proto_publish p = {
			.type = COAP_TYPE_CON, .message_id = mid,
			.coap_token = coap_token,
			.coap_token_len = sizeof(coap_token),
			.topic = topic, .auth_token = s.token,
			.cipher = COAP_CIPHER_AES_128_CBC, .key = s.key,
			.seq = s.seq_offset,
			.payload = (const uint8_t *)PAYLOAD,
			.payload_len = strlen(PAYLOAD),
		};

		len = coap_proto_build_publish(&p, pkt, sizeof(pkt));
	}
	if (len <= 0 || send(fd, pkt, len, 0) != len)
		diag("publish: cannot send");
	/* The empty ACK first, the separate response after the sink. */
	empty(COAP_TYPE_ACK, mid, want);
	while ((!got_empty || !got_sep) &&
	       next_dgram(fd, &g, got_empty && held ? HELD_WAIT_MS : WAIT_MS)) {
		if (g.len == 4 && !memcmp(g.buf, want, 4) && !got_sep)
			got_empty = true;
		else if (is_separate(&g, coap_token, sizeof(coap_token), &id)) {
			got_sep = true;
			sep = g;	/* its buf and message_id are used */
		} else
			diag("unexpected: type %u code %u.%02u mid %#x",
			     g.msg.type, COAP_CODE_CLASS(g.msg.code),
			     COAP_CODE_DETAIL(g.msg.code), g.msg.message_id);
	}
	check(got_empty, "%s: the publish gets an empty ACK (4 bytes: ACK 0.00, its MID, no token) first",
	      mode);
	check(got_sep, "%s: then a separate CON 2.05 with the request's token and 2090",
	      mode);
	if (got_sep) {
		for (i = 0; i < strlen(PAYLOAD); i++)
			sprintf(hex + 2 * i, "%02x", (uint8_t)PAYLOAD[i]);
		fprintf(expected, "%llu\t%s\t%s\n", (unsigned long long)id,
			topic, hex);
		fclose(expected);
		expected = NULL;
	}

	copies = 0;
	if (got_sep) {
		times[copies++] = sep.when;
		if (held || !strcmp(mode, "ack") || !strcmp(mode, "rst")) {
			empty(strcmp(mode, "rst") ? COAP_TYPE_ACK : COAP_TYPE_RST,
			      sep.msg.message_id, want);
			if (send(fd, want, 4, 0) != 4)
				diag("cannot send the %s", mode);
		}
	}
	if (argc == 11) {
		int err;
		socklen_t elen = sizeof(err);

		/* The script says when a coapd runs again: GO_FILE is gone. */
		for (i = 0; i < HELD_WAIT_MS / 100 && !access(argv[10], F_OK); i++)
			usleep(100 * 1000);
		/* An ICMP error from the port closed meanwhile: not ours to see. */
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	}

	/*
	 * The publish again, as if the empty ACK was lost: the same empty ACK,
	 * no second delivery. A retransmitted separate response may come
	 * in between (silent mode): it is counted.
	 */
	ok = false;
	empty(COAP_TYPE_ACK, mid, want);
	if (send(fd, pkt, len, 0) == len) {
		while (!ok && next_dgram(fd, &g, WAIT_MS)) {
			if (g.len == 4 && !memcmp(g.buf, want, 4))
				ok = true;
			else if (got_sep && g.len == sep.len &&
				 !memcmp(g.buf, sep.buf, g.len) &&
				 copies < sizeof(times) / sizeof(times[0]))
				times[copies++] = g.when;
			else
				break;
		}
	}
	check(ok, "%s: the publish sent again gets the same empty ACK", mode);

	/*
	 * Whatever comes now: copies of the separate response or a second
	 * separate response.
	 */
	while (got_sep && copies < sizeof(times) / sizeof(times[0]) &&
	       next_dgram(fd, &g, copy_wait(ack_timeout, times, copies,
					    max_retransmit + 1))) {
		if (!is_separate(&g, coap_token, sizeof(coap_token), &id2) ||
		    g.msg.message_id != sep.msg.message_id || id2 != id ||
		    g.len != sep.len || memcmp(g.buf, sep.buf, g.len)) {
			diag("unexpected datagram after the separate response");
			copies = 99;
			break;
		}
		times[copies++] = g.when;
		if (!strcmp(mode, "silent"))
			continue;
		break;
	}
	if (strcmp(mode, "silent")) {
		check(copies == 1, "%s: coapd stops sending the separate response (%u copies)",
		      mode, copies);
	} else {
		bool doubling = copies == max_retransmit + 1;

		for (i = 1; i < copies; i++)
			diag("retransmission %u after %lld ms", i,
			     (long long)(times[i] - times[i - 1]));
		check(copies == max_retransmit + 1,
		      "silent: the separate response is sent %u times, want 1 + %u retransmissions",
		      copies, max_retransmit);
		/* Emulation jitters: a wide band around each doubling. */
		if (copies > 1 &&
		    (times[1] - times[0] < ack_timeout * 9 / 10 ||
		     times[1] - times[0] > ack_timeout * 3 / 2 + 500))
			doubling = false;
		for (i = 2; i < copies; i++) {
			int64_t a = times[i - 1] - times[i - 2];
			int64_t b = times[i] - times[i - 1];

			if (b * 10 < a * 15 || b * 10 > a * 27)
				doubling = false;
		}
		check(doubling, "silent: the first wait is ACK_TIMEOUT..1.5x, each next one about twice the previous");
	}
	if (expected)
		fclose(expected);
	close(fd);
	explicit_bzero(&s, sizeof(s));
	return failures ? 1 : 0;
}
