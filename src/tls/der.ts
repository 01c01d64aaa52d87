// The few DER (ASN.1 distinguished encoding) shapes an X.509 certificate needs. Node can sign and parse
// certificates but not build them; this is the encoder, checked against Node's parser, openssl and the apiserver.

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tagged(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

export const sequence = (...items: Buffer[]): Buffer => tagged(0x30, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tagged(0x31, Buffer.concat(items));
export const octetString = (content: Buffer): Buffer => tagged(0x04, content);
export const utf8String = (text: string): Buffer => tagged(0x0c, Buffer.from(text, 'utf8'));
export const boolean = (value: boolean): Buffer => tagged(0x01, Buffer.from([value ? 0xff : 0x00]));
/** A context-specific constructed tag, `[n] EXPLICIT`. */
export const explicit = (n: number, content: Buffer): Buffer => tagged(0xa0 | n, content);
/** A context-specific primitive tag, `[n] IMPLICIT` over a primitive type. */
export const implicit = (n: number, content: Buffer): Buffer => tagged(0x80 | n, content);

/** A non-negative INTEGER from big-endian bytes (a leading zero is added when the top bit is set). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = bytes.subarray(start);
  return tagged(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export const smallInteger = (value: number): Buffer => unsignedInteger(Buffer.from([value]));

/** An OBJECT IDENTIFIER from dotted text ("1.2.840.10045.4.3.2"). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [first * 40 + second];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      groups.unshift(v % 128);
      if (v < 128) break;
    }
    bytes.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return tagged(0x06, Buffer.from(bytes));
}

/** A BIT STRING of whole bytes (a public key or a signature). */
export const bitString = (content: Buffer): Buffer => tagged(0x03, Buffer.concat([Buffer.from([0]), content]));

/** A BIT STRING of named bits (bit 0 is the first byte's top bit), trailing zero bits dropped as DER requires. */
export function namedBits(bits: number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit % 8));
  const unused = 7 - (highest % 8);
  return tagged(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** UTCTime before 2050 and GeneralizedTime from then on (RFC 5280 4.1.2.5), to the second. */
export function time(at: Date): Buffer {
  const rest = `${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}Z`;
  const year = at.getUTCFullYear();
  return year < 2050 ? tagged(0x17, Buffer.from(`${pad(year % 100)}${rest}`)) : tagged(0x18, Buffer.from(`${pad(year, 4)}${rest}`));
}
