import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { RstprobeError } from '../../common/errors';

/**
 * Where the agent finds the API server: a kubeconfig file (`--kubeconfig`), or the
 * in-cluster config every pod gets — the KUBERNETES_SERVICE_HOST/PORT variables
 * and the service account token mounted at SERVICE_ACCOUNT_DIR
 * (kubernetes.io/docs/tasks/run-application/access-api-from-pod/).
 */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The kubeconfig is missing, unreadable or names no usable cluster. Exit code 2. */
export class KubeConfigError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_KUBECONFIG', message, options);
  }
}

export function inClusterConfigAvailable(env: NodeJS.ProcessEnv = process.env, serviceAccountDir = SERVICE_ACCOUNT_DIR): boolean {
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) return false;
  try {
    fs.accessSync(`${serviceAccountDir}/token`, fs.constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The client library is an ES module; Node 20.19+ loads it with require(). Loaded
 * on first use so an agent without Kubernetes never pays its start-up cost.
 */
export function loadClientLibrary(): typeof import('@kubernetes/client-node') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
}

/** Reads the kubeconfig at `kubeconfigPath`, or the in-cluster config for null. Throws KubeConfigError with the fix. */
export function loadKubeConfig(kubeconfigPath: string | null): KubeConfig {
  const { KubeConfig: KubeConfigClass } = loadClientLibrary();
  const config = new KubeConfigClass();
  if (kubeconfigPath === null) {
    if (!inClusterConfigAvailable()) {
      throw new KubeConfigError(
        `no in-cluster Kubernetes config (KUBERNETES_SERVICE_HOST or ${SERVICE_ACCOUNT_DIR}/token missing): pass --kubeconfig PATH or run the agent in a pod with a service account`,
      );
    }
    config.loadFromCluster();
    return config;
  }
  let text: string;
  try {
    text = fs.readFileSync(kubeconfigPath, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`cannot read kubeconfig ${kubeconfigPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check the --kubeconfig path and its permissions`, { cause: err });
  }
  try {
    config.loadFromString(text);
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${kubeconfigPath} is not valid YAML/JSON (${firstLine(err)}): fix the file or pass another --kubeconfig`, { cause: err });
  }
  const cluster = config.getCurrentCluster();
  if (cluster === null || !cluster.server) {
    throw new KubeConfigError(`kubeconfig ${kubeconfigPath} has no current context with a cluster server: set current-context (kubectl config use-context NAME)`);
  }
  // The client refuses plain http unless TLS verification is explicitly off (config.js createAgent).
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    throw new KubeConfigError(`kubeconfig ${kubeconfigPath}: server ${cluster.server} is plain http; use https or set insecure-skip-tls-verify: true for that cluster`);
  }
  // Relative certificate paths in a kubeconfig are relative to the file (kubectl's rule).
  config.makePathsAbsolute(path.dirname(kubeconfigPath));
  return config;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}
