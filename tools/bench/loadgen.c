// SPDX-License-Identifier: GPL-2.0
/*
 * loadgen: the load generator of the coap-offload benchmark (issue 7).
 *
 * Simulates many devices, each with a real session, sending correctly
 * encrypted publishes (userspace/lib/coap_proto) to a gateway:
 *
 *   loadgen register REGISTRY DEVICES
 *	add the bench devices (benchPK/dev000000...) to a coapd registry
 *   loadgen [OPTIONS] run
 *	give every device a session (--setup), then send publishes and
 *	count the answers; prints key=value lines (tools/bench/run reads
 *	them)
 *
 * Sessions (--setup): "netlink" pushes them straight into coap_offload.ko,
 * many SESSION_NEW in one sendmsg (libmnl batches), and reports the kernel
 * memory they took; "auth" runs /auth for every device against coapd and
 * reports handshakes per second; "plain" has none: plain POSTs without
 * crypto (for a generic CoAP server such as libcoap's coap-server).
 *
 * Every datagram is built before the timed phase, so that what is measured
 * is the gateway and not the generator's crypto. Closed loop (default):
 * keep --window messages in flight, as fast as answers come back. Open loop
 * (--rate R): send R messages per second whatever happens (R = 0: as fast as
 * possible). Devices share --sockets UDP sockets; the CoAP Message ID is
 * unique per socket and the CoAP token carries the message's index.
 *
 * --netns PATH: the netlink socket stays in the starting namespace (the
 * gateway's), the devices' sockets are opened in PATH. --cpu-stat: report
 * the machine's busy CPU time during the timed phase (generator included).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coap_nl.h"
#include "coap_proto.h"
#include "registry.h"

#define BENCH_PK		"benchPK"
#define BATCH			32	/* datagrams per sendmmsg/recvmmsg */
#define NL_BATCH_LIMIT		(64 * 1024)
#define NL_MSG_MAX		512
#define AUTH_TIMEOUT_MS		5000
/* /auth in flight at most: coapd answers them one by one. */
#define AUTH_WINDOW		16
/* No answer at all for this long: what is in flight is lost. */
#define STALL_MS		500

enum setup { SETUP_NETLINK, SETUP_AUTH, SETUP_PLAIN };

static struct {
	const char *server;
	unsigned int port;
	unsigned int devices;
	unsigned int sessions;
	enum setup setup;
	enum coap_cipher cipher;
	unsigned int messages;
	double duration;
	double rate;		/* < 0: closed loop */
	unsigned int window;
	unsigned int sockets;
	const char *netns;
	bool cpu_stat;
	uint64_t seed;
} opt = {
	.server = "127.0.0.1", .port = 5682, .devices = 10000,
	.setup = SETUP_NETLINK, .cipher = COAP_CIPHER_AES_128_CBC,
	.messages = 50000, .duration = 10, .rate = -1, .window = 256,
	.sockets = 64,
};

struct device {
	char token[COAP_OFFLOAD_TOKEN_MAX + 1];
	uint8_t key[COAP_PROTO_KEY_LEN];
	uint64_t seq;			/* the next one to use */
	bool ready;
};

struct sock_queue {
	int fd;
	uint16_t next_mid;
	unsigned int *msg;		/* indices into the message table */
	unsigned int count, next;
};

struct message {
	uint8_t *data;
	uint16_t len;
};

static struct device *devs;
static struct sock_queue *socks;
static struct message *msgs;
static struct sockaddr_in server;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die("calloc");
	return p;
}

/* splitmix64: reproducible per-device material from the run's seed. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void device_name(unsigned int i, char *out, size_t cap)
{
	snprintf(out, cap, "dev%06u", i);
}

/* The device secret the registry holds (register) and /auth signs with. */
static void device_secret(unsigned int i, char out[33])
{
	snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, mix(i * 2 + 1),
		 mix(i * 2 + 2));
}

