// Makes the app's PNG icons from web/public/favicon.svg, through the system Chromium
// (playwright-core; nothing is downloaded). Run from the repository root after changing the
// favicon, and commit the PNGs:
//
//   node --import tsx web/scripts/icons.ts
//
// icon-192 / icon-512     the favicon as it is (the manifest's "any" icons)
// maskable-512            full bleed, the mark inside the central safe circle (Android crops it)
// apple-touch-icon-180    full bleed (iOS rounds the corners itself; transparency turns black)
// badge-96                the mark alone in white on transparent (Android's status bar badge)
import { readFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "../e2e/harness/browser";

const PUBLIC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "public");

export type Variant = { file: string; size: number; svg: string };

/** The favicon split into its background square (its fill) and the mark drawn on it. */
export function splitFavicon(svg: string): { background: string; mark: string } {
  const match = /^\s*<svg[^>]*viewBox="0 0 32 32"[^>]*>\s*<rect\b[^>]*\bfill="(#[0-9a-fA-F]{3,8})"[^>]*\/>([\s\S]*)<\/svg>\s*$/.exec(svg);
  if (!match?.[1] || match[2] === undefined) throw new Error("favicon.svg: expected a 32×32 viewBox whose first element is the background <rect fill=…/>");
  return { background: match[1], mark: match[2].trim() };
}

const scaled = (mark: string, scale: number) => `<g transform="translate(16 16) scale(${scale}) translate(-16 -16)">${mark}</g>`;
const svg32 = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">${body}</svg>`;

export function variants(favicon: string): Variant[] {
  const { background, mark } = splitFavicon(favicon);
  // The mark reaches about 13.5 units from the centre; a maskable icon keeps everything within
  // 40% of its width (12.8 units) of the centre, so 0.75 leaves a margin.
  const fullBleed = (scale: number) => svg32(`<rect width="32" height="32" fill="${background}"/>${scaled(mark, scale)}`);
  const white = mark.replace(/\b(fill|stroke)="(?!none)[^"]*"/g, '$1="#fff"');
  return [
    { file: "icon-192.png", size: 192, svg: favicon },
    { file: "icon-512.png", size: 512, svg: favicon },
    { file: "maskable-512.png", size: 512, svg: fullBleed(0.75) },
    { file: "apple-touch-icon-180.png", size: 180, svg: fullBleed(0.85) },
    { file: "badge-96.png", size: 96, svg: svg32(scaled(white, 1.15)) },
  ];
}

async function main(): Promise<void> {
  const favicon = await readFile(path.join(PUBLIC, "favicon.svg"), "utf8");
  const out = path.join(PUBLIC, "icons");
  await mkdir(out, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
  try {
    for (const v of variants(favicon)) {
      const page = await browser.newPage({ viewport: { width: v.size, height: v.size }, deviceScaleFactor: 1 });
      const src = `data:image/svg+xml;base64,${Buffer.from(v.svg).toString("base64")}`;
      await page.setContent(`<!doctype html><html><body style="margin:0;background:transparent"><img id="icon" width="${v.size}" height="${v.size}" style="display:block" src="${src}"></body></html>`);
      await page.locator("#icon").evaluate((img: HTMLImageElement) => img.decode());
      await page.screenshot({ path: path.join(out, v.file), omitBackground: true, clip: { x: 0, y: 0, width: v.size, height: v.size } });
      await page.close();
      process.stdout.write(`icons.ts: ${v.file} (${v.size}×${v.size})\n`);
    }
  } finally {
    await browser.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`icons.ts: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
