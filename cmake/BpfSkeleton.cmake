# SPDX-License-Identifier: Apache-2.0
# Compiles BPF programs with clang and turns them into a libbpf skeleton.
#
# vmlinux.h is generated at build time from the build host's BTF (/sys/kernel/btf/vmlinux) unless
# VIGIL_VMLINUX_H points at a pinned copy. Why: the programs are CO-RE, so the header only has to
# name the types and fields we read; libbpf relocates every access against the BTF of the kernel
# that loads the object. vigil needs kernel BTF at run time anyway (no BTF, no CO-RE, no vigil), so
# every machine that runs it can also build it, and no multi-megabyte generated header lives in the
# tree. The kernel and the bpftool version used are printed at configure time.
set(VIGIL_VMLINUX_H "" CACHE FILEPATH "Use this vmlinux.h instead of dumping /sys/kernel/btf/vmlinux")
set(VG_VMLINUX_DIR "${CMAKE_BINARY_DIR}/vmlinux")
file(MAKE_DIRECTORY "${VG_VMLINUX_DIR}")
if(VIGIL_VMLINUX_H)
  configure_file("${VIGIL_VMLINUX_H}" "${VG_VMLINUX_DIR}/vmlinux.h" COPYONLY)
  message(STATUS "vigil: vmlinux.h from ${VIGIL_VMLINUX_H}")
else()
  if(NOT EXISTS /sys/kernel/btf/vmlinux)
    message(FATAL_ERROR "vigil: /sys/kernel/btf/vmlinux is missing: this kernel has no BTF "
            "(CONFIG_DEBUG_INFO_BTF). Build on a kernel with BTF or pass -DVIGIL_VMLINUX_H=<file>.")
  endif()
  # At configure time, not as a build rule: the Makefile generators cannot depend on a file that
  # a custom command of another directory makes (bpf/ compiles against it), and the kernel a
  # build runs on does not change during the build. Rewritten only when it changed, so a
  # re-configure does not rebuild every program.
  execute_process(
    COMMAND "${VG_BPFTOOL}" btf dump file /sys/kernel/btf/vmlinux format c
    OUTPUT_FILE "${VG_VMLINUX_DIR}/vmlinux.h.tmp"
    RESULT_VARIABLE _vg_dump)
  if(NOT _vg_dump EQUAL 0)
    message(FATAL_ERROR "vigil: bpftool btf dump of /sys/kernel/btf/vmlinux failed (${_vg_dump})")
  endif()
  file(COPY_FILE "${VG_VMLINUX_DIR}/vmlinux.h.tmp" "${VG_VMLINUX_DIR}/vmlinux.h" ONLY_IF_DIFFERENT)
  file(REMOVE "${VG_VMLINUX_DIR}/vmlinux.h.tmp")
  execute_process(COMMAND uname -r OUTPUT_VARIABLE _vg_krel OUTPUT_STRIP_TRAILING_WHITESPACE)
  message(STATUS "vigil: vmlinux.h generated from the BTF of kernel ${_vg_krel}")
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(VG_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(VG_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "vigil: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

# vg_add_bpf_skeleton(<target> SKEL <name> SOURCES <x.bpf.c>... [DEPENDS <hdr>...])
# One clang run per program file, one `bpftool gen object` link, one <name>.skel.h (ELF embedded).
function(vg_add_bpf_skeleton target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SKEL" "SOURCES;DEPENDS")
  set(out "${CMAKE_CURRENT_BINARY_DIR}")
  set(objs)
  foreach(src IN LISTS arg_SOURCES)
    get_filename_component(stem "${src}" NAME_WE)
    add_custom_command(OUTPUT "${out}/${stem}.tmp.o"
      COMMAND "${VG_CLANG}" -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${VG_BPF_ARCH}
              -Wall -Werror -Wno-unused-function
              -I${VG_VMLINUX_DIR} -I${CMAKE_CURRENT_SOURCE_DIR}/include -I${CMAKE_CURRENT_SOURCE_DIR}/lib
              -c "${CMAKE_CURRENT_SOURCE_DIR}/${src}" -o "${out}/${stem}.tmp.o"
      DEPENDS "${src}" ${arg_DEPENDS} "${VG_VMLINUX_DIR}/vmlinux.h"
      COMMENT "BPF ${src}" VERBATIM)
    list(APPEND objs "${out}/${stem}.tmp.o")
  endforeach()
  set(skel "${out}/${arg_SKEL}.skel.h")
  add_custom_command(OUTPUT "${out}/${arg_SKEL}.bpf.o" "${skel}"
    COMMAND "${VG_BPFTOOL}" gen object "${out}/${arg_SKEL}.bpf.o" ${objs}
    COMMAND sh -c "'${VG_BPFTOOL}' gen skeleton '${out}/${arg_SKEL}.bpf.o' name ${arg_SKEL} > '${skel}.tmp' && mv '${skel}.tmp' '${skel}'"
    DEPENDS ${objs} COMMENT "SKEL ${arg_SKEL}" VERBATIM)
  add_custom_target(${target}_gen DEPENDS "${skel}")
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} SYSTEM INTERFACE "${out}")
endfunction()
