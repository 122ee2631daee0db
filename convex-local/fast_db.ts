// Indexed reads, read sets and change capture for convex-test's DatabaseFake.
//
// convex-test 0.0.60 answers every query by walking every document of every
// table (`_iterateDocs`), then sorting. This module replaces, on the one
// DatabaseFake instance of the local backend (see persist.ts for how it is
// reached, and its header for the fields used), the methods that read:
//
//   _iterateDocs(table, cb)      per-table maps instead of every document
//   _resolveQuerySource(query)   IndexRange / FullTableScan answered from sorted
//                                indexes (binary search), merged with the
//                                transaction's pending writes; Search as before
//                                (over the one table)
//   startQuery / queryNext       lazy streams (convex-test materialises every
//                                result and never frees it), so a read set knows
//                                how far a query really scanned
//   paginate, get                recorded in the running function's read set
//   startTransaction / commit    indexes updated on every top-level commit, and
//                                each commit's (old, new) documents handed to
//                                `onCommit`
//
// Semantics kept from convex-test: index order is the index's fields, then
// `_creationTime`, then `_id` (compareValues), `order("desc")` reverses it,
// ranges are validated with the same errors, filters and limits are applied
// after the range, a query sees its own transaction's writes.
import { CommitTsPlaceholder, compareValues, jsonToConvex, type JSONValue, type Value } from "convex/values";
import type { StoredDocument } from "./persist.js";

type Doc = StoredDocument;
type Key = Value[];

type RangeExpr = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: JSONValue };
type QuerySource =
  | { type: "FullTableScan"; tableName: string; order?: "asc" | "desc" | null }
  | { type: "IndexRange"; indexName: string; range: RangeExpr[]; order?: "asc" | "desc" | null }
  | { type: "Search"; indexName: string; filters: unknown[] };
type Query = { source: QuerySource; operators: Record<string, unknown>[] };

type Resolved = {
  sortedDocs: Doc[];
  filterFn: (doc: Doc) => boolean;
  limit: number | null;
  fieldPathsToSortBy: string[];
  order: "asc" | "desc";
};

/** The DatabaseFake members this module reads or replaces (convex-test 0.0.60). */
export type PatchableDatabase = {
  _documents: Record<string, Doc>;
  _writes: Record<string, Doc | null>[];
  _nextQueryId: number;
  _schema: { tables: Map<string, { indexes: { indexDescriptor: string; fields: string[] }[] }> } | null;
  get(table: string | undefined, id: string): Doc | null;
  _addWrite(id: string, value: Doc | null): void;
  startTransaction(): void;
  commit(commitTs?: bigint | null): void;
  startQuery(query: Query): number;
  queryNext(queryId: number): { value: Doc | null; done: boolean };
  paginate(args: Record<string, unknown> & { query: Query; cursor: string | null; endCursor?: string | null }): {
    page: Doc[];
    isDone: boolean;
    continueCursor: string;
  };
  _iterateDocs(table: string, callback: (doc: Doc) => void): void;
  _resolveQuerySource(query: Query): Resolved;
};

/** One interval a query read: documents of `table` whose index key is in it. */
export type ReadRange = {
  table: string;
  /** Key fields, `_creationTime` and `_id` included; empty for a whole-table read (search). */
  fields: string[];
  range: RangeExpr[];
  order: "asc" | "desc";
  /** Exclusive start in scan order (a pagination cursor), if any. */
  after?: Key;
  /** Inclusive end in scan order: the last document scanned; absent once the range was read to its end. */
  through?: Key;
  /** The last document a query stream scanned (its key is `through`, computed when needed). */
  last?: Doc;
  /** Nothing scanned yet. */
  empty?: boolean;
};

/** What one function run read: index ranges and documents fetched by id. */
export class ReadSet {
  readonly ranges: ReadRange[] = [];
  readonly ids = new Set<string>();

  /** Does writing `doc` (an old or new version) touch what was read? */
  touches(doc: Doc): boolean {
    if (this.ids.has(doc._id)) return true;
    const table = tableNameFromId(doc._id);
    for (const range of this.ranges) {
      if (range.table === table && rangeContains(range, doc)) return true;
    }
    return false;
  }
}

