import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';

/**
 * Renders deploy/kubernetes with the real kustomize (kubectl's) and checks the
 * least-privilege promises that deploy/README.md and the manifests' comments make,
 * on the rendered objects — and that every flag the manifests pass exists in the CLI.
 */
const REPO = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');

// Plain shapes for the parts of the objects the test reads.
/* eslint-disable @typescript-eslint/no-explicit-any */
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: any };

const kubectlMissing = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0 ? undefined : 'kubectl is not installed';

function render(dir: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', path.join(REPO, dir)], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, `kubectl kustomize ${dir}: ${result.stderr}`);
  return parseYamlDocuments(result.stdout) as K8sObject[];
}

/**
 * Plain objects from YAML. client-node's own loadAllYaml maps them onto its model
 * classes (NetworkPolicy `from` becomes `_from`), so its YAML parser, js-yaml, is
 * used directly, resolved from client-node's install (a dependency of it).
 */
function parseYamlDocuments(text: string): unknown[] {
  const clientDir = path.dirname(require.resolve('@kubernetes/client-node'));
  const jsYaml = require(require.resolve('js-yaml', { paths: [clientDir] })) as { loadAll: (text: string) => unknown[] };
  return jsYaml.loadAll(text).filter((doc) => doc !== null);
}

function one(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `${kind}/${name}: found ${found.length}`);
  return found[0]!;
}

