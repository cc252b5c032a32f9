/* Outpost workflow builder: the canvas (Drawflow) and its glue to the server.
 *
 * The server owns the graph. Every change on the canvas is posted (debounced) to
 * /workflows/<id>/graph with the revision it was made on; the answer is the saved graph, its
 * revision and the HTML of every node (rendered and escaped by the server). A refused change
 * (an incompatible edge, a cycle) is undone by going back to the saved graph the answer
 * carries; a stale revision (another tab saved first) stops saving and asks for a reload.
 * Node config forms are server-rendered HTMX partials in the side panel.
 * Text from the server is only ever put into the page with textContent, except node HTML,
 * which the server renders from the saved graph.
 */
(function () {
  "use strict";

  const root = document.getElementById("builder");
  if (!root || typeof window.Drawflow === "undefined") return;

  const canWrite = root.dataset.canWrite === "1";
  const urls = { graph: root.dataset.graphUrl, panel: root.dataset.panelUrl, node: root.dataset.nodeUrl };
  const csrf = root.dataset.csrf;
  const canvasEl = document.getElementById("drawflow");
  const statusEl = document.getElementById("builder-status");
  const alertEl = document.getElementById("builder-alert");
  const alertText = document.getElementById("builder-alert-text");
  const emptyEl = document.getElementById("canvas-empty");
  const undoButton = root.querySelector('[data-action="undo"]');
  const NODE_W = 180;
  const LAYER_X = 220;
  const ROW_Y = 110;

  const editor = new window.Drawflow(canvasEl);
  editor.reroute = false;
  editor.curvature = 0.4;
  editor.zoom_min = 0.3;
  editor.zoom_max = 1.6;
  editor.start();
  editor.editor_mode = canWrite ? "edit" : "view";

  // --- State -------------------------------------------------------------------------------
  let revision = 0; // the revision of the graph the canvas shows
  let saved = { nodes: [], edges: [] }; // the last saved graph
  const model = new Map(); // graph node id -> {id, type, label, config}
  const dfToId = new Map(); // Drawflow's numeric node id -> graph node id
  const idToDf = new Map();
  const history = []; // earlier saved graphs, for undo
  let timer = null;
  let inflight = null;
  let dirty = false;
  let stale = false;
  let rebuilding = false;
  let kinds = {}; // graph node id -> {accepts, emits, findings}, as the validator sees them
  let selectedId = null; // the node selected on the canvas (click-to-add goes after it)
  let formChain = Promise.resolve(); // node-settings saves, one after the other
  let formTimer = null;
  let formDirty = null; // the node form with edits not yet sent
  const phone = window.matchMedia("(max-width: 900px)");

  // --- Messages ----------------------------------------------------------------------------
  function setStatus(text) {
    statusEl.textContent = text;
  }

  function showAlert(text, { reload = false } = {}) {
    alertText.textContent = text;
    alertEl.querySelector('[data-action="reload"]').hidden = !reload;
    alertEl.querySelector('[data-action="dismiss"]').hidden = reload;
    alertEl.hidden = false;
  }

  function hideAlert() {
    if (!stale) alertEl.hidden = true;
  }

  // --- The canvas from a graph, and a graph from the canvas ----------------------------------
  function template(type) {
    return document.querySelector('template[data-node-template="' + CSS.escape(type) + '"]');
  }

  function placeholder(type) {
    const tpl = template(type);
    return tpl ? tpl.innerHTML : "";
  }

  function typeLabel(type) {
    const tpl = template(type);
    return (tpl && tpl.dataset.label) || type;
  }

  // What a node type takes and gives before it is saved (the palette's template says).
  function typeKinds(type) {
    const tpl = template(type);
    const list = (value) => (value ? value.split(" ").filter(Boolean) : []);
    return {
      accepts: list(tpl && tpl.dataset.accepts),
      emits: list(tpl && tpl.dataset.emits),
      findings: !!(tpl && tpl.dataset.findings === "1"),
      passthrough: !!(tpl && tpl.dataset.passthrough === "1"),
    };
  }

  function kindsOf(id) {
    if (kinds[id]) return kinds[id];
    const item = model.get(id);
    return item ? typeKinds(item.type) : { accepts: [], emits: [], findings: false };
  }

  // The validator's rule for an edge: the target works on findings, or a kind fits.
  function compatible(fromId, toId) {
    if (fromId === toId) return false;
    const to = kindsOf(toId);
    if (to.findings) return true;
    const emits = kindsOf(fromId).emits;
    return to.accepts.some((k) => emits.includes(k));
  }

  const KIND_COLOURS = {
    host: "#38bdf8", service: "#a78bfa", url: "#34d399", image: "#f472b6", repo: "#fbbf24", findings: "#e2e8f0",
  };

  function portPaint(port, list) {
    const colours = list.map((k) => KIND_COLOURS[k]).filter(Boolean);
    if (!port) return;
    port.dataset.kinds = list.join(" ");
    port.title = list.length ? list.join(", ") : "nothing";
    if (!colours.length) {
      port.style.background = "";
      return;
    }
    const step = 100 / colours.length;
    const stops = colours.map((c, i) => c + " " + i * step + "% " + (i + 1) * step + "%");
    port.style.background = "conic-gradient(" + stops.join(", ") + ")";
  }

  // Ports are coloured by the kinds they take and give (the same kinds the validator checks).
  function paintPorts() {
    model.forEach((item, id) => {
      const el = document.getElementById("node-" + idToDf.get(id));
      if (!el) return;
      const info = kindsOf(id);
      portPaint(el.querySelector(".input"), info.accepts.concat(info.findings ? ["findings"] : []));
      portPaint(el.querySelector(".output"), info.emits.concat(["findings"]));
    });
  }

  function nodeClasses(type) {
    const tpl = template(type);
    return "wf-type-" + type + (tpl && tpl.dataset.group ? " group-" + tpl.dataset.group : "");
  }

  function addCanvasNode(node, html) {
    const dfId = editor.addNode(
      node.type, 1, 1, node.x || 0, node.y || 0, nodeClasses(node.type), { id: node.id },
      html || placeholder(node.type),
    );
    dfToId.set(dfId, node.id);
    idToDf.set(node.id, dfId);
    const el = document.getElementById("node-" + dfId);
    if (el) {
      // Reachable with Tab: Enter selects (opens its settings), arrow keys move it.
      el.tabIndex = 0;
      el.setAttribute("role", "button");
      el.setAttribute("aria-label", (node.label || typeLabel(node.type)) + " (" + node.id + ")");
    }
    model.set(node.id, {
      id: node.id, type: node.type, label: node.label || "",
      config: JSON.parse(JSON.stringify(node.config || {})),
    });
    return dfId;
  }

  function rebuild(graph, html) {
    rebuilding = true;
    try {
      editor.clear();
      dfToId.clear();
      idToDf.clear();
      model.clear();
      graph.nodes.forEach((node) => addCanvasNode(node, html && html[node.id]));
      graph.edges.forEach((edge) => {
        if (idToDf.has(edge.from) && idToDf.has(edge.to)) {
          editor.addConnection(idToDf.get(edge.from), idToDf.get(edge.to), "output_1", "input_1");
        }
      });
    } finally {
      rebuilding = false;
    }
    updateEmpty();
  }

  function currentGraph() {
    const data = editor.export().drawflow.Home.data;
    const graph = { nodes: [], edges: [] };
    Object.keys(data).forEach((dfId) => {
      const df = data[dfId];
      const item = model.get(dfToId.get(Number(dfId)));
      if (!item) return;
      const node = { id: item.id, type: item.type, config: item.config, x: Math.round(df.pos_x), y: Math.round(df.pos_y) };
      if (item.label) node.label = item.label;
      graph.nodes.push(node);
      const out = df.outputs.output_1 ? df.outputs.output_1.connections : [];
      out.forEach((c) => graph.edges.push({ from: item.id, to: dfToId.get(Number(c.node)) }));
    });
    return graph;
  }

  function updateNodeHtml(html) {
    Object.keys(html || {}).forEach((id) => {
      const dfId = idToDf.get(id);
      const el = dfId && document.querySelector("#node-" + dfId + " .drawflow_content_node");
      if (el && el.innerHTML !== html[id]) el.innerHTML = html[id];
    });
  }

  function updateEmpty() {
    emptyEl.hidden = model.size > 0;
  }

  // Adopt the server's answer: its graph is the truth from now on.
  function accept(state, { rebuildCanvas = false } = {}) {
    revision = state.revision;
    saved = state.graph;
    kinds = state.kinds || {};
    if (rebuildCanvas) {
      rebuild(state.graph, state.html);
    } else {
      state.graph.nodes.forEach((node) => {
        const item = model.get(node.id);
        if (item) {
          item.label = node.label || "";
          item.config = JSON.parse(JSON.stringify(node.config || {}));
        }
      });
      updateNodeHtml(state.html);
    }
    document.getElementById("workflow-name").textContent = state.name;
    if (undoButton) undoButton.disabled = history.length === 0;
    // The Readiness panel is rendered by the server from the saved graph, after every save.
    const readiness = document.getElementById("readiness");
    if (readiness && state.readiness !== undefined) readiness.innerHTML = state.readiness;
    const summary = document.getElementById("readiness-summary");
    if (summary && state.readiness_summary !== undefined) summary.innerHTML = state.readiness_summary;
    paintPorts();
    updateEmpty();
  }

  // --- Saving --------------------------------------------------------------------------------
  function scheduleSave(delay) {
    if (!canWrite || rebuilding || stale) return;
    dirty = true;
    setStatus("Unsaved changes…");
    clearTimeout(timer);
    timer = setTimeout(flush, delay === undefined ? 500 : delay);
  }

  async function flush({ waitForSettings = true } = {}) {
    clearTimeout(timer);
    timer = null;
    while (inflight) await inflight;
    if (waitForSettings) await formChain;
    if (!dirty || stale) return;
    dirty = false;
    inflight = post(currentGraph(), { remember: true }).finally(() => {
      inflight = null;
    });
    await inflight;
  }

  async function post(graph, { remember }) {
    setStatus("Saving…");
    let response;
    let body;
    try {
      response = await fetch(urls.graph, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
        body: JSON.stringify({ graph, revision }),
      });
      body = await response.json();
    } catch (error) {
      dirty = true;
      setStatus("Not saved: no answer from the server. It will retry on the next change.");
      return;
    }
    if (response.ok) {
      if (remember) history.push(saved);
      if (history.length > 50) history.shift();
      accept(body);
      hideAlert();
      setStatus("Saved · revision " + revision);
    } else if (response.status === 409) {
      markStale(body.revision);
    } else if (response.status === 400 && body.graph) {
      accept(body, { rebuildCanvas: true });
      const messages = (body.errors || []).map((e) => e.message);
      showAlert("Refused: " + (messages.join(" · ") || body.detail));
      flashNodes(body.errors || []);
      setStatus("Saved · revision " + revision + " (last change refused)");
    } else {
      showAlert(body.detail || "Not saved (HTTP " + response.status + ").");
      setStatus("Not saved");
    }
  }

  function markStale(current) {
    stale = true;
    clearTimeout(timer);
    setStatus("Not saved: stale revision");
    showAlert(
      "stale revision: reload — this workflow was saved elsewhere (another tab or person) and is now at revision " +
        current + ". Your change was not saved; reload to continue from the saved version.",
      { reload: true },
    );
  }

  function flashNodes(errors) {
    errors.forEach((error) => {
      const id = error.edge ? error.edge.to : error.node;
      const dfId = idToDf.get(id);
      const el = dfId && document.getElementById("node-" + dfId);
      if (!el) return;
      el.classList.add("refused");
      setTimeout(() => el.classList.remove("refused"), 4000);
    });
  }

  async function refresh() {
    const response = await fetch(urls.graph, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok) return response.json();
    throw new Error("HTTP " + response.status);
  }

  async function undo() {
    await flush(); // a save still on its way may be the change to undo
    if (!history.length || stale) return;
    const previous = history.pop();
    rebuild(previous, null);
    await post(previous, { remember: false });
  }

  // --- Adding, deleting, arranging -------------------------------------------------------------
  function uniqueId(type) {
    const base = type.replace(/_/g, "-");
    if (!model.has(base)) return base;
    let n = 2;
    while (model.has(base + "-" + n)) n += 1;
    return base + "-" + n;
  }

  function clientToCanvas(x, y) {
    const rect = editor.precanvas.getBoundingClientRect();
    return { x: (x - rect.x) / editor.zoom, y: (y - rect.y) / editor.zoom };
  }

  function positionOf(id) {
    const data = editor.drawflow.drawflow.Home.data[idToDf.get(id)];
    return data ? { x: data.pos_x, y: data.pos_y } : null;
  }

  function isFree(x, y) {
    return ![...model.keys()].some((id) => {
      const p = positionOf(id);
      return p && Math.abs(p.x - x) < NODE_W && Math.abs(p.y - y) < ROW_Y - 20;
    });
  }

  // Click-to-add: to the right of the selected node (below its other children), else right
  // of the right-most node, else near the top left of the view.
  function clickPlacement() {
    const anchor = selectedId && model.has(selectedId) ? selectedId : null;
    let x;
    let y;
    if (anchor) {
      const p = positionOf(anchor);
      x = p.x + LAYER_X;
      y = p.y;
    } else if (model.size) {
      const all = [...model.keys()].map(positionOf).filter(Boolean);
      const right = all.reduce((a, b) => (b.x > a.x ? b : a));
      x = right.x + LAYER_X;
      y = right.y;
    } else {
      const box = canvasEl.getBoundingClientRect();
      const p = clientToCanvas(box.x + 40, box.y + 40);
      x = p.x;
      y = p.y;
    }
    let tries = 0;
    while (!isFree(x, y) && tries < 50) {
      y += ROW_Y;
      tries += 1;
    }
    return { x: Math.round(x), y: Math.round(y), anchor };
  }

  function addFromPalette(type, clientX, clientY) {
    if (!canWrite || stale) return;
    let anchor = null;
    let x;
    let y;
    if (clientX === undefined) {
      ({ x, y, anchor } = clickPlacement());
    } else {
      const point = clientToCanvas(clientX, clientY);
      x = Math.round(point.x - NODE_W / 2);
      y = Math.round(point.y - 30);
    }
    const node = { id: uniqueId(type), type, config: {}, x, y };
    const dfId = addCanvasNode(node, null);
    if (anchor && compatible(anchor, node.id)) {
      rebuilding = true; // one save for the node and its edge
      try {
        editor.addConnection(idToDf.get(anchor), dfId, "output_1", "input_1");
      } finally {
        rebuilding = false;
      }
    }
    paintPorts();
    updateEmpty();
    selectNode(node.id);
    if (clientX === undefined && !phone.matches) ensureVisible(dfId);
    scheduleSave(0);
  }

  // Keep a node added by click in view (pan, never zoom).
  function ensureVisible(dfId) {
    const el = document.getElementById("node-" + dfId);
    if (!el) return;
    const view = canvasEl.getBoundingClientRect();
    const r = el.getBoundingClientRect();
    let dx = 0;
    let dy = 0;
    if (r.right > view.right - 24) dx = view.right - 24 - r.right;
    if (r.left + dx < view.left + 24) dx = view.left + 24 - r.left;
    if (r.bottom > view.bottom - 24) dy = view.bottom - 24 - r.bottom;
    if (r.top + dy < view.top + 24) dy = view.top + 24 - r.top;
    if (dx || dy) applyView(editor.canvas_x + dx, editor.canvas_y + dy, editor.zoom);
  }

  // Select a node as a click would (keyboard, click-to-add): Drawflow's state and the panel.
  function selectNode(id) {
    const dfId = idToDf.get(id);
    const el = dfId !== undefined && document.getElementById("node-" + dfId);
    if (!el) return;
    canvasEl.querySelectorAll(".drawflow-node.selected").forEach((n) => n.classList.remove("selected"));
    el.classList.add("selected");
    editor.node_selected = el;
    editor.first_click = el;
    selectedId = id;
    editor.dispatch("nodeSelected", dfId);
  }

  function connectNodes(fromId, toId) {
    const from = idToDf.get(fromId);
    const to = idToDf.get(toId);
    if (from === undefined || to === undefined) return;
    editor.addConnection(from, to, "output_1", "input_1"); // fires connectionCreated: saved
    flush().then(() => showNodePanel(fromId));
  }

  function disconnectNodes(fromId, toId) {
    const from = idToDf.get(fromId);
    const to = idToDf.get(toId);
    if (from === undefined || to === undefined) return;
    editor.removeSingleConnection(from, to, "output_1", "input_1"); // fires connectionRemoved
    flush().then(() => showNodePanel(fromId));
  }

  function deleteNode(id) {
    const dfId = idToDf.get(id);
    if (dfId !== undefined) editor.removeNodeId("node-" + dfId);
  }

  function autoLayout() {
    const graph = currentGraph();
    const parents = new Map(graph.nodes.map((n) => [n.id, []]));
    graph.edges.forEach((e) => parents.get(e.to).push(e.from));
    const layer = new Map();
    const depth = (id, seen) => {
      if (layer.has(id)) return layer.get(id);
      if (seen.has(id)) return 0; // a cycle cannot be saved; do not loop on one
      seen.add(id);
      const d = parents.get(id).reduce((m, p) => Math.max(m, depth(p, seen) + 1), 0);
      layer.set(id, d);
      return d;
    };
    graph.nodes.forEach((n) => depth(n.id, new Set()));
    const rows = new Map();
    graph.nodes.forEach((n) => {
      const d = layer.get(n.id);
      const row = rows.get(d) || 0;
      rows.set(d, row + 1);
      moveNode(idToDf.get(n.id), 60 + d * LAYER_X, 60 + row * ROW_Y);
    });
    fit();
    scheduleSave(0);
  }

  function moveNode(dfId, x, y) {
    const data = editor.drawflow.drawflow.Home.data[dfId];
    const el = document.getElementById("node-" + dfId);
    if (!data || !el) return;
    data.pos_x = x;
    data.pos_y = y;
    el.style.left = x + "px";
    el.style.top = y + "px";
    editor.updateConnectionNodes("node-" + dfId);
  }

  // Zoom and place the canvas so every node is in view (at most 100%).
  function nodesBox() {
    const box = { left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity };
    canvasEl.querySelectorAll(".drawflow-node").forEach((el) => {
      const r = el.getBoundingClientRect();
      box.left = Math.min(box.left, r.left);
      box.top = Math.min(box.top, r.top);
      box.right = Math.max(box.right, r.right);
      box.bottom = Math.max(box.bottom, r.bottom);
    });
    return box;
  }

  function applyView(x, y, zoom) {
    editor.zoom = zoom;
    editor.zoom_last_value = zoom;
    editor.canvas_x = x;
    editor.canvas_y = y;
    editor.precanvas.style.transform = "translate(" + x + "px, " + y + "px) scale(" + zoom + ")";
  }

  function fit() {
    applyView(0, 0, 1);
    if (!model.size) return;
    const view = canvasEl.getBoundingClientRect();
    const margin = 32;
    let box = nodesBox();
    // Below ~60% node text is unreadable: then show the start of the graph and let the user pan.
    const zoom = Math.max(0.6, Math.min(1,
      (view.width - 2 * margin) / (box.right - box.left),
      (view.height - 2 * margin) / (box.bottom - box.top)));
    applyView(0, 0, zoom);
    box = nodesBox();
    const x = view.left + Math.max(margin, (view.width - (box.right - box.left)) / 2) - box.left;
    const y = view.top + Math.max(margin, (view.height - (box.bottom - box.top)) / 2) - box.top;
    applyView(Math.round(x), Math.round(y), zoom);
  }

  // --- The side panel (HTMX partials) ----------------------------------------------------------
  async function showNodePanel(id) {
    await sendPendingSettings(); // edits in the open panel are saved, never thrown away
    if (model.has(id) && !saved.nodes.some((n) => n.id === id)) await flush();
    return window.htmx.ajax("GET", urls.node.replace("__node__", encodeURIComponent(id)), { target: "#panel", swap: "innerHTML" });
  }

  // --- Node settings save themselves (debounced), like the graph ------------------------------
  function saveSettings(form) {
    formChain = formChain.then(async () => {
      if (!document.body.contains(form)) return null;
      if (formDirty === form) formDirty = null;
      await flush({ waitForSettings: false }); // the canvas first: the form carries its revision
      if (stale) return null;
      return window.htmx.ajax("POST", form.getAttribute("hx-post"), {
        source: form, target: "#node-form-status", swap: "innerHTML",
      });
    }).catch(() => null);
    return formChain;
  }

  function sendPendingSettings() {
    clearTimeout(formTimer);
    formTimer = null;
    if (formDirty && document.body.contains(formDirty)) return saveSettings(formDirty);
    formDirty = null;
    return formChain;
  }

  function settingsEdited(event) {
    const form = event.target.closest && event.target.closest("form[data-autosave]");
    if (!form || !canWrite || stale) return;
    formDirty = form;
    const note = document.getElementById("node-form-status");
    if (note) note.textContent = "Unsaved changes…";
    clearTimeout(formTimer);
    formTimer = setTimeout(() => sendPendingSettings(), event.type === "change" ? 150 : 700);
  }
  document.body.addEventListener("input", settingsEdited);
  document.body.addEventListener("change", settingsEdited);
  document.body.addEventListener("submit", (event) => {
    const form = event.target.closest && event.target.closest("form[data-autosave]");
    if (!form) return;
    event.preventDefault(); // htmx does not send it: the one queue below does
    event.stopPropagation();
    formDirty = form;
    sendPendingSettings();
  }, true);

  function showWorkflowPanel(button) {
    const loaded = window.htmx.ajax("GET", urls.panel, { target: "#panel", swap: "innerHTML" });
    // On a phone the panel is below the canvas: bring it into view when asked for.
    if (button && button.dataset && window.matchMedia("(max-width: 900px)").matches) {
      loaded.then(() => document.getElementById("panel").scrollIntoView({ behavior: "smooth" }));
    }
  }

  // A panel form is sent after the canvas is saved, with the revision the canvas is at.
  document.body.addEventListener("htmx:confirm", (event) => {
    const form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("[data-builder-form]");
    if (!form || (!dirty && !inflight && !timer)) return;
    event.preventDefault();
    flush().then(() => event.detail.issueRequest(true));
  });
  document.body.addEventListener("htmx:configRequest", (event) => {
    const form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("[data-builder-form]");
    if (form && form.querySelector('input[name="revision"]')) event.detail.parameters.revision = String(revision);
  });
  document.body.addEventListener("builder:saved", async (event) => {
    // The next settings save must carry the new revision at once, before the refresh is back.
    if (event.detail && event.detail.revision) revision = event.detail.revision;
    try {
      const state = await refresh();
      if (state.revision !== revision) history.push(saved);
      accept(state);
      hideAlert();
      setStatus("Saved · revision " + revision);
    } catch (error) {
      setStatus("Saved; reload to see the latest state.");
    }
  });
  document.body.addEventListener("builder:stale", (event) => markStale(event.detail.revision));

  // --- Wiring ----------------------------------------------------------------------------------
  editor.on("nodeRemoved", (dfId) => {
    const id = dfToId.get(Number(dfId));
    dfToId.delete(Number(dfId));
    idToDf.delete(id);
    model.delete(id);
    updateEmpty();
    scheduleSave(0);
    const panel = document.querySelector("[data-node-panel]");
    if (panel && panel.dataset.nodePanel === id) showWorkflowPanel();
  });
  editor.on("connectionCreated", () => scheduleSave(0));
  editor.on("connectionRemoved", () => scheduleSave(0));
  editor.on("nodeMoved", () => scheduleSave(600));
  editor.on("nodeSelected", (dfId) => {
    selectedId = dfToId.get(Number(dfId));
    showNodePanel(selectedId);
  });
  editor.on("nodeUnselected", () => {
    // A click on the empty canvas unselects; a click in the panel keeps the selection.
    if (!editor.node_selected) selectedId = null;
  });
  // While an edge is dragged, the inputs that would refuse it are dimmed.
  editor.on("connectionStart", ({ output_id: dfId }) => {
    const fromId = dfToId.get(Number(dfId));
    model.forEach((item, id) => {
      const el = document.getElementById("node-" + idToDf.get(id));
      if (el && id !== fromId) el.classList.toggle("port-refuses", !compatible(fromId, id));
    });
    canvasEl.classList.add("connecting");
  });
  const endConnecting = () => {
    canvasEl.classList.remove("connecting");
    canvasEl.querySelectorAll(".port-refuses").forEach((el) => el.classList.remove("port-refuses"));
  };
  editor.on("connectionCancel", endConnecting);
  editor.on("mouseUp", endConnecting);

  if (!canWrite) {
    canvasEl.addEventListener("click", (event) => {
      const el = event.target.closest(".drawflow-node");
      if (el) showNodePanel(dfToId.get(Number(el.id.replace("node-", ""))));
    });
  }

  // A drag that ends where it started can also fire a click on the dragged item: add once.
  let lastDrag = { type: "", at: 0 };
  root.querySelectorAll(".palette-item[draggable]").forEach((item) => {
    item.addEventListener("dragstart", (event) => {
      lastDrag = { type: item.dataset.type, at: Date.now() };
      event.dataTransfer.setData("text/x-outpost-node", item.dataset.type);
      event.dataTransfer.effectAllowed = "copy";
    });
    item.addEventListener("dragend", () => { lastDrag = { type: item.dataset.type, at: Date.now() }; });
    item.addEventListener("click", () => {
      if (lastDrag.type !== item.dataset.type || Date.now() - lastDrag.at > 400) addFromPalette(item.dataset.type);
    });
  });
  canvasEl.addEventListener("dragover", (event) => {
    if (canWrite && event.dataTransfer.types.includes("text/x-outpost-node")) event.preventDefault();
  });
  canvasEl.addEventListener("drop", (event) => {
    const type = event.dataTransfer.getData("text/x-outpost-node");
    if (!type) return;
    event.preventDefault();
    addFromPalette(type, event.clientX, event.clientY);
  });

  const actions = {
    undo,
    layout: autoLayout,
    "zoom-in": () => editor.zoom_in(),
    "zoom-out": () => editor.zoom_out(),
    "zoom-reset": fit,
    "show-workflow": showWorkflowPanel,
    "delete-node": (button) => deleteNode(button.dataset.node),
    connect: (button) => {
      const select = document.getElementById("connect-to");
      if (select && select.value) connectNodes(button.dataset.node, select.value);
    },
    disconnect: (button) => disconnectNodes(button.dataset.from, button.dataset.to),
    "toggle-palette": () => {
      const box = root.querySelector(".palette-box");
      box.open = !box.open;
    },
    reload: () => window.location.reload(),
    dismiss: () => { alertEl.hidden = true; },
  };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (button && root.contains(button) && actions[button.dataset.action]) {
      event.preventDefault();
      actions[button.dataset.action](button);
    }
  });

  // Typing in the panel must not delete the selected node (Drawflow listens for Delete on the
  // whole document); Ctrl/Cmd+Z outside form fields undoes the last change.
  window.addEventListener("keydown", (event) => {
    const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    if (typing && (event.key === "Delete" || event.key === "Backspace")) {
      event.stopPropagation();
      return;
    }
    if (!typing && canWrite && (event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
      return;
    }
    // A node with the keyboard focus: Enter or Space selects it, the arrow keys move it
    // (Shift: further), Delete removes it (Drawflow's own handler, on the selected node).
    const nodeEl = !typing && event.target.closest && event.target.closest(".drawflow-node");
    if (!nodeEl || !canvasEl.contains(nodeEl)) return;
    const id = dfToId.get(Number(nodeEl.id.replace("node-", "")));
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      selectNode(id);
      return;
    }
    const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (steps[event.key] && canWrite && !stale) {
      event.preventDefault();
      event.stopPropagation();
      const p = positionOf(id);
      const d = event.shiftKey ? 100 : 20;
      moveNode(idToDf.get(id), p.x + steps[event.key][0] * d, p.y + steps[event.key][1] * d);
      scheduleSave(600);
      return;
    }
    if (event.key === "Delete" && canWrite && editor.node_selected !== nodeEl) selectNode(id);
  }, true);
  window.addEventListener("beforeunload", (event) => {
    if (dirty) flush();
    if (formDirty) {
      sendPendingSettings();
      event.preventDefault(); // a settings save is on its way: ask before leaving
    }
  });

  // On a phone the palette starts folded, so the canvas is on the first screen.
  const paletteBox = root.querySelector(".palette-box");
  if (paletteBox && phone.matches) paletteBox.open = false;

  // --- Start ---------------------------------------------------------------------------------
  refresh()
    .then((state) => {
      accept(state, { rebuildCanvas: true });
      fit();
      setStatus(canWrite ? "Saved · revision " + revision : "Read only · revision " + revision);
    })
    .catch(() => showAlert("The workflow could not be loaded. Reload the page.", { reload: true }));
})();
