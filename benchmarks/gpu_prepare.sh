#!/usr/bin/env bash
# Prepare one call of benchmarks/gpu_step.py on a GPU machine without network (run where PyPI is reachable).
# The device machine has torch, transformers, accelerate and tokenizers but not the rest of r1exp's
# stack, and reaches no network: this puts the missing wheels (about 3 MB, Python 3.12) and, when
# MATH_TRAIN_FILE names one, a MATH training file into .gpu/ (git-ignored), which the call carries.
# docs/benchmarks.md shows the call itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="${PIP:-.venv/bin/pip}"
mkdir -p .gpu/wheels .gpu/data
"$PIP" download --quiet --no-deps --only-binary=:all: --python-version 3.12 -d .gpu/wheels \
  trl==1.16.0 peft==0.21.2 hydra-core==1.3.8 omegaconf==2.3.1 datasets==5.2.0 dill==0.4.1 \
  multiprocess==0.70.19 submitit==1.5.4 hydra-submitit-launcher==1.2.0 math-verify==0.9.0 \
  latex2sympy2_extended==1.11.0
# antlr4-python3-runtime 4.9.3 exists only as an sdist: build its pure-Python wheel here.
"$PIP" wheel --quiet --no-deps -w .gpu/wheels antlr4-python3-runtime==4.9.3
# The 7B case trains on a MATH training file when one is given (never MATH-500: evaluation data);
# without one it trains on Countdown with the same lengths and says so in the table.
if [ -n "${MATH_TRAIN_FILE:-}" ]; then
  cp "$MATH_TRAIN_FILE" .gpu/data/math_train.jsonl
else
  echo "gpu_prepare: MATH_TRAIN_FILE not set; the 7B case will train on Countdown" >&2
fi
du -sh .gpu
