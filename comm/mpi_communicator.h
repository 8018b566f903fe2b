// The MPI backend of Communicator, over its own duplicate of MPI_COMM_WORLD (errors returned and
// thrown, never fatal). Element counts above INT_MAX are sent in several calls. bfloat16 and
// float16 travel as 16-bit words reduced by MPI operations of our own. With `hierarchical`, an
// all-reduce runs as reduce in the node, all-reduce among node leaders, broadcast in the node.
#pragma once

#include <mpi.h>

#include "comm/communicator.h"

namespace rt {

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(bool hierarchical = false);  // requires MPI to be initialised
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return hierarchical_ ? "mpi-hierarchical" : "mpi"; }
  // Nodes seen by the hierarchical all-reduce (1 when it is off).
  int nodes() const { return nodes_; }
  void barrier() override;
  [[noreturn]] void abort(const std::string& reason) override;

 protected:
  void all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) override;
  void broadcast_elements(void* data, size_t count, DType dtype, int root) override;
  void all_gather_elements(const void* sent, void* received, size_t count, DType dtype) override;

 private:
  void all_reduce_piece(void* data, int count, DType dtype, ReduceOp op);

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm node_ = MPI_COMM_NULL;     // hierarchical: the ranks of this node
  MPI_Comm leaders_ = MPI_COMM_NULL;  // hierarchical: rank 0 of every node (null elsewhere)
  bool hierarchical_ = false;
  int nodes_ = 1;
  int rank_ = 0;
  int size_ = 1;
  MPI_Op bfloat16_sum_ = MPI_OP_NULL;
  MPI_Op float16_sum_ = MPI_OP_NULL;
};

}  // namespace rt
