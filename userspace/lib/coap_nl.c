// SPDX-License-Identifier: GPL-2.0
/*
 * libmnl client of the coap_offload generic netlink family.
 */
#include <errno.h>
#include <string.h>
#include <linux/netlink.h>

#include "coap_nl.h"

/* One CTRL_ATTR_MCAST_GROUPS entry: a name and an id. */
static void family_mcgrp(struct coap_nl *c, const struct nlattr *grp)
{
	const struct nlattr *attr;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(attr, grp) {
		if (mnl_attr_get_type(attr) == CTRL_ATTR_MCAST_GRP_NAME &&
		    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			name = mnl_attr_get_str(attr);
		else if (mnl_attr_get_type(attr) == CTRL_ATTR_MCAST_GRP_ID &&
			 !mnl_attr_validate(attr, MNL_TYPE_U32))
			id = mnl_attr_get_u32(attr);
	}
	if (!name)
		return;
	if (!strcmp(name, COAP_OFFLOAD_MCGRP_EVENTS))
		c->mcgrp_events = id;
	else if (!strcmp(name, COAP_OFFLOAD_MCGRP_MONITOR))
		c->mcgrp_monitor = id;
}

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr *grp;
	struct coap_nl *c = data;

	if (mnl_attr_get_type(attr) == CTRL_ATTR_MCAST_GROUPS) {
		mnl_attr_for_each_nested(grp, attr)
			family_mcgrp(c, grp);
	} else if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
	    !mnl_attr_validate(attr, MNL_TYPE_U16))
		c->family = mnl_attr_get_u16(attr);
	else if (mnl_attr_get_type(attr) == CTRL_ATTR_VERSION &&
		 !mnl_attr_validate(attr, MNL_TYPE_U32))
		c->version = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb,
			      data);
}

/* size: of buf, which is cleared. */
static struct nlmsghdr *put_header_in(void *buf, size_t size, uint16_t type,
				      uint8_t cmd, uint8_t version,
				      uint16_t flags)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	/* libmnl leaves attribute padding as it finds it: no stale bytes out. */
	memset(buf, 0, size);
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	/* A dump ends with NLMSG_DONE, which carries its error: no ACK. */
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	if (!(flags & NLM_F_DUMP))
		nlh->nlmsg_flags |= NLM_F_ACK;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static struct nlmsghdr *put_header(void *buf, uint16_t type, uint8_t cmd,
				   uint8_t version, uint16_t flags)
{
	return put_header_in(buf, COAP_NL_BUF_SIZE, type, cmd, version, flags);
}

struct nlmsghdr *coap_nl_request(struct coap_nl *c, void *buf, uint8_t cmd,
				 uint16_t flags)
{
	return put_header(buf, c->family, cmd, COAP_OFFLOAD_GENL_VERSION,
			  flags);
}

struct nlmsghdr *coap_nl_request_in(struct coap_nl *c, void *buf, size_t size,
				    uint8_t cmd, uint16_t flags)
{
	return put_header_in(buf, size, c->family, cmd,
			     COAP_OFFLOAD_GENL_VERSION, flags);
}

/* mnl_cb_run2() hands the same data to every callback: carry both. */
struct talk {
	struct coap_nl *c;
	mnl_cb_t cb;
	void *data;
};

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;

	return t->cb ? t->cb(nlh, t->data) : MNL_CB_OK;
}

/* The end of a dump; it carries the dump's error, if any. */
static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	const int *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*err)) && *err < 0) {
		errno = -*err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/* Keep the extended ACK's message of an error reply. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	struct coap_nl *c = ((struct talk *)data)->c;
	const struct nlattr *attr;
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
		return MNL_CB_ERROR;
	if (err->error == 0)
		return MNL_CB_STOP;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(err->msg);
		mnl_attr_for_each_payload((const void *)((const char *)err + off),
					  mnl_nlmsg_get_payload_len(nlh) - off) {
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
			    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING)) {
				strncpy(c->error, mnl_attr_get_str(attr),
					sizeof(c->error) - 1);
			}
		}
	}
	errno = -err->error;
	return MNL_CB_ERROR;
}

/* Does buf hold the end (DONE or an error) of the dump with this seq? */
static bool dump_ended(const char *buf, int len, uint32_t seq)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
		if (nlh->nlmsg_seq == seq && (nlh->nlmsg_type == NLMSG_DONE ||
					      nlh->nlmsg_type == NLMSG_ERROR))
			return true;
	return false;
}

