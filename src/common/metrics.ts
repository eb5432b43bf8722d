import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

/**
 * Every metric name and label key of rstprobe, in one place (STYLE.md §8).
 * Counters end in `_total`, units are in the name, labels stay low-cardinality:
 * no ports, no pod IPs.
 */
export interface AgentMetrics {
  registry: Registry;
  packetsCaptured: Counter;
  kernelDrops: Counter;
  duplicatePackets: Counter;
  decodeErrors: Counter<'layer'>;
  resets: Counter<'cause' | 'sent_by'>;
  findings: Counter<'kind'>;
  kernelEvents: Counter<'direction'>;
  kernelEventParseErrors: Counter;
  flowsTracked: Gauge;
  flowsEvicted: Counter;
  captureUp: Gauge;
  kernelEventsUp: Gauge;
  attributionAddresses: Gauge;
  attributionCniPods: Gauge;
  cniMalformedFiles: Gauge;
  kubernetesStale: Gauge;
  /** Findings the agent could not deliver or keep (queue and spool full, spool unwritable), by reason. */
  findingsDropped: Counter<'reason'>;
  /** 1 while the agent's aggregator connection is up (streaming mode). */
  aggregatorConnected: Gauge;
  /** Items waiting for the aggregator's ack: in memory and in the on-disk spool. */
  aggregatorQueued: Gauge<'where'>;
}

export function createAgentMetrics(): AgentMetrics {
  const registry = new Registry();
  // Event-loop lag sampled once a second: the default 10 ms timer alone costs an idle agent ~1% CPU.
  collectDefaultMetrics({ register: registry, prefix: 'rstprobe_process_', eventLoopMonitoringPrecision: 1000 });
  const registers = [registry];
  return {
    registry,
    packetsCaptured: new Counter({ name: 'rstprobe_packets_captured_total', help: 'Packets that passed the kernel filter and reached rstprobe.', registers }),
    kernelDrops: new Counter({ name: 'rstprobe_capture_kernel_drops_total', help: 'Packets the kernel dropped because the capture ring was full (PACKET_STATISTICS).', registers }),
    duplicatePackets: new Counter({ name: 'rstprobe_duplicate_packets_total', help: 'Copies of one packet seen on a second interface (forwarded or loopback), counted once.', registers }),
    decodeErrors: new Counter({ name: 'rstprobe_decode_errors_total', help: 'Captured frames that could not be decoded, by layer.', labelNames: ['layer'], registers }),
    resets: new Counter({ name: 'rstprobe_resets_total', help: 'TCP resets judged, by cause and by who sent them.', labelNames: ['cause', 'sent_by'], registers }),
    findings: new Counter({ name: 'rstprobe_findings_total', help: 'Findings published (new ones, not rollup updates), by kind.', labelNames: ['kind'], registers }),
    kernelEvents: new Counter({ name: 'rstprobe_kernel_reset_events_total', help: 'tcp_send_reset / tcp_receive_reset events read from tracefs.', labelNames: ['direction'], registers }),
    kernelEventParseErrors: new Counter({ name: 'rstprobe_kernel_event_parse_errors_total', help: 'trace_pipe lines that could not be parsed.', registers }),
    flowsTracked: new Gauge({ name: 'rstprobe_flows_tracked', help: 'TCP flows currently tracked.', registers }),
    flowsEvicted: new Counter({ name: 'rstprobe_flows_evicted_total', help: 'Flows evicted because the flow table was full.', registers }),
    captureUp: new Gauge({ name: 'rstprobe_capture_up', help: '1 while the packet capture is running.', registers }),
    kernelEventsUp: new Gauge({ name: 'rstprobe_kernel_events_up', help: '1 while kernel reset events are being read.', registers }),
    attributionAddresses: new Gauge({ name: 'rstprobe_attribution_addresses', help: 'Addresses with a known owner (pod, node, service) in the time-versioned map, current and retained.', registers }),
    attributionCniPods: new Gauge({ name: 'rstprobe_attribution_cni_pods', help: "Pods this node's CNI cache describes.", registers }),
    cniMalformedFiles: new Gauge({ name: 'rstprobe_cni_cache_malformed_files', help: 'CNI cache files present but not parseable (half-written or corrupt).', registers }),
    kubernetesStale: new Gauge({ name: 'rstprobe_kubernetes_stale', help: '1 while the Kubernetes API has been unreachable too long and attribution uses the last good state; 0 otherwise or without Kubernetes.', registers }),
    findingsDropped: new Counter({ name: FINDINGS_DROPPED, help: 'Findings dropped instead of delivered or stored, by reason (never silently).', labelNames: ['reason'], registers }),
    aggregatorConnected: new Gauge({ name: 'rstprobe_aggregator_connected', help: '1 while the agent is connected to its aggregator.', registers }),
    aggregatorQueued: new Gauge({ name: 'rstprobe_aggregator_queued_items', help: 'Items waiting for the aggregator to ack them, by where they wait (memory, spool).', labelNames: ['where'], registers }),
  };
}

