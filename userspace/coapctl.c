// SPDX-License-Identifier: GPL-2.0
/*
 * coapctl: the operator's view of coap_offload.ko and of the device registry.
 *
 *   coapctl [-j [-p]] [-s] [-r REGISTRY] OBJECT [VERB [ARG...]]
 *
 * In the manner of iproute2 and wg: OBJECT is session, device, stats,
 * monitor, socket or config; "show" is every object's default verb; "help"
 * works at every level. Exit status: 0 success, 1 usage error (message on
 * stderr), 2 the kernel or the registry refused or failed.
 *
 * Objects and verbs may be abbreviated like ip(8)'s: any prefix that names
 * one word ("coapctl se l" is "coapctl session list"), plus a few short
 * forms of the most used ones ("s" is session). A prefix of several words
 * is a usage error rather than a guess.
 *
 * Nothing secret is printed unless asked: session keys never (the kernel
 * does not give them out), tokens shortened unless --show-tokens, device
 * secrets hidden unless --show-secrets (and once, when generated).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "coap_nl.h"
#include "coap_proto.h"
#include "registry.h"

#define EXIT_USAGE	1
#define EXIT_FAIL	2

/* Shown of a token unless --show-tokens: enough to tell sessions apart. */
#define TOKEN_SHORT	6
#define GENERATED_SECRET_LEN	32

static struct {
	bool json, pretty, stats_sessions;
	const char *registry;
} opt = { .registry = COAP_REGISTRY_DEFAULT_PATH };

/* ---- usage ---------------------------------------------------------- */

static const char usage_main[] =
"Usage: coapctl [-j [-p]] [-s] [-r REGISTRY] OBJECT [VERB [ARG...]]\n"
"       coapctl help [OBJECT] | OBJECT help | OBJECT VERB help\n"
"OBJECT := session | device | stats | monitor | socket | config\n"
"Objects and verbs may be abbreviated to a unique prefix (\"s\" is session):\n"
"coapctl se l = coapctl session list.\n"
"Options:\n"
"  -j, --json       JSON output\n"
"  -p, --pretty     indented JSON (with -j)\n"
"  -s, --stats      more detail (stats: one line per session)\n"
"  -r, --registry   device registry (default " COAP_REGISTRY_DEFAULT_PATH ")\n"
"Exit status: 0 ok, 1 usage error, 2 kernel or registry error.\n";

static const char usage_session[] =
"Usage: coapctl session [show|list] [device PK/DN] [--show-tokens]\n"
"       coapctl session add device PK/DN token TOKEN\n"
"                       (secret SECRET random RANDOM | random RANDOM | key HEX32)\n"
"                       [seq-offset N] [cipher aes-128-cbc|aes-128-ctr]\n"
"                       [lifetime SECONDS] [idle SECONDS]\n"
"       coapctl session rekey TOKEN (secret SECRET random RANDOM | random RANDOM\n"
"                                  | key HEX32) [seq-offset N]\n"
"                       [cipher C] [lifetime SECONDS] [idle SECONDS]\n"
"       coapctl session del (TOKEN | device PK/DN)\n"
"       coapctl session flush\n"
"rekey gives an existing session a new key in one atomic step (the device\n"
"keeps its token); its replay window restarts at the seq-offset. Device,\n"
"cipher, idle timeout, the remaining lifetime and the seq-offset stay\n"
"unless given.\n"
"With \"random\" alone the device's secret comes from the registry;\n"
"\"secret -\" reads it from stdin (kept out of ps and shell history).\n"
"The key is never shown; tokens are shortened unless --show-tokens.\n";

static const char usage_device[] =
"Usage: coapctl device [show|list] [PK] [--show-secrets]\n"
"       coapctl device add PK/DN [secret SECRET | generate]\n"
"       coapctl device del PK/DN\n"
"       coapctl device enable|disable PK/DN\n"
"\"generate\" (the default) makes a 32-character secret and prints it once;\n"
"\"secret -\" reads the secret from stdin.\n";

static const char usage_stats[] =
"Usage: coapctl [-s] [-j] stats [show] [--prometheus]\n"
"       coapctl stats reset\n"
"-s adds one line per session; --prometheus prints the text exposition\n"
"format (counters coap_offload_<name>_total; gauges coap_offload_sessions,\n"
"coap_offload_pending and coap_offload_pending_bytes).\n";

static const char usage_monitor[] =
"Usage: coapctl [-j] monitor [all|messages|events] [-t] [--count N]\n"
"One line per delivered message (device, topic, size, message id) or per\n"
"event (type, device, peer, topic) until SIGINT/SIGTERM or N lines.\n"
"-t prefixes each line with its time (UTC).\n";

static const char usage_socket[] =
"Usage: coapctl socket [show]\n"
"The UDP sockets attached to the module in this network namespace: the\n"
"address each is bound to, its inode (as in /proc/PID/fd and ss -e: which\n"
"process holds it), since when it is attached, the datagrams the module saw\n"
"on it (RX) and, of those, the ones it left to the daemon (PASSED).\n";

static const char usage_config[] =
"Usage: coapctl config [show]\n"
"       coapctl config set [max-sessions N] [token-alias on|off]\n"
"                          [rules RULE... | rules default]\n"
"A rule is \"/\"-separated segments: literal, {pk}, {dn}, + or a final #.\n";

static void __attribute__((noreturn)) help(const char *text)
{
	fputs(text, stdout);
	exit(0);
}

/* A usage error: what was wrong, then the object's usage, on stderr. */
static void __attribute__((noreturn, format(printf, 2, 3)))
usage_error(const char *text, const char *fmt, ...)
{
	va_list ap;

	fputs("coapctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(text, stderr);
	exit(EXIT_USAGE);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("coapctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAIL);
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "help") || !strcmp(arg, "-h") ||
	       !strcmp(arg, "--help");
}

/* ---- argument parsing helpers -------------------------------------- */

/* A keyword; words with the same id are aliases of one meaning. */
struct word {
	const char *name;
	int id;
};

/*
 * The id of ARG among WORDS (NULL-terminated): an exact name first, else
 * the one meaning ARG is a prefix of; -1 when none is. A prefix of two
 * meanings is a usage error naming them.
 */
static int lookup(const char *arg, const struct word *words, const char *what,
		  const char *usage)
{
	size_t len = strlen(arg);
	char seen[256] = "";
	const struct word *w;
	int id = -1;
	bool ambiguous = false;

	for (w = words; w->name; w++)
		if (!strcmp(arg, w->name))
			return w->id;
	if (!len)
		return -1;
	for (w = words; w->name; w++) {
		size_t used = strlen(seen);

		if (strncmp(arg, w->name, len))
			continue;
		if (id >= 0 && id != w->id)
			ambiguous = true;
		if (used + strlen(w->name) + 3 < sizeof(seen))
			snprintf(seen + used, sizeof(seen) - used, "%s%s",
				 used ? ", " : "", w->name);
		id = w->id;
	}
	if (ambiguous)
		usage_error(usage, "%s \"%s\" is ambiguous (%s)", what, arg, seen);
	return id;
}

static uint64_t parse_u64(const char *text, const char *what, uint64_t max,
			  const char *usage)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!*text || *text == '-' || *text == '+')
		goto bad;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > max)
		goto bad;
	return v;
bad:
	usage_error(usage, "invalid %s \"%s\" (0..%llu)", what, text,
		    (unsigned long long)max);
}

/* "PK/DN" into its two halves (an identity has no '/'). */
static void parse_device(const char *arg, char *pk, char *dn,
			 const char *usage)
{
	const char *slash = strchr(arg, '/');

	if (!slash)
		usage_error(usage, "device \"%s\" is not PRODUCT_KEY/DEVICE_NAME",
			    arg);
	/* pk and dn hold COAP_REGISTRY_ID_MAX + 2: one too long still shows. */
	snprintf(pk, COAP_REGISTRY_ID_MAX + 2, "%.*s", (int)(slash - arg), arg);
	snprintf(dn, COAP_REGISTRY_ID_MAX + 2, "%s", slash + 1);
	if (!coap_registry_identity_valid(pk, true) ||
	    !coap_registry_identity_valid(dn, false))
		usage_error(usage,
			    "invalid device \"%s\": 1..64 of letters, digits and \"-_@.:\", "
			    "not \".\" or \"..\"; the product key not sys, ota or shadow",
			    arg);
}

/* Needs an argument after argv[*i]. */
static const char *next_arg(int argc, char **argv, int *i, const char *usage)
{
	if (*i + 1 >= argc)
		usage_error(usage, "\"%s\" needs an argument", argv[*i]);
	return argv[++*i];
}

/*
 * A secret argument; "-" reads it from the first line of stdin, so that it
 * need not appear in the process list or the shell's history.
 */
