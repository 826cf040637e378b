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
  T &back() { return slots_[at(size_ - 1)]; }

  template <typename... A> void emplace_back(A &&...args)
  {
    if (size_ == slots_.size())
      grow();
    slots_[at(size_)] = T(std::forward<A>(args)...);
    ++size_;
  }
  void pop_front()
  {
    head_ = at(1);
    --size_;
  }
  // Removes the entries for which pred is true; the rest keep their order.
  template <typename P> void erase_if(P pred)
  {
    size_t kept = 0;
    for (size_t i = 0; i < size_; ++i) {
      T &v = slots_[at(i)];
      if (!pred(v))
        std::swap(slots_[at(kept++)], v);
    }
    size_ = kept;
  }

private:
  // The slot of the i-th entry. The ring's size is a power of two (64, doubling), so a mask, not
  // a division (which cost as much as the rest of a push).
  size_t at(size_t i) const { return (head_ + i) & (slots_.size() - 1); }
  void grow()
  {
    std::vector<T> bigger(slots_.empty() ? 64 : 2 * slots_.size());
    for (size_t i = 0; i < size_; ++i)
      bigger[i] = std::move(slots_[at(i)]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

} // namespace vigil
