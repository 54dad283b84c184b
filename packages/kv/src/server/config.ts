// The server's settings, under the names and value syntax of redis.conf, as CONFIG GET/SET and
// `--config` files see them. Each parameter parses and checks its own value; CONFIG SET checks
// every pair before applying any, so a failed SET changes nothing.
import { DbosError, describeValue, typeError } from '@dbos/platform';

export type Appendfsync = 'always' | 'everysec' | 'no';

/** The output-buffer limit of normal clients: 0 means no limit. */
export interface OutputBufferLimit {
  hardBytes: number;
  softBytes: number;
  softSeconds: number;
}

export interface ServerSettings {
  port: number;
  bind: string;
  dir: string;
  protectedMode: boolean;
  /** Empty: no password. */
  requirepass: string;
  /** Seconds a client may stay idle before it is closed; 0: never. */
  timeoutSeconds: number;
  appendfsync: Appendfsync;
  protoMaxBulkLen: number;
  maxclients: number;
  clientOutputBufferLimit: OutputBufferLimit;
}

export const DEFAULT_SETTINGS: Omit<ServerSettings, 'dir'> = {
  port: 6379,
  bind: '127.0.0.1',
  protectedMode: true,
  requirepass: '',
  timeoutSeconds: 0,
  appendfsync: 'everysec',
  protoMaxBulkLen: 512 * 1024 * 1024,
  maxclients: 10_000,
  clientOutputBufferLimit: { hardBytes: 0, softBytes: 0, softSeconds: 0 },
};

/** A value CONFIG SET (or a config file) refused, with Redis's reason. */
export class ConfigValueError extends Error {
  readonly code = 'DBOS_EINVAL';
  constructor(
    readonly parameter: string,
    readonly reason: string,
  ) {
    super(`CONFIG SET failed (possibly related to argument '${parameter}') - ${reason}`);
  }
}

interface Parameter {
  readonly name: string;
  get(settings: ServerSettings): string;
  /** Parses `text`; returns the change to apply, or throws the reason. Absent: immutable. */
  parse?(text: string): Partial<ServerSettings>;
}

const INT32_MAX = 2147483647;

/** An integer with an optional memory unit (k, kb, m, mb, g, gb), as redis.conf writes sizes. */
export function parseMemory(text: string): number | null {
  const match = /^(-?\d+)(k|kb|m|mb|g|gb)?$/i.exec(text.trim());
  if (!match) return null;
  const units: Record<string, number> = { k: 1000, kb: 1024, m: 1000 ** 2, mb: 1024 ** 2, g: 1000 ** 3, gb: 1024 ** 3 };
  const value = Number(match[1]) * (match[2] ? (units[match[2].toLowerCase()] as number) : 1);
  return Number.isSafeInteger(value) ? value : null;
}

/** An integer in [min, max]; `maxLabel` is the bound as Redis states it (its limit can exceed a double's exact range). */
function integerIn(text: string, min: number, max: number, memory = false, maxLabel = String(max)): number {
  const value = memory ? parseMemory(text) : /^-?\d+$/.test(text) ? Number(text) : null;
  if (value === null || !Number.isSafeInteger(value)) throw new Error("argument couldn't be parsed into an integer");
  if (value < min || value > max) throw new Error(`argument must be between ${min} and ${maxLabel} inclusive`);
  return value;
}

function parseOutputLimit(text: string): Partial<ServerSettings> {
  const words = text
    .trim()
    .split(/\s+/)
    .filter((word) => word.length > 0);
  if (words.length % 4 !== 0 || words.length === 0) throw new Error('Wrong number of arguments in buffer limit configuration.');
  let limit: OutputBufferLimit | undefined;
  for (let i = 0; i < words.length; i += 4) {
    const kind = (words[i] as string).toLowerCase();
    if (kind !== 'normal' && kind !== 'replica' && kind !== 'slave' && kind !== 'pubsub') {
      throw new Error('Invalid client class specified in buffer limit configuration.');
    }
    const [hard, soft, seconds] = [parseMemory(words[i + 1] as string), parseMemory(words[i + 2] as string), Number(words[i + 3])];
    if (hard === null || soft === null || hard < 0 || soft < 0 || !Number.isSafeInteger(seconds) || seconds < 0) {
      throw new Error('Error in hard, soft or soft_seconds setting in buffer limit configuration.');
    }
    // This server has no replicas and no pub/sub: only the normal class has clients to limit.
    if (kind === 'normal') limit = { hardBytes: hard, softBytes: soft, softSeconds: seconds };
  }
  return limit ? { clientOutputBufferLimit: limit } : {};
}

