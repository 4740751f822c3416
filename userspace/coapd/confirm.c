// SPDX-License-Identifier: GPL-2.0
/*
 * ackMode 1 (PROTOCOL.md): the module answered the device's CON publish with
 * an empty ACK; once the sinks accepted the message, coapd sends the result
 * as a CON 2.05 of its own (RFC 7252 §5.2.2) carrying the request's CoAP
 * token and option 2090, from the address the request came to, and
 * retransmits it with exponential backoff (§4.2) until the device ACKs (or
 * resets) it, or gives up after the last retransmission's timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "coapd.h"

/* RFC 7252 §4.8: ACK_RANDOM_FACTOR 1.5, as a fraction. */
#define ACK_RANDOM_NUM		3
#define ACK_RANDOM_DEN		2
/* Option 2090 (8 bytes) and its header, a token, the CoAP header. */
#define SEPARATE_MAX		(COAP_HEADER_LEN + COAP_MAX_TOKEN_LEN + 4 + 8)

/* One separate response waiting for the device's ACK. */
struct pending {
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct sockaddr_storage local;	/* ss_family 0: unknown */
	uint64_t id;			/* option 2090, for the logs */
	int64_t due;			/* ms, CLOCK_MONOTONIC; 0: free */
	int64_t timeout;		/* ms, doubles per retransmission */
	uint16_t mid;
	uint8_t retransmits;
	uint8_t len;
	uint8_t buf[SEPARATE_MAX];
};

struct confirm {
	unsigned int count;		/* slots in use */
	uint16_t next_mid;
	struct pending p[COAPD_SEPARATE_MAX];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Never 0, which marks a free slot. */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

struct confirm *coapd_confirm_new(void)
{
	struct confirm *c = calloc(1, sizeof(*c));

	/* Our Message IDs start unpredictably (§4.4), then count up. */
	if (c && getrandom(&c->next_mid, sizeof(c->next_mid), 0) < 0)
		c->next_mid = (uint16_t)getpid();
	return c;
}

void coapd_confirm_free(struct confirm *c)
{
	free(c);
}

/* Same family, address and port; the IPv6 scope is not compared (the
 * module's peer attribute carries none). */
static bool same_peer(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a->ss_family == AF_INET6 && a6->sin6_port == b6->sin6_port &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

/* Send p's datagram from the address the device talked to. */
static void send_pending(struct coapd *d, const struct pending *p)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} control;
	int fd = p->peer.ss_family == AF_INET ? d->udp4 : d->udp6;
	struct iovec iov = { .iov_base = (void *)p->buf, .iov_len = p->len };
	struct msghdr mh = {
		.msg_name = (void *)&p->peer, .msg_namelen = p->peer_len,
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	char addr[COAPD_ADDR_LEN];
	struct cmsghdr *cm;

