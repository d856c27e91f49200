// The MQTT client against a real mosquitto on 127.0.0.1: both protocol versions, the birth and
// last-will status, reconnecting (with its subscriptions) after a broker restart, passwords, and
// TLS with certificates this test makes with the openssl command: the server's, and client
// certificates for a broker that requires one.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/integration/test_support.hpp"

namespace gridlet::adapters::mqtt {
namespace {

using gridlet::testing::ChildProcess;
using gridlet::testing::eventually;
using gridlet::testing::make_certificates;
using gridlet::testing::make_client_certificate;
using gridlet::testing::Mosquitto;
using gridlet::testing::TempDir;
using gridlet::testing::ThreadExecutor;
using namespace std::chrono_literals;

// What one client saw: connects and messages, from the executor's thread.
struct Seen {
  std::mutex mu;
  int connects = 0;
  std::vector<Message> messages;

  Client::Handlers handlers() {
    return {[this](bool) {
              std::lock_guard lock(mu);
              ++connects;
            },
            {},
            [this](Message m) {
              std::lock_guard lock(mu);
              messages.push_back(std::move(m));
            }};
  }
  int connected_times() {
    std::lock_guard lock(mu);
    return connects;
  }
  std::optional<Message> last(const std::string& topic) {
    std::lock_guard lock(mu);
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
      if (it->topic == topic) return *it;
    }
    return std::nullopt;
  }
  int count(const std::string& topic) {
    std::lock_guard lock(mu);
    int n = 0;
    for (const auto& m : messages) n += m.topic == topic ? 1 : 0;
    return n;
  }
};

ClientSettings settings_for(const Mosquitto& broker, const std::string& client_id, int version = 4) {
  ClientSettings s;
  s.name = client_id;
  s.url = broker.url();
  s.client_id = client_id;
  s.version = version;
  s.reconnect_min = 100ms;
  s.reconnect_max = 1s;
  return s;
}

// Publishes and waits for the outcome (acknowledged for QoS 1).
bool publish_and_wait(Client& c, Message m) {
  std::atomic<int> result{-1};
  if (!c.publish(std::move(m), [&](bool ok) { result = ok ? 1 : 0; })) return false;
  return eventually(5s, [&] { return result.load() >= 0; }) && result.load() == 1;
}

class MqttClientVersions : public ::testing::TestWithParam<int> {};

TEST_P(MqttClientVersions, PublishesSubscribesAndAnnouncesItsStatus) {
  TempDir dir;
  Mosquitto broker(dir.path() / "broker");
  ASSERT_TRUE(broker.ready()) << broker.log();
  Seen gw_seen, observer_seen;
  ThreadExecutor loop;  // after what its handlers touch: destroyed (joined) before it
  auto gw_settings = settings_for(broker, "gw", GetParam());
  gw_settings.will = Message{"gridlet/it/status", "offline", 1, true};
  gw_settings.birth = Message{"gridlet/it/status", "online", 1, true};
  Client gw(gw_settings, loop, gw_seen.handlers());
  Client observer(settings_for(broker, "observer", GetParam()), loop, observer_seen.handlers());
  gw.subscribe("dev/+/power", 1);
  observer.subscribe("gridlet/#", 1);
  ASSERT_TRUE(gw.start());
  ASSERT_TRUE(observer.start());
  ASSERT_TRUE(eventually(5s, [&] { return gw.connected() && observer.connected(); }))
      << gw.stats().last_error << " / " << observer.stats().last_error << "\n" << broker.log();

  // The birth message, retained: a subscriber that comes later sees it too.
  ASSERT_TRUE(eventually(5s, [&] { return observer_seen.last("gridlet/it/status").has_value(); }));
  EXPECT_EQ(observer_seen.last("gridlet/it/status")->payload, "online");

  // QoS 1 both ways, through the subscription with a wildcard.
  ASSERT_TRUE(publish_and_wait(observer, {"dev/plug1/power", "42.5", 1, false}));
  ASSERT_TRUE(eventually(5s, [&] { return gw_seen.last("dev/plug1/power").has_value(); }));
  EXPECT_EQ(gw_seen.last("dev/plug1/power")->payload, "42.5");
  EXPECT_EQ(gw_seen.last("dev/plug1/power")->qos, 1);
  ASSERT_TRUE(publish_and_wait(gw, {"gridlet/it/pv/W", R"({"value":1200})", 1, true}));
  ASSERT_TRUE(eventually(5s, [&] { return observer_seen.last("gridlet/it/pv/W").has_value(); }));
  EXPECT_EQ(gw.stats().messages_out, 1u);
  EXPECT_GE(gw.stats().messages_in, 1u);

  // A clean stop says "offline" itself (a broker sends the will only for a client that vanished).
  gw.stop(2s);
  EXPECT_TRUE(eventually(5s, [&] {
    const auto m = observer_seen.last("gridlet/it/status");
    return m && m->payload == "offline";
  }));
  EXPECT_FALSE(gw.publish({"gridlet/it/pv/W", "1", 1, false})) << "stopped: refused, not queued";
}

INSTANTIATE_TEST_SUITE_P(Mqtt311And5, MqttClientVersions, ::testing::Values(4, 5),
                         [](const ::testing::TestParamInfo<int>& p) { return p.param == 5 ? "v5" : "v311"; });

TEST(MqttClient, ReconnectsAfterTheBrokerRestartsAndSubscribesAgain) {
  TempDir dir;
  Mosquitto broker(dir.path() / "broker");
  ASSERT_TRUE(broker.ready()) << broker.log();
  Seen seen, other_seen;
  ThreadExecutor loop;
  Client c(settings_for(broker, "gw"), loop, seen.handlers());
  c.subscribe("cmd/#", 0);
  ASSERT_TRUE(c.start());
  ASSERT_TRUE(eventually(5s, [&] { return c.connected(); })) << c.stats().last_error;

  ASSERT_TRUE(broker.restart()) << broker.log();  // a clean session: our subscription is gone
  ASSERT_TRUE(eventually(10s, [&] { return seen.connected_times() == 2; }))
      << c.stats().last_error << " lost " << c.stats().connections_lost;
  EXPECT_GE(c.stats().connections_lost, 1u);

  Client other(settings_for(broker, "other"), loop, other_seen.handlers());
  ASSERT_TRUE(other.start());
  ASSERT_TRUE(eventually(5s, [&] { return other.connected(); }));
  ASSERT_TRUE(publish_and_wait(other, {"cmd/relay", "ON", 1, false}));
  EXPECT_TRUE(eventually(5s, [&] { return seen.last("cmd/relay").has_value(); }))
      << "subscribed again after the reconnect";
}

TEST(MqttClient, PublishingWhileDisconnectedIsRefusedNotLost) {
  TempDir dir;
  ClientSettings s;
  s.name = s.client_id = "gw";
  s.url = "tcp://127.0.0.1:" + std::to_string(gridlet::testing::free_loopback_port());  // nobody
  s.reconnect_min = 100ms;
  s.reconnect_max = 200ms;
  Seen seen;
  ThreadExecutor loop;
  Client c(s, loop, seen.handlers());
  ASSERT_TRUE(c.start());
  ASSERT_TRUE(eventually(5s, [&] { return c.stats().connect_failures >= 2; })) << "keeps retrying";
  std::atomic<int> result{-1};
  EXPECT_FALSE(c.publish({"a", "b", 1, false}, [&](bool ok) { result = ok ? 1 : 0; }));
  EXPECT_TRUE(eventually(2s, [&] { return result.load() == 0; })) << "the caller hears it failed";
  EXPECT_FALSE(c.stats().last_error.empty());
}

TEST(MqttClient, AnUnsupportedUrlIsAClearError) {
  ClientSettings s;
  s.name = s.client_id = "gw";
  s.url = "ws://127.0.0.1:9001";
  Seen seen;
  ThreadExecutor loop;
  Client c(s, loop, seen.handlers());
  EXPECT_FALSE(c.start());
  EXPECT_NE(c.stats().last_error.find("unsupported URL"), std::string::npos) << c.stats().last_error;
}

TEST(MqttClient, PasswordsAreRefusedAndAccepted) {
  TempDir dir;
  const auto passwords = dir.path() / "passwd";
  ChildProcess make({"/usr/bin/mosquitto_passwd", "-c", "-b", passwords.string(), "gridlet", "s3cret"});
  ASSERT_EQ(make.wait(), 0) << make.log();
  Mosquitto::Options o;
  o.password_file = passwords;
  Mosquitto broker(dir.path() / "broker", o);
  ASSERT_TRUE(broker.ready()) << broker.log();
  Seen wrong_seen, right_seen;
  ThreadExecutor loop;
  auto wrong = settings_for(broker, "wrong");
  wrong.username = "gridlet";
  wrong.password = "guess";
  Client w(wrong, loop, wrong_seen.handlers());
  ASSERT_TRUE(w.start());
  auto right = settings_for(broker, "right");
  right.username = "gridlet";
  right.password = "s3cret";
  Client r(right, loop, right_seen.handlers());
  ASSERT_TRUE(r.start());
  ASSERT_TRUE(eventually(5s, [&] { return r.connected(); })) << r.stats().last_error << "\n" << broker.log();
  ASSERT_TRUE(eventually(5s, [&] { return w.stats().connect_failures >= 1; }));
  EXPECT_FALSE(w.connected());
  EXPECT_NE(w.stats().last_error.find("not authorized"), std::string::npos) << w.stats().last_error;
  EXPECT_EQ(wrong_seen.connected_times(), 0);
}

TEST(MqttClient, TlsTrustsOnlyItsCaAndChecksTheHostname) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/openssl")) << "openssl is missing: run scripts/bootstrap";
  TempDir dir;
  const auto good = make_certificates(dir.path(), "IP:127.0.0.1", "broker");
  const auto other = make_certificates(dir.path(), "IP:127.0.0.1", "stranger");
  const auto misnamed = make_certificates(dir.path(), "DNS:broker.example", "misnamed");
  ASSERT_TRUE(good && other && misnamed);

