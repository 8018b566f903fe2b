#include "comm/communicator.h"

#include "comm/finite.h"
#include "comm/mpi_communicator.h"
#include "comm/single_process_communicator.h"
#include "core/base/check.h"
#include "core/base/config.h"
#include "core/base/environment.h"
#include "core/base/hash.h"

namespace rt {

std::string describe(const CollectiveCall& call) {
  const char* kind = "?";
  switch (call.kind) {
    case CollectiveKind::kAllReduce: kind = "all-reduce"; break;
    case CollectiveKind::kBroadcast: kind = "broadcast"; break;
    case CollectiveKind::kAllGather: kind = "all-gather"; break;
    case CollectiveKind::kBarrier: return fmt::format("#{} barrier", call.sequence);
  }
  return fmt::format("#{} {} of {} {}", call.sequence, kind, call.count, dtype_name(call.dtype));
}

bool operator==(const CollectiveCall& a, const CollectiveCall& b) {
  return a.sequence == b.sequence && a.kind == b.kind && a.count == b.count && a.dtype == b.dtype;
}

void encode_call(const CollectiveCall& call, int64_t* words) {
  words[0] = static_cast<int64_t>(call.sequence);
  words[1] = static_cast<int64_t>(call.kind);
  words[2] = static_cast<int64_t>(call.count);
  words[3] = static_cast<int64_t>(call.dtype);
}

CollectiveCall decode_call(const int64_t* words) {
  return {static_cast<uint64_t>(words[0]), static_cast<CollectiveKind>(words[1]), static_cast<uint64_t>(words[2]),
          static_cast<DType>(words[3])};
}

CollectiveCall Communicator::record_call(CollectiveKind kind, size_t count, DType dtype) {
  const uint64_t words[3] = {static_cast<uint64_t>(kind), static_cast<uint64_t>(count), static_cast<uint64_t>(dtype)};
  fingerprint_ = fnv1a(words, sizeof words, fingerprint_);
  newest_ = {++calls_, kind, count, dtype};
  return newest_;
}

void Communicator::begin_collective(CollectiveKind kind, size_t count, DType dtype) {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  current_ = record_call(kind, count, dtype);
  in_progress_ = true;
  started_ = std::chrono::steady_clock::now();
}

uint64_t Communicator::begin_started(CollectiveKind kind, size_t count, DType dtype) {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  under_way_.emplace_back(record_call(kind, count, dtype), std::chrono::steady_clock::now());
  return finished_count_ + under_way_.size();
}

void Communicator::finish_started_leaving(size_t under_way) {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  while (under_way_.size() > under_way) {
    last_ = under_way_.front().first;
    under_way_.pop_front();
    ++finished_count_;
  }
}

uint64_t Communicator::finished_calls() const {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  return finished_count_;
}

void Communicator::end_collective() {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  last_ = current_;
  in_progress_ = false;
}

bool Communicator::sum_checking_finite_elements(float* data, size_t count) {
  all_reduce_elements(data, count, DType::kFloat32, ReduceOp::kSum);
  return all_finite(Span<const float>(data, count));
}

uint64_t Communicator::collective_fingerprint() const {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  return fingerprint_;
}

CollectiveCall Communicator::last_collective() const {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  return last_;
}

CollectiveCall Communicator::newest_collective() const {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  return newest_;
}

std::optional<std::pair<CollectiveCall, std::chrono::steady_clock::time_point>> Communicator::collective_in_progress()
    const {
  std::lock_guard<std::mutex> lock(calls_mutex_);
  if (!under_way_.empty()) return under_way_.front();
  if (!in_progress_) return std::nullopt;
  return std::make_pair(current_, started_);
}

void Communicator::check_all_gather_sizes(size_t sent, size_t received) const {
  RT_CHECK(received == sent * static_cast<size_t>(size()),
           "all_gather: receive span holds {} elements, {} ranks x {} sent need {}", received, size(),
           sent, sent * static_cast<size_t>(size()));
}

void Communicator::check_reduction(DType dtype, ReduceOp op) {
  bool half = dtype == DType::kBFloat16 || dtype == DType::kFloat16;
  bool floating = dtype == DType::kFloat32 || dtype == DType::kFloat64;
  RT_CHECK(!half || op == ReduceOp::kSum, "all_reduce {} of {} elements: 16-bit floats support sum only",
           reduce_op_name(op), dtype_name(dtype));
  RT_CHECK(op != ReduceOp::kAverage || floating,
           "all_reduce average of {} elements: only floating-point types can be averaged", dtype_name(dtype));
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAverage: return "average";
    case ReduceOp::kMin: return "min";
    case ReduceOp::kMax: return "max";
  }
  return "?";
}

const std::vector<std::pair<std::string, CommunicatorOptions::StartedAllReduces>>& started_all_reduces_names() {
  using Started = CommunicatorOptions::StartedAllReduces;
  static const std::vector<std::pair<std::string, Started>> names{
      {"auto", Started::kAuto}, {"on", Started::kNonBlocking}, {"off", Started::kBlocking}};
  return names;
}

CommunicatorOptions::StartedAllReduces parse_started_all_reduces(const std::string& name) {
  return parse_choice(started_all_reduces_names(), name, "non-blocking all-reduce setting");
}

std::unique_ptr<Communicator> make_world_communicator(const CommunicatorOptions& options) {
  if (MpiRuntime::active()) {
    return std::make_unique<MpiCommunicator>(options);
  }
  return std::make_unique<SingleProcessCommunicator>();
}

std::string broadcast_text(Communicator& comm, std::string text, int root) {
  const int64_t length = comm.all_reduce_value(comm.rank() == root ? static_cast<int64_t>(text.size()) : int64_t{0},
                                               ReduceOp::kMax);
  text.resize(static_cast<size_t>(length));
  if (length > 0) comm.broadcast(Span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size()), root);
  return text;
}

}  // namespace rt
