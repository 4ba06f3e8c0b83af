// TLS to the broker: amqps:// URLs against the test node's TLS listener, whose certificate is signed by
// a CA made for the run. The broker's certificate is verified against the URL's cacertfile, a client
// certificate goes along when given, and `serve` and `work` run a job end to end over TLS.
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "amqp/connection.hpp"
#include "amqp/consumer.hpp"
#include "amqp/publisher.hpp"
#include "support/support.hpp"

namespace warren {
namespace {

using nlohmann::json;
using testing::TestBroker;
using namespace std::chrono_literals;

std::string Url(const std::string& query) { return TestBroker::Get().AmqpsUrl(query); }
std::string File(const std::string& name) { return TestBroker::Get().TlsFile(name); }

// Connects once; returns "" or the error.
std::string ConnectError(const std::string& url) {
  amqp::ConnectionOptions options;
  options.url = url;
  try {
    amqp::Connection connection(options);
    return "";
  } catch (const amqp::AmqpError& e) {
    return e.what();
  }
}

TEST(Tls, PublishesAndConsumesOverAmqps) {
  const std::string queue = "it.tls.roundtrip";
  amqp::PublisherOptions publisher_options;
  publisher_options.connection.url = Url("?cacertfile=" + File("ca.pem"));
  publisher_options.declare.queues = {amqp::QueueSpec{queue}};
  publisher_options.declarations_settled = true;  // no broker kill right after: no first-connect hold
  amqp::Publisher publisher(publisher_options);
  ASSERT_TRUE(publisher.WaitReady(10s));
  std::promise<amqp::PublishOutcome> confirmed;
  publisher.Publish(amqp::OutgoingMessage{"", queue, "over tls"},
                    [&](amqp::PublishOutcome outcome) { confirmed.set_value(outcome); });
  EXPECT_EQ(confirmed.get_future().get(), amqp::PublishOutcome::kConfirmed);

  std::promise<std::string> received;
  amqp::ConsumerOptions consumer_options;
  consumer_options.connection.url = Url("?cacertfile=" + File("ca.pem"));
  consumer_options.consume = {queue};
  consumer_options.prefetch = 10;
  std::atomic<bool> once{false};
  // Left unacked: the broker takes it back when the consumer goes, and the test's broker goes too.
  amqp::Consumer consumer(consumer_options, [&](const amqp::Delivery& d) {
    if (!once.exchange(true)) {
      received.set_value(d.body);
    }
  });
  auto body = received.get_future();
  ASSERT_EQ(body.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(body.get(), "over tls");
}

TEST(Tls, TheBrokersCertificateMustChainToTheGivenCa) {
  const std::string refused = ConnectError(Url("?cacertfile=" + File("other-ca.pem")));
  EXPECT_NE(refused, "") << "a broker certificate from another CA was accepted";
  EXPECT_NE(refused.find("SSL peer cert verification failed"), std::string::npos) << refused;
  EXPECT_EQ(ConnectError(Url("?cacertfile=" + File("ca.pem"))), "");
  // The system's CAs do not know the test CA either.
  EXPECT_NE(ConnectError(Url("")), "");
  // verify_none connects whatever the certificate: for tests and self-signed brokers only.
  EXPECT_EQ(ConnectError(Url("?cacertfile=" + File("other-ca.pem") + "&verify=verify_none")), "");
}

TEST(Tls, AClientCertificateGoesAlongAndTheBrokerChecksIt) {
  EXPECT_EQ(ConnectError(Url("?cacertfile=" + File("ca.pem") + "&certfile=" + File("client.pem") +
                             "&keyfile=" + File("client.key"))),
            "");
  // The broker verifies client certificates against its CA: one from another CA is refused.
  const std::string refused =
      ConnectError(Url("?cacertfile=" + File("ca.pem") + "&certfile=" + File("other-client.pem") +
                       "&keyfile=" + File("other-client.key")));
  EXPECT_NE(refused.find("SSL"), std::string::npos) << refused;
}

TEST(Tls, ServeAndWorkRunAJobOverTls) {
  const std::string url = Url("?cacertfile=" + File("ca.pem"));
  const std::string dir = testing::MakeTempDir("warren-tls");
  const unsigned short port = testing::FreePort();
  const std::string queue = "it.tls.jobs";
  testing::Process serve({testing::WarrenBinary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port),
                          "--amqp-url", url, "--store", "sqlite:" + dir + "/warren.db"});
  testing::Process work({testing::WarrenBinary(), "work", "--amqp-url", url, "--queue", queue});
  ASSERT_TRUE(testing::WaitForHttp(port, "/readyz", 30s)) << serve.Output();
  const auto created =
      testing::HttpRequest(port, "POST", "/v1/jobs", json{{"type", "warren.noop"}, {"queue", queue}}.dump(),
                           {{"Content-Type", "application/json"}});
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string id = json::parse(created.body)["id"];
  json job;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    job = json::parse(testing::HttpGet(port, "/v1/jobs/" + id).body, nullptr, false);
    if (job.is_object() && job["state"] == "succeeded") {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(job["state"], "succeeded") << job.dump() << "\n--- serve:\n"
                                       << serve.Output() << "\n--- work:\n"
                                       << work.Output();
  EXPECT_EQ(serve.Output().find("guest:guest"), std::string::npos) << "the password is never logged";
}

}  // namespace
}  // namespace warren