/** One document changed by a commit: its version before and after (null: absent). */
export type Change = { id: string; table: string; before: Doc | null; after: Doc | null };

export type FastDbHooks = {
  /** The read set of the function running now, if it records one. */
  currentReadSet(): ReadSet | null;
  /** Called when a top-level transaction starts, with the number of commits it sees. */
  onTransactionStart(commits: number): void;
  /** Called after each top-level commit with what it changed. */
  onCommit(changes: Change[]): void;
  /**
   * A document a query scanned but its filter dropped: Convex counts it as read
   * (convex-test counts only the documents returned).
   */
  onFilteredOut(doc: Doc): void;
};

// ---- values, as convex-test evaluates them -------------------------------------------------

const MAX_COMMIT_TS = 2n ** 63n - 1n;

function isSimpleObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype || prototype?.constructor?.name === "Object";
}

function hasPendingValues(value: unknown): boolean {
  if (value instanceof CommitTsPlaceholder) return true;
  if (Array.isArray(value)) return value.some(hasPendingValues);
  if (value !== null && value !== undefined && isSimpleObject(value)) return Object.values(value).some(hasPendingValues);
  return false;
}

function resolvePending(value: unknown): unknown {
  if (!hasPendingValues(value)) return value;
  if (value instanceof CommitTsPlaceholder) return MAX_COMMIT_TS;
  if (Array.isArray(value)) return value.map(resolvePending);
  return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, resolvePending(v)]));
}

function fieldValue(fieldPath: string, doc: Doc): Value {
  let result: unknown = doc;
  for (const part of fieldPath.split(".")) {
    result = result !== undefined && result !== null && isSimpleObject(result) ? result[part] : undefined;
  }
  return (result === undefined ? undefined : resolvePending(result)) as Value;
}

function queryValue(value: JSONValue): Value {
  if (typeof value === "object" && value !== null && "$undefined" in value) return undefined as unknown as Value;
  const converted = jsonToConvex(value);
  return (converted === undefined ? undefined : resolvePending(converted)) as Value;
}

function keyOf(doc: Doc, fields: string[]): Key {
  return fields.map((field) => fieldValue(field, doc));
}

// Strings whose UTF-16 order may differ from Convex's (UTF-8, i.e. code point) order.
const SURROGATE_OR_ABOVE = /[\uD800-\uFFFF]/;

/** compareValues, with fast paths for the common cases (equal values, plain strings and numbers). */
function compareFast(a: Value | undefined, b: Value | undefined): number {
  if (Object.is(a, b)) return 0;
  const type = typeof a;
  if (type === typeof b) {
    if (type === "string") {
      const x = a as string;
      const y = b as string;
      if (!SURROGATE_OR_ABOVE.test(x) && !SURROGATE_OR_ABOVE.test(y)) return x < y ? -1 : 1;
    } else if (type === "number") {
      const x = a as number;
      const y = b as number;
      if (x !== y && !Number.isNaN(x) && !Number.isNaN(y)) return x < y ? -1 : 1;
    }
  }
  return compareValues(a as Value, b as Value);
}

