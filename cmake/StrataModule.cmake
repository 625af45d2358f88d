# strata_add_module(NAME SOURCES a.cpp [b.cpp] [LIBS lib...])
# Builds one strata module: a shared object NAME.so that exports only strata_module_entry.
# Used in this tree and, installed with the strata CMake package (component "sdk"), by
# out-of-tree modules. Out of tree it also gives the module the project's warnings (-Wall
# -Wextra) and the installed host's sanitizer flags (STRATA_SANITIZE_FLAGS: the build signature,
# strata.h, must match the host's or the loader refuses the module).
#
# strata_add_module_test(NAME MODULE target SOURCES t.cpp [LIBS lib...])
# A unit test of a module with the test kit (strata::testing, <strata/testing.hpp>): links the
# kit (and GTest::gtest_main when found), defines STRATA_TEST_MODULE="<path of the module .so>",
# and registers it with add_test().
function(strata_add_module NAME)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${NAME} MODULE ${ARG_SOURCES})
  set_target_properties(${NAME} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_compile_features(${NAME} PRIVATE cxx_std_20)
  if(TARGET strata::headers)
    target_link_libraries(${NAME} PRIVATE strata::headers)
  endif()
  if(ARG_LIBS)
    target_link_libraries(${NAME} PRIVATE ${ARG_LIBS})
  endif()
  if(DEFINED STRATA_BUILD_MODULES_DIR)  # in-tree build: the project sets warnings and flags
    set_target_properties(${NAME} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${STRATA_BUILD_MODULES_DIR})
    install(TARGETS ${NAME} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/strata/modules
            COMPONENT modules)
  else()
    target_compile_options(${NAME} PRIVATE -Wall -Wextra ${STRATA_SANITIZE_FLAGS})
    target_link_options(${NAME} PRIVATE ${STRATA_SANITIZE_FLAGS})
  endif()
endfunction()

function(strata_add_module_test NAME)
  cmake_parse_arguments(ARG "" "MODULE" "SOURCES;LIBS" ${ARGN})
  add_executable(${NAME} ${ARG_SOURCES})
  target_compile_features(${NAME} PRIVATE cxx_std_20)
  target_link_libraries(${NAME} PRIVATE strata::testing ${ARG_LIBS})
  if(TARGET GTest::gtest_main)
    target_link_libraries(${NAME} PRIVATE GTest::gtest_main)
  endif()
  if(NOT DEFINED STRATA_BUILD_MODULES_DIR)
    target_compile_options(${NAME} PRIVATE -Wall -Wextra ${STRATA_SANITIZE_FLAGS})
    target_link_options(${NAME} PRIVATE ${STRATA_SANITIZE_FLAGS})
  endif()
  if(ARG_MODULE)
    target_compile_definitions(${NAME} PRIVATE STRATA_TEST_MODULE="$<TARGET_FILE:${ARG_MODULE}>")
    add_dependencies(${NAME} ${ARG_MODULE})
  endif()
  add_test(NAME ${NAME} COMMAND ${NAME})
endfunction()
