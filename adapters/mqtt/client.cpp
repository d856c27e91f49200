#include "adapters/mqtt/client.hpp"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <random>
#include <utility>

#include "adapters/thread_safety.hpp"

namespace gridlet::adapters::mqtt {

namespace paho = ::mqtt;
using std::chrono::milliseconds;

std::optional<std::string> paho_url(const std::string& url) {
  const auto rest = [&](std::string_view prefix) { return url.substr(prefix.size()); };
  if (url.starts_with("tcp://")) return url;
  if (url.starts_with("ssl://")) return url;
  if (url.starts_with("mqtt://")) return "tcp://" + rest("mqtt://");
  if (url.starts_with("mqtts://")) return "ssl://" + rest("mqtts://");
  return std::nullopt;
}

// Shared with every callback Paho or the executor may still run: they hold a weak_ptr and do
// nothing once the Client is gone.
struct Client::Impl : std::enable_shared_from_this<Client::Impl>, paho::iaction_listener {
  Impl(ClientSettings s, Executor& e, Handlers h)
      : settings(std::move(s)), executor(e), handlers(std::move(h)) {}

  // ---- Paho's threads: post, never run handlers here.
  void on_success(const paho::token& tok) override;  // connect
  void on_failure(const paho::token& tok) override;  // connect

  // ---- The executor.
  void connect();
  void schedule_reconnect(const std::string& why);
  void on_connected(bool session_present);
  void resubscribe();
  void post(std::function<void()> work) {
    executor.post([weak = weak_from_this(), work = std::move(work)] {
      if (auto self = weak.lock(); self && !self->stopped.load()) work();
    });
  }

  const ClientSettings settings;
  Executor& executor;
  const Handlers handlers;
  std::unique_ptr<paho::async_client> client;
  paho::connect_options options;
  std::atomic<bool> stopped{false};
  std::atomic<bool> is_connected{false};
  std::atomic<std::size_t> queued_bytes{0};  // received, posted, not yet handled
  milliseconds backoff{0};
  std::mt19937_64 rng{std::random_device{}()};

  mutable Mutex mu;
  Stats stats GUARDED_BY(mu);
  std::map<std::string, int> subscriptions GUARDED_BY(mu);  // filter -> qos
  std::uint64_t next_publish GUARDED_BY(mu) = 1;
  std::map<std::uint64_t, Done> pending GUARDED_BY(mu);  // publishes not yet acknowledged

  // Completes one publish: Paho's thread posts the result to the executor. Deletes itself once
  // Paho is done with it.
  class PublishListener final : public paho::iaction_listener {
   public:
    PublishListener(std::weak_ptr<Impl> impl, std::uint64_t id) : impl_(std::move(impl)), id_(id) {}
    void on_success(const paho::token&) override { finish(true); }
    void on_failure(const paho::token&) override { finish(false); }