function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareFast(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

function matchesRange(doc: Doc, range: RangeExpr[]): boolean {
  for (const expr of range) {
    const c = compareValues(fieldValue(expr.fieldPath, doc), queryValue(expr.value));
    const ok =
      expr.type === "Eq" ? c === 0 : expr.type === "Gt" ? c > 0 : expr.type === "Gte" ? c >= 0 : expr.type === "Lt" ? c < 0 : c <= 0;
    if (!ok) return false;
  }
  return true;
}

function rangeContains(range: ReadRange, doc: Doc): boolean {
  if (range.empty) return false;
  if (!matchesRange(doc, range.range)) return false;
  if (range.last !== undefined) {
    range.through = keyOf(range.last, range.fields);
    delete range.last;
  }
  if (range.fields.length === 0 || (range.after === undefined && range.through === undefined)) return true;
  const key = keyOf(doc, range.fields);
  const sign = range.order === "asc" ? 1 : -1;
  if (range.after !== undefined && sign * compareKeys(key, range.after) <= 0) return false;
  if (range.through !== undefined && sign * compareKeys(key, range.through) > 0) return false;
  return true;
}

export function tableNameFromId(id: string): string | null {
  const match = /^[0-9]+/.exec(id);
  if (!match || match[0].length === id.length) return null;
  return id.slice(match[0].length);
}

// ---- sorted indexes --------------------------------------------------------------------------

class SortedIndex {
  docs: Doc[] = [];
  keys: Key[] = [];

  constructor(readonly fields: string[]) {}

  /** First position whose key is not below `key`. */
  private lowerBound(key: Key): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(doc: Doc): void {
    const key = keyOf(doc, this.fields);
    const last = this.keys.length - 1;
    if (last < 0 || compareKeys(this.keys[last], key) < 0) {
      // Newest last: the common case of by_creation_time and increasing keys.
      this.docs.push(doc);
      this.keys.push(key);
      return;
    }
    const at = this.lowerBound(key);
    this.docs.splice(at, 0, doc);
    this.keys.splice(at, 0, key);
  }

  /** A new version of `old`: replaced where it is when its key did not change. */
  update(old: Doc, doc: Doc): void {
    const key = keyOf(doc, this.fields);
    const at = this.lowerBound(key);
    if (at < this.docs.length && this.docs[at]._id === old._id && compareKeys(this.keys[at], key) === 0) {
      this.docs[at] = doc;
      return;
    }
    this.remove(old);
    this.insert(doc);
  }

  remove(doc: Doc): void {
    const key = keyOf(doc, this.fields);
    const at = this.lowerBound(key);
    if (at < this.docs.length && this.docs[at]._id === doc._id) {
      this.docs.splice(at, 1);
      this.keys.splice(at, 1);
      return;
    }
    // Not where its key says (should not happen): find it by id.
    const found = this.docs.findIndex((d) => d._id === doc._id);
    if (found !== -1) {
      this.docs.splice(found, 1);
      this.keys.splice(found, 1);
    }
  }

  /** Positions [lo, hi) of the documents in a validated range expression. */
  span(range: RangeExpr[]): [number, number] {
    const eqs: Value[] = [];
    let lower: RangeExpr | undefined;
    let upper: RangeExpr | undefined;
    for (const expr of range) {
      if (expr.type === "Eq") eqs.push(queryValue(expr.value));
      else if (expr.type === "Gt" || expr.type === "Gte") lower = expr;
      else upper = expr;
    }
    const lowerValue = lower === undefined ? undefined : queryValue(lower.value);
    const upperValue = upper === undefined ? undefined : queryValue(upper.value);
    const k = eqs.length;
    const beforeStart = (key: Key): boolean => {
      for (let i = 0; i < k; i++) {
        const c = compareFast(key[i], eqs[i]);
        if (c !== 0) return c < 0;
      }
      if (lower === undefined) return false;
      const c = compareFast(key[k], lowerValue);
      return c < 0 || (c === 0 && lower.type === "Gt");
    };
    const afterEnd = (key: Key): boolean => {
      for (let i = 0; i < k; i++) {
        const c = compareFast(key[i], eqs[i]);
        if (c !== 0) return c > 0;
      }
      if (upper === undefined) return false;
      const c = compareFast(key[k], upperValue);
      return c > 0 || (c === 0 && upper.type === "Lt");
    };
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (beforeStart(this.keys[mid])) lo = mid + 1;
      else hi = mid;
    }
    const start = lo;
    hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (afterEnd(this.keys[mid])) hi = mid;
      else lo = mid + 1;
    }
    return [start, lo];
  }
}

class TableData {
  readonly docs = new Map<string, Doc>();
  readonly indexes = new Map<string, SortedIndex>();

  constructor(indexFields: Map<string, string[]>) {
    for (const [name, fields] of indexFields) this.indexes.set(name, new SortedIndex(fields));
  }

  add(doc: Doc): void {
    this.docs.set(doc._id, doc);
    for (const index of this.indexes.values()) index.insert(doc);
  }

  remove(doc: Doc): void {
    this.docs.delete(doc._id);
    for (const index of this.indexes.values()) index.remove(doc);
  }

  update(old: Doc, doc: Doc): void {
    this.docs.set(doc._id, doc);
    for (const index of this.indexes.values()) index.update(old, doc);
  }
}

