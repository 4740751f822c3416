// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Host unit tests of the protocol crypto and message construction
 * (userspace/lib/coap_proto.c).
 *
 * Build (see the top-level Makefile):
 *   cc -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
 *      -fsanitize=address,undefined -fno-sanitize-recover=all -Iinclude \
 *      -Iuserspace/lib -I<linux>/tools/testing/selftests \
 *      tests/unit/test_proto.c include/coap/coap_wire.c \
 *      userspace/lib/coap_proto.c -lcrypto -o build/unit/test_proto
 *
 * Every expected value below is either from PROTOCOL.md or was computed
 * with the OpenSSL 3.0 command line tool (the command is given next to
 * it), never with the code under test.  Common inputs:
 *
 *   K    = fPloaszb6saUFJte4EhyuBHQpR9SuKHb      (PROTOCOL.md's key)
 *   KEY  = c142a66df1541ec1971e395674328351      (session key, below)
 *   IV   = 35343379686a79393761653766796667      (hex of 543yhjy97ae7fyfg)
 *   SEQ  = e6f2dec1aa6c38bd9ca35ab1bb94c2ab      (seq option of seq 4912)
 *   RSEQ = 66f2dec1aa6c38bd9ca35ab1bb94c2ab      (SEQ, top bit flipped)
 *   P    = the 100-byte PLAIN below; P[:n] is its first n bytes
 *
 * Buffers given to the code under test are heap blocks of exactly the size
 * claimed, so that AddressSanitizer catches any write or read past them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "kselftest_harness.h"
#include "coap/coap_wire.h"
#include "coap_proto.h"

#define SECRET	"fPloaszb6saUFJte4EhyuBHQpR9SuKHb"
#define KEY_HEX	"c142a66df1541ec1971e395674328351"
#define SEQ_HEX	"e6f2dec1aa6c38bd9ca35ab1bb94c2ab"	/* seq 4912 */

/* PROTOCOL.md's sign contents. */
#define CONTENT_SEQ "clientIda1RP1qZfrEi.example1deviceNameexample1" \
		    "productKeya1RP1qZfrEiseq4912"
#define CONTENT_NOSEQ "clientIda1RP1qZfrEi.example1deviceNameexample1" \
		      "productKeya1RP1qZfrEi"

static const char PLAIN[] =
	"{\"temperature\":21.5,\"humidity\":48,\"battery\":3.61,"
	"\"status\":\"ok\",\"ts\":1700000000123,\"id\":\"sensor-042\"}";

/* Decode a hex literal of the tests; aborts on a malformed one. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2, i;

	if (strlen(hex) % 2 || n > cap)
		abort();
	for (i = 0; i < n; i++) {
		unsigned int v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
	return n;
}

/* Lowercase hex of b[0..n) into out (2n + 1 bytes); returns out. */
static const char *tohex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
	return out;
}

/* A heap block of exactly n bytes (at least 1 so that it is a pointer). */
static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

static void test_key(uint8_t key[16])
{
	unhex(KEY_HEX, key, 16);
}

/* ------------------------------------------------------------------ sign */

TEST(sign_public_md5_vectors)
{
	char hex[33];

	ASSERT_EQ(0, coap_proto_sign_hex("hmacmd5", SECRET, CONTENT_SEQ,
					 hex, sizeof(hex)));
	EXPECT_STREQ("d927694052c4edbbe79da64e0314ef16", hex);
	ASSERT_EQ(0, coap_proto_sign_hex("hmacmd5", SECRET, CONTENT_NOSEQ,
					 hex, sizeof(hex)));
	EXPECT_STREQ("f5204b935c67866fee8b8791cab9d6b0", hex);
	/* md5 is the default. */
	ASSERT_EQ(0, coap_proto_sign_hex(NULL, SECRET, CONTENT_SEQ,
					 hex, sizeof(hex)));
	EXPECT_STREQ("d927694052c4edbbe79da64e0314ef16", hex);
}

/*
 * printf '%s' "$C" | openssl dgst -sha1 -hmac "$K"     (and -sha256), and
 * printf '%s' "$C" | openssl mac -digest SHA256 -macopt key:"$K" HMAC,
 * which agree (the latter in uppercase).
 */
TEST(sign_sha1_sha256_vectors)
{
	char hex[65];

	ASSERT_EQ(0, coap_proto_sign_hex("hmacsha1", SECRET, CONTENT_SEQ,
					 hex, sizeof(hex)));
	EXPECT_STREQ("55d85fd8145620ebe98ba1cae8ee2ca74fbfbf12", hex);
	ASSERT_EQ(0, coap_proto_sign_hex("hmacsha1", SECRET, CONTENT_NOSEQ,
					 hex, sizeof(hex)));
	EXPECT_STREQ("4b46c88e681cc05119e9f06c6f1df8afb45e8f8a", hex);
	ASSERT_EQ(0, coap_proto_sign_hex("hmacsha256", SECRET, CONTENT_SEQ,
					 hex, sizeof(hex)));
	EXPECT_STREQ("ac7b546333f98f1cc61180cff05aac64"
		     "1c53cc6fd8a3c0f98b9d772080d947d3", hex);
	ASSERT_EQ(0, coap_proto_sign_hex("hmacsha256", SECRET, CONTENT_NOSEQ,
					 hex, sizeof(hex)));
	EXPECT_STREQ("dc4c46292b5ff9c592a96b622ba67103"
		     "12644dc0f0574a097f68570e3754d56e", hex);
}

TEST(sign_method_names)
{
	char hex[65];

	/* Case-insensitive: the method is not part of what is signed. */
	ASSERT_EQ(0, coap_proto_sign_hex("HmacSHA1", SECRET, CONTENT_SEQ,
					 hex, sizeof(hex)));
	EXPECT_STREQ("55d85fd8145620ebe98ba1cae8ee2ca74fbfbf12", hex);
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex("hmacsha512", SECRET, "x",
					       hex, sizeof(hex)));
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex("md5", SECRET, "x",
					       hex, sizeof(hex)));
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex("hmacmd5 ", SECRET, "x",
					       hex, sizeof(hex)));
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex("hmacsha", SECRET, "x",
					       hex, sizeof(hex)));
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex("", SECRET, "x",
					       hex, sizeof(hex)));
	/* Unknown method wins over a small buffer. */
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex("sha3", SECRET, "x", hex, 1));
}

TEST(sign_small_buffer)
{
	static const struct { const char *method; size_t hexlen; } m[] = {
		{ "hmacmd5", 32 }, { "hmacsha1", 40 }, { "hmacsha256", 64 },
	};
	size_t i, cap;

	for (i = 0; i < 3; i++) {
		for (cap = 0; cap <= m[i].hexlen + 1; cap++) {
			char *hex = (char *)xmalloc(cap);
			int want = cap <= m[i].hexlen ? -ENOSPC : 0;

			memset(hex, 'Z', cap ? cap : 1);
			ASSERT_EQ(want, coap_proto_sign_hex(m[i].method,
							    SECRET, "x",
							    hex, cap));
			if (want && cap) {
				EXPECT_EQ('Z', hex[0]);	/* untouched */
			} else if (!want) {
				EXPECT_EQ(m[i].hexlen, strlen(hex));
			}
			free(hex);
		}
	}
}

