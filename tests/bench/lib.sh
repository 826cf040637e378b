# SPDX-License-Identifier: Apache-2.0
# Shared by tests/bench/pipeline-load and tests/bench/memory (sourced, bash): a `vigil run`
# holding an agent cgroup with only `sleep` in it, commands moved into that cgroup, /metrics
# scrapes and the daemon's CPU and memory from /proc.

# start_holder VIGIL ERRFILE [vigil run options...]: sets HOLDER (vigil's pid) and CGROUP (the
# agent cgroup's directory) once vigil says it confines the cgroup; exits 1 after 120 s.
start_holder() {
	local vigil=$1 err=$2
	shift 2
	: >"$err"
	"$vigil" run "$@" -- sleep 3600 2>"$err" &
	HOLDER=$!
	for _ in $(seq 1200); do
		if CGROUP=$(grep -o 'confines cgroup [^ ]*' "$err" | head -n 1 | cut -d' ' -f3) && [ -n "$CGROUP" ]; then
			return 0
		fi
		kill -0 "$HOLDER" 2>/dev/null || { sed 's/^/  vigil: /' "$err" >&2; echo "bench: vigil run exited" >&2; exit 1; }
		sleep 0.1
	done
	echo "bench: vigil run did not confine its cgroup within 120 s" >&2
	exit 1
}
stop_holder() {
	[ -n "${HOLDER:-}" ] || return 0
	kill "$HOLDER" 2>/dev/null || true
	wait "$HOLDER" 2>/dev/null || true
	HOLDER=""
}
# in_cgroup CMD...: runs CMD inside the agent cgroup (moved there before it execs).
in_cgroup() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP" "$@"
}
# scrape PORT FILE: one /metrics scrape.
scrape() {
	curl -sf --max-time 10 "http://127.0.0.1:$1/metrics" >"$2" || { echo "bench: scrape of :$1 failed" >&2; exit 1; }
}
# metric FILE NAME [LABEL-REGEX]: the sum of a family's samples (labels matching the regex).
metric() {
	awk -v name="$2" -v re="${3:-}" '
		$1 !~ /^#/ { split($1, p, "{"); if (p[1] == name && (re == "" || $1 ~ re)) s += $2 }
		END { printf "%.0f\n", s }' "$1"
}
# cpu_ticks PID: utime + stime in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# rss_kib PID [VmRSS|VmHWM]
rss_kib() { awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status"; }
# smaps_kib PID bpf|rest: resident memory of PID's mappings of BPF maps (the ring buffer's data
# pages, mapped twice for wrap-around: kernel memory, which newer kernels count in VmRSS), or of
# every other mapping (the daemon's own memory).
smaps_kib() {
	awk -v want="$2" '/^[0-9a-f]+-/ { m = ($6 == "anon_inode:bpf-map") == (want == "bpf") }
		m && $1 == "Rss:" { s += $2 } END { print s + 0 }' "/proc/$1/smaps"
}
# bpf_map_kib PID: memory of the BPF maps PID holds open (memlock in each map fd's fdinfo, the
# figure bpftool shows), each map counted once, KiB.
bpf_map_kib() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		awk '$1 == "map_id:" { id = $2 } $1 == "memlock:" { m = $2 } END { if (id != "") print id, m }' "$f" 2>/dev/null
	done | sort -u -k1,1 | awk '{ s += $2 } END { printf "%d\n", s / 1024 }'
}
# histogram_quantile FILE NAME Q [BEFORE]: Prometheus-style quantile (linear within the bucket)
# of a histogram, over the increase since the BEFORE scrape when given.
histogram_quantile() {
	awk -v name="$2_bucket" -v q="$3" '
		function le(s) { sub(/.*le="/, "", s); sub(/".*/, "", s); return s == "+Inf" ? 1e300 : s + 0 }
		$1 ~ "^" name "{" { v = $2 + 0; b = le($1); if (FILENAME == ARGV[1]) cur[b] = v; else base[b] = v }
		END {
			n = 0; for (b in cur) { bs[++n] = b + 0 }
			for (i = 2; i <= n; i++) for (j = i; j > 1 && bs[j - 1] > bs[j]; j--) { t = bs[j]; bs[j] = bs[j - 1]; bs[j - 1] = t }
			total = cur[bs[n]] - base[bs[n]]
			if (total <= 0) { print "nan"; exit }
			rank = q * total; prev = 0; lo = 0
			for (i = 1; i <= n; i++) {
				c = cur[bs[i]] - base[bs[i]]
				if (c >= rank) {
					if (bs[i] >= 1e300) { printf "%.6f\n", lo; exit }
					printf "%.6f\n", lo + (bs[i] - lo) * (c > prev ? (rank - prev) / (c - prev) : 1); exit
				}
				prev = c; lo = bs[i]
			}
		}' "$1" "${4:-/dev/null}"
}
