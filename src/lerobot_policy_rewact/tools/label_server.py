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

from ..policy import keyframes
from ..policy.episodes import EpisodeTable, episode_table
from ..policy.json_files import parse_json
from ..policy.labels import LinearProgress
from .datasets import DatasetArgs
from .inference import PolicyArgs

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
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(self.path)
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


def create_app(cfg: LabelConfig) -> Any:
    """The Flask app of the labelling page (tests drive it directly)."""
    from flask import Flask, abort, jsonify, request, send_from_directory

    meta = cfg.dataset.meta()
    table = episode_table(meta)
    store = LabelStore(Path(cfg.labels), table, meta.repo_id)
    frames = FrameCache(cfg.dataset)
    overlays = _overlays(cfg)
    audit = {}
    if cfg.audit:
        audit = {r["episode"]: r for r in json.loads(Path(cfg.audit).read_text())["episodes"]}
    predictor = cfg.policy.load() if cfg.policy.path else None
    predicted: dict[int, list[float]] = {}
    # Flask serves requests in threads. The policy keeps no per-call state, so predictions could run
    # at once; one at a time keeps two requests for one episode from computing it twice on few cores.
    predicting = threading.Lock()

    app = Flask(__name__, static_folder=None)

    @app.get("/")
    def index() -> Any:
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Any:
        return send_from_directory(STATIC, name)  # refuses paths outside the folder (404)

    @app.get("/api/episodes")
    def episodes() -> Any:
        rows = [
            {"episode": int(ep), "length": int(n), "audit": audit.get(int(ep))}
            for ep, n in zip(table.episode_index, table.length, strict=True)
        ]
        rows.sort(key=lambda r: (r["audit"] is None, (r["audit"] or {}).get("rank", 0), r["episode"]))
        return jsonify(
            {"episodes": rows, "fps": table.fps, "cameras": meta.camera_keys, "labels": str(store.path)}
        )

    def _episode(ep: int) -> int:
        try:
            table.row(ep)
        except KeyError:
            abort(404)
        return ep

    @app.get("/api/episodes/<int:ep>")
    def episode(ep: int) -> Any:
        length = int(table.length[table.row(_episode(ep))])
        curves = dict(overlays.get(ep, {}))
        if predictor is not None:
            with predicting:
                if ep not in predicted:
                    from .inference import fast_episode_rewards

                    policy, pre, _ = predictor
                    predicted[ep] = (
                        fast_episode_rewards(policy, pre, cfg.dataset.open(episodes=[ep])).round(4).tolist()
                    )
            curves["predicted"] = predicted[ep]
        curves["linear default"] = LinearProgress().episode_targets(ep, length, table.fps).round(4).tolist()
        return jsonify({"episode": ep, "length": length, "fps": table.fps, "overlays": curves})

    @app.get("/api/episodes/<int:ep>/frames/<camera>/<int:index>.jpg")
    def frame(ep: int, camera: str, index: int) -> Any:
        if camera not in meta.camera_keys:
            abort(404)
        data = frames.frame(_episode(ep), camera, index)
        if data is None:
            abort(404)
        return app.response_class(data, mimetype="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/curve")
    def curve() -> Any:
        """The curve training would use for one episode's entry, and the checker's word on it."""
        body = request.get_json(force=True)
        ep = _episode(int(body["episode"]))
        doc = body.get("doc") or {}
        parsed, report = keyframes.parse(doc, table, meta.repo_id)
        length = int(table.length[table.row(ep)])
        labels = parsed.get(ep)
        if labels is not None and (labels.keypoints or labels.failed):
            values = keyframes.curve(labels, length)
        else:
            values = LinearProgress().episode_targets(ep, length, table.fps)
        mine = [m for m in report.errors + report.warnings if m.startswith(f"episode {ep}")]
        return jsonify(
            {
                "curve": np.round(values, 4).tolist(),
                "ok": report.ok,
                "messages": mine,
                "errors": report.errors,
            }
        )

    @app.get("/api/document")
    def document() -> Any:
        return jsonify(store.document())

    @app.put("/api/draft")
    def draft() -> Any:
        store.set_draft(request.get_json(force=True)["doc"])
        return jsonify({"ok": True})

    @app.post("/api/save")
    def save() -> Any:
        body = request.get_json(force=True)
        status, payload = store.save(body["doc"], body.get("base_sha"))
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
