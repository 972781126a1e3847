"""`rewact label`: a local web page to label reward keypoints and failures while watching episodes.

Flask serves one page and a small JSON API, on 127.0.0.1 by default, everything from the package
(no CDN: it works offline). The curve the page draws is computed here by the code training uses
(`keyframes.parse` + `keyframes.curve`), and saving runs the `rewact labels check` checker first.
A save never loses a label: it is written to a temporary file and renamed, the previous file is kept
as `<file>.bak`, keys the page does not know are kept, and a file changed on disk since it was
loaded is refused (HTTP 409) rather than overwritten. Unsaved edits are kept on the server as a
draft, so a page reload shows them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import webbrowser
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..files import parse_json, write_atomic
from ..label_formats import keyframes
from ..policy.episodes import EpisodeTable, episode_table
from ..policy.labels import LinearProgress
from .checkpoints import PolicyArgs
from .datasets import DatasetArgs

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "label_page"


@dataclass
class LabelConfig:
    """A local web page to label reward keypoints and failures while watching the episodes."""

    dataset: DatasetArgs = field(default_factory=DatasetArgs)
    # The label file to edit (created on the first save if it does not exist).
    labels: str = "labels.json"
    # An audit.json from `rewact audit`: flagged episodes first, its curves overlaid.
    audit: str | None = None
    # A trained RewACT whose predicted reward is overlaid.
    policy: PolicyArgs = field(default_factory=PolicyArgs)
    # Address to serve on (127.0.0.1: this machine only).
    host: str = "127.0.0.1"
    # Port to serve on (0: any free port).
    port: int = 8765
    # Open the page in the default browser.
    open_browser: bool = True


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


class LabelStore:
    """The label file, its draft and the checks, shared by every request (thread-safe)."""

    def __init__(self, path: Path, table: EpisodeTable, repo_id: str):
        self.path, self.table, self.repo_id = path, table, repo_id
        self.lock = threading.Lock()
        raw = path.read_bytes() if path.is_file() else None
        self.base_sha = _sha(raw)
        self.saved = (
            parse_json(raw, path, keyframes.LabelFileError, "--labels=")
            if raw
            else {"repo_id": repo_id, "episodes": {}}
        )
        if not isinstance(self.saved, dict):
            raise keyframes.LabelFileError(f"--labels={path} holds no JSON object: it is not a label file.")
        self.draft: dict | None = None

    def document(self) -> dict:
        with self.lock:
            return {
                "doc": self.draft if self.draft is not None else self.saved,
                "base_sha": self.base_sha,
                "has_draft": self.draft is not None,
            }

    def set_draft(self, doc: dict) -> None:
        with self.lock:
            self.draft = doc

    def check(self, doc: Any) -> keyframes.CheckReport:
        return keyframes.parse(doc, self.table, self.repo_id)[1]

    def save(self, doc: Any, base_sha: str | None) -> tuple[int, dict]:
        """(HTTP status, body): 200 saved, 409 changed on disk since loaded, 422 the checker's errors."""
        with self.lock:
            report = self.check(doc)
            if not report.ok:
                return 422, {"error": "the labels have errors; nothing was saved", "report": report.text()}
            on_disk = self.path.read_bytes() if self.path.is_file() else None
            if _sha(on_disk) != base_sha:
                return 409, {
                    "error": f"{self.path} changed on disk since it was loaded; nothing was saved. "
                    "Reload the page to see the file's content (your edits stay in the draft)."
                }
            data = (json.dumps(doc, indent=1) + "\n").encode()
            if on_disk is not None:
                self.path.with_name(self.path.name + ".bak").write_bytes(on_disk)
            write_atomic(self.path, lambda tmp: tmp.write_bytes(data))
            self.saved, self.draft, self.base_sha = doc, None, _sha(data)
            return 200, {"saved": str(self.path), "base_sha": self.base_sha, "report": report.text()}


