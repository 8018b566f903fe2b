// A sum over ranks that share one machine, through an MPI-3 shared-memory window instead of
// messages: the minimum of passes over memory, each piece in cache.
//
// Each rank owns two slots of the window. A buffer goes through them in pieces: every rank copies
// its piece into its slot; then rank r adds up slice r of every rank's slot, in the same pairwise
// tree over the ranks as OrderedSum (((x0 + x1) + (x2 + x3)) ...; for two ranks x0 + x1, as
// MPI's own sum), and writes the sum over its own copy of that slice; then every rank copies each
// slice's sum, from the slot of the rank that made it, into its buffer (and, asked to, each rank
// checks the sums of its slices for NaN and infinity as it makes them). So the buffer is read once
// and written once, and every other access is to a piece the size of a core's cache; the sums are
// bitwise those of the message-passing path, the same on every rank. A barrier after the copy in
// and one after the adding; the slots alternate between pieces, so that a rank copying in the
// next piece never overwrites what a slower rank still reads of the last.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/base/dtype.h"

namespace rt {

class SharedMemorySum {
 public:
  // Collective over `comm`, whose ranks must all be on this machine.
  explicit SharedMemorySum(MPI_Comm comm);
  // Collective too (frees the window), except while an exception unwinds.
  ~SharedMemorySum();
  SharedMemorySum(const SharedMemorySum&) = delete;
  SharedMemorySum& operator=(const SharedMemorySum&) = delete;

  // Sums `count` elements of `data` over the ranks, in place (float32, bfloat16 or float16; 16-bit
  // sums round after each addition, as OrderedSum's). Every rank calls it with the same count.
  // With `all_finite` (float32 only), it says whether every sum is finite, the same on every rank:
  // each rank checks the slices it adds, while it adds them.
  void sum(void* data, size_t count, DType dtype, bool* all_finite = nullptr);

  // Bytes of one rank's slot: a piece of a buffer, per rank.
  static constexpr size_t kSlotBytes = size_t{256} << 10;

 private:
  // `nonfinite`: this rank's count of non-finite sums so far in this call (checked when not null).
  void sum_piece(unsigned char* data, size_t count, DType dtype, uint32_t* nonfinite);
  // Adds slice [begin, end) of every rank's piece (this rank's in `data`, the others' in their
  // `slot`), into `data` and this rank's slot (counting the non-finite sums into `nonfinite` when
  // not null).
  void add_slice(int slot, unsigned char* data, size_t begin, size_t end, DType dtype, uint32_t* nonfinite);
  unsigned char* slot_of(int rank, int slot) const { return bases_[static_cast<size_t>(rank)] + slot * kSlotBytes; }
  // Each rank's count of non-finite sums, one word per slot, after its two slots.
  volatile uint32_t* nonfinite_of(int rank, int slot) const {
    return reinterpret_cast<volatile uint32_t*>(bases_[static_cast<size_t>(rank)] + 2 * kSlotBytes) + slot;
  }
  // Every rank has reached this point, and sees what the others wrote before it (MPI's barrier,
  // which yields the core where ranks outnumber cores: a spinning barrier of our own, no faster
  // at 2 ranks, made 4 oversubscribed ranks 2.2x slower).
  void barrier();

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Win window_ = MPI_WIN_NULL;
  int rank_ = 0;
  int size_ = 1;
  std::vector<unsigned char*> bases_;  // each rank's two slots, as this process sees them
  int next_slot_ = 0;                   // the slot the next piece goes through
  std::vector<unsigned char> tree_;     // ranks x a block of elements, for adding in the tree
};

}  // namespace rt
