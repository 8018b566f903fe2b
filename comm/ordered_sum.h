// A sum over the ranks of a communicator that adds every element in one order fixed by the rank
// count alone: a pairwise tree over the ranks' values in rank order, ((x0 + x1) + (x2 + x3)) + ...
// Open MPI picks its all-reduce algorithm (and with it the order of the additions) by element
// count, by component and by blocking or non-blocking call, so the same gradients summed in
// another layout (ranks on one host or several, blocking or started sums) could end a few ulps
// apart; these sums cannot. At 2 hosts x 2 ranks, the hierarchical sum (per host, then among the
// hosts) makes the same tree.
//
// The work is one reduce-scatter and one all-gather, as a ring all-reduce's: each rank owns a
// slice of the elements, receives every rank's copy of its slice (MPI all-to-all), adds them up
// in the tree and sends the sum to all (MPI all-gather), in place. Non-blocking: start() posts
// the first step, test() moves it on (and does the adding when the slices are in).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "core/base/dtype.h"

namespace rt {

class OrderedSum {
 public:
  explicit OrderedSum(MPI_Comm comm);

  // Starts summing `count` elements of `data` (float32, bfloat16 or float16; 16-bit sums round
  // after each addition, as MPI's 16-bit operations of this project do). `data` is not to be
  // touched until test() returns true.
  void start(void* data, int count, DType dtype);
  // Moves the sum on; true once `data` holds the sum (and from then on until the next start).
  bool test();
  // Blocks until the sum is done.
  void wait();
  // Sums at once (blocking MPI calls).
  void sum(void* data, int count, DType dtype);
  // Sums `values` (rank count x slice elements, rank after rank) in the tree into the first
  // slice. Public for tests.
  static void add_in_tree(void* values, int ranks, int slice, DType dtype);

 private:
  enum class Stage { kIdle, kExchanging, kGathering };
  void plan(void* data, int count, DType dtype);  // the slices of `count` elements
  void add_own_slice();  // adds up every rank's copy of this rank's slice, into data
  void gather_sums();    // non-blocking: adds, then starts the all-gather

  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  Stage stage_ = Stage::kIdle;
  MPI_Request request_ = MPI_REQUEST_NULL;
  void* data_ = nullptr;
  DType dtype_ = DType::kFloat32;
  // Per rank: the elements of its slice and their offset in data; where its copy of this rank's
  // slice lands in slices_.
  std::vector<int> slice_counts_, slice_offsets_, receive_counts_, receive_offsets_;
  std::vector<unsigned char> slices_;  // every rank's copy of this rank's slice, rank after rank
};

}  // namespace rt
