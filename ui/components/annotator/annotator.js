// The annotate page's canvas: one <canvas> that shows the image and the working copy's shapes in
// full-resolution image coordinates, with wheel zoom about the cursor, drag pan, drawing and editing tools and
// keyboard shortcuts. A Streamlit v2 component (no build step): Python sends `data`, the canvas answers with
// one trigger value `event` per completed action (a shape drawn or edited, undo, next image, ...) and, for
// views Python must render anew (large images, assist mode), the state value `view` once the view settles.
//
// Coordinates: image point (x, y) is drawn at screen ((x - x0) * scale, (y - y0) * scale) of the canvas.

const STATE = new WeakMap();
const TOOLS = [
  { id: "select", key: "v", icon: "⬚", name: "Select and edit" },
  { id: "polygon", key: "p", icon: "⬠", name: "Polygon" },
  { id: "brush", key: "b", icon: "✎", name: "Brush" },
  { id: "rect", key: "r", icon: "▭", name: "Rectangle" },
  { id: "segment", key: "s", icon: "✦", name: "Click to segment" },
  { id: "pan", key: "h", icon: "✥", name: "Pan" },
];
const CLOSE_PX = 9; // a polygon click this near its first vertex closes it
const HANDLE_PX = 7; // vertex handles of the selected shape
const MAX_SCALE = 32;
const SETTLE_MS = 250;

export default function annotator(component) {
  const { data, parentElement, setTriggerValue, setStateValue } = component;
  let s = STATE.get(parentElement);
  if (!s) {
    s = mount(parentElement.querySelector(".annotator-root") || parentElement);
    STATE.set(parentElement, s);
  }
  s.sendTrigger = setTriggerValue;
  s.sendState = setStateValue;
  update(s, data || {});
  return () => {
    const old = STATE.get(parentElement);
    if (old) {
      unmount(old);
      STATE.delete(parentElement);
    }
  };
}

// --- mounting ----------------------------------------------------------------------------------------------
function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function mount(host) {
  const root = el("div", "ann");
  const toolbar = el("div", "ann-toolbar");
  const stage = el("div", "ann-stage");
  const canvas = el("canvas", "ann-canvas");
  canvas.setAttribute("data-testid", "annotator-canvas");
  canvas.tabIndex = 0;
  const bar = el("div", "ann-proposal");
  const status = el("div", "ann-status");
  const help = el("div", "ann-help");
  stage.append(canvas, bar);
  root.append(toolbar, stage, status, help);
  host.appendChild(root);
  const s = {
    host, root, toolbar, stage, canvas, bar, status, help, ctx: canvas.getContext("2d"),
    data: {}, imageId: null, picture: null, pictureKey: null, overview: null, overviewSrc: null,
    view: null, cw: 0, ch: 0, shapes: [], shapesKey: null,
    tool: "polygon", label: null, brush: 16, draft: null, selected: null, drag: null, hover: null,
    space: false, over: false, proposal: null, busy: "", seq: 0, outbox: [], ack: 0,
    token: Math.random().toString(36).slice(2, 10), settleTimer: null, raf: 0,
  };
  buildToolbar(s);
  help.hidden = true;
  help.innerHTML = HELP_HTML;
  s.onKeyDown = (e) => keyDown(s, e);
  s.onKeyUp = (e) => { if (e.key === " ") { s.space = false; cursor(s); } };
  window.addEventListener("keydown", s.onKeyDown, true); // before Streamlit's own keys (R reruns)
  window.addEventListener("keyup", s.onKeyUp, true);
  canvas.addEventListener("wheel", (e) => wheel(s, e), { passive: false });
  canvas.addEventListener("pointerdown", (e) => pointerDown(s, e));
  canvas.addEventListener("pointermove", (e) => pointerMove(s, e));
  canvas.addEventListener("pointerup", (e) => pointerUp(s, e));
  canvas.addEventListener("pointerenter", () => { s.over = true; });
  canvas.addEventListener("pointerleave", () => { s.over = false; s.hover = null; redraw(s); });
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  s.resize = new ResizeObserver(() => resize(s));
  s.resize.observe(stage);
  return s;
}

function unmount(s) {
  window.removeEventListener("keydown", s.onKeyDown, true);
  window.removeEventListener("keyup", s.onKeyUp, true);
  s.resize.disconnect();
  clearTimeout(s.settleTimer);
  s.root.remove();
}

