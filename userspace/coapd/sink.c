// SPDX-License-Identifier: GPL-2.0
/*
 * The consumer and the sinks. Every COAP_OFFLOAD_CMD_MESSAGE the module
 * queues is parsed once (struct coapd_message) and offered to each
 * configured sink:
 *   - JSON lines on stdout or a file, one write(2) per line so that
 *     concurrent readers (tail -f, a log shipper) never see half a line;
 *   - MQTT (sink_mqtt.c), through an on-disk spool.
 * The device already has its 2.05 when we read the message, so a sink that
 * cannot take it now must not lose it: the message is held here and the
 * consumer socket is not read until every sink took it. The module holds
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
#include <openssl/evp.h>

#include "coapd.h"

/* Stop draining after this many datagrams to let the UDP sockets run too. */
#define CONSUMER_BUDGET		64

/*
 * Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF)
 * and no NUL, which many JSON consumers mishandle: such a payload can be
 * written as a JSON string; anything else goes out as base64.
 */
static bool text_ok(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		uint8_t c = s[i];

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

static int add_payload(struct json_object *o, const uint8_t *p, size_t len)
{
	struct json_object *v;
	char *b64;

	if (!len)
		p = (const uint8_t *)"";
	if (text_ok(p, len)) {
		v = json_object_new_string_len((const char *)p, len);
		return v ? json_object_object_add(o, "payload", v) : -1;
	}
	/* EVP_EncodeBlock: 4 bytes per 3, plus its NUL. */
	b64 = malloc((len + 2) / 3 * 4 + 1);
	if (!b64)
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, p, len);
	v = json_object_new_string(b64);
	free(b64);
	return v ? json_object_object_add(o, "payload_b64", v) : -1;
}

enum {
	SINK_JSON = 1 << 0,
	SINK_MQTT = 1 << 1,
};

/* A JSON sink that failed is tried again after this long. */
#define JSON_RETRY_MS		1000
/* How far back from its end the JSON file is searched for the last id. */
#define JSON_TAIL_MAX		(64 * 1024)

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
	size_t json_off;
	bool json_failing;
	struct timespec json_retry;
	/* The module's last message id in the JSON file: its ids rise in
	 * delivery order, so a redelivered one up to it is there already.
	 */
	uint64_t json_last_id;
	/* Every sink took the messages up to this id; the module knows up to
	 * confirmed.
	 */
	uint64_t taken_id, confirmed_id;
};

static int add_str(struct json_object *o, const char *key, const char *s)
{
	struct json_object *v = json_object_new_string(s);

	return v ? json_object_object_add(o, key, v) : -1;
}

static int add_u64(struct json_object *o, const char *key, uint64_t n)
{
	struct json_object *v = json_object_new_uint64(n);

	return v ? json_object_object_add(o, key, v) : -1;
}

/* The message's JSON line (malloc'd, ends in '\n'), or NULL. */
static char *json_line(const struct coapd_message *m, size_t *len)
{
	char addr[COAPD_ADDR_LEN], *line = NULL;
	struct json_object *o = json_object_new_object();
	const char *s;

	if (!o)
		return NULL;
	if (add_u64(o, "id", m->id) ||
	    add_str(o, "productKey", m->product_key) ||
	    add_str(o, "deviceName", m->device_name) ||
	    add_str(o, "topic", m->topic) ||
	    add_payload(o, m->payload, m->payload_len) ||
	    (m->peer_len && add_str(o, "peer", coapd_addr_str(m->peer,
							       m->peer_len,
							       addr))) ||
	    add_u64(o, "time", m->time) ||
	    (m->has_seq && add_u64(o, "seq", m->seq)))
		goto out;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	*len = strlen(s) + 1;
	line = malloc(*len);
	if (line) {
		memcpy(line, s, *len - 1);
		line[*len - 1] = '\n';
	}
out:
	json_object_put(o);
	return line;
}

/*
 * Write the rest of the message's line (from json_off). 0 when all of it
 * is written (and synced with --fsync); -EAGAIN when the file failed: the
 * rest is written later. With --fsync, a failed fsync writes the whole
 * line again: a reader may see it twice, but it is not lost (after an
 * fsync error the kernel may already have dropped the dirty pages).
 */
