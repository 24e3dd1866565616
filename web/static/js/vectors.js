// Runs the page's own code on the published test vectors (docs/vectors/*.json) and returns what
// it computed, so that a test can compare it with the expected outputs. Exposed as
// window.SpotcheckVectors.run(name, vectorJson) -> Promise<object>.
import { b64, fromB64, fromHex, hex } from "./lib/bytes.js";
import { canonicalize } from "./lib/jcs.js";
import { leafHash, rootOf, verifyConsistency, verifyInclusion } from "./lib/merkle.js";
import { checkEntries } from "./lib/log.js";
import { verifyCheckpointNote, verifyCosignatures } from "./lib/note.js";
import * as D from "./lib/draw.js";
import * as R from "./drand.js";
import { bls12_381 as bls } from "./lib/vendor/noble-bls12-381.js";
import { sm3 } from "./lib/vendor/sm-crypto-sm2.js";
import { sm2Check, sm2Verify } from "./lib/sm2.js";

async function logVectors(v) {
  const entries = v.entries.map((e) => ({ seq: e.entry.seq, entry: e.entry, leaf: fromB64(e.leaf_b64) }));
  const { results, logKeyFor } = await checkEntries(entries, v.keys.log.verifier_key);
  const out = { entries: results.map((r) => ({ seq: r.seq, leaf_hash_hex: r.leafHash ? hex(r.leafHash) : null,
    ok: r.canonical === "" && r.signature === "" && r.keyRule === "" && (r.chain === "" || r.chain === null),
    problems: [r.canonical, r.signature, r.keyRule, r.chain].filter((x) => x) })) };
  const hashes = results.map((r) => r.leafHash);
  out.roots = {};
  for (const n of Object.keys(v.roots)) out.roots[n] = hex(await rootOf(hashes.slice(0, Number(n))));
  out.inclusion_proofs = [];
  for (const p of v.inclusion_proofs) {
    const root = await rootOf(hashes.slice(0, p.size));
    out.inclusion_proofs.push(await verifyInclusion(p.index, p.size, hashes[p.index], p.proof.map(fromB64), root) === null);
  }
  out.consistency_proofs = [];
  for (const p of v.consistency_proofs) {
    const r1 = await rootOf(hashes.slice(0, p.old)), r2 = await rootOf(hashes.slice(0, p.new));
    out.consistency_proofs.push(await verifyConsistency(p.old, p.new, r1, r2, p.proof.map(fromB64)) === null);
  }
  out.checkpoints = [];
  for (const c of v.checkpoints) {
    try {
      const { checkpoint } = await verifyCheckpointNote(c.note, logKeyFor(c.size));
      const root = await rootOf(hashes.slice(0, checkpoint.size));
      out.checkpoints.push(checkpoint.size === c.size && hex(root) === hex(checkpoint.root));
    } catch (e) { out.checkpoints.push(false); }
  }
  const cos = await verifyCosignatures(v.cosignature.checkpoint + "\n" + v.checkpoints[v.checkpoints.length - 1].note.split("\n\n")[1] + v.cosignature.line, [v.keys.witness.verifier_key]);
  out.cosignature = cos.length === 1 && cos[0].ok === true && cos[0].time === v.cosignature.timestamp;
  // a mutation must fail: one changed payload byte breaks the signature
  const bad = JSON.parse(JSON.stringify(entries[2].entry));
  bad.time = bad.time.replace(/.$/, (c) => (c === "Z" ? "Z" : c));
  bad.payload = { ...bad.payload, _tampered: true };
  const m = await checkEntries([...entries.slice(0, 2).map((e) => ({ seq: e.seq, entry: e.entry })), { seq: 2, entry: bad }], v.keys.log.verifier_key);
  out.mutation_detected = m.results[2].signature !== "";
  // SPEC §3 items 7-8: the log goes on with revocations; the page follows them from the genesis key
  const kl = v.key_lifecycle;
  const all = entries.map((e) => ({ seq: e.seq, entry: e.entry }))
    .concat(kl.entries.map((e) => ({ seq: e.entry.seq, entry: e.entry, leaf: fromB64(e.leaf_b64) })));
  const bad2 = kl.refused.entry_by_revoked_key.entry;
  const k = await checkEntries(all.concat([{ seq: bad2.seq, entry: bad2 }]), v.keys.log.verifier_key);
  const lifecycleHashes = k.results.map((r) => r.leafHash);
  out.key_lifecycle = {
    entries_ok: k.results.slice(0, all.length).every((r) => r.signature === "" && r.keyRule === ""),
    revoked_key_refused: /REVOKED_KEY/.test(k.results[all.length].keyRule || ""),
    checkpoints: [],
  };
  for (const c of kl.checkpoints.concat([kl.refused.checkpoint_by_revoked_log_key])) {
    try {
      const { checkpoint } = await verifyCheckpointNote(c.note, k.logKeyFor(c.size));
      out.key_lifecycle.checkpoints.push(hex(await rootOf(lifecycleHashes.slice(0, checkpoint.size))) === hex(checkpoint.root));
    } catch (e) { out.key_lifecycle.checkpoints.push(false); }
  }
  return out;
}

