#pragma once
// The subcommands of the one binary. Each returns the process exit code; main only dispatches.

#include "codec/read_file.hpp"

#include <string>
#include <vector>

namespace apr::cli {

using arguments = std::vector<std::string>;

int run_validate(const arguments& args);
int run_plan(const arguments& args);
int run_serve(const arguments& args);
int run_status(const arguments& args);
// Operator commands (operator_commands.cpp).
int run_pause(const arguments& args);
int run_resume(const arguments& args);
int run_promote(const arguments& args);
int run_abort(const arguments& args);
int run_retry(const arguments& args);
int run_hold(const arguments& args);
int run_release(const arguments& args);
int run_dashboard(const arguments& args);

// --port-file: the bound port and a newline, written whole (a reader never sees half of it).
void write_port_file(const std::string& path, unsigned short port);

// Reads a whole file; throws std::runtime_error naming the file.
using codec::read_file;

}  // namespace apr::cli
