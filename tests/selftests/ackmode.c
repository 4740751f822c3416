// SPDX-License-Identifier: GPL-2.0
/*
 * kselftest: ackMode 1 (COAP_OFFLOAD_ACK_SEPARATE) in the fast path. A
 * delivered CON publish of such a session gets an empty ACK at once (the
 * consumer sends the result later), and its COAP_OFFLOAD_CMD_MESSAGE carries
 * what the consumer needs for that: the request's CoAP token, the SEPARATE
 * flag and the address the request came to. Retransmissions get the empty
 * ACK again and are not delivered twice; refusals stay piggy-backed; NON
 * publishes get no answer. Runs as root inside the test VM, module loaded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coap_nl.h"
#include "coap_proto.h"
#include "selftest_lib.h"
#include "kselftest_harness.h"

#define PK	"a1PK"
#define DN	"dev1"
#define TOKEN	"tok-ackmode-0123456789abcdef"
#define SEQ_OFFSET 4912

static const uint8_t session_key[16] = {
	0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
	0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
};

static const uint8_t coap_token[] = { 0xc0, 0xa9, 0x01 };

/* What the consumer got for one message, beyond selftest_lib's fields. */
struct origin {
	int count;
	uint64_t id;
	int separate;
	int redelivered;		/* -1: attribute absent */
	uint8_t token[8];
	int token_len;			/* -1: attribute absent */
	struct sockaddr_storage local;
	size_t local_len;
};

static int origin_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_MESSAGE_A_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_MESSAGE);
	const struct nlattr *t, *l;
	struct origin *o = data;

	if (!nest || coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_MESSAGE_A_MAX) ||
	    !tb[COAP_OFFLOAD_MESSAGE_A_ID])
		return MNL_CB_ERROR;
	o->count++;
	o->id = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_ID]);
	o->separate = !!tb[COAP_OFFLOAD_MESSAGE_A_SEPARATE];
	o->redelivered = tb[COAP_OFFLOAD_MESSAGE_A_REDELIVERED] ?
		mnl_attr_get_u8(tb[COAP_OFFLOAD_MESSAGE_A_REDELIVERED]) : -1;
	t = tb[COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN];
	o->token_len = -1;
	if (t && mnl_attr_get_payload_len(t) <= sizeof(o->token)) {
		o->token_len = mnl_attr_get_payload_len(t);
		memcpy(o->token, mnl_attr_get_payload(t), o->token_len);
	}
	l = tb[COAP_OFFLOAD_MESSAGE_A_LOCAL];
	o->local_len = 0;
	if (l && mnl_attr_get_payload_len(l) <= sizeof(o->local)) {
		o->local_len = mnl_attr_get_payload_len(l);
		memcpy(&o->local, mnl_attr_get_payload(l), o->local_len);
	}
	return MNL_CB_OK;
}

/* Every message queued to the consumer within ms; the last one in o. */
static int drain(struct coap_nl *consumer, struct origin *o, int ms)
{
	char buf[COAP_NL_BUF_SIZE];
	ssize_t n;

	memset(o, 0, sizeof(*o));
	while ((n = recv_wait(mnl_socket_get_fd(consumer->nl), buf,
			      sizeof(buf), ms)) > 0) {
		if (mnl_cb_run(buf, n, 0, 0, origin_cb, o) < 0)
			return -1;
		ms = 50;
	}
	return o->count;
}

static int ack_mode_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_SESSION);
	int *mode = data;

	if (!nest)
		return MNL_CB_ERROR;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_SESSION_A_MAX);
	*mode = tb[COAP_OFFLOAD_SESSION_A_ACK_MODE] ?
		mnl_attr_get_u8(tb[COAP_OFFLOAD_SESSION_A_ACK_MODE]) : -1;
	return MNL_CB_OK;
}

/* The session's ack mode by SESSION_GET, -1 when the reply lacks it. */
static int ack_mode_get(struct coap_nl *c, const char *token)
{
	int mode = -2;

	if (session_token_cmd(c, COAP_OFFLOAD_CMD_SESSION_GET, token,
			      ack_mode_cb, &mode))
		return -3;
	return mode;
}

FIXTURE(ackmode) {
	struct coap_nl nl, consumer;
	int gw, dev;
	struct sockaddr_storage gw_addr;
	socklen_t gw_addr_len;
	uint16_t mid;
	uint8_t pkt[1400];
};

