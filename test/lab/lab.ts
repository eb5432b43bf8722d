// The lab lives in src/lab so that `rstprobe demo` can build it too.
export * from '../../src/lab/lab';
export * from '../../src/lab/gateway-cluster';
