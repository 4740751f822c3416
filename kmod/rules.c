// SPDX-License-Identifier: GPL-2.0
/*
 * coap_offload: the topic rules, which topics a device may publish to.
 *
 * The matching itself is include/coap/coap_rules.c, shared with coapd's
 * user-space path. The namespace's rules are an RCU-protected array
 * replaced as a whole from netlink; NULL means PROTOCOL.md's defaults.
 */
#include <linux/slab.h>
#include <linux/string.h>
#include <kunit/visibility.h>
#include <coap/coap_rules.h>

#include "coap_offload.h"

/* Caller holds rcu_read_lock() (rules may be the namespace's current set). */
bool coap_offload_topic_allowed(const struct coap_offload_rules *rules,
				const char *topic, const char *pk,
				const char *dn)
{
	if (!rules)
		return coap_topic_allowed(NULL, 0, topic, pk, dn);
	return coap_topic_allowed((const char * const *)rules->rule,
				  rules->count, topic, pk, dn);
}
EXPORT_SYMBOL_IF_KUNIT(coap_offload_topic_allowed);

/* A rule is well formed (coap_rule_valid()): 0 or -EINVAL. */
int coap_offload_rule_valid(const char *rule)
{
	return coap_rule_valid(rule);
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
		*list = coap_rules_default;
		return COAP_RULES_DEFAULT_COUNT;
	}
	*list = (const char * const *)rules->rule;
	return rules->count;
}
