// SPDX-License-Identifier: GPL-2.0
/*
 * kselftest: teardown while traffic flows. Flooders (forked children) send
 * valid publishes, retransmissions and unknown tokens at attached sockets
 * while the test destroys what they are aimed at: the whole network
 * namespace, the gateway socket, the attachment, the module itself. The
 * kernel must not crash (the VM runner catches oopses, KASAN, lockdep and
 * kmemleak reports on the console), the namespace must really go away, and
 * what is left must keep working.
 *
 * The tests stop their flooders after a second or two; FLOOD_MS and
 * FLOOD_MAX only bound a flooder that outlives its test. Floods are paced
 * by the answers (see await_answers()), so the slower debug kernel sees a
 * thinner flood, not a longer test.
 *
 * The module unload test runs only when COAP_OFFLOAD_KO names the module
 * file (tests/vm/guest-tests.sh sets it); it unloads coap_offload and loads
 * it again, so this program runs last. Runs as root inside the test VM with
 * coap_offload.ko loaded; needs ip(8), rmmod(8), insmod(8).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coap_nl.h"
#include "coap_proto.h"
#include "selftest_lib.h"
#include "kselftest_harness.h"

#define PK		"a1PK"
#define DN		"dev1"
#define PROBE_TOKEN	"tok-lifetime-probe"
#define SEQ_OFFSET	1000
#define GW_PORT		5682
#define FLOOD_SESSIONS	4
#define FLOOD_MS	10000	/* a flooder's bound; the tests stop it in ~2 s */
#define FLOOD_MAX	2000000
#define MAX_FLOODERS	3
#define FLOOD_BURST	8
#define FLOOD_WAIT_MS	20

static const uint8_t session_key[16] = {
	0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x06, 0x17,
	0x28, 0x39, 0x4a, 0x5b, 0x6c, 0x7d, 0x8e, 0x9f,
};

/* Counters the children keep in memory shared with the test. */
struct shared {
	volatile long attempts[MAX_FLOODERS];
	volatile long sent[MAX_FLOODERS];
	volatile long answered[MAX_FLOODERS];	/* 2.05s received */
	volatile long consumed;
};

static struct shared *shared_new(void)
{
	void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int __attribute__((format(printf, 1, 2))) shell(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "# command failed (status %d): %s\n", st, cmd);
		return -1;
	}
	return 0;
}

/*
 * In a forked child: keep only stdio and fd (as fd 3, returned), so that the
 * child holds none of the test's sockets (a close() in the test must close).
 */
