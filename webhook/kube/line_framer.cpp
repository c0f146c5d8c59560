#include "kube/line_framer.hpp"

namespace apr::kube {

bool line_framer::feed(std::string_view bytes, const std::function<void(std::string& line)>& on_line) {
    while (!bytes.empty()) {
        auto nl = bytes.find('\n');
        if (nl == std::string_view::npos) {
            if (partial_.size() + bytes.size() > max_line_) {
                partial_.clear();
                return false;
            }
            partial_.append(bytes);
            return true;
        }
        if (partial_.size() + nl > max_line_) {
            partial_.clear();
            return false;
        }
        line_.swap(partial_);
        partial_.clear();
        line_.append(bytes.substr(0, nl));
        bytes.remove_prefix(nl + 1);
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        if (!line_.empty()) on_line(line_);
        line_.clear();
    }
    return true;
}

}  // namespace apr::kube
