// SPDX-License-Identifier: GPL-2.0
/* A delivered message's attributes in one pass (msgparse.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <linux/genetlink.h>

#include "coapd.h"
#include "msgparse.h"

_Static_assert(COAP_OFFLOAD_MESSAGE_A_MAX < 32, "the seen mask is 32 bits");

/*
 * The next attribute of [*p, end), or NULL: libmnl's mnl_attr_ok() (a
 * header's room, nla_len covering the header, nothing past end). *p moves
 * past it, aligned; an alignment past end leaves nothing more to read.
 */
static const struct nlattr *next_attr(const uint8_t **p, const uint8_t *end)
{
	const struct nlattr *a = (const struct nlattr *)*p;
	size_t left = end - *p, step;

	if (left < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > left)
		return NULL;
	step = NLA_ALIGN(a->nla_len);
	*p = step < left ? *p + step : end;
	return a;
}

static inline const void *attr_data(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

static inline size_t attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

/* A u64 attribute of exactly 8 bytes (mnl's MNL_TYPE_U64) into *v. */
static bool get_u64(const struct nlattr *a, uint64_t *v)
{
	if (!a || attr_len(a) != sizeof(*v))
		return false;
	memcpy(v, attr_data(a), sizeof(*v));
	return true;
}

/* A string attribute ending in its NUL (mnl's MNL_TYPE_NUL_STRING). */
static const char *get_str(const struct nlattr *a)
{
	const char *s;
	size_t n;

	if (!a)
		return NULL;
	s = attr_data(a);
	n = attr_len(a);
	return n && !s[n - 1] ? s : NULL;
}

int coapd_message_parse(const struct nlmsghdr *nlh, size_t len,
			struct coapd_message *m)
{
	const struct nlattr *tb[COAP_OFFLOAD_MESSAGE_A_MAX + 1];
	const struct nlattr *nest = NULL, *a;
	const struct genlmsghdr *g;
	const uint8_t *p, *end;
	uint32_t seen = 0;
	unsigned int type;

	if (len < NLMSG_HDRLEN || nlh->nlmsg_len > len ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
		return -EBADMSG;
	g = (const struct genlmsghdr *)((const uint8_t *)nlh + NLMSG_HDRLEN);
	if (g->cmd != COAP_OFFLOAD_CMD_MESSAGE)
		return -ENOMSG;

	/* The first COAP_OFFLOAD_A_MESSAGE at the top level. */
	p = (const uint8_t *)g + GENL_HDRLEN;
	end = (const uint8_t *)nlh + nlh->nlmsg_len;
	while ((a = next_attr(&p, end)))
		if ((a->nla_type & NLA_TYPE_MASK) == COAP_OFFLOAD_A_MESSAGE) {
			nest = a;
			break;
		}
	if (!nest)
		return -EBADMSG;

	/* Its attributes, in one walk; tb[type] only once seen has it. */
	p = attr_data(nest);
	end = p + attr_len(nest);
	while ((a = next_attr(&p, end))) {
		type = a->nla_type & NLA_TYPE_MASK;
		if (type > COAP_OFFLOAD_MESSAGE_A_MAX)
			continue;
		tb[type] = a;
		seen |= 1u << type;
	}
#define ATTR(t) (seen & (1u << (t)) ? tb[t] : NULL)

	*m = (struct coapd_message){
		.product_key = get_str(ATTR(COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY)),
		.device_name = get_str(ATTR(COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME)),
		.topic = get_str(ATTR(COAP_OFFLOAD_MESSAGE_A_TOPIC)),
		.payload = (const uint8_t *)"",
		.has_seq = true,
		.from_module = true,
	};
	if (!m->product_key || !m->device_name || !m->topic ||
	    !get_u64(ATTR(COAP_OFFLOAD_MESSAGE_A_ID), &m->id) ||
	    !get_u64(ATTR(COAP_OFFLOAD_MESSAGE_A_TIME), &m->time) ||
	    !get_u64(ATTR(COAP_OFFLOAD_MESSAGE_A_SEQ), &m->seq))
		return -EBADMSG;
	a = ATTR(COAP_OFFLOAD_MESSAGE_A_REDELIVERED);
	m->redelivered = a && attr_len(a) == 1 &&
			 *(const uint8_t *)attr_data(a);
	a = ATTR(COAP_OFFLOAD_MESSAGE_A_PAYLOAD);
	if (a) {
		m->payload = attr_data(a);
		m->payload_len = attr_len(a);
	}
	a = ATTR(COAP_OFFLOAD_MESSAGE_A_PEER);
	if (a) {
		m->peer = attr_data(a);
		m->peer_len = attr_len(a);
	}
	/* ackMode 1: what the separate response needs. */
	m->separate = !!ATTR(COAP_OFFLOAD_MESSAGE_A_SEPARATE);
	a = ATTR(COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN);
	if (a) {
		m->coap_token = attr_data(a);
		m->coap_token_len = attr_len(a);
	}
	a = ATTR(COAP_OFFLOAD_MESSAGE_A_LOCAL);
	if (a) {
		m->local = attr_data(a);
		m->local_len = attr_len(a);
	}
	a = ATTR(COAP_OFFLOAD_MESSAGE_A_TOKEN);
	if (a) {
		m->token = attr_data(a);
		m->token_len = attr_len(a);
	}
#undef ATTR
	return 0;
}
