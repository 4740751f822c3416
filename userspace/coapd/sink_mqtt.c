// SPDX-License-Identifier: GPL-2.0
/*
 * The MQTT sink: each message is appended to the on-disk spool (spool.h)
 * and then published with QoS 1 from there; the broker's PUBACK removes it.
 * libmosquitto runs inside coapd's single poll loop (its socket, want_write,
 * loop_read/write/misc): no thread. When the broker is away, messages stay
 * in the spool and the connection is tried again with a growing delay; on
 * every new connection the records sent and not acknowledged are sent again
 * (QoS 1 is at least once: a PUBACK lost with the connection means one
 * duplicate). A full spool makes coapd stop accepting (sink.c).
 *
 * MQTT topic: the CoAP topic without its leading '/' ("/a1PK/dev1/user/
 * update" -> "a1PK/dev1/user/update"; MQTT advises against an empty first
 * level), after "PREFIX/" when --mqtt-prefix is given. Payload: the
 * plaintext as it came.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <mosquitto.h>

#include "coapd.h"
#include "spool.h"

/* Published and not yet acknowledged, at most (libmosquitto's default). */
#define MQTT_WINDOW		20
#define MQTT_KEEPALIVE		30	/* seconds */
#define MQTT_BACKOFF_MIN	1000	/* ms */
#define MQTT_BACKOFF_MAX	30000
/* A TCP connect or CONNACK that takes longer is given up and tried again. */
#define MQTT_CONNECT_TIMEOUT	15000
/* How often libmosquitto's timers (keepalive) and ours run at least. */
#define MQTT_TICK		1000
#define MQTT_TOPIC_MAX		1024

/* Record layout in the spool: u64 id, u16 topic length, topic, payload. */
#define REC_HDR			10

