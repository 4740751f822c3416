// SPDX-License-Identifier: GPL-2.0
/*
 * kselftest: the fast path across network namespaces, the way a device on a
 * real link reaches the gateway. Two fresh namespaces, "gateway" and
 * "device", joined by a veth pair (10.199.0.0/24 and fd00:199::/64, which
 * exist only inside the VM's own namespaces). The gateway socket is attached,
 * the session pushed and the consumer registered in the gateway namespace;
 * the device's sockets belong to the device namespace, so every publish and
 * every answer crosses the veth. Also: the module's state (sessions,
 * consumer, attached sockets) is per namespace.
 * Runs as root inside the test VM with coap_offload.ko loaded; needs ip(8).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coap_nl.h"
#include "coap_proto.h"
#include "selftest_lib.h"
#include "kselftest_harness.h"

#define PK	"a1PK"
#define DN	"dev1"
#define TOKEN	"tok-netns-0123456789abcdef"
#define SEQ_OFFSET 4912
#define GW_PORT	5682

static const uint8_t session_key[16] = {
	0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
	0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
};

static int enter_ns(int nsfd)
{
	return setns(nsfd, CLONE_NEWNET);
}

/* Same address and port (the peer the kernel reports vs. our socket). */
static int same_endpoint(const struct sockaddr_storage *a, size_t alen,
			 const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return alen >= sizeof(*a4) && a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return alen >= sizeof(*a6) && a6->sin6_port == b6->sin6_port &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

static const char *endpoint_str(const struct sockaddr_storage *ss, char *buf,
				size_t cap)
{
	const struct sockaddr_in6 *a6 = (const void *)ss;
	const struct sockaddr_in *a4 = (const void *)ss;
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
		snprintf(buf, cap, "%s:%u", ip, ntohs(a4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(a6->sin6_port));
	} else {
		snprintf(buf, cap, "family %u", ss->ss_family);
	}
	return buf;
}

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	if (coap_nl_attr(nlh, COAP_OFFLOAD_A_SESSION))
		++*(int *)data;
	return MNL_CB_OK;
}

static int session_dump_count(struct coap_nl *c, int *count)
{
	char buf[COAP_NL_BUF_SIZE];

	*count = 0;
	return coap_nl_talk(c, coap_nl_request(c, buf,
			    COAP_OFFLOAD_CMD_SESSION_GET, NLM_F_DUMP),
			    count_cb, count);
}

FIXTURE(netns) {
	int home_ns, gw_ns, dev_ns;
	struct coap_nl nl, consumer;	/* gateway namespace */
	int gw, dev;
	struct sockaddr_storage gw_addr, dev_addr;
	socklen_t gw_addr_len;
	uint16_t mid;
	uint8_t pkt[1400];
};

FIXTURE_VARIANT(netns) {
	int family;
	uint32_t cipher;
	const char *gw_ip, *dev_ip;
	bool link_local;	/* fe80::/64: scoped to each end's veth */
};

FIXTURE_VARIANT_ADD(netns, ipv4) {
	.family = AF_INET, .cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC,
	.gw_ip = "10.199.0.1", .dev_ip = "10.199.0.2",
};

FIXTURE_VARIANT_ADD(netns, ipv6) {
	.family = AF_INET6, .cipher = COAP_OFFLOAD_CIPHER_AES_128_CTR,
	.gw_ip = "fd00:199::1", .dev_ip = "fd00:199::2",
};

/* Answers to a link-local device must leave by the link it spoke on. */
FIXTURE_VARIANT_ADD(netns, ipv6_link_local) {
	.family = AF_INET6, .cipher = COAP_OFFLOAD_CIPHER_AES_128_CBC,
	.gw_ip = "fe80::199:1", .dev_ip = "fe80::199:2", .link_local = true,
};

/* A link-local address needs the scope of this namespace's veth end. */
static void scope_to(struct sockaddr_storage *ss, const char *ifname)
{
	((struct sockaddr_in6 *)ss)->sin6_scope_id = if_nametoindex(ifname);
}

/*
 * A device socket: created in the device namespace, connected to the
 * gateway (the kernel picks the veth address as its source); its own
 * address in *self_addr. The caller is back in its home namespace after.
 */
static int device_socket(FIXTURE_DATA(netns) *self,
			 const FIXTURE_VARIANT(netns) *variant,
			 struct sockaddr_storage *self_addr)
{
	struct sockaddr_storage gw_addr = self->gw_addr;
	socklen_t len = sizeof(*self_addr);
	int fd, err = -1;

