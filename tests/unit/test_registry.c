// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the device registry (userspace/lib/registry.c): the
 * CRUD calls, validation, SQL-looking input, two writer processes at once,
 * and persistence across a reopen; the sessions table (coapd's persisted
 * sessions): round trip, validation, corrupted rows written behind the
 * library's back, the migration of a registry made before it, the file's
 * mode, transactions. Each test works in its own temporary directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sqlite3.h>
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

/* ---- sessions ---- */

static struct coap_session_record good_session(const char *token)
{
	struct coap_session_record s = {
		.product_key = "a1PK", .device_name = "dev1", .cipher = 2,
		.seq_offset = 4912, .seq_highest = 0, .created = 1700000000,
		.lifetime = 604800, .idle_timeout = 600, .ack_mode = 1,
	};
	int i;

	snprintf(s.token, sizeof(s.token), "%s", token);
	for (i = 0; i < COAP_REGISTRY_KEY_LEN; i++)
		s.key[i] = 0xa0 + i;
	s.expires = s.created + s.lifetime;
	return s;
}

struct sessions {
	int n;
	struct coap_session_record s[8];
};

static int session_cb(const struct coap_session_record *s, void *data)
{
	struct sessions *l = data;

	if (l->n < 8)
		l->s[l->n] = *s;
	l->n++;
	return 0;
}

/* Raw SQL on the registry file, behind the library's back. */
static int raw_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static long long raw_count(const char *path, const char *sql)
{
	sqlite3_stmt *st;
	long long n = -1;
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

TEST_F(reg, session_round_trip)
{
	struct coap_session_record in = good_session("0123456789abcdef0123456789abcdef");
	struct sessions l = { 0 };
	unsigned int dropped = 7;

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	ASSERT_EQ(0, coap_registry_session_put(self->r, &in));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, &dropped));
	ASSERT_EQ(1, l.n);
	EXPECT_EQ(0, dropped);
	EXPECT_EQ(0, memcmp(&in, &l.s[0], sizeof(in)));

	/* The same token again: a replacement (a rekey), not a second row. */
	in.key[0] ^= 0xff;
	in.cipher = 1;
	ASSERT_EQ(0, coap_registry_session_put(self->r, &in));
	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, NULL));
	ASSERT_EQ(1, l.n);
	EXPECT_EQ(0, memcmp(&in, &l.s[0], sizeof(in)));

	EXPECT_EQ(0, coap_registry_session_del(self->r, in.token));
	EXPECT_EQ(-ENOENT, coap_registry_session_del(self->r, in.token));
	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, NULL));
	EXPECT_EQ(0, l.n);
}

TEST_F(reg, session_seq_only_rises)
{
	struct coap_session_record in = good_session("tok1");
	struct sessions l = { 0 };

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	ASSERT_EQ(0, coap_registry_session_put(self->r, &in));
	EXPECT_EQ(0, coap_registry_session_seq(self->r, "tok1", 5000));
	EXPECT_EQ(0, coap_registry_session_seq(self->r, "tok1", 4999));
	EXPECT_EQ(-ENOENT, coap_registry_session_seq(self->r, "tok2", 1));
	EXPECT_EQ(-EINVAL, coap_registry_session_seq(self->r, "tok1",
						     (uint64_t)INT64_MAX + 1));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, NULL));
	ASSERT_EQ(1, l.n);
	EXPECT_EQ(5000, l.s[0].seq_highest);
}

/*
 * coapd's per-tick write: raises only, by a token given with its length
 * (not NUL-terminated: a prefix of a longer stored token is its own token),
 * and says whether it wrote.
 */
