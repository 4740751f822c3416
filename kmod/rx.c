// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: attached sockets and the receive fast path.
 *
 * The daemon owns the UDP sockets; the module borrows them: attaching
 * installs encap_rcv (as GTP does with its daemon's sockets), which sees
 * every datagram in softirq. It returns 0 for what it consumed and 1 for
 * everything else, which then reaches the socket's receive queue untouched
 * and the daemon reads it with recvmsg().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/moduleparam.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/udp.h>
#include <net/udp_tunnel.h>
#include <net/ipv6_stubs.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <coap/coap_wire.h>

#include "coap_offload.h"

/* Longest topic the fast path handles; longer ones are left to the daemon. */
#define COAP_OFFLOAD_TOPIC_MAX	256

/*
 * DEBUG ONLY, off by default: drop every datagram on attached sockets as
 * soon as UDP hands it over, counted as debug_dropped. It stops the service
 * (no fast path, nothing for the daemon); the benchmark sets it to measure
 * the ceiling, the cost of getting packets here at all.
 */
static bool debug_drop_all;
module_param(debug_drop_all, bool, 0600);
MODULE_PARM_DESC(debug_drop_all,
		 "DEBUG ONLY: drop every datagram on attached sockets (benchmark ceiling)");

/* What the fast path needs from one publish, gathered in one option walk. */
struct coap_offload_publish {
	struct coap_msg msg;
	struct coap_offload_token token;
	const u8 *seq_block;		/* option 2089, 16 bytes */
	u16 seq_len;
	bool to_topic;			/* first Uri-Path is "topic" */
};

/*
 * Decide whether a datagram is a publish for the fast path: a well-formed
 * CON or NON POST to /topic/... with a token in option 2088 (or its alias
 * 61) and no critical option this path does not understand. Anything else
 * is the daemon's.
 */
static bool coap_offload_classify(const u8 *data, size_t len,
				  bool token_alias,
				  struct coap_offload_publish *p)
{
	struct coap_opt_iter it;
	struct coap_option opt;
	bool first_path = true;
	bool have_token = false;

	if (coap_parse(data, len, &p->msg))
		return false;
	if (p->msg.code != COAP_CODE_POST ||
	    (p->msg.type != COAP_TYPE_CON && p->msg.type != COAP_TYPE_NON))
		return false;

	p->to_topic = false;
	p->seq_block = NULL;
	p->seq_len = 0;
	coap_opt_iter_init(&it, &p->msg);
	while (coap_opt_next(&it, &opt)) {
		switch (opt.number) {
		case COAP_OPT_URI_PATH:
			if (first_path)
				p->to_topic = opt.len == 5 &&
					      !memcmp(opt.value, "topic", 5);
			first_path = false;
			break;
		case COAP_OPT_TOKEN_ALIAS:
			if (!token_alias)
				return false;	/* critical, not understood */
			fallthrough;
		case COAP_OPT_AUTH_TOKEN:
			/* 2088 wins over the alias: it comes later. */
			if (!opt.len || opt.len > COAP_OFFLOAD_TOKEN_MAX)
				return false;
			memset(&p->token, 0, sizeof(p->token));
			p->token.len = opt.len;
			memcpy(p->token.data, opt.value, opt.len);
			have_token = true;
			break;
		case COAP_OPT_SEQ:
			p->seq_block = opt.value;
			p->seq_len = opt.len;
			break;
		case COAP_OPT_URI_HOST:
		case COAP_OPT_CONTENT_FORMAT:
		case COAP_OPT_ACCEPT:
			break;
		default:
			if (COAP_OPT_IS_CRITICAL(opt.number))
				return false;	/* the daemon answers 4.02 */
		}
	}
	return p->to_topic && have_token;
}

/*
 * Send an answer to the datagram in skb, from its socket: piggy-backed, or
 * an empty ACK (code COAP_CODE_EMPTY: no token, no options, RFC 7252 §4.1)
 * when the result follows separately.
 */
static void coap_offload_answer(struct coap_offload_net *cn, struct sock *sk,
				const struct sk_buff *in,
				const struct coap_msg *req, u8 code,
				u64 message_id)
{
	const struct udphdr *uh = udp_hdr(in);
	unsigned int headroom = LL_MAX_HEADER + sizeof(struct ipv6hdr) +
				sizeof(struct udphdr);
	bool empty = code == COAP_CODE_EMPTY;
	struct coap_builder b;
	struct sk_buff *skb;
	__be64 id_be;
	int len;

	if (req->type != COAP_TYPE_CON)
		return;		/* NON requests get no answer */

	skb = alloc_skb(headroom + COAP_HEADER_LEN + COAP_MAX_TOKEN_LEN + 16,
			GFP_ATOMIC);
	if (!skb)
		goto err;
	skb_reserve(skb, headroom);
	coap_builder_init(&b, skb_tail_pointer(skb), skb_tailroom(skb),
			  COAP_TYPE_ACK, code, req->message_id,
			  empty ? NULL : req->token,
			  empty ? 0 : req->token_len);
	if (message_id && !empty) {
		id_be = cpu_to_be64(message_id);
		coap_builder_add_option(&b, COAP_OPT_MESSAGE_ID, &id_be,
					sizeof(id_be));
	}
	len = coap_builder_finish(&b);
	if (WARN_ON_ONCE(len < 0))
		goto err_free;
	skb_put(skb, len);

	if (ip_hdr(in)->version == 4) {
		const struct iphdr *iph = ip_hdr(in);
		struct flowi4 fl4 = {
			.daddr = iph->saddr,
			.saddr = iph->daddr,
			.flowi4_proto = IPPROTO_UDP,
			.flowi4_oif = sk->sk_bound_dev_if,
			.flowi4_mark = sk->sk_mark,
			.fl4_sport = uh->dest,
			.fl4_dport = uh->source,
		};
		struct rtable *rt;

		rt = ip_route_output_key(cn->net, &fl4);
		if (IS_ERR(rt))
			goto err_free;
		udp_tunnel_xmit_skb(rt, sk, skb, fl4.saddr, fl4.daddr, 0,
				    ip4_dst_hoplimit(&rt->dst), 0, uh->dest,
				    uh->source, false, false);
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		const struct ipv6hdr *ip6h = ipv6_hdr(in);
		struct flowi6 fl6 = {
			.daddr = ip6h->saddr,
			.saddr = ip6h->daddr,
			.flowi6_proto = IPPROTO_UDP,
			.flowi6_oif = sk->sk_bound_dev_if,
			.flowi6_mark = sk->sk_mark,
			.fl6_sport = uh->dest,
			.fl6_dport = uh->source,
		};
		struct dst_entry *dst;

		/* A link-local device is only reachable where it spoke from. */
		if (ipv6_addr_type(&ip6h->saddr) & IPV6_ADDR_LINKLOCAL)
			fl6.flowi6_oif = inet6_iif(in);

		dst = ipv6_stub->ipv6_dst_lookup_flow(cn->net, sk, &fl6, NULL);
		if (IS_ERR(dst))
			goto err_free;
		udp_tunnel6_xmit_skb(dst, sk, skb, NULL, &fl6.saddr, &fl6.daddr,
				     0, ip6_dst_hoplimit(dst), 0, uh->dest,
				     uh->source, false);
		return;
	}
#endif
err_free:
	kfree_skb(skb);
err:
	coap_offload_count(cn, COAP_OFFLOAD_CNT_TX_ERRORS);
}

/* Caller holds s->lock. The answer to an earlier copy of this CON, if any. */
static struct coap_offload_answer *
coap_offload_find_answer(struct coap_offload_session *s, u16 coap_mid)
{
	u32 lifetime = COAP_OFFLOAD_EXCHANGE_LIFETIME_SECS * HZ;
	int i;

	for (i = 0; i < COAP_OFFLOAD_ANSWER_CACHE; i++) {
		struct coap_offload_answer *a = &s->answers[i];

		if (a->valid && a->coap_mid == coap_mid &&
		    time_before32((u32)jiffies, a->sent + lifetime))
			return a;
	}
	return NULL;
}

/* Caller holds s->lock. */
static void coap_offload_remember_answer(struct coap_offload_session *s,
					 u16 coap_mid, u8 code, u64 message_id)
{
	struct coap_offload_answer *a = &s->answers[s->next_answer];

	s->next_answer = (s->next_answer + 1) % COAP_OFFLOAD_ANSWER_CACHE;
	a->coap_mid = coap_mid;
	a->code = code;
	a->message_id = message_id;
	a->sent = (u32)jiffies;
	a->valid = true;
}

static void coap_offload_peer_of(const struct sk_buff *skb,
				 struct coap_offload_peer *peer)
{
	memset(peer, 0, sizeof(*peer));
	peer->port = udp_hdr(skb)->source;
	if (ip_hdr(skb)->version == 4) {
		peer->family = AF_INET;
		peer->v4 = ip_hdr(skb)->saddr;
	} else {
		peer->family = AF_INET6;
		peer->v6 = ipv6_hdr(skb)->saddr;
	}
}

/* The request's destination and arrival interface, for a separate answer. */
static void coap_offload_local_of(const struct sk_buff *skb,
				  struct coap_offload_origin *origin)
{
	struct coap_offload_peer *local = &origin->local;

	memset(local, 0, sizeof(*local));
	local->port = udp_hdr(skb)->dest;
	origin->ifindex = skb->skb_iif;
	if (ip_hdr(skb)->version == 4) {
		local->family = AF_INET;
		local->v4 = ip_hdr(skb)->daddr;
	} else {
		local->family = AF_INET6;
		local->v6 = ipv6_hdr(skb)->daddr;
	}
}

/* What a session-level refusal counts and reports. */
struct coap_offload_refusal {
	u8 code;
	enum coap_offload_counter counter;
	enum coap_offload_event_type event;
};

static const struct coap_offload_refusal coap_offload_undecryptable = {
	COAP_CODE_BAD_REQUEST, COAP_OFFLOAD_CNT_DECRYPT_ERRORS,
	COAP_OFFLOAD_EVENT_DECRYPT_ERROR,
};

static const struct coap_offload_refusal coap_offload_replayed = {
	COAP_CODE_BAD_REQUEST, COAP_OFFLOAD_CNT_REPLAYS,
	COAP_OFFLOAD_EVENT_REPLAY,
};

static const struct coap_offload_refusal coap_offload_forbidden = {
	COAP_CODE_FORBIDDEN, COAP_OFFLOAD_CNT_FORBIDDEN,
	COAP_OFFLOAD_EVENT_FORBIDDEN,
};

/*
 * A session-level error: count it (the session's counter under its lock),
 * remember and send the answer, tell the events group.
 */
static void coap_offload_refuse(struct coap_offload_net *cn, struct sock *sk,
				struct sk_buff *skb,
				struct coap_offload_session *s,
				const struct coap_msg *msg, const char *topic,
				const struct coap_offload_refusal *why)
{
	struct coap_offload_peer peer;

	spin_lock(&s->lock);
	if (why->counter == COAP_OFFLOAD_CNT_REPLAYS)
		s->replays++;
	else if (why->counter == COAP_OFFLOAD_CNT_FORBIDDEN)
		s->forbidden++;
	else
		s->decrypt_errors++;
	if (msg->type == COAP_TYPE_CON)
		coap_offload_remember_answer(s, msg->message_id, why->code, 0);
	spin_unlock(&s->lock);
	coap_offload_count(cn, why->counter);
	coap_offload_answer(cn, sk, skb, msg, why->code, 0);
	coap_offload_peer_of(skb, &peer);
	coap_offload_notify(cn, why->event, s, &peer, topic);
}

/*
 * The fast path proper, under rcu_read_lock(). Returns 1 to leave the
 * datagram to the daemon, 0 when it was consumed (the caller frees it).
 */
static int coap_offload_rx(struct coap_offload_net *cn, struct sock *sk,
			   struct sk_buff *skb)
{
	struct coap_offload_publish p;
	struct coap_offload_origin origin;
	struct coap_offload_peer peer;
	struct coap_offload_session *s;
	struct coap_offload_answer *prev;
	char topic[COAP_OFFLOAD_TOPIC_MAX];
	u8 counter_block[16];
	u8 *data, *payload;
	u64 seq, message_id;
	int len, plen, err;
	u8 code;

	len = skb->len - (int)sizeof(struct udphdr);
	if (len < COAP_HEADER_LEN || len > COAP_MAX_MESSAGE)
		return 1;
	/* Linear and private, as decryption happens in place. */
	if (skb_ensure_writable(skb, skb->len))
		return 1;
	data = skb->data + sizeof(struct udphdr);
	if (!coap_offload_classify(data, len, READ_ONCE(cn->token_alias), &p))
		return 1;

	s = coap_offload_session_lookup(cn, &p.token);
	/*
	 * A DTLS-mode token is only valid inside its DTLS channel: in plain
	 * UDP it is as unknown as any other (the daemon answers 4.01).
	 */
	if (!s || s->mode != COAP_OFFLOAD_MODE_SYMMETRIC ||
	    coap_offload_session_expired(s))
		return 1;	/* the daemon answers 4.01 */

	if (p.msg.type == COAP_TYPE_CON) {
		spin_lock(&s->lock);
		prev = coap_offload_find_answer(s, p.msg.message_id);
		if (prev) {
			code = prev->code;
			message_id = prev->message_id;
			spin_unlock(&s->lock);
			coap_offload_count(cn, COAP_OFFLOAD_CNT_RETRANSMITS);
			coap_offload_answer(cn, sk, skb, &p.msg, code,
					    message_id);
			return 0;
		}
		spin_unlock(&s->lock);
	}

	err = coap_uri_path(&p.msg, topic, sizeof(topic));
	if (err == -ENOSPC)
		return 1;
	if (err < 0 || p.seq_len != 16) {
		coap_offload_refuse(cn, sk, skb, s, &p.msg, NULL,
				    &coap_offload_undecryptable);
		return 0;
	}
	/* "/topic/a/b" -> "/a/b" */
	memmove(topic, topic + 6, err - 6 + 1);

	/* CTR counts from the seq option as sent; keep it before decrypting. */
	memcpy(counter_block, p.seq_block, 16);
	if (coap_offload_decrypt_seq(s, (u8 *)p.seq_block, &seq)) {
		coap_offload_refuse(cn, sk, skb, s, &p.msg, NULL,
				    &coap_offload_undecryptable);
		return 0;
	}
	/* Cheap pre-check before spending a payload decryption on it. */
	if (!coap_replay_check(&s->replay, seq)) {
		coap_offload_refuse(cn, sk, skb, s, &p.msg, NULL,
				    &coap_offload_replayed);
		return 0;
	}
	if (!coap_offload_topic_allowed(rcu_dereference(cn->rules), topic,
					s->product_key, s->device_name)) {
		coap_offload_refuse(cn, sk, skb, s, &p.msg, topic,
				    &coap_offload_forbidden);
		return 0;
	}

	payload = (u8 *)p.msg.payload;
	plen = coap_offload_decrypt_payload(s, payload, p.msg.payload_len,
					    counter_block);
	if (plen < 0) {
		coap_offload_refuse(cn, sk, skb, s, &p.msg, NULL,
				    &coap_offload_undecryptable);
		return 0;
	}
	coap_offload_peer_of(skb, &peer);
	coap_offload_local_of(skb, &origin);
	origin.coap_token = p.msg.token;
	origin.coap_token_len = p.msg.token_len;
	/* ackMode 1: an empty ACK now, the consumer sends the result. */
	origin.separate = p.msg.type == COAP_TYPE_CON &&
			  s->ack_mode == COAP_OFFLOAD_ACK_SEPARATE;
	code = origin.separate ? COAP_CODE_EMPTY : COAP_CODE_CONTENT;

	/*
	 * Commit, deliver and remember under the session lock, so that two
	 * copies of one datagram racing on two CPUs are delivered once: the
	 * second finds the seq committed and gets the replay answer.
	 */
	spin_lock(&s->lock);
	if (!coap_replay_check(&s->replay, seq)) {
		spin_unlock(&s->lock);
		coap_offload_refuse(cn, sk, skb, s, &p.msg, NULL,
				    &coap_offload_replayed);
		return 0;
	}
	if (coap_offload_deliver(cn, s, &message_id, seq, topic, payload, plen,
				 &peer, &origin)) {
		/* Nobody took it: no success, the device retransmits. */
		spin_unlock(&s->lock);
		coap_offload_count(cn, COAP_OFFLOAD_CNT_NO_CONSUMER);
		return 0;
	}
	coap_replay_commit(&s->replay, seq);
	s->rx_packets++;
	s->rx_bytes += plen;
	/* Devices behind NAT move: the session follows its last message. */
	s->peer = peer;
	WRITE_ONCE(s->last_seen, jiffies);
	if (p.msg.type == COAP_TYPE_CON)
		coap_offload_remember_answer(s, p.msg.message_id, code,
					     message_id);
	spin_unlock(&s->lock);

	coap_offload_count(cn, COAP_OFFLOAD_CNT_DELIVERED);
	coap_offload_answer(cn, sk, skb, &p.msg, code, message_id);
	return 0;
}

/* Softirq only: the one writer on this CPU. */
static void coap_offload_sock_count(struct coap_offload_sock *cs, bool passed)
{
	struct coap_offload_sock_stats *st = this_cpu_ptr(cs->stats);

	u64_stats_update_begin(&st->syncp);
	u64_stats_inc(&st->rx);
	if (passed)
		u64_stats_inc(&st->passed);
	u64_stats_update_end(&st->syncp);
}

void coap_offload_sock_counters(const struct coap_offload_sock *cs, u64 *rx,
				u64 *passed)
{
	int cpu;

	*rx = 0;
	*passed = 0;
	for_each_possible_cpu(cpu) {
		const struct coap_offload_sock_stats *st =
			per_cpu_ptr(cs->stats, cpu);
		unsigned int start;
		u64 r, p;

		do {
			start = u64_stats_fetch_begin(&st->syncp);
			r = u64_stats_read(&st->rx);
			p = u64_stats_read(&st->passed);
		} while (u64_stats_fetch_retry(&st->syncp, start));
		*rx += r;
		*passed += p;
	}
}

static int coap_offload_encap_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct coap_offload_sock *cs;
	int ret = 1;

	rcu_read_lock();
	cs = rcu_dereference_sk_user_data(sk);
	if (cs) {
		coap_offload_count(cs->cn, COAP_OFFLOAD_CNT_RX);
		if (unlikely(READ_ONCE(debug_drop_all))) {
			coap_offload_count(cs->cn,
					   COAP_OFFLOAD_CNT_DEBUG_DROPPED);
			ret = 0;
		} else {
			ret = coap_offload_rx(cs->cn, sk, skb);
			if (ret > 0)
				coap_offload_count(cs->cn,
						   COAP_OFFLOAD_CNT_PASSED);
		}
		coap_offload_sock_count(cs, ret > 0);
	}
	rcu_read_unlock();

	if (ret > 0)
		return 1;
	consume_skb(skb);
	return 0;
}

