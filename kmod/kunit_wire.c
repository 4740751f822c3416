// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the CoAP wire code and the replay window as the module runs them
 * (kernel build, kernel stack, the objects linked into coap_offload.ko).
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/module.h>
#include <coap/coap_wire.h>
#include <coap/coap_replay.h>

/* POST /topic/a1PK/dev1/user/update, token option, seq option, payload. */
static int build_publish(u8 *buf, size_t cap)
{
	static const char * const segs[] = { "topic", "a1PK", "dev1", "user",
					     "update" };
	static const u8 tok[] = { 0xde, 0xad };
	struct coap_builder b;
	u8 seq[16];
	int i;

	memset(seq, 0xa5, sizeof(seq));
	coap_builder_init(&b, buf, cap, COAP_TYPE_CON, COAP_CODE_POST, 0x1234,
			  tok, sizeof(tok));
	for (i = 0; i < ARRAY_SIZE(segs); i++)
		coap_builder_add_option(&b, COAP_OPT_URI_PATH, segs[i],
					strlen(segs[i]));
	coap_builder_add_option(&b, COAP_OPT_AUTH_TOKEN, "tok-123", 7);
	coap_builder_add_option(&b, COAP_OPT_SEQ, seq, sizeof(seq));
	coap_builder_set_payload(&b, "hello", 5);
	return coap_builder_finish(&b);
}

static void wire_publish_roundtrip(struct kunit *test)
{
	struct coap_option opt;
	struct coap_msg msg;
	char path[64];
	u8 buf[128];
	int len;

	len = build_publish(buf, sizeof(buf));
	KUNIT_ASSERT_GT(test, len, 0);
	KUNIT_ASSERT_EQ(test, 0, coap_parse(buf, len, &msg));
	KUNIT_EXPECT_EQ(test, COAP_TYPE_CON, msg.type);
	KUNIT_EXPECT_EQ(test, COAP_CODE_POST, msg.code);
	KUNIT_EXPECT_EQ(test, 0x1234, msg.message_id);
	KUNIT_EXPECT_EQ(test, 2, msg.token_len);
	KUNIT_EXPECT_EQ(test, 5, msg.payload_len);
	KUNIT_EXPECT_EQ(test, 0, memcmp("hello", msg.payload, 5));
	KUNIT_ASSERT_EQ(test, 28, coap_uri_path(&msg, path, sizeof(path)));
	KUNIT_EXPECT_STREQ(test, "/topic/a1PK/dev1/user/update", path);
	KUNIT_ASSERT_TRUE(test, coap_find_option(&msg, COAP_OPT_AUTH_TOKEN, &opt));
	KUNIT_EXPECT_EQ(test, 7, opt.len);
	KUNIT_EXPECT_EQ(test, 0, memcmp("tok-123", opt.value, 7));
	KUNIT_ASSERT_TRUE(test, coap_find_option(&msg, COAP_OPT_SEQ, &opt));
	KUNIT_EXPECT_EQ(test, 16, opt.len);
	KUNIT_EXPECT_FALSE(test, coap_find_option(&msg, COAP_OPT_TOKEN_ALIAS,
						  &opt));
}

/*
 * A prefix of a valid message parses only when it ends right after the token,
 * right after an option, or inside the payload (each a shorter but
 * well-formed message); every other cut is refused, and nothing is read past
 * it.
 */
static void wire_truncated_prefixes(struct kunit *test)
{
	DECLARE_BITMAP(boundary, 128) = { 0 };
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_msg msg;
	u8 buf[128], *copy;
	int len, i, err, payload_at;

	len = build_publish(buf, sizeof(buf));
	KUNIT_ASSERT_GT(test, len, 0);
	KUNIT_ASSERT_EQ(test, 0, coap_parse(buf, len, &msg));
	payload_at = msg.payload - buf;
	__set_bit(COAP_HEADER_LEN + msg.token_len, boundary);
	coap_opt_iter_init(&it, &msg);
	while (coap_opt_next(&it, &opt))
		__set_bit(opt.value + opt.len - buf, boundary);

	for (i = 0; i < len; i++) {
		/* An exact-size heap copy so KASAN sees any read past it. */
		copy = kunit_kmalloc(test, i ? i : 1, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, copy);
		memcpy(copy, buf, i);
		err = coap_parse(copy, i, &msg);
		if (test_bit(i, boundary)) {
			KUNIT_EXPECT_EQ_MSG(test, 0, err, "prefix %d", i);
			KUNIT_EXPECT_EQ(test, 0, msg.payload_len);
		} else if (i > payload_at) {
			KUNIT_EXPECT_EQ_MSG(test, 0, err, "prefix %d", i);
			KUNIT_EXPECT_EQ(test, i - payload_at, msg.payload_len);
		} else {
			KUNIT_EXPECT_EQ_MSG(test, -EPROTO, err, "prefix %d", i);
		}
		kunit_kfree(test, copy);
	}
}

struct opt_len_case {
	const char *name;
	u16 number;
	u16 len;
};

