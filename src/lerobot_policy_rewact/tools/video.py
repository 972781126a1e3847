"""An MP4 of an episode with its reward drawn live under the camera image (PyAV + Pillow).

Each video frame shows the camera image, and below it the reward curve up to that moment: the
prediction (blue) and, when known, the label or ground truth (grey), with the current values, the
episode's outcome and a legend; once the completion detector fires, a green ("done") or orange
("failing") mark at that frame. Drawing with Pillow keeps it fast enough for long episodes on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

PLOT_HEIGHT = 140
LEFT = 26  # the reward axis' labels sit left of the plot, the time axis' labels under it
BLUE, GREY, RED = (40, 110, 220), (150, 150, 150), (220, 60, 40)
MARKS = {"done": (30, 160, 60), "failing": (240, 140, 20)}


def to_uint8_image(frame) -> np.ndarray:
    """A dataset camera frame (C, H, W float tensor in [0, 1]) as an (H, W, C) uint8 array."""
    return (frame.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _even(x: int) -> int:
    return x + (x % 2)


def _x(t: float, width: int, n: int) -> float:
    """Frame `t`'s position on the plot's time axis (from LEFT to the right edge)."""
    return LEFT + t * (width - 1 - LEFT) / max(n - 1, 1)


def _points(
    values: np.ndarray, upto: int, width: int, top: int, height: int, n: int
) -> list[tuple[float, float]]:
    xs = _x(np.arange(upto + 1), width, n)
    ys = top + (1.0 - np.clip(values[: upto + 1], 0, 1)) * (height - 1)
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def _axes(draw: ImageDraw.ImageDraw, width: int, top: int, plot_h: int, n: int, fps: float) -> None:
    """Reward grid lines labelled on the left; whole-second ticks labelled under the plot."""
    for level in (0.0, 0.5, 1.0):
        y = top + (1 - level) * (plot_h - 1)
        draw.line([(LEFT, y), (width, y)], fill=(230, 230, 230))
        draw.text((1, y - 5), f"{level:.1f}", fill=(120, 120, 120))
    seconds = n / fps
    for second in range(0, int(seconds) + 1, max(1, int(seconds) // 6 or 1)):
        x = _x(second * fps, width, n)
        draw.line([(x, top + plot_h), (x, top + plot_h + 3)], fill=(120, 120, 120))
        draw.text((x - 4, top + plot_h + 4), f"{second}s", fill=(150, 150, 150))


def _legend(draw: ImageDraw.ImageDraw, x: int, y: int, truth: bool, marks: bool) -> None:
    items = [("predicted", BLUE)] + ([("truth / label", GREY)] if truth else [])
    items += [("done", MARKS["done"]), ("failing", MARKS["failing"])] if marks else []
    for name, colour in items:
        draw.line([(x, y + 5), (x + 12, y + 5)], fill=colour, width=3)
        draw.text((x + 15, y), name, fill=(60, 60, 60))
        x += 22 + 6 * len(name)


def write_reward_video(
    path: str | Path,
    images: np.ndarray,
    rewards: np.ndarray,
    fps: float,
    labels: np.ndarray | None = None,
    title: str = "",
    scale: int = 2,
    outcome: str | None = None,
    detector_states: list[str] | None = None,
) -> Path:
    """Write `images` (T, H, W, 3 uint8) with the reward curve under them to an H.264 MP4; `outcome`
    (success / failure) goes in the header, `detector_states` (per frame) mark where the detector fired."""
    images = np.asarray(images)
    n, h, w, _ = images.shape
    if len(rewards) != n or (labels is not None and len(labels) != n):
        raise ValueError(
            f"{n} images but {len(rewards)} rewards" + ("" if labels is None else f", {len(labels)} labels")
        )
    states = detector_states or []
    fired = next(((t, s) for t, s in enumerate(states) if s in MARKS), None)
    width, img_h = _even(max(w * scale, 400)), _even(h * scale)  # room for the header line
    height = img_h + PLOT_HEIGHT
    header = f"{title} ({outcome})" if outcome else title
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(n):
            canvas = Image.new("RGB", (width, height), (255, 255, 255))
            image = Image.fromarray(images[t]).resize((_even(w * scale), img_h), Image.NEAREST)
            canvas.paste(image, ((width - image.width) // 2, 0))
            draw = ImageDraw.Draw(canvas)
            top, plot_h = img_h + 32, PLOT_HEIGHT - 50
            _axes(draw, width, top, plot_h, n, fps)
            if labels is not None and t > 0:
                draw.line(_points(labels, t, width, top, plot_h, n), fill=GREY, width=2)
            if t > 0:
                draw.line(_points(rewards, t, width, top, plot_h, n), fill=BLUE, width=2)
            if fired and t >= fired[0]:
                x_fired = _x(fired[0], width, n)
                draw.line([(x_fired, top), (x_fired, top + plot_h)], fill=MARKS[fired[1]], width=2)
            x = _x(t, width, n)
            draw.line([(x, top), (x, top + plot_h)], fill=RED)
            text = f"{header}  t={t / fps:5.2f}s  reward={float(rewards[t]):.2f}"
            if labels is not None:
                text += f"  truth={float(labels[t]):.2f}"
            if states:
                text += f"  detector: {states[t]}"
            draw.text((4, img_h + 3), text, fill=(0, 0, 0))
            _legend(draw, 4, img_h + 16, labels is not None, bool(states))
            frame = av.VideoFrame.from_ndarray(np.asarray(canvas), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
