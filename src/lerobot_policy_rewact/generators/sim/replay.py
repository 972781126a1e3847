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


def record_episode(
    seed: int, perturbation: str | None, image_hw: tuple[int, int], rng: np.random.Generator | None = None
) -> Recording:
    """Run the expert in the joint scene for a whole episode, rendering only the top camera."""
    expert = Expert(seed, perturbation, rng)
    env = aloha.joint_env(seed)
    state = env.reset().observation["qpos"]
    render = aloha.Renderer(env.physics, *image_hw)
    images, states, actions, stages = [], [], [], []
    for t in range(aloha.EPISODE_STEPS):
        images.append(render())
        states.append(state)
        action = expert.command(t, aloha.cube_position(env.physics))
        step = env.step(action)
        state = step.observation["qpos"]
        actions.append(action)
        stages.append(step.reward)
    return Recording(
        images=np.stack(images),
        states=np.array(states, dtype=np.float32),
        actions=np.array(actions, dtype=np.float32),
        stages=np.array(stages, dtype=np.int64),
        plan=expert.plan,
    )
