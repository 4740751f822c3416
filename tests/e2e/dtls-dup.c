// SPDX-License-Identifier: GPL-2.0
/*
 * A retransmission over DTLS, as a device whose ACK was lost sends it: one
 * PSK session, one CON publish sent twice with the same Message ID and
 * CoAP token. Prints one line per answer: "CODE ID" (ID: option 2090 in
 * hex, "-" when absent). The e2e test checks both lines are the same 2.05
 * and that the sink holds the message once.
 *   dtls-dup HOST PORT IDENTITY PSK TOKEN TOPIC PAYLOAD
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <coap3/coap.h>

#define OPT_AUTH_TOKEN	2088

static int answers;
static char line[64];

/*
 * The answers are read from libcoap's own dump of each received PDU
 * ("v:1 t:ACK c:2.05 i:4242 {d15c} [ 2090:\x98... ]"): libcoap hands a
 * client's response handler the first answer to a token only, and the
 * second answer is the point here.
 */
static void on_log(coap_log_t level, const char *msg)
{
	const char *c = strstr(msg, " c:"), *o = strstr(msg, "2090:");
	size_t n;

	(void)level;
	if (strncmp(msg, "v:1 t:ACK ", 10) || !strstr(msg, " i:4242 ") || !c)
		return;
	n = snprintf(line, sizeof(line), "%.4s ", c + 3);
	if (!o)
		snprintf(line + n, sizeof(line) - n, "-");
	/* \xHH per byte. */
	for (o = o ? o + 5 : NULL; o && o[0] == '\\' && o[1] == 'x' &&
	     n + 3 < sizeof(line); o += 4)
		n += snprintf(line + n, sizeof(line) - n, "%c%c",
			      o[2] | 0x20, o[3] | 0x20);
	answers++;
}

static int send_once(coap_context_t *ctx, coap_session_t *s, char **argv)
{
	static const uint8_t tok[] = { 0xd1, 0x5c };
	coap_pdu_t *pdu;
	char *seg, *topic;
	int waited;

	pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 0x4242,
			    coap_session_max_pdu_size(s));
	topic = strdup(argv[6]);
	if (!pdu || !topic || !coap_add_token(pdu, sizeof(tok), tok))
		return -1;
	for (seg = strtok(topic, "/"); seg; seg = strtok(NULL, "/"))
		coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(seg),
				(const uint8_t *)seg);
	free(topic);
	coap_add_option(pdu, OPT_AUTH_TOKEN, strlen(argv[5]),
			(const uint8_t *)argv[5]);
	coap_add_data(pdu, strlen(argv[7]), (const uint8_t *)argv[7]);
	answers = 0;
	if (coap_send(s, pdu) == COAP_INVALID_MID)
		return -1;
	for (waited = 0; !answers && waited < 30000; waited += 100)
		coap_io_process(ctx, 100);
	if (!answers)
		return -1;
	printf("%s\n", line);
	return 0;
}

int main(int argc, char **argv)
{
	coap_dtls_cpsk_t psk = { .version = COAP_DTLS_CPSK_SETUP_VERSION };
	struct addrinfo *ai, hints = { .ai_socktype = SOCK_DGRAM };
	coap_context_t *ctx;
	coap_session_t *s;
	coap_address_t dst;
	int ret = 1;

	if (argc != 8) {
		fprintf(stderr, "usage: dtls-dup HOST PORT IDENTITY PSK TOKEN TOPIC PAYLOAD\n");
		return 1;
	}
	if (getaddrinfo(argv[1], argv[2], &hints, &ai))
		return 1;
	coap_startup();
	coap_address_init(&dst);
	dst.size = ai->ai_addrlen;
	memcpy(&dst.addr, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	psk.psk_info.identity.s = (const uint8_t *)argv[3];
	psk.psk_info.identity.length = strlen(argv[3]);
	psk.psk_info.key.s = (const uint8_t *)argv[4];
	psk.psk_info.key.length = strlen(argv[4]);
	ctx = coap_new_context(NULL);
	if (!ctx)
		goto out;
	coap_register_option(ctx, OPT_AUTH_TOKEN);
	coap_set_log_handler(on_log);
	coap_set_show_pdu_output(0);	/* PDU dumps through on_log */
	coap_set_log_level(LOG_DEBUG);
	s = coap_new_client_session_psk2(ctx, NULL, &dst, COAP_PROTO_DTLS, &psk);
	/* The second is what the gateway sees when its ACK was lost. */
	if (s && !send_once(ctx, s, argv) && !send_once(ctx, s, argv))
		ret = 0;
	coap_free_context(ctx);
out:
	coap_cleanup();
	return ret;
}