TEST_F(reg, session_raise_by_length)
{
	struct coap_session_record in = good_session("tok1");
	struct coap_session_record longer = good_session("tok10");
	static const char buf[] = "tok10-and-more";
	struct sessions l = { 0 };
	char big[COAP_REGISTRY_TOKEN_MAX + 2];

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	ASSERT_EQ(0, coap_registry_session_put(self->r, &in));
	ASSERT_EQ(0, coap_registry_session_put(self->r, &longer));
	/* "tok1" out of "tok10-and-more": the first four bytes only. */
	EXPECT_EQ(1, coap_registry_session_raise(self->r, buf, 4, 5000));
	EXPECT_EQ(0, coap_registry_session_raise(self->r, buf, 4, 5000));
	EXPECT_EQ(0, coap_registry_session_raise(self->r, buf, 4, 4999));
	EXPECT_EQ(1, coap_registry_session_raise(self->r, buf, 5, 7));
	/* No such row (a static session coapd did not grant): not an error. */
	EXPECT_EQ(0, coap_registry_session_raise(self->r, "tok2", 4, 1));
	EXPECT_EQ(0, coap_registry_session_raise(self->r, buf, 3, 1));
	EXPECT_EQ(-EINVAL, coap_registry_session_raise(self->r, buf, 4,
						       (uint64_t)INT64_MAX + 1));
	EXPECT_EQ(-EINVAL, coap_registry_session_raise(self->r, buf, 0, 1));
	EXPECT_EQ(-EINVAL, coap_registry_session_raise(self->r, NULL, 4, 1));
	memset(big, 'a', sizeof(big));
	EXPECT_EQ(-EINVAL, coap_registry_session_raise(self->r, big,
						       sizeof(big), 1));
	/* Inside a transaction, as coapd's tick writes them. */
	ASSERT_EQ(0, coap_registry_begin(self->r));
	EXPECT_EQ(1, coap_registry_session_raise(self->r, buf, 4, 6000));
	ASSERT_EQ(0, coap_registry_commit(self->r));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, NULL));
	ASSERT_EQ(2, l.n);
	EXPECT_STREQ("tok1", l.s[0].token);
	EXPECT_EQ(6000, l.s[0].seq_highest);
	EXPECT_STREQ("tok10", l.s[1].token);
	EXPECT_EQ(7, l.s[1].seq_highest);
}

/* A DTLS-mode session (cipher 0) has no key, and round-trips as such. */
TEST_F(reg, dtls_session_stored)
{
	struct coap_session_record s = good_session("dtlsTok");
	struct sessions l = { 0 };

	s.cipher = COAP_REGISTRY_CIPHER_DTLS;
	memset(s.key, 0, sizeof(s.key));
	s.ack_mode = 0;
	EXPECT_TRUE(coap_registry_session_valid(&s));
	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	ASSERT_EQ(0, coap_registry_session_put(self->r, &s));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, NULL));
	ASSERT_EQ(1, l.n);
	EXPECT_EQ(COAP_REGISTRY_CIPHER_DTLS, l.s[0].cipher);
	EXPECT_STREQ("dtlsTok", l.s[0].token);
	s.key[3] = 1;
	EXPECT_FALSE(coap_registry_session_valid(&s));
	EXPECT_EQ(-EINVAL, coap_registry_session_put(self->r, &s));
}

TEST_F(reg, session_needs_its_device)
{
	struct coap_session_record a = good_session("tokA");
	struct coap_session_record b = good_session("tokB");
	struct coap_session_record c = good_session("tokC");
	struct sessions l = { 0 };

	/* No such device: refused (the foreign key). */
	EXPECT_EQ(-ENOENT, coap_registry_session_put(self->r, &a));
	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev2", "s"));
	strcpy(c.device_name, "dev2");
	ASSERT_EQ(0, coap_registry_session_put(self->r, &a));
	ASSERT_EQ(0, coap_registry_session_put(self->r, &b));
	ASSERT_EQ(0, coap_registry_session_put(self->r, &c));

	ASSERT_EQ(0, coap_registry_session_foreach(self->r, "a1PK", "dev1",
						   session_cb, &l, NULL));
	ASSERT_EQ(2, l.n);
	EXPECT_STREQ("tokA", l.s[0].token);
	EXPECT_STREQ("tokB", l.s[1].token);

	/* Deleting a device deletes its sessions: they must not come back. */
	ASSERT_EQ(0, coap_registry_del(self->r, "a1PK", "dev1"));
	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, NULL));
	ASSERT_EQ(1, l.n);
	EXPECT_STREQ("tokC", l.s[0].token);
}

