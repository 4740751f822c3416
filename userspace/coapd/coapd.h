/* SPDX-License-Identifier: GPL-2.0 */
/*
 * coapd: the control path of coap-offload (DESIGN.md). Symmetric mode only in
 * this version: /auth on UDP 5682 (v4 and v6), sessions pushed to
 * coap_offload.ko, delivered messages written to a JSON-lines sink.
 */
#ifndef COAPD_H
#define COAPD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <syslog.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "coap_nl.h"
#include "coap_proto.h"
#include "ratelimit.h"
#include "registry.h"

/* A session request's strings fit COAP_NL_SESSION_REQ_SIZE (coap_nl.h). */
_Static_assert(COAP_REGISTRY_ID_MAX <= COAP_OFFLOAD_IDENTITY_MAX &&
	       COAP_REGISTRY_TOKEN_MAX <= COAP_OFFLOAD_TOKEN_MAX,
	       "registry strings longer than the kernel takes");

#define COAPD_CONFIG_DEFAULT_PATH	"/etc/coap-offload/coapd.conf"
#define COAPD_PORT			5682
#define COAPD_TOKEN_LIFETIME		(7U * 24 * 3600)
#define COAPD_DTLS_PORT			5684
#define COAPD_DTLS_MAX_SESSIONS		1024
#define COAPD_DTLS_IDLE_TIMEOUT		300
#define COAPD_DTLS_HANDSHAKE_RATE	60
/* Failed /auth: 10 in a row, then one per 10 s, per source and per device. */
#define COAPD_AUTH_FAIL_BURST		10
#define COAPD_AUTH_FAIL_RATE		6	/* per minute */
#define COAPD_AUTH_FAIL_ENTRIES		4096
/* --no-offload's session limit unless --max-sessions: the module's default. */
#define COAPD_MAX_SESSIONS		(1U << 20)
/*
 * The consumer socket's read buffer: the largest datagram of packed
 * messages the module sends (COAP_OFFLOAD_A_CONSUMER_BATCH).
 */
#define COAPD_CONSUMER_BATCH		65536
/* RFC 7252 §4.8's defaults, for ackMode 1's separate responses. */
#define COAPD_ACK_TIMEOUT_MS		2000
#define COAPD_MAX_RETRANSMIT		4

enum coapd_log_target { COAPD_LOG_DEFAULT, COAPD_LOG_STDERR, COAPD_LOG_SYSLOG };

/* config.c fills it from the config file and the command line. */
struct coapd_config {
	bool foreground;
	bool check_only;		/* --check-config */
	uint16_t port;
	const char *registry_path;
	const char *sink_path;		/* NULL: stdout */
	bool fsync;
	enum coap_cipher cipher_default;
	uint32_t token_lifetime;	/* seconds */
	uint32_t max_sessions;		/* 0: leave the module's limit */
	uint32_t auth_fail_burst;	/* 0: failures not limited */
	uint32_t auth_fail_rate;	/* failures regained per minute */
	uint32_t auth_fail_entries;	/* per table (sources, devices) */
	int log_level;			/* LOG_ERR .. LOG_DEBUG */
	enum coapd_log_target log_target;
	const char *file_path;		/* the config file read, or NULL */
	char *file_text;		/* its text: the values point into it */
	/* DTLS mode (dtls.c): port 0 turns it off; no cert: PSK only. */
	uint16_t dtls_port;
	const char *dtls_cert, *dtls_key;	/* PEM files */
	unsigned int dtls_max_sessions;
	unsigned int dtls_idle_timeout;		/* seconds */
	unsigned int dtls_handshake_rate;	/* per host and minute */
	/* The MQTT sink (sink_mqtt.c): on when mqtt_host is set. */
	const char *mqtt_host;
	uint16_t mqtt_port;
	const char *mqtt_prefix;	/* NULL: none */
	const char *mqtt_client_id;	/* NULL: "coapd-<hostname>" */
	const char *mqtt_username;
	const char *mqtt_password_file;
	/*
	 * TLS to the broker, on when a CA is given (file or directory): the
	 * broker's certificate and name are always verified. A client
	 * certificate and key (PEM, unencrypted) when the broker asks for one.
	 */
	const char *mqtt_cafile, *mqtt_capath;
	const char *mqtt_certfile, *mqtt_keyfile;
	const char *spool_dir;
	uint64_t spool_max_bytes;
	bool no_offload;		/* serve publishes here (userpath.c) */
	uint32_t idle_timeout;		/* seconds; 0: none */
	/* ackMode 1's separate responses (RFC 7252 §4.8 ACK_TIMEOUT, in ms,
	 * and MAX_RETRANSMIT).
	 */
	unsigned int ack_timeout_ms;
	unsigned int max_retransmit;
};

