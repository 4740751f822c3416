// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The device protocol's crypto and message construction; see coap_proto.h
 * and PROTOCOL.md.
 *
 * Everything goes through OpenSSL 3's EVP interfaces (EVP_MAC for HMAC,
 * EVP_MD for SHA-256, EVP_CIPHER for AES).  Padding is removed here with
 * coap_pkcs7_unpad() rather than by EVP so that user space and the kernel
 * module judge a padding with the same code.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "coap/coap_wire.h"
#include "coap_proto.h"

#if OPENSSL_VERSION_MAJOR < 3
#error "coap_proto needs OpenSSL 3 (EVP_MAC)"
#endif

const uint8_t coap_proto_fixed_iv[COAP_PROTO_BLOCK] = {
	'5', '4', '3', 'y', 'h', 'j', 'y', '9',
	'7', 'a', 'e', '7', 'f', 'y', 'f', 'g',
};

/* The largest input any call accepts: results are ints, EVP takes ints. */
#define PROTO_LEN_MAX	((size_t)INT_MAX - 2 * COAP_PROTO_BLOCK)

static const struct proto_sign_method {
	const char *name;	/* the signmethod field */
	const char *digest;	/* OpenSSL digest name */
	size_t len;		/* digest length in bytes */
} proto_sign_methods[] = {
	{ "hmacmd5", "MD5", 16 },
	{ "hmacsha1", "SHA1", 20 },
	{ "hmacsha256", "SHA256", 32 },
};

static char proto_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool proto_streq_nocase(const char *a, const char *b)
{
	while (*a && proto_lower(*a) == proto_lower(*b)) {
		a++;
		b++;
	}
	return proto_lower(*a) == proto_lower(*b);
}

/* 2 * n hex digits and a NUL; out has room for them. */
static void proto_hex(const uint8_t *in, size_t n, char *out, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int coap_proto_cipher_parse(const char *name, enum coap_cipher *cipher)
{
	if (!name || !cipher)
		return -EINVAL;
	if (!strcmp(name, "aes-128-cbc"))
		*cipher = COAP_CIPHER_AES_128_CBC;
	else if (!strcmp(name, "aes-128-ctr"))
		*cipher = COAP_CIPHER_AES_128_CTR;
	else
		return -EINVAL;
	return 0;
}

const char *coap_proto_cipher_name(enum coap_cipher cipher)
{
	switch (cipher) {
	case COAP_CIPHER_AES_128_CBC:
		return "aes-128-cbc";
	case COAP_CIPHER_AES_128_CTR:
		return "aes-128-ctr";
	}
	return NULL;
}

/*
 * Every function that calls libcrypto brackets the calls with
 * ERR_set_mark()/ERR_pop_to_mark(): our failures are reported as errno
 * values, and errors left on the thread's queue would make a later
 * SSL_get_error() in the daemon's DTLS code report SSL_ERROR_SSL.
 */

static const EVP_MD *proto_md_sha256(void);

int coap_proto_session_key(const char *device_secret, const char *random_hex,
			   uint8_t key[COAP_PROTO_KEY_LEN])
{
	uint8_t digest[32];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx;
	int ret = -EIO;

	if (!device_secret || !*device_secret || !random_hex || !key)
		return -EINVAL;

	ERR_set_mark();
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	/* Fed in pieces: no copy of the secret to allocate and wipe. */
	if (EVP_DigestInit_ex(ctx, proto_md_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, device_secret, strlen(device_secret)) != 1 ||
	    EVP_DigestUpdate(ctx, ",", 1) != 1 ||
	    EVP_DigestUpdate(ctx, random_hex, strlen(random_hex)) != 1 ||
	    EVP_DigestFinal_ex(ctx, digest, &dlen) != 1 ||
	    dlen != sizeof(digest))
		goto out;
	memcpy(key, digest + 8, COAP_PROTO_KEY_LEN);
	ret = 0;
out:
	OPENSSL_cleanse(digest, sizeof(digest));
	EVP_MD_CTX_free(ctx);
	ERR_pop_to_mark();
	return ret;
}

/*
 * OpenSSL 3 looks HMAC up by name in EVP_MAC_fetch() and the digest in
 * every EVP_MAC_init() given its name: most of an HMAC's time on a short
 * input, i.e. of each /auth's sign check. An unkeyed HMAC context per
 * digest is made once (it holds no key: nothing to wipe) and duplicated for
 * each HMAC; a digest without one (e.g. a provider without MD5) takes the
 * lookups every time, as before.
 */
static const char *const proto_hmac_digests[] = { "MD5", "SHA1", "SHA256" };
#define PROTO_HMAC_DIGESTS \
	(sizeof(proto_hmac_digests) / sizeof(proto_hmac_digests[0]))
static EVP_MAC_CTX *proto_hmac_tmpl[PROTO_HMAC_DIGESTS];
/* The same for SHA-256 (session keys): fetched once, not per digest. */
static EVP_MD *proto_sha256;
static pthread_once_t proto_hmac_once = PTHREAD_ONCE_INIT;

static EVP_MAC_CTX *proto_hmac_new(EVP_MAC *hmac, const char *digest,
				   const char *key)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac);

	if (!ctx)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((key ? EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key),
				params) :
		   EVP_MAC_CTX_set_params(ctx, params)) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void proto_hmac_setup(void)
{
	EVP_MAC *hmac;
	size_t i;

	ERR_set_mark();
	hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	for (i = 0; hmac && i < PROTO_HMAC_DIGESTS; i++)
		proto_hmac_tmpl[i] = proto_hmac_new(hmac, proto_hmac_digests[i],
						    NULL);
	/* The contexts hold their own references. */
	EVP_MAC_free(hmac);
	proto_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	ERR_pop_to_mark();
}

