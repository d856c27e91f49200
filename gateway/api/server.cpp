// The HTTP/1.1 server, modeled on the Boost.Beast advanced server: one Session per connection on
// its own strand, do_/on_ pairs, a named limit on everything (limits.hpp). Request handling is
// the Router's (router.hpp); this file only moves bytes and enforces connection limits.
#include "gateway/api/server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <optional>
#include <vector>

#include "adapters/thread_safety.hpp"
#include "gateway/api/limits.hpp"
#include "gateway/api/metrics.hpp"
#include "gateway/api/router.hpp"
#include "gateway/config/config.hpp"

namespace gridlet::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr const char* kServerName = "gridlet";

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

class Session;

// Connection limits as the server applies them (limits.hpp; overridden by [api] in the config).
struct ConnectionLimits {
  std::size_t max_connections = kDefaultMaxConnections;
  std::size_t max_per_address = kDefaultMaxConnectionsPerAddress;
  std::size_t max_awaiting_headers = kDefaultMaxHeaderConnections;
  std::chrono::milliseconds header_timeout = kDefaultHeaderTimeout;

  static ConnectionLimits from(const config::Config* cfg) {
    ConnectionLimits l;
    if (cfg == nullptr) return l;
    l.max_connections = cfg->api.max_connections;
    l.max_per_address = cfg->api.max_connections_per_address;
    l.max_awaiting_headers = cfg->api.max_header_connections;
    l.header_timeout = cfg->api.header_timeout;
    return l;
  }
};

// The open sessions, shared by the server and its sessions so that a session may end on any
// thread (its last owner may be a store callback) without touching the server. It also knows
// which sessions are waiting for request headers (since when), so that the acceptor can make
// room by closing the one that has waited longest: a client that sends its request promptly is
// served even while others hold connections open by trickling headers.
struct Connections {
  using Clock = std::chrono::steady_clock;

  explicit Connections(std::shared_ptr<ApiMetrics> m) : metrics(std::move(m)) {}

  // What the acceptor should do with a new connection from `address`.
  enum class Admission : std::uint8_t { kAdmit, kRefuseAddress, kRefuseFull };

  // Decides and, on kAdmit, registers the session. Sessions evicted to make room are returned
  // (their owners close them); they no longer count.
  Admission admit(const std::shared_ptr<Session>& session, const net::ip::address& address,
                  const ConnectionLimits& limits, std::vector<std::shared_ptr<Session>>* evicted)
      EXCLUDES(mu) {
    {
      adapters::MutexLock lock(mu);
      if (per_address[address] >= limits.max_per_address) return Admission::kRefuseAddress;
      while (awaiting_count() >= limits.max_awaiting_headers ||
             open.size() >= limits.max_connections) {
        auto victim = take_longest_waiting();
        if (!victim) break;
        evicted->push_back(std::move(victim));
      }
      if (open.size() >= limits.max_connections) return Admission::kRefuseFull;
      open.emplace(session.get(), Entry{session, address, std::nullopt});
      ++per_address[address];
    }
    if (metrics) {
      metrics->connections.Increment();
      if (!evicted->empty()) {
        metrics->connections_evicted.Increment(static_cast<double>(evicted->size()));
        metrics->connections.Decrement(static_cast<double>(evicted->size()));
      }
    }
    return Admission::kAdmit;
  }

  void remove(Session* session) EXCLUDES(mu) {
    {
      adapters::MutexLock lock(mu);
      const auto it = open.find(session);
      if (it == open.end()) return;  // evicted: already uncounted
      forget_address(it->second.address);
      open.erase(it);
    }
    if (metrics) metrics->connections.Decrement();
  }

  // The session started (true) or finished (false) waiting for a request's headers.
  void set_awaiting_headers(Session* session, bool awaiting) EXCLUDES(mu) {
    adapters::MutexLock lock(mu);
    const auto it = open.find(session);
    if (it == open.end()) return;
    it->second.awaiting_since = awaiting ? std::optional(Clock::now()) : std::nullopt;
  }

  std::vector<std::shared_ptr<Session>> snapshot() EXCLUDES(mu) {
    std::vector<std::shared_ptr<Session>> out;
    adapters::MutexLock lock(mu);
    for (const auto& [ptr, entry] : open) {
      if (auto s = entry.session.lock()) out.push_back(std::move(s));
    }
    return out;
  }

  struct Entry {
    std::weak_ptr<Session> session;
    net::ip::address address;
    std::optional<Clock::time_point> awaiting_since;  // waiting for request headers
  };

  const std::shared_ptr<ApiMetrics> metrics;  // may be null

 private:
  adapters::Mutex mu;
  std::map<Session*, Entry> open GUARDED_BY(mu);
  std::map<net::ip::address, std::size_t> per_address GUARDED_BY(mu);

