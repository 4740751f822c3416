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

#include "coap_nl.h"
#include "kselftest_harness.h"

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
	struct coap_nl c;
	char buf[COAP_NL_BUF_SIZE];
};

FIXTURE_SETUP(genl)
{
	ASSERT_EQ(0, coap_nl_open(&self->c)) {
		TH_LOG("family %s not found: is coap_offload.ko loaded?",
		       COAP_OFFLOAD_GENL_NAME);
	}
}

FIXTURE_TEARDOWN(genl)
{
	coap_nl_close(&self->c);
}

TEST_F(genl, family_registered)
{
	EXPECT_NE(0, self->c.family);
	EXPECT_EQ(COAP_OFFLOAD_GENL_VERSION, self->c.version);
}

TEST_F(genl, stats_get)
{
	struct stats_reply r = { 0 };
	struct nlmsghdr *nlh;

	nlh = coap_nl_request(&self->c, self->buf, COAP_OFFLOAD_CMD_STATS_GET, 0);
	ASSERT_EQ(0, coap_nl_talk(&self->c, nlh, stats_cb, &r));
	EXPECT_EQ(1, r.have_stats);
	EXPECT_EQ(0ULL, r.sessions);
}

/* Strict policy: an attribute the command does not take is refused. */
TEST_F(genl, stats_get_rejects_reply_only_attribute)
{
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = coap_nl_request(&self->c, self->buf, COAP_OFFLOAD_CMD_STATS_GET, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_STATS);
	mnl_attr_nest_end(nlh, nest);
	EXPECT_EQ(-EINVAL, coap_nl_talk(&self->c, nlh, NULL, NULL));
}

TEST_F(genl, unknown_attribute_rejected)
{
	struct nlmsghdr *nlh;

	nlh = coap_nl_request(&self->c, self->buf, COAP_OFFLOAD_CMD_STATS_GET, 0);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_MAX + 1, 1);
	EXPECT_EQ(-EINVAL, coap_nl_talk(&self->c, nlh, NULL, NULL));
}

TEST_F(genl, unknown_command_rejected)
{
	struct nlmsghdr *nlh;

	nlh = coap_nl_request(&self->c, self->buf, COAP_OFFLOAD_CMD_MAX + 1, 0);
	EXPECT_EQ(-EOPNOTSUPP, coap_nl_talk(&self->c, nlh, NULL, NULL));
}

/* A new-style family: create/replace semantics come from commands, not flags. */
TEST_F(genl, legacy_create_flag_rejected)
{
	struct nlmsghdr *nlh;

	nlh = coap_nl_request(&self->c, self->buf, COAP_OFFLOAD_CMD_STATS_GET, NLM_F_CREATE);
	EXPECT_EQ(-EINVAL, coap_nl_talk(&self->c, nlh, NULL, NULL));
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
		static const uint8_t cmds[] = {
			COAP_OFFLOAD_CMD_STATS_GET,
			COAP_OFFLOAD_CMD_SOCKET_ATTACH,
			COAP_OFFLOAD_CMD_SESSION_NEW,
			COAP_OFFLOAD_CMD_SESSION_GET,
			COAP_OFFLOAD_CMD_CONSUMER_REGISTER,
		};
		struct coap_nl c;
		unsigned int i;

		/* An unprivileged user opens its own socket, as coapctl would. */
		if (setgid(65534) || setuid(65534) || coap_nl_open(&c))
			_exit(2);
		for (i = 0; i < sizeof(cmds); i++) {
			nlh = coap_nl_request(&c, self->buf, cmds[i], 0);
			if (coap_nl_talk(&c, nlh, NULL, NULL) != -EPERM)
				_exit(1);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* netnsok: the family answers in a fresh namespace, with its own state. */
TEST(family_in_new_netns)
{
	struct stats_reply r = { 0 };
	char buf[COAP_NL_BUF_SIZE];
	struct coap_nl c;
	struct nlmsghdr *nlh;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, coap_nl_open(&c));
	nlh = coap_nl_request(&c, buf, COAP_OFFLOAD_CMD_STATS_GET, 0);
	EXPECT_EQ(0, coap_nl_talk(&c, nlh, stats_cb, &r));
	EXPECT_EQ(1, r.have_stats);
	EXPECT_EQ(0ULL, r.sessions);
	coap_nl_close(&c);
}

TEST_HARNESS_MAIN
