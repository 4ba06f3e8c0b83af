// The exit codes of `warren`'s client commands (README, "The CLI").
#pragma once

#include <string_view>

namespace warren::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;        // the API said no (its code and message), or a client error
inline constexpr int kExitUsage = 2;        // bad flags or arguments
inline constexpr int kExitUnreachable = 3;  // no answer from the server
inline constexpr int kExitDead = 4;         // enqueue --wait: the job ended dead
inline constexpr int kExitCancelled = 5;    // ... cancelled
inline constexpr int kExitExpired = 6;      // ... expired (past its deadline)

// The exit code of `enqueue --wait` for the state a job ended in: 0 for succeeded, 4/5/6 for the
// others, 1 for a state that is not terminal (never expected).
int ExitCodeForState(std::string_view state);

// True for the states a job never leaves by itself: succeeded, dead, cancelled, expired.
bool IsFinalState(std::string_view state);

}  // namespace warren::cli
