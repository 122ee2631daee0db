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
 * Wraps a registered mutation or action so that `onFinished` is called when
 * its handler returns or throws, whoever called it (a client, the scheduler,
 * a cron, an action's `runMutation`). The server uses it to notice commits
 * right away instead of waiting for its periodic check.
 */
function wrapRegistered(fn: RegisteredFunction, onFinished: () => void): RegisteredFunction {
  const handler = fn._handler;
  if (typeof handler !== "function" || !(fn.isMutation || fn.isAction)) return fn;
  const wrappedHandler = async (...args: unknown[]): Promise<unknown> => {
    try {
      return await handler(...args);
    } finally {
      onFinished();
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
      const load = (): Promise<ModuleNamespace> => {
        cached ??= (import(pathToFileURL(file).href) as Promise<ModuleNamespace>).then((ns) => {
          const copy: ModuleNamespace = {};
          for (const [name, value] of Object.entries(ns)) {
            copy[name] =
              typeof value === "function" ? wrapRegistered(value as RegisteredFunction, onFinished) : value;
          }
          return copy;
        });
        return cached;
      };
      // convex-test finds the module root from the key containing `_generated`.
      this.modules[file.split(path.sep).join("/")] = load;
      const relative = path.relative(dir, file).split(path.sep).join("/");
      this.loaders.set(relative.replace(SOURCE_FILE, ""), load);
    }
  }

  static fromDir(dir: string, onFinished: () => void = () => {}): FunctionModules {
    const absolute = path.resolve(dir);
    if (!statSync(absolute).isDirectory()) {
      throw new Error(`${absolute} is not a directory`);
    }
    return new FunctionModules(absolute, onFinished);
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