// ---- validation, as convex-test does it ---------------------------------------------------------

function printIndexOperator(filter: RangeExpr): string {
  return `.${filter.type.toLowerCase()}(${filter.fieldPath}, ${JSON.stringify(filter.value)})`;
}

function validateIndexRangeExpression(range: RangeExpr[], fields: string[]): void {
  let fieldIndex = 0;
  let state = "eq";
  for (const [filterIndex, filter] of range.entries()) {
    if (state === "done") {
      throw new Error(
        "Incorrect operator used in `withIndex`, cannot chain more operators after both `.gt` and `.lt` were " +
          `already used, got \`${printIndexOperator(filter)}\`.`,
      );
    }
    const filterType =
      filter.type === "Gt" || filter.type === "Gte" ? "gt" : filter.type === "Lt" || filter.type === "Lte" ? "lt" : "eq";
    switch (`${state}|${filterType}`) {
      case "eq|eq":
      case "eq|gt":
      case "eq|lt":
        if (filter.fieldPath === fields[fieldIndex]) {
          fieldIndex += 1;
          state = filterType;
          continue;
        }
        throw new Error(
          `Incorrect field used in \`withIndex\`, expected "${fields[fieldIndex]}", got "${filter.fieldPath}"`,
        );
      case "lt|gt":
      case "gt|lt":
        if (fieldIndex > 0 && filter.fieldPath === fields[fieldIndex - 1]) {
          state = "done";
          continue;
        }
        throw new Error(
          "Incorrect field used in `withIndex`, `.gt` and `.lt` must operate on the same field, " +
            `expected "${fields[fieldIndex - 1]}", got "${filter.fieldPath}"`,
        );
      default:
        throw new Error(
          "Incorrect operator used in `withIndex`, " +
            `cannot chain \`.${filter.type.toLowerCase()}()\` after \`.${range[filterIndex - 1].type.toLowerCase()}()\``,
        );
    }
  }
}

// ---- the patched database ---------------------------------------------------------------------------

type Stream = {
  docs: Doc[];
  pos: number;
  returned: number;
  limit: number | null;
  filterFn: (doc: Doc) => boolean;
  fields: string[];
  read: ReadRange | null;
};

/** Indexes over one DatabaseFake; `install` swaps its read methods for indexed ones. */
export class FastDatabase {
  private readonly tables = new Map<string, TableData>();
  // Per transaction: open query streams, and ids written by table (see
  // pendingIds). Keyed by the `_writes` stack, which convex-test swaps for an
  // empty one while a snapshot query runs inside a transaction.
  private readonly transactions = new WeakMap<object, { streams: Map<number, Stream>; pending: Map<string, Set<string>> }>();
  private readonly originalResolve: (query: Query) => Resolved;
  private readonly originalGet: (table: string | undefined, id: string) => Doc | null;
  private readonly originalPaginate: PatchableDatabase["paginate"];
  private readonly originalCommit: PatchableDatabase["commit"];
  private readonly originalStart: PatchableDatabase["startTransaction"];
  /** Set while `paginate` resolves its query: its cursor, to start past it (see resolve). */
  private paginateAfter: Key | null = null;
  /** Number of top-level commits applied. */
  commits = 0;

  constructor(
    private readonly db: PatchableDatabase,
    private readonly hooks: FastDbHooks,
  ) {
    this.originalResolve = db._resolveQuerySource.bind(db);
    this.originalGet = db.get.bind(db);
    this.originalPaginate = db.paginate.bind(db);
    this.originalCommit = db.commit.bind(db);
    this.originalStart = db.startTransaction.bind(db);
  }

