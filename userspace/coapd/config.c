// SPDX-License-Identifier: GPL-2.0
/*
 * coapd's configuration: command-line options and a config file of
 * "key = value" lines whose keys are the long option names. One table of
 * options (longopts) and one apply_option() serve both, so an option added to
 * the table works on the command line and in the file alike.
 *
 * Order: defaults, then the file (-c FILE, else COAPD_CONFIG_DEFAULT_PATH when
 * it exists), then the command line: a flag overrides the file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "coapd.h"
#include "spool.h"

/* A config file is a few lines; anything this big is a mistake. */
#define CONFIG_FILE_MAX		(1 << 20)

#define COAPD_MQTT_PORT		1883
#define COAPD_MQTT_TLS_PORT	8883
#define COAPD_SPOOL_DIR		"/var/spool/coapd"
#define COAPD_SPOOL_MAX		(64ULL << 20)

enum {
	OPT_SINK = 256, OPT_FSYNC, OPT_CIPHER, OPT_LIFETIME, OPT_CHECK,
	OPT_LOG_LEVEL, OPT_LOG_TARGET, OPT_MAX_SESSIONS,
	OPT_DTLS_PORT, OPT_DTLS_CERT, OPT_DTLS_KEY, OPT_DTLS_MAX,
	OPT_DTLS_IDLE, OPT_DTLS_RATE, OPT_AUTH_FAIL_BURST, OPT_AUTH_FAIL_RATE,
	OPT_AUTH_FAIL_ENTRIES,
	OPT_MQTT_HOST, OPT_MQTT_PORT, OPT_MQTT_PREFIX, OPT_MQTT_ID,
	OPT_MQTT_USER, OPT_MQTT_PASSFILE, OPT_MQTT_CAFILE, OPT_MQTT_CAPATH,
	OPT_MQTT_CERTFILE, OPT_MQTT_KEYFILE, OPT_SPOOL_DIR, OPT_SPOOL_MAX,
	OPT_NO_OFFLOAD, OPT_IDLE_TIMEOUT,
	OPT_ACK_TIMEOUT, OPT_MAX_RETRANSMIT,
};

static const char shortopts[] = "c:fp:r:vh";
static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, OPT_CHECK },
	{ "help", no_argument, NULL, 'h' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
	{ "port", required_argument, NULL, 'p' },
	{ "registry", required_argument, NULL, 'r' },
	{ "sink-file", required_argument, NULL, OPT_SINK },
	{ "fsync", no_argument, NULL, OPT_FSYNC },
	{ "cipher-default", required_argument, NULL, OPT_CIPHER },
	{ "token-lifetime", required_argument, NULL, OPT_LIFETIME },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
	{ "dtls-port", required_argument, NULL, OPT_DTLS_PORT },
	{ "dtls-cert", required_argument, NULL, OPT_DTLS_CERT },
	{ "dtls-key", required_argument, NULL, OPT_DTLS_KEY },
	{ "dtls-max-sessions", required_argument, NULL, OPT_DTLS_MAX },
	{ "dtls-idle-timeout", required_argument, NULL, OPT_DTLS_IDLE },
	{ "dtls-handshake-rate", required_argument, NULL, OPT_DTLS_RATE },
	{ "auth-fail-burst", required_argument, NULL, OPT_AUTH_FAIL_BURST },
	{ "auth-fail-rate", required_argument, NULL, OPT_AUTH_FAIL_RATE },
	{ "auth-fail-entries", required_argument, NULL, OPT_AUTH_FAIL_ENTRIES },
	{ "mqtt-host", required_argument, NULL, OPT_MQTT_HOST },
	{ "mqtt-port", required_argument, NULL, OPT_MQTT_PORT },
	{ "mqtt-prefix", required_argument, NULL, OPT_MQTT_PREFIX },
	{ "mqtt-client-id", required_argument, NULL, OPT_MQTT_ID },
	{ "mqtt-username", required_argument, NULL, OPT_MQTT_USER },
	{ "mqtt-password-file", required_argument, NULL, OPT_MQTT_PASSFILE },
	{ "mqtt-cafile", required_argument, NULL, OPT_MQTT_CAFILE },
	{ "mqtt-capath", required_argument, NULL, OPT_MQTT_CAPATH },
	{ "mqtt-certfile", required_argument, NULL, OPT_MQTT_CERTFILE },
	{ "mqtt-keyfile", required_argument, NULL, OPT_MQTT_KEYFILE },
	{ "spool-dir", required_argument, NULL, OPT_SPOOL_DIR },
	{ "spool-max-bytes", required_argument, NULL, OPT_SPOOL_MAX },
	{ "no-offload", no_argument, NULL, OPT_NO_OFFLOAD },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT },
	{ "max-retransmit", required_argument, NULL, OPT_MAX_RETRANSMIT },
	{ NULL, 0, NULL, 0 },
};

