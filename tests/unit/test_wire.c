// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Host unit tests of the shared CoAP wire code (include/coap/coap_wire.c).
 *
 * Build (see tests/unit/ and the top-level Makefile):
 *   cc -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
 *      -fsanitize=address,undefined -fno-sanitize-recover=all -Iinclude \
 *      -I<linux>/tools/testing/selftests tests/unit/test_wire.c \
 *      include/coap/coap_wire.c -lcrypto -o build/unit/test_wire
 *
 * Messages under test are copied into heap buffers of exactly their length
 * so that AddressSanitizer catches any read past the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "kselftest_harness.h"
#include "coap/coap_wire.h"

/*
 * Parse a copy of buf[0..len) held in a heap block of exactly len bytes.
 * With copy, the caller frees the block; without, it stays valid (so does
 * *msg) until the next such call.
 */
static int parse_exact(const uint8_t *buf, size_t len, struct coap_msg *msg,
		       uint8_t **copy)
{
	static uint8_t *last;
	uint8_t *c = malloc(len ? len : 1);
	int ret;

	if (!c)
		abort();
	if (len)
		memcpy(c, buf, len);
	ret = coap_parse(c, len, msg);
	if (copy) {
		*copy = c;
	} else {
		free(last);
		last = c;
	}
	return ret;
}

static int parse_bytes(const uint8_t *buf, size_t len)
{
	struct coap_msg msg;

	return parse_exact(buf, len, &msg, NULL);
}

/* Count the options of a parsed message. */
static int count_options(const struct coap_msg *msg)
{
	struct coap_opt_iter it;
	struct coap_option opt;
	int n = 0;

	coap_opt_iter_init(&it, msg);
	while (coap_opt_next(&it, &opt))
		n++;
	return n;
}

/* AES-128-CBC with the protocol's fixed IV, as the vendor SDKs do it. */
static const uint8_t sdk_iv[16] = "543yhjy97ae7fyfg";

static int aes_cbc(int enc, const uint8_t key[16], const uint8_t *in,
		   int inlen, uint8_t *out, int padding)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = -1, m = 0;

	if (!ctx)
		return -1;
	if (EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, sdk_iv,
			      enc) != 1)
		goto out;
	EVP_CIPHER_CTX_set_padding(ctx, padding);
	if (EVP_CipherUpdate(ctx, out, &n, in, inlen) != 1) {
		n = -1;
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, out + n, &m) != 1) {
		n = -1;
		goto out;
	}
	n += m;
out:
	EVP_CIPHER_CTX_free(ctx);
	return n;
}

/* ---------------------------------------------------------------- header */

TEST(header_minimal)
{
	static const uint8_t m[] = { 0x40, 0x01, 0x12, 0x34 };
	struct coap_msg msg;

	ASSERT_EQ(0, coap_parse(m, sizeof(m), &msg));
	EXPECT_EQ(COAP_TYPE_CON, msg.type);
	EXPECT_EQ(COAP_CODE_GET, msg.code);
	EXPECT_EQ(0x1234, msg.message_id);
	EXPECT_EQ(0, msg.token_len);
	EXPECT_EQ(&m[0], msg.data);
	EXPECT_EQ(4u, msg.len);
	EXPECT_EQ(&m[4], msg.token);
	EXPECT_EQ(0u, msg.options_len);
	EXPECT_NULL(msg.payload);
	EXPECT_EQ(0u, msg.payload_len);
	EXPECT_EQ(0, count_options(&msg));
}

TEST(header_types_and_codes)
{
	uint8_t m[4] = { 0, 0, 0xff, 0xfe };
	struct coap_msg msg;
	int type, code;

	for (type = 0; type < 4; type++) {
		for (code = 0; code < 256; code++) {
			int cls = code >> 5;
			int want = (cls == 1 || cls == 6 || cls == 7) ?
				   -EPROTO : 0;

			m[0] = (uint8_t)(0x40 | type << 4);
			m[1] = (uint8_t)code;
			ASSERT_EQ(want, parse_exact(m, 4, &msg, NULL));
			if (want)
				continue;
			ASSERT_EQ(type, msg.type);
			ASSERT_EQ(code, msg.code);
			ASSERT_EQ(0xfffe, msg.message_id);
		}
	}
}

TEST(header_version)
{
	uint8_t m[] = { 0x40, 0x01, 0, 1 };
	int v;

	for (v = 0; v < 4; v++) {
		m[0] = (uint8_t)(v << 6);
		EXPECT_EQ(v == 1 ? 0 : -EPROTONOSUPPORT, parse_bytes(m, 4));
	}
	/* Version is checked before the rest of the header. */
	m[0] = 0x8f;
	EXPECT_EQ(-EPROTONOSUPPORT, parse_bytes(m, 4));
}

TEST(header_truncated)
{
	static const uint8_t m[] = { 0x40, 0x01, 0x12, 0x34 };
	struct coap_msg msg;
	size_t len;

	EXPECT_EQ(-EPROTO, coap_parse(NULL, 0, &msg));
	for (len = 0; len < 4; len++)
		EXPECT_EQ(-EPROTO, parse_bytes(m, len));
}

TEST(token_lengths)
{
	uint8_t m[4 + 15];
	struct coap_msg msg;
	int tkl, i;

	for (i = 0; i < 15; i++)
		m[4 + i] = (uint8_t)(0xa0 + i);
	m[1] = COAP_CODE_POST;
	m[2] = 0;
	m[3] = 7;
	for (tkl = 0; tkl < 16; tkl++) {
		m[0] = (uint8_t)(0x40 | tkl);
		if (tkl > 8) {
			EXPECT_EQ(-EPROTO, parse_bytes(m, sizeof(m)));
			EXPECT_EQ(-EPROTO, parse_bytes(m, 4 + tkl));
			continue;
		}
		/* Exactly the token: accepted. */
		ASSERT_EQ(0, parse_exact(m, 4 + tkl, &msg, NULL));
		EXPECT_EQ(tkl, msg.token_len);
		/* A token cut short: rejected. */
		if (tkl)
			EXPECT_EQ(-EPROTO, parse_bytes(m, 4 + tkl - 1));
	}
	m[0] = 0x48;
	ASSERT_EQ(0, coap_parse(m, 12, &msg));
	EXPECT_EQ(0, memcmp(msg.token, m + 4, 8));
	EXPECT_EQ(m + 12, msg.options);
	EXPECT_EQ(0u, msg.options_len);
}

TEST(message_size)
{
	uint8_t *m = calloc(1, COAP_MAX_MESSAGE + 2);
	struct coap_msg msg;

	ASSERT_NE(NULL, m);
	m[0] = 0x40;
	m[1] = COAP_CODE_POST;
	m[4] = 0xff;
	/* 1280 bytes: header, marker, 1275 bytes of payload. */
	ASSERT_EQ(0, parse_exact(m, COAP_MAX_MESSAGE, &msg, NULL));
	EXPECT_EQ((size_t)COAP_MAX_MESSAGE - 5, msg.payload_len);
	EXPECT_EQ(-EMSGSIZE, parse_bytes(m, COAP_MAX_MESSAGE + 1));
	EXPECT_EQ(-EMSGSIZE, coap_parse(m, (size_t)-1, &msg));
	/* Size is checked first, even for garbage. */
	m[0] = 0;
	EXPECT_EQ(-EMSGSIZE, parse_bytes(m, COAP_MAX_MESSAGE + 2));
	free(m);
}

