#!/usr/bin/env python3
"""Runs the job specifications of examples/ as their schedulers would, in containers of the image:

- examples/kubernetes/mpijob.yaml (MPI Operator, kubeflow.org/v2beta1): the workers run the spec's
  own command (sshd as mpiuser on port 2222, keys mounted at sshAuthMountPath), the launcher its
  own command and args with the spec's environment, $(VAR) expanded as Kubernetes does, and what
  the operator adds: the hostfile at /etc/mpi/hostfile and the OMPI_MCA_* variables naming it;
- examples/azureml/job.yml (a command job with distribution mpi): `command` with ${{inputs.data}}
  and ${{outputs.checkpoints}} replaced by their mounts, started by mpirun over the instances as
  Azure ML does, twice: the second submission finds the first one's checkpoints at the output's
  fixed datastore path and resumes from them;
- examples/batchai/job.json: its commandLine with the AZ_BATCHAI_* variables of its mounts.

Each on 2 worker containers x 2 slots (the specs ask for 2 x 4 GPUs: this machine has 2 cores and
no GPU, so the environment gives RINGTRAIN_DEVICE=cpu, as the specs allow), from a 6,400-sample part
of Fashion-MNIST, every command bounded in time. Prints what each spec ran; exits non-zero on a
failure. Usage: job_specs_test.py --image IMAGE --network NET --subnet A.B.C --keys DIR --work DIR
--binary RINGTRAIN
"""
import argparse
import gzip
import json
import os
import re
import shlex
import subprocess
import sys
import time

import numpy
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPIUSER = 1000
# The environment a CPU-only test machine gives the specs (they read these variables).
TEST_ENVIRONMENT = {"RINGTRAIN_DEVICE": "cpu", "RINGTRAIN_EPOCHS": "1"}