   private:
    void finish(bool ok) {
      if (auto impl = impl_.lock()) impl->complete(id_, ok);
      delete this;
    }
    std::weak_ptr<Impl> impl_;
    std::uint64_t id_;
  };
  void complete(std::uint64_t id, bool ok) {
    Done done;
    {
      MutexLock lock(mu);
      const auto it = pending.find(id);
      if (it == pending.end()) return;  // failed at stop already
      done = std::move(it->second);
      pending.erase(it);
      if (ok) {
        ++stats.messages_out;
      } else {
        ++stats.publish_failures;
      }
    }
    if (done) post([done = std::move(done), ok] { done(ok); });
  }
};

void Client::Impl::on_success(const paho::token& tok) {
  bool session_present = false;
  try {
    session_present = tok.get_connect_response().is_session_present();
  } catch (const std::exception&) {
  }
  post([this, session_present] { on_connected(session_present); });
}

namespace {

// Why a connect failed, in words: the broker's CONNACK code (3.1.1: 1-5; 5: reason codes >= 0x80)
// or Paho's own error (negative: no TCP connection, TLS failure, timeout).
std::string connect_failure(const paho::token& tok) {
  const int rc = tok.get_return_code();
  const int reason = static_cast<int>(tok.get_reason_code());
  std::string what;
  switch (rc) {
    case 1: what = "the broker refused the protocol version"; break;
    case 2: what = "the broker refused the client id"; break;
    case 3: what = "the broker is unavailable"; break;
    case 4: what = "bad user name or password"; break;
    case 5: what = "not authorized"; break;
    case -1: what = "no connection (refused, unreachable, TLS handshake or certificate failed)"; break;
    default: break;
  }
  if (reason == 0x86) what = "bad user name or password";
  if (reason == 0x87) what = "not authorized";
  if (what.empty()) what = "error " + std::to_string(rc) + (reason != 0 ? ", reason " + std::to_string(reason) : "");
  return "cannot connect: " + what;
}

}  // namespace

void Client::Impl::on_failure(const paho::token& tok) {
  const std::string why = connect_failure(tok);
  {
    MutexLock lock(mu);
    ++stats.connect_failures;
    stats.last_error = why;
  }
  post([this, why] { schedule_reconnect(why); });
}

void Client::Impl::connect() {
  if (stopped.load()) return;
  try {
    client->connect(options, nullptr, *this);
  } catch (const paho::exception& e) {
    const std::string why = std::string("cannot connect: ") + e.what();
    {
      MutexLock lock(mu);
      ++stats.connect_failures;
      stats.last_error = why;
    }
    schedule_reconnect(why);
  }
}

// Exponential backoff with full jitter: a uniform delay in [min, current ceiling].
void Client::Impl::schedule_reconnect(const std::string& why) {
  if (stopped.load()) return;
  const bool first = backoff.count() == 0;
  backoff = first ? settings.reconnect_min : std::min(settings.reconnect_max, backoff * 2);
  std::uniform_int_distribution<std::int64_t> pick(settings.reconnect_min.count(),
                                                   std::max(settings.reconnect_min, backoff).count());
  const milliseconds delay{pick(rng)};
  if (first) {
    spdlog::warn("mqtt {}: {}; reconnecting with backoff up to {:.1f} s", settings.name, why,
                 static_cast<double>(settings.reconnect_max.count()) / 1000.0);
  }
  if (handlers.disconnected) handlers.disconnected(why);
  executor.post_after(delay, [weak = weak_from_this()] {
    if (auto self = weak.lock(); self && !self->stopped.load()) self->connect();
  });
}

void Client::Impl::on_connected(bool session_present) {
  is_connected = true;
  backoff = milliseconds(0);
  {
    MutexLock lock(mu);
    ++stats.connects;
    stats.connected = true;
    stats.last_error.clear();
  }
  spdlog::info("mqtt {}: connected to {}{}", settings.name, settings.url,
               session_present ? " (session kept)" : "");
  resubscribe();
  if (settings.birth) {
    try {
      client->publish(settings.birth->topic, settings.birth->payload.data(), settings.birth->payload.size(),
                      settings.birth->qos, settings.birth->retained);
    } catch (const paho::exception& e) {
      spdlog::warn("mqtt {}: cannot publish {}: {}", settings.name, settings.birth->topic, e.what());
    }
  }
  if (handlers.connected) handlers.connected(session_present);
}

void Client::Impl::resubscribe() {
  std::map<std::string, int> subs;
  {
    MutexLock lock(mu);
    subs = subscriptions;
  }
  for (const auto& [filter, qos] : subs) {
    try {
      client->subscribe(filter, qos);
    } catch (const paho::exception& e) {
      spdlog::warn("mqtt {}: cannot subscribe to {}: {}", settings.name, filter, e.what());
    }
  }
}

Client::Client(ClientSettings settings, Executor& executor, Handlers handlers)
    : impl_(std::make_shared<Impl>(std::move(settings), executor, std::move(handlers))) {}

Client::~Client() {
  if (!impl_->stopped.load()) stop(milliseconds(1000));
}

bool Client::start() {
  Impl& s = *impl_;
  const ClientSettings& cs = s.settings;
  const auto url = paho_url(cs.url);
  auto fail = [&](std::string why) {
    MutexLock lock(s.mu);
    s.stats.last_error = std::move(why);
    return false;
  };
  if (!url) return fail("unsupported URL " + cs.url + " (tcp://, ssl://, mqtt://, mqtts://)");
  try {
    paho::create_options create(cs.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
    s.client = std::make_unique<paho::async_client>(*url, cs.client_id, create, nullptr);
    paho::connect_options& o = s.options;
    o.set_mqtt_version(cs.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
    if (cs.version == 5) {
      o.set_clean_start(cs.clean_session);
    } else {
      o.set_clean_session(cs.clean_session);
    }
    o.set_keep_alive_interval(cs.keep_alive);
    o.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(cs.connect_timeout));
    o.set_automatic_reconnect(false);  // ours has jitter and resubscribes
    if (!cs.username.empty()) o.set_user_name(cs.username);
    if (!cs.password.empty()) o.set_password(cs.password);
    if (url->starts_with("ssl://")) {
      paho::ssl_options ssl;
      if (!cs.ca_file.empty()) ssl.set_trust_store(cs.ca_file.string());
      if (!cs.cert_file.empty()) ssl.set_key_store(cs.cert_file.string());
      if (!cs.key_file.empty()) ssl.set_private_key(cs.key_file.string());
      ssl.set_enable_server_cert_auth(true);
      ssl.set_verify(cs.verify_hostname);
      o.set_ssl(std::move(ssl));
    }
    if (cs.will) {
      o.set_will(paho::will_options(cs.will->topic, cs.will->payload.data(), cs.will->payload.size(),
                                    cs.will->qos, cs.will->retained));
    }
    std::weak_ptr<Impl> weak = impl_;
    s.client->set_connection_lost_handler([weak](const std::string& cause) {
      auto self = weak.lock();
      if (!self) return;
      self->is_connected = false;
      {
        MutexLock lock(self->mu);
        ++self->stats.connections_lost;
        self->stats.connected = false;
        self->stats.last_error = cause.empty() ? "connection lost" : "connection lost: " + cause;
      }
      self->post([raw = self.get(), cause] {
        raw->schedule_reconnect(cause.empty() ? "connection lost" : "connection lost: " + cause);
      });
    });
    s.client->set_message_callback([weak](paho::const_message_ptr m) {
      auto self = weak.lock();
      if (!self || !m) return;
      {
        MutexLock lock(self->mu);
        ++self->stats.messages_in;
      }
      // A flood faster than the loop can take must not grow memory without bound: beyond the
      // budget, messages are dropped here and counted.
      const std::size_t bytes = m->get_topic().size() + m->get_payload_ref().size() + sizeof(Message);
      if (self->queued_bytes.fetch_add(bytes) + bytes > self->settings.max_queued_bytes) {
        self->queued_bytes.fetch_sub(bytes);
        MutexLock lock(self->mu);
        ++self->stats.messages_dropped;
        return;
      }
      Message msg{m->get_topic(), m->to_string(), m->get_qos(), m->is_retained()};
      self->post([raw = self.get(), msg = std::move(msg), bytes]() mutable {
        raw->queued_bytes.fetch_sub(bytes);
        if (raw->handlers.message) raw->handlers.message(std::move(msg));
      });
    });
  } catch (const paho::exception& e) {
    return fail(std::string("cannot create the client: ") + e.what());
  }
  s.post([raw = impl_.get()] { raw->connect(); });
  return true;
}

void Client::subscribe(const std::string& filter, int qos) {
  {
    MutexLock lock(impl_->mu);
    impl_->subscriptions[filter] = qos;
  }
  if (!impl_->is_connected.load()) return;  // made at the next connect
  try {
    impl_->client->subscribe(filter, qos);
  } catch (const paho::exception& e) {
    spdlog::warn("mqtt {}: cannot subscribe to {}: {}", impl_->settings.name, filter, e.what());
  }
}

bool Client::publish(Message message, Done done) {
  Impl& s = *impl_;
  auto refuse = [&] {
    {
      MutexLock lock(s.mu);
      ++s.stats.publish_failures;
    }
    if (done) s.post([done = std::move(done)] { done(false); });
    return false;
  };
  if (!s.client || !s.is_connected.load() || s.stopped.load()) return refuse();
  std::uint64_t id = 0;
  {
    MutexLock lock(s.mu);
    id = s.next_publish++;
    s.pending[id] = std::move(done);
  }
  auto* listener = new Impl::PublishListener(impl_, id);
  try {
    auto msg = paho::make_message(message.topic, message.payload, message.qos, message.retained);
    s.client->publish(msg, nullptr, *listener);
    return true;
  } catch (const paho::exception&) {
    delete listener;
    Done back;
    {
      MutexLock lock(s.mu);
      back = std::move(s.pending[id]);
      s.pending.erase(id);
    }
    done = std::move(back);
    return refuse();
  }
}

void Client::stop(milliseconds timeout) {
  Impl& s = *impl_;
  if (s.stopped.exchange(true)) return;
  if (!s.client) return;
  try {
    if (s.client->is_connected()) {
      if (s.settings.will) {  // a clean disconnect does not send the will: say it ourselves
        const auto& w = *s.settings.will;
        s.client->publish(w.topic, w.payload.data(), w.payload.size(), w.qos, w.retained)
            ->wait_for(timeout / 2);
      }
      s.client->disconnect(static_cast<int>(timeout.count() / 2))->wait_for(timeout / 2);
    }
  } catch (const paho::exception& e) {
    spdlog::warn("mqtt {}: disconnect: {}", s.settings.name, e.what());
  }
  s.is_connected = false;
  // Publishes that were never acknowledged fail now (their listeners may still be called by
  // Paho; they find nothing pending).
  std::map<std::uint64_t, Done> left;
  {
    MutexLock lock(s.mu);
    left.swap(s.pending);
    s.stats.connected = false;
  }
  for (auto& [id, done] : left) {
    if (done) done(false);
  }
}

bool Client::connected() const { return impl_->is_connected.load(); }

Client::Stats Client::stats() const {
  MutexLock lock(impl_->mu);
  return impl_->stats;
}

const ClientSettings& Client::settings() const { return impl_->settings; }

}  // namespace gridlet::adapters::mqtt
