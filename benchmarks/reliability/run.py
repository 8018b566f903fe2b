#!/usr/bin/env python3
"""Injects the faults clusters cause into real Fashion-MNIST training jobs (ringtrain under
mpirun) and writes docs/reliability.md: for each fault, how often it was injected, seconds from the
fault to the job's end, processes left behind, checkpoints that failed verification (skipped) and
any broken checkpoint loaded, steps lost, and the largest difference of any epoch's losses and of
the final parameters between the resumed and the uninterrupted run.

Run by hand (never by CI), from the repository root: python3 benchmarks/reliability/run.py [REPEATS]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, "build", "ringtrain")
CONFIG = os.path.join(ROOT, "examples", "fashion_mnist", "mlp.toml")
DATA = os.environ.get("RINGTRAIN_DATA", os.path.join(ROOT, "datasets", "fashion-mnist"))
EPOCHS = 3
ENV = dict(os.environ, RINGTRAIN_DATA=DATA, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def command(ranks, work, extra=()):
    return (["mpirun", "--oversubscribe", "-np", str(ranks), BINARY, "train", CONFIG,
             "--set", f"train.epochs={EPOCHS}", "--set", f"checkpoint.dir={work}/ck", "--set", "checkpoint.every=40",
             "--set", f"log.dir={work}/run", "--set", f"log.metrics={work}/metrics.jsonl", "--set", "log.every=10", "--set", "comm.timeout_seconds=5"]
            + list(extra))


def run(args, timeout=300):
    return subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=timeout)


def orphans(work):
    return len(subprocess.run(["pgrep", "-f", f"[r]ingtrain train .*{work}/ck"], capture_output=True, text=True)
               .stdout.split())


def fingerprint(text):
    found = re.findall(r"parameter fingerprint ([0-9a-f]{16})", text)
    return found[-1] if found else None


def epoch_losses(path):
    rows = [r for r in (json.loads(line) for line in open(path)) if r.get("kind", "epoch") == "epoch"] if os.path.exists(path) else []
    return {row["epoch"]: (row["train_loss"], row["test_loss"]) for row in rows}


def verifies(checkpoint):
    """Checks a checkpoint directory against its manifest independently of ringtrain's own code."""
    try:
        manifest = json.load(open(os.path.join(checkpoint, "manifest.json")))
        for entry in manifest["files"]:
            data = open(os.path.join(checkpoint, entry["name"]), "rb").read()
            if len(data) != entry["bytes"] or zlib.crc32(data) != entry["crc32"]:
                return False
        return True
    except (OSError, ValueError, KeyError):
        return False


def rank_pids(work):
    out = subprocess.run(["pgrep", "-f", f"^{BINARY} train .*{work}/ck"], capture_output=True, text=True).stdout
    return sorted(int(pid) for pid in out.split())


def last_logged_step(metrics_path):
    """The newest step of the job's train rows (one every 10 steps)."""
    steps = [0]
    try:
        for line in open(metrics_path):
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line torn by the fault
            if row.get("kind") == "train":
                steps.append(row["step"])
    except OSError:
        pass
    return max(steps)


