// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of coapd's on-disk queue (userspace/coapd/spool.c):
 * append, hand out, acknowledge (in and out of order), rewind, the bound,
 * segments freed and rolled, restart recovery, one process at a time, and
 * whatever a damaged or hostile directory holds (torn tails, flipped bits,
 * lying lengths, foreign names, a garbage head file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "spool.h"

/* What the spool said through its log callback, for the recovery tests. */
static char logged[4096];

static void capture(int prio, const char *fmt, ...)
{
	size_t used = strlen(logged);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(logged + used, sizeof(logged) - used, fmt, ap);
	va_end(ap);
	used = strlen(logged);
	if (used + 1 < sizeof(logged))
		strcat(logged, "\n");
}

FIXTURE(sp) {
	char dir[64];
	struct spool_params p;
	struct spool *s;
};

FIXTURE_SETUP(sp)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/test_spool.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->p = (struct spool_params){
		.dir = self->dir, .max_bytes = 1 << 20, .log = capture,
	};
	logged[0] = 0;
	ASSERT_EQ(0, spool_open(&self->p, &self->s));
}

FIXTURE_TEARDOWN(sp)
{
	char cmd[128];

	spool_close(self->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

static int append_str(struct spool *s, const char *fmt, unsigned int i)
{
	char buf[64];

	snprintf(buf, sizeof(buf), fmt, i);
	return spool_append(s, buf, strlen(buf));
}

/* spool_next into a string; the seq through *seq. */
static int next_str(struct spool *s, char *out, size_t cap, uint64_t *seq)
{
	size_t len;
	int err;

	err = spool_next(s, out, cap - 1, &len, seq);
	if (!err)
		out[len] = 0;
	return err;
}

static int reopen(struct spool_params *p, struct spool **s)
{
	spool_close(*s);
	*s = NULL;
	return spool_open(p, s);
}

static int count_segments(const char *dir)
{
	char cmd[160];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '^seg-'", dir);
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/* The path of the only (or first) segment. */
static void first_segment(const char *dir, char *path, size_t cap)
{
	char cmd[160], name[64] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls '%s' | grep '^seg-' | head -n1", dir);
	f = popen(cmd, "r");
	if (f) {
		if (!fgets(name, sizeof(name), f))
			name[0] = 0;
		pclose(f);
	}
	name[strcspn(name, "\n")] = 0;
	snprintf(path, cap, "%s/%s", dir, name);
}

TEST_F(sp, append_next_ack_in_order)
{
	char buf[64];
	uint64_t seq;
	unsigned int i;

	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, append_str(self->s, "message %u", i));
	EXPECT_EQ(3, spool_pending(self->s));
	EXPECT_EQ(3 * (SPOOL_RECORD_OVERHEAD + 9), spool_used(self->s));
	for (i = 1; i <= 3; i++) {
		char want[64];

		ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
		snprintf(want, sizeof(want), "message %u", i);
		EXPECT_STREQ(want, buf);
		EXPECT_EQ(i, seq);
	}
	EXPECT_EQ(-ENOENT, next_str(self->s, buf, sizeof(buf), &seq));
	EXPECT_EQ(3, spool_outstanding(self->s));
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, spool_ack(self->s, i));
	EXPECT_EQ(0, spool_pending(self->s));
	EXPECT_EQ(0, spool_outstanding(self->s));
	/* Everything acknowledged: no segment left, no space taken. */
	EXPECT_EQ(0, spool_used(self->s));
	EXPECT_EQ(0, count_segments(self->dir));
	/* An unknown or repeated acknowledgement is refused. */
	EXPECT_EQ(-ENOENT, spool_ack(self->s, 2));
	EXPECT_EQ(-ENOENT, spool_ack(self->s, 99));
	/* And it goes on, with the next seq. */
	ASSERT_EQ(0, append_str(self->s, "message %u", 4));
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	EXPECT_EQ(4, seq);
	EXPECT_STREQ("message 4", buf);
}

TEST_F(sp, empty_and_binary_records)
{
	uint8_t bin[256], out[300];
	uint64_t seq;
	size_t len;
	int i;

	for (i = 0; i < 256; i++)
		bin[i] = i;
	ASSERT_EQ(0, spool_append(self->s, "", 0));
	ASSERT_EQ(0, spool_append(self->s, bin, sizeof(bin)));
	ASSERT_EQ(0, spool_next(self->s, out, sizeof(out), &len, &seq));
	EXPECT_EQ(0, len);
	/* A buffer too small: refused, and the record is not skipped. */
	EXPECT_EQ(-ENOBUFS, spool_next(self->s, out, 10, &len, &seq));
	ASSERT_EQ(0, spool_next(self->s, out, sizeof(out), &len, &seq));
	EXPECT_EQ(256, len);
	EXPECT_EQ(0, memcmp(bin, out, 256));
	EXPECT_EQ(2, seq);
}

TEST_F(sp, ack_out_of_order_and_rewind)
{
	char buf[64];
	uint64_t seq;
	unsigned int i;

	for (i = 1; i <= 4; i++)
		ASSERT_EQ(0, append_str(self->s, "m%u", i));
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	/* 2 before 1: nothing is released until 1 is acknowledged. */
	ASSERT_EQ(0, spool_ack(self->s, 2));
	EXPECT_EQ(3, spool_pending(self->s));
	EXPECT_EQ(3, spool_outstanding(self->s));
	ASSERT_EQ(0, spool_ack(self->s, 1));
	EXPECT_EQ(2, spool_pending(self->s));
	EXPECT_EQ(1, spool_outstanding(self->s));
	/* A reconnect: 3 was sent and not acknowledged, it comes again. */
	spool_rewind(self->s);
	EXPECT_EQ(0, spool_outstanding(self->s));
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	EXPECT_EQ(3, seq);
	EXPECT_STREQ("m3", buf);
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	EXPECT_EQ(4, seq);
	/* Acknowledged behind a gap, then rewound: counted once. */
	ASSERT_EQ(0, spool_ack(self->s, 4));
	spool_rewind(self->s);
	EXPECT_EQ(2, spool_pending(self->s));
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	EXPECT_EQ(3, seq);
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	EXPECT_EQ(4, seq);
	ASSERT_EQ(0, spool_ack(self->s, 3));
	ASSERT_EQ(0, spool_ack(self->s, 4));
	EXPECT_EQ(0, spool_pending(self->s));
	EXPECT_EQ(0, spool_used(self->s));
}

TEST_F(sp, restart_hands_out_what_was_not_acknowledged)
{
	char buf[64], want[64];
	uint64_t seq;
	unsigned int i;

	for (i = 1; i <= 5; i++)
		ASSERT_EQ(0, append_str(self->s, "r%u", i));
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	ASSERT_EQ(0, spool_ack(self->s, 1));
	/* 2 handed out, not acknowledged when the process stops. */
	ASSERT_EQ(0, reopen(&self->p, &self->s));
	EXPECT_EQ(4, spool_pending(self->s));
	for (i = 2; i <= 5; i++) {
		ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
		snprintf(want, sizeof(want), "r%u", i);
		EXPECT_STREQ(want, buf);
		EXPECT_EQ(i, seq);
	}
	EXPECT_EQ(-ENOENT, next_str(self->s, buf, sizeof(buf), &seq));
	/* New records go after the old ones, in the same last segment. */
	ASSERT_EQ(0, append_str(self->s, "r%u", 6));
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	EXPECT_EQ(6, seq);
	EXPECT_EQ(1, count_segments(self->dir));
	EXPECT_STREQ("", logged);
}

TEST_F(sp, many_segments_wrap_and_restart)
{
	char buf[64], want[64];
	uint64_t seq, seg_before;
	unsigned int i;

	/* Minimal bound: 32 KiB segments, about 700 of these per segment. */
	self->p.max_bytes = SPOOL_MIN_BYTES;
	ASSERT_EQ(0, reopen(&self->p, &self->s));
	for (i = 1; i <= 3000; i++)
		ASSERT_EQ(0, append_str(self->s, "record number %07u", i));
	seg_before = count_segments(self->dir);
	EXPECT_LT(3, seg_before);
	for (i = 1; i <= 1700; i++) {
		ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
		ASSERT_EQ(i, seq);
		ASSERT_EQ(0, spool_ack(self->s, seq));
	}
	/* Acknowledged segments are gone, their space with them. */
	EXPECT_GT(seg_before, count_segments(self->dir));
	EXPECT_GE(1300 * (SPOOL_RECORD_OVERHEAD + 21) + 32768,
		  spool_used(self->s));
	ASSERT_EQ(0, reopen(&self->p, &self->s));
	EXPECT_EQ(1300, spool_pending(self->s));
	/* The middle of a segment: the first record after the head. */
	for (i = 1701; i <= 3000; i++) {
		ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
		snprintf(want, sizeof(want), "record number %07u", i);
		ASSERT_STREQ(want, buf);
		ASSERT_EQ(0, spool_ack(self->s, seq));
	}
	EXPECT_EQ(0, spool_used(self->s));
	EXPECT_EQ(0, count_segments(self->dir));
	/* The sequence goes on after a restart of an empty spool. */
	ASSERT_EQ(0, reopen(&self->p, &self->s));
	ASSERT_EQ(0, append_str(self->s, "after %u", 0));
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	EXPECT_EQ(3001, seq);
}

TEST_F(sp, full_then_room_again)
{
	static char big[60000];
	uint64_t seq;
	size_t len;
	char *out;
	int n = 0;

	self->p.max_bytes = SPOOL_MIN_BYTES;
	ASSERT_EQ(0, reopen(&self->p, &self->s));
	memset(big, 'x', sizeof(big));
	while (spool_room(self->s, sizeof(big))) {
		ASSERT_EQ(0, spool_append(self->s, big, sizeof(big)));
		n++;
	}
	EXPECT_EQ(4, n);
	EXPECT_EQ(-ENOSPC, spool_append(self->s, big, sizeof(big)));
	EXPECT_GE(SPOOL_MIN_BYTES, spool_used(self->s));
	/* Small ones may still fit, up to the bound and no further. */
	EXPECT_TRUE(spool_room(self->s, 10));
	EXPECT_EQ(-EMSGSIZE, spool_append(self->s, big, SPOOL_RECORD_MAX + 1));
	EXPECT_FALSE(spool_room(self->s, SPOOL_RECORD_MAX + 1));
	/* Nothing is lost by the refusal; an acknowledgement makes room. */
	EXPECT_EQ(n, spool_pending(self->s));
	out = malloc(SPOOL_RECORD_MAX);
	ASSERT_NE(NULL, out);
	ASSERT_EQ(0, spool_next(self->s, out, SPOOL_RECORD_MAX, &len, &seq));
	EXPECT_EQ(sizeof(big), len);
	ASSERT_EQ(0, spool_ack(self->s, seq));
	EXPECT_TRUE(spool_room(self->s, sizeof(big)));
	EXPECT_EQ(0, spool_append(self->s, big, sizeof(big)));
	free(out);
}

TEST_F(sp, one_process_at_a_time)
{
	struct spool *other = NULL;

	EXPECT_EQ(-EWOULDBLOCK, spool_open(&self->p, &other));
	EXPECT_EQ(NULL, other);
}

TEST_F(sp, bad_parameters)
{
	struct spool_params p = self->p;
	struct spool *other = NULL;

	p.max_bytes = 1000;
	EXPECT_EQ(-EINVAL, spool_open(&p, &other));
	p.max_bytes = 1 << 20;
	p.dir = "/proc/no/such/dir";
	EXPECT_GT(0, spool_open(&p, &other));
	EXPECT_EQ(NULL, other);
}

/* Close, let the test damage the segment at path, reopen. */
static void three_records(struct __test_metadata *_metadata,
			  FIXTURE_DATA(sp) *self, char *path, size_t cap)
{
	unsigned int i;

	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, append_str(self->s, "rec-%u", i));
	spool_close(self->s);
	self->s = NULL;
	first_segment(self->dir, path, cap);
}