TEST(session_validation)
{
	struct coap_session_record s = good_session("tok");
	char longest[COAP_REGISTRY_TOKEN_MAX + 1];

	EXPECT_TRUE(coap_registry_session_valid(&s));
#define BAD(field, value) do {						\
		struct coap_session_record t = good_session("tok");	\
		t.field = value;					\
		EXPECT_FALSE(coap_registry_session_valid(&t)) {		\
			TH_LOG("%s = %s accepted", #field, #value);	\
		}							\
	} while (0)
	BAD(cipher, 0);		/* DTLS mode, but with a key */
	BAD(cipher, 3);
	BAD(seq_offset, 0);
	BAD(seq_offset, (uint64_t)INT64_MAX + 1);
	BAD(seq_highest, UINT64_MAX);
	BAD(lifetime, 0);
	BAD(created, -1);
	BAD(created, INT64_MAX);
	BAD(expires, 1700000000 + 604801);	/* not created + lifetime */
	BAD(expires, INT64_MAX);
	BAD(idle_timeout, COAP_REGISTRY_IDLE_MAX + 1);
	BAD(ack_mode, 2);
#undef BAD
	strcpy(s.token, "");
	EXPECT_FALSE(coap_registry_session_valid(&s));
	strcpy(s.token, "with space");
	EXPECT_FALSE(coap_registry_session_valid(&s));
	strcpy(s.token, "ctl\x01");
	EXPECT_FALSE(coap_registry_session_valid(&s));
	strcpy(s.token, "caf\xc3\xa9");
	EXPECT_FALSE(coap_registry_session_valid(&s));
	s = good_session("tok");
	strcpy(s.product_key, "sys");
	EXPECT_FALSE(coap_registry_session_valid(&s));
	s = good_session("tok");
	strcpy(s.device_name, "a/b");
	EXPECT_FALSE(coap_registry_session_valid(&s));
	memset(longest, 'x', COAP_REGISTRY_TOKEN_MAX);
	longest[COAP_REGISTRY_TOKEN_MAX] = '\0';
	s = good_session(longest);
	EXPECT_TRUE(coap_registry_session_valid(&s));
	/* Not NUL-terminated within the field: one too long. */
	memset(s.token, 'x', sizeof(s.token));
	EXPECT_FALSE(coap_registry_session_valid(&s));
}

TEST_F(reg, session_invalid_put_refused)
{
	struct coap_session_record s = good_session("tok");
	struct sessions l = { 0 };

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	s.cipher = 9;
	EXPECT_EQ(-EINVAL, coap_registry_session_put(self->r, &s));
	s = good_session("tok' OR '1'='1");
	EXPECT_EQ(-EINVAL, coap_registry_session_put(self->r, &s));
	s = good_session("tok');DROP-TABLE-sessions;--");
	EXPECT_EQ(0, coap_registry_session_put(self->r, &s));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, NULL));
	ASSERT_EQ(1, l.n);
	EXPECT_STREQ("tok');DROP-TABLE-sessions;--", l.s[0].token);
}

/*
 * Rows nobody valid wrote (a damaged file, a hand edit): each is skipped,
 * counted and deleted; the good row next to them comes through intact.
 */
