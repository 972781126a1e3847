"""A command's console kept to what a user reads: one progress bar per stage and the warnings that matter,
not the libraries' chatter (FFmpeg's encoder statistics once per video, the datasets library's `Map:` bars
once per episode, LeRobot's configuration dump). `--verbose` shows everything."""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import logging
import os
import re
import subprocess
from collections import deque
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)
AV_LOG_ERROR = 16
STEP = re.compile(r"\bstep:(\d+(?:\.\d+)?)([KMB]?)")
LOSS = re.compile(r"\bloss:([0-9.]+)")
REWARD_LOSS = re.compile(r"reward_loss[:= ]+([0-9.]+)")
BAR = re.compile(r"^Training:.*\|\s*(\d+)/\d+ \[")  # LeRobot's own per-step bar, one line per redraw


def quiet_libraries() -> None:
    """FFmpeg's own log at errors only, no `Map:` bars from the datasets library (here and in any process
    started from here), SVT-AV1's banner off."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("SVT_LOG", "1")
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:
        pass
    _ffmpeg_log_level(AV_LOG_ERROR)


def _ffmpeg_log_level(level: int) -> None:
    """Set libavutil's log level: LeRobot restores FFmpeg's own log callback after encoding, which prints
    every INFO line (libx264's statistics) unless the level says otherwise."""
    try:
        import av
    except ImportError:
        return
    bundled = glob.glob(os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs", "libavutil*"))
    name = bundled[0] if bundled else ctypes.util.find_library("avutil")
    if not name:
        return
    try:
        ctypes.CDLL(name).av_log_set_level(level)
    except OSError:
        log.debug("could not set FFmpeg's log level through %s", name)


def _steps(match: re.Match) -> int:
    number, unit = float(match.group(1)), match.group(2)
    return int(number * {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}[unit])


def run_training(cmd: list[str], log_path: Path, steps: int, desc: str = "training") -> None:
    """Run a training command with its output in `log_path` and one progress bar here (step, loss and
    reward loss from LeRobot's log lines). On failure the log's last lines are printed and the error raised."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=40)
    shown: dict[str, str] = {}
    with open(log_path, "w") as out, tqdm(total=steps, desc=desc, unit="step") as bar:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            tail.append(line)
            step, loss, reward = STEP.search(line), LOSS.search(line), REWARD_LOSS.search(line)
            drawn = BAR.match(line)
            if drawn:
                bar.update(max(0, min(steps, int(drawn.group(1))) - bar.n))
            elif step and not line.lstrip().startswith("rewact"):
                bar.update(max(0, min(steps, _steps(step)) - bar.n))
            if loss or reward:  # LeRobot's line has the loss, RewACT's console line the reward loss
                shown.update({k: m.group(1) for k, m in (("loss", loss), ("reward_loss", reward)) if m})
                bar.set_postfix(shown)
        code = proc.wait()
        if code == 0:
            bar.update(steps - bar.n)
    if code != 0:
        print("".join(tail), end="")
        raise subprocess.CalledProcessError(code, cmd, output=f"the whole log: {log_path}")
