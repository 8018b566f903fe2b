#!/usr/bin/env bash
# Serving benchmark (run by hand; CI never runs it): `ringtrain serve` against what a data scientist
# deploys today, the same MLP weights in PyTorch behind Flask under gunicorn (flask_peer.py), on the
# same cores, loaded by wrk with one-sample requests on keep-alive connections. Then dynamic
# batching (--max-batch 64 against 1) at 256 connections beside the in-process forward pass
# (serve_forward), and one request's latency on an idle server.
#   benchmarks/serve/run.sh [SECONDS_PER_LOAD]        (scripts/install-deps.sh --bench installs wrk, gunicorn, Flask, PyTorch)
source "$(dirname "$0")/../common.sh"
ensure_fashion_mnist
seconds=${1:-15}
out=bench-out/serve
mkdir -p "$out"
if ! ls -d "$out"/ck/step-* >/dev/null 2>&1; then
  build/ringtrain train examples/fashion_mnist/mlp.toml --set train.epochs=1 --set checkpoint.dir="$out/ck" \
    --set runtime.threads="$(nproc)" >"$out/train.log" 2>&1
fi
checkpoint=$(realpath "$(ls -d "$out"/ck/step-* | tail -1)")
python3 -c "import json; print(json.dumps({'data': json.load(open('examples/fashion_mnist/request.json'))['data'][:1]}))" \
  >"$out/one-sample.json"
export BODY=$PWD/$out/one-sample.json
cores=$(nproc)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

wait_ready() {  # URL: until it answers (bounded)
  for _ in $(seq 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "no answer from $1" >&2
  exit 1
}
# wrk CONNECTIONS URL: prints "requests/s p50_ms p99_ms".
load() {
  wrk -t2 -c"$1" -d"${seconds}s" --latency -s benchmarks/serve/post.lua "$2" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    /Non-2xx|Socket errors/ { print "wrk: " $0 > "/dev/stderr" }
    END { printf "%.1f %.3f %.3f\n", rps, p50, p99 }'
}
serve() {  # PORT MAX_BATCH: a ringtrain server in the background
  build/ringtrain serve "$checkpoint" --host 127.0.0.1 --port "$1" --threads "$cores" --max-batch "$2" \
    >"$out/serve-$1.log" 2>&1 &
  pids+=($!)
  wait_ready "http://127.0.0.1:$1/v2/health/ready"
}

serve 8090 64
read -r ours_rps ours_p50 ours_p99 < <(load 64 http://127.0.0.1:8090/score)
read -r idle_rps idle_p50 idle_p99 < <(wrk -t1 -c1 -d5s --latency -s benchmarks/serve/post.lua \
  http://127.0.0.1:8090/score | awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
  /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 } END { printf "%.1f %.3f %.3f\n", rps, p50, p99 }')
read -r batched_rps batched_p50 batched_p99 < <(load 256 http://127.0.0.1:8090/score)
mean_batch=$(curl -s http://127.0.0.1:8090/metrics | awk '/^ringtrain_batch_rows_sum/ { s = $2 } /^ringtrain_batch_rows_count/ { c = $2 } END { printf "%.1f", s / c }')
serve 8092 1
read -r single_rps single_p50 single_p99 < <(load 256 http://127.0.0.1:8092/score)
kill "${pids[@]}"; pids=()

env "${torch_cpu_env[@]}" RINGTRAIN_CHECKPOINT="$checkpoint" PEER_THREADS=1 /usr/bin/python3 -m gunicorn -w "$cores" \
  -b 127.0.0.1:8091 --chdir benchmarks/serve flask_peer:app >"$out/peer.log" 2>&1 &
pids+=($!)
wait_ready http://127.0.0.1:8091/
# The peer answers the request as ringtrain does (the same weights, the same classes).
ours_answer=$(curl -s http://127.0.0.1:8091/score -H 'Content-Type: application/json' -d @"$BODY" | python3 -c "import json,sys; print(json.load(sys.stdin)['predictions'])")
read -r peer_rps peer_p50 peer_p99 < <(load 64 http://127.0.0.1:8091/score)
kill "${pids[@]}"; pids=()

read -r forward < <(build/benchmarks/serve_forward "$checkpoint" 64 "$cores" | awk '{ print $NF }')

echo "MLP 784-$(python3 -c "import json; d=json.loads(json.load(open('$checkpoint/state.json'))['model']); print('-'.join(map(str, d['mlp']['hidden'])))")-10, $cores cores, wrk $seconds s a load; peer predicts $ours_answer"
printf "%-52s %12s %10s %10s\n" "load" "requests/s" "p50 ms" "p99 ms"
printf "%-52s %12s %10s %10s\n" "ringtrain serve, 64 connections (max-batch 64)" "$ours_rps" "$ours_p50" "$ours_p99"
printf "%-52s %12s %10s %10s\n" "Flask + gunicorn ($cores workers) + PyTorch, 64 conns" "$peer_rps" "$peer_p50" "$peer_p99"
printf "%-52s %12s %10s %10s\n" "ringtrain serve, 256 connections, max-batch 64" "$batched_rps" "$batched_p50" "$batched_p99"
printf "%-52s %12s %10s %10s\n" "ringtrain serve, 256 connections, max-batch 1" "$single_rps" "$single_p50" "$single_p99"
printf "%-52s %12s %10s %10s\n" "ringtrain serve, 1 connection (idle server)" "$idle_rps" "$idle_p50" "$idle_p99"
echo "mean rows per forward pass at 256 connections: $mean_batch; in-process forward at batch 64: $forward rows/s"
awk -v o="$ours_rps" -v p="$peer_rps" 'BEGIN { printf "RESULT serve_mlp_requests_per_s_64_clients: ours %s req/s, flask_gunicorn_torch %s req/s, ratio %.2f\n", o, p, o / p }'
awk -v o="$ours_p99" -v p="$peer_p99" 'BEGIN { printf "RESULT serve_mlp_p99_64_clients: ours %s ms, flask_gunicorn_torch %s ms, ratio %.2f\n", o, p, p / o }'
awk -v o="$batched_rps" -v p="$single_rps" 'BEGIN { printf "RESULT serve_dynamic_batching_256_clients: ours %s req/s, max_batch_1 %s req/s, ratio %.2f\n", o, p, o / p }'
awk -v o="$batched_rps" -v p="$forward" 'BEGIN { printf "RESULT serve_rows_vs_forward_ceiling: ours %s rows/s, in_process_forward %s rows/s, ratio %.2f\n", o, p, o / p }'
