// SPDX-License-Identifier: GPL-2.0
/*
 * DTLS mode (PROTOCOL.md, "DTLS mode"): DTLS 1.2 on its own UDP port, served
 * by libcoap's server on OpenSSL. libcoap does the record layer, the
 * cookie exchange (DTLSv1_listen), retransmission of handshake flights and
 * the CoAP messaging; this file decides who may connect (the device's PSK
 * from the registry, or the gateway's certificate), answers /auth and
 * publishes, and hands publishes to the same sink as the kernel's
 * deliveries. Nothing of this goes through coap_offload.ko's fast path: the
 * payload is protected by DTLS, which the kernel does not speak.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <openssl/ssl.h>

#include <coap3/coap.h>

#include "coap/coap_rules.h"
#include "coapd.h"

#define DTLS_TOKEN_BYTES	16	/* 128 bits, 32 hex characters */
#define DTLS_TOKEN_LEN		(2 * DTLS_TOKEN_BYTES)
/* Answers remembered per DTLS session, for retransmitted CONs. */
#define PEER_ANSWERS		16
#define EXCHANGE_LIFETIME	247	/* RFC 7252 §4.8.2, seconds */
/* Sources remembered by the handshake rate limit (a hash, not a list). */
#define RATE_SLOTS		1024
#define RATE_WINDOW		60	/* seconds */
#define PATH_MAX_LEN		256
#define CF_JSON			50
#define CF_CBOR			60
#define AUTH_CLIENT_ID_MAX	64
#define AUTH_CONTENT_MAX	(AUTH_FIELDS_MAX * (AUTH_NAME_MAX + AUTH_VALUE_MAX))
/*
 * The 2090 ids of DTLS deliveries have the top bit set; the module's
 * (ktime_get_real_ns() at load, then +1 each) stay below 2^63 until 2262.
 */
#define DTLS_ID_SPACE		(1ULL << 63)
/* A PSK handshake not finished this long after its lookup failed. */
#define PSK_HANDSHAKE_DEADLINE	10	/* seconds */
/* Dumps of the kernel's table taken at startup before giving up. */
#define RESYNC_TRIES		5
/* RFC 8516 (PROTOCOL.md has no code for it), as on the symmetric port. */
#define COAP_CODE_TOO_MANY_REQUESTS	COAP_CODE(4, 29)

struct dtls_answer {
	time_t when;			/* 0: free */
	uint16_t mid;
	uint8_t code;
	uint64_t id;			/* the 2090 value of a 2.05; else 0 */
};

/* One DTLS session (libcoap's coap_session_t app data). */
struct dtls_peer {
	struct coapd_dtls *dt;
	coap_session_t *session;	/* the libcoap session it belongs to */
	bool refused;			/* over a limit: fail its handshake */
	bool psk;			/* the PSK identity names the device */
	/*
	 * A PSK was handed to the handshake and it has not finished yet.
	 * A wrong PSK (a guess at the device's secret) does not make the
	 * handshake fail: DTLS drops the client's Finished, which does not
	 * decrypt, in silence. So a handshake still unfinished
	 * PSK_HANDSHAKE_DEADLINE seconds after its PSK was looked up, or
	 * that ends without finishing, counts as an /auth failure.
	 */
	bool psk_pending;
	time_t psk_at;			/* mono_sec() of the lookup */
	struct dtls_peer *pend_next, *pend_prev;
	/* The device this channel speaks for: PSK identity, /auth or token. */
	char pk[COAP_REGISTRY_ID_MAX + 1];
	char dn[COAP_REGISTRY_ID_MAX + 1];
	struct dtls_answer answers[PEER_ANSWERS];
	unsigned int next_answer;
};

/* A token issued over DTLS; one per device (a new /auth replaces it). */
struct dtls_token {
	struct dtls_token *next;
	char token[DTLS_TOKEN_LEN + 1];
	char pk[COAP_REGISTRY_ID_MAX + 1];
	char dn[COAP_REGISTRY_ID_MAX + 1];
	time_t expires;			/* CLOCK_MONOTONIC seconds */
};

struct rate_slot {
	struct sockaddr_storage addr;	/* port zeroed: per host */
	time_t window;
	unsigned int count;
};

struct coapd_dtls {
	struct coapd *d;
	coap_context_t *ctx;
	unsigned int peers;		/* live DTLS sessions */
	struct dtls_peer *pending;	/* PSK handshakes not finished yet */
	struct dtls_token *tokens;
	uint64_t next_id;
	struct rate_slot rate[RATE_SLOTS];
	/* The PSK handed to libcoap, which copies it at once. */
	char psk[COAP_PROTO_SIGN_HEX_MAX + 1];
	coap_bin_const_t psk_bin;
};

static time_t mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1;	/* never 0, which marks a free answer */
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *peer_str(coap_session_t *s, char out[COAPD_ADDR_LEN])
{
	const coap_address_t *a = coap_session_get_addr_remote(s);

	if (!a)
		return strcpy(out, "?");
	return coapd_addr_str(&a->addr.sa, a->size, out);
}

/* libcoap's messages go to coapd's log; its levels are syslog's. */
static void libcoap_log(coap_log_t level, const char *message)
{
	size_t len = strlen(message);

	if (len && message[len - 1] == '\n')
		len--;
	coapd_log(level > LOG_DEBUG ? LOG_DEBUG : (int)level, "libcoap: %.*s",
		  (int)len, message);
}

/* ---- limits -------------------------------------------------------- */

/* At most cfg.dtls_handshake_rate new DTLS sessions per host per minute. */
static bool rate_allows(struct coapd_dtls *dt, const coap_address_t *a)
{
	struct sockaddr_storage key = { 0 };
	struct rate_slot *slot;
	time_t now = mono_sec();
	uint32_t h = 2166136261u;
	size_t i, len;

	if (a->addr.sa.sa_family == AF_INET) {
		struct sockaddr_in *k = (void *)&key;

		k->sin_family = AF_INET;
		k->sin_addr = a->addr.sin.sin_addr;
		len = sizeof(*k);
	} else {
		struct sockaddr_in6 *k = (void *)&key;

		k->sin6_family = AF_INET6;
		k->sin6_addr = a->addr.sin6.sin6_addr;
		len = sizeof(*k);
	}
	for (i = 0; i < len; i++)	/* FNV-1a */
		h = (h ^ ((uint8_t *)&key)[i]) * 16777619u;
	slot = &dt->rate[h % RATE_SLOTS];
	if (memcmp(&slot->addr, &key, sizeof(key)) ||
	    now - slot->window >= RATE_WINDOW) {
		/* Another host in the slot, or a new window: start over. */
		slot->addr = key;
		slot->window = now;
		slot->count = 0;
	}
	return ++slot->count <= dt->d->cfg.dtls_handshake_rate;
}

