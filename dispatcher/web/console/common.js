// What every tab of the dispatch console uses: the DOM helpers, the session's token and the
// API. Plain DOM, no build step; every text from the server goes in through textContent.
export const $ = (id) => document.getElementById(id);
export const token = () => localStorage.getItem("console-token") || "";
export const say = (text) => { $("status").textContent = text; };
export const session = { loggedOut: () => {} }; // set by console.js: what a 401 does

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), authorization: `Bearer ${token()}` };
  const r = await fetch(path, { ...options, headers });
  if (r.status === 401) { session.loggedOut(); throw new Error("Please log in again."); }
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

export function age(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
