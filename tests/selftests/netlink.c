// SPDX-License-Identifier: GPL-2.0
/*
 * kselftest: the coap_offload generic netlink family, as coapd and coapctl
 * see it: registration, strict policies, privileges, network namespaces,
 * the listing of attached sockets.
 * Runs as root inside the test VM with coap_offload.ko loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "coap_nl.h"
#include "selftest_lib.h"
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
			COAP_OFFLOAD_CMD_SOCKET_GET,
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

/* ---- a dump the table changes under ------------------------------------ */

#define CHURN_SESSIONS	800

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	(*(int *)data)++;
	return MNL_CB_OK;
}

/*
 * A session dump spans several messages; a table that changes between two
 * of them flags the next one NLM_F_DUMP_INTR, at which libmnl stops. The
 * library must say so (-EINTR) and still read the rest of that dump: left
 * on the socket, it would be taken for the answer to the next request.
 * A child adds and deletes a session in a loop while the parent dumps and
 * asks for the stats on the same socket after every dump.
 */
TEST(dump_interrupted_socket_stays_usable)
{
	static const uint8_t key[COAP_OFFLOAD_KEY_LEN] = { 1 };
	int i, seen, interrupted = 0, complete = 0, err;
	char buf[COAP_NL_BUF_SIZE], token[32];
	struct coap_nl c;
	long until;
	pid_t churn;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, coap_nl_open(&c));
	for (i = 0; i < CHURN_SESSIONS; i++) {
		snprintf(token, sizeof(token), "tok-dump-%04d", i);
		ASSERT_EQ(0, session_new(&c, token, "a1PK", "dump",
					 COAP_OFFLOAD_CIPHER_AES_128_CBC, 1,
					 key));
	}
	churn = fork();
	ASSERT_LE(0, churn);
	if (churn == 0) {
		struct coap_nl w;

		/* Gone with the test, whatever way it ends. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1 ||
		    coap_nl_open(&w))
			_exit(1);
		for (;;) {
			session_new(&w, "tok-churn", "a1PK", "churn",
				    COAP_OFFLOAD_CIPHER_AES_128_CBC, 1, key);
			session_token_cmd(&w, COAP_OFFLOAD_CMD_SESSION_DEL,
					  "tok-churn", NULL, NULL);
		}
	}
	until = (long)time(NULL) + 15;
	while ((interrupted < 3 || complete < 1) && time(NULL) < until) {
		seen = 0;
		err = coap_nl_talk(&c, coap_nl_request(&c, buf,
				   COAP_OFFLOAD_CMD_SESSION_GET, NLM_F_DUMP),
				   count_cb, &seen);
		if (err == -EINTR) {
			interrupted++;
		} else {
			ASSERT_EQ(0, err);
			EXPECT_LE(CHURN_SESSIONS, seen);
			complete++;
		}
		/* The next request on the same socket gets its own answer. */
		ASSERT_LE(CHURN_SESSIONS, stat_get(&c, COAP_OFFLOAD_STAT_SESSIONS));
	}
	kill(churn, SIGKILL);
	waitpid(churn, NULL, 0);
	TH_LOG("%d dumps interrupted, %d complete", interrupted, complete);
	EXPECT_LE(1, interrupted);
	coap_nl_close(&c);
}

/* ---- SOCKET_GET: the attached sockets ---------------------------------- */

#define MAX_LISTED	4

struct listed {
	struct sockaddr_storage local;
	size_t local_len;
	uint64_t inode, rx, passed;
	uint32_t attached;
};

struct listing {
	struct listed s[MAX_LISTED];
	int n;			/* may exceed MAX_LISTED: counted, not kept */
	int bad;		/* replies without the nest or its attributes */
};

static int socket_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= COAP_OFFLOAD_SOCKET_A_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int listing_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_SOCKET_A_MAX + 1] = { 0 };
	struct listing *l = data;
	struct listed *e;
	struct nlattr *attr, *nest = NULL;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(attr) == COAP_OFFLOAD_A_SOCKET)
			nest = attr;
	if (!nest || mnl_attr_parse_nested(nest, socket_attr_cb, tb) < 0 ||
	    !tb[COAP_OFFLOAD_SOCKET_A_LOCAL] || !tb[COAP_OFFLOAD_SOCKET_A_INODE] ||
	    !tb[COAP_OFFLOAD_SOCKET_A_ATTACHED] || !tb[COAP_OFFLOAD_SOCKET_A_RX] ||
	    !tb[COAP_OFFLOAD_SOCKET_A_PASSED] ||
	    mnl_attr_get_payload_len(tb[COAP_OFFLOAD_SOCKET_A_LOCAL]) >
	    sizeof(e->local)) {
		l->bad++;
		return MNL_CB_OK;
	}
	if (l->n++ >= MAX_LISTED)
		return MNL_CB_OK;
	e = &l->s[l->n - 1];
	e->local_len = mnl_attr_get_payload_len(tb[COAP_OFFLOAD_SOCKET_A_LOCAL]);
	memcpy(&e->local, mnl_attr_get_payload(tb[COAP_OFFLOAD_SOCKET_A_LOCAL]),
	       e->local_len);
	e->inode = mnl_attr_get_u64(tb[COAP_OFFLOAD_SOCKET_A_INODE]);
	e->attached = mnl_attr_get_u32(tb[COAP_OFFLOAD_SOCKET_A_ATTACHED]);
	e->rx = mnl_attr_get_u64(tb[COAP_OFFLOAD_SOCKET_A_RX]);
	e->passed = mnl_attr_get_u64(tb[COAP_OFFLOAD_SOCKET_A_PASSED]);
	return MNL_CB_OK;
}

