// SPDX-License-Identifier: GPL-2.0
/*
 * coapd: options, sockets, the kernel module's attachments and the poll loop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "coapd.h"

/* Netlink receive buffer of the consumer: room for bursts of deliveries. */
#define COAPD_CONSUMER_RCVBUF	(4 << 20)

static bool log_syslog;
static int log_level = LOG_INFO;

void coapd_log_init(bool to_syslog, int level)
{
	log_syslog = to_syslog;
	log_level = level;
	if (to_syslog)
		openlog("coapd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void coapd_log(int prio, const char *fmt, ...)
{
	static const char * const names[] = {
		"emerg", "alert", "crit", "error", "warning", "notice", "info",
		"debug",
	};
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		fprintf(stderr, "coapd: %s: ", names[prio & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

const char *coapd_redact(const char *token, char out[COAPD_REDACT_LEN])
{
	snprintf(out, COAPD_REDACT_LEN, "%.6s\u2026", token);
	return out;
}

const char *coapd_addr_str(const struct sockaddr *sa, socklen_t len,
			   char out[COAPD_ADDR_LEN])
{
	const struct sockaddr_in6 *a6 = (const void *)sa;
	const struct sockaddr_in *a4 = (const void *)sa;
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET && len >= sizeof(*a4) &&
	    inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip)))
		snprintf(out, COAPD_ADDR_LEN, "%s:%u", ip, ntohs(a4->sin_port));
	else if (sa->sa_family == AF_INET6 && len >= sizeof(*a6) &&
		 inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip)))
		snprintf(out, COAPD_ADDR_LEN, "[%s]:%u", ip,
			 ntohs(a6->sin6_port));
	else
		snprintf(out, COAPD_ADDR_LEN, "?");
	return out;
}

/* SOCKET_ATTACH or SOCKET_DETACH of the UDP socket fd. */
static int socket_cmd(struct coapd *d, uint8_t cmd, int fd)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;

	nlh = coap_nl_request(&d->nl, buf, cmd, 0);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_SOCKET_FD, fd);
	return coap_nl_talk(&d->nl, nlh, NULL, NULL);
}

/*
 * A UDP socket of family on the port, attached to the module and bound to
 * the wildcard address. Returns the fd, -EAFNOSUPPORT when the kernel has
 * no such family (IPv6 compiled out or disabled: run on IPv4 alone), or
 * another negative errno.
 */
