// Preloaded into the Node.js programs the project starts (node --require): every attempt to look
// up or connect to anything but this machine is written to $LOOPBACK_ONLY_LOG and refused, so a
// test can prove that nothing it ran tried to reach another host.
'use strict';
const dns = require('dns');
const fs = require('fs');
const net = require('net');

const logFile = process.env.LOOPBACK_ONLY_LOG;
const local = (host) =>
  host === undefined || host === null || host === '' || host === 'localhost' || host === '::1' ||
  /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::ffff:127.0.0.1';

function refuse(what, host) {
  const line = `${new Date().toISOString()} ${what} ${host}\n`;
  if (logFile) fs.appendFileSync(logFile, line);
  const error = new Error(`loopback-only: ${what} ${host} refused (not this machine)`);
  error.code = 'ECONNREFUSED';
  return error;
}

const lookup = dns.lookup;
dns.lookup = function (host, options, callback) {
  if (local(host)) return lookup.apply(this, arguments);
  const done = typeof options === 'function' ? options : callback;
  const error = refuse('lookup', host);
  process.nextTick(() => done(error));
  return {};
};
const promisedLookup = dns.promises.lookup;
dns.promises.lookup = function (host, options) {
  if (local(host)) return promisedLookup.call(this, host, options);
  return Promise.reject(refuse('lookup', host));
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const host = typeof first === 'object' && first !== null ? (first.path ? undefined : first.host) :
      typeof args[1] === 'string' ? args[1] : undefined;
  if (local(host)) return connect.apply(this, args);
  const error = refuse('connect', host);
  process.nextTick(() => this.destroy(error));
  return this;
};