static void coap_offload_sock_free(struct coap_offload_sock *cs)
{
	free_percpu(cs->stats);
	kfree(cs);
}

static void coap_offload_sock_free_rcu(struct rcu_head *head)
{
	coap_offload_sock_free(container_of(head, struct coap_offload_sock,
					    rcu));
}

/* Caller holds cn->sockets_lock. */
static void coap_offload_sock_release(struct coap_offload_sock *cs)
{
	struct sock *sk = cs->sk;

	lock_sock(sk);
	WRITE_ONCE(udp_sk(sk)->encap_type, 0);
	rcu_assign_sk_user_data(sk, NULL);
	release_sock(sk);
	list_del(&cs->list);
	cs->cn->sockets_generation++;
	sock_put(sk);
	/* Receivers in flight may still hold cs (and count on it). */
	call_rcu(&cs->rcu, coap_offload_sock_free_rcu);
}

/* The daemon closed the socket: detach it. */
static void coap_offload_encap_destroy(struct sock *sk)
{
	struct coap_offload_sock *cs;
	struct coap_offload_net *cn;

	rcu_read_lock();
	cs = rcu_dereference_sk_user_data(sk);
	cn = cs ? cs->cn : NULL;
	rcu_read_unlock();
	if (!cn)
		return;

	mutex_lock(&cn->sockets_lock);
	/* Re-read: a detach may have won the race for the mutex. */
	cs = rcu_dereference_protected(__sk_user_data(sk),
				       lockdep_is_held(&cn->sockets_lock));
	if (cs)
		coap_offload_sock_release(cs);
	mutex_unlock(&cn->sockets_lock);
}

