import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

// Every cron run is a billed function call (a month has 43,200 minutes): these are safety nets
// behind precise paths that are scheduled, so they run rarely.
const crons = cronJobs();

// Offline flips are scheduled per laptop at its deadline (model/nodes.ts touchPresence): this only
// catches a check that never ran. 4,320 runs a month.
crons.interval("mark stale nodes offline", { minutes: 10 }, internal.nodes.markStaleOffline, {});
// Expiry is scheduled per action; a lapsed lease (a daemon that died mid-action) is found here, at
// most 5 minutes late (a restarted daemon interrupts its own at once). 8,640 runs a month.
crons.interval("expire actions and lapse dead leases", { minutes: 5 }, internal.actions.sweepActions, {});
// Expiry is scheduled per prompt; answered prompts the laptop never settled end here. 8,640 a month.
crons.interval("expire permission prompts", { minutes: 5 }, internal.prompts.sweepPrompts, {});
// "Needs you": resolved items a day old, revoked laptops' items (hidden from the list at once),
// dismissals a month old. 720 runs a month.
crons.interval("prune needs", { hours: 1 }, internal.needs.sweepNeeds, {});
// Usage retention (model/usage.ts pruneUsage): old buckets, days and batch ids; it runs again by
// itself while a backlog is left. 30 runs a month.
crons.daily("prune usage", { hourUTC: 3, minuteUTC: 17 }, internal.usage.pruneUsage, {});

export default crons;