class FrameCache:
    """JPEG bytes of every frame of the last few episodes opened, each episode decoded once."""

    def __init__(self, dataset: DatasetArgs, keep: int = 4):
        self.dataset, self.keep = dataset, keep
        self._episodes: OrderedDict[int, dict[str, list[bytes]]] = OrderedDict()
        self.lock = threading.Lock()

    def frame(self, episode: int, camera: str, index: int) -> bytes | None:
        with self.lock:
            if episode not in self._episodes:
                self._episodes[episode] = self._decode(episode)
                while len(self._episodes) > self.keep:
                    self._episodes.popitem(last=False)
            frames = self._episodes[episode].get(camera)
        return frames[index] if frames is not None and 0 <= index < len(frames) else None

    def _decode(self, episode: int) -> dict[str, list[bytes]]:
        from PIL import Image

        from .inference import episode_frames
        from .video import to_uint8_image

        batch = episode_frames(self.dataset.open(episodes=[episode]))
        out = {}
        for key in self.dataset.meta().camera_keys:
            jpegs = []
            for image in batch[key]:
                buffer = io.BytesIO()
                Image.fromarray(to_uint8_image(image)).save(buffer, format="JPEG", quality=85)
                jpegs.append(buffer.getvalue())
            out[key] = jpegs
        return out


def _overlays(cfg: LabelConfig) -> dict[int, dict[str, list[float]]]:
    """Per-episode curves to draw under the labels: an audit's, a checkpoint's prediction."""
    out: dict[int, dict[str, list[float]]] = {}
    if cfg.audit:
        import pandas as pd

        progress = Path(cfg.audit).parent / "progress" / "progress.parquet"
        if progress.is_file():
            for ep, g in pd.read_parquet(progress).groupby("episode_index"):
                out.setdefault(int(ep), {})["audit"] = (
                    g.sort_values("frame_index")["progress_dense"].round(4).tolist()
                )
    return out


class LabelPage:
    """What the labelling page's routes answer: the dataset's episodes (ranked by an audit when given),
    their frames, overlay curves and predicted rewards, the curve a draft entry teaches, the label file."""

    def __init__(self, cfg: LabelConfig):
        self.cfg, self.meta = cfg, cfg.dataset.meta()
        self.table = episode_table(self.meta)
        self.store = LabelStore(Path(cfg.labels), self.table, self.meta.repo_id)
        self.frames = FrameCache(cfg.dataset)
        self.overlays = _overlays(cfg)
        self.audit = {}
        if cfg.audit:
            self.audit = {r["episode"]: r for r in json.loads(Path(cfg.audit).read_text())["episodes"]}
        self.predictor = cfg.policy.load(self.meta) if cfg.policy.path else None
        self.predicted: dict[int, list[float]] = {}
        # Flask serves requests in threads. The policy keeps no per-call state, so predictions could run
        # at once; one at a time keeps two requests for one episode from computing it twice on few cores.
        self.predicting = threading.Lock()

    def has_episode(self, ep: int) -> bool:
        try:
            self.table.row(ep)
        except KeyError:
            return False
        return True

    def length(self, ep: int) -> int:
        return int(self.table.length[self.table.row(ep)])

    def episodes(self) -> dict:
        rows = [
            {"episode": int(ep), "length": int(n), "audit": self.audit.get(int(ep))}
            for ep, n in zip(self.table.episode_index, self.table.length, strict=True)
        ]
        rows.sort(key=lambda r: (r["audit"] is None, (r["audit"] or {}).get("rank", 0), r["episode"]))
        return {
            "episodes": rows,
            "fps": self.table.fps,
            "cameras": self.meta.camera_keys,
            "labels": str(self.store.path),
        }

    def episode(self, ep: int) -> dict:
        """An episode's length and the curves drawn over it (overlays, predicted, the linear default)."""
        curves = dict(self.overlays.get(ep, {}))
        if self.predictor is not None:
            with self.predicting:
                if ep not in self.predicted:
                    from .inference import fast_episode_rewards

                    policy, pre, _ = self.predictor
                    rewards = fast_episode_rewards(policy, pre, self.cfg.dataset.open(episodes=[ep]))
                    self.predicted[ep] = rewards.round(4).tolist()
            curves["predicted"] = self.predicted[ep]
        length, fps = self.length(ep), self.table.fps
        curves["linear default"] = LinearProgress().episode_targets(ep, length, fps).round(4).tolist()
        return {"episode": ep, "length": length, "fps": fps, "overlays": curves}

    def curve(self, ep: int, doc: dict) -> dict:
        """The curve training would use for one episode's entry, and the checker's word on it."""
        parsed, report = keyframes.parse(doc, self.table, self.meta.repo_id)
        length, labels = self.length(ep), parsed.get(ep)
        if labels is not None and (labels.keypoints or labels.failed):
            values = keyframes.curve(labels, length)
        else:
            values = LinearProgress().episode_targets(ep, length, self.table.fps)
        mine = [m for m in report.errors + report.warnings if m.startswith(f"episode {ep}")]
        return {
            "curve": np.round(values, 4).tolist(),
            "ok": report.ok,
            "messages": mine,
            "errors": report.errors,
        }


