// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of coapd's JSON line writer (userspace/coapd/jsonline.c):
 * byte for byte what json-c printed before for the same message (the old
 * sink code is the reference here), on fixed cases and on a seeded spray of
 * hostile strings and payloads (every control character, quotes,
 * backslashes, '/', DEL, bytes >= 0x80, broken and overlong UTF-8), at
 * every position across the eight-byte words the writer reads at a time,
 * and never past coapd_json_line_max().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "kselftest_harness.h"
#include "jsonline.h"

/* coapd_json_text_ok() as it was, byte by byte: the reference for its
 * eight-bytes-at-a-time version.
 */
static bool ref_text_ok(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		uint8_t c = s[i];

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

/* The sink's former json_line(), on json-c. */
static int ref_str(struct json_object *o, const char *key, const char *s,
		   size_t len)
{
	struct json_object *v = json_object_new_string_len(s, len);

	return v ? json_object_object_add(o, key, v) : -1;
}

static int ref_u64(struct json_object *o, const char *key, uint64_t n)
{
	struct json_object *v = json_object_new_uint64(n);

	return v ? json_object_object_add(o, key, v) : -1;
}

static char *ref_line(const struct coapd_json_fields *f, size_t *len)
{
	struct json_object *o = json_object_new_object();
	const uint8_t *p = f->payload_len ? f->payload : (const uint8_t *)"";
	char *line = NULL, *b64;
	const char *s;
	int err;

	if (!o)
		return NULL;
	err = ref_u64(o, "id", f->id) ||
	      ref_str(o, "productKey", f->product_key, strlen(f->product_key)) ||
	      ref_str(o, "deviceName", f->device_name, strlen(f->device_name)) ||
	      ref_str(o, "topic", f->topic, strlen(f->topic));
	if (!err && ref_text_ok(p, f->payload_len)) {
		err = ref_str(o, "payload", (const char *)p, f->payload_len);
	} else if (!err) {
		b64 = malloc((f->payload_len + 2) / 3 * 4 + 1);
		if (!b64)
			goto out;
		EVP_EncodeBlock((unsigned char *)b64, p, f->payload_len);
		err = ref_str(o, "payload_b64", b64, strlen(b64));
		free(b64);
	}
	err = err || (f->peer && ref_str(o, "peer", f->peer, strlen(f->peer))) ||
	      ref_u64(o, "time", f->time) ||
	      (f->has_seq && ref_u64(o, "seq", f->seq));
	if (err)
		goto out;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	*len = strlen(s) + 1;
	line = malloc(*len);
	if (line) {
		memcpy(line, s, *len - 1);
		line[*len - 1] = '\n';
	}
out:
	json_object_put(o);
	return line;
}

/* Compare the two writers on f; the line also must fit the bound. */
static int same(struct __test_metadata *_metadata,
		const struct coapd_json_fields *f)
{
	size_t max = coapd_json_line_max(f), ref_len = 0, len;
	char *ref = ref_line(f, &ref_len);
	/* A guard byte past the bound catches a write beyond it. */
	char *out = malloc(max + 1);
	int ok;

	ASSERT_NE(NULL, ref);
	ASSERT_NE(NULL, out);
	out[max] = 0x5a;
	len = coapd_json_line(f, out);
	ok = len <= max && out[max] == 0x5a && len == ref_len &&
	     !memcmp(out, ref, len) &&
	     coapd_json_text_ok(f->payload, f->payload_len) ==
	     ref_text_ok(f->payload, f->payload_len);
	if (!ok)
		TH_LOG("json-c: %.*s\nours:   %.*s", (int)ref_len, ref,
		       (int)(len <= max ? len : max), out);
	free(ref);
	free(out);
	return ok;
}

TEST(plain_message)
{
	struct coapd_json_fields f = {
		.id = 1764000000000000001ULL, .product_key = "pk1",
		.device_name = "dev-1", .topic = "/pk1/dev-1/user/update",
		.payload = (const uint8_t *)"{\"t\":21.5,\"u\":\"C/m\"}",
		.payload_len = 21, .peer = "10.0.0.2:40000",
		.time = 1764000000123456789ULL, .has_seq = true, .seq = 42,
	};

	EXPECT_TRUE(same(_metadata, &f));
	f.peer = NULL;
	f.has_seq = false;
	EXPECT_TRUE(same(_metadata, &f));
	f.payload_len = 0;
	f.id = 0;
	f.time = UINT64_MAX;
	EXPECT_TRUE(same(_metadata, &f));
	f.peer = "[2001:db8::1]:5683";
	f.has_seq = true;
	f.seq = UINT64_MAX;
	EXPECT_TRUE(same(_metadata, &f));
}

TEST(every_byte_in_strings_and_payload)
{
	char str[256];
	uint8_t payload[256];
	struct coapd_json_fields f = {
		.id = 7, .product_key = str, .device_name = "d",
		.topic = str, .payload = payload, .peer = str, .time = 1,
	};
	int c;

	/* One byte at a time, then all of them in one string. */
	for (c = 1; c < 256; c++) {
		str[0] = c;
		str[1] = '\0';
		payload[0] = c;
		f.payload_len = 1;
		EXPECT_TRUE(same(_metadata, &f));
	}
	for (c = 1; c < 256; c++)
		str[c - 1] = c;
	str[255] = '\0';
	for (c = 0; c < 256; c++)
		payload[c] = c;
	f.payload_len = 256;
	EXPECT_TRUE(same(_metadata, &f));
	/* Without the NUL: is it text? Only if it is UTF-8 (it is not). */
	f.payload = payload + 1;
	f.payload_len = 127;
	EXPECT_TRUE(same(_metadata, &f));
}

TEST(utf8_edges)
{
	static const char *const cases[] = {
		"h\xc3\xa9llo", "\xe2\x82\xac 5", "\xf0\x9f\x98\x80",
		"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xc3", "\xe2\x82", "\x80", "\xff", "a/b\\c\"d\x7f",
		"\xef\xbb\xbf{}", "\xf4\x8f\xbf\xbf",
	};
	struct coapd_json_fields f = {
		.id = 9, .product_key = "p", .device_name = "d", .topic = "/t",
		.time = 2, .has_seq = true, .seq = 3,
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.payload = (const uint8_t *)cases[i];
		f.payload_len = strlen(cases[i]);
		f.topic = cases[i];
		EXPECT_TRUE(same(_metadata, &f));
	}
}

/*
 * Strings and payloads are read eight bytes at a time: each byte that needs
 * care (escaped, not ASCII, NUL, or just past such a value) at every
 * position of every length across three words, alone and next to a second
 * one, and a UTF-8 sequence across each word boundary.
 */
TEST(word_boundaries)
{
	static const uint8_t hot[] = {
		0x00, 0x01, 0x08, 0x0a, 0x1f, 0x20, 0x21, '"', '\\', '/',
		0x5b, 0x5d, 0x7e, 0x7f, 0x80, 0xbf, 0xc3, 0xe2, 0xf0, 0xff,
	};
	static const char *const seqs[] = {
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\xa0\x80",
	};
	char str[32];
	uint8_t payload[32];
	struct coapd_json_fields f = {
		.id = 5, .product_key = str, .device_name = str, .topic = str,
		.payload = payload, .peer = str, .time = 6, .has_seq = true,
	};
	size_t len, pos, h, h2, q;
	int bad = 0;

	for (len = 1; len <= 24; len++)
		for (pos = 0; pos < len; pos++)
			for (h = 0; h < sizeof(hot); h++) {
				memset(str, 'a', len);
				memset(payload, 'a', len);
				str[len] = '\0';
				payload[pos] = hot[h];
				/* A NUL would end the string early. */
				str[pos] = hot[h] ? hot[h] : 'b';
				f.payload_len = len;
				bad += !same(_metadata, &f);
				/* A second one, a word further or right after. */
				h2 = (h * 7 + pos) % sizeof(hot);
				q = (pos + (len & 1 ? 1 : 8)) % len;
				payload[q] = hot[h2];
				str[q] = hot[h2] ? hot[h2] : 'c';
				bad += !same(_metadata, &f);
			}
	for (h = 0; h < sizeof(seqs) / sizeof(seqs[0]); h++)
		for (pos = 0; pos + strlen(seqs[h]) <= 24; pos++) {
			memset(payload, 'a', 24);
			memcpy(payload + pos, seqs[h], strlen(seqs[h]));
			memcpy(str, payload, 24);
			str[24] = '\0';
			f.payload_len = 24;
			bad += !same(_metadata, &f);
			/* Cut inside the sequence: not text. */
			f.payload_len = pos + 1;
			bad += !same(_metadata, &f);
		}
	EXPECT_EQ(0, bad);
}

/* Numbers are written by digit count: each side of every power of ten. */
TEST(number_digit_counts)
{
	struct coapd_json_fields f = {
		.product_key = "p", .device_name = "d", .topic = "/t",
		.payload = (const uint8_t *)"x", .payload_len = 1,
		.has_seq = true,
	};
	uint64_t p = 1;
	int i, d, bad = 0;

	for (i = 0; i < 20; i++, p *= 10)
		for (d = -1; d <= 1; d++) {
			f.id = p + d;
			f.time = UINT64_MAX - p + d;
			f.seq = (p + d) / 2;
			bad += !same(_metadata, &f);
		}
	f.id = f.time = f.seq = UINT64_MAX;
	bad += !same(_metadata, &f);
	EXPECT_EQ(0, bad);
}

/* Bytes weighted toward the ones that need care. */
static uint8_t hostile_byte(unsigned int *seed)
{
	static const uint8_t hot[] = {
		'"', '\\', '/', '\b', '\f', '\n', '\r', '\t', 0x01, 0x1f, 0x7f,
		0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xff, 'a',
	};
	unsigned int r = rand_r(seed);

	if (r % 3)
		return hot[(r >> 8) % sizeof(hot)];
	return r >> 16;
}

TEST(seeded_spray)
{
	unsigned int seed = 20261129;
	char pk[40], dn[40], topic[200], peer[60];
	uint8_t payload[1200];
	struct coapd_json_fields f = {
		.product_key = pk, .device_name = dn, .topic = topic,
		.payload = payload,
	};
	int i, bad = 0;

	for (i = 0; i < 20000 && bad < 5; i++) {
		size_t n, k;

		f.id = (uint64_t)rand_r(&seed) << 32 | rand_r(&seed);
		f.time = (uint64_t)rand_r(&seed) << 33 | rand_r(&seed);
		f.seq = rand_r(&seed);
		f.has_seq = rand_r(&seed) & 1;
		f.peer = rand_r(&seed) & 1 ? peer : NULL;
		n = rand_r(&seed) % sizeof(pk);
		for (k = 0; k < n; k++)
			pk[k] = hostile_byte(&seed) ?: 'x';
		pk[n] = '\0';
		n = rand_r(&seed) % sizeof(dn);
		for (k = 0; k < n; k++)
			dn[k] = hostile_byte(&seed) ?: 'x';
		dn[n] = '\0';
		n = rand_r(&seed) % sizeof(topic);
		for (k = 0; k < n; k++)
			topic[k] = hostile_byte(&seed) ?: 'x';
		topic[n] = '\0';
		n = rand_r(&seed) % sizeof(peer);
		for (k = 0; k < n; k++)
			peer[k] = hostile_byte(&seed) ?: 'x';
		peer[n] = '\0';
		f.payload_len = rand_r(&seed) % sizeof(payload);
		/* Half of them text-only, to reach the escaping often. */
		for (k = 0; k < f.payload_len; k++)
			payload[k] = i & 1 ? hostile_byte(&seed) :
					     0x20 + rand_r(&seed) % 0x60;
		if (!same(_metadata, &f))
			bad++;
	}
	EXPECT_EQ(0, bad);
}

/* coapd_addr_str()'s way, the reference for coapd_json_peer4(). */
TEST(peer4_as_inet_ntop)
{
	unsigned int seed = 4242;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	char ip[INET_ADDRSTRLEN], ref[32], out[32];
	int i;

	for (i = 0; i < 20000; i++) {
		uint32_t v = (uint32_t)rand_r(&seed) << 1 ^ rand_r(&seed);

		/* Zeros and 255s, where digit counts change, often. */
		if (i % 4 == 1)
			v &= 0xff00ff00;
		if (i % 4 == 2)
			v |= 0x00ff00ff;
		a.sin_addr.s_addr = i < 2 ? (i ? 0xffffffff : 0) : v;
		a.sin_port = i < 2 ? (i ? 0xffff : 0) : rand_r(&seed);
		ASSERT_NE(NULL, inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip)));
		snprintf(ref, sizeof(ref), "%s:%u", ip, ntohs(a.sin_port));
		ASSERT_EQ((const char *)out,
			  coapd_json_peer4((struct sockaddr *)&a, sizeof(a),
					   out));
		ASSERT_STREQ(ref, out);
	}
	/* Not IPv4, or too short to be: left to coapd_addr_str(). */
	EXPECT_EQ(NULL, coapd_json_peer4((struct sockaddr *)&a6, sizeof(a6),
					 out));
	EXPECT_EQ(NULL, coapd_json_peer4((struct sockaddr *)&a,
					 sizeof(a) - 1, out));
}

TEST_HARNESS_MAIN
