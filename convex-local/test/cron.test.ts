// When cron jobs are due (pure schedule arithmetic, UTC).
import { describe, expect, test } from "vitest";
import { cronExpression, nextCronTime, nextRunTime } from "../cron.js";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe("nextCronTime", () => {
  test("steps, lists and ranges", () => {
    expect(iso(nextCronTime("*/15 * * * *", at("2026-03-04T10:07:30Z")))).toBe("2026-03-04T10:15:00.000Z");
    expect(iso(nextCronTime("*/15 * * * *", at("2026-03-04T10:15:00Z")))).toBe("2026-03-04T10:30:00.000Z");
    expect(iso(nextCronTime("5,50 8-9 * * *", at("2026-03-04T09:51:00Z")))).toBe("2026-03-05T08:05:00.000Z");
    expect(iso(nextCronTime("0 0 * * *", at("2026-12-31T23:59:59Z")))).toBe("2027-01-01T00:00:00.000Z");
  });

  test("days of week and month, with names and cron's either-day rule", () => {
    // 2026-03-01 is a Sunday.
    expect(iso(nextCronTime("0 9 * * mon", at("2026-03-01T12:00:00Z")))).toBe("2026-03-02T09:00:00.000Z");
    expect(iso(nextCronTime("0 9 * * 7", at("2026-03-01T12:00:00Z")))).toBe("2026-03-08T09:00:00.000Z");
    expect(iso(nextCronTime("30 2 31 * *", at("2026-04-01T00:00:00Z")))).toBe("2026-05-31T02:30:00.000Z");
    expect(iso(nextCronTime("0 0 29 feb *", at("2026-03-01T00:00:00Z")))).toBe("2028-02-29T00:00:00.000Z");
    // Both day fields restricted: the 15th or any Monday, whichever comes first.
    expect(iso(nextCronTime("0 0 15 * 1", at("2026-03-03T00:00:00Z")))).toBe("2026-03-09T00:00:00.000Z");
  });

  test("malformed expressions are refused", () => {
    expect(() => nextCronTime("* * * *", 0)).toThrow(/5 fields/);
    expect(() => nextCronTime("61 * * * *", 0)).toThrow(/Invalid cron field/);
    expect(() => nextCronTime("*/0 * * * *", 0)).toThrow(/step/);
    expect(() => nextCronTime("0 0 31 2 *", 0)).toThrow(/never fires/);
  });
});

describe("Convex schedules", () => {
  test("interval schedules add their length", () => {
    expect(nextRunTime({ type: "interval", seconds: 30 }, 1_000)).toBe(31_000);
    expect(nextRunTime({ type: "interval", minutes: 2 }, 0)).toBe(120_000);
    expect(nextRunTime({ type: "interval", hours: 1 }, 0)).toBe(3_600_000);
  });

  test("calendar schedules become cron expressions", () => {
    expect(cronExpression({ type: "hourly", minuteUTC: 7 })).toBe("7 * * * *");
    expect(cronExpression({ type: "daily", hourUTC: 3, minuteUTC: 4 })).toBe("4 3 * * *");
    expect(cronExpression({ type: "weekly", dayOfWeek: "tuesday", hourUTC: 1 })).toBe("0 1 * * 2");
    expect(cronExpression({ type: "monthly", day: 10, hourUTC: 12, minuteUTC: 30 })).toBe("30 12 10 * *");
    expect(iso(nextRunTime({ type: "daily", hourUTC: 6 }, at("2026-03-04T06:00:00Z")))).toBe(
      "2026-03-05T06:00:00.000Z",
    );
  });
});
