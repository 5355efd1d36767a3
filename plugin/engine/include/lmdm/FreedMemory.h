// Hands memory the process has freed back to the operating system, after a model is unloaded.
//
// glibc keeps freed heap memory for reuse and, after the first large block is freed, raises its mmap
// threshold, so a model package's weights and ONNX Runtime's buffers (~50 MB) stay resident after the
// model is gone: each reload in a long DAW session grew the resident memory (bench/results/soak.json,
// docs/reliability.md "The hour"). Elsewhere (macOS, Windows) the allocators return large blocks
// themselves and this does nothing.
#pragma once

namespace lmdm {

/** Not real-time safe: walks the allocator's arenas (a few ms). Call after freeing a model. */
void returnFreedMemory();

}  // namespace lmdm
