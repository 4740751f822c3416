// SPDX-License-Identifier: GPL-2.0
/*
 * Delivered messages on their way to the consumer.
 *
 * A device is answered 2.05 once its message is delivered, so "delivered"
 * must mean "will reach user space". A message sitting in the consumer's
 * socket buffer is lost when the consumer dies; a consumer that registered
 * with COAP_OFFLOAD_A_CONSUMER_CONFIRM therefore gets a clone, and the
 * original stays here until the consumer confirms it. The next consumer to
 * register is sent every unconfirmed message again, oldest first.
 *
 * Message ids are assigned here, under the queue's lock, so that they rise
 * in the order the messages reach the consumer: a confirmation can then be
 * cumulative ("up to id N"), and a consumer that gets a message again can
 * tell it from its id.
 *
 * A consumer that registered with COAP_OFFLOAD_A_CONSUMER_BATCH gets several
 * messages per datagram: each queued skb holds one complete netlink message,
 * and consecutive ones are copied into one new skb. Each datagram costs the
 * consumer a wakeup and a recvmsg, so the batches are made to form: while
 * the consumer has not confirmed everything it was sent, new messages only
 * queue, and its next confirmation sends them all at once. With nothing
 * outstanding, the first message waits COAP_OFFLOAD_BATCH_DELAY for
 * others (a full batch goes at once): like a NIC's interrupt coalescing.
 * Without it the consumer is woken for each message; on a gateway whose
 * one CPU also runs the traffic's source, the consumer then preempts it
 * after every datagram, and a message costs two context switches. The
 * device's answer does not wait: it goes out as soon as the message is
 * queued here.
 */
#include <kunit/visibility.h>
#include <linux/hrtimer.h>
#include <linux/skbuff.h>
#include <linux/timekeeping.h>
#include <asm/unaligned.h>
#include <net/genetlink.h>

#include "coap_offload.h"

struct coap_offload_pending_cb {
	u64 id;
	u8 *redelivered;	/* the message's COAP_OFFLOAD_MESSAGE_A_REDELIVERED */
	bool sent;		/* to this or an earlier consumer */
};

static struct coap_offload_pending_cb *pending_cb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct coap_offload_pending_cb) >
		     sizeof_field(struct sk_buff, cb));
	return (struct coap_offload_pending_cb *)skb->cb;
}

static enum hrtimer_restart pending_batch_timer(struct hrtimer *timer);

