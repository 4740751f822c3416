// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the generic netlink family (include/uapi/linux/coap_offload.h).
 */
#include <linux/jiffies.h>
#include <linux/rhashtable.h>
#include <linux/netlink.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/genetlink.h>
#include <linux/coap_offload.h>

#include "coap_offload.h"

static struct genl_family coap_offload_genl_family;

static const struct nla_policy
coap_offload_session_policy[COAP_OFFLOAD_SESSION_A_MAX + 1] = {
	[COAP_OFFLOAD_SESSION_A_TOKEN] =
		NLA_POLICY_RANGE(NLA_BINARY, 1, COAP_OFFLOAD_TOKEN_MAX),
	[COAP_OFFLOAD_SESSION_A_PRODUCT_KEY] = { .type = NLA_NUL_STRING,
		.len = COAP_OFFLOAD_IDENTITY_MAX },
	[COAP_OFFLOAD_SESSION_A_DEVICE_NAME] = { .type = NLA_NUL_STRING,
		.len = COAP_OFFLOAD_IDENTITY_MAX },
	[COAP_OFFLOAD_SESSION_A_CIPHER] =
		NLA_POLICY_RANGE(NLA_U32, COAP_OFFLOAD_CIPHER_AES_128_CBC,
				 COAP_OFFLOAD_CIPHER_AES_128_CTR),
	[COAP_OFFLOAD_SESSION_A_KEY] =
		NLA_POLICY_EXACT_LEN(COAP_OFFLOAD_KEY_LEN),
	[COAP_OFFLOAD_SESSION_A_SEQ_OFFSET] = { .type = NLA_U64 },
	[COAP_OFFLOAD_SESSION_A_LIFETIME] = NLA_POLICY_MIN(NLA_U32, 1),
	[COAP_OFFLOAD_SESSION_A_RX_PACKETS] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_SESSION_A_RX_BYTES] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_SESSION_A_REPLAYS] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_SESSION_A_DECRYPT_ERRORS] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_SESSION_A_FORBIDDEN] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_SESSION_A_SEQ_HIGHEST] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_SESSION_A_PAD] = { .type = NLA_REJECT },
};

static const struct nla_policy coap_offload_policy[COAP_OFFLOAD_A_MAX + 1] = {
	[COAP_OFFLOAD_A_STATS] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_A_SOCKET_FD] = { .type = NLA_U32 },
	[COAP_OFFLOAD_A_SESSION] =
		NLA_POLICY_NESTED(coap_offload_session_policy),
	[COAP_OFFLOAD_A_MESSAGE] = { .type = NLA_REJECT },
};

static struct coap_offload_net *info_cn(struct genl_info *info)
{
	return coap_offload_pernet(genl_info_net(info));
}

static const enum coap_offload_stat coap_offload_stat_of[] = {
	[COAP_OFFLOAD_CNT_RX] = COAP_OFFLOAD_STAT_RX,
	[COAP_OFFLOAD_CNT_PASSED] = COAP_OFFLOAD_STAT_PASSED,
	[COAP_OFFLOAD_CNT_DELIVERED] = COAP_OFFLOAD_STAT_DELIVERED,
	[COAP_OFFLOAD_CNT_RETRANSMITS] = COAP_OFFLOAD_STAT_RETRANSMITS,
	[COAP_OFFLOAD_CNT_REPLAYS] = COAP_OFFLOAD_STAT_REPLAYS,
	[COAP_OFFLOAD_CNT_DECRYPT_ERRORS] = COAP_OFFLOAD_STAT_DECRYPT_ERRORS,
	[COAP_OFFLOAD_CNT_FORBIDDEN] = COAP_OFFLOAD_STAT_FORBIDDEN,
	[COAP_OFFLOAD_CNT_NO_CONSUMER] = COAP_OFFLOAD_STAT_NO_CONSUMER,
	[COAP_OFFLOAD_CNT_TX_ERRORS] = COAP_OFFLOAD_STAT_TX_ERRORS,
};

