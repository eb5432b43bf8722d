/**
 * The finding: one object that is an NDJSON line, an HTTP API item and a WebSocket
 * payload alike. Its shape is a contract (DESIGN.md, "Finding"); change it only on
 * purpose and document it there.
 */

export type SentBy = 'endpoint' | 'middlebox' | 'unknown';

export type ResetCause =
  | 'not-listening'
  | 'no-connection'
  | 'abort-on-close'
  | 'keepalive-race'
  | 'idle-timeout'
  | 'keepalive-timeout'
  | 'memory-pressure'
  | 'process-exit'
  | 'container-restart'
  | 'sidecar'
  | 'middlebox'
  | 'unknown';

export type EndpointKind = 'pod' | 'node' | 'service' | 'external';

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  container: string | null;
}

export interface ProcessRef {
  pid: number;
  comm: string;
}

export interface Endpoint {
  ip: string;
  port: number;
  kind: EndpointKind;
  pod: PodRef | null;
  node: string | null;
  process: ProcessRef | null;
}

interface FindingBase {
  id: string;
  node: string;
  /** First time seen, ISO 8601. */
  time: string;
  lastSeen: string;
  count: number;
}

export interface ResetFinding extends FindingBase {
  kind: 'reset' | 'syn-timeout';
  /** The address the RST carries as its source. */
  src: Endpoint;
  dst: Endpoint;
  sentBy: SentBy;
  cause: ResetCause;
  kernelReason: string | null;
  state: string | null;
  ttl: number;
  expectedTtl: number | null;
  idleMs: number | null;
  evidence: string[];
  advice: string;
}

export interface PmtuFinding extends FindingBase {
  kind: 'pmtu';
  from: { node: string; ip: string };
  to: { ip: string; node: string | null; pod: PodRef | null };
  pmtu: number;
  localMtu: number;
  mismatch: boolean;
  blackHole: boolean;
  icmpSeen: boolean;
  probes: number;
  durationMs: number;
  advice: string;
  /**
   * Optional, additive: what the measurement and the capture saw on this path (ICMP
   * errors with the MTU they announced, SYN MSS values the path cannot carry, the
   * interfaces compared). Absent in findings from agents that predate it.
   */
  evidence?: string[];
}

export type Finding = ResetFinding | PmtuFinding;
