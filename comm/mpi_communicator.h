// The MPI backend of Communicator, over its own duplicate of MPI_COMM_WORLD (errors returned and
// thrown, never fatal). Element counts above INT_MAX are sent in several calls.
#pragma once

#include <mpi.h>

#include "comm/communicator.h"

namespace rt {

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator();  // requires MPI to be initialised
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  void barrier() override;
  [[noreturn]] void abort(const std::string& reason) override;

 protected:
  void all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) override;
  void broadcast_elements(void* data, size_t count, DType dtype, int root) override;
  void all_gather_elements(const void* sent, void* received, size_t count, DType dtype) override;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace rt