static void secret_arg(const char *arg, char *out, size_t cap,
		       const char *usage)
{
	size_t len;

	if (strcmp(arg, "-")) {
		if (strlen(arg) >= cap)
			usage_error(usage, "the secret is too long");
		snprintf(out, cap, "%s", arg);
		return;
	}
	if (!fgets(out, cap, stdin))
		usage_error(usage, "no secret on stdin");
	len = strcspn(out, "\r\n");
	if (out[len] == '\0' && !feof(stdin) && len == cap - 1)
		usage_error(usage, "the secret on stdin is too long");
	out[len] = '\0';
}

/* ---- output helpers ------------------------------------------------- */

static void json_print(struct json_object *o)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	flags |= opt.pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
			    : JSON_C_TO_STRING_PLAIN;
	puts(json_object_to_json_string_ext(o, flags));
	json_object_put(o);
}

static void json_add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void json_add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* A table printed in aligned columns once every row is known. */
#define TABLE_COLS	12
#define CELL_MAX	96

struct table {
	int cols, rows, cap;
	char (*cell)[TABLE_COLS][CELL_MAX];
};

static void table_row(struct table *t, ...)
{
	const char *s;
	va_list ap;
	int i;

	if (t->rows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cell = realloc(t->cell, t->cap * sizeof(*t->cell));
		if (!t->cell)
			fail("out of memory");
	}
	va_start(ap, t);
	for (i = 0; i < t->cols; i++) {
		s = va_arg(ap, const char *);
		snprintf(t->cell[t->rows][i], CELL_MAX, "%s", s ? s : "");
	}
	va_end(ap);
	t->rows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static int width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void table_print(struct table *t)
{
	int w[TABLE_COLS] = { 0 };
	int r, i;

	for (r = 0; r < t->rows; r++)
		for (i = 0; i < t->cols; i++)
			if (width(t->cell[r][i]) > w[i])
				w[i] = width(t->cell[r][i]);
	for (r = 0; r < t->rows; r++) {
		for (i = 0; i < t->cols; i++) {
			const char *c = t->cell[r][i];

			if (i == t->cols - 1)
				printf("%s\n", c);
			else
				printf("%s%*s", c, w[i] - width(c) + 2, "");
		}
	}
	free(t->cell);
	t->cell = NULL;
	t->rows = t->cap = 0;
}

/* 1536 -> "1.50 KiB", as wg prints transfer. */
static void human_bytes(uint64_t b, char *out, size_t len)
{
	static const char * const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = b;
	int u = -1;

	if (b < 1024) {
		snprintf(out, len, "%llu B", (unsigned long long)b);
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, "%.2f %s", v, unit[u]);
}

/* 3725 -> "1h 2m"; the two largest units are plenty for a glance. */
static void human_duration(uint64_t s, char *out, size_t len)
{
	if (s < 60)
		snprintf(out, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(out, len, "%llum %llus", (unsigned long long)s / 60,
			 (unsigned long long)s % 60);
	else if (s < 86400)
		snprintf(out, len, "%lluh %llum", (unsigned long long)s / 3600,
			 (unsigned long long)s % 3600 / 60);
	else
		snprintf(out, len, "%llud %lluh", (unsigned long long)s / 86400,
			 (unsigned long long)s % 86400 / 3600);
}

static void format_peer(const void *p, size_t len, char *out, size_t cap)
{
	const struct sockaddr_in6 *a6 = p;
	const struct sockaddr_in *a4 = p;
	char a[INET6_ADDRSTRLEN];

	if (len >= sizeof(*a4) && a4->sin_family == AF_INET) {
		inet_ntop(AF_INET, &a4->sin_addr, a, sizeof(a));
		snprintf(out, cap, "%s:%u", a, ntohs(a4->sin_port));
	} else if (len >= sizeof(*a6) && a6->sin6_family == AF_INET6) {
		inet_ntop(AF_INET6, &a6->sin6_addr, a, sizeof(a));
		snprintf(out, cap, "[%s]:%u", a, ntohs(a6->sin6_port));
	} else {
		snprintf(out, cap, "?");
	}
}

/*
 * A token as text: the gateway issues ASCII tokens, but the kernel takes
 * any bytes, so anything else is shown in hex rather than raw.
 */
static void format_token(const uint8_t *tok, size_t len, bool full,
			 char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char text[2 * COAP_OFFLOAD_TOKEN_MAX + 1];
	bool printable = true;
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (tok[i] < 0x21 || tok[i] > 0x7e)
			printable = false;
	for (i = 0; i < len && n + 2 < sizeof(text); i++) {
		if (printable) {
			text[n++] = tok[i];
		} else {
			text[n++] = hex[tok[i] >> 4];
			text[n++] = hex[tok[i] & 15];
		}
	}
	text[n] = '\0';
	if (full || n <= TOKEN_SHORT)
		snprintf(out, cap, "%s", text);
	else
		snprintf(out, cap, "%.*s\u2026", TOKEN_SHORT, text);
}

/* ---- netlink -------------------------------------------------------- */

static struct coap_nl nl;

static void nl_open(void)
{
	int err = coap_nl_open(&nl);

	if (err == -ENOENT)
		fail("the coap_offload module is not loaded (no \"%s\" generic netlink family)",
		     COAP_OFFLOAD_GENL_NAME);
	if (err)
		fail("cannot open a generic netlink socket: %s", strerror(-err));
}

/* A refused request: errno text plus the kernel's own explanation. */
static void __attribute__((noreturn)) nl_fail(const char *what, int err)
{
	if (nl.error[0])
		fail("%s: %s: %s", what, strerror(-err), nl.error);
	if (err == -EPERM)
		fail("%s: %s (CAP_NET_ADMIN needed)", what, strerror(-err));
	fail("%s: %s", what, strerror(-err));
}

static int nl_simple(uint8_t cmd)
{
	char buf[COAP_NL_BUF_SIZE];

	return coap_nl_talk(&nl, coap_nl_request(&nl, buf, cmd, 0), NULL, NULL);
}

/* ---- sessions ------------------------------------------------------- */

struct session {
	uint8_t token[COAP_OFFLOAD_TOKEN_MAX];
	size_t token_len;
	char pk[COAP_OFFLOAD_IDENTITY_MAX + 1], dn[COAP_OFFLOAD_IDENTITY_MAX + 1];
	uint32_t cipher, lifetime, idle_timeout, idle;
	uint32_t mode;			/* enum coap_offload_session_mode */
	uint8_t ack_mode;			/* enum coap_offload_ack_mode */
	uint64_t seq_offset, seq_highest;
	uint64_t rx_packets, rx_bytes, replays, decrypt_errors, forbidden;
	char peer[INET6_ADDRSTRLEN + 8];	/* "" before the first message */
};

struct session_list {
	struct session *s;
	size_t n, cap;
	bool intr;
	/* Filter: only this device's sessions ("" for all). */
	const char *pk, *dn;
};

static uint64_t nest_u64(const struct nlattr **tb, int type)
{
	return tb[type] && mnl_attr_get_payload_len(tb[type]) == 8 ?
	       mnl_attr_get_u64(tb[type]) : 0;
}

static uint32_t nest_u32(const struct nlattr **tb, int type)
{
	return tb[type] && mnl_attr_get_payload_len(tb[type]) == 4 ?
	       mnl_attr_get_u32(tb[type]) : 0;
}

static void nest_str(const struct nlattr **tb, int type, char *out, size_t cap)
{
	if (tb[type] && !mnl_attr_validate(tb[type], MNL_TYPE_NUL_STRING))
		snprintf(out, cap, "%s", mnl_attr_get_str(tb[type]));
	else
		out[0] = '\0';
}

static int session_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_SESSION_A_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_SESSION);
	struct session_list *l = data;
	struct session s = { 0 };

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		l->intr = true;
	if (!nest)
		return MNL_CB_OK;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_SESSION_A_MAX);
	if (tb[COAP_OFFLOAD_SESSION_A_TOKEN]) {
		s.token_len = mnl_attr_get_payload_len(tb[COAP_OFFLOAD_SESSION_A_TOKEN]);
		if (s.token_len > sizeof(s.token))
			s.token_len = sizeof(s.token);
		memcpy(s.token, mnl_attr_get_payload(tb[COAP_OFFLOAD_SESSION_A_TOKEN]),
		       s.token_len);
	}
	nest_str(tb, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, s.pk, sizeof(s.pk));
	nest_str(tb, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, s.dn, sizeof(s.dn));
	if (l->pk && (strcmp(l->pk, s.pk) || strcmp(l->dn, s.dn)))
		return MNL_CB_OK;
	s.cipher = nest_u32(tb, COAP_OFFLOAD_SESSION_A_CIPHER);
	s.mode = nest_u32(tb, COAP_OFFLOAD_SESSION_A_MODE);
	s.lifetime = nest_u32(tb, COAP_OFFLOAD_SESSION_A_LIFETIME);
	s.idle_timeout = nest_u32(tb, COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT);
	s.idle = nest_u32(tb, COAP_OFFLOAD_SESSION_A_IDLE);
	if (tb[COAP_OFFLOAD_SESSION_A_ACK_MODE] &&
	    mnl_attr_get_payload_len(tb[COAP_OFFLOAD_SESSION_A_ACK_MODE]) == 1)
		s.ack_mode = mnl_attr_get_u8(tb[COAP_OFFLOAD_SESSION_A_ACK_MODE]);
	s.seq_offset = nest_u64(tb, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET);
	s.seq_highest = nest_u64(tb, COAP_OFFLOAD_SESSION_A_SEQ_HIGHEST);
	s.rx_packets = nest_u64(tb, COAP_OFFLOAD_SESSION_A_RX_PACKETS);
	s.rx_bytes = nest_u64(tb, COAP_OFFLOAD_SESSION_A_RX_BYTES);
	s.replays = nest_u64(tb, COAP_OFFLOAD_SESSION_A_REPLAYS);
	s.decrypt_errors = nest_u64(tb, COAP_OFFLOAD_SESSION_A_DECRYPT_ERRORS);
	s.forbidden = nest_u64(tb, COAP_OFFLOAD_SESSION_A_FORBIDDEN);
	if (tb[COAP_OFFLOAD_SESSION_A_PEER])
		format_peer(mnl_attr_get_payload(tb[COAP_OFFLOAD_SESSION_A_PEER]),
			    mnl_attr_get_payload_len(tb[COAP_OFFLOAD_SESSION_A_PEER]),
			    s.peer, sizeof(s.peer));
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->s = realloc(l->s, l->cap * sizeof(*l->s));
		if (!l->s)
			fail("out of memory");
	}
	l->s[l->n++] = s;
	return MNL_CB_OK;
}

