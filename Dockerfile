# The training container: CUDA (with NCCL) base image, Open MPI, HDF5 and the rest from the same
# install script as CI (scripts/install-deps.sh), ringtrain built in Release by scripts/build.sh,
# as CI builds it. Portable code (no -march=native); GPU kernels for sm_75 and sm_90.
#   docker build -t ringtrain .
#   docker run --gpus all ringtrain info
FROM nvidia/cuda:13.0.0-devel-ubuntu24.04
ENV DEBIAN_FRONTEND=noninteractive
COPY scripts/install-deps.sh /opt/ringtrain/scripts/install-deps.sh
RUN bash /opt/ringtrain/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /opt/ringtrain
WORKDIR /opt/ringtrain
RUN rm -rf build && bash scripts/build.sh -DRINGTRAIN_NATIVE=OFF -DRINGTRAIN_TESTS=OFF -DRINGTRAIN_BENCHMARKS=OFF \
    && install -m 755 build/ringtrain /usr/local/bin/ringtrain && rm -rf build
ENV RINGTRAIN_HOME=/opt/ringtrain OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ENTRYPOINT ["ringtrain"]
