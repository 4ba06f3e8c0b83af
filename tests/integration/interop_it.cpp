// Wire compatibility with the classic Flask + pika demo, both directions, using the demo's own pika
// scripts (examples/demo) run by Debian's python3.
#include <csignal>

#include <gtest/gtest.h>

#include "support/support.hpp"

namespace warren {
namespace {

using testing::TestBroker;
using namespace std::chrono_literals;

const char* kPython = "/usr/bin/python3";  // Debian's, which has python3-pika

std::string Port() { return std::to_string(TestBroker::Get().AmqpPort()); }

TEST(Interop, PikaProducerJobsRunOnWarrenWork) {
  TestBroker::Get().Ctl({"purge_queue", "task_queue"});
  testing::Process work({testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl()});
  ASSERT_TRUE(work.WaitForOutput("consumer connected", 15s)) << work.Output();

  testing::Process producer(
      {kPython, testing::SourceDir() + "/examples/demo/producer.py", "--port", Port(), "hey", "hello", "xyz"});
  ASSERT_EQ(producer.Wait(20s), 0) << producer.Output();

  ASSERT_TRUE(work.WaitForOutput("sorry i did not understand xyz", 10s)) << work.Output();
  const auto out = work.Output();
  EXPECT_NE(out.find(" [x] Received hey\nhey there\n [x] Done"), std::string::npos) << out;
  EXPECT_NE(out.find(" [x] Received hello\nwell hello there\n [x] Done"), std::string::npos) << out;
}

TEST(Interop, AddJobMessagesRunOnThePikaWorker) {
  TestBroker::Get().Ctl({"purge_queue", "task_queue"});
  const auto http_port = testing::FreePort();
  // serve declares task_queue first; the pika worker's plain queue_declare(durable=True) must match it.
  testing::Process serve({testing::WarrenBinary(), "serve", "--listen", "127.0.0.1:" + std::to_string(http_port),
                          "--amqp-url", TestBroker::Get().AmqpUrl()});
  ASSERT_TRUE(testing::WaitForHttp(http_port, "/", 15s)) << serve.Output();

  testing::Process pika_worker({kPython, "-u", testing::SourceDir() + "/examples/demo/worker.py", "--port", Port()});
  ASSERT_TRUE(pika_worker.WaitForOutput("Waiting for messages", 15s)) << pika_worker.Output();

  // The publisher connects in the background; retry until its first confirm.
  testing::HttpResponse r;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  do {
    r = testing::HttpGet(http_port, "/add-job/hey");
  } while (r.status != 200 && std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, " [x] Sent: hey");
  EXPECT_EQ(testing::HttpGet(http_port, "/add-job/hello%20world").status, 200);

  ASSERT_TRUE(pika_worker.WaitForOutput("sorry i did not understand hello world", 10s)) << pika_worker.Output();
  const auto out = pika_worker.Output();
  EXPECT_NE(out.find(" [x] Received hey\nhey there\n [x] Done"), std::string::npos) << out;
  EXPECT_EQ(out.find("PRECONDITION_FAILED"), std::string::npos) << out;
}

}  // namespace
}  // namespace warren
