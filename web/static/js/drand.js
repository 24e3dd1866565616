// drand beacon rounds in the browser (docs/SPEC.md §D2): chain parameters pinned to the League of
// Entropy networks, exact point encodings, and the BLS12-381 signature of each round, verified
// with the vendored, audited @noble/curves (lib/vendor/noble-bls12-381.js, see its README.md).
// Why in the page: a round is a public, unpredictable input only if its signature verifies
// against the network's key; neither the relay nor this server is trusted to say so.
import { concat, fromHex, hex, sha256, u64 } from "./lib/bytes.js";
import { bls12_381 as bls } from "./lib/vendor/noble-bls12-381.js";
import { _, pgettext } from "./lib/i18n.js";

// RFC 9380 domain separation tags of §D2. noble 2.x defaults to these too, but they are passed
// explicitly: noble 1.x hashed G1 with the G2 tag, and quicknet's signatures need the G1 one.
export const DST_G1 = "BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";
export const DST_G2 = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_";

// scheme id -> groups of the public key and the signature; chained: the message covers the
// previous round's signature.
export const SCHEMES = {
  "pedersen-bls-chained": { pk: "G1", sig: "G2", chained: true },
  "pedersen-bls-unchained": { pk: "G1", sig: "G2", chained: false },
  "bls-unchained-g1-rfc9380": { pk: "G2", sig: "G1", chained: false },
};

// The League of Entropy networks, as published (shared/vectors/drand.json, the same data as
// drawsvc/data/drand_networks.json). A bundle's chain parameters must be these: a key that only
// the bundle vouches for proves nothing.
export const PINNED = {
  "8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce": {
    beacon_id: "default", scheme: "pedersen-bls-chained", genesis_time: 1595431050, period: 30,
    public_key: "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c7293784a9402801af31",
    genesis_seed: "176f93498eac9ca337150b46d21dd58673ea4e3581185f869672e59fa4cb390a",
  },
  "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971": {
    beacon_id: "quicknet", scheme: "bls-unchained-g1-rfc9380", genesis_time: 1692803367, period: 3,
    public_key: "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
    genesis_seed: "f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e",
  },
};

// --- messages: Chinese by default, English with ?lang=en ------------------------------------
const M = {
  len: (what, g, n, got) => _("%(what)s：压缩的 %(g)s 点应为 %(n)s 字节，实为 %(got)s 字节", { what, g, n, got }),
  flag: (what) => _("%(what)s：未设置压缩标志位", { what }),
  inf: (what) => _("%(what)s：是无穷远点", { what }),
  flag2: (what) => _("%(what)s：G2 点后半部分带有标志位", { what }),
  xp: (what) => _("%(what)s：坐标 x ≥ p（不是域元素）", { what }),
  curve: (what, g, e) => _("%(what)s：不是 %(g)s 曲线上的点（%(e)s）", { what, g, e }),
  sub: (what, g) => _("%(what)s：不在 %(g)s 的素数阶子群中", { what, g }),
  round1: () => _("轮次编号从 1 开始"),
  prev: () => _("链式轮次需要上一轮签名 previous_signature"),
  badsig: (r, net) => _("第 %(r)s 轮：BLS 签名与 %(net)s 的公钥不符", { r, net }),
  rnd: (want, got) => _("所述随机值 %(got)s 不等于 SHA-256(签名) = %(want)s", { got, want }),
  nochain: (h) => _("证据包中没有链 %(h)s 的参数", { h }),
  notObj: () => _("不是对象"),
  scheme: (x) => _("未知的方案 %(x)s", { x }),
  times: () => _("genesis_time 与 period 须为整数，period > 0"),
  notHex: (e) => _("不是十六进制（%(e)s）", { e }),
  field: (h, e) => _("链 %(h)s 的参数不可用：%(e)s", { h, e }),
  filed: (h, got) => _("链参数登记在 %(h)s 下，但其 chain_hash 是 %(got)s", { h, got }),
  notpinned: (h) => _("%(h)s 不是本页已知的 League of Entropy drand 网络：其公钥只有证据包自己担保", { h }),
  differs: (net, k) => _("%(net)s 的 %(k)s 与 League of Entropy 公布的不同", { net, k }),
  reveal: (r) => _("公开值与声明不一一对应（应为 drand 第 %(r)s 轮）", { r }),
  hexsig: (e) => _("签名不是十六进制（%(e)s）", { e }),
  ok: (net, r, scheme, rnd) => _("%(net)s 第 %(r)s 轮：BLS 签名有效（%(scheme)s），随机值 = SHA-256(签名) = %(slice)s…", { net, r, scheme, slice: rnd.slice(0, 16) }),
  tnochain: () => _("链参数不可用，无法计算轮次时间（见“drand 网络参数”）"),
  nb: (want, got) => _("not_before 应为最晚声明轮次的时间 %(want)s，实为 %(got)s", { want, got }),
  nbnodrand: (got) => _("没有声明 drand 轮次，却有 not_before %(got)s", { got }),
  late: (what, t, r, due) => _("%(what)s（%(t)s）不早于第 %(r)s 轮的时间 %(iso)s：该轮可能已为人所知", { what, t, r, iso: iso(due) }),
  early: (t, r, due) => _("播种时间 %(t)s 早于第 %(r)s 轮的时间 %(iso)s", { t, r, iso: iso(due) }),
  prepEntry: () => _("准备条目时间"),
  prepCp: () => _("准备后检查点的签署时间"),
  timingOk: (r, due, clock) => _("输入（%(clock)s）早于第 %(r)s 轮的时间 %(iso)s，播种晚于所有声明轮次；这些时间依据服务器自己的时钟", { clock, r, iso: iso(due) }),
  pinned: (net, scheme) => _("%(net)s（%(scheme)s）：参数与 League of Entropy 公布的一致", { net, scheme }),
};
const say = (key, ...a) => M[key](...a);
const iso = (t) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

