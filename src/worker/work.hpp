// `warren work`: a worker process. The signal handling is shared with the SDK's warren::Worker::run().
#pragma once

#include <chrono>
#include <csignal>
#include <memory>

#include "core/config.hpp"
#include "worker/worker.hpp"

namespace warren::worker {

// Runs until SIGINT/SIGTERM, then drains; returns the process exit code.
int RunWork(const Settings& settings);

// Blocks SIGINT and SIGTERM in the calling thread, so every thread it creates afterwards inherits the
// mask and the signals wait for WaitForStopSignal. The previous mask goes to `previous` when given.
sigset_t BlockStopSignals(sigset_t* previous = nullptr);
// Waits (sigwait) for one of `signals`, logs it, and returns it.
int WaitForStopSignal(const sigset_t& signals);
// Drains `worker` for up to `grace`; another of `signals` meanwhile exits the process at once (code 1).
// Once drained, destroys the worker and returns 0. When handlers were still running after the grace,
// or one ignored its stop past the kill grace, exits the process (0, or 3 for a recycle): their
// threads cannot be joined, and their messages were handed back already.
int DrainWatchingSignals(std::unique_ptr<Worker>& worker, const sigset_t& signals,
                         std::chrono::milliseconds grace);

}  // namespace warren::worker
