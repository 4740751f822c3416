// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the symmetric-mode ciphers (PROTOCOL.md "Cipher suites") on
 * the session's sync skciphers, keyed in process context, used in softirq.
 */
#include <linux/scatterlist.h>
#include <crypto/skcipher.h>
#include <kunit/visibility.h>
#include <coap/coap_wire.h>

#include "coap_offload.h"

static const u8 coap_offload_fixed_iv[16] = "543yhjy97ae7fyfg";

/* In-place AES over buf (linear, in the direct map) with a copy of iv. */
static int coap_offload_crypt(struct crypto_sync_skcipher *tfm, u8 *buf,
			      unsigned int len, const u8 *iv_in)
{
	SYNC_SKCIPHER_REQUEST_ON_STACK(req, tfm);
	struct scatterlist sg;
	u8 iv[16];
	int err;

	memcpy(iv, iv_in, sizeof(iv));
	sg_init_one(&sg, buf, len);
	skcipher_request_set_sync_tfm(req, tfm);
	skcipher_request_set_callback(req, 0, NULL, NULL);
	skcipher_request_set_crypt(req, &sg, &sg, len, iv);
	err = crypto_skcipher_decrypt(req);
	skcipher_request_zero(req);
	return err;
}

/*
 * The seq option: one CBC block with the fixed IV, decimal ASCII inside.
 * Decrypted in place; buf must be in the direct map (skb data, not stack).
 */
int coap_offload_decrypt_seq(const struct coap_offload_session *s, u8 *block,
			     u64 *seq)
{
	int len;

	if (coap_offload_crypt(s->cbc, block, 16, coap_offload_fixed_iv))
		return -EBADMSG;
	len = coap_pkcs7_unpad(block, 16);
	if (len < 0)
		return len;
	return coap_parse_decimal_seq(block, len, seq);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_decrypt_seq);

/*
 * The payload, in place (same rule for buf); returns the plaintext length or
 * -EBADMSG. counter_block is the seq option as sent (CTR's initial block).
 */
int coap_offload_decrypt_payload(const struct coap_offload_session *s, u8 *buf,
				 size_t len, const u8 *counter_block)
{
	if (s->cipher == COAP_OFFLOAD_CIPHER_AES_128_CTR) {
		if (len && coap_offload_crypt(s->ctr, buf, len, counter_block))
			return -EBADMSG;
		return len;
	}
	/* CBC: PKCS#7 always pads, so even no plaintext is one block. */
	if (!len || len % 16 ||
	    coap_offload_crypt(s->cbc, buf, len, coap_offload_fixed_iv))
		return -EBADMSG;
	return coap_pkcs7_unpad(buf, len);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_decrypt_payload);
