import type { ResetCause } from '../protocol/finding';

/**
 * What each `enum sk_rst_reason` name (include/net/rstreason.h) says about why the
 * kernel sent a reset, and the cause it names when it names one on its own.
 * Names not listed here are reported as they are, with cause `unknown`.
 */
interface ReasonMeaning {
  cause: ResetCause | null;
  explanation: string;
}

const MEANINGS: Record<string, ReasonMeaning> = {
  NOT_SPECIFIED: { cause: null, explanation: 'the kernel gave no specific reason' },
  NO_SOCKET: { cause: null, explanation: 'no socket matched the segment on the sender' },
  TCP_INVALID_ACK_SEQUENCE: { cause: null, explanation: 'the segment acknowledged data never sent' },
  TCP_RFC7323_PAWS: { cause: null, explanation: 'the segment failed the RFC 7323 PAWS timestamp check' },
  TCP_TOO_OLD_ACK: { cause: null, explanation: 'the segment acknowledged data older than the window' },
  TCP_ACK_UNSENT_DATA: { cause: null, explanation: 'the segment acknowledged unsent data' },
  TCP_FLAGS: { cause: null, explanation: 'the segment carried flags invalid in the socket state' },
  TCP_OLD_ACK: { cause: null, explanation: 'the segment carried an old acknowledgement' },
  TCP_ABORT_ON_DATA: {
    cause: 'keepalive-race',
    explanation: 'data arrived on a connection the sender had already closed',
  },
  TCP_TIMEWAIT_SOCKET: {
    cause: 'keepalive-race',
    explanation: 'data arrived on a connection in TIME_WAIT, already closed by the sender',
  },
  INVALID_SYN: { cause: null, explanation: 'a SYN arrived on an established connection' },
  TCP_ABORT_ON_CLOSE: {
    cause: 'abort-on-close',
    explanation: 'the process closed the socket with unread data in its receive queue',
  },
  TCP_ABORT_ON_LINGER: {
    cause: 'abort-on-close',
    explanation: 'the process closed the socket with SO_LINGER set to zero',
  },
  TCP_DISCONNECT_WITH_DATA: {
    cause: 'abort-on-close',
    explanation: 'the process disconnected the socket with unread data',
  },
  TCP_ABORT_ON_MEMORY: {
    cause: 'memory-pressure',
    explanation: 'the kernel ran short of TCP memory or orphan sockets and aborted the connection',
  },
  TCP_STATE: { cause: null, explanation: 'the socket was in a state that does not accept the segment' },
  TCP_KEEPALIVE_TIMEOUT: {
    cause: 'keepalive-timeout',
    explanation: 'keep-alive probes or the user timeout went unanswered',
  },
};

export function reasonMeaning(reason: string): ReasonMeaning {
  return MEANINGS[reason] ?? { cause: null, explanation: `kernel reason ${reason}` };
}