/* --------------------------------------------------------- empty message */

TEST(empty_message)
{
	uint8_t m[8] = { 0x40, 0x00, 0xbe, 0xef, 0xff, 0x01, 0, 0 };
	struct coap_msg msg;
	int type;

	for (type = 0; type < 4; type++) {
		m[0] = (uint8_t)(0x40 | type << 4);
		ASSERT_EQ(0, parse_exact(m, 4, &msg, NULL));
		EXPECT_EQ(type, msg.type);
		EXPECT_EQ(COAP_CODE_EMPTY, msg.code);
		EXPECT_EQ(0xbeef, msg.message_id);
		EXPECT_EQ(0, count_options(&msg));
		/* Any byte after the header: format error. */
		EXPECT_EQ(-EPROTO, parse_bytes(m, 5));
		EXPECT_EQ(-EPROTO, parse_bytes(m, 6));
	}
	/* An empty message with a token. */
	m[0] = 0x61;
	EXPECT_EQ(-EPROTO, parse_bytes(m, 5));
	m[0] = 0x68;
	EXPECT_EQ(-EPROTO, parse_bytes(m, sizeof(m)));
	/* An empty message with an option. */
	m[0] = 0x60;
	m[4] = 0x10;
	EXPECT_EQ(-EPROTO, parse_bytes(m, 5));
}

/* --------------------------------------------------------------- options */

/*
 * Hand-encoded option headers for the delta / length boundaries of
 * RFC 7252 §3.1 (independent of the builder).
 */
struct ext_case {
	uint32_t value;
	uint8_t nibble;
	uint8_t ext[2];
	uint8_t ext_len;
};

static const struct ext_case ext_cases[] = {
	{ 0, 0, { 0 }, 0 },
	{ 1, 1, { 0 }, 0 },
	{ 11, 11, { 0 }, 0 },
	{ 12, 12, { 0 }, 0 },
	{ 13, 13, { 0x00 }, 1 },
	{ 14, 13, { 0x01 }, 1 },
	{ 100, 13, { 87 }, 1 },
	{ 267, 13, { 0xfe }, 1 },
	{ 268, 13, { 0xff }, 1 },
	{ 269, 14, { 0x00, 0x00 }, 2 },
	{ 270, 14, { 0x00, 0x01 }, 2 },
	{ 524, 14, { 0x00, 0xff }, 2 },
	{ 525, 14, { 0x01, 0x00 }, 2 },
	{ 1000, 14, { 0x02, 0xdb }, 2 },
	{ 2088, 14, { 0x07, 0x1b }, 2 },
	{ 65535, 14, { 0xfe, 0xf2 }, 2 },
};

/* Encode [hdr][delta ext][len ext][value] by hand into out; return len. */
static size_t hand_option(uint8_t *out, const struct ext_case *d,
			  const struct ext_case *l, uint8_t fill)
{
	size_t n = 0, i;

	out[n++] = (uint8_t)(d->nibble << 4 | l->nibble);
	for (i = 0; i < d->ext_len; i++)
		out[n++] = d->ext[i];
	for (i = 0; i < l->ext_len; i++)
		out[n++] = l->ext[i];
	for (i = 0; i < l->value; i++)
		out[n++] = (uint8_t)(fill + i);
	return n;
}

TEST(option_delta_and_length_encodings)
{
	static uint8_t m[COAP_MAX_MESSAGE];
	uint8_t built[COAP_MAX_MESSAGE];
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_builder b;
	struct coap_msg msg;
	size_t di, li, n, i;

	for (di = 0; di < ARRAY_SIZE(ext_cases); di++) {
		for (li = 0; li < ARRAY_SIZE(ext_cases); li++) {
			const struct ext_case *d = &ext_cases[di];
			const struct ext_case *l = &ext_cases[li];

			if (l->value > 1000)
				continue;
			m[0] = 0x40;
			m[1] = COAP_CODE_POST;
			m[2] = 0;
			m[3] = 1;
			n = 4 + hand_option(m + 4, d, l, 0x30);

			ASSERT_EQ(0, parse_exact(m, n, &msg, NULL));
			EXPECT_EQ(n - 4, msg.options_len);
			coap_opt_iter_init(&it, &msg);
			ASSERT_TRUE(coap_opt_next(&it, &opt));
			EXPECT_EQ(d->value, opt.number);
			EXPECT_EQ(l->value, opt.len);
			for (i = 0; i < l->value; i++)
				ASSERT_EQ((uint8_t)(0x30 + i), opt.value[i]);
			EXPECT_FALSE(coap_opt_next(&it, &opt));
			/* Exhausted iterators stay exhausted. */
			EXPECT_FALSE(coap_opt_next(&it, &opt));

			/* The builder emits exactly the same bytes. */
			coap_builder_init(&b, built, sizeof(built),
					  COAP_TYPE_CON, COAP_CODE_POST, 1,
					  NULL, 0);
			coap_builder_add_option(&b, (uint16_t)d->value,
						m + n - l->value, l->value);
			ASSERT_EQ((int)n, coap_builder_finish(&b));
			ASSERT_EQ(0, memcmp(m, built, n));

			/* Every shorter copy is rejected (no payload). */
			for (i = 5; i < n; i++)
				ASSERT_EQ(-EPROTO, parse_bytes(m, i));
		}
	}
}

/* Every delta 0..65535 and every length that fits, through both sides. */
TEST(option_every_number_and_length)
{
	uint8_t buf[COAP_MAX_MESSAGE], val[COAP_MAX_MESSAGE];
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_builder b;
	struct coap_msg msg;
	uint32_t num;
	size_t len, i;
	int n;

	for (i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i * 7);
	for (num = 0; num <= 0xffff; num++) {
		coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_NON,
				  COAP_CODE_POST, 2, NULL, 0);
		coap_builder_add_option(&b, (uint16_t)num, val, 3);
		n = coap_builder_finish(&b);
		ASSERT_EQ(num < 13 ? 8 : num < 269 ? 9 : 10, n);
		ASSERT_EQ(0, coap_parse(buf, (size_t)n, &msg));
		coap_opt_iter_init(&it, &msg);
		ASSERT_TRUE(coap_opt_next(&it, &opt));
		ASSERT_EQ(num, opt.number);
		ASSERT_EQ(3, opt.len);
		ASSERT_FALSE(coap_opt_next(&it, &opt));
	}
	/* 4 header + 1 option header + 2 delta + 2 length ext: 1271 max. */
	for (len = 0; len <= COAP_MAX_MESSAGE - 9; len++) {
		uint8_t *copy;

		coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_NON,
				  COAP_CODE_POST, 2, NULL, 0);
		coap_builder_add_option(&b, 2089, val, len);
		n = coap_builder_finish(&b);
		ASSERT_EQ((int)(len + 4 + 3 + (len < 13 ? 0 : len < 269 ? 1 : 2)),
			  n);
		ASSERT_EQ(0, parse_exact(buf, (size_t)n, &msg, &copy));
		coap_opt_iter_init(&it, &msg);
		ASSERT_TRUE(coap_opt_next(&it, &opt));
		ASSERT_EQ(2089, opt.number);
		ASSERT_EQ(len, opt.len);
		ASSERT_EQ(0, memcmp(opt.value, val, len));
		ASSERT_FALSE(coap_opt_next(&it, &opt));
		free(copy);
	}
	/* One more byte does not fit in a 1280-byte message. */
	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_NON,
			  COAP_CODE_POST, 2, NULL, 0);
	coap_builder_add_option(&b, 2089, val, COAP_MAX_MESSAGE - 8);
	EXPECT_EQ(-ENOSPC, coap_builder_finish(&b));
}

