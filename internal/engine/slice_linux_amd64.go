package engine

// sysSchedSetattr is sched_setattr(2) on linux/amd64.
const sysSchedSetattr = 314
