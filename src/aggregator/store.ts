import Database from 'better-sqlite3';
import { StoreError } from '../common/errors';
import type { Finding, ResetFinding } from '../protocol/finding';
import { MIGRATIONS } from './store-schema';

/**
 * The aggregator's durable store: one SQLite file (better-sqlite3, WAL,
 * synchronous=NORMAL — a power loss may lose the last transactions but never corrupts
 * the file, https://www.sqlite.org/pragma.html#pragma_synchronous; an acked item is in
 * the WAL before its ack is sent, so a killed *process* loses nothing).
 *
 * Findings are keyed by their id: a rollup update merges count/lastSeen into the row.
 * Items (agent id, seq) are stored once: `ingest` refuses any seq at or below the
 * agent's last stored seq, in the same transaction that stores it. The store is the
 * file's only writer, so it keeps each agent's last seq in memory too (read once from
 * the file) and writes an agent's row once per transaction, not once per message; a
 * failed transaction forgets the memory, which is read again from the file.
 * Fields the aggregator itself decides (cross-node verdicts, attribution completed
 * from the cluster's pod map) are kept apart as a patch, so a later rollup update from
 * the agent does not undo them.
 */

export interface IncomingItem {
  seq: number;
  update: boolean;
  finding: Finding;
}

export interface IngestResult {
  /** Highest seq stored for the agent after this call (the cumulative ack). */
  lastSeq: number;
  /** Findings as stored (patch applied) that were new or changed by this call; `added` is how much count grew. */
  changed: StoredChange[];
  duplicates: number;
}

export interface StoredChange {
  finding: Finding;
  update: boolean;
  added: number;
}

export interface FindingQuery {
  kind?: string;
  /** Epoch ms: findings last seen at or after. */
  sinceMs?: number;
  limit: number;
  namespace?: string;
  node?: string;
  cause?: string;
  sentBy?: string;
}

export interface TopSender {
  ip: string;
  pod: { namespace: string; name: string } | null;
  node: string | null;
  count: number;
  findings: number;
  causes: string[];
}

/** Fields the aggregator may override on a reset finding. */
export type FindingPatch = Partial<Pick<ResetFinding, 'sentBy' | 'cause' | 'evidence' | 'src' | 'dst' | 'kernelReason' | 'state' | 'advice'>>;

export interface StoreOptions {
  retentionMs: number;
  maxBytes: number;
}

interface FindingRow {
  json: string;
  patch: string | null;
}

export class FindingStore {
  readonly name = 'store';
  private readonly db!: Database.Database;
  private readonly statements!: ReturnType<FindingStore['prepare']>;
  /** Each agent's last seq: as committed, or as written by the open transaction. Cleared when a transaction fails. */
  private readonly lastSeqs = new Map<string, number>();
  /** Agents whose last seq the open transaction raised: their rows are written just before it commits. */
  private readonly raisedSeqs = new Map<string, number>();

  private constructor(
    readonly path: string,
    private readonly options: StoreOptions,
  ) {
    let db: Database.Database | null = null;
    try {
      db = new Database(path, { timeout: 5_000 });
      this.db = db;
      // auto_vacuum must be chosen before the first write (WAL's header included); INCREMENTAL lets size retention give pages back.
      this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      migrate(this.db);
      this.statements = this.prepare();
    } catch (err) {
      if (db?.open) db.close();
      throw new StoreError(`cannot use the database ${path}: ${describeSqliteError(err)}`, { cause: err });
    }
  }

  /** Opens (creating and migrating) the database; a bad file is a StoreError, never deleted. */
  static open(path: string, options: Partial<StoreOptions> = {}): FindingStore {
    return new FindingStore(path, { retentionMs: options.retentionMs ?? 7 * 24 * 3_600_000, maxBytes: options.maxBytes ?? 512 * 1024 * 1024 });
  }

