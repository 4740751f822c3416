// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the generic netlink family (include/uapi/linux/coap_offload.h).
 */
#include <linux/ctype.h>
#include <linux/jiffies.h>
#include <linux/rhashtable.h>
#include <linux/netlink.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/genetlink.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <linux/coap_offload.h>

#include "coap_offload.h"

static struct genl_family coap_offload_genl_family;

/* Seconds; the cap keeps seconds * HZ within 32 bits. */
static struct netlink_range_validation coap_offload_idle_range = {
	.max = COAP_OFFLOAD_IDLE_TIMEOUT_MAX,
};

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
	[COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &coap_offload_idle_range),
	[COAP_OFFLOAD_SESSION_A_IDLE] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_SESSION_A_PEER] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_SESSION_A_ACK_MODE] =
		NLA_POLICY_MAX(NLA_U8, COAP_OFFLOAD_ACK_SEPARATE),
	[COAP_OFFLOAD_SESSION_A_MODE] =
		NLA_POLICY_MAX(NLA_U32, COAP_OFFLOAD_MODE_DTLS),
};

/* Inside COAP_OFFLOAD_A_RULES: only COAP_OFFLOAD_A_RULE. */
static const struct nla_policy coap_offload_rules_policy[COAP_OFFLOAD_A_MAX + 1] = {
	[COAP_OFFLOAD_A_RULE] = { .type = NLA_NUL_STRING,
		.len = COAP_OFFLOAD_RULE_MAX },
};

/* Bytes; past the s16 bounds of NLA_POLICY_RANGE. */
static struct netlink_range_validation coap_offload_batch_range = {
	.min = COAP_OFFLOAD_CONSUMER_BATCH_MIN,
	.max = COAP_OFFLOAD_CONSUMER_BATCH_MAX,
};

static const struct nla_policy coap_offload_policy[COAP_OFFLOAD_A_MAX + 1] = {
	[COAP_OFFLOAD_A_STATS] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_A_SOCKET_FD] = { .type = NLA_U32 },
	[COAP_OFFLOAD_A_SESSION] =
		NLA_POLICY_NESTED(coap_offload_session_policy),
	[COAP_OFFLOAD_A_MESSAGE] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_A_MAX_SESSIONS] = NLA_POLICY_MIN(NLA_U32, 1),
	[COAP_OFFLOAD_A_TOKEN_ALIAS] = NLA_POLICY_MAX(NLA_U8, 1),
	[COAP_OFFLOAD_A_RULES] = NLA_POLICY_NESTED(coap_offload_rules_policy),
	[COAP_OFFLOAD_A_RULE] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_A_EVENT] = { .type = NLA_REJECT },
	[COAP_OFFLOAD_A_CONSUMER_CONFIRM] = { .type = NLA_FLAG },
	[COAP_OFFLOAD_A_MESSAGE_ID] = { .type = NLA_U64 },
	[COAP_OFFLOAD_A_CONSUMER_BATCH] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &coap_offload_batch_range),
};

enum coap_offload_mcgrp {
	COAP_OFFLOAD_MCGRP_EVENTS_ID,
	COAP_OFFLOAD_MCGRP_MONITOR_ID,
};

static const struct genl_multicast_group coap_offload_mcgrps[] = {
	[COAP_OFFLOAD_MCGRP_EVENTS_ID] = {
		.name = COAP_OFFLOAD_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
	[COAP_OFFLOAD_MCGRP_MONITOR_ID] = {
		.name = COAP_OFFLOAD_MCGRP_MONITOR,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
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
	[COAP_OFFLOAD_CNT_EXPIRED] = COAP_OFFLOAD_STAT_EXPIRED,
	[COAP_OFFLOAD_CNT_DEBUG_DROPPED] = COAP_OFFLOAD_STAT_DEBUG_DROPPED,
};

static int coap_offload_put_stats(struct sk_buff *skb,
				  struct coap_offload_net *cn)
{
	u32 pending, pending_bytes;
	struct nlattr *nest;
	int c;

	coap_offload_pending_usage(&cn->pending, &pending, &pending_bytes);
	nest = nla_nest_start(skb, COAP_OFFLOAD_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, COAP_OFFLOAD_STAT_SESSIONS,
			      atomic_read(&cn->session_count),
			      COAP_OFFLOAD_STAT_PAD) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_STAT_PENDING, pending,
			      COAP_OFFLOAD_STAT_PAD) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_STAT_PENDING_BYTES,
			      pending_bytes, COAP_OFFLOAD_STAT_PAD))
		goto err_cancel;
	for (c = 0; c < COAP_OFFLOAD_CNT_MAX; c++)
		if (nla_put_u64_64bit(skb, coap_offload_stat_of[c],
				      coap_offload_counter_sum(cn, c) -
				      cn->stats_base[c],
				      COAP_OFFLOAD_STAT_PAD))
			goto err_cancel;
	nla_nest_end(skb, nest);
	return 0;

