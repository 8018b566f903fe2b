// Verification of collectives (comm.verify_collectives): before each collective the ranks compare
// what they are about to call, as the fingerprint of every collective so far with the newest
// included (Communicator::collective_fingerprint), on an MPI communicator of their own. Ranks
// that differ are named before any data moves, instead of hanging or mixing buffers of different
// layouts. One 16-byte all-reduce per collective: MAX of (x, ~x) over the ranks gives the largest
// and the smallest fingerprint at once.
#pragma once

#include <mpi.h>

#include <cstdint>

#include "comm/communicator.h"

namespace rt {

class CollectiveVerifier {
 public:
  // A collective over `comm`, whose ranks it verifies (on a duplicate of it).
  explicit CollectiveVerifier(MPI_Comm comm);
  ~CollectiveVerifier();
  CollectiveVerifier(const CollectiveVerifier&) = delete;
  CollectiveVerifier& operator=(const CollectiveVerifier&) = delete;

  // Throws on every rank, naming what each calls, unless all are about to call `call`, whose
  // fingerprint (with every collective before it) is `fingerprint`.
  void verify(uint64_t fingerprint, const CollectiveCall& call);

  // The same comparison, started without waiting (a started all-reduce's header: never waited
  // for when started, since it may be queued behind megabytes of data).
  struct Pending {
    CollectiveCall call;
    int64_t header[2] = {0, 0};
    MPI_Request request = MPI_REQUEST_NULL;
  };
  void start(uint64_t fingerprint, const CollectiveCall& call, Pending& pending);
  // Whether the started comparison has finished; throws as verify() does where the ranks differ.
  bool finished(Pending& pending);

 private:
  void check(const int64_t* header, const CollectiveCall& call);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int size_ = 1;
};

}  // namespace rt
