// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Host unit tests of the replay window (include/coap/coap_replay.h).
 *
 * Build:
 *   cc -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
 *      -fsanitize=address,undefined -fno-sanitize-recover=all -Iinclude \
 *      -I<linux>/tools/testing/selftests tests/unit/test_replay.c \
 *      include/coap/coap_wire.c -lcrypto -o build/unit/test_replay
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "coap/coap_replay.h"
#include "coap/coap_wire.h"

#define W COAP_REPLAY_WINDOW_BITS

/* check, then commit, as the fast path does; and check is pure. */
static bool accept(struct coap_replay *w, uint64_t seq)
{
	struct coap_replay before = *w;
	bool ok = coap_replay_check(w, seq);

	if (memcmp(&before, w, sizeof(before)))
		abort();
	if (!ok)
		return false;
	if (!coap_replay_commit(w, seq))
		abort();	/* nothing ran in between: must agree */
	return true;
}

TEST(struct_is_small)
{
	EXPECT_EQ(256, W);
	EXPECT_EQ(48u, sizeof(struct coap_replay));
}

/* The same properties from several session offsets. */
FIXTURE(win) {
	struct coap_replay w;
	uint64_t off;
};

FIXTURE_VARIANT(win) {
	uint64_t offset;
};

FIXTURE_VARIANT_ADD(win, zero) {
	.offset = 0,
};

FIXTURE_VARIANT_ADD(win, sdk) {
	.offset = 4912,
};

FIXTURE_VARIANT_ADD(win, word_edge) {
	.offset = 63,
};

FIXTURE_VARIANT_ADD(win, big) {
	.offset = 999999999999000ULL,	/* near the 15-digit limit */
};

FIXTURE_VARIANT_ADD(win, near_u64_max) {
	.offset = UINT64_MAX - 3000,
};

FIXTURE_SETUP(win)
{
	self->off = variant->offset;
	coap_replay_init(&self->w, self->off);
}

FIXTURE_TEARDOWN(win)
{
}

TEST_F(win, offset_accepted_once)
{
	EXPECT_TRUE(coap_replay_check(&self->w, self->off));
	EXPECT_TRUE(coap_replay_commit(&self->w, self->off));
	EXPECT_FALSE(coap_replay_check(&self->w, self->off));
	EXPECT_FALSE(coap_replay_commit(&self->w, self->off));
}

TEST_F(win, below_offset)
{
	uint64_t i;

	if (self->off == 0) {
		/* Nothing is below 0: the lowest seq is fine. */
		EXPECT_TRUE(accept(&self->w, 0));
		return;
	}
	EXPECT_FALSE(coap_replay_check(&self->w, 0));
	EXPECT_FALSE(coap_replay_commit(&self->w, 0));
	for (i = 1; i <= 2 * W && i <= self->off; i++) {
		ASSERT_FALSE(coap_replay_check(&self->w, self->off - i));
		ASSERT_FALSE(coap_replay_commit(&self->w, self->off - i));
	}
	/* Still below after the window moved far up. */
	EXPECT_TRUE(accept(&self->w, self->off + 1000));
	EXPECT_FALSE(coap_replay_check(&self->w, self->off - 1));
}

TEST_F(win, in_order)
{
	uint64_t i;

	for (i = 0; i < 2000; i++) {
		ASSERT_TRUE(accept(&self->w, self->off + i));
		/* The one just taken and the one before are replays. */
		ASSERT_FALSE(coap_replay_check(&self->w, self->off + i));
		if (i)
			ASSERT_FALSE(coap_replay_check(&self->w,
						       self->off + i - 1));
	}
	/* Every earlier one is refused: seen, or too old. */
	for (i = 0; i < 2000; i++)
		ASSERT_FALSE(coap_replay_check(&self->w, self->off + i));
	EXPECT_TRUE(coap_replay_check(&self->w, self->off + 2000));
}

TEST_F(win, out_of_order_within_window)
{
	uint64_t o = self->off, i;

	/* The device's first messages arrive reversed. */
	EXPECT_TRUE(accept(&self->w, o + 10));
	for (i = 10; i-- > 0;)
		ASSERT_TRUE(accept(&self->w, o + i));
	for (i = 0; i <= 10; i++)
		ASSERT_FALSE(coap_replay_check(&self->w, o + i));

	/* The oldest position of the window, then one past it. */
	EXPECT_TRUE(accept(&self->w, o + 1000));
	EXPECT_TRUE(accept(&self->w, o + 1000 - (W - 1)));
	EXPECT_FALSE(coap_replay_check(&self->w, o + 1000 - W));
	/* Evens, then odds, in the window. */
	for (i = 2; i < 200; i += 2)
		ASSERT_TRUE(accept(&self->w, o + 1000 - i));
	for (i = 1; i < 200; i += 2)
		ASSERT_TRUE(accept(&self->w, o + 1000 - i));
	for (i = 0; i < 200; i++)
		ASSERT_FALSE(coap_replay_check(&self->w, o + 1000 - i));
	for (i = 200; i < W - 1; i++)
		ASSERT_TRUE(coap_replay_check(&self->w, o + 1000 - i));
}

