/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * CoAP (RFC 7252) wire format: strict parser, option iterator, builder and
 * the small helpers the gateway's fast path and daemon share.
 *
 * This is plain C with no kernel or libc dependency beyond memcpy/memset: it
 * is compiled into the kernel module (softirq context), into the user-space
 * daemon and into host unit tests and fuzzers.  Nothing here allocates,
 * recurses or keeps more than a few dozen bytes on the stack.
 */
#ifndef COAP_WIRE_H
#define COAP_WIRE_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/string.h>
#include <linux/errno.h>
#else
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <stdbool.h>
#endif

/* Largest datagram the gateway accepts or builds (PROTOCOL.md). */
#define COAP_MAX_MESSAGE	1280
#define COAP_HEADER_LEN		4
#define COAP_MAX_TOKEN_LEN	8
#define COAP_VERSION		1
#define COAP_PAYLOAD_MARKER	0xFF

enum coap_type {
	COAP_TYPE_CON = 0,
	COAP_TYPE_NON = 1,
	COAP_TYPE_ACK = 2,
	COAP_TYPE_RST = 3,
};

#define COAP_CODE(cls, detail)		(((cls) << 5) | (detail))
#define COAP_CODE_CLASS(code)		((uint8_t)(code) >> 5)
#define COAP_CODE_DETAIL(code)		((uint8_t)(code) & 0x1f)

#define COAP_CODE_EMPTY			COAP_CODE(0, 0)
#define COAP_CODE_GET			COAP_CODE(0, 1)
#define COAP_CODE_POST			COAP_CODE(0, 2)
#define COAP_CODE_PUT			COAP_CODE(0, 3)
#define COAP_CODE_DELETE		COAP_CODE(0, 4)
#define COAP_CODE_CREATED		COAP_CODE(2, 1)
#define COAP_CODE_DELETED		COAP_CODE(2, 2)
#define COAP_CODE_VALID			COAP_CODE(2, 3)
#define COAP_CODE_CHANGED		COAP_CODE(2, 4)
#define COAP_CODE_CONTENT		COAP_CODE(2, 5)
#define COAP_CODE_BAD_REQUEST		COAP_CODE(4, 0)
#define COAP_CODE_UNAUTHORIZED		COAP_CODE(4, 1)
#define COAP_CODE_BAD_OPTION		COAP_CODE(4, 2)
#define COAP_CODE_FORBIDDEN		COAP_CODE(4, 3)
#define COAP_CODE_NOT_FOUND		COAP_CODE(4, 4)
#define COAP_CODE_METHOD_NOT_ALLOWED	COAP_CODE(4, 5)
#define COAP_CODE_NOT_ACCEPTABLE	COAP_CODE(4, 6)
#define COAP_CODE_UNSUPPORTED_FORMAT	COAP_CODE(4, 15)
#define COAP_CODE_INTERNAL_ERROR	COAP_CODE(5, 0)

/* Option numbers (RFC 7252 §5.10 and PROTOCOL.md). */
#define COAP_OPT_URI_HOST		3
#define COAP_OPT_URI_PATH		11
#define COAP_OPT_CONTENT_FORMAT		12
#define COAP_OPT_ACCEPT			17
#define COAP_OPT_TOKEN_ALIAS		61	/* token sent here by some SDKs */
#define COAP_OPT_AUTH_TOKEN		2088	/* the token from /auth */
#define COAP_OPT_SEQ			2089	/* encrypted seq, 16 bytes */
#define COAP_OPT_MESSAGE_ID		2090	/* gateway message id, 8 bytes */

/* An option number is critical when odd (RFC 7252 §5.4.6). */
#define COAP_OPT_IS_CRITICAL(num)	((num) & 1)

/**
 * struct coap_msg - a parsed view into the caller's buffer; nothing copied
 * @data: the whole message
 * @len: its length
 * @type: enum coap_type
 * @code: request method or response code (class << 5 | detail)
 * @token_len: 0..8
 * @message_id: host byte order
 * @token: @token_len bytes inside @data (not NULL, even when empty)
 * @options: the option bytes, up to the payload marker or the end
 * @options_len: their length (0 when none)
 * @payload: the payload, NULL when none
 * @payload_len: its length, 0 when none (never 0 when @payload is set)
 */
struct coap_msg {
	const uint8_t *data;
	size_t len;
	uint8_t type;
	uint8_t code;
	uint8_t token_len;
	uint16_t message_id;
	const uint8_t *token;
	const uint8_t *options;
	size_t options_len;
	const uint8_t *payload;
	size_t payload_len;
};

