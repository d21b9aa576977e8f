/**
 * A restricted pickle reader: enough of Python's pickle machine (protocols
 * 0–5) to read what `torch.save` writes for a state dict, and nothing that
 * runs code. Python's own unpickler turns GLOBAL + REDUCE into "import this
 * and call it"; here GLOBAL only names one of the few callables the caller
 * allows (`allowed`), REDUCE calls that caller's pure TypeScript stand-in, and
 * any other global is an UNSUPPORTED error naming it (`builtins.eval`,
 * `posix.system`, a pickled nn.Module's class…). Nothing is imported,
 * evaluated or executed, whatever the bytes say.
 *
 * Bounds: every length read from the stream is checked against the bytes
 * left before anything is sliced or allocated, so a pickle can make us hold
 * at most a small multiple of its own size; integers longer than 16 bytes
 * are refused (no state dict needs them, and BigInt parsing of megabyte
 * integers is quadratic). The machine is iterative, so nesting depth cannot
 * overflow the stack.
 */
import { FusionError } from '../errors.ts';

/** A Python tuple (kept apart from lists, which are plain arrays). */
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** Keys a dict may have here: the hashable scalars a checkpoint uses. */
export type PickleKey = string | number | bigint | boolean | null;

/** A Python dict or OrderedDict, in insertion order. */
export class PickleDict {
  readonly map = new Map<PickleKey, PickleValue>();
}

/** A global the caller allowed, as GLOBAL/STACK_GLOBAL pushed it. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** What the caller's REDUCE / persistent-load stand-ins return. */
export interface PickleOpaque {
  readonly kind: string;
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | PickleDict
  | PickleGlobal
  | PickleOpaque;

export interface UnpicklerHooks {
  /** `module.name` of the globals the stream may name; any other is refused. */
  allowed: ReadonlySet<string>;
  /** REDUCE: calls an allowed global with its arguments. */
  call(fn: PickleGlobal, args: readonly PickleValue[]): PickleValue;
  /** BUILD (`obj.__setstate__(state)`): returns the object to leave on the stack. */
  build?(obj: PickleValue, state: PickleValue): PickleValue;
  /** BINPERSID / PERSID: resolves a persistent id (torch's storages). */
  persistentLoad?(pid: PickleValue): PickleValue;
  /** What the stream is, for messages: "checkpoint" by default. */
  what?: string;
}

export interface UnpickleResult {
  value: PickleValue;
  /** Offset just past the STOP opcode: the legacy torch format puts several pickles in a row. */
  end: number;
}

const MAX_INT_BYTES = 16;

function malformed(message: string): FusionError {
  return new FusionError('MALFORMED_FILE', message);
}

/** The error for a global outside the allowed set; the message names it as Python would import it. */
export function unsupportedObject(qualified: string, what = 'checkpoint'): FusionError {
  const hint =
    qualified.startsWith('__main__.') || qualified.startsWith('torch.nn.')
      ? ' (this looks like a whole pickled model: save model.state_dict() instead)'
      : '';
  return new FusionError('UNSUPPORTED', `unsupported object in ${what}: ${qualified}${hint}`, { object: qualified });
}

function isKey(v: PickleValue): v is PickleKey {
  return v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v);
}

