// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of coapd's one-pass parser of the module's delivered
 * messages (userspace/coapd/msgparse.c), against the libmnl walk it
 * replaces (coap_nl_attr(), coap_nl_parse_nested() and mnl_attr_validate(),
 * copied below as the reference): a well-formed message, each required
 * attribute missing or malformed, every truncation, attributes running
 * past their nest or message, zero and short nla_len, unknown types and
 * flag bits, duplicates, and a seeded spray of mutated messages. Both must
 * give the same verdict and the same fields (for a 4-aligned nlmsg_len, as
 * the kernel's always is: libmnl read the padding after an unaligned one);
 * under ASan ours may not read outside the message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "kselftest_harness.h"
#include "coapd.h"
#include "msgparse.h"

/* sink.c's former message_parse(), on libmnl. */
static const struct nlattr *ref_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(attr) == type)
			return attr;
	return NULL;
}

static int ref_parse(const struct nlmsghdr *nlh, struct coapd_message *m)
{
	const struct nlattr *tb[COAP_OFFLOAD_MESSAGE_A_MAX + 1];
	const struct nlattr *nest, *a;
	static const int strs[] = {
		COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY,
		COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME, COAP_OFFLOAD_MESSAGE_A_TOPIC,
	};
	static const int u64s[] = {
		COAP_OFFLOAD_MESSAGE_A_ID, COAP_OFFLOAD_MESSAGE_A_TIME,
		COAP_OFFLOAD_MESSAGE_A_SEQ,
	};
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	size_t i;

	if (g->cmd != COAP_OFFLOAD_CMD_MESSAGE)
		return -ENOMSG;
	nest = ref_attr(nlh, COAP_OFFLOAD_A_MESSAGE);
	if (!nest)
		return -EBADMSG;
	memset(tb, 0, sizeof(tb));
	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_type_valid(a, COAP_OFFLOAD_MESSAGE_A_MAX) < 0)
			continue;
		tb[mnl_attr_get_type(a)] = a;
	}
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!tb[strs[i]] ||
		    mnl_attr_validate(tb[strs[i]], MNL_TYPE_NUL_STRING))
			return -EBADMSG;
	for (i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
		if (!tb[u64s[i]] || mnl_attr_validate(tb[u64s[i]], MNL_TYPE_U64))
			return -EBADMSG;
	*m = (struct coapd_message){
		.id = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_ID]),
		.time = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_TIME]),
		.seq = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_SEQ]),
		.product_key = mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY]),
		.device_name = mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME]),
		.topic = mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_TOPIC]),
		.payload = (const uint8_t *)"",
		.has_seq = true,
		.from_module = true,
	};
	a = tb[COAP_OFFLOAD_MESSAGE_A_REDELIVERED];
	m->redelivered = a && !mnl_attr_validate(a, MNL_TYPE_U8) &&
			 mnl_attr_get_u8(a);
	a = tb[COAP_OFFLOAD_MESSAGE_A_PAYLOAD];
	if (a) {
		m->payload = mnl_attr_get_payload(a);
		m->payload_len = mnl_attr_get_payload_len(a);
	}
	a = tb[COAP_OFFLOAD_MESSAGE_A_PEER];
	if (a) {
		m->peer = mnl_attr_get_payload(a);
		m->peer_len = mnl_attr_get_payload_len(a);
	}
	m->separate = !!tb[COAP_OFFLOAD_MESSAGE_A_SEPARATE];
	a = tb[COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN];
	if (a) {
		m->coap_token = mnl_attr_get_payload(a);
		m->coap_token_len = mnl_attr_get_payload_len(a);
	}
	a = tb[COAP_OFFLOAD_MESSAGE_A_LOCAL];
	if (a) {
		m->local = mnl_attr_get_payload(a);
		m->local_len = mnl_attr_get_payload_len(a);
	}
	a = tb[COAP_OFFLOAD_MESSAGE_A_TOKEN];
	if (a) {
		m->token = mnl_attr_get_payload(a);
		m->token_len = mnl_attr_get_payload_len(a);
	}
	return 0;
}

/* A message being built: attributes appended, the nest closed at the end. */
struct msg {
	uint8_t buf[4096] __attribute__((aligned(8)));
	size_t len, nest;
};