def inject(name, ranks, fault, delay, reference, repeat):
    """Starts a job, injects `fault` after `delay` seconds, resumes it, and measures."""
    work = tempfile.mkdtemp(prefix=f"ringtrain-fault-{name}-{repeat}-")
    job = subprocess.Popen(command(ranks, work), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    time.sleep(delay)
    pids = rank_pids(work)
    fault_time = time.monotonic()
    fault(job, pids)
    try:
        output, _ = job.communicate(timeout=120)
        ended = time.monotonic() - fault_time
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        output, ended = job.communicate()[0], float("inf")
    time.sleep(0.5)
    left = orphans(work)
    for pid in rank_pids(work):
        os.kill(pid, signal.SIGKILL)
    first_metrics = epoch_losses(f"{work}/metrics.jsonl")
    logged_step = last_logged_step(f"{work}/metrics.jsonl")
    good = {os.path.join(work, "ck", d) for d in os.listdir(os.path.join(work, "ck")) if verifies(os.path.join(work, "ck", d))} \
        if os.path.isdir(os.path.join(work, "ck")) else set()
    resumed = run(command(ranks, work, ["--resume", "auto"]))
    text = resumed.stdout + resumed.stderr
    match = re.search(r"resumed from (\S+): step (\d+)", text)
    resumed_step = int(match.group(2)) if match else 0
    broken_loaded = int(bool(match) and match.group(1) not in good)
    skipped = len(re.findall(r"skipping checkpoint", text))
    losses = {**first_metrics, **epoch_losses(f"{work}/metrics.jsonl")}
    worst = max((abs(a - b) for epoch, pair in losses.items() for a, b in zip(pair, reference["losses"][epoch])),
                default=float("inf"))
    same_parameters = fingerprint(text) == reference["fingerprint"]
    shutil.rmtree(work, ignore_errors=True)
    return dict(ended=ended, orphans=left, skipped=skipped, broken_loaded=broken_loaded, completed=resumed.returncode == 0,
                lost=max(0, logged_step - resumed_step), loss_diff=worst, same=same_parameters,
                named=("did not arrive" in output) or ("gave no sign of life" in output) or ("exited on signal" in output) or ("exiting with code 143" in output))


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    if not os.path.isdir(os.path.join(DATA, "train")):
        subprocess.run([BINARY, "shard", "--idx-dir", "/usr/share/datasets/fashion-mnist", "--output", DATA], check=True)
    references = {}  # uninterrupted runs, one per rank count
    for ranks in (2, 4):
        work = tempfile.mkdtemp(prefix="ringtrain-reference-")
        reference_run = run(command(ranks, work))
        references[ranks] = dict(fingerprint=fingerprint(reference_run.stdout),
                                 losses=epoch_losses(f"{work}/metrics.jsonl"))
        shutil.rmtree(work, ignore_errors=True)
        assert references[ranks]["fingerprint"], reference_run.stdout + reference_run.stderr

    def sigterm(job, pids):
        os.kill(job.pid, signal.SIGTERM)

    def sigkill_all(job, pids):
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

    def sigkill_one(job, pids):
        os.kill(pids[-1], signal.SIGKILL)

    def sigstop_one(job, pids):
        os.kill(pids[-1], signal.SIGSTOP)

    faults = [
        ("SIGTERM to mpirun (preemption)", 2, sigterm),
        ("SIGKILL of every rank (VM lost)", 2, sigkill_all),
        ("SIGKILL of one rank (crash)", 2, sigkill_one),
        ("SIGSTOP of one rank of 4 (hang)", 4, sigstop_one),
    ]
    rows = []
    for name, ranks, fault in faults:
        results = [inject(name.split()[0].lower(), ranks, fault, 1.5 + 0.7 * r, references[ranks], r)
                   for r in range(repeats)]
        rows.append((name, ranks, results))
        print(name, results, flush=True)

    lines = ["# Reliability under injected faults", "",
             "Produced by `python3 benchmarks/reliability/run.py " + str(repeats) + "` on " + time.strftime("%Y-%m-%d") +
             f": Fashion-MNIST MLP, {EPOCHS} epochs, global batch 128, a checkpoint every 40 steps,",
             "`comm.timeout_seconds = 5`; each fault injected at a different moment of the run (1.5 s, 2.2 s, ... after",
             "the start), then the job resumed with `--resume auto` and compared with an uninterrupted run of the same",
             "configuration and rank count. Machine: the project's 2-core build VM.", "",
             "| fault | ranks | times | s from fault to job end (max) | processes left | checkpoints skipped as broken | broken checkpoints loaded | steps lost (max) | largest loss difference, resumed vs uninterrupted | final parameters bitwise equal | fault named in the log |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, ranks, results in rows:
        equal = sum(r["same"] for r in results)
        lines.append(f"| {name} | {ranks} | {len(results)} | {max(r['ended'] for r in results):.1f} | "
                     f"{sum(r['orphans'] for r in results)} | {sum(r['skipped'] for r in results)} | "
                     f"{sum(r['broken_loaded'] for r in results)} | "
                     f"{max(r['lost'] for r in results)} | {max(r['loss_diff'] for r in results):.3g} | "
                     f"{equal} of {len(results)} | {sum(r['named'] for r in results)} of {len(results)} |")
    lines += ["", "Notes:",
              "- Broken checkpoints loaded: before each resume the script verifies every checkpoint itself (sizes and",
              "  CRC-32 against the manifest, in Python) and counts a resume from one that does not verify. ringtrain",
              "  verifies the same way, and the manifest is written last (tests/core/checkpoint_test.cpp cuts and alters",
              "  every file at many points; tests/faults kills ranks while they write a checkpoint every step).",
              "- Steps lost: the newest step of the job's metrics before the fault minus the step it resumed from (a train",
              "  row every 10 steps, so this is a lower bound within 10 steps; a checkpoint every 40 steps bounds it above).",
              "- A resumed run reads the same samples in the same order as the uninterrupted one, so its losses and",
              "  parameters must match bit for bit (0 difference).",
              "- The hang is ended by the watchdogs' heartbeats: the stopped rank gives no sign of life for the timeout",
              "  (5 s), and rank 0 ends the job with one line naming it and its host.",
              ""]
    with open(os.path.join(ROOT, "docs", "reliability.md"), "w") as out:
        out.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
