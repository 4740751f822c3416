// SPDX-License-Identifier: GPL-2.0
/*
 * coap-device: one or many devices of the gateway's protocol (PROTOCOL.md)
 * on libcoap, for operators and tests: /auth (JSON or CBOR), then publishes
 * in symmetric mode (UDP, AES on the payload and on the seq option), closed
 * loop or open loop at a fixed rate, with per-message lines and a summary.
 *
 *   coap-device [OPTIONS] auth|publish|run
 *
 * libcoap does the CoAP messaging: message ids, tokens, CON retransmission
 * with RFC 7252's parameters (ACK_TIMEOUT, ACK_RANDOM_FACTOR,
 * MAX_RETRANSMIT; NSTART 1 per device) and its give-up; we count the
 * retransmissions it logs. userspace/lib/coap_proto does the protocol's
 * crypto (sign, session key, seq option, payload cipher suites).
 *
 * Every device is one libcoap client session (its own UDP socket, so its
 * own source port, like a real device). Requests in flight are matched to
 * answers by (session, CoAP token) in a table of pending requests.
 *
 * Secrets are never printed; tokens are shown as their first 6 characters.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <cbor.h>
#include <coap3/coap.h>
#include <json-c/json.h>

#include "coap_proto.h"

#define EXIT_USAGE	1
#define EXIT_REFUSED	2
#define EXIT_FAIL	3

#define TOKEN_SHORT	6
#define MAX_AUTH_TOKEN	64
#define IDENTITY_MAX	64
#define SECRET_MAX	256
#define MAX_DEVICES	10000
#define MAX_MESSAGES	100000000UL
#define MAX_RATE	100000.0
#define MAX_DURATION	604800.0	/* a week */
/* Requests in flight at once; an open loop that gets this far ahead of
 * the gateway waits (and its latencies, measured from the schedule, show
 * it). */
#define MAX_PENDING	4096
/* Latency samples kept for the percentiles; beyond, a uniform sample. */
#define MAX_SAMPLES	1000000
/*
 * How long a NON publish waits for an answer. coapd answers a NON with a
 * NON 2.05, the kernel fast path does not answer NON at all: an unanswered
 * NON is sent, not failed.
 */
#define NON_WAIT_MS	500
#define CF_JSON		50
#define CF_CBOR		60

static const char usage_text[] =
"NAME\n"
"    coap-device - devices of the coap-offload gateway (symmetric mode)\n"
"\n"
"SYNOPSIS\n"
"    coap-device [OPTIONS] auth\n"
"    coap-device [OPTIONS] publish\n"
"    coap-device [OPTIONS] run [--messages N] [--duration S] [--rate R]\n"
"\n"
"DESCRIPTION\n"
"    auth     POST /auth (CON) for every device and print the token\n"
"             (shortened), the random and the seqOffset the gateway returned.\n"
"    publish  auth, then one publish per device to --topic.\n"
"    run      auth, then --messages publishes per device (seq from seqOffset\n"
"             upward), or publishes until --duration is over.\n"
"\n"
"    Publishes carry the token in option 2088 (or 61, --token-option) and the\n"
"    encrypted seq in option 2089; the payload is encrypted with the session\n"
"    key under the chosen cipher suite. On 4.01 the device authenticates\n"
"    again and retries the message once.\n"
"\n"
"    Without --rate, the publishes go one at a time (closed loop: the next\n"
"    when the previous is answered, then --interval). With --rate R they\n"
"    start on a fixed schedule of R per second over all devices, whether\n"
"    or not earlier ones were answered (open loop; latency is measured from\n"
"    the scheduled time). Each device still has at most one CON in flight\n"
"    (RFC 7252 NSTART 1): libcoap holds the others back.\n"
"\n"
"DEVICES\n"
"    One device: --pk, --dn and --secret (or --secret-file).\n"
"    --count N simulates N devices: PK/DN-0001 .. PK/DN-N, all with the one\n"
"    secret (register them so: coapctl device add PK/DN-0001 secret S ...).\n"
"    --credentials FILE reads devices from FILE, one per line:\n"
"        PK/DN SECRET\n"
"    the secret being the rest of the line (surrounding blanks removed);\n"
"    empty lines and lines starting with # are skipped. With --count N\n"
"    only the first N are used.\n"
"\n"
"OUTPUT\n"
"    One line per /auth and per publish (not with --quiet):\n"
"        auth PK/DN: 2.05 token abcdef… random HEX seqOffset N cipher C\n"
"        publish PK/DN #N seq S: 2.05 id HEX 1.234 ms\n"
"    where id is the gateway's message id (option 2090). Then a summary:\n"
"        summary: D devices [(N /auth failed)], N sent, N ok, N failed,\n"
"                 N unanswered, N re-auths, N retransmissions\n"
"        failed: 4.03 x2, no answer x1          (when some failed)\n"
"        latency: p50 X ms, p99 X ms, max X ms (N answers)\n"
"        time: X s, X messages/s\n"
"    \"unanswered\" are NON publishes nobody answered within 0.5 s (the\n"
"    gateway's kernel fast path does not answer NON requests): not failures.\n"
"\n"
"OPTIONS\n"
"    -H, --host HOST        gateway host or address (default 127.0.0.1)\n"
"    -p, --port PORT        gateway UDP port (default 5682; DTLS: 5684)\n"
"    --dtls MODE            cert or psk: DTLS mode (see DTLS MODE)\n"
"    --ca FILE              cert: the PEM CA the gateway's chain must reach\n"
"    --server-name NAME     cert: the name the gateway's certificate must\n"
"                           carry (default: --host)\n"
"    --pk PK                productKey\n"
"    --dn DN                deviceName (with --count: the base of the names)\n"
"    --secret S             deviceSecret\n"
"    --secret-file F        read the deviceSecret from the first line of F\n"
"    --credentials F        devices and secrets from F (see DEVICES)\n"
"    --count N              simulate N devices (1..10000)\n"
"    --signmethod M         hmacmd5 (default), hmacsha1 or hmacsha256\n"
"    --cipher C             aes-128-cbc (default) or aes-128-ctr (sent as\n"
"                           the \"cipher\" field of /auth)\n"
"    --auth-format F        json (default; Content-Format and Accept 50) or\n"
"                           cbor (60)\n"
"    --client-id STYLE      the clientId field: pk.dn (default) or pk&dn\n"
"    --token-option N       2088 (default) or 61 (some SDK releases)\n"
"    --topic T              default /{pk}/{dn}/user/update\n"
"    --payload TEXT         plaintext to publish (default \"hello {n}\")\n"
"                           {n} the device's message number (1..), {seq} its\n"
"                           seq, {pk} and {dn} the device; in --topic too\n"
"    --messages N           publishes per device for run (default 1; no\n"
"                           limit when only --duration is given)\n"
"    --duration S           run: stop starting publishes after S seconds\n"
"                           (decimals allowed; up to a week)\n"
"    --rate R               publishes per second over all devices, open loop\n"
"                           (0 < R <= 100000; decimals allowed)\n"
"    --interval MS          closed loop: wait MS ms between publishes\n"
"    --non                  publish with NON messages (default CON)\n"
"    --ack-timeout S        RFC 7252 ACK_TIMEOUT in seconds (default 2;\n"
"                           1..60, decimals allowed)\n"
"    --max-retransmit N     RFC 7252 MAX_RETRANSMIT (default 4; 0..10)\n"
"    --ack-mode 0|1         send the /auth field ackMode: 1 asks for an\n"
"                           empty ACK at once and the result (2.05 with\n"
"                           2090) in a separate CON, which alone counts\n"
"    -q, --quiet            no per-message lines, only the summary\n"
"    -v, --verbose          libcoap's log to stderr (twice: debug)\n"
"    -h, --help             this text\n"
"\n"
"EXIT STATUS\n"
"    0  every /auth and every publish succeeded (2.05; NON may go unanswered)\n"
"    1  usage error (bad option, bad credentials file)\n"
"    2  the gateway answered some request with an error code\n"
"    3  some request got no answer (timeout, RST, ICMP), or a local failure\n"
"       (this wins over 2)\n"
"\n"
"DTLS MODE\n"
"    --dtls cert: DTLS 1.2 to the gateway (default port 5684), whose\n"
"    certificate chain is verified against --ca and whose name (its first\n"
"    DNS subjectAltName, else its CN) must be --server-name (default:\n"
"    --host).\n"
"    --dtls psk: the SDK's PSK identity devicename|hmacsha256|PK&DN|2524608000000\n"
"    with the PSK derived from the device's secret (TLS_PSK_WITH_AES_128_CBC_SHA\n"
"    or better). Inside DTLS, /auth carries no seq and answers only a token;\n"
"    publishes carry the token (2088 or 61), no seq option, and the payload\n"
"    in plaintext (DTLS protects it). --cipher does not apply.\n";

