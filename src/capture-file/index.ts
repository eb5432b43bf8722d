export { readCaptureFile, type ReadOptions } from './capture-file-reader';
export { normaliseLinkType } from './link-types';
export type { CaptureFileProblem, CaptureFormat, CaptureReadSummary } from './types';
export { CapturedPacket, MAX_CAPLEN_BYTES } from './types';
