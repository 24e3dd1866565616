// The page scripts' words, from the one message catalogue (web/translations, gettext) the server's
// pages use too: the msgid is the Chinese text; the page embeds the reader's language's
// translations of the scripts' msgids as JSON (<script type="application/json" id="js-messages">,
// written by web/i18n.py js_messages from the compiled catalogue). Chinese, the default, needs no
// table: a msgid missing from it (or a page without the table, or Node) stays Chinese.
// Scripts write _("树大小 %(size)s", { size }) — the named placeholders of Python's tr().
const TABLE = (() => {
  if (typeof document === "undefined") return {};
  const el = document.getElementById("js-messages");
  if (!el) return {};
  try { return JSON.parse(el.textContent) || {}; } catch (e) { return {}; }
})();

// "en" or "zh": the page's language (<html lang>), as the server chose it
export const LANG = typeof document !== "undefined" && document.documentElement.lang === "en" ? "en" : "zh";

// %(name)s from params, %% as %; without params the text is used as it is (Python's tr() does the same)
function format(text, params) {
  if (!params) return text;
  return text.replace(/%(?:\((\w+)\)s|%)/g, (m, k) => (k === undefined ? "%" : String(params[k])));
}

// gettext: the reader's words for a msgid
export function _(msgid, params) {
  const t = TABLE[msgid];
  return format(typeof t === "string" && t ? t : msgid, params);
}

// pgettext: a msgid that means different things in different places (msgctxt), as in the templates
export function pgettext(context, msgid, params) {
  const t = TABLE[`${context}\u0004${msgid}`];
  return format(typeof t === "string" && t ? t : msgid, params);
}

// a list as the reader writes one: 甲、乙 in Chinese, "a, b" in English
export function list(xs) {
  return Array.from(xs).join(LANG === "en" ? ", " : "、");
}