err_cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

/* A reply to info's request: the message with its header, or NULL. */
static struct sk_buff *coap_offload_reply_start(struct genl_info *info, u8 cmd,
						size_t size, void **hdr)
{
	struct sk_buff *msg;

	msg = genlmsg_new(size, GFP_KERNEL);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put_reply(msg, info, &coap_offload_genl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* Send a reply begun with coap_offload_reply_start(), or drop it on err. */
static int coap_offload_reply_end(struct genl_info *info, struct sk_buff *msg,
				  void *hdr, int err)
{
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int coap_offload_stats_get_doit(struct sk_buff *skb,
				       struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = coap_offload_reply_start(info, COAP_OFFLOAD_CMD_STATS_GET,
				       NLMSG_DEFAULT_SIZE, &hdr);
	if (!msg)
		return -ENOMEM;
	return coap_offload_reply_end(info, msg, hdr,
				      coap_offload_put_stats(msg, info_cn(info)));
}

/* genl_mutex serialises this with STATS_GET: no lock of our own. */
static int coap_offload_stats_reset_doit(struct sk_buff *skb,
					 struct genl_info *info)
{
	struct coap_offload_net *cn = info_cn(info);
	int c;

	for (c = 0; c < COAP_OFFLOAD_CNT_MAX; c++)
		cn->stats_base[c] = coap_offload_counter_sum(cn, c);
	return 0;
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

/* The address sk is bound to (the wildcard address when bound to all). */
static int coap_offload_put_local(struct sk_buff *skb, struct sock *sk)
{
	const struct inet_sock *inet = inet_sk(sk);
	int err;

	lock_sock(sk);
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		struct sockaddr_in6 sin6 = {
			.sin6_family = AF_INET6,
			.sin6_port = inet->inet_sport,
			.sin6_addr = sk->sk_v6_rcv_saddr,
		};

		err = nla_put(skb, COAP_OFFLOAD_SOCKET_A_LOCAL, sizeof(sin6),
			      &sin6);
		release_sock(sk);
		return err;
	}
#endif
	{
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_port = inet->inet_sport,
			.sin_addr.s_addr = inet->inet_rcv_saddr,
		};

		err = nla_put(skb, COAP_OFFLOAD_SOCKET_A_LOCAL, sizeof(sin),
			      &sin);
	}
	release_sock(sk);
	return err;
}

/* One socket's reply of a SOCKET_GET dump. Caller holds sockets_lock. */
static int coap_offload_put_socket(struct sk_buff *skb,
				   struct netlink_callback *cb,
				   const struct coap_offload_sock *cs)
{
	u64 age = get_jiffies_64() - cs->attached, rx, passed;
	struct nlattr *nest;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &coap_offload_genl_family, NLM_F_MULTI,
			  COAP_OFFLOAD_CMD_SOCKET_GET);
	if (!hdr)
		return -EMSGSIZE;
	genl_dump_check_consistent(cb, hdr);
	coap_offload_sock_counters(cs, &rx, &passed);
	nest = nla_nest_start(skb, COAP_OFFLOAD_A_SOCKET);
	if (!nest || coap_offload_put_local(skb, cs->sk) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SOCKET_A_INODE,
			      sock_i_ino(cs->sk), COAP_OFFLOAD_SOCKET_A_PAD) ||
	    nla_put_u32(skb, COAP_OFFLOAD_SOCKET_A_ATTACHED,
			min_t(u64, div_u64(age, HZ), U32_MAX)) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SOCKET_A_RX, rx,
			      COAP_OFFLOAD_SOCKET_A_PAD) ||
	    nla_put_u64_64bit(skb, COAP_OFFLOAD_SOCKET_A_PASSED, passed,
			      COAP_OFFLOAD_SOCKET_A_PAD)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
}

