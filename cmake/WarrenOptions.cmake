# Compile options shared by every Warren target: warnings, optional -Werror, sanitizers.
add_library(warren_options INTERFACE)
target_compile_options(warren_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                                 -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                                                 -Wdouble-promotion -Wformat=2
                                                 # Aggregates with default member initializers are
                                                 # brace-initialized partially on purpose.
                                                 -Wno-missing-field-initializers
                                                 # g++ 12 reports false -Wrestrict positives inside
                                                 # std::string at -O2 (GCC bug 105329); clang has no such flag.
                                                 $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
if(WARREN_WERROR)
  target_compile_options(warren_options INTERFACE -Werror)
endif()
if(WARREN_SANITIZE)
  string(REPLACE ";" "," _warren_san "${WARREN_SANITIZE}")
  add_compile_options(-fsanitize=${_warren_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_warren_san})
endif()
# Boost 1.74's Asio headers use std::exchange without including <utility>; asio.hpp in core fixes it once.
target_compile_definitions(warren_options INTERFACE BOOST_ASIO_NO_DEPRECATED)
if(WARREN_FUZZ)
  # Coverage for libFuzzer in every library; the fuzz targets link -fsanitize=fuzzer (its main).
  # UBSan halts on its first report, like ASan, so every finding is a crash libFuzzer keeps.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