  std::size_t awaiting_count() const REQUIRES(mu) {
    return static_cast<std::size_t>(std::count_if(
        open.begin(), open.end(), [](const auto& e) { return e.second.awaiting_since.has_value(); }));
  }
  std::shared_ptr<Session> take_longest_waiting() REQUIRES(mu) {
    auto oldest = open.end();
    for (auto it = open.begin(); it != open.end(); ++it) {
      if (!it->second.awaiting_since) continue;
      if (oldest == open.end() || *it->second.awaiting_since < *oldest->second.awaiting_since) {
        oldest = it;
      }
    }
    if (oldest == open.end()) return nullptr;
    auto victim = oldest->second.session.lock();
    forget_address(oldest->second.address);
    open.erase(oldest);
    return victim;
  }
  void forget_address(const net::ip::address& address) REQUIRES(mu) {
    const auto it = per_address.find(address);
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
  }
};

// Shared state of the server. Handlers hold it weakly: a server that is gone drops their work.
struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerCore(net::io_context& io, ApiContext ctx)
      : ioc(io),
        limits(ConnectionLimits::from(ctx.config)),
        acceptor(net::make_strand(io)),
        router(std::move(ctx), Router::Executors{}),
        connections(std::make_shared<Connections>(router.metrics())) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  net::io_context& ioc;
  const ConnectionLimits limits;
  tcp::acceptor acceptor;
  Router router;
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> stopped{false};

  const std::shared_ptr<Connections> connections;

  // Last members: destroyed (stopped and joined) first, while everything they may touch still
  // lives. Queries have their own threads so that they never delay other work.
  net::thread_pool pool{kWorkerThreads};
  net::thread_pool query_pool{kQueryThreads};
};

// One HTTP connection: read a request, let the router answer, write, repeat (keep-alive).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::weak_ptr<ServerCore> server,
          std::shared_ptr<Connections> connections, std::chrono::milliseconds header_timeout)
      : stream_(std::move(socket)),
        server_(std::move(server)),
        connections_(std::move(connections)),
        header_timeout_(header_timeout) {}

  ~Session() { connections_->remove(this); }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  // The socket of a session that was never run (its connection is refused instead).
  tcp::socket release_socket() { return stream_.release_socket(); }

  // Closes the connection from any thread (server stop, eviction).
  void stop() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  // Headers first, under their own short timeout; then the body, under the longer one.
  void do_read() {
    if (stopping_) return;
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    connections_->set_awaiting_headers(this, true);
    stream_.expires_after(header_timeout_);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t bytes) {
    connections_->set_awaiting_headers(this, false);
    if (ec || parser_->is_done()) return on_read(ec, bytes);
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || stopping_) {
      return do_close();
    }
    if (ec == http::error::body_limit) {
      return send_error(413, "payload_too_large",
                        "body larger than " + std::to_string(kMaxBodyBytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return send_error(431, "header_too_large",
                        "request line and headers larger than " +
                            std::to_string(kMaxHeaderBytes) + " bytes");
    }
    if (is_http_parse_error(ec)) return send_error(400, "bad_request", "malformed HTTP request");
    if (ec) return do_close();  // socket errors: nothing to answer

    auto server = server_.lock();
    if (!server) return do_close();
    const auto& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive() && ++served_ < kMaxRequestsPerConnection;
    Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.authorization = std::string(req[http::field::authorization]);
    request.content_type = std::string(req[http::field::content_type]);
    request.body = req.body();
    stream_.expires_never();  // the router may wait for a commit; the write sets its own timer
    // The router answers on the event loop; hop back onto this session's strand to write.
    server->router.handle(request, [self = shared_from_this()](Response response) {
      net::dispatch(self->stream_.get_executor(),
                    [self, response = std::move(response)]() mutable {
                      self->do_write(std::move(response));
                    });
    });
  }

  // An answer to a request we could not parse: always closes the connection afterwards. Counted
  // in the request metrics under the route "unparsed".
  void send_error(int status, std::string_view code, const std::string& message) {
    keep_alive_ = false;
    version_ = 11;
    if (const auto& m = connections_->metrics) m->observe(kUnparsedRoute, status, 0.0);
    do_write(error_response(status, code, message));
  }

  void do_write(Response response) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    res->set(http::field::server, kServerName);
    res->set(http::field::content_type, response.content_type);
    res->set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(keep_alive_ && !stopping_);
    res->prepare_payload();
    res_ = res;
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *res_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this(),
                                                res_->need_eof()));
  }

  void on_write(bool close, beast::error_code ec, std::size_t /*bytes*/) {
    res_.reset();
    if (ec) return do_close();
    if (close) return do_linger();
    do_read();
  }

  // Half-closes, then reads and discards what the client still sends (bounded in time and bytes)
  // so that it sees our answer instead of a connection reset.
  void do_linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || stopping_) return do_close();
    stream_.expires_after(kLingerTimeout);
    lingered_ = 0;
    on_linger({}, 0);
  }

  void on_linger(beast::error_code ec, std::size_t bytes) {
    lingered_ += bytes;
    if (ec || lingered_ > kMaxLingerBytes) return do_close();
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            beast::bind_front_handler(&Session::on_linger, shared_from_this()));
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::weak_ptr<ServerCore> server_;  // locked on the loop only
  std::shared_ptr<Connections> connections_;
  const std::chrono::milliseconds header_timeout_;
  beast::flat_buffer buffer_;  // bounded by the parser's header and body limits
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool stopping_ = false;
  std::size_t served_ = 0;
  std::size_t lingered_ = 0;
};

