// SPDX-License-Identifier: GPL-2.0
/*
 * Sessions that outlive coapd and the module. Every session coapd grants is
 * recorded in the registry's sessions table (userspace/lib/registry.c), its
 * highest delivered seq is brought up to date about once a second, and at
 * startup the table is reconciled with the kernel's before the UDP sockets
 * are attached:
 *
 *  - coapd died (SIGKILL, crash): the kernel kept its sessions; the new
 *    coapd finds them in its dump and only updates the table from them.
 *  - the module was reloaded or the gateway rebooted: the kernel's table is
 *    empty; every stored, unexpired session of an enabled device is pushed
 *    back with its remaining lifetime and a seq offset above the highest
 *    seq known to be committed, so that no stored seq can be replayed.
 *  - an operator deleted a session (coapctl session del/flush) or it idled
 *    out while coapd was away, the module staying loaded: it must stay
 *    gone. The table remembers the module instance it was last reconciled
 *    with (boot id + the generic netlink family id, which the kernel hands
 *    out cyclically, so a reload gets a new one); a session missing from
 *    that same instance is deleted, not restored.
 *
 * Seqs. Each message the module delivers to coapd carries its session's
 * token and seq (COAP_OFFLOAD_MESSAGE_A_TOKEN, the consumer's copy only):
 * sink.c hands both here, and they go into an in-memory map, token ->
 * highest seq seen since the last tick (open addressing; its arrays are
 * kept from tick to tick, so a delivery allocates nothing once it has
 * grown to the busiest second's sessions). Each second the tick writes
 * every entry with one prepared UPDATE that only raises a row
 * (coap_registry_session_raise()), all in the tick's one transaction; no
 * registry read and no netlink round trip per message or device. Only
 * sessions with a row are noted: coapd keeps the hashes of the tokens it
 * granted, restored or found in the table (tokenset.h, 16 bytes a
 * session), so a session it did not grant (coapctl session add, the
 * benchmark's) costs no UPDATE at all; one that slips through (a hash
 * collision, a row deleted by coapctl device del) matches nothing, which
 * is fine.
 *
 * Why a delivered seq is safe to store: the module queues a message and
 * commits its seq under the session's lock, one step, so every seq coapd
 * reads was really sent by the device and accepted (a redelivered copy's
 * too); the stored highest never exceeds the kernel's
 * committed one, and a restore's seq offset (stored highest + 1) never
 * refuses a seq the device has not used yet. What it lags by: the
 * kernel's highest as of the last tick minus the messages coapd had not
 * read by then (still in the consumer socket or the module's pending
 * queue, at most COAP_OFFLOAD_PENDING_MAX_BYTES), plus the second until
 * the next tick. After a module reload those few seqs could be accepted
 * once more; the messages themselves (answered but never confirmed) went
 * with the old module. Reading the kernel's SEQ_HIGHEST instead would
 * only close the first part of that gap, at one round trip per session.
 *
 * Sessions that end. The module announces on its "events" group a session
 * that expired (lifetime, idle timeout) or that a command deleted
 * (SESSION_DEL: coapctl session del, coapd's own revokes; SESSION_FLUSH:
 * one event per session). Events name the device, not the session (no
 * token on that group): the device is marked, and with the next tick
 * every registry row of a marked device is looked up in the kernel
 * (SESSION_GET), its seq brought up to date and the row deleted when the
 * session is gone. A rekey (SESSION_REPLACE) is not announced: the token
 * stays in the table. The whole table is compared with the kernel's (one
 * dump) only where an event may have been missed or the table is unknown:
 * at startup, after the events socket overran (ENOBUFS: e.g. a flush of
 * more sessions than its buffer holds), and when recording a seq failed
 * for want of memory; a module that goes away stops coapd, and the next
 * coapd reconciles at its startup.
 *
 * New and deleted sessions are written with the next tick too: the
 * registry's write lock is held for one short transaction a second.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>

#include "coapd.h"
#include "tokenset.h"

/* How often the delivered seqs go to the registry (the replay window). */
#define PERSIST_TICK_SEC	1
#define DUMP_TRIES		5
#define EVENTS_BUDGET		64
#define EVENTS_RCVBUF		(1 << 20)
/* "<boot id>/<family id>" */
#define INSTANCE_LEN		64
#define STATE_MODULE		"module"

/*
 * The sessions that delivered since the last tick: token -> highest seq.
 * The entries are dense (written in order at the tick, then forgotten by
 * setting n to 0); slot[] is the open-addressing index into them (entry
 * number + 1, 0: free), emptied at the tick too. Neither shrinks.
 */