const PARAMETERS: readonly Parameter[] = [
  { name: 'port', get: (s) => String(s.port) },
  { name: 'bind', get: (s) => s.bind },
  { name: 'dir', get: (s) => s.dir },
  { name: 'protected-mode', get: (s) => (s.protectedMode ? 'yes' : 'no') },
  { name: 'requirepass', get: (s) => s.requirepass, parse: (text) => ({ requirepass: text }) },
  { name: 'timeout', get: (s) => String(s.timeoutSeconds), parse: (text) => ({ timeoutSeconds: integerIn(text, 0, INT32_MAX) }) },
  {
    name: 'appendfsync',
    get: (s) => s.appendfsync,
    parse: (text) => {
      const value = text.toLowerCase();
      if (value !== 'always' && value !== 'everysec' && value !== 'no') {
        throw new Error('argument(s) must be one of the following: everysec, always, no');
      }
      return { appendfsync: value };
    },
  },
  {
    name: 'proto-max-bulk-len',
    get: (s) => String(s.protoMaxBulkLen),
    parse: (text) => ({ protoMaxBulkLen: integerIn(text, 1024 * 1024, Number.MAX_SAFE_INTEGER, true, '9223372036854775807') }),
  },
  { name: 'maxclients', get: (s) => String(s.maxclients), parse: (text) => ({ maxclients: integerIn(text, 1, 4294967295) }) },
  {
    name: 'client-output-buffer-limit',
    get: (s) => {
      const { hardBytes, softBytes, softSeconds } = s.clientOutputBufferLimit;
      return `normal ${hardBytes} ${softBytes} ${softSeconds}`;
    },
    parse: parseOutputLimit,
  },
];

const BY_NAME = new Map(PARAMETERS.map((parameter) => [parameter.name, parameter]));

/** Redis's glob: `*`, `?`, `[abc]`, `[^a-z]` and `\x`, case-insensitive when asked. */
export function globMatch(pattern: string, text: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const t = ignoreCase ? text.toLowerCase() : text;
  const match = (pi: number, ti: number): boolean => {
    while (pi < p.length) {
      const c = p[pi] as string;
      if (c === '*') {
        while (p[pi + 1] === '*') pi++;
        if (pi + 1 === p.length) return true;
        for (let k = ti; k <= t.length; k++) if (match(pi + 1, k)) return true;
        return false;
      }
      if (ti >= t.length) return false;
      if (c === '?') {
        pi++;
        ti++;
        continue;
      }
      if (c === '[') {
        let i = pi + 1;
        const negate = p[i] === '^';
        if (negate) i++;
        let matched = false;
        while (i < p.length && p[i] !== ']') {
          if (p[i] === '\\' && i + 1 < p.length) {
            i++;
            if (p[i] === t[ti]) matched = true;
          } else if (p[i + 1] === '-' && i + 2 < p.length && p[i + 2] !== ']') {
            const [low, high] = [p[i] as string, p[i + 2] as string].sort();
            if ((t[ti] as string) >= (low as string) && (t[ti] as string) <= (high as string)) matched = true;
            i += 2;
          } else if (p[i] === t[ti]) matched = true;
          i++;
        }
        if (matched === negate) return false;
        pi = i + 1;
        ti++;
        continue;
      }
      const literal = c === '\\' && pi + 1 < p.length ? (p[++pi] as string) : c;
      if (literal !== t[ti]) return false;
      pi++;
      ti++;
    }
    return ti === t.length;
  };
  return match(0, 0);
}

/** The live settings, with CONFIG GET/SET semantics and listeners for changes that act at once. */
export class ServerConfig {
  readonly settings: ServerSettings;
  readonly #listeners: ((changed: Partial<ServerSettings>) => void)[] = [];

