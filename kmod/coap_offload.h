/* SPDX-License-Identifier: GPL-2.0 */
/*
 * coap_offload: internal declarations shared by the module's files.
 */
#ifndef _COAP_OFFLOAD_H
#define _COAP_OFFLOAD_H

#include <linux/bits.h>
#include <linux/hrtimer.h>
#include <linux/types.h>
#include <linux/rhashtable-types.h>
#include <linux/spinlock.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <linux/workqueue.h>
#include <linux/percpu.h>
#include <linux/in6.h>
#include <net/net_namespace.h>
#include <crypto/aes.h>
#include <linux/coap_offload.h>
#include <coap/coap_replay.h>

/*
 * How long a batching consumer's first message waits for others (pending.c),
 * when the consumer has nothing to confirm.
 */
#define COAP_OFFLOAD_BATCH_DELAY		NSEC_PER_MSEC
/* Sessions per namespace unless configured otherwise. */
#define COAP_OFFLOAD_MAX_SESSIONS_DEFAULT	BIT(20)
#define COAP_OFFLOAD_LIFETIME_DEFAULT		(7U * 24 * 3600)
/* Remembered answers per session, for retransmitted CONs. */
#define COAP_OFFLOAD_ANSWER_CACHE		4
/* RFC 7252 EXCHANGE_LIFETIME: how long a Message ID may be retransmitted. */
#define COAP_OFFLOAD_EXCHANGE_LIFETIME_SECS	247
/* How often a pass looks for expired sessions. */
#define COAP_OFFLOAD_REAP_INTERVAL		(2 * HZ)
/*
 * A pass over a big table goes in slices of this many sessions, this far
 * apart: a million sessions take about 50 s, and no slice holds the CPU or
 * the RCU read side for long (the fast path refuses an expired session on
 * its own; the pass is there to free it and announce it).
 */
#define COAP_OFFLOAD_REAP_SLICE			1024
#define COAP_OFFLOAD_REAP_SLICE_DELAY		(HZ / 20)

/* The rhashtable key: zero padded, so that it compares with memcmp. */
struct coap_offload_token {
	u8 len;
	u8 data[COAP_OFFLOAD_TOKEN_MAX];
};

/* A device's address: where its last delivered message came from. */
struct coap_offload_peer {
	sa_family_t family;		/* AF_INET, AF_INET6; 0: none yet */
	__be16 port;
	union {
		__be32 v4;
		struct in6_addr v6;
	};
};

/*
 * What the consumer needs to answer a delivered CON itself (a separate
 * response, %COAP_OFFLOAD_ACK_SEPARATE): where the request came to, and
 * its CoAP token.
 */
struct coap_offload_origin {
	struct coap_offload_peer local;
	int ifindex;			/* arrival interface */
	const u8 *coap_token;
	u8 coap_token_len;
	bool separate;			/* the device got an empty ACK */
};

/* The namespace's topic rules (rules.c). */
struct coap_offload_rules {
	struct rcu_head rcu;
	unsigned int count;
	char *rule[];
};

/* An answer already sent, replayed to a retransmission of the same CON. */
struct coap_offload_answer {
	u64 message_id;		/* option 2090; 0 when the answer has none */
	u32 sent;		/* jiffies, truncated: answers live 247 s */
	u16 coap_mid;
	u8 code;		/* COAP_CODE_EMPTY: an empty ACK */
	bool valid;
};

/**
 * struct coap_offload_session - one device session
 *
 * Immutable after insertion, except the fields under @lock and @last_seen.
 * A rekey is a new session swapped in, never a key changed in place.
 * Readers (softirq) hold rcu_read_lock(); the object is freed after a grace
 * period. Kept small (issue 7: at most 1 KiB of kernel memory per session):
 * the expanded key is nearly half of it.
 */
struct coap_offload_session {
	struct rhash_head node;
	struct coap_offload_token token;
	char product_key[COAP_OFFLOAD_IDENTITY_MAX + 1];
	char device_name[COAP_OFFLOAD_IDENTITY_MAX + 1];
	u8 next_answer;			/* under @lock; here, it fills a hole */
	u8 ack_mode;			/* enum coap_offload_ack_mode; a hole */
	u8 mode;			/* enum coap_offload_session_mode; a hole */
	u32 cipher;			/* enum coap_offload_cipher; 0: DTLS */
	struct crypto_aes_ctx aes;	/* both directions' key schedules */
	u64 expires;			/* get_jiffies_64() */
	unsigned long idle_timeout;	/* jiffies; 0: none */
	unsigned long last_seen;	/* jiffies, READ_ONCE/WRITE_ONCE */

