// The draw algorithms of docs/spec/20-draws.md (spotcheck-draw/1), re-implemented from the text.
import { compare, compareUtf8, concat, fromHex, hex, lp, sha256, tagged, u32, u64, utf8 } from "./bytes.js";
import { canonicalBytes, canonicalize } from "./jcs.js";
import { _ } from "./i18n.js";
import { leafHash, rootOf } from "./merkle.js";

export const TAG = {
  nonce: "spotcheck/draw/v1/nonce-commitment",
  witness: "spotcheck/draw/v1/witness-commitment",
  seed: "spotcheck/draw/v1/seed",
  subject: "spotcheck/draw/v1/subject-ticket",
  inspector: "spotcheck/draw/v1/inspector-order",
  expert: "spotcheck/draw/v1/expert-order",
  seal: "spotcheck/draw/v1/seal",
};

export class DrawError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

export const sameJson = (a, b) => canonicalize(a) === canonicalize(b);

// --- §3 seed ----------------------------------------------------------------------------
export function rfc3797(groups) {
  if (!Array.isArray(groups) || groups.length === 0) throw new DrawError("LotteryInvalid", _("彩票号码须为非空的号码组列表"));
  return groups.map((g) => {
    if (!Array.isArray(g) || g.length === 0 || g.some((n) => !Number.isInteger(n) || n < 0)) throw new DrawError("LotteryInvalid", _("彩票号码组有误"));
    return [...g].sort((a, b) => a - b).map((n) => `${n}.`).join("") + "/";
  }).join("");
}

export async function nonceCommitment(nonce) { return tagged(TAG.nonce, nonce); }
export async function contributionCommitment(c) { return tagged(TAG.witness, c); }

// enc_i for one declared source and its reveal. drand: randomness = SHA-256(signature) unless
// stated (a stated value must equal it). The BLS signature itself is NOT verified here.
export async function encodeSource(decl, reveal) {
  const t = decl.type;
  if ((reveal.type || t) !== t) throw new DrawError("RevealMismatch", _("为 %(declared)s 随机源揭示了 %(type)s 类型的值", { type: reveal.type, declared: t }));
  if (t === "server_nonce") {
    const n = fromHex(reveal.nonce);
    if (n.length !== 32) throw new DrawError("RevealMismatch", _("服务器随机数须为 32 字节"));
    return concat(lp(utf8("server_nonce")), lp(n));
  }
  if (t === "drand") {
    if (String(reveal.chain_hash).toLowerCase() !== String(decl.chain_hash).toLowerCase() || reveal.round !== decl.round) {
      throw new DrawError("RevealMismatch", _("揭示的 drand 值与声明的网络或轮次不同"));
    }
    const ch = fromHex(reveal.chain_hash);
    const sig = fromHex(reveal.signature);
    const rnd = await sha256(sig);
    if (reveal.randomness && reveal.randomness.toLowerCase() !== hex(rnd)) throw new DrawError("BeaconRandomnessMismatch", _("所述 randomness 不等于 SHA-256(signature)"));
    const body = concat(lp(ch), u64(reveal.round), lp(rnd), lp(sig));
    return concat(lp(utf8("drand")), lp(body));
  }
  if (t === "dice") {
    const d = reveal.digits;
    const need = Math.max(20, decl.min_digits ?? 20);
    if (typeof d !== "string" || !/^[0-9]+$/.test(d) || d.length < need) throw new DrawError("DiceDigitsInvalid", _("骰子点数须为至少 %(need)s 位数字", { need }));
    return concat(lp(utf8("dice")), lp(utf8(d)));
  }
  if (t === "lottery") {
    if ((reveal.name ?? decl.name) !== decl.name || (reveal.period ?? decl.period) !== decl.period) throw new DrawError("RevealMismatch", _("揭示的彩票开奖结果是另一期的"));
    const body = concat(lp(utf8(String(decl.name))), lp(utf8(String(decl.period))), lp(utf8(rfc3797(reveal.groups))));
    return concat(lp(utf8("lottery")), lp(body));
  }
  if (t === "witness") {
    if (reveal.witness !== decl.witness) throw new DrawError("RevealMismatch", _("揭示值属于另一位见证人"));
    const c = fromHex(reveal.contribution);
    if (c.length < 16 || c.length > 1024) throw new DrawError("RevealMismatch", _("见证人贡献值须为 16 至 1024 字节"));
    if (hex(await contributionCommitment(c)) !== String(decl.commitment).toLowerCase()) {
      throw new DrawError("ContributionMismatch", _("见证人 %(witness)s 提交的值与其承诺不符", { witness: decl.witness }));
    }
    return concat(lp(utf8("witness")), lp(concat(lp(utf8(String(decl.witness))), lp(c))));
  }
  throw new DrawError("RevealMismatch", _("未知的随机源类型 %(type)s", { type: t }));
}

