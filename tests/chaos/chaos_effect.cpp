// The command job of the chaos scenarios: a side effect that can be counted, and the poisons.
//   chaos_effect append FILE ID ATTEMPT MS   sleeps MS, then appends "ID ATTEMPT\n" to FILE (O_APPEND:
//                                            one write per line, so concurrent jobs never interleave)
//   chaos_effect crash-parent                kills its worker with SIGKILL
//   chaos_effect hang                        sleeps until killed (its job's timeout does that)
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "append" && argc == 6) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(argv[5])));
    const std::string line = std::string(argv[3]) + " " + argv[4] + "\n";
    const int fd = ::open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::perror("chaos_effect: append");
      return 1;
    }
    ::close(fd);
    std::puts("{\"appended\": true}");
    return 0;
  }
  if (mode == "crash-parent") {
    ::kill(::getppid(), SIGKILL);
    std::this_thread::sleep_for(std::chrono::seconds(5));
    return 1;
  }
  if (mode == "hang") {
    for (;;) {
      ::pause();
    }
  }
  std::fprintf(stderr, "usage: chaos_effect append FILE ID ATTEMPT MS | crash-parent | hang\n");
  return 2;
}