/* What only makes sense on the command line. */
static bool cli_only(int opt)
{
	return opt == 'c' || opt == OPT_CHECK || opt == 'h';
}

static const char * const log_levels[] = {
	[LOG_ERR] = "error", [LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static void usage(void)
{
	printf(
"usage: coapd [-c FILE] [--check-config] [OPTION]...\n"
"  -c, --config FILE        read options from FILE (default, only when it\n"
"                           exists: %s);\n"
"                           flags override the file\n"
"      --check-config       check the configuration, print it, exit\n"
"  -f, --foreground         do not detach (logs go to stderr unless\n"
"                           --log-target says otherwise)\n"
"  -v, --verbose            one log level more (repeat for debug)\n"
"      --log-level L        error|warning|notice|info|debug (default info)\n"
"      --log-target T       syslog|stderr (default: stderr with -f, else syslog)\n"
"  -p, --port PORT          UDP port of symmetric mode (default %u)\n"
"  -r, --registry PATH      device registry (default %s)\n"
"      --sink-file PATH     append delivered messages as JSON lines (default\n"
"                           stdout when there is no MQTT sink)\n"
"      --fsync              fsync the JSON sink after each line, the spool\n"
"                           after each message\n"
"      --cipher-default S   suite of devices that do not ask: aes-128-cbc\n"
"                           (default) or aes-128-ctr\n"
"      --token-lifetime S   session lifetime in seconds (default %u)\n"
"      --max-sessions N     set the module's session limit (default: leave it;\n"
"                           with --no-offload: %u)\n"
"      --dtls-port PORT     UDP port of DTLS mode (default %u; 0: off)\n"
"      --dtls-cert PEM      the gateway's certificate for DTLS (without it:\n"
"                           PSK devices only)\n"
"      --dtls-key PEM       its private key\n"
"      --dtls-max-sessions N    DTLS sessions at most (default %u)\n"
"      --dtls-idle-timeout S    close a DTLS session idle this long (default %u)\n"
"      --dtls-handshake-rate N  new DTLS sessions per host a minute (default %u)\n"
"      --auth-fail-burst N  failed /auth allowed in a row per source (IPv4\n"
"                           address, IPv6 /64) and per device, before 4.29\n"
"                           (default %u; 0: no limit)\n"
"      --auth-fail-rate N   failures per minute regained (default %u)\n"
"      --auth-fail-entries N  sources and devices remembered, each\n"
"                           (default %u)\n"
"      --mqtt-host HOST     publish messages to this MQTT broker (QoS 1); topic:\n"
"                           the CoAP topic without its leading '/'\n"
"      --mqtt-port PORT     the broker's port (default %u, with TLS %u)\n"
"      --mqtt-prefix P      put P/ before every MQTT topic\n"
"      --mqtt-client-id ID  MQTT client id (default coapd-HOSTNAME)\n"
"      --mqtt-username U    MQTT user name\n"
"      --mqtt-password-file PATH  MQTT password: the file's first line\n"
"      --mqtt-cafile PEM    talk TLS to the broker and trust these CA\n"
"                           certificates; the broker's certificate and its\n"
"                           name (mqtt-host) are always verified\n"
"      --mqtt-capath DIR    the same with a directory of hashed CA certificates\n"
"                           (e.g. /etc/ssl/certs)\n"
"      --mqtt-certfile PEM  TLS client certificate, for brokers that ask\n"
"      --mqtt-keyfile PEM   its private key (unencrypted)\n"
"      --spool-dir DIR      messages wait here for the broker (default\n"
"                           %s)\n"
"      --spool-max-bytes N  the spool's bound, k/M/G suffix allowed (default\n"
"                           %lluM); when full, coapd stops accepting\n"
"      --idle-timeout S     end a session after S seconds without a delivered\n"
"                           publish (default 0: never)\n"
"      --no-offload         serve publishes in user space, without\n"
"                           coap_offload.ko: same checks, crypto and answers;\n"
"                           coapctl's session/stats/monitor/config need the\n"
"                           module (counters go to the log at exit)\n"
"      --ack-timeout MS     ackMode 1: first wait for the device's ACK of a\n"
"                           separate response, doubled per retransmission\n"
"                           (default %u, RFC 7252 ACK_TIMEOUT)\n"
"      --max-retransmit N   ackMode 1: retransmissions before giving up\n"
"                           (default %u, RFC 7252 MAX_RETRANSMIT)\n"
"In the file: one \"key = value\" per line, the key a long option name without\n"
"\"--\"; a flag takes true or false; lines starting with # are comments.\n",
		COAPD_CONFIG_DEFAULT_PATH, COAPD_PORT,
		COAP_REGISTRY_DEFAULT_PATH, COAPD_TOKEN_LIFETIME,
		COAPD_MAX_SESSIONS,
		COAPD_DTLS_PORT, COAPD_DTLS_MAX_SESSIONS, COAPD_DTLS_IDLE_TIMEOUT,
		COAPD_DTLS_HANDSHAKE_RATE,
		COAPD_AUTH_FAIL_BURST, COAPD_AUTH_FAIL_RATE,
		COAPD_AUTH_FAIL_ENTRIES,
		COAPD_MQTT_PORT, COAPD_MQTT_TLS_PORT, COAPD_SPOOL_DIR,
		COAPD_SPOOL_MAX >> 20, COAPD_ACK_TIMEOUT_MS, COAPD_MAX_RETRANSMIT);
}

/* A decimal in [min, max], nothing else; false otherwise. */
static bool parse_uint(const char *s, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out >= min && *out <= max;
}

/* A byte count with an optional k/M/G suffix (powers of 1024). */
static bool parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	else if (*end == 'g' || *end == 'G')
		shift = 30;
	if (shift)
		end++;
	if (*end || v > ULLONG_MAX >> shift)
		return false;
	*out = v << shift;
	return true;
}

/*
 * Applies one option (a flag's arg is NULL). NULL, or why arg is wrong; the
 * caller says where it came from.
 */
static const char *apply_option(struct coapd_config *cfg, int opt,
				const char *arg)
{
	unsigned long long size;
	unsigned long v;
	int i;

	switch (opt) {
	case 'f':
		cfg->foreground = true;
		break;
	case 'v':
		if (cfg->log_level < LOG_DEBUG)
			cfg->log_level++;
		break;
	case OPT_LOG_LEVEL:
		for (i = LOG_ERR; i <= LOG_DEBUG; i++)
			if (!strcmp(arg, log_levels[i]))
				break;
		if (i > LOG_DEBUG)
			return "not error, warning, notice, info or debug";
		cfg->log_level = i;
		break;
	case OPT_LOG_TARGET:
		if (!strcmp(arg, "syslog"))
			cfg->log_target = COAPD_LOG_SYSLOG;
		else if (!strcmp(arg, "stderr"))
			cfg->log_target = COAPD_LOG_STDERR;
		else
			return "not syslog or stderr";
		break;
	case 'p':
		if (!parse_uint(arg, 1, 65535, &v))
			return "not a port (1..65535)";
		cfg->port = v;
		break;
	case 'r':
		cfg->registry_path = arg;
		break;
	case OPT_SINK:
		cfg->sink_path = arg;
		break;
	case OPT_FSYNC:
		cfg->fsync = true;
		break;
	case OPT_CIPHER:
		if (coap_proto_cipher_parse(arg, &cfg->cipher_default))
			return "not aes-128-cbc or aes-128-ctr";
		break;
	case OPT_LIFETIME:
		/* The kernel's lifetime attribute is a u32. */
		if (!parse_uint(arg, 1, UINT32_MAX, &v))
			return "not 1..4294967295 seconds";
		cfg->token_lifetime = v;
		break;
	case OPT_MAX_SESSIONS:
		if (!parse_uint(arg, 1, UINT32_MAX, &v))
			return "not 1..4294967295";
		cfg->max_sessions = v;
		break;
	case OPT_DTLS_PORT:
		if (!parse_uint(arg, 0, 65535, &v))
			return "not a port (0..65535, 0: off)";
		cfg->dtls_port = v;
		break;
	case OPT_DTLS_CERT:
		cfg->dtls_cert = arg;
		break;
	case OPT_DTLS_KEY:
		cfg->dtls_key = arg;
		break;
	case OPT_DTLS_MAX:
	case OPT_DTLS_IDLE:
	case OPT_DTLS_RATE:
		if (!parse_uint(arg, 1, 1000000, &v))
			return "not 1..1000000";
		if (opt == OPT_DTLS_MAX)
			cfg->dtls_max_sessions = v;
		else if (opt == OPT_DTLS_IDLE)
			cfg->dtls_idle_timeout = v;
		else
			cfg->dtls_handshake_rate = v;
		break;
	case OPT_AUTH_FAIL_BURST:
		if (!parse_uint(arg, 0, 1000000, &v))
			return "not 0..1000000";
		cfg->auth_fail_burst = v;
		break;
	case OPT_AUTH_FAIL_RATE:
		if (!parse_uint(arg, 1, 60000, &v))
			return "not 1..60000 per minute";
		cfg->auth_fail_rate = v;
		break;
	case OPT_AUTH_FAIL_ENTRIES:
		if (!parse_uint(arg, 1, 1U << 24, &v))
			return "not 1..16777216";
		cfg->auth_fail_entries = v;
		break;
	case OPT_MQTT_HOST:
		cfg->mqtt_host = arg;
		break;
	case OPT_MQTT_PORT:
		if (!parse_uint(arg, 1, 65535, &v))
			return "not a port (1..65535)";
		cfg->mqtt_port = v;
		break;
	case OPT_MQTT_PREFIX:
		cfg->mqtt_prefix = arg;
		break;
	case OPT_MQTT_ID:
		cfg->mqtt_client_id = arg;
		break;
	case OPT_MQTT_USER:
		cfg->mqtt_username = arg;
		break;
	case OPT_MQTT_PASSFILE:
		cfg->mqtt_password_file = arg;
		break;
	case OPT_MQTT_CAFILE:
		cfg->mqtt_cafile = arg;
		break;
	case OPT_MQTT_CAPATH:
		cfg->mqtt_capath = arg;
		break;
	case OPT_MQTT_CERTFILE:
		cfg->mqtt_certfile = arg;
		break;
	case OPT_MQTT_KEYFILE:
		cfg->mqtt_keyfile = arg;
		break;
	case OPT_SPOOL_DIR:
		cfg->spool_dir = arg;
		break;
	case OPT_SPOOL_MAX:
		if (!parse_size(arg, &size) || size < SPOOL_MIN_BYTES)
			return "not a size of at least 256k";
		cfg->spool_max_bytes = size;
		break;
	case OPT_NO_OFFLOAD:
		cfg->no_offload = true;
		break;
	case OPT_IDLE_TIMEOUT:
		/* The module's limit, in both modes. */
		if (!parse_uint(arg, 0, COAP_OFFLOAD_IDLE_TIMEOUT_MAX, &v))
			return "not 0..2592000 seconds";
		cfg->idle_timeout = v;
		break;
	case OPT_ACK_TIMEOUT:
		/* Doubled up to 10 times, it stays an int of milliseconds. */
		if (!parse_uint(arg, 10, 60000, &v))
			return "not 10..60000 ms";
		cfg->ack_timeout_ms = v;
		break;
	case OPT_MAX_RETRANSMIT:
		if (!parse_uint(arg, 0, 10, &v))
			return "not 0..10";
		cfg->max_retransmit = v;
		break;
	default:
		return "not an option"; /* unreachable: getopt/lookup vet it */
	}
	return NULL;
}

static const struct option *option_by_name(const char *name)
{
	const struct option *o;

	for (o = longopts; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static const struct option *option_by_val(int val)
{
	const struct option *o;

	for (o = longopts; o->name; o++)
		if (o->val == val)
			return o;
	return NULL;
}

static int file_error(const char *path, unsigned int line, const char *key,
		      const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "coapd: %s:%u: ", path, line);
	if (key)
		fprintf(stderr, "%s: ", key);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* The whole file in one NUL-terminated buffer; NULL (errno) on failure. */
static char *read_file(const char *path)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st))
		goto err_close;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto err_close;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf)
		goto err_close;
	/* Read one byte past the limit to see whether it was exceeded. */
	n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto err_free;
		if (!r)
			break;
		n += r;
		if (n > CONFIG_FILE_MAX) {
			errno = EFBIG;
			goto err_free;
		}
	}
	close(fd);
	if (memchr(buf, '\0', n)) {
		free(buf);
		errno = EILSEQ;
		return NULL;
	}
	buf[n] = '\0';
	return buf;

