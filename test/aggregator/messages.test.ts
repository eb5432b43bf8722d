import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentMessage, parseAggregatorMessage, validateFinding } from '../../src/protocol/messages';
import { pmtuFinding, resetFinding } from './fixtures';

/** The protocol's schemas (src/protocol/messages.ts): what passes and what is refused, with a reason. */

test('the finding schema accepts both finding kinds and refuses anything off the contract', () => {
  assert.equal(validateFinding(resetFinding()), null);
  assert.equal(validateFinding(pmtuFinding()), null);
  assert.equal(validateFinding({ ...resetFinding(), kind: 'syn-timeout' }), null);
  const refusals: Array<[string, unknown]> = [
    ['an unknown field', { ...resetFinding(), extra: 1 }],
    ['a cause outside the enum', { ...resetFinding(), cause: 'gremlins' }],
    ['a missing field', (({ advice: _advice, ...rest }) => rest)(resetFinding())],
    ['a port out of range', { ...resetFinding(), src: { ...resetFinding().src, port: 70000 } }],
    ['a pmtu with reset fields', { ...pmtuFinding(), sentBy: 'endpoint' }],
    ['a count of zero', { ...resetFinding(), count: 0 }],
  ];
  for (const [what, value] of refusals) assert.notEqual(validateFinding(value), null, what);
});

test('agent messages: valid ones parse; bad ones are refused with a reason naming the problem', () => {
  const hello = { type: 'hello', protocol: 1, agentId: 'a', node: 'n', version: '0.1.0', capabilities: { kernelEvents: true, captureMode: 'control', evidence: true }, addresses: ['10.0.0.1'] };
  assert.equal(parseAgentMessage(JSON.stringify(hello)).ok, true);
  assert.equal(parseAgentMessage(JSON.stringify({ type: 'findings', items: [{ seq: 1, update: false, finding: resetFinding() }] })).ok, true);
  assert.equal(parseAgentMessage(JSON.stringify({ type: 'heartbeat', kernelEvents: false, droppedFindings: 3 })).ok, true);
  assert.equal(parseAgentMessage(JSON.stringify({ type: 'evidence', seq: 2, findingId: 'f', pcapng: Buffer.from('abc').toString('base64'), bytes: 3 })).ok, true);

  const bad = (text: string): string => {
    const result = parseAgentMessage(text);
    assert.equal(result.ok, false, text.slice(0, 80));
    return result.ok ? '' : result.reason;
  };
  assert.match(bad('{'), /not JSON/);
  assert.match(bad('[]'), /unknown message type/);
  assert.match(bad(JSON.stringify({ type: 'welcome', protocol: 1, lastSeq: 0, idleTimeoutMs: 1 })), /unknown message type "welcome"/, 'an aggregator message from an agent');
  assert.match(bad(JSON.stringify({ type: 'findings', items: [] })), /findings/);
  assert.match(bad(JSON.stringify({ type: 'findings', items: [{ seq: 0, update: false, finding: resetFinding() }] })), /seq/);
  assert.match(bad(JSON.stringify({ ...hello, capabilities: { kernelEvents: 'yes', captureMode: 'control', evidence: true } })), /kernelEvents/);
  assert.match(bad(JSON.stringify({ type: 'evidence', seq: 2, findingId: 'f', pcapng: 'not base64!', bytes: 3 })), /pcapng/);
  assert.match(bad(JSON.stringify({ type: 'evidence', seq: 2, findingId: 'f', pcapng: '', bytes: 300 * 1024 })), /bytes/);
});

test('aggregator messages parse on the agent side; an agent message there is refused', () => {
  assert.equal(parseAggregatorMessage(JSON.stringify({ type: 'ack', seq: 5 })).ok, true);
  assert.equal(parseAggregatorMessage(JSON.stringify({ type: 'error', code: 'invalid', message: 'x' })).ok, true);
  assert.equal(parseAggregatorMessage(JSON.stringify({ type: 'heartbeat', kernelEvents: true, droppedFindings: 0 })).ok, false);
});
