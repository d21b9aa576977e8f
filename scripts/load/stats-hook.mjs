// Preloaded (`node --import`) into the API and runner processes that
// `npm run load` starts: when the process has an IPC channel to the load
// script, it sends its memory use every LOAD_STATS_INTERVAL_MS (default 250) ms.
// The channel and the timer are unref'd, so the hook never keeps a process
// alive nor changes how it exits. Processes started without IPC are untouched.
if (typeof process.send === 'function') {
  const every = Number(process.env.LOAD_STATS_INTERVAL_MS) || 250;
  const send = () => {
    const m = process.memoryUsage();
    if (!process.connected) return;
    // The callback takes a failed send (the load script went away) instead of an 'error' event.
    process.send({ type: 'load-stats', t: Date.now(), rss: m.rss, heap: m.heapUsed, external: m.external, array_buffers: m.arrayBuffers }, () => {});
  };
  send();
  setInterval(send, every).unref();
  // With --expose-gc (the load script passes it), also a sample right after a
  // full collection every LOAD_GC_EVERY_MS (default 5000): the live heap, the
  // figure that tells a leak from garbage not yet collected.
  if (typeof globalThis.gc === 'function') {
    const gcEvery = Number(process.env.LOAD_GC_EVERY_MS) || 5000;
    setInterval(() => {
      globalThis.gc();
      const m = process.memoryUsage();
      if (process.connected) process.send({ type: 'load-stats', gc: true, t: Date.now(), rss: m.rss, heap: m.heapUsed, external: m.external, array_buffers: m.arrayBuffers }, () => {});
    }, gcEvery).unref();
  }
  process.channel?.unref();
}