err_free:
	free(buf);
err_close:
	close(fd);
	return NULL;
}

/*
 * Applies the file's options. The values point into the file's text, which
 * cfg keeps (cfg->file_text) for the daemon's lifetime. missing_ok: a file
 * that does not exist is no file. 0 or -1 (the error printed).
 */
static int load_file(struct coapd_config *cfg, const char *path,
		     bool missing_ok)
{
	char *text, *line, *next;
	unsigned int lineno = 0;

	text = read_file(path);
	if (!text) {
		if (missing_ok && errno == ENOENT)
			return 0;
		fprintf(stderr, "coapd: config %s: %s\n", path,
			errno == EILSEQ ? "contains a NUL byte" :
			strerror(errno));
		return -1;
	}
	cfg->file_text = text;
	cfg->file_path = path;
	for (line = text; line; line = next) {
		const struct option *o;
		char *key, *value, *eq;
		const char *why;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq)
			return file_error(path, lineno, NULL,
					  "not \"key = value\": '%s'", key);
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		o = option_by_name(key);
		if (!o)
			return file_error(path, lineno, key, "unknown key");
		if (cli_only(o->val))
			return file_error(path, lineno, key,
					  "only on the command line");
		if (!*value)
			return file_error(path, lineno, key, "no value");
		if (o->has_arg == no_argument) {
			if (!strcmp(value, "false"))
				continue;
			if (strcmp(value, "true"))
				return file_error(path, lineno, key,
						  "'%s' is not true or false",
						  value);
			value = NULL;
		}
		why = apply_option(cfg, o->val, value);
		if (why)
			return file_error(path, lineno, key, "'%s' is %s",
					  value, why);
	}
	return 0;
}

