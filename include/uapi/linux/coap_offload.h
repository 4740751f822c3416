/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * coap_offload: generic netlink API of the CoAP fast-path module.
 *
 * This header is the contract between coap_offload.ko, the coapd daemon and
 * the coapctl CLI, and its documentation.
 *
 * Family: COAP_OFFLOAD_GENL_NAME, version COAP_OFFLOAD_GENL_VERSION.
 * Every command needs CAP_NET_ADMIN in the network namespace's user namespace
 * (the module's state is per network namespace). Policies are strict: an
 * unknown attribute, a wrong length or trailing garbage is rejected with
 * -EINVAL and an extended ACK naming the attribute.
 *
 * The family is "new style": the kernel rejects NLM_F_CREATE/NLM_F_EXCL/
 * NLM_F_REPLACE on it, so create and replace are separate commands.
 */
#ifndef _UAPI_LINUX_COAP_OFFLOAD_H
#define _UAPI_LINUX_COAP_OFFLOAD_H

#define COAP_OFFLOAD_GENL_NAME		"coap_offload"
#define COAP_OFFLOAD_GENL_VERSION	1

/**
 * enum coap_offload_cmd - commands
 * @COAP_OFFLOAD_CMD_UNSPEC: unused
 * @COAP_OFFLOAD_CMD_STATS_GET: do: reply with %COAP_OFFLOAD_A_STATS, the
 *	namespace's global counters (a nest of enum coap_offload_stat).
 */
enum coap_offload_cmd {
	COAP_OFFLOAD_CMD_UNSPEC,
	COAP_OFFLOAD_CMD_STATS_GET,

	__COAP_OFFLOAD_CMD_MAX,
	COAP_OFFLOAD_CMD_MAX = __COAP_OFFLOAD_CMD_MAX - 1
};

/**
 * enum coap_offload_attr - top-level attributes
 * @COAP_OFFLOAD_A_UNSPEC: unused
 * @COAP_OFFLOAD_A_STATS: nest of enum coap_offload_stat (reply only)
 */
enum coap_offload_attr {
	COAP_OFFLOAD_A_UNSPEC,
	COAP_OFFLOAD_A_STATS,

	__COAP_OFFLOAD_A_MAX,
	COAP_OFFLOAD_A_MAX = __COAP_OFFLOAD_A_MAX - 1
};

/**
 * enum coap_offload_stat - counters, each a u64 (NLA_U64), per namespace
 * @COAP_OFFLOAD_STAT_UNSPEC: unused
 * @COAP_OFFLOAD_STAT_SESSIONS: sessions in the table now
 */
enum coap_offload_stat {
	COAP_OFFLOAD_STAT_UNSPEC,
	COAP_OFFLOAD_STAT_SESSIONS,

	__COAP_OFFLOAD_STAT_MAX,
	COAP_OFFLOAD_STAT_MAX = __COAP_OFFLOAD_STAT_MAX - 1
};

#endif /* _UAPI_LINUX_COAP_OFFLOAD_H */
