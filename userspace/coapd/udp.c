// SPDX-License-Identifier: GPL-2.0
/*
 * What coap_offload.ko leaves on the daemon's UDP sockets: POST /auth (the
 * control path proper), publishes whose token the module does not know
 * (expired or never issued: 4.01, the device re-authenticates), other paths
 * and methods, pings and malformed datagrams.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "coapd.h"

/* RFC 7252 §4.8.2: how long a CON's Message ID may come back. */
#define EXCHANGE_LIFETIME	247
#define CACHE_ENTRIES		512
#define CACHE_RESP_MAX		256
/* Datagrams handled per wakeup before the other sockets get a turn. */
#define UDP_BUDGET		64

#define CF_JSON			50
#define CF_CBOR			60

/* RFC 8516: a rate-limited request, and when to try again. */
#define COAP_CODE_TOO_MANY_REQUESTS	COAP_CODE(4, 29)
#define COAP_OPT_MAX_AGE		14

/* /auth limits (with codec.c's): far above what any SDK sends. */
#define AUTH_CLIENT_ID_MAX	64
#define AUTH_CONTENT_MAX	(AUTH_FIELDS_MAX * (AUTH_NAME_MAX + AUTH_VALUE_MAX))
#define AUTH_TOKEN_BYTES	16	/* 128 bits, 32 hex chars */
#define AUTH_RANDOM_BYTES	8	/* 16 hex chars (PROTOCOL.md) */

/*
 * The answers to recent CON requests, by peer and Message ID, so that a
 * retransmission (the ACK was lost) gets the same answer and, for /auth,
 * does not create a second session.
 */
struct cache_entry {
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint16_t message_id;
	uint16_t len;
	time_t when;			/* CLOCK_MONOTONIC seconds; 0: free */
	uint8_t resp[CACHE_RESP_MAX];
};

struct auth_cache {
	struct cache_entry e[CACHE_ENTRIES];
	unsigned int next;		/* ring: the oldest entry goes first */
};

struct request {
	struct coapd *d;
	int fd;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char peer_str[COAPD_ADDR_LEN];
	struct coap_msg msg;
	/*
	 * The local address the request came to (IP_PKTINFO/IPV6_PKTINFO):
	 * the answer leaves from it, so that a gateway with several
	 * addresses on a wildcard socket answers from the one the device
	 * talked to (else NATs and the device drop it).
	 */
	union {
		struct in_pktinfo v4;
		struct in6_pktinfo v6;
	} local;
	bool has_local;
};

static time_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Never 0, which marks a free cache entry. */
	return ts.tv_sec + 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct auth_cache *coapd_cache_new(void)
{
	return calloc(1, sizeof(struct auth_cache));
}

void coapd_cache_free(struct auth_cache *c)
{
	/* It holds the /auth answers, tokens included. */
	if (c)
		explicit_bzero(c, sizeof(*c));
	free(c);
}

static bool peer_equal(const struct sockaddr_storage *a, socklen_t alen,
		       const struct sockaddr_storage *b, socklen_t blen)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (alen != blen || a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		       a6->sin6_scope_id == b6->sin6_scope_id &&
		       !memcmp(&a6->sin6_addr, &b6->sin6_addr,
			       sizeof(a6->sin6_addr));
	return false;
}

static const struct cache_entry *cache_find(struct auth_cache *c,
					    const struct request *r)
{
	time_t now = now_sec();
	unsigned int i;

	for (i = 0; i < CACHE_ENTRIES; i++) {
		const struct cache_entry *e = &c->e[i];

		if (e->when && now - e->when <= EXCHANGE_LIFETIME &&
		    e->message_id == r->msg.message_id &&
		    peer_equal(&e->peer, e->peer_len, &r->peer, r->peer_len))
			return e;
	}
	return NULL;
}

static void cache_add(struct auth_cache *c, const struct request *r,
		      const uint8_t *resp, size_t len)
{
	struct cache_entry *e = &c->e[c->next];

	if (len > sizeof(e->resp))
		return;
	c->next = (c->next + 1) % CACHE_ENTRIES;
	if (e->when && now_sec() - e->when <= EXCHANGE_LIFETIME)
		coapd_log(LOG_DEBUG, "dedup cache full: forgetting an exchange");
	memcpy(&e->peer, &r->peer, sizeof(e->peer));
	e->peer_len = r->peer_len;
	e->message_id = r->msg.message_id;
	e->len = len;
	e->when = now_sec();
	memcpy(e->resp, resp, len);
}

