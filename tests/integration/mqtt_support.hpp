// MQTT test parts: a real mosquitto on 127.0.0.1 (a free port; password file, TLS with or without
// client certificates, and persistence as asked), started and stopped by its process id; test
// certificates made with the openssl command; and an Executor that runs the client's handlers and
// timers on one thread of its own, as the gateway's event loop does.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/test_support.hpp"

namespace gridlet::testing {

// A port nobody listens on right now (bound to port 0 and released): for servers that cannot
// bind port 0 themselves and report it, as mosquitto.
inline std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

struct MosquittoOptions {
  bool persistence = false;             // keep sessions and retained messages across restarts
  std::filesystem::path password_file;  // when set, anonymous clients are refused
  std::filesystem::path ca_file, cert_file, key_file;  // when set, the listener is TLS only
  // TLS only: a client must present a certificate signed by ca_file (mosquitto's
  // require_certificate); without one, or with one of another CA, the handshake fails.
  bool require_certificate = false;
  // With require_certificate: the certificate's subject CN is the client's user name (mosquitto's
  // use_identity_as_username), and anonymous clients are refused, so every connection is one the
  // broker knows by its certificate.
  bool use_identity_as_username = false;
};

class Mosquitto {
 public:
  using Options = MosquittoOptions;

  explicit Mosquitto(std::filesystem::path dir, Options options = Options())
      : dir_(std::move(dir)), options_(std::move(options)), port_(free_loopback_port()) {
    std::filesystem::create_directories(dir_);
    std::string conf = "listener " + std::to_string(port_) + " 127.0.0.1\n";
    // Started as root (a CI container), mosquitto would become the user "mosquitto" and could not
    // read the test's private files.
    if (::geteuid() == 0) conf += "user root\n";
    if (options_.use_identity_as_username) {
      conf += "allow_anonymous false\n";
    } else if (options_.password_file.empty()) {
      conf += "allow_anonymous true\n";
    } else {
      conf += "allow_anonymous false\npassword_file " + options_.password_file.string() + "\n";
    }
    if (!options_.cert_file.empty()) {
      conf += "cafile " + options_.ca_file.string() + "\ncertfile " + options_.cert_file.string() +
              "\nkeyfile " + options_.key_file.string() + "\n";
      if (options_.require_certificate) conf += "require_certificate true\n";
      if (options_.use_identity_as_username) conf += "use_identity_as_username true\n";
    }
    if (options_.persistence) {
      conf += "persistence true\npersistence_location " + dir_.string() + "/\nautosave_interval 1\n";
    } else {
      conf += "persistence false\n";
    }
    conf += "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
    write_file(dir_ / "mosquitto.conf", conf);
    start();
  }
  ~Mosquitto() { stop(); }

  bool ready() const { return ready_; }
  std::uint16_t port() const { return port_; }
  std::string url() const {
    return std::string(options_.cert_file.empty() ? "tcp" : "ssl") + "://127.0.0.1:" + std::to_string(port_);
  }
  std::string log() const { return proc_ ? proc_->log() : std::string(); }

  void stop() {
    if (!proc_) return;
    proc_->signal(SIGTERM);
    proc_->wait();
    old_logs_ += proc_->log();
    proc_.reset();
    ready_ = false;
  }
  // The same broker again, on the same port (and with what it persisted).
  bool restart() {
    stop();
    start();
    return ready_;
  }

 private:
  void start() {
    proc_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/sbin/mosquitto", "-c", (dir_ / "mosquitto.conf").string()});
    ready_ = proc_->wait_for_log(std::regex("mosquitto version [0-9.]+ running")).has_value();
  }

  std::filesystem::path dir_;
  Options options_;
  std::uint16_t port_;
  std::unique_ptr<ChildProcess> proc_;
  bool ready_ = false;
  std::string old_logs_;
};

// Test certificates made with the openssl command (EC P-256, valid two days): a CA, and a
// certificate it signed for a server (with a subjectAltName such as "IP:127.0.0.1") or a client.
struct Certificates {
  std::filesystem::path ca, cert, key;
  std::filesystem::path ca_key;  // to sign more certificates with the same CA
};

namespace detail {
inline bool run_openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/openssl");
  ChildProcess p(args);
  const int rc = p.wait();
  if (rc != 0) ADD_FAILURE() << p.log();
  return rc == 0;
}
inline const std::vector<std::string>& ec_key_args() {
  static const std::vector<std::string> args = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                                "-nodes"};
  return args;
}
inline std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace detail

// A key and a certificate with subject CN=`name`, signed by `ca` (its ca and ca_key), with the
// extensions in `extensions` (openssl x509 -extfile lines). The key file is private (0600), as
// gatewayd's configuration requires of a key_file.
inline std::optional<Certificates> issue_certificate(const std::filesystem::path& dir, const Certificates& ca,
                                                     const std::string& name, const std::string& extensions) {
  Certificates c{ca.ca, dir / (name + ".crt"), dir / (name + ".key"), ca.ca_key};
  const auto csr = dir / (name + ".csr"), ext = dir / (name + ".ext");
  write_file(ext, extensions);
  if (!detail::run_openssl(detail::with(
          {"req", "-subj", "/CN=" + name, "-keyout", c.key.string(), "-out", csr.string()}, detail::ec_key_args()))) {
    return std::nullopt;
  }
  std::filesystem::permissions(c.key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  if (!detail::run_openssl({"x509", "-req", "-days", "2", "-in", csr.string(), "-CA", ca.ca.string(), "-CAkey",
                            ca.ca_key.string(), "-CAcreateserial", "-out", c.cert.string(), "-extfile",
                            ext.string()})) {
    return std::nullopt;
  }
  return c;
}

// A CA "<name> test CA" and a server certificate it signed for `san` (e.g. "IP:127.0.0.1").
inline std::optional<Certificates> make_certificates(const std::filesystem::path& dir, const std::string& san,
                                                     const std::string& name) {
  Certificates ca{dir / (name + "-ca.crt"), {}, {}, dir / (name + "-ca.key")};
  if (!detail::run_openssl(detail::with({"req", "-x509", "-days", "2", "-subj", "/CN=" + name + " test CA",
                                         "-keyout", ca.ca_key.string(), "-out", ca.ca.string()},
                                        detail::ec_key_args()))) {
    return std::nullopt;
  }
  return issue_certificate(dir, ca, name, "subjectAltName=" + san + "\n");
}

// A client certificate (CN=`name`, extendedKeyUsage clientAuth) signed by `ca`'s CA.
inline std::optional<Certificates> make_client_certificate(const std::filesystem::path& dir, const Certificates& ca,
                                                           const std::string& name) {
  return issue_certificate(dir, ca, name, "extendedKeyUsage=clientAuth\n");
}

// Runs work (and timed work) in order on one thread of its own.
class ThreadExecutor final : public adapters::mqtt::Executor {
 public:
  ThreadExecutor() : thread_([this] { run(); }) {}
  ~ThreadExecutor() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> work) override { post_after(std::chrono::milliseconds(0), std::move(work)); }
  void post_after(std::chrono::milliseconds delay, std::function<void()> work) override {
    {
      std::lock_guard lock(mu_);
      queue_.emplace(std::make_pair(std::chrono::steady_clock::now() + delay, seq_++), std::move(work));
    }
    cv_.notify_all();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const auto due = queue_.begin()->first.first;
      if (std::chrono::steady_clock::now() < due) {
        cv_.wait_until(lock, due);
        continue;
      }
      auto work = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      lock.unlock();
      work();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>, std::function<void()>> queue_;
  std::uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gridlet::testing
