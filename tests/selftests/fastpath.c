// SPDX-License-Identifier: GPL-2.0
/*
 * kselftest: the symmetric-mode fast path over real sockets. A "gateway" UDP
 * socket is attached to coap_offload.ko, sessions are pushed over netlink,
 * and a "device" socket sends publishes built with OpenSSL in user space
 * (userspace/lib/coap_proto.c); the test checks the answers, what the
 * consumer receives, what is left on the gateway socket, and the counters.
 * Runs as root inside the test VM with the module loaded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coap_nl.h"
#include "coap_proto.h"
#include "selftest_lib.h"
#include "kselftest_harness.h"

#define PK	"a1PK"
#define DN	"dev1"
#define TOKEN	"tok-fastpath-0123456789abcdef"
#define SEQ_OFFSET 4912

static const uint8_t session_key[16] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
};

static int config_set(struct coap_nl *c, int max_sessions, int token_alias,
		      const char * const *rules);

struct session_info {
	int count;
	int has_key;
	int has_peer;
	uint32_t idle;
	uint32_t mode, cipher;
	uint64_t rx_packets, rx_bytes, replays, decrypt_errors, forbidden;
	uint64_t seq_highest;
	char token[80];
};

static int session_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_SESSION);
	struct session_info *si = data;

	if (!nest)
		return MNL_CB_ERROR;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_SESSION_A_MAX);
	si->count++;
	si->has_key = !!tb[COAP_OFFLOAD_SESSION_A_KEY];
	si->rx_packets = mnl_attr_get_u64(tb[COAP_OFFLOAD_SESSION_A_RX_PACKETS]);
	si->rx_bytes = mnl_attr_get_u64(tb[COAP_OFFLOAD_SESSION_A_RX_BYTES]);
	si->replays = mnl_attr_get_u64(tb[COAP_OFFLOAD_SESSION_A_REPLAYS]);
	si->decrypt_errors =
		mnl_attr_get_u64(tb[COAP_OFFLOAD_SESSION_A_DECRYPT_ERRORS]);
	si->forbidden = mnl_attr_get_u64(tb[COAP_OFFLOAD_SESSION_A_FORBIDDEN]);
	si->seq_highest = mnl_attr_get_u64(tb[COAP_OFFLOAD_SESSION_A_SEQ_HIGHEST]);
	si->has_peer = !!tb[COAP_OFFLOAD_SESSION_A_PEER];
	si->idle = mnl_attr_get_u32(tb[COAP_OFFLOAD_SESSION_A_IDLE]);
	si->mode = tb[COAP_OFFLOAD_SESSION_A_MODE] ?
		   mnl_attr_get_u32(tb[COAP_OFFLOAD_SESSION_A_MODE]) : UINT32_MAX;
	si->cipher = mnl_attr_get_u32(tb[COAP_OFFLOAD_SESSION_A_CIPHER]);
	snprintf(si->token, sizeof(si->token), "%.*s",
		 (int)mnl_attr_get_payload_len(tb[COAP_OFFLOAD_SESSION_A_TOKEN]),
		 (const char *)mnl_attr_get_payload(tb[COAP_OFFLOAD_SESSION_A_TOKEN]));
	return MNL_CB_OK;
}

/* The benchmark's debug knob (module parameter), "Y" or "N". */
static int set_debug_drop_all(const char *value)
{
	FILE *f = fopen("/sys/module/coap_offload/parameters/debug_drop_all",
			"w");
	int err;

	if (!f)
		return -1;
	err = fputs(value, f) < 0;
	return fclose(f) || err ? -1 : 0;
}

FIXTURE(fastpath) {
	struct coap_nl nl, consumer;
	int gw, dev;
	struct sockaddr_storage gw_addr;
	socklen_t gw_addr_len;
	uint16_t mid;
	uint8_t pkt[1400];
};

FIXTURE_VARIANT(fastpath) {
	int family;
	uint32_t cipher;
};

FIXTURE_VARIANT_ADD(fastpath, cbc_ipv4) {
	.family = AF_INET, .cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC,
};

FIXTURE_VARIANT_ADD(fastpath, ctr_ipv4) {
	.family = AF_INET, .cipher = COAP_OFFLOAD_CIPHER_AES_128_CTR,
};

FIXTURE_VARIANT_ADD(fastpath, cbc_ipv6) {
	.family = AF_INET6, .cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC,
};

FIXTURE_VARIANT_ADD(fastpath, ctr_ipv6) {
	.family = AF_INET6, .cipher = COAP_OFFLOAD_CIPHER_AES_128_CTR,
};

FIXTURE_SETUP(fastpath)
{
	ASSERT_EQ(0, coap_nl_open(&self->nl));
	ASSERT_EQ(0, coap_nl_open(&self->consumer));
	ASSERT_EQ(0, consumer_register(&self->consumer));
	ASSERT_EQ(0, loopback_gateway(&self->nl, variant->family, &self->gw,
				      &self->dev, &self->gw_addr,
				      &self->gw_addr_len));
	ASSERT_EQ(0, session_new(&self->nl, TOKEN, PK, DN, variant->cipher,
				 SEQ_OFFSET, session_key));
	self->mid = 0x100;
}

FIXTURE_TEARDOWN(fastpath)
{
	static const char * const default_rules[] = { NULL };

	/* Whatever a test configured, the next one starts from defaults. */
	config_set(&self->nl, 1 << 20, 1, default_rules);
	set_debug_drop_all("N");
	session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_DEL, TOKEN,
			  NULL, NULL);
	close(self->dev);
	close(self->gw);
	coap_nl_close(&self->consumer);
	coap_nl_close(&self->nl);
}

/* Build a publish of this fixture's session; returns its length. */
static int publish(FIXTURE_DATA(fastpath) *self,
		   const FIXTURE_VARIANT(fastpath) *variant, uint8_t type,
		   const char *topic, uint64_t seq, const char *payload,
		   const char *token)
{
	static const uint8_t coap_token[] = { 0xc0, 0xa9 };
	struct coap_proto_publish p = {
		.type = type,
		.message_id = ++self->mid,
		.coap_token = coap_token,
		.coap_token_len = sizeof(coap_token),
		.topic = topic,
		.auth_token = token ? token : TOKEN,
		.cipher = variant->cipher,
		.key = session_key,
		.seq = seq,
		.payload = (const uint8_t *)payload,
		.payload_len = strlen(payload),
	};

	return coap_proto_build_publish(&p, self->pkt, sizeof(self->pkt));
}

