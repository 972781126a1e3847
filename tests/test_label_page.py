"""`rewact label`: the API (saving never loses a label, no file outside the dataset is served) and the
page itself in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from lerobot_policy_rewact.tools.datasets import DatasetArgs
from lerobot_policy_rewact.tools.label_server import LabelConfig, create_app, serve

from conftest import BIN, run


def _config(root, labels, **kwargs) -> LabelConfig:
    return LabelConfig(
        dataset=DatasetArgs(root=str(root), video_backend="pyav"),
        labels=str(labels),
        port=0,
        open_browser=False,
        **kwargs,
    )


@pytest.fixture
def client(marker_ds, tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps(
            {
                "repo_id": "local/state2_cam1",
                "labeller": "ann",
                "episodes": {"0": {"keypoints": [{"frame_index": 2, "reward": 0.1}], "note": "x"}},
            }
        )
    )
    return create_app(_config(marker_ds, labels)).test_client(), labels


def test_requests_outside_the_dataset_and_page_are_refused(client):
    c, _ = client
    for url in (
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/../label_server.py",
        "/api/episodes/0/frames/..%2F..%2Fmeta/0.jpg",
        "/api/episodes/0/frames/observation.images.cam0/9999.jpg",
        "/api/episodes/99/frames/observation.images.cam0/0.jpg",
        "/../../etc/passwd",
    ):
        assert c.get(url).status_code == 404, url
    assert c.get("/static/app.js").status_code == 200
    frame = c.get("/api/episodes/1/frames/observation.images.cam0/3.jpg")
    assert frame.status_code == 200 and frame.data[:2] == b"\xff\xd8"  # a JPEG


def test_the_curve_is_the_one_training_uses(client, marker_ds):
    from lerobot_policy_rewact.label_formats import keyframes
    from lerobot_policy_rewact.policy.episodes import episode_table

    from conftest import load_meta

    c, _ = client
    doc = {
        "episodes": {
            "1": {
                "keypoints": [
                    {"frame_index": 0, "reward": 0.0},
                    {"frame_index": 10, "reward": 0.5},
                    {"frame_index": 14, "reward": 0.0, "failure": True},
                ]
            }
        }
    }
    body = c.post("/api/curve", json={"episode": 1, "doc": doc}).get_json()
    parsed, _ = keyframes.parse(doc, episode_table(load_meta(marker_ds)))
    expected = keyframes.curve(parsed[1], len(body["curve"]))
    assert body["ok"] and body["curve"] == pytest.approx(expected.tolist(), abs=1e-4)


def test_predictions_from_parallel_requests(marker_ds, tmp_path):
    """Requests for several episodes at once each get their own episode's predicted curve."""
    import threading

    import numpy as np

    from lerobot_policy_rewact.tools.checkpoints import PolicyArgs
    from lerobot_policy_rewact.tools.inference import fast_episode_rewards

    from helpers import build

    policy, pre, post, _ = build(marker_ds)
    for part in (policy, pre, post):
        part.save_pretrained(tmp_path / "model")
    app = create_app(_config(marker_ds, tmp_path / "labels.json", policy=PolicyArgs(str(tmp_path / "model"))))
    got: dict[tuple[int, int], list[float]] = {}

    def ask(ep: int, round_: int) -> None:
        got[(ep, round_)] = app.test_client().get(f"/api/episodes/{ep}").get_json()["overlays"]["predicted"]

    threads = [threading.Thread(target=ask, args=(ep, r)) for r in range(2) for ep in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dataset = DatasetArgs(root=str(marker_ds), video_backend="pyav")
    for ep in range(4):
        expected = fast_episode_rewards(policy, pre, dataset.open(episodes=[ep]))
        for r in range(2):
            assert np.allclose(got[(ep, r)], expected, atol=1e-3), (ep, r)
    assert len({len(got[(ep, 0)]) for ep in range(4)}) > 1  # episodes of different lengths: no mix-up


def test_save_checks_keeps_unknown_keys_and_a_backup(client):
    c, labels = client
    before = labels.read_text()
    state = c.get("/api/document").get_json()
    doc = state["doc"]
    doc["episodes"]["0"]["keypoints"].append({"frame_index": 8, "reward": 2.0})  # out of range
    bad = c.post("/api/save", json={"doc": doc, "base_sha": state["base_sha"]})
    assert bad.status_code == 422 and "'reward' 2.0 is outside [0, 1]" in bad.get_json()["report"]
    assert labels.read_text() == before
    doc["episodes"]["0"]["keypoints"][-1]["reward"] = 0.6
    ok = c.post("/api/save", json={"doc": doc, "base_sha": state["base_sha"]})
    assert ok.status_code == 200
    saved = json.loads(labels.read_text())
    assert saved["labeller"] == "ann" and saved["episodes"]["0"]["note"] == "x"  # unknown keys kept
    assert (labels.parent / "labels.json.bak").read_text() == before
    assert not (labels.parent / "labels.json.tmp").exists()


def test_a_file_changed_on_disk_is_never_overwritten(client):
    c, labels = client
    state = c.get("/api/document").get_json()
    labels.write_text(json.dumps({"episodes": {"2": {"keypoints": [{"frame_index": 1, "reward": 0.3}]}}}))
    changed = labels.read_text()
    refused = c.post("/api/save", json={"doc": state["doc"], "base_sha": state["base_sha"]})
    assert refused.status_code == 409 and "changed on disk" in refused.get_json()["error"]
    assert labels.read_text() == changed


def test_a_draft_survives_a_reload(client):
    c, labels = client
    doc = c.get("/api/document").get_json()["doc"]
    doc["episodes"]["3"] = {"keypoints": [{"frame_index": 4, "reward": 0.4}]}
    c.put("/api/draft", json={"doc": doc})
    again = c.get("/api/document").get_json()
    assert again["has_draft"] and again["doc"]["episodes"]["3"]["keypoints"][0]["frame_index"] == 4
    assert "3" not in json.loads(labels.read_text())["episodes"]  # not saved until asked


def test_label_command_help_and_a_missing_audit_file(marker_ds, tmp_path):
    proc = run(
        [
            str(BIN / "rewact"),
            "label",
            f"--dataset.root={marker_ds}",
            f"--audit={tmp_path / 'no.json'}",
            "--open_browser=false",
        ]
    )
    assert proc.returncode != 0 and "--audit=" in proc.stderr.strip().splitlines()[-1]


# ------------------------------------------------------------------ in a real browser
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed (make system-deps installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, url):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready"))


def _press(browser, key, times=1, shift=False):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    chain = ActionChains(browser)
    for _ in range(times):
        if shift:
            chain.key_down(Keys.SHIFT).send_keys(key).key_up(Keys.SHIFT)
        else:
            chain.send_keys(key)
    chain.perform()


def _wait_text(browser, element_id, text):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: text in d.find_element("id", element_id).text)


