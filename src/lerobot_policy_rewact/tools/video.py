"""An MP4 of an episode with its reward drawn live under the camera image (PyAV + Pillow).

Each video frame shows the camera image, and below it the reward curve up to that moment: the
prediction (blue) and, when known, the label or ground truth (grey), with the current value
written out. Drawing with Pillow keeps it fast enough for long episodes on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

PLOT_HEIGHT = 120
BLUE, GREY, RED = (40, 110, 220), (150, 150, 150), (220, 60, 40)


def to_uint8_image(frame) -> np.ndarray:
    """A dataset camera frame (C, H, W float tensor in [0, 1]) as an (H, W, C) uint8 array."""
    return (frame.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _even(x: int) -> int:
    return x + (x % 2)


def _points(
    values: np.ndarray, upto: int, width: int, top: int, height: int, n: int
) -> list[tuple[float, float]]:
    xs = np.arange(upto + 1) * (width - 1) / max(n - 1, 1)
    ys = top + (1.0 - np.clip(values[: upto + 1], 0, 1)) * (height - 1)
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def write_reward_video(
    path: str | Path,
    images: np.ndarray,
    rewards: np.ndarray,
    fps: float,
    labels: np.ndarray | None = None,
    title: str = "",
    scale: int = 2,
) -> Path:
    """Write `images` (T, H, W, 3 uint8) with the reward curve under them to an H.264 MP4."""
    images = np.asarray(images)
    n, h, w, _ = images.shape
    if len(rewards) != n or (labels is not None and len(labels) != n):
        raise ValueError(
            f"{n} images but {len(rewards)} rewards" + ("" if labels is None else f", {len(labels)} labels")
        )
    width, img_h = _even(w * scale), _even(h * scale)
    height = img_h + PLOT_HEIGHT
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(n):
            canvas = Image.new("RGB", (width, height), (255, 255, 255))
            canvas.paste(Image.fromarray(images[t]).resize((width, img_h), Image.NEAREST), (0, 0))
            draw = ImageDraw.Draw(canvas)
            top, plot_h = img_h + 18, PLOT_HEIGHT - 24
            for level in (0.0, 0.5, 1.0):  # reward axis: grid lines with their values
                y = top + (1 - level) * (plot_h - 1)
                draw.line([(22, y), (width, y)], fill=(230, 230, 230))
                draw.text((1, y - 5), f"{level:.1f}", fill=(120, 120, 120))
            for second in range(0, int(n / fps) + 1, max(1, int(n / fps) // 6 or 1)):  # time axis ticks
                x_tick = second * fps * (width - 1) / max(n - 1, 1)
                draw.line([(x_tick, top + plot_h - 3), (x_tick, top + plot_h)], fill=(120, 120, 120))
                draw.text((x_tick + 2, top + plot_h - 12), f"{second}s", fill=(150, 150, 150))
            if labels is not None and t > 0:
                draw.line(_points(labels, t, width, top, plot_h, n), fill=GREY, width=2)
            if t > 0:
                draw.line(_points(rewards, t, width, top, plot_h, n), fill=BLUE, width=2)
            x = t * (width - 1) / max(n - 1, 1)
            draw.line([(x, top), (x, top + plot_h)], fill=RED)
            text = f"{title}  t={t / fps:5.2f}s  reward={float(rewards[t]):.2f}"
            if labels is not None:
                text += f"  truth={float(labels[t]):.2f}"
            draw.text((4, img_h + 3), text, fill=(0, 0, 0))
            frame = av.VideoFrame.from_ndarray(np.asarray(canvas), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
