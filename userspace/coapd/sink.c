// SPDX-License-Identifier: GPL-2.0
/*
 * The consumer: every COAP_OFFLOAD_CMD_MESSAGE the module queues becomes one
 * JSON line on the sink, written with a single write(2) so that concurrent
 * readers (tail -f, a log shipper) never see half a line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

static int sink_write(struct coapd *d, const char *line, size_t len)
{
	ssize_t n;

	do
		n = write(d->sink_fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len) {
		/* The device already has its 2.05: this message is lost. */
		coapd_log(LOG_ERR, "sink: write: %s",
			  n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	if (d->cfg.fsync && fsync(d->sink_fd) && errno != EINVAL) {
		coapd_log(LOG_ERR, "sink: fsync: %s", strerror(errno));
		return -1;
	}
	return 0;
}

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

int coapd_sink_deliver(struct coapd *d, const struct coapd_message *m)
{
	char addr[COAPD_ADDR_LEN], *line;
	struct json_object *o;
	const char *s;
	size_t len;
	int err = -1;

	o = json_object_new_object();
	if (!o)
		goto out;
	if (add_u64(o, "id", m->id) ||
	    add_str(o, "productKey", m->product_key) ||
	    add_str(o, "deviceName", m->device_name) ||
	    add_str(o, "topic", m->topic) ||
	    add_payload(o, m->payload, m->payload_len))
		goto out;
	if (m->peer_len) {
		coapd_addr_str(m->peer, m->peer_len, addr);
		if (add_str(o, "peer", addr))
			goto out;
	}
	if (add_u64(o, "time", m->time) ||
	    (m->has_seq && add_u64(o, "seq", m->seq)))
		goto out;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	line = malloc(len + 1);
	if (!line)
		goto out;
	memcpy(line, s, len);
	line[len] = '\n';
	err = sink_write(d, line, len + 1);
	free(line);
	if (!err)
		coapd_log(LOG_DEBUG, "delivered message %llu (%s)",
			  (unsigned long long)m->id, m->topic);
	json_object_put(o);
	return err;
out:
	coapd_log(LOG_ERR, "sink: out of memory: message %llu dropped",
		  (unsigned long long)m->id);
	json_object_put(o);
	return -1;
}

static const char *nl_str(const struct nlattr *attr)
{
	if (!attr || mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
		return NULL;
	return mnl_attr_get_str(attr);
}

static int message_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_MESSAGE_A_MAX + 1];
	const struct nlattr *nest, *pl, *peer, *id, *t, *seq;
	struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	struct coapd_message m = { 0 };

	if (g->cmd != COAP_OFFLOAD_CMD_MESSAGE)
		return MNL_CB_OK;
	nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_MESSAGE);
	if (!nest || coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_MESSAGE_A_MAX)) {
		coapd_log(LOG_ERR, "consumer: a message without its attributes");
		return MNL_CB_OK;
	}
	pl = tb[COAP_OFFLOAD_MESSAGE_A_PAYLOAD];
	peer = tb[COAP_OFFLOAD_MESSAGE_A_PEER];
	id = tb[COAP_OFFLOAD_MESSAGE_A_ID];
	t = tb[COAP_OFFLOAD_MESSAGE_A_TIME];
	seq = tb[COAP_OFFLOAD_MESSAGE_A_SEQ];
	m.product_key = nl_str(tb[COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY]);
	m.device_name = nl_str(tb[COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME]);
	m.topic = nl_str(tb[COAP_OFFLOAD_MESSAGE_A_TOPIC]);
	if (!m.product_key || !m.device_name || !m.topic ||
	    !id || mnl_attr_validate(id, MNL_TYPE_U64) ||
	    !t || mnl_attr_validate(t, MNL_TYPE_U64) ||
	    !seq || mnl_attr_validate(seq, MNL_TYPE_U64)) {
		coapd_log(LOG_ERR, "consumer: a malformed message: dropped");
		return MNL_CB_OK;
	}
	m.id = mnl_attr_get_u64(id);
	m.time = mnl_attr_get_u64(t);
	m.seq = mnl_attr_get_u64(seq);
	m.has_seq = true;
	if (pl) {
		m.payload = mnl_attr_get_payload(pl);
		m.payload_len = mnl_attr_get_payload_len(pl);
	}
	if (peer) {
		m.peer = mnl_attr_get_payload(peer);
		m.peer_len = mnl_attr_get_payload_len(peer);
	}
	/* Its session's committed seq moved: persisted with the next tick. */
	coapd_persist_delivered(data, m.product_key, m.device_name);
	/* One bad message must not stop the others in the same batch. */
	coapd_sink_deliver(data, &m);
	return MNL_CB_OK;
}

int coapd_consumer_input(struct coapd *d)
{
	static char buf[COAP_NL_BUF_SIZE];
	int i, n;

	for (i = 0; i < CONSUMER_BUDGET; i++) {
		n = mnl_socket_recvfrom(d->consumer.nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == ENOBUFS) {
				/*
				 * The module found our queue full: it did not
				 * answer those devices, which retransmit.
				 */
				coapd_log(LOG_WARNING, "consumer: queue overrun; devices will retransmit");
				continue;
			}
			coapd_log(LOG_ERR, "consumer: recv: %s", strerror(errno));
			return -errno;
		}
		if (mnl_cb_run(buf, n, 0, 0, message_cb, d) < 0 &&
		    errno != ENOENT)
			coapd_log(LOG_WARNING, "consumer: %s", strerror(errno));
	}
	return 0;
}
