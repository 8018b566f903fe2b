// The communication thread of the gradient synchronisers: buckets in order as they become
// available, a failure skips the step's remaining buckets and reaches wait_all(), and the next
// step starts clean.
#include <gtest/gtest.h>

#include <mutex>
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

}  // namespace
}  // namespace rt
