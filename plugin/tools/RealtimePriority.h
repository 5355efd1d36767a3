// Real-time scheduling for the simulated audio thread, as JACK, PipeWire and DAWs give theirs.
#pragma once

#include <string>

namespace lmdm::tools {

/** Allocates (the text). Asks for SCHED_FIFO at `priority` for the calling thread. Returns what the thread got, e.g.
    "SCHED_FIFO 70" or "SCHED_OTHER (SCHED_FIFO refused: Operation not permitted)". */
std::string requestRealtimePriority(int priority);

}  // namespace lmdm::tools