/*
 * coapd's /auth failure limits (ratelimit.c, as on the symmetric port): a
 * DTLS /auth that fails (4.00, 4.01) and a PSK handshake that fails on a
 * wrong PSK or an unknown identity use up the budget of the source (its
 * IPv4 address or IPv6 /64) and of the device named; over a budget, /auth
 * gets 4.29 + Max-Age and a PSK handshake fails before the registry.
 */
static bool source_key(struct coapd_dtls *dt, coap_session_t *s,
		       uint8_t key[RATELIMIT_KEY_LEN])
{
	const coap_address_t *a = coap_session_get_addr_remote(s);
	struct ratelimit *rl = dt->d->auth_fail_source;

	return rl && a && ratelimit_key_source(rl, &a->addr.sa, a->size, key);
}

/* Milliseconds the source of s must wait; 0: it may try now. */
static uint64_t source_wait(struct coapd_dtls *dt, coap_session_t *s)
{
	uint8_t key[RATELIMIT_KEY_LEN];

	if (!source_key(dt, s, key))
		return 0;
	return ratelimit_wait(dt->d->auth_fail_source, key, now_ms());
}

static void source_fail(struct coapd_dtls *dt, coap_session_t *s)
{
	uint8_t key[RATELIMIT_KEY_LEN];
	char addr[COAPD_ADDR_LEN];

	if (source_key(dt, s, key) &&
	    ratelimit_fail(dt->d->auth_fail_source, key, now_ms()))
		coapd_log(LOG_NOTICE, "dtls auth from %s: too many failures: source limited",
			  peer_str(s, addr));
}

static uint64_t device_wait(struct coapd_dtls *dt, const char *pk,
			    const char *dn)
{
	struct ratelimit *rl = dt->d->auth_fail_device;
	uint8_t key[RATELIMIT_KEY_LEN];

	if (!rl)
		return 0;
	ratelimit_key_device(rl, pk, dn, key);
	return ratelimit_wait(rl, key, now_ms());
}

static void device_fail(struct coapd_dtls *dt, const char *pk, const char *dn)
{
	struct ratelimit *rl = dt->d->auth_fail_device;
	uint8_t key[RATELIMIT_KEY_LEN];

	if (!rl)
		return;
	ratelimit_key_device(rl, pk, dn, key);
	if (ratelimit_fail(rl, key, now_ms()))
		coapd_log(LOG_NOTICE, "dtls auth %s/%s: too many failures: limited",
			  pk, dn);
}

static void pending_add(struct coapd_dtls *dt, struct dtls_peer *p)
{
	p->psk_pending = true;
	p->psk_at = mono_sec();
	p->pend_prev = NULL;
	p->pend_next = dt->pending;
	if (dt->pending)
		dt->pending->pend_prev = p;
	dt->pending = p;
}

static void pending_del(struct coapd_dtls *dt, struct dtls_peer *p)
{
	if (!p->psk_pending)
		return;
	p->psk_pending = false;
	if (p->pend_prev)
		p->pend_prev->pend_next = p->pend_next;
	else
		dt->pending = p->pend_next;
	if (p->pend_next)
		p->pend_next->pend_prev = p->pend_prev;
	p->pend_next = p->pend_prev = NULL;
}

/* A PSK handshake that did not finish: the failure of a wrong PSK. */
static void pending_fail(struct coapd_dtls *dt, struct dtls_peer *p,
			 const char *why)
{
	char addr[COAPD_ADDR_LEN];

	pending_del(dt, p);
	coapd_log(LOG_INFO, "dtls: %s: PSK %s/%s: handshake %s: counted as an auth failure (wrong PSK?)",
		  peer_str(p->session, addr), p->pk, p->dn, why);
	source_fail(dt, p->session);
	device_fail(dt, p->pk, p->dn);
}

static struct dtls_peer *peer_of(coap_session_t *s)
{
	return coap_session_get_app_data(s);
}

/*
 * libcoap announces each new DTLS session once its cookie exchange is done
 * (so the source address is not spoofed): count it against the limits. A
 * session over a limit is marked; its handshake then fails in the PSK or
 * certificate callback below.
 */
static bool resumed(struct coapd_dtls *dt, coap_session_t *s,
		    struct dtls_peer *p);

static int event_handler(coap_session_t *s, const coap_event_t event)
{
	coap_context_t *ctx = coap_session_get_context(s);
	struct coapd_dtls *dt = coap_get_app_data(ctx);
	struct dtls_peer *p = peer_of(s);
	char addr[COAPD_ADDR_LEN];
	bool again;

	switch (event) {
	case COAP_EVENT_SERVER_SESSION_NEW:
		p = calloc(1, sizeof(*p));
		if (!p) {
			coapd_log(LOG_ERR, "dtls: out of memory");
			break;
		}
		p->dt = dt;
		p->session = s;
		dt->peers++;
		if (dt->peers > dt->d->cfg.dtls_max_sessions) {
			coapd_log(LOG_WARNING, "dtls: %s: refused: %u DTLS sessions already",
				  peer_str(s, addr), dt->d->cfg.dtls_max_sessions);
			p->refused = true;
		} else if (!rate_allows(dt, coap_session_get_addr_remote(s))) {
			coapd_log(LOG_WARNING, "dtls: %s: refused: more than %u handshakes a minute",
				  peer_str(s, addr), dt->d->cfg.dtls_handshake_rate);
			p->refused = true;
		}
		coap_session_set_app_data(s, p);
		break;
	case COAP_EVENT_SERVER_SESSION_DEL:
		if (p) {
			if (p->psk_pending)
				pending_fail(dt, p, "ended unfinished");
			dt->peers--;
			explicit_bzero(p, sizeof(*p));
			free(p);
			coap_session_set_app_data(s, NULL);
		}
		break;
	case COAP_EVENT_DTLS_CONNECTED:
		if (!p)
			break;
		pending_del(dt, p);
		again = resumed(dt, s, p);
		coapd_log(LOG_INFO, "dtls: %s: connected (%s%s)", peer_str(s, addr),
			  p->psk ? "PSK" : "certificate", again ? ", resumed" : "");
		break;
	case COAP_EVENT_DTLS_ERROR:
		coapd_log(LOG_INFO, "dtls: %s: handshake failed",
			  peer_str(s, addr));
		if (p && p->psk_pending)
			pending_fail(dt, p, "failed");
		break;
	default:
		break;
	}
	return 0;
}

/* ---- channel authentication ---------------------------------------- */

/*
 * "devicename|hmacsha256|{pk}&{dn}|2524608000000" → pk, dn. The identity is
 * rebuilt from what was parsed and must come out identical, so that no
 * variant spelling is accepted.
 */
