// The only translation unit of the API that includes Beast (about 20 s to compile here): keep it so.
#include "api/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/asio.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace warren::api {
namespace {

using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 4096;
// How long the accept loop pauses after an accept error (EMFILE, ENFILE, ENOBUFS) instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

// Boost 1.74's beast::string_view is boost::string_view, not std::string_view.
std::string_view ToStd(beast::string_view text) { return {text.data(), text.size()}; }

std::string Lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "Address already in use" → "address already in use": the message goes after a colon in one line.
std::string LowerFirst(std::string text) {
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

// The Date field of RFC 9110 §6.6.1 (IMF-fixdate).
std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 64> buffer{};
  const size_t n = std::strftime(buffer.data(), buffer.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return {buffer.data(), n};
}

std::string EndpointString(const tcp::endpoint& endpoint) {
  return HostPort{endpoint.address().to_string(), endpoint.port()}.ToString();
}

// A parse error that is the client's fault (bad method token, bad target, bad header, bad chunk, ...),
// as opposed to the stream ending mid-request, where nobody is left to answer.
bool IsMalformedRequest(const beast::error_code& ec) {
  if (ec.category() != beast::error_code(http::error::bad_target).category()) {
    return false;
  }
  return ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer && ec != http::error::end_of_chunk &&
         ec != http::error::stale_parser;
}

using RequestParser = http::request_parser<http::string_body>;

void ApplyLimits(RequestParser& parser, const ServerOptions& options) {
  parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
  parser.body_limit(options.body_limit);
}

// Room beyond the header limit for a chunk's size line and a pipelined request's start.
constexpr size_t kChunkHeaderSlack = 4096;

// The most unparsed bytes a connection holds. Beast 1.74 limits neither a chunk's extensions nor the
// trailer (header_limit covers only the request's own header): a chunk size line or trailer without
// an end was buffered until memory ran out. The parser moves body bytes out as they arrive, so only a
// header, a chunk's size line or the trailer ever needs room here.
size_t ReadBufferLimit(const ServerOptions& options) { return options.header_limit + kChunkHeaderSlack; }

// What a connection answers after a read error, or nullopt when nobody is left to answer (the
// stream ended mid-request, a timeout, a reset).
std::optional<Response> ReadErrorResponse(const beast::error_code& ec, const ServerOptions& options) {
  if (ec == http::error::header_limit) {
    return ErrorResponse(431, "header_too_large",
                         fmt::format("the request line and headers exceed {} bytes", options.header_limit));
  }
  if (ec == http::error::body_limit) {
    return ErrorResponse(413, "body_too_large", fmt::format("the request body exceeds {} bytes", options.body_limit));
  }
  if (ec == http::error::buffer_overflow) {
    // The read buffer is full and the parser still wants more: a chunk's size line (its extensions)
    // or the trailer, the only parts no Beast limit covers. Both are header-like fields, hence 431.
    return ErrorResponse(
        431, "header_too_large",
        fmt::format("a chunk's size line or the trailer exceeds {} bytes", ReadBufferLimit(options)));
  }
  if (IsMalformedRequest(ec)) {
    // Any other parse error is the client's malformed request (bad method token, bad target, bad
    // header, bad chunk, ...). Beast's message says which.
    return ErrorResponse(400, "bad_request", fmt::format("malformed HTTP request: {}", ec.message()));
  }
  return std::nullopt;
}

// The handler's view of a parsed request (the body is moved out of `message`).
Request ToRequest(http::request<http::string_body>& message) {
  Request request;
  request.method = std::string(ToStd(message.method_string()));
  request.target = std::string(ToStd(message.target()));
  for (const auto& field : message) {
    auto name = Lowercase(ToStd(field.name_string()));
    auto [it, inserted] = request.headers.try_emplace(std::move(name), ToStd(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second += ToStd(field.value());
    }
  }
  request.body = std::move(message.body());
  return request;
}

class Session;

// The BodyStream of one streamed response: bytes queue here (any thread) and the session writes them
// on its strand. `kick_` posts that write; it holds the session weakly, so a stream outliving its
// connection only answers false.
class StreamWriter : public BodyStream {
 public:
  StreamWriter(size_t backlog, std::function<void()> kick) : backlog_(backlog), kick_(std::move(kick)) {}

  bool Send(std::string bytes) override {
    bool start = false;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        return false;
      }
      if (queued_ + bytes.size() > backlog_) {
        closed_ = true;  // too far behind: the session closes the connection on its next turn
        start = true;
      } else {
        queued_ += bytes.size();
        pending_ += bytes;
        start = !writing_;
        writing_ = true;
      }
    }
    if (start) {
      kick_();
    }
    std::lock_guard lock(mu_);
    return !closed_;
  }

  // On the session's strand: the bytes to write next (empty when none), or nullopt when closed.
  std::optional<std::string> Take() {
    std::lock_guard lock(mu_);
    if (closed_) {
      return std::nullopt;
    }
    if (pending_.empty()) {
      writing_ = false;
    }
    return std::exchange(pending_, {});
  }
  void Written(size_t n) {
    std::lock_guard lock(mu_);
    queued_ -= std::min(queued_, n);
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }

 private:
  const size_t backlog_;
  const std::function<void()> kick_;
  std::mutex mu_;
  std::string pending_;   // guarded by mu_
  size_t queued_ = 0;     // guarded by mu_: pending plus being written
  bool writing_ = false;  // guarded by mu_: a write turn is posted or running
  bool closed_ = false;   // guarded by mu_
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(ServerOptions options)
      : options_(std::move(options)),
        accept_strand_(asio::make_strand(ioc_)),
        acceptor_(accept_strand_),
        accept_retry_timer_(accept_strand_) {}

  ~Impl() { Stop(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void Listen();
  HostPort LocalEndpoint() const { return local_; }
  void Start(Handler handler);
  void BeginShutdown();
  bool WaitIdle(std::chrono::milliseconds timeout);
  size_t ConnectionCount() const;
  void Stop();

  // Called by sessions.
  void Register(const std::shared_ptr<Session>& session);
  void Unregister(Session* session);
  bool Stopping() const { return stopping_.load(); }
  const ServerOptions& Options() const { return options_; }
  const Handler& RequestHandler() const { return handler_; }

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);

  const ServerOptions options_;
  Handler handler_;  // set once in Start, before any io thread runs
  HostPort local_;
  std::atomic<bool> stopping_{false};

  // Declared before ioc_ on purpose: sessions still queued in ioc_ are destroyed with it and
  // unregister themselves here, so these must outlive it.
  mutable std::mutex mutex_;
  std::condition_variable idle_cv_;                                // waits with mutex_
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;  // guarded by mutex_

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::strand<asio::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;                 // used on accept_strand_ only once threads run
  asio::steady_timer accept_retry_timer_;  // likewise
  std::chrono::steady_clock::time_point next_limit_warning_;  // likewise: the max_connections warning
  std::vector<std::thread> threads_;
  bool stopped_ = false;  // Stop() ran; touched by the owning thread only
};

namespace {

// One connection. Everything below runs on the connection's strand, except the Responder's sink,
// which only posts onto it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl& server)
      : server_(server),
        options_(server.Options()),
        stream_(std::move(socket)),
        buffer_(ReadBufferLimit(options_)) {
    beast::error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? std::string("?") : EndpointString(peer);
  }
  ~Session() { server_.Unregister(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() {
    server_.Register(shared_from_this());
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->WaitForRequest(); });
  }

  // From BeginShutdown, on any thread.
  void RequestShutdown() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->shutdown_requested_ = true;
      if (self->phase_ == Phase::kStreaming) {
        self->Close();
        return;
      }
      if (self->phase_ == Phase::kIdle) {
        self->stream_.cancel();  // the pending wait ends with operation_aborted: the session ends
      }
    });
  }

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kStreaming, kClosing };

  bool ShouldClose() const { return shutdown_requested_ || server_.Stopping(); }

  // Between requests. The idle timeout applies until the first byte of the next request arrives; from
  // then on the (shorter) request timeout covers the whole request.
  void WaitForRequest() {
    if (ShouldClose()) {
      Close();
      return;
    }
    phase_ = Phase::kIdle;
    if (buffer_.size() > 0) {  // a pipelined request is already here
      ReadHeader();
      return;
    }
    stream_.expires_after(options_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec) {
                                // eof, timeout, reset or shutdown between requests: nothing to answer.
                                self->Close();
                                return;
                              }
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    phase_ = Phase::kReading;
    parser_.emplace();
    ApplyLimits(*parser_, options_);
    // The first byte is here: the headers must follow within the header timeout, the whole request
    // within the request timeout (slowloris: a byte every few seconds holds nothing for long).
    request_began_ = std::chrono::steady_clock::now();
    stream_.expires_after(std::min(options_.header_timeout, options_.request_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->OnReadError(ec);
                                return;
                              }
                              self->OnHeader();
                            });
  }

  void OnHeader() {
    const auto& header = parser_->get();
    // A client that sent `Expect: 100-continue` waits for a go-ahead before sending its body. The body
    // limit was already checked against Content-Length, so a too-large body was refused above.
    if (!parser_->is_done() && beast::iequals(header[http::field::expect], "100-continue")) {
      continue_ = http::response<http::empty_body>{http::status::continue_, header.version()};
      http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) {
          self->Close();
          return;
        }
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) {
      OnRequest();
      return;
    }
    stream_.expires_at(request_began_ + options_.request_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->OnReadError(ec);
        return;
      }
      self->OnRequest();
    });
  }

  void OnReadError(beast::error_code ec) {
    if (auto response = ReadErrorResponse(ec, options_)) {
      WriteError(std::move(*response));
    } else {
      Close();  // closed mid-request, a timeout or a reset: nobody is left to answer
    }
  }

  // After a read error the stream is out of step: answer, then close without reading further.
  void WriteError(Response response) {
    response.close = true;
    linger_ = true;
    // For the access log: the request line, when it was parsed before the error.
    method_ = parser_ ? std::string(ToStd(parser_->get().method_string())) : std::string();
    target_ = parser_ ? std::string(ToStd(parser_->get().target())) : std::string();
    method_ = method_.empty() ? "-" : method_;
    target_ = target_.empty() ? "-" : target_;
    keep_alive_ = false;
    version_ = parser_ && parser_->get().version() == 10 ? 10 : 11;
    started_ = Clock::now();
    Write(std::move(response));
  }

  void OnRequest() {
    phase_ = Phase::kHandling;
    stream_.expires_never();  // the handler's own deadline (e.g. the publish timeout) bounds this phase
    started_ = Clock::now();
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    version_ = message.version();

    Request request = ToRequest(message);
    request.remote = remote_;
    method_ = request.method;
    target_ = request.target;
    parser_.reset();

    // The sink may run on any thread (the publisher's, for /add-job): it only posts to our strand.
    Responder respond([self = shared_from_this()](Response response) {
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response)]() mutable { self->Write(std::move(response)); });
    });
    try {
      server_.RequestHandler()(std::move(request), respond);
    } catch (const std::exception& e) {
      spdlog::error("http: handler failed: {}", e.what());
      if (!respond.Answered()) {
        respond(ErrorResponse(500, "internal_error", "the server failed to answer this request"));
      }
    }
  }

  // Status line and the fields every answer carries, plain or streamed.
  template <typename Message>
  void SetHead(Message& message, const Response& response) const {
    message.version(version_);
    message.result(static_cast<unsigned>(response.status));
    message.set(http::field::server, options_.server_name);
    message.set(http::field::date, HttpDate());
    message.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
      message.insert(name, value);
    }
  }

  void Write(Response response) {
    if (response.stream && method_ != "HEAD") {
      WriteStreamHead(std::move(response));
      return;
    }
    phase_ = Phase::kWriting;
    const bool close = response.close || !keep_alive_ || ShouldClose();

    response_ = {};
    SetHead(response_, response);
    const size_t body_size = response.body.size();
    // A HEAD answer announces the length of the body it leaves out (RFC 9110 §9.3.2); a body here
    // would be read as the start of the next response.
    if (method_ != "HEAD") {
      response_.body() = std::move(response.body);
    }
    response_.content_length(body_size);
    response_.keep_alive(!close);

    if (spdlog::should_log(spdlog::level::debug)) {
      const auto elapsed = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
      spdlog::debug("http: {} \"{} {}\" {} {} {:.1f}ms", remote_, method_, JsonEscape(target_),
                    response.status, body_size, elapsed);
    }

    stream_.expires_after(options_.write_timeout);
    http::async_write(stream_, response_, [self = shared_from_this(), close](beast::error_code ec, size_t) {
      if (ec) {
        self->Close();
        return;
      }
      if (close) {
        self->linger_ ? self->Linger() : self->Close();
        return;
      }
      self->WaitForRequest();
    });
  }

  // A streamed body: the head without a length, then whatever the producer sends until either side
  // closes. Reads go to the raw socket, outside the stream's timer, and only watch for the client
  // leaving; writes are bounded by the write timeout.
  void WriteStreamHead(Response response) {
    phase_ = Phase::kWriting;
    stream_head_ = {};
    SetHead(stream_head_, response);
    stream_head_.set(http::field::cache_control, "no-cache");
    stream_head_.keep_alive(false);
    stream_.expires_after(options_.write_timeout);
    http::async_write(
        stream_, stream_head_,
        [self = shared_from_this(), start = std::move(response.stream)](beast::error_code ec, size_t) {
          if (ec) {
            self->Close();
            return;
          }
          self->StartStreaming(start);
        });
  }

  void StartStreaming(const std::function<void(std::shared_ptr<BodyStream>)>& start) {
    phase_ = Phase::kStreaming;
    stream_.expires_never();
    std::weak_ptr<Session> weak = shared_from_this();
    writer_ = std::make_shared<StreamWriter>(options_.stream_backlog, [weak] {
      if (auto self = weak.lock()) {
        asio::post(self->stream_.get_executor(), [self] { self->WriteStreamed(); });
      }
    });
    if (ShouldClose()) {
      Close();
      return;
    }
    stream_.socket().async_read_some(
        asio::buffer(discard_), [self = shared_from_this()](beast::error_code, size_t) {
          self->Close();  // the client sent more (not allowed here) or, usually, left
        });
    start(writer_);
  }

  void WriteStreamed() {
    if (phase_ != Phase::kStreaming || stream_writing_) {
      return;
    }
    auto bytes = writer_->Take();
    if (!bytes) {
      Close();  // the producer's backlog overflowed
      return;
    }
    if (bytes->empty()) {
      return;
    }
    stream_out_ = std::move(*bytes);
    stream_writing_ = true;
    stream_.expires_after(options_.write_timeout);
    asio::async_write(stream_, asio::buffer(stream_out_),
                      [self = shared_from_this()](beast::error_code ec, size_t n) {
                        self->stream_writing_ = false;
                        self->stream_.expires_never();
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->writer_->Written(n);
                        self->WriteStreamed();
                      });
  }

  // Half-close, then read and discard what the client still sends until it closes or the linger
  // timeout passes. Bounded in time, constant in memory.
  void Linger() {
    phase_ = Phase::kClosing;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(options_.linger_timeout);
    Discard();
  }

  void Discard() {
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->Discard();
                            });
  }

  void Close() {
    phase_ = Phase::kClosing;
    if (writer_) {
      writer_->Close();
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  HttpServer::Impl& server_;
  const ServerOptions& options_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;  // bounded (ReadBufferLimit): a full one ends a read with buffer_overflow
  std::optional<RequestParser> parser_;
  http::response<http::string_body> response_;
  http::response<http::empty_body> continue_;
  http::response<http::empty_body> stream_head_;
  std::shared_ptr<StreamWriter> writer_;  // a streamed body's queue, from StartStreaming on
  std::string stream_out_;                // the streamed bytes being written
  bool stream_writing_ = false;
  std::array<char, kReadChunk> discard_{};
  Phase phase_ = Phase::kIdle;
  bool shutdown_requested_ = false;
  bool keep_alive_ = true;
  bool linger_ = false;
  unsigned version_ = 11;
  std::string remote_;
  // For the access log line of the request being answered.
  std::string method_;
  std::string target_;
  Clock::time_point started_;
  std::chrono::steady_clock::time_point request_began_;  // the current request's first byte
};

}  // namespace