TEST_F(fastpath, publish_is_delivered_and_acked)
{
	struct delivered d;
	struct answer a;
	int len;

	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/user/update",
		      SEQ_OFFSET, "{\"temp\":21.5}", NULL);
	ASSERT_LT(0, len);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));

	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_TYPE_ACK, a.msg.type);
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	EXPECT_EQ(self->mid, a.msg.message_id);
	EXPECT_EQ(2, a.msg.token_len);
	EXPECT_EQ(8, a.id_len);
	EXPECT_EQ(0, a.msg.payload_len);

	ASSERT_EQ(1, drain_consumer(&self->consumer, &d, 1000));
	EXPECT_EQ(a.message_id, d.id);
	EXPECT_EQ(SEQ_OFFSET, d.seq);
	EXPECT_STREQ("/" PK "/" DN "/user/update", d.topic);
	EXPECT_STREQ(PK, d.pk);
	EXPECT_STREQ(DN, d.dn);
	ASSERT_EQ(13, d.payload_len);
	EXPECT_EQ(0, memcmp("{\"temp\":21.5}", d.payload, 13));
	EXPECT_EQ(variant->family, d.peer.ss_family);
	/* The consumer is told which session: its token, as pushed. */
	EXPECT_EQ(strlen(TOKEN), d.token_len);
	EXPECT_STREQ(TOKEN, d.token);
	/* Nothing was left for the daemon. */
	EXPECT_EQ(-1, recv_wait(self->gw, self->pkt, sizeof(self->pkt), 100));
}

TEST_F(fastpath, sequence_of_publishes_each_delivered_once)
{
	uint64_t last_id = 0;
	struct delivered d;
	struct answer a;
	int i, len;

	for (i = 0; i < 20; i++) {
		len = publish(self, variant, COAP_TYPE_CON,
			      "/sys/" PK "/" DN "/thing/event/property/post",
			      SEQ_OFFSET + i, i % 2 ? "odd" : "", NULL);
		ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
		ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
		ASSERT_EQ(COAP_CODE_CONTENT, a.msg.code);
		EXPECT_LT(last_id, a.message_id);
		last_id = a.message_id;
		ASSERT_EQ(1, drain_consumer(&self->consumer, &d, 1000));
		EXPECT_EQ(SEQ_OFFSET + i, d.seq);
		EXPECT_EQ(i % 2 ? 3 : 0, d.payload_len);
	}
}

TEST_F(fastpath, replayed_seq_refused)
{
	struct session_info si = { 0 };
	struct delivered d;
	struct answer a;
	int len;

	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET + 5, "first", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	ASSERT_EQ(COAP_CODE_CONTENT, a.msg.code);
	ASSERT_EQ(1, drain_consumer(&self->consumer, &d, 1000));

	/* Same seq, new CoAP Message ID: a replay, not a retransmission. */
	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET + 5, "again", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_BAD_REQUEST, a.msg.code);
	EXPECT_EQ(0, a.id_len);
	/* Below seqOffset. */
	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET - 1, "old", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_BAD_REQUEST, a.msg.code);
	EXPECT_EQ(0, drain_consumer(&self->consumer, &d, 200));

	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_GET,
				       TOKEN, session_cb, &si));
	EXPECT_EQ(1, si.count);
	EXPECT_EQ(2, si.replays);
	EXPECT_EQ(1, si.rx_packets);
	EXPECT_EQ(5, si.rx_bytes);
	EXPECT_EQ(SEQ_OFFSET + 5, si.seq_highest);
	EXPECT_EQ(0, si.has_key);
}

TEST_F(fastpath, retransmission_answered_again_delivered_once)
{
	struct answer a1, a2;
	struct delivered d;
	int len;

	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET, "once", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a1, 2000));
	/* The very same datagram again (the ACK was lost, say). */
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a2, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a1.msg.code);
	EXPECT_EQ(COAP_CODE_CONTENT, a2.msg.code);
	EXPECT_EQ(a1.message_id, a2.message_id);
	EXPECT_EQ(a1.msg.message_id, a2.msg.message_id);
	EXPECT_EQ(1, drain_consumer(&self->consumer, &d, 500));
}

TEST_F(fastpath, foreign_topic_forbidden)
{
	static const char * const topics[] = {
		"/otherPK/" DN "/user/update", "/" PK "/dev2/user/update",
		"/" PK "/" DN, "/sys/" PK "/dev2/x", "/shadow/update/" PK "/dev2",
		"/ota/device/upgrade/" PK "/" DN "/extra", "/" PK "x/" DN "/a",
	};
	struct delivered d;
	struct answer a;
	unsigned int i;
	int len;

	for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		len = publish(self, variant, COAP_TYPE_CON, topics[i],
			      SEQ_OFFSET + i, "x", NULL);
		ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
		ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
		EXPECT_EQ(COAP_CODE_FORBIDDEN, a.msg.code) {
			TH_LOG("topic %s", topics[i]);
		}
	}
	EXPECT_EQ(0, drain_consumer(&self->consumer, &d, 200));

	/* The allowed shapes. */
	len = publish(self, variant, COAP_TYPE_CON, "/shadow/update/" PK "/" DN,
		      SEQ_OFFSET + 100, "s", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	len = publish(self, variant, COAP_TYPE_CON,
		      "/ota/device/upgrade/" PK "/" DN, SEQ_OFFSET + 101, "o",
		      NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	EXPECT_EQ(2, drain_consumer(&self->consumer, &d, 500));
}

TEST_F(fastpath, unknown_token_and_auth_left_to_daemon)
{
	static const uint8_t auth[] = {
		0x40, 0x02, 0x12, 0x34, 0xb4, 'a', 'u', 't', 'h',
		0xff, '{', '}',
	};
	struct answer a;
	uint8_t buf[1400];
	int len;

	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET, "x", "no-such-token");
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(len, recv_wait(self->gw, buf, sizeof(buf), 2000));
	EXPECT_EQ(0, memcmp(buf, self->pkt, len));

	ASSERT_EQ(sizeof(auth), send(self->dev, auth, sizeof(auth), 0));
	ASSERT_EQ(sizeof(auth), recv_wait(self->gw, buf, sizeof(buf), 2000));
	EXPECT_EQ(0, memcmp(buf, auth, sizeof(auth)));
	EXPECT_EQ(0, get_answer(self->dev, &a, 100));
}

/*
 * Every truncation of a valid publish and a corrupted one, each with its own
 * Message ID (so no answer comes from the retransmission cache). A prefix
 * that is itself a well-formed publish with a shorter ciphertext is only
 * valid under CTR (CBC needs whole padded blocks); its seq then counts, and
 * every later copy is a replay. Nothing else may get a 2.05.
 */
