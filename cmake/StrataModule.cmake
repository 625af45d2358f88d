# strata_add_module(NAME SOURCES a.cpp [b.cpp] [LIBS lib...])
# Builds one strata module: a shared object NAME.so that exports only strata_module_entry.
# Used in this tree and, installed with the strata CMake package, by out-of-tree modules.
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
  if(DEFINED STRATA_BUILD_MODULES_DIR)  # in-tree build
    set_target_properties(${NAME} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${STRATA_BUILD_MODULES_DIR})
    install(TARGETS ${NAME} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/strata/modules)
  endif()
endfunction()
