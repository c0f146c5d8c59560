#pragma once
// The typed error every kube call returns instead of throwing: either an API server answer
// decoded from a `kind: Status` body (code, reason, message), or a transport failure (code 0).

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>

namespace apr::kube {

struct api_error {
    int code = 0;         // HTTP status; 0 when no response was received
    std::string reason;   // Status.reason ("Conflict", "NotFound", "Expired", ...) or
                          // "Transport"/"Timeout"/"BadResponse" for local failures
    std::string message;  // Status.message or a description of the local failure
    boost::system::error_code transport;

    bool is_conflict() const { return code == 409 && reason != "AlreadyExists"; }
    bool is_already_exists() const { return code == 409 && reason == "AlreadyExists"; }
    bool is_not_found() const { return code == 404; }
    // client-go treats Expired and Gone alike (isExpiredError): both mean "re-list".
    bool is_gone() const { return code == 410 || reason == "Expired" || reason == "Gone"; }
    bool is_transport() const { return code == 0; }

    std::string describe() const;
};

class api_exception : public std::runtime_error {
public:
    explicit api_exception(api_error e) : std::runtime_error(e.describe()), error(std::move(e)) {}
    api_error error;
};

// Lets `result.value()` throw a readable exception (used in tests and at startup only).
[[noreturn]] void throw_exception_from_error(const api_error& e, const boost::source_location& loc);

template <class T>
using api_result = boost::system::result<T, api_error>;

}  // namespace apr::kube
