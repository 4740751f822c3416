// SPDX-License-Identifier: GPL-2.0
/*
 * The consumer and the sinks. Every COAP_OFFLOAD_CMD_MESSAGE the module
 * queues is parsed once (struct coapd_message) and offered to each
 * configured sink:
 *   - JSON lines on stdout or a file (jsonline.c), gathered for a batch
 *     of the module's messages and written by one write(2) of whole
 *     lines before the batch is confirmed, so that concurrent readers
 *     (tail -f, a log shipper) never see half a line; a message coapd
 *     answers itself (--no-offload, DTLS) is written before its answer;
 *   - MQTT (sink_mqtt.c), through an on-disk spool; a message is offered
 *     to it only once its JSON line is written (so with MQTT, lines are
 *     written one by one), and so is ackMode 1's separate 2.05.
 * The module packs several messages into each datagram (coapd registers
 * with COAP_OFFLOAD_A_CONSUMER_BATCH); they are offered one by one.
 * The device already has its 2.05 when we read the message, so a sink that
 * cannot take it now must not lose it: the message is held here, the rest
 * of its datagram waits behind it, and the consumer socket is not read
 * until every sink took them. The module holds
 * what it delivered until we confirm it (COAP_OFFLOAD_A_CONSUMER_CONFIRM),
 * up to its bound; past that it does not answer, and devices retransmit
 * (README, "Sinks"). We confirm a message once every sink took it, so a
 * coapd that dies loses nothing: the module sends the unconfirmed messages
 * to the next one. Those may include messages a sink took just before the
 * death: the JSON file sink knows the last id it wrote and skips them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "coapd.h"
#include "jsonline.h"
#include "msgparse.h"

/* Stop draining after this many datagrams to let the UDP sockets run too. */
#define CONSUMER_BUDGET		64

enum {
	SINK_JSON = 1 << 0,
	SINK_MQTT = 1 << 1,
};

/* A JSON sink that failed is tried again after this long. */
#define JSON_RETRY_MS		1000
/* How far back from its end the JSON file is searched for the last id. */
#define JSON_TAIL_MAX		(64 * 1024)
/* Lines gathered past this are written without waiting for the batch end. */
#define JSON_BUF_FLUSH		(64 * 1024)

struct coapd_sinks {
	unsigned int enabled;		/* SINK_* */
	int json_fd;
	struct mqtt_sink *mqtt;
	/*
	 * The message not yet taken by every sink: a copy of it (its strings,
	 * payload and peer in held_buf), the sinks that took it, and how much
	 * of its JSON line is written (a short write is completed, not
	 * repeated).
	 */
	bool held;
	char *held_buf;
	struct coapd_message held_msg;
	unsigned int held_taken;
	/*
	 * The datagram read last from the consumer socket (the module packs
	 * several messages into one, COAP_OFFLOAD_A_CONSUMER_BATCH): rx_len
	 * bytes, of which those from rx_off on are not offered yet. They
	 * wait behind a held message, and are offered before the socket is
	 * read again, so that nothing is lost or reordered.
	 */
	char *rx;
	size_t rx_len, rx_off;
	/*
	 * Lines taken by the JSON sink and not written yet: json_len bytes
	 * in json_buf, json_off of them written (a short write is completed,
	 * not repeated); json_buf_id: the module's last message id among
	 * them, or 0.
	 */
	char *json_buf;
	size_t json_len, json_cap, json_off;
	uint64_t json_buf_id;
	bool json_failing;
	struct timespec json_retry;
	/* The module's last message id in the JSON file: its ids rise in
	 * delivery order, so a redelivered one up to it is there already.
	 */
	uint64_t json_last_id;
	/* Every sink took the messages up to this id (the JSON sink may
	 * still have them in json_buf); the module knows up to confirmed.
	 */
	uint64_t taken_id, confirmed_id;
};

/* Is the failed JSON file due for another try? */
static bool json_retry_due(const struct coapd_sinks *k)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > k->json_retry.tv_sec ||
	       (now.tv_sec == k->json_retry.tv_sec &&
		now.tv_nsec >= k->json_retry.tv_nsec);
}

