// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the fast path's internals as coap_offload.ko runs them: the ciphers
 * on the AES library, the topic rules, the session table and the queue of
 * deliveries to the consumer.
 *
 * Every expected ciphertext below was computed with the OpenSSL 3.0 command
 * line tool (the command is given next to it), never with the code under
 * test; they are the vectors of tests/unit/test_proto.c where those fit.
 * Common inputs:
 *
 *   KEY = c142a66df1541ec1971e395674328351   (the session key)
 *   IV  = 35343379686a79393761653766796667   (hex of 543yhjy97ae7fyfg)
 *   SEQ = e6f2dec1aa6c38bd9ca35ab1bb94c2ab   (the seq option of seq 4912)
 *   P   = the 100-byte PLAIN below; P[:n] is its first n bytes
 *
 * The decrypt functions work in place through a scatterlist, so every
 * buffer handed to them is a heap block (never the stack) of exactly the
 * size claimed, for KASAN to catch any access past it.
 */
#include <kunit/test.h>
#include <kunit/resource.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/rcupdate.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "coap_offload.h"

#define KEY_HEX		"c142a66df1541ec1971e395674328351"
#define SEQ_HEX		"e6f2dec1aa6c38bd9ca35ab1bb94c2ab"
#define CBC		COAP_OFFLOAD_CIPHER_AES_128_CBC
#define CTR		COAP_OFFLOAD_CIPHER_AES_128_CTR

#define PLAIN_JSON	"{\"temperature\":21.5,\"humidity\":48," \
			"\"battery\":3.61,\"status\":\"ok\"," \
			"\"ts\":1700000000123,\"id\":\"sensor-042\"}"

static const char PLAIN[] = PLAIN_JSON;

/* A heap copy of a hex literal of the tests, of exactly its size (min. 1). */
static u8 *unhex(struct kunit *test, const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	u8 *buf;

	KUNIT_ASSERT_EQ(test, 0, strlen(hex) % 2);
	buf = kunit_kmalloc(test, n ? n : 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, 0, hex2bin(buf, hex, n));
	if (len)
		*len = n;
	return buf;
}

static void session_res_free(struct kunit_resource *res)
{
	coap_offload_session_free(res->data);
}

/* A session keyed with key_hex, freed with the test case. */
static struct coap_offload_session *
test_session(struct kunit *test, u32 cipher, const char *key_hex)
{
	struct coap_offload_session *s;
	u8 *key;

	key = unhex(test, key_hex, NULL);
	s = coap_offload_session_alloc(cipher, key, 0);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	if (!kunit_alloc_resource(test, NULL, session_res_free, GFP_KERNEL,
				  s)) {
		coap_offload_session_free(s);
		KUNIT_ASSERT_FAILURE(test, "no memory for the resource");
	}
	KUNIT_EXPECT_EQ(test, cipher, s->cipher);
	KUNIT_EXPECT_EQ(test, AES_KEYSIZE_128, s->aes.key_length);
	return s;
}

/* ------------------------------------------------------------ crypto */

struct seq_case {
	const char *name;
	u32 cipher;
	const char *key;	/* hex; NULL: KEY */
	const char *block;	/* hex, 16 bytes */
	int err;
	u64 seq;
};

/*
 * Valid blocks:
 *   printf '%s' $seq | openssl enc -aes-128-cbc -K $KEY -iv $IV | xxd -p
 * for seq = 4912, 0, 999999999999999 and 000000000004912.
 * Refused blocks, by what they decrypt to:
 *   "12a4", "", "-1": the same command as above; full PKCS#7 padding, but
 *     not 1..15 decimal digits: -EINVAL from coap_parse_decimal_seq();
 *   16 digits: the first block of
 *     printf '%s' 1000000000000000 | openssl enc -aes-128-cbc -K $KEY -iv $IV
 *     (decrypts to "1000000000000000": last byte 0x30 is no padding);
 *   "4912" then twelve NUL (pad byte 0):
 *     printf '4912\0\0\0\0\0\0\0\0\0\0\0\0' |
 *         openssl enc -aes-128-cbc -nopad -K $KEY -iv $IV | xxd -p
 *   all zeros, decrypting to ...6d (checked with openssl enc -d -nopad);
 *   SEQ under KEY with its last bit flipped, decrypting to ...c4:
 *     printf '%s' $SEQ | xxd -r -p | openssl enc -d -aes-128-cbc -nopad \
 *         -K c142a66df1541ec1971e395674328350 -iv $IV | xxd -p
 */