async function seedVectors(v) {
  const { recipe, reveals, prepared_leaf_hash: plh } = v.inputs;
  const encs = [];
  for (let i = 0; i < recipe.sources.length; i++) encs.push(await D.encodeSource(recipe.sources[i], reveals[i]));
  const nonceOk = hex(await D.nonceCommitment(fromHex(reveals[0].nonce))) === recipe.nonce_commitment;
  const lottery = reveals.find((r) => r.type === "lottery");
  const noDrand = encs.filter((_, i) => recipe.sources[i].type !== "drand");
  return {
    rfc3797_lottery: D.rfc3797(lottery.groups),
    encoded_sources: encs.map(hex),
    seed: hex(await D.seedFrom(fromHex(plh), encs)),
    seed_without_drand: hex(await D.seedFrom(fromHex(plh), noDrand)),
    nonce_commitment_ok: nonceOk,
  };
}

async function poolVectors(v) {
  const i = v.inputs;
  const sorted = D.sortById(i.pool);
  const idx = sorted.findIndex((r) => r.id === i.proof_member);
  const pc = await D.poolCommitment(i.pool, "subjects");
  const leaves = [];
  for (const r of sorted) leaves.push(await leafHash(new TextEncoder().encode(canonicalize(r))));
  const mp = v.outputs.member_proof;
  const proofOk = await verifyInclusion(mp.index, mp.size, await leafHash(new TextEncoder().encode(canonicalize(mp.record))),
    mp.proof.map(fromHex), fromHex(pc.root)) === null;
  return {
    pool_commitment: pc,
    excluded_commitment: await D.poolCommitment(i.excluded, "excluded"),
    leaf_of_member: canonicalize(sorted[idx]),
    member_index: idx,
    member_proof_ok: proofOk,
    root_of_leaves: hex(await rootOf(leaves)),
  };
}

async function rulesVectors(v) {
  return { sizes: v.inputs.cases.map((c) => D.stratumSizes(c.counts, c.ratios, c.floor, c.key_item)) };
}