TEST(sign_bad_args)
{
	char hex[33];

	EXPECT_EQ(-EINVAL, coap_proto_sign_hex(NULL, NULL, "x", hex, 33));
	/* An empty secret would let anybody sign. */
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex(NULL, "", "x", hex, 33));
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex(NULL, SECRET, NULL, hex, 33));
	EXPECT_EQ(-EINVAL, coap_proto_sign_hex(NULL, SECRET, "x", NULL, 33));
	/* printf '' | openssl dgst -md5 -hmac "$K" */
	ASSERT_EQ(0, coap_proto_sign_hex(NULL, SECRET, "", hex, 33));
	EXPECT_STREQ("e4cb7b44fc327c775177d7bbd038071a", hex);
}

/* ---------------------------------------------------------- sign content */

TEST(sign_content_public_vector)
{
	/* The order a device's JSON happens to have, plus skipped fields. */
	static const struct coap_proto_field f[] = {
		{ "signmethod", "hmacmd5" },
		{ "productKey", "a1RP1qZfrEi" },
		{ "sign", "d927694052c4edbbe79da64e0314ef16" },
		{ "seq", "4912" },
		{ "version", "1.0" },
		{ "deviceName", "example1" },
		{ "resources", "x" },
		{ "clientId", "a1RP1qZfrEi.example1" },
	};
	static const struct coap_proto_field g[] = {
		{ "productKey", "a1RP1qZfrEi" },
		{ "clientId", "a1RP1qZfrEi.example1" },
		{ "sign", "f5204b935c67866fee8b8791cab9d6b0" },
		{ "deviceName", "example1" },
	};
	char out[128], hex[33];

	ASSERT_EQ((int)strlen(CONTENT_SEQ),
		  coap_proto_sign_content(f, 8, out, sizeof(out)));
	EXPECT_STREQ(CONTENT_SEQ, out);
	/* End to end: the sign the device sent checks. */
	ASSERT_EQ(0, coap_proto_sign_hex(f[0].value, SECRET, out, hex, 33));
	EXPECT_TRUE(coap_proto_hex_equal(f[2].value, hex));
	/* Without seq (DTLS mode): the second public vector. */
	ASSERT_EQ((int)strlen(CONTENT_NOSEQ),
		  coap_proto_sign_content(g, 4, out, sizeof(out)));
	EXPECT_STREQ(CONTENT_NOSEQ, out);
	ASSERT_EQ(0, coap_proto_sign_hex(NULL, SECRET, out, hex, 33));
	EXPECT_STREQ("f5204b935c67866fee8b8791cab9d6b0", hex);
}

TEST(sign_content_cipher_and_order)
{
	/* "cipher" sorts before "clientId" ('i' < 'l') and is signed. */
	static const struct coap_proto_field f[] = {
		{ "seq", "4912" },
		{ "timestamp", "1700000000000" },
		{ "cipher", "aes-128-ctr" },
		{ "clientId", "pk&dn" },
		{ "ackMode", "1" },
		{ "sign", "ignored" },
	};
	/* Byte order: uppercase before lowercase, prefixes first. */
	static const struct coap_proto_field g[] = {
		{ "b", "3" }, { "B", "2" }, { "ab", "1" }, { "a", "0" },
		{ "", "e" },
	};
	char out[128];

	ASSERT_LT(0, coap_proto_sign_content(f, 6, out, sizeof(out)));
	EXPECT_STREQ("ackMode1cipheraes-128-ctrclientIdpk&dnseq4912"
		     "timestamp1700000000000", out);
	ASSERT_EQ(10, coap_proto_sign_content(g, 5, out, sizeof(out)));
	EXPECT_STREQ("eB2a0ab1b3", out);
}

TEST(sign_content_empty_and_errors)
{
	static const struct coap_proto_field skipped[] = {
		{ "sign", "a" }, { "signmethod", "b" }, { "version", "c" },
		{ "resources", "d" },
	};
	static const struct coap_proto_field dup[] = {
		{ "seq", "1" }, { "clientId", "x" }, { "seq", "2" },
	};
	static const struct coap_proto_field dup_skipped[] = {
		{ "sign", "1" }, { "sign", "2" },
	};
	/* Near misses of the skipped names are signed. */
	static const struct coap_proto_field near[] = {
		{ "Sign", "1" }, { "signMethod", "2" }, { "versions", "3" },
	};
	struct coap_proto_field bad[2] = { { "a", "1" }, { "b", NULL } };
	char out[64];

	out[0] = 'Z';
	EXPECT_EQ(0, coap_proto_sign_content(NULL, 0, out, sizeof(out)));
	EXPECT_STREQ("", out);
	EXPECT_EQ(0, coap_proto_sign_content(skipped, 4, out, sizeof(out)));
	EXPECT_STREQ("", out);
	EXPECT_EQ(-EINVAL, coap_proto_sign_content(dup, 3, out, sizeof(out)));
	EXPECT_EQ(-EINVAL, coap_proto_sign_content(dup_skipped, 2, out,
						   sizeof(out)));
	EXPECT_EQ(-EINVAL, coap_proto_sign_content(bad, 2, out, sizeof(out)));
	bad[1].value = "2";
	bad[0].name = NULL;
	EXPECT_EQ(-EINVAL, coap_proto_sign_content(bad, 2, out, sizeof(out)));
	EXPECT_EQ(-EINVAL, coap_proto_sign_content(NULL, 1, out, sizeof(out)));
	ASSERT_EQ(25, coap_proto_sign_content(near, 3, out, sizeof(out)));
	EXPECT_STREQ("Sign1signMethod2versions3", out);
}

TEST(sign_content_small_buffer)
{
	static const struct coap_proto_field f[] = {
		{ "seq", "4912" }, { "clientId", "a1RP1qZfrEi.example1" },
		{ "productKey", "a1RP1qZfrEi" }, { "deviceName", "example1" },
	};
	size_t len = strlen(CONTENT_SEQ), cap;

	for (cap = 0; cap <= len + 1; cap++) {
		char *out = (char *)xmalloc(cap);
		int ret = coap_proto_sign_content(f, 4, out, cap);

		if (cap <= len) {
			ASSERT_EQ(-ENOSPC, ret);
			if (cap)
				EXPECT_STREQ("", out);
		} else {
			ASSERT_EQ((int)len, ret);
			EXPECT_STREQ(CONTENT_SEQ, out);
		}
		free(out);
	}
}

/* ------------------------------------------------------------ hex equal */

