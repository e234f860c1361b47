// raylite dashboard: polls the head's JSON API (/api/...) every second and renders the page shown.
"use strict";

const POLL_MS = 1000;
let page = "overview";
let selectedTask = null;
let selectedActor = null;
let timer = null;

const $ = (sel) => document.querySelector(sel);

function esc(value) {
  return String(value === null || value === undefined ? "" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
const short = (id) => (id ? esc(id.slice(0, 12)) : "");

function num(x) {
  return Number.isInteger(x) ? String(x) : x.toFixed(2).replace(/\.?0+$/, "");
}

function bytes(n) {
  const units = [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]];
  for (const [unit, size] of units) if (n >= size) return (n / size).toFixed(1) + " " + unit;
  return n + " B";
}

function bar(used, total, label, testid) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  return `<div class="bar" data-testid="${esc(testid)}"><div class="fill" style="width:${pct.toFixed(1)}%"></div>` +
    `<span>${esc(label)}</span></div>`;
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function shownResources(total) {
  const names = Object.keys(total).filter((k) => !k.startsWith("node:") && !k.endsWith("memory"));
  const first = ["CPU", "GPU"].filter((k) => names.includes(k));
  return first.concat(names.filter((k) => !first.includes(k)).sort());
}

function card(label, value, testid) {
  return `<div class="card"><div class="value" data-testid="${esc(testid)}">${esc(value)}</div>` +
    `<div class="label">${esc(label)}</div></div>`;
}

// ---- overview -----------------------------------------------------------------------

async function renderOverview() {
  const st = (await api("/api/status")).result;
  $("#session").textContent = st.session_name || "";
  const alive = st.nodes.filter((n) => n.state === "ALIVE");
  const total = st.resources_total, avail = st.resources_available;
  const counts = st.tasks_by_head_state;
  const running = counts.RUNNING || 0;
  const pending = (counts.WAITING || 0) + (counts.READY || 0) + (counts.WAITING_FOR_ACTOR || 0);
  let cards = card("nodes alive", `${alive.length}`, "nodes-alive");
  for (const name of shownResources(total)) {
    cards += card(`${name} used / total`, `${num(total[name] - (avail[name] || 0))} / ${num(total[name])}`,
      `resource-${name}`);
  }
  cards += card("tasks running", running, "tasks-running");
  cards += card("tasks pending", pending, "tasks-pending");
  cards += card("tasks finished (kept)", st.num_finished_kept, "tasks-finished");
  cards += card("actors alive", st.num_actors, "actors-alive");
  cards += card("objects", st.num_objects, "objects-count");
  $("#cards").innerHTML = cards;
  $("#nodes-table tbody").innerHTML = st.nodes.map((n) => {
    const res = shownResources(n.resources_total).map((k) => {
      const t = n.resources_total[k], used = t - (n.resources_available[k] || 0);
      return bar(used, t, `${k} ${num(used)} / ${num(t)}`, `node-${n.node_id.slice(0, 12)}-${k}`);
    }).join("");
    const store = bar(n.object_store_used, n.object_store_capacity,
      `${bytes(n.object_store_used)} / ${bytes(n.object_store_capacity)} (${n.num_objects} objects)`,
      `node-${n.node_id.slice(0, 12)}-store`);
    return `<tr class="${n.state === "ALIVE" ? "" : "dead"}"><td>${short(n.node_id)}${n.is_head_node ? " <em>head</em>" : ""}</td>` +
      `<td>${esc(n.address || n.node_ip)}</td><td>${esc(n.state)}</td><td>${res}</td><td>${store}</td></tr>`;
  }).join("");
  const lines = [];
  for (const [shape, count] of Object.entries(st.pending_demands)) lines.push(`${esc(shape)}: ${count} waiting for room`);
  for (const [shape, count] of Object.entries(st.infeasible_demands)) lines.push(`<span class="error">${esc(shape)}: ${count} no node can ever run</span>`);
  $("#demands").innerHTML = lines.length ? lines.map((l) => `<div>${l}</div>`).join("") : '<p class="muted">No resource demand waiting.</p>';
}

// ---- tasks --------------------------------------------------------------------------

function duration(t) {
  if (t.start_time_ms == null) return "";
  const end = t.end_time_ms == null ? Date.now() : t.end_time_ms;
  return ((end - t.start_time_ms) / 1000).toFixed(2) + " s";
}

function story(events) {
  if (!events || !events.length) return '<p class="muted">No story kept.</p>';
  return '<ol class="story">' + events.map((e) =>
    `<li><b>${esc(e.state)}</b> <span class="muted">${new Date(e.created_ms).toLocaleTimeString()}</span><br>` +
    `${esc(e.cause)} <span class="muted">(${esc(e.event)})</span></li>`).join("") + "</ol>";
}

async function renderTasks() {
  const summary = (await api("/api/summary/tasks")).result.cluster;
  const byState = {};
  for (const entry of Object.values(summary.summary)) {
    for (const [s, c] of Object.entries(entry.state_counts)) byState[s] = (byState[s] || 0) + c;
  }
  $("#task-states").innerHTML = Object.keys(byState).sort().map((s) => card(s, byState[s], `state-${s}`)).join("") ||
    '<p class="muted">No tasks yet.</p>';
  $("#task-summary tbody").innerHTML = Object.values(summary.summary).map((e) =>
    `<tr><td>${esc(e.func_or_class_name)}</td><td>${esc(e.type)}</td><td>` +
    Object.entries(e.state_counts).map(([s, c]) => `<span class="pill">${esc(s)} ${c}</span>`).join(" ") +
    "</td></tr>").join("");
  const params = new URLSearchParams({ limit: "100", detail: "1" });
  const search = $("#task-search").value.trim();
  if (search) params.set("search", search);
  const state = $("#task-state-filter").value;
  if (state) params.append("filter", `state=${state}`);
  const tasks = await api(`/api/tasks?${params}`);
  $("#task-count").textContent = `${tasks.num_after_truncation} shown of ${tasks.num_filtered} matching`;
  $("#tasks-table tbody").innerHTML = tasks.result.map((t) =>
    `<tr data-id="${esc(t.task_id)}" class="${t.task_id === selectedTask ? "selected" : ""}">` +
    `<td class="mono">${short(t.task_id)}</td><td>${esc(t.name)}</td>` +
    `<td><span class="state ${esc(t.state)}">${esc(t.state)}</span></td><td class="mono">${short(t.node_id)}</td>` +
    `<td>${duration(t)}</td></tr>`).join("");
  if (selectedTask) await renderTaskDetail();
}

async function renderTaskDetail() {
  try {
    const t = (await api(`/api/tasks/${selectedTask}`)).result;
    $("#task-detail").innerHTML = `<h3>${esc(t.name)}</h3><p class="mono">${esc(t.task_id)}</p>` +
      `<p>State <b>${esc(t.state)}</b> (head: ${esc(t.head_state)}), attempt ${t.attempt_number}, ` +
      `node <span class="mono">${short(t.node_id)}</span></p>` +
      (t.error_message ? `<p class="error">${esc(t.error_type)}: ${esc(t.error_message)}</p>` : "") +
      (t.state === "FINISHED" || t.state === "FAILED" ? "" : await waitingFor(t.task_id)) +
      `<h4>Story</h4>${story(t.events)}`;
  } catch (err) {
    $("#task-detail").innerHTML = `<p class="muted">${esc(err.message)}</p>`;
  }
}

// Why an unfinished task is not done (/api/explain): its line and its chain of arguments.
async function waitingFor(taskId) {
  try {
    const why = (await api(`/api/explain?id=${encodeURIComponent(taskId)}`)).result;
    return '<h4>Why it is not done</h4><ul class="explain">' + why.reasons.map((r) =>
      `<li style="margin-left:${r.depth * 1.5}em">${esc(r.text)}</li>`).join("") + "</ul>";
  } catch (err) {
    return "";
  }
}

// ---- actors, objects, placement groups ----------------------------------------------

async function renderActors() {
  const actors = (await api("/api/actors?detail=1&limit=500")).result;
  $("#actors-table tbody").innerHTML = actors.map((a) =>
    `<tr data-id="${esc(a.actor_id)}" class="${a.actor_id === selectedActor ? "selected" : ""}">` +
    `<td class="mono">${short(a.actor_id)}</td><td>${esc(a.class_name)}</td><td>${esc(a.name)}</td>` +
    `<td><span class="state ${esc(a.state)}">${esc(a.state)}</span></td><td class="mono">${short(a.node_id)}</td>` +
    `<td>${a.num_restarts}</td><td>${a.pending_calls} / ${a.running_calls}</td></tr>`).join("") ||
    '<tr><td colspan="7" class="muted">No actors.</td></tr>';
  const a = actors.find((x) => x.actor_id === selectedActor);
  if (a) {
    $("#actor-detail").innerHTML = `<h3>${esc(a.class_name)} ${esc(a.name)}</h3><p class="mono">${esc(a.actor_id)}</p>` +
      (a.death_cause ? `<p class="error">${esc(a.death_cause)}</p>` : "") + `<h4>Story</h4>${story(a.events)}`;
  }
}

async function renderObjects() {
  const objects = await api("/api/objects?detail=1&limit=500");
  $("#objects-table tbody").innerHTML = objects.result.map((o) =>
    `<tr><td class="mono">${short(o.object_id)}</td><td>${bytes(o.object_size)}</td>` +
    `<td class="mono">${o.inline ? "inline (head)" : o.locations.map(short).join(", ")}</td>` +
    `<td class="mono">${o.referenced_by.map(short).join(", ")}${o.pins ? ` +${o.pins} pins` : ""}</td>` +
    `<td>${esc(o.reference_type)}</td><td>${esc(o.task_status)}</td></tr>`).join("") ||
    '<tr><td colspan="6" class="muted">No objects.</td></tr>';
}

async function renderPlacementGroups() {
  const pgs = (await api("/api/placement_groups?detail=1&limit=500")).result;
  $("#pgs-table tbody").innerHTML = pgs.map((p) =>
    `<tr><td class="mono">${short(String(p.placement_group_id))}</td><td>${esc(p.name)}</td><td>${esc(p.state)}</td>` +
    `<td>${esc(p.strategy)}</td><td>${p.bundles.map((b) => esc(JSON.stringify(b.unit_resources))).join(" ")}</td></tr>`).join("") ||
    '<tr><td colspan="5" class="muted">No placement groups.</td></tr>';
}

// ---- logs: a node's files, one followed (read from where the last poll stopped) -----------

const logView = { node: "", name: "", offset: 0, started: false };
const LOG_KEEP_CHARS = 2_000_000; // the page keeps the end of a long log only

async function renderLogs() {
  const nodes = (await api("/api/nodes")).result.filter((n) => n.state === "ALIVE");
  const select = $("#log-node");
  const ids = nodes.map((n) => n.node_id);
  if (select.dataset.ids !== ids.join(",")) {
    select.innerHTML = nodes.map((n) => `<option value="${esc(n.node_id)}">${short(n.node_id)} (${esc(n.node_ip)})` +
      `${n.is_head_node ? " head" : ""}</option>`).join("");
    select.dataset.ids = ids.join(",");
    if (ids.includes(logView.node)) select.value = logView.node;
  }
  if (!ids.includes(logView.node)) chooseLogNode(select.value);
  if (!logView.node) return;
  const listing = (await api(`/api/logs?node=${encodeURIComponent(logView.node)}`)).result;
  $("#log-dir").textContent = listing.log_dir;
  $("#log-files tbody").innerHTML = listing.files.map((f) =>
    `<tr data-name="${esc(f.name)}" class="${f.name === logView.name ? "selected" : ""}">` +
    `<td class="mono">${esc(f.name)}</td><td>${bytes(f.size)}</td></tr>`).join("") ||
    '<tr><td colspan="2" class="muted">No log files.</td></tr>';
  if (!logView.name) return;
  const name = logView.name;
  const q = `/api/logs/file?node=${encodeURIComponent(logView.node)}&name=${encodeURIComponent(name)}` +
    (logView.started ? `&offset=${logView.offset}` : "&tail=1000");
  const got = (await api(q)).result;
  if (name !== logView.name) return; // another file was chosen meanwhile
  if (got.data) {
    const pre = $("#log-text");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = (pre.textContent + got.data).slice(-LOG_KEEP_CHARS);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }
  logView.offset = got.end_offset;
  logView.started = true;
}

function chooseLogNode(node) {
  logView.node = node || "";
  chooseLogFile("");
}

function chooseLogFile(name) {
  logView.name = name;
  logView.offset = 0;
  logView.started = false;
  $("#log-name").textContent = name || "Select a file to follow it.";
  $("#log-text").textContent = "";
}

// ---- the loop -----------------------------------------------------------------------

const RENDER = {
  overview: renderOverview,
  tasks: renderTasks,
  actors: renderActors,
  objects: renderObjects,
  "placement-groups": renderPlacementGroups,
  logs: renderLogs,
};

async function tick() {
  clearTimeout(timer);
  try {
    await RENDER[page]();
    $("#error").hidden = true;
    $("#live").classList.remove("stale");
  } catch (err) {
    $("#error").textContent = `Cannot reach the head: ${err.message}`;
    $("#error").hidden = false;
    $("#live").classList.add("stale");
  }
  timer = setTimeout(tick, POLL_MS);
}

function show() {
  page = (location.hash || "#overview").slice(1);
  if (!RENDER[page]) page = "overview";
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== `page-${page}`;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  tick();
}

$("#tasks-table").addEventListener("click", (ev) => {
  const row = ev.target.closest("tr[data-id]");
  if (row) { selectedTask = row.dataset.id; tick(); }
});
$("#actors-table").addEventListener("click", (ev) => {
  const row = ev.target.closest("tr[data-id]");
  if (row) { selectedActor = row.dataset.id; tick(); }
});
$("#log-node").addEventListener("change", (ev) => { chooseLogNode(ev.target.value); tick(); });
$("#log-files").addEventListener("click", (ev) => {
  const row = ev.target.closest("tr[data-name]");
  if (row) { chooseLogFile(row.dataset.name); tick(); }
});
$("#task-search").addEventListener("input", () => tick());
$("#task-state-filter").addEventListener("change", () => tick());
window.addEventListener("hashchange", show);
show();
