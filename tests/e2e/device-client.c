// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end device: talks to a running coapd (and, through it, to
 * coap_offload.ko) the way a device does: /auth in its variants, publishes
 * with the returned token in both cipher suites, then hostile requests.
 *
 *   device-client PORT PK DN SECRET DISABLED_DN EXPECTED_FILE
 *
 * Prints one TAP result per check without numbers ("ok - ..."); the calling
 * script numbers them and owns the plan (E2E_CLIENT_TESTS there must match
 * the number of check() calls here). Each publish that was answered 2.05 is
 * appended to EXPECTED_FILE as "id<TAB>topic<TAB>hex(plaintext)" for the
 * script to find in coapd's sink.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cbor.h>
#include <linux/coap_offload.h>

#include "coap_proto.h"
#include "e2e_tap.h"

#define TIMEOUT_MS	5000	/* the VM is emulated: be patient */

/* E2E_TIMEOUT_MS overrides TIMEOUT_MS (coapd under valgrind is slow). */
static int timeout_ms = TIMEOUT_MS;

static const char *pk, *dn, *secret, *disabled_dn;
static FILE *expected;
static uint16_t next_mid = 0x4000;

static int dev_socket(int family, uint16_t port, uint32_t v4_addr)
{
	struct sockaddr_in6 a6 = {
		.sin6_family = AF_INET6, .sin6_port = htons(port),
		.sin6_addr = IN6ADDR_LOOPBACK_INIT,
	};
	struct sockaddr_in a4 = {
		.sin_family = AF_INET, .sin_port = htons(port),
		.sin_addr.s_addr = htonl(v4_addr),
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

struct answer {
	bool got;
	struct coap_msg msg;
	uint8_t buf[COAP_MAX_MESSAGE];
};

/*
 * Send a datagram and wait for the answer with its Message ID (a late
 * answer to an earlier request is skipped); false on timeout.
 */
static bool exchange(int fd, const uint8_t *pkt, size_t len, struct answer *a,
		     int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint16_t mid = pkt[2] << 8 | pkt[3];
	ssize_t n;

	memset(a, 0, sizeof(*a));
	if (send(fd, pkt, len, 0) != (ssize_t)len)
		return false;
	if (ms == TIMEOUT_MS)
		ms = timeout_ms;
	while (poll(&pfd, 1, ms) == 1) {
		n = recv(fd, a->buf, sizeof(a->buf), MSG_DONTWAIT);
		if (n < 0 || coap_parse(a->buf, n, &a->msg))
			return false;
		if (a->msg.message_id == mid) {
			a->got = true;
			return true;
		}
		diag("skipped a late answer to message %#x", a->msg.message_id);
	}
	return false;
}

static bool is_code(const struct answer *a, uint16_t mid, uint8_t code)
{
	if (!a->got) {
		diag("no answer");
		return false;
	}
	if (a->msg.type != COAP_TYPE_ACK || a->msg.message_id != mid ||
	    a->msg.code != code) {
		diag("got type %u mid %#x code %u.%02u, want ACK %#x %u.%02u",
		     a->msg.type, a->msg.message_id,
		     COAP_CODE_CLASS(a->msg.code), COAP_CODE_DETAIL(a->msg.code),
		     mid, COAP_CODE_CLASS(code), COAP_CODE_DETAIL(code));
		return false;
	}
	return true;
}

struct auth_req {
	uint8_t code;		/* 0: POST */
	const char *path;	/* NULL: "auth" */
	int content_format;	/* -1: none */
	int accept;		/* -1: none */
	uint16_t extra_option;	/* 0: none */
	const char *payload;	/* NULL: built from the fields below */
	const char *pk, *dn, *client_id, *method, *cipher;
	const char *seq_json;	/* as it appears in the JSON: "\"4912\"", "4912" */
	const char *seq_text;	/* as it is signed */
	bool bad_sign, upper_sign;
};

static int build_auth(const struct auth_req *q, uint16_t mid, uint8_t *buf,
		      size_t cap)
{
	static const uint8_t token[] = { 0xa1, 0x17, 0x00, 0x42 };
	struct coap_proto_field f[6];
	char content[1024], sign[COAP_PROTO_SIGN_HEX_MAX + 1], payload[1024];
	const char *pk_ = q->pk ? q->pk : pk, *dn_ = q->dn ? q->dn : dn;
	struct coap_builder b;
	size_t n = 0, i;

	if (!q->payload) {
		f[n++] = (struct coap_proto_field){ "productKey", pk_ };
		f[n++] = (struct coap_proto_field){ "deviceName", dn_ };
		f[n++] = (struct coap_proto_field){ "clientId", q->client_id };
		f[n++] = (struct coap_proto_field){ "seq", q->seq_text };
		if (q->cipher)
			f[n++] = (struct coap_proto_field){ "cipher", q->cipher };
		if (coap_proto_sign_content(f, n, content, sizeof(content)) < 0 ||
		    coap_proto_sign_hex(q->method, q->bad_sign ? "not-the-secret" :
					secret, content, sign, sizeof(sign)))
			return -1;
		if (q->upper_sign)
			for (i = 0; sign[i]; i++)
				sign[i] = toupper((unsigned char)sign[i]);
		snprintf(payload, sizeof(payload),
			 "{\"productKey\":\"%s\",\"deviceName\":\"%s\",\"clientId\":\"%s\",\"seq\":%s,%s%s%s\"signmethod\":\"%s\",\"sign\":\"%s\"}",
			 pk_, dn_, q->client_id, q->seq_json,
			 q->cipher ? "\"cipher\":\"" : "", q->cipher ? q->cipher : "",
			 q->cipher ? "\"," : "", q->method, sign);
	}
	coap_builder_init(&b, buf, cap, COAP_TYPE_CON,
			  q->code ? q->code : COAP_CODE_POST, mid, token,
			  sizeof(token));
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, q->path ? q->path : "auth",
				strlen(q->path ? q->path : "auth"));
	if (q->content_format >= 0)
		coap_builder_add_uint_option(&b, COAP_OPT_CONTENT_FORMAT,
					     q->content_format);
	if (q->accept >= 0)
		coap_builder_add_uint_option(&b, COAP_OPT_ACCEPT, q->accept);
	if (q->extra_option)
		coap_builder_add_option(&b, q->extra_option, "x", 1);
	q->payload ? coap_builder_set_payload(&b, q->payload, strlen(q->payload)) :
		     coap_builder_set_payload(&b, payload, strlen(payload));
	return coap_builder_finish(&b);
}

struct session {
	char token[65];
	char random[17];
	unsigned int seq_offset;
	enum coap_cipher cipher;
	uint8_t key[COAP_PROTO_KEY_LEN];
	uint64_t next_seq;
};

/* The 2.05 of a good /auth: no options, the exact JSON of PROTOCOL.md. */
static bool parse_grant(const struct answer *a, struct session *s)
{
	char json[256], tail;
	size_t i;

	if (a->msg.options_len) {
		diag("the 2.05 carries options");
		return false;
	}
	if (!a->msg.payload || a->msg.payload_len >= sizeof(json)) {
		diag("no payload or too long");
		return false;
	}
	memcpy(json, a->msg.payload, a->msg.payload_len);
	json[a->msg.payload_len] = '\0';
	if (sscanf(json, "{\"random\":\"%16[0-9a-f]\",\"seqOffset\":%u,\"token\":\"%64[!#-~]\"%c",
		   s->random, &s->seq_offset, s->token, &tail) != 4 ||
	    tail != '}' || strlen(s->random) != 16 || s->seq_offset < 1 ||
	    s->seq_offset > 65535 || strlen(s->token) < 32 ||
	    json[a->msg.payload_len - 1] != '}' ||
	    strchr(json, '}') != json + a->msg.payload_len - 1) {
		/* The token is a credential: do not print the payload. */
		diag("unexpected 2.05 payload (%zu bytes)", a->msg.payload_len);
		return false;
	}
	for (i = 0; s->token[i]; i++)
		if (!isprint((unsigned char)s->token[i]))
			return false;
	s->next_seq = s->seq_offset;
	return !coap_proto_session_key(secret, s->random, s->key);
}

/* /auth that must succeed; fills *s. */
static bool auth_ok(int fd, const struct auth_req *q, struct session *s,
		    uint16_t *mid_out)
{
	uint8_t pkt[COAP_MAX_MESSAGE];
	uint16_t mid = ++next_mid;
	struct answer a;
	int len;

	len = build_auth(q, mid, pkt, sizeof(pkt));
	if (len < 0 || !exchange(fd, pkt, len, &a, TIMEOUT_MS) ||
	    !is_code(&a, mid, COAP_CODE_CONTENT) || !parse_grant(&a, s))
		return false;
	if (a.msg.token_len != 4 || memcmp(a.msg.token, "\xa1\x17\x00\x42", 4)) {
		diag("the CoAP token was not echoed");
		return false;
	}
	s->cipher = q->cipher && !strcmp(q->cipher, "aes-128-ctr") ?
		    COAP_CIPHER_AES_128_CTR : COAP_CIPHER_AES_128_CBC;
	if (mid_out)
		*mid_out = mid;
	return true;
}

static uint8_t auth_code(int fd, const struct auth_req *q)
{
	uint8_t pkt[COAP_MAX_MESSAGE];
	uint16_t mid = ++next_mid;
	struct answer a;
	int len;

	len = build_auth(q, mid, pkt, sizeof(pkt));
	if (len < 0 || !exchange(fd, pkt, len, &a, TIMEOUT_MS))
		return 0;
	if (a.msg.type != COAP_TYPE_ACK || a.msg.message_id != mid ||
	    a.msg.payload_len)
		return 0xff;
	return a.msg.code;
}

static uint8_t want(int fd, const struct auth_req *q, uint8_t code,
		    const char *what)
{
	uint8_t got = auth_code(fd, q);

	if (got != code)
		diag("got %u.%02u", COAP_CODE_CLASS(got), COAP_CODE_DETAIL(got));
	check(got == code, "%s -> %u.%02u", what, COAP_CODE_CLASS(code),
	      COAP_CODE_DETAIL(code));
	return got;
}

/* build_pub()'s seq for "the session's next". */
#define NEXT_SEQ	UINT64_MAX

/* Build a publish into pkt. Returns its length. */
static int build_pub(struct session *s, const char *topic, const void *payload,
		     size_t len, uint64_t seq, const char *token, bool alias_61,
		     uint8_t *pkt, size_t cap, uint16_t *mid_out)
{
	struct coap_proto_publish p = {
		.type = COAP_TYPE_CON,
		.message_id = ++next_mid,
		.coap_token = (const uint8_t *)"pb",
		.coap_token_len = 2,
		.topic = topic,
		.auth_token = token ? token : s->token,
		.token_in_option_61 = alias_61,
		.cipher = s->cipher,
		.key = s->key,
		.seq = seq == NEXT_SEQ ? s->next_seq++ : seq,
		.payload = payload,
		.payload_len = len,
	};

	if (mid_out)
		*mid_out = p.message_id;
	return coap_proto_build_publish(&p, pkt, cap);
}

/* Publish; the answer in *a. seq 0: the session's next. */
static bool publish(int fd, struct session *s, const char *topic,
		    const void *payload, size_t len, uint64_t seq,
		    const char *token, struct answer *a, uint16_t *mid_out)
{
	uint8_t pkt[COAP_MAX_MESSAGE];
	int n = build_pub(s, topic, payload, len, seq ? seq : NEXT_SEQ, token,
			  false, pkt, sizeof(pkt), mid_out);

	return n > 0 && exchange(fd, pkt, n, a, TIMEOUT_MS);
}

/* The 8-byte option 2090 of a 2.05, or 0. */
static uint64_t answer_id(const struct answer *a)
{
	struct coap_option opt;
	uint64_t id = 0;
	int i;

	if (!coap_find_option(&a->msg, COAP_OPT_MESSAGE_ID, &opt) ||
	    opt.len != 8)
		return 0;
	for (i = 0; i < 8; i++)
		id = id << 8 | opt.value[i];
	return id;
}

/* Note a delivered publish for the sink check of the calling script. */
static void expect_in_sink(uint64_t id, const char *topic, const void *payload,
			   size_t len)
{
	size_t i;

	fprintf(expected, "%llu\t%s\t", (unsigned long long)id, topic);
	for (i = 0; i < len; i++)
		fprintf(expected, "%02x", ((const uint8_t *)payload)[i]);
	fputc('\n', expected);
	fflush(expected);
}

/* A publish that must be delivered: 2.05 with option 2090 (8 bytes). */
static void publish_ok(int fd, struct session *s, const char *sub,
		       const void *payload, size_t len, const char *what)
{
	char topic[256];
	struct answer a;
	uint64_t id = 0;
	uint16_t mid;
	bool ok;

	snprintf(topic, sizeof(topic), "/%s/%s/%s", pk, dn, sub);
	ok = publish(fd, s, topic, payload, len, 0, NULL, &a, &mid) &&
	     is_code(&a, mid, COAP_CODE_CONTENT) && (id = answer_id(&a));
	if (ok)
		expect_in_sink(id, topic, payload, len);
	check(ok, "publish %s (%s) -> 2.05 + option 2090", what,
	      coap_proto_cipher_name(s->cipher));
}

/*
 * A publish built by hand, for what coap_proto_build_publish() refuses to
 * build: a Uri-Path segment of its own after /pk/dn (NULL: "x"), the given
 * token, a seq option of seq_len bytes, an unknown critical option.
 */
static int raw_publish(struct session *s, const char *segment,
		       const char *token, size_t seq_len, bool critical,
		       uint8_t *pkt, size_t cap, uint16_t *mid)
{
	uint8_t block[COAP_PROTO_BLOCK], payload[32];
	struct coap_builder b;
	int n;

	if (coap_proto_seq_encrypt(s->key, s->next_seq++, block))
		return -1;
	n = coap_proto_payload_encrypt(s->cipher, s->key, block, false,
				       (const uint8_t *)"raw", 3, payload,
				       sizeof(payload));
	if (n < 0)
		return -1;
	*mid = ++next_mid;
	coap_builder_init(&b, pkt, cap, COAP_TYPE_CON, COAP_CODE_POST, *mid,
			  (const uint8_t *)"rw", 2);
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "topic", 5);
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, pk, strlen(pk));
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, dn, strlen(dn));
	segment = segment ? segment : "x";
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, segment, strlen(segment));
	coap_builder_add_option(&b, COAP_OPT_AUTH_TOKEN, token, strlen(token));
	coap_builder_add_option(&b, COAP_OPT_SEQ, block,
				seq_len < sizeof(block) ? seq_len : sizeof(block));
	if (critical)
		coap_builder_add_option(&b, 2093, "x", 1);
	coap_builder_set_payload(&b, payload, n);
	return coap_builder_finish(&b);
}