TEST_F(fastpath, hostile_datagrams)
{
	int expect_ok = variant->cipher == COAP_OFFLOAD_CIPHER_AES_128_CTR;
	int len, i, answers = 0, ok = 0;
	uint8_t copy[1400];
	struct delivered d;
	struct answer a;

	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET, "a payload of some length", NULL);
	ASSERT_LT(0, len);
	for (i = 0; i <= len; i++) {
		memcpy(copy, self->pkt, len);
		if (i == len)
			copy[len - 1] ^= 0x5a;	/* corrupt the last byte */
		if (i >= 4) {
			copy[2] = 0x80 | i >> 8;
			copy[3] = i;
		}
		ASSERT_EQ(i, send(self->dev, copy, i, 0));
	}
	while (get_answer(self->dev, &a, 300) == 1) {
		answers++;
		ok += a.msg.code == COAP_CODE_CONTENT;
	}
	EXPECT_LT(0, answers);
	EXPECT_EQ(expect_ok, ok);
	EXPECT_EQ(expect_ok, drain_consumer(&self->consumer, &d, 200));
	/* The gateway still works. */
	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET + 1, "ok", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
}

TEST_F(fastpath, bad_seq_block_refused)
{
	struct session_info si = { 0 };
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_msg msg;
	struct answer a;
	int len;

	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET, "x", NULL);
	ASSERT_EQ(0, coap_parse(self->pkt, len, &msg));
	coap_opt_iter_init(&it, &msg);
	while (coap_opt_next(&it, &opt))
		if (opt.number == COAP_OPT_SEQ)
			((uint8_t *)opt.value)[0] ^= 0xff;
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_BAD_REQUEST, a.msg.code);
	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_GET,
				       TOKEN, session_cb, &si));
	EXPECT_EQ(1, si.decrypt_errors);
}

TEST_F(fastpath, non_delivered_without_answer)
{
	struct delivered d;
	struct answer a;
	int len;

	len = publish(self, variant, COAP_TYPE_NON, "/" PK "/" DN "/a",
		      SEQ_OFFSET, "non", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	EXPECT_EQ(1, drain_consumer(&self->consumer, &d, 1000));
	EXPECT_EQ(0, get_answer(self->dev, &a, 200));
}

/* No consumer: no success, and the retransmission gets through later. */
TEST_F(fastpath, no_consumer_no_success_nothing_lost)
{
	struct delivered d;
	struct answer a;
	int len;

	coap_nl_close(&self->consumer);
	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET, "keep me", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	EXPECT_EQ(0, get_answer(self->dev, &a, 300));

	ASSERT_EQ(0, coap_nl_open(&self->consumer));
	ASSERT_EQ(0, consumer_register(&self->consumer));
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	ASSERT_EQ(1, drain_consumer(&self->consumer, &d, 1000));
	EXPECT_EQ(7, d.payload_len);
}

TEST_F(fastpath, token_in_option_61)
{
	static const uint8_t coap_token[] = { 1 };
	struct coap_proto_publish p = {
		.type = COAP_TYPE_CON, .message_id = 77,
		.coap_token = coap_token, .coap_token_len = 1,
		.topic = "/" PK "/" DN "/a", .auth_token = TOKEN,
		.token_in_option_61 = true, .cipher = variant->cipher,
		.key = session_key, .seq = SEQ_OFFSET,
		.payload = (const uint8_t *)"61", .payload_len = 2,
	};
	struct delivered d;
	struct answer a;
	int len;

	len = coap_proto_build_publish(&p, self->pkt, sizeof(self->pkt));
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	EXPECT_EQ(1, drain_consumer(&self->consumer, &d, 1000));
}

TEST_F(fastpath, deleted_session_left_to_daemon)
{
	uint8_t buf[1400];
	int len;

	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_DEL,
				       TOKEN, NULL, NULL));
	EXPECT_EQ(-ENOENT, session_token_cmd(&self->nl,
					     COAP_OFFLOAD_CMD_SESSION_DEL,
					     TOKEN, NULL, NULL));
	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET, "x", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	EXPECT_EQ(len, recv_wait(self->gw, buf, sizeof(buf), 2000));
}

/* SESSION_NEW of a DTLS-mode session (no cipher, key or seq offset). */
static int session_new_dtls(struct coap_nl *c, const char *token)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = coap_nl_request(c, buf, COAP_OFFLOAD_CMD_SESSION_NEW, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, PK);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, DN);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_MODE,
			 COAP_OFFLOAD_MODE_DTLS);
	mnl_attr_nest_end(nlh, nest);
	return coap_nl_talk(c, nlh, NULL, NULL);
}

/*
 * A DTLS-mode session's token is listed like any other, but a plaintext
 * publish naming it, however well-formed and encrypted with the key a
 * symmetric session of that token would have, is left to the daemon: not
 * delivered, not answered.
 */
TEST_F(fastpath, dtls_mode_token_never_on_fast_path)
{
	struct session_info si = { 0 };
	struct delivered d;
	struct answer a;
	uint8_t buf[1400];
	int len;

	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_DEL,
				       TOKEN, NULL, NULL));
	ASSERT_EQ(0, session_new_dtls(&self->nl, TOKEN));
	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_GET,
				       TOKEN, session_cb, &si));
	EXPECT_EQ(1, si.count);
	EXPECT_EQ(COAP_OFFLOAD_MODE_DTLS, si.mode);
	EXPECT_EQ(0, si.cipher);
	EXPECT_EQ(0, si.has_key);

	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/user/update",
		      SEQ_OFFSET, "plain", NULL);
	ASSERT_LT(0, len);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(len, recv_wait(self->gw, buf, sizeof(buf), 2000));
	EXPECT_EQ(0, memcmp(buf, self->pkt, len));
	EXPECT_EQ(0, get_answer(self->dev, &a, 100));
	EXPECT_EQ(0, drain_consumer(&self->consumer, &d, 100));
	/* The same token as a symmetric session is served again. */
	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_DEL,
				       TOKEN, NULL, NULL));
	ASSERT_EQ(0, session_new(&self->nl, TOKEN, PK, DN, variant->cipher,
				 SEQ_OFFSET, session_key));
	memset(&si, 0, sizeof(si));
	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_GET,
				       TOKEN, session_cb, &si));
	EXPECT_EQ(COAP_OFFLOAD_MODE_SYMMETRIC, si.mode);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
}

TEST_F(fastpath, closing_the_socket_detaches)
{
	int gw2;

	/* Attaching twice is refused; detaching an unattached one too. */
	EXPECT_EQ(-EBUSY, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				     self->gw));
	EXPECT_EQ(-ENOENT, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_DETACH,
				      self->dev));
	close(self->gw);
	/* A new socket on the same address attaches again. */
	gw2 = socket(variant->family, SOCK_DGRAM, 0);
	ASSERT_LE(0, gw2);
	ASSERT_EQ(0, bind(gw2, (struct sockaddr *)&self->gw_addr,
			  self->gw_addr_len));
	EXPECT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH, gw2));
	EXPECT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_DETACH, gw2));
	self->gw = gw2;
}

