// SPDX-License-Identifier: GPL-2.0
/*
 * Rate limits of /auth failures (ratelimit.h). One preallocated array of
 * entries, a hash table over it and a least-recently-failed list through it:
 * memory is fixed at creation whatever an attacker sends.
 *
 * GCRA: each entry keeps a theoretical arrival time (tat). A failure moves
 * it to max(tat, now) + interval; the key is limited while tat - now exceeds
 * (burst - 1) intervals, i.e. after `burst` failures in a row it waits one
 * interval per further failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "ratelimit.h"

#define NONE		UINT32_MAX
/* Identities longer than this are cut (coapd passes validated ones, <= 64). */
#define ID_MAX		128

struct rl_entry {
	uint8_t key[RATELIMIT_KEY_LEN];
	uint64_t tat;			/* ms */
	uint32_t hnext;			/* next in the hash chain */
	uint32_t prev, next;		/* least-recently-failed list */
};

struct ratelimit {
	uint32_t size, used;
	uint64_t interval;		/* ms per failure regained */
	uint64_t slack;			/* (burst - 1) * interval */
	uint32_t mask;			/* buckets - 1 */
	uint32_t *bucket;
	uint32_t newest, oldest;
	uint64_t evicted_limited;
	uint8_t secret[16];
	struct rl_entry e[];
};

struct ratelimit *ratelimit_new(unsigned int entries, unsigned int burst,
				unsigned int per_minute)
{
	struct ratelimit *rl;
	uint32_t buckets = 1;

	if (!entries || entries > (1U << 24) || !burst || !per_minute ||
	    per_minute > 60000) {
		errno = EINVAL;
		return NULL;
	}
	while (buckets < entries)
		buckets <<= 1;
	rl = calloc(1, sizeof(*rl) + entries * sizeof(rl->e[0]));
	if (!rl)
		return NULL;
	rl->bucket = malloc(buckets * sizeof(rl->bucket[0]));
	if (!rl->bucket ||
	    getrandom(rl->secret, sizeof(rl->secret), 0) != sizeof(rl->secret)) {
		ratelimit_free(rl);
		return NULL;
	}
	memset(rl->bucket, 0xff, buckets * sizeof(rl->bucket[0]));
	rl->size = entries;
	rl->mask = buckets - 1;
	rl->interval = (60000 + per_minute - 1) / per_minute;
	rl->slack = (uint64_t)(burst - 1) * rl->interval;
	rl->newest = rl->oldest = NONE;
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (rl)
		free(rl->bucket);
	free(rl);
}

/* SHA-256 of the table's secret, a domain tag and data, cut to a key. */
static void key_hash(const struct ratelimit *rl, char tag, const void *data,
		     size_t len, uint8_t key[RATELIMIT_KEY_LEN])
{
	uint8_t buf[sizeof(rl->secret) + 1 + 2 * (ID_MAX + 1)];
	uint8_t md[EVP_MAX_MD_SIZE];

	memcpy(buf, rl->secret, sizeof(rl->secret));
	buf[sizeof(rl->secret)] = tag;
	memcpy(buf + sizeof(rl->secret) + 1, data, len);
	/* Cannot fail for SHA-256 short of memory; then all keys collide. */
	if (!EVP_Digest(buf, sizeof(rl->secret) + 1 + len, md, NULL,
			EVP_sha256(), NULL))
		memset(md, 0, sizeof(md));
	memcpy(key, md, RATELIMIT_KEY_LEN);
}

bool ratelimit_key_source(const struct ratelimit *rl,
			  const struct sockaddr *sa, socklen_t len,
			  uint8_t key[RATELIMIT_KEY_LEN])
{
	const struct sockaddr_in6 *a6 = (const void *)sa;
	const struct sockaddr_in *a4 = (const void *)sa;
	uint8_t id[1 + 8];

	if (sa->sa_family == AF_INET && len >= sizeof(*a4)) {
		id[0] = 4;
		memcpy(id + 1, &a4->sin_addr, 4);
		key_hash(rl, 's', id, 1 + 4, key);
		return true;
	}
	if (sa->sa_family != AF_INET6 || len < sizeof(*a6))
		return false;
	/* A v4-mapped address (a dual-stack socket) is that IPv4 source. */
	if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		id[0] = 4;
		memcpy(id + 1, &a6->sin6_addr.s6_addr[12], 4);
		key_hash(rl, 's', id, 1 + 4, key);
		return true;
	}
	/*
	 * The /64: SLAAC and privacy addresses give every host 2^64 of them,
	 * so a per-address limit would cost an attacker nothing. Hosts of
	 * one /64 share a budget, as hosts behind one IPv4 NAT do.
	 */
	id[0] = 6;
	memcpy(id + 1, a6->sin6_addr.s6_addr, 8);
	key_hash(rl, 's', id, 1 + 8, key);
	return true;
}

