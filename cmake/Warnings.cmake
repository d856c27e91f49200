set(GRIDLET_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wconversion-null)
# GCC 12 reports false -Wrestrict positives inside libstdc++'s std::string at -O2/-O3
# (GCC bug 105329); the warning stays on for other compilers.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  list(APPEND GRIDLET_WARNING_FLAGS -Wno-restrict)
endif()
# Clang proves the lock discipline of GUARDED_BY state (adapters/thread_safety.hpp).
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND GRIDLET_WARNING_FLAGS -Wthread-safety)
endif()
if(GRIDLET_WERROR)
  list(APPEND GRIDLET_WARNING_FLAGS -Werror)
endif()

if(GRIDLET_SANITIZE)
  add_compile_options(-fsanitize=${GRIDLET_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${GRIDLET_SANITIZE})
endif()

if(GRIDLET_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "GRIDLET_FUZZ needs clang (CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