void coap_offload_pending_init(struct coap_offload_pending *p)
{
	spin_lock_init(&p->lock);
	__skb_queue_head_init(&p->queue);
	/* Soft: it expires in softirq context, as the fast path runs. */
	hrtimer_init(&p->batch_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	p->batch_timer.function = pending_batch_timer;
	/*
	 * Message ids must stay unique across module reloads and reboots:
	 * start from the clock, which they then run ahead of.
	 */
	p->last_id = ktime_get_real_ns();
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_pending_init);

void coap_offload_pending_exit(struct coap_offload_pending *p)
{
	/* No sender or consumer is left: the namespace is going away. */
	hrtimer_cancel(&p->batch_timer);
	__skb_queue_purge(&p->queue);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_pending_exit);

/* The message after skb, or NULL at the end of the queue. */
static struct sk_buff *pending_next(struct coap_offload_pending *p,
				    struct sk_buff *skb)
{
	return skb_queue_is_last(&p->queue, skb) ? NULL : skb->next;
}

static void pending_unlink(struct coap_offload_pending *p, struct sk_buff *skb)
{
	__skb_unlink(skb, &p->queue);
	p->bytes -= skb->truesize;
	p->len -= NLMSG_ALIGN(skb->len);
	consume_skb(skb);
}

/* Non-blocking: a full or closed consumer socket is an error, not a wait. */
static int pending_send(struct net *net, struct coap_offload_pending *p,
			struct sk_buff *skb)
{
	struct sk_buff *clone;

	clone = skb_clone(skb, GFP_ATOMIC);
	if (!clone)
		return -ENOMEM;
	/*
	 * The clone's cb is ours (pending_cb()), but netlink reads it as
	 * NETLINK_CB(): the consumer would see a sender and group made of
	 * our id and pointer. From the kernel: all zero, as in a new skb.
	 */
	memset(clone->cb, 0, sizeof(clone->cb));
	return genlmsg_unicast(net, clone, p->portid);
}

/* Sent before: that consumer may have it. Nobody reads it now. */
static void pending_mark_again(struct sk_buff *skb)
{
	if (pending_cb(skb)->sent)
		*pending_cb(skb)->redelivered = 1;
}

/*
 * A batch's skb, however large the consumer's buffer: an order-3 allocation
 * at most (skb_shared_info included), which GFP_ATOMIC still finds.
 */
#define PENDING_BATCH_SKB_MAX	SKB_WITH_OVERHEAD(32768)

/* The most a batching consumer is sent in one datagram. */
static u32 pending_batch_limit(const struct coap_offload_pending *p)
{
	return min_t(u32, p->batch, PENDING_BATCH_SKB_MAX);
}

/*
 * A batching consumer has confirmed everything it was sent: what is queued
 * is gathering for its next datagram.
 */
static bool pending_batch_gathering(struct coap_offload_pending *p)
{
	return skb_peek(&p->queue) == p->unsent;
}

/*
 * Send the unsent messages to a batching consumer, packed, until its socket
 * is full: consecutive ones are copied into one skb of at most p->batch
 * bytes. A message alone goes as a clone, as to any consumer. Every
 * message fits a batch on its own (COAP_OFFLOAD_CONSUMER_BATCH_MIN).
 */
static void pending_push_batch(struct net *net, struct coap_offload_pending *p)
	__must_hold(&p->lock)
{
	u32 limit = pending_batch_limit(p);
	struct sk_buff *skb, *last, *next, *batch;
	unsigned int len, n;

	while (p->unsent) {
		/* How many fit: the first always does. */
		skb = p->unsent;
		len = NLMSG_ALIGN(skb->len);
		n = 1;
		for (last = skb; (next = pending_next(p, last)) &&
		     len + NLMSG_ALIGN(next->len) <= limit; last = next) {
			len += NLMSG_ALIGN(next->len);
			n++;
		}

		batch = n > 1 ? alloc_skb(len, GFP_ATOMIC | __GFP_NOWARN) :
				NULL;
		if (!batch) {
			/* One, or no memory for more: this one alone. */
			pending_mark_again(skb);
			if (pending_send(net, p, skb))
				return;
			pending_cb(skb)->sent = true;
			p->unsent = pending_next(p, skb);
			continue;
		}
		for (next = skb; ; next = pending_next(p, next)) {
			pending_mark_again(next);
			skb_put_data(batch, next->data, next->len);
			skb_put_zero(batch, NLMSG_ALIGN(next->len) - next->len);
			if (next == last)
				break;
		}
		/* Refused (full socket): freed there; they stay unsent. */
		if (genlmsg_unicast(net, batch, p->portid))
			return;
		for (next = skb; ; next = pending_next(p, next)) {
			pending_cb(next)->sent = true;
			if (next == last)
				break;
		}
		p->unsent = pending_next(p, last);
	}
}

/*
 * Send what the consumer does not have yet, until its socket is full.
 * Without confirmations a message is let go once sent.
 */
static void pending_push(struct net *net, struct coap_offload_pending *p)
	__must_hold(&p->lock)
{
	struct sk_buff *skb, *next;

	if (!p->portid)
		return;
	if (p->batch) {
		pending_push_batch(net, p);
		return;
	}
	for (skb = p->unsent; skb; skb = next) {
		next = pending_next(p, skb);
		pending_mark_again(skb);
		if (pending_send(net, p, skb))
			break;
		pending_cb(skb)->sent = true;
		if (!p->confirm)
			pending_unlink(p, skb);
		p->unsent = next;
	}
}

/**
 * coap_offload_pending_add() - deliver one message to the consumer
 * @net: the namespace
 * @p: its queue
 * @msg: the COAP_OFFLOAD_CMD_MESSAGE, consumed in every case
 * @id_attr: the message's COAP_OFFLOAD_MESSAGE_A_ID, filled in here
 * @redelivered: its COAP_OFFLOAD_MESSAGE_A_REDELIVERED, set when it is sent
 *	again
 * @id: the id given to the message, on success
 *
 * Softirq or process context. Returns 0 when the message is the consumer's
 * (in its socket, or held for a confirming consumer), -ENOTCONN with no
 * consumer, -ENOBUFS when the queue or the consumer is full.
 */
int coap_offload_pending_add(struct net *net, struct coap_offload_pending *p,
			     struct sk_buff *msg, struct nlattr *id_attr,
			     struct nlattr *redelivered, u64 *id)
{
	int err = 0;

	spin_lock_bh(&p->lock);
	if (!p->portid) {
		err = -ENOTCONN;
		goto out_free;
	}
	/*
	 * What an earlier full socket refused goes first: order is kept. A
	 * batching consumer gets it with its next confirmation, or below.
	 */
	if (!p->batch)
		pending_push(net, p);
	if (p->unsent && !p->confirm) {
		err = -ENOBUFS;
		goto out_free;
	}
	if (p->bytes + msg->truesize > COAP_OFFLOAD_PENDING_MAX_BYTES) {
		err = -ENOBUFS;
		goto out_free;
	}
	/*
	 * A batching consumer with nothing outstanding gets the messages that
	 * gathered at once when this one would not fit their datagram. Before
	 * this one is queued: it waits for the consumer's confirmation.
	 */
	if (p->batch && p->unsent && pending_batch_gathering(p) &&
	    p->len + NLMSG_ALIGN(msg->len) > pending_batch_limit(p))
		pending_push(net, p);
	*id = ++p->last_id;
	put_unaligned(*id, (u64 *)nla_data(id_attr));
	pending_cb(msg)->id = *id;
	pending_cb(msg)->redelivered = nla_data(redelivered);
	pending_cb(msg)->sent = false;
	__skb_queue_tail(&p->queue, msg);
	p->bytes += msg->truesize;
	p->len += NLMSG_ALIGN(msg->len);
	if (p->batch) {
		if (!p->unsent)
			p->unsent = msg;
		/*
		 * While the consumer has not confirmed all it was sent, the
		 * message waits for that confirmation, with the others. With
		 * nothing outstanding, it waits a moment for company, unless
		 * it completes a datagram.
		 */
		if (pending_batch_gathering(p)) {
			if (p->len >= pending_batch_limit(p))
				pending_push(net, p);
			else if (!hrtimer_is_queued(&p->batch_timer))
				hrtimer_start(&p->batch_timer,
					      ns_to_ktime(COAP_OFFLOAD_BATCH_DELAY),
					      HRTIMER_MODE_REL_SOFT);
		}
	} else if (!p->unsent) {
		p->unsent = msg;
		pending_push(net, p);
		/* Unconfirmed and not in the consumer's socket: refused. */
		if (p->unsent == msg && !p->confirm) {
			p->unsent = NULL;
			pending_unlink(p, msg);
			err = -ENOBUFS;
		}
	}
	spin_unlock_bh(&p->lock);
	return err;

out_free:
	spin_unlock_bh(&p->lock);
	kfree_skb(msg);
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_pending_add);

/* The batching consumer's gathering time is up: send what waited. */
static enum hrtimer_restart pending_batch_timer(struct hrtimer *timer)
{
	struct coap_offload_pending *p =
		container_of(timer, struct coap_offload_pending, batch_timer);
	struct coap_offload_net *cn =
		container_of(p, struct coap_offload_net, pending);

	spin_lock_bh(&p->lock);
	/*
	 * Sent a full datagram since it was started: what came after waits
	 * for that datagram's confirmation, which sends it.
	 */
	if (pending_batch_gathering(p))
		pending_push(cn->net, p);
	spin_unlock_bh(&p->lock);
	return HRTIMER_NORESTART;
}

/*
 * The consumer has every message up to id: let them go, send more (to a
 * batching consumer, everything that waited; also when id confirms nothing
 * new: a consumer starts with a confirmation of 0 to be sent what it does
 * not have).
 */
void coap_offload_pending_confirm(struct net *net,
				  struct coap_offload_pending *p, u64 id)
{
	struct sk_buff *skb;

	spin_lock_bh(&p->lock);
	while ((skb = skb_peek(&p->queue)) && skb != p->unsent &&
	       pending_cb(skb)->id <= id)
		pending_unlink(p, skb);
	pending_push(net, p);
	spin_unlock_bh(&p->lock);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_pending_confirm);

/*
 * A new consumer: it has none of the messages, so all are to be sent again.
 * Not from here: they would reach its socket ahead of the registration's
 * ACK and could crowd it out. Its first confirmation or the next delivery
 * sends them. The same socket registering again keeps what it has.
 * batch: the largest datagram it reads (COAP_OFFLOAD_A_CONSUMER_BATCH), or
 * 0: one message per datagram.
 */
void coap_offload_pending_register(struct coap_offload_pending *p, u32 portid,
				   bool confirm, u32 batch)
{
	spin_lock_bh(&p->lock);
	if (portid != p->portid)
		p->unsent = skb_peek(&p->queue);
	p->portid = portid;
	p->confirm = confirm;
	p->batch = batch;
	spin_unlock_bh(&p->lock);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_pending_register);

/* The consumer's socket closed: what it had not confirmed waits. */
void coap_offload_pending_release(struct coap_offload_pending *p, u32 portid)
{
	spin_lock_bh(&p->lock);
	if (p->portid == portid) {
		p->portid = 0;
		p->unsent = skb_peek(&p->queue);
	}
	spin_unlock_bh(&p->lock);
}

/* For STATS_GET. */
void coap_offload_pending_usage(struct coap_offload_pending *p, u32 *messages,
				u32 *bytes)
{
	spin_lock_bh(&p->lock);
	*messages = skb_queue_len(&p->queue);
	*bytes = p->bytes;
	spin_unlock_bh(&p->lock);
}
