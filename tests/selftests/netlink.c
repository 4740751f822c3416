// SPDX-License-Identifier: GPL-2.0
/*
 * kselftest: the coap_offload generic netlink family, as coapd and coapctl
 * see it: registration, strict policies, privileges, network namespaces.
 * Runs as root inside the test VM with coap_offload.ko loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/coap_offload.h>

#include "kselftest_harness.h"

/* MNL_SOCKET_BUFFER_SIZE is not a constant; fixtures need one. */
#define NL_BUF_SIZE 16384

struct genl_sock {
	struct mnl_socket *nl;
	unsigned int seq;
	uint16_t family;
	uint32_t version;
};

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	struct genl_sock *gs = data;

	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID)
		gs->family = mnl_attr_get_u16(attr);
	else if (mnl_attr_get_type(attr) == CTRL_ATTR_VERSION)
		gs->version = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb,
			      data);
}

/* Send one request and run cb on the replies; 0 or a negative errno. */
static int genl_talk(struct genl_sock *gs, struct nlmsghdr *nlh,
		     mnl_cb_t cb, void *data)
{
	char buf[NL_BUF_SIZE];
	int ret;

	nlh->nlmsg_seq = ++gs->seq;
	if (mnl_socket_sendto(gs->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		ret = mnl_socket_recvfrom(gs->nl, buf, sizeof(buf));
		if (ret < 0)
			return -errno;
		ret = mnl_cb_run(buf, ret, gs->seq,
				 mnl_socket_get_portid(gs->nl), cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

static struct nlmsghdr *genl_put_header(char *buf, uint16_t type,
					uint16_t flags, uint8_t cmd,
					uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int genl_open(struct genl_sock *gs)
{
	char buf[NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	int one = 1;

	memset(gs, 0, sizeof(*gs));
	gs->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!gs->nl)
		return -errno;
	if (mnl_socket_bind(gs->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	mnl_socket_setsockopt(gs->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	nlh = genl_put_header(buf, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, COAP_OFFLOAD_GENL_NAME);
	return genl_talk(gs, nlh, family_cb, gs);
}

struct stats_reply {
	int have_stats;
	uint64_t sessions;
};

static int stats_attr_cb(const struct nlattr *attr, void *data)
{
	struct stats_reply *r = data;

	if (mnl_attr_get_type(attr) == COAP_OFFLOAD_STAT_SESSIONS)
		r->sessions = mnl_attr_get_u64(attr);
	return MNL_CB_OK;
}

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stats_reply *r = data;
	struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) != COAP_OFFLOAD_A_STATS)
			continue;
		r->have_stats = 1;
		mnl_attr_parse_nested(attr, stats_attr_cb, r);
	}
	return MNL_CB_OK;
}

FIXTURE(genl) {
	struct genl_sock gs;
	char buf[NL_BUF_SIZE];
};

FIXTURE_SETUP(genl)
{
	ASSERT_EQ(0, genl_open(&self->gs)) {
		TH_LOG("family %s not found: is coap_offload.ko loaded?",
		       COAP_OFFLOAD_GENL_NAME);
	}
}

FIXTURE_TEARDOWN(genl)
{
	mnl_socket_close(self->gs.nl);
}

TEST_F(genl, family_registered)
{
	EXPECT_NE(0, self->gs.family);
	EXPECT_EQ(COAP_OFFLOAD_GENL_VERSION, self->gs.version);
}

TEST_F(genl, stats_get)
{
	struct stats_reply r = { 0 };
	struct nlmsghdr *nlh;

	nlh = genl_put_header(self->buf, self->gs.family, 0,
			      COAP_OFFLOAD_CMD_STATS_GET,
			      COAP_OFFLOAD_GENL_VERSION);
	ASSERT_EQ(0, genl_talk(&self->gs, nlh, stats_cb, &r));
	EXPECT_EQ(1, r.have_stats);
	EXPECT_EQ(0ULL, r.sessions);
}

/* Strict policy: an attribute the command does not take is refused. */
TEST_F(genl, stats_get_rejects_reply_only_attribute)
{
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = genl_put_header(self->buf, self->gs.family, 0,
			      COAP_OFFLOAD_CMD_STATS_GET,
			      COAP_OFFLOAD_GENL_VERSION);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_STATS);
	mnl_attr_nest_end(nlh, nest);
	EXPECT_EQ(-EINVAL, genl_talk(&self->gs, nlh, NULL, NULL));
}

TEST_F(genl, unknown_attribute_rejected)
{
	struct nlmsghdr *nlh;

	nlh = genl_put_header(self->buf, self->gs.family, 0,
			      COAP_OFFLOAD_CMD_STATS_GET,
			      COAP_OFFLOAD_GENL_VERSION);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_MAX + 1, 1);
	EXPECT_EQ(-EINVAL, genl_talk(&self->gs, nlh, NULL, NULL));
}

TEST_F(genl, unknown_command_rejected)
{
	struct nlmsghdr *nlh;

	nlh = genl_put_header(self->buf, self->gs.family, 0,
			      COAP_OFFLOAD_CMD_MAX + 1,
			      COAP_OFFLOAD_GENL_VERSION);
	EXPECT_EQ(-EOPNOTSUPP, genl_talk(&self->gs, nlh, NULL, NULL));
}

/* A new-style family: create/replace semantics come from commands, not flags. */
TEST_F(genl, legacy_create_flag_rejected)
{
	struct nlmsghdr *nlh;

	nlh = genl_put_header(self->buf, self->gs.family, NLM_F_CREATE,
			      COAP_OFFLOAD_CMD_STATS_GET,
			      COAP_OFFLOAD_GENL_VERSION);
	EXPECT_EQ(-EINVAL, genl_talk(&self->gs, nlh, NULL, NULL));
}

/* Without CAP_NET_ADMIN every command is refused. */
TEST_F(genl, unprivileged_gets_eperm)
{
	struct nlmsghdr *nlh;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct genl_sock gs;

		/* An unprivileged user opens its own socket, as coapctl would. */
		if (setgid(65534) || setuid(65534) || genl_open(&gs))
			_exit(2);
		nlh = genl_put_header(self->buf, gs.family, 0,
				      COAP_OFFLOAD_CMD_STATS_GET,
				      COAP_OFFLOAD_GENL_VERSION);
		_exit(genl_talk(&gs, nlh, NULL, NULL) == -EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* netnsok: the family answers in a fresh namespace, with its own state. */
TEST(family_in_new_netns)
{
	struct stats_reply r = { 0 };
	char buf[NL_BUF_SIZE];
	struct genl_sock gs;
	struct nlmsghdr *nlh;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, genl_open(&gs));
	nlh = genl_put_header(buf, gs.family, 0, COAP_OFFLOAD_CMD_STATS_GET,
			      COAP_OFFLOAD_GENL_VERSION);
	EXPECT_EQ(0, genl_talk(&gs, nlh, stats_cb, &r));
	EXPECT_EQ(1, r.have_stats);
	mnl_socket_close(gs.nl);
}

TEST_HARNESS_MAIN
