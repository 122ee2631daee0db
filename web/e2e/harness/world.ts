// What every browser test file starts: the local backend, the built dashboard on a static
// server, headless Chromium and named laptops (the real daemon by default, see index.ts), all
// stopped after the file; on a failed test, each laptop's log and the page's problems.
import { afterAll, beforeAll, beforeEach } from "vitest";
import { startStaticServer, type StaticServer } from "../../serve";
import { startBackend, type TestBackend } from "./backend";
import { launchBrowser, type TestBrowser } from "./browser";
import { makeLaptop, type Laptop } from "./index";

export type World = {
  backend: TestBackend;
  web: StaticServer;
  browser: TestBrowser;
  /** The laptops started so far, in the order asked for. */
  laptops: Laptop[];
  /** Starts one more laptop, enrolled with the deployment's secret or a code from the page. */
  addLaptop(name: string, enrollmentSecret?: string): Promise<Laptop>;
  stop(): Promise<void>;
};

/** Starts the backend, the dashboard and Chromium, then the laptops named (in parallel). */
export async function startWorld(names: readonly string[]): Promise<World> {
  const [backend, browser] = await Promise.all([startBackend(), launchBrowser()]);
  const laptops: Laptop[] = [];
  let web: StaticServer | undefined;
  const stop = async () => {
    await Promise.allSettled(laptops.map((l) => l.stop()));
    await browser.close();
    await web?.close();
    await backend.stop();
  };
  try {
    web = await startStaticServer({ convexUrl: backend.url });
    const world: World = {
      backend,
      web,
      browser,
      laptops,
      stop,
      async addLaptop(name, enrollmentSecret) {
        const laptop = makeLaptop({ url: backend.url, enrollmentSecret: enrollmentSecret ?? backend.enrollmentSecret, name });
        laptops.push(laptop);
        await laptop.start();
        return laptop;
      },
    };
    const started = names.map((name) => makeLaptop({ url: backend.url, enrollmentSecret: backend.enrollmentSecret, name }));
    laptops.push(...started);
    await Promise.all(started.map((l) => l.start()));
    return world;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * In a `describe`: the world started before its tests (before the file's own `beforeAll`,
 * registered after this) and stopped after them; a failed test prints every laptop's log and
 * `problems()` (the page problems the file records). Returns the running world.
 */
export function useWorld(names: readonly string[], problems: () => string[] = () => []): () => World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await startWorld(names);
  }, 120_000);
  afterAll(async () => {
    await world?.stop();
  });
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      for (const laptop of world?.laptops ?? []) console.error(`--- ${laptop.name} (${laptop.kind}) log:\n${await laptop.logTail()}`);
      console.error(`--- page problems:\n${problems().join("\n")}`);
    });
  });
  return () => {
    if (world === undefined) throw new Error("the test world has not started (see its beforeAll)");
    return world;
  };
}
