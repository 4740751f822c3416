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

: >"$out/kselftest.tap"
for t in "$stdir"/*; do
	[ -x "$t" ] || continue
	# The TAP is both shown and kept; the summary judges it, plan included.
	"$t" 2>&1 | tee -a "$out/kselftest.tap"
done

rmmod coap_offload || { echo "rmmod coap_offload failed"; status=1; }
exit $status
