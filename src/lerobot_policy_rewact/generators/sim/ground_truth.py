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

The result is stored beside the dataset in the format of `policy/ground_truth_file.py`.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from ...policy.ground_truth_file import EpisodeTruth

SMOOTHING_FRAMES = 9
STAGE_NAMES = {
    0: "start",
    1: "right gripper touches cube",
    2: "cube lifted",
    3: "left gripper touches cube",
    4: "cube transferred",
}


def derive(
    raw_stage: np.ndarray, seed: int, perturbation: str | None, critical_step: int | None
) -> EpisodeTruth:
    """Ground truth of one episode from the simulator's raw per-frame stage."""
    raw = np.asarray(raw_stage, dtype=np.int64)
    n = len(raw)
    stage = median_filter(raw, size=SMOOTHING_FRAMES, mode="nearest")
    reached = np.maximum.accumulate(stage)
    onsets = {k: int(np.argmax(reached >= k)) for k in range(1, 5) if reached[-1] >= k}
    success = bool(stage[-1] == 4)

    completion = failure = None
    if success:
        not_four = np.flatnonzero(stage != 4)
        completion = int(not_four[-1] + 1) if len(not_four) else 0
        onsets[4] = min(onsets.get(4, completion), completion)
    else:
        top = int(reached[-1])
        if top >= 2:
            failure = int(np.flatnonzero(stage == top)[-1] + 1)
        else:
            failure = int(critical_step) if critical_step is not None else n // 2
        failure = min(max(failure, 1), n - 1)

    knots_t = [0] + [onsets[k] for k in sorted(onsets)]
    knots_v = [0.0] + [k / 4 for k in sorted(onsets)]
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
