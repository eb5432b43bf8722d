/**
 * The local end of a path: which interface and source address the kernel uses
 * towards a target, and the MTU that interface (or the route itself) allows.
 *
 * `ip route get` answers with the route the kernel would use, including a cached
 * exception (`expires` + `metrics mtu`: a PMTU the kernel learnt, which is not what
 * we want here); `ip route get fibmatch` answers with the configured FIB entry, whose
 * `mtu` metric is the route's own MTU (`ip route add … mtu 1400`, ip-route(8)).
 * The interface MTU comes from `ip link show dev` (same netns as the routes).
 */
import { UsageError } from '../common/errors';
import { ipJson, isRecord, routeMetricMtu } from './ip-command';
import type { IpFamily } from './probe-packet';

export interface LocalRoute {
  targetIp: string;
  family: IpFamily;
  ifname: string;
  /** The source address the kernel picks (`prefsrc`). */
  sourceIp: string;
  gatewayIp: string | null;
  /** The configured route's own MTU, if it has one. */
  routeMtuBytes: number | null;
  interfaceMtuBytes: number;
  /** What this host lets out towards the target: the route MTU if set, else the interface's. */
  localMtuBytes: number;
}

export async function routeTowards(targetIp: string, family: IpFamily): Promise<LocalRoute> {
  const familyFlag = family === 4 ? '-4' : '-6';
  let routes: unknown;
  try {
    routes = await ipJson([familyFlag, 'route', 'get', targetIp]);
  } catch (err) {
    throw new UsageError(`no route to ${targetIp} from this host (${(err as Error).message}): check the address, or add a route`, { cause: err });
  }
  const route = Array.isArray(routes) && isRecord(routes[0]) ? routes[0] : null;
  if (route === null || typeof route.dev !== 'string') throw new UsageError(`no route to ${targetIp} from this host: check the address, or add a route`);
  if (route.type === 'unreachable' || route.type === 'prohibit' || route.type === 'blackhole') {
    throw new UsageError(`the route to ${targetIp} is "${String(route.type)}": nothing can be probed; check the routing table`);
  }
  const ifname = route.dev;
  const sourceIp = typeof route.prefsrc === 'string' ? route.prefsrc : '';
  let routeMtuBytes: number | null = null;
  try {
    const fib = await ipJson([familyFlag, 'route', 'get', 'fibmatch', targetIp]);
    if (Array.isArray(fib) && isRecord(fib[0])) routeMtuBytes = routeMetricMtu(fib[0]);
  } catch {
    // Older iproute2 without fibmatch: a cached route answer has `expires`; use its mtu only when it has none.
    if (route.expires === undefined) routeMtuBytes = routeMetricMtu(route);
  }
  const links = await ipJson(['link', 'show', 'dev', ifname]).catch(() => []);
  const link = Array.isArray(links) && isRecord(links[0]) ? links[0] : null;
  const interfaceMtuBytes = link !== null && typeof link.mtu === 'number' ? link.mtu : 1500;
  return {
    targetIp,
    family,
    ifname,
    sourceIp,
    gatewayIp: typeof route.gateway === 'string' ? route.gateway : null,
    routeMtuBytes,
    interfaceMtuBytes,
    localMtuBytes: routeMtuBytes !== null ? Math.min(routeMtuBytes, interfaceMtuBytes) : interfaceMtuBytes,
  };
}
