// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the per-namespace session table and the topic rules.
 *
 * Sessions live in an rhashtable keyed by the gateway-issued token. Lookups
 * run in softirq under rcu_read_lock(); insert and delete run in the netlink
 * handlers (process context). A deleted session is freed after an RCU grace
 * period from a workqueue, because freeing its crypto tfms belongs in
 * process context; the key schedule is wiped with the tfm.
 */
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/jiffies.h>

#include "coap_offload.h"

static const struct rhashtable_params coap_offload_session_params = {
	.head_offset = offsetof(struct coap_offload_session, node),
	.key_offset = offsetof(struct coap_offload_session, token),
	.key_len = sizeof(struct coap_offload_token),
	.automatic_shrinking = true,
};

static void coap_offload_session_free_work(struct work_struct *work)
{
	struct coap_offload_session *s =
		container_of(to_rcu_work(work), struct coap_offload_session,
			     free_work);

	coap_offload_session_free(s);
}

static int coap_offload_tfm_alloc(struct crypto_sync_skcipher **tfm,
				  const char *name, const u8 *key)
{
	int err;

	*tfm = crypto_alloc_sync_skcipher(name, 0, 0);
	if (IS_ERR(*tfm)) {
		err = PTR_ERR(*tfm);
		*tfm = NULL;
		return err;
	}
	err = crypto_sync_skcipher_setkey(*tfm, key, COAP_OFFLOAD_KEY_LEN);
	if (err) {
		crypto_free_sync_skcipher(*tfm);
		*tfm = NULL;
	}
	return err;
}

/*
 * Allocate a session and key its tfms (process context: both may sleep).
 * The caller fills in the identity and token, then inserts it.
 */
struct coap_offload_session *
coap_offload_session_alloc(u32 cipher, const u8 *key, u64 seq_offset)
{
	struct coap_offload_session *s;
	int err;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&s->lock);
	coap_replay_init(&s->replay, seq_offset);
	INIT_RCU_WORK(&s->free_work, coap_offload_session_free_work);
	s->cipher = cipher;

	err = coap_offload_tfm_alloc(&s->cbc, "cbc(aes)", key);
	if (err)
		goto err_free;
	if (cipher == COAP_OFFLOAD_CIPHER_AES_128_CTR) {
		err = coap_offload_tfm_alloc(&s->ctr, "ctr(aes)", key);
		if (err)
			goto err_free;
	}
	return s;

err_free:
	coap_offload_session_free(s);
	return ERR_PTR(err);
}

/* Free a session no reader can see any more. */
void coap_offload_session_free(struct coap_offload_session *s)
{
	/* crypto_free_*() wipes the tfm, and with it the key schedule. */
	crypto_free_sync_skcipher(s->ctr);
	crypto_free_sync_skcipher(s->cbc);
	kfree_sensitive(s);
}

int coap_offload_session_insert(struct coap_offload_net *cn,
				struct coap_offload_session *s)
{
	int err;

	if (atomic_inc_return(&cn->session_count) > READ_ONCE(cn->max_sessions)) {
		atomic_dec(&cn->session_count);
		return -ENOSPC;
	}
	err = rhashtable_lookup_insert_fast(&cn->sessions, &s->node,
					    coap_offload_session_params);
	if (err)
		atomic_dec(&cn->session_count);
	return err;
}

int coap_offload_session_delete(struct coap_offload_net *cn,
				const struct coap_offload_token *token)
{
	struct coap_offload_session *s;
	int err = -ENOENT;

	rcu_read_lock();
	s = rhashtable_lookup(&cn->sessions, token,
			      coap_offload_session_params);
	/* Whoever removes it from the table frees it. */
	if (s && !rhashtable_remove_fast(&cn->sessions, &s->node,
					 coap_offload_session_params)) {
		atomic_dec(&cn->session_count);
		queue_rcu_work(coap_offload_wq, &s->free_work);
		err = 0;
	}
	rcu_read_unlock();
	return err;
}

/* Caller holds rcu_read_lock(). */
struct coap_offload_session *
coap_offload_session_lookup(struct coap_offload_net *cn,
			    const struct coap_offload_token *token)
{
	return rhashtable_lookup(&cn->sessions, token,
				 coap_offload_session_params);
}

int coap_offload_sessions_init(struct coap_offload_net *cn)
{
	atomic_set(&cn->session_count, 0);
	cn->max_sessions = COAP_OFFLOAD_MAX_SESSIONS_DEFAULT;
	return rhashtable_init(&cn->sessions, &coap_offload_session_params);
}

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
	synchronize_rcu();
	/* queue_rcu_work() queues from an RCU callback: let those run first. */
	rcu_barrier();
	flush_workqueue(coap_offload_wq);
	rhashtable_free_and_destroy(&cn->sessions, coap_offload_session_free_cb,
				    NULL);
}

/* Match one "/"-separated segment of *topic against want (NULL: any). */
static bool coap_offload_topic_segment(const char **topic, const char *want)
{
	const char *seg = *topic, *end;
	size_t len;

	if (*seg != '/')
		return false;
	seg++;
	end = strchrnul(seg, '/');
	len = end - seg;
	if (!len)
		return false;
	if (want && (strlen(want) != len || memcmp(seg, want, len)))
		return false;
	*topic = end;
	return true;
}

/*
 * The default rules of PROTOCOL.md: a device may publish to
 *   /{pk}/{dn}/...           /sys/{pk}/{dn}/...
 *   /ota/device/<any>/{pk}/{dn}   /shadow/update/{pk}/{dn}
 * topic is the Uri-Path after "topic", as "/seg/seg/...", with no empty,
 * "." or ".." segments (coap_uri_path() refuses those).
 */
bool coap_offload_topic_allowed(const char *topic, const char *product_key,
				const char *device_name)
{
	const char *t;

	t = topic;
	if (coap_offload_topic_segment(&t, product_key) &&
	    coap_offload_topic_segment(&t, device_name) &&
	    coap_offload_topic_segment(&t, NULL))
		return true;

	t = topic;
	if (coap_offload_topic_segment(&t, "sys") &&
	    coap_offload_topic_segment(&t, product_key) &&
	    coap_offload_topic_segment(&t, device_name) &&
	    coap_offload_topic_segment(&t, NULL))
		return true;

	t = topic;
	if (coap_offload_topic_segment(&t, "ota") &&
	    coap_offload_topic_segment(&t, "device") &&
	    coap_offload_topic_segment(&t, NULL) &&
	    coap_offload_topic_segment(&t, product_key) &&
	    coap_offload_topic_segment(&t, device_name) && !*t)
		return true;

	t = topic;
	return coap_offload_topic_segment(&t, "shadow") &&
	       coap_offload_topic_segment(&t, "update") &&
	       coap_offload_topic_segment(&t, product_key) &&
	       coap_offload_topic_segment(&t, device_name) && !*t;
}
