// GPU gradient synchronisation in a build without CUDA: an error that says so.
#include "comm/device_gradient_sync.h"

#include "core/base/check.h"

namespace rt {

std::unique_ptr<GradientSynchronizer> make_nccl_gradient_synchronizer(std::unique_ptr<NcclCommunicator>, float*,
                                                                      size_t, GradientSyncOptions, void*) {
  RT_FAIL("GPU gradients need a build of ringtrain with CUDA");
}
std::unique_ptr<GradientSynchronizer> make_staged_gradient_synchronizer(Communicator&, float*, size_t,
                                                                        GradientSyncOptions, void*) {
  RT_FAIL("GPU gradients need a build of ringtrain with CUDA");
}

}  // namespace rt
