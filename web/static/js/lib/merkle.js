// RFC 9162 §2.1 Merkle tree hashes, inclusion and consistency proof verification.
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
  if (!(index >= 0 && index < size)) return `index ${index} not below tree size ${size}`;
  let fn = index, sn = size - 1, r = leafH;
  for (const p of proof) {
    if (sn === 0) return "proof too long";
    if (lsb(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!lsb(fn)) { while (!lsb(fn) && fn !== 0) { fn = half(fn); sn = half(sn); } }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) return "proof too short";
  if (!equal(r, root)) return "recomputed root differs from the checkpoint root";
  return null;
}

// §2.1.4.2: null when it verifies, else a reason.
export async function verifyConsistency(first, second, firstHash, secondHash, proof) {
  if (first > second) return "old size larger than new size";
  if (first === second) return proof.length === 0 && equal(firstHash, secondHash) ? null : "equal sizes need equal roots and an empty proof";
  if (first === 0) return proof.length === 0 ? null : "proof from an empty tree must be empty";
  if (proof.length === 0) return "empty proof";
  let path = proof;
  if ((first & (first - 1)) === 0 && first < 2 ** 31) path = [firstHash, ...proof];
  let fn = first - 1, sn = second - 1;
  while (lsb(fn)) { fn = half(fn); sn = half(sn); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return "proof too long";
    if (lsb(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!lsb(fn)) { while (!lsb(fn) && fn !== 0) { fn = half(fn); sn = half(sn); } }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) return "proof too short";
  if (!equal(fr, firstHash)) return "old root does not match";
  if (!equal(sr, secondHash)) return "new root does not match";
  return null;
}
