// RFC 8785 JSON Canonicalization Scheme over a parsed JSON value.
// Strings use ECMAScript JSON.stringify escaping (what RFC 8785 prescribes), numbers the
// ECMAScript Number-to-string rule, object members sorted by UTF-16 code units.
export function canonicalize(v) {
  if (v === null || typeof v === "boolean") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error("JCS: non-finite number");
    return JSON.stringify(v);
  }
  if (typeof v === "string") {
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v)) throw new Error("JCS: lone surrogate");
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return "[" + v.map(canonicalize).join(",") + "]";
  if (typeof v === "object") {
    const keys = Object.keys(v).sort();
    return "{" + keys.map((k) => canonicalize(k) + ":" + canonicalize(v[k])).join(",") + "}";
  }
  throw new Error("JCS: unsupported value " + typeof v);
}

export function canonicalBytes(v) { return new TextEncoder().encode(canonicalize(v)); }