static const EVP_MD *proto_md_sha256(void)
{
	pthread_once(&proto_hmac_once, proto_hmac_setup);
	return proto_sha256 ? proto_sha256 : EVP_sha256();
}

/* A context for digest keyed with key, or NULL. */
static EVP_MAC_CTX *proto_hmac_keyed(const char *digest, const char *key)
{
	EVP_MAC_CTX *ctx = NULL;
	EVP_MAC *hmac;
	size_t i;

	pthread_once(&proto_hmac_once, proto_hmac_setup);
	for (i = 0; i < PROTO_HMAC_DIGESTS; i++) {
		if (!proto_hmac_tmpl[i] || strcmp(digest, proto_hmac_digests[i]))
			continue;
		ctx = EVP_MAC_CTX_dup(proto_hmac_tmpl[i]);
		if (ctx && EVP_MAC_init(ctx, (const unsigned char *)key,
					strlen(key), NULL) != 1) {
			EVP_MAC_CTX_free(ctx);
			ctx = NULL;
		}
		if (ctx)
			return ctx;
		break;
	}
	hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (!hmac)
		return NULL;
	ctx = proto_hmac_new(hmac, digest, key);
	EVP_MAC_free(hmac);
	return ctx;
}

/*
 * HMAC over the concatenation of parts, keyed with the NUL-terminated key,
 * into mac[mac_len] (mac_len must be the digest's length).
 */
static int proto_hmac(const char *digest, const char *key,
		      const char *const *parts, size_t nparts,
		      uint8_t *mac, size_t mac_len)
{
	EVP_MAC_CTX *ctx;
	size_t i, outl = 0;
	int ret = -EIO;

	ERR_set_mark();
	ctx = proto_hmac_keyed(digest, key);
	if (!ctx)
		goto out;
	for (i = 0; i < nparts; i++)
		if (EVP_MAC_update(ctx, (const unsigned char *)parts[i],
				   strlen(parts[i])) != 1)
			goto out;
	if (EVP_MAC_final(ctx, mac, &outl, mac_len) != 1 || outl != mac_len)
		goto out;
	ret = 0;
out:
	/* Frees the keyed HMAC state, which OpenSSL wipes. */
	EVP_MAC_CTX_free(ctx);
	ERR_pop_to_mark();
	return ret;
}

int coap_proto_sign_hex(const char *method, const char *device_secret,
			const char *content, char *hex, size_t hex_cap)
{
	const struct proto_sign_method *m = NULL;
	uint8_t mac[32];
	size_t i;
	int ret;

	if (!method)
		method = "hmacmd5";
	for (i = 0; i < sizeof(proto_sign_methods) /
			sizeof(proto_sign_methods[0]); i++) {
		if (proto_streq_nocase(method, proto_sign_methods[i].name)) {
			m = &proto_sign_methods[i];
			break;
		}
	}
	if (!m || !device_secret || !*device_secret || !content || !hex)
		return -EINVAL;
	if (hex_cap < 2 * m->len + 1)
		return -ENOSPC;

	ret = proto_hmac(m->digest, device_secret, &content, 1, mac, m->len);
	if (!ret)
		proto_hex(mac, m->len, hex, false);
	OPENSSL_cleanse(mac, sizeof(mac));
	return ret;
}