static bool psk_identity_parse(const coap_bin_const_t *id, char *pk, char *dn)
{
	char text[3 * COAP_REGISTRY_ID_MAX], again[3 * COAP_REGISTRY_ID_MAX];
	char *start, *amp, *end;

	if (id->length >= sizeof(text) || memchr(id->s, 0, id->length))
		return false;
	memcpy(text, id->s, id->length);
	text[id->length] = '\0';
	start = strchr(text, '|');
	start = start ? strchr(start + 1, '|') : NULL;
	if (!start)
		return false;
	start++;
	end = strchr(start, '|');
	if (!end)
		return false;
	*end = '\0';
	amp = strchr(start, '&');
	if (!amp || amp - start > COAP_REGISTRY_ID_MAX ||
	    strlen(amp + 1) > COAP_REGISTRY_ID_MAX)
		return false;
	*amp = '\0';
	if (!coap_registry_identity_valid(start, true) ||
	    !coap_registry_identity_valid(amp + 1, false))
		return false;
	strcpy(pk, start);
	strcpy(dn, amp + 1);
	return !coap_proto_psk_identity(pk, dn, again, sizeof(again)) &&
	       strlen(again) == id->length &&
	       !memcmp(again, id->s, id->length);
}

/* The PSK of the identity's device, or NULL: the handshake then fails. */
static const coap_bin_const_t *psk_lookup(coap_bin_const_t *identity,
					  coap_session_t *s, void *arg)
{
	struct coapd_dtls *dt = arg;
	struct dtls_peer *p = peer_of(s);
	char addr[COAPD_ADDR_LEN];
	char pk[COAP_REGISTRY_ID_MAX + 1], dn[COAP_REGISTRY_ID_MAX + 1];
	struct coap_device dev;
	uint64_t wait;
	int err;

	if (!p || p->refused)
		return NULL;
	wait = source_wait(dt, s);
	if (wait) {
		coapd_log(LOG_INFO, "dtls: %s: PSK refused: source limited for %llu ms",
			  peer_str(s, addr), (unsigned long long)wait);
		return NULL;
	}
	if (!psk_identity_parse(identity, pk, dn)) {
		coapd_log(LOG_INFO, "dtls: %s: PSK identity not in the SDK format",
			  peer_str(s, addr));
		source_fail(dt, s);
		return NULL;
	}
	wait = device_wait(dt, pk, dn);
	if (wait) {
		coapd_log(LOG_INFO, "dtls: %s: PSK %s/%s refused: device limited for %llu ms",
			  peer_str(s, addr), pk, dn, (unsigned long long)wait);
		return NULL;
	}
	err = coap_registry_get(dt->d->reg, pk, dn, &dev);
	if (err || !dev.enabled) {
		coapd_log(LOG_INFO, "dtls: %s: PSK %s/%s: %s", peer_str(s, addr),
			  pk, dn, err == -ENOENT ? "unknown device" :
			  err ? strerror(-err) : "device disabled");
		explicit_bzero(&dev, sizeof(dev));
		if (err == -ENOENT || !err) {
			source_fail(dt, s);
			device_fail(dt, pk, dn);
		}
		return NULL;
	}
	err = coap_proto_psk(pk, dn, dev.secret, dt->psk, sizeof(dt->psk));
	explicit_bzero(&dev, sizeof(dev));
	if (err)
		return NULL;
	p->psk = true;
	strcpy(p->pk, pk);
	strcpy(p->dn, dn);
	if (!p->psk_pending)
		pending_add(dt, p);
	dt->psk_bin.s = (const uint8_t *)dt->psk;
	dt->psk_bin.length = strlen(dt->psk);
	/* libcoap copies it before the next call; dtls_input() wipes it. */
	return &dt->psk_bin;
}

/*
 * A resumed session (OpenSSL's session tickets, on by default in libcoap's
 * server: the abbreviated handshake) runs neither the PSK callback nor the
 * certificate setup. A resumed PSK session still carries its identity (in
 * the ticket): the checks of psk_lookup() are made here instead, and a
 * session that fails them is refused (every request gets 5.03), so that a
 * disabled device or a limited source cannot come back through a ticket,
 * and the channel still speaks for its PSK's device only. True when s was
 * resumed.
 */
static bool resumed(struct coapd_dtls *dt, coap_session_t *s,
		    struct dtls_peer *p)
{
	char pk[COAP_REGISTRY_ID_MAX + 1], dn[COAP_REGISTRY_ID_MAX + 1];
	char addr[COAPD_ADDR_LEN];
	coap_tls_library_t lib;
	coap_bin_const_t id;
	struct coap_device dev;
	const char *identity;
	SSL *ssl;
	int err;

	ssl = coap_session_get_tls(s, &lib);
	if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL || !SSL_session_reused(ssl))
		return false;
	identity = SSL_get_psk_identity(ssl);
	if (!identity || p->psk || p->refused)
		return true;	/* certificate mode: nothing names a device */
	id.s = (const uint8_t *)identity;
	id.length = strlen(identity);
	p->refused = true;
	if (!psk_identity_parse(&id, pk, dn)) {
		coapd_log(LOG_INFO, "dtls: %s: resumed PSK session: identity not in the SDK format: refused",
			  peer_str(s, addr));
		return true;
	}
	if (source_wait(dt, s) || device_wait(dt, pk, dn)) {
		coapd_log(LOG_INFO, "dtls: %s: resumed PSK session of %s/%s: limited: refused",
			  peer_str(s, addr), pk, dn);
		return true;
	}
	err = coap_registry_get(dt->d->reg, pk, dn, &dev);
	if (!err && !dev.enabled)
		err = -EPERM;
	explicit_bzero(&dev, sizeof(dev));
	if (err) {
		coapd_log(LOG_INFO, "dtls: %s: resumed PSK session of %s/%s: %s: refused",
			  peer_str(s, addr), pk, dn, err == -ENOENT ?
			  "unknown device" : err == -EPERM ? "device disabled" :
			  strerror(-err));
		return true;
	}
	p->refused = false;
	p->psk = true;
	strcpy(p->pk, pk);
	strcpy(p->dn, dn);
	return true;
}

/* Certificate mode: a session over a limit fails here. */
static int pki_setup(void *tls, coap_dtls_pki_t *setup)
{
	coap_session_t *s = SSL_get_app_data(tls);
	struct dtls_peer *p = s ? peer_of(s) : NULL;

	(void)setup;
	return p && !p->refused;
}

/* ---- tokens -------------------------------------------------------- */

/*
 * Each DTLS token is also in the kernel's session table, in DTLS mode (no
 * key; the fast path never accepts it), so that one table, `coapctl session
 * list`, describes every device, and a restarted coapd finds its tokens.
 */