const FINDINGS_DROPPED = 'rstprobe_findings_dropped_total';

/** The agent's path-MTU prober (src/pmtu/scheduler.ts); no per-path labels (target IPs are unbounded). */
export interface PmtuMetrics {
  measurements: Counter<'result'>;
  probes: Counter;
  smallestPathMtu: Gauge;
  problemPaths: Gauge<'problem'>;
}

export function createPmtuMetrics(registry: Registry): PmtuMetrics {
  const registers = [registry];
  return {
    measurements: new Counter({ name: 'rstprobe_pmtu_measurements_total', help: 'Path-MTU measurements by this agent, by result (ok, no_answer, error).', labelNames: ['result'], registers }),
    probes: new Counter({ name: 'rstprobe_pmtu_probes_total', help: 'Path-MTU probe packets sent by this agent.', registers }),
    smallestPathMtu: new Gauge({ name: 'rstprobe_pmtu_smallest_path_bytes', help: 'Smallest path MTU this agent measured in its last cycle.', registers }),
    problemPaths: new Gauge({ name: 'rstprobe_pmtu_problem_paths', help: 'Paths from this node whose latest measurement shows a problem, by problem (mismatch, black_hole).', labelNames: ['problem'], registers }),
  };
}

/** The aggregator's metrics (issue 6): what the cluster's agents reported, and the ingest's health. */
export interface AggregatorMetrics {
  registry: Registry;
  /** Null when sharing the standalone agent's registry, whose own resets counter already counts them. */
  resets: Counter<'cause' | 'namespace' | 'sent_by'> | null;
  synTimeouts: Counter;
  pmtuBytes: Gauge<'from_node' | 'to_node'>;
  pmtuBlackHoles: Gauge;
  agentConnections: Gauge;
  ingestLag: Histogram;
  ingestedItems: Counter<'kind'>;
  rejectedMessages: Counter<'reason'>;
  findingsDropped: Counter<'reason'>;
  crossNodeVerdicts: Counter<'verdict'>;
}

/**
 * With `shared` (the standalone agent's registry) the aggregator's metrics join the
 * agent's on one /metrics; a name the agent already has is reused, not registered twice.
 */
export function createAggregatorMetrics(shared?: Registry): AggregatorMetrics {
  const registry = shared ?? new Registry();
  if (shared === undefined) collectDefaultMetrics({ register: registry, prefix: 'rstprobe_process_', eventLoopMonitoringPrecision: 1000 });
  const registers = [registry];
  const existing = <T extends Metric>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  return {
    registry,
    resets: existing('rstprobe_resets_total') === undefined
      ? new Counter({ name: 'rstprobe_resets_total', help: 'TCP resets reported by the agents, by cause, namespace (sender, else receiver) and who sent them.', labelNames: ['cause', 'namespace', 'sent_by'], registers })
      : null,
    synTimeouts: new Counter({ name: 'rstprobe_syn_timeouts_total', help: 'SYNs that never got an answer, as reported by the agents.', registers }),
    pmtuBytes: new Gauge({ name: 'rstprobe_pmtu_bytes', help: 'Latest measured path MTU between two nodes.', labelNames: ['from_node', 'to_node'], registers }),
    pmtuBlackHoles: new Gauge({ name: 'rstprobe_pmtu_black_holes', help: 'Node pairs whose latest path-MTU measurement found a black hole (ICMP frag-needed filtered).', registers }),
    agentConnections: new Gauge({ name: 'rstprobe_agent_connections', help: 'Agents connected to the aggregator.', registers }),
    ingestLag: new Histogram({
      name: 'rstprobe_ingest_lag_seconds',
      help: 'Time from a finding last changing on its node to the aggregator storing it.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    ingestedItems: new Counter({ name: 'rstprobe_ingested_items_total', help: 'Items received from agents, by kind (finding, update, evidence, duplicate).', labelNames: ['kind'], registers }),
    rejectedMessages: new Counter({ name: 'rstprobe_ingest_rejected_messages_total', help: 'Agent messages refused with a protocol error and a close, by reason.', labelNames: ['reason'], registers }),
    findingsDropped:
      existing<Counter<'reason'>>(FINDINGS_DROPPED) ??
      new Counter({ name: FINDINGS_DROPPED, help: 'Findings dropped instead of delivered or stored, by reason (never silently).', labelNames: ['reason'], registers }),
    crossNodeVerdicts: new Counter({ name: 'rstprobe_cross_node_verdicts_total', help: 'Reset verdicts decided from two nodes\' findings (confirmed endpoint, upgraded to middlebox).', labelNames: ['verdict'], registers }),
  };
}
