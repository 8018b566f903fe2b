// `ringtrain serve` and `ringtrain evaluate` end to end: a real server process on a loopback port, trained here, spoken to
// over real sockets with cpp-httplib's client. Both contracts (Azure ML, KServe v2), the metrics,
// dynamic batching under concurrent clients, bad and fuzzed requests, and a drain on SIGTERM.
// Every wait is on a condition with a bound, so a hang fails instead of blocking.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "core/base/random.h"
#include "core/serving/predictor.h"
#include "data/shard_reader.h"
#include "data/hdf5_handle.h"
#include "tests/serving/server_process.h"
#include "tests/test_support.h"

namespace rt {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
const std::string kBinary = RINGTRAIN_BINARY;
const std::string kMpiexec = std::string(RINGTRAIN_MPIEXEC) + " -n 2 --oversubscribe --timeout 100 ";
constexpr int64_t kFeatures = 16, kClasses = 4;

using testing::read_file;
using testing::ServerProcess;

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_cluster_shards(dir_->file("train"), 800, 2, kFeatures, kClasses, 5, 1);
    testing::write_cluster_shards(dir_->file("test"), 200, 1, kFeatures, kClasses, 5, 2);
    std::ofstream(dir_->file("job.toml")) << "[model]\nhidden = [32]\n[train]\nepochs = 3\nglobal_batch = 16\n"
                                          << "[data]\ntrain_dir = \"" << dir_->file("train") << "\"\ntest_dir = \""
                                          << dir_->file("test") << "\"\n[runtime]\nthreads = 1\n[checkpoint]\ndir = \""
                                          << dir_->file("ck") << "\"\n";
    testing::Outcome trained = testing::run(kBinary + " train " + dir_->file("job.toml"));
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    training_accuracy_ = testing::test_accuracy_of(trained.output);
    ASSERT_FALSE(training_accuracy_.empty()) << trained.output;
    // The test set, as stored (uint8), and its labels.
    ShardReader reader(dir_->file("test") + "/part-00000.h5");
    test_rows_ = reader.info().samples;
    std::vector<uint8_t> bytes(static_cast<size_t>(test_rows_ * kFeatures));
    test_labels_.resize(static_cast<size_t>(test_rows_));
    reader.read(0, test_rows_, bytes.data(), test_labels_.data());
    test_values_.assign(bytes.begin(), bytes.end());
    // The same checkpoint scored in this process: what every answer must equal, bit for bit.
    expected_ = new Scores(Predictor::load(dir_->file("ck"))->score(
        Span<const float>(test_values_.data(), test_values_.size()), test_rows_));
  }
  static void TearDownTestSuite() {
    delete expected_;
    delete dir_;
  }

  std::unique_ptr<ServerProcess> start(const std::vector<std::string>& options = {}) {
    auto server = std::make_unique<ServerProcess>(dir_->file("ck"), options, dir_->file("serve-" +
                                                  std::to_string(servers_++) + ".log"));
    EXPECT_GT(server->port(), 0) << server->output();
    return server;
  }
  static httplib::Client client(const ServerProcess& server) {
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(30, 0);
    c.set_connection_timeout(10, 0);
    return c;
  }
  static std::vector<float> row(int64_t r) {
    return std::vector<float>(test_values_.begin() + r * kFeatures, test_values_.begin() + (r + 1) * kFeatures);
  }
  static std::vector<float> expected_probabilities(int64_t r) {
    return std::vector<float>(expected_->probabilities.begin() + r * kClasses,
                              expected_->probabilities.begin() + (r + 1) * kClasses);
  }

  static testing::TempDir* dir_;
  static std::string training_accuracy_;
  static int64_t test_rows_;
  static std::vector<float> test_values_;
  static std::vector<int32_t> test_labels_;
  static Scores* expected_;
  static int servers_;
};
testing::TempDir* ServeTest::dir_ = nullptr;
std::string ServeTest::training_accuracy_;
int64_t ServeTest::test_rows_ = 0;
std::vector<float> ServeTest::test_values_;
std::vector<int32_t> ServeTest::test_labels_;
Scores* ServeTest::expected_ = nullptr;
int ServeTest::servers_ = 0;

TEST_F(ServeTest, EveryRouteAnswersAsItsContractSays) {
  auto server = start();
  httplib::Client c = client(*server);
  for (const char* path : {"/", "/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/model",
                           "/v2/models/model/ready", "/metrics"}) {
    auto answer = c.Get(path);
    ASSERT_TRUE(answer) << path;
    EXPECT_EQ(answer->status, 200) << path << ": " << answer->body;
  }
  json metadata = json::parse(c.Get("/v2/models/model")->body);
  EXPECT_EQ(metadata["name"], "model");
  EXPECT_EQ(metadata["inputs"][0]["name"], "input");
  EXPECT_EQ(metadata["inputs"][0]["datatype"], "UINT8");
  EXPECT_EQ(metadata["inputs"][0]["shape"], json::array({-1, kFeatures}));
  EXPECT_EQ(metadata["outputs"][0]["shape"], json::array({-1, kClasses}));
  auto missing = c.Get("/v2/models/other/ready");
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(json::parse(missing->body)["error"].get<std::string>().find("no model named 'other'"), std::string::npos);
  auto nowhere = c.Get("/nowhere");
  EXPECT_EQ(nowhere->status, 404);
  EXPECT_TRUE(json::parse(nowhere->body).contains("error"));
  const std::string metrics = c.Get("/metrics")->body;
  for (const char* name : {"ringtrain_requests_total{route=\"/v2/models/{name}\",code=\"200\"} 2",
                           "ringtrain_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"} 1",
                           "ringtrain_batch_rows_count 0", "ringtrain_queued_rows 0",
                           "ringtrain_model_info{model=\"model\",version=\""}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name << " not in\n" << metrics;
  }
}

