// SPDX-License-Identifier: GPL-2.0
/*
 * The /auth payload in its two encodings (PROTOCOL.md): a JSON object
 * (Content-Format 50, or none) or a CBOR map (60) of short strings or
 * unsigned integers, decoded into one flat list of text fields, the form
 * the sign is computed over; and the 2.05 answer in either encoding.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <cbor.h>

#include "coapd.h"

/* Copy a name or value into the input's arena; NULL when it is full. */
static const char *arena_put(struct auth_input *in, const void *s, size_t len)
{
	char *p;

	if (len + 1 > sizeof(in->text) - in->used)
		return NULL;
	p = in->text + in->used;
	memcpy(p, s, len);
	p[len] = '\0';
	in->used += len + 1;
	return p;
}

/*
 * Add one field. Names and values must be short and must not hold a NUL
 * (a "\u0000" would cut what gets signed). A name may come once: a CBOR map
 * can repeat a key (JSON objects cannot, json-c keeps the last), and which
 * of two productKeys the device meant is not for coapd to guess.
 */
static int add_field(struct auth_input *in, const void *name, size_t name_len,
		     const void *value, size_t value_len, bool is_string)
{
	size_t i;

	if (in->n == AUTH_FIELDS_MAX || !name_len ||
	    name_len > AUTH_NAME_MAX || value_len > AUTH_VALUE_MAX ||
	    memchr(name, 0, name_len) || memchr(value, 0, value_len))
		return -EBADMSG;
	for (i = 0; i < in->n; i++)
		if (strlen(in->f[i].name) == name_len &&
		    !memcmp(in->f[i].name, name, name_len))
			return -EBADMSG;
	in->f[in->n].name = arena_put(in, name, name_len);
	in->f[in->n].value = arena_put(in, value, value_len);
	if (!in->f[in->n].name || !in->f[in->n].value)
		return -EBADMSG;
	in->is_string[in->n++] = is_string;
	return 0;
}

static int decode_json(const uint8_t *p, size_t len, struct auth_input *in)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end, i;
	int err = -EBADMSG;

	/* Depth 2: an object of scalars; deeper input is refused early. */
	tok = json_tokener_new_ex(2);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, (const char *)p, len);
	end = json_tokener_get_parse_end(tok);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (!o)
		return -EBADMSG;
	/* Trailing white space (or a C string's NUL) only. */
	for (i = end; i < len; i++)
		if (p[i] && !strchr(" \t\r\n", p[i]))
			goto out;
	if (!json_object_is_type(o, json_type_object))
		goto out;
	json_object_object_foreach(o, key, val) {
		bool str = json_object_is_type(val, json_type_string);

		/* seq, ackMode and timestamp are seen as numbers. */
		if (!str && !json_object_is_type(val, json_type_int))
			goto out;
		if (add_field(in, key, strlen(key), json_object_get_string(val),
			      str ? (size_t)json_object_get_string_len(val) :
				    strlen(json_object_get_string(val)), str))
			goto out;
	}
	err = 0;
out:
	json_object_put(o);
	return err;
}

/* One CBOR head (RFC 8949 §3): its major type and argument; false if cut. */
static bool cbor_head(const uint8_t *p, size_t len, size_t *pos,
		      unsigned int *major, uint64_t *arg)
{
	unsigned int ai, n, i;

	if (*pos >= len)
		return false;
	*major = p[*pos] >> 5;
	ai = p[(*pos)++] & 0x1f;
	if (ai < 24) {
		*arg = ai;
		return true;
	}
	if (ai > 27)		/* indefinite length or reserved */
		return false;
	n = 1U << (ai - 24);
	if (len - *pos < n)
		return false;
	for (*arg = 0, i = 0; i < n; i++)
		*arg = *arg << 8 | p[(*pos)++];
	return true;
}

/*
 * The only shape coapd takes, checked before libcbor sees the bytes: a map
 * of at most AUTH_FIELDS_MAX pairs, each a text string and a text string or
 * unsigned integer, filling the input exactly. libcbor allocates an array
 * or map from its declared size: a 5-byte head inside an /auth payload
 * asked it for gigabytes (found by fuzz_auth_decode).
 */
static bool cbor_shape_ok(const uint8_t *p, size_t len)
{
	unsigned int major;
	size_t pos = 0;
	uint64_t n, i, arg;

	if (!cbor_head(p, len, &pos, &major, &n) || major != 5 ||
	    n > AUTH_FIELDS_MAX)
		return false;
	for (i = 0; i < 2 * n; i++) {
		if (!cbor_head(p, len, &pos, &major, &arg))
			return false;
		if (major == 3 && arg <= len - pos)
			pos += arg;
		else if (major != 0 || !(i & 1))	/* uint: values only */
			return false;
	}
	return pos == len;
}

