/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Rate limits of /auth failures, per key (a source network or a device
 * identity), in a table of bounded size. Pure logic: the caller passes the
 * time, so tests control it.
 *
 * Each key has a budget of `burst` failures that refills at `per_minute`
 * (GCRA, the token bucket's integer form). Only failures are recorded: a
 * key that never failed takes no room, and successes cost nothing. When the
 * table is full, a new key takes the place of the least recently failed one.
 */
#ifndef COAPD_RATELIMIT_H
#define COAPD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RATELIMIT_KEY_LEN	16

struct ratelimit;

/*
 * entries >= 1, burst >= 1, 1 <= per_minute <= 60000. NULL on a bad
 * argument (errno EINVAL) or without memory.
 */
struct ratelimit *ratelimit_new(unsigned int entries, unsigned int burst,
				unsigned int per_minute);
void ratelimit_free(struct ratelimit *rl);

/*
 * Keys: a hash keyed with the table's own random secret, so that nobody can
 * choose identities that pile up in one hash chain. A source is its IPv4
 * address, or the /64 of its IPv6 address (one host usually holds a whole
 * /64); the port is not part of it. false if sa is neither family.
 */
bool ratelimit_key_source(const struct ratelimit *rl,
			  const struct sockaddr *sa, socklen_t len,
			  uint8_t key[RATELIMIT_KEY_LEN]);
void ratelimit_key_device(const struct ratelimit *rl, const char *product_key,
			  const char *device_name,
			  uint8_t key[RATELIMIT_KEY_LEN]);

/* Milliseconds until key may fail again; 0: it may now. */
uint64_t ratelimit_wait(const struct ratelimit *rl,
			const uint8_t key[RATELIMIT_KEY_LEN], uint64_t now_ms);
/* Records one failure of key. true when this one used up its budget. */
bool ratelimit_fail(struct ratelimit *rl, const uint8_t key[RATELIMIT_KEY_LEN],
		    uint64_t now_ms);

struct ratelimit_stats {
	unsigned int used;		/* keys in the table */
	uint64_t evicted_limited;	/* pushed out while still limited */
};
void ratelimit_stats(const struct ratelimit *rl, struct ratelimit_stats *s);

#endif /* COAPD_RATELIMIT_H */
