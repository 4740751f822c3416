// SPDX-License-Identifier: GPL-2.0
/*
 * A delivered message as one JSON line (jsonline.h).
 */
#include <string.h>
#include <netinet/in.h>
#include <openssl/evp.h>

#include "jsonline.h"

bool coapd_json_text_ok(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		uint8_t c = s[i];

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

/* A quoted, escaped string as json-c writes it ('/' not escaped). */
static char *put_str(char *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	*o++ = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		char e = 0;

		if (c >= ' ' && c != '"' && c != '\\') {
			*o++ = c;
			continue;
		}
		switch (c) {
		case '\b':
			e = 'b';
			break;
		case '\n':
			e = 'n';
			break;
		case '\r':
			e = 'r';
			break;
		case '\t':
			e = 't';
			break;
		case '\f':
			e = 'f';
			break;
		case '"':
		case '\\':
			e = c;
			break;
		}
		*o++ = '\\';
		if (e) {
			*o++ = e;
		} else {
			memcpy(o, "u00", 3);
			o[3] = hex[c >> 4];
			o[4] = hex[c & 0xf];
			o += 5;
		}
	}
	*o++ = '"';
	return o;
}

/* ,"key": (key is a literal: nothing to escape). */
static char *put_key(char *o, const char *key, bool first)
{
	size_t n = strlen(key);

	if (!first)
		*o++ = ',';
	*o++ = '"';
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	return o;
}

static char *put_u64(char *o, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*o++ = tmp[--n];
	return o;
}

const char *coapd_json_peer4(const struct sockaddr *sa, socklen_t len,
			     char *out)
{
	const struct sockaddr_in *a4 = (const void *)sa;
	const uint8_t *b = (const uint8_t *)&a4->sin_addr;
	char *o = out;
	int i;

	if (sa->sa_family != AF_INET || len < sizeof(*a4))
		return NULL;
	for (i = 0; i < 4; i++) {
		o = put_u64(o, b[i]);
		*o++ = i < 3 ? '.' : ':';
	}
	o = put_u64(o, ntohs(a4->sin_port));
	*o = '\0';
	return out;
}

/* Escaping makes at most 6 bytes of one; the keys and punctuation fit 96. */
#define ESCAPED_MAX(n)	((n) * 6 + 2)

size_t coapd_json_line_max(const struct coapd_json_fields *f)
{
	size_t payload = ESCAPED_MAX(f->payload_len);
	size_t b64 = (f->payload_len + 2) / 3 * 4 + 2;

	return 96 + 3 * 20 +
	       ESCAPED_MAX(strlen(f->product_key)) +
	       ESCAPED_MAX(strlen(f->device_name)) +
	       ESCAPED_MAX(strlen(f->topic)) +
	       (payload > b64 ? payload : b64) +
	       (f->peer ? ESCAPED_MAX(strlen(f->peer)) : 0);
}

size_t coapd_json_line(const struct coapd_json_fields *f, char *out)
{
	char *o = out;

	*o++ = '{';
	o = put_key(o, "id", true);
	o = put_u64(o, f->id);
	o = put_key(o, "productKey", false);
	o = put_str(o, f->product_key, strlen(f->product_key));
	o = put_key(o, "deviceName", false);
	o = put_str(o, f->device_name, strlen(f->device_name));
	o = put_key(o, "topic", false);
	o = put_str(o, f->topic, strlen(f->topic));
	if (coapd_json_text_ok(f->payload, f->payload_len)) {
		o = put_key(o, "payload", false);
		o = put_str(o, (const char *)f->payload, f->payload_len);
	} else {
		o = put_key(o, "payload_b64", false);
		*o++ = '"';
		o += EVP_EncodeBlock((unsigned char *)o, f->payload,
				     f->payload_len);
		*o++ = '"';
	}
	if (f->peer) {
		o = put_key(o, "peer", false);
		o = put_str(o, f->peer, strlen(f->peer));
	}
	o = put_key(o, "time", false);
	o = put_u64(o, f->time);
	if (f->has_seq) {
		o = put_key(o, "seq", false);
		o = put_u64(o, f->seq);
	}
	*o++ = '}';
	*o++ = '\n';
	return o - out;
}
