// One place that decides which laptop the tests and the benchmark run against:
//   TINA_E2E_LAPTOP=daemon (default)  the real daemon over real files (daemon.ts)
//   TINA_E2E_LAPTOP=stand-in          the stand-in that plays the daemon (standin.ts)
import { DaemonLaptop } from "./daemon";
import type { Laptop } from "./laptop";
import { StandInLaptop } from "./standin";

export type LaptopOptions = { url: string; enrollmentSecret: string; name: string };

export function laptopKind(): "stand-in" | "daemon" {
  return process.env.TINA_E2E_LAPTOP === "stand-in" ? "stand-in" : "daemon";
}

export function makeLaptop(options: LaptopOptions): Laptop {
  return laptopKind() === "daemon" ? new DaemonLaptop(options) : new StandInLaptop(options);
}

export type { Laptop } from "./laptop";
