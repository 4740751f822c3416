// SPDX-License-Identifier: GPL-2.0
/*
 * coap-device: a device of the gateway's protocol (PROTOCOL.md) on libcoap,
 * for operators and tests: /auth, then publishes, symmetric mode (UDP, AES
 * on the payload and on the seq option).
 *
 *   coap-device [OPTIONS] auth|publish|run
 *
 * libcoap does the CoAP messaging (message ids, tokens, CON retransmission
 * with the RFC 7252 defaults); userspace/lib/coap_proto does the protocol's
 * crypto (sign, session key, seq option, payload cipher suites).
 *
 * Exit status: 0 success; 1 usage error; 2 the gateway answered with an
 * error code (printed), or a publish was not acknowledged with 2.05;
 * 3 no answer (timeout, RST, unreachable) or a local failure.
 *
 * Secrets are never printed; tokens are shown as their first 6 characters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <coap3/coap.h>
#include <json-c/json.h>

#include "coap_proto.h"

#define EXIT_USAGE	1
#define EXIT_REFUSED	2
#define EXIT_FAIL	3

#define TOKEN_SHORT	6
#define MAX_AUTH_TOKEN	64
/*
 * How long a NON publish waits for an answer.  coapd answers a NON with a
 * NON 2.05, the kernel fast path does not answer NON at all: an unanswered
 * NON is sent, not failed.
 */
#define NON_WAIT_MS	500
#define CON_WAIT_MS	120000	/* safety net; libcoap gives up after ~93 s */

static const char usage_text[] =
"NAME\n"
"    coap-device - a device of the coap-offload gateway (symmetric mode)\n"
"\n"
"SYNOPSIS\n"
"    coap-device [OPTIONS] auth\n"
"    coap-device [OPTIONS] publish\n"
"    coap-device [OPTIONS] run [--count N]\n"
"\n"
"DESCRIPTION\n"
"    auth     POST /auth (CON, JSON) and print the token (shortened), the\n"
"             random and the seqOffset the gateway returned.\n"
"    publish  auth, then one publish to --topic.\n"
"    run      auth, then --count publishes (seq from seqOffset upward).\n"
"\n"
"    Publishes carry the token in option 2088 and the encrypted seq in\n"
"    option 2089; the payload is encrypted with the session key under the\n"
"    chosen cipher suite. On 4.01 the device authenticates again and\n"
"    retries the message once. One line per message: seq, response code and\n"
"    the gateway's message id (option 2090, hex); then \"N sent, N acked\".\n"
"    A NON publish waits 0.5 s for an answer; none is not an error (the\n"
"    gateway's kernel fast path does not answer NON requests).\n"
"\n"
"OPTIONS\n"
"    -H, --host HOST        gateway host or address (default 127.0.0.1)\n"
"    -p, --port PORT        gateway UDP port (default 5682)\n"
"    --pk PK                productKey (required)\n"
"    --dn DN                deviceName (required)\n"
"    --secret S             deviceSecret\n"
"    --secret-file F        read the deviceSecret from the first line of F\n"
"    --signmethod M         hmacmd5 (default), hmacsha1 or hmacsha256\n"
"    --cipher C             aes-128-cbc (default) or aes-128-ctr (sent as\n"
"                           the \"cipher\" field of /auth)\n"
"    --topic T              default /{pk}/{dn}/user/update\n"
"    --payload TEXT         plaintext to publish; \"{n}\" becomes the message\n"
"                           number (1..N), \"{seq}\" its seq (default\n"
"                           \"hello {n}\")\n"
"    --count N              messages for run (default 1)\n"
"    --non                  publish with NON messages (default CON)\n"
"    --interval MS          wait MS milliseconds between publishes (run)\n"
"    -v, --verbose          libcoap's log to stderr (twice: debug)\n"
"    -h, --help             this text\n"
"\n"
"EXIT STATUS\n"
"    0 success; 1 usage error; 2 the gateway answered with an error code or\n"
"    a publish was not acknowledged; 3 no answer or a local failure.\n"
"\n"
"NOT YET\n"
"    DTLS (port 5684), CBOR payloads, ackMode 1, many devices, rates.\n";

