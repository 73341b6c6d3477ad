// What every tab of the dispatch console uses: the DOM helpers, the session's token, the API
// and the page's words (shared with the phone page). Plain DOM, no build step; every text from
// the server goes in through textContent.
import { t, words } from "../shared/words.js";

export const $ = (id) => document.getElementById(id);
export const token = () => localStorage.getItem("console-token") || "";
export const say = (text) => { $("status").textContent = text; };
export const session = { loggedOut: () => {} }; // set by console.js: what a 401 does

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), authorization: `Bearer ${token()}`, "accept-language": words.locale };
  const r = await fetch(path, { ...options, headers });
  if (r.status === 401) { session.loggedOut(); throw new Error(t("Please log in again.")); }
  if (!r.ok) throw new Error(`${r.status}: ${(await r.json().catch(() => ({}))).detail || r.statusText}`);
  return r.status === 204 ? null : r.json();
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export { age, chosenLocale, kindName, loadWords, localTime, t, term, words } from "../shared/words.js";
