// Log entries (docs/SPEC.md §2-§3): canonical leaves, signatures and the key rules, followed
// from the entries themselves and the one pinned log verifier key.
import { b64, concat, equal, fromB64, hex, sha256, utf8 } from "./bytes.js";
import { canonicalBytes } from "./jcs.js";
import { leafHash } from "./merkle.js";
import { ed25519Verify, parseVerifierKey, verifyCosignatures } from "./note.js";
import { ENTRY_TYPE as SM2_ENTRY, checkRegistration } from "./sm2.js";

export async function keyId(publicKey) { return hex(await sha256(publicKey)).slice(0, 16); }

function without(obj, name) { const o = { ...obj }; delete o[name]; return o; }

// entries: [{seq, entry, leaf?: Uint8Array}] sorted by seq. Returns per-entry findings and the
// log keys in force, so that checkpoints can be checked against the right key.
export async function checkEntries(entries, pinnedLogKey) {
  const keys = new Map(); // actor -> Map(key_id -> {pk, from, retiredFrom})
  const logKeys = [{ fromSize: 0, key: pinnedLogKey }];
  const sm2Keys = []; // {fromSize, key}: the SM2 (国密) line each later checkpoint must carry
  // witness keys on the log (SPEC §3 items 9-10): key text -> {name, until: seq | null, how, prev}
  const witnessKeys = new Map(), witnessNames = new Map();
  const results = [];
  let prevHash = null, prevSeq = null;
  const addKey = (actor, id, pk, from) => {
    if (!keys.has(actor)) keys.set(actor, new Map());
    keys.get(actor).set(id, { pk, from, retiredFrom: null, revokedFrom: null });
  };
  for (const { seq, entry, leaf } of entries) {
    const r = { seq, type: entry && entry.type, canonical: null, signature: null, keyRule: null, chain: null, leafHash: null };
    results.push(r);
    let bytes;
    try {
      bytes = canonicalBytes(entry);
      r.canonical = leaf ? (equal(bytes, leaf) ? "" : "stored leaf is not the canonical form of the entry (NOT_CANONICAL)") : "";
    } catch (e) { r.canonical = e.message; continue; }
    r.leafHash = await leafHash(leaf || bytes);
    if (entry.seq !== seq) r.canonical = `entry says seq ${entry.seq}, listed at ${seq}`;
    if (prevSeq !== null && seq === prevSeq + 1) r.chain = entry.prev === hex(prevHash) ? "" : "prev is not the leaf hash of the previous entry";
    if (seq === 0) r.chain = entry.prev === "0".repeat(64) ? "" : "genesis prev must be 64 zeros";
    prevHash = r.leafHash; prevSeq = seq;
    const p = entry.payload || {};
    const actor = entry.actor || {};
    let sigMsg;
    try { sigMsg = canonicalBytes(without(entry, "sig")); } catch (e) { r.signature = e.message; continue; }
    // key rules
    let rule = "";
    if (seq === 0) {
      if (entry.type !== "log.genesis") rule = "entry 0 is not log.genesis";
      else if (p.log_key !== pinnedLogKey) rule = "genesis names another log key than the pinned one";
      else {
        const pk = fromB64(p.system_key);
        const id = await keyId(pk);
        if (actor.id !== "system" || actor.key_id !== id) rule = "genesis must be signed by the system key it names";
        addKey("system", id, pk, 0);
      }
    }
    const known = keys.get(actor.id) && keys.get(actor.id).get(actor.key_id);
    if (!known) rule = rule || `key ${actor.key_id} of ${actor.id} is not registered before this entry (UNKNOWN_KEY)`;
    else if (known.revokedFrom !== null && seq >= known.revokedFrom) rule = rule || `key ${actor.key_id} was revoked at seq ${known.revokedFrom - 1}: refused whatever time the entry claims (REVOKED_KEY)`;
    else if (known.retiredFrom !== null && seq >= known.retiredFrom) rule = rule || `key ${actor.key_id} was retired (RETIRED_KEY)`;
    if (known) {
      r.signature = (await ed25519Verify(known.pk, fromB64(entry.sig), sigMsg)) ? "" : "Ed25519 signature does not verify";
    } else {
      r.signature = "no key to check the signature with";
    }
    if (entry.type === "actor.key.registered" && !rule) {
      const pk = fromB64(p.public_key);
      if (actor.id !== "system") rule = "only the system registers keys";
      else if ((await keyId(pk)) !== p.key_id) rule = "key_id is not the id of public_key";
      else if (keys.get(p.actor_id) && keys.get(p.actor_id).has(p.key_id)) rule = "key id registered twice";
      else addKey(p.actor_id, p.key_id, pk, seq + 1);
    } else if (entry.type === "actor.key.rotated" && !rule) {
      const pk = fromB64(p.new_public_key);
      if (p.actor_id !== actor.id || p.old_key_id !== actor.key_id) rule = "rotation must be signed by the actor's old key";
      else if ((await keyId(pk)) !== p.new_key_id) rule = "new_key_id is not the id of new_public_key";
      else if (!(await ed25519Verify(pk, fromB64(p.new_key_sig), canonicalBytes(without(p, "new_key_sig"))))) rule = "new_key_sig does not verify";
      else { known.retiredFrom = seq + 1; addKey(p.actor_id, p.new_key_id, pk, seq + 1); }
    } else if (entry.type === "actor.key.revoked" && !rule) {
      // SPEC §3 item 7: signed by system; from the next entry on the key signs nothing valid
      const target = keys.get(p.actor_id) && keys.get(p.actor_id).get(p.key_id);
      if (actor.id !== "system") rule = "only the system revokes keys";
      else if (p.actor_id === "system") rule = "the system key is rotated, never revoked";
      else if (typeof p.reason !== "string" || [...p.reason].length < 1 || [...p.reason].length > 200) rule = "reason must be 1 to 200 characters";
      else if (!target) rule = "revocation of a key not registered for that actor";
      else if (target.revokedFrom !== null) rule = "the key was revoked already";
      else target.revokedFrom = seq + 1;
    } else if ((entry.type === "log.key.rotated" || entry.type === "log.key.revoked") && !rule) {
      try {
        const nk = await parseVerifierKey(p.new_log_key);
        const cur = logKeys[logKeys.length - 1].key;
        if (entry.type === "log.key.revoked" && (typeof p.reason !== "string" || [...p.reason].length < 1 || [...p.reason].length > 200)) rule = "reason must be 1 to 200 characters";
        else if (p.old_log_key !== cur) rule = "old_log_key is not the key in force";
        else if (!(await ed25519Verify(nk.key, fromB64(p.new_key_sig), canonicalBytes(without(p, "new_key_sig"))))) rule = "new_key_sig does not verify";
        else logKeys.push({ fromSize: seq + 1, key: p.new_log_key });
      } catch (e) { rule = e.message; }
    } else if (typeof entry.type === "string" && entry.type.startsWith("witness.key.") && !rule) {
      rule = await witnessEntry(entry.type, p, seq, witnessKeys, witnessNames);
    } else if (entry.type === SM2_ENTRY && !rule) {
      try {
        if (actor.id !== "system") throw new Error("only the system registers the log's SM2 key");
        const key = await checkRegistration(p, canonicalBytes);
        if (key.name !== (await parseVerifierKey(logKeys[0].key)).name) throw new Error("the SM2 key's name is not the log's origin (SM2_KEY_INVALID)");
        sm2Keys.push({ fromSize: seq + 1, key });
      } catch (e) { rule = e.message; }
    } else if (typeof entry.type === "string" && entry.type.startsWith("external.") && !rule) {
      const ck = keys.get("client:" + p.client) && keys.get("client:" + p.client).get(p.client_key_id);
      if (!ck) rule = "client key not registered";
      else if (ck.revokedFrom !== null && seq >= ck.revokedFrom) rule = "client key was revoked (REVOKED_KEY)";
      else if (!(await ed25519Verify(ck.pk, fromB64(p.client_sig), canonicalBytes({ client: p.client, type: entry.type, record: p.record })))) rule = "client signature does not verify (CLIENT_SIG_INVALID)";
    }
    r.keyRule = rule;
  }
  const logKeyFor = (size) => {
    let k = logKeys[0].key;
    for (const lk of logKeys) if (size > lk.fromSize - 1 && lk.fromSize <= size) k = lk.key;
    return k;
  };
  // the SM2 key whose line a checkpoint of `size` must carry ({fromSize, key}), or null
  const sm2KeyFor = (size) => sm2Keys.filter((k) => k.fromSize <= size).pop() || null;
  // The valid cosignatures on `note` (a checkpoint of `size`) by the policy's witnesses, each
  // followed through its rotations; a valid line by a key rotated away or revoked before `size`
  // is refused whatever time it claims (WITNESS_KEY_RETIRED / WITNESS_KEY_REVOKED), as drawverify.
  const witnessCosignatures = async (note, size, policyKeys) => {
    const valid = [], bad = [], missing = [];
    for (const pk of policyKeys) {
      let here = pk;
      while (witnessKeys.has(here) && witnessKeys.get(here).prev) here = witnessKeys.get(here).prev;
      const chain = [here];
      for (;;) {
        const next = [...witnessKeys.entries()].find(([, r]) => r.prev === chain[chain.length - 1]);
        if (!next) break;
        chain.push(next[0]);
      }
      const cos = await verifyCosignatures(note, chain);
      let counted = false, name = null;
      for (let i = 0; i < chain.length; i++) {
        const c = cos[i];
        name = name || c.name;
        if (c.ok === null) continue;
        if (c.ok === false) { bad.push({ code: "COSIGNATURE_INVALID", key: chain[i], why: `${c.name}: ${c.reason}` }); continue; }
        const rec = witnessKeys.get(chain[i]);
        if (rec && rec.until !== null && size > rec.until) {
          bad.push({ code: rec.how === "revoked" ? "WITNESS_KEY_REVOKED" : "WITNESS_KEY_RETIRED", key: chain[i],
            why: `${c.name}: a key ${rec.how} at seq ${rec.until}, before this checkpoint of size ${size}: refused whatever time it claims (${c.time})` });
          continue;
        }
        if (!counted) { valid.push({ name: c.name, time: c.time }); counted = true; }
      }
      if (!counted) missing.push(name || pk);
    }
    return { valid, bad, missing };
  };
  return { results, logKeyFor, sm2KeyFor, witnessCosignatures };
}

