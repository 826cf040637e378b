// SPDX-License-Identifier: Apache-2.0
// A bounded multi-producer queue whose one consumer takes everything queued at once. The writer
// thread drains by batch, so producers (the pipeline) share the lock with it once per batch
// rather than once per record, and wake it only when it sleeps: per record the pipeline pays an
// uncontended lock and a vector push, never a futex call while the writer is busy.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace vigil::eventlog {

template <typename T> class BatchQueue {
public:
  explicit BatchQueue(size_t capacity) : capacity_(capacity) {}

  // Never blocks; false when full (capacity items not yet taken) or closed.
  bool try_push(T &&v)
  {
    std::unique_lock lock(mu_);
    if (closed_ || items_.size() >= capacity_)
      return false;
    items_.push_back(std::move(v));
    const bool wake = waiting_;
    lock.unlock();
    if (wake)
      cv_.notify_one();
    return true;
  }

  // Replaces out with everything queued, waiting up to timeout while nothing is. Returns false
  // once the queue is closed and empty.
  bool take_all(std::vector<T> &out, std::chrono::milliseconds timeout)
  {
    out.clear();
    std::unique_lock lock(mu_);
    if (items_.empty() && !closed_) {
      waiting_ = true;
      cv_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
      waiting_ = false;
    }
    out.swap(items_);
    return !(closed_ && out.empty());
  }

  void close()
  {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

private:
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<T> items_;
  bool closed_ = false;
  bool waiting_ = false;
};

} // namespace vigil::eventlog