  private prepare() {
    const db = this.db;
    return {
      lastSeq: db.prepare<[string], { last_seq: number }>('SELECT last_seq FROM agent_seqs WHERE agent_id = ?'),
      writeLastSeq: db.prepare('INSERT INTO agent_seqs (agent_id, last_seq) VALUES (?, ?) ON CONFLICT(agent_id) DO UPDATE SET last_seq = excluded.last_seq'),
      upsertAgent: db.prepare(
        `INSERT INTO agents (agent_id, node, last_seq, last_seen_ms, hello_json) VALUES (@agentId, @node, 0, @nowMs, @hello)
         ON CONFLICT(agent_id) DO UPDATE SET node = excluded.node, last_seen_ms = excluded.last_seen_ms, hello_json = excluded.hello_json`,
      ),
      insertItem: db.prepare('INSERT INTO items (agent_id, seq, finding_id, kind, received_ms) VALUES (?, ?, ?, ?, ?)'),
      getRow: db.prepare<[string], FindingRow & { time_ms: number; count: number; last_seen_ms: number }>('SELECT json, patch, time_ms, count, last_seen_ms FROM findings WHERE id = ?'),
      // A new finding is one insert; only when its id exists does mergeFinding read the row and merge.
      insertFinding: db.prepare(`INSERT INTO findings (${FINDING_COLUMNS}) VALUES (${FINDING_PARAMS}) ON CONFLICT(id) DO NOTHING`),
      upsertFinding: db.prepare(
        `INSERT INTO findings (${FINDING_COLUMNS}) VALUES (${FINDING_PARAMS})
         ON CONFLICT(id) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms), count = max(count, excluded.count),
           time_ms = min(time_ms, excluded.time_ms), src_ns = excluded.src_ns, dst_ns = excluded.dst_ns, src_node = excluded.src_node,
           dst_node = excluded.dst_node, sender_pod = excluded.sender_pod, cause = excluded.cause, sent_by = excluded.sent_by,
           json = excluded.json, patch = excluded.patch, received_ms = excluded.received_ms`,
      ),
      insertEvidence: db.prepare('INSERT OR REPLACE INTO evidence (finding_id, pcapng, bytes, received_ms) VALUES (?, ?, ?, ?)'),
      getEvidence: db.prepare<[string], { pcapng: Buffer }>('SELECT pcapng FROM evidence WHERE finding_id = ?'),
      deleteOlder: db.prepare('DELETE FROM findings WHERE last_seen_ms < ?'),
      // Items are appended as they arrive (rowid order is received order): the ones before the first item at or after the cutoff.
      deleteItemsOlder: db.prepare('DELETE FROM items WHERE rowid < coalesce((SELECT rowid FROM items WHERE received_ms >= ? ORDER BY rowid LIMIT 1), (SELECT max(rowid) + 1 FROM items))'),
      deleteEvidenceOrphans: db.prepare('DELETE FROM evidence WHERE finding_id NOT IN (SELECT id FROM findings)'),
      deleteOldest: db.prepare('DELETE FROM findings WHERE id IN (SELECT id FROM findings ORDER BY last_seen_ms ASC LIMIT ?)'),
      deleteOldestItems: db.prepare('DELETE FROM items WHERE rowid IN (SELECT rowid FROM items ORDER BY rowid ASC LIMIT ?)'),
      countFindings: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM findings'),
      latestPmtu: db.prepare<[], FindingRow>(
        `SELECT f.json, f.patch FROM findings f
         JOIN (SELECT from_node, to_node, max(last_seen_ms) AS m FROM findings WHERE kind = 'pmtu' GROUP BY from_node, to_node) l
           ON f.kind = 'pmtu' AND f.from_node = l.from_node AND f.to_node = l.to_node AND f.last_seen_ms = l.m
         ORDER BY f.from_node, f.to_node`,
      ),
    };
  }

  /** Highest seq stored for an agent id, 0 when none (sent in the welcome: resume). */
  lastSeq(agentId: string): number {
    let seq = this.lastSeqs.get(agentId);
    if (seq === undefined) {
      seq = this.statements.lastSeq.get(agentId)?.last_seq ?? 0;
      this.lastSeqs.set(agentId, seq);
    }
    return seq;
  }

  private raiseLastSeq(agentId: string, seq: number): void {
    this.lastSeqs.set(agentId, seq);
    this.raisedSeqs.set(agentId, seq);
  }

  /** Writes the agents' rows the open transaction raised (once per agent). */
  private writeRaisedSeqs(): void {
    for (const [agentId, seq] of this.raisedSeqs) this.statements.writeLastSeq.run(agentId, seq);
    this.raisedSeqs.clear();
  }