// A named finding of §D2 (code: BeaconEncodingError, BeaconSignatureInvalid,
// BeaconRandomnessMismatch, RevealMismatch, ChainParamsInvalid, ChainNotPinned).
export class BeaconError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}
const enc = (key, ...a) => new BeaconError("BeaconEncodingError", say(key, ...a));

// --- point decoding: ZCash compressed encoding, every rule of §D2 checked and named -----------
const P = 0x1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaabn;
const big = (b) => BigInt("0x" + (hex(b) || "0"));

// Decodes a compressed point of `group` ("G1" 48 B, "G2" 96 B) and checks length, flags, x < p,
// on the curve, not infinity and in the prime-order subgroup; throws BeaconEncodingError.
export function decodePoint(raw, group, what) {
  const n = group === "G1" ? 48 : 96;
  if (raw.length !== n) throw enc("len", what, group, n, raw.length);
  if (!(raw[0] & 0x80)) throw enc("flag", what);
  if (raw[0] & 0x40) throw enc("inf", what);
  if (group === "G2" && raw[48] & 0xe0) throw enc("flag2", what);
  const first = raw.slice(0, 48);
  first[0] &= 0x1f;
  if (big(first) >= P || (group === "G2" && big(raw.slice(48)) >= P)) throw enc("xp", what);
  let pt;
  try {
    pt = (group === "G1" ? bls.G1.Point : bls.G2.Point).fromBytes(raw);
  } catch (e) {
    const m = String(e && e.message || e);
    if (/subgroup/i.test(m)) throw enc("sub", what, group);
    throw enc("curve", what, group, m);
  }
  if (pt.is0()) throw enc("inf", what);
  if (!pt.isTorsionFree()) throw enc("sub", what, group);
  return pt;
}

// --- chain parameters ----------------------------------------------------------------------
// Parses the bundle's chains[hash] (the fields of drand's /info); throws ChainParamsInvalid.
export function parseChain(hash, d) {
  const h = String(hash).toLowerCase();
  const bad = (e) => new BeaconError("ChainParamsInvalid", say("field", h.slice(0, 16), e));
  if (!d || typeof d !== "object") throw bad(say("notObj"));
  if (String(d.chain_hash).toLowerCase() !== h) throw new BeaconError("ChainParamsInvalid", say("filed", h.slice(0, 16), d.chain_hash));
  if (!Object.hasOwn(SCHEMES, d.scheme)) throw bad(say("scheme", JSON.stringify(d.scheme)));
  if (!Number.isInteger(d.genesis_time) || !Number.isInteger(d.period) || d.period <= 0) throw bad(say("times"));
  let publicKey, genesisSeed = null;
  try {
    publicKey = fromHex(d.public_key);
    if (d.genesis_seed) genesisSeed = fromHex(d.genesis_seed);
  } catch (e) { throw bad(say("notHex", e.message)); }
  return { chainHash: h, scheme: d.scheme, publicKey, genesisTime: d.genesis_time, period: d.period, genesisSeed, beaconId: d.beacon_id || h.slice(0, 12) };
}

