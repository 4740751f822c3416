/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A set of session tokens kept as 64-bit hashes (persist.c: the sessions
 * that have a registry row). Membership may be a false positive (two tokens
 * with one hash), never a false negative: a caller must only use it where a
 * false positive costs nothing but work. Open addressing, linear probing,
 * deletion by backward shift; 16 bytes a token at most, no token kept.
 */
#ifndef COAPD_TOKENSET_H
#define COAPD_TOKENSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct coapd_tokenset {
	uint64_t *h;		/* 0: a free slot */
	size_t cap, n;		/* cap: a power of two, or 0 */
};

/* 0, or -ENOMEM (the set is unchanged). */
int coapd_tokenset_add(struct coapd_tokenset *t, const char *token,
		       size_t len);
bool coapd_tokenset_has(const struct coapd_tokenset *t, const char *token,
			size_t len);
/*
 * How the set hashes a token: FNV-1a, 64 bits. A caller that hashes the
 * token anyway (persist.c, once per delivered message, for its seq map
 * too) asks with the hash: the same answer as coapd_tokenset_has(). In
 * the same pass, *nul (unless NULL) tells whether the token holds a NUL.
 */
uint64_t coapd_token_fnv(const char *token, size_t len, bool *nul);
bool coapd_tokenset_has_fnv(const struct coapd_tokenset *t, uint64_t fnv);
void coapd_tokenset_del(struct coapd_tokenset *t, const char *token,
			size_t len);
void coapd_tokenset_free(struct coapd_tokenset *t);

#endif /* COAPD_TOKENSET_H */
