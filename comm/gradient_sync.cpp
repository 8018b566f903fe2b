#include "comm/gradient_sync.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "core/base/check.h"

namespace rt {

HostGradientSynchronizer::HostGradientSynchronizer(Communicator& comm, Span<float> gradients, GradientSyncOptions options,
                                           Timeline* timeline)
    : comm_(comm), gradients_(gradients), options_(options), timeline_(timeline),
      buckets_(plan_buckets(gradients.size(), options)), started_sums_(comm.starts_all_reduces()) {
  if (options_.wire != WireFormat::kFloat32) wire_.resize(gradients.size());
  if (started_sums_) {
    tickets_.resize(buckets_.size());
    started_us_.resize(buckets_.size());
  }
  if (options_.overlap && comm_.size() > 1) {
    if (started_sums_) {
      worker_ = std::make_unique<BucketWorker>([this](size_t bucket) { start(bucket); }, [this](bool eager) { return finished(eager); });
    } else {
      worker_ = std::make_unique<BucketWorker>([this](size_t bucket) { communicate(bucket); });
    }
  }
}

HostGradientSynchronizer::~HostGradientSynchronizer() = default;

void HostGradientSynchronizer::communicate(size_t index) {
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
      finite = comm_.sum_checking_finite(part) && finite;  // checked while summing where the backend can
      continue;
    }
    uint16_t* wire = wire_at(bucket.offset + offset);
    start_sum(wire, part);  // done on return: this communicator sums at once
    widen_sum(wire, part);
    finite = all_finite(Span<const float>(part.data(), part.size())) && finite;
  }
  if (!finite) {
    std::lock_guard<std::mutex> lock(mutex_);
    nonfinite_ = true;
  }
}

void HostGradientSynchronizer::start(size_t index) {
  const GradientBucket& bucket = buckets_[index];
  Span<float> values = gradients_.subspan(bucket.offset, bucket.count);
  if (timeline_ && timeline_->enabled()) started_us_[index] = timeline_->now_us();
  tickets_[index] = start_sum(wire_at(bucket.offset), values);
  ++started_;
}

size_t HostGradientSynchronizer::finished(bool eager) {
  const uint64_t done = comm_.all_reduces_finished(eager);
  while (finished_ < started_ && tickets_[finished_] <= done) finish(finished_++);
  return finished_;
}

void HostGradientSynchronizer::finish(size_t index) {
  const GradientBucket& bucket = buckets_[index];
  Span<float> values = gradients_.subspan(bucket.offset, bucket.count);
  widen_sum(wire_at(bucket.offset), values);
  if (!all_finite(Span<const float>(values.data(), values.size()))) {
    std::lock_guard<std::mutex> lock(mutex_);
    nonfinite_ = true;
  }
  if (timeline_ && timeline_->enabled()) {
    timeline_->record(TimelineLane::kCommunication, "all-reduce bucket", started_us_[index], timeline_->now_us(),
                      static_cast<int64_t>(index));
  }
}

namespace {
// Starts the sum over the ranks of `values` as Half numbers, rounded into `wire` (as many).
template <typename Half, Half (*narrow)(float)>
uint64_t start_narrowed(Communicator& comm, uint16_t* wire, Span<const float> values) {
  auto* halves = reinterpret_cast<Half*>(wire);
  for (size_t i = 0; i < values.size(); ++i) halves[i] = narrow(values[i]);
  return comm.start_all_reduce(Span<Half>(halves, values.size()));
}
template <typename Half>
void widen(const uint16_t* wire, Span<float> values) {
  auto* halves = reinterpret_cast<const Half*>(wire);
  for (size_t i = 0; i < values.size(); ++i) values[i] = to_float(halves[i]);
}
}  // namespace

uint64_t HostGradientSynchronizer::start_sum(uint16_t* wire, Span<float> values) {
  Span<const float> read(values.data(), values.size());
  switch (options_.wire) {
    case WireFormat::kFloat32: return comm_.start_all_reduce(values);
    case WireFormat::kBFloat16: return start_narrowed<bfloat16, to_bfloat16>(comm_, wire, read);
    case WireFormat::kFloat16: return start_narrowed<float16, to_float16>(comm_, wire, read);
  }
  return 0;
}

void HostGradientSynchronizer::widen_sum(const uint16_t* wire, Span<float> values) {
  if (options_.wire == WireFormat::kBFloat16) widen<bfloat16>(wire, values);
  if (options_.wire == WireFormat::kFloat16) widen<float16>(wire, values);
}

void HostGradientSynchronizer::launch_up_to(size_t ready) {
  size_t launch = launched_;
  while (launch < buckets_.size() && buckets_[launch].offset + buckets_[launch].count <= ready) ++launch;
  if (launch == launched_) return;
  launched_ = launch;
  worker_->make_available(launch);
}

void HostGradientSynchronizer::gradients_ready(size_t ready) {
  if (worker_) launch_up_to(ready);
}

SumCheck HostGradientSynchronizer::wait() {
  if (worker_) {
    launched_ = 0;
    worker_->wait_all(buckets_.size());  // rethrows a failed all-reduce
    started_ = finished_ = 0;
  } else if (comm_.size() == 1) {
    // The sum over one rank is the gradient itself; only the check remains.
    nonfinite_ = !all_finite(Span<const float>(gradients_.data(), gradients_.size()));
  } else if (started_sums_) {
    for (size_t bucket = 0; bucket < buckets_.size(); ++bucket) start(bucket);
    while (finished(true) < buckets_.size()) std::this_thread::yield();  // backward is over: no sleeping
    started_ = finished_ = 0;
  } else {
    for (size_t bucket = 0; bucket < buckets_.size(); ++bucket) communicate(bucket);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const bool finite = !nonfinite_;
  nonfinite_ = false;
  return finite ? SumCheck::kFinite : SumCheck::kNonFinite;
}

std::string HostGradientSynchronizer::transport() const {
  return comm_.size() == 1 ? "none (one rank)" : comm_.backend();
}

}  // namespace rt
