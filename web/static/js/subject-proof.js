// "核验本企业": one company's check of a published draw from its subject proof document
// (docs/SPEC.md §D15, a few KB) instead of the whole bundle. Same checks, same names and the same
// words as `drawverify subject --proof` (verifier/subject_proof.py); the hashing, JCS, Merkle,
// note, drand and draw code is the verifier page's own (lib/*.js, drand.js). The server gives
// data, never a verdict: its `claim` is compared with what is recomputed here.
import { compare, compareUtf8, fromB64, fromHex, hex, sha256 } from "./lib/bytes.js";
import { canonicalBytes } from "./lib/jcs.js";
import { leafHash, verifyInclusion } from "./lib/merkle.js";
import { verifyCheckpointNote, verifyCosignatures } from "./lib/note.js";
import * as D from "./lib/draw.js";
import { checkBundleDrand } from "./drand.js";
import { Report, awaitingWords, render, witnessPolicy, wordsOf } from "./verify.js";
import { _, list } from "./lib/i18n.js";

const STEPS = ["draw.prepared", "draw.seeded", "draw.drawn", "draw.published"];
const FORMAT = "spotcheck-subject-proof/1";

class Fail extends Error {
  constructor(code, message) { super(`${code}: ${message}`); this.code = code; }
}
const must = (ok, code, message) => { if (!ok) throw new Fail(code, message); };

// Runs each check; a check that throws fails with its message; one whose input failed is skipped.
async function step(rep, id, title, fn, ready = true) {
  if (!ready) { rep.skip(id, title, _("其所需的前一步未通过")); return false; }
  try { rep.pass(id, title, (await fn()) || ""); return true; } catch (e) { rep.fail(id, title, e.message || String(e)); return false; }
}

const key = (ticketHex, id) => ({ t: fromHex(ticketHex), id });
const le = (a, b) => (compare(a.t, b.t) || compareUtf8(a.id, b.id)) <= 0;

