// SPDX-License-Identifier: GPL-2.0
/*
 * The device registry and the persisted sessions on SQLite (see registry.h).
 *
 * Every statement is prepared once at open with bound parameters: no SQL is
 * ever built from a caller's string, so an identity or a secret can hold
 * anything the validators let through without changing a query. Each call
 * is one autocommit statement: with WAL and a busy timeout a second writer
 * (coapctl while coapd runs, or two coapctl) waits for the lock instead of
 * failing, and a reader never sees half a row.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>

#include "registry.h"

/* How long a writer waits for another's lock before giving up (-EIO). */
#define REGISTRY_BUSY_MS	5000

enum {
	STMT_ADD,
	STMT_DEL,
	STMT_ENABLE,
	STMT_GET,
	STMT_LIST_ALL,
	STMT_LIST_PK,
	/* Prepared after the schema migration (the tables may be new). */
	STMT_SESSION_FIRST,
	STMT_SESSION_PUT = STMT_SESSION_FIRST,
	STMT_SESSION_DEL,
	STMT_SESSION_SEQ,
	STMT_SESSION_RAISE,
	STMT_SESSION_LIST_ALL,
	STMT_SESSION_LIST_DEV,
	STMT_SESSION_DROP,
	STMT_STATE_GET,
	STMT_STATE_SET,
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_COUNT
};

#define SESSION_COLUMNS "rowid, token, product_key, device_name, cipher, " \
	"key, seq_offset, seq_highest, created, expires, lifetime, " \
	"idle_timeout, ack_mode"

static const char * const stmt_sql[STMT_COUNT] = {
	[STMT_ADD] = "INSERT INTO devices(product_key, device_name, secret, "
		     "enabled, created) VALUES (?1, ?2, ?3, 1, ?4)",
	[STMT_DEL] = "DELETE FROM devices WHERE product_key = ?1 AND "
		     "device_name = ?2",
	[STMT_ENABLE] = "UPDATE devices SET enabled = ?3 WHERE "
			"product_key = ?1 AND device_name = ?2",
	[STMT_GET] = "SELECT product_key, device_name, secret, enabled, "
		     "created FROM devices WHERE product_key = ?1 AND "
		     "device_name = ?2",
	[STMT_LIST_ALL] = "SELECT product_key, device_name, secret, enabled, "
			  "created FROM devices "
			  "ORDER BY product_key, device_name",
	[STMT_LIST_PK] = "SELECT product_key, device_name, secret, enabled, "
			 "created FROM devices WHERE product_key = ?1 "
			 "ORDER BY device_name",
	[STMT_SESSION_PUT] = "INSERT OR REPLACE INTO sessions(token, "
			     "product_key, device_name, cipher, key, "
			     "seq_offset, seq_highest, created, expires, "
			     "lifetime, idle_timeout, ack_mode) VALUES "
			     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[STMT_SESSION_DEL] = "DELETE FROM sessions WHERE token = ?1",
	[STMT_SESSION_SEQ] = "UPDATE sessions SET seq_highest = "
			     "max(seq_highest, ?2) WHERE token = ?1",
	/* Only a row it raises is written (and its page dirtied). */
	[STMT_SESSION_RAISE] = "UPDATE sessions SET seq_highest = ?2 "
			       "WHERE token = ?1 AND seq_highest < ?2",
	[STMT_SESSION_LIST_ALL] = "SELECT " SESSION_COLUMNS " FROM sessions "
				  "ORDER BY token",
	[STMT_SESSION_LIST_DEV] = "SELECT " SESSION_COLUMNS " FROM sessions "
				  "WHERE product_key = ?1 AND device_name = ?2 "
				  "ORDER BY token",
	[STMT_SESSION_DROP] = "DELETE FROM sessions WHERE rowid = ?1",
	[STMT_STATE_GET] = "SELECT value FROM state WHERE name = ?1",
	[STMT_STATE_SET] = "INSERT OR REPLACE INTO state(name, value) "
			   "VALUES (?1, ?2)",
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS devices ("
	" product_key TEXT NOT NULL,"
	" device_name TEXT NOT NULL,"
	" secret TEXT NOT NULL,"
	" enabled INTEGER NOT NULL DEFAULT 1,"
	" created INTEGER NOT NULL,"
	" PRIMARY KEY (product_key, device_name))";

/*
 * Schema version 1 (PRAGMA user_version): the sessions coapd granted and
 * coapd's own state. A registry made before (version 0, devices only) gets
 * them on its first open; the device table is left as it is. Deleting a
 * device deletes its sessions (they must not come back after a restart).
 */
#define SCHEMA_VERSION	1
static const char migrate_v1_sql[] =
	"CREATE TABLE IF NOT EXISTS sessions ("
	" token TEXT PRIMARY KEY,"
	" product_key TEXT NOT NULL,"
	" device_name TEXT NOT NULL,"
	" cipher INTEGER NOT NULL,"
	" key BLOB NOT NULL,"
	" seq_offset INTEGER NOT NULL,"
	" seq_highest INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" lifetime INTEGER NOT NULL,"
	" idle_timeout INTEGER NOT NULL DEFAULT 0,"
	" ack_mode INTEGER NOT NULL DEFAULT 0,"
	" FOREIGN KEY (product_key, device_name) REFERENCES"
	"  devices(product_key, device_name) ON DELETE CASCADE);"
	"CREATE INDEX IF NOT EXISTS sessions_device ON"
	" sessions(product_key, device_name);"
	"CREATE TABLE IF NOT EXISTS state ("
	" name TEXT PRIMARY KEY,"
	" value TEXT NOT NULL);"
	"PRAGMA user_version = 1;";

struct coap_registry {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT];
};

bool coap_registry_identity_valid(const char *id, bool product_key)
{
	static const char * const reserved[] = { "sys", "ota", "shadow" };
	size_t i, len;

	if (!id)
		return false;
	len = strlen(id);
	if (!len || len > COAP_REGISTRY_ID_MAX ||
	    !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	/* The kernel's rule (kmod/netlink.c), without the locale's isalnum. */
	for (i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("-_@.:", c)))
			return false;
	}
	for (i = 0; product_key && i < sizeof(reserved) / sizeof(reserved[0]);
	     i++)
		if (!strcmp(id, reserved[i]))
			return false;
	return true;
}