enum auth_format { AUTH_JSON, AUTH_CBOR };

static struct {
	const char *host, *port, *pk, *dn, *secret, *signmethod, *topic;
	const char *payload;
	const char *ack_mode;		/* "0", "1"; NULL: not sent */
	enum coap_cipher cipher;
	enum auth_format auth_format;
	bool client_id_amp, non, quiet;
	unsigned int token_option;
	unsigned long count, messages, interval_ms;
	double rate, duration, ack_timeout;
	unsigned int max_retransmit;
	int verbose;
	/* DTLS mode: none (symmetric), cert or psk; the CA and the name. */
	enum { DTLS_NONE, DTLS_CERT, DTLS_PSK } dtls;
	const char *ca, *server_name;
} opt = {
	.host = "127.0.0.1",
	.port = "5682",
	.signmethod = "hmacmd5",
	.topic = "/{pk}/{dn}/user/update",
	.payload = "hello {n}",
	.cipher = COAP_CIPHER_AES_128_CBC,
	.token_option = COAP_OPT_AUTH_TOKEN,
	.ack_timeout = 2.0,
	.max_retransmit = 4,
};

/* ---- devices ------------------------------------------------------------ */

/* What /auth granted. */
struct grant {
	char token[MAX_AUTH_TOKEN + 1];
	char random[64];
	uint64_t seq_offset;
	uint8_t key[COAP_PROTO_KEY_LEN];
};

struct device {
	char pk[IDENTITY_MAX + 1], dn[IDENTITY_MAX + 1];
	char *secret;
	coap_session_t *session;
	struct grant grant;
	bool authed;
	/* Bumped per /auth: a 4.01 for a publish of an older grant only
	 * needs a retry, not another /auth. */
	unsigned int generation;
	uint64_t next_seq;
	unsigned long started;	/* publishes begun (retries not counted) */
};

static struct device *devices;
static size_t n_devices;

/* ---- statistics ------------------------------------------------------- */