/* CONFIG_SET with the rules given (NULL: leave them; {NULL}: defaults). */
static int config_set(struct coap_nl *c, int max_sessions, int token_alias,
		      const char * const *rules)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = coap_nl_request(c, buf, COAP_OFFLOAD_CMD_CONFIG_SET, 0);
	if (max_sessions >= 0)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_MAX_SESSIONS, max_sessions);
	if (token_alias >= 0)
		mnl_attr_put_u8(nlh, COAP_OFFLOAD_A_TOKEN_ALIAS, token_alias);
	if (rules) {
		nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_RULES);
		for (; *rules; rules++)
			mnl_attr_put_strz(nlh, COAP_OFFLOAD_A_RULE, *rules);
		mnl_attr_nest_end(nlh, nest);
	}
	return coap_nl_talk(c, nlh, NULL, NULL);
}

struct config_info {
	uint32_t max_sessions;
	int token_alias;
	int rules;
	char first_rule[256];
};

static int config_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr, *rules = coap_nl_attr(nlh, COAP_OFFLOAD_A_RULES);
	struct config_info *ci = data;

	ci->max_sessions = mnl_attr_get_u32(coap_nl_attr(nlh,
					    COAP_OFFLOAD_A_MAX_SESSIONS));
	ci->token_alias = mnl_attr_get_u8(coap_nl_attr(nlh,
					  COAP_OFFLOAD_A_TOKEN_ALIAS));
	mnl_attr_for_each_nested(attr, rules) {
		if (!ci->rules++)
			snprintf(ci->first_rule, sizeof(ci->first_rule), "%s",
				 mnl_attr_get_str(attr));
	}
	return MNL_CB_OK;
}

/* Send one publish and return the answer's code (0: no answer). */
static int publish_code(FIXTURE_DATA(fastpath) *self,
			const FIXTURE_VARIANT(fastpath) *variant,
			const char *topic, uint64_t seq)
{
	struct answer a;
	int len;

	len = publish(self, variant, COAP_TYPE_CON, topic, seq, "p", NULL);
	if (len <= 0 || send(self->dev, self->pkt, len, 0) != len)
		return -1;
	return get_answer(self->dev, &a, 2000) == 1 ? a.msg.code : 0;
}

TEST_F(fastpath, topic_rules_configurable)
{
	static const char * const only_user[] = {
		"/{pk}/{dn}/user/#", "/+/broadcast", NULL,
	};
	static const char * const defaults[] = { NULL };
	static const char * const bad[][2] = {
		{ "no/leading/slash", NULL }, { "/a//b", NULL },
		{ "/a/#/b", NULL }, { "/a/../b", NULL }, { "/", NULL },
	};
	const char *many[COAP_OFFLOAD_RULES_MAX + 2];
	static char long_rule[COAP_OFFLOAD_RULE_MAX + 1];
	struct config_info ci = { 0 };
	struct delivered d;
	char buf[COAP_NL_BUF_SIZE];
	unsigned int i;

	ASSERT_EQ(0, coap_nl_talk(&self->nl, coap_nl_request(&self->nl, buf,
				  COAP_OFFLOAD_CMD_CONFIG_GET, 0),
				  config_cb, &ci));
	EXPECT_EQ(4, ci.rules);
	EXPECT_STREQ("/{pk}/{dn}/#", ci.first_rule);
	EXPECT_EQ(1, ci.token_alias);

	ASSERT_EQ(0, config_set(&self->nl, -1, -1, only_user));
	EXPECT_EQ(COAP_CODE_FORBIDDEN,
		  publish_code(self, variant, "/sys/" PK "/" DN "/x", SEQ_OFFSET));
	EXPECT_EQ(COAP_CODE_FORBIDDEN,
		  publish_code(self, variant, "/" PK "/" DN "/other", SEQ_OFFSET + 1));
	EXPECT_EQ(COAP_CODE_CONTENT,
		  publish_code(self, variant, "/" PK "/" DN "/user/a/b", SEQ_OFFSET + 2));
	EXPECT_EQ(COAP_CODE_CONTENT,
		  publish_code(self, variant, "/anything/broadcast", SEQ_OFFSET + 3));
	EXPECT_EQ(COAP_CODE_FORBIDDEN,
		  publish_code(self, variant, "/a/b/broadcast", SEQ_OFFSET + 4));

	/* Malformed or too many rules change nothing. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, config_set(&self->nl, -1, -1, bad[i]));
	for (i = 0; i < COAP_OFFLOAD_RULES_MAX + 1; i++)
		many[i] = "/x/#";
	many[i] = NULL;
	EXPECT_EQ(-E2BIG, config_set(&self->nl, -1, -1, many));
	/* The most rules, each of the longest length, are read back whole. */
	memset(long_rule, 'r', COAP_OFFLOAD_RULE_MAX);
	long_rule[0] = '/';
	for (i = 0; i < COAP_OFFLOAD_RULES_MAX; i++)
		many[i] = long_rule;
	many[i] = NULL;
	ASSERT_EQ(0, config_set(&self->nl, -1, -1, many));
	memset(&ci, 0, sizeof(ci));
	ASSERT_EQ(0, coap_nl_talk(&self->nl, coap_nl_request(&self->nl, buf,
				  COAP_OFFLOAD_CMD_CONFIG_GET, 0),
				  config_cb, &ci));
	EXPECT_EQ(COAP_OFFLOAD_RULES_MAX, ci.rules);
	EXPECT_STREQ(long_rule, ci.first_rule);
	ASSERT_EQ(0, config_set(&self->nl, -1, -1, only_user));
	EXPECT_EQ(COAP_CODE_CONTENT,
		  publish_code(self, variant, "/" PK "/" DN "/user/c", SEQ_OFFSET + 5));

	/* An empty list restores PROTOCOL.md's rules. */
	ASSERT_EQ(0, config_set(&self->nl, -1, -1, defaults));
	EXPECT_EQ(COAP_CODE_CONTENT,
		  publish_code(self, variant, "/sys/" PK "/" DN "/x", SEQ_OFFSET + 6));
	EXPECT_EQ(4, drain_consumer(&self->consumer, &d, 500));
}

