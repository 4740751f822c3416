// SPDX-License-Identifier: GPL-2.0
/*
 * The device registry on SQLite (see registry.h).
 *
 * Every statement is prepared once at open with bound parameters: no SQL is
 * ever built from a caller's string, so an identity or a secret can hold
 * anything the validators let through without changing a query. Each call
 * is one autocommit statement: with WAL and a busy timeout a second writer
 * (coapctl while coapd runs, or two coapctl) waits for the lock instead of
 * failing, and a reader never sees half a row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
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
	STMT_COUNT
};

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
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS devices ("
	" product_key TEXT NOT NULL,"
	" device_name TEXT NOT NULL,"
	" secret TEXT NOT NULL,"
	" enabled INTEGER NOT NULL DEFAULT 1,"
	" created INTEGER NOT NULL,"
	" PRIMARY KEY (product_key, device_name))";

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
	int rc, i, e = -EIO;

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
	if (create)
		flags |= SQLITE_OPEN_CREATE;
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
	if (rc == SQLITE_OK && create)
		rc = sqlite3_exec(r->db, schema_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		/* Not a database, read-only file, locked past the timeout... */
		e = (rc & 0xff) == SQLITE_READONLY ? -EACCES : -EIO;
		set_msg(errmsg, errmsg_len, "%s: %s", path, sqlite3_errmsg(r->db));
		goto fail_close;
	}
	for (i = 0; i < STMT_COUNT; i++) {
		rc = sqlite3_prepare_v3(r->db, stmt_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT,
					&r->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			/* Most likely a database without our table. */
			e = -EIO;
			set_msg(errmsg, errmsg_len,
				"%s: not a device registry (%s)", path,
				sqlite3_errmsg(r->db));
			goto fail_close;
		}
	}
	if (err)
		*err = 0;
	return r;

fail_close:
	coap_registry_close(r);
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
