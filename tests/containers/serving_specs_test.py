#!/usr/bin/env python3
"""Runs the serving specifications of examples/ as their platforms would, in containers of the image:

- examples/aci/serve.yaml (an ACI container group): the container's command, port and volume mount;
- examples/aks/serve.yaml (Deployment, Service, HorizontalPodAutoscaler, the checkpoints' claim):
  the container's args under the image's entry point, as its user, then a stop as Kubernetes does it
  (preStop, then SIGTERM, within terminationGracePeriodSeconds);
- examples/azureml/deployment.yml (a managed online deployment, custom container): the image's own
  entry point with AZUREML_MODEL_DIR and the deployment's environment variables.

For each: the readiness and liveness probes' routes answer 200 within a bound, the scoring route
answers examples/fashion_mnist/request.json with a prediction per row, and on SIGTERM the server
ends with 0 before the grace period is over. Prints what each spec ran; exits non-zero on a failure.
Usage: serving_specs_test.py --image IMAGE --checkpoints DIR --work DIR
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = 18090
REQUEST = os.path.join(ROOT, "examples", "fashion_mnist", "request.json")


def run(args, timeout, check=True):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{shlex.join(args)} ended with {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def fail(message, container=None):
    if container:
        message += "\n" + run(["podman", "logs", container], 20, False).stderr
    print(f"FAIL: {message}")
    sys.exit(1)


def status_of(path):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def score(path):
    body = open(REQUEST, "rb").read()
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=body,
                                     headers={"Content-Type": "application/json"})
    answer = json.load(urllib.request.urlopen(request, timeout=10))
    return answer, len(json.loads(body)["data"])


def serve_and_check(name, container, run_args, ready, live, scoring, grace, pre_stop=None):
    """Starts the container, probes it, scores, stops it as the platform does; returns the predictions."""
    run(["podman", "run", "-d", f"--name={container}", f"-p=127.0.0.1:{PORT}:8080", *run_args], timeout=60)
    try:
        deadline = time.monotonic() + 30
        while status_of(ready) != 200:
            if time.monotonic() > deadline:
                fail(f"{name}: the readiness route {ready} did not answer 200 within 30 s", container)
            time.sleep(0.1)
        if status_of(live) != 200:
            fail(f"{name}: the liveness route {live} did not answer 200", container)
        answer, rows = score(scoring)
        if len(answer.get("predictions", [])) != rows:
            fail(f"{name}: {scoring} answered {answer}", container)
        if pre_stop:
            run(["podman", "exec", container, *pre_stop], timeout=60)
        started = time.monotonic()
        # SIGTERM, then SIGKILL after the grace period, as the platforms stop a container.
        run(["podman", "stop", "-t", str(grace), container], timeout=grace + 30)
        stopped = time.monotonic() - started
        code = run(["podman", "inspect", "--format", "{{.State.ExitCode}}", container], timeout=30).stdout.strip()
        if code != "0" or stopped >= grace:
            fail(f"{name}: on SIGTERM the server ended with {code} after {stopped:.1f} s (grace {grace} s)", container)
        print(f"  {ready} and {live} answered 200, {scoring} predicted {answer['predictions']}, "
              f"SIGTERM: exit 0 in {stopped:.1f} s")
    finally:
        run(["podman", "rm", "-f", "-t", "0", container], timeout=60, check=False)


def probe_path(probe):
    return probe["httpGet"]["path"]


def test_aci(args):
    group = yaml.safe_load(open(f"{ROOT}/examples/aci/serve.yaml"))
    if group.get("type") != "Microsoft.ContainerInstance/containerGroups":
        fail("aci/serve.yaml is not an ACI container group")
    container = group["properties"]["containers"][0]["properties"]
    volumes = {v["name"]: v for v in group["properties"]["volumes"]}
    mounts = []
    for mount in container["volumeMounts"]:
        if mount["name"] not in volumes:
            fail(f"aci/serve.yaml mounts {mount['name']}, which it does not declare")
        # The Azure Files share: a folder holding the run's checkpoints/ folder.
        share = os.path.join(args.work, "aci-share")
        os.makedirs(share, exist_ok=True)
        run(["cp", "-r", args.checkpoints, os.path.join(share, "checkpoints")], timeout=60)
        mounts.append(f"-v={share}:{mount['mountPath']}:ro")
    if {p["port"] for p in container["ports"]} != {8080}:
        fail("aci/serve.yaml does not publish the server's port 8080")
    command = container["command"]
    print(f"aci/serve.yaml: ran `{shlex.join(command)}`")
    serve_and_check("aci", "ringtrain-test-aci", [*mounts, f"--entrypoint={command[0]}", args.image, *command[1:]],
                    probe_path(container["readinessProbe"]), probe_path(container["livenessProbe"]), "/score", 30)


def test_aks(args):
    documents = list(yaml.safe_load_all(open(f"{ROOT}/examples/aks/serve.yaml")))
    kinds = {d["kind"]: d for d in documents}
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim"):
        if kind not in kinds:
            fail(f"aks/serve.yaml has no {kind}")
    deployment, service, autoscaler = kinds["Deployment"], kinds["Service"], kinds["HorizontalPodAutoscaler"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in service["spec"]["selector"].items()):
        fail("aks/serve.yaml's Service selects no pod of its Deployment")
    if autoscaler["spec"]["scaleTargetRef"]["name"] != deployment["metadata"]["name"]:
        fail("aks/serve.yaml's autoscaler scales another Deployment")
    container = pod["spec"]["containers"][0]
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    if ports.get(service["spec"]["ports"][0]["targetPort"]) != 8080:
        fail("aks/serve.yaml's Service does not reach the server's port 8080")
    claim = kinds["PersistentVolumeClaim"]["metadata"]["name"]
    volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]}
    mounts = []
    for mount in container["volumeMounts"]:
        if volumes.get(mount["name"]) != claim:
            fail(f"aks/serve.yaml mounts {mount['name']}, not its claim {claim}")
        mounts.append(f"-v={args.checkpoints}:{mount['mountPath']}:ro")
    user = container.get("securityContext", {}).get("runAsUser")
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    print(f"aks/serve.yaml: ran the entry point with `{shlex.join(container['args'])}` as uid {user}, "
          f"stopped with preStop `{shlex.join(pre_stop)}` then SIGTERM")
    serve_and_check("aks", "ringtrain-test-aks", [*mounts, f"--user={user}", args.image, *container["args"]],
                    probe_path(container["readinessProbe"]), probe_path(container["livenessProbe"]), "/score", grace,
                    pre_stop)


def test_azureml(args):
    endpoint = yaml.safe_load(open(f"{ROOT}/examples/azureml/endpoint.yml"))
    deployment = yaml.safe_load(open(f"{ROOT}/examples/azureml/deployment.yml"))
    if deployment["endpoint_name"] != endpoint["name"]:
        fail("azureml/deployment.yml deploys to another endpoint than endpoint.yml's")
    routes = deployment["environment"]["inference_config"]
    if {routes[r]["port"] for r in ("liveness_route", "readiness_route", "scoring_route")} != {8080}:
        fail("azureml/deployment.yml's routes are not on the server's port 8080")
    # Azure ML mounts the registered model under AZUREML_MODEL_DIR, in a folder of the path's name.
    model_dir = "/var/azureml-app/azureml-models/" + deployment["model"]["name"] + "/1"
    folder = os.path.basename(deployment["model"]["path"].rstrip("/"))
    env = {**deployment.get("environment_variables", {}), "AZUREML_MODEL_DIR": model_dir}
    variables = [f"--env={key}={value}" for key, value in env.items()]
    print(f"azureml/deployment.yml: ran the image's entry point with {env}")
    serve_and_check("azureml", "ringtrain-test-azureml",
                    [f"-v={args.checkpoints}:{model_dir}/{folder}:ro", *variables, args.image],
                    routes["readiness_route"]["path"], routes["liveness_route"]["path"],
                    routes["scoring_route"]["path"], 30)


def main():
    parser = argparse.ArgumentParser()
    for name in ("image", "checkpoints", "work"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    test_aci(args)
    test_aks(args)
    test_azureml(args)
    print("serving specs: PASS")


if __name__ == "__main__":
    main()