TEST_F(fastpath, token_alias_can_be_disabled)
{
	static const uint8_t coap_token[] = { 1 };
	struct coap_proto_publish p = {
		.type = COAP_TYPE_CON, .message_id = 78,
		.coap_token = coap_token, .coap_token_len = 1,
		.topic = "/" PK "/" DN "/a", .auth_token = TOKEN,
		.token_in_option_61 = true, .cipher = variant->cipher,
		.key = session_key, .seq = SEQ_OFFSET,
		.payload = (const uint8_t *)"61", .payload_len = 2,
	};
	uint8_t buf[1400];
	int len;

	ASSERT_EQ(0, config_set(&self->nl, -1, 0, NULL));
	len = coap_proto_build_publish(&p, self->pkt, sizeof(self->pkt));
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	/* Not the fast path's any more: the daemon reads it. */
	EXPECT_EQ(len, recv_wait(self->gw, buf, sizeof(buf), 2000));
	ASSERT_EQ(0, config_set(&self->nl, -1, 1, NULL));
	EXPECT_EQ(-ERANGE, config_set(&self->nl, -1, 2, NULL));
}

TEST_F(fastpath, session_limit)
{
	uint64_t stats[COAP_OFFLOAD_STAT_MAX + 1];

	ASSERT_EQ(0, coap_nl_stats_get(&self->nl, stats));
	ASSERT_EQ(0, config_set(&self->nl, stats[COAP_OFFLOAD_STAT_SESSIONS] + 1,
				-1, NULL));
	EXPECT_EQ(0, session_new(&self->nl, "limit-1", PK, DN,
				 variant->cipher, 0, session_key));
	EXPECT_EQ(-ENOSPC, session_new(&self->nl, "limit-2", PK, DN,
				       variant->cipher, 0, session_key));
	/* A taken token says so, even at the limit. */
	EXPECT_EQ(-EEXIST, session_new(&self->nl, TOKEN, PK, DN,
				       variant->cipher, 0, session_key));
	EXPECT_EQ(-ERANGE, config_set(&self->nl, 0, -1, NULL));
	ASSERT_EQ(0, config_set(&self->nl, 1 << 20, -1, NULL));
	EXPECT_EQ(0, session_new(&self->nl, "limit-2", PK, DN,
				 variant->cipher, 0, session_key));
	EXPECT_EQ(0, simple_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_FLUSH));
	ASSERT_EQ(0, coap_nl_stats_get(&self->nl, stats));
	EXPECT_EQ(0, stats[COAP_OFFLOAD_STAT_SESSIONS]);
}

/* A rekey: the same token with a new key, swapped in atomically. */
TEST_F(fastpath, session_replace_rekeys)
{
	static const uint8_t new_key[16] = { 0xfe, 0xed, 0xfa, 0xce };
	struct session_spec sp = {
		.token = TOKEN, .pk = PK, .dn = DN, .cipher = variant->cipher,
		.seq_offset = 1, .key = new_key,
	};
	struct coap_proto_publish p = {
		.type = COAP_TYPE_CON, .coap_token_len = 0,
		.topic = "/" PK "/" DN "/a", .auth_token = TOKEN,
		.cipher = variant->cipher, .key = new_key, .seq = 1,
		.payload = (const uint8_t *)"rekeyed", .payload_len = 7,
	};
	struct delivered d;
	struct answer a;
	int len;

	ASSERT_EQ(0, session_push(&self->nl, COAP_OFFLOAD_CMD_SESSION_REPLACE,
				  &sp));
	/* The old key no longer decrypts. */
	EXPECT_EQ(COAP_CODE_BAD_REQUEST,
		  publish_code(self, variant, "/" PK "/" DN "/a", SEQ_OFFSET));
	p.message_id = ++self->mid;
	len = coap_proto_build_publish(&p, self->pkt, sizeof(self->pkt));
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	ASSERT_EQ(1, drain_consumer(&self->consumer, &d, 1000));
	EXPECT_EQ(0, memcmp("rekeyed", d.payload, 7));

	sp.token = "no-such-token";
	EXPECT_EQ(-ENOENT, session_push(&self->nl,
					COAP_OFFLOAD_CMD_SESSION_REPLACE, &sp));
}

TEST_F(fastpath, stats_count_and_reset)
{
	uint64_t stats[COAP_OFFLOAD_STAT_MAX + 1];
	struct session_info si = { 0 };

	ASSERT_EQ(0, simple_cmd(&self->nl, COAP_OFFLOAD_CMD_STATS_RESET));
	EXPECT_EQ(COAP_CODE_CONTENT,
		  publish_code(self, variant, "/" PK "/" DN "/a", SEQ_OFFSET));
	EXPECT_EQ(COAP_CODE_BAD_REQUEST,
		  publish_code(self, variant, "/" PK "/" DN "/a", SEQ_OFFSET));
	EXPECT_EQ(COAP_CODE_FORBIDDEN,
		  publish_code(self, variant, "/x/y/z", SEQ_OFFSET + 1));
	ASSERT_EQ(0, coap_nl_stats_get(&self->nl, stats));
	EXPECT_EQ(3, stats[COAP_OFFLOAD_STAT_RX]);
	EXPECT_EQ(1, stats[COAP_OFFLOAD_STAT_DELIVERED]);
	EXPECT_EQ(1, stats[COAP_OFFLOAD_STAT_REPLAYS]);
	EXPECT_EQ(1, stats[COAP_OFFLOAD_STAT_FORBIDDEN]);
	EXPECT_EQ(0, stats[COAP_OFFLOAD_STAT_PASSED]);
	EXPECT_LE(1, stats[COAP_OFFLOAD_STAT_SESSIONS]);

	ASSERT_EQ(0, simple_cmd(&self->nl, COAP_OFFLOAD_CMD_STATS_RESET));
	ASSERT_EQ(0, coap_nl_stats_get(&self->nl, stats));
	EXPECT_EQ(0, stats[COAP_OFFLOAD_STAT_RX]);
	EXPECT_EQ(0, stats[COAP_OFFLOAD_STAT_DELIVERED]);
	EXPECT_LE(1, stats[COAP_OFFLOAD_STAT_SESSIONS]);

	/* The session remembers where its device spoke from. */
	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_GET,
				       TOKEN, session_cb, &si));
	EXPECT_EQ(1, si.has_peer);
	EXPECT_GE(1, si.idle);
}