struct seq_entry {
	uint64_t seq;
	uint8_t len;
	char token[COAP_OFFLOAD_TOKEN_MAX];
};

struct seq_map {
	struct seq_entry *e;
	size_t n, ecap;
	uint32_t *slot;
	size_t cap;		/* a power of two, or 0 */
};

/*
 * The sessions that have a registry row (coapd granted, restored or found
 * them), as hashes of their tokens (tokenset.h): a delivery on any other
 * session (a static one, coapctl session add) costs no UPDATE. A false
 * positive only costs an UPDATE that matches nothing.
 */
/* The devices that lost a session since the last tick (expiry, delete). */
struct dirty_set {
	char **key;		/* "pk/dn" (neither contains '/') */
	size_t cap, n;		/* cap: a power of two, or 0 */
};

/*
 * Sessions granted or deleted since the last tick, in order: written in the
 * tick's transaction, so that the registry's write lock is held for
 * milliseconds a second, not between ticks (coapctl writes too).
 */
struct pending {
	struct pending *next;
	bool del;
	struct coap_session_record rec;	/* del: only the token */
};

struct coapd_persist {
	struct seq_map seqs;
	struct coapd_tokenset rows;
	/* rows could not grow: every delivered token is written. */
	bool rows_unknown;
	struct dirty_set dirty;
	struct pending *head, **tail;
	char instance[INSTANCE_LEN];
	/* Compare the whole table next tick (events overrun, out of memory). */
	bool sweep;
	/* A message came without its token (said once). */
	bool no_token;
	/* coap_offload.ko went away under us: the daemon stops. */
	bool module_gone;
};

/* A session with a registry row, from now on. */
static void rows_note(struct coapd_persist *p, const char *token)
{
	if (!p->rows_unknown &&
	    coapd_tokenset_add(&p->rows, token, strlen(token))) {
		coapd_log(LOG_WARNING, "sessions: out of memory: every delivered seq is written from now on");
		p->rows_unknown = true;
	}
}

/* The token's slot; h: its coapd_token_fnv(). */
static uint32_t *seq_slot(const struct seq_map *m, uint32_t *slot, size_t cap,
			  const char *token, size_t len, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);
	const struct seq_entry *e;

	for (; slot[i]; i = (i + 1) & (cap - 1)) {
		e = &m->e[slot[i] - 1];
		if (e->len == len && !memcmp(e->token, token, len))
			break;
	}
	return &slot[i];
}

/* Room for one more entry (and the index at most half full). */
static int seq_grow(struct seq_map *m)
{
	struct seq_entry *e;
	uint32_t *slot;
	size_t cap, i;

	if (m->n == m->ecap) {
		if (m->ecap >= UINT32_MAX / 2)
			return -ENOMEM;
		i = m->ecap ? 2 * m->ecap : 64;
		e = realloc(m->e, i * sizeof(*e));
		if (!e)
			return -ENOMEM;
		m->e = e;
		m->ecap = i;
	}
	if (2 * (m->n + 1) <= m->cap)
		return 0;
	cap = m->cap ? 2 * m->cap : 128;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (i = 0; i < m->n; i++)
		*seq_slot(m, slot, cap, m->e[i].token, m->e[i].len,
			  coapd_token_fnv(m->e[i].token, m->e[i].len, NULL)) =
			i + 1;
	free(m->slot);
	m->slot = slot;
	m->cap = cap;
	return 0;
}

/* Remember the highest seq of the session token (len bytes, hash h). */
static int seq_note(struct seq_map *m, const char *token, size_t len,
		    uint64_t h, uint64_t seq)
{
	struct seq_entry *e;
	uint32_t *slot;

	if (m->cap) {
		slot = seq_slot(m, m->slot, m->cap, token, len, h);
		if (*slot) {
			e = &m->e[*slot - 1];
			if (seq > e->seq)
				e->seq = seq;
			return 0;
		}
	}
	if (seq_grow(m))
		return -ENOMEM;
	slot = seq_slot(m, m->slot, m->cap, token, len, h);
	e = &m->e[m->n];
	e->seq = seq;
	e->len = len;
	memcpy(e->token, token, len);
	*slot = ++m->n;
	return 0;
}

/* Forget every entry; the arrays stay for the next second's. */
static void seq_clear(struct seq_map *m)
{
	if (!m->n)
		return;
	/* Tokens are credentials: none lingers in freed or reused memory. */
	explicit_bzero(m->e, m->n * sizeof(*m->e));
	memset(m->slot, 0, m->cap * sizeof(*m->slot));
	m->n = 0;
}

