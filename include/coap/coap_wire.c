// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * CoAP (RFC 7252) wire format, shared by the kernel module, the daemon and
 * the host tests.  See coap_wire.h for the contract of each function.
 *
 * Rules kept throughout: no allocation, no recursion, no 64-bit division
 * (32-bit kernels have no __udivdi3), every read bounds-checked against the
 * end of the caller's buffer before it happens, and pointer arithmetic only
 * on non-NULL pointers.
 */
#include "coap_wire.h"

/*
 * Decode the extended form of a delta or length nibble (RFC 7252 §3.1):
 * 13 means "one more byte, plus 13", 14 "two more bytes (big-endian), plus
 * 269".  *v holds the nibble on entry and the value on return.  The caller
 * has already rejected 15.
 */
static int coap_opt_ext(const uint8_t **pp, const uint8_t *end, uint32_t *v)
{
	const uint8_t *p = *pp;

	if (*v == 13) {
		if (end - p < 1)
			return -EPROTO;
		*v = 13 + (uint32_t)p[0];
		p += 1;
	} else if (*v == 14) {
		if (end - p < 2)
			return -EPROTO;
		*v = 269 + ((uint32_t)p[0] << 8 | (uint32_t)p[1]);
		p += 2;
	}
	*pp = p;
	return 0;
}

/*
 * Decode one option header at *pp (which is < end and not the payload
 * marker): on success *pp points at the value, which is known to fit before
 * end.
 */
static int coap_opt_header(const uint8_t **pp, const uint8_t *end,
			   uint32_t *delta, uint32_t *len)
{
	const uint8_t *p = *pp;
	uint32_t d = p[0] >> 4;
	uint32_t l = p[0] & 0x0f;

	p++;
	/* 15 is reserved except as the payload marker 0xFF. */
	if (d == 15 || l == 15)
		return -EPROTO;
	if (coap_opt_ext(&p, end, &d) || coap_opt_ext(&p, end, &l))
		return -EPROTO;
	if ((size_t)(end - p) < l)
		return -EPROTO;
	*pp = p;
	*delta = d;
	*len = l;
	return 0;
}

int coap_parse(const uint8_t *buf, size_t len, struct coap_msg *msg)
{
	const uint8_t *p, *end;
	uint32_t number = 0;
	uint8_t tkl, cls;

	if (len > COAP_MAX_MESSAGE)
		return -EMSGSIZE;
	if (!buf || len < COAP_HEADER_LEN)
		return -EPROTO;
	if ((buf[0] >> 6) != COAP_VERSION)
		return -EPROTONOSUPPORT;

	tkl = buf[0] & 0x0f;
	if (tkl > COAP_MAX_TOKEN_LEN)
		return -EPROTO;
	cls = COAP_CODE_CLASS(buf[1]);
	if (cls == 1 || cls == 6 || cls == 7)
		return -EPROTO;
	/* An empty message is exactly the 4-byte header (RFC 7252 §4.1). */
	if (buf[1] == COAP_CODE_EMPTY && (tkl != 0 || len != COAP_HEADER_LEN))
		return -EPROTO;
	if (len < (size_t)COAP_HEADER_LEN + tkl)
		return -EPROTO;

	msg->data = buf;
	msg->len = len;
	msg->type = (buf[0] >> 4) & 0x03;
	msg->code = buf[1];
	msg->message_id = (uint16_t)((uint16_t)buf[2] << 8 | buf[3]);
	msg->token_len = tkl;
	msg->token = buf + COAP_HEADER_LEN;
	msg->payload = NULL;
	msg->payload_len = 0;

	p = buf + COAP_HEADER_LEN + tkl;
	end = buf + len;
	msg->options = p;

	while (p < end) {
		uint32_t delta, olen;

		if (*p == COAP_PAYLOAD_MARKER) {
			msg->options_len = (size_t)(p - msg->options);
			p++;
			/* A marker followed by nothing is a format error. */
			if (p == end)
				return -EPROTO;
			msg->payload = p;
			msg->payload_len = (size_t)(end - p);
			return 0;
		}
		if (coap_opt_header(&p, end, &delta, &olen))
			return -EPROTO;
		number += delta;
		if (number > 0xffff)
			return -EPROTO;
		p += olen;
	}
	msg->options_len = (size_t)(p - msg->options);
	return 0;
}

void coap_opt_iter_init(struct coap_opt_iter *it, const struct coap_msg *msg)
{
	it->number = 0;
	if (msg->options && msg->options_len) {
		it->pos = msg->options;
		it->end = msg->options + msg->options_len;
	} else {
		it->pos = NULL;
		it->end = NULL;
	}
}

