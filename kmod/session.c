// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the per-namespace session table.
 *
 * Sessions live in an rhashtable keyed by the gateway-issued token. Lookups
 * run in softirq under rcu_read_lock(); insert and delete run in the netlink
 * handlers (process context). A deleted session is freed after an RCU grace
 * period, its key schedule wiped first. Sessions come from their own slab
 * cache: a kmalloc size class would round them up to the next power of two.
 */
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/jiffies.h>
#include <kunit/visibility.h>

#include "coap_offload.h"

static const struct rhashtable_params coap_offload_session_params = {
	.head_offset = offsetof(struct coap_offload_session, node),
	.key_offset = offsetof(struct coap_offload_session, token),
	.key_len = sizeof(struct coap_offload_token),
	.automatic_shrinking = true,
};

static struct kmem_cache *coap_offload_session_cache;

int coap_offload_session_cache_init(void)
{
	coap_offload_session_cache =
		kmem_cache_create("coap_offload_session",
				  sizeof(struct coap_offload_session), 0, 0,
				  NULL);
	return coap_offload_session_cache ? 0 : -ENOMEM;
}

/* After every namespace's exit: no session can be queued any more. */
void coap_offload_session_cache_exit(void)
{
	rcu_barrier();
	kmem_cache_destroy(coap_offload_session_cache);
}

/*
 * Allocate a session and expand its key (process context).
 * The caller fills in the identity and token, then inserts it.
 */
struct coap_offload_session *
coap_offload_session_alloc(u32 cipher, const u8 *key, u64 seq_offset)
{
	struct coap_offload_session *s;
	int err;

	if (cipher != COAP_OFFLOAD_CIPHER_AES_128_CBC &&
	    cipher != COAP_OFFLOAD_CIPHER_AES_128_CTR)
		return ERR_PTR(-EINVAL);
	s = kmem_cache_zalloc(coap_offload_session_cache, GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&s->lock);
	coap_replay_init(&s->replay, seq_offset);
	s->cipher = cipher;
	err = aes_expandkey(&s->aes, key, COAP_OFFLOAD_KEY_LEN);
	if (err) {
		coap_offload_session_free(s);
		return ERR_PTR(err);
	}
	return s;
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_session_alloc);

/* A DTLS-mode session: listed and expired like any, but without keys. */
struct coap_offload_session *coap_offload_session_alloc_dtls(void)
{
	struct coap_offload_session *s;

	s = kmem_cache_zalloc(coap_offload_session_cache, GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&s->lock);
	s->mode = COAP_OFFLOAD_MODE_DTLS;
	return s;
}

/* Free a session no reader can see any more. */
void coap_offload_session_free(struct coap_offload_session *s)
{
	memzero_explicit(&s->aes, sizeof(s->aes));
	kmem_cache_free(coap_offload_session_cache, s);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_session_free);

static void coap_offload_session_free_rcu(struct rcu_head *head)
{
	coap_offload_session_free(container_of(head,
					       struct coap_offload_session,
					       rcu));
}

int coap_offload_session_insert(struct coap_offload_net *cn,
				struct coap_offload_session *s)
{
	int err;

	/*
	 * A taken token is -EEXIST even at the limit. Inserts are serialised
	 * by genl_mutex, so the answer holds until the insert below.
	 */
	rcu_read_lock();
	err = rhashtable_lookup(&cn->sessions, &s->token,
				coap_offload_session_params) ? -EEXIST : 0;
	rcu_read_unlock();
	if (err)
		return err;
	if (atomic_inc_return(&cn->session_count) > READ_ONCE(cn->max_sessions)) {
		atomic_dec(&cn->session_count);
		return -ENOSPC;
	}
	err = rhashtable_lookup_insert_fast(&cn->sessions, &s->node,
					    coap_offload_session_params);
	if (err)
		atomic_dec(&cn->session_count);
	else
		atomic_inc(&cn->generation);
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_session_insert);

/* A rekey: s takes the place of the session with the same token. */
int coap_offload_session_replace(struct coap_offload_net *cn,
				 struct coap_offload_session *s)
{
	struct coap_offload_session *old;
	int err = -ENOENT;

	rcu_read_lock();
	old = rhashtable_lookup(&cn->sessions, &s->token,
				coap_offload_session_params);
	/* Fails when expiry or a delete removed old meanwhile. */
	if (old && !rhashtable_replace_fast(&cn->sessions, &old->node,
					    &s->node,
					    coap_offload_session_params)) {
		call_rcu(&old->rcu, coap_offload_session_free_rcu);
		atomic_inc(&cn->generation);
		err = 0;
	}
	rcu_read_unlock();
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_session_replace);

/*
 * Remove s from the table and free it after a grace period. Whoever
 * removes it frees it: false when someone else already did. Caller holds
 * rcu_read_lock().
 */
static bool coap_offload_session_unlink(struct coap_offload_net *cn,
					struct coap_offload_session *s)
{
	if (rhashtable_remove_fast(&cn->sessions, &s->node,
				   coap_offload_session_params))
		return false;
	atomic_dec(&cn->session_count);
	atomic_inc(&cn->generation);
	call_rcu(&s->rcu, coap_offload_session_free_rcu);
	return true;
}

/*
 * An operator's delete (SESSION_DEL), announced on the events group when
 * asked to: the daemon forgets the session then (its persisted copy must
 * not come back after a module reload). KUnit's bare namespace, which has
 * no net to announce to, does not ask.
 */
