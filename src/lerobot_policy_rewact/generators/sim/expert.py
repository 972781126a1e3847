"""A scripted expert for the ALOHA cube transfer, and the perturbations that make it fail.

The expert moves each gripper's mocap target through waypoints (time step, grasp point, gripper
orientation, gripper opening) in the end-effector scene: the right arm approaches the cube from
above, descends, closes, lifts it to a meeting point; the left arm waits beside the meeting point,
and once the cube has arrived it moves its open fingers around the cube's actual position, closes,
the right gripper releases and both arms part. The left hand is aimed at the cube as it is in the
scene being recorded (privileged state, as scripted demonstrators have). The joint angles the arms went through become the
demonstration, replayed later in the joint scene.

A perturbation changes the script at one moment so that some attempts fail, each at its own stage:
    missed_grasp     the right grasp point is off by a few cm: the cube is not picked up
    dropped_cube     the right gripper opens while carrying the cube
    missed_handover  the left grasp point is off by a few cm: the left hand does not get the cube
    early_release    the right gripper lets go before the left hand has closed

The self-resetting task ("transfer_and_return") goes on after the hand-over: the right hand takes the
cube back from the left (the hand-over played in reverse), puts it down where it started, and both arms
go home, so the last frame looks like the first. Two more ways to fail, on the way back:
    dropped_on_return  the right gripper opens while carrying the cube back
    misplaced          the cube is put down a few cm from where it started
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from gym_aloha.constants import START_ARM_POSE
from scipy.spatial.transform import Rotation

from . import aloha

PERTURBATIONS = ("missed_grasp", "dropped_cube", "missed_handover", "early_release")
RETURN_PERTURBATIONS = (*PERTURBATIONS, "dropped_on_return", "misplaced")
TASKS = ("transfer", "transfer_and_return")

MEET = np.array([0.0, 0.5, 0.25])  # where the right hand brings the cube for the hand-over
OPEN, CLOSED = 1.0, 0.0
HOME_GRIP = 0.1  # the grippers' (normalised) opening at the start pose, where the way back ends
# The left hand takes the cube level, fingers closing sideways, this far past the cube's centre and
# this far below it (below the right fingers). Measured in the joint scene: every one of 40 seeds
# succeeded for drops from 3.5 to 4.5 cm, fewer than half at 2.5 cm or less.
GRASP_DEPTH = 0.01
HANDOVER_DROP = -0.04


def _quat(axis: list[float], degrees: float) -> np.ndarray:
    """Rotation about a world axis as a MuJoCo (w, x, y, z) quaternion."""
    x, y, z, w = Rotation.from_rotvec(np.deg2rad(degrees) * np.asarray(axis, dtype=float)).as_quat()
    return np.array([w, x, y, z])


START_JOINTS = np.array(
    [*START_ARM_POSE[:6], HOME_GRIP, *START_ARM_POSE[8:14], HOME_GRIP]
)  # the joint command
UPRIGHT = np.array([1.0, 0.0, 0.0, 0.0])  # the start orientation of both grippers
RIGHT_DOWN = _quat([0, 1, 0], -60)  # right gripper tilted to reach down onto the cube


@dataclass
class Waypoint:
    t: int
    pos: np.ndarray
    quat: np.ndarray
    grip: float


@dataclass
class Plan:
    """Waypoints of both arms; the left's hand-over part is filled in when the cube has arrived."""

    left: list[Waypoint]
    right: list[Waypoint]
    perturbation: str | None = None
    critical_step: int | None = None  # the step where the perturbation acts
    notes: dict = field(default_factory=dict)
    task: str = "transfer"
    grasp: np.ndarray | None = None  # where the right hand picks the cube up
    place: np.ndarray | None = None  # where it puts it down (the way back)

    @property
    def steps(self) -> int:
        return episode_steps(self.task)


def episode_steps(task: str) -> int:
    """Frames of one episode: 8 s for the transfer, 13 s with the way back."""
    return aloha.EPISODE_STEPS if task == "transfer" else RETURN_EPISODE_STEPS