static struct {
	unsigned long sent, ok, unanswered, reauths, retransmissions;
	unsigned long failed_code[256];	/* by CoAP code byte */
	unsigned long no_answer, local_errors, auth_failed;
	bool refused;			/* some error code, /auth included */
	bool unreachable;		/* some no-answer or local failure */
	uint32_t *samples;		/* latencies, microseconds */
	size_t n_samples, seen_samples;
	uint32_t max_us;
} st;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void record_latency(uint64_t us)
{
	uint32_t v = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	size_t slot;

	if (v > st.max_us)
		st.max_us = v;
	st.seen_samples++;
	if (st.n_samples < MAX_SAMPLES) {
		st.samples[st.n_samples++] = v;
		return;
	}
	/* Reservoir sampling keeps every answer equally likely to count. */
	slot = (size_t)(random() % st.seen_samples);
	if (slot < MAX_SAMPLES)
		st.samples[slot] = v;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted samples, in ms. */
static double percentile_ms(double p)
{
	size_t rank;

	if (!st.n_samples)
		return 0;
	rank = (size_t)ceil(p / 100.0 * (double)st.n_samples);
	if (rank < 1)
		rank = 1;
	return st.samples[rank - 1] / 1000.0;
}

/*
 * libcoap says nothing to the program about retransmissions but logs each
 * one; its log is set to debug and filtered here, to count them.
 */
static void on_log(coap_log_t level, const char *message)
{
	if (strstr(message, ": retransmission #"))
		st.retransmissions++;
	if (opt.verbose >= 2 || (opt.verbose && level <= LOG_INFO) ||
	    level <= LOG_ERR)
		fputs(message, stderr);
}

/* ---- requests in flight ----------------------------------------------- */

enum kind { K_AUTH, K_PUBLISH };

struct pending {
	bool used, done, nacked, non;
	enum kind kind;
	struct device *dev;
	coap_session_t *session;
	uint8_t token[8];
	size_t token_len;
	uint64_t t_start, deadline;	/* microseconds */
	/* publish */
	unsigned long n;
	uint64_t seq;
	unsigned int generation;
	bool retried;
	/* the answer */
	coap_nack_reason_t reason;
	coap_pdu_code_t code;
	uint8_t msgid[8];
	size_t msgid_len;
	uint8_t *data;		/* /auth answers only */
	size_t data_len;
};

static struct pending pending[MAX_PENDING];
static size_t n_pending;

static struct pending *find_pending(coap_session_t *s, coap_bin_const_t tok)
{
	for (size_t i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &pending[i];

		if (p->used && !p->done && p->session == s &&
		    p->token_len == tok.length &&
		    !memcmp(p->token, tok.s, tok.length))
			return p;
	}
	return NULL;
}

static struct pending *new_pending(void)
{
	for (size_t i = 0; i < MAX_PENDING; i++) {
		if (!pending[i].used) {
			memset(&pending[i], 0, sizeof(pending[i]));
			pending[i].used = true;
			n_pending++;
			return &pending[i];
		}
	}
	return NULL;
}

static void free_pending(struct pending *p)
{
	free(p->data);
	p->data = NULL;
	p->used = false;
	n_pending--;
}

static coap_response_t on_response(coap_session_t *session,
				   const coap_pdu_t *sent,
				   const coap_pdu_t *received,
				   const coap_mid_t mid)
{
	struct pending *p = find_pending(session, coap_pdu_get_token(received));
	coap_opt_iterator_t oi;
	const uint8_t *data;
	coap_opt_t *o;
	size_t len;

	if (!p)
		return COAP_RESPONSE_OK;	/* late or not ours */
	p->code = coap_pdu_get_code(received);
	if (p->kind == K_AUTH && coap_get_data(received, &len, &data)) {
		p->data = malloc(len + 1);
		if (p->data) {
			memcpy(p->data, data, len);
			p->data[len] = '\0';
			p->data_len = len;
		}
	}
	o = coap_check_option(received, COAP_OPT_MESSAGE_ID, &oi);
	if (o && coap_opt_length(o) <= sizeof(p->msgid)) {
		p->msgid_len = coap_opt_length(o);
		memcpy(p->msgid, coap_opt_value(o), p->msgid_len);
	}
	p->done = true;
	return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
		    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	struct pending *p = find_pending(session, coap_pdu_get_token(sent));

	if (!p)
		return;
	p->nacked = p->done = true;
	p->reason = reason;
}

static const char *nack_name(coap_nack_reason_t r)
{
	switch (r) {
	case COAP_NACK_TOO_MANY_RETRIES: return "no answer after retransmissions";
	case COAP_NACK_NOT_DELIVERABLE: return "not deliverable";
	case COAP_NACK_RST: return "reset by the gateway";
	case COAP_NACK_ICMP_ISSUE: return "ICMP error (port unreachable?)";
	default: return "failed";
	}
}

/*
 * The longest a CON can be in flight before libcoap gives up:
 * ACK_TIMEOUT * ACK_RANDOM_FACTOR * (2^(MAX_RETRANSMIT + 1) - 1), plus a
 * margin for a late answer. Only a safety net: libcoap's NACK comes first.
 */
static uint64_t con_wait_us(void)
{
	double s = opt.ack_timeout * 1.5 *
		   (double)((2u << opt.max_retransmit) - 1);

	return (uint64_t)((s + 5.0) * 1e6);
}

/* Start a request PDU with a fresh token and a pending entry for it. */
static coap_pdu_t *new_request(struct device *d, coap_pdu_type_t type,
			       enum kind kind, struct pending **pp)
{
	coap_pdu_t *pdu;
	struct pending *p = new_pending();

	if (!p)
		return NULL;
	pdu = coap_new_pdu(type, COAP_REQUEST_CODE_POST, d->session);
	if (!pdu) {
		free_pending(p);
		return NULL;
	}
	coap_session_new_token(d->session, &p->token_len, p->token);
	if (!coap_add_token(pdu, p->token_len, p->token)) {
		coap_delete_pdu(pdu);
		free_pending(p);
		return NULL;
	}
	p->kind = kind;
	p->dev = d;
	p->session = d->session;
	p->non = type == COAP_MESSAGE_NON;
	*pp = p;
	return pdu;
}

/* Send it; the answer lands in p. */
static int send_request(coap_pdu_t *pdu, struct pending *p, uint64_t t_start)
{
	p->t_start = t_start;
	p->deadline = now_us() + (p->non ? NON_WAIT_MS * 1000ULL : con_wait_us());
	if (coap_send(p->session, pdu) == COAP_INVALID_MID)
		return -EIO;
	return 0;
}

/* Let libcoap work for up to ms; then time out what waited too long. */
static void io_wait(coap_context_t *ctx, uint64_t ms)
{
	uint64_t t;

	coap_io_process(ctx, ms ? (uint32_t)ms : COAP_IO_NO_WAIT);
	t = now_us();
	for (size_t i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &pending[i];

		if (p->used && !p->done && t >= p->deadline)
			p->done = true;	/* no code, not nacked: no answer */
	}
}

static void print_code(FILE *f, coap_pdu_code_t code)
{
	fprintf(f, "%d.%02d", COAP_CODE_CLASS(code), COAP_CODE_DETAIL(code));
}

/* ---- /auth ------------------------------------------------------------ */

static void short_token(const char *token, char *out, size_t cap)
{
	snprintf(out, cap, "%.*s…", TOKEN_SHORT, token);
}

/* The request body: fields as JSON or CBOR (a map of text strings). */
static int auth_body(const struct coap_proto_field *f, size_t nf,
		     const char *sign, uint8_t **out, size_t *len)
{
	if (opt.auth_format == AUTH_JSON) {
		struct json_object *req = json_object_new_object();
		const char *s;

		if (!req)
			return -ENOMEM;
		for (size_t i = 0; i < nf; i++)
			json_object_object_add(req, f[i].name,
					       json_object_new_string(f[i].value));
		json_object_object_add(req, "signmethod",
				       json_object_new_string(opt.signmethod));
		json_object_object_add(req, "sign", json_object_new_string(sign));
		s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
		*out = (uint8_t *)strdup(s ? s : "");
		*len = s ? strlen(s) : 0;
		json_object_put(req);
	} else {
		cbor_item_t *map = cbor_new_definite_map(nf + 2);
		size_t size;
		bool ok = map;

		for (size_t i = 0; ok && i < nf + 2; i++) {
			const char *k = i < nf ? f[i].name :
					i == nf ? "signmethod" : "sign";
			const char *v = i < nf ? f[i].value :
					i == nf ? opt.signmethod : sign;
			cbor_item_t *ck = cbor_build_string(k);
			cbor_item_t *cv = cbor_build_string(v);

			ok = ck && cv && cbor_map_add(map, (struct cbor_pair){
				.key = ck, .value = cv });
			if (ck)
				cbor_decref(&ck);
			if (cv)
				cbor_decref(&cv);
		}
		*out = NULL;
		*len = ok ? cbor_serialize_alloc(map, out, &size) : 0;
		if (map)
			cbor_decref(&map);
		if (!*len) {
			free(*out);
			*out = NULL;
		}
	}
	return *out ? 0 : -ENOMEM;
}

/* A JSON or CBOR 2.05 payload into g (key not yet derived). */
static int parse_grant(const uint8_t *data, size_t len, struct grant *g)
{
	const char *token = NULL, *random = NULL;
	size_t token_len = 0, random_len = 0;
	int64_t seq_offset = -1;
	struct json_object *j = NULL, *v;
	cbor_item_t *c = NULL;
	int ret = -EBADMSG;

	if (!data)
		return ret;
	if (opt.auth_format == AUTH_JSON) {
		j = json_tokener_parse((const char *)data);
		if (!j || !json_object_is_type(j, json_type_object))
			goto out;
		if (json_object_object_get_ex(j, "token", &v) &&
		    json_object_is_type(v, json_type_string)) {
			token = json_object_get_string(v);
			token_len = json_object_get_string_len(v);
		}
		if (json_object_object_get_ex(j, "random", &v) &&
		    json_object_is_type(v, json_type_string)) {
			random = json_object_get_string(v);
			random_len = json_object_get_string_len(v);
		}
		if (json_object_object_get_ex(j, "seqOffset", &v) &&
		    json_object_is_type(v, json_type_int))
			seq_offset = json_object_get_int64(v);
	} else {
		struct cbor_load_result res;
		struct cbor_pair *pairs;

		c = cbor_load(data, len, &res);
		if (!c || res.error.code != CBOR_ERR_NONE || res.read != len ||
		    !cbor_isa_map(c) || !cbor_map_is_definite(c))
			goto out;
		pairs = cbor_map_handle(c);
		for (size_t i = 0; i < cbor_map_size(c); i++) {
			cbor_item_t *k = pairs[i].key, *val = pairs[i].value;
			const char *name;
			size_t nlen;

			if (!cbor_isa_string(k) || !cbor_string_is_definite(k))
				continue;
			name = (const char *)cbor_string_handle(k);
			nlen = cbor_string_length(k);
			if (cbor_isa_string(val) && cbor_string_is_definite(val)) {
				if (nlen == 5 && !memcmp(name, "token", 5)) {
					token = (const char *)cbor_string_handle(val);
					token_len = cbor_string_length(val);
				} else if (nlen == 6 && !memcmp(name, "random", 6)) {
					random = (const char *)cbor_string_handle(val);
					random_len = cbor_string_length(val);
				}
			} else if (cbor_isa_uint(val) && nlen == 9 &&
				   !memcmp(name, "seqOffset", 9) &&
				   cbor_get_int(val) <= COAP_PROTO_SEQ_MAX) {
				seq_offset = (int64_t)cbor_get_int(val);
			}
		}
	}
	if (!token || token_len < 1 || token_len > MAX_AUTH_TOKEN ||
	    memchr(token, '\0', token_len))
		goto out;
	/* In DTLS mode the token is all there is (PROTOCOL.md). */
	if (opt.dtls) {
		random = "";
		random_len = 0;
		seq_offset = 0;
	} else if (!random || random_len < 1 ||
		   random_len >= sizeof(g->random) ||
		   memchr(random, '\0', random_len) || seq_offset < 0) {
		goto out;
	}
	memcpy(g->token, token, token_len);
	g->token[token_len] = '\0';
	memcpy(g->random, random, random_len);
	g->random[random_len] = '\0';
	g->seq_offset = (uint64_t)seq_offset;
	ret = 0;
out:
	json_object_put(j);
	if (c)
		cbor_decref(&c);
	return ret;
}

/*
 * POST /auth for d and wait for the answer. Returns 0 (d->grant filled,
 * key derived), EXIT_REFUSED when the gateway answered with an error code,
 * EXIT_FAIL otherwise; each printed.
 */
static int do_auth(coap_context_t *ctx, struct device *d)
{
	char client_id[2 * IDENTITY_MAX + 2], seq[24], content[1024];
	char sign[COAP_PROTO_SIGN_HEX_MAX + 1];
	struct coap_proto_field f[6];
	size_t nf = 0, body_len;
	unsigned int cf = opt.auth_format == AUTH_CBOR ? CF_CBOR : CF_JSON;
	uint8_t *body = NULL, cfb[4];
	struct pending *p = NULL;
	coap_pdu_t *pdu;
	uint32_t r;
	int ret;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL);
	snprintf(seq, sizeof(seq), "%u", r % 100000);
	snprintf(client_id, sizeof(client_id), "%s%c%s", d->pk,
		 opt.client_id_amp ? '&' : '.', d->dn);
	f[nf++] = (struct coap_proto_field){ "productKey", d->pk };
	f[nf++] = (struct coap_proto_field){ "deviceName", d->dn };
	f[nf++] = (struct coap_proto_field){ "clientId", client_id };
	/* Inside DTLS: no seq, no cipher (PROTOCOL.md). */
	if (!opt.dtls)
		f[nf++] = (struct coap_proto_field){ "seq", seq };
	if (!opt.dtls && opt.cipher != COAP_CIPHER_AES_128_CBC)
		f[nf++] = (struct coap_proto_field){
			"cipher", coap_proto_cipher_name(opt.cipher) };
	if (opt.ack_mode)
		f[nf++] = (struct coap_proto_field){ "ackMode", opt.ack_mode };
	if (coap_proto_sign_content(f, nf, content, sizeof(content)) < 0 ||
	    coap_proto_sign_hex(opt.signmethod, d->secret, content, sign,
				sizeof(sign))) {
		fprintf(stderr, "coap-device: %s/%s: cannot compute the sign\n",
			d->pk, d->dn);
		return EXIT_FAIL;
	}
	explicit_bzero(content, sizeof(content));

	pdu = auth_body(f, nf, sign, &body, &body_len) ? NULL :
	      new_request(d, COAP_MESSAGE_CON, K_AUTH, &p);
	if (!pdu ||
	    !coap_add_option(pdu, COAP_OPTION_URI_PATH, 4,
			     (const uint8_t *)"auth") ||
	    !coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
			     coap_encode_var_safe(cfb, sizeof(cfb), cf), cfb) ||
	    !coap_add_option(pdu, COAP_OPTION_ACCEPT,
			     coap_encode_var_safe(cfb, sizeof(cfb), cf), cfb) ||
	    !coap_add_data(pdu, body_len, body)) {
		if (pdu)
			coap_delete_pdu(pdu);
		if (p)
			free_pending(p);
		free(body);
		fprintf(stderr, "coap-device: cannot build the /auth request\n");
		return EXIT_FAIL;
	}
	free(body);
	if (send_request(pdu, p, now_us())) {
		free_pending(p);
		fprintf(stderr, "auth %s/%s: send failed\n", d->pk, d->dn);
		return EXIT_FAIL;
	}
	while (!p->done)
		io_wait(ctx, 100);

	if (p->nacked || !p->code) {
		printf("auth %s/%s: %s\n", d->pk, d->dn,
		       p->nacked ? nack_name(p->reason) : "no answer");
		ret = EXIT_FAIL;
	} else if (p->code != COAP_RESPONSE_CODE_CONTENT) {
		printf("auth %s/%s: ", d->pk, d->dn);
		print_code(stdout, p->code);
		printf("%s\n", p->code == COAP_RESPONSE_CODE_UNAUTHORIZED ?
		       " Unauthorized" : "");
		ret = EXIT_REFUSED;
	} else if (parse_grant(p->data, p->data_len, &d->grant)) {
		printf("auth %s/%s: 2.05 with an unexpected payload (%zu bytes)\n",
		       d->pk, d->dn, p->data_len);
		ret = EXIT_FAIL;
	} else if (!opt.dtls &&
		   coap_proto_session_key(d->secret, d->grant.random,
					  d->grant.key)) {
		fprintf(stderr, "coap-device: cannot derive the session key\n");
		ret = EXIT_FAIL;
	} else {
		char tok[TOKEN_SHORT + 8];

		d->authed = true;
		d->generation++;
		d->next_seq = d->grant.seq_offset;
		short_token(d->grant.token, tok, sizeof(tok));
		if (!opt.quiet && opt.dtls)
			printf("auth %s/%s: 2.05 token %s (DTLS, %s)\n", d->pk,
			       d->dn, tok, opt.dtls == DTLS_PSK ? "PSK" :
			       "certificate");
		else if (!opt.quiet)
			printf("auth %s/%s: 2.05 token %s random %s seqOffset %"
			       PRIu64 " cipher %s\n", d->pk, d->dn, tok,
			       d->grant.random, d->grant.seq_offset,
			       coap_proto_cipher_name(opt.cipher));
		ret = 0;
	}
	if (ret) {
		d->authed = false;
		st.auth_failed++;
	}
	if (ret == EXIT_REFUSED)
		st.refused = true;
	else if (ret)
		st.unreachable = true;
	free_pending(p);
	return ret;
}

