/**
 * The store's schema as an ordered list of migrations: entry N brings a database at
 * version N to N+1. Never edit a released entry; append a new one.
 * Indexes follow the API's queries: newest first (last_seen_ms), by kind, namespace,
 * cause, and the pmtu pairs; no more of them, since every index is paid on every
 * finding the agents stream (the node filter walks last_seen_ms; see migration 2).
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE agents (
    agent_id TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    hello_json TEXT
  );
  -- The log of stored items, append-only: (agent_id, seq) is unique because ingest
  -- stores a seq only above agents.last_seq in the same transaction. No index on it:
  -- with a thousand agents, one would dirty a thousand B-tree pages per commit.
  CREATE TABLE items (
    agent_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    finding_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_ms INTEGER NOT NULL
  );
  CREATE INDEX items_received ON items (received_ms);
  CREATE TABLE findings (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    node TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    src_ip TEXT, src_port INTEGER, dst_ip TEXT, dst_port INTEGER,
    src_ns TEXT, dst_ns TEXT, src_node TEXT, dst_node TEXT, sender_pod TEXT,
    cause TEXT, sent_by TEXT,
    from_node TEXT, to_node TEXT,
    json TEXT NOT NULL,
    patch TEXT,
    received_ms INTEGER NOT NULL
  );
  CREATE INDEX findings_last_seen ON findings (last_seen_ms);
  CREATE INDEX findings_kind ON findings (kind, last_seen_ms);
  CREATE INDEX findings_cause ON findings (cause, last_seen_ms);
  CREATE INDEX findings_src_ns ON findings (src_ns, last_seen_ms);
  CREATE INDEX findings_dst_ns ON findings (dst_ns, last_seen_ms);
  CREATE INDEX findings_node ON findings (node, last_seen_ms);
  CREATE INDEX findings_src_node ON findings (src_node);
  CREATE INDEX findings_dst_node ON findings (dst_node);
  CREATE INDEX findings_pmtu_pair ON findings (from_node, to_node, last_seen_ms) WHERE kind = 'pmtu';
  CREATE TABLE evidence (
    finding_id TEXT PRIMARY KEY,
    pcapng BLOB NOT NULL,
    bytes INTEGER NOT NULL,
    received_ms INTEGER NOT NULL
  );
  `,
  // 2: leaner writes for ingest (issue 6). Every finding insert paid one B-tree insert
  // per index; these three are keyed by node names, so each lands on a different page
  // per agent and dirtied about one page per item of every commit. The node filter
  // (node OR src_node OR dst_node) could use them only all together; without them it
  // walks findings_last_seen newest first and stops at the LIMIT.
  `
  DROP INDEX IF EXISTS findings_node;
  DROP INDEX IF EXISTS findings_src_node;
  DROP INDEX IF EXISTS findings_dst_node;
  `,
  // 3: each agent's last seq in a table of its own, a few pages for thousands of agents.
  // In agents (next to the hello's JSON) raising it dirtied one page per agent of every
  // commit. agents.last_seq is no longer read or written after this migration.
  `
  CREATE TABLE agent_seqs (agent_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO agent_seqs (agent_id, last_seq) SELECT agent_id, last_seq FROM agents WHERE last_seq > 0;
  `,
  // 4: the item log is appended in the order items arrive, so its rowids already follow
  // received_ms: retention walks it by rowid from the start, and the index on
  // received_ms (one more B-tree insert per streamed item) goes.
  `
  DROP INDEX IF EXISTS items_received;
  `,
];
