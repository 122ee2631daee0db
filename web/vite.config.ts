// The dashboard's build. Run from the repository root:
//   npx vite --config web/vite.config.ts          (dev server)
//   npx vite build --config web/vite.config.ts    (static files in web/dist)
import path from "node:path";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  // Relative asset URLs: the same build works at any path of any static host.
  base: "./",
  plugins: [react()],
  envDir: here,
  server: {
    // The generated Convex API lives in ../convex/_generated.
    fs: { allow: [path.resolve(here, "..")] },
  },
  build: {
    outDir: path.join(here, "dist"),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
  },
});