static void expect_records(struct __test_metadata *_metadata,
			   struct spool *s, unsigned int first,
			   unsigned int last)
{
	char buf[64], want[64];
	uint64_t seq;
	unsigned int i;

	for (i = first; i <= last; i++) {
		ASSERT_EQ(0, next_str(s, buf, sizeof(buf), &seq));
		snprintf(want, sizeof(want), "rec-%u", i);
		EXPECT_STREQ(want, buf);
		EXPECT_EQ(i, seq);
	}
	EXPECT_EQ(-ENOENT, next_str(s, buf, sizeof(buf), &seq));
}

TEST_F(sp, torn_tail_is_cut_off)
{
	char path[160];
	struct stat st;

	three_records(_metadata, self, path, sizeof(path));
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, truncate(path, st.st_size - 3));
	ASSERT_EQ(0, spool_open(&self->p, &self->s));
	EXPECT_NE(NULL, strstr(logged, "a torn record"));
	EXPECT_EQ(2, spool_pending(self->s));
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(2 * (SPOOL_RECORD_OVERHEAD + 5), st.st_size);
	/* Appends go on cleanly after the cut. */
	ASSERT_EQ(0, append_str(self->s, "rec-%u", 3));
	expect_records(_metadata, self->s, 1, 3);
}

TEST_F(sp, torn_header_is_cut_off)
{
	char path[160];
	int fd;

	three_records(_metadata, self, path, sizeof(path));
	fd = open(path, O_WRONLY | O_APPEND);
	ASSERT_LE(0, fd);
	ASSERT_EQ(7, write(fd, "CSP1abc", 7));
	close(fd);
	ASSERT_EQ(0, spool_open(&self->p, &self->s));
	EXPECT_NE(NULL, strstr(logged, "torn record header"));
	expect_records(_metadata, self->s, 1, 3);
}