static int keep_only(int fd)
{
	if (fd != 3 && dup2(fd, 3) != 3)
		_exit(3);
	close_range(4, ~0U, 0);
	return 3;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * A UDP socket of the current namespace bound to ip:port (an IPv6 address
 * is tentative for a moment after its link comes up: retry for 5 s), and
 * connected to peer when peer is not NULL.
 */
static int udp_socket(int family, const char *ip, uint16_t port,
		      const struct sockaddr_storage *peer, socklen_t peer_len)
{
	struct sockaddr_storage a;
	socklen_t alen;
	int fd;

	if (make_addr(family, ip, port, &a, &alen))
		return -1;
	fd = bind_retry(family, &a, alen);
	if (fd >= 0 && peer &&
	    connect(fd, (const struct sockaddr *)peer, peer_len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Everything queued on a socket; the number of datagrams. */
static int drain_socket(int fd)
{
	uint8_t buf[2048];
	int n = 0;

	for (;;) {
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			n++;
		else if (errno != ECONNREFUSED)	/* an ICMP error, reported once */
			return n;
	}
}

static uint32_t cipher_of(int i)
{
	return i % 2 ? COAP_OFFLOAD_CIPHER_AES_128_CTR :
		       COAP_OFFLOAD_CIPHER_AES_128_CBC;
}

static void flood_token(char *buf, size_t cap, int flooder, int i)
{
	snprintf(buf, cap, "tok-lifetime-flood-%d-%d", flooder, i);
}

/* The probe session and the sessions of flooders [0, nflooders). */
static int push_sessions(struct coap_nl *c, int nflooders)
{
	char token[64];
	int f, i, err;

	err = session_new(c, PROBE_TOKEN, PK, DN,
			  COAP_OFFLOAD_CIPHER_AES_128_CTR, SEQ_OFFSET,
			  session_key);
	for (f = 0; f < nflooders && !err; f++)
		for (i = 0; i < FLOOD_SESSIONS && !err; i++) {
			flood_token(token, sizeof(token), f, i);
			err = session_new(c, token, PK, DN, cipher_of(i),
					  SEQ_OFFSET, session_key);
		}
	return err;
}

/* For a failure's log: the namespace's counters and the children's. */
static void log_stats(struct __test_metadata *_metadata, struct coap_nl *c,
		      const struct shared *sh)
{
	uint64_t v[COAP_OFFLOAD_STAT_MAX + 1] = { 0 };

	if (c && coap_nl_stats_get(c, v))
		memset(v, 0, sizeof(v));
#define V(x) (unsigned long long)v[COAP_OFFLOAD_STAT_##x]
	TH_LOG("module: rx %llu passed %llu delivered %llu retransmits %llu "
	       "replays %llu decrypt_errors %llu no_consumer %llu "
	       "tx_errors %llu", V(RX), V(PASSED), V(DELIVERED),
	       V(RETRANSMITS), V(REPLAYS), V(DECRYPT_ERRORS), V(NO_CONSUMER),
	       V(TX_ERRORS));
#undef V
	TH_LOG("flooders: sent %ld/%ld/%ld answered %ld/%ld/%ld; consumer "
	       "read %ld", sh->sent[0], sh->sent[1], sh->sent[2],
	       sh->answered[0], sh->answered[1], sh->answered[2],
	       sh->consumed);
}

/*
 * After each burst, a flooder waits until the burst is answered, or for
 * FLOOD_WAIT_MS at most (unknown tokens, a closed or detached socket get no
 * answer): the flood goes as fast as the kernel answers, as many devices
 * would, instead of overflowing the backlog queue, which on a slow (debug)
 * kernel drops datagrams before the module sees them, probes included.
 */
static void await_answers(int fd, int flooder, struct shared *sh)
{
	long until = now_ms() + FLOOD_WAIT_MS;
	struct coap_msg msg;
	uint8_t buf[1400];
	int got = 0;
	ssize_t n;

	while (got < FLOOD_BURST && now_ms() < until) {
		n = recv_wait(fd, buf, sizeof(buf), until - now_ms());
		if (n < 0)
			continue;
		got++;
		if (!coap_parse(buf, n, &msg) && msg.code == COAP_CODE_CONTENT)
			sh->answered[flooder]++;
	}
}

/*
 * A flooder: a child that sends, on the connected socket fd, valid publishes
 * of its FLOOD_SESSIONS sessions round robin (both cipher suites), every
 * 16th one again (a retransmission) and one in 64 with an unknown token
 * (left on the socket), in bursts of FLOOD_BURST, for FLOOD_MS or FLOOD_MAX
 * datagrams, or until killed. Errors (the peer going away) do not stop it.
 */
static pid_t start_flooder(int fd, int flooder, struct shared *sh)
{
	static const uint8_t coap_token[] = { 0xf1, 0x00, 0xd0 };
	uint64_t seq[FLOOD_SESSIONS];
	char tokens[FLOOD_SESSIONS][64];
	char payload[64];
	uint8_t pkt[1400];
	long end;
	pid_t pid;
	int n, i, len = 0;

	pid = fork();
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = keep_only(fd);
	for (i = 0; i < FLOOD_SESSIONS; i++) {
		flood_token(tokens[i], sizeof(tokens[i]), flooder, i);
		seq[i] = SEQ_OFFSET;
	}
	end = now_ms() + FLOOD_MS;
	for (n = 0; n < FLOOD_MAX && now_ms() < end; n++) {
		if (n % 16 != 15 || len <= 0) {
			struct coap_proto_publish p = {
				.type = COAP_TYPE_CON,
				.message_id = (uint16_t)n,
				.coap_token = coap_token,
				.coap_token_len = sizeof(coap_token),
				.topic = "/" PK "/" DN "/user/flood",
				.auth_token = tokens[n % FLOOD_SESSIONS],
				.cipher = cipher_of(n % FLOOD_SESSIONS),
				.key = session_key,
				.seq = seq[n % FLOOD_SESSIONS]++,
				.payload = (const uint8_t *)payload,
			};

			if (n % 64 == 62)
				p.auth_token = "tok-nobody-has-this";
			p.payload_len = snprintf(payload, sizeof(payload),
						 "{\"flood\":%d,\"n\":%d}",
						 flooder, n);
			len = coap_proto_build_publish(&p, pkt, sizeof(pkt));
			if (len < 0)
				_exit(2);
		}
		sh->attempts[flooder]++;
		if (send(fd, pkt, len, MSG_DONTWAIT) == len)
			sh->sent[flooder]++;
		if (n % FLOOD_BURST == FLOOD_BURST - 1)
			await_answers(fd, flooder, sh);
	}
	_exit(0);
}

static void stop_child(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/*
 * A consumer: a child that registers its own netlink socket as the current
 * namespace's consumer and reads (and counts) delivered messages until it
 * is killed, so that the fast path keeps answering under a flood.
 */
static pid_t start_consumer(struct shared *sh)
{
	char buf[COAP_NL_BUF_SIZE], status = 1;
	struct coap_nl c;
	int p[2], size = 4 << 20;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid) {
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		close(p[0]);
		if (status) {
			waitpid(pid, NULL, 0);
			return -1;
		}
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	p[1] = keep_only(p[1]);
	if (!coap_nl_open(&c) && !consumer_register(&c))
		status = 0;
	if (write(p[1], &status, 1) != 1 || status)
		_exit(1);
	setsockopt(mnl_socket_get_fd(c.nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
		   sizeof(size));
	for (;;) {
		/* ENOBUFS (we fell behind) is fine: keep reading. */
		if (recv(mnl_socket_get_fd(c.nl), buf, sizeof(buf), 0) > 0)
			sh->consumed++;
	}
}

/*
 * Send publishes of the probe session (fresh seqs) on the connected socket
 * fd, up to tries times, waiting ms after each: 1 as soon as a 2.05 comes
 * back, else 0. Under a flood, one datagram can be dropped; not ten.
 */
static int probe(int fd, uint64_t *seq, int tries, int ms)
{
	static const uint8_t coap_token[] = { 0x9b };
	uint8_t pkt[1400], buf[1400];
	struct coap_msg msg;
	ssize_t n;
	long until;
	int i, len;

	for (i = 0; i < tries; i++) {
		struct coap_proto_publish p = {
			.type = COAP_TYPE_CON,
			.message_id = (uint16_t)(0x7000 + *seq),
			.coap_token = coap_token,
			.coap_token_len = sizeof(coap_token),
			.topic = "/" PK "/" DN "/user/probe",
			.auth_token = PROBE_TOKEN,
			.cipher = COAP_CIPHER_AES_128_CTR,
			.key = session_key,
			.seq = (*seq)++,
			.payload = (const uint8_t *)"probe",
			.payload_len = 5,
		};

		len = coap_proto_build_publish(&p, pkt, sizeof(pkt));
		if (len < 0 || send(fd, pkt, len, 0) != len)
			continue;
		until = now_ms() + ms;
		while (now_ms() < until) {
			n = recv_wait(fd, buf, sizeof(buf), until - now_ms());
			if (n > 0 && !coap_parse(buf, n, &msg) &&
			    msg.type == COAP_TYPE_ACK &&
			    msg.code == COAP_CODE_CONTENT)
				return 1;
		}
	}
	return 0;
}

/* Any datagram at all arriving on fd within ms (errors do not count). */
static int any_datagram(int fd, int ms)
{
	uint8_t buf[1400];
	long until = now_ms() + ms;

	while (now_ms() < until)
		if (recv_wait(fd, buf, sizeof(buf), until - now_ms()) >= 0)
			return 1;
	return 0;
}

/* A flooder got a 2.05 within ms: the flood itself is being answered. */
static int flood_answered(const struct shared *sh, int flooder, int ms)
{
	long until = now_ms() + ms;

	while (!sh->answered[flooder] && now_ms() < until)
		sleep_ms(20);
	return sh->answered[flooder] > 0;
}

static long sum(const volatile long *v, int n)
{
	long s = 0;

	while (n--)
		s += v[n];
	return s;
}

/*
 * Traffic from the device side, per family (0: IPv4, 1: IPv6): a socket
 * a flooder sends from, and one the test probes the fast path with.
 */
struct floods {
	int dev[2], probe[2];
	pid_t flooder[2];
};

static void floods_init(struct floods *f)
{
	f->dev[0] = f->dev[1] = f->probe[0] = f->probe[1] = -1;
	f->flooder[0] = f->flooder[1] = 0;
}

static void floods_stop(struct floods *f)
{
	int i;

	for (i = 0; i < 2; i++) {
		stop_child(&f->flooder[i]);
		close(f->dev[i]);
		close(f->probe[i]);
		f->dev[i] = f->probe[i] = -1;
	}
}

/*
 * Both families' sockets from ip[i] to the gateway's gw[i], their flooders
 * (numbered 0 and 1) started, and the fast path seen answering a probe in
 * each family under the flood. nl (may be NULL) only feeds the log.
 */
static void floods_start(struct __test_metadata *_metadata, struct floods *f,
			 const char *const ip[2],
			 const struct sockaddr_storage gw[2],
			 const socklen_t gw_len[2], struct shared *sh,
			 struct coap_nl *nl, uint64_t *seq)
{
	static const int family[2] = { AF_INET, AF_INET6 };
	int i;

	for (i = 0; i < 2; i++) {
		f->dev[i] = udp_socket(family[i], ip[i], 0, &gw[i], gw_len[i]);
		f->probe[i] = udp_socket(family[i], ip[i], 0, &gw[i],
					 gw_len[i]);
		ASSERT_LE(0, f->dev[i]);
		ASSERT_LE(0, f->probe[i]);
	}
	for (i = 0; i < 2; i++) {
		f->flooder[i] = start_flooder(f->dev[i], i, sh);
		ASSERT_LT(0, f->flooder[i]);
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(1, probe(f->probe[i], seq, 10, 500))
			log_stats(_metadata, nl, sh);
}

/* ---- (a) a namespace destroyed under traffic ------------------------ */

/*
 * The gateway side of netns_destroyed_under_flood, in a child that owns a
 * fresh namespace: link and addresses, three attached sockets (veth IPv4
 * and IPv6, loopback), sessions, a consumer, and a flooder of its own on
 * loopback. Reports one status byte (0: ready) on ready_fd, then reads
 * everything it is sent until it is killed.
 */
static void __attribute__((noreturn))
gateway_netns_main(int ready_fd, int go_fd, struct shared *sh)
{
	struct sockaddr_storage lo_addr;
	struct pollfd pfd[4];
	struct coap_nl nl, consumer;
	char status = 0, c;
	uint8_t buf[COAP_NL_BUF_SIZE];
	socklen_t lo_len;
	int i, fd_lo_dev;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Keep the two pipe ends only (as fds 3 and 4), see keep_only(). */
	ready_fd = fcntl(ready_fd, F_DUPFD, 100);
	go_fd = fcntl(go_fd, F_DUPFD, 100);
	if (ready_fd < 0 || go_fd < 0 || dup2(ready_fd, 3) != 3 ||
	    dup2(go_fd, 4) != 4)
		_exit(1);
	ready_fd = 3;
	go_fd = 4;
	close_range(5, ~0U, 0);
	if (unshare(CLONE_NEWNET))
		status = 1;
	if (write(ready_fd, &status, 1) != 1 || status)
		_exit(1);
	if (read(go_fd, &c, 1) != 1)
		_exit(1);

	status = 2;
	if (lo_up() || ip_batch("link set coaplt1 up\n"
				"address add 10.198.0.1/24 dev coaplt1\n"
				"address add fd00:198::1/64 dev coaplt1 nodad\n"))
		goto out;
	status = 3;
	if (coap_nl_open(&nl) || coap_nl_open(&consumer) ||
	    consumer_register(&consumer))
		goto out;
	status = 4;
	pfd[0].fd = mnl_socket_get_fd(consumer.nl);
	pfd[1].fd = udp_socket(AF_INET, "10.198.0.1", GW_PORT, NULL, 0);
	pfd[2].fd = udp_socket(AF_INET6, "fd00:198::1", GW_PORT, NULL, 0);
	pfd[3].fd = udp_socket(AF_INET, "127.0.0.1", GW_PORT, NULL, 0);
	for (i = 1; i < 4; i++)
		if (pfd[i].fd < 0 ||
		    socket_cmd(&nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH, pfd[i].fd))
			goto out;
	status = 5;
	if (push_sessions(&nl, MAX_FLOODERS))
		goto out;
	/* Flooder 2, inside this namespace, over loopback. */
	status = 6;
	if (make_addr(AF_INET, "127.0.0.1", GW_PORT, &lo_addr, &lo_len))
		goto out;
	fd_lo_dev = udp_socket(AF_INET, "127.0.0.1", 0, &lo_addr, lo_len);
	if (fd_lo_dev < 0 || start_flooder(fd_lo_dev, 2, sh) < 0)
		goto out;
	status = 0;
out:
	if (write(ready_fd, &status, 1) != 1 || status)
		_exit(1);
	for (i = 0; i < 4; i++)
		pfd[i].events = POLLIN;
	for (;;) {
		if (poll(pfd, 4, -1) <= 0)
			continue;
		if (pfd[0].revents && recv(pfd[0].fd, buf, sizeof(buf),
					   MSG_DONTWAIT) > 0)
			sh->consumed++;
		for (i = 1; i < 4; i++)
			if (pfd[i].revents)
				drain_socket(pfd[i].fd);
	}
}

FIXTURE(netns_teardown) {
	struct shared *sh;
	pid_t gateway;
	struct floods floods;
};

FIXTURE_SETUP(netns_teardown)
{
	floods_init(&self->floods);
	self->sh = shared_new();
	ASSERT_NE(NULL, self->sh);
	/* The test's own side of the link gets a namespace of its own too. */
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, lo_up());
}

FIXTURE_TEARDOWN(netns_teardown)
{
	floods_stop(&self->floods);
	stop_child(&self->gateway);
	/* The veth pair went with the gateway's namespace, ours goes with us. */
}

/*
 * A gateway namespace (attached sockets on veth and loopback, sessions, a
 * consumer) flooded from outside over the veth and from inside over
 * loopback, then destroyed: its processes killed, so its sockets close and
 * the namespace is dismantled while datagrams keep arriving. The namespace
 * must really go (its veth peer, here, disappears with it: nothing pinned
 * it), and nothing may crash.
 */
TEST_F_TIMEOUT(netns_teardown, destroyed_under_flood, 180)
{
	static const char *const ip[2] = { "10.198.0.2", "fd00:198::2" };
	struct sockaddr_storage gw[2];
	socklen_t gw_len[2];
	int ready[2], go[2], i;
	long attempts_at_kill, t0;
	uint64_t seq = SEQ_OFFSET;
	struct coap_nl nl;
	char status;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	self->gateway = fork();
	ASSERT_LE(0, self->gateway);
	if (self->gateway == 0)
		gateway_netns_main(ready[1], go[0], self->sh);
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &status, 1));
	ASSERT_EQ(0, status);

	ASSERT_EQ(0, ip_batch("link add coaplt0 type veth peer name coaplt1 "
			      "netns %d\n"
			      "link set coaplt0 up\n"
			      "address add 10.198.0.2/24 dev coaplt0\n"
			      "address add fd00:198::2/64 dev coaplt0 nodad\n",
			      self->gateway));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(ready[0], &status, 1));
	ASSERT_EQ(0, status) {
		TH_LOG("gateway namespace setup failed at step %d", status);
	}

	ASSERT_EQ(0, make_addr(AF_INET, "10.198.0.1", GW_PORT, &gw[0],
			       &gw_len[0]));
	ASSERT_EQ(0, make_addr(AF_INET6, "fd00:198::1", GW_PORT, &gw[1],
			       &gw_len[1]));
	/* The gateway answers over the veth, in both families, under flood. */
	floods_start(_metadata, &self->floods, ip, gw, gw_len, self->sh, NULL,
		     &seq);
	sleep_ms(300);

	/* Destroy the namespace: its processes die, its sockets close. */
	/* All three floods were answered, and the consumer read them. */
	EXPECT_TRUE(flood_answered(self->sh, 0, 5000));
	EXPECT_TRUE(flood_answered(self->sh, 1, 5000));
	EXPECT_TRUE(flood_answered(self->sh, 2, 5000));
	EXPECT_LT(0, self->sh->consumed);
	TH_LOG("before the kill: sent %ld/%ld/%ld, answered %ld/%ld/%ld, "
	       "consumed %ld", self->sh->sent[0], self->sh->sent[1],
	       self->sh->sent[2], self->sh->answered[0], self->sh->answered[1],
	       self->sh->answered[2], self->sh->consumed);
	attempts_at_kill = sum(self->sh->attempts, MAX_FLOODERS);
	stop_child(&self->gateway);
	/* The outside flood goes on while the namespace is dismantled. */
	sleep_ms(500);
	EXPECT_LT(attempts_at_kill, sum(self->sh->attempts, MAX_FLOODERS));
	floods_stop(&self->floods);

	/* The namespace is gone for real: the veth pair went with it. */
	t0 = now_ms();
	for (i = 0; i < 1200 && if_nametoindex("coaplt0"); i++)
		sleep_ms(50);
	ASSERT_EQ(0, if_nametoindex("coaplt0")) {
		TH_LOG("the gateway namespace was not dismantled in 60 s");
	}
	TH_LOG("namespace dismantled %ld ms after the kill", now_ms() - t0 + 500);

	/* The module still serves this namespace, which holds nothing. */
	ASSERT_EQ(0, coap_nl_open(&nl));
	EXPECT_EQ(0, stat_get(&nl, COAP_OFFLOAD_STAT_SESSIONS));
	coap_nl_close(&nl);
}

/* ---- (b) the gateway socket closed or detached under traffic -------- */

FIXTURE(gateway_socket) {
	struct shared *sh;
	struct coap_nl nl;
	pid_t consumer, flooder;
	int gw, dev, probe;
	struct sockaddr_storage gw_addr;
	socklen_t gw_len;
	uint64_t seq;
};

FIXTURE_VARIANT(gateway_socket) {
	int family;
	const char *ip;
};

FIXTURE_VARIANT_ADD(gateway_socket, ipv4) {
	.family = AF_INET, .ip = "127.0.0.1",
};

FIXTURE_VARIANT_ADD(gateway_socket, ipv6) {
	.family = AF_INET6, .ip = "::1",
};

FIXTURE_SETUP(gateway_socket)
{
	self->gw = self->dev = self->probe = -1;
	self->seq = SEQ_OFFSET;
	self->sh = shared_new();
	ASSERT_NE(NULL, self->sh);
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, lo_up());
	ASSERT_EQ(0, coap_nl_open(&self->nl));
	self->consumer = start_consumer(self->sh);
	ASSERT_LT(0, self->consumer);
	ASSERT_EQ(0, make_addr(variant->family, variant->ip, GW_PORT,
			       &self->gw_addr, &self->gw_len));
	self->gw = udp_socket(variant->family, variant->ip, GW_PORT, NULL, 0);
	ASSERT_LE(0, self->gw);
	ASSERT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				self->gw));
	ASSERT_EQ(0, push_sessions(&self->nl, 1));
	self->dev = udp_socket(variant->family, variant->ip, 0, &self->gw_addr,
			       self->gw_len);
	ASSERT_LE(0, self->dev);
	self->probe = udp_socket(variant->family, variant->ip, 0,
				 &self->gw_addr, self->gw_len);
	ASSERT_LE(0, self->probe);
	self->flooder = start_flooder(self->dev, 0, self->sh);
	ASSERT_LT(0, self->flooder);
	/* Under flood, the fast path answers. */
	ASSERT_EQ(1, probe(self->probe, &self->seq, 10, 500))
		log_stats(_metadata, &self->nl, self->sh);
}