/*
 * All sessions (of one device when pk is set). A dump the table changed
 * under is flagged NLM_F_DUMP_INTR and may have missed or repeated
 * sessions: take it again, a few times, before settling for it.
 */
static void session_dump(struct session_list *l, const char *pk,
			 const char *dn)
{
	char buf[COAP_NL_BUF_SIZE];
	int tries, err;

	for (tries = 0; tries < 5; tries++) {
		l->n = 0;
		l->intr = false;
		l->pk = pk;
		l->dn = dn;
		err = coap_nl_talk(&nl, coap_nl_request(&nl, buf,
				   COAP_OFFLOAD_CMD_SESSION_GET, NLM_F_DUMP),
				   session_cb, l);
		if (err == -EINTR)
			l->intr = true;
		else if (err)
			nl_fail("session dump", err);
		if (!l->intr)
			return;
	}
	fprintf(stderr, "coapctl: warning: the session table kept changing; the list may be inexact\n");
}

static const char *cipher_name(uint32_t c)
{
	const char *n = coap_proto_cipher_name((enum coap_cipher)c);

	return n ? n : "unknown";
}

/* A symmetric-mode session is told by its suite; DTLS has none. */
static const char *mode_name(const struct session *s)
{
	return s->mode == COAP_OFFLOAD_MODE_DTLS ? "dtls" :
						   cipher_name(s->cipher);
}

static struct json_object *session_json(const struct session *s,
					bool full_token)
{
	struct json_object *o = json_object_new_object();
	char tok[2 * COAP_OFFLOAD_TOKEN_MAX + 8];

	/* token_prefix always, token (the bearer credential) on request. */
	format_token(s->token, s->token_len, true, tok, sizeof(tok));
	if (full_token)
		json_add_str(o, "token", tok);
	tok[TOKEN_SHORT < strlen(tok) ? TOKEN_SHORT : strlen(tok)] = '\0';
	json_add_str(o, "token_prefix", tok);
	json_add_str(o, "product_key", s->pk);
	json_add_str(o, "device_name", s->dn);
	json_add_str(o, "mode", s->mode == COAP_OFFLOAD_MODE_DTLS ? "dtls" :
							       "symmetric");
	json_object_object_add(o, "cipher", s->mode == COAP_OFFLOAD_MODE_DTLS ?
			       NULL :
			       json_object_new_string(cipher_name(s->cipher)));
	json_add_u64(o, "seq_offset", s->seq_offset);
	json_add_u64(o, "seq_highest", s->seq_highest);
	json_add_u64(o, "lifetime_left", s->lifetime);
	json_add_u64(o, "idle_timeout", s->idle_timeout);
	json_add_u64(o, "idle", s->idle);
	json_add_u64(o, "ack_mode", s->ack_mode);
	json_add_u64(o, "rx_packets", s->rx_packets);
	json_add_u64(o, "rx_bytes", s->rx_bytes);
	json_add_u64(o, "replays", s->replays);
	json_add_u64(o, "decrypt_errors", s->decrypt_errors);
	json_add_u64(o, "forbidden", s->forbidden);
	json_object_object_add(o, "peer", s->peer[0] ?
			       json_object_new_string(s->peer) : NULL);
	return o;
}

static void session_table(const struct session_list *l, bool full_token)
{
	struct table t = { .cols = 11 };
	char tok[2 * COAP_OFFLOAD_TOKEN_MAX + 8], dev[2 * COAP_OFFLOAD_IDENTITY_MAX + 2];
	char rx[24], bytes[24], idle[32], exp[48], rep[24], dec[24], forb[24];
	size_t i;

	table_row(&t, "TOKEN", "DEVICE", "MODE", "PEER", "RX", "BYTES",
		  "IDLE", "EXPIRES", "REPLAYS", "DECRYPT", "FORBIDDEN");
	for (i = 0; i < l->n; i++) {
		const struct session *s = &l->s[i];
		char d[32];

		format_token(s->token, s->token_len, full_token, tok, sizeof(tok));
		snprintf(dev, sizeof(dev), "%s/%s", s->pk, s->dn);
		snprintf(rx, sizeof(rx), "%llu", (unsigned long long)s->rx_packets);
		human_bytes(s->rx_bytes, bytes, sizeof(bytes));
		/* Since the last delivered message, or since creation. */
		human_duration(s->idle, idle, sizeof(idle));
		human_duration(s->lifetime, d, sizeof(d));
		snprintf(exp, sizeof(exp), "in %s", d);
		snprintf(rep, sizeof(rep), "%llu", (unsigned long long)s->replays);
		snprintf(dec, sizeof(dec), "%llu",
			 (unsigned long long)s->decrypt_errors);
		snprintf(forb, sizeof(forb), "%llu",
			 (unsigned long long)s->forbidden);
		table_row(&t, tok, dev, mode_name(s),
			  s->peer[0] ? s->peer : "-", rx, bytes, idle, exp, rep,
			  dec, forb);
	}
	table_print(&t);
}

static int cmd_session_show(int argc, char **argv)
{
	char pk[COAP_REGISTRY_ID_MAX + 2], dn[COAP_REGISTRY_ID_MAX + 2];
	struct session_list l = { 0 };
	bool full = false, filter = false;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "device")) {
			parse_device(next_arg(argc, argv, &i, usage_session),
				     pk, dn, usage_session);
			filter = true;
		} else if (!strcmp(argv[i], "--show-tokens")) {
			full = true;
		} else {
			usage_error(usage_session, "unknown argument \"%s\"",
				    argv[i]);
		}
	}
	nl_open();
	session_dump(&l, filter ? pk : NULL, filter ? dn : NULL);
	if (opt.json) {
		struct json_object *a = json_object_new_array();
		size_t k;

		for (k = 0; k < l.n; k++)
			json_object_array_add(a, session_json(&l.s[k], full));
		json_print(a);
	} else if (l.n) {
		session_table(&l, full);
	}
	free(l.s);
	return 0;
}

static int session_del_token(const uint8_t *tok, size_t len)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = coap_nl_request(&nl, buf, COAP_OFFLOAD_CMD_SESSION_DEL, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, len, tok);
	mnl_attr_nest_end(nlh, nest);
	return coap_nl_talk(&nl, nlh, NULL, NULL);
}

