// jobs.js: the Push jobs views — the organization's job list (live from the
// organization feed) and one job's page (per-node grid, event timeline,
// captured output, abort).
import { Feed } from "./feed.js";
import { get, post, el, chip, setChip } from "./api.js";

const finished = new Set(["complete", "quorum_failed", "timed_out", "aborted", "crashed"]);
const jobEvents = ["start", "quorum_vote", "quorum_succeeded", "run_start", "run_complete", "rehab", "job_complete", "summary"];
const voteState = { success: "ready", failure: "nacked", down: "unavailable", client_died_while_voting: "crashed",
  lost_availability: "unavailable", voting_timeout: "unavailable", unexpected_commit: "crashed" };
const runState = { success: "succeeded", failure: "failed", run_nacked: "nacked", run_nacked_while_running: "nacked",
  crashed: "crashed", client_died_while_running: "crashed" };

const orgPath = (org) => `/organizations/${encodeURIComponent(org)}/pushy`;

export class JobList {
  constructor(org) {
    this.org = org;
    this.rows = new Map();
    this.body = document.querySelector("#jobs tbody");
    this.body.replaceChildren();
    document.getElementById("jobs-empty").hidden = false;
    this.feed = new Feed(`org:${org}`, `${orgPath(org)}/job_status_feed`, ["start", "job_complete", "start_of_history"], {
      onEvent: (name, d) => { if (d.job) this.refresh(d.job); },
      onOpen: (first) => { if (first) this.firstPaint(); },
    });
  }

  async firstPaint() {
    try {
      const jobs = await get(`${orgPath(this.org)}/jobs?limit=100`);
      for (const j of jobs.reverse()) this.upsert(j);
    } catch (e) { document.getElementById("jobs-empty").textContent = String(e.message); }
  }

  async refresh(id) {
    try { this.upsert(await get(`${orgPath(this.org)}/jobs/${id}`)); } catch (e) { console.warn("job", id, e); }
  }

  upsert(j) {
    let r = this.rows.get(j.id);
    if (!r) {
      r = { status: chip(j.status) };
      r.tr = el("tr", { dataset: { job: j.id } },
        el("th", { scope: "row" }, el("a", { href: `#job/${encodeURIComponent(this.org)}/${j.id}` }, el("code", null, j.id.slice(0, 12)))),
        el("td", null, j.command), el("td", null, r.status), el("td", null, el("code", null, j.requested_by || "")), el("td", null, j.created_at || ""));
      this.rows.set(j.id, r);
      this.body.prepend(r.tr);
      document.getElementById("jobs-empty").hidden = true;
    }
    setChip(r.status, j.status);
    r.tr.dataset.status = j.status;
  }

  close() { this.feed.close(); }
}

// startJob posts the start form; it returns the new job's id and the id of
// its start event (Herald-Event-Id), from which the job page follows it.
export async function startJob(org, form) {
  const spec = {
    command: form.command, nodes: form.nodes.split(",").map((s) => s.trim()).filter(Boolean),
    run_timeout: form.runTimeout, capture_output: form.capture,
  };
  if (form.quorum) spec.quorum = form.quorum;
  const { body, headers } = await post(`${orgPath(org)}/jobs`, spec);
  return { id: body.uri.split("/").pop(), startEventId: headers.get("Herald-Event-Id") || "", command: spec.command };
}

export class JobPage {
  // started, when the page started this job itself, is what startJob
  // returned: the feed resumes after the start event, so a job that ends
  // before the feed opens still shows every event (not only a summary).
  constructor(org, id, started) {
    Object.assign(this, { org, id, cells: new Map(), summary: null });
    document.getElementById("job-id").textContent = id;
    this.status = document.getElementById("job-status");
    this.grid = document.getElementById("grid");
    this.timeline = document.getElementById("timeline");
    this.outputs = document.getElementById("outputs");
    this.error = document.getElementById("job-error");
    this.abortBtn = document.getElementById("abort");
    for (const n of [this.grid, this.timeline, this.outputs]) n.replaceChildren();
    this.error.textContent = "";
    setChip(this.status, "…");
    this.abortBtn.hidden = true;
    this.abortBtn.onclick = () => this.abort();
    this.load();
    let lastId = "";
    if (started && started.id === id && started.startEventId) {
      lastId = started.startEventId;
      this.timeline.append(el("li", { dataset: { event: "start" } }, `start  ${started.command} (started from this page)`));
    }
    this.feed = new Feed(`job:${id}`, `${orgPath(org)}/job_status_feed/${id}`, jobEvents, {
      onEvent: (name, d) => this.event(name, d),
      onGone: (status) => { if (status === 404) this.error.textContent = "No such job visible to this key."; },
    }, lastId);
  }

  async load() {
    try { this.apply(await get(`${orgPath(this.org)}/jobs/${this.id}`)); } catch (e) { this.error.textContent = String(e.message); }
  }

  // apply paints a job summary: the authoritative node states.
  apply(j) {
    this.summary = j;
    setChip(this.status, j.status);
    document.getElementById("job-meta").textContent =
      `${j.command} · quorum ${j.quorum} · run timeout ${j.run_timeout}s · by ${j.requested_by} · ${j.created_at}`;
    for (const [state, nodes] of Object.entries(j.nodes || {})) for (const n of nodes) this.cell(n, state);
    this.abortBtn.hidden = finished.has(j.status);
    if (finished.has(j.status) && j.capture_output && !this.outputsLoaded) { this.outputsLoaded = true; this.loadOutputs(); }
  }

  cell(node, state) {
    let c = this.cells.get(node);
    if (!c) {
      c = { chip: chip(state) };
      c.li = el("li", { dataset: { node } }, el("strong", null, node), el("br"), c.chip);
      this.cells.set(node, c);
      this.grid.append(c.li);
    }
    setChip(c.chip, state);
    c.li.dataset.state = state;
  }

  event(name, d) {
    if (name === "summary") { this.feed.close(); this.apply(d); return; }
    const what = d.node ? `${d.node}${d.status ? " " + d.status : ""}` : (d.status || "");
    this.timeline.append(el("li", { dataset: { event: name } }, `${d.timestamp || ""}  ${name}  ${what}`));
    if (name === "quorum_vote" && voteState[d.status]) this.cell(d.node, voteState[d.status]);
    if (name === "run_start") this.cell(d.node, "running");
    if (name === "run_complete" && runState[d.status]) this.cell(d.node, runState[d.status]);
    if (name === "job_complete") { this.feed.close(); setChip(this.status, d.status); this.load(); }
  }

  async loadOutputs() {
    this.outputs.replaceChildren(el("h3", null, "Output"));
    for (const node of [...this.cells.keys()].sort()) {
      for (const stream of ["stdout", "stderr"]) {
        try {
          const resp = await fetch(`${orgPath(this.org)}/jobs/${this.id}/output/${encodeURIComponent(node)}/${stream}`, { credentials: "include" });
          if (!resp.ok) continue;
          const text = await resp.text();
          if (text) this.outputs.append(el("h4", null, `${node} ${stream}`), el("pre", { dataset: { node, stream } }, text));
        } catch { /* no output */ }
      }
    }
  }

  async abort() {
    this.error.textContent = "";
    try { this.apply((await post(`${orgPath(this.org)}/jobs/${this.id}/abort`, {})).body); } catch (e) { this.error.textContent = String(e.message); }
  }

  close() { this.feed.close(); }
}
