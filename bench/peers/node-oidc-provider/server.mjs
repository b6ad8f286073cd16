// node-oidc-provider as the bench's issuance peer: client_credentials with client_secret_basic,
// in-memory storage (the library's own adapter), ES256, a resource indicator whose server info
// makes access tokens JWT for one client and opaque for the other. The primary forks
// BENCH_WORKERS processes with node's cluster module, as gunicorn forks authserver's workers.
//
// Environment: BENCH_PORT, BENCH_WORKERS, BENCH_SCOPE, BENCH_AUDIENCE, BENCH_SECRET.
// Clients: "bench-jwt" and "bench-opaque", both with secret BENCH_SECRET.
import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import process from 'node:process';

import Provider, { errors } from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const port = Number(env('BENCH_PORT'));
const workers = Number(env('BENCH_WORKERS'));
const scope = env('BENCH_SCOPE');
const audience = env('BENCH_AUDIENCE');
const secret = env('BENCH_SECRET');

function primary() {
  // One signing key and cookie key for every worker, so a token is the same whichever answers.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'bench-es256' };
  const shared = { BENCH_JWK: JSON.stringify(jwk), BENCH_COOKIE_KEY: randomBytes(32).toString('base64url') };
  for (let i = 0; i < workers; i += 1) cluster.fork(shared);
  let stopping = false;
  cluster.on('exit', (worker, code) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited with ${code}`);
      process.exit(1);
    }
  });
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.kill();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function client(clientId) {
  return {
    client_id: clientId,
    client_secret: secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256', // the only key is ES256
    scope,
  };
}

function worker() {
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [client('bench-jwt'), client('bench-opaque')],
    jwks: { keys: [JSON.parse(env('BENCH_JWK'))] },
    cookies: { keys: [env('BENCH_COOKIE_KEY')] },
    scopes: scope.split(' '),
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        getResourceServerInfo: (_ctx, resource, requester) => {
          if (resource !== audience) throw new errors.InvalidTarget();
          return {
            scope,
            audience,
            accessTokenTTL: 3600,
            accessTokenFormat: requester.clientId === 'bench-opaque' ? 'opaque' : 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  });
  provider.listen(port, '127.0.0.1');
}

if (cluster.isPrimary) primary();
else worker();
