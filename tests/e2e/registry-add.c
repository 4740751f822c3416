// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper: add a device to a registry (created when missing), for the
 * end-to-end tests, through the same userspace/lib/registry.c that coapd
 * reads with.
 *   registry-add DB PRODUCT_KEY DEVICE_NAME SECRET [disabled]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"

int main(int argc, char **argv)
{
	struct coap_registry *r;
	char errmsg[256] = "";
	int err = 0;

	if (argc < 5 || argc > 6 || (argc == 6 && strcmp(argv[5], "disabled"))) {
		fprintf(stderr, "usage: registry-add DB PK DN SECRET [disabled]\n");
		return 1;
	}
	r = coap_registry_open(argv[1], true, &err, errmsg, sizeof(errmsg));
	if (!r) {
		fprintf(stderr, "registry-add: %s\n",
			errmsg[0] ? errmsg : strerror(-err));
		return 1;
	}
	err = coap_registry_add(r, argv[2], argv[3], argv[4]);
	if (!err && argc == 6)
		err = coap_registry_set_enabled(r, argv[2], argv[3], false);
	coap_registry_close(r);
	if (err) {
		fprintf(stderr, "registry-add: %s/%s: %s\n", argv[2], argv[3],
			strerror(-err));
		return 1;
	}
	return 0;
}