async function selectionVectors(v) {
  const sel = v.inputs.selection, ins = v.inputs.inspectors, o = v.outputs;
  const seed = fromHex(sel.seed);
  const counts = {};
  for (const r of sel.pool) counts[r.stratum] = (counts[r.stratum] || 0) + 1;
  const sizes = D.stratumSizes(counts, sel.ratios, sel.floor, sel.key_item);
  const s = await D.selectSubjects(seed, sel.pool, sizes);
  const cutoffs = {}, replacement = {}, strata = {};
  for (const [k, x] of Object.entries(s.strata)) {
    cutoffs[k] = { ticket: x.cutoff.ticket, id: x.cutoff.id };
    replacement[k] = x.replacement;
    strata[k] = { n: x.n, k: x.k, selected: x.selected };
  }
  const removed = [];
  for (const r of sel.excluded) {
    const c = s.strata[r.stratum] && s.strata[r.stratum].cutoff;
    const w = await D.wouldBeDrawn(seed, r.id, c);
    removed.push({ subject: r.id, stratum: r.stratum, ticket: w.ticket, cutoff_ticket: c ? c.ticket : null, cutoff_id: c ? c.id : null, drawn: w.drawn });
  }
  const m = new D.Matcher(seed, ins.rule, ins.inspectors, ins.conflicts, ins.prior_load, ins.experts);
  const matching = await m.match(s.matchingOrder);
  const content = { algorithm: "spotcheck-draw/2", sizes, strata, matching };
  const first = s.matchingOrder[0];
  const order = m.order(first, false);
  const ordIds = [];
  for (let j = 0; j < m.cands.length; j++) ordIds.push(m.cands[await order.at(j)]);
  const eorder = m.order(first, true);
  const eIds = [];
  for (let j = 0; j < m.expertCands.length; j++) eIds.push(m.expertCands[await eorder.at(j)]);
  // replay the substitutions and the swap of the vector, checking each claim
  const cur = JSON.parse(JSON.stringify(matching));
  const problems = [];
  const stratumOf = Object.fromEntries(sel.pool.map((r) => [r.id, r.stratum]));
  const m2 = new D.Matcher(seed, ins.rule, ins.inspectors, ins.conflicts, ins.prior_load, ins.experts);
  try { await m2.applyInspector(cur, o.inspector_substitution); } catch (e) { problems.push("inspector: " + e.message); }
  try { await m2.applySubject(cur, o.subject_substitution, stratumOf, replacement[o.subject_substitution.stratum], s.tickets, []); } catch (e) { problems.push("subject: " + e.message); }
  const beforeSwap = JSON.parse(JSON.stringify(cur));  // where the recusal_after_swap vector starts
  try { m2.applySwap(cur, o.swap.claim); } catch (e) { problems.push("swap: " + e.message); }
  const teamsAfter = [cur.assignments.find((a) => a.subject === o.swap.claim.subject_a), cur.assignments.find((a) => a.subject === o.swap.claim.subject_b)].map((a) => a && a.team);
  // a claim naming someone else must be refused
  const bogus = JSON.parse(JSON.stringify(o.inspector_substitution));
  bogus.incoming = o.inspector_substitution.leaving === bogus.incoming ? "x" : "insp:market-02";
  let refused = false;
  try { await new D.Matcher(seed, ins.rule, ins.inspectors, ins.conflicts, ins.prior_load, ins.experts).applyInspector(JSON.parse(JSON.stringify(matching)), bogus); } catch (e) { refused = e.code === "NotNextEligible"; }
  // v2 §D8: after a swap, a recusal never brings the recused inspector back (recusal_after_swap);
  // the v1 claim (the recused inspector as their own replacement) passes v1's rule, fails v2's
  const ras = o.recusal_after_swap;
  const recusal = { accepted: false, v1_accepted_by_v1: false, v1_incoming_refused: false };
  if (ras) {
    const m3 = new D.Matcher(seed, ins.rule, ins.inspectors, ins.conflicts, ins.prior_load, ins.experts);
    const after = JSON.parse(JSON.stringify(beforeSwap));
    m3.applySwap(after, ras.swap);
    const sub = ras.substitution;
    const v1claim = { ...sub, incoming: ras.v1_incoming, skipped: sub.skipped.slice(0, -1), examined_to: sub.examined_to - 1 };
    try { await m3.applyInspector(JSON.parse(JSON.stringify(after)), sub, []); recusal.accepted = true; } catch (e) { recusal.error = e.message; }
    try { await m3.applyInspector(JSON.parse(JSON.stringify(after)), v1claim, null); recusal.v1_accepted_by_v1 = true; } catch (e) { recusal.v1_error = e.message; }
    try { await m3.applyInspector(JSON.parse(JSON.stringify(after)), v1claim, []); } catch (e) { recusal.v1_incoming_refused = e.code === "NotNextEligible"; }
  }
  return {
    recusal_after_swap: recusal,
    subject_tickets: s.tickets, sizes, matching_order: s.matchingOrder, replacement_order: replacement, cutoffs,
    removed_report: removed, content,
    inspector_order_of_first: { subject: first, candidates: m.cands, blocks: order.blocks, order: ordIds },
    expert_order_of_first: { subject: first, candidates: m.expertCands, blocks: eorder.blocks, order: eIds },
    substitution_problems: problems,
    swap_teams_after: teamsAfter,
    final_matching: cur,
    wrong_claim_refused: refused,
  };
}