def run(args, timeout, check=True):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{shlex.join(args)} ended with {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def fingerprint(output):
    found = re.findall(r"parameter fingerprint ([0-9a-f]+)", output)
    return found[-1] if found else None


class Workers:
    """Worker containers on the test network, each started with `command` and reachable over ssh."""

    def __init__(self, args, names, mounts, command, user=None):
        self.args, self.names = args, names
        self.ips = {name: f"{args.subnet}.{20 + i}" for i, name in enumerate(names)}
        self.started = []
        for name in names:
            volumes = [f"-v={host}:{inside}" for host, inside in mounts]
            user_flag = [f"--user={user}"] if user is not None else []
            run(["podman", "run", "-d", f"--name={name}", f"--hostname={name}", f"--network={args.network}",
                 f"--ip={self.ips[name]}", *user_flag, *volumes, f"--entrypoint={command[0]}", args.image,
                 *command[1:]], timeout=60)
            self.started.append(name)
        for name in names:  # each sshd answers before a launcher starts (bounded)
            deadline = time.monotonic() + 20
            while run(["podman", "exec", name, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2222"], timeout=10,
                      check=False).returncode != 0:
                if time.monotonic() > deadline:
                    fail(f"{name}'s sshd does not answer:\n" + run(["podman", "logs", name], 10, False).stderr)
                time.sleep(0.1)

    def hostfile(self, slots):
        path = os.path.join(self.args.work, "hostfile")
        with open(path, "w") as out:
            out.writelines(f"{name} slots={slots}\n" for name in self.names)
        os.chmod(path, 0o644)
        return path

    def launch(self, command, env, mounts, timeout=240):
        """Runs `command` in a launcher container that resolves the workers by name."""
        hosts = [f"--add-host={name}:{ip}" for name, ip in self.ips.items()]
        variables = [f"--env={key}={value}" for key, value in env.items()]
        volumes = [f"-v={host}:{inside}" for host, inside in mounts]
        result = run(["podman", "run", "--rm", "--name=ringtrain-test-spec-launcher", f"--network={self.args.network}",
                      f"--ip={self.args.subnet}.30", "--hostname=launcher", *hosts, *variables, *volumes,
                      self.args.image, *command], timeout=timeout, check=False)
        return result.returncode, result.stdout + result.stderr

    def remove(self):
        for name in self.started + ["ringtrain-test-spec-launcher"]:
            run(["podman", "rm", "-f", "-t", "0", name], timeout=60, check=False)


def read_idx(path):
    with gzip.open(path, "rb") as file:
        data = file.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return numpy.frombuffer(data, dtype=numpy.uint8, offset=4 + 4 * dims).reshape(shape)


def write_data(args, directory):
    """A part of Fashion-MNIST (6,400 training and 1,000 test images) as shards in directory/{train,test}."""
    source = "/usr/share/datasets/fashion-mnist"
    for split, prefix, count in (("train", "train", 6400), ("test", "t10k", 1000)):
        images = read_idx(f"{source}/{prefix}-images-idx3-ubyte.gz")[:count].reshape(count, 784)
        labels = read_idx(f"{source}/{prefix}-labels-idx1-ubyte.gz")[:count].astype(numpy.int32)
        numpy.save(f"{args.work}/{split}-x.npy", images)
        numpy.save(f"{args.work}/{split}-y.npy", labels)
        run([args.binary, "shard", "--npy", f"{args.work}/{split}-x.npy", "--labels", f"{args.work}/{split}-y.npy",
             "--output", f"{directory}/{split}"], timeout=60)
    run(["chmod", "-R", "a+rX", directory], timeout=10)


def writable_dir(path):
    os.makedirs(path, exist_ok=True)
    os.chown(path, MPIUSER, MPIUSER)
    return path


def expand_kubernetes(text, env):
    """$(VAR) from the container's env, as Kubernetes expands command and args."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), text)


def test_mpijob(args, data_root):
    documents = list(yaml.safe_load_all(open(f"{ROOT}/examples/kubernetes/mpijob.yaml")))
    jobs = [d for d in documents if d.get("kind") == "MPIJob" and d.get("apiVersion") == "kubeflow.org/v2beta1"]
    if len(jobs) != 1:
        fail("mpijob.yaml holds no kubeflow.org/v2beta1 MPIJob")
    spec = jobs[0]
    declared_claims = {d["metadata"]["name"] for d in documents if d.get("kind") == "PersistentVolumeClaim"}
    job, replicas = spec["metadata"]["name"], spec["spec"]["mpiReplicaSpecs"]
    ssh_path = spec["spec"].get("sshAuthMountPath")
    if not ssh_path:
        fail("mpijob.yaml has no sshAuthMountPath")
    if "backoffLimit" not in spec["spec"].get("runPolicy", {}):
        fail("mpijob.yaml's runPolicy has no backoffLimit: a failed launcher is not retried")
    worker = replicas["Worker"]["template"]["spec"]
    launcher = replicas["Launcher"]["template"]["spec"]
    worker_container, launcher_container = worker["containers"][0], launcher["containers"][0]
    worker_command = worker_container.get("command", []) + worker_container.get("args", [])
    if not worker_command:
        fail("the MPIJob's workers have no command: the image's entry point would run instead of sshd")
    # The claims, as this machine's directories.
    claims = {"fashion-mnist-blob": data_root, "ringtrain-checkpoints": writable_dir(f"{args.work}/k8s-checkpoints")}
    for volume in worker.get("volumes", []):
        if volume["persistentVolumeClaim"]["claimName"] not in declared_claims:
            fail(f"mpijob.yaml mounts the claim {volume['persistentVolumeClaim']['claimName']}, which it does not declare")
    volumes = {v["name"]: claims[v["persistentVolumeClaim"]["claimName"]] for v in worker.get("volumes", [])}
    mounts = [(volumes[m["name"]], m["mountPath"] + (":ro" if m.get("readOnly") else ""))
              for m in worker_container.get("volumeMounts", [])]
    mounts.append((args.keys, ssh_path + ":ro"))
    user = worker_container.get("securityContext", {}).get("runAsUser")
    names = [f"{job}-worker-{i}" for i in range(replicas["Worker"]["replicas"])]
    workers = Workers(args, names, mounts, worker_command, user)
    try:
        env = {e["name"]: e["value"] for e in launcher_container.get("env", [])}
        env.update(TEST_ENVIRONMENT)
        # What the operator gives the launcher.
        env.update({"OMPI_MCA_orte_default_hostfile": "/etc/mpi/hostfile",
                    "OMPI_MCA_plm_rsh_args": "-o ConnectionAttempts=10",
                    "OMPI_MCA_orte_keep_fqdn_hostnames": "true"})
        command = [expand_kubernetes(word, env)
                   for word in launcher_container.get("command", []) + launcher_container.get("args", [])]
        launcher_mounts = [(workers.hostfile(2), "/etc/mpi/hostfile:ro"), (args.keys, ssh_path + ":ro")]
        code, output = workers.launch(command, env, launcher_mounts)
        print(f"mpijob.yaml: workers ran `{shlex.join(worker_command)}`; the launcher ran `{shlex.join(command)}`")
        if code != 0 or not fingerprint(output):
            fail(f"the MPIJob's launcher ended with {code}:\n{output}")
        if not any(name.startswith("step-") for name in os.listdir(claims["ringtrain-checkpoints"])):
            fail(f"the MPIJob wrote no checkpoint to its claim:\n{output}")
        print(f"  ended at {fingerprint(output)}, checkpoints on the claim")
        return fingerprint(output)
    finally:
        workers.remove()


def test_azureml(args, data_root):
    spec = yaml.safe_load(open(f"{ROOT}/examples/azureml/job.yml"))
    if spec.get("type") != "command" or spec.get("distribution", {}).get("type") != "mpi":
        fail("job.yml is not a command job with distribution: mpi")
    output_path = spec["outputs"]["checkpoints"].get("path", "")
    if not output_path.startswith("azureml://datastores/"):
        fail("job.yml's checkpoints output has no fixed datastore path: a resubmitted job would not find them")
    inputs = "/mnt/azureml/inputs/data"
    # The output's fixed datastore path: the same directory for every submission.
    checkpoints = writable_dir(f"{args.work}/azureml-datastore-checkpoints")
    mounts = [(f"{data_root}/fashion-mnist", inputs + ":ro"), (checkpoints, "/mnt/azureml/outputs/checkpoints"),
              (args.keys, "/home/mpiuser/.ssh:ro")]
    names = [f"azureml-node-{i}" for i in range(spec["resources"]["instance_count"])]
    workers = Workers(args, names, mounts, ["ringtrain-entrypoint", "worker"])
    try:
        command = spec["command"].replace("${{inputs.data}}", inputs)
        command = command.replace("${{outputs.checkpoints}}", "/mnt/azureml/outputs/checkpoints")
        outputs = []
        for epochs in ("1", "2"):  # a submission, then a resubmission asking for one more epoch
            env = {key: str(value) for key, value in spec.get("environment_variables", {}).items()}
            env.update(TEST_ENVIRONMENT)
            env["RINGTRAIN_EPOCHS"] = epochs
            forwarded = [word for key in env for word in ("-x", key)]
            launch = ["mpirun", "--hostfile", "/etc/mpi/hostfile", "-np", "4", *forwarded, "bash", "-c", command]
            code, output = workers.launch(launch, env, [(workers.hostfile(2), "/etc/mpi/hostfile:ro"),
                                                        (args.keys, "/home/mpiuser/.ssh:ro")])
            if code != 0 or not fingerprint(output):
                fail(f"the Azure ML job (epochs {epochs}) ended with {code}:\n{output}")
            outputs.append(output)
        print(f"job.yml: mpirun over {len(names)} instances ran `{command}`, then again with one more epoch")
        resumed = re.search(r"resumed from (\S+): step (\d+)", outputs[1])
        if not resumed or not resumed.group(1).startswith("/mnt/azureml/outputs/checkpoints/"):
            fail(f"the resubmitted Azure ML job did not resume from the first one's checkpoints:\n{outputs[1]}")
        print(f"  the resubmission resumed from {resumed.group(1)} (step {resumed.group(2)}), "
              f"ended at {fingerprint(outputs[1])}")
    finally:
        workers.remove()


def test_batchai(args, data_root):
    spec = json.load(open(f"{ROOT}/examples/batchai/job.json"))["properties"]
    for key in ("cluster", "nodeCount", "stdOutErrPathPrefix", "mountVolumes", "customMpiSettings"):
        if key not in spec:
            fail(f"job.json lacks the required property {key}")
    mount_root = "/mnt/batch/tasks/shared/LS_root/mounts"
    blob = spec["mountVolumes"]["azureBlobFileSystems"][0]["relativeMountPath"]
    env = {e["name"]: e["value"] for e in spec.get("environmentVariables", [])}
    env.update(TEST_ENVIRONMENT)
    inputs = {d["id"]: d["path"].replace("$AZ_BATCHAI_MOUNT_ROOT", mount_root) for d in spec["inputDirectories"]}
    outputs = {d["id"]: f"{d['pathPrefix'].replace('$AZ_BATCHAI_MOUNT_ROOT', mount_root)}/{d['pathSuffix']}"
               for d in spec["outputDirectories"]}
    for path in list(inputs.values()) + list(outputs.values()):
        if not path.startswith(f"{mount_root}/{blob}/"):
            fail(f"job.json reads or writes {path}, outside the blob file system it mounts")
    env.update({f"AZ_BATCHAI_INPUT_{key}": path for key, path in inputs.items()})
    env.update({f"AZ_BATCHAI_OUTPUT_{key}": path for key, path in outputs.items()})
    env.update({"AZ_BATCHAI_MOUNT_ROOT": mount_root, "AZ_BATCHAI_MPI_HOST_FILE": "/etc/mpi/hostfile"})
    # The blob file system, mounted on every node: the data and the outputs' folder.
    blob_root = writable_dir(f"{args.work}/batchai-blob")
    data_inside = inputs["DATASET"][len(f"{mount_root}/{blob}/"):]
    run(["cp", "-r", f"{data_root}/fashion-mnist", f"{blob_root}/{data_inside}"], timeout=60)
    run(["chown", "-R", f"{MPIUSER}:{MPIUSER}", blob_root], timeout=10)
    mounts = [(blob_root, f"{mount_root}/{blob}"), (args.keys, "/home/mpiuser/.ssh:ro")]
    names = [f"batchai-node-{i}" for i in range(spec["nodeCount"])]
    workers = Workers(args, names, mounts, ["ringtrain-entrypoint", "worker"])
    try:
        command_line = spec["customMpiSettings"]["commandLine"]
        code, output = workers.launch(["bash", "-c", command_line], env,
                                      mounts + [(workers.hostfile(2), "/etc/mpi/hostfile:ro")])
        print(f"job.json: ran `{spec['customMpiSettings']['commandLine']}` with its AZ_BATCHAI_* variables")
        if code != 0 or not fingerprint(output):
            fail(f"the Batch AI job ended with {code}:\n{output}")
        print(f"  ended at {fingerprint(output)}")
        return fingerprint(output)
    finally:
        workers.remove()


def main():
    parser = argparse.ArgumentParser()
    for name in ("image", "network", "subnet", "keys", "work", "binary"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    data_root = f"{args.work}/spec-data"
    write_data(args, f"{data_root}/fashion-mnist")
    kubernetes = test_mpijob(args, data_root)
    test_azureml(args, data_root)
    batchai = test_batchai(args, data_root)
    # The same model, data, epoch and rank count: the same parameters, whichever scheduler.
    if kubernetes != batchai:
        fail(f"the MPIJob ended at {kubernetes}, the Batch AI job at {batchai}")
    print("job specs: PASS")


if __name__ == "__main__":
    main()
