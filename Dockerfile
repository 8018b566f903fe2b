# The ringtrain image: one entry point as launcher and as worker, for Kubernetes (MPI Operator),
# Azure ML, Batch AI and ssh-launched clusters, and for serving (`ringtrain serve`).
#   docker build -t ringtrain .        CUDA 13 on Ubuntu 24.04, GPU kernels for sm_75 and sm_90
#   docker run --gpus all ringtrain info
# Any Debian or Ubuntu base builds a CPU-only image (scripts/container-image.sh uses Debian
# bookworm made with debootstrap):
#   podman build --build-arg BASE=IMAGE --build-arg RUNTIME_BASE=IMAGE -t ringtrain .
# The build stage has the compilers; the runtime stage only the binary, the libraries it loads,
# Open MPI and OpenSSH, and runs as the non-root user mpiuser (uid 1000).
ARG BASE=nvidia/cuda:13.0.0-devel-ubuntu24.04
ARG RUNTIME_BASE=nvidia/cuda:13.0.0-runtime-ubuntu24.04

FROM ${BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive
COPY scripts/install-deps.sh scripts/openmpi-defaults.sh /src/scripts/
RUN bash /src/scripts/install-deps.sh --image-build && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
# NATIVE=ON compiles for the build machine's processor (-march=native): faster, but the image
# then runs only on processors like it.
ARG NATIVE=OFF
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRINGTRAIN_NATIVE=${NATIVE} \
      -DRINGTRAIN_TESTS=OFF -DRINGTRAIN_BENCHMARKS=OFF \
    && cmake --build /build --target ringtrain --parallel "$(nproc)" \
    && mkdir -p /out && install -m 755 /build/ringtrain /out/ringtrain \
    && bash scripts/runtime-packages.sh /out/ringtrain > /out/runtime-packages.txt

FROM ${RUNTIME_BASE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
COPY scripts/openmpi-defaults.sh /tmp/openmpi-defaults.sh
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends $(cat /tmp/runtime-packages.txt) \
         openmpi-bin openssh-client openssh-server ca-certificates libopenblas0-pthread \
    && rm -rf /var/lib/apt/lists/* \
    && bash /tmp/openmpi-defaults.sh && rm /tmp/runtime-packages.txt /tmp/openmpi-defaults.sh
COPY --from=build /out/ringtrain /usr/local/bin/ringtrain
# The example configs and job specs (the specs name /opt/ringtrain/examples/...).
COPY examples /opt/ringtrain/examples
ENV RINGTRAIN_HOME=/opt/ringtrain
COPY scripts/container/entrypoint.sh /usr/local/bin/ringtrain-entrypoint
# The MPI Operator's layout for non-root workers: sshd as mpiuser on port 2222 with its host key
# and authorized keys in ~/.ssh (the operator mounts them there: sshAuthMountPath); ssh clients
# reach port 2222 and trust hosts they have not seen (pods come and go).
COPY scripts/container/sshd_config /home/mpiuser/.sshd_config
RUN useradd --create-home --uid 1000 --shell /bin/bash mpiuser \
    && mkdir -p /home/mpiuser/.ssh /run/sshd \
    && chown -R mpiuser:mpiuser /home/mpiuser \
    && printf 'Host *\n    Port 2222\n    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n    LogLevel ERROR\n' \
         >> /etc/ssh/ssh_config
USER mpiuser
WORKDIR /home/mpiuser
EXPOSE 2222 8080
ENTRYPOINT ["ringtrain-entrypoint"]