static const struct seq_case seq_cases[] = {
	{ "4912", CBC, NULL, SEQ_HEX, 0, 4912 },
	{ "4912_ctr_session", CTR, NULL, SEQ_HEX, 0, 4912 },
	{ "0", CBC, NULL, "f20f349dcb7d138e670ae2b3a205d1e7", 0, 0 },
	{ "15_digits", CBC, NULL, "f1878e8131bcec08cfaf248e6ad69ce6", 0,
	  999999999999999ULL },
	{ "15_digits_ctr_session", CTR, NULL,
	  "f1878e8131bcec08cfaf248e6ad69ce6", 0, 999999999999999ULL },
	{ "leading_zeros", CBC, NULL, "3ead3c376baa39ab405636279d8cd2aa", 0,
	  4912 },
	{ "not_decimal_12a4", CBC, NULL, "ab5fede3a0f592b753d2f0bf7840d33b",
	  -EINVAL, 0 },
	{ "empty", CBC, NULL, "db0c08cc93b3cdb2b255daf3cc27f0c5", -EINVAL, 0 },
	{ "minus_one", CBC, NULL, "a7d11178d7a66e77d9c06467565a68d9", -EINVAL,
	  0 },
	{ "16_digits", CBC, NULL, "58914a0a07ed81385d26d006d0a15639", -EBADMSG,
	  0 },
	{ "pad_byte_0", CBC, NULL, "88e776e8815f05542c751325be903329",
	  -EBADMSG, 0 },
	{ "zero_block", CBC, NULL, "00000000000000000000000000000000",
	  -EBADMSG, 0 },
	{ "other_key", CBC, "c142a66df1541ec1971e395674328350", SEQ_HEX,
	  -EBADMSG, 0 },
	{ "other_key_ctr_session", CTR, "c142a66df1541ec1971e395674328350",
	  SEQ_HEX, -EBADMSG, 0 },
};

