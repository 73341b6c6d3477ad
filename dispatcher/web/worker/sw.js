"use strict";
// The phone page opens with no signal: its files and the last answers of the reads it makes
// (its words, the person, their cases) are kept here; online, the network answers first and
// the copy is refreshed. Nothing else is cached: uploads and actions go to the network (the
// page queues them in IndexedDB when there is none).
const SHELL = "gridpatrol-shell-v1";  // app.js drops its cached reads by this name at logout
const FILES = ["./", "index.html", "app.js", "common.js", "queue.js", "cards.js", "app.css", "manifest.webmanifest",
  "icons/icon-192.png", "../shared/words.js"];
const KEPT_READS = [/\/api\/v1\/i18n/, /\/api\/v1\/auth\/me$/, /\/api\/v1\/people\/[^/]+\/inbox$/,
  /\/api\/v1\/cases(\?|$)/, /\/api\/v1\/cases\/\d+\/consultation$/];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  const shell = url.pathname.startsWith("/worker/") || url.pathname.startsWith("/shared/");
  if (!shell && !KEPT_READS.some((pattern) => pattern.test(url.pathname + url.search))) return;
  event.respondWith(fetch(request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(SHELL).then((cache) => cache.put(request, copy));
    }
    return response;
  }).catch(() => caches.match(request, { ignoreVary: true }).then((kept) => kept || Response.error())));
});

// Shows a pushed case as a notification and tells the dispatcher it arrived (the signed
// receipt URL in the message): only then does the case count as delivered to this phone.
// A tap opens the worker page on that case.
self.addEventListener("push", (event) => {
  // the server writes the notice in the town's language; this is only for an empty push
  const data = event.data ? event.data.json() : { title: "网格巡查", body: "有新案件" };
  const shown = self.registration.showNotification(data.title, {
    body: data.body, data: { url: data.url }, tag: `case-${data.case_id}`, lang: "zh-CN",
    icon: "icons/icon-192.png", badge: "icons/icon-192.png",
  });
  const receipt = data.receipt_url ? fetch(data.receipt_url, { method: "POST" }).catch(() => {}) : Promise.resolve();
  event.waitUntil(Promise.all([shown, receipt]));
});
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(clients.openWindow(event.notification.data.url || "./"));
});
