/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Topic rules: which topics a device may publish to (PROTOCOL.md, "POST
 * /topic/<topic>").  Shared by the kernel module and coapd's user-space
 * path (--no-offload) so that both judge a topic with the same code.
 *
 * A rule is "/"-separated segments: a literal, "{pk}" or "{dn}" (the
 * session's identity), "+" (any one segment) or, last, "#" (one or more).
 * Plain C like coap_wire.c: no allocation, no recursion, no libc beyond
 * string.h.
 */
#ifndef COAP_RULES_H
#define COAP_RULES_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/string.h>
#include <linux/errno.h>
#else
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <stdbool.h>
#endif

/* PROTOCOL.md's default rules, used when none are configured. */
#define COAP_RULES_DEFAULT_COUNT	4
extern const char * const coap_rules_default[COAP_RULES_DEFAULT_COUNT];

/*
 * True when topic ("/seg/seg...", no empty segment: coap_uri_path() made
 * it) matches rule for the device pk/dn.
 */
bool coap_rule_match(const char *rule, const char *topic, const char *pk,
		     const char *dn);

/* True when any of rule[0..n) matches; rule NULL means the defaults. */
bool coap_topic_allowed(const char * const *rule, unsigned int n,
			const char *topic, const char *pk, const char *dn);

/*
 * 0 when rule is well formed: it starts with "/", has no empty, "." or ".."
 * segment (a topic never has one), and "#" only as its last segment;
 * -EINVAL otherwise.
 */
int coap_rule_valid(const char *rule);

#endif /* COAP_RULES_H */
