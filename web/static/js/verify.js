// The in-browser verifier: recomputes and checks a draw's evidence bundle with Web Crypto
// (SHA-256, Ed25519) and this page's own code. The server is asked for data, never a verdict.
import { fromB64, fromHex, hex, sha256 } from "./lib/bytes.js";
import { canonicalBytes } from "./lib/jcs.js";
import { verifyConsistency, verifyInclusion } from "./lib/merkle.js";
import { checkEntries } from "./lib/log.js";
import { sm2Check } from "./lib/sm2.js";
import { parseVerifierKey, verifyCheckpointNote, verifyCosignatures } from "./lib/note.js";
import * as D from "./lib/draw.js";
import { checkBundleDrand, checkTiming } from "./drand.js";
import { planChecks } from "./plan.js";

const EN = document.documentElement.lang === "en";
const T = (zh, en) => (EN ? en : zh);

class Report {
  constructor() { this.checks = []; }
  add(id, title, status, detail = "") { this.checks.push({ id, title, status, detail }); }
  pass(id, title, detail) { this.add(id, title, "passed", detail); }
  fail(id, title, detail) { this.add(id, title, "failed", detail); }
  skip(id, title, detail) { this.add(id, title, "not_checked", detail); }
  pend(id, title, detail) { this.add(id, title, "pending", detail); }
  // 等待见证: fewer than k valid witness cosignatures yet, nothing forged (SPEC §D14)
  wait(id, title, detail) { this.add(id, title, "awaiting_witnesses", detail); }
  get ok() { return this.checks.every((c) => c.status !== "failed"); }
  // The same verdicts as drawverify: failed, else awaiting witnesses (not yet public), else
  // aborted (a proven abort), else verified.
  get verdict() {
    if (!this.ok) return "failed";
    if (this.checks.some((c) => c.status === "awaiting_witnesses")) return "awaiting_witnesses";
    return this.aborted ? "aborted" : "verified";
  }
}

// What the page says when a checkpoint still lacks witnesses: who cosigned, who is missing, how many more.
export function awaitingWords(size, k, valid, missing) {
  const more = Math.max(0, k - valid.length);
  return T(`等待见证：树大小 ${size} 的检查点已有 ${valid.length} 个有效联署，需要 ${k} 个，还差 ${more} 个；尚未联署：${missing.join("、") || "—"}`,
    `awaiting witnesses: checkpoint size ${size} has ${valid.length} valid cosignature(s), ${k} needed, ${more} more; not yet cosigned: ${missing.join(", ") || "—"}`);
}

async function guard(rep, id, title, fn) {
  try { await fn(); } catch (e) { rep.fail(id, title, e.message || String(e)); }
}

// drand (drand.js): chain parameters pinned to the League of Entropy networks, then each round's
// BLS12-381 signature and randomness = SHA-256(signature).
async function drandChecks(rep, sources, reveals, chains) {
  const CH = T("drand 网络参数", "drand chain parameters"), BLS = T("drand 信标 BLS 签名", "drand beacon BLS signature");
  await guard(rep, "drand_bls", BLS, async () => {
    const r = await checkBundleDrand(sources, reveals, chains || {});
    rep.add("drand_chain", CH, r.chains.status, r.chains.detail);
    if (r.rounds) rep.add("drand_bls", BLS, r.rounds.status, r.rounds.detail);
    else rep.skip("drand_bls", BLS, T("尚未播种：信标轮次的签名在播种时才公开", "not yet seeded: the round's signature is revealed when the draw is seeded"));
  });
}

const BUNDLE_FORMATS = ["spotcheck-draw-bundle/1", "spotcheck-draw-bundle/2", "spotcheck-draw-bundle/3"];
// from v3 (SPEC §D13): entry times in log order, the prepared checkpoint's time signed by the log
const V3 = "spotcheck-draw-bundle/3";
// a bundle's format names the algorithm its draw was prepared under; a draw cannot pick older rules
const ALGORITHM_OF = { "spotcheck-draw-bundle/1": "spotcheck-draw/1", "spotcheck-draw-bundle/2": "spotcheck-draw/2", [V3]: "spotcheck-draw/3" };

// witnessKeys: verifier keys of the log's registered witnesses (optional data).
export async function verifyBundle(bundle, witnessKeys = null) {
  const rep = await verifyDraw(bundle, witnessKeys);
  // plan.js: rules, other_draws, pool_changes — for every bundle format the page reads
  if (bundle && BUNDLE_FORMATS.includes(bundle.format)) await planChecks(rep, bundle);  // plan.js
  return rep;
}

// The bundle's witness_policy {k, witnesses} (SPEC §D12): null when absent, {error} when it is
// malformed, names the log's own key, or states a k it cannot meet; else {k, keys}.
async function witnessPolicy(bundle, pinned) {
  if (!("witness_policy" in bundle)) return null;
  const wp = bundle.witness_policy;
  if (!wp || typeof wp !== "object" || !Number.isInteger(wp.k) || !Array.isArray(wp.witnesses) || !wp.witnesses.every((w) => typeof w === "string"))
    return { error: "witness_policy must be {k: integer, witnesses: [verifier keys]}" };
  let logKey = null;
  try { logKey = pinned ? await parseVerifierKey(pinned) : null; } catch (e) { logKey = null; }
  const origin = bundle.log && bundle.log.origin;
  const keys = [];
  for (const w of wp.witnesses) {
    let k;
    try { k = await parseVerifierKey(w); } catch (e) { return { error: `${w.slice(0, 60)}: ${e.message}` }; }
    if (k.alg !== 0x04) return { error: `${k.name} is not a cosignature/v1 (0x04) key` };
    if ((logKey && k.key.length === logKey.key.length && k.key.every((b, i) => b === logKey.key[i])) || k.name === origin)
      return { error: `${k.name} is the log's own key: the log is not its own witness` };
    if (keys.some((x) => x.name === k.name)) return { error: `witness ${k.name} is named twice` };
    keys.push(k);
  }
  if (!(wp.k >= 1 && wp.k <= keys.length)) return { error: `k = ${wp.k} is not between 1 and the ${keys.length} witnesses named` };
  return { k: wp.k, keys: wp.witnesses };
}

