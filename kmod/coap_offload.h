/* SPDX-License-Identifier: GPL-2.0 */
/*
 * coap_offload: internal declarations shared by the module's files.
 */
#ifndef _COAP_OFFLOAD_H
#define _COAP_OFFLOAD_H

#include <linux/types.h>
#include <net/net_namespace.h>

/* Per network namespace state. */
struct coap_offload_net {
	atomic_t session_count;
};

struct coap_offload_net *coap_offload_pernet(const struct net *net);

int coap_offload_genl_init(void);
void coap_offload_genl_exit(void);

#endif /* _COAP_OFFLOAD_H */
