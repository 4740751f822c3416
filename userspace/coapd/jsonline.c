// SPDX-License-Identifier: GPL-2.0
/*
 * A delivered message as one JSON line (jsonline.h).
 */
#include <string.h>
#include <netinet/in.h>
#include <openssl/evp.h>

#include "jsonline.h"

/*
 * Eight bytes at a time (SWAR): a word is loaded unaligned, its bytes tested
 * together, and only a word with a byte that needs care takes the byte-wise
 * path. The bytes a JSON line carries are mostly plain ASCII; byte by byte,
 * put_str() was the largest piece of coapd's own time per message.
 */
#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

static inline uint64_t load8(const void *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* Has w a zero byte? Exact as a whole (not which byte). */
static inline uint64_t has_zero(uint64_t w)
{
	return (w - ONES) & ~w & HIGHS;
}

/* Has w a byte below 0x20, '"' or '\\', which JSON escapes? */
static inline uint64_t needs_escape(uint64_t w)
{
	return ((w - ONES * 0x20) & ~w & HIGHS) |
	       has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\'));
}

bool coapd_json_text_ok(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		uint8_t c;

		/* Eight ASCII bytes, none of them NUL: all fine. */
		if (len - i >= 8) {
			uint64_t w = load8(s + i);

			if (!(w & HIGHS) && !has_zero(w)) {
				i += 8;
				continue;
			}
		}
		c = s[i];

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

/*
 * The index of the first byte a needs_escape() (or has_zero()) mask flags:
 * the lowest flag is exact (a borrow only runs upward, into bytes after
 * it). Memory order is the word's low byte first on little-endian hosts.
 */
static inline unsigned int first_flagged(uint64_t mask)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_ctzll(mask) / 8;
#else
	(void)mask;
	return 0;	/* the byte-wise path decides */
#endif
}

/* One byte that needs escaping, as json-c writes it. */
static char *put_escaped(char *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e = 0;

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
	return o;
}

/*
 * A quoted, escaped string as json-c writes it ('/' not escaped). A word
 * is written whole even when only its first k bytes are plain (the bytes
 * after them are written over next): never past the bound, as a word is
 * read only with 8 bytes left, each of which may take 6.
 */
static char *put_str(char *o, const char *s, size_t len)
{
	size_t i = 0, k;
	uint64_t w, mask;

	*o++ = '"';
	while (len - i >= 8) {
		w = load8(s + i);
		mask = needs_escape(w);
		k = mask ? first_flagged(mask) : 8;
		memcpy(o, &w, sizeof(w));
		o += k;
		i += k;
		if (k < 8) {
			unsigned char c = s[i++];

			/* Flagged (or, big-endian, maybe not). */
			if (c >= ' ' && c != '"' && c != '\\')
				*o++ = c;
			else
				o = put_escaped(o, c);
		}
	}
	if (i < len && len >= 8) {
		/*
		 * The last 8 bytes, read again: when none needs escaping, the
		 * ones before the tail were written as they are, so the word
		 * goes over them and the tail is done.
		 */
		w = load8(s + len - 8);
		if (!needs_escape(w)) {
			memcpy(o - (8 - (len - i)), &w, sizeof(w));
			o += len - i;
			i = len;
		}
	}
	for (; i < len; i++) {
		unsigned char c = s[i];

		if (c >= ' ' && c != '"' && c != '\\')
			*o++ = c;
		else
			o = put_escaped(o, c);
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

/* "00".."99": two digits a division. */
static const char digit_pairs[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/*
 * v in decimal: its digits counted first, then written from the last, two
 * at a time (the ids and times are 19 digits; a digit a division, then a
 * reversal, was most of coapd_json_line()'s own time).
 */
static char *put_u64(char *o, uint64_t v)
{
	static const uint64_t pow10[] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
		10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
		100000000000ULL, 1000000000000ULL, 10000000000000ULL,
		100000000000000ULL, 1000000000000000ULL,
		10000000000000000ULL, 100000000000000000ULL,
		1000000000000000000ULL, 10000000000000000000ULL,
	};
	unsigned int n, bits = 64 - __builtin_clzll(v | 1);
	char *p;

	/* log10 from log2 (1233/4096 ~ log10(2)), then one correction. */
	n = (bits * 1233) >> 12;
	n += v >= pow10[n];
	if (!n)
		n = 1;
	p = o + n;
	while (v >= 100) {
		p -= 2;
		memcpy(p, digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, digit_pairs + 2 * v, 2);
	} else {
		*--p = '0' + v;
	}
	return o + n;
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
