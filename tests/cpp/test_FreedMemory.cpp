// returnFreedMemory hands freed heap pages back to the system (glibc), which a model reload relies on
// for a flat resident memory over a long session (docs/reliability.md "Soak").
#include "lmdm/FreedMemory.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <vector>

namespace {

double residentMegabytes() {
  std::ifstream statm("/proc/self/statm");
  long long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace

TEST(FreedMemory, ReturnsFreedHeapPagesToTheSystem) {
  // What a model leaves behind: many heap blocks (as glibc serves them once its mmap threshold has
  // risen), freed under a block still in use, so that free() alone cannot shrink the heap's top.
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024), 1);
  ASSERT_EQ(mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024), 1);
  std::vector<char*> blocks;
  for (int i = 0; i < 800; ++i) {  // 800 x 128 KB = 100 MB, touched so that it is resident
    blocks.push_back(static_cast<char*>(std::malloc(128 * 1024)));
    std::memset(blocks.back(), 1, 128 * 1024);
  }
  char* stillInUse = static_cast<char*>(std::malloc(64));
  const double filled = residentMegabytes();
  for (char* block : blocks) std::free(block);
  const double freed = residentMegabytes();
  lmdm::returnFreedMemory();
  const double returned = residentMegabytes();
  std::free(stillInUse);
  EXPECT_GT(freed, filled - 20.0) << "free() alone returned the memory: the test no longer shows anything";
  EXPECT_LT(returned, freed - 80.0) << "filled " << filled << " MB, freed " << freed << " MB, returned " << returned;
}
