#include "codec/canonical_json.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

namespace apr::codec {

namespace {

void write_canonical(rapidjson::Writer<rapidjson::StringBuffer>& w, const rapidjson::Value& v) {
    if (v.IsObject()) {
        std::vector<const rapidjson::Value::Member*> members;
        members.reserve(v.MemberCount());
        for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) members.push_back(&*it);
        std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
            return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
                   std::string_view(b->name.GetString(), b->name.GetStringLength());
        });
        w.StartObject();
        for (const auto* m : members) {
            w.Key(m->name.GetString(), m->name.GetStringLength());
            write_canonical(w, m->value);
        }
        w.EndObject();
    } else if (v.IsArray()) {
        w.StartArray();
        for (const auto& item : v.GetArray()) write_canonical(w, item);
        w.EndArray();
    } else {
        v.Accept(w);
    }
}

}  // namespace

bool surely_same_json(const rapidjson::Value& a, const rapidjson::Value& b) {
    if (a.GetType() != b.GetType()) return false;
    switch (a.GetType()) {
        case rapidjson::kNullType:
        case rapidjson::kFalseType:
        case rapidjson::kTrueType:
            return true;
        case rapidjson::kStringType:
            return a.GetStringLength() == b.GetStringLength() &&
                   std::memcmp(a.GetString(), b.GetString(), a.GetStringLength()) == 0;
        case rapidjson::kNumberType: {
            // The Writer writes a double and an integer of the same value differently ("1.0", "1"),
            // and 0.0 and -0.0 differently: doubles are compared bit for bit.
            if (a.IsDouble() || b.IsDouble()) {
                if (!a.IsDouble() || !b.IsDouble()) return false;
                const double x = a.GetDouble(), y = b.GetDouble();
                return std::memcmp(&x, &y, sizeof x) == 0;
            }
            if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
            return a.IsUint64() && b.IsUint64() && a.GetUint64() == b.GetUint64();
        }
        case rapidjson::kArrayType: {
            if (a.Size() != b.Size()) return false;
            for (rapidjson::SizeType i = 0; i < a.Size(); ++i)
                if (!surely_same_json(a[i], b[i])) return false;
            return true;
        }
        case rapidjson::kObjectType: {
            // Same keys in the same order (what the API server writes for both objects of a review).
            if (a.MemberCount() != b.MemberCount()) return false;
            for (auto x = a.MemberBegin(), y = b.MemberBegin(); x != a.MemberEnd(); ++x, ++y)
                if (!surely_same_json(x->name, y->name) || !surely_same_json(x->value, y->value)) return false;
            return true;
        }
    }
    return false;
}

std::string canonical_json(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    write_canonical(w, value);
    return {buffer.GetString(), buffer.GetSize()};
}

std::string content_hash(std::string_view text) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 8; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    // EVP_EncodeBlock writes no newlines, as the AdmissionReview patch field requires.
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    if (text.empty()) return std::string();
    std::string out(3 * text.size() / 4, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero bytes.
    std::size_t padding = 0;
    if (text.back() == '=') ++padding;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

}  // namespace apr::codec
