# The two set-up commands of the README:
#   make demo   the main job end to end on the built-in demo data
#   make test   the test suite
# Each creates .venv/ and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint schema bench bench-reward bench-failures bench-closed-loop system-deps clean

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-cache-dir --upgrade pip
	$(PY) -m pip install --quiet --no-cache-dir -e '.[test,sim]'
	@touch $(STAMP)

# Debian libraries: FFmpeg (LeRobot's default video decoder, torchcodec, needs them; without them
# RewACT's own commands fall back to PyAV), Mesa EGL for MuJoCo's CPU rendering, and Chromium with
# its driver for the labelling page's browser tests. Best effort: skipped without root or apt-get.
DEBIAN_PKGS := ffmpeg libegl1 libgl1 libosmesa6 chromium chromium-driver
system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  if ! dpkg -s $(DEBIAN_PKGS) >/dev/null 2>&1; then \
	    echo "installing Debian packages: $(DEBIAN_PKGS)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PKGS) >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PKGS) >/dev/null 2>&1; } || \
	    echo "warning: could not install $(DEBIAN_PKGS); continuing (PyAV decodes videos instead)"; \
	  fi; \
	else echo "note: not root or no apt-get: skipping Debian packages ($(DEBIAN_PKGS))"; fi

demo: $(STAMP)
	$(VENV)/bin/rewact demo

test: $(STAMP)
	$(PY) -m pytest -q

# LeRobot's ruff settings (pyproject.toml); CI runs this too.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts benchmarks
	$(VENV)/bin/ruff format --check src tests scripts benchmarks

# The label file's JSON schema, generated from its pydantic models.
schema: $(STAMP)
	$(PY) -c "from lerobot_policy_rewact.label_formats.label_file import schema_json; print(schema_json(), end='')" \
	  > docs/label-file.schema.json

# Figures, not pass/fail: ratios against LeRobot ACT measured in the same run. JSON in outputs/bench/.
bench: $(STAMP)
	@mkdir -p outputs/bench
	cd benchmarks && ../$(PY) train_step.py --setting cpu --rounds 20 --memory --out ../outputs/bench/train_cpu.json
	cd benchmarks && ../$(PY) train_step.py --setting act-defaults --image 96 --batch 8 --rounds 6 --memory --out ../outputs/bench/train_act_defaults.json
	cd benchmarks && ../$(PY) control_step.py --setting act-defaults --image 96 96 --out ../outputs/bench/control_96.json
	cd benchmarks && ../$(PY) control_step.py --setting act-defaults --image 480 640 --rounds 1 --out ../outputs/bench/control_480x640.json
	test -d data/aloha-transfer-demo || $(VENV)/bin/rewact demo-data --dataset.root=data/aloha-transfer-demo
	cd benchmarks && ../$(PY) data_pipeline.py --dataset-root ../data/aloha-transfer-demo --out ../outputs/bench/data_pipeline.json
	$(PY) benchmarks/inference_speed.py --data data/aloha-transfer-demo

# The reward's yardstick: 3 training seeds per configuration on the 60-episode demo (20 held out), the
# 30-episode self-resetting demo (10 held out) and the real G1 dataset, plus cost ratios (about two and a
# half hours on 2 CPU cores). Compare designs with
# CONFIGS='--config a= --config "b=--policy.reward_loss_weight=0.1"'; a quick subset with
# BENCH_REWARD_ARGS='--tasks demo --seeds 1000 --steps 300'.
CONFIGS ?=
BENCH_REWARD_ARGS ?=
bench-reward: $(STAMP)
	$(PY) benchmarks/reward_bench.py --costs $(CONFIGS) $(BENCH_REWARD_ARGS)

# Policies on their own rollouts in the simulator: success rates (90 % intervals), the detector and the
# reward on the rollouts (benchmarks/closed_loop.py; hours on 2 CPU cores at the default size).
CLOSED_LOOP_ARGS ?=
bench-closed-loop: $(STAMP)
	MUJOCO_GL=egl $(PY) benchmarks/closed_loop.py $(CLOSED_LOOP_ARGS)

# ACT vs RewACT plain / failures masked / RA-BC on the demo data (about an hour on 2 CPU cores).
bench-failures: $(STAMP)
	$(PY) benchmarks/failure_treatments.py --steps 1000 --progress-steps 600 --folds 3

clean:
	rm -rf $(VENV) outputs
