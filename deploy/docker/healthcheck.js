#!/usr/bin/env node
// The image's HEALTHCHECK (slim images have no curl). One script for both roles of the image:
// - api (default): GET http://127.0.0.1:$PORT/health answers 200 within 3 s;
// - worker (no HTTP listener): a node process running the worker's main.js is alive and not a
//   zombie. A worker waits out database and Redis outages by itself (it never exits for one), so
//   its health is the process, not its dependencies.
// The role is SAGA_ROLE when set, else read from the command lines of the container's processes.
'use strict';
const { readdirSync, readFileSync } = require('fs');

const WORKER_MAIN = 'apps/worker/src/main.js';

function processes() {
  const out = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const cmdline = argv.join(' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)\s+/, '').charAt(0);
      out.push({ pid: Number(pid), cmdline, state, node: /(^|\/)node[^/]*$/.test(argv[0]) });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

const procs = processes().filter((p) => p.pid !== process.pid);
const role = process.env.SAGA_ROLE || (procs.some((p) => p.cmdline.includes(WORKER_MAIN)) ? 'worker' : 'api');

if (role === 'worker') {
  // The node process itself, not tini (whose command line names main.js too).
  const alive = procs.some((p) => p.node && p.cmdline.includes(WORKER_MAIN) && p.state !== 'Z');
  if (!alive) console.error('healthcheck: no live worker process');
  process.exit(alive ? 0 : 1);
} else {
  const port = process.env.PORT || '3000';
  fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) })
    .then((res) => {
      if (!res.ok) console.error(`healthcheck: /health answered ${res.status}`);
      process.exit(res.ok ? 0 : 1);
    })
    .catch((err) => {
      console.error(`healthcheck: ${err.message}`);
      process.exit(1);
    });
}
