#pragma once
// Read-modify-write with optimistic concurrency, as client-go's retry.RetryOnConflict: GET the
// object, let the caller change it, PUT it back with the resourceVersion it was read at; on 409
// re-GET and re-apply the change, so a concurrent writer's fields are never overwritten.

#include "kube/client.hpp"

#include <chrono>
#include <functional>

namespace apr::kube {

struct conflict_retry {
    int steps = 5;  // client-go DefaultRetry
    std::chrono::milliseconds delay{10};
    double jitter = 0.1;
};

// Applies the caller's change to the freshly read object; return false to skip the write (the
// object already says what the caller wants). Use the document's allocator for new values.
using mutate_fn = std::function<bool(rapidjson::Document& object)>;

// `path` is the object to write, e.g. ".../progressiverollouts/x/status" for a status
// subresource (then the object is read from ".../progressiverollouts/x"). Returns the written object, or the object
// as read when `mutate` returned false; a 409 after `steps` attempts is returned as is.
api_result<rapidjson::Document> update_with_retry(client& c, std::string_view path, const mutate_fn& mutate,
                                                  conflict_retry policy = {});

}  // namespace apr::kube
