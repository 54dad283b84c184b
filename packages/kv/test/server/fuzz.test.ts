// A protocol fuzzer against one server: mutated frames, huge declared lengths, binary garbage,
// frames cut at random points and sent slowly, stalled clients and a thousand connections. The
// server must never crash or hang: every reply is well-formed RESP, each connection ends with a
// reply, a close or a wait for more bytes, a new client is still served, memory stays bounded,
// the data stays intact and close() finishes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, decodeReply, request, testServer } from './frame-helpers.js';

/** A small seeded generator (mulberry32), so a failure replays. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.DBOS_FUZZ_SEED ?? 20261207);

/** Sends `bytes`, then waits until the server closes or goes quiet; every byte received must decode as RESP. */
async function exchange(port: number, chunks: Buffer[], quietMs = 30): Promise<{ replies: number; closed: boolean }> {
  const client = await RawClient.connect(port);
  const received: Buffer[] = [];
  client.socket.on('data', (chunk: Buffer) => received.push(chunk));
  for (const chunk of chunks) {
    if (client.closed) break;
    client.send(chunk);
  }
  let last = -1;
  // Wait until nothing more arrives for quietMs (bounded: a few seconds at most).
  for (let round = 0; round < 100; round++) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const size = received.reduce((sum, chunk) => sum + chunk.length, 0);
    if (client.closed || size === last) break;
    last = size;
  }
  const bytes = Buffer.concat(received);
  let offset = 0;
  let replies = 0;
  while (offset < bytes.length) {
    const decoded = decodeReply(bytes, offset);
    if (decoded === null) throw new Error(`a reply was cut short: ${JSON.stringify(bytes.toString('latin1', offset, offset + 60))}`);
    offset = decoded.end;
    replies++;
  }
  const closed = client.closed;
  client.close();
  return { replies, closed };
}

const VALID = [
  request('PING'),
  request('ECHO', 'hello'),
  request('CONFIG', 'GET', 'timeout'),
  request('CLIENT', 'SETNAME', 'fuzz'),
  request('COMMAND', 'COUNT'),
  request('INFO', 'keyspace'),
  Buffer.from('PING\r\n'),
  Buffer.from('ECHO "quoted \\x41"\r\n'),
];

function mutate(random: () => number, frame: Buffer): Buffer {
  const bytes = Buffer.from(frame);
  const edits = 1 + Math.floor(random() * 4);
  let out = bytes;
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * out.length);
    const choice = random();
    if (choice < 0.4) out[at] = Math.floor(random() * 256);
    else if (choice < 0.6) out = out.subarray(0, at);
    else if (choice < 0.8) out = Buffer.concat([out.subarray(0, at), Buffer.from(String(Math.floor(random() * 1e12))), out.subarray(at)]);
    else
      out = Buffer.concat([out.subarray(0, at), Buffer.of([0x24, 0x2a, 0x0d, 0x0a][Math.floor(random() * 4)] as number), out.subarray(at)]);
    if (out.length === 0) break;
  }
  return out;
}

