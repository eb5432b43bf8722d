import type { Lab, LabFabric, LabNode, LabPod } from './lab';

/** Addresses of the gateway cluster: node underlay and pod CIDRs, and the two pods. */
export const GATEWAY_CLUSTER = {
  nodeA: { name: 'node-a', underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' },
  nodeB: { name: 'node-b', underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24' },
  gateway: { namespace: 'istio-system', name: 'gateway-0', ip: '10.244.1.10' },
  upstream: { namespace: 'default', name: 'reviews-0', ip: '10.244.2.20' },
} as const;

/** The cluster of DESIGN.md's first failure modes: an ingress gateway pod on node-a, its upstream on node-b. */
export interface GatewayCluster {
  fabric: LabFabric;
  nodeA: LabNode;
  nodeB: LabNode;
  gateway: LabPod;
  upstream: LabPod;
}

/**
 * Builds the gateway cluster in `lab`: two nodes routed over the fabric, the
 * gateway pod on node-a and the upstream pod on node-b. Most lab tests start from
 * it and add what their scenario needs (more pods, rules, MTUs).
 */
export async function addGatewayCluster(lab: Lab): Promise<GatewayCluster> {
  const { nodeA, nodeB, gateway, upstream } = GATEWAY_CLUSTER;
  const fabric = await lab.addFabric();
  const a = await lab.addNode(nodeA.name, { underlayIp: nodeA.underlayIp, podCidr: nodeA.podCidr });
  const b = await lab.addNode(nodeB.name, { underlayIp: nodeB.underlayIp, podCidr: nodeB.podCidr });
  return { fabric, nodeA: a, nodeB: b, gateway: await lab.addPod(a, gateway), upstream: await lab.addPod(b, upstream) };
}
