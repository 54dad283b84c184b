// The Redis-protocol server's public API: `import { startServer } from '@dbos/kv/server'`.
export { type KvServer, type ServerOptions, isLoopback, startServer } from './server.js';
export { type Appendfsync, type OutputBufferLimit, type ServerSettings, ConfigFileError, parseConfigFile } from './config.js';
export type { Reply } from './reply.js';
export type { CommandSpec, CommandCall, ClientHandle, ServerHandle } from './command.js';
