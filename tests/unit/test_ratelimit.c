// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of coapd's /auth failure limits (userspace/coapd/
 * ratelimit.c): the budget and its refill with the time passed in, keys
 * independent of each other, the fixed-size table under a spray of keys
 * (least recently failed goes first), against a reference model, and the
 * source/device keys (IPv4 /32, IPv6 /64, ports ignored).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "ratelimit.h"

/* 60 per minute: one failure regained per second. */
#define T	1000ULL

static void key_n(uint8_t key[RATELIMIT_KEY_LEN], unsigned int n)
{
	memset(key, 0, RATELIMIT_KEY_LEN);
	/* Spread over the bytes the table hashes on and the rest. */
	memcpy(key, &n, sizeof(n));
	key[RATELIMIT_KEY_LEN - 1] = n >> 3;
}

TEST(bad_arguments)
{
	errno = 0;
	EXPECT_EQ(NULL, ratelimit_new(0, 1, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, ratelimit_new(1, 0, 1));
	EXPECT_EQ(NULL, ratelimit_new(1, 1, 0));
	EXPECT_EQ(NULL, ratelimit_new(1, 1, 60001));
	ratelimit_free(NULL);
}

TEST(burst_then_one_per_interval)
{
	struct ratelimit *rl = ratelimit_new(16, 3, 60);
	uint8_t k[RATELIMIT_KEY_LEN];
	uint64_t t = 5000;

	ASSERT_NE(NULL, rl);
	key_n(k, 1);
	EXPECT_EQ(0, ratelimit_wait(rl, k, t));
	EXPECT_FALSE(ratelimit_fail(rl, k, t));
	EXPECT_FALSE(ratelimit_fail(rl, k, t));
	EXPECT_EQ(0, ratelimit_wait(rl, k, t));
	/* The third uses the budget up, and says so once. */
	EXPECT_TRUE(ratelimit_fail(rl, k, t));
	EXPECT_EQ(T, ratelimit_wait(rl, k, t));
	EXPECT_EQ(1, ratelimit_wait(rl, k, t + T - 1));
	EXPECT_EQ(0, ratelimit_wait(rl, k, t + T));
	/* Recovered by one: one more failure, then limited again. */
	EXPECT_TRUE(ratelimit_fail(rl, k, t + T));
	EXPECT_EQ(T, ratelimit_wait(rl, k, t + T));
	/* A full rest gives the whole burst back. */
	t += 10 * T;
	EXPECT_FALSE(ratelimit_fail(rl, k, t));
	EXPECT_FALSE(ratelimit_fail(rl, k, t));
	EXPECT_TRUE(ratelimit_fail(rl, k, t));
	ratelimit_free(rl);
}

TEST(spread_failures_never_limited)
{
	struct ratelimit *rl = ratelimit_new(16, 2, 60);
	uint8_t k[RATELIMIT_KEY_LEN];
	int i;

	ASSERT_NE(NULL, rl);
	key_n(k, 7);
	/* One failure per interval is the sustained rate: always allowed. */
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, ratelimit_wait(rl, k, i * T));
		ASSERT_FALSE(ratelimit_fail(rl, k, i * T));
	}
	ratelimit_free(rl);
}

TEST(failures_while_limited_do_not_pile_up)
{
	struct ratelimit *rl = ratelimit_new(16, 2, 60);
	uint8_t k[RATELIMIT_KEY_LEN];
	int i;

	ASSERT_NE(NULL, rl);
	key_n(k, 9);
	for (i = 0; i < 1000; i++)
		ratelimit_fail(rl, k, 0);
	EXPECT_EQ(T, ratelimit_wait(rl, k, 0));
	EXPECT_EQ(0, ratelimit_wait(rl, k, T));
	ratelimit_free(rl);
}

TEST(rate_rounds_the_interval_up)
{
	struct ratelimit *rl = ratelimit_new(4, 1, 7);
	uint8_t k[RATELIMIT_KEY_LEN];

	ASSERT_NE(NULL, rl);
	key_n(k, 1);
	EXPECT_TRUE(ratelimit_fail(rl, k, 0));
	/* 60000 / 7 = 8571.4 ms: never faster than asked. */
	EXPECT_EQ(8572, ratelimit_wait(rl, k, 0));
	ratelimit_free(rl);
}