const HELP_HTML = `<b>Keyboard shortcuts</b>
<table>
<tr><td>V P B R S H</td><td>tools: select/edit, polygon, brush, rectangle, click to segment, pan</td></tr>
<tr><td>1 … 9, 0</td><td>label 1 … 9, 0: ROI</td></tr>
<tr><td>Ctrl+Z, Ctrl+Shift+Z</td><td>undo, redo</td></tr>
<tr><td>Delete</td><td>delete the selected shape</td></tr>
<tr><td>Enter</td><td>close the polygon; accept the proposed outline</td></tr>
<tr><td>Escape</td><td>cancel the polygon or the proposal; deselect</td></tr>
<tr><td>Backspace</td><td>remove the polygon's last corner</td></tr>
<tr><td>Wheel, + −, F</td><td>zoom about the cursor, zoom in/out, fit the image</td></tr>
<tr><td>Space+drag, middle drag</td><td>pan (any tool)</td></tr>
<tr><td>← → or PageUp PageDown</td><td>previous / next image</td></tr>
</table>`;

function button(s, text, title, onClick, cls = "") {
  const b = el("button", "ann-btn " + cls, text);
  b.type = "button";
  b.title = title;
  b.setAttribute("aria-label", title);
  b.addEventListener("click", (e) => { e.preventDefault(); onClick(); s.canvas.focus({ preventScroll: true }); });
  return b;
}

function buildToolbar(s) {
  const t = s.toolbar;
  t.replaceChildren();
  s.toolButtons = {};
  const tools = el("div", "ann-group");
  for (const tool of TOOLS) {
    const b = button(s, tool.icon + " " + tool.name.split(" ")[0], `${tool.name} (${tool.key.toUpperCase()})`,
      () => setTool(s, tool.id));
    b.dataset.tool = tool.id;
    s.toolButtons[tool.id] = b;
    tools.appendChild(b);
  }
  s.labelGroup = el("div", "ann-group ann-labels");
  const width = el("label", "ann-width");
  width.append("Brush ");
  s.widthInput = el("input");
  Object.assign(s.widthInput, { type: "range", min: 2, max: 80, value: s.brush, title: "Brush width (screen pixels)" });
  s.widthInput.addEventListener("input", () => { s.brush = Number(s.widthInput.value); });
  width.appendChild(s.widthInput);
  const view = el("div", "ann-group");
  view.append(
    button(s, "−", "Zoom out (−)", () => zoomAt(s, s.cw / 2, s.ch / 2, 1 / 1.5)),
    button(s, "+", "Zoom in (+)", () => zoomAt(s, s.cw / 2, s.ch / 2, 1.5)),
    button(s, "Fit", "Show the whole image (F)", () => { fit(s); viewChanged(s); }),
  );
  const edit = el("div", "ann-group");
  s.undoButton = button(s, "↶ Undo", "Undo (Ctrl+Z)", () => send(s, { type: "undo" }));
  s.redoButton = button(s, "↷ Redo", "Redo (Ctrl+Shift+Z)", () => send(s, { type: "redo" }));
  s.deleteButton = button(s, "Delete", "Delete the selected shape (Delete)", () => deleteSelected(s));
  edit.append(s.undoButton, s.redoButton, s.deleteButton);
  const helpButton = button(s, "Shortcuts", "Show the keyboard shortcuts", () => { s.help.hidden = !s.help.hidden; });
  t.append(tools, s.labelGroup, width, view, edit, helpButton);
}

function buildLabels(s) {
  const g = s.labelGroup;
  g.replaceChildren();
  s.labelButtons = {};
  const labels = s.data.mode === "assist" ? [] : (s.data.labels || []);
  labels.forEach((lab, k) => {
    const b = button(s, `${k + 1} ${lab.name}`, `Label ${lab.name} (${k + 1})`, () => setLabel(s, lab.id));
    b.style.setProperty("--swatch", lab.color);
    b.classList.add("ann-label");
    s.labelButtons[lab.id] = b;
    g.appendChild(b);
  });
  if (labels.length) {
    const roi = button(s, "0 ROI", "Draw ROIs: the regions annotated completely (0)", () => setLabel(s, 0));
    roi.style.setProperty("--swatch", s.data.roi_color || "#ffd700");
    roi.classList.add("ann-label");
    s.labelButtons[0] = roi;
    g.appendChild(roi);
  }
}