struct mqtt_sink {
	const struct coapd_config *cfg;
	struct spool *spool;
	struct mosquitto *mosq;		/* NULL between attempts */
	char *client_id;
	char *password;
	uint8_t *rec;			/* SPOOL_RECORD_MAX */
	bool connected;			/* CONNACK 0 received */
	bool broken;			/* the connection ended: start over */
	bool was_up;			/* for logging changes only */
	bool spool_full_logged;
	bool lib_init;
	bool tls;			/* a CA is configured */
	char lib_error[256];		/* libmosquitto's last error line */
	char last_why[320];		/* the last failure logged */
	int64_t attempt_at;		/* ms, CLOCK_MONOTONIC */
	int64_t connect_started;
	int backoff;			/* ms */
	struct {
		int mid;
		uint64_t seq;
	} inflight[MQTT_WINDOW];
	size_t ninflight;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The MQTT topic of a CoAP topic: its length, or -1 if it cannot be one. */
static int mqtt_topic(const char *prefix, const char *coap, size_t coap_len,
		      char out[MQTT_TOPIC_MAX])
{
	size_t plen = prefix ? strlen(prefix) : 0;
	int n;

	while (plen && prefix[plen - 1] == '/')
		plen--;
	if (coap_len && coap[0] == '/') {
		coap++;
		coap_len--;
	}
	if (plen)
		n = snprintf(out, MQTT_TOPIC_MAX, "%.*s/%.*s", (int)plen, prefix,
			     (int)coap_len, coap);
	else
		n = snprintf(out, MQTT_TOPIC_MAX, "%.*s", (int)coap_len, coap);
	if (n <= 0 || n >= MQTT_TOPIC_MAX ||
	    mosquitto_pub_topic_check2(out, n) != MOSQ_ERR_SUCCESS ||
	    mosquitto_validate_utf8(out, n) != MOSQ_ERR_SUCCESS)
		return -1;
	return n;
}

static void schedule_attempt(struct mqtt_sink *m)
{
	m->attempt_at = now_ms() + m->backoff;
	m->backoff = m->backoff * 2 > MQTT_BACKOFF_MAX ? MQTT_BACKOFF_MAX :
							  m->backoff * 2;
}

/* A message without its final '.' (libmosquitto ends its own with one). */
static int msg_len(const char *s)
{
	size_t n = strlen(s);

	return n && s[n - 1] == '.' ? (int)n - 1 : (int)n;
}

static void connection_end(struct mqtt_sink *m, const char *what)
{
	const char *lib = m->lib_error, *hint = "";
	char why[sizeof(m->last_why)];

	/* What libmosquitto said (OpenSSL's reason for a TLS failure). */
	if (!strncmp(lib, "Error: ", 7))
		lib += 7;
	if (strstr(lib, "certificate verify failed"))
		hint = " (the broker's certificate is not from a CA of mqtt-cafile/mqtt-capath)";
	else if (strstr(lib, "host name verification failed"))
		hint = " (the broker's certificate does not name mqtt-host)";
	snprintf(why, sizeof(why), "%.*s%s%.*s%s", msg_len(what), what,
		 *lib ? ": " : "", msg_len(lib), lib, hint);
	m->lib_error[0] = '\0';
	if (m->mosq) {
		mosquitto_destroy(m->mosq);
		m->mosq = NULL;
	}
	/* Once per change: a broker away for hours is not a line a try. */
	if (m->was_up || !m->attempt_at || strcmp(why, m->last_why))
		coapd_log(LOG_WARNING, "mqtt: %s:%u: %s (messages stay in the spool: %llu pending); retrying",
			  m->cfg->mqtt_host, m->cfg->mqtt_port, why,
			  (unsigned long long)spool_pending(m->spool));
	else
		coapd_log(LOG_DEBUG, "mqtt: %s:%u: %s", m->cfg->mqtt_host,
			  m->cfg->mqtt_port, why);
	snprintf(m->last_why, sizeof(m->last_why), "%s", why);
	m->was_up = false;
	m->connected = false;
	m->broken = false;
	/* What was sent and not acknowledged goes out again next time. */
	m->ninflight = 0;
	spool_rewind(m->spool);
	schedule_attempt(m);
}

/* Publish spooled records while the window has room. */
static void pump(struct mqtt_sink *m)
{
	char topic[MQTT_TOPIC_MAX];
	uint16_t tlen;
	uint64_t seq, id;
	size_t len;
	int err, mid, n;

	while (m->connected && !m->broken && m->ninflight < MQTT_WINDOW) {
		err = spool_next(m->spool, m->rec, SPOOL_RECORD_MAX, &len, &seq);
		if (err == -EIO)
			continue;	/* damaged on disk: logged, skipped */
		if (err)
			return;		/* -ENOENT: all sent */
		memcpy(&id, m->rec, sizeof(id));
		memcpy(&tlen, m->rec + 8, sizeof(tlen));
		n = len >= REC_HDR && tlen <= len - REC_HDR ?
			mqtt_topic(m->cfg->mqtt_prefix,
				   (const char *)m->rec + REC_HDR, tlen, topic) :
			-1;
		if (n < 0) {
			/* Only a damaged spool gets here (checked when spooled). */
			coapd_log(LOG_ERR, "mqtt: spool record %llu is not a message: dropped",
				  (unsigned long long)seq);
			spool_ack(m->spool, seq);
			continue;
		}
		err = mosquitto_publish(m->mosq, &mid, topic,
					len - REC_HDR - tlen,
					m->rec + REC_HDR + tlen, 1, false);
		if (err != MOSQ_ERR_SUCCESS) {
			/* Sent again after the reconnect. */
			m->broken = true;
			coapd_log(LOG_WARNING, "mqtt: publish: %s",
				  mosquitto_strerror(err));
			return;
		}
		m->inflight[m->ninflight].mid = mid;
		m->inflight[m->ninflight].seq = seq;
		m->ninflight++;
		coapd_log(LOG_DEBUG, "mqtt: published message %llu as %s (mid %d)",
			  (unsigned long long)id, topic, mid);
	}
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt_sink *m = obj;

	if (rc) {
		coapd_log(LOG_ERR, "mqtt: %s:%u refused the connection: %s",
			  m->cfg->mqtt_host, m->cfg->mqtt_port,
			  mosquitto_connack_string(rc));
		m->broken = true;
		return;
	}
	coapd_log(LOG_NOTICE, "mqtt: connected to %s:%u%s as %s; %llu messages in the spool",
		  m->cfg->mqtt_host, m->cfg->mqtt_port,
		  m->tls ? " (TLS, broker verified)" : "", m->client_id,
		  (unsigned long long)spool_pending(m->spool));
	m->connected = true;
	m->last_why[0] = '\0';
	m->was_up = true;
	m->backoff = MQTT_BACKOFF_MIN;
	pump(m);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt_sink *m = obj;

	/* Torn down after libmosquitto returns, not from inside it. */
	m->broken = true;
}

/* The broker acknowledged mid: its record leaves the spool. */
static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct mqtt_sink *m = obj;
	size_t i;

	for (i = 0; i < m->ninflight && m->inflight[i].mid != mid; i++)
		;
	if (i == m->ninflight) {
		coapd_log(LOG_WARNING, "mqtt: PUBACK for unknown mid %d", mid);
		return;
	}
	if (spool_ack(m->spool, m->inflight[i].seq))
		coapd_log(LOG_WARNING, "mqtt: PUBACK for a record not outstanding");
	m->inflight[i] = m->inflight[--m->ninflight];
	if (m->spool_full_logged && spool_room(m->spool, SPOOL_RECORD_MAX)) {
		m->spool_full_logged = false;
		coapd_log(LOG_NOTICE, "mqtt: spool has room again");
	}
	pump(m);
}

