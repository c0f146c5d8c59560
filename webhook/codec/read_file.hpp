#pragma once
// The one way every layer reads a whole file (certificates, kubeconfig, tokens, manifests,
// cgroup files): bytes as they are on disk, no newline translation.

#include <filesystem>
#include <optional>
#include <string>

namespace apr::codec {

// The file's contents; throws std::runtime_error "<path>: cannot read file (<reason>)" otherwise.
std::string read_file(const std::filesystem::path& path);
// The file's contents, or nullopt when it cannot be opened or read.
std::optional<std::string> read_file_if_present(const std::filesystem::path& path);

}  // namespace apr::codec
