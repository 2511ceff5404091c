// sessions.js: the Sessions view — every session the key may see, live.
import { Feed } from "./feed.js";
import { getAll, el, chip, setChip, ago } from "./api.js";

const sessionEvents = ["session_enqueued", "session_preparing", "session_pulling", "session_creating",
  "session_started", "session_terminating", "session_terminated"];

export class Sessions {
  constructor() {
    this.rows = new Map();     // owner/sessionId → {s, tr, cells}
    this.groups = new Set();
    this.body = document.querySelector("#sessions tbody");
    this.group = document.getElementById("f-group");
    this.stateSel = document.getElementById("f-state");
    this.group.onchange = this.stateSel.onchange = () => this.filterAll();
    this.painted = false;
    this.feed = new Feed("sessions", "/events/session?sessionId=*", sessionEvents, {
      onEvent: (name, d) => this.event(name, d),
      onOpen: (first) => { if (first) this.firstPaint(); },
    });
    this.timer = setInterval(() => this.tick(), 1000);
  }

  // firstPaint reads the current sessions once the feed is open, so no
  // change falls between the read and the feed; newer wins on merge.
  async firstPaint() {
    try {
      const list = await getAll("/v1/sessions");
      for (const s of list) {
        this.upsert({ sessionId: s.sessionId, owner: s.ownerAccessKey, group: s.group, state: s.state,
          result: s.result || "", reason: s.reason || "", since: Date.parse(s.updatedAt) });
      }
    } catch (e) { console.warn("sessions:", e); }
    this.painted = true;
    this.count();
  }

  event(name, d) {
    this.upsert({ sessionId: d.sessionId, owner: d.ownerAccessKey, group: d.group, state: name.slice("session_".length),
      result: d.result || "", reason: d.reason || "", since: Date.parse(d.timestamp) });
    this.count();
  }

  upsert(s) {
    const key = `${s.owner}/${s.sessionId}`;
    let r = this.rows.get(key);
    if (r && s.since < r.s.since) return; // an older view of the session
    if (!r) {
      const cells = { state: chip(s.state), since: el("td"), result: el("td"), reason: el("td"), group: el("td") };
      const tr = el("tr", { dataset: { key } }, el("th", { scope: "row" }, s.sessionId), el("td", null, el("code", null, s.owner)),
        cells.group, el("td", null, cells.state), cells.since, cells.result, cells.reason);
      r = { s, tr, cells };
      this.rows.set(key, r);
      this.body.prepend(tr);
    }
    r.s = s;
    setChip(r.cells.state, s.state);
    r.cells.group.textContent = s.group;
    r.cells.result.textContent = s.state === "terminated" ? s.result : "";
    r.cells.reason.textContent = s.reason;
    r.cells.since.textContent = ago(s.since);
    r.tr.dataset.state = s.state;
    if (!this.groups.has(s.group)) {
      this.groups.add(s.group);
      this.group.append(el("option", { value: s.group }, s.group));
    }
    this.filter(r);
  }

  filter(r) {
    const g = this.group.value, st = this.stateSel.value;
    r.tr.hidden = (g && r.s.group !== g) || (st && r.s.state !== st);
  }

  filterAll() { for (const r of this.rows.values()) this.filter(r); this.count(); }

  count() {
    document.getElementById("sessions-count").textContent = `(${this.rows.size})`;
    document.getElementById("sessions-empty").hidden = this.rows.size > 0;
  }

  // tick refreshes "in state for" of the visible rows.
  tick() {
    if (document.getElementById("view-sessions").hidden) return;
    for (const r of this.rows.values()) if (!r.tr.hidden) r.cells.since.textContent = ago(r.s.since);
  }

  close() { this.feed.close(); clearInterval(this.timer); this.body.replaceChildren(); }
}
