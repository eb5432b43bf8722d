/**
 * JSON Schema of the Finding (src/protocol/finding.ts, DESIGN.md "Finding"). It is
 * kept field for field with the TypeScript types: every property required, nothing
 * else allowed, so a finding that passes is exactly one the rest of rstprobe can read.
 * Tests check the agent's real findings against it.
 */

const nullable = (schema: Record<string, unknown>): Record<string, unknown> => ({ anyOf: [schema, { type: 'null' }] });

const shortText = { type: 'string', maxLength: 1024 } as const;
const isoTime = { type: 'string', minLength: 10, maxLength: 40 } as const;

const podRef = {
  type: 'object',
  additionalProperties: false,
  required: ['namespace', 'name', 'uid', 'container'],
  properties: {
    namespace: shortText,
    name: shortText,
    uid: shortText,
    container: nullable(shortText),
  },
} as const;

const endpoint = {
  type: 'object',
  additionalProperties: false,
  required: ['ip', 'port', 'kind', 'pod', 'node', 'process'],
  properties: {
    ip: { type: 'string', minLength: 2, maxLength: 64 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    kind: { enum: ['pod', 'node', 'service', 'external'] },
    pod: nullable(podRef),
    node: nullable(shortText),
    process: nullable({
      type: 'object',
      additionalProperties: false,
      required: ['pid', 'comm'],
      properties: { pid: { type: 'integer', minimum: 0 }, comm: shortText },
    }),
  },
} as const;

const base = {
  id: { type: 'string', minLength: 1, maxLength: 128 },
  node: shortText,
  time: isoTime,
  lastSeen: isoTime,
  count: { type: 'integer', minimum: 1 },
} as const;

export const RESET_CAUSES = [
  'not-listening',
  'no-connection',
  'abort-on-close',
  'keepalive-race',
  'idle-timeout',
  'keepalive-timeout',
  'memory-pressure',
  'process-exit',
  'container-restart',
  'sidecar',
  'middlebox',
  'unknown',
] as const;

export const resetFindingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', ...Object.keys(base), 'src', 'dst', 'sentBy', 'cause', 'kernelReason', 'state', 'ttl', 'expectedTtl', 'idleMs', 'evidence', 'advice'],
  properties: {
    kind: { enum: ['reset', 'syn-timeout'] },
    ...base,
    src: endpoint,
    dst: endpoint,
    sentBy: { enum: ['endpoint', 'middlebox', 'unknown'] },
    cause: { enum: RESET_CAUSES },
    kernelReason: nullable(shortText),
    state: nullable(shortText),
    ttl: { type: 'integer', minimum: 0, maximum: 255 },
    expectedTtl: nullable({ type: 'integer', minimum: 0, maximum: 255 }),
    idleMs: nullable({ type: 'number', minimum: 0 }),
    evidence: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 4096 } },
    advice: { type: 'string', maxLength: 8192 },
  },
} as const;

export const pmtuFindingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', ...Object.keys(base), 'from', 'to', 'pmtu', 'localMtu', 'mismatch', 'blackHole', 'icmpSeen', 'probes', 'durationMs', 'advice'],
  properties: {
    kind: { const: 'pmtu' },
    ...base,
    from: {
      type: 'object',
      additionalProperties: false,
      required: ['node', 'ip'],
      properties: { node: shortText, ip: { type: 'string', maxLength: 64 } },
    },
    to: {
      type: 'object',
      additionalProperties: false,
      required: ['ip', 'node', 'pod'],
      properties: { ip: { type: 'string', maxLength: 64 }, node: nullable(shortText), pod: nullable(podRef) },
    },
    pmtu: { type: 'integer', minimum: 0, maximum: 65535 },
    localMtu: { type: 'integer', minimum: 0, maximum: 65535 },
    mismatch: { type: 'boolean' },
    blackHole: { type: 'boolean' },
    icmpSeen: { type: 'boolean' },
    probes: { type: 'integer', minimum: 0 },
    durationMs: { type: 'number', minimum: 0 },
    advice: { type: 'string', maxLength: 8192 },
    // Optional: passive evidence (ICMP too-big seen, SYN MSS larger than the path allows).
    evidence: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 4096 } },
  },
} as const;

export const findingSchema = { oneOf: [resetFindingSchema, pmtuFindingSchema] } as const;