	if (fd < 0)
		return;
	memset(&control, 0, sizeof(control));
	cm = (struct cmsghdr *)control.buf;
	if (p->local.ss_family == AF_INET) {
		struct in_pktinfo pi = {
			.ipi_spec_dst = ((const struct sockaddr_in *)
					 &p->local)->sin_addr,
		};

		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else if (p->local.ss_family == AF_INET6) {
		const struct sockaddr_in6 *l6 = (const void *)&p->local;
		struct in6_pktinfo pi = {
			.ipi6_addr = l6->sin6_addr,
			.ipi6_ifindex = l6->sin6_scope_id,
		};

		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	if (sendmsg(fd, &mh, 0) < 0)
		coapd_log(LOG_WARNING, "separate response to %s: send: %s",
			  coapd_addr_str((const struct sockaddr *)&p->peer,
					 p->peer_len, addr),
			  strerror(errno));
}

/* A copy of a sockaddr_in/in6 into ss; its length, or 0 if it is neither. */
static socklen_t addr_copy(const struct sockaddr *sa, socklen_t len,
			   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (!sa ||
	    !((len == sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) ||
	      (len == sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6)))
		return 0;
	memcpy(ss, sa, len);
	return len;
}

void coapd_separate_response(struct coapd *d, const struct coapd_message *m)
{
	struct confirm *c = d->confirm;
	struct pending tmp, *p = &tmp;
	char addr[COAPD_ADDR_LEN];
	struct coap_builder b;
	uint32_t r = 0;
	uint64_t id_be;
	unsigned int i;
	int len;

	if (!m->separate)
		return;		/* answered piggy-backed already */
	memset(&tmp, 0, sizeof(tmp));
	tmp.peer_len = addr_copy(m->peer, m->peer_len, &tmp.peer);
	addr_copy(m->local, m->local_len, &tmp.local);
	if (!tmp.peer_len || m->coap_token_len > COAP_MAX_TOKEN_LEN) {
		coapd_log(LOG_ERR, "separate response %llu: no peer address or a bad token",
			  (unsigned long long)m->id);
		return;
	}
	/* The device's link-local address lives on the arrival link. */
	if (tmp.peer.ss_family == AF_INET6 && tmp.local.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&tmp.peer)->sin6_scope_id =
			((struct sockaddr_in6 *)&tmp.local)->sin6_scope_id;
	tmp.id = m->id;
	tmp.mid = c->next_mid++;
	id_be = htobe64(tmp.id);
	coap_builder_init(&b, tmp.buf, sizeof(tmp.buf), COAP_TYPE_CON,
			  COAP_CODE_CONTENT, tmp.mid, m->coap_token,
			  m->coap_token_len);
	coap_builder_add_option(&b, COAP_OPT_MESSAGE_ID, &id_be, sizeof(id_be));
	len = coap_builder_finish(&b);
	if (len < 0) {
		coapd_log(LOG_ERR, "separate response: build: %s",
			  strerror(-len));
		return;
	}
	tmp.len = len;

	for (i = 0; c->count < COAPD_SEPARATE_MAX && i < COAPD_SEPARATE_MAX; i++) {
		if (!c->p[i].due) {
			p = &c->p[i];
			*p = tmp;
			c->count++;
			break;
		}
	}
	if (p == &tmp)
		/* Bounded: the device still gets the result, once. */
		coapd_log(LOG_WARNING, "separate response %llu to %s: %u outstanding, not retransmitted",
			  (unsigned long long)tmp.id,
			  coapd_addr_str((struct sockaddr *)&tmp.peer,
					 tmp.peer_len, addr),
			  COAPD_SEPARATE_MAX);
	/* The first timeout: random in [ACK_TIMEOUT, ACK_TIMEOUT * 1.5]. */
	if (getrandom(&r, sizeof(r), 0) < 0)
		r = 0;
	p->timeout = d->cfg.ack_timeout_ms +
		     r % (d->cfg.ack_timeout_ms * (ACK_RANDOM_NUM - ACK_RANDOM_DEN) /
			  ACK_RANDOM_DEN + 1);
	p->due = now_ms() + p->timeout;
	send_pending(d, p);
	coapd_log(LOG_DEBUG, "separate response %llu sent to %s (mid %u)",
		  (unsigned long long)p->id,
		  coapd_addr_str((struct sockaddr *)&p->peer, p->peer_len, addr),
		  p->mid);
}

bool coapd_confirm_input(struct coapd *d, const struct sockaddr_storage *peer,
			 const struct coap_msg *msg)
{
	struct confirm *c = d->confirm;
	char addr[COAPD_ADDR_LEN];
	unsigned int i;

	if ((msg->type != COAP_TYPE_ACK && msg->type != COAP_TYPE_RST) ||
	    !c->count)
		return false;
	for (i = 0; i < COAPD_SEPARATE_MAX; i++) {
		struct pending *p = &c->p[i];

		if (!p->due || p->mid != msg->message_id ||
		    !same_peer(&p->peer, peer))
			continue;
		coapd_log(msg->type == COAP_TYPE_RST ? LOG_INFO : LOG_DEBUG,
			  "separate response %llu: %s by %s after %u retransmissions",
			  (unsigned long long)p->id,
			  msg->type == COAP_TYPE_RST ? "reset" : "acknowledged",
			  coapd_addr_str((struct sockaddr *)&p->peer,
					 p->peer_len, addr),
			  p->retransmits);
		p->due = 0;
		c->count--;
		return true;
	}
	return false;
}

int coapd_confirm_timeout(struct coapd *d)
{
	struct confirm *c = d->confirm;
	int64_t now, first = 0;
	unsigned int i;

	if (!c->count)
		return -1;
	for (i = 0; i < COAPD_SEPARATE_MAX; i++)
		if (c->p[i].due && (!first || c->p[i].due < first))
			first = c->p[i].due;
	now = now_ms();
	return first <= now ? 0 : (int)(first - now);
}

void coapd_confirm_tick(struct coapd *d)
{
	struct confirm *c = d->confirm;
	char addr[COAPD_ADDR_LEN];
	int64_t now = now_ms();
	unsigned int i;

	for (i = 0; c->count && i < COAPD_SEPARATE_MAX; i++) {
		struct pending *p = &c->p[i];

		if (!p->due || p->due > now)
			continue;
		if (p->retransmits >= d->cfg.max_retransmit) {
			coapd_log(LOG_WARNING, "separate response %llu to %s: no ACK after %u retransmissions, giving up",
				  (unsigned long long)p->id,
				  coapd_addr_str((struct sockaddr *)&p->peer,
						 p->peer_len, addr),
				  p->retransmits);
			p->due = 0;
			c->count--;
			continue;
		}
		p->retransmits++;
		p->timeout *= 2;
		p->due = now + p->timeout;
		send_pending(d, p);
	}
}
