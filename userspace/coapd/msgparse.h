/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One COAP_OFFLOAD_CMD_MESSAGE of the consumer's packed datagrams, parsed in
 * one pass over its attributes. It takes what libmnl's walk took before
 * (coap_nl_attr(), coap_nl_parse_nested(), mnl_attr_validate() per
 * attribute): the same attributes, the same checks, the same result on any
 * message with a 4-aligned nlmsg_len, as the kernel's always is
 * (tests/unit/test_msgparse.c runs both on hostile messages; libmnl read up
 * to 3 bytes past an unaligned one, this reads nothing past nlmsg_len),
 * without a library call per attribute: those were a fifth of coapd's time
 * per message in the fast-path benchmark.
 */
#ifndef COAPD_MSGPARSE_H
#define COAPD_MSGPARSE_H

#include <stddef.h>
#include <linux/netlink.h>

struct coapd_message;

/*
 * The netlink message nlh, of which len bytes are readable (its
 * nlmsg_len counts only up to len), into m, pointing into nlh:
 *   0         a COAP_OFFLOAD_CMD_MESSAGE with every attribute coapd needs
 *             (id, time, seq: u64; productKey, deviceName, topic: strings
 *             ending in their NUL);
 *   -ENOMSG   a well-formed generic netlink message of another command;
 *   -EBADMSG  anything else (too short for its headers, a required
 *             attribute missing or malformed); m is then undefined.
 * Attributes whose length runs past their nest or message end the walk
 * there, as in libmnl; unknown attribute types are skipped; of two with
 * one type, the last counts.
 */
int coapd_message_parse(const struct nlmsghdr *nlh, size_t len,
			struct coapd_message *m);

#endif /* COAPD_MSGPARSE_H */