TEST_F(reg, session_corrupted_rows_dropped)
{
	struct coap_session_record good = good_session("good");
	struct sessions l = { 0 };
	unsigned int dropped = 0;
	char sql[4096];

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	ASSERT_EQ(0, coap_registry_session_put(self->r, &good));
	snprintf(sql, sizeof(sql),
		 "INSERT INTO sessions VALUES"
		 /* key one byte short */
		 " ('k15', 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e', 1, 0, 1700000000, 1700000060, 60, 0, 0),"
		 /* key as text of the right length */
		 " ('ktext', 'a1PK', 'dev1', 1, '0123456789abcdef', 1, 0, 1700000000, 1700000060, 60, 0, 0),"
		 /* cipher not a number */
		 " ('ciph', 'a1PK', 'dev1', 'cbc', x'000102030405060708090a0b0c0d0e0f', 1, 0, 1700000000, 1700000060, 60, 0, 0),"
		 /* absurd expiry: far beyond created + lifetime */
		 " ('exp', 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e0f', 1, 0, 1700000000, 9000000000000000000, 60, 0, 0),"
		 /* lifetime beyond a u32 */
		 " ('life', 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e0f', 1, 0, 1700000000, 1704294967296, 4294967296, 0, 0),"
		 /* negative seq offset, and a negative highest */
		 " ('neg', 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e0f', -5, 0, 1700000000, 1700000060, 60, 0, 0),"
		 " ('negh', 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e0f', 1, -1, 1700000000, 1700000060, 60, 0, 0),"
		 /* a control character in the token, a token as a blob */
		 " (char(116, 10, 107), 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e0f', 1, 0, 1700000000, 1700000060, 60, 0, 0),"
		 " (x'746f6b', 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e0f', 1, 0, 1700000000, 1700000060, 60, 0, 0),"
		 /* a float where an integer belongs; ack mode 7 */
		 " ('flt', 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e0f', 1.5, 0, 1700000000, 1700000060, 60, 0, 0),"
		 " ('ack', 'a1PK', 'dev1', 1, x'000102030405060708090a0b0c0d0e0f', 1, 0, 1700000000, 1700000060, 60, 0, 7)");
	ASSERT_EQ(0, raw_sql(self->path, sql));
	ASSERT_EQ(12, raw_count(self->path, "SELECT count(*) FROM sessions"));

	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, &dropped));
	ASSERT_EQ(1, l.n);
	EXPECT_EQ(0, memcmp(&good, &l.s[0], sizeof(good)));
	EXPECT_EQ(11, dropped);
	EXPECT_EQ(1, raw_count(self->path, "SELECT count(*) FROM sessions"));
	/* A second walk finds nothing more to drop. */
	memset(&l, 0, sizeof(l));
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, &dropped));
	EXPECT_EQ(1, l.n);
	EXPECT_EQ(0, dropped);
}

/* coapd's reconciliation deletes and updates rows as it walks them. */
struct walker {
	struct coap_registry *r;
	int seen;
};

static int delete_or_raise_cb(const struct coap_session_record *s, void *data)
{
	struct walker *w = data;

	w->seen++;
	if (strcmp(s->token, "tok2"))
		return coap_registry_session_del(w->r, s->token);
	return coap_registry_session_seq(w->r, s->token, 7777);
}

TEST_F(reg, session_walk_may_change_its_row)
{
	static const char * const tokens[] = { "tok1", "tok2", "tok3", "tok4" };
	struct walker w = { .r = self->r };
	struct sessions l = { 0 };
	size_t i;

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	for (i = 0; i < 4; i++) {
		struct coap_session_record s = good_session(tokens[i]);

		ASSERT_EQ(0, coap_registry_session_put(self->r, &s));
	}
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   delete_or_raise_cb, &w, NULL));
	EXPECT_EQ(4, w.seen);
	ASSERT_EQ(0, coap_registry_session_foreach(self->r, NULL, NULL,
						   session_cb, &l, NULL));
	ASSERT_EQ(1, l.n);
	EXPECT_STREQ("tok2", l.s[0].token);
	EXPECT_EQ(7777, l.s[0].seq_highest);
}

/* A registry made before the sessions table existed (schema version 0). */
TEST_F(reg, migration_from_devices_only)
{
	struct coap_session_record s = good_session("tok");
	struct sessions l = { 0 };
	struct coap_device dev;
	char old[192], msg[256];
	struct coap_registry *r;
	int err = 1;

	snprintf(old, sizeof(old), "%s/old.db", self->dir);
	ASSERT_EQ(0, raw_sql(old,
		"PRAGMA journal_mode=WAL;"
		"CREATE TABLE devices (product_key TEXT NOT NULL,"
		" device_name TEXT NOT NULL, secret TEXT NOT NULL,"
		" enabled INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL,"
		" PRIMARY KEY (product_key, device_name));"
		"INSERT INTO devices VALUES ('a1PK', 'dev1', 'olds3cret', 0, 1600000000);"));
	ASSERT_EQ(0, raw_count(old, "PRAGMA user_version"));

	r = coap_registry_open(old, false, &err, msg, sizeof(msg));
	ASSERT_NE(NULL, r) {
		TH_LOG("open: %d %s", err, msg);
	}
	EXPECT_EQ(1, raw_count(old, "PRAGMA user_version"));
	ASSERT_EQ(0, coap_registry_get(r, "a1PK", "dev1", &dev));
	EXPECT_STREQ("olds3cret", dev.secret);
	EXPECT_FALSE(dev.enabled);
	EXPECT_EQ(1600000000, dev.created);
	ASSERT_EQ(0, coap_registry_session_put(r, &s));
	coap_registry_close(r);

	/* Opened again: already migrated, the session is still there. */
	r = coap_registry_open(old, false, &err, msg, sizeof(msg));
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, coap_registry_session_foreach(r, NULL, NULL, session_cb,
						   &l, NULL));
	EXPECT_EQ(1, l.n);
	coap_registry_close(r);
}