/* Token and key of a session pushed over netlink (128-bit hex token). */
static void netlink_material(unsigned int i, char token[33],
			     uint8_t key[COAP_PROTO_KEY_LEN])
{
	uint64_t a = mix(opt.seed ^ (2ULL * i)), b = mix(opt.seed ^ (2ULL * i + 1));

	snprintf(token, 33, "%016" PRIx64 "%016" PRIx64, a, b);
	a = mix(a);
	b = mix(b);
	memcpy(key, &a, 8);
	memcpy(key + 8, &b, 8);
}

/* Kernel memory now, in KiB: slab, per-CPU and vmalloc; and free memory. */
static void meminfo(long *kernel_kb, long *free_kb)
{
	char line[256];
	long v;
	FILE *f = fopen("/proc/meminfo", "r");

	*kernel_kb = 0;
	*free_kb = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = '\0';
		v = strtol(colon + 1, NULL, 10);
		if (!strcmp(line, "Slab") || !strcmp(line, "Percpu") ||
		    !strcmp(line, "VmallocUsed"))
			*kernel_kb += v;
		else if (!strcmp(line, "MemFree"))
			*free_kb = v;
	}
	fclose(f);
}

/* Busy and total ticks of all CPUs from /proc/stat. */
static void cpu_ticks(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[10] = { 0 };
	char line[512];
	FILE *f = fopen("/proc/stat", "r");
	int i;

	*busy = *total = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu ", 4))
			continue;
		sscanf(line + 4,
		       "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		       &v[8], &v[9]);
		/* user nice system idle iowait irq softirq steal (guest*: in user) */
		for (i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

/* ---------------------------------------------------------- netlink */

/* A counter's growth between two STATS_GET (0 when one lacked it). */
static uint64_t kdelta(const uint64_t *a, const uint64_t *b, int which)
{
	if (a[which] == COAP_NL_STAT_ABSENT || b[which] == COAP_NL_STAT_ABSENT)
		return 0;
	return b[which] - a[which];
}

/* One SESSION_NEW at buf (NL_MSG_MAX bytes); returns its length. */
static size_t put_session_new(struct coap_nl *nl, void *buf, uint32_t seq,
			      unsigned int i, const char *token,
			      const uint8_t *key)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	struct nlattr *nest;
	char dn[32];

	/* libmnl does not clear attribute padding. */
	memset(buf, 0, NL_MSG_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = nl->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = COAP_OFFLOAD_CMD_SESSION_NEW;
	g->version = COAP_OFFLOAD_GENL_VERSION;
	device_name(i, dn, sizeof(dn));
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, BENCH_PK);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, dn);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_CIPHER,
			 opt.cipher == COAP_CIPHER_AES_128_CTR ?
			 COAP_OFFLOAD_CIPHER_AES_128_CTR :
			 COAP_OFFLOAD_CIPHER_AES_128_CBC);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_KEY, COAP_PROTO_KEY_LEN, key);
	mnl_attr_put_u64(nlh, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET, 1);
	mnl_attr_nest_end(nlh, nest);
	return nlh->nlmsg_len;
}

/* Read want acks; returns how many were errors. */
static unsigned int read_acks(struct coap_nl *nl, unsigned int want)
{
	static char buf[COAP_NL_BUF_SIZE * 4];
	unsigned int got = 0, failed = 0;

	while (got < want) {
		int n = recv(mnl_socket_get_fd(nl->nl), buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0)
			die("netlink recv");
		for (; mnl_nlmsg_ok(h, n); h = mnl_nlmsg_next(h, &n)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			got++;
			if (e->error && !failed++)
				fprintf(stderr, "loadgen: SESSION_NEW: %s\n",
					strerror(-e->error));
		}
	}
	return failed;
}

/*
 * Push opt.sessions sessions in batches of SESSION_NEW messages, one
 * sendmsg each; the first opt.devices are the devices'.
 */