FIXTURE_VARIANT(ackmode) {
	int family;
};

FIXTURE_VARIANT_ADD(ackmode, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(ackmode, ipv6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(ackmode)
{
	struct session_spec sp = {
		.token = TOKEN, .pk = PK, .dn = DN,
		.cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC,
		.seq_offset = SEQ_OFFSET, .key = session_key,
		.ack_mode = COAP_OFFLOAD_ACK_SEPARATE,
	};

	ASSERT_EQ(0, coap_nl_open(&self->nl));
	ASSERT_EQ(0, coap_nl_open(&self->consumer));
	ASSERT_EQ(0, consumer_register(&self->consumer));
	ASSERT_EQ(0, loopback_gateway(&self->nl, variant->family, &self->gw,
				      &self->dev, &self->gw_addr,
				      &self->gw_addr_len));
	ASSERT_EQ(0, session_push(&self->nl, COAP_OFFLOAD_CMD_SESSION_NEW, &sp));
	self->mid = 0x4200;
}

FIXTURE_TEARDOWN(ackmode)
{
	/* Let go of what a failed test left held, for the next programs. */
	coap_nl_message_confirm(&self->nl, UINT64_MAX);
	coap_nl_message_confirm(&self->nl, UINT64_MAX);
	session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_DEL, TOKEN,
			  NULL, NULL);
	close(self->dev);
	close(self->gw);
	coap_nl_close(&self->consumer);
	coap_nl_close(&self->nl);
}

/* Build a publish of the fixture's session into self->pkt; its length. */
static int publish(FIXTURE_DATA(ackmode) *self, uint8_t type,
		   const char *topic, uint64_t seq)
{
	static const char payload[] = "{\"on\":true}";
	struct coap_proto_publish p = {
		.type = type,
		.message_id = ++self->mid,
		.coap_token = coap_token,
		.coap_token_len = sizeof(coap_token),
		.topic = topic,
		.auth_token = TOKEN,
		.cipher = COAP_CIPHER_AES_128_CBC,
		.key = session_key,
		.seq = seq,
		.payload = (const uint8_t *)payload,
		.payload_len = strlen(payload),
	};

	return coap_proto_build_publish(&p, self->pkt, sizeof(self->pkt));
}

/* Send self->pkt and read the raw answer: its length, or -1 for none. */
static int exchange(FIXTURE_DATA(ackmode) *self, int len, uint8_t *ans,
		    size_t cap, int ms)
{
	if (send(self->dev, self->pkt, len, 0) != len)
		return -2;
	return recv_wait(self->dev, ans, cap, ms);
}

TEST_F(ackmode, con_gets_empty_ack_and_message_says_separate)
{
	uint8_t ans[64], want[4];
	struct origin o;
	int len;

	len = publish(self, COAP_TYPE_CON, "/" PK "/" DN "/user/update",
		      SEQ_OFFSET);
	ASSERT_LT(0, len);
	/* Version 1, type ACK, token length 0; code 0.00; the request's MID. */
	want[0] = 0x60;
	want[1] = 0x00;
	want[2] = self->mid >> 8;
	want[3] = self->mid & 0xff;
	ASSERT_EQ(4, exchange(self, len, ans, sizeof(ans), 2000));
	EXPECT_EQ(0, memcmp(want, ans, 4));

	ASSERT_EQ(1, drain(&self->consumer, &o, 1000));
	EXPECT_EQ(1, o.separate);
	EXPECT_NE(0, o.id);
	ASSERT_EQ(sizeof(coap_token), o.token_len);
	EXPECT_EQ(0, memcmp(coap_token, o.token, sizeof(coap_token)));
	/* The consumer answers from the address the device talked to. */
	ASSERT_EQ(self->gw_addr_len, o.local_len);
	EXPECT_EQ(0, memcmp(&self->gw_addr, &o.local, o.local_len));
}

TEST_F(ackmode, retransmission_gets_same_empty_ack_single_delivery)
{
	uint8_t first[64], again[64];
	struct origin o;
	int len, n;

	len = publish(self, COAP_TYPE_CON, "/" PK "/" DN "/r", SEQ_OFFSET + 3);
	ASSERT_LT(0, len);
	ASSERT_EQ(4, exchange(self, len, first, sizeof(first), 2000));
	ASSERT_EQ(1, drain(&self->consumer, &o, 1000));
	n = stat_get(&self->nl, COAP_OFFLOAD_STAT_RETRANSMITS);
	ASSERT_LE(0, n);

	/* The same datagram again: the empty ACK was lost. */
	ASSERT_EQ(4, exchange(self, len, again, sizeof(again), 2000));
	EXPECT_EQ(0, memcmp(first, again, 4));
	EXPECT_EQ(0, drain(&self->consumer, &o, 300));
	EXPECT_EQ(n + 1, stat_get(&self->nl, COAP_OFFLOAD_STAT_RETRANSMITS));
}

/*
 * A confirming consumer that dies before confirming: the next one gets the
 * message again with everything a separate response needs, as the device
 * still waits for it (and retransmissions only get the empty ACK).
 */
TEST_F(ackmode, redelivered_message_keeps_token_separate_and_local)
{
	struct origin first, again;
	uint8_t ans[64];
	int len;

	coap_nl_close(&self->consumer);
	ASSERT_EQ(0, coap_nl_open(&self->consumer));
	ASSERT_EQ(0, coap_nl_consumer_register(&self->consumer, true));
	len = publish(self, COAP_TYPE_CON, "/" PK "/" DN "/held", SEQ_OFFSET + 5);
	ASSERT_LT(0, len);
	ASSERT_EQ(4, exchange(self, len, ans, sizeof(ans), 2000));
	ASSERT_EQ(1, drain(&self->consumer, &first, 1000));
	EXPECT_EQ(0, first.redelivered);
	EXPECT_EQ(1, first.separate);

	coap_nl_close(&self->consumer);
	ASSERT_EQ(0, coap_nl_open(&self->consumer));
	ASSERT_EQ(0, coap_nl_consumer_register(&self->consumer, true));
	ASSERT_EQ(0, coap_nl_message_confirm(&self->nl, 0));
	ASSERT_EQ(1, drain(&self->consumer, &again, 1000));
	EXPECT_EQ(1, again.redelivered);
	EXPECT_EQ(first.id, again.id);
	EXPECT_EQ(1, again.separate);
	ASSERT_EQ(sizeof(coap_token), again.token_len);
	EXPECT_EQ(0, memcmp(coap_token, again.token, sizeof(coap_token)));
	ASSERT_EQ(self->gw_addr_len, again.local_len);
	EXPECT_EQ(0, memcmp(&self->gw_addr, &again.local, again.local_len));

	/* The device's retransmission: the empty ACK, not a third copy. */
	ASSERT_EQ(4, exchange(self, len, ans, sizeof(ans), 2000));
	EXPECT_EQ(0x60, ans[0]);
	EXPECT_EQ(0, ans[1]);
	EXPECT_EQ(0, drain(&self->consumer, &again, 300));
	ASSERT_EQ(0, coap_nl_message_confirm(&self->nl, first.id));
	EXPECT_EQ(0, stat_get(&self->nl, COAP_OFFLOAD_STAT_PENDING));
}

TEST_F(ackmode, refusals_stay_piggybacked)
{
	struct origin o;
	struct answer a;
	int len;

	/* A topic of another device: 4.03 with the request's token. */
	len = publish(self, COAP_TYPE_CON, "/other/dev/x", SEQ_OFFSET);
	ASSERT_LT(0, len);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_TYPE_ACK, a.msg.type);
	EXPECT_EQ(COAP_CODE_FORBIDDEN, a.msg.code);
	EXPECT_EQ(sizeof(coap_token), a.msg.token_len);

	/* A delivered seq, then its replay: 4.00, piggy-backed too. */
	len = publish(self, COAP_TYPE_CON, "/" PK "/" DN "/x", SEQ_OFFSET + 9);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_EMPTY, a.msg.code);
	ASSERT_EQ(1, drain(&self->consumer, &o, 1000));
	len = publish(self, COAP_TYPE_CON, "/" PK "/" DN "/x", SEQ_OFFSET + 9);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_TYPE_ACK, a.msg.type);
	EXPECT_EQ(COAP_CODE_BAD_REQUEST, a.msg.code);
	EXPECT_EQ(sizeof(coap_token), a.msg.token_len);
	EXPECT_EQ(0, drain(&self->consumer, &o, 300));
}