/** `--flag=value` and `--flag value` arguments as a map (the manifests use the first form). */
function flagsOf(args: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (const arg of args) {
    const match = /^(--[a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (match) flags.set(match[1]!, match[2] ?? '');
  }
  return flags;
}

function helpOf(command: string): string {
  const result = spawnSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, `rstprobe ${command} --help: ${result.stderr}`);
  return result.stdout;
}

function ruleSet(role: K8sObject): string[] {
  const out: string[] = [];
  for (const rule of role.rules as { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }[]) {
    assert.equal(rule.resourceNames, undefined);
    assert.equal(rule.nonResourceURLs, undefined);
    for (const group of rule.apiGroups) for (const resource of rule.resources) for (const verb of rule.verbs) out.push(`${group || 'core'}/${resource}:${verb}`);
  }
  return out.sort();
}

const readVerbs = (group: string, resources: string[]): string[] => resources.flatMap((r) => ['get', 'list', 'watch'].map((v) => `${group}/${r}:${v}`));

describe('deploy/kubernetes rendered by kustomize', { skip: kubectlMissing }, () => {
  let objects: K8sObject[];
  let agent: K8sObject;
  let aggregator: K8sObject;
  let agentPod: any;
  let agentContainer: any;
  let aggregatorPod: any;
  let aggregatorContainer: any;

  before(() => {
    objects = render('deploy/kubernetes');
    agent = one(objects, 'DaemonSet', 'rstprobe-agent');
    aggregator = one(objects, 'Deployment', 'rstprobe-aggregator');
    agentPod = agent.spec.template.spec;
    aggregatorPod = aggregator.spec.template.spec;
    assert.equal(agentPod.containers.length, 1);
    assert.equal(aggregatorPod.containers.length, 1);
    agentContainer = agentPod.containers[0];
    aggregatorContainer = aggregatorPod.containers[0];
  });

  test('the base needs no CRD; the Prometheus overlay adds a ServiceMonitor and a PodMonitor', () => {
    assert.deepEqual(objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/')), []);
    const withMonitoring = render('deploy/overlays/prometheus');
    const monitors = withMonitoring.filter((o) => o.apiVersion === 'monitoring.coreos.com/v1').map((o) => o.kind).sort();
    assert.deepEqual(monitors, ['PodMonitor', 'ServiceMonitor']);
    const service = one(objects, 'Service', 'rstprobe-aggregator');
    const serviceMonitor = one(withMonitoring, 'ServiceMonitor', 'rstprobe-aggregator');
    assert.ok(service.spec.ports.some((p: any) => p.name === serviceMonitor.spec.endpoints[0].port), 'ServiceMonitor scrapes a named Service port');
    const podMonitor = one(withMonitoring, 'PodMonitor', 'rstprobe-agent');
    assert.ok(agentContainer.ports.some((p: any) => p.name === podMonitor.spec.podMetricsEndpoints[0].port), 'PodMonitor scrapes a named agent port');
  });

  test('every namespaced object lands in the rstprobe namespace, labelled for privileged pods', () => {
    const namespace = one(objects, 'Namespace', 'rstprobe');
    assert.equal(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    for (const o of objects.filter((candidate) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(candidate.kind))) {
      assert.equal(o.metadata.namespace, 'rstprobe', `${o.kind}/${o.metadata.name}`);
    }
  });

  test('agent: host network with cluster DNS, host PID, every node, node-critical', () => {
    assert.equal(agentPod.hostNetwork, true);
    assert.equal(agentPod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(agentPod.hostPID, true, 'task comm and cgroup are read from the host /proc');
    assert.equal(agentPod.priorityClassName, 'system-node-critical');
    assert.ok(
      agentPod.tolerations.some((t: any) => t.operator === 'Exists' && t.key === undefined && t.effect === undefined),
      'one toleration with operator Exists and no key/effect tolerates every taint',
    );
    assert.equal(agentPod.hostIPC, undefined);
    assert.equal(agentPod.securityContext.seccompProfile.type, 'RuntimeDefault');
  });

  test('agent: uid 0 but not privileged; capabilities: drop ALL, add exactly NET_RAW', () => {
    const sc = agentContainer.securityContext;
    assert.notEqual(sc.privileged, true);
    assert.equal(sc.privileged, false);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.runAsUser, 0);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.deepEqual(sc.capabilities.add, ['NET_RAW']);
    assert.equal(JSON.stringify(objects).includes('"privileged":true'), false, 'nothing anywhere is privileged');
  });

  test('agent: host paths are exactly the CNI state (read-only) and tracefs; writable paths are emptyDirs', () => {
    const volumes = new Map<string, any>(agentPod.volumes.map((v: any) => [v.name, v]));
    const hostPaths = agentPod.volumes.filter((v: any) => v.hostPath).map((v: any) => v.hostPath.path).sort();
    assert.deepEqual(hostPaths, ['/sys/kernel/tracing', '/var/lib/cni']);
    for (const mount of agentContainer.volumeMounts) {
      const volume = volumes.get(mount.name);
      assert.ok(volume, `mount ${mount.name} has a volume`);
      if (volume.hostPath?.path === '/sys/kernel/tracing') {
        // The documented exception: the agent mkdirs its own tracefs instance.
        assert.equal(mount.mountPath, '/sys/kernel/tracing', 'the agent looks for tracefs at /sys/kernel/tracing (src/kernel/tracefs.ts)');
        assert.notEqual(mount.readOnly, true);
        assert.equal(mount.mountPropagation, 'HostToContainer');
      } else if (volume.hostPath) {
        assert.equal(mount.readOnly, true, `${mount.mountPath} from the host must be read-only`);
      } else if (mount.readOnly !== true) {
        assert.ok(volume.emptyDir, `writable mount ${mount.mountPath} must be an emptyDir`);
        assert.ok(volume.emptyDir.sizeLimit, `emptyDir ${mount.name} has a size limit`);
      }
    }
    const cniMount = agentContainer.volumeMounts.find((m: any) => volumes.get(m.name)?.hostPath?.path === '/var/lib/cni');
    assert.equal(flagsOf(agentContainer.args).get('--cni-cache-dir'), cniMount.mountPath, '--cni-cache-dir points at the mounted CNI state');
  });

  test('agent: requests and limits, NODE_NAME from the downward API, probes on the /healthz it serves', () => {
    for (const kind of ['requests', 'limits']) for (const resource of ['cpu', 'memory']) assert.ok(agentContainer.resources[kind][resource], `${kind}.${resource}`);
    const nodeName = agentContainer.env.find((e: any) => e.name === 'NODE_NAME');
    assert.equal(nodeName.valueFrom.fieldRef.fieldPath, 'spec.nodeName');
    const listen = flagsOf(agentContainer.args).get('--listen');
    assert.ok(listen, 'the agent gets --listen');
    const port = Number(listen.split(':').at(-1));
    for (const probe of [agentContainer.livenessProbe, agentContainer.readinessProbe]) {
      assert.equal(probe.httpGet.path, '/healthz');
      const named = agentContainer.ports.find((p: any) => p.name === probe.httpGet.port || p.containerPort === probe.httpGet.port);
      assert.ok(named, 'probe port is a declared container port');
      assert.equal(named.containerPort, port, 'probes hit the port the agent listens on');
    }
    // $(POD_IP) must be defined for kubelet's expansion, or the agent gets the literal text.
    for (const reference of listen.matchAll(/\$\((\w+)\)/g)) {
      assert.ok(agentContainer.env.some((e: any) => e.name === reference[1]), `$(${reference[1]}) is defined`);
    }
  });

  test('agent: a projected token with audience rstprobe is what --token-file reads; --aggregator names the Service', () => {
    const tokenFile = flagsOf(agentContainer.args).get('--token-file');
    assert.ok(tokenFile);
    const mount = agentContainer.volumeMounts.find((m: any) => tokenFile.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `--token-file ${tokenFile} is inside a mount`);
    assert.equal(mount.readOnly, true);
    const volume = agentPod.volumes.find((v: any) => v.name === mount.name);
    const source = volume.projected.sources.find((s: any) => s.serviceAccountToken);
    assert.equal(source.serviceAccountToken.audience, 'rstprobe');
    assert.equal(path.posix.join(mount.mountPath, source.serviceAccountToken.path), tokenFile);
    const url = new URL(flagsOf(agentContainer.args).get('--aggregator')!);
    const service = one(objects, 'Service', 'rstprobe-aggregator');
    assert.equal(url.protocol, 'ws:');
    assert.equal(url.hostname, `${service.metadata.name}.${service.metadata.namespace}.svc`);
    assert.ok(service.spec.ports.some((p: any) => p.port === Number(url.port)), 'the URL port is a Service port');
    assert.equal(url.pathname, '/api/v1/agents');
  });

  test('aggregator: non-root, no capabilities, read-only root, the database on the PVC, one replica', () => {
    assert.equal(aggregatorPod.securityContext.runAsNonRoot, true);
    assert.ok(aggregatorPod.securityContext.runAsUser > 0);
    assert.equal(aggregatorPod.hostNetwork, undefined);
    const sc = aggregatorContainer.securityContext;
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.equal(sc.capabilities.add, undefined);
    assert.equal(aggregator.spec.replicas, 1);
    assert.equal(aggregator.spec.strategy.type, 'Recreate');
    const db = flagsOf(aggregatorContainer.args).get('--db');
    assert.ok(db);
    const mount = aggregatorContainer.volumeMounts.find((m: any) => db.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `--db ${db} is on a mounted volume`);
    const volume = aggregatorPod.volumes.find((v: any) => v.name === mount.name);
    one(objects, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName);
    for (const probe of [aggregatorContainer.livenessProbe, aggregatorContainer.readinessProbe]) assert.equal(probe.httpGet.path, '/healthz');
    for (const kind of ['requests', 'limits']) for (const resource of ['cpu', 'memory']) assert.ok(aggregatorContainer.resources[kind][resource]);
    const service = one(objects, 'Service', 'rstprobe-aggregator');
    for (const [key, value] of Object.entries(service.spec.selector)) assert.equal(aggregator.spec.template.metadata.labels[key], value);
    assert.ok(aggregatorContainer.ports.some((p: any) => p.name === service.spec.ports[0].targetPort));
  });

  test('RBAC: the agent reads pods, nodes, services, networkpolicies; the aggregator also creates tokenreviews; nothing else', () => {
    const expectedAgent = [...readVerbs('core', ['pods', 'nodes', 'services']), ...readVerbs('networking.k8s.io', ['networkpolicies'])].sort();
    assert.deepEqual(ruleSet(one(objects, 'ClusterRole', 'rstprobe-agent')), expectedAgent);
    assert.deepEqual(ruleSet(one(objects, 'ClusterRole', 'rstprobe-aggregator')), [...expectedAgent, 'authentication.k8s.io/tokenreviews:create'].sort());
    assert.deepEqual(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding'), []);
    assert.deepEqual(objects.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name).sort(), ['rstprobe-agent', 'rstprobe-aggregator']);
    for (const [workload, pod] of [['rstprobe-agent', agentPod], ['rstprobe-aggregator', aggregatorPod]] as const) {
      const binding = one(objects, 'ClusterRoleBinding', workload);
      assert.equal(binding.roleRef.name, workload);
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: 'rstprobe' }]);
      one(objects, 'ServiceAccount', pod.serviceAccountName);
    }
  });

  test('NetworkPolicy: only agents and labelled users reach the aggregator, on its port only', () => {
    const policy = one(objects, 'NetworkPolicy', 'rstprobe-aggregator');
    for (const [key, value] of Object.entries(policy.spec.podSelector.matchLabels)) assert.equal(aggregator.spec.template.metadata.labels[key], value);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    const service = one(objects, 'Service', 'rstprobe-aggregator');
    const peers: any[] = [];
    for (const rule of policy.spec.ingress) {
      assert.ok(Array.isArray(rule.from) && rule.from.length > 0, 'no rule admits everyone');
      assert.deepEqual(rule.ports.map((p: any) => p.port), [service.spec.ports[0].port]);
      peers.push(...rule.from);
    }
    const agentLabels = agent.spec.template.metadata.labels;
    assert.ok(
      peers.some((p) => p.podSelector && !p.namespaceSelector && Object.entries(p.podSelector.matchLabels).every(([k, v]) => agentLabels[k] === v)),
      'the agent pods are admitted',
    );
    const users = peers.find((p) => p.namespaceSelector);
    assert.equal(users.namespaceSelector.matchLabels['rstprobe.io/access'], 'true');
    assert.equal(users.podSelector.matchLabels['rstprobe.io/access'], 'true');
    for (const block of peers.filter((p) => p.ipBlock)) assert.notEqual(block.ipBlock.cidr, '0.0.0.0/0');
  });

  test('every flag the manifests pass exists in `rstprobe agent|aggregator --help`', () => {
    for (const container of [agentContainer, aggregatorContainer]) {
      const [command, ...args] = container.args as string[];
      const help = helpOf(command!);
      for (const flag of flagsOf(args).keys()) assert.ok(help.includes(`${flag} `) || help.includes(`${flag}\n`), `rstprobe ${command} has no ${flag}`);
    }
  });
});

describe('deploy/grafana dashboard', () => {
  test('parses and uses only metric names defined in src/common/metrics.ts', () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(REPO, 'deploy/grafana/rstprobe-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const source = fs.readFileSync(path.join(REPO, 'src/common/metrics.ts'), 'utf8');
    const defined = new Set([...source.matchAll(/'(rstprobe_[a-z0-9_]+)'/g)].map((m) => m[1]!));
    const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(rstprobe_[a-z0-9_]+)/g)].map((m) => m[1]!))));
    assert.ok(used.size >= 10, `the dashboard shows ${used.size} metrics`);
    for (const name of used) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(defined.has(name) || defined.has(base), `${name} is not defined in src/common/metrics.ts`);
    }
  });
});