/* cb->args[0]: how many sockets earlier parts of the dump carried. */
static int coap_offload_socket_dump(struct sk_buff *skb,
				    struct netlink_callback *cb)
{
	struct coap_offload_net *cn = coap_offload_pernet(sock_net(skb->sk));
	struct coap_offload_sock *cs;
	long i = 0;

	mutex_lock(&cn->sockets_lock);
	/* An attach or detach between two parts: NLM_F_DUMP_INTR. */
	cb->seq = cn->sockets_generation + 1;
	list_for_each_entry(cs, &cn->sockets, list) {
		if (i++ < cb->args[0])
			continue;
		if (coap_offload_put_socket(skb, cb, cs))
			break;
		cb->args[0] = i;
	}
	mutex_unlock(&cn->sockets_lock);
	return skb->len;
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

/*
 * A device identity is matched as a topic segment, so it must be one: the
 * platform's characters only (letters, digits, "-_@.:"), not "." or "..",
 * and a productKey must not be a literal first segment of the default
 * rules, or a device "sys/<victim>" would reach /sys/<victim>/...
 */
static bool coap_offload_identity_valid(const struct nlattr *attr,
					bool product_key)
{
	static const char * const reserved[] = { "sys", "ota", "shadow" };
	const char *id = nla_data(attr), *c;
	int i;

	if (!*id || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (c = id; *c; c++)
		if (!isalnum(*c) && !strchr("-_@.:", *c))
			return false;
	for (i = 0; product_key && i < ARRAY_SIZE(reserved); i++)
		if (!strcmp(id, reserved[i]))
			return false;
	return true;
}

/* Build a session from the SESSION_NEW/REPLACE attributes. */
static struct coap_offload_session *
coap_offload_session_from_attrs(struct genl_info *info, struct nlattr **tb,
				const struct coap_offload_token *token)
{
	static const int required[] = {
		COAP_OFFLOAD_SESSION_A_PRODUCT_KEY,
		COAP_OFFLOAD_SESSION_A_DEVICE_NAME,
		COAP_OFFLOAD_SESSION_A_CIPHER,
		COAP_OFFLOAD_SESSION_A_KEY,
		COAP_OFFLOAD_SESSION_A_SEQ_OFFSET,
	};
	struct nlattr *nest = info->attrs[COAP_OFFLOAD_A_SESSION];
	u32 lifetime = COAP_OFFLOAD_LIFETIME_DEFAULT;
	struct coap_offload_session *s;
	bool dtls;
	int i;

	dtls = tb[COAP_OFFLOAD_SESSION_A_MODE] &&
	       nla_get_u32(tb[COAP_OFFLOAD_SESSION_A_MODE]) ==
	       COAP_OFFLOAD_MODE_DTLS;
	/* DTLS protects the messages: no key to hold, nothing to decrypt. */
	if (dtls && (tb[COAP_OFFLOAD_SESSION_A_CIPHER] ||
		     tb[COAP_OFFLOAD_SESSION_A_KEY] ||
		     tb[COAP_OFFLOAD_SESSION_A_SEQ_OFFSET])) {
		NL_SET_ERR_MSG_ATTR(info->extack, nest,
				    "a DTLS-mode session has no cipher, key or seq offset");
		return ERR_PTR(-EINVAL);
	}
	/* The first two (the identity) are all a DTLS-mode session needs. */
	for (i = 0; i < (dtls ? 2 : ARRAY_SIZE(required)); i++) {
		if (!tb[required[i]]) {
			NL_SET_ERR_MSG_ATTR(info->extack, nest,
					    "session attribute missing");
			return ERR_PTR(-EINVAL);
		}
	}
	if (!coap_offload_identity_valid(tb[COAP_OFFLOAD_SESSION_A_PRODUCT_KEY],
					 true) ||
	    !coap_offload_identity_valid(tb[COAP_OFFLOAD_SESSION_A_DEVICE_NAME],
					 false)) {
		NL_SET_ERR_MSG_ATTR(info->extack, nest,
				    "product key or device name not a valid identity");
		return ERR_PTR(-EINVAL);
	}
	if (tb[COAP_OFFLOAD_SESSION_A_LIFETIME])
		lifetime = nla_get_u32(tb[COAP_OFFLOAD_SESSION_A_LIFETIME]);

	if (dtls)
		s = coap_offload_session_alloc_dtls();
	else
		s = coap_offload_session_alloc(nla_get_u32(tb[COAP_OFFLOAD_SESSION_A_CIPHER]),
					       nla_data(tb[COAP_OFFLOAD_SESSION_A_KEY]),
					       nla_get_u64(tb[COAP_OFFLOAD_SESSION_A_SEQ_OFFSET]));
	if (IS_ERR(s))
		return s;
	s->token = *token;
	nla_strscpy(s->product_key, tb[COAP_OFFLOAD_SESSION_A_PRODUCT_KEY],
		    sizeof(s->product_key));
	nla_strscpy(s->device_name, tb[COAP_OFFLOAD_SESSION_A_DEVICE_NAME],
		    sizeof(s->device_name));
	s->expires = get_jiffies_64() + (u64)lifetime * HZ;
	if (tb[COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT])
		s->idle_timeout = nla_get_u32(tb[COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT]) * HZ;
	s->last_seen = jiffies;
	if (tb[COAP_OFFLOAD_SESSION_A_ACK_MODE])
		s->ack_mode = nla_get_u8(tb[COAP_OFFLOAD_SESSION_A_ACK_MODE]);
	return s;
}

static int coap_offload_session_set_doit(struct sk_buff *skb,
					 struct genl_info *info)
{
	bool replace = info->genlhdr->cmd == COAP_OFFLOAD_CMD_SESSION_REPLACE;
	struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];
	struct coap_offload_session *s;
	struct coap_offload_token token;
	int err;

	err = coap_offload_parse_session(info, tb, &token);
	if (err)
		return err;
	s = coap_offload_session_from_attrs(info, tb, &token);
	if (IS_ERR(s))
		return PTR_ERR(s);

	if (replace)
		err = coap_offload_session_replace(info_cn(info), s);
	else
		err = coap_offload_session_insert(info_cn(info), s);
	if (err) {
		coap_offload_session_free(s);
		if (err == -EEXIST)
			NL_SET_ERR_MSG(info->extack, "token already in use");
		else if (err == -ENOSPC)
			NL_SET_ERR_MSG(info->extack, "session limit reached");
		else if (err == -ENOENT)
			NL_SET_ERR_MSG(info->extack, "no session with this token");
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
	return coap_offload_session_delete(info_cn(info), &token, true);
}

static int coap_offload_session_flush_doit(struct sk_buff *skb,
					   struct genl_info *info)
{
	coap_offload_sessions_flush(info_cn(info));
	return 0;
}

static int coap_offload_put_addr(struct sk_buff *skb, int type,
				 const struct coap_offload_peer *peer,
				 int ifindex)
{
	if (peer->family == AF_INET) {
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_port = peer->port,
			.sin_addr.s_addr = peer->v4,
		};

		return nla_put(skb, type, sizeof(sin), &sin);
	}
	if (peer->family == AF_INET6) {
		struct sockaddr_in6 sin6 = {
			.sin6_family = AF_INET6,
			.sin6_port = peer->port,
			.sin6_addr = peer->v6,
		};

		/* A link-local address means nothing without its link. */
		if (ipv6_addr_type(&peer->v6) & IPV6_ADDR_LINKLOCAL)
			sin6.sin6_scope_id = ifindex;
		return nla_put(skb, type, sizeof(sin6), &sin6);
	}
	return 0;
}

static int coap_offload_put_peer(struct sk_buff *skb, int type,
				 const struct coap_offload_peer *peer)
{
	return coap_offload_put_addr(skb, type, peer, 0);
}

/* Caller holds rcu_read_lock(). Never puts the key. */
static int coap_offload_put_session(struct sk_buff *skb,
				    struct coap_offload_session *s)
{
	u64 now = get_jiffies_64(), left = 0;
	u64 rx_packets, rx_bytes, replays, decrypt_errors, forbidden, highest;
	unsigned long idle = jiffies - READ_ONCE(s->last_seen);
	struct coap_offload_peer peer;
	struct nlattr *nest;

