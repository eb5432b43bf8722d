import type { PodRecord, ServiceRecord } from '../attribution/kubernetes/types';
import { podText, type PartyFacts } from './facts';
import { namedPort } from './network-policy';

/**
 * Failure mode 5 (upstream not listening): the refused port against the three
 * places it should agree with — the pod's declared containerPorts, the targetPort
 * of the Services selecting the pod (a number, or a container port's name), and
 * the ports the pod's processes actually listen on — and which one differs.
 */
export interface PortCheck {
  evidence: string[];
  advice: string;
}

interface ServiceTarget {
  service: ServiceRecord;
  servicePort: number;
  targetText: string;
  /** The container port the target resolves to; null for a name the pod does not declare. */
  resolved: number | null;
}

export function checkRefusedPort(port: number, target: string, sender: PartyFacts): PortCheck {
  const evidence: string[] = [];
  const pod = sender.pod;
  const declared = pod === null ? null : declaredPorts(pod);
  const targets = pod === null ? [] : serviceTargets(pod, sender.services);
  const listening = sender.listening?.ports ?? null;

  if (pod !== null && declared !== null) {
    const list = declared.length === 0 ? 'no containerPorts' : `containerPorts ${declared.map(({ text }) => text).join(', ')}`;
    const includes = declared.some(({ port: declaredPort }) => declaredPort === port);
    evidence.push(`${podText(pod)} declares ${list}; port ${port} is ${includes ? '' : 'not '}among them`);
  }
  for (const entry of targets) {
    const resolvedText = entry.resolved === null ? `, a name no container of the pod declares` : entry.targetText === String(entry.resolved) ? '' : ` (= ${entry.resolved})`;
    evidence.push(`Service ${entry.service.namespace}/${entry.service.name} port ${entry.servicePort} targets ${entry.targetText}${resolvedText}`);
  }
  if (listening !== null) {
    evidence.push(
      listening.length === 0
        ? `nothing listens on any TCP port in the pod's network namespace (${sender.listening!.source})`
        : `the pod's network namespace listens on TCP ${listening.join(', ')}, not on ${port} (${sender.listening!.source})`,
    );
  }

  // Which one differs, most specific first.
  const targetingThis = targets.filter((entry) => entry.resolved === port);
  const unresolved = targets.find((entry) => entry.resolved === null);
  if (unresolved !== undefined) {
    evidence.push(`the Service's targetPort "${unresolved.targetText}" names no container port of the pod`);
    return { evidence, advice: `Service ${unresolved.service.namespace}/${unresolved.service.name} targets port "${unresolved.targetText}", which no container of the pod declares: name the container port "${unresolved.targetText}" or set the targetPort to the port the container listens on${listeningHint(listening)}.` };
  }
  if (listening !== null && listening.length > 0) {
    const listenedDeclared = declared?.filter(({ port: declaredPort }) => listening.includes(declaredPort)) ?? [];
    if (targetingThis.length > 0) {
      const service = targetingThis[0].service;
      evidence.push(`the Service targets ${port} but the pod listens on ${listening.join(', ')}: the targetPort (or the app's listen port) is wrong`);
      return {
        evidence,
        advice: `Service ${service.namespace}/${service.name} sends to port ${port}, but the pod listens on ${listening.join(', ')}: set the Service's targetPort to ${listenedDeclared[0]?.port ?? listening[0]} (or make the app listen on ${port}).`,
      };
    }
    evidence.push(`port ${port} is not what the pod listens on (${listening.join(', ')})`);
    return { evidence, advice: `Nothing listens on ${target}; the pod listens on ${listening.join(', ')}. Point the client (or the Service's targetPort) at ${listenedDeclared[0]?.port ?? listening[0]}, or make the app listen on ${port}.` };
  }
  if (listening !== null && listening.length === 0) {
    evidence.push('no process of the pod listens yet: the app has not started listening, or it is not ready');
    return { evidence, advice: `Nothing listens in the pod behind ${target} yet. Keep it out of the Service's endpoints until it listens (a readinessProbe on port ${port}), and check why the app has not opened its port (logs, startup).` };
  }
  if (declared !== null && declared.length > 0 && !declared.some(({ port: declaredPort }) => declaredPort === port)) {
    return { evidence, advice: `Port ${port} is not a containerPort of the pod (${declared.map(({ text }) => text).join(', ')}): make the Service's targetPort or the client use the declared port.` };
  }
  return {
    evidence,
    advice: `Nothing listens on ${target}. Make the Service's targetPort match the port the container listens on, and keep the pod out of endpoints until it listens (readiness probe).`,
  };
}

function declaredPorts(pod: PodRecord): Array<{ port: number; text: string }> {
  const ports: Array<{ port: number; text: string }> = [];
  for (const container of pod.containers) {
    for (const declared of container.ports) {
      if (declared.protocol !== 'TCP') continue;
      ports.push({ port: declared.containerPort, text: declared.name === null ? String(declared.containerPort) : `${declared.containerPort} (${declared.name})` });
    }
  }
  return ports;
}

function serviceTargets(pod: PodRecord, services: readonly ServiceRecord[]): ServiceTarget[] {
  const targets: ServiceTarget[] = [];
  for (const service of services) {
    for (const servicePort of service.ports) {
      if (servicePort.protocol !== 'TCP') continue;
      const resolved = typeof servicePort.targetPort === 'number' ? servicePort.targetPort : namedPort(pod, servicePort.targetPort);
      targets.push({ service, servicePort: servicePort.port, targetText: String(servicePort.targetPort), resolved });
    }
  }
  return targets;
}

function listeningHint(listening: number[] | null): string {
  return listening === null || listening.length === 0 ? '' : ` (${listening.join(', ')})`;
}