static void seq_case_desc(const struct seq_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(seq, seq_cases, seq_case_desc);

static void crypto_decrypt_seq(struct kunit *test)
{
	const struct seq_case *c = test->param_value;
	struct coap_offload_session *s;
	u64 *seq;
	size_t len;
	u8 *block;

	s = test_session(test, c->cipher, c->key ? c->key : KEY_HEX);
	block = unhex(test, c->block, &len);
	KUNIT_ASSERT_EQ(test, 16, len);
	seq = kunit_kmalloc(test, sizeof(*seq), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, seq);
	*seq = 77;
	KUNIT_EXPECT_EQ(test, c->err, coap_offload_decrypt_seq(s, block, seq));
	/* Untouched on error. */
	KUNIT_EXPECT_EQ(test, c->err ? 77 : c->seq, *seq);
}

struct payload_case {
	const char *name;
	u32 cipher;
	const char *counter;	/* hex, the seq option as sent */
	const char *ct;		/* hex */
	const char *plain;
	int len;		/* of the plaintext */
};

/*
 * CBC, P[:n] for n = 0, 1, 15, 16, 17, 100:
 *   printf '%s' "$P" | head -c $n |
 *       openssl enc -aes-128-cbc -K $KEY -iv $IV | xxd -p
 * and a valid short padding (three 0x03) that openssl does not produce:
 *   printf 'AAAAAAAAAAAAA\3\3\3' |
 *       openssl enc -aes-128-cbc -nopad -K $KEY -iv $IV | xxd -p
 * CTR, P[:n] for the same n, the counter block being the seq option:
 *   printf '%s' "$P" | head -c $n |
 *       openssl enc -aes-128-ctr -K $KEY -iv $SEQ | xxd -p
 * CTR, P[:48] from a counter block whose low 64 bits are all ones, and
 * from the all-ones block (which wraps to zero):
 *   printf '%s' "$P" | head -c 48 | openssl enc -aes-128-ctr -K $KEY \
 *       -iv 0000000000000000ffffffffffffffff | xxd -p
 *   printf '%s' "$P" | head -c 48 | openssl enc -aes-128-ctr -K $KEY \
 *       -iv ffffffffffffffffffffffffffffffff | xxd -p
 * The second block of the first is AES(0000000000000001 0000000000000000):
 * a 64-bit counter would use AES(0) instead, and give the second block of
 * the all-ones vector (11c363eb...) there, so only the 128-bit big-endian
 * increment passes both.
 */
#define CBC_16_BLOCK1	"b0db97fd97aa8ac93359cdaa44174f65"
#define CBC_P100	CBC_16_BLOCK1 "1dc4804a3e9296c59a02ba8bcd1123d3" \
			"d3e78580f9fef8ffb01b7a0b6d92bf9d" \
			"04803181db8fca04318999acb07f20cb" \
			"c5688df9bb7636251a395aad924503da" \
			"60e3559634aebf1447b22329c017838a" \
			"77079e56ed7b40e7867aa63624507033"
#define CTR_P100	"3ea1e189786b61a5d1807faeec0275204a7f310f4cc755cd" \
			"4879cfe31da2cd280ee14e5f7d1866c51a12b651c1abccba" \
			"8a300cad83a98202854c30d3d2e25d90d10f97598fd8dadb" \
			"85fb4a654e60030441b60e44822029ed586360bf34d0b155" \
			"2e0a0538"
#define CTR_CARRY	"a66a7e11e423ca90c1fc6c4573d11a18" \
			"c9d1f8cf237e9580e12d930472fc090b" \
			"4c652ae584e22c1c021d46e4b540d9aa"
#define CTR_WRAP	"50728b7945a631761e7ae6e030d0c32e" \
			"11c363eb2f67a011df0dada5bdf00840" \
			"c73e99d1565060571d693358fb957b78"

static const struct payload_case payload_cases[] = {
	{ "cbc_0", CBC, SEQ_HEX, "db0c08cc93b3cdb2b255daf3cc27f0c5", PLAIN, 0 },
	{ "cbc_1", CBC, SEQ_HEX, "9159e8c032bf3559ef46c35cc2bea03d", PLAIN, 1 },
	{ "cbc_15", CBC, SEQ_HEX, "98c37fe73fc32481a2b7f539c30b2acb", PLAIN,
	  15 },
	{ "cbc_16", CBC, SEQ_HEX,
	  CBC_16_BLOCK1 "59efcc3d559bc614fbadc3093a668c0c", PLAIN, 16 },
	{ "cbc_17", CBC, SEQ_HEX,
	  CBC_16_BLOCK1 "8005937dfe73907baf917d5949e76cb2", PLAIN, 17 },
	{ "cbc_100", CBC, SEQ_HEX, CBC_P100, PLAIN, 100 },
	{ "cbc_pad_3", CBC, SEQ_HEX, "4ddaf68f2f63e9dedefa9cbca2606c14",
	  "AAAAAAAAAAAAA", 13 },
	{ "ctr_0", CTR, SEQ_HEX, "", PLAIN, 0 },
	{ "ctr_1", CTR, SEQ_HEX, "3e", PLAIN, 1 },
	{ "ctr_15", CTR, SEQ_HEX, "3ea1e189786b61a5d1807faeec0275", PLAIN, 15 },
	{ "ctr_16", CTR, SEQ_HEX, "3ea1e189786b61a5d1807faeec027520", PLAIN,
	  16 },
	{ "ctr_17", CTR, SEQ_HEX, "3ea1e189786b61a5d1807faeec0275204a", PLAIN,
	  17 },
	{ "ctr_100", CTR, SEQ_HEX, CTR_P100, PLAIN, 100 },
	{ "ctr_carry_64", CTR, "0000000000000000ffffffffffffffff", CTR_CARRY,
	  PLAIN, 48 },
	{ "ctr_wrap_128", CTR, "ffffffffffffffffffffffffffffffff", CTR_WRAP,
	  PLAIN, 48 },
};

static void payload_case_desc(const struct payload_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(payload, payload_cases, payload_case_desc);

static void crypto_decrypt_payload(struct kunit *test)
{
	const struct payload_case *c = test->param_value;
	struct coap_offload_session *s;
	u8 *buf, *counter, *want;
	size_t len, clen;

	BUILD_BUG_ON(sizeof(PLAIN) != 100 + 1);
	s = test_session(test, c->cipher, KEY_HEX);
	buf = unhex(test, c->ct, &len);
	counter = unhex(test, c->counter, &clen);
	KUNIT_ASSERT_EQ(test, 16, clen);
	want = unhex(test, c->counter, NULL);
	KUNIT_ASSERT_EQ(test, c->len,
			coap_offload_decrypt_payload(s, buf, len, counter));
	KUNIT_EXPECT_EQ(test, 0, memcmp(c->plain, buf, c->len));
	/* The counter block is the caller's: read, never advanced in place. */
	KUNIT_EXPECT_EQ(test, 0, memcmp(want, counter, 16));
}

struct bad_payload_case {
	const char *name;
	const char *ct;		/* hex; NULL: len bytes of 0x5a */
	size_t len;
};

/*
 * CBC only (CTR has no way to fail). Bad padding, one block each of
 *   printf "$X" | openssl enc -aes-128-cbc -nopad -K $KEY -iv $IV | xxd -p
 * with X = 'AAAAAAAAAAAAAAA\0' (pad byte 0), 'AAAAAAAAAAAAAAA\21' (pad byte
 * 17), 'AAAAAAAAAAAAA\2\3\3' (pad 3, one byte 2), and two blocks with
 * X = sixteen 'A' then a padding block of 0x10 whose eighth byte is 0x0f.
 */
static const struct bad_payload_case bad_payload_cases[] = {
	{ "len_0", NULL, 0 },
	{ "len_1", NULL, 1 },
	{ "len_15", NULL, 15 },
	{ "len_17", NULL, 17 },
	{ "len_31", NULL, 31 },
	{ "len_33", NULL, 33 },
	{ "pad_byte_0", "6df1ac0df130df69513e96fd5e7a3ffa" },
	{ "pad_byte_17", "903cb39fe7baee6e65b9fd0da1472c1c" },
	{ "pad_inconsistent", "93d4490002d8d555e2a9fcf4474c83a3" },
	{ "pad_block_inconsistent",
	  "ed91b3adae62db4df0b27b44d50b8f6b0508e057c89bef7fc38fab7afe173f2f" },
};

static void bad_payload_case_desc(const struct bad_payload_case *c,
				  char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(bad_payload, bad_payload_cases, bad_payload_case_desc);

static void crypto_cbc_hostile(struct kunit *test)
{
	const struct bad_payload_case *c = test->param_value;
	struct coap_offload_session *s;
	u8 *buf, *counter;
	size_t len;

	s = test_session(test, CBC, KEY_HEX);
	counter = unhex(test, SEQ_HEX, NULL);
	if (c->ct) {
		buf = unhex(test, c->ct, &len);
	} else {
		len = c->len;
		buf = kunit_kmalloc(test, len ? len : 1, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, buf);
		memset(buf, 0x5a, len);
	}
	KUNIT_EXPECT_EQ(test, -EBADMSG,
			coap_offload_decrypt_payload(s, buf, len, counter));
}

static struct kunit_case coap_crypto_cases[] = {
	KUNIT_CASE_PARAM(crypto_decrypt_seq, seq_gen_params),
	KUNIT_CASE_PARAM(crypto_decrypt_payload, payload_gen_params),
	KUNIT_CASE_PARAM(crypto_cbc_hostile, bad_payload_gen_params),
	{}
};

static struct kunit_suite coap_crypto_suite = {
	.name = "coap_offload_crypto",
	.test_cases = coap_crypto_cases,
};

/* ------------------------------------------------------------- topic */

struct topic_case {
	const char *name;
	const char *topic;
	const char *pk;
	const char *dn;
	bool allowed;
};

#define PK	"a1PK"
#define DN	"dev1"

/*
 * PROTOCOL.md "POST /topic", default rules, for the device PK/DN. Topics
 * are as coap_uri_path() makes them ("/seg/seg", no empty, "." or ".."
 * segment), "" and "/" included, plus a few it never makes.
 */
static const struct topic_case topic_cases[] = {
	{ "own", "/" PK "/" DN "/x", PK, DN, true },
	{ "own_user_update", "/" PK "/" DN "/user/update", PK, DN, true },
	{ "own_deep", "/" PK "/" DN "/a/b/c/d/e", PK, DN, true },
	{ "sys", "/sys/" PK "/" DN "/thing/event/property/post", PK, DN,
	  true },
	{ "sys_one", "/sys/" PK "/" DN "/x", PK, DN, true },
	{ "ota", "/ota/device/upgrade/" PK "/" DN, PK, DN, true },
	{ "ota_any", "/ota/device/inform/" PK "/" DN, PK, DN, true },
	{ "shadow", "/shadow/update/" PK "/" DN, PK, DN, true },

	{ "own_nothing_after", "/" PK "/" DN, PK, DN, false },
	{ "other_pk", "/b1PK/" DN "/x", PK, DN, false },
	{ "other_dn", "/" PK "/dev2/x", PK, DN, false },
	{ "swapped", "/" DN "/" PK "/x", PK, DN, false },
	{ "pk_suffixed", "/" PK "x/" DN "/a", PK, DN, false },
	{ "dn_suffixed", "/" PK "/" DN "x/a", PK, DN, false },
	{ "pk_prefix", "/a1P/" DN "/a", PK, DN, false },
	{ "dn_prefix", "/" PK "/dev/a", PK, DN, false },
	{ "pk_case", "/A1PK/" DN "/a", PK, DN, false },
	{ "sys_alone", "/sys/" PK "/" DN, PK, DN, false },
	{ "sys_other_dn", "/sys/" PK "/dev2/x", PK, DN, false },
	{ "sys_no_pk", "/sys/" DN "/x", PK, DN, false },
	{ "ota_extra", "/ota/device/upgrade/" PK "/" DN "/extra", PK, DN,
	  false },
	{ "ota_missing_segment", "/ota/device/" PK "/" DN, PK, DN, false },
	{ "ota_other_dn", "/ota/device/upgrade/" PK "/dev2", PK, DN, false },
	{ "shadow_extra", "/shadow/update/" PK "/" DN "/x", PK, DN, false },
	{ "shadow_no_dn", "/shadow/update/" PK, PK, DN, false },
	{ "shadow_get", "/shadow/get/" PK "/" DN, PK, DN, false },
	{ "empty", "", PK, DN, false },
	{ "slash", "/", PK, DN, false },
	{ "no_leading_slash", PK "/" DN "/x", PK, DN, false },
	{ "no_leading_slash_sys", "sys/" PK "/" DN "/x", PK, DN, false },
	/* An identity with a '/' must not reach another device's topics. */
	{ "pk_with_slash", "/a/b/" DN "/x", "a/b", DN, false },
	{ "pk_with_slash_sys", "/sys/a/b/" DN "/x", "a/b", DN, false },
	{ "pk_with_slash_shadow", "/shadow/update/a/b/" DN, "a/b", DN, false },
	{ "dn_with_slash", "/" PK "/b/c/x", PK, "b/c", false },
	{ "dn_with_slash_ota", "/ota/device/u/" PK "/b/c", PK, "b/c", false },
	{ "empty_pk", "//" DN "/x", "", DN, false },
	{ "empty_dn", "/" PK "//x", PK, "", false },
};

static void topic_case_desc(const struct topic_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(topic, topic_cases, topic_case_desc);

/* The one call of the code under test: NULL rules are the defaults. */
static bool topic_allowed(const struct topic_case *c)
{
	bool ok;

	rcu_read_lock();
	ok = coap_offload_topic_allowed(NULL, c->topic, c->pk, c->dn);
	rcu_read_unlock();
	return ok;
}

static void topic_rules(struct kunit *test)
{
	const struct topic_case *c = test->param_value;

	KUNIT_EXPECT_EQ_MSG(test, c->allowed, topic_allowed(c),
			    "topic \"%s\" pk \"%s\" dn \"%s\"", c->topic, c->pk,
			    c->dn);
}

static struct kunit_case coap_topic_cases[] = {
	KUNIT_CASE_PARAM(topic_rules, topic_gen_params),
	{}
};

static struct kunit_suite coap_topic_suite = {
	.name = "coap_offload_topic",
	.test_cases = coap_topic_cases,
};

/* ---------------------------------------------------------- sessions */

static void set_token(struct coap_offload_token *t, const char *tok)
{
	memset(t, 0, sizeof(*t));
	t->len = strlen(tok);
	memcpy(t->data, tok, t->len);
}

/* A session as netlink.c makes one, not inserted. */
static struct coap_offload_session *new_session(struct kunit *test,
						const char *tok,
						const char *dn)
{
	struct coap_offload_session *s;
	u8 *key;

	key = unhex(test, KEY_HEX, NULL);
	s = coap_offload_session_alloc(CTR, key, 1000);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, s);
	set_token(&s->token, tok);
	strscpy(s->product_key, PK, sizeof(s->product_key));
	strscpy(s->device_name, dn, sizeof(s->device_name));
	s->expires = get_jiffies_64() + (u64)COAP_OFFLOAD_LIFETIME_DEFAULT * HZ;
	s->last_seen = jiffies;
	return s;
}

/* Insert a new session; on failure it is freed here and NULL returned. */
static struct coap_offload_session *
insert_session(struct kunit *test, const char *tok, const char *dn, int want)
{
	struct coap_offload_net *cn = test->priv;
	struct coap_offload_session *s = new_session(test, tok, dn);
	int err;

	err = coap_offload_session_insert(cn, s);
	KUNIT_EXPECT_EQ_MSG(test, want, err, "token \"%s\"", tok);
	if (err) {
		coap_offload_session_free(s);
		return NULL;
	}
	return s;
}

/*
 * Look tok up as the fast path does. The device name is copied out under
 * the RCU read lock; the pointer is returned only to be compared.
 */
static struct coap_offload_session *lookup(struct kunit *test,
					   const char *tok, char *dn)
{
	struct coap_offload_net *cn = test->priv;
	struct coap_offload_session *s;
	struct coap_offload_token t;

	set_token(&t, tok);
	rcu_read_lock();
	s = coap_offload_session_lookup(cn, &t);
	if (s && dn)
		strscpy(dn, s->device_name, COAP_OFFLOAD_IDENTITY_MAX + 1);
	rcu_read_unlock();
	return s;
}

/*
 * A bare namespace: no stats, no net. sessions_init() also starts the
 * expiry reaper, which touches those only for an expired session; the
 * sessions here live for days.
 */
static int sessions_test_init(struct kunit *test)
{
	struct coap_offload_net *cn;
	int err;

	cn = kunit_kzalloc(test, sizeof(*cn), GFP_KERNEL);
	if (!cn)
		return -ENOMEM;
	err = coap_offload_sessions_init(cn);
	if (err)
		return err;
	test->priv = cn;
	return 0;
}

/* Frees what the case left in the table; kmemleak checks the rest. */
static void sessions_test_exit(struct kunit *test)
{
	if (test->priv)
		coap_offload_sessions_exit(test->priv);
}

static void sessions_insert_lookup(struct kunit *test)
{
	struct coap_offload_net *cn = test->priv;
	struct coap_offload_session *abc, *abcd;
	char dn[COAP_OFFLOAD_IDENTITY_MAX + 1];

	KUNIT_EXPECT_EQ(test, COAP_OFFLOAD_MAX_SESSIONS_DEFAULT,
			cn->max_sessions);
	KUNIT_EXPECT_NULL(test, lookup(test, "abc", NULL));

	abc = insert_session(test, "abc", "dev-abc", 0);
	abcd = insert_session(test, "abcd", "dev-abcd", 0);
	KUNIT_ASSERT_NOT_NULL(test, abc);
	KUNIT_ASSERT_NOT_NULL(test, abcd);
	KUNIT_EXPECT_EQ(test, 2, atomic_read(&cn->session_count));

	/* Same prefix, different length: different tokens. */
	KUNIT_EXPECT_PTR_EQ(test, abc, lookup(test, "abc", dn));
	KUNIT_EXPECT_STREQ(test, "dev-abc", dn);
	KUNIT_EXPECT_PTR_EQ(test, abcd, lookup(test, "abcd", dn));
	KUNIT_EXPECT_STREQ(test, "dev-abcd", dn);
	KUNIT_EXPECT_NULL(test, lookup(test, "ab", NULL));
	KUNIT_EXPECT_NULL(test, lookup(test, "abcde", NULL));
	KUNIT_EXPECT_NULL(test, lookup(test, "abd", NULL));
	KUNIT_EXPECT_NULL(test, lookup(test, "ABC", NULL));
}

/* A token of n bytes of one value, up to the longest the API allows. */
static void sessions_token_lengths(struct kunit *test)
{
	struct coap_offload_net *cn = test->priv;
	struct coap_offload_session *s[COAP_OFFLOAD_TOKEN_MAX + 1];
	char tok[COAP_OFFLOAD_TOKEN_MAX + 2];
	int n;

	for (n = 1; n <= COAP_OFFLOAD_TOKEN_MAX; n++) {
		memset(tok, 'k', n);
		tok[n] = '\0';
		s[n] = insert_session(test, tok, "dev1", 0);
		KUNIT_ASSERT_NOT_NULL(test, s[n]);
	}
	KUNIT_EXPECT_EQ(test, COAP_OFFLOAD_TOKEN_MAX,
			atomic_read(&cn->session_count));
	for (n = 1; n <= COAP_OFFLOAD_TOKEN_MAX; n++) {
		memset(tok, 'k', n);
		tok[n] = '\0';
		KUNIT_EXPECT_PTR_EQ_MSG(test, s[n], lookup(test, tok, NULL),
					"length %d", n);
	}
}

static void sessions_duplicate(struct kunit *test)
{
	struct coap_offload_net *cn = test->priv;
	struct coap_offload_session *first;
	char dn[COAP_OFFLOAD_IDENTITY_MAX + 1];

	first = insert_session(test, "tok-1", "first", 0);
	KUNIT_ASSERT_NOT_NULL(test, first);
	KUNIT_EXPECT_NULL(test, insert_session(test, "tok-1", "second",
					       -EEXIST));
	KUNIT_EXPECT_EQ(test, 1, atomic_read(&cn->session_count));
	KUNIT_EXPECT_PTR_EQ(test, first, lookup(test, "tok-1", dn));
	KUNIT_EXPECT_STREQ(test, "first", dn);
}

static void sessions_limit(struct kunit *test)
{
	struct coap_offload_net *cn = test->priv;
	struct coap_offload_token t;

	WRITE_ONCE(cn->max_sessions, 2);
	KUNIT_ASSERT_NOT_NULL(test, insert_session(test, "t1", "d1", 0));
	KUNIT_ASSERT_NOT_NULL(test, insert_session(test, "t2", "d2", 0));
	KUNIT_EXPECT_NULL(test, insert_session(test, "t3", "d3", -ENOSPC));
	KUNIT_EXPECT_EQ(test, 2, atomic_read(&cn->session_count));
	KUNIT_EXPECT_NULL(test, lookup(test, "t3", NULL));

	/* A delete makes room again. */
	set_token(&t, "t1");
	KUNIT_EXPECT_EQ(test, 0, coap_offload_session_delete(cn, &t, false));
	KUNIT_EXPECT_EQ(test, 1, atomic_read(&cn->session_count));
	KUNIT_EXPECT_NOT_NULL(test, insert_session(test, "t3", "d3", 0));
	KUNIT_EXPECT_NULL(test, insert_session(test, "t4", "d4", -ENOSPC));
	KUNIT_EXPECT_EQ(test, 2, atomic_read(&cn->session_count));
}

static void sessions_delete(struct kunit *test)
{
	struct coap_offload_net *cn = test->priv;
	struct coap_offload_session *keep;
	struct coap_offload_token t;

	KUNIT_ASSERT_NOT_NULL(test, insert_session(test, "abc", "d1", 0));
	keep = insert_session(test, "abcd", "d2", 0);
	KUNIT_ASSERT_NOT_NULL(test, keep);

	set_token(&t, "ab");
	KUNIT_EXPECT_EQ(test, -ENOENT, coap_offload_session_delete(cn, &t, false));
	set_token(&t, "abc");
	KUNIT_EXPECT_EQ(test, 0, coap_offload_session_delete(cn, &t, false));
	KUNIT_EXPECT_NULL(test, lookup(test, "abc", NULL));
	KUNIT_EXPECT_EQ(test, -ENOENT, coap_offload_session_delete(cn, &t, false));
	KUNIT_EXPECT_EQ(test, 1, atomic_read(&cn->session_count));
	/* The longer token with the same prefix is still there. */
	KUNIT_EXPECT_PTR_EQ(test, keep, lookup(test, "abcd", NULL));

	/* The token can be used again (the old one is freed meanwhile). */
	KUNIT_EXPECT_NOT_NULL(test, insert_session(test, "abc", "d3", 0));
	KUNIT_EXPECT_EQ(test, 0, coap_offload_session_delete(cn, &t, false));
	set_token(&t, "abcd");
	KUNIT_EXPECT_EQ(test, 0, coap_offload_session_delete(cn, &t, false));
	KUNIT_EXPECT_EQ(test, 0, atomic_read(&cn->session_count));
	/* Queued frees are waited for by sessions_exit(). */
}

/* Enough sessions to grow the table; sessions_exit() frees them all. */
static void sessions_exit_frees_remaining(struct kunit *test)
{
	struct coap_offload_net *cn = test->priv;
	struct coap_offload_token t;
	char tok[16];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(tok, sizeof(tok), "tok-%d", i);
		KUNIT_ASSERT_NOT_NULL(test, insert_session(test, tok, "dn", 0));
	}
	/* Some freed through the workqueue, the rest by sessions_exit(). */
	for (i = 0; i < 200; i += 3) {
		snprintf(tok, sizeof(tok), "tok-%d", i);
		set_token(&t, tok);
		KUNIT_EXPECT_EQ(test, 0, coap_offload_session_delete(cn, &t, false));
	}
	KUNIT_EXPECT_EQ(test, 200 - 67, atomic_read(&cn->session_count));
	KUNIT_EXPECT_NOT_NULL(test, lookup(test, "tok-199", NULL));
	KUNIT_EXPECT_NULL(test, lookup(test, "tok-198", NULL));
}

/*
 * The reaper and flush walk a big table in slices: each slice looks at no
 * more than its budget, and the walk goes on from where it stopped. Flush
 * leaves nothing, although a resumed walk may skip a session. A walk that
 * unlinks announces each session: to init_net here, where no one listens.
 */
static void sessions_walk_in_slices(struct kunit *test)
{
	struct coap_offload_net *cn = test->priv;
	struct rhashtable_iter iter;
	char tok[16];
	int i;

	cn->net = &init_net;
	for (i = 0; i < 25; i++) {
		snprintf(tok, sizeof(tok), "slice-%d", i);
		KUNIT_ASSERT_NOT_NULL(test, insert_session(test, tok, "dn", 0));
	}
	rhashtable_walk_enter(&cn->sessions, &iter);
	KUNIT_EXPECT_TRUE(test, coap_offload_sessions_walk(cn, &iter, 10, false));
	KUNIT_EXPECT_EQ(test, 15, atomic_read(&cn->session_count));
	KUNIT_EXPECT_TRUE(test, coap_offload_sessions_walk(cn, &iter, 10, false));
	KUNIT_EXPECT_EQ(test, 5, atomic_read(&cn->session_count));
	rhashtable_walk_exit(&iter);

	for (i = 0; i < 3000; i++) {
		snprintf(tok, sizeof(tok), "many-%d", i);
		KUNIT_ASSERT_NOT_NULL(test, insert_session(test, tok, "dn", 0));
	}
	coap_offload_sessions_flush(cn);
	KUNIT_EXPECT_EQ(test, 0, atomic_read(&cn->session_count));
	KUNIT_EXPECT_NULL(test, lookup(test, "many-2999", NULL));
}

static struct kunit_case coap_sessions_cases[] = {
	KUNIT_CASE(sessions_insert_lookup),
	KUNIT_CASE(sessions_token_lengths),
	KUNIT_CASE(sessions_duplicate),
	KUNIT_CASE(sessions_limit),
	KUNIT_CASE(sessions_delete),
	KUNIT_CASE(sessions_exit_frees_remaining),
	KUNIT_CASE(sessions_walk_in_slices),
	{}
};

static struct kunit_suite coap_sessions_suite = {
	.name = "coap_offload_sessions",
	.init = sessions_test_init,
	.exit = sessions_test_exit,
	.test_cases = coap_sessions_cases,
};

/*
 * The queue of deliveries (pending.c) and a batching consumer: a kernel
 * netlink socket of init_net stands for coapd, and what reaches it is read
 * off its receive queue. The queue lives in a namespace's state, as in the
 * module: its timer finds the namespace from there.
 */
struct pending_test {
	struct coap_offload_net cn;
	struct socket *consumer;
	u32 portid;
};

static int pending_test_init(struct kunit *test)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK };
	struct pending_test *t;
	int err;

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	err = sock_create_kern(&init_net, AF_NETLINK, SOCK_RAW, NETLINK_GENERIC,
			       &t->consumer);
	if (err)
		return err;
	/* Port 0: the socket is given one. */
	err = kernel_bind(t->consumer, (struct sockaddr *)&addr, sizeof(addr));
	if (!err && kernel_getsockname(t->consumer,
				       (struct sockaddr *)&addr) < 0)
		err = -EINVAL;
	if (err) {
		sock_release(t->consumer);
		return err;
	}
	t->portid = addr.nl_pid;
	t->cn.net = &init_net;
	coap_offload_pending_init(&t->cn.pending);
	test->priv = t;
	return 0;
}

