#include "cli/exit_codes.hpp"

namespace warren::cli {

int ExitCodeForState(std::string_view state) {
  if (state == "succeeded") {
    return kExitOk;
  }
  if (state == "dead") {
    return kExitDead;
  }
  if (state == "cancelled") {
    return kExitCancelled;
  }
  if (state == "expired") {
    return kExitExpired;
  }
  return kExitError;
}

bool IsFinalState(std::string_view state) {
  return state == "succeeded" || state == "dead" || state == "cancelled" || state == "expired";
}

}  // namespace warren::cli
