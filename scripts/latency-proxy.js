// A TCP proxy that adds latency: every byte a client sends reaches the server DELAY_MS later (in
// order, without slowing the stream down otherwise), as over a network with that one-way delay.
// Between rclone and Azurite it gives each storage request the latency a remote blob service has.
// Run with the Node.js that runs Azurite (scripts/blob-mount.sh starts it for BLOB_LATENCY_MS).
// Usage: node latency-proxy.js LISTEN_PORT TARGET_PORT DELAY_MS   (both ports on 127.0.0.1)
'use strict';
const net = require('net');

const [listenPort, targetPort, delayMs] = process.argv.slice(2).map(Number);
if (!(listenPort > 0 && targetPort > 0 && delayMs >= 0)) {
  console.error('usage: node latency-proxy.js LISTEN_PORT TARGET_PORT DELAY_MS');
  process.exit(2);
}

net.createServer((client) => {
  const server = net.connect(targetPort, '127.0.0.1');
  const closeBoth = () => {
    client.destroy();
    server.destroy();
  };
  client.on('error', closeBoth);
  server.on('error', closeBoth);
  // Timers of the same delay fire in the order they were set: the bytes keep their order.
  client.on('data', (data) => setTimeout(() => server.writable && server.write(data), delayMs));
  client.on('end', () => setTimeout(() => server.end(), delayMs));
  server.pipe(client);
}).listen(listenPort, '127.0.0.1');