bool coap_opt_next(struct coap_opt_iter *it, struct coap_option *opt)
{
	const uint8_t *p = it->pos;
	uint32_t delta, len;

	if (!p || p >= it->end || *p == COAP_PAYLOAD_MARKER)
		goto done;
	if (coap_opt_header(&p, it->end, &delta, &len))
		goto done;
	if ((uint32_t)it->number + delta > 0xffff)
		goto done;
	it->number = (uint16_t)(it->number + delta);
	opt->number = it->number;
	opt->len = (uint16_t)len;
	opt->value = p;
	it->pos = p + len;
	return true;
done:
	/* Stay at the end so that further calls keep returning false. */
	it->pos = NULL;
	it->end = NULL;
	return false;
}

bool coap_find_option(const struct coap_msg *msg, uint16_t number,
		      struct coap_option *opt)
{
	struct coap_opt_iter it;

	coap_opt_iter_init(&it, msg);
	while (coap_opt_next(&it, opt)) {
		if (opt->number == number)
			return true;
		if (opt->number > number)
			break;
	}
	return false;
}

static void coap_builder_fail(struct coap_builder *b, int error)
{
	if (!b->error)
		b->error = error;
}

void coap_builder_init(struct coap_builder *b, uint8_t *buf, size_t cap,
		       uint8_t type, uint8_t code, uint16_t message_id,
		       const uint8_t *token, uint8_t token_len)
{
	uint8_t cls = COAP_CODE_CLASS(code);

	b->buf = buf;
	b->cap = cap > COAP_MAX_MESSAGE ? COAP_MAX_MESSAGE : cap;
	b->len = 0;
	b->last_option = 0;
	b->error = 0;
	b->has_payload = false;

	if (type > COAP_TYPE_RST || token_len > COAP_MAX_TOKEN_LEN ||
	    (token_len && !token) || cls == 1 || cls == 6 || cls == 7 ||
	    (code == COAP_CODE_EMPTY && token_len)) {
		coap_builder_fail(b, -EINVAL);
		return;
	}
	if (!buf || b->cap < (size_t)COAP_HEADER_LEN + token_len) {
		coap_builder_fail(b, -ENOSPC);
		return;
	}
	buf[0] = (uint8_t)(COAP_VERSION << 6 | type << 4 | token_len);
	buf[1] = code;
	buf[2] = (uint8_t)(message_id >> 8);
	buf[3] = (uint8_t)message_id;
	if (token_len)
		memcpy(buf + COAP_HEADER_LEN, token, token_len);
	b->len = COAP_HEADER_LEN + token_len;
}

/* Bytes of extension needed for a delta or length value. */
static size_t coap_ext_len(uint32_t v)
{
	if (v < 13)
		return 0;
	if (v < 269)
		return 1;
	return 2;
}

static uint8_t coap_ext_nibble(uint32_t v)
{
	if (v < 13)
		return (uint8_t)v;
	if (v < 269)
		return 13;
	return 14;
}

static uint8_t *coap_put_ext(uint8_t *p, uint32_t v)
{
	if (v >= 269) {
		v -= 269;
		*p++ = (uint8_t)(v >> 8);
		*p++ = (uint8_t)v;
	} else if (v >= 13) {
		*p++ = (uint8_t)(v - 13);
	}
	return p;
}

void coap_builder_add_option(struct coap_builder *b, uint16_t number,
			     const void *value, size_t len)
{
	uint32_t delta;
	size_t avail, hdr;
	uint8_t *p;

	if (b->error)
		return;
	if (b->has_payload || number < b->last_option ||
	    b->buf[1] == COAP_CODE_EMPTY || (len && !value)) {
		coap_builder_fail(b, -EINVAL);
		return;
	}
	delta = (uint32_t)number - b->last_option;
	avail = b->cap - b->len;
	if (len > avail) {
		coap_builder_fail(b, -ENOSPC);
		return;
	}
	/* len <= cap <= COAP_MAX_MESSAGE, so it is encodable. */
	hdr = 1 + coap_ext_len(delta) + coap_ext_len((uint32_t)len);
	if (hdr > avail - len) {
		coap_builder_fail(b, -ENOSPC);
		return;
	}
	p = b->buf + b->len;
	*p++ = (uint8_t)(coap_ext_nibble(delta) << 4 |
			 coap_ext_nibble((uint32_t)len));
	p = coap_put_ext(p, delta);
	p = coap_put_ext(p, (uint32_t)len);
	if (len)
		memcpy(p, value, len);
	b->len += hdr + len;
	b->last_option = number;
}