// Compares a parsed chain with the pinned League of Entropy parameters; throws ChainNotPinned or
// ChainParamsInvalid naming the field that differs.
export function checkPinned(chain) {
  const pin = Object.hasOwn(PINNED, chain.chainHash) ? PINNED[chain.chainHash] : null;
  if (!pin) throw new BeaconError("ChainNotPinned", say("notpinned", chain.chainHash));
  const net = pin.beacon_id;
  const diffs = [];
  if (chain.scheme !== pin.scheme) diffs.push("scheme");
  if (hex(chain.publicKey) !== pin.public_key) diffs.push("public_key");
  if (chain.genesisTime !== pin.genesis_time) diffs.push("genesis_time");
  if (chain.period !== pin.period) diffs.push("period");
  if (chain.genesisSeed && hex(chain.genesisSeed) !== pin.genesis_seed) diffs.push("genesis_seed");  // absent: not needed
  if (diffs.length) throw new BeaconError("ChainParamsInvalid", say("differs", net, diffs.join(", ")));
  return net;
}

// --- rounds ----------------------------------------------------------------------------------
export function roundTime(chain, round) { return chain.genesisTime + (round - 1) * chain.period; }

// The 32-byte message signed for `round`: chained SHA-256(previous_signature || u64be(round)),
// round 1 using the genesis seed; unchained SHA-256(u64be(round)).
export async function roundMessage(chain, round, previousSignature) {
  if (!SCHEMES[chain.scheme].chained) return sha256(u64(round));
  let prev = previousSignature;
  if (!prev) {
    if (round === 1 && chain.genesisSeed) prev = chain.genesisSeed;
    else throw enc("prev");
  }
  return sha256(concat(prev, u64(round)));
}

// Verifies round `round`'s signature (bytes) against the chain's key; returns the randomness
// SHA-256(signature). Throws BeaconEncodingError or BeaconSignatureInvalid.
export async function verifyRound(chain, round, signature, previousSignature = null) {
  if (!Number.isSafeInteger(round) || round < 1) throw enc("round1");
  const s = SCHEMES[chain.scheme];
  const msg = await roundMessage(chain, round, previousSignature);
  const pk = decodePoint(chain.publicKey, s.pk, pgettext("public key", "公钥"));
  const sig = decodePoint(signature, s.sig, _("签名"));
  const ok = s.sig === "G1"
    ? bls.shortSignatures.verify(sig, bls.shortSignatures.hash(msg, DST_G1), pk)
    : bls.longSignatures.verify(sig, bls.longSignatures.hash(msg, DST_G2), pk);
  if (!ok) throw new BeaconError("BeaconSignatureInvalid", say("badsig", round, chain.beaconId));
  return sha256(signature);
}

// One declared drand source and its reveal (fields of the seeded entry): the reveal names the
// declared chain and round, the signature verifies, a stated randomness equals SHA-256(signature).
// Returns {randomness (hex), detail}.
export async function checkReveal(decl, reveal, chain) {
  if (!reveal || reveal.type !== "drand" || String(reveal.chain_hash).toLowerCase() !== String(decl.chain_hash).toLowerCase()
      || reveal.round !== decl.round) throw new BeaconError("RevealMismatch", say("reveal", decl.round));
  let sig, prev = null;
  try {
    sig = fromHex(reveal.signature);
    if (reveal.previous_signature) prev = fromHex(reveal.previous_signature);
  } catch (e) { throw new BeaconError("BeaconEncodingError", say("hexsig", e.message)); }
  const rnd = hex(await verifyRound(chain, decl.round, sig, prev));
  if (reveal.randomness != null && String(reveal.randomness).toLowerCase() !== rnd) {
    throw new BeaconError("BeaconRandomnessMismatch", say("rnd", rnd, reveal.randomness));
  }
  return { randomness: rnd, detail: say("ok", chain.beaconId, decl.round, chain.scheme, rnd) };
}

