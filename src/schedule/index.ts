export { FakeClock, systemClock, type Clock } from './clock.js';
export { Leases, type LeaseOutcome, type RunKey } from './leases.js';
export { retentionPolicy, specJobs, type JobContext } from './jobs.js';
export {
  Scheduler,
  defaultHolder,
  retryDelay,
  type AttemptResult,
  type CatchUp,
  type RunReport,
  type ScheduleEvent,
  type ScheduledJob,
  type SchedulerOptions,
} from './scheduler.js';
export { cronTiming, intervalTiming, type Timing } from './timing.js';