static int token_register(struct coapd_dtls *dt, const struct dtls_token *t)
{
	char buf[COAP_NL_SESSION_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int err;

	/* Cleared: libmnl leaves attribute padding as it finds it. */
	nlh = coap_nl_request_in(&dt->d->nl, buf, sizeof(buf),
				 COAP_OFFLOAD_CMD_SESSION_NEW, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, DTLS_TOKEN_LEN, t->token);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, t->pk);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, t->dn);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_MODE,
			 COAP_OFFLOAD_MODE_DTLS);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_LIFETIME,
			 dt->d->cfg.token_lifetime);
	mnl_attr_nest_end(nlh, nest);
	err = coap_nl_talk(&dt->d->nl, nlh, NULL, NULL);
	explicit_bzero(buf, sizeof(buf));
	return err;
}

static void token_unregister(struct coapd_dtls *dt, const struct dtls_token *t)
{
	char buf[COAP_NL_SESSION_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int err;

	nlh = coap_nl_request_in(&dt->d->nl, buf, sizeof(buf),
				 COAP_OFFLOAD_CMD_SESSION_DEL, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, DTLS_TOKEN_LEN, t->token);
	mnl_attr_nest_end(nlh, nest);
	err = coap_nl_talk(&dt->d->nl, nlh, NULL, NULL);
	/* Gone already: expired, flushed or deleted by the operator. */
	if (err && err != -ENOENT)
		coapd_log(LOG_WARNING, "dtls: delete a replaced token: %s",
			  strerror(-err));
	explicit_bzero(buf, sizeof(buf));
}

/*
 * The kernel's table is the one the operator edits: a token deleted or
 * flushed there (or expired by its reaper) is gone here too.
 */
static bool token_in_kernel(struct coapd_dtls *dt, const struct dtls_token *t)
{
	char buf[COAP_NL_SESSION_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int err;

	nlh = coap_nl_request_in(&dt->d->nl, buf, sizeof(buf),
				 COAP_OFFLOAD_CMD_SESSION_GET, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, DTLS_TOKEN_LEN, t->token);
	mnl_attr_nest_end(nlh, nest);
	err = coap_nl_talk(&dt->d->nl, nlh, NULL, NULL);
	explicit_bzero(buf, sizeof(buf));
	if (err && err != -ENOENT)
		coapd_log(LOG_WARNING, "dtls: look a token up in the kernel: %s",
			  strerror(-err));
	/* Only a definite "no such session" revokes it. */
	return err != -ENOENT;
}

static void token_drop(struct coapd_dtls *dt, struct dtls_token *gone)
{
	struct dtls_token **pp;

	for (pp = &dt->tokens; *pp; pp = &(*pp)->next) {
		if (*pp == gone) {
			*pp = gone->next;
			explicit_bzero(gone, sizeof(*gone));
			free(gone);
			return;
		}
	}
}

/* A DTLS-mode session of the kernel's table back into ours (restart). */
static int resync_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_SESSION);
	const struct nlattr *tok, *pk, *dn, *mode, *left;
	struct coapd_dtls *dt = data;
	struct dtls_token *t;

	if (!nest || coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_SESSION_A_MAX))
		return MNL_CB_OK;
	tok = tb[COAP_OFFLOAD_SESSION_A_TOKEN];
	pk = tb[COAP_OFFLOAD_SESSION_A_PRODUCT_KEY];
	dn = tb[COAP_OFFLOAD_SESSION_A_DEVICE_NAME];
	mode = tb[COAP_OFFLOAD_SESSION_A_MODE];
	left = tb[COAP_OFFLOAD_SESSION_A_LIFETIME];
	if (!mode || mnl_attr_validate(mode, MNL_TYPE_U32) ||
	    mnl_attr_get_u32(mode) != COAP_OFFLOAD_MODE_DTLS ||
	    !tok || mnl_attr_get_payload_len(tok) != DTLS_TOKEN_LEN ||
	    !pk || mnl_attr_validate(pk, MNL_TYPE_NUL_STRING) ||
	    strlen(mnl_attr_get_str(pk)) > COAP_REGISTRY_ID_MAX ||
	    !dn || mnl_attr_validate(dn, MNL_TYPE_NUL_STRING) ||
	    strlen(mnl_attr_get_str(dn)) > COAP_REGISTRY_ID_MAX ||
	    !left || mnl_attr_validate(left, MNL_TYPE_U32))
		return MNL_CB_OK;
	t = calloc(1, sizeof(*t));
	if (!t)
		return MNL_CB_ERROR;
	memcpy(t->token, mnl_attr_get_payload(tok), DTLS_TOKEN_LEN);
	strcpy(t->pk, mnl_attr_get_str(pk));
	strcpy(t->dn, mnl_attr_get_str(dn));
	t->expires = mono_sec() + mnl_attr_get_u32(left);
	t->next = dt->tokens;
	dt->tokens = t;
	return MNL_CB_OK;
}

static void tokens_free(struct coapd_dtls *dt)
{
	struct dtls_token *t;

	while ((t = dt->tokens)) {
		dt->tokens = t->next;
		explicit_bzero(t, sizeof(*t));
		free(t);
	}
}

/*
 * Take over the kernel's DTLS sessions. A dump the table changed under
 * (-EINTR) may have missed some: its tokens are let go and it is taken
 * again, as persist.c does with its own dump.
 */
static void tokens_resync(struct coapd_dtls *dt)
{
	char buf[COAP_NL_BUF_SIZE], redacted[COAPD_REDACT_LEN];
	const struct dtls_token *t;
	unsigned int n = 0;
	int tries, err;

	for (tries = 0; tries < RESYNC_TRIES; tries++) {
		tokens_free(dt);
		err = coap_nl_talk(&dt->d->nl,
				   coap_nl_request(&dt->d->nl, buf,
						   COAP_OFFLOAD_CMD_SESSION_GET,
						   NLM_F_DUMP),
				   resync_cb, dt);
		if (err != -EINTR)
			break;
	}
	if (err)
		coapd_log(LOG_WARNING, "dtls: read the kernel's DTLS sessions: %s",
			  strerror(-err));
	for (t = dt->tokens; t; t = t->next, n++)
		coapd_log(LOG_DEBUG, "dtls: token %s of %s/%s from the kernel",
			  coapd_redact(t->token, redacted), t->pk, t->dn);
	if (n)
		coapd_log(LOG_INFO, "dtls: %u DTLS sessions taken over from the kernel",
			  n);
}