TEST(option_numbers_near_65535)
{
	/* 65535 (14: 269 + 0xfef2), value "x". */
	uint8_t m[16] = { 0x40, 0x02, 0, 1, 0xe1, 0xfe, 0xf2, 'x' };
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_msg msg;

	ASSERT_EQ(0, parse_exact(m, 8, &msg, NULL));
	coap_opt_iter_init(&it, &msg);
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(65535, opt.number);
	EXPECT_EQ(1, opt.len);
	EXPECT_EQ('x', opt.value[0]);

	/* Repeating 65535 (delta 0) is fine. */
	m[8] = 0x00;
	ASSERT_EQ(0, parse_exact(m, 9, &msg, NULL));
	EXPECT_EQ(2, count_options(&msg));
	/* 65535 + 1: overflow. */
	m[8] = 0x10;
	EXPECT_EQ(-EPROTO, parse_bytes(m, 9));
	/* 65535 + 268. */
	m[8] = 0xd0;
	m[9] = 0xff;
	EXPECT_EQ(-EPROTO, parse_bytes(m, 10));

	/* A single delta of 269 + 0xffff = 65804: overflow. */
	m[4] = 0xe0;
	m[5] = 0xff;
	m[6] = 0xff;
	EXPECT_EQ(-EPROTO, parse_bytes(m, 7));
	/* 0xfef3 + 269 = 65536: overflow by one. */
	m[5] = 0xfe;
	m[6] = 0xf3;
	EXPECT_EQ(-EPROTO, parse_bytes(m, 7));
	/* 0xfef2 + 269 = 65535: fine. */
	m[6] = 0xf2;
	EXPECT_EQ(0, parse_bytes(m, 7));

	/* Sum over several options: 60000 + 5535 ok, + 1 more overflows. */
	m[4] = 0xe0;
	m[5] = (uint8_t)((60000 - 269) >> 8);
	m[6] = (uint8_t)(60000 - 269);
	m[7] = 0xe0;
	m[8] = (uint8_t)((5535 - 269) >> 8);
	m[9] = (uint8_t)(5535 - 269);
	ASSERT_EQ(0, parse_exact(m, 10, &msg, NULL));
	coap_opt_iter_init(&it, &msg);
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(60000, opt.number);
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(65535, opt.number);
	m[10] = 0x10;
	EXPECT_EQ(-EPROTO, parse_bytes(m, 11));
}

TEST(option_nibble_15)
{
	/* Enough bytes after it that only the nibble rule can reject. */
	uint8_t m[40] = { 0x40, 0x02, 0, 1 };
	int nib;

	for (nib = 0; nib < 15; nib++) {
		/* Delta 15 with any length nibble but 15. */
		m[4] = (uint8_t)(0xf0 | nib);
		EXPECT_EQ(-EPROTO, parse_bytes(m, sizeof(m)));
		/* Length 15 with any delta nibble but 15. */
		m[4] = (uint8_t)(nib << 4 | 0x0f);
		EXPECT_EQ(-EPROTO, parse_bytes(m, sizeof(m)));
	}
	/* After a valid option too. */
	m[4] = 0x10;
	m[5] = 0x1f;
	EXPECT_EQ(-EPROTO, parse_bytes(m, sizeof(m)));
	m[5] = 0xf1;
	EXPECT_EQ(-EPROTO, parse_bytes(m, sizeof(m)));
	/* The same bytes with 12 instead of 15 are fine. */
	m[5] = 0x1c;
	EXPECT_EQ(0, parse_bytes(m, 4 + 1 + 1 + 12));
}

TEST(option_truncated_extension_or_value)
{
	/* Each is a complete message that ends inside an option. */
	static const struct {
		uint8_t bytes[8];
		size_t len;
	} bad[] = {
		{ { 0x40, 2, 0, 1, 0xd0 }, 5 },			/* delta 13, no ext */
		{ { 0x40, 2, 0, 1, 0xe0 }, 5 },			/* delta 14, no ext */
		{ { 0x40, 2, 0, 1, 0xe0, 0x01 }, 6 },		/* delta 14, 1 of 2 */
		{ { 0x40, 2, 0, 1, 0x0d }, 5 },			/* len 13, no ext */
		{ { 0x40, 2, 0, 1, 0x0e, 0x00 }, 6 },		/* len 14, 1 of 2 */
		{ { 0x40, 2, 0, 1, 0xdd, 0x00 }, 6 },		/* len ext missing */
		{ { 0x40, 2, 0, 1, 0xee, 0, 0, 0 }, 8 },	/* len ext 1 of 2 */
		{ { 0x40, 2, 0, 1, 0x01 }, 5 },			/* value missing */
		{ { 0x40, 2, 0, 1, 0x13, 'a', 'b' }, 7 },	/* value short */
		{ { 0x40, 2, 0, 1, 0x0d, 0x00, 'a' }, 7 },	/* 13 wanted */
		{ { 0x40, 2, 0, 1, 0x0e, 0xff, 0xff, 'a' }, 8 },/* 65804 wanted */
		{ { 0x41, 2, 0, 1, 0x99, 0xb2, 'a' }, 7 },	/* after token */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EPROTO, parse_bytes(bad[i].bytes, bad[i].len)) {
			TH_LOG("case %zu", i);
		}
}

/* ------------------------------------------------------- payload marker */

TEST(payload_marker)
{
	uint8_t m[] = { 0x42, 0x02, 0, 1, 't', 'k', 0xb1, 'x', 0xff, 0xff,
			0x00, 'p' };
	struct coap_msg msg;

	/* Options, marker, then a payload that itself holds 0xff. */
	ASSERT_EQ(0, parse_exact(m, sizeof(m), &msg, NULL));
	EXPECT_EQ(2u, msg.options_len);
	EXPECT_EQ(msg.data + 6, msg.options);
	EXPECT_EQ(msg.data + 9, msg.payload);
	EXPECT_EQ(3u, msg.payload_len);
	EXPECT_EQ(1, count_options(&msg));

	/* Marker followed by exactly one byte. */
	ASSERT_EQ(0, parse_exact(m, 10, &msg, NULL));
	EXPECT_EQ(1u, msg.payload_len);
	EXPECT_EQ(0xff, msg.payload[0]);

	/* Marker followed by nothing. */
	EXPECT_EQ(-EPROTO, parse_bytes(m, 9));

	/* No options: marker right after the token. */
	m[6] = 0xff;
	ASSERT_EQ(0, parse_exact(m, 8, &msg, NULL));
	EXPECT_EQ(0u, msg.options_len);
	EXPECT_EQ(1u, msg.payload_len);
	EXPECT_EQ('x', msg.payload[0]);
	EXPECT_EQ(0, count_options(&msg));
	EXPECT_EQ(-EPROTO, parse_bytes(m, 7));

	/* No marker: no payload. */
	m[6] = 0xb1;
	ASSERT_EQ(0, parse_exact(m, 8, &msg, NULL));
	EXPECT_NULL(msg.payload);
	EXPECT_EQ(0u, msg.payload_len);
	EXPECT_EQ(2u, msg.options_len);
}

