// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the device registry (userspace/lib/registry.c): the
 * CRUD calls, validation, SQL-looking input, two writer processes at once,
 * and persistence across a reopen. Each test works in its own temporary
 * directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "registry.h"

FIXTURE(reg) {
	char dir[64];
	char path[128];
	struct coap_registry *r;
};

FIXTURE_SETUP(reg)
{
	char msg[256];
	int err = 1;

	snprintf(self->dir, sizeof(self->dir), "/tmp/test_registry.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/registry.db", self->dir);
	self->r = coap_registry_open(self->path, true, &err, msg, sizeof(msg));
	ASSERT_NE(NULL, self->r) {
		TH_LOG("open: %d %s", err, msg);
	}
	ASSERT_EQ(0, err);
}

FIXTURE_TEARDOWN(reg)
{
	char cmd[128];

	coap_registry_close(self->r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

struct listing {
	int n;
	char names[16][160];
	int stop_after;
};

static int list_cb(const struct coap_device *dev, void *data)
{
	struct listing *l = data;

	if (l->n < 16)
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s/%s:%d",
			 dev->product_key, dev->device_name, dev->enabled);
	l->n++;
	return l->stop_after && l->n == l->stop_after ? 42 : 0;
}

TEST_F(reg, add_get_del)
{
	struct coap_device dev;
	time_t now = time(NULL);

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s3cret"));
	ASSERT_EQ(0, coap_registry_get(self->r, "a1PK", "dev1", &dev));
	EXPECT_STREQ("a1PK", dev.product_key);
	EXPECT_STREQ("dev1", dev.device_name);
	EXPECT_STREQ("s3cret", dev.secret);
	EXPECT_TRUE(dev.enabled);
	EXPECT_LE(now - 5, dev.created);
	EXPECT_GE(now + 5, dev.created);

	EXPECT_EQ(-ENOENT, coap_registry_get(self->r, "a1PK", "dev2", &dev));
	EXPECT_EQ(-ENOENT, coap_registry_get(self->r, "A1PK", "dev1", &dev));
	EXPECT_EQ(0, coap_registry_del(self->r, "a1PK", "dev1"));
	EXPECT_EQ(-ENOENT, coap_registry_get(self->r, "a1PK", "dev1", &dev));
	EXPECT_EQ(-ENOENT, coap_registry_del(self->r, "a1PK", "dev1"));
}

TEST_F(reg, duplicate_refused)
{
	struct coap_device dev;

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "one"));
	EXPECT_EQ(-EEXIST, coap_registry_add(self->r, "a1PK", "dev1", "two"));
	ASSERT_EQ(0, coap_registry_get(self->r, "a1PK", "dev1", &dev));
	EXPECT_STREQ("one", dev.secret);
	/* Same name under another productKey is another device. */
	EXPECT_EQ(0, coap_registry_add(self->r, "b1PK", "dev1", "two"));
}

TEST_F(reg, enable_disable)
{
	struct coap_device dev;

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "x"));
	ASSERT_EQ(0, coap_registry_set_enabled(self->r, "a1PK", "dev1", false));
	ASSERT_EQ(0, coap_registry_get(self->r, "a1PK", "dev1", &dev));
	EXPECT_FALSE(dev.enabled);
	/* Setting the same value again is not an error. */
	EXPECT_EQ(0, coap_registry_set_enabled(self->r, "a1PK", "dev1", false));
	ASSERT_EQ(0, coap_registry_set_enabled(self->r, "a1PK", "dev1", true));
	ASSERT_EQ(0, coap_registry_get(self->r, "a1PK", "dev1", &dev));
	EXPECT_TRUE(dev.enabled);
	EXPECT_EQ(-ENOENT, coap_registry_set_enabled(self->r, "a1PK", "nope",
						     true));
}

