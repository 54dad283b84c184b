// @dbos/kv embedded in a web service: a JSON notes API on node:http, no framework.
//
//   PUT    /notes/:id   body: any JSON value   → 204 once the note is durable (fdatasync)
//   GET    /notes/:id                          → 200 the note, 404
//   DELETE /notes/:id                          → 204 once the delete is durable
//   GET    /notes?after=:id&limit=:n           → 200 [{ id, note }] in id order (a key range)
//   GET    /stats                              → 200 the store's counters
//
// Reads are synchronous lookups in the store's cache (no await, no thread hop); a write is applied
// at once and its promise settles when the log has it on the device, so the reply means durable.
// SIGTERM / SIGINT stop accepting, finish the requests in flight, close the store, exit 0.
// `node server.mjs [directory] [port]` (after `pnpm build` in packages/kv). Prints its address.
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { open } from '@dbos/kv';

const dir = process.argv[2] ?? path.join(os.tmpdir(), 'dbos-kv-web-notes');
const port = Number(process.argv[3] ?? 8080);
const ID = /^[A-Za-z0-9_.-]{1,200}$/;
const BODY_MAX = 1 << 20;
const LIST_MAX = 1000;

const db = open(dir, { valueEncoding: 'json' });

function reply(response, status, body) {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

async function readJson(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > BODY_MAX) throw Object.assign(new Error(`the body is larger than ${BODY_MAX} bytes`), { status: 413 });
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw Object.assign(new Error('the body is not JSON'), { status: 400 });
  }
}

async function route(request, response) {
  const url = new URL(request.url, 'http://localhost');
  const [, collection, id, extra] = url.pathname.split('/');
  if (collection === 'stats' && id === undefined && request.method === 'GET') return reply(response, 200, db.stats());
  if (collection !== 'notes' || extra !== undefined) return reply(response, 404, { error: 'no such route' });
  if (id === undefined || id === '') {
    if (request.method !== 'GET') return reply(response, 405, { error: 'GET /notes lists notes' });
    const limit = Math.min(LIST_MAX, Number(url.searchParams.get('limit') ?? 100));
    if (!Number.isInteger(limit) || limit < 1) return reply(response, 400, { error: `limit must be 1..${LIST_MAX}` });
    const after = url.searchParams.get('after');
    const notes = [];
    for (const { key, value } of db.range(after ? { gt: after, limit } : { limit })) notes.push({ id: key, note: value });
    return reply(response, 200, notes);
  }
  if (!ID.test(id)) return reply(response, 400, { error: 'an id is 1..200 of A-Z a-z 0-9 _ . -' });
  switch (request.method) {
    case 'GET': {
      const note = db.get(id);
      return note === undefined ? reply(response, 404, { error: `no note ${id}` }) : reply(response, 200, note);
    }
    case 'PUT':
      await db.put(id, await readJson(request));
      return reply(response, 204);
    case 'DELETE':
      await db.del(id);
      return reply(response, 204);
    default:
      return reply(response, 405, { error: `${request.method} is not allowed here` });
  }
}

const server = http.createServer((request, response) => {
  route(request, response).catch((error) => {
    // A bad request says what was wrong; a store error (DBOS_E… code) is the server's fault.
    const status = error.status ?? 500;
    reply(response, status, { error: error.message, code: error.code });
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`notes on http://127.0.0.1:${server.address().port} (store ${dir})`);
});

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (closing) return; // already finishing the requests in flight
    closing = true;
    // close() stops accepting and waits for the requests in flight; the store closes after them,
    // so every 204 the service sent is durable on disk.
    server.close(async () => {
      await db.close();
      console.log('notes: closed');
      process.exit(0);
    });
    server.closeIdleConnections();
  });
}
