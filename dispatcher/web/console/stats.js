// Statistics: the month's figures and the assessment table by worker, micro-grid or
// community, a chart of closing rates, and the CSV for the monthly review.
import { $, api, el, say, t, term, token, words } from "./common.js";

const PERCENT = new Set(["accepted_on_time_rate", "closing_rate", "handled_on_time_rate", "rework_rate", "online_rate"]);

function cell(key, value) {
  if (value === null || value === undefined) return "—";
  return PERCENT.has(key) ? `${Math.round(value * 100)} %` : String(value);
}

function chart(rows) {
  const svg = $("s-chart");
  const ns = "http://www.w3.org/2000/svg";
  const line = 22, width = 640, labelW = 140, barW = width - labelW - 60;
  svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(1, rows.length) * line + 24}`);
  svg.replaceChildren();
  const title = document.createElementNS(ns, "text");
  title.setAttribute("x", "8"); title.setAttribute("y", "15");
  title.textContent = term("assessment", "closing_rate");
  svg.append(title);
  rows.forEach((r, i) => {
    const y = 24 + i * line;
    const make = (tag, attrs, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      svg.append(node);
    };
    make("text", { x: 8, y: y + 14 }, r.group);
    make("rect", { class: "track", x: labelW, y: y + 3, width: barW, height: 14, rx: 3 });
    make("rect", { class: "bar", x: labelW, y: y + 3, width: barW * (r.closing_rate || 0), height: 14, rx: 3 });
    make("text", { x: labelW + barW + 6, y: y + 14 }, cell("closing_rate", r.closing_rate));
  });
}

export async function loadStats() {
  const month = $("s-month").value, by = $("s-by").value;
  const [summary, rows] = await Promise.all([
    api("/api/v1/stats"), api(`/api/v1/assessment?month=${month}&by=${by}`)]);
  $("s-summary").replaceChildren(...[[t("cases"), summary.total], [t("open"), summary.open], [t("overdue"), summary.overdue],
    [t("not yet delivered"), summary.undelivered]].map(([k, v]) => el("div", {}, el("b", { text: String(v) }), k)));
  const keys = rows.length ? Object.keys(rows[0]).filter((k) => k !== "month") : ["group"];
  $("s-table").tHead.replaceChildren(el("tr", {}, ...keys.map((k) => el("th", { "data-key": k, text: term("assessment", k) }))));
  $("s-table").tBodies[0].replaceChildren(...rows.map((r) => el("tr", {}, ...keys.map((k) => el("td", { text: cell(k, r[k]) })))));
  chart(rows);
  const named = $("s-month").selectedOptions[0]?.textContent || month;
  say(rows.length ? t("{count} rows for {month}", { count: rows.length, month: named })
    : t("no cases opened in {month}", { month: named }));
}

export async function downloadCsv() {
  const month = $("s-month").value, by = $("s-by").value;
  const r = await fetch(`/api/v1/assessment.csv?month=${month}&by=${by}`, { headers: { authorization: `Bearer ${token()}`, "accept-language": words.locale } });
  if (!r.ok) throw new Error(`${r.status}`);
  const link = el("a", { href: URL.createObjectURL(await r.blob()), download: `assessment-${by}-${month}.csv` });
  link.click();
  URL.revokeObjectURL(link.href);
}

/** The last two years' months, this one first, named as people in the town name them
 * (2026年12月): the browser's own month field speaks the browser's language, not the page's. */
export function fillMonths() {
  const name = new Intl.DateTimeFormat(words.locale, { year: "numeric", month: "long", timeZone: words.timezone });
  const here = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", timeZone: words.timezone });
  const [year, month] = here.format(new Date()).split("-").map(Number);
  const options = [];
  for (let back = 0; back < 24; back++) {
    const y = year - Math.floor((12 - month + back) / 12), m = ((month - 1 - back) % 12 + 12) % 12 + 1;
    const value = `${y}-${String(m).padStart(2, "0")}`;
    options.push(el("option", { value, text: name.format(new Date(Date.UTC(y, m - 1, 15))) }));
  }
  $("s-month").replaceChildren(...options);
}