TEST_F(reg, list_ordered_and_filtered)
{
	struct listing l = { 0 };

	ASSERT_EQ(0, coap_registry_add(self->r, "bPK", "z", "x"));
	ASSERT_EQ(0, coap_registry_add(self->r, "aPK", "m", "x"));
	ASSERT_EQ(0, coap_registry_add(self->r, "bPK", "a", "x"));
	ASSERT_EQ(0, coap_registry_set_enabled(self->r, "bPK", "a", false));

	ASSERT_EQ(0, coap_registry_foreach(self->r, NULL, list_cb, &l));
	ASSERT_EQ(3, l.n);
	EXPECT_STREQ("aPK/m:1", l.names[0]);
	EXPECT_STREQ("bPK/a:0", l.names[1]);
	EXPECT_STREQ("bPK/z:1", l.names[2]);

	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, coap_registry_foreach(self->r, "bPK", list_cb, &l));
	ASSERT_EQ(2, l.n);
	EXPECT_STREQ("bPK/a:0", l.names[0]);

	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, coap_registry_foreach(self->r, "none", list_cb, &l));
	EXPECT_EQ(0, l.n);

	/* A callback's non-zero stops the walk and is returned. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	EXPECT_EQ(42, coap_registry_foreach(self->r, NULL, list_cb, &l));
	EXPECT_EQ(2, l.n);
	/* ...and the statement is usable again afterwards. */
	memset(&l, 0, sizeof(l));
	EXPECT_EQ(0, coap_registry_foreach(self->r, NULL, list_cb, &l));
	EXPECT_EQ(3, l.n);
}

TEST(identity_validation)
{
	char longest[COAP_REGISTRY_ID_MAX + 2];

	EXPECT_TRUE(coap_registry_identity_valid("a1PK", true));
	EXPECT_TRUE(coap_registry_identity_valid("dev-1_x@y.z:0", false));
	EXPECT_TRUE(coap_registry_identity_valid("sys", false));
	EXPECT_TRUE(coap_registry_identity_valid("...", true));
	EXPECT_FALSE(coap_registry_identity_valid(NULL, true));
	EXPECT_FALSE(coap_registry_identity_valid("", true));
	EXPECT_FALSE(coap_registry_identity_valid(".", false));
	EXPECT_FALSE(coap_registry_identity_valid("..", false));
	EXPECT_FALSE(coap_registry_identity_valid("sys", true));
	EXPECT_FALSE(coap_registry_identity_valid("ota", true));
	EXPECT_FALSE(coap_registry_identity_valid("shadow", true));
	EXPECT_FALSE(coap_registry_identity_valid("a/b", false));
	EXPECT_FALSE(coap_registry_identity_valid("a b", false));
	EXPECT_FALSE(coap_registry_identity_valid("a+", false));
	EXPECT_FALSE(coap_registry_identity_valid("a#", false));
	EXPECT_FALSE(coap_registry_identity_valid("caf\xc3\xa9", false));
	EXPECT_FALSE(coap_registry_identity_valid("a'; DROP TABLE devices;--",
						  true));
	memset(longest, 'x', sizeof(longest));
	longest[COAP_REGISTRY_ID_MAX] = '\0';
	EXPECT_TRUE(coap_registry_identity_valid(longest, true));
	longest[COAP_REGISTRY_ID_MAX] = 'x';
	longest[COAP_REGISTRY_ID_MAX + 1] = '\0';
	EXPECT_FALSE(coap_registry_identity_valid(longest, true));
}

TEST(secret_validation)
{
	char s[COAP_REGISTRY_SECRET_MAX + 2];

	EXPECT_TRUE(coap_registry_secret_valid("x"));
	EXPECT_TRUE(coap_registry_secret_valid("with space ~!\"'`\\"));
	EXPECT_FALSE(coap_registry_secret_valid(NULL));
	EXPECT_FALSE(coap_registry_secret_valid(""));
	EXPECT_FALSE(coap_registry_secret_valid("tab\there"));
	EXPECT_FALSE(coap_registry_secret_valid("nl\n"));
	EXPECT_FALSE(coap_registry_secret_valid("\x7f"));
	EXPECT_FALSE(coap_registry_secret_valid("\xc3\xa9"));
	memset(s, 'k', sizeof(s));
	s[COAP_REGISTRY_SECRET_MAX] = '\0';
	EXPECT_TRUE(coap_registry_secret_valid(s));
	s[COAP_REGISTRY_SECRET_MAX] = 'k';
	s[COAP_REGISTRY_SECRET_MAX + 1] = '\0';
	EXPECT_FALSE(coap_registry_secret_valid(s));
}

