// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: module init/exit and per network namespace state.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>
#include <linux/coap_offload.h>

#include "coap_offload.h"

static unsigned int coap_offload_net_id __read_mostly;

struct coap_offload_net *coap_offload_pernet(const struct net *net)
{
	return net_generic(net, coap_offload_net_id);
}

static int __net_init coap_offload_net_init(struct net *net)
{
	struct coap_offload_net *cn = coap_offload_pernet(net);

	atomic_set(&cn->session_count, 0);
	return 0;
}

static void __net_exit coap_offload_net_exit(struct net *net)
{
}

static struct pernet_operations coap_offload_net_ops = {
	.init = coap_offload_net_init,
	.exit = coap_offload_net_exit,
	.id   = &coap_offload_net_id,
	.size = sizeof(struct coap_offload_net),
};

static int __init coap_offload_init(void)
{
	int err;

	err = register_pernet_subsys(&coap_offload_net_ops);
	if (err)
		return err;

	err = coap_offload_genl_init();
	if (err)
		goto err_unregister_pernet;

	pr_info("loaded\n");
	return 0;

err_unregister_pernet:
	unregister_pernet_subsys(&coap_offload_net_ops);
	return err;
}

static void __exit coap_offload_exit(void)
{
	coap_offload_genl_exit();
	unregister_pernet_subsys(&coap_offload_net_ops);
	pr_info("unloaded\n");
}

module_init(coap_offload_init);
module_exit(coap_offload_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("CoAP device-protocol fast path");
MODULE_AUTHOR("coap-offload developers");
MODULE_ALIAS_GENL_FAMILY(COAP_OFFLOAD_GENL_NAME);