export async function seedFrom(preparedLeafHash, encodings) {
  return tagged(TAG.seed, concat(preparedLeafHash, u32(encodings.length), ...encodings));
}

// --- §4 pools ---------------------------------------------------------------------------
export const GROUP_FIELD = { subjects: "stratum", inspectors: "department", experts: "field", excluded: "reason" };

export function sortById(records) { return [...records].sort((a, b) => compareUtf8(a.id, b.id)); }

export async function poolCommitment(records, kind) {
  const sorted = sortById(records);
  for (let i = 1; i < sorted.length; i++) if (sorted[i].id === sorted[i - 1].id) throw new DrawError("PoolInvalid", _("编号 %(id)s 重复", { id: sorted[i].id }));
  const hashes = [];
  for (const r of sorted) hashes.push(await leafHash(canonicalBytes(r)));
  const counts = {};
  const g = GROUP_FIELD[kind];
  for (const r of sorted) counts[r[g]] = (counts[r[g]] || 0) + 1;
  return { kind, size: sorted.length, root: hex(await rootOf(hashes)), counts };
}

// --- §5 sizes, in exact fractions ----------------------------------------------------------
const F = (n, d = 1n) => ({ n: BigInt(n), d: BigInt(d) });
const fmul = (a, b) => F(a.n * b.n, a.d * b.d);
const fadd = (a, b) => F(a.n * b.d + b.n * a.d, a.d * b.d);
const fdiv = (a, b) => F(a.n * b.d, a.d * b.n);
const fge = (a, b) => a.n * b.d >= b.n * a.d;
const fceil = (a) => { const q = a.n / a.d; return Number(a.n % a.d === 0n ? q : (a.n > 0n ? q + 1n : q)); };

export function parseRatio(s) {
  if (typeof s !== "string" || !/^(0|1)(\.[0-9]{1,12})?$/.test(s)) throw new DrawError("RatioInvalid", _("抽查比例 %(value)s 不是不大于 1 的小数", { value: JSON.stringify(s) }));
  const [i, f = ""] = s.split(".");
  const r = F(BigInt(i + f), 10n ** BigInt(f.length));
  if (r.n > r.d) throw new DrawError("RatioInvalid", _("抽查比例 %(value)s 大于 1", { value: s }));
  return r;
}

export function stratumSizes(counts, ratios, floor = "0.05", keyItem = false) {
  const k = {}, rat = {}, fixed = new Set();
  for (const [s, n] of Object.entries(counts)) {
    if (!(s in ratios)) throw new DrawError("RatioInvalid", _("第 %(stratum)s 层没有抽查比例", { stratum: s }));
    const r = ratios[s];
    if (typeof r === "number") {
      if (!Number.isInteger(r) || r < 0 || r > n) throw new DrawError("SampleTooLarge", _("第 %(stratum)s 层：抽取数 %(k)s 大于户数 %(n)s", { stratum: s, k: r, n }));
      k[s] = r; fixed.add(s);
    } else {
      rat[s] = parseRatio(r);
      k[s] = fceil(fmul(F(n), rat[s]));
    }
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) throw new DrawError("EmptyPool", _("名录池为空"));
  if (keyItem) return k;
  const kMin = fceil(fmul(F(total), parseRatio(floor)));
  if (Object.values(k).reduce((a, b) => a + b, 0) >= kMin) return k;
  const w = new Set(Object.keys(rat).filter((s) => rat[s].n > 0n && counts[s] > 0));
  const whole = new Set();
  let m = F(0);
  for (;;) {
    let need = kMin;
    for (const s of fixed) need -= k[s];
    for (const s of whole) need -= counts[s];
    if (need > 0 && w.size === 0) throw new DrawError("FloorUnreachable", _("无法达到比例下限"));
    if (w.size === 0) break;
    let denom = F(0);
    for (const s of w) denom = fadd(denom, fmul(F(counts[s]), rat[s]));
    m = fdiv(F(need), denom);
    const moved = [...w].filter((s) => fge(fmul(rat[s], m), F(1)));
    if (moved.length === 0) break;
    for (const s of moved) { w.delete(s); whole.add(s); }
  }
  for (const s of whole) k[s] = counts[s];
  for (const s of w) k[s] = Math.max(k[s], fceil(fmul(fmul(F(counts[s]), rat[s]), m)));
  return k;
}