	spinlock_t lock;		/* protects the fields below */
	struct coap_offload_peer peer;
	struct coap_replay replay;
	struct coap_offload_answer answers[COAP_OFFLOAD_ANSWER_CACHE];
	u64 rx_packets;
	u64 rx_bytes;
	u32 replays;
	u32 decrypt_errors;
	u32 forbidden;

	struct rcu_head rcu;
};

enum coap_offload_counter {
	COAP_OFFLOAD_CNT_RX,
	COAP_OFFLOAD_CNT_PASSED,
	COAP_OFFLOAD_CNT_DELIVERED,
	COAP_OFFLOAD_CNT_RETRANSMITS,
	COAP_OFFLOAD_CNT_REPLAYS,
	COAP_OFFLOAD_CNT_DECRYPT_ERRORS,
	COAP_OFFLOAD_CNT_FORBIDDEN,
	COAP_OFFLOAD_CNT_NO_CONSUMER,
	COAP_OFFLOAD_CNT_TX_ERRORS,
	COAP_OFFLOAD_CNT_EXPIRED,
	COAP_OFFLOAD_CNT_DEBUG_DROPPED,
	COAP_OFFLOAD_CNT_MAX,
};

struct coap_offload_stats {
	u64_stats_t counters[COAP_OFFLOAD_CNT_MAX];
	struct u64_stats_sync syncp;
};

/*
 * Delivered messages not yet confirmed by the consumer (pending.c), oldest
 * first; the consumer has those before @unsent.
 */
struct coap_offload_pending {
	spinlock_t lock;		/* protects everything below */
	struct sk_buff_head queue;	/* its own lock unused: ours covers it */
	struct sk_buff *unsent;		/* NULL: the consumer has them all */
	u32 bytes;			/* truesize of the queue */
	u32 len;			/* the queue packed in datagrams */
	u32 portid;			/* the consumer's; 0: none */
	bool confirm;			/* the consumer confirms what it took */
	u32 batch;			/* its datagram size; 0: one message each */
	u64 last_id;			/* the last message id given */
	/* A batching consumer with nothing outstanding: when to send. */
	struct hrtimer batch_timer;
};

/* Per network namespace state. */
struct coap_offload_net {
	struct net *net;
	struct rhashtable sessions;
	atomic_t session_count;
	/* Bumped by every change to the table: dumps report interruptions. */
	atomic_t generation;
	u32 max_sessions;		/* READ_ONCE: the fast path reads it */
	bool token_alias;		/* READ_ONCE: accept option 61 */
	struct coap_offload_rules __rcu *rules;	/* NULL: the defaults */
	struct coap_offload_pending pending;
	struct coap_offload_stats __percpu *stats;
	/* Counter values at the last STATS_RESET (under genl_mutex). */
	u64 stats_base[COAP_OFFLOAD_CNT_MAX];
	struct delayed_work reap_work;
	/* The reaper's pass in progress (reap_work only). */
	struct rhashtable_iter reap_iter;
	bool reaping;

	struct mutex sockets_lock;	/* serialises attach/detach */
	struct list_head sockets;	/* struct coap_offload_sock, under the mutex */
	/* Bumped by every attach and detach (under the mutex): for dumps. */
	unsigned int sockets_generation;
};

/* One attached socket's counters, per CPU (the fast path bumps them). */
struct coap_offload_sock_stats {
	u64_stats_t rx;
	u64_stats_t passed;
	struct u64_stats_sync syncp;
};

/* An attached socket; its sk_user_data while attached. */
struct coap_offload_sock {
	struct list_head list;
	struct sock *sk;
	struct coap_offload_net *cn;
	struct coap_offload_sock_stats __percpu *stats;
	u64 attached;			/* jiffies64 */
	struct rcu_head rcu;
};

struct coap_offload_net *coap_offload_pernet(const struct net *net);

/* Frees sessions after their grace period, in process context. */
extern struct workqueue_struct *coap_offload_wq;

