// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of coapd's token set (userspace/coapd/tokenset.c): the
 * sessions with a registry row, whose delivered seqs persist.c writes.
 * Tokens by length (a prefix is another token), add twice, delete what is
 * absent, and random adds and deletes against a reference model: after a
 * backward-shift delete every member must still be found (a miss would
 * leave a session's seq unrecorded).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "tokenset.h"

static size_t tok(char *buf, unsigned int n)
{
	return snprintf(buf, 32, "tok-%08x-session", n);
}

TEST(empty_set)
{
	struct coapd_tokenset t = { 0 };

	EXPECT_FALSE(coapd_tokenset_has(&t, "tok", 3));
	coapd_tokenset_del(&t, "tok", 3);
	EXPECT_EQ(0, t.n);
	coapd_tokenset_free(&t);
}

TEST(by_length_and_idempotent)
{
	static const char buf[] = "tok10-and-more";
	struct coapd_tokenset t = { 0 };

	ASSERT_EQ(0, coapd_tokenset_add(&t, buf, 4));
	ASSERT_EQ(0, coapd_tokenset_add(&t, buf, 4));
	EXPECT_EQ(1, t.n);
	EXPECT_TRUE(coapd_tokenset_has(&t, "tok1", 4));
	EXPECT_FALSE(coapd_tokenset_has(&t, "tok10", 5));
	EXPECT_FALSE(coapd_tokenset_has(&t, "tok", 3));
	coapd_tokenset_del(&t, "tok10", 5);
	EXPECT_EQ(1, t.n);
	coapd_tokenset_del(&t, "tok1", 4);
	EXPECT_EQ(0, t.n);
	EXPECT_FALSE(coapd_tokenset_has(&t, "tok1", 4));
	coapd_tokenset_free(&t);
}

/*
 * persist.c hashes each delivered token once, for the set and its seq map,
 * and finds a NUL in it in the same pass: FNV-1a's published values, a NUL
 * at every position, and the set asked by hash as by token.
 */
TEST(fnv_nul_and_by_hash)
{
	struct coapd_tokenset t = { 0 };
	char buf[64];
	size_t len, pos;
	bool nul = true;
	unsigned int i;

	EXPECT_EQ(0xcbf29ce484222325ULL, coapd_token_fnv("", 0, &nul));
	EXPECT_FALSE(nul);
	EXPECT_EQ(0xaf63dc4c8601ec8cULL, coapd_token_fnv("a", 1, NULL));
	EXPECT_EQ(0x85944171f73967e8ULL, coapd_token_fnv("foobar", 6, &nul));
	EXPECT_FALSE(nul);
	for (len = 1; len <= sizeof(buf); len++)
		for (pos = 0; pos < len; pos++) {
			memset(buf, 'k', len);
			buf[pos] = '\0';
			nul = false;
			coapd_token_fnv(buf, len, &nul);
			EXPECT_TRUE(nul);
		}
	for (i = 0; i < 3000; i += 2)
		ASSERT_EQ(0, coapd_tokenset_add(&t, buf, tok(buf, i)));
	for (i = 0; i < 3000; i++) {
		len = tok(buf, i);
		EXPECT_EQ(coapd_tokenset_has(&t, buf, len),
			  coapd_tokenset_has_fnv(&t, coapd_token_fnv(buf, len,
								     &nul)));
		EXPECT_EQ(!(i & 1), coapd_tokenset_has(&t, buf, len));
		EXPECT_FALSE(nul);
	}
	coapd_tokenset_free(&t);
}

/* Grows past several doublings, shrinks by deletes, against a model. */
TEST(random_against_model)
{
	enum { N = 20000, OPS = 200000 };
	struct coapd_tokenset t = { 0 };
	unsigned char *in = calloc(N, 1);
	unsigned int i, n, members = 0;
	char buf[32];
	size_t len;

	ASSERT_NE(NULL, in);
	srandom(7);
	for (i = 0; i < OPS; i++) {
		n = random() % N;
		len = tok(buf, n);
		/* Adds win early, deletes later: the set fills, then empties. */
		if (random() % 100 < (i < OPS / 2 ? 70 : 30)) {
			ASSERT_EQ(0, coapd_tokenset_add(&t, buf, len));
			members += !in[n];
			in[n] = 1;
		} else {
			coapd_tokenset_del(&t, buf, len);
			members -= in[n];
			in[n] = 0;
		}
		if (i % 10000 == 0 || i == OPS - 1) {
			for (n = 0; n < N; n++) {
				len = tok(buf, n);
				ASSERT_EQ(in[n], coapd_tokenset_has(&t, buf, len)) {
					TH_LOG("token %u after op %u", n, i);
				}
			}
			ASSERT_EQ(members, t.n);
			ASSERT_GE(t.cap, 2 * t.n);
		}
	}
	free(in);
	coapd_tokenset_free(&t);
	EXPECT_EQ(0, t.cap);
}

TEST_HARNESS_MAIN
