#include "kube/update.hpp"

#include <random>
#include <thread>

namespace apr::kube {

api_result<rapidjson::Document>
update_with_retry(client& c, std::string_view path, mutate_fn const& mutate, conflict_retry policy)
{
    static thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    api_result<rapidjson::Document> last = api_error{};
    for(int attempt = 0; attempt < std::max(1, policy.steps); ++attempt)
    {
        if(attempt > 0)
        {
            // Pacing between attempts (not synchronization): lets the other writer finish.
            auto d = std::chrono::duration<double, std::milli>(policy.delay.count() *
                (1.0 + policy.jitter * unit(rng)));
            std::this_thread::sleep_for(d);
        }
        auto current = c.get(path);
        if(!current)
            return current.error();
        if(!mutate(*current))
            return current;
        last = c.put(path, to_json(*current));
        if(last || !last.error().is_conflict())
            return last;
    }
    return last;
}

} // namespace apr::kube