/*
 * Write the gathered lines (from json_off), then fsync with --fsync: 0 when
 * the buffer is empty; -EAGAIN when the file failed (or failed less than
 * JSON_RETRY_MS ago, unless now): the rest is written later. With --fsync,
 * a failed fsync writes all of them again: a reader may see lines twice,
 * but none is lost (after an fsync error the kernel may already have
 * dropped the dirty pages).
 */
static int json_flush(struct coapd *d, bool now)
{
	struct coapd_sinks *k = d->sinks;
	ssize_t n;
	int err = 0;

	if (!k->json_len)
		return 0;
	if (k->json_failing && !now && !json_retry_due(k))
		return -EAGAIN;
	while (k->json_off < k->json_len) {
		n = write(k->json_fd, k->json_buf + k->json_off,
			  k->json_len - k->json_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : ENOSPC;
			break;
		}
		k->json_off += n;
	}
	if (!err && d->cfg.fsync && fsync(k->json_fd) && errno != EINVAL) {
		err = errno;
		k->json_off = 0;
	}
	if (err) {
		if (!k->json_failing)
			coapd_log(LOG_ERR, "sink: %s: %s; holding messages until it works again",
				  d->cfg.sink_path ? d->cfg.sink_path : "stdout",
				  strerror(err));
		k->json_failing = true;
		clock_gettime(CLOCK_MONOTONIC, &k->json_retry);
		k->json_retry.tv_sec += JSON_RETRY_MS / 1000;
		return -EAGAIN;
	}
	if (k->json_failing)
		coapd_log(LOG_NOTICE, "sink: %s works again",
			  d->cfg.sink_path ? d->cfg.sink_path : "stdout");
	k->json_failing = false;
	if (k->json_buf_id)
		k->json_last_id = k->json_buf_id;
	k->json_buf_id = 0;
	k->json_len = 0;
	k->json_off = 0;
	return 0;
}

/*
 * Add the message's line to the lines to write: 0, or -EAGAIN (out of
 * memory). Written by json_flush(): at the latest before the batch is
 * confirmed.
 */
static int json_accept(struct coapd *d, const struct coapd_message *m)
{
	struct coapd_sinks *k = d->sinks;
	char addr[COAPD_ADDR_LEN];
	struct coapd_json_fields f = {
		.id = m->id, .product_key = m->product_key,
		.device_name = m->device_name, .topic = m->topic,
		.payload = m->payload_len ? m->payload : (const uint8_t *)"",
		.payload_len = m->payload_len,
		.time = m->time, .has_seq = m->has_seq, .seq = m->seq,
	};
	size_t need;

	if (m->peer_len) {
		f.peer = coapd_json_peer4(m->peer, m->peer_len, addr);
		if (!f.peer)
			f.peer = coapd_addr_str(m->peer, m->peer_len, addr);
	}

	if (m->redelivered &&
	    (m->id <= k->json_last_id || m->id <= k->json_buf_id)) {
		/* Sent again by the module after a restart: it is there. */
		coapd_log(LOG_DEBUG, "sink: message %llu is in the file already",
			  (unsigned long long)m->id);
		return 0;
	}
	need = coapd_json_line_max(&f);
	if (k->json_len + need > k->json_cap) {
		size_t cap = k->json_cap ? 2 * k->json_cap : JSON_BUF_FLUSH;
		char *buf;

		while (cap < k->json_len + need)
			cap *= 2;
		buf = realloc(k->json_buf, cap);
		if (!buf) {
			coapd_log(LOG_ERR, "sink: out of memory");
			return -EAGAIN;
		}
		k->json_buf = buf;
		k->json_cap = cap;
	}
	k->json_len += coapd_json_line(&f, k->json_buf + k->json_len);
	if (m->from_module)
		k->json_buf_id = m->id;
	return 0;
}

/*
 * All sinks accepted message m: the one place that may tell the device it
 * is delivered (ackMode 1's separate 2.05 goes here).
 */