	if (enter_ns(self->dev_ns))
		return -1;
	if (variant->link_local)
		scope_to(&gw_addr, "coapdev");
	fd = socket(variant->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 &&
	    !connect(fd, (struct sockaddr *)&gw_addr, self->gw_addr_len) &&
	    !getsockname(fd, (struct sockaddr *)self_addr, &len))
		err = 0;
	if (enter_ns(self->home_ns))
		err = -1;
	if (err && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

FIXTURE_SETUP(netns)
{
	struct sockaddr_storage a, bind_addr;
	char ip[64];
	socklen_t alen;
	int fd;

	self->gw = self->dev = -1;
	self->home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->home_ns);
	/* Two fresh namespaces: they die with this process at the latest. */
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	self->gw_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->gw_ns);
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	self->dev_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->dev_ns);

	/* The link: gateway end coapgw, device end coapdev. */
	ASSERT_EQ(0, lo_up());
	ASSERT_EQ(0, enter_ns(self->gw_ns));
	ASSERT_EQ(0, ip_batch("link set lo up\n"
			      "link add coapgw type veth peer name coapdev "
			      "netns /proc/%d/fd/%d\n"
			      "link set coapgw up\n"
			      "address add 10.199.0.1/24 dev coapgw\n"
			      "address add fd00:199::1/64 dev coapgw nodad\n"
			      "address add fe80::199:1/64 dev coapgw nodad\n",
			      getpid(), self->dev_ns));
	ASSERT_EQ(0, enter_ns(self->dev_ns));
	ASSERT_EQ(0, ip_batch("link set coapdev up\n"
			      "address add 10.199.0.2/24 dev coapdev\n"
			      "address add fd00:199::2/64 dev coapdev nodad\n"
			      "address add fe80::199:2/64 dev coapdev nodad\n"));
	/* The device's address is usable (not tentative) before it sends. */
	ASSERT_EQ(0, make_addr(variant->family, variant->dev_ip, 0, &a, &alen));
	if (variant->link_local)
		scope_to(&a, "coapdev");
	fd = bind_retry(variant->family, &a, alen);
	ASSERT_LE(0, fd);
	close(fd);

	/* The gateway: its socket, session and consumer, all in gw_ns. */
	ASSERT_EQ(0, enter_ns(self->gw_ns));
	ASSERT_EQ(0, coap_nl_open(&self->nl));
	ASSERT_EQ(0, coap_nl_open(&self->consumer));
	ASSERT_EQ(0, consumer_register(&self->consumer));
	ASSERT_EQ(0, make_addr(variant->family, variant->gw_ip, GW_PORT,
			       &self->gw_addr, &self->gw_addr_len));
	bind_addr = self->gw_addr;
	if (variant->link_local) {
		/*
		 * Bound to the wildcard, as coapd is: nothing ties the socket
		 * to the link, so the module must route the answer by the
		 * interface the request came in on.
		 */
		((struct sockaddr_in6 *)&bind_addr)->sin6_addr = in6addr_any;
	}
	self->gw = bind_retry(variant->family, &bind_addr, self->gw_addr_len);
	ASSERT_LE(0, self->gw) {
		TH_LOG("bind %s: %s", variant->gw_ip, strerror(errno));
	}
	ASSERT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				self->gw));
	ASSERT_EQ(0, session_new(&self->nl, TOKEN, PK, DN, variant->cipher,
				 SEQ_OFFSET, session_key));
	ASSERT_EQ(0, enter_ns(self->home_ns));

	self->dev = device_socket(self, variant, &self->dev_addr);
	ASSERT_LE(0, self->dev);
	/*
	 * The source the kernel picked is the device's veth address (the port
	 * is read through sockaddr_in: sin6_port sits at the same offset).
	 */
	ASSERT_EQ(0, make_addr(variant->family, variant->dev_ip,
			       ntohs(((struct sockaddr_in *)&self->dev_addr)->sin_port),
			       &a, &alen));
	ASSERT_TRUE(same_endpoint(&self->dev_addr, alen, &a)) {
		TH_LOG("device socket is %s",
		       endpoint_str(&self->dev_addr, ip, sizeof(ip)));
	}
	self->mid = 0x200;
}

FIXTURE_TEARDOWN(netns)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->gw >= 0)
		close(self->gw);
	coap_nl_close(&self->consumer);
	coap_nl_close(&self->nl);
	/*
	 * The namespaces, and the veth pair with them, go with their last
	 * reference: these fds (this process lives in neither).
	 */
	enter_ns(self->home_ns);
	close(self->gw_ns);
	close(self->dev_ns);
	close(self->home_ns);
}

/* Build a publish of the fixture's session; returns its length. */
static int publish(FIXTURE_DATA(netns) *self,
		   const FIXTURE_VARIANT(netns) *variant, uint64_t seq,
		   const char *payload)
{
	static const uint8_t coap_token[] = { 0x5e, 0x7a, 0x11 };
	struct coap_proto_publish p = {
		.type = COAP_TYPE_CON,
		.message_id = ++self->mid,
		.coap_token = coap_token,
		.coap_token_len = sizeof(coap_token),
		.topic = "/" PK "/" DN "/user/update",
		.auth_token = TOKEN,
		.cipher = variant->cipher,
		.key = session_key,
		.seq = seq,
		.payload = (const uint8_t *)payload,
		.payload_len = strlen(payload),
	};

	return coap_proto_build_publish(&p, self->pkt, sizeof(self->pkt));
}