	spin_lock_bh(&s->lock);
	rx_packets = s->rx_packets;
	rx_bytes = s->rx_bytes;
	replays = s->replays;
	decrypt_errors = s->decrypt_errors;
	forbidden = s->forbidden;
	highest = s->replay.highest;
	peer = s->peer;
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
			      COAP_OFFLOAD_SESSION_A_PAD) ||
	    nla_put_u32(skb, COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT,
			s->idle_timeout / HZ) ||
	    nla_put_u32(skb, COAP_OFFLOAD_SESSION_A_IDLE, idle / HZ) ||
	    coap_offload_put_peer(skb, COAP_OFFLOAD_SESSION_A_PEER, &peer) ||
	    nla_put_u8(skb, COAP_OFFLOAD_SESSION_A_ACK_MODE, s->ack_mode) ||
	    nla_put_u32(skb, COAP_OFFLOAD_SESSION_A_MODE, s->mode)) {
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
	msg = coap_offload_reply_start(info, COAP_OFFLOAD_CMD_SESSION_GET,
				       NLMSG_DEFAULT_SIZE, &hdr);
	if (!msg)
		return -ENOMEM;

	rcu_read_lock();
	s = coap_offload_session_lookup(info_cn(info), &token);
	err = s ? coap_offload_put_session(msg, s) : -ENOENT;
	rcu_read_unlock();
	return coap_offload_reply_end(info, msg, hdr, err);
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
	struct coap_offload_net *cn = coap_offload_pernet(sock_net(skb->sk));
	struct coap_offload_session *s;
	void *hdr;
	int err = 0;

	/*
	 * A table that changed between two parts of the dump may have been
	 * walked twice or not at all somewhere: flag NLM_F_DUMP_INTR then.
	 */
	cb->seq = (u32)atomic_read(&cn->generation) + 1;
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
		genl_dump_check_consistent(cb, hdr);
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
	struct nlattr *batch = info->attrs[COAP_OFFLOAD_A_CONSUMER_BATCH];
	bool confirm = nla_get_flag(info->attrs[COAP_OFFLOAD_A_CONSUMER_CONFIRM]);

	/*
	 * Batches are sent as the consumer confirms: without confirmations
	 * nothing would clock them.
	 */
	if (batch && !confirm) {
		NL_SET_ERR_MSG_ATTR(info->extack, batch,
				    "a batching consumer must confirm (CONSUMER_CONFIRM)");
		return -EINVAL;
	}
	coap_offload_pending_register(&info_cn(info)->pending, info->snd_portid,
				      confirm, batch ? nla_get_u32(batch) : 0);
	return 0;
}

