// Lets a control thread swap or re-prepare what the audio thread runs without the audio thread ever
// waiting. The audio thread enters the gate for one callback (or finds it closed and passes audio
// through); the control thread closes it and then waits, sleeping, until the audio thread is out.
// JUCE's suspendProcessing() would do the same with its callback lock, which the audio thread then
// has to take: a lock on the audio thread, held by a thread of lower priority.
//
// Why it is correct: both sides store their own flag, then load the other's, all sequentially
// consistent (Dekker). Either the audio thread's `inside_` store comes first, and close() sees it and
// waits; or the control thread's `open_` store comes first, and enter() sees the gate closed.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

namespace lmdm {

class ProcessGate {
 public:
  /** Audio thread (one at a time). True: the gate is open and the caller may run until leave(). Never waits. */
  bool enter() noexcept {
    inside_.store(true, std::memory_order_seq_cst);
    if (open_.load(std::memory_order_seq_cst)) return true;
    inside_.store(false, std::memory_order_release);
    return false;
  }

  /** Audio thread, after an enter() that returned true. */
  void leave() noexcept { inside_.store(false, std::memory_order_release); }

  /** Control thread. Closes the gate and returns once the audio thread is outside it: it may then
      change what the audio thread runs. Waits at most as long as one audio callback. */
  void close() noexcept {
    open_.store(false, std::memory_order_seq_cst);
    while (inside_.load(std::memory_order_seq_cst)) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }

  /** Control thread. The audio thread may run again from its next enter(). */
  void open() noexcept { open_.store(true, std::memory_order_seq_cst); }

  bool isOpen() const noexcept { return open_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> open_{false};
  std::atomic<bool> inside_{false};
};

/** Leaves the gate when it goes out of scope; constructed only after an enter() that returned true. */
class InsideGate {
 public:
  explicit InsideGate(ProcessGate& gate) noexcept : gate_(gate) {}
  ~InsideGate() { gate_.leave(); }
  InsideGate(const InsideGate&) = delete;
  InsideGate& operator=(const InsideGate&) = delete;

 private:
  ProcessGate& gate_;
};

}  // namespace lmdm