/* ------------------------------------------------- truncation everywhere */

/*
 * Build a message while recording the prefix lengths that are themselves
 * valid messages (each option boundary; any length inside the payload past
 * its first byte), then parse every prefix in an exact-size heap copy.
 */
static void check_all_prefixes(struct __test_metadata *_metadata,
			       const uint8_t *m, size_t len,
			       const size_t *ok, size_t n_ok,
			       size_t payload_from)
{
	size_t l, i;

	for (l = 0; l < len; l++) {
		bool want = payload_from && l >= payload_from;
		struct coap_msg msg;
		uint8_t *copy;
		int ret;

		for (i = 0; i < n_ok; i++)
			if (ok[i] == l)
				want = true;
		ret = parse_exact(m, l, &msg, &copy);
		if (want) {
			ASSERT_EQ(0, ret) {
				TH_LOG("prefix %zu of %zu", l, len);
			}
			/* The iterator stays inside the prefix too. */
			count_options(&msg);
		} else {
			ASSERT_NE(0, ret) {
				TH_LOG("prefix %zu of %zu accepted", l, len);
			}
		}
		free(copy);
	}
	ASSERT_EQ(0, parse_bytes(m, len));
}

static const uint8_t test_token[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

TEST(truncated_copies_of_valid_messages)
{
	uint8_t big[400];
	uint8_t buf[COAP_MAX_MESSAGE];
	size_t ok[16], n_ok = 0, marker;
	struct coap_builder b;
	int len;

	memset(big, 'B', sizeof(big));
	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_CON, COAP_CODE_POST,
			  0x4242, test_token, 8);
	ok[n_ok++] = b.len;
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "topic", 5);
	ok[n_ok++] = b.len;
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "", 0);
	ok[n_ok++] = b.len;
	coap_builder_add_option(&b, COAP_OPT_CONTENT_FORMAT, NULL, 0);
	ok[n_ok++] = b.len;
	coap_builder_add_option(&b, 300, big, 20);	/* delta 14 */
	ok[n_ok++] = b.len;
	coap_builder_add_option(&b, 2088, big, 300);	/* len 14 */
	ok[n_ok++] = b.len;
	coap_builder_add_option(&b, 2089, big, 16);
	ok[n_ok++] = b.len;
	coap_builder_add_option(&b, 65535, big, 13);
	ok[n_ok++] = b.len;
	marker = b.len;
	coap_builder_set_payload(&b, "{\"temperature\":21.5}", 20);
	len = coap_builder_finish(&b);
	ASSERT_GT(len, 0);
	check_all_prefixes(_metadata, buf, (size_t)len, ok, n_ok, marker + 2);

	/* Without a payload. */
	n_ok = 0;
	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_ACK,
			  COAP_CODE_CONTENT, 7, test_token, 3);
	ok[n_ok++] = b.len;
	coap_builder_add_uint_option(&b, COAP_OPT_CONTENT_FORMAT, 50);
	ok[n_ok++] = b.len;
	coap_builder_add_option(&b, COAP_OPT_MESSAGE_ID, "\0\0\0\0\0\0\1\2", 8);
	ok[n_ok++] = b.len;
	len = coap_builder_finish(&b);
	ASSERT_GT(len, 0);
	check_all_prefixes(_metadata, buf, (size_t)len, ok, n_ok - 1, 0);
}

/* A stray iterator over bytes nobody validated stays in bounds. */
TEST(iterator_on_unvalidated_bytes)
{
	static const uint8_t junk[][6] = {
		{ 0xd0 }, { 0xe0, 0x01 }, { 0x0d }, { 0x0e, 0x00 },
		{ 0x05, 'a' }, { 0xf0 }, { 0x0f }, { 0xe0, 0xff, 0xff, 0x10 },
	};
	static const size_t junk_len[] = { 1, 2, 1, 2, 2, 1, 1, 4 };
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_msg msg;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(junk); i++) {
		uint8_t *c = malloc(junk_len[i]);
		int n = 0;

		ASSERT_NE(NULL, c);
		memcpy(c, junk[i], junk_len[i]);
		memset(&msg, 0, sizeof(msg));
		msg.options = c;
		msg.options_len = junk_len[i];
		coap_opt_iter_init(&it, &msg);
		while (coap_opt_next(&it, &opt))
			n++;
		EXPECT_LE(n, 1);
		free(c);
	}
	/* A zeroed msg has no options. */
	memset(&msg, 0, sizeof(msg));
	coap_opt_iter_init(&it, &msg);
	EXPECT_FALSE(coap_opt_next(&it, &opt));
}

/* -------------------------------------------------------------- builder */

TEST(builder_round_trip)
{
	static const uint8_t payload[] = "hello, \xff world";
	uint8_t buf[COAP_MAX_MESSAGE];
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_builder b;
	struct coap_msg msg;
	int len;

	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_NON, COAP_CODE_POST,
			  0xabcd, test_token, 5);
	coap_builder_add_option(&b, COAP_OPT_URI_HOST, "gw", 2);
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "a", 1);
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "bb", 2);
	coap_builder_add_uint_option(&b, COAP_OPT_CONTENT_FORMAT, 0);
	coap_builder_add_uint_option(&b, COAP_OPT_ACCEPT, 60);
	coap_builder_add_uint_option(&b, 1000, 0x0102030405060708ULL);
	coap_builder_add_option(&b, COAP_OPT_AUTH_TOKEN, "tok", 3);
	coap_builder_set_payload(&b, payload, sizeof(payload) - 1);
	len = coap_builder_finish(&b);
	ASSERT_GT(len, 0);
	EXPECT_EQ((size_t)len, b.len);

	ASSERT_EQ(0, coap_parse(buf, (size_t)len, &msg));
	EXPECT_EQ(COAP_TYPE_NON, msg.type);
	EXPECT_EQ(COAP_CODE_POST, msg.code);
	EXPECT_EQ(0xabcd, msg.message_id);
	EXPECT_EQ(5, msg.token_len);
	EXPECT_EQ(0, memcmp(msg.token, test_token, 5));
	ASSERT_EQ(sizeof(payload) - 1, msg.payload_len);
	EXPECT_EQ(0, memcmp(msg.payload, payload, msg.payload_len));

	coap_opt_iter_init(&it, &msg);
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(3, opt.number);
	EXPECT_EQ(0, memcmp(opt.value, "gw", 2));
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(11, opt.number);
	EXPECT_EQ(1, opt.len);
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(11, opt.number);
	EXPECT_EQ(2, opt.len);
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(12, opt.number);
	EXPECT_EQ(0, opt.len);
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(17, opt.number);
	EXPECT_EQ(1, opt.len);
	EXPECT_EQ(60, opt.value[0]);
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(1000, opt.number);
	ASSERT_EQ(8, opt.len);
	EXPECT_EQ(0, memcmp(opt.value, "\1\2\3\4\5\6\7\x08", 8));
	ASSERT_TRUE(coap_opt_next(&it, &opt));
	EXPECT_EQ(2088, opt.number);
	EXPECT_EQ(0, memcmp(opt.value, "tok", 3));
	EXPECT_FALSE(coap_opt_next(&it, &opt));

	EXPECT_TRUE(coap_find_option(&msg, 17, &opt));
	EXPECT_EQ(60, opt.value[0]);
	EXPECT_FALSE(coap_find_option(&msg, 2089, &opt));
	EXPECT_FALSE(coap_find_option(&msg, 4, &opt));
}