/* Publish seq from fd; expect a 2.05 there and one delivery from peer. */
static void publish_expect_delivered(struct __test_metadata *_metadata,
				     FIXTURE_DATA(netns) *self,
				     const FIXTURE_VARIANT(netns) *variant,
				     int fd, const struct sockaddr_storage *peer,
				     uint64_t seq, uint64_t *message_id)
{
	char payload[64], ep1[80], ep2[80];
	struct delivered d;
	struct answer a;
	int len;

	snprintf(payload, sizeof(payload), "{\"seq\":%llu}",
		 (unsigned long long)seq);
	len = publish(self, variant, seq, payload);
	ASSERT_LT(0, len);
	ASSERT_EQ(len, send(fd, self->pkt, len, 0));

	ASSERT_EQ(1, get_answer(fd, &a, 3000)) {
		TH_LOG("no answer to seq %llu", (unsigned long long)seq);
	}
	EXPECT_EQ(COAP_TYPE_ACK, a.msg.type);
	EXPECT_EQ(COAP_CODE_CONTENT, a.msg.code);
	EXPECT_EQ(self->mid, a.msg.message_id);
	EXPECT_EQ(3, a.msg.token_len);
	EXPECT_EQ(8, a.id_len);
	EXPECT_EQ(0, a.msg.payload_len);

	ASSERT_EQ(1, drain_consumer(&self->consumer, &d, 2000));
	EXPECT_EQ(a.message_id, d.id);
	EXPECT_EQ(seq, d.seq);
	EXPECT_STREQ("/" PK "/" DN "/user/update", d.topic);
	EXPECT_STREQ(PK, d.pk);
	EXPECT_STREQ(DN, d.dn);
	ASSERT_EQ(strlen(payload), d.payload_len);
	EXPECT_EQ(0, memcmp(payload, d.payload, d.payload_len));
	EXPECT_TRUE(same_endpoint(&d.peer, d.peer_len, peer)) {
		TH_LOG("peer %s, device socket %s",
		       endpoint_str(&d.peer, ep1, sizeof(ep1)),
		       endpoint_str(peer, ep2, sizeof(ep2)));
	}
	if (message_id)
		*message_id = a.message_id;
}

TEST_F(netns, publish_answered_across_veth)
{
	uint8_t buf[1400];

	publish_expect_delivered(_metadata, self, variant, self->dev,
				 &self->dev_addr, SEQ_OFFSET, NULL);
	/* Consumed by the module: nothing was left for the daemon. */
	EXPECT_EQ(-1, recv_wait(self->gw, buf, sizeof(buf), 100));
}

/*
 * A NAT in front of the device rebinds: the same session arrives from a new
 * source port. The answer goes to where the datagram came from.
 */
TEST_F(netns, nat_rebinding_answered_at_new_address)
{
	struct sockaddr_storage dev2_addr;
	uint64_t id1, id2, id3;
	struct answer a;
	int dev2;

	publish_expect_delivered(_metadata, self, variant, self->dev,
				 &self->dev_addr, SEQ_OFFSET, &id1);

	dev2 = device_socket(self, variant, &dev2_addr);
	ASSERT_LE(0, dev2);
	ASSERT_FALSE(same_endpoint(&dev2_addr, sizeof(dev2_addr),
				   &self->dev_addr));
	publish_expect_delivered(_metadata, self, variant, dev2, &dev2_addr,
				 SEQ_OFFSET + 1, &id2);
	/* Nothing went to the old binding. */
	EXPECT_EQ(0, get_answer(self->dev, &a, 200));
	EXPECT_LT(id1, id2);

	/* And back again: the old port with the next seq. */
	publish_expect_delivered(_metadata, self, variant, self->dev,
				 &self->dev_addr, SEQ_OFFSET + 2, &id3);
	EXPECT_EQ(0, get_answer(dev2, &a, 200));
	EXPECT_LT(id2, id3);
	close(dev2);
}

/*
 * Sessions, counters and the consumer belong to the namespace: the device
 * namespace sees none of the gateway's, and has its own.
 */
