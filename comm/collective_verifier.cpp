#include "comm/collective_verifier.h"

#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "core/base/check_mpi.h"

namespace rt {

namespace {
// The header of a call: its fingerprint and the complement.
void make_header(uint64_t fingerprint, int64_t* header) {
  header[0] = static_cast<int64_t>(fingerprint);
  header[1] = ~header[0];
}
}  // namespace

CollectiveVerifier::CollectiveVerifier(MPI_Comm comm) {
  RT_CHECK_MPI(MPI_Comm_dup(comm, &comm_));
  RT_CHECK_MPI(MPI_Comm_size(comm_, &size_));
}

CollectiveVerifier::~CollectiveVerifier() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void CollectiveVerifier::verify(uint64_t fingerprint, const CollectiveCall& call) {
  int64_t header[2];
  make_header(fingerprint, header);
  RT_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, header, 2, MPI_INT64_T, MPI_MAX, comm_));
  check(header, call);
}

void CollectiveVerifier::start(uint64_t fingerprint, const CollectiveCall& call, Pending& pending) {
  pending.call = call;
  make_header(fingerprint, pending.header);
  RT_CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, pending.header, 2, MPI_INT64_T, MPI_MAX, comm_, &pending.request));
}

bool CollectiveVerifier::finished(Pending& pending) {
  int done = 0;
  RT_CHECK_MPI(MPI_Test(&pending.request, &done, MPI_STATUS_IGNORE));
  if (done) check(pending.header, pending.call);
  return done != 0;
}

void CollectiveVerifier::check(const int64_t* header, const CollectiveCall& call) {
  if (header[0] == ~header[1]) return;
  int64_t mine[kCallWords];
  encode_call(call, mine);
  std::vector<int64_t> all(kCallWords * static_cast<size_t>(size_));
  RT_CHECK_MPI(MPI_Allgather(mine, kCallWords, MPI_INT64_T, all.data(), kCallWords, MPI_INT64_T, comm_));
  std::vector<std::string> parts;
  for (int r = 0; r < size_; ++r) {
    parts.push_back(fmt::format("rank {} calls {}", r, describe(decode_call(&all[kCallWords * static_cast<size_t>(r)]))));
  }
  RT_FAIL("ranks are about to call different collectives (nothing was sent): {}", fmt::join(parts, "; "));
}

}  // namespace rt
