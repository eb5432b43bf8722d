import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KernelResetEvent, TraceLineError } from '../../src/kernel/trace-line';
import { TracePipeDecoder } from '../../src/kernel/trace-pipe-decoder';
import { LINES } from './fixtures';

function recordingDecoder(): {
  decoder: TracePipeDecoder;
  events: KernelResetEvent[];
  errors: Array<{ error: TraceLineError; firstOfKind: boolean }>;
  lost: Array<{ cpu: number; lostEvents: number; firstTime: boolean }>;
} {
  const events: KernelResetEvent[] = [];
  const errors: Array<{ error: TraceLineError; firstOfKind: boolean }> = [];
  const lost: Array<{ cpu: number; lostEvents: number; firstTime: boolean }> = [];
  const decoder = new TracePipeDecoder({
    onEvent: (event) => events.push(event),
    onParseError: (error, firstOfKind) => errors.push({ error, firstOfKind }),
    onLost: (cpu, lostEvents, firstTime) => lost.push({ cpu, lostEvents, firstTime }),
  });
  return { decoder, events, errors, lost };
}

const STREAM = [LINES.noSocketV4Send, LINES.noSocketV4Receive, LINES.lost, LINES.abortOnCloseSend, LINES.timeWaitSend].join('\n') + '\n';

describe('TracePipeDecoder', () => {
  it('yields the same events whatever the chunk boundaries', () => {
    const whole = recordingDecoder();
    whole.decoder.push(Buffer.from(STREAM));
    assert.equal(whole.events.length, 4);
    const bytes = Buffer.from(STREAM);
    for (let split = 1; split < bytes.length; split += 7) {
      const chunked = recordingDecoder();
      chunked.decoder.push(bytes.subarray(0, split));
      chunked.decoder.push(bytes.subarray(split));
      assert.deepEqual(chunked.events, whole.events, `split at ${split}`);
      assert.deepEqual(chunked.decoder.counters, { events: 4, parseErrors: 0, lost: 720 });
    }
  });

  it('keeps a multi-byte comm intact across chunks', () => {
    const line = `  café-é-12 [000] ..... 1.000001: ${LINES.abortOnCloseSend.split(': ').slice(1).join(': ')}\n`;
    const bytes = Buffer.from(line);
    const split = bytes.indexOf(0xc3) + 1; // inside "é"
    const { decoder, events } = recordingDecoder();
    decoder.push(bytes.subarray(0, split));
    decoder.push(bytes.subarray(split));
    assert.equal(events[0]?.process?.comm, 'café-é');
  });

  it('counts parse errors and flags the first of each kind', () => {
    const { decoder, errors, lost } = recordingDecoder();
    decoder.push('garbage\nmore garbage\n  bash-1 [000] ..... 1.000001: sched_switch: x\n\n' + LINES.lost + '\n' + LINES.lost + '\n');
    assert.deepEqual(
      errors.map((entry) => [entry.error.code, entry.firstOfKind]),
      [
        ['header', true],
        ['header', false],
        ['unknown-event', true],
      ],
    );
    assert.deepEqual(lost.map((entry) => entry.firstTime), [true, false]);
    assert.deepEqual(decoder.counters, { events: 0, parseErrors: 3, lost: 1440 });
  });

  it('parses a final line without newline on flush', () => {
    const { decoder, events } = recordingDecoder();
    decoder.push(LINES.timeWaitSend);
    assert.equal(events.length, 0);
    decoder.flush();
    assert.equal(events.length, 1);
  });

  it('drops an endless partial line as one parse error', () => {
    const { decoder, errors } = recordingDecoder();
    decoder.push('x'.repeat(70_000));
    assert.equal(errors.length, 1);
    decoder.push(`\n${LINES.timeWaitSend}\n`);
    assert.equal(decoder.counters.events, 1);
  });
});
