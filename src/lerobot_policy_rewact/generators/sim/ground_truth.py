"""Ground-truth task progress of a simulated episode, derived from the simulator's contact stages.

The simulator reports a contact-based stage after every step: 0 nothing, 1 the right gripper
touches the cube, 2 the cube is lifted, 3 the left gripper touches it, 4 the left gripper holds it
off the table (transferred). It flickers from step to step, so it is smoothed (a running median
over 9 frames, 0.18 s) before anything is derived from it:

- success: the smoothed stage is 4 at the last frame;
- completion frame (successes): the first frame from which the smoothed stage stays 4;
- failure frame (failures): for a cube that had been lifted, the frame after the last one at the
  highest stage reached (the moment it was lost); otherwise the moment the scripted mistake acted;
- stage onsets: first frame at which the running maximum of the smoothed stage reaches 1, 2, 3, 4;
- progress in [0, 1]: 0 at the first frame, k/4 at the onset of stage k, linear in time between
  onsets, held after the last onset reached (1 from completion on); on failed episodes it drops to
  0 at the failure frame and stays there.

The self-resetting task ("transfer_and_return") has three more stages after the transfer, read from
the cube's contacts and position and the arms' joints (`return_stages`): 5 the right gripper holds the
cube again (alone, off the table), 6 the cube is back on the table within 3 cm of where it started,
7 both arms are home and nothing touches the cube. Once the cube has been transferred, a cube put down
anywhere else counts as stage 0 (lost). Progress is then k/7 at the onset of stage k.

The result is stored beside the dataset in the format of `label_formats/ground_truth_file.py`.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from ...label_formats.ground_truth_file import EpisodeTruth

SMOOTHING_FRAMES = 9
STAGE_NAMES = {
    0: "start",
    1: "right gripper touches cube",
    2: "cube lifted",
    3: "left gripper touches cube",
    4: "cube transferred",
}
RETURN_STAGE_NAMES = {
    **STAGE_NAMES,
    5: "right gripper holds cube again",
    6: "cube back where it started",
    7: "arms home",
}
PLACED_WITHIN_M = 0.03  # the cube is back where it started when this close (horizontally)
HOME_WITHIN_RAD = 0.05  # the arms are home when every arm joint is this close to the start pose


def stage_names(task: str) -> dict[int, str]:
    """The stages of a demo task, by number."""
    return STAGE_NAMES if task == "transfer" else RETURN_STAGE_NAMES


def return_stages(
    sim_stage: np.ndarray, contacts: np.ndarray, cube: np.ndarray, states: np.ndarray
) -> np.ndarray:
    """Per-frame stage (0-7) of a transfer-and-return episode from the simulator's signals.

    `sim_stage` is gym-aloha's (0-4), `contacts` (T, 3) the cube touching the left fingers, the
    right fingers, the table; `cube` (T, 3) its position; `states` (T, 14) the joints, whose first
    frame is the start pose (the cube's first position is where it started).
    """
    left, right, table = np.asarray(contacts, dtype=bool).T
    near = np.linalg.norm(cube[:, :2] - cube[0, :2], axis=1) < PLACED_WITHIN_M
    arms = [*range(0, 6), *range(7, 13)]
    home = np.abs(states[:, arms] - states[0, arms]).max(axis=1) < HOME_WITHIN_RAD
    out, reached = np.zeros(len(sim_stage), dtype=np.int64), 0
    for t, sim in enumerate(np.asarray(sim_stage)):
        if reached < 4:
            stage = int(sim)
        elif left[t] and not table[t]:
            stage = 4
        elif right[t] and not table[t]:
            stage = 5
        elif table[t] and near[t] and reached >= 5:
            stage = 7 if home[t] and not (left[t] or right[t]) else 6
        elif table[t]:
            stage = 0  # put down somewhere else: lost
        else:
            stage = int(out[t - 1])  # in the air, untouched: as before
        out[t], reached = stage, max(reached, stage)
    return out


def derive(
    raw_stage: np.ndarray, seed: int, perturbation: str | None, critical_step: int | None, top: int = 4
) -> EpisodeTruth:
    """Ground truth of one episode from its raw per-frame stage; `top` is the task's last stage."""
    raw = np.asarray(raw_stage, dtype=np.int64)
    n = len(raw)
    stage = median_filter(raw, size=SMOOTHING_FRAMES, mode="nearest")
    reached = np.maximum.accumulate(stage)
    onsets = {k: int(np.argmax(reached >= k)) for k in range(1, top + 1) if reached[-1] >= k}
    success = bool(stage[-1] == top)

    completion = failure = None
    if success:
        not_top = np.flatnonzero(stage != top)
        completion = int(not_top[-1] + 1) if len(not_top) else 0
        onsets[top] = min(onsets.get(top, completion), completion)
    else:
        highest = int(reached[-1])
        if highest >= 2:
            failure = int(np.flatnonzero(stage == highest)[-1] + 1)
        else:
            failure = int(critical_step) if critical_step is not None else n // 2
        failure = min(max(failure, 1), n - 1)

    knots_t = [0] + [onsets[k] for k in sorted(onsets)]
    knots_v = [0.0] + [k / top for k in sorted(onsets)]
    keep = np.concatenate([np.diff(knots_t) > 0, [True]])  # stages reached on one frame: keep the highest
    progress = np.interp(np.arange(n), np.array(knots_t)[keep], np.array(knots_v)[keep])
    if success:
        progress[completion:] = 1.0
    if failure is not None:
        progress[failure:] = 0.0
    return EpisodeTruth(
        seed=seed,
        perturbation=perturbation,
        success=success,
        completion_frame=completion,
        failure_frame=failure,
        stage_onsets=onsets,
        stage=stage.astype(int).tolist(),
        progress=np.round(progress, 5).tolist(),
    )
