# SPDX-License-Identifier: Apache-2.0
# The Debian package (CPack DEB): `cpack -G DEB` in the build directory, after building vigil.
#   /usr/bin/vigil
#   /usr/share/vigil/rules/            the rule packs, allowlists and profiles/default.yaml (vigil
#                                      finds them from its own path: <bin>/../share/vigil/rules)
#   /etc/vigil/vigil.yaml              the daemon config (a conffile)
#   /usr/lib/systemd/system/vigil.service   daemon mode, hardened (README.md "Host install")
#   /usr/share/doc/vigil/              README.md, SECURITY.md
# The unit and the config are the component "system", left out of a plain `cmake --install`
# (which keeps its own prefix): their paths are the package's. tests/package/run checks it all.
set(VG_PKG_PREFIX /usr)
set(VG_BINDIR ${VG_PKG_PREFIX}/bin)
set(VG_DATADIR ${VG_PKG_PREFIX}/share/vigil)
set(VG_DOCDIR ${VG_PKG_PREFIX}/share/doc/vigil)
set(VG_SYSCONFDIR /etc/vigil)
set(VG_PKG_DIR "${PROJECT_BINARY_DIR}/package")
foreach(file vigil.service vigil.yaml)
  configure_file("${PROJECT_SOURCE_DIR}/deploy/debian/${file}.in" "${VG_PKG_DIR}/${file}" @ONLY)
endforeach()
file(WRITE "${VG_PKG_DIR}/conffiles" "${VG_SYSCONFDIR}/vigil.yaml\n")
foreach(script postinst prerm postrm)
  file(COPY "${PROJECT_SOURCE_DIR}/deploy/debian/${script}" DESTINATION "${VG_PKG_DIR}"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                        WORLD_READ WORLD_EXECUTE)
endforeach()

install(FILES "${VG_PKG_DIR}/vigil.service" DESTINATION lib/systemd/system
        COMPONENT system EXCLUDE_FROM_ALL)
install(FILES "${VG_PKG_DIR}/vigil.yaml" DESTINATION ${VG_SYSCONFDIR}
        COMPONENT system EXCLUDE_FROM_ALL)
install(FILES "${PROJECT_SOURCE_DIR}/README.md" "${PROJECT_SOURCE_DIR}/docs/SECURITY.md"
        DESTINATION share/doc/vigil COMPONENT system EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "vigil")
set(CPACK_PACKAGE_CONTACT "vigil maintainers <maintainers@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "eBPF runtime monitor and enforcement for AI coding agents")
set(CPACK_PACKAGE_DESCRIPTION
    "vigil confines AI coding agents with eBPF: credential files they must not read and\n\
destinations they must not reach are refused in the kernel (BPF LSM, else fanotify and\n\
cgroup socket programs), and every attempt raises one alert. `vigil run -- CMD` confines\n\
one command; the vigil service confines configured cgroups (daemon mode).")
set(CPACK_PACKAGING_INSTALL_PREFIX ${VG_PKG_PREFIX})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Unspecified system)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON) # the build's debug info stays in the build tree
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # Depends: from the libraries vigil links (dpkg-shlibdeps)
# ... after these: procps for /bin/kill, the unit's ExecReload. It is not Essential, and a clean
# Debian 12 root with systemd lacks it (tests/package/bookworm-root: systemd-analyze verify).
set(CPACK_DEBIAN_PACKAGE_DEPENDS procps)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${VG_PKG_DIR}/conffiles;${VG_PKG_DIR}/postinst;${VG_PKG_DIR}/prerm;${VG_PKG_DIR}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