TEST(hex_equal)
{
	static const char *const nonhex = "gGzZ /:@`[{\x7f\x80\xff";
	char a[5], b[5];
	size_t i;

	EXPECT_TRUE(coap_proto_hex_equal("d927694052c4edbb",
					 "d927694052c4edbb"));
	EXPECT_TRUE(coap_proto_hex_equal("D927694052C4EDBB",
					 "d927694052c4edbb"));
	EXPECT_TRUE(coap_proto_hex_equal("0123456789abcdef",
					 "0123456789ABCDEF"));
	EXPECT_FALSE(coap_proto_hex_equal("d927694052c4edbb",
					  "d927694052c4edbc"));
	EXPECT_FALSE(coap_proto_hex_equal("e927694052c4edbb",
					  "d927694052c4edbb"));
	/* Different lengths, prefixes, empty, NULL. */
	EXPECT_FALSE(coap_proto_hex_equal("d92769", "d927694"));
	EXPECT_FALSE(coap_proto_hex_equal("d927694", "d92769"));
	EXPECT_FALSE(coap_proto_hex_equal("", "d9"));
	EXPECT_FALSE(coap_proto_hex_equal("", ""));
	EXPECT_FALSE(coap_proto_hex_equal(NULL, "d9"));
	EXPECT_FALSE(coap_proto_hex_equal("d9", NULL));
	EXPECT_FALSE(coap_proto_hex_equal(NULL, NULL));
	/* Non-hex never matches, not even itself. */
	for (i = 0; nonhex[i]; i++) {
		memcpy(a, "a0b1", 5);
		memcpy(b, "A0B1", 5);
		EXPECT_TRUE(coap_proto_hex_equal(a, b));
		a[2] = nonhex[i];
		b[2] = nonhex[i];
		EXPECT_FALSE(coap_proto_hex_equal(a, b));
		EXPECT_FALSE(coap_proto_hex_equal(a, a));
	}
	/* Letters next to the hex ranges: 'g' is not 0x10, '@' not 9. */
	EXPECT_FALSE(coap_proto_hex_equal("0g", "0G"));
	EXPECT_FALSE(coap_proto_hex_equal("f/", "f/"));
}

/* ----------------------------------------------------------- session key */

/*
 * printf '%s' "$K,ab8e4fd53f1d2e3c" | openssl dgst -sha256
 *   = 2fca0b2f92db3f6e c142a66df1541ec1971e395674328351 34ffc916bdab570a
 * bytes 8..23 (hex characters 16..47) are KEY.
 */
TEST(session_key_vector)
{
	uint8_t key[16];
	char hex[33];

	ASSERT_EQ(0, coap_proto_session_key(SECRET, "ab8e4fd53f1d2e3c", key));
	EXPECT_STREQ(KEY_HEX, tohex(key, 16, hex));
	EXPECT_EQ(-EINVAL, coap_proto_session_key(NULL, "ab", key));
	EXPECT_EQ(-EINVAL, coap_proto_session_key("", "ab", key));
	EXPECT_EQ(-EINVAL, coap_proto_session_key(SECRET, NULL, key));
	EXPECT_EQ(-EINVAL, coap_proto_session_key(SECRET, "ab", NULL));
	/* A different random, a different key. */
	ASSERT_EQ(0, coap_proto_session_key(SECRET, "ab8e4fd53f1d2e3d", key));
	EXPECT_STRNE(KEY_HEX, tohex(key, 16, hex));
}

/* ------------------------------------------------------------------ seq */

/* printf '%s' $seq | openssl enc -aes-128-cbc -K $KEY -iv $IV | xxd -p */
TEST(seq_vectors)
{
	static const struct { uint64_t seq; const char *hex; } v[] = {
		{ 4912, SEQ_HEX },
		{ 0, "f20f349dcb7d138e670ae2b3a205d1e7" },
		{ 1, "02f539e6ee87635131bc88aca2faa933" },
		{ 999999999999999ULL, "f1878e8131bcec08cfaf248e6ad69ce6" },
	};
	uint8_t key[16], blk[16], want[16];
	uint64_t seq;
	char hex[33];
	size_t i;

	test_key(key);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ASSERT_EQ(0, coap_proto_seq_encrypt(key, v[i].seq, blk));
		EXPECT_STREQ(v[i].hex, tohex(blk, 16, hex));
		unhex(v[i].hex, want, 16);
		seq = 12345;
		ASSERT_EQ(0, coap_proto_seq_decrypt(key, want, &seq));
		EXPECT_EQ(v[i].seq, seq);
	}
}

TEST(seq_round_trip_and_range)
{
	static const uint64_t v[] = {
		2, 9, 10, 99, 100, 4913, 65535, 4294967296ULL,
		99999999999999ULL, 100000000000000ULL, COAP_PROTO_SEQ_MAX,
	};
	uint8_t key[16], blk[16];
	uint64_t seq;
	size_t i;

	test_key(key);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ASSERT_EQ(0, coap_proto_seq_encrypt(key, v[i], blk));
		ASSERT_EQ(0, coap_proto_seq_decrypt(key, blk, &seq));
		EXPECT_EQ(v[i], seq);
	}
	/* 16 digits do not fit one block. */
	EXPECT_EQ(-ERANGE, coap_proto_seq_encrypt(key, COAP_PROTO_SEQ_MAX + 1,
						  blk));
	EXPECT_EQ(-ERANGE, coap_proto_seq_encrypt(key, UINT64_MAX, blk));
	EXPECT_EQ(-EINVAL, coap_proto_seq_encrypt(NULL, 1, blk));
	EXPECT_EQ(-EINVAL, coap_proto_seq_decrypt(key, NULL, &seq));
}

/* Encrypt text as one CBC block (via the CBC payload suite). */
static int cbc_block(const uint8_t key[16], const char *text, uint8_t blk[16])
{
	return coap_proto_payload_encrypt(COAP_CIPHER_AES_128_CBC, key, NULL,
					  false, (const uint8_t *)text,
					  strlen(text), blk, 16);
}

TEST(seq_decrypt_hostile)
{
	static const char *const not_decimal[] = {
		"", "12a4", "-1", "+1", " 12", "12 ", "0x10", "4912\n",
		"1234567890123.5",
	};
	uint8_t key[16], blk[16], other[16];
	uint64_t seq = 77;
	size_t i;

	test_key(key);
	for (i = 0; i < sizeof(not_decimal) / sizeof(not_decimal[0]); i++) {
		ASSERT_EQ(16, cbc_block(key, not_decimal[i], blk));
		EXPECT_EQ(-EBADMSG, coap_proto_seq_decrypt(key, blk, &seq));
	}
	/* Garbage blocks: bad padding after decryption. */
	memset(blk, 0, 16);
	EXPECT_EQ(-EBADMSG, coap_proto_seq_decrypt(key, blk, &seq));
	unhex("00112233445566778899aabbccddeeff", blk, 16);
	EXPECT_EQ(-EBADMSG, coap_proto_seq_decrypt(key, blk, &seq));
	/* The right block under another key. */
	unhex(SEQ_HEX, blk, 16);
	memcpy(other, key, 16);
	other[15] ^= 1;
	EXPECT_EQ(-EBADMSG, coap_proto_seq_decrypt(other, blk, &seq));
	EXPECT_EQ(77u, seq);	/* untouched on error */
	/* 15 digits with leading zeros: accepted, like the kernel. */
	ASSERT_EQ(16, cbc_block(key, "000000000004912", blk));
	ASSERT_EQ(0, coap_proto_seq_decrypt(key, blk, &seq));
	EXPECT_EQ(4912u, seq);
}