static int coap_offload_put_stats(struct sk_buff *skb,
				  struct coap_offload_net *cn)
{
	struct nlattr *nest;
	int c;

	nest = nla_nest_start(skb, COAP_OFFLOAD_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, COAP_OFFLOAD_STAT_SESSIONS,
			      atomic_read(&cn->session_count),
			      COAP_OFFLOAD_STAT_PAD))
		goto err_cancel;
	for (c = 0; c < COAP_OFFLOAD_CNT_MAX; c++)
		if (nla_put_u64_64bit(skb, coap_offload_stat_of[c],
				      coap_offload_counter_sum(cn, c),
				      COAP_OFFLOAD_STAT_PAD))
			goto err_cancel;
	nla_nest_end(skb, nest);
	return 0;

err_cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

static int coap_offload_stats_get_doit(struct sk_buff *skb,
				       struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_put_reply(msg, info, &coap_offload_genl_family, 0,
				COAP_OFFLOAD_CMD_STATS_GET);
	if (!hdr) {
		err = -EMSGSIZE;
		goto err_free;
	}
	err = coap_offload_put_stats(msg, info_cn(info));
	if (err)
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

static int coap_offload_socket_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	int fd;

	if (GENL_REQ_ATTR_CHECK(info, COAP_OFFLOAD_A_SOCKET_FD))
		return -EINVAL;
	fd = nla_get_u32(info->attrs[COAP_OFFLOAD_A_SOCKET_FD]);
	if (info->genlhdr->cmd == COAP_OFFLOAD_CMD_SOCKET_ATTACH)
		return coap_offload_sock_attach(info_cn(info), fd);
	return coap_offload_sock_detach(info_cn(info), fd);
}

/* Parse COAP_OFFLOAD_A_SESSION into tb; the token into *token if asked. */
static int coap_offload_parse_session(struct genl_info *info,
				      struct nlattr **tb,
				      struct coap_offload_token *token)
{
	struct nlattr *attr;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, COAP_OFFLOAD_A_SESSION))
		return -EINVAL;
	err = nla_parse_nested(tb, COAP_OFFLOAD_SESSION_A_MAX,
			       info->attrs[COAP_OFFLOAD_A_SESSION],
			       coap_offload_session_policy, info->extack);
	if (err)
		return err;
	attr = tb[COAP_OFFLOAD_SESSION_A_TOKEN];
	if (!attr) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[COAP_OFFLOAD_A_SESSION],
				    "session token missing");
		return -EINVAL;
	}
	memset(token, 0, sizeof(*token));
	token->len = nla_len(attr);
	memcpy(token->data, nla_data(attr), token->len);
	return 0;
}

