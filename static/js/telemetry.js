/*
 * PrepMate browser telemetry SDK: an offline queue in IndexedDB (localStorage fallback) and a
 * batched, retrying sync that never sends one event as two.
 *
 * Classic script: defines window.TelemetryService, window.SyncService and
 * window.PrepMateTelemetry. telemetry.mjs re-exports the same objects as an ES module.
 *
 *   const telemetry = new TelemetryService({ endpoint, apiKey, userId });
 *   const sync = new SyncService({ telemetry });
 *   telemetry.initialize(); sync.start();
 *   telemetry.captureEvent('interview_completed', { score: 85, duration: 1800 });
 *   telemetry.on('sync:complete', (result) => console.log('Synced items:', result.successCount));
 */
(function (root) {
  'use strict';

  const VERSION = '0.1.0';
  const BATCH_PATH = '/api/telemetry/batch';
  const RECORDS_PATH = '/api/telemetry/records';
  const LOCK_NAME = 'prepmate-telemetry-sync';
  const DEFAULT_STORAGE_NAME = 'prepmate-telemetry';
  const DB_VERSION = 1;
  const DEFAULT_MAX_QUEUE = 500;
  const DEFAULT_BATCH_SIZE = 100;
  const DEFAULT_FLUSH_INTERVAL_MS = 10000;
  // Short pause after a capture so a burst of captures leaves as one batch.
  const DEFAULT_FLUSH_DELAY_MS = 250;
  // The server refuses items over 32 KB and requests over 1 MB; stay well under the latter.
  const MAX_ITEM_BYTES = 32 * 1024;
  const MAX_BATCH_BYTES = 512 * 1024;
  // Browsers cap the bodies of all in-flight keepalive requests at 64 KB together.
  const KEEPALIVE_MAX_BYTES = 63 * 1024;
  const BACKOFF_BASE_MS = 1000;
  const BACKOFF_MAX_MS = 5 * 60 * 1000;
  // After a 401 or 403 the queue is kept and sending pauses this long.
  const AUTH_RETRY_MS = 5 * 60 * 1000;
  const LEASE_MS = 15000;
  const LEASE_SETTLE_MS = 50;
  const MAX_PULL_PAGES = 100;
  const PRIORITIES = { low: -1, normal: 0, high: 1 };

  const encoder = typeof TextEncoder !== 'undefined' ? new TextEncoder() : null;

  function byteLength(text) {
    return encoder ? encoder.encode(text).length : unescape(encodeURIComponent(text)).length;
  }

  function nowIso() {
    return new Date().toISOString();
  }

  function isOnline() {
    return !(root.navigator && root.navigator.onLine === false);
  }

  // --- UUIDv7 (RFC 9562): 48-bit ms timestamp, version 7, 12-bit counter, variant 10, random ---
  let lastMs = 0;
  let counter = 0;

  function randomBytes(n) {
    const bytes = new Uint8Array(n);
    if (root.crypto && root.crypto.getRandomValues) {
      root.crypto.getRandomValues(bytes);
    } else {
      for (let i = 0; i < n; i += 1) bytes[i] = Math.floor(Math.random() * 256);
    }
    return bytes;
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
    let hex = '';
    for (let i = 0; i < 16; i += 1) hex += bytes[i].toString(16).padStart(2, '0');
    return (
      hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' +
      hex.slice(16, 20) + '-' + hex.slice(20)
    );
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
  // A queued record is {itemId, priority, userId, item}; item is what goes on the wire.

  // Send order: higher priority first, then oldest (UUIDv7 ids sort by time).
  function sendOrder(a, b) {
    return (b.priority - a.priority) || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0);
  }

  // The oldest lowest-priority records go first; the batch on the wire is kept while possible.
  function pickVictims(records, excess, inflight) {
    const keep = new Set(inflight && inflight.itemIds ? inflight.itemIds : []);
    const order = records.slice().sort((a, b) => (a.priority - b.priority) ||
      (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
    const victims = order.filter((r) => !keep.has(r.itemId)).slice(0, excess);
    if (victims.length < excess) {
      victims.push(...order.filter((r) => keep.has(r.itemId)).slice(0, excess - victims.length));
    }
    return victims;
  }

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  class IndexedDbStorage {
    constructor(name) {
      this.kind = 'indexeddb';
      this.name = name;
      this.db = null;
    }

    open() {
      return new Promise((resolve, reject) => {
        const req = root.indexedDB.open(this.name, DB_VERSION);
        req.onupgradeneeded = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('queue')) {
            db.createObjectStore('queue', { keyPath: 'itemId' });
          }
          if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta');
        };
        req.onsuccess = () => {
          this.db = req.result;
          // Let a newer version of the SDK in another tab upgrade the database.
          this.db.onversionchange = () => this.db.close();
          resolve(this);
        };
        req.onerror = () => reject(req.error);
        req.onblocked = () => reject(new Error('IndexedDB open blocked'));
      });
    }

    _tx(mode, body) {
      return new Promise((resolve, reject) => {
        const tx = this.db.transaction(['queue', 'meta'], mode);
        const ctx = { queue: tx.objectStore('queue'), meta: tx.objectStore('meta'), result: undefined };
        tx.oncomplete = () => resolve(ctx.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
        body(ctx);
      });
    }

    append(records, maxQueue) {
      return this._tx('readwrite', (t) => {
        for (const r of records) t.queue.put(r);
        const inflightReq = t.meta.get('inflight');
        const allReq = t.queue.getAll();
        t.result = [];
        allReq.onsuccess = () => {
          const excess = allReq.result.length - maxQueue;
          if (excess <= 0) return;
          t.result = pickVictims(allReq.result, excess, inflightReq.result);
          for (const v of t.result) t.queue.delete(v.itemId);
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

    // Deletes acknowledged items and, in the same transaction, forgets the batch they came in.
    remove(itemIds, batchId) {
      return this._tx('readwrite', (t) => {
        for (const id of itemIds) t.queue.delete(id);
        if (batchId) {
          const req = t.meta.get('inflight');
          req.onsuccess = () => {
            if (req.result && req.result.batchId === batchId) t.meta.delete('inflight');
          };
        }
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

    _parse(text) {
      if (text === null || text === undefined) return null;
      try {
        return JSON.parse(text);
      } catch (err) {
        return null;
      }
    }

    _records() {
      const keys = [];
      for (let i = 0; i < this.backend.length; i += 1) {
        const key = this.backend.key(i);
        if (key && key.startsWith(this.itemPrefix)) keys.push(key);
      }
      return keys.map((key) => this._parse(this.backend.getItem(key))).filter(Boolean);
    }

    append(records, maxQueue) {
      for (const r of records) this.backend.setItem(this.itemPrefix + r.itemId, JSON.stringify(r));
      const all = this._records();
      let victims = [];
      if (all.length > maxQueue) {
        victims = pickVictims(all, all.length - maxQueue, this._meta('inflight'));
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

    remove(itemIds, batchId) {
      for (const id of itemIds) this.backend.removeItem(this.itemPrefix + id);
      const inflight = this._meta('inflight');
      if (batchId && inflight && inflight.batchId === batchId) {
        this.backend.removeItem(this.metaPrefix + 'inflight');
      }
      return Promise.resolve();
    }

    _meta(key) {
      return this._parse(this.backend.getItem(this.metaPrefix + key));
    }

    getMeta(key) {
      return Promise.resolve(this._meta(key));
    }

    setMeta(key, value) {
      if (value === null || value === undefined) this.backend.removeItem(this.metaPrefix + key);
      else this.backend.setItem(this.metaPrefix + key, JSON.stringify(value));
      return Promise.resolve();
    }
  }

  function localStorageOrNull() {
    try {
      const ls = root.localStorage;
      const probe = '__prepmate_probe__';
      ls.setItem(probe, '1');
      ls.removeItem(probe);
      return ls;
    } catch (err) {
      return null;
    }
  }

  function openStorage(name, preferred) {
    const fallback = () => new KeyValueStorage(name, localStorageOrNull()).open();
    if (preferred === 'localstorage' || preferred === 'memory' || !root.indexedDB) {
      return preferred === 'memory' ? new KeyValueStorage(name, null).open() : fallback();
    }
    return new IndexedDbStorage(name).open().catch(fallback);
  }

  // --- One sender per origin: Web Locks, else a lease in localStorage ---
  function withLease(lockName, owner, fn) {
    const ls = localStorageOrNull();
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

  function withSenderLock(lockName, owner, fn) {
    const locks = root.navigator && root.navigator.locks;
    if (locks && typeof locks.request === 'function') {
      return locks.request(lockName, { ifAvailable: true }, (lock) => (lock ? fn() : null));
    }
    return withLease(lockName, owner, fn);
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

  // --- TelemetryService: capture and the durable queue ---
  class TelemetryService extends Emitter {
    constructor(options) {
      super();
      const opts = options || {};
      if (!opts.endpoint) throw new TypeError('TelemetryService: endpoint is required');
      this.endpoint = String(opts.endpoint).replace(/\/+$/, '');
      this.apiKey = opts.apiKey || null;
      this.userId = opts.userId === undefined ? null : opts.userId;
      this.clientId = opts.clientId || null;
      this.maxQueue = opts.maxQueue || DEFAULT_MAX_QUEUE;
      this.batchSize = opts.batchSize || DEFAULT_BATCH_SIZE;
      this.storageName = opts.storageName || DEFAULT_STORAGE_NAME;
      this.storagePreference = opts.storage || 'indexeddb';
      this.storage = null;
      this._ready = null;
      this._pending = [];
      this._writes = Promise.resolve();
      // Records this tab captured and has not yet seen acknowledged, for the page-hide flush.
      this._unsent = new Map();
      this._versions = {};
      this._checkpoints = {};
    }

    /** Opens the queue; captures made before this are kept in memory and written here. */
    initialize() {
      if (!this._ready) {
        this._ready = openStorage(this.storageName, this.storagePreference)
          .then((storage) => {
            this.storage = storage;
            return Promise.all([storage.getMeta('versions'), storage.getMeta('checkpoints')]);
          })
          .then(([versions, checkpoints]) => {
            this._versions = Object.assign(versions || {}, this._versions);
            this._checkpoints = checkpoints || {};
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

    /** Queues one event; its eventId (a UUIDv7 made now) is returned at once. */
    captureEvent(eventType, eventData, options) {
      if (typeof eventType !== 'string' || !eventType) {
        throw new TypeError('captureEvent: eventType must be a non-empty string');
      }
      const opts = options || {};
      const eventId = opts.eventId || uuidv7();
      const metadata = Object.assign({}, opts.metadata || {}, { clientTimestamp: nowIso() });
      return this._enqueue({
        itemId: eventId,
        priority: this._priority(opts.priority),
        userId: opts.userId === undefined ? this.userId : opts.userId,
        item: { itemType: 'event', eventId, eventType, eventData: eventData || {}, metadata },
      });
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
          this.emit('sync:error', { error: 'pull_failed', status: res.status, recordType, body });
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

    /** Resolves once every capture made so far is written to the queue. */
    persisted() {
      return this.initialize().then(() => this._scheduleWrite());
    }

    /** How many items wait in the queue (all tabs of this origin). */
    async queueSize() {
      await this.persisted();
      return this.storage.count();
    }

    _priority(value) {
      if (typeof value === 'number') return value;
      if (value && Object.prototype.hasOwnProperty.call(PRIORITIES, value)) {
        return PRIORITIES[value];
      }
      return 0;
    }

    // Returns the itemId, or null when the item is too large for the server to ever take.
    _enqueue(record) {
      const size = byteLength(JSON.stringify(record.item));
      if (size > MAX_ITEM_BYTES) {
        this.emit('sync:error', {
          error: 'item_too_large',
          message: 'item is ' + size + ' bytes; the limit is ' + MAX_ITEM_BYTES,
          items: [{ itemId: record.itemId }],
          willRetry: false,
        });
        return null;
      }
      this._pending.push(record);
      this._unsent.set(record.itemId, record);
      if (this._ready) this._scheduleWrite();
      return record.itemId;
    }

    // Coalesces the captures of one task into one transaction.
    _scheduleWrite() {
      if (!this._writeQueued) {
        this._writeQueued = true;
        this._writes = this._writes.then(() => {
          this._writeQueued = false;
          return this._writePending();
        });
      }
      return this._writes;
    }

    async _writePending() {
      const records = this._pending.splice(0);
      if (!records.length) return;
      for (const r of records) {
        if (r.item.itemType !== 'event' && r.item.baseVersion === undefined) {
          // Chain this client's own writes: the next save of a record is based on this one.
          const key = versionKey(r.item.itemType, r.item.recordId);
          r.item.baseVersion = this._versions[key] || 0;
          this._versions[key] = r.item.baseVersion + 1;
        }
      }
      let dropped;
      try {
        dropped = await this.storage.append(records, this.maxQueue);
        if (records.some((r) => r.item.itemType !== 'event')) {
          await this.storage.setMeta('versions', this._versions);
        }
      } catch (err) {
        this.emit('sync:error', { error: 'storage_error', message: String(err && err.message) });
        return;
      }
      for (const v of dropped) this._unsent.delete(v.itemId);
      if (dropped.length) {
        this.emit('queue:dropped', {
          count: dropped.length,
          itemIds: dropped.map((v) => v.itemId),
          maxQueue: this.maxQueue,
        });
      }
      this.emit('queue:added', { count: records.length });
    }

    _forgetSentElsewhere(queuedIds) {
      const pending = new Set(this._pending.map((r) => r.itemId));
      for (const id of Array.from(this._unsent.keys())) {
        if (!queuedIds.has(id) && !pending.has(id)) this._unsent.delete(id);
      }
    }

    _acknowledged(itemIds) {
      for (const id of itemIds) this._unsent.delete(id);
    }
  }

  // --- SyncService: sends the queue, one tab at a time ---
  class SyncService {
    constructor(options) {
      const opts = options || {};
      if (!opts.telemetry) throw new TypeError('SyncService: telemetry is required');
      this.telemetry = opts.telemetry;
      this.batchSize = opts.batchSize || this.telemetry.batchSize;
      this.flushInterval = opts.flushInterval || DEFAULT_FLUSH_INTERVAL_MS;
      this.flushDelay = opts.flushDelay === undefined ? DEFAULT_FLUSH_DELAY_MS : opts.flushDelay;
      this.lockName = this.telemetry.storageName === DEFAULT_STORAGE_NAME
        ? LOCK_NAME : LOCK_NAME + ':' + this.telemetry.storageName;
      this.owner = uuidv7();
      this._attempt = 0;
      this._notBefore = 0;
      this._timer = null;
      this._timerAt = 0;
      this._interval = null;
      this._flushing = null;
      this._again = false;
      this._inFlight = new Set();
      this._batchLimit = this.batchSize;
      this._listeners = [];
      this._started = false;
    }

    on(name, fn) {
      return this.telemetry.on(name, fn);
    }

    /** Starts sending: now, on a timer, after captures, when back online and on page hide. */
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
          .then(() => this.flush());
      });
      listen(root, 'pagehide', () => this._flushOnPageHide());
      listen(root.document, 'visibilitychange', () => {
        if (root.document.visibilityState === 'hidden') this.flush({ keepalive: true });
      });
      this._listeners.push(this.telemetry.on('queue:added', () => this._schedule(this.flushDelay)));
      this._interval = setInterval(() => this.flush(), this.flushInterval);
      this.telemetry.initialize().then(() => this.flush());
      return this;
    }

    stop() {
      for (const off of this._listeners.splice(0)) off();
      clearInterval(this._interval);
      clearTimeout(this._timer);
      this._timer = null;
      this._started = false;
    }

    /** Sends everything queued (by any tab of this origin) unless offline or backing off. */
    flush(options) {
      if (this._flushing) {
        this._again = true;
        return this._flushing;
      }
      this._flushing = this._flush(options || {}).finally(() => {
        this._flushing = null;
        if (this._again) {
          this._again = false;
          this._schedule(0);
        }
      });
      return this._flushing;
    }

    _schedule(delay) {
      if (!this._started) return;
      const at = Math.max(Date.now() + delay, this._notBefore);
      if (this._timer && this._timerAt <= at) return;
      clearTimeout(this._timer);
      this._timerAt = at;
      this._timer = setTimeout(() => {
        this._timer = null;
        this.flush();
      }, at - Date.now());
    }

    async _flush(options) {
      await this.telemetry.persisted();
      if (!isOnline()) return null;
      const shared = await this.telemetry.storage.getMeta('backoff');
      if (shared && shared.until > this._notBefore) this._notBefore = shared.until;
      if (Date.now() < this._notBefore) {
        this._schedule(0);
        return null;
      }
      const result = await withSenderLock(this.lockName, this.owner, () => this._sendAll(options));
      if (result === null) {
        // Another tab sends; forget what it already delivered so page hide does not resend it.
        const queued = await this.telemetry.storage.all();
        this.telemetry._forgetSentElsewhere(new Set(queued.map((r) => r.itemId)));
      }
      return result;
    }

    async _sendAll(options) {
      const totals = { successCount: 0, failureCount: 0, duplicates: 0, batches: 0 };
      const maxBytes = options.keepalive ? KEEPALIVE_MAX_BYTES : MAX_BATCH_BYTES;
      while (isOnline()) {
        const batch = await this._nextBatch(maxBytes);
        if (!batch) break;
        const outcome = await this._send(batch, options.keepalive);
        if (outcome.retry) break;
        totals.successCount += outcome.successCount || 0;
        totals.failureCount += outcome.failureCount || 0;
        totals.duplicates += outcome.duplicates || 0;
        totals.batches += 1;
      }
      return totals;
    }

    // Resumes the persisted in-flight batch (same batchId, same items) or starts a new one.
    async _nextBatch(maxBytes) {
      const storage = this.telemetry.storage;
      const inflight = await storage.getMeta('inflight');
      const all = await storage.all();
      if (!all.length) {
        if (inflight) await storage.setMeta('inflight', null);
        return null;
      }
      if (inflight) {
        const byId = new Map(all.map((r) => [r.itemId, r]));
        const records = inflight.itemIds.map((id) => byId.get(id)).filter(Boolean);
        if (records.length === inflight.itemIds.length && this._bytes(records) <= maxBytes) {
          return { batchId: inflight.batchId, userId: inflight.userId, records };
        }
      }
      const userId = all[0].userId === undefined ? null : all[0].userId;
      const records = [];
      let bytes = 256;
      for (const r of all) {
        if (records.length >= this._batchLimit) break;
        if ((r.userId === undefined ? null : r.userId) !== userId) continue;
        const size = byteLength(JSON.stringify(r.item)) + 1;
        if (bytes + size > maxBytes && (records.length || maxBytes === KEEPALIVE_MAX_BYTES)) break;
        records.push(r);
        bytes += size;
      }
      if (!records.length) return null;
      const batch = { batchId: uuidv7(), userId, records };
      // Persisted before sending, so a re-send after a reload reuses this batchId.
      await storage.setMeta('inflight', {
        batchId: batch.batchId,
        userId,
        itemIds: records.map((r) => r.itemId),
      });
      return batch;
    }

    _bytes(records) {
      return 256 + records.reduce((n, r) => n + byteLength(JSON.stringify(r.item)) + 1, 0);
    }

    _body(batch) {
      const body = { batchId: batch.batchId, sentAt: nowIso(), items: batch.records.map((r) => r.item) };
      if (batch.userId !== null && batch.userId !== undefined) body.userId = batch.userId;
      if (this.telemetry.clientId) body.clientId = this.telemetry.clientId;
      return JSON.stringify(body);
    }

    _post(body, keepalive) {
      return fetch(this.telemetry.endpoint + BATCH_PATH, {
        method: 'POST',
        headers: this.telemetry.headers(),
        body,
        keepalive: Boolean(keepalive),
        credentials: 'omit',
      });
    }

    async _send(batch, keepalive) {
      const telemetry = this.telemetry;
      telemetry.emit('sync:start', { batchId: batch.batchId, count: batch.records.length });
      for (const r of batch.records) this._inFlight.add(r.itemId);
      let res;
      let body = null;
      try {
        res = await this._post(this._body(batch), keepalive);
        body = await res.json().catch(() => null);
      } catch (err) {
        return this._retryLater(batch, null, {
          error: 'network_error',
          message: String((err && err.message) || err),
        });
      } finally {
        for (const r of batch.records) this._inFlight.delete(r.itemId);
      }
      if (res.ok) return this._applyResults(batch, body);
      if (isRetryableStatus(res.status)) {
        return this._retryLater(batch, parseRetryAfter(res.headers.get('Retry-After')),
          Object.assign({ error: 'http_' + res.status }, body || {}, { status: res.status }));
      }
      return this._rejected(batch, res.status, body || {});
    }

    async _applyResults(batch, body) {
      const storage = this.telemetry.storage;
      const byId = new Map(batch.records.map((r) => [r.itemId, r]));
      let results = body && Array.isArray(body.results) ? body.results : null;
      if (!results) {
        // A 2xx without per-item results acknowledges the whole batch.
        results = batch.records.map((r, index) => ({ index, itemId: r.itemId, status: 'accepted' }));
      }
      const done = [];
      const rejected = [];
      let accepted = 0;
      let duplicates = 0;
      for (const result of results) {
        const record = byId.get(result.itemId) || batch.records[result.index];
        if (!record) continue;
        if (result.status === 'accepted') accepted += 1;
        else if (result.status === 'duplicate') duplicates += 1;
        else if (result.status === 'rejected') {
          rejected.push({ itemId: record.itemId, index: result.index, fields: result.fields || {} });
        } else continue;
        done.push(record.itemId);
      }
      // Forgets the batch too: items the answer did not mention go out in a later batch.
      await storage.remove(done, batch.batchId);
      this.telemetry._acknowledged(done);
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
      const result = {
        batchId: batch.batchId,
        successCount: accepted + duplicates,
        accepted,
        failureCount: rejected.length,
        duplicates,
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
      // Other tabs honour the same pause.
      await this.telemetry.storage.setMeta('backoff', { until: this._notBefore });
      this.telemetry.emit('sync:error', Object.assign({}, info, {
        batchId: batch.batchId,
        count: batch.records.length,
        willRetry: true,
        retryInMs: Math.round(delay),
        attempt: this._attempt,
      }));
      this._schedule(delay);
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

    async _rejected(batch, status, body) {
      const storage = this.telemetry.storage;
      const info = {
        error: body.error || 'http_' + status,
        status,
        message: body.message || 'HTTP ' + status,
        fields: body.fields || {},
        batchId: batch.batchId,
      };
      if (status === 401 || status === 403) {
        // A bad key is a setup problem, not bad data: keep the queue and try again much later.
        this._notBefore = Date.now() + AUTH_RETRY_MS;
        this._schedule(AUTH_RETRY_MS);
        this.telemetry.emit('sync:error', Object.assign(info, {
          count: batch.records.length,
          willRetry: true,
          retryInMs: AUTH_RETRY_MS,
        }));
        return { retry: true };
      }
      if (status === 413 && batch.records.length > 1) {
        // Too large as a whole: the same items go again in smaller batches (new batchIds).
        this._batchLimit = Math.max(1, Math.floor(batch.records.length / 2));
        await storage.remove([], batch.batchId);
        return { successCount: 0 };
      }
      if (Array.isArray(body.results)) return this._applyResults(batch, body);
      const indexes = rejectedIndexes(body.fields, batch.records.length);
      const rejected = indexes.size
        ? batch.records.filter((_, i) => indexes.has(i))
        : batch.records;
      const ids = rejected.map((r) => r.itemId);
      await storage.remove(ids, batch.batchId);
      this.telemetry._acknowledged(ids);
      this.telemetry.emit('sync:error', Object.assign(info, {
        items: rejected.map((r) => ({ itemId: r.itemId })),
        count: rejected.length,
        willRetry: false,
      }));
      return { failureCount: rejected.length };
    }

    // The page may be gone before any promise settles, so this sends synchronously what this
    // tab captured and has not sent; the server keeps one copy per eventId whatever else arrives.
    _flushOnPageHide() {
      if (!isOnline() || Date.now() < this._notBefore) return;
      const records = Array.from(this.telemetry._unsent.values())
        .filter((r) => !this._inFlight.has(r.itemId))
        .sort(sendOrder);
      if (!records.length) return;
      const userId = records[0].userId === undefined ? null : records[0].userId;
      const chosen = [];
      let bytes = 256;
      for (const r of records) {
        if (chosen.length >= this._batchLimit) break;
        if ((r.userId === undefined ? null : r.userId) !== userId) continue;
        const size = byteLength(JSON.stringify(r.item)) + 1;
        if (bytes + size > KEEPALIVE_MAX_BYTES) break;
        chosen.push(r);
        bytes += size;
      }
      if (!chosen.length) return;
      const batch = { batchId: uuidv7(), userId, records: chosen };
      this._post(this._body(batch), true)
        .then((res) => (res.ok ? res.json().then((body) => this._applyResults(batch, body)) : null))
        .catch(() => null);
    }
  }

  const api = {
    VERSION,
    TelemetryService,
    SyncService,
    uuidv7,
    parseRetryAfter,
    limits: {
      DEFAULT_MAX_QUEUE,
      DEFAULT_BATCH_SIZE,
      MAX_ITEM_BYTES,
      MAX_BATCH_BYTES,
      KEEPALIVE_MAX_BYTES,
      BACKOFF_BASE_MS,
      BACKOFF_MAX_MS,
    },
  };
  root.PrepMateTelemetry = api;
  root.TelemetryService = TelemetryService;
  root.SyncService = SyncService;
})(typeof globalThis !== 'undefined' ? globalThis : window);
