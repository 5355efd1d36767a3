// ProcessGate: the control thread swaps what the audio thread runs, and the audio thread never runs
// it mid-swap nor waits. The swap below replaces a plain (non-atomic) object the audio thread reads:
// a gate that let the two overlap shows as a use-after-free under AddressSanitizer, a data race under
// ThreadSanitizer, and as an occupied gate after close() in any build.
#include "lmdm/ProcessGate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

namespace {

struct Model {
  int generation = 0;
  long long reads = 0;
};

TEST(ProcessGate, StartsClosedAndOpensAndClosesWithoutAnAudioThread) {
  lmdm::ProcessGate gate;
  EXPECT_FALSE(gate.isOpen());
  EXPECT_FALSE(gate.enter());
  gate.open();
  ASSERT_TRUE(gate.enter());
  gate.leave();
  gate.close();  // nobody inside: returns at once
  EXPECT_FALSE(gate.enter());
}

TEST(ProcessGate, TheAudioThreadNeverRunsWhatIsBeingSwapped) {
  lmdm::ProcessGate gate;
  auto model = std::make_unique<Model>();
  Model* running = model.get();  // what the audio thread reads; changed only while the gate is closed
  gate.open();
  std::atomic<bool> stop{false}, inside{false}, overlapped{false};
  std::atomic<long long> entered{0}, refused{0};
  std::thread audio([&] {
    while (!stop.load()) {
      if (!gate.enter()) {
        refused.fetch_add(1);
        continue;
      }
      lmdm::InsideGate leave(gate);
      inside.store(true);
      running->reads += 1;  // plain read-modify-write of the object the control thread replaces
      if (running->generation < 0) overlapped.store(true);
      inside.store(false);
      entered.fetch_add(1);
    }
  });
  for (int generation = 1; generation <= 300; ++generation) {
    gate.close();
    if (inside.load()) overlapped.store(true);
    auto next = std::make_unique<Model>();
    next->generation = generation;
    model->generation = -1;  // a reader after this line would see the overlap
    running = next.get();
    model = std::move(next);  // frees the old one
    const long long before = entered.load();
    gate.open();
    // Let the audio thread run each generation at least once: on a loaded machine the whole loop
    // could otherwise finish before the audio thread is first scheduled, and test nothing.
    while (entered.load() == before) std::this_thread::yield();
  }
  stop.store(true);
  audio.join();
  EXPECT_FALSE(overlapped.load());
  EXPECT_GE(entered.load(), 300);
  EXPECT_EQ(running->generation, 300);
}

}  // namespace