static int list_sockets(struct coap_nl *c, struct listing *l)
{
	char buf[COAP_NL_BUF_SIZE];

	memset(l, 0, sizeof(*l));
	return coap_nl_talk(c, coap_nl_request(c, buf,
			    COAP_OFFLOAD_CMD_SOCKET_GET, NLM_F_DUMP),
			    listing_cb, l);
}

static uint64_t inode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/*
 * In a namespace of its own: nothing listed, then an IPv4 and an IPv6
 * socket in the order they were attached, with their bound addresses,
 * inodes and per-socket counters; a detached and a closed socket leave the
 * list. SOCKET_GET is a dump only.
 */
TEST(socket_listing)
{
	struct sockaddr_storage a4, a6;
	socklen_t a4_len, a6_len;
	char buf[COAP_NL_BUF_SIZE];
	struct listing l;
	struct coap_nl c;
	int s4, s6, dev;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, lo_up());
	ASSERT_EQ(0, coap_nl_open(&c));
	ASSERT_EQ(0, list_sockets(&c, &l));
	EXPECT_EQ(0, l.n);
	EXPECT_EQ(-EOPNOTSUPP,
		  coap_nl_talk(&c, coap_nl_request(&c, buf,
			       COAP_OFFLOAD_CMD_SOCKET_GET, 0), NULL, NULL));

	ASSERT_EQ(0, make_addr(AF_INET, "127.0.0.1", 5701, &a4, &a4_len));
	ASSERT_EQ(0, make_addr(AF_INET6, "::1", 5702, &a6, &a6_len));
	s4 = bind_retry(AF_INET, &a4, a4_len);
	s6 = bind_retry(AF_INET6, &a6, a6_len);
	ASSERT_LE(0, s4);
	ASSERT_LE(0, s6);
	ASSERT_EQ(0, socket_cmd(&c, COAP_OFFLOAD_CMD_SOCKET_ATTACH, s4));
	ASSERT_EQ(0, socket_cmd(&c, COAP_OFFLOAD_CMD_SOCKET_ATTACH, s6));
	ASSERT_EQ(-EBUSY, socket_cmd(&c, COAP_OFFLOAD_CMD_SOCKET_ATTACH, s6));

	ASSERT_EQ(0, list_sockets(&c, &l));
	ASSERT_EQ(2, l.n);
	EXPECT_EQ(0, l.bad);
	EXPECT_EQ(a4_len, l.s[0].local_len);
	EXPECT_EQ(0, memcmp(&a4, &l.s[0].local, a4_len));
	EXPECT_EQ(inode_of(s4), l.s[0].inode);
	EXPECT_EQ(a6_len, l.s[1].local_len);
	EXPECT_EQ(0, memcmp(&a6, &l.s[1].local, a6_len));
	EXPECT_EQ(inode_of(s6), l.s[1].inode);
	EXPECT_GT(5, l.s[0].attached);
	EXPECT_EQ(0, l.s[0].rx + l.s[1].rx + l.s[0].passed + l.s[1].passed);

	/* Two datagrams that are not CoAP, to the IPv4 socket only. */
	dev = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, dev);
	ASSERT_EQ(4, sendto(dev, "junk", 4, 0, (struct sockaddr *)&a4, a4_len));
	ASSERT_EQ(1, sendto(dev, "\x40", 1, 0, (struct sockaddr *)&a4, a4_len));
	close(dev);
	sleep_ms(100);
	ASSERT_EQ(0, list_sockets(&c, &l));
	ASSERT_EQ(2, l.n);
	EXPECT_EQ(2, l.s[0].rx);
	EXPECT_EQ(2, l.s[0].passed);
	EXPECT_EQ(0, l.s[1].rx);
	EXPECT_EQ(0, l.s[1].passed);

	/* Detached, then closed: each leaves the list. */
	ASSERT_EQ(0, socket_cmd(&c, COAP_OFFLOAD_CMD_SOCKET_DETACH, s4));
	ASSERT_EQ(0, list_sockets(&c, &l));
	ASSERT_EQ(1, l.n);
	EXPECT_EQ(inode_of(s6), l.s[0].inode);
	close(s6);
	ASSERT_EQ(0, list_sockets(&c, &l));
	EXPECT_EQ(0, l.n);
	close(s4);
	coap_nl_close(&c);
}

TEST_HARNESS_MAIN
