#include <gtest/gtest.h>

#include <cmath>

#include "comm/gradient_sync.h"
#include "comm/single_process_communicator.h"
#include "core/base/check.h"

namespace rt {
namespace {

GradientSyncOptions sizes(size_t first_bytes, size_t bytes) {
  GradientSyncOptions options;
  options.first_bucket_bytes = first_bytes;
  options.bucket_bytes = bytes;
  return options;
}

TEST(PlanBuckets, FirstBucketIsSmallerAndTheRestCoverTheArenaContiguously) {
  std::vector<GradientBucket> buckets = plan_buckets(1000, sizes(40, 1200));  // 10 then 300 elements
  ASSERT_EQ(buckets.size(), 5u);
  EXPECT_EQ(buckets[0].offset, 0u);
  EXPECT_EQ(buckets[0].count, 10u);
  size_t next = 0;
  for (const GradientBucket& bucket : buckets) {
    EXPECT_EQ(bucket.offset, next);
    next += bucket.count;
  }
  EXPECT_EQ(next, 1000u);
  EXPECT_EQ(buckets.back().count, 90u);
}

TEST(PlanBuckets, ABucketLargerThanTheModelIsOneBucket) {
  std::vector<GradientBucket> buckets = plan_buckets(1000, sizes(0, size_t{25} << 20));
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0].count, 1000u);
  EXPECT_EQ(plan_buckets(1000, sizes(0, 0)).size(), 1u);
  EXPECT_EQ(plan_buckets(1, sizes(4, 4)).size(), 1u);
  EXPECT_TRUE(plan_buckets(0, sizes(4, 4)).empty());
}

TEST(WireFormat, ParsesTheConfigNames) {
  EXPECT_EQ(parse_wire_format("fp32"), WireFormat::kFloat32);
  EXPECT_EQ(parse_wire_format("bf16"), WireFormat::kBFloat16);
  EXPECT_EQ(parse_wire_format("fp16"), WireFormat::kFloat16);
  EXPECT_THROW(parse_wire_format("int8"), Error);
}

TEST(HostGradientSynchronizer, OneProcessLeavesGradientsAsTheyAre) {
  SingleProcessCommunicator comm;
  std::vector<float> gradients{0.1f, -2.0f, 3.5f};
  GradientSyncOptions options = sizes(4, 4);
  options.wire = WireFormat::kBFloat16;
  HostGradientSynchronizer sync(comm, Span<float>(gradients), options);
  sync.gradients_ready(2);
  sync.wait();
  EXPECT_EQ(gradients, (std::vector<float>{0.1f, -2.0f, 3.5f}));
}

TEST(MakeGradientSynchronizer, ChoosesTheHostOneForHostMemoryAndTheLocalOneForAGpuOnOneRank) {
  SingleProcessCommunicator comm;
  std::vector<float> gradients{1.0f, std::nanf(""), 3.0f};
  GradientSyncOptions options = sizes(4, 4);
  std::unique_ptr<GradientSynchronizer> host =
      make_gradient_synchronizer(comm, Span<float>(gradients), options, GradientSyncPlacement{});
  EXPECT_EQ(host->transport(), "none (one rank)");
  EXPECT_EQ(host->buckets().size(), 3u);
  EXPECT_EQ(host->wait(), SumCheck::kNonFinite);  // the host one checks the sums itself
  GradientSyncPlacement gpu;
  gpu.device = Device::kCuda;
  std::unique_ptr<GradientSynchronizer> local = make_gradient_synchronizer(comm, Span<float>(gradients), options, gpu);
  EXPECT_TRUE(local->buckets().empty());
  EXPECT_EQ(local->wait(), SumCheck::kOnDevice);  // one rank's sum is itself; the check is the GPU's
}

TEST(CollectiveBackend, ParsesTheConfigNames) {
  EXPECT_EQ(parse_collective_backend("auto"), CollectiveBackend::kAuto);
  EXPECT_EQ(parse_collective_backend("nccl"), CollectiveBackend::kNccl);
  EXPECT_EQ(parse_collective_backend("mpi"), CollectiveBackend::kMpi);
  EXPECT_THROW(parse_collective_backend("gloo"), Error);
}

TEST(HalfFloats, ConvertWithRoundingToNearestEven) {
  for (float value : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.33333334f}) {
    EXPECT_NEAR(to_float(to_float16(value)), value, std::abs(value) * 1e-3f + 1e-8f) << value;
    EXPECT_NEAR(to_float(to_bfloat16(value)), value, std::abs(value) * 4e-3f) << value;
  }
  EXPECT_EQ(to_float16(1.0f).bits, 0x3c00);
  EXPECT_EQ(to_float16(65504.0f).bits, 0x7bff);
  EXPECT_EQ(to_float16(1e6f).bits, 0x7c00);   // overflow to infinity
  EXPECT_EQ(to_float16(-0.0f).bits, 0x8000);
  EXPECT_EQ(to_float16(1.0f + 1.0f / 2048).bits, 0x3c00);  // a tie rounds to even
  EXPECT_EQ(to_float16(1.0f + 3.0f / 2048).bits, 0x3c02);
  EXPECT_EQ(to_bfloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(to_bfloat16(1.0f + 1.0f / 256).bits, 0x3f80);  // tie to even
  EXPECT_EQ(to_bfloat16(1.0f + 3.0f / 256).bits, 0x3f82);
  EXPECT_TRUE(std::isnan(to_float(to_bfloat16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(to_float(to_float16(std::nanf("")))));
}

}  // namespace
}  // namespace rt