TEST(builder_uint_option_minimal)
{
	static const struct {
		uint64_t v;
		size_t len;
		uint8_t bytes[8];
	} cases[] = {
		{ 0, 0, { 0 } },
		{ 1, 1, { 1 } },
		{ 255, 1, { 0xff } },
		{ 256, 2, { 1, 0 } },
		{ 65535, 2, { 0xff, 0xff } },
		{ 65536, 3, { 1, 0, 0 } },
		{ 0x1234567890ULL, 5, { 0x12, 0x34, 0x56, 0x78, 0x90 } },
		{ UINT64_MAX, 8, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				   0xff } },
	};
	uint8_t buf[64];
	struct coap_builder b;
	struct coap_option opt;
	struct coap_msg msg;
	size_t i;
	int len;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_CON,
				  COAP_CODE_GET, 1, NULL, 0);
		coap_builder_add_uint_option(&b, COAP_OPT_ACCEPT, cases[i].v);
		len = coap_builder_finish(&b);
		ASSERT_EQ((int)(4 + 2 + cases[i].len), len);
		ASSERT_EQ(0, coap_parse(buf, (size_t)len, &msg));
		ASSERT_TRUE(coap_find_option(&msg, COAP_OPT_ACCEPT, &opt));
		ASSERT_EQ(cases[i].len, opt.len);
		EXPECT_EQ(0, memcmp(opt.value, cases[i].bytes, opt.len));
	}
}

/* Build the same message into every cap below its size. */
static int build_sample(uint8_t *buf, size_t cap)
{
	static const uint8_t big[300];
	struct coap_builder b;

	coap_builder_init(&b, buf, cap, COAP_TYPE_CON, COAP_CODE_POST, 9,
			  test_token, 4);
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "topic", 5);
	coap_builder_add_option(&b, 400, big, 13);
	coap_builder_add_option(&b, 2088, big, 269);
	coap_builder_add_uint_option(&b, 2090, 0xffffffffffULL);
	coap_builder_set_payload(&b, "abc", 3);
	return coap_builder_finish(&b);
}

TEST(builder_enospc_at_every_cap)
{
	uint8_t full[COAP_MAX_MESSAGE];
	int need, again;
	size_t cap;

	need = build_sample(full, sizeof(full));
	ASSERT_GT(need, 0);
	for (cap = 0; cap <= (size_t)need; cap++) {
		uint8_t *buf = malloc(cap ? cap : 1);

		ASSERT_NE(NULL, buf);
		again = build_sample(cap ? buf : NULL, cap);
		if (cap < (size_t)need) {
			ASSERT_EQ(-ENOSPC, again) {
				TH_LOG("cap %zu", cap);
			}
		} else {
			ASSERT_EQ(need, again);
			ASSERT_EQ(0, memcmp(buf, full, cap));
		}
		free(buf);
	}
}

TEST(builder_misuse)
{
	uint8_t buf[64];
	struct coap_builder b;

	/* Decreasing option numbers. */
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE_POST, 1, NULL, 0);
	coap_builder_add_option(&b, 12, "a", 1);
	coap_builder_add_option(&b, 12, "b", 1);	/* repeat: fine */
	EXPECT_EQ(8, coap_builder_finish(&b));
	coap_builder_add_option(&b, 11, "c", 1);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	/* Sticky: nothing more is written, the first error stays. */
	coap_builder_add_option(&b, 2000, buf, 60);
	coap_builder_set_payload(&b, "x", 1);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	EXPECT_EQ(8u, b.len);

	/* Option after the payload, even an empty payload. */
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE_POST, 1, NULL, 0);
	coap_builder_set_payload(&b, "x", 1);
	coap_builder_add_option(&b, 12, "a", 1);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE_POST, 1, NULL, 0);
	coap_builder_set_payload(&b, NULL, 0);
	EXPECT_EQ(4, coap_builder_finish(&b));
	coap_builder_add_option(&b, 12, "a", 1);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));

	/* Payload twice. */
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE_POST, 1, NULL, 0);
	coap_builder_set_payload(&b, "x", 1);
	coap_builder_set_payload(&b, "y", 1);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));

	/* Bad header arguments. */
	coap_builder_init(&b, buf, sizeof(buf), 4, COAP_CODE_POST, 1, NULL, 0);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE_POST, 1,
			  test_token, 9);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE_POST, 1, NULL, 2);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE(1, 0), 1, NULL,
			  0);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE(7, 31), 1, NULL,
			  0);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	/* Misuse wins over lack of space. */
	coap_builder_init(&b, buf, 0, 4, COAP_CODE_POST, 1, NULL, 0);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));

	/* Empty message: header only. */
	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_ACK, COAP_CODE_EMPTY,
			  0x77, NULL, 0);
	EXPECT_EQ(4, coap_builder_finish(&b));
	EXPECT_EQ(0, parse_bytes(buf, 4));
	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_ACK, COAP_CODE_EMPTY,
			  0x77, test_token, 1);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_ACK, COAP_CODE_EMPTY,
			  0x77, NULL, 0);
	coap_builder_add_option(&b, 12, NULL, 0);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_ACK, COAP_CODE_EMPTY,
			  0x77, NULL, 0);
	coap_builder_set_payload(&b, "x", 1);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));

	/* NULL value with a length. */
	coap_builder_init(&b, buf, sizeof(buf), 0, COAP_CODE_POST, 1, NULL, 0);
	coap_builder_add_option(&b, 12, NULL, 1);
	EXPECT_EQ(-EINVAL, coap_builder_finish(&b));
}

