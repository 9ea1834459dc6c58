// Generates text-drawing cases (deterministic PRNG) as JSON on stdout.
let seed = 12345;
function mulberry32() { seed = (seed + 0x6d2b79f5) | 0; let t = seed; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }
const rnd = (n) => Math.floor(mulberry32() * n);
const cases = [];
function font(height, nGlyphs, fixed) {
  const widths = []; let bits = 0;
  for (let i = 0; i < nGlyphs; i++) { const w = fixed || (rnd(5) === 0 ? 0 : 1 + rnd(7)); widths.push(w); bits += w * height; }
  const bytes = []; for (let i = 0; i < Math.ceil(bits / 8) + 1; i++) bytes.push(rnd(256));
  return { bitmap: bytes, first: 32 + rnd(40), widths: fixed ? fixed : widths, height };
}
const fonts = [font(8, 30), font(5, 30), font(7, 20, 4), font(11, 25), font(3, 40)];
for (let c = 0; c < 60; c++) {
  const f = fonts[c % fonts.length];
  const scale = rnd(4) === 0 ? 2 : 1;
  const w = [16, 30, 128][rnd(3)], h = [8, 16, 64][rnd(3)];
  const opts = rnd(2) ? { vertical_byte: true, msb: false } : {};
  const ops = [];
  const nops = 1 + rnd(4);
  for (let k = 0; k < nops; k++) {
    let s = ''; const len = rnd(12);
    for (let i = 0; i < len; i++) { const r = rnd(20); s += r === 0 ? '\n' : String.fromCharCode(f.first - 2 + rnd(34)); }
    ops.push({ align: rnd(3) === 0 ? [rnd(3) - 1, rnd(3) - 1] : null, color: rnd(4) === 0 ? 0 : 1, bg: rnd(3) === 0 ? 1 : 0,
      s, x: rnd(w + 20) - 10, y: rnd(h + 12) - 6, solid: rnd(3) === 0 });
  }
  cases.push({ w, h, opts, font: { ...f, height: f.height | (scale << 8) }, ops });
}
console.log(JSON.stringify(cases));
