// Pool memory that JavaScript can move out of our hands.
//
// `ArrayBuffer.prototype.transfer()` (Node 22+) moves an external buffer's memory into a new
// buffer instead of copying it, and `markAsUntransferable` does not stop it on Node 22 (on Node 24
// it does, but then Node-API can no longer detach the buffer and aborts the process when asked).
// A moved buffer still points into the pool, beyond free() and close(). So where buffers can
// move, the pool is created with DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE: close() returns the
// memory but leaves the range mapped to zero pages, and a moved buffer can never fault.
// (structuredClone with a transfer list copies external buffers on Node 20 and refuses them on
// Node 22+, so it needs nothing.)

/** True where `ArrayBuffer.prototype.transfer()` exists, i.e. a view's memory can be moved out. */
export const buffersCanMove = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';
