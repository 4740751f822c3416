# Sourced by the end-to-end scripts (bash): TAP results, and the coapd each
# one starts and stops. The script sets build, port, db, sink and log first.

n=0
result() { # status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
show() { sed 's/^/# /' "$@"; }

# free_port: a random high UDP port nobody listens on now (host tests may
# run beside each other); 5682 if none is found.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		python3 -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("0.0.0.0", int(sys.argv[1])))' \
			"$p" 2>/dev/null && { echo "$p"; return; }
	done
	echo 5682
}

# e2e_workdir NAME: a fresh directory $work with the paths $db, $sink and
# $log in it. At exit coapd is stopped, what it logged (every
# $work/coapd*.log) and the sink are kept in $COAP_VM_OUT as
# NAME-coapd.log and NAME-sink.jsonl (neither holds a secret), and $work
# goes. A script with more to undo defines e2e_cleanup_more, run first; one
# that must not let coapd drain (a test of what a killed coapd leaves) sets
# e2e_kill_signal=KILL.
e2e_workdir() {
	e2e_name=$1
	work=$(mktemp -d "/tmp/$1.XXXXXX")
	db=$work/registry.db
	sink=$work/sink.jsonl
	log=$work/coapd.log
	trap e2e_cleanup EXIT
}
e2e_cleanup() {
	declare -F e2e_cleanup_more >/dev/null && e2e_cleanup_more
	[ -n "$coapd_pid" ] && kill -"${e2e_kill_signal:-TERM}" "$coapd_pid" 2>/dev/null
	if [ -n "${COAP_VM_OUT:-}" ]; then
		cat "$work"/coapd*.log >"$COAP_VM_OUT/$e2e_name-coapd.log" 2>/dev/null
		cp "$sink" "$COAP_VM_OUT/$e2e_name-sink.jsonl" 2>/dev/null
	fi
	rm -rf "$work"
}

coapd_pid=
# start_coapd [COAPD ARGS...]: coapd in the foreground on $port with $db and
# a synced sink $sink, logging to $log, under $COAPD_WRAPPER when set (e.g.
# "valgrind --error-exitcode=99"); one result: it said it runs.
start_coapd() {
	local status
	${COAPD_WRAPPER:-} "$build/coapd" -f "$@" -p "$port" -r "$db" \
		--sink-file "$sink" --fsync 2>"$log" &
	coapd_pid=$!
	for _ in $(seq 600); do
		grep -q 'running:' "$log" 2>/dev/null && break
		kill -0 "$coapd_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'running:' "$log"
	status=$?
	result $status "coapd started on port $port"
	[ $status = 0 ] || show "$log"
}

# stop_coapd: SIGTERM; one result: a clean exit.
stop_coapd() {
	local status
	kill -TERM "$coapd_pid"
	wait "$coapd_pid"
	status=$?
	coapd_pid=
	result $status "coapd exits 0 on SIGTERM"
	[ $status = 0 ] || tail -n 20 "$log" | show
}

# sink_exactly_once SINK [COUNT] < restart-client output: 0 when every
# payload the client saw acknowledged ("publish SEQ PAYLOAD: 2.05 id N") is
# in the JSON-lines SINK exactly once and nothing else is (and, with COUNT,
# there are COUNT of them); what is wrong goes to stdout as TAP comments.
sink_exactly_once() {
	sed -n 's/^publish [0-9]* \([^:]*\): 2\.05 id .*/\1/p' |
		python3 -c '
import json, sys
got = {}
for l in open(sys.argv[1]):
    if l.strip():
        p = json.loads(l).get("payload")
        got[p] = got.get(p, 0) + 1
want = [l.strip() for l in sys.stdin if l.strip()]
bad = [p for p in want if got.get(p) != 1]
extra = [p for p in got if p not in want]
for p in bad[:10]:
    print("# %s in the sink %d times" % (p, got.get(p, 0)))
for p in extra[:10]:
    print("# %s in the sink but not acknowledged" % p)
print("# %d acknowledged, %d distinct in the sink" % (len(want), len(got)))
count = int(sys.argv[2]) if len(sys.argv) > 2 else len(want)
sys.exit(1 if bad or extra or len(want) != count else 0)' "$@"
}