  /** Replaces the database's methods and indexes what it holds now. */
  install(): void {
    const db = this.db;
    db._iterateDocs = (table, callback) => this.iterateDocs(table, callback);
    db._resolveQuerySource = (query) => this.resolve(query);
    db.startQuery = (query) => this.startQuery(query);
    db.queryNext = (queryId) => this.queryNext(queryId);
    db.paginate = (args) => this.paginate(args);
    db.get = (table, id) => {
      const doc = this.originalGet(table, id);
      this.hooks.currentReadSet()?.ids.add(id);
      return doc;
    };
    db.startTransaction = () => {
      if (db._writes.length === 0) {
        this.transactions.delete(db._writes);
        this.hooks.onTransactionStart(this.commits);
      }
      this.originalStart();
    };
    db.commit = (commitTs) => this.commit(commitTs);
    const addWrite = db._addWrite.bind(db);
    db._addWrite = (id, value) => {
      addWrite(id, value);
      const table = tableNameFromId(id)!;
      const pending = this.transaction().pending;
      let ids = pending.get(table);
      if (ids === undefined) {
        ids = new Set();
        pending.set(table, ids);
      }
      ids.add(id);
    };
    this.rebuild();
  }

  /** Indexes `_documents` again from scratch (after a state file was loaded into it). */
  rebuild(): void {
    this.tables.clear();
    for (const doc of Object.values(this.db._documents)) this.table(tableNameFromId(doc._id)!).add(doc);
  }

  private indexFields(table: string): Map<string, string[]> {
    const fields = new Map<string, string[]>([
      ["by_creation_time", ["_creationTime", "_id"]],
      ["by_id", ["_id"]],
    ]);
    for (const index of this.db._schema?.tables.get(table)?.indexes ?? []) {
      fields.set(index.indexDescriptor, [...index.fields, "_creationTime", "_id"]);
    }
    return fields;
  }

  private table(name: string): TableData {
    let data = this.tables.get(name);
    if (data === undefined) {
      data = new TableData(this.indexFields(name));
      this.tables.set(name, data);
    }
    return data;
  }

  /**
   * Ids of `table` the transaction in progress wrote, at any nesting level
   * (possibly more: writes of a rolled-back nested level stay listed, and
   * reading them through `get` gives their current version anyway).
   */
  private pendingIds(table: string): Set<string> | null {
    if (this.db._writes.length === 0) return null;
    return this.transaction().pending.get(table) ?? null;
  }

  private transaction(): { streams: Map<number, Stream>; pending: Map<string, Set<string>> } {
    let state = this.transactions.get(this.db._writes);
    if (state === undefined) {
      state = { streams: new Map(), pending: new Map() };
      this.transactions.set(this.db._writes, state);
    }
    return state;
  }

  private iterateDocs(table: string, callback: (doc: Doc) => void): void {
    const pending = this.pendingIds(table);
    for (const doc of this.tables.get(table)?.docs.values() ?? []) {
      if (pending === null || !pending.has(doc._id)) callback(doc);
    }
    for (const id of pending ?? []) {
      const doc = this.originalGet(table, id);
      if (doc !== null) callback(doc);
    }
  }