static void pending_test_exit(struct kunit *test)
{
	struct pending_test *t = test->priv;

	if (!t)
		return;
	coap_offload_pending_exit(&t->cn.pending);
	sock_release(t->consumer);
}

/* The size of the filler in each message: 31 of them fill 32 KiB. */
#define PENDING_TEST_FILLER	1000

/*
 * Queues one message of about 1 KiB; returns its id. Atomic: as in the
 * fast path, and the cases call it with softirqs off.
 */
static u64 pending_test_add(struct kunit *test)
{
	struct pending_test *t = test->priv;
	struct nlattr *id_attr, *redelivered;
	struct nlmsghdr *nlh;
	struct sk_buff *msg;
	u64 id = 0;
	bool fits;

	msg = nlmsg_new(nla_total_size(sizeof(u64)) + nla_total_size(1) +
			nla_total_size(PENDING_TEST_FILLER), GFP_ATOMIC);
	KUNIT_ASSERT_NOT_NULL(test, msg);
	nlh = nlmsg_put(msg, 0, 0, NLMSG_MIN_TYPE, 0, 0);
	id_attr = nla_reserve(msg, 1, sizeof(u64));
	redelivered = nla_reserve(msg, 2, 1);
	fits = nlh && id_attr && redelivered &&
	       nla_reserve(msg, 3, PENDING_TEST_FILLER);
	if (!fits)
		kfree_skb(msg);
	KUNIT_ASSERT_TRUE_MSG(test, fits, "message does not fit its skb");
	*(u8 *)nla_data(redelivered) = 0;
	nlmsg_end(msg, nlh);
	KUNIT_ASSERT_EQ(test, 0,
			coap_offload_pending_add(&init_net, &t->cn.pending,
						 msg, id_attr, redelivered,
						 &id));
	return id;
}

