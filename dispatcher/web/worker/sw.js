"use strict";
// Shows a pushed case as a notification; a tap opens the worker page on that case.
self.addEventListener("push", (event) => {
  const data = event.data ? event.data.json() : { title: "GridPatrol", body: "New case" };
  event.waitUntil(self.registration.showNotification(data.title, { body: data.body, data: { url: data.url }, tag: `case-${data.case_id}` }));
});
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(clients.openWindow(event.notification.data.url || "./"));
});
