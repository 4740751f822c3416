// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the topic rules, which topics a device may publish to.
 *
 * A rule is "/"-separated segments: a literal, "{pk}" or "{dn}" (the
 * session's identity), "+" (any one segment) or, last, "#" (one or more).
 * The namespace's rules are an RCU-protected array replaced as a whole from
 * netlink; NULL means PROTOCOL.md's defaults.
 */
#include <linux/slab.h>
#include <linux/string.h>
#include <kunit/visibility.h>

#include "coap_offload.h"

static const char * const coap_offload_default_rules[] = {
	"/{pk}/{dn}/#",
	"/sys/{pk}/{dn}/#",
	"/ota/device/+/{pk}/{dn}",
	"/shadow/update/{pk}/{dn}",
};

static bool coap_offload_segment_is(const char *seg, size_t len,
				    const char *word)
{
	return strlen(word) == len && !memcmp(seg, word, len);
}

/* topic is "/seg/seg..." with no empty segment (coap_uri_path() made it). */
static bool coap_offload_rule_match(const char *rule, const char *topic,
				    const char *pk, const char *dn)
{
	while (*rule) {
		const char *rseg = rule + 1, *tseg = topic + 1;
		const char *rend = strchrnul(rseg, '/');
		const char *tend;
		size_t rlen = rend - rseg, tlen;
		bool ok;

		if (*rule != '/' || *topic != '/')
			return false;
		if (coap_offload_segment_is(rseg, rlen, "#"))
			return *tseg != '\0';
		tend = strchrnul(tseg, '/');
		tlen = tend - tseg;
		if (!tlen)
			return false;
		if (coap_offload_segment_is(rseg, rlen, "+"))
			ok = true;
		else if (coap_offload_segment_is(rseg, rlen, "{pk}"))
			ok = coap_offload_segment_is(tseg, tlen, pk);
		else if (coap_offload_segment_is(rseg, rlen, "{dn}"))
			ok = coap_offload_segment_is(tseg, tlen, dn);
		else
			ok = rlen == tlen && !memcmp(rseg, tseg, tlen);
		if (!ok)
			return false;
		rule = rend;
		topic = tend;
	}
	return *topic == '\0';
}

/* Caller holds rcu_read_lock() (rules may be the namespace's current set). */
bool coap_offload_topic_allowed(const struct coap_offload_rules *rules,
				const char *topic, const char *pk,
				const char *dn)
{
	const char * const *list = coap_offload_default_rules;
	unsigned int i, n = ARRAY_SIZE(coap_offload_default_rules);

	if (rules) {
		list = (const char * const *)rules->rule;
		n = rules->count;
	}
	for (i = 0; i < n; i++)
		if (coap_offload_rule_match(list[i], topic, pk, dn))
			return true;
	return false;
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_topic_allowed);

/*
 * A rule is well formed: it starts with "/", has no empty, "." or ".."
 * segment (a topic never has one), and "#" only as its last segment.
 */
int coap_offload_rule_valid(const char *rule)
{
	const char *seg, *end;
	size_t len;

	if (*rule != '/')
		return -EINVAL;
	for (seg = rule + 1; ; seg = end + 1) {
		end = strchrnul(seg, '/');
		len = end - seg;
		if (!len || coap_offload_segment_is(seg, len, ".") ||
		    coap_offload_segment_is(seg, len, ".."))
			return -EINVAL;
		if (coap_offload_segment_is(seg, len, "#") && *end)
			return -EINVAL;
		if (!*end)
			return 0;
	}
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_rule_valid);

/* A rule set holding copies of rule[0..n). */
struct coap_offload_rules *coap_offload_rules_alloc(const char * const *rule,
						    unsigned int n)
{
	struct coap_offload_rules *rules;
	size_t strings = 0;
	unsigned int i;
	char *p;

	for (i = 0; i < n; i++)
		strings += strlen(rule[i]) + 1;
	rules = kmalloc(struct_size(rules, rule, n) + strings, GFP_KERNEL);
	if (!rules)
		return NULL;
	rules->count = n;
	p = (char *)&rules->rule[n];
	for (i = 0; i < n; i++) {
		size_t len = strlen(rule[i]) + 1;

		rules->rule[i] = memcpy(p, rule[i], len);
		p += len;
	}
	return rules;
}

/* The rules to report: the namespace's, or the defaults. */
unsigned int coap_offload_rules_get(const struct coap_offload_rules *rules,
				    const char * const **list)
{
	if (!rules) {
		*list = coap_offload_default_rules;
		return ARRAY_SIZE(coap_offload_default_rules);
	}
	*list = (const char * const *)rules->rule;
	return rules->count;
}
