// app.js: sign-in, navigation between views, the connection banner, and
// sign-out. Views: sessions.js, tasks.js, jobs.js, nodes.js; feeds: feed.js.
import * as api from "./api.js";
import { onConnectionChange, connectionState, stats } from "./feed.js";
import { Sessions } from "./sessions.js";
import { Tasks } from "./tasks.js";
import { JobList, JobPage, startJob } from "./jobs.js";
import { Nodes } from "./nodes.js";

const $ = (id) => document.getElementById(id);
const views = ["sessions", "tasks", "jobs", "job", "nodes"];
let s = null; // the signed-in page's state
let started = null; // the job this page started last (jobs.js startJob)

const bannerText = { connected: "connected", reconnecting: "reconnecting…", resumed: "resumed", offline: "signed out" };

// bannerLogMax bounds the banner's history kept for tests.
const bannerLogMax = 100;

function banner() {
  const state = s ? connectionState() : "offline";
  const log = stats.banner;
  if (log[log.length - 1] !== state) { log.push(state); if (log.length > bannerLogMax) log.shift(); }
  $("banner").dataset.state = state;
  $("banner").textContent = bannerText[state];
}
onConnectionChange(banner);

async function signIn(e) {
  e.preventDefault();
  $("login-error").textContent = "";
  try {
    await api.login($("token").value);
  } catch (err) {
    $("login-error").textContent = err.status === 401 ? "That token is unknown or revoked." : String(err.message);
    return;
  }
  $("token").value = "";
  start();
}

function start() {
  s = { org: $("org").value || "default", sessions: new Sessions(), tasks: new Tasks(), jobs: null, job: null, nodes: null };
  $("login").hidden = true;
  $("nav").hidden = false;
  api.get("/v1/admin/domains").then((ds) => {
    $("orgs").replaceChildren(...ds.map((d) => api.el("option", { value: d.name })));
  }).catch(() => { /* not an admin: type the organization */ });
  route();
  banner();
  $("main").focus();
}

// signOut ends the login (unless it already ended elsewhere) and shows
// the sign-in form again.
async function signOut(ended = false) {
  if (s) {
    s.sessions.close(); s.tasks.close();
    for (const v of [s.jobs, s.job, s.nodes]) if (v) v.close();
  }
  s = null;
  if (ended) $("login-error").textContent = "The login ended (logged out elsewhere, expired or revoked): sign in again.";
  else await api.logout();
  for (const v of views) $(`view-${v}`).hidden = true;
  $("nav").hidden = true;
  $("login").hidden = false;
  history.replaceState(null, "", "#");
  banner();
  $("token").focus();
}

// route shows the view the address names: #sessions, #tasks[/ID,…],
// #jobs, #job/ORG/ID, #nodes.
function route() {
  if (!s) return;
  const [view, ...rest] = (location.hash.slice(1) || "sessions").split("/");
  const name = views.includes(view) ? view : "sessions";
  for (const v of views) $(`view-${v}`).hidden = v !== name;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === name || (name === "job" && a.dataset.view === "jobs")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (s.job && name !== "job") { s.job.close(); s.job = null; }
  if (s.nodes && name !== "nodes") { s.nodes.close(); s.nodes = null; }
  if (name === "tasks" && rest.length) s.tasks.fromHash(rest.join("/"));
  if (name === "jobs" && (!s.jobs || s.jobs.org !== s.org)) { if (s.jobs) s.jobs.close(); s.jobs = new JobList(s.org); }
  if (name === "job" && rest.length === 2) {
    const [org, id] = rest.map(decodeURIComponent);
    if (!s.job || s.job.id !== id) { if (s.job) s.job.close(); s.job = new JobPage(org, id, started); }
  }
  if (name === "nodes" && !s.nodes) s.nodes = new Nodes(s.org);
}

async function submitStart(e) {
  e.preventDefault();
  $("start-error").textContent = "";
  try {
    started = await startJob(s.org, {
      command: $("s-command").value, nodes: $("s-nodes").value, quorum: Number($("s-quorum").value) || 0,
      runTimeout: Number($("s-timeout").value) || 3600, capture: $("s-capture").checked,
    });
    location.hash = `#job/${encodeURIComponent(s.org)}/${started.id}`;
  } catch (err) {
    $("start-error").textContent = err.status === 403 ? "This key may not start jobs." : String(err.message);
  }
}

function changeOrg() {
  if (!s) return;
  s.org = $("org").value.trim() || "default";
  if (s.jobs) { s.jobs.close(); s.jobs = null; }
  if (s.nodes) { s.nodes.close(); s.nodes = null; }
  route();
}

$("login-form").addEventListener("submit", signIn);
$("logout").addEventListener("click", () => signOut());
window.addEventListener("herald:unauthorized", () => { if (s) signOut(true); });
$("start-form").addEventListener("submit", submitStart);
$("org").addEventListener("change", changeOrg);
window.addEventListener("hashchange", route);
$("token").focus();