  private resolve(query: Query): Resolved {
    const source = query.source;
    if (source.type === "Search") return this.originalResolve(query);
    let table: string;
    let indexName: string;
    let range: RangeExpr[];
    let fieldPathsToSortBy: string[];
    if (source.type === "FullTableScan") {
      table = source.tableName;
      indexName = "by_creation_time";
      range = [];
      fieldPathsToSortBy = ["_creationTime"];
    } else {
      [table, indexName] = source.indexName.split(".");
      range = source.range;
      const fields = this.table(table).indexes.get(indexName)?.fields;
      if (fields === undefined) {
        throw new Error(
          `Cannot use index "${indexName}" for table "${table}" because it is not declared in the schema.`,
        );
      }
      validateIndexRangeExpression(range, fields);
      fieldPathsToSortBy = fields;
    }
    const order = source.order ?? "asc";
    const index = this.table(table).indexes.get(indexName)!;
    const [lo, hi] = index.span(range);
    let docs = index.docs.slice(lo, hi);
    const pending = this.pendingIds(table);
    if (pending !== null) {
      docs = docs.filter((doc) => !pending.has(doc._id));
      let added = false;
      for (const id of pending) {
        const doc = this.originalGet(table, id);
        if (doc !== null && matchesRange(doc, range)) {
          docs.push(doc);
          added = true;
        }
      }
      if (added) {
        const keyed = docs.map((doc) => ({ doc, key: keyOf(doc, index.fields) }));
        keyed.sort((a, b) => compareKeys(a.key, b.key));
        docs = keyed.map((entry) => entry.doc);
      }
    }
    if (order === "desc") docs.reverse();
    const after = this.paginateAfter;
    if (after !== null && after.length === index.fields.length) {
      // convex-test's paginate skips every document up to its cursor one by one:
      // give it the documents past the cursor only (binary search; same result).
      const sign = order === "asc" ? 1 : -1;
      let lo = 0;
      let hi = docs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (sign * compareKeys(keyOf(docs[mid], index.fields), after) <= 0) lo = mid + 1;
        else hi = mid;
      }
      docs = docs.slice(lo);
    }
    const filters = query.operators.filter((op) => "filter" in op).map((op) => op.filter);
    const limitOp = query.operators.find((op) => "limit" in op) as { limit: number } | undefined;
    const filterFn =
      filters.length === 0 ? () => true : this.filterFunction(filters);
    return { sortedDocs: docs, filterFn, limit: limitOp?.limit ?? null, fieldPathsToSortBy, order };
  }

  // convex-test's filter evaluator is not exported: evaluateFilter below is a copy.
  private filterFunction(filters: unknown[]): (doc: Doc) => boolean {
    return (doc) => filters.every((filter) => evaluateFilter(doc, filter as FilterExpr) as boolean);
  }

  private startQuery(query: Query): number {
    const id = this.db._nextQueryId;
    this.db._nextQueryId += 1;
    const resolved = this.resolve(query);
    const read = this.readRangeOf(query, resolved);
    if (read !== null) read.empty = true;
    this.transaction().streams.set(id, {
      docs: resolved.sortedDocs,
      pos: 0,
      returned: 0,
      limit: resolved.limit,
      filterFn: resolved.filterFn,
      fields: read?.fields ?? [],
      read,
    });
    return id;
  }

  private queryNext(queryId: number): { value: Doc | null; done: boolean } {
    const streams = this.transaction().streams;
    const stream = streams.get(queryId);
    if (stream === undefined) throw new Error("Bad queryId");
    const finish = () => {
      streams.delete(queryId);
      return { value: null, done: true };
    };
    if (stream.limit !== null && stream.returned >= stream.limit) return finish();
    while (stream.pos < stream.docs.length) {
      const doc = stream.docs[stream.pos++];
      if (stream.read !== null) {
        stream.read.empty = false;
        if (stream.read.fields.length > 0) stream.read.last = doc;
      }
      if (stream.filterFn(doc)) {
        stream.returned += 1;
        return { value: doc, done: false };
      }
      this.hooks.onFilteredOut(doc);
    }
    // Read to the end of the range.
    if (stream.read !== null) {
      stream.read.empty = false;
      delete stream.read.through;
      delete stream.read.last;
    }
    return finish();
  }

  /** Registers the range `query` reads in the running function's read set; null if none records. */
  private readRangeOf(query: Query, resolved: Resolved): ReadRange | null {
    const readSet = this.hooks.currentReadSet();
    if (readSet === null) return null;
    const source = query.source;
    let read: ReadRange;
    if (source.type === "Search") {
      read = { table: source.indexName.split(".")[0], fields: [], range: [], order: "asc" };
    } else if (source.type === "FullTableScan") {
      read = { table: source.tableName, fields: ["_creationTime", "_id"], range: [], order: resolved.order };
    } else {
      const [table] = source.indexName.split(".");
      read = { table, fields: resolved.fieldPathsToSortBy, range: source.range, order: resolved.order };
    }
    readSet.ranges.push(read);
    return read;
  }

  private paginate(args: Parameters<PatchableDatabase["paginate"]>[0]): ReturnType<PatchableDatabase["paginate"]> {
    const start = parseCursor(args.cursor);
    this.paginateAfter = Array.isArray(start) ? start : null;
    let result: ReturnType<PatchableDatabase["paginate"]>;
    try {
      result = this.originalPaginate(args);
    } finally {
      this.paginateAfter = null;
    }
    const readSet = this.hooks.currentReadSet();
    if (readSet !== null) {
      const resolvedOrder = (args.query.source as { order?: "asc" | "desc" | null }).order ?? "asc";
      const source = args.query.source;
      let read: ReadRange;
      if (source.type === "Search") {
        read = { table: source.indexName.split(".")[0], fields: [], range: [], order: "asc" };
      } else {
        const table = source.type === "FullTableScan" ? source.tableName : source.indexName.split(".")[0];
        const fields =
          source.type === "FullTableScan"
            ? ["_creationTime", "_id"]
            : this.indexFields(table).get(source.indexName.split(".")[1]) ?? [];
        read = {
          table,
          fields,
          range: source.type === "IndexRange" ? source.range : [],
          order: resolvedOrder,
        };
        if (start === "end") read.empty = true;
        else if (start !== null && start.length === fields.length) read.after = start;
        const end = parseCursor(args.endCursor ?? null) ?? parseCursor(result.isDone ? null : result.continueCursor);
        if (end !== null && end !== "end" && end.length === fields.length) read.through = end;
      }
      readSet.ranges.push(read);
    }
    return result;
  }

  private commit(commitTs?: bigint | null): void {
    const db = this.db;
    if (db._writes.length !== 1) {
      this.originalCommit(commitTs);
      return;
    }
    const writes = db._writes[0];
    const before = new Map<string, Doc | null>();
    for (const id of Object.keys(writes)) before.set(id, db._documents[id] ?? null);
    this.originalCommit(commitTs);
    const changes: Change[] = [];
    for (const [id, old] of before) {
      const table = tableNameFromId(id)!;
      const now = db._documents[id] ?? null;
      if (old === now) continue;
      const data = this.table(table);
      if (old !== null && now !== null) data.update(old, now);
      else if (old !== null) data.remove(old);
      else if (now !== null) data.add(now);
      changes.push({ id, table, before: old, after: now });
    }
    this.commits += 1;
    if (changes.length > 0) this.hooks.onCommit(changes);
  }
}

