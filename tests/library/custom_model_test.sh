#!/usr/bin/env bash
# ringtrain as a library, as an outside project uses it: install the build to a prefix, build
# examples/custom_model against the installed package alone, check its layer's gradient, train
# its model on Fashion-MNIST under mpirun -np 2, then evaluate the checkpoint with the example's
# program (which knows the model) and with ringtrain's (which must refuse it, naming the kind).
# Usage: custom_model_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$1
build_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "custom_model_test: $*" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

"$build_dir/ringtrain" shard --idx-dir /usr/share/datasets/fashion-mnist --output "$work/data" \
  --train-shards 4 --test-shards 1 >/dev/null
export RINGTRAIN_BUILD=$build_dir RINGTRAIN_PREFIX=$work/prefix CUSTOM_MODEL_BUILD=$work/build RINGTRAIN_DATA=$work/data
timeout 400 "$source_dir/examples/custom_model/run.sh" 2 --set train.epochs=2 --set log.dir="$work/run" \
  --set checkpoint.dir="$work/run/checkpoints" >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "run.sh failed"; }

# Built from the installed headers and libraries only: nothing of the source tree or the build.
grep -q "backward matches central differences" "$work/train.log" || fail "the gradient test did not pass"
if grep -E -q -- "-I *$source_dir|-I *$build_dir|$source_dir/(core|comm|data|kernels)/" "$work/build/build.ninja" \
     "$work/build/Makefile" 2>/dev/null; then
  fail "the example was built with the source tree or the build on its include path"
fi
grep -q -- "-> swish256 ->" "$work/train.log" || fail "the model was not swish_mlp: $(grep model "$work/train.log")"
done_line=$(grep "done: test accuracy" "$work/train.log") || { cat "$work/train.log"; fail "training did not finish"; }
accuracy=$(sed -E 's/.*test accuracy ([0-9.]+)%.*/\1/' <<<"$done_line")
awk -v a="$accuracy" 'BEGIN { exit !(a > 80) }' || fail "swish_mlp reached only $accuracy% after 2 epochs"
grep -q "identical on all 2 ranks" <<<"$done_line" || fail "the ranks ended apart: $done_line"

checkpoint=$(ls -d "$work/run/checkpoints"/step-* | tail -1)
"$work/build/custom_model" evaluate "$checkpoint" --data "$work/data/test" --json >"$work/evaluate.json" 2>"$work/evaluate.err" ||
  { cat "$work/evaluate.err"; fail "custom_model evaluate failed"; }
python3 -c "
import json, sys
accuracy = json.load(open(sys.argv[1]))['accuracy']
sys.exit(0 if abs(accuracy * 100 - float(sys.argv[2])) < 0.01 else 'evaluate says %s, training %s%%' % (accuracy, sys.argv[2]))
" "$work/evaluate.json" "$accuracy"
if "$build_dir/ringtrain" evaluate "$checkpoint" --data "$work/data/test" >"$work/stock.log" 2>&1; then
  fail "ringtrain evaluated a model it does not know"
fi
grep -q "kind 'swish_mlp', which this program does not register" "$work/stock.log" || { cat "$work/stock.log"; fail "unclear refusal"; }

# A key the model does not read is named.
if "$work/build/custom_model" train "$source_dir/examples/custom_model/swish.toml" --set model.hiden=[3] \
     --set log.dir= >"$work/typo.log" 2>&1; then
  fail "a misspelt model key was accepted"
fi
grep -q "model.hiden is not a known key" "$work/typo.log" || { cat "$work/typo.log"; fail "the misspelt key was not named"; }
echo "custom_model_test: built against the installed package, trained to $accuracy% on 2 ranks"