static int coap_offload_message_confirm_doit(struct sk_buff *skb,
					     struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, COAP_OFFLOAD_A_MESSAGE_ID))
		return -EINVAL;
	coap_offload_pending_confirm(genl_info_net(info),
				     &info_cn(info)->pending,
				     nla_get_u64(info->attrs[COAP_OFFLOAD_A_MESSAGE_ID]));
	return 0;
}

/*
 * The size of coap_offload_message(): exact, because a confirming
 * consumer's messages are held until confirmed and count against
 * COAP_OFFLOAD_PENDING_MAX_BYTES. Every attribute put there is counted here.
 */
static size_t
coap_offload_message_size(const struct coap_offload_session *s,
			  const char *topic, size_t len, bool with_payload,
			  const struct coap_offload_origin *origin)
{
	return nla_total_size(0) +			/* the nest */
	       3 * nla_total_size_64bit(sizeof(u64)) +	/* id, time, seq */
	       nla_total_size(strlen(s->product_key) + 1) +
	       nla_total_size(strlen(s->device_name) + 1) +
	       nla_total_size(strlen(topic) + 1) +
	       (with_payload ? nla_total_size(len) : 0) +
	       nla_total_size(sizeof(u32)) +		/* payload length */
	       nla_total_size(sizeof(struct sockaddr_in6)) +	/* peer */
	       nla_total_size(origin->coap_token_len) +
	       (origin->separate ? nla_total_size(0) : 0) +
	       nla_total_size(sizeof(struct sockaddr_in6)) +	/* local */
	       (with_payload ? nla_total_size(sizeof(u8)) : 0) + /* redelivered */
	       (with_payload ? nla_total_size(s->token.len) : 0);	/* token */
}