function parseCursor(cursor: string | null | undefined): Key | "end" | null {
  if (cursor === null || cursor === undefined) return null;
  if (cursor === "_end_cursor") return "end";
  try {
    return (JSON.parse(cursor) as (string | null)[]).map((k) =>
      k === null ? (undefined as unknown as Value) : jsonToConvex(JSON.parse(k) as JSONValue),
    );
  } catch {
    return null;
  }
}

// ---- filters, as convex-test evaluates them -------------------------------------------------------

type FilterExpr = Record<string, unknown>;

function evaluateFilter(doc: Doc, filter: FilterExpr): unknown {
  const two = (key: string) => filter[key] as [FilterExpr, FilterExpr];
  if (filter.$eq !== undefined) {
    const [a, b] = two("$eq");
    return compareValues(evaluateFilter(doc, a) as Value, evaluateFilter(doc, b) as Value) === 0;
  }
  if (filter.$neq !== undefined) {
    const [a, b] = two("$neq");
    return compareValues(evaluateFilter(doc, a) as Value, evaluateFilter(doc, b) as Value) !== 0;
  }
  if (filter.$and !== undefined) return (filter.$and as FilterExpr[]).every((c) => evaluateFilter(doc, c));
  if (filter.$or !== undefined) return (filter.$or as FilterExpr[]).some((c) => evaluateFilter(doc, c));
  if (filter.$not !== undefined) return !evaluateFilter(doc, filter.$not as FilterExpr);
  const binary: [string, (a: never, b: never) => unknown][] = [
    ["$gt", (a, b) => a > b],
    ["$gte", (a, b) => a >= b],
    ["$lt", (a, b) => a < b],
    ["$lte", (a, b) => a <= b],
    ["$add", (a, b) => (a as number) + (b as number)],
    ["$sub", (a, b) => (a as number) - (b as number)],
    ["$mul", (a, b) => (a as number) * (b as number)],
    ["$div", (a, b) => (a as number) / (b as number)],
    ["$mod", (a, b) => (a as number) % (b as number)],
  ];
  for (const [op, fn] of binary) {
    if (filter[op] !== undefined) {
      const [a, b] = two(op);
      return fn(evaluateFilter(doc, a) as never, evaluateFilter(doc, b) as never);
    }
  }
  if (filter.$field !== undefined) return fieldValue(filter.$field as string, doc);
  if (filter.$literal !== undefined) return queryValue(filter.$literal as JSONValue);
  throw new Error(`not implemented: ${JSON.stringify(filter)}`);
}