struct coapd {
	struct coapd_config cfg;
	struct coap_nl nl;		/* requests: attach, session push */
	struct coap_nl consumer;	/* delivered messages */
	struct coap_registry *reg;
	int udp4, udp6;			/* -1 when absent */
	int sig_fd;
	struct auth_cache *cache;
	struct coapd_dtls *dtls;	/* NULL when DTLS mode is off */
	/* Failed /auth per source and per device (NULL: not limited). */
	struct ratelimit *auth_fail_source, *auth_fail_device;
	/* persist.c: sessions kept in the registry across restarts. */
	struct coapd_persist *persist;
	struct coap_nl events;		/* expiries, the family's removal */
	int persist_tick_fd;		/* timerfd: seqs to the registry */
	struct coapd_sinks *sinks;
	struct coapd_user *user;	/* --no-offload; NULL otherwise */
	struct confirm *confirm;	/* separate responses awaiting an ACK */
};

/*
 * config.c: defaults, then the config file, then the flags. 0, or -1 after
 * printing why (nothing opened yet). --help prints and exits 0.
 */
int coapd_config_load(struct coapd_config *cfg, int argc, char **argv);
/* The effective configuration as a config file (no secrets in it). */
void coapd_config_print(const struct coapd_config *cfg, FILE *f);
void coapd_config_free(struct coapd_config *cfg);

/* Logging: to stderr or to syslog. */
void coapd_log_init(bool to_syslog, int level);
void coapd_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The first 6 characters of a token followed by "…", for logs: a full token
 * is a credential. out must hold COAPD_REDACT_LEN bytes.
 */
#define COAPD_REDACT_LEN	16
const char *coapd_redact(const char *token, char out[COAPD_REDACT_LEN]);

/* "ip:port" ("[ip6]:port" for IPv6) of a sockaddr_in/in6; "?" if neither. */
#define COAPD_ADDR_LEN		(INET6_ADDRSTRLEN + 10)
const char *coapd_addr_str(const struct sockaddr *sa, socklen_t len,
			   char out[COAPD_ADDR_LEN]);

/* udp.c: the datagrams the module leaves on the UDP socket fd. */
struct auth_cache *coapd_cache_new(void);
void coapd_cache_free(struct auth_cache *c);
void coapd_udp_input(struct coapd *d, int fd);
/*
 * One datagram read elsewhere (userpath.c's batches) that is not a publish
 * of a live session: handled as if read by coapd_udp_input(). mh holds the
 * peer and the control messages of the read.
 */
void coapd_udp_datagram(struct coapd *d, int fd, const uint8_t *buf,
			size_t len, const struct msghdr *mh);
/* Ask for each datagram's local address (to answer from it). 0 or -1. */
int coapd_udp_pktinfo(int fd, int family);

/*
 * dtls.c: DTLS mode on cfg.dtls_port (libcoap + OpenSSL). open: 0 or -1
 * (logged); fd: what the poll loop waits on (-1: off); input: run libcoap
 * (handshakes, requests, its timers) without blocking.
 */
int coapd_dtls_open(struct coapd *d);
int coapd_dtls_fd(const struct coapd *d);
void coapd_dtls_input(struct coapd *d);
void coapd_dtls_tick(struct coapd *d);
void coapd_dtls_close(struct coapd *d);

/* codec.c: the /auth payload, JSON or CBOR, as flat text fields. */
#define AUTH_FIELDS_MAX		16
#define AUTH_NAME_MAX		32
#define AUTH_VALUE_MAX		256

