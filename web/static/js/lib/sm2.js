// The 国密 line of a checkpoint (docs/SPEC.md §3.6, §5.1): SM2 over the note text with SM3 and
// the user id "1234567812345678" (GB/T 35276's default), checked with the vendored sm-crypto
// (lib/vendor/sm-crypto-sm2.js, pinned by version and npm integrity; nothing loaded elsewhere).
import { concat, equal, fromB64, hex, sha256, utf8 } from "./bytes.js";
import { _ } from "./i18n.js";
import { splitNote } from "./note.js";
import { sm2 as SM2 } from "./vendor/sm-crypto-sm2.js";

export const USER_ID = "1234567812345678";
export const ENTRY_TYPE = "log.sm2_key.registered";
export const ACTOR_ENTRY_TYPE = "actor.sm2_key.registered"; // docs/SPEC.md §3 item 11
// 0xff || "GB/T32918-SM2-SM3": signed-note reserves 0xff for types without an assigned byte, followed by a
// longer identifier (docs/SPEC.md §5.1)
const HEAD = [0xff, ...new TextEncoder().encode("GB/T32918-SM2-SM3")];

// "<name>+<hex key hash>+<base64(0xff || "GB/T32918-SM2-SM3" || 0x04 || X || Y)>" -> {name, keyHash, point}
export async function parseSm2Key(vkey) {
  const m = String(vkey).match(/^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/);
  if (!m) throw new Error(_("SM2 验证公钥不是 name+hash+key 的形式"));
  const [, name, hashHex, b64] = m;
  const blob = fromB64(b64);
  if (blob.length !== HEAD.length + 65 || HEAD.some((b, i) => blob[i] !== b) || blob[HEAD.length] !== 0x04) throw new Error("not an SM2 verifier key (0xff || GB/T32918-SM2-SM3 || 0x04 || X || Y)");
  const keyHash = (await sha256(concat(utf8(name), new Uint8Array([0x0a]), blob))).slice(0, 4);
  if (hex(keyHash) !== hashHex) throw new Error(_("SM2 验证公钥的哈希与其公钥不符"));
  return { name, keyHash, point: blob.slice(HEAD.length) };
}

// r || s (64 bytes) over e = SM3(Z_A || message); sm-crypto checks the point and r, s in [1, n-1].
export function sm2Verify(point, message, signature, userId = USER_ID) {
  if (signature.length !== 64 || point.length !== 65) return false;
  try {
    return SM2.doVerifySignature(message, hex(signature), hex(point), { hash: true, userId });
  } catch (e) { return false; }
}

// null: no line by that key; true / false: every such line verifies / one does not.
export async function verifySm2Line(note, vkey) {
  const key = typeof vkey === "string" ? await parseSm2Key(vkey) : vkey;
  const { body, sigs } = splitNote(note);
  const mine = sigs.filter((s) => s.name === key.name && equal(s.raw.slice(0, 4), key.keyHash));
  if (!mine.length) return null;
  const msg = utf8(body);
  return mine.every((s) => sm2Verify(key.point, msg, s.raw.slice(4)));
}

// A log.sm2_key.registered payload: {sm2_log_key, key_sig}, key_sig by the new key over
// JCS({sm2_log_key}) (proof of possession). Returns the key or throws with the reason.
export async function checkRegistration(payload, canonicalBytes) {
  const names = Object.keys(payload || {}).sort();
  if (names.join(",") !== "key_sig,sm2_log_key") throw new Error(_("内容须为 {sm2_log_key, key_sig}（SM2_KEY_INVALID）"));
  const key = await parseSm2Key(payload.sm2_log_key);
  if (!sm2Verify(key.point, canonicalBytes({ sm2_log_key: payload.sm2_log_key }), fromB64(payload.key_sig)))
    throw new Error(_("key_sig 不是新公钥的 SM2 签名：不能证明持有私钥（SM2_KEY_INVALID）"));
  return key;
}

// The page's check of one checkpoint note: {status, detail} in the page's language (lib/i18n.js).
export async function sm2Check(note, required) {
  if (!required) return { status: "not_checked", detail: _("此检查点之前日志尚未登记 SM2 公钥，不要求国密签名行（旧检查点照常核验）") };
  const ok = await verifySm2Line(note, required.key);
  if (ok === null) return { status: "failed", detail: _("缺少国密签名行：日志自树大小 %(fromSize)s 起要求每个检查点带 SM2 签名（SM2_SIGNATURE_MISSING）", { fromSize: required.fromSize }) };
  if (!ok) return { status: "failed", detail: _("国密签名行无法验证（SM2/SM3，用户标识 1234567812345678）（SM2_SIGNATURE_INVALID）") };
  return { status: "passed", detail: _("SM2 签名有效（密钥 %(hex)s，自树大小 %(fromSize)s 起）", { hex: hex(required.key.keyHash), fromSize: required.fromSize }) };
}

// actor.sm2_key.registered (docs/SPEC.md §3 item 11): {actor_id, sm2_public_key, key_sig}, key_sig by the
// new key over JCS({actor_id, sm2_public_key}). Returns {actorId, point} or throws with the reason.
export function checkActorRegistration(payload, canonicalBytes) {
  const names = Object.keys(payload || {}).sort();
  if (names.join(",") !== "actor_id,key_sig,sm2_public_key" || Object.values(payload).some((v) => typeof v !== "string"))
    throw new Error(_("内容须为 {actor_id, sm2_public_key, key_sig}（SM2_ACTOR_KEY_INVALID）"));
  const point = fromB64(payload.sm2_public_key);
  if (point.length !== 65 || point[0] !== 0x04) throw new Error(_("sm2_public_key 不是 0x04 || X || Y 形式（SM2_ACTOR_KEY_INVALID）"));
  if (!sm2Verify(point, canonicalBytes({ actor_id: payload.actor_id, sm2_public_key: payload.sm2_public_key }), fromB64(payload.key_sig)))
    throw new Error(_("key_sig 不是新公钥的 SM2 签名：不能证明持有私钥（SM2_ACTOR_KEY_INVALID）"));
  return { actorId: payload.actor_id, point };
}

// An entry's SM2 signature (§3 item 11): "" when the rule holds, else the reason with its finding code.
// point: the actor's SM2 key in force (undefined: none); message: the bytes the Ed25519 sig signs.
export function entrySm2Problem(point, sm2Sig, message) {
  if (!point) return sm2Sig === undefined ? "" : _("条目带有 sm2_sig，但签署账户并未持有 SM2 密钥（ENTRY_SM2_SIGNATURE_INVALID）");
  if (sm2Sig === undefined) return _("签署账户持有 SM2 密钥：其条目还须带 sm2_sig（ENTRY_SM2_SIGNATURE_MISSING）");
  let sig;
  try { sig = fromB64(String(sm2Sig)); } catch (e) { sig = new Uint8Array(0); }
  return sm2Verify(point, message, sig) ? "" : _("sm2_sig 无法用签署账户的 SM2 公钥验证（ENTRY_SM2_SIGNATURE_INVALID）");
}
