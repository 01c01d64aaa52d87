// A 5x9 bitmap font for printable ASCII, drawn for the dashboard picture (scripts/render-dashboard-png.mjs) so
// that rendering needs no system fonts: 5 columns, cap height 7, two rows of descender. Each glyph is 9 rows, top
// first; each row is one base-32 digit whose 5 bits are the columns, left first. Glyphs are in ASCII order from
// space (32) to tilde (126).
const GLYPHS = [
  '000000000444440400aaa000000aavavaa004fke5u400op248j300cik8lid00448000000',
  '24888420084222480004lel4000044v4400000000c480000v0000000000cc0001248g000',
  'ehjlphe004c4444e00eh1248v00v2421he0026aiv2200vgu11he0068guhhe00v12488800',
  'ehhehhe00ehhf12c000cc0cc0000cc0c4800248g8420000v0v0000842124800eh1240400',
  'eh1dlle00ehhvhhh00uhhuhhu00ehggghe00sihhhis00vgguggv00vgguggg00ehgnhhf00',
  'hhhvhhh00e44444e0072222ic00hikokih00ggggggv00hrllhhh00hhpljhh00ehhhhhe00',
  'uhhuggg00ehhhlid00uhhukih00fgge11u00v44444400hhhhhhe00hhhhha400hhhllla00',
  'hha4ahh00hha444400v1248gv00e88888e000g8421000e22222e004ah000000000000v00',
  '84200000000e1fhf00ggmphhu0000egghe0011djhhf0000ehvge00698s8880000fhhf11e',
  'ggmphhh0040c444e002062222icggikoki00c44444e0000qllll0000mphhh0000ehhhe00',
  '00uhhuggg00fhhf11100mpggg0000fge1u0088s88960000hhhjd0000hhha40000hhlla00',
  '00ha4ah0000hhhf11e00v248v00244844200444444400844244800008l20000',
].join('');

/** Characters beyond ASCII that dashboards use. */
const EXTRA = new Map([
  ['\u00b7', '000040000'], // middle dot
  ['\u00b5', '00hhhjtgg'], // micro sign
]);

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 9;

/** The rows of a character's glyph as bit masks (bit 4 = leftmost column); "?" for characters it does not have. */
export function glyphRows(char) {
  const extra = EXTRA.get(char);
  if (extra !== undefined) return Array.from(extra, (digit) => parseInt(digit, 32));
  let code = char.codePointAt(0) ?? 63;
  if (code < 32 || code > 126) code = 63;
  const at = (code - 32) * GLYPH_HEIGHT;
  return Array.from(GLYPHS.slice(at, at + GLYPH_HEIGHT), (digit) => parseInt(digit, 32));
}