TEST_F(sp, flipped_bit_cuts_from_there)
{
	char path[160];
	int fd;

	three_records(_metadata, self, path, sizeof(path));
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd);
	/* In the data of the second record. */
	ASSERT_EQ(1, pwrite(fd, "X", 1, 2 * SPOOL_RECORD_OVERHEAD + 5 + 2));
	close(fd);
	ASSERT_EQ(0, spool_open(&self->p, &self->s));
	EXPECT_NE(NULL, strstr(logged, "checksum"));
	expect_records(_metadata, self->s, 1, 1);
}

TEST_F(sp, lying_length_and_sequence)
{
	char path[160];
	uint32_t len = 0x7fffffff;
	uint64_t seq = 7;
	int fd;

	three_records(_metadata, self, path, sizeof(path));
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd);
	/* Record 3's length: far beyond the file and the limit. */
	ASSERT_EQ(4, pwrite(fd, &len, 4, 2 * (SPOOL_RECORD_OVERHEAD + 5) + 4));
	/* Record 2's seq: out of sequence. */
	ASSERT_EQ(8, pwrite(fd, &seq, 8, SPOOL_RECORD_OVERHEAD + 5 + 8));
	close(fd);
	ASSERT_EQ(0, spool_open(&self->p, &self->s));
	EXPECT_NE(NULL, strstr(logged, "out of sequence"));
	expect_records(_metadata, self->s, 1, 1);
}

