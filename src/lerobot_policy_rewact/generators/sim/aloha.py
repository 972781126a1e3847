"""MuJoCo scenes of gym-aloha's bimanual cube transfer, set up for fast, seeded, CPU use.

Two scenes of the same task, as in ACT's data pipeline: the end-effector scene (each gripper
follows a mocap target: easy to script) and the joint scene (position-controlled joints: what a
policy acts in). gym-aloha's tasks render three 480x640 cameras every step; these subclasses
render nothing by themselves, and `Renderer` draws only the recorded camera, cheaply.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # CPU rendering through Mesa; set before MuJoCo loads

import numpy as np  # noqa: E402
from dm_control import mujoco  # noqa: E402
from dm_control.rl import control  # noqa: E402
from gym_aloha.constants import ASSETS_DIR, DT  # noqa: E402
from gym_aloha.tasks.sim import TransferCubeTask  # noqa: E402
from gym_aloha.tasks.sim_end_effector import TransferCubeEndEffectorTask  # noqa: E402
from gym_aloha.utils import sample_box_pose  # noqa: E402

FPS = round(1 / DT)  # 50
EPISODE_STEPS = 400
CUBE_REST_Z = 0.02  # the cube's centre once it has settled on the table
# Where each arm's mocap target sits at the start pose (gripper link position at START_ARM_POSE).
LEFT_START = np.array([-0.31718881, 0.5, 0.29525084])
RIGHT_START = np.array([0.31718881, 0.49999888, 0.29525084])


def cube_pose(seed: int) -> np.ndarray:
    """The seeded initial cube pose (x, y, z, quaternion) both scenes start from."""
    return sample_box_pose(seed)


class _SeededEndEffectorTask(TransferCubeEndEffectorTask):
    """gym-aloha's end-effector task with a seeded cube and no cameras rendered."""

    cube: np.ndarray

    def initialize_episode(self, physics):
        self.initialize_robots(physics)
        start = physics.model.name2id("red_box_joint", "joint")
        physics.data.qpos[start : start + 7] = self.cube

    def get_observation(self, physics):
        return {"qpos": self.get_qpos(physics)}


class _SeededJointTask(TransferCubeTask):
    """gym-aloha's joint-space task with the cube pose given per episode and no cameras rendered."""

    cube: np.ndarray

    def initialize_episode(self, physics):
        from gym_aloha.tasks import sim

        sim.BOX_POSE[0] = self.cube  # gym-aloha reads the pose from this module global
        super().initialize_episode(physics)

    def get_observation(self, physics):
        return {"qpos": self.get_qpos(physics)}


def _environment(xml: str, task) -> control.Environment:
    physics = mujoco.Physics.from_xml_path(str(ASSETS_DIR / xml))
    return control.Environment(
        physics, task, time_limit=float("inf"), control_timestep=DT, n_sub_steps=None, flat_observation=False
    )


def end_effector_env(seed: int) -> control.Environment:
    """The mocap-controlled scene, with a stiff mocap weld so grasps hold (default lags ~3 cm)."""
    task = _SeededEndEffectorTask()
    task.cube = cube_pose(seed)
    env = _environment("bimanual_viperx_end_effector_transfer_cube.xml", task)
    env.physics.model.eq_solref[:] = [0.005, 1]
    env.physics.model.eq_solimp[:, :3] = [0.9, 0.95, 0.001]
    return env


def joint_env(seed: int) -> control.Environment:
    """The joint-position-controlled scene a policy acts in."""
    task = _SeededJointTask()
    task.cube = cube_pose(seed)
    return _environment("bimanual_viperx_transfer_cube.xml", task)


def cube_position(physics) -> np.ndarray:
    start = physics.model.name2id("red_box_joint", "joint")
    return physics.data.qpos[start : start + 3].copy()


def contacts(physics) -> tuple[bool, bool, bool]:
    """Whether the cube touches the left fingers, the right fingers, the table (as gym-aloha's reward reads them)."""
    geom = physics.model.id2name
    pairs = {
        (geom(c.geom1, "geom"), geom(c.geom2, "geom")) for c in physics.data.contact[: physics.data.ncon]
    }
    return (
        ("red_box", "vx300s_left/10_left_gripper_finger") in pairs,
        ("red_box", "vx300s_right/10_right_gripper_finger") in pairs,
        ("red_box", "table") in pairs,
    )


class Renderer:
    """Draws one camera of a scene at a small size, without shadows or anti-aliasing (3-10x faster)."""

    def __init__(self, physics, height: int, width: int, camera: str = "top"):
        physics.model.light_castshadow[:] = 0
        physics.model.vis.quality.offsamples = 0
        self.physics, self.height, self.width, self.camera = physics, height, width, camera

    def __call__(self) -> np.ndarray:
        return self.physics.render(height=self.height, width=self.width, camera_id=self.camera)
