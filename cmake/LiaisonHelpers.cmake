# Helpers that add a unit test, an integration test or a fuzz target in one line.

# liaison_add_unit_test(<module> SOURCES <files...> LIBS <targets...> [TIMEOUT s])
# Builds tests/unit/test_<module>.c (plus SOURCES) into test_<module>, links
# cmocka and LIBS, and registers it with ctest under the label "unit".
function(liaison_add_unit_test module)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(test_${module} test_${module}.c ${T_SOURCES})
  target_link_libraries(test_${module} PRIVATE liaison_test_helpers ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME unit.${module} COMMAND test_${module})
  set_tests_properties(unit.${module} PROPERTIES
    TIMEOUT ${T_TIMEOUT}
    LABELS "unit;${T_LABELS}"
    SKIP_RETURN_CODE 77
    ENVIRONMENT "LIAISON_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data")
endfunction()

# liaison_add_fuzzer(<name> LIBS <targets...>)
# tests/fuzz/<name>_fuzzer.c, corpus in tests/fuzz/corpus/<name>/.  With
# LIAISON_FUZZ it links libFuzzer; without, it links a replay main and the
# corpus runs as a plain ctest so every parser sees its seeds on every build.
function(liaison_add_fuzzer name)
  cmake_parse_arguments(F "" "" "LIBS" ${ARGN})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(LIAISON_FUZZ)
    add_executable(${name}_fuzzer ${name}_fuzzer.c)
    target_link_libraries(${name}_fuzzer PRIVATE ${F_LIBS})
    target_link_options(${name}_fuzzer PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name}_fuzzer ${name}_fuzzer.c replay_main.c)
    target_link_libraries(${name}_fuzzer PRIVATE ${F_LIBS})
  endif()
  if(LIAISON_FUZZ)
    add_test(NAME fuzz_replay.${name} COMMAND ${name}_fuzzer -runs=0 ${corpus})
  else()
    add_test(NAME fuzz_replay.${name} COMMAND ${name}_fuzzer ${corpus})
  endif()
  set_tests_properties(fuzz_replay.${name} PROPERTIES TIMEOUT 300 LABELS "fuzz")
endfunction()