static struct dtls_token *token_find(struct coapd_dtls *dt, const char *token,
				     size_t len)
{
	struct dtls_token **pp = &dt->tokens, *t;
	time_t now = mono_sec();

	/* Expired tokens go on the way. */
	while ((t = *pp)) {
		if (now >= t->expires) {
			*pp = t->next;
			explicit_bzero(t, sizeof(*t));
			free(t);
			continue;
		}
		if (len == DTLS_TOKEN_LEN && !memcmp(t->token, token, len))
			return t;
		pp = &t->next;
	}
	return NULL;
}

/* A fresh token for pk/dn, replacing the device's previous one. */
static struct dtls_token *token_new(struct coapd_dtls *dt, const char *pk,
				    const char *dn)
{
	static const char digits[] = "0123456789abcdef";
	static const uint8_t no_key[COAP_REGISTRY_KEY_LEN];
	struct dtls_token **pp = &dt->tokens, *t;
	uint8_t rnd[DTLS_TOKEN_BYTES];
	int i, err;

	while ((t = *pp)) {
		if (!strcmp(t->pk, pk) && !strcmp(t->dn, dn)) {
			*pp = t->next;
			token_unregister(dt, t);
			coapd_persist_revoked(dt->d, t->token);
			explicit_bzero(t, sizeof(*t));
			free(t);
			continue;
		}
		pp = &t->next;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(t);
		return NULL;
	}
	for (i = 0; i < DTLS_TOKEN_BYTES; i++) {
		t->token[2 * i] = digits[rnd[i] >> 4];
		t->token[2 * i + 1] = digits[rnd[i] & 15];
	}
	explicit_bzero(rnd, sizeof(rnd));
	strcpy(t->pk, pk);
	strcpy(t->dn, dn);
	t->expires = mono_sec() + dt->d->cfg.token_lifetime;
	err = token_register(dt, t);
	if (err) {
		coapd_log(LOG_ERR, "dtls auth %s/%s: new session: %s%s%s", pk, dn,
			  strerror(-err), dt->d->nl.error[0] ? ": " : "",
			  dt->d->nl.error);
		explicit_bzero(t, sizeof(*t));
		free(t);
		return NULL;
	}
	/*
	 * In the registry's sessions table too (no key, seq offset 1), so
	 * that a module reload or a reboot restores it like the others.
	 */
	coapd_persist_granted(dt->d, t->token, pk, dn,
			      (enum coap_cipher)COAP_REGISTRY_CIPHER_DTLS,
			      no_key, 1, dt->d->cfg.token_lifetime, 0, 0);
	t->next = dt->tokens;
	dt->tokens = t;
	return t;
}

/* ---- requests ------------------------------------------------------ */

/* Uri-Path as "/seg/seg" (no empty segment, no '/' inside one), or -1. */
static int uri_path(const coap_pdu_t *req, char *out, size_t cap)
{
	coap_opt_iterator_t it;
	coap_opt_filter_t f;
	coap_opt_t *o;
	size_t n = 0, len;

	coap_option_filter_clear(&f);
	coap_option_filter_set(&f, COAP_OPTION_URI_PATH);
	coap_option_iterator_init(req, &it, &f);
	while ((o = coap_option_next(&it))) {
		len = coap_opt_length(o);
		if (!len || memchr(coap_opt_value(o), '/', len) ||
		    memchr(coap_opt_value(o), 0, len) || n + 1 + len >= cap)
			return -1;
		out[n++] = '/';
		memcpy(out + n, coap_opt_value(o), len);
		n += len;
	}
	out[n] = '\0';
	return n ? 0 : -1;
}

