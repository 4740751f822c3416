#!/bin/bash
# coap-device's argument handling on the host, as TAP: --help exits 0,
# usage errors (bad options, hostile credentials files, huge counts, bad
# rates and durations) exit 1 with a message on stderr and no hang, a
# gateway that is not there is exit 3 (ICMP port unreachable on loopback),
# and one that never answers is exit 3 after libcoap's retransmissions,
# which are counted. No kernel and no coapd needed.
#   tests/cli/coap-device-args.sh [COAP_DEVICE]
set -u
cd "$(dirname "$0")/../.." || exit 1
dev=${1:-build/coap-device}
tmp=$(mktemp -d)
silent_pid=
trap '[ -n "$silent_pid" ] && kill $silent_pid 2>/dev/null; rm -rf "$tmp"' EXIT

echo "TAP version 13"
. tests/cli/lib.sh
run() { # ARGS...: run it, keep stdout/stderr, set $rc
	timeout 60 "$dev" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
# A usage error: exit 1, "coap-device: WHY" on stderr (WHY matching the
# pattern), nothing on stdout.
usage() { # pattern args...
	local pat=$1
	shift
	run "$@"
	[ $rc = 1 ] && grep -q "^coap-device: .*$pat" "$tmp/err" && [ ! -s "$tmp/out" ]
	ok $? "usage error exits 1 ($pat): '$*'"
}

run --help
[ $rc = 0 ] && grep -q '^SYNOPSIS' "$tmp/out" && grep -q '^EXIT STATUS' "$tmp/out" &&
	grep -q -- '--credentials F' "$tmp/out" && [ ! -s "$tmp/err" ]
ok $? "--help exits 0 with a manual on stdout"

id="--pk pk1 --dn dn1 --secret s"
# shellcheck disable=SC2086
{
usage "a command is needed"
usage "a command is needed" $id
usage "unknown command" $id frob
usage "one command only" $id auth run
usage "--pk and --dn are required" --pk pk1 --secret s auth
usage "a secret is needed" --pk pk1 --dn dn1 auth
usage "unknown cipher" $id --cipher des auth
usage "bad port" $id -p 70000 auth
usage "bad port" $id -p -1 auth
usage "unknown sign method" $id --signmethod sha512 auth
usage "unknown auth format" $id --auth-format xml auth
usage "unknown clientId style" $id --client-id 'pk|dn' auth
usage "bad DTLS mode" $id --dtls tls auth
usage "--dtls cert needs --ca" $id --dtls cert auth
usage "--ca and --server-name are for --dtls cert" $id --dtls psk --ca ca.pem auth
usage "--ca and --server-name are for --dtls cert" $id --server-name gw auth
usage "bad token option" $id --token-option 2089 auth
usage "bad count" $id --count 0 run
usage "bad count" $id --count 10001 run
usage "bad count" $id --count 99999999999999999999999 run
usage "bad count" $id --count -3 run
usage "bad count" $id --count ' 3' run
usage "bad message count" $id --messages 0 run
usage "bad message count" $id --messages 100000001 run
usage "bad rate" $id --rate 0 run
usage "bad rate" $id --rate -1 run
usage "bad rate" $id --rate nan run
usage "bad rate" $id --rate inf run
usage "bad rate" $id --rate 1e6 run
usage "bad rate" $id --rate 10x run
usage "bad rate" $id --rate '' run
usage "bad duration" $id --duration 0 run
usage "bad duration" $id --duration 1e308 run
usage "bad duration" $id --duration -infinity run
usage "bad interval" $id --interval x run
usage "bad ack timeout" $id --ack-timeout 0.5 auth
usage "bad max-retransmit" $id --max-retransmit 11 auth
usage "bad ack mode" $id --ack-mode 2 auth
usage "bad ack mode" $id --ack-mode "" auth
usage "are for run" $id --messages 2 publish
usage "are for run" $id --duration 2 auth
usage "are for publish and run" $id --rate 5 auth
usage "exclude each other" $id --rate 5 --interval 10 run
usage "exclude each other" $id --secret-file /dev/null auth
usage "deviceName is 1..64" --pk pk1 --dn 'bad name' --secret s auth
usage "deviceName is 1..64" --pk pk1 --dn "$(printf 'd%.0s' $(seq 62))" --count 2 --secret s auth
usage "printable ASCII" --pk pk1 --dn dn1 --secret "$(printf 'a\tb')" auth
}

# Hostile files: each a usage error naming the file (and line), quickly.
printf 'pk1/dn1 s\n' >"$tmp/good"
head -c 5000 /dev/zero | tr '\0' x >"$tmp/long"
printf 'pk1/dn1 s\npk1/dn2 \0evil\n' >"$tmp/nul"
printf 'pk1/dn1 s\njust-a-name\n' >"$tmp/noslash"
printf 'pk1/dn1\n' >"$tmp/nosecret"
printf 'pk1/d%%n s\n' >"$tmp/badid"
printf '# only a comment\n\n' >"$tmp/empty"
printf 'pk1/dn1 s\x01cret\n' >"$tmp/ctrl"
for f in /dev/zero /nonexistent "$tmp" "$tmp/long" "$tmp/nul" "$tmp/noslash" \
	"$tmp/nosecret" "$tmp/badid" "$tmp/empty" "$tmp/ctrl"; do
	usage "${f##*/}" --credentials "$f" auth
done
usage ":2: not" --credentials "$tmp/noslash" auth
usage "only 1 devices in the file" --credentials "$tmp/good" --count 2 auth
usage "excludes" --credentials "$tmp/good" --pk pk1 auth
usage "zero: a NUL byte" --pk pk1 --dn dn1 --secret-file /dev/zero auth
usage "long: line too long" --pk pk1 --dn dn1 --secret-file "$tmp/long" auth
usage "nonexistent" --pk pk1 --dn dn1 --secret-file /nonexistent auth

# A UDP port with nobody on it: one the kernel just handed out and took back.
free=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086
run -p "$free" $id auth
[ $rc = 3 ] && grep -q '^auth pk1/dn1: ICMP error' "$tmp/out"
ok $? "no gateway: exit 3 ($rc), no hang"

# The credentials file and --count: 3 devices, all refused by ICMP: each
# /auth tried and reported, exit 3, nothing published.
printf '# three\npk1/a s1\n\n  pk1/b\t s2  \npk1/c s3\npk1/d s4\n' >"$tmp/three"
run -p "$free" --credentials "$tmp/three" --count 3 run
[ $rc = 3 ] && [ "$(grep -c '^auth pk1/[abc]: ICMP error' "$tmp/out")" = 3 ] &&
	! grep -q 'pk1/d' "$tmp/out" &&
	grep -q '^summary: 3 devices (3 /auth failed), 0 sent,' "$tmp/out" &&
	! grep -q -e s1 -e s2 -e s3 "$tmp/out" "$tmp/err"
ok $? "--credentials with --count 3: the first 3 devices, each reported, no secret shown"
# shellcheck disable=SC2086
run -p "$free" --pk pk1 --dn sim --count 12 --secret s -q auth
[ $rc = 3 ] && [ "$(grep -c '^auth pk1/sim-00[01][0-9]: ICMP error' "$tmp/out")" = 12 ] &&
	grep -q '^auth pk1/sim-0012:' "$tmp/out"
ok $? "--count 12: devices sim-0001..sim-0012"

# A gateway that never answers: a socket that does not read. libcoap
# retransmits per RFC 7252 (ACK_TIMEOUT 1 s, MAX_RETRANSMIT 2: 7..10.5 s)
# and gives up; coap-device counts what it retransmitted.
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$tmp/silent.port" &
silent_pid=$!
for _ in $(seq 50); do [ -s "$tmp/silent.port" ] && break; sleep 0.1; done
start=$(date +%s%N)
# shellcheck disable=SC2086
run -p "$(cat "$tmp/silent.port")" $id --ack-timeout 1 --max-retransmit 2 run
took=$((($(date +%s%N) - start) / 1000000))
[ $rc = 3 ] && grep -q '^auth pk1/dn1: no answer after retransmissions$' "$tmp/out" &&
	grep -q ', 2 retransmissions$' "$tmp/out" && [ $took -ge 6500 ] && [ $took -le 15000 ]
ok $? "a silent gateway: exit 3 after 2 counted retransmissions in ${took} ms"

echo "1..$n"