/* OpenSSL's passphrase callback: an encrypted key is refused, not asked. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* PATH opened for reading as a regular file, or NULL (the error printed). */
static FILE *tls_file_open(const char *key, const char *path)
{
	const char *why;
	struct stat st;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "coapd: %s %s: %s\n", key, path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st))
		why = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		why = strerror(EISDIR);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else
		return f;
	fprintf(stderr, "coapd: %s %s: %s\n", key, path, why);
	fclose(f);
	return NULL;
}

/*
 * The MQTT TLS options, checked before anything is opened: the CA, the
 * client certificate and its key are read and parsed here (libmosquitto
 * reads them again at each connection), so that a wrong path or file is a
 * startup error naming the key and the file, not a connection failing
 * forever. 0 or -1 (the error printed).
 */
static int mqtt_tls_check(const struct coapd_config *cfg)
{
	X509 *cert = NULL, *ca;
	EVP_PKEY *pkey = NULL;
	int ret = -1, n = 0, err = 0;
	struct stat st;
	FILE *f;

	if ((cfg->mqtt_certfile || cfg->mqtt_keyfile) &&
	    !cfg->mqtt_cafile && !cfg->mqtt_capath) {
		fprintf(stderr, "coapd: mqtt-certfile and mqtt-keyfile need mqtt-cafile or mqtt-capath (TLS)\n");
		return -1;
	}
	if (!cfg->mqtt_certfile != !cfg->mqtt_keyfile) {
		fprintf(stderr, "coapd: mqtt-certfile and mqtt-keyfile go together\n");
		return -1;
	}
	if (cfg->mqtt_capath) {
		if (stat(cfg->mqtt_capath, &st))
			err = errno;
		else if (!S_ISDIR(st.st_mode))
			err = ENOTDIR;
		else if (access(cfg->mqtt_capath, R_OK | X_OK))
			err = errno;
		if (err) {
			fprintf(stderr, "coapd: mqtt-capath %s: %s\n",
				cfg->mqtt_capath, strerror(err));
			return -1;
		}
	}
	if (cfg->mqtt_cafile) {
		f = tls_file_open("mqtt-cafile", cfg->mqtt_cafile);
		if (!f)
			return -1;
		while ((ca = PEM_read_X509(f, NULL, no_passphrase, NULL))) {
			X509_free(ca);
			n++;
		}
		fclose(f);
		if (!n) {
			fprintf(stderr, "coapd: mqtt-cafile %s: no PEM certificate in it\n",
				cfg->mqtt_cafile);
			return -1;
		}
	}
	if (!cfg->mqtt_certfile)
		return 0;
	f = tls_file_open("mqtt-certfile", cfg->mqtt_certfile);
	if (!f)
		return -1;
	cert = PEM_read_X509(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!cert) {
		fprintf(stderr, "coapd: mqtt-certfile %s: no PEM certificate in it\n",
			cfg->mqtt_certfile);
		goto out;
	}
	f = tls_file_open("mqtt-keyfile", cfg->mqtt_keyfile);
	if (!f)
		goto out;
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!pkey) {
		fprintf(stderr, "coapd: mqtt-keyfile %s: no unencrypted PEM private key in it\n",
			cfg->mqtt_keyfile);
		goto out;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		fprintf(stderr, "coapd: mqtt-keyfile %s: not the key of mqtt-certfile %s\n",
			cfg->mqtt_keyfile, cfg->mqtt_certfile);
		goto out;
	}
	ret = 0;
