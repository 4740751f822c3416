// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of coapd --no-offload's pure parts: the session table
 * (userspace/coapd/sessions.c: limits, expiry, growth, the answer cache),
 * the keyed ciphers it holds (coap_proto_keyed_*, against the one-shot
 * coap_proto functions and so against the openssl-CLI vectors those are
 * tested with) and the topic rules shared with the module
 * (include/coap/coap_rules.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "coap/coap_rules.h"
#include "coap_proto.h"
#include "sessions.h"

static const uint8_t key[COAP_PROTO_KEY_LEN] = "0123456789abcdef";

#define T0	1000000ULL	/* "now" at the start, in ms */

static int add(struct coapd_sessions *t, const char *token, uint32_t life,
	       uint32_t idle, uint64_t now)
{
	return coapd_sessions_add(t, token, strlen(token), "a1PK", "dev1",
				  COAP_CIPHER_AES_128_CBC, key, 100, life, idle,
				  now);
}

static struct coapd_session *find(struct coapd_sessions *t, const char *token,
				  uint64_t now)
{
	return coapd_sessions_find(t, token, strlen(token), now);
}

FIXTURE(tab) {
	struct coapd_sessions t;
};

FIXTURE_SETUP(tab)
{
	ASSERT_EQ(0, coapd_sessions_init(&self->t, 8));
}

FIXTURE_TEARDOWN(tab)
{
	coapd_sessions_destroy(&self->t);
}

TEST_F(tab, add_find_del)
{
	struct coapd_session *s;

	EXPECT_EQ(0, add(&self->t, "tok-a", 60, 0, T0));
	EXPECT_EQ(0, add(&self->t, "tok-b", 60, 0, T0));
	EXPECT_EQ(2u, self->t.count);
	s = find(&self->t, "tok-a", T0);
	ASSERT_NE(NULL, s);
	EXPECT_STREQ("a1PK", s->product_key);
	EXPECT_STREQ("dev1", s->device_name);
	EXPECT_EQ(100u, s->replay.offset);
	EXPECT_NE(NULL, s->keyed);
	/* A prefix, a longer token, another byte: no match. */
	EXPECT_EQ(NULL, find(&self->t, "tok-", T0));
	EXPECT_EQ(NULL, find(&self->t, "tok-ab", T0));
	EXPECT_EQ(NULL, find(&self->t, "tok-c", T0));
	EXPECT_EQ(0, coapd_sessions_del(&self->t, "tok-a", 5));
	EXPECT_EQ(-ENOENT, coapd_sessions_del(&self->t, "tok-a", 5));
	EXPECT_EQ(NULL, find(&self->t, "tok-a", T0));
	EXPECT_NE(NULL, find(&self->t, "tok-b", T0));
	EXPECT_EQ(1u, self->t.count);
}

TEST_F(tab, limits)
{
	char token[COAP_OFFLOAD_TOKEN_MAX + 2], id[COAP_OFFLOAD_IDENTITY_MAX + 2];
	int i;

	/* Token of 1..64 bytes; identities of at most 64. */
	memset(token, 't', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	EXPECT_EQ(-EINVAL, add(&self->t, token, 60, 0, T0));
	token[COAP_OFFLOAD_TOKEN_MAX] = '\0';
	EXPECT_EQ(0, add(&self->t, token, 60, 0, T0));
	EXPECT_NE(NULL, find(&self->t, token, T0));
	EXPECT_EQ(-EINVAL, add(&self->t, "", 60, 0, T0));
	EXPECT_EQ(NULL, coapd_sessions_find(&self->t, token,
					    COAP_OFFLOAD_TOKEN_MAX + 1, T0));
	EXPECT_EQ(NULL, coapd_sessions_find(&self->t, "", 0, T0));
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	EXPECT_EQ(-EINVAL, coapd_sessions_add(&self->t, "x", 1, id, "d",
					      COAP_CIPHER_AES_128_CBC, key, 1,
					      60, 0, T0));
	EXPECT_EQ(-EINVAL, coapd_sessions_add(&self->t, "x", 1, "p", id,
					      COAP_CIPHER_AES_128_CBC, key, 1,
					      60, 0, T0));
	EXPECT_EQ(-EINVAL, coapd_sessions_add(&self->t, "x", 1, "p", "d", 7,
					      key, 1, 60, 0, T0));
	EXPECT_EQ(-EINVAL, add(&self->t, "x", 0, 0, T0));

	/* A taken token is -EEXIST, even when full; then -ENOSPC. */
	EXPECT_EQ(-EEXIST, add(&self->t, token, 60, 0, T0));
	for (i = 1; i < 8; i++) {
		char t[16];

		snprintf(t, sizeof(t), "t%d", i);
		EXPECT_EQ(0, add(&self->t, t, 60, 0, T0));
	}
	EXPECT_EQ(8u, self->t.count);
	EXPECT_EQ(-ENOSPC, add(&self->t, "one-more", 60, 0, T0));
	EXPECT_EQ(-EEXIST, add(&self->t, "t1", 60, 0, T0));
	/* Room again once one goes. */
	EXPECT_EQ(0, coapd_sessions_del(&self->t, "t1", 2));
	EXPECT_EQ(0, add(&self->t, "one-more", 60, 0, T0));
}

TEST_F(tab, lifetime)
{
	EXPECT_EQ(0, add(&self->t, "short", 2, 0, T0));
	EXPECT_EQ(0, add(&self->t, "long", 10, 0, T0));
	EXPECT_NE(NULL, find(&self->t, "short", T0 + 1999));
	/* Gone at its lifetime, removed by the lookup. */
	EXPECT_EQ(NULL, find(&self->t, "short", T0 + 2000));
	EXPECT_EQ(1u, self->t.count);
	EXPECT_EQ(1u, self->t.expired);
	EXPECT_EQ(0u, coapd_sessions_expire(&self->t, T0 + 9999));
	EXPECT_EQ(1u, coapd_sessions_expire(&self->t, T0 + 10000));
	EXPECT_EQ(0u, self->t.count);
	EXPECT_EQ(2u, self->t.expired);
	EXPECT_EQ(NULL, find(&self->t, "long", T0 + 10000));
}

TEST_F(tab, idle_timeout)
{
	struct coapd_session *s;

	EXPECT_EQ(0, add(&self->t, "idle", 3600, 5, T0));
	EXPECT_EQ(0, add(&self->t, "never-idle", 3600, 0, T0));
	s = find(&self->t, "idle", T0 + 4000);
	ASSERT_NE(NULL, s);
	/* A delivery (the caller sets last_seen) keeps it alive. */
	s->last_seen = T0 + 4000;
	EXPECT_NE(NULL, find(&self->t, "idle", T0 + 8999));
	EXPECT_EQ(0u, coapd_sessions_expire(&self->t, T0 + 8999));
	EXPECT_EQ(1u, coapd_sessions_expire(&self->t, T0 + 9000));
	EXPECT_EQ(NULL, find(&self->t, "idle", T0 + 9000));
	EXPECT_NE(NULL, find(&self->t, "never-idle", T0 + 3599999));
	EXPECT_EQ(NULL, find(&self->t, "never-idle", T0 + 3600000));
}

/* Many sessions: the buckets grow, every session stays findable. */
TEST(growth)
{
	struct coapd_sessions t;
	char tok[40];
	size_t i, buckets;

	ASSERT_EQ(0, coapd_sessions_init(&t, 5000));
	buckets = t.mask + 1;
	for (i = 0; i < 5000; i++) {
		snprintf(tok, sizeof(tok), "%032zx", i * 7919);
		ASSERT_EQ(0, add(&t, tok, 60, 0, T0));
	}
	EXPECT_GT(t.mask + 1, buckets);
	EXPECT_GE(t.mask + 1, t.count);
	for (i = 0; i < 5000; i++) {
		snprintf(tok, sizeof(tok), "%032zx", i * 7919);
		ASSERT_NE(NULL, find(&t, tok, T0));
	}
	/* Half expire in one sweep; the rest stay. */
	for (i = 0; i < 5000; i += 2) {
		snprintf(tok, sizeof(tok), "%032zx", i * 7919);
		find(&t, tok, T0)->expires = T0 + 1;
	}
	EXPECT_EQ(2500u, coapd_sessions_expire(&t, T0 + 1));
	for (i = 0; i < 5000; i++) {
		snprintf(tok, sizeof(tok), "%032zx", i * 7919);
		EXPECT_EQ(i % 2 == 1, find(&t, tok, T0 + 1) != NULL);
	}
	coapd_sessions_destroy(&t);
}

TEST_F(tab, answer_cache)
{
	const struct coapd_answer *a;
	struct coapd_session *s;
	int i;

	ASSERT_EQ(0, add(&self->t, "ans", 3600, 0, T0));
	s = find(&self->t, "ans", T0);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(NULL, coapd_session_find_answer(s, 7, T0));
	coapd_session_remember_answer(s, 7, 0x45, 0x1122334455667788ULL, T0);
	a = coapd_session_find_answer(s, 7, T0 + 1000);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(0x45, a->code);
	EXPECT_EQ(0x1122334455667788ULL, a->message_id);
	EXPECT_EQ(NULL, coapd_session_find_answer(s, 8, T0));
	/* EXCHANGE_LIFETIME (247 s), then it is a new request. */
	EXPECT_NE(NULL, coapd_session_find_answer(s, 7, T0 + 246999));
	EXPECT_EQ(NULL, coapd_session_find_answer(s, 7, T0 + 247000));

	/* The last COAPD_ANSWER_CACHE answers are kept, the oldest goes. */
	for (i = 0; i < COAPD_ANSWER_CACHE; i++)
		coapd_session_remember_answer(s, 100 + i, 0x80, 0, T0);
	EXPECT_EQ(NULL, coapd_session_find_answer(s, 7, T0));
	for (i = 0; i < COAPD_ANSWER_CACHE; i++)
		EXPECT_NE(NULL, coapd_session_find_answer(s, 100 + i, T0));
	coapd_session_remember_answer(s, 200, 0x83, 0, T0);
	EXPECT_EQ(NULL, coapd_session_find_answer(s, 100, T0));
	a = coapd_session_find_answer(s, 200, T0);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(0x83, a->code);
	EXPECT_EQ(0u, a->message_id);
}

/* The keyed ciphers decrypt what the one-shot coap_proto calls encrypt. */
FIXTURE(keyed) {
	struct coap_proto_keyed *k;
};

FIXTURE_VARIANT(keyed) {
	enum coap_cipher cipher;
};

FIXTURE_VARIANT_ADD(keyed, cbc) {
	.cipher = COAP_CIPHER_AES_128_CBC,
};

FIXTURE_VARIANT_ADD(keyed, ctr) {
	.cipher = COAP_CIPHER_AES_128_CTR,
};

FIXTURE_SETUP(keyed)
{
	self->k = coap_proto_keyed_new(variant->cipher, key);
	ASSERT_NE(NULL, self->k);
}

FIXTURE_TEARDOWN(keyed)
{
	coap_proto_keyed_free(self->k);
}

TEST_F(keyed, seq_round_trip)
{
	static const uint64_t seqs[] = { 0, 1, 4912, 65535, 999999999999999ULL };
	uint8_t block[COAP_PROTO_BLOCK];
	uint64_t seq;
	size_t i;

	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		ASSERT_EQ(0, coap_proto_seq_encrypt(key, seqs[i], block));
		seq = 1234;
		EXPECT_EQ(0, coap_proto_keyed_seq_decrypt(self->k, block, &seq));
		EXPECT_EQ(seqs[i], seq);
	}
	/* Garbage in the block: refused (bad padding or not digits). */
	memset(block, 0xa5, sizeof(block));
	EXPECT_EQ(-EBADMSG, coap_proto_keyed_seq_decrypt(self->k, block, &seq));
	EXPECT_EQ(-EINVAL, coap_proto_keyed_seq_decrypt(NULL, block, &seq));
}

/* Lengths across block edges, in sequence: no state leaks between calls. */
TEST_F(keyed, payload_round_trip)
{
	uint8_t plain[300], enc[320], out[320], block[COAP_PROTO_BLOCK];
	size_t len;
	int n, m, i;

	for (i = 0; i < (int)sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 37 + 11);
	for (len = 0; len <= sizeof(plain); len += (len < 40 ? 1 : 37)) {
		ASSERT_EQ(0, coap_proto_seq_encrypt(key, 4912 + len, block));
		n = coap_proto_payload_encrypt(variant->cipher, key, block,
					       false, plain, len, enc,
					       sizeof(enc));
		ASSERT_GE(n, 0);
		m = coap_proto_keyed_payload_decrypt(self->k, block, enc, n,
						     out, sizeof(out));
		ASSERT_EQ((int)len, m);
		EXPECT_EQ(0, memcmp(plain, out, len));
		/* The same through the one-shot call. */
		EXPECT_EQ(m, coap_proto_payload_decrypt(variant->cipher, key,
							block, false, enc, n,
							out, sizeof(out)));
	}
}

TEST_F(keyed, payload_errors)
{
	uint8_t enc[64], out[64], block[COAP_PROTO_BLOCK] = { 0 };
	int n;

	n = coap_proto_payload_encrypt(variant->cipher, key, block, false,
				       (const uint8_t *)"0123456789abcdefX",
				       17, enc, sizeof(enc));
	ASSERT_GT(n, 0);
	EXPECT_EQ(-ENOSPC, coap_proto_keyed_payload_decrypt(self->k, block, enc,
							    n, out, n - 1));
	if (variant->cipher == COAP_CIPHER_AES_128_CBC) {
		/* Not whole blocks, nothing at all, a broken padding. */
		EXPECT_EQ(-EBADMSG, coap_proto_keyed_payload_decrypt(
				self->k, block, enc, n - 1, out, sizeof(out)));
		EXPECT_EQ(-EBADMSG, coap_proto_keyed_payload_decrypt(
				self->k, block, enc, 0, out, sizeof(out)));
		enc[n - 1] ^= 0xff;
		EXPECT_EQ(-EBADMSG, coap_proto_keyed_payload_decrypt(
				self->k, block, enc, n, out, sizeof(out)));
	} else {
		EXPECT_EQ(0, coap_proto_keyed_payload_decrypt(
				self->k, block, enc, 0, out, sizeof(out)));
		EXPECT_EQ(-EINVAL, coap_proto_keyed_payload_decrypt(
				self->k, NULL, enc, n, out, sizeof(out)));
	}
}

TEST(keyed_new_rejects)
{
	EXPECT_EQ(NULL, coap_proto_keyed_new(0, key));
	EXPECT_EQ(NULL, coap_proto_keyed_new(COAP_CIPHER_AES_128_CBC, NULL));
	coap_proto_keyed_free(NULL);
}

/* The rules the module and --no-offload share (PROTOCOL.md's defaults). */
TEST(default_rules)
{
	static const struct {
		const char *topic;
		bool ok;
	} cases[] = {
		{ "/a1PK/dev1/user/update", true },
		{ "/a1PK/dev1/x", true },
		{ "/a1PK/dev1", false },
		{ "/a1PK/dev2/user/update", false },
		{ "/a1PKx/dev1/user", false },
		{ "/sys/a1PK/dev1/thing/event", true },
		{ "/sys/a1PK/dev1", false },
		{ "/ota/device/upgrade/a1PK/dev1", true },
		{ "/ota/device/upgrade/a1PK/dev1/more", false },
		{ "/ota/device/a1PK/dev1", false },
		{ "/shadow/update/a1PK/dev1", true },
		{ "/shadow/update/a1PK/dev2", false },
		{ "", false },
		{ "/", false },
	};
	size_t i;

	/* Compared as 2 * case + verdict: a failure names its case. */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT_EQ(2 * i + cases[i].ok,
			  2 * i + coap_topic_allowed(NULL, 0, cases[i].topic,
						     "a1PK", "dev1"));
}

TEST(configured_rules)
{
	static const char * const rules[] = { "/+/{dn}/#", "/fixed/{pk}" };

	EXPECT_TRUE(coap_topic_allowed(rules, 2, "/any/dev1/a/b", "p", "dev1"));
	EXPECT_FALSE(coap_topic_allowed(rules, 2, "/any/dev2/a", "p", "dev1"));
	EXPECT_TRUE(coap_topic_allowed(rules, 2, "/fixed/p", "p", "dev1"));
	EXPECT_FALSE(coap_topic_allowed(rules, 2, "/fixed/p/x", "p", "dev1"));
	/* No rule at all: nothing is allowed (NULL means the defaults). */
	EXPECT_FALSE(coap_topic_allowed(rules, 0, "/p/dev1/x", "p", "dev1"));
	EXPECT_EQ(0, coap_rule_valid("/a/+/#"));
	EXPECT_EQ(-EINVAL, coap_rule_valid("a/b"));
	EXPECT_EQ(-EINVAL, coap_rule_valid("/a//b"));
	EXPECT_EQ(-EINVAL, coap_rule_valid("/a/#/b"));
	EXPECT_EQ(-EINVAL, coap_rule_valid("/a/../b"));
	EXPECT_EQ(-EINVAL, coap_rule_valid("/"));
}

TEST_HARNESS_MAIN