TEST_F(ackmode, non_gets_no_answer_and_no_separate_flag)
{
	uint8_t ans[64];
	struct origin o;
	int len;

	len = publish(self, COAP_TYPE_NON, "/" PK "/" DN "/n", SEQ_OFFSET + 1);
	ASSERT_LT(0, len);
	EXPECT_EQ(-1, exchange(self, len, ans, sizeof(ans), 500));
	ASSERT_EQ(1, drain(&self->consumer, &o, 1000));
	EXPECT_EQ(0, o.separate);
	EXPECT_EQ(sizeof(coap_token), o.token_len);
}

TEST_F(ackmode, mode_0_is_piggybacked_and_shown)
{
	struct session_spec sp = {
		.token = TOKEN, .pk = PK, .dn = DN,
		.cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC,
		.seq_offset = SEQ_OFFSET, .key = session_key,
	};
	struct origin o;
	struct answer a;
	int len;

	EXPECT_EQ(COAP_OFFLOAD_ACK_SEPARATE, ack_mode_get(&self->nl, TOKEN));
	/* A rekey without the attribute: back to the default. */
	ASSERT_EQ(0, session_push(&self->nl, COAP_OFFLOAD_CMD_SESSION_REPLACE,
				  &sp));
	EXPECT_EQ(COAP_OFFLOAD_ACK_PIGGYBACKED, ack_mode_get(&self->nl, TOKEN));

	len = publish(self, COAP_TYPE_CON, "/" PK "/" DN "/p", SEQ_OFFSET);
	ASSERT_LT(0, len);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_TYPE_ACK, a.msg.type);
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	EXPECT_EQ(8, a.id_len);
	ASSERT_EQ(1, drain(&self->consumer, &o, 1000));
	EXPECT_EQ(0, o.separate);
	EXPECT_EQ(a.message_id, o.id);
	EXPECT_EQ(sizeof(coap_token), o.token_len);

	/* And a rekey into ackMode 1. */
	sp.ack_mode = COAP_OFFLOAD_ACK_SEPARATE;
	ASSERT_EQ(0, session_push(&self->nl, COAP_OFFLOAD_CMD_SESSION_REPLACE,
				  &sp));
	EXPECT_EQ(COAP_OFFLOAD_ACK_SEPARATE, ack_mode_get(&self->nl, TOKEN));
}