// witness.key.registered / rotated / revoked (SPEC §3 item 9), as drawverify replays them; the
// entry's own signature (by system) is checked with the others. Returns the rule broken, or "".
async function witnessEntry(type, p, seq, witnessKeys, witnessNames) {
  const fields = { "witness.key.registered": ["name", "verifier_key"],
    "witness.key.rotated": ["name", "new_key_sig", "new_verifier_key", "old_key_sig", "old_verifier_key"],
    "witness.key.revoked": ["name", "reason", "verifier_key"] }[type];
  if (!fields || JSON.stringify(Object.keys(p).sort()) !== JSON.stringify(fields) || !fields.every((f) => typeof p[f] === "string" && p[f]))
    return `${type} payload must be {${(fields || []).join(", ")}} (KEY_RULE_VIOLATION)`;
  const asWitness = async (text) => {
    const k = await parseVerifierKey(text);
    if (k.alg !== 0x04 || k.name !== p.name) throw new Error("a witness key is a cosignature/v1 key named for its witness (KEY_RULE_VIOLATION)");
    return k;
  };
  try {
    if (type === "witness.key.registered") {
      await asWitness(p.verifier_key);
      if (witnessNames.has(p.name) || witnessKeys.has(p.verifier_key)) return "a witness name is registered while it has a key in force, and a witness key once (KEY_RULE_VIOLATION)";
      witnessNames.set(p.name, p.verifier_key);
      witnessKeys.set(p.verifier_key, { name: p.name, until: null, how: null, prev: null });
    } else if (type === "witness.key.revoked") {
      if (witnessNames.get(p.name) !== p.verifier_key) return "verifier_key is not the witness's key in force (KEY_RULE_VIOLATION)";
      witnessNames.delete(p.name);
      Object.assign(witnessKeys.get(p.verifier_key), { until: seq, how: "revoked" });
    } else {
      const oldK = await asWitness(p.old_verifier_key), newK = await asWitness(p.new_verifier_key);
      if (witnessNames.get(p.name) !== p.old_verifier_key) return "old_verifier_key is not the witness's key in force (KEY_RULE_VIOLATION)";
      if (witnessKeys.has(p.new_verifier_key)) return "rotation to a witness key the log named before (KEY_RULE_VIOLATION)";
      const body = canonicalBytes({ name: p.name, new_verifier_key: p.new_verifier_key, old_verifier_key: p.old_verifier_key });
      if (!(await ed25519Verify(oldK.key, fromB64(p.old_key_sig), body)) || !(await ed25519Verify(newK.key, fromB64(p.new_key_sig), body)))
        return "old_key_sig / new_key_sig does not verify: rotation not applied (NEW_KEY_SIG_INVALID)";
      witnessNames.set(p.name, p.new_verifier_key);
      Object.assign(witnessKeys.get(p.old_verifier_key), { until: seq, how: "rotated" });
      witnessKeys.set(p.new_verifier_key, { name: p.name, until: null, how: null, prev: p.old_verifier_key });
    }
  } catch (e) { return e.message; }
  return "";
}

export { b64, concat, utf8 };