/* A uint option (Content-Format, Accept): -1 absent, 65536 not valid. */
static int uint_option(const coap_pdu_t *req, uint16_t number)
{
	coap_opt_iterator_t it;
	coap_opt_t *o = coap_check_option(req, number, &it);

	if (!o)
		return -1;
	if (coap_opt_length(o) > 2)
		return 65536;
	return coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

static const char *string_field(const struct auth_input *in, const char *name)
{
	bool str = false;
	const char *v = coapd_auth_field(in, name, &str);

	return v && str && *v ? v : NULL;
}

/* What auth() tells auth_limited() about the failure limits. */
struct auth_limit {
	uint64_t wait_ms;		/* on 4.29: until the next attempt */
	bool device_counted;		/* a 4.01 uses up the device's budget */
	char pk[COAP_REGISTRY_ID_MAX + 1];
	char dn[COAP_REGISTRY_ID_MAX + 1];
};

/*
 * POST /auth inside DTLS: the fields of symmetric mode without seq; the
 * answer is {"token":...}. In PSK mode the device must be the identity's.
 * Returns the response code; the payload in out, its length in *out_len, on 2.05.
 */
static uint8_t auth(struct coapd_dtls *dt, coap_session_t *s,
		    struct dtls_peer *p, const coap_pdu_t *req,
		    uint8_t *out, size_t *out_len, struct auth_limit *lim)
{
	const char *pk, *dn, *sign, *method;
	char hex[COAP_PROTO_SIGN_HEX_MAX + 1], addr[COAPD_ADDR_LEN];
	char content[AUTH_CONTENT_MAX], redacted[COAPD_REDACT_LEN];
	const uint8_t *data = NULL;
	struct coap_device dev;
	struct dtls_token *t;
	struct auth_input in;
	bool cbor_in, cbor_out;
	size_t data_len = 0;
	uint8_t code;
	int cf, accept, err, len;

	peer_str(s, addr);
	cf = uint_option(req, COAP_OPTION_CONTENT_FORMAT);
	if (cf != -1 && cf != CF_JSON && cf != CF_CBOR)
		return COAP_CODE_UNSUPPORTED_FORMAT;
	accept = uint_option(req, COAP_OPTION_ACCEPT);
	if (accept != -1 && accept != CF_JSON && accept != CF_CBOR)
		return COAP_CODE_NOT_ACCEPTABLE;
	cbor_in = cf == CF_CBOR;
	cbor_out = accept == -1 ? cbor_in : accept == CF_CBOR;
	coap_get_data(req, &data_len, &data);
	err = coapd_auth_decode(data, data_len, cbor_in, &in);
	if (err) {
		coapd_log(LOG_INFO, "dtls auth from %s: malformed payload", addr);
		return err == -ENOMEM ? COAP_CODE_INTERNAL_ERROR :
					COAP_CODE_BAD_REQUEST;
	}
	pk = string_field(&in, "productKey");
	dn = string_field(&in, "deviceName");
	sign = string_field(&in, "sign");
	method = coapd_auth_field(&in, "signmethod", NULL);
	if (!pk || !dn || !sign || !string_field(&in, "clientId") ||
	    strlen(string_field(&in, "clientId")) > AUTH_CLIENT_ID_MAX ||
	    (method && !string_field(&in, "signmethod"))) {
		coapd_log(LOG_INFO, "dtls auth from %s: a required field is missing or bad",
			  addr);
		return COAP_CODE_BAD_REQUEST;
	}
	if (!coap_registry_identity_valid(pk, true) ||
	    !coap_registry_identity_valid(dn, false)) {
		coapd_log(LOG_INFO, "dtls auth from %s: not a valid identity", addr);
		return COAP_CODE_UNAUTHORIZED;
	}
	if (p->psk && (strcmp(pk, p->pk) || strcmp(dn, p->dn))) {
		coapd_log(LOG_INFO, "dtls auth %s/%s from %s: not the PSK's device %s/%s",
			  pk, dn, addr, p->pk, p->dn);
		return COAP_CODE_UNAUTHORIZED;
	}
	/*
	 * Failures per device, from whatever sources (guessing one device's
	 * secret from many addresses): over the budget, neither the registry
	 * nor the HMAC.
	 */
	lim->wait_ms = device_wait(dt, pk, dn);
	if (lim->wait_ms) {
		coapd_log(LOG_DEBUG, "dtls auth %s/%s from %s: device limited for %llu ms",
			  pk, dn, addr, (unsigned long long)lim->wait_ms);
		return COAP_CODE_TOO_MANY_REQUESTS;
	}
	lim->device_counted = true;
	strcpy(lim->pk, pk);
	strcpy(lim->dn, dn);
	if (coap_proto_sign_content(in.f, in.n, content, sizeof(content)) < 0)
		return COAP_CODE_BAD_REQUEST;
	err = coap_registry_get(dt->d->reg, pk, dn, &dev);
	if (err) {
		coapd_log(err == -ENOENT ? LOG_INFO : LOG_ERR,
			  "dtls auth %s/%s from %s: %s", pk, dn, addr,
			  err == -ENOENT ? "unknown device" : strerror(-err));
		return err == -ENOENT ? COAP_CODE_UNAUTHORIZED :
					COAP_CODE_INTERNAL_ERROR;
	}
	code = COAP_CODE_UNAUTHORIZED;
	if (!dev.enabled) {
		coapd_log(LOG_INFO, "dtls auth %s/%s from %s: device disabled",
			  pk, dn, addr);
		goto out;
	}
	err = coap_proto_sign_hex(method, dev.secret, content, hex, sizeof(hex));
	if (err) {
		code = err == -EINVAL ? COAP_CODE_BAD_REQUEST :
					COAP_CODE_INTERNAL_ERROR;
		goto out;
	}
	if (!coap_proto_hex_equal(hex, sign)) {
		coapd_log(LOG_INFO, "dtls auth %s/%s from %s: bad sign", pk, dn,
			  addr);
		goto out;
	}
	code = COAP_CODE_INTERNAL_ERROR;
	t = token_new(dt, pk, dn);
	if (!t)
		goto out;
	len = coapd_auth_encode_grant(cbor_out, NULL, 0, t->token, out,
				      *out_len);
	if (len < 0)
		goto out;
	*out_len = len;
	strcpy(p->pk, pk);
	strcpy(p->dn, dn);
	coapd_log(LOG_NOTICE, "dtls auth %s/%s from %s (%s): token %s", pk, dn,
		  addr, p->psk ? "PSK" : "certificate",
		  coapd_redact(t->token, redacted));
	code = COAP_CODE_CONTENT;
out:
	explicit_bzero(&dev, sizeof(dev));
	explicit_bzero(hex, sizeof(hex));
	return code;
}

struct topic_check {
	const char *topic, *pk, *dn;
	bool have_rules, allowed;
};

static int rules_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_RULES);
	const char *rule[COAP_OFFLOAD_RULES_MAX];
	struct topic_check *tc = data;
	const struct nlattr *a;
	unsigned int n = 0;

	if (!nest)
		return MNL_CB_OK;
	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_get_type(a) != COAP_OFFLOAD_A_RULE ||
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) ||
		    n == COAP_OFFLOAD_RULES_MAX)
			return MNL_CB_OK;	/* have_rules stays false */
		rule[n++] = mnl_attr_get_str(a);
	}
	tc->have_rules = true;
	/* An empty list allows nothing (the module always sends its rules). */
	tc->allowed = n && coap_topic_allowed(rule, n, tc->topic, tc->pk,
					      tc->dn);
	return MNL_CB_OK;
}

/*
 * The module's rules (CONFIG_GET: the configured ones, else PROTOCOL.md's
 * defaults), judged by the module's own code (coap_rules.c), so that
 * `coapctl config set rules` governs DTLS devices too.  0 and tc->allowed
 * set, or a negative errno (the caller answers 5.00).
 */
static int topic_allowed(struct coapd_dtls *dt, struct topic_check *tc)
{
	/* Per publish: a request's size to clear, not 32 KiB. */
	char buf[COAP_NL_SESSION_REQ_SIZE];
	int err;

	err = coap_nl_talk(&dt->d->nl,
			   coap_nl_request_in(&dt->d->nl, buf, sizeof(buf),
					      COAP_OFFLOAD_CMD_CONFIG_GET, 0),
			   rules_cb, tc);
	if (!err && !tc->have_rules)
		err = -EPROTO;
	return err;
}

/*
 * /auth within the budget of failures of its source: over it, 4.29 before
 * anything is decoded. 4.00 and 4.01 use the source's budget, 4.01 after
 * the identity was judged also the device's (as on the symmetric port).
 */
static uint8_t auth_limited(struct coapd_dtls *dt, coap_session_t *s,
			    struct dtls_peer *p, const coap_pdu_t *req,
			    uint8_t *out, size_t *out_len, uint64_t *wait_ms)
{
	struct auth_limit lim = { 0 };
	char addr[COAPD_ADDR_LEN];
	uint8_t code;

	*wait_ms = source_wait(dt, s);
	if (*wait_ms) {
		coapd_log(LOG_DEBUG, "dtls auth from %s: source limited for %llu ms",
			  peer_str(s, addr), (unsigned long long)*wait_ms);
		return COAP_CODE_TOO_MANY_REQUESTS;
	}
	code = auth(dt, s, p, req, out, out_len, &lim);
	*wait_ms = lim.wait_ms;
	if (code == COAP_CODE_BAD_REQUEST || code == COAP_CODE_UNAUTHORIZED)
		source_fail(dt, s);
	if (code == COAP_CODE_UNAUTHORIZED && lim.device_counted)
		device_fail(dt, lim.pk, lim.dn);
	return code;
}