void HttpServer::Impl::Listen() {
  const std::string where = fmt::format("serve.listen {}", options_.listen.ToString());
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  const auto results = resolver.resolve(options_.listen.host, std::to_string(options_.listen.port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) {
    throw ListenError(fmt::format("{}: {}", where, LowerFirst(ec.message())));
  }
  // "localhost" may resolve to ::1 and 127.0.0.1: take the first address that binds.
  for (const auto& entry : results) {
    const tcp::endpoint endpoint = entry.endpoint();
    acceptor_.close(ec);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      // SO_REUSEADDR lets a restarted serve bind past old connections in TIME_WAIT; on Linux it does
      // not let two servers listen on one port, so "address already in use" still reports a real clash.
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (!ec) {
      local_ = HostPort{endpoint.address().to_string(), acceptor_.local_endpoint().port()};
      return;
    }
  }
  beast::error_code ignored;
  acceptor_.close(ignored);
  if (!ec) {
    ec = asio::error::host_not_found;
  }
  throw ListenError(fmt::format("{}: {}", where, LowerFirst(ec.message())));
}

void HttpServer::Impl::Start(Handler handler) {
  handler_ = std::move(handler);
  work_.emplace(ioc_.get_executor());
  asio::post(accept_strand_, [this] { DoAccept(); });
  const int count = std::max(1, options_.threads);
  threads_.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("http-io");
      // A handler that throws must not take the io thread (and every connection on it) down.
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: io thread: uncaught exception: {}", e.what());
        }
      }
    });
  }
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || stopping_.load() || !acceptor_.is_open()) {
    return;
  }
  if (ec) {
    // Out of file descriptors or buffers: existing connections keep working; retry shortly rather
    // than spin on an error that will not clear within microseconds.
    spdlog::warn("http: accept failed: {}; retrying in {}ms", ec.message(), kAcceptRetryDelay.count());
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](beast::error_code timer_ec) {
      if (!timer_ec && !stopping_.load()) {
        DoAccept();
      }
    });
    return;
  }
  beast::error_code ignored;
  if (ConnectionCount() >= options_.max_connections) {
    // At the limit: close at once rather than let a flood of (slow) connections take every descriptor.
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_limit_warning_) {
      spdlog::warn("http: {} connections open (api.max_connections); closing new ones until some end",
                   options_.max_connections);
      next_limit_warning_ = now + std::chrono::seconds(10);
    }
    socket.close(ignored);
    DoAccept();
    return;
  }
  // Responses are written in one gather write; no_delay keeps small answers from waiting on the peer's
  // delayed ACK (Nagle) on keep-alive connections.
  socket.set_option(tcp::no_delay(true), ignored);
  std::make_shared<Session>(std::move(socket), *this)->Start();
  DoAccept();
}