/*
 * One delivered message, with its payload and session token for the
 * consumer (then *id_attr and *redelivered are where pending.c fills in its
 * id and flag), or without either (for the monitor group: a listener there
 * sees traffic, it does not get the credential that names a session).
 */
static struct sk_buff *
coap_offload_message(const struct coap_offload_session *s, u64 message_id,
		     u64 seq, const char *topic, const u8 *payload, size_t len,
		     bool with_payload, const struct coap_offload_peer *peer,
		     struct nlattr **id_attr, struct nlattr **redelivered,
		     const struct coap_offload_origin *origin)
{
	struct nlattr *nest, *id, *again = NULL;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(coap_offload_message_size(s, topic, len,
						    with_payload, origin),
			  GFP_ATOMIC);
	if (!msg)
		return NULL;
	hdr = genlmsg_put(msg, 0, 0, &coap_offload_genl_family, 0,
			  COAP_OFFLOAD_CMD_MESSAGE);
	if (!hdr)
		goto err_free;
	nest = nla_nest_start(msg, COAP_OFFLOAD_A_MESSAGE);
	if (!nest)
		goto err_free;
	id = nla_reserve_64bit(msg, COAP_OFFLOAD_MESSAGE_A_ID, sizeof(u64),
			       COAP_OFFLOAD_MESSAGE_A_PAD);
	if (!id)
		goto err_free;
	memcpy(nla_data(id), &message_id, sizeof(message_id));
	if (nla_put_string(msg, COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY,
			   s->product_key) ||
	    nla_put_string(msg, COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME,
			   s->device_name) ||
	    nla_put_string(msg, COAP_OFFLOAD_MESSAGE_A_TOPIC, topic) ||
	    (with_payload &&
	     nla_put(msg, COAP_OFFLOAD_MESSAGE_A_PAYLOAD, len, payload)) ||
	    nla_put_u32(msg, COAP_OFFLOAD_MESSAGE_A_PAYLOAD_LEN, len) ||
	    nla_put_u64_64bit(msg, COAP_OFFLOAD_MESSAGE_A_TIME,
			      ktime_get_real_ns(), COAP_OFFLOAD_MESSAGE_A_PAD) ||
	    nla_put_u64_64bit(msg, COAP_OFFLOAD_MESSAGE_A_SEQ, seq,
			      COAP_OFFLOAD_MESSAGE_A_PAD) ||
	    coap_offload_put_peer(msg, COAP_OFFLOAD_MESSAGE_A_PEER, peer) ||
	    nla_put(msg, COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN,
		    origin->coap_token_len, origin->coap_token) ||
	    (origin->separate &&
	     nla_put_flag(msg, COAP_OFFLOAD_MESSAGE_A_SEPARATE)) ||
	    coap_offload_put_addr(msg, COAP_OFFLOAD_MESSAGE_A_LOCAL,
				  &origin->local, origin->ifindex))
		goto err_free;
	if (with_payload) {
		again = nla_reserve(msg, COAP_OFFLOAD_MESSAGE_A_REDELIVERED,
				    sizeof(u8));
		if (!again)
			goto err_free;
		*(u8 *)nla_data(again) = 0;
		if (nla_put(msg, COAP_OFFLOAD_MESSAGE_A_TOKEN, s->token.len,
			    s->token.data))
			goto err_free;
		*id_attr = id;
		*redelivered = again;
	}
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return msg;

err_free:
	nlmsg_free(msg);
	return NULL;
}