TEST_F(sp, garbage_segment_and_foreign_names)
{
	char path[160];
	int fd;

	three_records(_metadata, self, path, sizeof(path));
	/* A later segment full of noise: nothing of it is handed out. */
	snprintf(path, sizeof(path), "%s/seg-00000000000000ff", self->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(40, write(fd, "this is not a spool record at all, no...", 40));
	close(fd);
	/* An overlapping one (its records would repeat seq 2). */
	snprintf(path, sizeof(path), "%s/seg-0000000000000002", self->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	close(fd);
	/* Names that are not ours, and one that is a directory. */
	snprintf(path, sizeof(path), "%s/seg-0000000000000000", self->dir);
	ASSERT_EQ(0, mkdir(path, 0700));
	snprintf(path, sizeof(path), "%s/seg-00000000000000zz", self->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(path, sizeof(path), "%s/seg-0000000000000100", self->dir);
	ASSERT_EQ(0, mkdir(path, 0700));
	ASSERT_EQ(0, spool_open(&self->p, &self->s));
	EXPECT_NE(NULL, strstr(logged, "not a record"));
	EXPECT_NE(NULL, strstr(logged, "not a file"));
	expect_records(_metadata, self->s, 1, 3);
	/* The noise is gone; the foreign names are left alone. */
	snprintf(path, sizeof(path), "%s/seg-00000000000000ff", self->dir);
	EXPECT_EQ(-1, access(path, F_OK));
	snprintf(path, sizeof(path), "%s/seg-00000000000000zz", self->dir);
	EXPECT_EQ(0, access(path, F_OK));
	ASSERT_EQ(0, append_str(self->s, "rec-%u", 4));
}

TEST_F(sp, garbage_head_replays_everything)
{
	char path[160], buf[64];
	uint64_t seq;
	unsigned int i;
	int fd;

	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, append_str(self->s, "rec-%u", i));
	ASSERT_EQ(0, next_str(self->s, buf, sizeof(buf), &seq));
	ASSERT_EQ(0, spool_ack(self->s, 1));
	spool_close(self->s);
	self->s = NULL;
	snprintf(path, sizeof(path), "%s/head", self->dir);
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, pwrite(fd, "junk!", 5, 8));
	close(fd);
	ASSERT_EQ(0, spool_open(&self->p, &self->s));
	EXPECT_NE(NULL, strstr(logged, "head file is not valid"));
	/* At least once: the acknowledged one too, rather than lose any. */
	expect_records(_metadata, self->s, 1, 3);
}

TEST_HARNESS_MAIN