async function verifyDraw(bundle, witnessKeys) {
  const rep = new Report();
  if (!bundle || !BUNDLE_FORMATS.includes(bundle.format)) {
    rep.fail("format", T("证据包格式", "Bundle format"), T("不是 spotcheck-draw-bundle/1、/2 或 /3", "not a spotcheck-draw-bundle/1, /2 or /3"));
    return rep;
  }
  rep.pass("format", T("证据包格式", "Bundle format"), `${bundle.format} · ${bundle.draw_id} · ${bundle.status}`);
  const pinned = bundle.log && bundle.log.verifier_key;
  const entries = (bundle.entries || []).map((e) => ({ seq: e.seq, entry: e.entry, proof: e.inclusion_proof }));
  // entries shown beyond the checkpoint (§D12): signature-checked, not yet provable
  const pending = (bundle.pending_entries || []).map((e) => ({ seq: e.seq, entry: e.entry, pending: true }));
  // --- the log: entries, keys, signatures, checkpoint, inclusion --------------------------
  const { results, logKeyFor, sm2KeyFor, witnessCosignatures } = await checkEntries(entries.concat(pending), pinned);
  const bad = (k) => results.filter((r) => r[k]).map((r) => `#${r.seq}: ${r[k]}`);
  const canon = bad("canonical");
  canon.length ? rep.fail("canonical", T("条目规范形式 (RFC 8785)", "Entries in canonical form (RFC 8785)"), canon.join("; "))
    : rep.pass("canonical", T("条目规范形式 (RFC 8785)", "Entries in canonical form (RFC 8785)"), T(`${results.length} 条`, `${results.length} entries`));
  const sig = bad("signature");
  sig.length ? rep.fail("signatures", T("条目 Ed25519 签名", "Entry Ed25519 signatures"), sig.join("; "))
    : rep.pass("signatures", T("条目 Ed25519 签名", "Entry Ed25519 signatures"), T(`${results.length} 个签名有效`, `${results.length} signatures valid`));
  const kr = bad("keyRule");
  kr.length ? rep.fail("keys", T("密钥规则（注册、轮换、吊销）", "Key rules (registration, rotation, retirement)"), kr.join("; "))
    : rep.pass("keys", T("密钥规则（注册、轮换、吊销）", "Key rules (registration, rotation, retirement)"), T("每个签名密钥均已在日志中先行登记", "every signing key was registered earlier on the log"));
  const ch = bad("chain");
  if (ch.length) rep.fail("chain", T("哈希链（相邻条目）", "Hash chain (adjacent entries)"), ch.join("; "));
  let cp = null, cpOwnTime = null;
  await guard(rep, "checkpoint", T("检查点签名 (C2SP signed note)", "Checkpoint signature (C2SP signed note)"), async () => {
    const size = bundle.log.checkpoint.size;
    const { checkpoint, time } = await verifyCheckpointNote(bundle.log.checkpoint.note, logKeyFor(size));
    if (checkpoint.size !== size) throw new Error(`note says size ${checkpoint.size}, bundle ${size}`);
    cp = checkpoint;
    cpOwnTime = time;
    rep.pass("checkpoint", T("检查点签名 (C2SP signed note)", "Checkpoint signature (C2SP signed note)"),
      T(`树大小 ${size}，日志公钥 ${pinned}（请与公开渠道公布的公钥核对）`, `tree size ${size}, log key ${pinned} (compare it with the key published out of band)`));
  });
  // the 国密 line (§5.1): required from the checkpoint covering the log's SM2 key registration on
  await guard(rep, "sm2", T("国密签名行（SM2/SM3）", "Chinese commercial cryptography (SM2/SM3) signature line"), async () => {
    const r = await sm2Check(bundle.log.checkpoint.note, sm2KeyFor(bundle.log.checkpoint.size), T);
    rep.add("sm2", T("国密签名行（SM2/SM3）", "Chinese commercial cryptography (SM2/SM3) signature line"), r.status, r.detail);
  });
  if (cp) {
    const probs = pending.filter((p) => p.seq < cp.size).map((p) => `#${p.seq}: shown as pending, but the checkpoint covers it (ENTRY_UNPROVEN)`);
    for (let i = 0; i < entries.length; i++) {
      const r = results[i];
      if (!r.leafHash) { probs.push(`#${r.seq}: no leaf`); continue; }
      const why = await verifyInclusion(r.seq, cp.size, r.leafHash, (entries[i].proof || []).map(fromB64), cp.root);
      if (why) probs.push(`#${r.seq}: ${why}`);
    }
    probs.length ? rep.fail("inclusion", T("条目包含证明", "Inclusion proofs"), probs.join("; "))
      : rep.pass("inclusion", T("条目包含证明", "Inclusion proofs"), T(`${entries.length} 条均在已签名检查点中`, `all ${entries.length} entries are in the signed checkpoint`));
  } else rep.skip("inclusion", T("条目包含证明", "Inclusion proofs"), T("检查点无效，无法检查", "no valid checkpoint to check against"));
  // SPEC §D12 witness_policy: a bundle that states k of n witnesses must carry k valid
  // cosignatures (the log's own timestamped line is never one); without one, the registered
  // witnesses' lines are checked where present, as before
  const WT = T("见证者联署", "Witness cosignatures");
  const policy = await witnessPolicy(bundle, pinned);
  if (policy && policy.error) rep.fail("witnesses", WT, T(`WITNESS_POLICY_INVALID：证据包的见证策略无效：${policy.error}`, `WITNESS_POLICY_INVALID: the bundle's witness policy is invalid: ${policy.error}`));
  else if (policy) {
    // each policy key followed through its rotations / revocation on the log (SPEC §3 items 9-10)
    const size = bundle.log.checkpoint.size;
    const { valid: okc, bad: badc, missing } = await witnessCosignatures(bundle.log.checkpoint.note, size, policy.keys);
    if (badc.length) rep.fail("witnesses", WT, badc.map((c) => `${c.code}: ${c.why}`).join("; "));
    else if (okc.length < policy.k) rep.wait("witnesses", WT, awaitingWords(size, policy.k, okc.map((c) => c.name), missing));
    else rep.pass("witnesses", WT, T(`已见证：${okc.length} / ${policy.keys.length} 个见证者联署（需要 ${policy.k} 个）：`, `witnessed: ${okc.length} of ${policy.keys.length} witnesses cosigned (k = ${policy.k}): `) + okc.map((c) => `${c.name} @ ${new Date(c.time * 1000).toISOString()}`).join("; "));
  } else if (witnessKeys && witnessKeys.length) {
    const cos = await verifyCosignatures(bundle.log.checkpoint.note, witnessKeys);
    const okc = cos.filter((c) => c.ok === true);
    const badc = cos.filter((c) => c.ok === false);
    if (badc.length) rep.fail("witnesses", WT, badc.map((c) => `${c.name}: ${c.reason}`).join("; "));
    else if (okc.length) rep.pass("witnesses", WT, okc.map((c) => `${c.name} @ ${new Date(c.time * 1000).toISOString()}`).join("; "));
    else rep.skip("witnesses", WT, T("此检查点尚无见证者联署", "no witness has cosigned this checkpoint yet"));
  } else rep.skip("witnesses", WT, T("未提供见证者公钥", "no witness keys given"));

  // --- the draw's entries -------------------------------------------------------------------
  // proven and pending together (SPEC §D12): a step the status needs must be one or the other
  const all = entries.concat(pending);
  const allOf = (t) => all.filter((e) => e.entry && e.entry.type === t && (e.entry.payload || {}).draw_id === bundle.draw_id);
  const byType = (t) => allOf(t).filter((e) => !e.pending);
  const LC = T("抽签流程条目", "Draw lifecycle entries");
  const NEED = { prepared: ["prepared"], seeded: ["prepared", "seeded"], drawn: ["prepared", "seeded", "drawn"],
    published: ["prepared", "seeded", "drawn", "published"], aborted: ["prepared", "aborted"] }[bundle.status];
  const lcProbs = [];
  if (!NEED) lcProbs.push(`unknown status ${bundle.status}`);
  for (const k of ["prepared", "seeded", "drawn", "published", "aborted"]) if (allOf(`draw.${k}`).length > 1) lcProbs.push(T(`${k} 出现多次`, `${k} appears more than once`));
  for (const k of NEED || []) if (!allOf(`draw.${k}`).length) lcProbs.push(T(`状态 ${bundle.status} 需要 draw.${k} 条目，检查点中没有、也未列为待纳入：条目被删除（LIFECYCLE_INCOMPLETE）`, `status ${bundle.status} needs a draw.${k} entry; it is neither in the checkpoint nor shown as pending: dropped (LIFECYCLE_INCOMPLETE)`));
  const AFTER = { prepared: ["seeded", "drawn", "published", "aborted"], seeded: ["drawn", "published", "aborted"], drawn: ["published", "aborted"], published: ["aborted"], aborted: ["drawn", "published"] }[bundle.status] || [];
  for (const k of AFTER) if (allOf(`draw.${k}`).length) lcProbs.push(T(`draw.${k} 条目与状态 ${bundle.status} 矛盾`, `a draw.${k} entry contradicts status ${bundle.status}`));
  const [prepared0, seeded, drawn, published0, aborted0] = ["prepared", "seeded", "drawn", "published", "aborted"].map((k) => allOf(`draw.${k}`)[0]);
  const subsAll = allOf("draw.substituted").sort((a, b) => a.seq - b.seq);
  const order = [prepared0, seeded, drawn, published0, aborted0].filter(Boolean).map((e) => e.seq);
  if (!order.every((s, i) => i === 0 || s > order[i - 1])) lcProbs.push(T("条目顺序不对", "entries out of order"));
  if (subsAll.some((x) => !drawn || x.seq < drawn.seq)) lcProbs.push(T("递补早于抽取", "a substitution before the draw was drawn"));
  if (!subsAll.every((s, i) => s.entry.payload.n === i)) lcProbs.push(T("递补条目编号不连续", "substitutions not numbered 0, 1, …"));
  if (seeded && prepared0 && seeded.entry.payload.prepared_seq !== prepared0.seq) lcProbs.push("seeded.prepared_seq");
  if (published0 && (published0.entry.payload.substitution_salts || []).length !== subsAll.filter((x) => x.seq < published0.seq).length) lcProbs.push(T("公示的递补盐值个数与递补条目数不符", "substitution salts and entries differ in number"));
  if (aborted0) {
    const ap = aborted0.entry.payload;
    if (ap.stage !== (seeded ? "seeded" : "prepared")) lcProbs.push(T(`中止阶段 ${ap.stage} 与流程不符`, `abort stage ${ap.stage} is not the draw's last step`));
    if (typeof ap.reason !== "string" || !ap.reason.trim()) lcProbs.push(T("中止没有理由", "an abort without a reason"));
  }
  lcProbs.length ? rep.fail("lifecycle", LC, lcProbs.join("; "))
    : rep.pass("lifecycle", LC, [prepared0, seeded, drawn, ...subsAll, published0, aborted0].filter(Boolean).map((e) => `${e.entry.type}#${e.seq}`).join(" → "));
  // entry times never run backwards along seq (SPEC §2), binding from v3
  const TO = T("条目时间不倒流", "Entry times never run backwards");
  const dated = all.filter((e) => e.entry && typeof e.entry.time === "string").sort((a, b) => a.seq - b.seq);
  const back = dated.filter((e, i) => i > 0 && e.entry.time < dated[i - 1].entry.time).map((e) => `#${e.seq}`);
  if (back.length && bundle.format === V3) rep.fail("time_order", TO, T(`ENTRY_TIME_DECREASING：${back.join("、")} 的时间早于日志中排在它前面的条目`, `ENTRY_TIME_DECREASING: ${back.join(", ")} dated before an entry that comes earlier in the log`));
  else if (back.length) rep.pass("time_order", TO, T(`${back.join("、")} 时间倒流（spotcheck-draw/3 之前允许）`, `${back.join(", ")} dated backwards (allowed before spotcheck-draw/3)`));
  else rep.pass("time_order", TO, T(`${dated.length} 条按日志顺序计时`, `${dated.length} entries dated in log order`));
  const CV = T("检查点覆盖（每个流程条目均已纳入已签名检查点）", "Checkpoint coverage (every step in a signed checkpoint)");
  const waiting = all.filter((e) => e.pending && e.entry && (e.entry.payload || {}).draw_id === bundle.draw_id);
  waiting.length ? rep.pend("coverage", CV, T(`${waiting.map((e) => `${e.entry.type}#${e.seq}`).join("、")} 尚未纳入已签名检查点：签名已核验，稍后再核验其包含证明（不是被删除）`,
    `${waiting.map((e) => `${e.entry.type}#${e.seq}`).join(", ")} not yet in a signed checkpoint: signature checked; verify again later for its inclusion proof (not a dropped entry)`))
    : rep.pass("coverage", CV, T("全部流程条目均在检查点中", "every step is in the checkpoint"));
  const isPending = (t) => waiting.some((e) => e.entry.type === t);
  const prepared = byType("draw.prepared")[0], published = byType("draw.published")[0], aborted = byType("draw.aborted")[0];
  const subs = byType("draw.substituted").sort((a, b) => a.entry.payload.n - b.entry.payload.n);
  if (aborted && rep.ok) {
    const ap = aborted.entry.payload;
    rep.aborted = { reason: ap.reason, stage: ap.stage, time: aborted.entry.time, actor: aborted.entry.actor.id, seq: aborted.seq };
  }
  if (!prepared) { // pending (a missing one failed above): every later check waits for it, and says so
    for (const [id, zh, en] of [["prepared_cp", "准备后检查点（输入先于随机源固定）", "Prepared checkpoint (inputs fixed before the randomness)"], ...SEALED])
      rep.pend(id, T(zh, en), T("准备条目尚未纳入已签名检查点", "the prepared entry is not yet in a signed checkpoint"));
    return rep;
  }
  otherDraws(rep, entries, P_of(prepared), prepared.seq, bundle.draw_id);
  const pi = entries.indexOf(prepared);
  const preparedLeaf = results[pi].leafHash;
  const P = prepared.entry.payload;
  // prepared checkpoint: the inputs were fixed, and signed, before the randomness existed
  let preparedCpTime = null, preparedWait = null;
  // evidence in the bundle that Unix time t has passed (never the clock: the verdict must not
  // depend on when it is computed): the draw seeded, an entry dated at or after t, a signed time
  const timePassed = (t, cosigs) => {
    if (seeded) return T(`已播种 #${seeded.seq}`, `the draw was seeded, #${seeded.seq}`);
    const late = all.find((e) => e.entry && typeof e.entry.time === "string" && Date.parse(e.entry.time) / 1000 >= t);
    if (late) return T(`条目 #${late.seq} 的时间为 ${late.entry.time}`, `entry #${late.seq} is dated ${late.entry.time}`);
    const c = cosigs.find((x) => x.time >= t);
    if (c) return T(`${c.name} 于 ${c.time} 联署`, `${c.name} cosigned at ${c.time}`);
    if (cpOwnTime != null && cpOwnTime >= t) return T(`日志于 ${cpOwnTime} 签署检查点`, `the log signed its checkpoint at ${cpOwnTime}`);
    return null;
  };
  await guard(rep, "prepared_cp", T("准备后检查点（输入先于随机源固定）", "Prepared checkpoint (inputs fixed before the randomness)"), async () => {
    const pc = bundle.prepared_checkpoint;
    if (!pc) throw new Error(T("PREPARED_CHECKPOINT_INVALID：证据包中没有覆盖准备条目的检查点，无法说明输入先于种子固定",
      "PREPARED_CHECKPOINT_INVALID: the bundle has no checkpoint covering the prepared entry: nothing shows the inputs were fixed before the seed"));
    const { checkpoint, time } = await verifyCheckpointNote(pc.note, logKeyFor(pc.size));
    const sm2 = await sm2Check(pc.note, sm2KeyFor(pc.size), T);
    if (sm2.status === "failed") throw new Error(sm2.detail);
    if (checkpoint.size <= prepared.seq) throw new Error("it does not cover the prepared entry");
    if (time == null && bundle.format === V3) throw new Error(T("PREPARED_CHECKPOINT_UNTIMED：准备后检查点没有日志自身带时间戳的联署签名（spotcheck-draw/3 起必需）", "PREPARED_CHECKPOINT_UNTIMED: the prepared checkpoint carries no timestamped cosignature by the log (required from spotcheck-draw/3)"));
    if (time != null && time < Math.floor(Date.parse(prepared.entry.time) / 1000)) throw new Error(T(`PREPARED_CHECKPOINT_INVALID：日志的时间戳联署 ${time} 早于它所覆盖的准备条目（${prepared.entry.time}）`, `PREPARED_CHECKPOINT_INVALID: the log's timestamped cosignature ${time} is dated before the prepared entry it covers (${prepared.entry.time})`));
    // the time the page relies on: the signed one from v3, the bare signed_at before
    const signedAt = time != null ? new Date(time * 1000).toISOString() : pc.signed_at;
    preparedCpTime = signedAt;
    if (seeded && seeded.seq < checkpoint.size) throw new Error(T("LIFECYCLE_ORDER：播种条目在准备后检查点之内：公开值早于输入固定", "LIFECYCLE_ORDER: the seeded entry is inside the prepared checkpoint: the reveals existed before the inputs were fixed"));
    if (!cp) throw new Error("no valid current checkpoint");
    const why = await verifyConsistency(checkpoint.size, cp.size, checkpoint.root, cp.root, (pc.consistency_proof || []).map(fromB64));
    if (why) throw new Error("consistency proof: " + why);
    const how = time != null ? T("（日志签名的时间）", " (time signed by the log)") : T("（未签名的时间字段）", " (unsigned time field)");
    let detail = T(`树大小 ${checkpoint.size}，签于 ${signedAt}${how}，与当前检查点一致`, `size ${checkpoint.size}, signed ${signedAt}${how}, consistent with the current checkpoint`);
    if (P.not_before != null && signedAt) {
      const signed = Date.parse(signedAt) / 1000;
      if (!(signed < P.not_before)) throw new Error(`PREPARED_TOO_LATE: signed at ${signedAt}, not before the beacon round time ${P.not_before}`);
      detail += T(`；早于信标轮次时间 ${new Date(P.not_before * 1000).toISOString()}`, `; before the beacon round time ${new Date(P.not_before * 1000).toISOString()}`);
    }
    if (policy && !policy.error) {
      // the inputs count as fixed once k witnesses cosigned the prepared checkpoint (before the round, if any)
      const { valid, bad: badp } = await witnessCosignatures(pc.note, pc.size, policy.keys);
      if (badp.length) throw new Error(badp.map((c) => `${c.code}: ${c.why}`).join("; "));
      const inTime = valid.filter((c) => P.not_before == null || c.time < P.not_before);
      if (inTime.length < policy.k) {
        const missing = (await Promise.all(policy.keys.map(parseVerifierKey))).map((k) => k.name).filter((n) => !inTime.some((c) => c.name === n));
        const past = P.not_before == null ? null : timePassed(P.not_before, valid);
        if (P.not_before != null && past) throw new Error(T(`PREPARED_NOT_WITNESSED：准备后检查点在信标轮次时间 ${P.not_before} 之前只有 ${inTime.length} 个见证者联署，需要 ${policy.k} 个；该时间已过（${past}），永远无法成立；未及时联署：${missing.join("、")}`,
          `PREPARED_NOT_WITNESSED: ${inTime.length} witnesses cosigned the prepared checkpoint before the round's time ${P.not_before}, ${policy.k} needed; that time has passed (${past}): it can never become valid; not in time: ${missing.join(", ")}`));
        preparedWait = awaitingWords(pc.size, policy.k, inTime.map((c) => c.name), missing);
      }
      detail += T(`；${inTime.length} 个见证者联署`, `; cosigned by ${inTime.length} witnesses`);
    }
    if (preparedWait) { rep.wait("prepared_cp", T("准备后检查点（输入先于随机源固定）", "Prepared checkpoint (inputs fixed before the randomness)"), preparedWait); return; }
    rep.pass("prepared_cp", T("准备后检查点（输入先于随机源固定）", "Prepared checkpoint (inputs fixed before the randomness)"), detail);
  });

  const recipe = P.seed_recipe;
  const drandDecl = recipe.sources.filter((s) => s.type === "drand");
  if (drandDecl.length) await drandChecks(rep, recipe.sources, seeded ? seeded.entry.payload.reveals || [] : null, bundle.chains);
  // v2 (SPEC §D11.1, §D13): the drand parameters are committed in the prepared entry; the bundle's must be them
  const v2rules = bundle.format !== "spotcheck-draw-bundle/1";  // chains, experts, prior loads committed; §D8 bars leavers
  if (P.algorithm !== ALGORITHM_OF[bundle.format])
    rep.fail("algorithm", T("抽签算法版本", "Draw algorithm version"), T(`DRAW_ENTRY_MALFORMED：准备条目的算法 ${P.algorithm} 不是证据包格式 ${bundle.format} 所对应的 ${ALGORITHM_OF[bundle.format]}`, `DRAW_ENTRY_MALFORMED: the prepared entry's algorithm ${P.algorithm} is not ${ALGORITHM_OF[bundle.format]}, which the bundle format ${bundle.format} stands for`));
  else rep.pass("algorithm", T("抽签算法版本", "Draw algorithm version"), P.algorithm);
  if (v2rules) {
    const CC = T("drand 参数已在准备时承诺", "drand parameters committed at prepare");
    const declared = new Set(drandDecl.map((d) => String(d.chain_hash).toLowerCase()));
    const committed = P.chains && typeof P.chains === "object" ? P.chains : null;
    if (!committed) rep.fail("chains_committed", CC, T("CHAIN_NOT_COMMITTED：v2 准备条目没有承诺其使用的 drand 参数", "CHAIN_NOT_COMMITTED: a v2 prepared entry commits the drand parameters it uses"));
    else if (!D.sameJson(Object.keys(committed).sort(), [...declared].sort())) rep.fail("chains_committed", CC, T("CHAIN_NOT_COMMITTED：承诺的网络不是所声明来源的网络", "CHAIN_NOT_COMMITTED: the committed chains are not the declared sources' chains"));
    else {
      const off = [...declared].filter((h) => !D.sameJson((bundle.chains || {})[h], committed[h]));
      if (off.length) rep.fail("chains_committed", CC, T(`CHAIN_NOT_COMMITTED：证据包中 ${off.join("、")} 的参数不是准备条目承诺的参数`, `CHAIN_NOT_COMMITTED: the bundle's parameters of ${off.join(", ")} are not the ones the prepared entry committed`));
      else rep.pass("chains_committed", CC, declared.size ? T(`${declared.size} 个网络的参数与准备条目一致`, `${declared.size} network(s) as committed at prepare`) : T("未声明 drand 来源，准备条目承诺为空", "no drand source: the prepared entry commits none"));
    }
  }
  // the public reveals (witness contributions, dice, lottery, drand randomness): checkable once
  // seeded, before publication too; only the seed itself waits for the nonce
  const RV = T("公开值（见证者贡献、骰子、彩票、信标）", "Public reveals (witness contributions, dice, lottery, beacon)");
  if (seeded) {
    await guard(rep, "reveals", RV, async () => {
      const pubDecl = recipe.sources.filter((s) => s.type !== "server_nonce");
      const reveals = seeded.entry.payload.reveals || [];
      if (recipe.sources.length - pubDecl.length !== 1 || !pubDecl.length) throw new Error(T("REVEAL_MISMATCH：配方须恰有一个 server_nonce 和至少一个其他来源", "REVEAL_MISMATCH: the recipe needs exactly one server_nonce and at least one other source"));
      if (reveals.length !== pubDecl.length || reveals.some((r, i) => !r || r.type !== pubDecl[i].type)) throw new Error(T("REVEAL_MISMATCH：公开值与声明的来源不一一对应（顺序、类型）", "REVEAL_MISMATCH: reveals must match the declared public sources one to one, same order and type"));
      const probs = [];
      for (let i = 0; i < pubDecl.length; i++) {
        try { await D.encodeSource(pubDecl[i], reveals[i]); } catch (e) { probs.push(`${e.code || "Error"}: ${e.message}`); }
      }
      if (probs.length) throw new Error(probs.join("; "));
      rep.pass("reveals", RV, T(`${pubDecl.length} 个公开来源：${pubDecl.map((d) => d.type).join("、")}`, `${pubDecl.length} public source(s): ${pubDecl.map((d) => d.type).join(", ")}`));
    });
  }
  const timing = checkTiming(recipe.sources, bundle.chains, { preparedTime: prepared.entry.time, notBefore: P.not_before,
    seededTime: seeded ? seeded.entry.time : null, checkpointSignedAt: preparedCpTime });
  if (timing) rep.add("drand_time", T("信标轮次时间（输入先于轮次固定，播种晚于轮次）", "Beacon round time (inputs fixed before the round, seeded after it)"), timing.status, timing.detail);

  // sizes need only the prepared entry (and the drawn one): checked before publication too, as in the CLI
  const content = bundle.content;
  const SZ = T("分层抽取数量", "Stratum sizes");
  let sizes = null;
  await guard(rep, "sizes", SZ, async () => {
    const p = P.parameters;
    sizes = D.stratumSizes(P.pools.subjects.counts, p.ratios, p.floor, p.key_item);
    if (!D.sameJson(sizes, P.expected_sizes)) throw new Error(`§5 gives ${JSON.stringify(sizes)}, prepared says ${JSON.stringify(P.expected_sizes)}`);
    if (content && !D.sameJson(sizes, content.sizes)) throw new Error("the drawn content uses other sizes");
    if (drawn && !D.sameJson(sizes, drawn.entry.payload.sizes)) throw new Error("the drawn entry states other sizes");
    rep.pass("sizes", SZ, Object.entries(sizes).map(([s, k]) => `${s}:${k}`).join(" "));
  });

  if (!published) {
    const why = aborted0 ? T(`该抽签已中止：${aborted0.entry.payload.reason}`, `the draw was aborted: ${aborted0.entry.payload.reason}`)
      : T("尚未公示：随机数、抽取结果仍为密封承诺，公示后才能复算", "not yet published: nonce and result are still sealed commitments; they can be recomputed once published");
    const wait = isPending("draw.published");
    for (const [id, zh, en] of SEALED.filter(([id]) => id !== "sizes")) {  // sizes: checked above
      if (wait) rep.pend(id, T(zh, en), T("公示条目尚未纳入已签名检查点", "the published entry is not yet in a signed checkpoint"));
      else rep.skip(id, T(zh, en), why);
    }
    return rep;
  }
  const pub = published.entry.payload;
  // --- nonce, seed ------------------------------------------------------------------------
  const NC = T("服务器随机数承诺", "Nonce commitment");
  await guard(rep, "nonce", NC, async () => {
    const c = hex(await D.nonceCommitment(fromHex(pub.nonce)));
    if (c !== recipe.nonce_commitment) throw new Error(`H(nonce) = ${c}, committed ${recipe.nonce_commitment}`);
    rep.pass("nonce", NC, T(`公示的随机数与准备时承诺 ${c.slice(0, 16)}… 一致`, `the revealed nonce matches the commitment ${c.slice(0, 16)}… made at prepare`));
  });
  let seed = null;
  const SD = T("种子推导", "Seed derivation");
  await guard(rep, "seed", SD, async () => {
    if (!seeded) throw new Error("no draw.seeded entry");
    const reveals = [{ type: "server_nonce", nonce: pub.nonce }, ...seeded.entry.payload.reveals];
    if (reveals.length !== recipe.sources.length) throw new Error("reveals do not match the declared sources one to one (RevealMismatch)");
    const encs = [];
    for (let i = 0; i < reveals.length; i++) encs.push(await D.encodeSource(recipe.sources[i], reveals[i]));
    seed = await D.seedFrom(preparedLeaf, encs);
    if (hex(seed) !== pub.seed) throw new Error(`recomputed ${hex(seed)}, published ${pub.seed}`);
    rep.pass("seed", SD, T(`种子 ${hex(seed)} = H(准备条目叶哈希 ‖ ${encs.length} 个来源)`, `seed ${hex(seed)} = H(prepared leaf hash ‖ ${encs.length} sources)`));
  });
  // --- pools ------------------------------------------------------------------------------
  const pools = bundle.pools;
  const PR = T("名录池根", "Pool roots");
  await guard(rep, "pools", PR, async () => {
    if (!pools) throw new Error("the bundle has no pools");
    const probs = [];
    const v2 = v2rules;
    // v2 commits the expert pool and the prior workloads the §D7 cap reads (SPEC §D11.1)
    for (const kind of v2 ? ["subjects", "inspectors", "excluded", "experts"] : ["subjects", "inspectors", "excluded"]) {
      if (!Array.isArray(pools[kind]) || !P.pools[kind]) { probs.push(`POOL_ROOT_MISMATCH: ${kind} missing`); continue; }
      const c = await D.poolCommitment(pools[kind], kind);
      if (!D.sameJson(c, P.pools[kind])) probs.push(`POOL_ROOT_MISMATCH ${kind}: recomputed ${c.size}/${c.root.slice(0, 16)}…, committed ${P.pools[kind].size}/${String(P.pools[kind].root).slice(0, 16)}…`);
    }
    const cs = hex(await sha256(canonicalBytes(pools.conflicts)));
    if (cs !== P.pools.conflicts_sha256) probs.push("CONFLICTS_MISMATCH: conflicts_sha256 differs");
    const load = pools.prior_load;
    if (v2) {
      const okShape = load && typeof load === "object" && !Array.isArray(load) && Object.values(load).every((v) => Number.isInteger(v) && v >= 0);
      if (!okShape) probs.push("PRIOR_LOAD_MISMATCH: prior_load must be an object {id: non-negative integer}");
      else if (hex(await sha256(canonicalBytes(load))) !== P.pools.prior_load_sha256) probs.push("PRIOR_LOAD_MISMATCH: the prior workloads do not hash to prior_load_sha256");
    } else if (load !== undefined && !(load && typeof load === "object" && !Object.keys(load).length)) {
      probs.push("PRIOR_LOAD_MISMATCH: a v1 prepared entry commits no prior load");
    }
    if (probs.length) throw new Error(probs.join("; "));
    rep.pass("pools", PR, T(`对象 ${P.pools.subjects.size}、人员 ${P.pools.inspectors.size}、排除 ${P.pools.excluded.size}，根与承诺一致`,
      `subjects ${P.pools.subjects.size}, inspectors ${P.pools.inspectors.size}, excluded ${P.pools.excluded.size}: roots match the commitments`));
  });
  // --- selection, matching, seal -------------------------------------------------------------
  let sel = null;
  const SE = T("随机号与抽取结果", "Tickets and selection");
  await guard(rep, "selection", SE, async () => {
    if (!seed || !sizes || !pools || !content) throw new Error("needs seed, sizes, pools and content");
    sel = await D.selectSubjects(seed, pools.subjects, sizes);
    const probs = [];
    const keys = new Set([...Object.keys(sel.strata), ...Object.keys(content.strata)]);
    for (const s of keys) {
      const a = sel.strata[s], b = content.strata[s];
      if (!a || !b || !D.sameJson({ n: a.n, k: a.k, selected: a.selected }, b)) probs.push(T(`${s} 层不一致`, `stratum ${s} differs`));
    }
    if (probs.length) throw new Error(probs.join("; "));
    rep.pass("selection", SE, Object.entries(sel.strata).map(([s, x]) => `${s}: ${x.k}/${x.n}`).join(" · "));
  });
  const MA = T("检查人员匹配", "Inspector matching");
  let matcher = null;
  await guard(rep, "matching", MA, async () => {
    if (!sel) throw new Error("needs the selection");
    const tr = P.parameters.team_rule;
    matcher = new D.Matcher(seed, tr, pools.inspectors, pools.conflicts || [], pools.prior_load || {}, pools.experts || []);
    const m = await matcher.match(sel.matchingOrder);
    if (!D.sameJson(m, content.matching)) {
      const i = m.assignments.findIndex((a, j) => !D.sameJson(a, (content.matching.assignments || [])[j]));
      throw new Error(i >= 0 ? T(`第 ${i + 1} 个对象的检查组不一致：应为 ${m.assignments[i].team.join("、")}`, `assignment ${i + 1} differs: expected ${m.assignments[i].team.join(", ")}`) : "draw_ineligible differs");
    }
    rep.pass("matching", MA, T(`${m.assignments.length} 个检查组，按每个对象的密钥化洗牌顺序`, `${m.assignments.length} teams, by each subject's keyed shuffle`));
  });
  const SL = T("结果封存", "Seal");
  await guard(rep, "seal", SL, async () => {
    if (!content || !drawn) throw new Error("needs content and the drawn entry");
    const c = hex(await D.seal(content, fromHex(pub.salt)));
    if (c !== drawn.entry.payload.seal) throw new Error(`H(salt ‖ JCS(content)) = ${c}, sealed ${drawn.entry.payload.seal}`);
    rep.pass("seal", SL, T(`公示内容与抽取时的封存 ${c.slice(0, 16)}… 一致`, `the published content matches the seal ${c.slice(0, 16)}… logged when drawn`));
  });
  const SU = T("递补与互换", "Substitutions and swaps");
  await guard(rep, "substitutions", SU, async () => {
    const recs = bundle.substitutions || [];
    const salts = pub.substitution_salts || [];
    const early = subs.filter((x) => x.seq < published.seq).length; // later ones: opened by the bundle alone
    if (recs.length !== subs.length || salts.length !== early) throw new Error(`${subs.length} logged, ${recs.length} records, ${salts.length} salts for ${early} before publication`);
    if (!subs.length) { rep.pass("substitutions", SU, T("没有递补", "none")); return; }
    if (!matcher || !sel) throw new Error("needs the matching");
    const cur = JSON.parse(JSON.stringify(content.matching));
    const stratumOf = Object.fromEntries(pools.subjects.map((r) => [r.id, r.stratum]));
    const used = [];
    const lines = [];
    const left = {};  // subject -> inspectors who left it by an inspector substitution
    for (let i = 0; i < subs.length; i++) {
      const { record, salt } = recs[i];
      if (i < early && salt !== salts[i]) throw new Error(`#${i}: salt differs from the published one`);
      const c = hex(await D.seal(record, fromHex(salt)));
      if (c !== subs[i].entry.payload.seal) throw new Error(`#${i}: record does not match its seal`);
      if (record.kind === "inspector") {  // v2 §D8: who left this subject is never its candidate again
        const subj = String(record.subject);
        await matcher.applyInspector(cur, record, v2rules ? (left[subj] || []) : null);
        (left[subj] = left[subj] || []).push(String(record.leaving));
      }
      else if (record.kind === "subject") await matcher.applySubject(cur, record, stratumOf, sel.strata[record.stratum].replacement, sel.tickets, used);
      else if (record.kind === "swap") matcher.applySwap(cur, record);
      else throw new Error(`unknown kind ${record.kind}`);
      lines.push(record.kind === "swap" ? `swap ${record.inspector_a}⇄${record.inspector_b}` : `${record.leaving} → ${record.incoming} (${record.reason})`);
    }
    if (bundle.current_matching && !D.sameJson(cur, bundle.current_matching)) throw new Error("the current matching is not the drawn one with the substitutions applied");
    rep.pass("substitutions", SU, lines.join("; "));
  });
  return rep;
}

// The checks that need the published nonce, content and salts.
const SEALED = [["nonce", "服务器随机数承诺", "Nonce commitment"], ["seed", "种子推导", "Seed derivation"], ["pools", "名录池根", "Pool roots"],
  ["sizes", "分层抽取数量", "Stratum sizes"], ["selection", "随机号与抽取结果", "Tickets and selection"], ["matching", "检查人员匹配", "Inspector matching"],
  ["seal", "结果封存", "Seal"], ["substitutions", "递补与互换", "Substitutions and swaps"]];

function P_of(e) { return e.entry.payload; }

// Other draws of the same plan in the bundle (SPEC §D11.6): listed; one seeded and then left
// (aborted or open, never drawn) before this draw was prepared makes this a re-run after a
// seed could be known (RERUN_AFTER_SEED), as in drawverify.
function otherDraws(rep, entries, P, mySeq, myId) {
  const OD = T("同一计划的其他抽签（中止 / 重抽）", "Other draws of the same plan (aborted / re-run)");
  const seen = new Map();
  for (const { seq, entry } of entries) {
    if (!entry || !String(entry.type).startsWith("draw.") || !entry.payload || entry.payload.draw_id === myId) continue;
    const d = seen.get(entry.payload.draw_id) || { plan: null, steps: {}, aborted: null };
    d.steps[entry.type.slice(5)] = seq;
    if (entry.type === "draw.prepared") d.plan = entry.payload.plan;
    if (entry.type === "draw.aborted") d.aborted = `${entry.time} ${entry.actor.id}: ${entry.payload.reason}`;
    seen.set(entry.payload.draw_id, d);
  }
  const lines = [], bad = [];
  for (const [id, d] of seen) {
    if (d.plan !== null && d.plan !== P.plan) continue;
    lines.push(`${id}: ${Object.entries(d.steps).map(([k, s]) => `${k}#${s}`).join(", ")}` + (d.aborted ? T(`（已中止 ${d.aborted}）`, ` (aborted ${d.aborted})`) : ""));
    const s = d.steps;
    if (d.plan === P.plan && s.prepared < mySeq && s.seeded !== undefined && s.drawn === undefined && s.published === undefined) bad.push(id);
  }
  if (bad.length) rep.fail("other_draws", OD, T(`${bad.join("、")} 在本次准备前已播种后被放弃：本次是在先前种子可能已知后的重抽（RERUN_AFTER_SEED）`, `${bad.join(", ")} seeded and abandoned before this draw was prepared: a re-run after a seed could be known (RERUN_AFTER_SEED)`));
  else rep.pass("other_draws", OD, lines.length ? lines.join("; ") : T("证据包中没有", "none in the bundle"));
}

// --- the page ------------------------------------------------------------------------------
const STATUS = { passed: T("通过", "passed"), failed: T("未通过", "failed"), not_checked: T("未检查", "not checked"), pending: T("待纳入检查点", "pending"), awaiting_witnesses: T("等待见证", "awaiting witnesses") };

// drawverify's catalogue (verifier/messages/zh.json): the page says what the command line says.
async function wordsOf() {
  if (EN) return null;
  try { return await fetchJson("/verify/messages/zh.json"); } catch (e) { return null; }
}

const fmt = (template, vars) => template.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));

function titleOf(c, M) {
  if (!M) return c.title;
  return M.checks[(M.aliases || {})[c.id] || c.id] || c.title;
}

function render(rep, into, M = null) {
  into.textContent = "";
  const summary = document.createElement("p");
  const verdict = rep.verdict;
  summary.className = "verdict " + (verdict === "verified" ? "ok" : verdict === "aborted" ? "aborted" : verdict === "awaiting_witnesses" ? "awaiting" : "bad");
  summary.id = "verdict";
  summary.dataset.ok = String(rep.ok);
  summary.dataset.verdict = verdict;
  const failed = rep.checks.filter((c) => c.status === "failed").length;
  const waiting = rep.checks.filter((c) => c.status === "pending").length;
  const a = rep.aborted;
  const abortLine = a ? T(`${a.reason}（阶段 ${a.stage}，${a.time}，${a.actor}，日志 #${a.seq}）。日志证据核验无误；本次抽签未抽取。`,
    `${a.reason} (stage ${a.stage}, ${a.time}, by ${a.actor}, log #${a.seq}). The log evidence verifies; nothing was drawn.`) : "";
  if (M) {  // the command line's words: 结论：…
    const key = verdict === "verified" && waiting ? "pending" : verdict;
    summary.textContent = `${M.words.result}：${M.verdicts[key] || verdict}` + (a ? ` — ${abortLine}` : "");
  } else {
    summary.textContent = verdict === "failed" ? T(`${failed} 项检查未通过`, `${failed} check(s) failed`)
      : verdict === "aborted" ? T(`已中止：${abortLine}`, `ABORTED: ${abortLine}`)
      : verdict === "awaiting_witnesses" ? T("等待见证：见证者联署尚不足，暂未公开（不是篡改，稍后再核验）", "awaiting witnesses: too few witness cosignatures so far, not yet public (not tampering; check again later)")
      : T("已核验：目前可检查的各项均通过（未检查、待纳入检查点的项见下）", "VERIFIED: every check that can be made so far passed (see below for those not checked or pending)");
    if (waiting && verdict !== "failed") summary.textContent += T(`；${waiting} 项待纳入检查点`, `; ${waiting} pending a checkpoint`);
  }
  into.appendChild(summary);
  const count = (st) => rep.checks.filter((c) => c.status === st).length;
  const counts = document.createElement("p");
  counts.id = "verdict-counts";
  counts.textContent = M ? fmt(M.words.counts, { n: rep.checks.length, passed: count("passed"), failed, not_checked: count("not_checked"),
    pending: waiting ? fmt(M.words.pending_count, { n: waiting }) : "" })
    : `${rep.checks.length} checks: ${count("passed")} passed, ${failed} failed, ${count("not_checked")} not checked yet${waiting ? `, ${waiting} pending` : ""}.`;
  into.appendChild(counts);
  const STATUSES = M ? M.statuses : STATUS;
  const ul = document.createElement("ul");
  ul.className = "checks";
  for (const c of rep.checks) {
    const li = document.createElement("li");
    li.className = "check " + c.status;
    li.dataset.check = c.id;
    li.dataset.status = c.status;
    const b = document.createElement("span");
    b.className = "badge";
    b.textContent = STATUSES[c.status];
    const t = document.createElement("strong");
    t.textContent = titleOf(c, M);
    const d = document.createElement("div");
    d.className = "detail";
    d.textContent = c.detail;
    li.append(b, " ", t, d);
    ul.appendChild(li);
  }
  into.appendChild(ul);
  window.spotcheckResult = { ok: rep.ok, verdict: rep.verdict, aborted: rep.aborted || null, checks: rep.checks };
}

async function fetchJson(url) {
  const r = await fetch(url, { credentials: "omit", headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function witnessKeys() {
  try {
    const w = await fetchJson("/api/v1/log/witnesses");
    return (w.witnesses || []).map((x) => x.verifier_key).filter(Boolean);
  } catch (e) { return []; }
}

async function run(getBundle, out) {
  out.textContent = T("正在复算…", "Recomputing…");
  window.spotcheckResult = null;
  try {
    const bundle = await getBundle();
    render(await verifyBundle(bundle, await witnessKeys()), out, await wordsOf());
  } catch (e) {
    out.textContent = T("无法读取证据包：", "Cannot read the bundle: ") + e.message;
    window.spotcheckResult = { ok: false, checks: [], error: e.message };
  }
}

function init() {
  const form = document.getElementById("verify-form");
  const out = document.getElementById("verify-results");
  if (!form || !out) return;
  const input = document.getElementById("draw-id");
  const file = document.getElementById("bundle-file");
  const drop = document.getElementById("drop-zone");
  const byId = () => run(() => fetchJson(`/api/v1/draws/${encodeURIComponent(input.value.trim())}/bundle`), out);
  const byFile = (f) => run(async () => JSON.parse(await f.text()), out);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); if (input.value.trim()) byId(); });
  file.addEventListener("change", () => { if (file.files[0]) byFile(file.files[0]); });
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => { ev.preventDefault(); drop.classList.remove("over"); if (ev.dataTransfer.files[0]) byFile(ev.dataTransfer.files[0]); });
  if (input.value.trim()) byId();
}

window.SpotcheckVerifier = { verifyBundle: async (b, w) => { const r = await verifyBundle(b, w); return { ok: r.ok, verdict: r.verdict, aborted: r.aborted || null, checks: r.checks }; } };
init();
// for the company page's own check (subject-proof.js): the same report, words and rendering
export { Report, fetchJson, render, witnessPolicy, wordsOf };