// Every test sample through /score and through /v2 infer: the probabilities are, bit for bit, the
// checkpoint's scored in process, and their accuracy is the training run's.
TEST_F(ServeTest, ScoresEqualTheTrainingRunsAndTheCheckpointsInProcess) {
  auto server = start();
  httplib::Client c = client(*server);
  json rows = json::array();
  for (int64_t r = 0; r < test_rows_; ++r) rows.push_back(row(r));
  auto scored = c.Post("/score", json{{"data", rows}}.dump(), "application/json");
  ASSERT_TRUE(scored);
  ASSERT_EQ(scored->status, 200) << scored->body;
  json answer = json::parse(scored->body);
  ASSERT_EQ(answer["predictions"].size(), static_cast<size_t>(test_rows_));
  int64_t correct = 0;
  for (int64_t r = 0; r < test_rows_; ++r) {
    EXPECT_EQ(answer["probabilities"][r].get<std::vector<float>>(), expected_probabilities(r)) << "row " << r;
    EXPECT_EQ(answer["predictions"][r].get<int64_t>(), expected_->predicted[static_cast<size_t>(r)]);
    correct += answer["predictions"][r].get<int64_t>() == test_labels_[static_cast<size_t>(r)];
  }
  EXPECT_EQ(fmt::format("{:.2f}", 100.0 * static_cast<double>(correct) / static_cast<double>(test_rows_)),
            training_accuracy_);

  json infer = {{"id", "request-7"},
                {"inputs", json::array({json{{"name", "input"},
                                             {"shape", {test_rows_, kFeatures}},
                                             {"datatype", "UINT8"},
                                             {"data", test_values_}}})}};
  auto inferred = c.Post("/v2/models/model/infer", infer.dump(), "application/json");
  ASSERT_TRUE(inferred);
  ASSERT_EQ(inferred->status, 200) << inferred->body;
  json outputs = json::parse(inferred->body);
  EXPECT_EQ(outputs["id"], "request-7");
  EXPECT_EQ(outputs["model_name"], "model");
  EXPECT_EQ(outputs["outputs"][0]["name"], "probabilities");
  EXPECT_EQ(outputs["outputs"][0]["shape"], json::array({test_rows_, kClasses}));
  EXPECT_EQ(outputs["outputs"][0]["data"].get<std::vector<float>>(), expected_->probabilities);
  EXPECT_EQ(outputs["outputs"][1]["data"].get<std::vector<int64_t>>(), expected_->predicted);
  // Only the output asked for.
  infer["outputs"] = json::array({json{{"name", "predicted_class"}}});
  json one = json::parse(c.Post("/v2/models/model/infer", infer.dump(), "application/json")->body);
  ASSERT_EQ(one["outputs"].size(), 1u);
  EXPECT_EQ(one["outputs"][0]["name"], "predicted_class");
}