TEST(keys_are_independent)
{
	struct ratelimit *rl = ratelimit_new(16, 1, 60);
	uint8_t a[RATELIMIT_KEY_LEN], b[RATELIMIT_KEY_LEN];

	ASSERT_NE(NULL, rl);
	key_n(a, 1);
	key_n(b, 2);
	EXPECT_TRUE(ratelimit_fail(rl, a, 0));
	EXPECT_EQ(T, ratelimit_wait(rl, a, 0));
	EXPECT_EQ(0, ratelimit_wait(rl, b, 0));
	EXPECT_TRUE(ratelimit_fail(rl, b, 0));
	ratelimit_free(rl);
}

/* A spray of new keys: the table stays at its size, the newest stay. */
TEST(spray_is_bounded_and_evicts_least_recent)
{
	const unsigned int size = 16;
	struct ratelimit *rl = ratelimit_new(size, 1, 1);
	uint8_t k[RATELIMIT_KEY_LEN];
	struct ratelimit_stats st;
	unsigned int i, j;

	ASSERT_NE(NULL, rl);
	for (i = 0; i < 5000; i++) {
		key_n(k, i);
		ASSERT_TRUE(ratelimit_fail(rl, k, 0));
		ratelimit_stats(rl, &st);
		ASSERT_EQ(i < size ? i + 1 : size, st.used);
		/* The last `size` keys are all still there, limited. */
		for (j = i >= size - 1 ? i - (size - 1) : 0; j <= i; j++) {
			key_n(k, j);
			ASSERT_NE(0, ratelimit_wait(rl, k, 0)) {
				TH_LOG("key %u lost after key %u", j, i);
			}
		}
		if (i >= size) {
			key_n(k, i - size);
			ASSERT_EQ(0, ratelimit_wait(rl, k, 0));
		}
	}
	ratelimit_stats(rl, &st);
	EXPECT_EQ(5000 - size, st.evicted_limited);
	ratelimit_free(rl);
}

TEST(a_recent_failure_keeps_its_entry)
{
	struct ratelimit *rl = ratelimit_new(2, 1, 1);
	uint8_t a[RATELIMIT_KEY_LEN], b[RATELIMIT_KEY_LEN], c[RATELIMIT_KEY_LEN];

	ASSERT_NE(NULL, rl);
	key_n(a, 1);
	key_n(b, 2);
	key_n(c, 3);
	ratelimit_fail(rl, a, 0);
	ratelimit_fail(rl, b, 0);
	ratelimit_fail(rl, a, 0);	/* a is the most recent again */
	ratelimit_fail(rl, c, 0);	/* pushes out b */
	EXPECT_NE(0, ratelimit_wait(rl, a, 0));
	EXPECT_EQ(0, ratelimit_wait(rl, b, 0));
	EXPECT_NE(0, ratelimit_wait(rl, c, 0));
	ratelimit_free(rl);
}

/* Random failures and waits against a direct GCRA model (no eviction). */
TEST(matches_a_model)
{
	enum { KEYS = 40, BURST = 4 };
	const uint64_t interval = 60000 / 120;
	struct ratelimit *rl = ratelimit_new(64, BURST, 120);
	uint64_t tat[KEYS] = { 0 }, now = 1, debt;
	uint8_t k[RATELIMIT_KEY_LEN];
	unsigned int seed = 42, i, n;
	bool limited_before;

	ASSERT_NE(NULL, rl);
	for (i = 0; i < 200000; i++) {
		now += rand_r(&seed) % 300;
		n = rand_r(&seed) % KEYS;
		key_n(k, n);
		debt = tat[n] > now ? tat[n] - now : 0;
		limited_before = debt > (BURST - 1) * interval;
		ASSERT_EQ(limited_before ? debt - (BURST - 1) * interval : 0,
			  ratelimit_wait(rl, k, now));
		if (rand_r(&seed) % 3)
			continue;
		if (tat[n] < now)
			tat[n] = now;
		tat[n] += interval;
		if (tat[n] - now > BURST * interval)
			tat[n] = now + BURST * interval;
		debt = tat[n] - now;
		ASSERT_EQ(!limited_before && debt > (BURST - 1) * interval,
			  ratelimit_fail(rl, k, now));
	}
	ratelimit_free(rl);
}