struct auth_input {
	struct coap_proto_field f[AUTH_FIELDS_MAX];
	bool is_string[AUTH_FIELDS_MAX];	/* else an unsigned integer */
	size_t n;
	size_t used;
	char text[AUTH_FIELDS_MAX * (AUTH_NAME_MAX + AUTH_VALUE_MAX + 2)];
};

/* 0, -EBADMSG (not an object/map of short strings and integers), -ENOMEM. */
int coapd_auth_decode(const uint8_t *p, size_t len, bool cbor,
		      struct auth_input *in);
/* The value of field name, or NULL; *is_string (may be NULL) its kind. */
const char *coapd_auth_field(const struct auth_input *in, const char *name,
			     bool *is_string);
/*
 * The 2.05 payload of /auth: symmetric mode's, or DTLS mode's (the token
 * alone) when random is NULL. Its length, -ENOSPC or -ENOMEM.
 */
int coapd_auth_encode_grant(bool cbor, const char *random,
			    unsigned int seq_offset, const char *token,
			    uint8_t *out, size_t cap);

/*
 * One delivered message, whoever decrypted it (the module, or coapd itself
 * for DTLS): what a sink records.
 */
struct coapd_message {
	uint64_t id;			/* the 2090 id the device got */
	const char *product_key, *device_name, *topic;
	const uint8_t *payload;
	size_t payload_len;
	const struct sockaddr *peer;	/* sockaddr_in/in6; peer_len 0: none */
	socklen_t peer_len;
	uint64_t time;			/* receive time, ns since the epoch */
	uint64_t seq;			/* symmetric mode only: has_seq */
	bool has_seq;
	bool from_module;		/* delivered by coap_offload.ko */
	/* The module sent it before, to a coapd that did not confirm it. */
	bool redelivered;
	/*
	 * ackMode 1: the device got an empty ACK and waits for a separate
	 * CON 2.05 with its request's CoAP token, sent from local (the
	 * address it talked to; local_len 0: unknown) once the sink has the
	 * message (confirm.c).
	 */
	bool separate;
	const uint8_t *coap_token;
	size_t coap_token_len;
	const struct sockaddr *local;
	socklen_t local_len;
	/* The module's: its session's token (a secret, never logged). */
	const char *token;
	size_t token_len;
};

/*
 * sink.c: hand one message that coapd decrypted itself to every sink. 0
 * when the sinks have it (or some have it and it is held for the others,
 * see coapd_accepting()); -EAGAIN when no sink took it: do not answer, the
 * device retransmits.
 */
int coapd_sink_deliver(struct coapd *d, const struct coapd_message *m);

struct pollfd;

/*
 * sink.c: the consumer socket and the sinks (JSON lines, MQTT). A message
 * some sink cannot take now is held, and the consumer socket is not read
 * until every sink took it (coapd_accepting() false).
 */
int coapd_sinks_open(struct coapd *d);
void coapd_sinks_close(struct coapd *d);
bool coapd_accepting(const struct coapd *d);
/* The MQTT connection's fd and events, and the poll timeout (ms) needed. */
void coapd_sinks_pollfd(struct coapd *d, struct pollfd *p, int *timeout);
/* After every poll: MQTT I/O (revents of that fd), timers, retries. */
void coapd_sinks_events(struct coapd *d, short revents);
/* Drain the consumer socket. 0, or a negative errno when the consumer
 * socket itself failed (the daemon then stops).
 */
int coapd_consumer_input(struct coapd *d);
/*
 * Once registered: have the module send the messages an earlier coapd did
 * not confirm. 0 or a negative errno.
 */
int coapd_consumer_start(struct coapd *d);
/* At exit, once the UDP sockets are detached: deliver what is queued. */
void coapd_sinks_drain(struct coapd *d);

