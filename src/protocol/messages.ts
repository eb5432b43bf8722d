import Ajv, { type ValidateFunction } from 'ajv';
import type { Finding } from './finding';
import { findingSchema } from './finding-schema';

/**
 * The agent ↔ aggregator protocol on `/api/v1/agents` (WebSocket, one JSON object per
 * text frame). Every message the aggregator receives is checked against a compiled
 * JSON Schema (ajv) before it is used.
 *
 *   agent → aggregator: hello, findings (batches), evidence, heartbeat
 *   aggregator → agent: welcome (carries the last acked seq: resume), ack, error
 *
 * Each finding, each rollup update and each evidence upload is one *item* with a
 * per-agent sequence number that only grows. The aggregator stores an item only when
 * its seq is above the last one it stored for that agent id, in the same transaction
 * as the item, so a resend after a lost ack is ignored: exactly once per (agent id, seq).
 * Acks are cumulative: `ack{seq}` means every item up to seq is stored.
 */

export const PROTOCOL_VERSION = 1;

/** Largest message the aggregator accepts; larger ones get an error and close 4413. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Largest evidence capture per finding (raw pcapng bytes, before base64). */
export const MAX_EVIDENCE_BYTES = 256 * 1024;
/** Largest batch the agent sends in one `findings` message. */
export const MAX_BATCH_ITEMS = 500;

/** WebSocket close codes (RFC 6455 §7.4.2 leaves 4000–4999 to applications). */
export const CloseCode = {
  badMessage: 4400,
  helloFirst: 4409,
  tooLarge: 4413,
  idleTimeout: 4408,
  unsupportedVersion: 4426,
  replaced: 4429,
  shuttingDown: 4503,
} as const;

export interface AgentCapabilities {
  kernelEvents: boolean;
  captureMode: string;
  evidence: boolean;
}

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  agentId: string;
  node: string;
  version: string;
  capabilities: AgentCapabilities;
  /** The node's own addresses, so the aggregator knows which node hosts an IP. */
  addresses: string[];
}

export interface FindingItem {
  seq: number;
  /** True when this is a rollup update (count/lastSeen grew) of an earlier finding. */
  update: boolean;
  finding: Finding;
}

export interface FindingsMessage {
  type: 'findings';
  items: FindingItem[];
}

export interface EvidenceMessage {
  type: 'evidence';
  seq: number;
  findingId: string;
  /** pcapng bytes, base64. */
  pcapng: string;
  bytes: number;
}

export interface HeartbeatMessage {
  type: 'heartbeat';
  /** Whether kernel reset events are still being read (they can stop at run time). */
  kernelEvents: boolean;
  /** Findings this agent process dropped so far (queue and spool full), for the aggregator's metrics. */
  droppedFindings: number;
}

export type AgentMessage = HelloMessage | FindingsMessage | EvidenceMessage | HeartbeatMessage;

export interface WelcomeMessage {
  type: 'welcome';
  protocol: number;
  /** Highest seq stored for this agent id, 0 when none: the agent resends what follows. */
  lastSeq: number;
  /** The aggregator closes a connection silent for this long; agents heartbeat well within it. */
  idleTimeoutMs: number;
}