// --- data from Python --------------------------------------------------------------------------------------
function update(s, data) {
  const first = !s.data.image;
  const labelsChanged = JSON.stringify(s.data.labels) !== JSON.stringify(data.labels) || s.data.mode !== data.mode;
  s.data = data;
  if (labelsChanged) buildLabels(s);
  if (first && data.defaults) {
    s.tool = data.defaults.tool || s.tool;
    s.brush = data.defaults.brush || s.brush;
    s.widthInput.value = s.brush;
  }
  const labelIds = (data.labels || []).map((l) => l.id);
  if (s.label === null || (s.label !== 0 && !labelIds.includes(s.label))) s.label = labelIds.length ? labelIds[0] : 0;
  if (data.mode === "assist") s.tool = s.tool === "pan" ? "pan" : "brush";
  const image = data.image || {};
  if (image.id !== s.imageId) {
    s.imageId = image.id;
    s.draft = null; s.selected = null; s.proposal = null; s.drag = null;
    s.view = null; // fitted (or restored from data.view) once the stage has a size
  }
  const ack = (data.acked || {})[s.token] || 0;
  if (data.shapes_key !== s.shapesKey || ack !== s.ack) {
    s.shapesKey = data.shapes_key;
    s.ack = ack;
    s.shapes = (data.shapes || []).map((sh) => ({ ...sh, points: sh.points.map((p) => [p[0], p[1]]) }));
    if (s.selected !== null && s.selected >= s.shapes.length) s.selected = null;
    s.busy = "";
  }
  prune(s);
  s.proposal = data.proposal && data.proposal.points && data.proposal.points.length ? data.proposal : null;
  if (data.proposal && data.proposal.message) s.busy = "";
  loadPicture(s);
  s.stage.style.height = `${data.height || 600}px`;
  s.undoButton.disabled = !data.can_undo;
  s.redoButton.disabled = !data.can_redo;
  resize(s);
  refreshToolbar(s);
  proposalBar(s);
}

function loadPicture(s) {
  const pic = s.data.picture;
  if (pic && pic.src !== s.pictureKey) {
    s.pictureKey = pic.src;
    const img = new Image();
    img.onload = () => { if (s.pictureKey === pic.src) { s.picture = { img, ...pic }; s.canvas.dataset.ready = "1"; redraw(s); } };
    img.src = pic.src;
  }
  const ov = s.data.overview;
  if ((ov && ov.src) !== s.overviewSrc) {
    s.overviewSrc = ov && ov.src;
    s.overview = null;
    if (ov) {
      const img = new Image();
      img.onload = () => { if (s.overviewSrc === ov.src) { s.overview = img; redraw(s); } };
      img.src = ov.src;
    }
  }
}

function resize(s) {
  const w = Math.max(Math.floor(s.stage.clientWidth), 1);
  const h = Math.max(Math.floor(s.stage.clientHeight), 1);
  if (w !== s.cw || h !== s.ch) {
    const dpr = window.devicePixelRatio || 1;
    s.cw = w; s.ch = h;
    s.canvas.width = Math.round(w * dpr); s.canvas.height = Math.round(h * dpr);
    s.canvas.style.width = `${w}px`; s.canvas.style.height = `${h}px`;
    if (s.view) viewChanged(s, true);
  }
  if (!s.view && s.data.image) {
    const v = s.data.view;
    if (v && v.scale > 0) s.view = { x0: v.x0, y0: v.y0, scale: v.scale };
    else fit(s);
    viewChanged(s, true);
  }
  redraw(s);
}

// --- the view ----------------------------------------------------------------------------------------------
function fitScale(s) {
  const im = s.data.image;
  return Math.min(s.cw / im.width, s.ch / im.height);
}

function fit(s) {
  const im = s.data.image;
  const scale = fitScale(s);
  s.view = { scale, x0: -(s.cw / scale - im.width) / 2, y0: -(s.ch / scale - im.height) / 2 };
}

function toImage(s, px, py) {
  return [px / s.view.scale + s.view.x0, py / s.view.scale + s.view.y0];
}

function toScreen(s, x, y) {
  return [(x - s.view.x0) * s.view.scale, (y - s.view.y0) * s.view.scale];
}

