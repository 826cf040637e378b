# SPDX-License-Identifier: Apache-2.0
# Sanitizer and fuzzing builds, for the whole tree (compile and link options set before the
# userspace and test directories are added). The BPF objects are built by their own clang
# commands and are not affected.
#
#   -DVIGIL_SANITIZE=address,undefined   ASan + UBSan (g++ or clang); tests/run-all's build-asan/
#   -DVIGIL_SANITIZE=thread              TSan
#   -DVIGIL_FUZZ=ON                      clang only: the libFuzzer targets in tests/fuzz, with the
#                                        libraries built -fsanitize=fuzzer-no-link,address,undefined
#
# Every report is fatal (-fno-sanitize-recover=all): a sanitizer finding fails the test that hit
# it instead of scrolling past in its log.
set(VIGIL_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined | thread | empty")
option(VIGIL_FUZZ "Build the libFuzzer targets in tests/fuzz (clang; implies address,undefined)" OFF)

if(VIGIL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "vigil: VIGIL_FUZZ needs clang (-DCMAKE_CXX_COMPILER=clang++ "
                        "-DCMAKE_C_COMPILER=clang) and libFuzzer: install the Debian package "
                        "'libclang-rt-14-dev'")
  endif()
  if(NOT VIGIL_SANITIZE)
    set(VIGIL_SANITIZE "address,undefined")
  endif()
endif()

if(VIGIL_SANITIZE)
  if(VIGIL_SANITIZE MATCHES "thread" AND VIGIL_SANITIZE MATCHES "address")
    message(FATAL_ERROR "vigil: VIGIL_SANITIZE: thread cannot be combined with address")
  endif()
  add_compile_options(-fsanitize=${VIGIL_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${VIGIL_SANITIZE})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ 12's flow analysis is thrown by the sanitizers' instrumentation: false positives in
    # libstdc++'s <regex> (std::function in _NFA) that -Werror would turn into a failed build. GCC's
    # manual warns about this pairing; the normal build keeps the warning.
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
  if(VIGIL_FUZZ)
    # Coverage feedback in the libraries; only the fuzz targets link libFuzzer's main.
    add_compile_options(-fsanitize=fuzzer-no-link)
  endif()
  message(STATUS "vigil: sanitizers ${VIGIL_SANITIZE}")
endif()