bool coap_registry_secret_valid(const char *secret)
{
	size_t i, len;

	if (!secret)
		return false;
	len = strlen(secret);
	if (!len || len > COAP_REGISTRY_SECRET_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)secret[i] < 0x20 ||
		    (unsigned char)secret[i] > 0x7e)
			return false;
	return true;
}

static void set_msg(char *errmsg, size_t len, const char *fmt, const char *a,
		    const char *b)
{
	if (errmsg && len)
		snprintf(errmsg, len, fmt, a, b);
}

/*
 * Device secrets and session keys: only the owner may read the file. A
 * registry made by an older version (or under a loose umask) is narrowed
 * here, with SQLite's side files, which it creates with the file's mode.
 */
static int narrow_mode(const char *path)
{
	static const char * const suffix[] = { "", "-wal", "-shm" };
	char p[4096];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix[i]) >=
		    sizeof(p))
			return -ENAMETOOLONG;
		if (stat(p, &st)) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if ((st.st_mode & 077) && st.st_uid == geteuid() &&
		    chmod(p, st.st_mode & 0700))
			return -errno;
	}
	return 0;
}

/* Bring an older registry to SCHEMA_VERSION (see migrate_v1_sql). */
static int migrate(struct coap_registry *r)
{
	sqlite3_stmt *s;
	int rc, version;

	rc = sqlite3_prepare_v2(r->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (version < 0)
		return SQLITE_ERROR;
	if (version >= SCHEMA_VERSION)
		return SQLITE_OK;
	rc = sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_exec(r->db, migrate_v1_sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int prepare(struct coap_registry *r, int first, int last,
		   const char *path, int *e, char *errmsg, size_t errmsg_len)
{
	int i, rc;

	for (i = first; i < last; i++) {
		rc = sqlite3_prepare_v3(r->db, stmt_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT,
					&r->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			/* Most likely a database without our table. */
			*e = -EIO;
			set_msg(errmsg, errmsg_len,
				"%s: not a device registry (%s)", path,
				sqlite3_errmsg(r->db));
			return -1;
		}
	}
	return 0;
}

void coap_registry_close(struct coap_registry *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(r->stmt[i]);
	sqlite3_close(r->db);
	free(r);
}

struct coap_registry *coap_registry_open(const char *path, bool create,
					 int *err, char *errmsg,
					 size_t errmsg_len)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	struct coap_registry *r;
	int rc, e = -EIO;

	set_msg(errmsg, errmsg_len, "%s%s", "", "");
	if (!path || !*path) {
		e = -EINVAL;
		set_msg(errmsg, errmsg_len, "%s%s", "no registry path", "");
		goto fail;
	}
	/* sqlite3_open_v2 would say "unable to open": name the real cause. */
	if (!create && access(path, F_OK)) {
		e = -errno;
		set_msg(errmsg, errmsg_len, "%s: %s", path, strerror(errno));
		goto fail;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		e = -ENOMEM;
		set_msg(errmsg, errmsg_len, "%s%s", "out of memory", "");
		goto fail;
	}
	if (create) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		/* sqlite3_open_v2 says why it cannot open it, below. */
		if (fd >= 0)
			close(fd);
		flags |= SQLITE_OPEN_CREATE;
	}
	e = narrow_mode(path);
	if (e) {
		set_msg(errmsg, errmsg_len, "%s: chmod: %s", path, strerror(-e));
		goto fail_free;
	}
	e = -EIO;
	rc = sqlite3_open_v2(path, &r->db, flags, NULL);
	if (rc != SQLITE_OK) {
		int sys = r->db ? sqlite3_system_errno(r->db) : 0;

		e = sys ? -sys : -EIO;
		set_msg(errmsg, errmsg_len, "%s: %s", path,
			sys ? strerror(sys) : sqlite3_errstr(rc));
		goto fail_close;
	}
	sqlite3_extended_result_codes(r->db, 1);
	/* Before anything that may take a lock. */
	sqlite3_busy_timeout(r->db, REGISTRY_BUSY_MS);

	/*
	 * WAL: coapd keeps reading while coapctl writes. Setting it needs a
	 * moment of exclusive access the first time; afterwards it is a
	 * property of the file and this is a no-op read.
	 */
	rc = sqlite3_exec(r->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	/*
	 * Per connection: "device del" takes the device's sessions along,
	 * and a deleted session's key is overwritten, not left in a free page.
	 */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(r->db, "PRAGMA foreign_keys=ON;"
				  "PRAGMA secure_delete=ON", NULL, NULL, NULL);
	if (rc == SQLITE_OK && create)
		rc = sqlite3_exec(r->db, schema_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail_sql;
	/* The device table first: a foreign database is left untouched. */
	if (prepare(r, 0, STMT_SESSION_FIRST, path, &e, errmsg, errmsg_len))
		goto fail_close;
	rc = migrate(r);
	if (rc != SQLITE_OK)
		goto fail_sql;
	if (prepare(r, STMT_SESSION_FIRST, STMT_COUNT, path, &e, errmsg,
		    errmsg_len))
		goto fail_close;
	if (err)
		*err = 0;
	return r;

fail_sql:
	/* Not a database, read-only file, locked past the timeout... */
	e = (rc & 0xff) == SQLITE_READONLY ? -EACCES : -EIO;
	set_msg(errmsg, errmsg_len, "%s: %s", path, sqlite3_errmsg(r->db));
fail_close:
	coap_registry_close(r);
	goto fail;
fail_free:
	free(r);
fail:
	if (err)
		*err = e;
	return NULL;
}

/* Bind the identity pair as ?1 and ?2 (copied: the caller's may go away). */
static int bind_id(sqlite3_stmt *s, const char *pk, const char *dn)
{
	if (sqlite3_bind_text(s, 1, pk, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return -EIO;
	if (dn && sqlite3_bind_text(s, 2, dn, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return -EIO;
	return 0;
}

/* Reset after use: releases the read lock and wipes the bound secret. */
static void done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int coap_registry_add(struct coap_registry *r, const char *product_key,
		      const char *device_name, const char *secret)
{
	sqlite3_stmt *s = r->stmt[STMT_ADD];
	int rc, ret;

	if (!coap_registry_identity_valid(product_key, true) ||
	    !coap_registry_identity_valid(device_name, false) ||
	    !coap_registry_secret_valid(secret))
		return -EINVAL;
	ret = bind_id(s, product_key, device_name);
	if (!ret && (sqlite3_bind_text(s, 3, secret, -1, SQLITE_TRANSIENT) ||
		     sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL))))
		ret = -EIO;
	if (!ret) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			ret = 0;
		else if ((rc & 0xff) == SQLITE_CONSTRAINT)
			ret = -EEXIST;
		else
			ret = -EIO;
	}
	done(s);
	return ret;
}

/* DELETE or UPDATE of one row: -ENOENT when there was none. */
static int change_one(struct coap_registry *r, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	int ret;

	if (rc != SQLITE_DONE)
		ret = -EIO;
	else
		ret = sqlite3_changes(r->db) ? 0 : -ENOENT;
	done(s);
	return ret;
}

int coap_registry_del(struct coap_registry *r, const char *product_key,
		      const char *device_name)
{
	sqlite3_stmt *s = r->stmt[STMT_DEL];

	if (!product_key || !device_name)
		return -ENOENT;
	if (bind_id(s, product_key, device_name)) {
		done(s);
		return -EIO;
	}
	return change_one(r, s);
}

int coap_registry_set_enabled(struct coap_registry *r,
			      const char *product_key,
			      const char *device_name, bool enabled)
{
	sqlite3_stmt *s = r->stmt[STMT_ENABLE];

	if (!product_key || !device_name)
		return -ENOENT;
	if (bind_id(s, product_key, device_name) ||
	    sqlite3_bind_int(s, 3, enabled)) {
		done(s);
		return -EIO;
	}
	return change_one(r, s);
}

/* One SELECT row into dev; -EIO when a column is not what we wrote. */
static int row_to_device(sqlite3_stmt *s, struct coap_device *dev)
{
	const unsigned char *pk = sqlite3_column_text(s, 0);
	const unsigned char *dn = sqlite3_column_text(s, 1);
	const unsigned char *secret = sqlite3_column_text(s, 2);

	memset(dev, 0, sizeof(*dev));
	if (!pk || !dn || !secret ||
	    sqlite3_column_bytes(s, 0) > COAP_REGISTRY_ID_MAX ||
	    sqlite3_column_bytes(s, 1) > COAP_REGISTRY_ID_MAX ||
	    sqlite3_column_bytes(s, 2) > COAP_REGISTRY_SECRET_MAX)
		return -EIO;
	memcpy(dev->product_key, pk, sqlite3_column_bytes(s, 0));
	memcpy(dev->device_name, dn, sqlite3_column_bytes(s, 1));
	memcpy(dev->secret, secret, sqlite3_column_bytes(s, 2));
	dev->enabled = sqlite3_column_int(s, 3) != 0;
	dev->created = sqlite3_column_int64(s, 4);
	return 0;
}

int coap_registry_get(struct coap_registry *r, const char *product_key,
		      const char *device_name, struct coap_device *dev)
{
	sqlite3_stmt *s = r->stmt[STMT_GET];
	int rc, ret;

	if (!product_key || !device_name)
		return -ENOENT;
	ret = bind_id(s, product_key, device_name);
	if (!ret) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			ret = row_to_device(s, dev);
		else if (rc == SQLITE_DONE)
			ret = -ENOENT;
		else
			ret = -EIO;
	}
	done(s);
	return ret;
}

int coap_registry_foreach(struct coap_registry *r, const char *product_key,
			  int (*cb)(const struct coap_device *dev, void *data),
			  void *data)
{
	sqlite3_stmt *s = r->stmt[product_key ? STMT_LIST_PK : STMT_LIST_ALL];
	struct coap_device dev;
	int rc, ret = 0;

	if (product_key && bind_id(s, product_key, NULL)) {
		done(s);
		return -EIO;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ret = row_to_device(s, &dev);
		if (!ret)
			ret = cb(&dev, data);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = -EIO;
	done(s);
	/* The copy held a secret. */
	explicit_bzero(&dev, sizeof(dev));
	return ret;
}

bool coap_registry_session_valid(const struct coap_session_record *s)
{
	size_t i, len = strnlen(s->token, sizeof(s->token));

	/* Tokens go into option 2088 as they are: printable, no spaces. */
	if (!len || len > COAP_REGISTRY_TOKEN_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s->token[i] <= 0x20 || s->token[i] > 0x7e)
			return false;
	/*
	 * Times: a lifetime is what the kernel takes (a u32), and expires
	 * must be created + lifetime: an absurd expiry is a corrupted row.
	 */
	/* A DTLS-mode session has no key: it must not carry one. */
	if (s->cipher == COAP_REGISTRY_CIPHER_DTLS)
		for (i = 0; i < COAP_REGISTRY_KEY_LEN; i++)
			if (s->key[i])
				return false;
	return coap_registry_identity_valid(s->product_key, true) &&
	       coap_registry_identity_valid(s->device_name, false) &&
	       s->cipher <= 2 &&
	       s->seq_offset >= 1 && s->seq_offset <= INT64_MAX &&
	       s->seq_highest <= INT64_MAX &&
	       s->lifetime >= 1 && s->created >= 0 &&
	       s->created <= INT64_MAX - UINT32_MAX &&
	       s->expires == s->created + s->lifetime &&
	       s->idle_timeout <= COAP_REGISTRY_IDLE_MAX && s->ack_mode <= 1;
}

int coap_registry_session_put(struct coap_registry *r,
			      const struct coap_session_record *rec)
{
	sqlite3_stmt *s = r->stmt[STMT_SESSION_PUT];
	int rc, ret = 0;

	if (!coap_registry_session_valid(rec))
		return -EINVAL;
	if (sqlite3_bind_text(s, 1, rec->token, -1, SQLITE_TRANSIENT) ||
	    sqlite3_bind_text(s, 2, rec->product_key, -1, SQLITE_TRANSIENT) ||
	    sqlite3_bind_text(s, 3, rec->device_name, -1, SQLITE_TRANSIENT) ||
	    sqlite3_bind_int64(s, 4, rec->cipher) ||
	    sqlite3_bind_blob(s, 5, rec->key, sizeof(rec->key),
			      SQLITE_TRANSIENT) ||
	    sqlite3_bind_int64(s, 6, (sqlite3_int64)rec->seq_offset) ||
	    sqlite3_bind_int64(s, 7, (sqlite3_int64)rec->seq_highest) ||
	    sqlite3_bind_int64(s, 8, rec->created) ||
	    sqlite3_bind_int64(s, 9, rec->expires) ||
	    sqlite3_bind_int64(s, 10, rec->lifetime) ||
	    sqlite3_bind_int64(s, 11, rec->idle_timeout) ||
	    sqlite3_bind_int64(s, 12, rec->ack_mode))
		ret = -EIO;
	if (!ret) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			ret = 0;
		else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			ret = -ENOENT;
		else
			ret = -EIO;
	}
	/* clear_bindings frees SQLite's copy of the key, not wipes it. */
	done(s);
	return ret;
}

int coap_registry_session_del(struct coap_registry *r, const char *token)
{
	sqlite3_stmt *s = r->stmt[STMT_SESSION_DEL];

	if (!token)
		return -ENOENT;
	if (sqlite3_bind_text(s, 1, token, -1, SQLITE_TRANSIENT)) {
		done(s);
		return -EIO;
	}
	return change_one(r, s);
}

int coap_registry_session_seq(struct coap_registry *r, const char *token,
			      uint64_t seq)
{
	sqlite3_stmt *s = r->stmt[STMT_SESSION_SEQ];

	if (!token)
		return -ENOENT;
	if (seq > INT64_MAX)
		return -EINVAL;
	if (sqlite3_bind_text(s, 1, token, -1, SQLITE_TRANSIENT) ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq)) {
		done(s);
		return -EIO;
	}
	return change_one(r, s);
}

int coap_registry_session_raise(struct coap_registry *r, const char *token,
				size_t token_len, uint64_t seq)
{
	sqlite3_stmt *s = r->stmt[STMT_SESSION_RAISE];
	int ret;

	if (!token || !token_len || token_len > COAP_REGISTRY_TOKEN_MAX ||
	    seq > INT64_MAX)
		return -EINVAL;
	/*
	 * Bound in place (SQLITE_STATIC: no copy, no allocation), by length:
	 * the caller's token need not end in a NUL. The statement is reset
	 * before returning, so the binding does not outlive the call.
	 */
	if (sqlite3_bind_text(s, 1, token, (int)token_len, SQLITE_STATIC) ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq)) {
		done(s);
		return -EIO;
	}
	if (sqlite3_step(s) != SQLITE_DONE)
		ret = -EIO;
	else
		ret = sqlite3_changes(r->db) ? 1 : 0;
	done(s);
	return ret;
}

/* An integer column, and nothing else (SQLite would turn "x" into 0). */
static bool column_int(sqlite3_stmt *s, int col, int64_t min, int64_t max,
		       int64_t *out)
{
	if (sqlite3_column_type(s, col) != SQLITE_INTEGER)
		return false;
	*out = sqlite3_column_int64(s, col);
	return *out >= min && *out <= max;
}

static bool column_text(sqlite3_stmt *s, int col, char *out, size_t cap)
{
	const unsigned char *t;
	int len;

	if (sqlite3_column_type(s, col) != SQLITE_TEXT)
		return false;
	t = sqlite3_column_text(s, col);
	len = sqlite3_column_bytes(s, col);
	/* An embedded NUL would make the C string differ from the row. */
	if (!t || len < 1 || (size_t)len >= cap || memchr(t, 0, len))
		return false;
	memcpy(out, t, len);
	out[len] = '\0';
	return true;
}

/* One row of SESSION_COLUMNS (from column 1) into rec; false if invalid. */
static bool row_to_session(sqlite3_stmt *s, struct coap_session_record *rec)
{
	int64_t cipher, offset, highest, created, expires, lifetime, idle, ack;
	const void *key;

	memset(rec, 0, sizeof(*rec));
	if (!column_text(s, 1, rec->token, sizeof(rec->token)) ||
	    !column_text(s, 2, rec->product_key, sizeof(rec->product_key)) ||
	    !column_text(s, 3, rec->device_name, sizeof(rec->device_name)) ||
	    !column_int(s, 4, 0, 2, &cipher) ||
	    sqlite3_column_type(s, 5) != SQLITE_BLOB ||
	    sqlite3_column_bytes(s, 5) != COAP_REGISTRY_KEY_LEN ||
	    !column_int(s, 6, 1, INT64_MAX, &offset) ||
	    !column_int(s, 7, 0, INT64_MAX, &highest) ||
	    !column_int(s, 8, 0, INT64_MAX, &created) ||
	    !column_int(s, 9, 0, INT64_MAX, &expires) ||
	    !column_int(s, 10, 1, UINT32_MAX, &lifetime) ||
	    !column_int(s, 11, 0, COAP_REGISTRY_IDLE_MAX, &idle) ||
	    !column_int(s, 12, 0, 1, &ack))
		return false;
	key = sqlite3_column_blob(s, 5);
	if (!key)
		return false;
	memcpy(rec->key, key, COAP_REGISTRY_KEY_LEN);
	rec->cipher = cipher;
	rec->seq_offset = offset;
	rec->seq_highest = highest;
	rec->created = created;
	rec->expires = expires;
	rec->lifetime = lifetime;
	rec->idle_timeout = idle;
	rec->ack_mode = ack;
	return coap_registry_session_valid(rec);
}

int coap_registry_session_foreach(struct coap_registry *r,
				  const char *product_key,
				  const char *device_name,
				  int (*cb)(const struct coap_session_record *s,
					    void *data),
				  void *data, unsigned int *dropped)
{
	sqlite3_stmt *s = r->stmt[product_key ? STMT_SESSION_LIST_DEV :
					       STMT_SESSION_LIST_ALL];
	sqlite3_stmt *drop = r->stmt[STMT_SESSION_DROP];
	struct coap_session_record rec;
	int64_t *bad = NULL, *more;
	size_t nbad = 0, cap = 0, i;
	int rc, ret = 0;

	if (dropped)
		*dropped = 0;
	if (product_key && bind_id(s, product_key, device_name)) {
		done(s);
		return -EIO;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (row_to_session(s, &rec)) {
			ret = cb(&rec, data);
			if (ret)
				break;
			continue;
		}
		/* Deleted once the walk is over (not under the cursor). */
		if (nbad == cap) {
			cap = cap ? 2 * cap : 16;
			more = realloc(bad, cap * sizeof(*bad));
			if (!more) {
				ret = -ENOMEM;
				break;
			}
			bad = more;
		}
		bad[nbad++] = sqlite3_column_int64(s, 0);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = -EIO;
	done(s);
	/* The copy held a key. */
	explicit_bzero(&rec, sizeof(rec));
	for (i = 0; i < nbad; i++) {
		if (sqlite3_bind_int64(drop, 1, bad[i]) ||
		    sqlite3_step(drop) != SQLITE_DONE) {
			if (!ret)
				ret = -EIO;
		} else if (dropped) {
			(*dropped)++;
		}
		done(drop);
	}
	free(bad);
	return ret;
}

int coap_registry_begin(struct coap_registry *r)
{
	sqlite3_stmt *s = r->stmt[STMT_BEGIN];
	int rc;

	if (!sqlite3_get_autocommit(r->db))
		return 0;
	rc = sqlite3_step(s);
	done(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int coap_registry_commit(struct coap_registry *r)
{
	sqlite3_stmt *s = r->stmt[STMT_COMMIT];
	int rc;

	if (sqlite3_get_autocommit(r->db))
		return 0;
	rc = sqlite3_step(s);
	done(s);
	if (rc == SQLITE_DONE)
		return 0;
	/* Still open (e.g. busy past the timeout): give the lock back. */
	if (!sqlite3_get_autocommit(r->db)) {
		s = r->stmt[STMT_ROLLBACK];
		sqlite3_step(s);
		done(s);
	}
	return -EIO;
}

int coap_registry_state_get(struct coap_registry *r, const char *name,
			    char *value, size_t len)
{
	sqlite3_stmt *s = r->stmt[STMT_STATE_GET];
	int rc, ret;

	if (sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT)) {
		done(s);
		return -EIO;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ret = column_text(s, 0, value, len) ? 0 : -EIO;
	else
		ret = rc == SQLITE_DONE ? -ENOENT : -EIO;
	done(s);
	return ret;
}

int coap_registry_state_set(struct coap_registry *r, const char *name,
			    const char *value)
{
	sqlite3_stmt *s = r->stmt[STMT_STATE_SET];
	int rc;

	if (sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT) ||
	    sqlite3_bind_text(s, 2, value, -1, SQLITE_TRANSIENT)) {
		done(s);
		return -EIO;
	}
	rc = sqlite3_step(s);
	done(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}