void ratelimit_key_device(const struct ratelimit *rl, const char *product_key,
			  const char *device_name,
			  uint8_t key[RATELIMIT_KEY_LEN])
{
	size_t pk_len = strnlen(product_key, ID_MAX);
	size_t dn_len = strnlen(device_name, ID_MAX);
	char id[2 * (ID_MAX + 1)];

	/* The NUL keeps ("ab","c") and ("a","bc") apart. */
	memcpy(id, product_key, pk_len);
	id[pk_len] = '\0';
	memcpy(id + pk_len + 1, device_name, dn_len);
	key_hash(rl, 'd', id, pk_len + 1 + dn_len, key);
}

static uint32_t *chain_of(const struct ratelimit *rl,
			  const uint8_t key[RATELIMIT_KEY_LEN])
{
	uint32_t h;

	/* The key is a keyed hash already: any 32 bits of it will do. */
	memcpy(&h, key, sizeof(h));
	return &rl->bucket[h & rl->mask];
}

static uint32_t lookup(const struct ratelimit *rl,
		       const uint8_t key[RATELIMIT_KEY_LEN])
{
	uint32_t i;

	for (i = *chain_of(rl, key); i != NONE; i = rl->e[i].hnext)
		if (!memcmp(rl->e[i].key, key, RATELIMIT_KEY_LEN))
			return i;
	return NONE;
}

static void list_unlink(struct ratelimit *rl, uint32_t i)
{
	struct rl_entry *e = &rl->e[i];

	if (e->prev != NONE)
		rl->e[e->prev].next = e->next;
	else
		rl->newest = e->next;
	if (e->next != NONE)
		rl->e[e->next].prev = e->prev;
	else
		rl->oldest = e->prev;
}

static void list_push_newest(struct ratelimit *rl, uint32_t i)
{
	struct rl_entry *e = &rl->e[i];

	e->prev = NONE;
	e->next = rl->newest;
	if (rl->newest != NONE)
		rl->e[rl->newest].prev = i;
	else
		rl->oldest = i;
	rl->newest = i;
}

static void chain_unlink(struct ratelimit *rl, uint32_t i)
{
	uint32_t *p = chain_of(rl, rl->e[i].key);

	while (*p != i)
		p = &rl->e[*p].hnext;
	*p = rl->e[i].hnext;
}

static uint64_t entry_wait(const struct ratelimit *rl,
			   const struct rl_entry *e, uint64_t now)
{
	uint64_t debt = e->tat > now ? e->tat - now : 0;

	return debt > rl->slack ? debt - rl->slack : 0;
}

uint64_t ratelimit_wait(const struct ratelimit *rl,
			const uint8_t key[RATELIMIT_KEY_LEN], uint64_t now_ms)
{
	uint32_t i = lookup(rl, key);

	return i == NONE ? 0 : entry_wait(rl, &rl->e[i], now_ms);
}

/* A free entry, or the least recently failed one, taken out of the table. */
static uint32_t entry_take(struct ratelimit *rl, uint64_t now)
{
	uint32_t i;

	if (rl->used < rl->size)
		return rl->used++;
	i = rl->oldest;
	if (entry_wait(rl, &rl->e[i], now))
		rl->evicted_limited++;
	list_unlink(rl, i);
	chain_unlink(rl, i);
	return i;
}

bool ratelimit_fail(struct ratelimit *rl, const uint8_t key[RATELIMIT_KEY_LEN],
		    uint64_t now_ms)
{
	uint32_t i = lookup(rl, key), *chain;
	struct rl_entry *e;
	bool was_limited;

	if (i == NONE) {
		i = entry_take(rl, now_ms);
		e = &rl->e[i];
		memcpy(e->key, key, RATELIMIT_KEY_LEN);
		e->tat = now_ms;
		chain = chain_of(rl, key);
		e->hnext = *chain;
		*chain = i;
	} else {
		e = &rl->e[i];
		list_unlink(rl, i);
	}
	list_push_newest(rl, i);
	was_limited = entry_wait(rl, e, now_ms) > 0;
	if (e->tat < now_ms)
		e->tat = now_ms;
	e->tat += rl->interval;
	/* Failures while limited add no debt beyond one burst's worth. */
	if (e->tat - now_ms > rl->slack + rl->interval)
		e->tat = now_ms + rl->slack + rl->interval;
	return !was_limited && entry_wait(rl, e, now_ms) > 0;
}

void ratelimit_stats(const struct ratelimit *rl, struct ratelimit_stats *s)
{
	s->used = rl->used;
	s->evicted_limited = rl->evicted_limited;
}