FIXTURE_TEARDOWN(gateway_socket)
{
	stop_child(&self->flooder);
	stop_child(&self->consumer);
	close(self->probe);
	close(self->dev);
	close(self->gw);
	coap_nl_close(&self->nl);
}

/* RX stays still for ms: nothing reaches the module any more. */
static int rx_still(struct coap_nl *nl, int ms)
{
	int64_t before, after;

	sleep_ms(100);	/* what was in flight lands */
	before = stat_get(nl, COAP_OFFLOAD_STAT_RX);
	sleep_ms(ms);
	after = stat_get(nl, COAP_OFFLOAD_STAT_RX);
	return before >= 0 && before == after;
}

/* RX grows within ms: the flood reaches the module. */
static int rx_grows(struct coap_nl *nl, int ms)
{
	int64_t before = stat_get(nl, COAP_OFFLOAD_STAT_RX);
	long until = now_ms() + ms;

	while (now_ms() < until) {
		sleep_ms(50);
		if (stat_get(nl, COAP_OFFLOAD_STAT_RX) > before)
			return 1;
	}
	return 0;
}

/*
 * The daemon closes its socket while devices flood it: the module lets go
 * (publishes are no longer answered), and a new socket on the same address
 * can be attached and answers again, with the sessions intact.
 */
