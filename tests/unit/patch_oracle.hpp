#pragma once
// An independent RFC 6902 implementation to check our patches against: kubectl's
// (`kubectl patch --local --type json`), the same json-patch library family the API server uses.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace apr::test {

inline std::string apply_json_patch(const std::string& object_json, const std::string& patch_json) {
    char dir_template[] = "/tmp/apr-patch-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (!dir) throw std::runtime_error("mkdtemp failed");
    const std::filesystem::path base(dir);
    std::ofstream(base / "object.json") << object_json;
    std::ofstream(base / "patch.json") << patch_json;
    const std::string command = "KUBECONFIG=/dev/null kubectl patch --local -f " + (base / "object.json").string() +
                                " --type json --patch-file " + (base / "patch.json").string() + " -o json 2>&1";
    std::string out;
    if (FILE* p = popen(command.c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        const int rc = pclose(p);
        std::filesystem::remove_all(base);
        if (rc != 0) throw std::runtime_error("kubectl patch failed: " + out);
        return out;
    }
    std::filesystem::remove_all(base);
    throw std::runtime_error("cannot run kubectl");
}

}  // namespace apr::test