/*
 * Softirq: deliver one message to the consumer (pending.c), which gives it
 * its *message_id, or fail; then a copy without the payload to the monitor
 * group, if anyone listens.
 */
int coap_offload_deliver(struct coap_offload_net *cn,
			 const struct coap_offload_session *s, u64 *message_id,
			 u64 seq, const char *topic, const u8 *payload,
			 size_t len, const struct coap_offload_peer *peer,
			 const struct coap_offload_origin *origin)
{
	struct nlattr *id_attr, *redelivered;
	struct sk_buff *msg;
	int err;

	msg = coap_offload_message(s, 0, seq, topic, payload, len, true, peer,
				   &id_attr, &redelivered, origin);
	if (!msg)
		return -ENOMEM;
	err = coap_offload_pending_add(cn->net, &cn->pending, msg, id_attr,
				       redelivered, message_id);
	if (err)
		return err;

	if (!genl_has_listeners(&coap_offload_genl_family, cn->net,
				COAP_OFFLOAD_MCGRP_MONITOR_ID))
		return 0;
	msg = coap_offload_message(s, *message_id, seq, topic, payload, len,
				   false, peer, NULL, NULL, origin);
	if (msg)
		genlmsg_multicast_netns(&coap_offload_genl_family, cn->net, msg,
					0, COAP_OFFLOAD_MCGRP_MONITOR_ID,
					GFP_ATOMIC);
	return 0;
}

/* Tell the events group, if anyone listens. Any context, under RCU. */
void coap_offload_notify(struct coap_offload_net *cn,
			 enum coap_offload_event_type type,
			 const struct coap_offload_session *s,
			 const struct coap_offload_peer *peer, const char *topic)
{
	struct nlattr *nest;
	struct sk_buff *msg;
	size_t size;
	void *hdr;

	if (!genl_has_listeners(&coap_offload_genl_family, cn->net,
				COAP_OFFLOAD_MCGRP_EVENTS_ID))
		return;
	/*
	 * Sized to fit: a flush announces every session, and the smaller each
	 * event, the more of them a listener's receive buffer holds.
	 */
	size = nla_total_size(0) +			/* the nest */
	       nla_total_size(sizeof(u32)) +		/* type */
	       nla_total_size(strlen(s->product_key) + 1) +
	       nla_total_size(strlen(s->device_name) + 1);
	if (peer)
		size += nla_total_size(sizeof(struct sockaddr_in6));
	if (topic)
		size += nla_total_size(strlen(topic) + 1);
	msg = genlmsg_new(size, GFP_ATOMIC);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &coap_offload_genl_family, 0,
			  COAP_OFFLOAD_CMD_EVENT);
	if (!hdr)
		goto err_free;
	nest = nla_nest_start(msg, COAP_OFFLOAD_A_EVENT);
	if (!nest ||
	    nla_put_u32(msg, COAP_OFFLOAD_EVENT_A_TYPE, type) ||
	    nla_put_string(msg, COAP_OFFLOAD_EVENT_A_PRODUCT_KEY,
			   s->product_key) ||
	    nla_put_string(msg, COAP_OFFLOAD_EVENT_A_DEVICE_NAME,
			   s->device_name) ||
	    (peer && coap_offload_put_peer(msg, COAP_OFFLOAD_EVENT_A_PEER,
					   peer)) ||
	    (topic && nla_put_string(msg, COAP_OFFLOAD_EVENT_A_TOPIC, topic)))
		goto err_free;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&coap_offload_genl_family, cn->net, msg, 0,
				COAP_OFFLOAD_MCGRP_EVENTS_ID, GFP_ATOMIC);
	return;

err_free:
	nlmsg_free(msg);
}

static int coap_offload_set_rules(struct coap_offload_net *cn,
				  struct nlattr *nest,
				  struct netlink_ext_ack *extack)
{
	const char *rule[COAP_OFFLOAD_RULES_MAX];
	struct coap_offload_rules *rules = NULL, *old;
	unsigned int n = 0;
	struct nlattr *attr;
	int rem;

