// RFC 9162 §2.1 Merkle tree hashes, inclusion and consistency proof verification.
import { _ } from "./i18n.js";
import { concat, equal, sha256 } from "./bytes.js";

const ZERO = new Uint8Array([0]);
const ONE = new Uint8Array([1]);

export function leafHash(leaf) { return sha256(concat(ZERO, leaf)); }
export function nodeHash(l, r) { return sha256(concat(ONE, l, r)); }

// MTH over already-hashed leaves.
export async function rootOf(leafHashes) {
  const n = leafHashes.length;
  if (n === 0) return sha256(new Uint8Array(0));
  if (n === 1) return leafHashes[0];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return nodeHash(await rootOf(leafHashes.slice(0, k)), await rootOf(leafHashes.slice(k)));
}

const lsb = (x) => x % 2 === 1;
const half = (x) => Math.floor(x / 2);

// §2.1.3.2: returns null when it verifies, else a reason.
export async function verifyInclusion(index, size, leafH, proof, root) {
  if (!(index >= 0 && index < size)) return _("索引 %(index)s 不小于树大小 %(size)s", { index, size });
  let fn = index, sn = size - 1, r = leafH;
  for (const p of proof) {
    if (sn === 0) return _("证明过长");
    if (lsb(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!lsb(fn)) { while (!lsb(fn) && fn !== 0) { fn = half(fn); sn = half(sn); } }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) return _("证明过短");
  if (!equal(r, root)) return _("复算的根哈希与检查点的根哈希不同");
  return null;
}

// §2.1.4.2: null when it verifies, else a reason.
export async function verifyConsistency(first, second, firstHash, secondHash, proof) {
  if (first > second) return _("旧树大小大于新树大小");
  if (first === second) return proof.length === 0 && equal(firstHash, secondHash) ? null : _("树大小相同时根哈希须相同且证明为空");
  if (first === 0) return proof.length === 0 ? null : _("从空树出发的证明须为空");
  if (proof.length === 0) return _("证明为空");
  let path = proof;
  if ((first & (first - 1)) === 0 && first < 2 ** 31) path = [firstHash, ...proof];
  let fn = first - 1, sn = second - 1;
  while (lsb(fn)) { fn = half(fn); sn = half(sn); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return _("证明过长");
    if (lsb(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!lsb(fn)) { while (!lsb(fn) && fn !== 0) { fn = half(fn); sn = half(sn); } }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) return _("证明过短");
  if (!equal(fr, firstHash)) return _("旧根哈希不符");
  if (!equal(sr, secondHash)) return _("新根哈希不符");
  return null;
}
