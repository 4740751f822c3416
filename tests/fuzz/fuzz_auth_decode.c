// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for coapd's /auth payload decoders
 * (userspace/coapd/codec.c: JSON through json-c, CBOR through libcbor).
 *
 * Build: make build/fuzz/fuzz_auth_decode
 * Run:   build/fuzz/fuzz_auth_decode -max_total_time=60 \
 *              tests/fuzz/corpus/auth_decode
 *
 * Every input goes to both decoders (a seed is a real /auth body in one of
 * the encodings). A decoder returns 0, -EBADMSG or -ENOMEM; what it accepts
 * must be what the rest of coapd relies on: at most AUTH_FIELDS_MAX fields,
 * non-empty names of at most AUTH_NAME_MAX bytes, values of at most
 * AUTH_VALUE_MAX, no NUL inside either (C strings: a NUL would cut what
 * gets signed), each name once, all in the input's arena, found again by
 * coapd_auth_field(). The fields are then encoded again in the same
 * encoding and decoded: the same fields must come back. The sign content is
 * built from them as coapd does. Any violation abort()s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <json-c/json.h>

#include "coapd.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_fields(const struct auth_input *in)
{
	size_t i, j;

	CHECK(in->n <= AUTH_FIELDS_MAX);
	CHECK(in->used <= sizeof(in->text));
	for (i = 0; i < in->n; i++) {
		const char *name = in->f[i].name, *value = in->f[i].value;
		bool str;

		CHECK(name >= in->text && name < in->text + in->used);
		CHECK(value >= in->text && value < in->text + in->used);
		CHECK(strlen(name) >= 1 && strlen(name) <= AUTH_NAME_MAX);
		CHECK(strlen(value) <= AUTH_VALUE_MAX);
		CHECK(name + strlen(name) < in->text + in->used);
		CHECK(value + strlen(value) < in->text + in->used);
		for (j = 0; j < i; j++)
			CHECK(strcmp(name, in->f[j].name));
		CHECK(coapd_auth_field(in, name, &str) == value);
		CHECK(str == in->is_string[i]);
		/* A number is decimal digits (JSON: maybe a minus). */
		if (!in->is_string[i]) {
			const char *d = value + (value[0] == '-');

			CHECK(*d && strspn(d, "0123456789") == strlen(d));
		}
	}
}

static json_object *to_json(const struct auth_input *in)
{
	json_object *o = json_object_new_object(), *v;
	size_t i;

	CHECK(o);
	for (i = 0; i < in->n; i++) {
		const char *s = in->f[i].value;

		if (in->is_string[i])
			v = json_object_new_string(s);
		else if (s[0] == '-')
			v = json_object_new_int64(strtoll(s, NULL, 10));
		else
			v = json_object_new_uint64(strtoull(s, NULL, 10));
		CHECK(v && !json_object_object_add(o, in->f[i].name, v));
	}
	return o;
}

static size_t to_cbor(const struct auth_input *in, unsigned char **buf)
{
	cbor_item_t *map = cbor_new_definite_map(in->n), *k, *v;
	size_t i, size, len;

	CHECK(map);
	for (i = 0; i < in->n; i++) {
		k = cbor_build_string(in->f[i].name);
		v = in->is_string[i] ?
		    cbor_build_string(in->f[i].value) :
		    cbor_build_uint64(strtoull(in->f[i].value, NULL, 10));
		CHECK(k && v && cbor_map_add(map, (struct cbor_pair){
			.key = k, .value = v }));
		cbor_decref(&k);
		cbor_decref(&v);
	}
	len = cbor_serialize_alloc(map, buf, &size);
	cbor_decref(&map);
	CHECK(len);
	return len;
}

static void check_round_trip(const struct auth_input *in, bool cbor)
{
	static struct auth_input again;
	unsigned char *buf = NULL;
	json_object *o;
	size_t len, i;

	if (cbor) {
		len = to_cbor(in, &buf);
		CHECK(!coapd_auth_decode(buf, len, true, &again));
		free(buf);
	} else {
		const char *text;

		o = to_json(in);
		text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		CHECK(text);
		CHECK(!coapd_auth_decode((const uint8_t *)text, strlen(text),
					 false, &again));
		json_object_put(o);
	}
	CHECK(again.n == in->n);
	for (i = 0; i < in->n; i++) {
		CHECK(!strcmp(again.f[i].name, in->f[i].name));
		CHECK(!strcmp(again.f[i].value, in->f[i].value));
		CHECK(again.is_string[i] == in->is_string[i]);
	}
}

static void one(const uint8_t *data, size_t size, bool cbor)
{
	static struct auth_input in;
	static char content[AUTH_FIELDS_MAX * (AUTH_NAME_MAX + AUTH_VALUE_MAX)];
	int err, len;

	err = coapd_auth_decode(data, size, cbor, &in);
	CHECK(!err || err == -EBADMSG || err == -ENOMEM);
	if (err)
		return;
	check_fields(&in);
	check_round_trip(&in, cbor);
	/* Every decoded input fits: coapd sizes its buffer the same way. */
	len = coap_proto_sign_content(in.f, in.n, content, sizeof(content));
	CHECK(len >= 0 && (size_t)len < sizeof(content));
	CHECK(strlen(content) == (size_t)len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy: ASan sees any read past the end. */
	uint8_t *copy = malloc(size ? size : 1);

	CHECK(copy);
	memcpy(copy, data, size);
	one(copy, size, false);
	one(copy, size, true);
	free(copy);
	return 0;
}
