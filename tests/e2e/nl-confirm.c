// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for tests/e2e/held.sh: COAP_OFFLOAD_CMD_MESSAGE_CONFIRM from a
 * socket of its own, as coapd sends it from its request socket. The module
 * then sends its consumer what it does not have yet: a consumer that
 * batches (COAP_OFFLOAD_A_CONSUMER_BATCH) is sent nothing more until a
 * confirmation, so this is how a test fills a stopped coapd's socket.
 *
 *   nl-confirm ID
 *
 * Exit 0, or 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap_nl.h"

int main(int argc, char **argv)
{
	struct coap_nl c;
	char *end;
	unsigned long long id;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: nl-confirm ID\n");
		return 1;
	}
	id = strtoull(argv[1], &end, 10);
	if (*end || end == argv[1]) {
		fprintf(stderr, "nl-confirm: bad id %s\n", argv[1]);
		return 1;
	}
	err = coap_nl_open(&c);
	if (!err)
		err = coap_nl_message_confirm(&c, id);
	if (err) {
		fprintf(stderr, "nl-confirm: %s\n", strerror(-err));
		return 1;
	}
	coap_nl_close(&c);
	return 0;
}