TEST(builder_cap_clamped_to_max_message)
{
	static uint8_t big[2 * COAP_MAX_MESSAGE];
	struct coap_builder b;
	struct coap_msg msg;
	int len;

	/* Exactly 1280 fits even with a larger buffer... */
	coap_builder_init(&b, big, sizeof(big), 0, COAP_CODE_POST, 1, NULL, 0);
	coap_builder_set_payload(&b, big + COAP_MAX_MESSAGE,
				 COAP_MAX_MESSAGE - 5);
	len = coap_builder_finish(&b);
	ASSERT_EQ(COAP_MAX_MESSAGE, len);
	EXPECT_EQ(0, coap_parse(big, (size_t)len, &msg));
	/* ...one more does not, so every built message parses. */
	coap_builder_init(&b, big, sizeof(big), 0, COAP_CODE_POST, 1, NULL, 0);
	coap_builder_set_payload(&b, big + COAP_MAX_MESSAGE,
				 COAP_MAX_MESSAGE - 4);
	EXPECT_EQ(-ENOSPC, coap_builder_finish(&b));
}

/* ------------------------------------------------------------- uri path */

static int build_path(uint8_t *buf, size_t cap, const char *const *segs,
		      size_t n, const size_t *lens)
{
	struct coap_builder b;
	size_t i;

	coap_builder_init(&b, buf, cap, COAP_TYPE_CON, COAP_CODE_POST, 1,
			  test_token, 2);
	coap_builder_add_option(&b, COAP_OPT_URI_HOST, "host", 4);
	for (i = 0; i < n; i++)
		coap_builder_add_option(&b, COAP_OPT_URI_PATH, segs[i],
					lens ? lens[i] : strlen(segs[i]));
	coap_builder_add_uint_option(&b, COAP_OPT_CONTENT_FORMAT, 50);
	coap_builder_add_option(&b, COAP_OPT_AUTH_TOKEN, "tk/x", 4);
	return coap_builder_finish(&b);
}

TEST(uri_path_topic)
{
	static const char *const segs[] = {
		"topic", "a1PK", "dev1", "user", "update",
	};
	static const char want[] = "/topic/a1PK/dev1/user/update";
	uint8_t buf[256];
	struct coap_msg msg;
	char out[64];
	size_t cap;
	int len;

	len = build_path(buf, sizeof(buf), segs, ARRAY_SIZE(segs), NULL);
	ASSERT_GT(len, 0);
	ASSERT_EQ(0, coap_parse(buf, (size_t)len, &msg));
	ASSERT_EQ((int)strlen(want), coap_uri_path(&msg, out, sizeof(out)));
	EXPECT_STREQ(want, out);

	/* Exactly enough room, then every smaller cap. */
	for (cap = sizeof(want); ; cap--) {
		char *o = malloc(cap ? cap : 1);
		int ret;

		ASSERT_NE(NULL, o);
		ret = coap_uri_path(&msg, cap ? o : NULL, cap);
		if (cap == sizeof(want)) {
			EXPECT_EQ((int)strlen(want), ret);
			EXPECT_STREQ(want, o);
		} else {
			EXPECT_EQ(-ENOSPC, ret);
			/* Truncated on a segment boundary, terminated. */
			if (cap)
				EXPECT_EQ(0, strncmp(o, want, strlen(o)));
		}
		free(o);
		if (!cap)
			break;
	}
}

TEST(uri_path_root_and_single)
{
	static const char *const auth[] = { "auth" };
	uint8_t buf[64];
	struct coap_msg msg;
	char out[8];
	int len;

	len = build_path(buf, sizeof(buf), NULL, 0, NULL);
	ASSERT_EQ(0, coap_parse(buf, (size_t)len, &msg));
	EXPECT_EQ(1, coap_uri_path(&msg, out, sizeof(out)));
	EXPECT_STREQ("/", out);
	EXPECT_EQ(1, coap_uri_path(&msg, out, 2));
	EXPECT_EQ(-ENOSPC, coap_uri_path(&msg, out, 1));
	EXPECT_STREQ("", out);
	EXPECT_EQ(-ENOSPC, coap_uri_path(&msg, NULL, 0));

	len = build_path(buf, sizeof(buf), auth, 1, NULL);
	ASSERT_EQ(0, coap_parse(buf, (size_t)len, &msg));
	EXPECT_EQ(5, coap_uri_path(&msg, out, sizeof(out)));
	EXPECT_STREQ("/auth", out);
	EXPECT_EQ(-ENOSPC, coap_uri_path(&msg, out, 5));
	EXPECT_STREQ("", out);

	/* An empty message has no path: "/". */
	buf[0] = 0x40;
	buf[1] = 0;
	ASSERT_EQ(0, coap_parse(buf, 4, &msg));
	EXPECT_EQ(1, coap_uri_path(&msg, out, sizeof(out)));
}

TEST(uri_path_bad_segments)
{
	static const struct {
		const char *segs[3];
		size_t lens[3];
	} bad[] = {
		{ { "topic", "", "x" }, { 5, 0, 1 } },
		{ { "", "a", "b" }, { 0, 1, 1 } },
		{ { "topic", "a/b", "x" }, { 5, 3, 1 } },
		{ { "/", "a", "b" }, { 1, 1, 1 } },
		{ { "topic", "a\0b", "x" }, { 5, 3, 1 } },
		{ { "topic", "x", "\0" }, { 5, 1, 1 } },
		{ { "topic", ".", "x" }, { 5, 1, 1 } },
		{ { "topic", "..", "x" }, { 5, 2, 1 } },
	};
	static const char *const fine[] = { "...", ".a", "a.", "..b" };
	uint8_t buf[128];
	struct coap_msg msg;
	char out[64];
	size_t i;
	int len;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		len = build_path(buf, sizeof(buf), bad[i].segs, 3,
				 bad[i].lens);
		ASSERT_GT(len, 0);
		ASSERT_EQ(0, coap_parse(buf, (size_t)len, &msg));
		EXPECT_EQ(-EINVAL, coap_uri_path(&msg, out, sizeof(out))) {
			TH_LOG("case %zu", i);
		}
		/* -EINVAL wins over -ENOSPC. */
		EXPECT_EQ(-EINVAL, coap_uri_path(&msg, out, 2));
	}
	len = build_path(buf, sizeof(buf), fine, ARRAY_SIZE(fine), NULL);
	ASSERT_EQ(0, coap_parse(buf, (size_t)len, &msg));
	EXPECT_EQ(14, coap_uri_path(&msg, out, sizeof(out)));
	EXPECT_STREQ("/.../.a/a./..b", out);
}

/* ---------------------------------------------------------- decimal seq */

static int seq_str(const char *s, uint64_t *v)
{
	size_t len = strlen(s);
	uint8_t *c = malloc(len ? len : 1);
	int ret;

	if (!c)
		abort();
	memcpy(c, s, len);
	ret = coap_parse_decimal_seq(c, len, v);
	free(c);
	return ret;
}

TEST(decimal_seq_good)
{
	uint64_t v;

	ASSERT_EQ(0, seq_str("0", &v));
	EXPECT_EQ(0u, v);
	ASSERT_EQ(0, seq_str("4912", &v));
	EXPECT_EQ(4912u, v);
	ASSERT_EQ(0, seq_str("000123", &v));
	EXPECT_EQ(123u, v);
	ASSERT_EQ(0, seq_str("000000000000000", &v));
	EXPECT_EQ(0u, v);
	ASSERT_EQ(0, seq_str("999999999999999", &v));
	EXPECT_EQ(999999999999999ULL, v);
	ASSERT_EQ(0, seq_str("123456789012345", &v));
	EXPECT_EQ(123456789012345ULL, v);
}