static void setup_netlink(struct coap_nl *nl)
{
	char *buf = xcalloc(1, NL_BATCH_LIMIT + NL_MSG_MAX);
	long k0, f0, k1, f1;
	struct mnl_nlmsg_batch *b;
	unsigned int i, in_batch = 0, failed = 0;
	int rcvbuf = 32 << 20;
	double t0, t;

	setsockopt(mnl_socket_get_fd(nl->nl), SOL_SOCKET, SO_RCVBUFFORCE,
		   &rcvbuf, sizeof(rcvbuf));
	b = mnl_nlmsg_batch_start(buf, NL_BATCH_LIMIT);
	if (!b)
		die("mnl_nlmsg_batch_start");
	meminfo(&k0, &f0);
	t0 = now();
	for (i = 0; i < opt.sessions; i++) {
		char token[33];
		uint8_t key[COAP_PROTO_KEY_LEN];

		netlink_material(i, token, key);
		if (i < opt.devices) {
			memcpy(devs[i].token, token, sizeof(token));
			memcpy(devs[i].key, key, sizeof(key));
			devs[i].seq = 1;
			devs[i].ready = true;
		}
		put_session_new(nl, mnl_nlmsg_batch_current(b), ++nl->seq, i,
				token, key);
		if (mnl_nlmsg_batch_next(b)) {
			in_batch++;
			continue;
		}
		/* Full: the last message waits for the next batch. */
		if (mnl_socket_sendto(nl->nl, mnl_nlmsg_batch_head(b),
				      mnl_nlmsg_batch_size(b)) < 0)
			die("netlink send");
		failed += read_acks(nl, in_batch);
		mnl_nlmsg_batch_reset(b);
		in_batch = 1;
	}
	if (in_batch) {
		if (mnl_socket_sendto(nl->nl, mnl_nlmsg_batch_head(b),
				      mnl_nlmsg_batch_size(b)) < 0)
			die("netlink send");
		failed += read_acks(nl, in_batch);
	}
	t = now() - t0;
	/* Let RCU and the slab settle before reading memory again. */
	usleep(200000);
	meminfo(&k1, &f1);
	mnl_nlmsg_batch_stop(b);
	free(buf);
	printf("sessions_pushed=%u\nsessions_failed=%u\npush_seconds=%.3f\npush_rate=%.0f\n",
	       opt.sessions - failed, failed, t, opt.sessions / t);
	printf("kernel_bytes_per_session=%.0f\nmemfree_bytes_per_session=%.0f\n",
	       (k1 - k0) * 1024.0 / opt.sessions,
	       (f0 - f1) * 1024.0 / opt.sessions);
	if (failed)
		exit(2);
}

/* ------------------------------------------------------------- auth */

static int build_auth(unsigned int i, uint16_t mid, uint8_t *buf, size_t cap)
{
	char dn[32], cid[64], secret[33], content[512], payload[768];
	char sign[COAP_PROTO_SIGN_HEX_MAX + 1];
	const char *cipher = opt.cipher == COAP_CIPHER_AES_128_CTR ?
			     "aes-128-ctr" : "aes-128-cbc";
	uint32_t index = htonl(i);
	struct coap_builder b;

	device_name(i, dn, sizeof(dn));
	device_secret(i, secret);
	snprintf(cid, sizeof(cid), "%s.%s", BENCH_PK, dn);
	const struct coap_proto_field f[] = {
		{ "productKey", BENCH_PK }, { "deviceName", dn },
		{ "clientId", cid }, { "seq", "1" }, { "cipher", cipher },
	};
	if (coap_proto_sign_content(f, 5, content, sizeof(content)) < 0 ||
	    coap_proto_sign_hex("hmacsha256", secret, content, sign,
				sizeof(sign)))
		return -1;
	snprintf(payload, sizeof(payload),
		 "{\"productKey\":\"%s\",\"deviceName\":\"%s\",\"clientId\":\"%s\",\"seq\":\"1\",\"cipher\":\"%s\",\"signmethod\":\"hmacsha256\",\"sign\":\"%s\"}",
		 BENCH_PK, dn, cid, cipher, sign);
	coap_builder_init(&b, buf, cap, COAP_TYPE_CON, COAP_CODE_POST, mid,
			  (const uint8_t *)&index, sizeof(index));
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "auth", 4);
	coap_builder_add_uint_option(&b, COAP_OPT_CONTENT_FORMAT, 50);
	coap_builder_set_payload(&b, payload, strlen(payload));
	return coap_builder_finish(&b);
}