int coap_nl_talk(struct coap_nl *c, struct nlmsghdr *nlh, mnl_cb_t cb,
		 void *data)
{
	/* A control array replaces libmnl's defaults: DONE must stop too. */
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = error_cb,
		[NLMSG_DONE] = done_cb,
	};
	struct talk t = { .c = c, .cb = cb, .data = data };
	char buf[COAP_NL_BUF_SIZE];
	bool interrupted = false;
	int ret, len;

	c->error[0] = '\0';
	nlh->nlmsg_seq = ++c->seq;
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		len = mnl_socket_recvfrom(c->nl, buf, sizeof(buf));
		if (len < 0)
			return -errno;
		if (interrupted) {
			ret = !dump_ended(buf, len, c->seq);
			continue;
		}
		ret = mnl_cb_run2(buf, len, c->seq, c->portid, data_cb, &t,
				  ctl, NLMSG_MIN_TYPE);
		/*
		 * libmnl stops at a message flagged NLM_F_DUMP_INTR (errno
		 * EINTR). The rest of the dump is still coming: left unread,
		 * it would be taken for the answer to the next request. Read
		 * it to its end, without cb.
		 */
		if (ret < 0 && errno == EINTR) {
			interrupted = true;
			ret = !dump_ended(buf, len, c->seq);
		}
	} while (ret > 0);
	if (interrupted)
		return -EINTR;
	return ret < 0 ? -errno : 0;
}

int coap_nl_open(struct coap_nl *c)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, err;

	memset(c, 0, sizeof(*c));
	c->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!c->nl)
		return -errno;
	if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	c->portid = mnl_socket_get_portid(c->nl);
	mnl_socket_setsockopt(c->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(c->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	nlh = put_header(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, COAP_OFFLOAD_GENL_NAME);
	err = coap_nl_talk(c, nlh, family_cb, c);
	if (err)
		goto err_close;
	return c->family ? 0 : -ENOENT;

err:
	err = -errno;
err_close:
	mnl_socket_close(c->nl);
	c->nl = NULL;
	return err;
}

int coap_nl_join(struct coap_nl *c, uint32_t group)
{
	if (!group)
		return -ENOENT;
	if (mnl_socket_setsockopt(c->nl, NETLINK_ADD_MEMBERSHIP, &group,
				  sizeof(group)) < 0)
		return -errno;
	return 0;
}

void coap_nl_close(struct coap_nl *c)
{
	if (c->nl)
		mnl_socket_close(c->nl);
	c->nl = NULL;
}

const struct nlattr *coap_nl_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(attr) == type)
			return attr;
	return NULL;
}

int coap_nl_parse_nested(const struct nlattr *nest, const struct nlattr **tb,
			 unsigned int max)
{
	const struct nlattr *attr;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	mnl_attr_for_each_nested(attr, nest) {
		uint16_t type = mnl_attr_get_type(attr);

		if (mnl_attr_type_valid(attr, max) < 0)
			continue;
		tb[type] = attr;
	}
	return 0;
}

/* STATS_GET's reply: each counter into data (uint64_t[]) when present. */
static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_STAT_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_STATS);
	uint64_t *stats = data;
	int i;

	if (!nest)
		return MNL_CB_ERROR;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_STAT_MAX);
	for (i = 0; i <= COAP_OFFLOAD_STAT_MAX; i++)
		if (tb[i] && mnl_attr_get_payload_len(tb[i]) == sizeof(uint64_t))
			stats[i] = mnl_attr_get_u64(tb[i]);
	return MNL_CB_OK;
}

int coap_nl_stats_get(struct coap_nl *c,
		      uint64_t stats[COAP_OFFLOAD_STAT_MAX + 1])
{
	char buf[COAP_NL_BUF_SIZE];
	int i;

	for (i = 0; i <= COAP_OFFLOAD_STAT_MAX; i++)
		stats[i] = COAP_NL_STAT_ABSENT;
	return coap_nl_talk(c, coap_nl_request(c, buf,
			    COAP_OFFLOAD_CMD_STATS_GET, 0), stats_cb, stats);
}

int coap_nl_consumer_register(struct coap_nl *c, bool confirm)
{
	return coap_nl_consumer_register_batch(c, confirm, 0);
}

int coap_nl_consumer_register_batch(struct coap_nl *c, bool confirm,
				    uint32_t batch)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;

	nlh = coap_nl_request(c, buf, COAP_OFFLOAD_CMD_CONSUMER_REGISTER, 0);
	if (confirm)
		mnl_attr_put(nlh, COAP_OFFLOAD_A_CONSUMER_CONFIRM, 0, NULL);
	if (batch)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_CONSUMER_BATCH, batch);
	return coap_nl_talk(c, nlh, NULL, NULL);
}

int coap_nl_message_confirm(struct coap_nl *c, uint64_t id)
{
	/* Once per batch of messages: not 32 KiB to clear each time. */
	char buf[128];
	struct nlmsghdr *nlh;

	nlh = coap_nl_request_in(c, buf, sizeof(buf),
				 COAP_OFFLOAD_CMD_MESSAGE_CONFIRM, 0);
	mnl_attr_put_u64(nlh, COAP_OFFLOAD_A_MESSAGE_ID, id);
	return coap_nl_talk(c, nlh, NULL, NULL);
}
