import { z } from 'zod';
import {
  DURATION_EXPECTED,
  DURATION_PATTERN,
  SIZE_EXPECTED,
  SIZE_PATTERN,
  isShipError,
  parseDuration,
  parseSize,
} from '../core/index.js';
import { SpecProblemCode, type SpecProblemCodeValue } from './codes.js';
import { NAME_RULES, type NameKind } from './names.js';
import { CRON_EXPECTED, TIMEZONE_EXPECTED, cronProblem, timezoneProblem } from './schedule.js';

/** Extra data a schema check attaches to its zod issue so the loader can build a Problem. */
export interface ShipIssueParams {
  code: SpecProblemCodeValue;
  expected?: string;
  hint?: string;
}

/** Short descriptions of what a field expects, looked up by the loader for its messages. */
export const expectations = z.registry<{ expected: string }>();

/** Registers what `schema` expects, in words, and returns it. */
export function expecting<T extends z.ZodType>(schema: T, expected: string): T {
  expectations.add(schema, { expected });
  return schema;
}

function shipParams(params: ShipIssueParams): { ship: ShipIssueParams } {
  return { ship: params };
}

/** Reads the params a check above attached to a zod issue. */
export function shipIssueParams(params: unknown): ShipIssueParams | undefined {
  if (typeof params !== 'object' || params === null || !('ship' in params)) return undefined;
  return (params as { ship: ShipIssueParams }).ship;
}

/** A name following `NAME_RULES[kind]`; usable as a record key schema. */
export function nameField(kind: NameKind) {
  const rule = NAME_RULES[kind];
  return expecting(z.string().regex(rule.pattern, { message: rule.expected }), rule.expected);
}

/** A human duration (`30m`, `1h30m`, `2w`), parsed to milliseconds. */
export function durationField(description: string) {
  return expecting(
    z
      .string()
      .meta({ description, pattern: DURATION_PATTERN, examples: ['30m', '1h30m', '7d'] })
      .transform((text, ctx) => {
        try {
          return parseDuration(text);
        } catch (error) {
          if (!isShipError(error)) throw error;
          ctx.addIssue({
            code: 'custom',
            input: text,
            message: error.message,
            params: shipParams({ code: SpecProblemCode.badDuration, expected: DURATION_EXPECTED }),
          });
          return z.NEVER;
        }
      }),
    DURATION_EXPECTED,
  );
}

/** A size (`16MiB`, `1GB`, `512k`), parsed to bytes. */
export function sizeField(description: string) {
  return expecting(
    z
      .string()
      .meta({ description, pattern: SIZE_PATTERN, examples: ['16MiB', '1GB'] })
      .transform((text, ctx) => {
        try {
          return parseSize(text);
        } catch (error) {
          if (!isShipError(error)) throw error;
          ctx.addIssue({
            code: 'custom',
            input: text,
            message: error.message,
            params: shipParams({ code: SpecProblemCode.badSize, expected: SIZE_EXPECTED }),
          });
          return z.NEVER;
        }
      }),
    SIZE_EXPECTED,
  );
}

/** A cron expression croner accepts and that fires at least once. */
export function cronField(description: string) {
  return expecting(
    z
      .string()
      .meta({ description, examples: ['0 3 * * *', '*/15 * * * *', '@daily'] })
      .superRefine((expression, ctx) => {
        const why = cronProblem(expression);
        if (why === undefined) return;
        ctx.addIssue({
          code: 'custom',
          input: expression,
          message: `\`${expression}\` is not a usable cron expression: ${why}`,
          params: shipParams({ code: SpecProblemCode.badCron, expected: CRON_EXPECTED }),
        });
      }),
    CRON_EXPECTED,
  );
}

/** An IANA timezone name. */
export function timezoneField(description: string) {
  return expecting(
    z
      .string()
      .meta({ description, examples: ['UTC', 'Europe/Berlin'] })
      .superRefine((timezone, ctx) => {
        const problem = timezoneProblem(timezone);
        if (problem === undefined) return;
        ctx.addIssue({
          code: 'custom',
          input: timezone,
          message: problem.why,
          params: shipParams({
            code: SpecProblemCode.badTimezone,
            expected: TIMEZONE_EXPECTED,
            ...(problem.suggestion === undefined
              ? {}
              : { hint: `did you mean \`${problem.suggestion}\`?` }),
          }),
        });
      }),
    TIMEZONE_EXPECTED,
  );
}

/** Adds a Shipshape-coded custom issue from a refinement. */
export function addShipIssue(
  ctx: z.RefinementCtx,
  message: string,
  params: ShipIssueParams,
  path?: (string | number)[],
): void {
  ctx.addIssue({
    code: 'custom',
    message,
    params: shipParams(params),
    ...(path === undefined ? {} : { path }),
  });
}