def test_label_two_keypoints_and_a_failure_in_the_browser(browser, marker_ds, tmp_path):
    from selenium.webdriver.common.keys import Keys

    labels = tmp_path / "labels.json"
    server, _, url = serve(_config(marker_ds, labels))
    try:
        _open(browser, url)
        browser.find_element("css selector", '#episodes button[data-episode="1"]').click()
        _wait_text(browser, "title", "episode 1")
        reward = browser.find_element("id", "reward")
        _press(browser, Keys.ARROW_RIGHT, 2)  # frame 2
        reward.clear()
        reward.send_keys("0.1")
        browser.find_element("id", "add").click()
        browser.find_element("tag name", "body").click()
        _press(browser, Keys.ARROW_RIGHT, 1, shift=True)  # frame 12
        _wait_text(browser, "frame-label", "frame 12 ")
        reward.clear()
        reward.send_keys("0.6")
        browser.find_element("id", "add").click()
        browser.find_element("tag name", "body").click()
        _press(browser, Keys.ARROW_RIGHT, 3)  # frame 15
        browser.find_element("id", "failure").click()
        _wait_text(browser, "keypoints", "yes")
        browser.save_screenshot(str(tmp_path / "page.png"))
        browser.find_element("id", "save").click()
        _wait_text(browser, "status", "saved to")
    finally:
        server.shutdown()
    doc = json.loads(labels.read_text())
    assert doc["episodes"]["1"]["keypoints"] == [
        {"frame_index": 2, "reward": 0.1},
        {"frame_index": 12, "reward": 0.6},
        {"frame_index": 15, "reward": 0.0, "failure": True},
    ]
    check = subprocess.run(
        [str(BIN / "rewact"), "labels", "check", f"--labels={labels}", f"--dataset.root={marker_ds}"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert (tmp_path / "page.png").stat().st_size > 10_000
    assert sys.executable  # the page was driven by this interpreter's selenium


def test_the_page_refuses_to_overwrite_a_file_changed_on_disk(browser, marker_ds, tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"episodes": {"0": {"keypoints": [{"frame_index": 0, "reward": 0.0}]}}}))
    server, _, url = serve(_config(marker_ds, labels))
    try:
        _open(browser, url)
        browser.find_element("id", "add").click()  # an edit on episode 0
        external = json.dumps({"episodes": {"2": {"keypoints": [{"frame_index": 3, "reward": 0.5}]}}})
        labels.write_text(external)  # someone else saved meanwhile
        browser.find_element("id", "save").click()
        _wait_text(browser, "status", "changed on disk")
        assert "error" in browser.find_element("id", "status").get_attribute("class")
    finally:
        server.shutdown()
    assert labels.read_text() == external