// The timing rules of §D2 (the CLI's "timing"): the inputs were fixed — the prepared entry and the
// checkpoint signed right after it — before the earliest declared round's time (else
// BeaconRoundInPast), not_before is the latest declared round's time (NotBeforeMismatch), and the
// draw was seeded only once every declared round existed (SeededTooEarly).
// t: {preparedTime, notBefore, seededTime, checkpointSignedAt} (RFC 3339 strings, notBefore Unix).
export function checkTiming(sources, chainsJson, t) {
  const decls = sources.filter((s) => s.type === "drand");
  if (!decls.length) {
    return t.notBefore == null ? null : { status: "failed", detail: `NotBeforeMismatch: ${say("nbnodrand", t.notBefore)}` };
  }
  const rounds = [];
  for (const d of decls) {
    const key = Object.keys(chainsJson || {}).find((k) => k.toLowerCase() === String(d.chain_hash).toLowerCase());
    let c;
    try { c = parseChain(d.chain_hash, (chainsJson || {})[key]); } catch (e) { return { status: "not_checked", detail: say("tnochain") }; }
    rounds.push({ round: d.round, due: roundTime(c, d.round) });
  }
  const first = rounds.reduce((a, b) => (b.due < a.due ? b : a)), last = rounds.reduce((a, b) => (b.due > a.due ? b : a));
  const bad = [];
  if (t.notBefore !== last.due) bad.push(`NotBeforeMismatch: ${say("nb", last.due, t.notBefore)}`);
  const clock = [];
  for (const [what, time] of [[say("prepEntry"), t.preparedTime], [say("prepCp"), t.checkpointSignedAt]]) {
    if (time == null) continue;
    clock.push(time);
    if (!(Date.parse(time) / 1000 < first.due)) bad.push(`BeaconRoundInPast: ${say("late", what, time, first.round, first.due)}`);
  }
  if (t.seededTime != null) {
    for (const r of rounds) if (Date.parse(t.seededTime) / 1000 < r.due) bad.push(`SeededTooEarly: ${say("early", t.seededTime, r.round, r.due)}`);
  }
  return bad.length ? { status: "failed", detail: bad.join("; ") } : { status: "passed", detail: say("timingOk", first.round, first.due, clock.join(", ")) };
}

const finding = (e) => (e instanceof BeaconError ? `${e.code}: ${e.message}` : `${_("错误")}: ${e && e.message || e}`);

// The page's two drand checks for a bundle: {chains: {status, detail}, rounds: {status, detail}}.
// `reveals` is the seeded entry's list (null before seeding: the signatures do not exist yet).
export async function checkBundleDrand(sources, reveals, chainsJson) {
  const decls = sources.filter((s) => s.type === "drand");
  const parsed = {};
  const chainLines = [], chainBad = [];
  for (const h of [...new Set(decls.map((d) => String(d.chain_hash).toLowerCase()))]) {
    const key = Object.keys(chainsJson || {}).find((k) => k.toLowerCase() === h);
    try {
      if (key === undefined) throw new BeaconError("ChainParamsInvalid", say("nochain", h));
      const c = parseChain(h, chainsJson[key]);
      parsed[h] = c;
      chainLines.push(say("pinned", checkPinned(c), c.scheme));
    } catch (e) { chainBad.push(finding(e)); }
  }
  const chains = chainBad.length ? { status: "failed", detail: chainBad.join("; ") } : { status: "passed", detail: chainLines.join("; ") };
  if (!reveals) return { chains, rounds: null };
  const pub = sources.filter((s) => s.type !== "server_nonce");
  const lines = [], bad = [];
  for (let i = 0; i < pub.length; i++) {
    if (pub[i].type !== "drand") continue;
    const d = pub[i];
    const c = parsed[String(d.chain_hash).toLowerCase()];
    try {
      if (!c) throw new BeaconError("ChainParamsInvalid", say("nochain", String(d.chain_hash).slice(0, 16)));
      lines.push((await checkReveal(d, reveals[i], c)).detail);
    } catch (e) { bad.push(finding(e)); }
  }
  return { chains, rounds: bad.length ? { status: "failed", detail: bad.join("; ") } : { status: "passed", detail: lines.join("; ") } };
}

