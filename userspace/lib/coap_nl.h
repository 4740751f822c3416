/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small libmnl client of the coap_offload generic netlink family, shared by
 * coapd, coapctl and the kselftests.
 */
#ifndef COAP_NL_H
#define COAP_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/coap_offload.h>

/* Big enough for any request and a batch of dump replies. */
#define COAP_NL_BUF_SIZE	32768

/*
 * Big enough for a request about one session (SESSION_NEW, GET, DEL,
 * REPLACE with every session attribute at its largest) or one without
 * attributes, for the per-device paths: coap_nl_request_in() clears only
 * the buffer it is given, and a grant wipes only that (it held the key),
 * not 32 KiB three times for a request of 300 bytes. The answer is read
 * into coap_nl_talk()'s own buffer (with NETLINK_CAP_ACK an error ACK does
 * not echo the request anyway).
 */
#define COAP_NL_SESSION_REQ_SIZE	512
#define COAP_NL__ATTR(len)	(MNL_ATTR_HDRLEN + MNL_ALIGN(len))
_Static_assert(MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)) +
	       MNL_ATTR_HDRLEN /* the session nest */ +
	       COAP_NL__ATTR(COAP_OFFLOAD_TOKEN_MAX) +
	       2 * COAP_NL__ATTR(COAP_OFFLOAD_IDENTITY_MAX + 1) +
	       COAP_NL__ATTR(COAP_OFFLOAD_KEY_LEN) +
	       2 * COAP_NL__ATTR(sizeof(uint64_t)) +	/* seq offset, spare */
	       8 * COAP_NL__ATTR(sizeof(uint32_t))	/* the u32/u8 ones */
	       <= COAP_NL_SESSION_REQ_SIZE,
	       "COAP_NL_SESSION_REQ_SIZE too small for a session request");

struct coap_nl {
	struct mnl_socket *nl;
	uint16_t family;
	uint32_t version;
	uint32_t seq;
	uint32_t portid;
	/* Multicast group ids (0 when the kernel has none of that name). */
	uint32_t mcgrp_events;
	uint32_t mcgrp_monitor;
	/* The extended ACK's message of the last failed request, or "". */
	char error[128];
};

/*
 * Open a generic netlink socket in the caller's network namespace and
 * resolve the family. 0, or -ENOENT when the module is not loaded, or
 * another negative errno.
 */
int coap_nl_open(struct coap_nl *c);
void coap_nl_close(struct coap_nl *c);

/* Join a multicast group (needs CAP_NET_ADMIN). 0 or a negative errno. */
int coap_nl_join(struct coap_nl *c, uint32_t group);

/* Start a request in buf (COAP_NL_BUF_SIZE bytes) for cmd. */
struct nlmsghdr *coap_nl_request(struct coap_nl *c, void *buf, uint8_t cmd,
				 uint16_t flags);

/*
 * The same in a buffer of size bytes (cleared: libmnl leaves attribute
 * padding as it finds it). The caller keeps what it puts within size
 * (e.g. COAP_NL_SESSION_REQ_SIZE for one session's attributes).
 */
struct nlmsghdr *coap_nl_request_in(struct coap_nl *c, void *buf, size_t size,
				    uint8_t cmd, uint16_t flags);

/*
 * Send a request and run cb (may be NULL) on each reply message until the
 * ACK or the end of the dump. 0 or a negative errno; c->error holds the
 * kernel's extended ACK message when there was one. -EINTR: the table
 * changed while it was dumped (NLM_F_DUMP_INTR), so cb may have missed or
 * seen twice some entries: take the dump again. The socket is ready for the
 * next request either way.
 */
int coap_nl_talk(struct coap_nl *c, struct nlmsghdr *nlh, mnl_cb_t cb,
		 void *data);

/* The top-level attribute of a genl message, or NULL. */
const struct nlattr *coap_nl_attr(const struct nlmsghdr *nlh, uint16_t type);

/*
 * Parse a nest into tb[0..max] (unknown types ignored, so that newer kernels
 * can add attributes). 0 or -EINVAL.
 */
int coap_nl_parse_nested(const struct nlattr *nest, const struct nlattr **tb,
			 unsigned int max);

/* A counter the kernel's reply did not carry (see coap_nl_stats_get). */
#define COAP_NL_STAT_ABSENT	UINT64_MAX

/*
 * The namespace's counters by STATS_GET, indexed by COAP_OFFLOAD_STAT_*;
 * COAP_NL_STAT_ABSENT for one the reply lacks. 0 or a negative errno.
 */
int coap_nl_stats_get(struct coap_nl *c,
		      uint64_t stats[COAP_OFFLOAD_STAT_MAX + 1]);

/*
 * Make c's socket its namespace's consumer of delivered messages. With
 * confirm, the module holds each message until coap_nl_message_confirm()
 * says it was taken, and sends the unconfirmed ones again to the next
 * consumer (COAP_OFFLOAD_A_CONSUMER_CONFIRM), on its first confirmation.
 * 0 or a negative errno.
 */
int coap_nl_consumer_register(struct coap_nl *c, bool confirm);

/*
 * The same, and with batch (not 0) the module packs several messages into
 * each datagram, of at most batch bytes (COAP_OFFLOAD_A_CONSUMER_BATCH):
 * the consumer reads with a buffer of batch bytes and walks the messages.
 * Needs confirm (the kernel refuses it without).
 */
int coap_nl_consumer_register_batch(struct coap_nl *c, bool confirm,
				    uint32_t batch);

/*
 * The consumer has taken every message up to and including id; send it
 * more. On another socket than the consumer's (e.g. the request socket):
 * the messages it makes the module send must not crowd out its ACK.
 * 0 or a negative errno.
 */
int coap_nl_message_confirm(struct coap_nl *c, uint64_t id);

#endif /* COAP_NL_H */