TEST(decimal_seq_hostile)
{
	static const char *const bad[] = {
		"", "1000000000000000", "9999999999999999",
		"18446744073709551615", "18446744073709551616",
		"99999999999999999999999", "+1", "-1", "1a", "a1", " 1",
		"1 ", "1 2", "0x10", "1.0", "1e3", "\t7", "١",
	};
	uint64_t v = 77;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, seq_str(bad[i], &v)) {
			TH_LOG("'%s' accepted", bad[i]);
		}
	}
	/* Embedded NUL, and a digit followed by the padding byte. */
	EXPECT_EQ(-EINVAL, coap_parse_decimal_seq((const uint8_t *)"1\0", 2,
						  &v));
	EXPECT_EQ(-EINVAL, coap_parse_decimal_seq((const uint8_t *)"12\x0e", 3,
						  &v));
	EXPECT_EQ(-EINVAL, coap_parse_decimal_seq(NULL, 0, &v));
	/* Every non-digit byte, alone and after a digit. */
	for (i = 0; i < 256; i++) {
		uint8_t s[2] = { '5', (uint8_t)i };

		if (i >= '0' && i <= '9')
			continue;
		EXPECT_EQ(-EINVAL, coap_parse_decimal_seq(s + 1, 1, &v));
		EXPECT_EQ(-EINVAL, coap_parse_decimal_seq(s, 2, &v));
	}
	/* *seq is left alone on error. */
	EXPECT_EQ(77u, v);
}

TEST(format_decimal)
{
	static const struct {
		uint64_t v;
		const char *s;
	} cases[] = {
		{ 0, "0" }, { 1, "1" }, { 9, "9" }, { 10, "10" },
		{ 4912, "4912" }, { 999999999999999ULL, "999999999999999" },
		{ 1000000000000000ULL, "1000000000000000" },
		{ 10000000000000000000ULL, "10000000000000000000" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	uint8_t out[20];
	char ref[32];
	uint64_t v, back, x = 88172645463325252ULL;
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		n = coap_format_decimal(cases[i].v, out);
		ASSERT_EQ(strlen(cases[i].s), n);
		EXPECT_EQ(0, memcmp(out, cases[i].s, n));
	}
	/* Against snprintf; round-trip through the parser when it fits. */
	for (i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (i % 64);
		n = coap_format_decimal(v, out);
		snprintf(ref, sizeof(ref), "%llu", (unsigned long long)v);
		ASSERT_EQ(strlen(ref), n);
		ASSERT_EQ(0, memcmp(out, ref, n));
		if (n <= COAP_SEQ_MAX_DIGITS) {
			ASSERT_EQ(0, coap_parse_decimal_seq(out, n, &back));
			ASSERT_EQ(v, back);
		} else {
			ASSERT_EQ(-EINVAL, coap_parse_decimal_seq(out, n,
								  &back));
		}
	}
}

/* --------------------------------------------------------------- pkcs#7 */

TEST(pkcs7_good)
{
	uint8_t b[32];
	int pad;

	for (pad = 1; pad <= 16; pad++) {
		memset(b, 'x', sizeof(b));
		memset(b + 32 - pad, pad, (size_t)pad);
		EXPECT_EQ(32 - pad, coap_pkcs7_unpad(b, 32));
		EXPECT_EQ(16 - pad, coap_pkcs7_unpad(b + 16, 16));
	}
	/* A full block of padding: empty plaintext. */
	memset(b, 16, 16);
	EXPECT_EQ(0, coap_pkcs7_unpad(b, 16));
	/* The byte before the padding may equal it. */
	memset(b, 3, 16);
	EXPECT_EQ(13, coap_pkcs7_unpad(b, 16));
}

TEST(pkcs7_bad)
{
	uint8_t b[48];
	int pad, i;

	memset(b, 'x', sizeof(b));
	b[15] = 0;
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 16));
	b[15] = 17;
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 16));
	b[15] = 0xff;
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 16));
	memset(b, 17, 32);
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 32));
	/* One differing pad byte, at every position of every pad length. */
	for (pad = 2; pad <= 16; pad++) {
		for (i = 0; i < pad - 1; i++) {
			memset(b, 'x', 16);
			memset(b + 16 - pad, pad, (size_t)pad);
			b[16 - pad + i] ^= 0x40;
			EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 16));
		}
	}
	/* Lengths that are not a positive multiple of 16. */
	memset(b, 1, sizeof(b));
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 0));
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 1));
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 15));
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 17));
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(b, 47));
	EXPECT_EQ(-EBADMSG, coap_pkcs7_unpad(NULL, 16));
	EXPECT_EQ(47, coap_pkcs7_unpad(b, 48));
}

/* ------------------------------------------------ the protocol, for real */

FIXTURE(publish) {
	uint8_t key[16];
	char token[65];
	uint8_t seq_ct[16];
	uint8_t buf[COAP_MAX_MESSAGE];
	int len;
	struct coap_msg msg;
};

FIXTURE_SETUP(publish)
{
	static const char *const segs[] = {
		"topic", "a1PK", "dev1", "user", "update",
	};
	static const char json[] = "{\"temperature\":21.5}";
	uint8_t ct[64], plain[20];
	struct coap_builder b;
	size_t i, n;
	int ctlen;

	for (i = 0; i < 16; i++)
		self->key[i] = (uint8_t)(0x11 * i);
	snprintf(self->token, sizeof(self->token), "%s",
		 "1f0e3dad99908345f7439f8ffabdffc4b5c6ad0d3a1fe1a1d48f47e8ec9b2de");
	/* seq 4913, as the SDK sends it: CBC(decimal ASCII), one block. */
	n = coap_format_decimal(4913, plain);
	ASSERT_EQ(16, aes_cbc(1, self->key, plain, (int)n, self->seq_ct, 1));
	ctlen = aes_cbc(1, self->key, (const uint8_t *)json,
			(int)sizeof(json) - 1, ct, 1);
	ASSERT_EQ(32, ctlen);

	coap_builder_init(&b, self->buf, sizeof(self->buf), COAP_TYPE_CON,
			  COAP_CODE_POST, 0x5a5a, test_token, 4);
	for (i = 0; i < ARRAY_SIZE(segs); i++)
		coap_builder_add_option(&b, COAP_OPT_URI_PATH, segs[i],
					strlen(segs[i]));
	coap_builder_add_option(&b, COAP_OPT_AUTH_TOKEN, self->token,
				strlen(self->token));
	coap_builder_add_option(&b, COAP_OPT_SEQ, self->seq_ct, 16);
	coap_builder_set_payload(&b, ct, (size_t)ctlen);
	self->len = coap_builder_finish(&b);
	ASSERT_GT(self->len, 0);
}

FIXTURE_TEARDOWN(publish)
{
}