static int decode_cbor(const uint8_t *p, size_t len, struct auth_input *in)
{
	struct cbor_load_result res;
	struct cbor_pair *pairs;
	cbor_item_t *item;
	char num[24];
	size_t i;
	int err = -EBADMSG;

	if (!cbor_shape_ok(p, len))
		return -EBADMSG;
	item = cbor_load(p, len, &res);
	if (!item)
		return res.error.code == CBOR_ERR_MEMERROR ? -ENOMEM : -EBADMSG;
	if (res.read != len || !cbor_isa_map(item) ||
	    !cbor_map_is_definite(item))
		goto out;
	pairs = cbor_map_handle(item);
	for (i = 0; i < cbor_map_size(item); i++) {
		cbor_item_t *k = pairs[i].key, *v = pairs[i].value;

		if (!cbor_isa_string(k) || !cbor_string_is_definite(k))
			goto out;
		if (cbor_isa_string(v) && cbor_string_is_definite(v)) {
			err = add_field(in, cbor_string_handle(k),
					cbor_string_length(k),
					cbor_string_handle(v),
					cbor_string_length(v), true);
		} else if (cbor_isa_uint(v)) {
			snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)cbor_get_int(v));
			err = add_field(in, cbor_string_handle(k),
					cbor_string_length(k), num,
					strlen(num), false);
		} else {
			err = -EBADMSG;
		}
		if (err)
			goto out;
	}
	err = 0;
out:
	cbor_decref(&item);
	return err;
}

int coapd_auth_decode(const uint8_t *p, size_t len, bool cbor,
		      struct auth_input *in)
{
	memset(in, 0, sizeof(*in));
	if (!p || !len)
		return -EBADMSG;
	return cbor ? decode_cbor(p, len, in) : decode_json(p, len, in);
}

const char *coapd_auth_field(const struct auth_input *in, const char *name,
			     bool *is_string)
{
	size_t i;

	for (i = 0; i < in->n; i++) {
		if (!strcmp(in->f[i].name, name)) {
			if (is_string)
				*is_string = in->is_string[i];
			return in->f[i].value;
		}
	}
	return NULL;
}

static int encode_cbor(const char *random, unsigned int seq_offset,
		       const char *token, uint8_t *out, size_t cap)
{
	cbor_item_t *map, *k[3] = { NULL }, *v[3] = { NULL };
	unsigned char *buf = NULL;
	size_t size = 0, len = 0;
	int i, n = 0;
	bool ok;

	/* The same keys, in the same order, as the JSON answer. */
	if (random) {
		k[n] = cbor_build_string("random");
		v[n++] = cbor_build_string(random);
		k[n] = cbor_build_string("seqOffset");
		v[n++] = seq_offset < 256 ? cbor_build_uint8(seq_offset) :
					    cbor_build_uint16(seq_offset);
	}
	k[n] = cbor_build_string("token");
	v[n++] = cbor_build_string(token);
	map = cbor_new_definite_map(n);
	ok = map;
	for (i = 0; i < n; i++)
		ok = ok && k[i] && v[i];
	/* The map takes its own references. */
	for (i = 0; i < n; i++)
		ok = ok && cbor_map_add(map, (struct cbor_pair){
				.key = k[i], .value = v[i] });
	if (ok)
		len = cbor_serialize_alloc(map, &buf, &size);
	for (i = 0; i < n; i++) {
		if (k[i])
			cbor_decref(&k[i]);
		if (v[i])
			cbor_decref(&v[i]);
	}
	if (map)
		cbor_decref(&map);
	if (!len) {
		free(buf);
		return -ENOMEM;
	}
	if (len > cap) {
		explicit_bzero(buf, len);
		free(buf);
		return -ENOSPC;
	}
	memcpy(out, buf, len);
	/* It holds the token. */
	explicit_bzero(buf, len);
	free(buf);
	return len;
}

int coapd_auth_encode_grant(bool cbor, const char *random,
			    unsigned int seq_offset, const char *token,
			    uint8_t *out, size_t cap)
{
	int len;

	if (cbor)
		return encode_cbor(random, seq_offset, token, out, cap);
	/* Hex strings and a number: nothing to escape. */
	if (!random)
		len = snprintf((char *)out, cap, "{\"token\":\"%s\"}", token);
	else
		len = snprintf((char *)out, cap,
		       "{\"random\":\"%s\",\"seqOffset\":%u,\"token\":\"%s\"}",
		       random, seq_offset, token);
	return len < 0 || (size_t)len >= cap ? -ENOSPC : len;
}
