/* SPDX-License-Identifier: GPL-2.0 */
/*
 * coapd --no-offload: the session table kept in user space, the same
 * sessions coap_offload.ko keeps in its rhashtable (kmod/session.c), with
 * the same limits: a token of 1..64 bytes, a bounded number of sessions, a
 * lifetime and an optional idle timeout, the 256-bit replay window and the
 * answers of recent CONs for their retransmissions.
 *
 * Pure logic (no I/O, no clock: callers pass "now" in milliseconds of a
 * monotonic clock), single-threaded, unit tested in
 * tests/unit/test_sessions.c.
 */
#ifndef COAPD_SESSIONS_H
#define COAPD_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <linux/coap_offload.h>
#include "coap/coap_replay.h"
#include "coap_proto.h"

/* As the module: answers remembered per session, and for how long. */
#define COAPD_ANSWER_CACHE		4
#define COAPD_EXCHANGE_LIFETIME_MS	(247 * 1000ULL)

/* An answer already sent, replayed to a retransmission of the same CON. */
struct coapd_answer {
	uint64_t message_id;		/* option 2090; 0: none */
	uint64_t sent;			/* ms; 0: free */
	uint16_t coap_mid;
	uint8_t code;
};

struct coapd_session {
	struct coapd_session *next;	/* hash chain */
	uint32_t hash;
	uint8_t token_len;
	uint8_t token[COAP_OFFLOAD_TOKEN_MAX];
	char product_key[COAP_OFFLOAD_IDENTITY_MAX + 1];
	char device_name[COAP_OFFLOAD_IDENTITY_MAX + 1];
	enum coap_cipher cipher;
	struct coap_proto_keyed *keyed;	/* keyed once, at creation */
	uint64_t expires;		/* ms */
	uint64_t idle_timeout;		/* ms; 0: none */
	uint64_t last_seen;		/* ms: creation, then each delivery */

	struct coap_replay replay;
	struct coapd_answer answers[COAPD_ANSWER_CACHE];
	uint8_t next_answer;
	uint64_t rx_packets, rx_bytes, replays, decrypt_errors, forbidden;
	/* Where the last delivered message came from (devices move). */
	struct sockaddr_in6 peer;	/* or a sockaddr_in in its place */
};

struct coapd_sessions {
	struct coapd_session **bucket;
	size_t mask;			/* buckets - 1 (a power of two) */
	size_t count, max;
	uint64_t expired;		/* sessions removed as expired, ever */
	uint64_t seed;			/* per table: chains are not guessable */
};

/* An empty table for at most max sessions. 0, -EINVAL or -ENOMEM. */
int coapd_sessions_init(struct coapd_sessions *t, size_t max);
/* Frees every session (keys wiped). */
void coapd_sessions_destroy(struct coapd_sessions *t);

/*
 * A new session, keyed and ready. lifetime_s >= 1; idle_s 0 for none.
 *   -EINVAL  token not 1..64 bytes, identity longer than 64 bytes, or bad
 *            cipher
 *   -EEXIST  the token is taken (even when the table is full)
 *   -ENOSPC  max sessions reached
 *   -ENOMEM
 */
int coapd_sessions_add(struct coapd_sessions *t, const void *token,
		       size_t token_len, const char *pk, const char *dn,
		       enum coap_cipher cipher,
		       const uint8_t key[COAP_PROTO_KEY_LEN],
		       uint64_t seq_offset, uint32_t lifetime_s,
		       uint32_t idle_s, uint64_t now);
/* 0 or -ENOENT. */
int coapd_sessions_del(struct coapd_sessions *t, const void *token,
		       size_t token_len);
/*
 * The session of token, or NULL when there is none or it has expired (an
 * expired one is removed on the way, as the module's reaper would).
 */
struct coapd_session *coapd_sessions_find(struct coapd_sessions *t,
					  const void *token, size_t token_len,
					  uint64_t now);
/* Remove every expired session; returns how many. */
size_t coapd_sessions_expire(struct coapd_sessions *t, uint64_t now);

bool coapd_session_expired(const struct coapd_session *s, uint64_t now);

/* The answer to an earlier copy of this CON within the exchange lifetime. */
const struct coapd_answer *
coapd_session_find_answer(const struct coapd_session *s, uint16_t coap_mid,
			  uint64_t now);
/* Remember an answer (the oldest of the COAPD_ANSWER_CACHE goes). */
void coapd_session_remember_answer(struct coapd_session *s, uint16_t coap_mid,
				   uint8_t code, uint64_t message_id,
				   uint64_t now);

#endif /* COAPD_SESSIONS_H */
