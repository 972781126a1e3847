"""Record one expert episode in the joint scene, as a robot would log it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import aloha
from .expert import Expert, Plan


@dataclass
class Recording:
    """One episode as recorded in the joint scene."""

    images: np.ndarray  # (T, H, W, 3) uint8, the top camera before each action
    states: np.ndarray  # (T, 14) joint positions (grippers normalised) before each action
    actions: np.ndarray  # (T, 14) joint commands
    stages: np.ndarray  # (T,) env stage after each action (0-4, flickers)
    plan: Plan
    contacts: np.ndarray  # (T, 3) bool after each action: cube touches left fingers, right fingers, table
    cube: np.ndarray  # (T, 3) cube position after each action
    start_cube: np.ndarray  # (3,) where the cube started


def record_episode(
    seed: int,
    perturbation: str | None,
    image_hw: tuple[int, int],
    rng: np.random.Generator | None = None,
    task: str = "transfer",
) -> Recording:
    """Run the expert in the joint scene for a whole episode, rendering only the top camera."""
    expert = Expert(seed, perturbation, rng, task)
    env = aloha.joint_env(seed)
    state = env.reset().observation["qpos"]
    start_cube = aloha.cube_position(env.physics)
    render = aloha.Renderer(env.physics, *image_hw)
    images, states, actions, stages, contacts, cube = [], [], [], [], [], []
    for t in range(expert.plan.steps):
        images.append(render())
        states.append(state)
        action = expert.command(t, aloha.cube_position(env.physics))
        step = env.step(action)
        state = step.observation["qpos"]
        actions.append(action)
        stages.append(step.reward)
        contacts.append(aloha.contacts(env.physics))
        cube.append(aloha.cube_position(env.physics))
    return Recording(
        images=np.stack(images),
        states=np.array(states, dtype=np.float32),
        actions=np.array(actions, dtype=np.float32),
        stages=np.array(stages, dtype=np.int64),
        plan=expert.plan,
        contacts=np.array(contacts, dtype=bool),
        cube=np.array(cube),
        start_cube=start_cube,
    )
