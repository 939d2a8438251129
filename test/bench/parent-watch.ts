// Preloaded (`--import`) into child processes whose code is not the bench's (the gateway): when the
// orchestrator's IPC channel closes, even because it was SIGKILLed, the process gets the SIGTERM its own
// shutdown handler expects, so no gateway outlives a run.
if (process.send) process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