TEST_F(fastpath, debug_drop_all_drops_and_counts)
{
	uint64_t stats[COAP_OFFLOAD_STAT_MAX + 1];
	static const uint8_t garbage[] = { 0x40, 0x01, 0x12, 0x34, 0xff };
	struct delivered d;
	struct answer a;
	int len;

	ASSERT_EQ(0, simple_cmd(&self->nl, COAP_OFFLOAD_CMD_STATS_RESET));
	ASSERT_EQ(0, set_debug_drop_all("Y"));
	/* A valid publish, and a datagram that would go to the daemon. */
	len = publish(self, variant, COAP_TYPE_CON, "/" PK "/" DN "/a",
		      SEQ_OFFSET, "dropped", NULL);
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(sizeof(garbage), send(self->dev, garbage, sizeof(garbage), 0));
	EXPECT_EQ(0, get_answer(self->dev, &a, 300));
	EXPECT_EQ(0, drain_consumer(&self->consumer, &d, 100));
	EXPECT_EQ(-1, recv_wait(self->gw, self->pkt, sizeof(self->pkt), 100));
	ASSERT_EQ(0, coap_nl_stats_get(&self->nl, stats));
	EXPECT_EQ(2, stats[COAP_OFFLOAD_STAT_RX]);
	EXPECT_EQ(2, stats[COAP_OFFLOAD_STAT_DEBUG_DROPPED]);
	EXPECT_EQ(0, stats[COAP_OFFLOAD_STAT_DELIVERED]);
	EXPECT_EQ(0, stats[COAP_OFFLOAD_STAT_PASSED]);

	/* Off again: the same publish goes through, nothing more dropped. */
	ASSERT_EQ(0, set_debug_drop_all("N"));
	ASSERT_EQ(len, send(self->dev, self->pkt, len, 0));
	ASSERT_EQ(1, get_answer(self->dev, &a, 2000));
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	ASSERT_EQ(1, drain_consumer(&self->consumer, &d, 1000));
	ASSERT_EQ(0, coap_nl_stats_get(&self->nl, stats));
	EXPECT_EQ(2, stats[COAP_OFFLOAD_STAT_DEBUG_DROPPED]);
	EXPECT_EQ(1, stats[COAP_OFFLOAD_STAT_DELIVERED]);
}

struct event {
	uint32_t type;
	char pk[80], dn[80], topic[256];
	int has_peer;
	uint32_t payload_len;
	int has_payload, has_token;
};

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_EVENT_A_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_EVENT);
	struct event *e = data;

	if (!nest)
		return MNL_CB_ERROR;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_EVENT_A_MAX);
	e->type = mnl_attr_get_u32(tb[COAP_OFFLOAD_EVENT_A_TYPE]);
	snprintf(e->pk, sizeof(e->pk), "%s",
		 mnl_attr_get_str(tb[COAP_OFFLOAD_EVENT_A_PRODUCT_KEY]));
	snprintf(e->dn, sizeof(e->dn), "%s",
		 mnl_attr_get_str(tb[COAP_OFFLOAD_EVENT_A_DEVICE_NAME]));
	e->has_peer = !!tb[COAP_OFFLOAD_EVENT_A_PEER];
	e->topic[0] = '\0';
	if (tb[COAP_OFFLOAD_EVENT_A_TOPIC])
		snprintf(e->topic, sizeof(e->topic), "%s",
			 mnl_attr_get_str(tb[COAP_OFFLOAD_EVENT_A_TOPIC]));
	return MNL_CB_OK;
}

static int monitor_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_MESSAGE_A_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_MESSAGE);
	struct event *e = data;

	if (!nest)
		return MNL_CB_ERROR;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_MESSAGE_A_MAX);
	e->has_payload = !!tb[COAP_OFFLOAD_MESSAGE_A_PAYLOAD];
	e->has_token = !!tb[COAP_OFFLOAD_MESSAGE_A_TOKEN];
	e->payload_len = mnl_attr_get_u32(tb[COAP_OFFLOAD_MESSAGE_A_PAYLOAD_LEN]);
	snprintf(e->topic, sizeof(e->topic), "%s",
		 mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_TOPIC]));
	return MNL_CB_OK;
}

/* Wait for one multicast message on c and parse it with cb. */
static int next_notification(struct coap_nl *c, mnl_cb_t cb, void *e, int ms)
{
	char buf[COAP_NL_BUF_SIZE];
	ssize_t n;

	n = recv_wait(mnl_socket_get_fd(c->nl), buf, sizeof(buf), ms);
	if (n <= 0)
		return 0;
	return mnl_cb_run(buf, n, 0, 0, cb, e) < 0 ? -1 : 1;
}

TEST_F(fastpath, events_and_monitor_groups)
{
	struct coap_nl events, monitor;
	struct event e = { 0 };
	struct delivered d;

	ASSERT_EQ(0, coap_nl_open(&events));
	ASSERT_EQ(0, coap_nl_open(&monitor));
	ASSERT_EQ(0, coap_nl_join(&events, events.mcgrp_events));
	ASSERT_EQ(0, coap_nl_join(&monitor, monitor.mcgrp_monitor));

	EXPECT_EQ(COAP_CODE_CONTENT,
		  publish_code(self, variant, "/" PK "/" DN "/m", SEQ_OFFSET));
	ASSERT_EQ(1, next_notification(&monitor, monitor_cb, &e, 2000));
	EXPECT_EQ(0, e.has_payload);
	/* The token names the session, a credential: the consumer's only. */
	EXPECT_EQ(0, e.has_token);
	EXPECT_EQ(1, e.payload_len);
	EXPECT_STREQ("/" PK "/" DN "/m", e.topic);
	ASSERT_EQ(1, drain_consumer(&self->consumer, &d, 1000));
	EXPECT_STREQ(TOKEN, d.token);

	EXPECT_EQ(COAP_CODE_BAD_REQUEST,
		  publish_code(self, variant, "/" PK "/" DN "/m", SEQ_OFFSET));
	ASSERT_EQ(1, next_notification(&events, event_cb, &e, 2000));
	EXPECT_EQ(COAP_OFFLOAD_EVENT_REPLAY, e.type);
	EXPECT_STREQ(PK, e.pk);
	EXPECT_EQ(1, e.has_peer);

	EXPECT_EQ(COAP_CODE_FORBIDDEN,
		  publish_code(self, variant, "/other/x/y", SEQ_OFFSET + 1));
	ASSERT_EQ(1, next_notification(&events, event_cb, &e, 2000));
	EXPECT_EQ(COAP_OFFLOAD_EVENT_FORBIDDEN, e.type);
	EXPECT_STREQ("/other/x/y", e.topic);

	coap_nl_close(&monitor);
	coap_nl_close(&events);
}

static const char del_tok2[] = "tok-deleted-second-9f8e7d6c5b4a";
static const char del_tok3[] = "tok-deleted-third-0a1b2c3d4e5f";

/*
 * Wait for one event on c into e, and check that the raw notification
 * carries none of this test's tokens (1, or 0 on timeout, -1 when it does).
 */
