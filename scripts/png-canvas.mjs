// A small RGBA canvas that writes PNG with node:zlib: rectangles, thick lines, and text in the embedded bitmap
// font (scripts/bitmap-font.mjs). Enough to draw a dashboard without a browser, Grafana or system fonts.
import { Buffer } from 'node:buffer';
import { deflateSync } from 'node:zlib';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphRows } from './bitmap-font.mjs';

/** '#rrggbb' -> [r, g, b] */
export function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Advance of one character at `scale`: the glyph and one column of spacing. */
export function charWidth(scale) {
  return (GLYPH_WIDTH + 1) * scale;
}

export function textWidth(text, scale) {
  return text.length * charWidth(scale);
}

/** Line height at `scale`: the glyph with its descender and two rows of leading. */
export function lineHeight(scale) {
  return (GLYPH_HEIGHT + 2) * scale;
}

/** Shortens `text` to fit `width` pixels at `scale`, ending it with "..." when cut. */
export function fit(text, width, scale) {
  const max = Math.floor(width / charWidth(scale));
  if (text.length <= max) return text;
  return max <= 3 ? text.slice(0, Math.max(0, max)) : `${text.slice(0, max - 3)}...`;
}

/** Word-wraps `text` into at most `maxLines` lines of `width` pixels; the last line is cut with "...". */
export function wrap(text, width, scale, maxLines) {
  const max = Math.max(1, Math.floor(width / charWidth(scale)));
  const lines = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line === '' ? word : `${line} ${word}`;
    if (next.length <= max || line === '') line = next;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  if (lines.length <= maxLines) return lines.map((l) => fit(l, width, scale));
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = fit(`${kept[maxLines - 1]} ${lines.slice(maxLines).join(' ')}`, width, scale);
  return kept;
}

export class Canvas {
  constructor(width, height, background) {
    this.width = width;
    this.height = height;
    this.pixels = Buffer.alloc(width * height * 4);
    const [r, g, b] = rgb(background);
    for (let i = 0; i < width * height; i++) this.pixels.set([r, g, b, 255], i * 4);
  }

  /** Blends `color` over the pixel at (x, y) with opacity `alpha`. */
  blend(x, y, color, alpha = 1) {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const at = (py * this.width + px) * 4;
    for (let c = 0; c < 3; c++) this.pixels[at + c] = Math.round(this.pixels[at + c] * (1 - alpha) + color[c] * alpha);
  }

  /** Fills the box {x, y, w, h} with `hex` at opacity `alpha`. */
  fillRect({ x, y, w, h }, hex, alpha = 1) {
    const color = rgb(hex);
    for (let j = Math.max(0, Math.round(y)); j < Math.min(this.height, Math.round(y + h)); j++) {
      for (let i = Math.max(0, Math.round(x)); i < Math.min(this.width, Math.round(x + w)); i++) this.blend(i, j, color, alpha);
    }
  }

  strokeRect({ x, y, w, h }, hex) {
    this.fillRect({ x, y, w, h: 1 }, hex);
    this.fillRect({ x, y: y + h - 1, w, h: 1 }, hex);
    this.fillRect({ x, y, w: 1, h }, hex);
    this.fillRect({ x: x + w - 1, y, w: 1, h }, hex);
  }

  /** A line `thickness` pixels wide from (x0, y0) to (x1, y1), stamped along its length. */
  line(from, to, hex, thickness = 2) {
    const color = rgb(hex);
    const steps = Math.max(1, Math.ceil(Math.hypot(to[0] - from[0], to[1] - from[1])));
    const half = (thickness - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      const x = from[0] + ((to[0] - from[0]) * s) / steps;
      const y = from[1] + ((to[1] - from[1]) * s) / steps;
      for (let dy = -half; dy <= half; dy++) {
        for (let dx = -half; dx <= half; dx++) this.blend(x + dx, y + dy, color);
      }
    }
  }

  /** Draws `text` with its top-left corner at (x, y); returns the x after it. */
  text(text, x, y, { color = '#ccccdc', scale = 2 } = {}) {
    const ink = rgb(color);
    let cx = Math.round(x);
    for (const char of text) {
      this.glyph(glyphRows(char), cx, Math.round(y), { ink, scale });
      cx += charWidth(scale);
    }
    return cx;
  }

  glyph(rows, x, y, { ink, scale }) {
    rows.forEach((bits, row) => {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if ((bits & (1 << (GLYPH_WIDTH - 1 - col))) !== 0) this.fillBlock(x + col * scale, y + row * scale, scale, ink);
      }
    });
  }

  fillBlock(x, y, size, ink) {
    for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) this.blend(x + i, y + j, ink);
  }

  /** The canvas as a PNG file (8-bit RGBA, no interlace, filter 0 on every row). */
  png() {
    const stride = this.width * 4;
    const raw = Buffer.alloc((stride + 1) * this.height);
    for (let y = 0; y < this.height; y++) this.pixels.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
    const header = Buffer.alloc(13);
    header.writeUInt32BE(this.width, 0);
    header.writeUInt32BE(this.height, 4);
    header.set([8, 6, 0, 0, 0], 8);
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', header),
      chunk('IDAT', deflateSync(raw, { level: 9 })),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([length, body, crc]);
}