/* ---- publish ---------------------------------------------------------- */

/* TEMPLATE with {n}, {seq}, {pk} and {dn} replaced; -ENOSPC if too long. */
static int expand(const char *tmpl, const struct device *d, unsigned long n,
		  uint64_t seq, char *out, size_t cap)
{
	size_t len = 0;

	while (*tmpl) {
		char num[32];
		const char *add = num;
		size_t alen;

		if (!strncmp(tmpl, "{n}", 3)) {
			snprintf(num, sizeof(num), "%lu", n);
			tmpl += 3;
		} else if (!strncmp(tmpl, "{seq}", 5)) {
			snprintf(num, sizeof(num), "%" PRIu64, seq);
			tmpl += 5;
		} else if (!strncmp(tmpl, "{pk}", 4)) {
			add = d->pk;
			tmpl += 4;
		} else if (!strncmp(tmpl, "{dn}", 4)) {
			add = d->dn;
			tmpl += 4;
		} else {
			num[0] = *tmpl++;
			num[1] = '\0';
		}
		alen = strlen(add);
		if (len + alen >= cap)
			return -ENOSPC;
		memcpy(out + len, add, alen);
		len += alen;
	}
	out[len] = '\0';
	return (int)len;
}

/*
 * Begin publish number n of d (seq: the device's next). The answer lands
 * in a pending entry; 0, or a negative errno when it could not be sent.
 */
