#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Guest side of the VM rig smoke test (run by tests/vm/run-smoke through
# vm-run). Plain POSIX sh: it must work with nothing but busybox. Prints one
# PASS/FAIL line per check, writes the summary to /out/smoke-summary and exits
# non-zero when a check failed.

pass=0 fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1${2:+ ($2)}"; fail=$((fail + 1)); }
check() { # check NAME COMMAND... : PASS if COMMAND succeeds
	name=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then ok "$name"; else bad "$name" "$(tail -n 3 /tmp/check.out | tr '\n' ' ')"; fi
}
mounted() { # mounted FSTYPE DIR
	awk -v t="$1" -v d="$2" '$2 == d && $3 == t { f = 1 } END { exit !f }' /proc/mounts
}

echo "smoke: kernel $(uname -r)"
lsm=$(cat /sys/kernel/security/lsm 2>/dev/null)
echo "smoke: lsm=$lsm"
case ",$lsm," in
*,bpf,*) ok "bpf is an active LSM" ;;
*) bad "bpf is an active LSM" "lsm=$lsm" ;;
esac
check "securityfs on /sys/kernel/security" mounted securityfs /sys/kernel/security
check "cgroup2 on /sys/fs/cgroup" mounted cgroup2 /sys/fs/cgroup
check "bpffs on /sys/fs/bpf" mounted bpf /sys/fs/bpf
check "tracefs on /sys/kernel/tracing" mounted tracefs /sys/kernel/tracing
check "kernel BTF at /sys/kernel/btf/vmlinux" test -s /sys/kernel/btf/vmlinux
check "cgroup2 can create a child cgroup" sh -c 'mkdir /sys/fs/cgroup/smoke && rmdir /sys/fs/cgroup/smoke'
check "/etc/passwd has root and nobody" sh -c 'grep -q "^root:x:0:0:" /etc/passwd && grep -q "^nobody:" /etc/passwd'
check "running as root" test "$(id -u)" = 0

# Loopback: a listener per address family, a client sends a line, the
# listener must have received it. busybox nc explicitly: with -U, /usr/bin/nc
# may be another netcat.
loopback() { # loopback ADDR PORT
	rm -f /tmp/nc.got
	busybox nc -l -p "$2" >/tmp/nc.got </dev/null &
	lpid=$!
	end=$(($(date +%s) + 10))
	until echo "hello-$1" | busybox timeout 3 busybox nc "$1" "$2" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || break
		sleep 0.1
	done
	until grep -q "hello-$1" /tmp/nc.got 2>/dev/null || [ "$(date +%s)" -ge "$end" ]; do sleep 0.1; done
	kill "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	grep -q "hello-$1" /tmp/nc.got
}
check "lo is up with 127.0.0.1" sh -c 'ip link show dev lo | grep -q "[<,]UP[,>]" && ip -4 addr show dev lo | grep -q "inet 127.0.0.1/8"'
check "lo has ::1" sh -c 'ip -6 addr show dev lo | grep -q "inet6 ::1/128"'
check "TCP connect over loopback IPv4 (127.0.0.1)" loopback 127.0.0.1 7001
check "TCP connect over loopback IPv6 (::1)" loopback ::1 7002
check "localhost resolves via /etc/hosts" grep -q '^127\.0\.0\.1[[:space:]].*localhost' /etc/hosts

# With vm-run -U the host's /usr is shared read-only: host programs must run.
if mounted virtiofs /usr; then
	# shellcheck disable=SC2016 # expanded by the host's bash
	check "host bash runs (-U)" /usr/bin/bash -c 'test -n "$BASH_VERSION"'
	[ -x /usr/bin/python3 ] && check "host python3 runs (-U)" /usr/bin/python3 -c 'import socket'
	check "/usr is read-only (-U)" sh -c '! touch /usr/.vigil-vm-smoke 2>/dev/null'
fi

echo "smoke: $pass passed, $fail failed"
echo "pass=$pass fail=$fail" >/out/smoke-summary
[ "$fail" -eq 0 ]