/* The grant of a 2.05: token, random (the key), seqOffset. */
static bool take_grant(unsigned int i, const struct coap_msg *m)
{
	char json[256], random[17], secret[33], tail;
	struct device *d = &devs[i];
	unsigned int seq_offset;

	if (m->code != COAP_CODE_CONTENT || !m->payload ||
	    m->payload_len >= sizeof(json))
		return false;
	memcpy(json, m->payload, m->payload_len);
	json[m->payload_len] = '\0';
	if (sscanf(json, "{\"random\":\"%16[0-9a-f]\",\"seqOffset\":%u,\"token\":\"%64[!#-~]\"%c",
		   random, &seq_offset, d->token, &tail) != 4 || tail != '}')
		return false;
	device_secret(i, secret);
	if (coap_proto_session_key(secret, random, d->key))
		return false;
	d->seq = seq_offset;
	d->ready = true;
	return true;
}

static unsigned int token_index(const struct coap_msg *m)
{
	uint32_t index;

	if (m->token_len != sizeof(index))
		return UINT32_MAX;
	memcpy(&index, m->token, sizeof(index));
	return ntohl(index);
}

/* An epoll instance watching every device socket for answers. */
static int sockets_epoll(void)
{
	int epfd = epoll_create1(0);
	unsigned int s;

	if (epfd < 0)
		die("epoll_create1");
	for (s = 0; s < opt.sockets; s++) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.ptr = &socks[s] };

		if (epoll_ctl(epfd, EPOLL_CTL_ADD, socks[s].fd, &ev))
			die("epoll_ctl");
	}
	return epfd;
}

/*
 * Read every datagram waiting on fd, BATCH per recvmmsg(), handing each to
 * take(); returns how many were read.
 */
