// The latency workload's load generator: HTTP requests at a fixed rate (open loop) over keep-alive
// connections, one thread per connection. The Python one it replaces topped out near 1,300
// requests/s on 2 cores, so the 5,000/s row measured the generator, not the system.
//
//   warren_bench_open_loop PORT RATE SECONDS CONNECTIONS post_job|add_job
//
// Request i is due at start + i / RATE; a connection takes the next due request, waits for its time,
// sends it and reads the answer. stdout gets one line per 2xx answer: the job's key (the id in a
// POST /v1/jobs answer; `b<i>` for GET /add-job/b<i>) and the send time (Unix seconds); stderr gets
// a summary. A request more than 1 s behind its schedule is not sent (the system cannot take the rate).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::system_clock;

double Seconds(Clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

struct Answer {
  int status = 0;
  std::string body;
  bool close = false;
};

// Reads one HTTP/1.1 answer (Content-Length framing, as Warren and gunicorn send). `buffer` keeps
// bytes past it for the next answer.
std::optional<Answer> ReadAnswer(int fd, std::string& buffer) {
  char chunk[8192];
  size_t head_end = std::string::npos;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) {
      return std::nullopt;
    }
    buffer.append(chunk, static_cast<size_t>(n));
  }
  std::string head = buffer.substr(0, head_end);
  for (auto& c : head) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  Answer answer;
  if (head.size() < 12) {
    return std::nullopt;
  }
  answer.status = std::atoi(head.c_str() + 9);
  size_t length = 0;
  bool framed = false;
  if (const auto at = head.find("content-length:"); at != std::string::npos) {
    length = std::strtoul(head.c_str() + at + 15, nullptr, 10);
    framed = true;
  }
  answer.close = !framed || head.find("connection: close") != std::string::npos;
  const size_t body_at = head_end + 4;
  while (buffer.size() < body_at + length) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) {
      return std::nullopt;
    }
    buffer.append(chunk, static_cast<size_t>(n));
  }
  answer.body = buffer.substr(body_at, length);
  buffer.erase(0, body_at + length);
  return answer;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PORT RATE SECONDS CONNECTIONS post_job|add_job\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const double rate = std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  const int connections = std::atoi(argv[4]);
  const std::string mode = argv[5];
  if (port <= 0 || rate <= 0 || seconds <= 0 || connections <= 0 || (mode != "post_job" && mode != "add_job")) {
    std::fprintf(stderr, "open_loop: bad arguments\n");
    return 2;
  }
  const auto total = static_cast<long>(rate * seconds);
  const std::string body = R"({"type":"warren.noop"})";
  const std::string post = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body;
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  const auto due = [&](long i) {
    return start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate));
  };
  std::atomic<long> next{0};
  std::atomic<long> ok{0};
  std::atomic<long> refused{0};
  std::atomic<long> skipped{0};
  std::atomic<long> failed{0};
  std::mutex out_mu;
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      int fd = -1;
      std::string buffer;
      std::string lines;
      for (long i = next++; i < total; i = next++) {
        std::this_thread::sleep_until(due(i));
        if (Clock::now() - due(i) > std::chrono::seconds(1)) {
          ++skipped;
          continue;
        }
        const std::string request =
            mode == "post_job" ? post : "GET /add-job/b" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
        bool done = false;
        for (int attempt = 0; attempt < 3 && !done; ++attempt) {
          if (fd < 0) {
            fd = Connect(port);
            buffer.clear();
            if (fd < 0) {
              continue;
            }
          }
          const auto sent = Clock::now();
          std::optional<Answer> answer;
          if (SendAll(fd, request)) {
            answer = ReadAnswer(fd, buffer);
          }
          if (!answer) {
            ::close(fd);
            fd = -1;
            continue;
          }
          done = true;
          if (answer->status >= 200 && answer->status < 300) {
            std::string key;
            if (mode == "add_job") {
              key = "b" + std::to_string(i);
            } else if (const auto at = answer->body.find(R"("id":")"); at != std::string::npos) {
              key = answer->body.substr(at + 6, answer->body.find('"', at + 6) - (at + 6));
            }
            if (!key.empty()) {
              ++ok;
              char line[128];
              std::snprintf(line, sizeof line, " %.6f\n", Seconds(sent));
              lines += key + line;
            }
          } else {
            ++refused;
          }
          if (answer->close) {
            ::close(fd);
            fd = -1;
          }
        }
        if (!done) {
          ++failed;
        }
      }
      if (fd >= 0) {
        ::close(fd);
      }
      std::lock_guard lock(out_mu);
      std::fwrite(lines.data(), 1, lines.size(), stdout);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "open_loop: scheduled %ld, 2xx %ld, other status %ld, not sent (behind) %ld, failed %ld, %.2f s\n",
               total, ok.load(), refused.load(), skipped.load(), failed.load(), elapsed);
  return 0;
}