static int next_event_without_token(struct coap_nl *c, struct event *e,
				    int ms)
{
	static const char * const tokens[] = { TOKEN, del_tok2, del_tok3 };
	char buf[COAP_NL_BUF_SIZE];
	unsigned int i;
	ssize_t n;

	memset(e, 0, sizeof(*e));
	n = recv_wait(mnl_socket_get_fd(c->nl), buf, sizeof(buf), ms);
	if (n <= 0)
		return 0;
	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		if (memmem(buf, n, tokens[i], strlen(tokens[i])))
			return -1;
	return mnl_cb_run(buf, n, 0, 0, event_cb, e) < 0 ? -1 : 1;
}

/*
 * A session deleted by a command is announced (the daemon forgets its
 * persisted copy), with its identity but never its token; a rekey is not
 * (the session is still there), nor a delete of nothing.
 */
TEST_F(fastpath, session_deleted_announced_without_token)
{
	struct session_spec sp = {
		.token = TOKEN, .pk = PK, .dn = DN, .cipher = variant->cipher,
		.seq_offset = 1, .key = session_key,
	};
	int got2 = 0, got3 = 0, r;
	struct coap_nl events;
	struct event e;

	ASSERT_EQ(0, coap_nl_open(&events));
	ASSERT_EQ(0, coap_nl_join(&events, events.mcgrp_events));

	/* A rekey keeps the session: no event. */
	ASSERT_EQ(0, session_push(&self->nl, COAP_OFFLOAD_CMD_SESSION_REPLACE,
				  &sp));
	EXPECT_EQ(0, next_event_without_token(&events, &e, 300));

	ASSERT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_DEL,
				       TOKEN, NULL, NULL));
	ASSERT_EQ(1, next_event_without_token(&events, &e, 2000));
	EXPECT_EQ(COAP_OFFLOAD_EVENT_SESSION_DELETED, e.type);
	EXPECT_STREQ(PK, e.pk);
	EXPECT_STREQ(DN, e.dn);
	EXPECT_EQ(0, e.has_peer);
	EXPECT_STREQ("", e.topic);
	/* Deleting it again deletes nothing and announces nothing. */
	EXPECT_EQ(-ENOENT, session_token_cmd(&self->nl,
					     COAP_OFFLOAD_CMD_SESSION_DEL,
					     TOKEN, NULL, NULL));
	EXPECT_EQ(0, next_event_without_token(&events, &e, 300));

	/* A flush: one event per session, each without its token. */
	ASSERT_EQ(0, session_new(&self->nl, del_tok2, PK, "flushed2",
				 variant->cipher, 1, session_key));
	ASSERT_EQ(0, session_new(&self->nl, del_tok3, PK, "flushed3",
				 variant->cipher, 1, session_key));
	ASSERT_EQ(0, simple_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_FLUSH));
	while ((r = next_event_without_token(&events, &e, 1000)) == 1) {
		EXPECT_EQ(COAP_OFFLOAD_EVENT_SESSION_DELETED, e.type);
		got2 += !strcmp(e.dn, "flushed2");
		got3 += !strcmp(e.dn, "flushed3");
	}
	EXPECT_EQ(0, r);
	EXPECT_EQ(1, got2);
	EXPECT_EQ(1, got3);
	coap_nl_close(&events);
	/* The fixture's session is back for the teardown's delete. */
	ASSERT_EQ(0, session_new(&self->nl, TOKEN, PK, DN, variant->cipher,
				 SEQ_OFFSET, session_key));
}

TEST(groups_need_privilege)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct coap_nl c;

		if (setgid(65534) || setuid(65534) || coap_nl_open(&c))
			_exit(2);
		_exit(coap_nl_join(&c, c.mcgrp_events) == -EPERM &&
		      coap_nl_join(&c, c.mcgrp_monitor) == -EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* Lifetime and idle expiry, announced on the events group. */
TEST(sessions_expire)
{
	struct session_spec lifetime = {
		.token = "expire-lifetime", .pk = "expPK", .dn = "life",
		.cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC, .key = session_key,
		.lifetime = 1,
	};
	struct session_spec idle = {
		.token = "expire-idle", .pk = "expPK", .dn = "idle",
		.cipher = COAP_OFFLOAD_CIPHER_AES_128_CTR, .key = session_key,
		.idle_timeout = 1,
	};
	uint64_t stats[COAP_OFFLOAD_STAT_MAX + 1];
	struct session_info si = { 0 };
	struct coap_nl c, events;
	struct event e = { 0 };
	int expired = 0, i;

	ASSERT_EQ(0, coap_nl_open(&c));
	ASSERT_EQ(0, coap_nl_open(&events));
	ASSERT_EQ(0, coap_nl_join(&events, events.mcgrp_events));
	ASSERT_EQ(0, simple_cmd(&c, COAP_OFFLOAD_CMD_STATS_RESET));
	ASSERT_EQ(0, session_push(&c, COAP_OFFLOAD_CMD_SESSION_NEW, &lifetime));
	ASSERT_EQ(0, session_push(&c, COAP_OFFLOAD_CMD_SESSION_NEW, &idle));
	EXPECT_EQ(0, session_token_cmd(&c, COAP_OFFLOAD_CMD_SESSION_GET,
				       "expire-lifetime", session_cb, &si));

	/* The reaper runs every 2 s; both are gone within a few seconds. */
	for (i = 0; i < 4 && expired < 2; i++) {
		if (next_notification(&events, event_cb, &e, 3000) != 1)
			continue;
		EXPECT_EQ(COAP_OFFLOAD_EVENT_SESSION_EXPIRED, e.type);
		EXPECT_STREQ("expPK", e.pk);
		EXPECT_EQ(0, e.has_peer);
		expired++;
	}
	EXPECT_EQ(2, expired);
	EXPECT_EQ(-ENOENT, session_token_cmd(&c, COAP_OFFLOAD_CMD_SESSION_GET,
					     "expire-lifetime", session_cb, &si));
	EXPECT_EQ(-ENOENT, session_token_cmd(&c, COAP_OFFLOAD_CMD_SESSION_GET,
					     "expire-idle", session_cb, &si));
	ASSERT_EQ(0, coap_nl_stats_get(&c, stats));
	EXPECT_EQ(2, stats[COAP_OFFLOAD_STAT_EXPIRED]);
	coap_nl_close(&events);
	coap_nl_close(&c);
}

/* A DTLS-mode SESSION_NEW that also carries attribute extra. */
static int session_dtls_with(struct coap_nl *c, uint16_t extra)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = coap_nl_request(c, buf, COAP_OFFLOAD_CMD_SESSION_NEW, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, 9, "dtls-with");
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, PK);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, DN);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_MODE,
			 COAP_OFFLOAD_MODE_DTLS);
	if (extra == COAP_OFFLOAD_SESSION_A_KEY)
		mnl_attr_put(nlh, extra, COAP_OFFLOAD_KEY_LEN, session_key);
	else if (extra == COAP_OFFLOAD_SESSION_A_SEQ_OFFSET)
		mnl_attr_put_u64(nlh, extra, 1);
	else
		mnl_attr_put_u32(nlh, extra, COAP_OFFLOAD_CIPHER_AES_128_CBC);
	mnl_attr_nest_end(nlh, nest);
	return coap_nl_talk(c, nlh, NULL, NULL);
}