TEST_F(win, duplicates)
{
	uint64_t o = self->off, i;
	int round;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < 300; i += 3) {
			ASSERT_EQ(round == 0, accept(&self->w, o + i));
		}
	}
	/* The ones skipped are still available where in the window. */
	EXPECT_TRUE(accept(&self->w, o + 298));
	EXPECT_TRUE(accept(&self->w, o + 100));
	EXPECT_FALSE(accept(&self->w, o + 100));
}

TEST_F(win, far_jump_clears_bitmap)
{
	uint64_t o = self->off, j = o + 2500, i;

	/* Fill the window completely. */
	for (i = 0; i < W; i++)
		ASSERT_TRUE(accept(&self->w, o + i));
	EXPECT_TRUE(accept(&self->w, j));
	/* All of the window below the jump is fresh: no stale bits. */
	for (i = 1; i < W; i++)
		ASSERT_TRUE(coap_replay_check(&self->w, j - i));
	/* Too old after the jump, including everything seen before. */
	EXPECT_FALSE(coap_replay_check(&self->w, j - W));
	for (i = 0; i < W; i++)
		ASSERT_FALSE(coap_replay_check(&self->w, o + i));
	EXPECT_FALSE(coap_replay_check(&self->w, j));
}

TEST_F(win, slide_boundaries)
{
	uint64_t o = self->off, d, i;

	for (d = W - 2; d <= W + 2; d++) {
		struct coap_replay w;
		uint64_t h = o + 500;

		coap_replay_init(&w, o);
		for (i = 0; i < W; i++)
			ASSERT_TRUE(accept(&w, h - i));
		/* Slide by d: exactly the positions that left are reset. */
		ASSERT_TRUE(accept(&w, h + d));
		for (i = 0; i < W; i++) {
			uint64_t s = h + d - i;
			/* Seen: h + d, and everything at or below h. */
			bool want = s > h && i != 0;

			ASSERT_EQ(want, coap_replay_check(&w, s)) {
				TH_LOG("d %llu i %llu", (unsigned long long)d,
				       (unsigned long long)i);
			}
		}
		ASSERT_FALSE(coap_replay_check(&w, h + d - W));
	}
}

TEST_F(win, reuse_of_positions_after_slide)
{
	uint64_t o = self->off, i;

	/* Positions 0..255 all set, then slide by 44: the 44 that wrap. */
	for (i = 0; i < W; i++)
		ASSERT_TRUE(accept(&self->w, o + i));
	EXPECT_TRUE(accept(&self->w, o + W + 44 - 1));
	for (i = W; i < W + 44 - 1; i++)
		ASSERT_TRUE(coap_replay_check(&self->w, o + i));
	for (i = 44; i < W; i++)
		ASSERT_FALSE(coap_replay_check(&self->w, o + i));
	for (i = 0; i < 44; i++)
		ASSERT_FALSE(coap_replay_check(&self->w, o + i));
}

TEST_F(win, concurrent_commit_of_same_seq)
{
	uint64_t o = self->off;

	/* Two copies in flight: both pass the pre-check, one commits. */
	EXPECT_TRUE(coap_replay_check(&self->w, o + 5));
	EXPECT_TRUE(coap_replay_check(&self->w, o + 5));
	EXPECT_TRUE(coap_replay_commit(&self->w, o + 5));
	EXPECT_FALSE(coap_replay_commit(&self->w, o + 5));

	/* Out of order inside the window, same story. */
	EXPECT_TRUE(coap_replay_check(&self->w, o + 2));
	EXPECT_TRUE(coap_replay_check(&self->w, o + 2));
	EXPECT_TRUE(coap_replay_commit(&self->w, o + 2));
	EXPECT_FALSE(coap_replay_commit(&self->w, o + 2));
}

TEST_F(win, commit_after_window_slid_past)
{
	uint64_t o = self->off;

	EXPECT_TRUE(accept(&self->w, o));
	/* o + 1 passes the pre-check, is being decrypted... */
	EXPECT_TRUE(coap_replay_check(&self->w, o + 1));
	/* ...while another CPU commits a seq far ahead. */
	EXPECT_TRUE(coap_replay_commit(&self->w, o + 1 + W));
	EXPECT_FALSE(coap_replay_commit(&self->w, o + 1));
	/* One inside the new window still commits after its pre-check. */
	EXPECT_TRUE(coap_replay_check(&self->w, o + 2));
	EXPECT_TRUE(coap_replay_commit(&self->w, o + 2));
}

