// Container HEALTHCHECK: GET /healthz on the HTTP port (plain HTTP, or HTTPS when
// the plain request fails because --http-tls-cert is in use). No dependencies.
'use strict';
const http = require('node:http');
const https = require('node:https');

const addr = process.env.WATTPLACE_HTTP || '0.0.0.0:8080';
const port = Number(addr.slice(addr.lastIndexOf(':') + 1)) || 8080;

function probe(mod, extra, next) {
  const req = mod.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000, ...extra }, (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => (next ? next() : process.exit(1)));
}

// The probe checks liveness, not the certificate: the server's name is not 127.0.0.1.
probe(http, {}, () => probe(https, { rejectUnauthorized: false }));
