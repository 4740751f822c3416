// SPDX-License-Identifier: GPL-2.0
/*
 * coapd --no-offload: the publish path of coap_offload.ko (kmod/rx.c), in
 * user space, for hosts where the module cannot be loaded and as the
 * benchmark's user-space contender.
 *
 * The same decisions in the same order as the module, with the same code
 * where it is shared (include/coap/: parser, builder, replay window, topic
 * rules): a CON or NON POST to /topic/... carrying a token in option 2088
 * (or its alias 61) and no critical option the fast path does not know is
 * a publish; anything else, and a publish whose token has no live session,
 * goes to udp.c exactly as the module would have passed it up. A publish
 * is then answered from the session's answer cache (a retransmitted CON),
 * or checked: topic path, seq option decrypted, replay window, topic rule,
 * payload decrypted, handed to the sinks, and only once they took it the
 * seq is committed and 2.05 + option 2090 goes out; 4.00 for a bad or
 * replayed seq or an undecryptable payload, 4.03 for a foreign topic.
 *
 * Fast: datagrams come in with recvmmsg() and answers leave with one
 * sendmmsg() per batch, every buffer is allocated once, and each session's
 * cipher contexts are keyed when it is created (coap_proto_keyed), so a
 * message costs no allocation of its own on this path (the sinks may
 * allocate).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coapd.h"
#include "sessions.h"
#include "coap/coap_rules.h"

/* Datagrams per recvmmsg(); answers per sendmmsg(). */
#define USER_BATCH		32
/* Batches per wakeup before the other sockets get a turn (as udp.c's 64). */
#define USER_BUDGET		4
/* As the module: longer topics are left to udp.c (which answers 4.04). */
#define USER_TOPIC_MAX		256
/* An answer: header, an 8-byte CoAP token, option 2090 (3 + 8 bytes). */
#define USER_ANSWER_MAX		(COAP_HEADER_LEN + COAP_MAX_TOKEN_LEN + 11)
/* How often expired sessions are looked for (the module's reaper: 2 s). */
#define USER_SWEEP_MS		2000

union user_control {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
		 CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct cmsghdr align;
};

/* What the fast path needs from one publish, gathered in one option walk. */
struct user_publish {
	struct coap_msg msg;
	const uint8_t *token;		/* option 2088 (or 61) */
	size_t token_len;
	const uint8_t *seq_block;	/* option 2089 */
	size_t seq_len;
};

struct coapd_user {
	struct coapd_sessions sessions;
	struct coapd_user_stats stats;
	uint64_t next_message_id;
	uint64_t next_sweep;		/* ms */
	uint32_t idle_timeout;		/* s; 0: none */

	/* One recvmmsg() batch. */
	struct mmsghdr rx[USER_BATCH];
	struct iovec rx_iov[USER_BATCH];
	struct sockaddr_storage rx_peer[USER_BATCH];
	union user_control rx_ctl[USER_BATCH];
	/* One byte more than the limit tells an oversized datagram. */
	uint8_t rx_buf[USER_BATCH][COAP_MAX_MESSAGE + 1];

	/* The answers of that batch, for one sendmmsg(). */
	unsigned int ntx;
	struct mmsghdr tx[USER_BATCH];
	struct iovec tx_iov[USER_BATCH];
	union user_control tx_ctl[USER_BATCH];
	uint8_t tx_buf[USER_BATCH][USER_ANSWER_MAX];