/* ------------------------------------------------------- near UINT64_MAX */

TEST(near_u64_max)
{
	struct coap_replay w;
	uint64_t i;

	coap_replay_init(&w, UINT64_MAX - 10);
	EXPECT_TRUE(accept(&w, UINT64_MAX));
	EXPECT_FALSE(accept(&w, UINT64_MAX));
	for (i = 1; i <= 10; i++)
		ASSERT_TRUE(accept(&w, UINT64_MAX - i));
	for (i = 0; i <= 10; i++)
		ASSERT_FALSE(coap_replay_check(&w, UINT64_MAX - i));
	EXPECT_FALSE(coap_replay_check(&w, UINT64_MAX - 11));
	EXPECT_FALSE(coap_replay_check(&w, 0));

	/* Offset UINT64_MAX: exactly one seq ever. */
	coap_replay_init(&w, UINT64_MAX);
	EXPECT_FALSE(coap_replay_check(&w, UINT64_MAX - 1));
	EXPECT_TRUE(accept(&w, UINT64_MAX));
	EXPECT_FALSE(accept(&w, UINT64_MAX));

	/* From 0 straight to the top, and the window below it. */
	coap_replay_init(&w, 0);
	EXPECT_TRUE(accept(&w, 0));
	EXPECT_TRUE(accept(&w, UINT64_MAX));
	EXPECT_FALSE(coap_replay_check(&w, 0));
	EXPECT_FALSE(coap_replay_check(&w, UINT64_MAX - W));
	EXPECT_TRUE(accept(&w, UINT64_MAX - (W - 1)));
	EXPECT_TRUE(accept(&w, UINT64_MAX - 1));

	/* A slide of less than the window that ends at UINT64_MAX. */
	coap_replay_init(&w, UINT64_MAX - 1000);
	EXPECT_TRUE(accept(&w, UINT64_MAX - 100));
	EXPECT_TRUE(accept(&w, UINT64_MAX));
	EXPECT_FALSE(coap_replay_check(&w, UINT64_MAX - 100));
	EXPECT_TRUE(coap_replay_check(&w, UINT64_MAX - 99));
}

/* The 15-digit seqs the protocol allows, through the decimal helpers. */
TEST(decimal_seqs_through_window)
{
	static const char *const wire[] = {
		"4912", "4913", "4915", "4914", "4913", "004916", "4912",
	};
	static const bool want[] = { 1, 1, 1, 1, 0, 1, 0 };
	struct coap_replay w;
	uint64_t seq;
	size_t i;

	coap_replay_init(&w, 4912);
	for (i = 0; i < ARRAY_SIZE(wire); i++) {
		ASSERT_EQ(0, coap_parse_decimal_seq((const uint8_t *)wire[i],
						    strlen(wire[i]), &seq));
		EXPECT_EQ(want[i], accept(&w, seq)) {
			TH_LOG("seq %s", wire[i]);
		}
	}
}

/* ------------------------------------------------ against a plain model */

/*
 * The model remembers every seq ever accepted and the highest one; the
 * window must give the same answer for every seq it can still judge.
 */
TEST(random_against_model)
{
	enum { SPAN = 2000000 };
	uint8_t *seen = calloc(SPAN, 1);
	uint64_t x = 0x9e3779b97f4a7c15ULL, off = 777, top = 777;
	bool any = false;
	struct coap_replay w;
	long i;

	ASSERT_NE(NULL, seen);
	coap_replay_init(&w, off);
	for (i = 0; i < 400000; i++) {
		uint64_t r, seq;
		bool model;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = x % 1000;
		/* Mostly near the top, sometimes ahead, sometimes old. */
		if (r < 700)
			seq = top + 3 - (x >> 20) % 40;
		else if (r < 720)
			seq = top + (x >> 20) % 300;	/* may pass W */
		else if (r < 800)
			seq = top + (x >> 20) % 5;
		else if (r < 990)
			seq = top - (x >> 20) % 400;
		else
			seq = off - 5 + (x >> 20) % 10;
		if (seq >= off + SPAN - 400 || seq + 1 == 0)
			break;

		if (seq < off)
			model = false;
		else if (!any || seq > top)
			model = true;
		else if (top - seq >= W)
			model = false;
		else
			model = !seen[seq - off];

		ASSERT_EQ(model, accept(&w, seq)) {
			TH_LOG("step %ld seq %llu top %llu", i,
			       (unsigned long long)seq,
			       (unsigned long long)top);
		}
		if (model) {
			seen[seq - off] = 1;
			if (!any || seq > top)
				top = seq;
			any = true;
		}
	}
	EXPECT_GT(top, off + 100000);
	EXPECT_GT(i, 300000);
	free(seen);
}

TEST_HARNESS_MAIN