  constructor(settings: ServerSettings) {
    this.settings = settings;
  }

  static names(): readonly string[] {
    return PARAMETERS.map((parameter) => parameter.name);
  }

  /** The parameters whose name matches any pattern (case-insensitive), with their values, in table order. */
  get(patterns: readonly string[]): [string, string][] {
    return PARAMETERS.filter((parameter) => patterns.some((pattern) => globMatch(pattern, parameter.name, true))).map((parameter) => [
      parameter.name,
      parameter.get(this.settings),
    ]);
  }

  /**
   * Applies `pairs` (name, value) all or none; throws the reply's message (without "ERR ") for
   * the first refused one: an unknown name, a duplicate, an immutable parameter or a bad value.
   */
  set(pairs: readonly (readonly [string, string])[]): void {
    const seen = new Set<string>();
    let change: Partial<ServerSettings> = {};
    for (const [rawName, value] of pairs) {
      const name = rawName.toLowerCase();
      const parameter = BY_NAME.get(name);
      if (!parameter) throw new ConfigUnknownError(rawName);
      if (seen.has(name)) throw new ConfigValueError(rawName, 'duplicate parameter');
      seen.add(name);
      if (!parameter.parse) throw new ConfigValueError(rawName, "can't set immutable config");
      try {
        change = { ...change, ...parameter.parse(value) };
      } catch (error) {
        throw new ConfigValueError(rawName, (error as Error).message);
      }
    }
    Object.assign(this.settings, change);
    for (const listener of this.#listeners) listener(change);
  }

  onChange(listener: (changed: Partial<ServerSettings>) => void): void {
    this.#listeners.push(listener);
  }
}

/** CONFIG SET of a name this server does not have. */
export class ConfigUnknownError extends Error {
  readonly code = 'DBOS_EINVAL';
  constructor(readonly parameter: string) {
    super(`Unknown option or number of arguments for CONFIG SET - '${parameter}'`);
  }
}

/**
 * Settings from a redis.conf-style text: `name value…` per line, `#` comments, values optionally
 * quoted. Every parameter is accepted here, immutable ones included (a file sets them at start).
 */
export function parseConfigFile(text: string): Partial<ServerSettings> {
  if (typeof text !== 'string') throw typeError(`parseConfigFile takes the file's text (got ${describeValue(text)})`);
  let change: Partial<ServerSettings> = {};
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.search(/\s/);
    const name = (space < 0 ? line : line.slice(0, space)).toLowerCase();
    let value = space < 0 ? '' : line.slice(space).trim();
    if (/^".*"$|^'.*'$/.test(value)) value = value.slice(1, -1);
    const where = `line ${index + 1}`;
    switch (name) {
      case 'port':
        change.port = fileInteger(value, 0, 65535, where, name);
        break;
      case 'bind':
        change.bind = value.split(/\s+/)[0] as string;
        break;
      case 'dir':
        change.dir = value;
        break;
      case 'protected-mode':
        if (value !== 'yes' && value !== 'no') throw new ConfigFileError(`${where}: protected-mode must be yes or no (got '${value}')`);
        change.protectedMode = value === 'yes';
        break;
      default: {
        const parameter = BY_NAME.get(name);
        if (!parameter?.parse) throw new ConfigFileError(`${where}: unsupported setting '${name}'`);
        try {
          change = { ...change, ...parameter.parse(value) };
        } catch (error) {
          throw new ConfigFileError(`${where}: ${name}: ${(error as Error).message}`);
        }
      }
    }
  }
  return change;
}

function fileInteger(text: string, min: number, max: number, where: string, name: string): number {
  try {
    return integerIn(text, min, max);
  } catch (error) {
    throw new ConfigFileError(`${where}: ${name}: ${(error as Error).message}`);
  }
}

/** A config file line this server cannot use (DBOS_EINVAL). */
export class ConfigFileError extends DbosError {
  constructor(message: string) {
    super('DBOS_EINVAL', message);
    this.name = 'ConfigFileError';
  }
}