// 64 clients at once, each sending its own rows again and again: every answer holds its own rows'
// scores, and forward passes did gather several requests.
TEST_F(ServeTest, DynamicBatchingAnswersEveryRequestWithItsOwnRows) {
  auto server = start({"--max-batch", "64", "--max-delay-us", "20000"});
  constexpr int kClients = 64, kRequests = 5;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c = client(*server);
      for (int k = 0; k < kRequests; ++k) {
        const int64_t first = (i * 3 + k) % (test_rows_ - 3), count = 1 + (i + k) % 3;
        json rows = json::array();
        for (int64_t r = first; r < first + count; ++r) rows.push_back(row(r));
        auto answer = c.Post("/score", json{{"data", rows}}.dump(), "application/json");
        if (!answer || answer->status != 200) {
          if (++failed == 1) {
            ADD_FAILURE() << "client " << i << ": "
                          << (answer ? answer->body : "no answer: " + httplib::to_string(answer.error()));
          }
          continue;
        }
        json body = json::parse(answer->body);
        if (body["probabilities"].size() != static_cast<size_t>(count)) ++wrong;
        for (int64_t r = 0; r < count && r < static_cast<int64_t>(body["probabilities"].size()); ++r) {
          // Each row's own scores (a product's rounding may differ with the rows beside it in a pass).
          const std::vector<float> got = body["probabilities"][r].get<std::vector<float>>();
          const std::vector<float> expected = expected_probabilities(first + r);
          for (size_t k = 0; k < got.size() && k < expected.size(); ++k) {
            if (std::abs(got[k] - expected[k]) > 1e-6f) ++wrong;
          }
          if (got.size() != expected.size() ||
              body["predictions"][r].get<int64_t>() != expected_->predicted[static_cast<size_t>(first + r)]) {
            ++wrong;
          }
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  const std::string metrics = client(*server).Get("/metrics")->body;
  std::smatch single, passes;
  ASSERT_TRUE(std::regex_search(metrics, single, std::regex("ringtrain_batch_rows_bucket\\{le=\"1\"\\} ([0-9]+)")));
  ASSERT_TRUE(std::regex_search(metrics, passes, std::regex("ringtrain_batch_rows_count ([0-9]+)")));
  EXPECT_LT(std::stoi(passes[1]), kClients * kRequests) << "no pass gathered two requests:\n" << metrics;
  EXPECT_LT(std::stoi(single[1]), std::stoi(passes[1])) << metrics;
}

struct BadRequest {
  std::string what, path, body, type;
  int status;
  std::string says;
};

TEST_F(ServeTest, BadRequestsGetAFourHundredNamingTheProblemAndServingGoesOn) {
  auto server = start({"--max-body-mb", "0.05", "--read-timeout-seconds", "0.5"});
  httplib::Client c = client(*server);
  const std::string good_row = json(row(0)).dump();
  const std::vector<BadRequest> bad = {
      {"malformed JSON", "/score", "{\"data\": [[1, 2", "application/json", 400, "not valid JSON"},
      {"no data", "/score", "{\"rows\": []}", "application/json", 400, "no \"data\""},
      {"a short row", "/score", "{\"data\": [[1, 2, 3]]}", "application/json", 400, "holds 3 numbers"},
      {"text in a row", "/score", "{\"data\": [[\"a\"]]}", "application/json", 400, "not a number"},
      {"a number JSON cannot hold", "/score", "{\"data\": [[1e999]]}", "application/json", 400, "not valid JSON"},
      {"a wrong content type", "/score", "{\"data\": [" + good_row + "]}", "text/plain", 415, "Content-Type"},
      {"a body over the limit", "/score", std::string(100000, ' '), "application/json", 413, "limit"},
      {"an unknown model", "/v2/models/other/infer", "{}", "application/json", 404, "no model named 'other'"},
      {"a wrong input name", "/v2/models/model/infer",
       "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 16], \"datatype\": \"UINT8\", \"data\": " + good_row + "}]}",
       "application/json", 400, "no input named 'x'"},
      {"a wrong shape", "/v2/models/model/infer",
       "{\"inputs\": [{\"name\": \"input\", \"shape\": [2, 8], \"datatype\": \"UINT8\", \"data\": " + good_row + "}]}",
       "application/json", 400, "is not [rows, 16]"},
      {"a wrong datatype", "/v2/models/model/infer",
       "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 16], \"datatype\": \"BYTES\", \"data\": " + good_row + "}]}",
       "application/json", 400, "not a numeric tensor type"},
      {"a short tensor", "/v2/models/model/infer",
       "{\"inputs\": [{\"name\": \"input\", \"shape\": [2, 16], \"datatype\": \"UINT8\", \"data\": " + good_row + "}]}",
       "application/json", 400, "its shape [2,16] says 32"},
      {"an unknown output", "/v2/models/model/infer",
       "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 16], \"datatype\": \"UINT8\", \"data\": " + good_row +
           "}], \"outputs\": [{\"name\": \"logits\"}]}",
       "application/json", 400, "no output named 'logits'"},
  };
  for (const BadRequest& request : bad) {
    auto answer = c.Post(request.path, request.body, request.type);
    ASSERT_TRUE(answer) << request.what << ": no answer: " << httplib::to_string(answer.error()) << "\n"
                        << server->output();
    EXPECT_EQ(answer->status, request.status) << request.what << ": " << answer->body;
    json body = json::parse(answer->body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << request.what << ": " << answer->body;
    EXPECT_NE(body["error"].get<std::string>().find(request.says), std::string::npos)
        << request.what << ": " << answer->body;
  }
  // Full rows with one value the model cannot read: out of range, negative, not an integer, infinite.
  for (const auto& [value, says] : std::vector<std::pair<std::string, std::string>>{
           {"256", "256 is not an integer in 0-255"}, {"-1", "-1 is not an integer in 0-255"},
           {"0.5", "0.5 is not an integer in 0-255"}}) {
    std::string text = "{\"data\": [[";
    for (int64_t f = 0; f < kFeatures; ++f) text += (f ? ", " : "") + (f == 5 ? value : std::string("7"));
    auto answer = c.Post("/score", text + "]]}", "application/json");
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 400) << value;
    EXPECT_NE(answer->body.find("row 0, value 5: " + says), std::string::npos) << answer->body;
  }
  // A body cut short (the connection closes before Content-Length bytes came) and one that stalls.
  for (const char* raw : {"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: 1000\r\n\r\n{\"data\": [[1,",
                          "POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: 1000\r\n\r\n"}) {
    httplib::Client plain("127.0.0.1", server->port());
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(server->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ASSERT_GT(write(fd, raw, strlen(raw)), 0);
    if (std::string(raw).back() == ',') shutdown(fd, SHUT_WR);  // cut; the other stalls past the read timeout
    char buffer[512];
    timeval bound{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
    (void)!read(fd, buffer, sizeof(buffer));  // an answer or the close, within the read timeout
    close(fd);
  }
  auto ready = c.Get("/v2/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto good = c.Post("/score", "{\"data\": [" + good_row + "]}", "application/json");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200) << good->body;
}

// Seeded mutations of valid requests (byte flips, cuts, insertions, values of another type): the
// server answers each (2xx or 4xx, never 5xx or a dropped connection) and stays healthy.
TEST_F(ServeTest, AThousandFuzzedRequestsNeverStopTheServer) {
  auto server = start({"--read-timeout-seconds", "0.5"});
  httplib::Client c = client(*server);
  const std::string good_row = json(row(1)).dump();
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"/score", "{\"data\": [" + good_row + ", " + good_row + "]}"},
      {"/v2/models/model/infer", "{\"id\": \"a\", \"inputs\": [{\"name\": \"input\", \"shape\": [1, 16], "
                                 "\"datatype\": \"UINT8\", \"data\": " + good_row + "}], \"outputs\": "
                                 "[{\"name\": \"probabilities\"}]}"}};
  const std::vector<std::string> confusions = {"null", "true", "\"x\"", "[]", "{}", "-1", "1e400", "[[[[[[[[[[1]]]]]]]]]]",
                                               "0.5", "18446744073709551616"};
  int crashes = 0, fives = 0, twos = 0, fours = 0;
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    std::mt19937_64 rng(seed);
    const auto& [path, original] = seeds[seed % seeds.size()];
    std::string body = original;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0: body[at] = static_cast<char>(body[at] ^ (1 << (rng() % 8))); break;
        case 1: body.resize(at); break;
        case 2: body.insert(at, 1, "{}[]\",:0-e."[rng() % 11]); break;
        default: {
          // A number replaced by a value of another type.
          const size_t digit = body.find_first_of("0123456789", at);
          if (digit != std::string::npos) body.replace(digit, 1, confusions[rng() % confusions.size()]);
        }
      }
    }
    auto answer = c.Post(path, body, "application/json");
    if (!answer) {
      ++crashes;
      ADD_FAILURE() << "seed " << seed << ": no answer to " << body;
      continue;
    }
    if (answer->status >= 500) {
      ++fives;
      ADD_FAILURE() << "seed " << seed << ": " << answer->status << " " << answer->body << " for " << body;
    }
    twos += answer->status < 300;
    fours += answer->status >= 400 && answer->status < 500;
  }
  std::printf("[ fuzzed   ] 1000 requests: %d answered 2xx, %d 4xx, %d 5xx, %d unanswered\n", twos, fours, fives,
              crashes);
  EXPECT_EQ(crashes + fives, 0);
  auto ready = c.Get("/v2/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(server->wait_exit(0), -1) << "the server exited:\n" << server->output();
}

