/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device registry: (productKey, deviceName) -> deviceSecret, enabled,
 * created; and the sessions coapd granted (token, identity, cipher, key,
 * seq state, expiry), so that they survive a module reload or a reboot.
 * SQLite, one file, shared by coapd and `coapctl device` at the same time:
 * WAL mode and a busy timeout, so neither sees a half-written row nor fails
 * on the other's lock. The file holds device secrets and session keys: it
 * is created 0600 and an existing one is narrowed to its owner on open.
 * Secrets are returned to the caller only; nothing here logs.
 */
#ifndef COAP_REGISTRY_H
#define COAP_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default path; coapd and coapctl take another with a flag or config. */
#define COAP_REGISTRY_DEFAULT_PATH	"/var/lib/coap-offload/registry.db"
#define COAP_REGISTRY_ID_MAX		64
#define COAP_REGISTRY_SECRET_MAX	128
/* The kernel's limits (include/uapi/linux/coap_offload.h). */
#define COAP_REGISTRY_TOKEN_MAX		64
#define COAP_REGISTRY_KEY_LEN		16
#define COAP_REGISTRY_IDLE_MAX		(30U * 24 * 3600)

struct coap_registry;

struct coap_device {
	char product_key[COAP_REGISTRY_ID_MAX + 1];
	char device_name[COAP_REGISTRY_ID_MAX + 1];
	char secret[COAP_REGISTRY_SECRET_MAX + 1];
	bool enabled;
	int64_t created;		/* seconds since the epoch */
};

/*
 * Open (creating the file and schema when create is true) the registry at
 * path. Returns NULL and sets *err (a negative errno) and errmsg (a static
 * or caller-buffer message, never a secret) on failure.
 */
struct coap_registry *coap_registry_open(const char *path, bool create,
					 int *err, char *errmsg,
					 size_t errmsg_len);
void coap_registry_close(struct coap_registry *r);

/* 0, -EEXIST, -EINVAL (bad identity or secret), -EIO. */
int coap_registry_add(struct coap_registry *r, const char *product_key,
		      const char *device_name, const char *secret);
/* 0, -ENOENT, -EIO. */
int coap_registry_del(struct coap_registry *r, const char *product_key,
		      const char *device_name);
int coap_registry_set_enabled(struct coap_registry *r,
			      const char *product_key,
			      const char *device_name, bool enabled);
/* 0 and *dev filled, -ENOENT, -EIO. */
int coap_registry_get(struct coap_registry *r, const char *product_key,
		      const char *device_name, struct coap_device *dev);
/*
 * Call cb for every device (ordered by productKey, deviceName), or for one
 * productKey's when product_key is not NULL; stops early when cb returns
 * non-zero and returns that value. 0, or -EIO.
 */
int coap_registry_foreach(struct coap_registry *r, const char *product_key,
			  int (*cb)(const struct coap_device *dev, void *data),
			  void *data);

/*
 * A session as coapd granted it. A row that does not pass
 * coap_registry_session_valid() (a corrupted file, another program's
 * writes) is never handed out.
 */
struct coap_session_record {
	char token[COAP_REGISTRY_TOKEN_MAX + 1];	/* printable ASCII */
	char product_key[COAP_REGISTRY_ID_MAX + 1];
	char device_name[COAP_REGISTRY_ID_MAX + 1];
	/*
	 * enum coap_offload_cipher: 1 or 2; or COAP_REGISTRY_CIPHER_DTLS, a
	 * DTLS-mode session (coapd's DTLS port), whose key is all zero.
	 */
	uint32_t cipher;
	uint8_t key[COAP_REGISTRY_KEY_LEN];
	uint64_t seq_offset;		/* 1..INT64_MAX */
	/* The highest seq the kernel committed; 0: none yet. */
	uint64_t seq_highest;
	int64_t created;		/* seconds since the epoch */
	int64_t expires;		/* created + lifetime */
	uint32_t lifetime;		/* seconds granted, 1..UINT32_MAX */
	uint32_t idle_timeout;		/* 0..COAP_REGISTRY_IDLE_MAX; 0: none */
	/*
	 * The device's ackMode (0 or 1) as asked in /auth. Stored so that a
	 * restored session keeps it once the kernel session carries one.
	 */
	uint8_t ack_mode;
};

#define COAP_REGISTRY_CIPHER_DTLS	0

bool coap_registry_session_valid(const struct coap_session_record *s);

/*
 * Insert a session, or replace the one with the same token (a rekey).
 * 0, -EINVAL (not valid), -ENOENT (no such device in the registry), -EIO.
 */
int coap_registry_session_put(struct coap_registry *r,
			      const struct coap_session_record *s);
/* 0, -ENOENT, -EIO. */
int coap_registry_session_del(struct coap_registry *r, const char *token);
/* Raise the session's seq_highest to seq (never lowers it). 0, -ENOENT, -EIO. */
int coap_registry_session_seq(struct coap_registry *r, const char *token,
			      uint64_t seq);
/*
 * The same for coapd's per-message path: token is token_len bytes (no NUL
 * needed) and is not copied; nothing is allocated. 1 when the row was
 * raised, 0 when there is no such row or its seq_highest is not below seq
 * (neither is an error: a session coapd did not grant has no row), -EINVAL
 * (no token, too long, seq above INT64_MAX), -EIO.
 */
int coap_registry_session_raise(struct coap_registry *r, const char *token,
				size_t token_len, uint64_t seq);
/*
 * Call cb for every stored session (ordered by token), or for one device's
 * when product_key and device_name are set; stops early when cb returns
 * non-zero and returns that value. Rows that are not a valid session are
 * deleted after the walk and counted in *dropped (may be NULL). 0 or -EIO.
 * cb may update or delete the row it was given (nothing else).
 */
int coap_registry_session_foreach(struct coap_registry *r,
				  const char *product_key,
				  const char *device_name,
				  int (*cb)(const struct coap_session_record *s,
					    void *data),
				  void *data, unsigned int *dropped);

/*
 * Group the following writes into one transaction (coapd commits its
 * session updates about once a second instead of once per change). Between
 * begin and commit the write lock is held: other writers wait for it.
 * 0 or -EIO (e.g. the lock was not free within the busy timeout). A second
 * begin while one is open is a no-op.
 */
int coap_registry_begin(struct coap_registry *r);
/* 0 (also when none was open) or -EIO (the changes are rolled back). */
int coap_registry_commit(struct coap_registry *r);

/* A small key/value table for the daemon's own state ("module" instance). */
int coap_registry_state_get(struct coap_registry *r, const char *name,
			    char *value, size_t len);
int coap_registry_state_set(struct coap_registry *r, const char *name,
			    const char *value);

/*
 * Identities: 1..64 of letters, digits and "-_@.:", not "." or ".."; a
 * productKey also not "sys", "ota" or "shadow" (the kernel refuses those:
 * see include/uapi/linux/coap_offload.h). Secrets: 1..128 printable ASCII.
 */
bool coap_registry_identity_valid(const char *id, bool product_key);
bool coap_registry_secret_valid(const char *secret);

#endif /* COAP_REGISTRY_H */