static char **dirty_slot(char **key, size_t cap, const char *k)
{
	size_t i = (size_t)coapd_token_fnv(k, strlen(k), NULL) & (cap - 1);

	while (key[i] && strcmp(key[i], k))
		i = (i + 1) & (cap - 1);
	return &key[i];
}

static int dirty_add(struct dirty_set *s, const char *pk, const char *dn)
{
	char k[2 * COAP_REGISTRY_ID_MAX + 2], **slot, **key;
	size_t cap, i;

	snprintf(k, sizeof(k), "%s/%s", pk, dn);
	if (2 * (s->n + 1) > s->cap) {
		cap = s->cap ? 2 * s->cap : 64;
		key = calloc(cap, sizeof(*key));
		if (!key)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++)
			if (s->key[i])
				*dirty_slot(key, cap, s->key[i]) = s->key[i];
		free(s->key);
		s->key = key;
		s->cap = cap;
	}
	slot = dirty_slot(s->key, s->cap, k);
	if (*slot)
		return 0;
	*slot = strdup(k);
	if (!*slot)
		return -ENOMEM;
	s->n++;
	return 0;
}

static void dirty_clear(struct dirty_set *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++) {
		free(s->key[i]);
		s->key[i] = NULL;
	}
	s->n = 0;
}

/* "<boot id>/<family id>": which loaded instance of the module this is. */
static void module_instance(uint16_t family, char out[INSTANCE_LEN])
{
	char boot[40] = "?";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f) {
		if (!fgets(boot, sizeof(boot), f))
			strcpy(boot, "?");
		boot[strcspn(boot, "\n")] = '\0';
		fclose(f);
	}
	snprintf(out, INSTANCE_LEN, "%s/%u", boot, family);
}

/* The module still loaded, and the instance coapd started with? */
static bool module_same(struct coapd *d)
{
	struct coap_nl probe;
	bool same;

	if (coap_nl_open(&probe))
		return false;
	same = probe.family == d->nl.family;
	coap_nl_close(&probe);
	return same;
}

/* ---- the kernel's sessions ---- */

struct ksession {
	size_t len;
	char token[COAP_OFFLOAD_TOKEN_MAX];
	uint64_t highest;		/* 0: nothing committed */
};

struct kdump {
	struct ksession *s;
	size_t n, cap;
	bool intr;
	int err;
};

/* The highest committed seq of a session reply, 0 when none yet. */
static uint64_t committed(const struct nlattr **tb)
{
	const struct nlattr *rx = tb[COAP_OFFLOAD_SESSION_A_RX_PACKETS];
	const struct nlattr *hi = tb[COAP_OFFLOAD_SESSION_A_SEQ_HIGHEST];

	/* Before its first delivery the window's highest is the offset. */
	if (!rx || !hi || mnl_attr_validate(rx, MNL_TYPE_U64) ||
	    mnl_attr_validate(hi, MNL_TYPE_U64) || !mnl_attr_get_u64(rx))
		return 0;
	return mnl_attr_get_u64(hi);
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_SESSION);
	const struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1], *tok;
	struct kdump *k = data;
	struct ksession *more;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		k->intr = true;
	if (!nest || k->err)
		return MNL_CB_OK;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_SESSION_A_MAX);
	tok = tb[COAP_OFFLOAD_SESSION_A_TOKEN];
	if (!tok || !mnl_attr_get_payload_len(tok) ||
	    mnl_attr_get_payload_len(tok) > COAP_OFFLOAD_TOKEN_MAX)
		return MNL_CB_OK;
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 256;
		more = realloc(k->s, k->cap * sizeof(*k->s));
		if (!more) {
			k->err = -ENOMEM;
			return MNL_CB_OK;
		}
		k->s = more;
	}
	k->s[k->n].len = mnl_attr_get_payload_len(tok);
	memcpy(k->s[k->n].token, mnl_attr_get_payload(tok), k->s[k->n].len);
	k->s[k->n].highest = committed(tb);
	k->n++;
	return MNL_CB_OK;
}

static int ksession_cmp(const void *a, const void *b)
{
	const struct ksession *x = a, *y = b;
	size_t len = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->token, y->token, len);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/*
 * Every session of the kernel, sorted by token. A dump the table changed
 * under (NLM_F_DUMP_INTR) may have missed some: taken again, a few times.
 */