// --- §6 tickets and selection ------------------------------------------------------------
export async function subjectTicket(seed, id) { return tagged(TAG.subject, concat(seed, utf8(id))); }

const byTicket = (a, b) => compare(a.t, b.t) || compareUtf8(a.id, b.id);

// records: the subject pool; sizes: {stratum: k}. Returns {tickets, strata: {s: {n,k,selected,replacement,cutoff}}, matchingOrder}
export async function selectSubjects(seed, records, sizes) {
  const tickets = {};
  const groups = {};
  for (const r of records) {
    const t = await subjectTicket(seed, r.id);
    tickets[r.id] = hex(t);
    (groups[r.stratum] = groups[r.stratum] || []).push({ id: r.id, t });
  }
  const strata = {};
  let merged = [];
  for (const s of Object.keys(groups).sort()) {
    const list = groups[s].sort(byTicket);
    const k = sizes[s] ?? 0;
    const sel = list.slice(0, k);
    strata[s] = {
      n: list.length, k,
      selected: sel.map((x) => ({ id: x.id, ticket: hex(x.t) })),
      replacement: list.slice(k).map((x) => x.id),
      cutoff: sel.length ? { ticket: hex(sel[sel.length - 1].t), id: sel[sel.length - 1].id, raw: sel[sel.length - 1].t } : null,
    };
    merged = merged.concat(sel);
  }
  merged.sort(byTicket);
  return { tickets, strata, matchingOrder: merged.map((x) => x.id) };
}

export async function wouldBeDrawn(seed, id, cutoff) {
  const t = await subjectTicket(seed, id);
  if (!cutoff) return { ticket: hex(t), drawn: false };
  return { ticket: hex(t), drawn: (compare(t, cutoff.raw) || compareUtf8(id, cutoff.id)) <= 0 };
}

// --- §7 matching: the lazy keyed Fisher-Yates shuffle --------------------------------------
const TWO64 = 1n << 64n;

export class ShuffleOrder {
  constructor(tag, seed, subject, m) {
    this.prefix = concat(utf8(tag), new Uint8Array([0]), seed, lp(utf8(subject)));
    this.m = m; this.block = 0; this.buf = null; this.off = 32; this.p = new Map(); this.out = []; this.blocks = [];
  }
  async u64() {
    if (this.off >= 32) {
      this.buf = await sha256(concat(this.prefix, u32(this.block)));
      this.blocks.push(hex(this.buf));
      this.block++; this.off = 0;
    }
    const x = new DataView(this.buf.buffer, this.buf.byteOffset + this.off, 8).getBigUint64(0, false);
    this.off += 8;
    return x;
  }
  async uniform(r) {
    const R = BigInt(r);
    const limit = (TWO64 / R) * R;
    for (;;) { const x = await this.u64(); if (x < limit) return Number(x % R); }
  }
  async at(j) {
    while (this.out.length <= j) {
      const k = this.out.length;
      const i = k + await this.uniform(this.m - k);
      const pk = this.p.has(k) ? this.p.get(k) : k;
      const pi = this.p.has(i) ? this.p.get(i) : i;
      this.p.set(k, pi); this.p.set(i, pk);
      this.out.push(pi);
    }
    return this.out[j];
  }
}

const INSPECTOR_REASONS = new Set(["recusal_conflict", "cannot_attend", "certificate_lapsed", "left_department"]);
const SUBJECT_REASONS = new Set(["deregistered", "not_operating", "out_of_scope"]);