function zoomAt(s, px, py, factor) {
  if (!s.view) return;
  const [ix, iy] = toImage(s, px, py);
  const lo = fitScale(s) / 2;
  const hi = Math.max(MAX_SCALE, fitScale(s) * 4);
  const scale = Math.min(Math.max(s.view.scale * factor, lo), hi);
  s.view = { scale, x0: ix - px / scale, y0: iy - py / scale };
  viewChanged(s);
}

function viewChanged(s, quiet = false) {
  publishView(s);
  redraw(s);
  if (quiet && !s.data.detail) return;
  clearTimeout(s.settleTimer);
  s.settleTimer = setTimeout(() => {
    if (s.data.detail && s.sendState) s.sendState("view", { ...currentView(s), image_id: s.imageId });
  }, SETTLE_MS);
}

function currentView(s) {
  return { x0: s.view.x0, y0: s.view.y0, scale: s.view.scale, width: s.cw, height: s.ch };
}

function publishView(s) {
  // For tests and tools: the view on the element (image point under screen (px, py) = (px / scale + x0, ...)).
  const d = s.canvas.dataset;
  d.x0 = s.view.x0; d.y0 = s.view.y0; d.scale = s.view.scale;
  d.tool = s.tool; d.label = s.label; d.selected = s.selected === null ? "" : s.selected;
  d.shapes = s.shapes.length;
  d.draft = s.draft ? s.draft.points.length : 0;
  d.proposal = s.proposal ? "1" : "";
}

// --- drawing -----------------------------------------------------------------------------------------------
function redraw(s) {
  if (s.raf) return;
  s.raf = requestAnimationFrame(() => { s.raf = 0; paint(s); });
}

