// The resident's rating page: no account, one answer per link. The link's secret comes in the
// URL's fragment (never sent to the server as a URL), is kept for this tab only, and goes to
// the API in the X-Rating-Token header.
import { age, kindName, loadWords, localTime, t, words } from "../shared/words.js";

const $ = (id) => document.getElementById(id);
let chosen = null;

function secret() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("t");
  if (fromLink) {
    sessionStorage.setItem("rating-token", fromLink);
    history.replaceState(null, "", location.pathname); // out of the address bar and the history
  }
  return sessionStorage.getItem("rating-token") || "";
}

async function call(method, body) {
  const r = await fetch("/api/v1/rating", {
    method, headers: { "x-rating-token": secret(), "accept-language": words.locale,
      ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(typeof data.detail === "string" ? data.detail : t("This link cannot be used."));
  return data;
}

function picture(id, url) {
  const image = $(id);
  if (url) image.src = url;
  else image.replaceWith(Object.assign(document.createElement("div"), { className: "muted", textContent: t("none yet") }));
}

async function show() {
  const c = await call("GET");
  $("kind").textContent = kindName(c.kind, c.event_code);
  $("when").textContent = t("Found {time} ({age}) in micro-grid {grid}", { time: localTime(c.opened_at),
    age: age(c.opened_at), grid: c.micro_grid });
  picture("before", c.before_url);
  picture("after", c.after_url);
  $("case").hidden = false;
}

function choose(button) {
  chosen = button.dataset.answer;
  for (const b of document.querySelectorAll("[data-answer]")) b.classList.toggle("chosen", b === button);
  $("send").disabled = false;
}

async function send(event) {
  event.preventDefault();
  if (!chosen) return;
  $("send").disabled = true;
  await call("POST", { answer: chosen, comment: $("comment").value || null });
  $("case").hidden = true;
  $("intro").hidden = true;
  $("status").textContent = t("Thank you: your answer has been recorded.");
  sessionStorage.removeItem("rating-token");
}

loadWords().then(() => {
  for (const b of document.querySelectorAll("[data-answer]")) b.onclick = () => choose(b);
  $("answer").onsubmit = (event) => send(event).catch((e) => { $("status").textContent = e.message; $("send").disabled = false; });
  if (!secret()) { $("status").textContent = t("This link cannot be used."); return; }
  show().catch((e) => { $("status").textContent = e.message; });
});
