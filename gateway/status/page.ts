import { createHash } from 'node:crypto';

/**
 * GET /: one self-contained page (no build step, nothing fetched from elsewhere). It polls
 * /api/status and /api/devices every second and writes every value with textContent, never as
 * HTML: device ids, topics and payloads come from devices and are attacker-controlled.
 */
const CSS = `
:root{--bg:#f6f7f9;--fg:#1d2330;--mute:#687086;--card:#fff;--line:#e3e6ec;--ok:#1f9d55;--warn:#c77c02;--bad:#d0342c;--idle:#6b7bb8}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:baseline;padding:.8rem 1rem;background:#1d2330;color:#fff}
header h1{font-size:1.1rem;margin:0}header span{color:#b8c0d4;font-size:.85rem}
main{display:grid;gap:.8rem;padding:.8rem;grid-template-columns:repeat(auto-fit,minmax(280px,1fr))}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.7rem .9rem;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:var(--mute);margin:0 0 .5rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.15rem .8rem;margin:0}dt{color:var(--mute)}dd{margin:0;overflow-wrap:anywhere}
.pill{display:inline-block;padding:0 .5rem;border-radius:999px;font-size:.8rem;font-weight:600;color:#fff;background:var(--mute)}
.online,.connected{background:var(--ok)}.asleep{background:var(--idle)}.lost,.disconnected{background:var(--bad)}.offline{background:var(--warn)}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}th{color:var(--mute);font-weight:600;white-space:nowrap}
td.payload{font-family:ui-monospace,Menlo,Consolas,monospace;max-width:22rem;overflow-wrap:anywhere}td.num{text-align:right}
svg{width:100%;height:90px;display:block}.legend{font-size:.8rem;color:var(--mute)}.legend b{font-weight:600}
.in{color:#2b6cb0}.out{color:var(--ok)}ul.logs{list-style:none;margin:0;padding:0;font-size:.85rem}
ul.logs li{padding:.25rem 0;border-bottom:1px solid var(--line);overflow-wrap:anywhere}.lvl-warn{color:var(--warn);font-weight:600}
.lvl-error,.lvl-fatal{color:var(--bad);font-weight:600}td.problem{color:var(--warn);font-weight:600}.muted{color:var(--mute)}#stale{display:none;color:#ffd2cf}
@media (max-width:600px){main{padding:.5rem;gap:.5rem}thead{display:none}table,tbody{display:block}
#devices tr{display:block;padding:.4rem 0;border-bottom:1px solid var(--line)}#devices td{display:inline-block;border:0;padding:.1rem .6rem .1rem 0}
#devices td:first-child{font-weight:600}#devices td.payload,#devices td.topic{display:block;max-width:none}
#devices td[data-label]::before{content:attr(data-label) " ";color:var(--mute)}}
`;