static void put(struct msg *b, uint16_t type, const void *data, size_t len)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + len, .nla_type = type };

	memcpy(b->buf + b->len, &a, sizeof(a));
	memcpy(b->buf + b->len + NLA_HDRLEN, data, len);
	memset(b->buf + b->len + NLA_HDRLEN + len, 0,
	       NLA_ALIGN(len) - len);
	b->len += NLA_HDRLEN + NLA_ALIGN(len);
}

static void put_u64(struct msg *b, uint16_t type, uint64_t v)
{
	put(b, type, &v, sizeof(v));
}

static void put_str(struct msg *b, uint16_t type, const char *s)
{
	put(b, type, s, strlen(s) + 1);
}

static void begin(struct msg *b, uint8_t cmd)
{
	struct genlmsghdr g = { .cmd = cmd, .version = 1 };
	struct nlattr nest = { .nla_type = NLA_F_NESTED | COAP_OFFLOAD_A_MESSAGE };

	memset(b, 0, sizeof(*b));
	b->len = NLMSG_HDRLEN;
	memcpy(b->buf + b->len, &g, sizeof(g));
	b->len += GENL_HDRLEN;
	/* Something else first at the top level: the nest is found anyway. */
	put(b, COAP_OFFLOAD_A_MESSAGE + 1, "x", 1);
	b->nest = b->len;
	memcpy(b->buf + b->len, &nest, sizeof(nest));
	b->len += NLA_HDRLEN;
}

static struct nlmsghdr *end(struct msg *b)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)b->buf;
	struct nlattr *nest = (struct nlattr *)(b->buf + b->nest);

	nest->nla_len = b->len - b->nest;
	nlh->nlmsg_len = b->len;
	nlh->nlmsg_type = 0x20;
	return nlh;
}

static const struct sockaddr_in peer = {
	.sin_family = AF_INET, .sin_port = 0x3412,
	.sin_addr = { .s_addr = 0x0200000a },
};

/* Everything the module sends; skip: a type left out (0: none). */
static struct nlmsghdr *full(struct msg *b, int skip)
{
	static const uint8_t ctok[] = { 1, 2, 3, 4 };
	uint8_t one = 1;

	begin(b, COAP_OFFLOAD_CMD_MESSAGE);
#define P(t, what) do { if (skip != (t)) what; } while (0)
	P(COAP_OFFLOAD_MESSAGE_A_ID, put_u64(b, COAP_OFFLOAD_MESSAGE_A_ID, 1001));
	P(COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY,
	  put_str(b, COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY, "a1PK"));
	P(COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME,
	  put_str(b, COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME, "dev-1"));
	P(COAP_OFFLOAD_MESSAGE_A_TOPIC,
	  put_str(b, COAP_OFFLOAD_MESSAGE_A_TOPIC, "/a1PK/dev-1/user/update"));
	P(COAP_OFFLOAD_MESSAGE_A_PAYLOAD,
	  put(b, COAP_OFFLOAD_MESSAGE_A_PAYLOAD, "{\"t\":1}", 7));
	P(COAP_OFFLOAD_MESSAGE_A_PEER,
	  put(b, COAP_OFFLOAD_MESSAGE_A_PEER, &peer, sizeof(peer)));
	P(COAP_OFFLOAD_MESSAGE_A_PAD, put(b, COAP_OFFLOAD_MESSAGE_A_PAD, "", 0));
	P(COAP_OFFLOAD_MESSAGE_A_TIME,
	  put_u64(b, COAP_OFFLOAD_MESSAGE_A_TIME, 1764000000123456789ULL));
	P(COAP_OFFLOAD_MESSAGE_A_SEQ, put_u64(b, COAP_OFFLOAD_MESSAGE_A_SEQ, 77));
	P(COAP_OFFLOAD_MESSAGE_A_REDELIVERED,
	  put(b, COAP_OFFLOAD_MESSAGE_A_REDELIVERED, &one, 1));
	P(COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN,
	  put(b, COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN, ctok, sizeof(ctok)));
	P(COAP_OFFLOAD_MESSAGE_A_SEPARATE,
	  put(b, COAP_OFFLOAD_MESSAGE_A_SEPARATE, "", 0));
	P(COAP_OFFLOAD_MESSAGE_A_LOCAL,
	  put(b, COAP_OFFLOAD_MESSAGE_A_LOCAL, &peer, sizeof(peer)));
	P(COAP_OFFLOAD_MESSAGE_A_TOKEN,
	  put(b, COAP_OFFLOAD_MESSAGE_A_TOKEN, "tok-0123456789ab", 16));
#undef P
	return end(b);
}