static int coap_offload_session_new_doit(struct sk_buff *skb,
					 struct genl_info *info)
{
	static const int required[] = {
		COAP_OFFLOAD_SESSION_A_PRODUCT_KEY,
		COAP_OFFLOAD_SESSION_A_DEVICE_NAME,
		COAP_OFFLOAD_SESSION_A_CIPHER,
		COAP_OFFLOAD_SESSION_A_KEY,
		COAP_OFFLOAD_SESSION_A_SEQ_OFFSET,
	};
	struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];
	struct coap_offload_session *s;
	struct coap_offload_token token;
	u32 lifetime = COAP_OFFLOAD_LIFETIME_DEFAULT;
	int err, i;

	err = coap_offload_parse_session(info, tb, &token);
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(required); i++) {
		if (!tb[required[i]]) {
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[COAP_OFFLOAD_A_SESSION],
					    "session attribute missing");
			return -EINVAL;
		}
	}
	if (!nla_len(tb[COAP_OFFLOAD_SESSION_A_PRODUCT_KEY]) ||
	    !nla_len(tb[COAP_OFFLOAD_SESSION_A_DEVICE_NAME]) ||
	    !*(char *)nla_data(tb[COAP_OFFLOAD_SESSION_A_PRODUCT_KEY]) ||
	    !*(char *)nla_data(tb[COAP_OFFLOAD_SESSION_A_DEVICE_NAME])) {
		NL_SET_ERR_MSG(info->extack, "empty product key or device name");
		return -EINVAL;
	}
	if (tb[COAP_OFFLOAD_SESSION_A_LIFETIME])
		lifetime = nla_get_u32(tb[COAP_OFFLOAD_SESSION_A_LIFETIME]);

	s = coap_offload_session_alloc(nla_get_u32(tb[COAP_OFFLOAD_SESSION_A_CIPHER]),
				       nla_data(tb[COAP_OFFLOAD_SESSION_A_KEY]),
				       nla_get_u64(tb[COAP_OFFLOAD_SESSION_A_SEQ_OFFSET]));
	if (IS_ERR(s))
		return PTR_ERR(s);
	s->token = token;
	nla_strscpy(s->product_key, tb[COAP_OFFLOAD_SESSION_A_PRODUCT_KEY],
		    sizeof(s->product_key));
	nla_strscpy(s->device_name, tb[COAP_OFFLOAD_SESSION_A_DEVICE_NAME],
		    sizeof(s->device_name));
	s->expires = get_jiffies_64() + (u64)lifetime * HZ;
	s->last_seen = jiffies;

	err = coap_offload_session_insert(info_cn(info), s);
	if (err) {
		coap_offload_session_free(s);
		if (err == -EEXIST)
			NL_SET_ERR_MSG(info->extack, "token already in use");
		else if (err == -ENOSPC)
			NL_SET_ERR_MSG(info->extack, "session limit reached");
	}
	return err;
}

static int coap_offload_session_del_doit(struct sk_buff *skb,
					 struct genl_info *info)
{
	struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];
	struct coap_offload_token token;
	int err;

	err = coap_offload_parse_session(info, tb, &token);
	if (err)
		return err;
	return coap_offload_session_delete(info_cn(info), &token);
}

/* Caller holds rcu_read_lock(). Never puts the key. */
static int coap_offload_put_session(struct sk_buff *skb,
				    struct coap_offload_session *s)
{
	u64 now = get_jiffies_64(), left = 0;
	u64 rx_packets, rx_bytes, replays, decrypt_errors, forbidden, highest;
	struct nlattr *nest;

	spin_lock_bh(&s->lock);
	rx_packets = s->rx_packets;
	rx_bytes = s->rx_bytes;
	replays = s->replays;
	decrypt_errors = s->decrypt_errors;
	forbidden = s->forbidden;
	highest = s->replay.highest;
	spin_unlock_bh(&s->lock);
	if (time_before64(now, s->expires))
		left = div_u64(s->expires - now, HZ);

	nest = nla_nest_start(skb, COAP_OFFLOAD_A_SESSION);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put(skb, COAP_OFFLOAD_SESSION_A_TOKEN, s->token.len,
		    s->token.data) ||
	    nla_put_string(skb, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY,
			   s->product_key) ||
	    nla_put_string(skb, COAP_OFFLOAD_SESSION_A_DEVICE_NAME,
			   s->device_name) ||
	    nla_put_u32(skb, COAP_OFFLOAD_SESSION_A_CIPHER, s->cipher) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET,
			      s->replay.offset, COAP_OFFLOAD_SESSION_A_PAD) ||
	    nla_put_u32(skb, COAP_OFFLOAD_SESSION_A_LIFETIME,
			min_t(u64, left, U32_MAX)) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SESSION_A_RX_PACKETS,
			      rx_packets, COAP_OFFLOAD_SESSION_A_PAD) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SESSION_A_RX_BYTES, rx_bytes,
			      COAP_OFFLOAD_SESSION_A_PAD) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SESSION_A_REPLAYS, replays,
			      COAP_OFFLOAD_SESSION_A_PAD) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SESSION_A_DECRYPT_ERRORS,
			      decrypt_errors, COAP_OFFLOAD_SESSION_A_PAD) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SESSION_A_FORBIDDEN, forbidden,
			      COAP_OFFLOAD_SESSION_A_PAD) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SESSION_A_SEQ_HIGHEST, highest,
			      COAP_OFFLOAD_SESSION_A_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int coap_offload_session_get_doit(struct sk_buff *skb,
					 struct genl_info *info)
{
	struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];
	struct coap_offload_session *s;
	struct coap_offload_token token;
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = coap_offload_parse_session(info, tb, &token);
	if (err)
		return err;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &coap_offload_genl_family, 0,
				COAP_OFFLOAD_CMD_SESSION_GET);
	err = -EMSGSIZE;
	if (!hdr)
		goto err_free;

	rcu_read_lock();
	s = coap_offload_session_lookup(info_cn(info), &token);
	err = s ? coap_offload_put_session(msg, s) : -ENOENT;
	rcu_read_unlock();
	if (err)
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

