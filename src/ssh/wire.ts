// Bounds-checked reader for the SSH wire encoding (RFC 4251 §5). Every length field comes from
// untrusted input, so each read checks it against what is actually left before slicing.

/** Raised on malformed wire data; callers at the module boundary turn it into a refusal reason. */
export class SshWireError extends Error {
  override readonly name = 'SshWireError';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class SshWireReader {
  private offset = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  bytes(length: number, field: string): Buffer {
    if (length > this.remaining) {
      throw new SshWireError(`${this.what}: ${field} needs ${length} bytes but only ${this.remaining} remain`);
    }
    const out = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(field: string): number {
    return this.bytes(1, field).readUInt8(0);
  }

  u32(field: string): number {
    return this.bytes(4, field).readUInt32BE(0);
  }

  string(field: string): Buffer {
    return this.bytes(this.u32(`${field} length`), field);
  }

  /** A string that must be UTF-8 text without NULs: names, namespaces, algorithm identifiers. */
  text(field: string): string {
    const raw = this.string(field);
    if (raw.includes(0)) throw new SshWireError(`${this.what}: ${field} contains a NUL byte`);
    try {
      return utf8.decode(raw);
    } catch (error: unknown) {
      throw new SshWireError(`${this.what}: ${field} is not valid UTF-8`, { cause: error });
    }
  }

  /**
   * A non-negative mpint, returned as its unsigned big-endian magnitude. Non-minimal encodings are
   * refused so a key has exactly one encoding and byte comparison of key blobs is sound.
   */
  mpint(field: string): Buffer {
    const raw = this.string(field);
    const first = raw[0];
    if (first === undefined) return raw;
    if ((first & 0x80) !== 0) throw new SshWireError(`${this.what}: ${field} is negative`);
    if (first === 0) {
      const second = raw[1];
      if (second === undefined || (second & 0x80) === 0) throw new SshWireError(`${this.what}: ${field} is not minimally encoded`);
      return raw.subarray(1);
    }
    return raw;
  }

  end(): void {
    if (this.remaining !== 0) throw new SshWireError(`${this.what}: ${this.remaining} bytes of trailing data`);
  }
}

export function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  return Buffer.concat([length, body]);
}

export function sshU32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value, 0);
  return out;
}

/** Strict base64: Buffer.from silently skips junk, which would let two different texts name one key. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const out = Buffer.from(text, 'base64');
  return out.toString('base64') === text ? out : undefined;
}