RETURN_EPISODE_STEPS = 650
TAKE_BACK = 400  # the step where the right hand starts to take the cube back
AIM = 480  # the step where it holds the cube alone and aims where to put it down
HOME = (585, 625)  # both arms' joints blend into the start pose (the mocap targets' pose differs)


def _at(path: list[Waypoint], t: int) -> np.ndarray:
    """Mocap command (pos 3, quat 4, gripper 1) at step t, linear between waypoints."""
    for a, b in zip(path, path[1:], strict=False):
        if a.t <= t <= b.t:
            s = (t - a.t) / (b.t - a.t)
            quat = a.quat + (b.quat - a.quat) * s
            return np.concatenate(
                [a.pos + (b.pos - a.pos) * s, quat / np.linalg.norm(quat), [a.grip + (b.grip - a.grip) * s]]
            )
    last = path[-1]
    return np.concatenate([last.pos, last.quat, [last.grip]])


def _offset(rng: np.random.Generator) -> np.ndarray:
    """A horizontal miss of 6-8 cm along x or y."""
    offset = np.zeros(3)
    offset[rng.integers(0, 2)] = rng.choice([-1, 1]) * rng.uniform(0.06, 0.08)
    return offset


def plan(
    cube: np.ndarray, perturbation: str | None, rng: np.random.Generator, task: str = "transfer"
) -> Plan:
    """The right arm's script up to the hand-over and the left arm's waiting part, perturbed if asked."""
    cube = np.array([cube[0], cube[1], aloha.CUBE_REST_Z])
    grasp = cube + [0.0, 0.0, -0.015]
    p = Plan(left=[], right=[], perturbation=perturbation, task=task, grasp=grasp)
    if perturbation == "missed_grasp":
        offset = _offset(rng)
        grasp = grasp + offset
        p.critical_step, p.notes["grasp_offset_m"] = 170, offset.round(3).tolist()
    release = 320
    if perturbation == "early_release":
        release = int(rng.integers(225, 255))
        p.critical_step = release
    p.right = [
        Waypoint(0, aloha.RIGHT_START, UPRIGHT, OPEN),
        Waypoint(90, grasp + [0, 0, 0.095], RIGHT_DOWN, OPEN),
        Waypoint(130, grasp, RIGHT_DOWN, OPEN),
        Waypoint(160, grasp, RIGHT_DOWN, CLOSED),
        Waypoint(170, grasp, RIGHT_DOWN, CLOSED),
        Waypoint(200, MEET + [0.05, 0, 0], RIGHT_DOWN, CLOSED),
        Waypoint(220, MEET, RIGHT_DOWN, CLOSED),
        Waypoint(release, MEET, RIGHT_DOWN, CLOSED),
        Waypoint(release + 10, MEET, RIGHT_DOWN, OPEN),
        Waypoint(release + 50, MEET + [0.1, 0, 0], RIGHT_DOWN, OPEN),
        Waypoint(p.steps, MEET + [0.1, 0, 0], RIGHT_DOWN, OPEN),
    ]
    if perturbation == "dropped_cube":
        drop = int(rng.integers(180, 215))
        p.critical_step = drop
        p.right = [w for w in p.right if w.t < drop] + [
            Waypoint(drop, _at(p.right, drop)[:3], RIGHT_DOWN, CLOSED)
        ]
        away = p.right[-1].pos + [0.08, 0, 0.1]  # open and pull the hand up and away
        p.right += [
            Waypoint(drop + 5, p.right[-1].pos, RIGHT_DOWN, OPEN),
            Waypoint(drop + 40, away, RIGHT_DOWN, OPEN),
            Waypoint(p.steps, away, RIGHT_DOWN, OPEN),
        ]
    p.left = [
        Waypoint(0, aloha.LEFT_START, UPRIGHT, OPEN),
        Waypoint(90, MEET + [-0.1, 0, HANDOVER_DROP], UPRIGHT, OPEN),
        Waypoint(220, MEET + [-0.1, 0, HANDOVER_DROP], UPRIGHT, OPEN),
    ]
    return p


