// SPDX-License-Identifier: GPL-2.0
/* A set of session tokens as 64-bit hashes (see tokenset.h). */
#include <errno.h>
#include <stdlib.h>

#include "tokenset.h"

uint64_t coapd_token_fnv(const char *p, size_t len, bool *nul)
{
	uint64_t h = 14695981039346656037ULL;
	bool zero = false;

	while (len--) {
		zero |= !*p;
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	}
	if (nul)
		*nul = zero;
	return h;
}

/* 0 marks a free slot, so a token never hashes to it. */
static uint64_t key(uint64_t fnv)
{
	return fnv ? fnv : 1;
}

static uint64_t token_hash(const char *p, size_t len)
{
	return key(coapd_token_fnv(p, len, NULL));
}

static size_t home(uint64_t h, size_t cap)
{
	/* The high bits: FNV's low bits alone mix less. */
	return (size_t)((h >> 32) ^ h) & (cap - 1);
}

static size_t slot(const uint64_t *tab, size_t cap, uint64_t h)
{
	size_t i = home(h, cap);

	while (tab[i] && tab[i] != h)
		i = (i + 1) & (cap - 1);
	return i;
}

int coapd_tokenset_add(struct coapd_tokenset *t, const char *token,
		       size_t len)
{
	uint64_t h = token_hash(token, len), *tab;
	size_t cap, i;

	/* At most half full: probes stay short. */
	if (2 * (t->n + 1) > t->cap) {
		cap = t->cap ? 2 * t->cap : 1024;
		tab = calloc(cap, sizeof(*tab));
		if (!tab)
			return -ENOMEM;
		for (i = 0; i < t->cap; i++)
			if (t->h[i])
				tab[slot(tab, cap, t->h[i])] = t->h[i];
		free(t->h);
		t->h = tab;
		t->cap = cap;
	}
	i = slot(t->h, t->cap, h);
	if (!t->h[i]) {
		t->h[i] = h;
		t->n++;
	}
	return 0;
}

bool coapd_tokenset_has_fnv(const struct coapd_tokenset *t, uint64_t fnv)
{
	return t->cap && t->h[slot(t->h, t->cap, key(fnv))];
}

bool coapd_tokenset_has(const struct coapd_tokenset *t, const char *token,
			size_t len)
{
	return coapd_tokenset_has_fnv(t, coapd_token_fnv(token, len, NULL));
}

void coapd_tokenset_del(struct coapd_tokenset *t, const char *token,
			size_t len)
{
	size_t i, j, mask = t->cap - 1;

	if (!t->cap)
		return;
	i = slot(t->h, t->cap, token_hash(token, len));
	if (!t->h[i])
		return;
	t->h[i] = 0;
	t->n--;
	/*
	 * Move back each later entry of the run whose home is not between
	 * the hole and it, so that every probe still reaches what it seeks.
	 */
	for (j = (i + 1) & mask; t->h[j]; j = (j + 1) & mask) {
		if (((j - home(t->h[j], t->cap)) & mask) >= ((j - i) & mask)) {
			t->h[i] = t->h[j];
			t->h[j] = 0;
			i = j;
		}
	}
}

void coapd_tokenset_free(struct coapd_tokenset *t)
{
	free(t->h);
	t->h = NULL;
	t->cap = t->n = 0;
}