  Mosquitto::Options o;
  o.ca_file = good->ca;
  o.cert_file = good->cert;
  o.key_file = good->key;
  Mosquitto broker(dir.path() / "broker", o);
  ASSERT_TRUE(broker.ready()) << broker.log();
  Seen ok_seen, untrusted_seen, checked_seen;
  ThreadExecutor loop;
  auto trusted = settings_for(broker, "trusted");
  trusted.ca_file = good->ca;
  Client t(trusted, loop, ok_seen.handlers());
  auto untrusted = settings_for(broker, "untrusted");
  untrusted.ca_file = other->ca;  // not the CA that signed the broker's certificate
  Client u(untrusted, loop, untrusted_seen.handlers());
  ASSERT_TRUE(t.start());
  ASSERT_TRUE(u.start());
  ASSERT_TRUE(eventually(5s, [&] { return t.connected(); })) << t.stats().last_error << "\n" << broker.log();
  ASSERT_TRUE(eventually(5s, [&] { return u.stats().connect_failures >= 1; }));
  EXPECT_EQ(untrusted_seen.connected_times(), 0);

  // A broker whose certificate names another host: refused while the hostname is checked.
  Mosquitto::Options m;
  m.ca_file = misnamed->ca;
  m.cert_file = misnamed->cert;
  m.key_file = misnamed->key;
  Mosquitto misnamed_broker(dir.path() / "misnamed-broker", m);
  ASSERT_TRUE(misnamed_broker.ready()) << misnamed_broker.log();
  auto checked = settings_for(misnamed_broker, "checked");
  checked.ca_file = misnamed->ca;
  Client h(checked, loop, checked_seen.handlers());
  ASSERT_TRUE(h.start());
  ASSERT_TRUE(eventually(5s, [&] { return h.stats().connect_failures >= 1; }));
  EXPECT_EQ(checked_seen.connected_times(), 0) << "the certificate is for broker.example, not 127.0.0.1";
}