/* Pointer fields as offsets into their message: comparable across copies. */
static long off(const void *p, const void *base)
{
	return p ? (const char *)p - (const char *)base : -1;
}

/*
 * Parse the len bytes at src with both: a private copy of exactly len
 * bytes for ours (ASan sees any read past it), one padded to the next
 * 4 bytes for the reference (libmnl's walk ends at the aligned
 * nlmsg_len). Same verdict and same fields, or a logged difference.
 */
static int same(struct __test_metadata *_metadata, const void *src,
		size_t len, int *verdict)
{
	uint8_t *mine = malloc(len ? len : 1);
	uint8_t *ref = calloc(1, NLMSG_ALIGN(len) + 4);
	struct coapd_message a, b;
	int ra, rb, ok = 1;

	memcpy(mine, src, len);
	memcpy(ref, src, len);
	ra = coapd_message_parse((struct nlmsghdr *)mine, len, &a);
	rb = ref_parse((struct nlmsghdr *)ref, &b);
	*verdict = ra;
	if (ra != rb) {
		TH_LOG("verdict: ours %d, libmnl's %d (len %zu)", ra, rb, len);
		ok = 0;
	} else if (!ra) {
#define F(x) (a.x == b.x)
#define O(x) (off(a.x, mine) == off(b.x, ref))
		ok = F(id) && F(time) && F(seq) && F(has_seq) &&
		     F(from_module) && F(redelivered) && F(separate) &&
		     F(payload_len) && F(peer_len) && F(coap_token_len) &&
		     F(local_len) && F(token_len) && O(product_key) &&
		     O(device_name) && O(topic) && O(peer) && O(coap_token) &&
		     O(local) && O(token) &&
		     (a.payload_len ? O(payload) : 1);
#undef F
#undef O
		if (!ok)
			TH_LOG("fields differ (len %zu)", len);
	}
	free(mine);
	free(ref);
	return ok;
}

TEST(well_formed)
{
	struct msg b;
	struct nlmsghdr *nlh = full(&b, 0);
	struct coapd_message m;
	int v;

	ASSERT_EQ(0, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	EXPECT_EQ(1001, m.id);
	EXPECT_EQ(1764000000123456789ULL, m.time);
	EXPECT_EQ(77, m.seq);
	EXPECT_STREQ("a1PK", m.product_key);
	EXPECT_STREQ("dev-1", m.device_name);
	EXPECT_STREQ("/a1PK/dev-1/user/update", m.topic);
	EXPECT_EQ(7, m.payload_len);
	EXPECT_EQ(0, memcmp(m.payload, "{\"t\":1}", 7));
	EXPECT_EQ(sizeof(peer), m.peer_len);
	EXPECT_EQ(0, memcmp(m.peer, &peer, sizeof(peer)));
	EXPECT_TRUE(m.has_seq && m.from_module && m.redelivered && m.separate);
	EXPECT_EQ(4, m.coap_token_len);
	EXPECT_EQ(sizeof(peer), m.local_len);
	EXPECT_EQ(16, m.token_len);
	EXPECT_EQ(0, memcmp(m.token, "tok-0123456789ab", 16));
	EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));
	EXPECT_EQ(0, v);
}