static int start_publish(struct device *d, unsigned long n, bool retried,
			 uint64_t t_start)
{
	uint8_t seq_block[COAP_PROTO_BLOCK];
	uint8_t cipher[COAP_MAX_MESSAGE + COAP_PROTO_BLOCK];
	char plain[COAP_MAX_MESSAGE + 1], topic[COAP_MAX_MESSAGE + 1];
	uint64_t seq = d->next_seq;
	struct pending *p;
	const char *s, *e;
	coap_pdu_t *pdu;
	int clen, len;

	len = expand(opt.payload, d, n, seq, plain, sizeof(plain));
	if (len < 0 || len > COAP_MAX_MESSAGE - 256 ||
	    expand(opt.topic, d, n, seq, topic, sizeof(topic)) < 0)
		return -EMSGSIZE;
	if (opt.dtls) {
		/* DTLS protects the payload: plaintext, no seq option. */
		memcpy(cipher, plain, (size_t)len);
		clen = len;
	} else {
		if (coap_proto_seq_encrypt(d->grant.key, seq, seq_block))
			return -ERANGE;
		clen = coap_proto_payload_encrypt(opt.cipher, d->grant.key,
						  seq_block, false,
						  (const uint8_t *)plain,
						  (size_t)len, cipher,
						  sizeof(cipher));
		if (clen < 0)
			return clen;
	}

	pdu = new_request(d, opt.non ? COAP_MESSAGE_NON : COAP_MESSAGE_CON,
			  K_PUBLISH, &p);
	if (!pdu)
		return -ENOBUFS;
	if (!coap_add_option(pdu, COAP_OPTION_URI_PATH, 5,
			     (const uint8_t *)"topic"))
		goto nospc;
	for (s = topic; *s; s = e) {
		while (*s == '/')
			s++;
		e = strchrnul(s, '/');
		if (e > s && !coap_add_option(pdu, COAP_OPTION_URI_PATH,
					      (size_t)(e - s),
					      (const uint8_t *)s))
			goto nospc;
	}
	if (!coap_add_option(pdu, opt.token_option, strlen(d->grant.token),
			     (const uint8_t *)d->grant.token) ||
	    (!opt.dtls &&
	     !coap_add_option(pdu, COAP_OPT_SEQ, sizeof(seq_block), seq_block)) ||
	    (clen > 0 && !coap_add_data(pdu, (size_t)clen, cipher)))
		goto nospc;
	p->n = n;
	p->seq = seq;
	p->generation = d->generation;
	p->retried = retried;
	d->next_seq++;
	if (send_request(pdu, p, t_start)) {
		free_pending(p);
		return -EIO;
	}
	return 0;
nospc:
	coap_delete_pdu(pdu);
	free_pending(p);
	return -EMSGSIZE;
}

static void print_publish(const struct pending *p, const char *what)
{
	if (!opt.quiet)
		printf("publish %s/%s #%lu seq %" PRIu64 ": %s\n", p->dev->pk,
		       p->dev->dn, p->n, p->seq, what);
}

static void fail_local(struct device *d, unsigned long n, int err)
{
	fprintf(stderr, "coap-device: %s/%s: cannot send publish %lu: %s\n",
		d->pk, d->dn, n, err == -EMSGSIZE ?
		"payload or topic too long" : strerror(-err));
	st.local_errors++;
	st.unreachable = true;
}

/* An answered (or given up) publish: count it, print it, retry on 4.01. */
static void finish_publish(coap_context_t *ctx, struct pending *p)
{
	struct device *d = p->dev;
	char line[128];
	int err;

	if (p->nacked || !p->code) {
		if (!p->nacked && p->non) {
			print_publish(p, "sent (NON, no answer)");
			st.unanswered++;
			return;
		}
		print_publish(p, p->nacked ? nack_name(p->reason) : "no answer");
		st.no_answer++;
		st.unreachable = true;
		return;
	}
	if (p->code == COAP_RESPONSE_CODE_UNAUTHORIZED && !p->retried) {
		print_publish(p, p->generation == d->generation ?
			      "4.01, authenticating again" :
			      "4.01, retrying with the new token");
		if (p->generation == d->generation) {
			st.reauths++;
			if (do_auth(ctx, d)) {
				/* do_auth printed why; the message is lost. */
				st.failed_code[COAP_RESPONSE_CODE_UNAUTHORIZED]++;
				return;
			}
		}
		err = start_publish(d, p->n, true, p->t_start);
		if (err)
			fail_local(d, p->n, err);
		return;
	}
	/*
	 * ackMode 1: libcoap took the empty ACK and waited for the separate
	 * 2.05; that is the result only with its 2090.
	 */
	if (p->code == COAP_RESPONSE_CODE_CONTENT &&
	    (p->msgid_len == 8 || !opt.ack_mode || strcmp(opt.ack_mode, "1"))) {
		uint64_t us = now_us() - p->t_start;
		int off;

		record_latency(us);
		st.ok++;
		off = snprintf(line, sizeof(line), "2.05");
		if (p->msgid_len) {
			off += snprintf(line + off, sizeof(line) - off, " id ");
			for (size_t i = 0; i < p->msgid_len; i++)
				off += snprintf(line + off, sizeof(line) - off,
						"%02x", p->msgid[i]);
		}
		snprintf(line + off, sizeof(line) - off, " %.3f ms", us / 1000.0);
	} else {
		st.failed_code[p->code & 0xff]++;
		st.refused = true;
		snprintf(line, sizeof(line), "%d.%02d", COAP_CODE_CLASS(p->code),
			 COAP_CODE_DETAIL(p->code));
	}
	print_publish(p, line);
}

/* Every finished publish, in table order; returns how many. */
static unsigned int reap(coap_context_t *ctx)
{
	unsigned int n = 0;

	for (size_t i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &pending[i];

		if (p->used && p->done && p->kind == K_PUBLISH) {
			struct pending copy = *p;

			/* finish_publish may start new requests: free first. */
			p->data = NULL;
			free_pending(p);
			finish_publish(ctx, &copy);
			n++;
		}
	}
	return n;
}

/* The next device, round robin, that has a grant and messages left. */
static struct device *next_device(size_t *next, unsigned long messages)
{
	for (size_t tried = 0; tried < n_devices; tried++) {
		struct device *d = &devices[*next];

		*next = (*next + 1) % n_devices;
		if (d->authed && (!messages || d->started < messages))
			return d;
	}
	return NULL;
}

/*
 * The publishing loop over all devices, round robin: closed loop (the next
 * publish when none is in flight, after --interval) or, with --rate, open
 * loop on a fixed schedule.
 */
static void publish_all(coap_context_t *ctx, unsigned long messages)
{
	uint64_t start = now_us(), next_due = start, limit = 0, t;
	unsigned long scheduled = 0;
	size_t next = 0;
	bool sending = true;

	if (opt.duration > 0)
		limit = start + (uint64_t)(opt.duration * 1e6);
	for (;;) {
		t = now_us();
		if (sending && limit && t >= limit)
			sending = false;
		if (sending && t >= next_due && n_pending < MAX_PENDING &&
		    (opt.rate > 0 || !n_pending)) {
			struct device *d = next_device(&next, messages);
			int err;

			if (!d) {
				sending = false;
				continue;
			}
			d->started++;
			st.sent++;
			/* Open loop: latency from the schedule, not from when
			 * we got round to it. */
			err = start_publish(d, d->started, false,
					    opt.rate > 0 ? next_due : t);
			if (err)
				fail_local(d, d->started, err);
			scheduled++;
			if (opt.rate > 0)
				next_due = start + (uint64_t)((double)scheduled *
							      1e6 / opt.rate);
			continue;
		}
		if (!sending && !n_pending)
			break;
		/* Wait for answers, or until the next publish is due. */
		io_wait(ctx, sending && next_due > t &&
			(opt.rate > 0 || !n_pending) ?
			(next_due - t + 999) / 1000 : 50);
		if (reap(ctx) && opt.rate <= 0 && !n_pending)
			next_due = now_us() + opt.interval_ms * 1000ULL;
	}
}