// SIGTERM with a request waiting for its batch: it is answered, then the server exits 0.
TEST_F(ServeTest, SigtermAnswersTheRequestsUnderWayAndExitsZero) {
  auto server = start({"--max-batch", "1000", "--max-delay-us", "3000000"});
  std::future<int> waiting = std::async(std::launch::async, [&] {
    auto answer = client(*server).Post("/score", json{{"data", {row(2)}}}.dump(), "application/json");
    if (!answer) ADD_FAILURE() << "no answer: " << httplib::to_string(answer.error());
    return answer ? answer->status : -1;
  });
  // Once the request waits in the queue (it waits 3 s there for others to join its pass).
  httplib::Client c = client(*server);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    auto metrics = c.Get("/metrics");
    if (metrics && metrics->body.find("ringtrain_queued_rows 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto signalled = Clock::now();
  server->signal(SIGTERM);
  EXPECT_EQ(waiting.get(), 200) << server->output();
  EXPECT_EQ(server->wait_exit(30), 0) << server->output();
  const double seconds = std::chrono::duration<double>(Clock::now() - signalled).count();
  EXPECT_LT(seconds, 3 + 5) << "the batch delay, and slack";
  EXPECT_NE(server->output().find("not ready; answering the requests under way"), std::string::npos);
}

// `ringtrain evaluate`: the training run's accuracy, the confusion matrix of the checkpoint's own
// predictions, the same at 1 and 2 ranks; shards that do not fit the model are refused.
TEST_F(ServeTest, EvaluateMeasuresTheCheckpointAsTrainingDidOnOneRankOrTwo) {
  testing::Outcome one = testing::run(kBinary + " evaluate " + dir_->file("ck") + " --data " + dir_->file("test") +
                                      " --json");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const json result = json::parse(one.output.substr(one.output.find('{')));
  EXPECT_EQ(result["samples"], test_rows_);
  EXPECT_EQ(fmt::format("{:.2f}", 100.0 * result["accuracy"].get<double>()), training_accuracy_);
  std::vector<std::vector<int64_t>> confusion(kClasses, std::vector<int64_t>(kClasses, 0));
  for (int64_t r = 0; r < test_rows_; ++r) {
    ++confusion[static_cast<size_t>(test_labels_[static_cast<size_t>(r)])][static_cast<size_t>(expected_->predicted[r])];
  }
  EXPECT_EQ(result["confusion"].get<std::vector<std::vector<int64_t>>>(), confusion);
  for (int64_t c = 0; c < kClasses; ++c) {
    const double recall = static_cast<double>(confusion[c][c]) /
                          static_cast<double>(std::accumulate(confusion[c].begin(), confusion[c].end(), int64_t{0}));
    EXPECT_DOUBLE_EQ(result["classes"][c]["recall"].get<double>(), recall) << "class " << c;
  }
  EXPECT_GT(result["loss"].get<double>(), 0.0);

  testing::Outcome two = testing::run(kMpiexec + kBinary + " evaluate " + dir_->file("ck") + " --data " +
                                      dir_->file("test") + " --json");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const json split = json::parse(two.output.substr(two.output.find('{')));
  EXPECT_EQ(split["confusion"], result["confusion"]);
  EXPECT_EQ(split["samples"], result["samples"]);
  EXPECT_NEAR(split["loss"].get<double>(), result["loss"].get<double>(), 1e-12);

  testing::Outcome table = testing::run(kBinary + " evaluate " + dir_->file("ck") + " --data " + dir_->file("test"));
  EXPECT_NE(table.output.find("confusion matrix (a row per true class"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("accuracy " + training_accuracy_ + "%"), std::string::npos) << table.output;

  testing::write_cluster_shards(dir_->file("other"), 50, 1, 8, kClasses, 5, 3);
  testing::Outcome refused = testing::run(kBinary + " evaluate " + dir_->file("ck") + " --data " + dir_->file("other"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find(dir_->file("other") + " holds samples of shape [8]"), std::string::npos)
      << refused.output;
}

// serve --watch on a checkpoint.dir while a resumed training run commits newer checkpoints into
// it, under load: no request fails, each answer's rows are all one checkpoint's scores (its
// model_version), and the version only moves forward, to the newest.
TEST_F(ServeTest, WatchSwapsToNewerCheckpointsUnderLoadWithoutFailingOrMixing) {
  const std::string watched = dir_->file("watched");
  std::filesystem::copy(dir_->file("ck"), watched, std::filesystem::copy_options::recursive);
  auto watching = std::make_unique<ServerProcess>(watched, std::vector<std::string>{"--watch", "--watch-seconds", "0.05"},
                                                  dir_->file("watch.log"));
  ASSERT_GT(watching->port(), 0) << watching->output();
  std::atomic<bool> training{true};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  std::mutex answers_mutex;
  std::vector<std::pair<int, json>> answers;  // (client, answer), in each client's order
  json infer = {{"inputs", json::array({json{{"name", "input"},
                                             {"shape", {4, kFeatures}},
                                             {"datatype", "UINT8"},
                                             {"data", std::vector<float>(test_values_.begin(),
                                                                         test_values_.begin() + 4 * kFeatures)}}})}};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c = client(*watching);
      // Until training is over, and a few more after (then the newest is served).
      for (int after = 0; after < 20; after += training ? 0 : 1) {
        auto answer = c.Post("/v2/models/model/infer", infer.dump(), "application/json");
        if (!answer || answer->status != 200) {
          ++failed;
          continue;
        }
        std::lock_guard<std::mutex> lock(answers_mutex);
        answers.emplace_back(i, json::parse(answer->body));
      }
    });
  }
  testing::Outcome trained = testing::run(kBinary + " train " + dir_->file("job.toml") + " --resume auto " +
                                          "--set train.epochs=6 --set checkpoint.keep=10 --set checkpoint.dir=" +
                                          watched);
  training = false;
  for (std::thread& t : clients) t.join();
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_EQ(failed.load(), 0);
  // Every checkpoint now in the directory, scored in process: what each version must have answered.
  std::map<int64_t, std::vector<float>> by_version;
  for (const auto& entry : std::filesystem::directory_iterator(watched)) {
    if (!entry.is_directory()) continue;  // the RUN record
    std::unique_ptr<Predictor> predictor = Predictor::load(entry.path().string());
    by_version[predictor->step()] =
        predictor->score(Span<const float>(test_values_.data(), 4 * kFeatures), 4).probabilities;
  }
  const int64_t first = expected_->step, newest = by_version.rbegin()->first;
  std::set<int64_t> seen;
  std::map<int, int64_t> last_step;
  for (const auto& [client, answer] : answers) {
    const int64_t version = std::stoll(answer["model_version"].get<std::string>());
    seen.insert(version);
    EXPECT_GE(version, last_step[client]) << "client " << client << " went back to an older model";
    last_step[client] = version;
    ASSERT_TRUE(by_version.count(version)) << version;
    const std::vector<float> got = answer["outputs"][0]["data"].get<std::vector<float>>();
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_NEAR(got[k], by_version[version][k], 1e-6f) << "version " << version << ": a row of another model";
    }
  }
  EXPECT_TRUE(seen.count(first)) << "never served the first checkpoint";
  EXPECT_TRUE(seen.count(newest)) << "never swapped to the newest, step " << newest << ":\n" << watching->output();
  EXPECT_NE(watching->output().find("now serving " + watched), std::string::npos) << watching->output();
}

