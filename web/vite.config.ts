import { defineConfig } from "vitest/config";
import preact from "@preact/preset-vite";

// The app is served by the `coffer` binary at `/`; assets get hashed names and are cached for
// a year. No inline script (the server's Content-Security-Policy forbids it).
export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    modulePreload: { polyfill: false },
    target: "es2022",
    sourcemap: false,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
