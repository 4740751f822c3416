/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The device protocol's crypto and message construction (PROTOCOL.md), shared
 * by coapd, coap-device and the kernel selftests: the /auth sign, the session
 * key, the seq option, the payload cipher suites and a complete
 * symmetric-mode publish datagram.
 *
 * User space only, on OpenSSL 3 libcrypto (EVP).  No global mutable state:
 * every call is independent and thread-safe.  Functions return 0 (or a
 * length) on success and a negative errno on failure.  A failed call leaves
 * nothing of its own on the thread's OpenSSL error queue, so it cannot
 * confuse a later SSL_get_error() in the caller.  Secrets are never printed;
 * intermediate digests are wiped.
 */
#ifndef COAP_PROTO_H
#define COAP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coap/coap_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

enum coap_cipher {
	COAP_CIPHER_AES_128_CBC = 1,	/* vendor SDKs: PKCS#7, fixed IV */
	COAP_CIPHER_AES_128_CTR = 2,	/* ours: counter block = seq option */
};

#define COAP_PROTO_KEY_LEN	16
#define COAP_PROTO_BLOCK	16

/*
 * The longest sign in hex (hmacsha256) without the NUL: buffers of
 * COAP_PROTO_SIGN_HEX_MAX + 1 fit any method.
 */
#define COAP_PROTO_SIGN_HEX_MAX	64

/* The IV of aes-128-cbc: the ASCII of "543yhjy97ae7fyfg", no NUL. */
extern const uint8_t coap_proto_fixed_iv[COAP_PROTO_BLOCK];

/*
 * The "cipher" field of /auth: "aes-128-cbc" or "aes-128-ctr" (exact
 * spelling) to the enum, and back.  Parse returns 0 or -EINVAL; name returns
 * NULL for a value that is not a cipher suite.
 */
int coap_proto_cipher_parse(const char *name, enum coap_cipher *cipher);
const char *coap_proto_cipher_name(enum coap_cipher cipher);

/*
 * Session key of symmetric mode: SHA-256(deviceSecret + "," + random), bytes
 * 8..23 of the digest.  random_hex is hashed as the string it is (the
 * gateway sends 16 hex chars; nothing here depends on that).
 * -EINVAL: NULL argument or empty device_secret.
 */
int coap_proto_session_key(const char *device_secret, const char *random_hex,
			   uint8_t key[COAP_PROTO_KEY_LEN]);

/*
 * The /auth sign: HMAC of content keyed with device_secret, as lowercase hex
 * plus NUL in hex[hex_cap].  method is "hmacmd5" (also when NULL),
 * "hmacsha1" or "hmacsha256", matched case-insensitively.
 *   -EINVAL  unknown method, NULL argument, empty device_secret (an empty
 *            key would let anybody sign: never a valid device)
 *   -ENOSPC  hex_cap < 2 * digest length + 1 (nothing written)
 *   -ENOMEM, -EIO  libcrypto could not allocate / compute
 */
int coap_proto_sign_hex(const char *method, const char *device_secret,
			const char *content, char *hex, size_t hex_cap);

/*
 * The sign content of an /auth payload: every field except sign,
 * signmethod, version and resources (exact, case-sensitive names), sorted by
 * name (byte order), concatenated as name + value, NUL-terminated in
 * out[cap].  The caller passes values as the device sent them as text (a
 * JSON number seq 4912 is "4912").  Returns the length without the NUL, or
 *   -EINVAL  NULL name or value, or the same name twice (ambiguous: reject
 *            the request rather than guess which one the device signed)
 *   -ENOSPC  it does not fit (out is then "" when cap > 0)
 */
struct coap_proto_field {
	const char *name;
	const char *value;
};

int coap_proto_sign_content(const struct coap_proto_field *fields, size_t n,
			    char *out, size_t cap);

/*
 * Compare two hex strings case-insensitively in time that depends only on
 * their lengths (for the daemon's sign check).  False when either is NULL or
 * empty, the lengths differ, or either holds a non-hex character.
 */
bool coap_proto_hex_equal(const char *a, const char *b);

/*
 * DTLS PSK mode: the identity "devicename|hmacsha256|{pk}&{dn}|2524608000000"
 * and the PSK, the UPPERCASE hex (64 chars + NUL) of HMAC-SHA256 keyed with
 * deviceSecret over "id{pk}&{dn}timestamp2524608000000".  Both return 0,
 * -EINVAL (NULL argument, empty secret) or -ENOSPC.
 */
#define COAP_PROTO_PSK_TIMESTAMP	"2524608000000"

int coap_proto_psk_identity(const char *product_key, const char *device_name,
			    char *out, size_t cap);
int coap_proto_psk(const char *product_key, const char *device_name,
		   const char *device_secret, char *psk, size_t psk_cap);

/*
 * The seq option (both suites): AES-128-CBC with the fixed IV over the
 * decimal ASCII of seq, PKCS#7-padded: one block, as seq < 10^15.
 * Encrypt: -ERANGE when seq has more than 15 digits.
 * Decrypt: -EBADMSG when the padding is bad or the plaintext is not 1..15
 * decimal digits (leading zeros are accepted, as by coap_parse_decimal_seq).
 */
#define COAP_PROTO_SEQ_MAX	999999999999999ULL