int coap_offload_session_delete(struct coap_offload_net *cn,
				const struct coap_offload_token *token,
				bool announce)
{
	struct coap_offload_session *s;
	int err = -ENOENT;

	rcu_read_lock();
	s = rhashtable_lookup(&cn->sessions, token,
			      coap_offload_session_params);
	if (s && coap_offload_session_unlink(cn, s)) {
		/* Still readable: freed after this read-side section. */
		if (announce)
			coap_offload_notify(cn,
					    COAP_OFFLOAD_EVENT_SESSION_DELETED,
					    s, NULL, NULL);
		err = 0;
	}
	rcu_read_unlock();
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_session_delete);

/* Caller holds rcu_read_lock(). */
struct coap_offload_session *
coap_offload_session_lookup(struct coap_offload_net *cn,
			    const struct coap_offload_token *token)
{
	return rhashtable_lookup(&cn->sessions, token,
				 coap_offload_session_params);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_session_lookup);

bool coap_offload_session_expired(const struct coap_offload_session *s)
{
	return time_after64(get_jiffies_64(), s->expires) ||
	       (s->idle_timeout &&
		time_after(jiffies, READ_ONCE(s->last_seen) + s->idle_timeout));
}

/**
 * coap_offload_sessions_walk() - one slice of a walk that unlinks sessions
 * @cn: the namespace
 * @iter: the walk, entered by the caller; kept between slices
 * @budget: how many sessions to look at in this slice
 * @expiring: unlink only the expired ones; else all (a flush). Each one
 *	unlinked is announced: expired, or deleted.
 *
 * Process context; takes and drops the RCU read side itself, so the caller
 * may sleep between slices. The walk is best effort: a table resized
 * between slices restarts it, and one resumed after its last session was
 * unlinked may skip a few. Harmless here: the next pass catches them.
 *
 * Return: true while the walk has more to look at.
 */
bool coap_offload_sessions_walk(struct coap_offload_net *cn,
				struct rhashtable_iter *iter,
				unsigned int budget, bool expiring)
{
	struct coap_offload_session *s;
	bool more = true;

	rhashtable_walk_start(iter);
	while (budget) {
		s = rhashtable_walk_next(iter);
		if (!s) {
			more = false;
			break;
		}
		if (IS_ERR(s)) {
			/* A resize restarted the walk. */
			if (PTR_ERR(s) == -EAGAIN)
				continue;
			more = false;
			break;
		}
		budget--;
		if (expiring && !coap_offload_session_expired(s))
			continue;
		if (!coap_offload_session_unlink(cn, s))
			continue;
		/* s stays readable until the walk's RCU section ends. */
		if (!expiring) {
			coap_offload_notify(cn,
					    COAP_OFFLOAD_EVENT_SESSION_DELETED,
					    s, NULL, NULL);
			continue;
		}
		coap_offload_count(cn, COAP_OFFLOAD_CNT_EXPIRED);
		coap_offload_notify(cn, COAP_OFFLOAD_EVENT_SESSION_EXPIRED, s,
				    NULL, NULL);
	}
	rhashtable_walk_stop(iter);
	return more;
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_sessions_walk);

/*
 * Unlink every session, a slice at a time (process context, under
 * genl_mutex: nothing inserts meanwhile). A walk resumed after its last
 * session was unlinked may skip a few: passes go on until none is left.
 */
void coap_offload_sessions_flush(struct coap_offload_net *cn)
{
	struct rhashtable_iter iter;

	while (atomic_read(&cn->session_count)) {
		rhashtable_walk_enter(&cn->sessions, &iter);
		while (coap_offload_sessions_walk(cn, &iter,
						  COAP_OFFLOAD_REAP_SLICE,
						  false))
			cond_resched();
		rhashtable_walk_exit(&iter);
	}
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_sessions_flush);

/* One slice of the expiry pass; the next slice soon, the next pass later. */
static void coap_offload_reap(struct work_struct *work)
{
	struct coap_offload_net *cn =
		container_of(to_delayed_work(work), struct coap_offload_net,
			     reap_work);
	unsigned long delay = COAP_OFFLOAD_REAP_SLICE_DELAY;

	if (!cn->reaping) {
		rhashtable_walk_enter(&cn->sessions, &cn->reap_iter);
		cn->reaping = true;
	}
	if (!coap_offload_sessions_walk(cn, &cn->reap_iter,
					COAP_OFFLOAD_REAP_SLICE, true)) {
		rhashtable_walk_exit(&cn->reap_iter);
		cn->reaping = false;
		delay = COAP_OFFLOAD_REAP_INTERVAL;
	}
	queue_delayed_work(coap_offload_wq, &cn->reap_work, delay);
}

int coap_offload_sessions_init(struct coap_offload_net *cn)
{
	int err;

	atomic_set(&cn->session_count, 0);
	cn->reaping = false;
	cn->max_sessions = COAP_OFFLOAD_MAX_SESSIONS_DEFAULT;
	err = rhashtable_init(&cn->sessions, &coap_offload_session_params);
	if (err)
		return err;
	INIT_DELAYED_WORK(&cn->reap_work, coap_offload_reap);
	queue_delayed_work(coap_offload_wq, &cn->reap_work,
			   COAP_OFFLOAD_REAP_INTERVAL);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_sessions_init);

static void coap_offload_session_free_cb(void *ptr, void *arg)
{
	coap_offload_session_free(ptr);
}

/*
 * Namespace teardown: no socket is attached and no netlink handler runs any
 * more, but softirq readers may still hold a session: wait for them, and for
 * the frees already queued, before freeing the rest.
 */
void coap_offload_sessions_exit(struct coap_offload_net *cn)
{
	cancel_delayed_work_sync(&cn->reap_work);
	if (cn->reaping)
		rhashtable_walk_exit(&cn->reap_iter);
	synchronize_rcu();
	/* And the frees already queued with call_rcu(). */
	rcu_barrier();
	rhashtable_free_and_destroy(&cn->sessions, coap_offload_session_free_cb,
				    NULL);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_sessions_exit);
