import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

// Safety nets: precise expiry and offline flips are scheduled per action / heartbeat.
crons.interval("mark stale nodes offline", { seconds: 30 }, internal.nodes.markStaleOffline, {});
crons.interval("expire actions and lapse dead leases", { seconds: 30 }, internal.actions.sweepActions, {});
crons.interval("expire permission prompts", { seconds: 30 }, internal.prompts.sweepPrompts, {});
// "Needs you": resolved items a day old, revoked laptops' items, dismissals a month old.
crons.interval("prune needs", { minutes: 1 }, internal.needs.sweepNeeds, {});

export default crons;