  /**
   * Runs `work` in the open transaction, or in its own one. The outermost transaction
   * writes the raised last seqs before it commits; when it fails, the in-memory seqs are
   * forgotten (read again from the file), so they never run ahead of what is stored.
   */
  private write<T>(work: () => T): T {
    if (this.db.inTransaction) return work();
    try {
      return this.db.transaction(() => {
        const result = work();
        this.writeRaisedSeqs();
        return result;
      })();
    } catch (err) {
      this.lastSeqs.clear();
      this.raisedSeqs.clear();
      if (err instanceof StoreError) throw err;
      throw new StoreError(`cannot write to the database ${this.path}: ${describeSqliteError(err)}`, { cause: err });
    }
  }

  recordAgent(agentId: string, node: string, hello: unknown, nowMs = Date.now()): void {
    this.statements.upsertAgent.run({ agentId, node, nowMs, hello: JSON.stringify(hello) });
  }

  /**
   * Runs `work` in one transaction: the aggregator groups every message that arrived in
   * one event-loop turn into one commit (a commit costs far more than a row here).
   * ingest/ingestEvidence inside it nest as savepoints.
   */
  batch<T>(work: () => T): T {
    return this.write(work);
  }

  /** Stores items in order, skipping any at or below the agent's last seq, in one transaction. */
  ingest(agentId: string, items: IncomingItem[], receivedMs = Date.now()): IngestResult {
    // Inside batch() the outer transaction is enough: a savepoint per message costs more than its rows.
    return this.write(() => this.ingestItems(agentId, items, receivedMs));
  }

  private ingestItems(agentId: string, items: IncomingItem[], receivedMs: number): IngestResult {
    const firstSeq = this.lastSeq(agentId);
    let lastSeq = firstSeq;
    const changed: IngestResult['changed'] = [];
    let duplicates = 0;
    for (const item of items) {
      if (item.seq <= lastSeq) {
        duplicates += 1;
        continue;
      }
      lastSeq = item.seq;
      this.statements.insertItem.run(agentId, item.seq, item.finding.id, item.update ? 'update' : 'finding', receivedMs);
      changed.push({ ...this.mergeFinding(item.finding, receivedMs), update: item.update });
    }
    if (lastSeq > firstSeq) this.raiseLastSeq(agentId, lastSeq);
    return { lastSeq, changed, duplicates };
  }

  /** Stores evidence for a finding as item (agent id, seq); false when it was a duplicate. */
  ingestEvidence(agentId: string, seq: number, findingId: string, pcapng: Buffer, receivedMs = Date.now()): boolean {
    return this.write(() => {
      if (seq <= this.lastSeq(agentId)) return false;
      this.statements.insertItem.run(agentId, seq, findingId, 'evidence', receivedMs);
      this.statements.insertEvidence.run(findingId, pcapng, pcapng.length, receivedMs);
      this.raiseLastSeq(agentId, seq);
      return true;
    });
  }

  /** Stores evidence produced locally (standalone agent), without an item sequence. */
  putEvidence(findingId: string, pcapng: Buffer, receivedMs = Date.now()): void {
    this.statements.insertEvidence.run(findingId, pcapng, pcapng.length, receivedMs);
  }

  evidence(findingId: string): Buffer | null {
    return this.statements.getEvidence.get(findingId)?.pcapng ?? null;
  }

  /** Inserts a finding or merges a rollup update into the stored one; returns it as stored and how much its count grew. */
  mergeFinding(finding: Finding, receivedMs = Date.now()): { finding: Finding; added: number } {
    if (this.statements.insertFinding.run(...rowValues(finding, null, receivedMs)).changes === 1) return { finding, added: finding.count };
    const existing = this.statements.getRow.get(finding.id);
    const patch = existing?.patch ?? null;
    let merged = finding;
    if (existing !== undefined) {
      // Rollup updates only grow: keep the earliest time, the latest lastSeen, the largest count.
      const previous = JSON.parse(existing.json) as Finding;
      merged = {
        ...finding,
        time: previous.time < finding.time ? previous.time : finding.time,
        lastSeen: previous.lastSeen > finding.lastSeen ? previous.lastSeen : finding.lastSeen,
        count: Math.max(previous.count, finding.count),
      } as Finding;
    }
    this.writeRow(merged, patch, receivedMs);
    return { finding: applyPatch(merged, patch), added: merged.count - (existing?.count ?? 0) };
  }