// A CSV file's rows after its header, split at commas.
std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream parts(line);
    std::string field;
    while (std::getline(parts, field, ',')) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

// `ringtrain predict` over the test shards at 1, 2 and 4 ranks: one file in input order whose
// classes and probabilities are the checkpoint's own; the same from a JSON-lines file.
TEST_F(ServeTest, PredictWritesOneOrderedFileAtOneTwoAndFourRanks) {
  for (int ranks : {1, 2, 4}) {
    const std::string output = dir_->file("predicted-" + std::to_string(ranks) + ".csv");
    const std::string launcher = ranks == 1 ? "" : std::string(RINGTRAIN_MPIEXEC) + " -n " + std::to_string(ranks) +
                                                       " --oversubscribe --timeout 100 ";
    testing::Outcome outcome = testing::run(launcher + kBinary + " predict " + dir_->file("ck") + " --input " +
                                            dir_->file("test") + " --output " + output + " --batch 64");
    ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
    EXPECT_NE(outcome.output.find("scored " + std::to_string(test_rows_) + " rows"), std::string::npos)
        << outcome.output;
    const auto rows = csv_rows(output);
    ASSERT_EQ(static_cast<int64_t>(rows.size()), test_rows_) << ranks << " ranks";
    for (int64_t r = 0; r < test_rows_; ++r) {
      ASSERT_EQ(rows[r].size(), static_cast<size_t>(2 + kClasses));
      EXPECT_EQ(std::stoll(rows[r][0]), r);
      EXPECT_EQ(std::stoll(rows[r][1]), expected_->predicted[static_cast<size_t>(r)]) << "row " << r;
      for (int64_t c = 0; c < kClasses; ++c) {
        EXPECT_NEAR(std::stof(rows[r][2 + c]), expected_probabilities(r)[c], 1e-6f) << "row " << r;
      }
    }
    EXPECT_FALSE(std::filesystem::exists(output + ".part-00001")) << "a part was left";
  }
  // The same rows as JSON lines in, top 2 as JSON lines out.
  {
    std::ofstream lines(dir_->file("rows.jsonl"));
    for (int64_t r = 0; r < test_rows_; ++r) lines << json(row(r)).dump() << "\n";
  }
  testing::Outcome outcome = testing::run(kBinary + " predict " + dir_->file("ck") + " --input " +
                                          dir_->file("rows.jsonl") + " --output " + dir_->file("top.jsonl") +
                                          " --top-k 2");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  std::ifstream in(dir_->file("top.jsonl"));
  std::string line;
  int64_t r = 0;
  while (std::getline(in, line)) {
    const json row_answer = json::parse(line);
    EXPECT_EQ(row_answer["row"], r);
    EXPECT_EQ(row_answer["class"], expected_->predicted[static_cast<size_t>(r)]);
    EXPECT_EQ(row_answer["top"][0]["class"], expected_->predicted[static_cast<size_t>(r)]);
    EXPECT_EQ(row_answer["top"].size(), 2u);
    ++r;
  }
  EXPECT_EQ(r, test_rows_);
  // A line that is not a row is named.
  std::ofstream(dir_->file("bad.jsonl")) << json(row(0)).dump() << "\n[1, 2, \"x\"]\n";
  testing::Outcome bad = testing::run(kBinary + " predict " + dir_->file("ck") + " --input " + dir_->file("bad.jsonl") +
                                      " --output " + dir_->file("bad.csv"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("bad.jsonl, line 2: not a row of 16 numbers"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("bad.csv"))) << "a partial output was left as if complete";
  EXPECT_FALSE(std::filesystem::exists(dir_->file("bad.csv.part"))) << "the failed run's part was left";
}

// The test images as .npy (float32 and uint8) and IDX in, HDF5 out at 2 ranks: the checkpoint's
// answers, row for row; arrays of the wrong shape or order are named.
TEST_F(ServeTest, PredictReadsNpyAndIdxAndWritesHdf5) {
  const std::string shape = fmt::format("({}, {})", test_rows_, kFeatures);
  testing::write_npy(dir_->file("rows-f4.npy"), "<f4", shape, test_values_.data(), test_values_.size() * sizeof(float));
  std::vector<uint8_t> bytes(test_values_.begin(), test_values_.end());
  testing::write_npy(dir_->file("rows-u1.npy"), "|u1", shape, bytes.data(), bytes.size());
  {  // IDX: magic 0x00000803 (unsigned bytes, 3 dimensions), the extents big-endian
    std::ofstream idx(dir_->file("rows-idx3-ubyte"), std::ios::binary);
    const uint32_t extents[4] = {0x00000803, static_cast<uint32_t>(test_rows_), 4, 4};
    for (uint32_t v : extents) {
      const char be[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
      idx.write(be, 4);
    }
    idx.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  const std::string mpi2 = std::string(RINGTRAIN_MPIEXEC) + " -n 2 --oversubscribe --timeout 100 ";
  for (const char* input : {"rows-f4.npy", "rows-u1.npy", "rows-idx3-ubyte"}) {
    const std::string output = dir_->file(std::string(input) + ".h5");
    testing::Outcome outcome = testing::run(mpi2 + kBinary + " predict " + dir_->file("ck") + " --input " +
                                            dir_->file(input) + " --output " + output + " --batch 64");
    ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
    Hdf5Handle file(H5Fopen(output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    ASSERT_GE(file.get(), 0) << output;
    std::vector<int32_t> classes(static_cast<size_t>(test_rows_));
    std::vector<float> probabilities(static_cast<size_t>(test_rows_ * kClasses));
    Hdf5Handle class_set(H5Dopen2(file.get(), "class", H5P_DEFAULT), H5Dclose);
    Hdf5Handle probability_set(H5Dopen2(file.get(), "probabilities", H5P_DEFAULT), H5Dclose);
    ASSERT_GE(H5Dread(class_set.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, classes.data()), 0);
    ASSERT_GE(H5Dread(probability_set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, probabilities.data()), 0);
    for (int64_t r = 0; r < test_rows_; ++r) {
      EXPECT_EQ(classes[static_cast<size_t>(r)], expected_->predicted[static_cast<size_t>(r)]) << input << " row " << r;
      for (int64_t c = 0; c < kClasses; ++c) {
        EXPECT_EQ(probabilities[static_cast<size_t>(r * kClasses + c)], expected_probabilities(r)[c]) << input;
      }
    }
    EXPECT_FALSE(std::filesystem::exists(output + ".part-00001")) << "a part was left";
  }
  // The top 2 in HDF5.
  testing::Outcome top = testing::run(kBinary + " predict " + dir_->file("ck") + " --input " + dir_->file("rows-u1.npy") +
                                      " --output " + dir_->file("top.h5") + " --top-k 2");
  ASSERT_EQ(top.exit_code, 0) << top.output;
  {
    Hdf5Handle file(H5Fopen(dir_->file("top.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    Hdf5Handle top_set(H5Dopen2(file.get(), "top_class", H5P_DEFAULT), H5Dclose);
    std::vector<int32_t> top_classes(static_cast<size_t>(test_rows_ * 2));
    ASSERT_GE(H5Dread(top_set.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, top_classes.data()), 0);
    for (int64_t r = 0; r < test_rows_; ++r) {
      EXPECT_EQ(top_classes[static_cast<size_t>(2 * r)], expected_->predicted[static_cast<size_t>(r)]) << r;
    }
  }
  // Wrong arrays are named.
  testing::write_npy(dir_->file("wide.npy"), "<f4", fmt::format("({}, 8)", test_rows_ * 2), test_values_.data(),
            test_values_.size() * sizeof(float));
  testing::write_npy(dir_->file("fortran.npy"), "<f4", shape, test_values_.data(), test_values_.size() * sizeof(float), true);
  testing::write_npy(dir_->file("strings.npy"), "<U4", shape, test_values_.data(), test_values_.size() * sizeof(float));
  for (const auto& [file, needle] : std::vector<std::pair<std::string, std::string>>{
           {"wide.npy", "holds rows of 8 values"}, {"fortran.npy", "Fortran order"}, {"strings.npy", "'<U4'"}}) {
    testing::Outcome bad = testing::run(kBinary + " predict " + dir_->file("ck") + " --input " + dir_->file(file) +
                                        " --output " + dir_->file("bad.h5"));
    EXPECT_NE(bad.exit_code, 0) << file;
    EXPECT_NE(bad.output.find(dir_->file(file)), std::string::npos) << bad.output;
    EXPECT_NE(bad.output.find(needle), std::string::npos) << bad.output;
    EXPECT_FALSE(std::filesystem::exists(dir_->file("bad.h5")));
  }
}

// `ringtrain export --format onnx`: the file passes onnx.checker, and an independent evaluation of
// its graph (tests/serving/onnx_check.py, NumPy in float64) gives the checkpoint's probabilities.
TEST_F(ServeTest, TheOnnxExportPassesTheCheckerAndScoresAsTheCheckpointDoes) {
  testing::Outcome exported = testing::run(kBinary + " export " + dir_->file("ck") + " --format onnx --output " +
                                           dir_->file("model.onnx"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  json rows = json::array();
  for (int64_t r = 0; r < test_rows_; ++r) rows.push_back(row(r));
  std::ofstream(dir_->file("rows.json")) << json{{"data", rows}}.dump();
  testing::Outcome checked = testing::run(std::string(RINGTRAIN_PYTHON) + " " + RINGTRAIN_SOURCE_DIR +
                                          "/tests/serving/onnx_check.py " + dir_->file("model.onnx") + " " +
                                          dir_->file("rows.json") + " 2>&1");
  ASSERT_EQ(checked.exit_code, 0) << checked.output;
  const json outputs = json::parse(checked.output);
  double largest = 0;
  for (int64_t r = 0; r < test_rows_; ++r) {
    for (int64_t c = 0; c < kClasses; ++c) {
      largest = std::max(largest, std::abs(outputs["probabilities"][r][c].get<double>() -
                                           static_cast<double>(expected_->probabilities[r * kClasses + c])));
      largest = std::max(largest, std::abs(outputs["logits"][r][c].get<double>() -
                                           static_cast<double>(expected_->logits[r * kClasses + c])));
    }
  }
  EXPECT_LT(largest, 1e-5) << "the ONNX graph's outputs differ from the checkpoint's";
  // A file that cannot be written is named.
  testing::Outcome refused = testing::run(kBinary + " export " + dir_->file("ck") + " --format onnx --output " +
                                          dir_->file("nowhere/model.onnx"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("cannot write " + dir_->file("nowhere/model.onnx")), std::string::npos)
      << refused.output;
}

// The CNN, an MLP with GELU and layer norms, and one with SiLU, exported: each file passes onnx.checker, and its
// graph evaluated independently (onnx_check.py) gives the probabilities `ringtrain predict`
// gives for the same rows.
TEST(OnnxExportTest, TheCnnAndGeluLayerNormAndSiluMlpsScoreAsTheirCheckpointsDo) {
  struct Case {
    std::string name, model;
    int64_t features;
    std::vector<int64_t> shape;
  };
  for (const Case& c : std::vector<Case>{
           {"cnn", "kind = \"cnn\"\nchannels = [4, 6]\nhidden = [8]\n", 64, {1, 8, 8}},
           {"mlp", "kind = \"mlp\"\nhidden = [12, 8]\nactivation = \"gelu\"\nlayer_norm = true\n", 16, {}},
           {"silu mlp", "kind = \"mlp\"\nhidden = [12, 8]\nactivation = \"silu\"\n", 16, {}}}) {
    SCOPED_TRACE(c.name);
    testing::TempDir dir;
    testing::write_cluster_shards(dir.file("train"), 320, 1, c.features, 4, 9, 1, c.shape);
    testing::write_cluster_shards(dir.file("test"), 64, 1, c.features, 4, 9, 2, c.shape);
    std::ofstream(dir.file("job.toml")) << "[model]\n" << c.model << "[train]\nepochs = 1\nmax_steps = 15\n"
                                        << "global_batch = 16\n[data]\ntrain_dir = \"" << dir.file("train")
                                        << "\"\ntest_dir = \"" << dir.file("test") << "\"\n[runtime]\nthreads = 1\n"
                                        << "[checkpoint]\ndir = \"" << dir.file("ck") << "\"\n[log]\ndir = \"\"\n";
    testing::Outcome trained = testing::run(kBinary + " train " + dir.file("job.toml"));
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    testing::Outcome exported =
        testing::run(kBinary + " export " + dir.file("ck") + " --format onnx --output " + dir.file("model.onnx"));
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    // Rows as the samples are stored: bytes 0-255.
    json rows = json::array();
    std::ofstream lines(dir.file("rows.jsonl"));
    Rng rng(5, 0);
    for (int r = 0; r < 20; ++r) {
      json row = json::array();
      for (int64_t f = 0; f < c.features; ++f) row.push_back(static_cast<int>(256 * rng.uniform()));
      lines << row.dump() << "\n";
      rows.push_back(row);
    }
    lines.close();
    std::ofstream(dir.file("rows.json")) << json{{"data", rows}}.dump();
    testing::Outcome predicted = testing::run(kBinary + " predict " + dir.file("ck") + " --input " +
                                              dir.file("rows.jsonl") + " --output " + dir.file("predicted.jsonl"));
    ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
    testing::Outcome checked = testing::run(std::string(RINGTRAIN_PYTHON) + " " + RINGTRAIN_SOURCE_DIR +
                                            "/tests/serving/onnx_check.py " + dir.file("model.onnx") + " " +
                                            dir.file("rows.json") + " 2>&1");
    ASSERT_EQ(checked.exit_code, 0) << checked.output;
    const json outputs = json::parse(checked.output);
    std::ifstream answers(dir.file("predicted.jsonl"));
    double largest = 0;
    int r = 0;
    for (std::string line; std::getline(answers, line); ++r) {
      const json answer = json::parse(line);
      for (size_t k = 0; k < 4; ++k) {
        largest = std::max(largest, std::abs(outputs["probabilities"][r][k].get<double>() -
                                             answer["probabilities"][k].get<double>()));
      }
    }
    EXPECT_EQ(r, 20);
    EXPECT_LT(largest, 1e-5) << "the ONNX graph's probabilities differ from the checkpoint's";
  }
}

// A gpt served: /v2/models/NAME/generate continues a prompt exactly as `ringtrain generate` does
// (greedy, and sampled with the same seed); the row routes refuse it with a 400.
TEST(GptServeTest, GenerateContinuesAPromptAsTheGenerateCommandDoes) {
  testing::TempDir dir;
  testing::write_word_text_shards(dir.path());
  std::ofstream(dir.file("gpt.toml")) << "[model]\nkind = \"gpt\"\nlayers = 1\nheads = 2\nwidth = 16\n"
                                      << "[train]\nepochs = 1\nmax_steps = 60\nglobal_batch = 16\n"
                                      << "[optimizer]\nkind = \"adamw\"\nlr = 0.01\n"
                                      << "[data]\ntrain_dir = \"" << dir.path() << "/shards/train\"\ntest_dir = \""
                                      << dir.path() << "/shards/test\"\n[runtime]\nthreads = 1\n"
                                      << "[checkpoint]\ndir = \"" << dir.file("ck") << "\"\n";
  testing::Outcome trained = testing::run(kBinary + " train " + dir.file("gpt.toml"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  ServerProcess server(dir.file("ck"), {}, dir.file("serve.log"));
  ASSERT_GT(server.port(), 0) << server.output();
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(60, 0);
  for (const auto& [temperature, seed] : std::vector<std::pair<std::string, int>>{{"0", 1}, {"0.8", 7}}) {
    const json body = {{"text_input", "the cat "},
                       {"parameters", {{"max_tokens", 24}, {"temperature", std::stod(temperature)}, {"seed", seed}}}};
    auto answer = c.Post("/v2/models/model/generate", body.dump(), "application/json");
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status, 200) << answer->body;
    const json generated = json::parse(answer->body);
    testing::Outcome command = testing::run(kBinary + " generate " + dir.file("ck") + " --prompt 'the cat ' --tokens 24" +
                                            " --temperature " + temperature + " --top-k 40 --seed " +
                                            std::to_string(seed));
    ASSERT_EQ(command.exit_code, 0) << command.output;
    const std::string expected = "\nthe cat " + generated["text_output"].get<std::string>() + "\n";  // after its log line
    EXPECT_EQ(command.output.substr(command.output.size() - std::min(command.output.size(), expected.size())), expected)
        << "temperature " << temperature << ": " << command.output;
    EXPECT_EQ(generated["text_output"].get<std::string>().size(), 24u);
  }
  const json metadata = json::parse(c.Get("/v2/models/model")->body);
  EXPECT_EQ(metadata["inputs"][0]["name"], "text_input");
  auto rows = c.Post("/score", "{\"data\": [[1, 2]]}", "application/json");
  EXPECT_EQ(rows->status, 400);
  EXPECT_NE(rows->body.find("this model is a gpt"), std::string::npos) << rows->body;
  for (const char* bad : {"{\"text_input\": \"\"}", "{\"text_input\": 3}",
                          "{\"text_input\": \"a\", \"parameters\": {\"max_tokens\": 100000}}",
                          "{\"text_input\": \"a\", \"parameters\": {\"temperature\": \"hot\"}}", "[1]"}) {
    auto answer = c.Post("/v2/models/model/generate", bad, "application/json");
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 400) << bad << ": " << answer->body;
  }

  // `predict` with a file of prompts: the same text at 1 and 2 ranks, prompt r drawn with seed + r
  // exactly as `generate --seed` draws it.
  std::ofstream(dir.file("prompts.txt")) << "the cat \n\na dog \nthe \n";
  std::string first;
  for (int ranks : {1, 2}) {
    const std::string launcher = ranks == 1 ? "" : std::string(RINGTRAIN_MPIEXEC) + " -n 2 --oversubscribe --timeout 100 ";
    const std::string output = dir.file(fmt::format("texts-{}.jsonl", ranks));
    testing::Outcome predicted = testing::run(launcher + kBinary + " predict " + dir.file("ck") + " --input " +
                                              dir.file("prompts.txt") + " --output " + output +
                                              " --tokens 16 --temperature 0.8 --top-k 40 --seed 5");
    ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
    std::ifstream in(output);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (ranks == 1) first = text;
    EXPECT_EQ(text, first) << ranks << " ranks";
  }
  std::istringstream lines(first);
  std::string line;
  int64_t r = 0;
  for (const char* prompt : {"the cat ", "a dog ", "the "}) {
    ASSERT_TRUE(std::getline(lines, line));
    const json answer = json::parse(line);
    EXPECT_EQ(answer["row"], r);
    EXPECT_EQ(answer["prompt"], prompt);
    EXPECT_EQ(answer["text"].get<std::string>().size(), 16u) << answer;
    testing::Outcome command = testing::run(kBinary + " generate " + dir.file("ck") + " --prompt '" + prompt +
                                            "' --tokens 16 --temperature 0.8 --top-k 40 --seed " + std::to_string(5 + r));
    const std::string expected = "\n" + std::string(prompt) + answer["text"].get<std::string>() + "\n";
    EXPECT_EQ(command.output.substr(command.output.size() - std::min(command.output.size(), expected.size())), expected)
        << "prompt " << r << ": " << command.output;
    ++r;
  }
  testing::Outcome to_hdf5 = testing::run(kBinary + " predict " + dir.file("ck") + " --input " + dir.file("prompts.txt") +
                                          " --output " + dir.file("texts.h5"));
  EXPECT_NE(to_hdf5.exit_code, 0);
  EXPECT_NE(to_hdf5.output.find("a gpt's text goes to .jsonl or .csv"), std::string::npos) << to_hdf5.output;
}

}  // namespace
}  // namespace rt
