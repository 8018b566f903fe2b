// The Communicator: how the ranks of a job talk. It knows nothing of tensors or layers; it moves
// typed spans of elements. The typed wrappers compute element counts and types, so no caller ever
// passes bytes where elements are meant. Backends: MPI (mpi_communicator.h) and a single process
// (single_process_communicator.h); NCCL joins later.
#pragma once

#include <memory>
#include <string>

#include "core/base/dtype.h"
#include "core/base/span.h"

namespace rt {

enum class ReduceOp { kSum, kAverage, kMin, kMax };

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;

  // In place: every rank ends with the element-wise reduction over all ranks, bitwise the same on
  // every rank. kAverage is for float and double; bfloat16 and float16 support kSum alone (summed
  // in float32 at each step, rounded back to 16 bits).
  template <typename T>
  void all_reduce(Span<T> buffer, ReduceOp op) {
    all_reduce_elements(buffer.data(), buffer.size(), dtype_of<T>(), op);
  }
  template <typename T>
  T all_reduce_value(T value, ReduceOp op) {
    all_reduce(Span<T>(&value, 1), op);
    return value;
  }
  // Every rank ends with root's elements.
  template <typename T>
  void broadcast(Span<T> buffer, int root) {
    broadcast_elements(buffer.data(), buffer.size(), dtype_of<T>(), root);
  }
  // received holds size() blocks of sent.size() elements, rank r's block at r * sent.size().
  template <typename T>
  void all_gather(Span<const T> sent, Span<T> received) {
    check_all_gather_sizes(sent.size(), received.size());
    all_gather_elements(sent.data(), received.data(), sent.size(), dtype_of<T>());
  }
  virtual void barrier() = 0;
  // Ends every process of the job with a non-zero exit status; `reason` is logged first.
  [[noreturn]] virtual void abort(const std::string& reason) = 0;

 protected:
  virtual void all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) = 0;
  virtual void broadcast_elements(void* data, size_t count, DType dtype, int root) = 0;
  virtual void all_gather_elements(const void* sent, void* received, size_t count, DType dtype) = 0;

  // Throws unless `op` is defined for `dtype` (see all_reduce).
  static void check_reduction(DType dtype, ReduceOp op);

 private:
  void check_all_gather_sizes(size_t sent, size_t received) const;
};

const char* reduce_op_name(ReduceOp op);

struct CommunicatorOptions {
  // All-reduce in three stages: reduce within each node, all-reduce among the node leaders,
  // broadcast within each node. Nodes are the ranks sharing memory (MPI_Comm_split_type), or, when
  // the environment variable RINGTRAIN_RANKS_PER_NODE=K is set, consecutive groups of K ranks
  // (pretend nodes, to test the hierarchy on one machine).
  bool hierarchical = false;
};

// MPI when MPI is initialised, a single process otherwise.
std::unique_ptr<Communicator> make_world_communicator(const CommunicatorOptions& options = {});

}  // namespace rt
