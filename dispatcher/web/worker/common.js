// What the phone page's parts share: the DOM, who is logged in, the API, buttons and photos.
import { t, words } from "../shared/words.js";

export const session = { loggedOut: () => {} }; // set by app.js: what a 401 does

export const $ = (id) => document.getElementById(id);

export function token() { return localStorage.getItem("token") || ""; }
export function me() { return JSON.parse(localStorage.getItem("me") || "null"); }
export function say(text) { $("status").textContent = text; }

export class HttpError extends Error {
  constructor(status, text) { super(`${status} ${text}`); this.status = status; }
}

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), "accept-language": words.locale };
  if (token()) headers.authorization = `Bearer ${token()}`;
  const r = await fetch(path, { ...options, headers }); // a TypeError when there is no network
  if (r.status === 401) { session.loggedOut(); throw new HttpError(401, t("Please log in again.")); }
  if (!r.ok) throw new HttpError(r.status, (await r.json().catch(() => ({}))).detail || r.statusText);
  return r.status === 204 ? null : r.json();
}

export function button(label, onClick, cls = "") {
  const b = document.createElement("button");
  b.textContent = label;
  if (cls) b.className = cls;
  b.onclick = () => onClick().catch((e) => say(e.message));
  return b;
}


export async function photo(file) {
  // as a JPEG of at most 1280 px: small enough to queue on the phone, and a format the
  // dispatcher keeps (phones may take HEIC)
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.8);
}

