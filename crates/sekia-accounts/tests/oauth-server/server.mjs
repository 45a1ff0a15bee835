// oauth2-mock-server for sekia-accounts' tests, behind a thin wrapper that lets the Rust
// tests see and steer what happens:
// - prints "listening on http://127.0.0.1:PORT" once ready (port 0 = pick a free one);
// - prints one line per request it answers: "TOKEN grant_type=… code_verifier=yes|no
//   refresh_token=…" and "AUTHORIZE code_challenge_method=… state=yes|no";
// - POST /token?delay_ms=N waits N ms before answering (to make concurrent callers overlap);
// - refresh tokens named "revoked-…" get 400 invalid_grant; "flaky<N>-…" get N 503s first;
// - an authorization request with login_hint=deny redirects with error=access_denied;
// - POST /revoke prints "REVOKE token=yes|no hint=…" (RFC 7009 form).
// Usage: node server.mjs [port]
import http from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number(process.argv[2] ?? 0);
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
const service = server.service;
const flaky = new Map();

service.on('beforeResponse', (response, req) => {
  const body = req.body ?? {};
  const rt = body.refresh_token ?? '';
  console.log(
    `TOKEN grant_type=${body.grant_type} code_verifier=${body.code_verifier ? 'yes' : 'no'} ` +
      `client_id=${body.client_id ?? ''} refresh_token=${rt}`,
  );
  if (rt.startsWith('revoked-')) {
    response.statusCode = 400;
    response.body = { error: 'invalid_grant', error_description: `token ${rt} has been revoked` };
    return;
  }
  const m = /^flaky(\d+)-/.exec(rt);
  if (m) {
    const seen = flaky.get(rt) ?? 0;
    flaky.set(rt, seen + 1);
    if (seen < Number(m[1])) {
      response.statusCode = 503;
      response.body = { error: 'temporarily_unavailable' };
    }
  }
});

service.on('beforeAuthorizeRedirect', (redirect, req) => {
  console.log(
    `AUTHORIZE code_challenge_method=${req.query.code_challenge_method ?? ''} ` +
      `state=${req.query.state ? 'yes' : 'no'}`,
  );
  if (req.query.login_hint === 'deny') {
    redirect.url.searchParams.delete('code');
    redirect.url.searchParams.set('error', 'access_denied');
  }
});

const handler = service.requestHandler;
const httpServer = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/revoke' && req.method === 'POST') {
    // The mock's revoke route parses no form body; read it here to report what was sent.
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      console.log(`REVOKE token=${form.get('token') ? 'yes' : 'no'} hint=${form.get('token_type_hint') ?? ''}`);
      res.writeHead(200).end();
    });
    return;
  }
  const delay = Number(url.searchParams.get('delay_ms') ?? 0);
  if (delay > 0) setTimeout(() => handler(req, res), delay);
  else handler(req, res);
});
httpServer.listen(port, '127.0.0.1', () => {
  const actual = httpServer.address().port;
  server.issuer.url = `http://127.0.0.1:${actual}`;
  console.log(`listening on http://127.0.0.1:${actual}`);
});