TEST(optional_absent_and_other_commands)
{
	struct msg b;
	struct nlmsghdr *nlh;
	struct coapd_message m;

	begin(&b, COAP_OFFLOAD_CMD_MESSAGE);
	put_u64(&b, COAP_OFFLOAD_MESSAGE_A_ID, 1);
	put_str(&b, COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY, "");
	put_str(&b, COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME, "d");
	put_str(&b, COAP_OFFLOAD_MESSAGE_A_TOPIC, "/t");
	put_u64(&b, COAP_OFFLOAD_MESSAGE_A_TIME, 2);
	put_u64(&b, COAP_OFFLOAD_MESSAGE_A_SEQ, 3);
	nlh = end(&b);
	ASSERT_EQ(0, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	EXPECT_EQ(0, m.payload_len);
	EXPECT_STREQ("", (const char *)m.payload);
	EXPECT_EQ(0, m.peer_len);
	EXPECT_EQ(NULL, m.token);
	EXPECT_FALSE(m.redelivered || m.separate);

	/* Another command: not ours to read, not an error either. */
	full(&b, 0);
	((struct genlmsghdr *)(b.buf + NLMSG_HDRLEN))->cmd =
		COAP_OFFLOAD_CMD_MESSAGE + 1;
	EXPECT_EQ(-ENOMSG, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
}

TEST(required_missing_or_malformed)
{
	static const int required[] = {
		COAP_OFFLOAD_MESSAGE_A_ID, COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY,
		COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME, COAP_OFFLOAD_MESSAGE_A_TOPIC,
		COAP_OFFLOAD_MESSAGE_A_TIME, COAP_OFFLOAD_MESSAGE_A_SEQ,
	};
	struct msg b;
	struct nlmsghdr *nlh;
	struct coapd_message m;
	size_t i;
	int v;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		nlh = full(&b, required[i]);
		EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
		EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));
	}
	/* A string without its NUL, an empty one, u64s of 7 and 9 bytes. */
	nlh = full(&b, COAP_OFFLOAD_MESSAGE_A_TOPIC);
	b.len -= NLA_HDRLEN;		/* reopen the nest */
	put(&b, COAP_OFFLOAD_MESSAGE_A_TOPIC, "/t", 2);
	nlh = end(&b);
	EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	nlh = full(&b, COAP_OFFLOAD_MESSAGE_A_TOPIC);
	put(&b, COAP_OFFLOAD_MESSAGE_A_TOPIC, "", 0);
	nlh = end(&b);
	EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));
	nlh = full(&b, COAP_OFFLOAD_MESSAGE_A_SEQ);
	put(&b, COAP_OFFLOAD_MESSAGE_A_SEQ, "1234567", 7);
	nlh = end(&b);
	EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));
	nlh = full(&b, COAP_OFFLOAD_MESSAGE_A_ID);
	put(&b, COAP_OFFLOAD_MESSAGE_A_ID, "123456789", 9);
	nlh = end(&b);
	EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));
	/* A two-byte REDELIVERED is no u8: not redelivered. */
	nlh = full(&b, COAP_OFFLOAD_MESSAGE_A_REDELIVERED);
	put(&b, COAP_OFFLOAD_MESSAGE_A_REDELIVERED, "\1\1", 2);
	nlh = end(&b);
	ASSERT_EQ(0, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	EXPECT_FALSE(m.redelivered);
	EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));
}

TEST(headers_too_short)
{
	struct msg b;
	struct nlmsghdr *nlh = full(&b, 0);
	struct coapd_message m;
	uint32_t n;

	/* Less than a genetlink header, or more claimed than readable. */
	for (n = 0; n < NLMSG_HDRLEN + GENL_HDRLEN; n++) {
		nlh->nlmsg_len = n;
		EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, 4096, &m));
	}
	nlh->nlmsg_len = b.len;
	EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, b.len - 1, &m));
	EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, 8, &m));
}

/* Every length a message can be cut to, as nlmsg_len and as the buffer. */
TEST(every_truncation)
{
	struct msg b;
	struct nlmsghdr *nlh = full(&b, 0);
	size_t total = b.len, n;
	int v, ok = 0;

	for (n = NLMSG_HDRLEN + GENL_HDRLEN; n <= total; n++) {
		struct coapd_message m;
		uint8_t *exact;

		nlh->nlmsg_len = n;
		if (!(n & 3)) {
			EXPECT_TRUE(same(_metadata, nlh, n, &v));
			ok += !v;
			continue;
		}
		/*
		 * Not 4-aligned (the kernel's never are not): libmnl read up
		 * to 3 bytes past nlmsg_len; ours stops at it, so a nest
		 * that needs them is cut.
		 */
		exact = malloc(n);
		memcpy(exact, nlh, n);
		EXPECT_EQ(-EBADMSG, coapd_message_parse((struct nlmsghdr *)exact,
							n, &m));
		free(exact);
	}
	/* Only the whole message parses (the nest spans all of it). */
	EXPECT_EQ(1, ok);
}

