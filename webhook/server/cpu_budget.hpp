// How many CPUs this process may really use, to size the serving threads: the CPUs in its
// affinity mask (taskset, cpusets, a pod's static CPU policy), limited by the CFS quota of its
// cgroup (a pod's limits.cpu). std::thread::hardware_concurrency() counts the machine's cores
// instead, which starts 32 threads in a pod limited to one CPU on a 32-core node; they then
// take turns on one CPU's quota and every request waits for the throttled ones
// (docs/operations.md, Threads).
// What does not live here: the threads themselves (worker_pool.hpp).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace apr::server {

// cgroup v2 `cpu.max`: "max PERIOD" (no limit) or "QUOTA PERIOD" in microseconds. The quota in
// whole CPUs, rounded up (1.5 CPUs of time is two threads' worth of work at moments); nullopt
// for no limit and for anything that does not parse.
std::optional<unsigned> quota_cpus_of_cpu_max(std::string_view cpu_max);

// cgroup v1 `cpu.cfs_quota_us` ("-1": no limit) and `cpu.cfs_period_us`, likewise.
std::optional<unsigned> quota_cpus_of_cfs(std::string_view quota_us, std::string_view period_us);

// The affinity count limited by a quota, at least 1.
unsigned usable_cpus(unsigned affinity_count, std::optional<unsigned> quota_cpus);

// The same for one cpu.max text: "max 100000" -> affinity_count, "150000 100000" -> 2 (if the
// affinity allows 2), garbage -> affinity_count.
unsigned usable_cpus_for_cpu_max(std::string_view cpu_max, unsigned affinity_count);

struct cpu_quota {
    std::optional<unsigned> cpus;  // the tightest quota found, in CPUs rounded up; none: no limit
    std::string file;              // the file it came from
};

// The tightest CPU quota on this process's cgroup and its ancestors, given the cgroup mount
// (/sys/fs/cgroup) and the text of /proc/self/cgroup: cgroup v2 `cpu.max` in the unified
// hierarchy, cgroup v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us` under `cpu,cpuacct` or `cpu`.
// Without a cgroup namespace /proc/self/cgroup names a host path the container's mount lacks;
// the mount's own files, which are then the container's cgroup, are read in any case.
cpu_quota find_cgroup_quota(const std::filesystem::path& cgroup_root, std::string_view proc_self_cgroup);

struct cpu_budget {
    unsigned affinity = 1;          // CPUs in this process's affinity mask
    std::optional<unsigned> quota;  // the tightest cgroup quota found, in CPUs rounded up
    std::string quota_file;         // the file it came from, for the startup log
    unsigned usable = 1;            // usable_cpus(affinity, quota)
};

// Reads the affinity mask (sched_getaffinity) and find_cgroup_quota("/sys/fs/cgroup",
// /proc/self/cgroup).
cpu_budget read_cpu_budget();

}  // namespace apr::server
