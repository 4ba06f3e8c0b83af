// Enqueues jobs over AMQP with the C++ SDK's client.
// Run: warren_example_enqueue [amqp-url] [queue]
#include <iostream>

#include <warren/warren.hpp>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;

  warren::ClientOptions options;
  if (argc > 1) {
    options.amqp_url = argv[1];
  }
  warren::EnqueueOptions where;
  if (argc > 2) {
    where.queue = argv[2];
  }
  try {
    warren::Client client(options);
    std::cout << client.enqueue("resize", {{"src", "cat.png"}, {"width", 320}}, where) << " resize\n";

    warren::EnqueueOptions later = where;
    later.delay = 2s;
    later.max_attempts = 5;
    later.timeout = 30s;
    later.tags = {"example"};
    std::cout << client.enqueue("checksum", {{"text", "hello"}}, later) << " checksum (in 2 s)\n";

    try {
      client.enqueue("resize", nullptr, {.queue = where.queue, .priority = 42});
    } catch (const std::invalid_argument& e) {
      std::cout << "refused before publishing: " << e.what() << "\n";
    }
  } catch (const warren::EnqueueError& e) {
    std::cerr << "enqueue failed (" << e.reason() << "): " << e.what() << "\n";
    return 1;
  } catch (const std::invalid_argument& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  return 0;
}
