// Ceremony screen: countdown to the beacon round, each public source's encoding hashed live as it
// is typed (a witness contribution that does not match its commitment shows at once), and the
// selection revealed stratum by stratum.
import { hex, sha256 } from "./lib/bytes.js";
import { encodeSource } from "./lib/draw.js";

function countdowns() {
  const nodes = document.querySelectorAll(".beacon");
  if (!nodes.length) return;
  const skew = Date.now() / 1000 - Number(nodes[0].dataset.now || Date.now() / 1000);
  const tick = () => {
    for (const b of nodes) {
      const left = Math.round(Number(b.dataset.due) - (Date.now() / 1000 - skew));
      const el = b.querySelector(".countdown");
      if (left > 0) {
        const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
        el.textContent = (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
        b.classList.remove("due");
      } else {
        el.textContent = b.dataset.outLabel;  // the page's words, from the message catalogue
        b.classList.add("due");
      }
    }
  };
  tick();
  setInterval(tick, 1000);
}

function liveSources() {
  const chain = document.getElementById("seed-chain");
  if (!chain) return;
  const sources = JSON.parse(chain.dataset.sources || "[]");
  for (const input of document.querySelectorAll("input.live")) {
    const i = Number(input.dataset.index);
    const decl = sources[i];
    const valueEl = document.getElementById(`src-value-${i}`);
    const hashEl = document.getElementById(`src-hash-${i}`);
    const li = chain.querySelector(`li[data-index="${i}"]`);
    const update = async () => {
      const v = input.value.trim();
      valueEl.textContent = v || "…";
      if (!v) { hashEl.textContent = ""; li.classList.remove("revealed", "invalid"); return; }
      const reveal = { type: decl.type };
      if (decl.type === "dice") reveal.digits = v.replace(/\s+/g, "");
      if (decl.type === "witness") { reveal.witness = decl.witness; reveal.contribution = v.toLowerCase(); }
      if (decl.type === "drand") Object.assign(reveal, { chain_hash: decl.chain_hash, round: decl.round, signature: v.toLowerCase() });
      if (decl.type === "lottery") reveal.groups = v.split("|").map((g) => (g.match(/\d+/g) || []).map(Number));
      try {
        const enc = await encodeSource(decl, reveal);
        hashEl.textContent = "H = " + hex(await sha256(enc)).slice(0, 24) + "…";
        li.classList.add("revealed");
        li.classList.remove("invalid");
      } catch (e) {
        hashEl.textContent = e.message;
        li.classList.add("invalid");
        li.classList.remove("revealed");
      }
    };
    input.addEventListener("input", update);
    update();
  }
}

function revealStrata() {
  const cards = [...document.querySelectorAll(".cer-stratum.reveal")];
  cards.forEach((c, i) => setTimeout(() => c.classList.add("shown"), 400 + i * 900));
}

countdowns();
liveSources();
revealStrata();

// The projected screen follows the draw: when its state changes elsewhere (published from the
// draw page, seeded by another operator), the page reloads and shows the new state — after
// publication the revealed server nonce instead of "revealed at publication".
function followStatus() {
  const body = document.body;
  const url = body.dataset.statusUrl;
  if (!url || ["published", "aborted"].includes(body.dataset.status)) return;
  setInterval(async () => {
    try {
      const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) return;
      const s = (await r.json()).status;
      if (s && s !== body.dataset.status) location.reload();
    } catch (e) { /* the network is back in a moment: try again at the next tick */ }
  }, 4000);
}

followStatus();