static void send_to_peer(const struct request *r, const uint8_t *buf,
			 size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = (void *)&r->peer, .msg_namelen = r->peer_len,
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cmsghdr *cm;

	if (r->has_local) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		cm = (struct cmsghdr *)control.buf;
		if (r->peer.ss_family == AF_INET) {
			struct in_pktinfo pi = {
				.ipi_spec_dst = r->local.v4.ipi_addr,
			};

			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else {
			/* The interface matters for link-local peers. */
			mh.msg_controllen = CMSG_SPACE(sizeof(r->local.v6));
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(r->local.v6));
			memcpy(CMSG_DATA(cm), &r->local.v6, sizeof(r->local.v6));
		}
	}
	/*
	 * A request to a broadcast or multicast address cannot be answered
	 * from it: let the routing choose the source then.
	 */
	if (sendmsg(r->fd, &mh, 0) < 0 &&
	    (!mh.msg_control || errno != EINVAL ||
	     sendto(r->fd, buf, len, 0, (const struct sockaddr *)&r->peer,
		    r->peer_len) < 0))
		coapd_log(LOG_WARNING, "send to %s: %s", r->peer_str,
			  strerror(errno));
}

/* RFC 7252 §4.2/4.3: reject a message we cannot or will not process. */
static void send_rst(const struct request *r, uint16_t message_id)
{
	struct coap_builder b;
	uint8_t buf[COAP_HEADER_LEN];
	int len;

	coap_builder_init(&b, buf, sizeof(buf), COAP_TYPE_RST, COAP_CODE_EMPTY,
			  message_id, NULL, 0);
	len = coap_builder_finish(&b);
	if (len > 0)
		send_to_peer(r, buf, len);
}

/*
 * Answer a request: piggy-backed in the ACK of a CON (and remembered for its
 * retransmissions), or in a NON of its own for a NON. Errors to a NON get no
 * answer (RFC 7252 §5.2.3 allows either; it avoids reflecting junk).
 * max_age: a Max-Age option in seconds (0: none).
 */
static void reply_max_age(const struct request *r, uint8_t code,
			  uint32_t max_age, const void *payload,
			  size_t payload_len)
{
	static uint16_t non_mid;
	uint8_t buf[COAP_MAX_MESSAGE];
	struct coap_builder b;
	uint8_t type;
	uint16_t mid;
	int len;

	if (r->msg.type == COAP_TYPE_NON) {
		if (COAP_CODE_CLASS(code) != 2)
			return;
		if (!non_mid && getrandom(&non_mid, sizeof(non_mid), 0) < 0)
			non_mid = (uint16_t)getpid();
		type = COAP_TYPE_NON;
		mid = ++non_mid;
	} else {
		type = COAP_TYPE_ACK;
		mid = r->msg.message_id;
	}
	coap_builder_init(&b, buf, sizeof(buf), type, code, mid, r->msg.token,
			  r->msg.token_len);
	if (max_age)
		coap_builder_add_uint_option(&b, COAP_OPT_MAX_AGE, max_age);
	coap_builder_set_payload(&b, payload, payload_len);
	len = coap_builder_finish(&b);
	if (len < 0) {
		coapd_log(LOG_ERR, "build the answer to %s: %s", r->peer_str,
			  strerror(-len));
		return;
	}
	if (type == COAP_TYPE_ACK)
		cache_add(r->d->cache, r, buf, len);
	send_to_peer(r, buf, len);
	/* An /auth answer carries a token. */
	explicit_bzero(buf, len);
}

static void reply(const struct request *r, uint8_t code, const void *payload,
		  size_t payload_len)
{
	reply_max_age(r, code, 0, payload, payload_len);
}

/*
 * A rate-limited /auth: PROTOCOL.md's table has no code for it. 4.29 (RFC
 * 8516) with Max-Age = the seconds until one more attempt may fail: not
 * 4.01, on which devices re-authenticate at once, and an answer rather than
 * silence, so that a device behind a limited address learns why and when.
 * It is smaller than the request (no amplification).
 */