/*
 * Parse and strictly validate buf[0..len) per RFC 7252 §3.  Returns 0 and
 * fills *msg, or:
 *   -EMSGSIZE         len > COAP_MAX_MESSAGE
 *   -EPROTONOSUPPORT  version != 1
 *   -EPROTO           any message format error (truncated header, token
 *                     length 9..15, reserved code class 1/6/7, nibble 15
 *                     outside the payload marker, truncated option,
 *                     option number > 65535, payload marker with no
 *                     payload, empty message with a token or more bytes)
 * Never reads outside [buf, buf + len).  *msg is undefined on error.
 */
int coap_parse(const uint8_t *buf, size_t len, struct coap_msg *msg);

/* One option; value points into the message (len bytes, may be 0). */
struct coap_option {
	uint16_t number;
	uint16_t len;
	const uint8_t *value;
};

struct coap_opt_iter {
	const uint8_t *pos, *end;
	uint16_t number;
};

/*
 * Walk the options of a message that coap_parse() accepted:
 *
 *	coap_opt_iter_init(&it, &msg);
 *	while (coap_opt_next(&it, &opt))
 *		...;
 *
 * coap_opt_next() returns false at the end.  It is bounds-checked anyway
 * (it stops, returning false, at malformed bytes), but the option sequence
 * is only guaranteed well-formed on a parsed message.
 */
void coap_opt_iter_init(struct coap_opt_iter *it, const struct coap_msg *msg);
bool coap_opt_next(struct coap_opt_iter *it, struct coap_option *opt);

/*
 * Find the first option with this number.  Returns true and fills *opt when
 * found.  Options are sorted, so this stops early.
 */
bool coap_find_option(const struct coap_msg *msg, uint16_t number,
		      struct coap_option *opt);

/*
 * Builder.  Errors are sticky: after the first one every call is a no-op and
 * coap_builder_finish() returns it, so callers check once.
 *   -ENOSPC  the message does not fit in cap (cap is clamped to
 *            COAP_MAX_MESSAGE, so a built message always parses)
 *   -EINVAL  misuse: token_len > 8, type > 3, reserved code class, a token,
 *            option or payload on an empty (0.00) message, decreasing option
 *            numbers, an option after the payload, NULL value with len > 0
 */
struct coap_builder {
	uint8_t *buf;
	size_t cap, len;
	uint16_t last_option;
	int error;
	bool has_payload;	/* coap_builder_set_payload() was called */
};

void coap_builder_init(struct coap_builder *b, uint8_t *buf, size_t cap,
		       uint8_t type, uint8_t code, uint16_t message_id,
		       const uint8_t *token, uint8_t token_len);
/* Numbers must not decrease; uses the 13/14 extended delta/length forms. */
void coap_builder_add_option(struct coap_builder *b, uint16_t number,
			     const void *value, size_t len);
/* Minimal big-endian uint (RFC 7252 §3.2): 0 is the zero-length option. */
void coap_builder_add_uint_option(struct coap_builder *b, uint16_t number,
				  uint64_t value);
/* Adds 0xFF + data when len > 0; no options may follow, even when len is 0. */
void coap_builder_set_payload(struct coap_builder *b, const void *data,
			      size_t len);
/* The message length, or the first error. */
int coap_builder_finish(struct coap_builder *b);

/*
 * Join the Uri-Path options into "/seg1/seg2/..." (NUL-terminated) in
 * out[cap].  Returns the length without the NUL, or
 *   -EINVAL  a segment that is empty, ".", ".." (RFC 7252 §5.10.1) or
 *            contains '/' or NUL
 *   -ENOSPC  it does not fit (out is then truncated but NUL-terminated
 *            when cap > 0)
 * -EINVAL wins over -ENOSPC.  With no Uri-Path the result is "/".
 */
int coap_uri_path(const struct coap_msg *msg, char *out, size_t cap);

/* Longest decimal seq accepted (so that it fits in one AES block with
 * PKCS#7 padding and never overflows).
 */
#define COAP_SEQ_MAX_DIGITS	15

/*
 * Parse decimal ASCII (1..15 digits, nothing else: no sign, no space;
 * leading zeros allowed) into *seq.  Returns 0 or -EINVAL.
 */
int coap_parse_decimal_seq(const uint8_t *s, size_t len, uint64_t *seq);

/* Format seq as decimal ASCII into out (no NUL); returns 1..20. */
size_t coap_format_decimal(uint64_t seq, uint8_t out[20]);

/*
 * PKCS#7: the unpadded length of a decrypted buffer of len bytes, or
 * -EBADMSG when len is not a positive multiple of 16 or the padding is
 * invalid (pad byte 0 or > 16, or the pad bytes differ).  Not constant-time.
 */
int coap_pkcs7_unpad(const uint8_t *buf, size_t len);

#endif /* COAP_WIRE_H */