static struct {
	const char *host, *port, *pk, *dn, *secret, *signmethod, *topic;
	const char *payload;
	enum coap_cipher cipher;
	unsigned long count, interval_ms;
	bool non;
	int verbose;
} opt = {
	.host = "127.0.0.1",
	.port = "5682",
	.signmethod = "hmacmd5",
	.payload = "hello {n}",
	.cipher = COAP_CIPHER_AES_128_CBC,
	.count = 1,
};

/* ---- one request, one answer ------------------------------------------ */

/* What the response handler saw for the request in flight. */
static struct {
	uint8_t token[8];
	size_t token_len;
	bool done, nacked;
	coap_nack_reason_t reason;
	coap_pdu_code_t code;
	uint8_t data[COAP_MAX_MESSAGE];
	size_t data_len;
	uint8_t msgid[8];
	size_t msgid_len;
} rq;

static coap_response_t on_response(coap_session_t *session,
				   const coap_pdu_t *sent,
				   const coap_pdu_t *received,
				   const coap_mid_t mid)
{
	coap_bin_const_t tok = coap_pdu_get_token(received);
	coap_opt_iterator_t oi;
	coap_opt_t *o;
	const uint8_t *data;
	size_t len;

	if (rq.done || tok.length != rq.token_len ||
	    memcmp(tok.s, rq.token, rq.token_len))
		return COAP_RESPONSE_OK;	/* late or not ours */
	rq.code = coap_pdu_get_code(received);
	rq.data_len = 0;
	if (coap_get_data(received, &len, &data) && len <= sizeof(rq.data)) {
		memcpy(rq.data, data, len);
		rq.data_len = len;
	}
	rq.msgid_len = 0;
	o = coap_check_option(received, COAP_OPT_MESSAGE_ID, &oi);
	if (o && coap_opt_length(o) <= sizeof(rq.msgid)) {
		rq.msgid_len = coap_opt_length(o);
		memcpy(rq.msgid, coap_opt_value(o), rq.msgid_len);
	}
	rq.done = true;
	return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
		    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	coap_bin_const_t tok = coap_pdu_get_token(sent);

	if (rq.done || tok.length != rq.token_len ||
	    memcmp(tok.s, rq.token, rq.token_len))
		return;
	rq.nacked = true;
	rq.reason = reason;
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Start a request PDU with a fresh token (recorded as the one in flight).
 */
static coap_pdu_t *new_request(coap_session_t *s, coap_pdu_type_t type)
{
	coap_pdu_t *pdu = coap_new_pdu(type, COAP_REQUEST_CODE_POST, s);

	if (!pdu)
		return NULL;
	coap_session_new_token(s, &rq.token_len, rq.token);
	if (!coap_add_token(pdu, rq.token_len, rq.token)) {
		coap_delete_pdu(pdu);
		return NULL;
	}
	return pdu;
}

/*
 * Send and wait for the answer.  Returns 0 when one came (rq.code etc.),
 * -ETIMEDOUT when none did (for NON after NON_WAIT_MS), -EIO otherwise.
 */
static int exchange(coap_context_t *ctx, coap_session_t *s, coap_pdu_t *pdu,
		    bool non)
{
	uint64_t deadline = now_ms() + (non ? NON_WAIT_MS : CON_WAIT_MS);

	rq.done = rq.nacked = false;
	if (coap_send(s, pdu) == COAP_INVALID_MID)
		return -EIO;
	while (!rq.done && !rq.nacked) {
		uint64_t t = now_ms();

		if (t >= deadline)
			return -ETIMEDOUT;
		if (coap_io_process(ctx, (uint32_t)(deadline - t < 200 ?
						    deadline - t : 200)) < 0)
			return -EIO;
	}
	return rq.done ? 0 : -ETIMEDOUT;
}

static void print_code(FILE *f, coap_pdu_code_t code)
{
	fprintf(f, "%d.%02d", COAP_CODE_CLASS(code), COAP_CODE_DETAIL(code));
}

/* ---- /auth ------------------------------------------------------------ */

struct session {
	char token[MAX_AUTH_TOKEN + 1];
	char random[64];
	uint64_t seq_offset;
	uint8_t key[COAP_PROTO_KEY_LEN];
};

static void short_token(const char *token, char *out, size_t cap)
{
	snprintf(out, cap, "%.*s…", TOKEN_SHORT, token);
}

/*
 * POST /auth.  Returns 0 with *ss filled (key derived), EXIT_REFUSED when
 * the gateway answered with an error code (printed), EXIT_FAIL otherwise.
 */
static int do_auth(coap_context_t *ctx, coap_session_t *s, struct session *ss,
		   bool quiet)
{
	char client_id[256], seq[24], content[1024];
	char sign[COAP_PROTO_SIGN_HEX_MAX + 1];
	struct coap_proto_field f[5];
	size_t nf = 0;
	uint32_t r;
	const char *body;
	struct json_object *req, *resp = NULL, *v;
	uint8_t cf[4];
	coap_pdu_t *pdu;
	int ret, err;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL);
	snprintf(seq, sizeof(seq), "%u", r % 100000);
	snprintf(client_id, sizeof(client_id), "%s.%s", opt.pk, opt.dn);
	f[nf++] = (struct coap_proto_field){ "productKey", opt.pk };
	f[nf++] = (struct coap_proto_field){ "deviceName", opt.dn };
	f[nf++] = (struct coap_proto_field){ "clientId", client_id };
	f[nf++] = (struct coap_proto_field){ "seq", seq };
	if (opt.cipher != COAP_CIPHER_AES_128_CBC)
		f[nf++] = (struct coap_proto_field){
			"cipher", coap_proto_cipher_name(opt.cipher) };
	if (coap_proto_sign_content(f, nf, content, sizeof(content)) < 0 ||
	    coap_proto_sign_hex(opt.signmethod, opt.secret, content, sign,
				sizeof(sign))) {
		fprintf(stderr, "coap-device: cannot compute the sign\n");
		return EXIT_FAIL;
	}
	explicit_bzero(content, sizeof(content));

	req = json_object_new_object();
	for (size_t i = 0; i < nf; i++)
		json_object_object_add(req, f[i].name,
				       json_object_new_string(f[i].value));
	json_object_object_add(req, "signmethod",
			       json_object_new_string(opt.signmethod));
	json_object_object_add(req, "sign", json_object_new_string(sign));
	body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);

	pdu = new_request(s, COAP_MESSAGE_CON);
	if (!pdu ||
	    !coap_add_option(pdu, COAP_OPTION_URI_PATH, 4,
			     (const uint8_t *)"auth") ||
	    !coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
			     coap_encode_var_safe(cf, sizeof(cf), 50), cf) ||
	    !coap_add_option(pdu, COAP_OPTION_ACCEPT,
			     coap_encode_var_safe(cf, sizeof(cf), 50), cf) ||
	    !coap_add_data(pdu, strlen(body), (const uint8_t *)body)) {
		if (pdu)
			coap_delete_pdu(pdu);
		json_object_put(req);
		fprintf(stderr, "coap-device: cannot build the /auth request\n");
		return EXIT_FAIL;
	}
	json_object_put(req);

	err = exchange(ctx, s, pdu, false);
	if (err) {
		fprintf(stderr, "auth: %s\n", rq.nacked ? nack_name(rq.reason) :
			err == -ETIMEDOUT ? "no answer" : "send failed");
		return EXIT_FAIL;
	}
	if (rq.code != COAP_RESPONSE_CODE_CONTENT) {
		printf("auth: ");
		print_code(stdout, rq.code);
		printf("%s\n", rq.code == COAP_RESPONSE_CODE_UNAUTHORIZED ?
		       " Unauthorized" : "");
		return EXIT_REFUSED;
	}

	ret = EXIT_FAIL;
	/* rq.data is not NUL-terminated: parse a copy. */
	{
		char text[COAP_MAX_MESSAGE + 1];

		memcpy(text, rq.data, rq.data_len);
		text[rq.data_len] = '\0';
		resp = json_tokener_parse(text);
	}
	if (!resp || !json_object_is_type(resp, json_type_object))
		goto bad;
	if (!json_object_object_get_ex(resp, "token", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) < 1 ||
	    json_object_get_string_len(v) > MAX_AUTH_TOKEN)
		goto bad;
	snprintf(ss->token, sizeof(ss->token), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(resp, "random", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) < 1 ||
	    (size_t)json_object_get_string_len(v) >= sizeof(ss->random))
		goto bad;
	snprintf(ss->random, sizeof(ss->random), "%s",
		 json_object_get_string(v));
	if (!json_object_object_get_ex(resp, "seqOffset", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		goto bad;
	ss->seq_offset = (uint64_t)json_object_get_int64(v);
	if (coap_proto_session_key(opt.secret, ss->random, ss->key)) {
		fprintf(stderr, "coap-device: cannot derive the session key\n");
		goto out;
	}
	if (!quiet) {
		char st[TOKEN_SHORT + 8];

		short_token(ss->token, st, sizeof(st));
		printf("auth: 2.05 token %s random %s seqOffset %" PRIu64
		       " cipher %s\n", st, ss->random, ss->seq_offset,
		       coap_proto_cipher_name(opt.cipher));
	}
	ret = 0;
	goto out;
bad:
	fprintf(stderr, "auth: 2.05 with an unexpected payload (%zu bytes)\n",
		rq.data_len);
out:
	json_object_put(resp);
	return ret;
}

/* ---- publish ---------------------------------------------------------- */

/* Sleep, still answering whatever libcoap has to answer. */
static void pause_ms(coap_context_t *ctx, unsigned long ms)
{
	uint64_t deadline = now_ms() + ms, t;

	while ((t = now_ms()) < deadline)
		if (coap_io_process(ctx, (uint32_t)(deadline - t < 200 ?
						    deadline - t : 200)) < 0)
			break;
}

/* TEXT with "{n}" and "{seq}" replaced. */
static int expand_payload(char *out, size_t cap, unsigned long n,
			  uint64_t seq)
{
	const char *p = opt.payload;
	size_t len = 0;

	while (*p) {
		char num[32];
		const char *add;
		size_t alen;

		if (!strncmp(p, "{n}", 3)) {
			snprintf(num, sizeof(num), "%lu", n);
			add = num;
			p += 3;
		} else if (!strncmp(p, "{seq}", 5)) {
			snprintf(num, sizeof(num), "%" PRIu64, seq);
			add = num;
			p += 5;
		} else {
			add = p;
			alen = 1;
			p++;
			goto copy;
		}
		alen = strlen(add);
copy:
		if (len + alen >= cap)
			return -ENOSPC;
		memcpy(out + len, add, alen);
		len += alen;
	}
	out[len] = '\0';
	return (int)len;
}

/*
 * One publish.  Returns 0 when answered (rq.code), -ETIMEDOUT, -EIO, or
 * another negative errno from building it.
 */
static int publish_one(coap_context_t *ctx, coap_session_t *s,
		       const struct session *ss, uint64_t seq,
		       const char *plain, size_t plain_len)
{
	uint8_t seq_block[COAP_PROTO_BLOCK];
	uint8_t cipher[COAP_MAX_MESSAGE + COAP_PROTO_BLOCK];
	const char *p, *e;
	coap_pdu_t *pdu;
	int clen, err;

	err = coap_proto_seq_encrypt(ss->key, seq, seq_block);
	if (err)
		return err;
	clen = coap_proto_payload_encrypt(opt.cipher, ss->key, seq_block,
					  false, (const uint8_t *)plain,
					  plain_len, cipher, sizeof(cipher));
	if (clen < 0)
		return clen;

	pdu = new_request(s, opt.non ? COAP_MESSAGE_NON : COAP_MESSAGE_CON);
	if (!pdu)
		return -ENOMEM;
	if (!coap_add_option(pdu, COAP_OPTION_URI_PATH, 5,
			     (const uint8_t *)"topic"))
		goto nospc;
	for (p = opt.topic; *p; p = e) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		if (e > p && !coap_add_option(pdu, COAP_OPTION_URI_PATH,
					      (size_t)(e - p),
					      (const uint8_t *)p))
			goto nospc;
	}
	if (!coap_add_option(pdu, COAP_OPT_AUTH_TOKEN, strlen(ss->token),
			     (const uint8_t *)ss->token) ||
	    !coap_add_option(pdu, COAP_OPT_SEQ, sizeof(seq_block), seq_block) ||
	    (clen > 0 && !coap_add_data(pdu, (size_t)clen, cipher)))
		goto nospc;
	return exchange(ctx, s, pdu, opt.non);
nospc:
	coap_delete_pdu(pdu);
	return -ENOSPC;
}