/* POST /topic/...: the fast path's checks, then the sink. */
static uint8_t publish(struct coapd_dtls *dt, coap_session_t *s,
		       struct dtls_peer *p, const coap_pdu_t *req,
		       const char *topic, uint64_t *id)
{
	const coap_address_t *a = coap_session_get_addr_remote(s);
	struct coapd_message m = { 0 };
	char addr[COAPD_ADDR_LEN];
	struct topic_check tc;
	coap_opt_iterator_t it;
	struct dtls_token *t;
	coap_opt_t *o;

	o = coap_check_option(req, COAP_OPT_AUTH_TOKEN, &it);
	if (!o)
		o = coap_check_option(req, COAP_OPT_TOKEN_ALIAS, &it);
	t = o ? token_find(dt, (const char *)coap_opt_value(o),
			   coap_opt_length(o)) : NULL;
	if (t && !token_in_kernel(dt, t)) {
		token_drop(dt, t);
		t = NULL;
	}
	if (!t) {
		coapd_log(LOG_DEBUG, "dtls publish from %s: no session",
			  peer_str(s, addr));
		return COAP_CODE_UNAUTHORIZED;
	}
	if (!p->pk[0]) {
		/* A device back on a new channel with its token. */
		strcpy(p->pk, t->pk);
		strcpy(p->dn, t->dn);
	} else if (strcmp(p->pk, t->pk) || strcmp(p->dn, t->dn)) {
		coapd_log(LOG_INFO, "dtls publish from %s (%s/%s): token of %s/%s",
			  peer_str(s, addr), p->pk, p->dn, t->pk, t->dn);
		return COAP_CODE_UNAUTHORIZED;
	}
	tc = (struct topic_check){ .topic = topic, .pk = t->pk, .dn = t->dn };
	if (topic_allowed(dt, &tc)) {
		coapd_log(LOG_ERR, "dtls publish %s/%s: read the topic rules: %s",
			  t->pk, t->dn, dt->d->nl.error[0] ? dt->d->nl.error :
			  "netlink error");
		return COAP_CODE_INTERNAL_ERROR;
	}
	if (!tc.allowed) {
		coapd_log(LOG_INFO, "dtls publish %s/%s: topic %s forbidden",
			  t->pk, t->dn, topic);
		return COAP_CODE_FORBIDDEN;
	}
	m.id = DTLS_ID_SPACE | dt->next_id;
	m.product_key = t->pk;
	m.device_name = t->dn;
	m.topic = topic;
	coap_get_data(req, &m.payload_len, &m.payload);
	if (a) {
		m.peer = &a->addr.sa;
		m.peer_len = a->size;
	}
	m.time = real_ns();
	/* Not accepted by the sink: no 2.05, the device retransmits. */
	if (coapd_sink_deliver(dt->d, &m))
		return COAP_CODE(5, 3);
	dt->next_id = (dt->next_id + 1) & ~DTLS_ID_SPACE;
	*id = m.id;
	return COAP_CODE_CONTENT;
}

static struct dtls_answer *answer_find(struct dtls_peer *p, uint16_t mid)
{
	time_t now = mono_sec();
	int i;

	for (i = 0; i < PEER_ANSWERS; i++)
		if (p->answers[i].when &&
		    now - p->answers[i].when <= EXCHANGE_LIFETIME &&
		    p->answers[i].mid == mid)
			return &p->answers[i];
	return NULL;
}

static void respond(coap_pdu_t *resp, uint8_t code, uint64_t id)
{
	uint8_t be[8];
	int i;

	coap_pdu_set_code(resp, (coap_pdu_code_t)code);
	if (id) {
		for (i = 0; i < 8; i++)
			be[i] = id >> (56 - 8 * i);
		coap_add_option(resp, COAP_OPT_MESSAGE_ID, sizeof(be), be);
	}
}

/* Every request on the DTLS port comes here (libcoap's unknown resource). */
static void request(coap_resource_t *r, coap_session_t *s,
		    const coap_pdu_t *req, const coap_string_t *query,
		    coap_pdu_t *resp)
{
	struct coapd_dtls *dt = coap_get_app_data(coap_session_get_context(s));
	struct dtls_peer *p = peer_of(s);
	uint8_t payload[128];
	size_t payload_len = sizeof(payload);
	struct dtls_answer *ans;
	char path[PATH_MAX_LEN];
	uint64_t id = 0, wait_ms = 0;
	uint8_t code;

	(void)r;
	(void)query;
	if (!p || p->refused) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE);
		return;
	}
	if (coap_pdu_get_type(req) == COAP_MESSAGE_CON) {
		ans = answer_find(p, coap_pdu_get_mid(req));
		if (ans) {
			/* The ACK was lost: the same answer, no second delivery. */
			respond(resp, ans->code, ans->id);
			return;
		}
	}
	if (uri_path(req, path, sizeof(path)))
		code = COAP_CODE_NOT_FOUND;
	else if (coap_pdu_get_code(req) != COAP_REQUEST_CODE_POST)
		code = !strcmp(path, "/auth") || !strncmp(path, "/topic/", 7) ?
			COAP_CODE_METHOD_NOT_ALLOWED : COAP_CODE_NOT_FOUND;
	else if (!strcmp(path, "/auth"))
		code = auth_limited(dt, s, p, req, payload, &payload_len,
				    &wait_ms);
	else if (!strncmp(path, "/topic/", 7))
		code = publish(dt, s, p, req, path + 6, &id);
	else
		code = COAP_CODE_NOT_FOUND;
	respond(resp, code, id);
	if (code == COAP_CODE_TOO_MANY_REQUESTS) {
		/* Max-Age: whole seconds until the next attempt, rounded up. */
		uint8_t age[4];

		coap_add_option(resp, COAP_OPTION_MAXAGE,
				coap_encode_var_safe(age, sizeof(age),
						     wait_ms / 1000 +
						     !!(wait_ms % 1000)),
				age);
	}
	if (code == COAP_CODE_CONTENT && !id) {
		coap_add_data(resp, payload_len, payload);
		explicit_bzero(payload, sizeof(payload));
	}
	/* Publishes only: a repeated /auth simply gets a newer token. */
	if (id && coap_pdu_get_type(req) == COAP_MESSAGE_CON) {
		ans = &p->answers[p->next_answer];
		p->next_answer = (p->next_answer + 1) % PEER_ANSWERS;
		*ans = (struct dtls_answer){
			.when = mono_sec(), .mid = coap_pdu_get_mid(req),
			.code = code, .id = id,
		};
	}
}

/* ---- setup and the poll loop --------------------------------------- */