/* -------------------------------------------------------------- payload */

/*
 * P[:n] under each suite:
 *   cbc:  printf '%s' "$P" | head -c $n |
 *         openssl enc -aes-128-cbc -K $KEY -iv $IV | xxd -p
 *   ctr:  ... | openssl enc -aes-128-ctr -K $KEY -iv $SEQ | xxd -p
 *   ctrR: ... | openssl enc -aes-128-ctr -K $KEY -iv $RSEQ | xxd -p
 * A stream cipher's output for P[:n] is the first n bytes of that for P;
 * the CLI gave exactly the prefixes for n = 0, 1, 15, 16, 17.
 */
static const char CTR_REQ[] =
	"3ea1e189786b61a5d1807faeec0275204a7f310f4cc755cd4879cfe31da2cd28"
	"0ee14e5f7d1866c51a12b651c1abccba8a300cad83a98202854c30d3d2e25d90"
	"d10f97598fd8dadb85fb4a654e60030441b60e44822029ed586360bf34d0b155"
	"2e0a0538";
static const char CTR_RESP[] =
	"f575019b85db619906348c8151c5b29a6fd8c0aedd48e9cc04d840f69ebb6e35"
	"7f54e2cc0e9c4a0cd8308c6cf65a5841442c97e5bdda36c049c1f4c710dfa2f1"
	"ae4232e30d06aaca27fed53d6c758aba5c9a20b5b372bbb8d7206d68a9c5d021"
	"c97f83a3";

FIXTURE(payload) {
	uint8_t key[16];
	uint8_t seq[16];
	const uint8_t *plain;
};

FIXTURE_VARIANT(payload) {
	size_t len;
	const char *cbc;	/* hex */
};

FIXTURE_VARIANT_ADD(payload, len0) {
	.len = 0,
	.cbc = "db0c08cc93b3cdb2b255daf3cc27f0c5",
};

FIXTURE_VARIANT_ADD(payload, len1) {
	.len = 1,
	.cbc = "9159e8c032bf3559ef46c35cc2bea03d",
};

FIXTURE_VARIANT_ADD(payload, len15) {
	.len = 15,
	.cbc = "98c37fe73fc32481a2b7f539c30b2acb",
};

FIXTURE_VARIANT_ADD(payload, len16) {
	.len = 16,
	.cbc = "b0db97fd97aa8ac93359cdaa44174f65"
	       "59efcc3d559bc614fbadc3093a668c0c",
};

FIXTURE_VARIANT_ADD(payload, len17) {
	.len = 17,
	.cbc = "b0db97fd97aa8ac93359cdaa44174f65"
	       "8005937dfe73907baf917d5949e76cb2",
};

FIXTURE_VARIANT_ADD(payload, len100) {
	.len = 100,
	.cbc = "b0db97fd97aa8ac93359cdaa44174f651dc4804a3e9296c59a02ba8bcd1123d3"
	       "d3e78580f9fef8ffb01b7a0b6d92bf9d04803181db8fca04318999acb07f20cb"
	       "c5688df9bb7636251a395aad924503da60e3559634aebf1447b22329c017838a"
	       "77079e56ed7b40e7867aa63624507033",
};

FIXTURE_SETUP(payload)
{
	ASSERT_EQ(100u, strlen(PLAIN));
	test_key(self->key);
	unhex(SEQ_HEX, self->seq, 16);
	self->plain = (const uint8_t *)PLAIN;
}

FIXTURE_TEARDOWN(payload)
{
}

/*
 * Encrypt P[:len] into a block of exactly the documented size, compare with
 * want_hex, decrypt into a block of exactly out_cap, compare with P[:len],
 * then do both again in place.
 */
static void check_suite(struct __test_metadata *_metadata,
			FIXTURE_DATA(payload) *self, enum coap_cipher c,
			bool response, size_t len, const char *want_hex)
{
	size_t want_len = strlen(want_hex) / 2;
	uint8_t *in = xmalloc(len), *ct = xmalloc(want_len);
	uint8_t *pt = xmalloc(want_len);
	char hex[2 * 128 + 1];

	memcpy(in, self->plain, len);
	ASSERT_EQ((int)want_len,
		  coap_proto_payload_encrypt(c, self->key, self->seq, response,
					     in, len, ct, want_len));
	EXPECT_STREQ(want_hex, tohex(ct, want_len, hex));
	ASSERT_EQ((int)len,
		  coap_proto_payload_decrypt(c, self->key, self->seq, response,
					     ct, want_len, pt, want_len));
	EXPECT_EQ(0, memcmp(pt, self->plain, len));

	/* In place: buf holds the plaintext, then the ciphertext. */
	memcpy(pt, self->plain, len);
	ASSERT_EQ((int)want_len,
		  coap_proto_payload_encrypt(c, self->key, self->seq, response,
					     pt, len, pt, want_len));
	EXPECT_EQ(0, memcmp(pt, ct, want_len));
	ASSERT_EQ((int)len,
		  coap_proto_payload_decrypt(c, self->key, self->seq, response,
					     pt, want_len, pt, want_len));
	EXPECT_EQ(0, memcmp(pt, self->plain, len));
	free(in);
	free(ct);
	free(pt);
}

TEST_F(payload, cbc)
{
	check_suite(_metadata, self, COAP_CIPHER_AES_128_CBC, false,
		    variant->len, variant->cbc);
	/* Same both ways, and the seq block plays no part. */
	check_suite(_metadata, self, COAP_CIPHER_AES_128_CBC, true,
		    variant->len, variant->cbc);
	memset(self->seq, 0xa5, 16);
	check_suite(_metadata, self, COAP_CIPHER_AES_128_CBC, false,
		    variant->len, variant->cbc);
}

TEST_F(payload, ctr_request)
{
	char want[2 * 100 + 1];

	memcpy(want, CTR_REQ, 2 * variant->len);
	want[2 * variant->len] = '\0';
	check_suite(_metadata, self, COAP_CIPHER_AES_128_CTR, false,
		    variant->len, want);
}

TEST_F(payload, ctr_response)
{
	char want[2 * 100 + 1];

	memcpy(want, CTR_RESP, 2 * variant->len);
	want[2 * variant->len] = '\0';
	check_suite(_metadata, self, COAP_CIPHER_AES_128_CTR, true,
		    variant->len, want);
}

