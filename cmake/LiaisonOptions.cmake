# Every build option of Liaison, in one place.  Tests on, everything else off.
option(LIAISON_TESTS    "Build the cmocka unit tests and the integration tests" ON)
option(LIAISON_WERROR   "Treat compiler warnings as errors (CI turns this on)" OFF)
option(LIAISON_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(LIAISON_FUZZ     "Build the libFuzzer targets (needs clang)" OFF)
option(LIAISON_BENCH    "Build the benchmark programs under bench/" OFF)
