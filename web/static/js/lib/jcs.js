// RFC 8785 JSON Canonicalization Scheme over a parsed JSON value.
// Strings use ECMAScript JSON.stringify escaping (what RFC 8785 prescribes), numbers the
// ECMAScript Number-to-string rule, object members sorted by UTF-16 code units.
import { _ } from "./i18n.js";
export function canonicalize(v) {
  if (v === null || typeof v === "boolean") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(_("JCS：非有限数"));
    return JSON.stringify(v);
  }
  if (typeof v === "string") {
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v)) throw new Error(_("JCS：孤立的代理字符"));
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return "[" + v.map(canonicalize).join(",") + "]";
  if (typeof v === "object") {
    const keys = Object.keys(v).sort();
    return "{" + keys.map((k) => canonicalize(k) + ":" + canonicalize(v[k])).join(",") + "}";
  }
  throw new Error(_("JCS：不支持的值类型 %(type)s", { type: typeof v }));
}

export function canonicalBytes(v) { return new TextEncoder().encode(canonicalize(v)); }