async function sealVectors(v) {
  return {
    jcs_content: canonicalize(v.inputs.content),
    commitment: hex(await D.seal(v.inputs.content, fromHex(v.inputs.salt))),
  };
}

// draw-drand.json: the signed message and time of each real round (chains from the pinned table).
async function drandVectors(v) {
  const messages = [];
  for (const r of v.inputs.rounds) {
    const pin = R.PINNED[r.chain_hash];
    const chain = R.parseChain(r.chain_hash, { ...pin, chain_hash: r.chain_hash });
    messages.push({ network: r.network, round: r.round, message: hex(await R.roundMessage(chain, r.round, r.previous_signature ? fromHex(r.previous_signature) : null)),
      round_time: R.roundTime(chain, r.round) });
  }
  return { messages };
}

// drand-rounds.json (the real rounds): each verified as published, and each refused when its
// message is hashed with the other group's tag (the DST is not noble's to choose).
async function drandRounds(v) {
  const out = { chains: {}, rounds: [] };
  for (const [name, c] of Object.entries(v.chains)) {
    const chain = R.parseChain(c.chain_hash, c);
    out.chains[name] = { pinned: R.checkPinned(chain), pinned_params: R.PINNED[c.chain_hash] };
    for (const r of c.rounds) {
      const decl = { type: "drand", chain_hash: c.chain_hash, round: r.round };
      const reveal = { ...decl, signature: r.signature, previous_signature: r.previous_signature, randomness: r.randomness };
      out.rounds.push({ network: name, round: r.round, ...(await drandOne(decl, reveal, c)) });
    }
  }
  return out;
}

// One round against one chain JSON, as the page judges it: {ok, code, detail, randomness}.
// pinned = false leaves out the League of Entropy comparison, to reach the pairing with any key.
async function drandOne(decl, reveal, chainJson, pinned = true) {
  try {
    const chain = R.parseChain(decl.chain_hash, chainJson);
    if (pinned) R.checkPinned(chain);
    return { ok: true, code: null, ...(await R.checkReveal(decl, reveal, chain)) };
  } catch (e) { return { ok: false, code: e.code || "Error", detail: String(e.message || e) }; }
}

// A test's own case: {decl, reveal, chain} -> the page's verdict.
async function drandCase(v) { return drandOne(v.decl, v.reveal, v.chain, !v.unpinned); }

// The tag check: verifying with the G2 tag for a G1 signature (and vice versa) must fail.
async function drandWrongDst(v) {
  const out = [];
  for (const [name, c] of Object.entries(v.chains)) {
    const chain = R.parseChain(c.chain_hash, c);
    const s = R.SCHEMES[chain.scheme];
    const r = c.rounds[1];
    const msg = await R.roundMessage(chain, r.round, r.previous_signature ? fromHex(r.previous_signature) : null);
    const pk = R.decodePoint(chain.publicKey, s.pk, "pk"), sig = R.decodePoint(fromHex(r.signature), s.sig, "sig");
    const mode = s.sig === "G1" ? bls.shortSignatures : bls.longSignatures;
    const [right, wrong] = s.sig === "G1" ? [R.DST_G1, R.DST_G2] : [R.DST_G2, R.DST_G1];
    out.push({ network: name, right: mode.verify(sig, mode.hash(msg, right), pk), wrong: mode.verify(sig, mode.hash(msg, wrong), pk) });
  }
  return out;
}