function rgba(hex, a) {
  const t = (hex || "#ffd700").replace("#", "");
  const n = parseInt(t.length === 3 ? t.split("").map((c) => c + c).join("") : t, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function tracePoints(s, ctx, pts, close) {
  ctx.beginPath();
  pts.forEach(([x, y], k) => {
    const [sx, sy] = toScreen(s, x, y);
    if (k === 0) ctx.moveTo(sx, sy); else ctx.lineTo(sx, sy);
  });
  if (close) ctx.closePath();
}

function drawShape(s, ctx, sh, selected) {
  const roi = sh.kind === "roi";
  const color = sh.color || s.data.roi_color || "#ffd700";
  ctx.setLineDash(roi ? [8, 6] : []);
  if (sh.geometry === "brush") {
    tracePoints(s, ctx, sh.points.length === 1 ? [sh.points[0], sh.points[0]] : sh.points, false);
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(sh.width * s.view.scale, 1);
    ctx.strokeStyle = roi ? color : rgba(color, 0.6);
    ctx.stroke();
    if (selected) { ctx.lineWidth = 1.5; ctx.strokeStyle = "#ffffff"; ctx.setLineDash([4, 3]); ctx.stroke(); }
  } else {
    tracePoints(s, ctx, sh.points, true);
    if (!roi) { ctx.fillStyle = rgba(color, selected ? 0.4 : 0.25); ctx.fill(); }
    ctx.lineWidth = selected ? 3 : 2;
    ctx.strokeStyle = selected ? "#ffffff" : color;
    ctx.stroke();
    if (selected) {
      ctx.setLineDash([]);
      for (const [x, y] of sh.points) {
        const [sx, sy] = toScreen(s, x, y);
        ctx.fillStyle = "#ffffff"; ctx.strokeStyle = color; ctx.lineWidth = 1.5;
        ctx.fillRect(sx - HANDLE_PX / 2, sy - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
        ctx.strokeRect(sx - HANDLE_PX / 2, sy - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
      }
    }
  }
  ctx.setLineDash([]);
}

function penColor(s) {
  if (s.data.mode === "assist") return s.data.pen || "#ffd700";
  const lab = (s.data.labels || []).find((l) => l.id === s.label);
  return lab ? lab.color : (s.data.roi_color || "#ffd700");
}

function paint(s) {
  const { ctx } = s;
  const dpr = s.canvas.width / Math.max(s.cw, 1);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, s.cw, s.ch);
  if (!s.view || !s.data.image) return;
  const im = s.data.image;
  const [ix0, iy0] = toScreen(s, 0, 0);
  const [ix1, iy1] = toScreen(s, im.width, im.height);
  if (s.overview) {
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(s.overview, ix0, iy0, ix1 - ix0, iy1 - iy0);
  }
  if (s.picture) {
    const p = s.picture;
    const [px0, py0] = toScreen(s, p.x, p.y);
    const [px1, py1] = toScreen(s, p.x + p.w, p.y + p.h);
    ctx.imageSmoothingEnabled = (px1 - px0) < p.img.naturalWidth; // nearest neighbour when zoomed in
    ctx.drawImage(p.img, px0, py0, px1 - px0, py1 - py0);
  }
  ctx.strokeStyle = "rgba(128, 128, 128, 0.6)";
  ctx.lineWidth = 1;
  ctx.strokeRect(ix0 - 0.5, iy0 - 0.5, ix1 - ix0 + 1, iy1 - iy0 + 1);
  s.shapes.forEach((sh, k) => { if (k !== s.selected) drawShape(s, ctx, sh, false); });
  if (s.selected !== null && s.shapes[s.selected]) drawShape(s, ctx, s.shapes[s.selected], true);
  if (s.proposal) {
    tracePoints(s, ctx, s.proposal.points, true);
    ctx.setLineDash([6, 4]);
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = penColor(s);
    ctx.fillStyle = rgba(penColor(s), 0.15);
    ctx.fill(); ctx.stroke();
    ctx.setLineDash([]);
  }
  paintDraft(s, ctx);
  publishView(s);
}

function paintDraft(s, ctx) {
  const d = s.draft;
  if (!d) return;
  const color = penColor(s);
  ctx.strokeStyle = color;
  if (d.type === "brush") {
    tracePoints(s, ctx, d.points.length === 1 ? [d.points[0], d.points[0]] : d.points, false);
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = d.width * s.view.scale;
    ctx.strokeStyle = rgba(color, 0.6);
    ctx.stroke();
  } else if (d.type === "rect") {
    const [a, b] = d.points;
    tracePoints(s, ctx, [a, [b[0], a[1]], b, [a[0], b[1]]], true);
    ctx.lineWidth = 2; ctx.fillStyle = rgba(color, 0.2); ctx.fill(); ctx.stroke();
  } else if (d.type === "polygon") {
    const pts = s.hover ? [...d.points, s.hover] : d.points;
    tracePoints(s, ctx, pts, false);
    ctx.lineWidth = 2; ctx.stroke();
    d.points.forEach(([x, y], k) => {
      const [sx, sy] = toScreen(s, x, y);
      ctx.beginPath();
      ctx.arc(sx, sy, k === 0 ? CLOSE_PX / 2 + 1 : 3, 0, 2 * Math.PI);
      ctx.fillStyle = k === 0 ? "#ffffff" : color;
      ctx.fill(); ctx.stroke();
    });
  }
}

// --- toolbar state -----------------------------------------------------------------------------------------
function refreshToolbar(s) {
  const assist = s.data.mode === "assist";
  for (const [id, b] of Object.entries(s.toolButtons)) {
    b.classList.toggle("active", id === s.tool);
    b.hidden = assist && !["brush", "pan"].includes(id);
    if (id === "segment") {
      b.disabled = !s.data.segment_available;
      b.title = s.data.segment_available ? "Click to segment (S): click an object, Enter accepts the outline"
        : `Click to segment is unavailable: ${s.data.segment_note || "no proposer"}`;
    }
  }
  for (const [id, b] of Object.entries(s.labelButtons || {})) b.classList.toggle("active", Number(id) === s.label);
  s.deleteButton.disabled = s.selected === null;
  s.deleteButton.hidden = assist;
  s.undoButton.hidden = s.redoButton.hidden = assist;
  const im = s.data.image;
  const zoom = s.view ? `${Math.round(s.view.scale * 100)} %` : "";
  const where = s.hover ? ` · x ${s.hover[0].toFixed(1)}, y ${s.hover[1].toFixed(1)}` : "";
  const hint = s.busy || (s.draft && s.draft.type === "polygon"
    ? "Click the first corner or press Enter to close, Escape to cancel" : "");
  s.status.textContent = im ? `${im.width}×${im.height} · zoom ${zoom}${where}${hint ? " · " + hint : ""}` : "";
  cursor(s);
  publishView(s);
}

function cursor(s) {
  const c = s.drag && s.drag.mode === "pan" ? "grabbing" : s.space || s.tool === "pan" ? "grab"
    : s.tool === "select" ? "default" : "crosshair";
  s.canvas.style.cursor = c;
}

function proposalBar(s) {
  const p = s.data.proposal;
  s.bar.replaceChildren();
  if (!p || (!p.message && !(p.points && p.points.length))) { s.bar.hidden = true; return; }
  s.bar.hidden = false;
  s.bar.append(el("span", "", p.message || ""));
  if (s.proposal) {
    s.bar.append(
      button(s, "Accept (Enter)", "Accept the outline as a polygon of the current label", () => acceptProposal(s), "primary"),
      button(s, "Reject (Esc)", "Drop the proposed outline", () => rejectProposal(s)),
    );
  }
}

function setTool(s, id) {
  if (s.data.mode === "assist" && !["brush", "pan"].includes(id)) return;
  if (id === "segment" && !s.data.segment_available) { s.busy = `Click to segment is unavailable: ${s.data.segment_note || ""}`; refreshToolbar(s); return; }
  s.tool = id;
  if (s.draft && s.draft.type === "polygon" && id !== "polygon") s.draft = null;
  if (id !== "select") s.selected = null;
  refreshToolbar(s);
  redraw(s);
}

function setLabel(s, id) {
  if (s.data.mode === "assist") return;
  s.label = id;
  refreshToolbar(s);
  redraw(s);
}

// --- events to Python --------------------------------------------------------------------------------------
// Every event stays in the outbox until Python says it handled it (data.acked[token] >= its seq): a trigger
// value that a busy server coalesces away is sent again with the next one; Python skips the ones it has.
function send(s, event) {
  if (!s.sendTrigger || !s.view) return;
  s.seq += 1;
  s.outbox.push({ ...event, token: s.token, seq: s.seq, sent: Date.now(), view: currentView(s),
    image_id: s.imageId, tool: s.tool, brush: s.brush });
  s.sendTrigger("event", { events: s.outbox });
}

function prune(s) {
  const acked = (s.data.acked || {})[s.token] || 0;
  s.outbox = s.outbox.filter((e) => e.seq > acked);
  if (s.outbox.length && Date.now() - s.outbox[0].sent > 1500 && s.sendTrigger) {
    s.outbox.forEach((e) => { e.sent = Date.now(); });
    s.sendTrigger("event", { events: s.outbox });
  }
}

function target(s) {
  return s.label === 0 ? { kind: "roi", label: null } : { kind: "annotation", label: s.label };
}

function addShape(s, geometry, points, width = 0) {
  const t = target(s);
  const shape = { ...t, geometry, points, width, color: t.kind === "roi" ? s.data.roi_color : penColor(s) };
  s.shapes.push(shape); // shown at once; the working copy Python sends back replaces it
  send(s, { type: "add", shape: { kind: t.kind, label: t.label, geometry, points, width } });
  redraw(s);
}

function deleteSelected(s) {
  if (s.selected === null) return;
  const index = s.selected;
  s.shapes.splice(index, 1);
  s.selected = null;
  send(s, { type: "delete", index });
  refreshToolbar(s);
  redraw(s);
}

function acceptProposal(s) {
  if (!s.proposal) return;
  const t = target(s);
  s.shapes.push({ ...t, geometry: "polygon", points: s.proposal.points, width: 0, color: penColor(s) });
  s.proposal = null;
  send(s, { type: "accept", kind: t.kind, label: t.label });
  proposalBar(s);
  redraw(s);
}

function rejectProposal(s) {
  s.proposal = null;
  send(s, { type: "reject" });
  s.bar.hidden = true;
  redraw(s);
}

function closePolygon(s) {
  const d = s.draft;
  s.draft = null;
  if (d && d.points.length >= 3) addShape(s, "polygon", d.points);
  refreshToolbar(s);
  redraw(s);
}

// --- keyboard ----------------------------------------------------------------------------------------------
function typing(e) {
  const t = e.composedPath ? e.composedPath()[0] : e.target;
  if (!t || !t.tagName) return false;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName) || t.isContentEditable
    || (t.getAttribute && t.getAttribute("role") === "combobox");
}

function keyDown(s, e) {
  if (!s.root.isConnected || !s.view || typing(e)) return;
  const k = e.key;
  const mod = e.ctrlKey || e.metaKey;
  const done = () => { e.preventDefault(); e.stopPropagation(); };
  if (k === " ") { if (s.over) { s.space = true; cursor(s); done(); } return; }
  if (mod && (k === "z" || k === "Z")) { send(s, { type: e.shiftKey ? "redo" : "undo" }); done(); return; }
  if (mod && (k === "y" || k === "Y")) { send(s, { type: "redo" }); done(); return; }
  if (mod || e.altKey) return;
  if (k === "Escape") {
    if (s.draft) s.draft = null;
    else if (s.proposal) rejectProposal(s);
    else s.selected = null;
    refreshToolbar(s); redraw(s); done(); return;
  }
  if (k === "Enter") {
    if (s.draft && s.draft.type === "polygon") closePolygon(s);
    else if (s.proposal) acceptProposal(s);
    else return;
    done(); return;
  }
  if (k === "Delete" || k === "Backspace") {
    if (s.draft && s.draft.type === "polygon") { s.draft.points.pop(); if (!s.draft.points.length) s.draft = null; redraw(s); }
    else if (s.selected !== null) deleteSelected(s);
    else return;
    done(); return;
  }
  if (k === "PageDown" || k === "ArrowRight") { send(s, { type: "image", step: 1 }); done(); return; }
  if (k === "PageUp" || k === "ArrowLeft") { send(s, { type: "image", step: -1 }); done(); return; }
  if (k === "+" || k === "=") { zoomAt(s, s.cw / 2, s.ch / 2, 1.5); done(); return; }
  if (k === "-") { zoomAt(s, s.cw / 2, s.ch / 2, 1 / 1.5); done(); return; }
  if (k === "f" || k === "F") { fit(s); viewChanged(s); done(); return; }
  if (/^[0-9]$/.test(k) && s.data.mode !== "assist") {
    const n = Number(k);
    const labels = s.data.labels || [];
    if (n === 0) setLabel(s, 0); else if (labels[n - 1]) setLabel(s, labels[n - 1].id);
    done(); return;
  }
  const tool = TOOLS.find((t) => t.key === k.toLowerCase());
  if (tool) { setTool(s, tool.id); done(); }
}

// --- mouse -------------------------------------------------------------------------------------------------
function wheel(s, e) {
  e.preventDefault();
  const r = s.canvas.getBoundingClientRect();
  const dy = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
  zoomAt(s, e.clientX - r.left, e.clientY - r.top, Math.exp(-Math.max(Math.min(dy, 300), -300) * 0.0015));
  refreshToolbar(s);
}

function local(s, e) {
  const r = s.canvas.getBoundingClientRect();
  return [e.clientX - r.left, e.clientY - r.top];
}

function near(s, a, b, px) {
  const [ax, ay] = toScreen(s, a[0], a[1]);
  const [bx, by] = toScreen(s, b[0], b[1]);
  return Math.hypot(ax - bx, ay - by) <= px;
}

function inside(pts, x, y) {
  let hit = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i];
    const [xj, yj] = pts[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

function segmentDistance(p, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const len = dx * dx + dy * dy;
  const t = len ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len)) : 0;
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

function hitShape(s, p) {
  const tol = 4 / s.view.scale;
  for (let k = s.shapes.length - 1; k >= 0; k--) {
    const sh = s.shapes[k];
    if (sh.geometry === "brush") {
      const pts = sh.points.length === 1 ? [sh.points[0], sh.points[0]] : sh.points;
      for (let i = 1; i < pts.length; i++) if (segmentDistance(p, pts[i - 1], pts[i]) <= sh.width / 2 + tol) return k;
    } else if (inside(sh.points, p[0], p[1])) return k;
  }
  return null;
}

function hitVertex(s, p) {
  if (s.selected === null) return null;
  const sh = s.shapes[s.selected];
  if (!sh || sh.geometry === "brush") return null;
  for (let i = 0; i < sh.points.length; i++) if (near(s, sh.points[i], p, HANDLE_PX)) return i;
  return null;
}

function pointerDown(s, e) {
  if (!s.view) return;
  s.canvas.focus({ preventScroll: true });
  const [px, py] = local(s, e);
  const p = toImage(s, px, py);
  const panning = e.button === 1 || s.space || s.tool === "pan";
  if (e.button !== 0 && !panning) return;
  s.canvas.setPointerCapture(e.pointerId);
  if (panning) { s.drag = { mode: "pan", px, py }; cursor(s); return; }
  if (s.tool === "select") {
    const v = hitVertex(s, p);
    if (v !== null) { s.drag = { mode: "vertex", index: s.selected, vertex: v, moved: false }; return; }
    const k = hitShape(s, p);
    s.selected = k;
    refreshToolbar(s);
    redraw(s);
    s.drag = k === null ? { mode: "pan", px, py } : { mode: "move", index: k, start: p, last: p, moved: false };
    return;
  }
  if (s.tool === "polygon") {
    if (!s.draft || s.draft.type !== "polygon") s.draft = { type: "polygon", points: [] };
    const d = s.draft;
    if (d.points.length >= 3 && near(s, d.points[0], p, CLOSE_PX)) closePolygon(s);
    else d.points.push(p);
    refreshToolbar(s);
    redraw(s);
    return;
  }
  if (s.tool === "brush") {
    s.draft = { type: "brush", points: [p], width: s.brush / s.view.scale, last: [px, py] };
    s.drag = { mode: "brush" };
    redraw(s);
    return;
  }
  if (s.tool === "rect") { s.draft = { type: "rect", points: [p, p] }; s.drag = { mode: "rect", px, py }; return; }
  if (s.tool === "segment") {
    s.busy = "Looking for the object's outline…";
    s.proposal = null;
    send(s, { type: "segment", x: p[0], y: p[1], kind: target(s).kind, label: target(s).label });
    refreshToolbar(s);
    redraw(s);
  }
}

function pointerMove(s, e) {
  if (!s.view) return;
  const [px, py] = local(s, e);
  const p = toImage(s, px, py);
  s.hover = p;
  const d = s.drag;
  if (!d) { if (s.draft && s.draft.type === "polygon") redraw(s); refreshToolbar(s); return; }
  if (d.mode === "pan") {
    s.view = { ...s.view, x0: s.view.x0 - (px - d.px) / s.view.scale, y0: s.view.y0 - (py - d.py) / s.view.scale };
    d.px = px; d.py = py; d.moved = true;
    publishView(s);
    redraw(s);
  } else if (d.mode === "brush") {
    const last = s.draft.last;
    if (Math.hypot(px - last[0], py - last[1]) >= 1.5) { s.draft.points.push(p); s.draft.last = [px, py]; redraw(s); }
  } else if (d.mode === "rect") {
    s.draft.points[1] = p;
    redraw(s);
  } else if (d.mode === "vertex") {
    const sh = s.shapes[d.index];
    if (sh.geometry === "rectangle") {
      // keep it axis aligned: the opposite corner stays, the neighbours follow
      const opp = sh.points[(d.vertex + 2) % 4];
      sh.points = [[opp[0], opp[1]], [p[0], opp[1]], [p[0], p[1]], [opp[0], p[1]]];
      d.vertex = 2;
    } else sh.points[d.vertex] = p;
    d.moved = true;
    redraw(s);
  } else if (d.mode === "move") {
    const dx = p[0] - d.last[0], dy = p[1] - d.last[1];
    const sh = s.shapes[d.index];
    sh.points = sh.points.map(([x, y]) => [x + dx, y + dy]);
    d.last = p; d.moved = true;
    redraw(s);
  }
}

function pointerUp(s, e) {
  const d = s.drag;
  s.drag = null;
  if (s.canvas.hasPointerCapture(e.pointerId)) s.canvas.releasePointerCapture(e.pointerId);
  cursor(s);
  if (!d) return;
  if (d.mode === "pan") { if (d.moved) viewChanged(s); return; }
  if (d.mode === "brush") {
    const draft = s.draft;
    s.draft = null;
    addShape(s, "brush", draft.points, draft.width);
    return;
  }
  if (d.mode === "rect") {
    const [a, b] = s.draft.points;
    s.draft = null;
    const [ax, ay] = toScreen(s, a[0], a[1]);
    const [bx, by] = toScreen(s, b[0], b[1]);
    if (Math.abs(ax - bx) >= 3 && Math.abs(ay - by) >= 3) {
      const x0 = Math.min(a[0], b[0]), x1 = Math.max(a[0], b[0]), y0 = Math.min(a[1], b[1]), y1 = Math.max(a[1], b[1]);
      addShape(s, "rectangle", [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]);
    }
    redraw(s);
    return;
  }
  if ((d.mode === "vertex" || d.mode === "move") && d.moved) {
    send(s, { type: "edit", index: d.index, points: s.shapes[d.index].points });
  }
}