static void reply_too_many(const struct request *r, uint64_t wait_ms)
{
	reply_max_age(r, COAP_CODE_TOO_MANY_REQUESTS,
		      wait_ms / 1000 + !!(wait_ms % 1000), NULL, 0);
}

/* Content-Format/Accept: absent (-1) or a uint of 0..2 bytes. */
static int uint_option(const struct coap_msg *msg, uint16_t number)
{
	struct coap_option opt;
	int v = 0, i;

	if (!coap_find_option(msg, number, &opt))
		return -1;
	if (opt.len > 2)
		return 65536;	/* not a valid format: unsupported */
	for (i = 0; i < opt.len; i++)
		v = v << 8 | opt.value[i];
	return v;
}

/*
 * The critical options this gateway understands (RFC 7252 §5.4.1: any other
 * critical option makes the request 4.02). Uri-Host/Port and Uri-Query are
 * accepted and ignored, as on the vendor's gateway.
 */
static bool option_known(uint16_t number)
{
	switch (number) {
	case COAP_OPT_URI_HOST:
	case 7:		/* Uri-Port */
	case COAP_OPT_URI_PATH:
	case 15:	/* Uri-Query */
	case COAP_OPT_ACCEPT:
	case COAP_OPT_TOKEN_ALIAS:
	case COAP_OPT_SEQ:
		return true;
	}
	return !COAP_OPT_IS_CRITICAL(number);
}

/* A required field: present, a string, not empty. */
static const char *string_field(const struct auth_input *in, const char *name)
{
	bool str = false;
	const char *v = coapd_auth_field(in, name, &str);

	return v && str && *v ? v : NULL;
}

static void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int session_new(struct coapd *d, const char *token, const char *pk,
		       const char *dn, enum coap_cipher cipher,
		       const uint8_t *key, uint64_t seq_offset, bool separate)
{
	/* A request's size, not 32 KiB to clear and wipe per /auth. */
	char buf[COAP_NL_SESSION_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int err;

	if (d->user)
		return coapd_user_session_new(d->user, token, pk, dn, cipher,
					      key, seq_offset,
					      d->cfg.token_lifetime);
	/*
	 * Cleared by coap_nl_request_in(): libmnl 1.0.4 does not clear
	 * attribute padding, and no stale stack bytes may go to the kernel
	 * next to the key.
	 */
	nlh = coap_nl_request_in(&d->nl, buf, sizeof(buf),
				 COAP_OFFLOAD_CMD_SESSION_NEW, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, pk);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, dn);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_CIPHER, cipher);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_KEY, COAP_PROTO_KEY_LEN, key);
	mnl_attr_put_u64(nlh, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET, seq_offset);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_LIFETIME,
			 d->cfg.token_lifetime);
	if (d->cfg.idle_timeout)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT,
				 d->cfg.idle_timeout);
	if (separate)
		mnl_attr_put_u8(nlh, COAP_OFFLOAD_SESSION_A_ACK_MODE,
				COAP_OFFLOAD_ACK_SEPARATE);
	mnl_attr_nest_end(nlh, nest);
	err = coap_nl_talk(&d->nl, nlh, NULL, NULL);
	/* The request held the key. */
	explicit_bzero(buf, sizeof(buf));
	if (!err)
		coapd_persist_granted(d, token, pk, dn, cipher, key, seq_offset,
				      d->cfg.token_lifetime,
				      d->cfg.idle_timeout,
				      separate ? COAP_OFFLOAD_ACK_SEPARATE :
						 COAP_OFFLOAD_ACK_PIGGYBACKED);
	return err;
}