static void print_summary(uint64_t elapsed_us)
{
	unsigned long failed = st.no_answer + st.local_errors;
	bool any = false;

	for (size_t c = 0; c < 256; c++)
		failed += st.failed_code[c];
	printf("summary: %zu devices", n_devices);
	if (st.auth_failed)
		printf(" (%lu /auth failed)", st.auth_failed);
	printf(", %lu sent, %lu ok, %lu failed, %lu unanswered, %lu re-auths, %lu retransmissions\n",
	       st.sent, st.ok, failed, st.unanswered, st.reauths,
	       st.retransmissions);
	if (failed) {
		printf("failed:");
		for (size_t c = 0; c < 256; c++) {
			if (!st.failed_code[c])
				continue;
			printf("%s %d.%02zu x%lu", any ? "," : "", (int)(c >> 5),
			       c & 31, st.failed_code[c]);
			any = true;
		}
		if (st.no_answer)
			printf("%s no answer x%lu", any ? "," : "", st.no_answer);
		if (st.local_errors)
			printf("%s not sent x%lu", any || st.no_answer ? "," : "",
			       st.local_errors);
		putchar('\n');
	}
	qsort(st.samples, st.n_samples, sizeof(*st.samples), cmp_u32);
	printf("latency: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%zu answers)\n",
	       percentile_ms(50), percentile_ms(99), st.max_us / 1000.0,
	       st.seen_samples);
	printf("time: %.3f s, %.1f messages/s\n", elapsed_us / 1e6,
	       elapsed_us ? st.sent * 1e6 / (double)elapsed_us : 0.0);
}

/* ---- setup ------------------------------------------------------------ */

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("coap-device: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'coap-device --help'.\n", stderr);
	return EXIT_USAGE;
}

static bool identity_ok(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > IDENTITY_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_@.:", *s))
			return false;
	return true;
}

static bool secret_ok(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > SECRET_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/*
 * One line of at most cap - 1 bytes, without its newline: 1, 0 at the end
 * of the file, -E2BIG for a longer line, -EILSEQ for a NUL byte, -EIO.
 * (getline would follow /dev/zero until memory ran out.)
 */
static int read_line(FILE *f, char *buf, size_t cap)
{
	size_t len = 0;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (!ch)
			return -EILSEQ;
		if (len + 1 >= cap)
			return -E2BIG;
		buf[len++] = (char)ch;
	}
	buf[len] = '\0';
	if (ferror(f))
		return -EIO;
	return ch == EOF && !len ? 0 : 1;
}

static const char *line_error(int err)
{
	return err == -E2BIG ? "line too long" :
	       err == -EILSEQ ? "a NUL byte" : strerror(errno ? errno : EIO);
}