// sm2-v1.json: the standards' SM3 and SM2 examples, the log's SM2 key registration, which
// checkpoints must carry the line, and the mutations (each must fail with its code).
async function sm2Vectors(v) {
  const out = {};
  out.sm3 = v.standards.sm3.map((x) => sm3(Array.from(fromHex(x.message_hex))) === x.digest_hex);
  out.sm2_standard = v.standards.sm2_sign.map((x) => ({
    ok: sm2Verify(fromHex(x.public_key_hex), new TextEncoder().encode(x.message), fromHex(x.signature_hex), x.user_id),
    other_user_id: sm2Verify(fromHex(x.public_key_hex), new TextEncoder().encode(x.message), fromHex(x.signature_hex), "ALICE123@YAHOO.COM"),
  }));
  const entries = v.entries.map((e) => ({ seq: e.seq, entry: e }));
  const { results, sm2KeyFor } = await checkEntries(entries, v.keys.log.verifier_key);
  out.entries_ok = results.map((r) => r.canonical === "" && r.signature === "" && r.keyRule === "");
  out.checkpoints = [];
  for (const c of v.checkpoints) out.checkpoints.push((await sm2Check(c.note, sm2KeyFor(c.size))).status);
  const last = v.checkpoints[v.checkpoints.length - 1].size;
  out.mutations = [];
  for (const m of v.mutations) {
    const r = await sm2Check(m.note, sm2KeyFor(last));
    out.mutations.push({ status: r.status, code_named: r.detail.includes(m.expect) });
  }
  // a registration whose proof of possession is broken is refused (and then requires nothing)
  const bad = JSON.parse(JSON.stringify(v.entries));
  const sig = fromB64(bad[1].payload.key_sig); sig[5] ^= 1; bad[1].payload.key_sig = b64(sig);
  const r2 = await checkEntries(bad.map((e) => ({ seq: e.seq, entry: e })), v.keys.log.verifier_key);
  out.bad_registration = r2.results[1].keyRule;
  // actor_sm2 (§3 item 11): entries 3-5 go on from the log above; entry 5 carries both signatures
  const A = v.actor_sm2;
  const all = v.entries.concat(A.entries.map((x) => x.entry));
  const ra = await checkEntries(all.map((e) => ({ seq: e.seq, entry: e })), v.keys.log.verifier_key);
  out.actor_ok = ra.results.map((r) => r.canonical === "" && r.signature === "" && r.keyRule === "" && !r.sm2);
  out.actor_sm2_checked = ra.results.filter((r) => r.sm2 === "").map((r) => r.seq);
  out.actor_mutations = [];
  for (const m of A.mutations) {
    const es = all.slice(); es[m.seq] = m.entry;
    const rm = await checkEntries(es.map((e) => ({ seq: e.seq, entry: e })), v.keys.log.verifier_key);
    const text = rm.results.map((r) => `${r.sm2 || ""} ${r.keyRule || ""}`).join(" ");
    out.actor_mutations.push({ expect: m.expect, named: text.includes(m.expect) });
  }
  return out;
}

const RUNNERS = {
  "draw-drand.json": drandVectors, "drand-rounds.json": drandRounds, "drand-case": drandCase, "drand-wrong-dst": drandWrongDst,
  "log-v1.json": logVectors, "draw-seed.json": seedVectors, "draw-pool.json": poolVectors,
  "draw-rules.json": rulesVectors, "draw-selection-matching.json": selectionVectors, "draw-seal.json": sealVectors,
  "sm2-v1.json": sm2Vectors,
};

window.SpotcheckVectors = {
  names: Object.keys(RUNNERS),
  async run(name, data) {
    try { return await RUNNERS[name](data); } catch (e) { return { error: String(e && e.stack || e) }; }
  },
};
export { b64 };
