// nodes.js: the Nodes view — availability of the organization's nodes.
// herald has no node-state feed, so the view re-reads node_states every few
// seconds while it is shown.
import { get, el, chip } from "./api.js";

const pollMs = 3000;

export class Nodes {
  constructor(org) {
    this.org = org;
    document.getElementById("nodes-org").textContent = org;
    this.load();
    this.timer = setInterval(() => this.load(), pollMs);
  }

  async load() {
    const err = document.getElementById("nodes-error");
    try {
      const nodes = await get(`/organizations/${encodeURIComponent(this.org)}/pushy/node_states`);
      err.textContent = "";
      document.querySelector("#nodes tbody").replaceChildren(...nodes.map((n) =>
        el("tr", { dataset: { node: n.node_name } }, el("th", { scope: "row" }, n.node_name),
          el("td", null, chip(n.status)), el("td", null, chip(n.availability)))));
      document.getElementById("nodes-empty").hidden = nodes.length > 0;
    } catch (e) { err.textContent = String(e.message); }
  }

  close() { clearInterval(this.timer); }
}