def add_handover(p: Plan, cube_now: np.ndarray, rng: np.random.Generator) -> None:
    """Fill in the left arm's hand-over around where the cube actually is (at step 220).

    Only a cube that arrived near the meeting point is followed; the left hand does not chase a
    cube that fell (it reaches for where the cube should have been).
    """
    held = np.linalg.norm(cube_now - MEET) < 0.06
    target = (cube_now if held else MEET) + [GRASP_DEPTH, 0.0, HANDOVER_DROP]
    if p.perturbation == "missed_handover":
        offset = np.zeros(3)
        if rng.random() < 0.5:  # too high: the fingers close above the cube
            offset[2] = rng.uniform(0.035, 0.05)
        else:  # beside it
            offset[1] = rng.choice([-1, 1]) * rng.uniform(0.05, 0.07)
        target = target + offset
        p.critical_step, p.notes["handover_offset_m"] = 285, offset.round(3).tolist()
    p.left += [Waypoint(260, target, UPRIGHT, OPEN), Waypoint(285, target, UPRIGHT, CLOSED)]
    if p.task == "transfer":
        p.left += [
            Waypoint(330, target, UPRIGHT, CLOSED),
            Waypoint(370, target + [-0.1, 0, 0], UPRIGHT, CLOSED),
            Waypoint(p.steps, target + [-0.1, 0, 0], UPRIGHT, CLOSED),
        ]
    else:  # hold the cube at the meeting point until the right hand has taken it back, then go home
        p.left += [
            Waypoint(455, target, UPRIGHT, CLOSED),
            Waypoint(465, target, UPRIGHT, OPEN),
            Waypoint(495, target + [-0.1, 0, 0], UPRIGHT, OPEN),
            Waypoint(545, aloha.LEFT_START, UPRIGHT, HOME_GRIP),
            Waypoint(p.steps, aloha.LEFT_START, UPRIGHT, HOME_GRIP),
        ]


def add_return(p: Plan, cube_now: np.ndarray, rng: np.random.Generator) -> None:
    """The right hand's way back (from step TAKE_BACK): take the cube from the left hand where it is,
    carry it back the way it came, put it down where it was picked up, and go home.

    Only a cube held near the meeting point is followed; otherwise the hand closes where the cube
    should have been.
    """
    held = np.linalg.norm(cube_now - MEET) < 0.06
    take = (cube_now if held else MEET) + [0.0, 0.0, -0.015]
    place = p.place = p.grasp.copy()
    if p.perturbation == "misplaced":
        offset = _offset(rng)
        place = p.place = place + offset
        p.critical_step, p.notes["place_offset_m"] = 550, offset.round(3).tolist()
    p.right = [w for w in p.right if w.t <= TAKE_BACK]
    if p.right[-1].t < TAKE_BACK:
        p.right.append(Waypoint(TAKE_BACK, _at(p.right, TAKE_BACK)[:3], RIGHT_DOWN, OPEN))
    way_back = [
        Waypoint(430, take, RIGHT_DOWN, OPEN),
        Waypoint(445, take, RIGHT_DOWN, CLOSED),
        Waypoint(470, take, RIGHT_DOWN, CLOSED),
        Waypoint(495, take + [0.05, 0, 0.0], RIGHT_DOWN, CLOSED),
        Waypoint(535, place + [0, 0, 0.03], RIGHT_DOWN, CLOSED),
        Waypoint(550, place, RIGHT_DOWN, CLOSED),
        Waypoint(560, place, RIGHT_DOWN, OPEN),
        Waypoint(580, place + [0, 0, 0.095], RIGHT_DOWN, OPEN),
        Waypoint(620, aloha.RIGHT_START, UPRIGHT, HOME_GRIP),
        Waypoint(p.steps, aloha.RIGHT_START, UPRIGHT, HOME_GRIP),
    ]
    if p.perturbation == "dropped_on_return":
        drop = int(rng.integers(495, 510))  # early in the carry: the cube falls well away from its start
        p.critical_step = drop
        at = _at(way_back, drop)[:3]
        way_back = [w for w in way_back if w.t < drop]
        way_back += [
            Waypoint(drop, at, RIGHT_DOWN, CLOSED),
            Waypoint(drop + 5, at, RIGHT_DOWN, OPEN),
            Waypoint(drop + 40, at + [0.0, 0, 0.1], RIGHT_DOWN, OPEN),
            Waypoint(drop + 80, aloha.RIGHT_START, UPRIGHT, HOME_GRIP),
            Waypoint(p.steps, aloha.RIGHT_START, UPRIGHT, HOME_GRIP),
        ]
    p.right += way_back


