import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

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
  };
}
