// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the generic netlink family (include/uapi/linux/coap_offload.h).
 */
#include <net/genetlink.h>
#include <linux/coap_offload.h>

#include "coap_offload.h"

static struct genl_family coap_offload_genl_family;

static int coap_offload_put_stats(struct sk_buff *skb, struct net *net)
{
	struct coap_offload_net *cn = coap_offload_pernet(net);
	struct nlattr *nest;

	nest = nla_nest_start(skb, COAP_OFFLOAD_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, COAP_OFFLOAD_STAT_SESSIONS,
			      atomic_read(&cn->session_count),
			      COAP_OFFLOAD_STAT_UNSPEC)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
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
	err = coap_offload_put_stats(msg, genl_info_net(info));
	if (err)
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

static const struct nla_policy coap_offload_policy[COAP_OFFLOAD_A_MAX + 1] = {
	[COAP_OFFLOAD_A_STATS] = { .type = NLA_REJECT },
};

static const struct genl_small_ops coap_offload_genl_ops[] = {
	{
		.cmd = COAP_OFFLOAD_CMD_STATS_GET,
		.doit = coap_offload_stats_get_doit,
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
	.small_ops = coap_offload_genl_ops,
	.n_small_ops = ARRAY_SIZE(coap_offload_genl_ops),
};

int __init coap_offload_genl_init(void)
{
	return genl_register_family(&coap_offload_genl_family);
}

void coap_offload_genl_exit(void)
{
	genl_unregister_family(&coap_offload_genl_family);
}