/* Fields the sign does not cover (PROTOCOL.md, "POST /auth"). */
static bool proto_sign_skipped(const char *name)
{
	return !strcmp(name, "sign") || !strcmp(name, "signmethod") ||
	       !strcmp(name, "version") || !strcmp(name, "resources");
}

int coap_proto_sign_content(const struct coap_proto_field *fields, size_t n,
			    char *out, size_t cap)
{
	const char *last = NULL;
	size_t i, j, len = 0;

	if ((n && !fields) || (cap && !out))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!fields[i].name || !fields[i].value)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (!strcmp(fields[i].name, fields[j].name))
				return -EINVAL;
	}
	if (!cap)
		return -ENOSPC;

	/*
	 * Selection in place, smallest name above the last one each round:
	 * O(n^2) on the few fields of a 1280-byte payload, and the caller's
	 * array stays const with nothing to allocate.  Names are unique.
	 */
	for (;;) {
		const struct coap_proto_field *next = NULL;
		size_t nl, vl;

		for (i = 0; i < n; i++) {
			const char *name = fields[i].name;

			if (proto_sign_skipped(name) ||
			    (last && strcmp(name, last) <= 0))
				continue;
			if (!next || strcmp(name, next->name) < 0)
				next = &fields[i];
		}
		if (!next)
			break;
		nl = strlen(next->name);
		vl = strlen(next->value);
		/* len < cap <= SIZE_MAX, and INT_MAX bounds the result. */
		if (nl > cap - 1 - len || vl > cap - 1 - len - nl ||
		    len + nl + vl > INT_MAX) {
			out[0] = '\0';
			return -ENOSPC;
		}
		memcpy(out + len, next->name, nl);
		memcpy(out + len + nl, next->value, vl);
		len += nl + vl;
		last = next->name;
	}
	out[len] = '\0';
	return (int)len;
}

/*
 * The value of hex digit c (0..15) and 0 in *bad, or 1 in *bad, without a
 * data-dependent branch: d | (9 - d) is negative exactly when d is outside
 * 0..9.
 */
static unsigned int proto_ct_hexval(unsigned char c, unsigned int *bad)
{
	int d = (int)c - '0';
	int l = (int)(c | 0x20) - 'a';
	unsigned int is_d = ~((unsigned int)(d | (9 - d)) >> 31) & 1;
	unsigned int is_l = ~((unsigned int)(l | (5 - l)) >> 31) & 1;

	*bad |= 1 ^ (is_d | is_l);
	return ((0u - is_d) & (unsigned int)d) |
	       ((0u - is_l) & (unsigned int)(l + 10));
}

bool coap_proto_hex_equal(const char *a, const char *b)
{
	unsigned int diff = 0, bad = 0;
	size_t la, lb, i;

	if (!a || !b)
		return false;
	la = strlen(a);
	lb = strlen(b);
	/* Lengths are public: a sign's length follows from its method. */
	if (la != lb || !la)
		return false;
	for (i = 0; i < la; i++)
		diff |= proto_ct_hexval((unsigned char)a[i], &bad) ^
			proto_ct_hexval((unsigned char)b[i], &bad);
	return (diff | bad) == 0;
}

int coap_proto_psk_identity(const char *product_key, const char *device_name,
			    char *out, size_t cap)
{
	int n;

	if (!product_key || !device_name || !out)
		return -EINVAL;
	n = snprintf(out, cap, "devicename|hmacsha256|%s&%s|"
		     COAP_PROTO_PSK_TIMESTAMP, product_key, device_name);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

int coap_proto_psk(const char *product_key, const char *device_name,
		   const char *device_secret, char *psk, size_t psk_cap)
{
	const char *parts[5];
	uint8_t mac[32];
	int ret;

	if (!product_key || !device_name || !device_secret || !*device_secret ||
	    !psk)
		return -EINVAL;
	if (psk_cap < 2 * sizeof(mac) + 1)
		return -ENOSPC;
	parts[0] = "id";
	parts[1] = product_key;
	parts[2] = "&";
	parts[3] = device_name;
	parts[4] = "timestamp" COAP_PROTO_PSK_TIMESTAMP;
	ret = proto_hmac("SHA256", device_secret, parts, 5, mac, sizeof(mac));
	if (!ret)
		proto_hex(mac, sizeof(mac), psk, true);
	OPENSSL_cleanse(mac, sizeof(mac));
	return ret;
}

/*
 * One EVP cipher pass over in[0..len) into out; the caller checked the
 * sizes.  Returns the bytes written or a negative errno.
 */
static int proto_crypt(const EVP_CIPHER *cipher, int enc, int padding,
		       const uint8_t *key, const uint8_t *iv,
		       const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	int n = 0, m = 0, ret = -EIO;

	ERR_set_mark();
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, padding) != 1)
		goto out;
	/* Skipped when empty: in may then be NULL. */
	if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &m) != 1)
		goto out;
	ret = n + m;
