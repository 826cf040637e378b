// SPDX-License-Identifier: Apache-2.0
// A bounded multi-producer queue whose one consumer takes everything queued at once. The writer
// thread drains by batch, so producers (the pipeline) share the lock with it once per batch
// rather than once per record, and wake it only when it sleeps: per record the pipeline pays an
// uncontended lock and a vector push, never a futex call while the writer is busy.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace vigil::eventlog {

template <typename T> class BatchQueue {
public:
  // Bounded by items and, given a weight function, by bytes (records are up to ~11 KiB each).
  using Weigh = size_t (*)(const T &);
  explicit BatchQueue(size_t capacity, size_t max_bytes = SIZE_MAX, Weigh weigh = nullptr)
      : capacity_(capacity), max_bytes_(max_bytes), weigh_(weigh)
  {
  }

  // Never blocks; false when full (capacity items or max_bytes not yet taken) or closed.
  bool try_push(T &&v)
  {
    const size_t w = weigh_ ? weigh_(v) : 0;
    std::unique_lock lock(mu_);
    if (closed_ || items_.size() >= capacity_ || (w && bytes_ + w > max_bytes_))
      return false;
    items_.push_back(std::move(v));
    bytes_ += w;
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
    bytes_ = 0;
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
  const size_t max_bytes_;
  const Weigh weigh_;
  size_t bytes_ = 0; // guarded by mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<T> items_;
  bool closed_ = false;
  bool waiting_ = false;
};

} // namespace vigil::eventlog
