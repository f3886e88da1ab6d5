export { Clock, systemClock } from './clock';
export { Scheduler, SchedulerOptions, SCHEDULER_LOCK_KEY } from './scheduler';
export { fireSchedule, FireContext, FireOutcome, ScheduleSagas } from './fire-schedule';
