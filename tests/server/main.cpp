// Boost.Test entry point for the server suites (real TLS on real ports).
#define BOOST_TEST_MODULE server
#include <boost/test/unit_test.hpp>