export async function verifySubjectProof(doc) {
  if (!doc || doc.format !== FORMAT) throw new Error(_("不是企业核验证明文件"));
  const rep = new Report();
  const facts = { subject: doc.subject, drawId: doc.draw_id };
  const code = doc.subject, claim = doc.claim || {}, content = doc.content || {};
  const steps = {}, subs = [];
  let cp = null;
  const okCp = await step(rep, "proof_checkpoint", _("检查点由日志公钥签名"), async () => {
    cp = (await verifyCheckpointNote(doc.log.checkpoint.note, doc.log.verifier_key)).checkpoint;
    must(cp.origin === doc.log.origin, "CHECKPOINT_ORIGIN_MISMATCH", `${cp.origin} ≠ ${doc.log.origin}`);
    must(doc.log.checkpoint.size === cp.size, "CHECKPOINT_MALFORMED", `size ${doc.log.checkpoint.size} ≠ ${cp.size}`);
    return _("树大小 %(size)s", { size: cp.size });
  });
  // §D15 1b: k of the document's witness policy cosigned the checkpoint; fewer (none forged) is 等待见证
  const WT = _("检查点的见证者联署（见证策略要求的 k 个）");
  if (okCp) {
    const policy = await witnessPolicy(doc, doc.log.verifier_key);
    if (!policy) rep.skip("proof_witnesses", WT, _("证明文件未声明见证策略：未检查见证者联署"));
    else if (policy.error) rep.fail("proof_witnesses", WT, `WITNESS_POLICY_INVALID: ${policy.error}`);
    else {
      const cos = await verifyCosignatures(doc.log.checkpoint.note, policy.keys);
      const okc = cos.filter((c) => c.ok === true), badc = cos.filter((c) => c.ok === false);
      if (badc.length) rep.fail("proof_witnesses", WT, "COSIGNATURE_INVALID: " + badc.map((c) => `${c.name}: ${c.reason}`).join("; "));
      else if (okc.length < policy.k) rep.wait("proof_witnesses", WT, awaitingWords(cp.size, policy.k, okc.map((c) => c.name), cos.filter((c) => c.ok === null).map((c) => c.name)));
      else rep.pass("proof_witnesses", WT, _("已见证：%(okc_n)s / %(keys_n)s 个见证者联署（需要 %(k)s 个）", { okc_n: okc.length, keys_n: policy.keys.length, k: policy.k }));
    }
  }
  const okEntries = await step(rep, "proof_entries", _("本次抽签的日志条目均在该检查点中，步骤完整"), async () => {
    for (const w of doc.entries) {
      const lh = await leafHash(canonicalBytes(w.entry));
      const why = await verifyInclusion(w.seq, cp.size, lh, w.inclusion_proof.map(fromB64), cp.root);
      must(why === null && w.entry.seq === w.seq, "ENTRY_NOT_INCLUDED", `#${w.seq}: ${why}`);
      const p = w.entry.payload || {};
      must(p.draw_id === doc.draw_id, "DRAW_ENTRY_MALFORMED", _("#%(seq)s 属于抽签 %(draw)s", { seq: w.seq, draw: p.draw_id }));
      if (STEPS.includes(w.entry.type)) { must(!steps[w.entry.type], "LIFECYCLE_ORDER", _("%(type)s 出现两次", { type: w.entry.type })); steps[w.entry.type] = { seq: w.seq, p, lh }; }
      else if (w.entry.type === "draw.substituted") subs.push({ seq: w.seq, p });
    }
    const missing = STEPS.filter((t) => !steps[t]);
    must(!missing.length, "LIFECYCLE_INCOMPLETE", _("缺少 %(missing)s", { missing: list(missing) }));
    const seqs = STEPS.map((t) => steps[t].seq);
    must(seqs.every((s, i) => i === 0 || s > seqs[i - 1]) && subs.every((s) => s.seq > seqs[2]), "LIFECYCLE_ORDER", seqs.join(" "));
    subs.sort((a, b) => a.seq - b.seq);
    must(subs.every((s, i) => s.p.n === i), "LIFECYCLE_INCOMPLETE", _("递补条目应从 0 起连续编号"));
    const before = subs.filter((s) => s.seq < steps["draw.published"].seq).length;
    must((steps["draw.published"].p.substitution_salts || []).length === before, "LIFECYCLE_INCOMPLETE", _("公示前的每次递补各有一个盐值"));
    return _("条目 %(seqs)s，递补 %(subs_n)s 次", { seqs: list(seqs), subs_n: subs.length });
  }, okCp);
  if (!okEntries) return { rep, facts };
  const P = steps["draw.prepared"].p, pub = steps["draw.published"].p, drawn = steps["draw.drawn"].p;
  const v1 = P.algorithm === "spotcheck-draw/1";
  let seed = null;
  const okSeed = await step(rep, "proof_seed", _("种子可由承诺的服务器随机数和公开随机源重算"), async () => {
    const recipe = P.seed_recipe, reveals = steps["draw.seeded"].p.reveals || [];
    if (!v1) must(D.sameJson(doc.chains || {}, P.chains || {}), "CHAIN_NOT_COMMITTED", _("drand 网络参数不是准备时承诺的参数"));
    const dr = await checkBundleDrand(recipe.sources, reveals, doc.chains || {});
    must(dr.chains.status === "passed" && (!dr.rounds || dr.rounds.status === "passed"), "BEACON_SIGNATURE_INVALID", `${dr.chains.detail} ${dr.rounds ? dr.rounds.detail : ""}`);
    const c = hex(await D.nonceCommitment(fromHex(pub.nonce)));
    must(c === recipe.nonce_commitment, "NONCE_MISMATCH", `H(nonce) = ${c}`);
    const all = [{ type: "server_nonce", nonce: pub.nonce }, ...reveals];
    must(all.length === recipe.sources.length, "REVEAL_MISMATCH", _("公开值与声明的随机源不对应"));
    const encs = [];
    for (let i = 0; i < all.length; i++) encs.push(await D.encodeSource(recipe.sources[i], all[i]));
    seed = await D.seedFrom(steps["draw.prepared"].lh, encs);
    must(hex(seed) === pub.seed, "SEED_MISMATCH", _("复算得 %(got)s，公示的是 %(published)s", { got: hex(seed), published: pub.seed }));
    return `${hex(seed)}${dr.rounds ? "; " + dr.rounds.detail : ""}`;
  });
  const m = doc.member || {};
  const okMember = await step(rep, "proof_member", _("本企业记录在准备时承诺的对象库中（默克尔证明）"), async () => {
    const committed = ["subjects", "excluded"].includes(m.pool) ? (P.pools || {})[m.pool] : null;
    must(committed && m.record && typeof m.record === "object", "SUBJECT_NOT_IN_POOL", _("没有承诺的名录池或没有该记录"));
    const why = await verifyInclusion(m.index, m.size, await leafHash(canonicalBytes(m.record)), (m.proof || []).map(fromHex), fromHex(committed.root));
    must(why === null && m.size === committed.size, "SUBJECT_NOT_IN_POOL", _("记录及其证明与承诺的根哈希不符（%(why)s）", { why }));
    must(m.record.id === code, "SUBJECT_NOT_IN_POOL", _("该记录属于 %(id)s", { id: m.record.id }));
    facts.pool = m.pool; facts.stratum = m.record.stratum; facts.reason = m.record.reason || null;
    return `${m.pool}[${m.index}] / ${m.size}, ${_("层")} ${m.record.stratum}`;
  });
  let sizes = null;
  const counts = ((P.pools || {}).subjects || {}).counts || {};
  const okSizes = await step(rep, "proof_sizes", _("各层抽取数量由承诺的各层户数按规则算出"), async () => {
    const par = P.parameters || {};
    const k = D.stratumSizes(counts, par.ratios || {}, par.floor ?? "0.05", !!par.key_item);
    for (const [where, got] of [["expected_sizes", P.expected_sizes], ["draw.drawn", drawn.sizes], ["content.sizes", content.sizes]]) {
      must(D.sameJson(got, k), "SIZES_MISMATCH", `${where}: ${JSON.stringify(got)} ≠ ${JSON.stringify(k)}`);
    }
    sizes = k;
    return Object.keys(k).sort().map((s) => `${s}: ${k[s]} / ${counts[s]}`).join(", ");
  });
  const okSeal = await step(rep, "proof_seal", _("抽签内容与抽签时的封存承诺相符"), async () => {
    const got = hex(await D.seal(content, fromHex(pub.salt)));
    must(got === String(drawn.seal).toLowerCase(), "SEAL_MISMATCH", _("内容不是抽签时封存的内容"));
  });
  const okSel = await step(rep, "proof_selection", _("各层抽中签号均可重算，按签号排序，数量正确"), async () => {
    for (const [s, k] of Object.entries(sizes)) {
      const sel = ((content.strata || {})[s] || {}).selected || [];
      must(sel.length === k, "SELECTION_MISMATCH", `${s}: ${sel.length} ≠ ${k}`);
      let prev = null;
      for (const x of sel) {
        const t = hex(await D.subjectTicket(seed, x.id));
        must(t === x.ticket, "SELECTION_MISMATCH", `${x.id}: ${x.ticket} ≠ ${t}`);
        const kx = key(t, x.id);
        must(!prev || !le(kx, prev), "SELECTION_MISMATCH", _("%(stratum)s：未按（签号，编号）排序", { stratum: s }));
        prev = kx;
      }
    }
    must(Object.keys(content.strata || {}).every((s) => s in sizes), "SELECTION_MISMATCH", _("有一层没有抽取数量"));
  }, okSeed && okSizes && okSeal);
  const ready = okSel && okMember;
  await step(rep, "proof_ticket", _("本企业签号可由种子重算"), async () => {
    facts.ticket = hex(await D.subjectTicket(seed, code));
    must(claim.ticket === facts.ticket, "SUBJECT_TICKET_MISMATCH", `${claim.ticket} ≠ ${facts.ticket}`);
    return facts.ticket;
  }, ready);
  const sel = ready ? ((content.strata[facts.stratum] || {}).selected || []) : [];
  await step(rep, "proof_cutoff", _("本层户数、抽取数和截止签号与承诺一致"), async () => {
    facts.n = counts[facts.stratum] ?? 0; facts.k = sizes[facts.stratum] ?? 0;
    facts.cutoff = sel.length ? { id: sel[sel.length - 1].id, ticket: sel[sel.length - 1].ticket } : null;
    const want = { pool: facts.pool, stratum: facts.stratum, n: facts.n, k: facts.k, cutoff: facts.cutoff };
    const got = { pool: claim.pool, stratum: claim.stratum, n: claim.n, k: claim.k, cutoff: claim.cutoff };
    must(D.sameJson(want, got), "SUBJECT_CUTOFF_MISMATCH", `${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
    return `k=${facts.k} / n=${facts.n}; ${_("截止签号")} ${facts.cutoff ? facts.cutoff.ticket : "—"}`;
  }, ready);
  await step(rep, "proof_drawn", _("签号不大于截止签号即抽中，否则未抽中"), async () => {
    const below = !!facts.cutoff && le(key(facts.ticket, code), key(facts.cutoff.ticket, facts.cutoff.id));
    const listed = sel.some((x) => x.id === code);
    if (facts.pool === "subjects") must(below === listed, "SUBJECT_DRAWN_MISMATCH", _("名录池中的对象当且仅当签号不大于截止签号时被抽中"));
    facts.drawn = facts.pool === "subjects" ? listed : false;
    facts.wouldHave = below;
    must(claim.drawn === facts.drawn, "SUBJECT_DRAWN_MISMATCH", facts.drawn ? _("给出的结论与签号不符（应为抽中）") : _("给出的结论与签号不符（应为未抽中）"));
    return facts.drawn ? _("抽中") : _("未抽中");
  }, ready && !!facts.ticket);
  let matcher = null;
  const okTeam = await step(rep, "proof_team", _("检查组由按企业加密洗牌的顺序重算得出"), async () => {
    const mi = doc.matching_inputs || {}, pools = P.pools || {};
    must((await D.poolCommitment(mi.inspectors || [], "inspectors")).root === pools.inspectors.root, "POOL_ROOT_MISMATCH", "inspectors");
    must(hex(await sha256(canonicalBytes(mi.conflicts || []))) === pools.conflicts_sha256, "CONFLICTS_MISMATCH", "conflicts");
    if (!v1) {
      must((await D.poolCommitment(mi.experts || [], "experts")).root === pools.experts.root, "POOL_ROOT_MISMATCH", "experts");
      must(hex(await sha256(canonicalBytes(mi.prior_load || {}))) === pools.prior_load_sha256, "PRIOR_LOAD_MISMATCH", "prior_load");
    }
    matcher = new D.Matcher(seed, P.parameters.team_rule, mi.inspectors || [], mi.conflicts || [], mi.prior_load || {}, mi.experts || []);
    const order = Object.values(content.strata).flatMap((s) => s.selected || []).map((x) => key(x.ticket, x.id))
      .sort((a, b) => compare(a.t, b.t) || compareUtf8(a.id, b.id)).map((x) => x.id);
    const as = (content.matching || {}).assignments || [];
    must(D.sameJson(as.map((a) => a.subject), order), "MATCHING_MISMATCH", _("检查组未按匹配顺序排列"));
    const mine = as.findIndex((a) => a.subject === code);
    if (mine < 0) {
      must(claim.team == null && claim.current_team == null, "SUBJECT_TEAM_MISMATCH", _("未被抽中的对象却有检查组"));
      return _("未抽中，无检查组");
    }
    const load = { ...(mi.prior_load || {}) };
    for (const a of as.slice(0, mine + 1)) {
      const want = await matcher.matchOne(a.subject, load);
      must(D.sameJson(want, a), "SUBJECT_TEAM_MISMATCH", `${a.subject}: ${want.team.join(",")} ≠ ${a.team.join(",")}`);
    }
    facts.team = { team: as[mine].team, experts: as[mine].experts };
    must(D.sameJson(claim.team, facts.team), "SUBJECT_TEAM_MISMATCH", _("给出的检查组不是封存内容中的检查组"));
    return `${list(facts.team.team)}; ${mine + 1} ${_("次洗牌遍历")}`;
  }, ready && facts.drawn !== undefined);
  const CT = _("递补后的检查组");
  const kinds = (doc.substitutions || []).map((w) => w.record && w.record.kind);
  if (okTeam && kinds.includes("subject")) {
    rep.skip("proof_current_team", CT, _("有企业递补：递补对象取自本层递补顺序，需要整个对象库，请用 drawverify draw 核验"));
  } else {
    await step(rep, "proof_current_team", CT, async () => {
      const recs = doc.substitutions || [];
      must(recs.length === subs.length, "LIFECYCLE_INCOMPLETE", _("每个 draw.substituted 条目对应一条递补记录"));
      const current = JSON.parse(JSON.stringify(content.matching));
      const salts = pub.substitution_salts || [], left = {};
      for (let i = 0; i < recs.length; i++) {
        const { record, salt } = recs[i];
        const ok = hex(await D.seal(record, fromHex(salt))) === String(subs[i].p.seal).toLowerCase();
        must(ok && (subs[i].seq > steps["draw.published"].seq || salts[i] === salt), "SUBSTITUTION_SEAL_MISMATCH", `#${subs[i].seq}`);
        must(record.kind === subs[i].p.kind, "SUBSTITUTION_INVALID", `#${subs[i].seq}`);
        if (record.kind === "inspector") {
          await matcher.applyInspector(current, record, v1 ? null : (left[record.subject] || []));
          (left[record.subject] = left[record.subject] || []).push(record.leaving);
        } else matcher.applySwap(current, record);
      }
      const a = current.assignments.find((x) => x.subject === code);
      facts.currentTeam = a ? { team: a.team, experts: a.experts } : null;
      must(D.sameJson(claim.current_team ?? null, facts.currentTeam), "SUBJECT_TEAM_MISMATCH", _("递补后的检查组不符"));
      return `${recs.length} ${_("次递补已复算")}${a ? "; " + list(a.team) : ""}`;
    }, okTeam);
  }
  facts.bytes = canonicalBytes(doc).length;
  return { rep, facts };
}