void coap_builder_add_uint_option(struct coap_builder *b, uint16_t number,
				  uint64_t value)
{
	uint8_t v[8];
	size_t n = 0, i;
	uint64_t t;

	for (t = value; t; t >>= 8)
		n++;
	for (i = 0; i < n; i++)
		v[n - 1 - i] = (uint8_t)(value >> (8 * i));
	coap_builder_add_option(b, number, v, n);
}

void coap_builder_set_payload(struct coap_builder *b, const void *data,
			      size_t len)
{
	if (b->error)
		return;
	if (b->has_payload || (len && !data) ||
	    (len && b->buf[1] == COAP_CODE_EMPTY)) {
		coap_builder_fail(b, -EINVAL);
		return;
	}
	b->has_payload = true;
	if (!len)
		return;
	if (b->cap - b->len < 1 || len > b->cap - b->len - 1) {
		coap_builder_fail(b, -ENOSPC);
		return;
	}
	b->buf[b->len++] = COAP_PAYLOAD_MARKER;
	memcpy(b->buf + b->len, data, len);
	b->len += len;
}

int coap_builder_finish(struct coap_builder *b)
{
	if (b->error)
		return b->error;
	return (int)b->len;
}

static bool coap_segment_ok(const uint8_t *s, size_t len)
{
	size_t i;

	if (!len)
		return false;
	if (s[0] == '.' && (len == 1 || (len == 2 && s[1] == '.')))
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == '\0')
			return false;
	return true;
}

int coap_uri_path(const struct coap_msg *msg, char *out, size_t cap)
{
	struct coap_opt_iter it;
	struct coap_option opt;
	bool any = false, nospace = false;
	size_t n = 0;
	int ret;

	coap_opt_iter_init(&it, msg);
	while (coap_opt_next(&it, &opt)) {
		if (opt.number < COAP_OPT_URI_PATH)
			continue;
		if (opt.number > COAP_OPT_URI_PATH)
			break;
		any = true;
		if (!coap_segment_ok(opt.value, opt.len)) {
			ret = -EINVAL;
			goto out;
		}
		if (nospace)
			continue;
		/* '/' + segment + room for the final NUL; n < cap here. */
		if (cap - n < (size_t)opt.len + 2) {
			nospace = true;
			continue;
		}
		out[n++] = '/';
		memcpy(out + n, opt.value, opt.len);
		n += opt.len;
	}
	if (!any && !nospace) {
		if (cap < 2)
			nospace = true;
		else
			out[n++] = '/';
	}
	ret = nospace ? -ENOSPC : (int)n;
out:
	if (cap)
		out[n] = '\0';
	return ret;
}

int coap_parse_decimal_seq(const uint8_t *s, size_t len, uint64_t *seq)
{
	uint64_t v = 0;
	size_t i;

	if (!s || len < 1 || len > COAP_SEQ_MAX_DIGITS)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		/* v * 10 + digit; 15 digits cannot overflow. */
		v = (v << 3) + (v << 1) + (uint64_t)(s[i] - '0');
	}
	*seq = v;
	return 0;
}

size_t coap_format_decimal(uint64_t seq, uint8_t out[20])
{
	/* Powers of ten, subtracted instead of dividing (no __udivdi3). */
	static const uint64_t coap_pow10[20] = {
		10000000000000000000ULL, 1000000000000000000ULL,
		100000000000000000ULL, 10000000000000000ULL,
		1000000000000000ULL, 100000000000000ULL, 10000000000000ULL,
		1000000000000ULL, 100000000000ULL, 10000000000ULL,
		1000000000ULL, 100000000ULL, 10000000ULL, 1000000ULL,
		100000ULL, 10000ULL, 1000ULL, 100ULL, 10ULL, 1ULL,
	};
	size_t i, n = 0;

	for (i = 0; i < 20; i++) {
		uint8_t digit = 0;

		while (seq >= coap_pow10[i]) {
			seq -= coap_pow10[i];
			digit++;
		}
		if (digit || n || i == 19)
			out[n++] = (uint8_t)('0' + digit);
	}
	return n;
}

int coap_pkcs7_unpad(const uint8_t *buf, size_t len)
{
	uint8_t pad;
	size_t i;

	if (!buf || !len || (len & 15) || len > 0x7fffffff)
		return -EBADMSG;
	pad = buf[len - 1];
	if (!pad || pad > 16)
		return -EBADMSG;
	for (i = len - pad; i < len - 1; i++)
		if (buf[i] != pad)
			return -EBADMSG;
	return (int)(len - pad);
}