TEST_F(reg, invalid_input_refused)
{
	struct listing l = { 0 };

	EXPECT_EQ(-EINVAL, coap_registry_add(self->r, "sys", "dev1", "x"));
	EXPECT_EQ(-EINVAL, coap_registry_add(self->r, "a1PK", "..", "x"));
	EXPECT_EQ(-EINVAL, coap_registry_add(self->r, "a1PK", "dev1", ""));
	EXPECT_EQ(-EINVAL, coap_registry_add(self->r, "a1PK", "dev1", "a\nb"));
	EXPECT_EQ(-EINVAL, coap_registry_add(self->r,
					     "a'; DROP TABLE devices;--",
					     "dev1", "x"));
	EXPECT_EQ(-EINVAL, coap_registry_add(self->r, "a1PK",
					     "x' OR '1'='1", "x"));
	ASSERT_EQ(0, coap_registry_foreach(self->r, NULL, list_cb, &l));
	EXPECT_EQ(0, l.n);
}

TEST_F(reg, sql_in_secret_stored_verbatim)
{
	static const char evil[] = "a'; DROP TABLE devices;--";
	static const char evil2[] = "\"); DELETE FROM devices; --%_*";
	struct coap_device dev;

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", evil));
	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev2", evil2));
	ASSERT_EQ(0, coap_registry_get(self->r, "a1PK", "dev1", &dev));
	EXPECT_STREQ(evil, dev.secret);
	ASSERT_EQ(0, coap_registry_get(self->r, "a1PK", "dev2", &dev));
	EXPECT_STREQ(evil2, dev.secret);
	/* Lookups with SQL-looking keys find nothing and break nothing. */
	EXPECT_EQ(-ENOENT, coap_registry_get(self->r, "a1PK' OR '1'='1",
					     "dev1", &dev));
	EXPECT_EQ(-ENOENT, coap_registry_del(self->r, "%", "%"));
	ASSERT_EQ(0, coap_registry_get(self->r, "a1PK", "dev1", &dev));
}

TEST_F(reg, persists_across_reopen)
{
	struct coap_device dev;
	char msg[256];
	int err;

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "keep"));
	ASSERT_EQ(0, coap_registry_set_enabled(self->r, "a1PK", "dev1", false));
	coap_registry_close(self->r);

	/* Without create: the file and the schema are already there. */
	self->r = coap_registry_open(self->path, false, &err, msg, sizeof(msg));
	ASSERT_NE(NULL, self->r);
	ASSERT_EQ(0, coap_registry_get(self->r, "a1PK", "dev1", &dev));
	EXPECT_STREQ("keep", dev.secret);
	EXPECT_FALSE(dev.enabled);
}

TEST_F(reg, open_errors)
{
	struct coap_registry *r;
	char path[192], msg[256];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/missing.db", self->dir);
	r = coap_registry_open(path, false, &err, msg, sizeof(msg));
	EXPECT_EQ(NULL, r);
	EXPECT_EQ(-ENOENT, err);
	EXPECT_NE(NULL, strstr(msg, "missing.db"));

	/* Not a database at all. */
	snprintf(path, sizeof(path), "%s/junk.db", self->dir);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fputs("this is not an SQLite file, not even close, really.\n", f);
	fclose(f);
	err = 0;
	r = coap_registry_open(path, false, &err, msg, sizeof(msg));
	EXPECT_EQ(NULL, r);
	EXPECT_EQ(-EIO, err);
	EXPECT_NE('\0', msg[0]);
}

/*
 * Two processes, each with its own connection, insert and toggle rows at
 * the same time: the busy timeout must turn every lock conflict into a
 * wait, never an error.
 */
#define WRITES 200

static int writer(const char *path, const char *pk)
{
	struct coap_registry *r;
	char dn[32], msg[256];
	int err, i;

	r = coap_registry_open(path, false, &err, msg, sizeof(msg));
	if (!r)
		return 10;
	for (i = 0; i < WRITES; i++) {
		snprintf(dn, sizeof(dn), "dev%d", i);
		if (coap_registry_add(r, pk, dn, "secret"))
			return 11;
		if (coap_registry_set_enabled(r, pk, dn, i % 2))
			return 12;
	}
	coap_registry_close(r);
	return 0;
}

TEST_F(reg, concurrent_writers)
{
	struct listing l = { 0 };
	int status, i;
	pid_t pid[2];

	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0)
			_exit(writer(self->path, i ? "bPK" : "aPK"));
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	ASSERT_EQ(0, coap_registry_foreach(self->r, NULL, list_cb, &l));
	EXPECT_EQ(2 * WRITES, l.n);
}

TEST_HARNESS_MAIN
