#include "comm/shared_memory_sum.h"

#include <algorithm>
#include <cstring>
#include <exception>

#include "comm/finite.h"
#include "comm/ordered_sum.h"
#include "core/base/check.h"
#include "core/base/check_mpi.h"

namespace rt {

namespace {
// Elements added per round of the general tree: the ranks' copies of a block stay in L1.
constexpr size_t kTreeBlock = 512;
// After each rank's two slots: its counts of non-finite sums (one word per slot), on a cache line.
constexpr size_t kCountBytes = 64;
}  // namespace

SharedMemorySum::SharedMemorySum(MPI_Comm comm) {
  RT_CHECK_MPI(MPI_Comm_dup(comm, &comm_));
  RT_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  RT_CHECK_MPI(MPI_Comm_size(comm_, &size_));
  MPI_Info info = MPI_INFO_NULL;
  RT_CHECK_MPI(MPI_Info_create(&info));
  // Each rank's slots on its own pages (first touched by it, so on its NUMA node).
  RT_CHECK_MPI(MPI_Info_set(info, "alloc_shared_noncontig", "true"));
  void* mine = nullptr;
  const auto bytes_per_rank = static_cast<MPI_Aint>(2 * kSlotBytes + kCountBytes);
  const int allocated = MPI_Win_allocate_shared(bytes_per_rank, 1, info, comm_, &mine, &window_);
  MPI_Info_free(&info);
  RT_CHECK_MPI(allocated);
  bases_.resize(static_cast<size_t>(size_));
  for (int r = 0; r < size_; ++r) {
    MPI_Aint bytes = 0;
    int unit = 0;
    void* base = nullptr;
    RT_CHECK_MPI(MPI_Win_shared_query(window_, r, &bytes, &unit, &base));
    RT_CHECK(bytes >= bytes_per_rank, "rank {}'s shared slots hold {} bytes", r, bytes);
    bases_[static_cast<size_t>(r)] = static_cast<unsigned char*>(base);
  }
  RT_CHECK_MPI(MPI_Win_lock_all(MPI_MODE_NOCHECK, window_));
  tree_.resize(static_cast<size_t>(size_) * kTreeBlock * sizeof(float));
}

SharedMemorySum::~SharedMemorySum() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  // Freeing the window waits for every rank: not while an error unwinds (the job is ending).
  if (finalized || std::uncaught_exceptions() > 0) return;
  MPI_Win_unlock_all(window_);
  MPI_Win_free(&window_);
  MPI_Comm_free(&comm_);
}

void SharedMemorySum::barrier() {
  RT_CHECK_MPI(MPI_Win_sync(window_));  // this rank's stores are visible before it arrives
  RT_CHECK_MPI(MPI_Barrier(comm_));
  RT_CHECK_MPI(MPI_Win_sync(window_));  // and the others' before it reads
}

void SharedMemorySum::sum(void* data, size_t count, DType dtype, bool* all_finite) {
  RT_CHECK(dtype == DType::kFloat32 || dtype == DType::kBFloat16 || dtype == DType::kFloat16,
           "a shared-memory sum takes float32, bfloat16 or float16, not {}", dtype_name(dtype));
  RT_CHECK(!all_finite || dtype == DType::kFloat32, "a shared-memory sum checks float32 sums only");
  const size_t element = dtype_size(dtype);
  const size_t piece = kSlotBytes / element;
  auto* bytes = static_cast<unsigned char*>(data);
  uint32_t nonfinite = 0;
  for (size_t offset = 0; offset < count; offset += piece) {
    sum_piece(bytes + offset * element, std::min(piece, count - offset), dtype, all_finite ? &nonfinite : nullptr);
  }
  if (!all_finite) return;
  *all_finite = true;
  if (count == 0) return;
  // Every rank's count, as of the last piece's second barrier: the next write to that word comes
  // two pieces later, after a barrier this rank has not reached yet.
  const int last = next_slot_ ^ 1;
  for (int r = 0; r < size_; ++r) {
    if (*nonfinite_of(r, last) != 0) *all_finite = false;
  }
}

void SharedMemorySum::sum_piece(unsigned char* data, size_t count, DType dtype, uint32_t* nonfinite) {
  const size_t element = dtype_size(dtype);
  const int slot = next_slot_;
  next_slot_ ^= 1;
  // Slices as even as possible, the first `count % size` one element longer (as OrderedSum's).
  const size_t ranks = static_cast<size_t>(size_), base = count / ranks, longer = count % ranks;
  auto begin_of = [&](size_t r) { return r * base + std::min(r, longer); };
  const size_t mine = static_cast<size_t>(rank_), my_begin = begin_of(mine), my_end = begin_of(mine + 1);
  // The others' slices of this rank's piece go into its slot, for them to add; its own slice it
  // adds from where it is, and its sums go straight back there.
  unsigned char* my_slot = slot_of(rank_, slot);
  std::memcpy(my_slot, data, my_begin * element);
  std::memcpy(my_slot + my_end * element, data + my_end * element, (count - my_end) * element);
  barrier();
  add_slice(slot, data, my_begin, my_end, dtype, nonfinite);
  if (nonfinite) *nonfinite_of(rank_, slot) = *nonfinite;
  barrier();
  for (size_t r = 0; r < ranks; ++r) {
    if (r == mine) continue;
    const size_t begin = begin_of(r), end = begin_of(r + 1);
    std::memcpy(data + begin * element, slot_of(static_cast<int>(r), slot) + begin * element, (end - begin) * element);
  }
}

void SharedMemorySum::add_slice(int slot, unsigned char* data, size_t begin, size_t end, DType dtype,
                                uint32_t* nonfinite) {
  const size_t element = dtype_size(dtype);
  unsigned char* my_slot = slot_of(rank_, slot);
  if (size_ == 2 && dtype == DType::kFloat32) {  // x0 + x1 (in either order, the same bits), checked
    auto* mine = reinterpret_cast<float*>(data) + begin;
    auto* shared = reinterpret_cast<float*>(my_slot) + begin;
    const auto* other = reinterpret_cast<const float*>(slot_of(1 - rank_, slot)) + begin;
    uint32_t bad = 0;
    for (size_t i = 0; i < end - begin; ++i) {
      const float sum = mine[i] + other[i];
      mine[i] = sum;
      shared[i] = sum;
      bad |= static_cast<uint32_t>(is_nonfinite(sum));
    }
    if (nonfinite) *nonfinite += bad;
    return;
  }
  for (size_t block = begin; block < end; block += kTreeBlock) {
    const size_t n = std::min(kTreeBlock, end - block), bytes = n * element;
    for (int r = 0; r < size_; ++r) {
      const unsigned char* copy = r == rank_ ? data : slot_of(r, slot);
      std::memcpy(tree_.data() + static_cast<size_t>(r) * bytes, copy + block * element, bytes);
    }
    OrderedSum::add_in_tree(tree_.data(), size_, static_cast<int>(n), dtype);
    if (nonfinite && !all_finite(Span<const float>(reinterpret_cast<const float*>(tree_.data()), n))) ++*nonfinite;
    std::memcpy(my_slot + block * element, tree_.data(), bytes);
    std::memcpy(data + block * element, tree_.data(), bytes);
  }
}

}  // namespace rt