out:
	/* Nothing of the key stays in OpenSSL's error queue or in memory. */
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	X509_free(cert);
	return ret;
}

int coapd_config_load(struct coapd_config *cfg, int argc, char **argv)
{
	struct { int opt; const char *arg; } *flags;
	const char *path = COAPD_CONFIG_DEFAULT_PATH;
	bool path_given = false;
	int opt, n = 0, i, ret = -1;

	*cfg = (struct coapd_config) {
		.port = COAPD_PORT,
		.registry_path = COAP_REGISTRY_DEFAULT_PATH,
		.cipher_default = COAP_CIPHER_AES_128_CBC,
		.token_lifetime = COAPD_TOKEN_LIFETIME,
		.log_level = LOG_INFO,
		.dtls_port = COAPD_DTLS_PORT,
		.dtls_max_sessions = COAPD_DTLS_MAX_SESSIONS,
		.dtls_idle_timeout = COAPD_DTLS_IDLE_TIMEOUT,
		.dtls_handshake_rate = COAPD_DTLS_HANDSHAKE_RATE,
		.auth_fail_burst = COAPD_AUTH_FAIL_BURST,
		.auth_fail_rate = COAPD_AUTH_FAIL_RATE,
		.auth_fail_entries = COAPD_AUTH_FAIL_ENTRIES,
		/* 0: the default of plain MQTT or of TLS, set below. */
		.spool_dir = COAPD_SPOOL_DIR,
		.spool_max_bytes = COAPD_SPOOL_MAX,
		.ack_timeout_ms = COAPD_ACK_TIMEOUT_MS,
		.max_retransmit = COAPD_MAX_RETRANSMIT,
	};
	/* First the flags are collected: the file comes before them. */
	flags = calloc(argc, sizeof(*flags));
	if (!flags) {
		fprintf(stderr, "coapd: out of memory\n");
		return -1;
	}
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			path_given = true;
			break;
		case OPT_CHECK:
			cfg->check_only = true;
			break;
		case 'h':
			usage();
			free(flags);
			exit(0);
		case '?':
			fprintf(stderr, "Try 'coapd --help'.\n");
			goto out;
		default:
			flags[n].opt = opt;
			flags[n++].arg = optarg;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "coapd: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if (load_file(cfg, path, !path_given))
		goto out;
	for (i = 0; i < n; i++) {
		const char *why = apply_option(cfg, flags[i].opt, flags[i].arg);

		if (why) {
			fprintf(stderr, "coapd: --%s: '%s' is %s\n",
				option_by_val(flags[i].opt)->name,
				flags[i].arg, why);
			goto out;
		}
	}
	if (!cfg->dtls_cert != !cfg->dtls_key) {
		fprintf(stderr, "coapd: dtls-cert and dtls-key go together\n");
		goto out;
	}
	if (cfg->mqtt_password_file && !cfg->mqtt_username) {
		fprintf(stderr, "coapd: mqtt-password-file needs mqtt-username\n");
		goto out;
	}
	if (mqtt_tls_check(cfg))
		goto out;
	if (!cfg->mqtt_port)
		cfg->mqtt_port = cfg->mqtt_cafile || cfg->mqtt_capath ?
				 COAPD_MQTT_TLS_PORT : COAPD_MQTT_PORT;
	if (cfg->log_target == COAPD_LOG_DEFAULT)
		cfg->log_target = cfg->foreground ? COAPD_LOG_STDERR :
				  COAPD_LOG_SYSLOG;
	ret = 0;
out:
	free(flags);
	return ret;
}