	uint8_t plain[COAP_MAX_MESSAGE];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Never 0: an answer sent at 0 would look free. */
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct coapd_user *coapd_user_new(size_t max_sessions, uint32_t idle_timeout)
{
	struct coapd_user *u = calloc(1, sizeof(*u));
	int i;

	if (!u)
		return NULL;
	if (coapd_sessions_init(&u->sessions, max_sessions)) {
		free(u);
		return NULL;
	}
	/* As the module: ids start at the wall clock, unique across restarts. */
	u->next_message_id = realtime_ns();
	u->next_sweep = now_ms() + USER_SWEEP_MS;
	u->idle_timeout = idle_timeout;
	for (i = 0; i < USER_BATCH; i++) {
		u->rx_iov[i].iov_base = u->rx_buf[i];
		u->rx_iov[i].iov_len = sizeof(u->rx_buf[i]);
		u->tx_iov[i].iov_base = u->tx_buf[i];
	}
	return u;
}

void coapd_user_free(struct coapd_user *u)
{
	if (!u)
		return;
	coapd_sessions_destroy(&u->sessions);
	/* Decrypted payloads and answers may linger in the buffers. */
	explicit_bzero(u, sizeof(*u));
	free(u);
}

int coapd_user_session_new(struct coapd_user *u, const char *token,
			   const char *pk, const char *dn,
			   enum coap_cipher cipher,
			   const uint8_t key[COAP_PROTO_KEY_LEN],
			   uint64_t seq_offset, uint32_t lifetime)
{
	return coapd_sessions_add(&u->sessions, token, strlen(token), pk, dn,
				  cipher, key, seq_offset, lifetime,
				  u->idle_timeout, now_ms());
}

void coapd_user_session_del(struct coapd_user *u, const char *token)
{
	coapd_sessions_del(&u->sessions, token, strlen(token));
}

const struct coapd_user_stats *coapd_user_stats(struct coapd_user *u)
{
	u->stats.expired = u->sessions.expired;
	return &u->stats;
}

size_t coapd_user_session_count(const struct coapd_user *u)
{
	return u->sessions.count;
}

int coapd_user_tick(struct coapd_user *u)
{
	uint64_t now = now_ms();
	size_t n;

	if (now >= u->next_sweep) {
		n = coapd_sessions_expire(&u->sessions, now);
		if (n)
			coapd_log(LOG_INFO, "%zu session%s expired", n,
				  n == 1 ? "" : "s");
		u->next_sweep = now + USER_SWEEP_MS;
	}
	return (int)(u->next_sweep - now);
}

/*
 * kmod/rx.c coap_offload_classify(): a well-formed CON or NON POST to
 * /topic/... with a token in option 2088 (or its alias 61) and no critical
 * option this path does not understand. Anything else is udp.c's.
 */
static bool classify(const uint8_t *data, size_t len, struct user_publish *p)
{
	struct coap_opt_iter it;
	struct coap_option opt;
	bool first_path = true, to_topic = false;

	if (coap_parse(data, len, &p->msg))
		return false;
	if (p->msg.code != COAP_CODE_POST ||
	    (p->msg.type != COAP_TYPE_CON && p->msg.type != COAP_TYPE_NON))
		return false;

	p->token = NULL;
	p->seq_block = NULL;
	p->seq_len = 0;
	coap_opt_iter_init(&it, &p->msg);
	while (coap_opt_next(&it, &opt)) {
		switch (opt.number) {
		case COAP_OPT_URI_PATH:
			if (first_path)
				to_topic = opt.len == 5 &&
					   !memcmp(opt.value, "topic", 5);
			first_path = false;
			break;
		case COAP_OPT_TOKEN_ALIAS:
			/* Accepted as the module does by default. */
		case COAP_OPT_AUTH_TOKEN:
			/* 2088 wins over the alias: it comes later. */
			if (!opt.len || opt.len > COAP_OFFLOAD_TOKEN_MAX)
				return false;
			p->token = opt.value;
			p->token_len = opt.len;
			break;
		case COAP_OPT_SEQ:
			p->seq_block = opt.value;
			p->seq_len = opt.len;
			break;
		case COAP_OPT_URI_HOST:
		case COAP_OPT_CONTENT_FORMAT:
		case COAP_OPT_ACCEPT:
			break;
		default:
			if (COAP_OPT_IS_CRITICAL(opt.number))
				return false;	/* udp.c answers 4.02 */
		}
	}
	return to_topic && p->token;
}

/* Where the datagram was addressed to: the answer leaves from there. */
static void add_pktinfo(struct msghdr *out, union user_control *ctl,
			const struct msghdr *in)
{
	struct cmsghdr *cm, *c;

	out->msg_control = NULL;
	out->msg_controllen = 0;
	for (cm = CMSG_FIRSTHDR((struct msghdr *)in); cm;
	     cm = CMSG_NXTHDR((struct msghdr *)in, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi, got;

			memcpy(&got, CMSG_DATA(cm), sizeof(got));
			memset(&pi, 0, sizeof(pi));
			pi.ipi_spec_dst = got.ipi_addr;
			memset(ctl, 0, sizeof(*ctl));
			c = (struct cmsghdr *)ctl->buf;
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			out->msg_control = ctl->buf;
			out->msg_controllen = CMSG_SPACE(sizeof(pi));
			return;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			/* The interface matters for link-local peers. */
			memset(ctl, 0, sizeof(*ctl));
			c = (struct cmsghdr *)ctl->buf;
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			memcpy(CMSG_DATA(c), CMSG_DATA(cm),
			       sizeof(struct in6_pktinfo));
			out->msg_control = ctl->buf;
			out->msg_controllen =
				CMSG_SPACE(sizeof(struct in6_pktinfo));
			return;
		}
	}
}

/*
 * kmod/rx.c coap_offload_answer(): a piggy-backed ACK with the request's
 * Message ID and token, the code, and option 2090 when message_id is set;
 * queued for this batch's sendmmsg(). NON requests get no answer.
 */
static void answer(struct coapd_user *u, const struct msghdr *req_mh,
		   const struct coap_msg *req, uint8_t code,
		   uint64_t message_id)
{
	struct coap_builder b;
	struct msghdr *mh;
	uint8_t id_be[8];
	unsigned int i = u->ntx;
	int len, k;

	if (req->type != COAP_TYPE_CON)
		return;
	coap_builder_init(&b, u->tx_buf[i], sizeof(u->tx_buf[i]), COAP_TYPE_ACK,
			  code, req->message_id, req->token, req->token_len);
	if (message_id) {
		for (k = 0; k < 8; k++)
			id_be[k] = (uint8_t)(message_id >> (56 - 8 * k));
		coap_builder_add_option(&b, COAP_OPT_MESSAGE_ID, id_be,
					sizeof(id_be));
	}
	len = coap_builder_finish(&b);
	if (len < 0) {
		u->stats.tx_errors++;
		return;
	}
	u->tx_iov[i].iov_len = len;
	mh = &u->tx[i].msg_hdr;
	mh->msg_name = req_mh->msg_name;
	mh->msg_namelen = req_mh->msg_namelen;
	mh->msg_iov = &u->tx_iov[i];
	mh->msg_iovlen = 1;
	mh->msg_flags = 0;
	add_pktinfo(mh, &u->tx_ctl[i], req_mh);
	u->ntx++;
}

/* Send this batch's answers: one sendmmsg(), retried past a failure. */
static void flush_answers(struct coapd_user *u, int fd)
{
	unsigned int done = 0;
	struct msghdr *mh;
	int n;

	while (done < u->ntx) {
		n = sendmmsg(fd, u->tx + done, u->ntx - done, 0);
		if (n > 0) {
			done += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/*
		 * This one failed. A request to a broadcast or multicast
		 * address cannot be answered from it (EINVAL): let the
		 * routing choose the source then, as udp.c does.
		 */
		mh = &u->tx[done].msg_hdr;
		if (!mh->msg_control || errno != EINVAL ||
		    sendto(fd, u->tx_iov[done].iov_base,
			   u->tx_iov[done].iov_len, 0, mh->msg_name,
			   mh->msg_namelen) < 0)
			u->stats.tx_errors++;
		done++;
	}
	u->ntx = 0;
}

/* kmod/rx.c coap_offload_refuse(): count, remember and send a refusal. */
static void refuse(struct coapd_user *u, const struct msghdr *mh,
		   struct coapd_session *s, const struct coap_msg *msg,
		   uint8_t code, uint64_t *counter, uint64_t *session_counter)
{
	(*session_counter)++;
	(*counter)++;
	if (msg->type == COAP_TYPE_CON)
		coapd_session_remember_answer(s, msg->message_id, code, 0,
					      now_ms());
	answer(u, mh, msg, code, 0);
}

/*
 * One datagram: true when this path took it (answered or refused), false
 * to leave it to udp.c, as the module returns 1 to pass it up.
 */
static bool publish(struct coapd *d, struct coapd_user *u,
		    const struct msghdr *mh, const uint8_t *data, size_t len)
{
	const struct coapd_answer *prev;
	struct coapd_message m;
	struct user_publish p;
	struct coapd_session *s;
	char topic[USER_TOPIC_MAX];
	uint64_t seq, now;
	int err, plen;

	if (len < COAP_HEADER_LEN || len > COAP_MAX_MESSAGE ||
	    !classify(data, len, &p))
		return false;
	now = now_ms();
	s = coapd_sessions_find(&u->sessions, p.token, p.token_len, now);
	if (!s)
		return false;	/* udp.c answers 4.01 */

	if (p.msg.type == COAP_TYPE_CON) {
		prev = coapd_session_find_answer(s, p.msg.message_id, now);
		if (prev) {
			u->stats.retransmits++;
			answer(u, mh, &p.msg, prev->code, prev->message_id);
			return true;
		}
	}

	err = coap_uri_path(&p.msg, topic, sizeof(topic));
	if (err == -ENOSPC)
		return false;
	if (err < 0 || p.seq_len != COAP_PROTO_BLOCK) {
		refuse(u, mh, s, &p.msg, COAP_CODE_BAD_REQUEST,
		       &u->stats.decrypt_errors, &s->decrypt_errors);
		return true;
	}
	/* "/topic/a/b" -> "/a/b" */
	memmove(topic, topic + 6, err - 6 + 1);

	if (coap_proto_keyed_seq_decrypt(s->keyed, p.seq_block, &seq)) {
		refuse(u, mh, s, &p.msg, COAP_CODE_BAD_REQUEST,
		       &u->stats.decrypt_errors, &s->decrypt_errors);
		return true;
	}
	/* Cheap pre-check before spending a payload decryption on it. */
	if (!coap_replay_check(&s->replay, seq)) {
		refuse(u, mh, s, &p.msg, COAP_CODE_BAD_REQUEST,
		       &u->stats.replays, &s->replays);
		return true;
	}
	if (!coap_topic_allowed(NULL, 0, topic, s->product_key,
				s->device_name)) {
		refuse(u, mh, s, &p.msg, COAP_CODE_FORBIDDEN,
		       &u->stats.forbidden, &s->forbidden);
		return true;
	}
	plen = coap_proto_keyed_payload_decrypt(s->keyed, p.seq_block,
						p.msg.payload,
						p.msg.payload_len, u->plain,
						sizeof(u->plain));
	if (plen < 0) {
		refuse(u, mh, s, &p.msg, COAP_CODE_BAD_REQUEST,
		       &u->stats.decrypt_errors, &s->decrypt_errors);
		return true;
	}

	m = (struct coapd_message){
		.id = u->next_message_id + 1,
		.product_key = s->product_key,
		.device_name = s->device_name,
		.topic = topic,
		.payload = u->plain,
		.payload_len = (size_t)plen,
		.time = realtime_ns(),
		.seq = seq,
		.has_seq = true,
		.peer = mh->msg_name,
		.peer_len = mh->msg_namelen,
	};
	if (coapd_sink_deliver(d, &m)) {
		/* Nobody took it: no success, the device retransmits. */
		u->stats.no_consumer++;
		return true;
	}
	u->next_message_id = m.id;
	coap_replay_commit(&s->replay, seq);
	s->rx_packets++;
	s->rx_bytes += plen;
	/* Devices behind NAT move: the session follows its last message. */
	memcpy(&s->peer, mh->msg_name,
	       mh->msg_namelen < sizeof(s->peer) ? mh->msg_namelen :
						   sizeof(s->peer));
	s->last_seen = now;
	if (p.msg.type == COAP_TYPE_CON)
		coapd_session_remember_answer(s, p.msg.message_id,
					      COAP_CODE_CONTENT, m.id, now);
	u->stats.delivered++;
	answer(u, mh, &p.msg, COAP_CODE_CONTENT, m.id);
	return true;
}

void coapd_user_input(struct coapd *d, int fd)
{
	struct coapd_user *u = d->user;
	int b, i, n;

	for (b = 0; b < USER_BUDGET; b++) {
		for (i = 0; i < USER_BATCH; i++) {
			struct msghdr *mh = &u->rx[i].msg_hdr;

			mh->msg_name = &u->rx_peer[i];
			mh->msg_namelen = sizeof(u->rx_peer[i]);
			mh->msg_iov = &u->rx_iov[i];
			mh->msg_iovlen = 1;
			mh->msg_control = u->rx_ctl[i].buf;
			mh->msg_controllen = sizeof(u->rx_ctl[i].buf);
			mh->msg_flags = 0;
		}
		n = recvmmsg(fd, u->rx, USER_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				coapd_log(LOG_WARNING, "recv: %s",
					  strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			struct msghdr *mh = &u->rx[i].msg_hdr;

			u->stats.rx++;
			if (publish(d, u, mh, u->rx_buf[i], u->rx[i].msg_len))
				continue;
			u->stats.passed++;
			coapd_udp_datagram(d, fd, u->rx_buf[i],
					   u->rx[i].msg_len, mh);
		}
		flush_answers(u, fd);
		if (n < USER_BATCH)
			return;
	}
}