static int cmd_session_del(int argc, char **argv)
{
	char pk[COAP_REGISTRY_ID_MAX + 2], dn[COAP_REGISTRY_ID_MAX + 2];
	struct session_list l = { 0 };
	size_t i, deleted = 0;
	int err;

	if (argc == 2 && !strcmp(argv[0], "device")) {
		parse_device(argv[1], pk, dn, usage_session);
		nl_open();
		session_dump(&l, pk, dn);
		for (i = 0; i < l.n; i++) {
			err = session_del_token(l.s[i].token, l.s[i].token_len);
			/* Expired or deleted meanwhile: just as good. */
			if (err && err != -ENOENT)
				nl_fail("session del", err);
			deleted += !err;
		}
		free(l.s);
		if (!deleted)
			fail("session del: device %s/%s has no session", pk, dn);
		return 0;
	}
	if (argc != 1)
		usage_error(usage_session, "session del needs TOKEN or device PK/DN");
	if (!*argv[0] || strlen(argv[0]) > COAP_OFFLOAD_TOKEN_MAX)
		usage_error(usage_session, "a token is 1..%d bytes",
			    COAP_OFFLOAD_TOKEN_MAX);
	nl_open();
	err = session_del_token((const uint8_t *)argv[0], strlen(argv[0]));
	if (err == -ENOENT)
		fail("session del: no session with that token");
	if (err)
		nl_fail("session del", err);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The session with TOKEN, into *out: 0, or the kernel's -errno. */
static int session_get(const char *token, struct session *out)
{
	char buf[COAP_NL_BUF_SIZE];
	struct session_list l = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int err;

	nlh = coap_nl_request(&nl, buf, COAP_OFFLOAD_CMD_SESSION_GET, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	mnl_attr_nest_end(nlh, nest);
	err = coap_nl_talk(&nl, nlh, session_cb, &l);
	if (!err && l.n != 1)
		err = -ENOENT;
	if (!err)
		*out = l.s[0];
	free(l.s);
	return err;
}

/*
 * session add (a new token) and session rekey TOKEN (SESSION_REPLACE: the
 * session keeps its token, identity, ack mode and, unless given, its
 * cipher, seq offset, idle timeout and remaining lifetime; only the key is
 * new).
 */
static int session_set(int argc, char **argv, bool rekey)
{
	char pk[COAP_REGISTRY_ID_MAX + 2] = "", dn[COAP_REGISTRY_ID_MAX + 2];
	const char *token = NULL, *secret = NULL, *random = NULL, *key_hex = NULL;
	const char *what = rekey ? "session rekey" : "session add";
	uint64_t seq_offset = 0, lifetime = 0, idle = 0;
	bool has_lifetime = false, has_idle = false, has_cipher = false;
	bool has_seq_offset = false;
	uint8_t ack_mode = 0;
	enum coap_cipher cipher = COAP_CIPHER_AES_128_CBC;
	uint8_t key[COAP_PROTO_KEY_LEN];
	char secret_buf[COAP_REGISTRY_SECRET_MAX + 2];
	struct coap_device dev = { 0 };
	char buf[COAP_NL_BUF_SIZE];
	struct session old;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int i = 0, err;

	if (rekey) {
		if (!argc)
			usage_error(usage_session, "session rekey needs TOKEN");
		token = argv[0];
		i = 1;
	}
	for (; i < argc; i++) {
		const char *a = argv[i];

		if (rekey && (!strcmp(a, "device") || !strcmp(a, "token"))) {
			usage_error(usage_session,
				    "session rekey keeps the session's %s", a);
		} else if (!strcmp(a, "device")) {
			parse_device(next_arg(argc, argv, &i, usage_session),
				     pk, dn, usage_session);
		} else if (!strcmp(a, "token")) {
			token = next_arg(argc, argv, &i, usage_session);
		} else if (!strcmp(a, "secret")) {
			secret_arg(next_arg(argc, argv, &i, usage_session),
				   secret_buf, sizeof(secret_buf), usage_session);
			secret = secret_buf;
		} else if (!strcmp(a, "random")) {
			random = next_arg(argc, argv, &i, usage_session);
		} else if (!strcmp(a, "key")) {
			key_hex = next_arg(argc, argv, &i, usage_session);
		} else if (!strcmp(a, "seq-offset")) {
			seq_offset = parse_u64(next_arg(argc, argv, &i, usage_session),
					       "seq-offset", COAP_PROTO_SEQ_MAX,
					       usage_session);
			has_seq_offset = true;
		} else if (!strcmp(a, "cipher")) {
			has_cipher = true;
			if (coap_proto_cipher_parse(next_arg(argc, argv, &i,
							     usage_session),
						    &cipher))
				usage_error(usage_session,
					    "cipher is aes-128-cbc or aes-128-ctr");
		} else if (!strcmp(a, "lifetime")) {
			lifetime = parse_u64(next_arg(argc, argv, &i, usage_session),
					     "lifetime", UINT32_MAX, usage_session);
			has_lifetime = true;
		} else if (!strcmp(a, "idle")) {
			idle = parse_u64(next_arg(argc, argv, &i, usage_session),
					 "idle", COAP_OFFLOAD_IDLE_TIMEOUT_MAX,
					 usage_session);
			has_idle = true;
		} else {
			usage_error(usage_session, "unknown argument \"%s\"", a);
		}
	}
	if (!rekey && (!pk[0] || !token))
		usage_error(usage_session, "session add needs device PK/DN and token TOKEN");
	if (!*token || strlen(token) > COAP_OFFLOAD_TOKEN_MAX)
		usage_error(usage_session, "a token is 1..%d bytes",
			    COAP_OFFLOAD_TOKEN_MAX);
	if (has_lifetime && !lifetime)
		usage_error(usage_session, "lifetime must be at least 1 second");
	if (!!key_hex + !!random != 1 || (secret && !random))
		usage_error(usage_session,
			    "give either key HEX32 or random RANDOM (with secret SECRET or a registered device)");
	if (key_hex) {
		if (strlen(key_hex) != 2 * COAP_PROTO_KEY_LEN)
			usage_error(usage_session, "key is 32 hex digits");
		for (i = 0; i < COAP_PROTO_KEY_LEN; i++) {
			int hi = hexval(key_hex[2 * i]), lo = hexval(key_hex[2 * i + 1]);

			if (hi < 0 || lo < 0)
				usage_error(usage_session, "key is 32 hex digits");
			key[i] = hi << 4 | lo;
		}
	}
	if (rekey) {
		/* Identity and defaults come from the session itself. */
		nl_open();
		err = session_get(token, &old);
		if (err == -ENOENT)
			fail("session rekey: no session with that token");
		if (err)
			nl_fail("session rekey", err);
		if (old.mode == COAP_OFFLOAD_MODE_DTLS)
			fail("session rekey: a DTLS session has no key (DTLS protects its messages)");
		snprintf(pk, sizeof(pk), "%s", old.pk);
		snprintf(dn, sizeof(dn), "%s", old.dn);
		if (!has_cipher)
			cipher = old.cipher;
		if (!has_seq_offset)
			seq_offset = old.seq_offset;
		if (!has_idle && old.idle_timeout) {
			idle = old.idle_timeout;
			has_idle = true;
		}
		/* Nor how the device's publishes are answered. */
		ack_mode = old.ack_mode;
		if (!has_lifetime) {
			/* A rekey does not extend the session's life. */
			lifetime = old.lifetime ? old.lifetime : 1;
			has_lifetime = true;
		}
	}
	if (!key_hex) {
		if (!secret) {
			/* The device's secret, as coapd would use it. */
			struct coap_registry *r;
			char msg[256];

			r = coap_registry_open(opt.registry, false, &err, msg,
					       sizeof(msg));
			if (!r)
				fail("registry: %s", msg);
			err = coap_registry_get(r, pk, dn, &dev);
			coap_registry_close(r);
			if (err == -ENOENT)
				fail("device %s/%s is not in the registry (give secret SECRET)",
				     pk, dn);
			if (err)
				fail("registry: %s", strerror(-err));
			secret = dev.secret;
		}
		if (!*secret)
			usage_error(usage_session, "the secret is empty");
		err = coap_proto_session_key(secret, random, key);
		explicit_bzero(&dev, sizeof(dev));
		explicit_bzero(secret_buf, sizeof(secret_buf));
		if (err)
			fail("cannot derive the session key: %s", strerror(-err));
	}

	if (!rekey)
		nl_open();
	nlh = coap_nl_request(&nl, buf, rekey ? COAP_OFFLOAD_CMD_SESSION_REPLACE :
			      COAP_OFFLOAD_CMD_SESSION_NEW, 0);
	nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_SESSION);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_TOKEN, strlen(token), token);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_PRODUCT_KEY, pk);
	mnl_attr_put_strz(nlh, COAP_OFFLOAD_SESSION_A_DEVICE_NAME, dn);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_CIPHER, cipher);
	mnl_attr_put(nlh, COAP_OFFLOAD_SESSION_A_KEY, sizeof(key), key);
	mnl_attr_put_u64(nlh, COAP_OFFLOAD_SESSION_A_SEQ_OFFSET, seq_offset);
	if (has_lifetime)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_LIFETIME, lifetime);
	if (has_idle)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_SESSION_A_IDLE_TIMEOUT, idle);
	if (ack_mode)
		mnl_attr_put_u8(nlh, COAP_OFFLOAD_SESSION_A_ACK_MODE, ack_mode);
	mnl_attr_nest_end(nlh, nest);
	explicit_bzero(key, sizeof(key));
	err = coap_nl_talk(&nl, nlh, NULL, NULL);
	/* The request buffer held the key too. */
	explicit_bzero(buf, sizeof(buf));
	if (err == -EEXIST)
		fail("session add: that token is already in use");
	if (err == -ENOSPC)
		fail("%s: the session table is full (config set max-sessions)",
		     what);
	if (err == -ENOENT && rekey)
		fail("session rekey: the session is gone (expired or deleted)");
	if (err)
		nl_fail(what, err);
	return 0;
}

