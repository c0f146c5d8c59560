#pragma once
// Kubernetes IntOrString as used by maxClusters / maxUnavailable, with the project's single
// rounding rule: round down, but a non-zero percentage of a non-empty set is at least 1.

#include <optional>
#include <string>

namespace apr::core {

struct int_or_percent {
    bool is_percent = false;
    long long value = 0;  // the integer, or N of "N%"
    std::string text;     // as written when it came from a string (for messages)
    bool well_formed = true;

    static int_or_percent integer(long long v) { return {false, v, std::to_string(v), true}; }
    static int_or_percent percent(long long p) { return {true, p, std::to_string(p) + "%", true}; }
    // Accepts "N%" only; anything else is kept with well_formed == false so validation can
    // report it with the user's own spelling.
    static int_or_percent parse(std::string_view s);

    // How many of `total` this stands for. Integers are not capped here (callers cap).
    long long resolve(long long total) const;

    bool is_zero() const { return well_formed && value == 0; }
    std::string to_string() const { return is_percent || !well_formed ? text : std::to_string(value); }
    friend bool operator==(const int_or_percent& a, const int_or_percent& b) {
        return a.is_percent == b.is_percent && a.value == b.value && a.well_formed == b.well_formed &&
               (a.well_formed || a.text == b.text);
    }
};

}  // namespace apr::core
