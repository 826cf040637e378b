// SPDX-License-Identifier: Apache-2.0
// A FIFO queue in one growable ring of slots: unlike std::deque, which allocates a block every few
// dozen pushes and frees it when the front passes, it allocates only when it grows past the
// most it ever held, so a queue that stays within its size costs no allocation per push.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace vigil {

template <typename T> class RingQueue {
public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  T &front() { return slots_[head_]; }

  template <typename... A> void emplace_back(A &&...args)
  {
    if (size_ == slots_.size())
      grow();
    slots_[(head_ + size_) % slots_.size()] = T(std::forward<A>(args)...);
    ++size_;
  }
  void pop_front()
  {
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }
  // Removes the entries for which pred is true; the rest keep their order.
  template <typename P> void erase_if(P pred)
  {
    size_t kept = 0;
    for (size_t i = 0; i < size_; ++i) {
      T &v = slots_[(head_ + i) % slots_.size()];
      if (!pred(v))
        std::swap(slots_[(head_ + kept++) % slots_.size()], v);
    }
    size_ = kept;
  }

private:
  void grow()
  {
    std::vector<T> bigger(slots_.empty() ? 64 : 2 * slots_.size());
    for (size_t i = 0; i < size_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

} // namespace vigil