enum { V_SHOW, V_ADD, V_DEL, V_FLUSH, V_REKEY, V_DEVICE, V_SET, V_RESET,
       V_ENABLE, V_DISABLE, V_ALL, V_MESSAGES, V_EVENTS };

static int cmd_session(int argc, char **argv)
{
	static const struct word verbs[] = {
		{ "show", V_SHOW }, { "list", V_SHOW }, { "add", V_ADD },
		{ "del", V_DEL }, { "delete", V_DEL }, { "flush", V_FLUSH },
		{ "rekey", V_REKEY },
		/* "session device X" reads as "session show device X". */
		{ "device", V_DEVICE }, { NULL, 0 },
	};
	const char *verb = argc ? argv[0] : "show";
	int v;

	if (argc && is_help(verb))
		help(usage_session);
	if (argc > 1 && is_help(argv[argc - 1]))
		help(usage_session);
	if (!strcmp(verb, "--show-tokens"))
		return cmd_session_show(argc, argv);
	v = lookup(verb, verbs, "session verb", usage_session);
	if (argc)
		argc--, argv++;
	if (v == V_SHOW)
		return cmd_session_show(argc, argv);
	if (v == V_ADD)
		return session_set(argc, argv, false);
	if (v == V_REKEY)
		return session_set(argc, argv, true);
	if (v == V_DEL)
		return cmd_session_del(argc, argv);
	if (v == V_DEVICE) {
		argv[-1] = (char *)"device";
		return cmd_session_show(argc + 1, argv - 1);
	}
	if (v == V_FLUSH) {
		int err;

		if (argc)
			usage_error(usage_session, "session flush takes no argument");
		nl_open();
		err = nl_simple(COAP_OFFLOAD_CMD_SESSION_FLUSH);
		if (err)
			nl_fail("session flush", err);
		return 0;
	}
	usage_error(usage_session, "unknown session verb \"%s\"", verb);
}

/* ---- stats ---------------------------------------------------------- */

/* Gauges are levels (the rest count events since the last reset). */
static const struct {
	int attr;
	const char *name, *help;
	bool gauge;
} stat_names[] = {
	{ COAP_OFFLOAD_STAT_SESSIONS, "sessions", "Sessions in the table now.", true },
	{ COAP_OFFLOAD_STAT_RX, "rx", "Datagrams seen on attached sockets.", false },
	{ COAP_OFFLOAD_STAT_PASSED, "passed", "Datagrams left to the daemon.", false },
	{ COAP_OFFLOAD_STAT_DELIVERED, "delivered", "Messages queued to the consumer and answered.", false },
	{ COAP_OFFLOAD_STAT_RETRANSMITS, "retransmits", "Retransmitted CONs answered again.", false },
	{ COAP_OFFLOAD_STAT_REPLAYS, "replays", "Seqs refused as replays.", false },
	{ COAP_OFFLOAD_STAT_DECRYPT_ERRORS, "decrypt_errors", "Undecryptable seqs or payloads.", false },
	{ COAP_OFFLOAD_STAT_FORBIDDEN, "forbidden", "Publishes to a topic the device may not use.", false },
	{ COAP_OFFLOAD_STAT_NO_CONSUMER, "no_consumer", "Messages no consumer could take.", false },
	{ COAP_OFFLOAD_STAT_TX_ERRORS, "tx_errors", "Answers that could not be sent.", false },
	{ COAP_OFFLOAD_STAT_EXPIRED, "expired", "Sessions deleted by expiry.", false },
	{ COAP_OFFLOAD_STAT_PENDING, "pending", "Delivered messages the consumer has not confirmed yet.", true },
	{ COAP_OFFLOAD_STAT_PENDING_BYTES, "pending_bytes", "Memory the unconfirmed messages take.", true },
};

#define N_STATS (sizeof(stat_names) / sizeof(stat_names[0]))

/* The counters; one an older kernel does not have reads 0. */
static void stats_get(uint64_t *v)
{
	int err = coap_nl_stats_get(&nl, v);
	int i;

	if (err)
		nl_fail("stats", err);
	for (i = 0; i <= COAP_OFFLOAD_STAT_MAX; i++)
		if (v[i] == COAP_NL_STAT_ABSENT)
			v[i] = 0;
}

static void stats_prometheus(const uint64_t *v)
{
	size_t i;

	for (i = 0; i < N_STATS; i++) {
		const char *n = stat_names[i].name;
		bool gauge = stat_names[i].gauge;

		printf("# HELP coap_offload_%s%s %s\n", n, gauge ? "" : "_total",
		       stat_names[i].help);
		printf("# TYPE coap_offload_%s%s %s\n", n, gauge ? "" : "_total",
		       gauge ? "gauge" : "counter");
		printf("coap_offload_%s%s %llu\n", n, gauge ? "" : "_total",
		       (unsigned long long)v[stat_names[i].attr]);
	}
}

static int cmd_stats(int argc, char **argv)
{
	uint64_t v[COAP_OFFLOAD_STAT_MAX + 1];
	struct session_list l = { 0 };
	bool prometheus = false;
	size_t i;
	int a;

	static const struct word verbs[] = {
		{ "show", V_SHOW }, { "reset", V_RESET }, { NULL, 0 },
	};
	int verb = -1;

	if (argc && is_help(argv[0]))
		help(usage_stats);
	if (argc && argv[0][0] != '-') {
		verb = lookup(argv[0], verbs, "stats verb", usage_stats);
		if (verb < 0)
			usage_error(usage_stats, "unknown stats verb \"%s\"",
				    argv[0]);
	}
	if (verb == V_RESET) {
		int err;

		if (argc > 1 && is_help(argv[1]))
			help(usage_stats);
		if (argc > 1)
			usage_error(usage_stats, "stats reset takes no argument");
		nl_open();
		err = nl_simple(COAP_OFFLOAD_CMD_STATS_RESET);
		if (err)
			nl_fail("stats reset", err);
		return 0;
	}
	for (a = 0; a < argc; a++) {
		if (!strcmp(argv[a], "--prometheus"))
			prometheus = true;
		else if (a == 0 && verb == V_SHOW)
			continue;
		else if (is_help(argv[a]))
			help(usage_stats);
		else
			usage_error(usage_stats, "unknown stats argument \"%s\"",
				    argv[a]);
	}
	if (prometheus && opt.json)
		usage_error(usage_stats, "--prometheus and -j exclude each other");
	nl_open();
	stats_get(v);
	if (prometheus) {
		stats_prometheus(v);
		return 0;
	}
	if (opt.stats_sessions)
		session_dump(&l, NULL, NULL);
	if (opt.json) {
		struct json_object *o = json_object_new_object();

		for (i = 0; i < N_STATS; i++)
			json_add_u64(o, stat_names[i].name, v[stat_names[i].attr]);
		if (opt.stats_sessions) {
			struct json_object *arr = json_object_new_array();

			for (i = 0; i < l.n; i++)
				json_object_array_add(arr, session_json(&l.s[i],
									false));
			json_object_object_add(o, "session_list", arr);
		}
		json_print(o);
	} else {
		struct table t = { .cols = 2 };

		for (i = 0; i < N_STATS; i++) {
			char n[24];

			snprintf(n, sizeof(n), "%llu",
				 (unsigned long long)v[stat_names[i].attr]);
			table_row(&t, stat_names[i].name, n);
		}
		table_print(&t);
		if (opt.stats_sessions && l.n) {
			putchar('\n');
			session_table(&l, false);
		}
	}
	free(l.s);
	return 0;
}

/* ---- socket --------------------------------------------------------- */

struct sock_entry {
	char local[INET6_ADDRSTRLEN + 8];
	uint64_t inode, rx, passed;
	uint32_t attached;
};

struct sock_list {
	struct sock_entry *s;
	size_t n, cap;
	bool intr;
};