function answer(rep, f) {
  if (!rep.ok || f.drawn === undefined) return _("无法确认（见下方检查项）。");
  const wait = rep.verdict === "awaiting_witnesses" ? _("等待见证：此结论暂未公开，请稍后再核验。") : "";
  const head = f.pool === "excluded" ? _("抽签前已排除（%(reason)s），未参加抽取；", { reason: f.reason }) : "";
  const verdict = f.drawn ? _("已被抽中：签号不大于本层截止签号。")
    : f.pool === "excluded" ? (f.wouldHave ? _("若未排除本会被抽中。") : _("即使未排除也不会被抽中。"))
    : _("未被抽中：签号大于本层截止签号。");
  const team = f.team ? _(" 检查组：%(team)s。", { team: list(f.team.team) }) : "";
  return `${wait}${head}${verdict}${team}`;
}

async function check(drawId, code, answerEl, out) {
  out.textContent = _("正在核验…");
  answerEl.textContent = "";
  window.spotcheckSubject = null;
  const t0 = performance.now();
  try {
    const r = await fetch(`/api/v1/draws/${encodeURIComponent(drawId)}/subjects/${encodeURIComponent(code)}/proof`, { credentials: "omit", headers: { Accept: "application/json" } });
    const doc = await r.json();
    if (!r.ok) throw new Error((doc.error && doc.error.message) || `HTTP ${r.status}`);
    const { rep, facts } = await verifySubjectProof(doc);
    const ms = Math.round(performance.now() - t0);
    render(rep, out, await wordsOf());
    answerEl.textContent = answer(rep, facts);
    answerEl.dataset.drawn = String(facts.drawn);
    const size = document.createElement("p");
    size.className = "hint";
    size.id = "subject-evidence";
    size.textContent = _("证据 %(kb)s KB，用时 %(ms)s 毫秒，全部在本浏览器中复算。", { kb: (facts.bytes / 1024).toFixed(1), ms });
    out.appendChild(size);
    window.spotcheckSubject = { ok: rep.ok, verdict: rep.verdict, drawn: facts.drawn ?? null, team: facts.team || null, ms, bytes: facts.bytes, checks: rep.checks };
  } catch (e) {
    out.textContent = _("无法核验：") + (e.message || e);
    window.spotcheckSubject = { ok: false, error: String(e.message || e), checks: [] };
  }
}

function init() {
  const form = document.getElementById("subject-check");
  if (!form) return;
  const out = document.getElementById("subject-results"), answerEl = document.getElementById("subject-answer");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const d = document.getElementById("subject-draw").value;
    if (d) check(d, form.dataset.code, answerEl, out);
  });
}

window.SpotcheckSubject = { verify: async (doc) => { const { rep, facts } = await verifySubjectProof(doc); return { ok: rep.ok, verdict: rep.verdict, facts, checks: rep.checks }; } };
init();
