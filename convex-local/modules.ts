// The modules map of a Convex functions folder, in the form convex-test takes
// (`{ "<abs path>": () => import(...) }`), plus lookup of registered functions.
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { splitUdfPath } from "./encoding.js";

export type FunctionKind = "query" | "mutation" | "action";

/** A registered Convex function as `queryGeneric` & co. produce it. */
export type RegisteredFunction = ((...args: unknown[]) => unknown) & {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  isHttp?: boolean;
  _handler?: (...args: unknown[]) => unknown;
};

type ModuleNamespace = Record<string, unknown>;

const SOURCE_FILE = /\.(js|mjs|cjs|ts|tsx|mts|cts|jsx)$/;

/**
 * The files the Convex CLI would deploy as function modules (its bundler's
 * `entryPoints` rules: no dotfiles, no names with several dots such as
 * `foo.test.ts` or `auth.config.ts`, no spaces, no component folders), plus
 * `schema.ts` and the `_generated` JavaScript that convex-test needs.
 */
function listModuleFiles(root: string, dir = root): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      if (existsSync(path.join(full, "convex.config.ts"))) continue;
      found.push(...listModuleFiles(root, full));
      continue;
    }
    const base = entry.name;
    const relative = path.relative(root, full);
    if (!SOURCE_FILE.test(base)) continue;
    if (base.startsWith(".") || base.startsWith("#")) continue;
    if ((base.match(/\./g) ?? []).length > 1) continue;
    if (relative.includes(" ")) continue;
    found.push(full);
  }
  return found;
}

export function kindOf(fn: RegisteredFunction): FunctionKind | null {
  if (fn.isQuery) return "query";
  if (fn.isMutation) return "mutation";
  if (fn.isAction) return "action";
  return null;
}

/**
 * Runs a function's handler: `run` calls it. The backend uses it to meter
 * every execution (whoever called it: a client, the scheduler, a cron, an
 * action's `runQuery`) and to check the call limits.
 */
export type HandlerWrapper = (
  udfPath: string,
  kind: FunctionKind,
  ctx: unknown,
  args: unknown,
  run: () => Promise<unknown>,
) => Promise<unknown>;

const passThrough: HandlerWrapper = (_udfPath, _kind, _ctx, _args, run) => run();

/**
 * Wraps a registered function so that its handler runs through `around`, and,
 * for mutations and actions, `onFinished` is called when the handler returns
 * or throws. The server uses the latter to notice commits right away instead
 * of waiting for its periodic check.
 */
function wrapRegistered(
  fn: RegisteredFunction,
  udfPath: string,
  onFinished: () => void,
  around: HandlerWrapper,
): RegisteredFunction {
  const handler = fn._handler;
  const kind = kindOf(fn);
  if (typeof handler !== "function" || kind === null) return fn;
  const wrappedHandler = async (...args: unknown[]): Promise<unknown> => {
    try {
      return await around(udfPath, kind, args[0], args[1], async () => await handler(...args));
    } finally {
      if (kind !== "query") onFinished();
    }
  };
  const wrapped = ((...args: unknown[]) => fn(...args)) as RegisteredFunction;
  Object.assign(wrapped, fn, { _handler: wrappedHandler });
  return wrapped;
}

export class FunctionModules {
  /** The convex-test modules map: absolute paths, one of them under `_generated`. */
  readonly modules: Record<string, () => Promise<ModuleNamespace>>;
  private readonly loaders = new Map<string, () => Promise<ModuleNamespace>>();

  private constructor(
    readonly dir: string,
    onFinished: () => void,
    around: HandlerWrapper,
  ) {
    const files = listModuleFiles(dir);
    if (!files.some((f) => f.split(path.sep).includes("_generated"))) {
      throw new Error(
        `No _generated folder in ${dir}: run \`npx convex codegen --system-udfs --typecheck enable\` there first`,
      );
    }
    this.modules = {};
    for (const file of files) {
      let cached: Promise<ModuleNamespace> | undefined;
      const modulePath = path.relative(dir, file).split(path.sep).join("/").replace(SOURCE_FILE, "");
      const load = (): Promise<ModuleNamespace> => {
        cached ??= (import(pathToFileURL(file).href) as Promise<ModuleNamespace>).then((ns) => {
          const copy: ModuleNamespace = {};
          for (const [name, value] of Object.entries(ns)) {
            copy[name] =
              typeof value === "function"
                ? wrapRegistered(value as RegisteredFunction, `${modulePath}:${name}`, onFinished, around)
                : value;
          }
          return copy;
        });
        return cached;
      };
      // convex-test finds the module root from the key containing `_generated`.
      this.modules[file.split(path.sep).join("/")] = load;
      this.loaders.set(modulePath, load);
    }
  }

  static fromDir(
    dir: string,
    onFinished: () => void = () => {},
    around: HandlerWrapper = passThrough,
  ): FunctionModules {
    const absolute = path.resolve(dir);
    if (!statSync(absolute).isDirectory()) {
      throw new Error(`${absolute} is not a directory`);
    }
    return new FunctionModules(absolute, onFinished, around);
  }

  has(modulePath: string): boolean {
    return this.loaders.has(modulePath);
  }

  async load(modulePath: string): Promise<ModuleNamespace | null> {
    const loader = this.loaders.get(modulePath);
    return loader === undefined ? null : await loader();
  }

  /** Imports every function module once, so that errors show at startup. */
  async loadAll(): Promise<void> {
    for (const modulePath of this.loaders.keys()) {
      if (!modulePath.startsWith("_generated/")) await this.load(modulePath);
    }
  }

  /** The module paths of the functions folder, e.g. `messages`, `model/nodes`. */
  modulePaths(): string[] {
    return [...this.loaders.keys()].filter((p) => !p.startsWith("_generated/"));
  }

  /** The registered function at a normalized udfPath, or null. */
  async lookup(normalizedUdfPath: string): Promise<RegisteredFunction | null> {
    const { modulePath, exportName } = splitUdfPath(normalizedUdfPath);
    const ns = await this.load(modulePath);
    const fn = ns?.[exportName];
    if (typeof fn !== "function") return null;
    return fn as RegisteredFunction;
  }
}
