import { run } from './program';

const { version } = require('../../../package.json') as { version: string };

// `saga ... | head`: the reader has gone, nothing more is wanted; end quietly as Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

void run(process.argv, version).then((code) => {
  // Exit at once (an idle keep-alive connection would hold the process), once stdout has drained.
  process.stdout.write('', () => process.exit(code));
});
