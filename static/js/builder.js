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

  async function flush() {
    clearTimeout(timer);
    timer = null;
    while (inflight) await inflight;
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

  function addFromPalette(type, clientX, clientY) {
    if (!canWrite || stale) return;
    let point;
    if (clientX === undefined) {
      const box = canvasEl.getBoundingClientRect();
      point = clientToCanvas(box.x + box.width / 2, box.y + box.height / 3);
      point.x += (model.size % 4) * 24;
      point.y += (model.size % 4) * 24;
    } else {
      point = clientToCanvas(clientX, clientY);
    }
    const node = { id: uniqueId(type), type, config: {}, x: Math.round(point.x - NODE_W / 2), y: Math.round(point.y - 30) };
    addCanvasNode(node, null);
    updateEmpty();
    scheduleSave(0);
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
    if (model.has(id) && !saved.nodes.some((n) => n.id === id)) await flush();
    window.htmx.ajax("GET", urls.node.replace("__node__", encodeURIComponent(id)), { target: "#panel", swap: "innerHTML" });
  }

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
  document.body.addEventListener("builder:saved", async () => {
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
  editor.on("nodeSelected", (dfId) => showNodePanel(dfToId.get(Number(dfId))));

  if (!canWrite) {
    canvasEl.addEventListener("click", (event) => {
      const el = event.target.closest(".drawflow-node");
      if (el) showNodePanel(dfToId.get(Number(el.id.replace("node-", ""))));
    });
  }

  let lastDragAt = 0; // a drag that ends where it started can also fire a click: add once
  root.querySelectorAll(".palette-item[draggable]").forEach((item) => {
    item.addEventListener("dragstart", (event) => {
      lastDragAt = Date.now();
      event.dataTransfer.setData("text/x-outpost-node", item.dataset.type);
      event.dataTransfer.effectAllowed = "copy";
    });
    item.addEventListener("dragend", () => { lastDragAt = Date.now(); });
    item.addEventListener("click", () => {
      if (Date.now() - lastDragAt > 400) addFromPalette(item.dataset.type);
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
    }
  }, true);
  window.addEventListener("beforeunload", () => {
    if (dirty) flush();
  });

  // --- Start ---------------------------------------------------------------------------------
  refresh()
    .then((state) => {
      accept(state, { rebuildCanvas: true });
      fit();
      setStatus(canWrite ? "Saved · revision " + revision : "Read only · revision " + revision);
    })
    .catch(() => showAlert("The workflow could not be loaded. Reload the page.", { reload: true }));
})();