static void session_del(struct coapd *d, const char *token)
{
	char buf[COAP_NL_SESSION_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int err;

	if (d->user) {
		coapd_user_session_del(d->user, token);
		return;
	}
	nlh = coap_nl_request_in(&d->nl, buf, sizeof(buf),
				 COAP_OFFLOAD_CMD_SESSION_DEL, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	mnl_attr_nest_end(nlh, nest);
	err = coap_nl_talk(&d->nl, nlh, NULL, NULL);
	if (err)
		coapd_log(LOG_WARNING, "delete an unused session: %s",
			  strerror(-err));
	explicit_bzero(buf, sizeof(buf));
	coapd_persist_revoked(d, token);
}

/*
 * A verified device: a fresh token, random and seqOffset, its session in the
 * kernel, and the 2.05 answer. Returns the CoAP code to send on failure, or
 * 0 when the answer went out.
 */
static uint8_t auth_grant(const struct request *r, const struct coap_device *dev,
			  enum coap_cipher cipher, bool cbor, bool separate)
{
	struct {
		uint8_t token[AUTH_TOKEN_BYTES];
		uint8_t random[AUTH_RANDOM_BYTES];
		uint16_t seq_offset;
	} rnd;
	char token[2 * AUTH_TOKEN_BYTES + 1], random[2 * AUTH_RANDOM_BYTES + 1];
	char redacted[COAPD_REDACT_LEN];
	uint8_t payload[128];
	uint8_t key[COAP_PROTO_KEY_LEN];
	unsigned int seq_offset = 0;
	int err = -EEXIST, tries, len;

	/* A taken token (-EEXIST) is 2^-128 unlikely; retry anyway. */
	for (tries = 0; tries < 3 && err == -EEXIST; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			coapd_log(LOG_ERR, "getrandom: %s", strerror(errno));
			return COAP_CODE_INTERNAL_ERROR;
		}
		hex_encode(rnd.token, sizeof(rnd.token), token);
		hex_encode(rnd.random, sizeof(rnd.random), random);
		seq_offset = rnd.seq_offset % 65535 + 1;
		err = coap_proto_session_key(dev->secret, random, key);
		if (err)
			break;
		err = session_new(r->d, token, dev->product_key,
				  dev->device_name, cipher, key, seq_offset,
				  separate);
	}
	explicit_bzero(key, sizeof(key));
	explicit_bzero(&rnd, sizeof(rnd));
	if (err) {
		coapd_log(LOG_ERR, "auth %s/%s from %s: new session: %s%s%s",
			  dev->product_key, dev->device_name, r->peer_str,
			  strerror(-err), r->d->nl.error[0] ? ": " : "",
			  r->d->nl.error);
		explicit_bzero(token, sizeof(token));
		return COAP_CODE_INTERNAL_ERROR;
	}
	len = coapd_auth_encode_grant(cbor, random, seq_offset, token, payload,
				      sizeof(payload));
	if (len < 0) {
		/* Out of memory: the device never learns this token. */
		coapd_log(LOG_ERR, "auth %s/%s: encode the answer: %s",
			  dev->product_key, dev->device_name, strerror(-len));
		session_del(r->d, token);
		explicit_bzero(token, sizeof(token));
		return COAP_CODE_INTERNAL_ERROR;
	}
	coapd_log(LOG_NOTICE, "auth %s/%s from %s: token %s, %s, seqOffset %u%s",
		  dev->product_key, dev->device_name, r->peer_str,
		  coapd_redact(token, redacted), coap_proto_cipher_name(cipher),
		  seq_offset, separate ? ", ackMode 1" : "");
	reply(r, COAP_CODE_CONTENT, payload, len);
	explicit_bzero(payload, sizeof(payload));
	explicit_bzero(token, sizeof(token));
	return 0;
}

/* POST /auth: returns the error code to answer, or 0 when answered. */
static uint8_t auth(const struct request *r)
{
	const char *pk, *dn, *sign, *method, *ack_mode, *cipher_name, *seq;
	enum coap_cipher cipher = r->d->cfg.cipher_default;
	char hex[COAP_PROTO_SIGN_HEX_MAX + 1];
	char content[AUTH_CONTENT_MAX];
	struct ratelimit *dev_rl = r->d->auth_fail_device;
	uint8_t dev_key[RATELIMIT_KEY_LEN];
	bool dev_counted = false;
	struct coap_device dev;
	struct auth_input in;
	bool cbor_in, cbor_out;
	uint64_t wait;
	uint8_t code;
	int cf, accept, err;

	if (r->msg.code != COAP_CODE_POST)
		return COAP_CODE_METHOD_NOT_ALLOWED;
	cf = uint_option(&r->msg, COAP_OPT_CONTENT_FORMAT);
	if (cf != -1 && cf != CF_JSON && cf != CF_CBOR)
		return COAP_CODE_UNSUPPORTED_FORMAT;
	accept = uint_option(&r->msg, COAP_OPT_ACCEPT);
	if (accept != -1 && accept != CF_JSON && accept != CF_CBOR)
		return COAP_CODE_NOT_ACCEPTABLE;
	cbor_in = cf == CF_CBOR;
	/* No Accept: answer in the request's own format. */
	cbor_out = accept == -1 ? cbor_in : accept == CF_CBOR;

	err = coapd_auth_decode(r->msg.payload, r->msg.payload_len, cbor_in,
				&in);
	if (err) {
		coapd_log(err == -ENOMEM ? LOG_ERR : LOG_INFO,
			  "auth from %s: %s payload: %s", r->peer_str,
			  cbor_in ? "CBOR" : "JSON",
			  err == -ENOMEM ? "out of memory" : "malformed");
		return err == -ENOMEM ? COAP_CODE_INTERNAL_ERROR :
					COAP_CODE_BAD_REQUEST;
	}
	code = COAP_CODE_BAD_REQUEST;
	pk = string_field(&in, "productKey");
	dn = string_field(&in, "deviceName");
	sign = string_field(&in, "sign");
	method = coapd_auth_field(&in, "signmethod", NULL);
	ack_mode = coapd_auth_field(&in, "ackMode", NULL);
	cipher_name = coapd_auth_field(&in, "cipher", NULL);
	seq = coapd_auth_field(&in, "seq", NULL);
	if (!pk || !dn || !sign || !string_field(&in, "clientId") || !seq ||
	    !*seq) {
		coapd_log(LOG_INFO, "auth from %s: a required field is missing",
			  r->peer_str);
		goto out;
	}
	if (strlen(string_field(&in, "clientId")) > AUTH_CLIENT_ID_MAX ||
	    (method && !string_field(&in, "signmethod")) ||
	    (ack_mode && strcmp(ack_mode, "0") && strcmp(ack_mode, "1")) ||
	    (cipher_name && coap_proto_cipher_parse(cipher_name, &cipher))) {
		coapd_log(LOG_INFO, "auth from %s: a bad field value", r->peer_str);
		goto out;
	}
	/* The identity goes into logs only once it is known to be tame. */
	if (!coap_registry_identity_valid(pk, true) ||
	    !coap_registry_identity_valid(dn, false)) {
		coapd_log(LOG_INFO, "auth from %s: not a valid identity",
			  r->peer_str);
		code = COAP_CODE_UNAUTHORIZED;
		goto out;
	}
	/*
	 * Failures per device, from whatever sources: guessing one device's
	 * secret from many addresses. A limited device's sessions keep
	 * working; only its new /auth waits (neither registry nor HMAC).
	 */
	if (dev_rl) {
		ratelimit_key_device(dev_rl, pk, dn, dev_key);
		wait = ratelimit_wait(dev_rl, dev_key, now_ms());
		if (wait) {
			coapd_log(LOG_DEBUG, "auth %s/%s from %s: device limited for %llu ms",
				  pk, dn, r->peer_str, (unsigned long long)wait);
			reply_too_many(r, wait);
			return 0;
		}
		dev_counted = true;
	}
	err = coap_proto_sign_content(in.f, in.n, content, sizeof(content));
	if (err < 0) {
		coapd_log(LOG_INFO, "auth %s/%s from %s: sign content: %s",
			  pk, dn, r->peer_str, strerror(-err));
		goto out;
	}
	err = coap_registry_get(r->d->reg, pk, dn, &dev);
	if (err) {
		if (err == -ENOENT) {
			coapd_log(LOG_INFO, "auth %s/%s from %s: unknown device",
				  pk, dn, r->peer_str);
			code = COAP_CODE_UNAUTHORIZED;
		} else {
			coapd_log(LOG_ERR, "auth %s/%s from %s: registry: %s",
				  pk, dn, r->peer_str, strerror(-err));
			code = COAP_CODE_INTERNAL_ERROR;
		}
		goto out;
	}
	if (!dev.enabled) {
		coapd_log(LOG_INFO, "auth %s/%s from %s: device disabled",
			  pk, dn, r->peer_str);
		code = COAP_CODE_UNAUTHORIZED;
		goto out_wipe;
	}
	err = coap_proto_sign_hex(method, dev.secret, content, hex, sizeof(hex));
	if (err) {
		/* An unknown signmethod is the device's fault. */
		coapd_log(LOG_INFO, "auth %s/%s from %s: sign: %s", pk, dn,
			  r->peer_str, err == -EINVAL ? "unknown signmethod" :
			  strerror(-err));
		code = err == -EINVAL ? COAP_CODE_BAD_REQUEST :
					COAP_CODE_INTERNAL_ERROR;
		goto out_wipe;
	}
	if (!coap_proto_hex_equal(hex, sign)) {
		coapd_log(LOG_INFO, "auth %s/%s from %s: bad sign", pk, dn,
			  r->peer_str);
		code = COAP_CODE_UNAUTHORIZED;
		goto out_wipe;
	}
	/* ackMode 1 concerns publishes; the /auth answer stays piggy-backed. */
	code = auth_grant(r, &dev, cipher, cbor_out,
			  ack_mode && !strcmp(ack_mode, "1"));
out_wipe:
	explicit_bzero(&dev, sizeof(dev));
	explicit_bzero(hex, sizeof(hex));
out:
	/* Unknown, disabled or a bad sign. */
	if (dev_counted && code == COAP_CODE_UNAUTHORIZED &&
	    ratelimit_fail(dev_rl, dev_key, now_ms()))
		coapd_log(LOG_NOTICE, "auth %s/%s: too many failures: limited",
			  pk, dn);
	return code;
}

/*
 * /auth within the budget of failures of its source (an IPv4 address, an
 * IPv6 /64): over it, 4.29 before anything is decoded. 4.00 and 4.01 use
 * the budget: the answers that cost a decode, a registry lookup or an HMAC
 * (4.05, 4.06, 4.15 cost no more than the 4.29 would).
 */
static uint8_t auth_limited(const struct request *r)
{
	struct ratelimit *rl = r->d->auth_fail_source;
	uint8_t key[RATELIMIT_KEY_LEN];
	uint64_t wait;
	uint8_t code;

	if (!rl || !ratelimit_key_source(rl, (const struct sockaddr *)&r->peer,
					 r->peer_len, key))
		return auth(r);
	wait = ratelimit_wait(rl, key, now_ms());
	if (wait) {
		coapd_log(LOG_DEBUG, "auth from %s: source limited for %llu ms",
			  r->peer_str, (unsigned long long)wait);
		reply_too_many(r, wait);
		return 0;
	}
	code = auth(r);
	if ((code == COAP_CODE_BAD_REQUEST || code == COAP_CODE_UNAUTHORIZED) &&
	    ratelimit_fail(rl, key, now_ms()))
		coapd_log(LOG_NOTICE, "auth from %s: too many failures: source limited",
			  r->peer_str);
	return code;
}

static void request(const struct request *r)
{
	struct coap_opt_iter it;
	struct coap_option opt;
	char path[256];
	uint8_t code;
	int err;

	coap_opt_iter_init(&it, &r->msg);
	while (coap_opt_next(&it, &opt)) {
		if (!option_known(opt.number)) {
			coapd_log(LOG_DEBUG, "from %s: critical option %u",
				  r->peer_str, opt.number);
			reply(r, COAP_CODE_BAD_OPTION, NULL, 0);
			return;
		}
	}
	err = coap_uri_path(&r->msg, path, sizeof(path));
	if (err < 0) {
		reply(r, err == -EINVAL ? COAP_CODE_BAD_REQUEST :
					  COAP_CODE_NOT_FOUND, NULL, 0);
		return;
	}
	if (!strcmp(path, "/auth")) {
		code = auth_limited(r);
	} else if (!strcmp(path, "/topic") || !strncmp(path, "/topic/", 7)) {
		/*
		 * The module passes up publishes whose token it does not
		 * know: expired, flushed or never issued. 4.01 makes the
		 * device authenticate again.
		 */
		code = r->msg.code == COAP_CODE_POST ? COAP_CODE_UNAUTHORIZED :
						       COAP_CODE_METHOD_NOT_ALLOWED;
		coapd_log(LOG_DEBUG, "publish from %s: no session", r->peer_str);
	} else {
		code = COAP_CODE_NOT_FOUND;
	}
	if (code)
		reply(r, code, NULL, 0);
}

static void datagram(struct request *r, const uint8_t *buf, size_t len)
{
	const struct cache_entry *e;
	int err;

	if (len < COAP_HEADER_LEN || buf[0] >> 6 != COAP_VERSION)
		return;		/* not CoAP: silently ignored (§3) */
	err = coap_parse(buf, len, &r->msg);
	if (err) {
		/* §4.2: a CON we cannot parse is rejected; others dropped. */
		coapd_log(LOG_DEBUG, "from %s: malformed (%s)", r->peer_str,
			  strerror(-err));
		if ((buf[0] >> 4 & 3) == COAP_TYPE_CON)
			send_rst(r, (uint16_t)(buf[2] << 8 | buf[3]));
		return;
	}
	if (r->msg.type == COAP_TYPE_ACK || r->msg.type == COAP_TYPE_RST) {
		/* Only ackMode 1's separate responses are CONs of ours. */
		if (!coapd_confirm_input(r->d, &r->peer, &r->msg))
			coapd_log(LOG_DEBUG, "from %s: %s %u matches nothing",
				  r->peer_str, r->msg.type == COAP_TYPE_ACK ?
				  "ACK" : "RST", r->msg.message_id);
		return;
	}
	if (COAP_CODE_CLASS(r->msg.code) != 0 || r->msg.code == COAP_CODE_EMPTY) {
		/* A ping (empty CON) or a response where a request belongs. */
		if (r->msg.type == COAP_TYPE_CON)
			send_rst(r, r->msg.message_id);
		return;
	}
	if (r->msg.type == COAP_TYPE_CON) {
		e = cache_find(r->d->cache, r);
		if (e) {
			coapd_log(LOG_DEBUG, "from %s: retransmission of %u",
				  r->peer_str, r->msg.message_id);
			send_to_peer(r, e->resp, e->len);
			return;
		}
	}
	request(r);
}

/* Where the datagram was addressed to, from its control messages. */
static void local_address(struct request *r, struct msghdr *mh)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(r->local.v4))) {
			memcpy(&r->local.v4, CMSG_DATA(cm), sizeof(r->local.v4));
			r->has_local = true;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
			   cm->cmsg_type == IPV6_PKTINFO &&
			   cm->cmsg_len >= CMSG_LEN(sizeof(r->local.v6))) {
			memcpy(&r->local.v6, CMSG_DATA(cm), sizeof(r->local.v6));
			r->has_local = true;
		}
	}
}

