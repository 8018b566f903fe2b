#!/usr/bin/env bash
# The image of the Dockerfile, built and run for real with podman (scripts/container-image.sh):
#  - the runtime image holds no compiler, runs as mpiuser, and its entry point runs ringtrain;
#  - Fashion-MNIST trained in one container (4 ranks), across 4 containers x 1 rank and 2 x 2
#    launched by mpirun over ssh into workers running `sshd -De` as mpiuser on port 2222 (the MPI
#    Operator's layout), each ending at the parameters of 4 ranks on this machine, bit for bit
#    (the image is built for this processor, -march=native, as the binary under test is);
#  - the serving specifications of examples/ answer their probes and scoring route, and drain on
#    SIGTERM (serving_specs_test.py);
#  - the job specifications of examples/ run as written (job_specs_test.py).
# Every command is bounded in time; containers and the network are removed whatever happens.
# Exit 77 (skipped, with the reason) where podman cannot run: not root, or podman missing.
# Usage: tests/containers/container_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: container_test.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ $(id -u) -ne 0 ]]; then echo "SKIPPED: podman here needs root"; exit 77; fi
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: no $tool (scripts/install-deps.sh --test installs it)"; exit 77; }
done

image=localhost/ringtrain:test
network=ringtrain-test-net
subnet=10.89.77
work=$(mktemp -d /var/tmp/ringtrain-container-test.XXXXXX)
containers=()
cleanup() {
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  podman network rm -f "$network" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
fingerprint() { grep -o 'parameter fingerprint [0-9a-f]*' | tail -1 | awk '{print $3}'; }
run_bounded() { timeout --kill-after=10 "$@"; }

echo "== image"
start=$(date +%s)
run_bounded 1500 bash "$root/scripts/container-image.sh" "$image" --build-arg NATIVE=ON >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log"; fail "the image did not build"; }
echo "built in $(($(date +%s) - start)) s; size $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
[[ $(podman run --rm "$image" sh -c 'id -un') == mpiuser ]] || fail "the image does not run as mpiuser"
if podman run --rm "$image" sh -c 'command -v gcc || command -v cc || command -v c++ || command -v cmake'; then
  fail "the runtime image holds a compiler"
fi
podman run --rm "$image" --version | grep -q '^ringtrain ' || fail "the entry point does not run ringtrain"

echo "== data and the reference run on this machine"
mkdir -p "$work/data" "$work/ssh" "$work/model"
"$build/ringtrain" shard --idx-dir /usr/share/datasets/fashion-mnist --output "$work/data" >/dev/null
cat >"$work/data/job.toml" <<TOML
[model]
kind = "mlp"
hidden = [128]
[train]
epochs = 1
max_steps = 60
global_batch = 128
seed = 1
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
[data]
train_dir = "/data/train"
test_dir = "/data/test"
[runtime]
threads = 1
[log]
dir = ""
progress = false
TOML
sed "s#\"/data/#\"$work/data/#" "$work/data/job.toml" >"$work/host.toml"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
reference=$(run_bounded 120 mpirun -np 4 --oversubscribe "$build/ringtrain" train "$work/host.toml" \
              --set checkpoint.dir="$work/model" 2>&1 | fingerprint)
[[ -n $reference ]] || fail "the reference run printed no fingerprint"
echo "this machine, 4 ranks: $reference"
chmod -R a+rX "$work/data" "$work/model"

echo "== one container, 4 ranks"
one=$(run_bounded 180 podman run --rm -v "$work/data:/data:ro" "$image" \
        mpirun -np 4 --oversubscribe ringtrain train /data/job.toml 2>&1 | fingerprint)
echo "one container: $one"
[[ $one == "$reference" ]] || fail "one container ended at $one, this machine at $reference"

echo "== workers reached over ssh"
podman network create --subnet "$subnet.0/24" "$network" >/dev/null
# The keys, as the MPI Operator mounts them (sshAuthMountPath): one key pair, its public half
# authorized, the private half also the workers' host key.
podman run --rm -v "$work/ssh:/keys" --user root "$image" sh -c \
  'ssh-keygen -q -t ed25519 -N "" -f /keys/id_rsa && cp /keys/id_rsa.pub /keys/authorized_keys'
chown -R 1000:1000 "$work/ssh"
for i in 1 2 3 4; do
  name=ringtrain-test-w$i
  containers+=("$name")
  podman run -d --name "$name" --hostname "w$i" --network "$network" --ip "$subnet.1$i" \
    -v "$work/ssh:/home/mpiuser/.ssh:ro" -v "$work/data:/data:ro" "$image" worker >/dev/null
done
# Each worker's sshd answers before the launcher starts (bounded).
for i in 1 2 3 4; do
  for _ in $(seq 100); do
    podman exec "ringtrain-test-w$i" bash -c "exec 3<>/dev/tcp/127.0.0.1/2222" 2>/dev/null && break
    sleep 0.1
  done
done
launch() {  # launch HOSTS: mpirun from a launcher container over ssh to the workers
  containers+=(ringtrain-test-launcher)
  run_bounded 240 podman run --rm --name ringtrain-test-launcher --hostname launcher --network "$network" \
    --ip "$subnet.10" -v "$work/ssh:/home/mpiuser/.ssh:ro" -v "$work/data:/data:ro" "$image" \
    mpirun --host "$1" -np 4 ringtrain train /data/job.toml 2>&1
}
output=$(launch "$subnet.11,$subnet.12,$subnet.13,$subnet.14") || { echo "$output"; fail "4 hosts x 1 rank failed"; }
four=$(fingerprint <<<"$output")
echo "4 containers x 1 rank over ssh: $four"
grep -q "rank 0 of 4 on w1 (local rank 0 of 1)" <<<"$output" || { echo "$output"; fail "rank 0 did not run alone on w1"; }
[[ $four == "$reference" ]] || fail "4 x 1 ended at $four, this machine at $reference"
output=$(launch "$subnet.11:2,$subnet.12:2") || { echo "$output"; fail "2 hosts x 2 ranks failed"; }
two=$(fingerprint <<<"$output")
echo "2 containers x 2 ranks over ssh: $two"
grep -q "rank 0 of 4 on w1 (local rank 0 of 2)" <<<"$output" || { echo "$output"; fail "w1 did not run 2 ranks"; }
[[ $two == "$reference" ]] || fail "2 x 2 ended at $two, this machine at $reference"

echo "== serving: the specifications of examples/ (ACI, AKS, Azure ML), as their platforms run them"
run_bounded 600 /usr/bin/python3 "$root/tests/containers/serving_specs_test.py" --image "$image" \
  --checkpoints "$work/model" --work "$work" || fail "a serving specification did not run as written"

echo "== the job specifications of examples/, as their schedulers run them"
run_bounded 900 /usr/bin/python3 "$root/tests/containers/job_specs_test.py" --image "$image" --network "$network" \
  --subnet "$subnet" --keys "$work/ssh" --work "$work" --binary "$build/ringtrain" ||
  fail "a job specification did not run as written"
echo "PASS"
