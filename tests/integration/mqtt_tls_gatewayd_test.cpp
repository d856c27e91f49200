// The real gatewayd on an MQTT bus whose broker (a real mosquitto on 127.0.0.1) accepts only TLS
// clients with a certificate of its CA: with ca_file, cert_file and key_file (the key private,
// 0600) the gateway connects under its certificate's name and publishes; without a client
// certificate it is refused and says why; a key file others can read is a configuration error.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "adapters/mqtt/client.hpp"
#include "tests/integration/gatewayd_support.hpp"
#include "tests/integration/mqtt_support.hpp"
#include "tests/integration/test_support.hpp"

namespace gridlet {
namespace {

using gridlet::testing::Certificates;
using gridlet::testing::Daemon;
using gridlet::testing::eventually;
using gridlet::testing::Mosquitto;
using gridlet::testing::TempDir;
using gridlet::testing::ThreadExecutor;
using gridlet::testing::write_file;
using namespace std::chrono_literals;
namespace mq = adapters::mqtt;

class MqttTlsGatewaydTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/openssl")) << "openssl is missing: run scripts/bootstrap";
    server_ = gridlet::testing::make_certificates(dir_.path(), "IP:127.0.0.1", "broker");
    ASSERT_TRUE(server_);
    gateway_ = gridlet::testing::make_client_certificate(dir_.path(), *server_, "gridlet-gateway");
    observer_ = gridlet::testing::make_client_certificate(dir_.path(), *server_, "observer");
    ASSERT_TRUE(gateway_ && observer_);
    Mosquitto::Options o;
    o.ca_file = server_->ca;
    o.cert_file = server_->cert;
    o.key_file = server_->key;
    o.require_certificate = true;
    o.use_identity_as_username = true;
    broker_ = std::make_unique<Mosquitto>(dir_.path() / "broker", o);
    ASSERT_TRUE(broker_->ready()) << broker_->log();
    data_ = dir_.path() / "data";
    std::filesystem::create_directories(data_);
    config_ = dir_.path() / "gridlet.toml";
  }

  // A gateway whose only bus is the broker, publishing on it; `client_files` are the bus's
  // cert_file and key_file lines (or nothing).
  void write_config(const std::string& client_files) {
    write_file(config_, "[site]\nid = \"it\"\n[storage]\ndata_dir = \"" + data_.string() +
                            "\"\n[[buses]]\nid = \"home\"\ntype = \"mqtt\"\nurl = \"" + broker_->url() +
                            "\"\nca_file = \"" + server_->ca.string() + "\"\n" + client_files +
                            "[mqtt]\nenabled = true\nbus = \"home\"\n");
  }
  std::string client_files() const {
    return "cert_file = \"" + gateway_->cert.string() + "\"\nkey_file = \"" + gateway_->key.string() + "\"\n";
  }

  TempDir dir_;
  std::optional<Certificates> server_, gateway_, observer_;
  std::unique_ptr<Mosquitto> broker_;
  std::filesystem::path data_, config_;
};

TEST_F(MqttTlsGatewaydTest, ConnectsWithItsClientCertificateAndPublishes) {
  write_config(client_files());
  const auto [rc, out] = gridlet::testing::run_cli({"check-config", config_.string()});
  ASSERT_EQ(rc, 0) << out;

  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log();
  ASSERT_TRUE(d.proc().wait_for_log(std::regex("mqtt home: connected to ssl://")).has_value())
      << d.proc().log() << broker_->log();
  // The broker knows the gateway by its certificate's CN.
  EXPECT_TRUE(eventually(5s, [&] { return broker_->log().find("u'gridlet-gateway'") != std::string::npos; }))
      << broker_->log();

  // Another client of the same CA sees what the gateway published over TLS: its status, retained.
  std::mutex mu;
  std::vector<mq::Message> seen;
  ThreadExecutor loop;  // destroyed (joined) before what its handlers touch
  mq::ClientSettings s;
  s.name = s.client_id = "observer";
  s.url = broker_->url();
  s.ca_file = server_->ca;
  s.cert_file = observer_->cert;
  s.key_file = observer_->key;
  mq::Client observer(s, loop, {{}, {}, [&](mq::Message m) {
                                  std::lock_guard lock(mu);
                                  seen.push_back(std::move(m));
                                }});
  observer.subscribe("gridlet/it/status", 1);
  ASSERT_TRUE(observer.start());
  ASSERT_TRUE(eventually(10s, [&] {
    std::lock_guard lock(mu);
    return !seen.empty();
  })) << observer.stats().last_error << "\n" << broker_->log();
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.front().payload, "online");
  EXPECT_TRUE(seen.front().retained);
}

TEST_F(MqttTlsGatewaydTest, WithoutAClientCertificateTheBrokerRefusesTheGateway) {
  write_config("");
  Daemon d(config_, data_);
  ASSERT_TRUE(d.ready()) << d.proc().log() << "the gateway runs on while its broker refuses it";
  ASSERT_TRUE(d.proc().wait_for_log(std::regex("mqtt home: cannot connect: [^\n]*TLS")).has_value())
      << d.proc().log();
  EXPECT_EQ(d.proc().log().find("mqtt home: connected"), std::string::npos) << d.proc().log();
  EXPECT_NE(broker_->log().find("peer did not return a certificate"), std::string::npos) << broker_->log();
}

TEST_F(MqttTlsGatewaydTest, AKeyFileOthersCanReadIsAConfigurationError) {
  write_config(client_files());
  std::filesystem::permissions(gateway_->key, std::filesystem::perms::group_read | std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  const auto [rc, out] = gridlet::testing::run_cli({"check-config", config_.string()});
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("buses[0].key_file"), std::string::npos) << out;
  EXPECT_NE(out.find("chmod 600"), std::string::npos) << out;
}

}  // namespace
}  // namespace gridlet