int coap_proto_seq_encrypt(const uint8_t key[COAP_PROTO_KEY_LEN], uint64_t seq,
			   uint8_t out[COAP_PROTO_BLOCK]);
int coap_proto_seq_decrypt(const uint8_t key[COAP_PROTO_KEY_LEN],
			   const uint8_t in[COAP_PROTO_BLOCK], uint64_t *seq);

/*
 * Payload of symmetric mode, per cipher suite:
 *   aes-128-cbc  PKCS#7 (a full block when len is a multiple of 16), fixed
 *                IV, same in both directions; seq_block is not used and
 *                may be NULL
 *   aes-128-ctr  no padding; the initial counter block is the 16 raw bytes
 *                of the seq option, with the top bit of its first byte
 *                flipped when response is true; big-endian 128-bit
 *                increment (wraps at 2^128, as the kernel's ctr(aes))
 * Output sizes: cbc encrypt (len / 16 + 1) * 16; cbc decrypt needs out_cap
 * >= len (the padded plaintext lands there first); ctr len.  out_cap >=
 * len + 16 is always enough.  in == out is allowed, other overlap is not.
 * Returns the output length, or
 *   -EINVAL   unknown cipher, NULL key, seq_block or buffer
 *   -EBADMSG  decrypt: cbc len not a positive multiple of 16, bad padding
 *             (out[0..len) is then zeroed)
 *   -ENOSPC   out_cap too small (nothing written)
 *   -EMSGSIZE len too large for an int result
 *   -ENOMEM, -EIO  libcrypto failure
 */
int coap_proto_payload_encrypt(enum coap_cipher c,
			       const uint8_t key[COAP_PROTO_KEY_LEN],
			       const uint8_t seq_block[COAP_PROTO_BLOCK],
			       bool response, const uint8_t *in, size_t len,
			       uint8_t *out, size_t out_cap);
int coap_proto_payload_decrypt(enum coap_cipher c,
			       const uint8_t key[COAP_PROTO_KEY_LEN],
			       const uint8_t seq_block[COAP_PROTO_BLOCK],
			       bool response, const uint8_t *in, size_t len,
			       uint8_t *out, size_t out_cap);

/*
 * A complete symmetric-mode publish (what a device sends): code 0.02 POST,
 * Uri-Path "topic" then each non-empty segment of topic, the auth token in
 * option 2088 (61 when token_in_option_61; omitted when auth_token is NULL,
 * so tests can send a publish without one), option 2089 = the encrypted
 * seq, and the payload encrypted with the suite (the seq option as CTR
 * counter block).  An empty payload under aes-128-ctr sends no payload; under
 * aes-128-cbc it sends the 16-byte encryption of nothing, as it must.
 * Returns the datagram length, or
 *   -EINVAL   NULL p, topic or key; type not CON/NON; coap_token_len > 8;
 *             unknown cipher; a topic segment "." or ".." or longer than 255
 *             bytes (RFC 7252 Uri-Path; the gateway would reject it)
 *   -ERANGE   seq > COAP_PROTO_SEQ_MAX
 *   -EMSGSIZE payload_len > COAP_MAX_MESSAGE
 *   -ENOSPC   the datagram does not fit in cap (or in COAP_MAX_MESSAGE)
 */
struct coap_proto_publish {
	uint8_t type;			/* COAP_TYPE_CON or COAP_TYPE_NON */
	uint16_t message_id;
	const uint8_t *coap_token;
	uint8_t coap_token_len;		/* 0..8 */
	const char *topic;		/* "/a1PK/dev1/user/update" */
	const char *auth_token;		/* from /auth; NULL: no option */
	bool token_in_option_61;
	enum coap_cipher cipher;
	const uint8_t *key;		/* COAP_PROTO_KEY_LEN bytes */
	uint64_t seq;
	const uint8_t *payload;		/* plaintext */
	size_t payload_len;
};

int coap_proto_build_publish(const struct coap_proto_publish *p, uint8_t *buf,
			     size_t cap);

/*
 * A session key made ready for the gateway's side of a session: the cipher
 * contexts are keyed once, when the session is created, and each message
 * only resets the IV, instead of allocating and keying contexts per call
 * (about 4x cheaper per operation; coapd --no-offload decrypts with it).
 * Results are identical to coap_proto_seq_decrypt() and
 * coap_proto_payload_decrypt(..., response false, ...).  One object is used
 * by one thread at a time.
 *   new: NULL on an unknown cipher, a NULL key, or out of memory
 *   free: wipes the key schedules (NULL is fine)
 */
struct coap_proto_keyed;

struct coap_proto_keyed *coap_proto_keyed_new(enum coap_cipher c,
					      const uint8_t key[COAP_PROTO_KEY_LEN]);
void coap_proto_keyed_free(struct coap_proto_keyed *k);
int coap_proto_keyed_seq_decrypt(struct coap_proto_keyed *k,
				 const uint8_t in[COAP_PROTO_BLOCK],
				 uint64_t *seq);
int coap_proto_keyed_payload_decrypt(struct coap_proto_keyed *k,
				     const uint8_t seq_block[COAP_PROTO_BLOCK],
				     const uint8_t *in, size_t len,
				     uint8_t *out, size_t out_cap);

#ifdef __cplusplus
}
#endif

#endif /* COAP_PROTO_H */
