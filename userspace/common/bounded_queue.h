// SPDX-License-Identifier: Apache-2.0
// A bounded multi-producer queue between the ring reader and the pipeline worker. try_push never
// blocks (the reader must keep draining the kernel ring); a full queue is the caller's drop.
// Bounded by items and, given a weight function, by bytes: an agent picks how big its events
// are (an exec carries up to ~11 KiB), so a count alone bounds nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace vigil {

template <typename T>
class BoundedQueue {
public:
  using Weigh = size_t (*)(const T &);
  explicit BoundedQueue(size_t capacity, size_t max_bytes = SIZE_MAX, Weigh weigh = nullptr)
      : capacity_(capacity), max_bytes_(max_bytes), weigh_(weigh)
  {
  }

  bool try_push(T &&v)
  {
    const size_t w = weigh_ ? weigh_(v) : 0;
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_ || (w && bytes_ + w > max_bytes_))
        return false;
      items_.push_back(std::move(v));
      bytes_ += w;
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
    if (weigh_)
      bytes_ -= weigh_(v);
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

  size_t bytes() const
  {
    std::lock_guard lock(mu_);
    return bytes_;
  }

private:
  const size_t capacity_;
  const size_t max_bytes_;
  const Weigh weigh_;
  size_t bytes_ = 0; // guarded by mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  bool closed_ = false;
};

} // namespace vigil
