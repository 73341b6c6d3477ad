"use strict";
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
