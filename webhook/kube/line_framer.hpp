#pragma once
// Splits a watch body into events. The API server's JSON framer writes one object per line,
// but the bytes arrive in arbitrary chunks: an event may span many chunks and a chunk may hold
// many events, so bytes are buffered until a newline completes a line.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace apr::kube {

class line_framer {
public:
    // A line longer than this is treated as a broken stream (the watch is then restarted).
    explicit line_framer(std::size_t max_line = std::size_t(64) << 20) : max_line_(max_line) {}

    // Calls on_line for each complete, non-empty line (without the newline; a trailing '\r' is
    // dropped). Returns false when a line exceeds max_line; the buffered bytes are discarded.
    // The string passed to on_line is mutable so the caller can parse it in situ.
    bool feed(std::string_view bytes, const std::function<void(std::string& line)>& on_line);

    // Bytes of an incomplete line still buffered (non-zero at end of stream: truncated event).
    std::size_t pending() const { return partial_.size(); }

    void reset() { partial_.clear(); }

private:
    std::size_t max_line_;
    std::string partial_;
    std::string line_;
};

}  // namespace apr::kube