TEST(nested_overflow_and_short_lengths)
{
	struct msg b;
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct coapd_message m;
	uint16_t bad;
	int v;

	/* The nest claims more than the message has: no nest at all. */
	nlh = full(&b, 0);
	((struct nlattr *)(b.buf + b.nest))->nla_len += 4;
	EXPECT_EQ(-EBADMSG, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));

	/*
	 * An inner attribute running past the nest (into a top-level one
	 * after it), or with nla_len 0..3: the walk stops there, and the
	 * required attributes after it are not seen.
	 */
	for (bad = 0; bad < 64; bad++) {
		begin(&b, COAP_OFFLOAD_CMD_MESSAGE);
		put_u64(&b, COAP_OFFLOAD_MESSAGE_A_ID, 1);
		a = (struct nlattr *)(b.buf + b.len);
		put(&b, COAP_OFFLOAD_MESSAGE_A_PAYLOAD, "abcd", 4);
		put_str(&b, COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY, "p");
		put_str(&b, COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME, "d");
		put_str(&b, COAP_OFFLOAD_MESSAGE_A_TOPIC, "/t");
		put_u64(&b, COAP_OFFLOAD_MESSAGE_A_TIME, 2);
		put_u64(&b, COAP_OFFLOAD_MESSAGE_A_SEQ, 3);
		nlh = end(&b);
		/* A top-level attribute after the nest, inside the message. */
		put(&b, COAP_OFFLOAD_A_MESSAGE + 1, "0123456789abcdef", 16);
		nlh->nlmsg_len = b.len;
		a->nla_len = bad < 4 ? bad : 4 + (bad - 4) * 8;
		EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));
		/* Only a length that lands on the next attribute parses. */
		EXPECT_EQ(a->nla_len == 8 || a->nla_len == 5 ? 0 : -EBADMSG, v);
	}
}

TEST(unknown_types_flags_and_duplicates)
{
	struct msg b;
	struct nlmsghdr *nlh;
	struct coapd_message m;
	int v;

	begin(&b, COAP_OFFLOAD_CMD_MESSAGE);
	put_u64(&b, COAP_OFFLOAD_MESSAGE_A_ID, 1);
	put_u64(&b, COAP_OFFLOAD_MESSAGE_A_MAX + 1, 99);
	put_u64(&b, 0x3fff, 99);
	put_str(&b, COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY, "first");
	put_str(&b, NLA_F_NET_BYTEORDER | COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY,
		"second");
	put_str(&b, COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME, "d");
	put_str(&b, NLA_F_NESTED | COAP_OFFLOAD_MESSAGE_A_TOPIC, "/t");
	put_u64(&b, COAP_OFFLOAD_MESSAGE_A_TIME, 2);
	put_u64(&b, COAP_OFFLOAD_MESSAGE_A_SEQ, 3);
	put_u64(&b, COAP_OFFLOAD_MESSAGE_A_SEQ, 4);
	nlh = end(&b);
	ASSERT_EQ(0, coapd_message_parse(nlh, nlh->nlmsg_len, &m));
	EXPECT_STREQ("second", m.product_key);
	EXPECT_STREQ("/t", m.topic);
	EXPECT_EQ(4, m.seq);
	EXPECT_TRUE(same(_metadata, nlh, nlh->nlmsg_len, &v));
}

/* Messages with random bytes changed: the same verdict and fields. */
TEST(seeded_mutations)
{
	unsigned int seed = 20261208;
	struct msg b, c;
	struct nlmsghdr *nlh;
	int i, k, n, v, bad = 0, parsed = 0;

	for (i = 0; i < 200000 && bad < 5; i++) {
		nlh = full(&b, rand_r(&seed) % 20);
		memcpy(&c, &b, sizeof(b));
		n = 1 + rand_r(&seed) % 4;
		for (k = 0; k < n; k++) {
			/* Mostly the attribute headers: lengths and types. */
			size_t at = NLMSG_HDRLEN + rand_r(&seed) %
				    (b.len - NLMSG_HDRLEN);
			uint8_t r = rand_r(&seed);

			if (r & 1)
				at &= ~(size_t)3;
			c.buf[at] = r & 2 ? c.buf[at] ^ (1 << (r >> 5)) :
					    rand_r(&seed);
		}
		nlh = (struct nlmsghdr *)c.buf;
		/* nlmsg_len kept within the buffer handed over. */
		if (nlh->nlmsg_len > b.len || nlh->nlmsg_len < NLMSG_HDRLEN +
		    GENL_HDRLEN)
			nlh->nlmsg_len = b.len;
		/* Aligned, as the kernel's (see every_truncation). */
		nlh->nlmsg_len &= ~3u;
		if (!same(_metadata, c.buf, nlh->nlmsg_len, &v))
			bad++;
		parsed += !v;
	}
	EXPECT_EQ(0, bad);
	/* Both verdicts were reached often. */
	EXPECT_GT(parsed, 1000);
	EXPECT_LT(parsed, i - 1000);
}

TEST_HARNESS_MAIN