/* Option delta and length in each encoding: 4-bit, 13 (+1), 14 (+2). */
static const struct opt_len_case opt_len_cases[] = {
	{ "delta0_len0", 0, 0 }, { "delta12_len12", 12, 12 },
	{ "delta13_len13", 13, 13 }, { "delta268_len268", 268, 268 },
	{ "delta269_len269", 269, 269 }, { "delta2088_len1000", 2088, 1000 },
	{ "delta65535_len1", 65535, 1 },
};

static void opt_len_case_desc(const struct opt_len_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(opt_len, opt_len_cases, opt_len_case_desc);

static void wire_option_encodings(struct kunit *test)
{
	const struct opt_len_case *c = test->param_value;
	struct coap_builder b;
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_msg msg;
	u8 *value, *buf;
	int len;

	value = kunit_kzalloc(test, c->len + 1, GFP_KERNEL);
	buf = kunit_kzalloc(test, COAP_MAX_MESSAGE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, value);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(value, 0x5a, c->len);
	coap_builder_init(&b, buf, COAP_MAX_MESSAGE, COAP_TYPE_NON,
			  COAP_CODE_POST, 1, NULL, 0);
	coap_builder_add_option(&b, c->number, value, c->len);
	len = coap_builder_finish(&b);
	KUNIT_ASSERT_GT(test, len, 0);
	KUNIT_ASSERT_EQ(test, 0, coap_parse(buf, len, &msg));
	coap_opt_iter_init(&it, &msg);
	KUNIT_ASSERT_TRUE(test, coap_opt_next(&it, &opt));
	KUNIT_EXPECT_EQ(test, c->number, opt.number);
	KUNIT_EXPECT_EQ(test, c->len, opt.len);
	KUNIT_EXPECT_EQ(test, 0, memcmp(value, opt.value, c->len));
	KUNIT_EXPECT_FALSE(test, coap_opt_next(&it, &opt));
}

struct bad_msg_case {
	const char *name;
	u8 bytes[12];
	u8 len;
	int err;
};

static const struct bad_msg_case bad_msg_cases[] = {
	{ "short_header", { 0x40, 0x02, 0x00 }, 3, -EPROTO },
	{ "version_2", { 0x80, 0x02, 0x00, 0x01 }, 4, -EPROTONOSUPPORT },
	{ "tkl_9", { 0x49, 0x02, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8 }, 12,
	  -EPROTO },
	{ "token_truncated", { 0x44, 0x02, 0x00, 0x01, 1, 2 }, 6, -EPROTO },
	{ "class_1", { 0x40, 0x20, 0x00, 0x01 }, 4, -EPROTO },
	{ "class_6", { 0x40, 0xc0, 0x00, 0x01 }, 4, -EPROTO },
	{ "class_7", { 0x40, 0xe0, 0x00, 0x01 }, 4, -EPROTO },
	{ "empty_with_token", { 0x41, 0x00, 0x00, 0x01, 7 }, 5, -EPROTO },
	{ "empty_with_byte", { 0x40, 0x00, 0x00, 0x01, 0xff }, 5, -EPROTO },
	{ "marker_no_payload", { 0x40, 0x02, 0x00, 0x01, 0xff }, 5, -EPROTO },
	{ "delta_nibble_15", { 0x40, 0x02, 0x00, 0x01, 0xf1, 0 }, 6, -EPROTO },
	{ "len_nibble_15", { 0x40, 0x02, 0x00, 0x01, 0x1f, 0 }, 6, -EPROTO },
	{ "ext_delta_missing", { 0x40, 0x02, 0x00, 0x01, 0xd0 }, 5, -EPROTO },
	{ "ext2_delta_short", { 0x40, 0x02, 0x00, 0x01, 0xe0, 0x01 }, 6,
	  -EPROTO },
	{ "value_truncated", { 0x40, 0x02, 0x00, 0x01, 0xb4, 'a', 'b' }, 7,
	  -EPROTO },
	/* 14-form delta 0xffff + 269 overflows 65535 */
	{ "number_overflow", { 0x40, 0x02, 0x00, 0x01, 0xe0, 0xff, 0xff }, 7,
	  -EPROTO },
};

static void bad_msg_case_desc(const struct bad_msg_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(bad_msg, bad_msg_cases, bad_msg_case_desc);

static void wire_rejects_malformed(struct kunit *test)
{
	const struct bad_msg_case *c = test->param_value;
	struct coap_msg msg;
	u8 *copy;

	copy = kunit_kmalloc(test, c->len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, copy);
	memcpy(copy, c->bytes, c->len);
	KUNIT_EXPECT_EQ(test, c->err, coap_parse(copy, c->len, &msg));
}

static void wire_rejects_oversize(struct kunit *test)
{
	struct coap_msg msg;
	u8 *buf;

	buf = kunit_kzalloc(test, COAP_MAX_MESSAGE + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	buf[0] = 0x40;
	buf[1] = COAP_CODE_POST;
	buf[4] = COAP_PAYLOAD_MARKER;
	KUNIT_EXPECT_EQ(test, 0, coap_parse(buf, COAP_MAX_MESSAGE, &msg));
	KUNIT_EXPECT_EQ(test, -EMSGSIZE,
			coap_parse(buf, COAP_MAX_MESSAGE + 1, &msg));
}

static void wire_builder_nospace(struct kunit *test)
{
	u8 buf[128];
	int len, cap;

	len = build_publish(buf, sizeof(buf));
	KUNIT_ASSERT_GT(test, len, 0);
	for (cap = 0; cap < len; cap++)
		KUNIT_EXPECT_EQ(test, -ENOSPC, build_publish(buf, cap));
}

static void wire_seq_and_padding(struct kunit *test)
{
	u8 block[16] = "4912";
	u64 seq;

	KUNIT_EXPECT_EQ(test, 0, coap_parse_decimal_seq("4912", 4, &seq));
	KUNIT_EXPECT_EQ(test, 4912, seq);
	KUNIT_EXPECT_EQ(test, 0, coap_parse_decimal_seq("999999999999999",
							15, &seq));
	KUNIT_EXPECT_EQ(test, 999999999999999ULL, seq);
	KUNIT_EXPECT_EQ(test, -EINVAL, coap_parse_decimal_seq("", 0, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			coap_parse_decimal_seq("1000000000000000", 16, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL, coap_parse_decimal_seq("-1", 2, &seq));
	KUNIT_EXPECT_EQ(test, -EINVAL, coap_parse_decimal_seq("1a", 2, &seq));

	memset(block + 4, 12, 12);
	KUNIT_EXPECT_EQ(test, 4, coap_pkcs7_unpad(block, 16));
	block[15] = 13;
	KUNIT_EXPECT_EQ(test, -EBADMSG, coap_pkcs7_unpad(block, 16));
	block[15] = 0;
	KUNIT_EXPECT_EQ(test, -EBADMSG, coap_pkcs7_unpad(block, 16));
	memset(block, 16, 16);
	KUNIT_EXPECT_EQ(test, 0, coap_pkcs7_unpad(block, 16));
	block[15] = 17;
	KUNIT_EXPECT_EQ(test, -EBADMSG, coap_pkcs7_unpad(block, 16));
}

static struct kunit_case coap_wire_cases[] = {
	KUNIT_CASE(wire_publish_roundtrip),
	KUNIT_CASE(wire_truncated_prefixes),
	KUNIT_CASE_PARAM(wire_option_encodings, opt_len_gen_params),
	KUNIT_CASE_PARAM(wire_rejects_malformed, bad_msg_gen_params),
	KUNIT_CASE(wire_rejects_oversize),
	KUNIT_CASE(wire_builder_nospace),
	KUNIT_CASE(wire_seq_and_padding),
	{}
};

static struct kunit_suite coap_wire_suite = {
	.name = "coap_offload_wire",
	.test_cases = coap_wire_cases,
};

static void replay_in_order_and_duplicates(struct kunit *test)
{
	struct coap_replay w;
	u64 s;

	coap_replay_init(&w, 1000);
	KUNIT_EXPECT_FALSE(test, coap_replay_check(&w, 999));
	for (s = 1000; s < 1600; s++) {
		KUNIT_EXPECT_TRUE(test, coap_replay_check(&w, s));
		KUNIT_EXPECT_TRUE(test, coap_replay_commit(&w, s));
		KUNIT_EXPECT_FALSE(test, coap_replay_check(&w, s));
		KUNIT_EXPECT_FALSE(test, coap_replay_commit(&w, s));
	}
}

static void replay_reorder_and_window(struct kunit *test)
{
	struct coap_replay w;

	coap_replay_init(&w, 0);
	KUNIT_EXPECT_TRUE(test, coap_replay_commit(&w, 10));
	KUNIT_EXPECT_TRUE(test, coap_replay_commit(&w, 5));
	KUNIT_EXPECT_FALSE(test, coap_replay_commit(&w, 5));
	/* A far jump ahead slides the window past everything seen. */
	KUNIT_EXPECT_TRUE(test, coap_replay_commit(&w, 10000));
	KUNIT_EXPECT_FALSE(test, coap_replay_check(&w, 10));
	KUNIT_EXPECT_FALSE(test,
			   coap_replay_check(&w, 10000 - COAP_REPLAY_WINDOW_BITS));
	KUNIT_EXPECT_TRUE(test,
			  coap_replay_check(&w, 10001 - COAP_REPLAY_WINDOW_BITS));
	KUNIT_EXPECT_TRUE(test, coap_replay_commit(&w, U64_MAX));
	KUNIT_EXPECT_FALSE(test, coap_replay_check(&w, U64_MAX));
}

static struct kunit_case coap_replay_cases[] = {
	KUNIT_CASE(replay_in_order_and_duplicates),
	KUNIT_CASE(replay_reorder_and_window),
	{}
};

static struct kunit_suite coap_replay_suite = {
	.name = "coap_offload_replay",
	.test_cases = coap_replay_cases,
};

kunit_test_suites(&coap_wire_suite, &coap_replay_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for coap_offload");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