void HttpServer::Impl::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(session.get(), session);
}

void HttpServer::Impl::Unregister(Session* session) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session);
  if (sessions_.empty()) {
    idle_cv_.notify_all();
  }
}

void HttpServer::Impl::BeginShutdown() {
  if (stopping_.exchange(true)) {
    return;
  }
  asio::post(accept_strand_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [raw, weak] : sessions_) {
      if (auto session = weak.lock()) {
        live.push_back(std::move(session));
      }
    }
  }
  // Outside the lock: a session dropped here may run its destructor, which takes the lock.
  for (const auto& session : live) {
    session->RequestShutdown();
  }
}

bool HttpServer::Impl::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_cv_.wait_for(lock, timeout, [this] { return sessions_.empty(); });
}

size_t HttpServer::Impl::ConnectionCount() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void HttpServer::Impl::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  stopping_.store(true);
  work_.reset();
  ioc_.stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  threads_.clear();
  beast::error_code ignored;
  acceptor_.close(ignored);
}

std::optional<std::variant<Request, Response>> ParseRequestForTest(std::string_view bytes,
                                                                   const ServerOptions& options) {
  RequestParser parser;
  ApplyLimits(parser, options);
  parser.eager(true);  // a session reads the header, then the body; eager parses both from one buffer
  // The parser sees at most what a connection's read buffer holds.
  const size_t window_limit = ReadBufferLimit(options);
  beast::error_code ec;
  while (!parser.is_done()) {
    const size_t window = std::min(bytes.size(), window_limit);
    const size_t used = parser.put(asio::buffer(bytes.data(), window), ec);
    bytes.remove_prefix(used);
    if (ec == http::error::need_more) {
      ec = used == 0 && window == window_limit ? beast::error_code(http::error::buffer_overflow)
                                               : beast::error_code{};
    }
    if (!ec && !parser.is_done() && (used == 0 || bytes.empty())) {
      // Every byte is in and the request is not complete: the client closed here.
      if (!parser.got_some()) {
        return std::nullopt;  // no request at all (put_eof asserts there was one)
      }
      parser.put_eof(ec);
      if (!ec && !parser.is_done()) {
        return std::nullopt;
      }
    }
    if (ec) {
      if (auto response = ReadErrorResponse(ec, options)) {
        return *response;
      }
      return std::nullopt;
    }
  }
  return ToRequest(parser.get());
}

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() = default;
void HttpServer::Listen() { impl_->Listen(); }
HostPort HttpServer::LocalEndpoint() const { return impl_->LocalEndpoint(); }
void HttpServer::Start(Handler handler) { impl_->Start(std::move(handler)); }
void HttpServer::BeginShutdown() { impl_->BeginShutdown(); }
bool HttpServer::WaitIdle(std::chrono::milliseconds timeout) { return impl_->WaitIdle(timeout); }
size_t HttpServer::ConnectionCount() const { return impl_->ConnectionCount(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace warren::api