/** Little-endian two's complement bytes → number (exact) or bigint (when beyond 2^53). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Protocol 0's UNICODE argument: latin-1 text where a backslash-u escape (4 hex digits) or backslash-U escape (8 hex digits) stands for another code point. */
function rawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (m, u4: string | undefined, u8: string | undefined) => {
    const code = parseInt(u4 ?? u8!, 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

const STRING_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };

/** Protocol 0's STRING argument: 'text' or "text" with Python escapes (\n, \xHH, \\, quotes). */
function pythonStringLiteral(text: string, what: string): string {
  const quote = text[0];
  if (text.length < 2 || (quote !== "'" && quote !== '"') || text.at(-1) !== quote) {
    throw malformed(`${what} pickle has a STRING that is not quoted`);
  }
  return text.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/g, (m, e: string) => {
    if (e.startsWith('x') && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
    return STRING_ESCAPES[e] ?? m;
  });
}

/**
 * Runs one pickle starting at `start` and returns the object STOP leaves.
 * Throws MALFORMED_FILE for a stream that is not a valid pickle, UNSUPPORTED
 * for a global or opcode outside what a state dict needs.
 */
export function unpickle(bytes: Uint8Array, start: number, hooks: UnpicklerHooks): UnpickleResult {
  const what = hooks.what ?? 'checkpoint';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  let pos = start;
  let stack: PickleValue[] = [];
  const marks: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();

  const need = (n: number | bigint, opname: string): number => {
    if (typeof n === 'bigint' ? n > BigInt(bytes.length - pos) : n > bytes.length - pos) {
      throw malformed(`${what} pickle is truncated: ${opname} at byte ${pos} needs ${n} bytes, ${bytes.length - pos} are left`);
    }
    return Number(n);
  };
  const take = (n: number | bigint, opname: string): Uint8Array => {
    const len = need(n, opname);
    const out = bytes.subarray(pos, pos + len);
    pos += len;
    return out;
  };
  const u8 = (op: string) => take(1, op)[0];
  const u16 = (op: string) => {
    need(2, op);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (op: string) => {
    need(4, op);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (op: string) => {
    need(4, op);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (op: string): bigint => {
    need(8, op);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    return v;
  };
  const line = (op: string): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) throw malformed(`${what} pickle is truncated: ${op} at byte ${pos} has no end of line`);
    const text = latin1.decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return text;
  };
  const text = (raw: Uint8Array, op: string): string => {
    try {
      return utf8.decode(raw);
    } catch {
      throw malformed(`${what} pickle holds a string that is not valid UTF-8 (${op} before byte ${pos})`);
    }
  };
  const pop = (op: string): PickleValue => {
    if (stack.length === 0) throw malformed(`${what} pickle pops an empty stack (${op} at byte ${pos - 1})`);
    return stack.pop()!;
  };
  const top = (op: string): PickleValue => {
    if (stack.length === 0) throw malformed(`${what} pickle reads an empty stack (${op} at byte ${pos - 1})`);
    return stack[stack.length - 1];
  };
  const popMark = (op: string): PickleValue[] => {
    const items = stack;
    const previous = marks.pop();
    if (previous === undefined) throw malformed(`${what} pickle has ${op} without a MARK (byte ${pos - 1})`);
    stack = previous;
    return items;
  };
  const global = (module: string, name: string): PickleGlobal => {
    const qualified = `${module}.${name}`;
    if (!hooks.allowed.has(qualified)) throw unsupportedObject(qualified, what);
    return new PickleGlobal(module, name);
  };
  const memoGet = (index: number, op: string): PickleValue => {
    if (!memo.has(index)) throw malformed(`${what} pickle reads memo ${index}, which was never stored (${op})`);
    return memo.get(index)!;
  };
  const setItems = (dict: PickleValue, items: PickleValue[], op: string) => {
    if (!(dict instanceof PickleDict)) throw malformed(`${what} pickle sets items on a non-dict (${op} at byte ${pos - 1})`);
    if (items.length % 2 !== 0) throw malformed(`${what} pickle has an odd number of dict items (${op})`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (!isKey(key)) throw new FusionError('UNSUPPORTED', `${what} holds a dict with a key that is not a string or number`);
      dict.map.set(key, items[i + 1]);
    }
  };
  const append = (list: PickleValue, items: PickleValue[], op: string) => {
    if (!Array.isArray(list)) throw malformed(`${what} pickle appends to a non-list (${op} at byte ${pos - 1})`);
    for (const item of items) list.push(item);
  };

  for (;;) {
    if (pos >= bytes.length) throw malformed(`${what} pickle is truncated: it ends at byte ${pos} before its STOP opcode`);
    const at = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: {
        const protocol = u8('PROTO');
        if (protocol > 5) throw new FusionError('UNSUPPORTED', `${what} uses pickle protocol ${protocol}; protocols 0 to 5 are supported`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        u64('FRAME');
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) throw malformed(`${what} pickle stops with ${stack.length} values on the stack`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length > 0) stack.pop();
        else popMark('POP');
        break;
      case 0x31: // POP_MARK
        popMark('POP_MARK');
        break;
      case 0x32: // DUP
        stack.push(top('DUP'));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8('BININT1'));
        break;
      case 0x4d: // BININT2
        stack.push(u16('BININT2'));
        break;
      case 0x4a: // BININT
        stack.push(i32('BININT'));
        break;
      case 0x8a: {
        // LONG1
        const n = u8('LONG1');
        if (n > MAX_INT_BYTES) throw new FusionError('UNSUPPORTED', `${what} holds a ${n}-byte integer; at most ${MAX_INT_BYTES} bytes are read`);
        stack.push(decodeLong(take(n, 'LONG1')));
        break;
      }
      case 0x8b: {
        // LONG4
        const n = i32('LONG4');
        if (n < 0) throw malformed(`${what} pickle has a negative LONG4 length ${n}`);
        if (n > MAX_INT_BYTES) throw new FusionError('UNSUPPORTED', `${what} holds a ${n}-byte integer; at most ${MAX_INT_BYTES} bytes are read`);
        stack.push(decodeLong(take(n, 'LONG4')));
        break;
      }
      case 0x49: {
        // INT (text): also protocol 0's booleans "I00"/"I01"
        const t = line('INT');
        if (t === '00' || t === '01') stack.push(t === '01');
        else if (/^[+-]?\d{1,18}$/.test(t)) stack.push(Number(t));
        else throw malformed(`${what} pickle has an invalid INT ${JSON.stringify(t.slice(0, 40))}`);
        break;
      }
      case 0x4c: {
        // LONG (text), e.g. "12L"
        const t = line('LONG').replace(/L$/, '');
        if (!/^[+-]?\d{1,38}$/.test(t)) throw malformed(`${what} pickle has an invalid LONG ${JSON.stringify(t.slice(0, 40))}`);
        const v = BigInt(t);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: {
        // BINFLOAT: big-endian float64
        need(8, 'BINFLOAT');
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x46: {
        // FLOAT (text)
        const t = line('FLOAT');
        const v = Number(t);
        if (t.trim() === '' || (Number.isNaN(v) && t.trim().toLowerCase() !== 'nan')) throw malformed(`${what} pickle has an invalid FLOAT`);
        stack.push(v);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(text(take(u32('BINUNICODE'), 'BINUNICODE'), 'BINUNICODE'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(take(u8('SHORT_BINUNICODE'), 'SHORT_BINUNICODE'), 'SHORT_BINUNICODE'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(take(u64('BINUNICODE8'), 'BINUNICODE8'), 'BINUNICODE8'));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(latin1.decode(take(u32('BINSTRING'), 'BINSTRING')));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8('SHORT_BINSTRING'), 'SHORT_BINSTRING')));
        break;
      case 0x56: // UNICODE (protocol 0): raw-unicode-escape text to the end of the line
        stack.push(rawUnicodeEscape(line('UNICODE')));
        break;
      case 0x53: // STRING (protocol 0): a quoted Python 2 string literal
        stack.push(pythonStringLiteral(line('STRING'), what));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32('BINBYTES'), 'BINBYTES'));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8('SHORT_BINBYTES'), 'SHORT_BINBYTES'));
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64('BINBYTES8'), 'BINBYTES8'));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: {
        // LIST (popMark replaces `stack`, so take the items before pushing)
        const items = popMark('LIST');
        stack.push(items);
        break;
      }
      case 0x61: {
        // APPEND
        const item = pop('APPEND');
        append(top('APPEND'), [item], 'APPEND');
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark('APPENDS');
        append(top('APPENDS'), items, 'APPENDS');
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
      case 0x74: {
        // TUPLE
        const items = popMark('TUPLE');
        stack.push(new PickleTuple(items));
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {
        // TUPLE1..3
        const n = op - 0x84;
        if (stack.length < n) throw malformed(`${what} pickle builds a ${n}-tuple from ${stack.length} values (byte ${at})`);
        stack.push(new PickleTuple(stack.splice(stack.length - n, n)));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x64: {
        // DICT
        const d = new PickleDict();
        setItems(d, popMark('DICT'), 'DICT');
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop('SETITEM');
        const key = pop('SETITEM');
        setItems(top('SETITEM'), [key, value], 'SETITEM');
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark('SETITEMS');
        setItems(top('SETITEMS'), items, 'SETITEMS');
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line('GLOBAL');
        const name = line('GLOBAL');
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop('STACK_GLOBAL');
        const module = pop('STACK_GLOBAL');
        if (typeof module !== 'string' || typeof name !== 'string') throw malformed(`${what} pickle has a STACK_GLOBAL without two strings`);
        stack.push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop('REDUCE');
        const fn = pop('REDUCE');
        if (!(fn instanceof PickleGlobal)) throw malformed(`${what} pickle calls something that is not a global (byte ${at})`);
        if (!(args instanceof PickleTuple)) throw malformed(`${what} pickle calls ${fn.qualified} without an argument tuple`);
        stack.push(hooks.call(fn, args.items));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop('BUILD');
        const obj = pop('BUILD');
        if (!hooks.build) throw new FusionError('UNSUPPORTED', `${what} sets the state of an object (pickle BUILD), which is not supported`);
        stack.push(hooks.build(obj, state));
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop('BINPERSID');
        if (!hooks.persistentLoad) throw new FusionError('UNSUPPORTED', `${what} refers to external objects (pickle persistent ids)`);
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      case 0x50: {
        // PERSID (text id)
        const pid = line('PERSID');
        if (!hooks.persistentLoad) throw new FusionError('UNSUPPORTED', `${what} refers to external objects (pickle persistent ids)`);
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8('BINPUT'), top('BINPUT'));
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32('LONG_BINPUT'), top('LONG_BINPUT'));
        break;
      case 0x70: {
        // PUT (text index)
        const t = line('PUT');
        if (!/^\d{1,10}$/.test(t)) throw malformed(`${what} pickle has an invalid PUT index`);
        memo.set(Number(t), top('PUT'));
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top('MEMOIZE'));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8('BINGET'), 'BINGET'));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32('LONG_BINGET'), 'LONG_BINGET'));
        break;
      case 0x67: {
        // GET (text index)
        const t = line('GET');
        if (!/^\d{1,10}$/.test(t)) throw malformed(`${what} pickle has an invalid GET index`);
        stack.push(memoGet(Number(t), 'GET'));
        break;
      }
      // Opcodes that build arbitrary objects (INST, OBJ, NEWOBJ, NEWOBJ_EX), look up
      // extension registries (EXT1/2/4) or hold out-of-band buffers: none appears in a
      // state dict, and each would mean constructing a class we do not know.
      case 0x69:
      case 0x6f:
      case 0x81:
      case 0x92:
      case 0x82:
      case 0x83:
      case 0x84:
      case 0x96:
      case 0x97:
      case 0x98:
      case 0x8f:
      case 0x90:
      case 0x91:
        throw new FusionError('UNSUPPORTED', `${what} uses pickle opcode 0x${op.toString(16)} at byte ${at}, which a state dict never needs`, {
          opcode: op,
        });
      default:
        throw malformed(`${what} pickle has an unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }
}
