/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Per-session replay window for the symmetric-mode seq (PROTOCOL.md).
 *
 * A session starts at seq_offset (the "seqOffset" the gateway gave the
 * device in the /auth answer).  The device then sends seq_offset,
 * seq_offset + 1, ... (other clients: any unique value above it).  Datagrams
 * are lost and reordered on the way, so a strict "greater than the last one"
 * rule would drop good messages; keeping every seq ever seen is unbounded.
 * Instead, as in WireGuard's counter_validate(), the window remembers the
 * highest seq committed so far and a bitmap of the COAP_REPLAY_WINDOW_BITS
 * seqs at and below it.  When a higher seq arrives the window slides up to
 * it, forgetting the bits that fall off its bottom.
 *
 * Rejected (coap_replay_check() returns false):
 *   - a seq below seq_offset (from before this session, or forged);
 *   - a seq that is COAP_REPLAY_WINDOW_BITS or more below the highest
 *     committed one ("too old": it can no longer be told apart from a
 *     replay, so it is refused);
 *   - a seq inside the window whose bit is set (already seen: a replay).
 * Accepted: any seq above the highest committed one, however far (the
 * window then slides and its bitmap is cleared), and unseen seqs inside
 * the window.  Nothing is ever accepted twice.
 *
 * The check is split in two because the caller decrypts in between
 * (DESIGN.md "cheap window pre-check, decrypt, then commit the window"):
 *   coap_replay_check()   pure; no state changes.  Drop early what can
 *                         never pass, before spending a decryption on it.
 *   coap_replay_commit()  re-checks and records; the caller holds the
 *                         session's lock.  False when the seq became a
 *                         replay meanwhile (a concurrent copy committed
 *                         first, or the window slid past it): drop it.
 *
 * Concurrency.  commit must be serialised by the caller (a spinlock in the
 * kernel, a mutex in user space).  In the kernel, check may also run
 * without the lock: it reads with READ_ONCE() and commit clears the bits
 * that leave the window before it publishes the new highest (smp_wmb() /
 * smp_rmb()), so a lockless check that says "ok" is at worst a false
 * positive that commit then refuses; a lockless "replay" can only be
 * for a seq that the locked state refuses as well (on 64-bit; a 32-bit
 * kernel may tear the u64 and spuriously refuse one datagram, which the
 * device then retransmits).  In user space call both under the lock.
 *
 * Size: 48 bytes per session.  No allocation, no division, O(1) except a
 * slide of d < 256 positions, which clears d bits.
 */
#ifndef COAP_REPLAY_H
#define COAP_REPLAY_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/compiler.h>
#include <asm/barrier.h>
#define COAP_READ_ONCE(x)	READ_ONCE(x)
#define COAP_WRITE_ONCE(x, v)	WRITE_ONCE(x, v)
/* Pairs with coap_replay_rmb(): bitmap cleared before highest published. */
#define coap_replay_wmb()	smp_wmb()
/* Pairs with coap_replay_wmb(): highest read before the bitmap. */
#define coap_replay_rmb()	smp_rmb()
#else
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#define COAP_READ_ONCE(x)	(x)
#define COAP_WRITE_ONCE(x, v)	((x) = (v))
#define coap_replay_wmb()	do { } while (0)
#define coap_replay_rmb()	do { } while (0)
#endif

#define COAP_REPLAY_WINDOW_BITS	256
#define COAP_REPLAY_WORD_BITS	64
#define COAP_REPLAY_WORDS	(COAP_REPLAY_WINDOW_BITS / COAP_REPLAY_WORD_BITS)

/**
 * struct coap_replay - sliding replay window of one session
 * @offset: the lowest acceptable seq (seqOffset); never changes
 * @highest: the highest committed seq; @offset before the first commit
 *	(its bit is clear then, so @offset itself is accepted once)
 * @bitmap: bit (s % COAP_REPLAY_WINDOW_BITS) is set when seq s was
 *	committed, for s in (@highest - COAP_REPLAY_WINDOW_BITS, @highest]
 */
struct coap_replay {
	uint64_t offset;
	uint64_t highest;
	uint64_t bitmap[COAP_REPLAY_WORDS];
};

static inline void coap_replay_init(struct coap_replay *w, uint64_t seq_offset)
{
	size_t i;

	w->offset = seq_offset;
	w->highest = seq_offset;
	for (i = 0; i < COAP_REPLAY_WORDS; i++)
		w->bitmap[i] = 0;
}

static inline size_t coap_replay_word(uint64_t seq)
{
	return (size_t)((seq >> 6) & (COAP_REPLAY_WORDS - 1));
}

static inline uint64_t coap_replay_bit(uint64_t seq)
{
	return (uint64_t)1 << (seq & (COAP_REPLAY_WORD_BITS - 1));
}

/* True when seq may be accepted: not below the offset, not too old, unseen. */
static inline bool coap_replay_check(const struct coap_replay *w, uint64_t seq)
{
	uint64_t highest = COAP_READ_ONCE(w->highest);
	uint64_t word;

	if (seq < w->offset)
		return false;
	if (seq > highest)
		return true;
	if (highest - seq >= COAP_REPLAY_WINDOW_BITS)
		return false;
	coap_replay_rmb();
	word = COAP_READ_ONCE(w->bitmap[coap_replay_word(seq)]);
	return !(word & coap_replay_bit(seq));
}

/*
 * Re-check seq and record it.  True when it is accepted (and now seen);
 * false when it is a replay, too old or below the offset.  Caller holds
 * the session's lock.
 */
static inline bool coap_replay_commit(struct coap_replay *w, uint64_t seq)
{
	size_t i;

	if (!coap_replay_check(w, seq))
		return false;

	if (seq > w->highest) {
		uint64_t d = seq - w->highest;

		if (d >= COAP_REPLAY_WINDOW_BITS) {
			/* Jumped past the whole window: everything is old. */
			for (i = 0; i < COAP_REPLAY_WORDS; i++)
				COAP_WRITE_ONCE(w->bitmap[i], 0);
		} else {
			uint64_t k;

			/*
			 * Slide by d: the positions of highest + 1 .. seq
			 * held highest + 1 - 256 .. seq - 256, which now leave
			 * the window.  No overflow: highest + k <= seq.
			 */
			for (k = 1; k <= d; k++) {
				uint64_t s = w->highest + k;
				size_t j = coap_replay_word(s);

				COAP_WRITE_ONCE(w->bitmap[j],
						w->bitmap[j] & ~coap_replay_bit(s));
			}
		}
		/* Bits cleared before the new highest becomes visible. */
		coap_replay_wmb();
		COAP_WRITE_ONCE(w->highest, seq);
	}
	i = coap_replay_word(seq);
	COAP_WRITE_ONCE(w->bitmap[i], w->bitmap[i] | coap_replay_bit(seq));
	return true;
}

#endif /* COAP_REPLAY_H */