static int kernel_dump(struct coapd *d, struct kdump *k)
{
	char buf[COAP_NL_BUF_SIZE];
	int tries, err = 0;

	for (tries = 0; tries < DUMP_TRIES; tries++) {
		k->n = 0;
		k->intr = false;
		k->err = 0;
		err = coap_nl_talk(&d->nl, coap_nl_request(&d->nl, buf,
				   COAP_OFFLOAD_CMD_SESSION_GET, NLM_F_DUMP),
				   dump_cb, k);
		if (err == -EINTR) {
			/* NLM_F_DUMP_INTR (coap_nl_talk() read it to its end). */
			k->intr = true;
			err = 0;
			continue;
		}
		if (!err)
			err = k->err;
		if (err || !k->intr)
			break;
	}
	if (!err && k->intr)
		coapd_log(LOG_WARNING, "sessions: the kernel's table kept changing during the dump: no session is taken for gone");
	if (!err)
		qsort(k->s, k->n, sizeof(*k->s), ksession_cmp);
	return err;
}

static const struct ksession *kernel_find(const struct kdump *k,
					  const char *token)
{
	struct ksession key = { .len = strlen(token) };

	if (key.len > sizeof(key.token))
		return NULL;
	memcpy(key.token, token, key.len);
	return bsearch(&key, k->s, k->n, sizeof(*k->s), ksession_cmp);
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_SESSION);
	const struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];

	if (nest) {
		coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_SESSION_A_MAX);
		*(uint64_t *)data = committed(tb);
	}
	return MNL_CB_OK;
}

/* One session's committed seq (0: none yet); -ENOENT when it is gone. */
static int kernel_get(struct coapd *d, const char *token, uint64_t *highest)
{
	char buf[COAP_NL_SESSION_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	*highest = 0;
	nlh = coap_nl_request_in(&d->nl, buf, sizeof(buf),
				 COAP_OFFLOAD_CMD_SESSION_GET, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	mnl_attr_nest_end(nlh, nest);
	return coap_nl_talk(&d->nl, nlh, get_cb, highest);
}

/* Push a stored session back with what is left of its lifetime. */
static int kernel_restore(struct coapd *d, const struct coap_session_record *s,
			  uint32_t lifetime, uint64_t seq_offset)
{
	/* Once per stored session at startup: not 32 KiB to clear each. */
	char buf[COAP_NL_SESSION_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int err;

	nlh = coap_nl_request_in(&d->nl, buf, sizeof(buf),
				 COAP_OFFLOAD_CMD_SESSION_NEW, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(s->token),
		     s->token);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY,
			  s->product_key);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME,
			  s->device_name);
	if (s->cipher == COAP_REGISTRY_CIPHER_DTLS) {
		/* coapd's DTLS port: no key, nothing for the fast path. */
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_MODE,
				 COAP_OFFLOAD_MODE_DTLS);
	} else {
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_CIPHER, s->cipher);
		mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_KEY, sizeof(s->key),
			     s->key);
		mnl_attr_put_u64(nlh, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET,
				 seq_offset);
	}
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_LIFETIME, lifetime);
	if (s->idle_timeout)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT,
				 s->idle_timeout);
	if (s->ack_mode)
		mnl_attr_put_u8(nlh, COAP_OFFLOAD_SESSION_A_ACK_MODE,
				s->ack_mode);
	mnl_attr_nest_end(nlh, nest);
	err = coap_nl_talk(&d->nl, nlh, NULL, NULL);
	/* The request held the key. */
	explicit_bzero(buf, sizeof(buf));
	return err;
}

/* ---- reconciling the table with the kernel ---- */

struct reconcile {
	struct coapd *d;
	struct kdump k;
	time_t now;
	bool restore;		/* startup after a module (re)load */
	unsigned int present, restored, expired, gone, revoked, failed;
};

static void drop(struct coapd *d, const struct coap_session_record *s)
{
	int err = coap_registry_session_del(d->reg, s->token);

	coapd_tokenset_del(&d->persist->rows, s->token, strlen(s->token));
	if (err && err != -ENOENT)
		coapd_log(LOG_ERR, "sessions: delete %s/%s: %s", s->product_key,
			  s->device_name, strerror(-err));
}

