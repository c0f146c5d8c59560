#include "cpu_budget.hpp"

#include "codec/read_file.hpp"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <thread>
#include <vector>

namespace apr::server {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

template <class Int>
std::optional<Int> parse_whole(std::string_view s) {
    s = trim(s);
    Int value{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<unsigned> whole_cpus(std::int64_t quota, std::int64_t period) {
    if (quota <= 0 || period <= 0) {
        return std::nullopt;  // v1's -1 is "no limit"; zero or less is nothing we can size by
    }
    const auto cpus = (static_cast<std::uint64_t>(quota) + static_cast<std::uint64_t>(period) - 1) /
                      static_cast<std::uint64_t>(period);
    return static_cast<unsigned>(std::min<std::uint64_t>(cpus, 1u << 20));
}

unsigned affinity_count() {
    // A mask sized for 1024 CPUs fails with EINVAL on bigger machines: grow until it fits.
    for (int cpus = 1024; cpus <= (1 << 16); cpus *= 2) {
        cpu_set_t* set = CPU_ALLOC(cpus);
        if (set == nullptr) {
            break;
        }
        std::size_t const size = CPU_ALLOC_SIZE(cpus);
        CPU_ZERO_S(size, set);
        const int rc = sched_getaffinity(0, size, set);
        const int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
        CPU_FREE(set);
        if (rc == 0) {
            return static_cast<unsigned>(std::max(count, 1));
        }
        if (errno != EINVAL) {
            break;
        }
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

// This process's cgroup path for a v1 controller ("cpu") or, with an empty name, the v2 one,
// from /proc/self/cgroup lines "ID:CONTROLLERS:PATH".
std::optional<std::string> own_cgroup(std::string_view proc_self_cgroup, std::string_view controller) {
    std::istringstream lines{std::string(proc_self_cgroup)};
    std::string line;
    while (std::getline(lines, line)) {
        const auto first = line.find(':');
        const auto second = first == std::string::npos ? first : line.find(':', first + 1);
        if (second == std::string::npos) {
            continue;
        }
        std::string_view const controllers(line.data() + first + 1, second - first - 1);
        bool match = controller.empty() && controllers.empty();
        for (std::size_t at = 0; !controller.empty() && at <= controllers.size();) {
            const auto comma = std::min(controllers.find(',', at), controllers.size());
            match = match || controllers.substr(at, comma - at) == controller;
            at = comma + 1;
        }
        if (match) {
            return line.substr(second + 1);
        }
    }
    return std::nullopt;
}

// The directories from this process's cgroup up to the mount point, each that exists. Without
// a cgroup namespace /proc/self/cgroup names a host path the container's mount lacks; the walk
// then only reaches the mount point, which is the container's own cgroup.
std::vector<std::filesystem::path> cgroup_dirs(const std::filesystem::path& mount,
                                               const std::optional<std::string>& own) {
    namespace fs = std::filesystem;
    std::vector<fs::path> dirs;
    std::error_code ec;
    if (!fs::is_directory(mount, ec)) {
        return dirs;
    }
    fs::path rel = own ? fs::path(*own).relative_path().lexically_normal() : fs::path();
    if (!rel.empty() && !rel.has_filename()) {
        rel = rel.parent_path();  // "a/b/" -> "a/b"
    }
    // A path above the namespace's root ("/../x") cannot be followed; the mount point still is.
    while (!rel.empty() && rel != "." && *rel.begin() != "..") {
        if (fs::is_directory(mount / rel, ec)) {
            dirs.push_back(mount / rel);
        }
        rel = rel.parent_path();
    }
    dirs.push_back(mount);
    return dirs;
}

}  // namespace

std::optional<unsigned> quota_cpus_of_cpu_max(std::string_view cpu_max) {
    std::string_view const text = trim(cpu_max);
    const auto space = text.find_first_of(" \t");
    if (space == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view const quota = text.substr(0, space);
    const auto period = parse_whole<std::int64_t>(text.substr(space + 1));
    if (quota == "max" || !period) {
        return std::nullopt;
    }
    const auto q = parse_whole<std::int64_t>(quota);
    return q ? whole_cpus(*q, *period) : std::nullopt;
}

std::optional<unsigned> quota_cpus_of_cfs(std::string_view quota_us, std::string_view period_us) {
    const auto quota = parse_whole<std::int64_t>(quota_us);
    const auto period = parse_whole<std::int64_t>(period_us);
    return quota && period ? whole_cpus(*quota, *period) : std::nullopt;
}

unsigned usable_cpus(unsigned affinity, std::optional<unsigned> quota_cpus) {
    unsigned usable = std::max(affinity, 1u);
    if (quota_cpus) {
        usable = std::min(usable, *quota_cpus);
    }
    return std::max(usable, 1u);
}

unsigned usable_cpus_for_cpu_max(std::string_view cpu_max, unsigned affinity_count) {
    return usable_cpus(affinity_count, quota_cpus_of_cpu_max(cpu_max));
}

cpu_quota find_cgroup_quota(const std::filesystem::path& cgroup_root, std::string_view proc_self_cgroup) {
    cpu_quota found;
    auto take_tighter = [&found](std::optional<unsigned> cpus, const std::filesystem::path& file) {
        if (cpus && (!found.cpus || *cpus < *found.cpus)) {
            found.cpus = cpus;
            found.file = file.string();
        }
    };
    for (const auto& dir : cgroup_dirs(cgroup_root, own_cgroup(proc_self_cgroup, ""))) {
        if (auto text = codec::read_file_if_present(dir / "cpu.max")) {
            take_tighter(quota_cpus_of_cpu_max(*text), dir / "cpu.max");
        }
    }
    for (const char* controllers : {"cpu,cpuacct", "cpu"}) {
        const auto own = own_cgroup(proc_self_cgroup, "cpu");
        for (const auto& dir : cgroup_dirs(cgroup_root / controllers, own)) {
            auto quota = codec::read_file_if_present(dir / "cpu.cfs_quota_us");
            auto period = codec::read_file_if_present(dir / "cpu.cfs_period_us");
            if (quota && period) {
                take_tighter(quota_cpus_of_cfs(*quota, *period), dir / "cpu.cfs_quota_us");
            }
        }
    }
    return found;
}

cpu_budget read_cpu_budget() {
    cpu_budget budget;
    budget.affinity = affinity_count();
    const auto quota =
        find_cgroup_quota("/sys/fs/cgroup", codec::read_file_if_present("/proc/self/cgroup").value_or(""));
    budget.quota = quota.cpus;
    budget.quota_file = quota.file;
    budget.usable = usable_cpus(budget.affinity, budget.quota);
    return budget;
}

}  // namespace apr::server
