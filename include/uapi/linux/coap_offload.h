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
 * -EINVAL and an extended ACK naming the attribute.
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
 * the module sees every datagram first: a well-formed CoAP POST or NON to
 * "/topic/..." whose option 2088 (or 61, when enabled) names a session in the
 * table is consumed: the seq option (2089) is decrypted and checked against
 * the session's replay window, the payload decrypted, the topic checked
 * against the session's identity, and the plaintext queued to the registered
 * consumer as a %COAP_OFFLOAD_CMD_MESSAGE; only then is the seq committed and
 * the device answered 2.05 with option 2090 (the message id). Everything
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
 *	LIFETIME optional). -EEXIST when the token is taken, -ENOSPC at the
 *	session limit.
 * @COAP_OFFLOAD_CMD_SESSION_DEL: do: delete the session whose
 *	%COAP_OFFLOAD_SESSION_A_TOKEN is given (in %COAP_OFFLOAD_A_SESSION);
 *	-ENOENT when there is none.
 * @COAP_OFFLOAD_CMD_SESSION_GET: do: one session by token; dump: all
 *	sessions. Replies carry %COAP_OFFLOAD_A_SESSION without the key.
 * @COAP_OFFLOAD_CMD_CONSUMER_REGISTER: do: the calling netlink socket becomes
 *	the namespace's consumer of delivered messages (replacing any other);
 *	it stops being one when it closes.
 * @COAP_OFFLOAD_CMD_MESSAGE: notification to the consumer: one delivered
 *	message (%COAP_OFFLOAD_A_MESSAGE).
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
 */
enum coap_offload_attr {
	COAP_OFFLOAD_A_UNSPEC,
	COAP_OFFLOAD_A_STATS,
	COAP_OFFLOAD_A_SOCKET_FD,
	COAP_OFFLOAD_A_SESSION,
	COAP_OFFLOAD_A_MESSAGE,

	__COAP_OFFLOAD_A_MAX,
	COAP_OFFLOAD_A_MAX = __COAP_OFFLOAD_A_MAX - 1
};

#define COAP_OFFLOAD_TOKEN_MAX		64
#define COAP_OFFLOAD_IDENTITY_MAX	64
#define COAP_OFFLOAD_KEY_LEN		16

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
 * enum coap_offload_session_attr - a session
 * @COAP_OFFLOAD_SESSION_A_UNSPEC: unused
 * @COAP_OFFLOAD_SESSION_A_TOKEN: binary, 1..%COAP_OFFLOAD_TOKEN_MAX bytes:
 *	the token the gateway issued (the ASCII of option 2088)
 * @COAP_OFFLOAD_SESSION_A_PRODUCT_KEY: string, 1..%COAP_OFFLOAD_IDENTITY_MAX
 * @COAP_OFFLOAD_SESSION_A_DEVICE_NAME: string, 1..%COAP_OFFLOAD_IDENTITY_MAX
 * @COAP_OFFLOAD_SESSION_A_CIPHER: u32, enum coap_offload_cipher
 * @COAP_OFFLOAD_SESSION_A_KEY: binary, %COAP_OFFLOAD_KEY_LEN bytes; write
 *	only: never in a reply, wiped when the session is freed
 * @COAP_OFFLOAD_SESSION_A_SEQ_OFFSET: u64, the lowest acceptable seq
 * @COAP_OFFLOAD_SESSION_A_LIFETIME: u32, seconds from now until the session
 *	expires (default: 7 days); in replies, the seconds left
 * @COAP_OFFLOAD_SESSION_A_RX_PACKETS: u64 (reply): messages delivered
 * @COAP_OFFLOAD_SESSION_A_RX_BYTES: u64 (reply): plaintext bytes delivered
 * @COAP_OFFLOAD_SESSION_A_REPLAYS: u64 (reply): seqs refused as replays
 * @COAP_OFFLOAD_SESSION_A_DECRYPT_ERRORS: u64 (reply): undecryptable seq or
 *	payload
 * @COAP_OFFLOAD_SESSION_A_FORBIDDEN: u64 (reply): publishes to a topic the
 *	device may not use
 * @COAP_OFFLOAD_SESSION_A_SEQ_HIGHEST: u64 (reply): highest seq committed
 * @COAP_OFFLOAD_SESSION_A_PAD: padding for 64-bit attributes
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

	__COAP_OFFLOAD_MESSAGE_A_MAX,
	COAP_OFFLOAD_MESSAGE_A_MAX = __COAP_OFFLOAD_MESSAGE_A_MAX - 1
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

	__COAP_OFFLOAD_STAT_MAX,
	COAP_OFFLOAD_STAT_MAX = __COAP_OFFLOAD_STAT_MAX - 1
};

#endif /* _UAPI_LINUX_COAP_OFFLOAD_H */
