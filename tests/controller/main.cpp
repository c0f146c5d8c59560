#define BOOST_TEST_MODULE controller
#include <boost/test/unit_test.hpp>

#include "kube/log.hpp"

// The controller logs every write it makes; the tests check the writes themselves.
struct quiet_log {
    quiet_log() {
        apr::kube::set_log_sink([](apr::kube::log_level, std::string_view) {});
    }
};
BOOST_TEST_GLOBAL_FIXTURE(quiet_log);
