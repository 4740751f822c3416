// SPDX-License-Identifier: GPL-2.0
/*
 * coapd --no-offload: the user-space session table; see sessions.h.
 *
 * Chained hashing over a power-of-two bucket array that doubles when the
 * table holds more sessions than buckets, so that a lookup touches about
 * one session whatever the size. The hash is seeded per table: tokens are
 * ours (random), but a lookup's token comes from the network.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sessions.h"

#define SESSIONS_MIN_BUCKETS	1024

static uint32_t token_hash(const struct coapd_sessions *t, const uint8_t *tok,
			   size_t len)
{
	uint64_t h = t->seed ^ 0xcbf29ce484222325ULL;
	size_t i;

	/* FNV-1a, then a full-avalanche finaliser (splitmix64). */
	for (i = 0; i < len; i++)
		h = (h ^ tok[i]) * 0x100000001b3ULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (uint32_t)h;
}

int coapd_sessions_init(struct coapd_sessions *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	if (!max)
		return -EINVAL;
	t->bucket = calloc(SESSIONS_MIN_BUCKETS, sizeof(*t->bucket));
	if (!t->bucket)
		return -ENOMEM;
	t->mask = SESSIONS_MIN_BUCKETS - 1;
	t->max = max;
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = (uintptr_t)t ^ 0x9e3779b97f4a7c15ULL;
	return 0;
}

static void session_free(struct coapd_session *s)
{
	coap_proto_keyed_free(s->keyed);
	/* Identity, token and peer: nothing to leave behind in the heap. */
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void coapd_sessions_destroy(struct coapd_sessions *t)
{
	struct coapd_session *s, *next;
	size_t i;

	if (!t->bucket)
		return;
	for (i = 0; i <= t->mask; i++) {
		for (s = t->bucket[i]; s; s = next) {
			next = s->next;
			session_free(s);
		}
	}
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

/* Double the buckets; on failure the table stays as it is (just slower). */
static void sessions_grow(struct coapd_sessions *t)
{
	size_t n = (t->mask + 1) * 2, i;
	struct coapd_session **b, *s, *next;

	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (i = 0; i <= t->mask; i++) {
		for (s = t->bucket[i]; s; s = next) {
			next = s->next;
			s->next = b[s->hash & (n - 1)];
			b[s->hash & (n - 1)] = s;
		}
	}
	free(t->bucket);
	t->bucket = b;
	t->mask = n - 1;
}

/* The link pointing at the session of token (*link is NULL when absent). */
static struct coapd_session **sessions_link(struct coapd_sessions *t,
					    const uint8_t *tok, size_t len,
					    uint32_t hash)
{
	struct coapd_session **link = &t->bucket[hash & t->mask];

	for (; *link; link = &(*link)->next) {
		const struct coapd_session *s = *link;

		if (s->hash == hash && s->token_len == len &&
		    !memcmp(s->token, tok, len))
			break;
	}
	return link;
}

int coapd_sessions_add(struct coapd_sessions *t, const void *token,
		       size_t token_len, const char *pk, const char *dn,
		       enum coap_cipher cipher,
		       const uint8_t key[COAP_PROTO_KEY_LEN],
		       uint64_t seq_offset, uint32_t lifetime_s,
		       uint32_t idle_s, uint64_t now)
{
	struct coapd_session *s, **link;
	uint32_t hash;

	if (!token || !token_len || token_len > COAP_OFFLOAD_TOKEN_MAX ||
	    !pk || !dn || strlen(pk) > COAP_OFFLOAD_IDENTITY_MAX ||
	    strlen(dn) > COAP_OFFLOAD_IDENTITY_MAX ||
	    !coap_proto_cipher_name(cipher) || !key || !lifetime_s)
		return -EINVAL;
	hash = token_hash(t, token, token_len);
	link = sessions_link(t, token, token_len, hash);
	if (*link)
		return -EEXIST;
	if (t->count >= t->max)
		return -ENOSPC;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->keyed = coap_proto_keyed_new(cipher, key);
	if (!s->keyed) {
		free(s);
		return -ENOMEM;
	}
	s->hash = hash;
	s->token_len = (uint8_t)token_len;
	memcpy(s->token, token, token_len);
	strcpy(s->product_key, pk);
	strcpy(s->device_name, dn);
	s->cipher = cipher;
	s->expires = now + (uint64_t)lifetime_s * 1000;
	s->idle_timeout = (uint64_t)idle_s * 1000;
	s->last_seen = now;
	coap_replay_init(&s->replay, seq_offset);

	s->next = *link;
	*link = s;
	if (++t->count > t->mask + 1)
		sessions_grow(t);
	return 0;
}

int coapd_sessions_del(struct coapd_sessions *t, const void *token,
		       size_t token_len)
{
	struct coapd_session **link, *s;

	if (!token || !token_len || token_len > COAP_OFFLOAD_TOKEN_MAX)
		return -ENOENT;
	link = sessions_link(t, token, token_len,
			     token_hash(t, token, token_len));
	s = *link;
	if (!s)
		return -ENOENT;
	*link = s->next;
	t->count--;
	session_free(s);
	return 0;
}

bool coapd_session_expired(const struct coapd_session *s, uint64_t now)
{
	return now >= s->expires ||
	       (s->idle_timeout && now - s->last_seen >= s->idle_timeout);
}

struct coapd_session *coapd_sessions_find(struct coapd_sessions *t,
					  const void *token, size_t token_len,
					  uint64_t now)
{
	struct coapd_session **link, *s;

	if (!token || !token_len || token_len > COAP_OFFLOAD_TOKEN_MAX)
		return NULL;
	link = sessions_link(t, token, token_len,
			     token_hash(t, token, token_len));
	s = *link;
	if (s && coapd_session_expired(s, now)) {
		*link = s->next;
		t->count--;
		t->expired++;
		session_free(s);
		return NULL;
	}
	return s;
}

size_t coapd_sessions_expire(struct coapd_sessions *t, uint64_t now)
{
	struct coapd_session **link, *s;
	size_t i, n = 0;

	for (i = 0; i <= t->mask; i++) {
		link = &t->bucket[i];
		while ((s = *link)) {
			if (!coapd_session_expired(s, now)) {
				link = &s->next;
				continue;
			}
			*link = s->next;
			t->count--;
			t->expired++;
			session_free(s);
			n++;
		}
	}
	return n;
}

const struct coapd_answer *
coapd_session_find_answer(const struct coapd_session *s, uint16_t coap_mid,
			  uint64_t now)
{
	int i;

	for (i = 0; i < COAPD_ANSWER_CACHE; i++) {
		const struct coapd_answer *a = &s->answers[i];

		if (a->sent && a->coap_mid == coap_mid &&
		    now - a->sent < COAPD_EXCHANGE_LIFETIME_MS)
			return a;
	}
	return NULL;
}

void coapd_session_remember_answer(struct coapd_session *s, uint16_t coap_mid,
				   uint8_t code, uint64_t message_id,
				   uint64_t now)
{
	struct coapd_answer *a = &s->answers[s->next_answer];

	s->next_answer = (s->next_answer + 1) % COAPD_ANSWER_CACHE;
	a->coap_mid = coap_mid;
	a->code = code;
	a->message_id = message_id;
	/* 0 marks a free slot: a clock reading of 0 still counts as sent. */
	a->sent = now ? now : 1;
}
