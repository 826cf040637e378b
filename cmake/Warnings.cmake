# SPDX-License-Identifier: Apache-2.0
# Warnings are set per target: vg_warnings(<target>).
option(VIGIL_WERROR "Treat compiler warnings as errors" OFF)
function(vg_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                         -Wold-style-cast -Wcast-align -Woverloaded-virtual
                         -Wimplicit-fallthrough)
  if(VIGIL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