static int socket_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[COAP_OFFLOAD_SOCKET_A_MAX + 1];
	const struct nlattr *nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_SOCKET);
	struct sock_list *l = data;
	struct sock_entry e = { .local = "?" };

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		l->intr = true;
	if (!nest)
		return MNL_CB_OK;
	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_SOCKET_A_MAX);
	if (tb[COAP_OFFLOAD_SOCKET_A_LOCAL])
		format_peer(mnl_attr_get_payload(tb[COAP_OFFLOAD_SOCKET_A_LOCAL]),
			    mnl_attr_get_payload_len(tb[COAP_OFFLOAD_SOCKET_A_LOCAL]),
			    e.local, sizeof(e.local));
	e.inode = nest_u64(tb, COAP_OFFLOAD_SOCKET_A_INODE);
	e.attached = nest_u32(tb, COAP_OFFLOAD_SOCKET_A_ATTACHED);
	e.rx = nest_u64(tb, COAP_OFFLOAD_SOCKET_A_RX);
	e.passed = nest_u64(tb, COAP_OFFLOAD_SOCKET_A_PASSED);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->s = realloc(l->s, l->cap * sizeof(*l->s));
		if (!l->s)
			fail("out of memory");
	}
	l->s[l->n++] = e;
	return MNL_CB_OK;
}

static int cmd_socket(int argc, char **argv)
{
	static const struct word verbs[] = {
		{ "show", V_SHOW }, { "list", V_SHOW }, { NULL, 0 },
	};
	char buf[COAP_NL_BUF_SIZE];
	struct sock_list l = { 0 };
	size_t i;
	int err;

	if (argc && is_help(argv[argc - 1]))
		help(usage_socket);
	if (argc > 1 || (argc == 1 &&
			 lookup(argv[0], verbs, "socket verb", usage_socket) < 0))
		usage_error(usage_socket, "unknown socket argument \"%s\"",
			    argv[argc - 1]);
	nl_open();
	err = coap_nl_talk(&nl, coap_nl_request(&nl, buf,
			   COAP_OFFLOAD_CMD_SOCKET_GET, NLM_F_DUMP),
			   socket_cb, &l);
	if (err == -EINTR)
		l.intr = true;
	else if (err)
		nl_fail("socket dump", err);
	/* A handful of sockets: one part, unless one came or went meanwhile. */
	if (l.intr)
		fprintf(stderr, "coapctl: warning: a socket was attached or detached during the listing\n");
	if (opt.json) {
		struct json_object *arr = json_object_new_array();

		for (i = 0; i < l.n; i++) {
			struct json_object *o = json_object_new_object();

			json_add_str(o, "local", l.s[i].local);
			json_add_u64(o, "inode", l.s[i].inode);
			json_add_u64(o, "attached_seconds", l.s[i].attached);
			json_add_u64(o, "rx", l.s[i].rx);
			json_add_u64(o, "passed", l.s[i].passed);
			json_object_array_add(arr, o);
		}
		json_print(arr);
	} else if (!l.n) {
		printf("no socket is attached (is coapd running?)\n");
	} else {
		struct table t = { .cols = 5 };
		char ino[48], d[32], age[40], rx[24], passed[24];

		table_row(&t, "LOCAL", "SOCKET", "ATTACHED", "RX", "PASSED");
		for (i = 0; i < l.n; i++) {
			snprintf(ino, sizeof(ino), "socket:[%llu]",
				 (unsigned long long)l.s[i].inode);
			human_duration(l.s[i].attached, d, sizeof(d));
			snprintf(age, sizeof(age), "%s ago", d);
			snprintf(rx, sizeof(rx), "%llu",
				 (unsigned long long)l.s[i].rx);
			snprintf(passed, sizeof(passed), "%llu",
				 (unsigned long long)l.s[i].passed);
			table_row(&t, l.s[i].local, ino, age, rx, passed);
		}
		table_print(&t);
	}
	free(l.s);
	return 0;
}

/* ---- config --------------------------------------------------------- */

struct config {
	uint32_t max_sessions;
	int token_alias;
	char rules[COAP_OFFLOAD_RULES_MAX][COAP_OFFLOAD_RULE_MAX + 1];
	int n_rules;
};

static int config_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a, *rules = coap_nl_attr(nlh, COAP_OFFLOAD_A_RULES);
	const struct nlattr *ms = coap_nl_attr(nlh, COAP_OFFLOAD_A_MAX_SESSIONS);
	const struct nlattr *ta = coap_nl_attr(nlh, COAP_OFFLOAD_A_TOKEN_ALIAS);
	struct config *c = data;

	if (ms && !mnl_attr_validate(ms, MNL_TYPE_U32))
		c->max_sessions = mnl_attr_get_u32(ms);
	if (ta && !mnl_attr_validate(ta, MNL_TYPE_U8))
		c->token_alias = mnl_attr_get_u8(ta);
	if (!rules)
		return MNL_CB_OK;
	mnl_attr_for_each_nested(a, rules) {
		if (c->n_rules >= COAP_OFFLOAD_RULES_MAX ||
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			continue;
		snprintf(c->rules[c->n_rules++], sizeof(c->rules[0]), "%s",
			 mnl_attr_get_str(a));
	}
	return MNL_CB_OK;
}

static int config_show(void)
{
	char buf[COAP_NL_BUF_SIZE];
	struct config *c = calloc(1, sizeof(*c));
	int err, i;

	if (!c)
		fail("out of memory");
	c->token_alias = -1;
	nl_open();
	err = coap_nl_talk(&nl, coap_nl_request(&nl, buf,
			   COAP_OFFLOAD_CMD_CONFIG_GET, 0), config_cb, c);
	if (err)
		nl_fail("config show", err);
	if (opt.json) {
		struct json_object *o = json_object_new_object();
		struct json_object *r = json_object_new_array();

		json_add_u64(o, "max_sessions", c->max_sessions);
		json_object_object_add(o, "token_alias",
				       json_object_new_boolean(c->token_alias == 1));
		for (i = 0; i < c->n_rules; i++)
			json_object_array_add(r, json_object_new_string(c->rules[i]));
		json_object_object_add(o, "rules", r);
		json_print(o);
	} else {
		printf("max-sessions  %u\n", c->max_sessions);
		printf("token-alias   %s\n", c->token_alias == 1 ? "on" : "off");
		printf("rules\n");
		for (i = 0; i < c->n_rules; i++)
			printf("  %s\n", c->rules[i]);
	}
	free(c);
	return 0;
}

static int config_set(int argc, char **argv)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	bool any = false, ms_given = false, rules_given = false, rules_default = false;
	int token_alias = -1, i, first_rule = 0, n_rules = 0, err;
	uint64_t ms = 0;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "max-sessions")) {
			ms = parse_u64(next_arg(argc, argv, &i, usage_config),
				       "max-sessions", UINT32_MAX, usage_config);
			if (!ms)
				usage_error(usage_config, "max-sessions must be at least 1");
			ms_given = any = true;
		} else if (!strcmp(argv[i], "token-alias")) {
			const char *v = next_arg(argc, argv, &i, usage_config);

			if (!strcmp(v, "on"))
				token_alias = 1;
			else if (!strcmp(v, "off"))
				token_alias = 0;
			else
				usage_error(usage_config, "token-alias is on or off");
			any = true;
		} else if (!strcmp(argv[i], "rules")) {
			if (rules_given)
				usage_error(usage_config, "rules given twice");
			rules_given = any = true;
			first_rule = i + 1;
			/* Every word up to the next keyword is a rule. */
			while (i + 1 < argc && strcmp(argv[i + 1], "max-sessions") &&
			       strcmp(argv[i + 1], "token-alias"))
				i++;
			n_rules = i + 1 - first_rule;
			if (n_rules == 1 && !strcmp(argv[first_rule], "default"))
				rules_default = true;
			else if (!n_rules)
				usage_error(usage_config, "rules needs RULE... or default");
			else if (n_rules > COAP_OFFLOAD_RULES_MAX)
				usage_error(usage_config, "at most %d rules",
					    COAP_OFFLOAD_RULES_MAX);
		} else {
			usage_error(usage_config, "unknown config argument \"%s\"",
				    argv[i]);
		}
	}
	if (!any)
		usage_error(usage_config, "config set needs something to set");
	nl_open();
	nlh = coap_nl_request(&nl, buf, COAP_OFFLOAD_CMD_CONFIG_SET, 0);
	if (ms_given)
		mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_MAX_SESSIONS, ms);
	if (token_alias >= 0)
		mnl_attr_put_u8(nlh, COAP_OFFLOAD_A_TOKEN_ALIAS, token_alias);
	if (rules_given) {
		/* An empty nest is the kernel's "back to the defaults". */
		nest = mnl_attr_nest_start(nlh, COAP_OFFLOAD_A_RULES);
		for (i = 0; !rules_default && i < n_rules; i++) {
			if (strlen(argv[first_rule + i]) > COAP_OFFLOAD_RULE_MAX)
				usage_error(usage_config, "a rule is at most %d bytes",
					    COAP_OFFLOAD_RULE_MAX);
			mnl_attr_put_strz(nlh, COAP_OFFLOAD_A_RULE,
					  argv[first_rule + i]);
		}
		mnl_attr_nest_end(nlh, nest);
	}
	err = coap_nl_talk(&nl, nlh, NULL, NULL);
	if (err)
		nl_fail("config set", err);
	return 0;
}