static int do_publish(coap_context_t *ctx, coap_session_t *s,
		      unsigned long count)
{
	struct session ss;
	uint64_t seq;
	unsigned long sent = 0, acked = 0, unanswered_non = 0;
	int ret;

	ret = do_auth(ctx, s, &ss, false);
	if (ret)
		return ret;
	seq = ss.seq_offset;
	for (unsigned long n = 1; n <= count; n++) {
		char plain[COAP_MAX_MESSAGE + 1];
		int len, err;
		bool retried = false;

		if (n > 1 && opt.interval_ms)
			pause_ms(ctx, opt.interval_ms);
again:
		len = expand_payload(plain, sizeof(plain), n, seq);
		if (len < 0 || len > COAP_MAX_MESSAGE - 128) {
			fprintf(stderr, "coap-device: payload too long\n");
			return EXIT_USAGE;
		}
		err = publish_one(ctx, s, &ss, seq, plain, (size_t)len);
		seq++;
		if (err == -ENOSPC || err == -EINVAL || err == -ERANGE) {
			fprintf(stderr, "coap-device: cannot build publish %lu: %s\n",
				n, strerror(-err));
			return EXIT_FAIL;
		}
		if (!retried)
			sent++;
		if (err == -ETIMEDOUT && opt.non && !rq.nacked) {
			printf("publish %lu seq %" PRIu64 ": sent (NON, no answer)\n",
			       n, seq - 1);
			unanswered_non++;
			continue;
		}
		if (err) {
			printf("publish %lu seq %" PRIu64 ": %s\n", n, seq - 1,
			       rq.nacked ? nack_name(rq.reason) :
			       err == -ETIMEDOUT ? "no answer" : "send failed");
			continue;
		}
		if (rq.code == COAP_RESPONSE_CODE_UNAUTHORIZED && !retried) {
			printf("publish %lu seq %" PRIu64 ": 4.01, authenticating again\n",
			       n, seq - 1);
			ret = do_auth(ctx, s, &ss, false);
			if (ret)
				break;
			seq = ss.seq_offset;
			retried = true;
			goto again;
		}
		printf("publish %lu seq %" PRIu64 ": ", n, seq - 1);
		print_code(stdout, rq.code);
		if (rq.msgid_len) {
			printf(" id ");
			for (size_t i = 0; i < rq.msgid_len; i++)
				printf("%02x", rq.msgid[i]);
		}
		putchar('\n');
		if (rq.code == COAP_RESPONSE_CODE_CONTENT)
			acked++;
	}
	explicit_bzero(ss.key, sizeof(ss.key));
	printf("%lu sent, %lu acked\n", sent, acked);
	fflush(stdout);
	if (ret)
		return ret;
	return acked + unanswered_non == count ? 0 : EXIT_REFUSED;
}

