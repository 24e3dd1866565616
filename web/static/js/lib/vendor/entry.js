// Build input of noble-bls12-381.js (see build.sh): only the BLS12-381 curve of @noble/curves,
// with the @noble/hashes code it imports. Never loaded by a page: it names npm packages.
export { bls12_381 } from "@noble/curves/bls12-381.js";
