/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * coap_offload: generic netlink API of the CoAP fast-path module.
 *
 * This header is the contract between coap_offload.ko, the coapd daemon and
 * the coapctl CLI, and its documentation.
 *
 * Family: COAP_OFFLOAD_GENL_NAME, version COAP_OFFLOAD_GENL_VERSION.
 * Every command needs CAP_NET_ADMIN in the network namespace's user namespace
 * (the module's state is per network namespace). Policies are strict: an
 * unknown attribute, a wrong length or trailing garbage is rejected with
 * -EINVAL, a value out of its range with -ERANGE, each with an extended ACK
 * naming the attribute.
 *
 * The family is "new style": the kernel rejects NLM_F_CREATE/NLM_F_EXCL/
 * NLM_F_REPLACE on it, so create and replace are separate commands.
 */
#ifndef _UAPI_LINUX_COAP_OFFLOAD_H
#define _UAPI_LINUX_COAP_OFFLOAD_H

#define COAP_OFFLOAD_GENL_NAME		"coap_offload"
#define COAP_OFFLOAD_GENL_VERSION	1

/**
 * DOC: fast path
 *
 * The daemon opens the UDP socket(s) of symmetric mode (port 5682, IPv4 and
 * IPv6) and attaches them with %COAP_OFFLOAD_CMD_SOCKET_ATTACH. From then on
 * the module sees every datagram first: a well-formed CoAP POST (CON or NON)
 * to "/topic/..." whose option 2088 (or 61, when enabled) names a live
 * session in the table is consumed: the seq option (2089) is decrypted and checked against
 * the session's replay window, the payload decrypted, the topic checked
 * against the session's identity, and the plaintext queued to the registered
 * consumer as a %COAP_OFFLOAD_CMD_MESSAGE; only then is the seq committed and
 * the device answered 2.05 with option 2090 (the message id), or, for a
 * session in %COAP_OFFLOAD_ACK_SEPARATE mode, an empty ACK. Everything
 * else (/auth, unknown tokens, other paths, malformed datagrams) stays on the
 * socket for the daemon to read. Closing the socket detaches it.
 */

/**
 * enum coap_offload_cmd - commands
 * @COAP_OFFLOAD_CMD_UNSPEC: unused
 * @COAP_OFFLOAD_CMD_STATS_GET: do: reply with %COAP_OFFLOAD_A_STATS, the
 *	namespace's global counters (a nest of enum coap_offload_stat).
 * @COAP_OFFLOAD_CMD_SOCKET_ATTACH: do: attach the caller's UDP socket
 *	%COAP_OFFLOAD_A_SOCKET_FD (IPv4 or IPv6, bound). -EBUSY when the socket
 *	already carries an encapsulation, -EINVAL when it is not UDP.
 * @COAP_OFFLOAD_CMD_SOCKET_DETACH: do: detach %COAP_OFFLOAD_A_SOCKET_FD;
 *	-ENOENT when it is not attached here.
 * @COAP_OFFLOAD_CMD_SESSION_NEW: do: add the session %COAP_OFFLOAD_A_SESSION
 *	(TOKEN, PRODUCT_KEY, DEVICE_NAME, CIPHER, KEY and SEQ_OFFSET required;
 *	LIFETIME, IDLE_TIMEOUT, ACK_MODE and MODE optional; a DTLS-mode
 *	session needs only TOKEN, PRODUCT_KEY and DEVICE_NAME). -EEXIST when
 *	the token is taken, -ENOSPC at the session limit.
 * @COAP_OFFLOAD_CMD_SESSION_DEL: do: delete the session whose
 *	%COAP_OFFLOAD_SESSION_A_TOKEN is given (in %COAP_OFFLOAD_A_SESSION);
 *	-ENOENT when there is none. Announced on the events group
 *	(%COAP_OFFLOAD_EVENT_SESSION_DELETED).
 * @COAP_OFFLOAD_CMD_SESSION_GET: do: one session by token; dump: all
 *	sessions. Replies carry %COAP_OFFLOAD_A_SESSION without the key. A
 *	dump during which the table changed carries NLM_F_DUMP_INTR: it may
 *	have missed or repeated sessions; dump again.
 * @COAP_OFFLOAD_CMD_CONSUMER_REGISTER: do: the calling netlink socket becomes
 *	the namespace's consumer of delivered messages (replacing any other);
 *	it stops being one when it closes. Optional:
 *	%COAP_OFFLOAD_A_CONSUMER_CONFIRM, %COAP_OFFLOAD_A_CONSUMER_BATCH.
 * @COAP_OFFLOAD_CMD_MESSAGE: notification to the consumer: one delivered
 *	message (%COAP_OFFLOAD_A_MESSAGE), one per datagram or, for a
 *	consumer registered with %COAP_OFFLOAD_A_CONSUMER_BATCH, several; also
 *	sent to the %COAP_OFFLOAD_MCGRP_MONITOR group, without the payload,
 *	one per datagram.
 * @COAP_OFFLOAD_CMD_SESSION_REPLACE: do: like %COAP_OFFLOAD_CMD_SESSION_NEW
 *	for an existing token (a rekey): the new session takes the old one's
 *	place atomically; counters and replay window start afresh. -ENOENT
 *	when the token is not in the table.
 * @COAP_OFFLOAD_CMD_SESSION_FLUSH: do: delete every session, each
 *	announced on the events group (%COAP_OFFLOAD_EVENT_SESSION_DELETED;
 *	a listener whose socket overruns gets ENOBUFS and must resync).
 * @COAP_OFFLOAD_CMD_STATS_RESET: do: restart the global counters from zero
 *	(%COAP_OFFLOAD_STAT_SESSIONS is a gauge and is not reset).
 * @COAP_OFFLOAD_CMD_CONFIG_SET: do: set the namespace's configuration
 *	(%COAP_OFFLOAD_A_MAX_SESSIONS, %COAP_OFFLOAD_A_TOKEN_ALIAS,
 *	%COAP_OFFLOAD_A_RULES; each optional). A rules list replaces the
 *	current one; an empty %COAP_OFFLOAD_A_RULES restores the defaults.
 * @COAP_OFFLOAD_CMD_CONFIG_GET: do: reply with the configuration.
 * @COAP_OFFLOAD_CMD_EVENT: notification to the %COAP_OFFLOAD_MCGRP_EVENTS
 *	group: %COAP_OFFLOAD_A_EVENT.
 * @COAP_OFFLOAD_CMD_MESSAGE_CONFIRM: do: a consumer registered with
 *	%COAP_OFFLOAD_A_CONSUMER_CONFIRM has taken every message up to and
 *	including %COAP_OFFLOAD_A_MESSAGE_ID (ids rise in the order the
 *	messages reach the consumer); the module lets go of them and sends
 *	the consumer what it does not have yet, as far as its socket takes.
 * @COAP_OFFLOAD_CMD_SOCKET_GET: dump: one reply per socket attached in the
 *	caller's namespace, each with %COAP_OFFLOAD_A_SOCKET.
 */
enum coap_offload_cmd {
	COAP_OFFLOAD_CMD_UNSPEC,
	COAP_OFFLOAD_CMD_STATS_GET,
	COAP_OFFLOAD_CMD_SOCKET_ATTACH,
	COAP_OFFLOAD_CMD_SOCKET_DETACH,
	COAP_OFFLOAD_CMD_SESSION_NEW,
	COAP_OFFLOAD_CMD_SESSION_DEL,
	COAP_OFFLOAD_CMD_SESSION_GET,
	COAP_OFFLOAD_CMD_CONSUMER_REGISTER,
	COAP_OFFLOAD_CMD_MESSAGE,
	COAP_OFFLOAD_CMD_SESSION_REPLACE,
	COAP_OFFLOAD_CMD_SESSION_FLUSH,
	COAP_OFFLOAD_CMD_STATS_RESET,
	COAP_OFFLOAD_CMD_CONFIG_SET,
	COAP_OFFLOAD_CMD_CONFIG_GET,
	COAP_OFFLOAD_CMD_EVENT,
	COAP_OFFLOAD_CMD_MESSAGE_CONFIRM,
	COAP_OFFLOAD_CMD_SOCKET_GET,

	__COAP_OFFLOAD_CMD_MAX,
	COAP_OFFLOAD_CMD_MAX = __COAP_OFFLOAD_CMD_MAX - 1
};

/**
 * enum coap_offload_attr - top-level attributes
 * @COAP_OFFLOAD_A_UNSPEC: unused
 * @COAP_OFFLOAD_A_STATS: nest of enum coap_offload_stat (reply only)
 * @COAP_OFFLOAD_A_SOCKET_FD: u32, a file descriptor of the caller
 * @COAP_OFFLOAD_A_SESSION: nest of enum coap_offload_session_attr
 * @COAP_OFFLOAD_A_MESSAGE: nest of enum coap_offload_message_attr
 *	(notification only)
 * @COAP_OFFLOAD_A_MAX_SESSIONS: u32, the most sessions the namespace holds
 *	(default 1048576); lowering it deletes nothing
 * @COAP_OFFLOAD_A_TOKEN_ALIAS: u8, 1 (default): a token in option 61 is
 *	accepted like one in option 2088 (PROTOCOL.md); 0: only 2088
 * @COAP_OFFLOAD_A_RULES: nest of %COAP_OFFLOAD_A_RULE: the topics a device
 *	may publish to, at most %COAP_OFFLOAD_RULES_MAX
 * @COAP_OFFLOAD_A_RULE: string, one topic rule: "/"-separated segments,
 *	each literal, "{pk}" or "{dn}" (the session's identity), "+" (any one
 *	segment) or, as the last segment only, "#" (one or more segments).
 *	The defaults are PROTOCOL.md's: "/{pk}/{dn}/#", "/sys/{pk}/{dn}/#",
 *	"/ota/device/+/{pk}/{dn}", "/shadow/update/{pk}/{dn}".
 * @COAP_OFFLOAD_A_EVENT: nest of enum coap_offload_event_attr
 * @COAP_OFFLOAD_A_CONSUMER_CONFIRM: flag, in %COAP_OFFLOAD_CMD_CONSUMER_REGISTER:
 *	the consumer confirms what it has taken (%COAP_OFFLOAD_CMD_MESSAGE_CONFIRM).
 *	Until then the module holds each message (at most
 *	%COAP_OFFLOAD_PENDING_MAX_BYTES), so that a consumer that dies loses
 *	nothing the devices were answered for: the next consumer to register
 *	gets every unconfirmed message again, in order, with its original id,
 *	once it sends its first %COAP_OFFLOAD_CMD_MESSAGE_CONFIRM (from another
 *	socket, e.g. with the id of the last message it has, or 0) or the
 *	next message is delivered. Without the flag a message is let go once
 *	it is in the consumer's socket.
 * @COAP_OFFLOAD_A_MESSAGE_ID: u64, in %COAP_OFFLOAD_CMD_MESSAGE_CONFIRM
 * @COAP_OFFLOAD_A_SOCKET: nest of enum coap_offload_socket_attr (reply only)
 * @COAP_OFFLOAD_A_CONSUMER_BATCH: u32, in %COAP_OFFLOAD_CMD_CONSUMER_REGISTER,
 *	with %COAP_OFFLOAD_A_CONSUMER_CONFIRM only (-EINVAL without): the
 *	largest datagram the consumer reads, in bytes,
 *	%COAP_OFFLOAD_CONSUMER_BATCH_MIN..%COAP_OFFLOAD_CONSUMER_BATCH_MAX
 *	(-ERANGE outside). The module then packs several
 *	%COAP_OFFLOAD_CMD_MESSAGE, each a complete netlink message, oldest
 *	first, into one datagram of at most that size (and of at most its own
 *	limit, about 32 KiB); the consumer walks them with NLMSG_NEXT. While
 *	the consumer has not confirmed the last message sent to it, new
 *	messages wait in the module; its next %COAP_OFFLOAD_CMD_MESSAGE_CONFIRM
 *	(whatever its id) sends everything waiting, packed. With nothing
 *	unconfirmed, a new message waits up to a millisecond for others (a
 *	full datagram is sent at once). Without it each message comes in a
 *	datagram of its own, at once.
 */
enum coap_offload_attr {
	COAP_OFFLOAD_A_UNSPEC,
	COAP_OFFLOAD_A_STATS,
	COAP_OFFLOAD_A_SOCKET_FD,
	COAP_OFFLOAD_A_SESSION,
	COAP_OFFLOAD_A_MESSAGE,
	COAP_OFFLOAD_A_MAX_SESSIONS,
	COAP_OFFLOAD_A_TOKEN_ALIAS,
	COAP_OFFLOAD_A_RULES,
	COAP_OFFLOAD_A_RULE,
	COAP_OFFLOAD_A_EVENT,
	COAP_OFFLOAD_A_CONSUMER_CONFIRM,
	COAP_OFFLOAD_A_MESSAGE_ID,
	COAP_OFFLOAD_A_SOCKET,
	COAP_OFFLOAD_A_CONSUMER_BATCH,

	__COAP_OFFLOAD_A_MAX,
	COAP_OFFLOAD_A_MAX = __COAP_OFFLOAD_A_MAX - 1
};

#define COAP_OFFLOAD_TOKEN_MAX		64
#define COAP_OFFLOAD_IDENTITY_MAX	64
#define COAP_OFFLOAD_KEY_LEN		16
#define COAP_OFFLOAD_RULES_MAX		32
#define COAP_OFFLOAD_IDLE_TIMEOUT_MAX	(30U * 24 * 3600)
#define COAP_OFFLOAD_RULE_MAX		255
/* Delivered messages held for a confirming consumer (their skb truesize). */
#define COAP_OFFLOAD_PENDING_MAX_BYTES	(8U << 20)
/*
 * %COAP_OFFLOAD_A_CONSUMER_BATCH's range: the least is more than any one
 * %COAP_OFFLOAD_CMD_MESSAGE takes, so that every message fits.
 */
#define COAP_OFFLOAD_CONSUMER_BATCH_MIN	4096
#define COAP_OFFLOAD_CONSUMER_BATCH_MAX	(1U << 20)

/* Multicast groups; joining either needs CAP_NET_ADMIN. */
#define COAP_OFFLOAD_MCGRP_EVENTS	"events"
#define COAP_OFFLOAD_MCGRP_MONITOR	"monitor"

/**
 * enum coap_offload_socket_attr - an attached socket (%COAP_OFFLOAD_CMD_SOCKET_GET)
 * @COAP_OFFLOAD_SOCKET_A_UNSPEC: unused
 * @COAP_OFFLOAD_SOCKET_A_LOCAL: binary, the address the socket is bound to:
 *	a struct sockaddr_in or sockaddr_in6 (the wildcard address when bound
 *	to all)
 * @COAP_OFFLOAD_SOCKET_A_INODE: u64, the socket's inode number, as in
 *	/proc/PID/fd ("socket:[N]") and ss -e: which process has it
 * @COAP_OFFLOAD_SOCKET_A_ATTACHED: u32, seconds since it was attached
 * @COAP_OFFLOAD_SOCKET_A_RX: u64, datagrams the module saw on it
 * @COAP_OFFLOAD_SOCKET_A_PASSED: u64, of those, left to the daemon
 * @COAP_OFFLOAD_SOCKET_A_PAD: padding for 64-bit attributes
 */
enum coap_offload_socket_attr {
	COAP_OFFLOAD_SOCKET_A_UNSPEC,
	COAP_OFFLOAD_SOCKET_A_LOCAL,
	COAP_OFFLOAD_SOCKET_A_INODE,
	COAP_OFFLOAD_SOCKET_A_ATTACHED,
	COAP_OFFLOAD_SOCKET_A_RX,
	COAP_OFFLOAD_SOCKET_A_PASSED,
	COAP_OFFLOAD_SOCKET_A_PAD,

	__COAP_OFFLOAD_SOCKET_A_MAX,
	COAP_OFFLOAD_SOCKET_A_MAX = __COAP_OFFLOAD_SOCKET_A_MAX - 1
};

/**
 * enum coap_offload_cipher - the session's cipher suite (PROTOCOL.md)
 * @COAP_OFFLOAD_CIPHER_AES_128_CBC: the vendor SDKs' suite
 * @COAP_OFFLOAD_CIPHER_AES_128_CTR: the gateway's own suite
 */
enum coap_offload_cipher {
	COAP_OFFLOAD_CIPHER_AES_128_CBC = 1,
	COAP_OFFLOAD_CIPHER_AES_128_CTR = 2,
};

/**
 * enum coap_offload_ack_mode - how a delivered CON publish is answered
 *	(PROTOCOL.md, the /auth field ackMode)
 * @COAP_OFFLOAD_ACK_PIGGYBACKED: the ACK carries the result: 2.05 with
 *	option 2090
 * @COAP_OFFLOAD_ACK_SEPARATE: the module answers an empty ACK (type ACK,
 *	code 0.00, the request's Message ID, no token, no options) once the
 *	message is queued to the consumer, which sends the result later as a
 *	CON 2.05 of its own (RFC 7252 §5.2.2) once its sinks accepted the
 *	message. A retransmitted CON gets the empty ACK again and is not
 *	delivered twice. Refusals (4.00, 4.03) stay piggy-backed: they are
 *	immediate results. NON publishes get no answer in either mode.
 */
enum coap_offload_ack_mode {
	COAP_OFFLOAD_ACK_PIGGYBACKED = 0,
	COAP_OFFLOAD_ACK_SEPARATE = 1,
};

/**
 * enum coap_offload_session_mode - how the session's device reaches the gateway
 * @COAP_OFFLOAD_MODE_SYMMETRIC: plain UDP, AES inside the messages: the
 *	module's fast path serves its publishes
 * @COAP_OFFLOAD_MODE_DTLS: DTLS (UDP 5684), terminated by the daemon in user
 *	space; the session is in the table so that one table lists every
 *	device, but the fast path never accepts its token (its publishes are
 *	left on the socket for the daemon, which answers 4.01)
 */
enum coap_offload_session_mode {
	COAP_OFFLOAD_MODE_SYMMETRIC = 0,
	COAP_OFFLOAD_MODE_DTLS = 1,
};

/**
 * enum coap_offload_session_attr - a session
 * @COAP_OFFLOAD_SESSION_A_UNSPEC: unused
 * @COAP_OFFLOAD_SESSION_A_TOKEN: binary, 1..%COAP_OFFLOAD_TOKEN_MAX bytes:
 *	the token the gateway issued (the ASCII of option 2088)
 * @COAP_OFFLOAD_SESSION_A_PRODUCT_KEY: string, 1..%COAP_OFFLOAD_IDENTITY_MAX
 *	letters, digits and "-_@.:", not "." or "..", and not "sys", "ota"
 *	or "shadow" (the literal first segments of the default topic rules)
 * @COAP_OFFLOAD_SESSION_A_DEVICE_NAME: string, 1..%COAP_OFFLOAD_IDENTITY_MAX,
 *	the same characters, not "." or ".."
 * @COAP_OFFLOAD_SESSION_A_CIPHER: u32, enum coap_offload_cipher
 * @COAP_OFFLOAD_SESSION_A_KEY: binary, %COAP_OFFLOAD_KEY_LEN bytes; write
 *	only: never in a reply, wiped when the session is freed
 * @COAP_OFFLOAD_SESSION_A_SEQ_OFFSET: u64, the lowest acceptable seq
 * @COAP_OFFLOAD_SESSION_A_LIFETIME: u32, seconds from now until the session
 *	expires (default: 7 days); in replies, the seconds left
 * @COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT: u32, seconds without a delivered
 *	message after which the session expires; 0 (default): never; at most
 *	%COAP_OFFLOAD_IDLE_TIMEOUT_MAX
 * @COAP_OFFLOAD_SESSION_A_RX_PACKETS: u64 (reply): messages delivered
 * @COAP_OFFLOAD_SESSION_A_RX_BYTES: u64 (reply): plaintext bytes delivered
 * @COAP_OFFLOAD_SESSION_A_REPLAYS: u64 (reply): seqs refused as replays
 * @COAP_OFFLOAD_SESSION_A_DECRYPT_ERRORS: u64 (reply): undecryptable seq or
 *	payload
 * @COAP_OFFLOAD_SESSION_A_FORBIDDEN: u64 (reply): publishes to a topic the
 *	device may not use
 * @COAP_OFFLOAD_SESSION_A_SEQ_HIGHEST: u64 (reply): highest seq committed
 * @COAP_OFFLOAD_SESSION_A_PAD: padding for 64-bit attributes
 * @COAP_OFFLOAD_SESSION_A_IDLE: u32 (reply): seconds since the last
 *	delivered message (or since creation)
 * @COAP_OFFLOAD_SESSION_A_PEER: binary (reply): the address the last
 *	delivered message came from, a struct sockaddr_in or sockaddr_in6;
 *	absent before the first
 * @COAP_OFFLOAD_SESSION_A_ACK_MODE: u8, enum coap_offload_ack_mode: how a
 *	delivered CON publish is answered (default
 *	%COAP_OFFLOAD_ACK_PIGGYBACKED; above %COAP_OFFLOAD_ACK_SEPARATE:
 *	-ERANGE); always in replies
 * @COAP_OFFLOAD_SESSION_A_MODE: u32, enum coap_offload_session_mode;
 *	default (and in replies, always present) symmetric. A DTLS-mode
 *	session takes no CIPHER, KEY or SEQ_OFFSET (-EINVAL when present);
 *	its replies carry CIPHER 0
 */
enum coap_offload_session_attr {
	COAP_OFFLOAD_SESSION_A_UNSPEC,
	COAP_OFFLOAD_SESSION_A_TOKEN,
	COAP_OFFLOAD_SESSION_A_PRODUCT_KEY,
	COAP_OFFLOAD_SESSION_A_DEVICE_NAME,
	COAP_OFFLOAD_SESSION_A_CIPHER,
	COAP_OFFLOAD_SESSION_A_KEY,
	COAP_OFFLOAD_SESSION_A_SEQ_OFFSET,
	COAP_OFFLOAD_SESSION_A_LIFETIME,
	COAP_OFFLOAD_SESSION_A_RX_PACKETS,
	COAP_OFFLOAD_SESSION_A_RX_BYTES,
	COAP_OFFLOAD_SESSION_A_REPLAYS,
	COAP_OFFLOAD_SESSION_A_DECRYPT_ERRORS,
	COAP_OFFLOAD_SESSION_A_FORBIDDEN,
	COAP_OFFLOAD_SESSION_A_SEQ_HIGHEST,
	COAP_OFFLOAD_SESSION_A_PAD,
	COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT,
	COAP_OFFLOAD_SESSION_A_IDLE,
	COAP_OFFLOAD_SESSION_A_PEER,
	COAP_OFFLOAD_SESSION_A_ACK_MODE,
	COAP_OFFLOAD_SESSION_A_MODE,

	__COAP_OFFLOAD_SESSION_A_MAX,
	COAP_OFFLOAD_SESSION_A_MAX = __COAP_OFFLOAD_SESSION_A_MAX - 1
};

/**
 * enum coap_offload_message_attr - a delivered message
 * @COAP_OFFLOAD_MESSAGE_A_UNSPEC: unused
 * @COAP_OFFLOAD_MESSAGE_A_ID: u64, the gateway's message id (option 2090)
 * @COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY: string
 * @COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME: string
 * @COAP_OFFLOAD_MESSAGE_A_TOPIC: string, "/a1PK/dev1/user/update"
 * @COAP_OFFLOAD_MESSAGE_A_PAYLOAD: binary, the plaintext (may be empty)
 * @COAP_OFFLOAD_MESSAGE_A_PEER: binary, the device's address: a struct
 *	sockaddr_in or sockaddr_in6
 * @COAP_OFFLOAD_MESSAGE_A_TIME: u64, receive time, ns since the epoch
 * @COAP_OFFLOAD_MESSAGE_A_SEQ: u64, the message's seq
 * @COAP_OFFLOAD_MESSAGE_A_PAD: padding for 64-bit attributes
 * @COAP_OFFLOAD_MESSAGE_A_PAYLOAD_LEN: u32, the plaintext's length (in
 *	monitor copies, which carry no payload)
 * @COAP_OFFLOAD_MESSAGE_A_REDELIVERED: u8 (not in the monitor group's
 *	copies): 1 when the message was sent before, to a confirming consumer
 *	that did not confirm it and may have taken it (compare the id)
 * @COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN: binary, 0..8 bytes: the CoAP token of
 *	the device's request (the header's, not option 2088), which a separate
 *	response must carry
 * @COAP_OFFLOAD_MESSAGE_A_SEPARATE: flag: the request was a CON of a
 *	%COAP_OFFLOAD_ACK_SEPARATE session and got an empty ACK; the device
 *	waits for the consumer's separate CON 2.05 with option 2090 = ID.
 *	A redelivered copy carries it too (and the token and local address):
 *	the device may still be waiting for that response
 * @COAP_OFFLOAD_MESSAGE_A_LOCAL: binary, the gateway address the request was
 *	sent to (a struct sockaddr_in or sockaddr_in6; for a link-local IPv6
 *	address, sin6_scope_id is the arrival interface): a separate response
 *	leaves from it
 * @COAP_OFFLOAD_MESSAGE_A_TOKEN: binary (not in the monitor group's copies):
 *	the token of the session the message was delivered on (a secret:
 *	the consumer must not log it), so that the consumer can tell a
 *	device's sessions apart, e.g. to record each one's highest seq
 */
enum coap_offload_message_attr {
	COAP_OFFLOAD_MESSAGE_A_UNSPEC,
	COAP_OFFLOAD_MESSAGE_A_ID,
	COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY,
	COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME,
	COAP_OFFLOAD_MESSAGE_A_TOPIC,
	COAP_OFFLOAD_MESSAGE_A_PAYLOAD,
	COAP_OFFLOAD_MESSAGE_A_PEER,
	COAP_OFFLOAD_MESSAGE_A_TIME,
	COAP_OFFLOAD_MESSAGE_A_SEQ,
	COAP_OFFLOAD_MESSAGE_A_PAD,
	COAP_OFFLOAD_MESSAGE_A_PAYLOAD_LEN,
	COAP_OFFLOAD_MESSAGE_A_REDELIVERED,
	COAP_OFFLOAD_MESSAGE_A_COAP_TOKEN,
	COAP_OFFLOAD_MESSAGE_A_SEPARATE,
	COAP_OFFLOAD_MESSAGE_A_LOCAL,
	COAP_OFFLOAD_MESSAGE_A_TOKEN,

	__COAP_OFFLOAD_MESSAGE_A_MAX,
	COAP_OFFLOAD_MESSAGE_A_MAX = __COAP_OFFLOAD_MESSAGE_A_MAX - 1
};

/**
 * enum coap_offload_event_type - what an event reports
 * @COAP_OFFLOAD_EVENT_SESSION_EXPIRED: the session's lifetime or idle
 *	timeout ran out; it was deleted
 * @COAP_OFFLOAD_EVENT_REPLAY: a seq was refused as a replay
 * @COAP_OFFLOAD_EVENT_DECRYPT_ERROR: a seq or payload did not decrypt
 * @COAP_OFFLOAD_EVENT_FORBIDDEN: a publish to a topic the device may not use
 * @COAP_OFFLOAD_EVENT_SESSION_DELETED: the session was deleted by a command
 *	(%COAP_OFFLOAD_CMD_SESSION_DEL, or one event per session for
 *	%COAP_OFFLOAD_CMD_SESSION_FLUSH). %COAP_OFFLOAD_CMD_SESSION_REPLACE
 *	sends none: the token stays in the table, the session is not gone.
 *	Like every event it names the device, not the session: a listener
 *	keeping a copy of the table looks the device's sessions up.
 */
enum coap_offload_event_type {
	COAP_OFFLOAD_EVENT_SESSION_EXPIRED = 1,
	COAP_OFFLOAD_EVENT_REPLAY,
	COAP_OFFLOAD_EVENT_DECRYPT_ERROR,
	COAP_OFFLOAD_EVENT_FORBIDDEN,
	COAP_OFFLOAD_EVENT_SESSION_DELETED,
};

/**
 * enum coap_offload_event_attr - an event (never carries the token or key)
 * @COAP_OFFLOAD_EVENT_A_UNSPEC: unused
 * @COAP_OFFLOAD_EVENT_A_TYPE: u32, enum coap_offload_event_type
 * @COAP_OFFLOAD_EVENT_A_PRODUCT_KEY: string
 * @COAP_OFFLOAD_EVENT_A_DEVICE_NAME: string
 * @COAP_OFFLOAD_EVENT_A_PEER: binary, struct sockaddr_in or sockaddr_in6
 *	(absent for expiry and deletion)
 * @COAP_OFFLOAD_EVENT_A_TOPIC: string (%COAP_OFFLOAD_EVENT_FORBIDDEN only)
 */
enum coap_offload_event_attr {
	COAP_OFFLOAD_EVENT_A_UNSPEC,
	COAP_OFFLOAD_EVENT_A_TYPE,
	COAP_OFFLOAD_EVENT_A_PRODUCT_KEY,
	COAP_OFFLOAD_EVENT_A_DEVICE_NAME,
	COAP_OFFLOAD_EVENT_A_PEER,
	COAP_OFFLOAD_EVENT_A_TOPIC,

	__COAP_OFFLOAD_EVENT_A_MAX,
	COAP_OFFLOAD_EVENT_A_MAX = __COAP_OFFLOAD_EVENT_A_MAX - 1
};

/**
 * enum coap_offload_stat - counters, each a u64, per namespace
 * @COAP_OFFLOAD_STAT_UNSPEC: unused
 * @COAP_OFFLOAD_STAT_SESSIONS: sessions in the table now
 * @COAP_OFFLOAD_STAT_RX: datagrams seen on attached sockets
 * @COAP_OFFLOAD_STAT_PASSED: datagrams left to the daemon
 * @COAP_OFFLOAD_STAT_DELIVERED: messages queued to the consumer and answered
 * @COAP_OFFLOAD_STAT_RETRANSMITS: retransmitted CONs answered again
 * @COAP_OFFLOAD_STAT_REPLAYS: seqs refused as replays (4.00)
 * @COAP_OFFLOAD_STAT_DECRYPT_ERRORS: undecryptable seq or payload (4.00)
 * @COAP_OFFLOAD_STAT_FORBIDDEN: topics refused (4.03)
 * @COAP_OFFLOAD_STAT_NO_CONSUMER: messages no consumer could take (no answer)
 * @COAP_OFFLOAD_STAT_TX_ERRORS: answers that could not be sent
 * @COAP_OFFLOAD_STAT_PAD: padding for 64-bit attributes
 * @COAP_OFFLOAD_STAT_EXPIRED: sessions deleted by expiry
 * @COAP_OFFLOAD_STAT_DEBUG_DROPPED: datagrams dropped unread because the
 *	module parameter debug_drop_all is set. DEBUG ONLY, off by default:
 *	with it every datagram on every attached socket is consumed and freed
 *	as soon as UDP hands it over (no fast path, nothing reaches the
 *	daemon); the benchmark (tools/bench/run) uses it to measure the cost
 *	of getting packets that far at all.
 * @COAP_OFFLOAD_STAT_PENDING: delivered messages held, not yet confirmed
 * @COAP_OFFLOAD_STAT_PENDING_BYTES: the memory they take
 */
enum coap_offload_stat {
	COAP_OFFLOAD_STAT_UNSPEC,
	COAP_OFFLOAD_STAT_SESSIONS,
	COAP_OFFLOAD_STAT_RX,
	COAP_OFFLOAD_STAT_PASSED,
	COAP_OFFLOAD_STAT_DELIVERED,
	COAP_OFFLOAD_STAT_RETRANSMITS,
	COAP_OFFLOAD_STAT_REPLAYS,
	COAP_OFFLOAD_STAT_DECRYPT_ERRORS,
	COAP_OFFLOAD_STAT_FORBIDDEN,
	COAP_OFFLOAD_STAT_NO_CONSUMER,
	COAP_OFFLOAD_STAT_TX_ERRORS,
	COAP_OFFLOAD_STAT_PAD,
	COAP_OFFLOAD_STAT_EXPIRED,
	COAP_OFFLOAD_STAT_DEBUG_DROPPED,
	COAP_OFFLOAD_STAT_PENDING,
	COAP_OFFLOAD_STAT_PENDING_BYTES,

	__COAP_OFFLOAD_STAT_MAX,
	COAP_OFFLOAD_STAT_MAX = __COAP_OFFLOAD_STAT_MAX - 1
};

#endif /* _UAPI_LINUX_COAP_OFFLOAD_H */
