# Initial cache for the fuzz build (`cmake -C fuzz/fuzz.cmake -S . -B build-fuzz`, run by
# `make fuzz`): clang, every library instrumented for libFuzzer's coverage plus ASan and UBSan,
# and only what the fuzz targets need. The default GCC build never reads this file.
set(CMAKE_C_COMPILER clang CACHE STRING "")
set(CMAKE_CXX_COMPILER clang++ CACHE STRING "")
set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "")
set(STRATA_FUZZ_FLAGS "-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer")
set(CMAKE_C_FLAGS "${STRATA_FUZZ_FLAGS}" CACHE STRING "")
set(CMAKE_CXX_FLAGS "${STRATA_FUZZ_FLAGS}" CACHE STRING "")
set(CMAKE_EXE_LINKER_FLAGS "-fsanitize=address,undefined" CACHE STRING "")
set(CMAKE_SHARED_LINKER_FLAGS "-fsanitize=address,undefined" CACHE STRING "")
set(CMAKE_MODULE_LINKER_FLAGS "-fsanitize=address,undefined" CACHE STRING "")
set(STRATA_FUZZ ON CACHE BOOL "")
set(STRATA_BUILD_TESTS OFF CACHE BOOL "")
set(STRATA_BUILD_BENCH OFF CACHE BOOL "")
