// Ed25519 (Web Crypto), C2SP signed notes, tlog checkpoints and cosignature/v1.
import { _ } from "./i18n.js";
import { concat, equal, fromB64, sha256, u64, utf8 } from "./bytes.js";

export async function ed25519Verify(publicKey, signature, message) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// "<name>+<hex key hash>+<base64(alg || key)>"
export async function parseVerifierKey(vkey) {
  // the name holds no "+"; the base64 key may
  const m = String(vkey).match(/^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/);
  if (!m) throw new Error(_("验证公钥不是 name+hash+key 的形式"));
  const [, name, hashHex, b64] = m;
  const raw = fromB64(b64);
  const alg = raw[0];
  const key = raw.slice(1);
  const keyHash = (await sha256(concat(utf8(name), new Uint8Array([0x0a]), raw))).slice(0, 4);
  const stated = hashHex.match(/^[0-9a-f]{8}$/) ? Uint8Array.from(hashHex.match(/../g).map((h) => parseInt(h, 16))) : null;
  if (!stated || !equal(stated, keyHash)) throw new Error(_("验证公钥的哈希与其公钥不符"));
  return { name, alg, key, keyHash };
}

export function splitNote(note) {
  const i = note.indexOf("\n\n");
  if (i < 0) throw new Error(_("签名文本在签名行之前没有空行"));
  const body = note.slice(0, i + 1);
  const lines = note.slice(i + 2).split("\n").filter((l) => l.length > 0);
  const sigs = lines.map((l) => {
    const m = l.match(/^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/);
    if (!m) throw new Error(_("签名行格式有误"));
    return { name: m[1], raw: fromB64(m[2]) };
  });
  return { body, sigs };
}

export function parseCheckpoint(body) {
  const lines = body.split("\n");
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error(_("检查点正文格式有误"));
  return { origin: lines[0], size: Number(lines[1]), root: fromB64(lines[2]) };
}

// Verifies the log's signature on a checkpoint note; returns {checkpoint} or throws with the reason.
export async function verifyCheckpointNote(note, verifierKey) {
  const vk = await parseVerifierKey(verifierKey);
  if (vk.alg !== 0x01) throw new Error(_("日志验证公钥不是 Ed25519 (0x01)"));
  const { body, sigs } = splitNote(note);
  const cp = parseCheckpoint(body);
  if (cp.origin !== vk.name) throw new Error(_("检查点的 origin %(origin)s 不是公钥的名称 %(name)s", { origin: cp.origin, name: vk.name }));
  const line = sigs.find((s) => s.name === vk.name && equal(s.raw.slice(0, 4), vk.keyHash));
  if (!line) throw new Error(_("没有日志公钥的签名行"));
  if (!(await ed25519Verify(vk.key, line.raw.slice(4), utf8(body)))) throw new Error(_("日志公钥的签名验证不通过"));
  // the log's own timestamped cosignature (SPEC §5): the log key under 0x04; its time is signed
  const ownHash = (await sha256(concat(utf8(vk.name), new Uint8Array([0x0a, 0x04]), vk.key))).slice(0, 4);
  const own = sigs.find((s) => s.name === vk.name && equal(s.raw.slice(0, 4), ownHash));
  let time = null;
  if (own) {
    if (own.raw.length !== 4 + 8 + 64) throw new Error(_("日志的时间戳联署不是 cosignature/v1 签名行"));
    const t = new DataView(own.raw.buffer, own.raw.byteOffset + 4, 8).getBigUint64(0, false);
    if (!(await ed25519Verify(vk.key, own.raw.slice(12), utf8(`cosignature/v1\ntime ${t}\n` + body))))
      throw new Error(_("CHECKPOINT_SIGNATURE_INVALID：日志自己的时间戳联署验证不通过：其时间被改动或该行系伪造"));
    time = Number(t);
  }
  return { checkpoint: cp, body, sigs, time };
}

// cosignature/v1 lines on a note, for the witness keys given; returns [{name, time, ok, reason}]
export async function verifyCosignatures(note, witnessKeys) {
  const { body, sigs } = splitNote(note);
  const out = [];
  for (const wk of witnessKeys) {
    let vk;
    try { vk = await parseVerifierKey(wk); } catch (e) { out.push({ name: wk, ok: false, reason: e.message }); continue; }
    const line = sigs.find((s) => s.name === vk.name && equal(s.raw.slice(0, 4), vk.keyHash));
    if (!line) { out.push({ name: vk.name, ok: null, reason: _("该见证者没有联署") }); continue; }
    if (vk.alg !== 0x04 || line.raw.length !== 4 + 8 + 64) { out.push({ name: vk.name, ok: false, reason: _("不是 cosignature/v1 签名行") }); continue; }
    const t = new DataView(line.raw.buffer, line.raw.byteOffset + 4, 8).getBigUint64(0, false);
    const msg = utf8(`cosignature/v1\ntime ${t}\n` + body);
    const ok = await ed25519Verify(vk.key, line.raw.slice(12), msg);
    out.push({ name: vk.name, time: Number(t), ok, reason: ok ? "" : _("联署签名验证不通过") });
  }
  return out;
}

export { u64 };