out:
	/* Frees the key schedule, which OpenSSL wipes. */
	EVP_CIPHER_CTX_free(ctx);
	ERR_pop_to_mark();
	return ret;
}

int coap_proto_seq_encrypt(const uint8_t key[COAP_PROTO_KEY_LEN], uint64_t seq,
			   uint8_t out[COAP_PROTO_BLOCK])
{
	uint8_t digits[20];
	size_t n;
	int ret;

	if (!key || !out)
		return -EINVAL;
	if (seq > COAP_PROTO_SEQ_MAX)
		return -ERANGE;
	n = coap_format_decimal(seq, digits);
	ret = proto_crypt(EVP_aes_128_cbc(), 1, 1, key, coap_proto_fixed_iv,
			  digits, n, out);
	if (ret < 0)
		return ret;
	/* <= 15 digits + PKCS#7 is one block; anything else is a bug. */
	return ret == COAP_PROTO_BLOCK ? 0 : -EIO;
}

int coap_proto_seq_decrypt(const uint8_t key[COAP_PROTO_KEY_LEN],
			   const uint8_t in[COAP_PROTO_BLOCK], uint64_t *seq)
{
	uint8_t plain[COAP_PROTO_BLOCK];
	int n;

	if (!key || !in || !seq)
		return -EINVAL;
	n = proto_crypt(EVP_aes_128_cbc(), 0, 0, key, coap_proto_fixed_iv,
			in, COAP_PROTO_BLOCK, plain);
	if (n < 0)
		return n;
	n = coap_pkcs7_unpad(plain, COAP_PROTO_BLOCK);
	if (n < 0 || coap_parse_decimal_seq(plain, (size_t)n, seq))
		return -EBADMSG;
	return 0;
}

/*
 * aes-128-ctr, the same operation both ways: the counter starts at the seq
 * option's 16 bytes, with the top bit flipped for the response direction.
 */
static int proto_ctr(const uint8_t key[COAP_PROTO_KEY_LEN],
		     const uint8_t seq_block[COAP_PROTO_BLOCK], bool response,
		     const uint8_t *in, size_t len, uint8_t *out,
		     size_t out_cap)
{
	uint8_t ctr[COAP_PROTO_BLOCK];

	if (!seq_block)
		return -EINVAL;
	if (out_cap < len)
		return -ENOSPC;
	if (!len)
		return 0;
	memcpy(ctr, seq_block, COAP_PROTO_BLOCK);
	if (response)
		ctr[0] ^= 0x80;
	return proto_crypt(EVP_aes_128_ctr(), 1, 0, key, ctr, in, len, out);
}

int coap_proto_payload_encrypt(enum coap_cipher c,
			       const uint8_t key[COAP_PROTO_KEY_LEN],
			       const uint8_t seq_block[COAP_PROTO_BLOCK],
			       bool response, const uint8_t *in, size_t len,
			       uint8_t *out, size_t out_cap)
{
	size_t need;

	if (!key || (len && !in) || (out_cap && !out))
		return -EINVAL;
	if (len > PROTO_LEN_MAX)
		return -EMSGSIZE;

	switch (c) {
	case COAP_CIPHER_AES_128_CBC:
		need = (len / COAP_PROTO_BLOCK + 1) * COAP_PROTO_BLOCK;
		if (out_cap < need)
			return -ENOSPC;
		return proto_crypt(EVP_aes_128_cbc(), 1, 1, key,
				   coap_proto_fixed_iv, in, len, out);
	case COAP_CIPHER_AES_128_CTR:
		return proto_ctr(key, seq_block, response, in, len, out,
				 out_cap);
	}
	return -EINVAL;
}

