// tasks.js: the Background tasks view. herald has no task list endpoint, so
// the page follows the tasks whose ids the user gives; the ids stay in the
// page's address (#tasks/ID,ID), never in storage.
import { Feed } from "./feed.js";
import { get, el, chip, setChip } from "./api.js";

const names = { task_updated: "running", task_done: "done", task_failed: "failed", task_cancelled: "cancelled",
  bgtask_updated: "running", bgtask_done: "done", bgtask_failed: "failed", bgtask_cancelled: "cancelled" };

// marks tell the ends apart without colour.
const marks = { done: "✓", failed: "✗", cancelled: "⊘" };

export class Tasks {
  constructor() {
    this.cards = new Map();   // task id → {li, feed, …}
    this.list = document.getElementById("tasks");
    document.getElementById("task-form").onsubmit = (e) => {
      e.preventDefault();
      const input = document.getElementById("task-id");
      this.follow(input.value.trim().toLowerCase());
      input.value = "";
      this.remember();
    };
  }

  // fromHash follows the ids named in #tasks/ID,ID.
  fromHash(rest) { for (const id of rest.split(",")) if (id) this.follow(id.toLowerCase()); }

  remember() {
    const ids = [...this.cards.keys()].join(",");
    history.replaceState(null, "", ids ? `#tasks/${ids}` : "#tasks");
  }

  follow(id) {
    if (!id || this.cards.has(id)) return;
    const bar = el("progress", { max: 1, value: 0, ariaLabel: `progress of task ${id}` });
    const c = { id, status: chip("running"), bar, text: el("span", { className: "hint" }), message: el("p"),
      error: el("p", { className: "error", role: "alert" }) };
    const stop = el("button", { type: "button", ariaLabel: `stop following task ${id}` }, "Stop following");
    c.li = el("li", { dataset: { task: id } }, el("div", null, el("code", null, id), " ", c.status), bar, c.text, c.message, c.error, stop);
    stop.onclick = () => { this.unfollow(id); this.remember(); };
    this.cards.set(id, c);
    this.list.prepend(c.li);
    get(`/v1/tasks/${encodeURIComponent(id)}`).then((t) => {
      if (c.seen) return; // the feed came first: it is newer
      this.render(c, t.status, t);
    }).catch((e) => { c.error.textContent = e.status === 404 ? "No such task visible to this key." : String(e.message); });
    c.feed = new Feed(`task:${id}`, `/events/background-task?taskId=${encodeURIComponent(id)}`,
      [...Object.keys(names), "server_close"], {
        onEvent: (name, d) => {
          if (name === "server_close") { c.feed.close(); return; }
          c.seen = true;
          this.render(c, names[name], d);
        },
        onGone: (status) => { if (status === 404) c.error.textContent = "No such task visible to this key."; },
      });
  }

  render(c, status, t) {
    setChip(c.status, status);
    if (marks[status]) c.status.textContent = `${marks[status]} ${status}`;
    c.li.dataset.status = status;
    const cur = t.current_progress || 0, total = t.total_progress || 0;
    if (total > 0) { c.bar.max = total; c.bar.value = cur; } else if (status === "running") { c.bar.removeAttribute("value"); } else { c.bar.max = 1; c.bar.value = 1; }
    c.text.textContent = total > 0 ? `${cur} / ${total}` : `${cur}`;
    c.message.textContent = t.message || "";
  }

  unfollow(id) {
    const c = this.cards.get(id);
    if (!c) return;
    c.feed.close();
    c.li.remove();
    this.cards.delete(id);
  }

  close() { for (const id of [...this.cards.keys()]) this.unfollow(id); }
}