/* The first line of path, blanks at its end removed. */
static char *read_secret(const char *path)
{
	char line[SECRET_MAX + 8];
	FILE *f = fopen(path, "r");
	char *out = NULL;
	size_t len;
	int err;

	if (!f) {
		usage_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	err = read_line(f, line, sizeof(line));
	fclose(f);
	if (err <= 0) {
		usage_error("%s: %s", path, err ? line_error(err) : "empty");
		return NULL;
	}
	len = strlen(line);
	while (len && isspace((unsigned char)line[len - 1]))
		line[--len] = '\0';
	out = strdup(line);
	explicit_bzero(line, sizeof(line));
	if (!out)
		usage_error("out of memory");
	return out;
}

static int add_device(const char *pk, const char *dn, const char *secret)
{
	struct device *d;

	if (n_devices == MAX_DEVICES)
		return -ENOSPC;
	d = &devices[n_devices];
	memset(d, 0, sizeof(*d));
	snprintf(d->pk, sizeof(d->pk), "%s", pk);
	snprintf(d->dn, sizeof(d->dn), "%s", dn);
	d->secret = strdup(secret);
	if (!d->secret)
		return -ENOMEM;
	n_devices++;
	return 0;
}

/*
 * --credentials: "PK/DN SECRET" per line. Returns 0 or EXIT_USAGE (the
 * file and line named).
 */
static int read_credentials(const char *path, unsigned long want)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned long lineno = 0;
	int ret = 0, err;

	if (!f)
		return usage_error("%s: %s", path, strerror(errno));
	while (!want || n_devices < want) {
		char *p = line, *slash, *id_end, *secret, *end;

		err = read_line(f, line, sizeof(line));
		if (!err)
			break;
		lineno++;
		if (err < 0) {
			ret = usage_error("%s:%lu: %s", path, lineno,
					  line_error(err));
			break;
		}
		while (isblank((unsigned char)*p))
			p++;
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*p || *p == '#')
			continue;
		id_end = p + strcspn(p, " \t");
		secret = id_end;
		while (isblank((unsigned char)*secret))
			secret++;
		*id_end = '\0';
		slash = strchr(p, '/');
		if (!slash || !*secret) {
			ret = usage_error("%s:%lu: not \"PK/DN SECRET\"", path,
					  lineno);
			break;
		}
		*slash = '\0';
		if (!identity_ok(p) || !identity_ok(slash + 1)) {
			ret = usage_error("%s:%lu: a productKey or deviceName is 1..64 of letters, digits and -_@.:",
					  path, lineno);
			break;
		}
		if (!secret_ok(secret)) {
			ret = usage_error("%s:%lu: a secret is 1..%d printable ASCII characters",
					  path, lineno, SECRET_MAX);
			break;
		}
		if (add_device(p, slash + 1, secret)) {
			ret = usage_error("%s: more than %d devices", path,
					  MAX_DEVICES);
			break;
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (!ret && !n_devices)
		ret = usage_error("%s: no devices in the file", path);
	if (!ret && want && n_devices < want)
		ret = usage_error("%s: --count %lu but only %zu devices in the file",
				  path, want, n_devices);
	return ret;
}

static int resolve(const char *host, const char *port, coap_address_t *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	int err = getaddrinfo(host, port, &hints, &res);

	if (err) {
		fprintf(stderr, "coap-device: %s: %s\n", host, gai_strerror(err));
		return -1;
	}
	coap_address_init(addr);
	addr->size = res->ai_addrlen;
	memcpy(&addr->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/*
 * Certificate mode: the name in the gateway's certificate (libcoap hands
 * over its first DNS subjectAltName, else its CN) must be the one asked
 * for; the chain itself was verified against --ca by then.
 */
static int check_name(const char *cn, const uint8_t *asn1, size_t asn1_len,
		      coap_session_t *s, unsigned int depth, int validated,
		      void *arg)
{
	const char *want = arg;

	(void)asn1;
	(void)asn1_len;
	(void)s;
	if (depth > 0)
		return validated;
	if (!validated || !cn || strcasecmp(cn, want)) {
		fprintf(stderr, "coap-device: the gateway's certificate is for '%s', not '%s'\n",
			cn ? cn : "?", want);
		return 0;
	}
	return 1;
}

/* A DTLS session in certificate (verified chain and name) or PSK mode. */
static coap_session_t *open_dtls(coap_context_t *ctx, const coap_address_t *dst,
				 struct device *d)
{
	char identity[3 * IDENTITY_MAX], key[COAP_PROTO_SIGN_HEX_MAX + 1];
	coap_session_t *s;

	if (opt.dtls == DTLS_PSK) {
		coap_dtls_cpsk_t psk = {
			.version = COAP_DTLS_CPSK_SETUP_VERSION,
		};

		if (coap_proto_psk_identity(d->pk, d->dn, identity,
					    sizeof(identity)) ||
		    coap_proto_psk(d->pk, d->dn, d->secret, key, sizeof(key)))
			return NULL;
		psk.psk_info.identity.s = (const uint8_t *)identity;
		psk.psk_info.identity.length = strlen(identity);
		psk.psk_info.key.s = (const uint8_t *)key;
		psk.psk_info.key.length = strlen(key);
		/* libcoap copies both. */
		s = coap_new_client_session_psk2(ctx, NULL, dst, COAP_PROTO_DTLS,
						 &psk);
		explicit_bzero(key, sizeof(key));
		return s;
	} else {
		coap_dtls_pki_t pki = {
			.version = COAP_DTLS_PKI_SETUP_VERSION,
			.verify_peer_cert = 1,
			.cert_chain_validation = 1,
			.cert_chain_verify_depth = 3,
			.validate_cn_call_back = check_name,
			.cn_call_back_arg = (void *)opt.server_name,
			.client_sni = (char *)opt.server_name,
		};

		/* The CA that signed the gateway; devices have no certificate. */
		if (!coap_context_set_pki_root_cas(ctx, opt.ca, NULL))
			return NULL;
		pki.pki_key.key_type = COAP_PKI_KEY_PEM;
		return coap_new_client_session_pki(ctx, NULL, dst,
						   COAP_PROTO_DTLS, &pki);
	}
}

/*
 * The device's transport to the gateway: a libcoap client session over
 * plain UDP (symmetric mode) or DTLS, with RFC 7252's transmission
 * parameters.
 */
static int open_transport(coap_context_t *ctx, const coap_address_t *dst,
			  struct device *d)
{
	coap_fixed_point_t ack = {
		(uint16_t)opt.ack_timeout,
		(uint16_t)((opt.ack_timeout - (int)opt.ack_timeout) * 1000 + 0.5),
	};

	d->session = opt.dtls ? open_dtls(ctx, dst, d) :
		     coap_new_client_session(ctx, NULL, dst, COAP_PROTO_UDP);
	if (!d->session)
		return -1;
	coap_session_set_ack_timeout(d->session, ack);
	coap_session_set_max_retransmit(d->session, opt.max_retransmit);
	return 0;
}

/* Enough file descriptors for one socket per device (plus a margin). */
static int check_fd_limit(size_t n)
{
	struct rlimit rl;
	rlim_t need = n + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max >= need) {
		rl.rlim_cur = need;
		if (!setrlimit(RLIMIT_NOFILE, &rl))
			return 0;
	}
	fprintf(stderr, "coap-device: %zu devices need %llu file descriptors; the limit is %llu (ulimit -n)\n",
		n, (unsigned long long)need, (unsigned long long)rl.rlim_max);
	return -1;
}

/* strtod, whole string, finite, in (min, max]. */
static bool parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max,
			unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return false;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

enum {
	OPT_PK = 256, OPT_DN, OPT_SECRET, OPT_SECRET_FILE, OPT_CREDENTIALS,
	OPT_COUNT, OPT_SIGNMETHOD, OPT_CIPHER, OPT_AUTH_FORMAT, OPT_CLIENT_ID,
	OPT_TOKEN_OPTION, OPT_TOPIC, OPT_PAYLOAD, OPT_MESSAGES, OPT_DURATION,
	OPT_RATE, OPT_INTERVAL, OPT_NON, OPT_ACK_TIMEOUT, OPT_MAX_RETRANSMIT,
	OPT_ACK_MODE, OPT_DTLS, OPT_CA, OPT_SERVER_NAME,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "pk", required_argument, NULL, OPT_PK },
		{ "dn", required_argument, NULL, OPT_DN },
		{ "secret", required_argument, NULL, OPT_SECRET },
		{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
		{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "signmethod", required_argument, NULL, OPT_SIGNMETHOD },
		{ "cipher", required_argument, NULL, OPT_CIPHER },
		{ "auth-format", required_argument, NULL, OPT_AUTH_FORMAT },
		{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
		{ "token-option", required_argument, NULL, OPT_TOKEN_OPTION },
		{ "topic", required_argument, NULL, OPT_TOPIC },
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "messages", required_argument, NULL, OPT_MESSAGES },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "non", no_argument, NULL, OPT_NON },
		{ "ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT },
		{ "max-retransmit", required_argument, NULL, OPT_MAX_RETRANSMIT },
		{ "ack-mode", required_argument, NULL, OPT_ACK_MODE },
		{ "dtls", required_argument, NULL, OPT_DTLS },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "server-name", required_argument, NULL, OPT_SERVER_NAME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *secret_file = NULL, *credentials = NULL, *cmd;
	char *secret_buf = NULL;
	unsigned long v;
	bool messages_given = false, port_given = false;
	coap_context_t *ctx = NULL;
	coap_address_t dst;
	uint64_t t0;
	size_t i;
	int c, ret;

	/* One line per message, visible as it happens (also in a pipe). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "H:p:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': opt.host = optarg; break;
		case 'p':
			if (!parse_ulong(optarg, 1, 65535, &v))
				return usage_error("bad port '%s' (1..65535)", optarg);
			opt.port = optarg;
			port_given = true;
			break;
		case OPT_PK: opt.pk = optarg; break;
		case OPT_DN: opt.dn = optarg; break;
		case OPT_SECRET: opt.secret = optarg; break;
		case OPT_SECRET_FILE: secret_file = optarg; break;
		case OPT_CREDENTIALS: credentials = optarg; break;
		case OPT_COUNT:
			if (!parse_ulong(optarg, 1, MAX_DEVICES, &opt.count))
				return usage_error("bad count '%s' (1..%d devices)",
						   optarg, MAX_DEVICES);
			break;
		case OPT_SIGNMETHOD:
			if (strcmp(optarg, "hmacmd5") && strcmp(optarg, "hmacsha1") &&
			    strcmp(optarg, "hmacsha256"))
				return usage_error("unknown sign method '%s'", optarg);
			opt.signmethod = optarg;
			break;
		case OPT_CIPHER:
			if (coap_proto_cipher_parse(optarg, &opt.cipher))
				return usage_error("unknown cipher '%s'", optarg);
			break;
		case OPT_AUTH_FORMAT:
			if (!strcmp(optarg, "json"))
				opt.auth_format = AUTH_JSON;
			else if (!strcmp(optarg, "cbor"))
				opt.auth_format = AUTH_CBOR;
			else
				return usage_error("unknown auth format '%s' (json or cbor)",
						   optarg);
			break;
		case OPT_CLIENT_ID:
			if (!strcmp(optarg, "pk.dn"))
				opt.client_id_amp = false;
			else if (!strcmp(optarg, "pk&dn"))
				opt.client_id_amp = true;
			else
				return usage_error("unknown clientId style '%s' (pk.dn or pk&dn)",
						   optarg);
			break;
		case OPT_TOKEN_OPTION:
			if (strcmp(optarg, "2088") && strcmp(optarg, "61"))
				return usage_error("bad token option '%s' (2088 or 61)",
						   optarg);
			opt.token_option = (unsigned int)atoi(optarg);
			break;
		case OPT_TOPIC: opt.topic = optarg; break;
		case OPT_PAYLOAD: opt.payload = optarg; break;
		case OPT_MESSAGES:
			if (!parse_ulong(optarg, 1, MAX_MESSAGES, &opt.messages))
				return usage_error("bad message count '%s' (1..%lu)",
						   optarg, MAX_MESSAGES);
			messages_given = true;
			break;
		case OPT_DURATION:
			if (!parse_double(optarg, 0, MAX_DURATION, &opt.duration))
				return usage_error("bad duration '%s' (seconds, > 0, at most %.0f)",
						   optarg, MAX_DURATION);
			break;
		case OPT_RATE:
			if (!parse_double(optarg, 0, MAX_RATE, &opt.rate))
				return usage_error("bad rate '%s' (messages/s, > 0, at most %.0f)",
						   optarg, MAX_RATE);
			break;
		case OPT_INTERVAL:
			if (!parse_ulong(optarg, 0, 3600000, &opt.interval_ms))
				return usage_error("bad interval '%s' (0..3600000 ms)",
						   optarg);
			break;
		case OPT_NON: opt.non = true; break;
		case OPT_ACK_TIMEOUT:
			if (!parse_double(optarg, 0.999, 60, &opt.ack_timeout))
				return usage_error("bad ack timeout '%s' (1..60 s)",
						   optarg);
			break;
		case OPT_MAX_RETRANSMIT:
			if (!parse_ulong(optarg, 0, 10, &v))
				return usage_error("bad max-retransmit '%s' (0..10)",
						   optarg);
			opt.max_retransmit = (unsigned int)v;
			break;
		case OPT_DTLS:
			if (!strcmp(optarg, "cert"))
				opt.dtls = DTLS_CERT;
			else if (!strcmp(optarg, "psk"))
				opt.dtls = DTLS_PSK;
			else
				return usage_error("bad DTLS mode '%s' (cert or psk)",
						   optarg);
			break;
		case OPT_CA: opt.ca = optarg; break;
		case OPT_SERVER_NAME: opt.server_name = optarg; break;
		case 'q': opt.quiet = true; break;
		case OPT_ACK_MODE:
			if (strcmp(optarg, "0") && strcmp(optarg, "1"))
				return usage_error("bad ack mode '%s' (0 or 1)", optarg);
			opt.ack_mode = optarg;
			break;
		case 'v': opt.verbose++; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'coap-device --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return usage_error("%s", optind >= argc ?
				   "a command is needed: auth, publish or run" :
				   "one command only");
	cmd = argv[optind];
	if (strcmp(cmd, "auth") && strcmp(cmd, "publish") && strcmp(cmd, "run"))
		return usage_error("unknown command '%s'", cmd);
	if (strcmp(cmd, "run") && (messages_given || opt.duration > 0))
		return usage_error("--messages and --duration are for run");
	if (!strcmp(cmd, "auth") && (opt.rate > 0 || opt.interval_ms))
		return usage_error("--rate and --interval are for publish and run");
	if (opt.rate > 0 && opt.interval_ms)
		return usage_error("--rate and --interval exclude each other");
	if (opt.dtls == DTLS_CERT && !opt.ca)
		return usage_error("--dtls cert needs --ca (the gateway's CA)");
	if (opt.dtls != DTLS_CERT && (opt.ca || opt.server_name))
		return usage_error("--ca and --server-name are for --dtls cert");
	if (opt.dtls && !port_given)
		opt.port = "5684";
	if (!opt.server_name)
		opt.server_name = opt.host;
	if (!strcmp(cmd, "publish"))
		opt.messages = 1;
	else if (!messages_given && opt.duration <= 0)
		opt.messages = 1;

	devices = calloc(MAX_DEVICES, sizeof(*devices));
	st.samples = malloc(MAX_SAMPLES * sizeof(*st.samples));
	if (!devices || !st.samples) {
		fprintf(stderr, "coap-device: out of memory\n");
		return EXIT_FAIL;
	}
	if (credentials) {
		if (opt.pk || opt.dn || opt.secret || secret_file)
			return usage_error("--credentials excludes --pk, --dn, --secret and --secret-file");
		ret = read_credentials(credentials, opt.count);
		if (ret)
			return ret;
	} else {
		char dn[IDENTITY_MAX + 16];

		if (!opt.pk || !opt.dn)
			return usage_error("--pk and --dn are required (or --credentials)");
		if (opt.secret && secret_file)
			return usage_error("--secret and --secret-file exclude each other");
		if (secret_file) {
			secret_buf = read_secret(secret_file);
			if (!secret_buf)
				return EXIT_USAGE;
			opt.secret = secret_buf;
		}
		if (!opt.secret)
			return usage_error("a secret is needed: --secret, --secret-file or --credentials");
		if (!secret_ok(opt.secret))
			return usage_error("a secret is 1..%d printable ASCII characters",
					   SECRET_MAX);
		for (v = 1; v <= (opt.count ? opt.count : 1); v++) {
			if (opt.count)
				snprintf(dn, sizeof(dn), "%s-%04lu", opt.dn, v);
			else
				snprintf(dn, sizeof(dn), "%s", opt.dn);
			if (!identity_ok(opt.pk) || !identity_ok(dn))
				return usage_error("%s/%s: a productKey or deviceName is 1..64 of letters, digits and -_@.:",
						   opt.pk, dn);
			if (add_device(opt.pk, dn, opt.secret)) {
				fprintf(stderr, "coap-device: out of memory\n");
				return EXIT_FAIL;
			}
		}
	}
	if (check_fd_limit(n_devices))
		return EXIT_FAIL;

	coap_startup();
	/* Debug, for the retransmission lines; on_log shows what -v asked. */
	coap_set_log_handler(on_log);
	coap_set_show_pdu_output(0);	/* PDU dumps through on_log too */
	coap_set_log_level(LOG_DEBUG);
	ret = EXIT_FAIL;
	if (resolve(opt.host, opt.port, &dst))
		goto out;
	ctx = coap_new_context(NULL);
	if (!ctx) {
		fprintf(stderr, "coap-device: cannot create a libcoap context\n");
		goto out;
	}
	coap_register_response_handler(ctx, on_response);
	coap_register_nack_handler(ctx, on_nack);
	for (i = 0; i < n_devices; i++) {
		if (open_transport(ctx, &dst, &devices[i])) {
			fprintf(stderr, "coap-device: cannot open a session to %s:%s\n",
				opt.host, opt.port);
			goto out;
		}
	}

	for (i = 0; i < n_devices; i++)
		do_auth(ctx, &devices[i]);
	if (strcmp(cmd, "auth")) {
		t0 = now_us();
		publish_all(ctx, opt.messages);
		print_summary(now_us() - t0);
	}
	ret = st.unreachable ? EXIT_FAIL : st.refused ? EXIT_REFUSED : 0;
out:
	fflush(stdout);
	for (i = 0; i < n_devices; i++) {
		if (devices[i].session)
			coap_session_release(devices[i].session);
		explicit_bzero(&devices[i].grant, sizeof(devices[i].grant));
		explicit_bzero(devices[i].secret, strlen(devices[i].secret));
		free(devices[i].secret);
	}
	if (ctx)
		coap_free_context(ctx);
	coap_cleanup();
	if (secret_buf) {
		explicit_bzero(secret_buf, strlen(secret_buf));
		free(secret_buf);
	}
	free(devices);
	free(st.samples);
	return ret;
}
