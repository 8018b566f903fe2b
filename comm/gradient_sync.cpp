#include "comm/gradient_sync.h"

#include <algorithm>
#include <cstring>

#include "core/base/check.h"

namespace rt {

bool all_finite(Span<const float> values) {
  // NaN and infinity are the values whose exponent bits are all ones; an integer OR over the
  // whole span vectorises (a float sum would not, without -ffast-math).
  uint32_t any = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof bits);
    any |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return any == 0;
}

WireFormat parse_wire_format(const std::string& name) {
  if (name == "fp32") return WireFormat::kFloat32;
  if (name == "bf16") return WireFormat::kBFloat16;
  if (name == "fp16") return WireFormat::kFloat16;
  RT_FAIL("unknown gradient wire format \"{}\" (expected fp32, bf16 or fp16)", name);
}

std::vector<GradientBucket> plan_buckets(size_t elements, const GradientSyncOptions& options) {
  std::vector<GradientBucket> buckets;
  size_t first = options.first_bucket_bytes / sizeof(float);
  size_t rest = options.bucket_bytes / sizeof(float);
  size_t offset = 0;
  while (offset < elements) {
    size_t size = buckets.empty() && first > 0 ? first : rest;
    size_t count = size == 0 ? elements - offset : std::min(size, elements - offset);
    buckets.push_back({offset, count});
    offset += count;
  }
  return buckets;
}

GradientSynchronizer::GradientSynchronizer(Communicator& comm, Span<float> gradients, GradientSyncOptions options,
                                           Timeline* timeline)
    : comm_(comm), gradients_(gradients), options_(options), timeline_(timeline),
      buckets_(plan_buckets(gradients.size(), options)) {
  if (options_.wire != WireFormat::kFloat32) wire_.resize(gradients.size());
  if (options_.overlap && comm_.size() > 1) {
    worker_ = std::make_unique<BucketWorker>([this](size_t bucket) { communicate(bucket); });
  }
}

GradientSynchronizer::~GradientSynchronizer() = default;

void GradientSynchronizer::communicate(size_t index) {
  TimelineScope scope(timeline_, TimelineLane::kCommunication, "all-reduce bucket", static_cast<int64_t>(index));
  const GradientBucket& bucket = buckets_[index];
  Span<float> values = gradients_.subspan(bucket.offset, bucket.count);
  bool finite = true;
  // Piece by piece where the communicator works so, each piece (converted to 16 bits and back,
  // when compressing, and) checked while still in cache: pieces of at most 1 MiB of gradients,
  // which stay in a core's L2 (a 4 MiB piece's check went out to memory and cost a fifth of the
  // synchronisation at 2 ranks, and whole-bucket conversions twice as much: docs/performance.md).
  constexpr size_t kCheckedPieceBytes = size_t{1} << 20;
  const size_t piece = comm_.all_reduce_piece_bytes() > 0
                           ? std::min(comm_.all_reduce_piece_bytes(), kCheckedPieceBytes) / sizeof(float)
                           : values.size();
  for (size_t offset = 0; offset < values.size(); offset += piece) {
    Span<float> part = values.subspan(offset, std::min(piece, values.size() - offset));
    if (options_.wire == WireFormat::kFloat32) {
      comm_.all_reduce(part, ReduceOp::kSum);
    } else {
      sum_in_16_bits(wire_.data() + bucket.offset + offset, part);
    }
    finite = all_finite(Span<const float>(part.data(), part.size())) && finite;
  }
  if (!finite) {
    std::lock_guard<std::mutex> lock(mutex_);
    nonfinite_ = true;
  }
}

namespace {
// values summed over the ranks as Half numbers, through `wire` (as many).
template <typename Half, Half (*narrow)(float)>
void sum_as(Communicator& comm, uint16_t* wire, Span<float> values) {
  auto* halves = reinterpret_cast<Half*>(wire);
  for (size_t i = 0; i < values.size(); ++i) halves[i] = narrow(values[i]);
  comm.all_reduce(Span<Half>(halves, values.size()), ReduceOp::kSum);
  for (size_t i = 0; i < values.size(); ++i) values[i] = to_float(halves[i]);
}
}  // namespace

void GradientSynchronizer::sum_in_16_bits(uint16_t* wire, Span<float> values) {
  if (options_.wire == WireFormat::kBFloat16) {
    sum_as<bfloat16, to_bfloat16>(comm_, wire, values);
  } else {
    sum_as<float16, to_float16>(comm_, wire, values);
  }
}

void GradientSynchronizer::launch_up_to(size_t ready) {
  size_t launch = launched_;
  while (launch < buckets_.size() && buckets_[launch].offset + buckets_[launch].count <= ready) ++launch;
  if (launch == launched_) return;
  launched_ = launch;
  worker_->make_available(launch);
}

void GradientSynchronizer::gradients_ready(size_t ready) {
  if (worker_) launch_up_to(ready);
}

bool GradientSynchronizer::wait() {
  if (worker_) {
    launched_ = 0;
    worker_->wait_all(buckets_.size());  // rethrows a failed all-reduce
  } else if (comm_.size() == 1) {
    // The sum over one rank is the gradient itself; only the check remains.
    nonfinite_ = !all_finite(Span<const float>(gradients_.data(), gradients_.size()));
  } else {
    for (size_t bucket = 0; bucket < buckets_.size(); ++bucket) communicate(bucket);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  bool finite = !nonfinite_;
  nonfinite_ = false;
  return finite;
}

}  // namespace rt