/* The messages in a datagram the consumer got. */
static unsigned int pending_test_count(struct sk_buff *datagram)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)datagram->data;
	int rem = datagram->len;
	unsigned int n = 0;

	for (; nlmsg_ok(nlh, rem); nlh = nlmsg_next(nlh, &rem))
		n++;
	return rem ? 0 : n;
}

/*
 * A consumer reading 64 KiB is sent 32 KiB datagrams (the most pending.c
 * packs). With nothing outstanding, messages gather for the batch delay,
 * unless they fill a datagram: then it goes at once, and the rest waits for
 * its confirmation, also when the delay runs out. Softirqs are off while
 * the messages are queued: the delay cannot expire in between.
 */
static void pending_full_datagram_goes_at_once(struct kunit *test)
{
	struct pending_test *t = test->priv;
	struct sk_buff_head *got = &t->consumer->sk->sk_receive_queue;
	u64 first_datagram_last_id = 0;
	int i;

	coap_offload_pending_register(&t->cn.pending, t->portid, true,
				      64 * 1024);
	local_bh_disable();
	for (i = 0; i < 31; i++)
		first_datagram_last_id = pending_test_add(test);
	KUNIT_EXPECT_EQ(test, 0, skb_queue_len(got));
	/* The 32nd does not fit the 31's datagram: they go, it waits. */
	pending_test_add(test);
	KUNIT_EXPECT_EQ(test, 1, skb_queue_len(got));
	for (i = 0; i < 3; i++)
		pending_test_add(test);
	local_bh_enable();
	KUNIT_ASSERT_EQ(test, 1, skb_queue_len(got));
	KUNIT_EXPECT_LE(test, skb_peek(got)->len, 32 * 1024);
	KUNIT_EXPECT_EQ(test, 31, pending_test_count(skb_peek(got)));

	/* The delay, started by the first message, has run out. */
	msleep(20);
	KUNIT_EXPECT_EQ(test, 1, skb_queue_len(got));

	coap_offload_pending_confirm(&init_net, &t->cn.pending,
				     first_datagram_last_id);
	KUNIT_ASSERT_EQ(test, 2, skb_queue_len(got));
	KUNIT_EXPECT_EQ(test, 4, pending_test_count(skb_peek_tail(got)));
	KUNIT_EXPECT_EQ(test, 4, skb_queue_len(&t->cn.pending.queue));
	KUNIT_EXPECT_EQ(test, skb_peek_tail(got)->len, t->cn.pending.len);
}

