// One interval job, only when CONTRACT_CRON_SECONDS is set, so that other
// tests see no background commits.
import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

const seconds = Number(process.env.CONTRACT_CRON_SECONDS ?? "0");
if (seconds > 0) {
  crons.interval("tick", { seconds }, internal.ticks.tick, { name: "interval" });
}

export default crons;
