// Attention Slip Lab's service worker: keeps the app shell (HTML, JS, CSS, scenario files) in the
// Cache API so a second visit, or a meeting room without a network, opens at once. Models live
// in OPFS and tokenizers in transformers.js's own cache; neither passes through here. The build
// fills in the file list and version (vite.config.ts, offlineShell).

const VERSION = '__VERSION__';
const SHELL = __PRECACHE__;
const CACHE = `slip-lab-shell-${VERSION}`;
const scope = new URL(self.registration.scope);
const shellUrls = new Set(SHELL.map((path) => new URL(path, scope).href));

// A new build waits until every tab of the old one is closed (no skipWaiting): an open page may
// still load its own lazily imported chunks, which only the old cache holds.
self.addEventListener('install', (event) => {
  // One missing file must not keep the rest of the shell from being stored.
  event.waitUntil(caches.open(CACHE).then((cache) => Promise.allSettled([...shellUrls].map((url) => cache.add(url)))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith('slip-lab-shell-') && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || request.headers.has('range')) return;
  const url = new URL(request.url);
  if (url.origin !== scope.origin) return;
  if (request.mode === 'navigate') {
    // The page: the network first (a new build), the cached shell when offline.
    event.respondWith(
      fetch(request).catch(() => caches.match(new URL('index.html', scope).href).then((hit) => hit ?? Response.error())),
    );
    return;
  }
  const key = url.origin + url.pathname;
  if (!shellUrls.has(key)) return;
  const immutable = url.pathname.includes('/assets/');
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(key);
      // Hashed assets never change: the cache is the answer. Scenario files may: refresh behind.
      if (hit && immutable) return hit;
      const refresh = fetch(request)
        .then((response) => {
          if (response.ok) return cache.put(key, response.clone()).then(() => response);
          return response;
        })
        .catch(() => undefined);
      if (hit) {
        event.waitUntil(refresh);
        return hit;
      }
      return (await refresh) ?? Response.error();
    }),
  );
});