export interface AckMessage {
  type: 'ack';
  seq: number;
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export type AggregatorMessage = WelcomeMessage | AckMessage | ErrorMessage;

const seq = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;

export const messageSchemas = {
  hello: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'protocol', 'agentId', 'node', 'version', 'capabilities', 'addresses'],
    properties: {
      type: { const: 'hello' },
      protocol: { type: 'integer', minimum: 1 },
      agentId: { type: 'string', minLength: 1, maxLength: 253 },
      node: { type: 'string', minLength: 1, maxLength: 253 },
      version: { type: 'string', maxLength: 64 },
      capabilities: {
        type: 'object',
        additionalProperties: false,
        required: ['kernelEvents', 'captureMode', 'evidence'],
        properties: { kernelEvents: { type: 'boolean' }, captureMode: { type: 'string', maxLength: 32 }, evidence: { type: 'boolean' } },
      },
      addresses: { type: 'array', maxItems: 256, items: { type: 'string', maxLength: 64 } },
    },
  },
  findings: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'items'],
    properties: {
      type: { const: 'findings' },
      items: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_BATCH_ITEMS,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['seq', 'update', 'finding'],
          properties: { seq, update: { type: 'boolean' }, finding: findingSchema },
        },
      },
    },
  },
  evidence: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'seq', 'findingId', 'pcapng', 'bytes'],
    properties: {
      type: { const: 'evidence' },
      seq,
      findingId: { type: 'string', minLength: 1, maxLength: 128 },
      pcapng: { type: 'string', maxLength: Math.ceil(MAX_EVIDENCE_BYTES / 3) * 4, pattern: '^[A-Za-z0-9+/]*={0,2}$' },
      bytes: { type: 'integer', minimum: 0, maximum: MAX_EVIDENCE_BYTES },
    },
  },
  heartbeat: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'kernelEvents', 'droppedFindings'],
    properties: { type: { const: 'heartbeat' }, kernelEvents: { type: 'boolean' }, droppedFindings: { type: 'integer', minimum: 0 } },
  },
  welcome: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'protocol', 'lastSeq', 'idleTimeoutMs'],
    properties: {
      type: { const: 'welcome' },
      protocol: { type: 'integer', minimum: 1 },
      lastSeq: { type: 'integer', minimum: 0 },
      idleTimeoutMs: { type: 'integer', minimum: 1 },
    },
  },
  ack: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'seq'],
    properties: { type: { const: 'ack' }, seq: { type: 'integer', minimum: 0 } },
  },
  error: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'code', 'message'],
    properties: { type: { const: 'error' }, code: { type: 'string', maxLength: 64 }, message: { type: 'string', maxLength: 2048 } },
  },
} as const;

export type MessageType = keyof typeof messageSchemas;

/** Why a message was refused, in words fit for the peer and the log. */
export type ParseResult<T> = { ok: true; message: T } | { ok: false; reason: string };

let compiled: Record<MessageType, ValidateFunction> | null = null;

function validators(): Record<MessageType, ValidateFunction> {
  if (compiled === null) {
    // unicode: false — maxLength counts UTF-16 units (String.length), not code points: the
    // limits guard sizes, and counting code points walked every string of every message.
    const ajv = new Ajv({ allErrors: false, strict: true, unicode: false });
    compiled = Object.fromEntries(Object.entries(messageSchemas).map(([type, schema]) => [type, ajv.compile(schema)])) as Record<MessageType, ValidateFunction>;
  }
  return compiled;
}

/** The compiled validator of one message type (or `finding` for a bare Finding). */
export function validatorFor(type: MessageType): ValidateFunction {
  return validators()[type];
}

let findingValidator: ValidateFunction | null = null;
/** Checks a bare Finding (as printed on stdout or served by the API) against its schema. */
export function validateFinding(value: unknown): string | null {
  findingValidator ??= new Ajv({ strict: true }).compile(findingSchema);
  return findingValidator(value) ? null : describeErrors(findingValidator);
}

function describeErrors(validate: ValidateFunction): string {
  const first = validate.errors?.[0];
  return first === undefined ? 'invalid' : `${first.instancePath || '/'} ${first.message ?? 'is invalid'}`;
}

function parseWith<T>(text: string, allowed: readonly MessageType[]): ParseResult<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const type = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !(allowed as readonly string[]).includes(type)) {
    return { ok: false, reason: `unknown message type ${JSON.stringify(type)}; expected one of ${allowed.join(', ')}` };
  }
  const validate = validatorFor(type as MessageType);
  if (!validate(value)) return { ok: false, reason: `${type}: ${describeErrors(validate)}` };
  return { ok: true, message: value as T };
}

export function parseAgentMessage(text: string): ParseResult<AgentMessage> {
  return parseWith<AgentMessage>(text, ['hello', 'findings', 'evidence', 'heartbeat']);
}

export function parseAggregatorMessage(text: string): ParseResult<AggregatorMessage> {
  return parseWith<AggregatorMessage>(text, ['welcome', 'ack', 'error']);
}