/* AES-128-ECB of one block, for an independent CTR reference. */
static void aes_ecb_block(const uint8_t key[16], const uint8_t in[16],
			  uint8_t out[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	if (!ctx ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n, in, 16) != 1 || n != 16)
		abort();
	EVP_CIPHER_CTX_free(ctx);
}

/*
 * The counter is the whole 128-bit block, big-endian, wrapping at 2^128
 * (as the kernel's ctr(aes) does): a 64-bit-only counter would differ
 * below.  P[:48] with
 *   openssl enc -aes-128-ctr -K $KEY -iv 0000000000000000ffffffffffffffff
 *   openssl enc -aes-128-ctr -K $KEY -iv ffffffffffffffffffffffffffffffff
 * The second is also the response direction of seq block 7fff...ff.
 */
TEST(ctr_counter_carry)
{
	static const struct { const char *blk, *ct; bool response; } v[] = {
		{ "0000000000000000ffffffffffffffff",
		  "a66a7e11e423ca90c1fc6c4573d11a18c9d1f8cf237e9580e12d9304"
		  "72fc090b4c652ae584e22c1c021d46e4b540d9aa", false },
		{ "ffffffffffffffffffffffffffffffff",
		  "50728b7945a631761e7ae6e030d0c32e11c363eb2f67a011df0dada5"
		  "bdf00840c73e99d1565060571d693358fb957b78", false },
		{ "7fffffffffffffffffffffffffffffff",
		  "50728b7945a631761e7ae6e030d0c32e11c363eb2f67a011df0dada5"
		  "bdf00840c73e99d1565060571d693358fb957b78", true },
	};
	uint8_t key[16], blk[16], ctr[16], ks[16], ct[48], ref[48];
	char hex[97];
	size_t i, j;
	int k;

	test_key(key);
	for (i = 0; i < 3; i++) {
		unhex(v[i].blk, blk, 16);
		ASSERT_EQ(48, coap_proto_payload_encrypt(
				COAP_CIPHER_AES_128_CTR, key, blk,
				v[i].response, (const uint8_t *)PLAIN, 48,
				ct, sizeof(ct)));
		EXPECT_STREQ(v[i].ct, tohex(ct, 48, hex));

		/* Reference: keystream block j = AES(counter + j). */
		memcpy(ctr, blk, 16);
		if (v[i].response)
			ctr[0] ^= 0x80;
		for (j = 0; j < 48; j += 16) {
			aes_ecb_block(key, ctr, ks);
			for (k = 0; k < 16; k++)
				ref[j + k] = (uint8_t)(PLAIN[j + k] ^ ks[k]);
			for (k = 15; k >= 0 && ++ctr[k] == 0; k--)
				;
		}
		EXPECT_EQ(0, memcmp(ref, ct, 48));
	}
}