static int reconcile_cb(const struct coap_session_record *s, void *data)
{
	struct reconcile *rc = data;
	struct coapd *d = rc->d;
	const struct ksession *ks = kernel_find(&rc->k, s->token);
	char redacted[COAPD_REDACT_LEN];
	struct coap_device dev;
	uint64_t offset;
	int64_t left;
	int err;

	/* It has a row (until drop() below deletes it). */
	rows_note(d->persist, s->token);
	if (ks) {
		rc->present++;
		if (ks->highest > s->seq_highest &&
		    coap_registry_session_seq(d->reg, s->token, ks->highest))
			coapd_log(LOG_ERR, "sessions: update %s/%s failed",
				  s->product_key, s->device_name);
		return 0;
	}
	left = s->expires - rc->now;
	if (left <= 0) {
		rc->expired++;
		drop(d, s);
		return 0;
	}
	if (!rc->restore) {
		/* A dump the table kept changing under may have missed it. */
		if (rc->k.intr)
			return 0;
		/* Deleted from this very module instance, or idled out. */
		rc->gone++;
		drop(d, s);
		return 0;
	}
	/* A disabled device authenticates again (and is refused). */
	err = coap_registry_get(d->reg, s->product_key, s->device_name, &dev);
	explicit_bzero(dev.secret, sizeof(dev.secret));
	if (err || !dev.enabled) {
		rc->revoked++;
		drop(d, s);
		return 0;
	}
	/* A clock set back must not lengthen the session. */
	if (left > s->lifetime)
		left = s->lifetime;
	/* Every seq up to the highest committed one was delivered already. */
	offset = s->seq_offset;
	if (s->seq_highest >= offset)
		offset = s->seq_highest + 1;
	err = kernel_restore(d, s, left, offset);
	if (err) {
		rc->failed++;
		coapd_log(LOG_ERR, "sessions: restore %s/%s token %s: %s%s%s",
			  s->product_key, s->device_name,
			  coapd_redact(s->token, redacted), strerror(-err),
			  d->nl.error[0] ? ": " : "", d->nl.error);
		return 0;
	}
	rc->restored++;
	coapd_log(LOG_DEBUG, "sessions: restored %s/%s token %s, %llds left, seq from %llu",
		  s->product_key, s->device_name,
		  coapd_redact(s->token, redacted), (long long)left,
		  (unsigned long long)offset);
	return 0;
}

static int reconcile(struct coapd *d, bool startup, bool restore)
{
	struct reconcile rc = { .d = d, .now = time(NULL), .restore = restore };
	unsigned int corrupt = 0;
	int err;

	err = kernel_dump(d, &rc.k);
	if (err) {
		coapd_log(LOG_ERR, "sessions: dump the kernel's: %s",
			  strerror(-err));
		goto out;
	}
	err = coap_registry_begin(d->reg);
	if (!err)
		err = coap_registry_session_foreach(d->reg, NULL, NULL,
						    reconcile_cb, &rc, &corrupt);
	if (!err)
		err = coap_registry_state_set(d->reg, STATE_MODULE,
					      d->persist->instance);
	if (!err)
		err = coap_registry_commit(d->reg);
	else
		coap_registry_commit(d->reg);
	if (err) {
		coapd_log(LOG_ERR, "sessions: registry: %s", strerror(-err));
		goto out;
	}
	/* Sessions the table does not know (coapctl session add) stay. */
	coapd_log(startup || rc.gone || rc.expired || corrupt ? LOG_NOTICE :
							       LOG_DEBUG,
		  "sessions: %u in the kernel, %u restored, %u expired, %u gone from the kernel, %u of disabled or deleted devices, %u corrupt, %u failed; %zu kernel sessions in all",
		  rc.present, rc.restored, rc.expired, rc.gone, rc.revoked,
		  corrupt, rc.failed, rc.k.n);
out:
	free(rc.k.s);
	return err;
}

int coapd_persist_resync(struct coapd *d)
{
	char stored[INSTANCE_LEN] = "";
	bool restore;

	coap_registry_state_get(d->reg, STATE_MODULE, stored, sizeof(stored));
	/* Same boot, same family id: the kernel's table is the one we left. */
	restore = strcmp(stored, d->persist->instance) != 0;
	if (!restore)
		coapd_log(LOG_INFO, "sessions: the module is the one coapd ran with: nothing to restore");
	return reconcile(d, true, restore);
}

/* ---- while running ---- */

