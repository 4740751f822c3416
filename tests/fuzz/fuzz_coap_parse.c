// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target for the shared CoAP wire code.
 *
 * Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *         tests/fuzz/fuzz_coap_parse.c include/coap/coap_wire.c \
 *         -o build/fuzz/fuzz_coap_parse
 * Run:
 *   build/fuzz/fuzz_coap_parse -max_total_time=60 -max_len=1400 \
 *         tests/fuzz/corpus/coap_parse
 *
 * For every input: parse; on success iterate all options, join the
 * Uri-Path, look options up, try the seq/PKCS#7 helpers, then rebuild the
 * message with the builder.  RFC 7252's option encoding is canonical (each
 * delta and length has exactly one encoding), so the rebuilt bytes must be
 * the input bytes; they must also parse to the same fields.  Any mismatch
 * abort()s.  The input is copied to a heap block of exactly its size so
 * that AddressSanitizer sees any read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/coap_wire.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_same(const struct coap_msg *a, const struct coap_msg *b)
{
	struct coap_opt_iter ia, ib;
	struct coap_option oa, ob;
	bool na, nb;

	CHECK(a->len == b->len);
	CHECK(a->type == b->type);
	CHECK(a->code == b->code);
	CHECK(a->message_id == b->message_id);
	CHECK(a->token_len == b->token_len);
	CHECK(!memcmp(a->token, b->token, a->token_len));
	CHECK(a->options_len == b->options_len);
	CHECK(a->payload_len == b->payload_len);
	CHECK(!a->payload == !b->payload);
	if (a->payload_len)
		CHECK(!memcmp(a->payload, b->payload, a->payload_len));
	coap_opt_iter_init(&ia, a);
	coap_opt_iter_init(&ib, b);
	do {
		na = coap_opt_next(&ia, &oa);
		nb = coap_opt_next(&ib, &ob);
		CHECK(na == nb);
		if (na) {
			CHECK(oa.number == ob.number);
			CHECK(oa.len == ob.len);
			CHECK(!memcmp(oa.value, ob.value, oa.len));
		}
	} while (na);
}

/* Rebuild msg into a heap block of exactly cap bytes. */
static int rebuild(const struct coap_msg *msg, uint8_t *out, size_t cap)
{
	struct coap_opt_iter it;
	struct coap_option opt;
	struct coap_builder b;

	coap_builder_init(&b, out, cap, msg->type, msg->code,
			  msg->message_id, msg->token, msg->token_len);
	coap_opt_iter_init(&it, msg);
	while (coap_opt_next(&it, &opt))
		coap_builder_add_option(&b, opt.number, opt.value, opt.len);
	coap_builder_set_payload(&b, msg->payload, msg->payload_len);
	return coap_builder_finish(&b);
}

static void exercise_helpers(const struct coap_msg *msg)
{
	struct coap_opt_iter it;
	struct coap_option opt, found;
	uint16_t prev = 0;
	size_t count = 0, consumed = 0;
	uint8_t digits[20];
	uint64_t seq;
	char path[COAP_MAX_MESSAGE + 2];
	int ret, ret2;

	coap_opt_iter_init(&it, msg);
	while (coap_opt_next(&it, &opt)) {
		/* Sorted, inside the option area, lookups agree. */
		CHECK(opt.number >= prev);
		CHECK(opt.value >= msg->options);
		CHECK(opt.value + opt.len <= msg->options + msg->options_len);
		consumed = (size_t)(opt.value + opt.len - msg->options);
		CHECK(coap_find_option(msg, opt.number, &found));
		CHECK(found.number == opt.number);
		CHECK(found.value <= opt.value);
		prev = opt.number;
		count++;

		if (opt.number == COAP_OPT_SEQ || opt.len <= 20) {
			if (!coap_parse_decimal_seq(opt.value, opt.len,
						    &seq)) {
				size_t n = coap_format_decimal(seq, digits);
				uint64_t back;

				/* Same value, leading zeros gone. */
				CHECK(n >= 1 && n <= opt.len);
				CHECK(!coap_parse_decimal_seq(digits, n, &back));
				CHECK(back == seq);
			}
		}
		if (opt.len && !(opt.len & 15)) {
			ret = coap_pkcs7_unpad(opt.value, opt.len);
			CHECK(ret == -EBADMSG ||
			      (ret >= (int)opt.len - 16 && ret < opt.len));
		}
	}
	CHECK(consumed == msg->options_len);
	(void)count;

	ret = coap_uri_path(msg, path, sizeof(path));
	CHECK(ret == -EINVAL || (ret > 0 && (size_t)ret == strlen(path)));
	if (ret > 0) {
		CHECK(path[0] == '/');
		/* Exactly enough room works; one byte less does not. */
		ret2 = coap_uri_path(msg, path, (size_t)ret + 1);
		CHECK(ret2 == ret);
		ret2 = coap_uri_path(msg, path, (size_t)ret);
		CHECK(ret2 == -ENOSPC);
		CHECK(strlen(path) < (size_t)ret);
	} else {
		CHECK(coap_uri_path(msg, path, 3) == -EINVAL);
	}

	if (msg->payload_len && msg->payload_len <= 32) {
		if (!coap_parse_decimal_seq(msg->payload, msg->payload_len,
					    &seq)) {
			size_t n = coap_format_decimal(seq, digits);
			uint64_t back;

			CHECK(!coap_parse_decimal_seq(digits, n, &back));
			CHECK(back == seq);
		}
		if (!(msg->payload_len & 15)) {
			ret = coap_pkcs7_unpad(msg->payload,
					       msg->payload_len);
			CHECK(ret == -EBADMSG ||
			      (ret >= 0 && (size_t)ret < msg->payload_len));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct coap_msg msg, again;
	uint8_t *in, *out;
	int ret, len;

	in = malloc(size ? size : 1);
	CHECK(in);
	if (size)
		memcpy(in, data, size);

	ret = coap_parse(in, size, &msg);
	if (ret) {
		CHECK(ret == -EPROTO || ret == -EPROTONOSUPPORT ||
		      ret == -EMSGSIZE);
		free(in);
		return 0;
	}
	CHECK(size >= 4 && size <= COAP_MAX_MESSAGE);
	CHECK(msg.data == in && msg.len == size);
	CHECK(msg.token == in + 4);
	CHECK(msg.options == in + 4 + msg.token_len);
	CHECK(4 + msg.token_len + msg.options_len +
	      (msg.payload ? 1 + msg.payload_len : 0) == size);
	CHECK(!msg.payload == !msg.payload_len);

	exercise_helpers(&msg);

	/* Rebuild into exactly size bytes: identical bytes, same fields. */
	out = malloc(size);
	CHECK(out);
	len = rebuild(&msg, out, size);
	CHECK(len == (int)size);
	CHECK(!memcmp(out, in, size));
	CHECK(!coap_parse(out, (size_t)len, &again));
	check_same(&msg, &again);
	free(out);

	/* One byte less must not fit, and must not be written past. */
	out = malloc(size - 1);
	CHECK(out);
	CHECK(rebuild(&msg, out, size - 1) == -ENOSPC);
	free(out);

	free(in);
	return 0;
}
