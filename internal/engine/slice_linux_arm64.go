package engine

// sysSchedSetattr is sched_setattr(2) on linux/arm64.
const sysSchedSetattr = 274
