// The scanner's service worker (served at /sw.js, registered by scanner.js): keeps the door
// page, its data and its scripts so the scanner opens without a network. Everything else —
// other pages and every API call — goes to the network untouched.
"use strict";

// Bump when the caching rules change; activation drops the caches of older versions.
const VERSION = "v1";
const PREFIX = "backline-scanner-";
const CACHE = `${PREFIX}${VERSION}`;
// Past this, a slow network loses to the copy we have (a queue at the door is waiting).
const NETWORK_WAIT_MS = 5000;

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

const isData = (path) => /^\/scan\/[^/]+\/data$/.test(path);
const isPage = (path) => /^\/scan\/[^/]+\/?$/.test(path);

// Only complete answers of our own origin are kept: not errors, not a redirect to sign-in.
const keepable = (res) => res && res.ok && res.type === "basic" && !res.redirected;

// Asset names carry a hash of their content: a new version is a new name, so the older
// names of the same file can go.
async function putAsset(cache, url, res) {
  const name = url.pathname.match(/^\/assets\/(.+)\.[0-9a-f]+\.([a-z0-9]+)$/);
  if (name) {
    for (const req of await cache.keys()) {
      const old = new URL(req.url).pathname.match(/^\/assets\/(.+)\.[0-9a-f]+\.([a-z0-9]+)$/);
      if (old && old[1] === name[1] && old[2] === name[2] && req.url !== url.href) await cache.delete(req);
    }
  }
  await cache.put(url.href, res);
}

async function cacheFirst(event, url) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(url.href);
  if (hit) return hit;
  const res = await fetch(event.request);
  if (keepable(res)) event.waitUntil(putAsset(cache, url, res.clone()));
  return res;
}

// The page and its data change (keys rotate, the event is renamed): the network's answer is
// preferred and kept; the kept one stands in when the network fails or dawdles.
function networkFirst(event, url) {
  const key = url.origin + url.pathname;
  const cache = caches.open(CACHE);
  let saved = null;
  const network = fetch(event.request).then((res) => {
    // Copied at once: the page starts reading the body as soon as it has the response.
    if (keepable(res)) {
      const copy = res.clone();
      saved = cache.then((c) => c.put(key, copy));
    }
    return res;
  });
  event.waitUntil(network.then(() => saved).catch(() => {}));
  return cache.then(async (c) => {
    const kept = await c.match(key);
    if (!kept) return network;
    let copy = null;
    const standIn = () => (copy ??= markedCopy(kept));
    const late = new Promise((resolve) => setTimeout(() => resolve(standIn()), NETWORK_WAIT_MS));
    return Promise.race([network, late]).catch(() => standIn());
  });
}

// The kept copy, saying that it is one (`X-Backline-Offline-Copy: 1`): the scanner must not
// take an answer from here for a sign that the server can be reached.
function markedCopy(kept) {
  const headers = new Headers(kept.headers);
  headers.set("x-backline-offline-copy", "1");
  return new Response(kept.body, { status: kept.status, statusText: kept.statusText, headers });
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/assets/")) event.respondWith(cacheFirst(event, url));
  else if (isData(url.pathname)) event.respondWith(networkFirst(event, url));
  else if (req.mode === "navigate" && url.pathname.startsWith("/scan/")) event.respondWith(networkFirst(event, url));
});

// scanner.js names what its page was built from (fetched before this worker was in charge),
// so the first visit already leaves everything needed to open it offline.
self.addEventListener("message", (event) => {
  const msg = event.data;
  if (!msg || msg.type !== "warm" || !Array.isArray(msg.urls)) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    for (const href of msg.urls.slice(0, 20)) {
      let url;
      try { url = new URL(href, self.location.origin); } catch { continue; }
      const path = url.pathname;
      const asset = path.startsWith("/assets/");
      if (url.origin !== self.location.origin || !(asset || isData(path) || isPage(path))) continue;
      const key = url.origin + path;
      if (asset && (await cache.match(key))) continue;
      try {
        const res = await fetch(key, { credentials: "same-origin" });
        if (!keepable(res)) continue;
        if (asset) await putAsset(cache, url, res);
        else await cache.put(key, res);
      } catch {
        // offline again already: the next visit tries again
      }
    }
  })());
});