def aim_place(p: Plan, cube_now: np.ndarray, start: np.ndarray) -> None:
    """Once the right hand holds the cube (step AIM), shift where it puts it down by how the cube sits
    in the hand, so that the cube lands where it started (plus a misplacement's offset)."""
    hand = _at(p.right, AIM)[:3]
    held = cube_now - hand  # the cube's position relative to the hand target
    if np.linalg.norm(held) > 0.05:  # not in the hand: nothing to aim
        return
    rest = np.array([start[0], start[1], aloha.CUBE_REST_Z])
    aim = rest - held + (p.place - p.grasp)  # keeps a misplacement's offset
    aim[2] = max(aim[2], p.grasp[2])  # never press into the table: a cube held high drops the rest
    shift = aim - p.place
    for w in p.right:
        if w.t > AIM and np.allclose(w.pos[:2], p.place[:2]):
            w.pos = w.pos + shift
    p.place = aim


class Expert:
    """Drives one episode: mocap waypoints in, joint commands out.

    The end-effector scene serves only as the arms' inverse kinematics: its cube is moved out of
    reach, so nothing there pushes back. The task itself happens in the joint scene, whose cube the
    expert watches (to aim the hand-over), as a scripted demonstrator with privileged state would.
    """

    def __init__(
        self,
        seed: int,
        perturbation: str | None = None,
        rng: np.random.Generator | None = None,
        task: str = "transfer",
    ):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
        allowed = PERTURBATIONS if task == "transfer" else RETURN_PERTURBATIONS
        if perturbation is not None and perturbation not in allowed:
            raise ValueError(
                f"unknown perturbation {perturbation!r} for task {task!r}; choose from {allowed}"
            )
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.ik = aloha.end_effector_env(seed)
        self.ik.task.cube = np.array([0.0, 2.0, 0.02, 1, 0, 0, 0])  # far off the table: out of the way
        self.ik.reset()
        self.start_cube = aloha.cube_pose(seed)[:3]
        self.plan = plan(self.start_cube, perturbation, self.rng, task)

    def command(self, t: int, cube_now: np.ndarray) -> np.ndarray:
        """The 14-dim joint command for step t (6 joints + gripper opening, left then right)."""
        if t == 220:
            add_handover(self.plan, cube_now, self.rng)
        if t == TAKE_BACK and self.plan.task == "transfer_and_return":
            add_return(self.plan, cube_now, self.rng)
        if (
            t == AIM
            and self.plan.task == "transfer_and_return"
            and self.plan.perturbation != "dropped_on_return"
        ):
            aim_place(self.plan, cube_now, self.start_cube)
        left, right = _at(self.plan.left, t), _at(self.plan.right, t)
        self.ik.step(np.concatenate([left, right]))
        q = self.ik.physics.data.qpos
        command = np.concatenate([q[:6], [left[7]], q[8:14], [right[7]]])
        if self.plan.task == "transfer_and_return" and t > HOME[0]:
            s = min(1.0, (t - HOME[0]) / (HOME[1] - HOME[0]))
            command = (1 - s) * command + s * START_JOINTS
        return command