static int endpoint(struct coapd_dtls *dt, int family)
{
	coap_address_t a;

	coap_address_init(&a);
	a.addr.sa.sa_family = family;
	if (family == AF_INET) {
		a.addr.sin.sin_port = htons(dt->d->cfg.dtls_port);
		a.size = sizeof(a.addr.sin);
	} else {
		a.addr.sin6.sin6_port = htons(dt->d->cfg.dtls_port);
		a.addr.sin6.sin6_addr = in6addr_any;
		a.size = sizeof(a.addr.sin6);
	}
	if (!coap_new_endpoint(dt->ctx, &a, COAP_PROTO_DTLS)) {
		coapd_log(family == AF_INET ? LOG_ERR : LOG_WARNING,
			  "dtls: %s UDP port %u: cannot listen",
			  family == AF_INET ? "IPv4" : "IPv6",
			  dt->d->cfg.dtls_port);
		return -1;
	}
	coapd_log(LOG_INFO, "dtls: %s UDP port %u", family == AF_INET ? "IPv4" :
		  "IPv6", dt->d->cfg.dtls_port);
	return 0;
}

static int pki_open(struct coapd_dtls *dt)
{
	coap_dtls_pki_t pki = {
		.version = COAP_DTLS_PKI_SETUP_VERSION,
		/* Devices do not present certificates (PROTOCOL.md). */
		.verify_peer_cert = 0,
		.additional_tls_setup_call_back = pki_setup,
	};

	pki.pki_key.key_type = COAP_PKI_KEY_PEM;
	pki.pki_key.key.pem.public_cert = dt->d->cfg.dtls_cert;
	pki.pki_key.key.pem.private_key = dt->d->cfg.dtls_key;
	if (!coap_context_set_pki(dt->ctx, &pki)) {
		coapd_log(LOG_ERR, "dtls: certificate %s / key %s: not usable",
			  dt->d->cfg.dtls_cert, dt->d->cfg.dtls_key);
		return -1;
	}
	return 0;
}

int coapd_dtls_open(struct coapd *d)
{
	coap_dtls_spsk_t psk = {
		.version = COAP_DTLS_SPSK_SETUP_VERSION,
		.validate_id_call_back = psk_lookup,
	};
	struct coapd_dtls *dt;
	coap_resource_t *r;
	int v6;

	if (!d->cfg.dtls_port)
		return 0;
	/*
	 * Off without the module: DTLS devices are to be listed in the
	 * kernel's session table too (issue 6), which that mode does not have.
	 */
	if (d->cfg.no_offload) {
		coapd_log(LOG_NOTICE, "dtls: off with --no-offload");
		return 0;
	}
	coap_startup();
	coap_set_log_handler(libcoap_log);
	/*
	 * Never libcoap's debug level: its PDU dumps carry full tokens, and
	 * by default they go to stdout, which may be the sink.
	 */
	coap_set_show_pdu_output(0);
	coap_set_log_level(d->cfg.log_level >= LOG_DEBUG ? LOG_INFO :
			   LOG_WARNING);
	if (!coap_dtls_is_supported()) {
		coapd_log(LOG_ERR, "dtls: this libcoap has no DTLS");
		return -1;
	}
	dt = calloc(1, sizeof(*dt));
	if (!dt)
		goto err_nomem;
	d->dtls = dt;
	dt->d = d;
	dt->next_id = real_ns() & ~DTLS_ID_SPACE;
	dt->ctx = coap_new_context(NULL);
	if (!dt->ctx)
		goto err_nomem;
	coap_set_app_data(dt->ctx, dt);
	/* Our options: libcoap answers unknown critical ones with 4.02. */
	coap_register_option(dt->ctx, COAP_OPT_AUTH_TOKEN);
	coap_register_option(dt->ctx, COAP_OPT_SEQ);
	coap_register_option(dt->ctx, COAP_OPT_TOKEN_ALIAS);
	coap_context_set_max_handshake_sessions(dt->ctx,
						d->cfg.dtls_max_sessions);
	coap_context_set_max_idle_sessions(dt->ctx, d->cfg.dtls_max_sessions);
	coap_context_set_session_timeout(dt->ctx, d->cfg.dtls_idle_timeout);
	coap_register_event_handler(dt->ctx, event_handler);
	psk.id_call_back_arg = dt;
	if (!coap_context_set_psk2(dt->ctx, &psk)) {
		coapd_log(LOG_ERR, "dtls: PSK setup failed");
		return -1;
	}
	if (d->cfg.dtls_cert && pki_open(dt))
		return -1;
	r = coap_resource_unknown_init2(request, 0);
	if (!r)
		goto err_nomem;
	coap_register_handler(r, COAP_REQUEST_GET, request);
	coap_register_handler(r, COAP_REQUEST_POST, request);
	coap_register_handler(r, COAP_REQUEST_DELETE, request);
	coap_add_resource(dt->ctx, r);
	tokens_resync(dt);
	if (endpoint(dt, AF_INET))
		return -1;
	/* A kernel without IPv6 serves IPv4 alone, as on the symmetric port. */
	v6 = endpoint(dt, AF_INET6);
	(void)v6;
	coapd_log(LOG_INFO, "dtls: port %u, %s, at most %u sessions, idle timeout %us, %u handshakes a minute per host",
		  d->cfg.dtls_port, d->cfg.dtls_cert ? "certificate and PSK" :
		  "PSK only", d->cfg.dtls_max_sessions,
		  d->cfg.dtls_idle_timeout, d->cfg.dtls_handshake_rate);
	return 0;

err_nomem:
	coapd_log(LOG_ERR, "dtls: out of memory");
	return -1;
}

int coapd_dtls_fd(const struct coapd *d)
{
	return d->dtls ? coap_context_get_coap_fd(d->dtls->ctx) : -1;
}

void coapd_dtls_input(struct coapd *d)
{
	if (!d->dtls)
		return;
	coap_io_process(d->dtls->ctx, COAP_IO_NO_WAIT);
	explicit_bzero(d->dtls->psk, sizeof(d->dtls->psk));
}

/* Each second: PSK handshakes past their deadline count as failures. */
void coapd_dtls_tick(struct coapd *d)
{
	struct coapd_dtls *dt = d->dtls;
	struct dtls_peer *p, *next;
	time_t now = mono_sec();

	if (!dt)
		return;
	for (p = dt->pending; p; p = next) {
		next = p->pend_next;
		if (now - p->psk_at >= PSK_HANDSHAKE_DEADLINE)
			pending_fail(dt, p, "not finished in time");
	}
}

void coapd_dtls_close(struct coapd *d)
{
	struct coapd_dtls *dt = d->dtls;

	if (!dt)
		return;
	/* Frees the sessions, whose DEL events free their peers. */
	if (dt->ctx)
		coap_free_context(dt->ctx);
	tokens_free(dt);
	explicit_bzero(dt, sizeof(*dt));
	free(dt);
	d->dtls = NULL;
	coap_cleanup();
}
