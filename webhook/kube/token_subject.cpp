#include "kube/token_subject.hpp"

#include "codec/canonical_json.hpp"
#include "codec/input_limits.hpp"
#include "codec/json_reader.hpp"

#include <boost/algorithm/string/trim.hpp>

#include <rapidjson/document.h>

#include <algorithm>

namespace apr::kube {

std::string token_subject(std::string_view token) {
    auto first = token.find('.');
    if (first == std::string_view::npos) return {};
    auto second = token.find('.', first + 1);
    if (second == std::string_view::npos) return {};
    // base64url without padding -> base64
    std::string payload(token.substr(first + 1, second - first - 1));
    std::replace(payload.begin(), payload.end(), '-', '+');
    std::replace(payload.begin(), payload.end(), '_', '/');
    while (payload.size() % 4) payload += '=';
    auto json = codec::base64_decode(payload);
    if (!json) return {};
    rapidjson::Document doc;
    return codec::parse_json(doc, *json) ? std::string() : codec::string_at(doc, {"sub"});
}

std::string credentials_subject(const cluster_config& config) {
    std::string token = config.token;
    if (!config.token_file.empty()) token = read_file(config.token_file);
    boost::trim(token);
    return token_subject(token);
}

}  // namespace apr::kube