/* Send a datagram that must be answered with code (ACK, same MID). */
static bool send_want(int fd, const uint8_t *pkt, int len, uint16_t mid,
		      uint8_t code, struct answer *a)
{
	return len > 0 && exchange(fd, pkt, len, a, TIMEOUT_MS) &&
	       is_code(a, mid, code);
}

/*
 * The fast path's decisions, checked the same against coap_offload.ko and
 * against coapd --no-offload (tests/e2e/nooffload.sh runs this client too).
 */
static void publish_edges(int fd, struct session *s)
{
	char topic[256], long_seg[240], long_token[COAP_OFFLOAD_TOKEN_MAX + 2];
	uint8_t pkt[COAP_MAX_MESSAGE];
	struct answer a, b;
	uint64_t id, far;
	uint16_t mid;
	bool ok;
	int len;

	snprintf(topic, sizeof(topic), "/%s/%s/user/update", pk, dn);

	/* Another device's topic; then the same CON again (answer cache). */
	len = build_pub(s, "/a1other/dev9/user/update", "x", 1, NEXT_SEQ, NULL,
			false, pkt, sizeof(pkt), &mid);
	ok = send_want(fd, pkt, len, mid, COAP_CODE_FORBIDDEN, &a);
	check(ok, "publish to another device's topic -> 4.03");
	ok = send_want(fd, pkt, len, mid, COAP_CODE_FORBIDDEN, &a);
	check(ok, "the same refused CON again (same MID) -> 4.03 again");

	/* A retransmitted CON: the same 2.05 and id, delivered once. */
	len = build_pub(s, topic, "{\"retx\":1}", 10, NEXT_SEQ, NULL, false,
			pkt, sizeof(pkt), &mid);
	ok = send_want(fd, pkt, len, mid, COAP_CODE_CONTENT, &a) &&
	     (id = answer_id(&a)) &&
	     send_want(fd, pkt, len, mid, COAP_CODE_CONTENT, &b) &&
	     answer_id(&b) == id;
	if (ok)
		expect_in_sink(id, topic, "{\"retx\":1}", 10);
	check(ok, "retransmitted publish (same MID) -> the same 2.05 and message id (sink: once)");

	/* Option 61 instead of 2088 (some SDK releases). */
	len = build_pub(s, topic, "alias", 5, NEXT_SEQ, NULL, true, pkt,
			sizeof(pkt), &mid);
	ok = send_want(fd, pkt, len, mid, COAP_CODE_CONTENT, &a) &&
	     (id = answer_id(&a));
	if (ok)
		expect_in_sink(id, topic, "alias", 5);
	check(ok, "publish with the token in option 61 -> 2.05");

	/* Below seqOffset: never valid. */
	len = build_pub(s, topic, "low", 3, s->seq_offset - 1, NULL, false, pkt,
			sizeof(pkt), &mid);
	check(send_want(fd, pkt, len, mid, COAP_CODE_BAD_REQUEST, &a),
	      "publish with a seq below seqOffset -> 4.00");

	/* Far ahead is fine; 256 or more below the highest is too old. */
	far = s->next_seq + 1000;
	len = build_pub(s, topic, "far", 3, far, NULL, false, pkt, sizeof(pkt),
			&mid);
	ok = send_want(fd, pkt, len, mid, COAP_CODE_CONTENT, &a) &&
	     (id = answer_id(&a));
	if (ok)
		expect_in_sink(id, topic, "far", 3);
	len = build_pub(s, topic, "old", 3, far - 256, NULL, false, pkt,
			sizeof(pkt), &mid);
	ok = ok && send_want(fd, pkt, len, mid, COAP_CODE_BAD_REQUEST, &a);
	len = build_pub(s, topic, "in window", 9, far - 255, NULL, false, pkt,
			sizeof(pkt), &mid);
	ok = ok && send_want(fd, pkt, len, mid, COAP_CODE_CONTENT, &a) &&
	     (id = answer_id(&a));
	if (ok)
		expect_in_sink(id, topic, "in window", 9);
	check(ok, "seq +1000 -> 2.05; 256 below it -> 4.00 (too old); 255 below -> 2.05");
	s->next_seq = far + 1;

	if (s->cipher == COAP_CIPHER_AES_128_CBC) {
		/* One byte short of whole cbc blocks. */
		len = build_pub(s, topic, "short", 5, NEXT_SEQ, NULL, false, pkt,
				sizeof(pkt), &mid);
		ok = send_want(fd, pkt, len - 1, mid, COAP_CODE_BAD_REQUEST, &a);
		check(ok, "cbc payload not in whole blocks -> 4.00");
	}

	len = raw_publish(s, NULL, s->token, 8, false, pkt, sizeof(pkt), &mid);
	check(send_want(fd, pkt, len, mid, COAP_CODE_BAD_REQUEST, &a),
	      "publish with an 8-byte seq option -> 4.00");
	len = raw_publish(s, NULL, s->token, 16, true, pkt, sizeof(pkt), &mid);
	check(send_want(fd, pkt, len, mid, COAP_CODE_BAD_OPTION, &a),
	      "publish with an unknown critical option -> 4.02");
	memset(long_token, 'k', sizeof(long_token) - 1);
	long_token[sizeof(long_token) - 1] = '\0';
	len = raw_publish(s, NULL, long_token, 16, false, pkt, sizeof(pkt), &mid);
	check(send_want(fd, pkt, len, mid, COAP_CODE_UNAUTHORIZED, &a),
	      "publish with a 65-byte token -> 4.01");
	memset(long_seg, 's', sizeof(long_seg) - 1);
	long_seg[sizeof(long_seg) - 1] = '\0';
	len = raw_publish(s, long_seg, s->token, 16, false, pkt, sizeof(pkt),
			  &mid);
	check(send_want(fd, pkt, len, mid, COAP_CODE_NOT_FOUND, &a),
	      "publish to a topic longer than 256 bytes -> 4.04");
}

