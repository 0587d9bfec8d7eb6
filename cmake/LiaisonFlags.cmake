# Compiler flags shared by every target: strict warnings, optional sanitizers.
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wformat=2 -Wvla -Wpointer-arith -Wcast-qual)
add_compile_definitions(_POSIX_C_SOURCE=200809L)
if(LIAISON_WERROR)
  add_compile_options(-Werror)
endif()

if(LIAISON_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()

if(LIAISON_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LIAISON_FUZZ=ON needs clang (CC=clang)")
  endif()
  # Every library is instrumented for coverage; only fuzzer mains link libFuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