	nla_for_each_nested(attr, nest, rem) {
		if (n == COAP_OFFLOAD_RULES_MAX) {
			NL_SET_ERR_MSG_ATTR(extack, attr, "too many rules");
			return -E2BIG;
		}
		rule[n] = nla_data(attr);
		if (coap_offload_rule_valid(rule[n])) {
			NL_SET_ERR_MSG_ATTR(extack, attr, "malformed topic rule");
			return -EINVAL;
		}
		n++;
	}
	if (n) {
		rules = coap_offload_rules_alloc(rule, n);
		if (!rules)
			return -ENOMEM;
	}
	/* genl_mutex serialises writers. */
	old = rcu_replace_pointer(cn->rules, rules, true);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

static int coap_offload_config_set_doit(struct sk_buff *skb,
					struct genl_info *info)
{
	struct coap_offload_net *cn = info_cn(info);
	int err;

	/* Rules first: the only part that can fail. */
	if (info->attrs[COAP_OFFLOAD_A_RULES]) {
		err = coap_offload_set_rules(cn, info->attrs[COAP_OFFLOAD_A_RULES],
					     info->extack);
		if (err)
			return err;
	}
	if (info->attrs[COAP_OFFLOAD_A_MAX_SESSIONS])
		WRITE_ONCE(cn->max_sessions,
			   nla_get_u32(info->attrs[COAP_OFFLOAD_A_MAX_SESSIONS]));
	if (info->attrs[COAP_OFFLOAD_A_TOKEN_ALIAS])
		WRITE_ONCE(cn->token_alias,
			   nla_get_u8(info->attrs[COAP_OFFLOAD_A_TOKEN_ALIAS]));
	return 0;
}

static int coap_offload_put_config(struct sk_buff *msg,
				   struct coap_offload_net *cn)
{
	const char * const *list;
	struct nlattr *nest;
	unsigned int i, n;

	if (nla_put_u32(msg, COAP_OFFLOAD_A_MAX_SESSIONS,
			READ_ONCE(cn->max_sessions)) ||
	    nla_put_u8(msg, COAP_OFFLOAD_A_TOKEN_ALIAS,
		       READ_ONCE(cn->token_alias)))
		return -EMSGSIZE;
	nest = nla_nest_start(msg, COAP_OFFLOAD_A_RULES);
	if (!nest)
		return -EMSGSIZE;
	/* genl_mutex: no writer can free the rules under us. */
	n = coap_offload_rules_get(rcu_dereference_protected(cn->rules, true),
				   &list);
	for (i = 0; i < n; i++)
		if (nla_put_string(msg, COAP_OFFLOAD_A_RULE, list[i]))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int coap_offload_config_get_doit(struct sk_buff *skb,
					struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = coap_offload_reply_start(info, COAP_OFFLOAD_CMD_CONFIG_GET,
				       NLMSG_DEFAULT_SIZE + COAP_OFFLOAD_RULES_MAX *
				       nla_total_size(COAP_OFFLOAD_RULE_MAX + 1),
				       &hdr);
	if (!msg)
		return -ENOMEM;
	return coap_offload_reply_end(info, msg, hdr,
				      coap_offload_put_config(msg, info_cn(info)));
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
	coap_offload_pending_release(&cn->pending, n->portid);
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
		.doit = coap_offload_session_set_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_SESSION_REPLACE,
		.doit = coap_offload_session_set_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_SESSION_FLUSH,
		.doit = coap_offload_session_flush_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_STATS_RESET,
		.doit = coap_offload_stats_reset_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_CONFIG_SET,
		.doit = coap_offload_config_set_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_CONFIG_GET,
		.doit = coap_offload_config_get_doit,
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
	{
		.cmd = COAP_OFFLOAD_CMD_MESSAGE_CONFIRM,
		.doit = coap_offload_message_confirm_doit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = COAP_OFFLOAD_CMD_SOCKET_GET,
		.dumpit = coap_offload_socket_dump,
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
	.mcgrps = coap_offload_mcgrps,
	.n_mcgrps = ARRAY_SIZE(coap_offload_mcgrps),
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