int coap_proto_payload_decrypt(enum coap_cipher c,
			       const uint8_t key[COAP_PROTO_KEY_LEN],
			       const uint8_t seq_block[COAP_PROTO_BLOCK],
			       bool response, const uint8_t *in, size_t len,
			       uint8_t *out, size_t out_cap)
{
	int n, plain;

	if (!key || (len && !in) || (out_cap && !out))
		return -EINVAL;
	if (len > PROTO_LEN_MAX)
		return -EMSGSIZE;

	switch (c) {
	case COAP_CIPHER_AES_128_CBC:
		if (!len || len % COAP_PROTO_BLOCK)
			return -EBADMSG;
		if (out_cap < len)
			return -ENOSPC;
		n = proto_crypt(EVP_aes_128_cbc(), 0, 0, key,
				coap_proto_fixed_iv, in, len, out);
		if (n < 0)
			return n;
		plain = coap_pkcs7_unpad(out, (size_t)n);
		if (plain < 0) {
			/* Garbage: nothing for a careless caller to use. */
			memset(out, 0, len);
			return -EBADMSG;
		}
		return plain;
	case COAP_CIPHER_AES_128_CTR:
		return proto_ctr(key, seq_block, response, in, len, out,
				 out_cap);
	}
	return -EINVAL;
}

/*
 * The next non-empty '/'-separated segment of a topic at *pos: true and
 * seg[0..len), or false at the end.  "//a///b/" yields "a" and "b".
 */
static bool proto_next_segment(const char **pos, const char **seg,
			       size_t *len)
{
	const char *s = *pos + strspn(*pos, "/");

	if (!*s) {
		*pos = s;
		return false;
	}
	*seg = s;
	*len = strcspn(s, "/");
	*pos = s + *len;
	return true;
}

/* A segment the gateway's coap_uri_path() accepts, in one Uri-Path. */
static bool proto_segment_ok(const char *seg, size_t len)
{
	if (len > 255)
		return false;
	return !(seg[0] == '.' && (len == 1 || (len == 2 && seg[1] == '.')));
}

int coap_proto_build_publish(const struct coap_proto_publish *p, uint8_t *buf,
			     size_t cap)
{
	uint8_t payload[COAP_MAX_MESSAGE + COAP_PROTO_BLOCK];
	uint8_t seq_block[COAP_PROTO_BLOCK];
	const char *pos, *seg = NULL;
	struct coap_builder b;
	size_t seg_len = 0;
	int ret, plen;

	/* Argument errors first, so that they win over -ENOSPC. */
	if (!p || !p->topic || !p->key || (p->payload_len && !p->payload))
		return -EINVAL;
	if ((p->type != COAP_TYPE_CON && p->type != COAP_TYPE_NON) ||
	    p->coap_token_len > COAP_MAX_TOKEN_LEN ||
	    (p->coap_token_len && !p->coap_token) ||
	    !coap_proto_cipher_name(p->cipher))
		return -EINVAL;
	for (pos = p->topic; proto_next_segment(&pos, &seg, &seg_len); )
		if (!proto_segment_ok(seg, seg_len))
			return -EINVAL;
	if (p->payload_len > COAP_MAX_MESSAGE)
		return -EMSGSIZE;

	ret = coap_proto_seq_encrypt(p->key, p->seq, seq_block);
	if (ret)
		return ret;
	plen = coap_proto_payload_encrypt(p->cipher, p->key, seq_block, false,
					  p->payload, p->payload_len,
					  payload, sizeof(payload));
	if (plen < 0)
		return plen;

	/* Option numbers ascend: 11 (Uri-Path), 61, 2088, 2089. */
	coap_builder_init(&b, buf, cap, p->type, COAP_CODE_POST, p->message_id,
			  p->coap_token, p->coap_token_len);
	coap_builder_add_option(&b, COAP_OPT_URI_PATH, "topic", 5);
	for (pos = p->topic; proto_next_segment(&pos, &seg, &seg_len); )
		coap_builder_add_option(&b, COAP_OPT_URI_PATH, seg, seg_len);
	if (p->auth_token)
		coap_builder_add_option(&b, p->token_in_option_61 ?
					COAP_OPT_TOKEN_ALIAS :
					COAP_OPT_AUTH_TOKEN,
					p->auth_token, strlen(p->auth_token));
	coap_builder_add_option(&b, COAP_OPT_SEQ, seq_block, sizeof(seq_block));
	coap_builder_set_payload(&b, payload, (size_t)plen);
	return coap_builder_finish(&b);
}

