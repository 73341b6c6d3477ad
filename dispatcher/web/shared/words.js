// The pages' words: the catalogue of the page's language (GET /api/v1/i18n, the same gettext
// catalogue the server uses), the town's words for codes, and times in the town's zone as
// people there read them. Used by the dispatch console and the phone page.
// The words of the page's language (GET /api/v1/i18n): the catalogue the server uses too.
export const words = { locale: "zh-CN", town_locale: "zh-CN", timezone: "Asia/Shanghai", messages: {}, terms: {},
  event_codes: {} };

/** The page's language: the person's choice on this device, else the town's. */
export const chosenLocale = () => localStorage.getItem("locale") || "";

export async function loadWords() {
  const chosen = chosenLocale();
  try {
    const r = await fetch(`/api/v1/i18n${chosen ? `?locale=${encodeURIComponent(chosen)}` : ""}`);
    if (r.ok) {
      Object.assign(words, await r.json());
      localStorage.setItem("words", JSON.stringify(words)); // for a page opened with no network
    }
  } catch (e) {
    Object.assign(words, JSON.parse(localStorage.getItem("words") || "{}"));
  }
  document.documentElement.lang = words.locale;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const node of document.querySelectorAll("[data-t-placeholder]")) node.placeholder = t(node.dataset.tPlaceholder);
  for (const node of document.querySelectorAll("[data-t-title]")) node.title = t(node.dataset.tTitle);
}

/** ``msgid`` in the page's language, its ``{name}`` fields filled from ``values``. */
export function t(msgid, values) {
  const text = words.messages[msgid] || msgid;
  return values ? text.replace(/\{(\w+)\}/g, (field, name) => (name in values ? String(values[name]) : field)) : text;
}

/** The town's word for a code: term("state", "dispatched") is 已派遣. */
export const term = (group, code) => (words.terms[group] && words.terms[group][code]) || code;

/** A violation kind with its standard event code: 非机动车乱停放 (0506). */
export function kindName(kind, code) {
  const number = code || words.event_codes[kind];
  return number ? `${term("kind", kind)} (${number})` : term("kind", kind);
}

/** A time as people in the town read it: 12月4日 09:58 (or with the year and seconds). */
export function localTime(iso, full = false) {
  if (!iso) return "";
  const options = { timeZone: words.timezone, month: words.locale === "zh-CN" ? "long" : "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (full) Object.assign(options, { year: "numeric", second: "2-digit" });
  return new Intl.DateTimeFormat(words.locale, options).format(new Date(iso));
}

/** How long ago: 3分钟前 / 3 minutes ago. */
export function age(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  const [value, unit] = s < 90 ? [Math.round(s), "second"] : s < 5400 ? [Math.round(s / 60), "minute"]
    : s < 172800 ? [Math.round(s / 3600), "hour"] : [Math.round(s / 86400), "day"];
  return new Intl.RelativeTimeFormat(words.locale, { numeric: "always" }).format(-value, unit);
}
