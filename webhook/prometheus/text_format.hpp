#pragma once
// The Prometheus text exposition format (version 0.0.4), written line by line: HELP and TYPE
// headers and samples with escaped label values. The server's registry and the controller's
// collectors both write through it, so every label value is escaped the same way.

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace apr::prometheus {

struct label {
    std::string_view name;
    std::string_view value;
};

// Escapes a label value: backslash, double quote and newline.
void append_escaped_label_value(std::string& out, std::string_view value);
// Escapes HELP text: backslash and newline.
void append_escaped_help(std::string& out, std::string_view help);
// `# HELP name help\n# TYPE name type\n`.
void append_header(std::string& out, std::string_view name, std::string_view help, std::string_view type);
// A sample value: integers without a fraction, +Inf/-Inf/NaN spelled as Prometheus wants.
void append_sample_value(std::string& out, double value);
// `{a="x",b="y"}`; nothing for an empty list.
void append_labels(std::string& out, std::span<const label> labels);
// `name{a="x",b="y"} value\n`; empty label lists print no braces.
void append_sample(std::string& out, std::string_view name, std::span<const label> labels, double value);
inline void append_sample(std::string& out, std::string_view name, std::initializer_list<label> labels, double value) {
    append_sample(out, name, std::span<const label>(labels.begin(), labels.size()), value);
}

}  // namespace apr::prometheus
