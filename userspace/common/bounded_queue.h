// SPDX-License-Identifier: Apache-2.0
// A bounded multi-producer queue between the ring reader and the pipeline worker. try_push never
// blocks (the reader must keep draining the kernel ring); a full queue is the caller's drop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace vigil {

template <typename T>
class BoundedQueue {
public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  bool try_push(T &&v)
  {
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_)
        return false;
      items_.push_back(std::move(v));
    }
    cv_.notify_one();
    return true;
  }

  // Waits up to timeout for an item. Returns nullopt on timeout or when closed and empty.
  std::optional<T> pop(std::chrono::milliseconds timeout)
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
    if (items_.empty())
      return std::nullopt;
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }

  void close()
  {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

  bool closed_and_empty() const
  {
    std::lock_guard lock(mu_);
    return closed_ && items_.empty();
  }

  size_t size() const
  {
    std::lock_guard lock(mu_);
    return items_.size();
  }

private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  bool closed_ = false;
};

} // namespace vigil