static void delivered(struct coapd *d, const struct coapd_message *m)
{
	/* Only the module's messages are confirmed (DTLS and no-offload
	 * ones have ids of their own).
	 */
	if (m->from_module)
		d->sinks->taken_id = m->id;
	coapd_log(LOG_DEBUG, "delivered message %llu (%s)",
		  (unsigned long long)m->id, m->topic);
	/*
	 * ackMode 1: the device has only an empty ACK; now it gets the result.
	 * Also for a redelivered message the JSON sink skipped as written
	 * already: the coapd that wrote it died before confirming it, maybe
	 * before its separate 2.05 went out or was ACKed, and the device's
	 * retransmissions get only the module's empty ACK, so this is its last
	 * chance. A second 2.05 for an exchange the device closed already is
	 * harmless: it matches no open request and is rejected with an RST
	 * (RFC 7252 4.2, 5.3.2), which ends our retransmissions.
	 */
	coapd_separate_response(d, m);
}

/* Offer m to the sinks that have not taken it; true when all have. */
/*
 * The id of the file's last line, into json_last_id; a line torn by a crash
 * is ended, so that the next one starts on its own. 0 or -1 (logged).
 */
static int json_tail(struct coapd *d)
{
	struct coapd_sinks *k = d->sinks;
	struct json_object *o, *id;
	char buf[JSON_TAIL_MAX + 1];
	char *end, *line;
	struct stat st;
	ssize_t n;
	off_t off;

	if (fstat(k->json_fd, &st)) {
		coapd_log(LOG_ERR, "sink %s: %s", d->cfg.sink_path,
			  strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || !st.st_size)
		return 0;
	off = st.st_size > JSON_TAIL_MAX ? st.st_size - JSON_TAIL_MAX : 0;
	n = pread(k->json_fd, buf, st.st_size - off, off);
	if (n != st.st_size - off) {
		coapd_log(LOG_ERR, "sink %s: read: %s", d->cfg.sink_path,
			  n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	buf[n] = '\0';
	if (buf[n - 1] != '\n') {
		coapd_log(LOG_WARNING, "sink %s: the last line is incomplete (a crash?): ended there",
			  d->cfg.sink_path);
		if (write(k->json_fd, "\n", 1) != 1) {
			coapd_log(LOG_ERR, "sink %s: %s", d->cfg.sink_path,
				  strerror(errno));
			return -1;
		}
	}
	end = strrchr(buf, '\n');
	/* The last complete line: after the newline before it. */
	while (end) {
		*end = '\0';
		line = strrchr(buf, '\n');
		line = line ? line + 1 : buf;
		o = json_tokener_parse(line);
		/* The module's ids, not DTLS mode's (top bit set). */
		if (o && json_object_object_get_ex(o, "id", &id) &&
		    json_object_is_type(id, json_type_int) &&
		    !(json_object_get_uint64(id) >> 63)) {
			k->json_last_id = json_object_get_uint64(id);
			json_object_put(o);
			return 0;
		}
		json_object_put(o);
		end = line > buf ? line - 1 : NULL;
	}
	return 0;
}

static bool offer(struct coapd *d, const struct coapd_message *m,
		  unsigned int *taken)
{
	struct coapd_sinks *k = d->sinks;
	int err;

	if ((k->enabled & SINK_JSON) && !(*taken & SINK_JSON)) {
		/* A failed file takes nothing until what it has is written. */
		if (k->json_failing && json_flush(d, false))
			return false;
		if (json_accept(d, m))
			return false;
		*taken |= SINK_JSON;
		if (k->json_len >= JSON_BUF_FLUSH)
			json_flush(d, false);
	}
	if ((k->enabled & SINK_MQTT) && !(*taken & SINK_MQTT)) {
		/*
		 * MQTT gets a message only once its line is written: a coapd
		 * that dies before gets it again from the module, and must
		 * not publish it twice. (So lines are gathered for a batch
		 * only when the file is the only sink.)
		 */
		if (json_flush(d, false))
			return false;
		err = mqtt_sink_accept(k->mqtt, m);
		if (err == -EAGAIN)
			return false;
		/* Any other error: it can never be an MQTT message (logged). */
		*taken |= SINK_MQTT;
	}
	/*
	 * ackMode 1's separate 2.05 (delivered()) tells the device its message
	 * is stored: its line must be written (and synced with --fsync), not
	 * only gathered.
	 */
	if (m->separate && json_flush(d, false))
		return false;
	return *taken == k->enabled;
}

/* Keep a copy of m until every sink took it; taken: those that did. */
static int hold(struct coapd *d, const struct coapd_message *m,
		unsigned int taken)
{
	size_t pk = strlen(m->product_key) + 1, dn = strlen(m->device_name) + 1;
	size_t topic = strlen(m->topic) + 1;
	struct coapd_sinks *k = d->sinks;
	char *p;

	p = malloc(pk + dn + topic + m->payload_len + m->peer_len +
		   m->coap_token_len + m->local_len);
	if (!p)
		return -ENOMEM;
	k->held_buf = p;
	k->held_msg = *m;
	k->held_msg.product_key = memcpy(p, m->product_key, pk);
	p += pk;
	k->held_msg.device_name = memcpy(p, m->device_name, dn);
	p += dn;
	k->held_msg.topic = memcpy(p, m->topic, topic);
	p += topic;
	if (m->payload_len)
		k->held_msg.payload = memcpy(p, m->payload, m->payload_len);
	p += m->payload_len;
	if (m->peer_len)
		k->held_msg.peer = memcpy(p, m->peer, m->peer_len);
	p += m->peer_len;
	if (m->coap_token_len)
		k->held_msg.coap_token = memcpy(p, m->coap_token,
						m->coap_token_len);
	p += m->coap_token_len;
	if (m->local_len)
		k->held_msg.local = memcpy(p, m->local, m->local_len);
	/* Taken by persist.c already; not kept pointing into the batch. */
	k->held_msg.token = NULL;
	k->held_msg.token_len = 0;
	k->held_taken = taken;
	k->held = true;
	coapd_log(LOG_DEBUG, "holding message %llu: a sink cannot take it now, %zu bytes of its datagram behind it",
		  (unsigned long long)m->id, k->rx_len - k->rx_off);
	return 0;
}

/* Offer the held message again; true when it is delivered now. */
static bool retry_held(struct coapd *d)
{
	struct coapd_sinks *k = d->sinks;

	if (!offer(d, &k->held_msg, &k->held_taken))
		return false;
	delivered(d, &k->held_msg);
	free(k->held_buf);
	k->held_buf = NULL;
	k->held = false;
	return true;
}

/*
 * A netlink control message on the consumer socket: what mnl_cb_run() did
 * with it before (an error is logged unless ENOENT; the rest is ignored).
 */
static void consumer_control(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	int err;

	if (nlh->nlmsg_type != NLMSG_ERROR)
		return;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		err = EBADMSG;
	else
		err = e->error < 0 ? -e->error : e->error;
	if (err && err != ENOENT)
		coapd_log(LOG_WARNING, "consumer: %s", strerror(err));
}

/* One netlink message of the datagram (len bytes readable at nlh). */
static void consume_message(struct coapd *d, const struct nlmsghdr *nlh,
			    size_t len)
{
	struct coapd_message m;
	unsigned int taken = 0;
	int err;

	/* mnl_cb_run()'s order: an interrupted dump, then control messages. */
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
		coapd_log(LOG_WARNING, "consumer: %s", strerror(EINTR));
		return;
	}
	if (nlh->nlmsg_type < NLMSG_MIN_TYPE) {
		consumer_control(nlh);
		return;
	}
	err = coapd_message_parse(nlh, len, &m);
	if (err == -ENOMSG)
		return;
	if (err) {
		coapd_log(LOG_ERR, "consumer: a message without its attributes: dropped");
		/* One bad message must not stop the others in the same batch. */
		return;
	}
	/* Its session's seq, persisted with the next tick. */
	coapd_persist_delivered(d, m.token, m.token_len, m.seq);
	if (offer(d, &m, &taken)) {
		delivered(d, &m);
		return;
	}
	/* The device has its 2.05: out of memory here loses it (logged). */
	if (hold(d, &m, taken))
		coapd_log(LOG_ERR, "consumer: out of memory: message %llu lost",
			  (unsigned long long)m.id);
}

int coapd_sink_deliver(struct coapd *d, const struct coapd_message *m)
{
	struct coapd_sinks *k = d->sinks;
	unsigned int taken = 0;
	bool all;

	/* Not answered, the device retransmits: nothing is lost or doubled. */
	if (k->held)
		return -EAGAIN;
	/*
	 * The device is answered when this returns 0: its line must be
	 * written by then, and the lines gathered before it first.
	 */
	if (json_flush(d, false))
		return -EAGAIN;
	all = offer(d, m, &taken);
	if ((taken & SINK_JSON) && json_flush(d, false) && !k->json_off) {
		/* Not a byte of it written: the file did not take it. */
		k->json_len = 0;
		taken &= ~SINK_JSON;
		all = false;
	}
	if (all) {
		delivered(d, m);
		return 0;
	}
	if (!taken)
		return -EAGAIN;
	/* Some sinks have it: the others get it from the copy. */
	if (hold(d, m, taken)) {
		coapd_log(LOG_ERR, "sink: out of memory: message %llu not taken by every sink",
			  (unsigned long long)m->id);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Offer the messages of the last datagram, from rx_off on, one by one,
 * until a sink cannot take one (it is held): the rest waits in rx.
 */
static void consume_datagram(struct coapd *d)
{
	struct coapd_sinks *k = d->sinks;
	const struct nlmsghdr *nlh;
	size_t left, len;

	while (!k->held && k->rx_off < k->rx_len) {
		nlh = (const struct nlmsghdr *)(k->rx + k->rx_off);
		left = k->rx_len - k->rx_off;
		/* mnl_nlmsg_ok(), without a library call per message. */
		if (left < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) ||
		    nlh->nlmsg_len > left) {
			coapd_log(LOG_WARNING, "consumer: %zu bytes that are no netlink message: dropped",
				  left);
			break;
		}
		len = NLMSG_ALIGN(nlh->nlmsg_len);
		if (len > left)
			len = left;
		/* Past it before it is offered: a held one is copied. */
		k->rx_off += len;
		consume_message(d, nlh, nlh->nlmsg_len);
	}
	if (!k->held)
		k->rx_len = k->rx_off = 0;
}

/*
 * The held message, then the rest of its datagram: true when every sink
 * took them all, and the socket may be read again.
 */
static bool resume(struct coapd *d)
{
	struct coapd_sinks *k = d->sinks;

	if (k->held && !retry_held(d))
		return false;
	consume_datagram(d);
	return !k->held;
}

/* Read and deliver one datagram's messages: 1, 0 when there is none (or
 * one is held and still not taken), or a negative errno when the socket
 * failed.
 */
static int consume_one(struct coapd *d)
{
	struct coapd_sinks *k = d->sinks;
	int n;

	/* None is read while one waits: they stay in order. */
	if (!resume(d))
		return 0;
	n = mnl_socket_recvfrom(d->consumer.nl, k->rx, COAPD_CONSUMER_BATCH);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		coapd_log(LOG_ERR, "consumer: recv: %s", strerror(errno));
		return -errno;
	}
	k->rx_len = n;
	k->rx_off = 0;
	consume_datagram(d);
	return 1;
}

/*
 * Write the batch's lines, then tell the module what every sink took: it
 * lets go of those messages and sends more. Once per batch, not per
 * message. Nothing is confirmed while lines wait to be written: a coapd
 * that dies then gets them again, and the file has none of them twice.
 */
static void confirm(struct coapd *d)
{
	struct coapd_sinks *k = d->sinks;
	int err;

	if (json_flush(d, false))
		return;
	if (k->taken_id == k->confirmed_id)
		return;
	err = coap_nl_message_confirm(&d->nl, k->taken_id);
	if (err) {
		/* The module keeps them; the next confirmation covers them. */
		coapd_log(LOG_WARNING, "consumer: confirm: %s", strerror(-err));
		return;
	}
	k->confirmed_id = k->taken_id;
}

int coapd_consumer_input(struct coapd *d)
{
	int i, n = 0;

	for (i = 0; i < CONSUMER_BUDGET; i++) {
		n = consume_one(d);
		if (n <= 0)
			break;
	}
	confirm(d);
	return n < 0 ? n : 0;
}

int coapd_consumer_start(struct coapd *d)
{
	/* Have the module send what an earlier coapd did not confirm. */
	return coap_nl_message_confirm(&d->nl, 0);
}

void coapd_sinks_drain(struct coapd *d)
{
	int fd = mnl_socket_get_fd(d->consumer.nl);

	/* Non-blocking even when setup stopped before it was made so. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		return;
	while (consume_one(d) > 0)
		;
	confirm(d);
}

bool coapd_accepting(const struct coapd *d)
{
	return !d->sinks->held;
}

void coapd_sinks_pollfd(struct coapd *d, struct pollfd *p, int *timeout)
{
	struct coapd_sinks *k = d->sinks;

	p->fd = -1;
	p->events = 0;
	if (k->mqtt)
		mqtt_sink_pollfd(k->mqtt, p, timeout);
	/*
	 * A failed file with lines to write is tried again too, and so is a
	 * failed confirmation: the module sends a batching consumer nothing
	 * more until it confirms.
	 */
	if ((k->held || k->json_len || k->taken_id != k->confirmed_id) &&
	    (*timeout < 0 || *timeout > JSON_RETRY_MS))
		*timeout = JSON_RETRY_MS;
}

void coapd_sinks_events(struct coapd *d, short revents)
{
	struct coapd_sinks *k = d->sinks;

	if (k->mqtt)
		mqtt_sink_events(k->mqtt, revents);
	/*
	 * Acknowledged records free spool space; a failed file may work now.
	 * The rest of the held message's datagram goes on at once: the module
	 * may send nothing more to wake the consumer socket up.
	 */
	if (k->held && resume(d))
		coapd_log(LOG_INFO, "sinks accept messages again");
	/* Lines a failed file could not take yet, and their confirmation. */
	if (k->json_len || k->taken_id != k->confirmed_id)
		confirm(d);
}

int coapd_sinks_open(struct coapd *d)
{
	struct coapd_sinks *k;
	int err;

	k = calloc(1, sizeof(*k));
	if (!k) {
		coapd_log(LOG_ERR, "out of memory");
		return -1;
	}
	d->sinks = k;
	k->json_fd = STDOUT_FILENO;
	k->rx = malloc(COAPD_CONSUMER_BATCH);
	if (!k->rx) {
		coapd_log(LOG_ERR, "out of memory");
		return -1;
	}
	/* JSON lines when asked for, or when there is no other sink. */
	if (d->cfg.sink_path || !d->cfg.mqtt_host)
		k->enabled |= SINK_JSON;
	if (d->cfg.sink_path) {
		/* Read too: json_tail() finds the last id written. */
		k->json_fd = open(d->cfg.sink_path,
				  O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
				  0640);
		if (k->json_fd < 0) {
			coapd_log(LOG_ERR, "sink %s: %s", d->cfg.sink_path,
				  strerror(errno));
			return -1;
		}
		if (json_tail(d))
			return -1;
	}
	if (d->cfg.mqtt_host) {
		err = mqtt_sink_open(&d->cfg, &k->mqtt);
		if (err)
			return -1;
		k->enabled |= SINK_MQTT;
	}
	return 0;
}

void coapd_sinks_close(struct coapd *d)
{
	struct coapd_sinks *k = d->sinks;

	if (!k)
		return;
	if (k->held)
		/* Unconfirmed: the module sends them to the next coapd. */
		coapd_log(LOG_WARNING, "exiting: message %llu (%s) was not taken by every sink; the module keeps it%s for the next coapd",
			  (unsigned long long)k->held_msg.id, k->held_msg.topic,
			  k->rx_off < k->rx_len ? ", and those after it," : "");
	/* Lines not written yet (the file failed): a last try. */
	if (json_flush(d, true))
		coapd_log(LOG_WARNING, "exiting: %zu bytes of JSON lines not written; the module keeps their messages for the next coapd",
			  k->json_len - k->json_off);
	free(k->json_buf);
	free(k->held_buf);
	free(k->rx);
	if (k->json_fd > STDERR_FILENO)
		close(k->json_fd);
	mqtt_sink_close(k->mqtt);
	free(k);
	d->sinks = NULL;
}
