#include <gtest/gtest.h>

#include "amqp/connection.hpp"

namespace warren::amqp {
namespace {

TEST(ParseAmqpUrl, ReadsEveryPart) {
  const auto u = ParseAmqpUrl("amqp://user:secret@broker.local:5673/prod");
  EXPECT_EQ(u.host, "broker.local");
  EXPECT_EQ(u.port, 5673);
  EXPECT_EQ(u.user, "user");
  EXPECT_EQ(u.password, "secret");
  EXPECT_EQ(u.vhost, "prod");
}

TEST(ParseAmqpUrl, TrailingSlashMeansTheDefaultVhost) {
  EXPECT_EQ(ParseAmqpUrl("amqp://guest:guest@127.0.0.1:5672/").vhost, "/");
  EXPECT_EQ(ParseAmqpUrl("amqp://guest:guest@127.0.0.1:5672").vhost, "/");
  EXPECT_EQ(ParseAmqpUrl("amqp://127.0.0.1/%2f").vhost, "/");
}

TEST(SplitAmqpUrls, ACommaSeparatedListOfCheckedUrls) {
  EXPECT_EQ(SplitAmqpUrls("amqp://a/"), (std::vector<std::string>{"amqp://a/"}));
  EXPECT_EQ(SplitAmqpUrls("amqp://a:1/,amqp://b:2/v,,"), (std::vector<std::string>{"amqp://a:1/", "amqp://b:2/v"}));
  EXPECT_THROW(SplitAmqpUrls(""), std::invalid_argument);
  EXPECT_THROW(SplitAmqpUrls("amqp://a/,http://b/"), std::invalid_argument);
}

TEST(ParseAmqpUrl, RejectsGarbage) {
  EXPECT_THROW(ParseAmqpUrl("http://x"), std::invalid_argument);
  EXPECT_THROW(ParseAmqpUrl("amqp://host:notaport/"), std::invalid_argument);
}

TEST(ParseAmqpUrl, AmqpsIsTlsOnPort5671ByDefault) {
  const auto u = ParseAmqpUrl("amqps://user:pw@broker.example.com/prod");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.port, 5671);
  EXPECT_EQ(u.vhost, "prod");
  EXPECT_TRUE(u.tls_options.verify);
  EXPECT_EQ(u.tls_options.ca_file, "");
  EXPECT_FALSE(ParseAmqpUrl("amqp://broker.example.com/").tls);
}

TEST(ParseAmqpUrl, TlsSettingsComeFromTheQuery) {
  // Any readable file will do for the parser: it only checks that each can be read.
  const std::string file = "/etc/passwd";
  const std::string escaped = "/etc/pass%77d";
  const auto u = ParseAmqpUrl("amqps://u:p@h:6000/v?cacertfile=" + file + "&certfile=" + escaped + "&keyfile=" + file +
                              "&verify=verify_none");
  EXPECT_EQ(u.port, 6000);
  EXPECT_EQ(u.vhost, "v") << "the query is not part of the vhost";
  EXPECT_EQ(u.tls_options.ca_file, file);
  EXPECT_EQ(u.tls_options.cert_file, file) << "values are percent-decoded";
  EXPECT_EQ(u.tls_options.key_file, file);
  EXPECT_FALSE(u.tls_options.verify);
  EXPECT_TRUE(ParseAmqpUrl("amqps://h/?verify=verify_peer").tls_options.verify);
  EXPECT_EQ(ParseAmqpUrl("amqps://h?verify=verify_peer").vhost, "/");
}

TEST(ParseAmqpUrl, BadTlsSettingsAreOneClearError) {
  auto error = [](const std::string& url) {
    try {
      ParseAmqpUrl(url);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error("amqps://h/?heartbeat=5"),
            "AMQP URL parameter heartbeat is not supported (supported: cacertfile, certfile, keyfile, verify)");
  EXPECT_EQ(error("amqps://h/?verify=yes"),
            "AMQP URL parameter verify: expected verify_peer or verify_none, got 'yes'");
  EXPECT_EQ(error("amqps://h/?verify=verify_none&verify=verify_peer"), "AMQP URL parameter verify is given twice");
  EXPECT_EQ(error("amqp://h/?verify=verify_none"), "AMQP URL parameters are TLS settings: use amqps:// with them");
  EXPECT_EQ(error("amqps://h/?certfile=" + std::string("/etc/passwd")), "AMQP URL parameters certfile and keyfile go together");
  EXPECT_EQ(error("amqps://h/?cacertfile=/nonexistent/ca.pem"),
            "AMQP URL parameter cacertfile: /nonexistent/ca.pem: No such file or directory");
  EXPECT_EQ(error("amqps://h/?cacertfile=%zz"), "AMQP URL parameter cacertfile: bad %-escape");
  EXPECT_THROW(SplitAmqpUrls("amqps://a/?verify=no,amqp://b/"), std::invalid_argument);
}

}  // namespace
}  // namespace warren::amqp