static unsigned int drain(int fd, void (*take)(const uint8_t *, size_t, void *),
			  void *arg)
{
	static uint8_t in[BATCH][COAP_MAX_MESSAGE];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	unsigned int got = 0;
	int i, r;

	do {
		for (i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ in[i], sizeof(in[i]) };
			mm[i] = (struct mmsghdr){ .msg_hdr = {
				.msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		r = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT, NULL);
		for (i = 0; i < r; i++)
			take(in[i], mm[i].msg_len, arg);
		got += r > 0 ? r : 0;
	} while (r == BATCH);
	return got;
}

struct auth_progress {
	unsigned int ok, done, in_flight;
	double last_answer;
};

/*
 * The answer (a grant or not) to one of setup_auth()'s devices; a datagram
 * that is none (malformed, unknown token, a duplicate) is ignored.
 */
static void auth_answer(const uint8_t *in, size_t len, void *arg)
{
	struct auth_progress *a = arg;
	struct coap_msg m;
	unsigned int idx;

	if (coap_parse(in, len, &m))
		return;
	idx = token_index(&m);
	if (idx >= opt.devices || devs[idx].ready)
		return;
	a->ok += take_grant(idx, &m);
	a->done++;
	a->in_flight--;
	a->last_answer = now();
}

/*
 * /auth for every device, AUTH_WINDOW at a time (handshakes per second).
 * With the window full it sleeps in epoll_wait() until an answer comes (or
 * the answers are overdue): the generator shares the CPU with the gateway,
 * and a busy poll of every socket took it from the gateway it measures.
 */
static void setup_auth(void)
{
	uint8_t pkt[COAP_MAX_MESSAGE];
	struct auth_progress a = { 0 };
	struct epoll_event ev[64];
	unsigned int next = 0;
	int e, n, epfd = sockets_epoll();
	double t0, t;

	t0 = a.last_answer = now();
	while (a.done < opt.devices) {
		double left;

		while (a.in_flight < AUTH_WINDOW && next < opt.devices) {
			struct sock_queue *q = &socks[next % opt.sockets];
			int len = build_auth(next, q->next_mid++, pkt,
					     sizeof(pkt));

			if (len < 0 || send(q->fd, pkt, len, 0) != len)
				die("auth send");
			next++;
			a.in_flight++;
		}
		/* The window is full (or all sent): wait for answers. */
		left = AUTH_TIMEOUT_MS - (now() - a.last_answer) * 1e3;
		n = left > 0 ? epoll_wait(epfd, ev, 64, (int)left + 1) : 0;
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (e = 0; e < n; e++)
			drain(((struct sock_queue *)ev[e].data.ptr)->fd,
			      auth_answer, &a);
		if (a.in_flight &&
		    now() - a.last_answer > AUTH_TIMEOUT_MS / 1e3) {
			/* Lost: those devices stay without a session. */
			a.done += a.in_flight;
			a.in_flight = 0;
			a.last_answer = now();
		}
	}
	close(epfd);
	t = now() - t0;
	printf("auth_ok=%u\nauth_failed=%u\nauth_seconds=%.3f\nauth_rate=%.0f\n",
	       a.ok, opt.devices - a.ok, t, a.ok / t);
}

/* -------------------------------------------------------- messages */

/* Build every datagram now: publishes round-robin over the devices. */
static void build_messages(void)
{
	static const char body[] = "{\"temp\":21.5,\"hum\":40,\"bat\":87}";
	/* A socket serves at most this many devices, each this many messages. */
	unsigned int j, s, per_socket =
		((opt.devices + opt.sockets - 1) / opt.sockets) *
		((opt.messages + opt.devices - 1) / opt.devices);
	uint8_t pkt[COAP_MAX_MESSAGE];
	char topic[96], dn[32];

	msgs = xcalloc(opt.messages, sizeof(*msgs));
	for (s = 0; s < opt.sockets; s++)
		socks[s].msg = xcalloc(per_socket, sizeof(unsigned int));
	for (j = 0; j < opt.messages; j++) {
		unsigned int i = j % opt.devices;
		struct device *d = &devs[i];
		uint32_t index = htonl(j);
		int len;

		device_name(i, dn, sizeof(dn));
		if (opt.setup == SETUP_PLAIN) {
			struct coap_builder b;

			snprintf(topic, sizeof(topic), "topic/%s/%s/user/update",
				 BENCH_PK, dn);
			coap_builder_init(&b, pkt, sizeof(pkt), COAP_TYPE_CON,
					  COAP_CODE_POST, 0,
					  (const uint8_t *)&index,
					  sizeof(index));
			/* One Uri-Path option per segment. */
			for (char *seg = strtok(topic, "/"); seg;
			     seg = strtok(NULL, "/"))
				coap_builder_add_option(&b, COAP_OPT_URI_PATH,
							seg, strlen(seg));
			coap_builder_set_payload(&b, body, sizeof(body) - 1);
			len = coap_builder_finish(&b);
		} else {
			struct coap_proto_publish p = {
				.type = COAP_TYPE_CON,
				.coap_token = (const uint8_t *)&index,
				.coap_token_len = sizeof(index),
				.topic = topic,
				.auth_token = d->token,
				.cipher = opt.cipher,
				.key = d->key,
				.seq = d->seq++,
				.payload = (const uint8_t *)body,
				.payload_len = sizeof(body) - 1,
			};

			snprintf(topic, sizeof(topic), "/%s/%s/user/update",
				 BENCH_PK, dn);
			len = d->ready ?
			      coap_proto_build_publish(&p, pkt, sizeof(pkt)) :
			      -1;
		}
		if (len < 0) {
			/* A device whose /auth failed still sends, untokened. */
			len = 4;
			memcpy(pkt, "\x40\x02\x00\x00", 4);
		}
		msgs[j].data = malloc(len);
		if (!msgs[j].data)
			die("malloc");
		memcpy(msgs[j].data, pkt, len);
		msgs[j].len = len;
		s = i % opt.sockets;
		socks[s].msg[socks[s].count++] = j;
	}
}

struct counts {
	unsigned long long sent, answers, ok, other;
};

/* One answer of the timed phase, into the struct counts at arg. */
static void count_answer(const uint8_t *buf, size_t len, void *arg)
{
	struct counts *c = arg;
	struct coap_msg m;

	c->answers++;
	if (coap_parse(buf, len, &m) || m.type != COAP_TYPE_ACK) {
		c->other++;
		return;
	}
	/* Publishes want 2.05; plain POSTs any success (2.01 or 2.04). */
	if (opt.setup == SETUP_PLAIN ? (m.code >> 5) == 2 :
	    m.code == COAP_CODE_CONTENT)
		c->ok++;
	else
		c->other++;
}

/* Send up to max of socket s's next messages; returns how many went. */
static unsigned int send_batch(struct sock_queue *q, unsigned int max)
{
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	unsigned int n = 0;
	int sent;

	while (n < max && n < BATCH && q->next + n < q->count) {
		struct message *m = &msgs[q->msg[q->next + n]];
		uint16_t mid = htons(q->next_mid++);

		/* The Message ID is not encrypted: set per socket here. */
		memcpy(m->data + 2, &mid, 2);
		iov[n] = (struct iovec){ m->data, m->len };
		mm[n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[n],
						       .msg_iovlen = 1 } };
		n++;
	}
	if (!n)
		return 0;
	sent = sendmmsg(q->fd, mm, n, 0);
	if (sent < 0) {
		if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED)
			sent = 0;
		else
			die("sendmmsg");
	}
	q->next_mid -= n - sent;
	q->next += sent;
	return sent;
}

