// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Topic rules, shared by the kernel module and coapd; see coap_rules.h.
 */
#include "coap_rules.h"

const char * const coap_rules_default[COAP_RULES_DEFAULT_COUNT] = {
	"/{pk}/{dn}/#",
	"/sys/{pk}/{dn}/#",
	"/ota/device/+/{pk}/{dn}",
	"/shadow/update/{pk}/{dn}",
};

/* The end of the segment at s: the next '/' or the NUL. */
static const char *coap_segment_end(const char *s)
{
	while (*s && *s != '/')
		s++;
	return s;
}

static bool coap_segment_is(const char *seg, size_t len, const char *word)
{
	return strlen(word) == len && !memcmp(seg, word, len);
}

bool coap_rule_match(const char *rule, const char *topic, const char *pk,
		     const char *dn)
{
	while (*rule) {
		const char *rseg = rule + 1, *tseg = topic + 1;
		const char *rend = coap_segment_end(rseg);
		const char *tend;
		size_t rlen = (size_t)(rend - rseg), tlen;
		bool ok;

		if (*rule != '/' || *topic != '/')
			return false;
		if (coap_segment_is(rseg, rlen, "#"))
			return *tseg != '\0';
		tend = coap_segment_end(tseg);
		tlen = (size_t)(tend - tseg);
		if (!tlen)
			return false;
		if (coap_segment_is(rseg, rlen, "+"))
			ok = true;
		else if (coap_segment_is(rseg, rlen, "{pk}"))
			ok = coap_segment_is(tseg, tlen, pk);
		else if (coap_segment_is(rseg, rlen, "{dn}"))
			ok = coap_segment_is(tseg, tlen, dn);
		else
			ok = rlen == tlen && !memcmp(rseg, tseg, tlen);
		if (!ok)
			return false;
		rule = rend;
		topic = tend;
	}
	return *topic == '\0';
}

bool coap_topic_allowed(const char * const *rule, unsigned int n,
			const char *topic, const char *pk, const char *dn)
{
	unsigned int i;

	if (!rule) {
		rule = coap_rules_default;
		n = COAP_RULES_DEFAULT_COUNT;
	}
	for (i = 0; i < n; i++)
		if (coap_rule_match(rule[i], topic, pk, dn))
			return true;
	return false;
}

int coap_rule_valid(const char *rule)
{
	const char *seg, *end;
	size_t len;

	if (*rule != '/')
		return -EINVAL;
	for (seg = rule + 1; ; seg = end + 1) {
		end = coap_segment_end(seg);
		len = (size_t)(end - seg);
		if (!len || coap_segment_is(seg, len, ".") ||
		    coap_segment_is(seg, len, ".."))
			return -EINVAL;
		if (coap_segment_is(seg, len, "#") && *end)
			return -EINVAL;
		if (!*end)
			return 0;
	}
}