describe('the protocol fuzzer', () => {
  let fixture: Awaited<ReturnType<typeof testServer>>;
  let port: number;
  const random = generator(SEED);
  const keys = Array.from({ length: 50 }, (_, i) => Buffer.from(`key:${i}`));

  beforeAll(async () => {
    fixture = await testServer();
    port = fixture.server.port;
    await Promise.all(
      keys.map((key, i) => fixture.server.keyspace.set(key, { type: 'string', value: Buffer.from(`value ${i}`), expireAt: null })),
    );
  });

  afterAll(async () => {
    const closing = fixture.stop();
    // close() must finish even with stalled clients still connected.
    await expect(
      Promise.race([closing.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('hung'), 10_000))]),
    ).resolves.toBe('closed');
  });

  async function stillServes(): Promise<void> {
    const client = await RawClient.connect(port);
    expect(await client.call('PING')).toBe('PONG');
    client.close();
  }

  it('survives mutated frames: each gets replies, a close, or waits for more bytes', async () => {
    let answered = 0;
    let closed = 0;
    for (let round = 0; round < 150; round++) {
      const frames = Array.from({ length: 1 + Math.floor(random() * 4) }, () => VALID[Math.floor(random() * VALID.length)] as Buffer);
      const mutated = frames.map((frame) => (random() < 0.7 ? mutate(random, frame) : frame));
      const result = await exchange(port, [Buffer.concat(mutated)], 5);
      if (result.replies > 0) answered++;
      if (result.closed) closed++;
    }
    expect(answered).toBeGreaterThan(0);
    expect(closed).toBeGreaterThan(0);
    await stillServes();
  });

  it('refuses huge declared lengths without allocating them', async () => {
    const before = process.memoryUsage().rss;
    const cases = [
      '*1048577\r\n',
      '*99999999999\r\n',
      '*2\r\n$4\r\nECHO\r\n$536870913\r\n',
      '*1\r\n$99999999999999\r\n',
      '*-99\r\nPING\r\n',
    ];
    for (const text of cases) {
      const result = await exchange(port, [Buffer.from(text)]);
      expect(result.closed || result.replies > 0, text).toBe(true);
    }
    // Declared but never sent: the server waits for the bytes and holds only what arrived.
    const waiting = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const client = await RawClient.connect(port);
        client.send(`*1048576\r\n$536870912\r\n${'x'.repeat(1000)}`);
        return client;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
    for (const client of waiting) client.close();
    await stillServes();
  });

  it('survives binary garbage', async () => {
    const all = await Promise.all(
      Array.from({ length: 100 }, () => {
        const bytes = Buffer.alloc(1 + Math.floor(random() * 4096));
        for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
        return exchange(port, [bytes], 20);
      }),
    );
    expect(all.some((result) => result.closed || result.replies > 0)).toBe(true);
    await stillServes();
  });

  it('answers frames cut at random points and sent slowly', async () => {
    const client = await RawClient.connect(port);
    const bytes = Buffer.concat(Array.from({ length: 40 }, (_, i) => request('ECHO', `slow ${i} ${'z'.repeat(i * 37)}`)));
    let offset = 0;
    while (offset < bytes.length) {
      const size = 1 + Math.floor(random() * 200);
      client.send(bytes.subarray(offset, offset + size));
      offset += size;
      if (random() < 0.2) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (let i = 0; i < 40; i++) expect(await client.reply()).toBe(`slow ${i} ${'z'.repeat(i * 37)}`);
    client.close();
  });

  it('keeps serving while stalled clients hold half a frame', async () => {
    const stalled = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const client = await RawClient.connect(port);
        client.send(request('ECHO', `stalled ${i}`).subarray(0, 10 + i));
        return client;
      }),
    );
    await stillServes();
    // A stalled client that never reads its replies: it is paused once its replies pile up.
    const deaf = await RawClient.connect(port);
    deaf.socket.pause();
    deaf.send(Buffer.concat(Array.from({ length: 200 }, () => request('ECHO', 'y'.repeat(16 * 1024)))));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stillServes();
    deaf.close();
    // Left connected on purpose: the server's close() (afterAll) must not wait on them forever.
    expect(stalled.every((client) => !client.closed)).toBe(true);
  });

  it('serves a thousand connections at once', async () => {
    const clients = await Promise.all(Array.from({ length: 1000 }, () => RawClient.connect(port)));
    const replies = await Promise.all(clients.map((client, i) => client.call('ECHO', `c${i}`)));
    expect(replies).toEqual(clients.map((_, i) => `c${i}`));
    for (const client of clients) client.close();
    await stillServes();
  });

  it('leaves the data intact', () => {
    keys.forEach((key, i) => {
      expect(fixture.server.keyspace.get(key)?.value.toString()).toBe(`value ${i}`);
    });
    expect(fixture.server.keyspace.size()).toBe(keys.length);
  });
});