int coapd_udp_pktinfo(int fd, int family)
{
	int one = 1;

	if (family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

void coapd_udp_datagram(struct coapd *d, int fd, const uint8_t *buf,
			size_t len, const struct msghdr *mh)
{
	struct request r;

	memset(&r, 0, sizeof(r));
	r.d = d;
	r.fd = fd;
	r.peer_len = mh->msg_namelen < sizeof(r.peer) ? mh->msg_namelen :
							sizeof(r.peer);
	memcpy(&r.peer, mh->msg_name, r.peer_len);
	local_address(&r, (struct msghdr *)mh);
	coapd_addr_str((struct sockaddr *)&r.peer, r.peer_len, r.peer_str);
	datagram(&r, buf, len);
}

void coapd_udp_input(struct coapd *d, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} control;
	uint8_t buf[COAP_MAX_MESSAGE + 1];
	struct sockaddr_storage peer;
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;
	int i;

	for (i = 0; i < UDP_BUDGET; i++) {
		/* One byte more than the limit tells an oversized datagram. */
		iov = (struct iovec){ .iov_base = buf, .iov_len = sizeof(buf) };
		mh = (struct msghdr){
			.msg_name = &peer, .msg_namelen = sizeof(peer),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				coapd_log(LOG_WARNING, "recv: %s", strerror(errno));
			return;
		}
		coapd_udp_datagram(d, fd, buf, n, &mh);
	}
}
