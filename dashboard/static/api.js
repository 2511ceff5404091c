// api.js: herald's read and write endpoints, with the login cookie. The
// Herald-CSRF value lives only in this module's memory, never in storage.

let csrf = "";

export class Problem extends Error {
  constructor(status, body) {
    super(body && body.detail ? `${body.detail}${body.field ? ` (${body.field})` : ""}` : `HTTP ${status}`);
    this.status = status;
  }
}

async function answer(resp) {
  const text = await resp.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!resp.ok) throw new Problem(resp.status, body);
  return { body, headers: resp.headers };
}

// login exchanges a token for the cookie and keeps the CSRF value.
export async function login(token) {
  const resp = await fetch("/v1/login", {
    method: "POST", credentials: "include",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
  });
  await answer(resp);
  csrf = resp.headers.get("Herald-CSRF") || "";
}

export async function logout() {
  csrf = "";
  await fetch("/v1/logout", { method: "POST", credentials: "include" });
}

export async function get(path) {
  return (await answer(await fetch(path, { credentials: "include", headers: { Accept: "application/json" } }))).body;
}

// maxPages bounds how many pages of a list getAll follows.
const maxPages = 100;

// getAll reads a list and the pages its Link rel="next" names (on this
// origin: only the path and query of the link are used).
export async function getAll(path) {
  let out = [];
  for (let i = 0; path && i < maxPages; i++) {
    const { body, headers } = await answer(await fetch(path, { credentials: "include", headers: { Accept: "application/json" } }));
    out = out.concat(body || []);
    const next = /<([^>]+)>;\s*rel="next"/.exec(headers.get("Link") || "");
    path = next ? (() => { const u = new URL(next[1], location.href); return u.pathname + u.search; })() : "";
  }
  return out;
}

export async function post(path, body) {
  return answer(await fetch(path, {
    method: "POST", credentials: "include",
    headers: { "Content-Type": "application/json", "Herald-CSRF": csrf }, body: JSON.stringify(body || {}),
  }));
}

// el builds an element: el("td", {className: "x"}, "text", child…).
export function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("aria") || k === "role") e.setAttribute(k.replace(/^aria([A-Z])/, (_, c) => "aria-" + c.toLowerCase()), v);
      else e[k] = v;
    }
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// chip is a state label coloured by the state (text, never colour alone).
export function chip(state) { return el("span", { className: "chip", dataset: { s: state } }, state); }

export function setChip(node, state) { node.textContent = state; node.dataset.s = state; }

// ago formats the time since t (ms) as 5s, 3m 2s, 1h 4m.
export function ago(t) {
  let s = Math.max(0, Math.floor((Date.now() - t) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60); s %= 60;
  if (m < 60) return `${m}m ${s}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