// A connection over a limit: a canned 503, then close.
class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  Refusal(tcp::socket&& socket, std::string_view message)
      : stream_(std::move(socket)), message_(message) {}
  void run() {
    const std::string body =
        R"({"error":{"code":"unavailable","message":")" + message_ + R"("}})";
    text_ = "HTTP/1.1 503 Service Unavailable\r\nServer: gridlet\r\n"
            "Content-Type: application/json\r\nRetry-After: " +
            std::to_string(kRetryAfterSeconds) + "\r\nConnection: close\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
    stream_.expires_after(kWriteTimeout);
    net::async_write(stream_, net::buffer(text_),
                     [self = shared_from_this()](beast::error_code, std::size_t) {
                       beast::error_code ec;
                       self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
                       self->stream_.close();
                     });
  }

 private:
  beast::tcp_stream stream_;
  std::string message_;
  std::string text_;
};

}  // namespace

void ServerCore::do_accept() {
  acceptor.async_accept(net::make_strand(ioc),
                        [weak = weak_from_this()](beast::error_code ec, tcp::socket socket) {
                          if (auto self = weak.lock()) self->on_accept(ec, std::move(socket));
                        });
}

void ServerCore::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopped.load()) return;
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (!ec) {
    beast::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    if (peer_ec) return do_accept();  // already gone
    auto session = std::make_shared<Session>(std::move(socket), weak_from_this(), connections,
                                             limits.header_timeout);
    std::vector<std::shared_ptr<Session>> evicted;
    const auto admission = connections->admit(session, peer.address(), limits, &evicted);
    for (const auto& e : evicted) e->stop();
    if (admission == Connections::Admission::kAdmit) {
      session->run();
    } else {
      if (auto m = router.metrics()) m->connections_refused.Increment();
      std::make_shared<Refusal>(session->release_socket(),
                                admission == Connections::Admission::kRefuseAddress
                                    ? "too many connections from this address"
                                    : "too many connections")
          ->run();
    }
  }
  // Accept errors (e.g. EMFILE) are transient: keep accepting.
  do_accept();
}

struct ApiServer::Impl : ServerCore {
  using ServerCore::ServerCore;
};

ApiServer::ApiServer(boost::asio::io_context& ioc, ApiContext context)
    : impl_(std::make_shared<Impl>(ioc, std::move(context))) {
  // The router's executors: blocking work to the pool, answers back to the loop, both dropped
  // once the server is gone.
  std::weak_ptr<Impl> weak = impl_;
  Router::Executors executors;
  executors.offload = [weak](Router::Task task) {
    if (auto impl = weak.lock()) net::post(impl->pool, std::move(task));
  };
  executors.query = [weak](Router::Task task) {
    if (auto impl = weak.lock()) net::post(impl->query_pool, std::move(task));
  };
  executors.to_loop = [weak, &ioc](Router::Task task) {
    net::post(ioc, [weak, task = std::move(task)] {
      if (auto impl = weak.lock(); impl && !impl->stopped.load()) task();
    });
  };
  impl_->router.set_executors(std::move(executors));
}

ApiServer::~ApiServer() { stop(); }

std::string ApiServer::start(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) return "invalid listen address '" + host + "': " + ec.message();
  const tcp::endpoint endpoint(address, port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return "cannot open socket: " + ec.message();
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return "cannot set SO_REUSEADDR: " + ec.message();
  acceptor.bind(endpoint, ec);
  if (ec) return "cannot bind " + host + ":" + std::to_string(port) + ": " + ec.message();
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
  impl_->port = acceptor.local_endpoint(ec).port();
  impl_->do_accept();
  return {};
}

void ApiServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  // Close on the acceptor's strand; close every session on its own strand.
  net::dispatch(impl_->acceptor.get_executor(), [weak = std::weak_ptr<Impl>(impl_)] {
    beast::error_code ec;
    if (auto impl = weak.lock()) impl->acceptor.close(ec);
  });
  for (const auto& s : impl_->connections->snapshot()) s->stop();
}

std::uint16_t ApiServer::port() const { return impl_->port.load(); }

void ApiServer::set_tokens(const TokenStore* tokens) { impl_->router.set_tokens(tokens); }

}  // namespace gridlet::api