TEST_F(reg, foreign_database_untouched)
{
	char other[192], msg[256];
	struct coap_registry *r;
	int err = 0;

	snprintf(other, sizeof(other), "%s/other.db", self->dir);
	ASSERT_EQ(0, raw_sql(other, "CREATE TABLE t (x INTEGER);"));
	r = coap_registry_open(other, false, &err, msg, sizeof(msg));
	EXPECT_EQ(NULL, r);
	EXPECT_EQ(-EIO, err);
	EXPECT_NE(NULL, strstr(msg, "not a device registry"));
	/* No sessions table was added to somebody else's database. */
	EXPECT_EQ(0, raw_count(other, "SELECT count(*) FROM sqlite_master WHERE name = 'sessions'"));
	EXPECT_EQ(0, raw_count(other, "PRAGMA user_version"));
}

TEST_F(reg, file_mode_owner_only)
{
	char loose[192], msg[256];
	struct coap_registry *r;
	struct stat st;
	int err;

	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(0600, st.st_mode & 0777);

	/* A registry left readable by others is narrowed on open. */
	snprintf(loose, sizeof(loose), "%s/loose.db", self->dir);
	r = coap_registry_open(loose, true, &err, msg, sizeof(msg));
	ASSERT_NE(NULL, r);
	coap_registry_close(r);
	ASSERT_EQ(0, chmod(loose, 0644));
	r = coap_registry_open(loose, false, &err, msg, sizeof(msg));
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, stat(loose, &st));
	EXPECT_EQ(0600, st.st_mode & 0777);
	/* SQLite's side files take the file's mode. */
	ASSERT_EQ(0, coap_registry_add(r, "a1PK", "dev1", "s"));
	snprintf(loose, sizeof(loose), "%s/loose.db-wal", self->dir);
	if (!stat(loose, &st))
		EXPECT_EQ(0, st.st_mode & 077);
	coap_registry_close(r);
}

TEST_F(reg, transaction_batches_writes)
{
	struct coap_session_record a = good_session("tokA");

	ASSERT_EQ(0, coap_registry_add(self->r, "a1PK", "dev1", "s"));
	ASSERT_EQ(0, coap_registry_commit(self->r));	/* none open: fine */
	ASSERT_EQ(0, coap_registry_begin(self->r));
	ASSERT_EQ(0, coap_registry_begin(self->r));	/* already open */
	ASSERT_EQ(0, coap_registry_session_put(self->r, &a));
	ASSERT_EQ(0, coap_registry_session_seq(self->r, "tokA", 6000));
	/* Another connection does not see it before the commit. */
	EXPECT_EQ(0, raw_count(self->path, "SELECT count(*) FROM sessions"));
	ASSERT_EQ(0, coap_registry_commit(self->r));
	EXPECT_EQ(1, raw_count(self->path, "SELECT count(*) FROM sessions"));
	EXPECT_EQ(6000, raw_count(self->path, "SELECT seq_highest FROM sessions"));
}

TEST_F(reg, state_values)
{
	char v[64];

	EXPECT_EQ(-ENOENT, coap_registry_state_get(self->r, "module", v,
						   sizeof(v)));
	ASSERT_EQ(0, coap_registry_state_set(self->r, "module", "boot 23"));
	ASSERT_EQ(0, coap_registry_state_set(self->r, "module", "boot 24"));
	ASSERT_EQ(0, coap_registry_state_get(self->r, "module", v, sizeof(v)));
	EXPECT_STREQ("boot 24", v);
	/* Too long for the caller's buffer: an error, not a cut value. */
	EXPECT_EQ(-EIO, coap_registry_state_get(self->r, "module", v, 4));
}

TEST_HARNESS_MAIN