/* ---- main ------------------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "coap-device: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'coap-device --help'.\n");
	return EXIT_USAGE;
}

static char *read_secret(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
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

enum {
	OPT_PK = 256, OPT_DN, OPT_SECRET, OPT_SECRET_FILE, OPT_SIGNMETHOD,
	OPT_CIPHER, OPT_TOPIC, OPT_PAYLOAD, OPT_COUNT, OPT_NON, OPT_INTERVAL,
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
		{ "signmethod", required_argument, NULL, OPT_SIGNMETHOD },
		{ "cipher", required_argument, NULL, OPT_CIPHER },
		{ "topic", required_argument, NULL, OPT_TOPIC },
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "non", no_argument, NULL, OPT_NON },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *secret_buf = NULL, *topic_buf = NULL, *end;
	const char *secret_file = NULL, *cmd;
	coap_address_t dst;
	coap_context_t *ctx;
	coap_session_t *s;
	unsigned long port;
	int c, ret;

	/* One line per message, visible as it happens (also in a pipe). */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "H:p:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': opt.host = optarg; break;
		case 'p':
			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || port < 1 || port > 65535)
				return usage_error("bad port '%s'", optarg);
			opt.port = optarg;
			break;
		case OPT_PK: opt.pk = optarg; break;
		case OPT_DN: opt.dn = optarg; break;
		case OPT_SECRET: opt.secret = optarg; break;
		case OPT_SECRET_FILE: secret_file = optarg; break;
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
		case OPT_TOPIC: opt.topic = optarg; break;
		case OPT_PAYLOAD: opt.payload = optarg; break;
		case OPT_COUNT:
			errno = 0;
			opt.count = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' ||
			    opt.count < 1 || opt.count > 100000000)
				return usage_error("bad count '%s'", optarg);
			break;
		case OPT_NON: opt.non = true; break;
		case OPT_INTERVAL:
			errno = 0;
			opt.interval_ms = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' ||
			    opt.interval_ms > 3600000)
				return usage_error("bad interval '%s'", optarg);
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
	if (!opt.pk || !*opt.pk || !opt.dn || !*opt.dn)
		return usage_error("%s", "--pk and --dn are required");
	if (strlen(opt.pk) > 64 || strlen(opt.dn) > 64)
		return usage_error("%s", "--pk and --dn are at most 64 characters");
	if (opt.secret && secret_file)
		return usage_error("%s", "--secret and --secret-file exclude each other");
	if (secret_file) {
		secret_buf = read_secret(secret_file);
		if (!secret_buf)
			return usage_error("cannot read the secret from '%s'",
					   secret_file);
		opt.secret = secret_buf;
	}
	if (!opt.secret || !*opt.secret)
		return usage_error("%s", "a secret is needed: --secret or --secret-file");
	if (!opt.topic) {
		if (asprintf(&topic_buf, "/%s/%s/user/update", opt.pk, opt.dn) < 0)
			return EXIT_FAIL;
		opt.topic = topic_buf;
	}
	if (opt.count != 1 && strcmp(cmd, "run"))
		return usage_error("%s", "--count is for run");

	coap_startup();
	coap_set_log_level(opt.verbose >= 2 ? LOG_DEBUG :
			   opt.verbose ? LOG_INFO : LOG_ERR);
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
	s = coap_new_client_session(ctx, NULL, &dst, COAP_PROTO_UDP);
	if (!s) {
		fprintf(stderr, "coap-device: cannot open a session to %s:%s\n",
			opt.host, opt.port);
		coap_free_context(ctx);
		goto out;
	}
	if (!strcmp(cmd, "auth")) {
		struct session ss;

		ret = do_auth(ctx, s, &ss, false);
		explicit_bzero(&ss, sizeof(ss));
	} else {
		ret = do_publish(ctx, s, opt.count);
	}
	coap_session_release(s);
	coap_free_context(ctx);
out:
	coap_cleanup();
	if (secret_buf) {
		explicit_bzero(secret_buf, strlen(secret_buf));
		free(secret_buf);
	}
	free(topic_buf);
	return ret;
}
