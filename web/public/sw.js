// tina's service worker: the app shell offline, and Web Push (issue 20).
//
// Served at the scope's root (next to index.html), registered by src/pwa/register.ts in
// production builds over https or localhost. It keeps only the shell: index.html (network
// first, the cached copy when offline or after NETWORK_TIMEOUT_MS), the content-hashed bundles
// (cache first) and the static files beside them. config.json and everything from Convex go to
// the network alone: the data is always live, never from this cache.
//
// Bump VERSION when this file's caching changes: the new worker removes the old caches.
importScripts("sw-logic.js");

var logic = self.tinaSw;
var VERSION = "v1";
var SHELL_CACHE = "tina-shell-" + VERSION;
var ASSET_CACHE = "tina-assets-" + VERSION;
var NETWORK_TIMEOUT_MS = 3000;

function scoped(path) {
  return new URL(path, self.registration.scope).href;
}

/**
 * waitUntil, for an event the browser sent; an event a script dispatched (the tests do) cannot be
 * extended, and the work runs all the same.
 */
function keepAlive(event, work) {
  try {
    event.waitUntil(work);
  } catch (e) {
    // not trusted: nothing to extend
  }
  return work;
}

// ---- the shell ---------------------------------------------------------------------------

/** Keeps the bundles a fresh index.html names, and drops the ones no index.html names any more. */
async function keepAssetsOf(html) {
  var wanted = logic.assetsOf(html, self.registration.scope);
  var cache = await caches.open(ASSET_CACHE);
  var have = await cache.keys();
  await Promise.all(
    have.map(function (request) {
      return wanted.indexOf(request.url) < 0 ? cache.delete(request) : null;
    }),
  );
  var present = have.map(function (request) {
    return request.url;
  });
  var missing = wanted.filter(function (url) {
    return present.indexOf(url) < 0;
  });
  if (missing.length > 0) await cache.addAll(missing);
}

async function storeIndex(response) {
  var cache = await caches.open(SHELL_CACHE);
  var html = await response.clone().text();
  await cache.put(scoped("index.html"), response);
  await keepAssetsOf(html);
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    (async function () {
      var response = await fetch(scoped("index.html"), { cache: "no-cache" });
      if (!response.ok) throw new Error("index.html: HTTP " + response.status);
      await storeIndex(response);
      var shell = await caches.open(SHELL_CACHE);
      // A missing icon must not stop the worker from installing.
      await Promise.all(
        logic.STATIC_FILES.map(function (path) {
          return shell.add(new Request(scoped(path), { cache: "no-cache" })).catch(function () {});
        }),
      );
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    (async function () {
      var names = await caches.keys();
      await Promise.all(
        names.map(function (name) {
          var mine = name.indexOf("tina-") === 0;
          return mine && name !== SHELL_CACHE && name !== ASSET_CACHE ? caches.delete(name) : null;
        }),
      );
      await self.clients.claim();
    })(),
  );
});

/** index.html: the network first; the cached copy when the network fails or is slow. */
async function indexResponse(event) {
  var cache = await caches.open(SHELL_CACHE);
  var cached = await cache.match(scoped("index.html"));
  var fromNetwork = fetch(event.request).then(function (response) {
    if (response.ok && !response.redirected && response.type === "basic") {
      keepAlive(event, storeIndex(response.clone()).catch(function () {}));
    }
    return response;
  });
  if (cached === undefined) return fromNetwork;
  return new Promise(function (resolve) {
    var timer = setTimeout(function () {
      resolve(cached);
    }, NETWORK_TIMEOUT_MS);
    fromNetwork.then(
      function (response) {
        clearTimeout(timer);
        resolve(response.status >= 500 ? cached : response);
      },
      function () {
        clearTimeout(timer);
        resolve(cached);
      },
    );
  });
}

/** A content-hashed bundle never changes: the cache first, the network (then kept) on a miss. */
async function assetResponse(request) {
  var cache = await caches.open(ASSET_CACHE);
  var cached = await cache.match(request);
  if (cached !== undefined) return cached;
  var response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}

