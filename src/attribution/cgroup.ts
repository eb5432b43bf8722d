/**
 * What a process's cgroup path says about its container: the runtime's container ID
 * and the pod UID the kubelet put in the path. Pure: text of /proc/<pid>/cgroup in,
 * typed result out.
 *
 * /proc/<pid>/cgroup (cgroups(7)) has one `hierarchy-ID:controllers:path` line per
 * hierarchy: several on cgroup v1, the single `0::/path` on v2. The path forms come
 * from the kubelet's two cgroup drivers (kubernetes pkg/kubelet/cm/cgroup_manager_linux.go)
 * and the runtimes:
 *   cgroupfs driver  /kubepods/burstable/pod<uid>/<64 hex>                (containerd, CRI-O, dockershim)
 *   systemd driver   /kubepods.slice/kubepods-burstable.slice/
 *                    kubepods-burstable-pod<uid with _ for ->.slice/
 *                    cri-containerd-<64 hex>.scope   (containerd)
 *                    crio-<64 hex>.scope             (CRI-O; crio-conmon-<id>.scope is its monitor, not the container)
 *                    docker-<64 hex>.scope           (Docker / cri-dockerd)
 *   plain Docker     /docker/<64 hex>  or  /system.slice/docker-<64 hex>.scope
 */

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'unknown';

export interface CgroupIdentity {
  /** 64 hex characters; null when the process is not in a container (or only in its pod's slice). */
  containerId: string | null;
  runtime: ContainerRuntime | null;
  /** With dashes, as in metadata.uid; null outside a Kubernetes pod. */
  podUid: string | null;
}

const HEX64 = '[0-9a-f]{64}';
/** Pod UIDs are RFC 4122 UUIDs; the systemd driver writes `_` for `-` (systemd.unit(5) escaping). */
const POD_SEGMENT = /(?:^|[-/])pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
const SCOPE_FORMS: ReadonlyArray<{ pattern: RegExp; runtime: ContainerRuntime }> = [
  { pattern: new RegExp(`^cri-containerd-(${HEX64})\\.scope$`), runtime: 'containerd' },
  { pattern: new RegExp(`^crio-(${HEX64})\\.scope$`), runtime: 'cri-o' },
  { pattern: new RegExp(`^docker-(${HEX64})\\.scope$`), runtime: 'docker' },
];
const BARE_ID = new RegExp(`^(${HEX64})$`);

const NOT_IN_CONTAINER: CgroupIdentity = { containerId: null, runtime: null, podUid: null };

/** Reads the identity from the text of /proc/<pid>/cgroup (v1 or v2). */
export function parseProcCgroup(text: string): CgroupIdentity {
  let best: CgroupIdentity = NOT_IN_CONTAINER;
  for (const line of text.split('\n')) {
    // hierarchy-ID:controller-list:cgroup-path; the path itself may contain ':'.
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const identity = parseCgroupPath(line.slice(second + 1));
    // v1 lists every hierarchy; some (e.g. a bare `name=systemd`) may lack the container.
    if (identity.containerId !== null) return identity;
    if (identity.podUid !== null && best.podUid === null) best = identity;
  }
  return best;
}

/** Reads the identity from one cgroup path such as `/kubepods/burstable/pod<uid>/<id>`. */
export function parseCgroupPath(cgroupPath: string): CgroupIdentity {
  const segments = cgroupPath.trim().split('/').filter((segment) => segment.length > 0);
  let podUid: string | null = null;
  let containerId: string | null = null;
  let runtime: ContainerRuntime | null = null;
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index];
    const pod = POD_SEGMENT.exec(segment);
    if (pod !== null) {
      podUid = pod[1].replace(/_/g, '-');
      continue;
    }
    const scope = SCOPE_FORMS.find(({ pattern }) => pattern.test(segment));
    if (scope !== undefined) {
      containerId = scope.pattern.exec(segment)![1];
      runtime = scope.runtime;
      continue;
    }
    const bare = BARE_ID.exec(segment);
    if (bare !== null) {
      containerId = bare[1];
      // `/docker/<id>` names its runtime; under a pod slice the cgroupfs driver does not.
      runtime = segments[index - 1] === 'docker' ? 'docker' : 'unknown';
    }
  }
  return { containerId, runtime, podUid };
}
