#!/bin/sh
# Runs inside the test VM (tools/vm/run): load the module, run the KUnit
# module and the kselftest programs, unload. TAP goes to $COAP_VM_OUT.
#   tests/vm/guest-tests.sh MODULE_DIR SELFTEST_DIR
set -u
moddir=$1
stdir=$2
out=${COAP_VM_OUT:?run me through tools/vm/run}
status=0

insmod "$moddir/coap_offload.ko" || exit 1

# KUnit: the suites run when the test module loads. Their KTAP is taken
# from the kernel log: 6.1's debugfs copy keeps only 512 bytes per test and
# cuts parameterised cases short.
dmesg -C
if insmod "$moddir/coap_offload_kunit.ko"; then
	dmesg --notime >"$out/kunit.tap"
	rmmod coap_offload_kunit || status=1
else
	status=1
fi

# The TAP is both shown and kept; the summary judges it, plan included.
run_selftest() {
	[ -x "$1" ] && "$1" 2>&1 | tee -a "$out/kselftest.tap"
}

# lifetime's unload test unloads the module and loads it again from here.
export COAP_OFFLOAD_KO="$moddir/coap_offload.ko"
: >"$out/kselftest.tap"
for t in "$stdir"/*; do
	[ "${t##*/}" = lifetime ] || run_selftest "$t"
done
# The operator's CLI against the loaded module (before lifetime, which
# unloads it); coapctl is built next to the selftests' directory.
coapctl=$stdir/../coapctl
if [ -x "$coapctl" ]; then
	bash "$(dirname "$0")/coapctl.sh" "$coapctl" 2>&1 | tee "$out/coapctl.tap"
else
	echo "no $coapctl: coapctl tier missing"
fi

# A static session (coapctl session add/rekey) against publishes built on
# the host with the openssl CLI (tests/run-all wrote them).
bash "$(dirname "$0")/static-session.sh" check "$stdir/../static-session" \
	"$stdir/.." 2>&1 | tee "$out/static-session.tap"

# End to end: coapd, a test device and libcoap's coap-client over the module
# (before lifetime, which unloads it). Its TAP carries its own plan.
bash "$(dirname "$0")/../e2e/auth_publish.sh" "$stdir/.." 2>&1 | tee "$out/e2e.tap"
# coap-device (libcoap) against coapd: auth, publishes in both suites.
bash "$(dirname "$0")/../e2e/coap-device.sh" "$stdir/.." 2>&1 | tee "$out/coap-device.tap"
# DTLS mode on 5684: a test CA, coap-client-openssl in both modes.
bash "$(dirname "$0")/../e2e/dtls.sh" "$stdir/.." 2>&1 | tee "$out/dtls.tap"
# /auth failure limits per source and per device.
bash "$(dirname "$0")/../e2e/auth_ratelimit.sh" "$stdir/.." 2>&1 |
	tee "$out/auth-ratelimit.tap"
# Restart and persistence: coapd SIGKILLed under traffic, the module
# reloaded under coapd (COAP_OFFLOAD_KO); it leaves the module loaded.
bash "$(dirname "$0")/../e2e/restart.sh" "$stdir/.." 2>&1 | tee "$out/restart.tap"
# coapd killed with messages it had not read: the module held them.
bash "$(dirname "$0")/../e2e/held.sh" "$stdir/.." 2>&1 | tee "$out/held.tap"
# coapd's MQTT sink and spool against a real mosquitto broker.
bash "$(dirname "$0")/../e2e/mqtt.sh" "$stdir/.." 2>&1 | tee "$out/mqtt.tap"
# ackMode 1: the empty ACK, coapd's separate response and its backoff.
bash "$(dirname "$0")/../e2e/ackmode.sh" "$stdir/.." 2>&1 | tee "$out/ackmode.tap"

# The benchmark's every step on a few devices (tools/bench/run --smoke); the
# debug kernel skips it (its VM is near its time limit; kmemleak marks it).
if [ ! -e /sys/kernel/debug/kmemleak ]; then
	bash "$(dirname "$0")/../../tools/bench/run" --smoke "$stdir/.." 2>&1 |
		tee "$out/bench-smoke.tap"
fi

# Last: it tears things down under traffic, the module included.
run_selftest "$stdir/lifetime"

rmmod coap_offload || { echo "rmmod coap_offload failed"; status=1; }
exit $status
