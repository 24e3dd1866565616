// Log entries (docs/SPEC.md §2-§3): canonical leaves, signatures and the key rules, followed
// from the entries themselves and the one pinned log verifier key.
import { _ } from "./i18n.js";
import { b64, concat, equal, fromB64, hex, sha256, utf8 } from "./bytes.js";
import { canonicalBytes } from "./jcs.js";
import { leafHash } from "./merkle.js";
import { ed25519Verify, parseVerifierKey, verifyCosignatures } from "./note.js";
import { ACTOR_ENTRY_TYPE as SM2_ACTOR_ENTRY, ENTRY_TYPE as SM2_ENTRY, checkActorRegistration, checkRegistration, entrySm2Problem } from "./sm2.js";

export async function keyId(publicKey) { return hex(await sha256(publicKey)).slice(0, 16); }

function without(obj, name) { const o = { ...obj }; delete o[name]; return o; }

// entries: [{seq, entry, leaf?: Uint8Array}] sorted by seq. Returns per-entry findings and the
// log keys in force, so that checkpoints can be checked against the right key.
export async function checkEntries(entries, pinnedLogKey) {
  const keys = new Map(); // actor -> Map(key_id -> {pk, from, retiredFrom})
  const logKeys = [{ fromSize: 0, key: pinnedLogKey }];
  const sm2Keys = []; // {fromSize, key}: the SM2 (国密) line each later checkpoint must carry
  const sm2Actors = new Map(); // actor id -> SM2 point: its later entries carry sm2_sig (§3 item 11)
  // witness keys on the log (SPEC §3 items 9-10): key text -> {name, until: seq | null, how, prev}
  const witnessKeys = new Map(), witnessNames = new Map();
  const results = [];
  let prevHash = null, prevSeq = null;
  const addKey = (actor, id, pk, from) => {
    if (!keys.has(actor)) keys.set(actor, new Map());
    keys.get(actor).set(id, { pk, from, retiredFrom: null, revokedFrom: null });
  };
  for (const { seq, entry, leaf } of entries) {
    const r = { seq, type: entry && entry.type, canonical: null, signature: null, sm2: null, keyRule: null, chain: null, leafHash: null };
    results.push(r);
    let bytes;
    try {
      bytes = canonicalBytes(entry);
      r.canonical = leaf ? (equal(bytes, leaf) ? "" : _("存储的叶不是该条目的规范形式（NOT_CANONICAL）")) : "";
    } catch (e) { r.canonical = e.message; continue; }
    r.leafHash = await leafHash(leaf || bytes);
    if (entry.seq !== seq) r.canonical = _("条目写的序号是 %(said)s，列在 %(seq)s", { said: entry.seq, seq });
    if (prevSeq !== null && seq === prevSeq + 1) r.chain = entry.prev === hex(prevHash) ? "" : _("prev 不是前一条目的叶哈希");
    if (seq === 0) r.chain = entry.prev === "0".repeat(64) ? "" : _("创世条目的 prev 须为 64 个 0");
    prevHash = r.leafHash; prevSeq = seq;
    const p = entry.payload || {};
    const actor = entry.actor || {};
    let sigMsg;
    // both signatures sign JCS(entry without sig and sm2_sig) (§2, §3 item 11)
    try { sigMsg = canonicalBytes(without(without(entry, "sig"), "sm2_sig")); } catch (e) { r.signature = e.message; continue; }
    if (entry.sm2_sig !== undefined || sm2Actors.has(actor.id)) r.sm2 = entrySm2Problem(sm2Actors.get(actor.id), entry.sm2_sig, sigMsg);
    // key rules
    let rule = "";
    if (seq === 0) {
      if (entry.type !== "log.genesis") rule = "entry 0 is not log.genesis";
      else if (p.log_key !== pinnedLogKey) rule = _("创世条目写的日志公钥不是所核对的公钥");
      else {
        const pk = fromB64(p.system_key);
        const id = await keyId(pk);
        if (actor.id !== "system" || actor.key_id !== id) rule = _("创世条目须由其所写的系统密钥签名");
        addKey("system", id, pk, 0);
      }
    }
    const known = keys.get(actor.id) && keys.get(actor.id).get(actor.key_id);
    if (!known) rule = rule || _("%(actor)s 的密钥 %(key)s 在本条目之前未登记（UNKNOWN_KEY）", { key: actor.key_id, actor: actor.id });
    else if (known.revokedFrom !== null && seq >= known.revokedFrom) rule = rule || _("密钥 %(key)s 已在第 %(seq)s 条吊销：无论条目自称何时签署均不予接受（REVOKED_KEY）", { key: actor.key_id, seq: known.revokedFrom - 1 });
    else if (known.retiredFrom !== null && seq >= known.retiredFrom) rule = rule || _("密钥 %(key)s 已停用（RETIRED_KEY）", { key: actor.key_id });
    if (known) {
      r.signature = (await ed25519Verify(known.pk, fromB64(entry.sig), sigMsg)) ? "" : "Ed25519 signature does not verify";
    } else {
      r.signature = _("没有可用于核验签名的密钥");
    }
    if (entry.type === "actor.key.registered" && !rule) {
      const pk = fromB64(p.public_key);
      if (actor.id !== "system") rule = _("只有系统可以登记密钥");
      else if ((await keyId(pk)) !== p.key_id) rule = "key_id is not the id of public_key";
      else if (keys.get(p.actor_id) && keys.get(p.actor_id).has(p.key_id)) rule = _("密钥编号登记了两次");
      else addKey(p.actor_id, p.key_id, pk, seq + 1);
    } else if (entry.type === "actor.key.rotated" && !rule) {
      const pk = fromB64(p.new_public_key);
      if (p.actor_id !== actor.id || p.old_key_id !== actor.key_id) rule = _("密钥轮换须由该签署人的旧密钥签名");
      else if ((await keyId(pk)) !== p.new_key_id) rule = "new_key_id is not the id of new_public_key";
      else if (!(await ed25519Verify(pk, fromB64(p.new_key_sig), canonicalBytes(without(p, "new_key_sig"))))) rule = "new_key_sig does not verify";
      else { known.retiredFrom = seq + 1; addKey(p.actor_id, p.new_key_id, pk, seq + 1); }
    } else if (entry.type === "actor.key.revoked" && !rule) {
      // SPEC §3 item 7: signed by system; from the next entry on the key signs nothing valid
      const target = keys.get(p.actor_id) && keys.get(p.actor_id).get(p.key_id);
      if (actor.id !== "system") rule = _("只有系统可以吊销密钥");
      else if (p.actor_id === "system") rule = _("系统密钥只能轮换，不能吊销");
      else if (typeof p.reason !== "string" || [...p.reason].length < 1 || [...p.reason].length > 200) rule = _("理由须为 1 至 200 个字符");
      else if (!target) rule = _("吊销的密钥并未为该签署人登记");
      else if (target.revokedFrom !== null) rule = _("该密钥已被吊销");
      else target.revokedFrom = seq + 1;
    } else if ((entry.type === "log.key.rotated" || entry.type === "log.key.revoked") && !rule) {
      try {
        const nk = await parseVerifierKey(p.new_log_key);
        const cur = logKeys[logKeys.length - 1].key;
        if (entry.type === "log.key.revoked" && (typeof p.reason !== "string" || [...p.reason].length < 1 || [...p.reason].length > 200)) rule = _("理由须为 1 至 200 个字符");
        else if (p.old_log_key !== cur) rule = "old_log_key is not the key in force";
        else if (!(await ed25519Verify(nk.key, fromB64(p.new_key_sig), canonicalBytes(without(p, "new_key_sig"))))) rule = "new_key_sig does not verify";
        else logKeys.push({ fromSize: seq + 1, key: p.new_log_key });
      } catch (e) { rule = e.message; }
    } else if (entry.type === SM2_ACTOR_ENTRY && !rule) {
      try {
        if (actor.id !== "system") throw new Error(_("只有 system 可以为账户登记 SM2 密钥（SM2_ACTOR_KEY_INVALID）"));
        const { actorId, point } = checkActorRegistration(p, canonicalBytes);
        const own = keys.get(actorId);
        if (actorId === "system" || !own || ![...own.values()].some((k) => k.retiredFrom === null && k.revokedFrom === null))
          throw new Error(_("该账户没有有效的 Ed25519 密钥（SM2_ACTOR_KEY_INVALID）"));
        sm2Actors.set(actorId, point);
      } catch (e) { rule = e.message; }
    } else if (typeof entry.type === "string" && entry.type.startsWith("witness.key.") && !rule) {
      rule = await witnessEntry(entry.type, p, seq, witnessKeys, witnessNames);
    } else if (entry.type === SM2_ENTRY && !rule) {
      try {
        if (actor.id !== "system") throw new Error(_("只有系统可以登记日志的 SM2 公钥"));
        const key = await checkRegistration(p, canonicalBytes);
        if (key.name !== (await parseVerifierKey(logKeys[0].key)).name) throw new Error(_("SM2 公钥的名称不是日志的 origin（SM2_KEY_INVALID）"));
        sm2Keys.push({ fromSize: seq + 1, key });
      } catch (e) { rule = e.message; }
    } else if (typeof entry.type === "string" && entry.type.startsWith("external.") && !rule) {
      const ck = keys.get("client:" + p.client) && keys.get("client:" + p.client).get(p.client_key_id);
      if (!ck) rule = _("客户端密钥未登记");
      else if (ck.revokedFrom !== null && seq >= ck.revokedFrom) rule = _("客户端密钥已被吊销（REVOKED_KEY）");
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
            why: rec.how === "revoked"
              ? _("%(name)s：该密钥已于条目 #%(until)s 吊销，早于这个树大小为 %(size)s 的检查点：无论它声称的时间（%(time)s）如何都不予认可", { name: c.name, until: rec.until, size, time: c.time })
              : _("%(name)s：该密钥已于条目 #%(until)s 轮换停用，早于这个树大小为 %(size)s 的检查点：无论它声称的时间（%(time)s）如何都不予认可", { name: c.name, until: rec.until, size, time: c.time }) });
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
    return _("%(type)s 的载荷必须为 {%(fields)s}（KEY_RULE_VIOLATION）", { type, fields: (fields || []).join(", ") });
  const asWitness = async (text) => {
    const k = await parseVerifierKey(text);
    if (k.alg !== 0x04 || k.name !== p.name) throw new Error(_("见证者密钥必须是以该见证者命名的 cosignature/v1 密钥（KEY_RULE_VIOLATION）"));
    return k;
  };
  try {
    if (type === "witness.key.registered") {
      await asWitness(p.verifier_key);
      if (witnessNames.has(p.name) || witnessKeys.has(p.verifier_key)) return _("见证者在其密钥有效期间被重复登记，或同一见证者密钥被登记两次（KEY_RULE_VIOLATION）");
      witnessNames.set(p.name, p.verifier_key);
      witnessKeys.set(p.verifier_key, { name: p.name, until: null, how: null, prev: null });
    } else if (type === "witness.key.revoked") {
      if (witnessNames.get(p.name) !== p.verifier_key) return _("吊销的密钥不是该见证者现行的密钥（KEY_RULE_VIOLATION）");
      witnessNames.delete(p.name);
      Object.assign(witnessKeys.get(p.verifier_key), { until: seq, how: "revoked" });
    } else {
      const oldK = await asWitness(p.old_verifier_key), newK = await asWitness(p.new_verifier_key);
      if (witnessNames.get(p.name) !== p.old_verifier_key) return _("轮换前的密钥不是该见证者现行的密钥（KEY_RULE_VIOLATION）");
      if (witnessKeys.has(p.new_verifier_key)) return _("轮换到的见证者密钥此前已在日志中出现过（KEY_RULE_VIOLATION）");
      const body = canonicalBytes({ name: p.name, new_verifier_key: p.new_verifier_key, old_verifier_key: p.old_verifier_key });
      if (!(await ed25519Verify(oldK.key, fromB64(p.old_key_sig), body)) || !(await ed25519Verify(newK.key, fromB64(p.new_key_sig), body)))
        return _("新旧密钥的互签验证不通过：轮换不生效（NEW_KEY_SIG_INVALID）");
      witnessNames.set(p.name, p.new_verifier_key);
      Object.assign(witnessKeys.get(p.old_verifier_key), { until: seq, how: "rotated" });
      witnessKeys.set(p.new_verifier_key, { name: p.name, until: null, how: null, prev: p.old_verifier_key });
    }
  } catch (e) { return e.message; }
  return "";
}

export { b64, concat, utf8 };