TEST_F_TIMEOUT(gateway_socket, closed_under_flood, 90)
{
	int gw2;

	EXPECT_TRUE(rx_grows(&self->nl, 2000));
	close(self->gw);
	self->gw = -1;
	EXPECT_TRUE(rx_still(&self->nl, 300));
	/* Nobody answers now (at most an ICMP error, which is no answer). */
	EXPECT_EQ(0, probe(self->probe, &self->seq, 3, 200));
	EXPECT_EQ(0, any_datagram(self->probe, 100));

	gw2 = udp_socket(variant->family, variant->ip, GW_PORT, NULL, 0);
	ASSERT_LE(0, gw2);
	self->gw = gw2;
	ASSERT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH, gw2));
	EXPECT_TRUE(rx_grows(&self->nl, 2000));
	EXPECT_EQ(1, probe(self->probe, &self->seq, 10, 500))
		log_stats(_metadata, &self->nl, self->sh);
	EXPECT_TRUE(flood_answered(self->sh, 0, 5000));
	EXPECT_LT(0, self->sh->consumed);
}

/*
 * SOCKET_DETACH under flood: from then on the datagrams are the daemon's
 * (they wait on the socket, unanswered); attaching again restores the
 * fast path.
 */
TEST_F_TIMEOUT(gateway_socket, detached_under_flood, 90)
{
	int passed;

	ASSERT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_DETACH,
				self->gw));
	EXPECT_EQ(-ENOENT, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_DETACH,
				      self->gw));
	EXPECT_TRUE(rx_still(&self->nl, 300));
	EXPECT_EQ(0, probe(self->probe, &self->seq, 3, 200));
	/* The flood, and the probes, are queued on the socket now. */
	drain_socket(self->gw);
	sleep_ms(200);
	passed = drain_socket(self->gw);
	EXPECT_LT(0, passed);

	ASSERT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				self->gw));
	EXPECT_TRUE(rx_grows(&self->nl, 2000));
	EXPECT_EQ(1, probe(self->probe, &self->seq, 10, 500))
		log_stats(_metadata, &self->nl, self->sh);
}