static unsigned int receive(int epfd, struct counts *c, int timeout_ms)
{
	struct epoll_event ev[64];
	unsigned int got = 0;
	int n, e;

	n = epoll_wait(epfd, ev, 64, timeout_ms);
	for (e = 0; e < n; e++)
		got += drain(((struct sock_queue *)ev[e].data.ptr)->fd,
			     count_answer, c);
	return got;
}

static void traffic(struct coap_nl *nl)
{
	unsigned long long busy0, total0, busy1, total1;
	unsigned int s = 0, idle_rounds, in_flight = 0;
	uint64_t k0[COAP_OFFLOAD_STAT_MAX + 1], k1[COAP_OFFLOAD_STAT_MAX + 1];
	struct counts c = { 0 };
	double t0, t, last_answer, last_activity;
	bool have_k;
	int epfd = sockets_epoll();

	have_k = nl && !coap_nl_stats_get(nl, k0);
	/* For whoever watches (a profiler): the timed phase starts. */
	printf("traffic=started\n");
	fflush(stdout);
	cpu_ticks(&busy0, &total0);
	t0 = last_answer = last_activity = now();
	s = 0;
	for (;;) {
		double elapsed = now() - t0;
		unsigned int budget, got;

		if (elapsed >= opt.duration)
			break;
		if (opt.rate < 0) {
			budget = opt.window > in_flight ? opt.window - in_flight : 0;
		} else if (opt.rate == 0) {
			budget = BATCH * opt.sockets;
		} else {
			double due = opt.rate * elapsed - c.sent;

			budget = due > 0 ? (unsigned int)due : 0;
		}
		/* Round robin over the sockets that still have messages. */
		for (idle_rounds = 0; budget && idle_rounds < opt.sockets;
		     s = (s + 1) % opt.sockets) {
			unsigned int n = send_batch(&socks[s], budget);

			idle_rounds = n ? 0 : idle_rounds + 1;
			if (n)
				last_activity = now();
			budget -= n;
			c.sent += n;
			in_flight += n;
		}
		if (c.sent == opt.messages && !in_flight)
			break;
		got = receive(epfd, &c, opt.rate < 0 && in_flight >= opt.window ?
			      STALL_MS : 0);
		in_flight -= got < in_flight ? got : in_flight;
		if (got) {
			last_answer = last_activity = now();
		} else if (opt.rate < 0 && now() - last_answer > STALL_MS / 1e3) {
			/* Closed loop: what got no answer is lost. */
			in_flight = 0;
			last_answer = now();
		}
		if (c.sent == opt.messages && opt.rate >= 0 &&
		    now() - last_answer > STALL_MS / 1e3)
			break;
	}
	cpu_ticks(&busy1, &total1);
	/* The clock stops at the last datagram sent or answered. */
	t = last_activity - t0;
	printf("sent=%llu\nanswers=%llu\nok=%llu\nother=%llu\nlost_or_late=%llu\nseconds=%.3f\n",
	       c.sent, c.answers, c.ok, c.other, c.sent - c.answers, t);
	printf("sent_rate=%.0f\nok_rate=%.0f\n", c.sent / t, c.ok / t);
	if (opt.cpu_stat && total1 > total0)
		printf("cpu_busy=%.3f\ncpu_busy_seconds=%.3f\n",
		       (double)(busy1 - busy0) / (total1 - total0),
		       (double)(busy1 - busy0) / sysconf(_SC_CLK_TCK));
	if (have_k && !coap_nl_stats_get(nl, k1))
		printf("kernel_rx=%" PRIu64 "\nkernel_delivered=%" PRIu64
		       "\nkernel_passed=%" PRIu64 "\nkernel_no_consumer=%" PRIu64
		       "\nkernel_debug_dropped=%" PRIu64 "\n",
		       kdelta(k0, k1, COAP_OFFLOAD_STAT_RX),
		       kdelta(k0, k1, COAP_OFFLOAD_STAT_DELIVERED),
		       kdelta(k0, k1, COAP_OFFLOAD_STAT_PASSED),
		       kdelta(k0, k1, COAP_OFFLOAD_STAT_NO_CONSUMER),
		       kdelta(k0, k1, COAP_OFFLOAD_STAT_DEBUG_DROPPED));
	close(epfd);
}

