#!/bin/bash
# coapctl's argument handling on the host, as TAP: usage errors exit 1 with
# a message on stderr, "help" works at every level and exits 0, and the
# device (registry) commands work end to end on a temporary registry. No
# kernel needed: nothing here reaches netlink.
#   tests/cli/coapctl-args.sh [COAPCTL]
set -u
cd "$(dirname "$0")/../.."
coapctl=${1:-${COAPCTL:-build/coapctl}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
reg=$tmp/registry.db
n=0
failed=0

echo "TAP version 13"

ok() { # status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
		# What it printed, for whoever reads the failure.
		sed 's/^/# /' "$tmp/out" "$tmp/err" 2>/dev/null
	fi
}

run() { # run coapctl ARGS..., keep stdout/stderr, set $rc
	"$coapctl" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# Usage error: exit 1, "coapctl:" and a "Usage:" on stderr, stdout empty.
usage_error() { # description args...
	local desc=$1
	shift
	run "$@"
	[ $rc = 1 ] && grep -q '^coapctl: ' "$tmp/err" && grep -q 'Usage:' "$tmp/err" &&
		[ ! -s "$tmp/out" ]
	ok $? "usage error exits 1: $desc"
}

# help: exit 0, usage text on stdout, nothing on stderr.
help_ok() { # args...
	run "$@"
	[ $rc = 0 ] && grep -q 'Usage:' "$tmp/out" && [ ! -s "$tmp/err" ]
	ok $? "help exits 0: coapctl $*"
}

[ -x "$coapctl" ] || { echo "1..0 # SKIP $coapctl not built"; exit 0; }

usage_error "no object"
usage_error "unknown object" frobnicate
usage_error "unknown option" -x session
usage_error "-p without -j" -p stats
usage_error "-r without path" -r
usage_error "unknown session verb" session frob
usage_error "session add without token" session add device a1PK/dev1 key 00112233445566778899aabbccddeeff
usage_error "session add bad key" session add device a1PK/dev1 token t key 0011
usage_error "session add key and random" session add device a1PK/dev1 token t key 00112233445566778899aabbccddeeff random 1234
usage_error "session add secret without random" session add device a1PK/dev1 token t secret s
usage_error "session add bad cipher" session add device a1PK/dev1 token t key 00112233445566778899aabbccddeeff cipher des
usage_error "session add bad seq-offset" session add device a1PK/dev1 token t key 00112233445566778899aabbccddeeff seq-offset -1
usage_error "session add idle too long" session add device a1PK/dev1 token t key 00112233445566778899aabbccddeeff idle 99999999
usage_error "session add dangling argument" session add device a1PK/dev1 token
usage_error "session show bad device" session show device nodevice
usage_error "session show reserved product key" session show device sys/dev1
usage_error "session del no argument" session del
usage_error "session flush argument" session flush now
usage_error "device unknown verb" device frob
usage_error "device add no identity" device add
usage_error "device add bad identity" device add 'a1PK/dev 1'
usage_error "device add SQL as identity" -r "$reg" device add "a'; DROP TABLE devices;--/x"
usage_error "device add empty secret" -r "$reg" device add a1PK/dev1 secret ''
usage_error "device add control char in secret" -r "$reg" device add a1PK/dev1 secret "$(printf 'a\tb')"
usage_error "device del no identity" device del
usage_error "stats unknown argument" stats frob
usage_error "stats --prometheus with -j" -j stats --prometheus
usage_error "monitor unknown argument" monitor frob
usage_error "monitor --count not a number" monitor --count x
usage_error "config unknown verb" config frob
usage_error "config set nothing" config set
usage_error "config set bad token-alias" config set token-alias maybe
usage_error "config set max-sessions 0" config set max-sessions 0
usage_error "config set rules empty" config set rules
usage_error "socket unknown verb" socket frob
usage_error "socket extra argument" socket show now
usage_error "session rekey without token" session rekey
usage_error "session rekey without key" session rekey tok
usage_error "session rekey with device" session rekey tok device a1PK/dev1 key 00112233445566778899aabbccddeeff
usage_error "session rekey with token" session rekey tok token t2 key 00112233445566778899aabbccddeeff
usage_error "session rekey bad key" session rekey tok key 0011223344556677889900112233445g
usage_error "session rekey key and random" session rekey tok key 00112233445566778899aabbccddeeff random 12
usage_error "session rekey secret without random" session rekey tok secret s
usage_error "session rekey token too long" session rekey "$(printf 'x%.0s' $(seq 65))" key 00112233445566778899aabbccddeeff
usage_error "session rekey huge seq-offset" session rekey tok key 00112233445566778899aabbccddeeff seq-offset 99999999999999999999999
usage_error "session rekey lifetime 0" session rekey tok key 00112233445566778899aabbccddeeff lifetime 0
# Abbreviations: a prefix of two meanings is an error, not a guess.
usage_error "ambiguous session verb (del/device)" session d
usage_error "ambiguous device verb (del/disable)" device d a1PK/dev1
usage_error "ambiguous config verb (show/set)" config s
usage_error "empty monitor argument" monitor ''
usage_error "unknown object abbreviation" x
usage_error "help with two objects" help session device
usage_error "help of an unknown object" help frob

help_ok help
help_ok --help
help_ok session help
help_ok session add help
help_ok device help
help_ok device add help
help_ok stats help
help_ok stats reset help
help_ok monitor help
help_ok socket help
help_ok config help
help_ok config set help
help_ok session rekey help
help_ok help session
help_ok help s
help_ok s help
help_ok se a help
help_ok dev help
help_ok st r help
help_ok mon help
help_ok so help
help_ok c help

# Without the module (the host cannot load it): every kernel verb is a
# kernel error, exit 2, with the reason, whatever the abbreviation.
for args in "s l" "session list" "se li" "st" "so" "c" "c sh" \
	"s fl" "session rekey tok key 00112233445566778899aabbccddeeff" \
	"s del tok" "mon e --count 1" "config set max-sessions 10"; do
	# shellcheck disable=SC2086
	run $args
	[ $rc = 2 ] && grep -q 'module is not loaded' "$tmp/err" && [ ! -s "$tmp/out" ]
	ok $? "no module: 'coapctl $args' exits 2"
done

# The registry commands, end to end.
run -r "$reg" device list
[ $rc = 2 ] && grep -q 'registry' "$tmp/err"
ok $? "device list on a missing registry exits 2"

run -r "$reg" device add a1PK/dev1 secret "a'; DROP TABLE devices;--"
ok $rc "device add with an SQL-looking secret"
run -r "$reg" device add a1PK/dev2
secret=$(sed -n 's|^a1PK/dev2 secret \([A-Za-z0-9]*\)$|\1|p' "$tmp/out")
[ $rc = 0 ] && [ ${#secret} = 32 ]
ok $? "device add generates and prints a 32-character secret"
run -r "$reg" device add b1PK/x generate
ok $rc "device add ... generate"
echo 'from stdin' | "$coapctl" -r "$reg" device add c1PK/in secret - >"$tmp/out" 2>"$tmp/err"
rc=$?
run -r "$reg" -j device list c1PK --show-secrets
[ $rc = 0 ] && python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))[0]["secret"] == "from stdin"
' "$tmp/out" 2>>"$tmp/err"
ok $? "device add ... secret - reads the secret from stdin"
run -r "$reg" device del c1PK/in
run -r "$reg" device add a1PK/dev1 secret other
[ $rc = 2 ] && grep -q 'already exists' "$tmp/err"
ok $? "device add of an existing device exits 2"

run -r "$reg" device list
[ $rc = 0 ] && [ "$(grep -c . "$tmp/out")" = 4 ] && grep -q '^PRODUCT_KEY' "$tmp/out" &&
	! grep -q -e "$secret" -e DROP "$tmp/out"
ok $? "device list: header and three devices, secrets hidden"
run -r "$reg" device list --show-secrets
[ $rc = 0 ] && grep -q -- "$secret" "$tmp/out" && grep -q "DROP TABLE devices;--" "$tmp/out"
ok $? "device list --show-secrets shows them verbatim"
run -r "$reg" d l b1PK
[ $rc = 0 ] && [ "$(grep -c . "$tmp/out")" = 2 ] && grep -q '^b1PK ' "$tmp/out"
ok $? "device list PK filters (as \"d l\")"

run -r "$reg" device disable a1PK/dev1
ok $rc "device disable"
run -r "$reg" -j device
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [x["device_name"] for x in d] == ["dev1", "dev2", "x"], d
assert d[0]["enabled"] is False and d[1]["enabled"] is True, d
assert all("secret" not in x for x in d), d
assert all(sorted(x) == ["created", "device_name", "enabled", "product_key"] for x in d), d
' "$tmp/out" 2>>"$tmp/err"
ok $? "-j device: valid JSON, stable keys, no secrets, disable took"
run -r "$reg" -j -p device list --show-secrets
python3 -c '
import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
assert "\n  " in text
assert d[0]["secret"] == "a'"'"'; DROP TABLE devices;--", d
' "$tmp/out" 2>>"$tmp/err"
ok $? "-j -p: indented JSON, the SQL-looking secret stored verbatim"
run -r "$reg" device enable a1PK/dev1
ok $rc "device enable"
run -r "$reg" device enable a1PK/nope
[ $rc = 2 ] && grep -q 'no device' "$tmp/err"
ok $? "device enable of a missing device exits 2"

run -r "$reg" dev del a1PK/dev2
ok $rc "device del (as \"dev del\")"
run -r "$reg" device del a1PK/dev2
[ $rc = 2 ]
ok $? "device del again exits 2"
run -r "$reg" device list
[ $rc = 0 ] && [ "$(grep -c . "$tmp/out")" = 3 ] && ! grep -q 'dev2' "$tmp/out"
ok $? "device list after del"

printf 'not a database, really not, definitely not one\n' >"$tmp/junk.db"
run -r "$tmp/junk.db" device list
[ $rc = 2 ] && [ -s "$tmp/err" ]
ok $? "a file that is not a registry exits 2"

echo "1..$n"
[ $failed = 0 ]
