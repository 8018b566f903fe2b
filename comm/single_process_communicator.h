// The Communicator of a job of one process: reductions and broadcasts leave data as it is.
#pragma once

#include "comm/communicator.h"

namespace rt {

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single-process"; }

  [[noreturn]] void abort(const std::string& reason) override;

 protected:
  void all_reduce_elements(void* data, size_t count, DType dtype, ReduceOp op) override;
  void broadcast_elements(void* data, size_t count, DType dtype, int root) override;
  void all_gather_elements(const void* sent, void* received, size_t count, DType dtype) override;
  void barrier_all() override {}
};

}  // namespace rt