/*
 * libmosquitto's own error lines: the first of an attempt is kept for the
 * line that ends it (a TLS failure's reason is only said here).
 */
static void on_log(struct mosquitto *mosq, void *obj, int level,
		   const char *str)
{
	struct mqtt_sink *m = obj;

	if (level & MOSQ_LOG_ERR) {
		if (!m->lib_error[0])
			snprintf(m->lib_error, sizeof(m->lib_error), "%s", str);
		coapd_log(LOG_DEBUG, "mqtt: libmosquitto: %s", str);
	}
}

/*
 * TLS: the broker's certificate must chain to the configured CA and name
 * mqtt-host (libmosquitto checks the name unless told it is insecure, which
 * coapd never does).
 */
static int tls_setup(struct mqtt_sink *m)
{
	const struct coapd_config *cfg = m->cfg;
	int err;

	err = mosquitto_tls_set(m->mosq, cfg->mqtt_cafile, cfg->mqtt_capath,
				cfg->mqtt_certfile, cfg->mqtt_keyfile, NULL);
	if (err == MOSQ_ERR_SUCCESS)
		/* 1: SSL_VERIFY_PEER; the library's TLS versions and ciphers. */
		err = mosquitto_tls_opts_set(m->mosq, 1, NULL, NULL);
	if (err == MOSQ_ERR_SUCCESS)
		err = mosquitto_tls_insecure_set(m->mosq, false);
	return err;
}

static void attempt(struct mqtt_sink *m)
{
	int err;

	m->mosq = mosquitto_new(m->client_id, true, m);
	if (!m->mosq) {
		connection_end(m, "out of memory");
		return;
	}
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_publish_callback_set(m->mosq, on_publish);
	mosquitto_log_callback_set(m->mosq, on_log);
	if (m->tls) {
		err = tls_setup(m);
		if (err != MOSQ_ERR_SUCCESS) {
			connection_end(m, err == MOSQ_ERR_INVAL ?
				       "TLS: a CA, certificate or key file cannot be read" :
				       mosquitto_strerror(err));
			return;
		}
	}
	if (m->cfg->mqtt_username &&
	    mosquitto_username_pw_set(m->mosq, m->cfg->mqtt_username,
				      m->password) != MOSQ_ERR_SUCCESS) {
		connection_end(m, "out of memory");
		return;
	}
	m->connect_started = now_ms();
	/* Non-blocking: the TCP connect completes in the poll loop. */
	err = mosquitto_connect_async(m->mosq, m->cfg->mqtt_host,
				      m->cfg->mqtt_port, MQTT_KEEPALIVE);
	if (err != MOSQ_ERR_SUCCESS)
		connection_end(m, err == MOSQ_ERR_ERRNO ? strerror(errno) :
				  mosquitto_strerror(err));
}

void mqtt_sink_pollfd(struct mqtt_sink *m, struct pollfd *p, int *timeout)
{
	if (m->mosq && mosquitto_socket(m->mosq) >= 0) {
		p->fd = mosquitto_socket(m->mosq);
		p->events = POLLIN;
		if (mosquitto_want_write(m->mosq))
			p->events |= POLLOUT;
	}
	if (*timeout < 0 || *timeout > MQTT_TICK)
		*timeout = MQTT_TICK;
}

void mqtt_sink_events(struct mqtt_sink *m, short revents)
{
	int rc = MOSQ_ERR_SUCCESS;

	if (m->mosq && !m->broken) {
		if (revents & (POLLIN | POLLERR | POLLHUP))
			rc = mosquitto_loop_read(m->mosq, 1);
		if (rc == MOSQ_ERR_SUCCESS && (revents & POLLOUT))
			rc = mosquitto_loop_write(m->mosq, 1);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_loop_misc(m->mosq);
		if (rc != MOSQ_ERR_SUCCESS)
			m->broken = true;
		if (!m->connected && !m->broken &&
		    now_ms() - m->connect_started > MQTT_CONNECT_TIMEOUT)
			connection_end(m, "connect timed out");
	}
	if (m->mosq && m->broken)
		connection_end(m, rc == MOSQ_ERR_ERRNO && errno ?
				  strerror(errno) : rc != MOSQ_ERR_SUCCESS ?
				  mosquitto_strerror(rc) : "connection lost");
	if (!m->mosq && now_ms() >= m->attempt_at)
		attempt(m);
	pump(m);
}