static int pending_add(struct coapd_persist *p, bool del,
		       const struct coap_session_record *s)
{
	struct pending *e = malloc(sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->del = del;
	e->rec = *s;
	*p->tail = e;
	p->tail = &e->next;
	return 0;
}

/* The pending grants and deletions, into the open transaction. */
static void pending_write(struct coapd *d)
{
	struct coapd_persist *p = d->persist;
	struct pending *e;
	int err;

	while ((e = p->head)) {
		p->head = e->next;
		err = coap_registry_begin(d->reg);
		if (!err && e->del) {
			err = coap_registry_session_del(d->reg, e->rec.token);
			if (err == -ENOENT)
				err = 0;
		} else if (!err) {
			err = coap_registry_session_put(d->reg, &e->rec);
		}
		if (err)
			coapd_log(LOG_WARNING, "sessions: %s %s/%s: %s (it will not survive a module reload)",
				  e->del ? "forget" : "record",
				  e->del ? "a" : e->rec.product_key,
				  e->del ? "session" : e->rec.device_name,
				  err == -ENOENT ? "the device is gone from the registry" :
				  strerror(-err));
		/* It held a key. */
		explicit_bzero(e, sizeof(*e));
		free(e);
	}
	p->tail = &p->head;
}

void coapd_persist_granted(struct coapd *d, const char *token, const char *pk,
			   const char *dn, enum coap_cipher cipher,
			   const uint8_t *key, uint64_t seq_offset,
			   uint32_t lifetime, uint32_t idle_timeout,
			   uint8_t ack_mode)
{
	struct coap_session_record s = {
		.cipher = cipher, .seq_offset = seq_offset,
		.created = time(NULL), .lifetime = lifetime,
		.idle_timeout = idle_timeout, .ack_mode = ack_mode,
	};
	int err;

	if (!d->persist)
		return;
	snprintf(s.token, sizeof(s.token), "%s", token);
	snprintf(s.product_key, sizeof(s.product_key), "%s", pk);
	snprintf(s.device_name, sizeof(s.device_name), "%s", dn);
	memcpy(s.key, key, sizeof(s.key));
	s.expires = s.created + lifetime;
	/* Its deliveries are recorded from the first (the row comes first). */
	rows_note(d->persist, token);
	/* Written with the next tick, in one transaction with the others. */
	err = pending_add(d->persist, false, &s);
	explicit_bzero(&s, sizeof(s));
	if (err)
		coapd_log(LOG_WARNING, "sessions: record %s/%s: out of memory (it will not survive a module reload)",
			  pk, dn);
}

void coapd_persist_revoked(struct coapd *d, const char *token)
{
	struct coap_session_record s = { 0 };

	if (!d->persist)
		return;
	coapd_tokenset_del(&d->persist->rows, token, strlen(token));
	snprintf(s.token, sizeof(s.token), "%s", token);
	if (pending_add(d->persist, true, &s))
		coapd_log(LOG_ERR, "sessions: forget a session: out of memory");
}

void coapd_persist_delivered(struct coapd *d, const char *token,
			     size_t token_len, uint64_t seq)
{
	struct coapd_persist *p = d->persist;
	bool valid, nul = false;
	uint64_t h = 0;

	if (!p)
		return;
	/*
	 * A module without the token attribute, or a mangled one. The hash
	 * serves the row set and the seq map, and its pass finds a NUL.
	 */
	valid = token && token_len && token_len <= COAP_OFFLOAD_TOKEN_MAX;
	if (valid)
		h = coapd_token_fnv(token, token_len, &nul);
	if (!valid || nul) {
		/* coapd and the module come from one tree: not expected. */
		if (!p->no_token)
			coapd_log(LOG_ERR, "sessions: a delivered message without a valid session token: its seq is not recorded (a module reload may accept it again)");
		p->no_token = true;
		return;
	}
	/* No row to raise (a static session): nothing to write. */
	if (!p->rows_unknown && !coapd_tokenset_has_fnv(&p->rows, h))
		return;
	if (seq_note(&p->seqs, token, token_len, h, seq) && !p->sweep) {
		/* Lost only the seq update: the sweep reads it back. */
		coapd_log(LOG_WARNING, "sessions: out of memory: reading every session's seq back from the kernel");
		p->sweep = true;
	}
}

/*
 * The seqs delivered since the last tick, into the tick's transaction; the
 * map is cleared once that is committed (kept for the next tick if not).
 */
static void seq_write(struct coapd *d)
{
	struct seq_map *m = &d->persist->seqs;
	unsigned int failed = 0;
	size_t i;
	int err, ret;

	if (!m->n)
		return;
	err = coap_registry_begin(d->reg);
	if (err) {
		coapd_log(LOG_WARNING, "sessions: registry busy: %zu seq updates wait for the next second",
			  m->n);
		return;
	}
	for (i = 0; i < m->n; i++) {
		ret = coap_registry_session_raise(d->reg, m->e[i].token,
						  m->e[i].len, m->e[i].seq);
		if (ret < 0) {
			failed++;
			err = ret;
		}
	}
	/* Counted, never named: the token is all that names a session. */
	if (failed)
		coapd_log(LOG_ERR, "sessions: %u of %zu seq updates failed: %s",
			  failed, m->n, strerror(-err));
}

/* One marked device: its sessions' committed seqs, or their deletion. */
struct device_check {
	struct coapd *d;
	int same;		/* -1: not asked yet */
};

static int device_cb(const struct coap_session_record *s, void *data)
{
	struct device_check *c = data;
	struct coapd *d = c->d;
	uint64_t highest;
	int err;

	err = kernel_get(d, s->token, &highest);
	if (!err) {
		if (highest > s->seq_highest &&
		    coap_registry_session_seq(d->reg, s->token, highest))
			coapd_log(LOG_ERR, "sessions: update %s/%s failed",
				  s->product_key, s->device_name);
		return 0;
	}
	if (err != -ENOENT) {
		coapd_log(LOG_WARNING, "sessions: read %s/%s back: %s",
			  s->product_key, s->device_name, strerror(-err));
		return 0;
	}
	/* A gone family answers -ENOENT too: only trust a live module. */
	if (c->same < 0)
		c->same = module_same(d);
	if (!c->same) {
		d->persist->module_gone = true;
		return 1;
	}
	coapd_log(LOG_INFO, "sessions: %s/%s: a session expired or was deleted",
		  s->product_key, s->device_name);
	drop(d, s);
	return 0;
}

static void flush_dirty(struct coapd *d)
{
	struct coapd_persist *p = d->persist;
	struct device_check c = { .d = d, .same = -1 };
	size_t i;
	int err;

	for (i = 0; i < p->dirty.cap && !p->module_gone; i++) {
		char *pk = p->dirty.key[i], *dn;

		if (!pk)
			continue;
		dn = strchr(pk, '/');
		*dn++ = '\0';
		err = coap_registry_begin(d->reg);
		if (!err)
			err = coap_registry_session_foreach(d->reg, pk, dn,
							    device_cb, &c, NULL);
		if (err < 0)
			coapd_log(LOG_ERR, "sessions: %s/%s: %s", pk, dn,
				  strerror(-err));
	}
	dirty_clear(&p->dirty);
}

int coapd_persist_tick(struct coapd *d)
{
	struct coapd_persist *p = d->persist;
	uint64_t expirations;
	int err;

	if (read(d->persist_tick_fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		coapd_log(LOG_WARNING, "sessions: timer: %s", strerror(errno));
	pending_write(d);
	seq_write(d);
	if (p->sweep && !p->module_gone) {
		p->sweep = false;
		dirty_clear(&p->dirty);
		if (!module_same(d))
			p->module_gone = true;
		else
			reconcile(d, false, false);
	} else {
		flush_dirty(d);
	}
	err = coap_registry_commit(d->reg);
	if (err)
		coapd_log(LOG_ERR, "sessions: registry commit: %s (session changes since the last second are lost, seqs are tried again)",
			  strerror(-err));
	else
		seq_clear(&p->seqs);
	if (p->module_gone) {
		coapd_log(LOG_ERR, "coap_offload.ko was unloaded or reloaded under coapd: stopping (a restarted coapd restores the sessions)");
		return -1;
	}
	return 0;
}

/* ---- the events group ---- */

static int ctrl_attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_NAME &&
	    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) &&
	    !strcmp(mnl_attr_get_str(attr), COAP_OFFLOAD_GENL_NAME))
		*(bool *)data = true;
	return MNL_CB_OK;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_EVENT_A_MAX + 1], *nest;
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	struct coapd *d = data;
	const char *pk, *dn;
	bool ours = false;
	uint32_t type;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return MNL_CB_OK;
	if (nlh->nlmsg_type == GENL_ID_CTRL) {
		/* The generic netlink controller: a family went away. */
		if (g->cmd == CTRL_CMD_DELFAMILY) {
			mnl_attr_parse(nlh, sizeof(*g), ctrl_attr_cb, &ours);
			if (ours)
				d->persist->module_gone = true;
		}
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_type != d->events.family ||
	    g->cmd != COAP_OFFLOAD_CMD_EVENT)
		return MNL_CB_OK;
	nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_EVENT);
	if (!nest)
		return MNL_CB_OK;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_EVENT_A_MAX);
	if (!tb[COAP_OFFLOAD_EVENT_A_TYPE] ||
	    mnl_attr_validate(tb[COAP_OFFLOAD_EVENT_A_TYPE], MNL_TYPE_U32))
		return MNL_CB_OK;
	/* A session that is gone: expired, or deleted by a command. */
	type = mnl_attr_get_u32(tb[COAP_OFFLOAD_EVENT_A_TYPE]);
	if (type != COAP_OFFLOAD_EVENT_SESSION_EXPIRED &&
	    type != COAP_OFFLOAD_EVENT_SESSION_DELETED)
		return MNL_CB_OK;
	if (!tb[COAP_OFFLOAD_EVENT_A_PRODUCT_KEY] ||
	    !tb[COAP_OFFLOAD_EVENT_A_DEVICE_NAME] ||
	    mnl_attr_validate(tb[COAP_OFFLOAD_EVENT_A_PRODUCT_KEY],
			      MNL_TYPE_NUL_STRING) ||
	    mnl_attr_validate(tb[COAP_OFFLOAD_EVENT_A_DEVICE_NAME],
			      MNL_TYPE_NUL_STRING))
		return MNL_CB_OK;
	pk = mnl_attr_get_str(tb[COAP_OFFLOAD_EVENT_A_PRODUCT_KEY]);
	dn = mnl_attr_get_str(tb[COAP_OFFLOAD_EVENT_A_DEVICE_NAME]);
	/* The event does not say which of the device's sessions: look. */
	if (coap_registry_identity_valid(pk, true) &&
	    coap_registry_identity_valid(dn, false) &&
	    dirty_add(&d->persist->dirty, pk, dn))
		/* Out of memory: the sweep finds the missing session. */
		d->persist->sweep = true;
	return MNL_CB_OK;
}