/* Add a text -> text (or uint when value is NULL) pair to a CBOR map. */
static bool map_put(cbor_item_t *map, const char *key, const char *value,
		    uint64_t num)
{
	cbor_item_t *k = cbor_build_string(key);
	cbor_item_t *v = value ? cbor_build_string(value) : cbor_build_uint64(num);
	bool ok = k && v && cbor_map_add(map, (struct cbor_pair){ k, v });

	if (k)
		cbor_decref(&k);
	if (v)
		cbor_decref(&v);
	return ok;
}

/*
 * /auth in CBOR (Content-Format 60, Accept 60), seq as a CBOR uint: the
 * answer must be a CBOR map of random, seqOffset and token.
 */
static bool auth_cbor(int fd, const char *client_id, struct session *s)
{
	static const uint8_t token[] = { 0xcb, 0x02 };
	struct coap_proto_field f[] = {
		{ "productKey", pk }, { "deviceName", dn },
		{ "clientId", client_id }, { "seq", "4912" },
	};
	char content[512], sign[COAP_PROTO_SIGN_HEX_MAX + 1];
	uint8_t pkt[COAP_MAX_MESSAGE], *body = NULL;
	struct cbor_load_result res;
	cbor_item_t *map, *ans = NULL;
	struct cbor_pair *pairs;
	uint16_t mid = ++next_mid;
	size_t body_len = 0, size, i;
	struct coap_builder b;
	struct answer a;
	bool ok = false;
	int len;

	if (coap_proto_sign_content(f, 4, content, sizeof(content)) < 0 ||
	    coap_proto_sign_hex("hmacsha256", secret, content, sign,
				sizeof(sign)))
		return false;
	map = cbor_new_definite_map(6);
	if (map && map_put(map, "productKey", pk, 0) &&
	    map_put(map, "deviceName", dn, 0) &&
	    map_put(map, "clientId", client_id, 0) &&
	    map_put(map, "seq", NULL, 4912) &&
	    map_put(map, "signmethod", "hmacsha256", 0) &&
	    map_put(map, "sign", sign, 0))
		body_len = cbor_serialize_alloc(map, &body, &size);
	if (map)
		cbor_decref(&map);
	if (!body_len)
		goto out;
	coap_builder_init(&b, pkt, sizeof(pkt), COAP_TYPE_CON, COAP_CODE_POST,
			  mid, token, sizeof(token));
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "auth", 4);
	coap_builder_add_uint_option(&b, COAP_OPT_CONTENT_FORMAT, 60);
	coap_builder_add_uint_option(&b, COAP_OPT_ACCEPT, 60);
	coap_builder_set_payload(&b, body, body_len);
	len = coap_builder_finish(&b);
	if (len < 0 || !exchange(fd, pkt, len, &a, TIMEOUT_MS) ||
	    !is_code(&a, mid, COAP_CODE_CONTENT) || !a.msg.payload)
		goto out;
	ans = cbor_load(a.msg.payload, a.msg.payload_len, &res);
	if (!ans || res.read != a.msg.payload_len || !cbor_isa_map(ans) ||
	    cbor_map_size(ans) != 3) {
		diag("the 2.05 is not a CBOR map of 3");
		goto out;
	}
	memset(s, 0, sizeof(*s));
	pairs = cbor_map_handle(ans);
	for (i = 0; i < 3; i++) {
		cbor_item_t *k = pairs[i].key, *v = pairs[i].value;
		size_t klen = cbor_isa_string(k) ? cbor_string_length(k) : 0;
		const char *kp = klen ? (const char *)cbor_string_handle(k) : "";

		if (klen == 6 && !memcmp(kp, "random", 6) && cbor_isa_string(v) &&
		    cbor_string_length(v) == 16)
			memcpy(s->random, cbor_string_handle(v), 16);
		else if (klen == 5 && !memcmp(kp, "token", 5) &&
			 cbor_isa_string(v) && cbor_string_length(v) >= 32 &&
			 cbor_string_length(v) <= 64)
			memcpy(s->token, cbor_string_handle(v),
			       cbor_string_length(v));
		else if (klen == 9 && !memcmp(kp, "seqOffset", 9) &&
			 cbor_isa_uint(v))
			s->seq_offset = cbor_get_int(v);
	}
	ok = strlen(s->random) == 16 && strlen(s->token) >= 32 &&
	     s->seq_offset >= 1 && s->seq_offset <= 65535 &&
	     !coap_proto_session_key(secret, s->random, s->key);
	s->next_seq = s->seq_offset;
	s->cipher = COAP_CIPHER_AES_128_CBC;
	if (!ok)
		diag("unexpected CBOR 2.05 fields");