static bool key_of(struct ratelimit *rl, const char *addr, uint16_t port,
		   uint8_t key[RATELIMIT_KEY_LEN])
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(port) };

	if (inet_pton(AF_INET, addr, &a4.sin_addr) == 1)
		return ratelimit_key_source(rl, (struct sockaddr *)&a4,
					    sizeof(a4), key);
	if (inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1)
		abort();
	return ratelimit_key_source(rl, (struct sockaddr *)&a6, sizeof(a6),
				    key);
}

#define SAME(a, b)	(!memcmp((a), (b), RATELIMIT_KEY_LEN))

TEST(source_keys)
{
	struct ratelimit *rl = ratelimit_new(4, 1, 1);
	uint8_t a[RATELIMIT_KEY_LEN], b[RATELIMIT_KEY_LEN];
	struct sockaddr_in short4 = { .sin_family = AF_INET };
	struct sockaddr unknown = { .sa_family = AF_UNIX };

	ASSERT_NE(NULL, rl);
	ASSERT_TRUE(key_of(rl, "192.0.2.1", 5683, a));
	ASSERT_TRUE(key_of(rl, "192.0.2.1", 40000, b));
	EXPECT_TRUE(SAME(a, b));	/* the port is not the source */
	ASSERT_TRUE(key_of(rl, "192.0.2.2", 5683, b));
	EXPECT_FALSE(SAME(a, b));	/* IPv4: per address */
	ASSERT_TRUE(key_of(rl, "::ffff:192.0.2.1", 1, b));
	key_of(rl, "192.0.2.1", 1, a);
	EXPECT_TRUE(SAME(a, b));	/* v4-mapped is the IPv4 source */

	ASSERT_TRUE(key_of(rl, "2001:db8:1:2::1", 1, a));
	ASSERT_TRUE(key_of(rl, "2001:db8:1:2:ffff:ffff:ffff:fffe", 2, b));
	EXPECT_TRUE(SAME(a, b));	/* IPv6: per /64 */
	ASSERT_TRUE(key_of(rl, "2001:db8:1:3::1", 1, b));
	EXPECT_FALSE(SAME(a, b));
	/* An IPv4 address never meets the IPv6 prefix with its bytes. */
	ASSERT_TRUE(key_of(rl, "c000:0201::", 1, a));
	key_of(rl, "192.0.2.1", 1, b);
	EXPECT_FALSE(SAME(a, b));

	EXPECT_FALSE(ratelimit_key_source(rl, (struct sockaddr *)&short4,
					  sizeof(short4) - 1, a));
	EXPECT_FALSE(ratelimit_key_source(rl, &unknown, sizeof(unknown), a));
	ratelimit_free(rl);
}

TEST(device_keys)
{
	struct ratelimit *rl = ratelimit_new(4, 1, 1), *other;
	uint8_t a[RATELIMIT_KEY_LEN], b[RATELIMIT_KEY_LEN];

	ASSERT_NE(NULL, rl);
	other = ratelimit_new(4, 1, 1);
	ASSERT_NE(NULL, other);
	ratelimit_key_device(rl, "a1PK", "dev1", a);
	ratelimit_key_device(rl, "a1PK", "dev1", b);
	EXPECT_TRUE(SAME(a, b));
	ratelimit_key_device(rl, "a1PK", "dev2", b);
	EXPECT_FALSE(SAME(a, b));
	ratelimit_key_device(rl, "ab", "c", a);
	ratelimit_key_device(rl, "a", "bc", b);
	EXPECT_FALSE(SAME(a, b));
	/* Each table has its own secret: keys cannot be computed outside. */
	ratelimit_key_device(other, "ab", "c", b);
	EXPECT_FALSE(SAME(a, b));
	ratelimit_free(other);
	ratelimit_free(rl);
}

TEST_HARNESS_MAIN
