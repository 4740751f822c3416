// SPDX-License-Identifier: GPL-2.0
/*
 * The shared wire code (include/coap/) is plain C built into the module;
 * export it to the KUnit module only, which tests the very objects that run
 * in the fast path rather than a second copy.
 */
#include <linux/module.h>
#include <kunit/visibility.h>
#include <coap/coap_wire.h>

EXPORT_SYMBOL_IF_KUNIT(coap_parse);
EXPORT_SYMBOL_IF_KUNIT(coap_opt_iter_init);
EXPORT_SYMBOL_IF_KUNIT(coap_opt_next);
EXPORT_SYMBOL_IF_KUNIT(coap_find_option);
EXPORT_SYMBOL_IF_KUNIT(coap_builder_init);
EXPORT_SYMBOL_IF_KUNIT(coap_builder_add_option);
EXPORT_SYMBOL_IF_KUNIT(coap_builder_add_uint_option);
EXPORT_SYMBOL_IF_KUNIT(coap_builder_set_payload);
EXPORT_SYMBOL_IF_KUNIT(coap_builder_finish);
EXPORT_SYMBOL_IF_KUNIT(coap_uri_path);
EXPORT_SYMBOL_IF_KUNIT(coap_parse_decimal_seq);
EXPORT_SYMBOL_IF_KUNIT(coap_format_decimal);
EXPORT_SYMBOL_IF_KUNIT(coap_pkcs7_unpad);