const JS = `
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
function ago(ms, now) { const s = Math.max(0, Math.round((now - ms) / 1000)); if (s < 60) return s + " s ago"; if (s < 3600) return Math.floor(s / 60) + " min ago"; if (s < 86400) return Math.floor(s / 3600) + " h ago"; return Math.floor(s / 86400) + " d ago"; }
function dur(s) { if (s < 60) return s + " s"; if (s < 3600) return Math.floor(s / 60) + " min"; if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min"; return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h"; }
function bytes(n) { return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : n < 1073741824 ? (n / 1048576).toFixed(1) + " MiB" : (n / 1073741824).toFixed(2) + " GiB"; }
function pill(text) { return el("span", text, "pill " + text); }
function dl(target, pairs) { const d = el("dl"); for (const [k, v] of pairs) { d.append(el("dt", k)); const dd = el("dd"); if (v instanceof Node) dd.append(v); else dd.textContent = String(v); d.append(dd); } target.replaceChildren(d); }
function chart(rin, rout) {
  const svg = $("chart"), NS = "http://www.w3.org/2000/svg", W = 600, H = 90;
  const max = Math.max(1, ...rin, ...rout);
  const line = (vals, color) => { const p = document.createElementNS(NS, "polyline"); p.setAttribute("fill", "none"); p.setAttribute("stroke", color); p.setAttribute("stroke-width", "1.5");
    p.setAttribute("points", vals.map((v, i) => (i * W / (vals.length - 1 || 1)).toFixed(1) + "," + (H - 2 - v / max * (H - 6)).toFixed(1)).join(" ")); return p; };
  svg.replaceChildren(line(rin, "#2b6cb0"), line(rout, "#1f9d55"));
  const last = (v) => (v.slice(-11, -1).reduce((a, b) => a + b, 0) / 10).toFixed(1);
  $("legend").replaceChildren(el("b", "in " + last(rin) + "/s", "in"), " · ", el("b", "out " + last(rout) + "/s", "out"), " (last 10 s; peak " + max + "/s)");
}
function render(st, dv) {
  const now = st.gateway.now;
  $("gw").textContent = st.gateway.id;
  const k = st.clock, step = k.last_step;
  $("meta").textContent = "v" + st.gateway.version + " · up " + dur(st.gateway.uptime_s) + " · clock " + (k.synchronized === "unsynchronized" ? "NOT synchronized" : k.synchronized)
    + (step ? " · last step " + (step.step_s > 0 ? "+" : "-") + dur(Math.abs(Math.round(step.step_s))) + " " + ago(step.at, now) : "");
  const u = st.uplink;
  dl($("uplink"), [["state", pill(u.state)], ["since", ago(u.since, now)], ["broker", u.broker], ["protocol", "MQTT " + u.protocol + (u.protocol_fallback ? " (fallback: " + u.protocol_fallback.reason + ")" : "")], ["reconnects", u.reconnects], ["last error", u.last_error ? u.last_error.message + " (" + ago(u.last_error.at, now) + ")" : "none"]]);
  const o = st.outbox, drops = Object.entries(o.dropped);
  dl($("outbox"), [["rows", o.rows], ["bytes", bytes(o.bytes)], ["oldest", o.rows ? dur(o.oldest_age_s) : "-"], ["drain rate", o.drain_per_s + " msg/s"], ["set aside", o.set_aside], ["disk writes", st.disk.written_per_day === null ? "-" : bytes(st.disk.written_per_day) + " per day"], ["dropped", drops.length ? drops.map(([k, v]) => k + ": " + v).join(", ") : "none"]]);
  const span = -Math.max(10, Math.min(600, st.gateway.uptime_s + 1)); // since start, at most 10 min
  chart(st.rates.in.slice(span), st.rates.out.slice(span));
  const c = st.devices;
  $("devcount").textContent = c.total + " devices · " + c.online + " online · " + c.asleep + " asleep · " + c.offline + " offline · " + c.lost + " lost";
  const rows = dv.devices.map((d) => { const tr = el("tr"); tr.dataset.device = d.id;
    const st = el("td"); st.append(pill(d.state));
    const seen = el("td", d.last_seen ? ago(d.last_seen, now) : "never"), msgs = el("td", d.messages, "num"), drops = el("td", d.drops, "num");
    const probs = Object.entries(d.problems || {}).map(([k, v]) => k + " " + v).join(", ");
    const prob = el("td", probs, probs ? "problem" : undefined);
    if (d.last_problem) prob.title = "last: " + d.last_problem.reason + ", " + ago(d.last_problem.at, now);
    seen.dataset.label = "seen"; msgs.dataset.label = "msgs"; drops.dataset.label = "drops"; prob.dataset.label = "problems";
    tr.append(el("td", d.id), el("td", d.transport), st, seen, msgs, el("td", d.last_topic ?? "", "topic"), el("td", d.last_payload ?? "", "payload"), drops, prob); return tr; });
  $("devices").replaceChildren(...(rows.length ? rows : [(() => { const tr = el("tr"); const td = el("td", "no devices yet", "muted"); td.colSpan = 9; tr.append(td); return tr; })()]));
  const logs = st.logs.map((l) => { const li = el("li"); li.append(el("span", l.level, "lvl-" + l.level), " ", el("span", ago(l.time, now), "muted"), " ", l.part ? el("span", "[" + l.part + "] ", "muted") : "", l.msg, l.detail ? el("span", " — " + l.detail, "muted") : ""); return li; });
  $("logs").replaceChildren(...(logs.length ? logs : [el("li", "no warnings or errors", "muted")]));
}
async function get(path) { const r = await fetch(path, { cache: "no-store", credentials: "same-origin" }); if (!r.ok) throw new Error(path + ": HTTP " + r.status); return r.json(); }
async function tick() {
  try { const [st, dv] = await Promise.all([get("api/status"), get("api/devices")]); render(st, dv); $("stale").style.display = "none"; }
  catch { $("stale").style.display = "inline"; }
  setTimeout(tick, 1000);
}
tick();
`;

const HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>fieldgate status</title><link rel="icon" href="data:,"><style>${CSS}</style></head>
<body><header><h1>fieldgate <span id="gw"></span></h1><span id="meta"></span><span id="stale">· gateway not answering</span></header>
<main>
<section><h2>Uplink</h2><div id="uplink"></div></section>
<section><h2>Outbox</h2><div id="outbox"></div></section>
<section><h2>Messages per second (10 min)</h2><svg id="chart" viewBox="0 0 600 90" preserveAspectRatio="none" role="img" aria-label="messages in and out per second"></svg><div class="legend" id="legend"></div></section>
<section class="wide"><h2>Devices</h2><div class="legend" id="devcount"></div><div class="scroll"><table>
<thead><tr><th>device</th><th>transport</th><th>state</th><th>last seen</th><th>msgs</th><th>last topic</th><th>payload</th><th>drops</th><th>problems</th></tr></thead>
<tbody id="devices"></tbody></table></div></section>
<section class="wide"><h2>Recent warnings and errors</h2><ul class="logs" id="logs"></ul></section>
</main><script>${JS}</script></body></html>
`;

export const STATUS_PAGE = HTML;

/** Only this page's own script and style run; it talks to its own origin only. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash('sha256').update(JS).digest('base64')}'`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
