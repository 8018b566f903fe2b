// main() of the multi-rank tests: MPI is initialised around the whole GoogleTest run, rank 0
// prints the usual report, other ranks print only their failures, and the exit status is the
// worst of all ranks, so a failure on any rank fails the test.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include "core/base/check_hdf5.h"
#include "core/base/environment.h"
#include "core/base/logging.h"

namespace {
class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (result.failed()) {
      std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_, result.file_name() ? result.file_name() : "?",
                   result.line_number(), result.summary());
    }
  }

 private:
  int rank_;
};
}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  rt::MpiRuntime mpi(&argc, &argv);
  rt::silence_hdf5_errors();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  rt::Placement placement = rt::detect_placement();
  rt::set_log_identity(placement.rank, placement.size, placement.host);
  if (rank != 0) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }
  int result = RUN_ALL_TESTS();
  int worst = result;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}
