// TcpProxy: each accepted connection gets a connection to the target and two pumps (client → target,
// target → client) that read a chunk and write it on. Everything runs on the one io thread, so the
// proxy's state needs no lock; the public calls post onto it.
#include "support/tcp_proxy.hpp"

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "core/asio.hpp"

namespace warren::testing {
namespace {

using tcp = asio::ip::tcp;
constexpr auto kStallPoll = std::chrono::milliseconds(20);
constexpr size_t kChunk = 16 * 1024;

}  // namespace

class TcpProxy::Impl {
 public:
  class Pipe;

  Impl(std::string host, unsigned short port)
      : target_(asio::ip::make_address(host), port), acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~Impl() {
    asio::post(ioc_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      CloseAll();
    });
    ioc_.stop();
    thread_.join();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void Accept();
  void CloseAll();
  // Runs `next` once the proxy is not stalled (at once when it is not).
  void AfterUnstalled(std::function<void()> next) {
    if (!stalled_) {
      next();
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(ioc_, kStallPoll);
    timer->async_wait([this, timer, next = std::move(next)](beast::error_code ec) mutable {
      if (!ec) {
        AfterUnstalled(std::move(next));
      }
    });
  }

  const tcp::endpoint target_;
  unsigned short port_ = 0;
  std::atomic<bool> stalled_{false};
  std::atomic<size_t> open_{0};
  std::atomic<size_t> accepted_{0};
  std::map<Pipe*, std::weak_ptr<Pipe>> pipes_;  // io thread only; declared before ioc_ (pipes outlive it)
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

class TcpProxy::Impl::Pipe : public std::enable_shared_from_this<Pipe> {
 public:
  Pipe(Impl& proxy, tcp::socket client)
      : proxy_(proxy), client_(std::move(client)), upstream_(proxy.ioc_) {
    ++proxy_.open_;
  }
  ~Pipe() {
    Close();
    proxy_.pipes_.erase(this);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  void Start() {
    proxy_.pipes_[this] = weak_from_this();
    // A stalled path accepts the connection but reaches nothing behind it.
    proxy_.AfterUnstalled([self = shared_from_this()] {
      self->upstream_.async_connect(self->proxy_.target_, [self](beast::error_code ec) {
        if (ec) {
          self->Close();
          return;
        }
        self->Pump(self->client_, self->upstream_, self->up_);
        self->Pump(self->upstream_, self->client_, self->down_);
      });
    });
  }

  void Close() {
    if (closed_) {
      return;
    }
    closed_ = true;
    --proxy_.open_;
    beast::error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
  }

 private:
  void Pump(tcp::socket& from, tcp::socket& to, std::array<char, kChunk>& buffer) {
    auto self = shared_from_this();
    proxy_.AfterUnstalled([self, &from, &to, &buffer] {
      from.async_read_some(asio::buffer(buffer), [self, &from, &to, &buffer](beast::error_code ec, size_t n) {
        // Held while stalled, even a close: a stalled path tells neither side anything.
        self->proxy_.AfterUnstalled([self, ec, n, &from, &to, &buffer] {
          if (ec) {
            self->Close();
            return;
          }
          asio::async_write(to, asio::buffer(buffer.data(), n),
                            [self, &from, &to, &buffer](beast::error_code write_ec, size_t) {
                              if (write_ec) {
                                self->Close();
                                return;
                              }
                              self->Pump(from, to, buffer);
                            });
        });
      });
    });
  }

  Impl& proxy_;
  tcp::socket client_;
  tcp::socket upstream_;
  std::array<char, kChunk> up_{};    // client → target
  std::array<char, kChunk> down_{};  // target → client
  bool closed_ = false;
};

void TcpProxy::Impl::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
      return;
    }
    if (!ec) {
      ++accepted_;
      std::make_shared<Pipe>(*this, std::move(socket))->Start();
    }
    Accept();
  });
}

void TcpProxy::Impl::CloseAll() {
  std::vector<std::shared_ptr<Pipe>> live;
  for (const auto& [raw, weak] : pipes_) {
    if (auto pipe = weak.lock()) {
      live.push_back(std::move(pipe));
    }
  }
  for (const auto& pipe : live) {
    pipe->Close();
  }
}

TcpProxy::TcpProxy(std::string target_host, unsigned short target_port)
    : impl_(std::make_shared<Impl>(std::move(target_host), target_port)) {}

TcpProxy::~TcpProxy() = default;

unsigned short TcpProxy::Port() const { return impl_->port_; }

void TcpProxy::DropAll() {
  asio::post(impl_->ioc_, [impl = impl_.get()] { impl->CloseAll(); });
}

void TcpProxy::Stall() { impl_->stalled_ = true; }
void TcpProxy::Resume() { impl_->stalled_ = false; }
size_t TcpProxy::Connections() const { return impl_->open_; }
size_t TcpProxy::Accepted() const { return impl_->accepted_; }

}  // namespace warren::testing
