#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages vigil needs, only those missing (make too: cmake's default
# generator, Unix Makefiles, needs it and cmake only Recommends it). --test adds what the test
# suite needs (GoogleTest, curl, jq, qemu and busybox for the BPF-LSM VM, Prometheus and
# Alertmanager for the exporter tests, Node.js and npm for the Kubernetes manifest test; dpkg-dev,
# systemd and mmdebstrap for the package tests: dpkg-shlibdeps, systemd-analyze, a clean Debian 12
# root; libFuzzer for tests/fuzz: only Recommended by clang-14, which is installed without
# recommends; Chromium for the incident report's headless browser tests; pip and npm (below), and
# git, for the profile suggestion's recordings of real tools). Debian 12 (bookworm), as root.
set -euo pipefail

build=(cmake ninja-build make g++ clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libzstd-dev libspdlog-dev prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev
	libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libexpected-dev libssl-dev)
test=(googletest libgtest-dev libgmock-dev libbenchmark-dev curl util-linux iproute2
	qemu-system-x86 qemu-system-common busybox-static cpio zstd xz-utils kmod jq
	prometheus prometheus-alertmanager libclang-rt-14-dev chromium dpkg-dev systemd mmdebstrap
	python3-pip git)

want=("${build[@]}")
if [ "${1:-}" = --test ]; then
	want+=("${test[@]}")
	# tests/k8s. A machine may have Node.js from elsewhere already (a newer nodejs package that
	# carries npm itself and conflicts with Debian's npm): only what is missing is installed.
	command -v node >/dev/null || want+=(nodejs)
	command -v npm >/dev/null || want+=(npm)
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get install)" >&2
	exit 1
fi
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start Prometheus and Alertmanager as services on their default ports. The
# tests run their own instances on free ports; services this script brought in are stopped
# and disabled, so that a test machine does not scrape or page anything by itself.
for svc in prometheus prometheus-alertmanager; do
	if [[ " ${missing[*]} " == *" $svc "* ]] && command -v systemctl >/dev/null &&
		[ -d /run/systemd/system ]; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
done
