#include "comm/ordered_sum.h"

#include <cstring>

#include "core/base/check.h"
#include "core/base/check_mpi.h"
#include "core/base/half.h"

namespace rt {

namespace {

MPI_Datatype wire_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return MPI_FLOAT;
    case DType::kBFloat16:
    case DType::kFloat16: return MPI_UINT16_T;
    default: break;
  }
  RT_FAIL("an ordered sum takes float32, bfloat16 or float16, not {}", dtype_name(dtype));
}

// values[r * slice + i] for r = 0..ranks-1: at each level, rank r's partial sum takes rank
// r + step's, for r a multiple of 2 * step; the total ends in rank 0's slice.
template <typename Add>
void tree(int ranks, int slice, Add add) {
  for (int step = 1; step < ranks; step *= 2) {
    for (int r = 0; r + step < ranks; r += 2 * step) add(r, r + step, slice);
  }
}

template <typename Half, Half (*from_float)(float)>
void add_halves(void* values, int ranks, int slice) {
  auto* halves = static_cast<Half*>(values);
  tree(ranks, slice, [halves](int into, int from, int n) {
    Half* a = halves + static_cast<size_t>(into) * n;
    const Half* b = halves + static_cast<size_t>(from) * n;
    for (int i = 0; i < n; ++i) a[i] = from_float(to_float(a[i]) + to_float(b[i]));
  });
}

}  // namespace

OrderedSum::OrderedSum(MPI_Comm comm) : comm_(comm) {
  RT_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  RT_CHECK_MPI(MPI_Comm_size(comm_, &size_));
  const size_t ranks = static_cast<size_t>(size_);
  for (auto* counts : {&slice_counts_, &slice_offsets_, &receive_counts_, &receive_offsets_}) {
    counts->assign(ranks, 0);
  }
}

void OrderedSum::add_in_tree(void* values, int ranks, int slice, DType dtype) {
  switch (dtype) {
    case DType::kFloat32: {
      auto* floats = static_cast<float*>(values);
      tree(ranks, slice, [floats](int into, int from, int n) {
        float* a = floats + static_cast<size_t>(into) * n;
        const float* b = floats + static_cast<size_t>(from) * n;
        for (int i = 0; i < n; ++i) a[i] += b[i];
      });
      return;
    }
    case DType::kBFloat16: return add_halves<bfloat16, to_bfloat16>(values, ranks, slice);
    case DType::kFloat16: return add_halves<float16, to_float16>(values, ranks, slice);
    default: break;
  }
  RT_FAIL("an ordered sum takes float32, bfloat16 or float16, not {}", dtype_name(dtype));
}

void OrderedSum::plan(void* data, int count, DType dtype) {
  RT_CHECK(stage_ == Stage::kIdle, "an ordered sum was started while the previous one was under way");
  RT_CHECK(count >= 0, "an ordered sum of {} elements", count);
  data_ = data;
  dtype_ = dtype;
  // Slices as even as possible, the first `count % size` one element longer.
  const int base = count / size_, longer = count % size_;
  for (int r = 0, offset = 0; r < size_; ++r) {
    slice_counts_[r] = base + (r < longer ? 1 : 0);
    slice_offsets_[r] = offset;
    offset += slice_counts_[r];
  }
  const int mine = slice_counts_[rank_];
  for (int r = 0; r < size_; ++r) {
    receive_counts_[r] = mine;  // every rank's copy of my slice comes here, rank after rank
    receive_offsets_[r] = r * mine;
  }
  const size_t bytes = static_cast<size_t>(size_) * static_cast<size_t>(mine) * dtype_size(dtype);
  if (slices_.size() < bytes) slices_.resize(bytes);  // grows to the largest slice once, then kept
}

void OrderedSum::start(void* data, int count, DType dtype) {
  plan(data, count, dtype);
  stage_ = Stage::kExchanging;
  // Rank r's slice of my values goes to rank r.
  RT_CHECK_MPI(MPI_Ialltoallv(data, slice_counts_.data(), slice_offsets_.data(), wire_type(dtype), slices_.data(),
                              receive_counts_.data(), receive_offsets_.data(), wire_type(dtype), comm_, &request_));
}

void OrderedSum::sum(void* data, int count, DType dtype) {
  plan(data, count, dtype);
  RT_CHECK_MPI(MPI_Alltoallv(data, slice_counts_.data(), slice_offsets_.data(), wire_type(dtype), slices_.data(),
                             receive_counts_.data(), receive_offsets_.data(), wire_type(dtype), comm_));
  add_own_slice();
  RT_CHECK_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data_, slice_counts_.data(), slice_offsets_.data(),
                              wire_type(dtype_), comm_));
}

void OrderedSum::add_own_slice() {
  const int mine = slice_counts_[rank_];
  add_in_tree(slices_.data(), size_, mine, dtype_);
  const size_t element = dtype_size(dtype_);
  std::memcpy(static_cast<unsigned char*>(data_) + static_cast<size_t>(slice_offsets_[rank_]) * element,
              slices_.data(), static_cast<size_t>(mine) * element);
}

void OrderedSum::gather_sums() {
  add_own_slice();
  stage_ = Stage::kGathering;
  RT_CHECK_MPI(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data_, slice_counts_.data(),
                               slice_offsets_.data(), wire_type(dtype_), comm_, &request_));
}

bool OrderedSum::test() {
  if (stage_ == Stage::kIdle) return true;
  int done = 0;
  RT_CHECK_MPI(MPI_Test(&request_, &done, MPI_STATUS_IGNORE));
  if (!done) return false;
  if (stage_ == Stage::kExchanging) {
    gather_sums();
    return false;
  }
  stage_ = Stage::kIdle;
  return true;
}

void OrderedSum::wait() {
  while (stage_ != Stage::kIdle) {
    RT_CHECK_MPI(MPI_Wait(&request_, MPI_STATUS_IGNORE));
    if (stage_ == Stage::kExchanging) {
      gather_sums();
    } else {
      stage_ = Stage::kIdle;
    }
  }
}

}  // namespace rt
