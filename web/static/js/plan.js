// The plan-level checks of drawverify (verifier/draw.py: rules, other_draws, pool_changes), from
// the bundle's own entries. Why in the page too: the service's rules (two inspectors per check,
// joint coverage, the plan's approved parameters, the 5% floor of a general item) and a re-run
// after an abandoned seeded draw are exactly what a reader of the page must be able to catch.
import { compare, compareUtf8, fromHex, hex } from "./lib/bytes.js";
import * as D from "./lib/draw.js";
import { _, pgettext } from "./lib/i18n.js";

const M = {
  rulesT: () => _("抽查规则（检查组人数、联合检查、计划参数、比例下限）"),
  otherT: () => _("同一计划的其他抽签（中止、重抽）"),
  poolT: () => _("计划与准备之间的名录变动"),
  noPrep: () => _("没有 draw.prepared 条目"),
  teamSize: (want, got) => _("检查组人数须 ≥ max(2, 部门数) = %(want)s，实为 %(got)s", { want, got }),
  jointFew: () => _("联合检查的参与部门少于 2 个"),
  firstDept: (want, got) => _("发起部门应排在首位：应为 %(want)s，实为 %(got)s", { want, got }),
  floor: (got) => _("一般事项的抽查比例下限不得低于 5%%，实为 %(got)s", { got }),
  floorDrawn: (k, n) => _("一般事项抽取 %(k)s 个，少于名录 %(n)s 个的 5%%", { k, n }),
  team: (where, s, want, got) => _("%(where)s匹配中 %(s)s 的检查组 %(got)s 人，应为 %(want)s", { where, s, got, want }),
  joint: (where, s, miss) => _("%(where)s匹配中 %(s)s 的检查组缺少部门 %(miss)s", { where, s, miss }),
  noPlan: (p) => _("证据包中没有计划 %(p)s 在准备之前的条目：参数来源无法核对", { p }),
  notApproved: (p, st) => _("准备时计划 %(p)s 未获批准（状态 %(st)s）", { p, st }),
  differs: (k) => _("%(k)s 与计划不同", { k }),
  planOk: (p, s) => _("参数与计划 %(p)s（第 %(s)s 条）一致", { p, s }),
  teamsLater: () => _("；检查组要到公示后才能核对"),
  rerun: (h, p, steps) => _("计划 %(p)s 的抽签 %(h)s 已播种后被放弃（%(steps)s），之后才准备本次抽签：本次是知道先前种子后的重抽", { p, h, steps }),
  others: (list) => _("证据包中的其他抽签：%(list)s", { list }),
  noOthers: () => _("证据包中没有"),
  bundleOnly: () => _("（证据包只含服务器放进去的内容：要在整份日志中查找被略去的同计划抽签，请用 drawverify --full-log 或 --server）"),
  noChanges: () => _("证据包中在计划与准备之间没有 registry.subject.* 条目"),
  changes: (n, k, list) => (list ? _("%(n)s 处变动；其中 %(k)s 个对象本会被抽中：%(list)s", { n, k, list }) : _("%(n)s 处变动；其中 %(k)s 个对象本会被抽中", { n, k })),
  needSeed: () => _("（随机号需要种子：公示后才能算）"),
};
const say = (key, ...a) => M[key](...a);
const DRAW_TYPES = ["draw.prepared", "draw.seeded", "draw.drawn", "draw.substituted", "draw.published", "draw.aborted"];

// exact comparison of a ratio string (or count) with basis points, as the CLI's Fractions do
function sameRatio(r, bp) {
  try {
    const f = D.parseRatio(r);
    return f.n * 10000n === BigInt(bp) * f.d;
  } catch (e) { return false; }
}
const sortedIf = (v, sort) => (Array.isArray(v) && sort ? [...v].sort() : v);

