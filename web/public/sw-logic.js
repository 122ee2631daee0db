// The service worker's decisions, with no I/O: what a push message asks for, where a tap on a
// notification leads, which requests the worker answers and how, and the queue its notification
// work waits in. sw.js loads this file with
// importScripts; the unit tests (web/src/pwa/swLogic.test.ts) evaluate the same file. Plain
// JavaScript that any browser runs as it is (it is copied to the build unchanged).
//
// The push payload is the one of issue 20's contract:
//   {"v":1,"op":"show","tag":"<key>","title":"…","body":"…","url":"#/attention?item=…","kind":"…","at":<ms>}
//   {"v":1,"op":"close","tag":"<key>"}
// A show may also carry buttons that answer the item from the notification (the person turned
// that on): "actions" for showNotification and "answer", a single-use token and the URL of the
// deployment's function API, which the worker posts `notify:answer {token, decision}` to:
//   "actions":[{"action":"allow","title":"Allow once"},{"action":"deny","title":"Deny"}],
//   "answer":{"token":"<43 base64url characters>","url":"https://<deployment>/api/mutation"}
(function (root) {
  "use strict";

  /** Where a notification leads when its link is missing or is not a hash route of the app. */
  var FALLBACK_URL = "#/attention";

  /** What a push that cannot be read shows: never nothing. */
  var GENERIC = {
    op: "show",
    tag: "tina-generic",
    title: "tina: something needs you",
    body: "Open tina to see what.",
    url: FALLBACK_URL,
    kind: "generic",
  };

  var MAX_TITLE = 200;
  var MAX_BODY = 1000;
  var MAX_TAG = 1000;
  var MAX_URL = 2000;

  /** The decisions a notification's button may send, and their default titles. */
  var ANSWER_TITLES = { allow: "Allow once", deny: "Deny", approve: "Approve plan" };
  var MAX_ACTIONS = 2;
  var MAX_ACTION_TITLE = 40;
  var TOKEN_RE = /^[A-Za-z0-9_-]{22,128}$/;
  var LOOPBACK = ["127.0.0.1", "[::1]", "localhost"];
  var ANSWERED = { allow: "Allowed once", deny: "Denied", approve: "Plan approved" };

  /** Static files beside index.html that the worker keeps for offline use (paths relative to the scope). */
  var STATIC_FILES = [
    "manifest.webmanifest",
    "favicon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/maskable-512.png",
    "icons/badge-96.png",
    "icons/apple-touch-icon-180.png",
  ];

  function clip(text, max) {
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  function nonEmptyString(value, max) {
    return typeof value === "string" && value.trim() !== "" && value.length <= max;
  }

  /** A hash route of the app (`#/…`, no whitespace or control characters), else the fallback. */
  function safeRoute(url) {
    if (typeof url === "string" && url.length <= MAX_URL && /^#\/[^\u0000-\u0020\u007f]*$/.test(url)) return url;
    return FALLBACK_URL;
  }

  /**
   * The message a push carries, from its text (null: a push with no payload). Anything that is not
   * a version-1 show or close becomes the generic notification.
   */
  function parsePush(text) {
    var message;
    try {
      message = typeof text === "string" ? JSON.parse(text) : null;
    } catch (e) {
      message = null;
    }
    if (message === null || typeof message !== "object" || Array.isArray(message) || message.v !== 1) return GENERIC;
    if (message.op === "close") {
      return nonEmptyString(message.tag, MAX_TAG) ? { op: "close", tag: message.tag } : GENERIC;
    }
    if (message.op !== "show" || !nonEmptyString(message.tag, MAX_TAG) || !nonEmptyString(message.title, 10 * MAX_TITLE)) return GENERIC;
    var shown = {
      op: "show",
      tag: message.tag,
      title: clip(message.title, MAX_TITLE),
      body: typeof message.body === "string" ? clip(message.body, MAX_BODY) : "",
      url: safeRoute(message.url),
      kind: typeof message.kind === "string" && message.kind.length <= 64 ? message.kind : "unknown",
    };
    if (typeof message.at === "number" && isFinite(message.at) && message.at > 0) shown.at = message.at;
    var answer = answerOf(message);
    if (answer !== null) {
      shown.actions = answer.actions;
      shown.answer = answer.answer;
    }
    return shown;
  }

  /** Where an answer may be posted: the function API of a deployment over https (http only on loopback). */
  function answerUrlOk(url) {
    if (typeof url !== "string" || url.length > MAX_URL) return false;
    var u;
    try {
      u = new URL(url);
    } catch (e) {
      return false;
    }
    if (u.username !== "" || u.password !== "" || u.search !== "" || u.hash !== "") return false;
    if (!/\/api\/mutation$/.test(u.pathname)) return false;
    return u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.indexOf(u.hostname) >= 0);
  }

  /** A show's buttons and answer capability, or null when it has none or they are not well formed (then: no buttons). */
  function answerOf(message) {
    var list = message.actions;
    var answer = message.answer;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_ACTIONS) return null;
    if (answer === null || typeof answer !== "object" || typeof answer.token !== "string" || !TOKEN_RE.test(answer.token) || !answerUrlOk(answer.url)) return null;
    var actions = [];
    for (var i = 0; i < list.length; i++) {
      var item = list[i];
      if (item === null || typeof item !== "object" || !Object.prototype.hasOwnProperty.call(ANSWER_TITLES, item.action)) return null;
      for (var j = 0; j < actions.length; j++) if (actions[j].action === item.action) return null;
      var title = nonEmptyString(item.title, MAX_ACTION_TITLE) ? item.title : ANSWER_TITLES[item.action];
      actions.push({ action: item.action, title: title });
    }
    return { actions: actions, answer: { token: answer.token, url: answer.url } };
  }

  /** showNotification's arguments for a show message; icon and badge resolve against the scope. */
  function notificationFor(message, scope) {
    var options = {
      body: message.body,
      tag: message.tag,
      data: { url: message.url, tag: message.tag, kind: message.kind },
      renotify: false,
      icon: new URL("icons/icon-192.png", scope).href,
      badge: new URL("icons/badge-96.png", scope).href,
    };
    if (message.at !== undefined) options.timestamp = message.at;
    if (message.actions !== undefined && message.answer !== undefined) {
      options.actions = message.actions;
      options.data.answer = {
        token: message.answer.token,
        url: message.answer.url,
        decisions: message.actions.map(function (a) {
          return a.action;
        }),
      };
    }
    return { title: message.title, options: options };
  }

  /**
   * The request a button press sends (fetch's url and init), or null when the notification
   * cannot answer with that button (then the tap opens the deep link, as a tap without one).
   */
  function answerRequest(data, action) {
    var answer = data && data.answer;
    if (!answer || typeof action !== "string" || !Array.isArray(answer.decisions) || answer.decisions.indexOf(action) < 0) return null;
    if (!TOKEN_RE.test(answer.token) || !answerUrlOk(answer.url)) return null;
    return {
      url: answer.url,
      init: {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ path: "notify:answer", args: { token: answer.token, decision: action }, format: "json" }),
        credentials: "omit",
        cache: "no-store",
      },
    };
  }

  /**
   * The notification that says what became of a button press, replacing the pressed one (same
   * tag; a tap on it opens the item). `result`: {status, json} from the deployment, or {error}
   * when the request failed. Never silent about a refusal.
   */
  function answerOutcome(title, data, action, result, scope) {
    var tag = (data && data.tag) || "tina-answer";
    var url = safeRoute(data && data.url);
    var json = result && result.json;
    var ok = result && !result.error && json && json.status === "success";
    var base = nonEmptyString(title, 10 * MAX_TITLE) ? title.replace(/^(Answered|Not answered): /, "") : "tina";
    var body;
    if (ok) {
      var detail = json.value && typeof json.value.detail === "string" ? json.value.detail : "";
      body = (ANSWERED[action] || "Answered") + (detail && detail.toLowerCase() !== (ANSWERED[action] || "").toLowerCase() ? " (" + detail + ")" : "") + ".";
    } else {
      var reason =
        result && result.error
          ? "the deployment could not be reached (" + result.error + ")"
          : json && json.errorData && typeof json.errorData.message === "string"
            ? json.errorData.message
            : json && typeof json.errorMessage === "string"
              ? json.errorMessage
              : "the deployment answered HTTP " + (result && result.status);
      body = "Refused: " + clip(reason, MAX_BODY - 40) + ". Open tina to answer.";
    }
    return {
      title: clip((ok ? "Answered: " : "Not answered: ") + base, MAX_TITLE),
      options: {
        body: body,
        tag: tag,
        data: { url: url, tag: tag, kind: ok ? "answered" : "answer_refused" },
        renotify: !ok,
        silent: ok,
        icon: new URL("icons/icon-192.png", scope).href,
        badge: new URL("icons/badge-96.png", scope).href,
      },
    };
  }

  var RESOLVED_PREFIX = "Resolved: ";

  /**
   * What a close does besides closing its tag's notifications. A browser wants every push to
   * leave a notification showing unless the app is in front: Chrome shows its own "this site has
   * been updated in the background" once its allowance of silent pushes is spent, Safari ends
   * the subscription after a few. So when the close would leave none (no other notification of
   * the app, no window of it in front), it is replaced by a quiet "resolved" one with the same
   * tag; otherwise null (close only). `shown`: the app's notifications ({tag, title}).
   */
  function closePlan(tag, shown, appInFront, scope) {
    var was = null;
    for (var i = 0; i < shown.length; i++) {
      if (shown[i].tag !== tag) return null;
      if (was === null && nonEmptyString(shown[i].title, 10 * MAX_TITLE)) was = shown[i].title;
    }
    if (appInFront) return null;
    var title = was === null ? "tina: resolved" : was.indexOf(RESOLVED_PREFIX) === 0 ? was : RESOLVED_PREFIX + was;
    return {
      title: clip(title, MAX_TITLE),
      options: {
        body: "Nothing needs you here any more.",
        tag: tag,
        data: { url: FALLBACK_URL, tag: tag, kind: "resolved" },
        renotify: false,
        silent: true,
        icon: new URL("icons/icon-192.png", scope).href,
        badge: new URL("icons/badge-96.png", scope).href,
      },
    };
  }

  /** The absolute address a notification's link opens: its hash route on the app's scope. */
  function deepLink(url, scope) {
    var base = new URL(scope);
    base.hash = "";
    return new URL(safeRoute(url), base.href).href;
  }

  /** Whether a window's address is a page of the app (under the scope, any hash). */
  function inScope(url, scope) {
    try {
      var u = new URL(url);
      var s = new URL(scope);
      return u.origin === s.origin && u.pathname.indexOf(s.pathname) === 0;
    } catch (e) {
      return false;
    }
  }

  /**
   * The window a tap brings forward: the app's focused window, else a visible one, else the first;
   * null when none is open. `windows` are WindowClients (or anything with url, focused, visibilityState).
   */
  function pickWindow(windows, scope) {
    var mine = [];
    for (var i = 0; i < windows.length; i++) if (inScope(windows[i].url, scope)) mine.push(windows[i]);
    for (var j = 0; j < mine.length; j++) if (mine[j].focused) return mine[j];
    for (var k = 0; k < mine.length; k++) if (mine[k].visibilityState === "visible") return mine[k];
    return mine.length > 0 ? mine[0] : null;
  }

  /**
   * How the worker answers a GET request: "index" (network first, the cached copy when offline),
   * "asset" (content-hashed: the cache first), "static" (the cached copy, refreshed behind it), or
   * null (the network alone: config.json, source maps, other origins, anything else).
   */
  function requestKind(url, scope, mode) {
    var u, s;
    try {
      u = new URL(url);
      s = new URL(scope);
    } catch (e) {
      return null;
    }
    if (u.origin !== s.origin || u.pathname.indexOf(s.pathname) !== 0) return null;
    var path = u.pathname.slice(s.pathname.length);
    if (mode === "navigate") return path === "" || path === "index.html" ? "index" : null;
    if (path === "config.json") return null;
    if (/^assets\/[^/]+$/.test(path) && !/\.map$/.test(path)) return "asset";
    return STATIC_FILES.indexOf(path) >= 0 ? "static" : null;
  }

  /** The content-hashed files an index.html names (absolute addresses, resolved against `base`). */
  function assetsOf(html, base) {
    var found = [];
    var pattern = /(?:src|href)="((?:\.\/|\/)?assets\/[^"?#]+)"/g;
    var match;
    while ((match = pattern.exec(html)) !== null) {
      var href = new URL(match[1], base).href;
      if (found.indexOf(href) < 0 && !/\.map$/.test(href)) found.push(href);
    }
    return found;
  }

  /**
   * A queue that runs async work one piece at a time, in the order given: each piece starts when
   * the one before it has settled; a failure goes to its own caller and never stops the next.
   */
  function oneAtATime() {
    var last = Promise.resolve();
    return function (work) {
      var result = last.then(function () {
        return work();
      });
      last = result.then(
        function () {},
        function () {},
      );
      return result;
    };
  }

  root.tinaSw = {
    FALLBACK_URL: FALLBACK_URL,
    GENERIC: GENERIC,
    STATIC_FILES: STATIC_FILES,
    parsePush: parsePush,
    notificationFor: notificationFor,
    answerRequest: answerRequest,
    answerOutcome: answerOutcome,
    closePlan: closePlan,
    deepLink: deepLink,
    safeRoute: safeRoute,
    inScope: inScope,
    pickWindow: pickWindow,
    requestKind: requestKind,
    assetsOf: assetsOf,
    oneAtATime: oneAtATime,
  };
})(self);