/** Icons, manifest, favicon: the cached copy at once, refreshed from the network behind it. */
async function staticResponse(event) {
  var cache = await caches.open(SHELL_CACHE);
  var cached = await cache.match(event.request);
  var fromNetwork = fetch(event.request).then(function (response) {
    if (response.ok && response.type === "basic") return cache.put(event.request, response.clone()).then(function () {
      return response;
    });
    return response;
  });
  if (cached === undefined) return fromNetwork;
  keepAlive(event, fromNetwork.catch(function () {}));
  return cached;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var kind = logic.requestKind(request.url, self.registration.scope, request.mode);
  if (kind === "index") event.respondWith(indexResponse(event));
  else if (kind === "asset") event.respondWith(assetResponse(request));
  else if (kind === "static") event.respondWith(staticResponse(event));
  // Anything else (config.json, other origins): the browser's own fetch, never cached here.
});

// ---- push ----------------------------------------------------------------------------------

// Chromium's getNotifications() deletes from its store each notification that was written before
// the read began and that the platform does not yet report as on screen
// (content/browser/notifications/platform_notification_context_impl.cc). A read that overlaps a
// show therefore drops the notification being shown: it stays on screen, but every later read
// misses it, so a later close cannot find it and it stays after its item is answered. Pushes come
// in bursts and their events run at the same time, so the worker's own reads and shows of
// notifications run one at a time, in the order their events came.
var oneAtATime = logic.oneAtATime();

function pushText(data) {
  if (!data) return null;
  try {
    return data.text();
  } catch (e) {
    return null;
  }
}

async function closeTagged(tag) {
  var shown = await self.registration.getNotifications();
  var windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  var scope = self.registration.scope;
  var inFront = windows.some(function (w) {
    return logic.inScope(w.url, scope) && w.focused && w.visibilityState === "visible";
  });
  var plan = logic.closePlan(
    tag,
    shown.map(function (n) {
      return { tag: n.tag, title: n.title };
    }),
    inFront,
    scope,
  );
  // Replaced in place (same tag) when closing would leave nothing showing; closed otherwise.
  if (plan !== null) return self.registration.showNotification(plan.title, plan.options);
  shown.forEach(function (notification) {
    if (notification.tag === tag) notification.close();
  });
}

async function handlePush(text) {
  var message = logic.parsePush(text);
  if (message.op === "close") return closeTagged(message.tag);
  var shown = logic.notificationFor(message, self.registration.scope);
  // The same tag replaces the notification in place (renotify: false: no second buzz).
  return self.registration.showNotification(shown.title, shown.options);
}

self.addEventListener("push", function (event) {
  var text = pushText(event.data);
  keepAlive(
    event,
    oneAtATime(function () {
      return handlePush(text);
    }),
  );
});

// ---- a tap on a notification -------------------------------------------------------------

async function openDeepLink(notification) {
  var scope = self.registration.scope;
  var data = notification.data || {};
  var url = logic.deepLink(data.url, scope);
  var windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  var target = logic.pickWindow(windows, scope);
  if (target === null) return self.clients.openWindow(url);
  try {
    target = (await target.focus()) || target;
  } catch (e) {
    // Focusing needs the tap's user activation; without it the window still follows the link.
  }
  // The page follows the link itself (src/pwa/register.ts), so a hash route changes in place,
  // keeping its live connection; a page that is not controlled by this worker gets it too.
  target.postMessage({ type: "tina:navigate", url: url });
  return target;
}

/**
 * A button that answers the item (Allow once, Deny, Approve plan): the decision goes to the
 * deployment with the notification's single-use token, and a notification says what became of
 * it (answered, or refused and why), never nothing.
 */
async function answerFromNotification(notification, action, request) {
  var result;
  try {
    var response = await fetch(request.url, request.init);
    var json = null;
    try {
      json = await response.json();
    } catch (e) {
      json = null;
    }
    result = { status: response.status, json: json };
  } catch (e) {
    result = { error: (e && e.message) || "network error" };
  }
  var shown = logic.answerOutcome(notification.title, notification.data, action, result, self.registration.scope);
  return oneAtATime(function () {
    return self.registration.showNotification(shown.title, shown.options);
  });
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var request = event.action ? logic.answerRequest(event.notification.data, event.action) : null;
  if (request !== null) keepAlive(event, answerFromNotification(event.notification, event.action, request));
  else keepAlive(event, openDeepLink(event.notification));
});