TEST_F(ackmode, hostile_ack_mode_out_of_range)
{
	struct session_spec sp = {
		.token = "tok-ackmode-bad", .pk = PK, .dn = DN,
		.cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC,
		.seq_offset = 1, .key = session_key,
	};
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	sp.ack_mode = COAP_OFFLOAD_ACK_SEPARATE + 1;
	EXPECT_EQ(-ERANGE, session_push(&self->nl, COAP_OFFLOAD_CMD_SESSION_NEW,
					&sp));
	sp.ack_mode = 0xff;
	EXPECT_EQ(-ERANGE, session_push(&self->nl, COAP_OFFLOAD_CMD_SESSION_NEW,
					&sp));
	EXPECT_EQ(-ERANGE, session_push(&self->nl,
					COAP_OFFLOAD_CMD_SESSION_REPLACE, &sp));
	/* Nothing was created, and the fixture's session kept its mode. */
	EXPECT_EQ(-3, ack_mode_get(&self->nl, "tok-ackmode-bad"));
	EXPECT_EQ(COAP_OFFLOAD_ACK_SEPARATE, ack_mode_get(&self->nl, TOKEN));

	/* A u32 where a u8 belongs: a wrong length. */
	nlh = coap_nl_request(&self->nl, buf, COAP_OFFLOAD_CMD_SESSION_NEW, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, 15, "tok-ackmode-bad");
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, PK);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, DN);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_CIPHER,
			 COAP_OFFLOAD_CIPHER_AES_128_CBC);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_KEY, 16, session_key);
	mnl_attr_put_u64(nlh, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET, 1);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_ACK_MODE, 1);
	mnl_attr_nest_end(nlh, nest);
	EXPECT_EQ(-EINVAL, coap_nl_talk(&self->nl, nlh, NULL, NULL));
	EXPECT_EQ(-3, ack_mode_get(&self->nl, "tok-ackmode-bad"));
}

TEST_HARNESS_MAIN
