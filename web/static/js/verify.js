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
import { LANG, _, list, pgettext } from "./lib/i18n.js";


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
  return _("等待见证：树大小 %(size)s 的检查点已有 %(valid_n)s 个有效联署，需要 %(k)s 个，还差 %(more)s 个；尚未联署：%(missing)s",
    { size, valid_n: valid.length, k, more, missing: list(missing) || "—" });
}

async function guard(rep, id, title, fn) {
  try { await fn(); } catch (e) { rep.fail(id, title, e.message || String(e)); }
}

// drand (drand.js): chain parameters pinned to the League of Entropy networks, then each round's
// BLS12-381 signature and randomness = SHA-256(signature).
async function drandChecks(rep, sources, reveals, chains) {
  const CH = _("drand 网络参数"), BLS = _("drand 信标 BLS 签名");
  await guard(rep, "drand_bls", BLS, async () => {
    const r = await checkBundleDrand(sources, reveals, chains || {});
    rep.add("drand_chain", CH, r.chains.status, r.chains.detail);
    if (r.rounds) rep.add("drand_bls", BLS, r.rounds.status, r.rounds.detail);
    else rep.skip("drand_bls", BLS, _("尚未播种：信标轮次的签名在播种时才公开"));
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
    return { error: _("witness_policy 应为 {k: 整数, witnesses: [见证者验证公钥]}") };
  let logKey = null;
  try { logKey = pinned ? await parseVerifierKey(pinned) : null; } catch (e) { logKey = null; }
  const origin = bundle.log && bundle.log.origin;
  const keys = [];
  for (const w of wp.witnesses) {
    let k;
    try { k = await parseVerifierKey(w); } catch (e) { return { error: `${w.slice(0, 60)}: ${e.message}` }; }
    if (k.alg !== 0x04) return { error: _("%(name)s 不是 cosignature/v1 (0x04) 公钥", { name: k.name }) };
    if ((logKey && k.key.length === logKey.key.length && k.key.every((b, i) => b === logKey.key[i])) || k.name === origin)
      return { error: _("%(name)s 是日志自己的公钥：日志不能为自己作见证", { name: k.name }) };
    if (keys.some((x) => x.name === k.name)) return { error: _("见证者 %(name)s 被列了两次", { name: k.name }) };
    keys.push(k);
  }
  if (!(wp.k >= 1 && wp.k <= keys.length)) return { error: _("k = %(k)s 不在 1 与所列见证者数 %(n)s 之间", { k: wp.k, n: keys.length }) };
  return { k: wp.k, keys: wp.witnesses };
}

async function verifyDraw(bundle, witnessKeys) {
  const rep = new Report();
  if (!bundle || !BUNDLE_FORMATS.includes(bundle.format)) {
    rep.fail("format", _("证据包格式"), _("不是 spotcheck-draw-bundle/1、/2 或 /3"));
    return rep;
  }
  rep.pass("format", _("证据包格式"), `${bundle.format} · ${bundle.draw_id} · ${bundle.status}`);
  const pinned = bundle.log && bundle.log.verifier_key;
  const entries = (bundle.entries || []).map((e) => ({ seq: e.seq, entry: e.entry, proof: e.inclusion_proof }));
  // entries shown beyond the checkpoint (§D12): signature-checked, not yet provable
  const pending = (bundle.pending_entries || []).map((e) => ({ seq: e.seq, entry: e.entry, pending: true }));
  // --- the log: entries, keys, signatures, checkpoint, inclusion --------------------------
  const { results, logKeyFor, sm2KeyFor, witnessCosignatures } = await checkEntries(entries.concat(pending), pinned);
  const bad = (k) => results.filter((r) => r[k]).map((r) => `#${r.seq}: ${r[k]}`);
  const canon = bad("canonical");
  canon.length ? rep.fail("canonical", _("条目规范形式 (RFC 8785)"), canon.join("; "))
    : rep.pass("canonical", _("条目规范形式 (RFC 8785)"), _("%(results_n)s 条", { results_n: results.length }));
  const sig = bad("signature");
  sig.length ? rep.fail("signatures", _("条目 Ed25519 签名"), sig.join("; "))
    : rep.pass("signatures", _("条目 Ed25519 签名"), _("%(results_n)s 个签名有效", { results_n: results.length }));
  // entries by actors holding an SM2 key carry sm2_sig too (§3 item 11), checked with sm-crypto
  const sm2e = bad("sm2");
  const sm2n = results.filter((r) => r.sm2 === "").length;
  const sm2Title = _("条目国密签名（SM2/SM3）");
  if (sm2e.length) rep.fail("sm2_entries", sm2Title, sm2e.join("; "));
  else if (sm2n) rep.pass("sm2_entries", sm2Title, _("%(sm2n)s 条条目由持有 SM2 密钥的账户签署，SM2 签名均有效（sm-crypto 核验）", { sm2n }));
  else rep.pass("sm2_entries", sm2Title, _("本证据包中没有持有 SM2 密钥的账户签署的条目，无需 SM2 签名"));
  const kr = bad("keyRule");
  kr.length ? rep.fail("keys", _("密钥规则（注册、轮换、吊销）"), kr.join("; "))
    : rep.pass("keys", _("密钥规则（注册、轮换、吊销）"), _("每个签名密钥均已在日志中先行登记"));
  const ch = bad("chain");
  if (ch.length) rep.fail("chain", _("哈希链（相邻条目）"), ch.join("; "));
  let cp = null, cpOwnTime = null;
  await guard(rep, "checkpoint", _("检查点签名 (C2SP signed note)"), async () => {
    const size = bundle.log.checkpoint.size;
    const { checkpoint, time } = await verifyCheckpointNote(bundle.log.checkpoint.note, logKeyFor(size));
    if (checkpoint.size !== size) throw new Error(_("签名检查点的树大小为 %(note)s，证据包写的是 %(bundle)s", { note: checkpoint.size, bundle: size }));
    cp = checkpoint;
    cpOwnTime = time;
    rep.pass("checkpoint", _("检查点签名 (C2SP signed note)"),
      _("树大小 %(size)s，日志公钥 %(pinned)s（请与公开渠道公布的公钥核对）", { size, pinned }));
  });
  // the 国密 line (§5.1): required from the checkpoint covering the log's SM2 key registration on
  await guard(rep, "sm2", _("国密签名行（SM2/SM3）"), async () => {
    const r = await sm2Check(bundle.log.checkpoint.note, sm2KeyFor(bundle.log.checkpoint.size));
    rep.add("sm2", _("国密签名行（SM2/SM3）"), r.status, r.detail);
  });
  if (cp) {
    const probs = pending.filter((p) => p.seq < cp.size).map((p) => _("#%(seq)s：列为待纳入，但检查点已覆盖它（ENTRY_UNPROVEN）", { seq: p.seq }));
    for (let i = 0; i < entries.length; i++) {
      const r = results[i];
      if (!r.leafHash) { probs.push(_("#%(seq)s：没有叶哈希", { seq: r.seq })); continue; }
      const why = await verifyInclusion(r.seq, cp.size, r.leafHash, (entries[i].proof || []).map(fromB64), cp.root);
      if (why) probs.push(`#${r.seq}: ${why}`);
    }
    probs.length ? rep.fail("inclusion", _("条目包含证明"), probs.join("; "))
      : rep.pass("inclusion", _("条目包含证明"), _("%(entries_n)s 条均在已签名检查点中", { entries_n: entries.length }));
  } else rep.skip("inclusion", _("条目包含证明"), _("检查点无效，无法检查"));
  // SPEC §D12 witness_policy: a bundle that states k of n witnesses must carry k valid
  // cosignatures (the log's own timestamped line is never one); without one, the registered
  // witnesses' lines are checked where present, as before
  const WT = _("见证者联署");
  const policy = await witnessPolicy(bundle, pinned);
  if (policy && policy.error) rep.fail("witnesses", WT, _("WITNESS_POLICY_INVALID：证据包的见证策略无效：%(error)s", { error: policy.error }));
  else if (policy) {
    // each policy key followed through its rotations / revocation on the log (SPEC §3 items 9-10)
    const size = bundle.log.checkpoint.size;
    const { valid: okc, bad: badc, missing } = await witnessCosignatures(bundle.log.checkpoint.note, size, policy.keys);
    if (badc.length) rep.fail("witnesses", WT, badc.map((c) => `${c.code}: ${c.why}`).join("; "));
    else if (okc.length < policy.k) rep.wait("witnesses", WT, awaitingWords(size, policy.k, okc.map((c) => c.name), missing));
    else rep.pass("witnesses", WT, _("已见证：%(okc_n)s / %(keys_n)s 个见证者联署（需要 %(k)s 个）：", { okc_n: okc.length, keys_n: policy.keys.length, k: policy.k }) + okc.map((c) => `${c.name} @ ${new Date(c.time * 1000).toISOString()}`).join("; "));
  } else if (witnessKeys && witnessKeys.length) {
    const cos = await verifyCosignatures(bundle.log.checkpoint.note, witnessKeys);
    const okc = cos.filter((c) => c.ok === true);
    const badc = cos.filter((c) => c.ok === false);
    if (badc.length) rep.fail("witnesses", WT, badc.map((c) => `${c.name}: ${c.reason}`).join("; "));
    else if (okc.length) rep.pass("witnesses", WT, okc.map((c) => `${c.name} @ ${new Date(c.time * 1000).toISOString()}`).join("; "));
    else rep.skip("witnesses", WT, _("此检查点尚无见证者联署"));
  } else rep.skip("witnesses", WT, _("未提供见证者公钥"));

  // --- the draw's entries -------------------------------------------------------------------
  // proven and pending together (SPEC §D12): a step the status needs must be one or the other
  const all = entries.concat(pending);
  const allOf = (t) => all.filter((e) => e.entry && e.entry.type === t && (e.entry.payload || {}).draw_id === bundle.draw_id);
  const byType = (t) => allOf(t).filter((e) => !e.pending);
  const LC = _("抽签流程条目");
  const NEED = { prepared: ["prepared"], seeded: ["prepared", "seeded"], drawn: ["prepared", "seeded", "drawn"],
    published: ["prepared", "seeded", "drawn", "published"], aborted: ["prepared", "aborted"] }[bundle.status];
  const lcProbs = [];
  if (!NEED) lcProbs.push(_("未知的状态 %(status)s", { status: bundle.status }));
  for (const k of ["prepared", "seeded", "drawn", "published", "aborted"]) if (allOf(`draw.${k}`).length > 1) lcProbs.push(_("%(k)s 出现多次", { k }));
  for (const k of NEED || []) if (!allOf(`draw.${k}`).length) lcProbs.push(_("状态 %(status)s 需要 draw.%(k)s 条目，检查点中没有、也未列为待纳入：条目被删除（LIFECYCLE_INCOMPLETE）", { status: bundle.status, k }));
  const AFTER = { prepared: ["seeded", "drawn", "published", "aborted"], seeded: ["drawn", "published", "aborted"], drawn: ["published", "aborted"], published: ["aborted"], aborted: ["drawn", "published"] }[bundle.status] || [];
  for (const k of AFTER) if (allOf(`draw.${k}`).length) lcProbs.push(_("draw.%(k)s 条目与状态 %(status)s 矛盾", { k, status: bundle.status }));
  const [prepared0, seeded, drawn, published0, aborted0] = ["prepared", "seeded", "drawn", "published", "aborted"].map((k) => allOf(`draw.${k}`)[0]);
  const subsAll = allOf("draw.substituted").sort((a, b) => a.seq - b.seq);
  const order = [prepared0, seeded, drawn, published0, aborted0].filter(Boolean).map((e) => e.seq);
  if (!order.every((s, i) => i === 0 || s > order[i - 1])) lcProbs.push(_("条目顺序不对"));
  if (subsAll.some((x) => !drawn || x.seq < drawn.seq)) lcProbs.push(_("递补早于抽取"));
  if (!subsAll.every((s, i) => s.entry.payload.n === i)) lcProbs.push(_("递补条目编号不连续"));
  if (seeded && prepared0 && seeded.entry.payload.prepared_seq !== prepared0.seq) lcProbs.push("seeded.prepared_seq");
  if (published0 && (published0.entry.payload.substitution_salts || []).length !== subsAll.filter((x) => x.seq < published0.seq).length) lcProbs.push(_("公示的递补盐值个数与递补条目数不符"));
  if (aborted0) {
    const ap = aborted0.entry.payload;
    if (ap.stage !== (seeded ? "seeded" : "prepared")) lcProbs.push(_("中止阶段 %(stage)s 与流程不符", { stage: ap.stage }));
    if (typeof ap.reason !== "string" || !ap.reason.trim()) lcProbs.push(_("中止没有理由"));
  }
  lcProbs.length ? rep.fail("lifecycle", LC, lcProbs.join("; "))
    : rep.pass("lifecycle", LC, [prepared0, seeded, drawn, ...subsAll, published0, aborted0].filter(Boolean).map((e) => `${e.entry.type}#${e.seq}`).join(" → "));
  // entry times never run backwards along seq (SPEC §2), binding from v3
  const TO = _("条目时间不倒流");
  const dated = all.filter((e) => e.entry && typeof e.entry.time === "string").sort((a, b) => a.seq - b.seq);
  const back = dated.filter((e, i) => i > 0 && e.entry.time < dated[i - 1].entry.time).map((e) => `#${e.seq}`);
  if (back.length && bundle.format === V3) rep.fail("time_order", TO, _("ENTRY_TIME_DECREASING：%(back)s 的时间早于日志中排在它前面的条目", { back: list(back) }));
  else if (back.length) rep.pass("time_order", TO, _("%(back)s 时间倒流（spotcheck-draw/3 之前允许）", { back: list(back) }));
  else rep.pass("time_order", TO, _("%(dated_n)s 条按日志顺序计时", { dated_n: dated.length }));
  const CV = _("检查点覆盖（每个流程条目均已纳入已签名检查点）");
  const waiting = all.filter((e) => e.pending && e.entry && (e.entry.payload || {}).draw_id === bundle.draw_id);
  waiting.length ? rep.pend("coverage", CV, _("%(list)s 尚未纳入已签名检查点：签名已核验，稍后再核验其包含证明（不是被删除）", { list: list(waiting.map((e) => `${e.entry.type}#${e.seq}`)) }))
    : rep.pass("coverage", CV, _("全部流程条目均在检查点中"));
  const isPending = (t) => waiting.some((e) => e.entry.type === t);
  const prepared = byType("draw.prepared")[0], published = byType("draw.published")[0], aborted = byType("draw.aborted")[0];
  const subs = byType("draw.substituted").sort((a, b) => a.entry.payload.n - b.entry.payload.n);
  if (aborted && rep.ok) {
    const ap = aborted.entry.payload;
    rep.aborted = { reason: ap.reason, stage: ap.stage, time: aborted.entry.time, actor: aborted.entry.actor.id, seq: aborted.seq };
  }
  if (!prepared) { // pending (a missing one failed above): every later check waits for it, and says so
    for (const [id, title] of [["prepared_cp", _("准备后检查点（输入先于随机源固定）")], ...SEALED])
      rep.pend(id, title, _("准备条目尚未纳入已签名检查点"));
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
    if (seeded) return _("已播种 #%(seq)s", { seq: seeded.seq });
    const late = all.find((e) => e.entry && typeof e.entry.time === "string" && Date.parse(e.entry.time) / 1000 >= t);
    if (late) return _("条目 #%(seq)s 的时间为 %(time)s", { seq: late.seq, time: late.entry.time });
    const c = cosigs.find((x) => x.time >= t);
    if (c) return _("%(name)s 于 %(time)s 联署", { name: c.name, time: c.time });
    if (cpOwnTime != null && cpOwnTime >= t) return _("日志于 %(cpOwnTime)s 签署检查点", { cpOwnTime });
    return null;
  };
  await guard(rep, "prepared_cp", _("准备后检查点（输入先于随机源固定）"), async () => {
    const pc = bundle.prepared_checkpoint;
    if (!pc) throw new Error(_("PREPARED_CHECKPOINT_INVALID：证据包中没有覆盖准备条目的检查点，无法说明输入先于种子固定"));
    const { checkpoint, time } = await verifyCheckpointNote(pc.note, logKeyFor(pc.size));
    const sm2 = await sm2Check(pc.note, sm2KeyFor(pc.size));
    if (sm2.status === "failed") throw new Error(sm2.detail);
    if (checkpoint.size <= prepared.seq) throw new Error(_("它没有覆盖准备条目"));
    if (time == null && bundle.format === V3) throw new Error(_("PREPARED_CHECKPOINT_UNTIMED：准备后检查点没有日志自身带时间戳的联署签名（spotcheck-draw/3 起必需）"));
    if (time != null && time < Math.floor(Date.parse(prepared.entry.time) / 1000)) throw new Error(_("PREPARED_CHECKPOINT_INVALID：日志的时间戳联署 %(time)s 早于它所覆盖的准备条目（%(prepared)s）", { time, prepared: prepared.entry.time }));
    // the time the page relies on: the signed one from v3, the bare signed_at before
    const signedAt = time != null ? new Date(time * 1000).toISOString() : pc.signed_at;
    preparedCpTime = signedAt;
    if (seeded && seeded.seq < checkpoint.size) throw new Error(_("LIFECYCLE_ORDER：播种条目在准备后检查点之内：公开值早于输入固定"));
    if (!cp) throw new Error(_("没有有效的当前检查点"));
    const why = await verifyConsistency(checkpoint.size, cp.size, checkpoint.root, cp.root, (pc.consistency_proof || []).map(fromB64));
    if (why) throw new Error(_("一致性证明：%(why)s", { why }));
    const how = time != null ? _("（日志签名的时间）") : _("（未签名的时间字段）");
    let detail = _("树大小 %(size)s，签于 %(signedAt)s%(how)s，与当前检查点一致", { size: checkpoint.size, signedAt, how });
    if (P.not_before != null && signedAt) {
      const signed = Date.parse(signedAt) / 1000;
      if (!(signed < P.not_before)) throw new Error("PREPARED_TOO_LATE: " + _("签署于 %(signedAt)s，不早于信标轮次时间 %(due)s", { signedAt, due: P.not_before }));
      detail += _("；早于信标轮次时间 %(time)s", { time: new Date(P.not_before * 1000).toISOString() });
    }
    if (policy && !policy.error) {
      // the inputs count as fixed once k witnesses cosigned the prepared checkpoint (before the round, if any)
      const { valid, bad: badp } = await witnessCosignatures(pc.note, pc.size, policy.keys);
      if (badp.length) throw new Error(badp.map((c) => `${c.code}: ${c.why}`).join("; "));
      const inTime = valid.filter((c) => P.not_before == null || c.time < P.not_before);
      if (inTime.length < policy.k) {
        const missing = (await Promise.all(policy.keys.map(parseVerifierKey))).map((k) => k.name).filter((n) => !inTime.some((c) => c.name === n));
        const past = P.not_before == null ? null : timePassed(P.not_before, valid);
        if (P.not_before != null && past) throw new Error(_("PREPARED_NOT_WITNESSED：准备后检查点在信标轮次时间 %(not_before)s 之前只有 %(inTime_n)s 个见证者联署，需要 %(k)s 个；该时间已过（%(past)s），永远无法成立；未及时联署：%(missing)s", { not_before: P.not_before, inTime_n: inTime.length, k: policy.k, past, missing: list(missing) }));
        preparedWait = awaitingWords(pc.size, policy.k, inTime.map((c) => c.name), missing);
      }
      detail += _("；%(inTime_n)s 个见证者联署", { inTime_n: inTime.length });
    }
    if (preparedWait) { rep.wait("prepared_cp", _("准备后检查点（输入先于随机源固定）"), preparedWait); return; }
    rep.pass("prepared_cp", _("准备后检查点（输入先于随机源固定）"), detail);
  });

  const recipe = P.seed_recipe;
  const drandDecl = recipe.sources.filter((s) => s.type === "drand");
  if (drandDecl.length) await drandChecks(rep, recipe.sources, seeded ? seeded.entry.payload.reveals || [] : null, bundle.chains);
  // v2 (SPEC §D11.1, §D13): the drand parameters are committed in the prepared entry; the bundle's must be them
  const v2rules = bundle.format !== "spotcheck-draw-bundle/1";  // chains, experts, prior loads committed; §D8 bars leavers
  if (P.algorithm !== ALGORITHM_OF[bundle.format])
    rep.fail("algorithm", _("抽签算法版本"), _("DRAW_ENTRY_MALFORMED：准备条目的算法 %(algorithm)s 不是证据包格式 %(format)s 所对应的 %(expected)s", { algorithm: P.algorithm, format: bundle.format, expected: ALGORITHM_OF[bundle.format] }));
  else rep.pass("algorithm", _("抽签算法版本"), P.algorithm);
  if (v2rules) {
    const CC = _("drand 参数已在准备时承诺");
    const declared = new Set(drandDecl.map((d) => String(d.chain_hash).toLowerCase()));
    const committed = P.chains && typeof P.chains === "object" ? P.chains : null;
    if (!committed) rep.fail("chains_committed", CC, _("CHAIN_NOT_COMMITTED：v2 准备条目没有承诺其使用的 drand 参数"));
    else if (!D.sameJson(Object.keys(committed).sort(), [...declared].sort())) rep.fail("chains_committed", CC, _("CHAIN_NOT_COMMITTED：承诺的网络不是所声明来源的网络"));
    else {
      const off = [...declared].filter((h) => !D.sameJson((bundle.chains || {})[h], committed[h]));
      if (off.length) rep.fail("chains_committed", CC, _("CHAIN_NOT_COMMITTED：证据包中 %(off)s 的参数不是准备条目承诺的参数", { off: list(off) }));
      else rep.pass("chains_committed", CC, declared.size ? _("%(size)s 个网络的参数与准备条目一致", { size: declared.size }) : _("未声明 drand 来源，准备条目承诺为空"));
    }
  }
  // the public reveals (witness contributions, dice, lottery, drand randomness): checkable once
  // seeded, before publication too; only the seed itself waits for the nonce
  const RV = _("公开值（见证者贡献、骰子、彩票、信标）");
  if (seeded) {
    await guard(rep, "reveals", RV, async () => {
      const pubDecl = recipe.sources.filter((s) => s.type !== "server_nonce");
      const reveals = seeded.entry.payload.reveals || [];
      if (recipe.sources.length - pubDecl.length !== 1 || !pubDecl.length) throw new Error(_("REVEAL_MISMATCH：配方须恰有一个 server_nonce 和至少一个其他来源"));
      if (reveals.length !== pubDecl.length || reveals.some((r, i) => !r || r.type !== pubDecl[i].type)) throw new Error(_("REVEAL_MISMATCH：公开值与声明的来源不一一对应（顺序、类型）"));
      const probs = [];
      for (let i = 0; i < pubDecl.length; i++) {
        try { await D.encodeSource(pubDecl[i], reveals[i]); } catch (e) { probs.push(`${e.code || "Error"}: ${e.message}`); }
      }
      if (probs.length) throw new Error(probs.join("; "));
      rep.pass("reveals", RV, _("%(pubDecl_n)s 个公开来源：%(list)s", { pubDecl_n: pubDecl.length, list: list(pubDecl.map((d) => d.type)) }));
    });
  }
  const timing = checkTiming(recipe.sources, bundle.chains, { preparedTime: prepared.entry.time, notBefore: P.not_before,
    seededTime: seeded ? seeded.entry.time : null, checkpointSignedAt: preparedCpTime });
  if (timing) rep.add("drand_time", _("信标轮次时间（输入先于轮次固定，播种晚于轮次）"), timing.status, timing.detail);

  // sizes need only the prepared entry (and the drawn one): checked before publication too, as in the CLI
  const content = bundle.content;
  const SZ = _("分层抽取数量");
  let sizes = null;
  await guard(rep, "sizes", SZ, async () => {
    const p = P.parameters;
    sizes = D.stratumSizes(P.pools.subjects.counts, p.ratios, p.floor, p.key_item);
    if (!D.sameJson(sizes, P.expected_sizes)) throw new Error(_("按 §5 算得 %(sizes)s，准备条目写的是 %(expected)s", { sizes: JSON.stringify(sizes), expected: JSON.stringify(P.expected_sizes) }));
    if (content && !D.sameJson(sizes, content.sizes)) throw new Error(_("抽取内容用的是其他抽取数量"));
    if (drawn && !D.sameJson(sizes, drawn.entry.payload.sizes)) throw new Error(_("抽取条目写的是其他抽取数量"));
    rep.pass("sizes", SZ, Object.entries(sizes).map(([s, k]) => `${s}:${k}`).join(" "));
  });

  if (!published) {
    const why = aborted0 ? _("该抽签已中止：%(reason)s", { reason: aborted0.entry.payload.reason })
      : _("尚未公示：随机数、抽取结果仍为密封承诺，公示后才能复算");
    const wait = isPending("draw.published");
    for (const [id, title] of SEALED.filter(([id]) => id !== "sizes")) {  // sizes: checked above
      if (wait) rep.pend(id, title, _("公示条目尚未纳入已签名检查点"));
      else rep.skip(id, title, why);
    }
    return rep;
  }
  const pub = published.entry.payload;
  // --- nonce, seed ------------------------------------------------------------------------
  const NC = pgettext("nonce commitment", "服务器随机数承诺");
  await guard(rep, "nonce", NC, async () => {
    const c = hex(await D.nonceCommitment(fromHex(pub.nonce)));
    if (c !== recipe.nonce_commitment) throw new Error(_("H(nonce) = %(got)s，承诺的是 %(committed)s", { got: c, committed: recipe.nonce_commitment }));
    rep.pass("nonce", NC, _("公示的随机数与准备时承诺 %(prefix)s… 一致", { prefix: c.slice(0, 16) }));
  });
  let seed = null;
  const SD = _("种子推导");
  await guard(rep, "seed", SD, async () => {
    if (!seeded) throw new Error(_("没有 draw.seeded 条目"));
    const reveals = [{ type: "server_nonce", nonce: pub.nonce }, ...seeded.entry.payload.reveals];
    if (reveals.length !== recipe.sources.length) throw new Error(_("公开值与声明的随机源不一一对应（RevealMismatch）"));
    const encs = [];
    for (let i = 0; i < reveals.length; i++) encs.push(await D.encodeSource(recipe.sources[i], reveals[i]));
    seed = await D.seedFrom(preparedLeaf, encs);
    if (hex(seed) !== pub.seed) throw new Error(_("复算得 %(got)s，公示的是 %(published)s", { got: hex(seed), published: pub.seed }));
    rep.pass("seed", SD, _("种子 %(hex)s = H(准备条目叶哈希 ‖ %(encs_n)s 个来源)", { hex: hex(seed), encs_n: encs.length }));
  });
  // --- pools ------------------------------------------------------------------------------
  const pools = bundle.pools;
  const PR = _("名录池根");
  await guard(rep, "pools", PR, async () => {
    if (!pools) throw new Error(_("证据包中没有名录池"));
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
      if (!okShape) probs.push("PRIOR_LOAD_MISMATCH: " + _("prior_load 应为对象 {编号: 非负整数}"));
      else if (hex(await sha256(canonicalBytes(load))) !== P.pools.prior_load_sha256) probs.push("PRIOR_LOAD_MISMATCH: " + _("既往工作量的哈希不等于 prior_load_sha256"));
    } else if (load !== undefined && !(load && typeof load === "object" && !Object.keys(load).length)) {
      probs.push("PRIOR_LOAD_MISMATCH: " + _("v1 准备条目不承诺既往工作量"));
    }
    if (probs.length) throw new Error(probs.join("; "));
    rep.pass("pools", PR, _("对象 %(subjects)s、人员 %(inspectors)s、排除 %(excluded)s，根与承诺一致", { subjects: P.pools.subjects.size, inspectors: P.pools.inspectors.size, excluded: P.pools.excluded.size }));
  });
  // --- selection, matching, seal -------------------------------------------------------------
  let sel = null;
  const SE = _("随机号与抽取结果");
  await guard(rep, "selection", SE, async () => {
    if (!seed || !sizes || !pools || !content) throw new Error(_("需要种子、抽取数量、名录池和抽取内容"));
    sel = await D.selectSubjects(seed, pools.subjects, sizes);
    const probs = [];
    const keys = new Set([...Object.keys(sel.strata), ...Object.keys(content.strata)]);
    for (const s of keys) {
      const a = sel.strata[s], b = content.strata[s];
      if (!a || !b || !D.sameJson({ n: a.n, k: a.k, selected: a.selected }, b)) probs.push(_("%(s)s 层不一致", { s }));
    }
    if (probs.length) throw new Error(probs.join("; "));
    rep.pass("selection", SE, Object.entries(sel.strata).map(([s, x]) => `${s}: ${x.k}/${x.n}`).join(" · "));
  });
  const MA = _("检查人员匹配");
  let matcher = null;
  await guard(rep, "matching", MA, async () => {
    if (!sel) throw new Error(_("需要抽取结果"));
    const tr = P.parameters.team_rule;
    matcher = new D.Matcher(seed, tr, pools.inspectors, pools.conflicts || [], pools.prior_load || {}, pools.experts || []);
    const m = await matcher.match(sel.matchingOrder);
    if (!D.sameJson(m, content.matching)) {
      const i = m.assignments.findIndex((a, j) => !D.sameJson(a, (content.matching.assignments || [])[j]));
      throw new Error(i >= 0 ? _("第 %(n)s 个对象的检查组不一致：应为 %(team)s", { n: i + 1, team: list(m.assignments[i].team) }) : "draw_ineligible differs");
    }
    rep.pass("matching", MA, _("%(assignments_n)s 个检查组，按每个对象的密钥化洗牌顺序", { assignments_n: m.assignments.length }));
  });
  const SL = _("结果封存");
  await guard(rep, "seal", SL, async () => {
    if (!content || !drawn) throw new Error(_("需要抽取内容和抽取条目"));
    const c = hex(await D.seal(content, fromHex(pub.salt)));
    if (c !== drawn.entry.payload.seal) throw new Error(_("H(salt ‖ JCS(content)) = %(got)s，封存的是 %(sealed)s", { got: c, sealed: drawn.entry.payload.seal }));
    rep.pass("seal", SL, _("公示内容与抽取时的封存 %(prefix)s… 一致", { prefix: c.slice(0, 16) }));
  });
  const SU = _("递补与互换");
  await guard(rep, "substitutions", SU, async () => {
    const recs = bundle.substitutions || [];
    const salts = pub.substitution_salts || [];
    const early = subs.filter((x) => x.seq < published.seq).length; // later ones: opened by the bundle alone
    if (recs.length !== subs.length || salts.length !== early) throw new Error(_("日志中 %(logged)s 次递补、%(records)s 条记录，公示前 %(early)s 次递补有 %(salts)s 个盐值", { logged: subs.length, records: recs.length, salts: salts.length, early }));
    if (!subs.length) { rep.pass("substitutions", SU, _("没有递补")); return; }
    if (!matcher || !sel) throw new Error(_("需要检查人员匹配结果"));
    const cur = JSON.parse(JSON.stringify(content.matching));
    const stratumOf = Object.fromEntries(pools.subjects.map((r) => [r.id, r.stratum]));
    const used = [];
    const lines = [];
    const left = {};  // subject -> inspectors who left it by an inspector substitution
    for (let i = 0; i < subs.length; i++) {
      const { record, salt } = recs[i];
      if (i < early && salt !== salts[i]) throw new Error(_("#%(n)s：盐值与公示的不同", { n: i }));
      const c = hex(await D.seal(record, fromHex(salt)));
      if (c !== subs[i].entry.payload.seal) throw new Error(_("#%(n)s：记录与其封存承诺不符", { n: i }));
      if (record.kind === "inspector") {  // v2 §D8: who left this subject is never its candidate again
        const subj = String(record.subject);
        await matcher.applyInspector(cur, record, v2rules ? (left[subj] || []) : null);
        (left[subj] = left[subj] || []).push(String(record.leaving));
      }
      else if (record.kind === "subject") await matcher.applySubject(cur, record, stratumOf, sel.strata[record.stratum].replacement, sel.tickets, used);
      else if (record.kind === "swap") matcher.applySwap(cur, record);
      else throw new Error(_("未知的递补类型 %(kind)s", { kind: record.kind }));
      lines.push(record.kind === "swap" ? `swap ${record.inspector_a}⇄${record.inspector_b}` : `${record.leaving} → ${record.incoming} (${record.reason})`);
    }
    if (bundle.current_matching && !D.sameJson(cur, bundle.current_matching)) throw new Error(_("当前匹配不是抽取时的匹配依次应用递补后的结果"));
    rep.pass("substitutions", SU, lines.join("; "));
  });
  return rep;
}

// The checks that need the published nonce, content and salts.
const SEALED = [["nonce", pgettext("nonce commitment", "服务器随机数承诺")], ["seed", _("种子推导")], ["pools", _("名录池根")],
  ["sizes", _("分层抽取数量")], ["selection", _("随机号与抽取结果")], ["matching", _("检查人员匹配")],
  ["seal", _("结果封存")], ["substitutions", _("递补与互换")]];

function P_of(e) { return e.entry.payload; }

// Other draws of the same plan in the bundle (SPEC §D11.6): listed; one seeded and then left
// (aborted or open, never drawn) before this draw was prepared makes this a re-run after a
// seed could be known (RERUN_AFTER_SEED), as in drawverify.
function otherDraws(rep, entries, P, mySeq, myId) {
  const OD = _("同一计划的其他抽签（中止 / 重抽）");
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
    lines.push(`${id}: ${Object.entries(d.steps).map(([k, s]) => `${k}#${s}`).join(", ")}` + (d.aborted ? _("（已中止 %(aborted)s）", { aborted: d.aborted }) : ""));
    const s = d.steps;
    if (d.plan === P.plan && s.prepared < mySeq && s.seeded !== undefined && s.drawn === undefined && s.published === undefined) bad.push(id);
  }
  if (bad.length) rep.fail("other_draws", OD, _("%(bad)s 在本次准备前已播种后被放弃：本次是在先前种子可能已知后的重抽（RERUN_AFTER_SEED）", { bad: list(bad) }));
  else rep.pass("other_draws", OD, lines.length ? lines.join("; ") : _("证据包中没有"));
}

// --- the page ------------------------------------------------------------------------------
const STATUS = { passed: _("通过"), failed: _("未通过"), not_checked: _("未检查"), pending: _("待纳入检查点"), awaiting_witnesses: _("等待见证") };

// drawverify's catalogue (verifier/messages/zh.json): the page says what the command line says.
async function wordsOf() {
  if (LANG === "en") return null;
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
  const abortLine = a ? _("%(reason)s（阶段 %(stage)s，%(time)s，%(actor)s，日志 #%(seq)s）。日志证据核验无误；本次抽签未抽取。", { reason: a.reason, stage: a.stage, time: a.time, actor: a.actor, seq: a.seq }) : "";
  if (M) {  // the command line's words: 结论：…
    const key = verdict === "verified" && waiting ? "pending" : verdict;
    summary.textContent = `${M.words.result}：${M.verdicts[key] || verdict}` + (a ? ` — ${abortLine}` : "");
  } else {
    summary.textContent = verdict === "failed" ? _("%(failed)s 项检查未通过", { failed })
      : verdict === "aborted" ? _("已中止：%(abortLine)s", { abortLine })
      : verdict === "awaiting_witnesses" ? _("等待见证：见证者联署尚不足，暂未公开（不是篡改，稍后再核验）")
      : _("已核验：目前可检查的各项均通过（未检查、待纳入检查点的项见下）");
    if (waiting && verdict !== "failed") summary.textContent += _("；%(waiting)s 项待纳入检查点", { waiting });
  }
  into.appendChild(summary);
  const count = (st) => rep.checks.filter((c) => c.status === st).length;
  const counts = document.createElement("p");
  counts.id = "verdict-counts";
  const pendingWords = waiting ? _("，%(n)s 项待纳入检查点", { n: waiting }) : "";
  counts.textContent = M ? fmt(M.words.counts, { n: rep.checks.length, passed: count("passed"), failed, not_checked: count("not_checked"),
    pending: waiting ? fmt(M.words.pending_count, { n: waiting }) : "" })
    : _("共 %(n)s 项检查：%(passed)s 项通过，%(failed)s 项未通过，%(not_checked)s 项尚未检查%(pending)s。", { n: rep.checks.length, passed: count("passed"), failed, not_checked: count("not_checked"), pending: pendingWords });
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
  out.textContent = _("正在复算…");
  window.spotcheckResult = null;
  try {
    const bundle = await getBundle();
    render(await verifyBundle(bundle, await witnessKeys()), out, await wordsOf());
  } catch (e) {
    out.textContent = _("无法读取证据包：") + e.message;
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
