#include "kube/update.hpp"

#include <random>
#include <thread>

namespace apr::kube {

api_result<rapidjson::Document> update_with_retry(client& c, std::string_view path, const mutate_fn& mutate,
                                                  conflict_retry policy) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // A status subresource is read through the main object: its GET returns the same body and
    // least-privilege RBAC grants only update/patch on .../status.
    std::string_view read_path = path;
    constexpr std::string_view status_suffix = "/status";
    if (read_path.size() > status_suffix.size() &&
        read_path.substr(read_path.size() - status_suffix.size()) == status_suffix)
        read_path.remove_suffix(status_suffix.size());
    api_result<rapidjson::Document> last = api_error{};
    for (int attempt = 0; attempt < std::max(1, policy.steps); ++attempt) {
        if (attempt > 0) {
            // Pacing between attempts (not synchronization): lets the other writer finish.
            auto d =
                std::chrono::duration<double, std::milli>(policy.delay.count() * (1.0 + policy.jitter * unit(rng)));
            std::this_thread::sleep_for(d);
        }
        auto current = c.get(read_path);
        if (!current) return current.error();
        if (!mutate(*current)) return current;
        last = c.put(path, to_json(*current));
        if (last || !last.error().is_conflict()) return last;
    }
    return last;
}

}  // namespace apr::kube
