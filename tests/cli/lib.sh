# Sourced by the host argument tests (bash) after they set $tmp: the TAP
# result of one check, with what the program printed ($tmp/out, $tmp/err)
# shown under a failure.
n=0
ok() { # status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		sed 's/^/# /' "$tmp/out" "$tmp/err" 2>/dev/null
	fi
}