// The plan's parameters against the plan's last entry before prepare (the CLI's _plan).
function planProblems(entries, prepSeq, p, par) {
  const plan = entries.filter((x) => x.entry.type.startsWith("registry.plan.") && x.entry.payload.id === p.plan && x.seq < prepSeq)
    .sort((a, b) => a.seq - b.seq);
  if (!plan.length) return { probs: [`RULE_PLAN_MISMATCH: ${say("noPlan", p.plan)}`], seq: null };
  const last = plan[plan.length - 1];
  const st = last.entry.payload.state || {};
  const probs = [];
  const bad = (m) => probs.push(`RULE_PLAN_MISMATCH: ${m}`);
  if (st.status !== "approved" && st.status !== "published") bad(say("notApproved", p.plan, st.status));
  const rb = st.ratios_bp;
  if (rb && typeof rb === "object" && !Array.isArray(rb)) {
    const mine = par.ratios || {};
    const keys = new Set([...Object.keys(mine), ...Object.keys(rb)]);
    if ([...keys].some((k) => !(k in mine) || !(k in rb) || !sameRatio(mine[k], rb[k]))) bad(say("differs", "ratios"));
  }
  const tr = par.team_rule || {};
  for (const [key, got] of [["departments", tr.departments], ["team_size", tr.team_size], ["frequency_cap", par.frequency_cap],
    ["joint", par.joint], ["sublibraries", par.sublibraries], ["filter", par.filter]]) {
    if (!(key in st)) continue;
    const want = st[key];
    if (key === "team_size" && Number.isInteger(got) && Number.isInteger(want) && got >= want) continue;
    if (!D.sameJson(sortedIf(want, key !== "departments") ?? null, sortedIf(got, key !== "departments") ?? null)) bad(say("differs", key));
  }
  if ("exemptions" in st && !D.sameJson([...st.exemptions].sort(), [...(par.exemptions || [])].sort())) bad(say("differs", "exemptions"));
  const codes = (p.items || []).filter((i) => i && typeof i === "object").map((i) => i.code);
  if ("items" in st && !D.sameJson([...st.items].sort(), [...codes].sort())) bad(say("differs", "items"));
  return { probs, seq: last.seq, since: last.seq };
}

// rules: team size, joint coverage, initiating department, floor, teams, the plan's parameters.
function rules(bundle, entries, prep) {
  const p = prep.entry.payload;
  const par = p.parameters || {};
  const tr = par.team_rule || {};
  const depts = tr.departments || [];
  const ts = tr.team_size;
  const probs = [];
  const need = Math.max(2, depts.length);
  if (!Number.isInteger(ts) || ts < need) probs.push(`RULE_TEAM_SIZE: ${say("teamSize", need, ts)}`);
  if (par.joint && depts.length < 2) probs.push(`RULE_JOINT_COVERAGE: ${say("jointFew")}`);
  if (depts.length && depts[0] !== p.department) probs.push(`RULE_PLAN_MISMATCH: ${say("firstDept", p.department, depts[0])}`);
  if (!par.key_item) {
    let low = true;
    const floor = "floor" in par ? par.floor : "0.05";
    try { const f = D.parseRatio(floor); low = f.n * 100n < 5n * f.d; } catch (e) { low = true; }
    if (low) probs.push(`RULE_FLOOR: ${say("floor", floor)}`);
    const counts = ((p.pools || {}).subjects || {}).counts || {};
    const n = Object.values(counts).reduce((a, b) => a + b, 0);
    let sizes = null;
    try { sizes = D.stratumSizes(counts, par.ratios, floor, false); } catch (e) { sizes = null; }
    if (sizes && n) {
      const k = Object.values(sizes).reduce((a, b) => a + b, 0);
      if (k * 20 < n) probs.push(`RULE_FLOOR: ${say("floorDrawn", k, n)}`);
    }
  }
  const deptOf = Object.fromEntries(((bundle.pools || {}).inspectors || []).filter((r) => r && r.id).map((r) => [r.id, r.department]));
  for (const [label, mt] of [[pgettext("content", "抽取"), (bundle.content || {}).matching], [_("当前"), bundle.current_matching]]) {
    for (const a of (mt || {}).assignments || []) {
      const team = a.team || [];
      if (team.length < 2 || (Number.isInteger(ts) && team.length !== ts)) probs.push(`RULE_TEAM_SIZE: ${say("team", label, a.subject, ts, team.length)}`);
      if (par.joint && Object.keys(deptOf).length) {
        const have = new Set(team.map((x) => deptOf[x]));
        const miss = depts.filter((d) => !have.has(d));
        if (miss.length) probs.push(`RULE_JOINT_COVERAGE: ${say("joint", label, a.subject, miss.join(", "))}`);
      }
    }
  }
  const plan = planProblems(entries, prep.seq, p, par);
  probs.push(...plan.probs);
  if (probs.length) return { status: "failed", detail: probs.join("; "), since: plan.since };
  const later = bundle.content || bundle.current_matching ? "" : say("teamsLater");
  return { status: "passed", detail: say("planOk", p.plan, plan.seq) + later, since: plan.since };
}

// A draw prepared before `before`, seeded, and never drawn or published (the CLI's _abandoned_after_seed).
function abandonedAfterSeed(steps, before) {
  const at = Object.fromEntries(steps.map((s) => [s.type.split(".")[1], s.seq]));
  return (at.prepared ?? before) < before && "seeded" in at && !("published" in at) && !("drawn" in at);
}

