# The strata .deb: `cmake --build build && (cd build && cpack -G DEB)` -> build/strata_VERSION_ARCH.deb.
# One package holds every install component: runtime (the binary), modules, sdk (headers, the
# test kit, libstrata_embed, the CMake package) and system (the systemd unit and the example
# /etc/strata files). The system component installs to absolute paths, so it is left out of a
# plain `cmake --install` (EXCLUDE_FROM_ALL): `cmake --install build --component system` puts
# it in /etc and /usr/lib/systemd/system on purpose only.
install(FILES packaging/systemd/strata.service DESTINATION /usr/lib/systemd/system
        COMPONENT system EXCLUDE_FROM_ALL)
install(FILES packaging/etc/strata.toml packaging/etc/keys.lua DESTINATION /etc/strata
        COMPONENT system EXCLUDE_FROM_ALL)
install(FILES docs/operations.md README.md DESTINATION /usr/share/doc/strata
        COMPONENT system EXCLUDE_FROM_ALL)
install(DIRECTORY examples/deployments DESTINATION /usr/share/doc/strata/examples
        COMPONENT system EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME strata)
set(CPACK_PACKAGE_VENDOR "strata")
set(CPACK_PACKAGE_CONTACT "strata maintainers <strata@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "cache pipelines from Kafka into Redis (L2) and memcached (L1), with read fronts")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL runtime modules sdk system)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Stripped, as Debian ships binaries (the build tree keeps the symbols).
set(CPACK_STRIP_FILES ON)
# Depends from the ELF files (dpkg-shlibdeps): librdkafka1, libhiredis0.14, libmemcached11,
# libluajit-5.1-2, libsystemd0, ... exactly as linked.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The unit's ExecReload=/bin/kill (procps); merged with the dpkg-shlibdeps list.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "procps")
# /etc/strata edits survive upgrades and removal (dpkg conffiles).
set(STRATA_DEB_CONFFILES ${CMAKE_BINARY_DIR}/packaging/conffiles)
file(WRITE ${STRATA_DEB_CONFFILES} "/etc/strata/strata.toml\n/etc/strata/keys.lua\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${STRATA_DEB_CONFFILES})
include(CPack)