TEST_F(publish, parses_and_iterates)
{
	static const uint16_t want[] = { 11, 11, 11, 11, 11, 2088, 2089 };
	struct coap_opt_iter it;
	struct coap_option opt;
	size_t n = 0;

	ASSERT_EQ(0, coap_parse(self->buf, (size_t)self->len, &self->msg));
	EXPECT_EQ(COAP_TYPE_CON, self->msg.type);
	EXPECT_EQ(COAP_CODE_POST, self->msg.code);
	EXPECT_EQ(0x5a5a, self->msg.message_id);
	EXPECT_EQ(4, self->msg.token_len);
	EXPECT_EQ(32u, self->msg.payload_len);

	coap_opt_iter_init(&it, &self->msg);
	while (coap_opt_next(&it, &opt)) {
		ASSERT_LT(n, ARRAY_SIZE(want));
		EXPECT_EQ(want[n], opt.number);
		if (opt.number == COAP_OPT_AUTH_TOKEN) {
			EXPECT_EQ(strlen(self->token), opt.len);
			EXPECT_EQ(0, memcmp(opt.value, self->token, opt.len));
		}
		if (opt.number == COAP_OPT_SEQ) {
			EXPECT_EQ(16, opt.len);
			EXPECT_TRUE(COAP_OPT_IS_CRITICAL(opt.number));
		}
		n++;
	}
	EXPECT_EQ(ARRAY_SIZE(want), n);
}

TEST_F(publish, path_seq_and_payload_decrypt)
{
	uint8_t plain[64];
	struct coap_option opt;
	char path[64];
	uint64_t seq;
	int n, len;

	ASSERT_EQ(0, coap_parse(self->buf, (size_t)self->len, &self->msg));
	ASSERT_EQ(28, coap_uri_path(&self->msg, path, sizeof(path)));
	EXPECT_STREQ("/topic/a1PK/dev1/user/update", path);
	EXPECT_FALSE(coap_find_option(&self->msg, COAP_OPT_TOKEN_ALIAS, &opt));

	/* What the fast path does: decrypt (no padding), unpad, parse. */
	ASSERT_TRUE(coap_find_option(&self->msg, COAP_OPT_SEQ, &opt));
	ASSERT_EQ(16, opt.len);
	n = aes_cbc(0, self->key, opt.value, opt.len, plain, 0);
	ASSERT_EQ(16, n);
	len = coap_pkcs7_unpad(plain, (size_t)n);
	ASSERT_EQ(4, len);
	ASSERT_EQ(0, coap_parse_decimal_seq(plain, (size_t)len, &seq));
	EXPECT_EQ(4913u, seq);

	n = aes_cbc(0, self->key, self->msg.payload,
		    (int)self->msg.payload_len, plain, 0);
	ASSERT_EQ(32, n);
	len = coap_pkcs7_unpad(plain, (size_t)n);
	ASSERT_EQ(20, len);
	EXPECT_EQ(0, memcmp(plain, "{\"temperature\":21.5}", 20));

	/* A wrong key: the seq does not come out as digits. */
	self->key[0] ^= 1;
	n = aes_cbc(0, self->key, opt.value, opt.len, plain, 0);
	len = coap_pkcs7_unpad(plain, (size_t)n);
	EXPECT_TRUE(len < 0 ||
		    coap_parse_decimal_seq(plain, (size_t)len, &seq) < 0);
}

TEST_F(publish, every_prefix_rejected_or_valid)
{
	size_t l;

	/* Options end at 4+4+6+5+5+5+7 (uri) + 3+64 (2088) + 3+16 (2089). */
	for (l = 0; l < (size_t)self->len; l++) {
		struct coap_msg msg;
		uint8_t *copy;
		int ret = parse_exact(self->buf, l, &msg, &copy);

		if (ret == 0) {
			/* Only option boundaries and payload prefixes. */
			EXPECT_TRUE(msg.payload_len ||
				    msg.options + msg.options_len ==
				    copy + l);
			count_options(&msg);
		}
		free(copy);
	}
}

TEST_F(publish, response_ack_with_message_id)
{
	static const uint8_t mid[8] = { 0, 0, 0x01, 0x8f, 0, 0, 0, 0x2a };
	uint8_t buf[64];
	struct coap_builder b;
	struct coap_option opt;
	struct coap_msg resp;
	int len;

	ASSERT_EQ(0, coap_parse(self->buf, (size_t)self->len, &self->msg));
	/* Piggy-backed ACK: same Message ID and token, 2.05, option 2090. */
	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_ACK,
			  COAP_CODE_CONTENT, self->msg.message_id,
			  self->msg.token, self->msg.token_len);
	coap_builder_add_option(&b, COAP_OPT_MESSAGE_ID, mid, sizeof(mid));
	len = coap_builder_finish(&b);
	ASSERT_EQ(4 + 4 + 3 + 8, len);
	ASSERT_EQ(0, coap_parse(buf, (size_t)len, &resp));
	EXPECT_EQ(COAP_TYPE_ACK, resp.type);
	EXPECT_EQ(COAP_CODE_CONTENT, resp.code);
	EXPECT_EQ(self->msg.message_id, resp.message_id);
	EXPECT_EQ(0, memcmp(resp.token, self->msg.token, 4));
	ASSERT_TRUE(coap_find_option(&resp, COAP_OPT_MESSAGE_ID, &opt));
	ASSERT_EQ(8, opt.len);
	EXPECT_EQ(0, memcmp(opt.value, mid, 8));
	EXPECT_NULL(resp.payload);
}

TEST(auth_request)
{
	static const char json[] =
		"{\"productKey\":\"a1RP1qZfrEi\",\"deviceName\":\"example1\","
		"\"clientId\":\"a1RP1qZfrEi.example1\","
		"\"sign\":\"d927694052c4edbbe79da64e0314ef16\",\"seq\":\"4912\"}";
	uint8_t buf[COAP_MAX_MESSAGE];
	struct coap_builder b;
	struct coap_option opt;
	struct coap_msg msg;
	char path[16];
	int len;

	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_CON, COAP_CODE_POST,
			  1, test_token, 8);
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "auth", 4);
	coap_builder_add_uint_option(&b, COAP_OPT_CONTENT_FORMAT, 50);
	coap_builder_add_uint_option(&b, COAP_OPT_ACCEPT, 50);
	coap_builder_set_payload(&b, json, sizeof(json) - 1);
	len = coap_builder_finish(&b);
	ASSERT_GT(len, 0);
	ASSERT_EQ(0, coap_parse(buf, (size_t)len, &msg));
	EXPECT_EQ(5, coap_uri_path(&msg, path, sizeof(path)));
	EXPECT_STREQ("/auth", path);
	ASSERT_TRUE(coap_find_option(&msg, COAP_OPT_CONTENT_FORMAT, &opt));
	EXPECT_EQ(1, opt.len);
	EXPECT_EQ(50, opt.value[0]);
	EXPECT_EQ(3, count_options(&msg));
	EXPECT_EQ(sizeof(json) - 1, msg.payload_len);
	EXPECT_EQ(0, memcmp(msg.payload, json, msg.payload_len));
}

TEST_HARNESS_MAIN
