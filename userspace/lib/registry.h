/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device registry: (productKey, deviceName) -> deviceSecret, enabled,
 * created. SQLite, one file, shared by coapd (reads) and `coapctl device`
 * (writes) at the same time: WAL mode and a busy timeout, so neither sees a
 * half-written row nor fails on the other's lock. Secrets are returned to
 * the caller only; nothing here logs.
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
 * Identities: 1..64 of letters, digits and "-_@.:", not "." or ".."; a
 * productKey also not "sys", "ota" or "shadow" (the kernel refuses those:
 * see include/uapi/linux/coap_offload.h). Secrets: 1..128 printable ASCII.
 */
bool coap_registry_identity_valid(const char *id, bool product_key);
bool coap_registry_secret_valid(const char *secret);

#endif /* COAP_REGISTRY_H */
