// Starts one telegram-test-api emulator on 127.0.0.1:<port> and prints "READY <port>".
// Usage: node emulator.js <port>. Stops on SIGTERM/SIGINT or when stdin closes,
// so a crashed test run never leaves the server behind.
'use strict';
const TelegramServer = require('telegram-test-api');

const port = Number(process.argv[2]);
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 3600 });

async function main() {
  await server.start();
  process.stdout.write(`READY ${port}\n`);
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
