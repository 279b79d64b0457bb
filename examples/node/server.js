// A node server that binds the port itself, the way most are written: `listen(PORT, HOST)`.
// Under reuserun its own bind() is given reuserun's shared socket (the bind takeover); on
// SIGTERM it stops accepting, finishes the requests in flight and exits 0.
//
//   reuserun --port 8080 -- node server.js 8080 127.0.0.1
//
// GET / answers "pid=PID": which copy answered.
'use strict';
const http = require('http');

const port = Number(process.argv[2] || 8080);
const host = process.argv[3] || '127.0.0.1';
const server = http.createServer((request, response) => {
  response.end(`pid=${process.pid}\n`);
});
server.listen(port, host);
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