out:
	if (ans)
		cbor_decref(&ans);
	free(body);
	return ok;
}

/* A raw datagram that must be answered with RST of its Message ID. */
static void want_rst(int fd, const uint8_t *pkt, size_t len, uint16_t mid,
		     const char *what)
{
	struct answer a;
	bool ok = exchange(fd, pkt, len, &a, TIMEOUT_MS) &&
		  a.msg.type == COAP_TYPE_RST && a.msg.message_id == mid &&
		  a.msg.code == COAP_CODE_EMPTY;

	check(ok, "%s -> RST", what);
}

int main(int argc, char **argv)
{
	char cid_dot[160], cid_amp[160], bogus[33], topic[256];
	struct session s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, s6 = { 0 };
	struct session again = { 0 }, sc = { 0 };
	struct answer a;
	uint8_t pkt[COAP_MAX_MESSAGE], rnd[16];
	uint16_t mid, port;
	int fd, fd6, fd2, len, i;

	if (argc != 7) {
		fprintf(stderr, "usage: device-client PORT PK DN SECRET DISABLED_DN EXPECTED\n");
		return 2;
	}
	if (getenv("E2E_TIMEOUT_MS"))
		timeout_ms = atoi(getenv("E2E_TIMEOUT_MS"));
	port = atoi(argv[1]);
	pk = argv[2];
	dn = argv[3];
	secret = argv[4];
	disabled_dn = argv[5];
	expected = fopen(argv[6], "w");
	fd = dev_socket(AF_INET, port, INADDR_LOOPBACK);
	fd6 = dev_socket(AF_INET6, port, 0);
	/*
	 * Connected to another local address of the wildcard socket: the
	 * answer must come from 127.0.0.2 or this socket never sees it.
	 */
	fd2 = dev_socket(AF_INET, port, INADDR_LOOPBACK + 1);
	if (!expected || fd < 0 || fd6 < 0 || fd2 < 0) {
		perror("device-client");
		return 2;
	}
	snprintf(cid_dot, sizeof(cid_dot), "%s.%s", pk, dn);
	snprintf(cid_amp, sizeof(cid_amp), "%s&%s", pk, dn);

	/* --- /auth variants that must succeed --- */
	check(auth_ok(fd, &(struct auth_req){
			.content_format = 50, .accept = 50, .client_id = cid_dot,
			.method = "hmacmd5", .seq_json = "\"4912\"",
			.seq_text = "4912" }, &s1, &mid),
	      "auth hmacmd5, clientId pk.dn, seq string, CF/Accept 50 -> 2.05 {random,seqOffset,token}");
	check(auth_ok(fd, &(struct auth_req){
			.content_format = -1, .accept = -1, .client_id = cid_amp,
			.method = "hmacsha256", .seq_json = "17",
			.seq_text = "17", .upper_sign = true }, &s2, NULL),
	      "auth hmacsha256, clientId pk&dn, seq number, no CF/Accept, uppercase sign -> 2.05");
	check(auth_ok(fd, &(struct auth_req){
			.content_format = 50, .accept = -1, .client_id = cid_dot,
			.method = "hmacsha1", .seq_json = "\"12AB\"",
			.seq_text = "12AB", .cipher = "aes-128-ctr" }, &s3, NULL),
	      "auth hmacsha1, seq hex string, cipher aes-128-ctr -> 2.05");
	check(auth_ok(fd6, &(struct auth_req){
			.content_format = 50, .accept = 50, .client_id = cid_dot,
			.method = "hmacmd5", .seq_json = "\"1\"",
			.seq_text = "1" }, &s6, NULL),
	      "auth over IPv6 -> 2.05");
	check(auth_ok(fd2, &(struct auth_req){
			.content_format = 50, .accept = 50, .client_id = cid_dot,
			.method = "hmacmd5", .seq_json = "\"2\"",
			.seq_text = "2" }, &again, NULL),
	      "auth to 127.0.0.2 -> 2.05 from 127.0.0.2 (reply source = request destination)");
	check(auth_cbor(fd, cid_dot, &sc),
	      "auth in CBOR (Content-Format/Accept 60, seq uint) -> 2.05 CBOR {random,seqOffset,token}");
	check(strcmp(s1.token, s2.token) && strcmp(s2.token, s3.token) &&
	      strcmp(s1.random, s2.random),
	      "each /auth gets its own token and random");

	/* --- publishes with the issued tokens --- */
	publish_ok(fd, &s1, "user/update", "{\"temp\":21.5}", 13, "1/3");
	publish_ok(fd, &s1, "user/update", "hello \xc3\xa9t\xc3\xa9", 11, "2/3 utf-8");
	publish_ok(fd, &s1, "user/bin", "\x00\x01\xff\xfe", 4, "3/3 binary");
	publish_ok(fd, &s3, "user/update", "{\"ctr\":1}", 9, "1/3");
	publish_ok(fd, &s3, "user/update", "{\"ctr\":2,\"q\":\"a\\\"b\"}", 20, "2/3 quotes");
	publish_ok(fd, &s3, "user/update", "", 0, "3/3 empty");
	publish_ok(fd6, &s6, "user/update", "{\"v6\":true}", 11, "over IPv6");
	publish_ok(fd, &s2, "user/update", "{\"sha256\":1}", 12, "hmacsha256 session");
	publish_ok(fd, &sc, "user/update", "{\"cbor\":1}", 10, "CBOR /auth session");

	/* --- hostile and erroneous requests --- */
	want(fd, &(struct auth_req){ .content_format = 50, .accept = 50,
		.client_id = cid_dot, .method = "hmacmd5",
		.seq_json = "\"4912\"", .seq_text = "4912", .bad_sign = true },
	     COAP_CODE_UNAUTHORIZED, "auth with a bad sign");
	want(fd, &(struct auth_req){ .content_format = 50, .accept = 50,
		.dn = "no-such-device", .client_id = cid_dot,
		.method = "hmacmd5", .seq_json = "\"4912\"", .seq_text = "4912" },
	     COAP_CODE_UNAUTHORIZED, "auth of an unknown device");
	want(fd, &(struct auth_req){ .content_format = 50, .accept = 50,
		.dn = disabled_dn, .client_id = cid_dot,
		.method = "hmacmd5", .seq_json = "\"4912\"", .seq_text = "4912" },
	     COAP_CODE_UNAUTHORIZED, "auth of a disabled device");
	want(fd, &(struct auth_req){ .content_format = 50, .accept = 50,
		.payload = "{\"productKey\":\"a1PK\",\"deviceName\":" },
	     COAP_CODE_BAD_REQUEST, "auth with malformed JSON");
	want(fd, &(struct auth_req){ .content_format = 50, .accept = 50,
		.payload = "{\"productKey\":\"a1PK\",\"deviceName\":\"dev1\",\"clientId\":\"x\",\"seq\":\"1\"}" },
	     COAP_CODE_BAD_REQUEST, "auth without a sign");
	want(fd, &(struct auth_req){ .content_format = 50, .accept = 50,
		.payload = "[1,2,3]" },
	     COAP_CODE_BAD_REQUEST, "auth with a JSON array");
	want(fd, &(struct auth_req){ .content_format = 60, .accept = 60,
		.payload = "\xa2\x61" },
	     COAP_CODE_BAD_REQUEST, "auth with truncated CBOR");
	want(fd, &(struct auth_req){ .content_format = 0, .accept = 50,
		.client_id = cid_dot, .method = "hmacmd5",
		.seq_json = "\"4912\"", .seq_text = "4912" },
	     COAP_CODE_UNSUPPORTED_FORMAT, "auth with Content-Format 0");
	want(fd, &(struct auth_req){ .content_format = 50, .accept = 0,
		.client_id = cid_dot, .method = "hmacmd5",
		.seq_json = "\"4912\"", .seq_text = "4912" },
	     COAP_CODE_NOT_ACCEPTABLE, "auth with Accept 0");
	want(fd, &(struct auth_req){ .code = COAP_CODE_GET,
		.content_format = -1, .accept = -1, .payload = "" },
	     COAP_CODE_METHOD_NOT_ALLOWED, "GET /auth");
	want(fd, &(struct auth_req){ .path = "nope", .content_format = -1,
		.accept = -1, .payload = "x" },
	     COAP_CODE_NOT_FOUND, "POST /nope");
	want(fd, &(struct auth_req){ .content_format = 50, .accept = 50,
		.extra_option = 2093, .client_id = cid_dot,
		.method = "hmacmd5", .seq_json = "\"4912\"", .seq_text = "4912" },
	     COAP_CODE_BAD_OPTION, "auth with an unknown critical option");

	/* A publish with a token nobody issued: the module passes it up. */
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return 2;
	for (i = 0; i < 16; i++)
		sprintf(bogus + 2 * i, "%02x", rnd[i]);
	snprintf(topic, sizeof(topic), "/%s/%s/user/update", pk, dn);
	len = publish(fd, &s1, topic, "x", 1, s1.next_seq, bogus, &a, &mid);
	check(len && is_code(&a, mid, COAP_CODE_UNAUTHORIZED),
	      "publish with an unknown token -> 4.01");

	/* The seq of 1/3 again, new Message ID: a replay (the module). */
	len = publish(fd, &s1, topic, "again", 5, s1.seq_offset, NULL, &a,
		      &mid);
	check(len && is_code(&a, mid, COAP_CODE_BAD_REQUEST),
	      "publish with a replayed seq -> 4.00");
	publish_edges(fd, &s1);
	publish_edges(fd, &s3);

	/* Retransmitted /auth: the same Message ID gets the same answer. */
	{
		struct auth_req q = { .content_format = 50, .accept = 50,
			.client_id = cid_dot, .method = "hmacmd5",
			.seq_json = "\"5000\"", .seq_text = "5000" };
		struct session first = { 0 };
		uint8_t first_pkt[COAP_MAX_MESSAGE];
		bool ok;

		ok = auth_ok(fd, &q, &first, &mid);
		len = build_auth(&q, mid, pkt, sizeof(pkt));
		memcpy(first_pkt, pkt, len);
		ok = ok && len > 0 && exchange(fd, pkt, len, &a, TIMEOUT_MS) &&
		     is_code(&a, mid, COAP_CODE_CONTENT) &&
		     parse_grant(&a, &again) &&
		     !strcmp(first.token, again.token) &&
		     !strcmp(first.random, again.random);
		check(ok, "retransmitted /auth (same MID) -> the same token");
		/* ...and that one session works. */
		first.cipher = COAP_CIPHER_AES_128_CBC;
		publish_ok(fd, &first, "user/update", "{\"after\":\"retransmit\"}",
			   22, "with the token of a retransmitted /auth");
	}

	/* Empty CON (ping) and a malformed CON: RST. */
	pkt[0] = 0x40; pkt[1] = 0; pkt[2] = 0x12; pkt[3] = 0x34;
	want_rst(fd, pkt, 4, 0x1234, "CoAP ping (empty CON)");
	pkt[0] = 0x49; pkt[1] = 0x02; pkt[2] = 0x12; pkt[3] = 0x35;
	want_rst(fd, pkt, 4, 0x1235, "CON with token length 9 (malformed)");

	/* A NON to an unknown path: no answer at all. */
	pkt[0] = 0x50; pkt[1] = COAP_CODE_POST; pkt[2] = 0x12; pkt[3] = 0x36;
	pkt[4] = 0xb4; memcpy(pkt + 5, "nope", 4);
	check(!exchange(fd, pkt, 9, &a, 500), "NON POST /nope -> no answer");

	fclose(expected);
	close(fd);
	close(fd6);
	close(fd2);
	return failures ? 1 : 0;
}
