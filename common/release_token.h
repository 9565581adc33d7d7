// A token that runs `on_release` once, when its last copy is gone: a count or guard that
// follows something handed to callbacks, pipes or other threads, whose holders need not
// know its type (a shared_ptr<void> owning nothing, with a deleter that does the work).
#pragma once

#include <memory>
#include <utility>

namespace ptp {

template <class F>
std::shared_ptr<void> release_token(F on_release) {
  return std::shared_ptr<void>(nullptr, [f = std::move(on_release)](void*) mutable { f(); });
}

}  // namespace ptp
