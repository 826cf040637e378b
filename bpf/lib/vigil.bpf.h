/* SPDX-License-Identifier: GPL-2.0-only */
/* vigil.bpf.h - the first include of every program file: kernel types, libbpf helpers, the ABI,
 * and the constants vmlinux.h cannot carry (macros do not survive into BTF). */
#ifndef VG_VIGIL_BPF_H
#define VG_VIGIL_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "vigil/abi.h"

/* errno and address-family values, defined once with the kernel's numbers. */
#define VG_EPERM 1
#define VG_AF_UNSPEC 0
#define VG_AF_UNIX 1
#define VG_AF_INET 2
#define VG_AF_INET6 10
#define VG_AT_FDCWD -100
#define VG_NAME_MAX 255

#endif /* VG_VIGIL_BPF_H */
