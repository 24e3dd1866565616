// Build input of sm-crypto-sm2.js (see build.sh): the SM2 signature and SM3 hash of sm-crypto
// (with the jsbn big integers it requires). Never loaded by a page: it names npm packages.
import sm2 from "sm-crypto/src/sm2/index.js";
import sm3 from "sm-crypto/src/sm3/index.js";

export { sm2, sm3 };
