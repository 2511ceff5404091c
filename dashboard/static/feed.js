// feed.js: one SSE feed followed with the browser's own EventSource, and
// the page-side counters tests read from window.heraldStats.
//
// EventSource reconnects by itself after a network cut, sending the last id
// it saw as Last-Event-ID. It gives up for good on a non-200 answer (a 503
// while a restarted server catches up): then the feed probes the URL and
// opens a new EventSource with ?lastEventId=<last id>, so nothing is lost.

const maxSeenIds = 20000;      // ids remembered per feed to count duplicates
const maxSamples = 4096;       // handler times kept for percentiles
const retryMs = [500, 1000, 2000, 4000, 8000];
// synthetic events are not stored and carry no id (the EventSource's
// lastEventId then still names the previous event).
const synthetic = new Set(["server_close", "summary", "start_of_history"]);

export const stats = { feeds: {}, handler: { count: 0, totalMs: 0, maxMs: 0, samples: [] }, banner: [] };
window.heraldStats = stats;

// recordHandler adds one event handler's time (ms) to the page's figures.
function recordHandler(ms) {
  const h = stats.handler;
  h.count++; h.totalMs += ms; if (ms > h.maxMs) h.maxMs = ms;
  if (h.samples.length < maxSamples) h.samples.push(ms); else h.samples[h.count % maxSamples] = ms;
}

const live = new Set();          // open feeds, for the banner
let bannerListener = () => {};
export function onConnectionChange(f) { bannerListener = f; }

// connectionState is "connected", "reconnecting" or "resumed".
export function connectionState() {
  let state = "connected";
  for (const f of live) {
    if (f.state === "reconnecting") return "reconnecting";
    if (f.state === "resumed") state = "resumed";
  }
  return state;
}

export class Feed {
  // name: the counter's key; url: the feed; events: event names to listen
  // to; onEvent(name, data, id): the handler; onOpen(first): called on each
  // (re)connection; onGone(status): the feed cannot be opened any more.
  // startAfter, when given, is an event id to resume after from the start.
  constructor(name, url, events, { onEvent, onOpen = () => {}, onGone = () => {} }, startAfter = "") {
    Object.assign(this, { name, url, events, onEvent, onOpen, onGone });
    this.st = stats.feeds[name] = stats.feeds[name] || { received: 0, duplicates: 0, synthetic: 0, opens: 0, reconnects: 0, lastId: "" };
    this.seen = new Set();
    this.state = "connecting";
    this.lastId = startAfter;
    this.closed = false;
    this.tries = 0;
    live.add(this);
    this.open(startAfter);
  }

  urlFrom(lastId) {
    const sep = this.url.includes("?") ? "&" : "?";
    return lastId ? `${this.url}${sep}lastEventId=${encodeURIComponent(lastId)}` : this.url;
  }

  open(lastId) {
    const url = this.urlFrom(lastId);
    const es = this.es = new EventSource(url, { withCredentials: true });
    es.onopen = () => {
      const again = this.st.opens > 0;
      this.st.opens++;
      this.tries = 0;
      this.setState(again ? "resumed" : "connected");
      if (again) setTimeout(() => { if (this.state === "resumed") this.setState("connected"); }, 4000);
      this.onOpen(!again);
    };
    es.onerror = () => {
      if (this.closed) return;
      this.setState("reconnecting");
      if (es.readyState === EventSource.CLOSED) this.recover();
      else this.st.reconnects++;
    };
    for (const ev of this.events) es.addEventListener(ev, (e) => this.handle(ev, e));
  }

  handle(name, e) {
    const t0 = performance.now();
    const id = synthetic.has(name) ? "" : e.lastEventId;
    if (id) {
      this.lastId = this.st.lastId = id;
      if (this.seen.has(id)) { this.st.duplicates++; recordHandler(performance.now() - t0); return; }
      this.seen.add(id);
      if (this.seen.size > maxSeenIds) this.seen.delete(this.seen.values().next().value);
      this.st.received++;
    } else {
      this.st.synthetic++;
    }
    let data = {};
    try { data = JSON.parse(e.data); } catch { /* herald sends JSON; keep going */ }
    this.onEvent(name, data, id);
    recordHandler(performance.now() - t0);
  }

  // recover probes the feed after EventSource gave up, and reopens it with
  // the last id unless the answer says it is over (401, 403, 404, 204).
  async recover() {
    this.es.close();
    const delay = retryMs[Math.min(this.tries++, retryMs.length - 1)];
    await new Promise((r) => setTimeout(r, delay));
    if (this.closed) return;
    const ctl = new AbortController();
    let status = 0;
    try {
      const resp = await fetch(this.urlFrom(this.lastId), { credentials: "include", signal: ctl.signal, headers: { Accept: "text/event-stream" } });
      status = resp.status;
      ctl.abort();
    } catch { status = 0; }
    if (this.closed) return;
    if (status === 401 || status === 403 || status === 404 || status === 204) {
      this.close();
      this.onGone(status);
      if (status === 401) window.dispatchEvent(new Event("herald:unauthorized")); // the login ended
      return;
    }
    this.st.reconnects++;
    if (status === 200) this.open(this.lastId); else this.recover();
  }

  setState(s) { this.state = s; bannerListener(); }

  close() {
    this.closed = true;
    if (this.es) this.es.close();
    live.delete(this);
    bannerListener();
  }
}
