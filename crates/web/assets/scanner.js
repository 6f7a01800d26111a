// The door scanner (templates/scanner.html). When the server can be reached it decides every
// scan; when it cannot, a QR code's Ed25519 signature is checked here against the
// organization's public keys and the scan waits in IndexedDB until it can be uploaded
// (uploads are idempotent by scan id, so repeating one is harmless). Loaded with `defer`,
// after jsQR, the decoder for browsers without BarcodeDetector.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const EVENT_ID = meta("scanner-event").toLowerCase();
  const CSRF = meta("csrf-token");
  const TEXT = (byId("scanner-messages") || {}).dataset || {};
  const LANG = document.documentElement.lang || undefined;
  const ui = {
    status: byId("scanner-status"), pending: byId("scanner-pending"), sync: byId("scanner-sync"),
    lastSync: byId("scanner-last-sync"), notice: byId("scanner-notice"),
    result: byId("scanner-result"), icon: byId("scanner-result-icon"),
    verdict: byId("scanner-result-verdict"), detail: byId("scanner-result-detail"),
    form: byId("scanner-manual"), code: byId("manual-code"),
    camera: byId("scanner-camera-toggle"), cameraNote: byId("scanner-camera-note"),
    video: byId("scanner-video"), canvas: byId("scanner-canvas"),
    recent: byId("scanner-recent"), recentEmpty: byId("scanner-recent-empty"),
    gate: byId("scanner-gate"), sound: byId("scanner-sound"),
  };
  if (!EVENT_ID || Object.values(ui).some((el) => !el)) return; // not the scanner page

  const BATCH_MAX = 500; // the server's limit per upload
  const SCAN_TIMEOUT_MS = 4000; // a queue moves on: past this, a scan is treated as offline
  const SYNC_EVERY_MS = 20000;
  const FRAME_MS = 125; // about 8 decodes a second is plenty and spares the battery
  const REPEAT_MS = 3000; // a code held in front of the lens is one scan, not eight a second
  const KEY_REFRESH_MS = 60000;
  const RECENT_MAX = 10;
  const PLAIN_CODE = /^[ -]*[A-Za-z0-9][A-Za-z0-9 -]*$/;

  // Verdict → [message, tone, icon]. The icon and the words say it too, not only the colour.
  const VERDICTS = {
    valid: ["valid", "ok", "✓"], offline_valid: ["offlineValid", "ok", "✓"], queued: ["queued", "warn", "…"],
    already_checked_in: ["already", "warn", "!"], not_yet_valid: ["notYetValid", "warn", "!"],
    closed: ["closed", "warn", "!"], wrong_ticket_type: ["wrongTicketType", "warn", "!"],
    wrong_event: ["wrongEvent", "bad", "✗"], cancelled: ["cancelled", "bad", "✗"],
    unknown: ["unknown", "bad", "✗"], invalid: ["invalid", "bad", "✗"],
  };

  const fill = (template, vars) =>
    String(template || "").replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));

  function note(el, text) {
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }

  function clock(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const today = d.toDateString() === new Date().toDateString();
    return d.toLocaleString(LANG, today ? { hour: "2-digit", minute: "2-digit" } : { dateStyle: "short", timeStyle: "short" });
  }

  // ---- storage ------------------------------------------------------------------------------
  // IndexedDB keeps the key set, the upload queue and the tickets admitted here across reloads
  // and restarts. Where it is unavailable (some private modes) the page still works from memory.

  const memory = { data: new Map(), queue: new Map(), admitted: new Map() };
  const db = new Promise((resolve) => {
    let req;
    try { req = indexedDB.open("backline-scanner", 1); } catch { resolve(null); return; }
    req.onupgradeneeded = () => {
      const d = req.result;
      d.createObjectStore("data"); // event id → what /scan/{id}/data answered
      d.createObjectStore("queue", { keyPath: "scan_id" }); // scans waiting for upload
      d.createObjectStore("admitted"); // "<event>:t:<ticket id>" or "<event>:c:<code>" → ISO time
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => resolve(null);
    req.onblocked = () => resolve(null);
  });

  function memoryStore(name) {
    const m = memory[name];
    return {
      get: (k) => ({ result: m.get(k) }),
      getAll: () => ({ result: [...m.values()] }),
      count: () => ({ result: m.size }),
      put: (v, k) => { m.set(k === undefined ? v.scan_id : k, v); return {}; },
      delete: (k) => { m.delete(k); return {}; },
    };
  }

  // Runs `fn` on one object store in a transaction; resolves to the result of the request it
  // returns, once the transaction has committed.
  async function idb(name, mode, fn) {
    const d = await db;
    if (!d) { const r = fn(memoryStore(name)); return r ? r.result : undefined; }
    return new Promise((resolve, reject) => {
      const tx = d.transaction(name, mode);
      const r = fn(tx.objectStore(name));
      tx.oncomplete = () => resolve(r && "result" in r ? r.result : undefined);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  }

  // Settings are a convenience: a browser that refuses localStorage just forgets them.
  const localSetting = (key, fallback) => { try { return localStorage.getItem(key) ?? fallback; } catch { return fallback; } };
  const saveSetting = (key, value) => { try { localStorage.setItem(key, value); } catch { /* forgotten */ } };
  // randomUUID needs a secure context; getRandomValues does not.
  const randomId = () => (crypto.randomUUID ? crypto.randomUUID() : hex(crypto.getRandomValues(new Uint8Array(16))));

  // Scan ids are unique per organization on the server; the device prefix keeps two phones
  // apart even if their random ids ever met.
  const DEVICE = (() => {
    let id = localSetting("backline-scanner-device", "");
    if (!/^[0-9a-f]{8}$/.test(id)) { id = randomId().slice(0, 8); saveSetting("backline-scanner-device", id); }
    return id;
  })();

  // ---- the QR format (docs/ticketing.md, "Tickets: signed QR codes") -------------------------
  function hex(b) {
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  function uuid(b) {
    const h = hex(b);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  const toBase64url = (bytes) =>
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  function fromBase64url(s) {
    if (!/^[A-Za-z0-9_-]+$/.test(s)) return null;
    let bin;
    try { bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4)); } catch { return null; }
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    // The server refuses encodings with stray low bits; refusing them too keeps both answers alike.
    return toBase64url(bytes) === s ? bytes : null;
  }

  function parseQr(text) {
    const parts = text.split(".");
    if (parts.length !== 3 || parts[0] !== "BL1") return null;
    const payload = fromBase64url(parts[1]);
    const sig = fromBase64url(parts[2]);
    if (!payload || !sig || sig.length !== 64 || payload.length < 60 || payload[0] !== 0x01) return null;
    const flags = payload[57];
    if (flags & 0xfe) return null;
    let at = 58;
    let validFrom = null;
    if (flags & 0x01) {
      if (payload.length < 68) return null;
      validFrom = Number(new DataView(payload.buffer).getBigInt64(58));
      at = 66;
    }
    const n = payload[at];
    if (n < 1 || n > 64 || payload.length !== at + 1 + n) return null;
    let code;
    try { code = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(at + 1)); } catch { return null; }
    return {
      payload, sig, validFrom, code,
      kid: hex(payload.subarray(1, 9)),
      ticketId: uuid(payload.subarray(9, 25)),
      eventId: uuid(payload.subarray(25, 41)),
    };
  }

  // ---- keys ---------------------------------------------------------------------------------
  let keys = new Map(); // kid → JWK
  const imported = new Map(); // kid → Promise<CryptoKey | null>
  let keysFetchedAt = 0;
  let online = navigator.onLine;

  function useKeys(data) {
    if (!data || !data.keys || !Array.isArray(data.keys.keys)) return false;
    keys = new Map(data.keys.keys
      .filter((k) => k && k.kty === "OKP" && k.crv === "Ed25519" && typeof k.x === "string")
      .map((k) => [String(k.kid).toLowerCase(), k]));
    return true;
  }

  // The copy kept last time serves at once (a door may open offline); the network's, when it
  // answers, replaces it.
  async function loadKeys() {
    keysFetchedAt = Date.now();
    if (!keys.size) useKeys(await idb("data", "readonly", (s) => s.get(EVENT_ID)).catch(() => null));
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 2 * SCAN_TIMEOUT_MS);
    let data = null;
    try {
      const res = await fetch(`/scan/${EVENT_ID}/data`, { credentials: "same-origin", signal: abort.signal, headers: { accept: "application/json" } });
      // The service worker's kept copy (sw.js) stands in when the server cannot be reached:
      // its keys are good, but the door is still offline.
      setOnline(res.headers.get("x-backline-offline-copy") !== "1");
      // Signed out, the answer is a sign-in page: no key set, keep the old one.
      if (res.ok && !res.redirected) data = await res.json().catch(() => null);
    } catch {
      setOnline(false);
    } finally {
      clearTimeout(timer);
    }
    if (useKeys(data)) await idb("data", "readwrite", (s) => s.put(data, EVENT_ID)).catch(() => {});
    note(ui.notice, keys.size ? "" : TEXT.noKeys);
    document.body.dataset.scannerKeys = String(keys.size);
  }

  // null: no Ed25519 in this browser's WebCrypto, or no WebCrypto at all (plain http).
  function importKey(jwk) {
    if (!imported.has(jwk.kid)) {
      const key = Promise.resolve()
        .then(() => crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, { name: "Ed25519" }, false, ["verify"]))
        .catch(() => null);
      imported.set(jwk.kid, key);
    }
    return imported.get(jwk.kid);
  }

  // "ok"; "bad": malformed, or not signed by any of the organization's keys; "unknown": this
  // browser cannot tell (no keys yet, or no Ed25519) — a real ticket must not look forged then.
  async function verify(qr) {
    if (!qr) return "bad";
    if (!keys.size) return "unknown";
    let jwk = keys.get(qr.kid);
    // The organization may have rotated since the keys were cached; ask again, but not for
    // every frame of a forged code held in front of the camera.
    if (!jwk && navigator.onLine && Date.now() - keysFetchedAt > KEY_REFRESH_MS) {
      await loadKeys();
      jwk = keys.get(qr.kid);
    }
    if (!jwk) return "bad";
    const key = await importKey(jwk);
    if (!key) return "unknown";
    try {
      return (await crypto.subtle.verify({ name: "Ed25519" }, key, qr.sig, qr.payload)) ? "ok" : "bad";
    } catch {
      return "unknown";
    }
  }

  // ---- tickets admitted on this device ------------------------------------------------------
  // The server ignores case, spaces and dashes in typed codes and reads O as 0, I and L as 1.
  const normCode = (c) => c.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  const admittedKeys = (ticketId, code) =>
    [ticketId && `${EVENT_ID}:t:${ticketId}`, code && `${EVENT_ID}:c:${normCode(code)}`].filter(Boolean);

  async function admit(ticketId, code, at) {
    await idb("admitted", "readwrite", (s) => { for (const k of admittedKeys(ticketId, code)) s.put(at, k); });
  }
  async function admittedAt(ticketId, code) {
    for (const k of admittedKeys(ticketId, code)) {
      const at = await idb("admitted", "readonly", (s) => s.get(k)).catch(() => null);
      if (at) return at;
    }
    return null;
  }

  // What this device can say on its own. `final`: a refusal no server answer is waited for.
  async function judgeQr(qr) {
    const sig = await verify(qr);
    if (sig === "bad") return { result: "invalid", final: true };
    if (qr.eventId !== EVENT_ID) return { result: "wrong_event", final: true };
    const at = await admittedAt(qr.ticketId, qr.code);
    if (at) return { result: "already_checked_in", device: at, final: true };
    if (sig === "unknown") return { result: "queued" };
    if (qr.validFrom !== null && Date.now() / 1000 < qr.validFrom) {
      return { result: "not_yet_valid", validFrom: new Date(qr.validFrom * 1000).toISOString(), final: true };
    }
    return { result: "offline_valid" };
  }

  // ---- the server ---------------------------------------------------------------------------
  async function post(path, body, timeoutMs) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const res = await fetch(path, {
        method: "POST", credentials: "same-origin", signal: abort.signal, body: JSON.stringify(body),
        headers: { "content-type": "application/json", "x-csrf-token": CSRF, accept: "application/json" },
      });
      let json = null;
      try { json = await res.json(); } catch { /* a proxy's error page */ }
      return { status: res.status, ok: res.ok && json !== null, body: json };
    } finally {
      clearTimeout(timer);
    }
  }

  // Only the fields the API knows: it refuses unknown ones.
  function wire(scan) {
    const w = { event_id: scan.event_id, code: scan.code, scan_id: scan.scan_id, scanned_at: scan.scanned_at };
    if (scan.gate) w.gate = scan.gate;
    return w;
  }

  const fromServer = (c) => ({
    result: c.result, message: c.message, ticket: c.ticket || null,
    previous: c.previous ? { at: c.previous.checked_in_at, gate: c.previous.gate } : null,
  });

  // Answers that are the server's business to fix (signed out, throttled, down) leave the
  // scan to the offline path, so nothing is lost.
  function serverTrouble(status) {
    if (status === 401 || status === 403) note(ui.notice, TEXT.sessionLost);
  }

  async function ask(scan) {
    // Scans made offline go first, so the server judges them in the order they happened —
    // but a slow upload must not keep the person at the door waiting.
    if (await pendingCount() > 0) await Promise.race([sync(), new Promise((r) => setTimeout(r, SCAN_TIMEOUT_MS))]);
    try {
      const res = await post("/api/checkins", wire(scan), SCAN_TIMEOUT_MS);
      setOnline(true);
      if (res.ok) {
        const v = fromServer(res.body);
        if (v.result === "valid" && v.ticket) await admit(v.ticket.id, v.ticket.code, scan.scanned_at);
        return v;
      }
      if (res.status === 422 || res.status === 409) return { result: "invalid", problem: problemText(res.body) };
      serverTrouble(res.status);
    } catch {
      setOnline(false);
    }
    return null;
  }

  const problemText = (p) => (p && (p.detail || p.title || p.message)) || "";

  // ---- sync ---------------------------------------------------------------------------------
  let syncing = null;

  async function pendingCount() {
    return (await idb("queue", "readonly", (s) => s.count()).catch(() => 0)) || 0;
  }

  async function showPending() {
    const n = await pendingCount();
    ui.pending.textContent = n === 1 ? TEXT.pendingOne : fill(TEXT.pendingOther, { count: n });
    ui.pending.dataset.count = String(n);
    return n;
  }

  async function settle(scans, results) {
    await idb("queue", "readwrite", (s) => { scans.forEach((q, i) => { if (results[i]) s.delete(q.scan_id); }); });
    for (let i = 0; i < scans.length; i++) {
      if (!results[i]) continue;
      const v = fromServer(results[i]);
      if (v.result === "valid" && v.ticket) await admit(v.ticket.id, v.ticket.code, scans[i].scanned_at);
      remember(scans[i], v, true);
    }
  }

  // One malformed scan fails a whole batch; uploaded one by one, it alone is dropped.
  async function uploadEach(scans) {
    for (const scan of scans) {
      const res = await post("/api/checkins", wire(scan), SCAN_TIMEOUT_MS * 2);
      if (res.ok) await settle([scan], [res.body]);
      else if (res.status === 422 || res.status === 409) {
        await idb("queue", "readwrite", (s) => s.delete(scan.scan_id));
        remember(scan, { result: "invalid", problem: problemText(res.body) }, true);
      } else { serverTrouble(res.status); return false; }
    }
    return true;
  }

  function sync() {
    if (!syncing) syncing = runSync().finally(() => { syncing = null; showPending(); });
    return syncing;
  }

  async function runSync() {
    if (!navigator.onLine) return;
    const all = (await idb("queue", "readonly", (s) => s.getAll()).catch(() => [])) || [];
    if (!all.length) return;
    all.sort((a, b) => a.scanned_at.localeCompare(b.scanned_at)); // ISO times sort as text
    try {
      for (let i = 0; i < all.length; i += BATCH_MAX) {
        const chunk = all.slice(i, i + BATCH_MAX);
        const res = await post("/api/checkins/batch", { scans: chunk.map(wire) }, 30000);
        setOnline(true);
        if (res.ok && Array.isArray(res.body.results)) await settle(chunk, res.body.results);
        else if (res.status === 422 || res.status === 409) { if (!(await uploadEach(chunk))) return; }
        else { serverTrouble(res.status); return; }
      }
      note(ui.notice, keys.size ? "" : TEXT.noKeys);
      ui.lastSync.textContent = fill(TEXT.lastSync, { time: clock(new Date().toISOString()) });
      ui.lastSync.hidden = false;
    } catch {
      setOnline(false);
    }
  }

  // ---- showing results ----------------------------------------------------------------------
  let lastSeq = 0;
  let shownResult = "";

  function describe(v) {
    const [name, tone, icon] = VERDICTS[v.result] || ["", "bad", "✗"];
    const title = TEXT[name] || v.message || v.result;
    const detail = [];
    if (v.device) detail.push(fill(TEXT.alreadyDevice, { time: clock(v.device) }));
    if (v.previous) {
      detail.push(v.previous.gate
        ? fill(TEXT.alreadyWhenGate, { time: clock(v.previous.at), gate: v.previous.gate })
        : fill(TEXT.alreadyWhen, { time: clock(v.previous.at) }));
    }
    if (v.validFrom) detail.push(fill(TEXT.validFrom, { time: clock(v.validFrom) }));
    if (v.ticket) detail.push([v.ticket.ticket_type_name, v.ticket.attendee_name].filter(Boolean).join(" · "));
    if (v.notTicket) detail.push(TEXT.notATicket);
    if (v.problem) detail.push(v.problem);
    return { tone, icon, title, detail: detail.filter(Boolean).join(" — ") };
  }

  function display(v) {
    const d = describe(v);
    ui.result.className = `scanner-result result-${d.tone}`;
    ui.result.dataset.result = v.result;
    ui.icon.textContent = d.icon;
    ui.verdict.textContent = d.title;
    ui.detail.textContent = d.detail;
    ui.detail.hidden = !d.detail;
    ui.result.removeAttribute("aria-busy");
  }

  function make(tag, className, text) {
    const el = document.createElement(tag);
    el.className = className;
    el.textContent = text || "";
    return el;
  }

  // The recent list; a scan shown before (queued, now synced) is replaced where it stands.
  function remember(scan, v, synced) {
    const d = describe(v);
    const li = make("li", `result-${d.tone}`);
    li.dataset.result = v.result;
    li.dataset.scan = scan.scan_id;
    const time = make("time", "", clock(scan.scanned_at));
    time.dateTime = scan.scanned_at;
    li.append(time, make("span", "scanner-recent-verdict", `${d.icon} ${d.title}`), make("span", "scanner-recent-code", scan.label));
    if (synced) li.append(make("span", "badge", TEXT.synced));
    const earlier = [...ui.recent.children].find((el) => el.dataset.scan === scan.scan_id);
    if (earlier) earlier.replaceWith(li);
    else ui.recent.prepend(li);
    while (ui.recent.children.length > RECENT_MAX) ui.recent.lastElementChild.remove();
    ui.recentEmpty.hidden = true;
  }

  // Shows a verdict in the panel (if no later scan has taken it) and the list; a server
  // answer that only confirms what is shown does not buzz a second time.
  function report(seq, scan, v) {
    remember(scan, v, false);
    if (seq !== lastSeq) return;
    const again = shownResult === v.result;
    display(v);
    if (!again) signal(v.result);
    shownResult = v.result;
  }

  // ---- a scan -------------------------------------------------------------------------------
  const currentGate = () => ui.gate.value.trim().slice(0, 100);

  async function check(raw) {
    const text = String(raw || "").trim();
    if (!text) return;
    const seq = ++lastSeq;
    shownResult = "";
    // An empty data-result while a scan is open, so nobody reads the previous verdict as this one's.
    ui.result.dataset.result = "";
    ui.result.setAttribute("aria-busy", "true");
    const slow = setTimeout(() => {
      if (seq !== lastSeq || ui.result.dataset.result) return;
      ui.result.className = "scanner-result result-idle";
      ui.icon.textContent = "…";
      ui.verdict.textContent = TEXT.checking || "";
      ui.detail.hidden = true;
    }, 300);
    const scan = { scan_id: `${DEVICE}-${randomId()}`, event_id: EVENT_ID, code: text, scanned_at: new Date().toISOString() };
    const gate = currentGate();
    if (gate) scan.gate = gate;
    scan.label = text.length > 24 ? `${text.slice(0, 21)}…` : text;
    let local = null;
    try {
      if (text.startsWith("BL1.")) {
        const qr = parseQr(text);
        if (qr) scan.label = qr.code;
        local = await judgeQr(qr);
        local.qr = qr;
      } else if (text.length <= 1024 && PLAIN_CODE.test(text)) {
        const at = await admittedAt(null, text);
        local = at ? { result: "already_checked_in", device: at, final: true } : { result: "queued" };
      } else {
        // Neither a ticket code nor one of our QR codes (a poster's link, say): the API would
        // refuse the field, so there is nothing to record.
        report(seq, scan, { result: "invalid", notTicket: true });
        return;
      }
      if (local.final) report(seq, scan, local);
      if (!navigator.onLine) setOnline(false);
      const answer = navigator.onLine ? await ask(scan) : null;
      if (answer) { report(seq, scan, answer); return; }
      if (local.final) return;
      const { qr, ...shown } = local;
      await idb("queue", "readwrite", (s) => s.put({ ...wire(scan), label: scan.label }));
      if (local.result === "offline_valid") await admit(qr.ticketId, qr.code, scan.scanned_at);
      report(seq, scan, shown);
      await showPending();
    } catch (e) {
      // Storage failed: what this device found out is still the best answer for the door.
      console.error("scanner: the scan could not be handled", e);
      if (local) report(seq, scan, local);
      else ui.result.removeAttribute("aria-busy");
    } finally {
      clearTimeout(slow);
    }
  }

  // ---- sound and vibration ------------------------------------------------------------------
  let audio = null;

  // Browsers let a page make sound only after a tap, so the context is made on the first one.
  function unlockAudio() {
    if (audio || !ui.sound.checked) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try { audio = new Ctx(); } catch { audio = null; }
  }

  function signal(result) {
    if (!ui.sound.checked) return;
    const admitted = result === "valid" || result === "offline_valid";
    const waiting = result === "queued";
    if (navigator.vibrate) navigator.vibrate(admitted ? 80 : waiting ? [80, 80, 80] : [300, 120, 300, 120, 300]);
    if (!audio) return;
    try {
      if (audio.state === "suspended") audio.resume();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = admitted ? 880 : waiting ? 520 : 200;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio.destination);
      const t = audio.currentTime;
      osc.start(t);
      osc.stop(t + (admitted ? 0.12 : waiting ? 0.2 : 0.5));
    } catch { /* sound is a nicety */ }
  }

  // ---- camera -------------------------------------------------------------------------------
  let stream = null;
  let starting = false;
  let detector = null;
  let frameTimer = 0;
  let context2d = null;
  let lastSeen = { text: "", at: 0 };

  async function makeDetector() {
    if (!("BarcodeDetector" in window)) return null;
    const formats = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
    return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { note(ui.cameraNote, TEXT.cameraUnsupported); return; }
    detector = await makeDetector();
    if (!detector && typeof window.jsQR !== "function") { note(ui.cameraNote, TEXT.cameraUnsupported); return; }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false });
    } catch {
      note(ui.cameraNote, TEXT.cameraError);
      return;
    }
    note(ui.cameraNote, "");
    ui.video.srcObject = stream;
    ui.video.hidden = false;
    try { await ui.video.play(); } catch { /* a muted inline video may play on its own */ }
    ui.camera.textContent = TEXT.cameraStop;
    ui.camera.setAttribute("aria-pressed", "true");
    frameTimer = setTimeout(frame, FRAME_MS);
  }

  function stopCamera() {
    clearTimeout(frameTimer);
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    ui.video.srcObject = null;
    ui.video.hidden = true;
    ui.camera.textContent = TEXT.cameraStart;
    ui.camera.setAttribute("aria-pressed", "false");
  }

  async function decode() {
    const v = ui.video;
    if (v.readyState < 2 || !v.videoWidth) return null;
    if (detector) {
      const found = await detector.detect(v);
      return found.length ? found[0].rawValue : null;
    }
    // jsQR's work grows with the pixels; 640 across is enough for a ticket held up close.
    const scale = Math.min(1, 640 / Math.max(v.videoWidth, v.videoHeight));
    const w = Math.round(v.videoWidth * scale);
    const h = Math.round(v.videoHeight * scale);
    if (ui.canvas.width !== w || ui.canvas.height !== h) { ui.canvas.width = w; ui.canvas.height = h; context2d = null; }
    context2d = context2d || ui.canvas.getContext("2d", { willReadFrequently: true });
    context2d.drawImage(v, 0, 0, w, h);
    const found = window.jsQR(context2d.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  }

  // Frames are read one after the other, never overlapping; a scan being checked pauses them.
  async function frame() {
    if (!stream) return;
    try {
      const text = await decode();
      if (text) {
        const now = Date.now();
        const same = text === lastSeen.text && now - lastSeen.at < REPEAT_MS;
        lastSeen = { text, at: now };
        if (!same) await check(text);
      }
    } catch { /* an unreadable frame is skipped */ }
    if (stream) frameTimer = setTimeout(frame, FRAME_MS);
  }

  // ---- connection state and the service worker -----------------------------------------------
  function setOnline(value) {
    online = value;
    ui.status.textContent = online ? TEXT.online : TEXT.offline;
    ui.status.classList.toggle("is-online", online);
    ui.status.classList.toggle("is-offline", !online);
    ui.status.dataset.state = online ? "online" : "offline";
  }

  async function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    try {
      await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    } catch {
      return; // the page still works while it is open, just not after a reload offline
    }
    // This page and its files were fetched before the worker existed: hand them over to it.
    const urls = [location.pathname, `/scan/${EVENT_ID}/data`];
    for (const el of document.querySelectorAll('script[src^="/assets/"], link[rel="stylesheet"][href^="/assets/"]')) {
      urls.push(el.getAttribute("src") || el.getAttribute("href"));
    }
    navigator.serviceWorker.ready.then((reg) => { if (reg.active) reg.active.postMessage({ type: "warm", urls }); });
  }

  // ---- wiring -------------------------------------------------------------------------------
  ui.form.addEventListener("submit", (e) => {
    e.preventDefault();
    unlockAudio();
    const text = ui.code.value;
    ui.code.value = "";
    ui.code.focus();
    check(text);
  });
  ui.sync.addEventListener("click", () => { unlockAudio(); sync(); });
  ui.camera.addEventListener("click", () => {
    unlockAudio();
    if (stream) stopCamera();
    else if (!starting) { starting = true; startCamera().finally(() => { starting = false; }); }
  });
  // A camera left running in a pocket drains the battery.
  document.addEventListener("visibilitychange", () => { if (document.hidden && stream) stopCamera(); });

  ui.gate.value = localSetting("backline-scanner-gate", "");
  ui.gate.addEventListener("change", () => saveSetting("backline-scanner-gate", currentGate()));
  ui.sound.checked = localSetting("backline-scanner-sound", "1") === "1";
  ui.sound.addEventListener("change", () => saveSetting("backline-scanner-sound", ui.sound.checked ? "1" : "0"));

  window.addEventListener("online", () => { setOnline(true); loadKeys().then(sync); });
  window.addEventListener("offline", () => setOnline(false));
  setInterval(() => {
    if (!navigator.onLine) return;
    if (!online) loadKeys(); // a cheap way to notice the server is back
    sync();
  }, SYNC_EVERY_MS);

  setOnline(navigator.onLine);
  showPending();
  Promise.allSettled([loadKeys(), registerWorker()]).then(() => {
    document.body.dataset.scannerReady = "1";
    sync();
  });
})();