static inline void coap_offload_count(struct coap_offload_net *cn,
				      enum coap_offload_counter c)
{
	struct coap_offload_stats *st = this_cpu_ptr(cn->stats);
	unsigned long flags;

	flags = u64_stats_update_begin_irqsave(&st->syncp);
	u64_stats_inc(&st->counters[c]);
	u64_stats_update_end_irqrestore(&st->syncp, flags);
}

u64 coap_offload_counter_sum(struct coap_offload_net *cn,
			     enum coap_offload_counter c);

/* session.c */
int coap_offload_session_cache_init(void);
void coap_offload_session_cache_exit(void);
int coap_offload_sessions_init(struct coap_offload_net *cn);
void coap_offload_sessions_exit(struct coap_offload_net *cn);
struct coap_offload_session *
coap_offload_session_alloc(u32 cipher, const u8 *key, u64 seq_offset);
struct coap_offload_session *coap_offload_session_alloc_dtls(void);
void coap_offload_session_free(struct coap_offload_session *s);
int coap_offload_session_insert(struct coap_offload_net *cn,
				struct coap_offload_session *s);
int coap_offload_session_delete(struct coap_offload_net *cn,
				const struct coap_offload_token *token,
				bool announce);
struct coap_offload_session *
coap_offload_session_lookup(struct coap_offload_net *cn,
			    const struct coap_offload_token *token);
int coap_offload_session_replace(struct coap_offload_net *cn,
				 struct coap_offload_session *s);
void coap_offload_sessions_flush(struct coap_offload_net *cn);
bool coap_offload_sessions_walk(struct coap_offload_net *cn,
				struct rhashtable_iter *iter,
				unsigned int budget, bool expiring);
bool coap_offload_session_expired(const struct coap_offload_session *s);

/* rules.c */
bool coap_offload_topic_allowed(const struct coap_offload_rules *rules,
				const char *topic, const char *pk,
				const char *dn);
int coap_offload_rule_valid(const char *rule);
struct coap_offload_rules *coap_offload_rules_alloc(const char * const *rule,
						    unsigned int n);
unsigned int coap_offload_rules_get(const struct coap_offload_rules *rules,
				    const char * const **list);

/* crypto.c */
int coap_offload_decrypt_seq(const struct coap_offload_session *s, u8 *block,
			     u64 *seq);
int coap_offload_decrypt_payload(const struct coap_offload_session *s, u8 *buf,
				 size_t len, const u8 *counter_block);

/* rx.c */
int coap_offload_sock_attach(struct coap_offload_net *cn, int fd);
void coap_offload_sock_counters(const struct coap_offload_sock *cs, u64 *rx,
				u64 *passed);
int coap_offload_sock_detach(struct coap_offload_net *cn, int fd);
void coap_offload_socks_detach_all(struct coap_offload_net *cn);

/* pending.c */
void coap_offload_pending_init(struct coap_offload_pending *p);
void coap_offload_pending_exit(struct coap_offload_pending *p);
int coap_offload_pending_add(struct net *net, struct coap_offload_pending *p,
			     struct sk_buff *msg, struct nlattr *id_attr,
			     struct nlattr *redelivered, u64 *id);
void coap_offload_pending_confirm(struct net *net,
				  struct coap_offload_pending *p, u64 id);
void coap_offload_pending_register(struct coap_offload_pending *p, u32 portid,
				   bool confirm, u32 batch);
void coap_offload_pending_release(struct coap_offload_pending *p, u32 portid);
void coap_offload_pending_usage(struct coap_offload_pending *p, u32 *messages,
				u32 *bytes);

/* netlink.c */
int coap_offload_genl_init(void);
void coap_offload_genl_exit(void);
int coap_offload_deliver(struct coap_offload_net *cn,
			 const struct coap_offload_session *s, u64 *message_id,
			 u64 seq, const char *topic, const u8 *payload,
			 size_t len, const struct coap_offload_peer *peer,
			 const struct coap_offload_origin *origin);
void coap_offload_notify(struct coap_offload_net *cn,
			 enum coap_offload_event_type type,
			 const struct coap_offload_session *s,
			 const struct coap_offload_peer *peer, const char *topic);

#endif /* _COAP_OFFLOAD_H */