static int cmd_config(int argc, char **argv)
{
	static const struct word verbs[] = {
		{ "show", V_SHOW }, { "set", V_SET }, { NULL, 0 },
	};

	if (!argc)
		return config_show();
	if (is_help(argv[0]) || (argc > 1 && is_help(argv[1])))
		help(usage_config);
	switch (lookup(argv[0], verbs, "config verb", usage_config)) {
	case V_SHOW:
		if (argc > 1)
			usage_error(usage_config, "config show takes no argument");
		return config_show();
	case V_SET:
		return config_set(argc - 1, argv + 1);
	}
	usage_error(usage_config, "unknown config verb \"%s\"", argv[0]);
}

/* ---- monitor -------------------------------------------------------- */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

struct monitor {
	bool timestamps;
	long count, seen;
};

static void time_prefix(const struct monitor *m, uint64_t ns, char *out,
			size_t cap)
{
	struct timespec ts;
	struct tm tm;
	time_t sec;

	out[0] = '\0';
	if (!m->timestamps)
		return;
	if (!ns) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	}
	sec = ns / 1000000000ULL;
	gmtime_r(&sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lluZ ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec,
		 (unsigned long long)(ns % 1000000000ULL / 1000));
}

static const char *event_name(uint32_t type)
{
	switch (type) {
	case COAP_OFFLOAD_EVENT_SESSION_EXPIRED: return "expired";
	case COAP_OFFLOAD_EVENT_REPLAY: return "replay";
	case COAP_OFFLOAD_EVENT_DECRYPT_ERROR: return "decrypt-error";
	case COAP_OFFLOAD_EVENT_FORBIDDEN: return "forbidden";
	case COAP_OFFLOAD_EVENT_SESSION_DELETED: return "deleted";
	default: return "unknown";
	}
}

/* One delivered message (a monitor copy: no payload, only its length). */
static void show_message(const struct monitor *m, const struct nlattr *nest)
{
	const struct nlattr *tb[COAP_OFFLOAD_MESSAGE_A_MAX + 1];
	char when[48], pk[80], dn[80], topic[512];
	uint64_t id, time_ns;
	uint32_t size;

	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_MESSAGE_A_MAX);
	nest_str(tb, COAP_OFFLOAD_MESSAGE_A_PRODUCT_KEY, pk, sizeof(pk));
	nest_str(tb, COAP_OFFLOAD_MESSAGE_A_DEVICE_NAME, dn, sizeof(dn));
	nest_str(tb, COAP_OFFLOAD_MESSAGE_A_TOPIC, topic, sizeof(topic));
	id = nest_u64(tb, COAP_OFFLOAD_MESSAGE_A_ID);
	time_ns = nest_u64(tb, COAP_OFFLOAD_MESSAGE_A_TIME);
	size = nest_u32(tb, COAP_OFFLOAD_MESSAGE_A_PAYLOAD_LEN);
	if (opt.json) {
		struct json_object *o = json_object_new_object();

		json_add_str(o, "type", "message");
		json_add_u64(o, "time_ns", time_ns);
		json_add_str(o, "product_key", pk);
		json_add_str(o, "device_name", dn);
		json_add_str(o, "topic", topic);
		json_add_u64(o, "size", size);
		json_add_u64(o, "id", id);
		json_add_u64(o, "seq", nest_u64(tb, COAP_OFFLOAD_MESSAGE_A_SEQ));
		json_print(o);
		return;
	}
	time_prefix(m, time_ns, when, sizeof(when));
	printf("%smessage %s/%s %s %u bytes id %016llx\n", when, pk, dn, topic,
	       size, (unsigned long long)id);
}

/* One event; it never carries the token or the key. */
static void show_event(const struct monitor *m, const struct nlattr *nest)
{
	const struct nlattr *tb[COAP_OFFLOAD_EVENT_A_MAX + 1];
	char when[48], pk[80], dn[80], topic[512], peer[64] = "";
	uint32_t type;

	coap_nl_parse_nested(nest, tb, COAP_OFFLOAD_EVENT_A_MAX);
	type = nest_u32(tb, COAP_OFFLOAD_EVENT_A_TYPE);
	nest_str(tb, COAP_OFFLOAD_EVENT_A_PRODUCT_KEY, pk, sizeof(pk));
	nest_str(tb, COAP_OFFLOAD_EVENT_A_DEVICE_NAME, dn, sizeof(dn));
	nest_str(tb, COAP_OFFLOAD_EVENT_A_TOPIC, topic, sizeof(topic));
	if (tb[COAP_OFFLOAD_EVENT_A_PEER])
		format_peer(mnl_attr_get_payload(tb[COAP_OFFLOAD_EVENT_A_PEER]),
			    mnl_attr_get_payload_len(tb[COAP_OFFLOAD_EVENT_A_PEER]),
			    peer, sizeof(peer));
	if (opt.json) {
		struct json_object *o = json_object_new_object();

		json_add_str(o, "type", "event");
		json_add_str(o, "event", event_name(type));
		json_add_str(o, "product_key", pk);
		json_add_str(o, "device_name", dn);
		json_object_object_add(o, "peer", peer[0] ?
				       json_object_new_string(peer) : NULL);
		json_object_object_add(o, "topic", topic[0] ?
				       json_object_new_string(topic) : NULL);
		json_print(o);
		return;
	}
	/* Events carry no time of their own: the time they were read. */
	time_prefix(m, 0, when, sizeof(when));
	printf("%sevent %s %s/%s%s%s%s%s\n", when, event_name(type), pk, dn,
	       peer[0] ? " peer " : "", peer, topic[0] ? " topic " : "", topic);
}

static int monitor_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *nest;
	struct monitor *m = data;

	if (m->count && m->seen >= m->count)
		return MNL_CB_STOP;
	switch (g->cmd) {
	case COAP_OFFLOAD_CMD_MESSAGE:
		nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_MESSAGE);
		if (!nest)
			return MNL_CB_OK;
		show_message(m, nest);
		break;
	case COAP_OFFLOAD_CMD_EVENT:
		nest = coap_nl_attr(nlh, COAP_OFFLOAD_A_EVENT);
		if (!nest)
			return MNL_CB_OK;
		show_event(m, nest);
		break;
	default:
		return MNL_CB_OK;	/* something newer: not ours to show */
	}
	/* One line per notification, flushed: monitor output is often piped. */
	fflush(stdout);
	m->seen++;
	return m->count && m->seen >= m->count ? MNL_CB_STOP : MNL_CB_OK;
}

static int cmd_monitor(int argc, char **argv)
{
	bool messages = true, events = true;
	struct monitor m = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	char *buf;
	int i, err, fd;

	static const struct word what[] = {
		{ "all", V_ALL }, { "messages", V_MESSAGES }, { "events", V_EVENTS },
		{ NULL, 0 },
	};

	for (i = 0; i < argc; i++) {
		int w = argv[i][0] == '-' ? -1 :
			lookup(argv[i], what, "monitor argument", usage_monitor);

		if (is_help(argv[i]))
			help(usage_monitor);
		else if (w == V_MESSAGES)
			events = false;
		else if (w == V_EVENTS)
			messages = false;
		else if (w == V_ALL)
			;
		else if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--timestamp"))
			m.timestamps = true;
		else if (!strcmp(argv[i], "--count"))
			m.count = parse_u64(next_arg(argc, argv, &i, usage_monitor),
					    "count", LONG_MAX, usage_monitor);
		else
			usage_error(usage_monitor, "unknown monitor argument \"%s\"",
				    argv[i]);
	}
	if (!messages && !events)
		usage_error(usage_monitor, "give messages or events, not both");

	nl_open();
	err = messages ? coap_nl_join(&nl, nl.mcgrp_monitor) : 0;
	if (err)
		fail("cannot join the \"%s\" group: %s", COAP_OFFLOAD_MCGRP_MONITOR,
		     strerror(-err));
	err = events ? coap_nl_join(&nl, nl.mcgrp_events) : 0;
	if (err)
		fail("cannot join the \"%s\" group: %s", COAP_OFFLOAD_MCGRP_EVENTS,
		     strerror(-err));

	/* No SA_RESTART: a signal must interrupt the wait. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	buf = malloc(COAP_NL_BUF_SIZE);
	if (!buf)
		fail("out of memory");
	fd = mnl_socket_get_fd(nl.nl);
	while (!stop && (!m.count || m.seen < m.count)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll: %s", strerror(errno));
		}
		n = recv(fd, buf, COAP_NL_BUF_SIZE, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* The socket overflowed: say so and go on. */
			if (errno == ENOBUFS) {
				fprintf(stderr, "coapctl: monitor: too fast, notifications lost\n");
				continue;
			}
			fail("monitor: %s", strerror(errno));
		}
		if (mnl_cb_run(buf, n, 0, 0, monitor_cb, &m) < 0 &&
		    errno != ESRCH)
			fail("monitor: malformed notification: %s", strerror(errno));
	}
	free(buf);
	return 0;
}

