// RewACT labelling page: scrub an episode, place keypoints and failures, see the training curve.
"use strict";

const state = { episodes: [], fps: 30, cameras: [], ep: null, length: 0, frame: 0, doc: null, baseSha: null,
                curve: [], overlays: {}, selected: null, curveTimer: null };
const $ = (id) => document.getElementById(id);
const COLOURS = { "labels (training curve)": "#1f5fbf", predicted: "#e67e22", audit: "#8e44ad",
                  "linear default": "#aaaaaa" };

async function api(method, url, body) {
  const response = await fetch(url, { method, headers: { "Content-Type": "application/json" },
                                      body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

function status(text, kind) { const s = $("status"); s.textContent = text; s.className = kind || ""; }

function entry(create) {
  const key = String(state.ep);
  state.doc.episodes = state.doc.episodes || {};
  if (!state.doc.episodes[key] && create) state.doc.episodes[key] = { keypoints: [] };
  const e = state.doc.episodes[key];
  if (e && !Array.isArray(e.keypoints)) e.keypoints = [];
  return e;
}

function frameOf(kp) {
  return kp.frame_index !== undefined ? kp.frame_index : Math.round((kp.timestamp || 0) * state.fps);
}

function sortKeypoints(e) { e.keypoints.sort((a, b) => frameOf(a) - frameOf(b)); }

async function loadEpisodes() {
  const { data } = await api("GET", "/api/episodes");
  Object.assign(state, { episodes: data.episodes, fps: data.fps, cameras: data.cameras });
  $("labels-file").textContent = "labels: " + data.labels;
  const list = $("episodes");
  list.innerHTML = "";
  for (const row of data.episodes) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.className = "episode" + (row.audit && row.audit.flagged ? " flagged" : "");
    b.dataset.episode = row.episode;
    b.textContent = "episode " + row.episode;
    if (row.audit) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "#" + row.audit.rank + " " + row.audit.anomaly_score.toFixed(2);
      b.appendChild(tag);
    }
    b.addEventListener("click", () => openEpisode(row.episode));
    li.appendChild(b);
    list.appendChild(li);
  }
}

async function loadDocument() {
  const { data } = await api("GET", "/api/document");
  state.doc = data.doc; state.baseSha = data.base_sha;
  if (data.has_draft) status("restored your unsaved edits (draft kept by the server)", "");
}

async function openEpisode(ep) {
  const { data } = await api("GET", "/api/episodes/" + ep);
  Object.assign(state, { ep, length: data.length, overlays: data.overlays, frame: 0, selected: null });
  for (const b of document.querySelectorAll("#episodes button")) {
    b.classList.toggle("current", Number(b.dataset.episode) === ep);
  }
  $("title").textContent = "episode " + ep;
  $("slider").max = String(data.length - 1);
  const cams = $("cameras");
  cams.innerHTML = "";
  state.cameras.forEach((camera, i) => {
    const img = document.createElement("img");
    img.id = "camera-" + i; img.alt = camera; img.dataset.camera = camera;
    cams.appendChild(img);
  });
  setFrame(0);
  refreshCurve();
}

function setFrame(f) {
  if (state.ep === null) return;
  state.frame = Math.max(0, Math.min(state.length - 1, f));
  $("slider").value = String(state.frame);
  $("frame-label").textContent = "frame " + state.frame + " / " + (state.length - 1) + "  (" +
    (state.frame / state.fps).toFixed(2) + " s)";
  for (const img of document.querySelectorAll("#cameras img")) {
    img.src = "/api/episodes/" + state.ep + "/frames/" + img.dataset.camera + "/" + state.frame + ".jpg";
  }
  drawCurve();
}

function edited() {
  renderKeypoints();
  api("PUT", "/api/draft", { doc: state.doc });
  clearTimeout(state.curveTimer);
  state.curveTimer = setTimeout(refreshCurve, 80);
}

async function refreshCurve() {
  const { data } = await api("POST", "/api/curve", { episode: state.ep, doc: state.doc });
  state.curve = data.curve || [];
  const messages = $("messages");
  messages.innerHTML = "";
  for (const m of data.messages || []) {
    const li = document.createElement("li"); li.textContent = m; messages.appendChild(li);
  }
  renderKeypoints();
  drawCurve();
}

function path(values) {
  const n = Math.max(1, values.length - 1);
  return values.map((v, i) => (i ? "L" : "M") + (i * 1000 / n).toFixed(1) + "," + (210 - v * 200).toFixed(1)).join("");
}

function drawCurve() {
  const svg = $("curve");
  const n = Math.max(1, state.length - 1);
  let html = '<path d="M0,10L1000,10M0,110L1000,110M0,210L1000,210" stroke="#eee" fill="none"/>';
  const curves = Object.assign({}, state.overlays, { "labels (training curve)": state.curve });
  for (const [name, values] of Object.entries(curves)) {
    if (!values || !values.length) continue;
    const width = name.startsWith("labels") ? 3 : 1.5;
    html += '<path class="curve" data-name="' + name + '" d="' + path(values) + '" stroke="' +
      (COLOURS[name] || "#555") + '" stroke-width="' + width + '" fill="none" vector-effect="non-scaling-stroke"/>';
  }
  const e = entry(false);
  if (e) {
    e.keypoints.forEach((kp, i) => {
      const x = frameOf(kp) * 1000 / n, y = 210 - (kp.reward === undefined ? 0 : kp.reward) * 200;
      html += '<circle class="keypoint" cx="' + x + '" cy="' + y + '" r="6" fill="' +
        (kp.failure ? "#c0392b" : "#1f5fbf") + '" stroke="' + (i === state.selected ? "#000" : "#fff") + '"/>';
    });
  }
  html += '<line x1="' + state.frame * 1000 / n + '" x2="' + state.frame * 1000 / n +
    '" y1="0" y2="220" stroke="#c0392b" stroke-width="1" vector-effect="non-scaling-stroke"/>';
  svg.innerHTML = html;
  $("legend").innerHTML = Object.keys(curves).filter((k) => curves[k] && curves[k].length)
    .map((k) => '<span style="color:' + (COLOURS[k] || "#555") + '">&#9632; ' + k + "</span>").join("");
}

function renderKeypoints() {
  const body = document.querySelector("#keypoints tbody");
  body.innerHTML = "";
  const e = entry(false);
  const rows = e ? e.keypoints : [];
  rows.forEach((kp, i) => {
    const tr = document.createElement("tr");
    tr.className = i === state.selected ? "selected" : "";
    tr.innerHTML = "<td>" + frameOf(kp) + "</td><td>" + (frameOf(kp) / state.fps).toFixed(2) + " s</td><td>" +
      (kp.reward === undefined ? "0 (failure)" : kp.reward) + "</td><td>" + (kp.failure ? "yes" : "") + "</td>";
    tr.addEventListener("click", () => { state.selected = i; setFrame(frameOf(kp)); renderKeypoints(); });
    body.appendChild(tr);
  });
  $("move").disabled = $("delete").disabled = state.selected === null;
  const outcome = e && e.outcome;
  $("episode-failed").classList.toggle("current", outcome === "failure");
  $("episode-success").classList.toggle("current", outcome === "success");
}

function reward() {
  const r = Number($("reward").value);
  return Math.max(0, Math.min(1, Number.isFinite(r) ? r : 0));
}

function addKeypoint(failure) {
  if (state.ep === null) return;
  const e = entry(true);
  const existing = e.keypoints.findIndex((kp) => frameOf(kp) === state.frame);
  const kp = failure ? { frame_index: state.frame, reward: 0.0, failure: true }
                     : { frame_index: state.frame, reward: reward() };
  if (existing >= 0) Object.assign(e.keypoints[existing], kp); else e.keypoints.push(kp);
  if (!failure && existing >= 0) delete e.keypoints[existing].failure;
  sortKeypoints(e);
  state.selected = e.keypoints.findIndex((k) => frameOf(k) === state.frame);
  edited();
}

function setOutcome(outcome) {
  const e = entry(true);
  e.outcome = outcome;
  if (Array.isArray(state.doc.failures) && outcome === "success") {
    state.doc.failures = state.doc.failures.filter((f) => Number(typeof f === "object" ? f.episode : f) !== state.ep);
  }
  edited();
}

async function save() {
  const { status: code, data } = await api("POST", "/api/save", { doc: state.doc, base_sha: state.baseSha });
  if (code === 200) { state.baseSha = data.base_sha; status("saved to " + data.saved, "ok"); }
  else status((data.error || "save failed") + (data.report ? "\n" + data.report : ""), "error");
}

function wire() {
  $("slider").addEventListener("input", (ev) => setFrame(Number(ev.target.value)));
  $("add").addEventListener("click", () => addKeypoint(false));
  $("failure").addEventListener("click", () => addKeypoint(true));
  $("delete").addEventListener("click", () => {
    const e = entry(false);
    if (e && state.selected !== null) { e.keypoints.splice(state.selected, 1); state.selected = null; edited(); }
  });
  $("move").addEventListener("click", () => {
    const e = entry(false);
    if (!e || state.selected === null) return;
    const kp = e.keypoints[state.selected];
    delete kp.timestamp; kp.frame_index = state.frame;
    sortKeypoints(e); state.selected = e.keypoints.indexOf(kp); edited();
  });
  $("episode-failed").addEventListener("click", () => setOutcome("failure"));
  $("episode-success").addEventListener("click", () => setOutcome("success"));
  $("save").addEventListener("click", save);
  document.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" && ev.target.type !== "range") return;
    const step = ev.shiftKey ? 10 : 1;
    if (ev.key === "ArrowRight") { setFrame(state.frame + step); ev.preventDefault(); }
    if (ev.key === "ArrowLeft") { setFrame(state.frame - step); ev.preventDefault(); }
  });
}

(async function main() {
  wire();
  await loadDocument();
  await loadEpisodes();
  if (state.episodes.length) await openEpisode(state.episodes[0].episode);
  document.body.dataset.ready = "true";
})();