/* A few messages and nothing outstanding: they go when the delay is up. */
static void pending_few_messages_wait_for_the_delay(struct kunit *test)
{
	struct pending_test *t = test->priv;
	struct sk_buff_head *got = &t->consumer->sk->sk_receive_queue;
	int i;

	coap_offload_pending_register(&t->cn.pending, t->portid, true,
				      64 * 1024);
	local_bh_disable();
	for (i = 0; i < 5; i++)
		pending_test_add(test);
	KUNIT_EXPECT_EQ(test, 0, skb_queue_len(got));
	local_bh_enable();
	msleep(20);
	KUNIT_ASSERT_EQ(test, 1, skb_queue_len(got));
	KUNIT_EXPECT_EQ(test, 5, pending_test_count(skb_peek(got)));
}

static struct kunit_case coap_pending_cases[] = {
	KUNIT_CASE(pending_full_datagram_goes_at_once),
	KUNIT_CASE(pending_few_messages_wait_for_the_delay),
	{}
};

static struct kunit_suite coap_pending_suite = {
	.name = "coap_offload_pending",
	.init = pending_test_init,
	.exit = pending_test_exit,
	.test_cases = coap_pending_cases,
};

/*
 * 6.1 collects the suites of a module from its .kunit_test_suites section,
 * so each file of the module may register its own.
 */
kunit_test_suites(&coap_crypto_suite, &coap_topic_suite, &coap_sessions_suite,
		  &coap_pending_suite);