static int udp_open(struct coapd *d, int family)
{
	struct sockaddr_in6 a6 = {
		.sin6_family = AF_INET6, .sin6_port = htons(d->cfg.port),
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	struct sockaddr_in a4 = {
		.sin_family = AF_INET, .sin_port = htons(d->cfg.port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	const char *name = family == AF_INET ? "IPv4" : "IPv6";
	int fd, one = 1, err;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The IPv4 socket takes IPv4; mapped addresses would collide. */
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto err_errno;
	if (coapd_udp_pktinfo(fd, family))
		goto err_errno;
	/*
	 * Attach first, bind then: a socket receives nothing before it is
	 * bound, so every datagram it ever gets passes the module. Bound
	 * first, a publish arriving before the attach would reach us with a
	 * token only the kernel knows, and its 4.01 would send the device
	 * to /auth for nothing (a restart under traffic). The module takes
	 * an unbound socket: it answers from the datagram's own addresses.
	 */
	err = d->user ? 0 : socket_cmd(d, COAP_OFFLOAD_CMD_SOCKET_ATTACH, fd);
	if (err) {
		coapd_log(LOG_ERR, "%s UDP port %u: attach to the module: %s%s%s",
			  name, d->cfg.port, strerror(-err),
			  d->nl.error[0] ? ": " : "", d->nl.error);
		goto err_close;
	}
	if (family == AF_INET ? bind(fd, (struct sockaddr *)&a4, sizeof(a4)) :
				bind(fd, (struct sockaddr *)&a6, sizeof(a6))) {
		err = -errno;
		coapd_log(LOG_ERR, "%s UDP port %u: bind: %s", name,
			  d->cfg.port, strerror(-err));
		/* Closing it detaches it. */
		goto err_close;
	}
	coapd_log(LOG_INFO, "%s UDP port %u %s", name, d->cfg.port,
		  d->user ? "open (no offload)" : "attached");
	return fd;

err_errno:
	err = -errno;
err_close:
	close(fd);
	return err;
}

/* The module's limits that the configuration sets (unset ones stay). */
static int module_config(struct coapd *d)
{
	char buf[COAP_NL_BUF_SIZE];
	struct nlmsghdr *nlh;
	int err;

	if (!d->cfg.max_sessions)
		return 0;
	nlh = coap_nl_request(&d->nl, buf, COAP_OFFLOAD_CMD_CONFIG_SET, 0);
	mnl_attr_put_u32(nlh, COAP_OFFLOAD_A_MAX_SESSIONS, d->cfg.max_sessions);
	err = coap_nl_talk(&d->nl, nlh, NULL, NULL);
	if (err)
		coapd_log(LOG_ERR, "set the module's max-sessions: %s%s%s",
			  strerror(-err), d->nl.error[0] ? ": " : "",
			  d->nl.error);
	return err;
}

static int consumer_open(struct coapd *d)
{
	int rcvbuf = COAPD_CONSUMER_RCVBUF, one = 1, fd, err;

	err = coap_nl_open(&d->consumer);
	if (err)
		return err;
	fd = mnl_socket_get_fd(d->consumer.nl);
	/* FORCE (root) may exceed rmem_max; fall back to the capped size. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/*
	 * The module holds what it delivers until we confirm it: a full
	 * socket loses nothing, so it is no error to report.
	 */
	if (setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one)))
		return -errno;
	/* Several messages per datagram: one wakeup and read for many. */
	err = coap_nl_consumer_register_batch(&d->consumer, true,
					      COAPD_CONSUMER_BATCH);
	if (err == -EINVAL) {
		/* A module without batches: one message per datagram. */
		coapd_log(LOG_NOTICE, "consumer: the module does not batch messages (%s)",
			  d->consumer.error[0] ? d->consumer.error :
			  strerror(-err));
		err = coap_nl_consumer_register(&d->consumer, true);
	}
	if (err)
		return err;
	/* From here on it is only read, from the poll loop. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		return -errno;
	return 0;
}

static int signals_open(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * --no-offload: no module at all, publishes are served by userpath.c. Its
 * sessions live in the daemon: nothing to persist or reconcile.
 */
static int user_open(struct coapd *d)
{
	d->user = coapd_user_new(d->cfg.max_sessions ? d->cfg.max_sessions :
				 COAPD_MAX_SESSIONS, d->cfg.idle_timeout);
	if (!d->user) {
		coapd_log(LOG_ERR, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The module: its limits set, coapd registered as its consumer, and the
 * persisted sessions reconciled with its table.
 */
static int module_open(struct coapd *d)
{
	int err;

	err = coap_nl_open(&d->nl);
	if (err) {
		/*
		 * No silent fallback to --no-offload: a gateway sized for the
		 * kernel path must not quietly run at user-space speed.
		 */
		coapd_log(LOG_ERR, "generic netlink family %s: %s",
			  COAP_OFFLOAD_GENL_NAME,
			  err == -ENOENT ? "not found (is coap_offload.ko loaded? --no-offload runs without it)" :
			  strerror(-err));
		return -1;
	}
	if (module_config(d))
		return -1;
	/*
	 * Register the consumer before the sockets are attached, so that no
	 * publish finds the module without one.
	 */
	err = consumer_open(d);
	if (!err)
		err = coapd_consumer_start(d);
	if (err) {
		coapd_log(LOG_ERR, "register as the consumer: %s%s%s",
			  strerror(-err), d->consumer.error[0] ? ": " : "",
			  d->consumer.error);
		return -1;
	}
	/*
	 * Then the stored sessions, so that a restored device's publishes
	 * find their session once the sockets are attached (before, they
	 * are refused by the kernel with an ICMP and retransmitted).
	 */
	err = coapd_persist_open(d);
	if (err) {
		coapd_log(LOG_ERR, "sessions: the module's events group: %s",
			  strerror(-err));
		return -1;
	}
	return coapd_persist_resync(d) ? -1 : 0;
}

static int setup(struct coapd *d)
{
	char errmsg[256] = "";
	int err = 0;

	if (coapd_sinks_open(d))
		return -1;
	/* The daemon reads; coapctl creates the registry and adds devices. */
	d->reg = coap_registry_open(d->cfg.registry_path, false, &err, errmsg,
				    sizeof(errmsg));
	if (!d->reg) {
		/* The registry's message names the file already. */
		if (errmsg[0])
			coapd_log(LOG_ERR, "registry: %s", errmsg);
		else
			coapd_log(LOG_ERR, "registry %s: %s",
				  d->cfg.registry_path, strerror(-err));
		return -1;
	}
	d->cache = coapd_cache_new();
	d->confirm = coapd_confirm_new();
	if (!d->cache || !d->confirm) {
		coapd_log(LOG_ERR, "out of memory");
		return -1;
	}
	if (d->cfg.auth_fail_burst) {
		d->auth_fail_source = ratelimit_new(d->cfg.auth_fail_entries,
						    d->cfg.auth_fail_burst,
						    d->cfg.auth_fail_rate);
		d->auth_fail_device = ratelimit_new(d->cfg.auth_fail_entries,
						    d->cfg.auth_fail_burst,
						    d->cfg.auth_fail_rate);
		if (!d->auth_fail_source || !d->auth_fail_device) {
			coapd_log(LOG_ERR, "auth failure limits: %s",
				  strerror(errno));
			return -1;
		}
	}
	if (d->cfg.no_offload ? user_open(d) : module_open(d))
		return -1;
	d->udp4 = udp_open(d, AF_INET);
	if (d->udp4 < 0)
		return -1;
	d->udp6 = udp_open(d, AF_INET6);
	if (d->udp6 == -EAFNOSUPPORT)
		coapd_log(LOG_WARNING, "no IPv6 in this kernel: IPv4 only");
	else if (d->udp6 < 0)
		return -1;
	if (coapd_dtls_open(d))
		return -1;
	d->sig_fd = signals_open();
	if (d->sig_fd < 0) {
		coapd_log(LOG_ERR, "signalfd: %s", strerror(-d->sig_fd));
		return -1;
	}
	return 0;
}

static void teardown(struct coapd *d)
{
	/* First: the last seqs are read back from the kernel. */
	coapd_persist_close(d);
	/*
	 * Detached from the module first, so that nothing more arrives; the
	 * kernel keeps its sessions, so that a restarted daemon's devices need
	 * no new /auth. The sockets stay open for the drain below: ackMode 1's
	 * separate responses to what it delivers leave from them (once: nobody
	 * is left to retransmit them).
	 */
	if (!d->user) {
		if (d->udp4 >= 0)
			socket_cmd(d, COAP_OFFLOAD_CMD_SOCKET_DETACH, d->udp4);
		if (d->udp6 >= 0)
			socket_cmd(d, COAP_OFFLOAD_CMD_SOCKET_DETACH, d->udp6);
	}
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	coapd_dtls_close(d);
	/* Detached: nothing more arrives; what is queued goes to the sinks. */
	if (d->consumer.nl && d->sinks)
		coapd_sinks_drain(d);
	if (d->udp4 >= 0)
		close(d->udp4);
	if (d->udp6 >= 0)
		close(d->udp6);
	d->udp4 = d->udp6 = -1;
	coap_nl_close(&d->consumer);
	coap_nl_close(&d->nl);
	coapd_cache_free(d->cache);
	ratelimit_free(d->auth_fail_source);
	ratelimit_free(d->auth_fail_device);
	coapd_user_free(d->user);
	coapd_confirm_free(d->confirm);
	if (d->reg)
		coap_registry_close(d->reg);
	coapd_sinks_close(d);
	coapd_config_free(&d->cfg);
}

/* SIGINT/SIGTERM: true when the daemon should stop. */
static bool signal_input(struct coapd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
			coapd_log(LOG_NOTICE, "signal %u: exiting", si.ssi_signo);
			return true;
		}
	}
	return false;
}

/* --no-offload has no `coapctl stats`: its counters go to the log. */
static void user_stats_log(const struct coapd *d)
{
	const struct coapd_user_stats *st = coapd_user_stats(d->user);

	coapd_log(LOG_INFO, "no-offload: %zu sessions; rx %llu passed %llu delivered %llu retransmits %llu replays %llu decrypt_errors %llu forbidden %llu no_consumer %llu tx_errors %llu expired %llu",
		  coapd_user_session_count(d->user),
		  (unsigned long long)st->rx, (unsigned long long)st->passed,
		  (unsigned long long)st->delivered,
		  (unsigned long long)st->retransmits,
		  (unsigned long long)st->replays,
		  (unsigned long long)st->decrypt_errors,
		  (unsigned long long)st->forbidden,
		  (unsigned long long)st->no_consumer,
		  (unsigned long long)st->tx_errors,
		  (unsigned long long)st->expired);
}

static void udp_input(struct coapd *d, int fd)
{
	if (d->user)
		coapd_user_input(d, fd);
	else
		coapd_udp_input(d, fd);
}

static int run(struct coapd *d)
{
	enum { P_SIG, P_CONSUMER, P_UDP4, P_UDP6, P_DTLS, P_EVENTS, P_TICK,
	       P_MQTT, P_N };
	/* A negative fd (no consumer, no IPv6) is ignored by poll(). */
	int consumer_fd = d->consumer.nl ? mnl_socket_get_fd(d->consumer.nl) :
					   -1;
	struct pollfd pfd[P_N] = {
		[P_SIG] = { .fd = d->sig_fd, .events = POLLIN },
		[P_CONSUMER] = { .fd = consumer_fd, .events = POLLIN },
		[P_UDP4] = { .fd = d->udp4, .events = POLLIN },
		[P_UDP6] = { .fd = d->udp6, .events = POLLIN },
		/* libcoap's epoll fd: its sockets and its timers. */
		[P_DTLS] = { .fd = coapd_dtls_fd(d), .events = POLLIN },
		[P_EVENTS] = { .fd = d->events.nl ?
			       mnl_socket_get_fd(d->events.nl) : -1,
			       .events = POLLIN },
		[P_TICK] = { .fd = d->persist_tick_fd, .events = POLLIN },
	};
	int timeout, ct;

	for (;;) {
		/* A sink that cannot take a message: stop reading (sink.c). */
		pfd[P_CONSUMER].fd = coapd_accepting(d) ? consumer_fd : -1;
		/* --no-offload expires its own sessions. */
		timeout = d->user ? coapd_user_tick(d->user) : -1;
		coapd_sinks_pollfd(d, &pfd[P_MQTT], &timeout);
		/* Separate responses due for retransmission wake us up. */
		ct = coapd_confirm_timeout(d);
		if (ct >= 0 && (timeout < 0 || ct < timeout))
			timeout = ct;
		if (poll(pfd, P_N, timeout) < 0) {
			if (errno == EINTR)
				continue;
			coapd_log(LOG_ERR, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[P_SIG].revents && signal_input(d))
			return 0;
		coapd_sinks_events(d, pfd[P_MQTT].revents);
		/* Deliveries first: they are already acknowledged to devices. */
		if (pfd[P_CONSUMER].revents && coapd_consumer_input(d) < 0)
			return -1;
		if (pfd[P_UDP4].revents)
			udp_input(d, d->udp4);
		if (pfd[P_UDP6].revents)
			udp_input(d, d->udp6);
		if (pfd[P_DTLS].revents)
			coapd_dtls_input(d);
		if (pfd[P_EVENTS].revents && coapd_persist_events_input(d))
			return -1;
		if (pfd[P_TICK].revents) {
			coapd_dtls_tick(d);
			if (coapd_persist_tick(d))
				return -1;
		}
		coapd_confirm_tick(d);
	}
}

int main(int argc, char **argv)
{
	struct coapd d = {
		.udp4 = -1, .udp6 = -1, .sig_fd = -1, .persist_tick_fd = -1,
	};
	int ret = 1;

	if (coapd_config_load(&d.cfg, argc, argv)) {
		coapd_config_free(&d.cfg);
		return 1;
	}
	if (d.cfg.check_only) {
		coapd_config_print(&d.cfg, stdout);
		coapd_config_free(&d.cfg);
		return 0;
	}
	/* A sink on a pipe whose reader died must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	/* Until it detaches, the daemon's startup errors reach the terminal. */
	coapd_log_init(d.cfg.foreground &&
		       d.cfg.log_target == COAPD_LOG_SYSLOG, d.cfg.log_level);
	if (setup(&d))
		goto out;
	if (!d.cfg.foreground) {
		/*
		 * Keep stdout when it is the sink (no sink configured), stderr
		 * when it is the log.
		 */
		if (daemon(0, (!d.cfg.sink_path && !d.cfg.mqtt_host) ||
			      d.cfg.log_target == COAPD_LOG_STDERR)) {
			coapd_log(LOG_ERR, "daemon: %s", strerror(errno));
			goto out;
		}
		coapd_log_init(d.cfg.log_target == COAPD_LOG_SYSLOG,
			       d.cfg.log_level);
	}
	coapd_log(LOG_NOTICE, "running: %sport %u, registry %s, sink %s%s%s, default cipher %s, token lifetime %us",
		  d.cfg.no_offload ? "no offload, " : "",
		  d.cfg.port, d.cfg.registry_path,
		  d.cfg.sink_path ? d.cfg.sink_path :
		  d.cfg.mqtt_host ? "mqtt" : "stdout",
		  d.cfg.sink_path && d.cfg.mqtt_host ? " and " : "",
		  d.cfg.sink_path && d.cfg.mqtt_host ? "mqtt" : "",
		  coap_proto_cipher_name(d.cfg.cipher_default),
		  d.cfg.token_lifetime);
	ret = run(&d) ? 1 : 0;
	if (d.user)
		user_stats_log(&d);
out:
	teardown(&d);
	return ret;
}