int mqtt_sink_accept(struct mqtt_sink *m, const struct coapd_message *msg)
{
	char topic[MQTT_TOPIC_MAX];
	size_t tlen = strlen(msg->topic);
	uint16_t t16 = tlen;
	size_t len = REC_HDR + tlen + msg->payload_len;
	int err;

	if (tlen > MQTT_TOPIC_MAX ||
	    mqtt_topic(m->cfg->mqtt_prefix, msg->topic, tlen, topic) < 0) {
		coapd_log(LOG_ERR, "mqtt: message %llu: topic %s is not a valid MQTT topic: not published",
			  (unsigned long long)msg->id, msg->topic);
		return -EINVAL;
	}
	if (len > SPOOL_RECORD_MAX) {
		coapd_log(LOG_ERR, "mqtt: message %llu: %zu bytes, more than the spool takes: not published",
			  (unsigned long long)msg->id, len);
		return -EMSGSIZE;
	}
	if (!spool_room(m->spool, len)) {
		if (!m->spool_full_logged)
			coapd_log(LOG_WARNING, "mqtt: spool %s full (%llu bytes, %llu messages): not accepting messages until the broker takes some",
				  m->cfg->spool_dir,
				  (unsigned long long)spool_used(m->spool),
				  (unsigned long long)spool_pending(m->spool));
		m->spool_full_logged = true;
		return -EAGAIN;
	}
	memcpy(m->rec, &msg->id, sizeof(msg->id));
	memcpy(m->rec + 8, &t16, sizeof(t16));
	memcpy(m->rec + REC_HDR, msg->topic, tlen);
	memcpy(m->rec + REC_HDR + tlen, msg->payload, msg->payload_len);
	err = spool_append(m->spool, m->rec, len);
	if (err) {
		coapd_log(LOG_ERR, "mqtt: spool %s: append: %s; trying again",
			  m->cfg->spool_dir, strerror(-err));
		return -EAGAIN;
	}
	pump(m);
	return 0;
}

static char *read_password(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		coapd_log(LOG_ERR, "mqtt: password file %s: %s", path,
			  strerror(errno));
		return NULL;
	}
	n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		coapd_log(LOG_ERR, "mqtt: password file %s is empty", path);
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = 0;
	return line;
}

static void log_spool(int prio, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	coapd_log(prio, "%s", buf);
}

int mqtt_sink_open(const struct coapd_config *cfg, struct mqtt_sink **mp)
{
	struct spool_params sp = {
		.dir = cfg->spool_dir, .max_bytes = cfg->spool_max_bytes,
		.sync = cfg->fsync, .log = log_spool,
	};
	char host[64] = "";
	struct mqtt_sink *m;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m)
		goto nomem;
	*mp = m;
	m->cfg = cfg;
	m->tls = cfg->mqtt_cafile || cfg->mqtt_capath;
	m->backoff = MQTT_BACKOFF_MIN;
	m->rec = malloc(SPOOL_RECORD_MAX);
	if (!m->rec)
		goto nomem;
	if (cfg->mqtt_client_id) {
		m->client_id = strdup(cfg->mqtt_client_id);
	} else {
		gethostname(host, sizeof(host) - 1);
		if (asprintf(&m->client_id, "coapd-%s", host) < 0)
			m->client_id = NULL;
	}
	if (!m->client_id)
		goto nomem;
	if (cfg->mqtt_password_file) {
		m->password = read_password(cfg->mqtt_password_file);
		if (!m->password)
			return -EINVAL;
	}
	err = spool_open(&sp, &m->spool);
	if (err) {
		coapd_log(LOG_ERR, "mqtt: spool %s: %s", cfg->spool_dir,
			  err == -EWOULDBLOCK ? "in use by another process" :
			  strerror(-err));
		return err;
	}
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		coapd_log(LOG_ERR, "mqtt: libmosquitto did not initialise");
		return -EIO;
	}
	m->lib_init = true;
	coapd_log(LOG_INFO, "mqtt: broker %s:%u%s, topic prefix '%s', spool %s (%llu messages, %llu of %llu bytes)",
		  cfg->mqtt_host, cfg->mqtt_port,
		  !m->tls ? "" : cfg->mqtt_certfile ?
		  " (TLS, client certificate)" : " (TLS)",
		  cfg->mqtt_prefix ? cfg->mqtt_prefix : "", cfg->spool_dir,
		  (unsigned long long)spool_pending(m->spool),
		  (unsigned long long)spool_used(m->spool),
		  (unsigned long long)cfg->spool_max_bytes);
	/* The first attempt at the first tick (attempt_at 0: logged). */
	return 0;

nomem:
	coapd_log(LOG_ERR, "out of memory");
	return -ENOMEM;
}

void mqtt_sink_close(struct mqtt_sink *m)
{
	if (!m)
		return;
	if (m->mosq) {
		if (m->connected)
			mosquitto_disconnect(m->mosq);
		mosquitto_destroy(m->mosq);
	}
	if (m->lib_init)
		mosquitto_lib_cleanup();
	spool_close(m->spool);
	if (m->password) {
		explicit_bzero(m->password, strlen(m->password));
		free(m->password);
	}
	free(m->client_id);
	free(m->rec);
	free(m);
}