// A broker that requires a client certificate signed by its CA (require_certificate, the
// certificate's CN as the user name): no certificate and a certificate of another CA are refused
// with the reason in last_error; the right one connects, under its CN, and exchanges messages.
TEST(MqttClient, TlsClientCertificatesAreRequiredAndMustComeFromTheBrokersCa) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/openssl")) << "openssl is missing: run scripts/bootstrap";
  TempDir dir;
  const auto server = make_certificates(dir.path(), "IP:127.0.0.1", "broker");
  ASSERT_TRUE(server);
  const auto client = make_client_certificate(dir.path(), *server, "gridlet-client");
  const auto stranger_ca = make_certificates(dir.path(), "IP:127.0.0.1", "stranger");
  ASSERT_TRUE(client && stranger_ca);
  const auto forged = make_client_certificate(dir.path(), *stranger_ca, "forged-client");
  ASSERT_TRUE(forged);

  Mosquitto::Options o;
  o.ca_file = server->ca;
  o.cert_file = server->cert;
  o.key_file = server->key;
  o.require_certificate = true;
  o.use_identity_as_username = true;
  Mosquitto broker(dir.path() / "broker", o);
  ASSERT_TRUE(broker.ready()) << broker.log();

  Seen none_seen, right_seen, forged_seen;
  ThreadExecutor loop;
  auto without = settings_for(broker, "without-cert");
  without.ca_file = server->ca;  // trusts the broker, but has nothing to show
  Client n(without, loop, none_seen.handlers());
  auto right = settings_for(broker, "with-cert");
  right.ca_file = server->ca;
  right.cert_file = client->cert;
  right.key_file = client->key;
  Client r(right, loop, right_seen.handlers());
  auto other = settings_for(broker, "forged-cert");
  other.ca_file = server->ca;
  other.cert_file = forged->cert;  // a well-formed certificate, but not of the broker's CA
  other.key_file = forged->key;
  Client f(other, loop, forged_seen.handlers());
  r.subscribe("meters/+/power", 1);
  ASSERT_TRUE(n.start());
  ASSERT_TRUE(r.start());
  ASSERT_TRUE(f.start());

  ASSERT_TRUE(eventually(10s, [&] { return r.connected(); })) << r.stats().last_error << "\n" << broker.log();
  // Known by its certificate: mosquitto logs the CN as the client's user name.
  EXPECT_TRUE(eventually(5s, [&] {
    return broker.log().find("as with-cert (") != std::string::npos &&
           broker.log().find("u'gridlet-client'") != std::string::npos;
  })) << broker.log();
  ASSERT_TRUE(publish_and_wait(r, {"meters/m1/power", "1234.5", 1, false}));
  ASSERT_TRUE(eventually(5s, [&] { return right_seen.last("meters/m1/power").has_value(); }));
  EXPECT_EQ(right_seen.last("meters/m1/power")->payload, "1234.5");

  for (Client* refused : {&n, &f}) {
    SCOPED_TRACE(refused->settings().client_id);
    ASSERT_TRUE(eventually(10s, [&] { return refused->stats().connect_failures >= 1; })) << broker.log();
    EXPECT_FALSE(refused->connected());
    const std::string why = refused->stats().last_error;
    EXPECT_NE(why.find("cannot connect"), std::string::npos) << why;
    EXPECT_NE(why.find("TLS"), std::string::npos) << "the reason names TLS: " << why;
  }
  EXPECT_EQ(none_seen.connected_times(), 0);
  EXPECT_EQ(forged_seen.connected_times(), 0);
  EXPECT_EQ(right_seen.connected_times(), 1);
  // The broker says why: no certificate, and one it cannot verify.
  EXPECT_TRUE(eventually(5s, [&] {
    const auto log = broker.log();
    return log.find("peer did not return a certificate") != std::string::npos &&
           log.find("certificate verify failed") != std::string::npos;
  })) << broker.log();
}

}  // namespace
}  // namespace gridlet::adapters::mqtt