/* ---- device (the registry) ---------------------------------------- */

static struct coap_registry *registry_open(bool create)
{
	struct coap_registry *r;
	char msg[256];
	int err;

	/* The default location's directory is ours to make; others are not. */
	if (create && !strcmp(opt.registry, COAP_REGISTRY_DEFAULT_PATH))
		mkdir("/var/lib/coap-offload", 0700);
	r = coap_registry_open(opt.registry, create, &err, msg, sizeof(msg));
	if (!r)
		fail("registry: %s", msg);
	return r;
}

static void registry_fail(const char *what, const char *pk, const char *dn,
			  int err)
{
	if (err == -ENOENT)
		fail("%s: no device %s/%s in %s", what, pk, dn, opt.registry);
	if (err == -EEXIST)
		fail("%s: device %s/%s already exists", what, pk, dn);
	fail("%s: %s/%s: %s", what, pk, dn, strerror(-err));
}

/* 32 characters from [A-Za-z0-9], uniformly: reject bytes past 4 * 62. */
static void generate_secret(char *out, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[64];
	size_t n = 0, i;

	while (n < len) {
		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			fail("getrandom: %s", strerror(errno));
		for (i = 0; i < sizeof(r) && n < len; i++)
			if (r[i] < 4 * 62)
				out[n++] = alphabet[r[i] % 62];
	}
	out[n] = '\0';
	explicit_bzero(r, sizeof(r));
}

struct device_list {
	struct table t;
	struct json_object *arr;
	bool secrets;
	int n;
};

static int device_list_cb(const struct coap_device *d, void *data)
{
	struct device_list *l = data;
	char created[32];
	time_t t = d->created;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (l->arr) {
		struct json_object *o = json_object_new_object();

		json_add_str(o, "product_key", d->product_key);
		json_add_str(o, "device_name", d->device_name);
		json_object_object_add(o, "enabled",
				       json_object_new_boolean(d->enabled));
		json_object_object_add(o, "created",
				       json_object_new_int64(d->created));
		if (l->secrets)
			json_add_str(o, "secret", d->secret);
		json_object_array_add(l->arr, o);
	} else {
		table_row(&l->t, d->product_key, d->device_name,
			  d->enabled ? "yes" : "no", created,
			  l->secrets ? d->secret : "(hidden)");
	}
	l->n++;
	return 0;
}

static int device_list(int argc, char **argv)
{
	struct device_list l = { .t = { .cols = 5 } };
	const char *pk = NULL;
	struct coap_registry *r;
	int i, err;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--show-secrets"))
			l.secrets = true;
		else if (!pk && coap_registry_identity_valid(argv[i], true))
			pk = argv[i];
		else
			usage_error(usage_device, "unknown device list argument \"%s\"",
				    argv[i]);
	}
	r = registry_open(false);
	if (opt.json)
		l.arr = json_object_new_array();
	else
		table_row(&l.t, "PRODUCT_KEY", "DEVICE_NAME", "ENABLED",
			  "CREATED", "SECRET");
	err = coap_registry_foreach(r, pk, device_list_cb, &l);
	coap_registry_close(r);
	if (err)
		fail("device list: %s", strerror(-err));
	if (l.arr)
		json_print(l.arr);
	else if (l.n)
		table_print(&l.t);
	else
		free(l.t.cell);
	return 0;
}

static int cmd_device(int argc, char **argv)
{
	char pk[COAP_REGISTRY_ID_MAX + 2], dn[COAP_REGISTRY_ID_MAX + 2];
	static const struct word verbs[] = {
		{ "show", V_SHOW }, { "list", V_SHOW }, { "add", V_ADD },
		{ "del", V_DEL }, { "delete", V_DEL }, { "enable", V_ENABLE },
		{ "disable", V_DISABLE }, { NULL, 0 },
	};
	const char *verb = argc ? argv[0] : "show";
	struct coap_registry *r;
	int err, v;

	if (argc && (is_help(verb) || (argc > 1 && is_help(argv[argc - 1]))))
		help(usage_device);
	v = lookup(verb, verbs, "device verb", usage_device);
	if (!argc || v == V_SHOW)
		return device_list(argc ? argc - 1 : 0, argv + 1);
	if (v == V_ADD) {
		/* One more than a valid secret: a too-long one fails the check. */
		char secret[COAP_REGISTRY_SECRET_MAX + 2];
		bool generated = true;

		if (argc < 2)
			usage_error(usage_device, "device add needs PK/DN");
		parse_device(argv[1], pk, dn, usage_device);
		if (argc == 4 && !strcmp(argv[2], "secret")) {
			secret_arg(argv[3], secret, sizeof(secret), usage_device);
			if (!coap_registry_secret_valid(secret))
				usage_error(usage_device,
					    "a secret is 1..%d printable ASCII characters",
					    COAP_REGISTRY_SECRET_MAX);
			generated = false;
		} else if (argc == 2 || (argc == 3 && !strcmp(argv[2], "generate"))) {
			generate_secret(secret, GENERATED_SECRET_LEN);
		} else {
			usage_error(usage_device, "device add PK/DN [secret SECRET | generate]");
		}
		r = registry_open(true);
		err = coap_registry_add(r, pk, dn, secret);
		coap_registry_close(r);
		if (err) {
			explicit_bzero(secret, sizeof(secret));
			registry_fail("device add", pk, dn, err);
		}
		/* A generated secret exists nowhere else: show it, once. */
		if (generated) {
			if (opt.json) {
				struct json_object *o = json_object_new_object();

				json_add_str(o, "product_key", pk);
				json_add_str(o, "device_name", dn);
				json_add_str(o, "secret", secret);
				json_print(o);
			} else {
				printf("%s/%s secret %s\n", pk, dn, secret);
			}
		}
		explicit_bzero(secret, sizeof(secret));
		return 0;
	}
	if (v == V_DEL || v == V_ENABLE || v == V_DISABLE) {
		const char *name = v == V_DEL ? "device del" :
				   v == V_ENABLE ? "device enable" : "device disable";

		if (argc != 2)
			usage_error(usage_device, "%s needs PK/DN", name);
		parse_device(argv[1], pk, dn, usage_device);
		r = registry_open(false);
		if (v == V_DEL)
			err = coap_registry_del(r, pk, dn);
		else
			err = coap_registry_set_enabled(r, pk, dn, v == V_ENABLE);
		coap_registry_close(r);
		if (err)
			registry_fail(name, pk, dn, err);
		return 0;
	}
	usage_error(usage_device, "unknown device verb \"%s\"", verb);
}

/* ---- main ----------------------------------------------------------- */

static int (*const object_fn[])(int argc, char **argv) = {
	cmd_session, cmd_device, cmd_stats, cmd_monitor, cmd_socket, cmd_config,
};

static const struct word objects[] = {
	{ "session", 0 }, { "device", 1 }, { "stats", 2 }, { "monitor", 3 },
	{ "socket", 4 }, { "config", 5 },
	/* The short form of the most used object, like ip's "a" for address. */
	{ "s", 0 },
	{ NULL, 0 },
};

int main(int argc, char **argv)
{
	int i, k;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			opt.json = true;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--pretty")) {
			opt.pretty = true;
		} else if (!strcmp(a, "-s") || !strcmp(a, "--stats")) {
			opt.stats_sessions = true;
		} else if (!strcmp(a, "-r") || !strcmp(a, "--registry")) {
			opt.registry = next_arg(argc, argv, &i, usage_main);
			if (!*opt.registry)
				usage_error(usage_main, "empty registry path");
		} else if (!strcmp(a, "-jp") || !strcmp(a, "-pj")) {
			opt.json = opt.pretty = true;
		} else if (is_help(a)) {
			help(usage_main);
		} else if (!strcmp(a, "--")) {
			i++;
			break;
		} else {
			usage_error(usage_main, "unknown option \"%s\"", a);
		}
	}
	if (opt.pretty && !opt.json)
		usage_error(usage_main, "-p only goes with -j");
	if (i >= argc)
		usage_error(usage_main, "no object given");
	if (!strcmp(argv[i], "help")) {
		/* "coapctl help session" is "coapctl session help". */
		if (i + 2 < argc)
			usage_error(usage_main, "help takes one OBJECT");
		if (i + 1 == argc)
			help(usage_main);
		k = lookup(argv[i + 1], objects, "object", usage_main);
		if (k < 0)
			usage_error(usage_main, "unknown object \"%s\"", argv[i + 1]);
		argv[i + 1] = (char *)"help";
		return object_fn[k](1, argv + i + 1);
	}
	k = lookup(argv[i], objects, "object", usage_main);
	if (k < 0)
		usage_error(usage_main, "unknown object \"%s\"", argv[i]);
	return object_fn[k](argc - i - 1, argv + i + 1);
}