  /** Records what the aggregator decided about a finding (cross-node verdict, attribution). */
  patchFinding(id: string, patch: FindingPatch, receivedMs = Date.now()): Finding | null {
    const existing = this.statements.getRow.get(id);
    if (existing === undefined) return null;
    const merged = { ...(existing.patch === null ? {} : (JSON.parse(existing.patch) as FindingPatch)), ...patch };
    const finding = JSON.parse(existing.json) as Finding;
    const patchText = JSON.stringify(merged);
    this.writeRow(finding, patchText, receivedMs);
    return applyPatch(finding, patchText);
  }

  private writeRow(finding: Finding, patch: string | null, receivedMs: number): void {
    this.statements.upsertFinding.run(...rowValues(finding, patch, receivedMs));
  }

  get(id: string): Finding | null {
    const row = this.statements.getRow.get(id);
    return row === undefined ? null : applyPatch(JSON.parse(row.json) as Finding, row.patch);
  }

  /** Findings newest first (by lastSeen), filtered as the API asks. */
  query(query: FindingQuery): Finding[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (query.kind !== undefined) {
      where.push('kind = ?');
      args.push(query.kind);
    }
    if (query.sinceMs !== undefined) {
      where.push('last_seen_ms >= ?');
      args.push(query.sinceMs);
    }
    if (query.namespace !== undefined) {
      where.push('(src_ns = ? OR dst_ns = ?)');
      args.push(query.namespace, query.namespace);
    }
    if (query.node !== undefined) {
      where.push('(node = ? OR src_node = ? OR dst_node = ?)');
      args.push(query.node, query.node, query.node);
    }
    if (query.cause !== undefined) {
      where.push('cause = ?');
      args.push(query.cause);
    }
    if (query.sentBy !== undefined) {
      where.push('sent_by = ?');
      args.push(query.sentBy);
    }
    const sql = `SELECT json, patch FROM findings ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY last_seen_ms DESC, rowid DESC LIMIT ?`;
    const rows = this.db.prepare<unknown[], FindingRow>(sql).all(...args, query.limit);
    return rows.map((row) => applyPatch(JSON.parse(row.json) as Finding, row.patch));
  }

  /** Who sent the most resets since a time: by sender pod when known, else by IP. */
  topSenders(sinceMs: number, limit: number): TopSender[] {
    const rows = this.db
      .prepare<[number, number], { ip: string; sender_pod: string | null; src_node: string | null; total: number; findings: number; causes: string }>(
        `SELECT src_ip AS ip, sender_pod, max(src_node) AS src_node, sum(count) AS total, count(*) AS findings, group_concat(DISTINCT cause) AS causes
         FROM findings WHERE kind = 'reset' AND last_seen_ms >= ?
         GROUP BY coalesce(sender_pod, src_ip) ORDER BY total DESC LIMIT ?`,
      )
      .all(sinceMs, limit);
    return rows.map((row) => {
      const [namespace, name] = row.sender_pod?.split('/') ?? [];
      return {
        ip: row.ip,
        pod: row.sender_pod === null ? null : { namespace, name },
        node: row.src_node,
        count: row.total,
        findings: row.findings,
        causes: (row.causes ?? '').split(',').filter((cause) => cause !== ''),
      };
    });
  }

  /** The latest pmtu finding of each (from node, to node) pair. */
  latestPmtu(): Finding[] {
    return this.statements.latestPmtu.all().map((row) => applyPatch(JSON.parse(row.json) as Finding, row.patch));
  }

  count(): number {
    return this.statements.countFindings.get()?.n ?? 0;
  }

