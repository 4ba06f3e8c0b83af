#include "core/thread_name.hpp"

#include <pthread.h>

#include <string>

namespace warren {

void NameThisThread(std::string_view name) {
  const std::string truncated(name.substr(0, 15));  // the kernel's limit: 16 bytes with the NUL
  (void)pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace warren
