#include <gtest/gtest.h>

#include <vector>

#include "comm/communicator.h"
#include "comm/single_process_communicator.h"
#include "core/base/check.h"

namespace rt {
namespace {

TEST(SingleProcessCommunicator, IsRankZeroOfOneAndLeavesDataAsItIs) {
  SingleProcessCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  std::vector<float> values{1.5f, -2.0f};
  comm.all_reduce(Span<float>(values), ReduceOp::kAverage);
  comm.all_reduce(Span<float>(values), ReduceOp::kSum);
  comm.broadcast(Span<float>(values), 0);
  EXPECT_EQ(values, (std::vector<float>{1.5f, -2.0f}));
  std::vector<int32_t> sent{3, 4}, received(2);
  comm.all_gather(Span<const int32_t>(sent.data(), 2), Span<int32_t>(received));
  EXPECT_EQ(received, sent);
  comm.barrier();
}

TEST(SingleProcessCommunicator, RefusesWhatMpiWouldRefuse) {
  SingleProcessCommunicator comm;
  std::vector<int32_t> values{1};
  EXPECT_THROW(comm.all_reduce(Span<int32_t>(values), ReduceOp::kAverage), Error);
  EXPECT_THROW(comm.broadcast(Span<int32_t>(values), 1), Error);
  std::vector<int32_t> too_small(0);
  EXPECT_THROW(comm.all_gather(Span<const int32_t>(values.data(), 1), Span<int32_t>(too_small)), Error);
}

TEST(SingleProcessCommunicator, IsWhatAPlainProcessGets) {
  // Not started by mpirun: no MPI, one process.
  EXPECT_EQ(make_world_communicator()->backend(), "single-process");
}

}  // namespace
}  // namespace rt