static int json_accept(struct coapd *d, const struct coapd_message *m)
{
	struct coapd_sinks *k = d->sinks;
	size_t len;
	ssize_t n;
	char *line;
	int err = 0;

	if (m->redelivered && m->id <= k->json_last_id) {
		/* Sent again by the module after a restart: it is there. */
		coapd_log(LOG_DEBUG, "sink: message %llu is in the file already",
			  (unsigned long long)m->id);
		return 0;
	}
	line = json_line(m, &len);
	if (!line) {
		coapd_log(LOG_ERR, "sink: out of memory");
		return -EAGAIN;
	}
	while (k->json_off < len) {
		n = write(k->json_fd, line + k->json_off, len - k->json_off);
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
	free(line);
	if (!err && m->from_module)
		k->json_last_id = m->id;
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
	k->json_off = 0;
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
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (k->json_failing && (now.tv_sec < k->json_retry.tv_sec ||
					(now.tv_sec == k->json_retry.tv_sec &&
					 now.tv_nsec < k->json_retry.tv_nsec)))
			return false;
		if (json_accept(d, m))
			return false;
		*taken |= SINK_JSON;
	}
	if ((k->enabled & SINK_MQTT) && !(*taken & SINK_MQTT)) {
		err = mqtt_sink_accept(k->mqtt, m);
		if (err == -EAGAIN)
			return false;
		/* Any other error: it can never be an MQTT message (logged). */
		*taken |= SINK_MQTT;
	}
	return *taken == k->enabled;
}

/* Parse the module's message into m (pointing into nlh). 0 or -EBADMSG. */
static int message_parse(const struct nlmsghdr *nlh, struct coapd_message *m)
{
	const struct nlattr *tb[COAP_OFFLOAD_MESSAGE_A_MAX + 1];
	const struct nlattr *nest, *a;
	static const int strs[] = {
		COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY,
		COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME, COAP_OFFLOAD_MESSAGE_A_TOPIC,
	};
	static const int u64s[] = {
		COAP_OFFLOAD_MESSAGE_A_ID, COAP_OFFLOAD_MESSAGE_A_TIME,
		COAP_OFFLOAD_MESSAGE_A_SEQ,
	};
	size_t i;

	nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_MESSAGE);
	if (!nest || coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_MESSAGE_A_MAX))
		return -EBADMSG;
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!tb[strs[i]] ||
		    mnl_attr_validate(tb[strs[i]], MNL_TYPE_NUL_STRING))
			return -EBADMSG;
	for (i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
		if (!tb[u64s[i]] || mnl_attr_validate(tb[u64s[i]], MNL_TYPE_U64))
			return -EBADMSG;
	*m = (struct coapd_message){
		.id = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_ID]),
		.time = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_TIME]),
		.seq = mnl_attr_get_u64(tb[COAP_OFFLOAD_MESSAGE_A_SEQ]),
		.product_key = mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY]),
		.device_name = mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME]),
		.topic = mnl_attr_get_str(tb[COAP_OFFLOAD_MESSAGE_A_TOPIC]),
		.payload = (const uint8_t *)"",
		.has_seq = true,
		.from_module = true,
	};
	a = tb[COAP_OFFLOAD_MESSAGE_A_REDELIVERED];
	m->redelivered = a && !mnl_attr_validate(a, MNL_TYPE_U8) &&
			 mnl_attr_get_u8(a);
	a = tb[COAP_OFFLOAD_MESSAGE_A_PAYLOAD];
	if (a) {
		m->payload = mnl_attr_get_payload(a);
		m->payload_len = mnl_attr_get_payload_len(a);
	}
	a = tb[COAP_OFFLOAD_MESSAGE_A_PEER];
	if (a) {
		m->peer = mnl_attr_get_payload(a);
		m->peer_len = mnl_attr_get_payload_len(a);
	}
	/* ackMode 1: what the separate response needs. */
	m->separate = !!tb[COAP_OFFLOAD_MESSAGE_A_SEPARATE];
	a = tb[COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN];
	if (a) {
		m->coap_token = mnl_attr_get_payload(a);
		m->coap_token_len = mnl_attr_get_payload_len(a);
	}
	a = tb[COAP_OFFLOAD_MESSAGE_A_LOCAL];
	if (a) {
		m->local = mnl_attr_get_payload(a);
		m->local_len = mnl_attr_get_payload_len(a);
	}
	return 0;
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
	k->held_taken = taken;
	k->held = true;
	coapd_log(LOG_DEBUG, "holding message %llu: a sink cannot take it now",
		  (unsigned long long)m->id);
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