export class Matcher {
  constructor(seed, rule, inspectors, conflicts = [], priorLoad = {}, experts = []) {
    this.seed = seed; this.rule = rule; this.priorLoad = priorLoad;
    this.ineligible = {};
    const cands = [], ex = [];
    for (const rec of inspectors) {
      let reason = null;
      const a = rec.cert_valid_from, b = rec.cert_valid_until;
      if (!rule.departments.includes(rec.department)) reason = "wrong_department";
      else if (!(typeof a === "string" && typeof b === "string" && a <= rule.draw_date && rule.draw_date <= b)) reason = "certificate_not_valid";
      else if (rule.qualification != null && !(rec.qualifications || []).includes(rule.qualification)) reason = "missing_qualification";
      if (reason) this.ineligible[rec.id] = reason; else cands.push(rec);
    }
    for (const rec of experts) {
      if (rule.expert_field != null && !(rec.qualifications || []).includes(rule.expert_field)) this.ineligible[rec.id] = "missing_qualification";
      else ex.push(rec);
    }
    this.cands = sortById(cands).map((r) => r.id);
    this.expertCands = sortById(ex).map((r) => r.id);
    const recs = new Map([...inspectors, ...experts].map((r) => [r.id, r]));
    this.dept = new Map(this.cands.map((i) => [i, recs.get(i).department]));
    this.cap = new Map();
    for (const i of [...this.cands, ...this.expertCands]) {
      const own = recs.get(i).max_assignments;
      this.cap.set(i, own != null ? own : (rule.max_assignments ?? null));
    }
    this.conf = new Set(conflicts.map(([a, b]) => a + "\u0000" + b));
    this.orders = new Map();
  }
  order(subject, expert = false) {
    const k = (expert ? "e:" : "i:") + subject;
    if (!this.orders.has(k)) this.orders.set(k, new ShuffleOrder(expert ? TAG.expert : TAG.inspector, this.seed, subject, (expert ? this.expertCands : this.cands).length));
    return this.orders.get(k);
  }
  // barred (v2 §D8): the leaving inspector and earlier leavers of this subject, never candidates again
  async walk(subject, expert, start, team, size, load, unavailable = [], barred = null) {
    const cands = expert ? this.expertCands : this.cands;
    const order = this.order(subject, expert);
    const depts = expert ? [] : this.rule.departments;
    const missing = new Set(depts.filter((d) => !team.some((t) => this.dept.get(t) === d)));
    const members = [...team], got = [], skipped = [];
    let pos = start;
    while (members.length < size) {
      if (pos >= cands.length) throw new DrawError("TooFewInspectors", (expert ? _("%(subject)s 的符合条件的专家不足", { subject }) : _("%(subject)s 的符合条件的执法人员不足", { subject })));
      const c = cands[await order.at(pos)];
      pos++;
      if (members.includes(c)) continue;
      const cap = this.cap.get(c);
      let reason = null;
      if (barred && barred.has(c)) reason = "left_subject";
      else if (this.conf.has(c + "\u0000" + subject)) reason = "conflict_declared";
      else if (unavailable.includes(c)) reason = "unavailable";
      else if (cap != null && (load[c] || 0) >= cap) reason = "workload_cap";
      else if (!expert && !missing.has(this.dept.get(c)) && size - members.length <= missing.size) reason = "department_quota";
      if (reason) { skipped.push({ inspector: c, reason }); continue; }
      members.push(c); got.push(c);
      load[c] = (load[c] || 0) + 1;
      missing.delete(this.dept.get(c));
    }
    return { got, skipped, pos };
  }
  async matchOne(subject, load) {
    const t = await this.walk(subject, false, 0, [], this.rule.team_size, load);
    let e = { got: [], skipped: [], pos: 0 };
    if (this.rule.experts) e = await this.walk(subject, true, 0, [], this.rule.experts, load);
    return { subject, team: t.got, examined: t.pos, skipped: t.skipped, experts: e.got, experts_examined: e.pos, experts_skipped: e.skipped };
  }
  async match(subjects) {
    const load = { ...this.priorLoad };
    const assignments = [];
    for (const s of subjects) assignments.push(await this.matchOne(s, load));
    const inel = {};
    for (const k of Object.keys(this.ineligible).sort(compareUtf8)) inel[k] = this.ineligible[k];
    return { assignments, draw_ineligible: inel };
  }
  currentLoad(assignments) {
    const load = { ...this.priorLoad };
    for (const a of assignments) for (const i of [...a.team, ...(a.experts || [])]) load[i] = (load[i] || 0) + 1;
    return load;
  }
  async applyInspector(matching, rec, left = null) {
    if (!INSPECTOR_REASONS.has(rec.reason)) throw new DrawError("SubstitutionInvalid", _("不是执法人员的递补原因：%(reason)s", { reason: rec.reason }));
    const a = find(matching, rec.subject);
    const expert = !!rec.expert;
    const [tk, ek, sk] = expert ? ["experts", "experts_examined", "experts_skipped"] : ["team", "examined", "skipped"];
    if (!a[tk].includes(rec.leaving)) throw new DrawError("SubstitutionInvalid", _("%(leaving)s 不在 %(subject)s 的检查组中", { leaving: rec.leaving, subject: a.subject }));
    if (rec.examined_from !== a[ek]) throw new DrawError("NotNextEligible", _("候选顺序须从上次停下的位置继续（examined）"));
    const slot = a[tk].indexOf(rec.leaving);
    const rest = a[tk].filter((x) => x !== rec.leaving);
    const others = matching.assignments.filter((x) => x !== a);
    const load = this.currentLoad([...others, { ...a, [tk]: rest }]);
    const unavailable = (rec.skipped || []).filter((s) => s.reason === "unavailable").map((s) => s.inspector);
    const size = expert ? this.rule.experts : this.rule.team_size;
    const barred = left === null ? null : new Set([...left, rec.leaving]);
    const w = await this.walk(a.subject, expert, a[ek], rest, size, load, unavailable, barred);
    const want = { incoming: w.got[0] ?? null, skipped: w.skipped, examined_to: w.pos };
    const claim = { incoming: rec.incoming ?? null, skipped: rec.skipped, examined_to: rec.examined_to };
    if (!sameJson(want, claim)) throw new DrawError("NotNextEligible", _("检查对象 %(subject)s：递补的执法人员不是下一位符合条件的候选人（应为 %(expected)s）", { subject: a.subject, expected: want.incoming }));
    a[tk][slot] = w.got[0];
    a[ek] = w.pos;
    a[sk] = [...a[sk], ...w.skipped];
  }
  async applySubject(matching, rec, stratumOf, replacement, tickets, used) {
    if (!SUBJECT_REASONS.has(rec.reason)) throw new DrawError("SubstitutionInvalid", _("不是检查对象的递补原因：%(reason)s", { reason: rec.reason }));
    const a = find(matching, rec.leaving);
    if (stratumOf[a.subject] !== rec.stratum) throw new DrawError("SubstitutionInvalid", _("所填的层不是被替换对象所在的层"));
    const drawn = new Set(matching.assignments.map((x) => x.subject));
    const incoming = replacement.find((s) => !drawn.has(s) && !used.includes(s));
    if (incoming === undefined) throw new DrawError("NotNextEligible", _("本层的递补顺序已用完"));
    const idx = matching.assignments.indexOf(a);
    const load = this.currentLoad(matching.assignments.filter((x) => x !== a));
    const want = { incoming, incoming_ticket: tickets[incoming], assignment: await this.matchOne(incoming, load) };
    const claim = { incoming: rec.incoming, incoming_ticket: rec.incoming_ticket, assignment: rec.assignment };
    if (!sameJson(want, claim)) throw new DrawError("NotNextEligible", _("递补对象不是递补顺序中的下一个（应为 %(expected)s）", { expected: incoming }));
    matching.assignments[idx] = want.assignment;
    used.push(a.subject, incoming);
  }
  applySwap(matching, rec) {
    const { inspector_a: ia, subject_a: sa, inspector_b: ib, subject_b: sb } = rec;
    const a = find(matching, sa), b = find(matching, sb);
    let why = null, ta, tb;
    if (sa === sb) why = _("两个检查对象相同");
    else if (!a.team.includes(ia) || !b.team.includes(ib) || b.team.includes(ia) || a.team.includes(ib)) why = _("每名执法人员须在所填的检查组中，且不在另一个检查组中");
    else if (this.conf.has(ia + "\u0000" + sb) || this.conf.has(ib + "\u0000" + sa)) why = _("执法人员与其将调往的检查对象有已申报的利害关系");
    else {
      ta = a.team.map((x) => (x === ia ? ib : x));
      tb = b.team.map((x) => (x === ib ? ia : x));
      for (const t of [ta, tb]) {
        const have = new Set(t.map((x) => this.dept.get(x)));
        if (!this.rule.departments.every((d) => have.has(d))) why = _("互换后某检查组会缺少参与部门的人员");
      }
    }
    if (why) throw new DrawError("SwapInvalid", _("互换 %(a)s <-> %(b)s：%(why)s", { a: `${ia}@${sa}`, b: `${ib}@${sb}`, why }));
    a.team = ta; b.team = tb;
  }
}

function find(matching, subject) {
  const a = matching.assignments.find((x) => x.subject === subject);
  if (!a) throw new DrawError("SubstitutionInvalid", _("%(subject)s 不是当前匹配中被抽中的检查对象", { subject }));
  return a;
}

// --- §9 seal --------------------------------------------------------------------------------
export async function seal(content, salt) { return tagged(TAG.seal, concat(salt, canonicalBytes(content))); }

export { fromHex, hex };