/* The dump walks the rhashtable; the iterator lives in cb->ctx. */
struct coap_offload_dump_ctx {
	struct rhashtable_iter *iter;
};

static int coap_offload_session_dump_start(struct netlink_callback *cb)
{
	struct coap_offload_dump_ctx *ctx = (void *)cb->ctx;
	struct coap_offload_net *cn = coap_offload_pernet(sock_net(cb->skb->sk));

	BUILD_BUG_ON(sizeof(*ctx) > sizeof(cb->ctx));
	ctx->iter = kmalloc(sizeof(*ctx->iter), GFP_KERNEL);
	if (!ctx->iter)
		return -ENOMEM;
	rhashtable_walk_enter(&cn->sessions, ctx->iter);
	return 0;
}

static int coap_offload_session_dump_done(struct netlink_callback *cb)
{
	struct coap_offload_dump_ctx *ctx = (void *)cb->ctx;

	rhashtable_walk_exit(ctx->iter);
	kfree(ctx->iter);
	return 0;
}

static int coap_offload_session_dump(struct sk_buff *skb,
				     struct netlink_callback *cb)
{
	struct coap_offload_dump_ctx *ctx = (void *)cb->ctx;
	struct coap_offload_session *s;
	void *hdr;
	int err = 0;

	rhashtable_walk_start(ctx->iter);
	while ((s = rhashtable_walk_peek(ctx->iter))) {
		if (IS_ERR(s)) {
			/* A resize restarted the walk: keep going. */
			if (PTR_ERR(s) == -EAGAIN)
				continue;
			err = PTR_ERR(s);
			break;
		}
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &coap_offload_genl_family,
				  NLM_F_MULTI, COAP_OFFLOAD_CMD_SESSION_GET);
		if (!hdr)
			break;
		if (coap_offload_put_session(skb, s)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		/* Only step past the session once it is in the message. */
		rhashtable_walk_next(ctx->iter);
	}
	rhashtable_walk_stop(ctx->iter);
	return err ?: skb->len;
}

static int coap_offload_consumer_doit(struct sk_buff *skb,
				      struct genl_info *info)
{
	WRITE_ONCE(info_cn(info)->consumer_portid, info->snd_portid);
	return 0;
}

