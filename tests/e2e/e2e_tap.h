/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TAP lines of the end-to-end test programs: one "ok - ..." or
 * "not ok - ..." per check, without numbers (the calling script numbers
 * them and owns the plan), and "# ..." diagnostics. Flushed at once: the
 * script interleaves them with its own. failures counts the failed checks,
 * for the exit status.
 */
#ifndef COAP_E2E_TAP_H
#define COAP_E2E_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int failures;

static void __attribute__((format(printf, 2, 3)))
check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failures += !ok;
}

static void __attribute__((format(printf, 1, 2))) diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#endif
