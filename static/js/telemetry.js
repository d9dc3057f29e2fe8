/*
 * PrepMate browser telemetry SDK: a durable offline queue in IndexedDB (localStorage fallback),
 * a synchronous journal that keeps each capture until IndexedDB has it, and a batched, retrying
 * sync that never sends one event as two. Beside events it speaks the tracking verbs (identify,
 * alias, group, page, screen) with a persistent anonymous id, registered properties, opt-out,
 * a beforeSend hook and automatic context; bodies are gzipped where the browser can.
 *
 * Classic script: defines window.TelemetryService, window.SyncService and
 * window.PrepMateTelemetry. telemetry.mjs re-exports the same objects as an ES module.
 *
 *   const telemetry = new TelemetryService({ endpoint, apiKey, userId });
 *   const sync = new SyncService({ telemetry });
 *   telemetry.initialize(); sync.start();
 *   telemetry.captureEvent('interview_completed', { score: 85, duration: 1800 });
 *   telemetry.on('sync:complete', (result) => console.log('Synced items:', result.successCount));
 *   telemetry.identify('u-42', { plan: 'pro' }); telemetry.page();
 *   telemetry.reset();  // at sign-out: a new anonymous id; what is queued goes as it was
 */
(function (root) {
  'use strict';

  const VERSION = '0.4.0';
  // Named in every item's metadata.context.library, with VERSION.
  const LIBRARY_NAME = 'prepmate-telemetry-js';
  const BATCH_PATH = '/api/telemetry/batch';
  const RECORDS_PATH = '/api/telemetry/records';
  // The server answers every request with its id (its log lines name it); errors carry it.
  const REQUEST_ID_HEADER = 'X-Request-ID';
  const LOCK_NAME = 'prepmate-telemetry-sync';
  const DEFAULT_STORAGE_NAME = 'prepmate-telemetry';
  // The version a new database is created with; an existing one is opened at whatever version it
  // has, since another tab (a newer SDK, or the app itself) may have upgraded it.
  const DB_VERSION = 1;
  const STORES = ['queue', 'meta'];
  const DEFAULT_MAX_QUEUE = 500;
  const DEFAULT_BATCH_SIZE = 100;
  // A captured event waits at most this long for others to share its request (and the queue is
  // looked at this often for what other tabs and earlier pages left).
  const DEFAULT_FLUSH_INTERVAL_MS = 3000;
  // The server refuses items over 32 KB and requests over 1 MB; stay well under the latter.
  const MAX_ITEM_BYTES = 32 * 1024;
  const MAX_BATCH_BYTES = 512 * 1024;
  // Browsers refuse a keepalive request once the bodies of all in flight would pass 64 KiB.
  const KEEPALIVE_MAX_BYTES = 63 * 1024;
  const BACKOFF_BASE_MS = 1000;
  const BACKOFF_MAX_MS = 5 * 60 * 1000;
  // After a 401 or 403 the queue is kept and sending pauses this long.
  const AUTH_RETRY_MS = 5 * 60 * 1000;
  // A failed IndexedDB write is tried again after this pause (the captures stay journaled).
  // Journal entries removed per task once IndexedDB has their events.
  const JOURNAL_TRIM_CHUNK = 64;
  // Captures written to IndexedDB per transaction (and task).
  const WRITE_CHUNK = 100;
  const STORAGE_RETRY_MS = 1000;
  // flush() waits this long at most for another tab that is sending.
  const LOCK_WAIT_MS = 30000;
  const LEASE_MS = 15000;
  const LEASE_SETTLE_MS = 50;
  const MAX_PULL_PAGES = 100;
  const PRIORITIES = { low: -1, normal: 0, high: 1 };
  // identify, alias and group link and describe people: a full queue drops events before them.
  const IDENTITY_PRIORITY = PRIORITIES.high;
  // The tracking verbs (SPEC §11), queued beside events; everything else is a record type.
  const VERB_TYPES = new Set(['identify', 'alias', 'group', 'page', 'screen']);
  // Items that name their people themselves; the others take them from the batch's defaults.
  const SELF_NAMED_TYPES = new Set(['identify', 'alias']);
  // Bodies smaller than this go as they are: gzip saves little there and costs a task.
  const GZIP_MIN_BYTES = 1024;
  // Batches being sent are kept beside the queue under this prefix, with their items.
  const BATCH_KEY = 'batch:';
  // metadata.clientTimestamp as every reader of it accepts it (RFC 3339, SPEC §10).
  const CLIENT_TIME_RE =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

  const encoder = typeof TextEncoder !== 'undefined' ? new TextEncoder() : null;

  function byteLength(text) {
    // A UTF-16 code unit is at most 3 UTF-8 bytes: short texts need no encoding to be measured.
    if (text.length * 3 <= MAX_ITEM_BYTES) {
      let ascii = true;
      for (let i = 0; i < text.length; i += 1) {
        if (text.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) return text.length;
    }
    return encoder ? encoder.encode(text).length : unescape(encodeURIComponent(text)).length;
  }

  function nowIso() {
    return new Date().toISOString();
  }

  // Runs fn in a task of its own soon; unlike setTimeout, never clamped to 4 ms or more.
  const nextTask = (() => {
    if (typeof MessageChannel === 'undefined') return (fn) => setTimeout(fn, 0);
    const channel = new MessageChannel();
    const queue = [];
    channel.port1.onmessage = () => {
      const fn = queue.shift();
      if (fn) fn();
    };
    return (fn) => {
      queue.push(fn);
      channel.port2.postMessage(null);
    };
  })();

  function isOnline() {
    return !(root.navigator && root.navigator.onLine === false);
  }

  function utcMs(year, month, day, hour, minute, second, ms) {
    const date = new Date(0);
    // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, ms);
    return date.getTime();
  }

  const MIN_TIME_MS = utcMs(1, 1, 1, 0, 0, 0, 0);
  const MAX_TIME_MS = utcMs(9999, 12, 31, 23, 59, 59, 999);

  /** Why a caller's clientTimestamp would be refused by the server, or null when it is fine. */
  function timestampProblem(value) {
    const match = typeof value === 'string' ? CLIENT_TIME_RE.exec(value) : null;
    if (!match) {
      return 'Not an ISO 8601 time with an offset, e.g. 2026-01-31T12:00:00Z.';
    }
    const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
    const local = utcMs(year, month, day, hour, minute, second, 0);
    const check = new Date(local);
    if (year < 1 || hour > 23 || minute > 59 || second > 59 ||
        check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
      return 'Not a date and time of the calendar.';
    }
    const offsetMs = match[8]
      ? (match[8] === '-' ? -1 : 1) * (Number(match[9]) * 60 + Number(match[10])) * 60000
      : 0;
    if (Number(match[9] || 0) > 23 || Number(match[10] || 0) > 59) return 'Not a valid UTC offset.';
    const utc = local - offsetMs;
    if (utc < MIN_TIME_MS || utc > MAX_TIME_MS) {
      return 'Must lie within 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z once converted to UTC.';
    }
    return null;
  }
  // --- UUIDv7 (RFC 9562): 48-bit ms timestamp, version 7, 12-bit counter, variant 10, random ---
  let lastMs = 0;
  let counter = 0;

  // Random bytes are drawn 4 KB at a time: one getRandomValues call per id costs more than
  // the rest of captureEvent without the journal.
  const pool = new Uint8Array(4096);
  let poolAt = pool.length;

  function randomBytes(n) {
    if (poolAt + n > pool.length) {
      if (root.crypto && root.crypto.getRandomValues) {
        root.crypto.getRandomValues(pool);
      } else {
        for (let i = 0; i < pool.length; i += 1) pool[i] = Math.floor(Math.random() * 256);
      }
      poolAt = 0;
    }
    poolAt += n;
    return pool.slice(poolAt - n, poolAt);
  }

  function formatUuid(bytes) {
    let hex = '';
    for (let i = 0; i < 16; i += 1) hex += bytes[i].toString(16).padStart(2, '0');
    return (
      hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' +
      hex.slice(16, 20) + '-' + hex.slice(20)
    );
  }

  function uuidv7() {
    const bytes = randomBytes(16);
    let ms = Date.now();
    if (ms > lastMs) {
      lastMs = ms;
      // Start low in the 12-bit space so ids made in the same millisecond keep increasing.
      counter = ((bytes[6] & 0x07) << 8) | bytes[7];
    } else {
      counter += 1;
      if (counter > 0xfff) {
        lastMs += 1;
        counter = 0;
      }
      ms = lastMs;
    }
    const high = Math.floor(ms / 0x100000000);
    const low = ms >>> 0;
    bytes[0] = (high >>> 8) & 0xff;
    bytes[1] = high & 0xff;
    bytes[2] = (low >>> 24) & 0xff;
    bytes[3] = (low >>> 16) & 0xff;
    bytes[4] = (low >>> 8) & 0xff;
    bytes[5] = low & 0xff;
    bytes[6] = 0x70 | ((counter >>> 8) & 0x0f);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    return formatUuid(bytes);
  }

  // A random (version 4) UUID: the anonymous id, which should not tell when it was made.
  function uuidv4() {
    const bytes = randomBytes(16);
    bytes[6] = 0x40 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    return formatUuid(bytes);
  }

  // A gzip stream of the text, or null where the browser cannot make one (no CompressionStream).
  async function gzip(text) {
    if (typeof CompressionStream === 'undefined' || typeof Response === 'undefined') return null;
    try {
      const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
      return new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (err) {
      return null;
    }
  }

  // --- Events ---
  class Emitter {
    constructor() {
      this._handlers = new Map();
    }

    on(name, fn) {
      if (!this._handlers.has(name)) this._handlers.set(name, new Set());
      this._handlers.get(name).add(fn);
      return () => this.off(name, fn);
    }

    off(name, fn) {
      const set = this._handlers.get(name);
      if (set) set.delete(fn);
    }

    emit(name, payload) {
      const set = this._handlers.get(name);
      if (!set) return;
      for (const fn of Array.from(set)) {
        try {
          fn(payload);
        } catch (err) {
          // A failing listener must not break the queue; surface it as an ordinary page error.
          setTimeout(() => {
            throw err;
          }, 0);
        }
      }
    }
  }

  // --- Queue storage: one queue per origin (and storage name), shared by every tab ---
  // A queued record is {itemId, priority, userId, anonymousId, item, bytes}; item is what goes
  // on the wire, and userId / anonymousId are the people it is about (sent as the batch's
  // defaults, so a batch carries the items of one pair only).
  // A batch being sent is {batchId, userId, anonymousId, itemIds, items}: kept with its items
  // until the server answers, so a resend always carries the same items under the same batchId.

  // Send order: higher priority first, then oldest (UUIDv7 ids sort by time).
  function sendOrder(a, b) {
    return (b.priority - a.priority) || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0);
  }

  function byBatchId(a, b) {
    return a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0;
  }

  // The oldest lowest-priority records go first; items of a batch being sent are never chosen
  // (that batch carries them to the server whatever happens to the queue).
  function pickVictims(records, excess, keep) {
    const order = records.filter((r) => !keep.has(r.itemId)).sort((a, b) =>
      (a.priority - b.priority) || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
    return order.slice(0, excess);
  }

  function batchItemIds(batches) {
    const ids = new Set();
    for (const b of batches) for (const id of b.itemIds) ids.add(id);
    return ids;
  }

  // What is kept of a batch: the in-memory copy also carries this tab's send state.
  function batchRecord(batch) {
    return {
      batchId: batch.batchId,
      userId: batch.userId,
      anonymousId: batch.anonymousId,
      itemIds: batch.itemIds,
      items: batch.items,
    };
  }

  function orNull(value) {
    return value === undefined ? null : value;
  }

  // Records an earlier release queued have no anonymousId: they go as they did, under userId.
  function samePeople(a, b) {
    return orNull(a.userId) === orNull(b.userId) && orNull(a.anonymousId) === orNull(b.anonymousId);
  }

  function peopleKey(r) {
    return JSON.stringify([orNull(r.userId), orNull(r.anonymousId)]);
  }

  // Tracking (events and the verbs) as opposed to records: what opt-out holds back. A record
  // always has a recordId, even one of a type an earlier release named like a verb.
  function isTracking(item) {
    return item.itemType === 'event' || (VERB_TYPES.has(item.itemType) && item.recordId === undefined);
  }

  function recordBytes(record) {
    if (typeof record.bytes !== 'number') record.bytes = byteLength(JSON.stringify(record.item));
    return record.bytes;
  }

  function hasStores(db) {
    return STORES.every((name) => db.objectStoreNames.contains(name));
  }

  function createStores(db) {
    if (!db.objectStoreNames.contains('queue')) db.createObjectStore('queue', { keyPath: 'itemId' });
    if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta');
  }

  // Opens the database at its current version, creating it (or the SDK's stores) when missing.
  function openDatabase(name) {
    return new Promise((resolve, reject) => {
      const req = root.indexedDB.open(name);
      req.onupgradeneeded = () => createStores(req.result);
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const db = req.result;
        if (hasStores(db)) {
          resolve(db);
          return;
        }
        // Another program upgraded the database without the SDK's stores: add them.
        const version = db.version + 1;
        db.close();
        const upgrade = root.indexedDB.open(name, version);
        upgrade.onupgradeneeded = () => createStores(upgrade.result);
        upgrade.onsuccess = () => resolve(upgrade.result);
        upgrade.onerror = () => reject(upgrade.error);
      };
    });
  }

  // Errors of a connection that was closed under the transaction (another tab's upgrade or
  // deletion, storage cleared): the transaction is tried again on a new connection.
  function isClosedConnection(err) {
    return Boolean(err) &&
      (err.name === 'InvalidStateError' || err.name === 'AbortError' || err.name === 'UnknownError');
  }

  class IndexedDbStorage {
    constructor(name) {
      this.kind = 'indexeddb';
      this.name = name;
      this.db = null;
      this._opening = null;
    }

    open() {
      if (this.db) return Promise.resolve(this);
      if (!this._opening) {
        this._opening = openDatabase(this.name).then((db) => {
          this._opening = null;
          this.db = db;
          // Let another tab upgrade or delete the database; the next transaction reopens it.
          db.onversionchange = () => {
            db.close();
            if (this.db === db) this.db = null;
          };
          db.onclose = () => {
            if (this.db === db) this.db = null;
          };
          return this;
        }, (err) => {
          this._opening = null;
          throw err;
        });
      }
      return this._opening;
    }

    _run(mode, body) {
      return new Promise((resolve, reject) => {
        const tx = this.db.transaction(STORES, mode);
        const ctx = { queue: tx.objectStore('queue'), meta: tx.objectStore('meta'), result: undefined };
        tx.oncomplete = () => resolve(ctx.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new DOMException('transaction aborted', 'AbortError'));
        body(ctx);
      });
    }

    async _tx(mode, body) {
      await this.open();
      try {
        return await this._run(mode, body);
      } catch (err) {
        if (!isClosedConnection(err)) throw err;
        this.db = null;
        await this.open();
        return this._run(mode, body);
      }
    }

    _batchRange() {
      return IDBKeyRange.bound(BATCH_KEY, BATCH_KEY + '\uffff');
    }

    // Stores the records (with the record versions and batches to keep, when given) and, past
    // maxQueue, drops the oldest lowest-priority ones (returned).
    append(records, maxQueue, versions, batches) {
      return this._tx('readwrite', (t) => {
        for (const r of records) t.queue.put(r);
        if (versions) t.meta.put(versions, 'versions');
        for (const b of batches || []) t.meta.put(batchRecord(b), BATCH_KEY + b.batchId);
        t.result = [];
        const countReq = t.queue.count();
        countReq.onsuccess = () => {
          const excess = countReq.result - maxQueue;
          if (excess <= 0) return;
          // Requests complete in order: the batches are read by the time the records are.
          const batchesReq = t.meta.getAll(this._batchRange());
          const allReq = t.queue.getAll();
          allReq.onsuccess = () => {
            t.result = pickVictims(allReq.result, excess, batchItemIds(batchesReq.result));
            for (const v of t.result) t.queue.delete(v.itemId);
          };
        };
      });
    }

    all() {
      return this._tx('readonly', (t) => {
        const req = t.queue.getAll();
        req.onsuccess = () => {
          t.result = req.result.sort(sendOrder);
        };
      });
    }

    count() {
      return this._tx('readonly', (t) => {
        const req = t.queue.count();
        req.onsuccess = () => {
          t.result = req.result;
        };
      });
    }

    /** The queue and the batches being sent, read together. */
    snapshot() {
      return this._tx('readonly', (t) => {
        const recordsReq = t.queue.getAll();
        const batchesReq = t.meta.getAll(this._batchRange());
        batchesReq.onsuccess = () => {
          t.result = {
            records: recordsReq.result.sort(sendOrder),
            batches: batchesReq.result.sort(byBatchId),
          };
        };
      });
    }

    pin(batch) {
      return this._tx('readwrite', (t) => {
        t.meta.put(batchRecord(batch), BATCH_KEY + batch.batchId);
      });
    }

    // Deletes acknowledged items and, in the same transaction, the batch they came in.
    remove(itemIds, batchId) {
      return this._tx('readwrite', (t) => {
        for (const id of itemIds) t.queue.delete(id);
        if (batchId) t.meta.delete(BATCH_KEY + batchId);
      });
    }

    getMeta(key) {
      return this._tx('readonly', (t) => {
        const req = t.meta.get(key);
        req.onsuccess = () => {
          t.result = req.result === undefined ? null : req.result;
        };
      });
    }

    setMeta(key, value) {
      return this._tx('readwrite', (t) => {
        if (value === null || value === undefined) t.meta.delete(key);
        else t.meta.put(value, key);
      });
    }
  }

  // Same interface as localStorage, for when neither IndexedDB nor localStorage can be used.
  class MemoryBackend {
    constructor() {
      this.map = new Map();
    }

    get length() {
      return this.map.size;
    }

    key(index) {
      const keys = Array.from(this.map.keys());
      return index < keys.length ? keys[index] : null;
    }

    getItem(key) {
      return this.map.has(key) ? this.map.get(key) : null;
    }

    setItem(key, value) {
      this.map.set(key, String(value));
    }

    removeItem(key) {
      this.map.delete(key);
    }
  }

  function parseJson(text) {
    if (text === null || text === undefined) return null;
    try {
      return JSON.parse(text);
    } catch (err) {
      return null;
    }
  }

  function keysWithPrefix(backend, prefix) {
    const keys = [];
    for (let i = 0; i < backend.length; i += 1) {
      const key = backend.key(i);
      if (key && key.startsWith(prefix)) keys.push(key);
    }
    return keys;
  }

  // localStorage when IndexedDB is missing (some private modes); plain memory when both are.
  // One key per item, so tabs writing at the same time never overwrite each other's items.
  class KeyValueStorage {
    constructor(name, backend) {
      this.kind = backend ? 'localstorage' : 'memory';
      this.backend = backend || new MemoryBackend();
      this.itemPrefix = name + ':item:';
      this.metaPrefix = name + ':meta:';
    }

    open() {
      return Promise.resolve(this);
    }

    _records() {
      return keysWithPrefix(this.backend, this.itemPrefix)
        .map((key) => parseJson(this.backend.getItem(key))).filter(Boolean);
    }

    _batches() {
      return keysWithPrefix(this.backend, this.metaPrefix + BATCH_KEY)
        .map((key) => parseJson(this.backend.getItem(key))).filter(Boolean).sort(byBatchId);
    }

    append(records, maxQueue, versions, batches) {
      for (const r of records) this.backend.setItem(this.itemPrefix + r.itemId, JSON.stringify(r));
      if (versions) this.backend.setItem(this.metaPrefix + 'versions', JSON.stringify(versions));
      for (const b of batches || []) this.pin(b);
      const all = this._records();
      let victims = [];
      if (all.length > maxQueue) {
        victims = pickVictims(all, all.length - maxQueue, batchItemIds(this._batches()));
        for (const v of victims) this.backend.removeItem(this.itemPrefix + v.itemId);
      }
      return Promise.resolve(victims);
    }

    all() {
      return Promise.resolve(this._records().sort(sendOrder));
    }

    count() {
      return Promise.resolve(this._records().length);
    }

    snapshot() {
      return Promise.resolve({ records: this._records().sort(sendOrder), batches: this._batches() });
    }

    pin(batch) {
      this.backend.setItem(this.metaPrefix + BATCH_KEY + batch.batchId,
        JSON.stringify(batchRecord(batch)));
      return Promise.resolve();
    }

    remove(itemIds, batchId) {
      for (const id of itemIds) this.backend.removeItem(this.itemPrefix + id);
      if (batchId) this.backend.removeItem(this.metaPrefix + BATCH_KEY + batchId);
      return Promise.resolve();
    }

    getMeta(key) {
      return Promise.resolve(parseJson(this.backend.getItem(this.metaPrefix + key)));
    }

    setMeta(key, value) {
      if (value === null || value === undefined) this.backend.removeItem(this.metaPrefix + key);
      else this.backend.setItem(this.metaPrefix + key, JSON.stringify(value));
      return Promise.resolve();
    }
  }

  // localStorage, or null where the page may not use it. `writable` also checks that a write
  // goes through (a full or read-only store is no queue; the journal reports each failure).
  function localStorageOrNull(writable) {
    try {
      const ls = root.localStorage;
      if (!ls) return null;
      const probe = '__prepmate_probe__';
      if (writable) {
        ls.setItem(probe, '1');
        ls.removeItem(probe);
      } else {
        ls.getItem(probe);
      }
      return ls;
    } catch (err) {
      return null;
    }
  }

  function openStorage(name, preferred) {
    const fallback = () => new KeyValueStorage(name, localStorageOrNull(true)).open();
    if (preferred === 'localstorage' || preferred === 'memory' || !root.indexedDB) {
      return preferred === 'memory' ? new KeyValueStorage(name, null).open() : fallback();
    }
    return new IndexedDbStorage(name).open().catch(fallback);
  }

  // --- One sender per origin: Web Locks, else a lease in localStorage ---
  function withLease(lockName, owner, fn) {
    const ls = localStorageOrNull(true);
    if (!ls) return fn();
    const key = lockName + ':lease';
    const read = () => {
      try {
        return JSON.parse(ls.getItem(key) || 'null');
      } catch (err) {
        return null;
      }
    };
    const lease = read();
    if (lease && lease.owner !== owner && lease.until > Date.now()) return Promise.resolve(null);
    const write = () => ls.setItem(key, JSON.stringify({ owner, until: Date.now() + LEASE_MS }));
    let renew = null;
    const release = () => {
      clearInterval(renew);
      const current = read();
      if (current && current.owner === owner) ls.removeItem(key);
    };
    write();
    // Other tabs see the write a moment later; whoever wrote last holds the lease.
    return new Promise((resolve) => setTimeout(resolve, LEASE_SETTLE_MS)).then(() => {
      const current = read();
      if (!current || current.owner !== owner) return null;
      renew = setInterval(write, LEASE_MS / 3);
      return Promise.resolve().then(fn).then(
        (value) => {
          release();
          return value;
        },
        (err) => {
          release();
          throw err;
        }
      );
    });
  }

  // Runs fn while this tab is the origin's one sender; null when another tab is (after waiting
  // for it up to LOCK_WAIT_MS when `wait` is set and the browser can wait for a lock).
  function withSenderLock(lockName, owner, fn, wait) {
    const locks = root.navigator && root.navigator.locks;
    if (!locks || typeof locks.request !== 'function') return withLease(lockName, owner, fn);
    if (!wait || typeof AbortController === 'undefined') {
      return locks.request(lockName, { ifAvailable: true }, (lock) => (lock ? fn() : null));
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), LOCK_WAIT_MS);
    let granted = false;
    return locks.request(lockName, { signal: abort.signal }, () => {
      granted = true;
      clearTimeout(timer);
      return fn();
    }).catch((err) => {
      if (!granted && err && err.name === 'AbortError') return null;
      throw err;
    });
  }

  // --- HTTP helpers ---
  function parseRetryAfter(value) {
    if (!value) return null;
    const text = String(value).trim();
    if (/^\d+(\.\d+)?$/.test(text)) return Math.min(parseFloat(text) * 1000, BACKOFF_MAX_MS);
    const when = Date.parse(text);
    if (Number.isNaN(when)) return null;
    return Math.min(Math.max(when - Date.now(), 0), BACKOFF_MAX_MS);
  }

  // Exponential backoff with "equal jitter": half fixed, half random.
  function backoffDelay(attempt) {
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(attempt - 1, 0));
    return cap / 2 + Math.random() * (cap / 2);
  }

  function isRetryableStatus(status) {
    return status >= 500 || status === 408 || status === 429;
  }

  // Field errors name items as "items.3..." or "items[3]..."; collect those indexes.
  function rejectedIndexes(fields, size) {
    const found = new Set();
    if (!fields || typeof fields !== 'object') return found;
    const visit = (obj, path) => {
      for (const key of Object.keys(obj)) {
        const full = path ? path + '.' + key : key;
        const match = /^items(?:\.|\[)(\d+)/.exec(full);
        if (match && Number(match[1]) < size) found.add(Number(match[1]));
        else if (key === 'items' && obj[key] && typeof obj[key] === 'object') visit(obj[key], 'items');
      }
    };
    visit(fields, '');
    return found;
  }

  function versionKey(recordType, recordId) {
    return recordType + '\u0000' + recordId;
  }
  // --- TelemetryService: capture, the journal and the durable queue ---
  class TelemetryService extends Emitter {
    constructor(options) {
      super();
      const opts = options || {};
      if (!opts.endpoint) throw new TypeError('TelemetryService: endpoint is required');
      this.endpoint = String(opts.endpoint).replace(/\/+$/, '');
      this.apiKey = opts.apiKey || null;
      this.clientId = opts.clientId || null;
      this.maxQueue = opts.maxQueue || DEFAULT_MAX_QUEUE;
      this.batchSize = opts.batchSize || DEFAULT_BATCH_SIZE;
      this.storageName = opts.storageName || DEFAULT_STORAGE_NAME;
      this.storagePreference = opts.storage || 'indexeddb';
      this.storage = null;
      this._ready = null;
      this._initialized = false;
      // Captured, not yet committed to the queue.
      this._pending = [];
      // Captured, in the write to the queue that is in progress.
      this._writing = [];
      // Dropped past maxQueue while in that write: deleted once it commits.
      this._dropAfterWrite = new Set();
      // Batches a closed page recorded at page hide, to keep (with their batchIds) in the queue.
      this._foldedBatches = [];
      // Every batch being sent that this tab knows of, by batchId: page hide sends these as
      // they are, and never puts their items in another batch.
      this._batches = new Map();
      this._writes = Promise.resolve();
      this._writeQueued = false;
      this._retryTimer = null;
      // Records this tab captured and has not yet seen acknowledged, for the page-hide send.
      this._unsent = new Map();
      this._versions = {};
      this._checkpoints = {};
      this._captureHooks = [];
      // localStorage, for the journal and the page-hide records (none for the memory queue).
      this._local = this.storagePreference === 'memory' ? null : localStorageOrNull(false);
      // IndexedDB commits after the page may be gone: until it has an event, the event is in a
      // synchronous journal, one localStorage key per event, which the next page folds in.
      this._journaling = Boolean(this._local && root.indexedDB) &&
        this.storagePreference === 'indexeddb';
      this._journalPrefix = this.storageName + ':j:';
      this._hidePrefix = this.storageName + ':b:';
      this._journaled = new Set();
      this._trims = [];
      // Called with each item at capture: returns it (changed or not), or null to drop it.
      this.beforeSend = typeof opts.beforeSend === 'function' ? opts.beforeSend : null;
      this.compress = opts.compress !== false;
      this.autoContext = opts.context !== false;
      // The SyncService sending this queue (the first made for it): flush() and shutdown().
      this._sync = null;
      // Who this browser is, the registered properties and the opt-out choice: one
      // localStorage key shared by the origin's tabs (memory only for the memory queue).
      this._stateStore = this.storagePreference === 'memory' ? null : localStorageOrNull(false);
      this._stateKey = this.storageName + ':identity';
      this._optOutByDefault = Boolean(opts.optOutByDefault);
      this._applyState(this._readState());
      if (opts.userId !== undefined && opts.userId !== null && opts.userId !== this.userId) {
        this.userId = opts.userId;
        this._saveState();
      }
      if (this._stateStore && root.addEventListener) {
        // Another tab identified, reset, registered or opted out: this one follows.
        root.addEventListener('storage', (event) => {
          if (event.key === this._stateKey) this._applyState(this._readState());
        });
      }
    }

    /** Opens the queue; captures made before this are kept (journaled) and written here. */
    initialize() {
      if (!this._ready) {
        this._ready = openStorage(this.storageName, this.storagePreference)
          .then((storage) => {
            this.storage = storage;
            // On the localStorage fallback the queue write is as synchronous as the journal.
            if (storage.kind !== 'indexeddb') this._journaling = false;
            return Promise.all([storage.getMeta('versions'), storage.getMeta('checkpoints')]);
          })
          .then(([versions, checkpoints]) => {
            this._versions = Object.assign(versions || {}, this._versions);
            this._checkpoints = checkpoints || {};
            this._foldJournal();
            this._initialized = true;
            this._scheduleWrite();
            return this;
          });
      }
      return this._ready;
    }

    headers() {
      const headers = { 'Content-Type': 'application/json' };
      if (this.apiKey) headers.Authorization = 'Bearer ' + this.apiKey;
      return headers;
    }

    /**
     * Queues one event; its eventId (a UUIDv7 made now) is returned at once, or null when the
     * event is refused (too large, or a clientTimestamp the server would refuse).
     */
    captureEvent(eventType, eventData, options) {
      if (typeof eventType !== 'string' || !eventType) {
        throw new TypeError('captureEvent: eventType must be a non-empty string');
      }
      return this._capture({ itemType: 'event', eventType, eventData: this._with(eventData) },
        options);
    }

    /** Segment's name for captureEvent. */
    track(eventType, properties, options) {
      return this.captureEvent(eventType, properties, options);
    }

    /**
     * Says who this browser's user is, with traits (`traitsOnce`, in options, are set only where
     * the profile has none yet). Later items carry this userId, beside the anonymous id, which
     * the server links to it. Naming another user than the current one starts a new anonymous id
     * (call reset() at sign-out rather). Returns the item's eventId, or null.
     */
    identify(userId, traits, options) {
      if (userId !== null && typeof userId === 'object' && traits === undefined) {
        return this.identify(null, userId, options);
      }
      const opts = options || {};
      const id = userId === undefined || userId === null ? this.userId : String(userId);
      if (id && this.userId && id !== this.userId) this.anonymousId = uuidv4();
      if (id !== this.userId) {
        this.userId = id;
        this._saveState();
      }
      const item = { itemType: 'identify', traits: traits || {} };
      if (opts.traitsOnce) item.traitsOnce = opts.traitsOnce;
      return this._capture(item, opts, IDENTITY_PRIORITY);
    }

    /** Links previousId (by default the current userId, else the anonymous id) to userId. */
    alias(userId, previousId, options) {
      if (userId === undefined || userId === null || userId === '') {
        throw new TypeError('alias: userId is required');
      }
      const to = String(userId);
      let from = previousId;
      if (from === undefined || from === null) {
        from = this.userId && this.userId !== to ? this.userId : this.anonymousId;
      }
      const opts = Object.assign({}, options || {}, { userId: to, anonymousId: null });
      return this._capture({ itemType: 'alias', previousId: String(from), userId: to }, opts,
        IDENTITY_PRIORITY);
    }

    /** Puts the current user (or anonymous id) in a group, with the group's traits. */
    group(groupId, traits, options) {
      if (groupId === undefined || groupId === null || groupId === '') {
        throw new TypeError('group: groupId is required');
      }
      return this._capture({ itemType: 'group', groupId: String(groupId), traits: traits || {} },
        options, IDENTITY_PRIORITY);
    }

    /**
     * A page view (stored as the event `page_viewed`): `page()`, `page(name)`,
     * `page(properties)` or `page(name, properties, { category })`. The page's url, path,
     * search, title and referrer are added to the properties unless given.
     */
    page(name, properties, options) {
      const doc = root.document;
      const where = root.location;
      const auto = where ? {
        url: where.href, path: where.pathname, search: where.search,
        title: doc ? doc.title : undefined, referrer: doc ? doc.referrer : undefined,
      } : {};
      return this._view('page', name, properties, options, auto);
    }

    /** A screen view (stored as the event `screen_viewed`), with the arguments of page(). */
    screen(name, properties, options) {
      return this._view('screen', name, properties, options, {});
    }

    /**
     * At sign-out: forgets the userId and the registered properties and starts a new anonymous
     * id. What is queued already goes as it was captured, under the user it was about.
     */
    reset() {
      this.userId = null;
      this.anonymousId = uuidv4();
      this._properties = {};
      this._saveState();
      return this.anonymousId;
    }

    /** Properties added to every event (and page or screen view) from now on, kept across pages. */
    register(properties) {
      this._properties = Object.assign({}, this._properties, properties || {});
      this._saveState();
    }

    /** Stops sending one registered property (or several: an array of names). */
    unregister(names) {
      const next = Object.assign({}, this._properties);
      for (const name of [].concat(names)) delete next[name];
      this._properties = next;
      this._saveState();
    }

    /** The registered properties. */
    get properties() {
      return Object.assign({}, this._properties);
    }

    /**
     * Nothing is captured from now on, and nothing captured is sent, until optIn(); the choice is
     * kept across pages and shared by the origin's tabs. Records (saveRecord) still sync.
     */
    optOut() {
      this._optedOut = true;
      this._saveState();
    }

    /** Captures again, and sends what was held. */
    optIn() {
      this._optedOut = false;
      this._saveState();
      if (this._sync) this._sync._schedule(0);
    }

    get optedOut() {
      return this._optedOut;
    }

    /** Sends everything queued now; resolves to true when all of it was delivered. */
    flush() {
      const sync = this._sync || new SyncService({ telemetry: this });
      return sync.flush().then((result) => result.delivered, () => false);
    }

    /**
     * Sends what it can, then stops sending from this page; resolves to true when everything
     * was delivered. What is left (or captured later) stays queued for the next page.
     */
    shutdown() {
      return this.flush().then((delivered) => {
        if (this._sync) this._sync.stop();
        return delivered;
      });
    }

    _view(kind, name, properties, options, auto) {
      if (name !== null && typeof name === 'object' && properties === undefined) {
        return this._view(kind, undefined, name, options, auto);
      }
      const opts = options || {};
      const item = { itemType: kind, properties: Object.assign({}, auto, this._with(properties)) };
      if (name !== undefined && name !== null) item.name = String(name);
      if (opts.category !== undefined && opts.category !== null) item.category = String(opts.category);
      return this._capture(item, opts);
    }

    // Registered properties under the caller's own.
    _with(data) {
      for (const key in this._properties) {
        if (Object.prototype.hasOwnProperty.call(this._properties, key)) {
          return Object.assign({}, this._properties, data || {});
        }
      }
      return data || {};
    }

    _context() {
      const nav = root.navigator;
      const doc = root.document;
      return {
        library: { name: LIBRARY_NAME, version: VERSION },
        page: { url: root.location ? root.location.href : null, referrer: doc ? doc.referrer : null },
        userAgent: nav ? nav.userAgent : null,
      };
    }

    // Queues one tracking item (an event or a verb): its eventId, the metadata (context and
    // clientTimestamp), the people it is about, the beforeSend hook. Returns the eventId, or
    // null when the item is not captured (opted out, dropped by the hook, refused).
    _capture(fields, options, defaultPriority) {
      if (this._optedOut) return null;
      const opts = options || {};
      const eventId = opts.eventId || uuidv7();
      const given = opts.metadata ? opts.metadata.clientTimestamp : undefined;
      if (given !== undefined && given !== null) {
        const problem = timestampProblem(given);
        if (problem) {
          return this._refuse(eventId, 'invalid_item', 'metadata.clientTimestamp: ' + problem,
            { 'metadata.clientTimestamp': [problem] });
        }
      }
      const metadata = this.autoContext
        ? Object.assign({ context: this._context() }, opts.metadata || {})
        : Object.assign({}, opts.metadata || {});
      if (given === undefined || given === null) metadata.clientTimestamp = nowIso();
      let item = Object.assign({ itemType: fields.itemType, eventId }, fields, { metadata });
      let userId = opts.userId === undefined ? this.userId : opts.userId;
      let anonymousId = opts.anonymousId === undefined ? this.anonymousId : opts.anonymousId;
      if (this.beforeSend) {
        const draft = Object.assign({}, item, { userId, anonymousId });
        let result;
        try {
          result = this.beforeSend(draft);
        } catch (err) {
          // The hook may be what keeps private data out: not sent as it was, then.
          return this._refuse(eventId, 'before_send_failed', String((err && err.message) || err));
        }
        if (result === null || result === false) return null;
        item = Object.assign({}, result === undefined ? draft : result);
        if (item.itemType !== fields.itemType || typeof item.eventId !== 'string' || !item.eventId) {
          return this._refuse(eventId, 'invalid_item',
            'beforeSend must keep the itemType and a string eventId');
        }
        userId = orNull(item.userId);
        anonymousId = orNull(item.anonymousId);
        delete item.userId;
        delete item.anonymousId;
      }
      if (orNull(userId) === null && orNull(anonymousId) === null) {
        return this._refuse(item.eventId, 'invalid_item', 'an item needs a userId or an anonymousId');
      }
      if (SELF_NAMED_TYPES.has(item.itemType)) {
        if (orNull(userId) !== null) item.userId = userId;
        if (orNull(anonymousId) !== null && item.itemType !== 'alias') item.anonymousId = anonymousId;
      }
      return this._enqueue({
        itemId: item.eventId,
        priority: this._priority(opts.priority, defaultPriority),
        userId: orNull(userId),
        anonymousId: orNull(anonymousId),
        item,
      });
    }

    _readState() {
      if (!this._stateStore) return this._memoryState || {};
      try {
        return parseJson(this._stateStore.getItem(this._stateKey)) || {};
      } catch (err) {
        return {};
      }
    }

    _applyState(state) {
      this.anonymousId = typeof state.anonymousId === 'string' && state.anonymousId
        ? state.anonymousId : null;
      this.userId = state.userId === undefined ? null : state.userId;
      this._properties = state.properties && typeof state.properties === 'object'
        ? state.properties : {};
      this._optedOut = typeof state.optedOut === 'boolean' ? state.optedOut : this._optOutByDefault;
      if (!this.anonymousId) {
        this.anonymousId = uuidv4();
        this._saveState();
      }
    }

    _saveState() {
      const state = {
        anonymousId: this.anonymousId,
        userId: this.userId,
        properties: this._properties,
        optedOut: this._optedOut,
      };
      if (!this._stateStore) {
        this._memoryState = state;
        return;
      }
      try {
        this._stateStore.setItem(this._stateKey, JSON.stringify(state));
      } catch (err) {
        // Full or refused: the state holds for this page, and the next one starts anew.
      }
    }

    // The opt-out choice as the origin has it now (another tab may have made it a moment ago).
    _holdsTracking() {
      const state = this._readState();
      if (typeof state.optedOut === 'boolean') this._optedOut = state.optedOut;
      return this._optedOut;
    }

    /** Queues a change to one record, based on the last version of it this client saw. */
    saveRecord(recordType, recordId, data, options) {
      if (typeof recordType !== 'string' || !recordType || recordType === 'event') {
        throw new TypeError('saveRecord: recordType must be a string other than "event"');
      }
      const opts = options || {};
      const itemId = uuidv7();
      const item = {
        itemType: recordType,
        itemId,
        recordId: String(recordId),
        data: data || {},
        clientTimestamp: nowIso(),
      };
      if (opts.conflictResolution) item.conflictResolution = opts.conflictResolution;
      return this._enqueue({
        itemId,
        priority: this._priority(opts.priority),
        userId: opts.userId === undefined ? this.userId : opts.userId,
        anonymousId: this.anonymousId,
        item,
      });
    }

    /** The last version of a record this client saw (0 when it has seen none). */
    knownVersion(recordType, recordId) {
      return this._versions[versionKey(recordType, String(recordId))] || 0;
    }

    /** Pulls records of one type changed on the server since the last pull. */
    async pullRecords(recordType, options) {
      await this.initialize();
      const opts = options || {};
      let since = opts.since !== undefined ? opts.since : this._checkpoints[recordType];
      const pulled = [];
      for (let page = 0; page < MAX_PULL_PAGES; page += 1) {
        const params = new URLSearchParams({ recordType });
        if (since !== undefined && since !== null && since !== '') params.set('since', since);
        const res = await fetch(this.endpoint + RECORDS_PATH + '?' + params.toString(), {
          headers: this.headers(),
          credentials: 'omit',
        });
        const body = await res.json().catch(() => null);
        if (!res.ok) {
          const error = new Error((body && body.message) || 'pull failed: HTTP ' + res.status);
          error.status = res.status;
          error.body = body;
          // The server's id of the request, which its log lines name.
          error.requestId = res.headers.get(REQUEST_ID_HEADER);
          this.emit('sync:error', {
            error: 'pull_failed', status: res.status, recordType, body, requestId: error.requestId,
          });
          throw error;
        }
        const records = (body && body.records) || [];
        for (const record of records) {
          const id = record.recordId;
          if (id === undefined || record.version === undefined) continue;
          this._versions[versionKey(recordType, String(id))] = record.version;
          pulled.push(record);
        }
        const next = body ? body.nextSince : undefined;
        const progressed = next !== undefined && next !== null && next !== since;
        if (progressed) since = next;
        if (!records.length || !progressed || (body && body.hasMore === false)) break;
      }
      if (since !== undefined) this._checkpoints[recordType] = since;
      await this.storage.setMeta('versions', this._versions);
      await this.storage.setMeta('checkpoints', this._checkpoints);
      this.emit('records:pulled', { recordType, records: pulled, checkpoint: since });
      return pulled;
    }

    /** Resolves once every capture made so far is written to the queue (or its write failed). */
    persisted() {
      return this.initialize().then(() => this._scheduleWrite());
    }

    /** How many items wait in the queue (all tabs of this origin). */
    async queueSize() {
      await this.persisted();
      return this.storage.count();
    }

    _priority(value, fallback) {
      if (typeof value === 'number') return value;
      if (value && Object.prototype.hasOwnProperty.call(PRIORITIES, value)) {
        return PRIORITIES[value];
      }
      return fallback || 0;
    }

    _refuse(itemId, error, message, fields) {
      this.emit('sync:error', {
        error, message, fields: fields || {}, items: [{ itemId }], willRetry: false,
      });
      return null;
    }

    // Returns the itemId, or null when the item is too large for the server to ever take.
    _enqueue(record) {
      const json = JSON.stringify(record.item);
      record.bytes = byteLength(json);
      if (record.bytes > MAX_ITEM_BYTES) {
        return this._refuse(record.itemId, 'item_too_large',
          'item is ' + record.bytes + ' bytes; the limit is ' + MAX_ITEM_BYTES);
      }
      this._pending.push(record);
      this._unsent.set(record.itemId, record);
      if (this._journaling) this._journalWrite(record, json);
      if (this._waiting() > this.maxQueue) this._trimPending();
      if (this._ready) this._scheduleWrite();
      for (const hook of this._captureHooks) hook(record);
      return record.itemId;
    }

    _journalWrite(record, itemJson) {
      const text = '{"itemId":' + JSON.stringify(record.itemId) +
        ',"priority":' + JSON.stringify(record.priority) +
        ',"userId":' + JSON.stringify(orNull(record.userId)) +
        ',"anonymousId":' + JSON.stringify(orNull(record.anonymousId)) +
        ',"bytes":' + record.bytes + ',"item":' + itemJson + '}';
      try {
        this._local.setItem(this._journalPrefix + record.itemId, text);
        this._journaled.add(record.itemId);
      } catch (err) {
        // Most likely QuotaExceededError. The event is still queued, but until IndexedDB has it
        // a page closed now would lose it: say so, at capture.
        this.emit('sync:error', {
          error: 'journal_full',
          message: 'localStorage refused the journal entry (' + ((err && err.name) || err) +
            '): the event is kept in memory until IndexedDB commits it, and is lost if the ' +
            'page closes first',
          items: [{ itemId: record.itemId }],
          willRetry: true,
        });
      }
    }

    // Journal entries go a few at a time, each lot in a task of its own: a removal costs about
    // as much as the write, and a burst's worth at once would be a long task.
    _unjournal(itemId) {
      if (!this._journaled.delete(itemId)) return;
      this._trims.push(itemId);
      if (this._trims.length === 1) nextTask(() => this._trimJournal(JOURNAL_TRIM_CHUNK));
    }

    _trimJournal(limit) {
      for (const itemId of this._trims.splice(0, limit)) {
        try {
          this._local.removeItem(this._journalPrefix + itemId);
        } catch (err) {
          // Left behind, the entry is folded in again later; the server answers `duplicate`.
        }
      }
      if (this._trims.length) nextTask(() => this._trimJournal(JOURNAL_TRIM_CHUNK));
    }

    // Captures not yet committed to the queue (and not dropped).
    _waiting() {
      return this._pending.length + this._writing.length - this._dropAfterWrite.size;
    }

    // The queue could not be written for a while (another tab holds the database): keep what
    // waits for it (and the journal) within maxQueue, as the queue itself is kept.
    _trimPending() {
      const waiting = this._writing.filter((r) => !this._dropAfterWrite.has(r.itemId))
        .concat(this._pending);
      const victims = pickVictims(waiting, waiting.length - this.maxQueue, new Set());
      const ids = new Set(victims.map((v) => v.itemId));
      this._pending = this._pending.filter((r) => !ids.has(r.itemId));
      for (const r of this._writing) if (ids.has(r.itemId)) this._dropAfterWrite.add(r.itemId);
      this._dropped(victims);
    }

    _dropped(victims) {
      if (!victims.length) return;
      for (const v of victims) {
        this._unsent.delete(v.itemId);
        this._unjournal(v.itemId);
      }
      this.emit('queue:dropped', {
        count: victims.length,
        itemIds: victims.map((v) => v.itemId),
        maxQueue: this.maxQueue,
      });
    }

    // What earlier pages (and tabs) journaled but never committed, and the batches they sent
    // at page hide: into the queue with this page's next write.
    _foldJournal() {
      const ls = this._local;
      if (!ls) return;
      const mine = new Set(this._pending.map((r) => r.itemId));
      let keys;
      try {
        keys = keysWithPrefix(ls, this.storageName + ':');
      } catch (err) {
        return;
      }
      for (const key of keys) {
        if (key.startsWith(this._journalPrefix)) {
          const id = key.slice(this._journalPrefix.length);
          if (mine.has(id)) continue;
          const record = parseJson(ls.getItem(key));
          this._journaled.add(id);
          if (!record || record.itemId !== id) {
            this._unjournal(id);
            continue;
          }
          this._pending.push(record);
          this._unsent.set(id, record);
        } else if (key.startsWith(this._hidePrefix)) {
          const batch = parseJson(ls.getItem(key));
          if (batch && Array.isArray(batch.items)) {
            // This tab's until a snapshot of the queue shows it (see SyncService._known).
            batch.folded = true;
            this._foldedBatches.push(batch);
            this._batches.set(batch.batchId, batch);
          }
          else ls.removeItem(key);
        }
      }
      if (this._waiting() > this.maxQueue) this._trimPending();
    }

    // Records a batch about to be sent at page hide, synchronously, so that a later page sends
    // the same batchId with the same items if the answer never comes.
    _recordHideBatch(batch) {
      if (!this._local) return;
      try {
        this._local.setItem(this._hidePrefix + batch.batchId, JSON.stringify(batchRecord(batch)));
      } catch (err) {
        // Not recorded: a later page sends these items in a batch of its own instead; the
        // server stores each once whatever the batch.
      }
    }

    _forgetHideBatch(batchId) {
      if (!this._local) return;
      try {
        this._local.removeItem(this._hidePrefix + batchId);
      } catch (err) {
        // A stale record is resent once by a later page and answered as before.
      }
    }

    // Writes the captures to the queue in a task of its own (the journal has them already), in
    // transactions of at most WRITE_CHUNK, one per task: a burst of captures never lengthens the
    // capturing task, and no write is a long task.
    _scheduleWrite() {
      if (!this._writeQueued) {
        this._writeQueued = true;
        this._writes = this._writes.then(async () => {
          await new Promise((resolve) => nextTask(resolve));
          this._writeQueued = false;
          while (await this._writePending()) await new Promise((resolve) => nextTask(resolve));
        });
      }
      return this._writes;
    }

    // Writes one chunk; true when more wait.
    async _writePending() {
      // Before the queue is open (and the record versions read), captures wait in the journal.
      if (!this._initialized) return false;
      const records = this._pending.splice(0, WRITE_CHUNK);
      // A folded batch already settled (sent again at page hide) needs no keeping.
      const batches = this._foldedBatches.splice(0).filter((b) => !b.settled);
      if (!records.length && !batches.length) return false;
      let versionsChanged = false;
      for (const r of records) {
        if (!isTracking(r.item) && r.item.baseVersion === undefined) {
          // Chain this client's own writes: the next save of a record is based on this one.
          const key = versionKey(r.item.itemType, r.item.recordId);
          r.item.baseVersion = this._versions[key] || 0;
          this._versions[key] = r.item.baseVersion + 1;
          versionsChanged = true;
        }
      }
      let dropped;
      this._writing = records;
      try {
        // One transaction: a sender never sees the items without the batch that carries them.
        dropped = await this.storage.append(records, this.maxQueue,
          versionsChanged ? this._versions : null, batches);
      } catch (err) {
        this._writing = [];
        this._dropAfterWrite.clear();
        // Kept, in memory and in the journal, and written again shortly (on a reopened
        // database if another tab closed it). Acknowledged meanwhile: no longer needed.
        this._pending.unshift(...records.filter((r) => this._unsent.has(r.itemId)));
        this._foldedBatches.unshift(...batches);
        this.emit('sync:error', {
          error: 'storage_error',
          message: String((err && err.message) || err),
          willRetry: true,
          retryInMs: STORAGE_RETRY_MS,
        });
        clearTimeout(this._retryTimer);
        this._retryTimer = setTimeout(() => this._scheduleWrite(), STORAGE_RETRY_MS);
        return false;
      }
      this._writing = [];
      if (this._dropAfterWrite.size) {
        // Dropped while this write waited: out again (if that fails they are sent, not lost).
        const late = Array.from(this._dropAfterWrite);
        this._dropAfterWrite.clear();
        await this.storage.remove(late).catch(() => null);
      }
      for (const r of records) this._unjournal(r.itemId);
      for (const batch of batches) this._forgetHideBatch(batch.batchId);
      this._dropped(dropped);
      if (records.length) this.emit('queue:added', { count: records.length });
      return this._pending.length > 0;
    }

    _forgetSentElsewhere(queuedIds) {
      const pending = new Set(this._pending.map((r) => r.itemId));
      for (const id of Array.from(this._unsent.keys())) {
        if (!queuedIds.has(id) && !pending.has(id)) this._unsent.delete(id);
      }
    }

    _acknowledged(itemIds) {
      const done = new Set(itemIds);
      for (const id of itemIds) {
        this._unsent.delete(id);
        this._unjournal(id);
      }
      if (this._pending.some((r) => done.has(r.itemId))) {
        this._pending = this._pending.filter((r) => !done.has(r.itemId));
      }
    }
  }

  // --- SyncService: sends the queue in batches, one tab at a time ---
  class SyncService {
    constructor(options) {
      const opts = options || {};
      if (!opts.telemetry) throw new TypeError('SyncService: telemetry is required');
      this.telemetry = opts.telemetry;
      this.batchSize = opts.batchSize || this.telemetry.batchSize;
      // flushDelay is the name of an earlier release for the same wait.
      this.flushInterval = opts.flushInterval || opts.flushDelay || DEFAULT_FLUSH_INTERVAL_MS;
      this.lockName = this.telemetry.storageName === DEFAULT_STORAGE_NAME
        ? LOCK_NAME : LOCK_NAME + ':' + this.telemetry.storageName;
      this.owner = uuidv7();
      this._attempt = 0;
      this._notBefore = 0;
      this._timer = null;
      this._timerAt = 0;
      this._flushing = null;
      this._again = false;
      // Items on the wire from this tab, and the bytes of its keepalive requests in flight.
      this._inFlight = new Set();
      this._keepaliveBytes = 0;
      // Inside a page-hide event's dispatch; a send of what its handlers capture is queued.
      this._hidden = false;
      this._hideQueued = false;
      // After pagehide the browser fails this document's requests, even those that go through.
      this._leaving = false;
      this._batchLimit = this.batchSize;
      this._listeners = [];
      this._started = false;
      if (!this.telemetry._sync) this.telemetry._sync = this;
    }

    on(name, fn) {
      return this.telemetry.on(name, fn);
    }

    /** Starts sending: batched on a timer, when back online, and at page hide. */
    start() {
      if (this._started) return this;
      this._started = true;
      const listen = (target, name, fn) => {
        if (!target || !target.addEventListener) return;
        target.addEventListener(name, fn);
        this._listeners.push(() => target.removeEventListener(name, fn));
      };
      listen(root, 'online', () => {
        // Back online: whatever failed was most likely the network, so try at once.
        this._attempt = 0;
        this._notBefore = 0;
        this.telemetry.initialize()
          .then(() => this.telemetry.storage.setMeta('backoff', null))
          .catch(() => null)
          .then(() => this._tick());
      });
      listen(root, 'pagehide', () => {
        this._leaving = true;
        this._pageHidden(true);
        // What waits to leave the journal would be sent again by the next page: leave now.
        this.telemetry._trimJournal(Infinity);
      });
      listen(root, 'pageshow', () => {
        this._leaving = false;
      });
      listen(root.document, 'visibilitychange', () => {
        if (root.document.visibilityState !== 'hidden') return;
        this._pageHidden(false);
        // Then what other pages left in the queue, with what the keepalive budget has left.
        this._tick({ keepalive: true });
      });
      const hook = () => this._captured();
      this.telemetry._captureHooks.push(hook);
      this._listeners.push(() => {
        const hooks = this.telemetry._captureHooks;
        if (hooks.indexOf(hook) >= 0) hooks.splice(hooks.indexOf(hook), 1);
      });
      this.telemetry.initialize().catch(() => null).then(() => this._tick());
      return this;
    }

    stop() {
      for (const off of this._listeners.splice(0)) off();
      clearTimeout(this._timer);
      this._timer = null;
      this._started = false;
    }

    /**
     * Sends everything queued (by any tab of this origin), waiting for a tab that is sending
     * first. Resolves to {delivered, pending, successCount, failureCount, duplicates, suppressed,
     * batches}:
     * `delivered` is true when the queue is empty, `pending` how many items wait in it, and
     * `reason` says why not when it is 'offline', 'backoff', 'locked' or 'error'.
     */
    flush(options) {
      if (this._flushing) return this._flushing.catch(() => null).then(() => this.flush(options));
      return this._startRun(Object.assign({ waitForLock: true }, options));
    }

    // Timers and browser events: joins a run in progress (and asks for another after it).
    _tick(options) {
      if (this._flushing) {
        this._again = true;
        return this._flushing;
      }
      return this._startRun(options || {}).catch((err) => {
        // Nobody awaits a timer's run: report what stopped it, and the sweep tries again.
        this.telemetry.emit('sync:error', {
          error: 'storage_error', message: String((err && err.message) || err), willRetry: true,
        });
        return null;
      });
    }

    _startRun(options) {
      const run = this._flush(options).finally(() => {
        if (this._flushing === run) this._flushing = null;
        if (this._again) {
          this._again = false;
          this._schedule(0);
        } else {
          // The sweep: what other tabs and earlier pages left, and retries.
          this._schedule(this.flushInterval);
        }
      });
      this._flushing = run;
      return run;
    }

    // A capture sends at once when a whole batch waits, else within flushInterval at the most.
    _captured() {
      if (this._hidden) {
        // Captured in the app's own pagehide or visibilitychange handler, after the SDK's: it
        // goes out as soon as that handler returns.
        if (!this._hideQueued) {
          this._hideQueued = true;
          Promise.resolve().then(() => {
            this._hideQueued = false;
            this._flushOnPageHide(false);
          });
        }
        return;
      }
      const whole = this.telemetry._unsent.size >= this._batchLimit && isOnline();
      this._schedule(whole ? 0 : this.flushInterval);
    }

    _schedule(delay) {
      if (!this._started) return;
      const at = Math.max(Date.now() + delay, this._notBefore);
      if (this._timer && this._timerAt <= at) return;
      clearTimeout(this._timer);
      this._timerAt = at;
      this._timer = setTimeout(() => {
        this._timer = null;
        this._tick();
      }, at - Date.now());
    }

    async _flush(options) {
      const telemetry = this.telemetry;
      await telemetry.persisted();
      const totals = {
        successCount: 0, failureCount: 0, duplicates: 0, suppressed: 0, batches: 0,
      };
      let reason = null;
      if (!isOnline()) {
        reason = 'offline';
      } else {
        const shared = await telemetry.storage.getMeta('backoff');
        if (shared && shared.until > this._notBefore) this._notBefore = shared.until;
        if (Date.now() < this._notBefore) {
          reason = 'backoff';
        } else {
          const sent = await withSenderLock(this.lockName, this.owner,
            () => this._sendAll(options), options.waitForLock);
          if (sent === null) {
            reason = 'locked';
            // Another tab sends; forget what it already delivered so page hide does not resend it.
            const queued = await telemetry.storage.all();
            telemetry._forgetSentElsewhere(new Set(queued.map((r) => r.itemId)));
          } else {
            Object.assign(totals, sent.totals);
            reason = sent.reason;
          }
        }
      }
      const pending = await telemetry.storage.count() + telemetry._pending.length;
      const result = Object.assign(totals, { delivered: pending === 0, pending });
      if (!reason && telemetry.optedOut) reason = 'opted_out';
      if (reason && pending) result.reason = reason;
      return result;
    }

    // An explicit flush (and page hide) sends everything; a timer's run sends what waited and
    // then only whole batches, so a steady stream goes out in few requests.
    async _sendAll(options) {
      const totals = {
        successCount: 0, failureCount: 0, duplicates: 0, suppressed: 0, batches: 0,
      };
      let reason = null;
      const drain = options.waitForLock || options.keepalive;
      while (isOnline()) {
        const maxBytes = options.keepalive
          ? KEEPALIVE_MAX_BYTES - this._keepaliveBytes : MAX_BATCH_BYTES;
        const batch = await this._nextBatch(maxBytes, drain || !totals.batches);
        if (!batch) break;
        const outcome = await this._send(batch, options.keepalive);
        if (outcome.retry) {
          reason = 'error';
          break;
        }
        totals.successCount += outcome.successCount || 0;
        totals.failureCount += outcome.failureCount || 0;
        totals.duplicates += outcome.duplicates || 0;
        totals.suppressed += outcome.suppressed || 0;
        totals.batches += 1;
      }
      if (!isOnline()) reason = 'offline';
      return { totals, reason };
    }

    // The batches being sent, as this tab knows them (one object per batchId).
    _known(batches) {
      const known = this.telemetry._batches;
      const seen = new Set(batches.map((b) => b.batchId));
      for (const [batchId, batch] of known) {
        // Settled by another tab meanwhile, unless it is this tab's: on the wire, sent at page
        // hide, or folded in from a closed page's record and not yet seen in a snapshot (the
        // write that puts it into the queue may commit after this snapshot was read; forgotten
        // then, its items would go out again in a new batch under a new batchId).
        if (!seen.has(batchId) && !batch.folded && !(batch.keepalive && !batch.settled) &&
            !batch.itemIds.some((id) => this._inFlight.has(id))) known.delete(batchId);
      }
      return batches.map((b) => {
        if (!known.has(b.batchId)) known.set(b.batchId, b);
        const batch = known.get(b.batchId);
        batch.folded = false;
        return batch;
      });
    }

    // A batch already being sent first (same batchId, same items), else a new one, which is
    // kept with its items before it goes out so a re-send after a reload is the same batch.
    // With `partial` false only a whole batch (by count or size) is made.
    async _nextBatch(maxBytes, partial) {
      const storage = this.telemetry.storage;
      const snapshot = await storage.snapshot();
      const batches = this._known(snapshot.batches);
      // Opted out: tracking waits in the queue, records still go.
      const held = this.telemetry._holdsTracking();
      for (const batch of batches) {
        if (batch.settled || batch.itemIds.some((id) => this._inFlight.has(id))) continue;
        if (held && batch.items.some(isTracking)) continue;
        if (byteLength(this._body(batch)) <= maxBytes) return batch;
      }
      const busy = batchItemIds(this.telemetry._batches.values());
      for (const id of this._inFlight) busy.add(id);
      const free = snapshot.records.filter((r) => !busy.has(r.itemId) && !(held && isTracking(r.item)));
      if (!free.length) return null;
      const first = free[0];
      const batch = {
        batchId: uuidv7(),
        userId: orNull(first.userId),
        anonymousId: orNull(first.anonymousId),
        itemIds: [],
        items: [],
      };
      let bytes = byteLength(this._body(batch));
      let whole = false;
      for (const r of free) {
        if (batch.itemIds.length >= this._batchLimit) {
          whole = true;
          break;
        }
        if (!samePeople(r, first)) continue;
        const size = recordBytes(r) + 1;
        if (bytes + size > maxBytes && (batch.itemIds.length || maxBytes < MAX_BATCH_BYTES)) {
          whole = true;
          break;
        }
        batch.itemIds.push(r.itemId);
        batch.items.push(r.item);
        bytes += size;
      }
      whole = whole || batch.itemIds.length >= this._batchLimit;
      if (!batch.itemIds.length || (!partial && !whole)) return null;
      await storage.pin(batch);
      this.telemetry._batches.set(batch.batchId, batch);
      return batch;
    }

    _body(batch) {
      const body = { batchId: batch.batchId, sentAt: nowIso(), items: batch.items };
      if (orNull(batch.userId) !== null) body.userId = batch.userId;
      if (orNull(batch.anonymousId) !== null) body.anonymousId = batch.anonymousId;
      if (this.telemetry.clientId) body.clientId = this.telemetry.clientId;
      return JSON.stringify(body);
    }

    _post(body, keepalive, gzipped) {
      const headers = this.telemetry.headers();
      if (gzipped) headers['Content-Encoding'] = 'gzip';
      return fetch(this.telemetry.endpoint + BATCH_PATH, {
        method: 'POST',
        headers,
        body,
        keepalive: Boolean(keepalive),
        credentials: 'omit',
      });
    }

    // The request starts before the first await, so page hide can call this synchronously.
    async _send(batch, keepalive) {
      const telemetry = this.telemetry;
      telemetry.emit('sync:start', { batchId: batch.batchId, count: batch.itemIds.length });
      const body = this._body(batch);
      const bytes = keepalive ? byteLength(body) : 0;
      for (const id of batch.itemIds) this._inFlight.add(id);
      this._keepaliveBytes += bytes;
      if (keepalive) batch.keepalive = true;
      let res;
      let answer = null;
      let cutOff = false;
      try {
        // A keepalive request must start now (the page may be going): sent as it is.
        const packed = keepalive || !telemetry.compress || body.length < GZIP_MIN_BYTES
          ? null : await gzip(body);
        res = await this._post(packed || body, keepalive, Boolean(packed));
        answer = await res.json().catch(() => null);
      } catch (err) {
        // Cut off by the page going, not by the network: the request may well have arrived.
        // No pause for the next page, and its items stay "on the wire" for this one; what was
        // not settled is sent again, same batch, from the page-hide record or the queue.
        cutOff = this._leaving;
        if (cutOff) return { retry: true };
        return this._retryLater(batch, null, {
          error: 'network_error',
          message: String((err && err.message) || err),
        });
      } finally {
        if (!cutOff) for (const id of batch.itemIds) this._inFlight.delete(id);
        this._keepaliveBytes -= bytes;
      }
      // Sent twice (again at page hide): the first answer settled it.
      if (batch.settled) return { successCount: 0 };
      if (res.ok) return this._applyResults(batch, answer);
      // The server's id of the request, which its log lines name.
      const requestId = res.headers.get(REQUEST_ID_HEADER);
      if (isRetryableStatus(res.status)) {
        return this._retryLater(batch, parseRetryAfter(res.headers.get('Retry-After')),
          Object.assign({ error: 'http_' + res.status }, answer || {},
            { status: res.status, requestId }));
      }
      return this._rejected(batch, res.status, answer || {}, requestId);
    }

    // Forgets a settled batch and its items everywhere: queue, journal, page-hide record.
    async _settle(batch, itemIds) {
      const telemetry = this.telemetry;
      batch.settled = true;
      telemetry._batches.delete(batch.batchId);
      telemetry._acknowledged(itemIds);
      await telemetry.initialize();
      await telemetry.storage.remove(itemIds, batch.batchId);
      telemetry._forgetHideBatch(batch.batchId);
    }

    async _applyResults(batch, body) {
      let results = body && Array.isArray(body.results) ? body.results : null;
      if (!results) {
        // A 2xx without per-item results acknowledges the whole batch.
        results = batch.itemIds.map((itemId, index) => ({ index, itemId, status: 'accepted' }));
      }
      const known = new Set(batch.itemIds);
      const done = [];
      const rejected = [];
      const suppressed = [];
      const unknown = [];
      let accepted = 0;
      let duplicates = 0;
      for (const result of results) {
        const itemId = known.has(result.itemId) ? result.itemId : batch.itemIds[result.index];
        if (itemId === undefined) continue;
        if (result.status === 'accepted') accepted += 1;
        else if (result.status === 'duplicate') duplicates += 1;
        else if (result.status === 'rejected') {
          rejected.push({ itemId, index: result.index, fields: result.fields || {} });
        } else if (result.status === 'suppressed') {
          // The person asked to be forgotten: final, the server will never take the item.
          suppressed.push(itemId);
        } else {
          // A status this release does not know is still the server's answer to the item:
          // final too, or the item would be sent again for ever.
          unknown.push({ itemId, index: result.index, status: result.status });
        }
        done.push(itemId);
      }
      // Forgets the batch too: items the answer did not mention go out in a later batch.
      await this._settle(batch, done);
      await this._succeeded();
      if (rejected.length) {
        this.telemetry.emit('sync:error', {
          error: 'rejected',
          status: 202,
          batchId: batch.batchId,
          message: rejected.length + ' item(s) rejected by the server',
          items: rejected,
          fields: Object.assign({}, ...rejected.map((r) => r.fields)),
          willRetry: false,
        });
      }
      if (suppressed.length) {
        this.telemetry.emit('sync:error', {
          error: 'suppressed',
          status: 202,
          batchId: batch.batchId,
          message: suppressed.length + ' item(s) refused: their person is suppressed',
          itemIds: suppressed,
          items: suppressed.map((itemId) => ({ itemId })),
          count: suppressed.length,
          willRetry: false,
        });
      }
      if (unknown.length) {
        this.telemetry.emit('sync:error', {
          error: 'unknown_status',
          status: 202,
          batchId: batch.batchId,
          message: unknown.length + ' item(s) answered with a status this SDK does not know',
          itemIds: unknown.map((u) => u.itemId),
          items: unknown,
          count: unknown.length,
          willRetry: false,
        });
      }
      const result = {
        batchId: batch.batchId,
        successCount: accepted + duplicates,
        accepted,
        failureCount: rejected.length + unknown.length,
        duplicates,
        suppressed: suppressed.length,
      };
      this.telemetry.emit('sync:complete', result);
      return result;
    }

    async _retryLater(batch, retryAfterMs, info) {
      this._attempt += 1;
      const delay = retryAfterMs === null || retryAfterMs === undefined
        ? backoffDelay(this._attempt)
        : retryAfterMs + Math.random() * Math.min(retryAfterMs * 0.1, 1000);
      this._notBefore = Date.now() + delay;
      this.telemetry.emit('sync:error', Object.assign({}, info, {
        batchId: batch.batchId,
        count: batch.itemIds.length,
        willRetry: true,
        retryInMs: Math.round(delay),
        attempt: this._attempt,
      }));
      this._schedule(delay);
      // Other tabs honour the same pause.
      await this.telemetry.initialize();
      await this.telemetry.storage.setMeta('backoff', { until: this._notBefore });
      return { retry: true };
    }

    async _succeeded() {
      this._batchLimit = this.batchSize;
      if (this._attempt || this._notBefore) {
        this._attempt = 0;
        this._notBefore = 0;
        await this.telemetry.storage.setMeta('backoff', null);
      }
    }

    async _rejected(batch, status, body, requestId) {
      const info = {
        error: body.error || 'http_' + status,
        status,
        message: body.message || 'HTTP ' + status,
        fields: body.fields || {},
        batchId: batch.batchId,
        requestId: requestId || null,
      };
      if (status === 401 || status === 403) {
        // A bad key is a setup problem, not bad data: keep the queue and try again much later.
        this._notBefore = Date.now() + AUTH_RETRY_MS;
        this._schedule(AUTH_RETRY_MS);
        this.telemetry.emit('sync:error', Object.assign(info, {
          count: batch.itemIds.length,
          willRetry: true,
          retryInMs: AUTH_RETRY_MS,
        }));
        return { retry: true };
      }
      if (status === 413 && batch.itemIds.length > 1) {
        // Too large as a whole: the same items go again in smaller batches (new batchIds).
        this._batchLimit = Math.max(1, Math.floor(batch.itemIds.length / 2));
        await this._settle(batch, []);
        return { successCount: 0 };
      }
      if (Array.isArray(body.results)) return this._applyResults(batch, body);
      const indexes = rejectedIndexes(body.fields, batch.itemIds.length);
      const ids = indexes.size
        ? batch.itemIds.filter((_, i) => indexes.has(i))
        : batch.itemIds.slice();
      await this._settle(batch, ids);
      this.telemetry.emit('sync:error', Object.assign(info, {
        items: ids.map((itemId) => ({ itemId })),
        count: ids.length,
        willRetry: false,
      }));
      return { failureCount: ids.length };
    }

    // The SDK's own pagehide / visibilitychange handler. Until this event's other handlers
    // (the app's) have run, a capture is sent at once too.
    _pageHidden(unloading) {
      this._hidden = true;
      setTimeout(() => {
        this._hidden = false;
      }, 0);
      this._flushOnPageHide(unloading);
    }

    // The page may be gone before any promise settles, so this sends synchronously, with
    // keepalive, all it can of what this tab knows to be unsent, within the browser's keepalive
    // budget and in as many requests as that takes: first the batches already being sent (same
    // batchId, same items; when the page goes, also those on the wire in ordinary requests,
    // which the browser cuts), then what this tab captured, in new batches, each recorded
    // first (synchronously, in localStorage) so that a later page resends that same batch.
    // What does not fit, or what waits while offline or backing off, stays in the journal and
    // the queue for the next page.
    _flushOnPageHide(unloading) {
      if (!this._started || !isOnline() || Date.now() < this._notBefore) return;
      const telemetry = this.telemetry;
      const held = telemetry._holdsTracking();
      let budget = KEEPALIVE_MAX_BYTES - this._keepaliveBytes;
      const resend = [];
      const busy = new Set(this._inFlight);
      for (const batch of Array.from(telemetry._batches.values()).sort(byBatchId)) {
        for (const id of batch.itemIds) busy.add(id);
        if (batch.settled || batch.resent || (held && batch.items.some(isTracking))) continue;
        const onWire = batch.itemIds.some((id) => this._inFlight.has(id));
        if (onWire && (!unloading || batch.keepalive)) continue;
        const bytes = byteLength(this._body(batch));
        if (bytes > budget) continue;
        budget -= bytes;
        if (onWire) batch.resent = true;
        resend.push(batch);
      }
      const records = [];
      for (const r of telemetry._unsent.values()) {
        if (!busy.has(r.itemId) && !(held && isTracking(r.item))) records.push(r);
      }
      records.sort(sendOrder);
      const fresh = [];
      const open = new Map();
      for (const r of records) {
        const key = peopleKey(r);
        const size = recordBytes(r) + 1;
        let batch = open.get(key);
        if (batch && batch.itemIds.length >= this._batchLimit) batch = null;
        if (!batch) {
          const next = {
            batchId: uuidv7(),
            userId: orNull(r.userId),
            anonymousId: orNull(r.anonymousId),
            itemIds: [],
            items: [],
          };
          const envelope = byteLength(this._body(next));
          if (envelope + size > budget) continue;
          budget -= envelope;
          batch = next;
          open.set(key, batch);
          fresh.push(batch);
        }
        if (size > budget) continue;
        batch.itemIds.push(r.itemId);
        batch.items.push(r.item);
        budget -= size;
      }
      for (const batch of fresh) {
        telemetry._recordHideBatch(batch);
        telemetry._batches.set(batch.batchId, batch);
      }
      for (const batch of resend.concat(fresh)) this._sendHidden(batch);
    }

    _sendHidden(batch) {
      const storage = () => this.telemetry.initialize().then(() => this.telemetry.storage);
      this._send(batch, true)
        // Not settled (network error, 5xx, a refused key): into the queue as it is, so the
        // retry carries the same batchId and items.
        .then((outcome) => (outcome && outcome.retry ? storage().then((s) => s.pin(batch)) : null))
        .then(() => this.telemetry._forgetHideBatch(batch.batchId))
        .catch(() => null);
    }
  }

  const api = {
    VERSION,
    LIBRARY_NAME,
    TelemetryService,
    SyncService,
    uuidv7,
    parseRetryAfter,
    timestampProblem,
    limits: {
      DEFAULT_MAX_QUEUE,
      DEFAULT_BATCH_SIZE,
      DEFAULT_FLUSH_INTERVAL_MS,
      MAX_ITEM_BYTES,
      MAX_BATCH_BYTES,
      KEEPALIVE_MAX_BYTES,
      BACKOFF_BASE_MS,
      BACKOFF_MAX_MS,
      GZIP_MIN_BYTES,
    },
  };
  root.PrepMateTelemetry = api;
  root.TelemetryService = TelemetryService;
  root.SyncService = SyncService;
})(typeof globalThis !== 'undefined' ? globalThis : window);