/* ---- (c) module unload under traffic: last, it reloads the module --- */

FIXTURE(module_unload) {
	const char *ko;
	struct shared *sh;
	struct coap_nl nl;
	pid_t consumer;
	int gw4, gw6;
	struct floods floods;
};

FIXTURE_SETUP(module_unload)
{
	self->gw4 = self->gw6 = -1;
	floods_init(&self->floods);
	self->ko = getenv("COAP_OFFLOAD_KO");
	if (self->ko && !*self->ko)
		self->ko = NULL;
}

FIXTURE_TEARDOWN(module_unload)
{
	floods_stop(&self->floods);
	stop_child(&self->consumer);
	close(self->gw4);
	close(self->gw6);
	if (self->nl.nl)
		coap_nl_close(&self->nl);
	/* Whatever happened, leave the module loaded for the rest of the run. */
	if (self->ko && access("/sys/module/coap_offload", F_OK))
		shell("insmod '%s'", self->ko);
}

/*
 * rmmod while devices flood two attached sockets (IPv4, IPv6) with sessions
 * present and a consumer registered: the unload succeeds, the sockets are
 * plain UDP sockets again (a datagram sent to one is read with recv()), and
 * after insmod the same socket can be attached again and answers.
 */
TEST_F_TIMEOUT(module_unload, unload_under_flood, 180)
{
	static const char *const ip[2] = { "127.0.0.1", "::1" };
	static const char marker[] = "plain UDP after rmmod";
	struct sockaddr_storage gw[2];
	socklen_t gw_len[2];
	uint64_t seq = SEQ_OFFSET;
	uint8_t buf[1400];
	struct coap_nl tmp;
	int plain, after4, after6;
	ssize_t n;

	if (!self->ko)
		SKIP(return, "COAP_OFFLOAD_KO does not name the module file");
	ASSERT_EQ(0, access(self->ko, R_OK)) {
		TH_LOG("%s: %s", self->ko, strerror(errno));
	}
	self->sh = shared_new();
	ASSERT_NE(NULL, self->sh);
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, lo_up());
	ASSERT_EQ(0, coap_nl_open(&self->nl));
	self->consumer = start_consumer(self->sh);
	ASSERT_LT(0, self->consumer);
	ASSERT_EQ(0, make_addr(AF_INET, ip[0], GW_PORT, &gw[0], &gw_len[0]));
	ASSERT_EQ(0, make_addr(AF_INET6, ip[1], GW_PORT, &gw[1], &gw_len[1]));
	self->gw4 = udp_socket(AF_INET, ip[0], GW_PORT, NULL, 0);
	self->gw6 = udp_socket(AF_INET6, ip[1], GW_PORT, NULL, 0);
	ASSERT_LE(0, self->gw4);
	ASSERT_LE(0, self->gw6);
	ASSERT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				self->gw4));
	ASSERT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				self->gw6));
	ASSERT_EQ(0, push_sessions(&self->nl, 2));
	floods_start(_metadata, &self->floods, ip, gw, gw_len, self->sh,
		     &self->nl, &seq);
	EXPECT_TRUE(flood_answered(self->sh, 0, 5000))
		log_stats(_metadata, &self->nl, self->sh);
	EXPECT_TRUE(flood_answered(self->sh, 1, 5000))
		log_stats(_metadata, &self->nl, self->sh);
	EXPECT_LE(1 + 2 * FLOOD_SESSIONS,
		  stat_get(&self->nl, COAP_OFFLOAD_STAT_SESSIONS));

	/* Our netlink socket is no reason to keep the module. */
	ASSERT_EQ(0, shell("rmmod coap_offload"));
	EXPECT_EQ(-ENOENT, coap_nl_open(&tmp));
	/* The flood goes on into what are plain sockets now. */
	sleep_ms(300);
	stop_child(&self->floods.flooder[0]);
	stop_child(&self->floods.flooder[1]);
	EXPECT_LT(0, self->sh->sent[0]);
	EXPECT_LT(0, self->sh->sent[1]);
	after4 = drain_socket(self->gw4);
	after6 = drain_socket(self->gw6);
	EXPECT_LT(0, after4);
	EXPECT_LT(0, after6);
	TH_LOG("after rmmod: %d and %d datagrams read from the sockets",
	       after4, after6);

	/* A datagram sent to each socket is read with recv(). */
	plain = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, plain);
	ASSERT_EQ(sizeof(marker), sendto(plain, marker, sizeof(marker), 0,
					 (struct sockaddr *)&gw[0], gw_len[0]));
	n = recv_wait(self->gw4, buf, sizeof(buf), 2000);
	EXPECT_EQ(sizeof(marker), n);
	EXPECT_EQ(0, memcmp(buf, marker, sizeof(marker)));
	close(plain);
	plain = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, plain);
	ASSERT_EQ(sizeof(marker), sendto(plain, marker, sizeof(marker), 0,
					 (struct sockaddr *)&gw[1], gw_len[1]));
	n = recv_wait(self->gw6, buf, sizeof(buf), 2000);
	EXPECT_EQ(sizeof(marker), n);
	EXPECT_EQ(0, memcmp(buf, marker, sizeof(marker)));
	close(plain);

	/* Back, for the rest of the run: clean state, same socket attaches. */
	ASSERT_EQ(0, shell("insmod '%s'", self->ko));
	coap_nl_close(&self->nl);
	ASSERT_EQ(0, coap_nl_open(&self->nl));
	EXPECT_EQ(0, stat_get(&self->nl, COAP_OFFLOAD_STAT_SESSIONS));
	ASSERT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_ATTACH,
				self->gw4));
	ASSERT_EQ(0, push_sessions(&self->nl, 0));
	stop_child(&self->consumer);
	self->consumer = start_consumer(self->sh);
	ASSERT_LT(0, self->consumer);
	drain_socket(self->floods.probe[0]);
	seq = SEQ_OFFSET;
	EXPECT_EQ(1, probe(self->floods.probe[0], &seq, 10, 500))
		log_stats(_metadata, &self->nl, self->sh);
	EXPECT_EQ(0, socket_cmd(&self->nl, COAP_OFFLOAD_CMD_SOCKET_DETACH,
				self->gw4));
}

TEST_HARNESS_MAIN