/* sink_mqtt.c: the MQTT sink, spooled on disk until the broker's PUBACK. */
struct mqtt_sink;
int mqtt_sink_open(const struct coapd_config *cfg, struct mqtt_sink **m);
void mqtt_sink_close(struct mqtt_sink *m);
/*
 * 0: spooled (it will reach the broker); -EAGAIN: not now (spool full or
 * failing), offer it again later; another negative errno: never (it cannot
 * be an MQTT message; said in the log).
 */
int mqtt_sink_accept(struct mqtt_sink *m, const struct coapd_message *msg);
void mqtt_sink_pollfd(struct mqtt_sink *m, struct pollfd *p, int *timeout);
void mqtt_sink_events(struct mqtt_sink *m, short revents);

/*
 * persist.c: every granted session recorded in the registry, its highest
 * delivered seq kept up to date (once a second), and reconciled with the kernel's
 * table at startup: sessions of a reloaded module are restored. open and
 * resync before the UDP sockets are attached; tick on persist_tick_fd and
 * events_input on the events socket; -1 from either: the module went away
 * and the daemon stops. close commits what is left.
 */
int coapd_persist_open(struct coapd *d);
int coapd_persist_resync(struct coapd *d);
int coapd_persist_tick(struct coapd *d);
int coapd_persist_events_input(struct coapd *d);
void coapd_persist_close(struct coapd *d);
/* Hooks: a session pushed to the kernel (key: COAP_PROTO_KEY_LEN bytes),
 * one deleted, a message delivered by the module on the session token
 * (token_len bytes, not NUL-terminated) with seq.
 */
void coapd_persist_granted(struct coapd *d, const char *token, const char *pk,
			   const char *dn, enum coap_cipher cipher,
			   const uint8_t *key, uint64_t seq_offset,
			   uint32_t lifetime, uint32_t idle_timeout,
			   uint8_t ack_mode);
void coapd_persist_revoked(struct coapd *d, const char *token);
void coapd_persist_delivered(struct coapd *d, const char *token,
			     size_t token_len, uint64_t seq);

/*
 * userpath.c: --no-offload, the module's publish path in user space with
 * its own session table (sessions.h); see the file's header.
 */
struct coapd_user_stats {
	uint64_t rx, passed, delivered, retransmits, replays, decrypt_errors,
		 forbidden, no_consumer, tx_errors, expired;
};

struct coapd_user *coapd_user_new(size_t max_sessions, uint32_t idle_timeout);
void coapd_user_free(struct coapd_user *u);
/* 0, -EEXIST (token taken), -ENOSPC (table full), -EINVAL, -ENOMEM. */
int coapd_user_session_new(struct coapd_user *u, const char *token,
			   const char *pk, const char *dn,
			   enum coap_cipher cipher,
			   const uint8_t key[COAP_PROTO_KEY_LEN],
			   uint64_t seq_offset, uint32_t lifetime);
void coapd_user_session_del(struct coapd_user *u, const char *token);
/* The UDP socket fd is readable: read, serve and answer in batches. */
void coapd_user_input(struct coapd *d, int fd);
/* Expire sessions when due; returns the milliseconds until the next time. */
int coapd_user_tick(struct coapd_user *u);
const struct coapd_user_stats *coapd_user_stats(struct coapd_user *u);
size_t coapd_user_session_count(const struct coapd_user *u);

/*
 * confirm.c: ackMode 1's separate responses. At most COAPD_SEPARATE_MAX
 * wait for their ACK at a time; more are sent once, not retransmitted.
 */
#define COAPD_SEPARATE_MAX	1024
struct confirm *coapd_confirm_new(void);
void coapd_confirm_free(struct confirm *c);
/* A message the sink accepted: its separate CON 2.05, if m->separate. */
void coapd_separate_response(struct coapd *d, const struct coapd_message *m);
/* An ACK or RST from peer: true when it ended a separate response. */
bool coapd_confirm_input(struct coapd *d, const struct sockaddr_storage *peer,
			 const struct coap_msg *msg);
/* The poll timeout (ms) until the next retransmission is due, -1: none. */
int coapd_confirm_timeout(struct coapd *d);
/* Retransmit what is due, give up what has run out of retransmissions. */
void coapd_confirm_tick(struct coapd *d);

#endif /* COAPD_H */
