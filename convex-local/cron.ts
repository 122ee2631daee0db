// When the cron jobs of `convex/crons.ts` are due. Schedules are the objects
// that `cronJobs()` records (`crons.export()`); all times are UTC, as in Convex.

export type CronSchedule =
  | { type: "interval"; seconds?: number; minutes?: number; hours?: number }
  | { type: "hourly"; minuteUTC?: number }
  | { type: "daily"; hourUTC: number; minuteUTC?: number }
  | { type: "weekly"; dayOfWeek: string; hourUTC: number; minuteUTC?: number }
  | { type: "monthly"; day: number; hourUTC: number; minuteUTC?: number }
  | { type: "cron"; cron: string };

const DAYS_OF_WEEK = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** The interval of an `interval` schedule, in milliseconds. */
export function intervalMs(schedule: CronSchedule): number | null {
  if (schedule.type !== "interval") return null;
  const seconds =
    (schedule.seconds ?? 0) + (schedule.minutes ?? 0) * 60 + (schedule.hours ?? 0) * 3600;
  if (!(seconds > 0)) throw new Error(`Invalid interval schedule ${JSON.stringify(schedule)}`);
  return seconds * 1000;
}

/** The five-field cron expression (minute hour day-of-month month day-of-week) of a calendar schedule. */
export function cronExpression(schedule: CronSchedule): string {
  switch (schedule.type) {
    case "interval":
      throw new Error("An interval schedule has no cron expression");
    case "hourly":
      return `${schedule.minuteUTC ?? 0} * * * *`;
    case "daily":
      return `${schedule.minuteUTC ?? 0} ${schedule.hourUTC} * * *`;
    case "weekly": {
      const day = DAYS_OF_WEEK.indexOf(schedule.dayOfWeek);
      if (day === -1) throw new Error(`Invalid day of week ${schedule.dayOfWeek}`);
      return `${schedule.minuteUTC ?? 0} ${schedule.hourUTC} * * ${day}`;
    }
    case "monthly":
      return `${schedule.minuteUTC ?? 0} ${schedule.hourUTC} ${schedule.day} * *`;
    case "cron":
      return schedule.cron;
  }
}

type Field = { values: Set<number>; restricted: boolean };

function parseField(text: string, min: number, max: number, names: string[] = []): Field {
  const values = new Set<number>();
  const parseValue = (token: string): number => {
    const named = names.indexOf(token.toLowerCase().slice(0, 3));
    const value = named !== -1 ? named + min : Number(token);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`Invalid cron field value ${JSON.stringify(token)}`);
    }
    return value;
  };
  for (const part of text.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`Invalid cron step in ${part}`);
    let low: number;
    let high: number;
    if (range === "*") {
      low = min;
      high = max;
    } else if (range.includes("-")) {
      const [a, b] = range.split("-");
      low = parseValue(a);
      high = parseValue(b);
    } else {
      low = parseValue(range);
      high = stepText === undefined ? low : max;
    }
    if (low > high) throw new Error(`Invalid cron range ${range}`);
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return { values, restricted: text !== "*" };
}

const MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** The first time strictly after `afterMs` (epoch ms) matching a five-field UTC cron expression. */
export function nextCronTime(expression: string, afterMs: number): number {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new Error(`Invalid cron expression ${JSON.stringify(expression)}: expected 5 fields`);
  }
  const minute = parseField(fields[0], 0, 59);
  const hour = parseField(fields[1], 0, 23);
  const dayOfMonth = parseField(fields[2], 1, 31);
  const month = parseField(fields[3], 1, 12, MONTH_NAMES);
  const dayOfWeek = parseField(fields[4].replace(/\b7\b/g, "0"), 0, 6, DAY_NAMES);
  const dayMatches = (d: Date): boolean => {
    const dom = dayOfMonth.values.has(d.getUTCDate());
    const dow = dayOfWeek.values.has(d.getUTCDay());
    // Standard cron: if both day fields are restricted, either may match.
    if (dayOfMonth.restricted && dayOfWeek.restricted) return dom || dow;
    return dom && dow;
  };
  const t = new Date(Math.floor(afterMs / 60_000) * 60_000 + 60_000);
  // Walk minute by minute, skipping whole hours and days that cannot match;
  // four years bound the search (29 February).
  const limit = afterMs + 4 * 366 * 24 * 3600_000;
  while (t.getTime() <= limit) {
    if (!month.values.has(t.getUTCMonth() + 1) || !dayMatches(t)) {
      t.setUTCHours(24, 0, 0, 0);
      continue;
    }
    if (!hour.values.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!minute.values.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t.getTime();
  }
  throw new Error(`Cron expression ${JSON.stringify(expression)} never fires`);
}

/** When a job with this schedule is next due, strictly after `afterMs`. */
export function nextRunTime(schedule: CronSchedule, afterMs: number): number {
  const interval = intervalMs(schedule);
  if (interval !== null) return afterMs + interval;
  return nextCronTime(cronExpression(schedule), afterMs);
}