TEST(payload_cbc_hostile)
{
	static const size_t bad_len[] = { 0, 1, 15, 17, 31, 33 };
	uint8_t key[16], ct[32], *in, *out;
	size_t i;

	test_key(key);
	in = xmalloc(48);
	out = xmalloc(48);
	memset(in, 0x5a, 48);
	for (i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
		EXPECT_EQ(-EBADMSG, coap_proto_payload_decrypt(
				COAP_CIPHER_AES_128_CBC, key, NULL, false,
				in, bad_len[i], out, 48));

	/*
	 * P[:16] gives a last block of sixteen 0x10.  Flipping bits of the
	 * first ciphertext block flips the same bits of the last plaintext
	 * block: pad byte 0x00, 0x11, 0xff, then one inconsistent pad byte.
	 */
	ASSERT_EQ(32, coap_proto_payload_encrypt(COAP_CIPHER_AES_128_CBC, key,
						 NULL, false,
						 (const uint8_t *)PLAIN, 16,
						 ct, 32));
	{
		static const struct { int pos; uint8_t x; } flip[] = {
			{ 15, 0x10 }, { 15, 0x01 }, { 15, 0xef }, { 3, 0x01 },
			{ 14, 0x80 },
		};

		for (i = 0; i < 5; i++) {
			memcpy(in, ct, 32);
			in[flip[i].pos] ^= flip[i].x;
			memset(out, 0x33, 32);
			EXPECT_EQ(-EBADMSG, coap_proto_payload_decrypt(
					COAP_CIPHER_AES_128_CBC, key, NULL,
					false, in, 32, out, 32));
			/* Nothing left behind to misuse. */
			EXPECT_EQ(0, out[0] | out[15] | out[31]);
		}
	}
	/* Pad byte 0x01 instead of 0x10: valid, 31 bytes of garbage. */
	memcpy(in, ct, 32);
	in[15] ^= 0x11;
	EXPECT_EQ(31, coap_proto_payload_decrypt(COAP_CIPHER_AES_128_CBC, key,
						 NULL, false, in, 32, out, 32));

	/* Output too small: the padded plaintext needs len bytes. */
	EXPECT_EQ(-ENOSPC, coap_proto_payload_decrypt(COAP_CIPHER_AES_128_CBC,
						      key, NULL, false, ct, 32,
						      out, 31));
	EXPECT_EQ(-ENOSPC, coap_proto_payload_decrypt(COAP_CIPHER_AES_128_CBC,
						      key, NULL, false, ct, 32,
						      NULL, 0));
	free(in);
	free(out);
}

TEST(payload_small_output)
{
	uint8_t key[16], seq[16], *out;
	size_t len, cap;

	test_key(key);
	unhex(SEQ_HEX, seq, 16);
	for (len = 0; len <= 33; len++) {
		size_t cbc = (len / 16 + 1) * 16;

		for (cap = 0; cap < cbc; cap++) {
			out = xmalloc(cap);
			EXPECT_EQ(-ENOSPC, coap_proto_payload_encrypt(
					COAP_CIPHER_AES_128_CBC, key, NULL,
					false, (const uint8_t *)PLAIN, len,
					cap ? out : NULL, cap));
			if (cap < len) {
				EXPECT_EQ(-ENOSPC, coap_proto_payload_encrypt(
						COAP_CIPHER_AES_128_CTR, key,
						seq, false,
						(const uint8_t *)PLAIN, len,
						cap ? out : NULL, cap));
				EXPECT_EQ(-ENOSPC, coap_proto_payload_decrypt(
						COAP_CIPHER_AES_128_CTR, key,
						seq, true,
						(const uint8_t *)PLAIN, len,
						cap ? out : NULL, cap));
			}
			free(out);
		}
	}
	/* Empty CTR needs no buffer at all. */
	EXPECT_EQ(0, coap_proto_payload_encrypt(COAP_CIPHER_AES_128_CTR, key,
						seq, false, NULL, 0, NULL, 0));
	EXPECT_EQ(0, coap_proto_payload_decrypt(COAP_CIPHER_AES_128_CTR, key,
						seq, false, NULL, 0, NULL, 0));
}

TEST(payload_bad_args)
{
	uint8_t key[16], seq[16], out[32];

	test_key(key);
	unhex(SEQ_HEX, seq, 16);
	EXPECT_EQ(-EINVAL, coap_proto_payload_encrypt((enum coap_cipher)0, key,
						      seq, false, out, 1,
						      out, 32));
	EXPECT_EQ(-EINVAL, coap_proto_payload_decrypt((enum coap_cipher)3, key,
						      seq, false, out, 16,
						      out, 32));
	EXPECT_EQ(-EINVAL, coap_proto_payload_encrypt(COAP_CIPHER_AES_128_CTR,
						      key, NULL, false, out, 1,
						      out, 32));
	EXPECT_EQ(-EINVAL, coap_proto_payload_decrypt(COAP_CIPHER_AES_128_CTR,
						      key, NULL, true, out, 1,
						      out, 32));
	EXPECT_EQ(-EINVAL, coap_proto_payload_encrypt(COAP_CIPHER_AES_128_CBC,
						      NULL, NULL, false, out, 1,
						      out, 32));
	EXPECT_EQ(-EINVAL, coap_proto_payload_encrypt(COAP_CIPHER_AES_128_CBC,
						      key, NULL, false, NULL, 1,
						      out, 32));
	EXPECT_EQ(-EINVAL, coap_proto_payload_encrypt(COAP_CIPHER_AES_128_CBC,
						      key, NULL, false, out, 1,
						      NULL, 32));
}

/*
 * Failures leave nothing on OpenSSL's error queue (see coap_proto.c), and a
 * caller's own pending error survives.  Real libcrypto failures come from
 * requiring fips=yes with no FIPS provider loaded: every fetch then fails.
 * (The harness runs each test in its own process, so this stays here.)
 */
TEST(no_openssl_errors_left)
{
	uint8_t key[16], blk[16] = { 0 }, out[32] = { 0 };
	uint64_t seq;
	char hex[65];

	test_key(key);
	ERR_clear_error();
	EXPECT_EQ(-EBADMSG, coap_proto_seq_decrypt(key, blk, &seq));
	EXPECT_EQ(-EBADMSG, coap_proto_payload_decrypt(COAP_CIPHER_AES_128_CBC,
						       key, NULL, false, blk,
						       16, out, 32));
	EXPECT_EQ(0u, ERR_peek_error());

	ASSERT_EQ(1, EVP_default_properties_enable_fips(NULL, 1));
	EXPECT_EQ(-EIO, coap_proto_sign_hex("hmacsha256", SECRET, "y", hex,
					    sizeof(hex)));
	EXPECT_EQ(-EIO, coap_proto_session_key(SECRET, "ab", key));
	EXPECT_EQ(-EIO, coap_proto_seq_encrypt(key, 1, blk));
	EXPECT_EQ(-EIO, coap_proto_psk("pk", "dn", SECRET, hex, sizeof(hex)));
	EXPECT_EQ(-EIO, coap_proto_payload_encrypt(COAP_CIPHER_AES_128_CTR,
						   key, blk, true, out, 16,
						   out, 32));
	EXPECT_EQ(0u, ERR_peek_error());

	ERR_raise(ERR_LIB_USER, 42);
	EXPECT_EQ(-EIO, coap_proto_seq_decrypt(key, blk, &seq));
	EXPECT_EQ(42, ERR_GET_REASON(ERR_peek_last_error()));
	EXPECT_EQ(42, ERR_GET_REASON(ERR_peek_error()));
	ERR_clear_error();
	ASSERT_EQ(1, EVP_default_properties_enable_fips(NULL, 0));
	EXPECT_EQ(0, coap_proto_seq_encrypt(key, 1, blk));
}

/* --------------------------------------------------------- cipher names */

TEST(cipher_names)
{
	enum coap_cipher c = (enum coap_cipher)0;

	ASSERT_EQ(0, coap_proto_cipher_parse("aes-128-cbc", &c));
	EXPECT_EQ(COAP_CIPHER_AES_128_CBC, c);
	ASSERT_EQ(0, coap_proto_cipher_parse("aes-128-ctr", &c));
	EXPECT_EQ(COAP_CIPHER_AES_128_CTR, c);
	EXPECT_EQ(-EINVAL, coap_proto_cipher_parse("AES-128-CTR", &c));
	EXPECT_EQ(-EINVAL, coap_proto_cipher_parse("aes-128-gcm", &c));
	EXPECT_EQ(-EINVAL, coap_proto_cipher_parse("", &c));
	EXPECT_EQ(-EINVAL, coap_proto_cipher_parse(NULL, &c));
	EXPECT_EQ(COAP_CIPHER_AES_128_CTR, c);
	EXPECT_STREQ("aes-128-cbc",
		     coap_proto_cipher_name(COAP_CIPHER_AES_128_CBC));
	EXPECT_STREQ("aes-128-ctr",
		     coap_proto_cipher_name(COAP_CIPHER_AES_128_CTR));
	EXPECT_NULL(coap_proto_cipher_name((enum coap_cipher)0));
}

/* ------------------------------------------------------------- DTLS PSK */

/*
 * printf '%s' 'ida1RP1qZfrEi&example1timestamp2524608000000' |
 *     openssl mac -digest SHA256 -macopt key:"$K" HMAC
 */
TEST(psk_vector)
{
	char psk[65], id[64];
	size_t cap;

	ASSERT_EQ(0, coap_proto_psk("a1RP1qZfrEi", "example1", SECRET,
				    psk, sizeof(psk)));
	EXPECT_STREQ("D74075755539698316ECDF55B8FD3559"
		     "66FCFB8B04F99C3264D793FDD0A7F739", psk);
	EXPECT_EQ(-ENOSPC, coap_proto_psk("a1RP1qZfrEi", "example1", SECRET,
					  psk, 64));
	EXPECT_EQ(-EINVAL, coap_proto_psk("a1RP1qZfrEi", "example1", "",
					  psk, sizeof(psk)));
	EXPECT_EQ(-EINVAL, coap_proto_psk(NULL, "example1", SECRET,
					  psk, sizeof(psk)));

	ASSERT_EQ(0, coap_proto_psk_identity("a1RP1qZfrEi", "example1",
					     id, sizeof(id)));
	EXPECT_STREQ("devicename|hmacsha256|a1RP1qZfrEi&example1|"
		     "2524608000000", id);
	for (cap = 0; cap <= strlen(id); cap++) {
		char *b = (char *)xmalloc(cap);

		EXPECT_EQ(-ENOSPC, coap_proto_psk_identity("a1RP1qZfrEi",
							   "example1", b,
							   cap));
		if (cap)
			EXPECT_EQ('\0', b[0]);
		free(b);
	}
}

/* -------------------------------------------------------------- publish */

/* Collect the Uri-Path options as "seg|seg|..." into out. */
static void uri_segments(const struct coap_msg *msg, char *out, size_t cap)
{
	struct coap_opt_iter it;
	struct coap_option opt;
	size_t n = 0;

	out[0] = '\0';
	coap_opt_iter_init(&it, msg);
	while (coap_opt_next(&it, &opt)) {
		if (opt.number != COAP_OPT_URI_PATH)
			continue;
		if (n + opt.len + 2 > cap)
			abort();
		if (n)
			out[n++] = '|';
		memcpy(out + n, opt.value, opt.len);
		n += opt.len;
		out[n] = '\0';
	}
}

static int count_option(const struct coap_msg *msg, uint16_t number)
{
	struct coap_opt_iter it;
	struct coap_option opt;
	int n = 0;

	coap_opt_iter_init(&it, msg);
	while (coap_opt_next(&it, &opt))
		n += opt.number == number;
	return n;
}

/*
 * Hand-assembled from RFC 7252 §3.1: CON, 0.02, MID 0x1234, no token;
 * Uri-Path "topic" (delta 11), "a", "b" (delta 0); 2088 "T" (delta 2077 =
 * 14-form, 2077 - 269 = 0x0710); 2089 (delta 1, length 16 = 13-form, 3);
 * 0xff; seq option = seq 1 from seq_vectors; payload "x" with
 *   printf x | openssl enc -aes-128-cbc -K $KEY -iv $IV
 */
TEST(publish_exact_bytes_cbc)
{
	static const char want[] =
		"40021234" "b5746f706963" "0161" "0162" "e1071054"
		"1d03" "02f539e6ee87635131bc88aca2faa933"
		"ff" "758dca22ec60172a62b7a64e98859c7f";
	uint8_t key[16], buf[128];
	struct coap_proto_publish p = {
		.type = COAP_TYPE_CON, .message_id = 0x1234,
		.topic = "/a/b", .auth_token = "T",
		.cipher = COAP_CIPHER_AES_128_CBC, .key = key, .seq = 1,
		.payload = (const uint8_t *)"x", .payload_len = 1,
	};
	char hex[257];
	int n;

	test_key(key);
	n = coap_proto_build_publish(&p, buf, sizeof(buf));
	ASSERT_EQ((int)strlen(want) / 2, n);
	EXPECT_STREQ(want, tohex(buf, (size_t)n, hex));
}

/*
 * NON, token aa bb, token in option 61 (delta 50 = 13-form, 0x25), 2089
 * (delta 2028 = 14-form, 0x06df; length 13-form, 3); payload "x" with
 *   printf x | openssl enc -aes-128-ctr -K $KEY -iv <seq 1 block>
 */
TEST(publish_exact_bytes_ctr_alias)
{
	static const char want[] =
		"5202fffe" "aabb" "b5746f706963" "0161" "d12554"
		"ed06df03" "02f539e6ee87635131bc88aca2faa933" "ff" "1b";
	static const uint8_t tok[2] = { 0xaa, 0xbb };
	uint8_t key[16], buf[128];
	struct coap_proto_publish p = {
		.type = COAP_TYPE_NON, .message_id = 0xfffe,
		.coap_token = tok, .coap_token_len = 2,
		.topic = "a", .auth_token = "T", .token_in_option_61 = true,
		.cipher = COAP_CIPHER_AES_128_CTR, .key = key, .seq = 1,
		.payload = (const uint8_t *)"x", .payload_len = 1,
	};
	char hex[257];
	int n;

	test_key(key);
	n = coap_proto_build_publish(&p, buf, sizeof(buf));
	ASSERT_EQ((int)strlen(want) / 2, n);
	EXPECT_STREQ(want, tohex(buf, (size_t)n, hex));
}

FIXTURE(publish) {
	uint8_t key[16];
	uint8_t token[8];
	char auth[65];
	struct coap_proto_publish p;
};

FIXTURE_VARIANT(publish) {
	uint8_t type;
	enum coap_cipher cipher;
	bool alias;
	uint8_t token_len;
	const char *topic;
	const char *segments;	/* expected Uri-Path, '|'-joined */
	uint64_t seq;
	size_t payload_len;
};

FIXTURE_VARIANT_ADD(publish, con_cbc) {
	.type = COAP_TYPE_CON, .cipher = COAP_CIPHER_AES_128_CBC,
	.token_len = 4, .topic = "/a1PK/dev1/user/update",
	.segments = "topic|a1PK|dev1|user|update", .seq = 4912,
	.payload_len = 100,
};

FIXTURE_VARIANT_ADD(publish, non_ctr_alias) {
	.type = COAP_TYPE_NON, .cipher = COAP_CIPHER_AES_128_CTR,
	.alias = true, .token_len = 8, .topic = "//a1PK///dev1/user/",
	.segments = "topic|a1PK|dev1|user", .seq = COAP_PROTO_SEQ_MAX,
	.payload_len = 17,
};

FIXTURE_VARIANT_ADD(publish, cbc_empty_payload) {
	.type = COAP_TYPE_CON, .cipher = COAP_CIPHER_AES_128_CBC,
	.topic = "/sys/a1PK/dev1/thing/event/property/post",
	.segments = "topic|sys|a1PK|dev1|thing|event|property|post",
	.seq = 0, .payload_len = 0,
};

FIXTURE_VARIANT_ADD(publish, ctr_empty_payload_no_topic) {
	.type = COAP_TYPE_CON, .cipher = COAP_CIPHER_AES_128_CTR,
	.alias = true, .topic = "///", .segments = "topic", .seq = 7,
	.payload_len = 0,
};

FIXTURE_SETUP(publish)
{
	test_key(self->key);
	memcpy(self->token, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	/* 64 printable bytes: the longest token the gateway issues. */
	memset(self->auth, 'k', 64);
	self->auth[64] = '\0';
	self->p = (struct coap_proto_publish) {
		.type = variant->type, .message_id = 0xbeef,
		.coap_token = self->token,
		.coap_token_len = variant->token_len,
		.topic = variant->topic, .auth_token = self->auth,
		.token_in_option_61 = variant->alias,
		.cipher = variant->cipher, .key = self->key,
		.seq = variant->seq, .payload = (const uint8_t *)PLAIN,
		.payload_len = variant->payload_len,
	};
}

FIXTURE_TEARDOWN(publish)
{
}

TEST_F(publish, parses_and_decrypts)
{
	uint8_t buf[COAP_MAX_MESSAGE], *copy, pt[128];
	struct coap_option seq_opt, tok_opt;
	struct coap_msg msg;
	char segs[128];
	uint64_t seq;
	size_t ct_len;
	int n;

	n = coap_proto_build_publish(&self->p, buf, sizeof(buf));
	ASSERT_LT(0, n);
	copy = xmalloc((size_t)n);
	memcpy(copy, buf, (size_t)n);
	ASSERT_EQ(0, coap_parse(copy, (size_t)n, &msg));
	EXPECT_EQ(variant->type, msg.type);
	EXPECT_EQ(COAP_CODE_POST, msg.code);
	EXPECT_EQ(0xbeef, msg.message_id);
	ASSERT_EQ(variant->token_len, msg.token_len);
	EXPECT_EQ(0, memcmp(msg.token, self->token, msg.token_len));

	uri_segments(&msg, segs, sizeof(segs));
	EXPECT_STREQ(variant->segments, segs);

	/* The auth token in exactly one of 2088 and 61. */
	ASSERT_TRUE(coap_find_option(&msg, variant->alias ?
				     COAP_OPT_TOKEN_ALIAS :
				     COAP_OPT_AUTH_TOKEN, &tok_opt));
	EXPECT_EQ(64, tok_opt.len);
	EXPECT_EQ(0, memcmp(tok_opt.value, self->auth, 64));
	EXPECT_EQ(0, count_option(&msg, variant->alias ?
				  COAP_OPT_AUTH_TOKEN :
				  COAP_OPT_TOKEN_ALIAS));
	EXPECT_EQ(1, count_option(&msg, variant->alias ?
				  COAP_OPT_TOKEN_ALIAS :
				  COAP_OPT_AUTH_TOKEN));

	ASSERT_TRUE(coap_find_option(&msg, COAP_OPT_SEQ, &seq_opt));
	ASSERT_EQ(16, seq_opt.len);
	EXPECT_EQ(1, count_option(&msg, COAP_OPT_SEQ));
	ASSERT_EQ(0, coap_proto_seq_decrypt(self->key, seq_opt.value, &seq));
	EXPECT_EQ(variant->seq, seq);

	if (variant->cipher == COAP_CIPHER_AES_128_CTR &&
	    !variant->payload_len) {
		EXPECT_NULL(msg.payload);
	} else {
		ASSERT_NE(NULL, msg.payload);
		ct_len = variant->payload_len;
		if (variant->cipher == COAP_CIPHER_AES_128_CBC)
			ct_len = (ct_len / 16 + 1) * 16;
		EXPECT_EQ(ct_len, msg.payload_len);
		ASSERT_EQ((int)variant->payload_len,
			  coap_proto_payload_decrypt(variant->cipher,
						     self->key, seq_opt.value,
						     false, msg.payload,
						     msg.payload_len,
						     pt, sizeof(pt)));
		EXPECT_EQ(0, memcmp(pt, PLAIN, variant->payload_len));
	}
	free(copy);
}

TEST_F(publish, no_auth_token)
{
	uint8_t buf[COAP_MAX_MESSAGE];
	struct coap_msg msg;
	int n;

	self->p.auth_token = NULL;
	n = coap_proto_build_publish(&self->p, buf, sizeof(buf));
	ASSERT_LT(0, n);
	ASSERT_EQ(0, coap_parse(buf, (size_t)n, &msg));
	EXPECT_EQ(0, count_option(&msg, COAP_OPT_AUTH_TOKEN));
	EXPECT_EQ(0, count_option(&msg, COAP_OPT_TOKEN_ALIAS));
	EXPECT_EQ(1, count_option(&msg, COAP_OPT_SEQ));
}

TEST_F(publish, small_buffer)
{
	uint8_t full[COAP_MAX_MESSAGE], *buf;
	size_t cap;
	int n;

	n = coap_proto_build_publish(&self->p, full, sizeof(full));
	ASSERT_LT(0, n);
	for (cap = 0; cap <= (size_t)n; cap++) {
		buf = xmalloc(cap);
		if (cap < (size_t)n) {
			ASSERT_EQ(-ENOSPC, coap_proto_build_publish(
					&self->p, cap ? buf : NULL, cap));
		} else {
			ASSERT_EQ(n, coap_proto_build_publish(&self->p, buf,
							      cap));
			EXPECT_EQ(0, memcmp(buf, full, cap));
		}
		free(buf);
	}
}

TEST(publish_bad_args)
{
	uint8_t key[16], buf[COAP_MAX_MESSAGE], *big;
	char seg[300];
	struct coap_proto_publish p = {
		.type = COAP_TYPE_CON, .topic = "/a/b", .auth_token = "T",
		.cipher = COAP_CIPHER_AES_128_CBC, .key = key, .seq = 1,
	};
	struct coap_proto_publish q;

	test_key(key);
	ASSERT_LT(0, coap_proto_build_publish(&p, buf, sizeof(buf)));
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(NULL, buf, sizeof(buf)));

	q = p;
	q.type = COAP_TYPE_ACK;
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q.type = COAP_TYPE_RST;
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q = p;
	q.coap_token_len = 9;
	q.coap_token = buf;
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q.coap_token_len = 1;
	q.coap_token = NULL;
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q = p;
	q.topic = NULL;
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q = p;
	q.key = NULL;
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q = p;
	q.cipher = (enum coap_cipher)0;
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q = p;
	q.payload_len = 1;
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q = p;
	q.seq = COAP_PROTO_SEQ_MAX + 1;
	EXPECT_EQ(-ERANGE, coap_proto_build_publish(&q, buf, sizeof(buf)));

	/* Segments the gateway would reject; argument errors beat -ENOSPC. */
	q = p;
	q.topic = "/a/../b";
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q.topic = "/a/.";
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, 0));
	q.topic = "/a/.../b";	/* fine: only . and .. are special */
	EXPECT_LT(0, coap_proto_build_publish(&q, buf, sizeof(buf)));
	memset(seg, 'x', sizeof(seg));
	seg[0] = '/';
	seg[256] = '\0';	/* a 255-byte segment: the longest Uri-Path */
	q.topic = seg;
	EXPECT_LT(0, coap_proto_build_publish(&q, buf, sizeof(buf)));
	seg[256] = 'x';
	seg[257] = '\0';
	EXPECT_EQ(-EINVAL, coap_proto_build_publish(&q, buf, sizeof(buf)));

	/* Payloads: up to what fits in 1280 bytes, then -ENOSPC/-EMSGSIZE. */
	big = xmalloc(COAP_MAX_MESSAGE + 1);
	memset(big, 'p', COAP_MAX_MESSAGE + 1);
	q = p;
	q.cipher = COAP_CIPHER_AES_128_CTR;
	q.payload = big;
	/* 4 + 6 + 2 + 2 + 4 ("T") + 18 (seq) + 1 (marker) = 37 bytes. */
	q.payload_len = COAP_MAX_MESSAGE - 37;
	EXPECT_EQ(COAP_MAX_MESSAGE, coap_proto_build_publish(&q, buf,
							     sizeof(buf)));
	q.payload_len++;
	EXPECT_EQ(-ENOSPC, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q.payload_len = COAP_MAX_MESSAGE;
	EXPECT_EQ(-ENOSPC, coap_proto_build_publish(&q, buf, sizeof(buf)));
	q.payload_len = COAP_MAX_MESSAGE + 1;
	EXPECT_EQ(-EMSGSIZE, coap_proto_build_publish(&q, buf, sizeof(buf)));
	free(big);
}

TEST_HARNESS_MAIN
