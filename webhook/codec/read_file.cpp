#include "codec/read_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace apr::codec {

namespace {

// errno 0 when the file opened and read; its code otherwise.
std::optional<std::string> read(const std::filesystem::path& path, int& error) {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = errno != 0 ? errno : ENOENT;
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        error = errno != 0 ? errno : EIO;
        return std::nullopt;
    }
    error = 0;
    return std::move(text).str();
}

}  // namespace

std::string read_file(const std::filesystem::path& path) {
    int error = 0;
    if (auto text = read(path, error)) return std::move(*text);
    throw std::runtime_error(path.string() + ": cannot read file (" + std::strerror(error) + ")");
}

std::optional<std::string> read_file_if_present(const std::filesystem::path& path) {
    int error = 0;
    return read(path, error);
}

}  // namespace apr::codec
