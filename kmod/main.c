// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: module init/exit and per network namespace state.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/ktime.h>
#include <linux/netdevice.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>
#include <linux/coap_offload.h>

#include "coap_offload.h"

static unsigned int coap_offload_net_id __read_mostly;
struct workqueue_struct *coap_offload_wq;

struct coap_offload_net *coap_offload_pernet(const struct net *net)
{
	return net_generic(net, coap_offload_net_id);
}

u64 coap_offload_counter_sum(struct coap_offload_net *cn,
			     enum coap_offload_counter c)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		const struct coap_offload_stats *st = per_cpu_ptr(cn->stats, cpu);
		unsigned int start;
		u64 v;

		do {
			start = u64_stats_fetch_begin(&st->syncp);
			v = u64_stats_read(&st->counters[c]);
		} while (u64_stats_fetch_retry(&st->syncp, start));
		sum += v;
	}
	return sum;
}

static int __net_init coap_offload_net_init(struct net *net)
{
	struct coap_offload_net *cn = coap_offload_pernet(net);
	int err;

	cn->net = net;
	cn->token_alias = true;		/* PROTOCOL.md: accept option 61 */
	mutex_init(&cn->sockets_lock);
	INIT_LIST_HEAD(&cn->sockets);
	coap_offload_pending_init(&cn->pending);
	cn->stats = netdev_alloc_pcpu_stats(struct coap_offload_stats);
	if (!cn->stats)
		return -ENOMEM;
	err = coap_offload_sessions_init(cn);
	if (err)
		free_percpu(cn->stats);
	return err;
}

static void __net_exit coap_offload_net_exit(struct net *net)
{
	struct coap_offload_net *cn = coap_offload_pernet(net);

	coap_offload_socks_detach_all(cn);
	coap_offload_sessions_exit(cn);
	coap_offload_pending_exit(&cn->pending);
	/* No reader left: sockets are detached, readers waited for. */
	kfree(rcu_dereference_protected(cn->rules, true));
	free_percpu(cn->stats);
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

	err = coap_offload_session_cache_init();
	if (err)
		return err;
	coap_offload_wq = alloc_workqueue("coap_offload", 0, 0);
	err = -ENOMEM;
	if (!coap_offload_wq)
		goto err_destroy_cache;

	err = register_pernet_subsys(&coap_offload_net_ops);
	if (err)
		goto err_destroy_wq;

	err = coap_offload_genl_init();
	if (err)
		goto err_unregister_pernet;

	pr_info("loaded\n");
	return 0;

err_unregister_pernet:
	unregister_pernet_subsys(&coap_offload_net_ops);
err_destroy_wq:
	destroy_workqueue(coap_offload_wq);
err_destroy_cache:
	coap_offload_session_cache_exit();
	return err;
}

static void __exit coap_offload_exit(void)
{
	/* No new netlink requests, then every namespace lets go. */
	coap_offload_genl_exit();
	unregister_pernet_subsys(&coap_offload_net_ops);
	destroy_workqueue(coap_offload_wq);
	coap_offload_session_cache_exit();
	pr_info("unloaded\n");
}

module_init(coap_offload_init);
module_exit(coap_offload_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("CoAP device-protocol fast path");
MODULE_AUTHOR("coap-offload developers");
MODULE_ALIAS_GENL_FAMILY(COAP_OFFLOAD_GENL_NAME);