void coapd_config_print(const struct coapd_config *cfg, FILE *f)
{
	fprintf(f, "# coapd's effective configuration (source: %s)\n",
		cfg->file_path ? cfg->file_path : "defaults and flags");
	fprintf(f, "foreground = %s\n", cfg->foreground ? "true" : "false");
	fprintf(f, "log-level = %s\n", log_levels[cfg->log_level]);
	fprintf(f, "log-target = %s\n",
		cfg->log_target == COAPD_LOG_SYSLOG ? "syslog" : "stderr");
	fprintf(f, "port = %u\n", cfg->port);
	fprintf(f, "registry = %s\n", cfg->registry_path);
	if (cfg->sink_path)
		fprintf(f, "sink-file = %s\n", cfg->sink_path);
	else
		fprintf(f, "# sink-file: none, stdout\n");
	fprintf(f, "fsync = %s\n", cfg->fsync ? "true" : "false");
	fprintf(f, "cipher-default = %s\n",
		coap_proto_cipher_name(cfg->cipher_default));
	fprintf(f, "token-lifetime = %u\n", cfg->token_lifetime);
	if (cfg->max_sessions)
		fprintf(f, "max-sessions = %u\n", cfg->max_sessions);
	else
		fprintf(f, "# max-sessions: not set, the module's stays\n");
	fprintf(f, "dtls-port = %u\n", cfg->dtls_port);
	if (cfg->dtls_cert)
		fprintf(f, "dtls-cert = %s\ndtls-key = %s\n", cfg->dtls_cert,
			cfg->dtls_key);
	else
		fprintf(f, "# dtls-cert, dtls-key: none, PSK devices only\n");
	fprintf(f, "dtls-max-sessions = %u\n", cfg->dtls_max_sessions);
	fprintf(f, "dtls-idle-timeout = %u\n", cfg->dtls_idle_timeout);
	fprintf(f, "dtls-handshake-rate = %u\n", cfg->dtls_handshake_rate);
	fprintf(f, "auth-fail-burst = %u\n", cfg->auth_fail_burst);
	fprintf(f, "auth-fail-rate = %u\n", cfg->auth_fail_rate);
	fprintf(f, "auth-fail-entries = %u\n", cfg->auth_fail_entries);
	fprintf(f, "idle-timeout = %u\n", cfg->idle_timeout);
	fprintf(f, "no-offload = %s\n", cfg->no_offload ? "true" : "false");
	fprintf(f, "ack-timeout = %u\n", cfg->ack_timeout_ms);
	fprintf(f, "max-retransmit = %u\n", cfg->max_retransmit);
	if (!cfg->mqtt_host) {
		fprintf(f, "# mqtt-host: none, no MQTT sink\n");
		return;
	}
	fprintf(f, "mqtt-host = %s\n", cfg->mqtt_host);
	fprintf(f, "mqtt-port = %u\n", cfg->mqtt_port);
	if (cfg->mqtt_prefix)
		fprintf(f, "mqtt-prefix = %s\n", cfg->mqtt_prefix);
	if (cfg->mqtt_client_id)
		fprintf(f, "mqtt-client-id = %s\n", cfg->mqtt_client_id);
	if (cfg->mqtt_username)
		fprintf(f, "mqtt-username = %s\n", cfg->mqtt_username);
	/* The file's name only: the password stays in it. */
	if (cfg->mqtt_password_file)
		fprintf(f, "mqtt-password-file = %s\n", cfg->mqtt_password_file);
	if (cfg->mqtt_cafile)
		fprintf(f, "mqtt-cafile = %s\n", cfg->mqtt_cafile);
	if (cfg->mqtt_capath)
		fprintf(f, "mqtt-capath = %s\n", cfg->mqtt_capath);
	if (!cfg->mqtt_cafile && !cfg->mqtt_capath)
		fprintf(f, "# mqtt-cafile, mqtt-capath: none, no TLS\n");
	if (cfg->mqtt_certfile)
		fprintf(f, "mqtt-certfile = %s\nmqtt-keyfile = %s\n",
			cfg->mqtt_certfile, cfg->mqtt_keyfile);
	fprintf(f, "spool-dir = %s\n", cfg->spool_dir);
	fprintf(f, "spool-max-bytes = %llu\n",
		(unsigned long long)cfg->spool_max_bytes);
}

void coapd_config_free(struct coapd_config *cfg)
{
	free(cfg->file_text);
	cfg->file_text = NULL;
}
