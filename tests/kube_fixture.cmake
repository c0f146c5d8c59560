# Tests that need the real test control plane (scripts/testenv.sh): CTest fixture "kube".
# testenv_start / testenv_stop (tests/e2e/CMakeLists.txt) bracket every test that requires it,
# and the cleanup runs even when a test fails, so no etcd or kube-apiserver is left running.
set(APR_TESTENV_DIR ${CMAKE_BINARY_DIR}/testenv)
set(APR_TESTENV_ENV ${APR_TESTENV_DIR}/env)

# apr_add_kube_test(NAME SOURCES ... LIBS ... [LABELS ...])
# A Boost.Test executable that reads the environment file named by $APR_TESTENV
# (KEY=value lines, see scripts/testenv.sh). Kube tests share one API server and the
# namespace argocd, so they run one at a time (RESOURCE_LOCK kube).
function(apr_add_kube_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  apr_add_test(${name} SOURCES ${T_SOURCES} LIBS ${T_LIBS} LABELS e2e ${T_LABELS})
  set_tests_properties(${name} PROPERTIES
    FIXTURES_REQUIRED kube
    RESOURCE_LOCK kube
    ENVIRONMENT "APR_TESTENV=${APR_TESTENV_ENV}")
endfunction()