  /** Bytes the database's live pages take (free pages excluded). */
  sizeBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /** Deletes what is older than the retention, then the oldest until under the size bound. */
  enforceRetention(nowMs = Date.now()): { deleted: number } {
    let deleted = 0;
    const cutoffMs = nowMs - this.options.retentionMs;
    deleted += this.statements.deleteOlder.run(cutoffMs).changes;
    this.statements.deleteItemsOlder.run(cutoffMs);
    // Size: delete the oldest share (at least a tenth) that should bring the file under 90% of the bound.
    const targetBytes = this.options.maxBytes * 0.9;
    for (let round = 0; round < 50; round += 1) {
      const sizeBytes = this.sizeBytes();
      const total = this.count();
      if (sizeBytes <= targetBytes || total === 0) break;
      const batch = Math.max(1, Math.ceil(total * Math.max(0.1, 1 - targetBytes / sizeBytes)));
      deleted += this.statements.deleteOldest.run(batch).changes;
      this.statements.deleteOldestItems.run(batch * 2);
      this.statements.deleteEvidenceOrphans.run();
    }
    if (deleted > 0) {
      this.statements.deleteEvidenceOrphans.run();
      this.db.pragma('incremental_vacuum');
    }
    return { deleted };
  }

  /** Rows of the item log, for tests and checks: how many times an (agent, seq) was stored. */
  itemCount(agentId: string): number {
    return (this.db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM items WHERE agent_id = ?').get(agentId)?.n ?? 0);
  }

  /** SQLite's automatic WAL checkpoint (on a commit, on this thread); off while WalCheckpointer runs them. */
  setAutoCheckpoint(on: boolean): void {
    this.db.pragma(`wal_autocheckpoint = ${on ? 1000 : 0}`);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

const FINDING_COLUMNS =
  'id, kind, node, time_ms, last_seen_ms, count, src_ip, src_port, dst_ip, dst_port, src_ns, dst_ns, src_node, dst_node, sender_pod, cause, sent_by, from_node, to_node, json, patch, received_ms';
const FINDING_PARAMS = FINDING_COLUMNS.split(',').map(() => '?').join(', ');

/** A findings row's values in FINDING_COLUMNS order (positional: binding by name costs more per row). */
function rowValues(finding: Finding, patch: string | null, receivedMs: number): Array<string | number | null> {
  const view = applyPatch(finding, patch);
  const reset = view.kind === 'pmtu' ? null : view;
  const pmtu = view.kind === 'pmtu' ? view : null;
  return [
    finding.id,
    finding.kind,
    finding.node,
    Date.parse(finding.time) || receivedMs,
    Date.parse(finding.lastSeen) || receivedMs,
    finding.count,
    reset?.src.ip ?? null,
    reset?.src.port ?? null,
    reset?.dst.ip ?? pmtu?.to.ip ?? null,
    reset?.dst.port ?? null,
    reset?.src.pod?.namespace ?? null,
    reset?.dst.pod?.namespace ?? pmtu?.to.pod?.namespace ?? null,
    reset?.src.node ?? pmtu?.from.node ?? null,
    reset?.dst.node ?? pmtu?.to.node ?? null,
    reset?.src.pod === null || reset === null ? null : `${reset.src.pod.namespace}/${reset.src.pod.name}`,
    reset?.cause ?? null,
    reset?.sentBy ?? null,
    pmtu?.from.node ?? null,
    pmtu === null ? null : (pmtu.to.node ?? pmtu.to.ip),
    JSON.stringify(finding),
    patch,
    receivedMs,
  ];
}

function applyPatch(finding: Finding, patch: string | null): Finding {
  if (patch === null || finding.kind === 'pmtu') return finding;
  return { ...finding, ...(JSON.parse(patch) as FindingPatch) };
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
  const current = row?.version ?? 0;
  if (current > MIGRATIONS.length) {
    throw new Error(`schema version ${current} is newer than this rstprobe knows (${MIGRATIONS.length}); upgrade rstprobe`);
  }
  const apply = db.transaction(() => {
    for (let version = current; version < MIGRATIONS.length; version += 1) db.exec(MIGRATIONS[version]);
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
    else db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
  });
  apply();
}

function describeSqliteError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = (err as Error).message ?? String(err);
  switch (code) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return `${message}; the file is not an intact rstprobe database — move it aside (it is left untouched) or pick another --db`;
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
      return `${message}; make the file and its directory writable, or pick another --db`;
    case 'SQLITE_BUSY':
      return `${message}; another process holds the database; stop it or pick another --db`;
    default:
      return `${message}; pick another --db if the file is not rstprobe's`;
  }
}
