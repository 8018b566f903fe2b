// The communication thread of the gradient synchronisers: buckets in order as they become
// available, a failure skips the step's remaining buckets and reaches wait_all(), and the next
// step starts clean.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "comm/bucket_worker.h"
#include "core/base/check.h"
#include "tests/test_support.h"

namespace rt {
namespace {

TEST(BucketWorker, ProcessesBucketsInOrderAsTheyBecomeAvailable) {
  std::mutex mutex;
  std::vector<size_t> seen;
  BucketWorker worker([&](size_t index) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(index);
  });
  for (int step = 0; step < 3; ++step) {
    worker.make_available(2);
    worker.make_available(1);  // never shrinks
    worker.make_available(5);
    worker.wait_all(7);
  }
  std::vector<size_t> expected;
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < 7; ++i) expected.push_back(i);
  }
  EXPECT_EQ(seen, expected);
}

TEST(BucketWorker, AFailureSkipsTheRestOfTheStepAndIsRethrownOnce) {
  std::vector<size_t> seen;
  bool fail = true;
  BucketWorker worker([&](size_t index) {
    seen.push_back(index);
    if (fail && index == 1) throw Error("bucket 1 failed");
  });
  EXPECT_EQ(testing::error_message([&] { worker.wait_all(4); }), "bucket 1 failed");
  EXPECT_EQ(seen, std::vector<size_t>({0, 1}));
  fail = false;
  seen.clear();
  worker.wait_all(4);
  EXPECT_EQ(seen, std::vector<size_t>({0, 1, 2, 3}));
}

// Started buckets (non-blocking all-reduces): every available bucket is started while the earlier
// ones are still under way, and wait_all() returns only once finished() says all are done.
TEST(BucketWorker, StartsBucketsWhileEarlierOnesAreUnderWayAndWaitsForThemToFinish) {
  std::mutex mutex;
  std::vector<size_t> started;
  std::atomic<size_t> finished{0};
  std::atomic<int> eager_looks{0};  // looks without sleeping: only once wait_all() is called
  auto started_count = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return started.size();
  };
  BucketWorker worker(
      [&](size_t index) {
        std::lock_guard<std::mutex> lock(mutex);
        started.push_back(index);
      },
      [&](bool eager) {
        if (eager) ++eager_looks;
        return finished.load();
      });
  worker.make_available(3);
  for (int i = 0; i < 5000 && started_count() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(started, std::vector<size_t>({0, 1, 2})) << "none has finished yet";
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // some looks, asleep in between
  EXPECT_EQ(eager_looks.load(), 0) << "backward still runs";
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    finished = 5;
  });
  auto before = std::chrono::steady_clock::now();
  worker.wait_all(5);
  EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(25)) << "returned before finished";
  EXPECT_EQ(finished.load(), 5u);
  EXPECT_GT(eager_looks.load(), 0) << "wait_all() was called";
  finisher.join();
  EXPECT_EQ(started, std::vector<size_t>({0, 1, 2, 3, 4}));
}

TEST(BucketWorker, AFailureToStartABucketEndsTheStepWhileOthersAreUnderWay) {
  std::vector<size_t> started;
  BucketWorker worker(
      [&](size_t index) {
        started.push_back(index);
        if (index == 2) throw Error("bucket 2 failed to start");
      },
      [](bool) { return size_t{0}; });  // nothing ever finishes
  EXPECT_EQ(testing::error_message([&] { worker.wait_all(4); }), "bucket 2 failed to start");
  EXPECT_EQ(started, std::vector<size_t>({0, 1, 2}));
}

}  // namespace
}  // namespace rt
