// One connection to an MQTT broker (Eclipse Paho MQTT C++, async client), for device buses,
// publishing and the demand-response channel alike.
//
// - MQTT 3.1.1 or 5; TLS (CA file, client certificate and key, hostname check) and
//   username/password; a last will, and a "birth" message published after every connect.
// - Reconnects on its own with exponential backoff and full jitter (reconnect_min ..
//   reconnect_max), so that a broker restart is not met by every gateway of a neighbourhood in
//   the same second; subscriptions are made again after each connect.
// - Paho calls back on its own threads. Those callbacks only post work to the owner's Executor
//   (the gateway's event loop): every Handler runs there, never on a Paho thread.
// Paho stays in client.cpp: this header is cheap to include.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace gridlet::adapters::mqtt {

struct Message {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
};

// Where the client runs its handlers and timers: the owner's event loop. Thread-safe.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(std::function<void()> work) = 0;
  virtual void post_after(std::chrono::milliseconds delay, std::function<void()> work) = 0;
};

struct ClientSettings {
  std::string name;       // for logs: the bus id, or "mqtt" for the publishing broker
  std::string url;        // tcp://HOST:PORT or ssl://HOST:PORT (mqtt:// and mqtts:// also)
  std::string client_id;  // unique on the broker
  int version = 4;        // 4: MQTT 3.1.1, 5: MQTT 5
  // false: a persistent session (the broker keeps subscriptions and QoS 1 messages while we are
  // away; needs a stable client_id).
  bool clean_session = true;
  std::chrono::seconds keep_alive{30};
  std::string username;
  std::string password;
  std::filesystem::path ca_file;    // TLS: trusted CAs (empty: the system's)
  std::filesystem::path cert_file;  // TLS client certificate (optional)
  std::filesystem::path key_file;   // and its key
  bool verify_hostname = true;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds reconnect_min{1000};
  std::chrono::milliseconds reconnect_max{60000};
  std::optional<Message> will;   // sent by the broker when we vanish
  std::optional<Message> birth;  // published after every connect (e.g. status "online")
  // Received messages waiting for the executor, in bytes: beyond it (a flood the loop cannot
  // keep up with) messages are dropped and counted in Stats::messages_dropped.
  std::size_t max_queued_bytes = 16U << 20;
};

// "ssl://" for ssl://, mqtts://; "tcp://" for tcp://, mqtt://; nullopt for anything else.
std::optional<std::string> paho_url(const std::string& url);

class Client {
 public:
  struct Handlers {
    std::function<void(bool session_present)> connected;
    std::function<void(const std::string& why)> disconnected;  // lost, or a connect that failed
    std::function<void(Message message)> message;
  };
  struct Stats {
    std::uint64_t connects = 0;
    std::uint64_t connect_failures = 0;
    std::uint64_t connections_lost = 0;
    std::uint64_t messages_in = 0;
    std::uint64_t messages_dropped = 0;  // received while max_queued_bytes were waiting
    std::uint64_t messages_out = 0;     // acknowledged (QoS 1/2) or sent (QoS 0)
    std::uint64_t publish_failures = 0;
    bool connected = false;
    std::string last_error;
  };
  // Called once on the executor: true when delivered (QoS 0: handed to the network; QoS 1/2:
  // acknowledged by the broker), false when it failed or the client was not connected.
  using Done = std::function<void(bool delivered)>;

  // Builds the client; nothing connects before start(). An invalid URL or TLS file is reported by
  // start() as a false return with the reason in stats().last_error.
  Client(ClientSettings settings, Executor& executor, Handlers handlers);
  ~Client();  // stop() with a short timeout if still running
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool start();
  // Remembered: made at once when connected, and again after every reconnect.
  void subscribe(const std::string& filter, int qos);
  // False (and done(false) is posted) when not connected: the caller decides whether to keep the
  // message (the outbox) or drop it.
  bool publish(Message message, Done done = {});
  // Publishes the will's payload itself (a clean disconnect does not send it), disconnects, and
  // stops reconnecting. Waits at most `timeout`.
  void stop(std::chrono::milliseconds timeout);

  bool connected() const;
  Stats stats() const;
  const ClientSettings& settings() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace gridlet::adapters::mqtt