/* -------------------------------------------------------------- main */

static void open_sockets(void)
{
	unsigned int s;
	int bufsize = 4 << 20;

	if (opt.netns) {
		int fd = open(opt.netns, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || setns(fd, CLONE_NEWNET))
			die(opt.netns);
		close(fd);
	}
	server = (struct sockaddr_in){ .sin_family = AF_INET,
				       .sin_port = htons(opt.port) };
	if (inet_pton(AF_INET, opt.server, &server.sin_addr) != 1) {
		fprintf(stderr, "loadgen: bad --server address '%s'\n",
			opt.server);
		exit(1);
	}
	socks = xcalloc(opt.sockets, sizeof(*socks));
	for (s = 0; s < opt.sockets; s++) {
		socks[s].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (socks[s].fd < 0)
			die("socket");
		setsockopt(socks[s].fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize,
			   sizeof(bufsize));
		if (connect(socks[s].fd, (struct sockaddr *)&server,
			    sizeof(server)))
			die("connect");
		socks[s].next_mid = (uint16_t)mix(opt.seed + s);
	}
}

static int do_register(int argc, char **argv)
{
	struct coap_registry *r;
	char errmsg[256] = "", dn[32], secret[33];
	unsigned int i, n;
	int err = 0;

	if (argc != 3 || !(n = strtoul(argv[2], NULL, 10))) {
		fprintf(stderr, "usage: loadgen register REGISTRY DEVICES\n");
		return 1;
	}
	r = coap_registry_open(argv[1], true, &err, errmsg, sizeof(errmsg));
	if (!r) {
		fprintf(stderr, "loadgen: %s\n", errmsg[0] ? errmsg : strerror(-err));
		return 2;
	}
	for (i = 0; i < n && !err; i++) {
		device_name(i, dn, sizeof(dn));
		device_secret(i, secret);
		err = coap_registry_add(r, BENCH_PK, dn, secret);
		if (err == -EEXIST)
			err = 0;
	}
	coap_registry_close(r);
	if (err) {
		fprintf(stderr, "loadgen: registry: %s\n", strerror(-err));
		return 2;
	}
	printf("registered=%u\n", n);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: loadgen register REGISTRY DEVICES\n"
"       loadgen [OPTIONS] run\n"
"  -s, --server ADDR     gateway IPv4 address (default 127.0.0.1)\n"
"  -p, --port PORT       gateway port (default 5682)\n"
"  -d, --devices N       simulated devices (default 10000)\n"
"      --sessions N      netlink: sessions pushed, >= devices (default devices)\n"
"      --setup HOW       netlink | auth | plain (default netlink)\n"
"      --cipher S        aes-128-cbc | aes-128-ctr (default aes-128-cbc)\n"
"  -n, --messages N      datagrams built before the timed phase (default 50000)\n"
"  -t, --duration S      longest timed phase, seconds (default 10)\n"
"      --rate R          open loop at R messages/s (0: as fast as possible)\n"
"  -w, --window W        closed loop (default): W messages in flight (256)\n"
"      --sockets N       device-side UDP sockets (default 64)\n"
"      --netns PATH      open the device sockets in this network namespace\n"
"      --cpu-stat        report the machine's busy CPU time in the timed phase\n"
"      --no-traffic      only set the sessions up\n");
}

