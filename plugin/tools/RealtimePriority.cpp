#include "RealtimePriority.h"

#include <cstring>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <sched.h>
#endif

namespace lmdm::tools {

std::string requestRealtimePriority(int priority) {
#if defined(__unix__) || defined(__APPLE__)
  sched_param parameters{};
  parameters.sched_priority = priority;
  const int error = pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters);
  if (error == 0) return "SCHED_FIFO " + std::to_string(priority);
  return std::string("SCHED_OTHER (SCHED_FIFO refused: ") + std::strerror(error) + ")";
#else
  (void)priority;
  return "default (real-time priority not implemented on this platform)";
#endif
}

}  // namespace lmdm::tools