static int message_cb(const struct nlmsghdr *nlh, void *data)
{
	struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	struct coapd_message m;
	struct coapd *d = data;
	unsigned int taken = 0;

	if (g->cmd != COAP_OFFLOAD_CMD_MESSAGE)
		return MNL_CB_OK;
	if (message_parse(nlh, &m)) {
		coapd_log(LOG_ERR, "consumer: a message without its attributes: dropped");
		/* One bad message must not stop the others in the same batch. */
		return MNL_CB_OK;
	}
	/* Its session's committed seq moved: persisted with the next tick. */
	coapd_persist_delivered(d, m.product_key, m.device_name);
	if (offer(d, &m, &taken)) {
		delivered(d, &m);
		return MNL_CB_OK;
	}
	/* The device has its 2.05: out of memory here loses it (logged). */
	if (hold(d, &m, taken))
		coapd_log(LOG_ERR, "consumer: out of memory: message %llu lost",
			  (unsigned long long)m.id);
	return MNL_CB_OK;
}

int coapd_sink_deliver(struct coapd *d, const struct coapd_message *m)
{
	unsigned int taken = 0;

	/* Not answered, the device retransmits: nothing is lost or doubled. */
	if (d->sinks->held)
		return -EAGAIN;
	if (offer(d, m, &taken)) {
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

/* Read and deliver one message: 1, 0 when there is none (or one is held
 * and still not taken), or a negative errno when the socket failed.
 */
static int consume_one(struct coapd *d)
{
	static char buf[COAP_NL_BUF_SIZE];
	int n;

	/* One datagram holds one message: none is read while one waits. */
	if (d->sinks->held && !retry_held(d))
		return 0;
	n = mnl_socket_recvfrom(d->consumer.nl, buf, sizeof(buf));
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		coapd_log(LOG_ERR, "consumer: recv: %s", strerror(errno));
		return -errno;
	}
	if (mnl_cb_run(buf, n, 0, 0, message_cb, d) < 0 && errno != ENOENT)
		coapd_log(LOG_WARNING, "consumer: %s", strerror(errno));
	return 1;
}

/*
 * Tell the module what every sink took: it lets go of those messages and
 * sends more. Once per batch, not per message.
 */
static void confirm(struct coapd *d)
{
	struct coapd_sinks *k = d->sinks;
	int err;

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
	if (k->held && (*timeout < 0 || *timeout > JSON_RETRY_MS))
		*timeout = JSON_RETRY_MS;
}

void coapd_sinks_events(struct coapd *d, short revents)
{
	struct coapd_sinks *k = d->sinks;

	if (k->mqtt)
		mqtt_sink_events(k->mqtt, revents);
	/* Acknowledged records free spool space; a failed file may work now. */
	if (k->held && retry_held(d)) {
		coapd_log(LOG_INFO, "sinks accept messages again");
		confirm(d);
	}
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
		/* Unconfirmed: the module sends it to the next coapd. */
		coapd_log(LOG_WARNING, "exiting: message %llu (%s) was not taken by every sink; the module keeps it for the next coapd",
			  (unsigned long long)k->held_msg.id, k->held_msg.topic);
	free(k->held_buf);
	if (k->json_fd > STDERR_FILENO)
		close(k->json_fd);
	mqtt_sink_close(k->mqtt);
	free(k);
	d->sinks = NULL;
}
