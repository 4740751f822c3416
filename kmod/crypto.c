// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the symmetric-mode ciphers (PROTOCOL.md "Cipher suites").
 *
 * Each session keeps only its expanded AES key (struct crypto_aes_ctx, from
 * the AES library); the CBC and CTR modes are done here over the datagram,
 * in place. A tfm per session cost 1-2 KiB each (issue 7 wants the whole
 * session under 1 KiB); the library needs no allocation, no scatterlist and
 * no FPU section, so it runs as is in softirq.
 */
#include <crypto/aes.h>
#include <crypto/algapi.h>
#include <linux/string.h>
#include <kunit/visibility.h>
#include <coap/coap_wire.h>

#include "coap_offload.h"

static const u8 coap_offload_fixed_iv[AES_BLOCK_SIZE] = "543yhjy97ae7fyfg";

/* CBC decryption in place; len is a multiple of the block size. */
static void coap_offload_cbc_decrypt(const struct crypto_aes_ctx *aes, u8 *buf,
				     size_t len, const u8 *iv)
{
	u8 prev[AES_BLOCK_SIZE], cur[AES_BLOCK_SIZE];

	memcpy(prev, iv, AES_BLOCK_SIZE);
	for (; len; len -= AES_BLOCK_SIZE, buf += AES_BLOCK_SIZE) {
		memcpy(cur, buf, AES_BLOCK_SIZE);
		aes_decrypt(aes, buf, cur);
		crypto_xor(buf, prev, AES_BLOCK_SIZE);
		memcpy(prev, cur, AES_BLOCK_SIZE);
	}
}

/* CTR (128-bit big-endian counter) in place, from counter_block. */
static void coap_offload_ctr_crypt(const struct crypto_aes_ctx *aes, u8 *buf,
				   size_t len, const u8 *counter_block)
{
	u8 ctr[AES_BLOCK_SIZE], stream[AES_BLOCK_SIZE];
	size_t n;

	memcpy(ctr, counter_block, AES_BLOCK_SIZE);
	for (; len; len -= n, buf += n) {
		n = min_t(size_t, len, AES_BLOCK_SIZE);
		aes_encrypt(aes, stream, ctr);
		crypto_xor(buf, stream, n);
		crypto_inc(ctr, AES_BLOCK_SIZE);
	}
	memzero_explicit(stream, sizeof(stream));
}

/* The seq option: one CBC block with the fixed IV, decimal ASCII inside. */
int coap_offload_decrypt_seq(const struct coap_offload_session *s, u8 *block,
			     u64 *seq)
{
	int len;

	coap_offload_cbc_decrypt(&s->aes, block, AES_BLOCK_SIZE,
				 coap_offload_fixed_iv);
	len = coap_pkcs7_unpad(block, AES_BLOCK_SIZE);
	if (len < 0)
		return len;
	return coap_parse_decimal_seq(block, len, seq);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_decrypt_seq);

/*
 * The payload, in place; returns the plaintext length or -EBADMSG.
 * counter_block is the seq option as sent (CTR's initial block).
 */
int coap_offload_decrypt_payload(const struct coap_offload_session *s, u8 *buf,
				 size_t len, const u8 *counter_block)
{
	if (s->cipher == COAP_OFFLOAD_CIPHER_AES_128_CTR) {
		coap_offload_ctr_crypt(&s->aes, buf, len, counter_block);
		return len;
	}
	/* CBC: PKCS#7 always pads, so even no plaintext is one block. */
	if (!len || len % AES_BLOCK_SIZE)
		return -EBADMSG;
	coap_offload_cbc_decrypt(&s->aes, buf, len, coap_offload_fixed_iv);
	return coap_pkcs7_unpad(buf, len);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_decrypt_payload);