int coapd_persist_events_input(struct coapd *d)
{
	static char buf[COAP_NL_BUF_SIZE];
	int i, n;

	for (i = 0; i < EVENTS_BUDGET; i++) {
		n = mnl_socket_recvfrom(d->events.nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ENOBUFS) {
				/* Expiries may be among the lost: compare all. */
				coapd_log(LOG_WARNING, "sessions: events overrun: checking every session");
				d->persist->sweep = true;
				continue;
			}
			coapd_log(LOG_ERR, "sessions: events: recv: %s",
				  strerror(errno));
			return -1;
		}
		mnl_cb_run(buf, n, 0, 0, event_cb, d);
	}
	if (d->persist->module_gone) {
		/*
		 * Whatever the last second brought, before stopping: the seqs
		 * too (delivered, so real), which the restore starts above.
		 */
		pending_write(d);
		seq_write(d);
		if (!coap_registry_commit(d->reg))
			seq_clear(&d->persist->seqs);
		coapd_log(LOG_ERR, "coap_offload.ko was unloaded under coapd: stopping (a restarted coapd restores the sessions)");
		return -1;
	}
	return 0;
}

int coapd_persist_open(struct coapd *d)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = PERSIST_TICK_SEC },
		.it_value = { .tv_sec = PERSIST_TICK_SEC },
	};
	uint32_t ctrl_notify = GENL_ID_CTRL;
	int rcvbuf = EVENTS_RCVBUF, fd, err;

	d->persist = calloc(1, sizeof(*d->persist));
	if (!d->persist)
		return -ENOMEM;
	d->persist->tail = &d->persist->head;
	module_instance(d->nl.family, d->persist->instance);
	err = coap_nl_open(&d->events);
	if (err)
		return err;
	/*
	 * The module's events (expiries, deletions), and the controller's notifications
	 * (the family's removal: the controller's "notify" group has the id
	 * GENL_ID_CTRL).
	 */
	err = coap_nl_join(&d->events, d->events.mcgrp_events);
	if (!err)
		err = coap_nl_join(&d->events, ctrl_notify);
	if (err)
		return err;
	fd = mnl_socket_get_fd(d->events.nl);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		return -errno;
	d->persist_tick_fd = timerfd_create(CLOCK_MONOTONIC,
					    TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->persist_tick_fd < 0 ||
	    timerfd_settime(d->persist_tick_fd, 0, &its, NULL))
		return -errno;
	return 0;
}

void coapd_persist_close(struct coapd *d)
{
	if (d->persist) {
		/* The last second's grants and seqs; losses while it can say. */
		pending_write(d);
		seq_write(d);
		if (!d->persist->module_gone)
			flush_dirty(d);
		if (coap_registry_commit(d->reg))
			coapd_log(LOG_ERR, "sessions: final registry commit failed");
		seq_clear(&d->persist->seqs);
		free(d->persist->seqs.e);
		free(d->persist->seqs.slot);
		coapd_tokenset_free(&d->persist->rows);
		dirty_clear(&d->persist->dirty);
		free(d->persist->dirty.key);
		free(d->persist);
		d->persist = NULL;
	}
	if (d->persist_tick_fd >= 0)
		close(d->persist_tick_fd);
	d->persist_tick_fd = -1;
	coap_nl_close(&d->events);
}