TEST_F(netns, state_is_per_namespace)
{
	struct coap_nl dev_nl, dev_consumer;
	struct delivered d;
	int count;

	ASSERT_EQ(0, enter_ns(self->dev_ns));
	ASSERT_EQ(0, coap_nl_open(&dev_nl));
	ASSERT_EQ(0, coap_nl_open(&dev_consumer));
	ASSERT_EQ(0, enter_ns(self->home_ns));

	/* The gateway namespace has the session... */
	count = 0;
	EXPECT_EQ(0, session_token_cmd(&self->nl, COAP_OFFLOAD_CMD_SESSION_GET,
				       TOKEN, count_cb, &count));
	EXPECT_EQ(1, count);
	EXPECT_EQ(1, stat_get(&self->nl, COAP_OFFLOAD_STAT_SESSIONS));
	/* ...the device namespace does not. */
	count = 0;
	EXPECT_EQ(-ENOENT, session_token_cmd(&dev_nl,
					     COAP_OFFLOAD_CMD_SESSION_GET,
					     TOKEN, count_cb, &count));
	EXPECT_EQ(0, count);
	EXPECT_EQ(0, stat_get(&dev_nl, COAP_OFFLOAD_STAT_SESSIONS));
	EXPECT_EQ(0, session_dump_count(&dev_nl, &count));
	EXPECT_EQ(0, count);
	EXPECT_EQ(-ENOENT, session_token_cmd(&dev_nl,
					     COAP_OFFLOAD_CMD_SESSION_DEL,
					     TOKEN, NULL, NULL));

	/* The same token is free there: a separate table. */
	EXPECT_EQ(0, session_new(&dev_nl, TOKEN, PK, DN, variant->cipher, 1,
				 session_key));
	EXPECT_EQ(1, stat_get(&dev_nl, COAP_OFFLOAD_STAT_SESSIONS));
	EXPECT_EQ(0, session_token_cmd(&dev_nl, COAP_OFFLOAD_CMD_SESSION_DEL,
				       TOKEN, NULL, NULL));
	EXPECT_EQ(0, stat_get(&dev_nl, COAP_OFFLOAD_STAT_SESSIONS));
	EXPECT_EQ(1, stat_get(&self->nl, COAP_OFFLOAD_STAT_SESSIONS));

	/*
	 * A consumer registered in the device namespace does not replace the
	 * gateway's, nor see its messages.
	 */
	ASSERT_EQ(0, consumer_register(&dev_consumer));
	publish_expect_delivered(_metadata, self, variant, self->dev,
				 &self->dev_addr, SEQ_OFFSET, NULL);
	EXPECT_EQ(0, drain_consumer(&dev_consumer, &d, 200));

	coap_nl_close(&dev_consumer);
	coap_nl_close(&dev_nl);
}

/* SOCKET_ATTACH only takes sockets of the namespace it is issued in. */
TEST_F(netns, foreign_socket_not_attached)
{
	struct sockaddr_storage a;
	struct coap_nl dev_nl;
	int dev_sock, gw_sock;
	socklen_t alen;

	ASSERT_EQ(0, enter_ns(self->dev_ns));
	ASSERT_EQ(0, coap_nl_open(&dev_nl));
	ASSERT_EQ(0, make_addr(variant->family, variant->dev_ip, GW_PORT, &a,
			       &alen));
	if (variant->link_local)
		scope_to(&a, "coapdev");
	dev_sock = bind_retry(variant->family, &a, alen);
	ASSERT_LE(0, dev_sock);
	ASSERT_EQ(0, enter_ns(self->gw_ns));
	ASSERT_EQ(0, make_addr(variant->family, variant->gw_ip, 0, &a, &alen));
	if (variant->link_local)
		scope_to(&a, "coapgw");
	gw_sock = bind_retry(variant->family, &a, alen);
	ASSERT_LE(0, gw_sock);
	ASSERT_EQ(0, enter_ns(self->home_ns));

	/* A device-namespace socket, attached from the gateway namespace. */
	EXPECT_EQ(-EINVAL, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				      dev_sock));
	/* And the other way round. */
	EXPECT_EQ(-EINVAL, socket_cmd(&dev_nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				      gw_sock));
	/* The gateway's attached socket is not attached in the other one. */
	EXPECT_EQ(-ENOENT, socket_cmd(&dev_nl, COAP_OFFLOAD_CMD_SOCKET_DETACH,
				      self->gw));

	/* Both are fine in their own namespace (the refusal was the netns). */
	EXPECT_EQ(0, socket_cmd(&dev_nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				dev_sock));
	EXPECT_EQ(0, socket_cmd(&dev_nl, COAP_OFFLOAD_CMD_SOCKET_DETACH,
				dev_sock));
	EXPECT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				gw_sock));
	EXPECT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_DETACH,
				gw_sock));

	/* The refusals changed nothing: the gateway still answers. */
	publish_expect_delivered(_metadata, self, variant, self->dev,
				 &self->dev_addr, SEQ_OFFSET, NULL);
	close(gw_sock);
	close(dev_sock);
	coap_nl_close(&dev_nl);
}

TEST_HARNESS_MAIN
