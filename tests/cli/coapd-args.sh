#!/bin/bash
# coapd's configuration on the host, as TAP: the config file and the flags,
# --check-config, and every kind of bad configuration, which must end coapd
# with exit 1 and one message naming FILE:LINE and the key (or the flag)
# before it opens anything (the sink file and registry a bad config names stay
# absent; no runtime "coapd: error:" line such as netlink's or the registry's),
# the MQTT TLS files (CA, client certificate and key) read and checked too.
# No kernel module needed.
#   tests/cli/coapd-args.sh [COAPD]
set -u
cd "$(dirname "$0")/../.." || exit 1
coapd=$(realpath "${1:-build/coapd}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"
echo "1..65"
. tests/cli/lib.sh
run() { # ARGS...: run coapd, keep stdout/stderr, set $rc
	timeout 20 "$coapd" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
# effective KEY: its value in the last --check-config output
effective() { sed -n "s/^$1 = //p" "$tmp/out"; }

run --help
[ $rc = 0 ] && grep -q -- '--check-config' "$tmp/out" && [ ! -s "$tmp/err" ]
ok $? "--help exits 0 with the usage on stdout"

run -c /dev/null --check-config
[ $rc = 0 ] && [ "$(effective port)" = 5682 ] &&
	[ "$(effective log-level)" = info ] &&
	[ "$(effective log-target)" = syslog ]
ok $? "--check-config with an empty file prints the defaults"

cat >"$tmp/good.conf" <<EOF
# a comment, then a blank line

port = 6000
	registry=$tmp/reg.db
sink-file = $tmp/sink with space.jsonl
fsync = true
foreground = false
cipher-default = aes-128-ctr
token-lifetime = 3600
max-sessions = 1000
log-level = debug
log-target = stderr
auth-fail-burst = 0
auth-fail-rate = 60000
auth-fail-entries = 16777216
EOF
printf 'port = 6001\r\n' >>"$tmp/good.conf"
run -c "$tmp/good.conf" --check-config
[ $rc = 0 ] && [ "$(effective port)" = 6001 ] &&
	[ "$(effective registry)" = "$tmp/reg.db" ] &&
	[ "$(effective sink-file)" = "$tmp/sink with space.jsonl" ] &&
	[ "$(effective fsync)" = true ] && [ "$(effective foreground)" = false ] &&
	[ "$(effective cipher-default)" = aes-128-ctr ] &&
	[ "$(effective token-lifetime)" = 3600 ] &&
	[ "$(effective max-sessions)" = 1000 ] &&
	[ "$(effective log-level)" = debug ] &&
	[ "$(effective log-target)" = stderr ] &&
	[ "$(effective auth-fail-burst)" = 0 ] &&
	[ "$(effective auth-fail-rate)" = 60000 ] &&
	[ "$(effective auth-fail-entries)" = 16777216 ]
ok $? "every key of the file is applied (later lines win, tabs and CRLF trimmed)"
[ ! -e "$tmp/sink with space.jsonl" ] && [ ! -e "$tmp/reg.db" ]
ok $? "--check-config opens neither the sink nor the registry"

grep -v '^#' "$tmp/out" >"$tmp/printed.conf"
cp "$tmp/out" "$tmp/first"
run -c "$tmp/printed.conf" --check-config
[ $rc = 0 ] && diff <(grep -v '^#' "$tmp/first") <(grep -v '^#' "$tmp/out") >&2
ok $? "--check-config's output is a config file that gives the same configuration"

run -c "$tmp/good.conf" -p 7000 --cipher-default aes-128-cbc --check-config
[ $rc = 0 ] && [ "$(effective port)" = 7000 ] &&
	[ "$(effective cipher-default)" = aes-128-cbc ] &&
	[ "$(effective token-lifetime)" = 3600 ]
ok $? "flags override the file, whatever their position"

run -c /dev/null -f -v -v -v --check-config
[ $rc = 0 ] && [ "$(effective log-level)" = debug ] &&
	[ "$(effective log-target)" = stderr ] &&
	[ "$(effective foreground)" = true ]
ok $? "-f logs to stderr by default; -v up to debug"

run -c /dev/null -f --log-target syslog --log-level error --check-config
[ $rc = 0 ] && [ "$(effective log-target)" = syslog ] &&
	[ "$(effective log-level)" = error ]
ok $? "--log-target and --log-level as flags"

run -c /dev/null --registry "$tmp/r" --sink-file "$tmp/s" --fsync \
	--foreground --token-lifetime 5 --max-sessions 1 --check-config
[ $rc = 0 ] && [ "$(effective registry)" = "$tmp/r" ] &&
	[ "$(effective sink-file)" = "$tmp/s" ] && [ "$(effective fsync)" = true ] &&
	[ "$(effective token-lifetime)" = 5 ] && [ "$(effective max-sessions)" = 1 ]
ok $? "the long flags match the file's keys"

# bad_file DESCRIPTION LINE KEY CONTENT: coapd -c FILE exits 1 with one
# message naming FILE:LINE and KEY, and opens nothing.
bad_file() {
	local f="$tmp/bad.conf"
	printf 'sink-file = %s\n%b' "$tmp/must-not-exist" "$4" >"$f"
	run -c "$f" -f -r "$tmp/reg.db"
	[ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] &&
		grep -qF "$f:$2: $3" "$tmp/err" &&
		! grep -q 'coapd: error:' "$tmp/err" &&
		[ ! -e "$tmp/must-not-exist" ] && [ ! -e "$tmp/reg.db" ]
	ok $? "bad config, $1: exit 1, '$(head -c 120 "$tmp/err")'"
}
bad_file "unknown key" 3 "frobnicate:" '# c\nfrobnicate = 1\n'
bad_file "a key differing in case" 2 "Port:" 'Port = 5682\n'
bad_file "a short option's letter as key" 2 "p:" 'p = 5682\n'
bad_file "not key = value" 3 "not \"key = value\"" 'port = 1\nport 5682\n'
bad_file "no value" 2 "port: no value" 'port =\n'
bad_file "port out of range" 2 "port: '65536'" 'port = 65536\n'
bad_file "port 0" 2 "port: '0'" 'port = 0\n'
bad_file "port with a trailing comment" 2 "port: '5682 # udp'" 'port = 5682 # udp\n'
bad_file "negative lifetime" 2 "token-lifetime: '-1'" 'token-lifetime = -1\n'
bad_file "lifetime past u32" 2 "token-lifetime: '4294967296'" \
	'token-lifetime = 4294967296\n'
bad_file "max-sessions 0" 2 "max-sessions: '0'" 'max-sessions = 0\n'
bad_file "auth-fail-rate 0" 2 "auth-fail-rate: '0'" 'auth-fail-rate = 0\n'
bad_file "auth-fail-entries past 2^24" 2 "auth-fail-entries: '16777217'" \
	'auth-fail-entries = 16777217\n'
bad_file "unknown cipher" 2 "cipher-default: 'des'" 'cipher-default = des\n'
bad_file "unknown log level" 2 "log-level: 'verbose'" 'log-level = verbose\n'
bad_file "unknown log target" 2 "log-target: 'file'" 'log-target = file\n'
bad_file "a flag given yes" 2 "fsync: 'yes' is not true or false" 'fsync = yes\n'
bad_file "config inside the config" 2 "config: only on the command line" \
	'config = /etc/other.conf\n'
bad_file "--check-config inside the config" 2 "check-config: only on the command line" \
	'check-config = true\n'
bad_file "help inside the config" 2 "help: only on the command line" 'help = true\n'

printf 'port = 1\n\0\n' >"$tmp/nul.conf"
run -c "$tmp/nul.conf"
[ $rc = 1 ] && grep -q "nul.conf: contains a NUL byte" "$tmp/err"
ok $? "a NUL byte in the file: exit 1"

head -c 1100000 /dev/zero | tr '\0' '#' >"$tmp/big.conf"
run -c "$tmp/big.conf"
[ $rc = 1 ] && grep -q "big.conf: File too large" "$tmp/err"
ok $? "a file over 1 MiB: exit 1"

for f in "$tmp/absent.conf" "$tmp"; do
	run -c "$f" -f -r "$tmp/reg.db"
	[ $rc = 1 ] && grep -qF "config $f: " "$tmp/err" && [ ! -e "$tmp/reg.db" ]
	ok $? "-c $f (absent or a directory): exit 1, '$(cat "$tmp/err")'"
done

# bad_flags ARGS...: exit 1, a message on stderr, nothing opened.
bad_flags() {
	run -c /dev/null -r "$tmp/reg.db" --sink-file "$tmp/must-not-exist" "$@"
	[ $rc = 1 ] && [ -s "$tmp/err" ] && [ ! -e "$tmp/must-not-exist" ] &&
		[ ! -e "$tmp/reg.db" ] && ! grep -q 'coapd: error:' "$tmp/err"
	ok $? "bad flags '$*': exit 1, '$(head -n 1 "$tmp/err")'"
}
bad_flags --frobnicate
bad_flags -p 0
bad_flags --port 99999
bad_flags --log-level loud
bad_flags --token-lifetime 0
bad_flags --max-sessions x
bad_flags --ack-timeout 5
bad_flags --max-retransmit 11
bad_flags stray-argument
bad_flags -p

run -c /dev/null --ack-timeout 300 --max-retransmit 2 --check-config
[ $rc = 0 ] && [ "$(effective ack-timeout)" = 300 ] &&
	[ "$(effective max-retransmit)" = 2 ]
ok $? "ackMode 1's --ack-timeout and --max-retransmit reach the configuration"

run -c /dev/null -p 70000
grep -qF -- "--port: '70000' is not a port" "$tmp/err"
ok $? "a bad short flag is named by its long name (the file's key)"

# MQTT over TLS: a CA, a client certificate and key made here (never
# committed), the files read and checked before anything is opened.
pem() { # NAME [CA]: NAME.key and NAME.crt, self-signed or by CA
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1.key" -subj "/CN=$1" -out "$tmp/$1.csr" 2>/dev/null &&
	if [ $# = 1 ]; then
		openssl x509 -req -in "$tmp/$1.csr" -signkey "$tmp/$1.key" \
			-days 2 -out "$tmp/$1.crt" 2>/dev/null
	else
		openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$2.crt" \
			-CAkey "$tmp/$2.key" -CAcreateserial -days 2 \
			-out "$tmp/$1.crt" 2>/dev/null
	fi
}
pem ca && pem client ca && pem other ca &&
	openssl pkey -in "$tmp/client.key" -aes128 -passout pass:pw \
		-out "$tmp/enc.key" 2>/dev/null
ok $? "test CA, client certificate and keys generated"
tls=(--mqtt-host broker.example --mqtt-cafile "$tmp/ca.crt")
run -c /dev/null "${tls[@]}" --check-config
[ $rc = 0 ] && [ "$(effective mqtt-cafile)" = "$tmp/ca.crt" ] &&
	[ "$(effective mqtt-port)" = 8883 ]
ok $? "--mqtt-cafile turns TLS on; the port defaults to 8883 then"
run -c /dev/null --mqtt-host broker.example --check-config
[ $rc = 0 ] && [ "$(effective mqtt-port)" = 1883 ] &&
	grep -q '^# mqtt-cafile, mqtt-capath: none, no TLS' "$tmp/out"
ok $? "without a CA: no TLS, port 1883"
printf 'mqtt-host = b\nmqtt-capath = %s\nmqtt-certfile = %s\nmqtt-keyfile = %s\nmqtt-port = 1884\n' \
	"$tmp" "$tmp/client.crt" "$tmp/client.key" >"$tmp/tls.conf"
run -c "$tmp/tls.conf" --check-config
[ $rc = 0 ] && [ "$(effective mqtt-capath)" = "$tmp" ] &&
	[ "$(effective mqtt-certfile)" = "$tmp/client.crt" ] &&
	[ "$(effective mqtt-keyfile)" = "$tmp/client.key" ] &&
	[ "$(effective mqtt-port)" = 1884 ] && grep -v '^#' "$tmp/out" >"$tmp/tls2.conf" &&
	run -c "$tmp/tls2.conf" --check-config && [ $rc = 0 ] &&
	[ "$(effective mqtt-certfile)" = "$tmp/client.crt" ]
ok $? "mqtt-capath, a client certificate and key in the file; printed back"
! grep -rqF -- "$(sed -n 2p "$tmp/client.key")" "$tmp/out"
ok $? "--check-config prints no key material"

# bad_tls MESSAGE ARGS...: exit 1, MESSAGE on stderr (one line), nothing
# opened, nothing of the key printed.
bad_tls() {
	local want=$1
	shift
	run -c /dev/null -f -r "$tmp/reg.db" --sink-file "$tmp/must-not-exist" \
		--mqtt-host b --spool-dir "$tmp/spool" "$@"
	[ $rc = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] &&
		grep -qF -- "$want" "$tmp/err" && [ ! -e "$tmp/must-not-exist" ] &&
		[ ! -e "$tmp/reg.db" ] && [ ! -e "$tmp/spool" ] &&
		! grep -qF -- "$(sed -n 2p "$tmp/client.key")" "$tmp/err"
	ok $? "bad TLS files: exit 1, '$(head -n 1 "$tmp/err")'"
}
: >"$tmp/empty.pem"
bad_tls "mqtt-cafile $tmp/absent.pem: No such file or directory" \
	--mqtt-cafile "$tmp/absent.pem"
bad_tls "mqtt-cafile $tmp: Is a directory" --mqtt-cafile "$tmp"
bad_tls "mqtt-cafile $tmp/empty.pem: no PEM certificate in it" \
	--mqtt-cafile "$tmp/empty.pem"
bad_tls "mqtt-cafile $tmp/client.key: no PEM certificate in it" \
	--mqtt-cafile "$tmp/client.key"
bad_tls "mqtt-capath $tmp/absent: No such file or directory" \
	--mqtt-capath "$tmp/absent"
bad_tls "mqtt-capath $tmp/ca.crt: Not a directory" --mqtt-capath "$tmp/ca.crt"
bad_tls "mqtt-certfile and mqtt-keyfile need mqtt-cafile or mqtt-capath" \
	--mqtt-certfile "$tmp/client.crt" --mqtt-keyfile "$tmp/client.key"
bad_tls "mqtt-certfile and mqtt-keyfile go together" \
	--mqtt-cafile "$tmp/ca.crt" --mqtt-certfile "$tmp/client.crt"
bad_tls "mqtt-certfile $tmp/absent.crt: No such file or directory" \
	--mqtt-cafile "$tmp/ca.crt" --mqtt-certfile "$tmp/absent.crt" \
	--mqtt-keyfile "$tmp/client.key"
bad_tls "mqtt-certfile $tmp/client.key: no PEM certificate in it" \
	--mqtt-cafile "$tmp/ca.crt" --mqtt-certfile "$tmp/client.key" \
	--mqtt-keyfile "$tmp/client.key"
bad_tls "mqtt-keyfile $tmp/client.crt: no unencrypted PEM private key in it" \
	--mqtt-cafile "$tmp/ca.crt" --mqtt-certfile "$tmp/client.crt" \
	--mqtt-keyfile "$tmp/client.crt"
bad_tls "mqtt-keyfile $tmp/enc.key: no unencrypted PEM private key in it" \
	--mqtt-cafile "$tmp/ca.crt" --mqtt-certfile "$tmp/client.crt" \
	--mqtt-keyfile "$tmp/enc.key" </dev/null
bad_tls "mqtt-keyfile $tmp/other.key: not the key of mqtt-certfile $tmp/client.crt" \
	--mqtt-cafile "$tmp/ca.crt" --mqtt-certfile "$tmp/client.crt" \
	--mqtt-keyfile "$tmp/other.key"
printf 'mqtt-host = b\nmqtt-cafile = %s\n' "$tmp/absent.pem" >"$tmp/badtls.conf"
run -c "$tmp/badtls.conf" --check-config
[ $rc = 1 ] && grep -qF "mqtt-cafile $tmp/absent.pem: No such file or directory" "$tmp/err"
ok $? "--check-config finds an unreadable mqtt-cafile of the file too"

printf 'port = 6000\n' >"$tmp/p.conf"
run -c "$tmp/p.conf" --port nope
[ $rc = 1 ] && grep -qF -- "--port: 'nope'" "$tmp/err"
ok $? "a bad flag after a good file: exit 1, the flag named"
exit 0
