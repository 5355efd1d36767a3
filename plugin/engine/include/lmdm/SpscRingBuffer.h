// Bounded single-producer / single-consumer lock-free FIFO.
//
// One thread pushes, one thread pops; neither ever blocks or allocates after construction.
// Capacity is rounded up to a power of two so that indices wrap with a mask; the read and write
// counters grow monotonically (64-bit, never overflow in practice) and live on separate cache lines.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace lmdm {

template <typename T>
class SpscRingBuffer {
 public:
  /** Allocates. `minCapacity` elements fit at once (rounded up to a power of two). */
  explicit SpscRingBuffer(std::size_t minCapacity)
      : capacity_(roundUpToPowerOfTwo(std::max<std::size_t>(minCapacity, 2))),
        mask_(capacity_ - 1),
        storage_(std::make_unique<T[]>(capacity_)) {}

  std::size_t capacity() const { return capacity_; }

  /** Real-time safe. Elements the consumer may pop now (a lower bound seen from the producer). */
  std::size_t availableToRead() const {
    return static_cast<std::size_t>(writeIndex_.load(std::memory_order_acquire) -
                                    readIndex_.load(std::memory_order_acquire));
  }

  /** Real-time safe. Free slots the producer may fill now (a lower bound seen from the consumer). */
  std::size_t availableToWrite() const { return capacity_ - availableToRead(); }

  /** Producer only; real-time safe. Pushes all `count` elements or none; returns whether it did. */
  bool push(const T* data, std::size_t count) {
    const std::uint64_t write = writeIndex_.load(std::memory_order_relaxed);
    const std::uint64_t read = readIndex_.load(std::memory_order_acquire);
    if (capacity_ - static_cast<std::size_t>(write - read) < count) return false;
    copyIn(write, data, count);
    writeIndex_.store(write + count, std::memory_order_release);
    return true;
  }

  bool push(const T& value) { return push(&value, 1); }

  /** Consumer only; real-time safe. Pops exactly `count` elements or none; returns whether it did. */
  bool pop(T* data, std::size_t count) {
    if (!peek(data, count)) return false;
    skip(count);
    return true;
  }

  bool pop(T& value) { return pop(&value, 1); }

  /** Consumer only; real-time safe. Copies the oldest `count` elements without removing them. */
  bool peek(T* data, std::size_t count) const {
    const std::uint64_t read = readIndex_.load(std::memory_order_relaxed);
    const std::uint64_t write = writeIndex_.load(std::memory_order_acquire);
    if (static_cast<std::size_t>(write - read) < count) return false;
    copyOut(read, data, count);
    return true;
  }

  /** Consumer only; real-time safe. Drops up to `count` of the oldest elements. */
  void skip(std::size_t count) {
    const std::uint64_t read = readIndex_.load(std::memory_order_relaxed);
    const std::uint64_t write = writeIndex_.load(std::memory_order_acquire);
    count = std::min<std::size_t>(count, static_cast<std::size_t>(write - read));
    readIndex_.store(read + count, std::memory_order_release);
  }

 private:
  static std::size_t roundUpToPowerOfTwo(std::size_t n) {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
  }

  // Copies run in at most two contiguous pieces: up to the end of storage, then from its start.
  void copyIn(std::uint64_t index, const T* data, std::size_t count) {
    const std::size_t start = static_cast<std::size_t>(index) & mask_;
    const std::size_t first = std::min(count, capacity_ - start);
    std::copy(data, data + first, storage_.get() + start);
    std::copy(data + first, data + count, storage_.get());
  }

  void copyOut(std::uint64_t index, T* data, std::size_t count) const {
    const std::size_t start = static_cast<std::size_t>(index) & mask_;
    const std::size_t first = std::min(count, capacity_ - start);
    std::copy(storage_.get() + start, storage_.get() + start + first, data);
    std::copy(storage_.get(), storage_.get() + (count - first), data + first);
  }

  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<T[]> storage_;
  alignas(64) std::atomic<std::uint64_t> writeIndex_{0};
  alignas(64) std::atomic<std::uint64_t> readIndex_{0};
};

}  // namespace lmdm