// other_draws: the plan's other draws in the bundle; one seeded and abandoned before this one
// was prepared makes this draw a re-run after a seed could be known (RERUN_AFTER_SEED).
function otherDraws(bundle, entries, prep) {
  const p = prep.entry.payload;
  const seen = new Map();
  for (const x of [...entries].sort((a, b) => a.seq - b.seq)) {
    if (!DRAW_TYPES.includes(x.entry.type) || x.entry.payload.draw_id === bundle.draw_id) continue;
    const id = x.entry.payload.draw_id;
    if (!seen.has(id)) seen.set(id, { plan: null, steps: [] });
    const d = seen.get(id);
    d.steps.push({ type: x.entry.type, seq: x.seq });
    if (x.entry.type === "draw.prepared") d.plan = x.entry.payload.plan;
  }
  const fmt = (d) => d.steps.map((s) => `${s.type.split(".")[1]}@${s.seq}`).join(", ");
  const others = [...seen].filter(([, d]) => d.plan === p.plan || d.plan === null).map(([h, d]) => `${h}: ${fmt(d)}`);
  const probs = [...seen].filter(([, d]) => d.plan === p.plan && abandonedAfterSeed(d.steps, prep.seq))
    .map(([h, d]) => `RERUN_AFTER_SEED: ${say("rerun", h, p.plan, fmt(d))}`);
  if (probs.length) return { status: "failed", detail: probs.join("; ") };
  return { status: "passed", detail: (others.length ? say("others", others.join("; ")) : say("noOthers")) + say("bundleOnly") };
}

// Stratum of a subject's registry state (SPEC §D11.1): credit class, raised to D when risky.
function stratumOfState(st) {
  if (typeof st.credit_class !== "string") return null;
  if (st.abnormal || st.serious_dishonest || st.penalized_on || (st.complaints || 0) >= 3) return "D";
  return st.credit_class;
}

// pool_changes: every registry.subject.* entry after the plan's last entry and before prepare,
// with whether the subject would have been drawn (needs the seed: after publication). A report,
// never a failure, as in the CLI: the reader judges whether a removal looks like steering.
async function poolChanges(bundle, entries, prep, since, seedOk) {
  const rows = entries.filter((x) => x.seq > (since ?? -1) && x.seq < prep.seq && x.entry.type.startsWith("registry.subject."))
    .sort((a, b) => a.seq - b.seq);
  if (!rows.length) return { status: "passed", detail: say("noChanges") };
  const pub = entries.find((x) => x.entry.type === "draw.published" && x.entry.payload.draw_id === bundle.draw_id);
  const seed = seedOk && pub ? fromHex(pub.entry.payload.seed) : null;
  const strata = (bundle.content || {}).strata || {};
  const cut = (s) => {
    const sel = (strata[s] || {}).selected || [];
    return sel.length ? { t: fromHex(sel[sel.length - 1].ticket), id: sel[sel.length - 1].id } : null;
  };
  const drawn = [];
  for (const x of rows) {
    const id = x.entry.payload.id;
    if (!seed || typeof id !== "string") continue;
    const t = await D.subjectTicket(seed, id);
    const st = x.entry.payload.state && typeof x.entry.payload.state === "object" ? x.entry.payload.state : {};
    const s = stratumOfState(st);
    const within = (c) => c && (compare(t, c.t) || compareUtf8(id, c.id)) <= 0;
    const hit = s !== null ? within(cut(s)) : Object.keys(strata).some((k) => within(cut(k)));
    if (hit) drawn.push(`${id} (${x.entry.actor.id}, ${hex(t).slice(0, 12)}…)`);
  }
  return { status: "passed", detail: say("changes", rows.length, drawn.length, drawn.join(", ")) + (seed ? "" : say("needSeed")) };
}

// Adds the three checks to the page's report `rep` (after the others: the seed and selection are
// used only if the page itself already found them right).
export async function planChecks(rep, bundle) {
  const entries = (bundle && bundle.entries || []).filter((e) => e && e.entry && e.entry.payload).map((e) => ({ seq: e.seq, entry: e.entry }));
  const prep = entries.find((x) => x.entry.type === "draw.prepared" && x.entry.payload.draw_id === bundle.draw_id);
  const ids = [["rules", say("rulesT")], ["other_draws", say("otherT")], ["pool_changes", say("poolT")]];
  if (!prep) { for (const [id, title] of ids) rep.skip(id, title, say("noPrep")); return; }
  const run = async (id, title, fn) => {
    try { const r = await fn(); rep.add(id, title, r.status, r.detail); return r; } catch (e) { rep.fail(id, title, String(e && e.message || e)); return {}; }
  };
  const r = await run(...ids[0], () => rules(bundle, entries, prep));
  await run(...ids[1], () => otherDraws(bundle, entries, prep));
  const ok = (id) => rep.checks.some((c) => c.id === id && c.status === "passed");
  await run(...ids[2], () => poolChanges(bundle, entries, prep, r.since, ok("seed") && ok("selection")));
}
