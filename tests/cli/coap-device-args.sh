#!/bin/bash
# coap-device's argument handling on the host, as TAP: --help exits 0,
# usage errors exit 1 with a message on stderr, and a gateway that is not
# there is exit 3 (ICMP port unreachable on loopback), not a hang. No kernel
# and no coapd needed.
#   tests/cli/coap-device-args.sh [COAP_DEVICE]
set -u
cd "$(dirname "$0")/../.." || exit 1
dev=${1:-build/coap-device}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0

echo "TAP version 13"
echo "1..12"
ok() { # status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		sed 's/^/# /' "$tmp/out" "$tmp/err" 2>/dev/null
	fi
}
run() { # ARGS...: run it, keep stdout/stderr, set $rc
	timeout 60 "$dev" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

run --help
[ $rc = 0 ] && grep -q '^SYNOPSIS' "$tmp/out"
ok $? "--help exits 0 with a manual on stdout"

id="--pk pk1 --dn dn1 --secret s"
for args in "" "$id" "$id frob" "$id auth run" "--pk pk1 --secret s auth" \
	"--pk pk1 --dn dn1 auth" "$id --cipher des auth" "$id -p 70000 auth" \
	"$id --count 0 run" "$id --secret-file /nonexistent auth"; do
	# shellcheck disable=SC2086
	run $args
	[ $rc = 1 ] && [ -s "$tmp/err" ]
	ok $? "usage error exits 1 with a message: '${args:-no arguments}'"
done

# A UDP port with nobody on it: one the kernel just handed out and took back.
free=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086
run -p "$free" $id auth
[ $rc = 3 ]
ok $? "no gateway: exit 3 ($rc), no hang"
exit 0