def create_app(cfg: LabelConfig) -> Any:
    """The Flask app of the labelling page (tests drive it directly): routes over a `LabelPage`."""
    from flask import Flask, abort, jsonify, request, send_from_directory

    page = LabelPage(cfg)
    app = Flask(__name__, static_folder=None)

    def known(ep: int) -> int:
        if not page.has_episode(ep):
            abort(404)
        return ep

    @app.get("/")
    def index() -> Any:
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Any:
        return send_from_directory(STATIC, name)  # refuses paths outside the folder (404)

    @app.get("/api/episodes")
    def episodes() -> Any:
        return jsonify(page.episodes())

    @app.get("/api/episodes/<int:ep>")
    def episode(ep: int) -> Any:
        return jsonify(page.episode(known(ep)))

    @app.get("/api/episodes/<int:ep>/frames/<camera>/<int:index>.jpg")
    def frame(ep: int, camera: str, index: int) -> Any:
        data = page.frames.frame(known(ep), camera, index) if camera in page.meta.camera_keys else None
        if data is None:
            abort(404)
        return app.response_class(data, mimetype="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/curve")
    def curve() -> Any:
        body = request.get_json(force=True)
        return jsonify(page.curve(known(int(body["episode"])), body.get("doc") or {}))

    @app.get("/api/document")
    def document() -> Any:
        return jsonify(page.store.document())

    @app.put("/api/draft")
    def draft() -> Any:
        page.store.set_draft(request.get_json(force=True)["doc"])
        return jsonify({"ok": True})

    @app.post("/api/save")
    def save() -> Any:
        body = request.get_json(force=True)
        status, payload = page.store.save(body["doc"], body.get("base_sha"))
        return jsonify(payload), status

    return app


def serve(cfg: LabelConfig) -> tuple[Any, threading.Thread, str]:
    """Start the page's server in a thread: (server, thread, url)."""
    from werkzeug.serving import make_server

    server = make_server(cfg.host, cfg.port, create_app(cfg), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://{cfg.host}:{server.server_port}/"


def run(cfg: LabelConfig) -> None:
    """`rewact label`: serve the page until Ctrl-C."""
    if cfg.audit and not Path(cfg.audit).is_file():
        raise SystemExit(
            f"error: --audit={cfg.audit} does not exist: give the audit.json `rewact audit` wrote."
        )
    server, thread, url = serve(cfg)
    print(f"labelling page on {url} (labels: {cfg.labels}); Ctrl-C stops it")
    if cfg.open_browser:
        webbrowser.open(url)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