/* Softirq: queue one delivered message to the consumer, or fail. */
int coap_offload_deliver(struct coap_offload_net *cn,
			 const struct coap_offload_session *s, u64 message_id,
			 u64 seq, const char *topic, const u8 *payload,
			 size_t len, const struct sk_buff *in)
{
	u32 portid = READ_ONCE(cn->consumer_portid);
	struct nlattr *nest;
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (!portid)
		return -ENOTCONN;
	msg = genlmsg_new(NLMSG_GOODSIZE + len, GFP_ATOMIC);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put(msg, 0, 0, &coap_offload_genl_family, 0,
			  COAP_OFFLOAD_CMD_MESSAGE);
	if (!hdr)
		goto err_size;
	nest = nla_nest_start(msg, COAP_OFFLOAD_A_MESSAGE);
	if (!nest ||
	    nla_put_u64_64bit(msg, COAP_OFFLOAD_MESSAGE_A_ID, message_id,
			      COAP_OFFLOAD_MESSAGE_A_PAD) ||
	    nla_put_string(msg, COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY,
			   s->product_key) ||
	    nla_put_string(msg, COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME,
			   s->device_name) ||
	    nla_put_string(msg, COAP_OFFLOAD_MESSAGE_A_TOPIC, topic) ||
	    nla_put(msg, COAP_OFFLOAD_MESSAGE_A_PAYLOAD, len, payload) ||
	    nla_put_u64_64bit(msg, COAP_OFFLOAD_MESSAGE_A_TIME,
			      ktime_get_real_ns(), COAP_OFFLOAD_MESSAGE_A_PAD) ||
	    nla_put_u64_64bit(msg, COAP_OFFLOAD_MESSAGE_A_SEQ, seq,
			      COAP_OFFLOAD_MESSAGE_A_PAD))
		goto err_size;

	if (ip_hdr(in)->version == 4) {
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_port = udp_hdr(in)->source,
			.sin_addr.s_addr = ip_hdr(in)->saddr,
		};

		if (nla_put(msg, COAP_OFFLOAD_MESSAGE_A_PEER, sizeof(sin), &sin))
			goto err_size;
	} else {
		struct sockaddr_in6 sin6 = {
			.sin6_family = AF_INET6,
			.sin6_port = udp_hdr(in)->source,
			.sin6_addr = ipv6_hdr(in)->saddr,
		};

		if (nla_put(msg, COAP_OFFLOAD_MESSAGE_A_PEER, sizeof(sin6),
			    &sin6))
			goto err_size;
	}
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	/* Non-blocking: a full or closed consumer is a failure, not a wait. */
	err = genlmsg_unicast(cn->net, msg, portid);
	return err;

err_size:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* The consumer's socket closed: nobody takes messages any more. */
static int coap_offload_netlink_notify(struct notifier_block *nb,
				       unsigned long state, void *ptr)
{
	struct netlink_notify *n = ptr;
	struct coap_offload_net *cn;

	if (state != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC)
		return NOTIFY_DONE;
	cn = coap_offload_pernet(n->net);
	cmpxchg(&cn->consumer_portid, n->portid, 0);
	return NOTIFY_DONE;
}

static struct notifier_block coap_offload_netlink_notifier = {
	.notifier_call = coap_offload_netlink_notify,
};

static const struct genl_ops coap_offload_genl_ops[] = {
	{
		.cmd = COAP_OFFLOAD_CMD_STATS_GET,
		.doit = coap_offload_stats_get_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_SOCKET_ATTACH,
		.doit = coap_offload_socket_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_SOCKET_DETACH,
		.doit = coap_offload_socket_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_SESSION_NEW,
		.doit = coap_offload_session_new_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_SESSION_DEL,
		.doit = coap_offload_session_del_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_SESSION_GET,
		.doit = coap_offload_session_get_doit,
		.start = coap_offload_session_dump_start,
		.dumpit = coap_offload_session_dump,
		.done = coap_offload_session_dump_done,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_CONSUMER_REGISTER,
		.doit = coap_offload_consumer_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family coap_offload_genl_family __ro_after_init = {
	.name = COAP_OFFLOAD_GENL_NAME,
	.version = COAP_OFFLOAD_GENL_VERSION,
	.maxattr = COAP_OFFLOAD_A_MAX,
	.policy = coap_offload_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = coap_offload_genl_ops,
	.n_ops = ARRAY_SIZE(coap_offload_genl_ops),
};

int __init coap_offload_genl_init(void)
{
	int err;

	err = netlink_register_notifier(&coap_offload_netlink_notifier);
	if (err)
		return err;
	err = genl_register_family(&coap_offload_genl_family);
	if (err)
		netlink_unregister_notifier(&coap_offload_netlink_notifier);
	return err;
}

void coap_offload_genl_exit(void)
{
	genl_unregister_family(&coap_offload_genl_family);
	netlink_unregister_notifier(&coap_offload_netlink_notifier);
}