static unsigned long number(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end) {
		fprintf(stderr, "loadgen: %s: not a number: '%s'\n", what, s);
		exit(1);
	}
	return v;
}

int main(int argc, char **argv)
{
	enum { O_SESSIONS = 256, O_SETUP, O_CIPHER, O_RATE, O_SOCKETS,
	       O_NETNS, O_CPU, O_NO_TRAFFIC };
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "devices", required_argument, NULL, 'd' },
		{ "sessions", required_argument, NULL, O_SESSIONS },
		{ "setup", required_argument, NULL, O_SETUP },
		{ "cipher", required_argument, NULL, O_CIPHER },
		{ "messages", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, O_RATE },
		{ "window", required_argument, NULL, 'w' },
		{ "sockets", required_argument, NULL, O_SOCKETS },
		{ "netns", required_argument, NULL, O_NETNS },
		{ "cpu-stat", no_argument, NULL, O_CPU },
		{ "no-traffic", no_argument, NULL, O_NO_TRAFFIC },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rlimit nofile = { 65536, 65536 };
	struct coap_nl nl, *nlp = NULL;
	bool no_traffic = false;
	int o, err;

	if (argc > 1 && !strcmp(argv[1], "register"))
		return do_register(argc - 1, argv + 1);
	while ((o = getopt_long(argc, argv, "s:p:d:n:t:w:h", longopts,
				NULL)) != -1) {
		switch (o) {
		case 's': opt.server = optarg; break;
		case 'p': opt.port = number(optarg, "port"); break;
		case 'd': opt.devices = number(optarg, "devices"); break;
		case O_SESSIONS: opt.sessions = number(optarg, "sessions"); break;
		case O_SETUP:
			if (!strcmp(optarg, "netlink"))
				opt.setup = SETUP_NETLINK;
			else if (!strcmp(optarg, "auth"))
				opt.setup = SETUP_AUTH;
			else if (!strcmp(optarg, "plain"))
				opt.setup = SETUP_PLAIN;
			else
				goto bad;
			break;
		case O_CIPHER:
			if (coap_proto_cipher_parse(optarg, &opt.cipher))
				goto bad;
			break;
		case 'n': opt.messages = number(optarg, "messages"); break;
		case 't': opt.duration = number(optarg, "duration"); break;
		case O_RATE: opt.rate = number(optarg, "rate"); break;
		case 'w': opt.window = number(optarg, "window"); break;
		case O_SOCKETS: opt.sockets = number(optarg, "sockets"); break;
		case O_NETNS: opt.netns = optarg; break;
		case O_CPU: opt.cpu_stat = true; break;
		case O_NO_TRAFFIC: no_traffic = true; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (optind != argc - 1 || strcmp(argv[optind], "run") ||
	    !opt.devices || !opt.messages || !opt.window || !opt.sockets ||
	    opt.sockets > opt.devices || opt.devices > UINT32_MAX / 4)
		goto bad;
	if (opt.sessions < opt.devices)
		opt.sessions = opt.devices;
	setrlimit(RLIMIT_NOFILE, &nofile);
	opt.seed = mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	devs = xcalloc(opt.devices, sizeof(*devs));

	/* The kernel's counters and sessions live in the gateway's namespace. */
	err = coap_nl_open(&nl);
	if (!err)
		nlp = &nl;
	else if (opt.setup == SETUP_NETLINK) {
		fprintf(stderr, "loadgen: coap_offload not loaded: %s\n",
			strerror(-err));
		return 2;
	}
	open_sockets();
	if (opt.setup == SETUP_NETLINK)
		setup_netlink(nlp);
	else if (opt.setup == SETUP_AUTH)
		setup_auth();
	fflush(stdout);
	if (!no_traffic) {
		build_messages();
		traffic(nlp);
	}
	if (nlp)
		coap_nl_close(nlp);
	return 0;

bad:
	usage(stderr);
	return 1;
}