int coap_offload_sock_attach(struct coap_offload_net *cn, int fd)
{
	struct udp_tunnel_sock_cfg cfg = {
		.encap_type = 1,
		.encap_rcv = coap_offload_encap_rcv,
		.encap_destroy = coap_offload_encap_destroy,
	};
	struct coap_offload_sock *cs;
	struct socket *sock;
	struct sock *sk;
	int err;

	sock = sockfd_lookup(fd, &err);
	if (!sock)
		return err;
	sk = sock->sk;
	err = -EINVAL;
	if (sk->sk_protocol != IPPROTO_UDP || sk->sk_type != SOCK_DGRAM ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6) ||
	    !net_eq(sock_net(sk), cn->net))
		goto out_put;

	cs = kzalloc(sizeof(*cs), GFP_KERNEL);
	err = -ENOMEM;
	if (!cs)
		goto out_put;
	cs->stats = netdev_alloc_pcpu_stats(struct coap_offload_sock_stats);
	if (!cs->stats) {
		kfree(cs);
		goto out_put;
	}
	cs->sk = sk;
	cs->cn = cn;
	cs->attached = get_jiffies_64();

	mutex_lock(&cn->sockets_lock);
	lock_sock(sk);
	if (sk->sk_user_data || udp_sk(sk)->encap_type) {
		release_sock(sk);
		mutex_unlock(&cn->sockets_lock);
		coap_offload_sock_free(cs);
		err = -EBUSY;
		goto out_put;
	}
	sock_hold(sk);
	cfg.sk_user_data = cs;
	setup_udp_tunnel_sock(cn->net, sock, &cfg);
	release_sock(sk);
	list_add_tail(&cs->list, &cn->sockets);
	cn->sockets_generation++;
	mutex_unlock(&cn->sockets_lock);
	err = 0;
out_put:
	sockfd_put(sock);
	return err;
}

int coap_offload_sock_detach(struct coap_offload_net *cn, int fd)
{
	struct coap_offload_sock *cs, *found = NULL;
	struct socket *sock;
	int err;

	sock = sockfd_lookup(fd, &err);
	if (!sock)
		return err;
	mutex_lock(&cn->sockets_lock);
	list_for_each_entry(cs, &cn->sockets, list) {
		if (cs->sk == sock->sk) {
			found = cs;
			break;
		}
	}
	if (found)
		coap_offload_sock_release(found);
	mutex_unlock(&cn->sockets_lock);
	sockfd_put(sock);
	return found ? 0 : -ENOENT;
}

/* Namespace teardown or module unload: give every socket back. */
void coap_offload_socks_detach_all(struct coap_offload_net *cn)
{
	struct coap_offload_sock *cs, *tmp;

	mutex_lock(&cn->sockets_lock);
	list_for_each_entry_safe(cs, tmp, &cn->sockets, list)
		coap_offload_sock_release(cs);
	mutex_unlock(&cn->sockets_lock);
	/* No receiver runs our code once this returns. */
	synchronize_rcu();
}