TEST(session_new_validation)
{
	struct coap_nl c;

	ASSERT_EQ(0, coap_nl_open(&c));
	ASSERT_EQ(0, session_new(&c, "dup-token", PK, DN,
				 COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				 session_key));
	EXPECT_EQ(-EEXIST, session_new(&c, "dup-token", PK, DN,
				       COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				       session_key));
	EXPECT_EQ(-ERANGE, session_new(&c, "bad-cipher", PK, DN, 3, 1,
				       session_key));
	EXPECT_EQ(-EINVAL, session_new(&c, "no-pk", "", DN,
				       COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				       session_key));
	EXPECT_EQ(-EINVAL, session_new(&c, "slash-pk", "a/b", DN,
				       COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				       session_key));
	/* pk "sys" + dn <victim pk> would reach /sys/<victim pk>/... */
	EXPECT_EQ(-EINVAL, session_new(&c, "sys-pk", "sys", PK,
				       COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				       session_key));
	EXPECT_EQ(-EINVAL, session_new(&c, "dotdot-dn", PK, "..",
				       COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				       session_key));
	EXPECT_EQ(-EINVAL, session_new(&c, "space-dn", PK, "a b",
				       COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				       session_key));
	EXPECT_EQ(-ERANGE, session_push(&c, COAP_OFFLOAD_CMD_SESSION_NEW,
			&(struct session_spec){ .token = "idle-max", .pk = PK,
				.dn = DN, .cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC,
				.key = session_key,
				.idle_timeout = COAP_OFFLOAD_IDLE_TIMEOUT_MAX + 1 }));
	EXPECT_EQ(0, session_new(&c, "ok-dn", PK, "dev-1_a@b.c:d",
				 COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				 session_key));
	EXPECT_EQ(0, session_token_cmd(&c, COAP_OFFLOAD_CMD_SESSION_DEL,
				       "ok-dn", NULL, NULL));
	EXPECT_EQ(-ERANGE, session_new(&c, "", PK, DN,
				       COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
				       session_key));
	/* A DTLS-mode session holds no key: one sent is refused. */
	EXPECT_EQ(-EINVAL, session_dtls_with(&c, COAP_OFFLOAD_SESSION_A_KEY));
	EXPECT_EQ(-EINVAL, session_dtls_with(&c, COAP_OFFLOAD_SESSION_A_CIPHER));
	EXPECT_EQ(-EINVAL,
		  session_dtls_with(&c, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET));
	EXPECT_EQ(0, session_token_cmd(&c, COAP_OFFLOAD_CMD_SESSION_DEL,
				       "dup-token", NULL, NULL));
	EXPECT_EQ(-ENOENT, session_token_cmd(&c, COAP_OFFLOAD_CMD_SESSION_GET,
					     "dup-token", session_cb,
					     &(struct session_info){ 0 }));
	coap_nl_close(&c);
}

TEST(session_dump_lists_all_without_keys)
{
	struct session_info si = { 0 };
	char buf[COAP_NL_BUF_SIZE], token[32];
	struct coap_nl c;
	int i;

	ASSERT_EQ(0, coap_nl_open(&c));
	for (i = 0; i < 300; i++) {
		snprintf(token, sizeof(token), "dump-%d", i);
		ASSERT_EQ(0, session_new(&c, token, PK, DN,
					 COAP_OFFLOAD_CIPHER_AES_128_CTR, i,
					 session_key));
	}
	ASSERT_EQ(0, coap_nl_talk(&c, coap_nl_request(&c, buf,
				  COAP_OFFLOAD_CMD_SESSION_GET, NLM_F_DUMP),
				  session_cb, &si));
	EXPECT_EQ(300, si.count);
	EXPECT_EQ(0, si.has_key);
	for (i = 0; i < 300; i++) {
		snprintf(token, sizeof(token), "dump-%d", i);
		ASSERT_EQ(0, session_token_cmd(&c, COAP_OFFLOAD_CMD_SESSION_DEL,
					       token, NULL, NULL));
	}
	coap_nl_close(&c);
}

/* A table change in the middle of a dump is reported, not silent. */
TEST(dump_interrupted_by_change_is_flagged)
{
	char buf[COAP_NL_BUF_SIZE], token[32];
	struct coap_nl c, other;
	struct nlmsghdr *nlh;
	int i, ret, parts = 0, intr = 0;

	ASSERT_EQ(0, coap_nl_open(&c));
	ASSERT_EQ(0, coap_nl_open(&other));
	for (i = 0; i < 400; i++) {
		snprintf(token, sizeof(token), "intr-%d", i);
		ASSERT_EQ(0, session_new(&c, token, PK, DN,
					 COAP_OFFLOAD_CIPHER_AES_128_CBC, 0,
					 session_key));
	}
	nlh = coap_nl_request(&c, buf, COAP_OFFLOAD_CMD_SESSION_GET, NLM_F_DUMP);
	nlh->nlmsg_seq = ++c.seq;
	ASSERT_LT(0, mnl_socket_sendto(c.nl, nlh, nlh->nlmsg_len));
	do {
		ret = mnl_socket_recvfrom(c.nl, buf, sizeof(buf));
		ASSERT_LT(0, ret);
		/* The first part is read: change the table under the dump. */
		if (parts++ == 0)
			ASSERT_EQ(0, session_new(&other, "intr-new", PK, DN,
						 COAP_OFFLOAD_CIPHER_AES_128_CBC, 0,
						 session_key));
		ret = mnl_cb_run(buf, ret, c.seq, c.portid, NULL, NULL);
		if (ret < 0 && errno == EINTR)
			intr = 1;
	} while (ret > 0);
	EXPECT_LT(1, parts);
	EXPECT_EQ(1, intr);
	/* libmnl stops at the flagged part: drain the rest of the dump. */
	while (recv_wait(mnl_socket_get_fd(c.nl), buf, sizeof(buf), 200) > 0)
		;
	EXPECT_EQ(0, simple_cmd(&c, COAP_OFFLOAD_CMD_SESSION_FLUSH));
	coap_nl_close(&other);
	coap_nl_close(&c);
}

TEST_HARNESS_MAIN
