// The installable app's files: the manifest, the icons it names (their real pixel sizes and
// what each kind must look like), and index.html's links and iOS tags.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";
import { describe, expect, test } from "vitest";

// Paths, not URLs: happy-dom's URL is not one Node's fs takes.
const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (file: string) => readFileSync(path.join(WEB, "public", file));

type Icon = { src: string; sizes: string; type: string; purpose?: string };
type Manifest = Record<string, unknown> & { icons: Icon[] };

const manifest = JSON.parse(read("manifest.webmanifest").toString("utf8")) as Manifest;

/** An 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are), decoded. */
function decodePng(bytes: Buffer): { width: number; height: number; pixel(x: number, y: number): [number, number, number, number] } {
  expect(bytes.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 4;
  const data: Buffer[] = [];
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString("latin1", offset + 4, offset + 8);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      expect({ depth: body[8], interlace: body[12] }).toEqual({ depth: 8, interlace: 0 });
      expect([2, 6]).toContain(body[9]);
      channels = body[9] === 6 ? 4 : 3;
    } else if (type === "IDAT") data.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? out[y * stride + i - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + i]! : 0;
      const c = i >= channels && y > 0 ? out[(y - 1) * stride + i - channels]! : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const predicted = [0, a, b, (a + b) >> 1, paeth][filter!];
      if (predicted === undefined) throw new Error(`PNG filter ${filter}`);
      out[y * stride + i] = (x + predicted) & 0xff;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => {
      const i = y * stride + x * channels;
      return [out[i]!, out[i + 1]!, out[i + 2]!, channels === 4 ? out[i + 3]! : 255];
    },
  };
}

const icon = (purpose: string, size: number) => {
  const found = manifest.icons.find((i) => (i.purpose ?? "any") === purpose && i.sizes === `${size}x${size}`);
  if (!found) throw new Error(`no ${purpose} ${size} icon in the manifest`);
  return decodePng(read(found.src));
};

describe("the web app manifest", () => {
  test("what an install needs: names, relative start and scope, standalone, colours of the light theme", () => {
    expect(manifest).toMatchObject({
      name: "tina",
      short_name: "tina",
      start_url: "./",
      scope: "./",
      id: "./",
      display: "standalone",
      background_color: "#f6f7f9",
      theme_color: "#f6f7f9",
    });
    expect(typeof manifest.description).toBe("string");
  });

  test("every icon exists, is a PNG of its declared size", () => {
    for (const i of manifest.icons) {
      expect(i.type).toBe("image/png");
      const png = decodePng(read(i.src));
      expect(`${png.width}x${png.height}`, i.src).toBe(i.sizes);
    }
    expect(manifest.icons.map((i) => `${i.purpose}:${i.sizes}`).sort()).toEqual(["any:192x192", "any:512x512", "maskable:512x512", "monochrome:96x96"]);
  });

  test("the any icons keep the favicon's rounded corners; the maskable one bleeds to its edges", () => {
    for (const size of [192, 512]) expect(icon("any", size).pixel(0, 0)[3], `any ${size} corner`).toBe(0);
    const maskable = icon("maskable", 512);
    for (const [x, y] of [
      [0, 0],
      [511, 0],
      [0, 511],
      [511, 511],
    ] as const)
      expect(maskable.pixel(x, y), `maskable (${x}, ${y})`).toEqual([0x3b, 0x5b, 0xdb, 255]);
    // The mark (white) is inside the central safe circle: the centre column has white in it.
    let white = 0;
    for (let y = 0; y < 512; y++) if (maskable.pixel(256, y).slice(0, 3).every((v) => v > 240)) white++;
    expect(white).toBeGreaterThan(40);
  });

  test("the badge is monochrome: white where it is drawn, transparent elsewhere", () => {
    const badge = icon("monochrome", 96);
    let drawn = 0;
    for (let y = 0; y < 96; y++)
      for (let x = 0; x < 96; x++) {
        const [r, g, b, a] = badge.pixel(x, y);
        if (a === 0) continue;
        drawn++;
        expect(Math.min(r, g, b), `(${x}, ${y})`).toBeGreaterThan(200);
      }
    expect(drawn).toBeGreaterThan(96 * 96 * 0.05);
    expect(badge.pixel(0, 0)[3]).toBe(0);
  });

  test("the Apple touch icon is 180 px and fully opaque (iOS would fill transparency with black)", () => {
    const apple = decodePng(read("icons/apple-touch-icon-180.png"));
    expect([apple.width, apple.height]).toEqual([180, 180]);
    for (let y = 0; y < 180; y += 4) for (let x = 0; x < 180; x += 4) expect(apple.pixel(x, y)[3]).toBe(255);
  });
});

describe("index.html", () => {
  const html = readFileSync(path.join(WEB, "index.html"), "utf8");
  const tag = (pattern: RegExp) => {
    const found = pattern.exec(html);
    if (!found) throw new Error(`index.html has no ${pattern}`);
    return found[0];
  };

  test("links the manifest and the Apple touch icon, relative to the page", () => {
    expect(tag(/<link rel="manifest"[^>]*>/)).toContain('href="./manifest.webmanifest"');
    const apple = tag(/<link rel="apple-touch-icon"[^>]*>/);
    expect(apple).toContain('href="./icons/apple-touch-icon-180.png"');
    expect(apple).toContain('sizes="180x180"');
  });

  test("the iOS Home Screen tags, and a theme colour per scheme", () => {
    expect(tag(/<meta name="apple-mobile-web-app-capable"[^>]*>/)).toContain('content="yes"');
    expect(tag(/<meta name="apple-mobile-web-app-status-bar-style"[^>]*>/)).toMatch(/content="(default|black|black-translucent)"/);
    expect(tag(/<meta name="apple-mobile-web-app-title"[^>]*>/)).toContain('content="tina"');
    expect(tag(/<meta name="theme-color" content="#f6f7f9" media="\(prefers-color-scheme: light\)"[^>]*>/)).toBeTruthy();
    expect(tag(/<meta name="theme-color" content="#101317" media="\(prefers-color-scheme: dark\)"[^>]*>/)).toBeTruthy();
  });
});
