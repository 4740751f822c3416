/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One delivered message as a JSON line, written straight into a buffer.
 * The bytes are exactly those json-c printed before (an object built field
 * by field, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), so
 * that readers of the sink see no change; tests/unit/test_jsonline.c
 * compares the two on hostile inputs. Building a json-c object per message
 * (hash table, a malloc per field, snprintf for numbers) was a third of
 * coapd's time per message in the benchmark.
 */
#ifndef COAPD_JSONLINE_H
#define COAPD_JSONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct coapd_json_fields {
	uint64_t id;
	const char *product_key, *device_name, *topic;
	const uint8_t *payload;
	size_t payload_len;
	const char *peer;		/* NULL: no "peer" field */
	uint64_t time;
	bool has_seq;
	uint64_t seq;
};

/*
 * The most bytes coapd_json_line() can write for these fields (a bound, not
 * the exact length).
 */
size_t coapd_json_line_max(const struct coapd_json_fields *f);

/*
 * Write the line, '\n' included (no NUL), to out, which holds at least
 * coapd_json_line_max(f) bytes. Returns its length.
 */
size_t coapd_json_line(const struct coapd_json_fields *f, char *out);

/*
 * An IPv4 peer as "a.b.c.d:port" (what coapd_addr_str() writes, without
 * its two printf calls) into out (at least 22 bytes): out, or NULL for
 * any other address, which coapd_addr_str() then writes.
 */
const char *coapd_json_peer4(const struct sockaddr *sa, socklen_t len,
			     char *out);

/*
 * Strict UTF-8 without NUL: a payload that is written as a JSON string;
 * anything else goes out base64 ("payload_b64").
 */
bool coapd_json_text_ok(const uint8_t *s, size_t len);

#endif /* COAPD_JSONLINE_H */
