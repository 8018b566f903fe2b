#include "comm/device_gradient_sync.h"

#include <cuda_runtime.h>

#include <memory>

#include "comm/bucket_worker.h"
#include "core/base/check_cuda.h"

namespace rt {

namespace {

void check_options(const GradientSyncOptions& options) {
  RT_CHECK(options.wire == WireFormat::kFloat32,
           "16-bit gradients on the wire (comm.wire) are not supported for GPU gradients yet; use comm.wire = \"fp32\"");
}

// What both transports share: the buckets, one event per bucket on the compute stream, and the
// walk over buckets that became final.
class BucketedDeviceSync : public GradientSynchronizer {
 public:
  BucketedDeviceSync(float* gradients, size_t count, GradientSyncOptions options, void* compute_stream)
      : gradients_(gradients), count_(count), options_(options), buckets_(plan_buckets(count, options)),
        compute_(static_cast<cudaStream_t>(compute_stream)), ready_(buckets_.size(), nullptr) {
    check_options(options);
    for (cudaEvent_t& event : ready_) RT_CHECK_CUDA(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  }
  ~BucketedDeviceSync() override {
    for (cudaEvent_t event : ready_) cudaEventDestroy(event);
  }
  const std::vector<GradientBucket>& buckets() const override { return buckets_; }

  void gradients_ready(size_t ready) override {
    if (!options_.overlap) return;
    launch_up_to(ready);
  }

 protected:
  void launch_up_to(size_t ready) {
    while (launched_ < buckets_.size() && buckets_[launched_].offset + buckets_[launched_].count <= ready) {
      RT_CHECK_CUDA(cudaEventRecord(ready_[launched_], compute_));
      start_bucket(launched_, ready_[launched_]);
      ++launched_;
    }
  }
  virtual void start_bucket(size_t index, cudaEvent_t ready) = 0;

  float* gradients_;
  size_t count_;
  GradientSyncOptions options_;
  std::vector<GradientBucket> buckets_;
  cudaStream_t compute_;
  std::vector<cudaEvent_t> ready_;
  size_t launched_ = 0;  // buckets started this step
};

class NcclDeviceSync final : public BucketedDeviceSync {
 public:
  NcclDeviceSync(std::unique_ptr<NcclCommunicator> nccl, float* gradients, size_t count, GradientSyncOptions options,
                 void* compute_stream)
      : BucketedDeviceSync(gradients, count, options, compute_stream), owned_nccl_(std::move(nccl)), nccl_(*owned_nccl_) {
    RT_CHECK_CUDA(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  }
  ~NcclDeviceSync() override { cudaEventDestroy(done_); }
  std::string transport() const override { return "nccl"; }

  SumCheck wait() override {
    launch_up_to(count_);
    launched_ = 0;
    nccl_.synchronize();  // polls NCCL's error state, within its timeout
    RT_CHECK_CUDA(cudaEventRecord(done_, static_cast<cudaStream_t>(nccl_.stream())));
    RT_CHECK_CUDA(cudaStreamWaitEvent(compute_, done_, 0));
    return SumCheck::kOnDevice;
  }

 private:
  void start_bucket(size_t index, cudaEvent_t ready) override {
    const GradientBucket& bucket = buckets_[index];
    nccl_.all_reduce_sum_async(gradients_ + bucket.offset, bucket.count, ready);
  }

  std::unique_ptr<NcclCommunicator> owned_nccl_;
  NcclCommunicator& nccl_;
  cudaEvent_t done_ = nullptr;
};

class StagedDeviceSync final : public BucketedDeviceSync {
 public:
  StagedDeviceSync(Communicator& comm, float* gradients, size_t count, GradientSyncOptions options,
                   void* compute_stream)
      : BucketedDeviceSync(gradients, count, options, compute_stream), comm_(comm), copied_(buckets_.size(), nullptr) {
    if (count_ > 0) RT_CHECK_CUDA(cudaMallocHost(&host_, count_ * sizeof(float)));
    RT_CHECK_CUDA(cudaStreamCreateWithFlags(&download_, cudaStreamNonBlocking));
    RT_CHECK_CUDA(cudaStreamCreateWithFlags(&upload_, cudaStreamNonBlocking));
    RT_CHECK_CUDA(cudaEventCreateWithFlags(&uploaded_, cudaEventDisableTiming));
    for (cudaEvent_t& event : copied_) RT_CHECK_CUDA(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    worker_ = std::make_unique<BucketWorker>([this](size_t index) { sum_bucket(index); });
  }
  ~StagedDeviceSync() override {
    worker_.reset();  // the thread ends before what it uses goes
    for (cudaEvent_t event : copied_) cudaEventDestroy(event);
    cudaEventDestroy(uploaded_);
    cudaStreamDestroy(upload_);
    cudaStreamDestroy(download_);
    cudaFreeHost(host_);
  }
  std::string transport() const override { return "mpi-staged"; }

  SumCheck wait() override {
    launch_up_to(count_);
    launched_ = 0;
    worker_->wait_all(buckets_.size());  // rethrows a failed all-reduce
    RT_CHECK_CUDA(cudaEventRecord(uploaded_, upload_));
    RT_CHECK_CUDA(cudaStreamWaitEvent(compute_, uploaded_, 0));
    return SumCheck::kOnDevice;
  }

 private:
  void start_bucket(size_t index, cudaEvent_t ready) override {
    const GradientBucket& bucket = buckets_[index];
    RT_CHECK_CUDA(cudaStreamWaitEvent(download_, ready, 0));
    RT_CHECK_CUDA(cudaMemcpyAsync(host_ + bucket.offset, gradients_ + bucket.offset, bucket.count * sizeof(float),
                                  cudaMemcpyDeviceToHost, download_));
    RT_CHECK_CUDA(cudaEventRecord(copied_[index], download_));
    worker_->make_available(index + 1);
  }

  // On the worker's thread, buckets in order: wait for the copy to the host, sum over MPI, copy back.
  void sum_bucket(size_t index) {
    const GradientBucket& bucket = buckets_[index];
    RT_CHECK_CUDA(cudaEventSynchronize(copied_[index]));
    comm_.all_reduce(Span<float>(host_ + bucket.offset, bucket.count), ReduceOp::kSum);
    RT_CHECK_CUDA(cudaMemcpyAsync(gradients_ + bucket.offset, host_ + bucket.offset, bucket.count * sizeof(float),
                                  cudaMemcpyHostToDevice, upload_));
  }

  Communicator& comm_;
  float* host_ = nullptr;  // page-locked mirror of the arena
  cudaStream_t download_ = nullptr;
  cudaStream_t upload_ = nullptr;
  cudaEvent_t uploaded_ = nullptr;
  std::vector<cudaEvent_t> copied_;
  std::unique_ptr<BucketWorker> worker_;  // made available a bucket once its copy to the host is queued
};

}  // namespace

std::unique_ptr<GradientSynchronizer> make_nccl_gradient_synchronizer(std::unique_ptr<NcclCommunicator> nccl,
                                                                      float* gradients, size_t count,
                                                                      GradientSyncOptions options, void* compute_stream) {
  return std::make_unique<NcclDeviceSync>(std::move(nccl), gradients, count, options, compute_stream);
}

std::unique_ptr<GradientSynchronizer> make_staged_gradient_synchronizer(Communicator& comm, float* gradients,
                                                                        size_t count, GradientSyncOptions options,
                                                                        void* compute_stream) {
  return std::make_unique<StagedDeviceSync>(comm, gradients, count, options, compute_stream);
}

}  // namespace rt