struct coap_proto_keyed {
	enum coap_cipher cipher;
	EVP_CIPHER_CTX *cbc_dec;	/* the seq option; cbc payloads */
	EVP_CIPHER_CTX *ctr;		/* ctr payloads; NULL for cbc */
};

static EVP_CIPHER_CTX *proto_keyed_ctx(const EVP_CIPHER *cipher, int enc,
				       const uint8_t *key, const uint8_t *iv)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	/* No padding: coap_pkcs7_unpad() judges it, as in the kernel. */
	if (EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct coap_proto_keyed *coap_proto_keyed_new(enum coap_cipher c,
					      const uint8_t key[COAP_PROTO_KEY_LEN])
{
	static const uint8_t zero[COAP_PROTO_BLOCK];
	struct coap_proto_keyed *k;

	if (!key || !coap_proto_cipher_name(c))
		return NULL;
	k = OPENSSL_zalloc(sizeof(*k));
	if (!k)
		return NULL;
	k->cipher = c;
	ERR_set_mark();
	k->cbc_dec = proto_keyed_ctx(EVP_aes_128_cbc(), 0, key,
				     coap_proto_fixed_iv);
	if (c == COAP_CIPHER_AES_128_CTR)
		k->ctr = proto_keyed_ctx(EVP_aes_128_ctr(), 1, key, zero);
	ERR_pop_to_mark();
	if (!k->cbc_dec || (c == COAP_CIPHER_AES_128_CTR && !k->ctr)) {
		coap_proto_keyed_free(k);
		return NULL;
	}
	return k;
}

void coap_proto_keyed_free(struct coap_proto_keyed *k)
{
	if (!k)
		return;
	/* Frees the key schedules, which OpenSSL wipes. */
	EVP_CIPHER_CTX_free(k->cbc_dec);
	EVP_CIPHER_CTX_free(k->ctr);
	OPENSSL_free(k);
}

/* One pass over in[0..len) into out from a fresh iv, the key kept. */
static int proto_keyed_crypt(EVP_CIPHER_CTX *ctx, const uint8_t *iv,
			     const uint8_t *in, size_t len, uint8_t *out)
{
	int n = 0, m = 0, ret = -EIO;

	ERR_set_mark();
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1) == 1 &&
	    EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1 &&
	    EVP_CipherFinal_ex(ctx, out + n, &m) == 1)
		ret = n + m;
	ERR_pop_to_mark();
	return ret;
}

int coap_proto_keyed_seq_decrypt(struct coap_proto_keyed *k,
				 const uint8_t in[COAP_PROTO_BLOCK],
				 uint64_t *seq)
{
	uint8_t plain[COAP_PROTO_BLOCK];
	int n;

	if (!k || !in || !seq)
		return -EINVAL;
	n = proto_keyed_crypt(k->cbc_dec, coap_proto_fixed_iv, in,
			      COAP_PROTO_BLOCK, plain);
	if (n < 0)
		return n;
	n = coap_pkcs7_unpad(plain, COAP_PROTO_BLOCK);
	if (n < 0 || coap_parse_decimal_seq(plain, (size_t)n, seq))
		return -EBADMSG;
	return 0;
}

int coap_proto_keyed_payload_decrypt(struct coap_proto_keyed *k,
				     const uint8_t seq_block[COAP_PROTO_BLOCK],
				     const uint8_t *in, size_t len,
				     uint8_t *out, size_t out_cap)
{
	int n, plain;

	if (!k || (len && !in) || (out_cap && !out))
		return -EINVAL;
	if (len > PROTO_LEN_MAX)
		return -EMSGSIZE;
	if (out_cap < len)
		return -ENOSPC;

	if (k->cipher == COAP_CIPHER_AES_128_CTR) {
		if (!seq_block)
			return -EINVAL;
		if (!len)
			return 0;
		return proto_keyed_crypt(k->ctr, seq_block, in, len, out);
	}
	/* cbc: PKCS#7 always pads, so even no plaintext is one block. */
	if (!len || len % COAP_PROTO_BLOCK)
		return -EBADMSG;
	n = proto_keyed_crypt(k->cbc_dec, coap_proto_fixed_iv, in, len, out);
	if (n < 0)
		return n;
	plain = coap_pkcs7_unpad(out, (size_t)n);
	if (plain < 0) {
		memset(out, 0, len);
		return -EBADMSG;
	}
	return plain;
}
